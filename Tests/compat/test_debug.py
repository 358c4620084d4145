"""DEBUG subcommands against redis-server 7.0: DIGEST and DIGEST-VALUE (Redis's algorithm, so equal
data gives equal digests on both servers), POPULATE, PROTOCOL (every RESP type, RESP2 and RESP3),
ERROR and CHANGE-REPL-ID."""
import pytest

from support.resp import Conn
from support.servers import lunar_and_redis


@pytest.fixture(scope="module")
def servers():
    with lunar_and_redis() as both:
        yield both


@pytest.fixture
def pair(servers):
    a, b = Conn(servers[0].port), Conn(servers[1].port)
    for c in (a, b):
        c.call("FLUSHALL")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def same(pair, *args):
    a, b = pair
    x, y = a.call(*args), b.call(*args)
    assert x == y, (args, x, y)
    return x


DATA = [
    ["SET", "s", "hello"], ["SET", "n", "123"], ["SET", "big", "x" * 100], ["SET", "neg", "-5"],
    ["RPUSH", "l", "a", "b", "1", "2"], ["SADD", "si", "1", "2", "3"], ["SADD", "ss", "a", "b", "c"],
    ["HSET", "h", "f", "v", "g", "w"], ["ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "0.1", "e"],
    ["XADD", "st", "1-1", "a", "1", "b", "2"], ["XADD", "st", "2-5", "c", "3"], ["SET", "e", "x", "EX", "1000"],
    ["HSET", "hbig", *[f"f{i}" if j == 0 else "v" * 70 for i in range(200) for j in range(2)]],
    ["ZADD", "zbig", *[str(x) for i in range(200) for x in (i * 1.5, f"m{i}")]],
    ["SADD", "sbig", *[f"member{i}" for i in range(300)]],
    ["RPUSH", "lbig", *[f"item{i}" * 10 for i in range(300)]],
    ["SELECT", "5"], ["SET", "other", "1"], ["SELECT", "0"],
]


def test_digest_matches_redis(pair):
    assert same(pair, "DEBUG", "DIGEST") == ("simple", b"0" * 40)
    for args in DATA:
        same(pair, *args)
    digest = same(pair, "DEBUG", "DIGEST")
    assert digest[1] != b"0" * 40
    keys = ["s", "n", "big", "neg", "l", "si", "ss", "h", "z", "st", "e", "hbig", "zbig", "sbig", "lbig", "nokey"]
    same(pair, "DEBUG", "DIGEST-VALUE", *keys)
    same(pair, "DEBUG", "DIGEST-VALUE")
    # Order matters for lists, not for sets; a TTL changes the digest, its value does not.
    same(pair, "LSET", "l", "0", "z")
    same(pair, "SREM", "ss", "a")
    same(pair, "SADD", "ss", "a")
    same(pair, "PERSIST", "e")
    same(pair, "EXPIRE", "s", "500")
    assert same(pair, "DEBUG", "DIGEST") != digest


def test_digest_after_moves_between_databases(pair):
    for args in (["SET", "k", "v"], ["MOVE", "k", "3"], ["SWAPDB", "0", "3"], ["DEBUG", "DIGEST"],
                 ["SELECT", "3"], ["DEBUG", "DIGEST-VALUE", "k"], ["SELECT", "0"], ["DEBUG", "DIGEST-VALUE", "k"]):
        same(pair, *args)


def test_populate(pair):
    for args in (["DEBUG", "POPULATE", "10"], ["DBSIZE"], ["GET", "key:3"], ["DEBUG", "POPULATE", "5", "p"],
                 ["GET", "p:4"], ["DEBUG", "POPULATE", "3", "q", "20"], ["GET", "q:2"], ["STRLEN", "q:2"],
                 ["DEBUG", "POPULATE", "3", "r", "3"], ["GET", "r:1"], ["SET", "key:1", "mine"],
                 ["DEBUG", "POPULATE", "12"], ["GET", "key:1"], ["DBSIZE"], ["DEBUG", "POPULATE", "0"],
                 ["DEBUG", "POPULATE", "-1"], ["DEBUG", "POPULATE", "x"], ["DEBUG", "POPULATE", "2", "p", "-1"],
                 ["DEBUG", "POPULATE", "2", "p", "y"], ["DEBUG", "POPULATE", "2", "a" * 200],
                 ["DEBUG", "POPULATE", "1", "p", "1", "extra"], ["DEBUG", "DIGEST"], ["INFO", "keyspace"]):
        same(pair, *args)
    a, b = pair
    assert sorted(a.call("KEYS", "aaaa*")[1]) == sorted(b.call("KEYS", "aaaa*")[1])
    # A count no memory could hold is refused at once (redis-server would try, and run for hours).
    assert a.call("DEBUG", "POPULATE", "1000000000000") == ("err", b"ERR OOM in dictTryExpand")
    assert a.call("PING") == ("simple", b"PONG")


@pytest.mark.parametrize("resp", [2, 3])
def test_protocol_samples(pair, resp):
    for c in pair:
        c.call("HELLO", str(resp))
    for t in ("string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
              "verbatim", "true", "false", "nope", "STRING"):
        same(pair, "DEBUG", "PROTOCOL", t)
        if t in ("push", "attrib") and resp == 3:
            same(pair, "PING")
    same(pair, "DEBUG", "PROTOCOL")


def test_error_and_change_repl_id(pair):
    for args in (["DEBUG", "ERROR", "boom"], ["DEBUG", "ERROR", "-CUSTOM code"], ["DEBUG", "ERROR", ""],
                 ["DEBUG", "CHANGE-REPL-ID"], ["DEBUG", "CHANGE-REPL-ID", "x"], ["DEBUG", "NOPE"]):
        same(pair, *args)
    a, _ = pair
    before = a.call("INFO", "replication")[1]
    a.call("DEBUG", "CHANGE-REPL-ID")
    after = a.call("INFO", "replication")[1]
    field = [line for line in before.split(b"\r\n") if line.startswith(b"master_replid:")]
    assert field and field[0] not in after
    assert b"master_replid2:" + b"0" * 40 in after
