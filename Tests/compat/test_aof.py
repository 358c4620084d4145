"""Append-only file (AOF) persistence against redis-server 7.0: the multi-part layout (appendonlydir with a
base, an incr file and a manifest), durability across SIGKILL (appendfsync everysec and always, a fixed
dataset of every type and seeded random command streams), AOF directories written by one server loading in
the other, BGREWRITEAOF and automatic rewrites, CONFIG SET appendonly at runtime, the AOF configs and INFO
persistence fields, truncated and corrupt files, the upgrade from a Redis-6 single file, DEBUG LOADAOF.

Most tests run once per server through the same code (`kind` is "redis" or "lunar", the expected values were
taken from redis-server 7.0.15); test_redis_aof_loads_in_lunar / test_lunar_aof_loads_in_redis need both."""
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import redis

from support.aof import parse_commands
from support.dataset import keyspace
from support.resp import Conn
from support.servers import Server, free_port, lunar_argv

KINDS = ["redis", "lunar"]

MANIFEST_1 = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
MANIFEST_2 = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
FILES_1 = {"appendonly.aof.manifest", "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"}
FILES_2 = {"appendonly.aof.manifest", "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof"}

LIB = ("#!lua name=aoflib\n"
       "redis.register_function('aof_answer', function() return 42 end)\n"
       "redis.register_function('aof_write', function(keys, args) return redis.call('set', keys[1], args[1]) end)")


# MARK: servers

def argv_for(kind, *extra, workdir):
    """(argv, port) of a server of `kind` running in `workdir` (its `dir`), with the flags the rest of the
    suite uses for it."""
    port = free_port()
    if kind == "redis":
        exe = shutil.which("redis-server")
        if not exe:
            raise RuntimeError("redis-server not installed; run scripts/install-deps")
        return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--enable-debug-command", "yes", "--daemonize", "no", "--dir", workdir] + list(extra), port
    assert kind == "lunar", kind
    return lunar_argv(port, *extra), port


def start(kind, *extra, workdir):
    """A running server of `kind` in `workdir`, once it answers PING (Redis opens its port before it loads
    the AOF and answers -LOADING meanwhile)."""
    argv, port = argv_for(kind, *extra, workdir=workdir)
    s = Server(argv, port, workdir)
    deadline = time.time() + 20
    while True:
        try:
            c = Conn(port, timeout=2)
            try:
                if c.call("PING") == ("simple", b"PONG"):
                    return s
            finally:
                c.close()
        except OSError:
            pass
        if not s.alive() or time.time() > deadline:
            log = s.log_text()
            s.stop()
            raise RuntimeError(f"{kind} did not come up (exit {s.proc.returncode}): {log[-800:]}")
        time.sleep(0.05)


def start_aof(kind, *extra, workdir):
    return start(kind, "--appendonly", "yes", *extra, workdir=workdir)


def refusal(kind, *extra, workdir, timeout=20.0):
    """Starts a server that must refuse to start: returns (exit code, log). Fails if it serves PING."""
    argv, port = argv_for(kind, *extra, workdir=workdir)
    logpath = os.path.join(workdir, "server.log")
    with open(logpath, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.time() + timeout
        while proc.poll() is None:
            assert time.time() < deadline, f"{kind} neither exited nor served within {timeout}s"
            try:
                c = Conn(port, timeout=0.5)
                try:
                    assert c.call("PING") != ("simple", b"PONG"), f"{kind} started: {open(logpath).read()[-800:]}"
                finally:
                    c.close()
            except (OSError, ConnectionError):
                pass
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return proc.returncode, open(logpath, errors="replace").read()


def kill(server):
    """SIGKILL: nothing runs at exit, only what already reached the file (the page cache) survives."""
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    server.stop()


def shutdown_nosave(server):
    c = Conn(server.port)
    c.send_raw(Conn.encode(["SHUTDOWN", "NOSAVE"]))
    server.proc.wait(20)
    assert server.proc.returncode == 0, server.log_text()[-500:]
    c.close()
    server.stop()


def info(port):
    return redis.Redis(port=port).info("persistence")


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_flushed(port):
    """appendfsync everysec: Redis may postpone the write(2) while a background fsync runs (and still reply);
    aof_buffer_length 0 means everything replied to is in the file."""
    wait_for(lambda: info(port)["aof_buffer_length"] == 0, 5, "the AOF buffer to be written")


def wait_rewrite_done(port):
    wait_for(lambda: (lambda i: i["aof_rewrite_in_progress"] == 0 and i["aof_rewrite_scheduled"] == 0)(info(port)),
             10, "the AOF rewrite to finish")


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="lunar-aof-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# MARK: files

def aofdir(workdir, name="appendonlydir"):
    return os.path.join(workdir, name)


def aof_files(workdir, name="appendonlydir"):
    return set(os.listdir(aofdir(workdir, name)))


def manifest(workdir, dirname="appendonlydir", filename="appendonly.aof"):
    with open(os.path.join(aofdir(workdir, dirname), filename + ".manifest")) as f:
        return f.read()


def fsize(workdir, name):
    return os.path.getsize(os.path.join(aofdir(workdir), name))


def read(workdir, name):
    with open(os.path.join(aofdir(workdir), name), "rb") as f:
        return f.read()


def write(workdir, name, data):
    with open(os.path.join(aofdir(workdir), name), "wb") as f:
        f.write(data)


def wait_layout(workdir, text, files, timeout=10.0):
    """The manifest reads `text` and appendonlydir holds exactly `files` (Redis deletes the history files in
    the background after a rewrite), and no temp file is left in the data dir."""
    def ok():
        try:
            return (manifest(workdir) == text and aof_files(workdir) == files
                    and not [f for f in os.listdir(workdir) if f.startswith("temp-")])
        except FileNotFoundError:
            return False
    try:
        wait_for(ok, timeout, "the AOF layout")
    except AssertionError:
        temp = [f for f in os.listdir(workdir) if f.startswith("temp-")]
        raise AssertionError(f"layout: {sorted(aof_files(workdir))} temp: {temp} manifest: {manifest(workdir)!r}")


def check_aof(workdir):
    """redis-check-aof accepts the whole directory (manifest, base, incr files)."""
    exe = shutil.which("redis-check-aof")
    assert exe, "redis-check-aof not installed (redis-tools); run scripts/install-deps"
    res = subprocess.run([exe, os.path.join(aofdir(workdir), "appendonly.aof.manifest")],
                         capture_output=True, timeout=60)
    assert res.returncode == 0 and b"All AOF files and manifest are valid" in res.stdout, res.stdout[-800:]


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)




# MARK: data

def fill(port, seed=7):
    """Writes a dataset of every type through many different write commands (each propagates its own way:
    SET EX, INCRBYFLOAT, SPOP, BLPOP, GETEX, EXPIRE in the past, MULTI/EXEC, EVAL, FCALL, FLUSHDB, SWAPDB…),
    in several databases; the last writes go to db 3."""
    rng = random.Random(seed)
    c = redis.Redis(port=port)
    c.flushall()
    for i, v in enumerate([0, 1, -1, 255, 2**31, 2**63 - 1, -2**63, "007", "1.5", "", " 1", "x" * 100]):
        c.set(f"str:{i}", v)
    c.set("bin", bytes(range(256)) * 2)
    c.set("bin:resp", b"*1\r\n$4\r\nPING\r\n")
    c.set("long", bytes(rng.getrandbits(8) for _ in range(20000)))
    c.incr("counter")
    c.incrby("counter", 41)
    c.decr("counter")
    c.incrbyfloat("float", 1.5)
    c.incrbyfloat("float", "0.1")
    c.append("app", "hello")
    c.append("app", " world")
    c.setrange("app", 0, "J")
    c.setbit("bits", 7, 1)
    c.setbit("bits", 100, 1)
    c.mset({"m:1": "a", "m:2": "b", "m:3": "c"})
    c.getdel("m:2")
    c.set("m:3", "C", get=True)
    c.setnx("m:1", "no")
    c.msetnx({"m:4": "d"})
    # Lists
    c.rpush("list:small", "a", 1, -2, b"\x00\xff", "x" * 70)
    c.rpush("list:big", *range(1000))
    c.lpop("list:big")
    c.rpop("list:big", 3)
    c.lpush("list:big", "head")
    c.ltrim("list:big", 0, 900)
    c.lset("list:small", 0, "A")
    c.linsert("list:small", "BEFORE", "1", "ins")
    c.lrem("list:small", 0, "-2")
    c.lmove("list:small", "list:moved", "LEFT", "RIGHT")
    c.rpoplpush("list:big", "list:moved")
    assert c.blpop(["list:big"], timeout=1) is not None
    c.rpush("list:emptied", "only")
    c.lpop("list:emptied")
    # Sets
    c.sadd("set:int", *range(100))
    c.srem("set:int", 5)
    c.sadd("set:str", *[f"m{i}" for i in range(300)])
    c.spop("set:str")
    c.spop("set:str", 5)
    c.smove("set:int", "set:other", 7)
    c.sadd("set:other", 1, 2, "x")
    c.sinterstore("set:inter", ["set:int", "set:other"])
    c.sunionstore("set:union", ["set:other", "set:str"])
    c.sdiffstore("set:diff", ["set:int", "set:other"])
    # Hashes
    c.hset("hash:small", mapping={"a": "1", "b": "two", "3": "-4", b"\x00": b"\xff"})
    c.hset("hash:big", mapping={f"f{i}": i for i in range(300)})
    c.hdel("hash:big", "f0", "f1")
    c.hincrby("hash:small", "n", 5)
    c.hincrbyfloat("hash:small", "fl", "2.5")
    c.hsetnx("hash:small", "a", "no")
    # Sorted sets
    c.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3.25, "pinf": float("inf"), "ninf": float("-inf"), "third": 1 / 3})
    c.zadd("zset:big", {f"m{i}": rng.uniform(-1e6, 1e6) for i in range(300)})
    c.zincrby("zset:small", 2, "a")
    c.zpopmin("zset:big", 2)
    c.zpopmax("zset:big")
    c.zrem("zset:big", "m10")
    c.zunionstore("zset:union", ["zset:small", "zset:big"])
    c.zrangestore("zset:range", "zset:big", 0, 9)
    c.zremrangebyscore("zset:big", 0, 1000)
    # Expiry, set every way there is
    now = time.time()
    c.set("ttl:ex", "v", ex=1000)
    c.set("ttl:px", "v", px=2_000_000)
    c.execute_command("SETEX", "ttl:setex", 3000, "v")
    c.psetex("ttl:psetex", 3_100_000, "v")
    c.rpush("ttl:list", 1, 2)
    c.expire("ttl:list", 5000)
    c.sadd("ttl:set", "a")
    c.pexpire("ttl:set", 6_000_000)
    c.hset("ttl:hash", "f", "v")
    c.expireat("ttl:hash", int(now) + 7000)
    c.zadd("ttl:zset", {"a": 1})
    c.pexpireat("ttl:zset", int(now * 1000) + 8_000_000)
    c.set("ttl:persisted", "v", ex=100)
    c.persist("ttl:persisted")
    c.set("ttl:keepttl", "a", ex=900)
    c.set("ttl:keepttl", "b", keepttl=True)
    c.set("ttl:getex", "v")
    c.getex("ttl:getex", ex=1200)
    c.set("ttl:incrbyfloat", "1", ex=1300)
    c.incrbyfloat("ttl:incrbyfloat", 0.5)
    c.set("gone:expireat-past", "v")
    c.expireat("gone:expireat-past", int(now) - 10)
    c.set("gone:px", "v", px=1)
    # Keyspace
    c.set("ren:src", "v", ex=4000)
    c.rename("ren:src", "ren:dst")
    c.set("ren:nx", "v")
    c.renamenx("ren:nx", "ren:nx2")
    c.set("del:1", 1)
    c.set("del:2", 2)
    c.delete("del:1")
    c.unlink("del:2")
    c.copy("hash:small", "hash:copy")
    c.rpush("sort:src", 3, 1, 2)
    c.sort("sort:src", store="sort:dst")
    # A transaction, a script and a function that write
    p = c.pipeline(transaction=True)
    p.set("tx:a", 1)
    p.incr("tx:a")
    p.rpush("tx:l", "x", "y")
    p.execute()
    c.eval("redis.call('set', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], ARGV[2]) return 1", 2,
           "lua:s", "lua:l", "1", "2")
    c.function_load(LIB, replace=True)
    c.fcall("aof_write", 1, "fn:key", "written")
    # Touching the expired key deletes it now (and logs the DEL), not whenever the active expiry finds it.
    time.sleep(0.01)
    assert c.exists("gone:px") == 0
    # Other databases: MOVE/COPY DB, a FLUSHDB, a SWAPDB, the last writes in db 3
    c.move("str:0", 1)
    c.copy("hash:big", "hash:big", destination_db=2)
    d1 = redis.Redis(port=port, db=1)
    d1.set("in-db-1", 1)
    d1.hset("hash-db-1", "f", 1)
    d1.set("ttl-db-1", "x", ex=1000)
    d2 = redis.Redis(port=port, db=2)
    d2.set("flushed", 1)
    d2.flushdb()
    d2.set("after-flush", 2)
    d9 = redis.Redis(port=port, db=9)
    d9.set("swapped", 9)
    d9.sadd("swapped:set", 1, 2)
    c.swapdb(9, 10)
    d3 = redis.Redis(port=port, db=3)
    d3.set("last-db", 3)
    d3.zadd("z-db-3", {"m": 3})
    for x in (c, d1, d2, d9, d3):
        x.close()


def more_writes(port, tag):
    """A few writes in db 0 and db 7 (after a restart the first one must select its db again)."""
    c0 = redis.Redis(port=port)
    c0.set(f"{tag}:s", tag)
    c0.rpush(f"{tag}:l", 1, 2)
    c0.incrbyfloat(f"{tag}:f", 2.5)
    c7 = redis.Redis(port=port, db=7)
    c7.hset(f"{tag}:h", "f", tag)
    c7.expire(f"{tag}:h", 5000)
    c0.close()
    c7.close()


def snapshot(port):
    """Every key of every database: type, value and absolute expiry (ms)."""
    return keyspace(port)


def assert_same(want, got, ttl_slack_ms=0):
    """Same keys, types and values; absolute expiry equal (the AOF logs absolute times), within ttl_slack_ms."""
    assert set(want) == set(got), (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    diffs = []
    for k in want:
        (t1, v1, e1), (t2, v2, e2) = want[k], got[k]
        if t1 != t2 or v1 != v2 or (e1 < 0) != (e2 < 0) or abs(e1 - e2) > ttl_slack_ms:
            diffs.append((k, want[k][0], str(want[k][1])[:60], e1, str(got[k][1])[:60], e2))
    assert not diffs, diffs[:5]


def assert_rich(snap):
    """The dataset is not trivially small: keys of every type, volatile keys, several databases."""
    types = {v[0] for v in snap.values()}
    assert types == {"string", "list", "set", "hash", "zset"}, types
    assert sum(1 for v in snap.values() if v[2] > 0) >= 5
    assert len({db for db, _ in snap}) >= 3


def assert_function(port):
    assert redis.Redis(port=port).fcall("aof_answer", 0) == 42


# MARK: random command streams

def random_commands(seed, n):
    """A seeded stream of `n` write commands (and a few MULTI/EXEC blocks) over a small key space in dbs 0-3.
    Some fail (WRONGTYPE, no such key): failures are not logged, which is part of what is tested."""
    rng = random.Random(seed)
    now = int(time.time())

    def key(t):
        return f"{t}:{rng.randint(0, 5)}"

    def anykey():
        return key(rng.choice("snlSzhb"))

    def val():
        r = rng.random()
        if r < 0.3:
            return str(rng.randint(-1000, 1000))
        if r < 0.4:
            return repr(round(rng.uniform(-100, 100), 3))
        if r < 0.5:
            return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 12)))
        if r < 0.55:
            return "x" * rng.randint(50, 300)
        return rng.choice(["a", "b", "c", "hello", "", "\r\n", "*1"])

    def member():
        return rng.choice(["1", "2", "3", "42", "-7", "a", "b", "c", "dd"])

    def ttl():
        return rng.randint(1000, 100000)

    def score():
        return rng.choice(["1", "2.5", "-3", "0", "inf", "-inf", repr(rng.uniform(-10, 10))])

    gens = [
        lambda: ["SELECT", rng.randint(0, 3)],
        lambda: ["SET", key("s"), val()] + rng.choice([[], ["EX", ttl()], ["PX", ttl() * 1000], ["KEEPTTL"],
                                                        ["NX"], ["XX"], ["GET"], ["EXAT", now + ttl()]]),
        lambda: ["INCRBY", key("n"), rng.randint(-50, 50)],
        lambda: ["INCRBYFLOAT", key("n"), rng.choice(["1.25", "-0.5", "3"])],
        lambda: ["DECR", key("n")],
        lambda: ["APPEND", key("s"), val()],
        lambda: ["SETRANGE", key("s"), rng.randint(0, 20), val()],
        lambda: ["GETDEL", key("s")],
        lambda: ["GETEX", key("s")] + rng.choice([["EX", ttl()], ["PX", ttl() * 1000], ["PERSIST"]]),
        lambda: ["MSET", key("s"), val(), key("s"), val()],
        lambda: ["SETBIT", key("b"), rng.randint(0, 200), rng.randint(0, 1)],
        lambda: [rng.choice(["RPUSH", "LPUSH"]), key("l")] + [val() for _ in range(rng.randint(1, 5))],
        lambda: [rng.choice(["LPOP", "RPOP"]), key("l")] + rng.choice([[], [str(rng.randint(1, 3))]]),
        lambda: ["LTRIM", key("l"), 0, rng.randint(0, 10)],
        lambda: ["LSET", key("l"), 0, val()],
        lambda: ["LINSERT", key("l"), "BEFORE", val(), val()],
        lambda: ["LREM", key("l"), 0, val()],
        lambda: ["LMOVE", key("l"), key("l"), rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])],
        lambda: ["SADD", key("S")] + [member() for _ in range(rng.randint(1, 5))],
        lambda: ["SREM", key("S"), member()],
        lambda: ["SPOP", key("S")] + rng.choice([[], ["2"]]),
        lambda: ["SMOVE", key("S"), key("S"), member()],
        lambda: [rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key("S"), key("S"), key("S")],
        lambda: ["HSET", key("h"), member(), val(), member(), val()],
        lambda: ["HDEL", key("h"), member()],
        lambda: ["HINCRBY", key("h"), member(), rng.randint(-5, 5)],
        lambda: ["HINCRBYFLOAT", key("h"), member(), "0.5"],
        lambda: ["ZADD", key("z"), score(), member(), score(), member()],
        lambda: ["ZINCRBY", key("z"), "1.5", member()],
        lambda: ["ZREM", key("z"), member()],
        lambda: [rng.choice(["ZPOPMIN", "ZPOPMAX"]), key("z")],
        lambda: ["ZREMRANGEBYSCORE", key("z"), "-inf", rng.randint(-5, 5)],
        lambda: ["ZUNIONSTORE", key("z"), 2, key("z"), key("z")],
        lambda: ["ZRANGESTORE", key("z"), key("z"), 0, 2],
        lambda: [rng.choice(["DEL", "UNLINK"]), anykey()],
        lambda: ["EXPIRE", anykey(), ttl()],
        lambda: ["PEXPIRE", anykey(), ttl() * 1000],
        lambda: ["EXPIREAT", anykey(), now + ttl()],
        lambda: ["PERSIST", anykey()],
        lambda: (lambda t: ["RENAME", key(t), key(t)])(rng.choice("snlSzh")),
        lambda: (lambda t: ["COPY", key(t), key(t), "DB", rng.randint(0, 3), "REPLACE"])(rng.choice("snlSzh")),
        lambda: ["MOVE", anykey(), rng.randint(0, 3)],
        lambda: ["EVAL", "redis.call('set', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], ARGV[1]) return 1",
                 2, key("s"), key("l"), val()],
        lambda: ["SORT", key("l"), "ALPHA", "STORE", key("l")],
    ]
    rare = [lambda: ["SWAPDB", rng.randint(0, 3), rng.randint(0, 3)], lambda: ["FLUSHDB"],
            lambda: ["EXPIRE", anykey(), 0]]
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.01:
            out.append(rng.choice(rare)())
        elif r < 0.05:
            out.append(["MULTI"])
            out.extend(rng.choice(gens[1:])() for _ in range(rng.randint(1, 3)))
            out.append(["EXEC"])
        else:
            out.append(rng.choice(gens)())
    return out


def run_commands(port, cmds):
    c = Conn(port)
    replies = []
    for i in range(0, len(cmds), 50):
        replies += c.pipeline(cmds[i:i + 50])
    c.close()
    assert sum(1 for r in replies if r[0] != "err") > len(cmds) // 2, "most commands should succeed"
    return replies


# MARK: start-up layout

@pytest.mark.parametrize("kind", KINDS)
def test_startup_creates_the_aof_directory(workdir, kind):
    s = start_aof(kind, workdir=workdir)
    try:
        assert aof_files(workdir) == FILES_1
        assert manifest(workdir) == MANIFEST_1
        assert read(workdir, "appendonly.aof.1.base.rdb").startswith(b"REDIS00")   # an RDB of the empty dataset
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == 0
        assert redis.Redis(port=s.port).dbsize() == 0
        assert redis.Redis(port=s.port).config_get("appendonly") == {"appendonly": "yes"}
        check_aof(workdir)
    finally:
        s.stop()
    # A clean stop without writes leaves the same files; a restart loads and keeps them.
    assert manifest(workdir) == MANIFEST_1 and aof_files(workdir) == FILES_1
    s = start_aof(kind, workdir=workdir)
    try:
        assert manifest(workdir) == MANIFEST_1 and aof_files(workdir) == FILES_1
        assert redis.Redis(port=s.port).dbsize() == 0
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_custom_file_and_dir_names(workdir, kind):
    s = start_aof(kind, "--appendfilename", "my.aof", "--appenddirname", "mydir", workdir=workdir)
    try:
        assert aof_files(workdir, "mydir") == {"my.aof.manifest", "my.aof.1.base.rdb", "my.aof.1.incr.aof"}
        assert manifest(workdir, "mydir", "my.aof") == ("file my.aof.1.base.rdb seq 1 type b\n"
                                                        "file my.aof.1.incr.aof seq 1 type i\n")
        assert not os.path.exists(aofdir(workdir))
        c = redis.Redis(port=s.port)
        assert c.config_get("append*") == {
            "appendonly": "yes", "appendfsync": "everysec", "appendfilename": "my.aof", "appenddirname": "mydir"}
        c.set("k", "v")
        wait_flushed(s.port)
        assert os.path.getsize(os.path.join(aofdir(workdir, "mydir"), "my.aof.1.incr.aof")) > 0
        kill(s)
        s = start_aof(kind, "--appendfilename", "my.aof", "--appenddirname", "mydir", workdir=workdir)
        assert redis.Redis(port=s.port).get("k") == b"v"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_startup_without_rdb_preamble_makes_an_aof_base(workdir, kind):
    s = start_aof(kind, "--aof-use-rdb-preamble", "no", workdir=workdir)
    try:
        assert aof_files(workdir) == {"appendonly.aof.manifest", "appendonly.aof.1.base.aof",
                                      "appendonly.aof.1.incr.aof"}
        assert manifest(workdir) == ("file appendonly.aof.1.base.aof seq 1 type b\n"
                                     "file appendonly.aof.1.incr.aof seq 1 type i\n")
        # The empty dataset as commands: nothing, or only FUNCTION LOADs (Lunar's --lua-library-dir libraries).
        base = read(workdir, "appendonly.aof.1.base.aof")
        cmds = parse_commands(base)
        assert (cmds[-1][1] if cmds else 0) == len(base)
        assert all([a.upper() for a in args[:2]] == [b"FUNCTION", b"LOAD"] for _, _, args in cmds)
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_dump_rdb_is_not_loaded_when_aof_is_on(workdir, kind):
    """Redis 7.0 with appendonly yes and no AOF yet starts empty, even with a dump.rdb beside it."""
    s = start(kind, workdir=workdir)
    try:
        redis.Redis(port=s.port).set("from-rdb", 1)
        assert redis.Redis(port=s.port).save() is True
    finally:
        s.stop()
    size = os.path.getsize(os.path.join(workdir, "dump.rdb"))
    s = start_aof(kind, workdir=workdir)
    try:
        assert redis.Redis(port=s.port).dbsize() == 0
        assert manifest(workdir) == MANIFEST_1
        assert os.path.getsize(os.path.join(workdir, "dump.rdb")) == size     # left as it was
    finally:
        s.stop()
    # Without appendonly the same dir still loads the RDB.
    s = start(kind, workdir=workdir)
    try:
        assert redis.Redis(port=s.port).get("from-rdb") == b"1"
    finally:
        s.stop()


# MARK: durability

@pytest.mark.parametrize("fsync", ["everysec", "always"])
@pytest.mark.parametrize("kind", KINDS)
def test_dataset_survives_sigkill(workdir, kind, fsync):
    s = start_aof(kind, "--appendfsync", fsync, workdir=workdir)
    try:
        fill(s.port)
        want = snapshot(s.port)
        assert_rich(want)
        assert (0, b"gone:px") not in want and (0, b"gone:expireat-past") not in want
        if fsync == "everysec":
            wait_flushed(s.port)
        selects = [args[1] for _, _, args in parse_commands(read(workdir, "appendonly.aof.1.incr.aof"))
                   if args[0].upper() == b"SELECT"]
        assert selects[-1] == b"3", selects
        kill(s)
        s = start_aof(kind, "--appendfsync", fsync, workdir=workdir)
        assert_same(want, snapshot(s.port))
        assert_function(s.port)
        assert manifest(workdir) == MANIFEST_1
        # Appending after a restart: the last SELECT in the file was db 3, these go to dbs 0 and 7.
        more_writes(s.port, "second-life")
        want2 = snapshot(s.port)
        assert (0, b"second-life:s") in want2 and (7, b"second-life:h") in want2
        if fsync == "everysec":
            wait_flushed(s.port)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want2, snapshot(s.port))
    finally:
        s.stop()
    check_aof(workdir)


@pytest.mark.parametrize("seed,mode", [(1, "everysec"), (2, "always"), (3, "rewrite-midway")])
@pytest.mark.parametrize("kind", KINDS)
def test_random_commands_survive_sigkill(workdir, kind, seed, mode):
    extra = ("--appendfsync", "always") if mode == "always" else ()
    cmds = random_commands(seed, 1500)
    s = start_aof(kind, *extra, workdir=workdir)
    try:
        if mode == "rewrite-midway":
            # The rewrite runs while writes go on: they must reach the new incr file, not be lost.
            run_commands(s.port, cmds[:700])
            assert redis.Redis(port=s.port).bgrewriteaof() is True
            run_commands(s.port, cmds[700:])
            wait_rewrite_done(s.port)
            wait_layout(workdir, MANIFEST_2, FILES_2)
            run_commands(s.port, random_commands(seed + 100, 100))
        else:
            run_commands(s.port, cmds)
        want = snapshot(s.port)
        assert len(want) >= 30 and len({db for db, _ in want}) >= 3, len(want)
        assert sum(1 for v in want.values() if v[2] > 0) >= 3
        if mode != "always":
            wait_flushed(s.port)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
    finally:
        s.stop()
    check_aof(workdir)


@pytest.mark.parametrize("kind", KINDS)
def test_expiry_is_logged_as_absolute_time(workdir, kind):
    """Expiry survives as the same absolute time, whatever the command (relative TTLs replayed later would
    move it), in the incr file and in a rewritten base; a key whose time passes while the server is down is
    gone after the restart."""
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)

        def volatile(tag):
            c.set(f"{tag}:ex", "v", ex=1000)
            c.set(f"{tag}:px", "v", px=1_000_123)
            c.execute_command("SETEX", f"{tag}:setex", 2000, "v")
            c.psetex(f"{tag}:psetex", 2_000_321, "v")
            c.set(f"{tag}:exat", "v", exat=int(time.time()) + 3000)
            c.set(f"{tag}:keepttl", "a", ex=900)
            c.set(f"{tag}:keepttl", "b", keepttl=True)
            c.rpush(f"{tag}:list", 1)
            c.expire(f"{tag}:list", 4000)
            c.hset(f"{tag}:hash", "f", "v")
            c.pexpire(f"{tag}:hash", 4_000_777)
            c.set(f"{tag}:getex", "v")
            c.getex(f"{tag}:getex", px=5_000_999)
            c.set(f"{tag}:incr", 1, ex=6000)
            c.incrbyfloat(f"{tag}:incr", 1.5)
            c.set(f"{tag}:short", "v", px=900)
            c.execute_command("SET", f"{tag}:gt", "v", "EX", 100)
            c.execute_command("EXPIRE", f"{tag}:gt", 7000, "GT")

        volatile("base")
        assert c.bgrewriteaof() is True
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2, FILES_2)
        volatile("incr")
        want = snapshot(s.port)
        assert (0, b"incr:short") in want
        want = {k: v for k, v in want.items() if not k[1].endswith(b":short")}
        assert sum(1 for v in want.values() if v[2] > 0) == 22
        wait_flushed(s.port)
        kill(s)
        time.sleep(1.1)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port), ttl_slack_ms=0)
    finally:
        s.stop()


# MARK: Redis <-> Lunar

HANDOVER_MODES = ["kill", "shutdown", "rewritten", "no-preamble"]


def handover(src, dst, mode, workdir):
    """`src` writes an AOF directory, `dst` loads it (and appends to it), `src` loads the result again.
    kill / shutdown: only the first base and incr; rewritten: after BGREWRITEAOF the base is an RDB preamble
    and the incr file holds later writes; no-preamble: the same with aof-use-rdb-preamble no (an AOF base)."""
    extra = ("--aof-use-rdb-preamble", "no") if mode == "no-preamble" else ()
    a = start_aof(src, *extra, workdir=workdir)
    try:
        fill(a.port, seed=len(mode))
        if mode in ("rewritten", "no-preamble"):
            assert redis.Redis(port=a.port).bgrewriteaof() is True
            wait_rewrite_done(a.port)
            if mode == "rewritten":
                wait_layout(workdir, MANIFEST_2, FILES_2)
            else:
                wait_layout(workdir, MANIFEST_2.replace("base.rdb", "base.aof"),
                            {f.replace("base.rdb", "base.aof") for f in FILES_2})
                base = read(workdir, "appendonly.aof.2.base.aof")
                assert parse_commands(base)[-1][1] == len(base), "the base should be plain commands"
            more_writes(a.port, "after-rewrite")
            assert fsize(workdir, "appendonly.aof.2.incr.aof") > 0
        want = snapshot(a.port)
        assert_rich(want)
        if mode == "kill":
            wait_flushed(a.port)
            kill(a)
        else:
            shutdown_nosave(a)
    finally:
        a.stop()
    check_aof(workdir)
    text = manifest(workdir)
    b = start_aof(dst, workdir=workdir)
    try:
        assert_same(want, snapshot(b.port))
        assert_function(b.port)
        assert manifest(workdir) == text, "loading must not rewrite the manifest"
        more_writes(b.port, "from-" + dst)
        want = snapshot(b.port)
        shutdown_nosave(b)
    finally:
        b.stop()
    check_aof(workdir)
    assert manifest(workdir) == text
    a = start_aof(src, workdir=workdir)
    try:
        assert_same(want, snapshot(a.port))
    finally:
        a.stop()


@pytest.mark.parametrize("mode", HANDOVER_MODES)
def test_redis_aof_loads_in_lunar(workdir, mode):
    handover("redis", "lunar", mode, workdir)


@pytest.mark.parametrize("mode", HANDOVER_MODES)
def test_lunar_aof_loads_in_redis(workdir, mode):
    handover("lunar", "redis", mode, workdir)


@pytest.mark.parametrize("mode", HANDOVER_MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_aof_handover_to_the_same_server(workdir, kind, mode):
    handover(kind, kind, mode, workdir)


# MARK: BGREWRITEAOF

@pytest.mark.parametrize("kind", KINDS)
def test_bgrewriteaof_rotates_files(workdir, kind):
    s = start_aof(kind, workdir=workdir)
    try:
        fill(s.port)
        a = Conn(s.port)
        assert a.call("BGREWRITEAOF") == ("simple", b"Background append only file rewriting started")
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2, FILES_2)
        assert read(workdir, "appendonly.aof.2.base.rdb").startswith(b"REDIS00")
        assert fsize(workdir, "appendonly.aof.2.incr.aof") == 0
        i = info(s.port)
        assert i["aof_rewrites"] == 1 and i["aof_last_bgrewrite_status"] == "ok"
        assert i["aof_last_rewrite_time_sec"] >= 0 and i["aof_current_rewrite_time_sec"] == -1
        assert i["aof_base_size"] == fsize(workdir, "appendonly.aof.2.base.rdb")
        assert i["aof_current_size"] == i["aof_base_size"]
        # Later writes land in the new incr file, and only there.
        base = read(workdir, "appendonly.aof.2.base.rdb")
        a.call("SET", "after-rewrite", "marker-value-1234")
        wait_flushed(s.port)
        incr = read(workdir, "appendonly.aof.2.incr.aof")
        assert b"marker-value-1234" in incr and parse_commands(incr)[-1][1] == len(incr)
        assert read(workdir, "appendonly.aof.2.base.rdb") == base
        assert info(s.port)["aof_current_size"] == len(base) + len(incr)
        want = snapshot(s.port)
        check_aof(workdir)
        a.close()
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
        assert_function(s.port)
        i = info(s.port)
        assert i["aof_base_size"] == len(base) and i["aof_current_size"] == len(base) + len(incr)
        # A second rewrite: seq 3, the seq-2 files go.
        assert redis.Redis(port=s.port).bgrewriteaof() is True
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2.replace("2", "3"), {f.replace("2", "3") for f in FILES_2})
        assert info(s.port)["aof_rewrites"] == 1          # counted since this start
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_rewrite_conflicts_with_other_background_jobs(workdir, kind):
    """Pipelined, the later commands find the rewrite still running (Redis reaps children in its cron)."""
    s = start_aof(kind, workdir=workdir)
    try:
        fill(s.port)
        c = Conn(s.port)
        c.send_raw(b"".join(Conn.encode(x) for x in (["BGREWRITEAOF"], ["BGREWRITEAOF"], ["BGSAVE"],
                                                    ["BGSAVE", "SCHEDULE"], ["INFO", "persistence"])))
        assert c.read() == ("simple", b"Background append only file rewriting started")
        assert c.read() == ("err", b"ERR Background append only file rewriting already in progress")
        assert c.read() == ("err", b"ERR Another child process is active (AOF?): can't BGSAVE right now. "
                                   b"Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
        assert c.read() == ("simple", b"Background saving scheduled")
        during = c.read()[1].decode()
        assert "aof_rewrite_in_progress:1" in during and "aof_rewrites:1\r\n" in during
        wait_rewrite_done(s.port)
        # The scheduled BGSAVE runs once the rewrite is over.
        wait_for(lambda: info(s.port)["rdb_saves"] == 1 and info(s.port)["rdb_bgsave_in_progress"] == 0,
                 10, "the scheduled BGSAVE")
        assert os.path.exists(os.path.join(workdir, "dump.rdb"))
        wait_layout(workdir, MANIFEST_2, FILES_2)
        # A BGSAVE running: the rewrite is scheduled, then runs.
        c.send_raw(b"".join(Conn.encode(x) for x in (["BGSAVE"], ["BGREWRITEAOF"], ["INFO", "persistence"])))
        assert c.read() == ("simple", b"Background saving started")
        assert c.read() == ("simple", b"Background append only file rewriting scheduled")
        during = c.read()[1].decode()
        assert "aof_rewrite_scheduled:1" in during and "aof_rewrite_in_progress:0" in during
        wait_for(lambda: info(s.port)["aof_rewrites"] == 2, 10, "the scheduled rewrite")
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2.replace("2", "3"), {f.replace("2", "3") for f in FILES_2})
        c.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_bgrewriteaof_with_aof_off_writes_a_base_only(workdir, kind):
    s = start(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        c.set("a", 1)
        c.rpush("l", 1, 2)
        assert c.bgrewriteaof() is True
        wait_rewrite_done(s.port)
        wait_layout(workdir, "file appendonly.aof.1.base.rdb seq 1 type b\n",
                    {"appendonly.aof.manifest", "appendonly.aof.1.base.rdb"})
        i = info(s.port)
        assert i["aof_enabled"] == 0 and i["aof_rewrites"] == 1
        c.set("b", 2)              # not logged anywhere
        time.sleep(0.2)
        assert aof_files(workdir) == {"appendonly.aof.manifest", "appendonly.aof.1.base.rdb"}
    finally:
        s.stop()
    # Started with appendonly yes, it loads that base and adds an incr file.
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        assert sorted(c.keys()) == [b"a", b"l"]
        assert manifest(workdir) == MANIFEST_1 and aof_files(workdir) == FILES_1
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_rewrite_without_rdb_preamble_writes_commands(workdir, kind):
    s = start_aof(kind, "--aof-use-rdb-preamble", "no", workdir=workdir)
    try:
        fill(s.port)
        want = snapshot(s.port)
        assert redis.Redis(port=s.port).bgrewriteaof() is True
        wait_rewrite_done(s.port)
        files = {"appendonly.aof.manifest", "appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof"}
        wait_layout(workdir, MANIFEST_2.replace("base.rdb", "base.aof"), files)
        base = read(workdir, "appendonly.aof.2.base.aof")
        cmds = parse_commands(base)
        assert cmds and cmds[-1][1] == len(base)
        names = {args[0].upper() for _, _, args in cmds}
        assert {b"SELECT", b"RPUSH", b"SADD", b"ZADD", b"SET"} <= names, names
        check_aof(workdir)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
    finally:
        s.stop()


# MARK: CONFIG

@pytest.mark.parametrize("kind", KINDS)
def test_config_set_appendonly_at_runtime(workdir, kind):
    s = start(kind, workdir=workdir)
    try:
        fill(s.port)
        c = Conn(s.port)
        assert not os.path.exists(aofdir(workdir))
        # Switching on starts a rewrite of the current data; writes meanwhile are kept too.
        replies = c.pipeline([["CONFIG", "SET", "appendonly", "yes"], ["SET", "during", "switch"]])
        assert replies == [("simple", b"OK"), ("simple", b"OK")]
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_1, FILES_1)
        assert info(s.port)["aof_enabled"] == 1 and info(s.port)["aof_rewrites"] == 1
        base = fsize(workdir, "appendonly.aof.1.base.rdb")
        assert base > 10000                                         # the data set, not an empty RDB
        assert c.call("CONFIG", "SET", "appendonly", "yes") == ("simple", b"OK")   # already on: nothing
        assert info(s.port)["aof_rewrites"] == 1
        c.call("SET", "after", "switch")
        wait_flushed(s.port)
        assert fsize(workdir, "appendonly.aof.1.incr.aof") > 0
        want = snapshot(s.port)
        assert (0, b"during") in want and (0, b"after") in want
        c.close()
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
        assert_function(s.port)
        # Switching off: later writes are not appended.
        c = Conn(s.port)
        assert c.call("CONFIG", "SET", "appendonly", "no") == ("simple", b"OK")
        size = fsize(workdir, "appendonly.aof.1.incr.aof")
        c.call("SET", "not-logged", "1")
        c.call("RPUSH", "not-logged:l", "1")
        time.sleep(0.3)
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == size
        i = info(s.port)
        assert i["aof_enabled"] == 0 and "aof_current_size" not in i
        c.close()
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert redis.Redis(port=s.port).exists("not-logged", "not-logged:l") == 0
        assert_same(want, snapshot(s.port))
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_aof_config_get_and_set(workdir, kind):
    s = start(kind, workdir=workdir)
    try:
        c = Conn(s.port)
        defaults = {"appendonly": b"no", "appendfsync": b"everysec", "appenddirname": b"appendonlydir",
                    "appendfilename": b"appendonly.aof", "aof-use-rdb-preamble": b"yes",
                    "aof-load-truncated": b"yes", "auto-aof-rewrite-percentage": b"100",
                    "auto-aof-rewrite-min-size": b"67108864"}
        for name, value in defaults.items():
            assert c.call("CONFIG", "GET", name) == ("array", [("bulk", name.encode()), ("bulk", value)]), name
        errors = {
            ("appendfsync", "bogus"): "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - "
                                      "argument(s) must be one of the following: everysec, always, no",
            ("appendonly", "maybe"): "ERR CONFIG SET failed (possibly related to argument 'appendonly') - "
                                     "argument must be 'yes' or 'no'",
            ("appendfilename", "x.aof"): "ERR CONFIG SET failed (possibly related to argument 'appendfilename') - "
                                         "can't set immutable config",
            ("appenddirname", "x"): "ERR CONFIG SET failed (possibly related to argument 'appenddirname') - "
                                    "can't set immutable config",
            ("aof-load-truncated", "x"): "ERR CONFIG SET failed (possibly related to argument 'aof-load-truncated') - "
                                         "argument must be 'yes' or 'no'",
            ("auto-aof-rewrite-percentage", "-1"): "ERR CONFIG SET failed (possibly related to argument "
                                                   "'auto-aof-rewrite-percentage') - argument must be between 0 "
                                                   "and 2147483647 inclusive",
            ("auto-aof-rewrite-min-size", "-1"): "ERR CONFIG SET failed (possibly related to argument "
                                                 "'auto-aof-rewrite-min-size') - argument must be a memory value",
        }
        for (name, value), err in errors.items():
            assert c.call("CONFIG", "SET", name, value) == ("err", err.encode()), name
        sets = [("appendfsync", "ALWAYS", b"always"), ("appendfsync", "no", b"no"),
                ("appendfsync", "everysec", b"everysec"),
                ("aof-use-rdb-preamble", "no", b"no"), ("aof-load-truncated", "no", b"no"),
                ("auto-aof-rewrite-percentage", "0", b"0"), ("auto-aof-rewrite-min-size", "1mb", b"1048576"),
                ("auto-aof-rewrite-min-size", "0", b"0")]
        for name, value, got in sets:
            assert c.call("CONFIG", "SET", name, value) == ("simple", b"OK"), name
            assert c.call("CONFIG", "GET", name) == ("array", [("bulk", name.encode()), ("bulk", got)]), name
        c.close()
    finally:
        s.stop()


# MARK: INFO persistence

PERSISTENCE_FIELDS_AOF_ON = [
    "loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
    "current_fork_perc", "current_save_keys_processed", "current_save_keys_total",
    "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time", "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
    "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded",
    "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
    "aof_rewrites_consecutive_failures", "aof_last_write_status", "aof_last_cow_size",
    "module_fork_in_progress", "module_fork_last_cow_size",
    "aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length", "aof_pending_bio_fsync",
    "aof_delayed_fsync"]
AOF_ONLY_FIELDS = PERSISTENCE_FIELDS_AOF_ON[-6:]


def persistence_field_names(port):
    c = Conn(port)
    text = c.call("INFO", "persistence")[1].decode()
    c.close()
    return [line.split(":")[0] for line in text.splitlines() if ":" in line]


@pytest.mark.parametrize("kind", KINDS)
def test_info_persistence_aof_fields(workdir, kind):
    s = start(kind, workdir=workdir)
    try:
        names = persistence_field_names(s.port)
        assert names == [n for n in PERSISTENCE_FIELDS_AOF_ON if n not in AOF_ONLY_FIELDS]
        assert info(s.port)["aof_enabled"] == 0
    finally:
        s.stop()
    s = start_aof(kind, workdir=workdir)
    try:
        assert persistence_field_names(s.port) == PERSISTENCE_FIELDS_AOF_ON
        i = info(s.port)
        fresh = {k: i[k] for k in ("aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                                   "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec",
                                   "aof_last_bgrewrite_status", "aof_rewrites", "aof_rewrites_consecutive_failures",
                                   "aof_last_write_status", "aof_pending_rewrite", "aof_buffer_length",
                                   "aof_delayed_fsync")}
        assert fresh == {"aof_enabled": 1, "aof_rewrite_in_progress": 0, "aof_rewrite_scheduled": 0,
                         "aof_last_rewrite_time_sec": -1, "aof_current_rewrite_time_sec": -1,
                         "aof_last_bgrewrite_status": "ok", "aof_rewrites": 0, "aof_rewrites_consecutive_failures": 0,
                         "aof_last_write_status": "ok", "aof_pending_rewrite": 0, "aof_buffer_length": 0,
                         "aof_delayed_fsync": 0}
        # Redis 7.0 does not count the base it creates at start: both sizes start at 0.
        assert (i["aof_current_size"], i["aof_base_size"]) == (0, 0)
        # aof_current_size grows by exactly what is appended to the incr file.
        c = redis.Redis(port=s.port)
        for step in range(3):
            before, fbefore = info(s.port)["aof_current_size"], fsize(workdir, "appendonly.aof.1.incr.aof")
            c.set(f"k{step}", "v" * (step * 100))
            c.rpush("l", *range(step + 1))
            wait_flushed(s.port)
            grown = fsize(workdir, "appendonly.aof.1.incr.aof") - fbefore
            assert grown > 0 and info(s.port)["aof_current_size"] - before == grown
        incr = fsize(workdir, "appendonly.aof.1.incr.aof")
        assert info(s.port)["aof_current_size"] == incr
        kill(s)
        # After a restart both sizes count the files loaded.
        s = start_aof(kind, workdir=workdir)
        i = info(s.port)
        base = fsize(workdir, "appendonly.aof.1.base.rdb")
        assert (i["aof_current_size"], i["aof_base_size"]) == (base + incr, base)
    finally:
        s.stop()


# MARK: truncated and corrupt files

def write_then_stop(kind, workdir, *extra, build):
    """Runs `build(client)` on a fresh AOF server and stops it cleanly; returns the incr file and its commands."""
    s = start_aof(kind, *extra, workdir=workdir)
    try:
        build(redis.Redis(port=s.port))
        wait_flushed(s.port)
        shutdown_nosave(s)
    finally:
        s.stop()
    data = read(workdir, "appendonly.aof.1.incr.aof")
    cmds = parse_commands(data)
    assert cmds and cmds[-1][1] == len(data), "the incr file should be whole commands"
    return data, cmds


def three_writes(c):
    c.set("a", 1)
    c.rpush("l", 1, 2, 3)
    c.set("b", "hello world")


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_incr_is_cut_back_and_loaded(workdir, kind):
    data, cmds = write_then_stop(kind, workdir, build=three_writes)
    start_last, end_last, args = cmds[-1]
    assert [a.upper() if i == 0 else a for i, a in enumerate(args)] == [b"SET", b"b", b"hello world"]
    write(workdir, "appendonly.aof.1.incr.aof", data[:(start_last + end_last) // 2])
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        assert c.get("a") == b"1" and c.lrange("l", 0, -1) == [b"1", b"2", b"3"]
        assert c.exists("b") == 0
        # The file is cut back to the end of the last whole command, and later writes follow it.
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == start_last
        assert "short read" in s.log_text().lower()
        c.set("c", 3)
        wait_flushed(s.port)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        c = redis.Redis(port=s.port)
        assert sorted(c.keys()) == [b"a", b"c", b"l"]
    finally:
        s.stop()
    check_aof(workdir)


@pytest.mark.parametrize("kind", KINDS)
def test_expiry_passed_while_down_applies_after_the_replay(workdir, kind):
    # The file's commands ran on a live key: a PEXPIREAT now in the past must not delete the list
    # mid-replay (the RPUSH after it would create one without a TTL); the key expires once loaded.
    data, _ = write_then_stop(kind, workdir, build=lambda c: c.set("kept", 1))
    write(workdir, "appendonly.aof.1.incr.aof", data + resp("RPUSH", "list", "foo") + resp("PEXPIREAT", "list", 1000)
          + resp("RPUSH", "list", "bar") + resp("SET", "s", "v") + resp("PEXPIREAT", "s", 1000)
          + resp("APPEND", "s", "w") + resp("RPUSH", "live", "x") + resp("PEXPIREAT", "live", 1000)
          + resp("PERSIST", "live"))
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        assert c.llen("list") == 0 and c.exists("list", "s") == 0
        assert c.lrange("live", 0, -1) == [b"x"] and c.ttl("live") == -1
        assert c.get("kept") == b"1"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_debug_aof_flush_sleep_delays_the_write(workdir, kind):
    s = start_aof(kind, workdir=workdir)
    try:
        c = Conn(s.port)
        assert c.call("DEBUG", "AOF-FLUSH-SLEEP", "300000") == ("simple", b"OK")
        t0 = time.time()
        assert c.call("SET", "a", "1") == ("simple", b"OK")
        assert time.time() - t0 >= 0.25
        assert c.call("DEBUG", "AOF-FLUSH-SLEEP", "0") == ("simple", b"OK")
        t0 = time.time()
        assert c.call("SET", "a", "2") == ("simple", b"OK")
        assert time.time() - t0 < 0.25
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_incr_refused_with_aof_load_truncated_no(workdir, kind):
    data, cmds = write_then_stop(kind, workdir, build=three_writes)
    cut = data[:len(data) - 5]
    write(workdir, "appendonly.aof.1.incr.aof", cut)
    code, log = refusal(kind, "--appendonly", "yes", "--aof-load-truncated", "no", workdir=workdir)
    assert code != 0
    assert "Unexpected end of file" in log, log[-600:]
    assert read(workdir, "appendonly.aof.1.incr.aof") == cut          # left alone


def transaction(c):
    c.set("a", 1)
    p = c.pipeline(transaction=True)
    p.set("t1", 1)
    p.set("t2", 2)
    p.execute()


@pytest.mark.parametrize("cut", ["before-exec", "inside-queued-command"])
@pytest.mark.parametrize("kind", KINDS)
def test_unfinished_multi_is_reverted(workdir, kind, cut):
    """A file that ends inside MULTI loses the whole transaction. Cut before EXEC, the file goes back to
    before MULTI; cut inside a queued command it goes back only to that command's start (as Redis 7.0 does),
    and the next start finds a MULTI without EXEC and goes back to before MULTI."""
    data, cmds = write_then_stop(kind, workdir, build=transaction)
    names = [args[0].upper() for _, _, args in cmds]
    assert names[-4:] == [b"MULTI", b"SET", b"SET", b"EXEC"], names
    multi_at, t2_at, t2_end, exec_at = cmds[-4][0], cmds[-2][0], cmds[-2][1], cmds[-1][0]
    if cut == "before-exec":
        write(workdir, "appendonly.aof.1.incr.aof", data[:exec_at])
        expect = multi_at
    else:
        write(workdir, "appendonly.aof.1.incr.aof", data[:(t2_at + t2_end) // 2])
        expect = t2_at
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        assert sorted(c.keys()) == [b"a"]
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == expect
        if cut == "before-exec":
            assert "Revert incomplete MULTI/EXEC transaction" in s.log_text()
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert sorted(redis.Redis(port=s.port).keys()) == [b"a"]
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == multi_at
        if cut == "inside-queued-command":
            assert "Revert incomplete MULTI/EXEC transaction" in s.log_text()
    finally:
        s.stop()


CORRUPTIONS = {
    # name: (change to (incr, manifest), substring of the refusal in the log)
    "garbage-line": (lambda d, m, at: (d[:at] + b"xyz\r\n" + d[at:], m), "Bad file format"),
    "bad-bulk-length": (lambda d, m, at: (d[:at] + b"*2\r\n$x\r\nab\r\n" + d[at:], m), "Bad file format"),
    "unknown-command": (lambda d, m, at: (d[:at] + resp("NOSUCHCMD", "x") + d[at:], m), "Unknown command"),
    "bad-manifest-line": (lambda d, m, at: (d, m + b"garbage line\n"), "Invalid AOF manifest file format"),
    "bad-manifest-type": (lambda d, m, at: (d, m.replace(b"type i", b"type x")), "Unknown AOF file type"),
    "empty-manifest": (lambda d, m, at: (d, b""), "Found an empty AOF manifest"),
    "missing-incr": (lambda d, m, at: (None, m), "appendonly.aof.1.incr.aof"),
}


@pytest.mark.parametrize("damage", sorted(CORRUPTIONS))
@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_aof_refuses_to_start(workdir, kind, damage):
    """Damage that is not a truncation at the end refuses the start, even with aof-load-truncated yes."""
    data, cmds = write_then_stop(kind, workdir, build=three_writes)
    change, expect = CORRUPTIONS[damage]
    incr, man = change(data, manifest(workdir).encode(), cmds[1][0])
    if incr is None:
        os.unlink(os.path.join(aofdir(workdir), "appendonly.aof.1.incr.aof"))
    else:
        write(workdir, "appendonly.aof.1.incr.aof", incr)
    write(workdir, "appendonly.aof.manifest", man)
    code, log = refusal(kind, "--appendonly", "yes", workdir=workdir)
    assert code != 0
    assert expect in log, log[-600:]


# MARK: upgrade from a Redis 6 single file

@pytest.mark.parametrize("preamble", ["commands", "rdb-preamble"])
@pytest.mark.parametrize("kind", KINDS)
def test_old_single_file_is_migrated(workdir, kind, preamble):
    body = (resp("SELECT", 0) + resp("SET", "a", 1) + resp("RPUSH", "l", "x", "y") + resp("SELECT", 2)
            + resp("SET", "b", "in2") + resp("PEXPIREAT", "b", int(time.time() * 1000) + 5_000_000))
    if preamble == "rdb-preamble":
        # An RDB followed by commands, as Redis 6 with aof-use-rdb-preamble wrote it.
        s = start(kind, workdir=workdir)
        try:
            c = redis.Redis(port=s.port)
            c.set("from-rdb", "yes")
            c.rpush("l", "w")
            assert c.save() is True
        finally:
            s.stop()
        with open(os.path.join(workdir, "dump.rdb"), "rb") as f:
            body = f.read() + body
        os.unlink(os.path.join(workdir, "dump.rdb"))
    with open(os.path.join(workdir, "appendonly.aof"), "wb") as f:
        f.write(body)
    s = start_aof(kind, workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        c2 = redis.Redis(port=s.port, db=2)
        expect_l = [b"w", b"x", b"y"] if preamble == "rdb-preamble" else [b"x", b"y"]
        assert c.get("a") == b"1" and c.lrange("l", 0, -1) == expect_l and c2.get("b") == b"in2"
        assert c2.pttl("b") > 4_000_000
        assert (c.get("from-rdb") == b"yes") == (preamble == "rdb-preamble")
        # Moved (not copied) into the directory, kept as the base under its old name.
        assert not os.path.exists(os.path.join(workdir, "appendonly.aof"))
        assert aof_files(workdir) == {"appendonly.aof", "appendonly.aof.manifest", "appendonly.aof.1.incr.aof"}
        assert read(workdir, "appendonly.aof") == body
        assert manifest(workdir) == "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        assert fsize(workdir, "appendonly.aof.1.incr.aof") == 0
        i = info(s.port)
        assert (i["aof_current_size"], i["aof_base_size"]) == (len(body), len(body))
        c.set("new", 1)
        wait_flushed(s.port)
        want = snapshot(s.port)
        check_aof(workdir)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
        # A rewrite replaces the old base like any other.
        assert redis.Redis(port=s.port).bgrewriteaof() is True
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2, FILES_2)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
    finally:
        s.stop()


# MARK: DEBUG LOADAOF, automatic rewrites

@pytest.mark.parametrize("kind", KINDS)
def test_debug_loadaof_keeps_the_dataset(workdir, kind):
    s = start_aof(kind, workdir=workdir)
    try:
        fill(s.port)
        want = snapshot(s.port)
        c = Conn(s.port)
        assert c.call("DEBUG", "LOADAOF") == ("simple", b"OK")
        assert_same(want, snapshot(s.port))
        assert_function(s.port)
        # From a rewritten base plus later writes too.
        assert c.call("BGREWRITEAOF") == ("simple", b"Background append only file rewriting started")
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2, FILES_2)
        more_writes(s.port, "after")
        want = snapshot(s.port)
        assert c.call("DEBUG", "LOADAOF") == ("simple", b"OK")
        assert_same(want, snapshot(s.port))
        # Loading does not log anything again.
        size = fsize(workdir, "appendonly.aof.2.incr.aof")
        assert c.call("DEBUG", "LOADAOF") == ("simple", b"OK")
        assert fsize(workdir, "appendonly.aof.2.incr.aof") == size
        c.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_auto_rewrite_when_the_aof_grows(workdir, kind):
    s = start_aof(kind, "--auto-aof-rewrite-min-size", "64kb", "--auto-aof-rewrite-percentage", "100",
                  workdir=workdir)
    try:
        c = redis.Redis(port=s.port)
        for i in range(10):                # ~50 KB: below the minimum size, no rewrite
            c.set(f"k{i}", "x" * 5000)
        time.sleep(0.5)
        assert info(s.port)["aof_rewrites"] == 0
        for i in range(10, 20):            # ~100 KB: over it, and far more than 100% over the (empty) base
            c.set(f"k{i}", "x" * 5000)
        wait_for(lambda: info(s.port)["aof_rewrites"] >= 1, 5, "an automatic rewrite")
        wait_rewrite_done(s.port)
        wait_layout(workdir, MANIFEST_2, FILES_2)
        want = snapshot(s.port)
        kill(s)
        s = start_aof(kind, workdir=workdir)
        assert_same(want, snapshot(s.port))
        # Percentage 0 turns automatic rewrites off.
        c = redis.Redis(port=s.port)
        c.config_set("auto-aof-rewrite-percentage", 0)
        c.config_set("auto-aof-rewrite-min-size", 0)
        for i in range(20):
            c.set(f"j{i}", "y" * 5000)
        time.sleep(0.5)
        assert info(s.port)["aof_rewrites"] == 0
        assert manifest(workdir) == MANIFEST_2
    finally:
        s.stop()
