"""The replica role (REPLICAOF / SLAVEOF / --replicaof): a server following a master, checked against
redis-server 7.0.15 as the reference.

Every scenario runs with the replica being redis-server or Lunar (and where it matters with the master
being either): ids are "master-<kind>-replica-<kind>" for the scenarios that vary both and "replica-<kind>"
(with a redis-server master) for those about the replica alone, so `-k replica-redis` selects every
reference run and `-k replica-lunar` every Lunar replica. The expected values were taken from a
redis-server replica. All servers listen on loopback; every wait is bounded; servers are stopped (and their
directories removed) when each test ends.
"""
import hashlib
import os
import random
import shutil
import tempfile
import time

import pytest

from support.dataset import keyspace
from support.resp import Conn
from support.servers import Server, free_port, lunar_argv

KINDS = ["redis", "lunar"]
PAIRS = [pytest.param(m, r, id=f"master-{m}-replica-{r}") for m in KINDS for r in KINDS]
REPLICAS = [pytest.param(r, id=f"replica-{r}") for r in KINDS]
TIMEOUT = 20.0

READONLY = b"READONLY You can't write against a read only replica."
LIB = ("#!lua name=repllib\n"
       "redis.register_function('repl_set', function(keys, args) "
       "redis.call('set', keys[1], args[1]) return redis.call('rpush', keys[2], args[1]) end)\n"
       "redis.register_function{function_name='repl_get', callback=function(keys) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}}")

# INFO replication of a redis-server 7.0.15 replica, field names in order.
INFO_REPLICA_UP = [
    "role", "master_host", "master_port", "master_link_status", "master_last_io_seconds_ago",
    "master_sync_in_progress", "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
    "slave_read_only", "replica_announced", "connected_slaves", "master_failover_state", "master_replid",
    "master_replid2", "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
    "repl_backlog_first_byte_offset", "repl_backlog_histlen",
]
# ... and while the link is down (master_link_down_since_seconds after slave_repl_offset).
INFO_REPLICA_DOWN = (INFO_REPLICA_UP[:8] + ["master_link_down_since_seconds"] + INFO_REPLICA_UP[8:])
INFO_MASTER = [
    "role", "connected_slaves", "master_failover_state", "master_replid", "master_replid2",
    "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
    "repl_backlog_first_byte_offset", "repl_backlog_histlen",
]


# MARK: servers

class Servers:
    """Starts servers of either kind for one test; `close` stops them all and removes their directories."""

    def __init__(self):
        self.started = []
        self.dirs = []

    def start(self, kind, *extra, workdir=None):
        """A server of `kind` on a free loopback port, once it answers PING. A redis-server master starts
        its diskless full syncs at once (repl-diskless-sync-delay 0, not the 5 s default)."""
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix=f"replica-{kind}-")
            self.dirs.append(workdir)
        port = free_port()
        if kind == "redis":
            exe = shutil.which("redis-server")
            if not exe:
                raise RuntimeError("redis-server not installed; run scripts/install-deps")
            argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--enable-debug-command", "yes", "--daemonize", "no", "--dir", workdir,
                    "--repl-diskless-sync-delay", "0"] + [str(x) for x in extra]
        else:
            assert kind == "lunar", kind
            argv = lunar_argv(port, *[str(x) for x in extra])
        s = Server(argv, port, workdir)
        s.kind = kind
        self.started.append(s)
        deadline = time.time() + TIMEOUT
        while True:
            try:
                c = Conn(port, timeout=2)
                try:
                    reply = c.call("PING")
                finally:
                    c.close()
                if reply in (("simple", b"PONG"), ("err", b"NOAUTH Authentication required.")) or \
                        (reply[0] == "err" and reply[1].startswith(b"MASTERDOWN ")):   # serving, not stale data
                    return s
            except OSError:
                pass
            if not s.alive() or time.time() > deadline:
                raise RuntimeError(f"{kind} did not come up (exit {s.proc.returncode}): {s.log_text()[-800:]}")
            time.sleep(0.05)

    def close(self):
        for s in reversed(self.started):
            try:
                s.stop()
            except Exception:   # already stopped (its log closed)
                pass
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    s = Servers()
    try:
        yield s
    finally:
        s.close()


# MARK: helpers

def conn(port, password=None):
    c = Conn(port)
    if password:
        assert c.call("AUTH", password) == ("simple", b"OK")
    return c


def call(port, *args, password=None):
    c = conn(port, password)
    try:
        return c.call(*args)
    finally:
        c.close()


def info(port, section="replication", password=None):
    """INFO <section> as an ordered {field: value}."""
    kind, text = call(port, "INFO", section, password=password)
    assert kind == "bulk", text
    out = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_until(pred, what, timeout=TIMEOUT, interval=0.05, detail=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    extra = f"\n{detail()}" if detail else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")


def wait_link_up(replica):
    wait_until(lambda: info(replica.port).get("master_link_status") == "up", "master_link_status:up",
               detail=lambda: f"replica INFO: {info(replica.port)}\nreplica log: {replica.log_text()[-1500:]}")


def wait_synced(master, replica, password=None):
    """Until the replica has applied everything the master produced: link up and its slave_repl_offset equal
    to the master's master_repl_offset. `password` is the master's."""
    def synced():
        m = info(master.port, password=password)
        r = info(replica.port)
        return (r.get("master_link_status") == "up" and r.get("master_port") == str(master.port)
                and r.get("slave_repl_offset") == m["master_repl_offset"])
    wait_until(synced, "the replica's slave_repl_offset to reach the master's master_repl_offset",
               detail=lambda: f"master: {info(master.port, password=password)}\n"
                              f"replica: {info(replica.port)}\n"
                              f"replica log: {replica.log_text()[-1500:]}")


def wait_streaming(master, replica):
    """wait_synced after a PUBLISH (propagated, no data): past it the master streams writes at once (a
    redis-server master starts the stream after a diskless full sync only on the replica's first ACK,
    which it sends once a second)."""
    assert call(master.port, "PUBLISH", "__sync__", "x")[0] == "int"
    wait_synced(master, replica)


def run(port, commands, password=None, allow_errors=False):
    """Runs `commands` pipelined in chunks; fails on an error reply unless allowed. Returns the replies."""
    c = conn(port, password)
    out = []
    try:
        for i in range(0, len(commands), 100):
            chunk = commands[i:i + 100]
            replies = c.pipeline(chunk)
            if not allow_errors:
                for cmd, rep in zip(chunk, replies):
                    assert rep[0] != "err", f"{cmd!r}: {rep!r}"
            out += replies
    finally:
        c.close()
    return out


def fixed_commands(tag):
    """A dataset of every type over several databases, written with the commands whose propagation
    matters: binary and integer strings, big aggregates (Redis's large encodings), relative and absolute
    TTLs, INCRBYFLOAT, SPOP, MULTI/EXEC, an EVAL writing two keys, FUNCTION LOAD + FCALL, DEL, FLUSHDB,
    SWAPDB, MOVE, COPY. Every command must succeed."""
    t = tag
    now = int(time.time())
    return [
        ["SELECT", 0],
        ["FUNCTION", "LOAD", "REPLACE", LIB],
        ["SET", f"{t}:str", "hello"], ["APPEND", f"{t}:str", " world"], ["SETRANGE", f"{t}:str", 20, "pad"],
        ["SET", f"{t}:bin", b"\x00\x01\xff\r\n\x80binary\x00"],
        ["SET", f"{t}:int", "12345"], ["INCRBY", f"{t}:int", 10], ["DECR", f"{t}:int"],
        ["SET", f"{t}:minint", "-9223372036854775808"], ["SET", f"{t}:empty", ""],
        ["SET", f"{t}:big", "v" * 5000],
        ["INCRBYFLOAT", f"{t}:float", "3.14"], ["INCRBYFLOAT", f"{t}:float", "-1.1e1"],
        ["SET", f"{t}:ex", "e", "EX", 1000], ["SET", f"{t}:px", "p", "PX", 2000000],
        ["SETEX", f"{t}:setex", 3000, "s"], ["PSETEX", f"{t}:psetex", 4000000, "ps"],
        ["SET", f"{t}:exat", "x", "EXAT", now + 5000], ["SET", f"{t}:pxat", "x", "PXAT", now * 1000 + 6000123],
        ["MSET", f"{t}:m1", "1", f"{t}:m2", "2"],
        ["RPUSH", f"{t}:list", "a", "b", "c", "d"], ["LPUSH", f"{t}:list", "z"],
        ["LINSERT", f"{t}:list", "BEFORE", "c", "bc"], ["LPOP", f"{t}:list"],
        ["RPUSH", f"{t}:biglist", *[str(i) for i in range(600)]], ["LSET", f"{t}:biglist", 7, "seven"],
        ["SADD", f"{t}:intset", *range(1, 40)], ["SADD", f"{t}:set", "x", "y", "z", "w"],
        ["SPOP", f"{t}:set"], ["SADD", f"{t}:bigset", *[f"m{i}" for i in range(700)]],
        ["SPOP", f"{t}:bigset", 5], ["SREM", f"{t}:intset", 3],
        ["HSET", f"{t}:hash", "f1", "v1", "f2", "2"], ["HINCRBY", f"{t}:hash", "f2", 5],
        ["HINCRBYFLOAT", f"{t}:hash", "f3", "1.5"], ["HDEL", f"{t}:hash", "f1"],
        ["HSET", f"{t}:bighash", *sum(([f"f{i}", "x" * (i % 90)] for i in range(600)), [])],
        ["ZADD", f"{t}:zset", 1, "a", "2.5", "b", "-inf", "c", "+inf", "d", "-0.125", "e"],
        ["ZINCRBY", f"{t}:zset", "0.75", "a"], ["ZPOPMIN", f"{t}:zset"],
        ["ZADD", f"{t}:bigzset", *sum(([repr(i * 1.5 - 100), f"z{i}"] for i in range(200)), [])],
        ["ZREMRANGEBYRANK", f"{t}:bigzset", 0, 9],
        ["EXPIRE", f"{t}:list", 5000], ["PEXPIRE", f"{t}:hash", 9000000], ["EXPIREAT", f"{t}:zset", now + 10000],
        ["PEXPIREAT", f"{t}:bigset", now * 1000 + 7000777], ["SET", f"{t}:persist", "p", "EX", 100],
        ["PERSIST", f"{t}:persist"],
        ["MULTI"], ["SET", f"{t}:tx1", "1"], ["INCR", f"{t}:tx2"], ["RPUSH", f"{t}:txl", "q"],
        ["EXPIRE", f"{t}:tx1", 7000], ["EXEC"],
        ["EVAL", "redis.call('set', KEYS[1], ARGV[1]); redis.call('sadd', KEYS[2], ARGV[1], 'other'); return 1",
         2, f"{t}:ev1", f"{t}:ev2", "evv"],
        ["FCALL", "repl_set", 2, f"{t}:fc", f"{t}:fcl", "fv"],
        ["SET", f"{t}:todel", "1"], ["RPUSH", f"{t}:todel2", "1"], ["DEL", f"{t}:todel", f"{t}:todel2"],
        ["SELECT", 1], ["SET", f"{t}:db1", "one"], ["RPUSH", f"{t}:db1l", "1", "2"],
        ["SELECT", 2], ["HSET", f"{t}:db2h", "a", "b"], ["SET", f"{t}:db2", "two", "PX", 3000000],
        ["SELECT", 3], ["SET", f"{t}:gone", "1"], ["SADD", f"{t}:gone2", "x"], ["FLUSHDB"],
        ["SET", f"{t}:after-flush", "1"],
        ["SWAPDB", 1, 4],
        ["SELECT", 5], ["SET", f"{t}:moved", "1"], ["MOVE", f"{t}:moved", 6],
        ["ZADD", f"{t}:copied", 1, "a"], ["COPY", f"{t}:copied", f"{t}:copy", "DB", 7],
        ["SELECT", 15], ["SET", f"{t}:db15", "x", "EX", 3600],
        ["SELECT", 0],
    ]


VALUES = ["1", "-5", "3.5", "0", "9223372036854775807", "", "x" * 70, b"\x00\xff\r\nbin", "abc", "10"]


def random_commands(seed, n):
    """A seeded stream of `n` writes over a few keys per type in databases 8-11 (apart from
    fixed_commands'): every type, TTLs (long enough not to expire during a comparison), moves between keys
    and databases, scripts, transactions, one SWAPDB and one FLUSHDB. Some commands fail (wrong type, not
    an integer...), as in real traffic."""
    rng = random.Random(seed)
    pool = {t: [f"{t}:{i}" for i in range(5)] for t in ("str", "list", "set", "hash", "zset")}
    now_ms = int(time.time() * 1000)

    def v():
        return rng.choice(VALUES)

    def num():
        return str(rng.randint(-100, 100))

    def flt():
        return f"{rng.uniform(-50, 50):.4f}"

    def members(n_max=6):
        return [rng.choice(["a", "b", "c", "d", "e", "1", "2", "300", "x" * 70]) for _ in range(rng.randint(1, n_max))]

    def gen():
        s, s2 = rng.choice(pool["str"]), rng.choice(pool["str"])
        l, l2 = rng.choice(pool["list"]), rng.choice(pool["list"])
        S, S2, S3 = rng.choice(pool["set"]), rng.choice(pool["set"]), rng.choice(pool["set"])
        h = rng.choice(pool["hash"])
        z, z2, z3 = rng.choice(pool["zset"]), rng.choice(pool["zset"]), rng.choice(pool["zset"])
        t = rng.choice(list(pool))
        k, k2 = rng.choice(pool[t]), rng.choice(pool[t])   # any type, two keys of the same type
        choices = [
            lambda: [["SELECT", 8 + rng.randrange(4)]],
            lambda: [["SET", s, v()]],
            lambda: [["SET", s, v(), "EX", rng.randint(100, 10000)]],
            lambda: [["SET", s, v(), "PX", rng.randint(100000, 10 ** 7)]],
            lambda: [["SET", s, v(), "KEEPTTL"]],
            lambda: [["SET", s, v(), "NX", "GET"]],
            lambda: [["SET", s, v(), "XX", "PXAT", now_ms + rng.randint(10 ** 5, 10 ** 7)]],
            lambda: [["APPEND", s, v()]],
            lambda: [["INCRBY", s, num()]],
            lambda: [["INCRBYFLOAT", s, flt()]],
            lambda: [["SETRANGE", s, rng.randint(0, 30), v()]],
            lambda: [["GETDEL", s]],
            lambda: [["GETEX", s, "PX", rng.randint(100000, 10 ** 7)]],
            lambda: [["GETEX", s, "PERSIST"]],
            lambda: [["SETBIT", s, rng.randint(0, 200), rng.randint(0, 1)]],
            lambda: [["RPUSH", l, *members()]],
            lambda: [["LPUSH", l, *members()]],
            lambda: [["LPOP", l]],
            lambda: [["RPOP", l, 2]],
            lambda: [["LTRIM", l, 0, rng.randint(0, 5)]],
            lambda: [["LMOVE", l, l2, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])]],
            lambda: [["LREM", l, rng.randint(-2, 2), rng.choice(["a", "b", "1"])]],
            lambda: [["LMPOP", 2, l, l2, "RIGHT", "COUNT", 2]],
            lambda: [["SORT", rng.choice([l, S]), "ALPHA", "LIMIT", 0, 5, "STORE", l2]],
            lambda: [["SADD", S, *members()]],
            lambda: [["SREM", S, *members(3)]],
            lambda: [["SPOP", S]],
            lambda: [["SPOP", S, rng.randint(1, 3)]],
            lambda: [["SMOVE", S, S2, rng.choice(["a", "b", "1"])]],
            lambda: [["SINTERSTORE", S, S2, S3]],
            lambda: [["SUNIONSTORE", S, S2, S3]],
            lambda: [["SDIFFSTORE", S, S2, S3]],
            lambda: [["HSET", h, *sum(([f, v()] for f in members(4)), [])]],
            lambda: [["HDEL", h, *members(3)]],
            lambda: [["HINCRBY", h, rng.choice(["n", "m"]), num()]],
            lambda: [["HINCRBYFLOAT", h, rng.choice(["f", "g"]), flt()]],
            lambda: [["ZADD", z, *sum(([flt(), m] for m in members(4)), [])]],
            lambda: [["ZINCRBY", z, flt(), rng.choice(["a", "b"])]],
            lambda: [["ZPOPMIN", z]],
            lambda: [["ZPOPMAX", z, 2]],
            lambda: [["ZUNIONSTORE", z, 2, z2, z3, "WEIGHTS", 2, "0.5"]],
            lambda: [["ZRANGESTORE", z, z2, 0, rng.randint(0, 4)]],
            lambda: [["ZREMRANGEBYSCORE", z, "-inf", flt()]],
            lambda: [["DEL", k, k2]],
            lambda: [["EXPIRE", k, rng.randint(100, 100000)]],
            lambda: [["PEXPIREAT", k, now_ms + rng.randint(10 ** 5, 10 ** 8)]],
            lambda: [["PERSIST", k]],
            lambda: [["EXPIRE", k, -1]],
            lambda: [["RENAME", k, k2]],
            lambda: [["COPY", k, k2, "DB", 8 + rng.randrange(4), "REPLACE"]],
            lambda: [["MOVE", k, 8 + rng.randrange(4)]],
            lambda: [["EVAL", "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
                      2, s, s2, rng.choice(["1", "x"])]],
            lambda: [["MULTI"], ["RPUSH", l, *members()], ["SADD", S, *members()], ["INCR", s], ["EXEC"]],
        ]
        return rng.choice(choices)()

    out = [["SELECT", 8]]
    while len(out) < n // 2:
        out += gen()
    out += [["SWAPDB", 8, 10], ["SELECT", 11], ["FLUSHDB"]]
    while len(out) < n:
        out += gen()
    return out + [["SELECT", 0]]


def assert_same_dataset(master, replica, password=None, min_keys=1):
    a, b = keyspace(master.port), keyspace(replica.port)
    only_m = sorted(set(a) - set(b))[:10]
    only_r = sorted(set(b) - set(a))[:10]
    diff = [(k, a[k], b[k]) for k in sorted(set(a) & set(b)) if a[k] != b[k]][:10]
    assert not only_m and not only_r and not diff, \
        f"keys only on the master: {only_m}\nonly on the replica: {only_r}\ndiffering (master, replica): {diff}"
    assert len(a) >= min_keys, len(a)
    return a


def role(port, password=None):
    kind, items = call(port, "ROLE", password=password)
    assert kind == "array", items
    return items


def slave_lines(master_port, password=None):
    return {k: dict(kv.split("=", 1) for kv in v.split(","))
            for k, v in info(master_port, password=password).items()
            if k.startswith("slave") and k[5:].isdigit()}


def lib_names(port):
    kind, libs = call(port, "FUNCTION", "LIST")
    assert kind == "array"
    return sorted(dict(zip(lib[1][::2], lib[1][1::2]))[("bulk", b"library_name")][1] for lib in libs)


# MARK: 1. full sync, then the stream

@pytest.mark.parametrize("master_kind,replica_kind", PAIRS)
def test_full_sync_then_stream_of_every_kind(servers, master_kind, replica_kind):
    master = servers.start(master_kind)
    replica = servers.start(replica_kind)
    run(master.port, fixed_commands("pre"))
    run(master.port, random_commands("replica-pre", 1000), allow_errors=True)
    assert call(replica.port, "REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK")
    wait_link_up(replica)
    # The snapshot alone: compared before anything else is written.
    wait_synced(master, replica)
    before = assert_same_dataset(master, replica, min_keys=60)
    # Then the stream.
    run(master.port, fixed_commands("post"))
    run(master.port, random_commands("replica-post", 2000), allow_errors=True)
    wait_synced(master, replica)
    data = assert_same_dataset(master, replica, min_keys=len(before) + 40)
    # Not vacuous: every type, TTLs and several databases are in the comparison.
    types = {row[0] for row in data.values()}
    assert types == {"string", "list", "set", "hash", "zset"}, types
    assert sum(1 for row in data.values() if row[2] > 0) >= 20
    assert {db for db, _ in data} >= {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 15}
    assert data[(0, b"post:ev1")][1] == b"evv" and data[(0, b"post:fcl")][1] == [b"fv"]
    assert data[(3, b"post:after-flush")][1] == b"1" and (3, b"pre:after-flush") not in data
    # The library came with the snapshot and with the stream: the replica has the master's libraries (a Lunar
    # master also has those of its lua-library-dir) and runs them (read-only).
    assert b"repllib" in lib_names(master.port)
    assert lib_names(replica.port) == lib_names(master.port)
    assert call(replica.port, "FCALL_RO", "repl_get", 1, "post:fc") == ("bulk", b"fv")
    assert info(replica.port)["master_replid"] == info(master.port)["master_replid"]
    assert master.alive() and replica.alive()


# MARK: 2. a full sync replaces the replica's data

@pytest.mark.parametrize("master_kind,replica_kind", PAIRS)
def test_full_sync_replaces_the_replicas_data(servers, master_kind, replica_kind):
    master = servers.start(master_kind)
    other = servers.start(master_kind)
    replica = servers.start(replica_kind)
    run(replica.port, [["SET", "only-on-replica", "1"], ["SET", "shared", "replica's"],
                       ["SELECT", 7], ["RPUSH", "only-on-replica-db7", "x"], ["SET", "ttl", "1", "EX", 500],
                       ["SELECT", 0],
                       ["FUNCTION", "LOAD", "#!lua name=locallib\nredis.register_function('l', function() return 1 end)"]])
    run(master.port, [["SET", "shared", "master's"], ["SELECT", 2], ["SADD", "from-master", "a", "b"],
                      ["SELECT", 0], ["FUNCTION", "LOAD", LIB]])
    assert call(replica.port, "REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK")
    wait_synced(master, replica)
    data = assert_same_dataset(master, replica, min_keys=2)
    assert set(data) == {(0, b"shared"), (2, b"from-master")}
    assert call(replica.port, "GET", "shared") == ("bulk", b"master's")
    # Functions are part of the dataset: the replica's own library is gone too, it has the master's.
    assert lib_names(replica.port) == lib_names(master.port)
    assert b"locallib" not in lib_names(replica.port) and b"repllib" in lib_names(replica.port)
    run(master.port, [["SET", "streamed", "1"]])
    wait_synced(master, replica)
    # Switching to another master: a new full sync, the first master's data goes.
    run(other.port, [["SELECT", 9], ["HSET", "from-other", "f", "v"], ["SELECT", 0]])
    assert call(replica.port, "REPLICAOF", "127.0.0.1", other.port) == ("simple", b"OK")
    wait_synced(other, replica)
    data = assert_same_dataset(other, replica, min_keys=1)
    assert set(data) == {(9, b"from-other")}
    assert lib_names(replica.port) == lib_names(other.port)
    assert b"repllib" not in lib_names(replica.port)
    assert info(replica.port)["master_port"] == str(other.port)
    assert info(replica.port)["master_replid"] == info(other.port)["master_replid"]
    # The first master lost its replica.
    wait_until(lambda: info(master.port)["connected_slaves"] == "0", "the first master to drop the replica")


# MARK: 3. a replica refuses writes

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_writes_to_a_replica(servers, replica_kind):
    master = servers.start("redis")
    replica = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port)
    run(master.port, [["SET", "k", "v"], ["RPUSH", "l", "a"], ["FUNCTION", "LOAD", LIB]])
    wait_synced(master, replica)
    c = Conn(replica.port)
    try:
        wscript = "return redis.call('set', KEYS[1], 'x')"
        wsha = hashlib.sha1(wscript.encode()).hexdigest()
        later = "redis.call('get', KEYS[1]); redis.call('set', KEYS[1], 'x'); return 1"
        expected = [
            (["SET", "k", "other"], ("err", READONLY)),
            (["DEL", "k"], ("err", READONLY)),
            (["RPUSH", "l", "b"], ("err", READONLY)),
            (["EXPIRE", "k", 10], ("err", READONLY)),
            (["GETEX", "k"], ("err", READONLY)),
            (["SORT", "l", "ALPHA", "STORE", "s"], ("err", READONLY)),
            (["FLUSHALL"], ("err", READONLY)),
            (["SWAPDB", 0, 1], ("err", READONLY)),
            (["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() return 1 end)"],
             ("err", READONLY)),
            # A script that writes fails when it calls the write (Redis adds where).
            (["EVAL", wscript, 1, "k"], ("err", READONLY + f" script: {wsha}, on @user_script:1.".encode())),
            (["EVALSHA", wsha, 1, "k"], ("err", READONLY + f" script: {wsha}, on @user_script:1.".encode())),
            (["EVAL", later, 1, "k"],
             ("err", READONLY + f" script: {hashlib.sha1(later.encode()).hexdigest()}, on @user_script:1.".encode())),
            (["EVAL", "return redis.pcall('set', KEYS[1], 'x')", 1, "k"], ("err", READONLY)),
            # A script declared as possibly writing (shebang without no-writes, a function without the flag)
            # is refused before it runs.
            (["EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", 1, "k"], ("err", READONLY)),
            (["FCALL", "repl_set", 2, "k", "l", "x"], ("err", READONLY)),
            # Reads work.
            (["GET", "k"], ("bulk", b"v")),
            (["LRANGE", "l", 0, -1], ("array", [("bulk", b"a")])),
            (["EVAL", "return redis.call('get', KEYS[1])", 1, "k"], ("bulk", b"v")),
            (["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "k"], ("bulk", b"v")),
            (["EVAL_RO", "return redis.call('get', KEYS[1])", 1, "k"], ("bulk", b"v")),
            (["FCALL_RO", "repl_get", 1, "k"], ("bulk", b"v")),
            (["FCALL", "repl_get", 1, "k"], ("bulk", b"v")),
            (["SORT_RO", "l", "ALPHA"], ("array", [("bulk", b"a")])),
            (["PUBLISH", "ch", "m"], ("int", 0)),
            (["SELECT", 3], ("simple", b"OK")), (["SELECT", 0], ("simple", b"OK")),
            # In a transaction the write is refused when queued, and EXEC then aborts.
            (["MULTI"], ("simple", b"OK")), (["GET", "k"], ("simple", b"QUEUED")),
            (["SET", "k", "tx"], ("err", READONLY)),
            (["EXEC"], ("err", b"EXECABORT Transaction discarded because of previous errors.")),
            (["MULTI"], ("simple", b"OK")), (["GET", "k"], ("simple", b"QUEUED")),
            (["EXEC"], ("array", [("bulk", b"v")])),
            (["CONFIG", "GET", "replica-read-only"], ("array", [("bulk", b"replica-read-only"), ("bulk", b"yes")])),
        ]
        for cmd, want in expected:
            assert c.call(*cmd) == want, cmd
        assert info(replica.port)["slave_read_only"] == "1"
        # replica-read-only no: the replica takes writes; they stay local.
        assert c.call("CONFIG", "SET", "replica-read-only", "no") == ("simple", b"OK")
        assert info(replica.port)["slave_read_only"] == "0"
        assert c.call("CONFIG", "GET", "slave-read-only") == ("array", [("bulk", b"slave-read-only"), ("bulk", b"no")])
        assert c.call("SET", "local", "1") == ("simple", b"OK")
        assert c.call("EVAL", wscript, 1, "local2") == ("simple", b"OK")
        assert c.call("GET", "local") == ("bulk", b"1")
        assert call(master.port, "EXISTS", "local", "local2") == ("int", 0)
        run(master.port, [["SET", "k", "v2"]])
        wait_synced(master, replica)
        assert c.call("GET", "k") == ("bulk", b"v2")
        assert c.call("MGET", "local", "local2") == ("array", [("bulk", b"1"), ("bulk", b"x")])
        assert c.call("CONFIG", "SET", "replica-read-only", "yes") == ("simple", b"OK")
        assert c.call("SET", "local", "2") == ("err", READONLY)
    finally:
        c.close()


# MARK: 4. INFO replication and ROLE on a replica

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_info_and_role_of_a_replica(servers, replica_kind):
    master = servers.start("redis")
    replica = servers.start(replica_kind)
    run(master.port, [["SET", "a", "1"]])
    assert call(replica.port, "REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK")
    wait_link_up(replica)
    run(master.port, [["SET", "b", "2"], ["INCR", "a"]])
    wait_synced(master, replica)
    m, r = info(master.port), info(replica.port)
    assert list(r) == INFO_REPLICA_UP
    assert r["role"] == "slave"
    assert r["master_host"] == "127.0.0.1" and r["master_port"] == str(master.port)
    assert r["master_link_status"] == "up"
    assert 0 <= int(r["master_last_io_seconds_ago"]) <= 11
    assert r["master_sync_in_progress"] == "0"
    assert r["slave_read_repl_offset"] == r["slave_repl_offset"] == r["master_repl_offset"] == m["master_repl_offset"]
    assert int(r["slave_repl_offset"]) > 0
    assert r["slave_priority"] == "100" and r["slave_read_only"] == "1" and r["replica_announced"] == "1"
    assert r["connected_slaves"] == "0" and r["master_failover_state"] == "no-failover"
    assert r["master_replid"] == m["master_replid"] and len(r["master_replid"]) == 40
    assert r["master_replid2"] == "0" * 40 and r["second_repl_offset"] == "-1"
    assert r["repl_backlog_active"] == "1" and r["repl_backlog_size"] == "1048576"
    # The replica's backlog holds what it received since the full sync.
    assert int(r["repl_backlog_histlen"]) == int(r["master_repl_offset"]) - int(r["repl_backlog_first_byte_offset"]) + 1
    assert int(r["repl_backlog_histlen"]) > 0
    # ROLE: ["slave", host, port (an integer), "connected", offset (an integer)].
    assert role(replica.port) == [("bulk", b"slave"), ("bulk", b"127.0.0.1"), ("int", master.port),
                                  ("bulk", b"connected"), ("int", int(r["slave_repl_offset"]))]
    # The master lists the replica under its listening port, online.
    lines = slave_lines(master.port)
    assert list(lines) == ["slave0"]
    assert lines["slave0"]["ip"] == "127.0.0.1" and lines["slave0"]["port"] == str(replica.port)
    assert lines["slave0"]["state"] == "online"


# MARK: 5. REPLICAOF NO ONE, SLAVEOF

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_replicaof_no_one_and_slaveof(servers, replica_kind):
    master = servers.start("redis")
    replica = servers.start(replica_kind)
    run(master.port, fixed_commands("p"))
    assert call(replica.port, "SLAVEOF", "127.0.0.1", master.port) == ("simple", b"OK")
    assert call(replica.port, "SLAVEOF", "127.0.0.1", master.port) == ("simple", b"OK Already connected to specified master")
    wait_synced(master, replica)
    data = assert_same_dataset(master, replica, min_keys=40)
    old_replid = info(master.port)["master_replid"]
    synced_offset = int(info(replica.port)["slave_repl_offset"])
    wait_until(lambda: info(master.port)["connected_slaves"] == "1", "the master to list the replica")
    assert call(replica.port, "REPLICAOF", "NO", "ONE") == ("simple", b"OK")
    # The data stays; the replica is a master now, with a new history that continues the old one.
    assert keyspace(replica.port) == data
    r = info(replica.port)
    assert list(r) == INFO_MASTER
    assert r["role"] == "master" and r["connected_slaves"] == "0"
    assert r["master_replid"] != old_replid and len(r["master_replid"]) == 40
    assert r["master_replid2"] == old_replid
    offset = int(r["master_repl_offset"])   # the master may have sent a PING meanwhile
    assert offset >= synced_offset
    assert r["second_repl_offset"] == str(offset + 1)
    assert role(replica.port) == [("bulk", b"master"), ("int", offset), ("array", [])]
    assert call(replica.port, "SET", "promoted", "1") == ("simple", b"OK")
    assert call(replica.port, "EVAL", "return redis.call('set', KEYS[1], 'x')", 1, "promoted2") == ("simple", b"OK")
    assert call(replica.port, "CONFIG", "GET", "replicaof") == ("array", [("bulk", b"replicaof"), ("bulk", b"")])
    # Already a master: OK again.
    assert call(replica.port, "REPLICAOF", "NO", "ONE") == ("simple", b"OK")
    # The old master lets go of it.
    wait_until(lambda: info(master.port)["connected_slaves"] == "0", "the old master to drop the replica",
               timeout=10)
    run(master.port, [["SET", "while-apart", "1"]])
    assert call(replica.port, "EXISTS", "while-apart") == ("int", 0)
    # SLAVEOF back: the local writes are replaced by the master's data again.
    assert call(replica.port, "SLAVEOF", "127.0.0.1", master.port) == ("simple", b"OK")
    wait_synced(master, replica)
    assert_same_dataset(master, replica, min_keys=41)
    assert call(replica.port, "EXISTS", "promoted", "promoted2") == ("int", 0)
    assert call(replica.port, "GET", "while-apart") == ("bulk", b"1")
    assert call(replica.port, "SLAVEOF", "no", "one") == ("simple", b"OK")
    assert role(replica.port)[0] == ("bulk", b"master")
    assert call(replica.port, "SET", "promoted", "2") == ("simple", b"OK")


# MARK: 6. arguments, link down

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_replicaof_arguments_and_a_master_that_is_not_there(servers, replica_kind):
    master = servers.start("redis")
    replica = servers.start(replica_kind)
    c = Conn(replica.port)
    try:
        arity = ("err", b"ERR wrong number of arguments for 'replicaof' command")
        bad_port = ("err", b"ERR Invalid master port")
        for cmd, want in [
            (["REPLICAOF"], arity), (["REPLICAOF", "onlyone"], arity), (["REPLICAOF", "a", "b", "c"], arity),
            (["SLAVEOF", "onlyone"], ("err", b"ERR wrong number of arguments for 'slaveof' command")),
            (["REPLICAOF", "127.0.0.1", "notaport"], bad_port), (["REPLICAOF", "127.0.0.1", "-1"], bad_port),
            (["REPLICAOF", "127.0.0.1", "65536"], bad_port), (["REPLICAOF", "127.0.0.1", "1.5"], bad_port),
            (["REPLICAOF", "127.0.0.1", "01"], bad_port), (["REPLICAOF", "127.0.0.1", "+1"], bad_port),
            (["REPLICAOF", "127.0.0.1", "99999999999999999999"], bad_port), (["REPLICAOF", "127.0.0.1", ""], bad_port),
            (["SLAVEOF", "127.0.0.1", "x"], bad_port),
            (["REPLICAOF", "NO", "TWO"], bad_port),   # not NO ONE: a host called NO
            (["REPLICAOF", "NO", "ONE"], ("simple", b"OK")), (["replicaof", "no", "one"], ("simple", b"OK")),
            (["EVAL", "return redis.call('replicaof', 'no', 'one')", 0],
             ("err", b"ERR This Redis command is not allowed from script script: "
                     + hashlib.sha1(b"return redis.call('replicaof', 'no', 'one')").hexdigest().encode()
                     + b", on @user_script:1.")),
        ]:
            assert c.call(*cmd) == want, cmd
        assert role(replica.port) == [("bulk", b"master"), ("int", 0), ("array", [])]
        # Port 0 is accepted (Redis then fails to connect to it, and keeps trying).
        assert c.call("REPLICAOF", "127.0.0.1", "0") == ("simple", b"OK")
        rl = role(replica.port)
        assert rl[:3] == [("bulk", b"slave"), ("bulk", b"127.0.0.1"), ("int", 0)]
        assert rl[3] in (("bulk", b"connect"), ("bulk", b"connecting")) and rl[4] == ("int", -1)
        # A master that does not answer: the link stays down, the replica still refuses writes.
        closed = free_port()
        assert c.call("REPLICAOF", "127.0.0.1", closed) == ("simple", b"OK")
        time.sleep(0.5)
        rl = role(replica.port)
        assert rl[:3] == [("bulk", b"slave"), ("bulk", b"127.0.0.1"), ("int", closed)]
        assert rl[3] in (("bulk", b"connect"), ("bulk", b"connecting")) and rl[4] == ("int", -1)
        r = info(replica.port)
        assert list(r) == INFO_REPLICA_DOWN
        assert r["master_port"] == str(closed) and r["master_link_status"] == "down"
        assert r["master_last_io_seconds_ago"] == "-1" and r["master_sync_in_progress"] == "0"
        int(r["master_link_down_since_seconds"])
        assert c.call("SET", "k", "v") == ("err", READONLY)
        assert c.call("GET", "k") == ("nullbulk",)
        # A real master now; the same master twice is acknowledged as such.
        assert c.call("REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK")
        assert c.call("REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK Already connected to specified master")
        wait_link_up(replica)
        assert c.call("REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK Already connected to specified master")
        assert c.call("CONFIG", "GET", "replicaof") == ("array", [("bulk", b"replicaof"),
                                                                  ("bulk", f"127.0.0.1 {master.port}".encode())])
        # REPLICAOF is accepted in a transaction.
        assert c.call("MULTI") == ("simple", b"OK")
        assert c.call("REPLICAOF", "NO", "ONE") == ("simple", b"QUEUED")
        assert c.call("EXEC") == ("array", [("simple", b"OK")])
        assert role(replica.port)[0] == ("bulk", b"master")
        wait_until(lambda: info(master.port)["connected_slaves"] == "0", "the master to drop the replica")
    finally:
        c.close()


# MARK: 7. link loss, partial resync

@pytest.mark.parametrize("master_kind,replica_kind", PAIRS)
def test_link_loss_and_partial_resync(servers, master_kind, replica_kind):
    master = servers.start(master_kind)
    replica = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port)
    run(master.port, fixed_commands("a"))
    wait_synced(master, replica)
    replid = info(replica.port)["master_replid"]
    for round_, kill_type in enumerate(["replica", "slave"]):
        before = info(master.port, "stats")
        # The writes sent with the kill (the first ones run in the same batch, before the replica can even
        # reconnect) reach it from the master's backlog.
        replies = run(master.port, [["CLIENT", "KILL", "TYPE", kill_type]] + fixed_commands(f"gap{round_}")
                      + random_commands(f"gap{round_}", 300), allow_errors=True)
        assert replies[0] == ("int", 1)
        assert not [x for x in replies[1:len(fixed_commands("x")) + 1] if x[0] == "err"]
        wait_synced(master, replica)
        after = info(master.port, "stats")
        assert int(after["sync_partial_ok"]) == int(before["sync_partial_ok"]) + 1, (before, after)
        assert int(after["sync_full"]) == int(before["sync_full"])
        assert info(replica.port)["master_replid"] == replid
        assert info(master.port)["connected_slaves"] == "1"
        data = assert_same_dataset(master, replica, min_keys=80)
        assert (0, f"gap{round_}:ev1".encode()) in data


# MARK: 8. WAIT

@pytest.mark.parametrize("master_kind,replica_kind", PAIRS)
def test_wait_counts_the_replica(servers, master_kind, replica_kind):
    master = servers.start(master_kind)
    replica = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port)
    wait_streaming(master, replica)
    c = Conn(master.port)
    try:
        assert c.call("SET", "w", "1") == ("simple", b"OK")
        t = time.time()
        assert c.call("WAIT", 1, 2000) == ("int", 1)
        assert time.time() - t < 1.9
        replies = c.pipeline([["INCR", "w"], ["WAIT", 1, 2000], ["RPUSH", "wl", "x"], ["WAIT", 1, 2000]])
        assert replies == [("int", 2), ("int", 1), ("int", 1), ("int", 1)]
        assert call(replica.port, "GET", "w") == ("bulk", b"2")
        # More replicas than there are: the timeout, then the count.
        t = time.time()
        assert c.call("WAIT", 2, 300) == ("int", 1)
        assert time.time() - t >= 0.25
        # The replica's ACKs bring its offset in the master's INFO up to master_repl_offset.
        def acked():
            line = slave_lines(master.port).get("slave0")
            return line and line["state"] == "online" and line["offset"] == info(master.port)["master_repl_offset"]
        wait_until(acked, "slave0's offset to reach master_repl_offset", timeout=5,
                   detail=lambda: str(info(master.port)))
        line = slave_lines(master.port)["slave0"]
        assert line["ip"] == "127.0.0.1" and line["port"] == str(replica.port) and int(line["lag"]) <= 2
    finally:
        c.close()


# MARK: 9. --replicaof at start-up

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_replicaof_option_at_startup(servers, replica_kind):
    master = servers.start("redis")
    run(master.port, fixed_commands("s"))
    replica = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port)
    wait_synced(master, replica)
    assert_same_dataset(master, replica, min_keys=40)
    assert role(replica.port)[:4] == [("bulk", b"slave"), ("bulk", b"127.0.0.1"), ("int", master.port),
                                      ("bulk", b"connected")]
    assert call(replica.port, "CONFIG", "GET", "replicaof") == ("array", [
        ("bulk", b"replicaof"), ("bulk", f"127.0.0.1 {master.port}".encode())])
    run(master.port, [["SET", "later", "1"]])
    wait_synced(master, replica)
    assert call(replica.port, "GET", "later") == ("bulk", b"1")
    assert call(replica.port, "SET", "later", "2") == ("err", READONLY)


def test_replica_serve_stale_data_no(servers):
    """With the link down and replica-serve-stale-data no, only commands flagged stale run (MASTERDOWN
    for the rest, and a transaction holding one is aborted); back to yes, reads work again. The same
    commands on a redis-server replica and a Lunar replica give the same replies."""
    nowhere = str(free_port())
    replies = []
    for kind in ("redis", "lunar"):
        replica = servers.start(kind, "--replicaof", "127.0.0.1", nowhere, "--replica-serve-stale-data", "no")
        c = Conn(replica.port)
        try:
            replies.append([c.call(*cmd) for cmd in (
                ["GET", "a"], ["PING"], ["DBSIZE"], ["SELECT", "1"], ["MULTI"], ["GET", "a"], ["EXEC"],
                ["MULTI"], ["SELECT", "0"], ["EXEC"], ["CONFIG", "SET", "replica-serve-stale-data", "yes"], ["GET", "a"])])
            assert c.call("INFO", "replication")[0] == "bulk"
        finally:
            c.close()
    assert replies[0][0] == ("err", b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    assert replies[1] == replies[0]


# MARK: 10. masterauth

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_masterauth(servers, replica_kind):
    pw = "secret"
    master = servers.start("redis", "--requirepass", pw)
    run(master.port, fixed_commands("auth"), password=pw)
    good = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port, "--masterauth", pw)
    wait_synced(master, good, password=pw)
    mc = conn(master.port, pw)   # one connection: the polling below must not count in the master's stats
    try:
        def connections():
            text = mc.call("INFO", "stats")[1].decode()
            return int(text.split("total_connections_received:")[1].split("\r\n")[0])
        wrong = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port, "--masterauth", "wrong")
        before = connections()
        # The replica with the wrong password keeps trying (new connections) and never gets the link up.
        wait_until(lambda: connections() >= before + 2, "the replica with the wrong masterauth to try again",
                   timeout=10)
    finally:
        mc.close()
    r = info(wrong.port)
    assert r["master_link_status"] == "down", r
    assert call(wrong.port, "DBSIZE") == ("int", 0)
    assert info(master.port, password=pw)["connected_slaves"] == "1"
    # With the right password (CONFIG SET masterauth) it syncs at its next attempt.
    assert call(wrong.port, "CONFIG", "SET", "masterauth", pw) == ("simple", b"OK")
    wait_synced(master, wrong, password=pw)
    # keyspace() does not authenticate: compare once the master no longer asks.
    assert call(master.port, "CONFIG", "SET", "requirepass", "", password=pw) == ("simple", b"OK")
    run(master.port, [["SET", "after", "1"]])
    wait_synced(master, good)
    wait_synced(master, wrong)
    assert_same_dataset(master, good, min_keys=41)
    assert_same_dataset(master, wrong, min_keys=41)


# MARK: 11. expiry

@pytest.mark.parametrize("master_kind,replica_kind", PAIRS)
def test_expired_keys_on_a_replica(servers, master_kind, replica_kind):
    master = servers.start(master_kind)
    replica = servers.start(replica_kind, "--replicaof", "127.0.0.1", master.port)
    m = Conn(master.port)
    try:
        # Lazy expiry on the master: nothing deletes the key until it is accessed there.
        assert m.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == ("simple", b"OK")
        wait_streaming(master, replica)
        run(master.port, [["SET", "stay", "1"], ["SET", "short", "v", "PX", 400], ["SELECT", 3],
                          ["RPUSH", "short3", "a"], ["PEXPIRE", "short3", 400], ["SELECT", 0]])
        wait_synced(master, replica)
        r = Conn(replica.port)
        try:
            assert r.call("GET", "short") == ("bulk", b"v")
            when = m.call("PEXPIRETIME", "short")
            assert r.call("PEXPIRETIME", "short") == when
            time.sleep(max(0.0, when[1] / 1000 - time.time()) + 0.1)
            # Logically expired, not deleted yet (the master sent no DEL): hidden from reads on the replica.
            wait_synced(master, replica)
            assert r.call("DBSIZE") == ("int", 2)
            assert r.call("GET", "short") == ("nullbulk",)
            assert r.call("EXISTS", "short") == ("int", 0)
            assert r.call("PTTL", "short") == ("int", -2)
            assert r.call("KEYS", "*") == ("array", [("bulk", b"stay")])
            assert r.call("DBSIZE") == ("int", 2)
            # Reading it did not delete it on the replica; accessing it on the master does, and the DEL
            # reaches the replica.
            offset = int(info(master.port)["master_repl_offset"])
            assert m.call("GET", "short") == ("nullbulk",)
            assert int(info(master.port)["master_repl_offset"]) > offset
            wait_synced(master, replica)
            assert r.call("DBSIZE") == ("int", 1)
            assert r.call("SELECT", 3) == ("simple", b"OK")
            assert r.call("DBSIZE") == ("int", 1)
            assert r.call("LRANGE", "short3", 0, -1) == ("array", [])
            # Active expiry on the master deletes the other one by itself.
            assert m.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == ("simple", b"OK")
            wait_until(lambda: r.call("DBSIZE") == ("int", 0), "the master's active expiry to reach the replica",
                       timeout=10)
            assert m.call("SELECT", 3) == ("simple", b"OK") and m.call("DBSIZE") == ("int", 0)
            # Keys with a TTL keep the master's absolute expire time.
            run(master.port, [["SET", "ttl", "x", "EX", 100], ["EXPIRE", "stay", 200]])
            wait_synced(master, replica)
            r.call("SELECT", 0)
            m.call("SELECT", 0)
            for k in ("ttl", "stay"):
                assert r.call("PEXPIRETIME", k) == m.call("PEXPIRETIME", k)
            assert_same_dataset(master, replica, min_keys=2)
        finally:
            r.close()
    finally:
        m.close()


# MARK: 12. a replica with an AOF

@pytest.mark.parametrize("replica_kind", REPLICAS)
def test_replica_aof_holds_the_synced_data(servers, replica_kind):
    master = servers.start("redis")
    run(master.port, fixed_commands("before"))
    workdir = tempfile.mkdtemp(prefix=f"replica-aof-{replica_kind}-")
    servers.dirs.append(workdir)
    replica = servers.start(replica_kind, "--appendonly", "yes", workdir=workdir)
    assert call(replica.port, "REPLICAOF", "127.0.0.1", master.port) == ("simple", b"OK")
    wait_synced(master, replica)
    run(master.port, fixed_commands("after") + random_commands("aof", 500), allow_errors=True)
    wait_synced(master, replica)
    data = assert_same_dataset(master, replica, min_keys=80)

    def rewritten():
        p = info(replica.port, "persistence")
        return (p["aof_enabled"] == "1" and p["aof_rewrite_in_progress"] == "0"
                and p["aof_rewrite_scheduled"] == "0" and p["aof_buffer_length"] == "0")
    wait_until(rewritten, "the replica's AOF rewrite after the full sync", timeout=10,
               detail=lambda: str(info(replica.port, "persistence")))
    replica.stop()
    # Only the AOF may bring the data back (a kept RDB copy of the snapshot is removed).
    if os.path.exists(os.path.join(workdir, "dump.rdb")):
        os.remove(os.path.join(workdir, "dump.rdb"))
    again = servers.start(replica_kind, "--appendonly", "yes", workdir=workdir)
    assert role(again.port)[0] == ("bulk", b"master")
    assert keyspace(again.port) == data
    # (A Lunar server also loads its lua-library-dir at start.)
    assert set(lib_names(again.port)) >= set(lib_names(master.port)) == {b"repllib"}
