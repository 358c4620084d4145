"""CLIENT TRACKING (server-assisted client-side caching) against redis-server 7.0: the same scenario
runs on both servers and every reply and invalidation message is compared (client ids aside).
(redis-py's own client-side cache needs a server that reports 7.4 or later, so it does not engage.)"""
import time

import pytest

from support.resp import Conn
from support.servers import lunar_and_redis


@pytest.fixture
def pair():
    with lunar_and_redis() as servers:
        yield servers


def drain(c, t=0.3):
    """Everything the connection has received within `t` seconds."""
    out = []
    c.sock.settimeout(t)
    try:
        while True:
            out.append(c.read())
    except OSError:
        pass
    finally:
        c.sock.settimeout(10)
    return out


def scenario(port):
    log = []
    a, b = Conn(port), Conn(port)
    a.call("HELLO", "3")
    say = log.append
    say([a.call("CLIENT", "TRACKING", "ON"), a.call("CLIENT", "TRACKINGINFO"), a.call("CLIENT", "GETREDIR")])
    say([a.call("GET", "k"), a.call("MGET", "k", "k2")])
    say([b.call("SET", "k", "1"), drain(a)])
    say([b.call("SET", "k", "2"), drain(a)])                    # forgotten until read again
    say(a.call("GET", "k"))
    a.send_raw(Conn.encode(["SET", "k", "3"]))
    say(drain(a))                                                # own write: reply, then invalidation
    say([a.call("GET", "k"), a.call("GET", "k2")])
    a.send_raw(Conn.encode(["MULTI"]) + Conn.encode(["SET", "k", "4"]) + Conn.encode(["SET", "k2", "4"]) + Conn.encode(["EXEC"]))
    say(drain(a))
    say(a.call("GET", "k"))
    a.send_raw(Conn.encode(["EVAL", "redis.call('set','k','5') return 1", "0"]))
    say(drain(a))
    say(a.call("GET", "k"))
    say([b.call("FLUSHALL"), drain(a)])
    say([a.call("GET", "k"), b.call("SET", "k", "1", "PX", "50")])
    time.sleep(0.3)                                              # expired by the active cycle
    say([drain(a), b.call("GET", "k"), drain(a)])
    say(a.call("CLIENT", "TRACKING", "ON", "BCAST"))
    say(a.call("CLIENT", "TRACKING", "OFF"))
    for args in (["CLIENT", "TRACKING", "ON", "PREFIX", "x"], ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
                 ["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], ["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"],
                 ["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
                 ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"], ["CLIENT", "TRACKING", "FOO"],
                 ["CLIENT", "TRACKING", "ON", "BAR"], ["CLIENT", "CACHING", "yes"], ["CLIENT", "TRACKINGINFO"],
                 ["CLIENT", "TRACKING"], ["CLIENT", "CACHING"], ["CLIENT", "TRACKINGINFO", "x"]):
        say(a.call(*args))
    say([a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:", "NOLOOP"), a.call("CLIENT", "TRACKINGINFO")])
    say(a.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:1"))
    say([b.call("SET", "user:1", "x"), b.call("SET", "obj:1", "x"), b.call("SET", "other", "x"),
         b.call("MSET", "user:3", "z", "user:2", "y"), drain(a)])
    a.send_raw(Conn.encode(["SET", "user:9", "x"]))
    say(drain(a))                                                # NOLOOP: own writes are not announced
    say(a.call("CLIENT", "TRACKING", "ON", "OPTIN"))
    say([a.call("CLIENT", "TRACKING", "OFF"), a.call("CLIENT", "TRACKING", "ON", "OPTIN"), a.call("CLIENT", "CACHING", "no"),
         a.call("CLIENT", "CACHING", "yes"), a.call("CLIENT", "TRACKINGINFO"), a.call("GET", "o1"), a.call("GET", "o2")])
    say([b.call("SET", "o1", "1"), b.call("SET", "o2", "1"), drain(a)])
    say([a.call("CLIENT", "TRACKING", "OFF"), a.call("CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP"),
         a.call("CLIENT", "CACHING", "no"), a.call("GET", "p1"), a.call("GET", "p2")])
    a.send_raw(Conn.encode(["SET", "p2", "own"]))
    say([drain(a), b.call("SET", "p1", "1"), b.call("SET", "p2", "1"), drain(a)])
    # A RESP2 connection subscribed to __redis__:invalidate receives another client's invalidations.
    c = Conn(port)
    cid = c.call("CLIENT", "ID")[1]
    c.call("SUBSCRIBE", "__redis__:invalidate")
    d = Conn(port)
    say([d.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(cid)), d.call("GET", "r"),
         d.call("CLIENT", "GETREDIR") == ("int", cid)])
    say([b.call("SET", "r", "1"), drain(c), b.call("FLUSHDB"), drain(c)])
    say(d.call("GET", "r"))
    c.close()
    time.sleep(0.1)
    say([b.call("SET", "r", "2"), d.call("CLIENT", "TRACKINGINFO")[1][:2], d.call("PING")])
    info = b.call("INFO", "everything")[1].decode()
    say(sorted(line for line in info.split("\r\n") if line.startswith("tracking_")))
    listing = b.call("CLIENT", "LIST")[1].decode()
    say(sorted(x.split(" flags=")[1].split()[0] for x in listing.strip().split("\n")))
    for x in (a, b, d):
        x.close()
    return log


def test_tracking_scenario_matches_redis(pair):
    lunar, ref = pair
    x, y = scenario(lunar.port), scenario(ref.port)
    for i, (p, q) in enumerate(zip(x, y)):
        assert p == q, f"step {i}:\n  lunar: {p!r}\n  redis: {q!r}"
    assert len(x) == len(y)
    assert x[2][1] == [("push", [("bulk", b"invalidate"), ("array", [("bulk", b"k")])])]


def test_tracking_table_max_keys_evicts_with_invalidations(pair):
    out = []
    for srv in pair:
        a, b = Conn(srv.port), Conn(srv.port)
        a.call("HELLO", "3")
        b.call("CONFIG", "SET", "tracking-table-max-keys", "3")
        a.call("CLIENT", "TRACKING", "ON")
        a.send_raw(b"".join(Conn.encode(["GET", f"t{i}"]) for i in range(5)))
        got = [m for m in drain(a, 0.3) if m[0] == "push"]
        keys = {k[1] for m in got for k in m[1][1][1]}
        info = b.call("INFO", "stats")[1].decode()
        total = [l for l in info.split("\r\n") if l.startswith("tracking_total_keys")][0]
        out.append((len(got), len(keys), total))
        a.close()
        b.close()
    assert out[0] == out[1] == (2, 2, "tracking_total_keys:3")


def script_and_blocking_scenario(port):
    """Reads inside scripts, a served BLMOVE, and a lowered tracking-table-max-keys."""
    log = []
    say = log.append
    a, b = Conn(port), Conn(port)
    a.call("HELLO", "3")
    a.call("CLIENT", "TRACKING", "ON")
    # A script that only writes tracks nothing; one that reads tracks the keys it declared (not
    # the key it read); EVAL_RO of a command that is not a read tracks nothing either.
    say([a.call("EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"), b.call("MSET", "k1", "1", "k2", "1"), drain(a)])
    say([a.call("EVAL", "return redis.call('get', 'k3')", "2", "k1", "k2"), b.call("MSET", "k2", "2", "k1", "2"), drain(a)])
    say([b.call("SET", "k3", "x"), drain(a)])
    say([a.call("EVAL_RO", "return redis.call('ping')", "2", "k1", "k2"), b.call("MSET", "k1", "3", "k2", "3"), drain(a)])
    say([a.call("EVAL_RO", "return redis.call('get', 'k1')", "2", "k1", "k2"), b.call("MSET", "k2", "4", "k1", "4"), drain(a)])
    say([a.call("FCALL_RO", "tr_get", "1", "k1"), b.call("SET", "k1", "5"), drain(a)])
    # A BLMOVE served later writes its destination: its client learns it after the reply.
    say([b.call("RPUSH", "l2", "a"), a.call("LRANGE", "l2", "0", "-1")])
    a.send_raw(Conn.encode(["BLMOVE", "l1", "l2", "left", "left", "0"]))
    time.sleep(0.1)
    say([b.call("RPUSH", "l1", "foo"), drain(a)])
    # A lower limit applies at the next command, even one queued in MULTI, and from the cron.
    b.call("CONFIG", "SET", "tracking-table-max-keys", "2")
    say([a.call("MGET", "m1", "m2"), a.call("MULTI")])
    b.call("CONFIG", "SET", "tracking-table-max-keys", "1")
    a.send_raw(Conn.encode(["PING"]))
    got = drain(a)
    say([m[0] for m in got])
    say(a.call("EXEC"))
    say([a.call("MGET", "n1", "n2", "n3"), b.call("CONFIG", "SET", "tracking-table-max-keys", "0")])
    b.call("CONFIG", "SET", "tracking-table-max-keys", "1")
    time.sleep(0.5)
    say(len([m for m in drain(a) if m[0] == "push"]))
    b.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    a.close()
    b.close()
    return log


def test_scripts_blocking_and_table_limit_match_redis(pair):
    lib = "#!lua name=trlib\nredis.register_function{function_name='tr_get', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}"
    logs = []
    for srv in pair:
        Conn(srv.port).call("FUNCTION", "LOAD", "REPLACE", lib)
        logs.append(script_and_blocking_scenario(srv.port))
    x, y = logs
    for i, (p, q) in enumerate(zip(x, y)):
        assert p == q, f"step {i}:\n  lunar: {p!r}\n  redis: {q!r}"
    assert len(x) == len(y)
    # The declared keys were announced when the script read (both orders of MSET).
    assert x[1][2] and x[4][2]
