import LunarRESP

/// The dictionary of one database: key → value, plus expiry times.
///
/// Entries live in slot arrays that never move a live entry, and a hash index maps keys to slots.
/// That gives SCAN a stable cursor (a slot number: a key present for the whole iteration is always
/// returned, whatever is added or removed meanwhile), O(1) random sampling for RANDOMKEY and the
/// active expiry cycle, and compact storage (no per-entry node objects).
public struct KeyTable {
    var index: [Bytes: Int32] = [:]
    var keys: [Bytes] = []
    var values: [Value?] = []
    /// Absolute expiry in Unix milliseconds; 0 when the key has none.
    var expires: [Int64] = []
    /// Position of each slot in `volatileSlots`, or -1.
    var volatilePos: [Int32] = []
    /// The slots whose key has an expiry, for sampling by the active expiry cycle.
    var volatileSlots: [Int32] = []
    var freeSlots: [Int32] = []

    public init() {}

    public var count: Int { index.count }
    public var volatileCount: Int { volatileSlots.count }
    public var slotCount: Int { keys.count }

    public func slot(of key: Bytes) -> Int? {
        guard let s = index[key] else { return nil }
        return Int(s)
    }

    public func key(at slot: Int) -> Bytes { keys[slot] }
    public func value(at slot: Int) -> Value? { values[slot] }
    public func expire(at slot: Int) -> Int64 { expires[slot] }

    /// Inserts a new key (which must be absent) and returns its slot.
    @discardableResult
    public mutating func insert(_ key: Bytes, _ value: Value) -> Int {
        let s: Int
        if let f = freeSlots.popLast() {
            s = Int(f)
            keys[s] = key
            values[s] = value
            expires[s] = 0
            volatilePos[s] = -1
        } else {
            s = keys.count
            keys.append(key)
            values.append(value)
            expires.append(0)
            volatilePos.append(-1)
        }
        index[key] = Int32(s)
        return s
    }

    public mutating func replaceValue(at slot: Int, with value: Value) {
        values[slot] = value
    }

    /// Mutates a value in place; the slot's own reference is released during the call so a
    /// string is not copied on write.
    public mutating func withValue<R>(at slot: Int, _ body: (inout Value) throws -> R) rethrows -> R {
        var v = values[slot].unsafelyUnwrapped
        values[slot] = nil
        defer { values[slot] = v }
        return try body(&v)
    }

    public mutating func remove(slot s: Int) {
        index.removeValue(forKey: keys[s])
        setExpire(slot: s, 0)
        keys[s] = Bytes()
        values[s] = nil
        if index.isEmpty {
            // Start over when empty so the slot arrays don't keep their peak size forever.
            removeAll()
        } else {
            freeSlots.append(Int32(s))
        }
    }

    public mutating func setExpire(slot s: Int, _ at: Int64) {
        let had = expires[s] != 0
        expires[s] = at
        if at != 0 && !had {
            volatilePos[s] = Int32(volatileSlots.count)
            volatileSlots.append(Int32(s))
        } else if at == 0 && had {
            let p = Int(volatilePos[s])
            let last = volatileSlots.removeLast()
            if p < volatileSlots.count {
                volatileSlots[p] = last
                volatilePos[Int(last)] = Int32(p)
            }
            volatilePos[s] = -1
        }
    }

    public mutating func removeAll() {
        index = [:]
        keys = []
        values = []
        expires = []
        volatilePos = []
        volatileSlots = []
        freeSlots = []
    }

    /// A random live slot, or nil when empty.
    public func randomSlot<G: RandomNumberGenerator>(using g: inout G) -> Int? {
        if index.isEmpty { return nil }
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
