import LunarRESP

/// A value stored under a key. Strings are held inline (a `Bytes` is one pointer);
/// aggregates are classes so commands mutate them in place without copy-on-write copies.
/// Each aggregate chooses its own internal representation (compact or not) behind its interface,
/// which is what `OBJECT ENCODING` reports.
public enum Value {
    case string(Bytes)
    case list(ListObject)
    case set(SetObject)
    case hash(HashObject)
    case zset(ZSetObject)
    case stream(StreamObject)

    /// The name TYPE reports.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .list: return "list"
        case .set: return "set"
        case .hash: return "hash"
        case .zset: return "zset"
        case .stream: return "stream"
        }
    }
}
