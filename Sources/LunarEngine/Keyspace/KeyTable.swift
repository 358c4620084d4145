import CJemalloc
import LunarRESP

/// The dictionary of one database: key → value, plus expiry times.
///
/// Entries live in slot arrays that never move a live entry; an open-addressing hash index of
/// 4-byte slot numbers maps keys to slots. That gives:
/// - SCAN a stable cursor (a slot number): a key present for the whole iteration is always returned,
///   whatever is added or removed meanwhile;
/// - O(1) random sampling for RANDOMKEY and the active expiry cycle;
/// - compact storage: per key one 4-byte bucket at load ≤ 1/2, a key reference and a value
///   reference; expiry times only for keys that have one (a side table, as Redis keeps `expires`).
///
/// A bucket's spare high bits carry a tag taken from the key's hash, so a probe that meets another
/// key's bucket almost never has to read that key (a cache miss) to see it is not the one.
public final class KeyTable {
    /// Open-addressing index (linear probing); each bucket holds `tag << slotBits | slot`, or -1.
    var buckets: [Int32] = []
    /// Bits of a bucket that hold the slot number (slot numbers stay below `1 << slotBits`); the
    /// other 31 - slotBits bits hold the tag. Grows with the slot arrays, which re-tags the index.
    private(set) var slotBits = KeyTable.minSlotBits
    static let minSlotBits = 16
    var keys: [Bytes] = []
    var values: [Value?] = []
    /// One bit per slot: does the key have an expiry?
    var expireBits: [UInt64] = []
    /// Expiry (absolute Unix ms) and position in `volatileSlots`, for keys with an expiry only.
    var expireInfo: [Int32: ExpireEntry] = [:]
    /// The slots whose key has an expiry, for sampling by the active expiry cycle.
    var volatileSlots: [Int32] = []
    var freeSlots: [Int32] = []
    public private(set) var count = 0

    struct ExpireEntry {
        var at: Int64
        var pos: Int32
    }

    public init() {}

    public var volatileCount: Int { volatileSlots.count }
    public var slotCount: Int { keys.count }

    @inline(__always) private static func hash(_ key: Bytes) -> Int {
        key.raw.withUnsafeBytes { KeyHash.hash($0) }
    }

    /// The tag of a hash: its top bits (the bucket position comes from the low bits).
    @inline(__always) private func tag(_ h: Int) -> Int32 {
        Int32(truncatingIfNeeded: UInt64(bitPattern: Int64(h)) >> UInt64(33 + slotBits))
    }
    @inline(__always) private func entry(slot s: Int, hash h: Int) -> Int32 {
        tag(h) << Int32(slotBits) | Int32(s)
    }
    @inline(__always) private func slot(ofEntry b: Int32) -> Int {
        Int(b & ((1 << Int32(slotBits)) - 1))
    }

    // MARK: Lookup

    public func slot(of key: Bytes) -> Int? {
        if count == 0 { return nil }
        let mask = buckets.count - 1
        let h = Self.hash(key)
        let t = tag(h)
        let bits = Int32(slotBits)
        var i = h & mask
        while true {
            let b = buckets[i]
            if b < 0 { return nil }
            if b >> bits == t {
                let s = slot(ofEntry: b)
                if keys[s] == key { return s }
            }
            i = (i + 1) & mask
        }
    }

    // MARK: Prefetching (pipelines)

    /// Lookups of a pipeline's next commands can be started early: three steps, one command apart,
    /// bring the key's bucket, then its slot entries, then the key's bytes into the cache while the
    /// commands before it run, so the lookup itself no longer waits on memory. Every step is a hint:
    /// stale or out-of-range positions (the table may change in between) are ignored.

    /// Step 1: prefetches the bucket `key` hashes to; returns the hash (-1: nothing to look up).
    @inline(__always) public func prefetchBucket(_ key: Bytes) -> Int {
        let n = buckets.count
        if n == 0 { return -1 }
        let h = Self.hash(key)
        buckets.withUnsafeBufferPointer { lunar_prefetch($0.baseAddress! + (h & (n - 1))) }
        return h
    }

    /// Step 2: finds the first bucket from the hash's with a matching tag (a few probes at most) and
    /// prefetches that slot's key and value entries; returns the slot or -1.
    @inline(__always) public func prefetchSlot(hash h: Int) -> Int {
        let n = buckets.count
        guard h != -1, n > 0 else { return -1 }
        let t = tag(h)
        let mask = n - 1
        var i = h & mask
        var b: Int32 = -1
        for _ in 0..<4 {
            let e = buckets[i]
            if e < 0 { break }
            if e >> Int32(slotBits) == t { b = e; break }
            i = (i + 1) & mask
        }
        guard b >= 0 else { return -1 }
        let s = slot(ofEntry: b)
        guard s < keys.count else { return -1 }
        keys.withUnsafeBufferPointer { lunar_prefetch($0.baseAddress! + s) }
        values.withUnsafeBufferPointer { lunar_prefetch($0.baseAddress! + s) }
        return s
    }

    /// Step 3: prefetches the key's bytes and the head of the value's object (their addresses are
    /// read as plain words, without retaining or touching what they point to).
    @inline(__always) public func prefetchKey(slot s: Int) {
        guard s >= 0, s < keys.count, MemoryLayout<Bytes>.size == MemoryLayout<UInt>.size else { return }
        keys.withUnsafeBufferPointer { kp in
            let bits = UnsafeRawPointer(kp.baseAddress! + s).load(as: UInt.self)
            if let storage = UnsafeRawPointer(bitPattern: bits) {
                lunar_prefetch(storage + 16)   // element count
                lunar_prefetch(storage + 32)   // first bytes
            }
        }
        values.withUnsafeBufferPointer { vp in
            let bits = UnsafeRawPointer(vp.baseAddress! + s).load(as: UInt.self)
            if let object = UnsafeRawPointer(bitPattern: bits) { lunar_prefetch(object) }
        }
    }

    public func key(at slot: Int) -> Bytes { keys[slot] }
    public func value(at slot: Int) -> Value? { values[slot] }

    /// Absolute expiry of the slot's key in Unix ms, 0 when it has none.
    @inline(__always) public func expire(at slot: Int) -> Int64 {
        if expireBits[slot >> 6] & (1 << UInt64(slot & 63)) == 0 { return 0 }
        return expireInfo[Int32(slot)]!.at
    }

    // MARK: Updates

    /// Inserts a new key (which must be absent) and returns its slot.
    @discardableResult
    public func insert(_ key: Bytes, _ value: Value) -> Int {
        if (count + 1) * 2 > buckets.count { resize(to: max(16, buckets.count * 2)) }
        let s: Int
        if let f = freeSlots.popLast() {
            s = Int(f)
            keys[s] = key
            values[s] = value
        } else {
            s = keys.count
            if s >= 1 << slotBits {
                // One more bit for slot numbers, one less for tags: every bucket is re-tagged.
                slotBits += 1
                resize(to: buckets.count)
            }
            keys.append(key)
            values.append(value)
            if s >> 6 >= expireBits.count { expireBits.append(0) }
        }
        let mask = buckets.count - 1
        let h = Self.hash(key)
        var i = h & mask
        while buckets[i] >= 0 { i = (i + 1) & mask }
        buckets[i] = entry(slot: s, hash: h)
        count += 1
        return s
    }

    public func replaceValue(at slot: Int, with value: Value) {
        values[slot] = value
    }

    /// Mutates a value in place; the slot's own reference is released during the call so a
    /// string is not copied on write.
    public func withValue<R>(at slot: Int, _ body: (inout Value) throws -> R) rethrows -> R {
        var v = values[slot].unsafelyUnwrapped
        values[slot] = nil
        defer { values[slot] = v }
        return try body(&v)
    }

    public func remove(slot s: Int) {
        setExpire(slot: s, 0)
        removeFromIndex(slot: s)
        keys[s] = Bytes()
        values[s] = nil
        count -= 1
        if count == 0 {
            // Start over when empty so the slot arrays don't keep their peak size forever.
            removeAll()
        } else {
            freeSlots.append(Int32(s))
            if buckets.count > 64 && count * 8 < buckets.count { resize(to: buckets.count / 2) }
        }
    }

    /// Deletes the slot's bucket with backward-shift deletion (no tombstones, probes stay short).
    private func removeFromIndex(slot s: Int) {
        let mask = buckets.count - 1
        var i = Self.hash(keys[s]) & mask
        while buckets[i] < 0 || slot(ofEntry: buckets[i]) != s { i = (i + 1) & mask }
        var j = i
        while true {
            j = (j + 1) & mask
            let t = buckets[j]
            if t < 0 { break }
            let home = Self.hash(keys[slot(ofEntry: t)]) & mask
            // Move t back into the hole at i unless its home lies cyclically in (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                buckets[i] = t
                i = j
            }
        }
        buckets[i] = -1
    }

    /// Makes room for `n` more keys at once (RDB loading learns the count from RESIZEDB), so the
    /// index is not rebuilt again and again while they are inserted.
    public func reserve(additional n: Int) {
        let want = count + max(0, n)
        var size = max(16, buckets.count)
        while want * 2 > size { size *= 2 }
        var bits = slotBits
        while keys.count + max(0, n) > 1 << bits { bits += 1 }
        if size > buckets.count || bits != slotBits {
            slotBits = bits
            resize(to: size)
        }
        keys.reserveCapacity(keys.count + n)
        values.reserveCapacity(values.count + n)
    }

    private func resize(to n: Int) {
        buckets = [Int32](repeating: -1, count: n)
        let mask = n - 1
        for s in 0..<keys.count where values[s] != nil {
            let h = Self.hash(keys[s])
            var i = h & mask
            while buckets[i] >= 0 { i = (i + 1) & mask }
            buckets[i] = entry(slot: s, hash: h)
        }
    }

    public func setExpire(slot s: Int, _ at: Int64) {
        let word = s >> 6, bit: UInt64 = 1 << UInt64(s & 63)
        let had = expireBits[word] & bit != 0
        if at != 0 {
            if had {
                expireInfo[Int32(s)]!.at = at
            } else {
                expireBits[word] |= bit
                expireInfo[Int32(s)] = ExpireEntry(at: at, pos: Int32(volatileSlots.count))
                volatileSlots.append(Int32(s))
            }
        } else if had {
            expireBits[word] &= ~bit
            let p = Int(expireInfo.removeValue(forKey: Int32(s))!.pos)
            let last = volatileSlots.removeLast()
            if p < volatileSlots.count {
                volatileSlots[p] = last
                expireInfo[last]!.pos = Int32(p)
            }
        }
    }

    public func removeAll() {
        buckets = []
        slotBits = KeyTable.minSlotBits
        keys = []
        values = []
        expireBits = []
        expireInfo = [:]
        volatileSlots = []
        freeSlots = []
        count = 0
    }

    // MARK: Iteration and sampling

    /// A random live slot, or nil when empty.
    public func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int? {
        if count == 0 { return nil }
        for _ in 0..<64 {
            let s = Int.random(in: 0..<keys.count, using: &g)
            if values[s] != nil { return s }
        }
        // Sparse table: walk from a random start.
        let start = Int.random(in: 0..<keys.count, using: &g)
        for i in 0..<keys.count {
            let s = (start + i) % keys.count
            if values[s] != nil { return s }
        }
        return nil
    }

    /// A random slot whose key has an expiry.
    public func randomVolatileSlot<G: RandomNumberGenerator>(using g: inout G) -> Int? {
        guard !volatileSlots.isEmpty else { return nil }
        return Int(volatileSlots[Int.random(in: 0..<volatileSlots.count, using: &g)])
    }

    /// Live slots in [from, from+count), for SCAN. Returns the next cursor (0 when done).
    public func scanSlots(from: Int, count: Int, _ visit: (Int) -> Void) -> Int {
        var s = from
        let end = min(keys.count, from + max(1, count))
        while s < end {
            if values[s] != nil { visit(s) }
            s += 1
        }
        return s >= keys.count ? 0 : s
    }

    /// Every live slot, in slot order.
    public func forEachSlot(_ visit: (Int) throws -> Void) rethrows {
        for s in 0..<keys.count where values[s] != nil { try visit(s) }
    }
}

/// The key hash of the key tables: a seeded multiply-and-fold hash that reads 8 bytes at a time.
///
/// Much cheaper than the standard library's SipHash for the short keys typical of a keyspace, and
/// still keyed by a random per-process seed, so which keys collide cannot be predicted from outside
/// (the hash-flooding defence Redis gets from its seeded SipHash).
enum KeyHash {
    static let seed: (UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next() | 1, g.next())
    }()

    /// 64x64 -> 128-bit multiply, high and low halves folded together.
    @inline(__always) static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always) static func hash(_ p: UnsafeRawBufferPointer) -> Int {
        let n = p.count
        let (k0, k1) = seed
        var a: UInt64 = 0
        var b: UInt64 = 0
        var acc = k1
        if n >= 8 {
            // 16-byte blocks, then the last 16 bytes (overlapping what came before when n < 16 + 16·k).
            var off = 0
            while n - off > 16 {
                let x = p.loadUnaligned(fromByteOffset: off, as: UInt64.self)
                let y = p.loadUnaligned(fromByteOffset: off + 8, as: UInt64.self)
                acc = fold(x ^ 0x9e37_79b9_7f4a_7c15 ^ k0, y ^ acc)
                off += 16
            }
            a = p.loadUnaligned(fromByteOffset: n >= 16 ? n - 16 : 0, as: UInt64.self)
            b = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            a = UInt64(p.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            b = UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else if n > 0 {
            a = UInt64(p[0]) << 16 | UInt64(p[n >> 1]) << 8 | UInt64(p[n - 1])
        }
        let h = fold(a ^ k0, b ^ acc ^ 0xd6e8_feb8_6659_fd93)
        return Int(truncatingIfNeeded: fold(h ^ UInt64(n), 0xa076_1d64_78bd_642f ^ k0))
    }
}
