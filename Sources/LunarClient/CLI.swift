#if canImport(Glibc)
import Glibc
#endif
import LunarRESP

/// Buffered stdout writer (binary safe).
public enum Out {
    public static func write(_ b: [UInt8]) {
        guard !b.isEmpty else { return }
        b.withUnsafeBytes { _ = fwrite($0.baseAddress!, 1, b.count, stdout) }
    }
    public static func write(_ s: String) { write(Array(s.utf8)) }
    public static func flush() { fflush(stdout) }
    public static func err(_ s: String) { fputs(s, stderr) }
}

/// The lunar-cli program: connection management, command issuing and reply printing.
public final class CLI {
    public var config: Config
    public var conn: Connection?
    public var formatter: ReplyFormatter
    var currentResp3 = false
    var inMulti = false
    var preMultiDb = 0
    public var interactive = false
    var shutdownSent = false
    /// The shell retries once after a lost connection, so it does not report the first failure.
    var quietConnectionErrors = false
    /// Interactive callbacks: show a spinner while waiting.
    var spinner: Spinner?
    /// Lua debugger session state (see Ldb.swift).
    public var ldb = LdbState()

    public init(config: Config) {
        self.config = config
        formatter = ReplyFormatter(mode: config.output)
        formatter.bulkDelimiter = config.bulkDelimiter
        formatter.replyDelimiter = config.replyDelimiter
    }

    public var showPushes: Bool { config.showPushes ?? config.stdoutIsTTY }

    // MARK: connecting

    public func connectionLabel() -> String {
        if let s = config.socketPath { return s }
        return "\(config.host):\(config.port)"
    }

    /// Connects (or reconnects with `force`). Prints the failure unless `quiet`.
    @discardableResult
    public func connect(force: Bool = false, quiet: Bool = false) -> Bool {
        if conn != nil && !force { return true }
        conn?.close()
        conn = nil
        do {
            let c: Connection
            if let path = config.socketPath {
                c = try Connection.connect(unixPath: path)
            } else {
                c = try Connection.connect(host: config.host, port: config.port)
            }
            conn = c
        } catch {
            if !quiet {
                Out.err("Could not connect to Redis at \(connectionLabel()): \(error)\n")
            }
            return false
        }
        do {
            if let auth = config.auth {
                var args: [Bytes] = ["AUTH"]
                if let u = config.user { args.append(Bytes(u)) }
                args.append(Bytes(auth))
                let r = try conn!.call(args)
                if case let .error(e) = r {
                    // Not fatal for redis-cli either: the server answers NOAUTH to what follows.
                    Out.err("AUTH failed: \(String(decoding: e.raw, as: UTF8.self))\n")
                }
            }
            if config.dbnum != 0 {
                let r = try conn!.call(["SELECT", Bytes(String(config.dbnum))])
                if case let .error(e) = r {
                    Out.err("SELECT \(config.dbnum) failed: \(String(decoding: e.raw, as: UTF8.self))\n")
                }
            }
            currentResp3 = false
            if config.resp3 {
                let r = try conn!.call(["HELLO", "3"])
                if case let .error(e) = r {
                    // redis-cli reports it and goes on in RESP2.
                    Out.err("HELLO 3 failed: \(String(decoding: e.raw, as: UTF8.self))\n")
                } else {
                    currentResp3 = true
                }
            }
        } catch {
            Out.err("\nI/O error\n")
            conn = nil
            return false
        }
        return true
    }

    // MARK: issuing commands

    /// Commands whose replies redis-cli prints raw even in TTY mode.
    static func outputsRaw(_ argv: [Bytes]) -> Bool {
        guard let cmd = argv.first?.lowercased.string else { return false }
        let argc = argv.count
        let sub = argc >= 2 ? argv[1].lowercased.string : ""
        switch cmd {
        case "info", "lolwut": return true
        case "debug": return argc >= 2 && (sub == "htstats" || sub == "htstats-key")
        case "memory": return argc >= 2 && (sub == "malloc-stats" || sub == "doctor")
        case "cluster": return argc == 2 && (sub == "nodes" || sub == "info")
        case "client": return argc >= 2 && (sub == "list" || sub == "info")
        case "latency": return (argc == 3 && sub == "graph") || (argc == 2 && sub == "doctor")
        case "proxy": return argc >= 2 && sub == "info"
        default: return false
        }
    }

    public enum IssueResult { case ok, failed }

    /// Sends `argv` `repeat` times and prints replies. Returns false on a connection error.
    public func issueCommand(_ argv: [Bytes], repeat repeatN: Int) -> Bool {
        guard !argv.isEmpty else { return true }
        if conn == nil {
            if !connect(force: true) { return false }
        }
        let cmd = argv[0].lowercased.string
        let outputRaw = Self.outputsRaw(argv)
        let isSubscribe = cmd == "subscribe" || cmd == "psubscribe" || cmd == "ssubscribe"
        let isMonitor = cmd == "monitor"
        if cmd == "shutdown" { shutdownSent = true }
        ldbBeforeSend(argv)
        let encoded = Connection.encode(argv)
        var remaining = repeatN
        while remaining < 0 || remaining > 0 {
            if remaining > 0 { remaining -= 1 }
            guard let c = conn else { return false }
            do {
                try c.writeAll(encoded)
                if isSubscribe {
                    // Like redis-cli 7.0: announce, then print every reply (confirmations and messages) until
                    // the connection drops or Ctrl-C.
                    if config.output != .raw { Out.write("Reading messages... (press Ctrl-C to quit)\n") }
                    Out.flush()
                    while true {
                        let r = try c.readReply()
                        try printReply(r, raw: outputRaw)
                        Out.flush()
                    }
                }
                var reply: Reply
                var streamed: Reply? = nil
                while true {
                    // Large aggregates stream: each element is printed as soon as it has arrived.
                    // A debugging session prints whole replies (its status lines are coloured, `<endsession>` ends it).
                    if !ldb.active, let (kind, count) = try headerWithSpinner(c) {
                        for i in 0..<count {
                            if !c.hasPendingInput { Out.flush() }  // about to wait: show what we have
                            let el = try c.readReply()
                            Out.write(try formatter.streamElement(el, index: i, count: count, kind: kind, forceRaw: outputRaw))
                        }
                        streamed = kind == .map ? .map([]) : kind == .set ? .set([]) : .array([])  // stands for its kind
                        reply = streamed!
                        break
                    }
                    reply = try readWithSpinner(c)
                    if case .push = reply, !isSubscribe {
                        // Out-of-band push (e.g. invalidation): print it if enabled, keep waiting for the reply.
                        if showPushes {
                            if config.output == .standard, let line = Self.invalidateLine(reply) {
                                Out.write(line)
                            } else {
                                try printReply(reply, raw: outputRaw)
                            }
                        }
                        continue
                    }
                    break
                }
                if case .error = reply, !interactive && config.setErrcode {
                    Out.flush()
                    Out.err(String(decoding: reply.bytes!.raw, as: UTF8.self) + "\n")
                    exit(1)
                }
                if streamed == nil { try printReply(reply, raw: outputRaw) }
                Out.flush()
                trackState(argv, reply)
                if isMonitor && !reply.isError {
                    while true {
                        let r = try c.readReply()
                        try printReply(r, raw: outputRaw)
                        Out.flush()
                    }
                }
            } catch let e as ReplyFormatter.UnknownType {
                Out.flush()
                Out.err("Unknown reply type: \(e.code)\n")
                exit(1)
            } catch {
                Out.flush()
                if shutdownSent && "\(error)" == "Server closed the connection" {
                    conn = nil
                    return true
                }
                if "\(error)" == "Interrupted" {
                    // Ctrl-C while waiting: abandon this connection, the reply will never be read.
                    Connection.interrupted = 0
                    conn?.close()
                    conn = nil
                    if !interactive {
                        Out.err("(interrupted)\n")
                        killRunningScript(argv)
                        exit(130)
                    }
                    return true
                }
                if !quietConnectionErrors { Out.err("Error: \(error)\n") }
                conn?.close()
                conn = nil
                return false
            }
            if config.interval > 0 { usleep(useconds_t(config.interval * 1_000_000)) }
            Out.flush()
        }
        return true
    }

    /// After Ctrl-C during EVAL/FCALL, ask the server to stop the script (it would keep running otherwise).
    func killRunningScript(_ argv: [Bytes]) {
        let name = argv[0].lowercased.string
        let kill: [Bytes]
        switch name {
        case "eval", "evalsha", "eval_ro", "evalsha_ro": kill = ["SCRIPT", "KILL"]
        case "fcall", "fcall_ro": kill = ["FUNCTION", "KILL"]
        default: return
        }
        Connection.interrupted = 0
        if connect(force: true, quiet: true), let c = conn {
            _ = try? c.call(kill)
        }
    }

    /// On a terminal, show a spinner for slow replies and let Ctrl-C interrupt the wait.
    public func enableSpinner() {
        spinner = Spinner()
        signal(SIGINT) { _ in Connection.interrupted = 1 }
    }

    func headerWithSpinner(_ c: Connection) throws -> (Connection.AggregateKind, Int)? {
        guard let s = spinner else { return try c.readAggregateHeader() }
        c.onWait = { elapsed in s.tick(elapsed) }
        defer { c.onWait = nil; s.clear() }
        return try c.readAggregateHeader()
    }

    func readWithSpinner(sendingFirst cmd: [Bytes], _ c: Connection) throws -> Reply {
        try c.send(cmd)
        return try readWithSpinner(c)
    }

    func readWithSpinner(_ c: Connection) throws -> Reply {
        guard let s = spinner else { return try c.readReply() }
        c.onWait = { elapsed in s.tick(elapsed) }
        defer { c.onWait = nil; s.clear() }
        return try c.readReply()
    }

    func printReply(_ r: Reply, raw: Bool) throws {
        if ldb.active && (raw || formatter.mode == .raw) {
            var out: [UInt8] = []
            try formatLdb(r, into: &out)
            if !raw { out.append(contentsOf: config.replyDelimiter) }
            Out.write(out)
            return
        }
        Out.write(try formatter.format(r, forceRaw: raw))
    }

    /// redis-cli's terminal form of a client-tracking invalidation push: `-> invalidate: 'k1', 'k2'`.
    static func invalidateLine(_ r: Reply) -> [UInt8]? {
        guard case let .push(els) = r, els.count == 2, case let .string(kind) = els[0],
              kind.raw.starts(with: Array("invalidate".utf8)), case let .array(keys) = els[1] else { return nil }
        var out = Array("-> invalidate: ".utf8)
        for (i, k) in keys.enumerated() {
            out.append(UInt8(ascii: "'"))
            out += ReplyFormatter.cString(k.bytes ?? Bytes())
            out.append(UInt8(ascii: "'"))
            if i < keys.count - 1 { out += Array(", ".utf8) }
        }
        out.append(10)
        return out
    }

    /// Keeps the db number, MULTI state and protocol in sync with what the user did.
    func trackState(_ argv: [Bytes], _ reply: Reply) {
        let cmd = argv[0].lowercased.string
        let isErr = reply.isError
        switch cmd {
        case "select" where argv.count == 2 && !isErr:
            config.dbnum = atoiLike(argv[1].string)
        case "multi" where argv.count == 1 && !isErr:
            inMulti = true
            preMultiDb = config.dbnum
        case "exec" where argv.count == 1 && inMulti:
            inMulti = false
            if isErr || reply == .null { config.dbnum = preMultiDb }
        case "discard" where argv.count == 1 && !isErr:
            inMulti = false
            config.dbnum = preMultiDb
        case "reset" where argv.count == 1 && !isErr:
            inMulti = false
            config.dbnum = 0
            currentResp3 = false
        case "hello":
            if case .map = reply { currentResp3 = true } else if case .array = reply { currentResp3 = false }
        default: break
        }
    }

    // MARK: entry point

    public static func main(_ args: [String]) -> Int32 {
        let tty = isatty(1) != 0 || getenv("FAKETTY") != nil
        switch parseOptions(args, stdoutIsTTY: tty) {
        case let .exit(code): return code
        case let .run(config):
            let cli = CLI(config: config)
            return cli.run()
        }
    }

    public func run() -> Int32 {
        if config.pipeMode {
            if !connect() { return 1 }
            return Modes.pipe(self)
        }
        if config.latencyMode {
            if !connect() { return 1 }
            return Modes.latency(self)
        }
        if config.statMode {
            if !connect() { return 1 }
            return Modes.stat(self)
        }
        if config.scanMode {
            if !connect() { return 1 }
            return Modes.scan(self)
        }
        if config.bigkeys || config.memkeys {
            if !connect() { return 1 }
            return Modes.bigKeys(self, memory: config.memkeys)
        }
        if config.functionsMode {
            if !connect() { return 1 }
            return Modes.listFunctions(self)
        }
        if let file = config.functionLoadFile {
            if !connect() { return 1 }
            return Modes.functionLoad(self, file: file)
        }
        if config.command.isEmpty && config.evalFile == nil {
            signal(SIGPIPE, SIG_IGN)
            interactive = true
            connect()
            return Shell(cli: self).run()
        }
        if !connect() { return 1 }
        if config.output == .standard && config.stdoutIsTTY && isatty(1) != 0 && isatty(2) != 0 {
            enableSpinner()
        }
        if let file = config.evalFile {
            if config.evalLdb {
                signal(SIGPIPE, SIG_IGN)
                ldb.active = true
                return Modes.evalDebug(self, file: file, args: config.command)
            }
            return Modes.eval(self, file: file, args: config.command)
        }
        return nonInteractive()
    }

    func nonInteractive() -> Int32 {
        var argv: [Bytes]
        if config.quotedInput {
            argv = []
            for a in config.command {
                guard let p = splitArguments(Array(a.utf8)), p.count == 1 else {
                    Out.write("Invalid quoted string\n")
                    return 1
                }
                argv.append(p[0])
            }
        } else {
            argv = config.command.map { Bytes($0) }
        }
        if config.stdinLastArg || config.stdinTag != nil {
            let data = readAllStdin()
            if config.stdinLastArg {
                argv.append(Bytes(data))
            } else if let tag = config.stdinTag {
                var found = false
                for i in argv.indices where argv[i].string == tag {
                    argv[i] = Bytes(data)
                    found = true
                    break
                }
                if !found { Out.err("Using -X option but stdin tag not match.\n"); return 1 }
            }
        }
        if let first = argv.first?.lowercased.string, first == "help" || first == "?" {
            let table = HelpTable()
            if let c = conn { table.load(from: c) }
            Out.write(table.help(argv.dropFirst().map { $0.string }))
            Out.flush()
            return 0
        }
        let ok = issueCommand(argv, repeat: config.repeatCount)
        return ok ? 0 : 1
    }
}

public func readAllStdin() -> [UInt8] {
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress!, 65536) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data.append(contentsOf: buf[0..<n])
    }
    return data
}
