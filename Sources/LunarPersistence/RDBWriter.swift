import LunarEngine
import LunarRESP

/// Serializes a keyspace into an RDB version 10 file, in a form redis-server 7.0 loads:
///
///     "REDIS0010"  AUX*  [FUNCTION2*]  (SELECTDB RESIZEDB (EXPIRETIME_MS? type key value)*)*  EOF  CRC64
///
/// Values use the plainest types Redis 7.0 still reads: STRING (integer-encoded when the text is a
/// canonical 32-bit integer, LZF-compressed when long and compressible), LIST, SET, HASH and ZSET_2
/// (binary doubles). Redis picks its compact in-memory encodings itself when it loads them.
public struct RDBWriter {
    public private(set) var bytes: [UInt8] = []
    /// LZF-compress strings longer than 20 bytes (Redis's rdbcompression).
    public var compress: Bool
    private var lzf = LZF.Compressor()

    public init(compress: Bool = true, reserve: Int = 0) {
        self.compress = compress
        bytes.reserveCapacity(reserve)
    }

    // MARK: Snapshot API

    /// The whole dataset as RDB bytes (header to checksum). Must run on the engine thread.
    /// `extraAux` adds AUX fields after the standard ones (e.g. repl-id / repl-offset for a full sync).
    /// `compress: false` is `rdbcompression no`; `checksum: false` writes a zero checksum (`rdbchecksum no`).
    public static func snapshot(_ engine: Engine, extraAux: [(String, String)] = [], compress: Bool = true,
                                checksum: Bool = true) -> [UInt8] {
        var w = RDBWriter(compress: compress, reserve: 1 << 16)
        w.writeHeader(extraAux: extraAux)
        if let provider = RDBWriter.functionLibraries {
            for code in provider(engine) {
                w.byte(RDB.opFunction2)
                w.string(code.raw)
            }
        }
        let now = unixMillis()
        for db in engine.databases where db.count > 0 {
            w.writeDatabase(db, now: now)
        }
        w.finish(checksum: checksum)
        return w.bytes
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
        aux("aof-base", "0")
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
            writeEntry(key: table.key(at: s), value: value, expireAt: expire)
        }
    }

    /// One key: optional EXPIRETIME_MS, the type byte, the key and the value.
    public mutating func writeEntry(key: Bytes, value: Value, expireAt: Int64) {
        if expireAt != 0 {
            byte(RDB.opExpireTimeMS)
            le64(UInt64(bitPattern: expireAt))
        }
        byte(RDBWriter.typeByte(of: value))
        string(key.raw)
        writeValue(value)
    }

    /// The RDB type byte this writer uses for a value.
    public static func typeByte(of value: Value) -> UInt8 {
        switch value {
        case .string: return RDB.typeString
        case .list: return RDB.typeList
        case .set: return RDB.typeSet
        case .hash: return RDB.typeHash
        case .zset: return RDB.typeZSet2
        }
    }

    /// A value's body (after its type byte), as DUMP payloads also carry it.
    public mutating func writeValue(_ value: Value) {
        switch value {
        case let .string(s):
            string(s.raw)
        case let .list(l):
            length(l.count)
            for e in l.items { string(e.raw) }
        case let .set(set):
            length(set.count)
            set.forEach { m in
                switch m {
                case let .int(v): integerString(v)
                case let .bytes(b): string(b.raw)
                }
            }
        case let .hash(h):
            length(h.count)
            h.forEach { f, v in
                string(f.raw)
                string(v.raw)
            }
        case let .zset(z):
            length(z.count)
            // Highest score first, as Redis writes them (its loader then inserts at the head cheaply).
            var x = z.last
            while let n = x {
                string(n.member.raw)
                le64(n.score.bitPattern)
                x = n.previous
            }
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
    public mutating func length(_ n: Int) {
        let u = UInt64(n)
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
           canonicalDecimal(s, v) {
            integer(Int64(v))
            return
        }
        if compress && n > 20, let c = s.withUnsafeBufferPointer({ lzf.compress($0) }) {
            bytes.append(0xC0 | UInt8(RDB.encLZF))
            length(c.count)
            length(n)
            bytes.append(contentsOf: c)
            return
        }
        raw(s)
    }

    /// A length-prefixed string with no special encoding.
    public mutating func raw(_ s: [UInt8]) {
        length(s.count)
        bytes.append(contentsOf: s)
    }

    /// True if `s` is exactly how `v` prints (no sign or zero quirks), so it round-trips as an integer.
    private func canonicalDecimal(_ s: [UInt8], _ v: Int) -> Bool {
        var u = v < 0 ? v.magnitude : UInt(v)
        var i = s.count - 1
        repeat {
            guard i >= 0, s[i] == UInt8(ascii: "0") + UInt8(u % 10) else { return false }
            u /= 10
            i -= 1
        } while u > 0
        if v < 0 {
            guard i == 0, s[0] == UInt8(ascii: "-") else { return false }
            return true
        }
        return i == -1
    }
}
