"""lunar-cli against redis-cli 7.0: for the same arguments against the same server, the output must be
byte-identical, in raw mode (stdout is a pipe) and in TTY mode (stdout is a pseudo-terminal).

Both clients run against the reference redis-server 7.0 (every reply type is available there, including
RESP3 types through DEBUG PROTOCOL) and against Lunar for what Lunar answers. Before each client run the
keyspace is reset to the same fixture so that both see the same state.
"""
import os
import re

import pytest
import redis as redispy

from cli_support import clean_env, lunar_cli, redis_cli, run_pipe, run_tty

BIN = b"bin\x00ary \xc3\xbc \"quoted\" back\\slash \n\r\t\x07\x08 \x7f\xff"


def reset(port):
    """Puts the same fixture in place. Steps a server does not implement yet (Lunar grows family by
    family) are skipped: both clients then see the same error replies."""
    c = redispy.Redis(port=port, protocol=2)
    steps = [
        lambda: c.flushall(),
        lambda: c.set("s", "hello world"),
        lambda: c.set("num", "42"),
        lambda: c.set("empty", ""),
        lambda: c.set(b"bin", BIN),
        lambda: c.set("with space", "v"),
        lambda: c.rpush("l", "a", "b", "c"),
        lambda: c.rpush("big", *[str(i) for i in range(1, 13)]),
        lambda: c.hset("h", mapping={"f1": "v1", "f2": "v2"}),
        lambda: c.sadd("st", "m1"),
        lambda: c.zadd("z", {"a": 1, "b": 2.5, "c": -3}),
        lambda: c.execute_command("SELECT", 2),
        lambda: c.set("in2", "db two"),
    ]
    for step in steps:
        try:
            step()
        except redispy.ResponseError:
            pass
    c.close()


# Each entry: extra client options, then the command.
CORPUS = [
    ["ping"],
    ["ping", "hello there"],
    ["echo", "multi\nline"],
    ["get", "s"],
    ["get", "bin"],
    ["get", "empty"],
    ["get", "nokey"],
    ["strlen", "s"],
    ["incr", "num"],
    ["incr", "s"],
    ["set", "x", "1", "nx"],
    ["set"],
    ["nosuchcommand", "a", "b"],
    ["lrange", "l", "0", "-1"],
    ["lrange", "big", "0", "-1"],
    ["lrange", "nokey", "0", "-1"],
    ["hgetall", "h"],
    ["hgetall", "nokey"],
    ["smembers", "st"],
    ["zrange", "z", "0", "-1", "withscores"],
    ["zscore", "z", "b"],
    ["mget", "s", "nokey", "l", "bin"],
    ["keys", "with*"],
    ["type", "h"],
    ["exists", "s", "l", "nokey"],
    ["dbsize"],
    ["object", "encoding", "big"],
    ["scan", "0", "count", "100", "match", "st*"],
    ["config", "get", "maxmemory"],
    ["command", "info", "get", "set"],
    ["command", "docs", "get"],
    ["command", "count"],
    ["eval", "return {1, {2, {3, 'x'}}, 'y', {}}", "0"],
    ["eval", "return {1,2,3,4,5,6,7,8,9,10,{1,2,3,4,5,6,7,8,9,10,11}}", "0"],
    ["eval", "return redis.error_reply('MY custom error')", "0"],
    ["eval", "return {err='bad thing'}", "0"],
    ["eval", "return 3.99", "0"],
    ["eval", "return {1, nil, 3}", "0"],
    ["eval", "return true", "0"],
    ["eval", "return false", "0"],
    ["eval", "return redis.status_reply('FINE')", "0"],
    ["-n", "2", "get", "in2"],
    ["-n", "2", "dbsize"],
    ["-n", "99", "get", "s"],
    ["-3", "hgetall", "h"],
    ["-3", "hgetall", "nokey"],
    ["-3", "smembers", "st"],
    ["-3", "smembers", "nokey"],
    ["-3", "zscore", "z", "b"],
    ["-3", "zrange", "z", "0", "-1", "withscores"],
    ["-3", "hello", "3"],
    ["-3", "get", "nokey"],
    ["-3", "command", "docs", "get"],
    ["-3", "config", "get", "maxmemory"],
    ["-3", "eval", "return {1, {2, 3}, {double=3.5}}", "0"],
    ["-3", "debug", "protocol", "string"],
    ["-3", "debug", "protocol", "integer"],
    ["-3", "debug", "protocol", "double"],
    ["-3", "debug", "protocol", "null"],
    ["-3", "debug", "protocol", "array"],
    ["-3", "debug", "protocol", "set"],
    ["-3", "debug", "protocol", "map"],
    ["-3", "debug", "protocol", "true"],
    ["-3", "debug", "protocol", "false"],
    ["-3", "debug", "protocol", "verbatim"],
    ["-3", "debug", "protocol", "bignum"],
    ["-3", "debug", "protocol", "attrib"],
    ["-3", "debug", "protocol", "push"],
    ["debug", "protocol", "map"],
    ["debug", "protocol", "double"],
    ["-e", "set"],
    ["-e", "get", "s"],
    ["-r", "3", "incr", "num"],
    ["-r", "2", "-i", "0.1", "lrange", "l", "0", "-1"],
    ["-d", "::", "lrange", "l", "0", "-1"],
    ["-D", "##", "-r", "2", "get", "s"],
    ["--quoted-input", "set", '"q\\x00k"', "'val ue'"],
    ["--quoted-input", "get", '"q\\x00k"'],
    ["--quoted-input", "get", '"unterminated'],
    ["--csv", "lrange", "l", "0", "-1"],
    ["--csv", "hgetall", "h"],
    ["--csv", "get", "bin"],
    ["--csv", "get", "nokey"],
    ["--csv", "set"],
    ["--csv", "-3", "hgetall", "h"],
    ["--csv", "-3", "zscore", "z", "b"],
    ["--csv", "-3", "debug", "protocol", "true"],
    ["--csv", "eval", "return {1, {2, 3}, 'x'}", "0"],
    ["--raw", "lrange", "big", "0", "-1"],
    ["--raw", "get", "bin"],
    ["--raw", "-3", "hgetall", "h"],
    ["--raw", "-3", "debug", "protocol", "true"],
    ["--raw", "-3", "debug", "protocol", "verbatim"],
    ["--raw", "eval", "return {1, {2, {3, 'x'}}, 'y', {}}", "0"],
    ["--no-raw", "lrange", "l", "0", "-1"],
    ["--no-raw", "get", "bin"],
    ["info", "keyspace"],
    ["-p", "1", "ping"],
    ["--badoption"],
    ["-u", "redis://127.0.0.1:PORT/2", "get", "in2"],
    ["-u", "http://x"],
    ["help", "get"],
    ["help", "set"],
    ["help", "@hyperloglog"],
    ["help", "config", "get"],
    ["help", "zadd"],
    ["help", "sort"],
    ["help", "xadd"],
    ["help", "georadius"],
    ["help", "client", "kill"],
    ["help", "nosuch"],
]


def ids(c):
    return " ".join(c)[:60]


def argv_for(binary, port, args):
    args = [a.replace("PORT", str(port)) for a in args]
    if args and args[0] == "-p":
        return [binary] + args
    return [binary, "-p", str(port)] + args


ID_RE = re.compile(rb'(\bid\b["\s=>(a-z),]{0,20})\d+')


def normalize(out):
    """Connection ids differ between two runs; everything else must be identical."""
    return ID_RE.sub(rb"\1N", out)


def compare(port, args, tty):
    results = []
    for binary in (redis_cli(), lunar_cli()):
        reset(port)
        argv = argv_for(binary, port, args)
        if tty:
            rc, out = run_tty(argv)
            results.append((rc, normalize(out)))
        else:
            rc, out, err = run_pipe(argv)
            results.append((rc, normalize(out), err))
    return results


@pytest.mark.parametrize("args", CORPUS, ids=ids)
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "tty"])
def test_identical_on_redis(redis_server, args, tty):
    ref, ours = compare(redis_server.port, args, tty)
    assert ours == ref


# The whole corpus runs against Lunar too: whatever Lunar answers (including errors for what it lacks),
# both clients must print it identically.
LUNAR_CORPUS = CORPUS


@pytest.mark.parametrize("args", LUNAR_CORPUS, ids=ids)
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "tty"])
def test_identical_on_lunar(lunar_server, args, tty):
    ref, ours = compare(lunar_server.port, args, tty)
    assert ours == ref


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "tty"])
def test_stdin_last_arg(redis_server, tty):
    outs = []
    for binary in (redis_cli(), lunar_cli()):
        reset(redis_server.port)
        argv = [binary, "-p", str(redis_server.port), "-x", "set", "fromstdin"]
        data = b"line one\nline two\x00\xff\n"
        if tty:
            outs.append(run_tty(argv, stdin=data))
        else:
            outs.append(run_pipe(argv, stdin=data))
        c = redispy.Redis(port=redis_server.port)
        assert c.get("fromstdin") == data
    assert outs[0] == outs[1]


def test_commands_from_stdin(redis_server):
    script = b"set a 1\nget a\nlrange l 0 -1\n\nincr a\n\"get\" 'a'\n"
    outs = []
    for binary in (redis_cli(), lunar_cli()):
        reset(redis_server.port)
        outs.append(run_pipe([binary, "-p", str(redis_server.port)], stdin=script))
    assert outs[0] == outs[1]
    assert outs[1][1] == b"OK\n1\na\nb\nc\n2\n2\n"


def test_version_and_help():
    rc, out, err = run_pipe([lunar_cli(), "--version"])
    assert rc == 0 and re.match(rb"lunar-cli 7\.0\.\d+\n$", out)
    rc, out, err = run_pipe([lunar_cli(), "--help"])
    assert rc == 0
    for opt in (b"--eval", b"--function-load", b"--functions", b"--pipe", b"--scan", b"--bigkeys",
                b"--memkeys", b"--stat", b"--latency", b"-u <uri>", b"--csv", b"--no-raw", b"-3"):
        assert opt in out


def test_auth_and_user(tmp_path):
    from support.servers import start_redis
    s = start_redis("--requirepass", "sekret")
    try:
        c = redispy.Redis(port=s.port, password="sekret")
        c.execute_command("ACL", "SETUSER", "bob", "on", ">bobpw", "~*", "+@all")
        c.set("k", "v")
        cases = [
            ["-a", "sekret", "get", "k"],
            ["-a", "wrong", "get", "k"],
            ["--no-auth-warning", "-a", "sekret", "get", "k"],
            ["--user", "bob", "--pass", "bobpw", "get", "k"],
            ["--user", "bob", "-a", "nope", "get", "k"],
            ["-u", "redis://sekret@127.0.0.1:%d" % s.port, "get", "k"],
            ["-u", "redis://bob:bobpw@127.0.0.1:%d/0" % s.port, "get", "k"],
            ["-u", "redis://bob:bob%%70w@127.0.0.1:%d/0" % s.port, "get", "k"],
            ["get", "k"],
        ]
        for args in cases:
            outs = [run_pipe([b, "-p", str(s.port)] + args) for b in (redis_cli(), lunar_cli())]
            assert outs[0] == outs[1], args
        env = clean_env(REDISCLI_AUTH="sekret")
        outs = [run_pipe([b, "-p", str(s.port), "get", "k"], env=env) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1] == (0, b"v\n", b"")
    finally:
        s.stop()


def test_unix_socket(tmp_path):
    from support.servers import start_redis
    sock = str(tmp_path / "r.sock")
    s = start_redis("--unixsocket", sock)
    try:
        outs = [run_pipe([b, "-s", sock, "ping"]) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1] == (0, b"PONG\n", b"")
        outs = [run_pipe([b, "-s", str(tmp_path / "none.sock"), "ping"]) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1]
    finally:
        s.stop()


def test_unix_socket_on_lunar(tmp_path):
    from support.servers import start_lunar
    sock = str(tmp_path / "l.sock")
    s = start_lunar("--unixsocket", sock)
    try:
        outs = [run_pipe([b, "-s", sock, "ping"]) for b in (redis_cli(), lunar_cli())]
        assert outs[0] == outs[1] == (0, b"PONG\n", b"")
    finally:
        s.stop()


def test_subscribe_output_like_redis_cli(redis_server):
    import subprocess
    import time
    outs = []
    for b in (redis_cli(), lunar_cli()):
        for extra in ([], ["--no-raw"]):
            p = subprocess.Popen([b, "-p", str(redis_server.port)] + extra + ["subscribe", "c1", "c2"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
            time.sleep(0.5)
            c = redispy.Redis(port=redis_server.port, protocol=2)
            c.publish("c1", "m1")
            c.publish("c2", b"m\x002")
            time.sleep(0.3)
            p.terminate()
            out, err = p.communicate(timeout=5)
            outs.append((out, err))
    assert outs[0] == outs[2] and outs[1] == outs[3]
    assert outs[3][0].startswith(b"Reading messages... (press Ctrl-C to quit)\n1) \"subscribe\"")
