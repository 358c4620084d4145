import LunarRESP

/// A hash value.
public final class HashObject {
    public var fields: [Bytes: Bytes]
    public init(_ fields: [Bytes: Bytes] = [:]) { self.fields = fields }
    public var count: Int { fields.count }
}
