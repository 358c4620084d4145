import LunarRESP

/// Result of looking up a key that should hold an aggregate of one type.
enum TypedLookup<T> {
    case missing
    case found(T)
    /// The key holds another type; WRONGTYPE has been written.
    case wrongType
}

extension CommandContext {
    /// The set at `key` (read lookups count hits/misses); writes WRONGTYPE for other types.
    @inline(__always) func setAt(_ key: Bytes, read: Bool = true) -> TypedLookup<SetObject> {
        switch read ? db.lookupRead(key) : db.lookup(key) {
        case nil: return .missing
        case let .set(s)?: return .found(s)
        default:
            wrongType()
            return .wrongType
        }
    }
}

/// The set command family: membership, random sampling, algebra (inter/union/diff) and SSCAN.
enum SetCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .set,
                        summary: "Adds members to a set, creating it when absent; answers how many were new.",
                        complexity: "O(1) for each member added, O(N) for N members.", syntax: "key member [member ...]", handler: sadd),
            CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .set,
                        summary: "Removes members from a set, deleting it once empty; answers how many were removed.",
                        complexity: "O(N) where N is the number of members to remove.", syntax: "key member [member ...]", handler: srem),
            CommandSpec("smembers", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: .set,
                        summary: "Lists every member of a set.", complexity: "O(N) where N is the set's cardinality.",
                        syntax: "key", handler: smembers),
            CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .set,
                        summary: "Tells whether a value is a member of a set.", syntax: "key member", handler: sismember),
            CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .set, since: "6.2.0",
                        summary: "Tells, for each of several values, whether it is a member of a set.",
                        complexity: "O(N) where N is the number of values checked.", syntax: "key member [member ...]", handler: smismember),
            CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .set,
                        summary: "Answers the number of members of a set.", syntax: "key", handler: scard),
            CommandSpec("spop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .set,
                        summary: "Removes and answers one or more random members of a set.",
                        complexity: "O(1) without count, O(N) where N is count otherwise.", syntax: "key [count]", handler: spop),
            CommandSpec("srandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .set,
                        summary: "Answers random members of a set without removing them; a negative count allows repeats.",
                        complexity: "O(1) without count, O(N) where N is the absolute count otherwise.", syntax: "key [count]", handler: srandmember),
            CommandSpec("smove", arity: 4, flags: [.write, .fast], keys: (1, 2, 1), group: .set,
                        summary: "Moves a member from one set to another.", syntax: "source destination member", handler: smove),
            CommandSpec("sinter", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: .set,
                        summary: "Answers the members common to all the given sets.",
                        complexity: "O(N*M) worst case, N the smallest set's cardinality and M the number of sets.",
                        syntax: "key [key ...]", handler: { interGeneric($0, firstKey: 1, store: nil) }),
            CommandSpec("sintercard", arity: -3, flags: [.readonly], keys: (0, 0, 0), group: .set, since: "7.0.0",
                        summary: "Answers the size of the intersection of sets, optionally stopping once LIMIT is reached.",
                        complexity: "O(N*M) worst case, N the smallest set's cardinality and M the number of sets.",
                        syntax: "numkeys key [key ...] [LIMIT limit]", handler: sintercard, getKeys: numkeysKeys),
            CommandSpec("sinterstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: .set,
                        summary: "Stores the intersection of sets in a destination key and answers its size.",
                        complexity: "O(N*M) worst case, N the smallest set's cardinality and M the number of sets.",
                        syntax: "destination key [key ...]", handler: { interGeneric($0, firstKey: 2, store: $0.argv[1]) }),
            CommandSpec("sunion", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: .set,
                        summary: "Answers the members present in any of the given sets.",
                        complexity: "O(N) where N is the total number of members of all sets.",
                        syntax: "key [key ...]", handler: { unionDiff($0, firstKey: 1, store: nil, diff: false) }),
            CommandSpec("sunionstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: .set,
                        summary: "Stores the union of sets in a destination key and answers its size.",
                        complexity: "O(N) where N is the total number of members of all sets.",
                        syntax: "destination key [key ...]", handler: { unionDiff($0, firstKey: 2, store: $0.argv[1], diff: false) }),
            CommandSpec("sdiff", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: .set,
                        summary: "Answers the members of the first set that are in none of the others.",
                        complexity: "O(N) where N is the total number of members of all sets.",
                        syntax: "key [key ...]", handler: { unionDiff($0, firstKey: 1, store: nil, diff: true) }),
            CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyoom], keys: (1, -1, 1), group: .set,
                        summary: "Stores the difference of the first set and the others in a destination key and answers its size.",
                        complexity: "O(N) where N is the total number of members of all sets.",
                        syntax: "destination key [key ...]", handler: { unionDiff($0, firstKey: 2, store: $0.argv[1], diff: true) }),
            CommandSpec("sscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .set, since: "2.8.0",
                        summary: "Iterates over the members of a set with a cursor.",
                        complexity: "O(1) per call, O(N) for a complete iteration.",
                        syntax: "key cursor [MATCH pattern] [COUNT count]", handler: sscan),
        ]
    }

    /// Keys of SINTERCARD-style commands: `numkeys` at argv[1], then that many keys.
    static func numkeysKeys(_ argv: [Bytes]) -> [Int] {
        guard argv.count > 2, let n = parseStrictInt(argv[1].raw), n > 0, n <= argv.count - 2 else { return [] }
        return Array(2..<(2 + n))
    }

    // MARK: Basic commands

    static func sadd(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let set: SetObject
        switch ctx.setAt(key, read: false) {
        case .wrongType: return
        case let .found(s): set = s
        case .missing:
            set = SetObject(forFirst: ctx.argv[2])
            ctx.db.add(key, .set(set))
        }
        let max = EncodingLimits.of(ctx.engine).setMaxIntsetEntries
        var added = 0
        for i in 2..<ctx.argc where set.add(ctx.argv[i], maxIntsetEntries: max) { added += 1 }
        if added > 0 {
            ctx.db.signalModified(key)
            ctx.notify(KeyspaceEvents.set, "sadd", key)
        }
        ctx.out.integer(added)
    }

    static func srem(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let set: SetObject
        switch ctx.setAt(key, read: false) {
        case .wrongType: return
        case .missing:
            ctx.out.integer(0)
            return
        case let .found(s): set = s
        }
        var removed = 0
        var deleted = false
        for i in 2..<ctx.argc {
            if set.remove(ctx.argv[i]) {
                removed += 1
                if set.isEmpty {
                    ctx.db.delete(key)
                    deleted = true
                    break
                }
            }
        }
        if removed > 0 {
            ctx.db.signalModified(key)
            ctx.notify(KeyspaceEvents.set, "srem", key)
            if deleted { ctx.notify(KeyspaceEvents.generic, "del", key) }
        }
        ctx.out.integer(removed)
    }

    static func smembers(_ ctx: CommandContext) {
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.set(0)
        case let .found(set):
            ctx.out.set(set.count)
            set.writeMembers(to: &ctx.out)
        }
    }

    static func sismember(_ ctx: CommandContext) {
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case let .found(set): ctx.out.integer(set.contains(ctx.argv[2]) ? 1 : 0)
        }
    }

    static func smismember(_ ctx: CommandContext) {
        let set: SetObject?
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: set = nil
        case let .found(s): set = s
        }
        ctx.out.array(ctx.argc - 2)
        for i in 2..<ctx.argc { ctx.out.integer(set?.contains(ctx.argv[i]) == true ? 1 : 0) }
    }

    static func scard(_ ctx: CommandContext) {
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case let .found(set): ctx.out.integer(set.count)
        }
    }

    // MARK: Random members

    static func spop(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        if ctx.argc > 3 {
            ctx.syntaxError()
            return
        }
        var rng = FastRandom()
        if ctx.argc == 2 {
            switch ctx.setAt(key, read: false) {
            case .wrongType: return
            case .missing: ctx.out.nullBulk()
            case let .found(set):
                let m = set.popRandom(using: &rng)
                let empty = set.isEmpty
                if empty { ctx.db.delete(key) }
                ctx.db.signalModified(key)
                // The member chosen at random travels, so a replica removes the same one.
                ctx.propagateAs([[Bytes("SREM"), key, m.bytes]])
                // As Redis: the pop event, the reply, then "del".
                ctx.notify(KeyspaceEvents.set, "spop", key)
                m.write(to: &ctx.out)
                if empty { ctx.notify(KeyspaceEvents.generic, "del", key) }
            }
            return
        }
        guard let count = parseStrictInt(ctx.argv[2].raw), count >= 0 else {
            ctx.error("ERR value is out of range, must be positive")
            return
        }
        let set: SetObject
        switch ctx.setAt(key, read: false) {
        case .wrongType: return
        case .missing:
            ctx.out.set(0)
            return
        case let .found(s): set = s
        }
        if count == 0 {
            ctx.out.set(0)
            return
        }
        let size = set.count
        // Redis announces the pop before it replies.
        ctx.notify(KeyspaceEvents.set, "spop", key)
        if count >= size {
            // Everything goes: answer the whole set in its own order and delete the key.
            ctx.out.set(size)
            set.writeMembers(to: &ctx.out)
            ctx.db.delete(key)
            ctx.db.signalModified(key)
            ctx.notify(KeyspaceEvents.generic, "del", key)
            ctx.propagateAs([[Bytes("DEL"), key]])
            return
        }
        let remaining = size - count
        ctx.out.set(count)
        // The members chosen at random travel as SREM, so a replica removes the same ones.
        var popped: [Bytes] = []
        let propagating = ctx.engine.isPropagating
        if remaining * 5 > count {
            // Few to pop: pop them one at a time, answering in pop order.
            for _ in 0..<count {
                let m = set.popRandom(using: &rng)
                m.write(to: &ctx.out)
                if propagating { popped.append(m.bytes) }
            }
        } else {
            // Most of the set goes: move the survivors to a new set, answer what is left in the old one
            // (in its own order) and make the new set the key's value, as Redis does.
            let survivors = set.isIntset ? SetObject() : SetObject.hashtable()
            let max = EncodingLimits.of(ctx.engine).setMaxIntsetEntries
            for _ in 0..<remaining { survivors.add(set.popRandom(using: &rng), maxIntsetEntries: max) }
            set.writeMembers(to: &ctx.out)
            if propagating { set.forEach { popped.append($0.bytes) } }
            ctx.db.set(key, .set(survivors), keepTTL: true)
        }
        ctx.db.signalModified(key)
        if propagating {
            // In batches, as Redis does, so no single propagated command grows without bound.
            var batches: [[Bytes]] = []
            var i = 0
            while i < popped.count {
                let end = Swift.min(popped.count, i + 1024)
                batches.append([Bytes("SREM"), key] + popped[i..<end])
                i = end
            }
            ctx.propagateAs(batches)
        }
    }

    static func srandmember(_ ctx: CommandContext) {
        if ctx.argc > 3 {
            ctx.syntaxError()
            return
        }
        var rng = FastRandom()
        if ctx.argc == 2 {
            switch ctx.setAt(ctx.argv[1]) {
            case .wrongType: return
            case .missing: ctx.out.nullBulk()
            case let .found(set): set.randomMember(using: &rng).write(to: &ctx.out)
            }
            return
        }
        guard let l = ctx.int(2) else { return }
        if l == Int.min {
            ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        let set: SetObject
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.array(0)
            return
        case let .found(s): set = s
        }
        if l == 0 {
            ctx.out.array(0)
            return
        }
        if l < 0 {
            // Repeats allowed: |count| independent draws.
            let n = -l
            ctx.out.array(n)
            for _ in 0..<n { set.randomMember(using: &rng).write(to: &ctx.out) }
            return
        }
        let size = set.count
        if l >= size {
            ctx.out.array(size)
            set.writeMembers(to: &ctx.out)
            return
        }
        ctx.out.array(l)
        for m in uniqueSample(set, l, using: &rng) { m.write(to: &ctx.out) }
    }

    /// `count` distinct random members (count < size), in random order.
    static func uniqueSample<G: RandomNumberGenerator>(_ set: SetObject, _ count: Int, using g: inout G) -> [SetMember] {
        let size = set.count
        if count * 3 > size {
            // A large share: shuffle a copy of the members and take a prefix.
            var all = set.elements
            for i in 0..<count {
                let j = Int.random(in: i..<size, using: &g)
                all.swapAt(i, j)
            }
            return Array(all[0..<count])
        }
        var picked = Set<SetMember>()
        picked.reserveCapacity(count)
        var out: [SetMember] = []
        out.reserveCapacity(count)
        while out.count < count {
            let m = set.randomMember(using: &g)
            if picked.insert(m).inserted { out.append(m) }
        }
        return out
    }

    static func smove(_ ctx: CommandContext) {
        let srcKey = ctx.argv[1], dstKey = ctx.argv[2], member = ctx.argv[3]
        let srcValue = ctx.db.lookup(srcKey)
        let dstValue = ctx.db.lookup(dstKey)
        guard let srcValue else {
            ctx.out.integer(0)
            return
        }
        guard case let .set(src) = srcValue else { return ctx.wrongType() }
        var dst: SetObject? = nil
        if let dstValue {
            guard case let .set(d) = dstValue else { return ctx.wrongType() }
            dst = d
        }
        if let dst, dst === src {
            ctx.out.integer(src.contains(member) ? 1 : 0)
            return
        }
        guard src.remove(member) else {
            ctx.out.integer(0)
            return
        }
        let srcEmpty = src.isEmpty
        if srcEmpty { ctx.db.delete(srcKey) }
        ctx.db.signalModified(srcKey)
        ctx.notify(KeyspaceEvents.set, "srem", srcKey)
        if srcEmpty { ctx.notify(KeyspaceEvents.generic, "del", srcKey) }
        let target: SetObject
        if let dst {
            target = dst
        } else {
            target = SetObject(forFirst: member)
            ctx.db.add(dstKey, .set(target))
        }
        let added = target.add(member, maxIntsetEntries: EncodingLimits.of(ctx.engine).setMaxIntsetEntries)
        // As Redis: the destination counts as modified (WATCH, tracking) only if the member was new.
        if added {
            ctx.db.signalModified(dstKey)
            ctx.notify(KeyspaceEvents.set, "sadd", dstKey)
        }
        ctx.out.integer(1)
    }

    // MARK: Set algebra

    /// Looks up the sets named by argv[range]; nil entries for missing keys. Returns nil after a WRONGTYPE.
    static func collectSets(_ ctx: CommandContext, _ range: Range<Int>, read: Bool) -> [SetObject?]? {
        var sets: [SetObject?] = []
        sets.reserveCapacity(range.count)
        for i in range {
            switch ctx.setAt(ctx.argv[i], read: read) {
            case .wrongType: return nil
            case .missing: sets.append(nil)
            case let .found(s): sets.append(s)
            }
        }
        return sets
    }

    /// Orders sets by ascending cardinality, keeping the given order among equal sizes.
    static func bySize(_ sets: [SetObject]) -> [SetObject] {
        var r = sets
        // Insertion sort: stable, and the number of sets is small.
        for i in 1..<max(1, r.count) {
            let x = r[i]
            var j = i - 1
            while j >= 0 && r[j].count > x.count {
                r[j + 1] = r[j]
                j -= 1
            }
            r[j + 1] = x
        }
        return r
    }

    /// Writes a set algebra result to `dest` (or deletes it when empty) and answers the size.
    static func storeResult(_ ctx: CommandContext, _ dest: Bytes, _ result: SetObject) {
        if result.count > 0 {
            ctx.db.set(dest, .set(result))
            ctx.db.signalModified(dest)
            // As Redis: the reply first, then the event.
            ctx.out.integer(result.count)
            ctx.notify(KeyspaceEvents.set, ctx.spec.name == "sinterstore" ? "sinterstore"
                       : ctx.spec.name == "sunionstore" ? "sunionstore" : "sdiffstore", dest)
        } else {
            let deleted = ctx.db.deleteIgnoringExpiry(dest)
            if deleted { ctx.db.signalModified(dest) }
            ctx.out.integer(0)
            if deleted { ctx.notify(KeyspaceEvents.generic, "del", dest) }
        }
    }

    static func interGeneric(_ ctx: CommandContext, firstKey: Int, store: Bytes?) {
        // Redis reads the sources with read lookups even when storing (misses count, and notify keymiss).
        guard let found = collectSets(ctx, firstKey..<ctx.argc, read: true) else { return }
        var sets: [SetObject] = []
        for s in found {
            guard let s else {
                // An empty set makes the intersection empty (Redis announces the deletion, then replies).
                if let store {
                    if ctx.db.deleteIgnoringExpiry(store) {
                        ctx.db.signalModified(store)
                        ctx.notify(KeyspaceEvents.generic, "del", store)
                    }
                    ctx.out.integer(0)
                } else {
                    ctx.out.set(0)
                }
                return
            }
            sets.append(s)
        }
        sets = bySize(sets)
        let first = sets[0]
        let others = sets.dropFirst()
        if let store {
            let max = EncodingLimits.of(ctx.engine).setMaxIntsetEntries
            let result = SetObject()
            first.forEach { m in
                if others.allSatisfy({ $0 === first || $0.contains(m) }) { result.add(m, maxIntsetEntries: max) }
            }
            storeResult(ctx, store, result)
            return
        }
        var result: [SetMember] = []
        first.forEach { m in
            if others.allSatisfy({ $0 === first || $0.contains(m) }) { result.append(m) }
        }
        ctx.out.set(result.count)
        for m in result { m.write(to: &ctx.out) }
    }

    static func sintercard(_ ctx: CommandContext) {
        guard let numkeys = parseStrictInt(ctx.argv[1].raw), numkeys > 0 else {
            ctx.error("ERR numkeys should be greater than 0")
            return
        }
        if numkeys > ctx.argc - 2 {
            ctx.error("ERR Number of keys can't be greater than number of args")
            return
        }
        var limit = 0
        var i = 2 + numkeys
        while i < ctx.argc {
            if ctx.arg(i, is: "limit") && i + 1 < ctx.argc {
                guard let l = parseStrictInt(ctx.argv[i + 1].raw), l >= 0 else {
                    ctx.error("ERR LIMIT can't be negative")
                    return
                }
                limit = l
                i += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        guard let found = collectSets(ctx, 2..<(2 + numkeys), read: true) else { return }
        var sets: [SetObject] = []
        for s in found {
            guard let s else {
                ctx.out.integer(0)
                return
            }
            sets.append(s)
        }
        sets = bySize(sets)
        let first = sets[0]
        let others = sets.dropFirst()
        var n = 0
        struct Done: Error {}
        try? first.forEach { m in
            if others.allSatisfy({ $0 === first || $0.contains(m) }) {
                n += 1
                if limit > 0 && n >= limit { throw Done() }
            }
        }
        ctx.out.integer(n)
    }

    static func unionDiff(_ ctx: CommandContext, firstKey: Int, store: Bytes?, diff: Bool) {
        guard let sets = collectSets(ctx, firstKey..<ctx.argc, read: true) else { return }
        let max = EncodingLimits.of(ctx.engine).setMaxIntsetEntries
        let result = SetObject()
        if !diff {
            for case let s? in sets { s.forEach { result.add($0, maxIntsetEntries: max) } }
        } else if let first = sets[0] {
            let others = sets.dropFirst().compactMap { $0 }
            if others.contains(where: { $0 === first }) {
                // A set minus itself is empty.
            } else {
                // Choose between checking each member of the first set against the others, and copying the
                // first set then removing the others' members, by estimated work (as Redis does; the choice
                // can decide the result's representation).
                var workOne = 0, workTwo = 0
                for case let s? in sets {
                    workOne += first.count
                    workTwo += s.count
                }
                workOne /= 2
                if workOne <= workTwo {
                    first.forEach { m in
                        if !others.contains(where: { $0.contains(m) }) { result.add(m, maxIntsetEntries: max) }
                    }
                } else {
                    first.forEach { result.add($0, maxIntsetEntries: max) }
                    for s in others {
                        s.forEach { result.remove($0) }
                        if result.isEmpty { break }
                    }
                }
            }
        }
        if let store {
            storeResult(ctx, store, result)
            return
        }
        ctx.out.set(result.count)
        result.writeMembers(to: &ctx.out)
    }

    // MARK: SSCAN

    static func sscan(_ ctx: CommandContext) {
        guard let cursor = parseScanCursor(ctx.argv[2]) else {
            ctx.error("ERR invalid cursor")
            return
        }
        let set: SetObject
        switch ctx.setAt(ctx.argv[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.array(2)
            ctx.out.bulk("0")
            ctx.out.array(0)
            return
        case let .found(s): set = s
        }
        guard let opts = ScanOptions.parse(ctx, from: 3) else { return }
        var found: [SetMember] = []
        let next = set.scan(cursor: cursor, count: opts.count) { m in
            if opts.pattern == nil || opts.matches(m.bytes) { found.append(m) }
        }
        ctx.out.array(2)
        ctx.out.bulk(String(next))
        ctx.out.array(found.count)
        for m in found { m.write(to: &ctx.out) }
    }
}
