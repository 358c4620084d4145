import DequeModule
import LunarRESP

/// The slow log (SLOWLOG): top-level commands that ran for at least `slowlog-log-slower-than`
/// microseconds (0 logs everything, a negative value nothing), newest first, at most
/// `slowlog-max-len` entries. Arguments are kept as Redis keeps them: 32 at most (the last says
/// how many more there were), each cut at 128 bytes.
struct SlowLog {
    struct Entry {
        let id: Int
        let time: Int64          // Unix seconds
        let micros: Int
        let argv: [Bytes]
        let peer: String
        let name: Bytes
    }

    static let maxArgs = 32
    static let maxArgBytes = 128

    private(set) var entries: Deque<Entry> = []
    private var nextID = 0

    mutating func push(_ argv: [Bytes], micros: Int, client: Client, now: Int64, maxLen: Int) {
        var kept: [Bytes] = []
        let n = min(argv.count, Self.maxArgs)
        kept.reserveCapacity(n)
        // Passwords never reach the log (AUTH's arguments, HELLO's after AUTH), as Redis redacts them.
        let argv = Redaction.apply(argv)
        for j in 0..<n {
            if n != argv.count && j == n - 1 {
                kept.append(Bytes("... (\(argv.count - n + 1) more arguments)"))
            } else if argv[j].count > Self.maxArgBytes {
                kept.append(Bytes(argv[j].raw[0..<Self.maxArgBytes] + Array("... (\(argv[j].count - Self.maxArgBytes) more bytes)".utf8)))
            } else {
                kept.append(argv[j])
            }
        }
        // A script's calls come from no connection: Redis shows them as "?:0".
        let peer = client.connection == nil && client.remoteAddress.isEmpty ? "?:0" : client.remoteAddress
        entries.prepend(Entry(id: nextID, time: now / 1000, micros: micros, argv: kept, peer: peer, name: client.name))
        nextID += 1
        while entries.count > maxLen { entries.removeLast() }
    }

    mutating func reset() { entries.removeAll() }

    static var specs: [CommandSpec] {
        let subs: [CommandSpec] = [
            CommandSpec("get", arity: -2, flags: [.admin, .loading, .stale], group: .server, since: "2.2.12",
                        summary: "Returns the slow log's entries.", complexity: "O(N) where N is the number of entries returned",
                        syntax: "[count]", acl: ["dangerous"]) { ctx in
                var count = 10
                if ctx.argc == 3 {
                    guard let v = parseStrictInt(ctx.argv[2].raw), v >= -1 else {
                        ctx.error("ERR count should be greater than or equal to -1")
                        return
                    }
                    count = v
                } else if ctx.argc > 3 {
                    ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try SLOWLOG HELP.")
                    return
                }
                let all = ctx.engine.slowlog.entries
                let shown = count == -1 ? all.count : min(count, all.count)
                ctx.out.array(shown)
                for e in all.prefix(shown) {
                    ctx.out.array(6)
                    ctx.out.integer(e.id)
                    ctx.out.integer(Int(e.time))
                    ctx.out.integer(e.micros)
                    ctx.out.array(e.argv.count)
                    for a in e.argv { ctx.out.bulk(a) }
                    ctx.out.bulk(e.peer)
                    ctx.out.bulk(e.name)
                }
            },
            CommandSpec("len", arity: 2, flags: [.admin, .loading, .stale], group: .server, since: "2.2.12",
                        summary: "Returns the number of entries in the slow log.", complexity: "O(1)", acl: ["dangerous"]) { ctx in
                ctx.out.integer(ctx.engine.slowlog.entries.count)
            },
            CommandSpec("reset", arity: 2, flags: [.admin, .loading, .stale], group: .server, since: "2.2.12",
                        summary: "Clears all entries from the slow log.", complexity: "O(N) where N is the number of entries in the slowlog",
                        acl: ["dangerous"]) { ctx in
                ctx.engine.slowlog.reset()
                ctx.ok()
            },
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "6.2.0",
                        summary: "Shows helpful text about the different subcommands", complexity: "O(1)") { ctx in
                ConnectionCommands.help(ctx, "SLOWLOG", [
                    ("GET [<count>]", "Return top <count> entries from the slowlog (default: 10, -1 mean all).\nEntries are made of:\nid, timestamp, time in microseconds, arguments array, client IP and port,\nclient name"),
                    ("LEN", "Return the length of the slowlog."),
                    ("RESET", "Reset the slowlog."),
                ])
            },
        ]
        return [CommandSpec("slowlog", arity: -2, group: .server, since: "2.2.12", summary: "A container for slow log commands",
                            complexity: "Depends on subcommand.", subcommands: subs)]
    }
}
