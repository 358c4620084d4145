import LunarRESP

/// A set value.
public final class SetObject {
    public var members: Set<Bytes>
    public init(_ members: Set<Bytes> = []) { self.members = members }
    public var count: Int { members.count }
}
