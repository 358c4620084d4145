import LunarEngine
import LunarRESP

/// One cached connection to a MIGRATE target, opened by the server's network side.
public protocol MigrateSocket: AnyObject {
    /// Writes `request`, then reads `replies` replies, each within `timeoutMs`. Blocks the caller
    /// (the engine thread) until done, like Redis's MIGRATE blocks the server; the I/O itself runs on
    /// an event loop. Each reply comes back as the line Redis would read (`+OK`, `-ERR …`).
    func exchange(_ request: [UInt8], replies: Int, timeoutMs: Int) -> MigrateExchange
    func close()
}

/// What a MIGRATE exchange got: the replies read, and the failure that stopped it, if any.
public struct MigrateExchange {
    public enum Failure: Sendable { case writing, reading }
    public var replies: [String]
    public var failure: Failure?
    /// The failure was a timeout (Redis does not retry those).
    public var timedOut: Bool
    public init(replies: [String], failure: Failure? = nil, timedOut: Bool = false) {
        self.replies = replies
        self.failure = failure
        self.timedOut = timedOut
    }
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
/// AUTH2 username password] [KEYS key ...]: moves keys to another server as RESTORE commands
/// carrying DUMP payloads, then deletes them here (propagated as DEL) unless COPY.
///
/// As in Redis 7.0, the command is synchronous: nothing else runs until the target answered or the
/// timeout passed, so a key cannot change between being serialized and being deleted. Connections
/// are cached per target for 10 s (at most 64), with the database last selected on each, so a
/// run of MIGRATEs to one target connects and SELECTs once.
public final class Migrate {
    static let key = "lunar.migrate"
    static let cacheTTLms: Int64 = 10_000
    static let cacheMax = 64

    unowned let engine: Engine
    /// Opens a connection within a timeout (set by the server); nil when it cannot connect.
    public var connector: ((_ host: String, _ port: Int, _ timeoutMs: Int) -> MigrateSocket?)?

    private final class Cached {
        let socket: MigrateSocket
        var lastDB = -1
        var lastUse: Int64
        init(_ socket: MigrateSocket, now: Int64) {
            self.socket = socket
            lastUse = now
        }
    }
    private var cache: [String: Cached] = [:]

    init(engine: Engine) { self.engine = engine }

    public static func of(_ engine: Engine) -> Migrate? { engine.extensions[key] as? Migrate }

    static func install(on engine: Engine) {
        let m = Migrate(engine: engine)
        engine.extensions[key] = m
        engine.cronHooks.append { e in Migrate.of(e)?.closeIdle() }
        engine.extensions[InfoSectionProvider.key("stats.migrate")] = InfoSectionProvider { e in
            ["migrate_cached_sockets:\(Migrate.of(e)?.cache.count ?? 0)"]
        }
    }

    static var specs: [CommandSpec] {
        [
            CommandSpec("migrate", arity: -6, flags: [.write], keys: (3, 3, 1), group: .generic, since: "2.6.0",
                        summary: "Moves keys to another server atomically (as RESTORE), deleting them here unless COPY.",
                        complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
                        syntax: "host port key|\"\" destination-db timeout [COPY] [REPLACE] [AUTH password|AUTH2 username password] [KEYS key [key ...]]",
                        acl: ["dangerous"], handler: { ctx in Migrate.of(ctx.engine)?.run(ctx) },
                        getKeys: keyPositions),
        ]
    }

    /// The key arguments: argv[3], or those after KEYS when argv[3] is empty.
    static func keyPositions(_ argv: [Bytes]) -> [Int] {
        var j = 6
        while j < argv.count {
            let opt = argv[j].lowercased.string
            if opt == "auth" {
                j += 2
            } else if opt == "auth2" {
                j += 3
            } else if opt == "keys" {
                if argv[3].count == 0 { return Array((j + 1)..<argv.count) }
                break
            } else {
                j += 1
            }
        }
        return argv.count > 3 ? [3] : []
    }

    // MARK: The command

    private struct Options {
        var copy = false
        var replace = false
        var user: Bytes?
        var password: Bytes?
        var keys: [Bytes] = []
    }

    private func parse(_ ctx: CommandContext) -> Options? {
        var o = Options()
        var j = 6
        var keysGiven = false
        while j < ctx.argc {
            let more = ctx.argc - j - 1
            if ctx.arg(j, is: "copy") {
                o.copy = true
            } else if ctx.arg(j, is: "replace") {
                o.replace = true
            } else if ctx.arg(j, is: "auth") {
                guard more >= 1 else { ctx.syntaxError(); return nil }
                j += 1
                o.password = ctx.argv[j]   // a user named by an earlier AUTH2 stays, as in Redis
            } else if ctx.arg(j, is: "auth2") {
                guard more >= 2 else { ctx.syntaxError(); return nil }
                o.user = ctx.argv[j + 1]
                o.password = ctx.argv[j + 2]
                j += 2
            } else if ctx.arg(j, is: "keys") {
                guard ctx.argv[3].count == 0 else {
                    ctx.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
                    return nil
                }
                o.keys = Array(ctx.argv[(j + 1)...])
                keysGiven = true
                break
            } else {
                ctx.syntaxError()
                return nil
            }
            j += 1
        }
        if !keysGiven { o.keys = [ctx.argv[3]] }
        return o
    }

    func run(_ ctx: CommandContext) {
        guard var o = parse(ctx) else { return }
        guard var timeout = parseStrictInt(ctx.argv[5].raw), let dbid = parseStrictInt(ctx.argv[4].raw) else {
            ctx.error("ERR value is not an integer or out of range")
            return
        }
        if timeout <= 0 { timeout = 1000 }
        let db = ctx.db
        o.keys = o.keys.filter { db.lookupRead($0) != nil }
        if o.keys.isEmpty {
            ctx.out.simple("NOKEY")
            return
        }
        let host = ctx.argv[1].string
        let port = parseStrictInt(ctx.argv[2].raw) ?? 0
        var mayRetry = true
        while true {
            guard let cached = socket(host: host, port: port, timeoutMs: timeout) else {
                ctx.error("IOERR error or timeout connecting to the client")
                return
            }
            // The request: AUTH and SELECT when needed, then one RESTORE per key still alive.
            var request = ReplyWriter(resp: 2, capacity: 1024)
            var expected = 0
            if let pass = o.password {
                request.command(o.user.map { [Bytes("AUTH"), $0, pass] } ?? [Bytes("AUTH"), pass])
                expected += 1
            }
            let select = cached.lastDB != dbid
            if select {
                request.command([Bytes("SELECT"), StringEncoding.decimal(dbid)])
                expected += 1
            }
            let compress = Persistence.of(engine)?.compress ?? true
            var sent: [Bytes] = []
            for key in o.keys {
                guard let value = db.lookupRead(key, notifyMiss: false, touch: false) else { continue }
                var ttl: Int64 = 0
                if let at = db.expireTime(key), at != 0 {
                    ttl = at - unixMillis()
                    if ttl < 0 { continue }
                    if ttl < 1 { ttl = 1 }
                }
                var args = [Bytes("RESTORE"), key, Bytes(String(ttl)), Bytes(DumpRestore.payload(of: value, compress: compress))]
                if o.replace { args.append(Bytes("REPLACE")) }
                request.command(args)
                sent.append(key)
            }
            let result = cached.socket.exchange(Array(request.buffer.readableBytesView),
                                                replies: expected + sent.count, timeoutMs: timeout)
            cached.lastUse = monotonicMillis()
            if result.failure == .writing {
                close(host: host, port: port)
                if mayRetry && !result.timedOut { mayRetry = false; continue }
                ctx.error("IOERR error or timeout writing to target instance")
                return
            }
            // The replies: AUTH's and SELECT's first, then one per key. A target error is reported
            // once (the first), and forces a SELECT next time; keys the target took are deleted.
            let replies = result.replies
            let authReply = o.password != nil ? replies.first : nil
            let selectReply = select ? replies.dropFirst(o.password != nil ? 1 : 0).first : nil
            let keyReplies = Array(replies.dropFirst(expected))
            if keyReplies.isEmpty && result.failure != nil {
                // Nothing was processed: a cached socket the target closed is reopened once.
                close(host: host, port: port)
                if mayRetry && !result.timedOut { mayRetry = false; continue }
                ctx.error("IOERR error or timeout reading to target instance")
                return
            }
            var targetError: String?
            var deleted: [Bytes] = []
            for (i, line) in keyReplies.enumerated() {
                let failed = [authReply, selectReply, line].contains { $0?.first == "-" }
                if failed {
                    if targetError == nil {
                        cached.lastDB = -1
                        let err = [authReply, selectReply].compactMap { $0 }.first { $0.first == "-" } ?? line
                        targetError = String(err.dropFirst())
                    }
                } else if !o.copy {
                    let key = sent[i]
                    db.delete(key)
                    db.signalModified(key)
                    db.notify(KeyspaceEvents.generic, "del", key)
                    deleted.append(key)
                }
            }
            if result.failure != nil { close(host: host, port: port) }
            if deleted.isEmpty {
                ctx.propagateNothing()
            } else {
                ctx.propagateAs([[Bytes("DEL")] + deleted])
            }
            if let err = targetError {
                ctx.error("ERR Target instance replied with error: \(err)")
            } else if result.failure != nil {
                ctx.error("IOERR error or timeout reading to target instance")
            } else {
                cached.lastDB = dbid
                ctx.out.ok()
            }
            return
        }
    }

    // MARK: Connection cache

    private func socket(host: String, port: Int, timeoutMs: Int) -> Cached? {
        let name = "\(host):\(port)"
        if let c = cache[name] {
            c.lastUse = monotonicMillis()
            return c
        }
        if cache.count >= Self.cacheMax, let victim = cache.keys.randomElement() {
            cache.removeValue(forKey: victim)?.socket.close()
        }
        guard let s = connector?(host, port, timeoutMs) else { return nil }
        let c = Cached(s, now: monotonicMillis())
        cache[name] = c
        return c
    }

    private func close(host: String, port: Int) {
        cache.removeValue(forKey: "\(host):\(port)")?.socket.close()
    }

    /// Closes connections unused for 10 s (from the engine's cron).
    func closeIdle() {
        guard !cache.isEmpty else { return }
        let now = monotonicMillis()
        for (name, c) in cache where now - c.lastUse > Self.cacheTTLms {
            c.socket.close()
            cache.removeValue(forKey: name)
        }
    }
}
