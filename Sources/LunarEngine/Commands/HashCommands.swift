#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

extension CommandContext {
    /// The hash at `key` (read lookups count hits/misses); writes WRONGTYPE for other types.
    @inline(__always) func hashAt(_ key: Bytes, read: Bool = true) -> TypedLookup<HashObject> {
        switch read ? db.lookupRead(key) : db.lookup(key) {
        case nil: return .missing
        case let .hash(h)?: return .found(h)
        default:
            wrongType()
            return .wrongType
        }
    }

    /// The hash at `key`, created (empty, not yet stored) when absent: `created` tells the caller to add it.
    @inline(__always) func hashForWrite(_ key: Bytes) -> (HashObject, created: Bool)? {
        switch hashAt(key, read: false) {
        case .wrongType: return nil
        case let .found(h): return (h, false)
        case .missing: return (HashObject(), true)
        }
    }
}

/// The hash command family: fields and values, counters, random fields and HSCAN.
enum HashCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Sets one or more fields of a hash, creating it when absent; answers how many fields were new.",
                        complexity: "O(1) for each field/value pair.", syntax: "key field value [field value ...]",
                        handler: { hset($0, legacy: false) }),
            CommandSpec("hsetnx", arity: 4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Sets a hash field only when the field does not exist yet.",
                        syntax: "key field value", handler: hsetnx),
            CommandSpec("hget", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers the value of a hash field.", syntax: "key field", handler: hget),
            CommandSpec("hmset", arity: -4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Sets one or more fields of a hash (older form of HSET that answers OK).",
                        complexity: "O(N) where N is the number of fields being set.", syntax: "key field value [field value ...]",
                        handler: { hset($0, legacy: true) }),
            CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers the values of several hash fields, null for missing ones.",
                        complexity: "O(N) where N is the number of fields requested.", syntax: "key field [field ...]", handler: hmget),
            CommandSpec("hgetall", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers every field and value of a hash.", complexity: "O(N) where N is the size of the hash.",
                        syntax: "key", handler: { hgetall($0, fields: true, values: true) }),
            CommandSpec("hdel", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Deletes fields from a hash, deleting the hash once empty; answers how many were removed.",
                        complexity: "O(N) where N is the number of fields to remove.", syntax: "key field [field ...]", handler: hdel),
            CommandSpec("hlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers the number of fields in a hash.", syntax: "key", handler: hlen),
            CommandSpec("hstrlen", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .hash, since: "3.2.0",
                        summary: "Answers the length of the value of a hash field.", syntax: "key field", handler: hstrlen),
            CommandSpec("hexists", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Tells whether a hash field exists.", syntax: "key field", handler: hexists),
            CommandSpec("hkeys", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers every field name of a hash.", complexity: "O(N) where N is the size of the hash.",
                        syntax: "key", handler: { hgetall($0, fields: true, values: false) }),
            CommandSpec("hvals", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Answers every value of a hash.", complexity: "O(N) where N is the size of the hash.",
                        syntax: "key", handler: { hgetall($0, fields: false, values: true) }),
            CommandSpec("hincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hash, since: "2.0.0",
                        summary: "Adds an integer to the integer value of a hash field (a missing field counts as 0).",
                        syntax: "key field increment", handler: hincrby),
            CommandSpec("hincrbyfloat", arity: 4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hash, since: "2.6.0",
                        summary: "Adds a floating point number to the value of a hash field (a missing field counts as 0).",
                        syntax: "key field increment", handler: hincrbyfloat),
            CommandSpec("hrandfield", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .hash, since: "6.2.0",
                        summary: "Answers random fields of a hash, optionally with their values; a negative count allows repeats.",
                        complexity: "O(N) where N is the number of fields returned.", syntax: "key [count [WITHVALUES]]",
                        handler: hrandfield),
            CommandSpec("hscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .hash, since: "2.8.0",
                        summary: "Iterates over the fields and values of a hash with a cursor.",
                        complexity: "O(1) per call, O(N) for a complete iteration.",
                        syntax: "key cursor [MATCH pattern] [COUNT count]", handler: hscan),
        ]
    }

    // MARK: Writes

    static func hset(_ ctx: CommandContext, legacy: Bool) {
        if ctx.argc % 2 == 1 {
            ctx.error("ERR wrong number of arguments for '\(legacy ? "hmset" : "hset")' command")
            return
        }
        let key = ctx.argv[1]
        guard let (h, created) = ctx.hashForWrite(key) else { return }
        let lim = EncodingLimits.of(ctx.engine)
        h.convertIfAnyTooLong(ctx.argv[2...], maxValue: lim.hashMaxListpackValue)
        var added = 0
        var i = 2
        while i < ctx.argc {
            if h.set(ctx.argv[i], ctx.argv[i + 1], maxEntries: lim.hashMaxListpackEntries, maxValue: lim.hashMaxListpackValue) {
                added += 1
            }
            i += 2
        }
        if created { ctx.db.add(key, .hash(h)) }
        ctx.db.signalModified(key)
        if legacy { ctx.ok() } else { ctx.out.integer(added) }
        ctx.notify(KeyspaceEvents.hash, "hset", key)
    }

    static func hsetnx(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        guard let (h, created) = ctx.hashForWrite(key) else { return }
        if h.contains(ctx.argv[2]) {
            ctx.out.integer(0)
            return
        }
        let lim = EncodingLimits.of(ctx.engine)
        h.set(ctx.argv[2], ctx.argv[3], maxEntries: lim.hashMaxListpackEntries, maxValue: lim.hashMaxListpackValue)
        if created { ctx.db.add(key, .hash(h)) }
        ctx.db.signalModified(key)
        ctx.out.integer(1)
        ctx.notify(KeyspaceEvents.hash, "hset", key)
    }

    static func hdel(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let h: HashObject
        switch ctx.hashAt(key, read: false) {
        case .wrongType: return
        case .missing:
            ctx.out.integer(0)
            return
        case let .found(x): h = x
        }
        var removed = 0
        var deleted = false
        for i in 2..<ctx.argc where h.delete(ctx.argv[i]) {
            removed += 1
            if h.isEmpty {
                ctx.db.delete(key)
                deleted = true
                break
            }
        }
        if removed > 0 {
            ctx.db.signalModified(key)
            ctx.notify(KeyspaceEvents.hash, "hdel", key)
            if deleted { ctx.notify(KeyspaceEvents.generic, "del", key) }
        }
        ctx.out.integer(removed)
    }

    static func hincrby(_ ctx: CommandContext) {
        guard let incr = ctx.int(3) else { return }
        let key = ctx.argv[1], field = ctx.argv[2]
        guard let (h, created) = ctx.hashForWrite(key) else { return }
        var value = 0
        if let old = h.get(field) {
            guard let v = parseStrictInt(old.raw) else {
                ctx.error("ERR hash value is not an integer")
                return
            }
            value = v
        }
        let (sum, overflow) = value.addingReportingOverflow(incr)
        if overflow {
            ctx.error(Err.overflow)
            return
        }
        let lim = EncodingLimits.of(ctx.engine)
        h.set(field, Bytes(String(sum)), maxEntries: lim.hashMaxListpackEntries, maxValue: lim.hashMaxListpackValue)
        if created { ctx.db.add(key, .hash(h)) }
        ctx.db.signalModified(key)
        ctx.out.integer(sum)
        ctx.notify(KeyspaceEvents.hash, "hincrby", key)
    }

    static func hincrbyfloat(_ ctx: CommandContext) {
        guard let incr = StringEncoding.parseLongDouble(ctx.argv[3]) else {
            ctx.error(Err.notFloat)
            return
        }
        if incr.isNaN || incr.isInfinite {
            ctx.error("ERR value is NaN or Infinity")
            return
        }
        let key = ctx.argv[1], field = ctx.argv[2]
        guard let (h, created) = ctx.hashForWrite(key) else { return }
        var value: StringEncoding.LongDouble = 0
        if let old = h.get(field) {
            guard let v = StringEncoding.parseLongDouble(old) else {
                ctx.error("ERR hash value is not a float")
                return
            }
            value = v
        }
        value += incr
        if value.isNaN || value.isInfinite {
            ctx.error("ERR increment would produce NaN or Infinity")
            return
        }
        let text = StringEncoding.formatLongDouble(value)
        let lim = EncodingLimits.of(ctx.engine)
        h.set(field, text, maxEntries: lim.hashMaxListpackEntries, maxValue: lim.hashMaxListpackValue)
        if created { ctx.db.add(key, .hash(h)) }
        ctx.db.signalModified(key)
        // The result travels, not the increment: float arithmetic must not differ on a replica.
        ctx.propagateAs([[Bytes("HSET"), key, field, text]])
        ctx.out.bulk(text)
        ctx.notify(KeyspaceEvents.hash, "hincrbyfloat", key)
    }

    // MARK: Reads

    static func hget(_ ctx: CommandContext) {
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.nullBulk()
        case let .found(h): h.writeValue(ctx.argv[2], to: &ctx.out)
        }
    }

    static func hmget(_ ctx: CommandContext) {
        let h: HashObject?
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: h = nil
        case let .found(x): h = x
        }
        ctx.out.array(ctx.argc - 2)
        for i in 2..<ctx.argc {
            if let h { h.writeValue(ctx.argv[i], to: &ctx.out) } else { ctx.out.nullBulk() }
        }
    }

    static func hgetall(_ ctx: CommandContext, fields: Bool, values: Bool) {
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing:
            if fields && values { ctx.out.map(0) } else { ctx.out.array(0) }
        case let .found(h):
            if fields && values { ctx.out.map(h.count) } else { ctx.out.array(h.count) }
            h.write(to: &ctx.out, fields: fields, values: values)
        }
    }

    static func hlen(_ ctx: CommandContext) {
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case let .found(h): ctx.out.integer(h.count)
        }
    }

    static func hstrlen(_ ctx: CommandContext) {
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case let .found(h): ctx.out.integer(h.valueLength(ctx.argv[2]) ?? 0)
        }
    }

    static func hexists(_ ctx: CommandContext) {
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case let .found(h): ctx.out.integer(h.contains(ctx.argv[2]) ? 1 : 0)
        }
    }

    // MARK: HRANDFIELD

    static func hrandfield(_ ctx: CommandContext) {
        var rng = FastRandom()
        if ctx.argc == 2 {
            switch ctx.hashAt(ctx.argv[1]) {
            case .wrongType: return
            case .missing: ctx.out.nullBulk()
            case let .found(h): ctx.out.bulk(h.randomPair(using: &rng).0)
            }
            return
        }
        guard let l = ctx.int(2) else { return }
        if l == Int.min {
            ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        if ctx.argc > 4 || (ctx.argc == 4 && !ctx.arg(3, is: "withvalues")) {
            ctx.syntaxError()
            return
        }
        let withValues = ctx.argc == 4
        if withValues && (l < -(Int.max / 2) || l > Int.max / 2) {
            ctx.error("ERR value is out of range")
            return
        }
        let h: HashObject
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.array(0)
            return
        case let .found(x): h = x
        }
        if l == 0 {
            ctx.out.array(0)
            return
        }
        func emit(_ f: Bytes, _ v: Bytes) {
            if withValues {
                if ctx.out.resp >= 3 { ctx.out.array(2) }
                ctx.out.bulk(f)
                ctx.out.bulk(v)
            } else {
                ctx.out.bulk(f)
            }
        }
        func header(_ n: Int) { ctx.out.array(withValues && ctx.out.resp < 3 ? 2 * n : n) }
        if l < 0 {
            // Repeats allowed: |count| independent draws.
            let n = -l
            header(n)
            if h.isListpack {
                let all = h.pairs
                for _ in 0..<n {
                    let p = all[Int.random(in: 0..<all.count, using: &rng)]
                    emit(p.0, p.1)
                }
            } else {
                for _ in 0..<n {
                    let p = h.randomPair(using: &rng)
                    emit(p.0, p.1)
                }
            }
            return
        }
        let size = h.count
        if l >= size {
            header(size)
            if withValues && ctx.out.resp >= 3 {
                h.forEach { emit($0, $1) }
            } else {
                h.write(to: &ctx.out, fields: true, values: withValues)
            }
            return
        }
        header(l)
        if h.isListpack {
            // A listpack answers a random subset in its own order (selection sampling), as Redis does.
            var needed = l
            var left = size
            h.forEach { f, v in
                if needed > 0 && Int.random(in: 0..<left, using: &rng) < needed {
                    emit(f, v)
                    needed -= 1
                }
                left -= 1
            }
            return
        }
        if l * 3 > size {
            var all = h.pairs
            for i in 0..<l {
                all.swapAt(i, Int.random(in: i..<size, using: &rng))
                emit(all[i].0, all[i].1)
            }
            return
        }
        var picked = Set<Bytes>()
        picked.reserveCapacity(l)
        while picked.count < l {
            let p = h.randomPair(using: &rng)
            if picked.insert(p.0).inserted { emit(p.0, p.1) }
        }
    }

    // MARK: HSCAN

    static func hscan(_ ctx: CommandContext) {
        guard let cursor = parseScanCursor(ctx.argv[2]) else {
            ctx.error("ERR invalid cursor")
            return
        }
        let h: HashObject
        switch ctx.hashAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.array(2)
            ctx.out.bulk("0")
            ctx.out.array(0)
            return
        case let .found(x): h = x
        }
        guard let opts = ScanOptions.parse(ctx, from: 3) else { return }
        var found: [(Bytes, Bytes)] = []
        let next = h.scan(cursor: cursor, count: opts.count) { f, v in
            if opts.matches(f) { found.append((f, v)) }
        }
        ctx.out.array(2)
        ctx.out.bulk(String(next))
        ctx.out.array(2 * found.count)
        for (f, v) in found {
            ctx.out.bulk(f)
            ctx.out.bulk(v)
        }
    }
}

