"""Set commands compared against redis-server 7.0: every command, option and error.

Replies are compared on the wire (reply types included). Where Redis's order is deterministic
(intset encoding: ascending integers) the order must match too; hashtable replies are compared as
multisets, and random commands by their properties.
"""
import random

import pytest

from support.churn import churn
from support.resp import Conn


@pytest.fixture
def both(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
    yield a, b
    a.close()
    b.close()


def _split(line):
    return line.split() if isinstance(line, str) else list(line)


def _unordered(reply):
    if reply[0] in ("array", "set"):
        return (reply[0], sorted((_unordered(x) for x in reply[1]), key=repr))
    return reply


def same(both, *lines, unordered=False):
    """Runs each command on both servers; replies must be equal (as multisets if unordered)."""
    a, b = both
    out = []
    for line in lines:
        args = _split(line)
        x, y = a.call(*args), b.call(*args)
        if unordered:
            x, y = _unordered(x), _unordered(y)
        assert x == y, f"{args}: lunar {x!r} != redis {y!r}"
        out.append(x)
    return out[-1] if len(lines) == 1 else out


def members(conn, key):
    r = conn.call("SMEMBERS", key)
    return [m[1] for m in r[1]]


def encoding_or_skip(conn, key):
    r = conn.call("OBJECT", "ENCODING", key)
    if r[0] == "err" and b"unknown command" in r[1]:
        pytest.skip("OBJECT not implemented in this build")
    return r


def config_set_or_skip(conn, name, value):
    r = conn.call("CONFIG", "SET", name, value)
    if r[0] == "err" and b"unknown command" in r[1]:
        pytest.skip("CONFIG not implemented in this build")
    assert r == ("simple", b"OK")


# --- Basic commands ----------------------------------------------------------------------------

def test_sadd_srem_scard_sismember(both):
    same(both,
         "SADD s 5 3 1 -2 10", "SADD s 3 3 4", "SCARD s", "SISMEMBER s 3", "SISMEMBER s 7",
         "SISMEMBER nokey 1", "SCARD nokey", "SMEMBERS s", "SREM s 3 99 3", "SREM nokey a",
         "SMEMBERS s", "SREM s -2 1 4 5 10", "SMEMBERS s", "SCARD s", "SADD s x", "SREM s x", "SMEMBERS s",
         "SADD str2 a", "SREM str2 a b")
    # the emptied set is gone: the key can now hold another type
    same(both, "HSET s f v")


def test_smismember(both):
    same(both, "SADD s a b 1", "SMISMEMBER s a x 1 b", "SMISMEMBER nokey a b", "SMISMEMBER s a")


def test_intset_order_is_ascending(both):
    a, b = both
    nums = random.Random(7).sample(range(-10 ** 12, 10 ** 12), 300)
    for chunk in range(0, 300, 50):
        same(both, ["SADD", "s"] + [str(n) for n in nums[chunk:chunk + 50]])
    got = same(both, "SMEMBERS s")
    assert [int(m[1]) for m in got[1]] == sorted(nums)
    same(both, "SMEMBERS s", "SSCAN s 0", "SSCAN s 0 COUNT 1", "SSCAN s 0 MATCH *7", "SRANDMEMBER s 1000",
         "SUNION s", "SINTER s s", "SDIFF s nokey")


def test_non_canonical_integers_are_strings(both):
    same(both, ["SADD", "s", "0", "-0", "00", "1", "+1", " 1", "1 ",
                "9223372036854775807", "-9223372036854775808", "9223372036854775808"])
    same(both, "SMEMBERS s", unordered=True)
    same(both, "SISMEMBER s 1", "SISMEMBER s 01", "SISMEMBER s -0", "SCARD s")


def test_intset_to_hashtable_conversion(both):
    a, b = both
    same(both, "SADD s 3 1 2")
    assert encoding_or_skip(a, "s") == encoding_or_skip(b, "s") == ("bulk", b"intset")
    same(both, "SADD s x")
    assert encoding_or_skip(a, "s") == encoding_or_skip(b, "s") == ("bulk", b"hashtable")
    same(both, "SREM s x")
    same(both, "SMEMBERS s", unordered=True)  # conversion is one way: still a hashtable
    assert encoding_or_skip(a, "s") == ("bulk", b"hashtable")
    # first member decides the initial encoding
    same(both, "SADD t a 1")
    assert encoding_or_skip(a, "t") == encoding_or_skip(b, "t")
    # growing past set-max-intset-entries (512 by default)
    same(both, ["SADD", "big"] + [str(i) for i in range(512)])
    assert encoding_or_skip(a, "big") == encoding_or_skip(b, "big") == ("bulk", b"intset")
    same(both, "SADD big 512")
    assert encoding_or_skip(a, "big") == encoding_or_skip(b, "big") == ("bulk", b"hashtable")
    same(both, "SMEMBERS big", unordered=True)


def test_set_max_intset_entries_config(both):
    a, b = both
    try:
        for c in (a, b):
            config_set_or_skip(c, "set-max-intset-entries", "4")
        same(both, "SADD s 1 2 3 4")
        assert encoding_or_skip(a, "s") == encoding_or_skip(b, "s") == ("bulk", b"intset")
        same(both, "SADD s 5")
        assert encoding_or_skip(a, "s") == encoding_or_skip(b, "s") == ("bulk", b"hashtable")
        for c in (a, b):
            config_set_or_skip(c, "set-max-intset-entries", "0")
        same(both, "SADD z 1")
        assert encoding_or_skip(a, "z") == encoding_or_skip(b, "z") == ("bulk", b"hashtable")
    finally:
        for c in (a, b):
            c.call("CONFIG", "SET", "set-max-intset-entries", "512")


def test_store_results_take_redis_encodings(both):
    a, b = both
    same(both, "SADD i1 1 2 3 4", "SADD i2 3 4 5", "SADD h1 3 4 x", "SADD h2 x y")
    for cmd in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        for keys in (["i1", "i2"], ["h1", "i1"], ["i1", "h1"], ["h1", "h2"], ["h2", "h1"]):
            same(both, [cmd, "d"] + keys)
            same(both, "SMEMBERS d", unordered=True)
            assert encoding_or_skip(a, "d") == encoding_or_skip(b, "d"), (cmd, keys)


# --- Errors, arity, wrong types ------------------------------------------------------------------

ARITY = ["SADD s", "SADD", "SREM s", "SMEMBERS", "SMEMBERS a b", "SISMEMBER s", "SISMEMBER s a b",
         "SMISMEMBER s", "SCARD", "SCARD a b", "SPOP", "SRANDMEMBER", "SMOVE a b", "SMOVE a b c d",
         "SINTER", "SINTERCARD 1", "SINTERSTORE d", "SUNION", "SUNIONSTORE d", "SDIFF", "SDIFFSTORE d",
         "SSCAN s", "SPOP s 1 2", "SRANDMEMBER s 1 2"]


@pytest.mark.parametrize("line", ARITY)
def test_wrong_arity(both, line):
    same(both, "SADD s 1", line)


WRONGTYPE = ["SADD str a", "SREM str a", "SMEMBERS str", "SISMEMBER str a", "SMISMEMBER str a b", "SCARD str",
             "SPOP str", "SPOP str 2", "SPOP str 0", "SRANDMEMBER str", "SRANDMEMBER str 0", "SRANDMEMBER str -2",
             "SMOVE str s 1", "SMOVE s str 1", "SMOVE s str 99", "SMOVE nokey str 1", "SINTER s str",
             "SINTER nokey str", "SINTERCARD 2 s str", "SINTERCARD 2 nokey str", "SINTERSTORE d s str",
             "SINTERSTORE d nokey str", "SUNION s str", "SUNIONSTORE d str", "SDIFF str s", "SDIFF s str",
             "SDIFF nokey str", "SDIFFSTORE d s str", "SSCAN str 0", "SSCAN str x", "SSCAN str 0 COUNT 0"]


@pytest.mark.parametrize("line", WRONGTYPE)
def test_wrong_type(both, line):
    same(both, "SET str x", "SADD s 1 2 a", line)


ERRORS = ["SPOP s -1", "SPOP s abc", "SPOP s 1.5", "SPOP nokey -1", "SRANDMEMBER s abc",
          "SRANDMEMBER s -9223372036854775808", "SRANDMEMBER s 9223372036854775808", "SRANDMEMBER nokey x",
          "SINTERCARD 0 s", "SINTERCARD -1 s", "SINTERCARD x s", "SINTERCARD 2 s", "SINTERCARD 1 s LIMIT",
          "SINTERCARD 1 s LIMIT -1", "SINTERCARD 1 s LIMIT x", "SINTERCARD 1 s FOO 1", "SINTERCARD 1 s LIMIT 1 x",
          "SINTERCARD 1 s limit 0 LIMIT 1", "SSCAN s x", "SSCAN s 1x", "SSCAN s 18446744073709551616", "SSCAN s -",
          "SSCAN s 0 COUNT 0", "SSCAN s 0 COUNT -1", "SSCAN s 0 COUNT x", "SSCAN s 0 MATCH", "SSCAN s 0 TYPE set",
          "SSCAN s 0 FOO bar", "SSCAN nokey 0 COUNT 0", "SSCAN nokey x"]


@pytest.mark.parametrize("line", ERRORS)
def test_errors(both, line):
    same(both, "SADD s 1 2 3", line)


# --- Moving and algebra ---------------------------------------------------------------------------

def test_smove(both):
    same(both, "SADD a 1 2 x", "SADD b 3",
         "SMOVE a b 1", "SMOVE a b 99", "SMOVE nokey b 1", "SMOVE a a 2", "SMOVE a a 99",
         "SMOVE a c x", "SMEMBERS c", "SMOVE a c 2", "SMEMBERS a", "SMEMBERS b", "SMOVE b new 3", "SMEMBERS new",
         "SCARD b", "SCARD a", "SCARD c")
    same(both, "SMEMBERS c", unordered=True)


def test_algebra_intsets_exact_order(both):
    same(both, "SADD a 5 1 9 3 7", "SADD b 3 4 5 6 7", "SADD c 7 5 100",
         "SINTER a b", "SINTER a b c", "SINTER c b a", "SINTER a nokey", "SINTER a",
         "SUNION a b c", "SUNION nokey a", "SUNION nokey",
         "SDIFF a b", "SDIFF a c b", "SDIFF b a", "SDIFF nokey a", "SDIFF a nokey", "SDIFF a a",
         "SINTERCARD 2 a b", "SINTERCARD 3 a b c", "SINTERCARD 2 a nokey", "SINTERCARD 2 a b LIMIT 1",
         "SINTERCARD 2 a b LIMIT 0", "SINTERCARD 2 a b LIMIT 100", "SINTERCARD 1 a LIMIT 3")


def test_algebra_mixed_unordered(both):
    same(both, "SADD a x y z 1 2", "SADD b y z w 2 3", "SADD c z 2 q",
         "SINTER a b", "SINTER a b c", "SUNION a b c", "SDIFF a b", "SDIFF b a c", "SDIFF a b c",
         unordered=True)
    same(both, "SINTERCARD 3 a b c", "SINTERCARD 2 a b LIMIT 1")


def test_store_variants(both):
    same(both, "SADD a 1 2 3 x", "SADD b 2 3 4", "SET str v", "SADD d old",
         "SINTERSTORE d a b", "SMEMBERS d", "SUNIONSTORE d a b", "SCARD d", "SDIFFSTORE d a b", "SCARD d",
         "SINTERSTORE d a nokey", "SMEMBERS d", "SADD d q", "SDIFFSTORE d nokey a", "SMEMBERS d",
         "SUNIONSTORE str a", "SCARD str", "SUNIONSTORE a a b", "SCARD a", "SDIFFSTORE a a b", "SCARD a",
         "SINTERSTORE b b a", "SCARD b", "SMEMBERS b")
    same(both, "SMEMBERS a", unordered=True)


def test_store_clears_ttl(both):
    a, _ = both
    if a.call("EXPIRE", "x", "10")[0] == "err":
        pytest.skip("EXPIRE not implemented in this build")
    same(both, "SADD s 1 2", "SADD d 9", "EXPIRE d 100", "SUNIONSTORE d s", "TTL d")


def test_large_algebra(both):
    rng = random.Random(3)
    a = [str(rng.randrange(2000)) for _ in range(700)]
    b = [str(rng.randrange(2000)) for _ in range(700)] + ["m%d" % i for i in range(20)]
    c = [str(rng.randrange(2000)) for _ in range(300)]
    same(both, ["SADD", "a"] + a, ["SADD", "b"] + b, ["SADD", "c"] + c)
    same(both, "SINTER a b", "SINTER a b c", "SUNION a b c", "SDIFF a b", "SDIFF c a", "SDIFF b a c",
         "SMEMBERS a", unordered=True)
    same(both, "SINTERCARD 3 a b c", "SINTERSTORE d a c", "SUNIONSTORE d a c", "SDIFFSTORE d c b",
         "SINTERCARD 2 a b LIMIT 10")
    same(both, "SMEMBERS d", unordered=True)


# --- Random members -------------------------------------------------------------------------------

def test_srandmember_properties(both):
    a, b = both
    same(both, "SADD i 1 2 3 4 5 6 7 8 9 10", "SADD h a b c d e f g h i j",
         "SRANDMEMBER i 10", "SRANDMEMBER i 100", "SRANDMEMBER i 0", "SRANDMEMBER nokey 5",
         "SRANDMEMBER nokey -5", "SRANDMEMBER nokey", "SRANDMEMBER i -0")
    for key, universe in (("i", {str(i).encode() for i in range(1, 11)}), ("h", {c.encode() for c in "abcdefghij"})):
        for _ in range(20):
            for n in (1, 3, 5, 9):
                got = [m[1] for m in a.call("SRANDMEMBER", key, n)[1]]
                assert len(got) == n and len(set(got)) == n and set(got) <= universe
            got = [m[1] for m in a.call("SRANDMEMBER", key, -25)[1]]
            assert len(got) == 25 and set(got) <= universe
            single = a.call("SRANDMEMBER", key)
            assert single[0] == "bulk" and single[1] in universe
        assert a.call("SCARD", key) == ("int", 10)
    # big hashtable: both sampling strategies
    same(both, ["SADD", "big"] + ["m%d" % i for i in range(1000)])
    for n in (10, 400, 999):
        got = [m[1] for m in a.call("SRANDMEMBER", "big", n)[1]]
        assert len(set(got)) == n
    # repeats do show up when asking for many more than the set holds
    got = [m[1] for m in a.call("SRANDMEMBER", "i", -1000)[1]]
    assert len(got) == 1000 and len(set(got)) == 10


@pytest.mark.parametrize("kind", ["intset", "hashtable"])
def test_spop_properties(both, kind):
    a, b = both
    items = [str(i) for i in range(50)] if kind == "intset" else ["e%d" % i for i in range(50)]
    for count in (1, 5, 20, 45, 49, 50, 60):
        key = "s%d" % count
        a.call("SADD", key, *items)
        popped = [m[1] for m in a.call("SPOP", key, count)[1]]
        assert len(popped) == min(count, 50) and len(set(popped)) == len(popped)
        rest = set(members(a, key))
        assert rest | set(popped) == {x.encode() for x in items} and not (rest & set(popped))
        assert a.call("SCARD", key) == ("int", 50 - len(popped))
        if count >= 50:
            assert a.call("SET", key, "x") == ("simple", b"OK") and a.call("GET", key) == ("bulk", b"x")
        if kind == "intset" and count >= 50:
            assert popped == sorted(popped, key=int)  # the whole intset comes back in order
    a.call("SADD", "one", "x")
    assert a.call("SPOP", "one") == ("bulk", b"x")
    assert a.call("SPOP", "one") == ("nullbulk",)
    same(both, "SPOP nokey", "SPOP nokey 3", "SADD s 1", "SPOP s 0", "SCARD s")


def test_spop_keeps_ttl(both):
    a, _ = both
    if a.call("PTTL", "x")[0] == "err":
        pytest.skip("PTTL not implemented in this build")
    a.call("SADD", "s", *[str(i) for i in range(100)])
    a.call("EXPIRE", "s", "1000")
    a.call("SPOP", "s", 90)
    assert a.call("SCARD", "s") == ("int", 10)
    assert a.call("TTL", "s")[1] > 900


# --- SSCAN ----------------------------------------------------------------------------------------

def test_sscan_small_encodings_answer_everything(both):
    same(both, "SADD s 9 8 7 1 2 3", "SSCAN s 0", "SSCAN s 0 COUNT 1", "SSCAN s 123", "SSCAN s -1",
         "SSCAN s +0", "SSCAN s 0 MATCH [1-3]", "SSCAN s 0 MATCH 9 COUNT 100", "SSCAN nokey 0",
         ["SSCAN", "s", ""], "SSCAN s 0 match * count 5")


def _full_scan(conn, cmd, key, *opts):
    cursor, seen, calls = b"0", [], 0
    while True:
        r = conn.call(cmd, key, cursor, *opts)
        assert r[0] == "array" and len(r[1]) == 2
        cursor = r[1][0][1]
        seen += [x[1] for x in r[1][1][1]]
        calls += 1
        assert calls < 100000
        if cursor == b"0":
            return seen, calls


def test_sscan_hashtable_full_iteration(both):
    a, b = both
    items = ["m%d" % i for i in range(1500)]
    for c in (a, b):
        c.call("SADD", "s", *items)
    seen, calls = _full_scan(a, "SSCAN", "s")
    assert sorted(seen) == sorted(x.encode() for x in items) and calls > 1
    seen, _ = _full_scan(a, "SSCAN", "s", "MATCH", "m1*", "COUNT", "50")
    assert sorted(set(seen)) == sorted(x.encode() for x in items if x.startswith("m1"))
    ref, _ = _full_scan(b, "SSCAN", "s", "MATCH", "m1*", "COUNT", "50")
    assert sorted(set(seen)) == sorted(set(ref))


def test_sscan_guarantee_under_changes(both):
    a, _ = both
    keep = ["k%d" % i for i in range(800)]
    a.call("SADD", "s", *keep)
    cursor, seen, n = b"0", set(), 0
    while True:
        r = a.call("SSCAN", "s", cursor, "COUNT", "20")
        cursor = r[1][0][1]
        seen |= {x[1] for x in r[1][1][1]}
        a.call("SADD", "s", "tmp%d" % n, "tmp%d" % (n + 1))
        a.call("SREM", "s", "tmp%d" % (n - 1))
        n += 2
        if cursor == b"0":
            break
    assert {x.encode() for x in keep} <= seen


# --- RESP3 reply types ----------------------------------------------------------------------------

def test_resp3_types(both):
    a, b = both
    if a.call("HELLO", "3")[0] == "err":
        pytest.skip("HELLO not implemented in this build")
    b.call("HELLO", "3")
    same(both, "SADD s 1 2 3", "SMEMBERS s", "SMEMBERS nokey", "SINTER s s", "SUNION s nokey", "SDIFF s nokey",
         "SPOP nokey 2", "SPOP s 0", "SRANDMEMBER s 5", "SRANDMEMBER nokey 5", "SMISMEMBER s 1 5", "SSCAN s 0",
         "SPOP s 10", "SPOP nokey")


def test_hashtable_churn(both):
    """A big set grows, shrinks to a handful of members and grows again, with random adds, removes
    and lookups in between: every reply matches redis-server."""
    a, b = both
    universe = ["member:%d" % i for i in range(6000)]

    def pick(rng, add_share):
        roll, m = rng.random(), rng.choice(universe)
        if roll < add_share:
            return ("SADD", "s", m, rng.choice(universe))
        if roll < add_share + (1 - add_share) * 0.7:
            return ("SREM", "s", m, rng.choice(universe))
        return rng.choice([("SISMEMBER", "s", m), ("SMISMEMBER", "s", m, rng.choice(universe)), ("SCARD", "s")])

    def compare(phase):
        assert _unordered(a.call("SMEMBERS", "s")) == _unordered(b.call("SMEMBERS", "s")), phase

    churn(a, b, random.Random(1805), [(6000, 0.8), (9000, 0.15), (4000, 0.7)], pick, compare,
          members=lambda: sorted(x[1] for x in b.call("SMEMBERS", "s")[1]),
          remove=lambda m: ("SREM", "s", m), lookup=lambda m: ("SISMEMBER", "s", m), count=("SCARD", "s"))
    seen, _ = _full_scan(a, "SSCAN", "s", "COUNT", "100")
    assert sorted(set(seen)) == sorted(x[1] for x in b.call("SMEMBERS", "s")[1])


def test_smove_into_a_set_that_has_the_member_does_not_touch_it():
    """Redis's set.tcl: WATCH on the destination survives an SMOVE that added nothing to it."""
    from support.resp import Conn
    from support.servers import lunar_and_redis
    with lunar_and_redis() as servers:
        results = []
        for srv in servers:
            r, r2 = Conn(srv.port), Conn(srv.port)
            r.call("SADD", "srcset", "a", "b")
            r.call("SADD", "dstset", "a")
            r.call("WATCH", "dstset")
            r.call("MULTI")
            r.call("SADD", "dstset", "c")
            moved = r2.call("SMOVE", "srcset", "dstset", "a")
            results.append((moved, r.call("EXEC"), r.call("SCARD", "dstset"), r.call("SMEMBERS", "srcset")))
            r.close()
            r2.close()
        assert results[0] == results[1]
        assert results[0][2] == ("int", 2)
