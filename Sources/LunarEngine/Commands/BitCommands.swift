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
            CommandSpec("bitfield", arity: -2, flags: [.write, .denyoom], keys: (1, 1, 1), group: .bitmap, since: "3.2.0",
                        summary: "Reads, writes and increments integer fields of arbitrary width inside a string value.",
                        complexity: "O(1) for each subcommand",
                        syntax: "key [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment ...]") { ctx in
                bitfield(ctx, readOnly: false)
            },
            CommandSpec("bitfield_ro", arity: -2, flags: [.readonly, .fast], keys: (1, 1, 1), group: .bitmap, since: "6.0.0",
                        summary: "Reads integer fields of arbitrary width from a string value.",
                        complexity: "O(1) for each subcommand", syntax: "key [GET encoding offset ...]") { ctx in
                bitfield(ctx, readOnly: true)
            },
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
            db.table.markStringEdited(at: db.add(key, .string(Bytes(s))))
            db.signalModified(key)
            db.notify(KeyspaceEvents.string, "setbit", key)
            ctx.out.integer(0)
            return
        }
        guard case .string = db.table.value(at: slot) else { return ctx.wrongType() }
        let (old, changed) = db.table.withValue(at: slot) { v -> (Int, Bool) in
            guard case var .string(s) = v else { return (0, false) }
            v = .string(Bytes())
            var grew = false
            if s.count <= byte {
                StringEncoding.growZero(&s.raw, by: byte + 1 - s.count)
                grew = true
            }
            let was = s[byte] & mask != 0 ? 1 : 0
            if on == 1 { s[byte] |= mask } else { s[byte] &= ~mask }
            v = .string(s)
            return (was, grew || was != on)
        }
        db.table.markStringEdited(at: slot)
        if changed {
            db.signalModified(key)
            db.notify(KeyspaceEvents.string, "setbit", key)
        }
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
            if ctx.db.deleteIgnoringExpiry(dest) {
                ctx.db.signalModified(dest)
                ctx.notify(KeyspaceEvents.generic, "del", dest)
            }
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
        if let d = ctx.db.slot(dest, touch: false) { ctx.db.table.markStringEdited(at: d) }
        ctx.db.signalModified(dest)
        ctx.notify(KeyspaceEvents.string, "set", dest)
        ctx.out.integer(maxLen)
    }

    // MARK: BITFIELD

    enum Overflow { case wrap, sat, fail }

    struct FieldOp {
        enum Kind { case get, set, incrby }
        var kind: Kind
        var signed: Bool
        var bits: Int
        var offset: Int
        var value: Int   // SET value or INCRBY increment
        var overflow: Overflow
    }

    static let typeError = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."

    /// Parses `i<bits>` / `u<bits>` (i1..i64, u1..u63).
    static func fieldType(_ ctx: CommandContext, _ i: Int) -> (signed: Bool, bits: Int)? {
        let a = ctx.argv[i]
        guard let first = a.first else { ctx.error(typeError); return nil }
        let signed: Bool
        switch first {
        case UInt8(ascii: "i"): signed = true
        case UInt8(ascii: "u"): signed = false
        default: ctx.error(typeError); return nil
        }
        guard let bits = parseStrictInt(a.raw.dropFirst()), bits >= 1, bits <= (signed ? 64 : 63) else {
            ctx.error(typeError)
            return nil
        }
        return (signed, bits)
    }

    /// A field offset: plain bits, or `#n` meaning n times the field width.
    static func fieldOffset(_ ctx: CommandContext, _ i: Int, bits: Int) -> Int? {
        let a = ctx.argv[i]
        let hash = a.first == UInt8(ascii: "#")
        guard var v = hash ? parseStrictInt(a.raw.dropFirst()) : parseStrictInt(a.raw) else {
            ctx.error(offsetError)
            return nil
        }
        if hash { v = v &* bits }
        if v < 0 || (v >> 3) >= ctx.engine.protoMaxBulkLen.load(ordering: .relaxed) {
            ctx.error(offsetError)
            return nil
        }
        return v
    }

    /// Reads `bits` bits starting at bit `offset` (most significant first); bits past the end read as zero.
    static func readField(_ p: UnsafeRawBufferPointer, _ offset: Int, _ bits: Int) -> UInt64 {
        var v: UInt64 = 0
        let n = p.count
        for i in 0..<bits {
            let pos = offset + i
            let byte = pos >> 3
            let bit: UInt64 = byte < n && p[byte] & UInt8(0x80 >> (pos & 7)) != 0 ? 1 : 0
            v = (v << 1) | bit
        }
        return v
    }

    /// Writes the low `bits` bits of `value` at bit `offset`; the buffer must be long enough.
    static func writeField(_ p: UnsafeMutableRawBufferPointer, _ offset: Int, _ bits: Int, _ value: UInt64) {
        for i in 0..<bits {
            let pos = offset + i
            let mask = UInt8(0x80 >> (pos & 7))
            if (value >> UInt64(bits - 1 - i)) & 1 == 1 { p[pos >> 3] |= mask } else { p[pos >> 3] &= ~mask }
        }
    }

    /// Sign-extends the low `bits` bits of a raw field.
    static func signExtend(_ raw: UInt64, _ bits: Int) -> Int64 {
        if bits == 64 { return Int64(bitPattern: raw) }
        let shift = UInt64(64 - bits)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }

    /// Applies `incr` to a field value under an overflow policy: the new raw field, or nil for FAIL on overflow.
    static func applySigned(_ value: Int64, _ incr: Int64, bits: Int, _ policy: Overflow) -> (Int64, overflowed: Bool)? {
        let maxV: Int64 = bits == 64 ? Int64.max : (Int64(1) << (bits - 1)) - 1
        let minV: Int64 = -maxV - 1
        let (sum, o) = value.addingReportingOverflow(incr)
        var direction = 0
        if o { direction = incr > 0 ? 1 : -1 } else if sum > maxV { direction = 1 } else if sum < minV { direction = -1 }
        if direction == 0 { return (sum, false) }
        switch policy {
        case .fail: return nil
        case .sat: return (direction > 0 ? maxV : minV, true)
        case .wrap:
            let raw = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
            return (signExtend(raw & (bits == 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1), bits), true)
        }
    }

    static func applyUnsigned(_ value: UInt64, _ incr: Int64, bits: Int, _ policy: Overflow) -> (UInt64, overflowed: Bool)? {
        let maxV: UInt64 = (UInt64(1) << UInt64(bits)) - 1
        var direction = 0
        if value > maxV {
            direction = 1
        } else if incr > 0 && UInt64(incr) > maxV - value {
            direction = 1
        } else if incr < 0 && incr.magnitude > value {
            direction = -1
        }
        if direction == 0 {
            return (incr >= 0 ? value + UInt64(incr) : value - incr.magnitude, false)
        }
        switch policy {
        case .fail: return nil
        case .sat: return (direction > 0 ? maxV : 0, true)
        case .wrap: return ((value &+ UInt64(bitPattern: incr)) & maxV, true)
        }
    }

    static func bitfield(_ ctx: CommandContext, readOnly: Bool) {
        var ops: [FieldOp] = []
        var policy = Overflow.wrap
        var writes = false
        var highestBit = 0
        var j = 2
        while j < ctx.argc {
            let remaining = ctx.argc - j - 1
            let sub = ctx.argv[j]
            let kind: FieldOp.Kind
            if sub.equalsIgnoringCase("get") && remaining >= 2 {
                kind = .get
            } else if sub.equalsIgnoringCase("set") && remaining >= 3 {
                kind = .set
            } else if sub.equalsIgnoringCase("incrby") && remaining >= 3 {
                kind = .incrby
            } else if sub.equalsIgnoringCase("overflow") && remaining >= 1 {
                let t = ctx.argv[j + 1]
                if t.equalsIgnoringCase("wrap") { policy = .wrap }
                else if t.equalsIgnoringCase("sat") { policy = .sat }
                else if t.equalsIgnoringCase("fail") { policy = .fail }
                else { return ctx.error("ERR Invalid OVERFLOW type specified") }
                j += 2
                continue
            } else {
                return ctx.syntaxError()
            }
            guard let (signed, bits) = fieldType(ctx, j + 1) else { return }
            guard let offset = fieldOffset(ctx, j + 2, bits: bits) else { return }
            var value = 0
            if kind != .get {
                writes = true
                highestBit = max(highestBit, offset + bits - 1)
                guard let v = ctx.int(j + 3) else { return }
                value = v
            }
            ops.append(FieldOp(kind: kind, signed: signed, bits: bits, offset: offset, value: value, overflow: policy))
            j += kind == .get ? 3 : 4
        }

        let key = ctx.argv[1]
        let db = ctx.db
        if !writes {
            var s = Bytes()
            switch db.lookupRead(key) {
            case nil: break
            case let .string(v)?: s = v
            default: return ctx.wrongType()
            }
            ctx.out.array(ops.count)
            s.raw.withUnsafeBytes { p in
                for op in ops {
                    let raw = readField(p, op.offset, op.bits)
                    ctx.out.integer(op.signed ? Int(signExtend(raw, op.bits)) : Int(raw))
                }
            }
            return
        }
        if readOnly { return ctx.error("ERR BITFIELD_RO only supports the GET subcommand") }

        // Make room up to the farthest bit written, as SETBIT does.
        let needBytes = (highestBit >> 3) + 1
        var grew = false
        if let slot = db.slot(key) {
            guard case .string = db.table.value(at: slot) else { return ctx.wrongType() }
        } else {
            db.add(key, .string(Bytes()))
        }
        var changes = 0
        ctx.out.array(ops.count)
        db.mutate(key) { v in
            guard case var .string(s) = v else { return }
            v = .string(Bytes())
            if s.count < needBytes {
                StringEncoding.growZero(&s.raw, by: needBytes - s.count)
                grew = true
            }
            s.raw.withUnsafeMutableBytes { p in
                for op in ops {
                    let raw = readField(UnsafeRawBufferPointer(p), op.offset, op.bits)
                    if op.kind == .get {
                        ctx.out.integer(op.signed ? Int(signExtend(raw, op.bits)) : Int(raw))
                        continue
                    }
                    let newRaw: UInt64
                    let reply: Int
                    if op.signed {
                        let old = signExtend(raw, op.bits)
                        let r = op.kind == .incrby
                            ? applySigned(old, Int64(op.value), bits: op.bits, op.overflow)
                            : applySigned(Int64(op.value), 0, bits: op.bits, op.overflow)
                        guard let (nv, _) = r else { ctx.out.nullBulk(); continue }
                        newRaw = UInt64(bitPattern: nv)
                        reply = op.kind == .incrby ? Int(nv) : Int(old)
                    } else {
                        let r = op.kind == .incrby
                            ? applyUnsigned(raw, Int64(op.value), bits: op.bits, op.overflow)
                            : applyUnsigned(UInt64(bitPattern: Int64(op.value)), 0, bits: op.bits, op.overflow)
                        guard let (nv, _) = r else { ctx.out.nullBulk(); continue }
                        newRaw = nv
                        reply = op.kind == .incrby ? Int(nv) : Int(raw)
                    }
                    ctx.out.integer(reply)
                    let masked = op.bits == 64 ? newRaw : newRaw & ((UInt64(1) << UInt64(op.bits)) - 1)
                    writeField(p, op.offset, op.bits, masked)
                    if grew || masked != raw { changes += 1 }
                }
            }
            v = .string(s)
        }
        // A BITFIELD with SET/INCRBY makes the string "raw" (Redis unshares it), changed or not.
        if let slot = db.slot(key, touch: false) { db.table.markStringEdited(at: slot) }
        if changes > 0 {
            db.signalModified(key)
            db.notify(KeyspaceEvents.string, "setbit", key)
        }
    }
}
