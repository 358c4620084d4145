"""maxmemory enforcement, eviction policies and the per-key access clock (OBJECT IDLETIME / FREQ),
checked against redis-server 7.0.

Every test is parametrized over ["redis", "lunar"] and asserts the same expectations on both: the
redis run shows that the expectation is what Redis 7.0 does, the lunar run checks Lunar. Exact
replies (error texts, OBJECT FREQ counters, EXECABORT messages) are constants taken from Redis.

What is relative, and why:
- Memory figures differ between the servers (allocator, object layout, per-key overhead), so every
  limit is set from the server's own `INFO memory` used_memory (e.g. maxmemory = used_memory + 2 MB)
  and the tests assert behaviours (an OOM error comes, keys are evicted, DBSIZE ends well below the
  number of writes, used_memory stays near the limit), never byte counts or key counts.
- Once a "fill until OOM" loop has seen its first OOM error, the tests that go on checking what is
  allowed while out of memory lower maxmemory to the used_memory from before the fill. The server is
  then over the limit by about the whole fill (~2 MB), not by a few bytes that freeing a query buffer
  could give back (Redis really does drop under the limit again now and then after the failing SET).
- Redis's LRU clock has a resolution of one second, so the LRU test sleeps once (1.3 s) to put the
  "hot" keys' last access strictly after the "cold" keys'; its assertion (more hot keys survive than
  cold ones) is a tendency of the approximated LRU, with a wide margin on Redis.
- volatile-ttl is approximated too (sampling); its test asserts that survivors skew to long TTLs.

Dedicated servers (start_lunar / start_redis) are used for everything that changes maxmemory or the
policy; the session servers only answer read-only CONFIG GET / failing CONFIG SET calls.
"""
import time

import pytest

from support.resp import Conn
from support.servers import start_lunar, start_redis

KINDS = ["redis", "lunar"]

MB = 1024 * 1024
OOM = b"OOM command not allowed when used memory > 'maxmemory'."
EXECABORT = b"EXECABORT Transaction discarded because of previous errors."
LFU_SELECTED = (b"ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
                b"switching between policies at runtime LRU and LFU data will take some time to adjust.")
LFU_NOT_SELECTED = (b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
                    b"that when switching between policies at runtime LRU and LFU data will take some time to adjust.")

MAX_WRITES = 5000          # bound of every fill loop
FILL_SECONDS = 15.0        # and its time bound


# ---------------------------------------------------------------------------------------------------
# helpers

@pytest.fixture
def spawn():
    """spawn(kind, *args) -> (server, Conn): a dedicated server started with extra config args;
    all of them are stopped when the test ends."""
    started, conns = [], []

    def _spawn(kind, *args):
        s = (start_redis if kind == "redis" else start_lunar)(*args)
        started.append(s)
        c = Conn(s.port)
        conns.append(c)
        return s, c

    yield _spawn
    for c in conns:
        try:
            c.close()
        except OSError:
            pass
    for s in started:
        s.stop()


def info(c, section):
    reply = c.call("INFO", section)
    assert reply[0] == "bulk", reply
    out = {}
    for line in reply[1].decode().split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def used_memory(c):
    return int(info(c, "memory")["used_memory"])


def evicted_keys(c):
    return int(info(c, "stats")["evicted_keys"])


def set_limit_above_used(c, headroom):
    """maxmemory = this server's used_memory + headroom; returns (used_memory before, limit)."""
    used = used_memory(c)
    limit = used + headroom
    assert c.call("CONFIG", "SET", "maxmemory", str(limit)) == ("simple", b"OK")
    return used, limit


def fill(c, prefix, size, max_writes=MAX_WRITES, ex=None, stop=None):
    """SET prefix0, prefix1, ... to `size`-byte values (with EX `ex` if given) until the first error
    reply, `max_writes` writes, FILL_SECONDS, or stop(i) is true (checked every 10 writes).
    Returns (names written successfully, first error text or None)."""
    value = b"x" * size
    written = []
    deadline = time.time() + FILL_SECONDS
    for i in range(max_writes):
        name = f"{prefix}{i}"
        args = ["SET", name, value] + (["EX", str(ex)] if ex is not None else [])
        reply = c.call(*args)
        if reply[0] == "err":
            return written, reply[1]
        assert reply == ("simple", b"OK"), reply
        written.append(name)
        if time.time() > deadline:
            break
        if stop is not None and i % 10 == 9 and stop(i):
            break
    return written, None


def fill_until_oom(c, headroom=2 * MB, size=10240):
    """noeviction: limit = used_memory + headroom, write until OOM, then pin the server out of memory
    (maxmemory = used_memory from before the fill). Returns (baseline used, limit, keys written)."""
    baseline, limit = set_limit_above_used(c, headroom)
    written, error = fill(c, "k", size)
    assert error == OOM, f"expected an OOM error, got {error!r} after {len(written)} writes"
    assert 0 < len(written) < MAX_WRITES
    assert c.call("CONFIG", "SET", "maxmemory", str(baseline)) == ("simple", b"OK")
    return baseline, limit, written


def exists_count(c, names, chunk=500):
    n = 0
    for i in range(0, len(names), chunk):
        reply = c.call("EXISTS", *names[i:i + chunk])
        assert reply[0] == "int", reply
        n += reply[1]
    return n


# ---------------------------------------------------------------------------------------------------
# 1. OBJECT IDLETIME

@pytest.mark.parametrize("kind", KINDS)
def test_object_idletime(spawn, kind):
    _, c = spawn(kind)
    for k in ("k1", "k2", "k3", "k4"):
        assert c.call("SET", k, "v") == ("simple", b"OK")
    assert c.call("EXPIRE", "k1", "1000") == ("int", 1)
    assert c.call("OBJECT", "IDLETIME", "nokey") == ("nullbulk",)
    time.sleep(2.2)
    for k in ("k1", "k2", "k3", "k4"):
        idle = c.call("OBJECT", "IDLETIME", k)
        assert idle[0] == "int" and idle[1] >= 2, (k, idle)
    # Commands that look at a key without "using" it leave its access time alone.
    for cmd in (["TYPE", "k1"], ["EXISTS", "k1"], ["TTL", "k1"], ["PTTL", "k1"], ["EXPIRETIME", "k1"],
                ["OBJECT", "ENCODING", "k1"], ["OBJECT", "REFCOUNT", "k1"], ["OBJECT", "IDLETIME", "k1"],
                ["SCAN", "0", "COUNT", "100"], ["SCAN", "0", "TYPE", "string"], ["RANDOMKEY"], ["KEYS", "*"],
                ["MEMORY", "USAGE", "k1"], ["DEBUG", "OBJECT", "k1"]):
        assert c.call(*cmd)[0] != "err", cmd
    for k in ("k1", "k2", "k3", "k4"):
        idle = c.call("OBJECT", "IDLETIME", k)
        assert idle[0] == "int" and idle[1] >= 2, (k, idle)
    # DEBUG OBJECT reports the same idle time.
    debug = c.call("DEBUG", "OBJECT", "k1")[1].decode()
    assert int(debug.split("lru_seconds_idle:")[1].split()[0]) >= 2, debug
    # Reading, TOUCH and overwriting do.
    assert c.call("GET", "k2") == ("bulk", b"v")
    assert c.call("TOUCH", "k3") == ("int", 1)
    assert c.call("SET", "k4", "w") == ("simple", b"OK")
    for k in ("k2", "k3", "k4"):
        idle = c.call("OBJECT", "IDLETIME", k)
        assert idle[0] == "int" and idle[1] <= 1, (k, idle)
    idle = c.call("OBJECT", "IDLETIME", "k1")
    assert idle[0] == "int" and idle[1] >= 2, idle


@pytest.mark.parametrize("kind", KINDS)
def test_object_idletime_under_lfu_policy(spawn, kind):
    _, c = spawn(kind, "--maxmemory-policy", "allkeys-lfu")
    assert c.call("SET", "k", "v") == ("simple", b"OK")
    assert c.call("OBJECT", "IDLETIME", "k") == ("err", LFU_SELECTED)
    assert c.call("OBJECT", "IDLETIME", "nokey") == ("nullbulk",)
    assert c.call("CONFIG", "SET", "maxmemory-policy", "volatile-lfu") == ("simple", b"OK")
    assert c.call("OBJECT", "IDLETIME", "k") == ("err", LFU_SELECTED)
    # Back to an LRU policy: idle time is answered again (its value is not meaningful right after the switch).
    assert c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == ("simple", b"OK")
    assert c.call("OBJECT", "IDLETIME", "k")[0] == "int"


# ---------------------------------------------------------------------------------------------------
# 2. OBJECT FREQ

@pytest.mark.parametrize("kind", KINDS)
def test_object_freq_needs_lfu_policy(spawn, kind):
    _, c = spawn(kind)
    assert c.call("SET", "k", "v") == ("simple", b"OK")
    assert c.call("OBJECT", "FREQ", "k") == ("err", LFU_NOT_SELECTED)
    assert c.call("OBJECT", "FREQ", "nokey") == ("nullbulk",)
    for policy in ("allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random", "volatile-random"):
        assert c.call("CONFIG", "SET", "maxmemory-policy", policy) == ("simple", b"OK")
        assert c.call("OBJECT", "FREQ", "k") == ("err", LFU_NOT_SELECTED), policy
    assert c.call("CONFIG", "SET", "maxmemory-policy", "volatile-lfu") == ("simple", b"OK")
    assert c.call("OBJECT", "FREQ", "k")[0] == "int"


@pytest.mark.parametrize("kind", KINDS)
def test_object_freq_counts_accesses(spawn, kind):
    # With lfu-log-factor 0 every access increments the counter (probability 1/(0*x+1)), so the
    # counter is deterministic: LFU_INIT_VAL (5) for a new key, + 1 per access, saturating at 255.
    _, c = spawn(kind, "--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0")
    assert c.call("SET", "new", "v") == ("simple", b"OK")
    assert c.call("OBJECT", "FREQ", "new") == ("int", 5)
    assert c.call("OBJECT", "FREQ", "nokey") == ("nullbulk",)
    for n in (3, 10, 300):
        key = f"k{n}"
        assert c.call("SET", key, "v") == ("simple", b"OK")
        replies = c.pipeline([["GET", key]] * n)
        assert all(r == ("bulk", b"v") for r in replies)
        assert c.call("OBJECT", "FREQ", key) == ("int", min(255, 5 + n)), n
    # Looking at a key does not count as an access ...
    for cmd in (["TYPE", "k3"], ["EXISTS", "k3"], ["TTL", "k3"], ["PTTL", "k3"], ["OBJECT", "ENCODING", "k3"],
                ["OBJECT", "FREQ", "k3"]):
        assert c.call(*cmd)[0] != "err", cmd
    assert c.call("OBJECT", "FREQ", "k3") == ("int", 8)
    # ... reading, TOUCH and overwriting do; an overwrite keeps the counter (+1 for the write's lookup).
    assert c.call("TOUCH", "k3") == ("int", 1)
    assert c.call("OBJECT", "FREQ", "k3") == ("int", 9)
    assert c.call("SET", "k3", "w") == ("simple", b"OK")
    assert c.call("OBJECT", "FREQ", "k3") == ("int", 10)
    assert c.call("OBJECT", "FREQ", "k300") == ("int", 255)
    assert c.call("GET", "k300") == ("bulk", b"v")
    assert c.call("OBJECT", "FREQ", "k300") == ("int", 255)


# ---------------------------------------------------------------------------------------------------
# 3. noeviction

@pytest.mark.parametrize("kind", KINDS)
def test_noeviction_oom(spawn, kind):
    s, c = spawn(kind)
    assert c.call("CONFIG", "GET", "maxmemory-policy") == ("array", [("bulk", b"maxmemory-policy"), ("bulk", b"noeviction")])
    _, limit, written = fill_until_oom(c)
    assert c.call("SET", "another", "x") == ("err", OOM)
    # Read-only and non-denyoom commands still run.
    assert c.call("GET", written[0]) == ("bulk", b"x" * 10240)
    assert c.call("STRLEN", written[1]) == ("int", 10240)
    assert c.call("EXPIRE", written[1], "1000") == ("int", 1)
    assert c.call("PUBLISH", "ch", "m") == ("int", 0)
    assert c.call("PING") == ("simple", b"PONG")
    # denyoom commands do not, whether or not they would add memory.
    for cmd in (["INCR", "counter"], ["APPEND", written[0], "x"], ["SETEX", "t", "10", "v"],
                ["LPUSH", "l", "a"], ["HSET", "h", "f", "v"], ["SADD", "s", "m"], ["SET", written[2], "small"]):
        assert c.call(*cmd) == ("err", OOM), cmd
    assert c.call("EXISTS", "counter", "l", "h", "s", "t") == ("int", 0)
    assert c.call("DEL", written[0]) == ("int", 1)
    assert c.call("UNLINK", written[1]) == ("int", 1)
    errorstats = info(c, "errorstats")
    assert "errorstat_OOM" in errorstats, errorstats
    assert int(errorstats["errorstat_OOM"].split("=")[1].split(",")[0]) >= 9

    # redis-py maps the reply to OutOfMemoryError (a ResponseError).
    import redis
    rp = redis.Redis(port=s.port, socket_timeout=10)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError) as e:
            rp.set("x", "y")
        assert isinstance(e.value, redis.exceptions.ResponseError)
        assert str(e.value) == "command not allowed when used memory > 'maxmemory'."
    finally:
        rp.close()

    # Freeing memory lets writes through again (back to the original limit).
    assert c.call("CONFIG", "SET", "maxmemory", str(limit)) == ("simple", b"OK")
    rest = written[2:]
    for i in range(0, len(rest) - 5, 100):
        assert c.call("DEL", *rest[i:min(i + 100, len(rest) - 5)])[0] == "int"
    assert c.call("SET", "again", "x") == ("simple", b"OK")
    assert c.call("INCR", "counter") == ("int", 1)
    assert c.call("FLUSHALL") == ("simple", b"OK")
    more, error = fill(c, "m", 10240, max_writes=50)
    assert error is None and len(more) == 50


@pytest.mark.parametrize("kind", KINDS)
def test_eviction_exceeded_time(spawn, kind):
    """INFO stats: current_eviction_exceeded_time runs while memory stays over the limit after
    eviction, and total_eviction_exceeded_time keeps it once memory fits again."""
    _, c = spawn(kind)
    st = info(c, "stats")
    assert (st["total_eviction_exceeded_time"], st["current_eviction_exceeded_time"]) == ("0", "0")
    _, limit, _ = fill_until_oom(c)
    time.sleep(0.4)
    st = info(c, "stats")
    current, total = int(st["current_eviction_exceeded_time"]), int(st["total_eviction_exceeded_time"])
    assert 350 <= current < 10_000 and total >= current, st
    assert c.call("CONFIG", "SET", "maxmemory", str(limit)) == ("simple", b"OK")
    assert c.call("FLUSHALL") == ("simple", b"OK")
    assert c.call("SET", "a", "b") == ("simple", b"OK")
    st = info(c, "stats")
    assert st["current_eviction_exceeded_time"] == "0", st
    assert int(st["total_eviction_exceeded_time"]) >= current, st


@pytest.mark.parametrize("kind", KINDS)
def test_maxmemory_zero_disables_enforcement(spawn, kind):
    _, c = spawn(kind)
    fill_until_oom(c)
    assert c.call("SET", "x", "y") == ("err", OOM)
    assert c.call("CONFIG", "SET", "maxmemory", "0") == ("simple", b"OK")
    assert info(c, "memory")["maxmemory"] == "0"
    assert c.call("SET", "x", "y") == ("simple", b"OK")
    more, error = fill(c, "m", 10240, max_writes=300)
    assert error is None and len(more) == 300


# ---------------------------------------------------------------------------------------------------
# 4. MULTI while out of memory

@pytest.mark.parametrize("kind", KINDS)
def test_multi_while_oom(spawn, kind):
    s, c = spawn(kind)
    baseline, _, written = fill_until_oom(c)
    # Inside MULTI every queued command is refused while OOM, even a read.
    assert c.call("MULTI") == ("simple", b"OK")
    assert c.call("SET", "a", "b") == ("err", OOM)
    assert c.call("GET", written[0]) == ("err", OOM)
    assert c.call("EXEC") == ("err", EXECABORT)
    assert c.call("MULTI") == ("simple", b"OK")
    assert c.call("GET", written[0]) == ("err", OOM)
    assert c.call("EXEC") == ("err", EXECABORT)
    assert c.call("MULTI") == ("simple", b"OK")
    assert c.call("SET", "a", "b") == ("err", OOM)
    assert c.call("DISCARD") == ("simple", b"OK")
    assert c.call("GET", "a") == ("nullbulk",)
    assert c.call("EXISTS", written[0]) == ("int", 1)

    # Queued before the server ran out of memory: EXEC of a write transaction is refused (and the
    # transaction discarded); EXEC of a read-only one runs.
    assert c.call("CONFIG", "SET", "maxmemory", "0") == ("simple", b"OK")
    assert c.call("MULTI") == ("simple", b"OK")
    assert c.call("SET", "a", "b") == ("simple", b"QUEUED")
    assert c.call("GET", written[0]) == ("simple", b"QUEUED")
    other = Conn(s.port)
    try:
        assert other.call("CONFIG", "SET", "maxmemory", str(baseline)) == ("simple", b"OK")
        assert c.call("EXEC") == ("err", b"EXECABORT Transaction discarded because of: " + OOM)
        assert c.call("GET", "a") == ("nullbulk",)
        assert other.call("CONFIG", "SET", "maxmemory", "0") == ("simple", b"OK")
        assert c.call("MULTI") == ("simple", b"OK")
        assert c.call("GET", written[1]) == ("simple", b"QUEUED")
        assert c.call("STRLEN", written[1]) == ("simple", b"QUEUED")
        assert other.call("CONFIG", "SET", "maxmemory", str(baseline)) == ("simple", b"OK")
        assert c.call("EXEC") == ("array", [("bulk", b"x" * 10240), ("int", 10240)])
    finally:
        other.close()
    assert c.call("SET", "a", "b") == ("err", OOM)


# ---------------------------------------------------------------------------------------------------
# 5. Scripts and functions while out of memory

LIBRARY = """#!lua name=oomlib
redis.register_function('w', function(k, a) return redis.call('set', k[1], 'x') end)
redis.register_function{function_name='wo', callback=function(k, a) return redis.call('set', k[1], 'x') end, flags={'allow-oom'}}
redis.register_function{function_name='ro', callback=function(k, a) return redis.call('get', k[1]) end, flags={'no-writes'}}
"""


@pytest.mark.parametrize("kind", KINDS)
def test_scripts_while_oom(spawn, kind):
    _, c = spawn(kind)
    assert c.call("FUNCTION", "LOAD", LIBRARY) == ("bulk", b"oomlib")
    assert c.call("SET", "small", "v") == ("simple", b"OK")
    fill_until_oom(c)

    # A script without shebang is only stopped when it calls a denyoom command; the error carries
    # the script's position like any error raised by redis.call.
    assert c.call("EVAL", "return redis.call('set',KEYS[1],'x')", "1", "k") == (
        "err", OOM + b" script: 2597e0576dd54eb42864e3a1b8392b96e018bcc3, on @user_script:1.")
    assert c.call("EVAL", "return redis.pcall('set',KEYS[1],'x')", "1", "k") == ("err", OOM)
    assert c.call("EVAL", "return redis.call('get',KEYS[1])", "1", "small") == ("bulk", b"v")
    assert c.call("EVAL", "return 1", "0") == ("int", 1)
    assert c.call("EVAL_RO", "return redis.call('get',KEYS[1])", "1", "small") == ("bulk", b"v")
    # A shebang script may write unless flagged no-writes: refused before it runs ...
    assert c.call("EVAL", "#!lua\nreturn 1", "0") == ("err", OOM)
    assert c.call("EVAL", "#!lua\nreturn redis.call('get',KEYS[1])", "1", "small") == ("err", OOM)
    # ... unless it says allow-oom or no-writes.
    assert c.call("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set',KEYS[1],'x')", "1", "k") == ("simple", b"OK")
    assert c.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "small") == ("bulk", b"v")
    assert c.call("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0") == ("int", 1)
    # Functions: the same rules by their flags (OOM is checked before FCALL_RO's no-writes check).
    assert c.call("FCALL", "w", "1", "fk") == ("err", OOM)
    assert c.call("EXISTS", "fk") == ("int", 0)
    assert c.call("FCALL", "wo", "1", "fk") == ("simple", b"OK")
    assert c.call("FCALL", "ro", "1", "small") == ("bulk", b"v")
    assert c.call("FCALL_RO", "ro", "1", "small") == ("bulk", b"v")
    assert c.call("FCALL_RO", "w", "1", "fk") == ("err", OOM)
    # SCRIPT LOAD is allowed, FUNCTION LOAD is denyoom, FUNCTION DELETE frees.
    assert c.call("SCRIPT", "LOAD", "return 2") == ("bulk", b"7f923f79fe76194c868d7e1d0820de36700eb649")
    assert c.call("FUNCTION", "LOAD", "#!lua name=l2\nredis.register_function('f2', function() return 1 end)") == ("err", OOM)
    assert c.call("FUNCTION", "DELETE", "oomlib") == ("simple", b"OK")


# ---------------------------------------------------------------------------------------------------
# 6./7. Eviction

@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random", "allkeys-lfu"])
@pytest.mark.parametrize("kind", KINDS)
def test_allkeys_policies_evict(spawn, kind, policy):
    _, c = spawn(kind, "--maxmemory-policy", policy)
    _, limit = set_limit_above_used(c, 4 * MB)
    written, error = fill(c, "k", 5 * 1024, max_writes=3200)
    assert error is None, f"write {len(written)} failed: {error!r}"
    assert len(written) == 3200
    # Every command (INFO and DBSIZE too) may evict first while over the limit: bracket DBSIZE.
    evicted_before = evicted_keys(c)
    dbsize = c.call("DBSIZE")[1]
    evicted_after = evicted_keys(c)
    assert 0 < dbsize < len(written) // 2, dbsize
    assert evicted_before > 0
    assert evicted_before <= len(written) - dbsize <= evicted_after, (evicted_before, dbsize, evicted_after)
    used = used_memory(c)
    assert used < limit + 1 * MB, (used, limit)
    mem = info(c, "memory")
    assert mem["maxmemory"] == str(limit) and mem["maxmemory_policy"] == policy
    # The most recent write is there.
    assert c.call("EXISTS", written[-1]) == ("int", 1)


@pytest.mark.parametrize("kind", KINDS)
def test_allkeys_lru_keeps_recently_used(spawn, kind):
    _, c = spawn(kind, "--maxmemory-policy", "allkeys-lru")
    set_limit_above_used(c, 4 * MB)
    size = 5 * 1024
    value = b"x" * size
    hot = [f"a{i}" for i in range(100)]
    cold = [f"a{i}" for i in range(100, 200)]
    for name in hot + cold:
        assert c.call("SET", name, value) == ("simple", b"OK")
    assert evicted_keys(c) == 0
    time.sleep(1.3)  # Redis's LRU clock ticks once per second
    for batch in range(10):
        assert all(r == ("bulk", value) or r == ("nullbulk",) for r in c.pipeline([["GET", k] for k in hot]))
        replies = c.pipeline([["SET", f"f{batch}_{i}", value] for i in range(100)])
        assert all(r == ("simple", b"OK") for r in replies), [r for r in replies if r[0] == "err"][:1]
    assert evicted_keys(c) > 0
    survivors_hot = exists_count(c, hot)
    survivors_cold = exists_count(c, cold)
    assert survivors_hot > survivors_cold, (survivors_hot, survivors_cold)


VOLATILE = ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]


@pytest.mark.parametrize("policy", VOLATILE)
@pytest.mark.parametrize("kind", KINDS)
def test_volatile_policies(spawn, kind, policy):
    _, c = spawn(kind, "--maxmemory-policy", policy)
    set_limit_above_used(c, 3 * MB)
    # Only keys without a TTL: nothing can be evicted, so writes end in OOM.
    written, error = fill(c, "p", 10240)
    assert error == OOM, f"{error!r} after {len(written)} writes"
    assert evicted_keys(c) == 0
    assert exists_count(c, written) == len(written)
    assert c.call("FLUSHALL") == ("simple", b"OK")

    # Keys with a TTL are evicted (only they are) until none is left; then OOM again.
    volatile, error = fill(c, "v", 5 * 1024, max_writes=200, ex=1000)
    assert error is None and len(volatile) == 200
    assert evicted_keys(c) == 0
    persistent, error = fill(c, "p", 5 * 1024, max_writes=3000)
    assert error == OOM, f"{error!r} after {len(persistent)} writes"
    assert len(persistent) > 100
    evicted = evicted_keys(c)
    assert evicted > 0
    assert exists_count(c, persistent) == len(persistent)   # no key without TTL was evicted
    remaining = exists_count(c, volatile)
    assert evicted == len(volatile) - remaining
    assert remaining == 0, remaining                          # OOM only once nothing is evictable


@pytest.mark.parametrize("kind", KINDS)
def test_volatile_ttl_evicts_shortest_ttl_first(spawn, kind):
    _, c = spawn(kind, "--maxmemory-policy", "volatile-ttl")
    set_limit_above_used(c, 2 * MB)
    value = b"x" * 10240
    names = [f"t{i}" for i in range(100)]
    for i, name in enumerate(names):
        assert c.call("SET", name, value, "EX", str(1000 + i)) == ("simple", b"OK")
    assert evicted_keys(c) == 0
    filler, error = fill(c, "f", 10240, max_writes=1000, stop=lambda i: evicted_keys(c) >= 50)
    assert error is None, f"{error!r} after {len(filler)} writes"
    assert evicted_keys(c) >= 50
    assert exists_count(c, filler) == len(filler)
    short = exists_count(c, names[:50])
    long = exists_count(c, names[50:])
    longest = exists_count(c, names[75:])
    # Sampling makes it approximate: on Redis the 25 longest TTLs all survive in practice, and far
    # more of the longer half than of the shorter half.
    assert long > short, (short, long)
    assert longest >= 20, (short, long, longest)


# ---------------------------------------------------------------------------------------------------
# 8. Keyspace notification

@pytest.mark.parametrize("kind", KINDS)
def test_evicted_keyspace_event(spawn, kind):
    s, c = spawn(kind, "--maxmemory-policy", "allkeys-random", "--notify-keyspace-events", "Ee")
    sub = Conn(s.port, timeout=5.0)
    try:
        assert sub.call("SUBSCRIBE", "__keyevent@0__:evicted") == (
            "array", [("bulk", b"subscribe"), ("bulk", b"__keyevent@0__:evicted"), ("int", 1)])
        set_limit_above_used(c, 2 * MB)
        written, error = fill(c, "k", 5 * 1024, max_writes=2000, stop=lambda i: evicted_keys(c) > 0)
        assert error is None
        assert evicted_keys(c) > 0
        msg = sub.read()
        assert msg[0] == "array" and msg[1][:2] == [("bulk", b"message"), ("bulk", b"__keyevent@0__:evicted")], msg
        assert msg[1][2][1].decode() in written
        assert c.call("EXISTS", msg[1][2][1]) == ("int", 0)
    finally:
        sub.close()


# ---------------------------------------------------------------------------------------------------
# 9. Configuration

@pytest.mark.parametrize("kind", KINDS)
def test_eviction_config_defaults(request, kind):
    s = request.getfixturevalue("redis_server" if kind == "redis" else "lunar_server")
    c = Conn(s.port)
    try:
        for name, default in (("maxmemory-samples", b"5"), ("maxmemory-eviction-tenacity", b"10"),
                              ("lfu-log-factor", b"10"), ("lfu-decay-time", b"1"),
                              ("lazyfree-lazy-eviction", b"no")):
            assert c.call("CONFIG", "GET", name) == ("array", [("bulk", name.encode()), ("bulk", default)]), name
        # Out-of-range values are refused (and change nothing).
        assert c.call("CONFIG", "SET", "maxmemory-samples", "0") == ("err", (
            b"ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - "
            b"argument must be between 1 and 2147483647 inclusive"))
        assert c.call("CONFIG", "SET", "maxmemory-eviction-tenacity", "101") == ("err", (
            b"ERR CONFIG SET failed (possibly related to argument 'maxmemory-eviction-tenacity') - "
            b"argument must be between 0 and 100 inclusive"))
        assert c.call("CONFIG", "SET", "lfu-log-factor", "-1") == ("err", (
            b"ERR CONFIG SET failed (possibly related to argument 'lfu-log-factor') - "
            b"argument must be between 0 and 2147483647 inclusive"))
        assert c.call("CONFIG", "GET", "maxmemory-samples") == ("array", [("bulk", b"maxmemory-samples"), ("bulk", b"5")])
    finally:
        c.close()


@pytest.mark.parametrize("kind", KINDS)
def test_eviction_config_set(spawn, kind):
    _, c = spawn(kind)
    for name, value in (("maxmemory-samples", b"10"), ("maxmemory-eviction-tenacity", b"50"),
                        ("lfu-log-factor", b"0"), ("lfu-decay-time", b"0"), ("lazyfree-lazy-eviction", b"yes")):
        assert c.call("CONFIG", "SET", name, value) == ("simple", b"OK"), name
        assert c.call("CONFIG", "GET", name) == ("array", [("bulk", name.encode()), ("bulk", value)]), name


# ---------------------------------------------------------------------------------------------------
# 10. INFO memory

@pytest.mark.parametrize("kind", KINDS)
def test_info_memory_maxmemory(spawn, kind):
    _, c = spawn(kind, "--maxmemory", "123456789", "--maxmemory-policy", "volatile-ttl")
    mem = info(c, "memory")
    assert mem["maxmemory"] == "123456789"
    assert mem["maxmemory_policy"] == "volatile-ttl"
    assert c.call("CONFIG", "SET", "maxmemory", "50mb", "maxmemory-policy", "allkeys-lfu") == ("simple", b"OK")
    mem = info(c, "memory")
    assert mem["maxmemory"] == str(50 * MB)
    assert mem["maxmemory_policy"] == "allkeys-lfu"
    assert c.call("CONFIG", "GET", "maxmemory") == ("array", [("bulk", b"maxmemory"), ("bulk", str(50 * MB).encode())])
