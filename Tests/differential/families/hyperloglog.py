"""HyperLogLog commands: PFADD / PFCOUNT / PFMERGE / PFDEBUG over a few keys, with GET comparing the
values byte for byte (sparse opcodes, promotion to dense, the cached cardinality), hand-made and
damaged values written with SET / SETRANGE, wrong types and wrong arities. (hll-sparse-max-bytes is
varied in Tests/compat/test_hyperloglog.py: CONFIG SET does not reach replicas, and the replication
test replays these families on a master with a redis-server replica.)
"""
from harness import Cmd

HLLS = ["h1", "h2", "h3"]
DEST = "hd"
OTHER = ["str", "lst"]          # a plain string and a list


def elements(rng):
    n = rng.choice([0, 1, 1, 2, 3, 10, 30, 60])
    space = rng.choice([20, 1000, 10 ** 9])
    return [str(rng.randrange(space)) for _ in range(n)]


def some_key(rng):
    r = rng.random()
    if r < 0.8:
        return rng.choice(HLLS)
    if r < 0.9:
        return DEST
    if r < 0.95:
        return rng.choice(OTHER)
    return "missing"


def generate(rng):
    yield Cmd("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    yield Cmd("SET", "str", "not an hll")
    yield Cmd("RPUSH", "lst", "a")
    while True:
        k = some_key(rng)
        r = rng.random()
        if r < 0.40:
            yield Cmd("PFADD", k, *elements(rng))
        elif r < 0.50:
            yield Cmd("PFCOUNT", k)
        elif r < 0.55:
            yield Cmd("PFCOUNT", *[some_key(rng) for _ in range(rng.randint(2, 4))])
        elif r < 0.62:
            yield Cmd("PFMERGE", rng.choice([DEST, k]), *[some_key(rng) for _ in range(rng.randint(0, 3))])
        elif r < 0.74:
            yield Cmd("GET", k)
        elif r < 0.78:
            sub = rng.choice(["ENCODING", "DECODE", "TODENSE", "GETREG", "encoding", "bogus"])
            yield Cmd("PFDEBUG", sub, k)
        elif r < 0.81:
            yield Cmd("DEL", k)
        elif r < 0.83:
            yield Cmd("DEL", k)
        elif r < 0.82:
            # Damage a value: header bytes (WRONGTYPE until deleted), the cache flag, or opcodes (INVALIDOBJ).
            off = rng.choice([0, 4, 15, 15, 16, 17, 18, 20, 40, 100])
            yield Cmd("SETRANGE", k, str(off), rng.choice(["\x00", "\x01", "\x7f", "\xff", "\x80\x80", "Z"]))
        elif r < 0.85:
            yield Cmd("PFCOUNT", k, k)
        elif r < 0.87:
            yield Cmd("COPY", k, rng.choice(HLLS), "REPLACE")
        elif r < 0.89:
            yield Cmd("STRLEN", k)
        elif r < 0.91:
            yield Cmd("EXPIRE", k, str(rng.randint(1000, 100000)))
        elif r < 0.94:
            yield Cmd(rng.choice(["PFADD", "PFCOUNT", "PFMERGE"]))
        elif r < 0.95:
            yield Cmd("PFDEBUG", "GETREG")
        elif r < 0.96:
            yield Cmd("PFSELFTEST", "extra")
        else:
            yield Cmd("TYPE", k)
