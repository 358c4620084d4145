import LunarRESP

/// Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT…
enum ConnectionCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("ping", arity: -1, flags: [.fast], group: .connection, summary: "Checks that the server answers; returns PONG or the given message.", syntax: "[message]") { ctx in
                if ctx.argc > 2 { ctx.error("ERR wrong number of arguments for 'ping' command"); return }
                if ctx.client.subscriptions.pubsubMode && ctx.client.resp == 2 {
                    // A subscribed RESP2 connection carries messages: PING answers in their shape.
                    ctx.out.array(2)
                    ctx.out.bulk("pong")
                    ctx.out.bulk(ctx.argc == 2 ? ctx.argv[1] : Bytes())
                } else if ctx.argc == 2 { ctx.out.bulk(ctx.argv[1]) } else { ctx.out.simple("PONG") }
            },
            CommandSpec("echo", arity: 2, flags: [.loading, .stale, .fast], group: .connection, summary: "Returns the given message.", syntax: "message") { ctx in
                ctx.out.bulk(ctx.argv[1])
            },
            CommandSpec("quit", arity: -1, flags: [.noAuth, .allowBusy, .fast, .stale, .noscript, .loading], group: .connection, summary: "Closes the connection after replying OK.") { ctx in
                ctx.ok()
                ctx.client.closeAfterReply = true
            },
            CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: .connection, summary: "Changes the selected database of the connection.", syntax: "index") { ctx in
                guard let n = ctx.int(1) else { return }
                guard n >= 0 && n < ctx.engine.databases.count else { ctx.error(Err.dbIndexOutOfRange); return }
                ctx.client.db = n
                ctx.ok()
            },
            CommandSpec("hello", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: .connection, since: "6.0.0", summary: "Negotiates the protocol version, optionally authenticating and naming the connection, and describes the server.", syntax: "[protover [AUTH username password] [SETNAME clientname]]", handler: hello),
            CommandSpec("auth", arity: -2, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: .connection, since: "1.0.0", summary: "Authenticates the connection with a password, or a username and password.", complexity: "O(N) where N is the number of passwords defined for the user", syntax: "[username] password") { ctx in
                if ctx.argc > 3 { ctx.syntaxError(); return }
                if ctx.argc == 2 && ctx.engine.acl.defaultUser.nopass {
                    ctx.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
                    return
                }
                let user = ctx.argc == 3 ? ctx.argv[1] : Bytes("default")
                if ctx.engine.authenticate(ctx.client, user: user, password: ctx.argv[ctx.argc - 1], command: ctx.argv[0]) {
                    ctx.ok()
                } else {
                    ctx.error(wrongPass)
                }
            },
            CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: .connection, since: "6.2.0", summary: "Returns the connection to its initial state: no transaction or watched keys, database 0, RESP2, no name.") { ctx in
                let c = ctx.client
                TransactionCommands.discardTransaction(ctx.engine, c)
                ctx.engine.pubsub.unsubscribeAll(c)
                ctx.engine.stopMonitoring(c)
                c.db = 0
                c.resp = 2
                ctx.out.resp = 2
                c.name = Bytes()
                c.noEvict = false
                if c.tracking != nil { ctx.engine.tracking.disable(c) }
                c.replyOff = false
                c.replySkipNext = false
                // As Redis: back to the state of a new connection, authentication included.
                c.authenticated = !ctx.engine.authRequired
                c.user = nil
                ctx.out.simple("RESET")
            },
            CommandSpec("client", arity: -2, group: .connection, since: "2.4.0", summary: "Inspects and manages client connections.", complexity: "Depends on subcommand.", subcommands: clientSubcommands),
        ]
    }

    static let wrongPass = "WRONGPASS invalid username-password pair or user is disabled."

    static let badClientName = "ERR Client names cannot contain spaces, newlines or special characters."

    /// Redis accepts client names made of printable ASCII without spaces.
    static func validClientName(_ b: Bytes) -> Bool {
        for c in b.raw where c < 33 || c > 126 { return false }
        return true
    }

    static func hello(_ ctx: CommandContext) {
        var version = ctx.client.resp
        if ctx.argc >= 2 {
            guard let v = parseStrictInt(ctx.argv[1].raw) else {
                ctx.error("ERR Protocol version is not an integer or out of range")
                return
            }
            if v < 2 || v > 3 { ctx.error("NOPROTO unsupported protocol version"); return }
            version = v
        }
        var name: Bytes?
        var j = 2
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.arg(j, is: "auth") && more >= 2 {
                if !ctx.engine.authenticate(ctx.client, user: ctx.argv[j + 1], password: ctx.argv[j + 2], command: ctx.argv[0]) {
                    ctx.error(wrongPass)
                    return
                }
                j += 3
            } else if ctx.arg(j, is: "setname") && more >= 1 {
                let n = ctx.argv[j + 1]
                if !validClientName(n) { ctx.error(badClientName); return }
                name = n
                j += 2
            } else {
                ctx.error(quoting: "ERR Syntax error in HELLO option '\(quoted: ctx.argv[j])'")
                return
            }
        }
        if ctx.engine.authRequired && !ctx.client.authenticated {
            ctx.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let name { ctx.client.name = name }
        ctx.client.resp = version
        ctx.out.resp = version
        ctx.out.map(7)
        ctx.out.bulk("server"); ctx.out.bulk("redis")
        ctx.out.bulk("version"); ctx.out.bulk(LunarVersion.redisCompatible)
        ctx.out.bulk("proto"); ctx.out.integer(version)
        ctx.out.bulk("id"); ctx.out.integer(ctx.client.id)
        ctx.out.bulk("mode"); ctx.out.bulk("standalone")
        ctx.out.bulk("role"); ctx.out.bulk("master")
        ctx.out.bulk("modules"); ctx.out.array(0)
    }

    // MARK: CLIENT

    static var clientSubcommands: [CommandSpec] {
        let common: CommandFlags = [.noscript, .loading, .stale]
        let admin: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .connection, since: "5.0.0", summary: "Lists the CLIENT subcommands.") { ctx in
                help(ctx, "CLIENT", [
                    ("ID", "Returns the id of this connection."),
                    ("INFO", "Describes this connection, in the format of CLIENT LIST."),
                    ("LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID id [id ...]]", "Describes every connection, optionally only some types or ids."),
                    ("KILL <ip:port>", "Closes the connection from that address."),
                    ("KILL <option> <value> [<option> <value> [...]]", "Closes every connection matching all the filters: ID, TYPE, USER, ADDR, LADDR, SKIPME (yes|no)."),
                    ("SETNAME <name>", "Names this connection."),
                    ("GETNAME", "Returns the name of this connection."),
                    ("NO-EVICT (ON|OFF)", "Excludes this connection from client eviction, or not."),
                    ("UNBLOCK <clientid> [TIMEOUT|ERROR]", "Wakes a client blocked in a blocking command, as a timeout or with an error."),
                    ("REPLY (ON|OFF|SKIP)", "Turns replies on or off, or drops the reply of the next command only."),
                    ("GETREDIR", "Returns the client tracking redirection id (-1: tracking is off, 0: no redirection)."),
                    ("TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]", "Turns server-assisted client-side caching on or off: invalidation messages for\nthe keys this connection reads (or, with BCAST, for keys under the prefixes)."),
                    ("CACHING (YES|NO)", "In OPTIN (OPTOUT) mode: whether the next command's keys are tracked."),
                    ("TRACKINGINFO", "Describes this connection's tracking settings."),
                    ("PAUSE <timeout> [WRITE|ALL]", "Holds the clients' commands for <timeout> milliseconds: all of them (ALL, the\ndefault) or those that may write (WRITE)."),
                    ("UNPAUSE", "Ends a CLIENT PAUSE."),
                ])
            },
            CommandSpec("id", arity: 2, flags: common, group: .connection, since: "5.0.0", summary: "Returns the id of this connection.") { ctx in
                ctx.out.integer(ctx.client.id)
            },
            CommandSpec("setname", arity: 3, flags: common, group: .connection, since: "2.6.9", summary: "Names this connection.", syntax: "connection-name") { ctx in
                let n = ctx.argv[2]
                if !validClientName(n) { ctx.error(badClientName); return }
                ctx.client.name = n
                ctx.ok()
            },
            CommandSpec("getname", arity: 2, flags: common, group: .connection, since: "2.6.9", summary: "Returns the name of this connection.") { ctx in
                if ctx.client.name.isEmpty { ctx.out.nullBulk() } else { ctx.out.bulk(ctx.client.name) }
            },
            CommandSpec("info", arity: 2, flags: common, group: .connection, since: "6.2.0", summary: "Describes this connection, one line in CLIENT LIST's format.") { ctx in
                ctx.out.verbatim(describe(ctx.client, ctx.engine, now: ctx.now, running: ctx.argv) + "\n")
            },
            CommandSpec("list", arity: -2, flags: admin, group: .connection, since: "2.4.0", summary: "Describes every connection, one line each.", complexity: "O(N) where N is the number of client connections", syntax: "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]", handler: clientList),
            CommandSpec("kill", arity: -3, flags: admin, group: .connection, since: "2.4.0", summary: "Closes connections chosen by address or by filters.", complexity: "O(N) where N is the number of client connections", syntax: "ip:port|[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME yes/no]", handler: clientKill),
            CommandSpec("no-evict", arity: 3, flags: admin, group: .connection, since: "7.0.0", summary: "Excludes this connection from client eviction, or includes it again.", syntax: "ON|OFF") { ctx in
                if ctx.arg(2, is: "on") { ctx.client.noEvict = true } else if ctx.arg(2, is: "off") { ctx.client.noEvict = false } else { ctx.syntaxError(); return }
                ctx.ok()
            },
            CommandSpec("unblock", arity: -3, flags: admin, group: .connection, since: "5.0.0", summary: "Wakes a client blocked in a blocking command, as if it timed out or with an error.", complexity: "O(log N) where N is the number of client connections", syntax: "client-id [TIMEOUT|ERROR]") { ctx in
                guard let id = ctx.int(2) else { return }
                var asError = false
                if ctx.argc == 4 {
                    if ctx.arg(3, is: "error") { asError = true } else if !ctx.arg(3, is: "timeout") {
                        ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
                        return
                    }
                } else if ctx.argc > 4 {
                    ctx.syntaxError()
                    return
                }
                guard let target = ctx.engine.clients[id] else { ctx.out.integer(0); return }
                let done = ctx.engine.unblockClient(target, error: asError ? "UNBLOCKED client unblocked via CLIENT UNBLOCK" : nil)
                if done { ctx.engine.markFlush(target) }
                ctx.out.integer(done ? 1 : 0)
            },
            CommandSpec("reply", arity: 3, flags: common, group: .connection, since: "3.2.0", summary: "Turns this connection's replies on or off, or skips the next one.", syntax: "ON|OFF|SKIP") { ctx in
                let c = ctx.client
                if ctx.arg(2, is: "on") {
                    c.replyOff = false
                    c.replySkipNext = false
                    c.replySkipping = false
                    ctx.ok()
                } else if ctx.arg(2, is: "off") {
                    c.replyOff = true
                } else if ctx.arg(2, is: "skip") {
                    if !c.replyOff { c.replySkipNext = true }
                } else {
                    ctx.syntaxError()
                }
            },
        ] + Engine.pauseSpecs + Tracking.specs
    }

    /// Writes a HELP reply in Redis's layout: a heading, then each subcommand and its indented description.
    static func help(_ ctx: CommandContext, _ command: String, _ entries: [(String, String)]) {
        var lines = ["\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
        for (usage, text) in entries {
            lines.append(usage)
            // A text of several lines ("\n") is indented line by line, as Redis prints them.
            for line in text.split(separator: "\n") { lines.append("    " + line) }
        }
        lines.append("HELP")
        lines.append("    Prints this help.")
        ctx.out.array(lines.count)
        for l in lines { ctx.out.simple(l) }
    }

    /// What CLIENT LIST reports of a client's memory, in Redis's terms: `qbuf` the bytes received and
    /// not run yet (while a client runs a command, Redis's query buffer still holds that request),
    /// `argv-mem` the arguments of the command it runs or is blocked on, `multi-mem` its queued
    /// transaction, `obl` the replies of this round not handed to the network side yet, `oll`/`omem`
    /// the reply buffers handed over and not yet written (their allocations, as Redis counts its
    /// reply blocks). `tot-mem` adds them up with the allocation of the client's reply buffer; Lunar
    /// has no per-client read buffer (`qbuf-free`, `rbs` and `rbp` are 0).
    struct Buffers {
        var qbuf = 0, argvMem = 0, multiMem = 0, obl = 0, oll = 0, omem = 0, kept = 0
        var total: Int { qbuf + argvMem + multiMem + omem + kept }
        /// The output side, as INFO's client_recent_max_output_buffer counts it.
        var output: Int { obl + omem }
    }

    /// `running`: the arguments of the command the client is running now (the caller of CLIENT
    /// LIST or INFO), nil for any other client.
    static func buffers(_ c: Client, _ engine: Engine, running: [Bytes]? = nil) -> Buffers {
        var b = Buffers()
        let transaction = c.inMulti ? c.queued : c.executingTransaction
        for q in transaction ?? [] { for a in q { b.multiMem += a.count } }
        let args = running ?? c.blocked?.argv ?? []
        for a in args { b.argvMem += a.count }
        if let conn = c.connection {
            b.qbuf = conn.unparsedInputBytes
            b.omem = conn.unsentBytes + conn.unsentExemptBytes
            b.oll = conn.unsentBuffers
        }
        if let running { b.qbuf += engine.requestSize(running) }
        b.obl = c.output.buffer.readableBytes
        b.kept = c.output.buffer.capacity
        return b
    }

    /// One CLIENT LIST line (without the newline); `running` as for `buffers`.
    static func describe(_ c: Client, _ engine: Engine, now: Int64, running: [Bytes]? = nil) -> String {
        var flags = ""
        if c.isReplica { flags += "S" } else if c.isMonitor { flags += "O" }
        if c.subscriptions.pubsubMode { flags += "P" }
        let transaction = c.inMulti ? c.queued : c.executingTransaction
        if transaction != nil { flags += "x" }
        if c.blocked != nil { flags += "b" }
        if let t = c.tracking {
            flags += "t"
            if t.brokenRedirect { flags += "R" }
            if t.bcast { flags += "B" }
        }
        if c.watchDirty { flags += "d" }
        if c.closeAfterReply { flags += "c" }
        if c.isUnixSocket { flags += "U" }
        if c.noEvict { flags += "e" }
        if flags.isEmpty { flags = "N" }
        let multi = transaction?.count ?? -1
        let b = buffers(c, engine, running: running)
        let age = max(0, (now - c.createdAt) / 1000)
        let idle = max(0, (now - c.lastInteraction) / 1000)
        var s = "id=\(c.id) addr=\(c.remoteAddress) laddr=\(c.localAddress) fd=\(c.connection?.descriptor ?? -1) name=\(c.name.string)"
        s += " age=\(age) idle=\(idle) flags=\(flags) db=\(c.db) sub=\(c.subscriptions.channels.count) psub=\(c.subscriptions.patterns.count) ssub=\(c.subscriptions.shardChannels.count) multi=\(multi)"
        s += " qbuf=\(b.qbuf) qbuf-free=0 argv-mem=\(b.argvMem) multi-mem=\(b.multiMem) rbs=0 rbp=0 obl=\(b.obl) oll=\(b.oll) omem=\(b.omem) tot-mem=\(b.total)"
        s += " events=r cmd=\(c.lastCommand) user=\(engine.user(of: c).name) redir=\(c.tracking.map { $0.redirect } ?? -1) resp=\(c.resp)"
        return s
    }

    /// The type CLIENT LIST/KILL TYPE match a connection against (Lunar has no master links).
    static func typeOf(_ c: Client) -> String {
        if c.isReplica { return "replica" }
        return c.subscriptions.pubsubMode ? "pubsub" : "normal"
    }

    /// Client types as CLIENT LIST/KILL name them.
    static func clientType(_ name: Bytes) -> String? {
        switch name.lowercased.string {
        case "normal": return "normal"
        case "master": return "master"
        case "replica", "slave": return "replica"
        case "pubsub": return "pubsub"
        default: return nil
        }
    }

    static func clientList(_ ctx: CommandContext) {
        var ids: Set<Int>?
        var type: String?
        if ctx.argc == 4 && ctx.arg(2, is: "type") {
            guard let t = clientType(ctx.argv[3]) else {
                ctx.error(quoting: "ERR Unknown client type '\(quoted: ctx.argv[3])'")
                return
            }
            type = t
        } else if ctx.argc > 3 && ctx.arg(2, is: "id") {
            var set = Set<Int>()
            for j in 3..<ctx.argc {
                guard let v = parseStrictInt(ctx.argv[j].raw) else { ctx.error("ERR Invalid client ID"); return }
                set.insert(v)
            }
            ids = set
        } else if ctx.argc != 2 {
            ctx.syntaxError()
            return
        }
        var text = ""
        for c in ctx.engine.clients.values.sorted(by: { $0.id < $1.id }) where !c.closed {
            if let ids, !ids.contains(c.id) { continue }
            if let type, type != typeOf(c) { continue }
            text += describe(c, ctx.engine, now: ctx.now, running: c === ctx.client ? ctx.argv : nil) + "\n"
        }
        ctx.out.verbatim(text)
    }

    static func clientKill(_ ctx: CommandContext) {
        let engine = ctx.engine
        if ctx.argc == 3 {
            // Old form: CLIENT KILL ip:port, may close this very connection.
            let addr = ctx.argv[2].string
            guard let target = engine.clients.values.first(where: { $0.remoteAddress == addr && !$0.closed }) else {
                ctx.error("ERR No such client")
                return
            }
            ctx.ok()
            close(target, ctx)
            return
        }
        var id: Int?
        var type: String?
        var addr: String?
        var laddr: String?
        var skipMe = true
        var user: ACLUser?
        var i = 2
        while i < ctx.argc {
            guard i + 1 < ctx.argc else { ctx.syntaxError(); return }
            let v = ctx.argv[i + 1]
            if ctx.arg(i, is: "id") {
                guard let n = parseStrictInt(v.raw), n >= 1 else { ctx.error("ERR client-id should be greater than 0"); return }
                id = n
            } else if ctx.arg(i, is: "type") {
                guard let t = clientType(v) else { ctx.error(quoting: "ERR Unknown client type '\(quoted: v)'"); return }
                type = t
            } else if ctx.arg(i, is: "addr") {
                addr = v.string
            } else if ctx.arg(i, is: "laddr") {
                laddr = v.string
            } else if ctx.arg(i, is: "user") {
                guard let u = engine.acl.users[v.string] else { ctx.error(quoting: "ERR No such user '\(quoted: v)'"); return }
                user = u
            } else if ctx.arg(i, is: "skipme") {
                if v.equalsIgnoringCase("yes") { skipMe = true } else if v.equalsIgnoringCase("no") { skipMe = false } else { ctx.syntaxError(); return }
            } else {
                ctx.syntaxError()
                return
            }
            i += 2
        }
        var victims: [Client] = []
        for c in engine.clients.values.sorted(by: { $0.id < $1.id }) where !c.closed {
            if let id, c.id != id { continue }
            if let type, type != typeOf(c) { continue }
            if let addr, c.remoteAddress != addr { continue }
            if let laddr, c.localAddress != laddr { continue }
            if let user, engine.user(of: c) !== user { continue }
            if skipMe && c === ctx.client { continue }
            victims.append(c)
        }
        ctx.out.integer(victims.count)
        for v in victims { close(v, ctx) }
    }

    /// Closes a connection: the current one after its reply, any other at once.
    private static func close(_ c: Client, _ ctx: CommandContext) {
        if c === ctx.client {
            c.closeAfterReply = true
        } else {
            ctx.engine.kill(c)
        }
    }
}
