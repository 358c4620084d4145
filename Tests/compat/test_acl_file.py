"""The ACL file (aclfile, ACL SAVE / ACL LOAD) and `user` lines of the configuration file, against
redis-server 7.0: the same files on both servers, the same replies, the same start-up refusals."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from support.resp import Conn
from support.servers import Server, free_port, lunar_argv, start_lunar, start_redis

SINGLE_RULES = re.compile(rb"[+-][^@\s()][^\s()]*(?: [+-][^@\s()][^\s()]*)*")


def _canon(text):
    """Single-command rules in Redis's hash-table order (random per start) compare as a set."""
    return SINGLE_RULES.sub(lambda m: b" ".join(sorted(m.group(0).split(b" "))), text)


@pytest.fixture
def acl_pair():
    dirs = [tempfile.mkdtemp(prefix="aclfile-") for _ in range(2)]
    for d in dirs:
        with open(os.path.join(d, "users.acl"), "w") as f:
            f.write("user default on nopass ~* &* +@all\nuser alice on >pw ~a* resetchannels -@all +get +set\n\n")
    servers = [start_lunar("--aclfile", os.path.join(dirs[0], "users.acl")),
               start_redis("--aclfile", os.path.join(dirs[1], "users.acl"))]
    yield servers, dirs
    for s in servers:
        s.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def _both(servers, dirs, *cmd):
    out = []
    for s, d in zip(servers, dirs):
        c = Conn(s.port)
        r = c.call(*cmd)
        c.close()
        if r[0] == "err":
            r = ("err", r[1].replace(d.encode(), b"DIR"))
        if r[0] == "array":
            r = ("array", [(x[0], _canon(x[1])) for x in r[1]])
        out.append(r)
    return out


def _write(dirs, text):
    for d in dirs:
        with open(os.path.join(d, "users.acl"), "w") as f:
            f.write(text)


def test_aclfile_loaded_at_start_saved_and_reloaded(acl_pair):
    servers, dirs = acl_pair
    a, b = _both(servers, dirs, "ACL", "LIST")
    assert a == b
    assert any(x[1].startswith(b"user alice on") for x in a[1])
    for cmd in [("ACL", "SETUSER", "bob", "on", ">x", "~k*", "+@read", "(+set ~w*)"), ("ACL", "SAVE"),
                ("CONFIG", "GET", "aclfile"), ("CONFIG", "SET", "aclfile", "/tmp/x")]:
        a, b = _both(servers, dirs, *cmd)
        if cmd[1] == "GET":
            assert [x[1].replace(dirs[0].encode(), b"DIR") for x in a[1]] == [x[1].replace(dirs[1].encode(), b"DIR") for x in b[1]]
        else:
            assert a == b, cmd
    saved = []
    for d in dirs:
        with open(os.path.join(d, "users.acl"), "rb") as f:
            saved.append(_canon(f.read()))
    assert saved[0] == saved[1]
    assert b"user bob on" in saved[0]
    # A client logged in as alice is disconnected by a successful ACL LOAD.
    clients = []
    for s in servers:
        c = Conn(s.port)
        assert c.call("AUTH", "alice", "pw") == ("simple", b"OK")
        clients.append(c)
    _write(dirs, "user alice on >pw2 ~* +@all\n")
    a, b = _both(servers, dirs, "ACL", "LOAD")
    assert a == b == ("simple", b"OK")
    for c in clients:
        with pytest.raises((ConnectionError, OSError)):
            c.call("PING")
    assert _both(servers, dirs, "ACL", "LIST")[0] == _both(servers, dirs, "ACL", "LIST")[1]
    a, b = _both(servers, dirs, "ACL", "LIST")
    assert a == b and len(a[1]) == 2   # default (not in the file) comes back as on nopass +@all


BAD_FILES = [
    "user alice on +nosuch +get bad\n",
    "user alice on bad1 bad2\nuser alice on\n",
    "# comment\nuser\n",
    "usr bob on\n",
    "user bob on %Q~x\nuser carol on >a <b\nuser dave #zz\n",
    "user bob on ~* ~x\r\n",
]


@pytest.mark.parametrize("text", BAD_FILES, ids=range(len(BAD_FILES)))
def test_acl_load_reports_every_bad_line(acl_pair, text):
    servers, dirs = acl_pair
    before = _both(servers, dirs, "ACL", "LIST")
    _write(dirs, text)
    a, b = _both(servers, dirs, "ACL", "LOAD")
    assert a == b
    assert a[0] == "err"
    assert _both(servers, dirs, "ACL", "LIST") == before   # nothing changed


def test_acl_load_unmatched_selector(acl_pair):
    """redis-server 7.0.15 crashes on this file (ACLLoadFromFile goes on with an unset rule count after
    the error), so only Lunar's reply is checked: the error Redis words for it, nothing loaded."""
    servers, dirs = acl_pair
    c = Conn(servers[0].port)
    before = c.call("ACL", "LIST")
    _write(dirs[:1], "user bob on (~x +get\n")
    assert c.call("ACL", "LOAD") == ("err", f"ERR {dirs[0]}/users.acl:1: Unmatched parenthesis in selector definition."
                                            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed".encode())
    assert c.call("ACL", "LIST") == before
    c.close()


def test_acl_load_missing_file(acl_pair):
    servers, dirs = acl_pair
    for d in dirs:
        os.unlink(os.path.join(d, "users.acl"))
    a, b = _both(servers, dirs, "ACL", "LOAD")
    assert a == b and a[0] == "err"


def _startup_output(argv, timeout=20):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def _redis_argv(conf):
    return [shutil.which("redis-server"), conf]


@pytest.mark.parametrize("lines,expect", [
    (["user bob on badrule"], "Error in user declaration 'bob': Syntax error"),
    (["user bob on >a <b"], "Error in user declaration 'on': The password you are trying to remove from the user does not exist"),
    (["user bob (~x"], "Error in user declaration 'user': Unknown command or category name in ACL"),
    (["user"], "Bad directive or wrong number of arguments"),
    (["user bob on +nosuch"], "Error loading ACL rule '+nosuch' for the user named 'bob': Unknown command or category name in ACL"),
    (["user bob on", "aclfile ACLFILE"], "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid."),
    (["aclfile /nonexistent/users.acl"], "Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '/nonexistent/users.acl': No such file or directory"),
    (["aclfile ACLFILE"], "Aborting Redis startup because of ACL errors: ACLFILE:1: Error in applying operation '+nosuch': Unknown command or category name in ACL."),
])
def test_startup_refusals(tmp_path, lines, expect):
    acl = tmp_path / "bad.acl"
    acl.write_text("user bob on +nosuch\n")
    conf = tmp_path / "test.conf"
    body = "\n".join([f"port {free_port()}"] + [l.replace("ACLFILE", str(acl)) for l in lines]) + "\n"
    conf.write_text(body)
    expect = expect.replace("ACLFILE", str(acl))
    config_error = "declaration" in expect or "Bad directive" in expect   # reported with the line
    rc, out = _startup_output(_redis_argv(str(conf)))
    assert rc != 0 and expect in out, out
    assert not config_error or "at line 2" in out
    rc, out = _startup_output([lunar_argv(0)[0], str(conf), "--save", ""])
    assert rc != 0 and expect in out, out
    assert not config_error or "at line 2" in out


def test_user_directives_create_users(tmp_path):
    conf = tmp_path / "users.conf"
    conf.write_text('user default on nopass ~* &* +@all\nuser ann on >pw ~a* (+get ~b*) +@string\nuser ben off\n')
    lp, rp = free_port(), free_port()
    l = Server([lunar_argv(lp)[0], str(conf), "--port", str(lp), "--bind", "127.0.0.1", "--save", ""], lp, tempfile.mkdtemp())
    r = Server([shutil.which("redis-server"), str(conf), "--port", str(rp), "--bind", "127.0.0.1", "--save", ""], rp, tempfile.mkdtemp())
    try:
        outs = []
        for s in (l, r):
            c = Conn(s.port)
            outs.append([(x[0], _canon(x[1])) for x in c.call("ACL", "LIST")[1]])
            assert c.call("AUTH", "ann", "pw") == ("simple", b"OK")
            c.close()
        assert outs[0] == outs[1]
    finally:
        l.stop()
        r.stop()


def test_config_rewrite_writes_users(tmp_path):
    """CONFIG REWRITE puts every user (default too) in place of the file's `user` lines, in name
    order, and appends the users left over after them."""
    parts = []
    servers = []
    try:
        for kind in ("lunar", "redis"):
            port = free_port()
            conf = tmp_path / f"{kind}.conf"
            conf.write_text(f'port {port}\nbind 127.0.0.1\nuser zed on nopass\n# keep\nuser yan off\nuser xu off\nsave ""\n')
            exe = lunar_argv(0)[0] if kind == "lunar" else shutil.which("redis-server")
            servers.append(Server([exe, str(conf)], port, tempfile.mkdtemp()))
            c = Conn(port)
            assert c.call("ACL", "SETUSER", "bob", "on", ">p", "~k*", "+get", "+set") == ("simple", b"OK")
            assert c.call("ACL", "DELUSER", "xu") == ("int", 1)
            assert c.call("CONFIG", "REWRITE") == ("simple", b"OK")
            c.close()
            text = conf.read_bytes()
            before, _, after = text.partition(b"# Generated by CONFIG REWRITE")
            parts.append([[_canon(l) for l in p.split(b"\n") if l.startswith(b"user ") or l == b"# keep"] for p in (before, after)])
        assert parts[0] == parts[1]
        assert parts[0][1] == [b"user zed on nopass resetchannels -@all"]
    finally:
        for s in servers:
            s.stop()
