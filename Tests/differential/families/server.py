"""Server commands over several databases: SELECT/SWAPDB/DBSIZE/FLUSHDB/FLUSHALL mixes with writes,
INFO keyspace, CONFIG GET/SET, OBJECT ENCODING, MEMORY USAGE, TIME, ROLE, ECHO/PING and their errors."""
from harness import Cmd

KEYS = ["s1", "s2", "s3", "s4"]
VALUES = ["v", "", "123", "-7", "0123", "x" * 44, "y" * 45, "99999999999999999999", "3.14"]
DBS = ["0", "1", "2", "3"]


def generate(rng):
    while True:
        r = rng.random()
        k = rng.choice(KEYS)
        if r < 0.2:
            yield Cmd("SET", k, rng.choice(VALUES))
        elif r < 0.3:
            yield Cmd("GET", k)
        elif r < 0.38:
            yield Cmd("SELECT", rng.choice(DBS + ["16", "-1", "x"]))
        elif r < 0.45:
            yield Cmd("SWAPDB", rng.choice(DBS + ["x", "20"]), rng.choice(DBS + ["-1"]))
        elif r < 0.53:
            yield Cmd("DBSIZE")
        elif r < 0.56:
            yield Cmd("FLUSHDB", *rng.choice([[], ["ASYNC"], ["SYNC"], ["BAD"]]))
        elif r < 0.57:
            yield Cmd("FLUSHALL")
        elif r < 0.62:
            yield Cmd("INFO", "keyspace")
        elif r < 0.68:
            yield Cmd("OBJECT", "ENCODING", k)
        elif r < 0.7:
            yield Cmd("OBJECT", rng.choice(["FREQ", "BOGUS"]), k)
        elif r < 0.74:
            yield Cmd("MEMORY", "USAGE", k, mode="shape")
        elif r < 0.78:
            p = rng.choice(["maxmemory", "hz", "maxmemory-policy", "slowlog-max-len"])
            yield Cmd("CONFIG", "GET", p)
        elif r < 0.82:
            choice = rng.choice([
                ["maxmemory", rng.choice(["0", "100gb", "-5", "abc"])],
                ["hz", rng.choice(["10", "0", "1000", "x"])],
                ["slowlog-max-len", rng.choice(["128", "5", "-1"])],
                ["maxmemory-policy", rng.choice(["noeviction", "allkeys-lru", "nope"])],
                ["maxmemory", "0", "hz", rng.choice(["10", "bad"])],
                ["nosuchparam", "1"],
            ])
            yield Cmd("CONFIG", "SET", *choice)
        elif r < 0.85:
            yield Cmd("TIME", mode="shape")
        elif r < 0.87:
            yield Cmd("ROLE")
        elif r < 0.89:
            yield Cmd("LASTSAVE", mode="shape")
        elif r < 0.92:
            yield Cmd("ECHO", rng.choice(VALUES))
        elif r < 0.94:
            yield Cmd("PING", *rng.choice([[], ["x"], ["a", "b"]]))
        elif r < 0.96:
            yield Cmd("DBSIZE", "extra")
        elif r < 0.98:
            yield Cmd("COMMAND", "GETKEYS", rng.choice(["get", "set", "swapdb", "object"]), k, "v")
        else:
            yield Cmd("DEBUG", "SLEEP", "0")
