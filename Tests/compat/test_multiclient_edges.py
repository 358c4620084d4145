"""Corners of pub/sub, transactions and client-side caching between several clients, found by the
multi-client differential test (Tests/differential/test_multiclient.py). Each scenario runs on
Lunar and on redis-server 7.0 and must give the same result, which is also checked by value."""
import select
import time

from support.resp import Conn

PONG2 = ("array", [("bulk", b"pong"), ("bulk", b"")])


def pending(conn, wait=0.3):
    """Everything the server has sent to conn, without sending anything (bounded by `wait`)."""
    out = []
    deadline = time.time() + wait
    while time.time() < deadline:
        if conn.buf or select.select([conn.sock], [], [], 0.02)[0]:
            out.append(conn.read())
    return out


def on_both(lunar_server, redis_server, scenario):
    a = scenario(lunar_server.port)
    b = scenario(redis_server.port)
    assert a == b
    return a


def flags(ctl, conn_id):
    line = ctl.call("CLIENT", "LIST", "ID", str(conn_id))[1].decode()
    return line.split(" flags=")[1].split(" ")[0]


def test_ssubscribe_is_refused_inside_a_transaction(lunar_server, redis_server):
    def scenario(port):
        c = Conn(port)
        try:
            c.call("FLUSHALL")
            replies = [c.call("MULTI"), c.call("SSUBSCRIBE", "s1"), c.call("SUBSCRIBE", "ch"), c.call("EXEC")]
            return replies + [c.call("PING")]
        finally:
            c.close()
    got = on_both(lunar_server, redis_server, scenario)
    assert got[3] == ("array", [("err", b"ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"),
                                ("array", [("bulk", b"subscribe"), ("bulk", b"ch"), ("int", 1)])])
    assert got[4] == PONG2   # the SUBSCRIBE in the transaction did subscribe


def test_rejected_exec_forgets_watched_keys(lunar_server, redis_server):
    """EXEC refused in subscribed mode (EXECABORT) still drops the WATCHes, as DISCARD would."""
    def scenario(port):
        c, other, ctl = Conn(port), Conn(port), Conn(port)
        try:
            ctl.call("FLUSHALL")
            cid = c.call("CLIENT", "ID")[1]
            c.call("WATCH", "k")
            c.call("SUBSCRIBE", "ch")
            exec_reply = c.call("EXEC")
            other.call("SET", "k", "1")
            return exec_reply, flags(ctl, cid)
        finally:
            for x in (c, other, ctl):
                x.close()
    reply, f = on_both(lunar_server, redis_server, scenario)
    assert reply[0] == "err" and reply[1].startswith(b"EXECABORT Transaction discarded because of: Can't execute 'exec'")
    assert f == "P"   # not `d`: no key is watched any more


def test_resp2_client_tracking_for_itself_gets_no_invalidations(lunar_server, redis_server):
    """RESP2 has no push messages: a RESP2 client tracking without REDIRECT hears nothing, even in
    subscribed mode (only a REDIRECT target in subscribed mode gets `__redis__:invalidate`)."""
    def scenario(port):
        c, other = Conn(port), Conn(port)
        try:
            other.call("FLUSHALL")
            c.call("CLIENT", "TRACKING", "ON", "BCAST")
            c.call("SUBSCRIBE", "ch")
            other.call("SET", "k", "1")
            other.call("FLUSHDB")
            return pending(c)
        finally:
            c.close()
            other.close()
    assert on_both(lunar_server, redis_server, scenario) == []


def test_invalidations_due_before_tracking_off_are_still_sent(lunar_server, redis_server):
    """In one transaction: a write to a tracked key, then CLIENT TRACKING OFF. The invalidation
    the client owed itself goes out after EXEC, to the redirect target of before."""
    def scenario(port):
        c, target = Conn(port), Conn(port)
        try:
            c.call("FLUSHALL")
            tid = target.call("CLIENT", "ID")[1]
            target.call("SUBSCRIBE", "__redis__:invalidate")
            c.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid))
            c.call("GET", "k")
            for cmd in (["MULTI"], ["SET", "k", "2"], ["CLIENT", "TRACKING", "OFF"], ["SET", "k", "3"]):
                c.call(*cmd)
            exec_reply = c.call("EXEC")
            return exec_reply, pending(target)
        finally:
            c.close()
            target.close()
    exec_reply, messages = on_both(lunar_server, redis_server, scenario)
    assert exec_reply == ("array", [("simple", b"OK")] * 3)
    assert messages == [("array", [("bulk", b"message"), ("bulk", b"__redis__:invalidate"),
                                   ("array", [("bulk", b"k")])])]


def test_flush_null_to_a_resp3_target_takes_the_tracking_clients_form(lunar_server, redis_server):
    def scenario(port):
        c, target, other = Conn(port), Conn(port), Conn(port)
        try:
            other.call("FLUSHALL")
            target.call("HELLO", "3")
            tid = target.call("CLIENT", "ID")[1]
            c.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(tid))   # c speaks RESP2
            c.call("GET", "k")
            other.call("FLUSHDB")
            return pending(target)
        finally:
            for x in (c, target, other):
                x.close()
    assert on_both(lunar_server, redis_server, scenario) == [("push", [("bulk", b"invalidate"), ("nullbulk",)])]


def test_client_list_shows_the_socket_descriptor(lunar_server):
    a, b = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        fds = []
        for c in (a, b):
            line = c.call("CLIENT", "INFO")[1].decode()
            fds.append(int(line.split(" fd=")[1].split(" ")[0]))
        assert all(fd > 2 for fd in fds) and fds[0] != fds[1], fds
        again = int(a.call("CLIENT", "INFO")[1].decode().split(" fd=")[1].split(" ")[0])
        assert again == fds[0]
    finally:
        a.close()
        b.close()


def test_a_served_blocking_xread_does_not_track_its_key_again(lunar_server, redis_server):
    """XREAD is a read: its keys are tracked when it runs. Blocked and then served by an XADD, the
    client is told of that XADD, and the next XADD is not reported again (Redis 7.0)."""
    def scenario(port):
        a, b = Conn(port), Conn(port)
        try:
            b.call("FLUSHALL")
            a.call("HELLO", "3")
            a.call("CLIENT", "TRACKING", "ON")
            a.send_raw(Conn.encode(["XREAD", "BLOCK", "0", "STREAMS", "x", "$"]))
            time.sleep(0.1)
            b.call("XADD", "x", "1-1", "f", "v")
            served = pending(a)
            b.call("XADD", "x", "2-1", "f", "v")
            return served, pending(a)
        finally:
            a.close()
            b.close()
    served, later = on_both(lunar_server, redis_server, scenario)
    assert served[0] == ("push", [("bulk", b"invalidate"), ("array", [("bulk", b"x")])])
    assert served[1][0] == "map"
    assert later == []


def test_client_unblock_leaves_a_paused_client_waiting(lunar_server):
    """Lunar only: redis-server 7.0.15 "unblocks" it (a second reply later, or a crash with
    TIMEOUT), see docs/COMPATIBILITY.md."""
    a, b = Conn(lunar_server.port), Conn(lunar_server.port)
    try:
        bid = b.call("CLIENT", "ID")[1]
        assert a.call("CLIENT", "PAUSE", "100000", "WRITE") == ("simple", b"OK")
        b.send_raw(Conn.encode(["SET", "paused-key", "v"]))
        time.sleep(0.1)
        for mode in ([], ["TIMEOUT"], ["ERROR"]):
            assert a.call("CLIENT", "UNBLOCK", str(bid), *mode) == ("int", 0)
        assert pending(b) == []
        assert a.call("CLIENT", "UNPAUSE") == ("simple", b"OK")
        assert pending(b) == [("simple", b"OK")]
    finally:
        a.call("CLIENT", "UNPAUSE")
        a.close()
        b.close()


def test_object_encoding_raw_after_in_place_string_edits(lunar_server, redis_server):
    """Redis reports "raw" for a string that APPEND, SETRANGE, SETBIT, BITFIELD (writing), BITOP or
    PFADD/PFMERGE made or changed, however short, and keeps it through RENAME/MOVE/COPY; a new
    value (SET, INCR, …) is encoded from its content again."""
    steps = [
        ["SET", "a", "12"], ["APPEND", "a", "3"], ["APPEND", "new", "5"], ["SET", "b", "x"],
        ["APPEND", "b", ""], ["SETRANGE", "c", "0", "hi"], ["SET", "d", "hello"], ["SETRANGE", "d", "0", ""],
        ["SET", "e", "hello"], ["SETRANGE", "e", "1", "a"], ["SETBIT", "f", "3", "1"], ["SET", "g", "ab"],
        ["SETBIT", "g", "1", "1"], ["SET", "h", "ab"], ["BITFIELD", "h", "GET", "u8", "0"],
        ["SET", "i", "ab"], ["BITFIELD", "i", "SET", "u8", "0", "97"], ["BITOP", "AND", "j", "g", "h"],
        ["PFADD", "k", "x"], ["PFMERGE", "l", "k"], ["RENAME", "a", "a2"], ["COPY", "e", "e2"],
        ["MOVE", "g", "1"], ["SET", "m", "1"], ["APPEND", "m", "0"], ["INCR", "m"],
        ["SET", "n", "v"], ["APPEND", "n", "w"], ["SET", "n", "v"], ["SET", "o", "1.5"], ["APPEND", "o", "0"],
        ["INCRBYFLOAT", "o", "1"],
    ]
    keys = ["a", "a2", "new", "b", "c", "d", "e", "e2", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o"]

    def scenario(port):
        c = Conn(port)
        try:
            c.call("FLUSHALL")
            for s in steps:
                c.call(*s)
            out = [c.call("OBJECT", "ENCODING", k) for k in keys]
            c.call("SELECT", "1")
            out.append(c.call("OBJECT", "ENCODING", "g"))
            c.call("SELECT", "0")
            return out
        finally:
            c.close()
    got = on_both(lunar_server, redis_server, scenario)
    assert got.count(("bulk", b"raw")) >= 10, got


def test_tracking_redir_broken_at_every_missed_invalidation(lunar_server, redis_server):
    """With its REDIRECT client gone, a RESP3 tracking client is told `tracking-redir-broken` at
    every invalidation that cannot be delivered, not only the first (Redis 7.0)."""
    def scenario(port):
        a, b, other = Conn(port), Conn(port), Conn(port)
        try:
            other.call("FLUSHALL")
            bid = b.call("CLIENT", "ID")[1]
            a.call("HELLO", "3")
            a.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(bid))
            other.call("CLIENT", "KILL", "ID", str(bid))
            seen = []
            for key in ("k1", "k2"):
                a.call("GET", key)
                other.call("SET", key, "1")
                seen.append([m[1][0] for m in pending(a)])
            other.call("FLUSHDB")
            seen.append([m[1][0] for m in pending(a)])
            return seen
        finally:
            for x in (a, b, other):
                x.close()
    assert on_both(lunar_server, redis_server, scenario) == [[("bulk", b"tracking-redir-broken")]] * 3
