#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A binary-safe byte string: keys, values, members and command arguments.
///
/// Wraps `[UInt8]` so that hashing feeds the whole buffer to the hasher at once
/// (Array's own `hash(into:)` combines byte by byte, which is several times slower).
public struct Bytes: Hashable, Sendable, Comparable, RandomAccessCollection, MutableCollection,
    RangeReplaceableCollection, ExpressibleByStringLiteral, CustomStringConvertible
{
    public var raw: [UInt8]

    /// What C's `%.Ns` prints of these bytes: up to the first NUL, at most `max` of them (how Redis
    /// quotes a client's arguments in its error replies).
    public func printedPrefix(max: Int = .max) -> ArraySlice<UInt8> {
        let limited = raw.prefix(Swift.max(0, max))
        if let nul = limited.firstIndex(of: 0) { return limited[..<nul] }
        return limited
    }

    @inlinable public init() { raw = [] }
    @inlinable public init(_ raw: [UInt8]) { self.raw = raw }
    @inlinable public init<S: Sequence>(_ s: S) where S.Element == UInt8 { raw = Array(s) }
    @inlinable public init(_ string: String) { raw = Array(string.utf8) }
    @inlinable public init(stringLiteral value: String) { raw = Array(value.utf8) }
    @inlinable public init(repeating b: UInt8, count: Int) { raw = [UInt8](repeating: b, count: count) }

    public typealias Index = Int
    public typealias Element = UInt8
    public typealias SubSequence = ArraySlice<UInt8>
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { raw.count }
    @inlinable public var count: Int { raw.count }
    @inlinable public var isEmpty: Bool { raw.isEmpty }
    @inlinable public subscript(i: Int) -> UInt8 {
        get { raw[i] }
        set { raw[i] = newValue }
    }
    @inlinable public subscript(r: Range<Int>) -> ArraySlice<UInt8> {
        get { raw[r] }
        set { raw[r] = newValue }
    }
    @inlinable public mutating func replaceSubrange<C: Collection>(_ r: Range<Int>, with c: C) where C.Element == UInt8 {
        raw.replaceSubrange(r, with: c)
    }
    @inlinable public mutating func reserveCapacity(_ n: Int) { raw.reserveCapacity(n) }
    @inlinable public mutating func append(_ b: UInt8) { raw.append(b) }
    @inlinable public mutating func append(contentsOf b: Bytes) { raw.append(contentsOf: b.raw) }
    @inlinable public mutating func append<S: Sequence>(contentsOf s: S) where S.Element == UInt8 { raw.append(contentsOf: s) }

    @inlinable public func hash(into hasher: inout Hasher) {
        raw.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
    /// What Dictionary and Set use to place a key (hash fields, set and sorted-set members):
    /// BytesHash, keyed by the table's own seed as well, instead of the standard library's SipHash,
    /// several times dearer for short strings.
    @inlinable public func _rawHashValue(seed: Int) -> Int {
        raw.withUnsafeBytes { BytesHash.hash($0, seed: UInt64(UInt(bitPattern: seed))) }
    }
    @inlinable public static func == (a: Bytes, b: Bytes) -> Bool {
        let n = a.raw.count
        if n != b.raw.count { return false }
        if n == 0 { return true }
        return a.raw.withUnsafeBytes { pa in
            b.raw.withUnsafeBytes { pb in
                // The request parser shares the storage of repeated arguments: same bytes, no compare.
                pa.baseAddress == pb.baseAddress || memcmp(pa.baseAddress!, pb.baseAddress!, n) == 0
            }
        }
    }
    /// True when both hold the very same (non-empty) storage, which implies equal contents: a cheap
    /// test for "the same argument as before" when the request parser shared it (see RequestParser).
    @inlinable public func sharesStorage(with other: Bytes) -> Bool {
        raw.withUnsafeBufferPointer { a in
            other.raw.withUnsafeBufferPointer { b in a.count > 0 && a.baseAddress == b.baseAddress && a.count == b.count }
        }
    }
    /// Lexicographic, unsigned byte order (memcmp), shorter prefix first: Redis's order for members and sorting.
    @inlinable public static func < (a: Bytes, b: Bytes) -> Bool { compare(a, b) < 0 }

    @inlinable public static func compare(_ a: Bytes, _ b: Bytes) -> Int {
        let n = Swift.min(a.raw.count, b.raw.count)
        if n > 0 {
            let c = a.raw.withUnsafeBytes { pa in b.raw.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, n) } }
            if c != 0 { return c < 0 ? -1 : 1 }
        }
        return a.raw.count == b.raw.count ? 0 : (a.raw.count < b.raw.count ? -1 : 1)
    }

    /// Lossy UTF-8 view, for logs, error messages and tests.
    public var string: String { String(decoding: raw, as: UTF8.self) }
    public var description: String { string }

    /// ASCII lowercase copy (command names, options).
    @inlinable public var lowercased: Bytes {
        var r = raw
        for i in r.indices where r[i] >= 65 && r[i] <= 90 { r[i] |= 0x20 }
        return Bytes(r)
    }

    /// Case-insensitive comparison with an ASCII literal, without allocating.
    @inlinable public func equalsIgnoringCase(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        if n != raw.count { return false }
        let p = s.utf8Start
        for i in 0..<n {
            var c = raw[i]
            if c >= 65 && c <= 90 { c |= 0x20 }
            var d = p[i]
            if d >= 65 && d <= 90 { d |= 0x20 }
            if c != d { return false }
        }
        return true
    }
}

extension Bytes {
    /// Decimal text of an integer.
    @inlinable public init(_ v: Int) { self.init(String(v)) }
    @inlinable public init(_ v: Int64) { self.init(String(v)) }
}

/// The hash of the key tables and of every Dictionary/Set keyed by Bytes: a seeded multiply-and-fold
/// hash that reads 8 bytes at a time.
///
/// Much cheaper than the standard library's SipHash for the short keys typical of a keyspace, and
/// still keyed by a random per-process seed, so which keys collide cannot be predicted from outside
/// (the hash-flooding defence Redis gets from its seeded SipHash). A Dictionary's per-table seed is
/// mixed in too, so two tables do not order the same keys alike (which would make copying one into
/// the other cluster).
public enum BytesHash {
    @usableFromInline static let key: (UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next() | 1, g.next())
    }()

    /// 64x64 -> 128-bit multiply, high and low halves folded together.
    @inlinable @inline(__always) static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inlinable @inline(__always) public static func hash(_ p: UnsafeRawBufferPointer, seed: UInt64 = 0) -> Int {
        let n = p.count
        var (k0, acc) = key
        if seed != 0 {
            k0 ^= fold(seed ^ 0xe703_7ed1_a0b4_28db, acc)
            acc ^= seed
        }
        var a: UInt64 = 0
        var b: UInt64 = 0
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
