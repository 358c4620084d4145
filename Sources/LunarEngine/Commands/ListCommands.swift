import LunarRESP

/// The list command family: pushes and pops at both ends, indexing, ranges, search, moves between
/// lists, and the blocking variants that wait for a list to get data.
///
/// Invariant: a key never holds an empty list; whatever empties a list deletes its key.
enum ListCommands {
    static let countMustBePositive = "ERR value is out of range, must be positive"
    static let numkeysError = "ERR numkeys should be greater than 0"
    static let mpopCountError = "ERR count should be greater than 0"
    static let rankZero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    static let countNegative = "ERR COUNT can't be negative"
    static let maxlenNegative = "ERR MAXLEN can't be negative"

    static var specs: [CommandSpec] {
        [
            CommandSpec("lpush", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .list,
                        summary: "Adds elements at the head of a list, creating the list if needed.",
                        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                        syntax: "key element [element ...]") { push($0, left: true, onlyExisting: false) },
            CommandSpec("rpush", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .list,
                        summary: "Adds elements at the tail of a list, creating the list if needed.",
                        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                        syntax: "key element [element ...]") { push($0, left: false, onlyExisting: false) },
            CommandSpec("lpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .list, since: "2.2.0",
                        summary: "Adds elements at the head of a list, only when the list already exists.",
                        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                        syntax: "key element [element ...]") { push($0, left: true, onlyExisting: true) },
            CommandSpec("rpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .list, since: "2.2.0",
                        summary: "Adds elements at the tail of a list, only when the list already exists.",
                        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
                        syntax: "key element [element ...]") { push($0, left: false, onlyExisting: true) },
            CommandSpec("lpop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .list,
                        summary: "Removes and returns the first element(s) of a list; the key goes away with its last element.",
                        complexity: "O(N) where N is the number of elements returned",
                        syntax: "key [count]") { pop($0, left: true) },
            CommandSpec("rpop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .list,
                        summary: "Removes and returns the last element(s) of a list; the key goes away with its last element.",
                        complexity: "O(N) where N is the number of elements returned",
                        syntax: "key [count]") { pop($0, left: false) },
            CommandSpec("llen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .list,
                        summary: "Returns how many elements a list holds.", syntax: "key", handler: llen),
            CommandSpec("lrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: .list,
                        summary: "Returns the elements between two indexes of a list, both included.",
                        complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
                        syntax: "key start stop", handler: lrange),
            CommandSpec("lindex", arity: 3, flags: [.readonly], keys: (1, 1, 1), group: .list,
                        summary: "Returns the element at an index of a list (negative indexes count from the tail).",
                        complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
                        syntax: "key index", handler: lindex),
            CommandSpec("lset", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .list,
                        summary: "Overwrites the element at an index of an existing list.",
                        complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
                        syntax: "key index element", handler: lset),
            CommandSpec("linsert", arity: 5, flags: [.write, .denyoom], keys: (1, 1, 1), group: .list, since: "2.2.0",
                        summary: "Puts an element just before or just after the first occurrence of a pivot element.",
                        complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
                        syntax: "key BEFORE|AFTER pivot element", handler: linsert),
            CommandSpec("lrem", arity: 4, flags: [.write], keys: (1, 1, 1), group: .list,
                        summary: "Deletes occurrences of an element, counting from the head, from the tail, or all of them.",
                        complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.",
                        syntax: "key count element", handler: lrem),
            CommandSpec("ltrim", arity: 4, flags: [.write], keys: (1, 1, 1), group: .list,
                        summary: "Cuts a list down to the elements between two indexes.",
                        complexity: "O(N) where N is the number of elements to be removed by the operation.",
                        syntax: "key start stop", handler: ltrim),
            CommandSpec("lpos", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .list, since: "6.0.6",
                        summary: "Finds the indexes at which an element occurs in a list.",
                        complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
                        syntax: "key element [RANK rank] [COUNT num-matches] [MAXLEN len]", handler: lpos),
            CommandSpec("lmove", arity: 5, flags: [.write, .denyoom], keys: (1, 2, 1), group: .list, since: "6.2.0",
                        summary: "Takes an element off one end of a list and puts it on an end of another (or the same) list.",
                        syntax: "source destination LEFT|RIGHT LEFT|RIGHT", handler: lmove),
            CommandSpec("rpoplpush", arity: 3, flags: [.write, .denyoom], keys: (1, 2, 1), group: .list, since: "1.2.0",
                        summary: "Takes the last element of a list and puts it at the head of another (or the same) list.",
                        syntax: "source destination", handler: rpoplpush),
            CommandSpec("lmpop", arity: -4, flags: [.write], group: .list, since: "7.0.0",
                        summary: "Pops one or more elements from the first non-empty list among several keys.",
                        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
                        syntax: "numkeys key [key ...] LEFT|RIGHT [COUNT count]", handler: lmpop,
                        getKeys: { mpopKeys($0, numkeysIndex: 1) }),
            CommandSpec("blpop", arity: -3, flags: [.write, .noscript, .blocking], keys: (1, -2, 1), group: .list, since: "2.0.0",
                        summary: "Pops the first element of the first non-empty list, waiting for one if all are empty.",
                        complexity: "O(N) where N is the number of provided keys.",
                        syntax: "key [key ...] timeout") { bpop($0, left: true) },
            CommandSpec("brpop", arity: -3, flags: [.write, .noscript, .blocking], keys: (1, -2, 1), group: .list, since: "2.0.0",
                        summary: "Pops the last element of the first non-empty list, waiting for one if all are empty.",
                        complexity: "O(N) where N is the number of provided keys.",
                        syntax: "key [key ...] timeout") { bpop($0, left: false) },
            CommandSpec("blmove", arity: 6, flags: [.write, .denyoom, .noscript, .blocking], keys: (1, 2, 1), group: .list, since: "6.2.0",
                        summary: "LMOVE that waits for the source list to get an element when it is empty.",
                        syntax: "source destination LEFT|RIGHT LEFT|RIGHT timeout", handler: blmove),
            CommandSpec("brpoplpush", arity: 4, flags: [.write, .denyoom, .noscript, .blocking], keys: (1, 2, 1), group: .list, since: "2.2.0",
                        summary: "RPOPLPUSH that waits for the source list to get an element when it is empty.",
                        syntax: "source destination timeout", handler: brpoplpush),
            CommandSpec("blmpop", arity: -5, flags: [.write, .blocking], group: .list, since: "7.0.0",
                        summary: "LMPOP that waits for one of the lists to get elements when all are empty.",
                        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
                        syntax: "timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]", handler: blmpop,
                        getKeys: { mpopKeys($0, numkeysIndex: 2) }),
        ]
    }

    // MARK: Helpers

    /// Result of looking a key up as a list: the list, absent, or wrong type (reply already written).
    enum Lookup {
        case list(ListObject)
        case absent
        case wrongType
    }

    @inline(__always) static func listForWrite(_ ctx: CommandContext, _ key: Bytes) -> Lookup {
        switch ctx.db.lookup(key) {
        case nil: return .absent
        case let .list(l)?: return .list(l)
        default:
            ctx.wrongType()
            return .wrongType
        }
    }

    @inline(__always) static func listForRead(_ ctx: CommandContext, _ key: Bytes) -> Lookup {
        switch ctx.db.lookupRead(key) {
        case nil: return .absent
        case let .list(l)?: return .list(l)
        default:
            ctx.wrongType()
            return .wrongType
        }
    }

    /// Deletes the key if its list became empty; always signals the modification and publishes
    /// `event`, then "del" when the key went away (Redis's order).
    @inline(__always) static func afterRemoval(_ ctx: CommandContext, _ key: Bytes, _ list: ListObject, _ event: StaticString) {
        let empty = list.isEmpty
        if empty { ctx.db.delete(key) }
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.list, event, key)
        if empty { ctx.notify(KeyspaceEvents.generic, "del", key) }
    }

    @inline(__always) static func popEvent(_ left: Bool) -> StaticString { left ? "lpop" : "rpop" }

    /// LEFT or RIGHT (any case): true for left, nil for anything else.
    @inline(__always) static func parseEnd(_ b: Bytes) -> Bool? {
        if b.equalsIgnoringCase("left") { return true }
        if b.equalsIgnoringCase("right") { return false }
        return nil
    }

    // MARK: Push

    static func push(_ ctx: CommandContext, left: Bool, onlyExisting: Bool) {
        let key = ctx.argv[1]
        let list: ListObject
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case let .list(l): list = l
        case .absent:
            if onlyExisting {
                ctx.out.integer(0)
                return
            }
            list = ListObject()
            ctx.db.add(key, .list(list))
        }
        let argv = ctx.argv
        var i = 2
        while i < argv.count {
            list.push(argv[i], left: left)
            i += 1
        }
        ctx.out.integer(list.count)
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.list, left ? "lpush" : "rpush", key)
        ctx.db.signalReady(key)
    }

    // MARK: Pop

    static func pop(_ ctx: CommandContext, left: Bool) {
        if ctx.argc > 3 {
            ctx.error("ERR wrong number of arguments for '\(ctx.spec.fullName)' command")
            return
        }
        var count = -1
        if ctx.argc == 3 {
            guard let c = ctx.int(2, error: countMustBePositive) else { return }
            if c < 0 {
                ctx.error(countMustBePositive)
                return
            }
            count = c
        }
        let key = ctx.argv[1]
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case .absent:
            if count >= 0 { ctx.out.nullArray() } else { ctx.out.nullBulk() }
        case let .list(list):
            if count < 0 {
                ctx.out.bulk(list.pop(left: left)!)
            } else if count == 0 {
                ctx.out.array(0)
                return
            } else {
                let n = min(count, list.count)
                ctx.out.array(n)
                for _ in 0..<n { ctx.out.bulk(list.pop(left: left)!) }
            }
            afterRemoval(ctx, key, list, popEvent(left))
        }
    }

    // MARK: Read-only

    static func llen(_ ctx: CommandContext) {
        switch listForRead(ctx, ctx.argv[1]) {
        case .wrongType: return
        case .absent: ctx.out.integer(0)
        case let .list(l): ctx.out.integer(l.count)
        }
    }

    static func lrange(_ ctx: CommandContext) {
        guard let start = ctx.int(2), let end = ctx.int(3) else { return }
        switch listForRead(ctx, ctx.argv[1]) {
        case .wrongType: return
        case .absent: ctx.out.array(0)
        case let .list(l):
            let r = l.range(start, end)
            ctx.out.array(r.count)
            for i in r { ctx.out.bulk(l.items[i]) }
        }
    }

    static func lindex(_ ctx: CommandContext) {
        switch listForRead(ctx, ctx.argv[1]) {
        case .wrongType: return
        case .absent: ctx.out.nullBulk()
        case let .list(l):
            guard let index = ctx.int(2) else { return }
            if let v = l.element(at: index) { ctx.out.bulk(v) } else { ctx.out.nullBulk() }
        }
    }

    static func lpos(_ ctx: CommandContext) {
        var rank = 1
        var count: Int? = nil
        var maxlen = 0
        var j = 3
        while j < ctx.argc {
            let more = j + 1 < ctx.argc
            if more && ctx.arg(j, is: "rank") {
                guard let r = ctx.int(j + 1) else { return }
                if r == 0 {
                    ctx.error(rankZero)
                    return
                }
                rank = r
            } else if more && ctx.arg(j, is: "count") {
                guard let c = parseStrictInt(ctx.argv[j + 1].raw), c >= 0 else {
                    ctx.error(countNegative)
                    return
                }
                count = c
            } else if more && ctx.arg(j, is: "maxlen") {
                guard let m = parseStrictInt(ctx.argv[j + 1].raw), m >= 0 else {
                    ctx.error(maxlenNegative)
                    return
                }
                maxlen = m
            } else {
                ctx.syntaxError()
                return
            }
            j += 2
        }
        switch listForRead(ctx, ctx.argv[1]) {
        case .wrongType: return
        case .absent:
            if count != nil { ctx.out.array(0) } else { ctx.out.nullBulk() }
        case let .list(l):
            let found = l.positions(of: ctx.argv[2], rank: rank, count: count, maxlen: maxlen)
            if count != nil {
                ctx.out.array(found.count)
                for p in found { ctx.out.integer(p) }
            } else if let p = found.first {
                ctx.out.integer(p)
            } else {
                ctx.out.nullBulk()
            }
        }
    }

    // MARK: Editing

    static func lset(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case .absent: ctx.error(Err.noSuchKey)
        case let .list(l):
            guard let index = ctx.int(2) else { return }
            if l.set(index, ctx.argv[3]) {
                ctx.ok()
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.list, "lset", key)
            } else {
                ctx.error(Err.indexOutOfRange)
            }
        }
    }

    static func linsert(_ ctx: CommandContext) {
        let after: Bool
        if ctx.arg(2, is: "after") {
            after = true
        } else if ctx.arg(2, is: "before") {
            after = false
        } else {
            ctx.syntaxError()
            return
        }
        let key = ctx.argv[1]
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case .absent: ctx.out.integer(0)
        case let .list(l):
            if l.insert(ctx.argv[4], pivot: ctx.argv[3], after: after) {
                ctx.db.signalModified(key)
                ctx.notify(KeyspaceEvents.list, "linsert", key)
                ctx.out.integer(l.count)
            } else {
                ctx.out.integer(-1)
            }
        }
    }

    static func lrem(_ ctx: CommandContext) {
        guard let count = ctx.int(2) else { return }
        let key = ctx.argv[1]
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case .absent: ctx.out.integer(0)
        case let .list(l):
            let n = l.remove(ctx.argv[3], count: count)
            if n > 0 { afterRemoval(ctx, key, l, "lrem") }
            ctx.out.integer(n)
        }
    }

    static func ltrim(_ ctx: CommandContext) {
        guard let start = ctx.int(2), let end = ctx.int(3) else { return }
        let key = ctx.argv[1]
        switch listForWrite(ctx, key) {
        case .wrongType: return
        case .absent: ctx.ok()
        case let .list(l):
            l.trim(start, end)
            afterRemoval(ctx, key, l, "ltrim")
            ctx.ok()
        }
    }

    // MARK: Moving between lists

    /// Pops from `source` (known to be a non-empty list) and pushes onto `dst`, replying with the
    /// element. Checks the destination type first: false (WRONGTYPE written) if it is not a list.
    static func moveElement(_ ctx: CommandContext, source: ListObject, srcKey: Bytes, dstKey: Bytes,
                            fromLeft: Bool, toLeft: Bool) -> Bool {
        let dst: ListObject?
        switch listForWrite(ctx, dstKey) {
        case .wrongType: return false
        case let .list(l): dst = l
        case .absent: dst = nil
        }
        let v = source.pop(left: fromLeft)!
        if let dst {
            dst.push(v, left: toLeft)
        } else {
            let l = ListObject()
            l.push(v, left: toLeft)
            ctx.db.add(dstKey, .list(l))
        }
        // Redis announces the push to the destination, replies, then announces the pop from the source.
        ctx.notify(KeyspaceEvents.list, toLeft ? "lpush" : "rpush", dstKey)
        ctx.out.bulk(v)
        afterRemoval(ctx, srcKey, source, popEvent(fromLeft))
        ctx.db.signalModified(dstKey)
        ctx.db.signalReady(dstKey)
        return true
    }

    static func lmoveGeneric(_ ctx: CommandContext, fromLeft: Bool, toLeft: Bool) {
        let src = ctx.argv[1]
        switch listForWrite(ctx, src) {
        case .wrongType: return
        case .absent: ctx.out.nullBulk()
        case let .list(l):
            _ = moveElement(ctx, source: l, srcKey: src, dstKey: ctx.argv[2], fromLeft: fromLeft, toLeft: toLeft)
        }
    }

    static func lmove(_ ctx: CommandContext) {
        guard let from = parseEnd(ctx.argv[3]), let to = parseEnd(ctx.argv[4]) else {
            ctx.syntaxError()
            return
        }
        lmoveGeneric(ctx, fromLeft: from, toLeft: to)
    }

    static func rpoplpush(_ ctx: CommandContext) {
        lmoveGeneric(ctx, fromLeft: false, toLeft: true)
    }

    // MARK: LMPOP

    struct MPopArgs {
        var keys: Range<Int>
        var left: Bool
        var count: Int
    }

    /// Key positions of LMPOP/BLMPOP (for COMMAND GETKEYS and ACL): numkeys keys after numkeys.
    static func mpopKeys(_ argv: [Bytes], numkeysIndex: Int) -> [Int] {
        guard numkeysIndex < argv.count, let n = parseStrictInt(argv[numkeysIndex].raw), n > 0,
              n < argv.count - numkeysIndex else { return [] }
        return Array((numkeysIndex + 1)...(numkeysIndex + n))
    }

    static func parseMPop(_ ctx: CommandContext, numkeysIndex: Int) -> MPopArgs? {
        guard let numkeys = parseStrictInt(ctx.argv[numkeysIndex].raw), numkeys > 0 else {
            ctx.error(numkeysError)
            return nil
        }
        let first = numkeysIndex + 1
        guard numkeys < ctx.argc - first, let left = parseEnd(ctx.argv[first + numkeys]) else {
            ctx.syntaxError()
            return nil
        }
        var count = -1
        var j = first + numkeys + 1
        while j < ctx.argc {
            if count == -1 && j + 1 < ctx.argc && ctx.arg(j, is: "count") {
                guard let c = parseStrictInt(ctx.argv[j + 1].raw), c > 0 else {
                    ctx.error(mpopCountError)
                    return nil
                }
                count = c
                j += 2
            } else {
                ctx.syntaxError()
                return nil
            }
        }
        return MPopArgs(keys: first..<(first + numkeys), left: left, count: count == -1 ? 1 : count)
    }

    /// Pops up to `count` elements from `list` under `key` and replies `[key, [elements]]`.
    static func mpopReply(_ ctx: CommandContext, key: Bytes, list: ListObject, left: Bool, count: Int) {
        let n = min(count, list.count)
        ctx.out.array(2)
        ctx.out.bulk(key)
        ctx.out.array(n)
        for _ in 0..<n { ctx.out.bulk(list.pop(left: left)!) }
        afterRemoval(ctx, key, list, popEvent(left))
        // LMPOP and BLMPOP travel as the plain pop of the key that was served.
        ctx.propagateAs([[Bytes(left ? "LPOP" : "RPOP"), key, Bytes(String(n))]])
    }

    /// Serves from the first non-empty list among the keys. Returns true if a reply was written
    /// (elements or WRONGTYPE), false if every key is absent.
    static func mpopFirst(_ ctx: CommandContext, _ a: MPopArgs) -> Bool {
        for i in a.keys {
            let key = ctx.argv[i]
            switch listForWrite(ctx, key) {
            case .wrongType: return true
            case .absent: continue
            case let .list(l):
                mpopReply(ctx, key: key, list: l, left: a.left, count: a.count)
                return true
            }
        }
        return false
    }

    static func lmpop(_ ctx: CommandContext) {
        guard let a = parseMPop(ctx, numkeysIndex: 1) else { return }
        if !mpopFirst(ctx, a) { ctx.out.nullArray() }
    }

    // MARK: Blocking

    /// On a re-run after `ctx.readyKey` got data: that key's list if it holds a non-empty list.
    /// Redis 7.0 serves the client from the key that became ready, and leaves it blocked when that
    /// key meanwhile vanished or holds another type.
    @inline(__always) static func readyList(_ ctx: CommandContext) -> (Bytes, ListObject)? {
        guard let key = ctx.readyKey, case let .list(l)? = ctx.db.lookup(key), !l.isEmpty else { return nil }
        return (key, l)
    }

    /// BLPOP / BRPOP key [key ...] timeout
    static func bpop(_ ctx: CommandContext, left: Bool) {
        guard let deadline = ctx.timeoutDeadline(ctx.argc - 1) else { return }
        let keys = 1..<(ctx.argc - 1)
        if ctx.isRetry {
            if let (key, l) = readyList(ctx) {
                bpopReply(ctx, key: key, list: l, left: left)
            } else {
                ctx.block(on: Array(ctx.argv[keys]), deadline: deadline, timeoutIsNullArray: true)
            }
            return
        }
        for i in keys {
            let key = ctx.argv[i]
            switch listForWrite(ctx, key) {
            case .wrongType: return
            case .absent: continue
            case let .list(l):
                bpopReply(ctx, key: key, list: l, left: left)
                return
            }
        }
        if ctx.noBlocking {
            ctx.out.nullArray()
        } else {
            ctx.block(on: Array(ctx.argv[keys]), deadline: deadline, timeoutIsNullArray: true)
        }
    }

    static func bpopReply(_ ctx: CommandContext, key: Bytes, list: ListObject, left: Bool) {
        ctx.out.array(2)
        ctx.out.bulk(key)
        ctx.out.bulk(list.pop(left: left)!)
        afterRemoval(ctx, key, list, popEvent(left))
        // Served blocking pops travel as plain pops: a replica must never block.
        ctx.propagateAs([[Bytes(left ? "LPOP" : "RPOP"), key]])
    }

    static func blmoveGeneric(_ ctx: CommandContext, fromLeft: Bool, toLeft: Bool, timeoutIndex: Int) {
        guard let deadline = ctx.timeoutDeadline(timeoutIndex) else { return }
        // Served, BLMOVE travels as LMOVE and BRPOPLPUSH as RPOPLPUSH: a replica must never block.
        if ctx.arg(0, is: "brpoplpush") {
            ctx.propagateAs([[Bytes("RPOPLPUSH"), ctx.argv[1], ctx.argv[2]]])
        } else {
            ctx.propagateAs([[Bytes("LMOVE")] + ctx.argv[1...4]])
        }
        let src = ctx.argv[1]
        if ctx.isRetry {
            if let (_, l) = readyList(ctx) {
                // Unlike Redis 7.0, which replies WRONGTYPE yet keeps the client blocked when the
                // destination has the wrong type, the client gets the error and is unblocked.
                _ = moveElement(ctx, source: l, srcKey: src, dstKey: ctx.argv[2], fromLeft: fromLeft, toLeft: toLeft)
            } else {
                ctx.block(on: [src], deadline: deadline, timeoutIsNullArray: true)
            }
            return
        }
        switch listForWrite(ctx, src) {
        case .wrongType: return
        case let .list(l):
            _ = moveElement(ctx, source: l, srcKey: src, dstKey: ctx.argv[2], fromLeft: fromLeft, toLeft: toLeft)
        case .absent:
            if ctx.noBlocking {
                ctx.out.nullBulk()
            } else {
                ctx.block(on: [src], deadline: deadline, timeoutIsNullArray: true)
            }
        }
    }

    static func blmove(_ ctx: CommandContext) {
        guard let from = parseEnd(ctx.argv[3]), let to = parseEnd(ctx.argv[4]) else {
            ctx.syntaxError()
            return
        }
        blmoveGeneric(ctx, fromLeft: from, toLeft: to, timeoutIndex: 5)
    }

    static func brpoplpush(_ ctx: CommandContext) {
        blmoveGeneric(ctx, fromLeft: false, toLeft: true, timeoutIndex: 3)
    }

    /// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
    static func blmpop(_ ctx: CommandContext) {
        guard let a = parseMPop(ctx, numkeysIndex: 2), let deadline = ctx.timeoutDeadline(1) else { return }
        if ctx.isRetry {
            if let (key, l) = readyList(ctx) {
                mpopReply(ctx, key: key, list: l, left: a.left, count: a.count)
            } else {
                ctx.block(on: Array(ctx.argv[a.keys]), deadline: deadline, timeoutIsNullArray: true)
            }
            return
        }
        if mpopFirst(ctx, a) { return }
        if ctx.noBlocking {
            ctx.out.nullArray()
        } else {
            ctx.block(on: Array(ctx.argv[a.keys]), deadline: deadline, timeoutIsNullArray: true)
        }
    }
}
