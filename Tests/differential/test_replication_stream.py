"""The replication stream compared with redis-server 7.0: a raw replica (support.raw_replica) is
attached to each server, the same generated command sequence runs on both, and the commands the
two masters send must be equal, argument for argument.

The sequences favour the commands Redis rewrites before propagating them: relative and absolute
expiries (SET EX/PX/EXAT/PXAT, SETEX, GETEX, EXPIRE and its flags, RESTORE with a TTL), GETDEL,
INCRBYFLOAT/HINCRBYFLOAT, blocking pops and moves served at once or timing out, LMPOP/ZMPOP,
stream IDs and trimming, consumer groups (XREADGROUP, XAUTOCLAIM, NOACK), scripts and MULTI/EXEC.
Option names and command names come in mixed case, as clients send them.

Normalized before comparing: Unix times in ms or s (the servers run a moment apart) and stream IDs
made from them. Left out: commands whose effect is random (SPOP of part of a set, SRANDMEMBER).
Lunar sends SPOP's removals as one SREM where Redis 7.0 sends one SREM per member in MULTI/EXEC;
this test only pops whole sets (both send DEL).

DIFF_SEED and DIFF_COMMANDS as in the other differential tests.
"""
import os
import random
import re
import time

import pytest

from support.raw_replica import RawReplica
from support.resp import Conn

STRINGS = ["s0", "s1", "s2"]
LISTS = ["l0", "l1"]


def mixed(rng, word):
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)


def generate(rng, now_s):
    """Yields commands (lists of str); ("DUMPRESTORE", src, dst, ttl, absttl) is done per server."""
    opt = lambda w: mixed(rng, w)  # noqa: E731
    secs = lambda: str(rng.randint(10, 100_000))  # noqa: E731

    def expiry(form):
        """An expiry option with its value: EX/PX relative, EXAT/PXAT absolute, all in the future."""
        n = int(secs())
        value = {"ex": n, "px": n * 1000, "exat": now_s + n, "pxat": (now_s + n) * 1000}[form]
        return [opt(form), str(value)]

    while True:
        k = rng.choice(STRINGS)
        pick = rng.randrange(40)
        if pick < 6:
            cmd = [opt("set"), k, f"v{rng.randrange(5)}"]
            cond = rng.choice([None, None, "nx", "xx"])
            if cond:
                cmd.append(opt(cond))
            if rng.random() < 0.3:
                cmd.append(opt("get"))
            ttl = rng.choice([None, "ex", "px", "exat", "pxat", "keepttl"])
            if ttl == "keepttl":
                cmd.append(opt("keepttl"))
            elif ttl:
                cmd += expiry(ttl)
            yield cmd
        elif pick == 6:
            yield [opt("setex"), k, secs(), "v"]
        elif pick == 7:
            yield [opt("psetex"), k, str(int(secs()) * 1000), "v"]
        elif pick < 10:
            form = rng.choice(["ex", "px", "exat", "pxat", "persist", None, "past"])
            cmd = [opt("getex"), k]
            if form in ("ex", "px", "exat", "pxat"):
                cmd += expiry(form)
            elif form == "persist":
                cmd.append(opt("persist"))
            elif form == "past":
                cmd += [opt("exat"), str(now_s - 100)]
            yield cmd
        elif pick == 10:
            yield [opt("getdel"), k]
        elif pick < 14:
            name = rng.choice(["expire", "pexpire", "expireat", "pexpireat"])
            when = {"expire": secs(), "pexpire": str(int(secs()) * 1000),
                    "expireat": str(now_s + int(secs())), "pexpireat": str((now_s + int(secs())) * 1000)}[name]
            if rng.random() < 0.1:
                when = "-5"
            cmd = [opt(name), k, when]
            if rng.random() < 0.5:
                cmd.append(opt(rng.choice(["nx", "xx", "gt", "lt"])))
            yield cmd
        elif pick == 14:
            yield [opt("persist"), k]
        elif pick == 15:
            yield [opt("incrbyfloat"), "f0", rng.choice(["1.5", "-2", "3e2", "0.1"])]
        elif pick == 16:
            yield [opt("hincrbyfloat"), "h0", rng.choice(["a", "b"]), rng.choice(["1.5", "-2", "2.5e3"])]
        elif pick < 20:
            yield [opt("rpush"), rng.choice(LISTS)] + [f"e{rng.randrange(9)}" for _ in range(rng.randint(1, 3))]
        elif pick < 23:
            src, dst = rng.choice(LISTS), rng.choice(LISTS)
            kind = rng.randrange(5)
            if kind == 0:
                yield [opt(rng.choice(["blpop", "brpop"])), src, "0.01"]
            elif kind == 1:
                yield [opt("blmove"), src, dst, opt(rng.choice(["left", "right"])), opt(rng.choice(["left", "right"])), "0.01"]
            elif kind == 2:
                yield [opt("brpoplpush"), src, dst, "0.01"]
            elif kind == 3:
                yield [opt("lmpop"), "2", src, dst, opt(rng.choice(["left", "right"])), opt("count"), str(rng.randint(1, 3))]
            else:
                yield [opt("blmpop"), "0.01", "1", src, opt(rng.choice(["left", "right"]))]
        elif pick < 25:
            yield [opt("zadd"), "z0"] + [x for i in range(rng.randint(1, 3)) for x in (str(rng.randrange(9)), f"m{rng.randrange(9)}")]
        elif pick == 25:
            kind = rng.randrange(4)
            if kind == 0:
                yield [opt(rng.choice(["bzpopmin", "bzpopmax"])), "z0", "0.01"]
            elif kind == 1:
                yield [opt("zmpop"), "1", "z0", opt(rng.choice(["min", "max"])), opt("count"), str(rng.randint(1, 3))]
            elif kind == 2:
                yield [opt("bzmpop"), "0.01", "1", "z0", opt(rng.choice(["min", "max"]))]
            else:
                yield [opt("zincrby"), "z0", "1.5", f"m{rng.randrange(9)}"]
        elif pick == 26:
            yield [opt("sadd"), "set0"] + [f"m{rng.randrange(6)}" for _ in range(rng.randint(1, 3))]
        elif pick == 27:
            yield [opt("spop"), "set0", "100"]
        elif pick < 31:
            kind = rng.randrange(8)
            if kind == 0:
                trim = rng.choice([[], [opt("maxlen"), "~", "3"], [opt("maxlen"), "2"], [opt("minid"), "0"]])
                yield [opt("xadd"), "x0"] + trim + ["*", "f", str(rng.randrange(9))]
            elif kind == 1:
                yield [opt("xgroup"), opt("create"), "x0", "g", "0", opt("mkstream")]
            elif kind == 2:
                cmd = [opt("xreadgroup"), opt("group"), "g", f"c{rng.randrange(3)}", opt("count"), str(rng.randint(1, 3))]
                if rng.random() < 0.4:
                    cmd.append(opt("noack"))
                yield cmd + [opt("streams"), "x0", ">"]
            elif kind == 3:
                yield [opt("xautoclaim"), "x0", "g", f"c{rng.randrange(3)}", "0", "0", opt("count"), "2"]
            elif kind == 4:
                yield [opt("xgroup"), opt(rng.choice(["createconsumer", "delconsumer"])), "x0", "g", f"c{rng.randrange(4)}"]
            elif kind == 5:
                yield [opt("xtrim"), "x0", opt("maxlen"), rng.choice(["~", "="]), str(rng.randint(0, 4))]
            elif kind == 6:
                yield [opt("xgroup"), opt("setid"), "x0", "g", rng.choice(["0", "$"])]
            else:
                yield [opt("xreadgroup"), opt("group"), "g", "c9", opt("block"), "10", opt("streams"), "x0", ">"]
        elif pick == 31:
            yield ["DUMPRESTORE", k, rng.choice(STRINGS), rng.choice(["0", secs() + "000", "abs"])]
        elif pick == 32:
            yield [opt("eval"), "redis.call('set', KEYS[1], ARGV[1], 'EX', 100) redis.call('incrbyfloat', KEYS[2], 1) "
                   "return redis.call('getdel', KEYS[1])", "2", k, "f0", "sv"]
        elif pick == 33:
            yield [opt("eval"), "return redis.call('expire', KEYS[1], 50)", "1", k]
        elif pick == 34:
            yield [opt("multi")]
            yield [opt("set"), k, "m", opt("px"), "50000"]
            yield [opt("getex"), k, opt("ex"), "70"]
            yield [opt("exec")]
        elif pick == 35:
            yield [opt(rng.choice(["del", "unlink"])), k, rng.choice(STRINGS)]
        elif pick == 36:
            yield [opt("copy"), k, rng.choice(STRINGS), opt("replace")]
        elif pick == 37:
            yield [opt("append"), k, "z"]
        elif pick == 38:
            yield [opt("move"), k, "1"]
        else:
            yield [opt("select"), rng.choice(["0", "0", "1"])]


TIME_MS = re.compile(rb"^1[0-9]{12}$")
TIME_S = re.compile(rb"^1[0-9]{9}$")
STREAM_ID = re.compile(rb"^1[0-9]{12}-[0-9]+$")


def normalize(cmds):
    out = []
    for cmd in cmds:
        row = []
        for a in cmd:
            if STREAM_ID.match(a):
                a = b"<id>"
            elif TIME_MS.match(a):
                a = b"<ms>"
            elif TIME_S.match(a):
                a = b"<s>"
            row.append(a)
        out.append(row)
    return out


def run(port, commands):
    c = Conn(port)
    c.call("FLUSHALL")
    replica = RawReplica(port, capa=False)
    replies = []
    for cmd in commands:
        if cmd[0] == "DUMPRESTORE":
            _, src, dst, ttl = cmd
            dumped = c.call("DUMP", src)
            if dumped[0] != "bulk":
                replies.append(dumped)
                continue
            payload = dumped[1]
            if ttl == "abs":
                args = ["RESTORE", dst, str(int(time.time() * 1000) + 60_000), payload, "REPLACE", "ABSTTL"]
            else:
                args = ["RESTORE", dst, ttl, payload, "REPLACE"]
            replies.append(c.call(*args)[0])
            continue
        replies.append(c.call(*cmd))
    c.call("SELECT", "0")
    stream = replica.commands(quiet=0.5)
    replica.close()
    c.close()
    return replies, stream


@pytest.mark.parametrize("part", range(3))
def test_replication_stream_matches_redis(part, lunar_server, redis_server):
    seed = int(os.environ.get("DIFF_SEED", "20261125"))
    count = max(30, int(os.environ.get("DIFF_COMMANDS", "3000")) // 10)
    rng = random.Random(f"{seed}-stream-{part}")
    now_s = int(time.time())
    gen = generate(rng, now_s)
    commands = [next(gen) for _ in range(count)]
    (lunar_replies, lunar_stream), (ref_replies, ref_stream) = run(lunar_server.port, commands), run(redis_server.port, commands)
    a, b = normalize(lunar_stream), normalize(ref_stream)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, (f"stream command {i}:\n  lunar: {a[i:i + 6]}\n  redis: {b[i:i + 6]}\n"
                        f"  before: {b[max(0, i - 5):i]}")
    assert len(a) == len(b), f"lunar sent {len(a)} commands, redis {len(b)}; extra: {(a[len(b):] or b[len(a):])[:5]}"
    assert len(a) > count // 3


def expired_key_meets_blocked_client(port):
    """Two scenarios of Redis's list tests: SWAPDB and EXEC wake a blocked BRPOP whose key has
    already expired; the key's DEL must follow the command that woke it, at once."""
    c = Conn(port)
    c.call("FLUSHALL")
    c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    replica = RawReplica(port, capa=False)
    out = []
    try:
        c.call("SELECT", "1")
        c.call("RPUSH", "k", "hello")
        c.call("PEXPIRE", "k", "100")
        b = Conn(port)
        b.call("SELECT", "9")
        bid = b.call("CLIENT", "ID")[1]
        b.send_raw(Conn.encode(["BRPOP", "k", "5"]))
        time.sleep(0.15)
        out.append(c.call("SWAPDB", "1", "9"))
        out.append(c.call("CLIENT", "UNBLOCK", str(bid)))
        out.append(b.read())
        c.call("SELECT", "0")
        b.call("SELECT", "0")
        b.send_raw(Conn.encode(["BRPOP", "k2", "5"]))
        time.sleep(0.05)
        out.append([c.call("MULTI"), c.call("RPUSH", "k2", "hello"), c.call("PEXPIRE", "k2", "100"),
                    c.call("DEBUG", "SLEEP", "0.2"), c.call("EXEC")])
        out.append(c.call("CLIENT", "UNBLOCK", str(bid)))
        out.append(b.read())
        b.close()
        stream = normalize(replica.commands(quiet=0.5))
    finally:
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        replica.close()
        c.close()
    return out, stream


def test_expired_key_deleted_when_blocked_client_wakes_matches_redis(lunar_server, redis_server):
    x, y = expired_key_meets_blocked_client(lunar_server.port), expired_key_meets_blocked_client(redis_server.port)
    assert x == y
    assert [b"SWAPDB", b"1", b"9"] in x[1] and x[1][-1] == [b"DEL", b"k2"]
