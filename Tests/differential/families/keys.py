"""The generic keyspace family: DEL/UNLINK/EXISTS/TOUCH/TYPE, RENAME(NX)/COPY/MOVE across databases,
KEYS/SCAN, RANDOMKEY, the EXPIRE/TTL group with long TTLs, expiry in the past and short TTLs followed
by a sleep, PERSIST, and SORT (errors and STORE on plain keys)."""
import time

from harness import Cmd, sleep

KEYS = ["k1", "k2", "k3", "k4", "k5", "key:a", "key:b", ""]
DBS = ["0", "1", "2"]
PATTERNS = ["*", "k*", "k?", "key:*", "*a*", "[k]1", "k[1-3]", "k[^1]", "?", "", "**", "\\k1", "nomatch"]


def rand_value(rng):
    return rng.choice(["v", "", "12", "-3", "1.5", "abc", "x" * 40])


def keyset(rng, lo=1, hi=4):
    return [rng.choice(KEYS) for _ in range(rng.randint(lo, hi))]


def now_s():
    return int(time.time())


def generate(rng):
    while True:
        k = rng.choice(KEYS)
        k2 = rng.choice(KEYS)
        r = rng.random()
        if r < 0.16:
            yield Cmd("SET", k, rand_value(rng))
        elif r < 0.19:
            yield Cmd("GET", k)
        elif r < 0.22:
            yield Cmd(rng.choice(["DEL", "UNLINK"]), *keyset(rng))
        elif r < 0.25:
            yield Cmd(rng.choice(["EXISTS", "TOUCH"]), *keyset(rng))
        elif r < 0.27:
            yield Cmd("TYPE", k)
        elif r < 0.31:
            yield Cmd(rng.choice(["RENAME", "RENAMENX"]), k, k2)
        elif r < 0.35:
            opts = []
            if rng.random() < 0.5:
                opts += ["DB", rng.choice(DBS + ["16", "-1", "x", "99999999999"])]
            if rng.random() < 0.4:
                opts.append("REPLACE")
            if rng.random() < 0.05:
                opts.append(rng.choice(["FOO", "DB"]))
            rng.shuffle(opts) if rng.random() < 0.2 else None
            yield Cmd("COPY", k, k2, *opts)
        elif r < 0.38:
            yield Cmd("MOVE", k, rng.choice(DBS + ["16", "-1", "x", "4294967296"]))
        elif r < 0.41:
            yield Cmd("SELECT", rng.choice(DBS))
        elif r < 0.44:
            yield Cmd("KEYS", rng.choice(PATTERNS), mode="unordered")
        elif r < 0.48:
            opts = []
            if rng.random() < 0.5:
                opts += ["MATCH", rng.choice(PATTERNS)]
            if rng.random() < 0.3:
                opts += ["TYPE", rng.choice(["string", "list", "STRING", "none", "zset"])]
            if rng.random() < 0.1:
                yield Cmd("SCAN", rng.choice(["x", "-", " 0", "1.0"]), *opts)
            elif rng.random() < 0.1:
                yield Cmd("SCAN", "0", *opts, "COUNT", rng.choice(["0", "-5", "y"]))
            else:
                # COUNT 1000 covers a small keyspace in one call on both servers: cursor 0 and every key.
                yield Cmd("SCAN", "0", *opts, "COUNT", "1000", mode="unordered")
        elif r < 0.49:
            yield Cmd("RANDOMKEY", mode="shape")
        elif r < 0.49 + 0.10:
            yield from expire_cmd(rng, k)
        elif r < 0.66:
            cmd = rng.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"])
            tol = {"TTL": 1, "PTTL": 300, "EXPIRETIME": 1, "PEXPIRETIME": 300}[cmd]
            yield Cmd(cmd, k, mode="ttl", tolerance=tol)
        elif r < 0.69:
            yield Cmd("PERSIST", k)
        elif r < 0.71:
            yield Cmd("DBSIZE")
        elif r < 0.75:
            yield from sort_cmd(rng, k, k2)
        elif r < 0.77:
            yield from short_ttl(rng, k)
        elif r < 0.80:
            yield from errors(rng, k)
        else:
            yield Cmd("SET", k, rand_value(rng))


def expire_cmd(rng, k):
    cmd = rng.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
    kind = rng.random()
    if kind < 0.7:
        # Long TTLs, varied so GT/LT comparisons go both ways.
        secs = rng.randint(100, 100000)
    elif kind < 0.9:
        secs = -rng.randint(0, 1000)    # the past: deletes the key
    else:
        secs = None
    if secs is None:
        t = rng.choice(["abc", "1.5", "", "9223372036854775807", "-9223372036854775808", "9223372036854776"])
    elif cmd == "EXPIRE":
        t = str(secs)
    elif cmd == "PEXPIRE":
        t = str(secs * 1000 + rng.randint(0, 999))
    elif cmd == "EXPIREAT":
        t = str(now_s() + secs if secs > 0 else rng.choice([now_s() + secs, 1, 0]))
    else:
        t = str((now_s() + secs) * 1000 + rng.randint(0, 999) if secs > 0 else rng.choice([0, 1000, (now_s() + secs) * 1000]))
    opts = []
    if rng.random() < 0.4:
        opts = rng.sample(["NX", "XX", "GT", "LT"], rng.choice([1, 1, 1, 2]))
    if rng.random() < 0.03:
        opts.append(rng.choice(["FOO", "nx"]))
    yield Cmd(cmd, k, t, *[o.lower() if rng.random() < 0.3 else o for o in opts])


def short_ttl(rng, k):
    """A key that expires for real: it must be gone for every command after the sleep."""
    yield Cmd("SET", k, "short")
    yield Cmd("PEXPIRE", k, str(rng.randint(5, 30)))
    yield sleep(60)
    yield Cmd(rng.choice(["GET", "EXISTS", "TTL", "TYPE", "PERSIST"]), k)
    yield Cmd("KEYS", "*", mode="unordered")
    yield Cmd("DBSIZE")


def sort_cmd(rng, k, k2):
    opts = []
    for _ in range(rng.randint(0, 3)):
        c = rng.random()
        if c < 0.2:
            opts += ["LIMIT", str(rng.randint(-2, 3)), str(rng.randint(-1, 3))]
        elif c < 0.35:
            opts += ["BY", rng.choice(["nosort", "w_*", "h_*->f"])]
        elif c < 0.5:
            opts += ["GET", rng.choice(["#", "w_*", "h_*->f"])]
        elif c < 0.7:
            opts.append(rng.choice(["ASC", "DESC", "ALPHA"]))
        elif c < 0.85:
            opts += ["STORE", k2]
        else:
            opts.append(rng.choice(["LIMIT", "BY", "GET", "STORE", "BOGUS"]))
    name = "SORT_RO" if rng.random() < 0.3 else "SORT"
    yield Cmd(name, rng.choice([k, "nolist"]), *opts)


def errors(rng, k):
    choice = rng.randrange(8)
    if choice == 0:
        yield Cmd(rng.choice(["DEL", "EXISTS", "TOUCH", "UNLINK", "TYPE", "TTL", "PERSIST", "KEYS", "SCAN", "SORT"]))
    elif choice == 1:
        yield Cmd(rng.choice(["RENAME", "RENAMENX", "MOVE", "COPY"]), k)
    elif choice == 2:
        yield Cmd(rng.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]), k)
    elif choice == 3:
        yield Cmd("TYPE", k, k)
    elif choice == 4:
        yield Cmd("RANDOMKEY", k)
    elif choice == 5:
        yield Cmd("KEYS", "*", "x")
    elif choice == 6:
        yield Cmd("RENAME", k, k, k)
    else:
        yield Cmd("TTL", k, "extra")
