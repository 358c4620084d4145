"""Lunar as a replication master, followed by a real redis-server 7.0 replica (--replicaof),
redis-cli --replica and raw PSYNC connections that read the stream byte by byte.

The replica must end up with exactly Lunar's data after generated command sequences of every
differential family; the raw connections check what the stream holds (MULTI/EXEC around script
effects, deterministic rewrites, SELECT), its offsets, partial resyncs and the replication commands.
All servers listen on loopback; every wait is bounded.
"""
import importlib
import os
import pkgutil
import random
import shutil
import signal
import socket
import subprocess
import time

import pytest

from support.raw_replica import RawReplica
from support.resp import Conn
from support.servers import start_lunar, start_redis

FAMILY_DIR = os.path.join(os.path.dirname(__file__), "..", "differential", "families")
FAMILIES = sorted(m.name for m in pkgutil.iter_modules([FAMILY_DIR]))
SYNC_TIMEOUT = 30.0
LIB = ("#!lua name=repl_lib\nredis.register_function{function_name='repl_lib_answer', "
       "callback=function() return 42 end, flags={'no-writes'}}")


# MARK: helpers

def info(port, section="replication"):
    c = Conn(port)
    try:
        text = c.call("INFO", section)[1].decode()
    finally:
        c.close()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_until(pred, what, timeout=SYNC_TIMEOUT, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_link_up(replica_port):
    wait_until(lambda: info(replica_port).get("master_link_status") == "up", "master_link_status:up")


def wait_synced(master_port, replica_port):
    """Until the replica has applied everything Lunar produced (its offset equals master_repl_offset)."""
    def synced():
        m = info(master_port)
        r = info(replica_port)
        return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]
    wait_until(synced, "the replica's offset to reach Lunar's master_repl_offset")


def dump(port, dbs=16):
    """Every key of every database: (db, key) -> (type, value, absolute expire time in ms or -1)."""
    c = Conn(port)
    out = {}
    reader = {
        b"string": lambda k: ["GET", k],
        b"list": lambda k: ["LRANGE", k, 0, -1],
        b"set": lambda k: ["SMEMBERS", k],
        b"hash": lambda k: ["HGETALL", k],
        b"zset": lambda k: ["ZRANGE", k, 0, -1, "WITHSCORES"],
    }
    try:
        for db in range(dbs):
            c.call("SELECT", db)
            keys = [item[1] for item in c.call("KEYS", "*")[1]]
            types = [t[1] for t in c.pipeline([["TYPE", k] for k in keys])]
            live = [(k, t) for k, t in zip(keys, types) if t in reader]   # others expired meanwhile
            cmds = []
            for k, t in live:
                cmds += [reader[t](k), ["PEXPIRETIME", k]]
            replies = c.pipeline(cmds)
            for i, (k, t) in enumerate(live):
                v, exp = replies[2 * i], replies[2 * i + 1][1]
                if v[0] in ("nullbulk", "nullarray") or exp == -2:
                    continue   # expired between TYPE and the read
                if t == b"set":
                    v = sorted(x[1] for x in v[1])
                elif t == b"hash":
                    items = [x[1] for x in v[1]]
                    v = sorted(zip(items[::2], items[1::2]))
                out[(db, k)] = (t, v, exp)
    finally:
        c.close()
    return out


def assert_same_data(master_port, replica_port):
    a, b = dump(master_port), dump(replica_port)
    # Keys about to expire may be gone on one side only.
    soon = int(time.time() * 1000) + 3000

    def settled(d):
        return {k: v for k, v in d.items() if not (0 <= v[2] < soon)}
    sa, sb = settled(a), settled(b)
    only_a = sorted(set(sa) - set(b))
    only_b = sorted(set(sb) - set(a))
    assert not only_a and not only_b, f"keys only on Lunar: {only_a[:10]}, only on the replica: {only_b[:10]}"
    bad = []
    for k in sorted(set(sa) & set(sb)):
        (ta, va, ea), (tb, vb, eb) = sa[k], sb[k]
        if ta != tb or va != vb:
            bad.append(f"{k}: lunar {ta} {va!r} / replica {tb} {vb!r}")
        elif ea != eb:
            bad.append(f"{k}: expire time lunar {ea} / replica {eb}")
    assert not bad, f"{len(bad)} keys differ:\n" + "\n".join(bad[:20])
    return len(sa)


def run_generated(port, family, count, seed):
    """Runs `count` commands of a differential family's generator on Lunar (replies not checked)."""
    import harness  # noqa: F401  (families import it)
    module = importlib.import_module(f"families.{family}")
    rng = random.Random(f"repl-{seed}-{family}")
    gen = module.generate(rng)
    c = Conn(port)
    chunk = []
    try:
        for _ in range(count):
            cmd = next(gen)
            if cmd.args[0] == "__sleep__":
                if chunk:
                    c.pipeline(chunk)
                    chunk = []
                time.sleep(int(cmd.args[1]) / 1000)
                continue
            chunk.append(cmd.args)
            if len(chunk) >= 64:
                c.pipeline(chunk)
                chunk = []
        if chunk:
            c.pipeline(chunk)
    finally:
        c.close()


def upper(cmds):
    return [[c[0].upper()] + c[1:] for c in cmds]


# MARK: fixtures

@pytest.fixture(scope="module")
def master():
    s = start_lunar()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def replica(master):
    s = start_redis("--replicaof", "127.0.0.1", str(master.port))
    wait_link_up(s.port)
    yield s
    s.stop()


@pytest.fixture
def m(master):
    c = Conn(master.port)
    yield c
    c.close()


def replica_count(port):
    return int(info(port)["connected_slaves"])


def wait_replicas(port, n):
    wait_until(lambda: replica_count(port) == n, f"{n} connected replicas")


# MARK: a real redis-server replica follows generated workloads

@pytest.mark.parametrize("family", FAMILIES)
def test_replica_matches_after_family(master, replica, family):
    count = int(os.environ.get("REPL_COMMANDS", "1500"))
    seed = os.environ.get("DIFF_SEED", "20261125")
    c = Conn(master.port)
    c.call("FLUSHALL")
    c.close()
    run_generated(master.port, family, count, seed)
    wait_synced(master.port, replica.port)
    assert_same_data(master.port, replica.port)
    assert_same_digest(master.port, replica.port)
    assert master.alive() and replica.alive()


def assert_same_digest(master_port, replica_port):
    """DEBUG DIGEST (every key, streams included) equal on the Lunar master and the redis-server
    replica; retried after a new sync point, as an expiry's DEL may be on its way."""
    a, b = Conn(master_port), Conn(replica_port)
    try:
        for _ in range(5):
            wait_synced(master_port, replica_port)
            x, y = a.call("DEBUG", "DIGEST"), b.call("DEBUG", "DIGEST")
            if x == y:
                return
            time.sleep(0.1)
        assert x == y, "master and replica datasets differ (DEBUG DIGEST)"
    finally:
        a.close()
        b.close()


def test_replica_matches_with_expiry_and_many_databases(master, replica, m):
    m.call("FLUSHALL")
    rng = random.Random(7)
    for db in range(16):
        m.call("SELECT", db)
        for i in range(40):
            k = f"k{i}"
            kind = rng.randrange(5)
            if kind == 0:
                m.call("SET", k, f"v{i}", "EX", rng.randint(100, 1000))
            elif kind == 1:
                m.call("RPUSH", k, *[str(x) for x in range(rng.randint(1, 10))])
            elif kind == 2:
                m.call("SADD", k, *[str(x) for x in range(rng.randint(1, 10))])
            elif kind == 3:
                m.call("HSET", k, "a", "1", "b", str(i))
            else:
                m.call("ZADD", k, rng.random(), "m1", rng.random(), "m2")
            if rng.random() < 0.3:
                m.call("PEXPIRE", k, rng.randint(10 ** 5, 10 ** 6))
        # Short-lived keys that expire on Lunar (active or lazy expiry sends DEL).
        for i in range(10):
            m.call("SET", f"short{i}", "x", "PX", rng.randint(1, 50))
    time.sleep(0.3)
    for db in range(16):
        m.call("SELECT", db)
        for i in range(10):
            m.call("GET", f"short{i}")
    wait_synced(master.port, replica.port)
    n = assert_same_data(master.port, replica.port)
    assert n == 16 * 40
    # The expired keys were deleted on the replica by the master's DELs, not just hidden.
    r = Conn(replica.port)
    try:
        for db in range(16):
            r.call("SELECT", db)
            assert r.call("DBSIZE") == ("int", 40)
    finally:
        r.close()


def test_new_replica_full_sync_with_existing_data(master, m):
    """A replica attaching to a populated Lunar loads the snapshot, then follows the stream."""
    m.call("FLUSHALL")
    rng = random.Random(11)
    for db in (0, 1, 9):
        m.call("SELECT", db)
        pipe = []
        for i in range(1000):
            k = f"d{db}:{i}"
            kind = i % 6
            # Every tenth aggregate is big enough for Redis's large encodings (hashtable, skiplist).
            n = rng.randint(1, 40) if i % 10 else rng.randint(600, 900)
            if kind == 0:
                pipe.append(["SET", k, str(rng.randint(-10 ** 12, 10 ** 12))])
            elif kind == 1:
                pipe.append(["SET", k, "v" * rng.randint(0, 300), "PX", rng.randint(10 ** 6, 10 ** 7)])
            elif kind == 2:
                pipe.append(["RPUSH", k, *[str(rng.random()) for _ in range(n)]])
            elif kind == 3:
                pipe.append(["SADD", k, *[str(rng.randint(0, 10 ** 6)) for _ in range(n)]])
            elif kind == 4:
                pipe.append(["HSET", k, *sum(([f"f{j}", "x" * rng.randint(0, 80)] for j in range(n)), [])])
            else:
                pipe.append(["ZADD", k, *sum(([repr(rng.uniform(-1e6, 1e6)), f"m{j}"] for j in range(n)), [])])
            if i % 7 == 0 and kind != 1:
                pipe.append(["PEXPIRE", k, rng.randint(10 ** 6, 10 ** 7)])
            if len(pipe) >= 200:
                m.pipeline(pipe)
                pipe = []
        if pipe:
            m.pipeline(pipe)
    m.call("SELECT", 0)
    m.call("FUNCTION", "LOAD", "REPLACE", LIB)
    before = int(info(master.port, "stats")["sync_full"])
    second = start_redis("--replicaof", "127.0.0.1", str(master.port))
    try:
        wait_link_up(second.port)
        assert int(info(master.port, "stats")["sync_full"]) == before + 1
        m.call("SET", "after-attach", "1")
        m.call("SELECT", 9)
        m.call("DEL", "d9:0")
        m.call("SELECT", 0)
        wait_synced(master.port, second.port)
        assert assert_same_data(master.port, second.port) == 3 * 1000 - 1 + 1
        rc = Conn(second.port)
        try:
            assert rc.call("FCALL_RO", "repl_lib_answer", 0) == ("int", 42)
        finally:
            rc.close()
    finally:
        second.stop()
    m.call("FLUSHALL")


def test_snapshot_bigger_than_the_replica_output_limit_still_syncs():
    """The full-sync snapshot is not counted against client-output-buffer-limit replica (as in
    Redis, which sends it outside the output buffer); the stream that follows is."""
    lunar = start_lunar("--client-output-buffer-limit", "replica 1mb 512kb 5")
    second = None
    try:
        c = Conn(lunar.port)
        for i in range(0, 3000, 100):
            c.pipeline([["SET", f"big:{j}", "x" * 2000 + str(j)] for j in range(i, i + 100)])
        second = start_redis("--replicaof", "127.0.0.1", str(lunar.port))
        wait_link_up(second.port)
        c.call("SET", "after", "1")
        wait_synced(lunar.port, second.port)
        assert assert_same_data(lunar.port, second.port) == 3001
        time.sleep(0.5)
        assert info(lunar.port)["connected_slaves"] == "1"
        c.close()
    finally:
        if second:
            second.stop()
        lunar.stop()


def test_evictions_reach_the_replica_as_deletes():
    """Keys the master evicts for maxmemory are deleted on its replica too (Redis replicas do not
    evict by themselves: they follow the master's DELs)."""
    lunar = start_lunar("--maxmemory-policy", "allkeys-random")
    second = None
    try:
        c = Conn(lunar.port)
        second = start_redis("--replicaof", "127.0.0.1", str(lunar.port))
        wait_link_up(second.port)
        used = int(info(lunar.port, "memory")["used_memory"])
        assert c.call("CONFIG", "SET", "maxmemory", str(used + 4 * 1024 * 1024)) == ("simple", b"OK")
        for i in range(0, 3000, 50):
            c.pipeline([["SET", f"e:{j}", "x" * 5000] for j in range(i, i + 50)])
        assert int(info(lunar.port, "stats")["evicted_keys"]) > 0
        mem = {k: v for k, v in info(lunar.port, "memory").items() if k in ("used_memory", "maxmemory", "mem_not_counted_for_evict")}
        # No more evictions while the two sides are compared.
        assert c.call("CONFIG", "SET", "maxmemory", "0") == ("simple", b"OK")
        wait_synced(lunar.port, second.port)
        kept = assert_same_data(lunar.port, second.port)
        assert 0 < kept < 3000, mem
        c.close()
    finally:
        if second:
            second.stop()
        lunar.stop()


def test_a_replica_that_stops_reading_does_not_make_the_master_evict_its_data():
    """The replicas' unsent output is left out of maxmemory's figure (INFO mem_not_counted_for_evict),
    as in Redis: otherwise each write's copy for a stuck replica would push other keys out."""
    lunar = start_lunar("--maxmemory-policy", "allkeys-random", "--client-output-buffer-limit", "replica 0 0 0")
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", lunar.port))
        stuck.sendall(b"PSYNC ? -1\r\n")
        wait_until(lambda: info(lunar.port)["connected_slaves"] == "1", "the stuck replica to attach")
        c = Conn(lunar.port)
        used = int(info(lunar.port, "memory")["used_memory"])
        assert c.call("CONFIG", "SET", "maxmemory", str(used + 4 * 1024 * 1024)) == ("simple", b"OK")
        for i in range(0, 2000, 50):
            c.pipeline([["SET", f"s:{j}", "x" * 5000] for j in range(i, i + 50)])
        assert int(info(lunar.port, "memory")["mem_not_counted_for_evict"]) > 2 * 1024 * 1024
        # About the limit's worth of keys is kept (5 KB each, 4 MB), not next to none.
        assert c.call("DBSIZE")[1] > 300
        c.close()
    finally:
        stuck.close()
        lunar.stop()


def test_sync_while_writes_flow(master, replica, m):
    """A full sync and a partial resync in the middle of a steady write load lose nothing."""
    import threading
    m.call("FLUSHALL")
    stop = threading.Event()
    errors = []

    def writer(n):
        c = Conn(master.port)
        try:
            i = 0
            while not stop.is_set() and i < 200000:
                c.pipeline([["INCR", f"ctr{n}"], ["RPUSH", f"log{n}", str(i)], ["SET", f"k{n}:{i % 50}", str(i), "PX", "1000000"],
                            ["SELECT", str(n % 3)], ["HINCRBY", "h", f"f{n}", "1"], ["SELECT", "0"]])
                i += 1
        except Exception as e:   # reported below
            errors.append(e)
        finally:
            c.close()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    second = None
    try:
        time.sleep(0.3)
        second = start_redis("--replicaof", "127.0.0.1", str(master.port))
        wait_link_up(second.port)
        time.sleep(0.3)
        before = int(info(master.port, "stats")["sync_partial_ok"])
        m.call("CLIENT", "KILL", "TYPE", "replica")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    try:
        assert not errors, errors
        wait_synced(master.port, replica.port)
        wait_synced(master.port, second.port)
        assert int(info(master.port, "stats")["sync_partial_ok"]) == before + 2
        n = assert_same_data(master.port, second.port)
        assert n == assert_same_data(master.port, replica.port) and n > 100
    finally:
        second.stop()
        m.call("FLUSHALL")


# MARK: what the stream holds

@pytest.fixture
def raw(master):
    conns = []

    def make(**kw):
        rr = RawReplica(master.port, **kw)
        conns.append(rr)
        return rr
    yield make
    for rr in conns:
        rr.close()


def test_full_resync_header_and_offsets(master, raw, m):
    before = info(master.port)
    r = raw()
    assert r.header.startswith("+FULLRESYNC ")
    assert r.replid == info(master.port)["master_replid"] and len(r.replid) == 40
    assert int(before["master_repl_offset"]) <= r.start_offset <= int(info(master.port)["master_repl_offset"])
    assert r.rdb.startswith(b"REDIS00")
    m.call("SET", "off1", "v")
    m.call("LPUSH", "off2", "a", "b")
    cmds = r.commands(3)
    assert upper(cmds) == [[b"SELECT", b"0"], [b"SET", b"off1", b"v"], [b"LPUSH", b"off2", b"a", b"b"]]
    # Every byte the replica read is counted in master_repl_offset.
    wait_until(lambda: int(info(master.port)["master_repl_offset"]) == r.start_offset + r.consumed,
               "master_repl_offset to equal the bytes streamed", timeout=5)


def test_first_command_after_full_sync_selects_its_database(raw, m):
    m.call("SET", "a", "1")
    r = raw()
    m.call("SET", "b", "2")
    m.call("SELECT", 5)
    m.call("SET", "c", "3")
    m.call("SET", "d", "4")
    m.call("SELECT", 0)
    m.call("SET", "e", "5")
    assert upper(r.commands(7)) == [
        [b"SELECT", b"0"], [b"SET", b"b", b"2"],
        [b"SELECT", b"5"], [b"SET", b"c", b"3"], [b"SET", b"d", b"4"],
        [b"SELECT", b"0"], [b"SET", b"e", b"5"],
    ]
    # A second full sync starts over: its stream selects the database again.
    r2 = raw()
    m.call("SET", "f", "6")
    assert upper(r2.commands(2)) == [[b"SELECT", b"0"], [b"SET", b"f", b"6"]]


def test_script_with_several_writes_arrives_in_multi_exec(raw, m):
    r = raw()
    m.call("EVAL", "redis.call('set', KEYS[1], 'a'); redis.call('incr', KEYS[2]); return 1", 2, "sc1", "sc2")
    m.call("EVAL", "redis.call('set', KEYS[1], 'b'); return 1", 1, "sc3")
    m.call("EVAL", "return redis.call('get', KEYS[1])", 1, "sc3")   # read-only: nothing
    m.call("SET", "sc-end", "1")
    cmds = upper(r.commands(7))
    assert cmds[0][0] == b"SELECT"
    assert cmds[1:] == [
        [b"MULTI"], [b"SET", b"sc1", b"a"], [b"INCR", b"sc2"], [b"EXEC"],
        [b"SET", b"sc3", b"b"],
        [b"SET", b"sc-end", b"1"],
    ]


def test_transaction_arrives_in_multi_exec(raw, m):
    r = raw()
    assert m.call("MULTI") == ("simple", b"OK")
    m.call("SET", "tx1", "1")
    m.call("GET", "tx1")
    m.call("RPUSH", "tx2", "x")
    m.call("EXEC")
    cmds = upper(r.commands(5))
    assert cmds[1:] == [[b"MULTI"], [b"SET", b"tx1", b"1"], [b"RPUSH", b"tx2", b"x"], [b"EXEC"]]


def test_nondeterministic_commands_arrive_rewritten(raw, m):
    m.call("DEL", "dset", "dfl", "dex", "dttl", "dlist")
    m.call("SADD", "dset", "a", "b", "c")
    m.call("SET", "dttl", "x")
    m.call("RPUSH", "dlist", "p", "q")
    r = raw()
    t0 = int(time.time() * 1000)
    popped = m.call("SPOP", "dset")[1]
    m.call("INCRBYFLOAT", "dfl", "1.5")
    m.call("SET", "dex", "v", "EX", "100")
    m.call("EXPIRE", "dttl", "50")
    m.call("BLPOP", "dlist", "0")
    t1 = int(time.time() * 1000)
    cmds = upper(r.commands(6))
    assert cmds[0] == [b"SELECT", b"0"]
    assert cmds[1] == [b"SREM", b"dset", popped]
    assert cmds[2] == [b"SET", b"dfl", b"1.5", b"KEEPTTL"]
    assert cmds[3][:4] == [b"SET", b"dex", b"v", b"PXAT"]
    assert t0 + 100_000 <= int(cmds[3][4]) <= t1 + 100_000
    assert cmds[4][:2] == [b"PEXPIREAT", b"dttl"]
    assert t0 + 50_000 <= int(cmds[4][2]) <= t1 + 50_000
    assert cmds[5] == [b"LPOP", b"dlist"]


def test_old_sync_gets_bulk_without_fullresync(raw, m):
    r = raw(sync=True, capa=False)
    assert r.header is None and r.rdb.startswith(b"REDIS00")
    m.call("SET", "oldsync", "1")
    assert [b"SET", b"oldsync", b"1"] in upper(r.commands(2))


def test_replica_gets_no_replies_and_acks_update_offset(master, raw, m):
    r = raw(listening_port=4242)
    m.call("SET", "ackme", "1")
    r.commands(2)
    off = r.start_offset + r.consumed
    r.send("REPLCONF", "ACK", str(off))
    m.call("SET", "after-ack", "1")
    # The next bytes are the stream, not a reply to REPLCONF ACK.
    assert upper(r.commands(1)) == [[b"SET", b"after-ack", b"1"]]

    def slave_line():
        for k, v in info(master.port).items():
            if k.startswith("slave") and "port=4242," in v:
                return v
    wait_until(lambda: (slave_line() or "").find(f"offset={off},") >= 0, "the ACKed offset in INFO", timeout=5)


def test_ping_keeps_the_link_alive(master, raw, m):
    m.call("CONFIG", "SET", "repl-ping-replica-period", "1")
    try:
        r = raw()
        seen = None
        deadline = time.time() + 5
        while time.time() < deadline and seen is None:
            cmd = r.command(timeout=1.5)
            if cmd and cmd[0].upper() == b"PING":
                seen = cmd
        assert seen == [b"PING"]
    finally:
        m.call("CONFIG", "SET", "repl-ping-replica-period", "10")


# MARK: partial resynchronization

def test_reconnecting_raw_replica_gets_continue_and_the_gap(master, raw, m):
    r = raw()
    m.call("SET", "gap0", "x")
    r.commands(2)
    next_offset = r.start_offset + r.consumed + 1
    replid = r.replid
    r.close()
    m.call("SET", "gap1", "during-disconnect")
    before = info(master.port, "stats")
    r2 = raw(replid=replid, offset=next_offset)
    assert r2.header == f"+CONTINUE {replid}"
    assert [b"SET", b"gap1", b"during-disconnect"] in upper(r2.commands())
    after = info(master.port, "stats")
    assert int(after["sync_partial_ok"]) == int(before["sync_partial_ok"]) + 1
    assert int(after["sync_full"]) == int(before["sync_full"])


def test_continue_without_psync2_capa_has_no_replid(master, raw, m):
    r = raw()
    r.commands()
    nxt = r.start_offset + r.consumed + 1
    r.close()
    r2 = raw(replid=r.replid, offset=nxt, capa=False)
    assert r2.header == "+CONTINUE"


def test_unknown_history_or_offset_gets_full_resync(master, raw, m):
    r = raw()
    r.commands()
    nxt = r.start_offset + r.consumed + 1
    before = int(info(master.port, "stats")["sync_partial_err"])
    assert raw(replid="f" * 40, offset=nxt).header.startswith("+FULLRESYNC")
    assert raw(replid=r.replid, offset=nxt + 1000).header.startswith("+FULLRESYNC")
    assert int(info(master.port, "stats")["sync_partial_err"]) == before + 2


def test_overrun_backlog_forces_full_resync(master, raw, m):
    m.call("CONFIG", "SET", "repl-backlog-size", "16384")
    try:
        r = raw()
        r.commands()
        nxt = r.start_offset + r.consumed + 1
        r.close()
        for i in range(40):
            m.call("SET", f"big{i}", "x" * 1000)
        rep = info(master.port)
        assert int(rep["repl_backlog_histlen"]) <= 16384
        assert int(rep["repl_backlog_first_byte_offset"]) > nxt
        assert raw(replid=r.replid, offset=nxt).header.startswith("+FULLRESYNC")
    finally:
        m.call("CONFIG", "SET", "repl-backlog-size", "1mb")
        for i in range(40):
            m.call("DEL", f"big{i}")


def test_real_replica_reconnects_with_partial_resync(master, replica, m):
    wait_synced(master.port, replica.port)
    before = info(master.port, "stats")
    m.call("CLIENT", "KILL", "TYPE", "replica")
    m.call("SET", "written-while-away", "1")
    wait_synced(master.port, replica.port)
    after = info(master.port, "stats")
    assert int(after["sync_partial_ok"]) == int(before["sync_partial_ok"]) + 1
    assert int(after["sync_full"]) == int(before["sync_full"])
    assert "Successful partial resynchronization with master" in replica.log_text()
    rc = Conn(replica.port)
    try:
        assert rc.call("GET", "written-while-away") == ("bulk", b"1")
    finally:
        rc.close()


# MARK: WAIT, ROLE, INFO, CLIENT LIST

def test_wait_counts_acknowledging_replicas(master, replica, m):
    wait_replicas(master.port, 1)
    m.call("SET", "waited", "1")
    t = time.time()
    assert m.call("WAIT", 1, 5000) == ("int", 1)
    assert time.time() - t < 4
    t = time.time()
    assert m.call("WAIT", 2, 300) == ("int", 1)
    assert time.time() - t >= 0.25
    assert m.call("WAIT", 0, 0) == ("int", 1)
    # Pipelined: each WAIT is answered once the replica has the writes before it.
    replies = m.pipeline([["SET", "w1", "1"], ["WAIT", 1, 5000], ["INCR", "w2"], ["WAIT", 1, 5000], ["GET", "w2"]])
    assert replies == [("simple", b"OK"), ("int", 1), ("int", 1), ("int", 1), ("bulk", b"1")]
    # In MULTI WAIT cannot block: it answers at once.
    m.call("MULTI")
    m.call("WAIT", 5, 0)
    assert m.call("EXEC") == ("array", [("int", 1)])


def test_wait_with_a_replica_that_never_acks(master, replica, raw, m):
    wait_replicas(master.port, 1)
    r = raw()
    wait_replicas(master.port, 2)
    m.call("SET", "wait2", "1")
    t = time.time()
    assert m.call("WAIT", 2, 400) == ("int", 1)
    assert time.time() - t >= 0.35
    # The replica was asked for an ACK in the stream.
    assert [b"REPLCONF", b"GETACK", b"*"] in r.commands(skip_control=False)


def test_wait_timeout_unblocked_by_client_unblock(master, replica, m):
    wait_replicas(master.port, 1)
    other = Conn(master.port)
    try:
        m.call("SET", "wu", "1")
        assert m.call("WAIT", 1, 5000) == ("int", 1)
        cid = m.call("CLIENT", "ID")[1]
        other.call("CLIENT", "ID")
        m.send_raw(Conn.encode(["WAIT", "3", "0"]))
        wait_until(lambda: other.call("CLIENT", "UNBLOCK", cid) == ("int", 1), "WAIT to block", timeout=5)
        assert m.read() == ("int", 1)
    finally:
        other.close()


def test_role_and_info_with_replica(master, replica, m):
    wait_replicas(master.port, 1)
    wait_synced(master.port, replica.port)
    rep = info(master.port)
    assert rep["role"] == "master"
    assert rep["connected_slaves"] == "1"
    line = rep["slave0"]
    fields = dict(kv.split("=") for kv in line.split(","))
    assert fields["ip"] == "127.0.0.1" and fields["port"] == str(replica.port)
    assert fields["state"] == "online" and int(fields["lag"]) <= 2
    assert rep["repl_backlog_active"] == "1"
    assert rep["repl_backlog_size"] == "1048576"
    assert rep["second_repl_offset"] == "-1"
    assert rep["master_replid2"] == "0" * 40
    assert int(rep["repl_backlog_first_byte_offset"]) >= 1
    assert int(rep["repl_backlog_histlen"]) <= 1048576
    rinfo = info(replica.port)
    assert rinfo["master_replid"] == rep["master_replid"]
    assert rinfo["master_port"] == str(master.port)
    role = m.call("ROLE")
    assert role[1][0] == ("bulk", b"master")
    assert role[1][1][0] == "int" and role[1][1][1] >= int(fields["offset"])
    assert role[1][2] == ("array", [("array", [("bulk", b"127.0.0.1"), ("bulk", str(replica.port).encode()),
                                               role[1][2][1][0][1][2]])])
    assert int(role[1][2][1][0][1][2][1]) <= role[1][1][1]


def test_client_list_marks_replicas(master, replica, m):
    wait_replicas(master.port, 1)
    # After its first REPLCONF ACK (sent every second) the replica's last command is replconf.
    lines = wait_until(lambda: [l for l in m.call("CLIENT", "LIST", "TYPE", "replica")[1].decode().strip().splitlines()
                                if " cmd=replconf " in l], "the replica to ACK", timeout=5)
    assert len(lines) == 1 and " flags=S " in lines[0]
    normal = m.call("CLIENT", "LIST", "TYPE", "normal")[1].decode().strip().splitlines()
    assert all(" flags=S " not in l for l in normal)
    clients = m.call("INFO", "clients")[1].decode()
    assert f"connected_clients:{len(normal)}\r\n" in clients


def test_replication_traffic_counted_apart(master, raw, m):
    before = info(master.port, "stats")
    r = raw()
    m.call("SET", "traffic", "x" * 5000)
    r.commands(2)
    after = info(master.port, "stats")
    grew = int(after["total_net_repl_output_bytes"]) - int(before["total_net_repl_output_bytes"])
    assert grew >= len(r.rdb) + 5000
    assert int(after["sync_full"]) == int(before["sync_full"]) + 1
    assert m.call("CONFIG", "RESETSTAT") == ("simple", b"OK")
    reset = info(master.port, "stats")
    assert reset["sync_full"] == "0" and reset["sync_partial_ok"] == "0"


def test_publish_reaches_subscribers_of_the_replica(master, replica, m):
    wait_replicas(master.port, 1)
    sub = Conn(replica.port)
    try:
        assert sub.call("SUBSCRIBE", "news")[1][0] == ("bulk", b"subscribe")
        assert m.call("PUBLISH", "news", "hello") == ("int", 0)   # nobody listens on Lunar itself
        sub.sock.settimeout(10)
        assert sub.read() == ("array", [("bulk", b"message"), ("bulk", b"news"), ("bulk", b"hello")])
    finally:
        sub.close()


def test_redis_cli_replica_mode(master, m):
    cli = shutil.which("redis-cli")
    if not cli:
        pytest.skip("redis-cli not installed")
    p = subprocess.Popen([cli, "-p", str(master.port), "--replica"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: any(" cmd=sync " in l for l in
                               m.call("CLIENT", "LIST", "TYPE", "replica")[1].decode().splitlines()),
                   "redis-cli to attach", timeout=10)
        m.call("SELECT", 3)
        m.call("SET", "clikey", "v")
        m.call("EVAL", "redis.call('set', KEYS[1], '1'); redis.call('set', KEYS[2], '2')", 2, "c1", "c2")
        m.call("SELECT", 0)
        time.sleep(0.5)
    finally:
        p.terminate()
        out = p.communicate(timeout=10)[0].decode()
    assert "SYNC done. Logging commands from master." in out, out
    lines = out.splitlines()
    assert '"SET","clikey","v"' in lines, out
    i = lines.index('"SET","clikey","v"')
    assert lines[i - 1] == '"SELECT","3"'
    assert lines[i + 1:i + 5] == ['"MULTI"', '"set","c1","1"', '"set","c2","2"', '"EXEC"']


def _check_rdb(path):
    exe = shutil.which("redis-check-rdb")
    if not exe:
        pytest.skip("redis-check-rdb not installed")
    out = subprocess.run([exe, path], capture_output=True, text=True, timeout=30).stdout
    assert "RDB looks OK" in out, out
    return out


def test_redis_cli_rdb_and_functions_rdb(master, m, tmp_path):
    cli = shutil.which("redis-cli")
    if not cli:
        pytest.skip("redis-cli not installed")
    m.call("FLUSHALL")
    m.call("FUNCTION", "LOAD", "REPLACE", LIB)
    for db in (0, 4):
        m.call("SELECT", db)
        m.call("MSET", f"a{db}", "1", f"b{db}", "2", f"c{db}", "3")
    m.call("SELECT", 0)
    replicas = replica_count(master.port)
    full = str(tmp_path / "full.rdb")
    subprocess.run([cli, "-p", str(master.port), "--rdb", full], check=True, capture_output=True, timeout=30)
    assert "6 keys read" in _check_rdb(full)
    funcs = str(tmp_path / "functions.rdb")
    subprocess.run([cli, "-p", str(master.port), "--functions-rdb", funcs], check=True, capture_output=True,
                   timeout=30)
    assert "0 keys read" in _check_rdb(funcs)
    # The rdb-only connections closed after their snapshot; the replica count is back.
    wait_replicas(master.port, replicas)
    # Both files load into a real redis-server.
    for name, keys in (("full.rdb", 6), ("functions.rdb", 0)):
        s = start_redis("--dir", str(tmp_path), "--dbfilename", name)
        try:
            c = Conn(s.port)
            try:
                assert int(c.call("INFO", "keyspace")[1].decode().count("keys=")) == (2 if keys else 0)
                assert c.call("FCALL", "repl_lib_answer", 0) == ("int", 42)
            finally:
                c.close()
        finally:
            s.stop()
    m.call("FLUSHALL")


def test_shutdown_hands_replicas_the_whole_stream():
    """Writes run right before SHUTDOWN reach the replica: the stream is flushed before exiting."""
    lunar = start_lunar()
    rep = None
    try:
        rep = start_redis("--replicaof", "127.0.0.1", str(lunar.port))
        wait_link_up(rep.port)
        c = Conn(lunar.port)
        cmds = [["SET", f"last{i}", "y" * 20000] for i in range(200)] + [["RPUSH", "tail", "end"]]
        # One batch: the writes run, then SHUTDOWN exits before their replies are even flushed.
        c.send_raw(b"".join(Conn.encode(x) for x in cmds) + Conn.encode(["SHUTDOWN", "NOSAVE"]))
        lunar.proc.wait(20)
        c.close()
        rc = Conn(rep.port)
        try:
            # The replica may still be applying what it received when Lunar exited.
            wait_until(lambda: rc.call("DBSIZE") == ("int", 201), "the replica to have every key", timeout=10)
            assert rc.call("LRANGE", "tail", 0, -1) == ("array", [("bulk", b"end")])
        finally:
            rc.close()
    finally:
        if rep:
            rep.stop()
        lunar.stop()


@pytest.mark.parametrize("timeout,args,least,most", [("1", ["NOSAVE"], 0.8, 5.0), ("30", ["NOSAVE", "NOW"], 0.0, 3.0)])
def test_shutdown_waits_for_a_stalled_replica_at_most_shutdown_timeout(timeout, args, least, most):
    """A replica that stops reading holds SHUTDOWN for `shutdown-timeout` seconds; SHUTDOWN NOW
    does not wait."""
    lunar = start_lunar()
    rep = None
    try:
        rep = start_redis("--replicaof", "127.0.0.1", str(lunar.port))
        wait_link_up(rep.port)
        c = Conn(lunar.port)
        assert c.call("CONFIG", "SET", "shutdown-timeout", timeout) == ("simple", b"OK")
        os.kill(rep.proc.pid, signal.SIGSTOP)
        try:
            # 40 MB the stopped replica's socket cannot take.
            c.pipeline([["SET", f"big{i}", "z" * 200000] for i in range(200)])
            start = time.time()
            c.send_raw(Conn.encode(["SHUTDOWN"] + args))
            lunar.proc.wait(40)
            took = time.time() - start
            assert least <= took < most, took
        finally:
            os.kill(rep.proc.pid, signal.SIGCONT)
        c.close()
    finally:
        if rep:
            rep.stop()
        lunar.stop()


# MARK: against the reference (no replicas attached)

def test_replication_commands_match_redis_without_replicas(lunar_server, redis_server):
    cases = [
        ["REPLCONF"], ["REPLCONF", "foo"], ["REPLCONF", "foo", "bar"],
        ["REPLCONF", "listening-port", "abc"], ["REPLCONF", "listening-port", "6380"],
        ["REPLCONF", "ip-address", "10.0.0.1"], ["REPLCONF", "ip-address", "x" * 300],
        ["REPLCONF", "capa", "foo", "capa", "eof", "capa", "psync2"],
        ["REPLCONF", "rdb-only", "2"], ["REPLCONF", "rdb-only", "abc"], ["REPLCONF", "rdb-only", "0"],
        ["REPLCONF", "rdb-filter-only", ""], ["REPLCONF", "rdb-filter-only", "functions"],
        ["REPLCONF", "rdb-filter-only", "foo"], ["REPLCONF", "rdb-filter-only", '"open'],
        ["REPLCONF", "listening-port", "5", "foo", "bar"],
        ["PSYNC", "?", "abc"], ["PSYNC", "?"], ["SYNC", "extra"],
        ["WAIT"], ["WAIT", "abc", "0"], ["WAIT", "1", "abc"], ["WAIT", "1", "-1"], ["WAIT", "1", "1.5"],
        ["WAIT", "0", "0"], ["WAIT", "-1", "0"], ["WAIT", "1", "10"],
        ["ROLE"], ["ROLE", "x"],
        ["CONFIG", "GET", "repl-*"],
    ]
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    try:
        for cmd in cases:
            # REPLCONF ACK/GETACK never reply: PING shows the next reply is the PING's.
            x = a.pipeline([cmd, ["PING"]])
            y = b.pipeline([cmd, ["PING"]])
            if cmd[:3] == ["CONFIG", "GET", "repl-*"]:
                lx = [v[1] for v in x[0][1]]
                ly = dict(zip([v[1] for v in y[0][1]][::2], [v[1] for v in y[0][1]][1::2]))
                for k, v in zip(lx[::2], lx[1::2]):
                    assert ly.get(k) == v, k
                continue
            assert x == y, f"{cmd!r}: lunar {x!r} != redis {y!r}"
        for cmd in (["REPLCONF", "ACK", "10"], ["REPLCONF", "GETACK", "*"], ["REPLCONF", "ack", "abc"]):
            for c in (a, b):
                c.send_raw(Conn.encode(cmd) + Conn.encode(["PING"]))
                assert c.read() == ("simple", b"PONG"), cmd
        for cmd in (["MULTI"], ["PSYNC", "?", "-1"], ["SYNC"], ["WAIT", "1", "0"], ["EXEC"]):
            assert a.call(*cmd) == b.call(*cmd), cmd
        assert a.pipeline([["PING"], ["SYNC"]]) == b.pipeline([["PING"], ["SYNC"]])
        assert a.call("EVAL", "return redis.call('wait', 0, 0)", 0) == b.call("EVAL", "return redis.call('wait', 0, 0)", 0)
        for cmd in (["CONFIG", "SET", "repl-backlog-size", "1"], ["CONFIG", "GET", "repl-backlog-size"],
                    ["CONFIG", "SET", "repl-backlog-size", "2mb"], ["CONFIG", "GET", "repl-backlog-size"],
                    ["CONFIG", "SET", "repl-backlog-size", "1048576"],
                    ["CONFIG", "SET", "repl-ping-slave-period", "0"], ["CONFIG", "SET", "repl-timeout", "0"]):
            assert a.call(*cmd) == b.call(*cmd), cmd
    finally:
        a.close()
        b.close()


def test_min_replicas_to_write_matches_redis_without_replicas(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    lib = ("#!lua name=minrep\n"
           "redis.register_function('minrep_w', function(keys) return redis.call('set', keys[1], 'f') end)\n"
           "redis.register_function{function_name='minrep_r', callback=function(keys) "
           "return redis.call('get', keys[1]) end, flags={'no-writes'}}")
    try:
        for c in (a, b):
            c.call("FLUSHALL")
            c.call("FUNCTION", "LOAD", "REPLACE", lib)
        cases = [
            ["CONFIG", "SET", "min-replicas-to-write", "1"],
            ["SET", "a", "1"], ["GET", "a"], ["PING"], ["INCR", "n"], ["DEL", "a"],
            ["MULTI"], ["SET", "a", "2"], ["GET", "a"], ["EXEC"],
            ["MULTI"], ["GET", "a"], ["EXEC"],
            ["EVAL", "return redis.call('set', KEYS[1], '1')", "1", "a"],
            ["EVAL", "return redis.call('get', KEYS[1])", "1", "a"],
            ["EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "a"],
            ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "a"],
            ["FCALL", "minrep_w", "1", "a"], ["FCALL", "minrep_r", "1", "a"], ["FCALL_RO", "minrep_r", "1", "a"],
            ["CONFIG", "SET", "min-replicas-max-lag", "0"], ["SET", "a", "3"],
            ["CONFIG", "SET", "min-replicas-max-lag", "10"], ["SET", "a", "4"],
            ["CONFIG", "SET", "min-replicas-to-write", "0"], ["SET", "a", "5"], ["GET", "a"],
        ]
        for cmd in cases:
            x, y = a.call(*cmd), b.call(*cmd)
            assert x == y, f"{cmd!r}: lunar {x!r} != redis {y!r}"
        a.call("CONFIG", "SET", "min-replicas-to-write", "1")
        b.call("CONFIG", "SET", "min-replicas-to-write", "1")
        # The old names are aliases (Redis lists them in hash-table order: compare as pairs).
        x, y = a.call("CONFIG", "GET", "min-slaves-*")[1], b.call("CONFIG", "GET", "min-slaves-*")[1]
        assert sorted(zip(x[::2], x[1::2])) == sorted(zip(y[::2], y[1::2]))
        assert info(lunar_server.port)["min_slaves_good_slaves"] == info(redis_server.port)["min_slaves_good_slaves"] == "0"
    finally:
        for c in (a, b):
            c.call("CONFIG", "SET", "min-replicas-to-write", "0")
            c.call("CONFIG", "SET", "min-replicas-max-lag", "10")
            c.call("FUNCTION", "DELETE", "minrep")
            c.close()
    assert "min_slaves_good_slaves" not in info(lunar_server.port)


def test_min_replicas_to_write_is_ignored_by_replicas():
    # A replica with min-replicas-to-write set (and no replicas of its own) still applies its
    # master's writes, and its own clients' writes are refused only for being on a replica.
    master = start_lunar()
    reps = []
    try:
        reps = [start_lunar("--replicaof", "127.0.0.1", str(master.port)),
                start_redis("--replicaof", "127.0.0.1", str(master.port))]
        for r in reps:
            wait_link_up(r.port)
            c = Conn(r.port)
            c.call("CONFIG", "SET", "min-replicas-to-write", "1")
            c.call("CONFIG", "SET", "min-replicas-max-lag", "10")
            c.close()
        m = Conn(master.port)
        assert m.call("SET", "minrep-ignored", "v") == ("simple", b"OK")
        for r in reps:
            wait_until(lambda: Conn(r.port).call("GET", "minrep-ignored") == ("bulk", b"v"), "the write on the replica")
        a, b = Conn(reps[0].port), Conn(reps[1].port)
        for cmd in (["SET", "x", "1"], ["CONFIG", "SET", "replica-read-only", "no"], ["SET", "x", "1"], ["GET", "x"]):
            assert a.call(*cmd) == b.call(*cmd), cmd
    finally:
        for s in reps + [master]:
            s.stop()


def test_min_replicas_to_write_counts_the_real_replica(master, replica, m):
    wait_replicas(master.port, 1)
    try:
        assert m.call("CONFIG", "SET", "min-replicas-to-write", "1") == ("simple", b"OK")
        assert m.call("SET", "minrep", "1") == ("simple", b"OK")
        assert info(master.port)["min_slaves_good_slaves"] == "1"
        m.call("CONFIG", "SET", "min-replicas-to-write", "2")
        assert m.call("SET", "minrep", "2") == ("err", b"NOREPLICAS Not enough good replicas to write.")
    finally:
        m.call("CONFIG", "SET", "min-replicas-to-write", "0")
    assert m.call("SET", "minrep", "3") == ("simple", b"OK")


def test_info_replication_fields_match_redis_without_replicas(lunar_server, redis_server):
    x, y = info(lunar_server.port), info(redis_server.port)
    assert list(x) == list(y)
    for k in ("role", "connected_slaves", "master_failover_state", "master_replid2", "master_repl_offset",
              "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
              "repl_backlog_first_byte_offset", "repl_backlog_histlen"):
        assert x[k] == y[k], k
    assert len(x["master_replid"]) == 40
