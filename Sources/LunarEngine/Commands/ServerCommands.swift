import LunarRESP

/// Server commands: FLUSHDB, FLUSHALL, DBSIZE, SWAPDB, TIME, INFO, CONFIG, COMMAND, OBJECT, MEMORY, DEBUG, SHUTDOWN…
enum ServerCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("flushall", arity: -1, flags: [.write], group: .server, summary: "Removes every key from every database.", complexity: "O(N) where N is the total number of keys", syntax: "[ASYNC|SYNC]", acl: ["keyspace", "dangerous"]) { ctx in
                if ctx.argc > 2 || (ctx.argc == 2 && !ctx.arg(1, is: "async") && !ctx.arg(1, is: "sync")) { ctx.syntaxError(); return }
                ctx.engine.flushAll()
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("flushdb", arity: -1, flags: [.write], group: .server, summary: "Removes every key from the current database.", complexity: "O(N) where N is the number of keys in the selected database", syntax: "[ASYNC|SYNC]", acl: ["keyspace", "dangerous"]) { ctx in
                if ctx.argc > 2 || (ctx.argc == 2 && !ctx.arg(1, is: "async") && !ctx.arg(1, is: "sync")) { ctx.syntaxError(); return }
                ctx.engine.touchAllWatched(db: ctx.client.db)
                ctx.db.removeAll()
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], group: .server, summary: "Returns the number of keys in the current database.", acl: ["keyspace"]) { ctx in
                ctx.out.integer(ctx.db.count)
            },
        ]
    }
}
