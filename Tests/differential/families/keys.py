"""The generic keyspace family: DEL/UNLINK/EXISTS/TOUCH/TYPE, RENAME(NX)/COPY/MOVE across databases,
KEYS/SCAN, RANDOMKEY, the EXPIRE/TTL group with long TTLs, expiry in the past and short TTLs followed
by a sleep, PERSIST, and SORT/SORT_RO over lists, sets and sorted sets (BY/GET with string and hash
weights, LIMIT, ALPHA, DESC, STORE), plus COPY/RENAME/MOVE of aggregates checked by reading them back.

Aggregate keys live in pools by type (l* lists, s* sets, z* sorted sets, h_* hashes) and are only
renamed or copied within their pool (or overwritten by strings), so the generator knows when a reply
has no defined order (a set under BY nosort) and compares it as unordered."""
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
            yield from sort_strings(rng, k, k2)
        elif r < 0.77:
            yield from short_ttl(rng, k)
        elif r < 0.80:
            yield from errors(rng, k)
        elif r < 0.93:
            yield from aggregates(rng)
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


def sort_strings(rng, k, k2):
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


LISTS = ["l1", "l2", "l3"]
SETS = ["s1", "s2"]
ZSETS = ["z1", "z2"]
ELEMS = ["1", "2", "3", "10", "-5", "2.5", "7", "a", "b", "apple", "B", "0"]
NUMS = ["1", "2", "3", "10", "-5", "2.5", "7", "0", "100", "-0.5", "33"]


def aggregates(rng):
    r = rng.random()
    numeric = rng.random() < 0.6
    pool = NUMS if numeric else ELEMS
    if r < 0.18:
        yield Cmd("RPUSH", rng.choice(LISTS), *[rng.choice(pool) for _ in range(rng.randint(1, 6))])
    elif r < 0.28:
        yield Cmd("SADD", rng.choice(SETS), *[rng.choice(pool) for _ in range(rng.randint(1, 6))])
    elif r < 0.36:
        args = []
        for _ in range(rng.randint(1, 4)):
            args += [str(rng.choice([1, 2, 3, 2.5, -1, 0, 10])), rng.choice(pool)]
        yield Cmd("ZADD", rng.choice(ZSETS), *args)
    elif r < 0.46:
        e = rng.choice(ELEMS + NUMS)
        if rng.random() < 0.6:
            yield Cmd("SET", f"w_{e}", rng.choice(["1", "5", "-2", "3.5", "100", "x", "", "b", "a", "zz"]))
        else:
            yield Cmd("HSET", f"h_{e}", "f", rng.choice(["1", "5", "-2", "3.5", "x", "b"]))
    elif r < 0.75:
        yield from sort_aggregate(rng)
    elif r < 0.85:
        pool_keys = rng.choice([LISTS, SETS, ZSETS])
        a, b = rng.choice(pool_keys), rng.choice(pool_keys)
        c = rng.random()
        if c < 0.3:
            yield Cmd("COPY", a, b, *(["REPLACE"] if rng.random() < 0.5 else []),
                      *(["DB", rng.choice(DBS)] if rng.random() < 0.3 else []))
        elif c < 0.55:
            yield Cmd(rng.choice(["RENAME", "RENAMENX"]), a, b)
        elif c < 0.75:
            yield Cmd("MOVE", a, rng.choice(DBS))
        else:
            secs = rng.randint(100, 10000)
            yield Cmd(*(("EXPIRE", a, str(secs)) if rng.random() < 0.5 else ("PEXPIRE", a, str(secs * 1000))))
        # Mutate the source afterwards: a copy must not share it.
        if pool_keys is LISTS:
            yield Cmd("RPUSH", a, "after")
        elif pool_keys is SETS:
            yield Cmd("SADD", a, "after")
        else:
            yield Cmd("ZADD", a, "4", "after")
        yield from read_back(rng, b)
    elif r < 0.95:
        yield from read_back(rng, rng.choice(LISTS + SETS + ZSETS))
    else:
        # Wrong types: a string under SORT, aggregates under string commands.
        yield Cmd("SORT", rng.choice(["w_1", "h_1", "h_a"]))
        yield Cmd("GET", rng.choice(LISTS + SETS + ZSETS))


def read_back(rng, key):
    yield Cmd("TYPE", key)
    if key in LISTS:
        yield Cmd("LRANGE", key, "0", "-1")
    elif key in SETS:
        yield Cmd("SMEMBERS", key, mode="unordered")
    else:
        yield Cmd("ZRANGE", key, "0", "-1", "WITHSCORES")
    yield Cmd("PTTL", key, mode="ttl", tolerance=300)


def sort_aggregate(rng):
    kind = rng.random()
    key = rng.choice(LISTS if kind < 0.5 else SETS if kind < 0.8 else ZSETS)
    is_set = key in SETS
    by = None
    if rng.random() < 0.5:
        by = rng.choice(["nosort", "w_*", "h_*->f", "nokey_*", "w_*->f"])
    alpha = rng.random() < 0.4
    desc = rng.random() < 0.4
    limit = None
    if rng.random() < 0.35:
        limit = (str(rng.randint(-1, 4)), str(rng.randint(-1, 4)))
    gets = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        gets.append(rng.choice(["#", "w_*", "h_*->f", "nokey_*", "h_*->"]))
    store = None
    name = "SORT_RO" if rng.random() < 0.25 else "SORT"
    ties_possible = alpha and by not in (None, "nosort")   # equal weights: order is up to the sort algorithm
    if name == "SORT" and not ties_possible and rng.random() < 0.3:
        store = rng.choice(LISTS + ["k1"])
    args = [name, key]
    opts = []
    if by:
        opts.append(["BY", by])
    if limit:
        opts.append(["LIMIT", *limit])
    for g in gets:
        opts.append(["GET", g])
    if alpha:
        opts.append(["ALPHA"])
    if desc:
        opts.append(["DESC"])
    if store:
        opts.append(["STORE", store])
    rng.shuffle(opts)
    for o in opts:
        args += o
    mode = "exact"
    nosort_set = is_set and by == "nosort" and store is None
    if nosort_set or ties_possible:
        mode = "shape" if limit else "unordered"
    yield Cmd(*args, mode=mode)
    if store:
        yield Cmd("LRANGE", store, "0", "-1")
