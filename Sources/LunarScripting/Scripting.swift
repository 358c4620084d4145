#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLua
import Foundation
import LunarEngine
import LunarRESP

/// Entry point of the scripting module: the commands it adds and the per-engine Lua states.
public enum Scripting {
    /// Creates the Lua machinery on an engine (called once at startup, before the engine thread runs).
    /// Loads the function libraries of `lua-library-dir`; throws if one is bad and `lua-library-errors` is refuse.
    public static func install(on engine: Engine) throws {
        let state = try ScriptingState(engine: engine)
        engine.extensions[ScriptingState.key] = state
        engine.scriptingState = state
        engine.extensions[InfoSectionProvider.key("memory.scripting")] = InfoSectionProvider { [unowned state] _ in state.memoryInfo() }
        engine.scriptDeniesOOM = { [unowned state] argv in state.deniesOOM(argv) }
        engine.scriptMayWrite = { [unowned state] argv in state.declaredFlags(argv).map { !$0.contains(.noWrites) } }
        engine.busyCommandHandler = { [unowned state] client, argv in
            guard argv.count == 2, argv[0].equalsIgnoringCase("function"), argv[1].equalsIgnoringCase("stats") else { return false }
            state.functions.writeStats(&client.output, busyKind: state.engine.busy.load(ordering: .relaxed))
            return true
        }
        do {
            try state.functions.loadLibraryDirectories()
        } catch let e as StartupError {
            throw LunarStartupError(e.description)
        }
    }

    /// The source code of every loaded function library, by name (what RDB files save).
    public static func libraryCodes(_ engine: Engine) -> [Bytes] {
        guard let state = engine.extensions[ScriptingState.key] as? ScriptingState else { return [] }
        return state.functions.libraries.keys.sorted().map { state.functions.libraries[$0]!.code }
    }

    /// Deletes every function library (a replica's full sync: its functions become the master's).
    public static func flushLibraries(_ engine: Engine) {
        guard let state = engine.extensions[ScriptingState.key] as? ScriptingState else { return }
        state.functions.flush()
    }

    /// Loads (or replaces) a function library from its source, as an RDB file holds it; the error text if it fails.
    /// With `keepExisting`, a library of the same name already loaded (from `lua-library-dir` at start-up)
    /// is kept: the files on disk win over an older copy saved in the RDB file.
    public static func loadLibrary(_ engine: Engine, code: Bytes, keepExisting: Bool = false, replace: Bool = true) -> String? {
        guard let state = engine.extensions[ScriptingState.key] as? ScriptingState else { return "scripting is not available" }
        if keepExisting, case let .success((name, _)) = FunctionRegistry.parseMetadata(code),
           state.functions.libraries[name] != nil {
            return nil
        }
        switch state.functions.load(code, replace: replace) {
        case .success: return nil
        case let .failure(e): return e.message
        }
    }

    /// The version string of the linked Lua runtime (e.g. "Lua 5.4").
    public static func luaVersion() -> String {
        guard let L = luaL_newstate() else { return "" }
        defer { lua_close(L) }
        luaL_openlibs(L)
        _ = clua_getglobal(L, "_VERSION")
        return String(cString: clua_tostring(L, -1))
    }
}

/// A startup failure of the scripting module (bad library file…), shown to the user.
public struct LunarStartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// The script cache's key: a script's SHA1 in lowercase hex. Hashes only its first 16 hex digits
/// (64 bits of SHA1, which nobody can choose), instead of SipHashing all 40 bytes per EVALSHA.
struct ScriptKey: Hashable {
    let sha: Bytes
    init(_ sha: Bytes) { self.sha = sha }
    func hash(into h: inout Hasher) {
        if sha.count >= 16 {
            sha.raw.withUnsafeBytes {
                h.combine($0.loadUnaligned(as: UInt64.self))
                h.combine($0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
        } else {
            h.combine(sha)
        }
    }
    static func == (a: ScriptKey, b: ScriptKey) -> Bool { a.sha == b.sha }
}

/// A cached EVAL script.
struct CachedScript {
    var ref: Int32
    var flags: ScriptFlags
    var body: Bytes
}

/// Shebang flags (`#!lua flags=…`).
struct ScriptFlags: OptionSet {
    let rawValue: Int
    static let noWrites = ScriptFlags(rawValue: 1)
    static let allowOOM = ScriptFlags(rawValue: 2)
    static let allowStale = ScriptFlags(rawValue: 4)
    static let noCluster = ScriptFlags(rawValue: 8)
    static let allowCrossSlot = ScriptFlags(rawValue: 16)
    /// Script without a shebang (Redis's "eval compat mode").
    static let legacy = ScriptFlags(rawValue: 32)

    static let names: [(String, ScriptFlags)] = [
        ("no-writes", .noWrites), ("allow-oom", .allowOOM), ("allow-stale", .allowStale),
        ("no-cluster", .noCluster), ("allow-cross-slot-keys", .allowCrossSlot),
    ]
    static func parse(_ name: Substring) -> ScriptFlags? {
        names.first { $0.0 == name }?.1
    }
    var names: [String] { ScriptFlags.names.filter { contains($0.1) }.map { $0.0 } }
}

extension ScriptingState {
    /// INFO memory's scripting lines, in Redis 7.0's order. The Lua heaps are what each state's
    /// allocator holds (Redis reads the same from lua_gc); the bookkeeping figures (the scripts
    /// cache, the function libraries) count the code and names they keep plus a fixed estimate per
    /// entry, not Redis's dictionary sizes.
    func memoryInfo() -> [String] {
        let eval = vm.memoryUsed
        let fns = functions.vm.memoryUsed
        var scriptsEval = 0
        for s in scripts.values { scriptsEval += s.body.count + 40 + Self.entryOverhead }
        var fnsOverhead = Self.entryOverhead
        for lib in functions.libraries.values { fnsOverhead += lib.code.count + lib.name.utf8.count + Self.entryOverhead }
        for name in functions.functions.keys { fnsOverhead += name.utf8.count + Self.entryOverhead }
        let human = MemoryProbe.human
        return [
            "used_memory_lua:\(eval)",
            "used_memory_vm_eval:\(eval)",
            "used_memory_lua_human:\(human(eval))",
            "used_memory_scripts_eval:\(scriptsEval)",
            "number_of_cached_scripts:\(scripts.count)",
            "number_of_functions:\(functions.functions.count)",
            "number_of_libraries:\(functions.libraries.count)",
            "used_memory_vm_functions:\(fns)",
            "used_memory_vm_total:\(eval + fns)",
            "used_memory_vm_total_human:\(human(eval + fns))",
            "used_memory_functions:\(fnsOverhead)",
            "used_memory_scripts:\(scriptsEval + fnsOverhead)",
            "used_memory_scripts_human:\(human(scriptsEval + fnsOverhead))",
        ]
    }
    /// A hash table entry and its object headers, roughly, per script, library or function.
    private static let entryOverhead = 64
}

/// Everything scripting keeps per engine.
final class ScriptingState {
    static let key = "scripting"
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    unowned(unsafe) let engine: Engine
    let vm: LuaVM
    let functions: FunctionRegistry
    var scripts: [ScriptKey: CachedScript] = [:]
    /// The script EVALSHA ran last: applications mostly call the same few scripts, and one 40-byte
    /// comparison is cheaper than hashing the digest (cleared with the cache by SCRIPT FLUSH).
    private var lastGiven: Bytes?
    private var lastSha = Bytes()
    private var lastRef: Int32 = 0
    private var lastFlags: ScriptFlags = []
    /// SCRIPT DEBUG YES|SYNC, by client id: the client's next EVAL runs under the debugger.
    var debugModes: [Int: LuaDebugger.Mode] = [:]

    init(engine: Engine) throws {
        self.engine = engine
        vm = try LuaVM(engine: engine, forFunctions: false)
        functions = try FunctionRegistry(engine: engine)
        let apply: (String, String) -> Void = { [vm, functions] name, value in
            switch name {
            case "busy-reply-threshold":
                vm.thresholdMs = Int64(value) ?? 5000
                functions.vm.thresholdMs = vm.thresholdMs
            case "lua-memory-limit":
                vm.setMemoryLimit(Int(value) ?? 0)
                functions.vm.setMemoryLimit(Int(value) ?? 0)
            default: break
            }
        }
        apply("busy-reply-threshold", engine.config.string("busy-reply-threshold"))
        engine.config.onChange.append(apply)
    }

    /// The engine's scripting state (set at installation, before any command runs).
    @inline(__always) static func of(_ engine: Engine) -> ScriptingState {
        unsafeDowncast(engine.scriptingState.unsafelyUnwrapped, to: ScriptingState.self)
    }

    // MARK: EVAL

    /// Splits the shebang off a script body: the flags, and the code to compile (the shebang line
    /// is blanked so line numbers stay right). Returns an error message for a bad shebang.
    static func parseShebang(_ body: Bytes) -> Result<(ScriptFlags, Bytes), ScriptError> {
        guard body.count >= 2, body[0] == UInt8(ascii: "#"), body[1] == UInt8(ascii: "!") else {
            return .success((.legacy, body))
        }
        let nl = body.raw.firstIndex(of: 10) ?? body.count
        let line = String(decoding: body.raw[0..<nl], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let engineName = parts.first, engineName == "#!lua" else {
            return .failure(ScriptError("ERR Unexpected engine in script shebang: \(parts.first ?? "")"))
        }
        var flags: ScriptFlags = []
        for opt in parts.dropFirst() {
            if opt.hasPrefix("flags=") {
                for f in opt.dropFirst(6).split(separator: ",", omittingEmptySubsequences: true) {
                    guard let v = ScriptFlags.parse(f) else {
                        return .failure(ScriptError("ERR Unexpected flag in script shebang: \(f)"))
                    }
                    flags.insert(v)
                }
            } else {
                return .failure(ScriptError("ERR Unknown lua shebang option: \(opt)"))
            }
        }
        var code = body
        code.raw.replaceSubrange(0..<nl, with: [])
        return .success((flags, code))
    }

    static func shaHex(_ body: Bytes) -> Bytes {
        Bytes(body.raw.withUnsafeBytes { SHA1.hex(raw: $0) })
    }

    /// Compiles and caches a script; returns its sha or the error reply text.
    func load(_ body: Bytes) -> Result<Bytes, ScriptError> {
        let sha = ScriptingState.shaHex(body)
        if scripts[ScriptKey(sha)] != nil { return .success(sha) }
        switch ScriptingState.parseShebang(body) {
        case let .failure(e): return .failure(e)
        case let .success((flags, code)):
            if let err = vm.compile(code, chunkName: "@user_script") {
                return .failure(ScriptError("ERR Error compiling script (new function): \(err)"))
            }
            scripts[ScriptKey(sha)] = CachedScript(ref: vm.storeRef(), flags: flags, body: body)
            return .success(sha)
        }
    }

    func flushScripts() {
        for s in scripts.values { vm.releaseRef(s.ref) }
        scripts = [:]
        lastGiven = nil
        _ = clua_gc_collect(vm.L)
    }

    /// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO.
    func eval(_ ctx: CommandContext, bySha: Bool, readOnly: Bool) {
        if !debugModes.isEmpty, let mode = debugModes[ctx.client.id] {
            if bySha { ctx.error("ERR Please use EVAL instead of EVALSHA for debugging"); return }
            if !readOnly && ctx.client.connection != nil && !ctx.noBlocking {
                debugModes[ctx.client.id] = nil
                evalWithDebugger(ctx, mode: mode)
                return
            }
        }
        let argv = ctx.argv
        guard let numkeys = parseStrictInt(argv[2].raw) else { ctx.error(Err.notInteger); return }
        if numkeys > argv.count - 3 { ctx.error("ERR Number of keys can't be greater than number of args"); return }
        if numkeys < 0 { ctx.error("ERR Number of keys can't be negative"); return }
        let ref: Int32
        let flags: ScriptFlags
        let sha: Bytes
        if bySha {
            let given = argv[1]
            if lastGiven == given {
                // The digest EVALSHA ran last, byte for byte.
                ref = lastRef
                flags = lastFlags
                sha = lastSha
            } else {
                // Clients send the sha as SCRIPT LOAD returned it (lowercase): no copy needed then.
                var s = given
                if s.count != 40 { s = Bytes() } else if s.raw.contains(where: { $0 >= 65 && $0 <= 90 }) { s = s.lowercased }
                guard let found = scripts[ScriptKey(s)] else { ctx.error("NOSCRIPT No matching script. Please use EVAL."); return }
                ref = found.ref
                flags = found.flags
                sha = s
                lastGiven = given
                lastSha = s
                lastRef = ref
                lastFlags = flags
            }
        } else {
            switch load(argv[1]) {
            case let .failure(e): ctx.error(e.message); return
            case let .success(s):
                sha = s
                let script = scripts[ScriptKey(s)]!
                ref = script.ref
                flags = script.flags
            }
        }
        if readOnly && !flags.contains(.legacy) && !flags.contains(.noWrites) {
            ctx.error("ERR Can not execute a script with write flag using *_ro command.")
            return
        }
        // A script declared able to write is refused up front after a failed background save (MISCONF)
        // or while min-replicas-to-write is unmet (NOREPLICAS), and first on a read-only replica
        // (READONLY), in Redis's order.
        if !flags.contains(.legacy) && !flags.contains(.noWrites),
           let deny = (ctx.client.isMasterLink ? nil : ctx.engine.readOnlyReplicaError) ?? ctx.engine.denyWritesError ?? ctx.engine.writesNeedReplicasError {
            ctx.error(deny)
            return
        }
        vm.setKeysAndArgs(argv[3..<(3 + numkeys)], argv[(3 + numkeys)...])
        let ro = readOnly || flags.contains(.noWrites)
        vm.run(fnRef: ref, replyTo: ctx, name: sha.string, readOnly: ro, allowOOM: flags.contains(.allowOOM)) { 0 }
    }

    /// Whether maxmemory refuses this EVAL/EVALSHA/FCALL (or _RO) up front: a script with a shebang
    /// or a function that declares neither allow-oom nor no-writes (Redis's scriptFlagsToCmdFlags).
    /// nil for a script without a shebang, an unknown sha or function: the command's own flags apply.
    func deniesOOM(_ argv: [Bytes]) -> Bool? {
        guard let flags = declaredFlags(argv) else { return nil }
        return !flags.contains(.allowOOM) && !flags.contains(.noWrites)
    }

    /// The flags an EVAL/EVALSHA script's shebang or an FCALL function declares; nil for a script
    /// without a shebang (legacy) or one not found.
    func declaredFlags(_ argv: [Bytes]) -> ScriptFlags? {
        guard argv.count >= 2 else { return nil }
        let flags: ScriptFlags
        if argv[0].count >= 5 && argv[0][0] | 0x20 == UInt8(ascii: "f") {
            guard let f = functions.functions[argv[1].lowercased.string] else { return nil }
            flags = f.flags
        } else if argv[0].count >= 7 && argv[0][4] | 0x20 == UInt8(ascii: "s") {
            guard argv[1].count == 40, let s = scripts[ScriptKey(argv[1].lowercased)] else { return nil }
            flags = s.flags
        } else {
            guard case let .success((f, _)) = ScriptingState.parseShebang(argv[1]) else { return nil }
            flags = f
        }
        return flags.contains(.legacy) ? nil : flags
    }
}

extension ScriptingState {
    /// EVAL after SCRIPT DEBUG YES|SYNC: the script runs under the debugger, which talks to the
    /// client directly until the script ends; then `<endsession>`, the EVAL reply, and a close.
    func evalWithDebugger(_ ctx: CommandContext, mode: LuaDebugger.Mode) {
        let client = ctx.client
        // Replies produced earlier in this round go out before the debugger's first words.
        if ctx.out.buffer.readableBytes > 0 {
            client.connection?.send(ctx.out.buffer, thenClose: false)
            ctx.out.buffer.clear()
        }
        let restore = mode == .rollback ? engine.datasetCheckpoint?() : nil
        engine.debugChannel.reset()
        client.debugging.store(true, ordering: .releasing)
        let debugger = LuaDebugger(vm: vm, client: client, mode: mode, source: ctx.argv[1])
        vm.debugger = debugger
        eval(ctx, bySha: false, readOnly: false)
        vm.debugger = nil
        client.debugging.store(false, ordering: .releasing)
        debugger.finish()
        if let restore {
            // YES: the session's changes are rolled back, and so never reach replicas.
            engine.discardPendingEffects()
            restore()
        }
        client.closeAfterReply = true
    }
}

struct ScriptError: Error {
    let message: String
    init(_ m: String) { message = m }
}

/// Keys of EVAL/FCALL-style commands: `name numkeys key…`.
func evalKeys(_ argv: [Bytes]) -> [Int] {
    guard argv.count >= 3, let n = parseStrictInt(argv[2].raw), n > 0, n <= argv.count - 3 else { return [] }
    return Array(3..<(3 + n))
}

/// EVAL, SCRIPT, FUNCTION and FCALL.
public enum ScriptingCommands {
    public static var specs: [CommandSpec] {
        let evalFlags: CommandFlags = [.noscript, .stale, .skipMonitor, .noMandatoryKeys]
        // EVAL, EVALSHA and FCALL may replicate (their writes); the _RO forms are readonly instead.
        let writable = evalFlags.union(.mayReplicate)
        return [
            CommandSpec("eval", arity: -3, flags: writable, group: .scripting, since: "2.6.0",
                        summary: "Runs a Lua script on the server.", complexity: "Depends on the script that is executed.",
                        syntax: "script numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).eval(ctx, bySha: false, readOnly: false) },
                        getKeys: evalKeys),
            CommandSpec("evalsha", arity: -3, flags: writable, group: .scripting, since: "2.6.0",
                        summary: "Runs a cached Lua script, named by the SHA1 digest of its source.",
                        complexity: "Depends on the script that is executed.",
                        syntax: "sha1 numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).eval(ctx, bySha: true, readOnly: false) },
                        getKeys: evalKeys),
            CommandSpec("eval_ro", arity: -3, flags: evalFlags.union(.readonly), group: .scripting, since: "7.0.0",
                        summary: "Runs a Lua script that may only read data.", complexity: "Depends on the script that is executed.",
                        syntax: "script numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).eval(ctx, bySha: false, readOnly: true) },
                        getKeys: evalKeys),
            CommandSpec("evalsha_ro", arity: -3, flags: evalFlags.union(.readonly), group: .scripting, since: "7.0.0",
                        summary: "Runs a cached read-only Lua script by its SHA1 digest.",
                        complexity: "Depends on the script that is executed.",
                        syntax: "sha1 numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).eval(ctx, bySha: true, readOnly: true) },
                        getKeys: evalKeys),
            CommandSpec("fcall", arity: -3, flags: writable, group: .scripting, since: "7.0.0",
                        summary: "Calls a function of a loaded library.", complexity: "Depends on the function that is executed.",
                        syntax: "function numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).functions.fcall(ctx, readOnly: false) },
                        getKeys: evalKeys),
            CommandSpec("fcall_ro", arity: -3, flags: evalFlags.union(.readonly), group: .scripting, since: "7.0.0",
                        summary: "Calls a read-only function of a loaded library.", complexity: "Depends on the function that is executed.",
                        syntax: "function numkeys [key [key ...]] [arg [arg ...]]",
                        handler: { ctx in startScript(ctx); ScriptingState.of(ctx.engine).functions.fcall(ctx, readOnly: true) },
                        getKeys: evalKeys),
            scriptSpec,
            FunctionRegistry.spec,
        ]
    }

    /// Scripts and functions propagate the writes they run (effects), not themselves; every run
    /// starts with its writes going everywhere until `redis.set_repl` says otherwise.
    @inline(__always) static func startScript(_ ctx: CommandContext) {
        // Scripts are skip_monitor: MONITOR shows them here, before the calls they make (as Redis),
        // whatever happens next (a missing script, bad numkeys…).
        if !ctx.engine.monitors.isEmpty { ctx.engine.feedMonitors(ctx.client, ctx.argv, lua: false) }
        ctx.propagateNothing()
        ctx.engine.scriptPropagationTargets = .all
    }

    static var scriptSpec: CommandSpec {
        CommandSpec("script", arity: -2, group: .scripting, since: "2.6.0", summary: "Manages the Lua script cache.",
                    complexity: "Depends on subcommand.", subcommands: [
            CommandSpec("load", arity: 3, flags: [.noscript, .stale], group: .scripting, since: "2.6.0",
                        summary: "Compiles a script and caches it without running it.",
                        complexity: "O(N) with N being the length in bytes of the script body.", syntax: "script") { ctx in
                switch ScriptingState.of(ctx.engine).load(ctx.argv[2]) {
                case let .failure(e): ctx.error(e.message)
                case let .success(sha): ctx.out.bulk(sha)
                }
            },
            CommandSpec("exists", arity: -3, flags: [.noscript], group: .scripting, since: "2.6.0",
                        summary: "Tells which of the given SHA1 digests name cached scripts.",
                        complexity: "O(N) with N being the number of scripts to check.", syntax: "sha1 [sha1 ...]") { ctx in
                let st = ScriptingState.of(ctx.engine)
                ctx.out.array(ctx.argc - 2)
                for i in 2..<ctx.argc { ctx.out.integer(st.scripts[ScriptKey(ctx.argv[i].lowercased)] != nil ? 1 : 0) }
            },
            CommandSpec("flush", arity: -2, flags: [.noscript], group: .scripting, since: "2.6.0",
                        summary: "Empties the script cache.", complexity: "O(N) with N being the number of scripts in cache",
                        syntax: "[ASYNC|SYNC]") { ctx in
                if ctx.argc > 3 || (ctx.argc == 3 && !ctx.arg(2, is: "async") && !ctx.arg(2, is: "sync")) {
                    ctx.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
                    return
                }
                ScriptingState.of(ctx.engine).flushScripts()
                ctx.ok()
            },
            CommandSpec("kill", arity: 2, flags: [.noscript, .allowBusy], group: .scripting, since: "2.6.0",
                        summary: "Stops the running script if it has not written yet.") { ctx in
                // Reaching the engine means no script holds it: the I/O side answers while one runs.
                ctx.error("NOTBUSY No scripts in execution right now.")
            },
            CommandSpec("debug", arity: 3, flags: [.noscript], group: .scripting, since: "3.2.0",
                        summary: "Makes the connection's next EVAL a Lua debugger session (YES: changes rolled back, SYNC: kept).",
                        syntax: "YES|SYNC|NO") { ctx in
                // Inside EXEC the command runs nested (noBlocking): refused like inside MULTI.
                if ctx.client.inMulti || (ctx.noBlocking && !ctx.inScript) {
                    ctx.error("ERR SCRIPT DEBUG must be called outside a pipeline")
                    return
                }
                let state = ScriptingState.of(ctx.engine)
                if ctx.arg(2, is: "no") {
                    state.debugModes[ctx.client.id] = nil
                } else if ctx.arg(2, is: "yes") {
                    state.debugModes[ctx.client.id] = .rollback
                } else if ctx.arg(2, is: "sync") {
                    state.debugModes[ctx.client.id] = .sync
                } else {
                    ctx.error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
                    return
                }
                ctx.ok()
            },
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .scripting, since: "5.0.0",
                        summary: "Lists the SCRIPT subcommands.") { ctx in
                let lines = [
                    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "DEBUG (YES|SYNC|NO)",
                    "    Set the debug mode for subsequent scripts executed.",
                    "EXISTS <sha1> [<sha1> ...]",
                    "    Return information about the existence of the scripts in the script cache.",
                    "FLUSH [ASYNC|SYNC]",
                    "    Flush the Lua scripts cache. Very dangerous on replicas.",
                    "    When called without the optional mode argument, the behavior is determined by the",
                    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                    "    * ASYNC: Asynchronously flush the scripts cache.",
                    "    * SYNC: Synchronously flush the scripts cache.",
                    "KILL",
                    "    Kill the currently executing Lua script.",
                    "LOAD <script>",
                    "    Load a script into the scripts cache without executing it.",
                    "HELP",
                    "    Prints this help.",
                ]
                ctx.out.array(lines.count)
                for l in lines { ctx.out.simple(l) }
            },
        ])
    }
}
