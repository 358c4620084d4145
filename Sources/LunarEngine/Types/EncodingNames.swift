import LunarRESP

// Fallback OBJECT ENCODING names for the aggregate types, judged from their contents with Redis 7.0's
// default thresholds. They live in a protocol extension on purpose: a type that declares its own
// `encodingName` (knowing its real representation and the configured limits) shadows the fallback,
// with no redeclaration conflict. Delete a fallback once every type has its own.

/// Aggregates whose OBJECT ENCODING falls back to the guesses below.
public protocol EncodingFallback: AnyObject {}

extension ListObject: EncodingFallback {}
extension SetObject: EncodingFallback {}
extension HashObject: EncodingFallback {}
extension ZSetObject: EncodingFallback {}

extension EncodingFallback where Self: ListObject {
    /// Redis 7.0 stores every list as a quicklist.
    public var encodingName: String { "quicklist" }
}

extension EncodingFallback where Self: SetObject {
    public var encodingName: String {
        if count <= 512 && members.allSatisfy({ $0.count <= 20 && parseStrictInt($0.raw) != nil }) { return "intset" }
        return "hashtable"
    }
}

extension EncodingFallback where Self: HashObject {
    public var encodingName: String {
        if count <= 512 && fields.allSatisfy({ $0.key.count <= 64 && $0.value.count <= 64 }) { return "listpack" }
        return "hashtable"
    }
}

extension EncodingFallback where Self: ZSetObject {
    public var encodingName: String {
        if count <= 128 && scores.keys.allSatisfy({ $0.count <= 64 }) { return "listpack" }
        return "skiplist"
    }
}
