"""Streams compared with redis-server 7.0: replies and errors (scripted and generated sequences), the
node layout (XINFO's radix-tree figures after `~` trims), RDB files both ways with groups and PELs,
DEBUG RELOAD, DUMP/RESTORE across servers, the AOF rewrite without preamble, what writes propagate
(the AOF of both servers after the same commands), blocking XREAD/XREADGROUP and keyspace events.
Times (idle, delivery and seen times) differ between two servers and are only compared when both
loaded them from the same file.
"""
import os
import random
import re
import shutil
import socket
import tempfile
import threading
import time

import pytest
import redis

from support.resp import Conn
from support.servers import start_lunar, start_redis

HERE = os.path.dirname(__file__)


@pytest.fixture
def both(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "stream-node-max-entries", "100")
        c.call("CONFIG", "SET", "stream-node-max-bytes", "4096")
    yield a, b
    for c in (a, b):
        c.call("CONFIG", "SET", "stream-node-max-entries", "100")
        c.call("CONFIG", "SET", "stream-node-max-bytes", "4096")
        c.close()


def _clock_free(r):
    """A reply with millisecond clock readings (XINFO's seen-time, a PEL's delivery time: integers past
    10^12) replaced by a marker: the two servers run a command a millisecond or so apart."""
    if isinstance(r, tuple) and len(r) == 2 and r[0] == "int" and isinstance(r[1], int) and r[1] > 10 ** 12:
        return ("int", "clock")
    if isinstance(r, tuple):
        return tuple(_clock_free(x) for x in r)
    if isinstance(r, list):
        return [_clock_free(x) for x in r]
    return r


def same(both, *args):
    a, b = both
    x, y = a.call(*args), b.call(*args)
    assert _clock_free(x) == _clock_free(y), f"{args}: lunar {x!r} != redis {y!r}"
    return x


def script(name):
    with open(os.path.join(HERE, "streams_scripts", name)) as f:
        return [l.split() for l in f.read().splitlines() if l.strip() and not l.startswith("#")]


@pytest.mark.parametrize("name", ["basics.txt", "groups.txt", "resp3.txt", "other_types.txt", "edges.txt", "dump_bytes.txt"])
def test_scripted_replies_match(both, name):
    if name == "resp3.txt":
        for c in both:
            c.call("HELLO", "3")
    for cmd in script(name):
        same(both, *cmd)


def fill_stream(c, rng, key, n, fields=3):
    ids = []
    for i in range(n):
        nf = rng.randrange(1, fields + 1)
        args = []
        for j in range(nf):
            f = rng.choice(["f", "g", "name", str(rng.randrange(100))]) if rng.random() < 0.3 else f"f{j}"
            v = rng.choice(["v", str(rng.randrange(-10 ** 6, 10 ** 6)), "x" * rng.randrange(0, 300)])
            args += [f, v]
        ids.append(c.call("XADD", key, f"{i // 3 + 1}-{i % 3}", *args))
    return ids


@pytest.mark.parametrize("seed", range(6))
def test_generated_streams_have_the_same_nodes(both, seed):
    """Random entries (sizes around stream-node-max-bytes), deletions and trims: the same replies and
    XINFO STREAM (radix-tree-keys/nodes count the nodes) on both servers."""
    rng = random.Random(seed)
    a, b = both
    entries, nbytes = str(rng.choice([3, 10, 100, 0])), str(rng.choice([0, 200, 4096]))
    for c in (a, b):
        c.call("CONFIG", "SET", "stream-node-max-entries", entries)
        c.call("CONFIG", "SET", "stream-node-max-bytes", nbytes)
    for i in range(300):
        nf = rng.randrange(1, 4)
        args = []
        for j in range(nf):
            args += [rng.choice(["f", "g", "h", f"f{j}"]), rng.choice(["v", str(rng.randrange(-10 ** 6, 10 ** 6)), "x" * rng.randrange(0, 200)])]
        same(both, "XADD", "s", f"{i // 3 + 1}-{i % 3}", *args)
        if rng.random() < 0.1:
            same(both, "XDEL", "s", f"{rng.randrange(1, i // 3 + 2)}-{rng.randrange(3)}")
        if rng.random() < 0.03:
            k = rng.choice(["MAXLEN", "MINID"])
            t = str(rng.randrange(0, 300)) if k == "MAXLEN" else f"{rng.randrange(1, 100)}-0"
            lim = ["LIMIT", str(rng.randrange(0, 50))] if rng.random() < 0.3 else []
            same(both, "XTRIM", "s", k, rng.choice(["~", "=", "~"]) if lim == [] else "~", t, *lim)
    same(both, "XINFO", "STREAM", "s")
    same(both, "XRANGE", "s", "-", "+")
    same(both, "XREVRANGE", "s", "+", "-", "COUNT", "7")
    for i in range(20):
        same(both, "XADD", "s", "MAXLEN", "~", str(rng.randrange(0, 200)), f"{1000 + i}-0", "f", "v")
        same(both, "XINFO", "STREAM", "s")


def test_consumer_groups_lag_and_entries_read(both):
    for i in range(1, 8):
        same(both, "XADD", "s", f"{i}-0", "f", str(i))
    same(both, "XGROUP", "CREATE", "s", "g", "0")
    same(both, "XGROUP", "CREATE", "s", "late", "$")
    same(both, "XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "s", ">")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XDEL", "s", "5-0")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "2")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XTRIM", "s", "MAXLEN", "2")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XREADGROUP", "GROUP", "g", "d", "NOACK", "STREAMS", "s", ">")
    same(both, "XINFO", "GROUPS", "s")
    same(both, "XPENDING", "s", "g")
    a, b = both
    # Consumers: names and pending counts (idle times are each server's own).
    x = a.call("XINFO", "CONSUMERS", "s", "g")[1]
    y = b.call("XINFO", "CONSUMERS", "s", "g")[1]
    strip = lambda rows: [[v for k, v in zip(r[1][::2], r[1][1::2]) if k[1] != b"idle"] for r in rows]
    assert strip(x) == strip(y)


# MARK: persistence

def full_info(c, key):
    return c.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")


def build_rich(c):
    """Streams with tombstones, several nodes, groups with PELs spread over consumers, an empty stream."""
    c.call("CONFIG", "SET", "stream-node-max-entries", "4")
    for i in range(1, 30):
        c.call("XADD", "s", f"{i}-{i % 2}", "f", str(i), "g", "x" * (i * 7))
    c.call("XADD", "s", "40-0", "other", "fields", "n", "123")
    c.call("XDEL", "s", "3-1", "4-0", "10-0")
    c.call("XGROUP", "CREATE", "s", "g1", "0")
    c.call("XGROUP", "CREATE", "s", "g2", "5-0", "ENTRIESREAD", "3")
    c.call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "s", ">")
    c.call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "4", "STREAMS", "s", ">")
    c.call("XGROUP", "CREATECONSUMER", "s", "g1", "idle-one")
    c.call("XREADGROUP", "GROUP", "g2", "carol", "STREAMS", "s", ">")
    c.call("XACK", "s", "g2", "7-1", "8-0")
    c.call("XDEL", "s", "12-0")
    c.call("XADD", "empty", "1-1", "a", "b")
    c.call("XDEL", "empty", "1-1")
    c.call("XGROUP", "CREATE", "empty", "eg", "$")
    c.call("XADD", "ttl", "1-1", "a", "b")
    c.call("PEXPIRE", "ttl", "100000000")
    c.call("CONFIG", "SET", "stream-node-max-entries", "100")


def snapshot_streams(c):
    return {k: full_info(c, k) for k in (b"s", b"empty", b"ttl")}


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="lunar-streams-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_rdb_lunar_to_redis_and_back(workdir):
    lunar = start_lunar(workdir=workdir)
    ref = None
    try:
        c = Conn(lunar.port)
        build_rich(c)
        want = snapshot_streams(c)
        assert c.call("SAVE") == ("simple", b"OK")
        refdir = tempfile.mkdtemp(prefix="redis-streams-")
        shutil.copy(os.path.join(workdir, "dump.rdb"), os.path.join(refdir, "dump.rdb"))
        ref = start_redis("--dir", refdir)
        rc = Conn(ref.port)
        assert snapshot_streams(rc) == want
        assert rc.call("PTTL", "ttl")[1] > 0
        # Redis saves it again; Lunar loads Redis's file.
        assert rc.call("SAVE") == ("simple", b"OK")
        lunar.stop()
        shutil.copy(os.path.join(refdir, "dump.rdb"), os.path.join(workdir, "dump.rdb"))
        lunar = start_lunar(workdir=workdir)
        c = Conn(lunar.port)
        assert snapshot_streams(c) == want
        assert c.call("XINFO", "STREAM", "s") == rc.call("XINFO", "STREAM", "s")
    finally:
        lunar.stop()
        if ref:
            ref.stop()


def test_rdb_redis_to_lunar(workdir):
    ref = start_redis()
    lunar = None
    try:
        rc = Conn(ref.port)
        build_rich(rc)
        want = snapshot_streams(rc)
        assert rc.call("SAVE") == ("simple", b"OK")
        shutil.copy(os.path.join(ref.workdir, "dump.rdb"), os.path.join(workdir, "dump.rdb"))
        lunar = start_lunar(workdir=workdir)
        c = Conn(lunar.port)
        assert snapshot_streams(c) == want
        # Further writes behave the same on the loaded streams (node layout kept).
        for cmd in (["XADD", "s", "50-0", "f", "1"], ["XTRIM", "s", "MAXLEN", "~", "10"], ["XINFO", "STREAM", "s"],
                    ["XPENDING", "s", "g1"], ["XINFO", "GROUPS", "s"]):
            assert c.call(*cmd) == rc.call(*cmd), cmd
        assert c.call("DEBUG", "RELOAD") == ("simple", b"OK")
        assert full_info(c, "s") == full_info(rc, "s")
    finally:
        ref.stop()
        if lunar:
            lunar.stop()


def test_dump_restore_across_servers(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
    build_rich(a)
    for key in ("s", "empty"):
        payload = a.call("DUMP", key)[1]
        assert b.call("RESTORE", key, "0", payload) == ("simple", b"OK")
        assert full_info(b, key) == full_info(a, key)
        back = b.call("DUMP", key)[1]
        assert a.call("RESTORE", key + "2", "0", back) == ("simple", b"OK")
        assert full_info(a, key + "2") == full_info(a, key)


def test_keys_survive_rename_copy_move_and_expiry(r):
    r.xadd("s", {"a": "1"}, id="1-1")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"})
    assert r.type("s") == b"stream"
    assert r.object("encoding", "s") == b"stream"
    assert r.memory_usage("s") > 0
    assert list(r.scan_iter(_type="stream")) == [b"s"]
    r.rename("s", "t")
    assert r.copy("t", "u")
    r.xack("u", "g", "1-1")
    assert r.xpending("t", "g")["pending"] == 1 and r.xpending("u", "g")["pending"] == 0
    assert r.move("u", 1)
    r.execute_command("SELECT", 0)
    r.pexpire("t", 50)
    time.sleep(0.1)
    assert r.exists("t") == 0
    r.execute_command("DEBUG", "RELOAD")


def normalize_aof(text):
    """Commands of an AOF, TIME values replaced (each server's clock)."""
    parts = text.replace("\r\n", "\n").split("\n")
    cmds, i = [], 0
    while i < len(parts):
        if parts[i].startswith("*"):
            n = int(parts[i][1:])
            args = [parts[i + 2 + 2 * j] for j in range(n)]
            cmds.append(args)
            i += 1 + 2 * n
        else:
            i += 1
    for c in cmds:
        for j in range(len(c) - 1):
            if c[j].upper() == "TIME":
                c[j + 1] = "<t>"
    return cmds


def incr_aof(workdir):
    d = os.path.join(workdir, "appendonlydir")
    name = [f for f in os.listdir(d) if f.endswith(".incr.aof")][0]
    return open(os.path.join(d, name)).read()


def test_propagation_matches_redis_aof(workdir):
    """The same writes on both servers with appendonly yes: the same AOF (generated IDs given explicitly,
    times normalized)."""
    lunar = start_lunar("--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    ref = start_redis("--appendonly", "yes", "--appendfsync", "always")
    try:
        a, b = Conn(lunar.port), Conn(ref.port)
        cmds = [
            ["CONFIG", "SET", "stream-node-max-entries", "3"],
        ] + [["XADD", "s", f"{i}-1", "f", "v"] for i in range(1, 11)] + [
            ["XADD", "s", "MAXLEN", "~", "2", "LIMIT", "3", "20-*", "a", "b"],
            ["XADD", "s", "MAXLEN", "~", "2", "21-*", "a", "b"],
            ["XADD", "s", "MINID", "~", "5", "22-5", "a", "b"],
            ["XTRIM", "s", "MAXLEN", "~", "1"],
            ["XTRIM", "s", "MAXLEN", "~", "100"],
            ["XGROUP", "CREATE", "s", "g", "0"],
            ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"],
            ["XREADGROUP", "GROUP", "g", "c2", "NOACK", "COUNT", "1", "STREAMS", "s", ">"],
            ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"],
            ["XCLAIM", "s", "g", "c3", "0", "20-0", "21-0", "JUSTID"],
            ["XCLAIM", "s", "g", "c3", "0", "1-1", "LASTID", "30-0"],
            ["XDEL", "s", "21-0"],
            ["XAUTOCLAIM", "s", "g", "c4", "0", "0"],
            ["XACK", "s", "g", "20-0", "99-0"],
            ["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"],
            ["XGROUP", "CREATECONSUMER", "s", "g", "c9"],
            ["XGROUP", "DELCONSUMER", "s", "g", "c9"],
            ["XSETID", "s", "99-0", "ENTRIESADDED", "50", "MAXDELETEDID", "50-0"],
            ["XGROUP", "DESTROY", "s", "g"],
            ["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"],
            ["CONFIG", "SET", "stream-node-max-entries", "100"],
        ]
        for cmd in cmds:
            x, y = a.call(*cmd), b.call(*cmd)
            assert x == y, (cmd, x, y)
        time.sleep(0.3)
        assert normalize_aof(incr_aof(workdir)) == normalize_aof(incr_aof(ref.workdir))
    finally:
        lunar.stop()
        ref.stop()


def test_aof_rewrite_without_preamble_matches_redis(workdir):
    lunar = start_lunar("--appendonly", "yes", "--aof-use-rdb-preamble", "no", workdir=workdir)
    ref = start_redis("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    try:
        a, b = Conn(lunar.port), Conn(ref.port)
        build_rich(a)
        # Redis gets the same dataset with the same times through DUMP/RESTORE.
        for key in ("s", "empty", "ttl"):
            b.call("RESTORE", key, "0", a.call("DUMP", key)[1])
        b.call("PEXPIREAT", "ttl", str(a.call("PEXPIRETIME", "ttl")[1]))
        for c in (a, b):
            assert c.call("BGREWRITEAOF")[0] == "simple"
        time.sleep(1.5)

        def base(wd):
            d = os.path.join(wd, "appendonlydir")
            name = [f for f in os.listdir(d) if f.endswith(".base.aof")][0]
            cmds = normalize_aof(open(os.path.join(d, name)).read())
            # Keys may come in another order; the shared server's function libraries are not ours.
            return sorted(tuple(c) for c in cmds if c[0].upper() not in ("FUNCTION", "SELECT"))
        assert base(workdir) == base(ref.workdir)
        # Both reload their rewrite (nodes are rebuilt with the current node size; an XCLAIM of a deleted
        # entry drops it from the PEL on both): the same streams.
        probes = [("XRANGE", "s", "-", "+"), ("XINFO", "GROUPS", "s"), ("XPENDING", "s", "g1"), ("XPENDING", "s", "g2"),
                  ("XINFO", "STREAM", "s"), ("XLEN", "empty"), ("XINFO", "GROUPS", "empty"), ("XINFO", "STREAM", "empty")]
        lunar.stop()
        ref.stop()
        lunar = start_lunar("--appendonly", "yes", "--aof-use-rdb-preamble", "no", workdir=workdir)
        ref = start_redis("--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--dir", ref.workdir)
        a, b = Conn(lunar.port), Conn(ref.port)
        for p in probes:
            assert a.call(*p) == b.call(*p), p
    finally:
        lunar.stop()
        ref.stop()


# MARK: blocking

def test_xread_block_woken_by_xadd(r, lunar_server):
    r.xadd("s", {"a": "1"}, id="1-0")
    out = {}

    def reader():
        c = redis.Redis(port=lunar_server.port, socket_timeout=10)
        out["v"] = c.xread({"s": "$"}, block=5000)
    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    r.xadd("s", {"b": "2"}, id="2-0")
    t.join()
    assert out["v"] == [[b"s", [(b"2-0", {b"b": b"2"})]]]
    assert r.xread({"s": "$"}, block=50) == []


def test_xreadgroup_block_and_group_destroyed(r, lunar_server):
    r.xgroup_create("s", "g", id="$", mkstream=True)
    out = {}

    def reader(name):
        c = redis.Redis(port=lunar_server.port, socket_timeout=10)
        try:
            out[name] = c.xreadgroup("g", name, {"s": ">"}, block=5000)
        except redis.ResponseError as e:
            out[name] = str(e)
    t = threading.Thread(target=reader, args=("c1",))
    t.start()
    time.sleep(0.2)
    r.xadd("s", {"a": "1"}, id="5-0")
    t.join()
    assert out["c1"] == [[b"s", [(b"5-0", {b"a": b"1"})]]]
    assert r.xpending("s", "g")["pending"] == 1
    t = threading.Thread(target=reader, args=("c2",))
    t.start()
    time.sleep(0.2)
    r.xgroup_destroy("s", "g")
    t.join()
    assert out["c2"] == "NOGROUP the consumer group this client was blocked on no longer exists"


def test_blocking_behaviour_matches_redis(lunar_server, redis_server):
    """Timeouts, MULTI (no blocking), errors and a deleted key, compared on the wire."""
    res = []
    for port in (lunar_server.port, redis_server.port):
        c = Conn(port)
        c.call("FLUSHALL")
        got = [c.call("XREAD", "BLOCK", "50", "STREAMS", "s", "$")]
        c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        got.append(c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">"))
        c.call("MULTI")
        c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        got.append(c.call("EXEC"))
        got.append(c.call("EVAL", "return redis.call('XREAD','BLOCK','0','STREAMS','s','$')", "0"))
        c2 = Conn(port)
        c2.send_raw(Conn.encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]))
        time.sleep(0.2)
        c.call("DEL", "s")
        c.call("XADD", "s", "1-0", "a", "b")
        c2.sock.settimeout(2) if hasattr(c2, "sock") else None
        try:
            got.append(c2.read())
        except Exception as e:  # still blocked
            got.append(("blocked", type(e).__name__))
        c2.close()
        res.append(got)
    assert res[0] == res[1]


@pytest.mark.parametrize("disrupt", [["FLUSHALL"], ["FLUSHDB"], ["SET", "s", "x"], ["SWAPDB", "0", "1"],
                                     ["RENAME", "s", "t"], ["UNLINK", "s"], ["PEXPIRE", "s", "1"],
                                     ["XGROUP", "DESTROY", "s", "g"], ["XADD", "s", "5-0", "a", "b"]])
def test_blocked_xreadgroup_when_the_stream_changes(lunar_server, redis_server, disrupt):
    res = []
    for port in (lunar_server.port, redis_server.port):
        c = Conn(port)
        c.call("FLUSHALL")
        c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        c2 = Conn(port)
        c2.send_raw(Conn.encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "1500", "STREAMS", "s", ">"]))
        time.sleep(0.15)
        first = c.call(*disrupt)
        t0 = time.time()
        got = c2.read()
        res.append((first, got, time.time() - t0 < 1.0))
        c2.close()
        c.call("FLUSHALL")
        c.close()
    assert res[0] == res[1]


def test_generated_ids_and_served_blocked_reads_propagate_as_redis(workdir):
    """XADD * travels with the ID it generated; an XREADGROUP served after blocking travels as the
    XCLAIMs Redis sends (compared with redis-server's AOF, IDs and times normalized)."""
    lunar = start_lunar("--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    ref = start_redis("--appendonly", "yes", "--appendfsync", "always")
    try:
        replies = []
        for srv in (lunar, ref):
            c = Conn(srv.port)
            got = [c.call("XADD", "s", "*", "f", "v")[1]]
            c.call("XGROUP", "CREATE", "s", "g", "$")
            c2 = Conn(srv.port)
            c2.send_raw(Conn.encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]))
            c3 = Conn(srv.port)
            c3.send_raw(Conn.encode(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
            time.sleep(0.2)
            c.call("XADD", "s", "99999999999999-1", "a", "b")
            got.append(c2.read())
            got.append(c3.read())
            replies.append(got)
        assert replies[0][1:] == replies[1][1:]
        time.sleep(0.3)
        mine = normalize_aof(incr_aof(workdir))
        assert ["XADD", "s", replies[0][0].decode(), "f", "v"] in [[x if i != 0 else x.upper() for i, x in enumerate(c)] for c in mine]

        def norm(cmds):
            return [[re.sub(r"^\d{13}-0$", "<id>", a) for a in c] for c in cmds]
        assert norm(mine) == norm(normalize_aof(incr_aof(ref.workdir)))
    finally:
        lunar.stop()
        ref.stop()


def test_lunar_replays_its_own_aof_with_rewritten_trims(workdir):
    """`~ … LIMIT` propagates as `= <reached> LIMIT n`, which only the AOF loader (and a master's
    link) may run: Lunar reloads it to the same stream."""
    lunar = start_lunar("--appendonly", "yes", "--appendfsync", "always", workdir=workdir)
    try:
        c = Conn(lunar.port)
        c.call("CONFIG", "SET", "stream-node-max-entries", "3")
        for i in range(1, 30):
            c.call("XADD", "s", f"{i}-0", "f", "v")
        assert c.call("XADD", "s", "MAXLEN", "~", "2", "LIMIT", "6", "40-0", "a", "b")[0] == "bulk"
        assert c.call("XTRIM", "s", "MINID", "~", "25", "LIMIT", "3") == ("int", 3)
        assert c.call("XADD", "s", "MAXLEN", "=", "5", "LIMIT", "3", "41-0", "a", "b")[0] == "err"
        want = c.call("XRANGE", "s", "-", "+")
        lunar.stop()
        lunar = start_lunar("--appendonly", "yes", workdir=workdir)
        assert Conn(lunar.port).call("XRANGE", "s", "-", "+") == want
    finally:
        lunar.stop()


BLOCK_SCENARIOS = {
    "two-streams-one-fed": (
        [["XADD", "a", "1-0", "f", "v"], ["XADD", "b", "1-0", "f", "v"]],
        ["XREAD", "BLOCK", "2000", "STREAMS", "a", "b", "$", "$"],
        [["XADD", "b", "2-0", "g", "w"]]),
    "count-limits-the-served-entries": (
        [["XADD", "a", "1-0", "f", "v"]],
        ["XREAD", "COUNT", "1", "BLOCK", "2000", "STREAMS", "a", "$"],
        [["MULTI"], ["XADD", "a", "2-0", "f", "v"], ["XADD", "a", "3-0", "f", "v"], ["EXEC"]]),
    "added-then-deleted-still-serves-nothing": (
        [["XADD", "a", "1-0", "f", "v"]],
        ["XREAD", "BLOCK", "300", "STREAMS", "a", "$"],
        [["MULTI"], ["XADD", "a", "2-0", "f", "v"], ["XDEL", "a", "2-0"], ["EXEC"]]),
    "id-in-the-past-is-served-at-once": (
        [["XADD", "a", "5-0", "f", "v"]],
        ["XREAD", "BLOCK", "2000", "STREAMS", "a", "1-0"],
        []),
    "timeout": (
        [],
        ["XREAD", "BLOCK", "100", "STREAMS", "a", "$"],
        []),
    "group-served-when-fed": (
        [["XGROUP", "CREATE", "a", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "2000", "STREAMS", "a", ">"],
        [["XADD", "a", "7-0", "f", "v"], ["XPENDING", "a", "g"], ["XINFO", "GROUPS", "a"]]),
    "group-noack": (
        [["XGROUP", "CREATE", "a", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "2000", "STREAMS", "a", ">"],
        [["XADD", "a", "7-0", "f", "v"], ["XPENDING", "a", "g"]]),
    "group-setid-back": (
        [["XADD", "a", "1-0", "f", "v"], ["XGROUP", "CREATE", "a", "g", "$"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "2000", "STREAMS", "a", ">"],
        [["XGROUP", "SETID", "a", "g", "0"], ["XADD", "a", "2-0", "f", "v"]]),
    "client-unblock": (
        [],
        ["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
        [["CLIENT", "UNBLOCK", "<id>"]]),
    "client-unblock-error": (
        [],
        ["XREAD", "BLOCK", "0", "STREAMS", "a", "$"],
        [["CLIENT", "UNBLOCK", "<id>", "ERROR"]]),
}


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("name", sorted(BLOCK_SCENARIOS))
def test_blocking_scenarios_match_redis(lunar_server, redis_server, name, resp):
    setup, blocked, then = BLOCK_SCENARIOS[name]
    res = []
    for port in (lunar_server.port, redis_server.port):
        c = Conn(port)
        c.call("FLUSHALL")
        for cmd in setup:
            c.call(*cmd)
        b = Conn(port)
        if resp == 3:
            b.call("HELLO", "3")
        bid = b.call("CLIENT", "ID")[1]
        b.send_raw(Conn.encode(blocked))
        time.sleep(0.15)
        out = [c.call(*[str(bid) if a == "<id>" else a for a in cmd]) for cmd in then]
        reply = b.read()
        res.append((out, reply, b.call("PING")))
        b.close()
        c.close()
    assert res[0] == res[1]


@pytest.mark.parametrize("seed", range(3))
def test_generated_streams_cross_load_rdb(workdir, seed):
    """The differential family's streams (tombstones, groups, PELs, consumers) saved by Lunar load in
    redis-server identically (XINFO STREAM FULL, times included), and Redis's file loads back in Lunar."""
    import sys
    sys.path.insert(0, os.path.join(HERE, "..", "differential"))
    from families import streams as family
    rng = random.Random(seed)
    lunar = start_lunar(workdir=workdir)
    ref = None
    try:
        c = Conn(lunar.port)
        gen = family.generate(rng)
        for _ in range(1500):
            c.call(*next(gen).args)
        keys = [k for k in family.STREAMS + [family.AUTO] if c.call("TYPE", k) == ("simple", b"stream")]
        assert keys
        want = {k: full_info(c, k) for k in keys}
        assert c.call("SAVE") == ("simple", b"OK")
        refdir = tempfile.mkdtemp(prefix="redis-streams-")
        shutil.copy(os.path.join(workdir, "dump.rdb"), os.path.join(refdir, "dump.rdb"))
        ref = start_redis("--dir", refdir)
        rc = Conn(ref.port)
        assert {k: full_info(rc, k) for k in keys} == want
        assert rc.call("SAVE") == ("simple", b"OK")
        lunar.stop()
        shutil.copy(os.path.join(refdir, "dump.rdb"), os.path.join(workdir, "dump.rdb"))
        lunar = start_lunar(workdir=workdir)
        assert {k: full_info(Conn(lunar.port), k) for k in keys} == want
    finally:
        lunar.stop()
        if ref:
            ref.stop()
