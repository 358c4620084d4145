"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: random transaction blocks with queued commands, queue-time errors
(EXECABORT), run-time errors inside EXEC, nested MULTI, WATCH tripped by the client's own writes,
FLUSHDB and SWAPDB, and SELECT inside transactions."""
from harness import Cmd

KEYS = ["t1", "t2", "t3"]
VALUES = ["a", "", "12", "x" * 30]


def _queued(rng):
    """One command to queue inside MULTI (some fail at queue time, some at run time)."""
    k = rng.choice(KEYS)
    r = rng.random()
    if r < 0.25:
        return Cmd("SET", k, rng.choice(VALUES))
    if r < 0.45:
        return Cmd("GET", k)
    if r < 0.5:
        return Cmd("GET")                      # arity error: EXECABORT
    if r < 0.53:
        return Cmd("NOSUCHCMD", k)             # unknown command: EXECABORT
    if r < 0.6:
        return Cmd("SELECT", rng.choice(["0", "1", "2", "99", "x"]))   # run-time error for 99/x
    if r < 0.65:
        return Cmd("PING", *(["hi"] if rng.random() < 0.5 else []))
    if r < 0.7:
        return Cmd("ECHO", rng.choice(VALUES))
    if r < 0.76:
        return Cmd("DBSIZE")
    if r < 0.8:
        return Cmd("MULTI")                    # nested: error, not queued, does not abort
    if r < 0.84:
        return Cmd("WATCH", k)                 # inside MULTI: error, does not abort
    if r < 0.88:
        return Cmd("SWAPDB", rng.choice(["0", "1"]), rng.choice(["1", "2", "x"]))
    if r < 0.9:
        return Cmd("FLUSHDB")
    if r < 0.93:
        return Cmd("SAVE")                     # no_multi: rejected, aborts
    if r < 0.96:
        return Cmd("CONFIG", "GET", "maxmemory")
    return Cmd("PING", "a", "b")               # passes the arity check, fails inside EXEC


def generate(rng):
    while True:
        r = rng.random()
        k = rng.choice(KEYS)
        if r < 0.45:
            yield Cmd("MULTI")
            for _ in range(rng.randint(0, 6)):
                yield _queued(rng)
            yield Cmd("EXEC") if rng.random() < 0.8 else Cmd("DISCARD")
        elif r < 0.6:
            yield Cmd("WATCH", *rng.sample(KEYS, rng.randint(1, 2)))
        elif r < 0.65:
            yield Cmd("UNWATCH")
        elif r < 0.78:
            yield Cmd("SET", k, rng.choice(VALUES))
        elif r < 0.85:
            yield Cmd("GET", k)
        elif r < 0.88:
            yield Cmd("EXEC")
        elif r < 0.9:
            yield Cmd("DISCARD")
        elif r < 0.93:
            yield Cmd("SELECT", rng.choice(["0", "1"]))
        elif r < 0.95:
            yield Cmd("FLUSHDB")
        elif r < 0.97:
            yield Cmd("SWAPDB", "0", "1")
        else:
            yield Cmd("WATCH")
