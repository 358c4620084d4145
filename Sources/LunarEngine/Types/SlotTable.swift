import LunarRESP

/// The "hashtable" representation shared by large sets and hashes: members live in slot arrays that
/// never move a live entry, and a hash index maps each member to its slot.
///
/// A slot number is a stable SSCAN/HSCAN cursor (a member present for the whole scan is returned
/// exactly once, whatever is added or removed meanwhile) and random sampling is O(1) on average.
/// Freed slots are reused by later inserts. Each member's bytes are shared between the index and
/// the slot array (one allocation per member). A class, so an object holding a small (non-table)
/// representation pays one pointer for it.
final class SlotTable<V> {
    var index: [Bytes: Int32] = [:]
    /// nil marks a free slot.
    var keys: [Bytes?] = []
    /// Values by slot; stays empty when `V` has no storage (sets use `Void`), saving an array per set.
    var values: [V] = []
    @inline(__always) private var hasValues: Bool { MemoryLayout<V>.size != 0 }
    var freeSlots: [Int32] = []
    let filler: V

    init(filler: V, capacity: Int = 0) {
        self.filler = filler
        if capacity > 0 {
            index.reserveCapacity(capacity)
            keys.reserveCapacity(capacity)
            if hasValues { values.reserveCapacity(capacity) }
        }
    }

    /// An independent copy (COPY of a set or hash).
    func clone() -> SlotTable<V> {
        let c = SlotTable(filler: filler)
        c.index = index
        c.keys = keys
        c.values = values
        c.freeSlots = freeSlots
        return c
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
    func insert(_ key: Bytes, _ value: V) -> Int {
        let s: Int
        if let f = popFreeSlot() {
            s = f
            keys[s] = key
            if hasValues { values[s] = value }
        } else {
            s = keys.count
            keys.append(key)
            if hasValues { values.append(value) }
        }
        index[key] = Int32(truncatingIfNeeded: s)
        return s
    }

    /// Inserts `key` unless present, hashing it once. Returns the slot and whether it was inserted.
    @inline(__always)
    func insertIfAbsent(_ key: Bytes, _ value: V) -> (slot: Int, inserted: Bool) {
        let next = peekFreeSlot()
        var inserted = false
        let s = Int(SlotTable.touch(&index[key, default: { inserted = true; return Int32(truncatingIfNeeded: next) }()]))
        if !inserted { return (s, false) }
        if next < keys.count {
            _ = freeSlots.popLast()
            keys[next] = key
            if hasValues { values[next] = value }
        } else {
            keys.append(key)
            if hasValues { values.append(value) }
        }
        return (next, true)
    }

    @inline(__always) private static func touch(_ v: inout Int32) -> Int32 { v }

    /// The slot the next insert will use (a free slot, or the end), dropping stale free entries.
    @inline(__always) private func peekFreeSlot() -> Int {
        while let f = freeSlots.last {
            let s = Int(f)
            if s < keys.count && keys[s] == nil { return s }
            freeSlots.removeLast()
        }
        return keys.count
    }

    func remove(slot s: Int) {
        index.removeValue(forKey: keys[s].unsafelyUnwrapped)
        keys[s] = nil
        if hasValues { values[s] = filler }
        if index.isEmpty {
            keys.removeAll()
            values.removeAll()
            freeSlots.removeAll()
        } else if s == keys.count - 1 {
            // Trim free slots at the tail so the arrays shrink as the table empties from the end.
            keys.removeLast()
            if hasValues { values.removeLast() }
            while let last = keys.last, last == nil {
                keys.removeLast()
                if hasValues { values.removeLast() }
            }
        } else {
            freeSlots.append(Int32(truncatingIfNeeded: s))
            if freeSlots.count > 2 * keys.count + 16 { rebuildFreeSlots() }
        }
    }

    /// A reusable free slot. Entries can be stale (trimmed off the tail, or reused after a trim),
    /// so each is checked before use.
    private func popFreeSlot() -> Int? {
        while let f = freeSlots.popLast() {
            let s = Int(f)
            if s < keys.count && keys[s] == nil { return s }
        }
        return nil
    }

    private func rebuildFreeSlots() {
        freeSlots.removeAll(keepingCapacity: true)
        for s in 0..<keys.count where keys[s] == nil { freeSlots.append(Int32(truncatingIfNeeded: s)) }
    }

    @discardableResult
    func remove(_ key: Bytes) -> Bool {
        guard let s = find(key) else { return false }
        remove(slot: s)
        return true
    }

    /// A random live slot, or nil when empty. Uniform while the table is reasonably dense (random
    /// probes); on a very sparse table the fallback takes the first live slot at or after a random
    /// position, which costs O(gap) instead of O(slots) (slightly biased, like Redis's own sampling).
    func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int? {
        if index.isEmpty { return nil }
        let n = keys.count
        for _ in 0..<16 {
            let s = Int.random(in: 0..<n, using: &g)
            if keys[s] != nil { return s }
        }
        var s = Int.random(in: 0..<n, using: &g)
        for _ in 0..<n {
            if keys[s] != nil { return s }
            s += 1
            if s == n { s = 0 }
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
