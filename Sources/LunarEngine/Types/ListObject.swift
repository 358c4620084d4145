import DequeModule
import LunarRESP

/// A list value. Redis 7.0 reports every list as "quicklist"; a Deque gives O(1) pushes and pops at
/// both ends and O(1) indexing, which is all the list commands need.
///
/// The class holds the index arithmetic the list commands share (negative indexes, range clamping,
/// LPOS's rank/count/maxlen scan, LREM's directional removal) so it can be unit-tested on its own.
public final class ListObject {
    public var items: Deque<Bytes>
    public init(_ items: Deque<Bytes> = []) { self.items = items }

    @inline(__always) public var count: Int { items.count }
    @inline(__always) public var isEmpty: Bool { items.isEmpty }
    /// What OBJECT ENCODING reports (Redis 7.0 has a single list encoding).
    public var encodingName: String { "quicklist" }

    // MARK: Ends

    @inline(__always) public func push(_ v: Bytes, left: Bool) {
        if left { items.prepend(v) } else { items.append(v) }
    }

    @inline(__always) public func pop(left: Bool) -> Bytes? {
        left ? items.popFirst() : items.popLast()
    }

    // MARK: Indexes

    /// The position of a Redis index (negative counts from the tail), or nil when out of range.
    public func position(_ index: Int) -> Int? {
        let n = items.count
        let i = index < 0 ? n &+ index : index
        return i >= 0 && i < n ? i : nil
    }

    public func element(at index: Int) -> Bytes? {
        position(index).map { items[$0] }
    }

    /// Replaces the element at a Redis index; false when out of range.
    public func set(_ index: Int, _ v: Bytes) -> Bool {
        guard let i = position(index) else { return false }
        items[i] = v
        return true
    }

    /// The positions LRANGE covers for start/end (both inclusive, negative from the tail), clamped
    /// to the list; empty when the range selects nothing.
    public func range(_ start: Int, _ end: Int) -> Range<Int> {
        let n = items.count
        var s = start < 0 ? n &+ start : start
        var e = end < 0 ? n &+ end : end
        if s < 0 { s = 0 }
        if s > e || s >= n { return 0..<0 }
        if e >= n { e = n - 1 }
        return s..<(e + 1)
    }

    /// Keeps only the elements LRANGE start end would return (LTRIM); returns how many were removed.
    @discardableResult
    public func trim(_ start: Int, _ end: Int) -> Int {
        let n = items.count
        let keep = range(start, end)
        if keep.isEmpty {
            items.removeAll()
            return n
        }
        let tail = n - keep.upperBound
        if tail > 0 { items.removeLast(tail) }
        if keep.lowerBound > 0 { items.removeFirst(keep.lowerBound) }
        return n - keep.count
    }

    // MARK: Searching and editing

    /// Inserts `v` before or after the first element equal to `pivot`; false if no such element.
    public func insert(_ v: Bytes, pivot: Bytes, after: Bool) -> Bool {
        guard let i = items.firstIndex(of: pivot) else { return false }
        items.insert(v, at: after ? i + 1 : i)
        return true
    }

    /// LREM: removes elements equal to `v`, at most `count` from the head when count > 0, at most
    /// -count from the tail when count < 0, all when 0. Returns how many were removed.
    public func remove(_ v: Bytes, count: Int) -> Int {
        let fromTail = count < 0
        // Int.min cannot be negated: like Redis (whose limit wraps negative) it removes every match.
        let limit = count == 0 || count == Int.min ? Int.max : (fromTail ? -count : count)
        var removed = 0
        // One compaction pass keeps it O(N) however many elements go.
        var kept = Deque<Bytes>()
        kept.reserveCapacity(items.count)
        if fromTail {
            var i = items.count - 1
            while i >= 0 {
                let x = items[i]
                if removed < limit && x == v { removed += 1 } else { kept.prepend(x) }
                i -= 1
            }
        } else {
            for x in items {
                if removed < limit && x == v { removed += 1 } else { kept.append(x) }
            }
        }
        if removed > 0 { items = kept }
        return removed
    }

    /// LPOS's scan. `rank` picks the first match to report (negative scans from the tail; 1/-1 the
    /// first match), `count` caps how many are returned (0 all; nil means a single answer), `maxlen`
    /// caps how many elements are compared (0 no cap). Returns the matching indexes (from the head).
    ///
    /// Rank arithmetic wraps like Redis's 64-bit C code: a rank of Int.min reports every match
    /// from the tail regardless of `count`.
    public func positions(of v: Bytes, rank: Int, count: Int?, maxlen: Int) -> [Int] {
        let n = items.count
        let fromTail = rank < 0
        let r = fromTail ? 0 &- rank : rank
        var matches = 0
        var out: [Int] = []
        var scanned = 0
        while scanned < n && (maxlen == 0 || scanned < maxlen) {
            let pos = fromTail ? n - 1 - scanned : scanned
            if items[pos] == v {
                matches += 1
                if matches >= r {
                    out.append(pos)
                    guard let c = count else { break }
                    if c != 0 && (matches &- r &+ 1) >= c { break }
                }
            }
            scanned += 1
        }
        return out
    }
}
