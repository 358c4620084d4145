import LunarRESP

// Fallback OBJECT ENCODING names for the aggregate types, judged from their contents with Redis 7.0's
// default thresholds. The type families replace these with their own `encodingName` (which knows the
// real internal representation and the configured limits): delete the matching extension then.

extension ListObject {
    /// Redis 7.0 stores every list as a quicklist.
    public var encodingName: String { "quicklist" }
}

extension SetObject {
    public var encodingName: String {
        if members.count <= 512 && members.allSatisfy({ $0.count <= 20 && parseStrictInt($0.raw) != nil }) { return "intset" }
        return "hashtable"
    }
}

extension HashObject {
    public var encodingName: String {
        if fields.count <= 512 && fields.allSatisfy({ $0.key.count <= 64 && $0.value.count <= 64 }) { return "listpack" }
        return "hashtable"
    }
}

extension ZSetObject {
    public var encodingName: String {
        if scores.count <= 128 && scores.keys.allSatisfy({ $0.count <= 64 }) { return "listpack" }
        return "skiplist"
    }
}
