"""Sorted sets: random sequences of every zset command over a few keys, with scores including
inf/-inf/decimals, exclusive and malformed bounds, LIMIT/REV/BYSCORE/BYLEX combinations, set algebra
with weights and aggregates (plain sets as inputs when the server has SADD), wrong types (string
and set keys), bad arguments and wrong arity.

Random commands (ZRANDMEMBER) compare only in modes that do not depend on the random choice;
pops are deterministic (ties break by member bytes), so they compare exactly."""
import os

from harness import Cmd, sleep

ZKEYS = ["z1", "z2", "z3", "z4"]
STR_KEY = "str"
SET_KEY = "plain"
ALL_KEYS = ZKEYS + [STR_KEY, SET_KEY, "nokey"]
# Lexicographic ranges are only well defined when all scores are equal (otherwise a skip list's
# answer depends on its random levels): these keys only ever get score 0.
LEX_KEYS = ["lx1", "lx2"]
# Plain sets need SADD (the set family); set ZSET_DIFF_NO_SETS=1 to leave them out.
USE_SETS = os.environ.get("ZSET_DIFF_NO_SETS") != "1"

MEMBERS = ["a", "b", "c", "d", "e", "f", "aa", "ab", "", "m" * 70, "\x00x", "\xffz", "10", "-1"]
SCORES = ["0", "1", "-1", "2", "2.5", "-3.75", "1e3", "inf", "-inf", "+inf", "0.1", "1.5e-7",
          "3", "3", "3", "10", "-0", "1234567890123", "4611686018427387904", "0x10",
          # zero-padded integers (redis-benchmark's random scores), long ones rounding to a double
          "000000012345", "-0007", "-000", "000", "123456789012345678", "-987654321098765432"]
BAD_SCORES = ["nan", "abc", "", " 1", "1 ", "1e999", "--1"]
RANGE_BOUNDS = ["-inf", "+inf", "inf", "0", "1", "(1", "(2.5", "3", "(3", "-1", "(-inf", "(inf",
                "10", "2", "1e3", "(0"]
BAD_BOUNDS = ["abc", "((1", "nan", "(nan", "1x"]
LEX_BOUNDS = ["-", "+", "[a", "(a", "[b", "(c", "[aa", "(ab", "[", "(", "[f", "(z", "[\xff"]
BAD_LEX = ["a", "", "+a", "-x", "{a"]
INTS = ["0", "1", "-1", "2", "-2", "3", "5", "100", "-100"]


def key(rng):
    return rng.choice(ZKEYS) if rng.random() < 0.85 else rng.choice(ALL_KEYS)


def score(rng):
    if rng.random() < 0.03:
        return rng.choice(BAD_SCORES)
    return rng.choice(SCORES)


def member(rng):
    return rng.choice(MEMBERS)


def bound(rng):
    if rng.random() < 0.04:
        return rng.choice(BAD_BOUNDS)
    return rng.choice(RANGE_BOUNDS)


def lex(rng):
    if rng.random() < 0.04:
        return rng.choice(BAD_LEX)
    return rng.choice(LEX_BOUNDS)


def lexkey(rng):
    """A key for a BYLEX query and its compare mode."""
    if rng.random() < 0.8:
        return rng.choice(LEX_KEYS), "exact"
    return key(rng), "any"


def lex_write(rng):
    k = rng.choice(LEX_KEYS)
    r = rng.random()
    if r < 0.6:
        args = ["ZADD", k] + (["NX"] if rng.random() < 0.2 else [])
        for _ in range(rng.randint(1, 4)):
            args += ["0", member(rng) if rng.random() < 0.5 else rng.choice(["b", "ba", "bb", "c", "ca", "z", "y"])]
        return Cmd(*args)
    if r < 0.7:
        args = ["ZADD", k]
        for i in range(rng.choice([30, 140])):
            args += ["0", f"w{rng.randint(0, 400):03d}"]
        return Cmd(*args)
    if r < 0.85:
        return Cmd("ZREMRANGEBYLEX", k, lex(rng), lex(rng))
    if r < 0.9:
        return Cmd("ZRANGESTORE", rng.choice(LEX_KEYS), k, lex(rng), lex(rng), "BYLEX",
                   *(["REV"] if rng.random() < 0.5 else []))
    return Cmd("ZREM", k, member(rng), f"w{rng.randint(0, 400):03d}")


def maybe_limit(rng, args):
    if rng.random() < 0.35:
        args += ["LIMIT", rng.choice(INTS), rng.choice(INTS + ["x"] if rng.random() < 0.1 else INTS)]


def zadd(rng, k=None):
    args = ["ZADD", k or key(rng)]
    for opt in ("NX", "XX", "GT", "LT", "CH", "INCR"):
        if rng.random() < 0.12:
            args.append(opt.lower() if rng.random() < 0.3 else opt)
    n = 1 if rng.random() < 0.4 else rng.randint(1, 5)
    for _ in range(n):
        args += [score(rng), member(rng)]
    if rng.random() < 0.03:
        args.append(score(rng))  # odd number of arguments
    return Cmd(*args)


def zrange_cmd(rng):
    k = key(rng)
    r = rng.random()
    store = rng.random() < 0.2
    args = ["ZRANGESTORE", rng.choice(ZKEYS), k] if store else ["ZRANGE", k]
    opts = []
    kind = rng.choice(["rank", "rank", "score", "lex"])
    if kind == "rank":
        args += [rng.choice(INTS), rng.choice(INTS)]
    elif kind == "score":
        args += [bound(rng), bound(rng)]
        opts.append("BYSCORE")
    else:
        lk, mode = lexkey(rng)
        dst = rng.choice(LEX_KEYS if lk in LEX_KEYS else ZKEYS)
        args = (["ZRANGESTORE", dst, lk] if store else ["ZRANGE", lk]) + [lex(rng), lex(rng)]
        opts.append("BYLEX")
    if rng.random() < 0.05 and kind == "rank":
        opts.append(rng.choice(["BYSCORE", "BYLEX"]))
    if rng.random() < 0.4:
        opts.append("REV")
    if rng.random() < 0.3 or (kind != "rank" and rng.random() < 0.3):
        opts += ["LIMIT", rng.choice(INTS), rng.choice(INTS)]
    if rng.random() < 0.4 and (not store or r < 0.1):
        opts.append("WITHSCORES")
    if rng.random() < 0.03:
        opts.append(rng.choice(["REV", "BYSCORE", "FOO"]))
    rng.shuffle(opts)
    if kind == "lex":
        return Cmd(*(args + opts), mode=mode)
    return Cmd(*(args + opts))


def legacy_range(rng):
    k = key(rng)
    c = rng.choice(["ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX"])
    if c == "ZREVRANGE":
        args = [c, k, rng.choice(INTS), rng.choice(INTS)]
        if rng.random() < 0.5:
            args.append("WITHSCORES")
        if rng.random() < 0.05:
            args += ["LIMIT", "0", "1"]
        return Cmd(*args)
    if "SCORE" in c:
        args = [c, k, bound(rng), bound(rng)]
        if rng.random() < 0.4:
            args.append("WITHSCORES")
    else:
        lk, mode = lexkey(rng)
        args = [c, lk, lex(rng), lex(rng)]
        if rng.random() < 0.04:
            args.append("WITHSCORES")
        maybe_limit(rng, args)
        return Cmd(*args, mode=mode)
    maybe_limit(rng, args)
    if rng.random() < 0.03:
        args.append("REV")
    return Cmd(*args)


def setop(rng):
    c = rng.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZINTERCARD"])
    store = c.endswith("STORE")
    n = rng.randint(1, 3)
    keys = [key(rng) if rng.random() < 0.9 else rng.choice([SET_KEY, STR_KEY]) for _ in range(n)]
    num = str(n)
    if rng.random() < 0.05:
        num = rng.choice(["0", "-1", "x", str(n + 3)])
    args = [c] + ([rng.choice(ZKEYS)] if store else []) + [num] + keys
    if c in ("ZUNION", "ZINTER", "ZUNIONSTORE", "ZINTERSTORE"):
        if rng.random() < 0.4:
            args.append("WEIGHTS")
            args += [rng.choice(["1", "2", "-1", "0", "0.5", "inf", "-inf", "x"] if rng.random() < 0.1
                                else ["1", "2", "-1", "0", "0.5", "3"]) for _ in range(n)]
        if rng.random() < 0.4:
            args += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX", "min", "max", "avg"] if rng.random() < 0.1
                                             else ["SUM", "MIN", "MAX"])]
    if c in ("ZUNION", "ZINTER", "ZDIFF") and rng.random() < 0.5:
        args.append("WITHSCORES")
    if c == "ZINTERCARD" and rng.random() < 0.4:
        args += ["LIMIT", rng.choice(["0", "1", "2", "-1", "x"])]
    if rng.random() < 0.03:
        args.append(rng.choice(["WITHSCORES", "WEIGHTS", "LIMIT", "FOO"]))
    return Cmd(*args)


def generate(rng):
    while True:
        r = rng.random()
        k = key(rng)
        if r < 0.20:
            yield zadd(rng)
        elif r < 0.24:
            yield Cmd("ZINCRBY", k, score(rng), member(rng))
        elif r < 0.28:
            yield Cmd("ZREM", k, *[member(rng) for _ in range(rng.randint(1, 3))])
        elif r < 0.30:
            yield Cmd("ZCARD", k)
        elif r < 0.33:
            yield Cmd("ZSCORE", k, member(rng))
        elif r < 0.35:
            yield Cmd("ZMSCORE", k, *[member(rng) for _ in range(rng.randint(1, 3))])
        elif r < 0.38:
            yield Cmd(rng.choice(["ZRANK", "ZREVRANK"]), k, member(rng))
        elif r < 0.48:
            yield zrange_cmd(rng)
        elif r < 0.55:
            yield legacy_range(rng)
        elif r < 0.57:
            yield Cmd("ZCOUNT", k, bound(rng), bound(rng))
        elif r < 0.59:
            lk, mode = lexkey(rng)
            yield Cmd("ZLEXCOUNT", lk, lex(rng), lex(rng), mode=mode)
        elif r < 0.62:
            c = rng.choice(["ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX"])
            if c == "ZREMRANGEBYRANK":
                yield Cmd(c, k, rng.choice(INTS), rng.choice(INTS))
            elif c == "ZREMRANGEBYSCORE":
                yield Cmd(c, k, bound(rng), bound(rng))
            else:
                yield lex_write(rng)
        elif r < 0.66:
            args = [rng.choice(["ZPOPMIN", "ZPOPMAX"]), k]
            if rng.random() < 0.6:
                args.append(rng.choice(INTS + ["x"]))
            if rng.random() < 0.03:
                args.append("1")
            yield Cmd(*args)
        elif r < 0.68:
            # Blocking pops answer at once when data exists; only nonblocking-safe forms here.
            keys = [key(rng) for _ in range(rng.randint(1, 3))]
            c = rng.choice(["BZPOPMIN", "BZPOPMAX"])
            yield Cmd(c, *keys, rng.choice(["0.01", "0.01", "x", "-1"]), mode="exact")
        elif r < 0.72:
            keys = [key(rng) for _ in range(rng.randint(1, 3))]
            args = ["ZMPOP", str(len(keys)) if rng.random() < 0.95 else rng.choice(["0", "x", "5"])] + keys
            args.append(rng.choice(["MIN", "MAX", "min"] if rng.random() < 0.95 else ["FOO"]))
            if rng.random() < 0.5:
                args += ["COUNT", rng.choice(["1", "2", "10", "0", "-1"] if rng.random() < 0.2 else ["1", "2", "10"])]
            if rng.random() < 0.5 and rng.random() < 0.3:
                args = ["BZMPOP", "0.01"] + args[1:]
            yield Cmd(*args)
        elif r < 0.76:
            # ZRANDMEMBER: exact when the reply cannot vary, shape otherwise.
            x = rng.random()
            if x < 0.2:
                yield Cmd("ZRANDMEMBER", k, mode="shape")
            elif x < 0.5:
                ws = rng.random() < 0.5
                yield Cmd("ZRANDMEMBER", k, "1000", *(["WITHSCORES"] if ws else []), mode="pairs" if ws else "unordered")
            elif x < 0.9:
                yield Cmd("ZRANDMEMBER", k, rng.choice(["1", "2", "-1", "-5", "0", "3"]),
                          *(["WITHSCORES"] if rng.random() < 0.5 else []), mode="shape")
            else:
                yield Cmd("ZRANDMEMBER", k, rng.choice(["x", "-9223372036854775808", "9223372036854775807", "1"]),
                          rng.choice(["WITHSCORES", "FOO", "withscores"]), mode="shape")
        elif r < 0.86:
            yield setop(rng)
        elif r < 0.89:
            args = ["ZSCAN", k, rng.choice(["0", "0", "0", "x", "-1", ""])]
            if rng.random() < 0.3:
                args += ["MATCH", rng.choice(["*", "a*", "?", "[a-c]", "*b"])]
            if rng.random() < 0.3:
                args += ["COUNT", rng.choice(["1", "10", "1000", "0", "x"])]
            if rng.random() < 0.03:
                args.append("FOO")
            # Large sets are walked in table order, which differs between servers: the compat tests
            # check small sets exactly and full iterations as sets.
            yield Cmd(*args, mode="shape")
        elif r < 0.91:
            yield Cmd("SET", STR_KEY, "v")
        elif r < 0.92 and USE_SETS:
            yield Cmd("SADD", SET_KEY, *[member(rng) for _ in range(rng.randint(1, 4))])
        elif r < 0.935:
            # Wrong arity.
            c = rng.choice(["ZADD", "ZINCRBY", "ZREM", "ZCARD", "ZSCORE", "ZMSCORE", "ZRANK", "ZRANGE",
                            "ZRANGESTORE", "ZCOUNT", "ZLEXCOUNT", "ZPOPMIN", "ZMPOP", "ZUNION", "ZUNIONSTORE",
                            "ZINTERCARD", "ZDIFF", "ZSCAN", "BZPOPMIN", "BZMPOP",
                            "ZREMRANGEBYRANK", "ZRANGEBYSCORE"])
            yield Cmd(c, *([k] if rng.random() < 0.5 else []))
        elif r < 0.95:
            # Grow a key past the listpack limits so both encodings get exercised.
            big = rng.choice(ZKEYS)
            args = ["ZADD", big]
            base = rng.randint(0, 1000)
            for i in range(rng.choice([40, 140])):
                args += [str((base + i) % 37), f"m{base + i}"]
            yield Cmd(*args)
        elif r < 0.955:
            yield Cmd("FLUSHALL")
        elif r < 0.975:
            yield lex_write(rng)
        elif r < 0.98:
            # Switch protocol: RESP3 nests WITHSCORES pairs and sends scores as doubles.
            yield Cmd("HELLO", rng.choice(["2", "3"]), mode="any")
        elif r < 0.985:
            # Short TTLs are always followed by a pause long enough for both servers to see the expiry.
            ttl = rng.choice(["1", "5", "100000"])
            yield Cmd("PEXPIRE", rng.choice(ZKEYS), ttl)
            if ttl != "100000":
                yield sleep(15)
        elif r < 0.99:
            # Blocking pops inside MULTI answer at once.
            yield Cmd("MULTI")
            yield Cmd(rng.choice(["BZPOPMIN", "BZPOPMAX"]), key(rng), key(rng), "0")
            yield Cmd("BZMPOP", "0", "2", key(rng), key(rng), rng.choice(["MIN", "MAX"]), "COUNT", "2")
            yield zadd(rng)
            yield Cmd("EXEC")
        else:
            yield zadd(rng, k=rng.choice(ZKEYS))
