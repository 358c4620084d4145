import LunarRESP

/// The bit command family: bitmaps stored in string values.
enum BitCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("setbit", arity: 4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .bitmap, since: "2.2.0",
                        summary: "Sets or clears one bit of a string value, growing it as needed, and returns the old bit.",
                        syntax: "key offset value", handler: setbit),
            CommandSpec("getbit", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: .bitmap, since: "2.2.0",
                        summary: "Returns one bit of a string value.", syntax: "key offset", handler: getbit),
            CommandSpec("bitcount", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .bitmap, since: "2.6.0",
                        summary: "Counts the set bits of a string value, optionally within a range.",
                        complexity: "O(N)", syntax: "key [start end [BYTE|BIT]]", handler: bitcount),
            CommandSpec("bitpos", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: .bitmap, since: "2.8.7",
                        summary: "Finds the first set or clear bit of a string value, optionally within a range.",
                        complexity: "O(N)", syntax: "key bit [start [end [BYTE|BIT]]]", handler: bitpos),
            CommandSpec("bitop", arity: -4, flags: [.write, .denyoom], keys: (2, -1, 1), group: .bitmap, since: "2.6.0",
                        summary: "Combines string values bit by bit (AND, OR, XOR, NOT) and stores the result.",
                        complexity: "O(N)", syntax: "operation destkey key [key ...]", handler: bitop),
        ]
    }

    static let offsetError = "ERR bit offset is not an integer or out of range"

    /// A bit offset argument: a non-negative integer whose byte index stays below proto-max-bulk-len.
    static func bitOffset(_ ctx: CommandContext, _ i: Int) -> Int? {
        guard let v = parseStrictInt(ctx.argv[i].raw), v >= 0,
              (v >> 3) < ctx.engine.protoMaxBulkLen.load(ordering: .relaxed) else {
            ctx.error(offsetError)
            return nil
        }
        return v
    }

    static func setbit(_ ctx: CommandContext) {
        guard let offset = bitOffset(ctx, 2) else { return }
        let bitError = "ERR bit is not an integer or out of range"
        guard let on = parseStrictInt(ctx.argv[3].raw), on & ~1 == 0 else { return ctx.error(bitError) }
        let key = ctx.argv[1]
        let db = ctx.db
        let byte = offset >> 3
        let mask = UInt8(1 << (7 - (offset & 7)))
        guard let slot = db.slot(key) else {
            var s = [UInt8](repeating: 0, count: byte + 1)
            if on == 1 { s[byte] = mask }
            db.add(key, .string(Bytes(s)))
            db.signalModified(key)
            ctx.out.integer(0)
            return
        }
        guard case .string = db.table.value(at: slot) else { return ctx.wrongType() }
        let (old, changed) = db.table.withValue(at: slot) { v -> (Int, Bool) in
            guard case var .string(s) = v else { return (0, false) }
            v = .string(Bytes())
            var grew = false
            if s.count <= byte {
                s.raw.append(contentsOf: repeatElement(0, count: byte + 1 - s.count))
                grew = true
            }
            let was = s[byte] & mask != 0 ? 1 : 0
            if on == 1 { s[byte] |= mask } else { s[byte] &= ~mask }
            v = .string(s)
            return (was, grew || was != on)
        }
        if changed { db.signalModified(key) }
        ctx.out.integer(old)
    }

    static func getbit(_ ctx: CommandContext) {
        guard let offset = bitOffset(ctx, 2) else { return }
        switch ctx.db.lookupRead(ctx.argv[1]) {
        case nil: ctx.out.integer(0)
        case let .string(s)?:
            let byte = offset >> 3
            if byte < s.count {
                ctx.out.integer(s[byte] & UInt8(1 << (7 - (offset & 7))) != 0 ? 1 : 0)
            } else {
                ctx.out.integer(0)
            }
        default: ctx.wrongType()
        }
    }

    /// Parses BYTE|BIT at argv[i]; nil (after a syntax error) for anything else.
    static func unitIsBit(_ ctx: CommandContext, _ i: Int) -> Bool? {
        if ctx.argv[i].equalsIgnoringCase("bit") { return true }
        if ctx.argv[i].equalsIgnoringCase("byte") { return false }
        ctx.syntaxError()
        return nil
    }

    /// Clamps a start/end pair against a length as Redis's range commands do (negative from the end).
    static func clamp(_ start: inout Int, _ end: inout Int, _ total: Int) {
        if start < 0 { start = total &+ start }
        if end < 0 { end = total &+ end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= total { end = total - 1 }
    }

    static func bitcount(_ ctx: CommandContext) {
        let s: Bytes
        switch ctx.db.lookupRead(ctx.argv[1]) {
        case nil: return ctx.out.integer(0)
        case let .string(v)?: s = v
        default: return ctx.wrongType()
        }
        let len = s.count
        var startBit = 0, endBit = len * 8 - 1
        if ctx.argc == 4 || ctx.argc == 5 {
            guard var start = ctx.int(2), var end = ctx.int(3) else { return }
            if start < 0 && end < 0 && start > end { return ctx.out.integer(0) }
            var isBit = false
            if ctx.argc == 5 {
                guard let u = unitIsBit(ctx, 4) else { return }
                isBit = u
            }
            clamp(&start, &end, isBit ? len * 8 : len)
            if start > end { return ctx.out.integer(0) }
            if isBit {
                startBit = start
                endBit = end
            } else {
                startBit = start * 8
                endBit = end * 8 + 7
            }
        } else if ctx.argc != 2 {
            return ctx.syntaxError()
        }
        if startBit > endBit { return ctx.out.integer(0) }
        ctx.out.integer(countBits(s, from: startBit, through: endBit))
    }

    /// Number of set bits between two bit positions (inclusive), both inside the string.
    static func countBits(_ s: Bytes, from startBit: Int, through endBit: Int) -> Int {
        let firstByte = startBit >> 3, lastByte = endBit >> 3
        return s.raw.withUnsafeBytes { p -> Int in
            var count = 0
            var i = firstByte
            while i + 8 <= lastByte + 1 {
                count += p.loadUnaligned(fromByteOffset: i, as: UInt64.self).nonzeroBitCount
                i += 8
            }
            while i <= lastByte {
                count += p[i].nonzeroBitCount
                i += 1
            }
            // Remove the bits of the edge bytes that lie outside the range.
            let headMask = UInt8(truncatingIfNeeded: 0xFF00 >> (startBit & 7))   // bits before startBit
            count -= (p[firstByte] & headMask).nonzeroBitCount
            let tailMask = UInt8(truncatingIfNeeded: (1 << (7 - (endBit & 7))) - 1)  // bits after endBit
            count -= (p[lastByte] & tailMask).nonzeroBitCount
            return count
        }
    }

    static func bitpos(_ ctx: CommandContext) {
        guard let bit = ctx.int(2) else { return }
        if bit != 0 && bit != 1 { return ctx.error("ERR The bit argument must be 1 or 0.") }
        let s: Bytes
        switch ctx.db.lookupRead(ctx.argv[1]) {
        case nil: return ctx.out.integer(bit == 1 ? -1 : 0)
        case let .string(v)?: s = v
        default: return ctx.wrongType()
        }
        let len = s.count
        var endGiven = false
        var startBit = 0, endBit = len * 8 - 1
        if ctx.argc >= 4 && ctx.argc <= 6 {
            guard var start = ctx.int(3) else { return }
            var isBit = false
            if ctx.argc == 6 {
                guard let u = unitIsBit(ctx, 5) else { return }
                isBit = u
            }
            var end: Int
            if ctx.argc >= 5 {
                guard let e = ctx.int(4) else { return }
                end = e
                endGiven = true
            } else {
                end = isBit ? len * 8 + 7 : len - 1
            }
            clamp(&start, &end, isBit ? len * 8 : len)
            if start > end { return ctx.out.integer(-1) }
            if isBit {
                startBit = start
                endBit = end
            } else {
                startBit = start * 8
                endBit = end * 8 + 7
            }
        } else if ctx.argc != 3 {
            return ctx.syntaxError()
        }
        if startBit > endBit { return ctx.out.integer(-1) }
        if let pos = findBit(s, bit == 1, from: startBit, through: endBit) {
            return ctx.out.integer(pos)
        }
        // Not found. Looking for a clear bit without an explicit end, the string counts as zero-padded.
        ctx.out.integer(bit == 0 && !endGiven ? endBit + 1 : -1)
    }

    /// Position of the first bit equal to `one` between two positions (inclusive), or nil.
    static func findBit(_ s: Bytes, _ one: Bool, from startBit: Int, through endBit: Int) -> Int? {
        s.raw.withUnsafeBytes { p -> Int? in
            let skip: UInt8 = one ? 0x00 : 0xFF
            var pos = startBit
            // Bit by bit up to a byte boundary.
            while pos <= endBit && pos & 7 != 0 {
                if (p[pos >> 3] & UInt8(0x80 >> (pos & 7)) != 0) == one { return pos }
                pos += 1
            }
            if pos > endBit { return nil }
            // Whole bytes, a word at a time while they are all uninteresting.
            var byte = pos >> 3
            let lastFull = (endBit + 1) >> 3   // bytes before this one are fully inside the range
            let skipWord: UInt64 = one ? 0 : ~0
            while byte + 8 <= lastFull && p.loadUnaligned(fromByteOffset: byte, as: UInt64.self) == skipWord {
                byte += 8
            }
            while byte < lastFull && p[byte] == skip { byte += 1 }
            pos = byte * 8
            while pos <= endBit {
                if (p[pos >> 3] & UInt8(0x80 >> (pos & 7)) != 0) == one { return pos }
                pos += 1
            }
            return nil
        }
    }

    static func bitop(_ ctx: CommandContext) {
        enum Op { case and, or, xor, not }
        let name = ctx.argv[1]
        let op: Op
        if name.equalsIgnoringCase("and") { op = .and }
        else if name.equalsIgnoringCase("or") { op = .or }
        else if name.equalsIgnoringCase("xor") { op = .xor }
        else if name.equalsIgnoringCase("not") { op = .not }
        else { return ctx.syntaxError() }
        if op == .not && ctx.argc != 4 {
            return ctx.error("ERR BITOP NOT must be called with a single source key.")
        }
        var sources: [Bytes] = []
        sources.reserveCapacity(ctx.argc - 3)
        var maxLen = 0
        for i in 3..<ctx.argc {
            switch ctx.db.lookupRead(ctx.argv[i]) {
            case nil: sources.append(Bytes())
            case let .string(s)?:
                sources.append(s)
                maxLen = max(maxLen, s.count)
            default: return ctx.wrongType()
            }
        }
        let dest = ctx.argv[2]
        if maxLen == 0 {
            if ctx.db.delete(dest) { ctx.db.signalModified(dest) }
            return ctx.out.integer(0)
        }
        var res = [UInt8](repeating: 0, count: maxLen)
        res.withUnsafeMutableBufferPointer { r in
            let first = sources[0].raw
            for i in 0..<first.count { r[i] = first[i] }
            if op == .not {
                for i in 0..<maxLen { r[i] = ~r[i] }
                return
            }
            for j in 1..<sources.count {
                sources[j].raw.withUnsafeBufferPointer { src in
                    let n = src.count
                    switch op {
                    case .and:
                        for i in 0..<n { r[i] &= src[i] }
                        for i in n..<maxLen { r[i] = 0 }
                    case .or:
                        for i in 0..<n { r[i] |= src[i] }
                    case .xor:
                        for i in 0..<n { r[i] ^= src[i] }
                    case .not: break
                    }
                }
            }
        }
        ctx.db.set(dest, .string(Bytes(res)))
        ctx.db.signalModified(dest)
        ctx.out.integer(maxLen)
    }
}
