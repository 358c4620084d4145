"""ACL users, rules and enforcement against redis-server 7.0: the same scenario runs on both servers and
every reply must be identical (ACL LOG's clock and client line are masked)."""
import re

import pytest
import redis

from support.resp import Conn


@pytest.fixture
def pair(lunar_server, redis_server):
    servers = [lunar_server, redis_server]
    for s in servers:
        c = Conn(s.port)
        users = [u[1].decode() for u in c.call("ACL", "USERS")[1]]
        for u in users:
            if u != "default":
                c.call("ACL", "DELUSER", u)
        c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        c.call("ACL", "LOG", "RESET")
        c.call("FLUSHALL")
        c.close()
    yield servers
    for s in servers:
        c = Conn(s.port)
        # A scenario that leaves the default user off or with a password must put it back itself:
        # otherwise every later test (on a session-wide server) starts unauthenticated.
        assert c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all") == ("simple", b"OK")
        assert c.call("CONFIG", "SET", "requirepass", "") == ("simple", b"OK")
        c.close()


def _mask(reply):
    """ACL LOG entries: age and client line differ between any two servers."""
    if reply[0] == "array":
        items = reply[1]
        if len(items) == 14 and items[0] == ("bulk", b"count"):
            items = list(items)
            items[11] = ("masked",)
            items[13] = ("bulk", b" ".join(f for f in items[13][1].split() if f.split(b"=")[0] in (b"user", b"cmd", b"flags", b"db", b"multi", b"sub", b"psub")))
            return ("array", items)
        return ("array", [_mask(x) for x in items])
    if reply[0] == "map":
        return ("map", [(_mask(k), _mask(v)) for k, v in reply[1]])
    return reply


# A run of single-command rules ("+get -config|set +select|0") in ACL LIST / GETUSER: Redis emits them in
# the order of its command hash table, which is seeded at random on every start (a restarted
# redis-server lists the same user's "+get +set +hget" in a different order), so they compare as a set.
# Everything before them (+@all/-@all and the categories, chosen deterministically) compares exactly.
# Rules naming a command Lunar does not have (LOLWUT) are left out: the categories' counts include it
# on both servers only if both have it, and the category choice is what is compared.
SINGLE_RULES = re.compile(rb"[+-][^@\s()][^\s()]*(?: [+-][^@\s()][^\s()]*)*")


def _unordered_rules(reply, known):
    def fix(m):
        rules = [r for r in m.group(0).split(b" ") if r[1:].split(b"|")[0] in known]
        return b" ".join(sorted(rules))
    if reply[0] in ("bulk", "simple"):
        return (reply[0], re.sub(rb"  +", b" ", SINGLE_RULES.sub(fix, reply[1])).replace(b" )", b")").strip())
    if reply[0] in ("array", "set"):
        return (reply[0], [_unordered_rules(x, known) for x in reply[1]])
    if reply[0] == "map":
        return ("map", [(k, _unordered_rules(v, known)) for k, v in reply[1]])
    return reply


def run(pair, script, proto=2):
    """Runs `script` (lists of arguments; a string 'new' opens a new connection) on both servers."""
    conns = [Conn(s.port) for s in pair]
    known = {x[1] for x in conns[0].call("COMMAND", "LIST")[1]}   # what Lunar (pair[0]) has
    if proto == 3:
        for c in conns:
            c.call("HELLO", "3")
    bad = []
    try:
        for cmd in script:
            if cmd == "new":
                for c in conns:
                    c.close()
                conns = [Conn(s.port) for s in pair]
                continue
            a, b = (_mask(c.call(*cmd)) for c in conns)
            if [x.upper() for x in cmd[:2]] in (["ACL", "LIST"], ["ACL", "GETUSER"]):
                a, b = _unordered_rules(a, known), _unordered_rules(b, known)
            if a != b:
                bad.append(f"{cmd}: lunar {a!r} redis {b!r}")
    finally:
        for c in conns:
            c.close()
    assert bad == [], "\n".join(bad)


RULES = [
    ["+get -get"], ["+@string -@string", "+get"], ["+config|get", "+config"], ["+config", "+config|get", "-config|set"],
    ["+@all", "-get", "+get"], ["allcommands", "-@string"], ["+@STRING"], ["+select|0"], ["-select|0"], ["+config|get|x"],
    ["+nosuch"], ["+@nosuch"], ["~"], ["%X~a"], ["%~a"], ["foo"], [">"], ["#abc"], ["#" + "A" * 64], ["#" + "a" * 64],
    ["!" + "b" * 64], ["<nopw"], [">p1", ">p2", "<p1"], ["("], ["(+get"], ["(~x +get)"], ["(~x", "+get)"], ["(~x bad)"],
    ["allkeys", "~a"], ["~a", "allkeys"], ["+@all", "-@all"], ["resetkeys"], ["%RW~a", "%R~b", "%W~c"], ["%R~a", "%W~a"],
    ["&a", "allchannels"], ["allchannels", "&a"], ["nocommands", "+get"], ["on", "nopass", "resetpass"], ["off"],
    ["skip-sanitize-payload"], ["sanitize-payload"], ["(+get)", "clearselectors"], ["+@all", "-@dangerous"],
    ["-@all", "+@read", "+@write", "-@string"], ["+client|list", "+client|kill"], ["&a*", "&b", "resetchannels", "&c"],
]


@pytest.mark.parametrize("rules", RULES, ids=[" ".join(r) for r in RULES])
@pytest.mark.parametrize("proto", [2, 3])
def test_setuser_rules(pair, rules, proto):
    run(pair, [
        ["ACL", "SETUSER", "t", "reset", *rules],
        ["ACL", "GETUSER", "t"],
        ["ACL", "LIST"],
        ["ACL", "SETUSER", "n", *rules],
        ["ACL", "GETUSER", "n"],
        ["ACL", "USERS"],
    ], proto)


def test_user_management(pair):
    run(pair, [
        ["ACL", "GETUSER", "nobody"], ["ACL", "DELUSER", "nobody"], ["ACL", "DELUSER", "default"],
        ["ACL", "SETUSER", "a"], ["ACL", "SETUSER", "b", "on", ">x"], ["ACL", "USERS"],
        ["ACL", "DELUSER", "a", "b", "c"], ["ACL", "USERS"], ["ACL", "WHOAMI"],
        ["ACL", "CAT"], ["ACL", "CAT", "nope"], ["ACL", "CAT", "a", "b"], ["ACL", "GENPASS", "0"],
        ["ACL", "GENPASS", "5000"], ["ACL", "GENPASS", "x"], ["ACL", "LOG", "x"], ["ACL", "LOG", "-1"],
        ["ACL", "LOG", "1", "2"], ["ACL", "HELP"], ["ACL"], ["ACL", "NOPE"], ["ACL", "SETUSER", "x"][:2],
        ["ACL", "DRYRUN", "nobody", "get", "k"], ["ACL", "DRYRUN", "default", "nocmd", "k"],
        ["ACL", "DRYRUN", "default", "get"], ["ACL", "DRYRUN", "default", "get", "k"],
    ])


def test_cat_lists_the_commands_lunar_has(lunar_server, redis_server):
    lc, rc = Conn(lunar_server.port), Conn(redis_server.port)
    try:
        names = {x[1] for x in lc.call("COMMAND", "LIST")[1]}
        for cat in [x[1] for x in rc.call("ACL", "CAT")[1]]:
            mine = sorted(x[1] for x in lc.call("ACL", "CAT", cat)[1])
            ref = sorted(x[1] for x in rc.call("ACL", "CAT", cat)[1] if x[1] in names)
            assert mine == ref, cat
    finally:
        lc.close()
        rc.close()


def test_genpass_lengths(r):
    assert len(r.execute_command("ACL", "GENPASS")) == 64
    assert len(r.execute_command("ACL", "GENPASS", "5")) == 2
    assert len(r.execute_command("ACL", "GENPASS", "4096")) == 1024


def test_enforcement_commands_keys_channels(pair):
    run(pair, [
        ["ACL", "SETUSER", "lim", "on", ">pw", "~k*", "%R~r*", "%W~w*", "&c*", "+get", "+set", "+publish", "+eval",
         "+multi", "+exec", "+subscribe", "+psubscribe", "+select|0", "+lmove", "+copy", "+acl|whoami", "+client|id"],
        ["AUTH", "lim", "bad"], ["AUTH", "nobody", "pw"], ["AUTH", "lim", "pw"], ["ACL", "WHOAMI"],
        ["GET", "zz"], ["GET", "k1"], ["SET", "k1", "v"], ["GET", "r1"], ["SET", "r1", "v"], ["SET", "w1", "v"],
        ["GET", "w1"], ["SET", "w1", "v", "GET"], ["COPY", "r1", "w1"], ["COPY", "w1", "r1"], ["LMOVE", "k1", "r1", "LEFT", "LEFT"],
        ["HGET", "k1", "f"], ["CONFIG", "GET", "port"], ["SELECT", "0"], ["SELECT", "1"],
        ["EVAL", "return redis.call('get','zz')", "0"], ["EVAL", "return redis.pcall('hget','k','f')", "0"],
        ["EVAL", "return redis.pcall('get','zz')", "0"], ["EVAL", "return redis.pcall('publish','d','x')", "0"],
        ["EVAL", "return redis.acl_check_cmd('get','zz')", "0"], ["EVAL", "return redis.acl_check_cmd('get','k1')", "0"],
        ["EVAL", "return redis.acl_check_cmd('hget','k1','f')", "0"], ["EVAL", "return redis.acl_check_cmd('nope')", "0"],
        ["PUBLISH", "d", "x"], ["PUBLISH", "c1", "x"],
        ["MULTI"], ["GET", "zz"], ["GET", "k"], ["EXEC"],
        ["MULTI"], ["HGET", "k", "f"], ["EXEC"],
        ["ACL", "LOG", "20"],
        "new", ["ACL", "LOG", "2"], ["ACL", "DRYRUN", "lim", "get", "zz"], ["ACL", "DRYRUN", "lim", "hget", "k", "f"],
        ["ACL", "DRYRUN", "lim", "get", "k1"], ["ACL", "DRYRUN", "lim", "publish", "x", "m"],
        ["ACL", "DRYRUN", "lim", "set", "r1", "v"], ["ACL", "DRYRUN", "lim", "select", "0"],
        ["ACL", "DRYRUN", "lim", "select", "1"], ["ACL", "LOG", "RESET"], ["ACL", "LOG"],
    ])


def test_rules_changed_before_exec(pair):
    """Commands queued while allowed and refused at EXEC (another client changed the rules)."""
    seen = []
    for s in pair:
        admin, c = Conn(s.port), Conn(s.port)
        try:
            admin.call("ACL", "SETUSER", "u", "on", "nopass", "~*", "&*", "+@all")
            replies = [c.call(*cmd) for cmd in (["AUTH", "u", "x"], ["MULTI"], ["GET", "k"], ["SET", "k", "v"],
                                                  ["PUBLISH", "ch", "x"], ["GET", "j"])]
            admin.call("ACL", "SETUSER", "u", "-get", "resetkeys", "%R~k", "resetchannels")
            replies += [c.call("EXEC"), _mask(admin.call("ACL", "LOG"))]
            seen.append(replies)
        finally:
            admin.close()
            c.close()
    assert seen[0] == seen[1]


def test_selectors_enforced(pair):
    run(pair, [
        ["ACL", "SETUSER", "s", "on", "nopass", "+get", "~a*", "(+set ~b*)", "(%R~c* +@read)"],
        ["AUTH", "s", "x"], ["GET", "a1"], ["GET", "b1"], ["SET", "b1", "v"], ["SET", "a1", "v"], ["GET", "c1"],
        ["HGET", "c1", "f"], ["HGET", "d1", "f"], ["STRLEN", "a"], ["ACL", "DRYRUN", "s", "set", "c", "v"],
    ])


def test_psubscribe_needs_the_literal_pattern(pair):
    run(pair, [
        ["ACL", "SETUSER", "p", "on", "nopass", "+@all", "~*", "&news.*", "&x"],
        ["AUTH", "p", "x"], ["PSUBSCRIBE", "news.*"], "new", ["AUTH", "p", "x"], ["PSUBSCRIBE", "news.a*"],
        ["SUBSCRIBE", "news.a"], "new", ["AUTH", "p", "x"], ["SUBSCRIBE", "y"], ["SSUBSCRIBE", "x"],
    ])


def test_requirepass_is_the_default_users_password(pair):
    run(pair, [
        ["CONFIG", "SET", "requirepass", "secret"], ["ACL", "LIST"], "new", ["GET", "k"], ["AUTH", "wrong"],
        ["AUTH", "secret"], ["ACL", "WHOAMI"], "new", ["AUTH", "default", "secret"], ["HELLO", "2", "AUTH", "default", "bad"],
        ["CONFIG", "SET", "requirepass", ""], ["ACL", "LIST"], "new", ["AUTH", "x"], ["ACL", "WHOAMI"],
    ])


def test_hello_auth_with_user(pair):
    run(pair, [
        ["ACL", "SETUSER", "h", "on", ">pw", "+@all", "~*"], ["HELLO", "2", "AUTH", "h", "nope"],
        ["ACL", "WHOAMI"], ["ACL", "LOG", "1"],
    ])
    for s in pair:
        c = redis.Redis(port=s.port, username="h", password="pw", protocol=3)
        assert c.execute_command("ACL", "WHOAMI") == b"h"
        c.close()


def test_disabled_user_cannot_auth(pair):
    run(pair, [["ACL", "SETUSER", "d", "off", ">pw", "+@all"], ["AUTH", "d", "pw"], ["ACL", "SETUSER", "d", "on"],
               ["AUTH", "d", "pw"], ["ACL", "WHOAMI"], ["ACL", "SETUSER", "default", "off"], "new", ["GET", "x"],
               ["AUTH", "d", "pw"], ["GET", "x"], ["ACL", "SETUSER", "default", "on"]])


def test_deluser_disconnects_its_clients(lunar_server):
    admin = redis.Redis(port=lunar_server.port)
    admin.execute_command("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    c = redis.Redis(port=lunar_server.port, username="gone", password="pw", retry_on_timeout=False)
    c.ping()
    assert b"user=gone" in admin.execute_command("CLIENT", "LIST")
    assert admin.execute_command("ACL", "DELUSER", "gone") == 1
    assert b"user=gone" not in admin.execute_command("CLIENT", "LIST")
    with pytest.raises(redis.ConnectionError):
        c.connection_pool.get_connection("PING").send_command("PING") or c.connection_pool.get_connection("PING").read_response()


def test_client_kill_user(lunar_server):
    admin = redis.Redis(port=lunar_server.port)
    admin.execute_command("ACL", "SETUSER", "k", "on", ">pw", "+@all", "~*")
    victims = [redis.Redis(port=lunar_server.port, username="k", password="pw") for _ in range(2)]
    for v in victims:
        v.ping()
    with pytest.raises(redis.ResponseError, match="No such user"):
        admin.execute_command("CLIENT", "KILL", "USER", "nobody")
    assert admin.execute_command("CLIENT", "KILL", "USER", "k") == 2
    admin.execute_command("ACL", "DELUSER", "k")


def test_revoking_channels_disconnects_subscribers(lunar_server):
    admin = redis.Redis(port=lunar_server.port)
    admin.execute_command("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "&news")
    c = Conn(lunar_server.port)
    c.call("AUTH", "sub", "pw")
    assert c.call("SUBSCRIBE", "news")[0] == "array"
    admin.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&other")
    with pytest.raises((ConnectionError, OSError)):
        c.call("PING")
    admin.execute_command("ACL", "DELUSER", "sub")
