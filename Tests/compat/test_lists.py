"""List family: every command, option and error compared with redis-server 7.0, plus blocking
behaviour (FIFO service, timeouts, pipelining behind a blocked command, disconnects, BLMOVE chains,
MULTI) exercised with several clients on both servers."""
import shlex
import threading
import time

import pytest

from support.resp import Conn


# ---------------------------------------------------------------------------------------------
# Exact comparison of scripted command sequences

@pytest.fixture
def pair(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
    yield a, b
    a.close()
    b.close()


def run_script(pair, script):
    a, b = pair
    n = 0
    for line in script.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        args = shlex.split(line)
        x, y = a.call(*args), b.call(*args)
        assert x == y, f"{line}\n  lunar: {x!r}\n  redis: {y!r}"
        n += 1
    return n


def supported(conn, *args):
    """False when Lunar does not know a command yet (another family not merged)."""
    r = conn.call(*args)
    return not (r[0] == "err" and r[1].startswith(b"ERR unknown command"))


def test_push_and_pushx(pair):
    run_script(pair, """
        lpush l a b c
        rpush l d e
        lrange l 0 -1
        lpushx l x y
        rpushx l z
        lrange l 0 -1
        lpushx nokey a
        rpushx nokey a b
        lrange nokey 0 -1
        set s v
        lpush s a
        rpush s a
        lpushx s a
        rpushx s a
        lpush l ""
        rpush l "" "with space" "é"
        lrange l 0 -1
        llen l
        lpush
        lpush l
        rpush l
        lpushx l
        rpushx
    """)


def test_pop_with_and_without_count(pair):
    run_script(pair, """
        lpop nokey
        rpop nokey
        lpop nokey 0
        lpop nokey 1
        rpop nokey 5
        lpop nokey -1
        lpop nokey abc
        set s v
        lpop s
        rpop s 0
        lpop s abc
        lpop s -1
        rpush l a b c d e
        lpop l 0
        rpop l 0
        lpop l -1
        lpop l abc
        lpop l 1.5
        lpop l " 1"
        lpop l 9223372036854775808
        lpop l 1 2
        rpop l 1 2 3
        lpop l
        rpop l
        lpop l 2
        llen l
        rpop l 9223372036854775807
        llen l
        lpop l
        rpop l 3
        rpush l a b c
        lpop l 10
        lrange l 0 -1
        lpop
        rpop
    """)


def test_llen_lrange_lindex(pair):
    run_script(pair, """
        set s v
        rpush l a b c d e f
        llen l
        llen nokey
        llen s
        llen
        llen l x
        lrange nokey 0 -1
        lrange s 0 -1
        lrange s x 1
        lrange nokey x 1
        lrange l x 1
        lrange l 0 y
        lrange l 0 1.0
        lrange l -100 100
        lrange l 5 2
        lrange l -1 -2
        lrange l 2 -2
        lrange l 6 10
        lrange l 5 5
        lrange l -6 -6
        lrange l -7 0
        lrange l -9223372036854775808 9223372036854775807
        lrange l 9223372036854775807 -9223372036854775808
        lrange l 0
        lindex nokey 0
        lindex nokey x
        lindex s x
        lindex s 0
        lindex l x
        lindex l 1.0
        lindex l 0
        lindex l -1
        lindex l 5
        lindex l 6
        lindex l -6
        lindex l -7
        lindex l 9223372036854775807
        lindex l -9223372036854775808
        lindex l
    """)


def test_lset(pair):
    run_script(pair, """
        set s v
        rpush l a b c
        lset nokey 0 v
        lset nokey x v
        lset s x v
        lset s 0 v
        lset l x v
        lset l 3 v
        lset l -4 v
        lset l 0 A
        lset l -1 C
        lset l 1 ""
        lrange l 0 -1
        lset l 0
    """)


def test_linsert(pair):
    run_script(pair, """
        set s v
        rpush l a b c a
        linsert nokey before a x
        linsert nokey middle a x
        linsert s middle a x
        linsert s before a x
        linsert l middle a x
        linsert l before nothere x
        linsert l BEFORE a x
        linsert l After a y
        linsert l after c z
        linsert l before x w
        lrange l 0 -1
        linsert l before a
    """)


def test_lrem(pair):
    run_script(pair, """
        set s v
        rpush l a b a c a b a
        lrem nokey 0 a
        lrem nokey x a
        lrem s x a
        lrem s 0 a
        lrem l x a
        lrem l 1.5 a
        lrem l 1 a
        lrange l 0 -1
        lrem l -1 a
        lrange l 0 -1
        lrem l -9223372036854775808 b
        lrange l 0 -1
        lrem l 0 a
        lrange l 0 -1
        lrem l 5 zz
        lrem l 0 c
        llen l
        lrange l 0 -1
        lrem l 0
    """)


def test_ltrim(pair):
    run_script(pair, """
        set s v
        rpush l a b c d e f
        ltrim nokey 0 1
        ltrim nokey x 1
        ltrim s x 1
        ltrim s 0 1
        ltrim l x 1
        ltrim l 0 y
        ltrim l 1 -2
        lrange l 0 -1
        ltrim l -100 100
        lrange l 0 -1
        ltrim l -2 -1
        lrange l 0 -1
        ltrim l 5 1
        llen l
        lrange l 0 -1
        rpush l a b c
        ltrim l -1 -2
        llen l
        ltrim l 0
    """)


def test_lpos(pair):
    run_script(pair, """
        set s v
        rpush l a b c a b c a
        lpos nokey a
        lpos nokey a count 0
        lpos nokey a count 2
        lpos nokey a rank 0
        lpos nokey a rank x
        lpos nokey a foo
        lpos s a
        lpos s a rank 0
        lpos s a count -1
        lpos l a
        lpos l z
        lpos l a rank 0
        lpos l a rank x
        lpos l a rank 2
        lpos l a rank -1
        lpos l a rank -2 count 0
        lpos l a count 2
        lpos l a count 0 rank 2
        lpos l a count 0 maxlen 4
        lpos l a count 0 rank -1 maxlen 4
        lpos l a rank -1 maxlen 1
        lpos l a rank 2 count 1 maxlen 3
        lpos l a rank -2 count 1 maxlen 1
        lpos l z count 0
        lpos l a rank 10
        lpos l a rank 10 count 1
        lpos l a RANK 1 COUNT 1 MAXLEN 0
        lpos l a rank 1 rank 2
        lpos l a count 0 maxlen 0
        lpos l a count 1 rank -1
        lpos l a count -1
        lpos l a count x
        lpos l a maxlen -1
        lpos l a maxlen x
        lpos l a foo 1
        lpos l a rank
        lpos l a count
        lpos l a maxlen
        lpos l a rank 0 count -1
        lpos l a count -1 rank 0
        lpos l a rank 0 foo
        lpos l a foo rank 0
        lpos l a rank -9223372036854775808
        lpos l a rank -9223372036854775807
        lpos l a rank 9223372036854775807
        lpos l a rank -9223372036854775808 count 1
        lpos l a rank -9223372036854775808 count 0
        lpos l a rank 9223372036854775807 count 1
        lpos l a count 9223372036854775807
        lpos l a maxlen 9223372036854775807
        lpos l
    """)


def test_lmove_and_rpoplpush(pair):
    run_script(pair, """
        set s v
        rpush l a b c
        lmove nokey l left right
        lmove nokey s left right
        lmove s l left right
        lmove l s left right
        lmove l l2 up right
        lmove l l2 left down
        lmove nokey l2 up right
        lmove l l2 LEFT Right
        lmove l l right left
        lrange l 0 -1
        lrange l2 0 -1
        rpoplpush l l
        lrange l 0 -1
        rpoplpush nokey l
        rpoplpush s l
        rpoplpush l s
        lmove l l2 left left
        lmove l l2 right right
        lmove l l2 left left
        llen l
        lrange l2 0 -1
        rpoplpush l2 l
        lrange l 0 -1
        lmove l l2 left
        rpoplpush l
    """)


def test_lmpop(pair):
    run_script(pair, """
        set s v
        rpush l2 a b c d
        lmpop 1 l2 left
        lmpop 1 l2 right count 2
        lmpop 2 nokey l2 right count 10
        llen l2
        lmpop 1 l2 left
        lmpop 0 l2 left
        lmpop -1 l2 left
        lmpop x l2 left
        lmpop 2 l2 left
        lmpop 3 a b c
        lmpop 1 a middle
        lmpop 1 a left count 0
        lmpop 1 a left count -1
        lmpop 1 a left count x
        lmpop 1 a left count
        lmpop 1 a left count 1 count 1
        lmpop 1 a left foo
        lmpop 1 a left count 1 junk
        lmpop 1 s left
        lmpop 2 nokey s left
        rpush l a
        lmpop 2 l s left
        lmpop 2 s l left
        lmpop 9223372036854775807 a left
        lmpop 2147483648 a left
        lmpop 1 a LEFT COUNT 9223372036854775807
        lmpop 1 a
    """)


def test_blocking_commands_when_data_is_there(pair):
    run_script(pair, """
        set s v
        rpush l a b c d e f g h i j k l m n o p
        blpop l 0
        brpop l 0
        blpop nokey l 0
        brpop l nokey 0
        blpop s 0
        blpop nokey s 0
        blpop l s 0
        blpop s x
        blpop l x
        blpop l -1
        blmove l l2 left right 0
        blmove l l2 left right x
        blmove l l2 up right x
        blmove l l2 up right 0
        blmove s l2 left right 0
        blmove l s left right 0
        blmove nokey s left right x
        brpoplpush l l2 0
        brpoplpush l l2 x
        brpoplpush nokey l2 x
        brpoplpush s l2 0
        brpoplpush l s 0
        blmpop 0 1 l left
        blmpop x 1 l left
        blmpop 0 0 l left
        blmpop x 0 l left
        blmpop 0 1 l left count 2
        blmpop 0 1 l middle
        blmpop 0 1 s left
        blmpop 0 x l left
        blmpop 0 1 l left count 0
        blmpop 0 2 l left
        blmpop -1 1 l left
        blmpop 0 1 nokey left count -1
        blmpop 0 2 nokey l right count 100
        lrange l2 0 -1
        blpop l
        brpop
        blmove l l2 left left
        brpoplpush l l2
        blmpop 0 1 l
    """)


@pytest.mark.parametrize("timeout", [
    "x", "", " 1", "1 ", "0.2e", "0.2f", "nan", "-nan", "1e5000", "-1e5000", "1e-5000",
    "-1", "-0.5", "inf", "-inf", "infinity", "1e16", "9.3e15", "9223372036854776",
])
def test_timeout_errors(pair, timeout):
    for cmd in (["BLPOP", "nokey", timeout], ["BRPOP", "nokey", timeout],
                ["BLMOVE", "nokey", "d", "LEFT", "LEFT", timeout], ["BRPOPLPUSH", "nokey", "d", timeout],
                ["BLMPOP", timeout, "1", "nokey", "LEFT"]):
        x, y = pair[0].call(*cmd), pair[1].call(*cmd)
        assert x == y, f"{cmd}: lunar {x!r} redis {y!r}"
        assert x[0] == "err"


@pytest.mark.parametrize("timeout", ["0.05", "1e-400", "0.0001", "0x1p-5", "+0.05", ".05"])
def test_fractional_timeouts_time_out(pair, timeout):
    """Every blocking command times out with a null array (Redis 7.0 uses *-1 even for BLMOVE)."""
    for cmd in (["BLPOP", "nokey", "nokey2", timeout], ["BRPOP", "nokey", timeout],
                ["BLMOVE", "nokey", "d", "LEFT", "LEFT", timeout], ["BRPOPLPUSH", "nokey", "d", timeout],
                ["BLMPOP", timeout, "2", "nokey", "nokey2", "LEFT", "COUNT", "2"]):
        for c in pair:
            t0 = time.time()
            r = c.call(*cmd)
            assert r == ("nullarray",), (cmd, r)
            assert time.time() - t0 < 2


def test_blocking_commands_list_family_arity(pair):
    run_script(pair, """
        lpush
        lpushx x
        rpop
        lrange x 0
        lindex x
        lset x 0
        linsert x a b
        lrem x 0
        ltrim x 0
        lpos x
        lmove a b left
        rpoplpush a
        lmpop 1 x
        blpop x
        brpop x
        blmove a b left left
        brpoplpush a b
        blmpop 0 1 x
    """)


def test_keys_never_hold_empty_lists(pair):
    run_script(pair, """
        rpush l a
        lpop l
        llen l
        lrange l 0 -1
        lset l 0 x
        rpush l a b
        lrem l 0 a
        lrem l 0 b
        lset l 0 x
        rpush l a
        ltrim l 1 0
        lpushx l a
        rpush l a
        rpoplpush l other
        lpushx l a
        lrange other 0 -1
        lmpop 1 other left count 5
        rpushx other z
        rpush l a
        blpop l 0
        rpushx l z
    """)
    a, b = pair
    for c in pair:
        if supported(c, "EXISTS", "l"):
            assert c.call("EXISTS", "l", "other") == ("int", 0)


def test_object_encoding_and_type(pair):
    a, _ = pair
    if not (supported(a, "TYPE", "x") and supported(a, "OBJECT", "ENCODING", "x")):
        pytest.skip("TYPE/OBJECT not merged yet")
    run_script(pair, """
        rpush l a b c
        type l
        object encoding l
        rpush big 0123456789012345678901234567890123456789012345678901234567890123456789
        object encoding big
    """)


def test_command_info_of_the_family(pair):
    a, _ = pair
    if not supported(a, "COMMAND", "COUNT"):
        pytest.skip("COMMAND not merged yet")
    names = ["lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
             "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop",
             "blmove", "brpoplpush", "blmpop"]
    for n in names:
        x, y = pair[0].call("COMMAND", "INFO", n), pair[1].call("COMMAND", "INFO", n)
        # name, arity, flags, first, last, step, ACL categories
        assert x[1][0][1][:7] == y[1][0][1][:7], n
    run_script(pair, """
        command getkeys lmpop 2 a b left
        command getkeys blmpop 0 2 a b left count 3
        command getkeys blpop a b c 0
        command getkeys lmove a b left right
    """)


def test_resp3_null_shapes(pair):
    a, b = pair
    if not supported(a, "HELLO", "3"):
        pytest.skip("HELLO not merged yet")
    b.call("HELLO", "3")
    run_script(pair, """
        lpop nokey
        lpop nokey 0
        rpop nokey 2
        lindex nokey 0
        lpos nokey a
        lpos nokey a count 0
        lmove nokey x left left
        rpoplpush nokey x
        lmpop 1 nokey left
        blpop nokey 0.01
        blmove nokey x left left 0.01
        brpoplpush nokey x 0.01
        blmpop 0.01 1 nokey left
        rpush l a b c d
        lmpop 1 l left count 2
        blpop l 0
        blmpop 0 2 l2 l right count 3
    """)


def test_blocking_inside_multi_answers_at_once(pair):
    a, b = pair
    if not supported(a, "MULTI"):
        pytest.skip("MULTI not merged yet")
    a.call("DISCARD")
    run_script(pair, """
        multi
        blpop nokey 0
        brpop nokey 0
        blmove nokey l left left 0
        brpoplpush nokey l 0
        blmpop 0 1 nokey left
        blpop nokey x
        exec
    """)


# ---------------------------------------------------------------------------------------------
# Blocking scenarios, run on both servers; each returns what it observed, and both must agree.

def blocked(port, *cmd):
    """Opens a connection and sends a command without reading its reply."""
    c = Conn(port, timeout=5)
    c.sock.sendall(Conn.encode(cmd))
    return c


def settle():
    # Lets a just-sent blocking command reach the server and block (keeps client order FIFO).
    time.sleep(0.08)


def no_reply_within(conn, seconds):
    conn.sock.settimeout(seconds)
    try:
        r = conn.read()
        return r
    except (TimeoutError, OSError):
        return None
    finally:
        conn.sock.settimeout(5)


def both(lunar_server, redis_server, scenario):
    out = []
    for port in (lunar_server.port, redis_server.port):
        c = Conn(port)
        c.call("FLUSHALL")
        try:
            out.append(scenario(port, c))
        finally:
            c.call("FLUSHALL")
            c.close()
    assert out[0] == out[1], f"\n  lunar: {out[0]!r}\n  redis: {out[1]!r}"
    return out[0]


def test_fifo_service_of_several_clients(lunar_server, redis_server):
    def scenario(port, c):
        clients = []
        for cmd in (["BLPOP", "k", "0"], ["BRPOP", "k", "0"], ["BLPOP", "other", "k", "0"],
                    ["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5"]):
            clients.append(blocked(port, *cmd))
            settle()
        seen = [c.call("RPUSH", "k", "1", "2")]
        seen += [clients[0].read(), clients[1].read()]
        seen.append(no_reply_within(clients[2], 0.2))
        seen.append(c.call("RPUSH", "k", "3", "4", "5"))
        seen += [clients[2].read(), clients[3].read(), c.call("LLEN", "k")]
        for x in clients:
            x.close()
        return seen
    seen = both(lunar_server, redis_server, scenario)
    assert seen[1] == ("array", [("bulk", b"k"), ("bulk", b"1")])
    assert seen[2] == ("array", [("bulk", b"k"), ("bulk", b"2")])
    assert seen[3] is None
    assert seen[-1] == ("int", 0)


def test_timeout_zero_blocks_until_data(lunar_server, redis_server):
    def scenario(port, c):
        b = blocked(port, "BRPOPLPUSH", "src", "dst", "0")
        r1 = no_reply_within(b, 0.5)
        c.call("RPUSH", "src", "x")
        r2 = b.read()
        b.close()
        return [r1, r2, c.call("LRANGE", "dst", 0, -1), c.call("LLEN", "src")]
    seen = both(lunar_server, redis_server, scenario)
    assert seen[0] is None and seen[1] == ("bulk", b"x")


def test_timeouts_are_honoured(lunar_server, redis_server):
    def scenario(port, c):
        res = []
        for cmd, secs in ((["BLPOP", "a", "b", "0.3"], 0.3), (["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.2"], 0.2),
                          (["BLMPOP", "0.25", "1", "a", "RIGHT"], 0.25)):
            t0 = time.time()
            r = c.call(*cmd)
            took = time.time() - t0
            res.append((r, took >= secs - 0.02, took < secs + 1.0))
        return res
    seen = both(lunar_server, redis_server, scenario)
    assert all(x[1] and x[2] for x in seen)


def test_commands_pipelined_behind_a_blocked_command(lunar_server, redis_server):
    def scenario(port, c):
        b = Conn(port, timeout=5)
        b.sock.sendall(Conn.encode(["BLPOP", "q", "0"]) + Conn.encode(["PING"]) + Conn.encode(["LLEN", "q"])
                       + Conn.encode(["BLPOP", "q", "0"]) + Conn.encode(["RPUSH", "r", "1"]))
        first = no_reply_within(b, 0.3)
        c.call("RPUSH", "q", "a", "b")
        got = [b.read(), b.read(), b.read(), b.read(), b.read()]
        b.close()
        return [first, got, c.call("LLEN", "q"), c.call("LRANGE", "r", 0, -1)]
    seen = both(lunar_server, redis_server, scenario)
    assert seen[0] is None
    assert seen[1][1] == ("simple", b"PONG") and seen[1][2] == ("int", 1)


def test_commands_sent_later_by_a_blocked_client_wait_their_turn(lunar_server, redis_server):
    def scenario(port, c):
        b = blocked(port, "BLPOP", "q", "0.4")
        settle()
        b.sock.sendall(Conn.encode(["PING", "later"]))
        settle()
        b.sock.sendall(Conn.encode(["BRPOP", "q", "0"]) + Conn.encode(["ECHO", "last"]))
        first = no_reply_within(b, 0.1)
        got = [b.read(), b.read()]          # the timeout, then PING; BRPOP now waits
        mid = no_reply_within(b, 0.2)
        r = [first, got, mid, c.call("RPUSH", "q", "v"), b.read(), b.read()]
        b.close()
        return r
    seen = both(lunar_server, redis_server, scenario)
    assert seen[0] is None and seen[2] is None
    assert seen[1] == [("nullarray",), ("bulk", b"later")]
    assert seen[4:] == [("array", [("bulk", b"q"), ("bulk", b"v")]), ("bulk", b"last")]


def test_client_disconnecting_while_blocked(lunar_server, redis_server):
    def scenario(port, c):
        gone = blocked(port, "BLPOP", "k", "k", "0")
        settle()
        gone.close()
        time.sleep(0.1)
        stays = blocked(port, "BRPOP", "k", "0")
        settle()
        r = [c.call("RPUSH", "k", "1", "2"), stays.read(), c.call("LRANGE", "k", 0, -1)]
        stays.close()
        time.sleep(0.05)
        r.append(c.call("RPUSH", "k", "3"))
        r.append(c.call("LRANGE", "k", 0, -1))
        return r
    seen = both(lunar_server, redis_server, scenario)
    assert seen[1] == ("array", [("bulk", b"k"), ("bulk", b"2")])
    assert seen[-1] == ("array", [("bulk", b"1"), ("bulk", b"3")])


def test_duplicate_keys_in_one_blocking_call(lunar_server, redis_server):
    def scenario(port, c):
        b = blocked(port, "BLPOP", "k", "k", "j", "k", "0")
        settle()
        r = [c.call("RPUSH", "k", "1"), b.read()]
        # Nothing left waiting: later pushes stay in the list.
        r.append(c.call("RPUSH", "k", "2"))
        r.append(c.call("LRANGE", "k", 0, -1))
        b.close()
        return r
    both(lunar_server, redis_server, scenario)


def test_blmove_chain(lunar_server, redis_server):
    def scenario(port, c):
        c1 = blocked(port, "BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
        settle()
        c2 = blocked(port, "BLMOVE", "b", "c", "RIGHT", "LEFT", "0")
        settle()
        c3 = blocked(port, "BRPOPLPUSH", "c", "d", "0")
        settle()
        c4 = blocked(port, "BLPOP", "d", "0")
        settle()
        r = [c.call("RPUSH", "a", "x", "y"), c1.read(), c2.read(), c3.read(), c4.read()]
        for k in ("a", "b", "c", "d"):
            r.append(c.call("LRANGE", k, 0, -1))
        for x in (c1, c2, c3, c4):
            x.close()
        return r
    seen = both(lunar_server, redis_server, scenario)
    assert seen[1:5] == [("bulk", b"x"), ("bulk", b"x"), ("bulk", b"x"), ("array", [("bulk", b"d"), ("bulk", b"x")])]


def test_blocked_on_several_keys_is_served_from_the_one_that_got_data(lunar_server, redis_server):
    def scenario(port, c):
        b = blocked(port, "BRPOP", "k1", "k2", "k3", "0")
        settle()
        r = [c.call("LPUSH", "k3", "z"), b.read()]
        m = blocked(port, "BLMPOP", "0", "3", "k1", "k2", "k3", "RIGHT", "COUNT", "2")
        settle()
        r += [c.call("RPUSH", "k2", "1", "2", "3"), m.read(), c.call("LRANGE", "k2", 0, -1)]
        b.close()
        m.close()
        return r
    both(lunar_server, redis_server, scenario)


def test_brpoplpush_onto_its_own_source(lunar_server, redis_server):
    def scenario(port, c):
        b = blocked(port, "BRPOPLPUSH", "z", "z", "0")
        settle()
        r = [c.call("RPUSH", "z", "1", "2"), b.read(), c.call("LRANGE", "z", 0, -1)]
        b.close()
        return r
    both(lunar_server, redis_server, scenario)


def test_blmove_served_into_a_wrong_type_destination(lunar_server, redis_server):
    """Both servers answer WRONGTYPE and leave the source list alone (Redis 7.0 then keeps the
    client blocked without serving it again; Lunar unblocks it)."""
    def scenario(port, c):
        c.call("SET", "d", "str")
        b = blocked(port, "BLMOVE", "src", "d", "LEFT", "RIGHT", "0")
        settle()
        r = [c.call("RPUSH", "src", "v"), b.read(), c.call("LRANGE", "src", 0, -1)]
        b.close()
        return r
    seen = both(lunar_server, redis_server, scenario)
    assert seen[1][0] == "err" and seen[1][1].startswith(b"WRONGTYPE")


def test_threads_with_redis_py(r, rr):
    """Several redis-py clients in threads block and each gets exactly one element."""
    import redis

    def run(client):
        pool = client.connection_pool.connection_kwargs
        results = []
        lock = threading.Lock()

        def worker():
            c = redis.Redis(host=pool.get("host", "localhost"), port=pool["port"], socket_timeout=10, protocol=2)
            v = c.blpop(["jobs"], timeout=5)
            with lock:
                results.append(v)
            c.close()

        ts = [threading.Thread(target=worker) for _ in range(5)]
        for t in ts:
            t.start()
        time.sleep(0.3)
        client.rpush("jobs", *[str(i) for i in range(5)])
        for t in ts:
            t.join(10)
        return sorted(results), client.llen("jobs")

    a, b = run(r), run(rr)
    assert a == b
    assert a[0] == [(b"jobs", str(i).encode()) for i in range(5)] and a[1] == 0


def test_pushes_inside_multi_wake_clients_at_exec(lunar_server, redis_server):
    def scenario(port, c):
        if not supported(c, "MULTI"):
            return "skip"
        c.call("DISCARD")
        r = []
        b = blocked(port, "BLPOP", "a", "b", "0")
        settle()
        # Ready-key order decides: b got data first in the transaction.
        r.append(c.pipeline([["MULTI"], ["RPUSH", "b", "x"], ["RPUSH", "a", "y"], ["EXEC"]]))
        r.append(b.read())
        # A key that got data and lost it again in the same transaction wakes nobody.
        r.append(c.pipeline([["MULTI"], ["RPUSH", "c", "x"], ["LPOP", "c"], ["EXEC"]]))
        w = blocked(port, "BLPOP", "c", "0")
        settle()
        r.append(c.pipeline([["MULTI"], ["RPUSH", "c", "1"], ["LPOP", "c"], ["EXEC"]]))
        r.append(no_reply_within(w, 0.2))
        r.append(c.call("RPUSH", "c", "2"))
        r.append(w.read())
        b.close()
        w.close()
        return r
    lunar = Conn(lunar_server.port)
    ok = supported(lunar, "MULTI")
    lunar.close()
    if not ok:
        pytest.skip("MULTI not merged yet")
    both(lunar_server, redis_server, scenario)


def test_ready_key_with_wrong_type_keeps_client_blocked(lunar_server, redis_server):
    lunar = Conn(lunar_server.port)
    ok = supported(lunar, "MULTI") and supported(lunar, "DEL", "x")
    lunar.close()
    if not ok:
        pytest.skip("MULTI/DEL not merged yet")

    def scenario(port, c):
        c.call("DISCARD")
        b = blocked(port, "BLPOP", "a", "b", "0")
        settle()
        r = [c.pipeline([["MULTI"], ["RPUSH", "a", "x"], ["DEL", "a"], ["SET", "a", "s"], ["RPUSH", "b", "y"], ["EXEC"]])]
        r.append(b.read())
        b.close()
        return r
    both(lunar_server, redis_server, scenario)


def test_blocked_commands_count_once_in_stats(lunar_server, redis_server):
    lunar = Conn(lunar_server.port)
    ok = supported(lunar, "INFO", "stats") and supported(lunar, "CONFIG", "RESETSTAT")
    lunar.close()
    if not ok:
        pytest.skip("INFO/CONFIG RESETSTAT not merged yet")

    def scenario(port, c):
        def field(section, name):
            for line in c.call("INFO", section)[1].decode().splitlines():
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].split(",")[0]
            return None
        c.call("CONFIG", "RESETSTAT")
        t0 = int(field("stats", "total_commands_processed"))
        b = blocked(port, "BLPOP", "k", "0")
        settle()
        c.call("RPUSH", "k", "x")
        b.read()
        b.call("BLMOVE", "k", "d", "LEFT", "LEFT", "0.05")
        w = blocked(port, "BRPOP", "k", "0")
        settle()
        c.call("RPUSH", "k2", "x")          # a key nobody waits on
        c.call("RPUSH", "k", "y")
        w.read()
        b.close()
        w.close()
        t1 = int(field("stats", "total_commands_processed"))
        return [t1 - t0, field("commandstats", "cmdstat_blpop"), field("commandstats", "cmdstat_blmove"),
                field("commandstats", "cmdstat_brpop")]
    seen = both(lunar_server, redis_server, scenario)
    assert seen[1:] == ["calls=1", "calls=1", "calls=1"]


def test_swapdb_serves_clients_blocked_on_keys_that_now_hold_lists(lunar_server, redis_server):
    lunar = Conn(lunar_server.port)
    ok = supported(lunar, "SWAPDB", "0", "0")
    lunar.close()
    if not ok:
        pytest.skip("SWAPDB not merged yet")

    def scenario(port, c):
        b = blocked(port, "BLPOP", "k", "0")
        settle()
        c.call("SELECT", "1")
        r = [c.call("RPUSH", "k", "from-db1", "more"), c.call("SWAPDB", "0", "1"), b.read()]
        r.append(c.call("LRANGE", "k", 0, -1))   # db 1 now holds old db 0 (no k)
        c.call("SELECT", "0")
        r.append(c.call("LRANGE", "k", 0, -1))
        b.close()
        return r
    seen = both(lunar_server, redis_server, scenario)
    assert seen[2] == ("array", [("bulk", b"k"), ("bulk", b"from-db1")])
