#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DequeModule
import LunarRESP

/// The generic keyspace family: DEL, EXISTS, TYPE, RENAME, COPY, MOVE, KEYS, SCAN, RANDOMKEY, TOUCH,
/// the EXPIRE/TTL group, PERSIST, and SORT/SORT_RO.
enum KeyCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("del", arity: -2, flags: [.write], keys: (1, -1, 1), group: .generic, summary: "Deletes the given keys and returns how many existed.", complexity: "O(N) where N is the number of keys that will be removed. Removing a single key holding a collection is O(M) where M is its number of elements.", syntax: "key [key ...]", handler: deleteKeys),
            CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: (1, -1, 1), group: .generic, since: "4.0.0", summary: "Deletes the given keys, reclaiming memory out of the command path; returns how many existed.", complexity: "O(1) for each key removed regardless of its size; the memory is then reclaimed in O(N).", syntax: "key [key ...]", handler: deleteKeys),
            CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: .generic, summary: "Counts how many of the given keys exist (a key named twice counts twice).", complexity: "O(N) where N is the number of keys to check.", syntax: "key [key ...]") { ctx in
                var n = 0
                for i in 1..<ctx.argc where ctx.db.readSlot(ctx.argv[i], touch: false) != nil { n += 1 }
                ctx.out.integer(n)
            },
            CommandSpec("touch", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: .generic, since: "3.2.1", summary: "Marks the given keys as recently used and returns how many of them exist.", complexity: "O(N) where N is the number of keys that will be touched.", syntax: "key [key ...]") { ctx in
                var n = 0
                for i in 1..<ctx.argc where ctx.db.readSlot(ctx.argv[i]) != nil { n += 1 }
                ctx.out.integer(n)
            },
            CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .generic, summary: "Names the type of the value stored at a key, or none.", syntax: "key") { ctx in
                if let v = ctx.db.lookupRead(ctx.argv[1], touch: false) { ctx.out.simple(v.typeName) } else { ctx.out.simple("none") }
            },
            CommandSpec("rename", arity: 3, flags: [.write], keys: (1, 2, 1), group: .generic, summary: "Gives a key a new name, replacing any key already under that name.", complexity: "O(1)", syntax: "key newkey") { ctx in
                rename(ctx, onlyIfAbsent: false)
            },
            CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), group: .generic, summary: "Gives a key a new name only if no key has that name yet.", complexity: "O(1)", syntax: "key newkey") { ctx in
                rename(ctx, onlyIfAbsent: true)
            },
            CommandSpec("copy", arity: -3, flags: [.write, .denyoom], keys: (1, 2, 1), group: .generic, since: "6.2.0", summary: "Copies the value of a key to another key, possibly in another database.", complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", syntax: "source destination [DB destination-db] [REPLACE]", handler: copy),
            CommandSpec("move", arity: 3, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, summary: "Moves a key to another database if it is absent there.", complexity: "O(1)", syntax: "key db", handler: move),
            CommandSpec("keys", arity: 2, flags: [.readonly], group: .generic, summary: "Lists every key that matches a glob-style pattern.", complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", syntax: "pattern", acl: ["dangerous"], handler: keys),
            CommandSpec("scan", arity: -2, flags: [.readonly], group: .generic, since: "2.8.0", summary: "Walks the keyspace incrementally with a cursor, optionally filtering by pattern and type.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]", handler: scan),
            CommandSpec("randomkey", arity: 1, flags: [.readonly], group: .generic, summary: "Returns a key picked at random, or nil when the database is empty.", complexity: "O(1)") { ctx in
                let db = ctx.db
                var g = SystemRandomNumberGenerator()
                var tries = db.count + 1
                while tries > 0, let s = db.table.randomSlot(using: &g) {
                    let key = db.table.key(at: s)
                    // An expired key found this way is deleted and another one drawn.
                    if db.slot(key, touch: false) != nil { ctx.out.bulk(key); return }
                    tries -= 1
                }
                ctx.out.nullBulk()
            },
            CommandSpec("expire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, summary: "Sets a key's time to live in seconds.", complexity: "O(1)", syntax: "key seconds [NX|XX|GT|LT]") { ctx in
                expire(ctx, base: ctx.now, seconds: true)
            },
            CommandSpec("pexpire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, since: "2.6.0", summary: "Sets a key's time to live in milliseconds.", complexity: "O(1)", syntax: "key milliseconds [NX|XX|GT|LT]") { ctx in
                expire(ctx, base: ctx.now, seconds: false)
            },
            CommandSpec("expireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, since: "1.2.0", summary: "Makes a key expire at a Unix time given in seconds.", complexity: "O(1)", syntax: "key unix-time-seconds [NX|XX|GT|LT]") { ctx in
                expire(ctx, base: 0, seconds: true)
            },
            CommandSpec("pexpireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, since: "2.6.0", summary: "Makes a key expire at a Unix time given in milliseconds.", complexity: "O(1)", syntax: "key unix-time-milliseconds [NX|XX|GT|LT]") { ctx in
                expire(ctx, base: 0, seconds: false)
            },
            CommandSpec("ttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .generic, summary: "Returns the remaining time to live of a key in seconds (-1 none, -2 no key).", complexity: "O(1)", syntax: "key") { ctx in
                ttl(ctx, ms: false, absolute: false)
            },
            CommandSpec("pttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .generic, since: "2.6.0", summary: "Returns the remaining time to live of a key in milliseconds (-1 none, -2 no key).", complexity: "O(1)", syntax: "key") { ctx in
                ttl(ctx, ms: true, absolute: false)
            },
            CommandSpec("expiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .generic, since: "7.0.0", summary: "Returns the Unix time in seconds at which a key expires (-1 none, -2 no key).", complexity: "O(1)", syntax: "key") { ctx in
                ttl(ctx, ms: false, absolute: true)
            },
            CommandSpec("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .generic, since: "7.0.0", summary: "Returns the Unix time in milliseconds at which a key expires (-1 none, -2 no key).", complexity: "O(1)", syntax: "key") { ctx in
                ttl(ctx, ms: true, absolute: true)
            },
            CommandSpec("persist", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: .generic, since: "2.2.0", summary: "Removes a key's time to live so it no longer expires.", complexity: "O(1)", syntax: "key") { ctx in
                let key = ctx.argv[1]
                guard let e = ctx.db.expireTime(key), e != 0 else { ctx.out.integer(0); return }
                ctx.db.setExpire(key, at: 0)
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.generic, "persist", key)
                ctx.out.integer(1)
            },
            CommandSpec("sort", arity: -2, flags: [.write, .denyoom], keys: (1, 1, 1), group: .generic, summary: "Sorts the elements of a list, set or sorted set, optionally by external keys, and returns or stores them.", complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", syntax: "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]", acl: ["-keyspace", "set", "sortedset", "list", "dangerous"], handler: { ctx in sort(ctx, readOnly: false) }, getKeys: sortKeys),
            CommandSpec("sort_ro", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .generic, since: "7.0.0", summary: "Sorts the elements of a list, set or sorted set without storing the result.", complexity: "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", syntax: "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]", acl: ["-keyspace", "set", "sortedset", "list", "dangerous"], handler: { ctx in sort(ctx, readOnly: true) }, getKeys: { _ in [1] }),
        ]
    }

    static let intRangeError = "ERR value is out of range, value must between -2147483648 and 2147483647"

    // MARK: DEL / UNLINK

    /// DEL and UNLINK (UNLINK, and DEL with lazyfree-lazy-user-del, free big values in the background).
    static func deleteKeys(_ ctx: CommandContext) {
        let db = ctx.db
        let lazy = ctx.engine.lazyUserDel || ctx.arg(0, is: "unlink")
        var n = 0
        for i in 1..<ctx.argc {
            let key = ctx.argv[i]
            if lazy ? db.deleteLazily(key) : db.delete(key) {
                db.signalModified(key)
                db.notify(KeyspaceEvents.generic, "del", key)
                n += 1
            }
        }
        ctx.out.integer(n)
    }

    // MARK: RENAME / RENAMENX

    static func rename(_ ctx: CommandContext, onlyIfAbsent: Bool) {
        let db = ctx.db
        let src = ctx.argv[1], dst = ctx.argv[2]
        guard let s = db.slot(src) else { ctx.error(Err.noSuchKey); return }
        if src == dst {
            if onlyIfAbsent { ctx.out.integer(0) } else { ctx.ok() }
            return
        }
        if onlyIfAbsent && db.exists(dst) { ctx.out.integer(0); return }
        let value = db.table.value(at: s).unsafelyUnwrapped
        let expire = db.table.expire(at: s)
        let edited = db.table.isEditedString(at: s)
        db.table.remove(slot: s)
        db.store(dst, value, expire: expire, editedString: edited)
        db.signalModified(src)
        db.signalModified(dst)
        db.notify(KeyspaceEvents.generic, "rename_from", src)
        db.notify(KeyspaceEvents.generic, "rename_to", dst)
        db.signalReady(src)
        db.signalReady(dst)
        if onlyIfAbsent { ctx.out.integer(1) } else { ctx.ok() }
    }

    // MARK: COPY / MOVE

    /// A database index argument as Redis parses it (a 32-bit integer, then a range check).
    static func dbIndex(_ ctx: CommandContext, _ i: Int) -> Int? {
        guard let v = parseStrictInt(ctx.argv[i].raw) else { ctx.error(Err.notInteger); return nil }
        guard v >= Int(Int32.min) && v <= Int(Int32.max) else { ctx.error(intRangeError); return nil }
        guard v >= 0 && v < ctx.engine.databases.count else { ctx.error(Err.dbIndexOutOfRange); return nil }
        return v
    }

    static func copy(_ ctx: CommandContext) {
        let src = ctx.argv[1], dst = ctx.argv[2]
        var replace = false
        var target = ctx.client.db
        var i = 3
        while i < ctx.argc {
            if ctx.arg(i, is: "replace") {
                replace = true
            } else if ctx.arg(i, is: "db") && i + 1 < ctx.argc {
                guard let v = dbIndex(ctx, i + 1) else { return }
                target = v
                i += 1
            } else {
                ctx.syntaxError()
                return
            }
            i += 1
        }
        let from = ctx.db
        let to = ctx.engine.databases[target]
        if from === to && src == dst { ctx.error("ERR source and destination objects are the same"); return }
        guard let s = from.readSlot(src) else { ctx.out.integer(0); return }
        let value = from.table.value(at: s).unsafelyUnwrapped
        let expire = from.table.expire(at: s)
        if to.exists(dst) {
            if !replace { ctx.out.integer(0); return }
        }
        to.store(dst, value.deepCopy(), expire: expire, editedString: from.table.isEditedString(at: s))
        to.signalModified(dst)
        to.notify(KeyspaceEvents.generic, "copy_to", dst)
        to.signalReady(dst)
        ctx.out.integer(1)
    }

    static func move(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        guard let target = dbIndex(ctx, 2) else { return }
        let from = ctx.db
        let to = ctx.engine.databases[target]
        if from === to { ctx.error("ERR source and destination objects are the same"); return }
        guard let s = from.slot(key) else { ctx.out.integer(0); return }
        if to.exists(key) { ctx.out.integer(0); return }
        let value = from.table.value(at: s).unsafelyUnwrapped
        let expire = from.table.expire(at: s)
        let edited = from.table.isEditedString(at: s)
        from.table.remove(slot: s)
        to.store(key, value, expire: expire, editedString: edited)
        from.signalModified(key)
        to.signalModified(key)
        from.notify(KeyspaceEvents.generic, "move_from", key)
        to.notify(KeyspaceEvents.generic, "move_to", key)
        from.signalReady(key)
        to.signalReady(key)
        ctx.out.integer(1)
    }

    // MARK: KEYS / SCAN

    static func keys(_ ctx: CommandContext) {
        let db = ctx.db
        let pattern = ctx.argv[1].raw
        let all = pattern.count == 1 && pattern[0] == UInt8(ascii: "*")
        let now = ctx.now
        var found: [Bytes] = []
        // Expired keys are skipped (not deleted), as Redis's KEYS does.
        db.table.forEachSlot { s in
            let e = db.table.expire(at: s)
            if e != 0 && e < now { return }
            let k = db.table.key(at: s)
            if all || globMatch(pattern, k.raw) { found.append(k) }
        }
        ctx.out.array(found.count)
        for k in found { ctx.out.bulk(k) }
    }


    static func scan(_ ctx: CommandContext) {
        guard let cursor = parseScanCursor(ctx.argv[1]) else { ctx.error("ERR invalid cursor"); return }
        var count = 10
        var pattern: [UInt8]? = nil
        var typeName: Bytes? = nil
        var i = 2
        while i < ctx.argc {
            let left = ctx.argc - i
            if ctx.arg(i, is: "count") && left >= 2 {
                guard let c = ctx.int(i + 1) else { return }
                if c < 1 { ctx.syntaxError(); return }
                count = c
            } else if ctx.arg(i, is: "match") && left >= 2 {
                let p = ctx.argv[i + 1].raw
                pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : p
            } else if ctx.arg(i, is: "type") && left >= 2 {
                typeName = ctx.argv[i + 1].lowercased
            } else {
                ctx.syntaxError()
                return
            }
            i += 2
        }
        let db = ctx.db
        var slots: [Int] = []
        var next = 0
        if cursor < UInt64(db.table.slotCount) {
            slots.reserveCapacity(min(count, 1024))
            next = db.table.scanSlots(from: Int(cursor), count: min(count, db.table.slotCount)) { slots.append($0) }
        }
        var found: [Bytes] = []
        found.reserveCapacity(slots.count)
        for s in slots {
            let key = db.table.key(at: s)
            if let pattern, !globMatch(pattern, key.raw) { continue }
            // Expired keys are deleted on the way (the slots already collected stay valid); the TYPE
            // check reads the key as a read command does (a keyspace hit).
            guard let live = typeName == nil ? db.slot(key, touch: false) : db.readSlot(key, touch: false) else { continue }
            if let typeName, !typeName.raw.elementsEqual(db.table.value(at: live).unsafelyUnwrapped.typeName.utf8) {
                continue
            }
            found.append(key)
        }
        ctx.out.array(2)
        ctx.out.bulk(int: next)
        ctx.out.array(found.count)
        for k in found { ctx.out.bulk(k) }
    }

    // MARK: EXPIRE family

    static func expire(_ ctx: CommandContext, base: Int64, seconds: Bool) {
        var nx = false, xx = false, gt = false, lt = false
        var i = 3
        while i < ctx.argc {
            if ctx.arg(i, is: "nx") { nx = true }
            else if ctx.arg(i, is: "xx") { xx = true }
            else if ctx.arg(i, is: "gt") { gt = true }
            else if ctx.arg(i, is: "lt") { lt = true }
            else { ctx.error("ERR Unsupported option \(ctx.argv[i].string)"); return }
            i += 1
        }
        if nx && (xx || gt || lt) { ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible"); return }
        if gt && lt { ctx.error("ERR GT and LT options at the same time are not compatible"); return }
        guard var when = ctx.int(2).map(Int64.init) else { return }
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 { invalidExpireTime(ctx); return }
            when *= 1000
        }
        if when > Int64.max - base { invalidExpireTime(ctx); return }
        when += base
        let db = ctx.db
        let key = ctx.argv[1]
        guard let current = db.expireTime(key) else { ctx.out.integer(0); return }
        // `current` is 0 for a key without expiry: GT treats that as infinite, LT as always greater.
        if nx && current != 0 { ctx.out.integer(0); return }
        if xx && current == 0 { ctx.out.integer(0); return }
        if gt && (current == 0 || when <= current) { ctx.out.integer(0); return }
        if lt && current != 0 && when >= current { ctx.out.integer(0); return }
        if when <= ctx.now && !ctx.engine.replayingAppendOnlyFile {
            // A time already past deletes the key at once.
            db.delete(key)
            ctx.propagateAs([[Bytes("DEL"), key]])
            db.signalModified(key)
            db.notify(KeyspaceEvents.generic, "del", key)
        } else {
            db.setExpire(key, at: when)
            // Every form travels as PEXPIREAT with its flags, as Redis writes it: the same absolute
            // time on a replica.
            var argv = ctx.argv
            if !ctx.arg(0, is: "pexpireat") { argv[0] = Bytes("PEXPIREAT") }
            argv[2] = Bytes(String(when))
            ctx.propagateAs([argv])
            db.signalModified(key)
            // As Redis: the reply first, then the event.
            ctx.out.integer(1)
            db.notify(KeyspaceEvents.generic, "expire", key)
            return
        }
        ctx.out.integer(1)
    }

    static func invalidExpireTime(_ ctx: CommandContext) {
        ctx.error("ERR invalid expire time in '\(ctx.spec.fullName)' command")
    }

    static func ttl(_ ctx: CommandContext, ms: Bool, absolute: Bool) {
        guard let s = ctx.db.readSlot(ctx.argv[1], touch: false) else { ctx.out.integer(-2); return }
        let e = ctx.db.table.expire(at: s)
        if e == 0 { ctx.out.integer(-1); return }
        var t = absolute ? e : e - ctx.now
        if t < 0 { t = 0 }
        // Seconds are rounded to the nearest (without overflowing near the largest expiry).
        ctx.out.integer(Int(ms ? t : t / 1000 + (t % 1000 + 500) / 1000))
    }

    // MARK: SORT

    /// Key positions of SORT: the sorted key, and the destination of the last STORE.
    static func sortKeys(_ argv: [Bytes]) -> [Int] {
        var store = -1
        var i = 2
        while i < argv.count {
            let a = argv[i]
            if a.equalsIgnoringCase("limit") { i += 2 }
            else if a.equalsIgnoringCase("get") || a.equalsIgnoringCase("by") { i += 1 }
            else if a.equalsIgnoringCase("store") && i + 1 < argv.count { store = i + 1 }
            i += 1
        }
        return store >= 0 ? [1, store] : [1]
    }

    static func sort(_ ctx: CommandContext, readOnly: Bool) {
        var desc = false, alpha = false, dontSort = false
        var limitStart = 0, limitCount = -1
        var by: Bytes? = nil
        var store: Bytes? = nil
        var gets: [Bytes] = []
        var j = 2
        while j < ctx.argc {
            let left = ctx.argc - j - 1
            if ctx.arg(j, is: "asc") {
                desc = false
            } else if ctx.arg(j, is: "desc") {
                desc = true
            } else if ctx.arg(j, is: "alpha") {
                alpha = true
            } else if ctx.arg(j, is: "limit") && left >= 2 {
                guard let s = ctx.int(j + 1), let c = ctx.int(j + 2) else { return }
                limitStart = s
                limitCount = c
                j += 2
            } else if !readOnly && ctx.arg(j, is: "store") && left >= 1 {
                store = ctx.argv[j + 1]
                j += 1
            } else if ctx.arg(j, is: "by") && left >= 1 {
                let p = ctx.argv[j + 1]
                by = p
                // A pattern without '*' (e.g. "nosort") means: keep the stored order.
                if SortSupport.starIndex(p) == nil { dontSort = true }
                j += 1
            } else if ctx.arg(j, is: "get") && left >= 1 {
                gets.append(ctx.argv[j + 1])
                j += 1
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }

        let db = ctx.db
        let source = db.lookupRead(ctx.argv[1])
        var elements: [Bytes]
        var kind = 0  // 0 list (or absent), 1 set, 2 zset
        switch source {
        case nil: elements = []
        case let .list(l)?: elements = SortSupport.listElements(l)
        case let .set(s)?:
            elements = SortSupport.setElements(s)
            kind = 1
        case let .zset(z)?:
            elements = SortSupport.zsetElementsInOrder(z)
            kind = 2
        default:
            ctx.wrongType()
            return
        }
        // A set has no order of its own: when the result is stored or a script asks, sort it anyway
        // so the outcome does not depend on how the set happens to be laid out.
        if dontSort && kind == 1 && (store != nil || ctx.inScript) {
            dontSort = false
            alpha = true
            by = nil
        }

        let n = elements.count
        var start = limitStart < 0 ? 0 : limitStart
        var end: Int
        if limitCount < 0 {
            end = n - 1
        } else {
            let (e, o) = start.addingReportingOverflow(limitCount - 1)
            end = o ? Int.max : e
        }
        if start >= n {
            start = n - 1
            end = n - 2
        }
        if end >= n { end = n - 1 }

        if dontSort {
            // Lists and sorted sets come out in their own order (reversed by DESC).
            if kind != 1 && desc { elements.reverse() }
        } else {
            var conversionError = false
            let order = SortSupport.sortedOrder(
                elements, db: db, by: by, alpha: alpha, desc: desc, binary: store != nil, conversionError: &conversionError)
            if conversionError {
                ctx.error("ERR One or more scores can't be converted into double")
                return
            }
            elements = order.map { elements[$0] }
        }

        let picked: ArraySlice<Bytes> = end >= start && start >= 0 ? elements[start...end] : []
        let outputLen = gets.isEmpty ? picked.count : gets.count * picked.count
        if let store {
            var items = Deque<Bytes>()
            items.reserveCapacity(outputLen)
            for e in picked {
                if gets.isEmpty {
                    items.append(e)
                } else {
                    for g in gets { items.append(SortSupport.lookup(db, pattern: g, element: e) ?? Bytes()) }
                }
            }
            if outputLen > 0 {
                db.set(store, SortSupport.makeList(items))
                db.signalModified(store)
                db.notify(KeyspaceEvents.list, "sortstore", store)
                db.signalReady(store)
            } else if db.deleteIgnoringExpiry(store) {
                db.signalModified(store)
                db.notify(KeyspaceEvents.generic, "del", store)
            }
            ctx.out.integer(outputLen)
        } else {
            ctx.out.array(outputLen)
            for e in picked {
                if gets.isEmpty {
                    ctx.out.bulk(e)
                } else {
                    for g in gets {
                        if let v = SortSupport.lookup(db, pattern: g, element: e) { ctx.out.bulk(v) } else { ctx.out.nullBulk() }
                    }
                }
            }
        }
    }
}

// MARK: - Support

extension Database {
    /// The slot of a live key, counting a keyspace hit or miss (for read commands that need the slot).
    @inline(__always)
    func readSlot(_ key: Bytes, touch: Bool = true) -> Int? {
        let s = slot(key, touch: touch)
        if s != nil {
            engine.stats.keyspaceHits &+= 1
        } else {
            engine.stats.keyspaceMisses &+= 1
            notify(KeyspaceEvents.keyMiss, "keymiss", key)
        }
        return s
    }

    /// Puts `value` under `key` with the given absolute expiry (0 for none), replacing any live value.
    /// `editedString`: the value keeps its OBJECT ENCODING "raw" (RENAME, MOVE and COPY carry it).
    func store(_ key: Bytes, _ value: Value, expire: Int64, editedString: Bool = false) {
        let s: Int
        if let existing = slot(key) {
            s = existing
            table.replaceValue(at: s, with: value)
            table.setExpire(slot: s, expire)
        } else {
            s = table.insert(key, value, clock: engine.newKeyClock())
            if expire != 0 { table.setExpire(slot: s, expire) }
        }
        if editedString { table.markStringEdited(at: s) }
        // Redis deletes a replaced key and adds the new one, so this is always a "new" key.
        notify(KeyspaceEvents.new, "new", key)
    }
}

/// SORT's helpers. This is the one place where the key family reads the aggregate types' contents
/// (ListObject.items, SetObject.members, ZSetObject.scores, HashObject.get) and copies them for COPY;
/// when those types change representation, only this enum and `Value.deepCopy` need to follow.
enum SortSupport {
    static func listElements(_ l: ListObject) -> [Bytes] { Array(l.items) }
    static func setElements(_ s: SetObject) -> [Bytes] { Array(s.members) }
    /// Members by ascending score, ties by member bytes (the sorted set's own order).
    static func zsetElementsInOrder(_ z: ZSetObject) -> [Bytes] {
        var out: [Bytes] = []
        out.reserveCapacity(z.count)
        z.forEach { out.append($0.member) }
        return out
    }
    static func hashField(_ h: HashObject, _ field: Bytes) -> Bytes? { h.get(field) }
    static func makeList(_ items: Deque<Bytes>) -> Value { .list(ListObject(items)) }

    /// Index of the first '*' before any NUL byte (the pattern is read as a C string).
    static func starIndex(_ p: Bytes) -> Int? {
        for i in 0..<p.count {
            if p[i] == 0 { return nil }
            if p[i] == UInt8(ascii: "*") { return i }
        }
        return nil
    }

    /// Resolves a BY/GET pattern for one element: "#" is the element itself; otherwise the first '*'
    /// is replaced by the element to name a string key, or with "->field" a field of a hash key.
    static func lookup(_ db: Database, pattern p: Bytes, element: Bytes) -> Bytes? {
        if p.count >= 1 && p[0] == UInt8(ascii: "#") && (p.count == 1 || p[1] == 0) { return element }
        guard let star = starIndex(p) else { return nil }
        // "->" after the star, followed by a non-empty field name, selects a hash field.
        var arrow = -1
        var i = star + 1
        while i + 1 < p.count && p[i] != 0 {
            if p[i] == UInt8(ascii: "-") && p[i + 1] == UInt8(ascii: ">") { arrow = i; break }
            i += 1
        }
        if arrow >= 0 && (arrow + 2 >= p.count || p[arrow + 2] == 0) { arrow = -1 }
        var key = Bytes()
        key.reserveCapacity(p.count + element.count)
        key.append(contentsOf: p[0..<star])
        key.append(contentsOf: element)
        key.append(contentsOf: p[(star + 1)..<(arrow >= 0 ? arrow : p.count)])
        switch db.lookupRead(key) {
        case let .string(s)? where arrow < 0:
            return s
        case let .hash(h)? where arrow >= 0:
            return hashField(h, Bytes(p[(arrow + 2)...]))
        default:
            return nil
        }
    }

    /// A sort weight as Redis reads it (strtod): leading space allowed, nothing after the number
    /// (reading stops at a NUL byte), no NaN, no overflow or underflow. The empty string counts as 0.
    static func score(_ b: Bytes) -> Double? {
        if b.count < 19, let i = parseStrictInt(b.raw) { return Double(i) }
        var buf = b.raw
        buf.append(0)
        return buf.withUnsafeBufferPointer { p -> Double? in
            let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtod(start, &end)
            guard let end, end.pointee == 0 else { return nil }
            if errno == ERANGE || v.isNaN { return nil }
            return v
        }
    }

    /// strcmp: bytes compared unsigned up to the first NUL (ALPHA sorting outside STORE uses the C
    /// locale's collation, which is this).
    static func cstrCompare(_ a: Bytes, _ b: Bytes) -> Int {
        var i = 0
        while true {
            let x: UInt8 = i < a.count ? a[i] : 0
            let y: UInt8 = i < b.count ? b[i] : 0
            if x != y { return x < y ? -1 : 1 }
            if x == 0 { return 0 }
            i += 1
        }
    }

    /// The permutation that sorts `elements` as SORT does. Ties keep the input order.
    static func sortedOrder(_ elements: [Bytes], db: Database, by: Bytes?, alpha: Bool, desc: Bool, binary: Bool,
                            conversionError: inout Bool) -> [Int] {
        let n = elements.count
        var idx = Array(0..<n)
        let sign = desc ? -1 : 1
        if alpha {
            if let by {
                let weights: [Bytes?] = elements.map { lookup(db, pattern: by, element: $0) }
                idx.sort { a, b in
                    var c: Int
                    switch (weights[a], weights[b]) {
                    case (nil, nil): c = 0
                    case (nil, _): c = -1
                    case (_, nil): c = 1
                    case let (x?, y?): c = binary ? Bytes.compare(x, y) : cstrCompare(x, y)
                    }
                    c *= sign
                    return c != 0 ? c < 0 : a < b
                }
            } else {
                idx.sort { a, b in
                    var c = binary ? Bytes.compare(elements[a], elements[b]) : cstrCompare(elements[a], elements[b])
                    c *= sign
                    return c != 0 ? c < 0 : a < b
                }
            }
        } else {
            var scores = [Double](repeating: 0, count: n)
            for i in 0..<n {
                let w: Bytes
                if let by {
                    guard let v = lookup(db, pattern: by, element: elements[i]) else { continue }
                    w = v
                } else {
                    w = elements[i]
                }
                if let d = score(w) { scores[i] = d } else { conversionError = true }
            }
            if conversionError { return idx }
            idx.sort { a, b in
                var c: Int
                if scores[a] > scores[b] { c = 1 } else if scores[a] < scores[b] { c = -1 } else {
                    let x = Bytes.compare(elements[a], elements[b])
                    c = x < 0 ? -1 : (x > 0 ? 1 : 0)
                }
                c *= sign
                return c != 0 ? c < 0 : a < b
            }
        }
        return idx
    }
}

extension Value {
    /// An independent copy (COPY): aggregates are classes, so they are rebuilt rather than shared.
    func deepCopy() -> Value {
        switch self {
        case .string: return self
        case let .list(l): return .list(ListObject(l.items))
        case let .set(s): return .set(s.copy())
        case let .hash(h): return .hash(h.copy())
        case let .zset(z): return .zset(z.copy())
        case let .stream(x): return .stream(x.copy())
        }
    }
}
