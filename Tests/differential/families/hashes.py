"""Hash commands: random sequences over a few keys, compared with redis-server 7.0.

A small model follows each key's fields in insertion order and whether Redis holds it as a listpack
(<= 512 fields, every field and value <= 64 bytes; conversion is one way), so listpack replies
(HGETALL, HKEYS, HVALS, HSCAN) are compared in order and hashtable replies as multisets.
HRANDFIELD is compared by shape. Wrong types use "str" (a string), plus bad arguments and arities.
"""
from harness import Cmd, sleep

HASHES = ["h1", "h2", "h3"]
STR = "str"
FIELDS = ["a", "b", "c", "d", "e", "f", "g", "n1", "n2", "", "F" * 64, "L" * 65]
VALUES = ["1", "2", "-7", "0", "10", "3.5", "-0.25", "1e3", "x", "", "v" * 64, "w" * 65, " 1", "01",
          "9223372036854775807"]
MAX_ENTRIES, MAX_VALUE = 512, 64  # Redis 7.0.15's defaults


class Model:
    def __init__(self):
        self.fields = {}    # key -> list of fields in insertion order
        self.listpack = {}  # key -> bool

    def ordered(self, k):
        return k not in self.fields or self.listpack[k]

    def check_lengths(self, k, args):
        if k in self.fields and any(len(a) > MAX_VALUE for a in args):
            self.listpack[k] = False

    def set(self, k, field, value):
        if k not in self.fields:
            self.fields[k] = []
            self.listpack[k] = True
        if len(field) > MAX_VALUE or len(value) > MAX_VALUE:
            self.listpack[k] = False
        if field not in self.fields[k]:
            self.fields[k].append(field)
            if len(self.fields[k]) > MAX_ENTRIES:
                self.listpack[k] = False

    def delete(self, k, fields):
        if k not in self.fields:
            return
        self.fields[k] = [f for f in self.fields[k] if f not in fields]
        if not self.fields[k]:
            self.drop(k)

    def drop(self, k):
        self.fields.pop(k, None)
        self.listpack.pop(k, None)


def generate(rng):
    m = Model()
    yield Cmd("SET", STR, "text")
    yield Cmd("SADD", "aset", "m")
    while True:
        r = rng.random()
        k = rng.choice(HASHES)
        if r < 0.22:
            n = rng.randint(1, 4)
            pairs = [(rng.choice(FIELDS), rng.choice(VALUES)) for _ in range(n)]
            cmd = rng.choice(["HSET", "HSET", "HMSET"])
            yield Cmd(cmd, k, *[x for p in pairs for x in p])
            if k not in m.fields:
                m.fields[k], m.listpack[k] = [], True
            m.check_lengths(k, [x for p in pairs for x in p])
            for f, v in pairs:
                m.set(k, f, v)
        elif r < 0.24:
            # grow past the listpack entry limit
            n = rng.randint(500, 520)
            args = [x for i in range(n) for x in ("bulk%d" % i, str(i))]
            yield Cmd("HSET", k, *args)
            if k not in m.fields:
                m.fields[k], m.listpack[k] = [], True
            for i in range(n):
                m.set(k, "bulk%d" % i, str(i))
        elif r < 0.29:
            f, v = rng.choice(FIELDS), rng.choice(VALUES)
            yield Cmd("HSETNX", k, f, v)
            if k not in m.fields or f not in m.fields[k]:
                m.set(k, f, v)
        elif r < 0.36:
            fs = [rng.choice(FIELDS) for _ in range(rng.randint(1, 3))]
            yield Cmd("HDEL", k, *fs)
            m.delete(k, fs)
        elif r < 0.44:
            key = rng.choice(HASHES + ["nokey"])
            cmd = rng.choice(["HGETALL", "HKEYS", "HVALS"])
            mode = "exact" if m.ordered(key) else ("pairs" if cmd == "HGETALL" else "unordered")
            yield Cmd(cmd, key, mode=mode)
        elif r < 0.52:
            key = rng.choice(HASHES + ["nokey"])
            f = rng.choice(FIELDS)
            yield rng.choice([Cmd("HGET", key, f), Cmd("HEXISTS", key, f), Cmd("HSTRLEN", key, f), Cmd("HLEN", key),
                              Cmd("HMGET", key, *[rng.choice(FIELDS) for _ in range(rng.randint(1, 4))])])
        elif r < 0.60:
            f = rng.choice(FIELDS[:9])
            inc = rng.choice(["1", "-3", "100", "9223372036854775807", "-9223372036854775808", "0", "x", "1.5"])
            yield Cmd("HINCRBY", k, f, inc)
            # a successful increment sets a short value; only a new field changes the model
            yield Cmd("HGET", k, f)
            yield Cmd("HEXISTS", k, f)
            if k in m.fields and f in m.fields[k]:
                pass
            else:
                # the servers agree on success or failure; a new field is created only on success,
                # which needs a valid increment
                if inc not in ("x", "1.5"):
                    m.set(k, f, "0")
        elif r < 0.67:
            f = rng.choice(FIELDS[:9])
            is_new = not (k in m.fields and f in m.fields[k])
            incs = ["1.5", "-0.25", "10", "0.1", "-1e3", "3", "5.0e-1", "inf", "x", ""] + (["1e400"] if is_new else [])
            inc = rng.choice(incs)
            yield Cmd("HINCRBYFLOAT", k, f, inc)
            yield Cmd("HGET", k, f)
            if is_new and inc not in ("inf", "x", ""):
                m.set(k, f, "0")
                if inc == "1e400":
                    m.listpack[k] = False  # the 401-character result converts the hash
        elif r < 0.73:
            key = rng.choice(HASHES + ["nokey"])
            args = []
            if rng.random() < 0.8:
                args.append(str(rng.choice([0, 1, 2, 3, 5, 100, -1, -3, -10])))
                if rng.random() < 0.5:
                    args.append("WITHVALUES")
            yield Cmd("HRANDFIELD", key, *args, mode="shape")
        elif r < 0.79:
            key = rng.choice(HASHES + ["nokey"])
            opts = []
            if rng.random() < 0.5:
                opts += ["MATCH", rng.choice(["*", "n*", "[a-c]", "?", "bulk1*"])]
            if rng.random() < 0.5:
                opts += ["COUNT", str(rng.choice([1, 5, 100]))]
            yield Cmd("HSCAN", key, "0", *opts, mode="exact" if m.ordered(key) else "any")
        elif r < 0.86:
            yield rng.choice([
                Cmd("HSET", STR, "a", "1"), Cmd("HSETNX", STR, "a", "1"), Cmd("HGET", STR, "a"),
                Cmd("HMSET", STR, "a", "1"), Cmd("HMGET", STR, "a"), Cmd("HGETALL", STR), Cmd("HDEL", STR, "a"),
                Cmd("HLEN", STR), Cmd("HSTRLEN", STR, "a"), Cmd("HEXISTS", STR, "a"), Cmd("HKEYS", STR),
                Cmd("HVALS", STR), Cmd("HINCRBY", STR, "a", "1"), Cmd("HINCRBYFLOAT", STR, "a", "1"),
                Cmd("HRANDFIELD", STR), Cmd("HRANDFIELD", STR, "2", "WITHVALUES"), Cmd("HSCAN", STR, "0"),
                Cmd("HGET", "aset", "a"), Cmd("HSET", "aset", "a", "1"),
            ])
        elif r < 0.98:
            yield rng.choice([
                Cmd("HSET", k, "a"), Cmd("HSET", k, "a", "1", "b"), Cmd("HMSET", k, "a"), Cmd("HSETNX", k, "a"),
                Cmd("HGET", k), Cmd("HMGET", k), Cmd("HGETALL"), Cmd("HDEL", k), Cmd("HLEN", k, k),
                Cmd("HSTRLEN", k), Cmd("HEXISTS", k), Cmd("HKEYS"), Cmd("HVALS", k, k), Cmd("HINCRBY", k, "a"),
                Cmd("HINCRBYFLOAT", k, "a", "1", "2"), Cmd("HRANDFIELD"), Cmd("HSCAN", k),
                Cmd("HRANDFIELD", k, "x"), Cmd("HRANDFIELD", k, "1", "WITHVALUE"), Cmd("HRANDFIELD", k, "1", "2", "3"),
                Cmd("HRANDFIELD", k, "-9223372036854775808"), Cmd("HRANDFIELD", k, "9223372036854775807", "WITHVALUES"),
                Cmd("HSCAN", k, "x"), Cmd("HSCAN", k, "0", "COUNT", "0"), Cmd("HSCAN", k, "0", "MATCH"),
                Cmd("HSCAN", k, "0", "FOO", "1"), Cmd("HINCRBYFLOAT", k, "a", "nan"),
            ])
        else:
            yield Cmd("PEXPIRE", "h3", "20")
            yield sleep(40)
            yield Cmd("HLEN", "h3")
            m.drop("h3")
