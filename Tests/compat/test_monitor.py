"""MONITOR against redis-server 7.0: the same commands run on both servers while a MONITOR connection
listens, and the lines each monitor receives are compared (timestamps and client ports normalized).

Generated sequences come from the differential families; hand-written scenarios cover what the
families do not reach: what is hidden (admin, refused and queued commands), scripts' calls, password
redaction, a monitor's own commands and restrictions, RESET, CLIENT LIST, MONITOR inside EXEC.
"""
import importlib
import os
import random
import re
import socket
import sys
import time

import pytest

from support.resp import Conn
from support.servers import start_lunar, start_redis, lunar_and_redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "differential"))
import harness  # noqa: E402

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]*)\] (.*)$")


class Monitor:
    """A raw connection in MONITOR mode that collects the lines it receives."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(10)
        self.buf = b""
        self.sock.sendall(b"MONITOR\r\n")
        assert self.line() == b"+OK"

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(1 << 16)
            assert d, "monitor connection closed"
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def until(self, marker):
        """Lines up to (not including) the one showing ECHO `marker`."""
        out = []
        while True:
            ln = self.line()
            if ln.lower().endswith(b'"echo" "' + marker + b'"'):
                return out
            out.append(ln)

    def close(self):
        self.sock.close()


def normalize(lines, names):
    """Each line as (db, peer, args); peers named by `names` (address -> label), others kept as 'other'."""
    out = []
    for ln in lines:
        m = LINE.match(ln)
        assert m, ln
        sec, usec = int(m.group(1)), int(m.group(2))
        assert abs(sec - time.time()) < 600 and 0 <= usec < 1_000_000
        peer = m.group(4)
        out.append((m.group(3), peer if peer == b"lua" else names.get(peer, b"other"), m.group(5)))
    return out


def addr(conn):
    host, port = conn.sock.getsockname()[:2]
    return f"{host}:{port}".encode()


@pytest.fixture
def pair():
    with lunar_and_redis() as servers:
        yield servers


def run_scenario(port, steps):
    """Runs `steps` (lists of args, or ('on', n, args) for connection n) and returns (replies, lines)."""
    mon = Monitor(port)
    conns = [Conn(port), Conn(port)]
    names = {addr(c): f"c{i}".encode() for i, c in enumerate(conns)}
    replies = []
    for step in steps:
        n, args = (step[1], step[2]) if step[0] == "on" else (0, step)
        conns[n].send_raw(Conn.encode(args))
        replies.append(conns[n].read())
    conns[0].call("ECHO", "__end__")
    lines = normalize(mon.until(b"__end__"), names)
    for c in conns:
        c.close()
    mon.close()
    return replies, lines


SCENARIO = [
    ["SET", "k", "v"], ["GET", "k"], ["SELECT", "2"], ["SET", "a b", b'x"y\\z\n\r\t\x07\x08\x01\xff \xc3\xa9'],
    ["SELECT", "0"], ["NOSUCH", "x"], ["GET"], ["CONFIG", "GET", "maxmemory"], ["INFO", "server"],
    ["MULTI"], ["SET", "q", "1"], ["INCR", "q"], ["EXEC"],
    ["MULTI"], ["SET", "q", "1"], ["DISCARD"],
    ["MULTI"], ["NOSUCH"], ["EXEC"],
    ["MULTI"], ["SELECT", "3"], ["EVAL", "return redis.call('get', 'a')", "0"], ["EXEC"], ["SELECT", "0"],
    ["EVAL", "redis.call('select', '4'); redis.call('set', 'e', '1'); return redis.call('get', 'e')", "0"],
    ["EVAL", "return redis.pcall('lpush', 'k', 'x')", "0"],
    ["EVALSHA", "0" * 40, "0"], ["EVAL", "return 1", "x"], ["EVAL", "return 1", "2", "a"],
    ["EVAL", "return redis.call('nosuch')", "0"], ["EVAL", "return redis.call('config', 'get', 'x')", "0"],
    ["FUNCTION", "LOAD", "REPLACE", "#!lua name=ml\nredis.register_function('f', function(k) return redis.call('get', k[1]) end)"],
    ["FCALL", "f", "1", "k"], ["FCALL", "nosuch", "0"],
    ["AUTH", "wrong"], ["AUTH", "default", "pw"], ["AUTH", "a", "b", "c"],
    ["HELLO", "3", "AUTH", "default", "pw"], ["HELLO", "2"], ["HELLO", "4", "AUTH", "a", "b"],
    ["HELLO", "x", "AUTH", "a", "b"], ["HELLO", "2", "SETNAME", "n", "AUTH", "a", "b"],
    ["HELLO", "2", "AUTH", "a", "b", "SETNAME"],
    ["ACL", "SETUSER", "mon user", "on", ">secret", "+get"], ["ACL", "SETUSER", "mon user", "bogus-rule"],
    ["ACL", "DELUSER", "mon user"], ["ACL", "SETUSER"],
    ["CONFIG", "SET", "masterauth", "pw1", "masteruser", "u1", "requirepass", ""],
    ["CONFIG", "SET", "masterauth", "pw1", "nosuch", "x"], ["CONFIG", "SET", "masterauth"],
    ["CONFIG", "SET", "masterauth", ""], ["CONFIG", "SET", "masteruser", ""],
    ["CLIENT", "SETNAME", "x"], ["CLIENT", "ID"], ["CLIENT", "LIST"], ["CLIENT", "NO-EVICT", "off"],
    ["SLOWLOG", "GET"], ["PING"], ["ECHO", "hi"], ["SCRIPT", "LOAD", "return 1"], ["COMMAND", "COUNT"],
    ["OBJECT", "FREQ", "k"], ["SET", "k", "1", "GET", "PX", "100000"], ["GETEX", "k", "PERSIST"],
    ["WATCH", "w"], ("on", 1, ["SET", "w", "1"]), ["MULTI"], ["INCR", "w"], ["EXEC"],
    ["PUBLISH", "ch", "m"], ["SAVE"], ["LASTSAVE"], ("on", 1, ["QUIT"]),
]


def test_scenario_matches_redis(pair):
    lunar, ref = pair
    ra, la = run_scenario(lunar.port, SCENARIO)
    rb, lb = run_scenario(ref.port, SCENARIO)
    assert la == lb
    # Spot checks, so that an empty stream on both sides cannot pass.
    shown = [x[2].lower() for x in la]
    assert b'"set" "k" "v"' in shown
    assert (b"2", b"c0", b'"SET" "a b" "x\\"y\\\\z\\n\\r\\t\\a\\b\\x01\\xff \\xc3\\xa9"') in la
    assert (b"4", b"lua", b'"set" "e" "1"') in la
    assert b'"auth" "(redacted)" "(redacted)"' in shown and b'"auth" "a" "b" "c"' in shown
    assert not any(s.startswith(b'"config"') or s.startswith(b'"nosuch"') for s in shown)
    i = shown.index(b'"eval" "return redis.call(\'get\', \'a\')" "0"')
    assert la[i + 1] == (b"3", b"lua", b'"get" "a"') and shown[i + 2] == b'"exec"'


def test_monitor_connection_itself_matches_redis(pair):
    """A monitor's own commands: a second MONITOR gets no reply, keyspace commands are refused,
    PING and pub/sub work; RESET ends monitoring; CLIENT LIST shows flag O; MONITOR inside EXEC fails."""
    lunar, ref = pair
    out = []
    for srv in (lunar, ref):
        m = Conn(srv.port)
        other = Conn(srv.port)
        got = [m.call("MONITOR")]
        m.send_raw(Conn.encode(["MONITOR"]))
        m.send_raw(Conn.encode(["PING"]))
        got.append(m.read())                     # PONG: the second MONITOR had no reply
        got.append(m.read()[0])                  # the PING's own monitor line
        for args in (["GET", "k"], ["SET", "k", "1"], ["EVAL", "return 1", "0"], ["FCALL", "f", "0"],
                     ["PUBLISH", "c", "m"], ["MULTI"], ["SET", "k", "1"], ["EXEC"], ["SUBSCRIBE", "c"],
                     ["ECHO", "x"], ["RESET"], ["SET", "k", "2"], ["GET", "k"]):
            m.send_raw(Conn.encode(args))
            r = m.read()
            while r[0] == "simple" and re.match(rb"^\d+\.\d{6} \[", r[1]):
                r = m.read()                    # skip monitor lines
            got.append(r)
        flags = re.findall(rb"flags=(\w+)", other.call("CLIENT", "LIST")[1])
        got.append(sorted(flags))
        mon2 = Conn(srv.port)
        mon2.call("MONITOR")
        got.append(re.findall(rb"flags=(\w+)", other.call("CLIENT", "LIST")[1]))
        got += [other.call("MULTI"), other.call("MONITOR"), other.call("EXEC")]
        out.append(got)
        for c in (m, other, mon2):
            c.close()
    assert out[0] == out[1]
    assert (b"Replica can't interact with the keyspace" in out[0][3][1])


FAMILIES = ["strings", "keys", "lists", "sets", "hashes", "zsets", "hyperloglog", "geo", "streams", "transactions", "scripts", "server"]


@pytest.mark.parametrize("family", FAMILIES)
def test_generated_sequences_match_redis(pair, family):
    """A differential family's commands, monitored on both servers: the same lines in the same order.
    Keys made equal after random commands are copied on other connections, whose lines are left out."""
    lunar, ref = pair
    module = importlib.import_module(f"families.{family}")
    rng = random.Random(f"monitor-{family}")
    mons = [Monitor(lunar.port), Monitor(ref.port)]
    main = [Conn(lunar.port), Conn(ref.port)]
    aux = [Conn(lunar.port), Conn(ref.port)]
    for c in main:
        c.call("FLUSHALL")
    gen = module.generate(rng)
    for _ in range(int(os.environ.get("MONITOR_COMMANDS", "400"))):
        cmd = next(gen)
        if cmd.args[0] == "__sleep__":
            time.sleep(int(cmd.args[1]) / 1000)
            continue
        for c in main:
            c.send_raw(Conn.encode(cmd.args))
        for c in main:
            c.read()
        for k in cmd.resync:
            harness.copy_key(aux[0], aux[1], k)
    streams = []
    for mon, c, x in zip(mons, main, aux):
        x.call("ECHO", "__end__")   # main may have been left inside MULTI
        streams.append(normalize(mon.until(b"__end__"), {addr(c): b"main"}))
    for c in main + aux:
        c.close()
    for m in mons:
        m.close()
    a = [x for x in streams[0] if x[1] != b"other"]
    b = [x for x in streams[1] if x[1] != b"other"]
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"line {i} differs:\n  lunar: {x!r}\n  redis: {y!r}\n  before: {a[max(0, i - 5):i]!r}"
    assert len(a) == len(b)
    assert len(a) > 50


def test_unix_socket_clients_match_redis(tmp_path):
    """A client on the Unix socket: MONITOR names it `unix:<path>`, CLIENT LIST shows `<path>:0` and
    flag U (the paths differ per server, so they are compared with the path replaced)."""
    out = []
    for kind in ("lunar", "redis"):
        path = str(tmp_path / f"{kind}.sock")
        srv = (start_lunar if kind == "lunar" else start_redis)("--unixsocket", path)
        try:
            mon = Monitor(srv.port)
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.settimeout(10)
            s.sendall(Conn.encode(["SET", "a", "1"]) + Conn.encode(["CLIENT", "INFO"]))
            data = b""
            while data.count(b"\r\n") < 3:
                data += s.recv(1 << 16)
            info = data.split(b"\r\n")[2]
            ln = mon.line()
            s.close()
            mon.close()
            p = path.encode()
            out.append((ln.split(b" ", 1)[1].replace(p, b"PATH"),
                        re.search(rb"addr=(\S+) laddr=(\S+)", info).groups(),
                        re.search(rb"flags=(\w+)", info).group(1)))
            out[-1] = (out[-1][0], tuple(x.replace(p, b"PATH") for x in out[-1][1]), out[-1][2])
        finally:
            srv.stop()
    assert out[0] == out[1]
    assert out[0][0] == b'[0 unix:PATH] "SET" "a" "1"' and out[0][2] == b"U"
