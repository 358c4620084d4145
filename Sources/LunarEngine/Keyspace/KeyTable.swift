import CJemalloc
import LunarRESP

/// The dictionary of one database: key → value, plus expiry times.
///
/// Entries (a key and its value, side by side) live in slots that never move a live entry; an
/// open-addressing hash index of 4-byte slot numbers maps keys to slots. That gives:
/// - SCAN a stable cursor (a slot number): a key present for the whole iteration is always returned,
///   whatever is added or removed meanwhile;
/// - O(1) random sampling for RANDOMKEY and the active expiry cycle;
/// - compact storage: per key one 4-byte bucket at load ≤ 1/2 and a 16-byte entry (key and value
///   references); expiry times only for keys that have one (a side table, as Redis keeps `expires`).
///
/// A bucket's spare high bits carry a tag taken from the key's hash, so a probe that meets another
/// key's bucket almost never has to read that key (a cache miss) to see it is not the one.
///
/// The index, the entries and the expiry bits are manually managed memory rather than Swift arrays:
/// every command looks keys up, and reading an array stored in a class retains and releases its
/// buffer around each access (atomic operations that cost more than the probe itself).
public final class KeyTable {
    struct Entry {
        var key: Bytes
        var value: Value?
    }

    /// Open-addressing index (linear probing); each bucket holds `tag << slotBits | slot`, or -1.
    private var buckets: UnsafeMutablePointer<Int32>
    private var bucketCount = 0
    /// Slots 0..<slotCount are initialized; a free slot holds an empty key and no value.
    private var entries: UnsafeMutablePointer<Entry>
    public private(set) var slotCount = 0
    private var capacity = 0
    /// One bit per slot (capacity / 64 words, rounded up): does the key have an expiry?
    private var expireBits: UnsafeMutablePointer<UInt64>
    /// One word per slot (capacity): the key's access clock, what eviction and OBJECT IDLETIME/FREQ
    /// read (see Eviction.swift). Beside the entries rather than in them: the entries stay 16 bytes.
    private var clocks: UnsafeMutablePointer<UInt32>
    /// Bits of a bucket that hold the slot number (slot numbers stay below `1 << slotBits`); the
    /// other 31 - slotBits bits hold the tag. Grows with the slots, which re-tags the index.
    private(set) var slotBits = KeyTable.minSlotBits
    static let minSlotBits = 16
    /// Expiry (absolute Unix ms) and position in `volatileSlots`, for keys with an expiry only.
    private var expireInfo: [Int32: ExpireEntry] = [:]
    /// The slots whose key has an expiry, for sampling by the active expiry cycle.
    private var volatileSlots: [Int32] = []
    private var freeSlots: [Int32] = []
    public private(set) var count = 0

    struct ExpireEntry {
        var at: Int64
        var pos: Int32
    }

    public init() {
        buckets = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        entries = UnsafeMutablePointer<Entry>.allocate(capacity: 1)
        expireBits = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        clocks = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    }

    deinit {
        entries.deinitialize(count: slotCount)
        entries.deallocate()
        buckets.deallocate()
        expireBits.deallocate()
        clocks.deallocate()
    }

    public var volatileCount: Int { volatileSlots.count }

    @inline(__always) private static func hash(_ key: Bytes) -> Int {
        key.raw.withUnsafeBytes { BytesHash.hash($0) }
    }

    /// The tag of a hash: its top bits (the bucket position comes from the low bits).
    @inline(__always) private func tag(_ h: Int) -> Int32 {
        Int32(truncatingIfNeeded: UInt64(bitPattern: Int64(h)) >> UInt64(33 + slotBits))
    }
    @inline(__always) private func bucketEntry(slot s: Int, hash h: Int) -> Int32 {
        tag(h) << Int32(slotBits) | Int32(s)
    }
    @inline(__always) private func slot(ofBucket b: Int32) -> Int {
        Int(b & ((1 << Int32(slotBits)) - 1))
    }

    // MARK: Lookup

    public func slot(of key: Bytes) -> Int? {
        if count == 0 { return nil }
        let mask = bucketCount - 1
        let h = Self.hash(key)
        let t = tag(h)
        let bits = Int32(slotBits)
        var i = h & mask
        while true {
            let b = buckets[i]
            if b < 0 { return nil }
            if b >> bits == t {
                let s = slot(ofBucket: b)
                if entries[s].key == key { return s }
            }
            i = (i + 1) & mask
        }
    }

    // MARK: Prefetching (pipelines)

    /// Lookups of a pipeline's next commands can be started early: three steps, one command apart,
    /// bring the key's bucket, then its entry, then the key's bytes into the cache while the
    /// commands before it run, so the lookup itself no longer waits on memory. Every step is a hint:
    /// stale or out-of-range positions (the table may change in between) are ignored.

    /// Step 1: prefetches the bucket `key` hashes to; returns the hash (-1: nothing to look up).
    @inline(__always) public func prefetchBucket(_ key: Bytes) -> Int {
        if bucketCount == 0 { return -1 }
        let h = Self.hash(key)
        lunar_prefetch(buckets + (h & (bucketCount - 1)))
        return h
    }

    /// Step 2: finds the first bucket from the hash's with a matching tag (a few probes at most) and
    /// prefetches that slot's entry; returns the slot or -1.
    @inline(__always) public func prefetchSlot(hash h: Int) -> Int {
        guard h != -1, bucketCount > 0 else { return -1 }
        let t = tag(h)
        let mask = bucketCount - 1
        var i = h & mask
        var b: Int32 = -1
        for _ in 0..<4 {
            let e = buckets[i]
            if e < 0 { break }
            if e >> Int32(slotBits) == t { b = e; break }
            i = (i + 1) & mask
        }
        guard b >= 0 else { return -1 }
        let s = slot(ofBucket: b)
        guard s < slotCount else { return -1 }
        lunar_prefetch(entries + s)
        return s
    }

    /// Step 3: prefetches the key's bytes and the head of the value's object (their addresses are
    /// read as plain words, without retaining or touching what they point to).
    @inline(__always) public func prefetchKey(slot s: Int) {
        guard s >= 0, s < slotCount, MemoryLayout<Bytes>.size == MemoryLayout<UInt>.size,
              MemoryLayout<Entry>.stride == 2 * MemoryLayout<UInt>.size else { return }
        let words = UnsafeRawPointer(entries + s)
        if let storage = UnsafeRawPointer(bitPattern: words.load(as: UInt.self)) {
            lunar_prefetch(storage + 16)   // element count
            lunar_prefetch(storage + 32)   // first bytes
        }
        if let object = UnsafeRawPointer(bitPattern: words.load(fromByteOffset: 8, as: UInt.self)) {
            lunar_prefetch(object)
        }
    }

    @inline(__always) public func key(at slot: Int) -> Bytes {
        precondition(slot >= 0 && slot < slotCount)
        return entries[slot].key
    }
    @inline(__always) public func value(at slot: Int) -> Value? {
        precondition(slot >= 0 && slot < slotCount)
        return entries[slot].value
    }

    /// Clocks take the low 24 bits of a slot's word (as Redis's LRU field); the top byte holds
    /// flags, which setting the clock keeps.
    static let clockBits: UInt32 = 0x00FF_FFFF
    /// A string value changed in place (APPEND, SETRANGE, SETBIT, BITFIELD, a HyperLogLog): OBJECT
    /// ENCODING says "raw" for it, as Redis does for the objects those commands unshare or create.
    /// Cleared when the value is replaced.
    static let editedStringFlag: UInt32 = 1 << 31

    /// The slot's access clock (LRU seconds, or LFU minutes and counter: see Eviction.swift).
    @inline(__always) public func clock(at slot: Int) -> UInt32 {
        precondition(slot >= 0 && slot < slotCount)
        return clocks[slot] & Self.clockBits
    }
    @inline(__always) public func setClock(at slot: Int, _ c: UInt32) {
        precondition(slot >= 0 && slot < slotCount)
        clocks[slot] = (c & Self.clockBits) | (clocks[slot] & ~Self.clockBits)
    }
    public func markStringEdited(at slot: Int) {
        precondition(slot >= 0 && slot < slotCount)
        clocks[slot] |= Self.editedStringFlag
    }
    public func isEditedString(at slot: Int) -> Bool {
        precondition(slot >= 0 && slot < slotCount)
        return clocks[slot] & Self.editedStringFlag != 0
    }

    /// Absolute expiry of the slot's key in Unix ms, 0 when it has none.
    @inline(__always) public func expire(at slot: Int) -> Int64 {
        precondition(slot >= 0 && slot < slotCount)
        if expireBits[slot >> 6] & (1 << UInt64(slot & 63)) == 0 { return 0 }
        return expireInfo[Int32(slot)]!.at
    }

    // MARK: Updates

    /// Inserts a new key (which must be absent) with its access clock and returns its slot.
    @discardableResult
    public func insert(_ key: Bytes, _ value: Value, clock: UInt32 = 0) -> Int {
        if (count + 1) * 2 > bucketCount { resize(to: max(16, bucketCount * 2)) }
        let s: Int
        if let f = freeSlots.popLast() {
            s = Int(f)
            entries[s] = Entry(key: key, value: value)
        } else {
            s = slotCount
            if s >= 1 << slotBits {
                // One more bit for slot numbers, one less for tags: every bucket is re-tagged.
                slotBits += 1
                resize(to: bucketCount)
            }
            if s == capacity { grow(to: max(16, capacity * 2)) }
            (entries + s).initialize(to: Entry(key: key, value: value))
            slotCount += 1
        }
        let mask = bucketCount - 1
        let h = Self.hash(key)
        var i = h & mask
        while buckets[i] >= 0 { i = (i + 1) & mask }
        buckets[i] = bucketEntry(slot: s, hash: h)
        clocks[s] = clock & Self.clockBits
        count += 1
        return s
    }

    public func replaceValue(at slot: Int, with value: Value) {
        precondition(slot >= 0 && slot < slotCount)
        entries[slot].value = value
        clocks[slot] &= Self.clockBits
    }

    /// Mutates a value in place; the slot's own reference is released during the call so a
    /// string is not copied on write.
    public func withValue<R>(at slot: Int, _ body: (inout Value) throws -> R) rethrows -> R {
        precondition(slot >= 0 && slot < slotCount)
        var v = entries[slot].value.unsafelyUnwrapped
        entries[slot].value = nil
        defer { entries[slot].value = v }
        return try body(&v)
    }

    public func remove(slot s: Int) {
        precondition(s >= 0 && s < slotCount)
        setExpire(slot: s, 0)
        removeFromIndex(slot: s)
        entries[s] = Entry(key: Bytes(), value: nil)
        count -= 1
        if count == 0 {
            // Start over when empty so the slots don't keep their peak size forever.
            removeAll()
        } else {
            freeSlots.append(Int32(s))
            if bucketCount > 64 && count * 8 < bucketCount { resize(to: bucketCount / 2) }
        }
    }

    /// Deletes the slot's bucket with backward-shift deletion (no tombstones, probes stay short).
    private func removeFromIndex(slot s: Int) {
        let mask = bucketCount - 1
        var i = Self.hash(entries[s].key) & mask
        while buckets[i] < 0 || slot(ofBucket: buckets[i]) != s { i = (i + 1) & mask }
        var j = i
        while true {
            j = (j + 1) & mask
            let t = buckets[j]
            if t < 0 { break }
            let home = Self.hash(entries[slot(ofBucket: t)].key) & mask
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
        let n = max(0, n)
        let want = count + n
        var size = max(16, bucketCount)
        while want * 2 > size { size *= 2 }
        var bits = slotBits
        while slotCount + n > 1 << bits { bits += 1 }
        if size > bucketCount || bits != slotBits {
            slotBits = bits
            resize(to: size)
        }
        if slotCount + n > capacity { grow(to: slotCount + n) }
    }

    /// Moves the entries to room for `n` slots (n > capacity); new expiry words start clear.
    private func grow(to n: Int) {
        let e = UnsafeMutablePointer<Entry>.allocate(capacity: n)
        e.moveInitialize(from: entries, count: slotCount)
        entries.deallocate()
        entries = e
        let oldWords = (capacity + 63) >> 6, words = (n + 63) >> 6
        let x = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, words))
        x.initialize(from: expireBits, count: oldWords)
        (x + oldWords).initialize(repeating: 0, count: words - oldWords)
        expireBits.deallocate()
        expireBits = x
        let c = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        c.initialize(from: clocks, count: slotCount)
        clocks.deallocate()
        clocks = c
        capacity = n
    }

    private func resize(to n: Int) {
        buckets.deallocate()
        buckets = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, n))
        buckets.initialize(repeating: -1, count: n)
        bucketCount = n
        let mask = n - 1
        for s in 0..<slotCount where entries[s].value != nil {
            let h = Self.hash(entries[s].key)
            var i = h & mask
            while buckets[i] >= 0 { i = (i + 1) & mask }
            buckets[i] = bucketEntry(slot: s, hash: h)
        }
    }

    public func setExpire(slot s: Int, _ at: Int64) {
        precondition(s >= 0 && s < slotCount)
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

    /// The entries of a table emptied by `removeAll(releasingIn:)`, freed by whoever holds them.
    private struct DetachedEntries: @unchecked Sendable {
        let entries: UnsafeMutablePointer<Entry>
        let count: Int
        func free() {
            entries.deinitialize(count: count)
            entries.deallocate()
        }
    }

    /// Empties the table; `releasingIn`, when given, receives the work of freeing the keys and
    /// values (FLUSHALL ASYNC runs it on the lazy-free thread).
    public func removeAll(releasingIn release: ((@escaping @Sendable () -> Void) -> Void)? = nil) {
        let detached = DetachedEntries(entries: entries, count: slotCount)
        if let release { release { detached.free() } } else { detached.free() }
        entries = UnsafeMutablePointer<Entry>.allocate(capacity: 1)
        expireBits.deallocate()
        expireBits = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        clocks.deallocate()
        clocks = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        buckets.deallocate()
        buckets = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        bucketCount = 0
        slotCount = 0
        capacity = 0
        slotBits = KeyTable.minSlotBits
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
            let s = Int.random(in: 0..<slotCount, using: &g)
            if entries[s].value != nil { return s }
        }
        // Sparse table: walk from a random start.
        let start = Int.random(in: 0..<slotCount, using: &g)
        for i in 0..<slotCount {
            let s = (start + i) % slotCount
            if entries[s].value != nil { return s }
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
        var s = max(0, from)
        let end = min(slotCount, s + max(1, count))
        while s < end {
            if entries[s].value != nil { visit(s) }
            s += 1
        }
        return s >= slotCount ? 0 : s
    }

    /// Every live slot, in slot order (the slots that existed when the walk began).
    public func forEachSlot(_ visit: (Int) throws -> Void) rethrows {
        let end = slotCount
        var s = 0
        while s < end && s < slotCount {
            if entries[s].value != nil { try visit(s) }
            s += 1
        }
    }
}
