"""The book's recipes shipped as function libraries in lua/, run against BOTH servers.

Every test takes the `srv` fixture, parametrized over Lunar (`r`) and the reference redis-server
7.0 (`rr`); the fixture loads each lua/*.lua file with FUNCTION LOAD REPLACE, so the same library
text is proven on Lua 5.1 (Redis) and Lua 5.4 (Lunar). Lunar is skipped only when it does not know
FUNCTION at all. Concurrency tests use several OS processes (and threads) with bounded loops and
deadlines: mutual exclusion of the lock, the semaphore limit, the fair semaphore's ticket order
and a delayed task queue that hands every task out exactly once.
"""
import binascii
import multiprocessing
import os
import queue as queue_mod
import random
import re
import shutil
import subprocess
import threading
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LUA = os.path.join(ROOT, "lua")
LIB_FILES = sorted(f for f in os.listdir(LUA) if f.endswith(".lua"))
CTX = multiprocessing.get_context("fork")


def read(path):
    with open(path) as f:
        return f.read()


def lib_name(code):
    m = re.match(r"#!lua name=(\S+)", code)
    assert m, "library file must start with #!lua name=<lib>"
    return m.group(1)


def registered_functions(code):
    """(name, no_writes) for every register_function call in a library's source."""
    out = []
    for m in re.finditer(r"register_function(\(\s*'(\w+)'|\{\s*function_name\s*=\s*'(\w+)'([^\n]*))", code):
        if m.group(2):
            out.append((m.group(2), False))
        else:
            out.append((m.group(3), "no-writes" in (m.group(4) or "")))
    return out


@pytest.fixture(params=["lunar", "redis"])
def srv(request):
    """A flushed client on Lunar or on redis-server 7.0 with every shipped library loaded."""
    c = request.getfixturevalue("r" if request.param == "lunar" else "rr")
    try:
        c.function_list()
    except redis.exceptions.ResponseError as e:
        if "unknown command" in str(e).lower():
            pytest.skip(f"{request.param} does not implement FUNCTION")
        raise
    for f in LIB_FILES:
        assert c.function_load(read(os.path.join(LUA, f)), replace=True).decode() == lib_name(read(os.path.join(LUA, f)))
    return c


@pytest.fixture
def both(r, rr):
    """Lunar and Redis side by side, libraries loaded, for reply-by-reply comparison."""
    for c in (r, rr):
        try:
            c.function_list()
        except redis.exceptions.ResponseError as e:
            if c is r and "unknown command" in str(e).lower():
                pytest.skip("lunar does not implement FUNCTION")
            raise
        for f in LIB_FILES:
            c.function_load(read(os.path.join(LUA, f)), replace=True)
    return r, rr


def port_of(c):
    return c.connection_pool.connection_kwargs["port"]


def client(port):
    return redis.Redis(port=port, protocol=2, socket_timeout=30)


def run_processes(target, arglists, timeout=120):
    """Runs target(*args, out_queue) in one process per args; returns their results (or raises)."""
    q = CTX.Queue()
    procs = [CTX.Process(target=_wrap, args=(target, a, q)) for a in arglists]
    for p in procs:
        p.start()
    results, deadline = [], time.time() + timeout
    try:
        while len(results) < len(procs):
            left = deadline - time.time()
            assert left > 0, "workers did not finish in time"
            results.append(q.get(timeout=left))
    finally:
        for p in procs:
            p.join(max(0.1, deadline - time.time()))
            if p.is_alive():
                p.terminate()
                p.join(5)
    errors = [r[1] for r in results if r[0] == "error"]
    assert not errors, errors
    return [r[1] for r in results]


def _wrap(target, args, q):
    try:
        q.put(("ok", target(*args)))
    except BaseException as e:  # reported to the parent
        q.put(("error", f"{type(e).__name__}: {e}"))


# ---------------------------------------------------------------------------------------------
# The libraries themselves


def test_every_library_loads_with_its_functions_and_flags(srv):
    listed = {}
    for lib in srv.function_list():
        lib = dict(zip(lib[::2], lib[1::2]))
        for fn in lib[b"functions"]:
            fn = dict(zip(fn[::2], fn[1::2]))
            listed[fn[b"name"].decode()] = (lib[b"library_name"].decode(), sorted(f.decode() for f in fn[b"flags"]))
    for f in LIB_FILES:
        code = read(os.path.join(LUA, f))
        fns = registered_functions(code)
        assert fns, f
        for name, ro in fns:
            assert listed[name] == (lib_name(code), ["no-writes"] if ro else []), name


def test_function_list_identical_on_both_servers(both):
    def shape(c):
        out = {}
        for lib in c.function_list(library="*"):
            lib = dict(zip(lib[::2], lib[1::2]))
            fns = sorted((dict(zip(f[::2], f[1::2]))[b"name"], tuple(sorted(dict(zip(f[::2], f[1::2]))[b"flags"])))
                         for f in lib[b"functions"])
            out[lib[b"library_name"]] = (lib[b"engine"], fns)
        return out
    assert shape(both[0]) == shape(both[1])


def test_readme_documents_every_function_with_an_fcall_example():
    readme = read(os.path.join(LUA, "README.md"))
    for f in LIB_FILES:
        code = read(os.path.join(LUA, f))
        assert f"`{f}`" in readme, f"{f} has no section in lua/README.md"
        for name, ro in registered_functions(code):
            call = "FCALL_RO" if ro else "FCALL"
            assert re.search(rf"`{call} {name} \d+", readme), f"no `{call} {name} <numkeys> ...` example for {name}"
            row = [line for line in readme.splitlines() if line.startswith(f"| `{name}`")]
            assert row, f"{name} has no table row"
            assert ("no-writes" in row[0]) == ro, f"{name}: README and the library disagree on no-writes"


def random_recipe_call(rng):
    """One random call over the time-independent parts of every library (huge timeouts/delays)."""
    who = rng.choice(["a", "b", "c", "d", "e"])
    word = b"".join(rng.choice([b"a", b"b", b"A", b"B", b"\xff"]) for _ in range(rng.randint(0, 3)))
    return rng.choice([
        ("fcall", "lock_acquire", 1, f"lock:{rng.randint(1, 2)}", who, rng.choice(["", 10**7])),
        ("fcall", "lock_release", 1, f"lock:{rng.randint(1, 2)}", who),
        ("fcall", "lock_refresh", 1, f"lock:{rng.randint(1, 2)}", who, 10**7),
        ("fcall_ro", "lock_owner", 1, f"lock:{rng.randint(1, 2)}"),
        ("fcall", "sem_acquire", 1, "sem", who, rng.randint(1, 3), 10**7),
        ("fcall", "sem_release", 1, "sem", who),
        ("fcall", "sem_refresh", 1, "sem", who),
        ("fcall", "fair_sem_acquire", 3, "fs", "fs:o", "fs:c", who, rng.randint(1, 3), 10**7),
        ("fcall", "fair_sem_release", 2, "fs", "fs:o", who),
        ("fcall", "fair_sem_refresh", 2, "fs", "fs:o", who),
        ("fcall", "contact_add", 1, "ct", word or who, rng.randint(1, 4)),
        ("fcall", "contact_remove", 1, "ct", word or who),
        ("fcall_ro", "contact_complete", 1, "ct", word),
        ("fcall", "ac_add", 1, "ac", word or who, who.encode() + word),
        ("fcall", "ac_remove", 1, "ac", word),
        ("fcall_ro", "ac_complete", 1, "ac", word, rng.randint(1, 5)),
        ("fcall", "slist_push", 1, "sl", rng.choice(["left", "right", "LEFT"]), rng.randint(1, 3), who, word),
        ("fcall", "slist_pop", 1, "sl", rng.choice(["left", "right"])),
        ("fcall_ro", "slist_len", 1, "sl"),
        ("fcall_ro", "slist_range", 1, "sl"),
        ("fcall", "shard_hset", 1, "h", rng.choice([who, str(rng.randint(0, 999))]), word, 50, 10),
        ("fcall_ro", "shard_hget", 1, "h", rng.choice([who, str(rng.randint(0, 999))]), 50, 10),
        ("fcall", "shard_sadd", 1, "s", word or who, 50, 10),
        ("fcall_ro", "shard_scard", 1, "s", 50, 10),
        ("fcall", "task_enqueue", 2, "q", "q:d", word or who, rng.choice([0, 0, 10**8])),
        ("fcall", "task_next", 2, "q", "q:d"),
        ("fcall", "task_promote", 2, "q", "q:d", 5),
        ("fcall", "article_vote", 2, "time:", "score:", who, f"article:{rng.randint(1, 3)}"),
        ("fcall", "article_groups", 0, f"article:{rng.randint(1, 3)}", rng.choice(["g1", "g1,g2", ""]), rng.choice(["", "g2"])),
        ("fcall", "log_recent", 1, "log", word, 3),
        ("fcall", "log_common", 2, "common", "common:start", word or who),
        ("fcall", "token_update", 3, "login:", "recent:", f"viewed:{who}", who, word, rng.choice(["", "item1", "item2"])),
        ("fcall", "session_cleanup", 2, "login:", "recent:", rng.randint(0, 4), "viewed:", 2),
    ])


def content(c, k):
    t = c.type(k)
    if t == b"string":
        return c.get(k)
    if t == b"list":
        return c.lrange(k, 0, -1)
    if t == b"set":
        return sorted(c.smembers(k))
    if t == b"hash":
        return sorted((f, v) for f, v in c.hgetall(k).items() if f != b"time")   # article post times
    if t == b"zset":   # scores are server times in some sets (ties order differently): members only
        return sorted(c.zrange(k, 0, -1))
    return t


def test_random_recipe_sequences_identical_on_both_servers(both):
    """The same random calls give the same replies and leave the same keys on Lua 5.1 and 5.4."""
    rng = random.Random(2024)
    calls = [random_recipe_call(rng) for _ in range(1500)]
    replies = []
    for c in both:
        for i in range(3):
            c.fcall("article_post", 3, "article:", "time:", "score:", f"poster{i}", f"T{i}", "L")
        out = []
        for kind, *args in calls:
            args = [a for a in args if a != ""] if args[0] in ("lock_acquire", "token_update") else args
            try:
                out.append(getattr(c, kind)(*args))
            except redis.exceptions.ResponseError as e:
                out.append(("error", str(e)))
        keys = sorted(k for k in c.keys("*") if not k.startswith((b"log", b"recent:", b"common")))
        out.append([(k, c.type(k), content(c, k)) for k in keys])
        out.append(sorted(c.hgetall("login:").items()))
        out.append(sorted(x.split(b" ", 1)[1] for x in c.lrange("log", 0, -1)))
        out.append(c.zrange("common", 0, -1, withscores=True))
        out.append(c.zrange("fs:o", 0, -1, withscores=True))      # ticket order
        out.append(c.zrange("ac", 0, -1, withscores=True))        # byte order
        replies.append(out)
    for i, (a, b) in enumerate(zip(replies[0], replies[1])):
        assert a == b, (i, calls[i] if i < len(calls) else "final state", a, b)


def test_write_functions_refused_by_fcall_ro(both):
    replies = []
    for c in both:
        with pytest.raises(redis.exceptions.ResponseError) as e:
            c.fcall_ro("lock_acquire", 1, "lock:ro", "me")
        replies.append(str(e.value))
        assert c.exists("lock:ro") == 0
    assert replies[0] == replies[1]


def test_hello_example_is_not_a_library_and_runs_with_eval(srv):
    names = {dict(zip(x[::2], x[1::2]))[b"library_name"] for x in srv.function_list()}
    assert b"hello" not in names and b"examples" not in names
    code = read(os.path.join(LUA, "examples", "hello.lua"))
    assert srv.eval(code, 1, "greeting", "world") == b"hello world"
    assert srv.get("greeting") == b"hello world"


def test_hello_example_with_the_cli_eval_mode(both):
    lunar_cli = os.path.join(ROOT, ".build", "debug", "lunar-cli")
    if os.environ.get("LUNAR_SERVER"):
        lunar_cli = os.path.join(os.path.dirname(os.environ["LUNAR_SERVER"]), "lunar-cli")
    outputs = []
    for c, exe in ((both[0], lunar_cli), (both[1], shutil.which("redis-cli"))):
        if not exe or not os.path.exists(exe):
            pytest.skip(f"{exe} not built")
        p = subprocess.run([exe, "-p", str(port_of(c)), "--eval", "lua/examples/hello.lua", "greeting", ",", "world"],
                           cwd=ROOT, capture_output=True, timeout=30, text=True)
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout)
        assert c.get("greeting") == b"hello world"
    assert outputs[0] == outputs[1] == "hello world\n"   # not a TTY: raw output


# ---------------------------------------------------------------------------------------------
# Locks


def test_lock_owner_only_release_and_refresh(srv):
    assert srv.fcall("lock_acquire", 1, "lock:x", "u1") == 1
    assert srv.fcall("lock_acquire", 1, "lock:x", "u2") == 0
    assert srv.fcall("lock_release", 1, "lock:x", "u2") == 0
    assert srv.fcall("lock_refresh", 1, "lock:x", "u2", 1000) == 0
    assert srv.ttl("lock:x") == -1           # acquired without a timeout: no TTL
    assert srv.fcall("lock_refresh", 1, "lock:x", "u1", 30000) == 1
    assert 25000 < srv.pttl("lock:x") <= 30000
    assert srv.fcall_ro("lock_owner", 1, "lock:x") == b"u1"
    assert srv.fcall("lock_release", 1, "lock:x", "u1") == 1
    assert srv.fcall("lock_release", 1, "lock:x", "u1") == 0
    assert srv.fcall("lock_refresh", 1, "lock:x", "u1", 1000) == 0
    assert srv.exists("lock:x") == 0


def test_lock_with_timeout_expires_and_is_taken_over(srv):
    assert srv.fcall("lock_acquire", 1, "lock:t", "old", 250) == 1
    assert srv.fcall("lock_acquire", 1, "lock:t", "new", 250) == 0
    time.sleep(0.4)
    assert srv.fcall("lock_acquire", 1, "lock:t", "new", 5000) == 1
    assert srv.fcall("lock_release", 1, "lock:t", "old") == 0     # the old holder cannot free it
    assert srv.fcall_ro("lock_owner", 1, "lock:t") == b"new"


def test_timeout_acquirer_puts_a_ttl_on_a_lock_without_one(srv):
    """The book's acquire_lock_with_timeout: a lock left without expiry (crashed holder) gets one."""
    assert srv.fcall("lock_acquire", 1, "lock:c", "crashed") == 1
    assert srv.ttl("lock:c") == -1
    assert srv.fcall("lock_acquire", 1, "lock:c", "waiter", 250) == 0
    assert 0 < srv.pttl("lock:c") <= 250
    time.sleep(0.4)
    assert srv.fcall("lock_acquire", 1, "lock:c", "waiter", 250) == 1


def test_lock_argument_errors(both):
    replies = []
    for c in both:
        got = []
        for args in (("lock:e",), ("lock:e", "me", "soon")):
            with pytest.raises(redis.exceptions.ResponseError) as e:
                c.fcall("lock_acquire", 1, *args)
            got.append(str(e.value))
        with pytest.raises(redis.exceptions.ResponseError) as e:
            c.fcall("lock_refresh", 1, "lock:e", "me", 0)
        got.append(str(e.value))
        assert c.exists("lock:e") == 0
        replies.append(got)
    assert replies[0] == replies[1]
    assert replies[0][1].startswith("ttl-ms must be a number")


def _lock_worker(port, n, per_worker, out=None):
    """The book's acquire_lock (retry until an acquire timeout) around a non-atomic read-modify-write."""
    c = client(port)
    me = f"proc{n}-{os.getpid()}"
    done, overlaps, deadline = 0, 0, time.time() + 90
    while done < per_worker and time.time() < deadline:
        acquire_end = time.time() + 10
        got = False
        while time.time() < acquire_end:
            if c.fcall("lock_acquire", 1, "lock:counter", me, 10000) == 1:
                got = True
                break
            time.sleep(0.001)
        if not got:
            continue
        if c.incr("inside") != 1:
            overlaps += 1
        v = int(c.get("counter") or 0)
        time.sleep(0.0005)
        c.set("counter", v + 1)
        c.decr("inside")
        assert c.fcall("lock_release", 1, "lock:counter", me) == 1
        done += 1
    c.close()
    return done, overlaps


def test_lock_mutual_exclusion_across_processes(srv):
    workers, per = 5, 30
    results = run_processes(_lock_worker, [(port_of(srv), i, per) for i in range(workers)])
    assert [d for d, _ in results] == [per] * workers
    assert sum(o for _, o in results) == 0
    assert int(srv.get("counter")) == workers * per
    assert srv.exists("lock:counter") == 0


def test_lock_without_lock_loses_updates_control(srv):
    """Control for the test above: the same read-modify-write without the lock does lose updates,
    so the exclusion test is able to fail."""
    port = port_of(srv)
    srv.set("counter", 0)

    def worker():
        c = client(port)
        for _ in range(30):
            v = int(c.get("counter"))
            time.sleep(0.0005)
            c.set("counter", v + 1)
        c.close()
    ts = [threading.Thread(target=worker) for _ in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert int(srv.get("counter")) < 150


# ---------------------------------------------------------------------------------------------
# Semaphores


def test_counting_semaphore_basics(srv):
    assert [srv.fcall("sem_acquire", 1, "sem:a", i, 2, 10000) for i in ("a", "b", "c")] == [1, 1, 0]
    assert srv.zscore("sem:a", "c") is None                 # a failed attempt leaves nothing
    assert srv.fcall("sem_refresh", 1, "sem:a", "c") == 0
    assert srv.fcall("sem_refresh", 1, "sem:a", "a") == 1
    assert srv.fcall("sem_release", 1, "sem:a", "b") == 1
    assert srv.fcall("sem_release", 1, "sem:a", "b") == 0
    assert srv.fcall("sem_acquire", 1, "sem:a", "c", 2, 10000) == 1
    assert sorted(srv.zrange("sem:a", 0, -1)) == [b"a", b"c"]


def test_counting_semaphore_times_out_holders(srv):
    assert srv.fcall("sem_acquire", 1, "sem:t", "a", 1, 250) == 1
    assert srv.fcall("sem_acquire", 1, "sem:t", "b", 1, 250) == 0
    time.sleep(0.4)
    assert srv.fcall("sem_acquire", 1, "sem:t", "b", 1, 250) == 1
    assert srv.fcall("sem_refresh", 1, "sem:t", "a") == 0   # timed out: lost, not re-acquired
    assert srv.zrange("sem:t", 0, -1) == [b"b"]


def test_fair_semaphore_ticket_order(srv):
    keys = ("fs", "fs:owner", "fs:counter")
    assert [srv.fcall("fair_sem_acquire", 3, *keys, i, 2, 10000) for i in ("a", "b", "c", "d")] == [1, 1, 0, 0]
    assert srv.get("fs:counter") == b"4"                    # every attempt took a ticket
    assert srv.zrange("fs:owner", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert srv.fcall("fair_sem_release", 2, "fs", "fs:owner", "a") == 1
    assert srv.fcall("fair_sem_acquire", 3, *keys, "e", 2, 10000) == 1
    # The newcomer ranks after the earlier holder, whatever the scores in the time-ordered set.
    assert srv.zrange("fs:owner", 0, -1) == [b"b", b"e"]
    assert srv.fcall("fair_sem_refresh", 2, "fs", "fs:owner", "a") == 0
    assert srv.fcall("fair_sem_refresh", 2, "fs", "fs:owner", "b") == 1


def test_fair_semaphore_timed_out_holder_loses_rank(srv):
    keys = ("ft", "ft:owner", "ft:counter")
    assert srv.fcall("fair_sem_acquire", 3, *keys, "slow", 1, 250) == 1
    time.sleep(0.4)
    assert srv.fcall("fair_sem_acquire", 3, *keys, "next", 1, 250) == 1
    assert srv.zrange("ft:owner", 0, -1) == [b"next"]      # the owner set follows the timeout
    assert srv.fcall("fair_sem_refresh", 2, "ft", "ft:owner", "slow") == 0
    assert srv.zrange("ft", 0, -1) == [b"next"]


def _sem_worker(port, n, fair, limit, rounds, out=None):
    c = client(port)
    seen_max, taken, deadline = 0, 0, time.time() + 90
    i = 0
    while taken < rounds and time.time() < deadline:
        me = f"p{n}-{i}"
        i += 1
        if fair:
            ok = c.fcall("fair_sem_acquire", 3, "S", "S:owner", "S:counter", me, limit, 20000)
        else:
            ok = c.fcall("sem_acquire", 1, "S", me, limit, 20000)
        if ok != 1:
            time.sleep(0.001)
            continue
        holders = c.incr("holders")
        if holders > limit:
            c.incr("violations")
        seen_max = max(seen_max, holders)
        if fair:
            # Holders are exactly the lowest tickets still in the owner set.
            rank = c.zrank("S:owner", me)
            if rank is None or rank >= limit:
                c.incr("rank_violations")
        time.sleep(0.003)
        c.decr("holders")
        if fair:
            assert c.fcall("fair_sem_release", 2, "S", "S:owner", me) == 1
        else:
            assert c.fcall("sem_release", 1, "S", me) == 1
        taken += 1
    c.close()
    return taken, seen_max


@pytest.mark.parametrize("fair", [False, True], ids=["counting", "fair"])
def test_semaphore_limit_across_processes(srv, fair):
    limit, workers, rounds = 3, 8, 12
    results = run_processes(_sem_worker, [(port_of(srv), i, fair, limit, rounds) for i in range(workers)])
    assert [t for t, _ in results] == [rounds] * workers
    assert srv.get("violations") is None and srv.get("rank_violations") is None
    assert 2 <= max(m for _, m in results) <= limit      # contention really happened
    assert srv.zcard("S") == 0
    if fair:
        assert srv.zcard("S:owner") == 0
        assert int(srv.get("S:counter")) >= workers * rounds


def test_fair_semaphore_serves_everyone_within_limit_under_contention(srv):
    """Six threads start together on two slots and retry until served: each is served within the
    deadline (nobody starves), and when served it ranks below the limit by ticket among the owners.
    """
    port, limit, n = port_of(srv), 2, 6
    order, guard, errors = [], threading.Lock(), []
    barrier = threading.Barrier(n)

    def worker(i):
        c = client(port)
        try:
            barrier.wait(10)
            deadline = time.time() + 60
            while time.time() < deadline:
                if c.fcall("fair_sem_acquire", 3, "Q", "Q:owner", "Q:counter", f"t{i}", limit, 20000) == 1:
                    ticket = int(c.zscore("Q:owner", f"t{i}"))
                    lower = c.zrangebyscore("Q:owner", "-inf", f"({ticket}")
                    with guard:
                        order.append((ticket, len(lower)))
                    time.sleep(0.01)
                    c.fcall("fair_sem_release", 2, "Q", "Q:owner", f"t{i}")
                    return
                time.sleep(0.002)
            errors.append(f"t{i} never acquired")
        except Exception as e:
            errors.append(e)
        finally:
            c.close()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(90)
    assert not errors
    assert len(order) == n
    assert all(lower < limit for _, lower in order)


# ---------------------------------------------------------------------------------------------
# Autocomplete and recent contacts


def model_complete(names, prefix, limit=10):
    return sorted(n for n in names if n.startswith(prefix))[:limit]


def test_prefix_autocomplete_matches_a_model(srv):
    rng = random.Random(7)
    alphabet = [b"a", b"b", b"ab", b"\xff", b"\x00", b"z", b"{", b"`"]
    names = {b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(120)}
    assert srv.fcall("ac_add", 1, "guild", *sorted(names)) == len(names)
    assert srv.fcall("ac_add", 1, "guild", *sorted(names)[:5]) == 0
    prefixes = [b"", b"a", b"ab", b"\xff", b"a\xff", b"\xff\xff", b"b{", b"zz", b"`"]
    prefixes += [n[:k] for n in rng.sample(sorted(names), 10) for k in range(1, len(n) + 1)]
    for p in prefixes:
        for limit in (10, 3):
            assert srv.fcall_ro("ac_complete", 1, "guild", p, limit) == model_complete(names, p, limit), p
    gone = sorted(names)[3]
    assert srv.fcall("ac_remove", 1, "guild", gone) == 1
    assert srv.fcall("ac_remove", 1, "guild", gone) == 0
    assert gone not in srv.fcall_ro("ac_complete", 1, "guild", gone)
    assert srv.fcall_ro("ac_complete", 1, "guild", "a", 0) == []


def test_autocomplete_atomic_while_members_change(srv):
    """Readers complete a prefix while writers join and leave: every answer is a sorted list of
    real members with the prefix, never a half-done range and never a marker entry."""
    port, errors = port_of(srv), []
    stable = [f"ab{i:03d}" for i in range(20)]
    srv.fcall("ac_add", 1, "g", *stable)
    stop = time.time() + 1.5

    def writer(k):
        c = client(port)
        try:
            i = 0
            while time.time() < stop and i < 5000:
                name = f"ab{k}x{i % 17}"
                c.fcall("ac_add", 1, "g", name)
                c.fcall("ac_remove", 1, "g", name)
                i += 1
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    def reader():
        c = client(port)
        try:
            i = 0
            while time.time() < stop and i < 5000:
                got = [x.decode() for x in c.fcall_ro("ac_complete", 1, "g", "ab", 50)]
                assert got == sorted(got) and all(x.startswith("ab") for x in got), got
                assert set(stable) <= set(got), got
                i += 1
        except Exception as e:
            errors.append(e)
        finally:
            c.close()
    ts = [threading.Thread(target=writer, args=(k,)) for k in range(3)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert sorted(srv.fcall_ro("ac_complete", 1, "g", "ab", 100)) == [s.encode() for s in stable]


def test_recent_contacts(srv):
    for name in ("alice", "bob", "Alfred", "alice", "carol", "albert"):
        srv.fcall("contact_add", 1, "contacts:u1", name, 4)
    assert srv.lrange("contacts:u1", 0, -1) == [b"albert", b"carol", b"alice", b"Alfred"]
    assert srv.fcall_ro("contact_complete", 1, "contacts:u1", "al") == [b"albert", b"alice", b"Alfred"]
    assert srv.fcall_ro("contact_complete", 1, "contacts:u1", "x") == []
    assert srv.fcall("contact_remove", 1, "contacts:u1", "carol") == 1
    assert srv.fcall("contact_remove", 1, "contacts:u1", "carol") == 0
    for i in range(150):
        srv.fcall("contact_add", 1, "contacts:u2", f"c{i}")
    assert srv.llen("contacts:u2") == 100                      # the book keeps 100
    assert srv.lindex("contacts:u2", 0) == b"c149"


# ---------------------------------------------------------------------------------------------
# Sharded hashes, sets and lists


def book_shard_key(base, key, total, size):
    """The book's shard_key (chapter 9)."""
    if key.isdigit():
        shard_id = int(key, 10) // size
    else:
        shard_id = binascii.crc32(key.encode()) % max(1, 2 * total // size)
    return f"{base}:{shard_id}"


def test_shard_key_is_the_books(both):
    rng = random.Random(3)
    keys = [str(rng.randint(0, 10**9)) for _ in range(30)] + [f"user:{rng.random()}" for _ in range(60)]
    keys += ["", "0", "Tokyo", "caf\u00e9", "12a"]
    for c in both:
        for total, size in ((1000, 100), (100000, 512), (10, 100), (7, 3)):
            for k in keys:
                assert c.fcall_ro("shard_key", 1, "b", k, total, size).decode() == book_shard_key("b", k, total, size), (k, total, size)
    for c in both:
        with pytest.raises(redis.exceptions.ResponseError, match="shard-size"):
            c.fcall_ro("shard_key", 1, "b", "k", 1000, 0)


def test_sharded_hash_and_set(srv):
    total, size = 500, 100
    for i in range(total):
        assert srv.fcall("shard_hset", 1, "ip2city", f"ip{i}", f"city{i % 7}", total, size) == 1
    assert srv.fcall("shard_hset", 1, "ip2city", "ip3", "Paris", total, size) == 0
    assert srv.fcall_ro("shard_hget", 1, "ip2city", "ip3", total, size) == b"Paris"
    shards = srv.keys("ip2city:*")
    assert len(shards) == 2 * total // size                      # 10 hashed shards, all used
    assert sum(srv.hlen(k) for k in shards) == total
    assert max(srv.hlen(k) for k in shards) < 2 * size           # each stays small
    assert srv.fcall("shard_hdel", 1, "ip2city", "ip3", total, size) == 1
    assert srv.fcall_ro("shard_hget", 1, "ip2city", "ip3", total, size) is None
    # Unique visitors: shard_sadd answers 1 only for a first visit (the book's count_visit).
    firsts = sum(srv.fcall("shard_sadd", 1, "unique", f"v{i % 300}", 1000, 100) for i in range(700))
    assert firsts == 300
    assert srv.fcall_ro("shard_scard", 1, "unique", 1000, 100) == 300
    assert srv.fcall_ro("shard_sismember", 1, "unique", "v42", 1000, 100) == 1
    assert srv.fcall_ro("shard_sismember", 1, "unique", "v300", 1000, 100) == 0
    # Numeric members shard by range.
    srv.fcall("shard_sadd", 1, "ids", "12345", 1000, 100)
    assert srv.smembers("ids:123") == {b"12345"}


def test_sharded_list_matches_a_deque_model(both):
    from collections import deque
    rng = random.Random(11)
    ops = []
    for i in range(400):
        k = rng.random()
        if k < 0.55:
            ops.append(("push", rng.choice(["left", "right"]), [f"i{i}-{j}" for j in range(rng.randint(1, 4))]))
        else:
            ops.append(("pop", rng.choice(["left", "right"]), None))
    for c in both:
        model = deque()
        for kind, end, items in ops:
            if kind == "push":
                n = c.fcall("slist_push", 1, "L", end, 5, *items)
                for it in items:
                    (model.appendleft if end == "left" else model.append)(it.encode())
                assert n == len(model)
            else:
                got = c.fcall("slist_pop", 1, "L", end)
                want = (model.popleft() if end == "left" else model.pop()) if model else None
                assert got == want
            assert c.fcall_ro("slist_len", 1, "L") == len(model)
        assert c.fcall_ro("slist_range", 1, "L") == list(model)
        assert all(c.llen(k) <= 5 for k in c.keys("L:[0-9-]*"))


def test_argument_errors_match_redis(both):
    calls = [("slist_push", 1, "L", "middle", 2, "x"), ("slist_pop", 1, "L", "up"),
             ("slist_push", 1, "L", "left", 0, "x"), ("task_enqueue", 2, "q", "d"),
             ("sem_acquire", 1, "s", "id", "many", 1000), ("fair_sem_acquire", 3, "s", "o", "c", "id", 2),
             ("shard_hset", 1, "h", "k", "v", 100, 0), ("log_common", 2, "c", "s", "m", 0)]
    replies = []
    for c in both:
        out = []
        for call in calls:
            with pytest.raises(redis.exceptions.ResponseError) as e:
                c.fcall(*call)
            out.append(str(e.value))
        assert c.dbsize() == 0                                   # nothing written on a refused call
        replies.append(out)
    assert replies[0] == replies[1]
    assert not any("attempt to" in m or "must be strings" in m for m in replies[0]), replies[0]   # our messages, not Lua faults


def _slist_worker(port, n, role, out=None):
    c = client(port)
    got = []
    if role == "push":
        for i in range(120):
            c.fcall("slist_push", 1, "PL", "left" if i % 3 else "right", 8, f"p{n}-{i}")
    else:
        idle, deadline = 0, time.time() + 60
        while idle < 100 and time.time() < deadline:
            item = c.fcall("slist_pop", 1, "PL", "left" if n % 2 else "right")
            if item is None:
                idle += 1
                time.sleep(0.005)
            else:
                idle = 0
                got.append(item.decode())
    c.close()
    return got


def test_sharded_list_concurrent_processes(srv):
    res = run_processes(_slist_worker, [(port_of(srv), n, "push") for n in range(3)] +
                        [(port_of(srv), n, "pop") for n in range(3)])
    popped = [x for r in res for x in r]
    rest = [x.decode() for x in srv.fcall_ro("slist_range", 1, "PL")]
    assert sorted(popped + rest) == sorted(f"p{n}-{i}" for n in range(3) for i in range(120))


# ---------------------------------------------------------------------------------------------
# Articles


def test_articles_post_vote_pages_and_groups(srv):
    ids = [srv.fcall("article_post", 3, "article:", "time:", "score:", f"user{i}", f"T{i}", f"http://x/{i}")
           for i in range(4)]
    assert ids == [b"article:1", b"article:2", b"article:3", b"article:4"]
    assert srv.smembers("voted:1") == {b"user0"} and 0 < srv.ttl("voted:1") <= 7 * 86400
    for voter in ("a", "b", "c"):
        assert srv.fcall("article_vote", 2, "time:", "score:", voter, "article:3") == 1
    assert srv.fcall("article_vote", 2, "time:", "score:", "a", "article:3") == 0
    assert srv.fcall("article_vote", 2, "time:", "score:", "a", "article:2") == 1
    assert srv.hget("article:3", "votes") == b"4"
    assert srv.zscore("score:", "article:3") - srv.zscore("time:", "article:3") == 4 * 432
    # An article older than a week takes no more votes.
    srv.zadd("time:", {"article:1": int(time.time()) - 8 * 86400})
    assert srv.fcall("article_vote", 2, "time:", "score:", "late", "article:1") == 0
    assert srv.hget("article:1", "votes") == b"1"
    page1 = srv.fcall_ro("article_page", 1, "score:", 1, 2)
    assert [row[1] for row in page1] == [b"article:3", b"article:2"]
    assert [row[1] for row in srv.fcall_ro("article_page", 1, "score:", 2, 2)] == [b"article:4", b"article:1"]
    assert srv.fcall_ro("article_page", 1, "score:", 3, 2) == []
    row = dict(zip(page1[0][::2], page1[0][1::2]))
    assert (row[b"title"], row[b"link"], row[b"poster"], row[b"votes"]) == (b"T2", b"http://x/2", b"user2", b"4")
    assert srv.fcall("article_groups", 0, "article:1", "redis,lua") == 1
    assert srv.fcall("article_groups", 0, "article:3", "redis") == 1
    assert [r[1] for r in srv.fcall("article_group_page", 1, "score:", "redis", 1, 10)] == [b"article:3", b"article:1"]
    # The group page is cached for cache-seconds; a later group change shows after the cache expires.
    srv.fcall("article_groups", 0, "article:3", "", "redis")
    assert [r[1] for r in srv.fcall("article_group_page", 1, "score:", "redis", 1, 10)] == [b"article:3", b"article:1"]
    srv.delete("score:redis")
    assert [r[1] for r in srv.fcall("article_group_page", 1, "score:", "redis", 1, 10, 1)] == [b"article:1"]
    assert srv.ttl("score:redis") == 1


def test_concurrent_votes_count_once(srv):
    art = srv.fcall("article_post", 3, "article:", "time:", "score:", "poster", "T", "L")
    port, errors = port_of(srv), []

    def voter(k):
        c = client(port)
        try:
            for i in range(60):
                c.fcall("article_vote", 2, "time:", "score:", f"user{i}", art)   # same 60 voters everywhere
        except Exception as e:
            errors.append(e)
        finally:
            c.close()
    ts = [threading.Thread(target=voter, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert srv.hget(art, "votes") == b"61"
    assert srv.zscore("score:", art) - srv.zscore("time:", art) == 61 * 432


# ---------------------------------------------------------------------------------------------
# Login sessions and logs


def test_login_tokens_and_session_cleanup(srv):
    for i in range(12):
        srv.fcall("token_update", 3, "login:", "recent:", f"viewed:tok{i}", f"tok{i}", f"user{i}", f"item{i}")
        time.sleep(0.002)
    srv.fcall("token_update", 3, "login:", "recent:", "viewed:tok0", "tok0", "user0")   # tok0 active again
    for i in range(30):
        srv.fcall("token_update", 3, "login:", "recent:", "viewed:tok5", "tok5", "user5", f"it{i:02d}")
    assert srv.zcard("viewed:tok5") == 25 and srv.zscore("viewed:tok5", "it29") is not None
    assert srv.fcall_ro("token_check", 1, "login:", "tok3") == b"user3"
    # Cleanup in batches of 2 down to 8 sessions: the oldest tokens go first, with their viewed: keys.
    assert srv.fcall("session_cleanup", 2, "login:", "recent:", 8, "viewed:", 2) == 2
    assert srv.fcall("session_cleanup", 2, "login:", "recent:", 8, "viewed:", 2) == 2
    assert srv.fcall("session_cleanup", 2, "login:", "recent:", 8, "viewed:", 2) == 0
    left = sorted(x.decode() for x in srv.hkeys("login:"))
    assert left == sorted(["tok0", "tok5", "tok6", "tok7", "tok8", "tok9", "tok10", "tok11"])
    assert srv.fcall_ro("token_check", 1, "login:", "tok1") is None
    assert srv.exists("viewed:tok1", "viewed:tok2", "viewed:tok3", "viewed:tok4") == 0
    assert srv.exists("viewed:tok5") == 1


def test_session_cleanup_large_batch(srv):
    """One call may remove more sessions than Lua 5.1 can unpack at once."""
    pipe = srv.pipeline(transaction=False)
    for i in range(12000):
        pipe.hset("login:", f"t{i}", "u")
        pipe.zadd("recent:", {f"t{i}": i})
    pipe.execute()
    srv.set("viewed:t5", "x")
    assert srv.fcall("session_cleanup", 2, "login:", "recent:", 100, "viewed:", 20000) == 11900
    assert srv.hlen("login:") == 100 and srv.zcard("recent:") == 100
    assert srv.zrange("recent:", 0, 0) == [b"t11900"] and srv.exists("viewed:t5") == 0
    with pytest.raises(redis.exceptions.ResponseError, match="expected <limit>"):
        srv.fcall("session_cleanup", 2, "login:", "recent:", "lots")


def test_logs_recent_and_common(srv):
    for i in range(105):
        n = srv.fcall("log_recent", 1, "recent:app:info", f"m{i}")
    assert n == 100 and srv.llen("recent:app:info") == 100
    first = srv.lindex("recent:app:info", 0).decode()
    stamp, msg = first.split(" ", 1)
    assert msg == "m104" and abs(int(stamp) - srv.time()[0]) <= 2
    for m in ("disk full", "disk full", "timeout", "disk full"):
        last = srv.fcall("log_common", 2, "common:app:error", "common:app:error:start", m)
    assert last == 3
    assert srv.zrevrange("common:app:error", 0, -1, withscores=True) == [(b"disk full", 3.0), (b"timeout", 1.0)]
    start = int(srv.get("common:app:error:start"))
    assert start % 3600 == 0 and start <= srv.time()[0] < start + 3600
    # A new hour: the counts rotate to :last.
    srv.set("common:app:error:start", start - 3600)
    assert srv.fcall("log_common", 2, "common:app:error", "common:app:error:start", "timeout") == 1
    assert srv.zscore("common:app:error:last", "disk full") == 3
    assert int(srv.get("common:app:error:start:last")) == start - 3600
    assert int(srv.get("common:app:error:start")) == start
    # A period without messages leaves no stale :last counts behind.
    srv.delete("common:app:error")
    srv.set("common:app:error:start", start - 3600)
    assert srv.fcall("log_common", 2, "common:app:error", "common:app:error:start", "x") == 1
    assert srv.exists("common:app:error:last") == 0
    # With a third key the message also goes to the recent list (the book's log_common).
    assert srv.fcall("log_common", 3, "common:db:warn", "common:db:warn:start", "recent:db:warn", "slow") == 1
    assert srv.lindex("recent:db:warn", 0).decode().split(" ", 1)[1] == "slow"
    for bad in (("log_common", 2, "c", "s", "m", 0), ("log_recent", 1, "l", "m", 0)):
        with pytest.raises(redis.exceptions.ResponseError, match="expected <message>"):
            srv.fcall(*bad)


# ---------------------------------------------------------------------------------------------
# Delayed task queue


def test_delayed_tasks_wait_for_their_time(srv):
    assert srv.fcall("task_enqueue", 2, "queue:email", "delayed:email", "now") == 1
    assert srv.fcall("task_enqueue", 2, "queue:email", "delayed:email", "later", 150) == 2
    assert srv.fcall("task_enqueue", 2, "queue:email", "delayed:email", "later", 150) == 2
    assert srv.fcall("task_next", 2, "queue:email", "delayed:email") == b"now"
    assert srv.fcall("task_next", 2, "queue:email", "delayed:email") is None
    assert srv.fcall("task_promote", 2, "queue:email", "delayed:email") == 0
    time.sleep(0.25)
    assert srv.fcall("task_promote", 2, "queue:email", "delayed:email", 1) == 1
    assert srv.fcall("task_next", 2, "queue:email", "delayed:email") == b"later"
    assert srv.fcall("task_next", 2, "queue:email", "delayed:email") == b"later"   # duplicates both run
    assert srv.fcall("task_next", 2, "queue:email", "delayed:email") is None
    assert srv.zcard("delayed:email") == 0


def _queue_worker(port, n, out=None):
    c = client(port)
    got, idle, deadline = [], 0, time.time() + 60
    while idle < 60 and time.time() < deadline:
        t = c.fcall("task_next", 2, "queue:jobs", "delayed:jobs")
        if t is None:
            idle += 1
            time.sleep(0.01)
            continue
        idle = 0
        sec, usec = c.time()
        got.append((t.decode(), sec * 1000 + usec // 1000))
    c.close()
    return got


def test_delayed_queue_delivers_each_task_once_across_processes(srv):
    tasks, due = [], {}
    sec, usec = srv.time()
    start_ms = sec * 1000 + usec // 1000
    for i in range(240):
        delay = 0 if i % 3 == 0 else 150 + (i % 7) * 100
        name = f"job{i}"
        srv.fcall("task_enqueue", 2, "queue:jobs", "delayed:jobs", name, delay)
        tasks.append(name)
        due[name] = start_ms + delay
    res = run_processes(_queue_worker, [(port_of(srv), n) for n in range(4)])
    delivered = [t for r in res for t, _ in r]
    assert sorted(delivered) == sorted(tasks)                    # each exactly once
    for r in res:
        for t, at in r:
            assert at >= due[t] - 5, (t, at, due[t])               # never before its time
    assert srv.llen("queue:jobs") == 0 and srv.zcard("delayed:jobs") == 0
