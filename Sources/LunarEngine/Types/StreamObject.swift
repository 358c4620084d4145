import LunarRESP

/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
public struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var ms: UInt64
    public var seq: UInt64

    public init(_ ms: UInt64, _ seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    public static let zero = StreamID(0, 0)
    public static let max = StreamID(UInt64.max, UInt64.max)

    public static func < (a: StreamID, b: StreamID) -> Bool {
        a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq
    }

    public var isZero: Bool { ms == 0 && seq == 0 }

    /// The ID right after this one, nil past the last possible ID.
    public var successor: StreamID? {
        if seq != UInt64.max { return StreamID(ms, seq + 1) }
        if ms != UInt64.max { return StreamID(ms + 1, 0) }
        return nil
    }

    /// The ID right before this one, nil before 0-0.
    public var predecessor: StreamID? {
        if seq != 0 { return StreamID(ms, seq - 1) }
        if ms != 0 { return StreamID(ms - 1, UInt64.max) }
        return nil
    }

    public var description: String { "\(ms)-\(seq)" }
    public var bytes: Bytes { Bytes(description) }

    /// The 16-byte big-endian form Redis uses as radix-tree key and in RDB PELs.
    public var bigEndian: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: ms >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    public init?(bigEndian b: [UInt8]) {
        guard b.count == 16 else { return nil }
        var m: UInt64 = 0, s: UInt64 = 0
        for i in 0..<8 {
            m = m << 8 | UInt64(b[i])
            s = s << 8 | UInt64(b[8 + i])
        }
        self.init(m, s)
    }

    /// Parses an unsigned 64-bit decimal as Redis's string2ull does for IDs (digits only, no sign).
    public static func parseU64<C: Collection>(_ s: C) -> UInt64? where C.Element == UInt8 {
        if s.isEmpty || s.count > 20 { return nil }
        var v: UInt64 = 0
        for c in s {
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// "ms-seq" or "ms" (seq then defaults to `missingSeq`). Nil when malformed.
    public static func parse(_ b: Bytes, missingSeq: UInt64) -> StreamID? {
        if b.count > 127 { return nil }
        if let dash = b.raw.firstIndex(of: UInt8(ascii: "-")) {
            guard let m = parseU64(b.raw[..<dash]), let s = parseU64(b.raw[(dash + 1)...]) else { return nil }
            return StreamID(m, s)
        }
        guard let m = parseU64(b.raw) else { return nil }
        return StreamID(m, missingSeq)
    }
}

/// One entry of a node, live or deleted (a tombstone kept as Redis keeps it in its listpack).
public struct StreamEntry {
    public var id: StreamID
    /// field, value, field, value…
    public var fields: [Bytes]
    public var deleted: Bool

    public init(id: StreamID, fields: [Bytes], deleted: Bool) {
        self.id = id
        self.fields = fields
        self.deleted = deleted
    }
}

/// A run of entries that Redis would keep in one listpack node (at most stream-node-max-entries
/// entries and about stream-node-max-bytes bytes). Modelling the nodes keeps `~` trimming, XINFO's
/// radix-tree-keys and the RDB layout as Redis has them.
public final class StreamNode {
    public var master: StreamID
    public var masterFields: [Bytes]
    public var entries: [StreamEntry] = []
    public var live = 0
    public var deletedCount = 0
    /// Listpack bytes of everything but the master entry's two counters (which change size).
    var fixedBytes = 0

    public init(master: StreamID, masterFields: [Bytes]) {
        self.master = master
        self.masterFields = masterFields
        // Header and end byte, then the master entry: field count, fields, terminating 0.
        fixedBytes = 7 + LPSize.int(Int64(masterFields.count)) + LPSize.int(0)
        for f in masterFields { fixedBytes += LPSize.string(f) }
    }

    /// True when an entry with these fields uses the master fields (SAMEFIELDS flag).
    public func sameFields(_ fields: [Bytes]) -> Bool {
        if fields.count != masterFields.count * 2 { return false }
        for i in 0..<masterFields.count where fields[2 * i] != masterFields[i] { return false }
        return true
    }

    /// Appends an entry (live or not) and accounts for its listpack size.
    public func append(_ e: StreamEntry) {
        let same = sameFields(e.fields)
        var size = LPSize.int(e.deleted ? (same ? 3 : 1) : (same ? 2 : 0))
        size += LPSize.int(Int64(bitPattern: e.id.ms &- master.ms))
        size += LPSize.int(Int64(bitPattern: e.id.seq &- master.seq))
        var lpCount = 3
        if same {
            for i in stride(from: 1, to: e.fields.count, by: 2) { size += LPSize.string(e.fields[i]) }
            lpCount += e.fields.count / 2
        } else {
            size += LPSize.int(Int64(e.fields.count / 2))
            for f in e.fields { size += LPSize.string(f) }
            lpCount += 1 + e.fields.count
        }
        size += LPSize.int(Int64(lpCount))
        fixedBytes += size
        entries.append(e)
        if e.deleted { deletedCount += 1 } else { live += 1 }
    }

    /// The node's listpack size in bytes, as Redis's lpBytes would report it.
    public var listpackBytes: Int { fixedBytes + LPSize.int(Int64(live)) + LPSize.int(Int64(deletedCount)) }

    /// Index of the first entry with id >= `id`.
    func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public var lastID: StreamID { entries.last?.id ?? master }

    func copy() -> StreamNode {
        let n = StreamNode(master: master, masterFields: masterFields)
        n.entries = entries
        n.live = live
        n.deletedCount = deletedCount
        n.fixedBytes = fixedBytes
        return n
    }
}

/// Sizes of listpack elements (encoding plus back-length), for node-size accounting.
public enum LPSize {
    @inline(__always) static func backlen(_ l: Int) -> Int {
        l < 128 ? 1 : l < 16384 ? 2 : l < 2_097_152 ? 3 : l < 268_435_456 ? 4 : 5
    }
    public static func int(_ v: Int64) -> Int {
        let l: Int
        if v >= 0 && v <= 127 { l = 1 }
        else if v >= -4096 && v <= 4095 { l = 2 }
        else if v >= Int64(Int16.min) && v <= Int64(Int16.max) { l = 3 }
        else if v >= -(1 << 23) && v < (1 << 23) { l = 4 }
        else if v >= Int64(Int32.min) && v <= Int64(Int32.max) { l = 5 }
        else { l = 9 }
        return l + backlen(l)
    }
    public static func string(_ s: Bytes) -> Int {
        let n = s.count
        if n > 0 && n <= 20, let v = parseStrictInt(s.raw), canonical(s.raw, v) { return int(Int64(v)) }
        let l = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n
        return l + backlen(l)
    }
    static func canonical(_ s: [UInt8], _ v: Int) -> Bool {
        String(v).utf8.elementsEqual(s)
    }
}

/// An entry delivered to a consumer and not yet acknowledged (an entry of a PEL).
public final class PendingEntry {
    public var consumer: StreamConsumer
    public var deliveryTime: Int64
    public var deliveryCount: UInt64

    public init(consumer: StreamConsumer, deliveryTime: Int64, deliveryCount: UInt64) {
        self.consumer = consumer
        self.deliveryTime = deliveryTime
        self.deliveryCount = deliveryCount
    }
}

/// An ID-ordered map (PELs).
public struct IDMap<V> {
    public private(set) var keys: [StreamID] = []
    public private(set) var values: [V] = []
    public init() {}

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public func lowerBound(_ id: StreamID) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public subscript(id: StreamID) -> V? {
        let i = lowerBound(id)
        return i < keys.count && keys[i] == id ? values[i] : nil
    }

    /// Inserts or replaces; true if the key was new.
    @discardableResult
    public mutating func set(_ id: StreamID, _ v: V) -> Bool {
        if let last = keys.last, last < id {
            keys.append(id)
            values.append(v)
            return true
        }
        let i = lowerBound(id)
        if i < keys.count && keys[i] == id {
            values[i] = v
            return false
        }
        keys.insert(id, at: i)
        values.insert(v, at: i)
        return true
    }

    @discardableResult
    public mutating func remove(_ id: StreamID) -> V? {
        let i = lowerBound(id)
        guard i < keys.count && keys[i] == id else { return nil }
        keys.remove(at: i)
        return values.remove(at: i)
    }
}

public final class StreamConsumer {
    public let name: Bytes
    public var seenTime: Int64
    public var pel = IDMap<PendingEntry>()

    public init(name: Bytes, seenTime: Int64) {
        self.name = name
        self.seenTime = seenTime
    }
}

public final class StreamGroup {
    public let name: Bytes
    public var lastID: StreamID
    /// Logical count of entries read by the group; -1 when unknown.
    public var entriesRead: Int64
    public var pel = IDMap<PendingEntry>()
    public var consumers: [Bytes: StreamConsumer] = [:]

    public init(name: Bytes, lastID: StreamID, entriesRead: Int64) {
        self.name = name
        self.lastID = lastID
        self.entriesRead = entriesRead
    }

    /// Consumers in name order (Redis keeps them in a radix tree).
    public var sortedConsumers: [StreamConsumer] {
        consumers.values.sorted { $0.name < $1.name }
    }
}

/// A stream: entries in ID order held in listpack-sized nodes, plus consumer groups.
public final class StreamObject {
    public var nodes: [StreamNode] = []
    public var length = 0
    public var lastID = StreamID.zero
    public var firstID = StreamID.zero
    public var maxDeletedID = StreamID.zero
    public var entriesAdded: UInt64 = 0
    public var groups: [Bytes: StreamGroup] = [:]

    public init() {}

    public static let invalidEntriesRead: Int64 = -1

    public var encodingName: String { "stream" }

    public var sortedGroups: [StreamGroup] { groups.values.sorted { $0.name < $1.name } }

    // MARK: Adding

    /// Appends an entry whose ID is above `lastID`, opening a node as Redis would.
    public func append(id: StreamID, fields: [Bytes], nodeMaxBytes: Int, nodeMaxEntries: Int) {
        var newNode = true
        if let n = nodes.last {
            newNode = false
            var maxBytes = nodeMaxBytes
            if maxBytes == 0 || maxBytes > (1 << 30) { maxBytes = 1 << 30 }
            var total = 0
            for f in fields { total += f.count }
            if n.listpackBytes + total >= maxBytes {
                newNode = true
            } else if nodeMaxEntries > 0 && n.live + n.deletedCount >= nodeMaxEntries {
                newNode = true
            }
        }
        if newNode {
            var mf: [Bytes] = []
            mf.reserveCapacity(fields.count / 2)
            for i in stride(from: 0, to: fields.count, by: 2) { mf.append(fields[i]) }
            nodes.append(StreamNode(master: id, masterFields: mf))
        }
        nodes[nodes.count - 1].append(StreamEntry(id: id, fields: fields, deleted: false))
        if length == 0 { firstID = id }
        length += 1
        entriesAdded &+= 1
        lastID = id
    }

    // MARK: Lookup and iteration

    /// Index of the node that would hold `id` (the last whose master is <= id), or nil.
    func nodeIndex(for id: StreamID) -> Int? {
        var lo = 0, hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].master <= id { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : lo - 1
    }

    public func entry(_ id: StreamID) -> [Bytes]? {
        guard let ni = nodeIndex(for: id) else { return nil }
        let n = nodes[ni]
        let i = n.lowerBound(id)
        guard i < n.entries.count, n.entries[i].id == id, !n.entries[i].deleted else { return nil }
        return n.entries[i].fields
    }

    /// Calls `body` for live entries with start <= id <= end, ascending (or descending), until it returns false.
    public func forEach(from start: StreamID, to end: StreamID, reverse: Bool = false,
                        _ body: (StreamID, [Bytes]) -> Bool) {
        if start > end || nodes.isEmpty { return }
        if !reverse {
            var ni = nodeIndex(for: start) ?? 0
            var i = nodes[ni].lowerBound(start)
            while ni < nodes.count {
                let n = nodes[ni]
                while i < n.entries.count {
                    let e = n.entries[i]
                    if e.id > end { return }
                    if !e.deleted && e.id >= start { if !body(e.id, e.fields) { return } }
                    i += 1
                }
                ni += 1
                i = 0
            }
        } else {
            guard var ni = nodeIndex(for: end) else { return }
            var i = nodes[ni].lowerBound(end)
            if i == nodes[ni].entries.count || nodes[ni].entries[i].id > end { i -= 1 }
            while ni >= 0 {
                let n = nodes[ni]
                while i >= 0 {
                    let e = n.entries[i]
                    if e.id < start { return }
                    if !e.deleted && e.id <= end { if !body(e.id, e.fields) { return } }
                    i -= 1
                }
                ni -= 1
                if ni >= 0 { i = nodes[ni].entries.count - 1 }
            }
        }
    }

    /// The first or last live entry.
    public func edge(first: Bool) -> (StreamID, [Bytes])? {
        var r: (StreamID, [Bytes])?
        forEach(from: .zero, to: .max, reverse: !first) { id, f in
            r = (id, f)
            return false
        }
        return r
    }

    // MARK: Deleting

    /// Deletes one live entry; true if it existed.
    @discardableResult
    public func delete(_ id: StreamID) -> Bool {
        guard let ni = nodeIndex(for: id) else { return false }
        let n = nodes[ni]
        let i = n.lowerBound(id)
        guard i < n.entries.count, n.entries[i].id == id, !n.entries[i].deleted else { return false }
        if n.live == 1 {
            nodes.remove(at: ni)
        } else {
            n.entries[i].deleted = true
            n.live -= 1
            n.deletedCount += 1
        }
        length -= 1
        if id > maxDeletedID { maxDeletedID = id }
        if length == 0 {
            firstID = .zero
        } else if id == firstID {
            firstID = edge(first: true)?.0 ?? .zero
        }
        return true
    }

    public enum TrimStrategy {
        case maxLen(Int)
        case minID(StreamID)
    }

    /// Trims as Redis's streamTrim: whole nodes first; with `approx` only whole nodes; at most
    /// `limit` entries (0: no limit). Returns how many entries went.
    public func trim(_ strategy: TrimStrategy, approx: Bool, limit: Int) -> Int {
        var deleted = 0
        while !nodes.isEmpty {
            if case let .maxLen(m) = strategy, length <= m { break }
            let n = nodes[0]
            let entries = n.live
            if limit > 0 && deleted + entries > limit { break }
            let removeNode: Bool
            switch strategy {
            case let .maxLen(m): removeNode = length - entries >= m
            case let .minID(id): removeNode = n.lastID < id
            }
            if removeNode {
                nodes.removeFirst()
                length -= entries
                deleted += entries
                continue
            }
            if approx { break }
            for i in 0..<n.entries.count where !n.entries[i].deleted {
                var stop = false
                switch strategy {
                case let .maxLen(m): stop = length <= m
                case let .minID(id): stop = n.entries[i].id >= id
                }
                if stop { break }
                n.entries[i].deleted = true
                n.live -= 1
                n.deletedCount += 1
                length -= 1
                deleted += 1
            }
            break
        }
        if deleted > 0 {
            firstID = length == 0 ? .zero : (edge(first: true)?.0 ?? .zero)
        }
        return deleted
    }

    // MARK: Groups

    /// True if a deleted entry may lie at or after `start` (Redis's streamRangeHasTombstones).
    public func rangeHasTombstones(from start: StreamID) -> Bool {
        if length == 0 || maxDeletedID.isZero { return false }
        if firstID > maxDeletedID { return false }
        return start <= maxDeletedID
    }

    /// The logical position of `id` in the stream's history, or -1 when it cannot be known.
    public func estimateDistance(_ id: StreamID) -> Int64 {
        if entriesAdded == 0 { return 0 }
        let added = Int64(bitPattern: entriesAdded)
        if length == 0 && id <= lastID { return added }
        if id == lastID { return added }
        if id > lastID { return Self.invalidEntriesRead }
        if maxDeletedID.isZero || maxDeletedID < firstID {
            if id < firstID { return added - Int64(length) }
            if id == firstID { return added - Int64(length) + 1 }
        }
        return Self.invalidEntriesRead
    }

    /// The group's lag, nil when unknown (XINFO).
    public func lag(of g: StreamGroup) -> Int64? {
        if entriesAdded == 0 { return 0 }
        let added = Int64(bitPattern: entriesAdded)
        if g.entriesRead != Self.invalidEntriesRead && !rangeHasTombstones(from: g.lastID) {
            return added &- g.entriesRead
        }
        let est = estimateDistance(g.lastID)
        return est == Self.invalidEntriesRead ? nil : added &- est
    }

    /// Moves a group's last-delivered ID forward after delivering `id` (updating entries-read).
    public func advance(_ g: StreamGroup, to id: StreamID) {
        if g.entriesRead != Self.invalidEntriesRead && !rangeHasTombstones(from: id) {
            g.entriesRead += 1
        } else if entriesAdded != 0 {
            g.entriesRead = estimateDistance(id)
        }
        g.lastID = id
    }

    /// An independent copy (COPY).
    public func copy() -> StreamObject {
        let s = StreamObject()
        s.nodes = nodes.map { $0.copy() }
        s.length = length
        s.lastID = lastID
        s.firstID = firstID
        s.maxDeletedID = maxDeletedID
        s.entriesAdded = entriesAdded
        for (name, g) in groups {
            let ng = StreamGroup(name: name, lastID: g.lastID, entriesRead: g.entriesRead)
            for (cname, c) in g.consumers {
                ng.consumers[cname] = StreamConsumer(name: cname, seenTime: c.seenTime)
            }
            for (i, id) in g.pel.keys.enumerated() {
                let p = g.pel.values[i]
                let nc = ng.consumers[p.consumer.name]!
                let np = PendingEntry(consumer: nc, deliveryTime: p.deliveryTime, deliveryCount: p.deliveryCount)
                ng.pel.set(id, np)
                nc.pel.set(id, np)
            }
            s.groups[name] = ng
        }
        return s
    }

    /// A rough size in bytes (MEMORY USAGE).
    public func approximateBytes() -> Int {
        var total = 64
        for n in nodes { total += 32 + n.listpackBytes }
        for g in groups.values {
            total += 64 + g.name.count + g.pel.count * 64
            for c in g.consumers.values { total += 48 + c.name.count + c.pel.count * 16 }
        }
        return total
    }
}
