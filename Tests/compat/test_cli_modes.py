"""lunar-cli special modes: --eval, --function-load, --functions, --pipe, --scan, --bigkeys/--memkeys,
--stat, --latency, -r/-i. Compared with redis-cli 7.0 where redis-cli has the same mode."""
import os
import re
import subprocess
import time

import pytest
import redis as redispy

from cli_support import clean_env, lunar_cli, redis_cli, run_pipe, run_tty


def both(argv_tail, stdin=b"", prepare=None, port=None):
    outs = []
    for b in (redis_cli(), lunar_cli()):
        if prepare:
            prepare()
        outs.append(run_pipe([b, "-p", str(port)] + argv_tail, stdin=stdin))
    return outs


# --eval ---------------------------------------------------------------------------------------------

def test_eval_keys_and_args_like_redis_cli(redis_server, rr, tmp_path):
    f = tmp_path / "ok.lua"
    f.write_text("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}\n")
    for tail in (["k1", "k2", ",", "a1", "a2"], [], ["k1"], [",", "a1"], ["k1", ",", ",", "x"]):
        ref, ours = both(["--eval", str(f)] + tail, port=redis_server.port)
        assert ours == ref, tail
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--eval", str(f), "k1", "k2", ",", "a1", "a2"])
    assert out == b"k1\nk2\na1\na2\n2\n2\n"


def test_eval_writes_and_tty_output(redis_server, rr, tmp_path):
    f = tmp_path / "w.lua"
    f.write_text("redis.call('SET', KEYS[1], ARGV[1])\nreturn {redis.call('GET', KEYS[1]), 7, {1, 'x'}}\n")
    outs = [run_tty([b, "-p", str(redis_server.port), "--eval", str(f), "key", ",", "val"])
            for b in (redis_cli(), lunar_cli())]
    assert outs[0] == outs[1]
    assert b'1) "val"' in outs[1][1]
    assert rr.get("key") == b"val"


def test_eval_missing_file(redis_server):
    ref, ours = both(["--eval", "/nonexistent/x.lua"], port=redis_server.port)
    assert ours == ref
    assert ours[0] == 1 and b"Can't open file '/nonexistent/x.lua'" in ours[2]


def test_eval_errors_point_at_the_users_file(redis_server, tmp_path):
    f = tmp_path / "bad.lua"
    f.write_text("local a = 1\nlocal b = nosuchvar + 1\nreturn a\n")
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--eval", str(f)])
    assert b"@user_script" not in out and b"user_script:" not in out
    assert (str(f) + ":2: Script attempted to access nonexistent global variable 'nosuchvar'").encode() in out
    assert out.endswith(("on " + str(f) + ":2.\n\n").encode())
    # redis-cli shows the internal chunk name; that is the only difference.
    rc2, out2, err2 = run_pipe([redis_cli(), "-p", str(redis_server.port), "--eval", str(f)])
    assert out2.replace(b"@user_script:", (str(f) + ":").encode()).replace(b"user_script:", (str(f) + ":").encode()) == out
    # On a terminal the offending line is shown too.
    rc, tty = run_tty([lunar_cli(), "-p", str(redis_server.port), "--eval", str(f)])
    assert b"(error) ERR " + str(f).encode() + b":2:" in tty
    assert b"local b = nosuchvar + 1" in tty
    # Runtime errors from redis.call inside the script.
    g = tmp_path / "call.lua"
    g.write_text("local x = 1\n\nreturn redis.call('INCR', KEYS[1])\n")
    redispy.Redis(port=redis_server.port, protocol=2).set("notnum", "abc")
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--eval", str(g), "notnum"])
    assert out.startswith(b"ERR value is not an integer or out of range")
    assert out.rstrip().endswith((str(g) + ":3.").encode())


def test_eval_compile_errors_point_at_the_users_file(redis_server, tmp_path):
    f = tmp_path / "syntax.lua"
    f.write_text("local a = 1\nlocal = 2\n")
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--eval", str(f)])
    assert out == ("ERR Error compiling script (new function): %s:2: '<name>' expected near '='\n\n" % f).encode()


def test_eval_exit_code_with_e(redis_server, tmp_path):
    f = tmp_path / "e.lua"
    f.write_text("return redis.error_reply('NOPE broken')\n")
    ref, ours = both(["-e", "--eval", str(f)], port=redis_server.port)
    assert ours == ref == (1, b"", b"NOPE broken\n")


# --function-load / --functions ------------------------------------------------------------------------

LIB = """#!lua name=mylib

local function get_or_default(keys, args)
  local v = redis.call('GET', keys[1])
  if not v then return args[1] end
  return v
end

redis.register_function('get_or_default', get_or_default)
redis.register_function{function_name='ro_len', callback=function(keys) return redis.call('STRLEN', keys[1]) end,
  flags={'no-writes'}, description='length of a string'}
"""


def test_function_load_and_list(redis_server, rr, tmp_path):
    rr.execute_command("FUNCTION", "FLUSH")
    f = tmp_path / "mylib.lua"
    f.write_text(LIB)
    port = str(redis_server.port)
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--function-load", str(f)])
    assert rc == 0, err
    assert out == ("Library 'mylib' loaded from %s (engine LUA), 2 functions:\n"
                   "  get_or_default  flags: (none)\n"
                   "  ro_len          flags: no-writes  -- length of a string\n" % f).encode()
    assert rr.execute_command("FCALL", "get_or_default", 1, "nokey", "dflt") == b"dflt"
    # Loading again fails without --replace, succeeds with it.
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--function-load", str(f)])
    assert rc == 1 and b"Library 'mylib' already exists" in err
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--function-load", str(f), "--replace"])
    assert rc == 0 and out.startswith(b"Library 'mylib' loaded (replace)")
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--functions"])
    assert rc == 0
    assert out == (b"mylib (engine LUA), 2 functions:\n"
                   b"  get_or_default  flags: (none)\n"
                   b"  ro_len          flags: no-writes  -- length of a string\n")
    rr.execute_command("FUNCTION", "FLUSH")
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--functions"])
    assert (rc, out) == (0, b"(no libraries loaded)\n")


def test_function_load_and_eval_on_lunar(lunar_server, r, tmp_path):
    try:
        r.execute_command("FUNCTION", "FLUSH")
    except redispy.ResponseError:
        pytest.skip("Lunar has no FUNCTION yet")
    f = tmp_path / "mylib.lua"
    f.write_text(LIB)
    port = str(lunar_server.port)
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--function-load", str(f)])
    assert (rc, err) == (0, b"")
    assert out == ("Library 'mylib' loaded from %s (engine LUA), 2 functions:\n"
                   "  get_or_default  flags: (none)\n"
                   "  ro_len          flags: no-writes  -- length of a string\n" % f).encode()
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--functions"])
    assert out.startswith(b"mylib (engine LUA), 2 functions:\n")
    assert r.execute_command("FCALL", "get_or_default", 1, "nokey", "dflt") == b"dflt"


def test_eval_on_lunar(lunar_server, r, tmp_path):
    try:
        r.execute_command("EVAL", "return 1", 0)
    except redispy.ResponseError:
        pytest.skip("Lunar has no EVAL yet")
    port = str(lunar_server.port)
    g = tmp_path / "bad.lua"
    g.write_text("local a = 1\nlocal b = nosuchvar + 1\nreturn a\n")
    rc, out, err = run_pipe([lunar_cli(), "-p", port, "--eval", str(g)])
    assert (str(g) + ":2").encode() in out and b"user_script" not in out
    ok = tmp_path / "ok.lua"
    ok.write_text("return {KEYS[1], ARGV[1], #KEYS, #ARGV}\n")
    ref, ours = both(["--eval", str(ok), "k1", ",", "a1"], port=lunar_server.port)
    assert ours == ref == (0, b"k1\na1\n1\n1\n", b"")


def test_function_load_errors_point_at_the_file(redis_server, rr, tmp_path):
    rr.execute_command("FUNCTION", "FLUSH")
    f = tmp_path / "rt.lua"
    f.write_text("#!lua name=rtlib\nlocal x = nil\nx.y = 1\n")
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--function-load", str(f)])
    assert rc == 1 and out == b""
    assert (str(f) + ":3: attempt to index").encode() in err
    assert b"x.y = 1" in err
    g = tmp_path / "syntax.lua"
    g.write_text("#!lua name=synlib\nredis.register_function('f', function() return 1 end\n")
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--function-load", str(g)])
    assert rc == 1 and str(g).encode() + b":" in err and b"user_function" not in err


# --pipe ---------------------------------------------------------------------------------------------

def mass(n):
    parts = []
    for i in range(n):
        k = b"key:%d" % i
        v = b"value:%d" % i
        parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    return b"".join(parts)


@pytest.mark.parametrize("server", ["redis_server", "lunar_server"])
def test_pipe_100k(server, request):
    srv = request.getfixturevalue(server)
    c = redispy.Redis(port=srv.port, protocol=2)
    c.flushall()
    data = mass(100_000) + b"*1\r\n$12\r\nNOSUCHCOMMND\r\n"
    start = time.time()
    rc, out, err = run_pipe([lunar_cli(), "-p", str(srv.port), "--pipe"], stdin=data, timeout=120)
    assert out == (b"All data transferred. Waiting for the last reply...\n"
                   b"Last reply received from server.\n"
                   b"errors: 1, replies: 100001\n")
    assert rc == 1
    assert err.startswith(b"ERR unknown command")
    assert c.dbsize() == 100_000
    assert c.get("key:99999") == b"value:99999"
    assert time.time() - start < 60
    c.flushall()
    ref, ours = both(["--pipe"], stdin=mass(1000), port=srv.port)
    assert ours == ref == (0, b"All data transferred. Waiting for the last reply...\n"
                              b"Last reply received from server.\nerrors: 0, replies: 1000\n", b"")


# --scan ---------------------------------------------------------------------------------------------

def fill(c):
    c.flushall()
    for i in range(300):
        c.set("str:%d" % i, "x")
    for i in range(20):
        c.rpush("list:%d" % i, "a")
    c.set(b"odd \xff key", "v")


def test_scan_like_redis_cli(redis_server, rr):
    fill(rr)
    for tail in (["--scan"], ["--scan", "--pattern", "list:*"], ["--scan", "--pattern", "*1*"],
                 ["--scan", "--quoted-pattern", '"odd \\xff*"']):
        ref, ours = both(tail, port=redis_server.port)
        assert ours == ref, tail
    outs = [run_tty([b, "-p", str(redis_server.port), "--scan", "--pattern", "odd*"]) for b in (redis_cli(), lunar_cli())]
    assert outs[0] == outs[1] == (0, b'"odd \\xff key"\r\n')
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--scan"])
    assert len(out.split(b"\n")) - 1 == 321


def test_scan_count_and_type(redis_server, rr):
    fill(rr)
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--scan", "--type", "list"])
    assert sorted(out.split()) == sorted(b"list:%d" % i for i in range(20))
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--scan", "--count", "1000",
                             "--pattern", "str:1?", "--type", "string"])
    assert sorted(out.split()) == sorted(b"str:%d" % i for i in range(10, 20))


def test_scan_on_lunar(lunar_server, r):
    try:
        fill(r)
    except redispy.ResponseError:
        pytest.skip("Lunar lacks the commands to fill the keyspace yet")
    ref, ours = both(["--scan", "--pattern", "list:1*"], port=lunar_server.port)
    assert ours == ref


# --bigkeys / --memkeys ------------------------------------------------------------------------------

def test_bigkeys_memkeys_like_redis_cli(redis_server, rr):
    rr.flushall()
    rr.rpush("l", "a", "b", "c")
    rr.rpush("l2", "a")
    rr.set("sp ace", "12345")
    rr.set("s2", "1")
    rr.sadd("s", "a", "b")
    rr.hset("h", mapping={"a": 1, "b": 2})
    rr.zadd("z", {"a": 1})
    rr.xadd("xs", {"a": 1})
    for tail in (["--bigkeys"], ["--memkeys"], ["--memkeys-samples", "2"], ["--bigkeys", "--pattern", "s*"]):
        ref, ours = both(tail, port=redis_server.port)
        assert ours == ref, tail
    # redis-cli's per-type summary order depends on its type table's rehash progress: 0, 1, 2+ keys differ.
    rr.flushall()
    for extra in ("a", "b", "c"):
        for tail in (["--bigkeys"], ["--memkeys"]):
            ref, ours = both(tail, port=redis_server.port)
            assert ours == ref, (tail, extra)
        rr.set(extra, "v" * 3)


def test_bigkeys_memkeys_on_lunar(lunar_server, r):
    r.flushall()
    try:
        r.rpush("l", "a", "b", "c")
        r.set("s", "12345")
        r.sadd("st", "a", "b")
        r.hset("h", mapping={"a": 1})
        r.zadd("z", {"a": 1})
    except redispy.ResponseError:
        pytest.skip("Lunar lacks the commands to fill the keyspace yet")
    for tail in (["--bigkeys"], ["--memkeys"], ["--bigkeys", "--pattern", "s*"]):
        ref, ours = both(tail, port=lunar_server.port)
        assert ours == ref, tail


# --stat / --latency / -r -i -------------------------------------------------------------------------

def test_latency_single_output(redis_server):
    for mode, pat in (("--raw", rb"^\d+ \d+ \d+\.\d\d \d+\n$"), ("--csv", rb"^\d+,\d+,\d+\.\d\d,\d+\n$")):
        start = time.time()
        rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "--latency", "-i", "0.3", mode])
        assert rc == 0 and re.match(pat, out), out
        assert 0.3 <= time.time() - start < 5
        samples = int(re.split(rb"[ ,]", out.strip())[-1])
        assert samples >= 5


def test_latency_tty_updates_in_place(redis_server):
    p = subprocess.Popen([lunar_cli(), "-p", str(redis_server.port), "--latency"], stdout=subprocess.PIPE,
                         env=clean_env(FAKETTY="1"))
    time.sleep(0.8)
    p.terminate()
    out = p.communicate(timeout=5)[0]
    assert b"\x1b[0G\x1b[2Kmin: " in out
    assert re.search(rb"min: \d+, max: \d+, avg: \d+\.\d\d \(\d+ samples\)$", out)


def test_stat(redis_server, rr):
    rr.flushall()
    rr.mset({"a": 1, "b": 2, "c": 3})
    p = subprocess.Popen([lunar_cli(), "-p", str(redis_server.port), "--stat", "-i", "0.2"], stdout=subprocess.PIPE)
    time.sleep(1.3)
    p.terminate()
    out = p.communicate(timeout=5)[0].decode()
    lines = out.splitlines()
    assert lines[0].startswith("------- data ------ --------------------- load")
    assert lines[1].startswith("keys       mem      clients blocked requests")
    rows = lines[2:]
    assert len(rows) >= 4
    totals = []
    for row in rows:
        m = re.match(r"^(\d+)\s+([\d.]+)([BKMG])\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)", row)
        assert m, row
        keys, mem, unit, clients, blocked, total, delta, conns = m.groups()
        assert int(keys) == 3 and unit in "KMG" and int(clients) >= 1 and int(conns) >= 1
        totals.append(int(total))
    # Every INFO call is a command: the request counter grows row after row, and "+N" is the step.
    assert totals == sorted(totals) and totals[-1] > totals[0]
    assert re.search(r"\(\+[1-9]\d*\)", "\n".join(rows[1:]))


def test_repeat_and_interval(redis_server, rr):
    rr.flushall()
    start = time.time()
    rc, out, err = run_pipe([lunar_cli(), "-p", str(redis_server.port), "-r", "4", "-i", "0.2", "incr", "n"])
    assert (rc, out) == (0, b"1\n2\n3\n4\n")
    assert time.time() - start >= 0.8
    ref, ours = both(["-r", "5", "rpush", "l", "x"], port=redis_server.port, prepare=lambda: rr.flushall())
    assert ours == ref


# Large replies ----------------------------------------------------------------------------------------

def test_large_replies_identical(redis_server, rr):
    rr.flushall()
    for i in range(0, 30000, 5000):
        rr.rpush("big", *[b"item-%d \xff\n" % j for j in range(i, i + 5000)])
    rr.hset("bighash", mapping={"f%d" % i: "v%d" % i for i in range(3000)})
    for tail in (["lrange", "big", "0", "-1"], ["hgetall", "bighash"], ["-3", "hgetall", "bighash"],
                 ["--csv", "lrange", "big", "0", "-1"], ["-d", "|", "lrange", "big", "0", "-1"]):
        outs = [run_pipe([b, "-p", str(redis_server.port)] + tail) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1], tail
        outs = [run_tty([b, "-p", str(redis_server.port)] + tail) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1], tail


def test_large_replies_stream_as_they_arrive():
    """A scripted server sends half of an array reply and waits: lunar-cli must already print that half."""
    import select
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = subprocess.Popen([lunar_cli(), "-p", str(port), "lrange", "x", "0", "-1"], stdout=subprocess.PIPE)
    try:
        srv.settimeout(10)
        conn, _ = srv.accept()
        conn.settimeout(10)
        req = b""
        while not req.endswith(b"$2\r\n-1\r\n"):
            req += conn.recv(4096)
        conn.sendall(b"*4\r\n$5\r\nfirst\r\n$6\r\nsecond\r\n")
        got = b""
        deadline = time.time() + 5
        # Raw mode writes the delimiter before the next element, as redis-cli does.
        while got != b"first\nsecond" and time.time() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                got += os.read(p.stdout.fileno(), 4096)
        assert got == b"first\nsecond"  # printed while the reply is still incomplete
        assert p.poll() is None
        conn.sendall(b"$5\r\nthird\r\n$6\r\nfourth\r\n")
        rest = p.communicate(timeout=10)[0]
        assert rest == b"\nthird\nfourth\n" and p.returncode == 0
        conn.close()
    finally:
        if p.poll() is None:
            p.kill()
        srv.close()
