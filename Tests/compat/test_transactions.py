"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, compared reply by reply with redis-server 7.0."""
import time

import pytest

from support.resp import Conn, same_replies


@pytest.fixture
def pair(lunar_server, redis_server):
    """(lunar, redis) raw connections on flushed servers; extra connections via .port."""
    conns = []

    def open_both():
        a, b = Conn(lunar_server.port), Conn(redis_server.port)
        conns.extend([a, b])
        return a, b

    a, b = open_both()
    for c in (a, b):
        c.call("FLUSHALL")
    yield a, b, open_both
    for c in conns:
        c.close()


run = same_replies


def has(conn, name):
    return conn.call("COMMAND", "INFO", name)[1][0][0] == "array"


def test_basic_exec(pair):
    a, b, _ = pair
    out = run((a, b), ["MULTI"], ["SET", "k", "1"], ["GET", "k"], ["PING"], ["ECHO", "x"], ["EXEC"])
    assert out[1] == ("simple", b"QUEUED")
    assert out[-1] == ("array", [("simple", b"OK"), ("bulk", b"1"), ("simple", b"PONG"), ("bulk", b"x")])


def test_empty_exec_and_discard(pair):
    a, b, _ = pair
    run((a, b), ["MULTI"], ["EXEC"], ["MULTI"], ["SET", "k", "v"], ["DISCARD"], ["GET", "k"], ["EXEC"], ["DISCARD"])


def test_errors_outside_and_nested(pair):
    a, b, _ = pair
    run((a, b), ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "k"], ["SET", "k", "v"], ["EXEC"], ["GET", "k"])


def test_execabort_on_queue_errors(pair):
    a, b, _ = pair
    out = run((a, b), ["MULTI"], ["SET", "k", "v"], ["GET"], ["NOSUCHCOMMAND", "x"], ["SET", "k2", "v"], ["EXEC"], ["EXISTS", "k"] if has(a, "exists") else ["GET", "k"])
    assert out[5][0] == "err" and out[5][1].startswith(b"EXECABORT")
    # After EXECABORT the client is out of MULTI.
    run((a, b), ["EXEC"], ["SET", "k", "w"], ["GET", "k"])


def test_no_multi_commands_abort(pair):
    a, b, _ = pair
    run((a, b), ["MULTI"], ["SAVE"], ["SET", "k", "v"], ["EXEC"], ["GET", "k"])


def test_runtime_errors_do_not_abort_others(pair):
    a, b, _ = pair
    run((a, b), ["SET", "s", "abc"], ["MULTI"], ["SET", "k", "1"], ["SELECT", "99"], ["SELECT", "x"],
        ["CONFIG", "SET", "nosuch", "1"], ["GET", "k"], ["EXEC"], ["GET", "k"])
    if has(a, "incr"):
        run((a, b), ["MULTI"], ["INCR", "s"], ["SET", "k", "2"], ["EXEC"], ["GET", "k"])


def test_select_inside_multi_persists(pair):
    a, b, _ = pair
    run((a, b), ["MULTI"], ["SELECT", "3"], ["SET", "k", "in3"], ["EXEC"], ["GET", "k"], ["SELECT", "0"], ["GET", "k"])


def test_watch_untouched_key_execs(pair):
    a, b, _ = pair
    run((a, b), ["SET", "k", "1"], ["WATCH", "k", "other"], ["MULTI"], ["SET", "k", "2"], ["EXEC"], ["GET", "k"])


def test_watch_tripped_by_other_client(pair):
    a, b, open_both = pair
    a2, b2 = open_both()
    run((a, b), ["SET", "k", "1"], ["WATCH", "k"])
    run((a2, b2), ["SET", "k", "2"])
    out = run((a, b), ["MULTI"], ["SET", "k", "3"], ["EXEC"], ["GET", "k"])
    assert out[2] == ("nullarray",)
    assert out[3] == ("bulk", b"2")


def test_watch_missing_key_created_by_other(pair):
    a, b, open_both = pair
    a2, b2 = open_both()
    run((a, b), ["WATCH", "nk"])
    run((a2, b2), ["SET", "nk", "x"])
    run((a, b), ["MULTI"], ["GET", "nk"], ["EXEC"])


def test_watch_own_write_before_multi_trips(pair):
    a, b, _ = pair
    run((a, b), ["WATCH", "k"], ["SET", "k", "mine"], ["MULTI"], ["GET", "k"], ["EXEC"])


def test_unwatch_and_discard_forget_watches(pair):
    a, b, open_both = pair
    a2, b2 = open_both()
    run((a, b), ["WATCH", "k"], ["UNWATCH"])
    run((a2, b2), ["SET", "k", "2"])
    run((a, b), ["MULTI"], ["GET", "k"], ["EXEC"])
    run((a, b), ["WATCH", "k"], ["MULTI"], ["DISCARD"])
    run((a2, b2), ["SET", "k", "3"])
    run((a, b), ["MULTI"], ["GET", "k"], ["EXEC"])


def test_watch_tripped_by_expiry(pair):
    a, b, _ = pair
    run((a, b), ["SET", "k", "v"])
    if not has(a, "pexpire"):
        pytest.skip("PEXPIRE not implemented yet")
    run((a, b), ["PEXPIRE", "k", "100"], ["WATCH", "k"])
    time.sleep(0.3)
    out = run((a, b), ["MULTI"], ["SET", "other", "1"], ["EXEC"])
    assert out[2] == ("nullarray",)


def test_watch_tripped_by_flushdb_and_flushall(pair):
    a, b, open_both = pair
    a2, b2 = open_both()
    for flush in (["FLUSHDB"], ["FLUSHALL"]):
        run((a, b), ["SET", "k", "1"], ["WATCH", "k"])
        run((a2, b2), flush)
        out = run((a, b), ["MULTI"], ["PING"], ["EXEC"])
        assert out[2] == ("nullarray",)
    # Flushing a database where the watched key does not exist does not trip the watch.
    run((a, b), ["WATCH", "absent"])
    run((a2, b2), ["FLUSHDB"])
    run((a, b), ["MULTI"], ["PING"], ["EXEC"])


def test_watch_tripped_by_swapdb(pair):
    a, b, open_both = pair
    a2, b2 = open_both()
    # Key exists in the watched db.
    run((a, b), ["SET", "k", "1"], ["WATCH", "k"])
    run((a2, b2), ["SWAPDB", "0", "1"])
    run((a, b), ["MULTI"], ["GET", "k"], ["EXEC"])
    run((a2, b2), ["SWAPDB", "0", "1"], ["FLUSHALL"])
    # Key exists only in the other db: it appears in the watched one.
    run((a2, b2), ["SELECT", "1"], ["SET", "k", "from1"])
    run((a, b), ["WATCH", "k"])
    run((a2, b2), ["SWAPDB", "1", "0"])
    run((a, b), ["MULTI"], ["GET", "k"], ["EXEC"])
    # Neither side has the key: not tripped.
    run((a, b), ["WATCH", "zz"])
    run((a2, b2), ["SWAPDB", "0", "1"])
    run((a, b), ["MULTI"], ["GET", "zz"], ["EXEC"])


def test_queued_commands_keep_wrong_arity_rules(pair):
    a, b, _ = pair
    run((a, b), ["MULTI"], ["PING", "a", "b"], ["EXEC"])


def test_reset_leaves_multi(pair):
    a, b, _ = pair
    run((a, b), ["MULTI"], ["SET", "k", "v"], ["RESET"], ["EXEC"], ["GET", "k"])


def test_exec_in_resp3(lunar_server):
    c = Conn(lunar_server.port)
    try:
        c.call("HELLO", "3")
        c.call("FLUSHALL")
        c.call("WATCH", "k")
        c.call("SET", "k", "x")
        c.call("MULTI")
        c.call("GET", "k")
        assert c.call("EXEC") == ("null",)
        c.call("MULTI")
        c.call("GET", "missing")
        c.call("CONFIG", "GET", "maxmemory")
        assert c.call("EXEC") == ("array", [("null",), ("map", [(("bulk", b"maxmemory"), ("bulk", b"0"))])])
    finally:
        c.close()


def test_blocking_command_in_multi_answers_at_once(pair):
    a, b, _ = pair
    if not has(a, "blpop"):
        pytest.skip("BLPOP not implemented yet")
    run((a, b), ["MULTI"], ["BLPOP", "nolist", "0"], ["EXEC"])


def test_push_inside_exec_wakes_blocked_client(lunar_server):
    c1, c2 = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        if not has(c1, "blpop") or not has(c1, "lpush"):
            pytest.skip("lists not implemented yet")
        c1.call("DEL", "q")
        c1.send_raw(Conn.encode(["BLPOP", "q", "5"]))
        time.sleep(0.2)
        c2.call("MULTI")
        c2.call("LPUSH", "q", "a")
        c2.call("LPUSH", "q", "b")
        assert c2.call("EXEC") == ("array", [("int", 1), ("int", 2)])
        assert c1.read() == ("array", [("bulk", b"q"), ("bulk", b"b")])
        assert c2.call("LRANGE", "q", "0", "-1") == ("array", [("bulk", b"a")])
    finally:
        c1.close()
        c2.close()


def test_transaction_counts_in_commandstats(r):
    r.execute_command("CONFIG", "RESETSTAT")
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.get("a")
    assert p.execute() == [True, b"1"]
    stats = r.info("commandstats")
    assert stats["cmdstat_exec"]["calls"] == 1
    assert stats["cmdstat_set"]["calls"] == 1
    assert stats["cmdstat_multi"]["calls"] == 1


def test_redis_py_watch_pipeline(r):
    import redis
    r.set("counter", "5")
    with r.pipeline() as p:
        p.watch("counter")
        v = int(p.get("counter"))
        p.multi()
        p.set("counter", v + 1)
        p.execute()
    assert r.get("counter") == b"6"
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], protocol=2)
    with r.pipeline() as p:
        p.watch("counter")
        other.set("counter", "100")
        p.multi()
        p.set("counter", "7")
        with pytest.raises(redis.WatchError):
            p.execute()
    other.close()
    assert r.get("counter") == b"100"
