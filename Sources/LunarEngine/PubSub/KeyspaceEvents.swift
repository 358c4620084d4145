import LunarRESP

/// Keyspace notifications (`notify-keyspace-events`), as Redis 7.0 emits them.
///
/// Every command that changes a key announces it with an event name ("set", "lpush", "del"…);
/// when the event's class is enabled the engine publishes, through ordinary Pub/Sub,
/// `__keyspace@<db>__:<key>` → event (flag K) and `__keyevent@<db>__:<event>` → key (flag E).
/// With notifications off (the default) a call costs one integer test.
public enum KeyspaceEvents {
    // Class bits (the same layout Redis uses, so the flag arithmetic reads the same).
    public static let keyspace = 1 << 0    // K
    public static let keyevent = 1 << 1    // E
    public static let generic = 1 << 2     // g
    public static let string = 1 << 3      // $
    public static let list = 1 << 4        // l
    public static let set = 1 << 5         // s
    public static let hash = 1 << 6        // h
    public static let zset = 1 << 7        // z
    public static let expired = 1 << 8     // x
    public static let evicted = 1 << 9     // e
    public static let stream = 1 << 10     // t
    public static let keyMiss = 1 << 11    // m
    public static let module = 1 << 13     // d
    public static let new = 1 << 14        // n
    /// What 'A' stands for: every class except key misses and new keys.
    public static let all = generic | string | list | set | hash | zset | expired | evicted | stream | module

    private static let classChars: [(Character, Int)] = [
        ("g", generic), ("$", string), ("l", list), ("s", set), ("h", hash), ("z", zset),
        ("x", expired), ("e", evicted), ("t", stream), ("d", module), ("n", new),
        ("K", keyspace), ("E", keyevent), ("m", keyMiss),
    ]

    public static let invalidFlagsError = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

    /// Parses a flag string ("KEA", "Elg$"…); nil if it holds a character that is no class.
    public static func parse(_ s: String) -> Int? {
        var flags = 0
        for ch in s {
            if ch == "A" {
                flags |= all
            } else if let (_, bit) = classChars.first(where: { $0.0 == ch }) {
                flags |= bit
            } else {
                return nil
            }
        }
        return flags
    }

    /// The canonical spelling CONFIG GET shows: "A" when every class of 'A' is on, else the classes
    /// in the order g$lshzxetdn; then K, E and m. As in Redis 7.0, 'n' is only spelled out when the
    /// set is not complete enough to print as 'A' (the class itself stays on).
    public static func format(_ flags: Int) -> String {
        var out = ""
        if flags & all == all {
            out = "A"
        } else {
            for (ch, bit) in classChars.prefix(11) where flags & bit != 0 { out.append(ch) }
        }
        if flags & keyspace != 0 { out.append("K") }
        if flags & keyevent != 0 { out.append("E") }
        if flags & keyMiss != 0 { out.append("m") }
        return out
    }

    /// Config normalizer: a lossless canonical form of a valid flag string (as `format`, but 'n'
    /// always spelled out), nil for an invalid one. CONFIG GET shows `display` of it.
    static func normalize(_ s: String) -> String? {
        guard let f = parse(s) else { return nil }
        var out = format(f)
        if f & all == all && f & new != 0 { out.insert("n", at: out.index(after: out.startIndex)) }
        return out
    }

    static func display(_ stored: String) -> String {
        format(parse(stored) ?? 0)
    }

    @usableFromInline static func bytes(_ s: StaticString) -> Bytes {
        Bytes(Array(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)))
    }
}

extension Engine {
    /// Publishes a keyspace event if its class is enabled. `event` is Redis's event name.
    @inline(__always)
    public func notify(_ cls: Int, _ event: StaticString, _ key: Bytes, db: Int) {
        if notifyFlags & cls != 0 { publishKeyspaceEvent(event, key, db: db) }
    }

    @inline(never)
    func publishKeyspaceEvent(_ event: StaticString, _ key: Bytes, db: Int) {
        let ev = KeyspaceEvents.bytes(event)
        let dbTag = Array("@\(db)__:".utf8)
        if notifyFlags & KeyspaceEvents.keyspace != 0 {
            let channel = Bytes(Array("__keyspace".utf8) + dbTag + key.raw)
            _ = pubsub.publish(channel, ev, shard: false)
        }
        if notifyFlags & KeyspaceEvents.keyevent != 0 {
            let channel = Bytes(Array("__keyevent".utf8) + dbTag + ev.raw)
            _ = pubsub.publish(channel, key, shard: false)
        }
    }

    /// Keeps `notifyFlags` in step with the `notify-keyspace-events` parameter.
    func installKeyspaceEvents() {
        notifyFlags = Self.effectiveNotifyFlags(config.string("notify-keyspace-events"))
        config.onChange.append { [unowned self] name, value in
            if name == "notify-keyspace-events" { self.notifyFlags = Self.effectiveNotifyFlags(value) }
        }
    }

    /// Without K or E nothing is published, so no class counts as enabled (the hot-path test stays one AND).
    private static func effectiveNotifyFlags(_ s: String) -> Int {
        let f = KeyspaceEvents.parse(s) ?? 0
        return f & (KeyspaceEvents.keyspace | KeyspaceEvents.keyevent) == 0 ? 0 : f
    }
}

extension Database {
    /// Deletes a key whether or not its TTL has passed, as Redis's dbDelete does where a store
    /// command with an empty result clears its destination (SINTERSTORE, ZUNIONSTORE, BITOP, SORT
    /// STORE…): a destination whose time is up but that was not reclaimed yet goes as a "del".
    @discardableResult
    public func deleteIgnoringExpiry(_ key: Bytes) -> Bool {
        guard let s = table.slot(of: key) else { return false }
        table.remove(slot: s)
        return true
    }


    /// Publishes a keyspace event about `key` in this database (see `KeyspaceEvents`).
    @inline(__always)
    public func notify(_ cls: Int, _ event: StaticString, _ key: Bytes) {
        if engine.notifyFlags & cls != 0 { engine.publishKeyspaceEvent(event, key, db: id) }
    }
}

extension CommandContext {
    /// Publishes a keyspace event about `key` in the client's current database.
    @inline(__always)
    public func notify(_ cls: Int, _ event: StaticString, _ key: Bytes) {
        if engine.notifyFlags & cls != 0 { engine.publishKeyspaceEvent(event, key, db: client.db) }
    }
}
