import LunarRESP

/// A sorted set value.
public final class ZSetObject {
    public var scores: [Bytes: Double]
    public init() { scores = [:] }
    public var count: Int { scores.count }
}
