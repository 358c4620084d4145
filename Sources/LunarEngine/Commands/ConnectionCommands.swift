import LunarRESP

/// Connection commands: PING, ECHO, QUIT, SELECT, HELLO, CLIENT…
enum ConnectionCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("ping", arity: -1, flags: [.fast, .stale], group: .connection, summary: "Checks that the server answers; returns PONG or the given message.", syntax: "[message]") { ctx in
                if ctx.argc > 2 { ctx.error("ERR wrong number of arguments for 'ping' command"); return }
                if ctx.argc == 2 { ctx.out.bulk(ctx.argv[1]) } else { ctx.out.simple("PONG") }
            },
            CommandSpec("echo", arity: 2, flags: [.fast], group: .connection, summary: "Returns the given message.", syntax: "message") { ctx in
                ctx.out.bulk(ctx.argv[1])
            },
            CommandSpec("quit", arity: -1, flags: [.noAuth, .allowBusy, .fast, .stale, .noscript], group: .connection, summary: "Closes the connection after replying OK.") { ctx in
                ctx.ok()
                ctx.client.closeAfterReply = true
            },
            CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: .connection, summary: "Changes the selected database of the connection.", syntax: "index") { ctx in
                guard let n = ctx.int(1) else { return }
                guard n >= 0 && n < ctx.engine.databases.count else { ctx.error(Err.dbIndexOutOfRange); return }
                ctx.client.db = n
                ctx.ok()
            },
        ]
    }
}
