"""Time limit and SCRIPT KILL / FUNCTION KILL with two clients, on dedicated Lunar servers
started with a low busy-reply-threshold."""
import threading
import time

import pytest
import redis

from support.servers import start_lunar

BUSY_SCRIPT = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."


@pytest.fixture(scope="module")
def busy_server():
    s = start_lunar("--busy-reply-threshold", "200")
    yield s
    s.stop()


def client(port):
    return redis.Redis(port=port, socket_timeout=20, protocol=2)


def run_in_thread(fn):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except Exception as e:  # the reply we expect is often an error
            box["error"] = e
    t = threading.Thread(target=target)
    t.start()
    return t, box


def wait_busy(c, expected=BUSY_SCRIPT, timeout=10):
    """Polls with a second client until it gets BUSY (bounded)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c.get("probe")
        except redis.exceptions.ResponseError as e:
            assert str(e) == expected
            return
        time.sleep(0.02)
    raise AssertionError("server never answered BUSY")


def test_busy_then_script_kill(busy_server):
    a, b = client(busy_server.port), client(busy_server.port)
    t, box = run_in_thread(lambda: a.eval("while true do end", 0))
    wait_busy(b)
    # Other commands get BUSY too; the threshold counts from the script's start.
    with pytest.raises(redis.exceptions.ResponseError, match="^BUSY"):
        b.set("x", "1")
    with pytest.raises(redis.exceptions.ResponseError, match="^BUSY"):
        b.execute_command("FUNCTION", "KILL")
    assert b.script_kill() is True
    t.join(10)
    assert not t.is_alive()
    err = box.get("error")
    assert isinstance(err, redis.exceptions.ResponseError)
    assert str(err).startswith("Script killed by user with SCRIPT KILL... script: ")
    assert str(err).endswith(", on @user_script:1.")
    # The server is usable again, and SCRIPT KILL now has nothing to kill.
    assert b.ping()
    with pytest.raises(redis.exceptions.ResponseError, match="NOTBUSY No scripts in execution right now."):
        b.script_kill()
    assert a.eval("return 'alive'", 0) == b"alive"


def test_pcall_cannot_swallow_kill(busy_server):
    a, b = client(busy_server.port), client(busy_server.port)
    script = """
    local n = 0
    while true do
      local ok, e = pcall(function() while true do end end)
      n = n + 1
    end
    """
    t, box = run_in_thread(lambda: a.eval(script, 0))
    wait_busy(b)
    assert b.script_kill() is True
    t.join(10)
    assert not t.is_alive()
    assert "Script killed by user with SCRIPT KILL" in str(box.get("error"))


def test_fast_script_is_not_busy(busy_server):
    a = client(busy_server.port)
    assert a.eval("local s = 0 for i = 1, 100000 do s = s + i end return s", 0) == 5000050000


def test_writing_script_is_unkillable_then_finishes(busy_server):
    a, b = client(busy_server.port), client(busy_server.port)
    # Spins about 1.5 s after a write (bounded by os.clock), so it ends by itself.
    script = "redis.call('set', KEYS[1], 'written') local t = os.clock() while os.clock() - t < 1.5 do end return 'done'"
    t, box = run_in_thread(lambda: a.eval(script, 1, "wkey"))
    wait_busy(b)
    with pytest.raises(redis.exceptions.ResponseError) as e:
        b.script_kill()
    assert str(e.value).startswith("UNKILLABLE Sorry the script already executed write commands against the dataset.")
    t.join(15)
    assert box.get("value") == b"done"
    assert b.get("wkey") == b"written"


def test_function_busy_and_function_kill(busy_server):
    a, b = client(busy_server.port), client(busy_server.port)
    a.function_load("#!lua name=spinlib\nredis.register_function('spin', function() while true do end end)", replace=True)
    t, box = run_in_thread(lambda: a.fcall("spin", 0))
    wait_busy(b, BUSY_FUNCTION)
    with pytest.raises(redis.exceptions.ResponseError, match="^BUSY"):
        b.script_kill()
    # FUNCTION STATS is answered during the run and names the running function.
    stats = b.execute_command("FUNCTION", "STATS")
    running = stats[1]
    assert running[0:4] == [b"name", b"spin", b"command", [b"FCALL", b"spin", b"0"]]
    assert running[4] == b"duration_ms" and running[5] >= 200
    assert b.execute_command("FUNCTION", "KILL") == b"OK"
    t.join(10)
    assert not t.is_alive()
    assert str(box.get("error")).startswith("Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.")
    with pytest.raises(redis.exceptions.ResponseError, match="NOTBUSY"):
        b.execute_command("FUNCTION", "KILL")


def test_shutdown_nosave_ends_a_writing_script():
    s = start_lunar("--busy-reply-threshold", "100")
    try:
        a, b = client(s.port), client(s.port)
        t, box = run_in_thread(lambda: a.eval("redis.call('set', 'k', 'v') while true do end", 0))
        wait_busy(b)
        with pytest.raises(redis.exceptions.ResponseError, match="^UNKILLABLE"):
            b.script_kill()
        try:
            b.shutdown(nosave=True)
        except (redis.exceptions.ConnectionError, redis.exceptions.ResponseError):
            pass
        deadline = time.time() + 10
        while s.alive() and time.time() < deadline:
            time.sleep(0.05)
        assert not s.alive()
        t.join(10)
        assert not t.is_alive()
    finally:
        s.stop()


def test_loop_inside_coroutine_is_killable(busy_server):
    a, b = client(busy_server.port), client(busy_server.port)
    t, box = run_in_thread(lambda: a.eval("coroutine.wrap(function() while true do end end)()", 0))
    wait_busy(b)
    assert b.script_kill() is True
    t.join(10)
    assert not t.is_alive()
    assert "Script killed by user with SCRIPT KILL" in str(box.get("error"))
    assert b.ping()


def transactions_during_busy(port):
    """MULTI, WATCH and friends against a busy server, step by step (the order of Redis's
    multi.tcl "script timeout" tests): they run during the script, other commands are refused and
    fail the transaction, EXEC is refused with EXECABORT and ends it."""
    from support.resp import Conn
    log = []
    say = log.append
    r, r2, r3 = Conn(port), Conn(port), Conn(port)
    r.call("SET", "xx", "1")
    # MULTI arrives during the script: it runs; INCR is refused, so EXEC aborts after the kill.
    long_run = Conn(port)
    long_run.send_raw(Conn.encode(["EVAL", "while true do end", "0"]))
    time.sleep(0.4)
    say([r2.call("MULTI"), r2.call("INCR", "xx"), r2.call("WATCH", "xx"), r3.call("WATCH", "xx"),
         r3.call("UNWATCH"), r3.call("EXEC"), r3.call("DISCARD")])
    say(r.call("SCRIPT", "KILL"))
    say(long_run.read()[0])
    say([r2.call("INCR", "xx"), r2.call("EXEC"), r2.call("PING", "asdf"), r.call("GET", "xx")])
    # MULTI before the script, EXEC during it: refused with EXECABORT, the transaction is gone.
    say([r2.call("MULTI"), r2.call("INCR", "xx")])
    long_run.send_raw(Conn.encode(["EVAL", "while true do end", "0"]))
    time.sleep(0.4)
    say([r2.call("INCR", "xx"), r2.call("EXEC")])
    say(r.call("SCRIPT", "KILL"))
    say(long_run.read()[0])
    say([r2.call("PING", "asdf"), r.call("GET", "xx")])
    for c in (r, r2, r3, long_run):
        c.close()
    return log


def test_transactions_during_busy_script_match_redis():
    from support.servers import lunar_and_redis
    with lunar_and_redis("--busy-reply-threshold", "100") as (lunar, ref):
        x, y = transactions_during_busy(lunar.port), transactions_during_busy(ref.port)
    assert x == y
    assert x[0][1][1].startswith(b"BUSY") and x[3][1][1].startswith(b"EXECABORT")


def pipelined_behind_busy_script(port):
    """The script's own connection: what it pipelined after the script waits for the script's reply."""
    from support.resp import Conn
    a, r = Conn(port), Conn(port)
    a.send_raw(Conn.encode(["EVAL", "while true do end", "0"]) + Conn.encode(["PING", "after"]))
    time.sleep(0.4)
    a.send_raw(Conn.encode(["PING", "later"]))
    time.sleep(0.1)
    killed = r.call("SCRIPT", "KILL")
    replies = [a.read(), a.read(), a.read()]
    a.close()
    r.close()
    return killed, replies


def test_pipeline_behind_a_busy_script_keeps_its_order_as_redis():
    from support.servers import lunar_and_redis
    with lunar_and_redis("--busy-reply-threshold", "100") as (lunar, ref):
        x, y = pipelined_behind_busy_script(lunar.port), pipelined_behind_busy_script(ref.port)
    assert x == y
    assert x[1][1:] == [("bulk", b"after"), ("bulk", b"later")]
