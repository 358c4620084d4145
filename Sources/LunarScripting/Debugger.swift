import CLua
import Foundation
import LunarEngine
import LunarRESP
import NIOCore

/// The Lua debugger behind SCRIPT DEBUG, speaking the protocol of Redis's LDB (what `redis-cli --ldb`
/// and `--ldb-sync-mode` expect): after `SCRIPT DEBUG YES|SYNC` the client's next EVAL stops before
/// its first line; every debugger command (step, continue, list, print, break, eval, redis, trace,
/// maxlen, abort, help) is answered with an array of status lines; the session ends with
/// `<endsession>`, then the EVAL reply, then the connection closes (as in Redis).
///
/// Lunar cannot fork, so both modes hold the engine thread while the session lasts (other clients
/// wait, as with Redis's SYNC mode). In YES mode the dataset is restored at the end from a snapshot
/// taken at the start, so the script's changes are rolled back as Redis's forked session does.
final class LuaDebugger {
    enum Mode { case sync, rollback }

    unowned let vm: LuaVM
    let client: Client
    let mode: Mode
    let lines: [String]
    private var breakpoints: Set<Int> = []
    /// Stop at the next line (the session starts stepping, as Redis does).
    private var stepping = true
    /// redis.breakpoint() was called: stop at the next line.
    var breakpointCalled = false
    /// True while the `redis` debugger command runs: its call is logged even when not stepping.
    private var loggingCall = false
    private(set) var aborted = false
    /// The client went away during the session.
    private(set) var disconnected = false
    private var maxlen = 256
    private var logs: [String] = []
    private var currentLine = 0

    init(vm: LuaVM, client: Client, mode: Mode, source: Bytes) {
        self.vm = vm
        self.client = client
        self.mode = mode
        var split = source.string.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        if split.count > 1 && split.last == "" { split.removeLast() }   // a final newline ends the last line
        lines = split
    }

    private var L: LuaState { vm.L }

    // MARK: Output

    /// Sends lines to the client as one array of status replies, straight to its connection (its
    /// reply buffer belongs to the EVAL still running).
    func send(_ out: [String]) {
        var w = ReplyWriter(resp: 2, capacity: 256)
        w.array(out.count)
        for l in out { w.simple(l.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")) }
        client.connection?.send(w.buffer, thenClose: false)
    }

    /// The end of the session: what was logged since the last stop, then `<endsession>`.
    func finish() {
        logs.append("<endsession>")
        flushLogs()
    }

    private func flushLogs() {
        send(logs)
        logs.removeAll()
    }

    /// A log line cut at `maxlen` bytes (replies and values can be huge).
    private func logTrimmed(_ s: String) {
        if maxlen > 0 && s.utf8.count > maxlen {
            logs.append(String(decoding: s.utf8.prefix(maxlen), as: UTF8.self) + " ...")
        } else {
            logs.append(s)
        }
    }

    private func sourceLine(_ n: Int) -> String {
        n >= 1 && n <= lines.count ? lines[n - 1] : "<out of range source code line>"
    }

    /// "-> 6   code" for the current line, "  #6   code" for a breakpoint, "   6   code" otherwise.
    private func formatLine(_ n: Int) -> String {
        let marker = (n == currentLine ? "->" : "  ") + (breakpoints.contains(n) ? "#" : " ")
        let number = String(n).padding(toLength: max(3, String(n).count), withPad: " ", startingAt: 0)
        return marker + number + " " + sourceLine(n)
    }

    private func list(around: Int, context: Int) {
        guard !lines.isEmpty else { return }
        for n in 1...lines.count where around == 0 || abs(around - n) <= context {
            logs.append(formatLine(n))
        }
    }

    // MARK: Calls made by the script

    /// `redis.call` / `redis.pcall` while stepping: the command…
    func logCommand(_ argv: [Bytes]) {
        guard stepping || loggingCall else { return }
        logTrimmed("<redis> " + argv.map(\.string).joined(separator: " "))
    }

    /// …an error raised before it ran…
    func logCallError(_ message: String) {
        guard stepping || loggingCall else { return }
        logs.append("<error> " + (message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message))
    }

    /// …and its reply, in the debugger's human form.
    func logReply(_ reply: ByteBuffer) {
        guard stepping || loggingCall else { return }
        reply.withUnsafeReadableBytes { p in
            if p.first == UInt8(ascii: "-") {
                let end = p.firstIndex(of: 13) ?? p.count
                logs.append("<error> " + String(decoding: p[0..<end], as: UTF8.self))
            }
            var i = 0
            logTrimmed("<reply> " + Self.humanReply(p, &i))
        }
    }

    /// redis.debug(...): logged whether stepping or not.
    func logDebug(_ L: LuaState) {
        let n = lua_gettop(L)
        var parts: [String] = []
        if n > 0 { for i in 1...n { parts.append(repr(i, depth: 0)) } }
        logTrimmed("<debug> line \(currentLine): " + parts.joined(separator: ", "))
    }

    // MARK: Stopping

    /// The line hook: 0 go on, 1 abort the script.
    func onLine(_ line: Int) -> Int32 {
        if aborted { return 1 }
        currentLine = line
        let atBreakpoint = breakpointCalled || breakpoints.contains(line)
        guard stepping || atBreakpoint else { return 0 }
        let reason = atBreakpoint ? (breakpointCalled ? "redis.breakpoint() called" : "break point") : "step over"
        stepping = false
        breakpointCalled = false
        logs.append("* Stopped at \(line), stop reason = \(reason)")
        logs.append(formatLine(line))
        flushLogs()
        return repl()
    }

    /// Answers debugger commands until one resumes the script (0) or aborts it (1).
    private func repl() -> Int32 {
        while true {
            guard let message = vm.engine.debugChannel.take(timeoutMs: 1000) else { continue }
            guard case let .command(argv) = message else {
                disconnected = true
                aborted = true
                return 1
            }
            switch execute(argv) {
            case .resume: return 0
            case .abort:
                aborted = true
                return 1
            case .stay: flushLogs()
            }
        }
    }

    private enum Next { case stay, resume, abort }

    private func execute(_ argv: [Bytes]) -> Next {
        guard let first = argv.first else { return .stay }
        let argc = argv.count
        switch first.lowercased.string {
        case "h", "help":
            logs.append(contentsOf: Self.help)
        case "s", "step", "n", "next":
            stepping = true
            return .resume
        case "c", "continue":
            return .resume
        case "a", "abort":
            return .abort
        case "l", "list":
            var around = currentLine, context = 5
            if argc > 1, let n = Int(argv[1].string), n > 0 { around = n }
            if argc > 2, let c = Int(argv[2].string) { context = c }
            list(around: around, context: context)
        case "w", "whole":
            list(around: 1, context: 1_000_000)
        case "p", "print":
            if argc == 2 { printVariable(argv[1].string) } else { printLocals() }
        case "b", "break":
            if argc == 1 { listBreakpoints() } else { for a in argv.dropFirst() { changeBreakpoint(a.string) } }
        case "t", "trace":
            trace()
        case "m", "maxlen":
            if argc == 2 {
                var v = Int(argv[1].string) ?? 0
                if v != 0 && v <= 60 { v = 60 }
                maxlen = v
            }
            logs.append(maxlen > 0 ? "<value> replies are truncated at \(maxlen) bytes." : "<value> replies are unlimited.")
        case "e", "eval" where argc > 1:
            eval(argv.dropFirst().map(\.string).joined(separator: " "))
        case "r", "redis" where argc > 1:
            redisCommand(Array(argv.dropFirst()))
        default:
            logs.append("<error> Unknown Redis Lua debugger command or wrong number of arguments.")
        }
        return .stay
    }

    // MARK: Commands

    private func printLocals() {
        var ar = lua_Debug()
        guard lua_getstack(L, 0, &ar) != 0 else { return }
        var found = false
        var i: Int32 = 1
        while let name = lua_getlocal(L, &ar, i) {
            let n = String(cString: name)
            if !n.hasPrefix("(") {
                logTrimmed("<value> \(n) = " + repr(-1, depth: 0))
                found = true
            }
            clua_pop(L, 1)
            i += 1
        }
        if !found { logs.append("No local variables in the current context.") }
    }

    private func printVariable(_ wanted: String) {
        var ar = lua_Debug()
        if lua_getstack(L, 0, &ar) != 0 {
            var i: Int32 = 1
            var value: String?
            while let name = lua_getlocal(L, &ar, i) {
                if String(cString: name) == wanted { value = repr(-1, depth: 0) }
                clua_pop(L, 1)
                i += 1
            }
            if let value {
                logTrimmed("<value> " + value)
                return
            }
        }
        if wanted == "KEYS" || wanted == "ARGV" {
            lua_rawgeti(L, clua_registryindex(), lua_Integer(vm.envRef))
            lua_getfield(L, -1, wanted)
            defer { clua_pop(L, 2) }
            if lua_type(L, -1) != LUA_TNIL {
                logTrimmed("<value> " + repr(-1, depth: 0))
                return
            }
        }
        logs.append("No such variable.")
    }

    private func listBreakpoints() {
        if breakpoints.isEmpty {
            logs.append("No breakpoints set. Use 'b <line>' to add one.")
            return
        }
        logs.append("\(breakpoints.count) breakpoints set:")
        for n in breakpoints.sorted() { logs.append(formatLine(n)) }
    }

    private func changeBreakpoint(_ arg: String) {
        guard let n = Int(arg) else {
            logs.append("Wrong line number.")
            return
        }
        if n == 0 {
            breakpoints.removeAll()
            logs.append("All breakpoints removed.")
        } else if n > 0 {
            // As Redis: a line out of range or already a breakpoint is a "wrong line number".
            if n <= lines.count && breakpoints.insert(n).inserted {
                list(around: n, context: 1)
            } else {
                logs.append("Wrong line number.")
            }
        } else if breakpoints.remove(-n) != nil {
            logs.append("Breakpoint removed.")
        } else {
            logs.append("No breakpoint in the specified line.")
        }
    }

    private func trace() {
        var level: Int32 = 0
        var ar = lua_Debug()
        var first = true
        while lua_getstack(L, level, &ar) != 0 {
            level += 1
            _ = lua_getinfo(L, "Snl", &ar)
            guard let src = ar.source, String(cString: src) == "@user_script" else { continue }
            let name = ar.name.map { String(cString: $0) }
            let heading = name.map { "\(first ? "In" : "From") \($0):" } ?? "\(first ? "In" : "From") top level:"
            logs.append(heading)
            logs.append(formatLine(Int(ar.currentline)))
            first = false
        }
    }

    /// Runs a piece of Lua in the script's environment (not in its call frame): first as an
    /// expression (`return …`), else as statements.
    private func eval(_ code: String) {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        if vm.compile(Bytes("return " + code), chunkName: "@ldb_eval") != nil {
            if let err = vm.compile(Bytes(code), chunkName: "@ldb_eval") {
                logs.append("<error> " + err)
                return
            }
        }
        if clua_pcall(L, 0, 1, 0) != LUA_OK {
            logs.append("<error> " + errorText(-1))
            return
        }
        logTrimmed("<retval> " + repr(-1, depth: 0))
    }

    /// Runs a command as redis.call would, logging it and its reply.
    private func redisCommand(_ argv: [Bytes]) {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        loggingCall = true
        defer { loggingCall = false }
        lua_rawgeti(L, clua_registryindex(), lua_Integer(vm.envRef))
        lua_getfield(L, -1, "redis")
        lua_getfield(L, -1, "call")
        for a in argv { vm.pushBytes(L, a) }
        _ = clua_pcall(L, Int32(argv.count), 1, 0)
    }

    private func errorText(_ i: Int32) -> String {
        if lua_type(L, i) == LUA_TTABLE {
            lua_getfield(L, i, "err")
            defer { clua_pop(L, 1) }
            return lua_type(L, -1) == LUA_TSTRING ? vm.string(at: -1) : "unknown error"
        }
        return lua_type(L, i) == LUA_TSTRING ? vm.string(at: i) : "unknown error"
    }

    // MARK: Value representations

    /// A Lua value as the debugger shows it: strings quoted, tables as `{1; 2}` (arrays) or
    /// `{["k"]=v}`, functions and other objects as `"type@address"`.
    func repr(_ index: Int32, depth: Int) -> String {
        let idx = index < 0 ? lua_gettop(L) + index + 1 : index
        switch lua_type(L, idx) {
        case LUA_TNIL: return "nil"
        case LUA_TBOOLEAN: return lua_toboolean(L, idx) != 0 ? "true" : "false"
        case LUA_TNUMBER:
            return clua_isinteger(L, idx) != 0 ? String(clua_tointeger(L, idx)) : cFormat("%g", clua_tonumber(L, idx))
        case LUA_TSTRING:
            var len = 0
            let p = clua_tolstring(L, idx, &len)!
            return Self.quoted(UnsafeRawBufferPointer(start: p, count: len))
        case LUA_TTABLE:
            if depth >= 16 { return "<max recursion level reached! Nested table?>" }
            guard lua_checkstack(L, 4) != 0 else { return "<max recursion level reached! Nested table?>" }
            var asArray: [String] = []
            var asMap: [String] = []
            var isArray = true
            var expected: Int64 = 1
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                if isArray && !(clua_isinteger(L, -2) != 0 && Int64(clua_tointeger(L, -2)) == expected) { isArray = false }
                let v = repr(-1, depth: depth + 1)
                asArray.append(v)
                asMap.append("[" + repr(-2, depth: depth + 1) + "]=" + v)
                clua_pop(L, 1)
                expected += 1
            }
            return "{" + (isArray ? asArray : asMap).joined(separator: "; ") + "}"
        default:
            let type = String(cString: lua_typename(L, lua_type(L, idx)))
            let address = lua_topointer(L, idx).map { String(format: "%p", Int(bitPattern: $0)) } ?? "0x0"
            return "\"\(type)@\(address)\""
        }
    }

    /// A byte string quoted with C-style escapes, as Redis's logs show strings.
    static func quoted(_ p: UnsafeRawBufferPointer) -> String {
        var s = "\""
        for b in p {
            switch b {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case 10: s += "\\n"
            case 13: s += "\\r"
            case 9: s += "\\t"
            case 7: s += "\\a"
            case 8: s += "\\b"
            case 32...126: s.unicodeScalars.append(Unicode.Scalar(b))
            default: s += String(format: "\\x%02x", b)
            }
        }
        return s + "\""
    }

    /// A RESP reply in the debugger's compact form: integers bare, strings and status/error lines
    /// quoted, arrays as `[a,b]`, nulls as NULL.
    static func humanReply(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> String {
        guard i < p.count else { return "" }
        let start = i
        let type = p[i]
        var end = i
        while end + 1 < p.count && !(p[end] == 13 && p[end + 1] == 10) { end += 1 }
        let line = UnsafeRawBufferPointer(rebasing: p[(i + 1)..<end])
        let text = String(decoding: line, as: UTF8.self)
        i = end + 2
        switch type {
        case UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "("):
            return text
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            return quoted(UnsafeRawBufferPointer(rebasing: p[start..<end]))
        case UInt8(ascii: "#"):
            return text == "t" ? "#true" : "#false"
        case UInt8(ascii: "_"):
            return "(null)"
        case UInt8(ascii: "$"), UInt8(ascii: "="):
            let n = Int(text) ?? -1
            if n < 0 { return "NULL" }
            let body = UnsafeRawBufferPointer(rebasing: p[i..<min(p.count, i + n)])
            i += n + 2
            return quoted(body)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let n = Int(text) ?? -1
            if n < 0 { return "NULL" }
            var items: [String] = []
            for _ in 0..<n { items.append(humanReply(p, &i)) }
            return (type == UInt8(ascii: "~") ? "~(" : "[") + items.joined(separator: ",") + (type == UInt8(ascii: "~") ? ")" : "]")
        case UInt8(ascii: "%"):
            let n = Int(text) ?? 0
            var items: [String] = []
            for _ in 0..<n {
                let k = humanReply(p, &i)
                items.append(k + " => " + humanReply(p, &i))
            }
            return "{" + items.joined(separator: ",") + "}"
        default:
            return text
        }
    }

    static let help = [
        "Redis Lua debugger help:",
        "[h]elp               Show this help.",
        "[s]tep               Run current line and stop again.",
        "[n]ext               Alias for step.",
        "[c]ontinue           Run till next breakpoint.",
        "[l]ist               List source code around current line.",
        "[l]ist [line]        List source code around [line].",
        "                     line = 0 means: current position.",
        "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
        "                     to show before/after [line].",
        "[w]hole              List all source code. Alias for 'list 1 1000000'.",
        "[p]rint              Show all the local variables.",
        "[p]rint <var>        Show the value of the specified variable.",
        "                     Can also show global vars KEYS and ARGV.",
        "[b]reak              Show all breakpoints.",
        "[b]reak <line>       Add a breakpoint to the specified line.",
        "[b]reak -<line>      Remove breakpoint from the specified line.",
        "[b]reak 0            Remove all breakpoints.",
        "[t]race              Show a backtrace.",
        "[e]val <code>        Execute some Lua code (in a different callframe).",
        "[r]edis <cmd>        Execute a Redis command.",
        "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
        "                     Specifying zero as <len> means unlimited.",
        "[a]bort              Stop the execution of the script. In sync",
        "                     mode dataset changes will be retained.",
        "",
        "Debugger functions you can call from Lua scripts:",
        "redis.debug()        Produce logs in the debugger console.",
        "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
        "                     next line of code.",
    ]
}

/// The line hook's entry point: hands the line to the running VM's debugger.
let luaDebugLine: clua_line_fn = { _, line in
    guard let d = LuaVM.current?.debugger else { return 0 }
    return d.onLine(Int(line))
}
