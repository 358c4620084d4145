import LunarEngine
import LunarRESP

/// Serializes a keyspace into an RDB version 10 file, in a form redis-server 7.0 loads:
///
///     "REDIS0010"  AUX*  [FUNCTION2*]  (SELECTDB RESIZEDB (EXPIRETIME_MS? type key value)*)*  EOF  CRC64
///
/// Values use the types Redis 7.0 itself writes: STRING (integer-encoded when the text is a canonical
/// 32-bit integer, LZF-compressed when long and compressible), QUICKLIST_2 lists of listpack nodes,
/// SET_INTSET / HASH_LISTPACK / ZSET_LISTPACK blobs for compact sets, hashes and sorted sets, and
/// SET / HASH / ZSET_2 (binary doubles) for large ones.
public struct RDBWriter {
    public private(set) var bytes: [UInt8] = []
    /// LZF-compress strings longer than 20 bytes (Redis's rdbcompression).
    public var compress: Bool
    private var lzf = LZF.Compressor()
    /// When set, string values longer than 20 bytes are not encoded here: the value (an immutable,
    /// copy-on-write `Bytes`) is remembered with the offset where it belongs, and `assemble` encodes it
    /// later, on another thread (BGSAVE keeps LZF and the copying off the engine thread).
    var deferLongStrings = false
    /// Keys written so far (rdb-key-save-delay applies per key).
    private(set) var keysWritten = 0
    private(set) var deferred: [(offset: Int, value: Bytes)] = []

    public init(compress: Bool = true, reserve: Int = 0) {
        self.compress = compress
        bytes.reserveCapacity(reserve)
    }

    // MARK: Snapshot API

    /// The whole dataset as RDB bytes (header to checksum). Must run on the engine thread.
    /// `extraAux` adds AUX fields after the standard ones (e.g. repl-id / repl-offset for a full sync).
    /// `compress: false` is `rdbcompression no`; `checksum: false` writes a zero checksum (`rdbchecksum no`).
    /// `includeKeys: false` leaves the databases out (a functions-only file, REPLCONF rdb-filter-only).
    public static func snapshot(_ engine: Engine, extraAux: [(String, String)] = [], compress: Bool = true,
                                checksum: Bool = true, includeKeys: Bool = true) -> [UInt8] {
        var bytes = snapshotBody(engine, extraAux: extraAux, compress: compress, includeKeys: includeKeys)
        appendChecksum(&bytes, checksum: checksum)
        return bytes
    }

    /// Everything up to and including the EOF opcode: the part that must be taken on the engine thread.
    /// `appendChecksum` completes it (BGSAVE does that on its writer thread).
    public static func snapshotBody(_ engine: Engine, extraAux: [(String, String)] = [], compress: Bool = true,
                                    includeKeys: Bool = true) -> [UInt8] {
        var w = RDBWriter(compress: compress, reserve: 1 << 16)
        w.writeBody(engine, extraAux: extraAux, includeKeys: includeKeys)
        return w.bytes
    }

    mutating func writeBody(_ engine: Engine, extraAux: [(String, String)], includeKeys: Bool) {
        writeHeader(extraAux: extraAux)
        if let provider = RDBWriter.functionLibraries {
            for code in provider(engine) {
                byte(RDB.opFunction2)
                string(code.raw)
            }
        }
        let now = unixMillis()
        for db in engine.databases where includeKeys && db.count > 0 {
            writeDatabase(db, now: now)
        }
        byte(RDB.opEOF)
    }

    /// A snapshot taken in two steps: `plan` on the engine thread (everything but the long string
    /// values, which are only referenced), `assemble` anywhere afterwards.
    public struct Plan: @unchecked Sendable {
        let body: [UInt8]
        let deferred: [(offset: Int, value: Bytes)]
        let compress: Bool
        /// How many keys the snapshot holds.
        public let keys: Int

        /// The complete bytes up to and including EOF (what `snapshotBody` would have produced).
        public func assemble() -> [UInt8] {
            if deferred.isEmpty { return body }
            var total = body.count
            for d in deferred { total += d.value.count + 9 }
            var w = RDBWriter(compress: compress, reserve: total)
            var last = 0
            body.withUnsafeBufferPointer { p in
                for d in deferred {
                    w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[last..<d.offset]))
                    w.string(d.value.raw)
                    last = d.offset
                }
                w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[last...]))
            }
            return w.bytes
        }
    }

    /// The engine-thread part of a snapshot (see `Plan`).
    public static func plan(_ engine: Engine, extraAux: [(String, String)] = [], compress: Bool = true,
                            includeKeys: Bool = true) -> Plan {
        var w = RDBWriter(compress: compress, reserve: 1 << 16)
        w.deferLongStrings = true
        w.writeBody(engine, extraAux: extraAux, includeKeys: includeKeys)
        return Plan(body: w.bytes, deferred: w.deferred, compress: compress, keys: w.keysWritten)
    }

    /// Appends the CRC-64 of `bytes` (or zero without `checksum`), little-endian.
    public static func appendChecksum(_ bytes: inout [UInt8], checksum: Bool = true) {
        let crc = checksum ? CRC64.checksum(bytes) : 0
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt64(i)))) }
    }

    /// Set by the server: the source code of every function library (saved as FUNCTION2 records).
    nonisolated(unsafe) public static var functionLibraries: ((Engine) -> [Bytes])?

    // MARK: Sections

    public mutating func writeHeader(extraAux: [(String, String)] = []) {
        bytes.append(contentsOf: Array("REDIS00\(RDB.version)".utf8))
        aux("redis-ver", LunarVersion.redisCompatible)
        aux("redis-bits", String(Int.bitWidth))
        aux("ctime", String(unixMillis() / 1000))
        aux("used-mem", String(MemoryStats.allocated()))
        for (k, v) in extraAux { aux(k, v) }
        // An append-only file's base says so itself (extraAux carries aof-base 1 then).
        if !extraAux.contains(where: { $0.0 == "aof-base" }) { aux("aof-base", "0") }
    }

    public mutating func aux(_ key: String, _ value: String) {
        byte(RDB.opAux)
        string(Array(key.utf8))
        string(Array(value.utf8))
    }

    /// One database: SELECTDB, the RESIZEDB hint, then every live key.
    public mutating func writeDatabase(_ db: Database, now: Int64) {
        byte(RDB.opSelectDB)
        length(db.id)
        byte(RDB.opResizeDB)
        length(db.count)
        length(db.table.volatileCount)
        let table = db.table
        table.forEachSlot { s in
            guard let value = table.value(at: s) else { return }
            let expire = table.expire(at: s)
            // A key whose time has passed is not saved (it is logically gone already).
            if expire != 0 && expire < now { return }
            let access = db.engine.rdbAccessInfo(table.clock(at: s))
            writeEntry(key: table.key(at: s), value: value, expireAt: expire,
                       idleSeconds: access.idleSeconds, frequency: access.frequency)
        }
    }

    /// One key: optional EXPIRETIME_MS, IDLE (LRU policies) or FREQ (LFU policies), the type byte,
    /// the key and the value.
    public mutating func writeEntry(key: Bytes, value: Value, expireAt: Int64,
                                    idleSeconds: Int? = nil, frequency: Int? = nil) {
        keysWritten += 1
        if expireAt != 0 {
            byte(RDB.opExpireTimeMS)
            le64(UInt64(bitPattern: expireAt))
        }
        if let idleSeconds {
            byte(RDB.opIdle)
            length(idleSeconds)
        }
        if let frequency {
            byte(RDB.opFreq)
            byte(UInt8(min(255, max(0, frequency))))
        }
        byte(RDBWriter.typeByte(of: value))
        string(key.raw)
        writeValue(value)
    }

    /// The RDB type byte this writer uses for a value: Redis 7.0's own choice for each representation
    /// (intset and listpack blobs for compact sets, hashes and sorted sets; quicklist-2 for lists).
    public static func typeByte(of value: Value) -> UInt8 {
        switch value {
        case .string: return RDB.typeString
        case .list: return RDB.typeListQuicklist2
        case let .set(s): return s.isIntset ? RDB.typeSetIntset : RDB.typeSet
        case let .hash(h): return h.isListpack ? RDB.typeHashListpack : RDB.typeHash
        case let .zset(z): return z.isCompact ? RDB.typeZSetListpack : RDB.typeZSet2
        case .stream: return RDB.typeStreamListpacks2
        }
    }

    /// A value's body (after its type byte), as DUMP payloads also carry it.
    public mutating func writeValue(_ value: Value) {
        switch value {
        case let .string(s):
            if deferLongStrings && s.count > 20 {
                deferred.append((bytes.count, s))
            } else {
                string(s.raw)
            }
        case let .list(l):
            writeQuicklist(l)
        case let .set(set):
            if set.isIntset {
                var ints: [Int64] = []
                ints.reserveCapacity(set.count)
                set.forEach { if case let .int(v) = $0 { ints.append(v) } }
                string(Listpack.intset(ints))
                return
            }
            length(set.count)
            set.forEach { m in
                switch m {
                case let .int(v): integerString(v)
                case let .bytes(b): string(b.raw)
                }
            }
        case let .hash(h):
            if h.isListpack {
                var lp = Listpack()
                h.forEach { f, v in
                    lp.append(f.raw)
                    lp.append(v.raw)
                }
                string(lp.finish())
                return
            }
            length(h.count)
            h.forEach { f, v in
                string(f.raw)
                string(v.raw)
            }
        case let .zset(z):
            if z.isCompact {
                var lp = Listpack()
                z.forEach { n in
                    lp.append(n.member.raw)
                    lp.appendScore(n.score)
                }
                string(lp.finish())
                return
            }
            length(z.count)
            // Highest score first, as Redis writes them (its loader then inserts at the head cheaply).
            var x = z.last
            while let n = x {
                string(n.member.raw)
                le64(n.score.bitPattern)
                x = n.previous
            }
        case let .stream(st):
            writeStream(st)
        }
    }

    /// A stream as Redis 7.0 saves it (RDB_TYPE_STREAM_LISTPACKS_2): the nodes keyed by their
    /// big-endian master IDs, each a listpack in Redis's node layout (master entry, then entries
    /// delta-encoded against it, tombstones included); the stream's IDs and counters; then each
    /// group with its PEL and its consumers.
    mutating func writeStream(_ st: StreamObject) {
        length(st.nodes.count)
        for n in st.nodes {
            string(n.master.bigEndian)
            var lp = Listpack()
            lp.appendInteger(Int64(n.live))
            lp.appendInteger(Int64(n.deletedCount))
            lp.appendInteger(Int64(n.masterFields.count))
            for f in n.masterFields { lp.append(f.raw) }
            lp.appendInteger(0)
            for e in n.entries {
                let same = n.sameFields(e.fields)
                lp.appendInteger((e.deleted ? 1 : 0) | (same ? 2 : 0))
                lp.appendInteger(Int64(bitPattern: e.id.ms &- n.master.ms))
                lp.appendInteger(Int64(bitPattern: e.id.seq &- n.master.seq))
                if same {
                    for i in stride(from: 1, to: e.fields.count, by: 2) { lp.append(e.fields[i].raw) }
                    lp.appendInteger(Int64(3 + e.fields.count / 2))
                } else {
                    lp.appendInteger(Int64(e.fields.count / 2))
                    for f in e.fields { lp.append(f.raw) }
                    lp.appendInteger(Int64(4 + e.fields.count))
                }
            }
            string(lp.finish())
        }
        length(st.length)
        lengthU64(st.lastID.ms)
        lengthU64(st.lastID.seq)
        lengthU64(st.firstID.ms)
        lengthU64(st.firstID.seq)
        lengthU64(st.maxDeletedID.ms)
        lengthU64(st.maxDeletedID.seq)
        lengthU64(st.entriesAdded)
        let groups = st.sortedGroups
        length(groups.count)
        for g in groups {
            string(g.name.raw)
            lengthU64(g.lastID.ms)
            lengthU64(g.lastID.seq)
            lengthU64(UInt64(bitPattern: g.entriesRead))
            length(g.pel.count)
            for (i, id) in g.pel.keys.enumerated() {
                let n = g.pel.values[i]
                bytes.append(contentsOf: id.bigEndian)
                le64(UInt64(bitPattern: n.deliveryTime))
                lengthU64(n.deliveryCount)
            }
            let consumers = g.sortedConsumers
            length(consumers.count)
            for c in consumers {
                string(c.name.raw)
                le64(UInt64(bitPattern: c.seenTime))
                length(c.pel.count)
                for id in c.pel.keys { bytes.append(contentsOf: id.bigEndian) }
            }
        }
    }

    /// A list as quicklist-2: listpack nodes of at most 8 KB (Redis's default list-max-listpack-size -2),
    /// an element of 8 KB or more alone in its node.
    mutating func writeQuicklist(_ l: ListObject) {
        var nodes: [[UInt8]] = []
        var lp = Listpack()
        for e in l.items {
            if lp.count > 0 && lp.byteSize + e.count + 11 > Listpack.nodeLimit {
                nodes.append(lp.finish())
                lp = Listpack()
            }
            lp.append(e.raw)
        }
        if lp.count > 0 { nodes.append(lp.finish()) }
        length(nodes.count)
        for n in nodes {
            length(RDB.quicklistPacked)
            string(n)
        }
    }

    /// EOF and the checksum of everything before it.
    public mutating func finish(checksum: Bool = true) {
        byte(RDB.opEOF)
        le64(checksum ? CRC64.checksum(bytes) : 0)
    }

    // MARK: Primitives

    @inline(__always) public mutating func byte(_ b: UInt8) { bytes.append(b) }

    public mutating func le64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    public mutating func le32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    /// A length: 6, 14, 32 or 64 bits (the wider ones big-endian after a marker byte).
    public mutating func length(_ n: Int) { lengthU64(UInt64(n)) }

    /// A length from the whole unsigned 64-bit range (stream IDs and counters).
    public mutating func lengthU64(_ u: UInt64) {
        if u < 1 << 6 {
            bytes.append(UInt8(u))
        } else if u < 1 << 14 {
            bytes.append(UInt8(0x40 | (u >> 8)))
            bytes.append(UInt8(u & 0xff))
        } else if u <= UInt64(UInt32.max) {
            bytes.append(RDB.len32)
            for i in (0..<4).reversed() { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        } else {
            bytes.append(RDB.len64)
            for i in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
    }

    /// An integer in the special 8/16/32-bit encodings when it fits, else as decimal text.
    public mutating func integerString(_ v: Int64) {
        if !integer(v) { raw(Array(String(v).utf8)) }
    }

    /// Writes `v` with an integer encoding if it fits in 32 bits; false otherwise.
    @discardableResult
    mutating func integer(_ v: Int64) -> Bool {
        if v >= Int64(Int8.min) && v <= Int64(Int8.max) {
            bytes.append(0xC0 | UInt8(RDB.encInt8))
            bytes.append(UInt8(truncatingIfNeeded: v))
        } else if v >= Int64(Int16.min) && v <= Int64(Int16.max) {
            bytes.append(0xC0 | UInt8(RDB.encInt16))
            bytes.append(UInt8(truncatingIfNeeded: v))
            bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        } else if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
            bytes.append(0xC0 | UInt8(RDB.encInt32))
            for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(i)))) }
        } else {
            return false
        }
        return true
    }

    /// A string: integer-encoded if it is the canonical text of a 32-bit integer, LZF-compressed if
    /// long and that helps, raw otherwise.
    public mutating func string(_ s: [UInt8]) {
        let n = s.count
        if n > 0 && n <= 11, let v = parseStrictInt(s), v >= Int(Int32.min), v <= Int(Int32.max),
           Listpack.canonical(s, v) {
            integer(Int64(v))
            return
        }
        if compress && n > 20, s.withUnsafeBufferPointer({ lzf.compressInto($0) }) {
            bytes.append(0xC0 | UInt8(RDB.encLZF))
            length(lzf.output.count)
            length(n)
            bytes.append(contentsOf: lzf.output)
            return
        }
        raw(s)
    }

    /// A length-prefixed string with no special encoding.
    public mutating func raw(_ s: [UInt8]) {
        length(s.count)
        bytes.append(contentsOf: s)
    }
}

/// Builds the packed blobs Redis 7.0 keeps in RDB files: listpacks (and intsets).
struct Listpack {
    static let nodeLimit = 8192
    private(set) var bytes: [UInt8] = [0, 0, 0, 0, 0, 0]
    private(set) var count = 0
    var byteSize: Int { bytes.count + 1 }

    /// Appends an entry: an integer encoding when the bytes are a canonical int64, else a string.
    mutating func append(_ e: [UInt8]) {
        let start = bytes.count
        if e.count > 0 && e.count <= 20, let v = parseStrictInt(e), Listpack.canonical(e, v) {
            appendInt(Int64(v))
        } else {
            let n = e.count
            if n < 64 {
                bytes.append(0x80 | UInt8(n))
            } else if n < 4096 {
                bytes.append(0xE0 | UInt8(n >> 8))
                bytes.append(UInt8(n & 0xff))
            } else {
                bytes.append(0xF0)
                for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
            }
            bytes.append(contentsOf: e)
        }
        appendBacklen(bytes.count - start)
        count += 1
    }

    /// A sorted-set score as Redis stores it: an integer entry when integral, else its %.17g text.
    mutating func appendScore(_ d: Double) {
        if d.isFinite, d == d.rounded(), abs(d) < 9.0e15 {
            let start = bytes.count
            appendInt(Int64(d))
            appendBacklen(bytes.count - start)
            count += 1
        } else {
            append(Array(formatDouble(d).utf8))
        }
    }

    /// An integer entry (Redis's lpAppendInteger).
    mutating func appendInteger(_ v: Int64) {
        let start = bytes.count
        appendInt(v)
        appendBacklen(bytes.count - start)
        count += 1
    }

    private mutating func appendInt(_ v: Int64) {
        if v >= 0 && v <= 127 {
            bytes.append(UInt8(v))
        } else if v >= -4096 && v <= 4095 {
            let u = UInt16(bitPattern: Int16(v)) & 0x1fff
            bytes.append(0xC0 | UInt8(u >> 8))
            bytes.append(UInt8(u & 0xff))
        } else {
            let width: Int
            if v >= Int64(Int16.min) && v <= Int64(Int16.max) { width = 2; bytes.append(0xF1) }
            else if v >= -(1 << 23) && v < (1 << 23) { width = 3; bytes.append(0xF2) }
            else if v >= Int64(Int32.min) && v <= Int64(Int32.max) { width = 4; bytes.append(0xF3) }
            else { width = 8; bytes.append(0xF4) }
            let u = UInt64(bitPattern: v)
            for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
    }

    /// The entry's size, readable right to left: 7 bits per byte, the high bit set on all but the first.
    private mutating func appendBacklen(_ l: Int) {
        var groups: [UInt8] = []
        var x = l
        repeat {
            groups.append(UInt8(x & 127))
            x >>= 7
        } while x > 0
        for (i, g) in groups.reversed().enumerated() {
            bytes.append(i == 0 ? g : g | 128)
        }
    }

    /// The finished blob: header (total bytes, count) filled in and the end marker added.
    mutating func finish() -> [UInt8] {
        bytes.append(0xFF)
        let total = UInt32(bytes.count)
        for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: total >> (8 * UInt32(i))) }
        let c = UInt16(min(count, 65535))
        bytes[4] = UInt8(c & 0xff)
        bytes[5] = UInt8(c >> 8)
        return bytes
    }

    /// True if `s` is exactly how `v` prints (no sign or zero quirks), so it round-trips as an integer.
    static func canonical(_ s: [UInt8], _ v: Int) -> Bool {
        var u = v < 0 ? v.magnitude : UInt(v)
        var i = s.count - 1
        repeat {
            guard i >= 0, s[i] == UInt8(ascii: "0") + UInt8(u % 10) else { return false }
            u /= 10
            i -= 1
        } while u > 0
        if v < 0 { return i == 0 && s[0] == UInt8(ascii: "-") }
        return i == -1
    }

    /// An intset blob: the narrowest width holding every value, then the values ascending.
    static func intset(_ values: [Int64]) -> [UInt8] {
        var width = 2
        for v in values {
            if v < Int64(Int32.min) || v > Int64(Int32.max) { width = 8; break }
            if v < Int64(Int16.min) || v > Int64(Int16.max) { width = 4 }
        }
        var out: [UInt8] = []
        out.reserveCapacity(8 + width * values.count)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(width) >> (8 * UInt32(i)))) }
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt32(values.count) >> (8 * UInt32(i)))) }
        for v in values.sorted() {
            let u = UInt64(bitPattern: v)
            for i in 0..<width { out.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
        return out
    }
}
