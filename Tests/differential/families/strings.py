"""String and bitmap commands with random options, bad numbers, wrong arity, wrong types and (long) expiry."""
from harness import Cmd

KEYS = ["s1", "s2", "s3", "n1", "bm"]
# Keys of other types (created once at the start) for WRONGTYPE cases.
OTHER_TYPES = ["lst", "hsh", "st", "zs"]

INTS = ["0", "1", "-1", "7", "42", "-13", "100", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "abc", "1.5", "", " 3", "+4", "007", "-0"]
FLOATS = ["0", "1", "-1", "0.1", "-0.25", "1e3", "2.5e-3", "1e300", "-1e300", "inf", "nan", "abc", "", " 1",
          "3.0", "1e4000", "0x10", "12345.6789"]
VALUES = ["", "a", "hello", "12", "-5", "3.25", "foobar", "x" * 50, "\x00\xff\x0f", "0", "9223372036854775807",
          "abcabcabc"]


def key(rng):
    if rng.random() < 0.07:
        return rng.choice(OTHER_TYPES)
    return rng.choice(KEYS)


def idx(rng):
    r = rng.random()
    if r < 0.7:
        return str(rng.randint(-12, 12))
    if r < 0.8:
        return rng.choice(["9223372036854775807", "-9223372036854775808", "100000"])
    if r < 0.9:
        return str(rng.randint(-100, 100))
    return rng.choice(["x", "1.5", ""])


def expire_opt(rng):
    """A long expiry (never reached during a run) or a bad one."""
    kind = rng.choice(["EX", "PX", "EXAT", "PXAT"])
    r = rng.random()
    if r < 0.8:
        val = {"EX": rng.randint(1000, 100000), "PX": rng.randint(10 ** 6, 10 ** 8),
               "EXAT": rng.randint(4 * 10 ** 9, 5 * 10 ** 9), "PXAT": rng.randint(4 * 10 ** 12, 5 * 10 ** 12)}[kind]
        return [kind, str(val)]
    return [kind, rng.choice(["0", "-1", "abc", "9223372036854775807", "9223372036854776"])]


def set_cmd(rng, k):
    args = ["SET", k, rng.choice(VALUES)]
    opts = []
    for _ in range(rng.randint(0, 3)):
        r = rng.random()
        if r < 0.2:
            opts.append(rng.choice(["NX", "XX", "nx"]))
        elif r < 0.4:
            opts.append("GET")
        elif r < 0.5:
            opts.append("KEEPTTL")
        elif r < 0.9:
            opts += expire_opt(rng)
        else:
            opts.append(rng.choice(["PERSIST", "FOO", "EX"]))
    return Cmd(*args, *opts)


def getex_cmd(rng, k):
    opts = []
    for _ in range(rng.randint(0, 2)):
        r = rng.random()
        if r < 0.6:
            opts += expire_opt(rng)
        elif r < 0.85:
            opts.append("PERSIST")
        else:
            opts.append(rng.choice(["KEEPTTL", "NX", "GET", "EX"]))
    return Cmd("GETEX", k, *opts)


def lcs_cmd(rng):
    opts = []
    for _ in range(rng.randint(0, 3)):
        r = rng.random()
        if r < 0.3:
            opts.append("IDX")
        elif r < 0.45:
            opts.append("LEN")
        elif r < 0.65:
            opts.append("WITHMATCHLEN")
        elif r < 0.9:
            opts += ["MINMATCHLEN", rng.choice(["0", "1", "2", "3", "-1", "x"])]
        else:
            opts.append("FOO")
    return Cmd("LCS", key(rng), key(rng), *opts)


def bit_range(rng, allow_unit=True):
    args = [idx(rng), idx(rng)]
    if allow_unit and rng.random() < 0.5:
        args.append(rng.choice(["BIT", "BYTE", "bit", "FOO"]))
    return args


def bitfield_cmd(rng, k):
    ro = rng.random() < 0.2
    ops = []
    for _ in range(rng.randint(0, 3)):
        sign = rng.choice("iu")
        bits = rng.randint(1, 64 if sign == "i" else 63)
        typ = f"{sign}{bits}" if rng.random() < 0.95 else rng.choice(["u64", "x8", "i0", "I8"])
        off = str(rng.randint(0, 100)) if rng.random() < 0.8 else rng.choice([f"#{rng.randint(0, 4)}", "-1", "x"])
        r = rng.random()
        if r < 0.15:
            ops += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL", "fail", "BAD"])]
        if r < 0.45 or ro and r < 0.9:
            ops += ["GET", typ, off]
        elif r < 0.7:
            ops += ["SET", typ, off, str(rng.randint(-(2 ** 63), 2 ** 63 - 1)) if rng.random() < 0.5
                    else str(rng.randint(-300, 300))]
        elif r < 0.97:
            ops += ["INCRBY", typ, off, str(rng.randint(-(2 ** min(bits, 62)), 2 ** min(bits, 62)))]
        else:
            ops.append(rng.choice(["FOO", "GET", "SET"]))
    return Cmd("BITFIELD_RO" if ro else "BITFIELD", k, *ops)


def generate(rng):
    yield Cmd("RPUSH", "lst", "a", "b")
    yield Cmd("HSET", "hsh", "f", "v")
    yield Cmd("SADD", "st", "m")
    yield Cmd("ZADD", "zs", "1", "m")
    while True:
        k = key(rng)
        r = rng.random()
        if r < 0.08:
            yield set_cmd(rng, k)
        elif r < 0.14:
            yield Cmd(rng.choice(["GET", "STRLEN", "GETDEL"]), k)
        elif r < 0.17:
            yield Cmd("SETNX", k, rng.choice(VALUES))
        elif r < 0.20:
            c = rng.choice(["SETEX", "PSETEX"])
            t = str(rng.randint(1000, 100000)) if c == "SETEX" else str(rng.randint(10 ** 6, 10 ** 8))
            if rng.random() < 0.2:
                t = rng.choice(["0", "-5", "abc", "9223372036854775807"])
            yield Cmd(c, k, t, rng.choice(VALUES))
        elif r < 0.23:
            yield Cmd("GETSET", k, rng.choice(VALUES))
        elif r < 0.27:
            yield getex_cmd(rng, k)
        elif r < 0.30:
            yield Cmd("MGET", *[key(rng) for _ in range(rng.randint(1, 4))])
        elif r < 0.33:
            args = []
            for _ in range(rng.randint(1, 3)):
                args += [key(rng), rng.choice(VALUES)]
            if rng.random() < 0.1:
                args.pop()
            yield Cmd(rng.choice(["MSET", "MSETNX"]), *args)
        elif r < 0.37:
            yield Cmd("APPEND", k, rng.choice(VALUES))
        elif r < 0.47:
            c = rng.choice(["INCR", "DECR", "INCRBY", "DECRBY"])
            kk = rng.choice(["c1", "c1", "c1", "n1", k])
            if c in ("INCR", "DECR"):
                yield Cmd(c, kk)
            else:
                yield Cmd(c, kk, rng.choice(INTS) if rng.random() < 0.3 else str(rng.randint(-1000, 1000)))
        elif r < 0.52:
            kk = rng.choice(["f1", "f1", "f1", "n1", k])
            yield Cmd("INCRBYFLOAT", kk, rng.choice(FLOATS) if rng.random() < 0.5 else str(rng.uniform(-100, 100)))
        elif r < 0.57:
            yield Cmd(rng.choice(["GETRANGE", "SUBSTR"]), k, idx(rng), idx(rng))
        elif r < 0.61:
            off = str(rng.randint(0, 60)) if rng.random() < 0.85 else rng.choice(["-1", "x", "536870912"])
            yield Cmd("SETRANGE", k, off, rng.choice(VALUES))
        elif r < 0.64:
            yield lcs_cmd(rng)
        elif r < 0.71:
            kk = rng.choice(["bm", "bm", k])
            off = str(rng.randint(0, 200)) if rng.random() < 0.9 else rng.choice(["-1", "x", "4294967296"])
            val = rng.choice(["0", "1", "1", "0"]) if rng.random() < 0.9 else rng.choice(["2", "-1", "x"])
            yield Cmd("SETBIT", kk, off, val)
        elif r < 0.75:
            kk = rng.choice(["bm", k])
            off = str(rng.randint(0, 220)) if rng.random() < 0.9 else rng.choice(["-1", "x"])
            yield Cmd("GETBIT", kk, off)
        elif r < 0.82:
            kk = rng.choice(["bm", k])
            n = rng.random()
            if n < 0.2:
                yield Cmd("BITCOUNT", kk)
            elif n < 0.9:
                yield Cmd("BITCOUNT", kk, *bit_range(rng))
            else:
                yield Cmd("BITCOUNT", kk, idx(rng))
        elif r < 0.89:
            kk = rng.choice(["bm", k])
            bit = rng.choice(["0", "1", "0", "1", "2", "x"])
            n = rng.random()
            if n < 0.2:
                yield Cmd("BITPOS", kk, bit)
            elif n < 0.4:
                yield Cmd("BITPOS", kk, bit, idx(rng))
            else:
                yield Cmd("BITPOS", kk, bit, *bit_range(rng))
        elif r < 0.94:
            op = rng.choice(["AND", "OR", "XOR", "NOT", "not", "FOO"])
            srcs = [rng.choice(["bm", k, "s1", "nokey"]) for _ in range(rng.randint(1, 3))]
            yield Cmd("BITOP", op, rng.choice(KEYS), *srcs)
        elif r < 0.945:
            yield bitfield_cmd(rng, rng.choice(["bm", "bm", k]))
        elif r < 0.955:
            yield Cmd("SET", rng.choice(["c1", "f1"]), rng.choice(["0", "10", "-3", "2.5", "9223372036854775800"]))
        elif r < 0.97:
            yield Cmd(rng.choice(["TTL", "PTTL"]), k, mode="ttl", tolerance=1500)
        else:
            # wrong arity
            yield Cmd(rng.choice(["GET", "SET", "GETEX", "INCRBY", "SETRANGE", "GETRANGE", "SETBIT", "GETBIT",
                                  "BITCOUNT", "BITPOS", "BITOP", "LCS", "MSET", "APPEND", "SETEX"]))
