"""Generated Lua scripts run with EVAL/EVALSHA on both servers: redis.call with several reply types,
pcall, error_reply/status_reply, conversions of numbers, booleans, nil and nested tables, KEYS/ARGV,
and the compatibility libraries. Avoids what differs between Lua 5.1 and 5.4 by design
(tostring() of floats, parser error wording: see docs/SCRIPTING.md)."""
import hashlib

from harness import Cmd

KEYS = ["sk1", "sk2", "sk3"]
WORDS = ["a", "bb", "", "x y", "12", "-7", "3.5", "caf\u00e9"]


def lua_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def value(rng, depth=0):
    """A random Lua expression whose conversion to RESP is the same in Lua 5.1 and 5.4."""
    r = rng.random()
    if depth < 3 and r < 0.2:
        n = rng.randint(0, 4)
        items = [value(rng, depth + 1) for _ in range(n)]
        if rng.random() < 0.2 and items:
            items.insert(rng.randrange(len(items)), "nil")  # an array stops at the first nil
        return "{" + ", ".join(items) + "}"
    if r < 0.35:
        return str(rng.randint(-1000, 1000))
    if r < 0.45:
        return rng.choice(["3.7", "-3.7", "0.5", "1e3", "2^31", "-(2^40)", "7 / 2", "7 % 3", "-7 % 3"])
    if r < 0.6:
        return lua_str(rng.choice(WORDS))
    if r < 0.68:
        return rng.choice(["true", "false", "nil"])
    if r < 0.74:
        return "{ok = " + lua_str(rng.choice(["OK", "fine", "QUEUED"])) + "}"
    if r < 0.8:
        return "{err = " + lua_str(rng.choice(["ERR bad", "WRONGTYPE x", "MY code"])) + "}"
    if r < 0.86:
        return "redis.call('get', KEYS[1])"
    if r < 0.9:
        return "redis.call('ping')"
    if r < 0.94:
        return "redis.pcall('get')"
    return "redis.call('echo', ARGV[1])"


SNIPPETS = [
    "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.call('get', KEYS[1])",
    "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
    "return {redis.call('get', KEYS[1]), redis.call('get', KEYS[2])}",
    "return redis.call('set', KEYS[1], ARGV[1], 'NX')",
    "return redis.call('incr', KEYS[1])",
    "return redis.pcall('incr', KEYS[1])",
    "return redis.call('incrby', KEYS[1], 10 / 2)",
    "return redis.call('incrbyfloat', KEYS[1], 1.5)",
    "return redis.call('del', KEYS[1], KEYS[2])",
    "return redis.call('exists', KEYS[1], KEYS[2])",
    "return redis.call('type', KEYS[1])",
    "return redis.call('lpush', KEYS[1], ARGV[1], 'z')",
    "return redis.pcall('lpush', KEYS[1], ARGV[1])",
    "return redis.call('lrange', KEYS[1], 0, -1)",
    "return redis.pcall('lrange', KEYS[1], 0, -1)",
    "return redis.call('lpop', KEYS[1])",
    "return redis.pcall('blpop', KEYS[1], 0)",
    "return redis.call('hset', KEYS[2], 'f', ARGV[1])",
    "return redis.pcall('hget', KEYS[2], 'f')",
    "return redis.call('zadd', KEYS[3] or KEYS[1], 1.5, ARGV[1])",
    "return redis.pcall('zrange', KEYS[1], 0, -1, 'WITHSCORES')",
    "return redis.pcall('zscore', KEYS[1], ARGV[1])",
    "redis.setresp(3) return redis.pcall('zscore', KEYS[1], ARGV[1])",
    "return redis.call('strlen', KEYS[1])",
    "return redis.pcall('append', KEYS[1], ARGV[1])",
    "return redis.call('expire', KEYS[1], 100)",
    "return redis.call('persist', KEYS[1])",
    "return redis.call('get', KEYS[1]) == false",
    "return type(redis.call('get', KEYS[1]))",
    "return redis.pcall('get', KEYS[1], KEYS[2])",
    "return redis.call('get', KEYS[1], KEYS[2])",
    "return redis.pcall('nosuchcmd', KEYS[1])",
    "return redis.call('nosuchcmd')",
    "local r = redis.pcall('get') return r.err",
    "return redis.error_reply(ARGV[1])",
    "return redis.status_reply(ARGV[1])",
    "return redis.call('echo', ARGV[1])",
    "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
    "return #ARGV[1]",
    "return string.upper(ARGV[1])",
    "return string.rep(ARGV[1], 3)",
    "return string.format('%d:%s', #ARGV[1], ARGV[1])",
    "return tonumber(ARGV[1])",
    "return tonumber(ARGV[1]) ~= nil",
    "return cjson.encode({ARGV[1], #ARGV[1], true})",
    "return cjson.decode(cjson.encode({ARGV[1], 5}))",
    "return cmsgpack.pack(ARGV[1], #ARGV[1])",
    "return {cmsgpack.unpack(cmsgpack.pack({ARGV[1], 1, -2}))}",
    "return bit.tohex(#ARGV[1] * 1000)",
    "return bit.bxor(#ARGV[1], 0xff)",
    "return struct.pack('>I2', #ARGV[1])",
    "return redis.sha1hex(ARGV[1])",
    "error(ARGV[1])",
    "error({err = 'ERR from table'})",
    "local ok, e = pcall(error, {err = 'caught'}) return e",
    "return redis.call('select', '3')",
    "return redis.call('dbsize')",
    "return x_undefined_global",
    "y_global = 1",
    "redis.setresp(3) return redis.call('get', KEYS[1])",
    "redis.setresp(3) return {true, false, {double = 2.5}, {map = {k = 'v'}}}",
    "return redis.setresp(5)",
]


def generate(rng):
    loaded = []
    while True:
        r = rng.random()
        k1, k2 = rng.choice(KEYS), rng.choice(KEYS)
        arg = rng.choice(WORDS)
        if r < 0.35:
            yield Cmd("EVAL", "return " + value(rng), "2", k1, k2, arg)
        elif r < 0.75:
            yield Cmd("EVAL", rng.choice(SNIPPETS), "2", k1, k2, arg)
        elif r < 0.82:
            body = rng.choice(SNIPPETS)
            loaded.append(body)
            yield Cmd("SCRIPT", "LOAD", body)
        elif r < 0.9 and loaded:
            body = rng.choice(loaded)
            sha = hashlib.sha1(body.encode()).hexdigest()
            yield Cmd(rng.choice(["EVALSHA", "EVALSHA_RO"]), rng.choice([sha, sha.upper()]), "2", k1, k2, arg)
        elif r < 0.93:
            yield Cmd("EVAL_RO", rng.choice(SNIPPETS), "2", k1, k2, arg)
        elif r < 0.95:
            yield Cmd("EVAL", "return 1", rng.choice(["-1", "9", "x", "3"]), k1, k2)
        elif r < 0.97:
            yield Cmd("EVALSHA", "0" * 40, "0")
        elif r < 0.985:
            yield Cmd("SCRIPT", "EXISTS", *[hashlib.sha1(b.encode()).hexdigest() for b in loaded[-3:]] or ["0" * 40])
        else:
            loaded = []
            yield Cmd("SCRIPT", "FLUSH")
