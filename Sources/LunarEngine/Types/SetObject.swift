import LunarRESP
import NIOCore

/// One member of a set as its representation holds it: an integer of an intset, or bytes.
public enum SetMember: Hashable {
    case int(Int64)
    case bytes(Bytes)

    /// The member's bytes (decimal text for integers).
    public var bytes: Bytes {
        switch self {
        case let .int(v): return Bytes(String(v))
        case let .bytes(b): return b
        }
    }
}

/// A set value, with Redis 7.0's two representations behind one interface:
///
/// - "intset": every member is a canonical 64-bit integer (as Redis's string2ll accepts it) and there are
///   at most `set-max-intset-entries` of them; kept sorted, so iteration is ascending like Redis's.
/// - "hashtable": anything else, in a `SlotTable` (stable scan cursors, O(1) random sampling).
///
/// Conversion only goes from intset to hashtable, as in Redis.
public final class SetObject {
    /// Sorted members while the set is an intset (`table == nil`), packed like Redis's intset.
    private(set) var ints = PackedInts()
    private(set) var table: SlotTable<Void>?

    /// An empty intset (what Redis's result sets of SUNION/SINTER… start as).
    public init() {}

    /// An empty set with the representation Redis picks for a set created by adding `first`.
    public init(forFirst first: Bytes) {
        if parseStrictInt(first.raw) == nil { table = SlotTable(filler: ()) }
    }

    /// A set of `members` added in order with Redis's default intset limit (512). Prefer `copy()` to
    /// duplicate a set: it keeps the source's representation.
    public convenience init<S: Sequence>(_ members: S) where S.Element == Bytes {
        self.init(members: members, maxIntsetEntries: 512)
    }

    /// A hashtable set, whatever its members.
    public static func hashtable() -> SetObject {
        let s = SetObject()
        s.table = SlotTable(filler: ())
        return s
    }

    /// Builds a set from members, adding them in order (the representation follows Redis's rules).
    public convenience init<S: Sequence>(members: S, maxIntsetEntries: Int) where S.Element == Bytes {
        self.init()
        for m in members { add(m, maxIntsetEntries: maxIntsetEntries) }
    }

    /// An independent copy with the same representation (COPY…).
    public func copy() -> SetObject {
        let s = SetObject()
        s.ints = ints
        s.table = table?.clone()
        return s
    }

    public var count: Int { table?.count ?? ints.count }
    public var isEmpty: Bool { count == 0 }
    public var isIntset: Bool { table == nil }
    public var encodingName: String { table == nil ? "intset" : "hashtable" }

    // MARK: Membership

    public func contains(_ m: Bytes) -> Bool {
        if let table { return table.find(m) != nil }
        guard let v = parseStrictInt(m.raw) else { return false }
        return intIndex(Int64(v)).found
    }

    public func contains(_ m: SetMember) -> Bool {
        switch m {
        case let .int(v):
            if let table { return table.find(Bytes(String(v))) != nil }
            return intIndex(v).found
        case let .bytes(b):
            return contains(b)
        }
    }

    /// Binary search in the intset: the position of `v` or where it would go.
    @inline(__always) private func intIndex(_ v: Int64) -> (pos: Int, found: Bool) {
        var lo = 0, hi = ints.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let x = ints[mid]
            if x == v { return (mid, true) }
            if x < v { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    // MARK: Updates

    /// Adds a member; false if it was already there. Converts to a hashtable when the member is not an
    /// integer or the intset grows past `maxIntsetEntries`.
    @discardableResult
    public func add(_ m: Bytes, maxIntsetEntries: Int) -> Bool {
        if table == nil {
            if let v = parseStrictInt(m.raw) {
                let (pos, found) = intIndex(Int64(v))
                if found { return false }
                ints.insert(Int64(v), at: pos)
                if ints.count > maxIntsetEntries { convertToHashtable() }
                return true
            }
            convertToHashtable()
        }
        return table!.insertIfAbsent(m, ()).inserted
    }

    @discardableResult
    public func add(_ m: SetMember, maxIntsetEntries: Int) -> Bool {
        if case let .int(v) = m, table == nil {
            let (pos, found) = intIndex(v)
            if found { return false }
            ints.insert(v, at: pos)
            if ints.count > maxIntsetEntries { convertToHashtable() }
            return true
        }
        return add(m.bytes, maxIntsetEntries: maxIntsetEntries)
    }

    /// Removes a member; false if it was absent.
    @discardableResult
    public func remove(_ m: Bytes) -> Bool {
        if table != nil { return table!.remove(m) }
        guard let v = parseStrictInt(m.raw) else { return false }
        let (pos, found) = intIndex(Int64(v))
        if !found { return false }
        ints.remove(at: pos)
        return true
    }

    @discardableResult
    public func remove(_ m: SetMember) -> Bool {
        if case let .int(v) = m, table == nil {
            let (pos, found) = intIndex(v)
            if !found { return false }
            ints.remove(at: pos)
            return true
        }
        return remove(m.bytes)
    }

    /// Switches to the hashtable representation (one way).
    public func convertToHashtable() {
        guard table == nil else { return }
        let t = SlotTable<Void>(filler: (), capacity: ints.count)
        for v in ints { t.insert(Bytes(String(v)), ()) }
        table = t
        ints = PackedInts()
    }

    // MARK: Iteration

    /// Every member, in the representation's order (ascending for an intset).
    public func forEach(_ body: (SetMember) throws -> Void) rethrows {
        if let table {
            try table.forEachSlot { try body(.bytes(table.key(at: $0))) }
        } else {
            for v in ints { try body(.int(v)) }
        }
    }

    /// Every member, in the representation's order.
    public var elements: [SetMember] {
        var r: [SetMember] = []
        r.reserveCapacity(count)
        forEach { r.append($0) }
        return r
    }

    /// Every member's bytes, in the representation's order.
    public var members: [Bytes] {
        var r: [Bytes] = []
        r.reserveCapacity(count)
        forEach { r.append($0.bytes) }
        return r
    }

    /// Up to `limit` members (all when `limit` is 0) in the representation's order, without copying
    /// the rest (MEMORY USAGE sampling).
    public func firstMembers(_ limit: Int) -> [Bytes] {
        let n = limit == 0 ? count : Swift.min(limit, count)
        var r: [Bytes] = []
        r.reserveCapacity(n)
        struct Enough: Error {}
        try? forEach {
            if r.count == n { throw Enough() }
            r.append($0.bytes)
        }
        return r
    }

    /// Writes every member as a bulk string, in the representation's order (no header).
    public func writeMembers(to out: inout ReplyWriter) {
        if let table {
            table.forEachSlot { out.bulk(table.key(at: $0)) }
        } else {
            for v in ints { out.bulkDecimal(v) }
        }
    }

    // MARK: Random access

    /// A uniformly random member (the set must not be empty).
    public func randomMember<G: RandomNumberGenerator>(using g: inout G) -> SetMember {
        if let table {
            return .bytes(table.key(at: table.randomSlot(using: &g)!))
        }
        return .int(ints[Int.random(in: 0..<ints.count, using: &g)])
    }

    /// Removes and returns a random member (the set must not be empty).
    public func popRandom<G: RandomNumberGenerator>(using g: inout G) -> SetMember {
        if table != nil {
            let s = table!.randomSlot(using: &g)!
            let k = table!.key(at: s)
            table!.remove(slot: s)
            return .bytes(k)
        }
        return .int(ints.remove(at: Int.random(in: 0..<ints.count, using: &g)))
    }

    // MARK: Scanning

    /// One SSCAN step: an intset answers everything with cursor 0 (as Redis does for small encodings);
    /// a hashtable visits slots from `cursor` until about `count` members are collected.
    public func scan(cursor: UInt64, count: Int, _ visit: (SetMember) -> Void) -> UInt64 {
        guard let table else {
            for v in ints { visit(.int(v)) }
            return 0
        }
        if cursor >= UInt64(table.slotCount) { return 0 }
        var s = Int(cursor)
        var found = 0
        let maxSlots = count > Int.max / 10 ? Int.max : count * 10
        var visited = 0
        while s < table.slotCount && found < count && visited < maxSlots {
            if table.isLive(s) {
                visit(.bytes(table.key(at: s)))
                found += 1
            }
            s += 1
            visited += 1
        }
        return s >= table.slotCount ? 0 : UInt64(s)
    }
}

extension SetMember {
    /// Writes the member as a bulk string without building a `Bytes` for integers.
    @inline(__always) func write(to out: inout ReplyWriter) {
        switch self {
        case let .int(v): out.bulkDecimal(v)
        case let .bytes(b): out.bulk(b)
        }
    }
}

extension ReplyWriter {
    /// An integer sent as a bulk string, formatted straight into the buffer.
    @inline(__always) mutating func bulkDecimal(_ v: Int64) {
        var digits = 1
        var u = v < 0 ? v.magnitude : UInt64(v)
        while u >= 10 {
            u /= 10
            digits += 1
        }
        if v < 0 { digits += 1 }
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(digits)
        buffer.writeStaticString("\r\n")
        writeDecimal(Int(v))
        buffer.writeStaticString("\r\n")
    }
}

/// The members of an intset: sorted integers packed at the narrowest width that holds them all
/// (2, 4 or 8 bytes each), as Redis's intset does. The width only grows.
struct PackedInts: RandomAccessCollection {
    private(set) var bytes: [UInt8] = []
    /// log2 of the width in bytes (1, 2 or 3).
    private(set) var shift = 1

    init() {}

    var width: Int { 1 << shift }
    var startIndex: Int { 0 }
    var endIndex: Int { bytes.count >> shift }

    subscript(i: Int) -> Int64 {
        let offset = i << shift
        return bytes.withUnsafeBytes { p -> Int64 in
            switch shift {
            case 1: return Int64(p.loadUnaligned(fromByteOffset: offset, as: Int16.self))
            case 2: return Int64(p.loadUnaligned(fromByteOffset: offset, as: Int32.self))
            default: return p.loadUnaligned(fromByteOffset: offset, as: Int64.self)
            }
        }
    }

    private static func shiftFor(_ v: Int64) -> Int {
        if v >= Int64(Int16.min) && v <= Int64(Int16.max) { return 1 }
        if v >= Int64(Int32.min) && v <= Int64(Int32.max) { return 2 }
        return 3
    }

    private static func append(_ v: Int64, shift: Int, to out: inout [UInt8]) {
        switch shift {
        case 1: withUnsafeBytes(of: Int16(truncatingIfNeeded: v)) { out.append(contentsOf: $0) }
        case 2: withUnsafeBytes(of: Int32(truncatingIfNeeded: v)) { out.append(contentsOf: $0) }
        default: withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
        }
    }

    mutating func insert(_ v: Int64, at i: Int) {
        let need = PackedInts.shiftFor(v)
        if need > shift {
            var wider: [UInt8] = []
            wider.reserveCapacity((count + 1) << need)
            for x in self { PackedInts.append(x, shift: need, to: &wider) }
            bytes = wider
            shift = need
        }
        var enc: [UInt8] = []
        enc.reserveCapacity(8)
        PackedInts.append(v, shift: shift, to: &enc)
        bytes.insert(contentsOf: enc, at: i << shift)
    }

    @discardableResult
    mutating func remove(at i: Int) -> Int64 {
        let v = self[i]
        bytes.removeSubrange((i << shift)..<((i + 1) << shift))
        return v
    }
}
