"""The command table against Redis 7.0: for every command (and subcommand) both servers know,
COMMAND INFO must report the same arity, flags, key positions and ACL categories.
Lunar's commands come from its own COMMAND reply, so this covers whatever is implemented."""
import pytest

from support.resp import Conn


def _text(v):
    return v[1].decode() if v[0] in ("bulk", "simple", "verbatim") else v


def _entries(reply):
    """COMMAND / COMMAND INFO entries (nulls skipped), flattened with their subcommands, by full name."""
    out = {}

    def add(e):
        items = e[1]
        name = _text(items[0])
        out[name] = {
            "arity": items[1][1],
            "flags": sorted(_text(f) for f in items[2][1]),
            "keys": (items[3][1], items[4][1], items[5][1]),
            "acl": sorted(_text(c) for c in items[6][1]),
            "subcommands": [_text(s[1][0]) for s in items[9][1]],
        }
        for s in items[9][1]:
            add(s)

    for e in reply[1]:
        if e[0] == "array":
            add(e)
    return out


@pytest.fixture(scope="module")
def tables(lunar_server, redis_server):
    lc, rc = Conn(lunar_server.port), Conn(redis_server.port)
    try:
        lunar_reply = lc.call("COMMAND")
        lunar = _entries(lunar_reply)
        names = [n for n in lunar if "|" not in n]
        ref = _entries(rc.call("COMMAND", "INFO", *names))
        count = lc.call("COMMAND", "COUNT")
        listed = [_text(x) for x in lc.call("COMMAND", "LIST")[1]]
    finally:
        lc.close()
        rc.close()
    return lunar, ref, lunar_reply, count, listed


def _compare(field, tables):
    lunar, ref, *_ = tables
    bad = []
    for name, info in sorted(lunar.items()):
        if name not in ref:
            continue
        if info[field] != ref[name][field]:
            bad.append(f"{name}: lunar {info[field]!r} redis {ref[name][field]!r}")
    return bad


def test_lunar_has_commands(tables):
    lunar, ref, *_ = tables
    assert len(lunar) > 20
    # Everything Lunar implements is a Redis 7.0 command.
    unknown = [n for n in lunar if "|" not in n and n not in ref]
    assert unknown == []


@pytest.mark.parametrize("field", ["arity", "flags", "keys"])
def test_command_info_matches_redis(tables, field):
    bad = _compare(field, tables)
    assert bad == [], f"{len(bad)} commands differ in {field}:\n" + "\n".join(bad)


def test_acl_categories_match_redis(tables):
    bad = _compare("acl", tables)
    assert bad == [], f"{len(bad)} commands differ in ACL categories:\n" + "\n".join(bad)


def test_subcommands_are_redis_subcommands(tables):
    lunar, ref, *_ = tables
    bad = []
    for name, info in lunar.items():
        if name in ref:
            extra = set(info["subcommands"]) - set(ref[name]["subcommands"])
            if extra:
                bad.append(f"{name}: {sorted(extra)}")
    assert bad == []


def test_command_count_is_number_of_commands(tables):
    lunar, ref, reply, count, listed = tables
    top = [n for n in lunar if "|" not in n]
    assert count == ("int", len(reply[1]))
    assert count[1] == len(top)
    # COMMAND LIST names every command and subcommand once.
    assert sorted(listed) == sorted(lunar)


def test_every_listed_command_dispatches(lunar_server):
    """Each command in COMMAND's reply is known to dispatch: a call with too many or too few
    arguments gets an arity error, never 'unknown command'."""
    c = Conn(lunar_server.port)
    try:
        entries = _entries(c.call("COMMAND"))
        for name, info in entries.items():
            if "|" in name or info["subcommands"]:
                continue
            arity = info["arity"]
            if arity > 0:
                args = [name] + ["x"] * arity     # one too many
            elif arity < -1:
                args = [name] + ["x"] * (-arity - 2)   # one too few
            else:
                continue
            reply = c.call(*args)
            assert reply[0] == "err", (name, reply)
            assert b"wrong number of arguments" in reply[1], (name, reply)
    finally:
        c.close()
