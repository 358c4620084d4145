import LunarRESP

/// MONITOR: the connection receives a line for every command the server runs, as Redis 7.0 writes it:
/// `+<unix seconds>.<µs> [<db> <peer>] "arg" "arg"…`, the peer being the client's address, `lua` for a
/// script's calls or `unix:<socket path>`.
///
/// What is shown follows Redis: commands that ran (not those refused before running, nor those only
/// queued by MULTI; EXEC shows after the commands it ran), never the commands flagged admin or
/// skip_monitor, passwords redacted. Scripts and functions (skip_monitor) are shown by the scripting
/// module as they start, so that their own calls follow them.
extension Engine {
    static var monitorSpecs: [CommandSpec] {
        [
            CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: .server,
                        since: "1.0.0", summary: "Streams every command the server runs to this connection.",
                        acl: ["dangerous"]) { ctx in
                let c = ctx.client
                // Inside EXEC the client expects one reply per command, which a monitor stream breaks.
                if ctx !== ctx.engine.topContext && !ctx.inScript {
                    ctx.error("ERR MONITOR isn't allowed for DENY BLOCKING client")
                    return
                }
                // Already a monitor (or a replica): Redis ignores it, without a reply.
                if c.isMonitor || c.isReplica { return }
                c.isMonitor = true
                ctx.engine.monitors.append(c)
                ctx.ok()
            },
        ]
    }

    /// Stops sending the monitor stream to `c` (RESET, disconnection).
    func stopMonitoring(_ c: Client) {
        guard c.isMonitor else { return }
        c.isMonitor = false
        monitors.removeAll { $0 === c }
    }

    /// Sends one command to every monitor. `lua`: the command was called by a script.
    public func feedMonitors(_ client: Client, _ argv: [Bytes], lua: Bool) {
        let micros = unixMicros()
        var line: [UInt8] = []
        line.reserveCapacity(64 + argv.reduce(0) { $0 + $1.count + 3 })
        line.append(UInt8(ascii: "+"))
        let frac = String(micros % 1_000_000)
        line += Array("\(micros / 1_000_000).\(String(repeating: "0", count: 6 - frac.utf8.count))\(frac) [\(client.db) ".utf8)
        if lua {
            line += Array("lua".utf8)
        } else if client.isUnixSocket {
            line += Array("unix:\(config.string("unixsocket"))".utf8)
        } else {
            line += Array(client.remoteAddress.utf8)
        }
        line += Array("] ".utf8)
        let shown = Redaction.apply(argv)
        for (i, a) in shown.enumerated() {
            if i > 0 { line.append(UInt8(ascii: " ")) }
            Self.appendQuoted(a, to: &line)
        }
        line += [13, 10]
        for m in monitors where !m.closed {
            if let owner = replyContext(of: m) {
                owner.out.buffer.writeBytes(line)
            } else {
                m.output.buffer.writeBytes(line)
                markFlush(m)
            }
        }
    }

    /// `"…"` with Redis's escapes (sdscatrepr): backslash, quote, \n \r \t \a \b, and \xHH for any
    /// byte outside printable ASCII.
    static func appendQuoted(_ a: Bytes, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        for b in a.raw {
            switch b {
            case UInt8(ascii: "\\"): out += [92, 92]
            case UInt8(ascii: "\""): out += [92, 34]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 7: out += [92, UInt8(ascii: "a")]
            case 8: out += [92, UInt8(ascii: "b")]
            case 0x20...0x7e: out.append(b)
            default: out += [92, UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The arguments Redis hides from MONITOR and SLOWLOG, replaced by `(redacted)`: they are redacted as
/// the command parses them, so a call whose syntax fails before its password is reached shows as sent.
enum Redaction {
    static let word = Bytes("(redacted)")
    /// Parameters whose CONFIG SET value is hidden (Redis's SENSITIVE_CONFIG ones).
    static let sensitiveConfigs: Set<String> = ["masteruser", "masterauth", "requirepass"]

    static func apply(_ argv: [Bytes]) -> [Bytes] {
        guard let first = argv.first else { return argv }
        var out = argv
        if first.equalsIgnoringCase("auth") {
            // AUTH password, AUTH username password.
            if argv.count == 2 || argv.count == 3 { for j in 1..<argv.count { out[j] = word } }
        } else if first.equalsIgnoringCase("acl") && argv.count >= 3 && argv[1].equalsIgnoringCase("setuser") {
            // ACL SETUSER: the user name and every rule (they may hold passwords or hashes).
            for j in 2..<argv.count { out[j] = word }
        } else if first.equalsIgnoringCase("config") && argv.count >= 4 && argv.count % 2 == 0 && argv[1].equalsIgnoringCase("set") {
            // CONFIG SET: the values of the sensitive parameters (a syntax error shows everything).
            var j = 2
            while j + 1 < argv.count {
                if sensitiveConfigs.contains(argv[j].lowercased.string) { out[j + 1] = word }
                j += 2
            }
        } else if first.equalsIgnoringCase("hello") && argv.count >= 2 {
            // HELLO protover [AUTH username password] [SETNAME name]: options are read only after a
            // protocol version of 2 or 3, and each AUTH pair is hidden as it is read.
            guard let v = parseStrictInt(argv[1].raw), v == 2 || v == 3 else { return argv }
            var j = 2
            while j < argv.count {
                let more = argv.count - 1 - j
                if argv[j].equalsIgnoringCase("auth") && more >= 2 {
                    out[j + 1] = word
                    out[j + 2] = word
                    j += 3
                } else if argv[j].equalsIgnoringCase("setname") && more >= 1 {
                    j += 2
                } else {
                    break
                }
            }
        } else if first.equalsIgnoringCase("migrate") {
            // MIGRATE … [AUTH password] [AUTH2 username password]: hidden as the options are read.
            var j = 6
            while j < argv.count {
                let more = argv.count - 1 - j
                if argv[j].equalsIgnoringCase("copy") || argv[j].equalsIgnoringCase("replace") {
                    j += 1
                } else if argv[j].equalsIgnoringCase("auth") && more >= 1 {
                    out[j + 1] = word
                    j += 2
                } else if argv[j].equalsIgnoringCase("auth2") && more >= 2 {
                    out[j + 1] = word
                    out[j + 2] = word
                    j += 3
                } else {
                    break
                }
            }
        }
        return out
    }
}
