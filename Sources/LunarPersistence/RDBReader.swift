import DequeModule
import LunarEngine
import LunarRESP

/// Why an RDB file could not be loaded (the message is what the log says).
public struct RDBError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// What a load did.
public struct RDBLoadStats {
    public var keysLoaded = 0
    public var keysExpired = 0
    public var version = 0
    public var aux: [(String, String)] = []
    public var functionsLoaded = 0
}

/// Reads an RDB file (versions 1…10) into an engine's databases: every value type Redis 7.0 writes
/// (plain, intset, listpack, quicklist-2) and the older ziplist/quicklist/zipmap forms; LZF strings;
/// the checksum is verified. Keys whose expiry has passed are dropped, as a master does on load.
public struct RDBReader {
    let data: [UInt8]
    var pos = 0
    let engine: Engine
    /// Unix ms used to decide which keys have already expired (nil: keep them all, as a replica does).
    let expireBefore: Int64?
    /// A key already present is replaced (DEBUG RELOAD MERGE) instead of being an error.
    public var allowDuplicates = false
    /// Verify the trailing CRC-64 (`rdbchecksum yes`); a zero checksum always means "not computed".
    public var verifyChecksum = true
    private var setMaxIntset = 512
    private var hashMaxEntries = 512, hashMaxValue = 64
    /// key-load-delay (µs per key, a testing aid).
    private var keyLoadDelay = 0
    /// Start-up loading: called with the offset reached every `loading-process-events-interval-bytes`
    /// of the file (the engine answers clients meanwhile, see Engine.serveWhileLoading).
    public var progress: ((Int) -> Void)?
    private var progressInterval = 2 << 20
    private var nextProgress = 0
    private var zsetMaxEntries = 128, zsetMaxValue = 64

    /// Set by the server: loads one function library's source (FUNCTION2 records); returns an error
    /// text. The flags: keep a library of the same name that is already loaded (start-up); replace it
    /// (otherwise it is an error).
    nonisolated(unsafe) public static var functionLoader: ((Engine, Bytes, Bool, Bool) -> String?)?
    /// Set by the server: deletes every function library (DEBUG RELOAD empties functions with the
    /// data before loading, as Redis's emptyData does).
    nonisolated(unsafe) public static var functionFlusher: ((Engine) -> Void)?
    /// Libraries already loaded win over the file's copies (start-up, after `lua-library-dir`).
    public var keepExistingLibraries = false
    /// A library that already exists fails the load (DEBUG RELOAD NOFLUSH without MERGE, as Redis).
    public var refuseExistingLibraries = false
    /// Where the RDB image ended (after its checksum) once `load` returned: an append-only file's
    /// base may carry commands after it.
    public private(set) var endOffset = 0

    public init(data: [UInt8], engine: Engine, expireBefore: Int64?) {
        self.data = data
        self.engine = engine
        self.expireBefore = expireBefore
        let c = engine.config
        keyLoadDelay = c.int("key-load-delay")
        progressInterval = max(1, c.int("loading-process-events-interval-bytes"))
        setMaxIntset = c.int("set-max-intset-entries")
        hashMaxEntries = c.int("hash-max-listpack-entries")
        hashMaxValue = c.int("hash-max-listpack-value")
        zsetMaxEntries = c.int("zset-max-listpack-entries")
        zsetMaxValue = c.int("zset-max-listpack-value")
    }

    /// Loads the whole file into the engine's databases (which the caller has emptied if it wants).
    /// Runs on the engine thread, or before the engine starts.
    public mutating func load() throws -> RDBLoadStats {
        var stats = RDBLoadStats()
        guard data.count >= 9, Array(data[0..<5]) == Array("REDIS".utf8) else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard let version = Int(String(decoding: data[5..<9], as: UTF8.self)), version >= 1 else {
            throw RDBError("Wrong signature trying to load DB from file")
        }
        guard version <= RDB.version else {
            throw RDBError("Can't handle RDB format version \(version)")
        }
        stats.version = version
        pos = 9
        var db = engine.databases[0]
        var expireAt: Int64 = 0
        // The access clock facts recorded before the next key (Redis's IDLE and FREQ opcodes).
        var idleSeconds: Int? = nil
        var frequency: Int? = nil
        while true {
            let type = try u8()
            switch type {
            case RDB.opExpireTime:
                expireAt = Int64(try le32()) * 1000
                continue
            case RDB.opExpireTimeMS:
                expireAt = Int64(bitPattern: try le64())
                continue
            case RDB.opFreq:
                frequency = Int(try u8())
                continue
            case RDB.opIdle:
                idleSeconds = try length()
                continue
            case RDB.opEOF:
                try verifyChecksum(version: version)
                endOffset = version >= 5 ? min(pos + 8, data.count) : pos
                return stats
            case RDB.opSelectDB:
                let id = try length()
                guard id < engine.databases.count else {
                    throw RDBError("FATAL: Data file was created with a Redis server configured to handle more than \(engine.databases.count) databases. Exiting")
                }
                db = engine.databases[id]
                continue
            case RDB.opResizeDB:
                let keys = try length()
                _ = try length()
                // Only a hint: bounded so a damaged file cannot ask for absurd memory.
                db.table.reserve(additional: min(keys, data.count / 4))
                continue
            case RDB.opAux:
                let k = try string()
                let v = try string()
                stats.aux.append((String(decoding: k, as: UTF8.self), String(decoding: v, as: UTF8.self)))
                if engine.loadingProgress != nil && k.elementsEqual("used-mem".utf8) {
                    engine.loadingProgress?.rdbUsedMem = Int(String(decoding: v, as: UTF8.self)) ?? 0
                }
                continue
            case RDB.opModuleAux:
                throw RDBError("The RDB file contains AUX module data I can't load: no matching module")
            case RDB.opFunction2:
                let code = Bytes(try string())
                guard let loader = RDBReader.functionLoader else {
                    throw RDBError("Failed loading library: functions are not available")
                }
                if let err = loader(engine, code, keepExistingLibraries, !refuseExistingLibraries) { throw RDBError("Failed loading library: \(err)") }
                stats.functionsLoaded += 1
                continue
            case RDB.opFunctionPreGA:
                throw RDBError("Pre-release function format not supported.")
            default:
                break
            }
            // A key-value pair of type `type`.
            let key = Bytes(try string())
            let value = try readValue(type: type)
            let expire = expireAt
            expireAt = 0
            let clock = (idleSeconds != nil || frequency != nil) ? engine.clockFromRDB(idleSeconds: idleSeconds, frequency: frequency) : nil
            idleSeconds = nil
            frequency = nil
            guard let value else { continue }   // an empty aggregate: skipped, as Redis does
            if expire != 0, let cutoff = expireBefore, expire < cutoff {
                stats.keysExpired += 1
                continue
            }
            if let old = db.table.slot(of: key) {
                if allowDuplicates {
                    db.table.remove(slot: old)
                } else {
                    throw RDBError("RDB has duplicated key '\(key.string)' in DB \(db.id)")
                }
            }
            if keyLoadDelay != 0 { Persistence.debugDelay(keyLoadDelay) }
            let slot = db.add(key, value, notifyNew: false)
            if expire != 0 { db.table.setExpire(slot: slot, expire) }
            if let clock { db.table.setClock(at: slot, clock) }
            stats.keysLoaded += 1
            if let progress, pos >= nextProgress {
                nextProgress = pos + progressInterval
                progress(pos)
            }
        }
    }

    private func verifyChecksum(version: Int) throws {
        // Versions 5 and later end with a CRC-64 of everything before it (0 when checksums were off).
        guard version >= 5, verifyChecksum else { return }
        guard pos + 8 <= data.count else { throw RDBError("Short read or OOM loading DB. Unrecoverable error, aborting now.") }
        var expected: UInt64 = 0
        for i in 0..<8 { expected |= UInt64(data[pos + i]) << (8 * UInt64(i)) }
        if expected == 0 { return }
        var c = CRC64()
        c.update(data[0..<pos])
        if c.value != expected {
            // Redis's words (the computed sum "expected", the file's "got"), and its "RDB CRC error".
            throw RDBError("Wrong RDB checksum expected: (\(String(c.value, radix: 16))) but got (\(String(expected, radix: 16))). Aborting now. RDB CRC error")
        }
    }

    // MARK: Values

    /// Reads a value body of `type`; nil for an empty aggregate (which Redis skips).
    mutating func readValue(type: UInt8) throws -> Value? {
        switch type {
        case RDB.typeString:
            return .string(Bytes(try string()))
        case RDB.typeList:
            let n = try length()
            var items = Deque<Bytes>()
            for _ in 0..<n { items.append(Bytes(try string())) }
            return items.isEmpty ? nil : .list(ListObject(items))
        case RDB.typeSet:
            let n = try length()
            var members: [Bytes] = []
            members.reserveCapacity(min(n, 1 << 20))
            for _ in 0..<n { members.append(Bytes(try string())) }
            return try makeSet(members)
        case RDB.typeZSet, RDB.typeZSet2:
            let n = try length()
            var pairs: [(Bytes, Double)] = []
            pairs.reserveCapacity(min(n, 1 << 20))
            for _ in 0..<n {
                let m = Bytes(try string())
                let score = type == RDB.typeZSet2 ? Double(bitPattern: try le64()) : try textDouble()
                pairs.append((m, score))
            }
            return try makeZSet(pairs)
        case RDB.typeHash:
            let n = try length()
            var pairs: [(Bytes, Bytes)] = []
            pairs.reserveCapacity(min(n, 1 << 20))
            for _ in 0..<n {
                let f = Bytes(try string())
                let v = Bytes(try string())
                pairs.append((f, v))
            }
            return try makeHash(pairs)
        case RDB.typeSetIntset:
            let blob = try string()
            return try makeSet(try Packed.intset(blob))
        case RDB.typeListZiplist:
            let items = try Packed.ziplist(try string())
            return items.isEmpty ? nil : .list(ListObject(Deque(items)))
        case RDB.typeZSetZiplist, RDB.typeZSetListpack:
            let blob = try string()
            let flat = type == RDB.typeZSetListpack ? try Packed.listpack(blob) : try Packed.ziplist(blob)
            return try makeZSet(try scorePairs(flat))
        case RDB.typeHashZiplist, RDB.typeHashListpack:
            let blob = try string()
            let flat = type == RDB.typeHashListpack ? try Packed.listpack(blob) : try Packed.ziplist(blob)
            guard flat.count % 2 == 0 else { throw RDBError("Hash listpack with an odd number of entries") }
            return try makeHash(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
        case RDB.typeHashZipmap:
            let flat = try Packed.zipmap(try string())
            return try makeHash(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
        case RDB.typeListQuicklist, RDB.typeListQuicklist2:
            let nodes = try length()
            var items = Deque<Bytes>()
            for _ in 0..<nodes {
                var container = RDB.quicklistPacked
                if type == RDB.typeListQuicklist2 { container = try length() }
                let blob = try string()
                if container == RDB.quicklistPlain {
                    items.append(Bytes(blob))
                } else if container == RDB.quicklistPacked {
                    let entries = type == RDB.typeListQuicklist2 ? try Packed.listpack(blob) : try Packed.ziplist(blob)
                    items.append(contentsOf: entries)
                } else {
                    throw RDBError("Quicklist integrity check failed: unknown node container \(container)")
                }
            }
            return items.isEmpty ? nil : .list(ListObject(items))
        case RDB.typeStreamListpacks, RDB.typeStreamListpacks2:
            return .stream(try readStream(v2: type == RDB.typeStreamListpacks2))
        case RDB.typeModulePreGA, RDB.typeModule2:
            throw RDBError("The RDB file contains module data I can't load: no matching module")
        default:
            throw RDBError("Unknown RDB encoding type \(type)")
        }
    }

    /// A stream in Redis's RDB layout (see RDBWriter.writeStream); version 1 lacks the first and
    /// max-deleted IDs, the added-entries count and the groups' entries-read.
    mutating func readStream(v2: Bool) throws -> StreamObject {
        let st = StreamObject()
        let bad = RDBError("Stream integrity check failed.")
        func int(_ b: Bytes) throws -> Int64 {
            guard let v = parseStrictInt(b.raw) else { throw bad }
            return Int64(v)
        }
        let nodeCount = try length()
        var live = 0
        for _ in 0..<nodeCount {
            let keyBytes = try string()
            guard let master = StreamID(bigEndian: keyBytes) else { throw RDBError("Stream node key entry is not the size of a stream ID") }
            let lp = try Packed.listpack(try string())
            guard lp.count >= 4 else { throw RDBError("Empty listpack inside stream") }
            var i = 0
            func next() throws -> Bytes {
                guard i < lp.count else { throw bad }
                defer { i += 1 }
                return lp[i]
            }
            let declaredLive = try int(try next())
            let declaredDeleted = try int(try next())
            let nf = try int(try next())
            guard nf >= 0 && nf <= lp.count else { throw bad }
            var mf: [Bytes] = []
            for _ in 0..<nf { mf.append(try next()) }
            guard try int(try next()) == 0 else { throw bad }
            let node = StreamNode(master: master, masterFields: mf)
            while i < lp.count {
                let flags = try int(try next())
                let ms = master.ms &+ UInt64(bitPattern: try int(try next()))
                let seq = master.seq &+ UInt64(bitPattern: try int(try next()))
                var fields: [Bytes] = []
                if flags & 2 != 0 {
                    for f in mf {
                        fields.append(f)
                        fields.append(try next())
                    }
                } else {
                    let n = try int(try next())
                    guard n >= 0 && n <= lp.count else { throw bad }
                    for _ in 0..<(2 * n) { fields.append(try next()) }
                }
                _ = try next()   // lp-count
                let id = StreamID(ms, seq)
                if let last = node.entries.last, last.id >= id { throw bad }
                node.append(StreamEntry(id: id, fields: fields, deleted: flags & 1 != 0))
            }
            guard node.live == declaredLive, node.deletedCount == declaredDeleted else { throw bad }
            if let prev = st.nodes.last, prev.lastID >= master { throw bad }
            live += node.live
            st.nodes.append(node)
        }
        st.length = try length()
        guard st.length == live else { throw bad }
        st.lastID = StreamID(try lengthU64(), try lengthU64())
        if v2 {
            st.firstID = StreamID(try lengthU64(), try lengthU64())
            st.maxDeletedID = StreamID(try lengthU64(), try lengthU64())
            st.entriesAdded = try lengthU64()
        } else {
            st.firstID = st.edge(first: true)?.0 ?? .zero
            st.entriesAdded = UInt64(st.length)
        }
        let groupCount = try length()
        for _ in 0..<groupCount {
            let name = Bytes(try string())
            let lastID = StreamID(try lengthU64(), try lengthU64())
            var entriesRead: Int64
            if v2 {
                entriesRead = Int64(bitPattern: try lengthU64())
            } else {
                entriesRead = st.estimateDistance(lastID)
            }
            guard st.groups[name] == nil else { throw RDBError("Duplicated consumer group name") }
            let g = StreamGroup(name: name, lastID: lastID, entriesRead: entriesRead)
            st.groups[name] = g
            let placeholder = StreamConsumer(name: Bytes(), seenTime: 0)
            let pelCount = try length()
            for _ in 0..<pelCount {
                guard let id = StreamID(bigEndian: try rawBytes(16)) else { throw bad }
                let time = Int64(bitPattern: try le64())
                let count = try lengthU64()
                guard g.pel.set(id, PendingEntry(consumer: placeholder, deliveryTime: time, deliveryCount: count)) else {
                    throw RDBError("Duplicated global PEL entry loading stream consumer group")
                }
            }
            let consumerCount = try length()
            for _ in 0..<consumerCount {
                let cname = Bytes(try string())
                let seen = Int64(bitPattern: try le64())
                let c = StreamConsumer(name: cname, seenTime: seen)
                guard g.consumers[cname] == nil else { throw RDBError("Duplicated consumer name") }
                g.consumers[cname] = c
                let n = try length()
                for _ in 0..<n {
                    guard let id = StreamID(bigEndian: try rawBytes(16)), let nack = g.pel[id] else {
                        throw RDBError("Consumer entry not found in group global PEL")
                    }
                    guard nack.consumer === placeholder else { throw RDBError("Duplicated consumer PEL entry loading a stream consumer group") }
                    nack.consumer = c
                    c.pel.set(id, nack)
                }
            }
            for nack in g.pel.values where nack.consumer === placeholder {
                throw RDBError("Stream PEL entry without a consumer")
            }
        }
        return st
    }

    mutating func rawBytes(_ n: Int) throws -> [UInt8] {
        guard pos + n <= data.count else { throw short() }
        defer { pos += n }
        return Array(data[pos..<(pos + n)])
    }

    /// A length over the whole unsigned 64-bit range.
    mutating func lengthU64() throws -> UInt64 {
        let b = try u8()
        switch b >> 6 {
        case RDB.len6: return UInt64(b & 0x3f)
        case RDB.len14: return UInt64(b & 0x3f) << 8 | UInt64(try u8())
        default:
            if b == RDB.len32 { return try be(4) }
            if b == RDB.len64 { return try be(8) }
            throw RDBError("Unknown length encoding \(b) in rdbLoadLen()")
        }
    }

    private func scorePairs(_ flat: [Bytes]) throws -> [(Bytes, Double)] {
        guard flat.count % 2 == 0 else { throw RDBError("Zset listpack with an odd number of entries") }
        var out: [(Bytes, Double)] = []
        out.reserveCapacity(flat.count / 2)
        var i = 0
        while i < flat.count {
            guard let d = parseScore(flat[i + 1]) else { throw RDBError("Zset listpack holds a bad score") }
            out.append((flat[i], d))
            i += 2
        }
        return out
    }

    /// A score as a listpack holds it: integer entries, or text written with %.17g ("inf", "-inf" too).
    private func parseScore(_ b: Bytes) -> Double? {
        guard let d = Double(b.string), !d.isNaN else { return nil }
        return d
    }

    private func makeSet(_ members: [Bytes]) throws -> Value? {
        if members.isEmpty { return nil }
        let s: SetObject
        if members.count > setMaxIntset {
            s = SetObject.hashtable()
            for m in members { _ = s.add(m, maxIntsetEntries: setMaxIntset) }
        } else {
            s = SetObject(members: members, maxIntsetEntries: setMaxIntset)
        }
        guard s.count == members.count else { throw RDBError("Duplicate set members detected") }
        return .set(s)
    }

    private func makeHash(_ pairs: [(Bytes, Bytes)]) throws -> Value? {
        if pairs.isEmpty { return nil }
        let h = HashObject()
        if pairs.count > hashMaxEntries { h.convertToHashtable() }
        for (f, v) in pairs { _ = h.set(f, v, maxEntries: hashMaxEntries, maxValue: hashMaxValue) }
        guard h.count == pairs.count else { throw RDBError("Duplicate hash fields detected") }
        return .hash(h)
    }

    private func makeZSet(_ pairs: [(Bytes, Double)]) throws -> Value? {
        if pairs.isEmpty { return nil }
        let z = ZSetObject()
        z.beginBuilding()
        for (m, s) in pairs {
            guard !s.isNaN else { throw RDBError("Zset with NAN score detected") }
            if z.contains(m) { throw RDBError("Duplicate zset fields detected") }
            _ = z.insert(m, score: s)
        }
        z.settleEncoding(maxEntries: zsetMaxEntries, maxValue: zsetMaxValue)
        return .zset(z)
    }

    // MARK: Primitives

    private func short() -> RDBError { RDBError("Short read or OOM loading DB. Unrecoverable error, aborting now.") }

    mutating func u8() throws -> UInt8 {
        guard pos < data.count else { throw short() }
        defer { pos += 1 }
        return data[pos]
    }

    mutating func le32() throws -> UInt32 {
        guard pos + 4 <= data.count else { throw short() }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(data[pos + i]) << (8 * UInt32(i)) }
        pos += 4
        return v
    }

    mutating func le64() throws -> UInt64 {
        guard pos + 8 <= data.count else { throw short() }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(data[pos + i]) << (8 * UInt64(i)) }
        pos += 8
        return v
    }

    private mutating func be(_ n: Int) throws -> UInt64 {
        guard pos + n <= data.count else { throw short() }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(data[pos + i]) }
        pos += n
        return v
    }

    /// A length, or (encoded: true, special encoding number) for a specially encoded string.
    mutating func lengthOrEncoding() throws -> (Int, encoded: Bool) {
        let b = try u8()
        switch b >> 6 {
        case RDB.len6: return (Int(b & 0x3f), false)
        case RDB.len14: return (Int(b & 0x3f) << 8 | Int(try u8()), false)
        case RDB.lenEncoded: return (Int(b & 0x3f), true)
        default:
            if b == RDB.len32 { return (Int(try be(4)), false) }
            if b == RDB.len64 {
                let v = try be(8)
                guard v <= UInt64(Int.max) else { throw RDBError("Length out of range") }
                return (Int(v), false)
            }
            throw RDBError("Unknown length encoding \(b) in rdbLoadLen()")
        }
    }

    mutating func length() throws -> Int {
        let (n, encoded) = try lengthOrEncoding()
        guard !encoded else { throw RDBError("Unexpected encoded length") }
        return n
    }

    /// A string in any of its encodings, as bytes.
    mutating func string() throws -> [UInt8] {
        let (n, encoded) = try lengthOrEncoding()
        if !encoded {
            guard n <= data.count - pos else { throw short() }
            defer { pos += n }
            return Array(data[pos..<(pos + n)])
        }
        switch n {
        case RDB.encInt8:
            return Array(String(Int8(bitPattern: try u8())).utf8)
        case RDB.encInt16:
            let lo = UInt16(try u8()), hi = UInt16(try u8())
            return Array(String(Int16(bitPattern: lo | hi << 8)).utf8)
        case RDB.encInt32:
            return Array(String(Int32(bitPattern: try le32())).utf8)
        case RDB.encLZF:
            let clen = try length()
            let len = try length()
            guard clen <= data.count - pos else { throw short() }
            // LZF expands at most ~132 times (a 2-byte reference yields up to 264 bytes).
            guard len <= clen * 132 + 32 else { throw RDBError("Invalid LZF compressed string") }
            defer { pos += clen }
            guard let out = LZF.decompress(data[pos..<(pos + clen)], length: len) else {
                throw RDBError("Invalid LZF compressed string")
            }
            return out
        default:
            throw RDBError("Unknown RDB string encoding type \(n)")
        }
    }

    /// An old-style (ZSET type 3) score: a length byte then the text (253 nan, 254 +inf, 255 -inf).
    private mutating func textDouble() throws -> Double {
        let n = try u8()
        switch n {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            guard pos + Int(n) <= data.count else { throw short() }
            let text = String(decoding: data[pos..<(pos + Int(n))], as: UTF8.self)
            pos += Int(n)
            guard let d = Double(text) else { throw RDBError("Bad double value") }
            return d
        }
    }
}

/// Decoders for the packed blobs RDB files embed: intset, listpack, ziplist and zipmap.
enum Packed {
    static func bad(_ what: String) -> RDBError { RDBError("\(what) integrity check failed.") }

    /// An intset: encoding width (2, 4 or 8), count, then little-endian integers.
    static func intset(_ b: [UInt8]) throws -> [Bytes] {
        guard b.count >= 8 else { throw bad("Intset") }
        let width = Int(le(b, 0, 4))
        let count = Int(le(b, 4, 4))
        guard width == 2 || width == 4 || width == 8, b.count == 8 + width * count else { throw bad("Intset") }
        var out: [Bytes] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let raw = le(b, 8 + i * width, width)
            let v: Int64
            switch width {
            case 2: v = Int64(Int16(truncatingIfNeeded: raw))
            case 4: v = Int64(Int32(truncatingIfNeeded: raw))
            default: v = Int64(bitPattern: raw)
            }
            out.append(Bytes(String(v)))
        }
        return out
    }

    @inline(__always) static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[at + i]) << (8 * UInt64(i)) }
        return v
    }

    /// A listpack: total bytes (u32), count (u16), entries each followed by its back-length, 0xFF.
    static func listpack(_ b: [UInt8]) throws -> [Bytes] {
        guard b.count >= 7, Int(le(b, 0, 4)) == b.count, b[b.count - 1] == 0xFF else { throw bad("Listpack") }
        var out: [Bytes] = []
        var i = 6
        let end = b.count - 1
        while i < end {
            let e = b[i]
            let start = i
            func need(_ n: Int) throws { if i + n > end { throw bad("Listpack") } }
            func signed(_ v: UInt64, bits: Int) -> Int64 {
                let shift = 64 - bits
                return Int64(bitPattern: v << UInt64(shift)) >> Int64(shift)
            }
            if e & 0x80 == 0 {                      // 0xxxxxxx: 7-bit unsigned
                out.append(Bytes(String(e & 0x7f)))
                i += 1
            } else if e & 0xC0 == 0x80 {            // 10xxxxxx: string up to 63 bytes
                let n = Int(e & 0x3f)
                try need(1 + n)
                out.append(Bytes(b[(i + 1)..<(i + 1 + n)]))
                i += 1 + n
            } else if e & 0xE0 == 0xC0 {            // 110xxxxx yyyyyyyy: 13-bit signed
                try need(2)
                let v = UInt64(e & 0x1f) << 8 | UInt64(b[i + 1])
                out.append(Bytes(String(signed(v, bits: 13))))
                i += 2
            } else if e & 0xF0 == 0xE0 {            // 1110xxxx yyyyyyyy: string up to 4095 bytes
                try need(2)
                let n = Int(e & 0x0f) << 8 | Int(b[i + 1])
                try need(2 + n)
                out.append(Bytes(b[(i + 2)..<(i + 2 + n)]))
                i += 2 + n
            } else {
                switch e {
                case 0xF0:                          // 32-bit string length
                    try need(5)
                    let n = Int(le(b, i + 1, 4))
                    try need(5 + n)
                    out.append(Bytes(b[(i + 5)..<(i + 5 + n)]))
                    i += 5 + n
                case 0xF1, 0xF2, 0xF3, 0xF4:        // 16/24/32/64-bit signed integers
                    let n = [0xF1: 2, 0xF2: 3, 0xF3: 4, 0xF4: 8][Int(e)]!
                    try need(1 + n)
                    out.append(Bytes(String(signed(le(b, i + 1, n), bits: n * 8))))
                    i += 1 + n
                default:
                    throw bad("Listpack")
                }
            }
            // Skip the back-length: the entry's size in 1…5 bytes of 7 bits each.
            let size = i - start
            let back = size < 128 ? 1 : size < 16384 ? 2 : size < 2_097_152 ? 3 : size < 268_435_456 ? 4 : 5
            i += back
            if i > end { throw bad("Listpack") }
        }
        let declared = Int(le(b, 4, 2))
        if declared != 65535 && declared != out.count { throw bad("Listpack") }
        return out
    }

    /// A ziplist (RDB versions before 10): bytes (u32), tail offset (u32), count (u16), entries, 0xFF.
    static func ziplist(_ b: [UInt8]) throws -> [Bytes] {
        guard b.count >= 11, Int(le(b, 0, 4)) == b.count, b[b.count - 1] == 0xFF else { throw bad("Ziplist") }
        var out: [Bytes] = []
        var i = 10
        let end = b.count - 1
        while i < end {
            // Previous entry length: one byte, or 0xFE and four more.
            i += b[i] == 0xFE ? 5 : 1
            guard i < end else { throw bad("Ziplist") }
            let e = b[i]
            func need(_ n: Int) throws { if i + n > end { throw bad("Ziplist") } }
            switch e >> 6 {
            case 0:
                let n = Int(e & 0x3f)
                try need(1 + n)
                out.append(Bytes(b[(i + 1)..<(i + 1 + n)]))
                i += 1 + n
            case 1:
                try need(2)
                let n = Int(e & 0x3f) << 8 | Int(b[i + 1])
                try need(2 + n)
                out.append(Bytes(b[(i + 2)..<(i + 2 + n)]))
                i += 2 + n
            case 2:
                try need(5)
                let n = Int(b[i + 1]) << 24 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 8 | Int(b[i + 4])
                try need(5 + n)
                out.append(Bytes(b[(i + 5)..<(i + 5 + n)]))
                i += 5 + n
            default:
                let v: Int64
                switch e {
                case 0xC0: try need(3); v = Int64(Int16(truncatingIfNeeded: le(b, i + 1, 2))); i += 3
                case 0xD0: try need(5); v = Int64(Int32(truncatingIfNeeded: le(b, i + 1, 4))); i += 5
                case 0xE0: try need(9); v = Int64(bitPattern: le(b, i + 1, 8)); i += 9
                case 0xF0:
                    try need(4)
                    v = Int64(bitPattern: le(b, i + 1, 3) << 40) >> 40
                    i += 4
                case 0xFE: try need(2); v = Int64(Int8(bitPattern: b[i + 1])); i += 2
                case 0xF1...0xFD: v = Int64(e & 0x0f) - 1; i += 1
                default: throw bad("Ziplist")
                }
                out.append(Bytes(String(v)))
            }
        }
        return out
    }

    /// A zipmap (RDB versions before 4): count, then (length field, length value, free, value)…, 0xFF.
    static func zipmap(_ b: [UInt8]) throws -> [Bytes] {
        guard b.count >= 2 else { throw bad("Zipmap") }
        var out: [Bytes] = []
        var i = 1
        func len() throws -> Int {
            guard i < b.count else { throw bad("Zipmap") }
            let f = b[i]
            if f < 254 { i += 1; return Int(f) }
            guard f == 254, i + 5 <= b.count else { throw bad("Zipmap") }
            let n = Int(le(b, i + 1, 4))
            i += 5
            return n
        }
        while i < b.count && b[i] != 0xFF {
            let kl = try len()
            guard i + kl <= b.count else { throw bad("Zipmap") }
            out.append(Bytes(b[i..<(i + kl)]))
            i += kl
            let vl = try len()
            guard i < b.count else { throw bad("Zipmap") }
            let free = Int(b[i])
            i += 1
            guard i + vl + free <= b.count else { throw bad("Zipmap") }
            out.append(Bytes(b[i..<(i + vl)]))
            i += vl + free
        }
        return out
    }
}
