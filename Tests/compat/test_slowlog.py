"""SLOWLOG against redis-server 7.0: what gets logged (EXEC's and scripts' commands one by one, not EXEC
itself, passwords redacted, arguments cut at 32 and 128 bytes), slowlog-max-len and -log-slower-than,
and the replies of GET/LEN/RESET/HELP."""
import pytest

from support.resp import Conn, same_replies
from support.servers import connected_pair


@pytest.fixture
def pair():
    with connected_pair() as conns:
        yield conns


def logged(c, count=-1):
    """SLOWLOG GET as (argv, peer kind, client name) per entry, newest first; ids must count down."""
    kind, entries = c.call("SLOWLOG", "GET", str(count))
    assert kind == "array"
    out, ids = [], []
    for e in entries:
        fields = e[1]
        assert [f[0] for f in fields] == ["int", "int", "int", "array", "bulk", "bulk"], fields
        ids.append(fields[0][1])
        assert fields[2][1] >= 0
        peer = fields[4][1]
        out.append(([x[1] for x in fields[3][1]], "script" if peer == b"?:0" else "client", fields[5][1]))
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    return out


def test_what_is_logged_matches_redis(pair):
    a, b = pair
    for c in (a, b):
        assert c.call("CONFIG", "SET", "slowlog-log-slower-than", "0") == ("simple", b"OK")
        c.call("SLOWLOG", "RESET")
        for cmd in (["MULTI"], ["SET", "a", "1"], ["INCR", "n"], ["EXEC"],
                    ["EVAL", "redis.call('set', 'x', 'y') return redis.call('get', 'x')", "0"],
                    ["AUTH", "nosuchpassword"], ["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "nm"],
                    ["CLIENT", "SETNAME", "myname"], ["SET", "long", "v" * 300],
                    ["ACL", "SETUSER", "slowlog test user", "+get", "+set"], ["ACL", "DELUSER", "slowlog test user"],
                    ["CONFIG", "SET", "masterauth", "pw", "maxmemory-policy", "noeviction"], ["CONFIG", "SET", "masterauth", ""],
                    ["RPUSH", "many"] + [str(i) for i in range(40)]):
            c.call(*cmd)
    la, lb = logged(a), logged(b)
    assert la == lb
    flat = [e[0] for e in la]
    assert [b"auth", b"(redacted)"] in [[x.lower() for x in e] for e in flat]
    assert [b"acl", b"setuser", b"(redacted)", b"(redacted)", b"(redacted)"] in [[x.lower() for x in e] for e in flat]
    assert any(e[-1] == b"... (11 more arguments)" for e in flat)
    assert any(e[-1].endswith(b"... (172 more bytes)") for e in flat)
    assert not any(e[0].upper() == b"EXEC" for e in flat)
    assert any(kind == "script" for _, kind, _ in la)


def test_limits_and_replies_match_redis(pair):
    a, b = pair
    same_replies((a, b), ["CONFIG", "SET", "slowlog-log-slower-than", "0"], ["CONFIG", "SET", "slowlog-max-len", "3"],
                 ["SLOWLOG", "RESET"], ["PING"], ["PING"], ["PING"], ["PING"], ["PING"], ["SLOWLOG", "LEN"],
                 ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "x"], ["SLOWLOG", "GET", "1", "2"], ["SLOWLOG", "LEN", "x"],
                 ["SLOWLOG", "BOGUS"], ["SLOWLOG"], ["SLOWLOG", "HELP"], ["SLOWLOG", "RESET"], ["SLOWLOG", "LEN"],
                 ["CONFIG", "SET", "slowlog-log-slower-than", "-1"], ["PING"], ["SLOWLOG", "LEN"],
                 ["CONFIG", "SET", "slowlog-log-slower-than", "10000000"], ["PING"], ["SLOWLOG", "LEN"])
    # GET with a count returns that many, newest first.
    for c in (a, b):
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("CONFIG", "SET", "slowlog-max-len", "128")
        c.call("SLOWLOG", "RESET")
        for i in range(5):
            c.call("ECHO", str(i))
    assert logged(a, 2) == logged(b, 2) == [([b"ECHO", b"4"], "client", b""), ([b"ECHO", b"3"], "client", b"")]
