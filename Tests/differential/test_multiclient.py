"""Several clients at once, compared with redis-server 7.0: generated steps over five connections
(four RESP2, one RESP3) mixing pub/sub (channels, patterns, shard channels, PUBSUB introspection,
commands refused in subscribed mode, RESET, HELLO), blocking pops served by other clients or ended
by CLIENT UNBLOCK, XREAD/XREADGROUP BLOCK served by XADD, WATCH tripped by another client,
client-side caching invalidations (default, BCAST, NOLOOP and REDIRECT modes), SELECT, WAIT,
CLIENT PAUSE WRITE / UNPAUSE, and CLIENT KILL (a new connection then takes the killed one's place).

Each step sends one command on one connection of each server. Then every connection is settled the
same way on both: a blocked one is either still blocked (CLIENT LIST shows flag `b`) or has its
reply read; every other one sends PING and reads up to its pong, collecting what was pushed to it
before (messages, invalidations). The step's reply and everything collected must be equal; what a
waiting connection receives is compared when its wait ends.

Left out: CLIENT REPLY OFF/SKIP (such a connection cannot be drained with PING; test_protocol.py
compares reply modes on single connections), MONITOR (its
lines carry times and addresses), and the transactions `allowed_in_multi` excludes.

DIFF_SEED and DIFF_COMMANDS (three runs of a third of it each) as in the other differential tests;
DIFF_DUMP=file writes the steps of a failing run there, to replay with `Side.step`.
"""
import os
import random
import select
import time

import pytest

from support.resp import Conn

CONNS = 5            # connection 4 speaks RESP3
CHANNELS = ["ch1", "ch2", "news.a", "news.b"]
PATTERNS = ["ch*", "news.*", "*", "n?ws.[ab]"]
SHARD = ["s1", "s2"]
LISTS = ["l1", "l2"]
ZSETS = ["z1"]
KEYS = ["k1", "k2", "pre:a", "pre:b"]
BLOCKING = {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP"}
SUBSCRIPTIONS = {"SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE"}
SUBSCRIPTION_STEPS = [(0.10, "SUBSCRIBE", CHANNELS, 1, 2), (0.16, "UNSUBSCRIBE", CHANNELS, 0, 2),
                      (0.22, "PSUBSCRIBE", PATTERNS, 1, 2), (0.26, "PUNSUBSCRIBE", PATTERNS, 0, 2),
                      (0.29, "SSUBSCRIBE", SHARD, 1, 2), (0.31, "SUNSUBSCRIBE", SHARD, 0, 1)]
PONGS = [("simple", b"PONG"), ("array", [("bulk", b"pong"), ("bulk", b"")])]
UNORDERED = {("PUBSUB", "CHANNELS"), ("PUBSUB", "SHARDCHANNELS")}


class PushAwareConn(Conn):
    """Reads RESP3 pushes that arrive inside another reply (an EXEC's array, for one) out of band,
    as a RESP3 client does, into `pushes`, so they do not count as elements of that reply."""

    def __init__(self, port):
        super().__init__(port)
        self.depth = 0
        self.pushes = []

    def read(self):
        while True:
            self.depth += 1
            try:
                v = super().read()
            finally:
                self.depth -= 1
            if v[0] == "push" and self.depth > 0:
                self.pushes.append(v)
                continue
            return v


class Side:
    """One server's connections, with a control connection for CLIENT LIST."""

    def __init__(self, port):
        self.port = port
        self.ctl = Conn(port)
        self.ctl.call("FLUSHALL")
        self.conns = [PushAwareConn(port) for _ in range(CONNS)]
        self.ids = [c.call("CLIENT", "ID")[1] for c in self.conns]
        self.id_owner = {cid: k for k, cid in enumerate(self.ids)}   # killed connections' IDs too
        assert self.conns[4].call("HELLO", "3")[0] == "map"
        self.blocked = [False] * CONNS
        # A connection inside MULTI would queue the PING that drains it; only RESP3 pushes can
        # reach it meanwhile, and those are told apart from its replies by their type.
        self.in_multi = [False] * CONNS
        self.proto = [2] * (CONNS - 1) + [3]
        self.paused = False
        # Pushes read from a waiting connection, reported with the reply that ends its wait.
        self.held = [[] for _ in range(CONNS)]

    def close(self):
        if self.paused:
            self.ctl.call("CLIENT", "UNPAUSE")
        for c in self.conns + [self.ctl]:
            c.close()

    def resolve(self, args):
        # `$idN` stands for connection N's client ID, which differs between the servers.
        return [str(self.ids[int(a[3:])]) if isinstance(a, str) and a.startswith("$id") else a for a in args]

    def step(self, i, args):
        """Runs one command on connection i and settles every connection; returns what was seen."""
        conn = self.conns[i]
        name = args[0].upper()
        conn.send_raw(Conn.encode(self.resolve(args)))
        early = []
        # While CLIENT PAUSE WRITE holds, writes wait like blocked clients (flag `b`).
        if name in BLOCKING or (name in ("XREAD", "XREADGROUP") and "BLOCK" in args) or self.paused:
            reply = self.settle_blocked(i, early, push_replies=name in SUBSCRIPTIONS)
            if reply == "blocked":
                self.held[i], early = early, []
        elif name in SUBSCRIPTIONS:
            # On RESP3 the reply is a push too: messages and invalidations pushed before it are not.
            reply = conn.read()
            while reply[0] == "push" and reply[1] and reply[1][0][1].decode().upper() not in SUBSCRIPTIONS:
                early.append(reply)
                reply = conn.read()
        else:
            reply = self.read_reply(i, early)
        early += conn.pushes
        conn.pushes = []
        if name == "HELLO" and reply[0] in ("map", "array"):
            self.proto[i] = int(args[1])
        elif name == "RESET" and reply == ("simple", b"RESET"):
            self.proto[i] = 2
        if args[:2] == ["CLIENT", "PAUSE"] and reply == ("simple", b"OK"):
            self.paused = True
        elif args[:2] == ["CLIENT", "UNPAUSE"] and reply == ("simple", b"OK"):
            self.paused = False
        if name == "MULTI" and reply == ("simple", b"OK"):
            self.in_multi[i] = True
        elif name in ("EXEC", "DISCARD", "RESET") and reply != ("simple", b"QUEUED"):
            self.in_multi[i] = False
        if name == "EXEC" and reply[0] == "array":
            reply = ("array", pattern_runs_sorted(reply[1]))
        if name in ("HELLO", "CLIENT"):
            reply = self.symbolic_ids(reply)
        if reply[0] == "array" and (name, args[1].upper() if len(args) > 1 else "") in UNORDERED:
            reply = ("array", sorted(reply[1]))
        seen = [("reply", i, reply)] + ([("early", i, pattern_runs_sorted(early))] if early else [])
        skip = None
        if name in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE") and len(args) == 1 and not self.in_multi[i]:
            # Without arguments every subscription ends, in the order of the client's own hash
            # table: the channel names are compared as a set, the counts in order.
            replies = [reply] + self.drain(i)
            names = iter(sorted(r[1][1] for r in replies if r[0] in ("array", "push") and len(r[1]) == 3))
            seen = [("reply", i, [(r[0], [r[1][0], next(names), r[1][2]])
                                  if r[0] in ("array", "push") and len(r[1]) == 3 else r for r in replies])]
            skip = i
        if args[:3] == ["CLIENT", "KILL", "ID"] and reply == ("int", 1) and not self.in_multi[i]:
            # The server closes the killed connection: what it received up to the close is
            # compared, then a new connection takes its place.
            k = int(args[3][3:])
            seen.append(("killed", k, pattern_runs_sorted(self.held[k] + self.read_to_end(k))))
            self.reconnect(k)
            if k == i:
                return seen
        for k in range(CONNS):
            if self.blocked[k]:
                # What a waiting connection receives is compared when it stops waiting: a message
                # to it may still be on its way when it is looked at (no PING can pass its
                # command), but it always comes before the reply that ends the wait.
                if k != i:
                    r = self.settle_blocked(k, self.held[k])
                    if r != "blocked":
                        seen.append(("unblocked", k, (pattern_runs_sorted(self.held[k]), r)))
                        self.held[k] = []
            elif k != skip and not self.in_multi[k]:
                pushed = self.drain(k)
                if pushed:
                    seen.append(("pushed", k, pattern_runs_sorted(pushed)))
        # Pattern messages in the order of Redis's pattern dictionary, wherever they were read.
        return [(what, k, self.symbolic_redirects(pattern_runs_sorted(x)) if isinstance(x, list) else x)
                for what, k, x in seen]

    def symbolic_redirects(self, pushed):
        """`tracking-redir-broken` names the lost client's ID: as the connection it belonged to."""
        return [("push", [m[1][0], ("conn", self.id_owner.get(m[1][1][1]))])
                if m[0] == "push" and len(m[1]) == 2 and m[1][0] == ("bulk", b"tracking-redir-broken") else m
                for m in pushed]

    def read_to_end(self, i):
        conn, got = self.conns[i], []
        try:
            while True:
                got.append(conn.read())
        except ConnectionError:
            return got + conn.pushes

    def reconnect(self, i):
        self.conns[i].close()
        self.conns[i] = PushAwareConn(self.port)
        self.ids[i] = self.conns[i].call("CLIENT", "ID")[1]
        self.id_owner[self.ids[i]] = i
        self.proto[i] = 2
        if i == CONNS - 1:
            assert self.conns[i].call("HELLO", "3")[0] == "map"
            self.proto[i] = 3
        self.blocked[i] = self.in_multi[i] = False
        self.held[i] = []

    def symbolic_ids(self, reply):
        """Client IDs in HELLO's map, CLIENT GETREDIR and CLIENT TRACKINGINFO, as connection numbers."""
        def sym(v):
            return ("conn", self.ids.index(v[1])) if v[0] == "int" and v[1] in self.ids else v
        if reply[0] == "int":
            return sym(reply)
        if reply[0] == "array" and len(reply[1]) % 2 == 0:
            items = list(reply[1])
            for j in range(0, len(items), 2):
                if items[j] in (("bulk", b"id"), ("bulk", b"redirect")):
                    items[j + 1] = sym(items[j + 1])
            return ("array", items)
        if reply[0] == "map":
            return ("map", [(k, sym(v) if k in (("bulk", b"id"), ("bulk", b"redirect")) else v) for k, v in reply[1]])
        return reply

    def read_reply(self, i, pushes):
        """The next reply on connection i; RESP3 pushes read before it go to `pushes`."""
        while True:
            m = self.conns[i].read()
            if m[0] != "push":
                return m
            pushes.append(m)

    def settle_blocked(self, i, pushes, push_replies=False):
        """The reply of connection i's blocking (or paused) command, or "blocked" while CLIENT LIST
        shows it waiting. Pushes read meanwhile go to `pushes`, unless the command's own reply is
        a push (a subscription on RESP3)."""
        conn = self.conns[i]
        deadline = time.time() + float(os.environ.get("SETTLE_SECONDS", "10"))
        while time.time() < deadline:
            while conn.buf or select.select([conn.sock], [], [], 0)[0]:
                m = conn.read()
                if m[0] != "push" or push_replies:
                    self.blocked[i] = False
                    return m
                pushes.append(m)
            line = self.ctl.call("CLIENT", "LIST", "ID", str(self.ids[i]))[1].decode()
            flags = line.split(" flags=")[1].split(" ")[0]
            if "b" in flags:
                self.blocked[i] = True
                return "blocked"
            # Not blocked: the command is not read yet, or its reply is on its way.
            select.select([conn.sock], [], [], 0.01)
        raise AssertionError(f"connection {i} on port {self.port} neither answered nor blocked")

    def drain(self, i):
        conn = self.conns[i]
        conn.send_raw(Conn.encode(["PING"]))
        pushed = []
        while True:
            m = conn.read()
            if m in PONGS:
                extra, conn.pushes = conn.pushes, []
                return pushed + extra
            pushed.append(resp2_flush_invalidation(m))


def resp2_flush_invalidation(m):
    """redis-server 7.0 sends the null of a flush invalidation to a RESP2 REDIRECT target in the
    RESP3 form (`_`) when the tracking client speaks RESP3, which a RESP2 parser cannot read; Lunar
    sends RESP2's null bulk. Compared as the same."""
    if m[0] == "array" and len(m[1]) == 3 and m[1][:2] == [("bulk", b"message"), ("bulk", b"__redis__:invalidate")] \
            and m[1][2] == ("null",):
        return ("array", m[1][:2] + [("nullbulk",)])
    return m


def pattern_runs_sorted(pushed):
    """Sorts each run of consecutive pattern messages: a message matching several of a client's
    patterns is delivered once per pattern in the order of Redis's pattern dictionary, a hash
    table with a per-process seed, so that order differs from run to run on Redis itself."""
    out, run = [], []
    for m in pushed + [None]:
        if m is not None and m[0] in ("array", "push") and m[1] and m[1][0] == ("bulk", b"pmessage"):
            run.append(m)
            continue
        out.extend(sorted(run, key=repr))
        run = []
        if m is not None:
            out.append(m)
    return out


def first_difference(a, b, path="", depth=0):
    """The first place where two replies differ, briefly."""
    if depth < 4 and type(a) is type(b) and isinstance(a, (list, tuple)):
        for j, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{j}]", depth + 1)
        if len(a) != len(b):
            return f"  at {path}: lengths {len(a)} (lunar) and {len(b)} (redis); extra: {(a[len(b):] or b[len(a):])[:3]!r}"[:1500]
    return f"  at {path}:\n    lunar: {a!r}"[:800] + f"\n    redis: {b!r}"[:800]


class Model:
    """What the generator needs to know of the reference server's state."""

    def __init__(self):
        self.blocked = [False] * CONNS
        self.in_multi = [False] * CONNS
        self.proto = [2] * CONNS
        self.stream_id = 1
        self.paused = False


def gen_step(rng, model):
    free = [i for i in range(CONNS) if not model.blocked[i]]
    i = rng.choice(free)
    if model.paused and len(free) <= 2 and not model.in_multi[i]:
        return i, ["CLIENT", "UNPAUSE"]   # before every connection waits on the pause
    while True:
        i, args = _gen_step(rng, model, i)
        if model.in_multi[i] and not allowed_in_multi(args, model.proto[i]):
            continue
        return i, args


def allowed_in_multi(args, proto):
    """What may be queued. Not what replies in hash-table order (PUBSUB CHANNELS, unsubscribing
    from everything): only whole EXEC replies are compared. Nor what makes one queued command
    write several replies into the EXEC reply, or a subscription reply that RESP3 sends as a push
    counted among the EXEC reply's elements (Redis writes them so): the EXEC array's length would
    no longer say where it ends. SSUBSCRIBE is refused in a transaction, so it stays."""
    name = args[0].upper()
    if name == "HELLO" or args[:2] in (["PUBSUB", "CHANNELS"], ["PUBSUB", "SHARDCHANNELS"], ["CLIENT", "GETREDIR"],
                                       ["CLIENT", "TRACKINGINFO"], ["CLIENT", "PAUSE"], ["CLIENT", "UNPAUSE"],
                                       ["CLIENT", "KILL"]):
        return False
    if name in ("SUBSCRIBE", "PSUBSCRIBE"):
        return False
    if name.endswith("UNSUBSCRIBE"):
        return proto == 2 and len(args) == 2
    return True


def _gen_step(rng, model, i):
    if rng.random() < 0.1:
        return _stream_step(rng, model, i)
    r = rng.random()
    if r < 0.31:
        # (Un)subscriptions: (upper bound of r, command, names, fewest and most names).
        for bound, name, names, least, most in SUBSCRIPTION_STEPS:
            if r < bound:
                return i, [name] + rng.sample(names, rng.randint(least, most))
    if r < 0.41:
        return i, ["PUBLISH", rng.choice(CHANNELS + ["other"]), rng.choice(["hi", "", "x" * 50])]
    if r < 0.44:
        return i, ["SPUBLISH", rng.choice(SHARD), "m"]
    if r < 0.48:
        return i, rng.choice([["PUBSUB", "CHANNELS"], ["PUBSUB", "CHANNELS", "news.*"], ["PUBSUB", "NUMPAT"],
                              ["PUBSUB", "NUMSUB"] + rng.sample(CHANNELS, 2), ["PUBSUB", "SHARDCHANNELS"],
                              ["PUBSUB", "SHARDNUMSUB", "s1", "s3"]])
    if r < 0.50:
        return i, rng.choice([["RESET"], ["HELLO", rng.choice(["2", "3"])], ["GET", "k1"], ["PING", "x"]])
    # Blocking pops (at most three connections blocked, so there is always one to serve them).
    if r < 0.58 and sum(model.blocked) < 3:
        l1, l2 = rng.sample(LISTS, 2)
        return i, rng.choice([["BLPOP", l1, l2, "0"], ["BRPOP", l1, "0"], ["BLMOVE", l1, l2, "LEFT", "RIGHT", "0"],
                              ["BRPOPLPUSH", l1, l2, "0"], ["BZPOPMIN", "z1", "0"], ["BZPOPMAX", "z1", "0"],
                              ["BLMPOP", "0", "2", l1, l2, "RIGHT", "COUNT", "2"], ["BZMPOP", "0", "1", "z1", "MIN"]])
    if r < 0.68:
        return i, rng.choice([["LPUSH", rng.choice(LISTS)] + rng.sample(["a", "b", "c"], rng.randint(1, 3)),
                              ["RPUSH", rng.choice(LISTS), "d"], ["ZADD", "z1", str(rng.randint(0, 5)), rng.choice("xyz")],
                              ["DEL", rng.choice(LISTS + ZSETS)], ["SET", rng.choice(LISTS), "str"],
                              ["LMOVE", "l1", "l2", "RIGHT", "LEFT"]])
    if r < 0.71 and not model.paused:
        # (Not during a pause: redis-server 7.0.15 then "unblocks" a client whose write the pause
        # holds, which later gets a second reply, or crashes with TIMEOUT; Lunar answers 0.)
        j = rng.randrange(CONNS)
        return i, ["CLIENT", "UNBLOCK", f"$id{j}"] + rng.choice([[], ["TIMEOUT"], ["ERROR"]])
    if r < 0.71:
        return i, ["CLIENT", "UNPAUSE"]
    if r < 0.74:
        # A script's pushes serve blocked clients when it ends. (It reads before it writes: a read
        # after the write would track the key again for client-side caching, and the pop that
        # serves a blocked client then invalidates it on Lunar but not on Redis 7.0, which skips
        # that signal; see docs/COMPATIBILITY.md.)
        return i, ["EVAL", "local n = redis.call('llen', KEYS[1]) redis.call('rpush', KEYS[1], 'e1', 'e2') return n",
                   "1", rng.choice(LISTS)]
    # WATCH / MULTI / EXEC against other clients' writes.
    if r < 0.78:
        return i, ["WATCH", rng.choice(KEYS)]
    if r < 0.81:
        return i, ["MULTI"]
    if r < 0.84:
        return i, ["EXEC"]
    # Client-side caching.
    if r < 0.89:
        return i, ["GET", rng.choice(KEYS)]
    if r < 0.94:
        return i, ["SET", rng.choice(KEYS), str(rng.randint(0, 9))]
    if r < 0.97:
        return i, rng.choice([["CLIENT", "TRACKING", "ON"], ["CLIENT", "TRACKING", "OFF"],
                              ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "pre:"],
                              ["CLIENT", "TRACKING", "ON", "NOLOOP"],
                              ["CLIENT", "TRACKING", "ON", "REDIRECT", f"$id{rng.randrange(CONNS)}"]])
    return i, rng.choice([["MSET", "k1", "1", "pre:a", "2"], ["DEL", "k2", "pre:b"], ["FLUSHDB"],
                          ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"]])


def _stream_step(rng, model, i):
    # Streams: blocking reads served by XADD with explicit IDs (time-made IDs would differ), and
    # databases: a client blocked or tracking in one database, writes in another.
    model.stream_id += rng.choice([0, 1, 1, 1])
    if rng.random() < 0.35 and sum(model.blocked) < 3:
        return i, rng.choice([["XREAD", "BLOCK", "0", "STREAMS", "x", "$"],
                              ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "x", "y", "$", "0-0"],
                              ["XREADGROUP", "GROUP", "g", f"c{i}", "BLOCK", "0", "STREAMS", "x", ">"]])
    return i, rng.choice([["XADD", rng.choice(["x", "y"]), f"{model.stream_id}-1", "f", "v"],
                          ["XGROUP", "CREATE", "x", "g", "$", "MKSTREAM"], ["DEL", "x"],
                          ["SELECT", rng.choice(["0", "0", "1"])], ["WAIT", "0", "0"],
                          # A long WRITE pause, ended by UNPAUSE: never ALL, which would hold the
                          # CLIENT LIST that tells a waiting client from a slow one.
                          ["CLIENT", "PAUSE", "100000", "WRITE"], ["CLIENT", "UNPAUSE"], ["CLIENT", "UNPAUSE"],
                          # A client killed while it waits, subscribes or is a REDIRECT target.
                          ["CLIENT", "KILL", "ID", f"$id{rng.randrange(CONNS)}"]])


@pytest.mark.parametrize("run", range(3))
def test_multiclient(run, lunar_server, redis_server):
    seed = int(os.environ.get("DIFF_SEED", "20261125"))
    steps = int(os.environ.get("DIFF_COMMANDS", "3000")) // 3
    rng = random.Random(f"{seed}-multiclient-{run}")
    lunar, ref = Side(lunar_server.port), Side(redis_server.port)
    model = Model()
    history = []
    try:
        for _ in range(steps):
            i, args = gen_step(rng, model)
            history.append((i, args))
            recent = lambda: "\n".join(f"  conn {c}: {' '.join(x)}" for c, x in history[-20:])
            try:
                a = lunar.step(i, args)
            except (OSError, AssertionError) as e:
                if os.environ.get("DIFF_DUMP"):
                    with open(os.environ["DIFF_DUMP"], "w") as f:
                        f.write(repr(history))
                raise AssertionError(f"Lunar: {e!r}\nlast steps:\n{recent()}")
            try:
                b = ref.step(i, args)
            except (OSError, AssertionError) as e:
                raise AssertionError(f"Redis: {e!r}\nlast steps:\n{recent()}")
            if a != b:
                if os.environ.get("DIFF_DUMP"):
                    with open(os.environ["DIFF_DUMP"], "w") as f:
                        f.write(repr(history) + f"\n\nlunar: {a!r}\n\nredis: {b!r}\n")
                raise AssertionError(f"step differs:\n{first_difference(a, b)}\nlast steps:\n{recent()}")
            model.blocked = list(ref.blocked)
            model.in_multi = list(ref.in_multi)
            model.proto = list(ref.proto)
            model.paused = ref.paused
    finally:
        lunar.close()
        ref.close()
    assert lunar_server.alive()
