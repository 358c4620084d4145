import DequeModule
import LunarRESP

/// A list value. Redis 7.0 reports every list as "quicklist"; a Deque gives O(1) pushes and pops at
/// both ends and O(1) indexing.
public final class ListObject {
    public var items: Deque<Bytes>
    public init(_ items: Deque<Bytes> = []) { self.items = items }
    public var count: Int { items.count }
}
