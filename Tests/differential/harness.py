"""Differential testing: the same generated command sequence runs against Lunar and a real
redis-server 7.0, and every reply is compared.

A family module (families/*.py) defines `generate(rng)` yielding `Cmd`s forever; the harness takes
as many as it is asked for. Each Cmd says how its reply is compared:

  exact      byte-for-byte equal reply (type and value)
  unordered  arrays compared as multisets (SMEMBERS, KEYS, HKEYS on hash tables…)
  pairs      flat [k1, v1, k2, v2…] arrays compared as multisets of pairs (HGETALL)
  shape      only the reply type and, for arrays, the length (random commands)
  ttl        integers equal within a tolerance (TTL, PTTL: the servers run a few ms apart)
  any        not compared (but must not be a protocol failure)

After a command with random effects (SPOP, SRANDMEMBER…), `resync` names keys whose value is
copied from Lunar to Redis so the two stay comparable.
A Cmd whose args are ("__sleep__", ms) pauses both sides.

At the end of a run the whole datasets are compared too, with DEBUG DIGEST (Lunar computes Redis's
digest): a write whose reply matched but whose effect differed shows up there.
"""
import os
import random
import time

from support.resp import Conn


class Cmd:
    __slots__ = ("args", "mode", "resync", "tolerance")

    def __init__(self, *args, mode="exact", resync=(), tolerance=2):
        self.args = [a if isinstance(a, (bytes, str)) else str(a) for a in args]
        self.mode = mode
        self.resync = tuple(resync)
        self.tolerance = tolerance

    def __repr__(self):
        return " ".join(repr(a) if isinstance(a, bytes) else str(a) for a in self.args)


def sleep(ms):
    return Cmd("__sleep__", str(ms), mode="any")


def _sort_key(v):
    return repr(v)


def normalize(reply, mode):
    if mode == "unordered":
        return _unordered(reply)
    if mode == "pairs":
        if reply[0] == "array":
            items = reply[1]
            pairs = sorted([(repr(items[i]), repr(items[i + 1])) for i in range(0, len(items) - 1, 2)])
            return ("pairs", pairs)
        if reply[0] == "map":
            return ("pairs", sorted((repr(k), repr(v)) for k, v in reply[1]))
        return reply
    if mode == "shape":
        if reply[0] in ("array", "set", "map", "push"):
            return (reply[0], len(reply[1]))
        if reply[0] == "err":
            return reply
        return (reply[0],)
    return reply


def _unordered(reply):
    if reply[0] in ("array", "set", "push"):
        return (reply[0], sorted((_unordered(x) for x in reply[1]), key=_sort_key))
    return reply


def close_enough(a, b, mode, tol):
    if mode == "any":
        return True
    if mode == "ttl":
        if a[0] == "int" and b[0] == "int":
            if a[1] < 0 or b[1] < 0:
                return a == b
            return abs(a[1] - b[1]) <= tol
        return a == b
    return normalize(a, mode) == normalize(b, mode)


def copy_key(src, dst, key):
    """Makes `key` on dst equal to `key` on src (used after commands with random effects)."""
    dst.call("DEL", key)
    t = src.call("TYPE", key)[1]
    if t == b"none":
        return
    if t == b"string":
        dst.call("SET", key, src.call("GET", key)[1])
    elif t == b"list":
        items = [x[1] for x in src.call("LRANGE", key, 0, -1)[1]]
        dst.call("RPUSH", key, *items)
    elif t == b"set":
        items = [x[1] for x in src.call("SMEMBERS", key)[1]]
        dst.call("SADD", key, *items)
    elif t == b"hash":
        items = [x[1] for x in src.call("HGETALL", key)[1]]
        dst.call("HSET", key, *items)
    elif t == b"zset":
        items = [x[1] for x in src.call("ZRANGE", key, 0, -1, "WITHSCORES")[1]]
        args = []
        for i in range(0, len(items), 2):
            args += [items[i + 1], items[i]]
        dst.call("ZADD", key, *args)
    pttl = src.call("PTTL", key)[1]
    if pttl > 0:
        dst.call("PEXPIRE", key, pttl)


def run_family(module, lunar_port, redis_port, seed=None, count=None, batch=64):
    seed = int(os.environ.get("DIFF_SEED", "20261125")) if seed is None else seed
    count = int(os.environ.get("DIFF_COMMANDS", "3000")) if count is None else count
    rng = random.Random(f"{seed}-{module.__name__}")
    lunar, ref = Conn(lunar_port), Conn(redis_port)
    for c in (lunar, ref):
        c.call("FLUSHALL")
        c.call("SELECT", "0")
    history = []
    gen = module.generate(rng)
    done = 0
    try:
        while done < count:
            chunk = []
            while len(chunk) < batch and done < count:
                cmd = next(gen)
                done += 1
                if cmd.args[0] == "__sleep__" or cmd.resync:
                    if chunk:
                        _run_chunk(chunk, lunar, ref, history)
                        chunk = []
                    if cmd.args[0] == "__sleep__":
                        time.sleep(int(cmd.args[1]) / 1000)
                        history.append(cmd)
                    else:
                        _run_chunk([cmd], lunar, ref, history)
                        for k in cmd.resync:
                            copy_key(lunar, ref, k)
                    continue
                chunk.append(cmd)
            if chunk:
                _run_chunk(chunk, lunar, ref, history)
    finally:
        lunar.close()
        ref.close()
    compare_datasets(lunar_port, redis_port, history, skip=getattr(module, "UNCOMPARED_KEYS", ()))
    return done


DATABASES = 16


def _sweep_expired(conn):
    """SCAN every database: both servers delete the keys that have logically expired, so keys whose
    deadline passed between one server's active expiry and the other's do not count."""
    for db in range(DATABASES):
        conn.call("SELECT", db)
        cursor = b"0"
        while True:
            reply = conn.call("SCAN", cursor, "COUNT", 1000)[1]
            cursor = reply[0][1]
            if cursor == b"0":
                break
    conn.call("SELECT", 0)


def compare_datasets(lunar_port, redis_port, history=(), skip=()):
    """Asserts DEBUG DIGEST is equal on both servers (a few tries: a key may expire in between);
    on a difference, names the keys whose DEBUG DIGEST-VALUE differs. Keys in `skip` (a family's
    UNCOMPARED_KEYS, whose contents legitimately differ) are deleted first."""
    lunar, ref = Conn(lunar_port), Conn(redis_port)
    try:
        if skip:
            for c in (lunar, ref):
                for db in range(DATABASES):
                    c.call("SELECT", db)
                    c.call("DEL", *skip)
        for attempt in range(3):
            for c in (lunar, ref):
                _sweep_expired(c)
            a, b = lunar.call("DEBUG", "DIGEST"), ref.call("DEBUG", "DIGEST")
            if a == b:
                return
            time.sleep(0.05)
        diffs = []
        for db in range(DATABASES):
            for c in (lunar, ref):
                c.call("SELECT", db)
            keys = sorted({k[1] for c in (lunar, ref) for k in c.call("KEYS", "*")[1]})
            if not keys:
                continue
            da, db_ = lunar.call("DEBUG", "DIGEST-VALUE", *keys)[1], ref.call("DEBUG", "DIGEST-VALUE", *keys)[1]
            for k, x, y in zip(keys, da, db_):
                if x != y:
                    diffs.append(f"db {db} key {k!r}: lunar {_describe(lunar, k)} redis {_describe(ref, k)}")
        recent = "\n".join(f"  {h!r}" for h in list(history)[-25:])
        raise AssertionError("datasets differ after the run (DEBUG DIGEST):\n  " + "\n  ".join(diffs[:10])
                             + f"\nlast commands:\n{recent}")
    finally:
        lunar.close()
        ref.close()


def _describe(conn, key):
    t = conn.call("TYPE", key)[1]
    read = {b"string": ["GET"], b"list": ["LRANGE", 0, -1], b"set": ["SMEMBERS"], b"hash": ["HGETALL"],
            b"zset": ["ZRANGE", 0, -1, "WITHSCORES"], b"stream": ["XRANGE", "-", "+"]}.get(t)
    value = conn.call(read[0], key, *read[1:]) if read else None
    return f"{t.decode()} {value!r} pttl {conn.call('PTTL', key)[1]}"


def _run_chunk(chunk, lunar, ref, history):
    a = lunar.pipeline([c.args for c in chunk])
    b = ref.pipeline([c.args for c in chunk])
    for cmd, x, y in zip(chunk, a, b):
        history.append(cmd)
        if not close_enough(x, y, cmd.mode, cmd.tolerance):
            recent = "\n".join(f"  {h!r}" for h in history[-25:])
            raise AssertionError(
                f"reply mismatch for {cmd!r} (mode {cmd.mode})\n  lunar: {x!r}\n  redis: {y!r}\n"
                f"last commands:\n{recent}")
