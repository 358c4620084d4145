import LunarRESP

/// The "hashtable" representation shared by large sets and hashes: members live in slot arrays that
/// never move a live entry, and a hash index maps each member to its slot.
///
/// A slot number is a stable SSCAN/HSCAN cursor (a member present for the whole scan is returned
/// exactly once, whatever is added or removed meanwhile) and random sampling is O(1) on average.
/// Freed slots are reused by later inserts. Each member's bytes are shared between the index and
/// the slot array (one allocation per member).
struct SlotTable<V> {
    var index: [Bytes: Int32] = [:]
    /// nil marks a free slot.
    var keys: [Bytes?] = []
    var values: [V] = []
    var freeSlots: [Int32] = []
    let filler: V

    init(filler: V, capacity: Int = 0) {
        self.filler = filler
        if capacity > 0 {
            index.reserveCapacity(capacity)
            keys.reserveCapacity(capacity)
            values.reserveCapacity(capacity)
        }
    }

    @inline(__always) var count: Int { index.count }
    @inline(__always) var slotCount: Int { keys.count }

    @inline(__always) func find(_ key: Bytes) -> Int? {
        guard let s = index[key] else { return nil }
        return Int(s)
    }

    @inline(__always) func key(at s: Int) -> Bytes { keys[s].unsafelyUnwrapped }
    @inline(__always) func isLive(_ s: Int) -> Bool { keys[s] != nil }

    /// Inserts a key the caller knows is absent; returns its slot.
    @discardableResult
    mutating func insert(_ key: Bytes, _ value: V) -> Int {
        let s: Int
        if let f = popFreeSlot() {
            s = f
            keys[s] = key
            values[s] = value
        } else {
            s = keys.count
            keys.append(key)
            values.append(value)
        }
        index[key] = Int32(truncatingIfNeeded: s)
        return s
    }

    /// Inserts `key` unless present, hashing it once. Returns the slot and whether it was inserted.
    @inline(__always)
    mutating func insertIfAbsent(_ key: Bytes, _ value: V) -> (slot: Int, inserted: Bool) {
        let next = peekFreeSlot()
        var inserted = false
        let s = Int(SlotTable.touch(&index[key, default: { inserted = true; return Int32(truncatingIfNeeded: next) }()]))
        if !inserted { return (s, false) }
        if next < keys.count {
            _ = freeSlots.popLast()
            keys[next] = key
            values[next] = value
        } else {
            keys.append(key)
            values.append(value)
        }
        return (next, true)
    }

    @inline(__always) private static func touch(_ v: inout Int32) -> Int32 { v }

    /// The slot the next insert will use (a free slot, or the end), dropping stale free entries.
    @inline(__always) private mutating func peekFreeSlot() -> Int {
        while let f = freeSlots.last {
            let s = Int(f)
            if s < keys.count && keys[s] == nil { return s }
            freeSlots.removeLast()
        }
        return keys.count
    }

    mutating func remove(slot s: Int) {
        index.removeValue(forKey: keys[s].unsafelyUnwrapped)
        keys[s] = nil
        values[s] = filler
        if index.isEmpty {
            keys.removeAll()
            values.removeAll()
            freeSlots.removeAll()
        } else if s == keys.count - 1 {
            // Trim free slots at the tail so the arrays shrink as the table empties from the end.
            keys.removeLast()
            values.removeLast()
            while let last = keys.last, last == nil {
                keys.removeLast()
                values.removeLast()
            }
        } else {
            freeSlots.append(Int32(truncatingIfNeeded: s))
            if freeSlots.count > 2 * keys.count + 16 { rebuildFreeSlots() }
        }
    }

    /// A reusable free slot. Entries can be stale (trimmed off the tail, or reused after a trim),
    /// so each is checked before use.
    private mutating func popFreeSlot() -> Int? {
        while let f = freeSlots.popLast() {
            let s = Int(f)
            if s < keys.count && keys[s] == nil { return s }
        }
        return nil
    }

    private mutating func rebuildFreeSlots() {
        freeSlots.removeAll(keepingCapacity: true)
        for s in 0..<keys.count where keys[s] == nil { freeSlots.append(Int32(truncatingIfNeeded: s)) }
    }

    @discardableResult
    mutating func remove(_ key: Bytes) -> Bool {
        guard let s = find(key) else { return false }
        remove(slot: s)
        return true
    }

    /// A random live slot (uniform), or nil when empty.
    func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int? {
        if index.isEmpty { return nil }
        let n = keys.count
        for _ in 0..<64 {
            let s = Int.random(in: 0..<n, using: &g)
            if keys[s] != nil { return s }
        }
        // Very sparse: pick the k-th live slot.
        var k = Int.random(in: 0..<index.count, using: &g)
        for s in 0..<n where keys[s] != nil {
            if k == 0 { return s }
            k -= 1
        }
        return nil
    }

    /// Visits live slots from `cursor` on, covering at least `count` slots; returns the next cursor (0 when done).
    func scan(from cursor: Int, count: Int, _ visit: (Int) -> Void) -> Int {
        var s = max(0, cursor)
        let end = min(keys.count, s + max(1, count))
        while s < end {
            if keys[s] != nil { visit(s) }
            s += 1
        }
        return s >= keys.count ? 0 : s
    }

    func forEachSlot(_ body: (Int) throws -> Void) rethrows {
        for s in 0..<keys.count where keys[s] != nil { try body(s) }
    }
}
