import LunarRESP

/// The stream family: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD, XGROUP, XREADGROUP, XACK,
/// XPENDING, XCLAIM, XAUTOCLAIM, XINFO, XSETID (Redis 7.0 semantics; see Types/StreamObject.swift).
enum StreamCommands {
    static let invalidID = "ERR Invalid stream ID specified as stream command argument"
    static let xaddTooSmall = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    static let xaddZero = "ERR The ID specified in XADD must be greater than 0-0"
    static let exhausted = "ERR The stream has exhausted the last possible ID, unable to add more items"
    static let keyMustExist = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."

    static var specs: [CommandSpec] {
        [
            CommandSpec("xadd", arity: -5, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Appends an entry to a stream, creating the stream unless told not to, and optionally trims it.",
                        complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
                        syntax: "key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]", handler: xadd),
            CommandSpec("xrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Returns the entries of a stream between two IDs, oldest first.",
                        complexity: "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
                        syntax: "key start end [COUNT count]") { range($0, reverse: false) },
            CommandSpec("xrevrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Returns the entries of a stream between two IDs, newest first.",
                        complexity: "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
                        syntax: "key end start [COUNT count]") { range($0, reverse: true) },
            CommandSpec("xlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Returns how many entries a stream holds.", syntax: "key", handler: xlen),
            CommandSpec("xdel", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Deletes entries of a stream by ID and answers how many existed.",
                        complexity: "O(1) for each single item to delete in the stream, regardless of the stream size.",
                        syntax: "key id [id ...]", handler: xdel),
            CommandSpec("xtrim", arity: -4, flags: [.write], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Drops the oldest entries of a stream past a length or below an ID.",
                        complexity: "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
                        syntax: "key MAXLEN|MINID [=|~] threshold [LIMIT count]", handler: xtrim),
            CommandSpec("xread", arity: -4, flags: [.readonly, .blocking], group: .stream, since: "5.0.0",
                        summary: "Reads entries newer than given IDs from one or more streams, optionally waiting for them.",
                        complexity: "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
                        syntax: "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
                        handler: { xread($0, group: false) }, getKeys: { readKeys($0, from: 1) }),
            CommandSpec("xreadgroup", arity: -7, flags: [.write, .blocking], group: .stream, since: "5.0.0",
                        summary: "Reads entries from streams as a consumer of a group, tracking what was delivered.",
                        complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
                        syntax: "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]",
                        handler: { xread($0, group: true) }, getKeys: { readKeys($0, from: 4) }),
            CommandSpec("xgroup", arity: -2, group: .stream, since: "5.0.0", summary: "Manages the consumer groups of a stream.",
                        complexity: "Depends on subcommand.", subcommands: groupSubcommands),
            CommandSpec("xack", arity: -4, flags: [.write, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Acknowledges entries of a group's pending list, removing them from it.",
                        complexity: "O(1) for each message ID processed.", syntax: "key group id [id ...]", handler: xack),
            CommandSpec("xpending", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Summarizes or lists the entries delivered to a group and not yet acknowledged.",
                        complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
                        syntax: "key group [[IDLE min-idle-time] start end count [consumer]]", handler: xpending),
            CommandSpec("xclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Gives pending entries idle long enough to another consumer of the group.",
                        complexity: "O(log N) with N being the number of messages in the PEL of the consumer group.",
                        syntax: "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]", handler: xclaim),
            CommandSpec("xautoclaim", arity: -6, flags: [.write, .fast], keys: (1, 1, 1), group: .stream, since: "6.2.0",
                        summary: "Scans a group's pending entries from an ID and gives those idle long enough to a consumer.",
                        complexity: "O(1) if COUNT is small.",
                        syntax: "key group consumer min-idle-time start [COUNT count] [JUSTID]", handler: xautoclaim),
            CommandSpec("xinfo", arity: -2, group: .stream, since: "5.0.0", summary: "Reports on a stream, its groups and their consumers.",
                        complexity: "Depends on subcommand.", subcommands: infoSubcommands),
            CommandSpec("xsetid", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .stream, since: "5.0.0",
                        summary: "Sets a stream's last generated ID (and optionally its added-entries count and largest deleted ID).",
                        syntax: "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]", handler: xsetid),
        ]
    }

    static var groupSubcommands: [CommandSpec] {
        [
            CommandSpec("create", arity: -5, flags: [.write, .denyoom], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Creates a consumer group starting after an ID (or the stream's last one).",
                        syntax: "key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]", handler: groupCreate),
            CommandSpec("createconsumer", arity: 5, flags: [.write, .denyoom], keys: (2, 2, 1), group: .stream, since: "6.2.0",
                        summary: "Adds a consumer to a group; answers 1 if it was new.", syntax: "key group consumer", handler: groupCreateConsumer),
            CommandSpec("delconsumer", arity: 5, flags: [.write], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Removes a consumer from a group, with its pending entries; answers how many it had.",
                        syntax: "key group consumer", handler: groupDelConsumer),
            CommandSpec("destroy", arity: 4, flags: [.write], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Removes a consumer group and its pending entries.",
                        complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                        syntax: "key group", handler: groupDestroy),
            CommandSpec("setid", arity: -5, flags: [.write], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Moves a group's last delivered ID.", syntax: "key group id|$ [ENTRIESREAD entries-read]", handler: groupSetID),
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .stream, since: "5.0.0", summary: "Lists the XGROUP subcommands.") { ctx in
                ConnectionCommands.help(ctx, "XGROUP", [
                    ("CREATE <key> <groupname> <id|$> [option]", "Create a new consumer group. Options are:\n* MKSTREAM\n  Create the empty stream if it does not exist.\n* ENTRIESREAD entries_read\n  Set the group's entries_read counter (internal use)."),
                    ("CREATECONSUMER <key> <groupname> <consumer>", "Create a new consumer in the specified group."),
                    ("DELCONSUMER <key> <groupname> <consumer>", "Remove the specified consumer."),
                    ("DESTROY <key> <groupname>", "Remove the specified group."),
                    ("SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]", "Set the current group ID and entries_read counter."),
                ])
            },
        ]
    }

    static var infoSubcommands: [CommandSpec] {
        [
            CommandSpec("consumers", arity: 4, flags: [.readonly], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Lists a group's consumers with their pending counts and idle times.", syntax: "key group", handler: infoConsumers),
            CommandSpec("groups", arity: 3, flags: [.readonly], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Lists a stream's consumer groups.", syntax: "key", handler: infoGroups),
            CommandSpec("stream", arity: -3, flags: [.readonly], keys: (2, 2, 1), group: .stream, since: "5.0.0",
                        summary: "Describes a stream, or with FULL everything in it.", syntax: "key [FULL [COUNT count]]", handler: infoStream),
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .stream, since: "5.0.0", summary: "Lists the XINFO subcommands.") { ctx in
                ConnectionCommands.help(ctx, "XINFO", [
                    ("CONSUMERS <key> <groupname>", "Show consumers of <groupname>."),
                    ("GROUPS <key>", "Show the stream consumer groups."),
                    ("STREAM <key> [FULL [COUNT <count>]", "Show information about the stream."),
                ])
            },
        ]
    }

    /// Keys of XREAD / XREADGROUP: the first half of what follows STREAMS.
    static func readKeys(_ argv: [Bytes], from: Int) -> [Int] {
        var i = from
        while i < argv.count {
            if argv[i].equalsIgnoringCase("streams") {
                let n = (argv.count - i - 1) / 2
                return n == 0 ? [] : Array((i + 1)...(i + n))
            }
            i += 1
        }
        return []
    }

    // MARK: Helpers

    enum Lookup {
        case absent
        case stream(StreamObject)
        case wrongType
    }

    static func lookup(_ ctx: CommandContext, _ key: Bytes, read: Bool) -> Lookup {
        switch read ? ctx.db.lookupRead(key) : ctx.db.lookup(key) {
        case nil: return .absent
        case let .stream(s)?: return .stream(s)
        default:
            ctx.wrongType()
            return .wrongType
        }
    }

    /// A strict ID (no "-" / "+"), seq defaulting to `missingSeq`.
    static func strictID(_ ctx: CommandContext?, _ b: Bytes, missingSeq: UInt64 = 0) -> StreamID? {
        if b.count == 1 && (b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+")) {
            ctx?.error(invalidID)
            return nil
        }
        return anyID(ctx, b, missingSeq: missingSeq)
    }

    static func anyID(_ ctx: CommandContext?, _ b: Bytes, missingSeq: UInt64) -> StreamID? {
        if b.count == 1 && b[0] == UInt8(ascii: "-") { return .zero }
        if b.count == 1 && b[0] == UInt8(ascii: "+") { return .max }
        guard let id = StreamID.parse(b, missingSeq: missingSeq) else {
            ctx?.error(invalidID)
            return nil
        }
        return id
    }

    /// A range bound: "-", "+", an ID, or "(" ID for an exclusive bound.
    static func intervalID(_ ctx: CommandContext, _ b: Bytes, missingSeq: UInt64) -> (StreamID, exclusive: Bool)? {
        if b.count > 1 && b[0] == UInt8(ascii: "(") {
            guard let id = strictID(ctx, Bytes(b.raw[1...]), missingSeq: missingSeq) else { return nil }
            return (id, true)
        }
        guard let id = anyID(ctx, b, missingSeq: missingSeq) else { return nil }
        return (id, false)
    }

    static func emitEntry(_ ctx: CommandContext, _ id: StreamID, _ fields: [Bytes]) {
        ctx.out.array(2)
        ctx.out.bulk(id.bytes)
        ctx.out.array(fields.count)
        for f in fields { ctx.out.bulk(f) }
    }

    static func noGroup(_ key: Bytes, _ group: Bytes) -> String {
        "NOGROUP No such key '\(String(decoding: key.raw, as: UTF8.self))' or consumer group '\(String(decoding: group.raw, as: UTF8.self))'"
    }

    static func text(_ b: Bytes) -> String { String(decoding: b.raw, as: UTF8.self) }

    static func nodeMax(_ ctx: CommandContext) -> (bytes: Int, entries: Int) {
        (ctx.engine.encodingLimits.streamNodeMaxBytes, ctx.engine.encodingLimits.streamNodeMaxEntries)
    }

    /// XCLAIM … as Redis propagates a PEL change.
    static func xclaimArgv(key: Bytes, group: StreamGroup, id: StreamID, nack: PendingEntry) -> [Bytes] {
        [Bytes("XCLAIM"), key, group.name, nack.consumer.name, Bytes("0"), id.bytes,
         Bytes("TIME"), Bytes(String(nack.deliveryTime)), Bytes("RETRYCOUNT"), Bytes(String(nack.deliveryCount)),
         Bytes("FORCE"), Bytes("JUSTID"), Bytes("LASTID"), group.lastID.bytes]
    }

    static func setIDArgv(key: Bytes, group: StreamGroup) -> [Bytes] {
        [Bytes("XGROUP"), Bytes("SETID"), key, group.name, group.lastID.bytes, Bytes("ENTRIESREAD"), Bytes(String(group.entriesRead))]
    }

    /// A consumer created by XREADGROUP … NOACK: no PEL entry (XCLAIM) carries it to a replica or
    /// the AOF, so it travels on its own, as in Redis.
    static func createConsumerArgv(key: Bytes, group: StreamGroup, _ name: Bytes) -> [Bytes] {
        [Bytes("XGROUP"), Bytes("CREATECONSUMER"), key, group.name, name]
    }

    /// Creates a consumer (event and dirty as Redis's streamCreateConsumer).
    @discardableResult
    static func createConsumer(_ ctx: CommandContext, _ g: StreamGroup, _ name: Bytes, key: Bytes) -> StreamConsumer? {
        if g.consumers[name] != nil { return nil }
        let c = StreamConsumer(name: name, seenTime: ctx.now)
        g.consumers[name] = c
        ctx.notify(KeyspaceEvents.stream, "xgroup-createconsumer", key)
        ctx.engine.dirty &+= 1
        return c
    }

    static func lookupOrCreateConsumer(_ ctx: CommandContext, _ g: StreamGroup, _ name: Bytes, key: Bytes) -> StreamConsumer {
        if let c = g.consumers[name] {
            c.seenTime = ctx.now
            return c
        }
        return createConsumer(ctx, g, name, key: key)!
    }

    // MARK: Trim arguments

    struct TrimArgs {
        var strategy: StreamObject.TrimStrategy?
        var approx = false
        var limit = 0
        /// Index of the threshold argument (rewritten for propagation).
        var thresholdIndex = 0
        var noMkStream = false
        var idIndex = 0
        var id: StreamID?
        var seqGiven = true
    }

    /// Parses XADD's or XTRIM's options; writes the error and returns nil on failure.
    static func parseTrim(_ ctx: CommandContext, xadd: Bool) -> TrimArgs? {
        var a = TrimArgs()
        var limitGiven = false
        var i = 2
        let obeyAll = ctx.engine.executingForMaster || (ctx.client.connection == nil && !ctx.inScript)
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            let opt = ctx.argv[i]
            if xadd && opt.count == 1 && opt[0] == UInt8(ascii: "*") { break }
            if opt.equalsIgnoringCase("maxlen") && more > 0 {
                if a.strategy != nil { ctx.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"); return nil }
                let next = ctx.argv[i + 1]
                if more >= 2 && next.count == 1 && next[0] == UInt8(ascii: "~") { a.approx = true; i += 1 }
                else if more >= 2 && next.count == 1 && next[0] == UInt8(ascii: "=") { i += 1 }
                guard let n = ctx.int(i + 1) else { return nil }
                if n < 0 { ctx.error("ERR The MAXLEN argument must be >= 0."); return nil }
                a.strategy = .maxLen(n)
                a.thresholdIndex = i + 1
                i += 1
            } else if opt.equalsIgnoringCase("minid") && more > 0 {
                if a.strategy != nil { ctx.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"); return nil }
                let next = ctx.argv[i + 1]
                if more >= 2 && next.count == 1 && next[0] == UInt8(ascii: "~") { a.approx = true; i += 1 }
                else if more >= 2 && next.count == 1 && next[0] == UInt8(ascii: "=") { i += 1 }
                guard let id = strictID(ctx, ctx.argv[i + 1]) else { return nil }
                a.strategy = .minID(id)
                a.thresholdIndex = i + 1
                i += 1
            } else if opt.equalsIgnoringCase("limit") && more > 0 {
                guard let n = ctx.int(i + 1) else { return nil }
                if n < 0 { ctx.error("ERR The LIMIT argument must be >= 0."); return nil }
                a.limit = n
                limitGiven = true
                i += 1
            } else if xadd && opt.equalsIgnoringCase("nomkstream") {
                a.noMkStream = true
            } else if xadd {
                // The ID: "ms-seq", "ms", or "ms-*".
                var seqGiven = true
                var parsed: StreamID?
                if opt.count >= 2 && opt.count <= 127 && opt[opt.count - 1] == UInt8(ascii: "*") && opt[opt.count - 2] == UInt8(ascii: "-") {
                    if let ms = StreamID.parseU64(opt.raw[..<(opt.count - 2)]) {
                        parsed = StreamID(ms, 0)
                        seqGiven = false
                    }
                } else {
                    parsed = strictID(nil, opt)
                }
                guard let id = parsed else { ctx.error(invalidID); return nil }
                a.id = id
                a.seqGiven = seqGiven
                break
            } else {
                ctx.syntaxError()
                return nil
            }
            i += 1
        }
        a.idIndex = i
        if limitGiven && a.limit != 0 && a.strategy == nil {
            ctx.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
            return nil
        }
        if !xadd && a.strategy == nil {
            ctx.error("ERR syntax error, XTRIM must be called with a trimming strategy")
            return nil
        }
        if obeyAll {
            a.limit = 0
        } else if limitGiven {
            if !a.approx {
                ctx.error("ERR syntax error, LIMIT cannot be used without the special ~ option")
                return nil
            }
        } else if a.approx {
            // Redis's default: 100 nodes' worth of entries, within [1, 1000000] (10000 when unset).
            let e = ctx.engine.encodingLimits.streamNodeMaxEntries
            let (l, o) = e.multipliedReportingOverflow(by: 100)
            a.limit = o || l <= 0 ? 10000 : min(l, 1_000_000)
        } else {
            a.limit = 0
        }
        return a
    }

    /// After an approximate trim: propagate "=" and the length (or first ID) actually reached.
    static func rewriteApprox(_ argv: inout [Bytes], _ a: TrimArgs, _ s: StreamObject) {
        guard a.approx, let strategy = a.strategy else { return }
        argv[a.thresholdIndex - 1] = Bytes("=")
        switch strategy {
        case .maxLen: argv[a.thresholdIndex] = Bytes(String(s.length))
        case .minID: argv[a.thresholdIndex] = (s.edge(first: true)?.0 ?? .max).bytes
        }
    }

    // MARK: XADD

    static func xadd(_ ctx: CommandContext) {
        guard let a = parseTrim(ctx, xadd: true) else { return }
        let fieldPos = a.idIndex + 1
        let nf = ctx.argc - fieldPos
        if nf < 2 || nf % 2 == 1 {
            ctx.error("ERR wrong number of arguments for 'xadd' command")
            return
        }
        if let id = a.id, a.seqGiven, id.isZero {
            ctx.error(xaddZero)
            return
        }
        let key = ctx.argv[1]
        let s: StreamObject
        switch lookup(ctx, key, read: false) {
        case .wrongType: return
        case let .stream(x): s = x
        case .absent:
            if a.noMkStream {
                ctx.out.nullBulk()
                return
            }
            s = StreamObject()
            ctx.db.add(key, .stream(s))
        }
        if s.lastID == .max {
            ctx.error(exhausted)
            return
        }
        var newID: StreamID
        if let given = a.id {
            if a.seqGiven {
                if given <= s.lastID { ctx.error(xaddTooSmall); return }
                newID = given
            } else if given.ms == s.lastID.ms {
                if s.lastID.seq == UInt64.max { ctx.error(xaddTooSmall); return }
                newID = StreamID(given.ms, s.lastID.seq + 1)
            } else if given.ms > s.lastID.ms {
                newID = StreamID(given.ms, 0)
            } else {
                ctx.error(xaddTooSmall)
                return
            }
        } else {
            let ms = UInt64(max(0, ctx.engine.now))
            if ms > s.lastID.ms {
                newID = StreamID(ms, 0)
            } else {
                newID = s.lastID.successor!
            }
        }
        let (maxBytes, maxEntries) = nodeMax(ctx)
        s.append(id: newID, fields: Array(ctx.argv[fieldPos...]), nodeMaxBytes: maxBytes, nodeMaxEntries: maxEntries)
        ctx.out.bulk(newID.bytes)
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.stream, "xadd", key)
        var prop = ctx.argv
        if let strategy = a.strategy {
            if s.trim(strategy, approx: a.approx, limit: a.limit) > 0 {
                ctx.notify(KeyspaceEvents.stream, "xtrim", key)
            }
            rewriteApprox(&prop, a, s)
        }
        prop[a.idIndex] = newID.bytes
        ctx.propagateAs([prop])
        ctx.db.signalReady(key)
    }

    // MARK: XTRIM

    static func xtrim(_ ctx: CommandContext) {
        guard let a = parseTrim(ctx, xadd: false) else { return }
        if a.idIndex < ctx.argc {
            ctx.syntaxError()
            return
        }
        let key = ctx.argv[1]
        switch lookup(ctx, key, read: false) {
        case .wrongType: return
        case .absent: ctx.out.integer(0)
        case let .stream(s):
            let n = s.trim(a.strategy!, approx: a.approx, limit: a.limit)
            if n > 0 {
                ctx.notify(KeyspaceEvents.stream, "xtrim", key)
                ctx.db.signalModified(key)
                ctx.engine.dirty &+= n - 1
                var prop = ctx.argv
                rewriteApprox(&prop, a, s)
                ctx.propagateAs([prop])
            }
            ctx.out.integer(n)
        }
    }

    // MARK: XRANGE / XREVRANGE / XLEN / XDEL

    static func range(_ ctx: CommandContext, reverse: Bool) {
        guard let (s0, sx) = intervalID(ctx, ctx.argv[reverse ? 3 : 2], missingSeq: 0),
              let (e0, ex) = intervalID(ctx, ctx.argv[reverse ? 2 : 3], missingSeq: UInt64.max) else { return }
        var start = s0, end = e0
        if sx {
            guard let n = start.successor else { ctx.error("ERR invalid start ID for the interval"); return }
            start = n
        }
        if ex {
            guard let p = end.predecessor else { ctx.error("ERR invalid end ID for the interval"); return }
            end = p
        }
        var count = -1
        var j = 4
        while j < ctx.argc {
            if ctx.arg(j, is: "count") && j + 1 < ctx.argc {
                guard let c = ctx.int(j + 1) else { return }
                count = max(0, c)
                j += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        let s: StreamObject
        switch lookup(ctx, ctx.argv[1], read: true) {
        case .wrongType: return
        case .absent:
            ctx.out.array(0)
            return
        case let .stream(x): s = x
        }
        if count == 0 {
            ctx.out.nullArray()
            return
        }
        var items: [(StreamID, [Bytes])] = []
        s.forEach(from: start, to: end, reverse: reverse) { id, f in
            items.append((id, f))
            return count < 0 || items.count < count
        }
        ctx.out.array(items.count)
        for (id, f) in items { emitEntry(ctx, id, f) }
    }

    static func xlen(_ ctx: CommandContext) {
        switch lookup(ctx, ctx.argv[1], read: true) {
        case .wrongType: return
        case .absent: ctx.out.integer(0)
        case let .stream(s): ctx.out.integer(s.length)
        }
    }

    static func xdel(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let s: StreamObject
        switch lookup(ctx, key, read: false) {
        case .wrongType: return
        case .absent:
            ctx.out.integer(0)
            return
        case let .stream(x): s = x
        }
        var ids: [StreamID] = []
        for j in 2..<ctx.argc {
            guard let id = strictID(ctx, ctx.argv[j]) else { return }
            ids.append(id)
        }
        var deleted = 0
        for id in ids where s.delete(id) { deleted += 1 }
        if deleted > 0 {
            ctx.db.signalModified(key)
            ctx.notify(KeyspaceEvents.stream, "xdel", key)
            ctx.engine.dirty &+= deleted - 1
        }
        ctx.out.integer(deleted)
    }

    // MARK: XSETID

    static func xsetid(_ ctx: CommandContext) {
        guard let id = strictID(ctx, ctx.argv[2]) else { return }
        var entriesAdded: Int = -1
        var maxDel = StreamID.zero
        var i = 3
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            if ctx.arg(i, is: "entriesadded") && more > 0 {
                guard let n = ctx.int(i + 1) else { return }
                if n < 0 { ctx.error("ERR entries_added must be positive"); return }
                entriesAdded = n
                i += 2
            } else if ctx.arg(i, is: "maxdeletedid") && more > 0 {
                guard let m = strictID(ctx, ctx.argv[i + 1]) else { return }
                if id < m { ctx.error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"); return }
                maxDel = m
                i += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        let key = ctx.argv[1]
        let s: StreamObject
        switch lookup(ctx, key, read: false) {
        case .wrongType: return
        case .absent:
            ctx.error(Err.noSuchKey)
            return
        case let .stream(x): s = x
        }
        if s.length > 0 {
            if let last = s.edge(first: false)?.0, id < last {
                ctx.error("ERR The ID specified in XSETID is smaller than the target stream top item")
                return
            }
            if entriesAdded != -1 && s.length > entriesAdded {
                ctx.error("ERR The entries_added specified in XSETID is smaller than the target stream length")
                return
            }
        }
        s.lastID = id
        if entriesAdded != -1 { s.entriesAdded = UInt64(entriesAdded) }
        if !maxDel.isZero { s.maxDeletedID = maxDel }
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.stream, "xsetid", key)
        ctx.ok()
    }

    // MARK: XGROUP

    /// Common XGROUP parsing: options after the ID, the stream, the group when it must exist.
    static func groupPrologue(_ ctx: CommandContext, needGroup: Bool) -> (StreamObject?, StreamGroup?, mkstream: Bool, entriesRead: Int64)? {
        var mkstream = false
        var entriesRead = StreamObject.invalidEntriesRead
        let sub = ctx.argv[1]
        if ctx.argc > 4 && (sub.equalsIgnoringCase("create") || sub.equalsIgnoringCase("setid")) {
            let create = sub.equalsIgnoringCase("create")
            var i = 5
            while i < ctx.argc {
                if create && ctx.arg(i, is: "mkstream") {
                    mkstream = true
                    i += 1
                } else if ctx.arg(i, is: "entriesread") && i + 1 < ctx.argc {
                    guard let n = ctx.int(i + 1) else { return nil }
                    if n < 0 && n != -1 { ctx.error("ERR value for ENTRIESREAD must be positive or -1"); return nil }
                    entriesRead = Int64(n)
                    i += 2
                } else {
                    ctx.error("ERR unknown subcommand or wrong number of arguments for '\(text(sub))'. Try XGROUP HELP.")
                    return nil
                }
            }
        }
        var s: StreamObject?
        switch lookup(ctx, ctx.argv[2], read: false) {
        case .wrongType: return nil
        case let .stream(x): s = x
        case .absent: s = nil
        }
        if s == nil && !(sub.equalsIgnoringCase("create") && mkstream) {
            ctx.error(keyMustExist)
            return nil
        }
        var g: StreamGroup?
        if let s { g = s.groups[ctx.argv[3]] }
        if needGroup && g == nil {
            ctx.error("NOGROUP No such consumer group '\(text(ctx.argv[3]))' for key name '\(text(ctx.argv[2]))'")
            return nil
        }
        return (s, g, mkstream, entriesRead)
    }

    static func groupCreate(_ ctx: CommandContext) {
        if ctx.argc > 8 {
            ctx.error("ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
            return
        }
        guard let (s0, _, _, entriesRead) = groupPrologue(ctx, needGroup: false) else { return }
        let key = ctx.argv[2]
        var id = StreamID.zero
        let arg = ctx.argv[4]
        if arg.count == 1 && arg[0] == UInt8(ascii: "$") {
            id = s0?.lastID ?? .zero
        } else {
            guard let p = strictID(ctx, arg) else { return }
            id = p
        }
        let s: StreamObject
        if let s0 {
            s = s0
        } else {
            s = StreamObject()
            ctx.db.add(key, .stream(s))
            ctx.db.signalModified(key)
            ctx.engine.dirty &-= 1
        }
        if s.groups[ctx.argv[3]] != nil {
            ctx.error("BUSYGROUP Consumer Group name already exists")
            return
        }
        s.groups[ctx.argv[3]] = StreamGroup(name: ctx.argv[3], lastID: id, entriesRead: entriesRead)
        ctx.engine.dirty &+= 1
        ctx.notify(KeyspaceEvents.stream, "xgroup-create", key)
        ctx.ok()
    }

    static func groupSetID(_ ctx: CommandContext) {
        if ctx.argc != 5 && ctx.argc != 7 {
            ctx.error("ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.")
            return
        }
        guard let (s, g, _, entriesRead) = groupPrologue(ctx, needGroup: true), let s, let g else { return }
        let arg = ctx.argv[4]
        var id: StreamID
        if arg.count == 1 && arg[0] == UInt8(ascii: "$") {
            id = s.lastID
        } else {
            guard let p = anyID(ctx, arg, missingSeq: 0) else { return }
            id = p
        }
        g.lastID = id
        g.entriesRead = entriesRead
        ctx.engine.dirty &+= 1
        ctx.notify(KeyspaceEvents.stream, "xgroup-setid", ctx.argv[2])
        ctx.ok()
    }

    static func groupDestroy(_ ctx: CommandContext) {
        guard let (s, g, _, _) = groupPrologue(ctx, needGroup: false), let s else { return }
        guard g != nil else {
            ctx.out.integer(0)
            return
        }
        s.groups[ctx.argv[3]] = nil
        ctx.engine.dirty &+= 1
        ctx.notify(KeyspaceEvents.stream, "xgroup-destroy", ctx.argv[2])
        // Clients blocked in XREADGROUP on this group get an error.
        ctx.db.signalReady(ctx.argv[2])
        ctx.out.integer(1)
    }

    static func groupCreateConsumer(_ ctx: CommandContext) {
        guard let (_, g, _, _) = groupPrologue(ctx, needGroup: true), let g else { return }
        let created = createConsumer(ctx, g, ctx.argv[4], key: ctx.argv[2]) != nil
        ctx.out.integer(created ? 1 : 0)
    }

    static func groupDelConsumer(_ ctx: CommandContext) {
        guard let (_, g, _, _) = groupPrologue(ctx, needGroup: true), let g else { return }
        var pending = 0
        if let c = g.consumers[ctx.argv[4]] {
            pending = c.pel.count
            for id in c.pel.keys { g.pel.remove(id) }
            g.consumers[ctx.argv[4]] = nil
            ctx.engine.dirty &+= 1
            ctx.notify(KeyspaceEvents.stream, "xgroup-delconsumer", ctx.argv[2])
        }
        ctx.out.integer(pending)
    }

    // MARK: XREAD / XREADGROUP

    static func xread(_ ctx: CommandContext, group isGroup: Bool) {
        var timeout: Int64 = -1
        var count = 0
        var streamsArg = 0
        var nStreams = 0
        var groupName: Bytes?
        var consumerName = Bytes()
        var noack = false
        var i = 1
        while i < ctx.argc {
            let more = ctx.argc - 1 - i
            if ctx.arg(i, is: "block") && more > 0 {
                if ctx.inScript {
                    ctx.error("ERR \(text(ctx.argv[0])) command is not allowed with BLOCK option from scripts")
                    return
                }
                i += 1
                guard let t = parseStrictInt(ctx.argv[i].raw) else {
                    ctx.error("ERR timeout is not an integer or out of range")
                    return
                }
                if t < 0 { ctx.error(Err.timeoutNegative); return }
                if t > 0 {
                    let (d, o) = ctx.engine.now.addingReportingOverflow(Int64(t))
                    if o { ctx.error("ERR timeout is out of range"); return }
                    timeout = d
                } else {
                    timeout = 0
                }
            } else if ctx.arg(i, is: "count") && more > 0 {
                i += 1
                guard let c = ctx.int(i) else { return }
                count = max(0, c)
            } else if ctx.arg(i, is: "streams") && more > 0 {
                streamsArg = i + 1
                nStreams = ctx.argc - streamsArg
                if nStreams % 2 != 0 {
                    ctx.error(isGroup
                        ? "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."
                        : "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
                    return
                }
                nStreams /= 2
                break
            } else if ctx.arg(i, is: "group") && more >= 2 {
                if !isGroup {
                    ctx.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
                    return
                }
                groupName = ctx.argv[i + 1]
                consumerName = ctx.argv[i + 2]
                i += 2
            } else if ctx.arg(i, is: "noack") {
                if !isGroup {
                    ctx.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
                    return
                }
                noack = true
            } else {
                ctx.syntaxError()
                return
            }
            i += 1
        }
        if streamsArg == 0 {
            ctx.syntaxError()
            return
        }
        if isGroup && groupName == nil {
            ctx.error("ERR Missing GROUP option for XREADGROUP")
            return
        }
        // On a re-run for a blocked client only the key that got data is served.
        if ctx.isRetry {
            serveBlocked(ctx, streamsArg: streamsArg, nStreams: nStreams, groupName: groupName,
                         consumerName: consumerName, noack: noack, count: count, timeout: timeout)
            return
        }
        let maxID = StreamID.max
        var ids: [StreamID] = []
        var groups: [StreamGroup?] = []
        var streams: [StreamObject?] = []
        for k in 0..<nStreams {
            let key = ctx.argv[streamsArg + k]
            let idArg = ctx.argv[streamsArg + nStreams + k]
            var s: StreamObject?
            switch lookup(ctx, key, read: true) {
            case .wrongType: return
            case let .stream(x): s = x
            case .absent: s = nil
            }
            var g: StreamGroup?
            if let groupName {
                guard let s, let found = s.groups[groupName] else {
                    ctx.error("NOGROUP No such key '\(text(key))' or consumer group '\(text(groupName))' in XREADGROUP with GROUP option")
                    return
                }
                g = found
            }
            streams.append(s)
            groups.append(g)
            if idArg.count == 1 && idArg[0] == UInt8(ascii: "$") {
                if isGroup {
                    ctx.error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
                    return
                }
                ids.append(s?.lastID ?? .zero)
            } else if idArg.count == 1 && idArg[0] == UInt8(ascii: ">") {
                if !isGroup {
                    ctx.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
                    return
                }
                ids.append(maxID)
            } else {
                guard let id = strictID(ctx, idArg) else { return }
                ids.append(id)
            }
        }
        // Serve synchronously what can be served.
        var served: [Int] = []
        var starts: [StreamID] = []
        var history: [Bool] = []
        for k in 0..<nStreams {
            // Redis looks each key up a second time here (hits, misses and keymiss events count twice).
            _ = ctx.db.lookupRead(ctx.argv[streamsArg + k])
            guard let s = streams[k] else { continue }
            var gt = ids[k]
            var serve = false
            var hist = false
            if let g = groups[k] {
                if gt != maxID {
                    serve = true
                    hist = true
                } else if s.length > 0, let last = s.edge(first: false)?.0, last > g.lastID {
                    serve = true
                    gt = g.lastID
                }
            } else if s.length > 0, let last = s.edge(first: false)?.0, last > gt {
                serve = true
            }
            if serve {
                served.append(k)
                starts.append(gt)
                history.append(hist)
            }
        }
        if !served.isEmpty {
            var props: [[Bytes]] = []
            if ctx.client.resp == 2 { ctx.out.array(served.count) } else { ctx.out.map(served.count) }
            for (n, k) in served.enumerated() {
                let key = ctx.argv[streamsArg + k]
                if ctx.client.resp == 2 { ctx.out.array(2) }
                ctx.out.bulk(key)
                var consumer: StreamConsumer?
                if let g = groups[k] {
                    if noack && g.consumers[consumerName] == nil { props.append(createConsumerArgv(key: key, group: g, consumerName)) }
                    consumer = lookupOrCreateConsumer(ctx, g, consumerName, key: key)
                }
                if history[n] {
                    // As for new entries, the given ID is exclusive.
                    guard let from = starts[n].successor else { ctx.out.array(0); continue }
                    replyHistory(ctx, streams[k]!, consumer!, from: from, count: count)
                } else {
                    // The start is exclusive: begin after it.
                    let start = starts[n].successor ?? .max
                    replyRange(ctx, streams[k]!, key: key, from: starts[n] == .max ? .max : start,
                               count: count, group: groups[k], consumer: consumer, noack: noack, props: &props)
                }
            }
            if isGroup { ctx.propagateAs(props) }
            return
        }
        if timeout != -1 {
            if ctx.noBlocking {
                ctx.out.nullArray()
                return
            }
            // Block with the IDs resolved now ("$" becomes the stream's last ID) and a bounded COUNT.
            var argv = Array(ctx.argv[..<streamsArg])
            argv.append(contentsOf: ctx.argv[streamsArg..<(streamsArg + nStreams)])
            for k in 0..<nStreams {
                argv.append(ids[k] == maxID && isGroup ? Bytes(">") : ids[k].bytes)
            }
            if count == 0 {
                argv.insert(contentsOf: [Bytes("COUNT"), Bytes("1000")], at: streamsArg - 1)
            }
            let saved = ctx.argv
            ctx.argv = argv
            ctx.block(on: Array(saved[streamsArg..<(streamsArg + nStreams)]), deadline: timeout, timeoutIsNullArray: true)
            ctx.argv = saved
            if isGroup { ctx.propagateNothing() }
            return
        }
        ctx.out.nullArray()
        if isGroup { ctx.propagateNothing() }
    }

    /// A blocked XREAD / XREADGROUP re-run after `ctx.readyKey` changed.
    static func serveBlocked(_ ctx: CommandContext, streamsArg: Int, nStreams: Int, groupName: Bytes?,
                             consumerName: Bytes, noack: Bool, count: Int, timeout: Int64) {
        guard let key = ctx.readyKey,
              let k = (0..<nStreams).first(where: { ctx.argv[streamsArg + $0] == key }) else { return }
        let keepBlocking = { ctx.block(on: Array(ctx.argv[streamsArg..<(streamsArg + nStreams)]), deadline: timeout, timeoutIsNullArray: true) }
        guard case let .stream(s)? = ctx.db.lookup(key) else {
            if groupName != nil {
                ctx.error("UNBLOCKED the stream key no longer exists")
                return
            }
            keepBlocking()
            return
        }
        var gt: StreamID
        var group: StreamGroup?
        if let groupName {
            guard let g = s.groups[groupName] else {
                ctx.error("NOGROUP the consumer group this client was blocked on no longer exists")
                return
            }
            group = g
            gt = g.lastID
        } else {
            guard let id = StreamID.parse(ctx.argv[streamsArg + nStreams + k], missingSeq: 0) else { return }
            gt = id
        }
        guard s.lastID > gt else {
            keepBlocking()
            return
        }
        var props: [[Bytes]] = []
        if ctx.client.resp == 2 {
            ctx.out.array(1)
            ctx.out.array(2)
        } else {
            ctx.out.map(1)
        }
        ctx.out.bulk(key)
        var consumer: StreamConsumer?
        if let group {
            if noack && group.consumers[consumerName] == nil { props.append(createConsumerArgv(key: key, group: group, consumerName)) }
            consumer = lookupOrCreateConsumer(ctx, group, consumerName, key: key)
        }
        replyRange(ctx, s, key: key, from: gt.successor ?? .max, count: count, group: group,
                   consumer: consumer, noack: noack, props: &props)
        if group != nil {
            ctx.propagateAs(props)
        } else {
            ctx.propagateNothing()
        }
    }

    /// New entries from `start` on, delivered to a group's consumer (PEL, last ID, propagation) or plainly.
    static func replyRange(_ ctx: CommandContext, _ s: StreamObject, key: Bytes, from start: StreamID, count: Int,
                           group: StreamGroup?, consumer: StreamConsumer?, noack: Bool, props: inout [[Bytes]]) {
        var items: [(StreamID, [Bytes])] = []
        s.forEach(from: start, to: .max) { id, f in
            items.append((id, f))
            return count == 0 || items.count < count
        }
        ctx.out.array(items.count)
        var propagateLastID = false
        for (id, f) in items {
            if let g = group, id > g.lastID {
                s.advance(g, to: id)
                propagateLastID = true
            }
            emitEntry(ctx, id, f)
            if let g = group, let c = consumer, !noack {
                let now = ctx.now
                if let nack = g.pel[id] {
                    nack.consumer.pel.remove(id)
                    nack.consumer = c
                    nack.deliveryTime = now
                    nack.deliveryCount = 1
                    c.pel.set(id, nack)
                } else {
                    let nack = PendingEntry(consumer: c, deliveryTime: now, deliveryCount: 1)
                    g.pel.set(id, nack)
                    c.pel.set(id, nack)
                }
                if ctx.engine.isPropagating { props.append(xclaimArgv(key: key, group: g, id: id, nack: g.pel[id]!)) }
            }
        }
        if let g = group {
            if !items.isEmpty { ctx.engine.dirty &+= 1 }
            if propagateLastID && noack && ctx.engine.isPropagating { props.append(setIDArgv(key: key, group: g)) }
        }
    }

    /// A consumer's own pending entries from `start` on (XREADGROUP with an ID other than ">").
    static func replyHistory(_ ctx: CommandContext, _ s: StreamObject, _ c: StreamConsumer, from start: StreamID, count: Int) {
        var i = c.pel.lowerBound(start)
        var n = 0
        var out: [(StreamID, [Bytes]?)] = []
        while i < c.pel.count && (count == 0 || n < count) {
            let id = c.pel.keys[i]
            let fields = s.entry(id)
            if fields != nil {
                // Delivered again: Redis counts it (and propagates nothing).
                let nack = c.pel.values[i]
                nack.deliveryTime = ctx.now
                nack.deliveryCount &+= 1
            }
            out.append((id, fields))
            n += 1
            i += 1
        }
        ctx.out.array(out.count)
        for (id, f) in out {
            if let f {
                emitEntry(ctx, id, f)
            } else {
                ctx.out.array(2)
                ctx.out.bulk(id.bytes)
                ctx.out.nullArray()
            }
        }
    }

    // MARK: XACK / XPENDING

    static func xack(_ ctx: CommandContext) {
        var g: StreamGroup?
        switch lookup(ctx, ctx.argv[1], read: true) {
        case .wrongType: return
        case let .stream(s): g = s.groups[ctx.argv[2]]
        case .absent: break
        }
        guard let g else {
            ctx.out.integer(0)
            return
        }
        var ids: [StreamID] = []
        for j in 3..<ctx.argc {
            guard let id = strictID(ctx, ctx.argv[j]) else { return }
            ids.append(id)
        }
        var acked = 0
        for id in ids {
            if let nack = g.pel.remove(id) {
                nack.consumer.pel.remove(id)
                acked += 1
            }
        }
        ctx.engine.dirty &+= acked
        ctx.out.integer(acked)
    }

    static func xpending(_ ctx: CommandContext) {
        let key = ctx.argv[1], groupName = ctx.argv[2]
        let justInfo = ctx.argc == 3
        if ctx.argc != 3 && (ctx.argc < 6 || ctx.argc > 9) {
            ctx.syntaxError()
            return
        }
        var minIdle = 0
        var start = StreamID.zero, end = StreamID.max
        var count = 0
        var consumerName: Bytes?
        if ctx.argc >= 6 {
            var si = 3
            if ctx.arg(3, is: "idle") {
                guard let m = ctx.int(4) else { return }
                minIdle = m
                if ctx.argc < 8 {
                    ctx.syntaxError()
                    return
                }
                si += 2
            }
            guard let c = ctx.int(si + 2) else { return }
            count = max(0, c)
            guard let (s0, sx) = intervalID(ctx, ctx.argv[si], missingSeq: 0) else { return }
            start = s0
            if sx {
                guard let n = start.successor else { ctx.error("ERR invalid start ID for the interval"); return }
                start = n
            }
            guard let (e0, ex) = intervalID(ctx, ctx.argv[si + 1], missingSeq: UInt64.max) else { return }
            end = e0
            if ex {
                guard let p = end.predecessor else { ctx.error("ERR invalid end ID for the interval"); return }
                end = p
            }
            if si + 3 < ctx.argc { consumerName = ctx.argv[si + 3] }
        }
        var g: StreamGroup?
        switch lookup(ctx, key, read: true) {
        case .wrongType: return
        case let .stream(s): g = s.groups[groupName]
        case .absent: break
        }
        guard let g else {
            ctx.error(noGroup(key, groupName))
            return
        }
        if justInfo {
            ctx.out.array(4)
            ctx.out.integer(g.pel.count)
            if g.pel.isEmpty {
                ctx.out.nullBulk()
                ctx.out.nullBulk()
                ctx.out.nullArray()
            } else {
                ctx.out.bulk(g.pel.keys[0].bytes)
                ctx.out.bulk(g.pel.keys[g.pel.count - 1].bytes)
                let withPending = g.sortedConsumers.filter { !$0.pel.isEmpty }
                ctx.out.array(withPending.count)
                for c in withPending {
                    ctx.out.array(2)
                    ctx.out.bulk(c.name)
                    ctx.out.bulk(int: c.pel.count)
                }
            }
            return
        }
        var pel = g.pel
        if let consumerName {
            guard let c = g.consumers[consumerName] else {
                ctx.out.array(0)
                return
            }
            pel = c.pel
        }
        let now = ctx.now
        var rows: [(StreamID, PendingEntry)] = []
        var i = pel.lowerBound(start)
        while i < pel.count && rows.count < count {
            let id = pel.keys[i]
            if id > end { break }
            let nack = pel.values[i]
            i += 1
            if minIdle != 0 && now &- nack.deliveryTime < Int64(minIdle) { continue }
            rows.append((id, nack))
        }
        ctx.out.array(rows.count)
        for (id, nack) in rows {
            ctx.out.array(4)
            ctx.out.bulk(id.bytes)
            ctx.out.bulk(nack.consumer.name)
            ctx.out.integer(Int(now &- nack.deliveryTime))
            ctx.out.integer(Int(truncatingIfNeeded: nack.deliveryCount))
        }
    }

    // MARK: XCLAIM / XAUTOCLAIM

    static func groupOrError(_ ctx: CommandContext) -> (StreamObject, StreamGroup)? {
        switch lookup(ctx, ctx.argv[1], read: true) {
        case .wrongType: return nil
        case let .stream(s):
            if let g = s.groups[ctx.argv[2]] { return (s, g) }
        case .absent: break
        }
        ctx.error(noGroup(ctx.argv[1], ctx.argv[2]))
        return nil
    }

    static func xclaim(_ ctx: CommandContext) {
        guard let (s, g) = groupOrError(ctx) else { return }
        let key = ctx.argv[1]
        guard var minIdle = ctx.int(4, error: "ERR Invalid min-idle-time argument for XCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        var ids: [StreamID] = []
        var j = 5
        while j < ctx.argc, let id = strictID(nil, ctx.argv[j]) {
            ids.append(id)
            j += 1
        }
        let now = ctx.now
        var retryCount: Int = -1
        var deliveryTime: Int64 = -1
        var force = false, justID = false
        var lastID = StreamID.zero
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.arg(j, is: "force") {
                force = true
            } else if ctx.arg(j, is: "justid") {
                justID = true
            } else if ctx.arg(j, is: "idle") && more > 0 {
                j += 1
                guard let v = ctx.int(j, error: "ERR Invalid IDLE option argument for XCLAIM") else { return }
                deliveryTime = now &- Int64(v)
            } else if ctx.arg(j, is: "time") && more > 0 {
                j += 1
                guard let v = ctx.int(j, error: "ERR Invalid TIME option argument for XCLAIM") else { return }
                deliveryTime = Int64(v)
            } else if ctx.arg(j, is: "retrycount") && more > 0 {
                j += 1
                guard let v = ctx.int(j, error: "ERR Invalid RETRYCOUNT option argument for XCLAIM") else { return }
                retryCount = v
            } else if ctx.arg(j, is: "lastid") && more > 0 {
                j += 1
                guard let v = strictID(ctx, ctx.argv[j]) else { return }
                lastID = v
            } else {
                ctx.error("ERR Unrecognized XCLAIM option '\(text(ctx.argv[j]))'")
                return
            }
            j += 1
        }
        var propagateLastID = false
        if lastID > g.lastID {
            g.lastID = lastID
            propagateLastID = true
        }
        if deliveryTime != -1 {
            if deliveryTime < 0 || deliveryTime > now { deliveryTime = now }
        } else {
            deliveryTime = now
        }
        var consumer: StreamConsumer?
        var props: [[Bytes]] = []
        var replies: [(StreamID, [Bytes]?)] = []
        let prop = ctx.engine.isPropagating
        for id in ids {
            var nack = g.pel[id]
            guard let fields = s.entry(id) else {
                if let old = nack {
                    if prop { props.append(xclaimArgv(key: key, group: g, id: id, nack: old)) }
                    propagateLastID = false
                    ctx.engine.dirty &+= 1
                    g.pel.remove(id)
                    old.consumer.pel.remove(id)
                }
                continue
            }
            var fresh = false
            if force && nack == nil {
                fresh = true
            }
            if nack == nil && !fresh { continue }
            if let n = nack, minIdle != 0, now &- n.deliveryTime < Int64(minIdle) { continue }
            if consumer == nil { consumer = lookupOrCreateConsumer(ctx, g, ctx.argv[3], key: key) }
            let c = consumer!
            if fresh {
                let n = PendingEntry(consumer: c, deliveryTime: deliveryTime, deliveryCount: 1)
                g.pel.set(id, n)
                c.pel.set(id, n)
                nack = n
            }
            let n = nack!
            if n.consumer !== c {
                n.consumer.pel.remove(id)
                n.consumer = c
                c.pel.set(id, n)
            }
            n.deliveryTime = deliveryTime
            if retryCount >= 0 {
                n.deliveryCount = UInt64(retryCount)
            } else if !justID {
                n.deliveryCount &+= 1
            }
            replies.append((id, justID ? nil : fields))
            if prop { props.append(xclaimArgv(key: key, group: g, id: id, nack: n)) }
            propagateLastID = false
            ctx.engine.dirty &+= 1
        }
        if propagateLastID {
            if prop { props.append(setIDArgv(key: key, group: g)) }
            ctx.engine.dirty &+= 1
        }
        ctx.out.array(replies.count)
        for (id, f) in replies {
            if let f { emitEntry(ctx, id, f) } else { ctx.out.bulk(id.bytes) }
        }
        ctx.propagateAs(props)
    }

    static func xautoclaim(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        guard var minIdle = ctx.int(4, error: "ERR Invalid min-idle-time argument for XAUTOCLAIM") else { return }
        if minIdle < 0 { minIdle = 0 }
        guard let (s0, sx) = intervalID(ctx, ctx.argv[5], missingSeq: 0) else { return }
        var start = s0
        if sx {
            guard let n = start.successor else { ctx.error("ERR invalid start ID for the interval"); return }
            start = n
        }
        var count = 100
        var justID = false
        var j = 6
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.arg(j, is: "count") && more > 0 {
                guard let c = parseStrictInt(ctx.argv[j + 1].raw), c >= 1, c <= Int.max / 16 else {
                    ctx.error("ERR COUNT must be > 0")
                    return
                }
                count = c
                j += 1
            } else if ctx.arg(j, is: "justid") {
                justID = true
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        guard let (s, g) = groupOrError(ctx) else { return }
        var attempts = count * 10
        let now = ctx.now
        var consumer: StreamConsumer?
        var props: [[Bytes]] = []
        var claimed: [(StreamID, [Bytes]?)] = []
        var deletedIDs: [StreamID] = []
        let prop = ctx.engine.isPropagating
        var i = g.pel.lowerBound(start)
        var next = StreamID.zero
        while true {
            if attempts == 0 || count == 0 {
                if i < g.pel.count { next = g.pel.keys[i] }
                break
            }
            attempts -= 1
            guard i < g.pel.count else { break }
            let id = g.pel.keys[i]
            let nack = g.pel.values[i]
            guard let fields = s.entry(id) else {
                if prop { props.append(xclaimArgv(key: key, group: g, id: id, nack: nack)) }
                ctx.engine.dirty &+= 1
                g.pel.remove(id)
                nack.consumer.pel.remove(id)
                deletedIDs.append(id)
                count -= 1
                continue
            }
            i += 1
            if minIdle != 0 && now &- nack.deliveryTime < Int64(minIdle) { continue }
            if consumer == nil { consumer = lookupOrCreateConsumer(ctx, g, ctx.argv[3], key: key) }
            let c = consumer!
            if nack.consumer !== c {
                nack.consumer.pel.remove(id)
                nack.consumer = c
                c.pel.set(id, nack)
            }
            nack.deliveryTime = now
            if !justID { nack.deliveryCount &+= 1 }
            claimed.append((id, justID ? nil : fields))
            count -= 1
            if prop { props.append(xclaimArgv(key: key, group: g, id: id, nack: nack)) }
            ctx.engine.dirty &+= 1
        }
        ctx.out.array(3)
        ctx.out.bulk(next.bytes)
        ctx.out.array(claimed.count)
        for (id, f) in claimed {
            if let f { emitEntry(ctx, id, f) } else { ctx.out.bulk(id.bytes) }
        }
        ctx.out.array(deletedIDs.count)
        for id in deletedIDs { ctx.out.bulk(id.bytes) }
        ctx.propagateAs(props)
    }

    // MARK: XINFO

    static func infoStreamObject(_ ctx: CommandContext) -> StreamObject? {
        switch lookup(ctx, ctx.argv[2], read: true) {
        case .wrongType: return nil
        case .absent:
            ctx.error(Err.noSuchKey)
            return nil
        case let .stream(s): return s
        }
    }

    static func entriesReadReply(_ ctx: CommandContext, _ g: StreamGroup) {
        if g.entriesRead != StreamObject.invalidEntriesRead { ctx.out.integer(Int(g.entriesRead)) } else { ctx.out.nullBulk() }
    }

    static func lagReply(_ ctx: CommandContext, _ s: StreamObject, _ g: StreamGroup) {
        if let l = s.lag(of: g) { ctx.out.integer(Int(l)) } else { ctx.out.nullBulk() }
    }

    static func infoConsumers(_ ctx: CommandContext) {
        guard let s = infoStreamObject(ctx) else { return }
        guard let g = s.groups[ctx.argv[3]] else {
            ctx.error("NOGROUP No such consumer group '\(text(ctx.argv[3]))' for key name '\(text(ctx.argv[2]))'")
            return
        }
        let now = ctx.now
        let cs = g.sortedConsumers
        ctx.out.array(cs.count)
        for c in cs {
            ctx.out.map(3)
            ctx.out.bulk("name"); ctx.out.bulk(c.name)
            ctx.out.bulk("pending"); ctx.out.integer(c.pel.count)
            ctx.out.bulk("idle"); ctx.out.integer(Int(max(0, now &- c.seenTime)))
        }
    }

    static func infoGroups(_ ctx: CommandContext) {
        guard let s = infoStreamObject(ctx) else { return }
        let gs = s.sortedGroups
        ctx.out.array(gs.count)
        for g in gs {
            ctx.out.map(6)
            ctx.out.bulk("name"); ctx.out.bulk(g.name)
            ctx.out.bulk("consumers"); ctx.out.integer(g.consumers.count)
            ctx.out.bulk("pending"); ctx.out.integer(g.pel.count)
            ctx.out.bulk("last-delivered-id"); ctx.out.bulk(g.lastID.bytes)
            ctx.out.bulk("entries-read"); entriesReadReply(ctx, g)
            ctx.out.bulk("lag"); lagReply(ctx, s, g)
        }
    }

    /// The number of nodes of the radix tree Redis keys the nodes by (a compressed trie of 16-byte
    /// big-endian IDs: the root, each compressed run, each branching point, each key's end).
    private static func countRoot(_ keys: [[UInt8]]) -> Int {
        func walk(_ lo: Int, _ hi: Int, _ depth: Int) -> Int {
            // A node begins at `depth`. Follow the single-child run to the next branch or key end.
            var d = depth
            while d < 16 {
                let c = keys[lo][d]
                var same = true
                for k in (lo + 1)..<max(lo + 1, hi) where keys[k][d] != c { same = false; break }
                if !same { break }
                d += 1
            }
            if d == 16 {
                // Compressed run (if any) then the key's end node.
                return d == depth ? 1 : 2
            }
            // Branch at depth d: a compressed run node (if d > depth) then the branching node.
            var total = d > depth ? 2 : 1
            var a = lo
            while a < hi {
                var b = a + 1
                while b < hi && keys[b][d] == keys[a][d] { b += 1 }
                total += walk(a, b, d + 1)
                a = b
            }
            return total
        }
        return walk(0, keys.count, 0)
    }

    static func infoStream(_ ctx: CommandContext) {
        var full = false
        var count = 10
        if ctx.argc > 3 {
            guard ctx.arg(3, is: "full") else {
                ctx.error("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
                return
            }
            full = true
            if ctx.argc == 6 && ctx.arg(4, is: "count") {
                guard let c = ctx.int(5) else { return }
                count = c < 0 ? 10 : c
            } else if ctx.argc > 4 {
                ctx.error("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
                return
            }
        }
        guard let s = infoStreamObject(ctx) else { return }
        ctx.out.map(full ? 9 : 10)
        ctx.out.bulk("length"); ctx.out.integer(s.length)
        ctx.out.bulk("radix-tree-keys"); ctx.out.integer(s.nodes.count)
        ctx.out.bulk("radix-tree-nodes"); ctx.out.integer(countRoot(s.nodes.map { $0.master.bigEndian }.sorted { $0.lexicographicallyPrecedes($1) }, empty: s.nodes.isEmpty))
        ctx.out.bulk("last-generated-id"); ctx.out.bulk(s.lastID.bytes)
        ctx.out.bulk("max-deleted-entry-id"); ctx.out.bulk(s.maxDeletedID.bytes)
        ctx.out.bulk("entries-added"); ctx.out.integer(Int(truncatingIfNeeded: s.entriesAdded))
        ctx.out.bulk("recorded-first-entry-id"); ctx.out.bulk(s.firstID.bytes)
        if !full {
            ctx.out.bulk("groups"); ctx.out.integer(s.groups.count)
            ctx.out.bulk("first-entry")
            if let (id, f) = s.edge(first: true) { emitEntry(ctx, id, f) } else { ctx.out.nullBulk() }
            ctx.out.bulk("last-entry")
            if let (id, f) = s.edge(first: false) { emitEntry(ctx, id, f) } else { ctx.out.nullBulk() }
            return
        }
        var items: [(StreamID, [Bytes])] = []
        s.forEach(from: .zero, to: .max) { id, f in
            items.append((id, f))
            return count == 0 || items.count < count
        }
        ctx.out.bulk("entries")
        ctx.out.array(items.count)
        for (id, f) in items { emitEntry(ctx, id, f) }
        ctx.out.bulk("groups")
        let gs = s.sortedGroups
        ctx.out.array(gs.count)
        for g in gs {
            ctx.out.map(7)
            ctx.out.bulk("name"); ctx.out.bulk(g.name)
            ctx.out.bulk("last-delivered-id"); ctx.out.bulk(g.lastID.bytes)
            ctx.out.bulk("entries-read"); entriesReadReply(ctx, g)
            ctx.out.bulk("lag"); lagReply(ctx, s, g)
            ctx.out.bulk("pel-count"); ctx.out.integer(g.pel.count)
            ctx.out.bulk("pending")
            let pn = count == 0 ? g.pel.count : min(count, g.pel.count)
            ctx.out.array(pn)
            for i in 0..<pn {
                let n = g.pel.values[i]
                ctx.out.array(4)
                ctx.out.bulk(g.pel.keys[i].bytes)
                ctx.out.bulk(n.consumer.name)
                ctx.out.integer(Int(n.deliveryTime))
                ctx.out.integer(Int(truncatingIfNeeded: n.deliveryCount))
            }
            ctx.out.bulk("consumers")
            let cs = g.sortedConsumers
            ctx.out.array(cs.count)
            for c in cs {
                ctx.out.map(4)
                ctx.out.bulk("name"); ctx.out.bulk(c.name)
                ctx.out.bulk("seen-time"); ctx.out.integer(Int(c.seenTime))
                ctx.out.bulk("pel-count"); ctx.out.integer(c.pel.count)
                ctx.out.bulk("pending")
                let cn = count == 0 ? c.pel.count : min(count, c.pel.count)
                ctx.out.array(cn)
                for i in 0..<cn {
                    let n = c.pel.values[i]
                    ctx.out.array(3)
                    ctx.out.bulk(c.pel.keys[i].bytes)
                    ctx.out.integer(Int(n.deliveryTime))
                    ctx.out.integer(Int(truncatingIfNeeded: n.deliveryCount))
                }
            }
        }
    }

    /// XINFO's radix-tree-nodes: 1 for an empty tree.
    private static func countRoot(_ keys: [[UInt8]], empty: Bool) -> Int {
        empty ? 1 : countRoot(keys)
    }
}
