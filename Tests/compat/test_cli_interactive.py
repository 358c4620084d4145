"""The lunar-cli interactive shell driven through a pseudo-terminal (pexpect): prompt, quoting, history,
hints, help, SELECT in the prompt, reconnect after a server restart, Ctrl-C / Ctrl-D, the spinner."""
import os
import re
import time

import pytest
import redis as redispy

pexpect = pytest.importorskip("pexpect")

from cli_support import lunar_cli  # noqa: E402
from support.servers import Server, free_port, start_redis  # noqa: E402


def spawn(port, home, *extra, cols=250):
    env = dict(os.environ, HOME=str(home), TERM="xterm")
    env.pop("LUNARCLI_HISTFILE", None)
    c = pexpect.spawn(lunar_cli(), ["-p", str(port)] + list(extra), env=env, timeout=10,
                      dimensions=(24, cols))  # wide enough for whole hints by default
    return c


def prompt(port, db=0):
    return "127.0.0.1:%d%s> " % (port, "[%d]" % db if db else "")


def test_prompt_quoting_and_select(redis_server, rr, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("set \"a b\" 'it\\'s' \r")
    c.expect_exact("OK\r\n")
    c.send('get "a b"\r')
    c.expect_exact("\"it's\"\r\n")
    assert rr.get("a b") == b"it's"
    c.send('set bin "\\x00\\xffq\\n"\r')
    c.expect_exact("OK")
    assert rr.get("bin") == b"\x00\xffq\n"
    c.send("get bin\r")
    c.expect_exact('"\\x00\\xffq\\n"\r\n')
    c.send('get "unbalanced\r')
    c.expect_exact("Invalid argument(s)\r\n")
    c.send("lrange nolist 0 -1\r")
    c.expect_exact("(empty array)\r\n")
    c.send("select 3\r")
    c.expect_exact("OK\r\n")
    c.expect_exact(prompt(p, 3))
    c.send("multi\r")
    c.expect_exact(prompt(p, 3)[:-2] + "(TX)> ")
    c.send("discard\r")
    c.expect_exact(prompt(p, 3))
    c.send("3 incr counter\r")
    c.expect_exact("(integer) 1\r\n(integer) 2\r\n(integer) 3\r\n")
    c.send("\x04")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_history_file_and_arrows(redis_server, rr, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("set k1 v1\r")
    c.expect_exact("OK")
    c.send("get k1\r")
    c.expect_exact('"v1"')
    c.send("auth secret-password\r")
    c.expect_exact("(error)")
    c.send("quit\r")
    c.expect(pexpect.EOF)
    hist = (tmp_path / ".lunarcli_history").read_text()
    assert hist == "set k1 v1\nget k1\n"  # AUTH lines are never stored
    # A new session starts with that history: Up twice gives "set k1 v1"; edit it with Ctrl-A/E/W/U.
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("\x1b[A\x1b[A")            # set k1 v1
    c.send("\x17")                    # Ctrl-W deletes "v1"
    c.send("v2\r")
    c.expect_exact("OK")
    assert rr.get("k1") == b"v2"
    c.send("\x1b[A")                  # set k1 v2
    c.send("\x01\x1b[C\x1b[C\x1b[C")  # Ctrl-A then Right x3: after "set"
    c.send("\x7f\x7f\x7f")            # Backspace x3 removes "set"
    c.send("get")
    c.send("\x05")                    # Ctrl-E
    c.send("\x7f\x7f\x7f\r")          # drop " v2"
    c.expect_exact('"v2"')
    c.send("garbage text\x15echo clean\r")  # Ctrl-U kills the line
    c.expect_exact('"clean"')
    c.send("\x1b[A\x1b[B\x1b[B")      # Up then Down returns to an empty line
    c.send("\r")
    c.expect_exact(prompt(p))
    c.send("echo not run\x03")       # Ctrl-C at the prompt leaves the shell, as in redis-cli
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    hist = (tmp_path / ".lunarcli_history").read_text().splitlines()
    assert hist[-3:] == ["set k1 v2", "get k1", "echo clean"]


def read_for(c, seconds):
    out = b""
    end = time.time() + seconds
    while time.time() < end:
        try:
            out += c.read_nonblocking(65536, 0.1)
        except pexpect.TIMEOUT:
            pass
    return out


def test_hints_fit_the_terminal_width(redis_server, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path, cols=60)
    c.expect_exact(prompt(p))
    c.send("set a 1")
    out = read_for(c, 1.5)
    # 60 columns - len(prompt) - len("set a 1") characters of hint, no more.
    room = 60 - len(prompt(p)) - len("set a 1")
    full = " [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"
    assert ("set a 1\x1b[0;90;49m" + full[:room] + "\x1b[0m").encode() in out
    assert full[:room + 1].encode() not in out
    c.send("\x15\x04")  # Ctrl-U empties the line, Ctrl-D on an empty line quits
    c.expect(pexpect.EOF)


def test_hints_from_command_docs(redis_server, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("set")
    c.expect_exact("\x1b[0;90;49m key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|"
                   "PXAT unix-time-milliseconds|KEEPTTL]\x1b[0m")
    c.send(" k")
    c.expect_exact("\x1b[0;90;49m value [NX|XX]")
    c.send(" v ")
    c.expect_exact("\x1b[0;90;49m[NX|XX] [GET]")
    c.send("\x15config get")
    c.expect_exact("\x1b[0;90;49m parameter [parameter ...]\x1b[0m")
    c.send("\x15:set nohints\r")
    c.expect_exact(prompt(p))
    c.send("zadd")
    time.sleep(0.3)
    c.send("\r")
    c.expect_exact("(error) ERR wrong number of arguments for 'zadd' command")
    assert b"\x1b[0;90;49m" not in c.before
    c.send("\x04")
    c.expect(pexpect.EOF)


def test_help(redis_server, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("help\r")
    c.expect_exact('"help @<group>" to get a list of commands in <group>')
    c.send("help get\r")
    # Help lines end in \r\n like redis-cli's; the terminal turns each \n into \r\n.
    c.expect_exact("\x1b[1mGET\x1b[0m \x1b[90mkey\x1b[0m\r\r\n  \x1b[33msummary:\x1b[0m Get the value of a key\r\r\n"
                   "  \x1b[33msince:\x1b[0m 1.0.0\r\r\n  \x1b[33mgroup:\x1b[0m string\r\r\n")
    c.send("help @hyperloglog\r")
    c.expect_exact("PFADD")
    c.expect_exact("PFMERGE")
    c.send("help config set\r")
    c.expect_exact("\x1b[1mCONFIG SET\x1b[0m \x1b[90mparameter value [parameter value ...]\x1b[0m")
    c.send("help sor\t\r")  # Tab completes help topics
    c.expect_exact("\x1b[1mSORT\x1b[0m")
    c.send("\x04")
    c.expect(pexpect.EOF)


def test_reconnect_after_server_restart(tmp_path):
    port = free_port()
    wd = tmp_path / "srv"
    wd.mkdir()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(wd)]
    s = Server(argv, port, str(wd))
    try:
        c = spawn(port, tmp_path)
        c.expect_exact(prompt(port))
        c.send("select 1\r")
        c.expect_exact(prompt(port, 1))
        c.send("set before restart\r")
        c.expect_exact("OK")
        s.stop()
        c.send("ping\r")
        c.expect_exact("Could not connect to Redis at 127.0.0.1:%d: Connection refused" % port)
        c.expect_exact("not connected> ")
        s = Server(argv, port, str(wd))
        c.send("set after restart\r")
        c.expect_exact("OK")
        c.expect_exact(prompt(port, 1))  # the selected db survives the reconnect
        assert redispy.Redis(port=port, db=1).get("after") == b"restart"
        # Restart while connected: the next command reconnects transparently.
        s.stop()
        s = Server(argv, port, str(wd))
        c.send("dbsize\r")
        c.expect_exact("(integer) 0")  # a fresh server without persistence
        assert b"Error" not in c.before
        c.send("\x04")
        c.expect(pexpect.EOF)
    finally:
        s.stop()


def test_spinner_and_interrupt(redis_server, rr, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    # A blocking command shows the spinner with the elapsed time; Ctrl-C abandons it.
    c.send("blpop nolist 0\r")
    c.expect(r"waiting for the reply\.\.\. \d\.\ds \(Ctrl-C to interrupt\)")
    start = time.time()
    c.send("\x03")
    c.expect_exact("(interrupted)")
    c.expect_exact(prompt(p))
    assert time.time() - start < 3
    c.send("ping\r")
    c.expect_exact("PONG")
    # A long script: Ctrl-C also asks the server to kill it, so the server is usable right away.
    c.send("eval \"while true do end\" 0\r")
    c.expect_exact("waiting for the reply")
    c.send("\x03")
    c.expect_exact("(interrupted)")
    c.expect_exact(prompt(p))
    c.send("set after script\r")
    c.expect_exact("OK")
    assert rr.get("after") == b"script"
    # Slow commands report their duration like redis-cli.
    c.send("debug sleep 0.6\r")
    c.expect(r"OK\r\n\(0\.\d\ds\)\r\n")
    c.send("\x04")
    c.expect(pexpect.EOF)


def test_piped_stdin_is_not_interactive(redis_server, tmp_path):
    import subprocess
    p = subprocess.run([lunar_cli(), "-p", str(redis_server.port)], input=b"set x 1\nget x\n",
                       stdout=subprocess.PIPE, env=dict(os.environ, HOME=str(tmp_path)))
    assert p.stdout == b"OK\n1\n"
    assert not (tmp_path / ".lunarcli_history").exists()


def test_eval_on_terminal_shows_spinner_and_ctrl_c_kills_the_script(redis_server, rr, tmp_path):
    f = tmp_path / "loop.lua"
    f.write_text("local i = 0\nwhile true do i = i + 1 end\n")
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    c = pexpect.spawn(lunar_cli(), ["-p", str(redis_server.port), "--eval", str(f)], env=env, timeout=10)
    c.expect(r"waiting for the reply\.\.\. \d\.\ds \(Ctrl-C to interrupt\)")
    c.sendintr()
    c.expect_exact("(interrupted)")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 130
    assert rr.ping()  # SCRIPT KILL was sent: the server answers again at once
    assert rr.set("after", "1")


def test_subscribe_then_ctrl_c_returns_to_prompt(redis_server, rr, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path)
    c.expect_exact(prompt(p))
    c.send("subscribe news\r")
    c.expect_exact("Reading messages... (press Ctrl-C to quit)")
    c.expect_exact('3) (integer) 1')
    rr.publish("news", "hello")
    c.expect_exact('1) "message"\r\n2) "news"\r\n3) "hello"')
    c.sendintr()
    c.expect_exact(prompt(p))
    c.send("ping\r")
    c.expect_exact("PONG")
    c.send("\x04")
    c.expect(pexpect.EOF)


def test_resp3_invalidation_push_like_redis_cli(redis_server, rr, tmp_path):
    p = redis_server.port
    c = spawn(p, tmp_path, "-3")
    c.expect_exact(prompt(p))
    c.send("client tracking on\r")
    c.expect_exact("OK")
    c.send("get trk\r")
    c.expect_exact("(nil)")
    rr.set("trk", "1")
    time.sleep(0.2)
    c.send("ping\r")
    c.expect_exact("-> invalidate: 'trk'\r\nPONG\r\n")
    c.send("\x04")
    c.expect(pexpect.EOF)


INTERACTIVE_CORPUS = [
    "set k v", "get k", "get nokey", "incr k", "rpush l a b c", "lrange l 0 -1", "lrange nol 0 -1",
    "hset h f1 v1 f2 v2", "hgetall h", "eval \"return {1,{2,{3,'x'}},'y'}\" 0", "select 1", "get k",
    "select 0", "multi", "incr n", "exec", "nosuch cmd", 'set "a b" "c\\x00d"', 'get "a b"',
    "config get maxmemory", "3 ping",
]


def session_output(binary, port, commands, extra=()):
    """Runs commands in an interactive session and returns what each printed (line editing removed)."""
    env = dict(os.environ, TERM="xterm")
    env.pop("LUNARCLI_HISTFILE", None)
    c = pexpect.spawn(binary, ["-p", str(port)] + list(extra), env=dict(env, HOME="/nonexistent"), timeout=5,
                      dimensions=(24, 250))

    def settle():
        out = b""
        while True:
            try:
                d = c.read_nonblocking(65536, 0.3)
            except pexpect.TIMEOUT:
                if re.search(rb"> $", out):
                    return out
                continue
            out += d
            if b"\x1b[6n" in d:
                c.send("\x1b[1;250R")  # answer linenoise's cursor position query
    settle()
    results = []
    for cmd in commands:
        c.send(cmd + "\r")
        out = settle()
        out = out.replace(b"\x1b[6n", b"").replace(b"\x1b[999C", b"")
        m = list(re.finditer(rb"\x1b\[\d+C\r\n", out))
        body = out[m[-1].end():] if m else out
        body = body[:body.rfind(b"\r\n") + 2] if b"\r\n" in body else b""
        results.append((cmd, body))
    c.sendcontrol("d")
    c.expect(pexpect.EOF)
    return results


def test_interactive_replies_identical_to_redis_cli(redis_server, rr):
    import shutil
    outs = []
    for binary in (shutil.which("redis-cli"), lunar_cli()):
        rr.flushall()
        outs.append(session_output(binary, redis_server.port, INTERACTIVE_CORPUS))
    for (cmd, ref), (_, ours) in zip(*outs):
        assert ours == ref, cmd
    assert all(body for _, body in outs[1])
    assert dict(outs[1])["hgetall h"] == b'1) "f1"\r\n2) "v1"\r\n3) "f2"\r\n4) "v2"\r\n'
