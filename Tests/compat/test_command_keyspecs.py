"""COMMAND INFO (every field: flags, tips, key specs, subcommands) for every command Lunar has must equal
redis-server 7.0's, in RESP2 and RESP3; COMMAND GETKEYS / GETKEYSANDFLAGS must give the same keys, flags
and errors for the same command lines."""
import pytest

from support.resp import Conn


def _name(e):
    return e[1][0][1].decode()


def _info_by_name(conn, names):
    reply = conn.call("COMMAND", "INFO", *names)
    return {_name(e): e for e in reply[1] if e[0] == "array"}


@pytest.fixture(scope="module")
def names(lunar_server):
    c = Conn(lunar_server.port)
    try:
        return sorted(_name(e) for e in c.call("COMMAND")[1])
    finally:
        c.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_command_info_identical(lunar_server, redis_server, names, proto):
    lc, rc = Conn(lunar_server.port), Conn(redis_server.port)
    try:
        if proto == 3:
            lc.call("HELLO", "3")
            rc.call("HELLO", "3")
        lunar = _info_by_name(lc, names)
        ref = _info_by_name(rc, names)
    finally:
        lc.close()
        rc.close()
    assert len(lunar) == len(names) > 100
    bad = []
    for n in names:
        a, b = lunar[n], ref.get(n)
        if b is None:
            bad.append(f"{n}: unknown to redis")
            continue
        # Fields 0..9; field 9 (subcommands) compared whole, so subcommands' specs are covered too.
        for i, field in enumerate(["name", "arity", "flags", "first", "last", "step", "acl", "tips", "keyspecs", "subcommands"]):
            x, y = a[1][i], b[1][i]
            if field in ("flags", "acl", "tips"):
                x, y = (x[0], sorted(x[1])), (y[0], sorted(y[1]))
            if field == "subcommands":
                x = sorted(x[1], key=_name)
                y = sorted(y[1], key=_name)
                # Compare only the subcommands Lunar has (its own set is checked in test_command_table).
                have = {_name(s) for s in x}
                y = [s for s in y if _name(s) in have]
                x = [_normalize(s) for s in x]
                y = [_normalize(s) for s in y]
            if x != y:
                bad.append(f"{n} {field}:\n  lunar {x!r}\n  redis {y!r}")
    assert bad == [], f"{len(bad)} differences:\n" + "\n".join(bad)


def _normalize(entry):
    """A subcommand entry with its unordered sets sorted."""
    items = list(entry[1])
    for i in (2, 6, 7):
        items[i] = (items[i][0], sorted(items[i][1]))
    return items


GETKEYS_LINES = [
    ["GET", "k"], ["SET", "k", "v"], ["SET", "k", "v", "GET"], ["SET", "k", "v", "EX", "10", "get"],
    ["MSET", "a", "1", "b", "2"], ["MSET", "a", "1", "b"], ["DEL", "a", "b", "c"], ["EXISTS", "a", "b"],
    ["COPY", "a", "b"], ["RENAME", "a", "b"], ["LMOVE", "a", "b", "LEFT", "RIGHT"], ["BLPOP", "a", "b", "0"],
    ["ZUNIONSTORE", "d", "2", "a", "b"], ["ZUNIONSTORE", "d", "3", "a", "b"], ["ZUNIONSTORE", "d", "x", "a"],
    ["ZUNIONSTORE", "d", "-1", "a"], ["ZUNION", "2", "a", "b"], ["ZINTERCARD", "1", "a"], ["ZDIFF", "0", "a"],
    ["SINTERCARD", "2", "a", "b", "LIMIT", "1"], ["LMPOP", "2", "a", "b", "LEFT"], ["BLMPOP", "0", "1", "a", "LEFT"],
    ["ZMPOP", "1", "a", "MIN"], ["EVAL", "return 1", "2", "a", "b", "c"], ["EVAL", "return 1", "0"],
    ["EVAL", "return 1", "5", "a"], ["EVALSHA", "abc", "1", "k"], ["EVAL_RO", "s", "1", "k"], ["FCALL", "f", "1", "k", "a"],
    ["FCALL_RO", "f", "0"], ["SORT", "k"], ["SORT", "k", "STORE", "d"], ["SORT", "k", "BY", "w_*", "GET", "o_*", "STORE", "d"],
    ["SORT_RO", "k", "BY", "x"], ["XREAD", "STREAMS", "a", "b", "0", "0"], ["XREAD", "COUNT", "2", "STREAMS", "a", "0"],
    ["XREAD", "STREAMS", "a", "b", "0"], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    ["GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d"], ["GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "d"],
    ["GEORADIUSBYMEMBER", "k", "m", "1", "km"], ["GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
    ["BITOP", "AND", "d", "a", "b"], ["BITFIELD", "k", "GET", "u8", "0"], ["BITFIELD", "k", "SET", "u8", "0", "1"],
    ["BITFIELD", "k", "GET", "u8", "0", "INCRBY", "u8", "0", "1"], ["BITFIELD_RO", "k", "GET", "u8", "0"],
    ["OBJECT", "ENCODING", "k"], ["MEMORY", "USAGE", "k"], ["XINFO", "STREAM", "s"], ["XGROUP", "CREATE", "s", "g", "$"],
    ["PFMERGE", "d", "a", "b"], ["SMOVE", "a", "b", "m"], ["RPOPLPUSH", "a", "b"], ["WATCH", "a", "b"],
    ["SPUBLISH", "ch", "m"], ["SSUBSCRIBE", "a"], ["PUBLISH", "ch", "m"], ["PING"], ["CONFIG", "GET", "x"],
    ["CONFIG", "NOPE", "x"], ["NOPE", "x"], ["GET"], ["GET", "a", "b"], ["TOUCH", "a"], ["UNLINK", "a", "b"],
    ["GETEX", "k", "PERSIST"], ["GETDEL", "k"], ["HSET", "h", "f", "v"], ["SINTERSTORE", "d", "a", "b"],
    ["XADD", "s", "*", "f", "v"], ["ZRANGESTORE", "d", "s", "0", "1"], ["SWAPDB", "0", "1"], ["KEYS", "*"],
]


@pytest.mark.parametrize("sub", ["GETKEYS", "GETKEYSANDFLAGS"])
@pytest.mark.parametrize("proto", [2, 3])
def test_getkeys_identical(lunar_server, redis_server, sub, proto):
    lc, rc = Conn(lunar_server.port), Conn(redis_server.port)
    try:
        if proto == 3:
            lc.call("HELLO", "3")
            rc.call("HELLO", "3")
        bad = []
        for line in GETKEYS_LINES + [[]]:
            a, b = lc.call("COMMAND", sub, *line), rc.call("COMMAND", sub, *line)
            if a != b:
                bad.append(f"{line}: lunar {a!r} redis {b!r}")
        assert bad == [], "\n".join(bad)
    finally:
        lc.close()
        rc.close()
