#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// The sorted set command family (Redis 7.0 semantics, replies and errors).
enum SortedSetCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("zadd", arity: -4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Adds members with scores to a sorted set, or updates their scores; creates the key if needed.",
                        complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
                        syntax: "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]") { zadd($0, zincrby: false) },
            CommandSpec("zincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Adds an increment to a member's score (a missing member starts at 0).",
                        complexity: "O(log(N)) where N is the number of elements in the sorted set.",
                        syntax: "key increment member") { zadd($0, zincrby: true) },
            CommandSpec("zrem", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Removes members from a sorted set; the key goes away when it becomes empty.",
                        complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
                        syntax: "key member [member ...]", handler: zrem),
            CommandSpec("zcard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Counts the members of a sorted set.", syntax: "key") { ctx in
                let (z, ok) = lookup(ctx, ctx.argv[1])
                guard ok else { return }
                ctx.out.integer(z?.count ?? 0)
            },
            CommandSpec("zscore", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Gives the score of a member of a sorted set.", syntax: "key member") { ctx in
                let (z, ok) = lookup(ctx, ctx.argv[1])
                guard ok else { return }
                if let s = z?.score(of: ctx.argv[2]) { writeScore(&ctx.out, s) } else { ctx.out.nullBulk() }
            },
            CommandSpec("zmscore", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "6.2.0",
                        summary: "Gives the scores of several members of a sorted set.",
                        complexity: "O(N) where N is the number of members being requested.", syntax: "key member [member ...]") { ctx in
                let (z, ok) = lookup(ctx, ctx.argv[1])
                guard ok else { return }
                ctx.out.array(ctx.argc - 2)
                for i in 2..<ctx.argc {
                    if let s = z?.score(of: ctx.argv[i]) { writeScore(&ctx.out, s) } else { ctx.out.nullBulk() }
                }
            },
            CommandSpec("zrank", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Gives a member's position in a sorted set, lowest score first.",
                        complexity: "O(log(N))", syntax: "key member") { zrank($0, reverse: false) },
            CommandSpec("zrevrank", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Gives a member's position in a sorted set, highest score first.",
                        complexity: "O(log(N))", syntax: "key member") { zrank($0, reverse: true) },
            CommandSpec("zrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Lists members of a sorted set by position, score or lexicographic range, optionally reversed and paged.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
                        syntax: "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]") {
                zrange($0, store: false, kind: nil, reverse: nil)
            },
            CommandSpec("zrangestore", arity: -5, flags: [.write, .denyoom], keys: (1, 2, 1), group: .sortedSet, since: "6.2.0",
                        summary: "Stores a range of a sorted set (as ZRANGE selects it) in another key.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
                        syntax: "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]") {
                zrange($0, store: true, kind: nil, reverse: nil)
            },
            CommandSpec("zrevrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Lists members of a sorted set by position, highest score first.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
                        syntax: "key start stop [WITHSCORES]") { zrange($0, store: false, kind: .rank, reverse: true) },
            CommandSpec("zrangebyscore", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "1.0.5",
                        summary: "Lists members of a sorted set whose score lies in a range, lowest first.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
                        syntax: "key min max [WITHSCORES] [LIMIT offset count]") { zrange($0, store: false, kind: .score, reverse: false) },
            CommandSpec("zrevrangebyscore", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "2.2.0",
                        summary: "Lists members of a sorted set whose score lies in a range, highest first.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
                        syntax: "key max min [WITHSCORES] [LIMIT offset count]") { zrange($0, store: false, kind: .score, reverse: true) },
            CommandSpec("zrangebylex", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "2.8.9",
                        summary: "Lists members of a sorted set in a lexicographic range (for members sharing one score).",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
                        syntax: "key min max [LIMIT offset count]") { zrange($0, store: false, kind: .lex, reverse: false) },
            CommandSpec("zrevrangebylex", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "2.8.9",
                        summary: "Lists members of a sorted set in a lexicographic range, in reverse order.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
                        syntax: "key max min [LIMIT offset count]") { zrange($0, store: false, kind: .lex, reverse: true) },
            CommandSpec("zcount", arity: 4, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Counts the members of a sorted set whose score lies in a range.",
                        complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key min max") { ctx in
                guard let range = parseScoreRange(ctx, 2, 3) else { return }
                let (z, ok) = lookup(ctx, ctx.argv[1])
                guard ok else { return }
                ctx.out.integer(z?.count(in: range) ?? 0)
            },
            CommandSpec("zlexcount", arity: 4, flags: [.readonly, .fast], keys: (1, 1, 1), group: .sortedSet, since: "2.8.9",
                        summary: "Counts the members of a sorted set in a lexicographic range.",
                        complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key min max") { ctx in
                guard let range = parseLexRange(ctx, 2, 3) else { return }
                let (z, ok) = lookup(ctx, ctx.argv[1])
                guard ok else { return }
                ctx.out.integer(z?.count(in: range) ?? 0)
            },
            CommandSpec("zremrangebyrank", arity: 4, flags: [.write], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Removes the members of a sorted set between two positions.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        syntax: "key start stop") { zremrange($0, kind: .rank) },
            CommandSpec("zremrangebyscore", arity: 4, flags: [.write], keys: (1, 1, 1), group: .sortedSet, since: "1.2.0",
                        summary: "Removes the members of a sorted set whose score lies in a range.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        syntax: "key min max") { zremrange($0, kind: .score) },
            CommandSpec("zremrangebylex", arity: 4, flags: [.write], keys: (1, 1, 1), group: .sortedSet, since: "2.8.9",
                        summary: "Removes the members of a sorted set in a lexicographic range.",
                        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
                        syntax: "key min max") { zremrange($0, kind: .lex) },
            CommandSpec("zpopmin", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .sortedSet, since: "5.0.0",
                        summary: "Removes and returns the lowest-scored members of a sorted set.",
                        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
                        syntax: "key [count]") { zpop($0, max: false) },
            CommandSpec("zpopmax", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: .sortedSet, since: "5.0.0",
                        summary: "Removes and returns the highest-scored members of a sorted set.",
                        complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
                        syntax: "key [count]") { zpop($0, max: true) },
            CommandSpec("bzpopmin", arity: -3, flags: [.write, .noscript, .blocking, .fast], keys: (1, -2, 1), group: .sortedSet, since: "5.0.0",
                        summary: "Pops the lowest-scored member from the first non-empty sorted set, waiting for one if all are empty.",
                        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
                        syntax: "key [key ...] timeout") { bzpop($0, max: false) },
            CommandSpec("bzpopmax", arity: -3, flags: [.write, .noscript, .blocking, .fast], keys: (1, -2, 1), group: .sortedSet, since: "5.0.0",
                        summary: "Pops the highest-scored member from the first non-empty sorted set, waiting for one if all are empty.",
                        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
                        syntax: "key [key ...] timeout") { bzpop($0, max: true) },
            CommandSpec("zmpop", arity: -4, flags: [.write], group: .sortedSet, since: "7.0.0",
                        summary: "Pops members with the lowest or highest scores from the first non-empty sorted set of a list of keys.",
                        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
                        syntax: "numkeys key [key ...] MIN|MAX [COUNT count]",
                        handler: { zmpop($0, numkeysIndex: 1, blocking: false) }, getKeys: { numkeyKeys($0, 1) }),
            CommandSpec("bzmpop", arity: -5, flags: [.write, .blocking], group: .sortedSet, since: "7.0.0",
                        summary: "Like ZMPOP, but waits until one of the sorted sets has members, up to a timeout.",
                        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
                        syntax: "timeout numkeys key [key ...] MIN|MAX [COUNT count]",
                        handler: { zmpop($0, numkeysIndex: 2, blocking: true) }, getKeys: { numkeyKeys($0, 2) }),
            CommandSpec("zrandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "6.2.0",
                        summary: "Returns random members of a sorted set: distinct for a positive count, possibly repeated for a negative one.",
                        complexity: "O(N) where N is the number of members returned",
                        syntax: "key [count [WITHSCORES]]", handler: zrandmember),
            CommandSpec("zunion", arity: -3, flags: [.readonly], group: .sortedSet, since: "6.2.0",
                        summary: "Returns the union of sorted sets (and sets), with weights and an aggregate for the scores.",
                        complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
                        syntax: "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
                        handler: { setOp($0, .union, store: false, card: false) }, getKeys: { numkeyKeys($0, 1) }),
            CommandSpec("zunionstore", arity: -4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Stores the union of sorted sets (and sets) in a key.",
                        complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
                        syntax: "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
                        handler: { setOp($0, .union, store: true, card: false) }, getKeys: storeKeys),
            CommandSpec("zinter", arity: -3, flags: [.readonly], group: .sortedSet, since: "6.2.0",
                        summary: "Returns the intersection of sorted sets (and sets), with weights and an aggregate for the scores.",
                        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
                        syntax: "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
                        handler: { setOp($0, .inter, store: false, card: false) }, getKeys: { numkeyKeys($0, 1) }),
            CommandSpec("zinterstore", arity: -4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .sortedSet, since: "2.0.0",
                        summary: "Stores the intersection of sorted sets (and sets) in a key.",
                        complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
                        syntax: "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
                        handler: { setOp($0, .inter, store: true, card: false) }, getKeys: storeKeys),
            CommandSpec("zintercard", arity: -3, flags: [.readonly], group: .sortedSet, since: "7.0.0",
                        summary: "Counts the members in the intersection of sorted sets, optionally stopping at a limit.",
                        complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
                        syntax: "numkeys key [key ...] [LIMIT limit]",
                        handler: { setOp($0, .inter, store: false, card: true) }, getKeys: { numkeyKeys($0, 1) }),
            CommandSpec("zdiff", arity: -3, flags: [.readonly], group: .sortedSet, since: "6.2.0",
                        summary: "Returns the members of the first sorted set that are in none of the others.",
                        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
                        syntax: "numkeys key [key ...] [WITHSCORES]",
                        handler: { setOp($0, .diff, store: false, card: false) }, getKeys: { numkeyKeys($0, 1) }),
            CommandSpec("zdiffstore", arity: -4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .sortedSet, since: "6.2.0",
                        summary: "Stores the difference between the first sorted set and the others in a key.",
                        complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
                        syntax: "destination numkeys key [key ...]",
                        handler: { setOp($0, .diff, store: true, card: false) }, getKeys: storeKeys),
            CommandSpec("zscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .sortedSet, since: "2.8.0",
                        summary: "Iterates over the members and scores of a sorted set with a cursor.",
                        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
                        syntax: "key cursor [MATCH pattern] [COUNT count]", handler: zscan),
        ]
    }

    // MARK: Shared helpers

    enum RangeKind { case rank, score, lex }

    static let errNaN = "ERR resulting score is not a number (NaN)"
    static let errMinMaxFloat = "ERR min or max is not a float"
    static let errMinMaxLex = "ERR min or max not valid string range item"

    /// The sorted set at `key`: (nil, true) when absent, (nil, false) after replying WRONGTYPE.
    @inline(__always)
    static func lookup(_ ctx: CommandContext, _ key: Bytes, write: Bool = false) -> (ZSetObject?, Bool) {
        switch write ? ctx.db.lookup(key) : ctx.db.lookupRead(key) {
        case nil: return (nil, true)
        case let .zset(z)?: return (z, true)
        default:
            ctx.wrongType()
            return (nil, false)
        }
    }

    /// The only place this family reads a plain set (the set family owns SetObject's representation).
    static func plainSetMembers(_ s: SetObject) -> [Bytes] { Array(s.members) }

    /// Key positions of `numkeys key [key ...]` starting at `idx` (for COMMAND GETKEYS and ACLs).
    /// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: the destination and the sources, or none when numkeys is bad.
    static func storeKeys(_ argv: [Bytes]) -> [Int] {
        let sources = numkeyKeys(argv, 2)
        return sources.isEmpty ? [] : [1] + sources
    }

    static func numkeyKeys(_ argv: [Bytes], _ idx: Int) -> [Int] {
        guard idx < argv.count, let n = parseStrictInt(argv[idx].raw), n > 0, n < argv.count - idx else { return [] }
        return Array((idx + 1)...(idx + n))
    }

    /// Writes a score as Redis 7.0 does (RESP2 bulk, RESP3 double), with a fast path for small integers.
    @inline(__always)
    static func writeScore(_ out: inout ReplyWriter, _ d: Double) {
        if d > -1e15 && d < 1e15 && d == d.rounded(.towardZero) && !(d == 0 && d.sign == .minus) {
            let v = Int(d)
            if out.resp >= 3 {
                out.buffer.writeInteger(UInt8(ascii: ","))
                out.writeDecimal(v)
                out.buffer.writeStaticString("\r\n")
            } else {
                var len = v < 0 ? 2 : 1
                var m = v < 0 ? -v : v
                while m >= 10 {
                    m /= 10
                    len += 1
                }
                out.buffer.writeInteger(UInt8(ascii: "$"))
                out.writeDecimal(len)
                out.buffer.writeStaticString("\r\n")
                out.writeDecimal(v)
                out.buffer.writeStaticString("\r\n")
            }
        } else {
            out.double(d)
        }
    }

    /// A multi-element reply assembled in a plain byte array and handed to the writer in one piece
    /// (one ByteBuffer write per reply instead of several per element).
    struct ZReply {
        var bytes: [UInt8] = []
        let resp: Int
        init(resp: Int, capacity: Int) {
            self.resp = resp
            bytes.reserveCapacity(capacity)
        }
        @inline(__always) mutating func crlf() {
            bytes.append(13)
            bytes.append(10)
        }
        @inline(__always) mutating func decimal(_ v: Int) {
            var u = UInt64(v.magnitude)
            if v < 0 { bytes.append(UInt8(ascii: "-")) }
            var n = 1
            var t = u
            while t >= 10 {
                t /= 10
                n += 1
            }
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(48, count: n))
            var i = start + n - 1
            repeat {
                bytes[i] = UInt8(48 + u % 10)
                u /= 10
                i -= 1
            } while u > 0
        }
        @inline(__always) mutating func header(_ c: UInt8, _ n: Int) {
            bytes.append(c)
            decimal(n)
            crlf()
        }
        @inline(__always) mutating func array(_ n: Int) { header(UInt8(ascii: "*"), n) }
        @inline(__always) mutating func bulk(_ b: Bytes) {
            header(UInt8(ascii: "$"), b.count)
            bytes.append(contentsOf: b.raw)
            crlf()
        }
        mutating func score(_ d: Double) {
            if d > -1e15 && d < 1e15 && d == d.rounded(.towardZero) && !(d == 0 && d.sign == .minus) {
                let v = Int(d)
                if resp >= 3 {
                    bytes.append(UInt8(ascii: ","))
                } else {
                    var len = v < 0 ? 2 : 1
                    var m = v.magnitude
                    while m >= 10 {
                        m /= 10
                        len += 1
                    }
                    header(UInt8(ascii: "$"), len)
                }
                decimal(v)
                crlf()
            } else {
                let text = Array(formatDouble(d).utf8)
                if resp >= 3 { bytes.append(UInt8(ascii: ",")) } else { header(UInt8(ascii: "$"), text.count) }
                bytes.append(contentsOf: text)
                crlf()
            }
        }
        /// Array header for `n` elements (pairs flattened in RESP2, nested in RESP3).
        @inline(__always) mutating func elementsHeader(_ n: Int, withScores: Bool) {
            array(withScores && resp < 3 ? 2 * n : n)
        }
        @inline(__always) mutating func element(_ member: Bytes, _ score: Double, withScores: Bool) {
            if withScores {
                if resp >= 3 { array(2) }
                bulk(member)
                self.score(score)
            } else {
                bulk(member)
            }
        }
        func flush(into out: inout ReplyWriter) { out.buffer.writeBytes(bytes) }
    }

    /// Array header for `n` elements, each a member or (with scores) a member/score pair:
    /// RESP2 flattens pairs, RESP3 nests them.
    @inline(__always)
    static func writeElementsHeader(_ out: inout ReplyWriter, _ n: Int, withScores: Bool) {
        out.array(withScores && out.resp < 3 ? 2 * n : n)
    }

    @inline(__always)
    static func writeElement(_ out: inout ReplyWriter, _ member: Bytes, _ score: Double, withScores: Bool) {
        if withScores {
            if out.resp >= 3 { out.array(2) }
            out.bulk(member)
            writeScore(&out, score)
        } else {
            out.bulk(member)
        }
    }

    /// A score bound as ZRANGEBYSCORE parses it: C strtod over the text up to any NUL, optional `(`.
    static func parseBound(_ b: Bytes) -> (Double, Bool)? {
        var raw = b.raw
        var exclusive = false
        if raw.first == UInt8(ascii: "(") {
            exclusive = true
            raw.removeFirst()
        }
        if let z = raw.firstIndex(of: 0) { raw.removeSubrange(z...) }
        let n = raw.count
        raw.append(0)
        let v: Double? = raw.withUnsafeBufferPointer { p in
            let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(start, &end)
            guard let end, end - UnsafeMutablePointer(mutating: start) == n, !d.isNaN else { return nil }
            return d
        }
        guard let v else { return nil }
        return (v, exclusive)
    }

    static func parseScoreRange(_ ctx: CommandContext, _ minIdx: Int, _ maxIdx: Int) -> ZScoreRange? {
        guard let (lo, loEx) = parseBound(ctx.argv[minIdx]), let (hi, hiEx) = parseBound(ctx.argv[maxIdx]) else {
            ctx.error(errMinMaxFloat)
            return nil
        }
        return ZScoreRange(min: lo, max: hi, minExclusive: loEx, maxExclusive: hiEx)
    }

    static func parseLexBound(_ b: Bytes) -> ZLexBound? {
        guard let c = b.first else { return nil }
        switch c {
        case UInt8(ascii: "+"): return b.count == 1 || b[1] == 0 ? .plusInfinity : nil
        case UInt8(ascii: "-"): return b.count == 1 || b[1] == 0 ? .minusInfinity : nil
        case UInt8(ascii: "("): return .exclusive(Bytes(b.raw[1...]))
        case UInt8(ascii: "["): return .inclusive(Bytes(b.raw[1...]))
        default: return nil
        }
    }

    static func parseLexRange(_ ctx: CommandContext, _ minIdx: Int, _ maxIdx: Int) -> ZLexRange? {
        guard let lo = parseLexBound(ctx.argv[minIdx]), let hi = parseLexBound(ctx.argv[maxIdx]) else {
            ctx.error(errMinMaxLex)
            return nil
        }
        return ZLexRange(min: lo, max: hi)
    }

    /// Clamps a rank range as Redis does; nil when empty.
    static func clampRanks(_ start: Int, _ end: Int, count: Int) -> (Int, Int)? {
        var s = start, e = end
        if s < 0 { s = count &+ s }
        if e < 0 { e = count &+ e }
        if s < 0 { s = 0 }
        if s > e || s >= count { return nil }
        if e >= count { e = count - 1 }
        return (s, e)
    }

    /// After elements were removed: signals the change, publishes `event`, then "del" if the key went away.
    @inline(__always)
    static func afterRemoval(_ ctx: CommandContext, _ key: Bytes, _ z: ZSetObject, _ event: StaticString) {
        let empty = z.isEmpty
        if empty { ctx.db.delete(key) }
        ctx.db.signalModified(key)
        ctx.notify(KeyspaceEvents.zset, event, key)
        if empty { ctx.notify(KeyspaceEvents.generic, "del", key) }
    }

    /// A score argument: `parseDouble`, keeping the sign of a negative zero as strtod does.
    @inline(__always)
    static func parseScore(_ b: Bytes) -> Double? {
        guard let d = parseDouble(b) else { return nil }
        if d == 0 && b.first == UInt8(ascii: "-") { return -0.0 }
        return d
    }

    // MARK: ZADD / ZINCRBY

    static func zadd(_ ctx: CommandContext, zincrby: Bool) {
        let argv = ctx.argv
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = zincrby
        var i = 2
        if !zincrby {
            while i < argv.count {
                let a = argv[i]
                if a.equalsIgnoringCase("nx") { nx = true }
                else if a.equalsIgnoringCase("xx") { xx = true }
                else if a.equalsIgnoringCase("ch") { ch = true }
                else if a.equalsIgnoringCase("incr") { incr = true }
                else if a.equalsIgnoringCase("gt") { gt = true }
                else if a.equalsIgnoringCase("lt") { lt = true }
                else { break }
                i += 1
            }
        }
        let elements = argv.count - i
        if elements == 0 || elements % 2 != 0 {
            ctx.syntaxError()
            return
        }
        let pairs = elements / 2
        if nx && xx {
            ctx.error("ERR XX and NX options at the same time are not compatible")
            return
        }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible")
            return
        }
        if incr && pairs > 1 {
            ctx.error("ERR INCR option supports a single increment-element pair")
            return
        }
        // Every score is validated before anything changes.
        var firstScore = 0.0
        for p in 0..<pairs {
            guard let d = parseScore(argv[i + 2 * p]) else {
                ctx.error(Err.notFloat)
                return
            }
            if p == 0 { firstScore = d }
        }
        let key = argv[1]
        var z: ZSetObject
        var created = false
        switch ctx.db.lookup(key) {
        case nil:
            if xx {
                if incr { ctx.out.nullBulk() } else { ctx.out.integer(0) }
                return
            }
            z = ZSetObject()
            created = true
        case let .zset(o)?:
            z = o
        default:
            ctx.wrongType()
            return
        }
        let lim = EncodingLimits.of(ctx.engine)
        var added = 0, updated = 0, processed = 0
        var resultScore = 0.0
        var failed = false
        for p in 0..<pairs {
            let score = p == 0 ? firstScore : parseScore(argv[i + 2 * p])!
            let member = argv[i + 2 * p + 1]
            if let node = z.node(for: member) {
                if nx { continue }
                let cur = node.score
                var newScore = score
                if incr {
                    newScore = cur + score
                    if newScore.isNaN {
                        failed = true
                        break
                    }
                }
                if (lt && newScore >= cur) || (gt && newScore <= cur) { continue }
                processed += 1
                resultScore = newScore
                if newScore != cur {
                    z.setScore(node, newScore)
                    updated += 1
                }
            } else {
                if xx { continue }
                z.prepareInsert(maxEntries: lim.zsetMaxListpackEntries, maxValue: lim.zsetMaxListpackValue, memberLength: member.count)
                z.insert(member, score: score)
                added += 1
                processed += 1
                resultScore = score
            }
        }
        if created && !z.isEmpty {
            ctx.db.add(key, .zset(z))
            ctx.db.signalReady(key)
        }
        if added + updated > 0 { ctx.db.signalModified(key) }
        if failed {
            ctx.error(errNaN)
        } else if incr {
            if processed > 0 { writeScore(&ctx.out, resultScore) } else { ctx.out.nullBulk() }
        } else {
            ctx.out.integer(ch ? added + updated : added)
        }
        // As Redis: the reply first, then the event.
        if added + updated > 0 { ctx.notify(KeyspaceEvents.zset, incr ? "zincr" : "zadd", key) }
    }

    // MARK: ZREM, ZRANK

    static func zrem(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let (zz, ok) = lookup(ctx, key, write: true)
        guard ok else { return }
        guard let z = zz else {
            ctx.out.integer(0)
            return
        }
        var removed = 0
        for i in 2..<ctx.argc where z.remove(ctx.argv[i]) {
            removed += 1
            if z.isEmpty { break }
        }
        if removed > 0 { afterRemoval(ctx, key, z, "zrem") }
        ctx.out.integer(removed)
    }

    static func zrank(_ ctx: CommandContext, reverse: Bool) {
        let (z, ok) = lookup(ctx, ctx.argv[1])
        guard ok else { return }
        guard let z, let r = z.rank(of: ctx.argv[2]) else {
            ctx.out.nullBulk()
            return
        }
        ctx.out.integer(reverse ? z.count - 1 - r : r)
    }

    // MARK: ZRANGE family

    /// Selects the nodes of a range request, in reply order.
    static func selectRange(_ z: ZSetObject, kind: RangeKind, reverse: Bool, ranks: (Int, Int),
                            score: ZScoreRange?, lex: ZLexRange?, offset: Int, limit: Int) -> [ZSkipNode] {
        var out: [ZSkipNode] = []
        switch kind {
        case .rank:
            guard let (s, e) = clampRanks(ranks.0, ranks.1, count: z.count) else { return [] }
            let n = e - s + 1
            out.reserveCapacity(n)
            var node = reverse ? z.node(atRank: z.count - 1 - s) : z.node(atRank: s)
            while let x = node, out.count < n {
                out.append(x)
                node = reverse ? x.previous : x.next
            }
        case .score, .lex:
            if offset < 0 || (offset > 0 && offset >= z.count) { return [] }
            var node: ZSkipNode?
            if kind == .score {
                node = reverse ? z.lastIn(score!) : z.firstIn(score!)
            } else {
                node = reverse ? z.lastIn(lex!) : z.firstIn(lex!)
            }
            var skip = offset
            while let x = node, skip > 0 {
                node = reverse ? x.previous : x.next
                skip -= 1
            }
            var left = limit
            while let x = node, left != 0 {
                if kind == .score {
                    if reverse ? !score!.aboveMin(x.score) : !score!.belowMax(x.score) { break }
                } else {
                    if reverse ? !lex!.aboveMin(x.member) : !lex!.belowMax(x.member) { break }
                }
                out.append(x)
                node = reverse ? x.previous : x.next
                left -= 1
            }
        }
        return out
    }

    static func zrange(_ ctx: CommandContext, store: Bool, kind fixedKind: RangeKind?, reverse fixedReverse: Bool?) {
        let argv = ctx.argv
        let keyIdx = store ? 2 : 1
        var kind = fixedKind
        var reverse = fixedReverse
        var withScores = false
        var offset = 0, limit = -1
        var j = keyIdx + 3
        while j < argv.count {
            let left = argv.count - j - 1
            let a = argv[j]
            if !store && a.equalsIgnoringCase("withscores") {
                withScores = true
            } else if a.equalsIgnoringCase("limit") && left >= 2 {
                guard let o = ctx.int(j + 1), let l = ctx.int(j + 2) else { return }
                offset = o
                limit = l
                j += 2
            } else if reverse == nil && a.equalsIgnoringCase("rev") {
                reverse = true
            } else if kind == nil && a.equalsIgnoringCase("bylex") {
                kind = .lex
            } else if kind == nil && a.equalsIgnoringCase("byscore") {
                kind = .score
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        let k = kind ?? .rank
        let rev = reverse ?? false
        if limit != -1 && k == .rank {
            ctx.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            return
        }
        if withScores && k == .lex {
            ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
            return
        }
        var minIdx = keyIdx + 1, maxIdx = keyIdx + 2
        if rev && k != .rank { swap(&minIdx, &maxIdx) }
        var ranks = (0, 0)
        var scoreRange: ZScoreRange?
        var lexRange: ZLexRange?
        switch k {
        case .rank:
            guard let s = ctx.int(minIdx), let e = ctx.int(maxIdx) else { return }
            ranks = (s, e)
        case .score:
            guard let r = parseScoreRange(ctx, minIdx, maxIdx) else { return }
            scoreRange = r
        case .lex:
            guard let r = parseLexRange(ctx, minIdx, maxIdx) else { return }
            lexRange = r
        }
        let (z, ok) = lookup(ctx, argv[keyIdx], write: false)
        guard ok else { return }
        let nodes = z.map { selectRange($0, kind: k, reverse: rev, ranks: ranks, score: scoreRange, lex: lexRange, offset: offset, limit: limit) } ?? []
        if store {
            // Built as Redis builds it: a listpack unless a rank range is known to be too long,
            // converted on the way when an addition exceeds the limits.
            let result = ZSetObject()
            let lim = EncodingLimits.of(ctx.engine)
            if k == .rank, let z, let (s, e) = clampRanks(ranks.0, ranks.1, count: z.count), e - s + 1 > lim.zsetMaxListpackEntries {
                result.beginBuilding()
            }
            for n in nodes {
                result.prepareInsert(maxEntries: lim.zsetMaxListpackEntries, maxValue: lim.zsetMaxListpackValue, memberLength: n.member.count)
                result.insert(n.member, score: n.score)
            }
            storeResult(ctx, argv[1], result, settle: false)
            return
        }
        var reply = ZReply(resp: ctx.out.resp, capacity: 16 + nodes.count * (withScores ? 40 : 24))
        reply.elementsHeader(nodes.count, withScores: withScores)
        for n in nodes { reply.element(n.member, n.score, withScores: withScores) }
        reply.flush(into: &ctx.out)
    }

    /// Stores a computed sorted set at `dst` (replacing any value and TTL), or deletes `dst` when empty;
    /// replies with the resulting cardinality.
    static func storeResult(_ ctx: CommandContext, _ dst: Bytes, _ result: ZSetObject, settle: Bool = true) {
        if result.isEmpty {
            let deleted = ctx.db.deleteIgnoringExpiry(dst)
            if deleted { ctx.db.signalModified(dst) }
            ctx.out.integer(0)
            if deleted { ctx.notify(KeyspaceEvents.generic, "del", dst) }
            return
        }
        if settle {
            let lim = EncodingLimits.of(ctx.engine)
            result.settleEncoding(maxEntries: lim.zsetMaxListpackEntries, maxValue: lim.zsetMaxListpackValue)
        }
        ctx.db.set(dst, .zset(result))
        ctx.db.signalModified(dst)
        ctx.db.signalReady(dst)
        // As Redis: the reply first, then the event.
        ctx.out.integer(result.count)
        let event: StaticString
        switch ctx.spec.name {
        case "zunionstore": event = "zunionstore"
        case "zinterstore": event = "zinterstore"
        case "zdiffstore": event = "zdiffstore"
        default: event = "zrangestore"
        }
        ctx.notify(KeyspaceEvents.zset, event, dst)
    }

    // MARK: ZREMRANGEBY*

    static func zremrange(_ ctx: CommandContext, kind: RangeKind) {
        var ranks = (0, 0)
        var scoreRange: ZScoreRange?
        var lexRange: ZLexRange?
        switch kind {
        case .rank:
            guard let s = ctx.int(2), let e = ctx.int(3) else { return }
            ranks = (s, e)
        case .score:
            guard let r = parseScoreRange(ctx, 2, 3) else { return }
            scoreRange = r
        case .lex:
            guard let r = parseLexRange(ctx, 2, 3) else { return }
            lexRange = r
        }
        let key = ctx.argv[1]
        let (zz, ok) = lookup(ctx, key, write: true)
        guard ok else { return }
        guard let z = zz else {
            ctx.out.integer(0)
            return
        }
        let nodes = selectRange(z, kind: kind, reverse: false, ranks: ranks, score: scoreRange, lex: lexRange, offset: 0, limit: -1)
        for n in nodes { z.remove(node: n) }
        if !nodes.isEmpty {
            afterRemoval(ctx, key, z, kind == .rank ? "zremrangebyrank" : kind == .score ? "zremrangebyscore" : "zremrangebylex")
        }
        ctx.out.integer(nodes.count)
    }

    // MARK: Pops

    /// Pops up to `count` elements from one end of `z` (the key is deleted when emptied). The caller
    /// announces the pop with `announcePop` where Redis does: after the reply's array header, before
    /// the elements (a RESP3 client subscribed to its own events sees the push inside the reply).
    static func popNodes(_ ctx: CommandContext, _ key: Bytes, _ z: ZSetObject, max: Bool, count: Int) -> [(Bytes, Double)] {
        var res: [(Bytes, Double)] = []
        let n = Swift.min(count, z.count)
        res.reserveCapacity(n)
        for _ in 0..<n {
            guard let node = max ? z.last : z.first else { break }
            res.append((node.member, node.score))
            z.remove(node: node)
        }
        if !res.isEmpty {
            if z.isEmpty { ctx.db.delete(key) }
            ctx.db.signalModified(key)
        }
        return res
    }

    /// The keyspace events of a pop: `zpopmin`/`zpopmax` (call after the reply's header), then
    /// `del` when the key went away (call after the elements).
    @inline(__always)
    static func announcePop(_ ctx: CommandContext, _ key: Bytes, max: Bool) {
        ctx.notify(KeyspaceEvents.zset, max ? "zpopmax" : "zpopmin", key)
    }

    @inline(__always)
    static func announceEmptied(_ ctx: CommandContext, _ key: Bytes, _ z: ZSetObject) {
        if z.isEmpty { ctx.notify(KeyspaceEvents.generic, "del", key) }
    }

    static func zpop(_ ctx: CommandContext, max: Bool) {
        if ctx.argc > 3 {
            ctx.syntaxError()
            return
        }
        var count = -1
        if ctx.argc == 3 {
            guard let c = parseStrictInt(ctx.argv[2].raw), c >= 0 else {
                ctx.error("ERR value is out of range, must be positive")
                return
            }
            count = c
        }
        let key = ctx.argv[1]
        let (zz, ok) = lookup(ctx, key, write: true)
        guard ok else { return }
        guard let z = zz, count != 0 else {
            ctx.out.array(0)
            return
        }
        let popped = popNodes(ctx, key, z, max: max, count: count < 0 ? 1 : count)
        if count < 0 {
            ctx.out.array(2)
            announcePop(ctx, key, max: max)
            ctx.out.bulk(popped[0].0)
            writeScore(&ctx.out, popped[0].1)
        } else {
            writeElementsHeader(&ctx.out, popped.count, withScores: true)
            if !popped.isEmpty { announcePop(ctx, key, max: max) }
            for (m, s) in popped { writeElement(&ctx.out, m, s, withScores: true) }
        }
        announceEmptied(ctx, key, z)
    }

    static func bzpop(_ ctx: CommandContext, max: Bool) {
        guard let deadline = ctx.timeoutDeadline(ctx.argc - 1) else { return }
        let keys = Array(ctx.argv[1..<(ctx.argc - 1)])
        for key in keys {
            switch ctx.db.lookup(key) {
            case nil: continue
            case let .zset(z)?:
                if z.isEmpty { continue }
                let popped = popNodes(ctx, key, z, max: max, count: 1)
                // Served blocking pops travel as plain pops: a replica must never block.
                ctx.propagateAs([[Bytes(max ? "ZPOPMAX" : "ZPOPMIN"), key]])
                ctx.out.array(3)
                ctx.out.bulk(key)
                announcePop(ctx, key, max: max)
                ctx.out.bulk(popped[0].0)
                writeScore(&ctx.out, popped[0].1)
                announceEmptied(ctx, key, z)
                return
            default:
                // A blocked client is only served by sorted sets; other types leave it waiting.
                if ctx.isRetry { continue }
                ctx.wrongType()
                return
            }
        }
        if ctx.noBlocking {
            ctx.out.nullArray()
            return
        }
        ctx.block(on: keys, deadline: deadline, timeoutIsNullArray: true)
    }

    static func zmpop(_ ctx: CommandContext, numkeysIndex: Int, blocking: Bool) {
        let argv = ctx.argv
        guard let numkeys = parseStrictInt(argv[numkeysIndex].raw), numkeys >= 1 else {
            ctx.error("ERR numkeys should be greater than 0")
            return
        }
        let whereIdx = numkeysIndex &+ numkeys &+ 1
        if whereIdx >= argv.count || whereIdx < 0 {
            ctx.syntaxError()
            return
        }
        let max: Bool
        if argv[whereIdx].equalsIgnoringCase("min") { max = false }
        else if argv[whereIdx].equalsIgnoringCase("max") { max = true }
        else {
            ctx.syntaxError()
            return
        }
        var count = -1
        var j = whereIdx + 1
        while j < argv.count {
            let more = argv.count - 1 - j
            if count == -1 && argv[j].equalsIgnoringCase("count") && more > 0 {
                j += 1
                guard let c = parseStrictInt(argv[j].raw), c >= 1 else {
                    ctx.error("ERR count should be greater than 0")
                    return
                }
                count = c
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        if count == -1 { count = 1 }
        var deadline: Int64 = 0
        if blocking {
            guard let d = ctx.timeoutDeadline(1) else { return }
            deadline = d
        }
        let keys = Array(argv[(numkeysIndex + 1)..<whereIdx])
        for key in keys {
            switch ctx.db.lookup(key) {
            case nil: continue
            case let .zset(z)?:
                if z.isEmpty { continue }
                let popped = popNodes(ctx, key, z, max: max, count: count)
                // ZMPOP and BZMPOP travel as the plain pop of the key that was served.
                ctx.propagateAs([[Bytes(max ? "ZPOPMAX" : "ZPOPMIN"), key, Bytes(String(popped.count))]])
                ctx.out.array(2)
                ctx.out.bulk(key)
                ctx.out.array(popped.count)
                announcePop(ctx, key, max: max)
                for (m, s) in popped {
                    ctx.out.array(2)
                    ctx.out.bulk(m)
                    writeScore(&ctx.out, s)
                }
                announceEmptied(ctx, key, z)
                return
            default:
                if blocking && ctx.isRetry { continue }
                ctx.wrongType()
                return
            }
        }
        if !blocking || ctx.noBlocking {
            ctx.out.nullArray()
            return
        }
        ctx.block(on: keys, deadline: deadline, timeoutIsNullArray: true)
    }

    // MARK: ZRANDMEMBER

    static func zrandmember(_ ctx: CommandContext) {
        let argv = ctx.argv
        if argv.count == 2 {
            let (z, ok) = lookup(ctx, argv[1])
            guard ok else { return }
            if let n = z?.randomNode() { ctx.out.bulk(n.member) } else { ctx.out.nullBulk() }
            return
        }
        guard let l = ctx.int(2) else { return }
        if l == Int.min {
            ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            return
        }
        var withScores = false
        if argv.count > 4 || (argv.count == 4 && !argv[3].equalsIgnoringCase("withscores")) {
            ctx.syntaxError()
            return
        } else if argv.count == 4 {
            withScores = true
            if l < -(Int.max / 2) || l > Int.max / 2 {
                ctx.error("ERR value is out of range")
                return
            }
        }
        let (zz, ok) = lookup(ctx, argv[1])
        guard ok else { return }
        guard let z = zz, l != 0 else {
            ctx.out.array(0)
            return
        }
        if l < 0 {
            // Repetitions allowed: each pick independent.
            let n = -l
            writeElementsHeader(&ctx.out, n, withScores: withScores)
            for _ in 0..<n {
                let node = z.randomNode()!
                writeElement(&ctx.out, node.member, node.score, withScores: withScores)
            }
            return
        }
        let size = z.count
        if l >= size {
            // The whole set, highest first (the order Redis 7.0 replies in).
            writeElementsHeader(&ctx.out, size, withScores: withScores)
            var x = z.last
            while let n = x {
                writeElement(&ctx.out, n.member, n.score, withScores: withScores)
                x = n.previous
            }
            return
        }
        // Distinct picks: a partial shuffle of ranks when many are wanted, rejection sampling otherwise.
        var picked: [ZSkipNode] = []
        picked.reserveCapacity(l)
        if l * 3 > size {
            var all: [ZSkipNode] = []
            all.reserveCapacity(size)
            z.forEach { all.append($0) }
            for i in 0..<l {
                let j = i + z.randomIndex(size - i)
                all.swapAt(i, j)
                picked.append(all[i])
            }
        } else {
            var seen = Set<ObjectIdentifier>()
            while picked.count < l {
                let node = z.randomNode()!
                if seen.insert(ObjectIdentifier(node)).inserted { picked.append(node) }
            }
        }
        writeElementsHeader(&ctx.out, picked.count, withScores: withScores)
        for node in picked { writeElement(&ctx.out, node.member, node.score, withScores: withScores) }
    }

    // MARK: ZUNION / ZINTER / ZDIFF / ZINTERCARD

    enum SetOpKind { case union, inter, diff }
    enum Aggregate { case sum, min, max }

    /// One input of a set operation: a sorted set, a plain set (scores 1), or nothing.
    struct Source {
        var zset: ZSetObject?
        var plain: [Bytes: Double]?
        var weight = 1.0
        var count: Int { zset?.count ?? plain?.count ?? 0 }
        func score(of m: Bytes) -> Double? { zset != nil ? zset!.score(of: m) : plain?[m] }
        func forEach(_ body: (Bytes, Double) -> Void) {
            if let z = zset {
                z.forEach { body($0.member, $0.score) }
            } else if let p = plain {
                for (m, s) in p { body(m, s) }
            }
        }
    }

    @inline(__always)
    static func aggregate(_ target: inout Double, _ v: Double, _ agg: Aggregate) {
        switch agg {
        case .sum:
            target = target + v
            if target.isNaN { target = 0 }
        case .min: target = v < target ? v : target
        case .max: target = v > target ? v : target
        }
    }

    static func setOp(_ ctx: CommandContext, _ op: SetOpKind, store: Bool, card: Bool) {
        let argv = ctx.argv
        let numIdx = store ? 2 : 1
        guard let setnum = ctx.int(numIdx) else { return }
        if setnum < 1 {
            ctx.error("ERR at least 1 input key is needed for '\(ctx.spec.fullName)' command")
            return
        }
        if setnum > argv.count - (numIdx + 1) {
            ctx.syntaxError()
            return
        }
        var src: [Source] = []
        src.reserveCapacity(setnum)
        var j = numIdx + 1
        for _ in 0..<setnum {
            // Redis reads the sources with read lookups even when storing (misses count, and notify keymiss).
            switch ctx.db.lookupRead(argv[j]) {
            case nil: src.append(Source())
            case let .zset(z)?: src.append(Source(zset: z))
            case let .set(s)?:
                var d: [Bytes: Double] = [:]
                for m in plainSetMembers(s) { d[m] = 1.0 }
                src.append(Source(plain: d))
            default:
                ctx.wrongType()
                return
            }
            j += 1
        }
        var agg = Aggregate.sum
        var withScores = false
        var limit = 0
        while j < argv.count {
            let remaining = argv.count - j
            let a = argv[j]
            if op != .diff && !card && remaining >= setnum + 1 && a.equalsIgnoringCase("weights") {
                j += 1
                for i in 0..<setnum {
                    guard let w = parseScore(argv[j]) else {
                        ctx.error("ERR weight value is not a float")
                        return
                    }
                    src[i].weight = w
                    j += 1
                }
            } else if op != .diff && !card && remaining >= 2 && a.equalsIgnoringCase("aggregate") {
                let v = argv[j + 1]
                if v.equalsIgnoringCase("sum") { agg = .sum }
                else if v.equalsIgnoringCase("min") { agg = .min }
                else if v.equalsIgnoringCase("max") { agg = .max }
                else {
                    ctx.syntaxError()
                    return
                }
                j += 2
            } else if remaining >= 1 && !store && !card && a.equalsIgnoringCase("withscores") {
                withScores = true
                j += 1
            } else if card && remaining >= 2 && a.equalsIgnoringCase("limit") {
                guard let l = parseStrictInt(argv[j + 1].raw), l >= 0 else {
                    ctx.error("ERR LIMIT can't be negative")
                    return
                }
                limit = l
                j += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        if op != .diff {
            // Smallest input first (stable, like the reference's merge-based qsort).
            src = src.enumerated().sorted { $0.element.count != $1.element.count ? $0.element.count < $1.element.count : $0.offset < $1.offset }.map { $0.element }
        }
        if card {
            var n = 0
            if src[0].count > 0 {
                let rest = src[1...]
                src[0].forEach { m, _ in
                    if limit > 0 && n >= limit { return }
                    if rest.allSatisfy({ $0.score(of: m) != nil }) { n += 1 }
                }
            }
            ctx.out.integer(n)
            return
        }
        let result = ZSetObject()
        result.beginBuilding()
        switch op {
        case .union:
            var acc: [Bytes: Double] = [:]
            for s in src {
                let w = s.weight
                s.forEach { m, sc in
                    var v = w * sc
                    if v.isNaN { v = 0 }
                    if let i = acc.index(forKey: m) {
                        aggregate(&acc.values[i], v, agg)
                    } else {
                        acc[m] = v
                    }
                }
            }
            for (m, s) in acc { result.insert(m, score: s) }
        case .inter:
            if src[0].count > 0 {
                let rest = src[1...]
                let w0 = src[0].weight
                src[0].forEach { m, sc in
                    var score = w0 * sc
                    if score.isNaN { score = 0 }
                    for s in rest {
                        guard let v = s.score(of: m) else { return }
                        aggregate(&score, v * s.weight, agg)
                    }
                    result.insert(m, score: score)
                }
            }
        case .diff:
            if src[0].count > 0 {
                let rest = src[1...]
                src[0].forEach { m, sc in
                    if rest.contains(where: { $0.score(of: m) != nil }) { return }
                    result.insert(m, score: sc)
                }
            }
        }
        if store {
            storeResult(ctx, argv[1], result)
            return
        }
        var reply = ZReply(resp: ctx.out.resp, capacity: 16 + result.count * (withScores ? 40 : 24))
        reply.elementsHeader(result.count, withScores: withScores)
        result.forEach { reply.element($0.member, $0.score, withScores: withScores) }
        reply.flush(into: &ctx.out)
    }

    // MARK: ZSCAN


    /// Text of a score as a listpack stores it: integers plainly when they fit, otherwise %.17g.
    static func listpackScoreText(_ d: Double) -> Bytes {
        if d >= -4_611_686_018_427_387_903 && d <= 4_611_686_018_427_387_903 && d == d.rounded(.towardZero) {
            return Bytes(Int(d))
        }
        return Bytes(formatDouble(d))
    }

    static func zscan(_ ctx: CommandContext) {
        let argv = ctx.argv
        guard let cursor = parseScanCursor(argv[2]) else {
            ctx.error("ERR invalid cursor")
            return
        }
        let (zz, ok) = lookup(ctx, argv[1])
        guard ok else { return }
        guard let z = zz else {
            ctx.out.array(2)
            ctx.out.bulk("0")
            ctx.out.array(0)
            return
        }
        var count = 10
        var pattern: [UInt8]?
        var i = 3
        while i < argv.count {
            let left = argv.count - i
            if argv[i].equalsIgnoringCase("count") && left >= 2 {
                guard let c = ctx.int(i + 1) else { return }
                if c < 1 {
                    ctx.syntaxError()
                    return
                }
                count = c
                i += 2
            } else if argv[i].equalsIgnoringCase("match") && left >= 2 {
                let p = argv[i + 1].raw
                pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : p
                i += 2
            } else {
                ctx.syntaxError()
                return
            }
        }
        var found: [(Bytes, Bytes)] = []
        var next: UInt64 = 0
        if z.isCompact {
            z.forEach { n in
                if let p = pattern, !globMatch(p, n.member.raw) { return }
                found.append((n.member, listpackScoreText(n.score)))
            }
        } else if cursor <= UInt64(Int.max) {
            next = UInt64(z.scan(from: Int(cursor), count: count) { n in
                if let p = pattern, !globMatch(p, n.member.raw) { return }
                found.append((n.member, Bytes(formatDouble(n.score))))
            })
        }
        ctx.out.array(2)
        ctx.out.bulk(Bytes(String(next)))
        ctx.out.array(found.count * 2)
        for (m, s) in found {
            ctx.out.bulk(m)
            ctx.out.bulk(s)
        }
    }
}
