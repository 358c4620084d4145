"""MIGRATE against redis-server 7.0: a Lunar source and a redis-server source each move keys to their
own redis-server target, and every reply, the keys left on both sides and the values that arrived are
compared. Also: AUTH/AUTH2 to a password-protected target, a target that never answers (timeout),
a refused connection, MIGRATE to a Lunar target, propagation as DEL (AOF) and redaction in SLOWLOG."""
import os
import socket
import threading
import time

import pytest

from support.aof import parse_commands, wait_written
from support.resp import Conn
from support.servers import start_lunar, start_redis


def value(conn, key):
    """A key's type and contents, unordered collections sorted (their DUMP order follows hashing)."""
    t = conn.call("TYPE", key)[1]
    read = {b"string": ["GET"], b"list": ["LRANGE", "0", "-1"], b"hash": ["HGETALL"], b"set": ["SMEMBERS"],
            b"zset": ["ZRANGE", "0", "-1", "WITHSCORES"]}[t]
    reply = conn.call(read[0], key, *read[1:])
    if t in (b"hash", b"set"):
        return t, sorted(x[1] for x in reply[1])
    return t, reply


class Setup:
    """Two sources (Lunar, redis-server) with one redis-server target each."""

    def __init__(self, *target_args):
        self.servers = [start_lunar(), start_redis(), start_redis(*target_args), start_redis(*target_args)]
        self.lunar, self.ref, self.lt, self.rt = (Conn(s.port) for s in self.servers)
        self.ports = (self.servers[2].port, self.servers[3].port)

    def both(self, *args, target=True):
        """Runs args on both sources; `{port}` in an argument is each source's own target port."""
        out = []
        for conn, port in ((self.lunar, self.ports[0]), (self.ref, self.ports[1])):
            out.append(conn.call(*[a.replace("{port}", str(port)) if isinstance(a, str) else a for a in args]))
        return out

    def same(self, *args):
        a, b = self.both(*args)
        assert a == b, (args, a, b)
        return a

    def targets_same(self, db=0):
        for conn in (self.lt, self.rt):
            conn.call("SELECT", db)
        keys = [sorted(c.call("KEYS", "*")[1]) for c in (self.lt, self.rt)]
        assert keys[0] == keys[1], keys
        for k in keys[0]:
            name = k[1]
            vals = [value(c, name) for c in (self.lt, self.rt)]
            assert vals[0] == vals[1], name
            ttls = [c.call("PTTL", name)[1] for c in (self.lt, self.rt)]
            assert (ttls[0] < 0) == (ttls[1] < 0) and abs(ttls[0] - ttls[1]) < 2000, (name, ttls)
        for conn in (self.lt, self.rt):
            conn.call("SELECT", 0)

    def close(self):
        for c in (self.lunar, self.ref, self.lt, self.rt):
            c.close()
        for s in self.servers:
            s.stop()


@pytest.fixture
def setup():
    s = Setup()
    try:
        yield s
    finally:
        s.close()


def load(s):
    for args in (["FLUSHALL"], ["SET", "a", "1"], ["RPUSH", "l", "x", "y", "z"], ["SET", "e", "v", "PX", "100000"],
                 ["HSET", "h", "f", "v"], ["ZADD", "z", "1", "m"], ["SADD", "s", "m1", "m2"], ["SET", "big", "x" * 5000]):
        s.same(*args)


def test_migrate_replies_and_data_match_redis(setup):
    s = setup
    load(s)
    cases = [
        ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
        ["EXISTS", "a"],
        ["MIGRATE", "127.0.0.1", "{port}", "", "0", "1000", "KEYS", "l", "e", "nokey"],
        ["MIGRATE", "127.0.0.1", "{port}", "nokey", "0", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "", "0", "1000", "KEYS"],
        ["SET", "a", "2"],
        ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000", "COPY", "REPLACE"],
        ["GET", "a"],
        ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000", "REPLACE"],
        ["EXISTS", "a"],
        ["MIGRATE", "127.0.0.1", "{port}", "h", "3", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "", "3", "0", "copy", "keys", "z", "s", "big"],
        ["MIGRATE", "127.0.0.1", "{port}", "", "0", "-5", "KEYS", "z", "s", "big"],
        ["DBSIZE"],
        ["SET", "x", "1"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "99", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "-1", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "AUTH", "pw"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "AUTH2", "u", "pw"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "AUTH"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "AUTH2", "u"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "FOO"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1000", "KEYS", "x"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "db", "1000"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3", "1.5"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "3"],
        ["MIGRATE", "127.0.0.1", "{port}", "x", "0", "1000"],
        ["EXISTS", "x"],
        ["LPUSH", "l", "again"],
        ["MULTI"], ["MIGRATE", "127.0.0.1", "{port}", "l", "0", "1000", "REPLACE"], ["GET", "a"], ["EXEC"],
        ["EVAL", "return redis.pcall('migrate', '127.0.0.1', ARGV[1], 'l', '0', '1000')", "0", "{port}"],
    ]
    for args in cases:
        s.same(*args)
    s.targets_same(0)
    s.targets_same(3)


def test_refused_connection_and_bad_port(setup):
    s = setup
    load(s)
    for port in ("1", "0", "abc", "70000"):
        s.same("MIGRATE", "127.0.0.1", port, "a", "0", "1000")
    s.same("EXISTS", "a")


def test_unresolvable_host():
    lunar, ref = start_lunar(), start_redis()
    a, b = Conn(lunar.port), Conn(ref.port)
    try:
        for c in (a, b):
            c.call("SET", "k", "v")
        args = ["MIGRATE", "no-such-host.invalid", "6379", "k", "0", "1000"]
        assert a.call(*args) == b.call(*args)
    finally:
        a.close()
        b.close()
        lunar.stop()
        ref.stop()


def test_auth_to_protected_target():
    s = Setup("--requirepass", "secret")
    try:
        load(s)
        for args in (["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000"],
                     ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000", "AUTH", "wrong"],
                     ["MIGRATE", "127.0.0.1", "{port}", "a", "0", "1000", "AUTH", "secret"],
                     ["MIGRATE", "127.0.0.1", "{port}", "", "0", "1000", "AUTH2", "default", "secret", "KEYS", "l", "h"],
                     ["MIGRATE", "127.0.0.1", "{port}", "z", "0", "1000", "AUTH2", "nobody", "secret"],
                     ["DBSIZE"]):
            s.same(*args)
        for c in (s.lt, s.rt):
            assert c.call("AUTH", "secret") == ("simple", b"OK")
        s.targets_same(0)
    finally:
        s.close()


def _silent_target():
    """A listener that accepts and reads but never answers; returns (port, stop)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def run():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                conns.append(c)
            except OSError:
                pass
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join(2)
        for c in conns:
            c.close()
        srv.close()
    return srv.getsockname()[1], close


def test_timeout_when_target_never_answers():
    lunar, ref = start_lunar(), start_redis()
    a, b = Conn(lunar.port), Conn(ref.port)
    port, close = _silent_target()
    try:
        for c in (a, b):
            c.call("SET", "k", "v")
        args = ["MIGRATE", "127.0.0.1", str(port), "k", "0", "300"]
        t0 = time.time()
        ra = a.call(*args)
        took = time.time() - t0
        assert ra == b.call(*args) == ("err", b"IOERR error or timeout reading to target instance")
        assert 0.25 < took < 5
        assert a.call("GET", "k") == ("bulk", b"v")
        # The server answered nothing else while MIGRATE waited, and works again afterwards.
        assert a.call("PING") == ("simple", b"PONG")
    finally:
        close()
        a.close()
        b.close()
        lunar.stop()
        ref.stop()


def test_migrate_to_lunar_target_and_cached_connection():
    src, dst = start_lunar(), start_lunar()
    a, b = Conn(src.port), Conn(dst.port)
    try:
        for i in range(20):
            a.call("SET", f"k{i}", str(i))
        a.call("HSET", "h", "f1", "v1", "f2", "v2")
        a.call("PEXPIRE", "h", 50000)
        for i in range(20):
            assert a.call("MIGRATE", "127.0.0.1", str(dst.port), f"k{i}", "2", "1000") == ("simple", b"OK")
        assert a.call("MIGRATE", "127.0.0.1", str(dst.port), "h", "2", "1000") == ("simple", b"OK")
        assert a.call("DBSIZE") == ("int", 0)
        b.call("SELECT", "2")
        assert b.call("DBSIZE") == ("int", 21)
        assert b.call("HGETALL", "h")[1] == [("bulk", b"f1"), ("bulk", b"v1"), ("bulk", b"f2"), ("bulk", b"v2")]
        assert 40000 < b.call("PTTL", "h")[1] <= 50000
        # One cached connection served every MIGRATE.
        clients = b.call("CLIENT", "LIST")[1].decode().strip().split("\n")
        assert len(clients) == 2, clients
    finally:
        a.close()
        b.close()
        src.stop()
        dst.stop()


def test_propagates_as_del_and_redacts_passwords(tmp_path):
    src = start_lunar("--appendonly", "yes", workdir=str(tmp_path))
    dst = start_redis("--requirepass", "pw")
    a = Conn(src.port)
    try:
        a.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        a.call("SET", "k1", "v")
        a.call("SET", "k2", "v")
        assert a.call("MIGRATE", "127.0.0.1", str(dst.port), "", "0", "1000", "AUTH", "pw", "KEYS", "k1", "k2") \
            == ("simple", b"OK")
        assert a.call("MIGRATE", "127.0.0.1", str(dst.port), "k1", "0", "1000", "AUTH2", "default", "pw") \
            == ("simple", b"NOKEY")
        wait_written(a)
        d = os.path.join(str(tmp_path), "appendonlydir")
        incr = [f for f in os.listdir(d) if f.endswith(".incr.aof")][0]
        cmds = [c[2] for c in parse_commands(open(os.path.join(d, incr), "rb").read())]
        assert [b"DEL", b"k1", b"k2"] in cmds
        assert not any(c[0].lower() == b"migrate" for c in cmds)
        entries = a.call("SLOWLOG", "GET", "10")[1]
        logged = [[x[1] for x in e[1][3][1]] for e in entries]
        migrates = [l for l in logged if l[0].lower() == b"migrate"]
        assert len(migrates) == 2 and all(b"pw" not in l for l in migrates), migrates
        # Newest first: AUTH2 hides user and password, AUTH the password.
        assert migrates[0].count(b"(redacted)") == 2 and migrates[1].count(b"(redacted)") == 1, migrates
    finally:
        a.close()
        src.stop()
        dst.stop()
