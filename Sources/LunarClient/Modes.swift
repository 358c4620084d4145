#if canImport(Glibc)
import Foundation
import Glibc
#endif
import LunarRESP

/// The special modes: --eval, --function-load, --functions, --pipe, --scan, --bigkeys/--memkeys, --stat, --latency.
public enum Modes {
    // MARK: --eval

    static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress!, 1, 65536, f) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return data
    }

    /// Rewrites Lua chunk references (`@user_script:3`, `user_script:3`, `user_function:3`) to `file:3`.
    public static func mapScriptLocations(_ text: Bytes, file: String) -> Bytes {
        var s = text.string
        for marker in ["@user_script:", "user_script:", "@user_function:", "user_function:"] {
            s = s.replacingAll(marker, with: file + ":")
        }
        return Bytes(s)
    }

    /// The first "file:N" line number in a mapped error message.
    static func lineNumber(in message: String, file: String) -> Int? {
        guard let r = message.range(of: file + ":") else { return nil }
        let digits = message[r.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    static func mapReplyErrors(_ r: Reply, file: String) -> Reply {
        switch r {
        case let .error(e): return .error(mapScriptLocations(e, file: file))
        case let .array(a): return .array(a.map { mapReplyErrors($0, file: file) })
        default: return r
        }
    }

    /// Prints the offending source line on stderr when the terminal shows the reply.
    static func showSourceLine(_ r: Reply, file: String, source: [UInt8], cli: CLI) {
        guard case let .error(e) = r, cli.config.stdoutIsTTY, let n = lineNumber(in: e.string, file: file) else { return }
        let lines = source.split(separator: 10, omittingEmptySubsequences: false)
        guard n >= 1 && n <= lines.count else { return }
        let text = String(decoding: lines[n - 1], as: UTF8.self)
        Out.flush()
        Out.err("  --> \(file):\(n)\n   | \(text)\n")
    }

    /// `EVAL script numkeys keys… args…` from --eval's arguments: keys before the comma, ARGV after.
    static func evalCommand(script: [UInt8], args: [String]) -> [Bytes] {
        var keys: [Bytes] = []
        var argv: [Bytes] = []
        var gotComma = false
        for a in args {
            if !gotComma && a == "," { gotComma = true; continue }
            if gotComma { argv.append(Bytes(a)) } else { keys.append(Bytes(a)) }
        }
        return ["EVAL", Bytes(script), Bytes(String(keys.count))] + keys + argv
    }

    public static func eval(_ cli: CLI, file: String, args: [String]) -> Int32 {
        guard let script = readFile(file) else {
            Out.err("Can't open file '\(file)': \(String(cString: strerror(errno)))\n")
            return 1
        }
        let cmd = evalCommand(script: script, args: args)
        guard let c = cli.conn else { return 1 }
        do {
            let reply = mapReplyErrors(try cli.readWithSpinner(sendingFirst: cmd, c), file: file)
            if case let .error(e) = reply, cli.config.setErrcode {
                Out.err(e.string + "\n")
                return 1
            }
            try cli.printReply(reply, raw: false)
            Out.flush()
            showSourceLine(reply, file: file, source: script, cli: cli)
            return 0
        } catch let e as ReplyFormatter.UnknownType {
            Out.err("Unknown reply type: \(e.code)\n")
            return 1
        } catch {
            if "\(error)" == "Interrupted" {
                Out.err("(interrupted)\n")
                cli.killRunningScript(["EVAL"])
                return 130
            }
            Out.err("Error: \(error)\n")
            return 1
        }
    }

    // MARK: functions

    public static func functionLoad(_ cli: CLI, file: String) -> Int32 {
        guard let code = readFile(file) else {
            Out.err("Can't open file '\(file)': \(String(cString: strerror(errno)))\n")
            return 1
        }
        guard let c = cli.conn else { return 1 }
        do {
            var cmd: [Bytes] = ["FUNCTION", "LOAD"]
            if cli.config.functionReplace { cmd.append("REPLACE") }
            cmd.append(Bytes(code))
            let reply = mapReplyErrors(try c.call(cmd), file: file)
            if case let .error(e) = reply {
                Out.err("Failed to load '\(file)': \(e.string)\n")
                showSourceLineAlways(e.string, file: file, source: code)
                return 1
            }
            guard let name = reply.bytes else {
                try cli.printReply(reply, raw: false)
                return 1
            }
            let list = try c.call(["FUNCTION", "LIST", "LIBRARYNAME", name])
            let libs = parseLibraries(list).filter { $0.name == name.string }
            let verb = cli.config.functionReplace ? "loaded (replace)" : "loaded"
            if let lib = libs.first {
                Out.write("Library '\(lib.name)' \(verb) from \(file) (engine \(lib.engine)), \(lib.functions.count) function\(lib.functions.count == 1 ? "" : "s"):\n")
                let w = lib.functions.map { $0.name.count }.max() ?? 0
                for f in lib.functions { Out.write(describe(f, width: w)) }
            } else {
                Out.write("Library '\(name.string)' \(verb) from \(file)\n")
            }
            Out.flush()
            return 0
        } catch {
            Out.err("Error: \(error)\n")
            return 1
        }
    }

    static func showSourceLineAlways(_ msg: String, file: String, source: [UInt8]) {
        guard let n = lineNumber(in: msg, file: file) else { return }
        let lines = source.split(separator: 10, omittingEmptySubsequences: false)
        guard n >= 1 && n <= lines.count else { return }
        Out.err("  --> \(file):\(n)\n   | \(String(decoding: lines[n - 1], as: UTF8.self))\n")
    }

    struct FunctionInfo { var name: String; var description: String?; var flags: [String] }
    struct LibraryInfo { var name: String; var engine: String; var functions: [FunctionInfo] }

    static func parseLibraries(_ r: Reply) -> [LibraryInfo] {
        guard let libs = r.elements else { return [] }
        return libs.map { lib in
            let fns = (lib["functions"]?.elements ?? []).map { f in
                FunctionInfo(name: f["name"]?.text ?? "?",
                             description: f["description"]?.text,
                             flags: (f["flags"]?.elements ?? []).compactMap { $0.text })
            }
            return LibraryInfo(name: lib["library_name"]?.text ?? "?", engine: lib["engine"]?.text ?? "?",
                               functions: fns.sorted { $0.name < $1.name })
        }
    }

    static func describe(_ f: FunctionInfo, width: Int) -> String {
        var s = "  " + pad(f.name, width, left: true)
        s += "  flags: " + (f.flags.isEmpty ? "(none)" : f.flags.joined(separator: ","))
        if let d = f.description, !d.isEmpty { s += "  -- \(d)" }
        return s + "\n"
    }

    public static func listFunctions(_ cli: CLI) -> Int32 {
        guard let c = cli.conn else { return 1 }
        do {
            var cmd: [Bytes] = ["FUNCTION", "LIST"]
            if let p = cli.config.pattern { cmd += ["LIBRARYNAME", p] }
            let r = try c.call(cmd)
            if case let .error(e) = r { Out.err("\(e.string)\n"); return 1 }
            let libs = parseLibraries(r).sorted { $0.name < $1.name }
            if libs.isEmpty { Out.write("(no libraries loaded)\n") }
            for lib in libs {
                Out.write("\(lib.name) (engine \(lib.engine)), \(lib.functions.count) function\(lib.functions.count == 1 ? "" : "s"):\n")
                let w = lib.functions.map { $0.name.count }.max() ?? 0
                for f in lib.functions { Out.write(describe(f, width: w)) }
            }
            Out.flush()
            return 0
        } catch {
            Out.err("Error: \(error)\n")
            return 1
        }
    }

    // MARK: --pipe

    public static func pipe(_ cli: CLI) -> Int32 {
        guard let c = cli.conn else { return 1 }
        let fd = c.fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var magic: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        for _ in 0..<20 { magic.append(hex[Int.random(in: 0..<16)]) }
        var obuf: [UInt8] = []
        var opos = 0
        var stdinEOF = false
        var echoQueued = false
        var errors = 0
        var replies = 0
        var done = false
        var lastReplyTime = monotonicSeconds()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !done {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: 0, events: 0, revents: 0)]
            if opos < obuf.count { fds[0].events |= Int16(POLLOUT) }
            if !stdinEOF && obuf.count - opos < 1 << 20 { fds[1].events = Int16(POLLIN) }
            let nfds: nfds_t = stdinEOF ? 1 : 2
            let pr = poll(&fds, nfds, 1000)
            if pr < 0 && errno != EINTR { Out.err("poll: \(String(cString: strerror(errno)))\n"); return 1 }
            // Read replies.
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                var gotEOF = false
                while true {
                    let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
                    if n > 0 { c.rbuf.append(contentsOf: chunk[0..<n]); continue }
                    if n == 0 { gotEOF = true }
                    else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                        Out.err("Error reading from the server: \(String(cString: strerror(errno)))\n"); return 1
                    }
                    break
                }
                do {
                    while let (r, next) = try ReplyParser.parse(c.rbuf, from: c.rpos) {
                        c.rpos = next
                        lastReplyTime = monotonicSeconds()
                        if case let .error(e) = r {
                            Out.flush()
                            Out.err(String(decoding: ReplyFormatter.cString(e), as: UTF8.self) + "\n")
                            errors += 1
                        } else if echoQueued, case let .string(s) = r, s.raw == magic {
                            Out.write("Last reply received from server.\n")
                            done = true
                            replies -= 1
                        }
                        replies += 1
                    }
                } catch {
                    Out.err("Error: \(error)\n")
                    return 1
                }
                if c.rpos > 1 << 20 { c.rbuf.removeFirst(c.rpos); c.rpos = 0 }
                if gotEOF && !done { Out.err("Error reading from the server: Connection reset by peer\n"); return 1 }
            }
            // Write pending data.
            if opos < obuf.count && fds[0].revents & Int16(POLLOUT) != 0 {
                let n = obuf.withUnsafeBytes { send(fd, $0.baseAddress! + opos, obuf.count - opos, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    opos += n
                    if opos == obuf.count { obuf.removeAll(keepingCapacity: true); opos = 0 }
                } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    Out.err("Error writing to the server: \(String(cString: strerror(errno)))\n")
                    return 1
                }
            }
            // Read stdin.
            if !stdinEOF && fds[1].revents & Int16(POLLIN | POLLHUP) != 0 {
                let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress!, 65536) }
                if n > 0 {
                    obuf.append(contentsOf: chunk[0..<n])
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    stdinEOF = true
                    obuf.append(contentsOf: Connection.encode(["ECHO", Bytes(magic)]))
                    echoQueued = true
                    Out.write("All data transferred. Waiting for the last reply...\n")
                    Out.flush()
                    lastReplyTime = monotonicSeconds()
                }
            }
            if echoQueued && cli.config.pipeTimeout > 0 && monotonicSeconds() - lastReplyTime > cli.config.pipeTimeout {
                Out.err("No replies for \(Int(cli.config.pipeTimeout)) seconds: exiting.\n")
                errors += 1
                break
            }
        }
        Out.write("errors: \(errors), replies: \(replies)\n")
        Out.flush()
        return errors > 0 ? 1 : 0
    }

    // MARK: --scan

    static func scanArgs(_ cli: CLI, cursor: Bytes) -> [Bytes] {
        var cmd: [Bytes] = ["SCAN", cursor]
        if let p = cli.config.pattern { cmd += ["MATCH", p] }
        if let n = cli.config.scanCount { cmd += ["COUNT", Bytes(String(n))] }
        if let t = cli.config.scanType { cmd += ["TYPE", Bytes(t)] }
        return cmd
    }

    public static func scan(_ cli: CLI) -> Int32 {
        guard let c = cli.conn else { return 1 }
        var cursor: Bytes = "0"
        repeat {
            do {
                let r = try c.call(scanArgs(cli, cursor: cursor))
                if case let .error(e) = r {
                    Out.err("Error: \(e.string)\n")
                    return 1
                }
                guard let els = r.elements, els.count == 2, let cur = els[0].bytes, let keys = els[1].elements else {
                    Out.err("Error: unexpected SCAN reply\n"); return 1
                }
                cursor = cur
                var out: [UInt8] = []
                for k in keys {
                    guard let b = k.bytes else { continue }
                    if cli.config.output == .standard { ReplyFormatter.repr(b.raw, into: &out) } else { out += ReplyFormatter.cString(b) }
                    out.append(10)
                }
                Out.write(out)
            } catch {
                Out.err("Error: \(error)\n")
                return 1
            }
            if cli.config.interval > 0 { usleep(useconds_t(cli.config.interval * 1e6)) }
        } while cursor != "0"
        Out.flush()
        return 0
    }

    // MARK: --bigkeys / --memkeys

    struct TypeStats {
        var name: String
        var sizeCommand: String
        var unit: String
        var count = 0
        var total = 0
        var biggest = 0
        var biggestKey: Bytes?
    }

    public static func bigKeys(_ cli: CLI, memory: Bool) -> Int32 {
        guard let c = cli.conn else { return 1 }
        func fail(_ s: String) -> Int32 { Out.err(s); return 1 }
        var types: [String: TypeStats] = [
            "string": TypeStats(name: "string", sizeCommand: "STRLEN", unit: "bytes"),
            "list": TypeStats(name: "list", sizeCommand: "LLEN", unit: "items"),
            "set": TypeStats(name: "set", sizeCommand: "SCARD", unit: "members"),
            "zset": TypeStats(name: "zset", sizeCommand: "ZCARD", unit: "members"),
            "hash": TypeStats(name: "hash", sizeCommand: "HLEN", unit: "fields"),
            "stream": TypeStats(name: "stream", sizeCommand: "XLEN", unit: "entries"),
        ]
        var typeTable = TypeTableModel(inserting: ["string", "list", "set", "hash", "zset", "stream"])
        if memory { for k in types.keys { types[k]!.unit = "bytes" } }
        let total: Int
        do {
            let r = try c.call(["DBSIZE"])
            guard case let .integer(n) = r else { return fail("Couldn't determine DBSIZE!\n") }
            total = Int(n)
        } catch { return fail("Error: \(error)\n") }
        Out.write("\n# Scanning the entire keyspace to find biggest keys as well as\n"
            + "# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n"
            + "# per 100 SCAN commands (not usually needed).\n\n")
        var sampled = 0
        var totlen = 0
        var cursor: Bytes = "0"
        var loops = 0
        repeat {
            do {
                var scanCmd: [Bytes] = ["SCAN", cursor]
                if let p = cli.config.pattern { scanCmd += ["MATCH", p] }
                let r = try c.call(scanCmd)
                if case let .error(e) = r { return fail("Error: \(e.string)\n") }
                guard let els = r.elements, els.count == 2, let cur = els[0].bytes, let keyReplies = els[1].elements else {
                    return fail("Error: unexpected SCAN reply\n")
                }
                cursor = cur
                let keys = keyReplies.compactMap { $0.bytes }
                // Pipeline TYPE for every key, then the size command.
                var out: [UInt8] = []
                for k in keys { out += Connection.encode(["TYPE", k]) }
                try c.writeAll(out)
                var kinds: [String] = []
                for _ in keys {
                    kinds.append(try c.readReply().text ?? "none")
                    typeTable.lookup()
                }
                out = []
                for (k, t) in zip(keys, kinds) {
                    guard let ts = types[t] else { continue }
                    if memory {
                        var cmd: [Bytes] = ["MEMORY", "USAGE", k]
                        if cli.config.memkeysSamples > 0 { cmd += ["SAMPLES", Bytes(String(cli.config.memkeysSamples))] }
                        out += Connection.encode(cmd)
                    } else {
                        out += Connection.encode([Bytes(ts.sizeCommand), k])
                    }
                }
                try c.writeAll(out)
                // Like redis-cli, progress counts the keys sampled before this SCAN batch.
                let pct = total > 0 ? 100.0 * Double(sampled) / Double(total) : 0
                for (k, t) in zip(keys, kinds) {
                    guard types[t] != nil else { continue }
                    let r = try c.readReply()
                    if case let .error(e) = r {
                        return fail("Error: \(e.string)\n")
                    }
                    let size = Int(r.integerValue ?? 0)
                    totlen += k.count
                    types[t]!.count += 1
                    types[t]!.total += size
                    if size > types[t]!.biggest {
                        Out.write("[\(fmt05_2(pct))%] Biggest \(pad(t, 6, left: true)) found so far '\(ReplyFormatter.repr(k.raw))' with \(size) \(types[t]!.unit)\n")
                        types[t]!.biggest = size
                        types[t]!.biggestKey = k
                    }
                }
                sampled += keys.count
                Out.flush()
            } catch { return fail("Error: \(error)\n") }
            loops += 1
            if cli.config.interval > 0 && loops % 100 == 0 { usleep(useconds_t(cli.config.interval * 1e6)) }
        } while cursor != "0"
        let order = typeTable.order
        var s = "\n-------- summary -------\n\n"
        s += "Sampled \(sampled) keys in the keyspace!\n"
        s += "Total key length in bytes is \(totlen) (avg len \(fmt2(sampled > 0 ? Double(totlen) / Double(sampled) : 0)))\n\n"
        for t in order {
            let ts = types[t]!
            if let k = ts.biggestKey {
                s += "Biggest \(pad(t, 6, left: false)) found '\(ReplyFormatter.repr(k.raw))' has \(ts.biggest) \(ts.unit)\n"
            }
        }
        s += "\n"
        for t in order {
            let ts = types[t]!
            let pct = sampled > 0 ? 100.0 * Double(ts.count) / Double(sampled) : 0
            let avg = ts.count > 0 ? Double(ts.total) / Double(ts.count) : 0
            s += "\(ts.count) \(t)s with \(ts.total) \(ts.unit) (\(fmt05_2(pct))% of keys, avg size \(fmt2(avg)))\n"
        }
        Out.write(s)
        Out.flush()
        return 0
    }

    static func pad(_ s: String, _ n: Int, left: Bool) -> String {
        let p = String(repeating: " ", count: max(0, n - s.count))
        return left ? s + p : p + s
    }

    static func cfmt(_ format: String, _ v: Double) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buf, 64, format, $0) }
        return String(cString: buf)
    }

    static func fmt2(_ v: Double) -> String { cfmt("%.2f", v) }
    static func fmt05_2(_ v: Double) -> String { cfmt("%05.2f", v) }

    // MARK: --stat

    static func infoField(_ info: String, _ name: String) -> Int? {
        for line in info.split(whereSeparator: { $0 == "\r\n" || $0 == "\r" || $0 == "\n" }) where line.hasPrefix(name + ":") {
            return atoiLike(String(line.dropFirst(name.count + 1)))
        }
        return nil
    }

    static func bytesToHuman(_ n: Int) -> String {
        let d = Double(n)
        if n < 0 { return "-" + bytesToHuman(-n) }
        if n < 1024 { return "\(n)B" }
        if d < 1024 * 1024 { return fmt2(d / 1024) + "K" }
        if d < 1024 * 1024 * 1024 { return fmt2(d / 1024 / 1024) + "M" }
        if d < 1024.0 * 1024 * 1024 * 1024 { return fmt2(d / 1024 / 1024 / 1024) + "G" }
        if d < 1024.0 * 1024 * 1024 * 1024 * 1024 { return fmt2(d / 1024 / 1024 / 1024 / 1024) + "T" }
        return fmt2(d / 1024 / 1024 / 1024 / 1024 / 1024) + "P"
    }

    public static func stat(_ cli: CLI) -> Int32 {
        guard var c = cli.conn else { return 1 }
        var requests = 0
        var i = 0
        let interval = cli.config.interval > 0 ? cli.config.interval : 1
        while true {
            let info: String
            do {
                let r = try c.call(["INFO"])
                if case let .error(e) = r { Out.err("ERROR: \(e.string)\n"); return 1 }
                info = r.text ?? ""
            } catch {
                // Reconnect like redis-cli does while the server is away.
                Out.write("\r\u{1b}[0KReconnecting...\r")
                Out.flush()
                sleep(1)
                if cli.connect(force: true, quiet: true), let nc = cli.conn { c = nc }
                continue
            }
            var line = ""
            if i % 20 == 0 {
                line += "------- data ------ --------------------- load -------------------- - child -\n"
                line += "keys       mem      clients blocked requests            connections          \n"
            }
            i += 1
            var keys = 0
            for db in 0..<20 {
                if let r = info.range(of: "db\(db):keys=") {
                    keys += atoiLike(String(info[r.upperBound...].prefix { $0.isNumber }))
                }
            }
            line += pad(String(keys), 11, left: true)
            line += pad(bytesToHuman(infoField(info, "used_memory") ?? 0), 8, left: true)
            line += " " + pad(String(infoField(info, "connected_clients") ?? 0), 8, left: true)
            line += pad(String(infoField(info, "blocked_clients") ?? 0), 8, left: true)
            let total = infoField(info, "total_commands_processed") ?? 0
            line += pad("\(total) (+\(requests == 0 ? 0 : total - requests))", 19, left: true)
            requests = total
            line += " " + pad(String(infoField(info, "total_connections_received") ?? 0), 12, left: true)
            var child = infoField(info, "rdb_bgsave_in_progress") ?? 0
            child |= (infoField(info, "aof_rewrite_in_progress") ?? 0) << 1
            child |= (infoField(info, "loading") ?? 0) << 2
            switch child {
            case 1: line += "SAVE"
            case 2: line += "AOF"
            case 3: line += "SAVE+AOF"
            case 4: line += "LOAD"
            default: break
            }
            line += "\n"
            Out.write(line)
            Out.flush()
            usleep(useconds_t(interval * 1e6))
        }
    }

    // MARK: --latency

    public static func latency(_ cli: CLI) -> Int32 {
        guard var c = cli.conn else { return 1 }
        let mode = cli.config.output
        let intervalMs = cli.config.interval > 0 ? cli.config.interval * 1000 : 1000
        let historyMs = cli.config.interval > 0 ? cli.config.interval * 1000 : 15000
        var minL = 0, maxL = 0, tot = 0, count = 0
        var avg = 0.0
        var historyStart = monotonicSeconds()
        func printStats() {
            switch mode {
            case .standard: Out.write("min: \(minL), max: \(maxL), avg: \(fmt2(avg)) (\(count) samples)")
            case .csv: Out.write("\(minL),\(maxL),\(fmt2(avg)),\(count)\n")
            case .raw: Out.write("\(minL) \(maxL) \(fmt2(avg)) \(count)\n")
            }
            Out.flush()
        }
        while true {
            let start = monotonicSeconds()
            do {
                _ = try c.call(["PING"])
            } catch {
                Out.write("\r\u{1b}[0KReconnecting...\r")
                Out.flush()
                sleep(1)
                if cli.connect(force: true, quiet: true), let nc = cli.conn { c = nc }
                continue
            }
            let l = Int((monotonicSeconds() - start) * 1000)
            count += 1
            if count == 1 { minL = l; maxL = l; tot = l; avg = Double(l) } else {
                minL = min(minL, l); maxL = max(maxL, l); tot += l; avg = Double(tot) / Double(count)
            }
            let elapsedMs = (monotonicSeconds() - historyStart) * 1000
            if mode == .standard {
                Out.write("\u{1b}[0G\u{1b}[2K")
                printStats()
            } else if cli.config.latencyHistory {
                printStats()
            } else if elapsedMs > intervalMs {
                printStats()
                return 0
            }
            if cli.config.latencyHistory && elapsedMs > historyMs {
                Out.write(" -- \(fmt2(elapsedMs / 1000)) seconds range\n")
                Out.flush()
                historyStart = monotonicSeconds()
                minL = 0; maxL = 0; tot = 0; count = 0
            }
            usleep(10_000)
        }
    }
}

extension String {
    func replacingAll(_ target: String, with rep: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += rep
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
