"""lunar-cli's Lua debugger client (--ldb, --ldb-sync-mode, SCRIPT DEBUG typed in the shell): scripted sessions
must print byte for byte what redis-cli 7.0 prints for the same input against the same server (with and without
TERM=xterm colours), leave the same data behind (SYNC keeps the script's writes, YES rolls them back), and work
on a pseudo-terminal with restart and quit."""
import os
import re

import pytest
import redis as redispy

from cli_support import clean_env, lunar_cli, redis_cli, run_pipe

SCRIPT = """local key = KEYS[1]
local v = redis.call('incr', key)
redis.debug('value is', v, ARGV[1])
if v > 100 then
  return 'big'
end
local t = {v, ARGV[1], 'x'}
redis.call('set', 'other', 'w')
return t
"""

ERRORING = """local a = 1
redis.call('set', 'e1', 'v')
local ok = redis.pcall('nosuchcmd')
redis.call('incr', 'notanumber')
return a
"""

BROKEN = "local x = \nreturn 1 +\n"

# (name, script, stdin) -- every session is run by both clients.
SESSIONS = [
    ("step_print_break_list_continue", SCRIPT, "s\ns\np\nb 5\nb 8\nl\nc\nc\nget counter\nget other\n"),
    ("help_whole_trace_eval_redis_maxlen", SCRIPT,
     "help\nw\nn\nn\nt\ne return 6*7\nr get counter\nmaxlen 3\np\nmaxlen 0\nnosuch arg\nprint v\nc\n"),
    ("repeat_prefix_and_breakpoints", SCRIPT, "3 s\nb 7\nb -7\nb 7\nb 0\nb\nc\n"),
    ("abort", SCRIPT, "s\ns\na\nget counter\n"),
    ("restart_then_commands", SCRIPT, "s\nrestart\nn\nc\nset x 1\nget x\nrestart\nc\nrestart\nquit\nget x\n"),
    ("eof_mid_session", SCRIPT, "s\ns\n"),
    ("empty_and_quoted_lines", SCRIPT, "\n   \ns\n\"p\" \"key\"\n'e' 'return \"a b\"'\nc\n"),
    ("errors_in_script", ERRORING, "c\nget e1\n"),
    ("errors_stepwise", ERRORING, "n\nn\nn\nn\np\nn\n"),
    ("does_not_compile", BROKEN, "c\n"),
    ("big_reply_after_session", "redis.call('rpush', 'l', 1, 2, 3)\nreturn redis.call('lrange', 'l', 0, -1)\n",
     "c\nlrange l 0 -1\nhgetall nosuch\nquit\n"),
]


def write(tmp_path, name, text):
    f = tmp_path / (name + ".lua")
    f.write_text(text)
    return str(f)


def session(binary, port, flag, path, stdin, term, extra=()):
    argv = [binary, "-p", str(port)] + list(extra) + [flag, "--eval", path, "counter", ",", "hello"]
    rc, out, err = run_pipe(argv, stdin=stdin.encode(), env=clean_env(TERM=term))
    return rc, out, err.replace(binary.encode(), b"CLI")


def state(client):
    out = {}
    for k in sorted(client.keys("*")):
        t = client.type(k)
        out[k] = (t, client.get(k) if t == b"string" else client.lrange(k, 0, -1))
    return out


@pytest.mark.parametrize("term", ["xterm", "dumb"])
@pytest.mark.parametrize("flag", ["--ldb-sync-mode", "--ldb"])
@pytest.mark.parametrize("name,script,stdin", SESSIONS, ids=[s[0] for s in SESSIONS])
def test_piped_session_matches_redis_cli(r, lunar_server, tmp_path, flag, term, name, script, stdin):
    path = write(tmp_path, name, script)
    results = []
    for binary in (redis_cli(), lunar_cli()):
        r.flushall()
        r.set("counter", 5)
        results.append((session(binary, lunar_server.port, flag, path, stdin, term), state(r)))
    (ref, ref_state), (ours, our_state) = results
    assert ours[1] == ref[1]
    assert ours[2] == ref[2]
    assert ours[0] == ref[0]
    assert our_state == ref_state
    assert ref[1]  # the reference printed something: the comparison is not vacuous


@pytest.mark.parametrize("flag", ["--ldb-sync-mode", "--ldb"])
def test_dataset_effects(r, lunar_server, tmp_path, flag):
    path = write(tmp_path, "effects", SCRIPT)
    r.flushall()
    r.set("counter", 5)
    rc, out, err = session(lunar_cli(), lunar_server.port, flag, path, "c\n", "dumb")
    assert rc == 0, err
    assert b"1) (integer) 6\n2) \"hello\"\n3) \"x\"\n" in out
    if flag == "--ldb-sync-mode":
        assert out.endswith(b"\n(Lua debugging session ended)\n\n")
        assert r.get("counter") == b"6" and r.get("other") == b"w"
    else:
        assert out.endswith(b"\n(Lua debugging session ended -- dataset changes rolled back)\n\n")
        assert r.get("counter") == b"5" and r.get("other") is None


def test_colours_follow_redis_cli_rules(r, lunar_server, tmp_path):
    path = write(tmp_path, "colours", SCRIPT)
    r.flushall()
    rc, out, _ = session(lunar_cli(), lunar_server.port, "--ldb-sync-mode", path, "s\ns\nb 5\np\nc\n", "xterm-256color")
    assert rc == 0
    assert b"\x1b[0;33;49m-> 1   local key = KEYS[1]\x1b[0m\n" in out         # current line: yellow
    assert b"\x1b[0;37;49m* Stopped at 2, stop reason = step over\x1b[0m\n" in out
    assert b"\x1b[0;32;49m<redis> incr counter\x1b[0m\n" in out               # <redis>: green
    assert b"\x1b[0;36;49m<reply> 1\x1b[0m\n" in out                          # <reply>: cyan
    assert b"\x1b[1;37;49m  #5     return 'big'\x1b[0m\n" in out              # breakpoint: bold
    assert b"\x1b[0;35;49m<value> v = 1\x1b[0m\n" in out                      # <value>: magenta
    assert re.search(rb"\x1b\[1;37;49m<debug> line 3: .*\x1b\[0m\n", out)     # <debug>: bold
    # After the session the reply and the rest are plain (standard form, no colours).
    assert b"\n1) (integer) 1\n2) \"hello\"\n3) \"x\"\n\n(Lua debugging session ended)\n\n" in out


def test_ldb_requires_eval():
    rc, out, err = run_pipe([lunar_cli(), "--ldb"])
    assert rc == 1 and out == b""
    assert err.startswith(b"Options --ldb and --ldb-sync-mode require --eval.\nTry ")
    rc2, _, err2 = run_pipe([redis_cli(), "--ldb"])
    assert rc2 == rc and err2.split(b"\n")[0] == err.split(b"\n")[0]


def test_missing_file(lunar_server):
    outs = []
    for binary in (redis_cli(), lunar_cli()):
        outs.append(session(binary, lunar_server.port, "--ldb", "/nonexistent/x.lua", "c\n", "dumb"))
    assert outs[0] == outs[1]


SHELL_INPUT = (
    "set x 1\n"
    "script debug sync\n"
    "eval \"local a = redis.call('incr', 'x')\\nreturn {a, 'ok'}\" 0\n"
    "s\np\nhelp\nc\n"
    "get x\n"
    "script debug yes\n"
    "eval \"redis.call('set', 'x', 'changed')\\nreturn 1\" 0\n"
    "n\nc\n"
    "get x\n"
    "script debug yes\nscript debug no\neval \"return 5\" 0\n"
    "restart\n"
    "get x\n"
)


@pytest.mark.parametrize("term", ["xterm", "dumb"])
def test_script_debug_typed_in_the_shell(r, lunar_server, term):
    outs, states = [], []
    for binary in (redis_cli(), lunar_cli()):
        r.flushall()
        rc, out, err = run_pipe([binary, "-p", str(lunar_server.port)], stdin=SHELL_INPUT.encode(),
                                env=clean_env(TERM=term, HOME="/nonexistent"))
        outs.append((rc, out, err))
        states.append(state(r))
    assert outs[1] == outs[0]
    assert states[1] == states[0]
    assert b"(Lua debugging session ended -- dataset changes rolled back)" in outs[0][1]
    assert r.get("x") == b"2"  # SYNC kept the INCR; YES rolled the SET back


def test_sessions_against_redis_server_too(rr, redis_server, tmp_path):
    """The same client code against the reference server: both clients print the same."""
    path = write(tmp_path, "ref", SCRIPT)
    outs = []
    for binary in (redis_cli(), lunar_cli()):
        rr.flushall()
        rr.set("counter", 5)
        outs.append(session(binary, redis_server.port, "--ldb", path, "s\nb 8\nc\np\nrestart\nc\n", "xterm"))
    assert outs[0] == outs[1]


def test_pseudo_terminal_restart_and_quit(r, lunar_server, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    path = write(tmp_path, "pty", SCRIPT)
    r.flushall()
    r.set("counter", 5)
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    env.pop("LUNARCLI_HISTFILE", None)
    c = pexpect.spawn(lunar_cli(), ["-p", str(lunar_server.port), "--ldb-sync-mode", "--eval", path, "counter", ",", "a"],
                      env=env, timeout=10, dimensions=(24, 200))
    c.expect_exact("Lua debugging session started, please use:")
    c.expect_exact("restart -- Restart the script in debug mode again.")
    c.expect_exact("\x1b[0;33;49m-> 1   local key = KEYS[1]\x1b[0m")
    c.expect_exact("lua debugger> ")
    c.send("s\r")
    c.expect_exact("\x1b[0;33;49m-> 2   local v = redis.call('incr', key)\x1b[0m")
    c.expect_exact("lua debugger> ")
    c.send("restart\r")
    c.expect_exact("Lua debugging session started, please use:")
    c.expect_exact("-> 1 ")
    c.expect_exact("lua debugger> ")
    c.send("c\r")
    c.expect_exact("(integer) 6")
    c.expect_exact("(Lua debugging session ended)")
    c.expect_exact("127.0.0.1:%d> " % lunar_server.port)
    c.send("get counter\r")
    c.expect_exact('"6"')
    c.expect_exact("127.0.0.1:%d> " % lunar_server.port)
    c.send("restart\r")
    c.expect_exact("Lua debugging session started, please use:")
    c.expect_exact("lua debugger> ")
    c.send("quit\r")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    # The abandoned SYNC session frees the server: other clients are served again.
    cl = redispy.Redis(port=lunar_server.port, socket_timeout=5)
    assert cl.get("counter") == b"6"  # the restarted and the quit sessions had not run their INCR yet
    cl.close()


def test_pseudo_terminal_output_identical_to_redis_cli(r, lunar_server, tmp_path):
    pytest.importorskip("pexpect")
    from test_cli_interactive import session_output
    path = write(tmp_path, "ptycmp", SCRIPT)
    cmds = ["s", "s", "p", "b 8", "l", "c", "c", "get counter", "restart", "n", "help", "c", "set y 2", "get y"]
    outs = []
    for binary in (redis_cli(), lunar_cli()):
        r.flushall()
        r.set("counter", 5)
        outs.append(session_output(binary, lunar_server.port, cmds,
                                   extra=["--ldb-sync-mode", "--eval", path, "counter", ",", "a"]))
    for (cmd, ref), (_, ours) in zip(*outs):
        assert ours == ref, cmd
    got = dict(outs[1])
    assert b"\x1b[0;33;49m-> 3   redis.debug('value is', v, ARGV[1])\x1b[0m\r\n" in got["s"]
    assert got["get counter"] == b'"6"\r\n'
