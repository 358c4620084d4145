import LunarRESP

/// The string command family: GET, SET and friends, counters, ranges.
enum StringCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .string, summary: "Returns the string value of a key.", syntax: "key") { ctx in
                switch ctx.db.lookupRead(ctx.argv[1]) {
                case nil: ctx.out.nullBulk()
                case let .string(s)?: ctx.out.bulk(s)
                default: ctx.wrongType()
                }
            },
            CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: (1, 1, 1), group: .string, summary: "Sets the string value of a key, with optional expiry and conditions.", complexity: "O(1)", syntax: "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]") { ctx in
                let key = ctx.argv[1]
                ctx.db.set(key, .string(ctx.argv[2]))
                ctx.db.signalModified(key)
                ctx.ok()
            },
        ]
    }
}
