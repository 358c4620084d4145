#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLua
import LunarEngine
import LunarRESP
import NIOCore

typealias LuaState = OpaquePointer

/// How a script run ended, for the caller's reply.
enum RunOutcome {
    case ok
    case error(String)
}

/// One Lua state with the Lunar sandbox: used for EVAL scripts (one instance) and for function
/// libraries (another instance). Lives on the engine thread only.
final class LuaVM {
    let L: LuaState
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    unowned(unsafe) let engine: Engine
    /// True for the FUNCTION state (redis.register_function exists there).
    let forFunctions: Bool
    private(set) var envRef: Int32 = 0
    private(set) var gRef: Int32 = 0
    private var errhRef: Int32 = 0
    private var modulesRef: Int32 = 0
    private var loadedRef: Int32 = 0

    /// Protocol used to convert redis.call replies (redis.setresp).
    var resp = 2
    /// The engine-internal client redis.call runs as; its db follows the caller's db at each run.
    let luaClient: Client
    /// Refuse write commands (EVAL_RO, FCALL_RO, no-writes flag).
    var readOnly = false
    /// The running script or function declared allow-oom.
    var allowOOM = false
    /// Running a script right now (SCRIPT KILL / busy bookkeeping).
    private(set) var running = false
    private(set) var startMs: Int64 = 0
    private var busyMarked = false
    /// 1 for scripts, 2 for functions (engine.busy values).
    private var busyKind = 1
    var thresholdMs: Int64 = 5000
    private var scratch = ReplyWriter(resp: 2, capacity: 256)
    /// redis.call's argument array, kept between calls, and the previous call's small arguments.
    private var callArgv: [Bytes] = []
    private var recentArgs = [Bytes](repeating: Bytes(), count: 4)

    /// Called by redis.register_function while a library loads (set by the function registry).
    var registerFunction: ((LuaState) -> Int32)?
    /// True while a library's top-level code runs (redis.call is refused then, as in Redis).
    var loadingLibrary = false

    nonisolated(unsafe) static var current: LuaVM?
    /// The SCRIPT DEBUG session of the running script, if any.
    var debugger: LuaDebugger?

    static let maxNesting = 1000

    /// The allocator's bookkeeping (bytes used, cap, whether the cap applies now), reached directly:
    /// every run and every redis.call switches the cap off and on.
    let allocState: UnsafeMutablePointer<clua_alloc_state>

    init(engine: Engine, forFunctions: Bool) throws {
        guard let L = clua_newstate_limited() else { throw StartupError("cannot create the Lua state") }
        self.L = L
        allocState = clua_allocstate(L)
        self.engine = engine
        self.forFunctions = forFunctions
        self.busyKind = forFunctions ? 2 : 1
        self.luaClient = Client(id: -1, connection: nil, now: unixMillis())
        clua_getextraspace(L).storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        luaL_openlibs(L)
        try buildSandbox()
        clua_set_interrupt(luaInterrupt)
        clua_set_line_callback(luaDebugLine)
        setMemoryLimit(engine.config.int("lua-memory-limit"))
    }

    deinit { clua_close_limited(L) }

    static func from(_ L: LuaState) -> LuaVM {
        let p = clua_getextraspace(L).load(as: UnsafeMutableRawPointer.self)
        return Unmanaged<LuaVM>.fromOpaque(p).takeUnretainedValue()
    }

    private(set) var memoryLimit = 0
    func setMemoryLimit(_ bytes: Int) {
        memoryLimit = max(0, bytes)
        allocState.pointee.limit = memoryLimit
    }
    var memoryUsed: Int { allocState.pointee.used }

    /// Turns the memory cap on or off; returns whether it was on.
    @inline(__always) @discardableResult
    func enforceMemoryLimit(_ on: Bool) -> Bool {
        let was = allocState.pointee.enforce != 0
        allocState.pointee.enforce = on ? 1 : 0
        return was
    }

    // MARK: Sandbox setup

    private func buildSandbox() throws {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let code = Array(Prelude.source.utf8)
        let st = code.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, "=lunar_prelude", "t") }
        }
        if st != LUA_OK { throw StartupError("Lua prelude: \(string(at: -1))") }
        // Host functions table H.
        lua_createtable(L, 0, 16)
        func fn(_ name: String, _ f: lua_CFunction) {
            clua_pushhostfunction(L, f)
            lua_setfield(L, -2, name)
        }
        fn("call", { L in LuaVM.from(L!).redisCall(L!, raise: true) })
        fn("pcall", { L in LuaVM.from(L!).redisCall(L!, raise: false) })
        fn("sha1hex", { L in LuaVM.from(L!).sha1hex(L!) })
        fn("log", { L in LuaVM.from(L!).log(L!) })
        fn("setresp", { L in LuaVM.from(L!).setresp(L!) })
        fn("set_repl", { L in LuaVM.from(L!).setRepl(L!) })
        // The debugger's hooks (SCRIPT DEBUG); outside a session they do nothing, as in Redis.
        fn("debug", { L in
            LuaVM.from(L!).debugger?.logDebug(L!)
            return 0
        })
        fn("breakpoint", { L in
            let d = LuaVM.from(L!).debugger
            d?.breakpointCalled = true
            lua_pushboolean(L, d == nil ? 0 : 1)
            return 1
        })
        fn("acl_check_cmd", { L in LuaVM.from(L!).aclCheck(L!) })
        fn("killed", { L in
            lua_pushboolean(L, LuaVM.from(L!).engine.killRequested.load(ordering: .relaxed) ? 1 : 0)
            return 1
        })
        if forFunctions {
            fn("register_function", { L in
                let vm = LuaVM.from(L!)
                guard let r = vm.registerFunction else {
                    return vm.raise(L!, "ERR redis.register_function can only be called on FUNCTION LOAD command")
                }
                return r(L!)
            })
        }
        clua_push_make_positioned(L)
        lua_setfield(L, -2, "positioned")
        lua_pushlightuserdata(L, nil)
        lua_setfield(L, -2, "null")
        lua_pushstring(L, LunarVersion.redisCompatible)
        lua_setfield(L, -2, "version")
        lua_pushinteger(L, lua_Integer(LunarVersion.redisCompatibleNum))
        lua_setfield(L, -2, "version_num")
        if clua_pcall(L, 1, 1, 0) != LUA_OK { throw StartupError("Lua prelude: \(string(at: -1))") }
        func ref(_ field: String) -> Int32 {
            lua_getfield(L, -1, field)
            return luaL_ref(L, clua_registryindex())
        }
        envRef = ref("env")
        gRef = ref("G")
        errhRef = ref("errh")
        modulesRef = ref("modules")
        loadedRef = ref("loaded")
        redisRef = ref("redis")
        loadRedisRef = ref("loadredis")
        envMetatableRef = ref("envmt")
        loadIndexRef = ref("load_index")
        lua_pushstring(L, "KEYS")
        keysNameRef = luaL_ref(L, clua_registryindex())
        lua_pushstring(L, "ARGV")
        argvNameRef = luaL_ref(L, clua_registryindex())
    }

    /// The strings "KEYS" and "ARGV", kept in the registry: pushing them from there skips hashing and
    /// interning them again on every EVAL.
    private var keysNameRef: Int32 = 0
    private var argvNameRef: Int32 = 0

    private var redisRef: Int32 = 0
    private var loadRedisRef: Int32 = 0

    private var envMetatableRef: Int32 = 0
    private var loadIndexRef: Int32 = 0

    /// Switches the globals between what scripts see and what a library's top level sees while it
    /// loads: only `redis`, reduced to the loading subset (register_function, log…), and `require`.
    func useLoadTimeRedis(_ on: Bool) {
        lua_rawgeti(L, clua_registryindex(), lua_Integer(gRef))
        lua_pushstring(L, "redis")
        lua_rawgeti(L, clua_registryindex(), lua_Integer(on ? loadRedisRef : redisRef))
        lua_rawset(L, -3)
        clua_pop(L, 1)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(envMetatableRef))
        lua_pushstring(L, "__index")
        lua_rawgeti(L, clua_registryindex(), lua_Integer(on ? loadIndexRef : gRef))
        lua_rawset(L, -3)
        clua_pop(L, 1)
    }

    // MARK: Small helpers

    func string(at i: Int32) -> String {
        var len = 0
        guard let p = clua_tolstring(L, i, &len) else { return "(error object is not a string)" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    func bytes(_ L: LuaState, at i: Int32) -> Bytes {
        var len = 0
        guard let p = clua_tolstring(L, i, &len) else { return Bytes() }
        return Bytes(Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: len)))
    }

    func pushBytes(_ L: LuaState, _ b: Bytes) {
        b.raw.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    /// Pushes {err=message} and returns -1: the trampoline raises it.
    func raise(_ L: LuaState, _ message: String) -> Int32 {
        pushErrorTable(L, message)
        return -1
    }

    /// `counted`: the error was counted in the server's error statistics when it happened; the
    /// table carries Redis's `ignore_error_stats_update` so returning it does not count it twice.
    func pushErrorTable(_ L: LuaState, _ message: String, counted: Bool = false) {
        lua_createtable(L, 0, counted ? 2 : 1)
        lua_pushstring(L, message)
        lua_setfield(L, -2, "err")
        if counted {
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, "ignore_error_stats_update")
        }
    }

    // MARK: Compiling

    /// Compiles a text chunk bound to the sandbox environment; leaves the function on the stack.
    /// Returns the Lua error message on failure (nothing left on the stack).
    func compile(_ code: Bytes, chunkName: String) -> String? {
        let st = code.raw.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, chunkName, "t") }
        }
        if st != LUA_OK {
            let msg = string(at: -1)
            clua_pop(L, 1)
            return msg
        }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(envRef))
        _ = lua_setupvalue(L, -2, 1)
        return nil
    }

    /// Pops the function on top of the stack into the registry.
    func storeRef() -> Int32 { luaL_ref(L, clua_registryindex()) }
    func releaseRef(_ r: Int32) { luaL_unref(L, clua_registryindex(), r) }

    // MARK: Running

    /// Sets KEYS and ARGV in the script globals (raw writes: the sandbox refuses script writes).
    ///
    /// The two tables are reused from call to call rather than created anew (creating and later
    /// collecting them was a tenth of an EVALSHA). A script cannot tell: nothing it can write outlives
    /// its call in this state (globals and library tables are read-only, no modules are loaded here),
    /// so no reference to an earlier call's KEYS can exist, and a table the script changed beyond its
    /// elements (a metatable, other keys) is dropped for a fresh one.
    func setKeysAndArgs(_ keys: ArraySlice<Bytes>, _ args: ArraySlice<Bytes>) {
        fillGlobalArray(keys, nameRef: keysNameRef, tableRef: &keysTableRef, count: &keysTableCount)
        fillGlobalArray(args, nameRef: argvNameRef, tableRef: &argvTableRef, count: &argvTableCount)
    }
    private var keysTableRef: Int32 = LUA_NOREF
    private var keysTableCount = 0
    private var argvTableRef: Int32 = LUA_NOREF
    private var argvTableCount = 0

    private func fillGlobalArray(_ items: ArraySlice<Bytes>, nameRef: Int32, tableRef: inout Int32, count: inout Int) {
        let n = items.count
        if tableRef != LUA_NOREF {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(tableRef))
            var clean = lua_getmetatable(L, -1) == 0
            if !clean { clua_pop(L, 1) }
            if clean {
                var i: lua_Integer = 1
                for b in items {
                    pushBytes(L, b)
                    lua_rawseti(L, -2, i)
                    i += 1
                }
                while Int(i) <= count {
                    lua_pushnil(L)
                    lua_rawseti(L, -2, i)
                    i += 1
                }
                // Nothing may follow element n (the key n exists: it was just set).
                if n > 0 { lua_pushinteger(L, lua_Integer(n)) } else { lua_pushnil(L) }
                if lua_next(L, -2) != 0 {
                    clua_pop(L, 2)
                    clean = false
                }
            }
            clua_pop(L, 1)
            if clean {
                count = n
                return
            }
            luaL_unref(L, clua_registryindex(), tableRef)
            tableRef = LUA_NOREF
        }
        // A new table, made the global and kept for the next calls.
        lua_rawgeti(L, clua_registryindex(), lua_Integer(gRef))
        lua_rawgeti(L, clua_registryindex(), lua_Integer(nameRef))
        pushArray(items)
        lua_pushvalue(L, -1)
        tableRef = luaL_ref(L, clua_registryindex())
        lua_rawset(L, -3)
        clua_pop(L, 1)
        count = n
    }

    func pushArray(_ items: ArraySlice<Bytes>) {
        lua_createtable(L, Int32(items.count), 0)
        var i: lua_Integer = 1
        for b in items {
            pushBytes(L, b)
            lua_rawseti(L, -2, i)
            i += 1
        }
    }

    /// Runs the function referenced by `fnRef` with `nargs` arguments produced by `pushArgs`,
    /// writes the converted result (or the error) to `ctx.out`. `name` is the script sha or function name.
    /// The reply buffer is only touched at the end: while the script runs, a message it publishes to
    /// its own caller goes into that buffer, ahead of the reply (as in Redis).
    func run(fnRef: Int32, replyTo ctx: CommandContext, name: @autoclosure () -> String, readOnly: Bool,
             allowOOM: Bool = false, pushArgs: () -> Int32) {
        let caller = ctx.client
        let top = lua_gettop(L)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(errhRef))
        let errh = lua_gettop(L)
        lua_rawgeti(L, clua_registryindex(), lua_Integer(fnRef))
        let nargs = pushArgs()
        luaClient.db = caller.db
        luaClient.resp = 2
        resp = 2
        self.readOnly = readOnly
        self.allowOOM = allowOOM
        running = true
        busyMarked = false
        startMs = monotonicMillis()
        let prev = LuaVM.current
        LuaVM.current = self
        if debugger != nil { clua_install_debug_hook(L) } else { clua_install_hook(L, 100_000) }
        enforceMemoryLimit(true)
        let status = clua_pcall(L, nargs, 1, errh)
        enforceMemoryLimit(false)
        clua_install_hook(L, 0)
        LuaVM.current = prev
        running = false
        if status == LUA_OK {
            writeReply(&ctx.out, index: lua_gettop(L), depth: 0)
        } else if status == LUA_ERRMEM {
            ctx.out.error("ERR Error running script: out of memory (lua-memory-limit reached) script: \(name())")
            _ = clua_gc_collect(L)
        } else if lua_type(L, -1) == LUA_TTABLE {
            ctx.out.error(formatError(name: name()))
            if carriesCountedMark(lua_gettop(L)) { engine.scriptErrorAlreadyCounted = true }
        } else {
            ctx.out.error("ERR \(string(at: -1)) script: \(name())")
        }
        lua_settop(L, top)
        if busyMarked || engine.busy.load(ordering: .relaxed) != 0 {
            engine.logger.warning("Slow script detected: still in execution after \(monotonicMillis() - startMs) milliseconds.")
        }
        engine.busy.store(0, ordering: .releasing)
        engine.killRequested.store(false, ordering: .releasing)
        engine.scriptHasWritten.store(false, ordering: .releasing)
        // A script that left lots of garbage gets a full collection now rather than during the next one.
        if memoryLimit > 0 && memoryUsed > memoryLimit / 2 { _ = clua_gc_collect(L) }
    }

    /// Whether the error table at `t` repeats an error counted when it happened (its reply is then
    /// not counted again, see Engine.scriptErrorAlreadyCounted).
    private func carriesCountedMark(_ t: Int32) -> Bool {
        let marked = rawField(t, "ignore_error_stats_update") == LUA_TBOOLEAN && lua_toboolean(L, -1) != 0
        clua_pop(L, 1)
        return marked
    }

    /// The error table on top of the stack as Redis 7 words a script error.
    private func formatError(name: String) -> String {
        let t = lua_gettop(L)
        lua_getfield(L, t, "err")
        let msg = lua_type(L, -1) == LUA_TSTRING ? string(at: -1) : "ERR unknown error"
        lua_getfield(L, t, "source")
        let source = lua_type(L, -1) == LUA_TSTRING ? string(at: -1) : "?"
        lua_getfield(L, t, "line")
        let line = lua_type(L, -1) == LUA_TNUMBER ? String(clua_tointeger(L, -1)) : "?"
        clua_pop(L, 3)
        return "\(msg) script: \(name), on \(source):\(line)."
    }

    /// Hook tick: marks the server busy past the threshold and reports a requested kill.
    func tick() -> Int32 {
        // Library top-level code gets 500 ms, as in Redis (it only registers functions).
        if loadingLibrary {
            return monotonicMillis() - startMs > 500 ? 2 : 0
        }
        // A debugging session holds the engine on purpose: no BUSY for it.
        if debugger != nil { return engine.killRequested.load(ordering: .acquiring) ? 1 : 0 }
        if !busyMarked && monotonicMillis() - startMs >= thresholdMs {
            busyMarked = true
            engine.busy.store(busyKind, ordering: .releasing)
        }
        if busyMarked { engine.answerQueuedWhileBusy() }
        if engine.killRequested.load(ordering: .acquiring) { return 1 }
        return 0
    }

    // MARK: Lua → RESP

    /// Converts the Lua value at `index` into a reply, as Redis documents it.
    func writeReply(_ out: inout ReplyWriter, index: Int32, depth: Int) {
        switch lua_type(L, index) {
        case LUA_TSTRING:
            var len = 0
            let p = clua_tolstring(L, index, &len)!
            out.bulk(bytes: UnsafeRawBufferPointer(start: p, count: len))
        case LUA_TBOOLEAN:
            let b = lua_toboolean(L, index) != 0
            if resp == 2 {
                if b { out.integer(1) } else { out.nullBulk() }
            } else {
                out.bool(b)
            }
        case LUA_TNUMBER:
            if clua_isinteger(L, index) != 0 {
                out.integer(Int(clua_tointeger(L, index)))
            } else {
                out.integer(truncateToInt(clua_tonumber(L, index)))
            }
        case LUA_TTABLE:
            if depth >= LuaVM.maxNesting || lua_checkstack(L, 4) == 0 {
                out.error("ERR reached lua stack limit")
                return
            }
            let t = index < 0 ? lua_gettop(L) + index + 1 : index
            if rawField(t, "err") == LUA_TSTRING {
                let message = string(at: -1)
                out.error(message)
                clua_pop(L, 1)
                let counted = carriesCountedMark(t)
                if depth == 0 {
                    if counted { engine.scriptErrorAlreadyCounted = true }
                } else if counted {
                    engine.scriptNestedErrors.counted += 1
                } else {
                    // Redis counts every error written in a reply, nested ones included.
                    engine.countScriptError(message, rejecting: nil)
                    engine.scriptNestedErrors.new = true
                }
                return
            }
            clua_pop(L, 1)
            if rawField(t, "ok") == LUA_TSTRING {
                var s = bytes(L, at: -1)
                for i in s.indices where s[i] == 13 || s[i] == 10 { s[i] = 32 }
                out.simple(s)
                clua_pop(L, 1)
                return
            }
            clua_pop(L, 1)
            if rawField(t, "double") == LUA_TNUMBER {
                out.double(clua_tonumber(L, -1))
                clua_pop(L, 1)
                return
            }
            clua_pop(L, 1)
            if rawField(t, "big_number") == LUA_TSTRING {
                var s = bytes(L, at: -1)
                for i in s.indices where s[i] == 13 || s[i] == 10 { s[i] = 32 }
                if out.resp >= 3 {
                    out.buffer.writeInteger(UInt8(ascii: "("))
                    out.buffer.writeBytes(s.raw)
                    out.buffer.writeStaticString("\r\n")
                } else {
                    out.bulk(s)
                }
                clua_pop(L, 1)
                return
            }
            clua_pop(L, 1)
            // {verbatim_string = {format = "txt", string = "…"}}: a verbatim string in RESP3 (the
            // format cut or padded to 3 characters, as Redis), a bulk string in RESP2.
            if rawField(t, "verbatim_string") == LUA_TTABLE {
                let v = lua_gettop(L)
                if rawField(v, "format") == LUA_TSTRING {
                    let format = bytes(L, at: -1)
                    if rawField(v, "string") == LUA_TSTRING {
                        out.verbatim(bytes(L, at: -1), format: format)
                        clua_pop(L, 3)
                        return
                    }
                    clua_pop(L, 1)
                }
                clua_pop(L, 1)
            }
            clua_pop(L, 1)
            if rawField(t, "map") == LUA_TTABLE {
                let m = lua_gettop(L)
                var n = 0
                lua_pushnil(L)
                while lua_next(L, m) != 0 { n += 1; clua_pop(L, 1) }
                out.map(n)
                lua_pushnil(L)
                while lua_next(L, m) != 0 {
                    writeReply(&out, index: -2, depth: depth + 1)
                    writeReply(&out, index: -1, depth: depth + 1)
                    clua_pop(L, 1)
                }
                clua_pop(L, 1)
                return
            }
            clua_pop(L, 1)
            if rawField(t, "set") == LUA_TTABLE {
                let m = lua_gettop(L)
                var n = 0
                lua_pushnil(L)
                while lua_next(L, m) != 0 { n += 1; clua_pop(L, 1) }
                out.set(n)
                lua_pushnil(L)
                while lua_next(L, m) != 0 {
                    writeReply(&out, index: -2, depth: depth + 1)
                    clua_pop(L, 1)
                }
                clua_pop(L, 1)
                return
            }
            clua_pop(L, 1)
            // An array: elements 1, 2, … up to the first nil.
            var n: lua_Integer = 0
            while lua_rawgeti(L, t, n + 1) != LUA_TNIL {
                clua_pop(L, 1)
                n += 1
            }
            clua_pop(L, 1)
            out.array(Int(n))
            var i: lua_Integer = 1
            while i <= n {
                lua_rawgeti(L, t, i)
                writeReply(&out, index: -1, depth: depth + 1)
                clua_pop(L, 1)
                i += 1
            }
        default:
            out.nullBulk()
        }
    }

    /// Pushes t[name] without metamethods; returns its type.
    private func rawField(_ t: Int32, _ name: StaticString) -> Int32 {
        lua_pushstring(L, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self))
        return lua_rawget(L, t)
    }

    // MARK: RESP → Lua

    /// Pushes the reply encoded in `p[i...]` as a Lua value; false if it is malformed or too deep.
    func pushReply(_ L: LuaState, _ p: UnsafeRawBufferPointer, _ i: inout Int, depth: Int) -> Bool {
        if depth > LuaVM.maxNesting || lua_checkstack(L, 8) == 0 || i >= p.count { return false }
        let t = p[i]
        i += 1
        let lineStart = i
        while i + 1 < p.count && !(p[i] == 13 && p[i + 1] == 10) { i += 1 }
        if i + 1 >= p.count { return false }
        let line = UnsafeRawBufferPointer(rebasing: p[lineStart..<i])
        i += 2
        func num() -> Int { parseStrictInt(line) ?? 0 }
        func pushLine() { line.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) } }
        func body(_ n: Int) -> UnsafeRawBufferPointer? {
            guard n >= 0, i + n + 2 <= p.count else { return nil }
            let b = UnsafeRawBufferPointer(rebasing: p[i..<(i + n)])
            i += n + 2
            return b
        }
        switch t {
        case UInt8(ascii: "+"):
            lua_createtable(L, 0, 1)
            pushLine()
            lua_setfield(L, -2, "ok")
        case UInt8(ascii: "-"):
            // The command's error was counted when it was replied.
            lua_createtable(L, 0, 2)
            pushLine()
            lua_setfield(L, -2, "err")
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, "ignore_error_stats_update")
        case UInt8(ascii: ":"):
            lua_pushinteger(L, lua_Integer(num()))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let n = num()
            if n < 0 { lua_pushboolean(L, 0); return true }
            guard let b = body(n) else { return false }
            if t == UInt8(ascii: "!") {
                lua_createtable(L, 0, 1)
                b.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
                lua_setfield(L, -2, "err")
            } else if t == UInt8(ascii: "=") {
                lua_createtable(L, 0, 1)
                lua_createtable(L, 0, 2)
                let fmtLen = min(3, b.count)
                UnsafeRawBufferPointer(rebasing: b[0..<fmtLen]).withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
                lua_setfield(L, -2, "format")
                let rest = b.count > 4 ? UnsafeRawBufferPointer(rebasing: b[4...]) : UnsafeRawBufferPointer(start: nil, count: 0)
                rest.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
                lua_setfield(L, -2, "string")
                lua_setfield(L, -2, "verbatim_string")
            } else {
                b.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
        case UInt8(ascii: "*"), UInt8(ascii: ">"):
            let n = num()
            if n < 0 { lua_pushboolean(L, 0); return true }
            lua_createtable(L, Int32(min(n, 1 << 20)), 0)
            for k in 0..<n {
                if !pushReply(L, p, &i, depth: depth + 1) { return false }
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        case UInt8(ascii: "_"):
            lua_pushnil(L)
        case UInt8(ascii: "#"):
            lua_pushboolean(L, line.first == UInt8(ascii: "t") ? 1 : 0)
        case UInt8(ascii: ","):
            lua_createtable(L, 0, 1)
            let s = String(decoding: line, as: UTF8.self)
            let d: Double = s == "inf" ? .infinity : s == "-inf" ? -.infinity : (Double(s) ?? .nan)
            lua_pushnumber(L, d)
            lua_setfield(L, -2, "double")
        case UInt8(ascii: "("):
            lua_createtable(L, 0, 1)
            pushLine()
            lua_setfield(L, -2, "big_number")
        case UInt8(ascii: "%"), UInt8(ascii: "~"):
            let n = num()
            lua_createtable(L, 0, 1)
            lua_createtable(L, 0, Int32(min(n, 1 << 20)))
            for _ in 0..<max(0, n) {
                if !pushReply(L, p, &i, depth: depth + 1) { return false }
                if t == UInt8(ascii: "%") {
                    if !pushReply(L, p, &i, depth: depth + 1) { return false }
                } else {
                    lua_pushboolean(L, 1)
                }
                if lua_type(L, -2) == LUA_TNIL { clua_pop(L, 2) } else { lua_rawset(L, -3) }
            }
            lua_setfield(L, -2, t == UInt8(ascii: "%") ? "map" : "set")
        case UInt8(ascii: "|"):
            // Attributes are skipped; the value that follows is the reply.
            let n = num()
            for _ in 0..<(2 * max(0, n)) {
                if !pushReply(L, p, &i, depth: depth + 1) { return false }
                clua_pop(L, 1)
            }
            return pushReply(L, p, &i, depth: depth)
        default:
            return false
        }
        return true
    }

    // MARK: Host functions

    /// redis.call / redis.pcall.
    func redisCall(_ L: LuaState, raise: Bool) -> Int32 {
        let saved = enforceMemoryLimit(false)
        defer { enforceMemoryLimit(saved) }
        func fail(_ msg: String) -> Int32 {
            debugger?.logCallError(msg)
            pushErrorTable(L, msg)
            return raise ? -1 : 1
        }
        // A refusal Redis's scriptCall makes: counted in the error statistics (and as a rejected
        // call of the command) now, marked so the script's own error does not count it again.
        func refuse(_ msg: String, _ spec: CommandSpec?) -> Int32 {
            debugger?.logCallError(msg)
            engine.countScriptError(msg, rejecting: spec)
            pushErrorTable(L, msg, counted: true)
            return raise ? -1 : 1
        }
        let argc = lua_gettop(L)
        if argc == 0 { return fail("ERR Please specify at least one argument for this redis lib call") }
        if loadingLibrary { return fail("ERR redis.call and redis.pcall can not be used while loading a library") }
        // The argument array is reused from call to call (taken out so it is uniquely referenced),
        // and small arguments equal to the previous call's at the same position share its storage.
        var argv = callArgv
        callArgv = []
        argv.removeAll(keepingCapacity: true)
        defer {
            argv.removeAll(keepingCapacity: true)
            callArgv = argv
        }
        for i in 1...argc {
            switch lua_type(L, i) {
            case LUA_TSTRING:
                var len = 0
                let p = UnsafeRawPointer(clua_tolstring(L, i, &len)!)
                let k = argv.count
                if k < recentArgs.count && len <= 48 {
                    let prev = recentArgs[k]
                    if prev.count == len && prev.raw.withUnsafeBytes({ memcmp($0.baseAddress ?? p, p, len) == 0 }) {
                        argv.append(prev)
                    } else {
                        let b = Bytes(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: len)))
                        recentArgs[k] = b
                        argv.append(b)
                    }
                } else {
                    argv.append(Bytes(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: len))))
                }
            case LUA_TNUMBER:
                if clua_isinteger(L, i) != 0 {
                    argv.append(StringEncoding.decimal(Int(clua_tointeger(L, i))))
                } else {
                    argv.append(Bytes(cFormat("%.14g", clua_tonumber(L, i))))
                }
            default:
                return fail("ERR Lua redis lib command arguments must be strings or integers")
            }
        }
        debugger?.logCommand(argv)
        // A container command (SCRIPT, CONFIG…) with an unknown subcommand counts as unknown, as in Redis.
        guard let spec = engine.table.resolve(argv), spec.subcommands.isEmpty || spec.handler != nil else {
            return refuse("ERR Unknown Redis command called from script", nil)
        }
        if !spec.arityOK(argv.count) || !(spec.parent?.arityOK(argv.count) ?? true) {
            return refuse("ERR Wrong number of args calling Redis command from script", spec)
        }
        // DEBUG SET-DISABLE-DENY-SCRIPTS lifts the refusal, except for the scripting commands
        // themselves (a script inside a script would re-enter this Lua state).
        if (spec.flags.contains(.noscript) || spec.parent?.flags.contains(.noscript) == true)
            && (!engine.scriptsMayCallAnything || spec.group == .scripting || spec.parent?.group == .scripting) {
            return refuse("ERR This Redis command is not allowed from script", spec)
        }
        let writes = spec.isWrite || spec.parent?.isWrite == true
        // As Redis, a read-only script also counts may-replicate commands (PUBLISH…) as writes.
        if readOnly && (writes || spec.flags.contains(.mayReplicate) || spec.parent?.flags.contains(.mayReplicate) == true) {
            return refuse("ERR Write commands are not allowed from read-only scripts.", spec)
        }
        // Over maxmemory with nothing to evict when the script started, a denyoom command is
        // refused until the script has written (after that it cannot stop halfway), as in Redis.
        if !allowOOM && spec.isDenyOOM && engine.scriptStartedOutOfMemory && !engine.scriptHasWritten.load(ordering: .relaxed) {
            return refuse(Err.oom, spec)
        }
        if writes { engine.scriptHasWritten.store(true, ordering: .releasing) }
        luaClient.resp = resp
        scratch.resp = resp
        scratch.buffer.clear()
        engine.executeNested(luaClient, argv, out: &scratch, inScript: true, resolved: spec)
        let buf = scratch.buffer
        debugger?.logReply(buf)
        var ok = false
        var isError = false
        buf.withUnsafeReadableBytes { p in
            var i = 0
            isError = p.count > 0 && (p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "!"))
            ok = pushReply(L, p, &i, depth: 0)
        }
        if !ok { return fail("ERR reached lua stack limit") }
        if isError && raise { return -1 }
        return 1
    }

    func sha1hex(_ L: LuaState) -> Int32 {
        if lua_gettop(L) != 1 { return raise(L, "ERR wrong number of arguments") }
        let b = lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER ? bytes(L, at: 1) : Bytes()
        let hex = b.raw.withUnsafeBytes { SHA1.hex(raw: $0) }
        lua_pushstring(L, hex)
        return 1
    }

    func log(_ L: LuaState) -> Int32 {
        let argc = lua_gettop(L)
        if argc < 2 { return raise(L, "ERR redis.log() requires two arguments or more.") }
        guard lua_type(L, 1) == LUA_TNUMBER else { return raise(L, "ERR First argument must be a number (log level).") }
        let level = clua_tointeger(L, 1)
        if level < 0 || level > 3 { return raise(L, "ERR Invalid debug level.") }
        var parts: [String] = []
        for i in 2...argc {
            if lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER { parts.append(string(at: i)) }
        }
        let msg = parts.joined(separator: " ")
        switch level {
        case 0: engine.logger.debug("\(msg)")
        case 1: engine.logger.info("\(msg)")
        case 2: engine.logger.notice("\(msg)")
        default: engine.logger.warning("\(msg)")
        }
        return 0
    }

    func setresp(_ L: LuaState) -> Int32 {
        if lua_gettop(L) != 1 { return raise(L, "ERR redis.setresp() requires one argument.") }
        let v = clua_tointeger(L, 1)
        if v != 2 && v != 3 { return raise(L, "ERR RESP version must be 2 or 3.") }
        resp = Int(v)
        return 0
    }

    func setRepl(_ L: LuaState) -> Int32 {
        if lua_gettop(L) != 1 { return raise(L, "ERR redis.set_repl() requires one argument.") }
        let v = clua_tointeger(L, 1)
        if v < 0 || v > 3 { return raise(L, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.") }
        // The bits match PropagationTargets: 1 append-only file, 2 replicas.
        engine.scriptPropagationTargets = PropagationTargets(rawValue: Int(v))
        return 0
    }

    func aclCheck(_ L: LuaState) -> Int32 {
        let argc = lua_gettop(L)
        if argc == 0 { return raise(L, "ERR Please specify at least one argument for this redis lib call") }
        var argv: [Bytes] = []
        for i in 1...argc {
            guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else {
                return raise(L, "ERR Lua redis lib command arguments must be strings or integers")
            }
            argv.append(bytes(L, at: i))
        }
        guard let spec = engine.table.resolve(argv) else { return raise(L, "ERR Invalid command passed to redis.acl_check_cmd()") }
        lua_pushboolean(L, engine.scriptCallerMayRun(spec, argv) ? 1 : 0)
        return 1
    }

    // MARK: Modules (sandboxed require)

    /// Registers a module function (on top of the stack) under `name` for `require`.
    func registerModule(_ name: String) {
        lua_rawgeti(L, clua_registryindex(), lua_Integer(modulesRef))
        clua_insert(L, -2)
        lua_setfield(L, -2, name)
        clua_pop(L, 1)
    }

    /// Forgets every module and cached require result.
    func clearModules() {
        for r in [modulesRef, loadedRef] {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(r))
            let t = lua_gettop(L)
            while true {
                lua_pushnil(L)
                if lua_next(L, t) == 0 { break }
                clua_pop(L, 1)
                lua_pushnil(L)
                lua_rawset(L, t)
            }
            clua_pop(L, 1)
        }
    }

    /// Runs the function on top of the stack under the memory cap and hook, with the error handler;
    /// used for library loading. Returns nil or the error message.
    func protectedCall(nargs: Int32, nresults: Int32) -> String? {
        let fnIndex = lua_gettop(L) - nargs
        lua_rawgeti(L, clua_registryindex(), lua_Integer(errhRef))
        clua_insert(L, fnIndex)
        running = true
        startMs = monotonicMillis()
        busyMarked = false
        let prev = LuaVM.current
        LuaVM.current = self
        clua_install_hook(L, 100_000)
        enforceMemoryLimit(true)
        let st = clua_pcall(L, nargs, nresults, fnIndex)
        enforceMemoryLimit(false)
        clua_install_hook(L, 0)
        LuaVM.current = prev
        running = false
        engine.busy.store(0, ordering: .releasing)
        engine.killRequested.store(false, ordering: .releasing)
        clua_remove(L, fnIndex)
        if st == LUA_OK { return nil }
        var msg: String
        if lua_type(L, -1) == LUA_TTABLE {
            lua_getfield(L, -1, "err")
            msg = string(at: -1)
            clua_pop(L, 1)
        } else {
            msg = st == LUA_ERRMEM ? "ERR out of memory (lua-memory-limit reached)" : "ERR " + string(at: -1)
        }
        clua_pop(L, 1)
        return msg
    }
}

/// Redis converts Lua numbers to replies with a C cast; out-of-range values and NaN give INT64_MIN.
func truncateToInt(_ d: Double) -> Int {
    if d.isNaN || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18 { return Int.min }
    return Int(d)
}

/// The hook callback: asks the running VM whether to stop.
let luaInterrupt: clua_interrupt_fn = { _ in
    guard let vm = LuaVM.current else { return 0 }
    return vm.tick()
}

struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
