import LunarRESP

/// The HyperLogLog family: PFADD, PFCOUNT, PFMERGE and the PFDEBUG / PFSELFTEST tools.
/// An HLL is a string value in Redis's byte layout (see Types/HyperLogLog.swift).
enum HyperLogLogCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("pfadd", arity: -2, flags: [.write, .denyoom, .fast], keys: (1, 1, 1), group: .hyperloglog, since: "2.8.9",
                        summary: "Counts elements into a HyperLogLog, creating it when absent; answers 1 if its estimate may have changed.",
                        complexity: "O(1) for each element added.", syntax: "key [element [element ...]]", handler: pfadd),
            CommandSpec("pfcount", arity: -2, flags: [.readonly, .mayReplicate], keys: (1, -1, 1), group: .hyperloglog, since: "2.8.9",
                        summary: "Estimates the number of distinct elements counted into one HyperLogLog, or into the union of several.",
                        complexity: "O(1) with a single key (cached), O(N) with N keys.", syntax: "key [key ...]", handler: pfcount),
            CommandSpec("pfmerge", arity: -2, flags: [.write, .denyoom], keys: (1, -1, 1), group: .hyperloglog, since: "2.8.9",
                        summary: "Stores in the destination the union of the destination and the source HyperLogLogs.",
                        complexity: "O(N) to merge N HyperLogLogs.", syntax: "destkey [sourcekey [sourcekey ...]]", handler: pfmerge),
            CommandSpec("pfdebug", arity: 3, flags: [.write, .denyoom, .admin], keys: (2, 2, 1), group: .hyperloglog, since: "2.8.9",
                        summary: "Internal tool: shows the registers, opcodes or encoding of a HyperLogLog, or makes it dense.",
                        complexity: "N/A", syntax: "subcommand key", handler: pfdebug),
            CommandSpec("pfselftest", arity: 1, flags: [.admin], group: .hyperloglog, since: "2.8.9",
                        summary: "Internal tool: checks the HyperLogLog register packing and estimator.",
                        complexity: "N/A", handler: pfselftest),
        ]
    }

    /// Checks that a value found under a key is an HLL; writes Redis's error otherwise.
    private static func checkHLL(_ ctx: CommandContext, _ value: Value) -> Bool {
        guard case let .string(s) = value else {
            ctx.wrongType()
            return false
        }
        if !HyperLogLog.isValid(s.raw) {
            ctx.error(HyperLogLog.notHLL)
            return false
        }
        return true
    }

    /// Edits the HLL string at `slot` in place (the value is taken out first so the bytes are not copied).
    private static func editHLL<R>(_ db: Database, _ slot: Int, _ body: (inout [UInt8]) -> R) -> R {
        db.table.withValue(at: slot) { v -> R in
            guard case var .string(s) = v else { fatalError("HLL slot holds no string") }
            v = .string(Bytes())
            defer { v = .string(s) }
            return body(&s.raw)
        }
    }

    static func pfadd(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        let db = ctx.db
        var updated = 0
        let slot: Int
        if let s = db.slot(key) {
            guard checkHLL(ctx, db.table.value(at: s)!) else { return }
            slot = s
        } else {
            slot = db.add(key, .string(Bytes(HyperLogLog.empty())))
            updated = 1
        }
        let maxBytes = ctx.engine.encodingLimits.hllSparseMaxBytes
        db.table.markStringEdited(at: slot)   // Redis's PFADD unshares the HLL: a "raw" string
        let corrupt = editHLL(db, slot) { s -> Bool in
            for i in 2..<ctx.argc {
                switch HyperLogLog.add(&s, ctx.argv[i], sparseMaxBytes: maxBytes) {
                case 1: updated += 1
                case -1: return true
                default: break
                }
            }
            if updated > 0 { HyperLogLog.invalidateCache(&s) }
            return false
        }
        // As Redis: registers changed before a corrupt spot stay changed, but nothing is announced.
        if corrupt { return ctx.error(HyperLogLog.corrupted) }
        if updated > 0 {
            db.signalModified(key)
            ctx.notify(KeyspaceEvents.string, "pfadd", key)
            ctx.engine.dirty &+= updated - 1   // Redis counts one change per register updated
        }
        ctx.out.integer(updated > 0 ? 1 : 0)
    }

    static func pfcount(_ ctx: CommandContext) {
        let db = ctx.db
        if ctx.argc > 2 {
            // Several keys: the estimate of their union, computed on a scratch copy of the registers.
            var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
            for i in 1..<ctx.argc {
                guard let v = db.lookupRead(ctx.argv[i]) else { continue }
                guard checkHLL(ctx, v) else { return }
                guard case let .string(s) = v, HyperLogLog.merge(into: &registers, s.raw) else {
                    return ctx.error(HyperLogLog.corrupted)
                }
            }
            ctx.out.integer(Int(bitPattern: UInt(HyperLogLog.estimate(HyperLogLog.histogram(registers: registers)))))
            return
        }
        let key = ctx.argv[1]
        guard let v = db.lookupRead(key) else { return ctx.out.integer(0) }
        guard checkHLL(ctx, v), case let .string(s) = v else { return }
        if HyperLogLog.hasValidCache(s.raw) {
            return ctx.out.integer(Int(bitPattern: UInt(HyperLogLog.cachedCardinality(s.raw))))
        }
        guard let h = HyperLogLog.histogram(s.raw) else { return ctx.error(HyperLogLog.corrupted) }
        let card = HyperLogLog.estimate(h)
        // Storing the estimate changes the string, so (as in Redis) this read command is a write
        // for WATCH and propagation.
        if let slot = db.slot(key, touch: false) {
            editHLL(db, slot) { HyperLogLog.setCachedCardinality(&$0, card) }
        }
        db.signalModified(key)
        ctx.out.integer(Int(bitPattern: UInt(card)))
    }

    static func pfmerge(_ ctx: CommandContext) {
        let db = ctx.db
        var registers = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        var useDense = false
        // The destination is a source too.
        for i in 1..<ctx.argc {
            guard let v = db.lookupRead(ctx.argv[i]) else { continue }
            guard checkHLL(ctx, v), case let .string(s) = v else { return }
            if s.raw[4] == HyperLogLog.encDense { useDense = true }
            guard HyperLogLog.merge(into: &registers, s.raw) else { return ctx.error(HyperLogLog.corrupted) }
        }
        let key = ctx.argv[1]
        let slot = db.slot(key) ?? db.add(key, .string(Bytes(HyperLogLog.empty())))
        let maxBytes = ctx.engine.encodingLimits.hllSparseMaxBytes
        db.table.markStringEdited(at: slot)
        let ok = editHLL(db, slot) { s -> Bool in
            // A dense source makes the destination dense at once rather than by promotion.
            if useDense && !HyperLogLog.toDense(&s) { return false }
            for j in 0..<HyperLogLog.registerCount where registers[j] != 0 {
                _ = HyperLogLog.set(&s, j, Int(registers[j]), sparseMaxBytes: maxBytes)
            }
            HyperLogLog.invalidateCache(&s)
            return true
        }
        if !ok { return ctx.error(HyperLogLog.corrupted) }
        db.signalModified(key)
        // Redis announces a merge as "pfadd".
        ctx.notify(KeyspaceEvents.string, "pfadd", key)
        ctx.ok()
    }

    static func pfdebug(_ ctx: CommandContext) {
        let sub = ctx.argv[1]
        let key = ctx.argv[2]
        let db = ctx.db
        guard let slot = db.slot(key) else { return ctx.error("ERR The specified key does not exist") }
        guard checkHLL(ctx, db.table.value(at: slot)!) else { return }
        let isSparse: Bool = {
            guard case let .string(s) = db.table.value(at: slot) else { return false }
            return s.raw[4] == HyperLogLog.encSparse
        }()
        if sub.equalsIgnoringCase("getreg") || sub.equalsIgnoringCase("todense") {
            if isSparse {
                guard editHLL(db, slot, { HyperLogLog.toDense(&$0) }) else { return ctx.error(HyperLogLog.corrupted) }
                // Redis only counts the change (so it propagates); it does not signal WATCHers.
                ctx.engine.dirty &+= 1
            }
            if sub.equalsIgnoringCase("todense") { return ctx.out.integer(isSparse ? 1 : 0) }
            guard case let .string(s) = db.table.value(at: slot) else { return }
            ctx.out.array(HyperLogLog.registerCount)
            for i in 0..<HyperLogLog.registerCount { ctx.out.integer(HyperLogLog.denseGet(s.raw, i)) }
        } else if sub.equalsIgnoringCase("decode") {
            guard isSparse, case let .string(str) = db.table.value(at: slot) else {
                return ctx.error("ERR HLL encoding is not sparse")
            }
            let s = str.raw
            var parts: [String] = []
            var p = HyperLogLog.headerSize
            while p < s.count {
                let op = s[p]
                if HyperLogLog.isZero(op) {
                    parts.append("z:\(HyperLogLog.zeroLen(op))")
                    p += 1
                } else if HyperLogLog.isXZero(op) {
                    parts.append("Z:\(HyperLogLog.xzeroLen(op, HyperLogLog.byte(s, p + 1)))")
                    p += 2
                } else {
                    parts.append("v:\(HyperLogLog.valValue(op)),\(HyperLogLog.valLen(op))")
                    p += 1
                }
            }
            ctx.out.bulk(parts.joined(separator: " "))
        } else if sub.equalsIgnoringCase("encoding") {
            ctx.out.simple(isSparse ? "sparse" : "dense")
        } else {
            ctx.error(quoting: "ERR Unknown PFDEBUG subcommand '\(quoted: sub)'")
        }
    }

    /// Checks the dense register packing with random values, then counts ten million distinct
    /// elements into a dense and a sparse HLL side by side: at each power of ten both must agree and
    /// stay within six standard errors of the truth (the sparse one staying sparse while small).
    static func pfselftest(_ ctx: CommandContext) {
        var rng = FastRandom()
        var dense = [UInt8](repeating: 0, count: HyperLogLog.denseSize)
        var expected = [UInt8](repeating: 0, count: HyperLogLog.registerCount)
        for _ in 0..<1000 {
            for i in 0..<HyperLogLog.registerCount {
                let r = UInt8(truncatingIfNeeded: rng.next() & UInt64(HyperLogLog.registerMax))
                expected[i] = r
                HyperLogLog.denseSetRegister(&dense, base: HyperLogLog.headerSize, i, Int(r))
            }
            for i in 0..<HyperLogLog.registerCount {
                let got = HyperLogLog.denseGet(dense, i)
                if got != Int(expected[i]) {
                    return ctx.error("TESTFAILED Register \(i) should be \(expected[i]) but is \(got)")
                }
            }
        }

        for i in HyperLogLog.headerSize..<dense.count { dense[i] = 0 }
        dense[4] = HyperLogLog.encDense
        var sparse = HyperLogLog.empty()
        let maxBytes = ctx.engine.encodingLimits.hllSparseMaxBytes
        let relErr = 1.04 / Double(HyperLogLog.registerCount).squareRoot()
        var checkpoint = 1
        let seed = rng.next()
        for j in 1...10_000_000 {
            var ele = UInt64(j) ^ seed
            withUnsafeBytes(of: &ele) { p in
                let (index, count) = HyperLogLog.position(of: p)
                HyperLogLog.denseSet(&dense, index, count)
                _ = HyperLogLog.set(&sparse, index, count, sparseMaxBytes: maxBytes)
            }
            guard j == checkpoint else { continue }
            if j < maxBytes / 2 && sparse[4] != HyperLogLog.encSparse {
                return ctx.error("TESTFAILED sparse encoding not used")
            }
            let denseCount = HyperLogLog.estimate(HyperLogLog.histogram(dense)!)
            if denseCount != HyperLogLog.histogram(sparse).map(HyperLogLog.estimate) {
                return ctx.error("TESTFAILED dense/sparse disagree")
            }
            // Cardinality 10 may collide now and then; allow it one off.
            let maxErr = j == 10 ? 1 : Int((relErr * 6 * Double(checkpoint)).rounded(.up))
            let absErr = abs(checkpoint - Int(denseCount))
            if absErr > maxErr {
                return ctx.error("TESTFAILED Too big error. card:\(checkpoint) abserr:\(absErr)")
            }
            checkpoint *= 10
        }
        ctx.ok()
    }
}
