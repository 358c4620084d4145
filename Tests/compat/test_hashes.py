"""Hash commands compared against redis-server 7.0: every command, option and error.

Replies are compared on the wire (reply types included). Listpack-encoded hashes keep insertion order,
so their HGETALL/HKEYS/HVALS/HSCAN replies must match Redis exactly; hashtable replies are compared as
multisets of pairs, and random commands by their properties.
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


def _pairs(reply):
    if reply[0] == "array":
        items = reply[1]
        return ("pairs", sorted((repr(items[i]), repr(items[i + 1])) for i in range(0, len(items), 2)))
    if reply[0] == "map":
        return ("pairs", sorted((repr(k), repr(v)) for k, v in reply[1]))
    return reply


def _unordered(reply):
    if reply[0] in ("array", "set"):
        return (reply[0], sorted((_unordered(x) for x in reply[1]), key=repr))
    return reply


def same(both, *lines, mode="exact"):
    a, b = both
    out = []
    for line in lines:
        args = _split(line)
        x, y = a.call(*args), b.call(*args)
        if mode == "pairs":
            x, y = _pairs(x), _pairs(y)
        elif mode == "unordered":
            x, y = _unordered(x), _unordered(y)
        assert x == y, f"{args}: lunar {x!r} != redis {y!r}"
        out.append(x)
    return out[-1] if len(lines) == 1 else out


def encoding_or_skip(conn, key):
    r = conn.call("OBJECT", "ENCODING", key)
    if r[0] == "err" and b"unknown command" in r[1]:
        pytest.skip("OBJECT not implemented in this build")
    return r


def both_encodings(both, key):
    a, b = both
    x, y = encoding_or_skip(a, key), encoding_or_skip(b, key)
    assert x == y, f"encoding of {key}: lunar {x!r} != redis {y!r}"
    return x[1]


def config_set_or_skip(conn, name, value):
    r = conn.call("CONFIG", "SET", name, value)
    if r[0] == "err" and b"unknown command" in r[1]:
        pytest.skip("CONFIG not implemented in this build")
    assert r == ("simple", b"OK")


# --- Basic commands --------------------------------------------------------------------------------

def test_hset_hget_family(both):
    same(both, "HSET h a 1 b 2 c 3", "HSET h a 10 d 4", "HGET h a", "HGET h zz", "HGET nokey a",
         "HMGET h a zz c", "HMGET nokey a b", "HLEN h", "HLEN nokey", "HEXISTS h a", "HEXISTS h zz",
         "HEXISTS nokey a", "HSTRLEN h a", "HSTRLEN h zz", "HSTRLEN nokey a", "HMSET h e 5 f 6", "HGETALL h",
         "HKEYS h", "HVALS h", "HGETALL nokey", "HKEYS nokey", "HVALS nokey")


def test_listpack_keeps_insertion_order(both):
    same(both, "HSET h z 1 y 2 x 3 w 4", "HSET h y 20", "HDEL h z", "HSET h z 5", "HSETNX h v 6",
         "HINCRBY h u 7", "HINCRBYFLOAT h t 1.5", "HINCRBY h x 1",
         "HGETALL h", "HKEYS h", "HVALS h", "HSCAN h 0", "HSCAN h 0 COUNT 1", "HSCAN h 0 MATCH [uvw]",
         "HRANDFIELD h 100", "HRANDFIELD h 100 WITHVALUES")
    fields = ["f%d" % i for i in range(max_entries(both[1]))]
    random.Random(5).shuffle(fields)
    same(both, ["HSET", "big"] + [x for f in fields for x in (f, f.upper())])
    assert both_encodings(both, "big") == b"listpack"
    same(both, "HGETALL big", "HKEYS big", "HVALS big", "HSCAN big 0")


def test_hdel_deletes_empty_hash(both):
    same(both, "HSET h a 1 b 2", "HDEL h a x a", "HDEL nokey a", "HDEL h b", "HLEN h", "HGETALL h",
         "SADD h member", "HSET g a 1", "HDEL g a b c", "HGET g a")


def test_hset_odd_arguments(both):
    same(both, "HSET h a", "HSET h a 1 b", "HMSET h a", "HMSET h a 1 b", "HSET h a 1 b 2", "HMSET h a 1",
         "SET str x", "HSET str a 1 b", "HMSET str a")


def test_hsetnx(both):
    same(both, "HSETNX h a 1", "HSETNX h a 2", "HGET h a", "HSETNX h b 3", "HGETALL h")


# --- Encodings ----------------------------------------------------------------------------------

def max_entries(conn):
    """hash-max-listpack-entries of the reference (Redis 7.0.15 defaults to 512)."""
    r = conn.call("CONFIG", "GET", "hash-max-listpack-entries")
    return int(r[1][1][1])


def test_listpack_to_hashtable_by_entries(both):
    limit = max_entries(both[1])
    same(both, ["HSET", "h"] + [x for i in range(limit) for x in ("f%d" % i, str(i))])
    assert both_encodings(both, "h") == b"listpack"
    same(both, "HSET h extra 1")
    assert both_encodings(both, "h") == b"hashtable"
    same(both, "HDEL h extra f1 f2")
    assert both_encodings(both, "h") == b"hashtable"  # one way
    same(both, "HGETALL h", mode="pairs")
    same(both, "HKEYS h", "HVALS h", mode="unordered")


@pytest.mark.parametrize("cmd", [
    "HSET h long {v}", "HSET h {v} 1", "HMSET h a 1 long {v}", "HSETNX h long {v}", "HSETNX h a {v}",
    "HSETNX h {v} 1", "HINCRBY h {v} 1", "HINCRBYFLOAT h {v} 1", "HINCRBYFLOAT h a 1e100",
    "HINCRBYFLOAT h a 1e64", "HINCRBYFLOAT h a 1e63", "HSET h ok {w}", "HSET h {w} {w}",
])
def test_listpack_to_hashtable_by_length(both, cmd):
    v, w = "x" * 65, "y" * 64
    same(both, "HSET h a 1 b 2", cmd.format(v=v, w=w))
    both_encodings(both, "h")
    same(both, "HGETALL h", mode="pairs")


def test_hash_limits_config(both):
    a, b = both
    saved = [(c, c.call("CONFIG", "GET", "hash-max-listpack-*")) for c in (a, b)]
    try:
        for c in (a, b):
            config_set_or_skip(c, "hash-max-listpack-entries", "3")
            config_set_or_skip(c, "hash-max-listpack-value", "5")
        same(both, "HSET h a 1 b 2 c 3")
        assert both_encodings(both, "h") == b"listpack"
        same(both, "HSET h d 4")
        assert both_encodings(both, "h") == b"hashtable"
        same(both, "HSET g a 12345")
        assert both_encodings(both, "g") == b"listpack"
        same(both, "HSET g a 123456")
        assert both_encodings(both, "g") == b"hashtable"
        for c in (a, b):
            config_set_or_skip(c, "hash-max-ziplist-entries", "0")
        same(both, "HSET z a 1")
        assert both_encodings(both, "z") == b"hashtable"
    finally:
        for c, r in saved:
            if r[0] == "array":
                items = [x[1] for x in r[1]]
                for i in range(0, len(items), 2):
                    c.call("CONFIG", "SET", items[i], items[i + 1])


# --- Counters -------------------------------------------------------------------------------------

def test_hincrby(both):
    same(both, "HSET h a 1 b 01 c x d 9223372036854775807 e -9223372036854775808 f +1 g 1.0",
         "HINCRBY h a 5", "HINCRBY h new -3", "HINCRBY nokey x 1", "HINCRBY h b 1", "HINCRBY h c 1",
         "HINCRBY h d 1", "HINCRBY h d 0", "HINCRBY h e -1", "HINCRBY h e 1", "HINCRBY h f 1", "HINCRBY h g 1",
         "HINCRBY h a x", "HINCRBY h a 1.5", "HINCRBY h a 9223372036854775808", "HINCRBY h a -9223372036854775808",
         ["HINCRBY", "h", "a", " 1"], ["HSET", "h", "sp", " 1"], "HINCRBY h sp 1", "HGETALL h")


FLOATS = ["1.5", "-1.5", "0.1", "3.0e3", "1e-5", "1e400", "-1e400", "1e4930", "5.", ".5", "0x10", "0x1p3",
          "1.23456789012345678901234", "123456789.123456789", "-0", "1e17", "1e-400", "00012", "1E2"]


def test_hincrbyfloat_formatting(both):
    for i, inc in enumerate(FLOATS):
        same(both, ["HINCRBYFLOAT", "h", "f%d" % i, inc], ["HINCRBYFLOAT", "h", "f%d" % i, inc],
             ["HINCRBYFLOAT", "h", "f%d" % i, "-" + inc.lstrip("-")])
    same(both, "HINCRBYFLOAT h acc 0.1", "HINCRBYFLOAT h acc 0.2", "HINCRBYFLOAT h acc -0.3",
         "HINCRBYFLOAT h big 1e4930", "HINCRBYFLOAT h big 1e4930", "HINCRBYFLOAT h big 1e4930",
         "HINCRBYFLOAT h int 3", "HINCRBYFLOAT h int -3.000000000000000001")
    same(both, "HGETALL h", mode="pairs")


FLOAT_ERRORS = ["inf", "-inf", "nan", "x", "", " 1", "1 ", "1.5e", "1e5000", "--1", "1,5"]


@pytest.mark.parametrize("inc", FLOAT_ERRORS)
def test_hincrbyfloat_errors(both, inc):
    same(both, "HSET h a 1 s abc sp 1x e 1e5000", ["HINCRBYFLOAT", "h", "a", inc], ["HINCRBYFLOAT", "nokey", "a", inc],
         "HINCRBYFLOAT h s 1", "HINCRBYFLOAT h sp 1", "HINCRBYFLOAT h e 1",
         "HINCRBYFLOAT h a 1e4932", "HINCRBYFLOAT h a 1.1e4932", "HGET h a")


# --- Errors, arity, wrong types --------------------------------------------------------------------

ARITY = ["HSET h", "HSET h a", "HSETNX h a", "HSETNX h a b c", "HGET h", "HGET h a b", "HMSET h a", "HMGET h",
         "HGETALL", "HGETALL h x", "HDEL h", "HLEN", "HSTRLEN h", "HEXISTS h", "HKEYS", "HVALS", "HINCRBY h a",
         "HINCRBYFLOAT h a", "HINCRBY h a 1 2", "HRANDFIELD", "HSCAN h", "HRANDFIELD h 1 WITHVALUES x"]


@pytest.mark.parametrize("line", ARITY)
def test_wrong_arity(both, line):
    same(both, "HSET h a 1", line)


WRONGTYPE = ["HSET str a 1", "HSETNX str a 1", "HGET str a", "HMSET str a 1", "HMGET str a", "HGETALL str",
             "HDEL str a", "HLEN str", "HSTRLEN str a", "HEXISTS str a", "HKEYS str", "HVALS str",
             "HINCRBY str a 1", "HINCRBY str a x", "HINCRBYFLOAT str a 1", "HINCRBYFLOAT str a x",
             "HINCRBYFLOAT str a inf", "HRANDFIELD str", "HRANDFIELD str 2", "HRANDFIELD str 0",
             "HRANDFIELD str -2 WITHVALUES", "HRANDFIELD str x", "HRANDFIELD str 1 foo", "HSCAN str 0",
             "HSCAN str x", "HSCAN str 0 COUNT 0", "HSET s a 1", "HGET s a"]


@pytest.mark.parametrize("line", WRONGTYPE)
def test_wrong_type(both, line):
    same(both, "SET str x", "SADD s m", line)


ERRORS = ["HRANDFIELD h x", "HRANDFIELD h 1 foo", "HRANDFIELD h 1 WITHVALUE", "HRANDFIELD h 1 withvalues x",
          "HRANDFIELD h -9223372036854775808", "HRANDFIELD h 9223372036854775807 WITHVALUES",
          "HRANDFIELD h -4611686018427387904 WITHVALUES", "HRANDFIELD h 4611686018427387904 WITHVALUES",
          "HRANDFIELD nokey x", "HRANDFIELD nokey 1 foo", "HRANDFIELD nokey 9223372036854775807 WITHVALUES",
          "HRANDFIELD nokey -4611686018427387903 WITHVALUES",
          "HSCAN h x", "HSCAN h -", "HSCAN h 18446744073709551616", "HSCAN h 0 COUNT 0", "HSCAN h 0 COUNT x",
          "HSCAN h 0 MATCH", "HSCAN h 0 NOVALUES", "HSCAN h 0 TYPE hash", "HSCAN nokey 0 COUNT 0",
          "HSCAN nokey x"]


@pytest.mark.parametrize("line", ERRORS)
def test_errors(both, line):
    same(both, "HSET h a 1 b 2", line)


# --- HRANDFIELD -----------------------------------------------------------------------------------

def test_hrandfield_deterministic_cases(both):
    same(both, "HSET h a 1 b 2 c 3", "HRANDFIELD h 3", "HRANDFIELD h 5 WITHVALUES", "HRANDFIELD h 0",
         "HRANDFIELD h 0 WITHVALUES", "HRANDFIELD nokey", "HRANDFIELD nokey 3", "HRANDFIELD nokey -3 WITHVALUES",
         "HRANDFIELD h 3 withvalues")


@pytest.mark.parametrize("size", [10, 200, 700])
def test_hrandfield_properties(both, size):
    a, b = both
    limit = max_entries(b)
    pairs = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(size)}
    a.call("HSET", "h", *[x for kv in pairs.items() for x in kv])
    order = [x[1] for x in a.call("HKEYS", "h")[1]]
    for n in (1, 3, size // 2, size - 1):
        got = [x[1] for x in a.call("HRANDFIELD", "h", n)[1]]
        assert len(got) == n and len(set(got)) == n and set(got) <= set(pairs)
        if size <= limit:
            # a listpack answers its random subset in listpack order
            assert got == [f for f in order if f in set(got)]
        flat = [x[1] for x in a.call("HRANDFIELD", "h", n, "WITHVALUES")[1]]
        assert len(flat) == 2 * n
        for i in range(0, len(flat), 2):
            assert pairs[flat[i]] == flat[i + 1]
    rep = [x[1] for x in a.call("HRANDFIELD", "h", -3 * size)[1]]
    assert len(rep) == 3 * size and set(rep) <= set(pairs) and len(set(rep)) < len(rep)
    flat = [x[1] for x in a.call("HRANDFIELD", "h", -7, "WITHVALUES")[1]]
    assert len(flat) == 14 and all(pairs[flat[i]] == flat[i + 1] for i in range(0, 14, 2))
    one = a.call("HRANDFIELD", "h")
    assert one[0] == "bulk" and one[1] in pairs


# --- HSCAN ----------------------------------------------------------------------------------------

def test_hscan_small_encoding(both):
    same(both, "HSET h b 1 a 2 c 3 ab 4", "HSCAN h 0", "HSCAN h 7", "HSCAN h -1", "HSCAN h 0 COUNT 1",
         "HSCAN h 0 MATCH a*", "HSCAN h 0 MATCH a* COUNT 1000", "HSCAN h 0 match [bc]", "HSCAN nokey 0",
         ["HSCAN", "h", ""], "HSCAN h +0", "HSCAN h 0 MATCH nothing")


def _full_scan(conn, key, *opts):
    cursor, seen, calls = b"0", [], 0
    while True:
        r = conn.call("HSCAN", key, cursor, *opts)
        cursor = r[1][0][1]
        items = [x[1] for x in r[1][1][1]]
        seen += list(zip(items[0::2], items[1::2]))
        calls += 1
        assert calls < 100000
        if cursor == b"0":
            return seen, calls


def test_hscan_hashtable_full_iteration(both):
    a, b = both
    args = [x for i in range(1000) for x in ("f%d" % i, "v%d" % i)]
    for c in (a, b):
        c.call("HSET", "h", *args)
    seen, calls = _full_scan(a, "h")
    assert calls > 1
    assert sorted(seen) == sorted((("f%d" % i).encode(), ("v%d" % i).encode()) for i in range(1000))
    mine, _ = _full_scan(a, "h", "MATCH", "f9*", "COUNT", "30")
    ref, _ = _full_scan(b, "h", "MATCH", "f9*", "COUNT", "30")
    assert sorted(set(mine)) == sorted(set(ref)) and len(set(mine)) == 111


def test_hscan_guarantee_under_changes(both):
    a, _ = both
    a.call("HSET", "h", *[x for i in range(600) for x in ("k%d" % i, "v")])
    cursor, seen, n = b"0", set(), 0
    while True:
        r = a.call("HSCAN", "h", cursor, "COUNT", "15")
        cursor = r[1][0][1]
        seen |= {x[1] for x in r[1][1][1][0::2]}
        a.call("HSET", "h", "tmp%d" % n, "x")
        a.call("HDEL", "h", "tmp%d" % (n - 1))
        n += 1
        if cursor == b"0":
            break
    assert {("k%d" % i).encode() for i in range(600)} <= seen


# --- RESP3 ----------------------------------------------------------------------------------------

def test_resp3_types(both):
    a, b = both
    if a.call("HELLO", "3")[0] == "err":
        pytest.skip("HELLO not implemented in this build")
    b.call("HELLO", "3")
    same(both, "HSET h a 1 b 2", "HGETALL h", "HGETALL nokey", "HMGET h a x", "HRANDFIELD h 2 WITHVALUES",
         "HRANDFIELD h 5 WITHVALUES", "HRANDFIELD nokey 2 WITHVALUES", "HGET h x",
         "HRANDFIELD nokey", "HSCAN h 0", "HINCRBYFLOAT h a 1.5", "HKEYS h")
    a.call("HSET", "h", "w", "1")
    x = a.call("HRANDFIELD", "h", -3, "WITHVALUES")
    assert x[0] == "array" and len(x[1]) == 3 and all(p[0] == "array" and len(p[1]) == 2 for p in x[1])


def test_hashtable_churn(both):
    """A big hash grows, shrinks to a handful of fields and grows again, with random sets, deletes
    and reads in between: every reply matches redis-server."""
    a, b = both
    fields = ["field:%d" % i for i in range(6000)]

    def pick(rng, set_share):
        roll, f = rng.random(), rng.choice(fields)
        if roll < set_share:
            return rng.choice([("HSET", "h", f, "v%d" % rng.randrange(100), rng.choice(fields), "w"),
                               ("HSETNX", "h", f, "n"), ("HINCRBY", "h", "count:" + f[6:], "3")])
        if roll < set_share + (1 - set_share) * 0.7:
            return ("HDEL", "h", f, rng.choice(fields), "count:" + f[6:])
        return rng.choice([("HGET", "h", f), ("HEXISTS", "h", f), ("HMGET", "h", f, rng.choice(fields)),
                           ("HLEN", "h"), ("HSTRLEN", "h", f)])

    def compare(phase):
        assert _pairs(a.call("HGETALL", "h")) == _pairs(b.call("HGETALL", "h")), phase

    churn(a, b, random.Random(2718), [(6000, 0.8), (9000, 0.15), (4000, 0.7)], pick, compare,
          members=lambda: sorted(x[1] for x in b.call("HKEYS", "h")[1]),
          remove=lambda f: ("HDEL", "h", f), lookup=lambda f: ("HGET", "h", f), count=("HLEN", "h"))
    seen, _ = _full_scan(a, "h", "COUNT", "100")
    ref = b.call("HGETALL", "h")[1]
    assert sorted(set(seen)) == sorted(zip([x[1] for x in ref[0::2]], [x[1] for x in ref[1::2]]))
