"""DUMP and RESTORE against redis-server 7.0: payloads of every type and encoding restore in the other
server (and are byte-identical where both encode the same way), RESTORE's options, TTL rules and errors."""
import random
import time

import pytest
import redis

from support.dataset import keyspace
from support.resp import Conn, same_replies
from support.servers import start_lunar, start_redis


@pytest.fixture
def both():
    lunar, ref = start_lunar(), start_redis()
    try:
        yield redis.Redis(port=lunar.port), redis.Redis(port=ref.port), lunar, ref
    finally:
        lunar.stop()
        ref.stop()


def fill(c, seed=3):
    """Every type, small (listpack/intset) and large encodings, integers, binary and long strings."""
    rng = random.Random(seed)
    p = c.pipeline(transaction=False)
    for i, v in enumerate([0, -1, 127, 32768, 2**31, -2**63, "007", "1.5", "", bytes(range(256))]):
        p.set(f"str:{i}", v)
    p.set("str:long", b"abcd" * 3000)
    p.set("str:random", bytes(rng.getrandbits(8) for _ in range(3000)))
    p.rpush("list:small", "a", 1, -2)
    p.rpush("list:big", *[("v" * rng.randint(1, 300)) if i % 3 else i for i in range(3000)])
    p.sadd("set:int", *range(-50, 50))
    p.sadd("set:big", *[f"m{i}" for i in range(600)])
    p.sadd("set:mixed", "a", 1, b"\x00")
    p.hset("hash:small", mapping={"a": 1, "b": "two"})
    p.hset("hash:big", mapping={f"f{i}": "x" * (i % 90) for i in range(700)})
    p.zadd("zset:small", {"a": 1, "b": -2.5, "c": float("inf")})
    p.zadd("zset:big", {f"m{i}": rng.uniform(-1e9, 1e9) for i in range(300)})
    p.zadd("zset:longmember", {"x" * 100: 1})
    p.execute()


def test_payloads_restore_in_the_other_server(both):
    lc, rc, lunar, ref = both
    fill(lc)
    fill(rc)
    keys = sorted(rc.keys("*"))
    assert len(keys) >= 20
    identical = 0
    for k in keys:
        lp, rp = lc.dump(k), rc.dump(k)
        identical += lp == rp
        # Each server's payload restores in the other under a new name, with the same value.
        assert rc.restore(b"from-lunar:" + k, 0, lp) == b"OK"
        assert lc.restore(b"from-redis:" + k, 0, rp) == b"OK"
    want_l, want_r = keyspace(lunar.port), keyspace(ref.port)
    for k in keys:
        assert want_l[(0, b"from-redis:" + k)] == want_l[(0, k)], k
        assert want_r[(0, b"from-lunar:" + k)] == want_r[(0, k)], k
    # Most encodings are Redis's own, byte for byte (listpacks, intsets, integers, LZF-free strings).
    assert identical >= len(keys) // 2, (identical, len(keys))


def test_dump_of_a_missing_key_and_restore_errors_match_redis(both):
    lc, rc, lunar, ref = both
    for c in (lc, rc):
        c.rpush("l", "a", "b")
    good = rc.dump("l")
    assert good == lc.dump("l")
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    newer = good[:-10] + bytes([11, 0]) + good[-8:]   # a version this server does not read (checksum not fixed)
    a, b = Conn(lunar.port), Conn(ref.port)
    same_replies((a, b),
                 ["DUMP", "nosuchkey"], ["DUMP"], ["RESTORE", "k", "0"],
                 ["RESTORE", "k", "x", good], ["RESTORE", "k", "-1", good], ["RESTORE", "k", "1.5", good],
                 ["RESTORE", "l", "0", good], ["RESTORE", "k", "0", bad_crc], ["RESTORE", "k", "0", newer],
                 ["RESTORE", "k", "0", b"short"], ["RESTORE", "k", "0", b""],
                 ["RESTORE", "k", "0", good, "FREQ", "256"], ["RESTORE", "k", "0", good, "FREQ", "-1"],
                 ["RESTORE", "k", "0", good, "IDLETIME", "-1"], ["RESTORE", "k", "0", good, "IDLETIME", "x"],
                 ["RESTORE", "k", "0", good, "IDLETIME", "1", "FREQ", "2"], ["RESTORE", "k", "0", good, "FREQ"],
                 ["RESTORE", "k", "0", good, "BOGUS"], ["RESTORE", "l", "0", good, "REPLACE"],
                 ["RESTORE", "k", "0", good, "REPLACE", "ABSTTL", "IDLETIME", "5"], ["LRANGE", "k", "0", "-1"],
                 ["SET", "str", "v"], ["RESTORE", "str", "0", good, "REPLACE"], ["TYPE", "str"])
    a.close()
    b.close()


def test_restore_ttl_rules_match_redis(both):
    lc, rc, lunar, ref = both
    for c in (lc, rc):
        c.set("s", "v")
        payload = c.dump("s")
        now = int(time.time() * 1000)
        assert c.restore("rel", 100_000, payload) == b"OK"
        assert 95_000 < c.pttl("rel") <= 100_000
        assert c.restore("abs", now + 200_000, payload, absttl=True) == b"OK"
        assert 195_000 < c.pttl("abs") <= 200_000
        # An absolute time already past creates nothing; with REPLACE the old key goes too.
        assert c.restore("gone", now - 1000, payload, absttl=True) == b"OK"
        assert c.exists("gone") == 0
        c.set("old", "x")
        assert c.restore("old", now - 1000, payload, absttl=True, replace=True) == b"OK"
        assert c.exists("old") == 0
        # IDLETIME sets the access clock (LRU policies); FREQ the counter (LFU policies).
        assert c.restore("idle", 0, payload, idletime=5000) == b"OK"
        assert c.object("idletime", "idle") >= 5000
        c.config_set("maxmemory-policy", "allkeys-lfu")
        assert c.restore("freq", 0, payload, frequency=77) == b"OK"
        assert c.object("freq", "freq") == 77
        c.config_set("maxmemory-policy", "noeviction")
