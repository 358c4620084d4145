"""The Lua sandbox under attack: one test per item of Redis's Lua CVE history (and the resource
limits of the scripting issue). Each script is an attack that must fail, leaving the server alive
and the environment of later scripts untouched."""
import pytest
import redis

RE = redis.exceptions.ResponseError


def fails(r, script, *args, match=None):
    with pytest.raises(RE) as e:
        r.eval(script, 0, *args)
    if match:
        assert match in str(e.value), str(e.value)
    assert r.ping()
    return str(e.value)


# --- CVE-2015-4335: loading bytecode ---------------------------------------------------------

def test_no_bytecode_through_load(r):
    assert r.eval("return load(string.dump(function() return 1 end))", 0) is None
    assert r.eval("local f, e = load(string.dump(function() return 1 end)) return e", 0).startswith(b"attempt to load a binary chunk")


def test_no_bytecode_through_load_with_binary_mode(r):
    assert r.eval("local f, e = load(string.dump(function() return 1 end), 'x', 'b') return e", 0).startswith(b"attempt to load a binary chunk")


def test_no_bytecode_through_loadstring(r):
    assert r.eval("return loadstring(string.char(27) .. 'LuaT')", 0) is None


def test_no_bytecode_through_reader_function(r):
    script = """
    local code = string.dump(function() return 1 end)
    local done = false
    local f, e = load(function() if done then return nil end done = true return code end)
    return e
    """
    assert b"binary" in r.eval(script, 0)


# --- CVE-2022-0543: reaching the host (package, io, os, loaders) -------------------------------

@pytest.mark.parametrize("name", ["io", "package", "dofile", "loadfile", "debug", "module", "newproxy", "setfenv", "getfenv"])
def test_dangerous_globals_absent(r, name):
    fails(r, f"return {name}", match="Script attempted to access nonexistent global variable")


def test_os_only_has_clock(r):
    assert r.eval("return type(os.clock())", 0) == b"number"
    assert r.eval("return {os.execute, os.exit, os.getenv, os.remove, os.rename, os.tmpname}", 0) == []
    fails(r, "os.execute = function() end", match="Attempt to modify a readonly table")


def test_require_cannot_reach_disk(r):
    for mod in ["io", "os", "package", "debug", "/etc/passwd", "../../etc/passwd", "socket"]:
        fails(r, "return require(ARGV[1])", mod, match="not found")


def test_string_library_has_no_loader_escape(r):
    # getmetatable('') does not give the real string table, so nothing reaches raw library tables.
    assert r.eval("return getmetatable('').__index == nil", 0) == 1
    fails(r, "getmetatable('').__index = string", match="Attempt to modify a readonly table")


# --- CVE-2022-24735 / CVE-2022-24736: globals and library tables are read-only -----------------

@pytest.mark.parametrize("script", [
    "x = 1", "KEYS = {}", "redis = nil", "redis.call = function() return 'evil' end", "string.upper = nil",
    "table.insert = nil", "math.floor = nil", "cjson.encode = nil", "cmsgpack.pack = nil", "struct.pack = nil",
    "bit.band = nil", "os.clock = nil", "_G.x = 1", "rawset(_G, 'x', 1)", "rawset(string, 'x', 1)",
    "rawset(redis, 'call', tostring)", "setmetatable(_G, nil)", "setmetatable(string, {})", "table.insert(redis, 1)",
    "function globalfn() end",
])
def test_readonly_environment(r, script):
    fails(r, script, match="Attempt to modify a readonly table")
    # Nothing leaked into the next script.
    assert r.eval("return redis.call('ping')", 0) == b"PONG"
    assert r.eval("return string.upper('a')", 0) == b"A"
    assert r.eval("return cjson.encode({1})", 0) == b"[1]"


def test_no_state_shared_through_metatables(r):
    fails(r, "getmetatable(_G).__index = function() return 1 end", match="Attempt to modify a readonly table")
    fails(r, "local g = getmetatable(_G) g.__index = {}", match="Attempt to modify a readonly table")
    fails(r, "rawset(getmetatable(_G), '__index', {})", match="readonly")
    fails(r, "setmetatable(getmetatable(_G), {})")
    fails(r, "return x", match="nonexistent global variable 'x'")


# --- CVE-2025-46818: metatables of basic types -------------------------------------------------

def test_string_metatable_is_frozen(r):
    fails(r, "getmetatable('').__index = {upper = function() return 'evil' end}", match="readonly")
    fails(r, "setmetatable(getmetatable(''), {})")
    fails(r, "local mt = getmetatable('') rawset(mt, '__index', {})", match="readonly")
    assert r.eval("return ('abc'):upper()", 0) == b"ABC"


def test_no_debug_setmetatable(r):
    fails(r, "debug.setmetatable(1, {__index = function() return 'evil' end})", match="nonexistent global variable 'debug'")
    fails(r, "return (1).x")


# --- CVE-2021-32626: Lua stack and nesting --------------------------------------------------------

def test_self_referencing_reply_is_bounded(lunar_server):
    from support.resp import Conn
    c = Conn(lunar_server.port)
    c.sock.settimeout(30)
    # Read the raw reply iteratively: it nests up to the cap and ends in an error, not a crash.
    c.send_raw(Conn.encode(["EVAL", "local t = {} t[1] = t return t", "0"]))
    depth = 0
    while True:
        line = c._line()
        if line.startswith(b"*"):
            depth += 1
            continue
        assert line.startswith(b"-ERR reached lua stack limit")
        break
    assert 10 < depth <= 1000
    assert c.call("PING") == ("simple", b"PONG")


def test_many_return_values_and_huge_unpack(r):
    assert r.eval("local t = {} for i = 1, 100000 do t[i] = i end return #{unpack(t)}", 0) == 100000
    fails(r, "local t = {} return unpack(t, 1, 1e8)", match="too many results")


def test_many_command_arguments(r):
    assert r.eval("local t = {'echo', 'x'} return redis.call(unpack(t))", 0) == b"x"
    script = "local t = {} for i = 1, 10000 do t[i] = 'a' end return redis.pcall('get', unpack(t)).err"
    assert r.eval(script, 0) == b"ERR Wrong number of args calling Redis command from script"
    script = "local t = {'mset'} for i = 1, 20000 do t[i + 1] = 'k' .. (i % 10) end return redis.pcall(unpack(t))"
    try:
        r.eval(script, 0)  # MSET may not exist yet; either way the 20001 arguments are handled
    except RE:
        pass
    assert r.ping()


def test_deep_recursion(r):
    fails(r, "local function f(n) return 1 + f(n + 1) end return f(1)", match="stack overflow")


def test_deep_pcall_nesting(r):
    script = "local function f(n) if n == 0 then return 0 end return select(2, pcall(f, n - 1)) end return f(100000)"
    try:
        r.eval(script, 0)  # pcall catches the C stack overflow: any reply is fine, a crash is not
    except RE:
        pass
    assert r.ping()


# --- memory: string.rep of gigabytes, endless tables (lua-memory-limit) ---------------------------

def test_string_rep_gigabytes(r):
    fails(r, "return string.rep('x', 1024 * 1024 * 1024)", match="out of memory")
    fails(r, "return string.rep('x', 2^40)")


def test_endless_table(r):
    fails(r, "local t = {} local i = 0 while true do i = i + 1 t[i] = i end", match="out of memory")
    fails(r, "local s = 'x' while true do s = s .. s end", match="out of memory")
    assert r.eval("return 'still fine'", 0) == b"still fine"


def test_memory_error_cannot_be_swallowed_forever(r):
    script = "local n = 0 while n < 5 do local ok = pcall(string.rep, 'x', 1024 * 1024 * 1024) n = n + 1 end return n"
    assert r.eval(script, 0) == 5


# --- CVE-2018-11218 / CVE-2018-11219: cmsgpack and struct bounds --------------------------------

@pytest.mark.parametrize("data", [
    "\\221\\255\\255\\255\\255", "\\219\\255\\255\\255\\255", "\\223\\255\\255\\255\\255", "\\220\\255\\255",
    "\\217\\200", "\\203\\1\\2", "\\207", "\\193",
])
def test_cmsgpack_truncated_input(r, data):
    fails(r, f"return cmsgpack.unpack('{data}')")


def test_cmsgpack_deep_nesting(r):
    fails(r, "return cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')", match="nested")
    # Packing nests at most 16 levels (deeper tables become nil) instead of recursing without bound.
    assert r.eval("local t = {} local c = t for i = 1, 100 do c[1] = {} c = c[1] end return #cmsgpack.pack(t)", 0) == 17


def test_cmsgpack_huge_counts_refused_quickly(r):
    fails(r, "return cmsgpack.unpack_limit('\\221\\127\\255\\255\\255', 1)")


@pytest.mark.parametrize("script", [
    "return struct.pack('i17', 1)", "return struct.pack('i0', 1)", "return struct.unpack('c99999999', 'x')",
    "return struct.pack('c2147483647', 'x')", "return struct.unpack('i4', 'abc')", "return struct.unpack('s', 'abc')",
    "return struct.unpack('c0', 'abc')", "return struct.size('s')", "return struct.pack('i99999999999999999999', 1)",
    "return struct.unpack('i4', 'abcd', 10)", "return struct.unpack('i4', 'abcd', -5)", "return struct.pack('q', 1)",
])
def test_struct_bounds(r, script):
    fails(r, script)


# --- CVE-2022-24834: cjson encoding of large escaped strings -------------------------------------

def test_cjson_large_escaped_string(r):
    n = r.eval("return #cjson.encode(string.rep('\"', 2 * 1024 * 1024))", 0)
    assert n == 2 * 2 * 1024 * 1024 + 2


def test_cjson_deep_nesting(r):
    fails(r, "return cjson.decode(string.rep('[', 100000))", match="Found too many nested data structures")
    fails(r, "local t = {} t[1] = t return cjson.encode(t)", match="excessive nesting")


# --- CVE-2024-31449: bit.tohex ---------------------------------------------------------------------

def test_bit_tohex_int_min(r):
    assert r.eval("return bit.tohex(65535, -2147483648)", 0) == b"0000FFFF"
    assert r.eval("return bit.tohex(65535, 2^31)", 0) == b"0000FFFF"
    assert r.eval("return bit.tohex(-1, 2^40)", 0) == b""  # 2^40 wraps to 0 digits, as in LuaBitOp


# --- finalizers would run later, outside any time limit ------------------------------------------

def test_no_gc_finalizers(r):
    fails(r, "setmetatable({}, {__gc = function() while true do end end}) collectgarbage() return 1",
          match="__gc metamethods are not allowed")
    # Adding __gc after setmetatable does not register a finalizer (Lua 5.4 rule): GC stays harmless.
    assert r.eval("local mt = {} setmetatable({}, mt) mt.__gc = function() while true do end end "
                  "collectgarbage() return 1", 0) == 1
    assert r.ping()


def test_coroutine_loop_is_killable_by_memory_and_errors(r):
    fails(r, "local co = coroutine.wrap(function() local t = {} while true do t[#t + 1] = 'xxxxxxxxxx' end end) co()",
          match="memory")
    assert r.eval("local co = coroutine.create(function(a) coroutine.yield(a + 1) return 'end' end) "
                  "local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co) return {x, y}", 0) == [2, b"end"]
