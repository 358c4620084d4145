import CLua
import Foundation
import LunarEngine
import LunarRESP

/// One function of a library.
struct LibFunction {
    var name: String
    var ref: Int32
    var flags: ScriptFlags
    var description: Bytes?
    var library: String
}

/// A loaded function library.
struct Library {
    var name: String
    var code: Bytes
    var functions: [String: LibFunction]
}

/// FUNCTION LOAD/… and FCALL: libraries live in their own Lua state.
final class FunctionRegistry {
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    unowned(unsafe) let engine: Engine
    let vm: LuaVM
    var libraries: [String: Library] = [:]
    var functions: [String: LibFunction] = [:] {
        didSet { lastName = nil }
    }
    /// The function FCALL found last, by the name bytes it was called with (FCALL of the same
    /// function over and over then skips the lowercase copy, String conversion and dictionary
    /// lookup), kept by parts: reading them copies no strings.
    private var lastName: Bytes?
    private var lastRef: Int32 = 0
    private var lastFlags: ScriptFlags = []
    private var lastFunctionName = ""
    /// Functions registered by the library currently loading.
    private var pending: [String: LibFunction] = [:]
    private var pendingLibrary = ""
    /// The FCALL running now, for FUNCTION STATS during a busy run: its context (alive while it
    /// runs, so not owned: no retain per call); its function is the last one called, its start
    /// time the Lua state's.
    private unowned(unsafe) var runningContext: CommandContext?

    /// FUNCTION STATS. While an EVAL script holds the server, Redis answers BUSY instead.
    func writeStats(_ out: inout ReplyWriter, busyKind: Int) {
        if busyKind == 1 {
            out.error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            return
        }
        out.map(2)
        out.bulk("running_script")
        if let ctx = runningContext {
            out.map(3)
            out.bulk("name")
            out.bulk(lastFunctionName)
            out.bulk("command")
            out.array(ctx.argv.count)
            for a in ctx.argv { out.bulk(a) }
            out.bulk("duration_ms")
            out.integer(Int(monotonicMillis() - vm.startMs))
        } else {
            out.nullBulk()
        }
        out.bulk("engines")
        out.map(1)
        out.bulk("LUA")
        out.map(2)
        out.bulk("libraries_count")
        out.integer(libraries.count)
        out.bulk("functions_count")
        out.integer(functions.count)
    }

    init(engine: Engine) throws {
        self.engine = engine
        vm = try LuaVM(engine: engine, forFunctions: true)
        vm.registerFunction = nil
    }

    static func validName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
    }
    static let badName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

    /// Reads the `#!<engine> name=<lib>` line as Redis does (split like an inline command, so
    /// quotes work; `name=` in any case, once), checking in Redis's order: the header, the library
    /// name, then the engine. Returns the name and the code without the header line (its newline
    /// kept, so line numbers stay right).
    static func parseMetadata(_ code: Bytes) -> Result<(String, Bytes), ScriptError> {
        guard code.count >= 2, code[0] == UInt8(ascii: "#"), code[1] == UInt8(ascii: "!") else {
            return .failure(ScriptError("ERR Missing library metadata"))
        }
        guard let nl = code.raw.firstIndex(of: 10) else { return .failure(ScriptError("ERR Invalid library metadata")) }
        guard let parts = splitArguments(Array(code.raw[0..<nl])), !parts.isEmpty else {
            return .failure(ScriptError("ERR Invalid library metadata"))
        }
        let engineName = String(decoding: parts[0].raw.dropFirst(2), as: UTF8.self)
        var name: String?
        for p in parts.dropFirst() {
            if p.count >= 5, Bytes(Array(p.raw.prefix(5))).equalsIgnoringCase("name=") {
                if name != nil { return .failure(ScriptError("ERR Invalid metadata value, name argument was given multiple times")) }
                name = String(decoding: p.raw.dropFirst(5), as: UTF8.self)
            } else {
                return .failure(ScriptError("ERR Invalid metadata value given: \(p.string)"))
            }
        }
        guard let name else { return .failure(ScriptError("ERR Library name was not given")) }
        if !validName(name) { return .failure(ScriptError(badName)) }
        if engineName.lowercased() != "lua" { return .failure(ScriptError("ERR Engine '\(engineName)' not found")) }
        var body = code
        body.raw.replaceSubrange(0..<nl, with: [])
        return .success((name, body))
    }

    /// FUNCTION LOAD: compiles the library, runs its top level to collect functions, then commits.
    func load(_ code: Bytes, replace: Bool, chunkName: String = "@user_function") -> Result<String, ScriptError> {
        let (name, body): (String, Bytes)
        switch FunctionRegistry.parseMetadata(code) {
        case let .failure(e): return .failure(e)
        case let .success(v): (name, body) = v
        }
        if libraries[name] != nil && !replace { return .failure(ScriptError("ERR Library '\(name)' already exists")) }
        if let err = vm.compile(body, chunkName: chunkName) {
            return .failure(ScriptError("ERR Error compiling function: \(err)"))
        }
        pending = [:]
        pendingLibrary = name
        vm.registerFunction = { [unowned self] L in self.registerFunction(L) }
        vm.loadingLibrary = true
        vm.useLoadTimeRedis(true)
        let err = vm.protectedCall(nargs: 0, nresults: 0)
        vm.useLoadTimeRedis(false)
        vm.loadingLibrary = false
        vm.registerFunction = nil
        let registered = pending
        pending = [:]
        func drop() { for f in registered.values { vm.releaseRef(f.ref) } }
        if let err {
            drop()
            return .failure(ScriptError("ERR Error registering functions: \(err)"))
        }
        if registered.isEmpty { return .failure(ScriptError("ERR No functions registered")) }
        for fname in registered.keys {
            if let other = functions[fname.lowercased()], other.library != name {
                drop()
                return .failure(ScriptError("ERR Function \(fname) already exists"))
            }
        }
        if libraries[name] != nil { delete(name) }
        libraries[name] = Library(name: name, code: code, functions: registered)
        for (k, v) in registered { functions[k.lowercased()] = v }
        return .success(name)
    }

    func delete(_ name: String) {
        guard let lib = libraries.removeValue(forKey: name) else { return }
        for f in lib.functions.values {
            functions.removeValue(forKey: f.name.lowercased())
            vm.releaseRef(f.ref)
        }
    }

    func flush() {
        for name in Array(libraries.keys) { delete(name) }
        _ = clua_gc_collect(vm.L)
    }

    /// redis.register_function(name, callback) or redis.register_function{function_name=…, callback=…, flags=…, description=…}.
    private func registerFunction(_ L: LuaState) -> Int32 {
        let saved = vm.enforceMemoryLimit(false)
        defer { vm.enforceMemoryLimit(saved) }
        let argc = lua_gettop(L)
        var name: String?
        var flags: ScriptFlags = []
        var description: Bytes?
        var callbackIndex: Int32 = 0
        if argc == 1 {
            guard lua_type(L, 1) == LUA_TTABLE else {
                return vm.raise(L, "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
            }
            // Each entry in table order, keys without regard to case, with Redis's messages.
            lua_pushnil(L)
            while lua_next(L, 1) != 0 {
                // A number key is a string to Redis (and names no argument); converting it here
                // would upset lua_next, so it is refused as unknown without conversion.
                if lua_type(L, -2) == LUA_TNUMBER { return vm.raise(L, "ERR unknown argument given to redis.register_function") }
                guard lua_type(L, -2) == LUA_TSTRING else {
                    return vm.raise(L, "ERR named argument key given to redis.register_function is not a string")
                }
                let k = vm.string(at: -2).lowercased()
                switch k {
                case "function_name":
                    guard lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER else {
                        return vm.raise(L, "ERR function_name argument given to redis.register_function must be a string")
                    }
                    name = vm.string(at: -1)
                case "description":
                    guard lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER else {
                        return vm.raise(L, "ERR description argument given to redis.register_function must be a string")
                    }
                    description = vm.bytes(L, at: -1)
                case "callback":
                    guard lua_type(L, -1) == LUA_TFUNCTION else {
                        return vm.raise(L, "ERR callback argument given to redis.register_function must be a function")
                    }
                    // Kept on the stack, below the iteration key.
                    if callbackIndex == 0 {
                        lua_pushvalue(L, -1)
                        clua_insert(L, 2)
                        callbackIndex = 2
                    } else {
                        lua_pushvalue(L, -1)
                        clua_replace(L, 2)
                    }
                case "flags":
                    guard lua_type(L, -1) == LUA_TTABLE else {
                        return vm.raise(L, "ERR flags argument to redis.register_function must be a table representing function flags")
                    }
                    flags = []
                    var i: lua_Integer = 1
                    while lua_rawgeti(L, -1, i) != LUA_TNIL {
                        guard lua_type(L, -1) == LUA_TSTRING, let f = ScriptFlags.parse(Substring(vm.string(at: -1))) else {
                            return vm.raise(L, "ERR unknown flag given")
                        }
                        flags.insert(f)
                        clua_pop(L, 1)
                        i += 1
                    }
                    clua_pop(L, 1)
                default:
                    return vm.raise(L, "ERR unknown argument given to redis.register_function")
                }
                clua_pop(L, 1)
            }
            if name == nil { return vm.raise(L, "ERR redis.register_function must get a function name argument") }
            if callbackIndex == 0 { return vm.raise(L, "ERR redis.register_function must get a callback argument") }
        } else if argc == 2 {
            guard lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER else { return vm.raise(L, "ERR first argument to redis.register_function must be a string") }
            guard lua_type(L, 2) == LUA_TFUNCTION else { return vm.raise(L, "ERR second argument to redis.register_function must be a function") }
            name = vm.string(at: 1)
            callbackIndex = 2
        } else {
            return vm.raise(L, "ERR wrong number of arguments to redis.register_function")
        }
        let fname = name!
        if !FunctionRegistry.validName(fname) { return vm.raise(L, FunctionRegistry.badName) }
        if pending.keys.contains(where: { $0.lowercased() == fname.lowercased() }) {
            return vm.raise(L, "ERR Function already exists in the library")
        }
        lua_pushvalue(L, callbackIndex)
        let ref = luaL_ref(L, clua_registryindex())
        pending[fname] = LibFunction(name: fname, ref: ref, flags: flags, description: description, library: pendingLibrary)
        return 0
    }

    // MARK: FCALL

    func fcall(_ ctx: CommandContext, readOnly: Bool) {
        let argv = ctx.argv
        if lastName != argv[1] {
            guard let found = functions[argv[1].lowercased.string] else { ctx.error("ERR Function not found"); return }
            lastName = argv[1]
            lastFunctionName = found.name
            lastRef = found.ref
            lastFlags = found.flags
        }
        let ref = lastRef, flags = lastFlags
        guard let numkeys = parseStrictInt(argv[2].raw) else { ctx.error("ERR Bad number of keys provided"); return }
        if numkeys > argv.count - 3 { ctx.error("ERR Number of keys can't be greater than number of args"); return }
        if numkeys < 0 { ctx.error("ERR Number of keys can't be negative"); return }
        if readOnly && !flags.contains(.noWrites) {
            ctx.error("ERR Can not execute a script with write flag using *_ro command.")
            return
        }
        // A function able to write is refused up front after a failed background save (MISCONF) or
        // while min-replicas-to-write is unmet (NOREPLICAS), and first on a read-only replica
        // (READONLY), in Redis's order.
        if !flags.contains(.noWrites), let deny = (ctx.client.isMasterLink ? nil : ctx.engine.readOnlyReplicaError) ?? ctx.engine.denyWritesError ?? ctx.engine.writesNeedReplicasError {
            ctx.error(deny)
            return
        }
        runningContext = ctx
        defer { runningContext = nil }
        let keys = argv[3..<(3 + numkeys)]
        let args = argv[(3 + numkeys)...]
        vm.run(fnRef: ref, replyTo: ctx, name: lastFunctionName,
               readOnly: readOnly || flags.contains(.noWrites), allowOOM: flags.contains(.allowOOM)) {
            vm.pushArray(keys)
            vm.pushArray(args)
            return 2
        }
    }

    // MARK: DUMP / RESTORE (Lunar's own payload: magic, libraries' code, SHA1 checksum)

    static let magic = Array("LUNARFN1".utf8)

    func dump() -> Bytes {
        var out = FunctionRegistry.magic
        for name in libraries.keys.sorted() {
            let code = libraries[name]!.code.raw
            let n = UInt32(code.count)
            out += [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
            out += code
        }
        let sum = out.withUnsafeBytes { SHA1.digest($0) }
        out += sum[0..<8]
        return Bytes(out)
    }

    static func parseDump(_ b: Bytes) -> [Bytes]? {
        let raw = b.raw
        guard raw.count >= magic.count + 8, Array(raw[0..<magic.count]) == magic else { return nil }
        let body = Array(raw[0..<(raw.count - 8)])
        let sum = body.withUnsafeBytes { SHA1.digest($0) }
        guard Array(sum[0..<8]) == Array(raw[(raw.count - 8)...]) else { return nil }
        var i = magic.count
        var codes: [Bytes] = []
        while i < body.count {
            guard i + 4 <= body.count else { return nil }
            let n = Int(body[i]) << 24 | Int(body[i + 1]) << 16 | Int(body[i + 2]) << 8 | Int(body[i + 3])
            i += 4
            guard i + n <= body.count else { return nil }
            codes.append(Bytes(body[i..<(i + n)]))
            i += n
        }
        return codes
    }

    func restore(_ payload: Bytes, policy: String) -> ScriptError? {
        guard let codes = FunctionRegistry.parseDump(payload) else {
            return ScriptError("ERR DUMP payload version or checksum are wrong")
        }
        // Check everything first so a failing restore changes nothing (except FLUSH's flush).
        var names: [String] = []
        for c in codes {
            guard case let .success((name, _)) = FunctionRegistry.parseMetadata(c) else {
                return ScriptError("ERR DUMP payload version or checksum are wrong")
            }
            if policy == "append" && libraries[name] != nil { return ScriptError("ERR Library \(name) already exists") }
            names.append(name)
        }
        let backup = libraries.values.map { $0.code }
        if policy == "flush" { flush() }
        for c in codes {
            if case let .failure(e) = load(c, replace: policy != "append") {
                // Roll back to what was there before.
                flush()
                for b in backup { _ = load(b, replace: true) }
                return e
            }
        }
        return nil
    }

    // MARK: Startup libraries

    /// Loads `modules/*.lua` (for require) and `*.lua` libraries from each configured directory.
    func loadLibraryDirectories() throws {
        let setting = engine.config.string("lua-library-dir")
        let dirs = setting.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        let skip = engine.config.string("lua-library-errors") == "skip"
        let fm = FileManager.default
        func report(_ msg: String) throws {
            if skip { engine.logger.warning("\(msg) (skipped)") } else { throw StartupError(msg) }
        }
        var libFiles: [String] = []
        for dir in dirs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                engine.logger.notice("lua-library-dir \(dir) does not exist; no libraries loaded from it")
                continue
            }
            let modDir = (dir as NSString).appendingPathComponent("modules")
            if let mods = try? fm.contentsOfDirectory(atPath: modDir) {
                for f in mods.sorted() where f.hasSuffix(".lua") {
                    let path = (modDir as NSString).appendingPathComponent(f)
                    guard let data = fm.contents(atPath: path) else { try report("\(path): cannot read"); continue }
                    let modName = String(f.dropLast(4))
                    if let err = vm.compile(Bytes(Array(data)), chunkName: "@" + path) {
                        try report("Error loading Lua module \(path): \(err)")
                        continue
                    }
                    vm.registerModule(modName)
                }
            }
            let files = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            for f in files.sorted() where f.hasSuffix(".lua") {
                libFiles.append((dir as NSString).appendingPathComponent(f))
            }
        }
        for path in libFiles {
            guard let data = fm.contents(atPath: path) else { try report("\(path): cannot read"); continue }
            switch load(Bytes(Array(data)), replace: true, chunkName: "@" + path) {
            case let .failure(e):
                var m = e.message
                if m.hasPrefix("ERR ") { m.removeFirst(4) }
                try report("Error loading Lua library \(path): \(m)")
            case let .success(name):
                engine.logger.info("Loaded Lua library '\(name)' from \(path)")
            }
        }
    }

    // MARK: The FUNCTION command

    static var spec: CommandSpec {
        func reg(_ ctx: CommandContext) -> FunctionRegistry { ScriptingState.of(ctx.engine).functions }
        return CommandSpec("function", arity: -2, group: .scripting, since: "7.0.0", summary: "Manages function libraries.",
                           complexity: "Depends on subcommand.", subcommands: [
            CommandSpec("load", arity: -3, flags: [.write, .denyoom, .noscript], group: .scripting, since: "7.0.0",
                        summary: "Loads a function library, optionally replacing one of the same name.",
                        complexity: "O(1) (considering compilation time is redundant)", syntax: "[REPLACE] function-code") { ctx in
                var replace = false
                var i = 2
                while i < ctx.argc - 1 {
                    if ctx.arg(i, is: "replace") { replace = true; i += 1 } else {
                        ctx.error("ERR Unknown option given: \(ctx.argv[i].string)")
                        return
                    }
                }
                if i != ctx.argc - 1 { ctx.error("ERR Function code was not given"); return }
                switch reg(ctx).load(ctx.argv[i], replace: replace) {
                case let .failure(e): ctx.error(e.message)
                case let .success(name):
                    ctx.engine.dirty &+= 1   // propagated to replicas as is, like Redis
                    ctx.out.bulk(name)
                }
            },
            CommandSpec("delete", arity: 3, flags: [.write, .noscript], group: .scripting, since: "7.0.0",
                        summary: "Deletes a library and its functions.", syntax: "library-name") { ctx in
                let r = reg(ctx)
                let name = ctx.argv[2].string
                if r.libraries[name] == nil { ctx.error("ERR Library not found"); return }
                r.delete(name)
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("flush", arity: -2, flags: [.write, .noscript], group: .scripting, since: "7.0.0",
                        summary: "Deletes every library.", complexity: "O(N) where N is the number of functions deleted",
                        syntax: "[ASYNC|SYNC]") { ctx in
                if ctx.argc > 3 {
                    ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try FUNCTION HELP.")
                    return
                }
                if ctx.argc == 3 && !ctx.arg(2, is: "async") && !ctx.arg(2, is: "sync") {
                    ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
                    return
                }
                reg(ctx).flush()
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("list", arity: -2, flags: [.noscript], group: .scripting, since: "7.0.0",
                        summary: "Lists libraries, their functions and optionally their code.",
                        complexity: "O(N) where N is the number of functions", syntax: "[LIBRARYNAME library-name-pattern] [WITHCODE]") { ctx in
                var withCode = false
                var pattern: Bytes?
                var i = 2
                while i < ctx.argc {
                    // As Redis: a repeated option is an unknown argument.
                    if !withCode && ctx.arg(i, is: "withcode") {
                        withCode = true
                        i += 1
                    } else if pattern == nil && ctx.arg(i, is: "libraryname") {
                        if i + 1 >= ctx.argc { ctx.error("ERR library name argument was not given"); return }
                        pattern = ctx.argv[i + 1]
                        i += 2
                    } else {
                        ctx.error("ERR Unknown argument \(ctx.argv[i].string)")
                        return
                    }
                }
                let r = reg(ctx)
                let libs = r.libraries.values.sorted { $0.name < $1.name }.filter { lib in
                    pattern.map { globMatch($0.raw, Array(lib.name.utf8), noCase: false) } ?? true
                }
                ctx.out.array(libs.count)
                for lib in libs {
                    ctx.out.map(withCode ? 4 : 3)
                    ctx.out.bulk("library_name")
                    ctx.out.bulk(lib.name)
                    ctx.out.bulk("engine")
                    ctx.out.bulk("LUA")
                    ctx.out.bulk("functions")
                    ctx.out.array(lib.functions.count)
                    for f in lib.functions.values.sorted(by: { $0.name < $1.name }) {
                        ctx.out.map(3)
                        ctx.out.bulk("name")
                        ctx.out.bulk(f.name)
                        ctx.out.bulk("description")
                        if let d = f.description { ctx.out.bulk(d) } else { ctx.out.nullBulk() }
                        ctx.out.bulk("flags")
                        let names = f.flags.names
                        ctx.out.set(names.count)
                        for n in names { ctx.out.simple(n) }
                    }
                    if withCode {
                        ctx.out.bulk("library_code")
                        ctx.out.bulk(lib.code)
                    }
                }
            },
            CommandSpec("stats", arity: 2, flags: [.noscript, .allowBusy], group: .scripting, since: "7.0.0",
                        summary: "Reports the running function and how many libraries and functions are loaded.") { ctx in
                reg(ctx).writeStats(&ctx.out, busyKind: 0)
            },
            CommandSpec("kill", arity: 2, flags: [.noscript, .allowBusy], group: .scripting, since: "7.0.0",
                        summary: "Stops the running function if it has not written yet.") { ctx in
                ctx.error("NOTBUSY No scripts in execution right now.")
            },
            CommandSpec("dump", arity: 2, flags: [.noscript], group: .scripting, since: "7.0.0",
                        summary: "Serializes every library into a payload for FUNCTION RESTORE.",
                        complexity: "O(N) where N is the number of functions") { ctx in
                ctx.out.bulk(reg(ctx).dump())
            },
            CommandSpec("restore", arity: -3, flags: [.write, .denyoom, .noscript], group: .scripting, since: "7.0.0",
                        summary: "Loads libraries from a FUNCTION DUMP payload.",
                        complexity: "O(N) where N is the number of functions on the payload",
                        syntax: "serialized-value [FLUSH|APPEND|REPLACE]") { ctx in
                var policy = "append"
                if ctx.argc > 4 {
                    ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try FUNCTION HELP.")
                    return
                }
                if ctx.argc == 4 {
                    let p = ctx.argv[3].lowercased.string
                    guard ["flush", "append", "replace"].contains(p) else {
                        ctx.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
                        return
                    }
                    policy = p
                }
                if let e = reg(ctx).restore(ctx.argv[2], policy: policy) { ctx.error(e.message) } else {
                    ctx.engine.dirty &+= 1
                    ctx.ok()
                }
            },
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .scripting, since: "7.0.0",
                        summary: "Lists the FUNCTION subcommands.") { ctx in
                let lines = [
                    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "LOAD [REPLACE] <FUNCTION CODE>",
                    "    Create a new library with the given library name and code.",
                    "DELETE <LIBRARY NAME>",
                    "    Delete the given library.",
                    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                    "    Return general information on all the libraries:",
                    "    * Library name",
                    "    * The engine used to run the Library",
                    "    * Library description",
                    "    * Functions list",
                    "    * Library code (if WITHCODE is given)",
                    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                    "STATS",
                    "    Return information about the current function running:",
                    "    * Function name",
                    "    * Command used to run the function",
                    "    * Duration in MS that the function is running",
                    "    If no function is running, return nil",
                    "    In addition, returns a list of available engines.",
                    "KILL",
                    "    Kill the current running function.",
                    "FLUSH [ASYNC|SYNC]",
                    "    Delete all the libraries.",
                    "    When called without the optional mode argument, the behavior is determined by the",
                    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                    "    * ASYNC: Asynchronously flush the libraries.",
                    "    * SYNC: Synchronously flush the libraries.",
                    "DUMP",
                    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                    "    control how to handle existing libraries (default APPEND):",
                    "    * FLUSH: delete all existing libraries.",
                    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                    "      in case of functions name collision with another library).",
                    "HELP",
                    "    Prints this help.",
                ]
                ctx.out.array(lines.count)
                for l in lines { ctx.out.simple(l) }
            },
        ])
    }
}
