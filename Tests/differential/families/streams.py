"""Streams: XADD (explicit IDs, "ms-*", MAXLEN/MINID with = and ~, LIMIT, NOMKSTREAM), XRANGE /
XREVRANGE with exclusive bounds, XDEL, XTRIM, XSETID, XREAD, consumer groups (XGROUP, XREADGROUP with
">" and history, NOACK, XACK, XPENDING, XCLAIM, XAUTOCLAIM), XINFO, wrong types and bad arguments.
IDs are given explicitly so both servers hold the same entries; "*" is used on one key whose replies
are compared by shape. Replies carrying idle or delivery times are compared by shape too. Small node
sizes (stream-node-max-entries 4) make `~` trims and the node count (XINFO) meaningful.
"""
from harness import Cmd

STREAMS = ["x1", "x2", "x3"]
AUTO = "xauto"
# Its IDs come from each server's clock: left out of the final dataset comparison.
UNCOMPARED_KEYS = (AUTO,)
GROUPS = ["g1", "g2"]
CONSUMERS = ["alice", "bob", "carol"]
FIELDS = ["f", "g", "name", "n"]


def some_key(rng):
    r = rng.random()
    if r < 0.85:
        return rng.choice(STREAMS)
    if r < 0.92:
        return "str"
    return "missing"


def some_id(rng, clock):
    r = rng.random()
    if r < 0.6:
        return f"{rng.randint(max(0, clock - 8), clock + 1)}-{rng.randint(0, 3)}"
    if r < 0.7:
        return str(rng.randint(0, clock + 1))
    if r < 0.75:
        return rng.choice(["-", "+", "0", "0-0", "18446744073709551615-18446744073709551615", "abc", "1-x"])
    return f"{rng.randint(0, clock + 1)}-{rng.randint(0, 1)}"


def bound(rng, clock, end):
    r = rng.random()
    if r < 0.2:
        return "+" if end else "-"
    s = some_id(rng, clock)
    return ("(" + s) if rng.random() < 0.2 and s not in ("-", "+") else s


def fields(rng):
    out = []
    for i in range(rng.choice([1, 1, 2, 3])):
        out += [rng.choice(FIELDS) if rng.random() < 0.5 else f"f{i}",
                rng.choice(["v", str(rng.randint(-10 ** 6, 10 ** 6)), "x" * rng.randint(0, 90), ""])]
    return out


def trim_args(rng, clock):
    kind = rng.choice(["MAXLEN", "MINID"])
    out = [kind]
    mode = rng.choice(["", "=", "~", "~"])
    if mode:
        out.append(mode)
    out.append(str(rng.randint(0, 20)) if kind == "MAXLEN" else f"{rng.randint(0, clock)}-0")
    if mode == "~" and rng.random() < 0.3:
        out += ["LIMIT", str(rng.randint(0, 12))]
    return out


def generate(rng):
    yield Cmd("CONFIG", "SET", "stream-node-max-entries", "4")
    yield Cmd("SET", "str", "x")
    clock = 1
    while True:
        k = some_key(rng)
        r = rng.random()
        if rng.random() < 0.3:
            clock += 1
        if r < 0.30:
            opts = []
            if rng.random() < 0.05:
                opts.append("NOMKSTREAM")
            if rng.random() < 0.2:
                opts += trim_args(rng, clock)
            idarg = f"{clock}-*" if rng.random() < 0.3 else f"{clock}-{rng.randint(0, 5)}"
            if rng.random() < 0.03:
                idarg = some_id(rng, clock)
            yield Cmd("XADD", k, *opts, idarg, *fields(rng))
        elif r < 0.33:
            yield Cmd("XADD", AUTO, *(["MAXLEN", "~", "5"] if rng.random() < 0.3 else []), "*", *fields(rng), mode="shape")
            yield Cmd("XLEN", AUTO)
        elif r < 0.40:
            extra = ["COUNT", str(rng.randint(-1, 5))] if rng.random() < 0.4 else []
            if rng.random() < 0.5:
                yield Cmd("XRANGE", k, bound(rng, clock, False), bound(rng, clock, True), *extra)
            else:
                yield Cmd("XREVRANGE", k, bound(rng, clock, True), bound(rng, clock, False), *extra)
        elif r < 0.43:
            yield Cmd("XLEN", k)
        elif r < 0.48:
            yield Cmd("XDEL", k, *[some_id(rng, clock) for _ in range(rng.randint(1, 3))])
        elif r < 0.51:
            yield Cmd("XTRIM", k, *trim_args(rng, clock))
        elif r < 0.55:
            streams = [some_key(rng) for _ in range(rng.randint(1, 2))]
            ids = [rng.choice(["$", "0", some_id(rng, clock)]) for _ in streams]
            extra = ["COUNT", str(rng.randint(0, 4))] if rng.random() < 0.5 else []
            yield Cmd("XREAD", *extra, "STREAMS", *streams, *ids)
        elif r < 0.60:
            g = rng.choice(GROUPS)
            sub = rng.random()
            if sub < 0.4:
                opts = ["MKSTREAM"] if rng.random() < 0.3 else []
                if rng.random() < 0.2:
                    opts += ["ENTRIESREAD", str(rng.randint(-1, 5))]
                yield Cmd("XGROUP", "CREATE", k, g, rng.choice(["$", "0", some_id(rng, clock)]), *opts)
            elif sub < 0.6:
                yield Cmd("XGROUP", "SETID", k, g, rng.choice(["$", "0", some_id(rng, clock)]),
                          *(["ENTRIESREAD", str(rng.randint(-1, 9))] if rng.random() < 0.4 else []))
            elif sub < 0.75:
                yield Cmd("XGROUP", "CREATECONSUMER", k, g, rng.choice(CONSUMERS))
            elif sub < 0.9:
                yield Cmd("XGROUP", "DELCONSUMER", k, g, rng.choice(CONSUMERS))
            else:
                yield Cmd("XGROUP", "DESTROY", k, g)
        elif r < 0.72:
            g, c = rng.choice(GROUPS), rng.choice(CONSUMERS)
            opts = []
            if rng.random() < 0.6:
                opts += ["COUNT", str(rng.randint(1, 4))]
            if rng.random() < 0.15:
                opts.append("NOACK")
            idarg = ">" if rng.random() < 0.75 else rng.choice(["0", some_id(rng, clock)])
            yield Cmd("XREADGROUP", "GROUP", g, c, *opts, "STREAMS", k, idarg)
        elif r < 0.77:
            yield Cmd("XACK", k, rng.choice(GROUPS), *[some_id(rng, clock) for _ in range(rng.randint(1, 3))])
        elif r < 0.82:
            g = rng.choice(GROUPS)
            if rng.random() < 0.5:
                yield Cmd("XPENDING", k, g)
            else:
                extra = [rng.choice(CONSUMERS)] if rng.random() < 0.3 else []
                yield Cmd("XPENDING", k, g, bound(rng, clock, False), bound(rng, clock, True), str(rng.randint(0, 5)), *extra, mode="shape")
        elif r < 0.87:
            opts = rng.sample(["JUSTID", "FORCE", "RETRYCOUNT 3", "LASTID " + some_id(rng, clock)], rng.randint(0, 2))
            flat = [w for o in opts for w in o.split()]
            yield Cmd("XCLAIM", k, rng.choice(GROUPS), rng.choice(CONSUMERS), "0",
                      *[some_id(rng, clock) for _ in range(rng.randint(1, 3))], *flat)
        elif r < 0.90:
            extra = ["COUNT", str(rng.randint(1, 4))] if rng.random() < 0.5 else []
            if rng.random() < 0.3:
                extra.append("JUSTID")
            yield Cmd("XAUTOCLAIM", k, rng.choice(GROUPS), rng.choice(CONSUMERS), "0", rng.choice(["0", "-", some_id(rng, clock)]), *extra)
        elif r < 0.95:
            sub = rng.random()
            if sub < 0.4:
                yield Cmd("XINFO", "STREAM", k)
            elif sub < 0.7:
                yield Cmd("XINFO", "GROUPS", k)
            elif sub < 0.85:
                yield Cmd("XINFO", "CONSUMERS", k, rng.choice(GROUPS), mode="shape")
            else:
                yield Cmd("XINFO", "STREAM", k, "FULL", mode="shape")
        elif r < 0.97:
            yield Cmd("XSETID", k, some_id(rng, clock + 2),
                      *(["ENTRIESADDED", str(rng.randint(0, 40))] if rng.random() < 0.3 else []),
                      *(["MAXDELETEDID", some_id(rng, clock)] if rng.random() < 0.3 else []))
        elif r < 0.98:
            yield Cmd("DEL", k)
        else:
            yield Cmd("TYPE", k)
