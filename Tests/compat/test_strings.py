"""String and bitmap commands: every option and error compared reply-for-reply with redis-server 7.0."""
import time

import pytest

from support.resp import Conn, same_replies


@pytest.fixture
def both(r, rr, lunar_server, redis_server):
    """Raw RESP connections to a flushed Lunar and a flushed reference, compared command by command."""
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    yield a, b
    a.close()
    b.close()


same = same_replies


def same_ttl(both, key):
    """PTTL agrees: same sign class (-2 absent, -1 none, else remaining) and within a second."""
    x, y = both[0].call("PTTL", key), both[1].call("PTTL", key)
    assert x[0] == y[0] == "int", (x, y)
    if x[1] < 0 or y[1] < 0:
        assert x == y
    else:
        assert abs(x[1] - y[1]) < 1000, (x, y)


def make_list(both, key):
    """A key of another type, for WRONGTYPE cases."""
    same(both, ("RPUSH", key, "x"))


# ---------- GET / SET ----------

def test_get_set_basic(both):
    same(both, ("GET", "k"), ("SET", "k", "v"), ("GET", "k"), ("SET", "k", ""), ("GET", "k"),
         ("SET", "k", b"\x00\xff\r\n"), ("GET", "k"), ("SET", "k", "x" * 100), ("GET", "k"))


@pytest.mark.parametrize("opts", [
    ["NX"], ["XX"], ["nx"], ["xx"], ["NX", "XX"], ["XX", "NX"], ["NX", "NX"], ["GET"], ["GET", "GET"],
    ["NX", "GET"], ["XX", "GET"], ["KEEPTTL"], ["keepttl", "EX", "10"], ["EX", "10", "KEEPTTL"],
    ["EX", "10"], ["PX", "10000"], ["EXAT", "99999999999"], ["PXAT", "99999999999999"],
    ["EX", "10", "PX", "100"], ["EX", "10", "EX", "20"], ["PX", "1", "PX", "100000"], ["EXAT", "1", "PXAT", "2"],
    ["PXAT", "5", "EX", "1"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["EX", "abc"], ["EX", "1.5"], ["EX", "0"],
    ["EX", "-1"], ["PX", "0"], ["PX", "-5"], ["EXAT", "0"], ["PXAT", "-1"],
    ["EX", "9223372036854775"], ["EX", "9223372036854776"], ["PX", "9223372036854775807"],
    ["EXAT", "9223372036854775"], ["PXAT", "9223372036854775807"], ["EX", "99999999999999999999"],
    ["PERSIST"], ["FOO"], ["GET", "FOO"], ["NX", "EX", "abc"], ["GET", "EX", "0"], ["EX", "10", "GET", "NX"],
])
@pytest.mark.parametrize("existing", [None, "old", "list"])
def test_set_options(both, opts, existing):
    if existing == "list":
        make_list(both, "k")
    elif existing:
        same(both, ("SET", "k", existing))
    same(both, ("SET", "k", "new", *opts), ("GET", "k"))
    same_ttl(both, "k")


def test_set_expiry_takes_effect(both):
    a, b = both
    for c in (a, b):
        assert c.call("SET", "k", "v", "PX", "100") == ("simple", b"OK")
        assert c.call("SET", "n", "v", "PX", "100") == ("simple", b"OK")
        assert c.call("SET", "n", "v2", "KEEPTTL") == ("simple", b"OK")
        assert c.call("SET", "p", "v", "PX", "100") == ("simple", b"OK")
        assert c.call("SET", "p", "v2") == ("simple", b"OK")   # plain SET clears the TTL
        assert c.call("SET", "q", "v", "PXAT", str(int(time.time() * 1000) + 100)) == ("simple", b"OK")
        assert c.call("SET", "old", "v", "EXAT", "1") == ("simple", b"OK")
    same(both, ("GET", "old"))
    time.sleep(0.25)
    same(both, ("GET", "k"), ("GET", "n"), ("GET", "p"), ("GET", "q"))
    assert a.call("GET", "p") == ("bulk", b"v2")


def test_setnx_setex_psetex(both):
    same(both, ("SETNX", "k", "a"), ("SETNX", "k", "b"), ("GET", "k"),
         ("SETEX", "k", "100", "c"), ("GET", "k"), ("PSETEX", "k", "100000", "d"), ("GET", "k"),
         ("SETEX", "k", "0", "x"), ("SETEX", "k", "-1", "x"), ("SETEX", "k", "abc", "x"),
         ("SETEX", "k", "9223372036854776", "x"), ("PSETEX", "k", "0", "x"), ("PSETEX", "k", "-3", "x"),
         ("PSETEX", "k", "9223372036854775807", "x"), ("GET", "k"),
         ("SETEX", "k", "10"), ("PSETEX", "k"), ("SETNX", "k"))
    same_ttl(both, "k")
    same(both, ("SETEX", "k", "100", "c"), ("GETSET", "k", "x"))
    same_ttl(both, "k")
    same(both, ("SETEX", "k", "100", "c"), ("APPEND", "k", "x"), ("SETRANGE", "k", "0", "y"), ("SETBIT", "k", "1", "1"),
         ("INCRBYFLOAT", "k", "1") , ("SET", "k", "1", "KEEPTTL"), ("INCR", "k"), ("BITFIELD", "k", "SET", "u8", "0", "9"))
    same_ttl(both, "k")
    same(both, ("MSET", "k", "1"))
    same_ttl(both, "k")
    a, b = both
    for c in (a, b):
        c.call("PSETEX", "e", "100", "v")
    time.sleep(0.25)
    same(both, ("GET", "e"))


def test_getset_getdel(both):
    same(both, ("GETSET", "k", "a"), ("GETSET", "k", "b"), ("GET", "k"),
         ("GETDEL", "k"), ("GETDEL", "k"), ("GET", "k"), ("GETSET", "k"), ("GETDEL", "k", "x"))
    make_list(both, "l")
    same(both, ("GETSET", "l", "v"), ("GETDEL", "l"), ("GET", "l"))


def test_getset_clears_ttl(both):
    a, b = both
    for c in (a, b):
        c.call("SET", "k", "v", "PX", "100")
        assert c.call("GETSET", "k", "w") == ("bulk", b"v")
    time.sleep(0.25)
    same(both, ("GET", "k"))
    assert a.call("GET", "k") == ("bulk", b"w")


@pytest.mark.parametrize("opts", [
    [], ["EX", "100"], ["PX", "100000"], ["EXAT", "99999999999"], ["PXAT", "99999999999999"], ["PERSIST"],
    ["persist"], ["EX", "0"], ["EX", "-1"], ["EX", "abc"], ["PX", "0"], ["EX", "9223372036854776"],
    ["PX", "9223372036854775807"], ["EXAT", "1"], ["PXAT", "1"], ["EX", "10", "PERSIST"], ["PERSIST", "EX", "10"],
    ["PERSIST", "PERSIST"], ["EX", "10", "EX", "20"], ["EX", "10", "PX", "10"], ["KEEPTTL"], ["NX"], ["XX"],
    ["GET"], ["EX"], ["FOO"],
])
@pytest.mark.parametrize("existing", [None, "v", "list"])
def test_getex(both, opts, existing):
    if existing == "list":
        make_list(both, "k")
    elif existing:
        same(both, ("SET", "k", existing, "PX", "500000"))
    same(both, ("GETEX", "k", *opts), ("GET", "k"))
    same_ttl(both, "k")


def test_getex_expiry_effects(both):
    a, b = both
    for c in (a, b):
        c.call("SET", "k", "v", "PX", "100")
        c.call("SET", "p", "v", "PX", "100")
        assert c.call("GETEX", "p", "PERSIST") == ("bulk", b"v")
        c.call("SET", "e", "v")
        assert c.call("GETEX", "e", "PX", "100") == ("bulk", b"v")
        c.call("SET", "gone", "v")
        assert c.call("GETEX", "gone", "PXAT", "1") == ("bulk", b"v")
    same(both, ("GET", "gone"))
    time.sleep(0.25)
    same(both, ("GET", "k"), ("GET", "p"), ("GET", "e"))
    assert a.call("GET", "p") == ("bulk", b"v")


def test_mget_mset_msetnx(both):
    make_list(both, "l")
    same(both, ("MSET", "a", "1", "b", "2"), ("MGET", "a", "b", "c", "l"), ("MSET", "a"), ("MSET", "a", "1", "b"),
         ("MSETNX", "c", "3", "a", "9"), ("MGET", "a", "c"), ("MSETNX", "c", "3", "d", "4"), ("MGET", "c", "d"),
         ("MSETNX", "x"), ("MSETNX", "x", "1", "y"), ("MSET", "a", "1", "a", "2"), ("GET", "a"), ("MGET",),
         ("MSET", "l", "s"), ("GET", "l"))


def test_append_strlen(both):
    make_list(both, "l")
    same(both, ("APPEND", "k", "ab"), ("APPEND", "k", "cd"), ("GET", "k"), ("STRLEN", "k"), ("STRLEN", "none"),
         ("APPEND", "e", ""), ("GET", "e"), ("STRLEN", "e"), ("APPEND", "k", ""), ("APPEND", "n", "12"),
         ("APPEND", "n", "3"), ("INCR", "n"), ("APPEND", "l", "x"), ("STRLEN", "l"), ("APPEND", "k"), ("STRLEN",))


def test_append_keeps_ttl(both):
    a, b = both
    for c in (a, b):
        c.call("SET", "k", "v", "PX", "100")
        c.call("APPEND", "k", "w")
        c.call("SET", "i", "5", "PX", "100")
        c.call("INCR", "i")
        c.call("SET", "f", "5", "PX", "100")
        c.call("INCRBYFLOAT", "f", "1.5")
        c.call("SET", "r", "abc", "PX", "100")
        c.call("SETRANGE", "r", "1", "x")
        c.call("SETBIT", "r", "100", "1")
    time.sleep(0.25)
    same(both, ("GET", "k"), ("GET", "i"), ("GET", "f"), ("GET", "r"))


def test_proto_max_bulk_len_errors(both):
    same(both, ("SETRANGE", "k", "536870911", "xx"), ("SETRANGE", "k", "536870912", "x"),
         ("SETRANGE", "k", "1000000", "x"), ("STRLEN", "k"), ("APPEND", "k", "tail"), ("STRLEN", "k"), ("DBSIZE",),
         ("SETRANGE", "k", "9223372036854775807", "x"), ("SETRANGE", "k", "-1", "x"),
         ("SETRANGE", "k", "abc", "x"), ("SETRANGE", "k", "0", ""), ("SETRANGE", "z", "0", ""), ("GET", "z"))


@pytest.mark.parametrize("cmd", [
    ("INCR", "k"), ("DECR", "k"), ("INCRBY", "k", "5"), ("INCRBY", "k", "-5"), ("DECRBY", "k", "7"),
    ("DECRBY", "k", "-7"), ("INCRBY", "k", "abc"), ("INCRBY", "k", "1.5"), ("INCRBY", "k", " 1"),
    ("INCRBY", "k", "+1"), ("INCRBY", "k", "9223372036854775807"), ("INCRBY", "k", "-9223372036854775808"),
    ("DECRBY", "k", "-9223372036854775808"), ("DECRBY", "k", "9223372036854775807"),
    ("INCRBY", "k", "9223372036854775808"), ("INCRBY", "k", "0"),
])
@pytest.mark.parametrize("initial", [None, "0", "10", "-10", "9223372036854775806", "-9223372036854775807",
                                     "abc", "1.5", " 1", "1 ", "+1", "-0", "007", "", "99999999999999999999", "list"])
def test_counters(both, cmd, initial):
    if initial == "list":
        make_list(both, "k")
    elif initial is not None:
        same(both, ("SET", "k", initial))
    same(both, cmd, ("GET", "k"), cmd, ("GET", "k"))


@pytest.mark.parametrize("incr", ["1", "0.1", "-0.1", "1e10", "1.5e-5", "abc", "", " 1", "1 ", "inf", "-inf",
                                  "nan", "1e4000", "0x10", "3.0", "-3", "10.5e3", "1e-400", "0"])
@pytest.mark.parametrize("initial", [None, "0", "10.5", "-0", "1e10", "abc", "5.0e3", "1.7976931348623157e308",
                                     "inf", "0x1p3", "list", "3", "12\x00", "1\x00x"])
def test_incrbyfloat(both, incr, initial):
    if initial == "list":
        make_list(both, "k")
    elif initial is not None:
        same(both, ("SET", "k", initial))
    same(both, ("INCRBYFLOAT", "k", incr), ("GET", "k"), ("INCRBYFLOAT", "k", incr), ("GET", "k"))


def test_incrbyfloat_sequence(both):
    cmds = [("INCRBYFLOAT", "f", x) for x in ["0.1", "0.2", "-0.3", "1e-17", "123456789.123456789", "-1e20",
                                             "3.14159265358979323846", "1e300", "-1e300", "1e-300"]]
    same(both, *cmds, ("GET", "f"), ("INCRBYFLOAT", "f"), ("INCRBYFLOAT", "f", "1", "2"))


@pytest.mark.parametrize("cmd", ["GETRANGE", "SUBSTR"])
@pytest.mark.parametrize("rng", [(0, -1), (0, 0), (1, 3), (-3, -1), (-1, -3), (-100, 100), (5, 3), (10, 20),
                                 (-100, -50), (0, 9223372036854775807), (-9223372036854775808, -1),
                                 (-9223372036854775808, 9223372036854775807), ("a", 1), (1, "b"), (3, -3), (-5, 2)])
@pytest.mark.parametrize("value", [None, "", "Hello World", "12345", "list"])
def test_getrange(both, cmd, rng, value):
    if value == "list":
        make_list(both, "k")
    elif value is not None:
        same(both, ("SET", "k", value))
    same(both, (cmd, "k", *rng))


def test_getrange_arity(both):
    same(both, ("GETRANGE", "k", "0"), ("SUBSTR", "k"), ("GETRANGE", "k", "0", "1", "2"))


def test_setrange(both):
    make_list(both, "l")
    same(both, ("SETRANGE", "k", "5", "abc"), ("GET", "k"), ("SETRANGE", "k", "0", "XY"), ("GET", "k"),
         ("SETRANGE", "k", "7", "long tail"), ("GET", "k"), ("SETRANGE", "k", "100", ""), ("GET", "k"),
         ("SETRANGE", "n", "0", "12"), ("INCR", "n"), ("SETRANGE", "l", "0", "x"), ("SETRANGE", "l", "0", ""),
         ("SETRANGE", "k", "3"))


@pytest.mark.parametrize("a,b", [("ohmytext", "mynewtext"), ("", "abc"), ("abc", ""), ("same", "same"),
                                 ("abcdef", "xyz"), ("aaaa", "aa"), ("ABCBDAB", "BDCABA"),
                                 ("rxgzlqxzqsmhlwvatufnhzoypl", "jlzqvuxrimsgdmnlwvaftzyyhon")])
@pytest.mark.parametrize("opts", [[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"],
                                  ["IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"], ["idx", "minmatchlen", "-5"],
                                  ["LEN", "IDX"], ["IDX", "LEN"], ["MINMATCHLEN"], ["MINMATCHLEN", "x"],
                                  ["FOO"], ["WITHMATCHLEN"], ["LEN", "MINMATCHLEN", "9"], ["len", "len"]])
def test_lcs(both, a, b, opts):
    if a is not None:
        same(both, ("SET", "a", a))
    if b:
        same(both, ("SET", "b", b))
    same(both, ("LCS", "a", "b", *opts), ("LCS", "b", "a", *opts))


def test_lcs_errors(both):
    make_list(both, "l")
    same(both, ("SET", "a", "abc"), ("LCS", "a", "l"), ("LCS", "l", "a"), ("LCS", "l", "a", "FOO"),
         ("LCS", "a"), ("LCS", "a", "none"), ("LCS", "x", "y", "IDX"))


# ---------- bitmaps ----------

def test_setbit_getbit(both):
    make_list(both, "l")
    same(both, ("SETBIT", "k", "7", "1"), ("GET", "k"), ("SETBIT", "k", "7", "1"), ("SETBIT", "k", "7", "0"),
         ("SETBIT", "k", "100", "1"), ("GET", "k"), ("GETBIT", "k", "100"), ("GETBIT", "k", "99"),
         ("GETBIT", "k", "100000"), ("GETBIT", "none", "3"), ("SETBIT", "k", "-1", "1"), ("SETBIT", "k", "x", "1"),
         ("SETBIT", "k", "1", "2"), ("SETBIT", "k", "1", "-1"), ("SETBIT", "k", "1", "x"),
         ("SETBIT", "k", "8000001", "1"), ("STRLEN", "k"), ("SETBIT", "k", "4294967296", "1"),
         ("GETBIT", "k", "4294967295"), ("GETBIT", "k", "4294967296"),
         ("GETBIT", "k", "-1"), ("GETBIT", "k", "1.0"), ("SETBIT", "l", "0", "1"), ("GETBIT", "l", "0"),
         ("GETBIT", "l", "-1"), ("SET", "n", "12"), ("GETBIT", "n", "2"), ("GETBIT", "n", "3"),
         ("SETBIT", "n", "15", "1"), ("GET", "n"), ("SETBIT", "k", "1"), ("GETBIT", "k"))


BIT_VALUES = [None, "", "foobar", "\x00\x00\xff\xf0", "\xff\xff\xff", "\x00\x00\x00", "\x01", "\xf0\x0f\xaa\x55" * 5]


@pytest.mark.parametrize("args", [[], ["0", "-1"], ["1", "1"], ["-2", "-1"], ["-1", "-2"], ["0", "0", "BIT"],
                                  ["5", "30", "BIT"], ["5", "30", "bit"], ["-10", "-3", "BIT"], ["2", "1", "BIT"],
                                  ["0", "100", "BYTE"], ["1", "-1", "byte"], ["0", "1", "FOO"], ["-1", "-5", "FOO"],
                                  ["0"], ["a", "b"], ["0", "b"], ["0", "1", "BIT", "x"], ["-100", "100"],
                                  ["-9223372036854775808", "9223372036854775807", "BIT"], ["3", "3", "BIT"]])
@pytest.mark.parametrize("value", BIT_VALUES + ["list"])
def test_bitcount(both, args, value):
    if value == "list":
        make_list(both, "k")
    elif value is not None:
        same(both, ("SET", "k", value.encode("latin-1")))
    same(both, ("BITCOUNT", "k", *args))


@pytest.mark.parametrize("args", [["1"], ["0"], ["2"], ["x"], ["-1"], ["1", "2"], ["0", "2"], ["1", "0", "-1"],
                                  ["0", "0", "-1"], ["0", "1", "2"], ["1", "-2", "-1"], ["0", "5", "1"],
                                  ["1", "3", "17", "BIT"], ["0", "3", "17", "BIT"], ["0", "3", "BIT"],
                                  ["1", "3", "5", "bit"], ["0", "10", "12", "BIT"], ["1", "0", "-1", "BYTE"],
                                  ["1", "0", "-1", "FOO"], ["1", "0", "-1", "BIT", "x"], ["1", "a"],
                                  ["1", "0", "b"], ["0", "-100", "100"], ["1", "-3", "-1", "BIT"],
                                  ["0", "-9223372036854775808", "9223372036854775807", "BIT"]])
@pytest.mark.parametrize("value", BIT_VALUES + ["list"])
def test_bitpos(both, args, value):
    if value == "list":
        make_list(both, "k")
    elif value is not None:
        same(both, ("SET", "k", value.encode("latin-1")))
    same(both, ("BITPOS", "k", *args))


def test_bitpos_exhaustive_small(both):
    """Every range of a few patterned bytes, in both units, for both bit values."""
    a, b = both
    value = b"\x00\xff\x0f\xf0\x81"
    for c in (a, b):
        c.call("SET", "k", value)
    cmds = []
    for bit in ("0", "1"):
        for s in range(-6, 7):
            cmds.append(("BITPOS", "k", bit, str(s)))
            for e in range(-6, 7):
                cmds.append(("BITPOS", "k", bit, str(s), str(e)))
        for s in range(-42, 42, 3):
            for e in range(-42, 42, 5):
                cmds.append(("BITPOS", "k", bit, str(s), str(e), "BIT"))
                cmds.append(("BITCOUNT", "k", str(s), str(e), "BIT"))
    x, y = a.pipeline(cmds), b.pipeline(cmds)
    for cmd, p, q in zip(cmds, x, y):
        assert p == q, f"{cmd}: lunar {p!r} != redis {q!r}"


def test_bitop(both):
    make_list(both, "l")
    same(both, ("SET", "a", b"\xff\x0f\xaa"), ("SET", "b", b"\x0f"), ("SET", "c", ""),
         ("BITOP", "AND", "d", "a", "b"), ("GET", "d"), ("BITOP", "or", "d", "a", "b"), ("GET", "d"),
         ("BITOP", "XOR", "d", "a", "b", "a"), ("GET", "d"), ("BITOP", "NOT", "d", "a"), ("GET", "d"),
         ("BITOP", "NOT", "d", "a", "b"), ("BITOP", "NOT", "d", "none"), ("GET", "d"),
         ("BITOP", "AND", "d", "a", "none"), ("GET", "d"), ("BITOP", "OR", "d", "none", "c"), ("GET", "d"),
         ("BITOP", "FOO", "d", "a"), ("BITOP", "AND", "d", "a", "l"), ("BITOP", "AND", "l", "a"), ("GET", "l"),
         ("BITOP", "AND", "d"), ("BITOP", "OR", "a", "a", "b"), ("GET", "a"), ("BITOP", "ANDX", "d", "a"),
         ("SET", "n", "123"), ("BITOP", "NOT", "d", "n"), ("GET", "d"))


def test_bitop_overwrites_ttl(both):
    a, b = both
    for c in (a, b):
        c.call("SET", "d", "x", "PX", "100")
        c.call("SET", "s", "abc")
        c.call("BITOP", "OR", "d", "s")
    time.sleep(0.25)
    same(both, ("GET", "d"))


# ---------- WATCH interaction (which writes count as modifications) ----------

@pytest.mark.parametrize("write", [
    ("SETBIT", "k", "0", "0"), ("SETBIT", "k", "0", "1"), ("SETBIT", "k", "100", "0"), ("APPEND", "k", ""),
    ("SETRANGE", "k", "0", ""), ("SETRANGE", "k", "0", "\x00"), ("GETEX", "k", "PERSIST"), ("GETEX", "k"),
    ("INCRBY", "k", "0"), ("SET", "k", "v", "NX"), ("SET", "k", "v", "XX"), ("MSETNX", "k", "1", "z", "2"),
    ("BITOP", "AND", "k", "none"), ("BITOP", "AND", "z", "none"), ("GETDEL", "z"), ("SETNX", "k", "1"),
    ("INCRBYFLOAT", "k", "0"), ("GETEX", "k", "EX", "100"), ("BITFIELD", "k", "SET", "u8", "0", "0"),
    ("BITFIELD", "k", "SET", "u8", "0", "1"), ("BITFIELD", "k", "SET", "u8", "8", "0"),
    ("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", "8", "7"), ("BITFIELD", "k", "GET", "u8", "0"),
])
def test_watch_sees_modifications(both, lunar_server, redis_server, write):
    a, b = both
    results = []
    for port, c in ((lunar_server.port, a), (redis_server.port, b)):
        c.call("SET", "k", "\x00")
        other = Conn(port)
        c.call("WATCH", "k", "z")
        other.call(*write)
        other.close()
        c.call("MULTI")
        c.call("GET", "k")
        results.append(c.call("EXEC"))
    assert results[0] == results[1]


def test_wrong_arity(both):
    same(both, ("GET",), ("SET", "k"), ("GETEX",), ("GETDEL",), ("MGET",), ("APPEND", "k"), ("INCR",),
         ("INCRBY", "k"), ("DECRBY", "k"), ("INCRBYFLOAT", "k"), ("SETBIT", "k", "1"), ("GETBIT", "k"),
         ("BITCOUNT",), ("BITPOS", "k"), ("BITOP", "AND", "d"), ("LCS", "a"), ("STRLEN",), ("SUBSTR", "k", "1"))


# ---------- BITFIELD ----------

@pytest.mark.parametrize("ops", [
    [], ["GET", "u8", "0"], ["GET", "i8", "0"], ["GET", "u4", "4", "GET", "i4", "4", "GET", "u63", "0"],
    ["GET", "i64", "0"], ["GET", "i64", "3"], ["GET", "u1", "1000"], ["GET", "i16", "#1"], ["GET", "U8", "#2"],
    ["SET", "u8", "0", "255"], ["SET", "u8", "0", "256"], ["SET", "u8", "0", "-1"], ["SET", "i8", "0", "127"],
    ["SET", "i8", "0", "128"], ["SET", "i8", "0", "-129"], ["SET", "i64", "5", "-9223372036854775808"],
    ["SET", "u63", "1", "9223372036854775807"], ["SET", "i3", "#3", "5"], ["SET", "u16", "100", "513"],
    ["INCRBY", "u8", "0", "10"], ["INCRBY", "u8", "0", "300"], ["INCRBY", "u8", "0", "-300"],
    ["INCRBY", "i8", "0", "100", "INCRBY", "i8", "0", "100"], ["INCRBY", "i64", "0", "9223372036854775807"],
    ["INCRBY", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-1"],
    ["OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "INCRBY", "u8", "0", "-300", "INCRBY", "i8", "8", "200",
     "INCRBY", "i8", "8", "-400", "SET", "u4", "0", "99", "SET", "i4", "0", "-99", "SET", "u8", "0", "-1"],
    ["OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "INCRBY", "u8", "0", "1", "SET", "i4", "0", "8",
     "SET", "i4", "0", "7", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"],
    ["OVERFLOW", "WRAP", "INCRBY", "u2", "0", "5", "OVERFLOW", "sat", "INCRBY", "u2", "0", "5", "overflow", "fail",
     "INCRBY", "u2", "0", "5"],
    ["OVERFLOW", "FAIL", "SET", "u2", "100", "7"],
    ["GET", "x8", "0"], ["GET", "u64", "0"], ["GET", "i65", "0"], ["GET", "u0", "0"], ["GET", "i", "0"],
    ["GET", "", "0"], ["GET", "u8", "-1"], ["GET", "u8", "#-1"], ["GET", "u8", "x"], ["GET", "u8", "#"],
    ["GET", "i8", "#536870912"], ["GET", "u8", "4294967296"], ["SET", "u8", "0", "x"], ["SET", "u8", "0", "1.5"],
    ["INCRBY", "u8", "0"], ["GET", "u8"], ["FOO"], ["OVERFLOW"], ["OVERFLOW", "FOO", "GET", "u8", "0"],
    ["OVERFLOW", "WRAP", "x", "y"], ["GET", "u8", "0", "SET"], ["SET", "x8", "0", "1"], ["SET", "u8", "-1", "1"],
])
@pytest.mark.parametrize("cmd", ["BITFIELD", "BITFIELD_RO"])
@pytest.mark.parametrize("value", [None, "\x00\xff\x80\x01ab", "list"])
def test_bitfield(both, ops, cmd, value):
    if value == "list":
        make_list(both, "k")
    elif value is not None:
        same(both, ("SET", "k", value.encode("latin-1")))
    same(both, (cmd, "k", *ops), ("GET", "k"), ("BITFIELD", "k", "GET", "i64", "0", "GET", "u63", "64"))


def test_bitfield_random_against_reference(both):
    import random
    rng = random.Random(7)
    a, b = both
    cmds = []
    for _ in range(3000):
        ops = []
        for _ in range(rng.randint(1, 4)):
            sign = rng.choice("iu")
            bits = rng.randint(1, 64 if sign == "i" else 63)
            off = str(rng.randint(0, 80)) if rng.random() < 0.8 else f"#{rng.randint(0, 5)}"
            r = rng.random()
            if r < 0.15:
                ops += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"])]
            if r < 0.4:
                ops += ["GET", f"{sign}{bits}", off]
            elif r < 0.7:
                ops += ["SET", f"{sign}{bits}", off, str(rng.randint(-2 ** 64, 2 ** 64) if rng.random() < 0.2
                                                         else rng.randint(-(2 ** 63), 2 ** 63 - 1))]
            else:
                ops += ["INCRBY", f"{sign}{bits}", off, str(rng.randint(-(2 ** bits), 2 ** bits))]
        cmds.append(("BITFIELD", "k", *ops))
        if rng.random() < 0.1:
            cmds.append(("GET", "k"))
    x, y = a.pipeline(cmds), b.pipeline(cmds)
    for cmd, p, q in zip(cmds, x, y):
        assert p == q, f"{cmd}: lunar {p!r} != redis {q!r}"


def test_resp3_replies(both):
    """Null, map and integer replies in RESP3 (HELLO 3) match the reference."""
    for c in both:
        assert c.call("HELLO", "3")[0] == "map"
    same(both, ("SET", "a", "ohmytext"), ("SET", "b", "mynewtext"), ("GET", "none"), ("SET", "a", "x", "NX"),
         ("SET", "a", "ohmytext", "GET"), ("GETEX", "none"), ("GETDEL", "none"), ("MGET", "a", "none"),
         ("LCS", "a", "b", "IDX", "WITHMATCHLEN"), ("LCS", "a", "b", "LEN"), ("INCRBYFLOAT", "f", "1.5"),
         ("BITFIELD", "a", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"), ("SETNX", "a", "1"), ("GETRANGE", "none", "0", "1"))


def test_limits_follow_proto_max_bulk_len(both):
    try:
        same(both, ("CONFIG", "SET", "proto-max-bulk-len", "1mb"))
        same(both, ("SETRANGE", "k", "1048575", "x"), ("SETRANGE", "k", "1048576", "x"), ("STRLEN", "k"),
             ("APPEND", "k", "y"), ("SETBIT", "b", "8388607", "1"), ("SETBIT", "b", "8388608", "1"),
             ("GETBIT", "b", "8388608"), ("BITFIELD", "b", "SET", "u8", "8388600", "1"),
             ("BITFIELD", "b", "SET", "u8", "8388608", "1"), ("BITFIELD", "b", "GET", "u8", "#1048576"))
    finally:
        for c in both:
            c.call("CONFIG", "SET", "proto-max-bulk-len", "512mb")
