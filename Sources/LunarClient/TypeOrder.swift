/// redis-cli prints --bigkeys/--memkeys per-type summaries in the iteration order of its internal hash table
/// of types, which depends on SipHash-1-2 (zero seed) of the type names and on how far the table's
/// incremental rehash has progressed (one step per lookup). To print the same order we model that table:
/// power-of-two bucket arrays, chaining with insertion at the head, expansion when full, and one rehash
/// step (moving one non-empty bucket, giving up after ten empty ones) per add or lookup.
struct TypeTableModel {
    private var tables: [[[String]]?] = [nil, nil]
    private var used = [0, 0]
    private var rehashIndex = -1

    init(inserting names: [String]) {
        for n in names { add(n) }
    }

    var isRehashing: Bool { rehashIndex != -1 }

    static func siphash12(_ data: [UInt8]) -> UInt64 {
        var v0: UInt64 = 0x736f6d6570736575
        var v1: UInt64 = 0x646f72616e646f6d
        var v2: UInt64 = 0x6c7967656e657261
        var v3: UInt64 = 0x7465646279746573
        @inline(__always) func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        func round() {
            v0 = v0 &+ v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 = v2 &+ v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 = v0 &+ v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 = v2 &+ v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        let n = data.count
        let end = n - n % 8
        var i = 0
        while i < end {
            var m: UInt64 = 0
            for j in 0..<8 { m |= UInt64(data[i + j]) << (8 * UInt64(j)) }
            v3 ^= m; round(); v0 ^= m
            i += 8
        }
        var b = UInt64(truncatingIfNeeded: n) << 56
        for j in 0..<(n - end) { b |= UInt64(data[end + j]) << (8 * UInt64(j)) }
        v3 ^= b; round(); v0 ^= b
        v2 ^= 0xff
        round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    static func bucket(_ s: String, _ size: Int) -> Int { Int(siphash12(Array(s.utf8)) & UInt64(size - 1)) }

    private mutating func step() {
        guard isRehashing, var t0 = tables[0], var t1 = tables[1] else { return }
        var empty = 10
        while t0[rehashIndex].isEmpty {
            rehashIndex += 1
            empty -= 1
            if empty == 0 || rehashIndex >= t0.count { tables[0] = t0; return }
        }
        for k in t0[rehashIndex] {
            t1[Self.bucket(k, t1.count)].insert(k, at: 0)
            used[0] -= 1; used[1] += 1
        }
        t0[rehashIndex] = []
        rehashIndex += 1
        if used[0] == 0 {
            tables[0] = t1; used[0] = used[1]; tables[1] = nil; used[1] = 0; rehashIndex = -1
        } else {
            tables[0] = t0; tables[1] = t1
        }
    }

    private mutating func expand(_ size: Int) {
        var n = 4
        while n < size { n *= 2 }
        let fresh = [[String]](repeating: [], count: n)
        if tables[0] == nil { tables[0] = fresh } else { tables[1] = fresh; rehashIndex = 0 }
    }

    mutating func add(_ name: String) {
        if isRehashing { step() }
        if !isRehashing {
            if tables[0] == nil { expand(4) } else if used[0] >= tables[0]!.count { expand(used[0] + 1) }
        }
        let idx = isRehashing ? 1 : 0
        let size = tables[idx]!.count
        tables[idx]![Self.bucket(name, size)].insert(name, at: 0)
        used[idx] += 1
    }

    /// A lookup: advances an ongoing rehash by one step.
    mutating func lookup() { if isRehashing { step() } }

    /// Iteration order: table 0 then table 1, buckets in order, chains head first.
    var order: [String] {
        var out: [String] = []
        for t in tables { if let t { for chain in t { out += chain } } }
        return out
    }
}
