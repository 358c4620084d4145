"""FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL/HELP and FCALL/FCALL_RO, compared with
redis-server 7.0 where Redis behaves the same (DUMP payloads are Lunar's own format)."""
import pytest
import redis

from support.resp import Conn

LIB = "#!lua name=mylib\nredis.register_function('echo1', function(keys, args) return {keys[1], args[1]} end)"
LIB_W = ("#!lua name=wlib\n"
         "redis.register_function('setit', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n"
         "redis.register_function{function_name='getit', callback=function(keys) return redis.call('get', keys[1]) end,"
         " flags={'no-writes'}, description='reads a key'}\n"
         "redis.register_function{function_name='tryset', callback=function(keys) return redis.pcall('set', keys[1], 'x') end,"
         " flags={'no-writes'}}\n"
         "redis.register_function('boom', function() error('boom') end)\n"
         "redis.register_function('errline', function()\n  local a = 1\n  return redis.call('nosuch')\nend)\n")


@pytest.fixture
def both(r, rr, lunar_server, redis_server):
    lc, rc = Conn(lunar_server.port), Conn(redis_server.port)
    lc.call("FUNCTION", "FLUSH")
    rc.call("FUNCTION", "FLUSH")

    def run(*args):
        return lc.call(*args), rc.call(*args)
    yield run
    lc.call("FUNCTION", "FLUSH")
    rc.call("FUNCTION", "FLUSH")
    lc.close()
    rc.close()


def same(both, *args):
    lunar, ref = both(*args)
    assert lunar == ref, f"{args!r}: lunar={lunar!r} redis={ref!r}"
    return lunar


@pytest.mark.parametrize("code", [
    "return 1", "#!lua\nreturn 1", "#!lua name=a b=c\nreturn 1", "#!luax name=a\nreturn 1", "#!lua name=a-b\nreturn 1",
    "#!lua name=\nreturn 1", "#!lua name=a\nreturn 1",
    "#!lua name=a\nredis.register_function('f-x', function() end)",
    "#!lua name=a\nredis.register_function('f', 1)", "#!lua name=a\nredis.register_function('f')",
    "#!lua name=a\nredis.register_function(1, function() end)",
    "#!lua name=a\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'bogus'}}",
    "#!lua name=a\nredis.register_function{function_name='f', callback=function() return 1 end, bogus=1}",
    "#!lua name=a\nredis.register_function{callback=function() return 1 end}",
    "#!lua name=a\nredis.register_function{function_name='f'}",
    "#!lua name=a\nredis.register_function('g', function() end) redis.register_function('g', function() end)",
    "#!lua name=a\nredis.call('ping')", "#!lua name=a\nreturn KEYS", "#!lua name=a\nredis.setresp(3)",
    "#!lua name=a\nx = 1", "#!lua name=spin\nwhile true do end",
    "#!lua name=a\nredis.log(redis.LOG_NOTICE, 'loading') redis.register_function('f', function() return redis.REDIS_VERSION end)",
    # The header as Redis splits it: quotes, NAME= in any case, the engine in any case, and its
    # checks in Redis's order (name before engine).
    "#! name=test\nredis.register_function('foo', function() return 1 end)",
    "#!lua name=foo name=bar\nredis.register_function('foo', function() return 1 end)",
    "#!lua  name=x\nredis.register_function('foo', function() return 1 end)",
    "#!LUA NAME=x\nredis.register_function('foo', function() return 1 end)",
    "#!lua name=\"q\"\nredis.register_function('foo', function() return 1 end)",
    "#!lua name=\"q\nredis.register_function('foo', function() return 1 end)",
    "#!lua name=x", "#!lua name=x\n", "#!nosuch name=a-b\nreturn 1", "#!lua\tname=t\nredis.register_function('foo', function() return 1 end)",
    # A library's top level sees only `redis` (reduced) while it loads.
    "#!lua name=a\nreturn math.random()", "#!lua name=a\nreturn string.len('x')", "#!lua name=a\nlocal x = pairs({})",
    "#!lua name=a\nerror('boom')", "#!lua name=a\nlocal t = table", "#!lua name=a\nreturn _G",
    "#!lua name=a\nreturn redis.sha1hex('x')", "#!lua name=a\nreturn redis.REDIS_VERSION_NUM > 0",
    "#!lua name=a\nredis.register_function('f', function() return math.floor(tonumber('1.5')) end)",
    # Named arguments: each entry checked in turn, keys in any case, Redis's messages.
    "#!lua name=lib\nredis.register_function{function_name=function() return 1 end, callback=function() return 'hello' end}",
    "#!lua name=lib\nredis.register_function{function_name='f1', callback='bad'}",
    "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, description=function() end}",
    "#!lua name=lib\nredis.register_function{function_name='f1', callback=function() return 1 end, flags='x'}",
    "#!lua name=lib\nredis.register_function{FUNCTION_NAME='f1', Callback=function() return 1 end, FLAGS={'no-writes'}}",
    "#!lua name=lib\nredis.register_function{'f1', function() return 1 end}",
    "#!lua name=lib\nredis.register_function{[true]=1}",
    "#!lua name=lib\nredis.register_function{}",
])
def test_function_load_matches_redis(both, code):
    same(both, "FUNCTION", "LOAD", code)


def test_load_replace_and_conflicts(both):
    same(both, "FUNCTION", "LOAD", LIB)
    same(both, "FUNCTION", "LOAD", LIB)
    same(both, "FUNCTION", "LOAD", "REPLACE", LIB.replace("args[1]", "'replaced'"))
    same(both, "FCALL", "echo1", "1", "k", "a")
    same(both, "FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('echo1', function() return 1 end)")
    same(both, "FUNCTION", "LOAD", "BOGUS", LIB)
    same(both, "FUNCTION", "LOAD")
    same(both, "FUNCTION", "LOAD", "REPLACE")


def test_fcall(both):
    same(both, "FUNCTION", "LOAD", LIB_W)
    for args in [
        ("FCALL", "setit", "1", "k", "v"), ("FCALL", "getit", "1", "k"), ("FCALL_RO", "getit", "1", "k"),
        ("FCALL_RO", "setit", "1", "k", "v"), ("FCALL", "tryset", "1", "k"), ("FCALL", "boom", "0"),
        ("FCALL", "errline", "0"), ("FCALL", "nosuch", "0"), ("FCALL", "getit", "5"), ("FCALL", "getit", "-1"),
        ("FCALL", "getit", "x"), ("FCALL", "getit"), ("FCALL_RO", "nosuch", "0"), ("FCALL", "GETIT", "1", "k"),
    ]:
        same(both, *args)


def test_function_list(both):
    same(both, "FUNCTION", "LIST")
    same(both, "FUNCTION", "LOAD", LIB)
    same(both, "FUNCTION", "LIST")
    same(both, "FUNCTION", "LIST", "WITHCODE")
    same(both, "FUNCTION", "LIST", "LIBRARYNAME", "my*")
    same(both, "FUNCTION", "LIST", "LIBRARYNAME", "zz*", "WITHCODE")
    same(both, "FUNCTION", "LIST", "bogus")
    same(both, "FUNCTION", "LIST", "LIBRARYNAME")


def test_function_list_flags_and_description(r, rr):
    for c in (r, rr):
        c.function_flush()
        c.function_load(LIB_W)
    a, b = [as_dict(x) for x in r.function_list()], [as_dict(x) for x in rr.function_list()]
    assert a[0][b"library_name"] == b[0][b"library_name"] == b"wlib"
    norm = lambda lib: sorted(repr(sorted(as_dict(f).items())) for f in lib[b"functions"])  # noqa: E731
    assert norm(a[0]) == norm(b[0])


def test_delete_flush_stats_kill(both):
    same(both, "FUNCTION", "DELETE", "nosuch")
    same(both, "FUNCTION", "LOAD", LIB)
    same(both, "FUNCTION", "STATS")
    same(both, "FUNCTION", "DELETE", "mylib")
    same(both, "FCALL", "echo1", "0")
    same(both, "FUNCTION", "LOAD", LIB)
    same(both, "FUNCTION", "FLUSH", "bogus")
    same(both, "FUNCTION", "FLUSH", "ASYNC")
    same(both, "FUNCTION", "FLUSH", "SYNC")
    same(both, "FUNCTION", "STATS")
    same(both, "FUNCTION", "KILL")
    same(both, "FUNCTION", "bogus")
    same(both, "FUNCTION", "DELETE")


def as_dict(flat):
    """RESP2 maps arrive as flat [k1, v1, k2, v2…] lists."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def lib_names(r):
    return sorted(as_dict(x)[b"library_name"] for x in r.function_list())


def test_dump_restore_roundtrip(r):
    r.function_flush()
    r.function_load(LIB)
    r.function_load(LIB_W)
    payload = r.function_dump()
    r.function_flush()
    assert r.function_list() == []
    assert r.function_restore(payload)
    assert lib_names(r) == [b"mylib", b"wlib"]
    assert r.fcall("echo1", 1, "k", "a") == [b"k", b"a"]
    # APPEND (default) refuses existing libraries; REPLACE and FLUSH accept them.
    with pytest.raises(redis.exceptions.ResponseError, match="already exists"):
        r.function_restore(payload)
    assert r.function_restore(payload, "REPLACE")
    assert r.function_restore(payload, "FLUSH")
    with pytest.raises(redis.exceptions.ResponseError, match="DUMP payload version or checksum are wrong"):
        r.function_restore(b"garbage")
    with pytest.raises(redis.exceptions.ResponseError, match="DUMP payload version or checksum are wrong"):
        r.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.exceptions.ResponseError, match="Wrong restore policy"):
        r.function_restore(payload, "BOGUS")
    assert len(r.function_list()) == 2


def test_restore_policy_errors_match_redis(both):
    same(both, "FUNCTION", "RESTORE", "garbage")
    same(both, "FUNCTION", "RESTORE", "garbage", "BOGUS")


@pytest.mark.parametrize("args", [
    ("FUNCTION", "RESTORE", "arg1", "args2", "arg3"), ("FUNCTION", "restore", "a", "b", "c"),
    ("FUNCTION", "FLUSH", "bad_arg"), ("FUNCTION", "FLUSH", "sync", "extra_arg"), ("FUNCTION", "flush", "a", "b"),
    ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "foo", "LIBRARYNAME", "foo"), ("FUNCTION", "LIST", "withCode", "WITHCODE"),
    ("FUNCTION", "LIST", "LIBRARYNAME"), ("FUNCTION", "LIST", "bogus"),
])
def test_subcommand_argument_errors_match_redis(both, args):
    same(both, *args)


def test_register_function_is_not_there_at_run_time(both):
    same(both, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f1', function(k, a)\n"
         "  return type(redis.register_function) end)")
    same(both, "FCALL", "f1", "0")


def test_may_replicate_commands_are_writes_for_read_only_scripts(both):
    same(both, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='pub', "
         "callback=function() return redis.call('publish', 'ch', 'm') end, flags={'no-writes'}}\n"
         "redis.register_function{function_name='pfc', callback=function() return redis.call('pfcount', 'h') end, "
         "flags={'no-writes'}}")
    for args in (("FCALL_RO", "pub", "0"), ("FCALL", "pub", "0"), ("FCALL_RO", "pfc", "0"),
                 ("EVAL_RO", "return redis.call('publish', 'ch', 'msg')", "0"),
                 ("EVAL", "#!lua flags=no-writes\nreturn redis.call('publish', 'ch', 'msg')", "0"),
                 ("EVAL", "return redis.call('publish', 'ch', 'msg')", "0")):
        same(both, *args)


def test_debug_reload_noflush_with_a_library_loaded(both):
    same(both, "FUNCTION", "LOAD", "#!lua name=test\nredis.register_function('test', function() return 1 end)")
    same(both, "DEBUG", "RELOAD", "NOFLUSH")
    same(both, "DEBUG", "RELOAD", "NOFLUSH", "MERGE")
    same(both, "FUNCTION", "LIST")


def test_debug_reload_empties_functions_before_loading(both):
    # Redis empties the function libraries with the data: a library loaded after the save is gone.
    same(both, "FUNCTION", "LOAD", "#!lua name=saved\nredis.register_function('saved', function() return 1 end)")
    same(both, "SAVE")
    same(both, "FUNCTION", "LOAD", "#!lua name=later\nredis.register_function('later', function() return 2 end)")
    same(both, "SET", "fn-reload-later", "1")
    same(both, "DEBUG", "RELOAD", "NOSAVE")
    same(both, "FUNCTION", "LIST")
    same(both, "EXISTS", "fn-reload-later")
    same(both, "DEL", "fn-reload-later")


def test_functions_have_no_keys_globals(both):
    same(both, "FUNCTION", "LOAD", "#!lua name=g\nredis.register_function('k', function(keys, args) return KEYS end)")
    same(both, "FCALL", "k", "0")


def test_help(r):
    lines = r.execute_command("FUNCTION", "HELP")
    assert lines[0].startswith(b"FUNCTION <subcommand>")
    assert any(b"RESTORE" in l for l in lines)


# --- libraries loaded at startup from lua-library-dir, and the sandboxed require -------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

from support.servers import lunar_binary, start_lunar  # noqa: E402


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def lib_dirs():
    d1, d2 = tempfile.mkdtemp(prefix="lunar-lib1-"), tempfile.mkdtemp(prefix="lunar-lib2-")
    write(os.path.join(d1, "modules", "greet.lua"),
          "local M = {}\nfunction M.hello(n) return 'hello ' .. n end\nM.loaded_at = 0\nreturn M\n")
    write(os.path.join(d1, "a_lib.lua"),
          "#!lua name=alib\nlocal g = require('greet')\n"
          "redis.register_function('ahello', function(keys, args) return g.hello(args[1]) end)\n")
    write(os.path.join(d2, "b_lib.lua"),
          "#!lua name=blib\nlocal g = require('greet')\n"
          "redis.register_function{function_name='bhello', callback=function(keys, args) return g.hello('b' .. args[1]) end,"
          " flags={'no-writes'}}\n"
          "redis.register_function('same_module', function() return tostring(require('greet') == g) end)\n")
    return d1, d2


def test_startup_libraries_and_shared_module(lib_dirs):
    d1, d2 = lib_dirs
    s = start_lunar("--lua-library-dir", f"{d1} {d2}")
    try:
        c = redis.Redis(port=s.port, protocol=2, socket_timeout=10)
        assert c.fcall("ahello", 0, "x") == b"hello x"
        assert c.fcall_ro("bhello", 0, "y") == b"hello by"
        assert c.fcall("same_module", 0) == b"true"
        assert lib_names(c) == [b"alib", b"blib"]
        # Reload at runtime with FUNCTION LOAD REPLACE; the module is still resolvable.
        c.function_load("#!lua name=alib\nlocal g = require('greet')\n"
                        "redis.register_function('ahello', function(keys, args) return g.hello(args[1]):upper() end)",
                        replace=True)
        assert c.fcall("ahello", 0, "x") == b"HELLO X"
        # require only resolves the modules from the configured directories.
        with pytest.raises(redis.exceptions.ResponseError, match="not found"):
            c.function_load("#!lua name=clib\nlocal x = require('os')\nredis.register_function('c', function() end)")
    finally:
        s.stop()
    # After a restart the libraries are loaded again (comma-separated directories work too).
    s = start_lunar("--lua-library-dir", f"{d1},{d2}")
    try:
        c = redis.Redis(port=s.port, protocol=2, socket_timeout=10)
        assert c.fcall("ahello", 0, "z") == b"hello z"
    finally:
        s.stop()


def test_bad_library_refuses_start(lib_dirs):
    d1, d2 = lib_dirs
    write(os.path.join(d2, "c_bad.lua"), "#!lua name=bad\n\nlocal x = = 1 redis.register_function('x', function() end)\n")
    out = subprocess.run([lunar_binary(), "--port", "0", "--lua-library-dir", f"{d1} {d2}"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "c_bad.lua" in out.stderr and ":3:" in out.stderr


def test_bad_library_skipped(lib_dirs):
    d1, d2 = lib_dirs
    write(os.path.join(d2, "c_bad.lua"), "#!lua name=bad\nerror_here(\n")
    s = start_lunar("--lua-library-dir", f"{d1} {d2}", "--lua-library-errors", "skip")
    try:
        c = redis.Redis(port=s.port, protocol=2, socket_timeout=10)
        assert lib_names(c) == [b"alib", b"blib"]
        assert "c_bad.lua" in s.log_text()
    finally:
        s.stop()
