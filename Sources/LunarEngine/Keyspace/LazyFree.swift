import Atomics
import Dispatch

/// Lazy freeing, as Redis's lazyfree: a deleted value that is costly to free (a big set, hash, zset,
/// list or stream) is released on a background thread, so UNLINK, FLUSHALL ASYNC and the
/// `lazyfree-lazy-*` deletions do not stall the engine for the time the memory takes to go back.
///
/// Safe because nothing else holds such a value once its key is gone (the keyspace was its only
/// owner) and Swift's reference counting is atomic: the last release just happens over there.
public final class LazyFree: @unchecked Sendable {
    /// Values whose effort is at most this are freed at once (Redis's LAZYFREE_THRESHOLD).
    static let threshold = 64

    /// Objects handed over and not freed yet (INFO's lazyfree_pending_objects).
    public let pending = ManagedAtomic<Int>(0)
    /// Objects freed in the background since the start or CONFIG RESETSTAT (lazyfreed_objects).
    public let freed = ManagedAtomic<Int>(0)
    private let queue = DispatchQueue(label: "lunar-lazyfree", qos: .utility)

    /// Holds a value on its way to the background thread, which drops it there.
    private final class Parcel: @unchecked Sendable {
        var values: [Value]
        init(_ values: [Value]) { self.values = values }
    }

    /// Roughly how many allocations freeing `v` means (Redis's lazyfreeGetFreeEffort): the element
    /// count of a hash table or skip list, the nodes of a list or stream, 1 for compact encodings.
    static func effort(_ v: Value) -> Int {
        switch v {
        case .string: return 1
        case let .list(l): return (l.count + 127) / 128
        case let .set(s): return s.encodingName == "hashtable" ? s.count : 1
        case let .hash(h): return h.encodingName == "hashtable" ? h.count : 1
        case let .zset(z): return z.encodingName == "skiplist" ? z.count : 1
        case let .stream(s):
            var e = s.nodes.count
            // Every group and its PEL entries; the first group's PEL stands for the others.
            if let g = s.groups.first?.value { e += s.groups.count * (1 + g.pel.count) }
            return e
        }
    }

    /// Frees `v` in the background if that is worth it, else right here (by returning).
    public func release(_ v: Value) {
        guard Self.effort(v) > Self.threshold else { return }
        let parcel = Parcel([v])
        pending.wrappingIncrement(ordering: .relaxed)
        queue.async {
            parcel.values.removeAll()
            self.pending.wrappingDecrement(ordering: .relaxed)
            self.freed.wrappingIncrement(ordering: .relaxed)
        }
    }

    /// Runs `work` (freeing `objects` objects, a flushed database's table) in the background.
    public func releaseAll(objects: Int, _ work: @escaping @Sendable () -> Void) {
        pending.wrappingIncrement(by: objects, ordering: .relaxed)
        queue.async {
            work()
            self.pending.wrappingDecrement(by: objects, ordering: .relaxed)
            self.freed.wrappingIncrement(by: objects, ordering: .relaxed)
        }
    }
}
