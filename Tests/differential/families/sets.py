"""Set commands: random sequences over a few keys, compared with redis-server 7.0.

A small model follows each deterministic key (members and whether Redis holds it as an intset) so
replies whose order Redis fixes (intsets answer in ascending order) are compared exactly, and the
others as multisets. SPOP only targets key "p", which is resynced after each pop; SRANDMEMBER is
compared by shape. Wrong types use "str" (a string), plus bad arguments and wrong arities.
"""
import re

from harness import Cmd, sleep

SETS = ["s1", "s2", "s3"]
POP = "p"
DEST = "d"
STR = "str"
INTS = [str(i) for i in range(-3, 25)] + ["9223372036854775807", "-9223372036854775808"]
STRS = ["a", "b", "c", "d", "e", "x" * 30, "007", "+1", "-0", "1.5", "", "9223372036854775808"]
MAX_INTSET = 512
_INT_RE = re.compile(rb"^(0|-?[1-9][0-9]*)$")


def is_int(m):
    b = m.encode() if isinstance(m, str) else m
    return bool(_INT_RE.match(b)) and len(b) <= 20 and -2 ** 63 <= int(b) < 2 ** 63


class Model:
    """Known members and encoding of deterministic keys; None marks a key whose state is unknown."""

    def __init__(self):
        self.sets = {}      # key -> set of members (str), absent when the key does not exist
        self.intset = {}    # key -> True/False; None when unknown
        self.unknown = set()

    def known(self, k):
        return k not in self.unknown

    def exists(self, k):
        return k in self.sets or k in self.unknown

    def add(self, k, members):
        if k in self.unknown:
            return
        if k not in self.sets:
            self.sets[k] = set()
            self.intset[k] = is_int(members[0])
        s = self.sets[k]
        for m in members:
            if m in s:
                continue
            s.add(m)
            if self.intset[k] and (not is_int(m) or len(s) > MAX_INTSET):
                self.intset[k] = False

    def remove(self, k, members):
        if k in self.unknown or k not in self.sets:
            return
        self.sets[k] -= set(members)
        if not self.sets[k]:
            self.drop(k)

    def drop(self, k):
        self.sets.pop(k, None)
        self.intset.pop(k, None)
        self.unknown.discard(k)

    def forget(self, k):
        self.drop(k)
        self.unknown.add(k)

    def store(self, k, result, intset):
        self.drop(k)
        if result:
            self.sets[k] = set(result)
            self.intset[k] = intset

    def ordered(self, keys):
        """True if every existing key among `keys` is a known intset (so Redis's reply order is fixed)."""
        for k in keys:
            if k in self.unknown:
                return False
            if k in self.sets and not self.intset[k]:
                return False
        return True


def _members(rng, n=None):
    n = n or rng.randint(1, 5)
    pool = INTS if rng.random() < 0.6 else INTS + STRS
    return [rng.choice(pool) for _ in range(n)]


def generate(rng):
    m = Model()
    yield Cmd("SET", STR, "text")
    while True:
        r = rng.random()
        k = rng.choice(SETS)
        if r < 0.22:
            ms = _members(rng)
            yield Cmd("SADD", k, *ms)
            m.add(k, ms)
        elif r < 0.24:
            # grow past the intset limit
            ms = [str(i) for i in range(rng.randint(500, 530))]
            yield Cmd("SADD", k, *ms)
            m.add(k, ms)
        elif r < 0.32:
            ms = _members(rng)
            yield Cmd("SREM", k, *ms)
            m.remove(k, ms)
        elif r < 0.40:
            key = rng.choice(SETS + [POP, "nokey"])
            yield Cmd("SMEMBERS", key, mode="exact" if m.ordered([key]) else "unordered")
        elif r < 0.45:
            key = rng.choice(SETS + [POP, "nokey"])
            yield Cmd("SISMEMBER", key, rng.choice(INTS + STRS))
            yield Cmd("SCARD", key)
            yield Cmd("SMISMEMBER", key, *_members(rng))
        elif r < 0.55:
            keys = [rng.choice(SETS + [POP, "nokey"]) for _ in range(rng.randint(1, 3))]
            cmd = rng.choice(["SINTER", "SUNION", "SDIFF"])
            ordered = m.ordered(keys)
            if ordered and cmd == "SUNION" and len(set().union(*[m.sets.get(x, set()) for x in keys])) > MAX_INTSET:
                ordered = False   # the union outgrew an intset: Redis answers in hash-table order
            yield Cmd(cmd, *keys, mode="exact" if ordered else "unordered")
        elif r < 0.61:
            keys = [rng.choice(SETS + ["nokey"]) for _ in range(rng.randint(1, 3))]
            cmd = rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
            dest = rng.choice([DEST, DEST, k])
            yield Cmd(cmd, dest, *keys)
            if any(not m.known(x) for x in keys):
                m.forget(dest)
            else:
                sets = [m.sets.get(x, set()) for x in keys]
                if cmd == "SINTERSTORE":
                    res = set.intersection(*sets)
                elif cmd == "SUNIONSTORE":
                    res = set.union(*sets)
                else:
                    res = sets[0] - set().union(*sets[1:])
                intset = all(is_int(x) for x in res) and len(res) <= MAX_INTSET
                if cmd == "SDIFFSTORE" and keys[0] in m.sets:
                    # Redis copies the first set and removes the others when that looks cheaper; the copy
                    # then decides the result's encoding.
                    present = [s for x, s in zip(keys, sets) if x in m.sets]
                    work_one = len(sets[0]) * len(present) // 2
                    if work_one > sum(len(s) for s in present):
                        intset = all(is_int(x) for x in sets[0]) and len(sets[0]) <= MAX_INTSET
                m.store(dest, res, intset)
            yield Cmd("SMEMBERS", dest, mode="exact" if m.ordered([dest]) else "unordered")
        elif r < 0.65:
            keys = [rng.choice(SETS + [POP, "nokey"]) for _ in range(rng.randint(1, 3))]
            extra = ["LIMIT", str(rng.randint(0, 5))] if rng.random() < 0.5 else []
            yield Cmd("SINTERCARD", str(len(keys)), *keys, *extra)
        elif r < 0.70:
            src, dst = rng.choice(SETS), rng.choice(SETS + [DEST])
            mem = rng.choice(INTS[:10] + STRS[:3])
            yield Cmd("SMOVE", src, dst, mem)
            if not m.known(src) or not m.known(dst):
                m.forget(src)
                m.forget(dst)
            elif src != dst and mem in m.sets.get(src, set()):
                m.remove(src, [mem])
                m.add(dst, [mem])
        elif r < 0.76:
            # random pops: only on POP, resynced afterwards
            if rng.random() < 0.3 or not m.exists(POP):
                ms = _members(rng, rng.randint(3, 12))
                yield Cmd("SADD", POP, *ms)
            args = [str(rng.choice([1, 2, 3, 5, 10, 50]))] if rng.random() < 0.7 else []
            yield Cmd("SPOP", POP, *args, mode="shape", resync=[POP])
            m.forget(POP)
        elif r < 0.81:
            key = rng.choice(SETS + [POP, "nokey"])
            args = [str(rng.choice([0, 1, 2, 3, 10, 1000, -1, -5, -20]))] if rng.random() < 0.8 else []
            yield Cmd("SRANDMEMBER", key, *args, mode="shape")
        elif r < 0.86:
            key = rng.choice(SETS + [POP, "nokey"])
            opts = []
            if rng.random() < 0.5:
                opts += ["MATCH", rng.choice(["*", "1*", "[a-c]", "?", "*0"])]
            if rng.random() < 0.5:
                opts += ["COUNT", str(rng.choice([1, 5, 100]))]
            yield Cmd("SSCAN", key, "0", *opts, mode="exact" if m.ordered([key]) else "any")
        elif r < 0.91:
            # wrong types
            yield rng.choice([
                Cmd("SADD", STR, "a"), Cmd("SREM", STR, "a"), Cmd("SMEMBERS", STR), Cmd("SISMEMBER", STR, "a"),
                Cmd("SMISMEMBER", STR, "a"), Cmd("SCARD", STR), Cmd("SPOP", STR), Cmd("SPOP", STR, "2"),
                Cmd("SRANDMEMBER", STR, "2"), Cmd("SMOVE", STR, k, "a"), Cmd("SMOVE", k, STR, "1"),
                Cmd("SINTER", k, STR), Cmd("SUNION", STR), Cmd("SDIFF", k, STR), Cmd("SINTERCARD", "2", k, STR),
                Cmd("SINTERSTORE", DEST, k, STR), Cmd("SSCAN", STR, "0"),
            ])
        elif r < 0.985:
            # bad arguments and wrong arity
            yield rng.choice([
                Cmd("SPOP", k, "-1"), Cmd("SPOP", k, "x"), Cmd("SPOP", k, "1", "2"), Cmd("SRANDMEMBER", k, "x"),
                Cmd("SRANDMEMBER", k, "-9223372036854775808"), Cmd("SINTERCARD", "0", k), Cmd("SINTERCARD", "x", k),
                Cmd("SINTERCARD", "3", k), Cmd("SINTERCARD", "1", k, "LIMIT", "-1"), Cmd("SINTERCARD", "1", k, "FOO"),
                Cmd("SSCAN", k, "x"), Cmd("SSCAN", k, "0", "COUNT", "0"), Cmd("SSCAN", k, "0", "MATCH"),
                Cmd("SADD", k), Cmd("SREM"), Cmd("SMEMBERS"), Cmd("SISMEMBER", k), Cmd("SMOVE", k, k),
                Cmd("SINTERSTORE", DEST), Cmd("SCARD", k, k), Cmd("SSCAN", k), Cmd("SMISMEMBER", k),
            ])
        else:
            # expiry: a set that expires disappears for both servers
            yield Cmd("PEXPIRE", "s3", "20")
            yield sleep(40)
            yield Cmd("SCARD", "s3")
            m.drop("s3")
