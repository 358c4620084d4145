#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// A hash value, with Redis 7.0's two representations behind one interface:
///
/// - "listpack": at most `hash-max-listpack-entries` fields, every field and value at most
///   `hash-max-listpack-value` bytes. Pairs are packed into ONE byte buffer in insertion order
///   (each entry a LEB128 length followed by its bytes, field then value), so a small hash costs one
///   allocation and HGETALL/HKEYS/HVALS answer in Redis's order.
/// - "hashtable": a `SlotTable` (stable scan cursors, O(1) random sampling).
///
/// Conversion only goes from listpack to hashtable, as in Redis.
public final class HashObject {
    /// Packed pairs while the hash is a listpack (`table == nil`).
    private(set) var packed: [UInt8] = []
    private(set) var packedCount = 0
    private(set) var table: SlotTable<Bytes>?

    /// An empty listpack hash.
    public init() {}

    /// A hash holding `pairs`, set in order with the given limits.
    public convenience init(pairs: [(Bytes, Bytes)], maxEntries: Int = 512, maxValue: Int = 64) {
        self.init()
        for (f, v) in pairs { set(f, v, maxEntries: maxEntries, maxValue: maxValue) }
    }

    /// An independent copy with the same representation (COPY, RENAME across databases…).
    public func copy() -> HashObject {
        let h = HashObject()
        h.packed = packed
        h.packedCount = packedCount
        h.table = table?.clone()
        return h
    }

    public var count: Int { table?.count ?? packedCount }
    public var isEmpty: Bool { count == 0 }
    public var isListpack: Bool { table == nil }
    public var encodingName: String { table == nil ? "listpack" : "hashtable" }

    // MARK: Packed entries

    /// Reads a LEB128 length at `i`; returns (length, start of the bytes).
    @inline(__always) private static func readLen(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Int, Int) {
        var i = i
        var n = 0
        var shift = 0
        while true {
            let b = p[i]
            i += 1
            n |= Int(b & 0x7f) << shift
            if b < 0x80 { return (n, i) }
            shift += 7
        }
    }

    @inline(__always) private static func appendEntry(_ buf: inout [UInt8], _ b: Bytes) {
        var n = b.count
        while n >= 0x80 {
            buf.append(UInt8(n & 0x7f) | 0x80)
            n >>= 7
        }
        buf.append(UInt8(n))
        buf.append(contentsOf: b.raw)
    }

    /// Location of a field in the packed buffer: start of its entry, start of the value's length,
    /// value bytes range, end of the pair.
    private struct Loc {
        var pairStart: Int
        var valueLenStart: Int
        var valueStart: Int
        var valueEnd: Int
    }

    private func packedFind(_ field: Bytes) -> Loc? {
        let n = field.count
        return packed.withUnsafeBufferPointer { p -> Loc? in
            field.raw.withUnsafeBufferPointer { f -> Loc? in
                var i = 0
                let end = p.count
                while i < end {
                    let start = i
                    let (fl, fs) = HashObject.readLen(p, i)
                    let (vl, vs) = HashObject.readLen(p, fs + fl)
                    if fl == n && (n == 0 || memcmp(p.baseAddress! + fs, f.baseAddress!, n) == 0) {
                        return Loc(pairStart: start, valueLenStart: fs + fl, valueStart: vs, valueEnd: vs + vl)
                    }
                    i = vs + vl
                }
                return nil
            }
        }
    }

    /// Visits packed pairs as (field range, value range) in insertion order.
    private func packedForEach(_ body: (Range<Int>, Range<Int>) throws -> Void) rethrows {
        var i = 0
        let end = packed.count
        while i < end {
            let (fl, fs, vl, vs) = packed.withUnsafeBufferPointer { p -> (Int, Int, Int, Int) in
                let (fl, fs) = HashObject.readLen(p, i)
                let (vl, vs) = HashObject.readLen(p, fs + fl)
                return (fl, fs, vl, vs)
            }
            try body(fs..<(fs + fl), vs..<(vs + vl))
            i = vs + vl
        }
    }

    // MARK: Reads

    public func get(_ field: Bytes) -> Bytes? {
        if let table {
            guard let s = table.find(field) else { return nil }
            return table.values[s]
        }
        guard let l = packedFind(field) else { return nil }
        return Bytes(packed[l.valueStart..<l.valueEnd])
    }

    public func contains(_ field: Bytes) -> Bool {
        if let table { return table.find(field) != nil }
        return packedFind(field) != nil
    }

    /// Length of a field's value, or nil if the field is absent.
    public func valueLength(_ field: Bytes) -> Int? {
        if let table {
            guard let s = table.find(field) else { return nil }
            return table.values[s].count
        }
        guard let l = packedFind(field) else { return nil }
        return l.valueEnd - l.valueStart
    }

    /// Writes a field's value as a bulk string (null bulk when absent).
    public func writeValue(_ field: Bytes, to out: inout ReplyWriter) {
        if let table {
            if let s = table.find(field) { out.bulk(table.values[s]) } else { out.nullBulk() }
            return
        }
        if let l = packedFind(field) {
            out.bulk(bytes: packed[l.valueStart..<l.valueEnd])
        } else {
            out.nullBulk()
        }
    }

    // MARK: Updates

    /// Redis's pre-check before HSET/HSETNX/HMSET: a listpack with any too-long field or value among
    /// `args[from...]` becomes a hashtable before anything is written.
    public func convertIfAnyTooLong(_ args: ArraySlice<Bytes>, maxValue: Int) {
        guard table == nil else { return }
        for a in args where a.count > maxValue {
            convertToHashtable()
            return
        }
    }

    /// Sets a field; true if the field is new. A listpack converts when the field or value is longer
    /// than `maxValue` or when the count grows past `maxEntries`.
    @discardableResult
    public func set(_ field: Bytes, _ value: Bytes, maxEntries: Int, maxValue: Int) -> Bool {
        if table == nil && (field.count > maxValue || value.count > maxValue) { convertToHashtable() }
        if table != nil {
            let (s, inserted) = table!.insertIfAbsent(field, value)
            if !inserted { table!.values[s] = value }
            return inserted
        }
        if let l = packedFind(field) {
            var enc: [UInt8] = []
            enc.reserveCapacity(value.count + 2)
            HashObject.appendEntry(&enc, value)
            packed.replaceSubrange(l.valueLenStart..<l.valueEnd, with: enc)
            return false
        }
        HashObject.appendEntry(&packed, field)
        HashObject.appendEntry(&packed, value)
        packedCount += 1
        if packedCount > maxEntries { convertToHashtable() }
        return true
    }

    /// Deletes a field; true if it existed.
    @discardableResult
    public func delete(_ field: Bytes) -> Bool {
        if table != nil { return table!.remove(field) }
        guard let l = packedFind(field) else { return false }
        packed.removeSubrange(l.pairStart..<l.valueEnd)
        packedCount -= 1
        if packedCount == 0 { packed = [] }
        return true
    }

    /// Switches to the hashtable representation (one way).
    public func convertToHashtable() {
        guard table == nil else { return }
        let t = SlotTable<Bytes>(filler: Bytes(), capacity: packedCount)
        packedForEach { f, v in t.insert(Bytes(packed[f]), Bytes(packed[v])) }
        table = t
        packed = []
        packedCount = 0
    }

    // MARK: Iteration

    /// Every pair, in the representation's order (insertion order for a listpack).
    public func forEach(_ body: (Bytes, Bytes) throws -> Void) rethrows {
        if let table {
            try table.forEachSlot { try body(table.key(at: $0), table.values[$0]) }
        } else {
            try packedForEach { f, v in try body(Bytes(packed[f]), Bytes(packed[v])) }
        }
    }

    /// Up to `limit` pairs (all when `limit` is 0) in the representation's order, without copying the
    /// rest (MEMORY USAGE sampling).
    public func firstPairs(_ limit: Int) -> [(key: Bytes, value: Bytes)] {
        let n = limit == 0 ? count : Swift.min(limit, count)
        var r: [(key: Bytes, value: Bytes)] = []
        r.reserveCapacity(n)
        struct Enough: Error {}
        try? forEach { f, v in
            if r.count == n { throw Enough() }
            r.append((f, v))
        }
        return r
    }

    public var pairs: [(Bytes, Bytes)] {
        var r: [(Bytes, Bytes)] = []
        r.reserveCapacity(count)
        forEach { r.append(($0, $1)) }
        return r
    }

    /// Writes fields and/or values as bulk strings in the representation's order (no header).
    public func write(to out: inout ReplyWriter, fields: Bool, values: Bool) {
        if let table {
            table.forEachSlot { s in
                if fields { out.bulk(table.key(at: s)) }
                if values { out.bulk(table.values[s]) }
            }
        } else {
            packedForEach { f, v in
                if fields { out.bulk(bytes: packed[f]) }
                if values { out.bulk(bytes: packed[v]) }
            }
        }
    }

    // MARK: Random access

    /// A uniformly random pair (the hash must not be empty).
    public func randomPair<G: RandomNumberGenerator>(using g: inout G) -> (Bytes, Bytes) {
        if let table {
            let s = table.randomSlot(using: &g)!
            return (table.key(at: s), table.values[s])
        }
        var k = Int.random(in: 0..<packedCount, using: &g)
        var result: (Bytes, Bytes)? = nil
        packedForEach { f, v in
            if k == 0 && result == nil { result = (Bytes(packed[f]), Bytes(packed[v])) }
            k -= 1
        }
        return result!
    }

    // MARK: Scanning

    /// One HSCAN step: a listpack answers everything with cursor 0 (as Redis does for small encodings);
    /// a hashtable visits slots from `cursor` until about `count` pairs are collected.
    public func scan(cursor: UInt64, count: Int, _ visit: (Bytes, Bytes) -> Void) -> UInt64 {
        guard let table else {
            forEach(visit)
            return 0
        }
        if cursor >= UInt64(table.slotCount) { return 0 }
        var s = Int(cursor)
        var found = 0
        let maxSlots = count > Int.max / 10 ? Int.max : count * 10
        var visited = 0
        while s < table.slotCount && found < count && visited < maxSlots {
            if table.isLive(s) {
                visit(table.key(at: s), table.values[s])
                found += 1
            }
            s += 1
            visited += 1
        }
        return s >= table.slotCount ? 0 : UInt64(s)
    }
}
