import LunarRESP

/// The string command family: GET, SET and friends, counters, ranges, LCS.
enum StringCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Returns the string value of a key.", syntax: "key") { ctx in
                _ = replyGet(ctx, ctx.argv[1])
            },
            CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: (1, 1, 1), group: .string,
                        summary: "Sets the string value of a key, with optional expiry and conditions.",
                        syntax: "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
                        handler: set),
            CommandSpec("setnx", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Sets the string value of a key only when the key is absent.", syntax: "key value") { ctx in
                let key = ctx.argv[1]
                if ctx.db.exists(key) {
                    ctx.out.integer(0)
                    return
                }
                ctx.db.add(key, .string(ctx.argv[2]))
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.string, "set", key)
                ctx.out.integer(1)
            },
            CommandSpec("setex", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .string, since: "2.0.0",
                        summary: "Sets the string value and expiry time in seconds of a key.", syntax: "key seconds value") { ctx in
                setWithExpire(ctx, seconds: true)
            },
            CommandSpec("psetex", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .string, since: "2.6.0",
                        summary: "Sets the string value and expiry time in milliseconds of a key.", syntax: "key milliseconds value") { ctx in
                setWithExpire(ctx, seconds: false)
            },
            CommandSpec("getset", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Sets a key to a new string value and returns the previous one.", syntax: "key value") { ctx in
                let key = ctx.argv[1]
                guard replyGet(ctx, key) else { return }
                ctx.db.set(key, .string(ctx.argv[2]))
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.string, "set", key)
            },
            CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: .string, since: "6.2.0",
                        summary: "Returns the string value of a key and deletes the key.", syntax: "key") { ctx in
                let key = ctx.argv[1]
                switch ctx.db.lookupRead(key) {
                case nil: ctx.out.nullBulk()
                case let .string(s)?:
                    ctx.out.bulk(s)
                    ctx.db.delete(key)
                    ctx.propagateAs([[Bytes("DEL"), key]])  // as Redis: a replica needs no reply
                    ctx.db.signalModified(key)
                    ctx.notify(KeyspaceEvents.generic, "del", key)
                default: ctx.wrongType()
                }
            },
            CommandSpec("getex", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .string, since: "6.2.0",
                        summary: "Returns the string value of a key and optionally changes or removes its expiry.",
                        syntax: "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]",
                        handler: getex),
            CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: .string,
                        summary: "Returns the string values of one or more keys.", complexity: "O(N) where N is the number of keys",
                        syntax: "key [key ...]") { ctx in
                ctx.out.array(ctx.argc - 1)
                for i in 1..<ctx.argc {
                    if case let .string(s)? = ctx.db.lookupRead(ctx.argv[i]) {
                        ctx.out.bulk(s)
                    } else {
                        ctx.out.nullBulk()
                    }
                }
            },
            CommandSpec("mset", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 2), group: .string, since: "1.0.1",
                        summary: "Sets the string values of one or more keys.", complexity: "O(N) where N is the number of keys",
                        syntax: "key value [key value ...]") { ctx in
                guard ctx.argc % 2 == 1 else { return arityError(ctx) }
                var i = 1
                while i < ctx.argc {
                    ctx.db.set(ctx.argv[i], .string(ctx.argv[i + 1]))
                    ctx.db.signalModified(ctx.argv[i])
                    ctx.notify(KeyspaceEvents.string, "set", ctx.argv[i])
                    i += 2
                }
                ctx.ok()
            },
            CommandSpec("msetnx", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 2), group: .string, since: "1.0.1",
                        summary: "Sets the string values of one or more keys only when none of them exists.",
                        complexity: "O(N) where N is the number of keys", syntax: "key value [key value ...]") { ctx in
                guard ctx.argc % 2 == 1 else { return arityError(ctx) }
                var i = 1
                while i < ctx.argc {
                    if ctx.db.exists(ctx.argv[i]) {
                        ctx.out.integer(0)
                        return
                    }
                    i += 2
                }
                i = 1
                while i < ctx.argc {
                    ctx.db.set(ctx.argv[i], .string(ctx.argv[i + 1]))
                    ctx.db.signalModified(ctx.argv[i])
                    ctx.notify(KeyspaceEvents.string, "set", ctx.argv[i])
                    i += 2
                }
                ctx.out.integer(1)
            },
            CommandSpec("append", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string, since: "2.0.0",
                        summary: "Appends a string to the value of a key, creating the key if needed.", syntax: "key value", handler: append),
            CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .string, since: "2.2.0",
                        summary: "Returns the length of a string value.", syntax: "key") { ctx in
                switch ctx.db.lookupRead(ctx.argv[1]) {
                case nil: ctx.out.integer(0)
                case let .string(s)?: ctx.out.integer(s.count)
                default: ctx.wrongType()
                }
            },
            CommandSpec("incr", arity: 2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Adds one to the integer value of a key.", syntax: "key") { ctx in
                incrBy(ctx, 1)
            },
            CommandSpec("decr", arity: 2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Subtracts one from the integer value of a key.", syntax: "key") { ctx in
                incrBy(ctx, -1)
            },
            CommandSpec("incrby", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Adds an integer to the integer value of a key.", syntax: "key increment") { ctx in
                guard let n = ctx.int(2) else { return }
                incrBy(ctx, n)
            },
            CommandSpec("decrby", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string,
                        summary: "Subtracts an integer from the integer value of a key.", syntax: "key decrement") { ctx in
                guard let n = ctx.int(2) else { return }
                if n == Int.min { return ctx.error("ERR decrement would overflow") }
                incrBy(ctx, -n)
            },
            CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .string, since: "2.6.0",
                        summary: "Adds a floating point number to the numeric value of a key.", syntax: "key increment",
                        handler: incrByFloat),
            CommandSpec("getrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: .string, since: "2.4.0",
                        summary: "Returns a substring of a string value, by byte offsets.",
                        complexity: "O(N) where N is the length of the returned string", syntax: "key start end", handler: getrange),
            CommandSpec("substr", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: .string,
                        summary: "Returns a substring of a string value (old name of GETRANGE).",
                        complexity: "O(N) where N is the length of the returned string", syntax: "key start end", handler: getrange),
            CommandSpec("setrange", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .string, since: "2.2.0",
                        summary: "Overwrites part of a string value from an offset, padding with zero bytes if needed.",
                        complexity: "O(1), not counting the time to copy the new string", syntax: "key offset value", handler: setrange),
            CommandSpec("lcs", arity: -3, flags: [.readonly], keys: (1, 2, 1), group: .string, since: "7.0.0",
                        summary: "Finds the longest common subsequence of two string values.",
                        complexity: "O(N*M) where N and M are the lengths of the two strings",
                        syntax: "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]", handler: lcs),
        ]
    }

    // MARK: Shared helpers

    static func arityError(_ ctx: CommandContext) {
        ctx.error("ERR wrong number of arguments for '\(ctx.spec.fullName)' command")
    }

    static func invalidExpire(_ ctx: CommandContext) {
        ctx.error("ERR invalid expire time in '\(ctx.spec.fullName)' command")
    }

    /// Writes a key's string value (or a null) as GET does; false (after writing WRONGTYPE) if not a string.
    @inline(__always)
    static func replyGet(_ ctx: CommandContext, _ key: Bytes) -> Bool {
        switch ctx.db.lookupRead(key) {
        case nil: ctx.out.nullBulk()
        case let .string(s)?: ctx.out.bulk(s)
        default:
            ctx.wrongType()
            return false
        }
        return true
    }

    /// Turns an expiry argument into an absolute Unix time in ms, or writes the error and returns nil.
    /// `relative` adds the current time (EX, PX); `seconds` multiplies by 1000 (EX, EXAT).
    static func expireArgument(_ ctx: CommandContext, _ i: Int, seconds: Bool, relative: Bool) -> Int64? {
        guard let v = ctx.int(i) else { return nil }
        if v <= 0 || (seconds && v > Int.max / 1000) {
            invalidExpire(ctx)
            return nil
        }
        var ms = Int64(seconds ? v * 1000 : v)
        if relative { ms = ms &+ ctx.now }
        if ms <= 0 {
            invalidExpire(ctx)
            return nil
        }
        return ms
    }

    /// Options of SET and GETEX, parsed with Redis's rules about which ones may be combined.
    struct ExtendedOptions {
        var nx = false, xx = false, get = false, keepTTL = false, persist = false
        var ex = false, px = false, exat = false, pxat = false
        var expireIndex = 0
        var anyExpire: Bool { ex || px || exat || pxat }
    }

    /// Parses the options from argv[first...]; writes a syntax error and returns nil when they do not fit.
    static func parseExtended(_ ctx: CommandContext, from first: Int, isSet: Bool) -> ExtendedOptions? {
        var o = ExtendedOptions()
        var j = first
        while j < ctx.argc {
            let a = ctx.argv[j]
            let hasNext = j + 1 < ctx.argc
            if isSet && !o.xx && a.equalsIgnoringCase("nx") {
                o.nx = true
            } else if isSet && !o.nx && a.equalsIgnoringCase("xx") {
                o.xx = true
            } else if isSet && a.equalsIgnoringCase("get") {
                o.get = true
            } else if isSet && !o.persist && !o.anyExpire && a.equalsIgnoringCase("keepttl") {
                o.keepTTL = true
            } else if !isSet && !o.anyExpire && !o.keepTTL && a.equalsIgnoringCase("persist") {
                o.persist = true
            } else if hasNext && !o.keepTTL && !o.persist && !o.exat && !o.px && !o.pxat && a.equalsIgnoringCase("ex") {
                o.ex = true
                o.expireIndex = j + 1
                j += 1
            } else if hasNext && !o.keepTTL && !o.persist && !o.ex && !o.exat && !o.pxat && a.equalsIgnoringCase("px") {
                o.px = true
                o.expireIndex = j + 1
                j += 1
            } else if hasNext && !o.keepTTL && !o.persist && !o.ex && !o.px && !o.pxat && a.equalsIgnoringCase("exat") {
                o.exat = true
                o.expireIndex = j + 1
                j += 1
            } else if hasNext && !o.keepTTL && !o.persist && !o.ex && !o.exat && !o.px && a.equalsIgnoringCase("pxat") {
                o.pxat = true
                o.expireIndex = j + 1
                j += 1
            } else {
                ctx.syntaxError()
                return nil
            }
            j += 1
        }
        return o
    }

    static func expireOf(_ ctx: CommandContext, _ o: ExtendedOptions) -> Int64?? {
        guard o.anyExpire else { return .some(nil) }
        guard let at = expireArgument(ctx, o.expireIndex, seconds: o.ex || o.exat, relative: o.ex || o.px) else { return nil }
        return .some(at)
    }

    // MARK: Handlers

    static func set(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        var when: Int64? = nil
        var opts = ExtendedOptions()
        if ctx.argc > 3 {
            guard let o = parseExtended(ctx, from: 3, isSet: true) else { return }
            guard let w = expireOf(ctx, o) else { return }
            opts = o
            when = w
            if o.get {
                guard replyGet(ctx, key) else { return }
            }
            if o.nx || o.xx {
                let found = ctx.db.exists(key)
                if (o.nx && found) || (o.xx && !found) {
                    if !o.get { ctx.out.nullBulk() }
                    return
                }
            }
        }
        ctx.db.set(key, .string(ctx.argv[2]), keepTTL: opts.keepTTL)
        if let when {
            ctx.db.setExpire(key, at: when)
            // Any expiry travels as `SET key value PXAT ms` (as Redis writes it, PXAT included), so a
            // replica ends up with the same absolute time.
            ctx.propagateAs([[Bytes("SET"), key, ctx.argv[2], Bytes("PXAT"), Bytes(String(when))]])
        } else if opts.get, let i = ctx.argv.indices.dropFirst(3).first(where: { ctx.argv[$0].equalsIgnoringCase("get") }) {
            // As Redis: GET only shapes the reply, so it travels without it.
            var argv = ctx.argv
            argv.remove(at: i)
            ctx.propagateAs([argv])
        }
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.string, "set", key)
        if when != nil { ctx.notify(KeyspaceEvents.generic, "expire", key) }
        if !opts.get { ctx.ok() }
    }

    static func setWithExpire(_ ctx: CommandContext, seconds: Bool) {
        let key = ctx.argv[1]
        guard let when = expireArgument(ctx, 2, seconds: seconds, relative: true) else { return }
        ctx.db.set(key, .string(ctx.argv[3]))
        ctx.db.setExpire(key, at: when)
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.string, "set", key)
        ctx.notify(KeyspaceEvents.generic, "expire", key)
        ctx.propagateAs([[Bytes("SET"), key, ctx.argv[3], Bytes("PXAT"), Bytes(String(when))]])
        ctx.ok()
    }

    static func getex(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        guard let o = parseExtended(ctx, from: 2, isSet: false) else { return }
        guard let value = ctx.db.lookupRead(key) else { return ctx.out.nullBulk() }
        guard case let .string(s) = value else { return ctx.wrongType() }
        guard let when = expireOf(ctx, o) else { return }
        ctx.out.bulk(s)
        if let when {
            if (o.exat || o.pxat) && when <= ctx.now {
                ctx.db.delete(key)
                ctx.propagateAs([[Bytes("DEL"), key]])
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.generic, "del", key)
            } else {
                ctx.db.setExpire(key, at: when)
                ctx.propagateAs([[Bytes("PEXPIREAT"), key, Bytes(String(when))]])
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.generic, "expire", key)
            }
        } else if o.persist {
            if let e = ctx.db.expireTime(key), e != 0 {
                ctx.db.setExpire(key, at: 0)
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.generic, "persist", key)
                ctx.propagateAs([[Bytes("PERSIST"), key]])
            }
        }
    }

    /// True (after writing the error) if a string of `size + append` bytes would exceed proto-max-bulk-len.
    static func tooLong(_ ctx: CommandContext, _ size: Int, _ append: Int) -> Bool {
        let total = size &+ append
        if total > ctx.engine.protoMaxBulkLen.load(ordering: .relaxed) || total < size || total < append {
            ctx.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            return true
        }
        return false
    }

    static func append(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let piece = ctx.argv[2]
        let db = ctx.db
        guard let slot = db.slot(key) else {
            db.add(key, .string(piece))
            db.signalModified(key)
            db.notify(KeyspaceEvents.string, "append", key)
            ctx.out.integer(piece.count)
            return
        }
        let oldCount: Int
        switch db.table.value(at: slot) {
        case let .string(s): oldCount = s.count   // no reference kept past here, so the append below is in place
        default: return ctx.wrongType()
        }
        if tooLong(ctx, oldCount, piece.count) { return }
        let n = db.table.withValue(at: slot) { v -> Int in
            guard case var .string(s) = v else { return 0 }
            v = .string(Bytes())
            s.append(contentsOf: piece)
            let c = s.count
            v = .string(s)
            return c
        }
        db.table.markStringEdited(at: slot)
        db.signalModified(key)
        db.notify(KeyspaceEvents.string, "append", key)
        ctx.out.integer(n)
    }

    static func incrBy(_ ctx: CommandContext, _ by: Int) {
        let key = ctx.argv[1]
        let db = ctx.db
        let slot = db.slot(key)
        var old = 0
        if let slot {
            guard case let .string(s) = db.table.value(at: slot) else { return ctx.wrongType() }
            guard let v = parseStrictInt(s.raw) else { return ctx.error(Err.notInteger) }
            old = v
        }
        let (sum, overflow) = old.addingReportingOverflow(by)
        if overflow { return ctx.error(Err.overflow) }
        let text = StringEncoding.decimal(sum)
        if let slot {
            db.table.replaceValue(at: slot, with: .string(text))
        } else {
            db.add(key, .string(text))
        }
        db.signalModified(key)
        db.notify(KeyspaceEvents.string, "incrby", key)
        ctx.out.integer(sum)
    }

    static func incrByFloat(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let db = ctx.db
        let slot = db.slot(key)
        var value: StringEncoding.LongDouble = 0
        if let slot {
            guard case let .string(s) = db.table.value(at: slot) else { return ctx.wrongType() }
            guard let v = StringEncoding.parseLongDouble(s) else { return ctx.error(Err.notFloat) }
            value = v
        }
        guard let incr = StringEncoding.parseLongDouble(ctx.argv[2]) else { return ctx.error(Err.notFloat) }
        value += incr
        if value.isNaN || value.isInfinite { return ctx.error("ERR increment would produce NaN or Infinity") }
        let text = StringEncoding.formatLongDouble(value)
        if let slot {
            db.table.replaceValue(at: slot, with: .string(text))
        } else {
            db.add(key, .string(text))
        }
        db.signalModified(key)
        db.notify(KeyspaceEvents.string, "incrbyfloat", key)
        // The result travels, not the increment: float arithmetic must not differ on a replica.
        ctx.propagateAs([[Bytes("SET"), key, text, Bytes("KEEPTTL")]])
        ctx.out.bulk(text)
    }

    static func getrange(_ ctx: CommandContext) {
        guard var start = ctx.int(2), var end = ctx.int(3) else { return }
        let s: Bytes
        switch ctx.db.lookupRead(ctx.argv[1]) {
        case nil: return ctx.out.bulk(Bytes())
        case let .string(v)?: s = v
        default: return ctx.wrongType()
        }
        let len = s.count
        if start < 0 && end < 0 && start > end { return ctx.out.bulk(Bytes()) }
        if start < 0 { start = len &+ start }
        if end < 0 { end = len &+ end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= len { end = len - 1 }
        if start > end || len == 0 { return ctx.out.bulk(Bytes()) }
        ctx.out.bulk(bytes: s.raw[start...end])
    }

    static func setrange(_ ctx: CommandContext) {
        guard let offset = ctx.int(2) else { return }
        if offset < 0 { return ctx.error("ERR offset is out of range") }
        let key = ctx.argv[1]
        let piece = ctx.argv[3]
        let db = ctx.db
        guard let slot = db.slot(key) else {
            if piece.isEmpty { return ctx.out.integer(0) }
            if tooLong(ctx, offset, piece.count) { return }
            var s = [UInt8](repeating: 0, count: offset + piece.count)
            s.replaceSubrange(offset..<(offset + piece.count), with: piece.raw)
            db.table.markStringEdited(at: db.add(key, .string(Bytes(s))))
            db.signalModified(key)
            db.notify(KeyspaceEvents.string, "setrange", key)
            ctx.out.integer(s.count)
            return
        }
        let oldCount: Int
        switch db.table.value(at: slot) {
        case let .string(s): oldCount = s.count
        default: return ctx.wrongType()
        }
        if piece.isEmpty { return ctx.out.integer(oldCount) }
        if tooLong(ctx, offset, piece.count) { return }
        let n = db.table.withValue(at: slot) { v -> Int in
            guard case var .string(s) = v else { return 0 }
            v = .string(Bytes())
            let need = offset + piece.count
            if s.count < need { StringEncoding.growZero(&s.raw, by: need - s.count) }
            s.raw.replaceSubrange(offset..<need, with: piece.raw)
            let c = s.count
            v = .string(s)
            return c
        }
        db.table.markStringEdited(at: slot)
        db.signalModified(key)
        db.notify(KeyspaceEvents.string, "setrange", key)
        ctx.out.integer(n)
    }

    // MARK: LCS

    static func lcs(_ ctx: CommandContext) {
        let va = ctx.db.lookupRead(ctx.argv[1])
        let vb = ctx.db.lookupRead(ctx.argv[2])
        var a = Bytes(), b = Bytes()
        switch va {
        case nil: break
        case let .string(s)?: a = s
        default: return ctx.error("ERR The specified keys must contain string values")
        }
        switch vb {
        case nil: break
        case let .string(s)?: b = s
        default: return ctx.error("ERR The specified keys must contain string values")
        }
        var wantIdx = false, wantLen = false, withMatchLen = false
        var minMatchLen = 0
        var j = 3
        while j < ctx.argc {
            let opt = ctx.argv[j]
            if opt.equalsIgnoringCase("idx") {
                wantIdx = true
            } else if opt.equalsIgnoringCase("len") {
                wantLen = true
            } else if opt.equalsIgnoringCase("withmatchlen") {
                withMatchLen = true
            } else if opt.equalsIgnoringCase("minmatchlen") && j + 1 < ctx.argc {
                guard let m = ctx.int(j + 1) else { return }
                minMatchLen = max(0, m)
                j += 1
            } else {
                return ctx.syntaxError()
            }
            j += 1
        }
        if wantIdx && wantLen {
            return ctx.error("ERR If you want both the length and indexes, please just use IDX.")
        }
        if a.count >= Int(UInt32.max) - 1 || b.count >= Int(UInt32.max) - 1 {
            return ctx.error("ERR String too long for LCS")
        }
        let m = a.count, n = b.count
        let width = n + 1
        // The table holds (m+1)*(n+1) 32-bit lengths; refuse sizes that cannot reasonably be allocated
        // (Redis answers this way when its allocation fails).
        let (cells, o1) = (m + 1).multipliedReportingOverflow(by: width)
        if o1 || cells > (1 << 32) {
            return ctx.error("ERR Insufficient memory, failed allocating transient memory for LCS")
        }
        // table[i * width + k] = length of the LCS of a[0..<i] and b[0..<k].
        var table = [UInt32](repeating: 0, count: (m + 1) * width)
        a.raw.withUnsafeBufferPointer { pa in
            b.raw.withUnsafeBufferPointer { pb in
                table.withUnsafeMutableBufferPointer { t in
                    if m == 0 || n == 0 { return }
                    for i in 1...m {
                        let row = i * width, prev = (i - 1) * width
                        let ca = pa[i - 1]
                        for k in 1...n {
                            if ca == pb[k - 1] {
                                t[row + k] = t[prev + k - 1] + 1
                            } else {
                                let up = t[prev + k], left = t[row + k - 1]
                                t[row + k] = up > left ? up : left
                            }
                        }
                    }
                }
            }
        }
        let total = Int(table[m * width + n])
        if wantLen && !wantIdx { return ctx.out.integer(total) }

        // Walk back from the end, collecting the common bytes and the runs of contiguous matches.
        var result = [UInt8](repeating: 0, count: total)
        var fill = total
        var ranges: [(Int, Int, Int, Int)] = []   // (aStart, aEnd, bStart, bEnd)
        var open = false
        var aStart = 0, aEnd = 0, bStart = 0, bEnd = 0
        var i = m, k = n
        func close() {
            let len = aEnd - aStart + 1
            if minMatchLen == 0 || len >= minMatchLen { ranges.append((aStart, aEnd, bStart, bEnd)) }
            open = false
        }
        while i > 0 && k > 0 {
            if a[i - 1] == b[k - 1] {
                fill -= 1
                result[fill] = a[i - 1]
                if !open {
                    open = true
                    aStart = i - 1; aEnd = i - 1; bStart = k - 1; bEnd = k - 1
                } else if aStart == i && bStart == k {
                    aStart -= 1
                    bStart -= 1
                } else {
                    close()
                    open = true
                    aStart = i - 1; aEnd = i - 1; bStart = k - 1; bEnd = k - 1
                }
                i -= 1
                k -= 1
                if aStart == 0 || bStart == 0 { close() }
            } else {
                if table[(i - 1) * width + k] > table[i * width + k - 1] { i -= 1 } else { k -= 1 }
                if open { close() }
            }
        }
        if !wantIdx { return ctx.out.bulk(Bytes(result)) }
        ctx.out.map(2)
        ctx.out.bulk("matches")
        ctx.out.array(ranges.count)
        for r in ranges {
            ctx.out.array(withMatchLen ? 3 : 2)
            ctx.out.array(2)
            ctx.out.integer(r.0)
            ctx.out.integer(r.1)
            ctx.out.array(2)
            ctx.out.integer(r.2)
            ctx.out.integer(r.3)
            if withMatchLen { ctx.out.integer(r.1 - r.0 + 1) }
        }
        ctx.out.bulk("len")
        ctx.out.integer(total)
    }
}
