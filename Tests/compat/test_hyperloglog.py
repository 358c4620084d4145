"""HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) compared with redis-server 7.0.

An HLL is a string in Redis's byte layout, so beyond the replies the values themselves are compared:
GET must answer the same bytes on both servers after the same commands (sparse opcodes, the point
where the value turns dense, the cached cardinality in the header). Replies are compared on the wire.
"""
import os
import random
import tempfile
import time

import pytest

from support import aof
from support.resp import Conn
from support.servers import start_lunar, start_redis


@pytest.fixture
def both(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    yield a, b
    for c in (a, b):
        c.call("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
        c.close()


def same(both, *args):
    a, b = both
    x, y = a.call(*args), b.call(*args)
    assert x == y, f"{args}: lunar {x!r} != redis {y!r}"
    return x


def same_value(both, key):
    """The key's bytes (GET) are identical on both servers."""
    return same(both, "GET", key)


def elements(rng, n, space=10 ** 6):
    return [str(rng.randrange(space)) for _ in range(n)]


def test_empty_pfadd_creates_a_sparse_hll(both):
    assert same(both, "PFADD", "h") == ("int", 1)
    v = same_value(both, "h")
    assert v[1][:4] == b"HYLL" and len(v[1]) == 18
    assert same(both, "PFADD", "h") == ("int", 0)
    same(both, "PFCOUNT", "h")
    same_value(both, "h")
    same(both, "PFDEBUG", "ENCODING", "h")
    same(both, "PFDEBUG", "DECODE", "h")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sparse_max", ["3000", "0", "200", "12000"])
def test_generated_pfadds_give_identical_bytes(both, seed, sparse_max):
    """Random batches of PFADD (with PFCOUNT now and then, which rewrites the cached cardinality):
    replies and the value's bytes agree after every command, across the sparse-to-dense promotion."""
    rng = random.Random(seed)
    for c in both:
        c.call("CONFIG", "SET", "hll-sparse-max-bytes", sparse_max)
    was_sparse = True
    for step in range(500):
        batch = elements(rng, rng.choice([0, 1, 1, 2, 5, 20]), space=rng.choice([50, 10 ** 6]))
        same(both, "PFADD", "h", *batch)
        if rng.random() < 0.2:
            same(both, "PFCOUNT", "h")
        v = same_value(both, "h")
        if step % 50 == 0:
            same(both, "PFDEBUG", "ENCODING", "h")
        if was_sparse and v[1][4] == 0:
            was_sparse = False
            same(both, "PFDEBUG", "GETREG", "h")
    same(both, "PFCOUNT", "h")
    same_value(both, "h")


def test_promotion_point_matches(both):
    """Elements one at a time until the value turns dense: the last sparse size and the step of the
    promotion are the same on both servers."""
    rng = random.Random(11)
    a, b = both
    for i in range(4000):
        e = str(rng.random())
        same(both, "PFADD", "p", e)
        v = same_value(both, "p")[1]
        if v[4] == 0:
            assert len(v) == 12304
            break
        assert len(v) <= 3000
    else:
        pytest.fail("never turned dense")
    same(both, "PFDEBUG", "ENCODING", "p")


def crafted_sparse(rng, budget=600):
    """A valid sparse HLL written opcode by opcode, not necessarily as Redis would have (runs of equal
    VALs left unmerged, ZEROs where an XZERO would do, small values so neighbours are often equal)."""
    out = bytearray(b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80")
    left = 16384
    while left > 0:
        r = rng.random()
        if len(out) > budget or r < 0.05:
            n = min(left, rng.randint(1, 16384))
            out += bytes([0x40 | (n - 1) >> 8, (n - 1) & 0xff])
        elif r < 0.4:
            n = min(left, rng.randint(1, 64))
            out.append(n - 1)
        else:
            n = min(left, rng.randint(1, 4))
            out.append(0x80 | (rng.choice([1, 1, 2, 3, rng.randint(1, 32)]) - 1) << 2 | (n - 1))
        left -= n
    return bytes(out)


@pytest.mark.parametrize("seed", range(6))
def test_sparse_edits_of_crafted_values(both, seed):
    """PFMERGE writes chosen values into chosen registers of a sparse destination, so every split and
    merge of opcodes (including Redis's five-opcode merge window over unmerged runs) is exercised."""
    rng = random.Random(seed)
    for c in both:
        c.call("CONFIG", "SET", "hll-sparse-max-bytes", rng.choice(["3000", "1000", "700"]))
    for round_ in range(40):
        same(both, "SET", "dst", crafted_sparse(rng))
        same(both, "SET", "src", crafted_sparse(rng, budget=rng.choice([20, 100, 400])))
        if rng.random() < 0.5:
            same(both, "PFMERGE", "dst", "src")
        else:
            same(both, "PFADD", "dst", *elements(rng, rng.randint(1, 40), space=300))
        same_value(both, "dst")
        same(both, "PFCOUNT", "dst", "src")


def test_pfcount_of_several_keys_and_missing_ones(both):
    rng = random.Random(3)
    same(both, "PFADD", "a", *elements(rng, 100))
    same(both, "PFADD", "b", *elements(rng, 5000))
    same(both, "PFADD", "c", *elements(rng, 10))
    for keys in (["a", "b"], ["a", "c"], ["a", "nokey"], ["nokey", "nokey2"], ["a", "a"], ["a", "b", "c"]):
        same(both, "PFCOUNT", *keys)
    # Several keys use a scratch copy: the cached cardinalities stay stale.
    for k in "abc":
        same_value(both, k)
    same(both, "PFCOUNT", "nokey")


@pytest.mark.parametrize("seed", range(3))
def test_pfmerge_generated(both, seed):
    """Merges of sparse and dense sources into new and existing destinations (which count as a source)."""
    rng = random.Random(seed)
    keys = ["m1", "m2", "m3", "m4"]
    for step in range(60):
        op = rng.random()
        if op < 0.5:
            k = rng.choice(keys)
            same(both, "PFADD", k, *elements(rng, rng.choice([1, 10, 300, 3000])))
        elif op < 0.9:
            dest = rng.choice(keys + ["d"])
            srcs = rng.sample(keys + ["none"], rng.randrange(0, 4))
            same(both, "PFMERGE", dest, *srcs)
            same_value(both, dest)
            same(both, "PFCOUNT", dest)
        else:
            same(both, "DEL", rng.choice(keys + ["d"]))
        for k in keys:
            same_value(both, k)


def test_pfmerge_without_sources(both):
    same(both, "PFMERGE", "d")
    same_value(both, "d")
    same(both, "PFADD", "s", "a", "b")
    same(both, "PFMERGE", "s")
    same_value(both, "s")


def test_errors(both):
    same(both, "RPUSH", "list", "x")
    same(both, "SET", "str", "hello")
    same(both, "SET", "int", "12345")
    same(both, "SET", "magic", "HYLL")
    same(both, "SET", "badenc", b"HYLL\x02" + b"\x00" * 20)
    same(both, "SET", "shortdense", b"HYLL\x00" + b"\x00" * 100)
    for key in ("list", "str", "int", "magic", "badenc", "shortdense"):
        same(both, "PFADD", key, "a")
        same(both, "PFCOUNT", key)
        same(both, "PFCOUNT", "nokey", key)
        same(both, "PFMERGE", "d", key)
        same(both, "PFMERGE", key, "nokey")
        same(both, "PFDEBUG", "GETREG", key)
    assert same(both, "EXISTS", "d") == ("int", 0)
    for args in (["PFADD"], ["PFCOUNT"], ["PFMERGE"], ["PFDEBUG", "GETREG"], ["PFDEBUG", "GETREG", "k", "x"],
                 ["PFSELFTEST", "x"]):
        same(both, *args)


def test_corrupted_sparse_values(both):
    """Sparse opcodes that do not cover 16384 registers: INVALIDOBJ where Redis detects it."""
    same(both, "PFADD", "h", "a", "b", "c")
    good = same_value(both, "h")[1]
    variants = {
        "short": good[:16] + bytes([0x7f, 0xfe]),              # XZERO of 16383 registers only
        "long": good[:16] + bytes([0x7f, 0xff, 0x00]),          # one register too many
        "vals": good[:16] + bytes([0xff]) * 5000,               # VALs past the end
        "trunc": good[:16] + bytes([0x40]),                     # XZERO cut in half
        "nothing": good[:16],
    }
    for name, raw in variants.items():
        for key, stale in ((name, True), (name + "-cached", False)):
            hdr = bytearray(raw)
            if stale:
                hdr[15] |= 0x80
            same(both, "SET", key, bytes(hdr))
            same(both, "PFCOUNT", key)
            same(both, "PFCOUNT", key, "h")
            same(both, "PFADD", key, "x", "y", "z")
            same_value(both, key)
            same(both, "PFDEBUG", "DECODE", key)
            same(both, "PFMERGE", "dest-" + name, key)
            same(both, "PFDEBUG", "TODENSE", key)
            same_value(both, key)


def test_hand_made_dense_values(both):
    """Dense values built with SET: registers of any 6-bit value (past the estimator's range too)."""
    rng = random.Random(5)
    same(both, "PFADD", "h", "a")
    hdr = bytearray(same_value(both, "h")[1][:16])
    hdr[4] = 0
    hdr[15] |= 0x80
    for name, body in (("ones", b"\xff" * 12288), ("zero", b"\x00" * 12288),
                       ("rand", bytes(rng.randrange(256) for _ in range(12288))),
                       ("low", bytes(rng.choice([0, 0x41, 0x82, 3]) for _ in range(12288)))):
        same(both, "SET", name, bytes(hdr) + body)
        same(both, "PFCOUNT", name)
        same_value(both, name)
        same(both, "PFCOUNT", name, "h")
        same(both, "PFADD", name, "q", "r")
        same(both, "PFMERGE", "m-" + name, name, "h")
        same_value(both, "m-" + name)
        same(both, "PFDEBUG", "GETREG", name)


def test_pfdebug(both):
    rng = random.Random(9)
    same(both, "PFADD", "h", *elements(rng, 40))
    same(both, "PFDEBUG", "DECODE", "h")
    same(both, "PFDEBUG", "encoding", "h")
    same(both, "PFDEBUG", "nosuch", "h")
    same(both, "PFDEBUG", "nosuch", "missing")
    same(both, "PFDEBUG", "GETREG", "missing")
    same(both, "PFDEBUG", "TODENSE", "h")
    same_value(both, "h")
    same(both, "PFDEBUG", "TODENSE", "h")
    same(both, "PFDEBUG", "DECODE", "h")
    same(both, "PFDEBUG", "ENCODING", "h")
    same(both, "PFADD", "g", *elements(rng, 40))
    same(both, "PFDEBUG", "GETREG", "g")
    same_value(both, "g")


def test_pfselftest(both):
    assert same(both, "PFSELFTEST") == ("simple", b"OK")


def test_config_hll_sparse_max_bytes(both):
    same(both, "CONFIG", "GET", "hll-sparse-max-bytes")
    for v in ("1kb", "0", "-1", "abc", "3000"):
        same(both, "CONFIG", "SET", "hll-sparse-max-bytes", v)
        same(both, "CONFIG", "GET", "hll-sparse-max-bytes")


def test_dump_restore_between_servers(both):
    a, b = both
    rng = random.Random(4)
    same(both, "PFADD", "s", *elements(rng, 50))
    same(both, "PFADD", "d", *elements(rng, 5000))
    for k in ("s", "d"):
        # (The payloads themselves may differ: LZF output is not unique. What matters is that each
        # server restores the other's payload to the same bytes.)
        for src, dst in ((a, b), (b, a)):
            payload = src.call("DUMP", k)[1]
            assert dst.call("RESTORE", k + "-copy", 0, payload, "REPLACE") == ("simple", b"OK")
        same_value(both, k + "-copy")
        same(both, "PFCOUNT", k + "-copy")
        same(both, "PFADD", k + "-copy", "more", "elements")
        same_value(both, k + "-copy")


def test_debug_reload_keeps_values(both):
    """Through an RDB round trip (DEBUG RELOAD) the values stay the same bytes and keep working."""
    rng = random.Random(8)
    same(both, "PFADD", "s", *elements(rng, 30))
    same(both, "PFADD", "d", *elements(rng, 4000))
    same(both, "PFCOUNT", "d")
    for c in both:
        assert c.call("DEBUG", "RELOAD") == ("simple", b"OK")
    for k in ("s", "d"):
        same_value(both, k)
        same(both, "PFADD", k, "after", "reload")
        same(both, "PFCOUNT", k)
        same_value(both, k)


def test_pfcount_stale_cache_touches_watch(both):
    """Refreshing the cached cardinality modifies the key: a WATCHing transaction fails, as in Redis;
    a PFCOUNT answered from a fresh cache does not."""
    a, b = both
    results = []
    for c in (a, b):
        port = c.sock.getpeername()[1]
        c.call("PFADD", "w", "a", "b")
        for _ in range(2):
            c.call("WATCH", "w")
            other = Conn(port)
            other.call("PFCOUNT", "w")
            other.close()
            c.call("MULTI")
            c.call("PING")
            results.append(c.call("EXEC"))
    assert results[:2] == results[2:]
    assert results[0] == ("nullarray",) and results[1][0] == "array"


# MARK: propagation (the append-only file of each server)

def test_propagation_matches_redis():
    """PFADD / PFMERGE as sent, PFCOUNT when it refreshed the cache, PFDEBUG when it changed the
    encoding, nothing for commands that changed nothing: the same AOF commands as Redis writes."""
    lw = tempfile.mkdtemp(prefix="lunar-hll-aof-")
    servers = [start_lunar("--appendonly", "yes", "--appendfsync", "always", workdir=lw),
               start_redis("--appendonly", "yes", "--appendfsync", "always")]
    try:
        conns = [Conn(s.port) for s in servers]
        script = [
            ["PFADD", "h", "a", "b"], ["PFADD", "h", "a"], ["PFADD", "h"], ["PFCOUNT", "h"], ["PFCOUNT", "h"],
            ["PFADD", "e"], ["PFCOUNT", "h", "e"], ["PFMERGE", "m", "h", "e"], ["PFMERGE", "m"],
            ["PFCOUNT", "m"], ["PFDEBUG", "ENCODING", "m"], ["PFDEBUG", "DECODE", "m"],
            ["PFDEBUG", "GETREG", "m"], ["PFDEBUG", "GETREG", "m"], ["PFDEBUG", "TODENSE", "h"],
            ["PFDEBUG", "TODENSE", "h"], ["SET", "s", "x"], ["PFADD", "s", "a"], ["PFCOUNT", "nokey"],
            ["MULTI"], ["PFADD", "t", "1"], ["PFCOUNT", "t"], ["EXEC"],
            ["EVAL", "redis.call('pfadd', KEYS[1], 'z'); return redis.call('pfcount', KEYS[1])", "1", "u"],
        ]
        for cmd in script:
            x, y = conns[0].call(*cmd), conns[1].call(*cmd)
            assert x == y, (cmd, x, y)
        for c in conns:
            aof.wait_written(c)
            c.close()
        lunar_aof = aof.incr_commands(lw)
        redis_aof = aof.incr_commands(servers[1].workdir)
        assert lunar_aof == redis_aof
        assert [b"PFCOUNT", b"h"] in [[x.upper() if i == 0 else x for i, x in enumerate(c)] for c in lunar_aof]
    finally:
        for s in servers:
            s.stop()
