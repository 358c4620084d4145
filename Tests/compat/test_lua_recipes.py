"""The recipe libraries shipped in lua/ (loaded at startup from lua-library-dir): locks and
semaphores, tested from redis-py, with concurrent clients proving mutual exclusion, the
semaphore limit and fairness. Each library is also loaded into redis-server 7.0 and must
behave the same there (they only use Redis 7 function APIs)."""
import os
import threading
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lib_code(name):
    with open(os.path.join(ROOT, "lua", name)) as f:
        return f.read()


LIBS = sorted(f for f in os.listdir(os.path.join(ROOT, "lua")) if f.endswith(".lua"))


@pytest.fixture
def lr(r):
    """Lunar with every shipped library (other test files may have run FUNCTION FLUSH)."""
    for lib in LIBS:
        r.function_load(lib_code(lib), replace=True)
    return r


@pytest.fixture
def clients(lr, rr):
    for lib in LIBS:
        rr.function_load(lib_code(lib), replace=True)
    return lr, rr


def new_client(c):
    kw = c.connection_pool.connection_kwargs
    return redis.Redis(port=kw["port"], protocol=2, socket_timeout=20)


def test_libraries_loaded_at_startup():
    from support.servers import start_lunar
    s = start_lunar()   # lua-library-dir = the repository's lua/
    try:
        c = redis.Redis(port=s.port, protocol=2, socket_timeout=10)
        names = sorted(dict(zip(x[::2], x[1::2]))[b"library_name"] for x in c.function_list())
        expected = sorted(lib_code(f).split("\n", 1)[0][len("#!lua name="):].encode() for f in LIBS)
        assert names == expected
        assert c.fcall("lock_acquire", 1, "l", "me") == 1
    finally:
        s.stop()


def test_lock_basics_match_redis(clients):
    for c in clients:
        assert c.fcall("lock_acquire", 1, "lock:a", "owner1", 10000) == 1
        assert c.fcall("lock_acquire", 1, "lock:a", "owner2", 10000) == 0
        assert c.fcall_ro("lock_owner", 1, "lock:a") == b"owner1"
        assert c.fcall("lock_release", 1, "lock:a", "owner2") == 0
        assert c.fcall("lock_refresh", 1, "lock:a", "owner2", 50000) == 0
        assert c.fcall("lock_refresh", 1, "lock:a", "owner1", 50000) == 1
        assert 40000 < c.pttl("lock:a") <= 50000
        assert c.fcall("lock_release", 1, "lock:a", "owner1") == 1
        assert c.fcall_ro("lock_owner", 1, "lock:a") is None
        # Without a TTL the lock stays until released.
        assert c.fcall("lock_acquire", 1, "lock:b", "o") == 1
        assert c.ttl("lock:b") == -1


def test_lock_expires(lr):
    r = lr
    assert r.fcall("lock_acquire", 1, "lock:e", "a", 100) == 1
    time.sleep(0.25)
    assert r.fcall("lock_acquire", 1, "lock:e", "b", 1000) == 1
    assert r.fcall_ro("lock_owner", 1, "lock:e") == b"b"


def test_lock_mutual_exclusion_under_concurrency(lr):
    """Eight clients do a non-atomic read-modify-write under the lock; no update may be lost."""
    r = lr
    r.set("counter", 0)
    per_thread, errors = 40, []

    def worker(n):
        c = new_client(r)
        me = f"worker{n}"
        try:
            done = 0
            deadline = time.time() + 60
            while done < per_thread and time.time() < deadline:
                if c.fcall("lock_acquire", 1, "lock:counter", me, 5000) == 1:
                    v = int(c.get("counter"))
                    time.sleep(0.0005)
                    c.set("counter", v + 1)
                    assert c.fcall("lock_release", 1, "lock:counter", me) == 1
                    done += 1
            assert done == per_thread
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors
    assert int(r.get("counter")) == 8 * per_thread


def test_semaphore_basics_match_redis(clients):
    for c in clients:
        assert [c.fcall("sem_acquire", 1, "sem", i, 2, 10000) for i in ("a", "b", "c")] == [1, 1, 0]
        assert c.fcall("sem_acquire", 1, "sem", "a", 2, 10000) == 1   # a holder re-acquiring keeps its slot
        assert c.fcall("sem_refresh", 1, "sem", "a") == 1
        assert c.fcall("sem_refresh", 1, "sem", "c") == 0
        assert c.fcall("sem_release", 1, "sem", "a") == 1
        assert c.fcall("sem_release", 1, "sem", "a") == 0
        assert c.fcall("sem_acquire", 1, "sem", "c", 2, 10000) == 1
        assert c.zcard("sem") == 2


def test_semaphore_timeout_frees_slots(lr):
    r = lr
    assert r.fcall("sem_acquire", 1, "semt", "a", 1, 100) == 1
    assert r.fcall("sem_acquire", 1, "semt", "b", 1, 100) == 0
    time.sleep(0.25)
    assert r.fcall("sem_acquire", 1, "semt", "b", 1, 100) == 1
    assert r.fcall("sem_refresh", 1, "semt", "a") == 0


@pytest.mark.parametrize("fair", [False, True])
def test_semaphore_limit_under_concurrency(lr, fair):
    """Ten clients compete for 3 slots; at no time do more than 3 hold one."""
    r = lr
    limit, holders, max_seen, errors = 3, [0], [0], []
    guard = threading.Lock()

    def acquire(c, me):
        if fair:
            return c.fcall("fair_sem_acquire", 3, "fsem", "fsem:owner", "fsem:counter", me, limit, 10000)
        return c.fcall("sem_acquire", 1, "csem", me, limit, 10000)

    def release(c, me):
        if fair:
            return c.fcall("fair_sem_release", 2, "fsem", "fsem:owner", me)
        return c.fcall("sem_release", 1, "csem", me)

    def worker(n):
        c = new_client(r)
        try:
            got = 0
            deadline = time.time() + 60
            while got < 15 and time.time() < deadline:
                me = f"w{n}-{got}"
                if acquire(c, me) == 1:
                    with guard:
                        holders[0] += 1
                        max_seen[0] = max(max_seen[0], holders[0])
                    time.sleep(0.002)
                    with guard:
                        holders[0] -= 1
                    assert release(c, me) == 1
                    got += 1
            assert got == 15
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors
    assert 1 <= max_seen[0] <= limit


def test_fair_semaphore_order(clients):
    for c in clients:
        keys = ("fs", "fs:owner", "fs:counter")
        assert c.fcall("fair_sem_acquire", 3, *keys, "first", 2, 10000) == 1
        assert c.fcall("fair_sem_acquire", 3, *keys, "second", 2, 10000) == 1
        assert c.fcall("fair_sem_acquire", 3, *keys, "third", 2, 10000) == 0
        # A failed attempt leaves no trace.
        assert c.zscore("fs", "third") is None and c.zscore("fs:owner", "third") is None
        assert c.fcall("fair_sem_refresh", 2, "fs", "fs:owner", "first") == 1
        assert c.fcall("fair_sem_release", 2, "fs", "fs:owner", "first") == 1
        assert c.fcall("fair_sem_refresh", 2, "fs", "fs:owner", "first") == 0
        assert c.fcall("fair_sem_acquire", 3, *keys, "third", 2, 10000) == 1
        assert [m for m in c.zrange("fs:owner", 0, -1)] == [b"second", b"third"]


def test_fair_semaphore_drops_timed_out_holders(lr):
    r = lr
    keys = ("ft", "ft:owner", "ft:counter")
    assert r.fcall("fair_sem_acquire", 3, *keys, "old", 1, 100) == 1
    assert r.fcall("fair_sem_acquire", 3, *keys, "new", 1, 100) == 0
    time.sleep(0.25)
    assert r.fcall("fair_sem_acquire", 3, *keys, "new", 1, 100) == 1
    assert r.zrange("ft:owner", 0, -1) == [b"new"]


def test_recent_contacts_match_redis(clients):
    results = []
    for c in clients:
        out = [c.fcall("contact_add", 1, "contacts", name, 3) for name in ("alice", "bob", "Alfred", "alice", "carol")]
        out.append(c.lrange("contacts", 0, -1))
        out.append(c.fcall_ro("contact_complete", 1, "contacts", "AL"))
        out.append(c.fcall("contact_remove", 1, "contacts", "alice"))
        out.append(c.fcall_ro("contact_complete", 1, "contacts", ""))
        results.append(out)
    assert results[0] == results[1]
    assert results[0][5] == [b"carol", b"alice", b"Alfred"]
    assert results[0][6] == [b"alice", b"Alfred"]


def test_autocomplete_match_redis(clients):
    results = []
    for c in clients:
        out = [c.fcall("ac_add", 1, "names", "apple", "apricot", "banana", "app", "apple")]
        out.append(c.fcall_ro("ac_complete", 1, "names", "ap"))
        out.append(c.fcall_ro("ac_complete", 1, "names", "ap", 2))
        out.append(c.fcall_ro("ac_complete", 1, "names", "zz"))
        out.append(c.fcall_ro("ac_complete", 1, "names", ""))
        out.append(c.fcall("ac_remove", 1, "names", "app"))
        out.append(c.fcall_ro("ac_complete", 1, "names", "app"))
        results.append(out)
    assert results[0] == results[1]
    assert results[0][1] == [b"app", b"apple", b"apricot"]


def test_delayed_task_queue(clients):
    for c in clients:
        assert c.fcall("task_enqueue", 2, "tq", "tq:delayed", "now1") == 1
        assert c.fcall("task_enqueue", 2, "tq", "tq:delayed", "later", 150) == 2
        assert c.fcall("task_enqueue", 2, "tq", "tq:delayed", "later", 150) == 2   # duplicates kept apart
        assert c.fcall("task_next", 2, "tq", "tq:delayed") == b"now1"
        assert c.fcall("task_next", 2, "tq", "tq:delayed") is None
        assert c.fcall("task_promote", 2, "tq", "tq:delayed") == 0
        time.sleep(0.3)
        assert c.fcall("task_promote", 2, "tq", "tq:delayed", 1) == 1
        assert c.fcall("task_next", 2, "tq", "tq:delayed") == b"later"
        assert c.fcall("task_next", 2, "tq", "tq:delayed") == b"later"
        assert c.fcall("task_next", 2, "tq", "tq:delayed") is None


def test_task_queue_each_task_taken_once_under_concurrency(lr):
    r = lr
    for i in range(200):
        r.fcall("task_enqueue", 2, "cq", "cq:delayed", f"t{i}", 0 if i % 2 else 50)
    time.sleep(0.2)
    taken, guard, errors = [], threading.Lock(), []

    def worker():
        c = new_client(r)
        try:
            while True:
                t = c.fcall("task_next", 2, "cq", "cq:delayed")
                if t is None:
                    break
                with guard:
                    taken.append(t)
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(taken) == sorted(f"t{i}".encode() for i in range(200))


def test_login_tokens_and_cleanup(clients):
    for c in clients:
        c.function_load(lib_code("sessions.lua"), replace=True)
        for i in range(5):
            assert c.fcall("token_update", 3, "login", "recent", f"viewed:t{i}", f"t{i}", f"user{i}", f"item{i}") == 1
            time.sleep(0.001)
        for i in range(30):
            c.fcall("token_update", 3, "login", "recent", "viewed:t4", "t4", "user4", f"item{i:02d}")
        assert c.zcard("viewed:t4") == 25
        assert c.fcall_ro("token_check", 1, "login", "t2") == b"user2"
        assert c.fcall_ro("token_check", 1, "login", "nope") is None
        assert c.fcall("session_cleanup", 2, "login", "recent", 10) == 0
        removed = c.fcall("session_cleanup", 2, "login", "recent", 3)
        assert removed == 2
        assert c.hlen("login") == 3 and c.zcard("recent") == 3
        assert c.exists("viewed:t0", "viewed:t1") == 0
        assert c.exists("viewed:t4") == 1


def test_log_libraries(clients):
    for c in clients:
        c.function_load(lib_code("logs.lua"), replace=True)
        for i in range(5):
            c.fcall("log_recent", 1, "log:recent", f"msg{i}", 3)
        entries = c.lrange("log:recent", 0, -1)
        assert [e.split(b" ", 1)[1] for e in entries] == [b"msg4", b"msg3", b"msg2"]
        assert c.fcall("log_common", 2, "log:common", "log:start", "boom") == 1
        assert c.fcall("log_common", 2, "log:common", "log:start", "boom") == 2
        # Pretend the period started long ago: the next message rotates the counts.
        c.set("log:start", 0)
        assert c.fcall("log_common", 2, "log:common", "log:start", "boom") == 1
        assert c.zscore("log:common:last", "boom") == 2
        assert c.get("log:start:last") == b"0"


def test_sharded_hashes_and_sets(clients):
    import binascii
    for c in clients:
        c.function_load(lib_code("sharding.lua"), replace=True)
        for word in ("hello", "Tokyo", "", "caf\u00e9"):
            assert c.fcall("shard_crc32", 0, word) == binascii.crc32(word.encode()) & 0xFFFFFFFF
        assert c.fcall_ro("shard_key", 1, "cities", "Tokyo", 1000, 100) == b"cities:%d" % (binascii.crc32(b"Tokyo") % 12)
        assert c.fcall_ro("shard_key", 1, "ids", "12345", 1000, 100) == b"ids:123"
        for i in range(300):
            assert c.fcall("shard_hset", 1, "h", f"k{i}", f"v{i}", 300, 50) == 1
        assert c.fcall_ro("shard_hget", 1, "h", "k7", 300, 50) == b"v7"
        assert c.fcall_ro("shard_hget", 1, "h", "nope", 300, 50) is None
        assert c.fcall("shard_hdel", 1, "h", "k7", 300, 50) == 1
        assert sum(c.hlen(f"h:{i}") for i in range(8)) == 299
        assert c.keys("h:*") and all(c.hlen(k) < 100 for k in c.keys("h:*"))
        for i in range(200):
            c.fcall("shard_sadd", 1, "visitors", f"user{i % 150}", 1000, 100)
        assert c.fcall_ro("shard_scard", 1, "visitors", 1000, 100) == 150
        assert c.fcall_ro("shard_sismember", 1, "visitors", "user3", 1000, 100) == 1
        assert c.fcall_ro("shard_sismember", 1, "visitors", "nobody", 1000, 100) == 0


def test_articles_voting_and_groups(clients):
    for c in clients:
        c.function_load(lib_code("articles.lua"), replace=True)
        a1 = c.fcall("article_post", 3, "article:", "time:", "score:", "alice", "First", "http://one")
        a2 = c.fcall("article_post", 3, "article:", "time:", "score:", "bob", "Second", "http://two")
        assert (a1, a2) == (b"article:1", b"article:2")
        assert c.fcall("article_vote", 2, "time:", "score:", "carol", "article:2") == 1
        assert c.fcall("article_vote", 2, "time:", "score:", "carol", "article:2") == 0   # once per user
        assert c.fcall("article_vote", 2, "time:", "score:", "bob", "article:2") == 0     # the poster voted
        assert c.fcall("article_vote", 2, "time:", "score:", "dave", "article:9") == 0    # no such article
        assert c.hget("article:2", "votes") == b"2"
        page = c.fcall_ro("article_page", 1, "score:", 1, 10)
        assert [row[1] for row in page] == [b"article:2", b"article:1"]
        row = dict(zip(page[0][::2], page[0][1::2]))
        assert row[b"title"] == b"Second" and row[b"poster"] == b"bob"
        assert c.fcall("article_groups", 0, "article:1", "prog,news") == 1
        assert c.fcall("article_groups", 0, "article:2", "news") == 1
        assert [r[1] for r in c.fcall("article_group_page", 1, "score:", "news", 1, 10)] == [b"article:2", b"article:1"]
        assert [r[1] for r in c.fcall("article_group_page", 1, "score:", "prog", 1, 10)] == [b"article:1"]
        assert 0 < c.ttl("score:news") <= 60
        c.fcall("article_groups", 0, "article:1", "", "prog")
        assert c.smembers("group:prog") == set()


def test_sharded_lists_match_redis(clients):
    results = []
    for c in clients:
        out = [c.fcall("slist_push", 1, "sl", "right", 2, "a", "b", "c", "d", "e"),
               c.fcall("slist_push", 1, "sl", "left", 2, "z", "y", "x"),
               c.fcall_ro("slist_range", 1, "sl"),
               c.fcall("slist_pop", 1, "sl", "left"), c.fcall("slist_pop", 1, "sl", "right"),
               c.fcall_ro("slist_len", 1, "sl"), max(c.llen(k) for k in c.keys("sl:[0-9-]*"))]
        out += [c.fcall("slist_pop", 1, "sl", "left") for _ in range(7)]
        out.append(sorted(c.keys("sl*")))
        with pytest.raises(redis.exceptions.ResponseError, match="shard-size must be a positive integer"):
            c.fcall("slist_push", 1, "sl", "right", 0, "x")
        results.append(out)
    assert results[0] == results[1]
    assert results[0][2] == [b"x", b"y", b"z", b"a", b"b", b"c", b"d", b"e"]
    assert results[0][6] <= 2
    assert results[0][-1] == []


def test_sharded_list_concurrent_push_pop(lr):
    r = lr
    errors, popped, guard = [], [], threading.Lock()

    def pusher(n):
        c = new_client(r)
        try:
            for i in range(100):
                c.fcall("slist_push", 1, "csl", "left" if i % 2 else "right", 7, f"p{n}-{i}")
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    def popper():
        c = new_client(r)
        try:
            idle = 0
            while idle < 50:
                item = c.fcall("slist_pop", 1, "csl", "right")
                if item is None:
                    idle += 1
                    time.sleep(0.005)
                    continue
                idle = 0
                with guard:
                    popped.append(item)
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(4)] + [threading.Thread(target=popper) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors
    rest = r.fcall_ro("slist_range", 1, "csl")
    assert sorted(popped + rest) == sorted(f"p{n}-{i}".encode() for n in range(4) for i in range(100))
