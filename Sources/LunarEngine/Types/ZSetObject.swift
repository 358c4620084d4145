import LunarRESP

/// The fixed part of a skip list node.
public struct ZSkipNodeHead {
    var member: Bytes
    var score: Double
    unowned(unsafe) var backward: ZSkipNode?
    /// Position in the owner's slot array (the stable cursor of ZSCAN).
    var slot: Int32
    var height: Int32
}

/// One level of a node: the next node at that level and how many level-0 steps the link jumps over
/// (rank distance to `forward`). Links do not own: the set's dictionary and slot array own the nodes.
public struct ZSkipLevel {
    /// The link itself; searches follow it without reference counting (see ZSetObject.skipInsert).
    var next: Unmanaged<ZSkipNode>?
    var span: Int
    var forward: ZSkipNode? {
        @inline(__always) get { next?.takeUnretainedValue() }
        @inline(__always) set { next = newValue.map { Unmanaged.passUnretained($0) } }
    }
    init(forward: ZSkipNode?, span: Int) {
        next = forward.map { Unmanaged.passUnretained($0) }
        self.span = span
    }
}

/// One element of a sorted set's skip list. The member never changes; the score changes only
/// through `ZSetObject`, which keeps the list ordered.
///
/// The levels are allocated in the node itself (a ManagedBuffer's tail), as Redis lays its nodes
/// out: a step along the list touches one block of memory, not a node and then its level array.
public final class ZSkipNode: ManagedBuffer<ZSkipNodeHead, ZSkipLevel> {
    static func make(member: Bytes, score: Double, height: Int) -> ZSkipNode {
        let buffer = ZSkipNode.create(minimumCapacity: height) { _ in
            ZSkipNodeHead(member: member, score: score, backward: nil, slot: -1, height: Int32(height))
        }
        let node = unsafeDowncast(buffer, to: ZSkipNode.self)
        node.levels.initialize(repeating: ZSkipLevel(forward: nil, span: 0), count: height)
        return node
    }

    public var member: Bytes { header.member }
    public internal(set) var score: Double {
        @inline(__always) get { header.score }
        @inline(__always) set { header.score = newValue }
    }
    var backward: ZSkipNode? {
        @inline(__always) get { header.backward }
        @inline(__always) set { header.backward = newValue }
    }
    var slot: Int32 {
        @inline(__always) get { header.slot }
        @inline(__always) set { header.slot = newValue }
    }
    @inline(__always) var height: Int { Int(header.height) }
    /// The node's levels (`height` of them), right after its header.
    @inline(__always) var levels: UnsafeMutablePointer<ZSkipLevel> { withUnsafeMutablePointerToElements { $0 } }

    /// The next element in ascending order.
    @inline(__always) public var next: ZSkipNode? { levels[0].forward }
    /// The previous element in ascending order.
    @inline(__always) public var previous: ZSkipNode? { header.backward }
}

/// A score interval for ZRANGEBYSCORE and friends; `minExclusive`/`maxExclusive` come from a `(` prefix.
public struct ZScoreRange {
    public var min: Double
    public var max: Double
    public var minExclusive: Bool
    public var maxExclusive: Bool
    public init(min: Double, max: Double, minExclusive: Bool = false, maxExclusive: Bool = false) {
        self.min = min
        self.max = max
        self.minExclusive = minExclusive
        self.maxExclusive = maxExclusive
    }
    @inline(__always) public func aboveMin(_ v: Double) -> Bool { minExclusive ? v > min : v >= min }
    @inline(__always) public func belowMax(_ v: Double) -> Bool { maxExclusive ? v < max : v <= max }
    @inline(__always) public func contains(_ v: Double) -> Bool { aboveMin(v) && belowMax(v) }
    /// True when no value can be inside.
    public var isEmpty: Bool { min > max || (min == max && (minExclusive || maxExclusive)) }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
public enum ZLexBound {
    case minusInfinity
    case plusInfinity
    case inclusive(Bytes)
    case exclusive(Bytes)
}

/// A member interval for ZRANGEBYLEX and friends (members compared with memcmp).
public struct ZLexRange {
    public var min: ZLexBound
    public var max: ZLexBound
    public init(min: ZLexBound, max: ZLexBound) {
        self.min = min
        self.max = max
    }
    public func aboveMin(_ m: Bytes) -> Bool {
        switch min {
        case .minusInfinity: return true
        case .plusInfinity: return false
        case let .inclusive(b): return Bytes.compare(m, b) >= 0
        case let .exclusive(b): return Bytes.compare(m, b) > 0
        }
    }
    public func belowMax(_ m: Bytes) -> Bool {
        switch max {
        case .minusInfinity: return false
        case .plusInfinity: return true
        case let .inclusive(b): return Bytes.compare(m, b) <= 0
        case let .exclusive(b): return Bytes.compare(m, b) < 0
        }
    }
    @inline(__always) public func contains(_ m: Bytes) -> Bool { aboveMin(m) && belowMax(m) }
}

/// A sorted set: a member → node dictionary for O(1) score lookup, plus a skip list with spans
/// ordered by (score, member bytes) for O(log n) insert, delete, rank, select-by-rank and range starts.
///
/// `encodingName` mimics Redis 7.0: "listpack" while the set is small (entries and member length
/// within the zset-max-listpack-* limits), "skiplist" once it has outgrown them (never back).
/// Only the reported name and Redis's listpack quirk (a -0 score is stored as 0) depend on it.
public final class ZSetObject {
    static let maxHeight = 32

    private var dict: [Bytes: ZSkipNode] = [:]
    private let header = ZSkipNode.make(member: Bytes(), score: 0, height: ZSetObject.maxHeight)
    private unowned(unsafe) var tailNode: ZSkipNode?
    private var height = 1
    /// Elements in the skip list (equals the dictionary's count except in the middle of a move).
    private var length = 0
    /// Every node by slot, so ZSCAN can walk with a cursor that survives inserts and deletes.
    private var slots: [ZSkipNode?] = []
    private var freeSlots: [Int32] = []
    private var rng = ZRandom(seed: 0)
    // Scratch for insert/delete, kept to avoid an allocation per operation.
    private struct NodeRef { unowned(unsafe) var node: ZSkipNode }
    private let update: UnsafeMutablePointer<NodeRef>
    private let rankScratch: UnsafeMutablePointer<Int>

    /// True while Redis would still hold this set as a listpack.
    public private(set) var isCompact = true

    public init() {
        update = UnsafeMutablePointer<NodeRef>.allocate(capacity: ZSetObject.maxHeight)
        rankScratch = UnsafeMutablePointer<Int>.allocate(capacity: ZSetObject.maxHeight)
        rankScratch.initialize(repeating: 0, count: ZSetObject.maxHeight)
        rng = ZRandom(seed: UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)) &+ ZRandom.counter())
        update.initialize(repeating: NodeRef(node: header), count: ZSetObject.maxHeight)
    }

    /// A uniform random integer in 0..<n from this set's own generator.
    @inline(__always) public func randomIndex(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }

    deinit {
        // The nodes go with `dict` and `slots` (links do not own, so nothing is released recursively).
        update.deallocate()
        rankScratch.deallocate()
    }

    public var count: Int { dict.count }
    public var isEmpty: Bool { dict.isEmpty }
    public var encodingName: String { isCompact ? "listpack" : "skiplist" }

    /// The lowest element.
    public var first: ZSkipNode? { header.levels[0].forward }
    /// The highest element.
    public var last: ZSkipNode? { tailNode }

    /// Before adding a member: converts to the large representation if the addition would exceed
    /// the limits (one way, as in Redis).
    @inline(__always)
    public func prepareInsert(maxEntries: Int, maxValue: Int, memberLength: Int) {
        if isCompact && (dict.count + 1 > maxEntries || memberLength > maxValue) { isCompact = false }
    }

    /// Marks the set as large unless it fits the listpack limits (used for freshly built store results).
    public func settleEncoding(maxEntries: Int, maxValue: Int) {
        if dict.count > maxEntries {
            isCompact = false
            return
        }
        var x = first
        while let n = x {
            if n.member.count > maxValue {
                isCompact = false
                return
            }
            x = n.next
        }
        isCompact = true
        // A listpack keeps no negative zero.
        x = first
        while let n = x {
            if n.score == 0 { n.score = 0 }
            x = n.next
        }
    }

    /// Marks a set under construction as large (no listpack normalisation while it is built).
    public func beginBuilding() { isCompact = false }

    // MARK: Lookup

    @inline(__always) public func score(of member: Bytes) -> Double? { dict[member]?.score }
    @inline(__always) public func node(for member: Bytes) -> ZSkipNode? { dict[member] }
    @inline(__always) public func contains(_ member: Bytes) -> Bool { dict[member] != nil }

    // MARK: Writes

    /// Adds a member that must be absent. The caller checks limits afterwards.
    @discardableResult
    public func insert(_ member: Bytes, score rawScore: Double) -> ZSkipNode {
        let score = normalized(rawScore)
        let node = skipInsert(member, score)
        dict[member] = node
        if let f = freeSlots.popLast() {
            node.slot = f
            slots[Int(f)] = node
        } else {
            node.slot = Int32(slots.count)
            slots.append(node)
        }
        return node
    }

    /// Changes the score of an existing member, moving it only if its position changes.
    public func setScore(_ node: ZSkipNode, _ rawScore: Double) {
        let score = normalized(rawScore)
        let prev = node.backward
        let next = node.levels[0].forward
        if (prev == nil || prev!.score < score || (prev!.score == score && Bytes.compare(prev!.member, node.member) < 0))
            && (next == nil || next!.score > score || (next!.score == score && Bytes.compare(next!.member, node.member) > 0))
        {
            node.score = score
            return
        }
        // The node moves: unlinked and linked again at its new place, with its height (as Redis's
        // zslUpdateScore does). Its dictionary entry and slot stay as they are.
        let member = node.member
        skipDelete(node.score, member)
        skipInsert(member, score, reusing: node)
    }

    /// Removes a member; returns false if it was absent.
    @discardableResult
    public func remove(_ member: Bytes) -> Bool {
        guard let node = dict.removeValue(forKey: member) else { return false }
        detach(node)
        return true
    }

    /// Removes a node known to be in this set.
    public func remove(node: ZSkipNode) {
        dict.removeValue(forKey: node.member)
        detach(node)
    }

    private func detach(_ node: ZSkipNode) {
        skipDelete(node.score, node.member)
        let s = Int(node.slot)
        slots[s] = nil
        if dict.isEmpty {
            slots.removeAll()
            freeSlots.removeAll()
        } else {
            freeSlots.append(Int32(s))
        }
    }

    /// In a listpack Redis stores -0 as the integer 0, so the sign is lost while compact.
    @inline(__always) private func normalized(_ s: Double) -> Double {
        (isCompact && s == 0) ? 0 : s
    }

    // MARK: Rank

    /// 0-based rank of a member in ascending order, or nil.
    public func rank(of member: Bytes) -> Int? {
        guard let node = dict[member] else { return nil }
        return rank(node)
    }

    /// 0-based ascending rank of a node of this set.
    public func rank(_ node: ZSkipNode) -> Int {
        let score = node.score
        let member = node.member
        let target = Unmanaged.passUnretained(node).toOpaque()
        var r = 0
        var x = Unmanaged.passUnretained(header)
        var i = height - 1
        while i >= 0 {
            while true {
                let lv = Self.levels(x) + i
                guard let f = lv.pointee.next, Self.precedes(f, score, member, orEqual: true) else { break }
                r += lv.pointee.span
                x = f
            }
            if x.toOpaque() == target { return r - 1 }
            i -= 1
        }
        return r - 1
    }

    /// The element at a 0-based ascending rank.
    public func node(atRank rank: Int) -> ZSkipNode? {
        if rank < 0 || rank >= dict.count { return nil }
        let target = rank + 1
        var traversed = 0
        var x = header
        var i = height - 1
        while i >= 0 {
            while let f = x.levels[i].forward, traversed + x.levels[i].span <= target {
                traversed += x.levels[i].span
                x = f
            }
            if traversed == target { return x }
            i -= 1
        }
        return nil
    }

    // MARK: Ranges

    /// The lowest element inside the score range.
    public func firstIn(_ range: ZScoreRange) -> ZSkipNode? {
        if range.isEmpty { return nil }
        guard let t = tailNode, range.aboveMin(t.score), let h = first, range.belowMax(h.score) else { return nil }
        var x = header
        var i = height - 1
        while i >= 0 {
            while let f = x.levels[i].forward, !range.aboveMin(f.score) { x = f }
            i -= 1
        }
        guard let n = x.levels[0].forward, range.belowMax(n.score) else { return nil }
        return n
    }

    /// The highest element inside the score range.
    public func lastIn(_ range: ZScoreRange) -> ZSkipNode? {
        if range.isEmpty { return nil }
        guard let t = tailNode, range.aboveMin(t.score), let h = first, range.belowMax(h.score) else { return nil }
        var x = header
        var i = height - 1
        while i >= 0 {
            while let f = x.levels[i].forward, range.belowMax(f.score) { x = f }
            i -= 1
        }
        if x === header || !range.aboveMin(x.score) { return nil }
        return x
    }

    /// The lowest element inside the lexicographic range (meaningful when all scores are equal).
    public func firstIn(_ range: ZLexRange) -> ZSkipNode? {
        guard let t = tailNode, range.aboveMin(t.member), let h = first, range.belowMax(h.member) else { return nil }
        if isCompact {
            // A listpack is scanned element by element: the first member at or above min decides.
            var x: ZSkipNode? = h
            while let n = x {
                if range.aboveMin(n.member) { return range.belowMax(n.member) ? n : nil }
                x = n.next
            }
            return nil
        }
        var x = header
        var i = height - 1
        while i >= 0 {
            while let f = x.levels[i].forward, !range.aboveMin(f.member) { x = f }
            i -= 1
        }
        guard let n = x.levels[0].forward, range.belowMax(n.member) else { return nil }
        return n
    }

    /// The highest element inside the lexicographic range.
    public func lastIn(_ range: ZLexRange) -> ZSkipNode? {
        guard let t = tailNode, range.aboveMin(t.member), let h = first, range.belowMax(h.member) else { return nil }
        if isCompact {
            var x: ZSkipNode? = t
            while let n = x {
                if range.belowMax(n.member) { return range.aboveMin(n.member) ? n : nil }
                x = n.previous
            }
            return nil
        }
        var x = header
        var i = height - 1
        while i >= 0 {
            while let f = x.levels[i].forward, range.belowMax(f.member) { x = f }
            i -= 1
        }
        if x === header || !range.aboveMin(x.member) { return nil }
        return x
    }

    /// How many elements lie in the score range.
    public func count(in range: ZScoreRange) -> Int {
        guard let a = firstIn(range), let b = lastIn(range) else { return 0 }
        return rank(b) - rank(a) + 1
    }

    /// How many elements lie in the lexicographic range.
    public func count(in range: ZLexRange) -> Int {
        if isCompact {
            // As a listpack counts: from the first member in range while members stay at or below max.
            var n = 0
            var x = firstIn(range)
            while let e = x, range.belowMax(e.member) {
                n += 1
                x = e.next
            }
            return n
        }
        guard let a = firstIn(range), let b = lastIn(range) else { return 0 }
        return rank(b) - rank(a) + 1
    }

    // MARK: Iteration

    /// Calls `body` on every element in ascending order.
    public func forEach(_ body: (ZSkipNode) -> Void) {
        var x = first
        while let n = x {
            x = n.next
            body(n)
        }
    }

    /// A random element (uniform).
    public func randomNode() -> ZSkipNode? {
        if dict.isEmpty { return nil }
        for _ in 0..<64 {
            if let n = slots[Int.random(in: 0..<slots.count, using: &rng)] { return n }
        }
        return node(atRank: Int.random(in: 0..<dict.count, using: &rng))
    }

    /// Slots in [cursor, cursor+count) for ZSCAN; returns the next cursor (0 when done).
    public func scan(from cursor: Int, count: Int, _ visit: (ZSkipNode) -> Void) -> Int {
        var s = max(0, cursor)
        let end = min(slots.count, s &+ max(1, count))
        while s < end {
            if let n = slots[s] { visit(n) }
            s += 1
        }
        return s >= slots.count ? 0 : s
    }

    /// An independent copy (used when a store command's destination is also a source, and by COPY-like users).
    public func copy() -> ZSetObject {
        let z = ZSetObject()
        z.isCompact = isCompact
        forEach { z.insert($0.member, score: $0.score) }
        return z
    }

    // MARK: Skip list internals

    private func randomHeight() -> Int {
        // Each level kept with probability 1/4, as in the classic design.
        var h = 1
        var bits = rng.next()
        while h < ZSetObject.maxHeight && (bits & 3) == 0 {
            h += 1
            bits >>= 2
            if bits == 0 { bits = rng.next() }
        }
        return h
    }

    /// Whether a search for (score, member) goes past node `f`.
    @inline(__always) private static func precedes(_ f: Unmanaged<ZSkipNode>, _ score: Double, _ member: Bytes,
                                                   orEqual: Bool = false) -> Bool {
        f._withUnsafeGuaranteedRef { n in
            let s = n.score
            if s != score { return s < score }
            let c = Bytes.compare(n.member, member)
            return orEqual ? c <= 0 : c < 0
        }
    }
    @inline(__always) private static func levels(_ x: Unmanaged<ZSkipNode>) -> UnsafeMutablePointer<ZSkipLevel> {
        x._withUnsafeGuaranteedRef { $0.levels }
    }

    // The searches below walk the list through unmanaged references: the nodes are owned by `dict`
    // and `slots` throughout, and a retain/release per step would cost more than the step itself.

    /// Links a new node for `member`, or `reusing` (a node just unlinked by skipDelete, given its new score).
    @discardableResult
    private func skipInsert(_ member: Bytes, _ score: Double, reusing old: ZSkipNode? = nil) -> ZSkipNode {
        var x = Unmanaged.passUnretained(header)
        var i = height - 1
        while i >= 0 {
            rankScratch[i] = i == height - 1 ? 0 : rankScratch[i + 1]
            while true {
                let lv = Self.levels(x) + i
                guard let f = lv.pointee.next, Self.precedes(f, score, member) else { break }
                rankScratch[i] += lv.pointee.span
                x = f
            }
            update[i].node = x.takeUnretainedValue()
            i -= 1
        }
        let h = old?.height ?? randomHeight()
        if h > height {
            for j in height..<h {
                rankScratch[j] = 0
                update[j].node = header
                header.levels[j].span = length
            }
            height = h
        }
        let node: ZSkipNode
        if let old {
            old.score = score
            node = old
        } else {
            node = ZSkipNode.make(member: member, score: score, height: h)
        }
        for j in 0..<h {
            let u = update[j].node
            node.levels[j].forward = u.levels[j].forward
            u.levels[j].forward = node
            node.levels[j].span = u.levels[j].span - (rankScratch[0] - rankScratch[j])
            u.levels[j].span = rankScratch[0] - rankScratch[j] + 1
        }
        if h < height {
            for j in h..<height { update[j].node.levels[j].span += 1 }
        }
        node.backward = update[0].node === header ? nil : update[0].node
        if let f = node.levels[0].forward { f.backward = node } else { tailNode = node }
        length += 1
        return node
    }

    private func skipDelete(_ score: Double, _ member: Bytes) {
        var x = Unmanaged.passUnretained(header)
        var i = height - 1
        while i >= 0 {
            while true {
                let lv = Self.levels(x) + i
                guard let f = lv.pointee.next, Self.precedes(f, score, member) else { break }
                x = f
            }
            update[i].node = x.takeUnretainedValue()
            i -= 1
        }
        guard let node = Self.levels(x)[0].forward, node.score == score, node.member == member else { return }
        for j in 0..<height {
            let u = update[j].node
            if u.levels[j].forward === node {
                u.levels[j].span += node.levels[j].span - 1
                u.levels[j].forward = node.levels[j].forward
            } else {
                u.levels[j].span -= 1
            }
        }
        if let f = node.levels[0].forward { f.backward = node.backward } else { tailNode = node.backward }
        while height > 1 && header.levels[height - 1].forward == nil { height -= 1 }
        length -= 1
        for j in 0..<height { update[j].node = header }
    }
}

/// A small, fast generator (splitmix64) for skip list heights and random members; not for security.
public struct ZRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    nonisolated(unsafe) private static var seedCounter: UInt64 = UInt64.random(in: 0...UInt64.max)
    /// A changing seed component (engine thread only; a race would only make it less varied).
    static func counter() -> UInt64 {
        seedCounter &+= 0x2545_F491_4F6C_DD1D
        return seedCounter
    }
}
