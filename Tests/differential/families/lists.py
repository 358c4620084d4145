"""List family: random sequences over a few keys mixing every list command, blocking ones with a
tiny timeout, keys of the wrong type, bad indexes/counts/options and wrong arity."""
from harness import Cmd

LISTS = ["l1", "l2", "l3"]
STRINGS = ["s1"]          # made strings with SET (wrong type for every list command)
ELEMS = ["a", "b", "c", "1", "", "x" * 40, "é"]


def _key(rng):
    r = rng.random()
    if r < 0.8:
        return rng.choice(LISTS)
    if r < 0.9:
        return rng.choice(STRINGS)
    return "nokey"


def _elems(rng, lo=1, hi=5):
    return [rng.choice(ELEMS) for _ in range(rng.randint(lo, hi))]


def _index(rng):
    r = rng.random()
    if r < 0.75:
        return str(rng.randint(-8, 8))
    return rng.choice(["x", "1.5", "", "-9223372036854775808", "9223372036854775807",
                       "9223372036854775808", " 1", "0x1", "+1"])


def _count(rng):
    r = rng.random()
    if r < 0.8:
        return str(rng.randint(0, 6))
    return rng.choice(["-1", "x", "1.0", "9223372036854775807", "9223372036854775808", ""])


def _end(rng):
    return rng.choice(["LEFT", "RIGHT", "left", "Right", "up"] if rng.random() < 0.1 else ["LEFT", "RIGHT", "left", "right"])


def _lpos_opts(rng):
    opts = []
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(["RANK", "COUNT", "MAXLEN", "rank", "count", "maxlen", "RANK", "COUNT", "BOGUS"])
        if rng.random() < 0.05:
            opts.append(name)   # option with its value missing
            break
        if name.lower() == "rank":
            v = rng.choice(["1", "2", "-1", "-2", "3", "0", "x", "-9223372036854775808", "9223372036854775807"])
        elif name.lower() == "bogus":
            v = "1"
        else:
            v = rng.choice(["0", "1", "2", "5", "0", "1", "-1", "x"])
        opts += [name, v]
    return opts


def _mpop_tail(rng):
    keys = [_key(rng) for _ in range(rng.randint(1, 3))]
    r = rng.random()
    if r < 0.05:
        numkeys = rng.choice(["0", "-1", "x", str(len(keys) + 1)])
    else:
        numkeys = str(len(keys))
    tail = [numkeys] + keys + [_end(rng)]
    r = rng.random()
    if r < 0.4:
        tail += [rng.choice(["COUNT", "count"]), rng.choice(["1", "2", "10", "0", "-1", "x"])]
    elif r < 0.45:
        tail += [rng.choice(["COUNT", "junk"])]
    elif r < 0.48:
        tail += ["COUNT", "1", "COUNT", "2"]
    return tail


def _nonempty_timeout(rng):
    # Blocking commands only block when every key is empty; "exact" compares their replies.
    return rng.choice(["0.01", "0.01", "0.01", "0", "x", "-1", "inf", "nan", "1e-400", "1e5000"])


def generate(rng):
    yield Cmd("SET", "s1", "str")
    while True:
        r = rng.random()
        k = _key(rng)
        if r < 0.14:
            yield Cmd(rng.choice(["LPUSH", "RPUSH"]), k, *_elems(rng))
        elif r < 0.18:
            yield Cmd(rng.choice(["LPUSHX", "RPUSHX"]), k, *_elems(rng))
        elif r < 0.26:
            if rng.random() < 0.5:
                yield Cmd(rng.choice(["LPOP", "RPOP"]), k)
            else:
                yield Cmd(rng.choice(["LPOP", "RPOP"]), k, _count(rng))
        elif r < 0.31:
            yield Cmd("LRANGE", k, _index(rng), _index(rng))
        elif r < 0.34:
            yield Cmd("LLEN", k)
        elif r < 0.37:
            yield Cmd("LINDEX", k, _index(rng))
        elif r < 0.40:
            yield Cmd("LSET", k, _index(rng), rng.choice(ELEMS))
        elif r < 0.43:
            where = rng.choice(["BEFORE", "AFTER", "before", "after", "middle"])
            yield Cmd("LINSERT", k, where, rng.choice(ELEMS), rng.choice(ELEMS))
        elif r < 0.46:
            yield Cmd("LREM", k, rng.choice(["0", "1", "-1", "2", "-2", "x", "-9223372036854775808"]), rng.choice(ELEMS))
        elif r < 0.49:
            yield Cmd("LTRIM", k, _index(rng), _index(rng))
        elif r < 0.54:
            yield Cmd("LPOS", k, rng.choice(ELEMS), *_lpos_opts(rng))
        elif r < 0.59:
            yield Cmd("LMOVE", k, _key(rng), _end(rng), _end(rng))
        elif r < 0.61:
            yield Cmd("RPOPLPUSH", k, _key(rng))
        elif r < 0.65:
            yield Cmd("LMPOP", *_mpop_tail(rng))
        elif r < 0.75:
            # Blocking commands: on empty keys they wait 10 ms and time out on both sides.
            b = rng.random()
            t = _nonempty_timeout(rng)
            if t == "0":
                # Only safe when a key has data; otherwise it would block forever: use 0.01.
                t = "0.01"
            if b < 0.3:
                keys = [_key(rng) for _ in range(rng.randint(1, 3))]
                yield Cmd(rng.choice(["BLPOP", "BRPOP"]), *keys, t)
            elif b < 0.55:
                yield Cmd("BLMOVE", k, _key(rng), _end(rng), _end(rng), t)
            elif b < 0.7:
                yield Cmd("BRPOPLPUSH", k, _key(rng), t)
            else:
                yield Cmd("BLMPOP", t, *_mpop_tail(rng))
        elif r < 0.85:
            # Wrong arity for every command of the family.
            name, args = rng.choice([
                ("LPUSH", [k]), ("RPUSH", []), ("LPUSHX", [k]), ("RPUSHX", []), ("LPOP", []),
                ("RPOP", [k, "1", "2"]), ("LLEN", [k, "x"]), ("LRANGE", [k, "0"]), ("LINDEX", [k]),
                ("LSET", [k, "0"]), ("LINSERT", [k, "BEFORE", "a"]), ("LREM", [k, "0"]),
                ("LTRIM", [k, "0", "1", "2"]), ("LPOS", [k]), ("LMOVE", [k, k, "LEFT"]),
                ("RPOPLPUSH", [k]), ("LMPOP", ["1", k]), ("BLPOP", [k]), ("BRPOP", []),
                ("BLMOVE", [k, k, "LEFT", "LEFT"]), ("BRPOPLPUSH", [k, k]), ("BLMPOP", ["0", "1", k]),
                ("LPOP", [k, "1", "2"]),
            ])
            yield Cmd(name, *args)
        elif r < 0.88:
            yield Cmd("SET", LISTS[2] if rng.random() < 0.2 else rng.choice(STRINGS), rng.choice(ELEMS))
        elif r < 0.885:
            yield Cmd("FLUSHALL")
            yield Cmd("SET", "s1", "str")
        else:
            # Read back whole lists often so divergence shows up quickly.
            yield Cmd("LRANGE", rng.choice(LISTS), "0", "-1")
