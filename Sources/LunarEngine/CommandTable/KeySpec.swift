import LunarRESP

/// Key-spec flags (COMMAND INFO, COMMAND GETKEYSANDFLAGS): how a command uses a key. ACL key
/// patterns (%R~ / %W~) are checked against these.
public struct KeySpecFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let ro = KeySpecFlags(rawValue: 1 << 0)
    public static let rw = KeySpecFlags(rawValue: 1 << 1)
    public static let ow = KeySpecFlags(rawValue: 1 << 2)
    public static let rm = KeySpecFlags(rawValue: 1 << 3)
    public static let access = KeySpecFlags(rawValue: 1 << 4)
    public static let update = KeySpecFlags(rawValue: 1 << 5)
    public static let insert = KeySpecFlags(rawValue: 1 << 6)
    public static let delete = KeySpecFlags(rawValue: 1 << 7)
    public static let notKey = KeySpecFlags(rawValue: 1 << 8)
    public static let incomplete = KeySpecFlags(rawValue: 1 << 9)
    public static let variableFlags = KeySpecFlags(rawValue: 1 << 10)

    /// Names in the order Redis lists them.
    public static let names: [(KeySpecFlags, String)] = [
        (.ro, "RO"), (.rw, "RW"), (.ow, "OW"), (.rm, "RM"), (.access, "access"), (.update, "update"),
        (.insert, "insert"), (.delete, "delete"), (.notKey, "not_key"), (.incomplete, "incomplete"),
        (.variableFlags, "variable_flags"),
    ]

    public var nameList: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
}

/// One key specification: where the key arguments start (begin search) and how many follow (find
/// keys), with how they are used. Redis 7.0's model; the data comes from KeySpecData.swift.
public struct KeySpec: Sendable {
    public enum Begin: Sendable {
        case index(Int)
        /// The argument after `keyword`, searched from `startFrom` (negative: from the end, backwards).
        case keyword(String, startFrom: Int)
        case unknown
    }
    public enum Find: Sendable {
        /// Keys up to `lastKey` past the first (negative: from the end), every `step`; with a `limit`,
        /// only the first 1/limit of what remains.
        case range(lastKey: Int, step: Int, limit: Int)
        /// The argument at `keyNumIndex` counts the keys, which start `firstKey` past the begin.
        case keynum(keyNumIndex: Int, firstKey: Int, step: Int)
        case unknown
    }
    public var flags: KeySpecFlags
    public var begin: Begin
    public var find: Find
    public var notes: String?

    /// Parses the compact notation of KeySpecData.swift: `flags begin find [notes]`.
    init?(notation: String) {
        let parts = notation.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        var f: KeySpecFlags = []
        for n in parts[0].split(separator: ",") {
            if let e = KeySpecFlags.names.first(where: { $0.1 == n }) { f.insert(e.0) }
        }
        flags = f
        let b = parts[1], fk = parts[2]
        func ints(_ s: Substring) -> [Int] { s.split(separator: ",").compactMap { Int($0) } }
        switch b.first {
        case "i": begin = .index(Int(b.dropFirst()) ?? 0)
        case "k":
            let kw = b.dropFirst().split(separator: ",")
            begin = .keyword(String(kw[0]), startFrom: Int(kw[1]) ?? 1)
        default: begin = .unknown
        }
        switch fk.first {
        case "r":
            let v = ints(fk.dropFirst())
            find = .range(lastKey: v[0], step: v[1], limit: v[2])
        case "n":
            let v = ints(fk.dropFirst())
            find = .keynum(keyNumIndex: v[0], firstKey: v[1], step: v[2])
        default: find = .unknown
        }
        notes = parts.count > 3 ? String(parts[3]) : nil
    }

    init(flags: KeySpecFlags, begin: Begin, find: Find) {
        self.flags = flags
        self.begin = begin
        self.find = find
    }

    static let byName: [String: [KeySpec]] = {
        var d: [String: [KeySpec]] = [:]
        for (name, specs) in redisSpecs { d[name] = specs.compactMap { KeySpec(notation: $0) } }
        return d
    }()

    static let tipsByName: [String: [String]] = Dictionary(uniqueKeysWithValues: redisTips)
}

/// A key of a command line and how the command uses it.
public struct KeyReference: Sendable {
    public var position: Int
    public var flags: KeySpecFlags
}

extension CommandSpec {
    /// Whether any key spec names real keys (not only shard channels), or keys are computed.
    public var hasKeys: Bool {
        getKeys != nil || keySpecs.contains { !$0.flags.contains(.notKey) }
    }

    /// The keys of `argv` with their flags, as Redis 7.0's COMMAND GETKEYSANDFLAGS finds them: the key
    /// specs when they are reliable, else the command's own key finder. Nil: the arguments make no
    /// sense (a bad numkeys, a keyword without its key…).
    public func keysWithFlags(_ argv: [Bytes]) -> [KeyReference]? {
        let specs = keySpecs
        let variable = specs.contains { $0.flags.contains(.variableFlags) }
        if !variable, specs.contains(where: { !$0.flags.contains(.notKey) }), let keys = Self.keysFromSpecs(specs, argv) {
            return keys
        }
        if variable { return variableFlagKeys(argv) }
        guard let getKeys else { return specs.isEmpty ? [] : nil }
        // The key finder gives positions only: each takes the flags of the spec it belongs to (the
        // first spec's begin index for a destination key, the last known spec's otherwise).
        let positions = getKeys(argv).filter { $0 < argv.count }
        let known = specs.filter { if case .unknown = $0.begin { return false } else { return true } }
        return positions.map { p in
            if name == "sort", p != 1 { return KeyReference(position: p, flags: specs.last?.flags ?? [.ow, .update]) }
            if let first = known.first, case let .index(i) = first.begin, i == p { return KeyReference(position: p, flags: first.flags) }
            return KeyReference(position: p, flags: (known.last ?? specs.first)?.flags ?? [.rw])
        }
    }

    /// SET and BITFIELD: the flags depend on the options (GET reads the old value; BITFIELD with
    /// only GET operations reads).
    private func variableFlagKeys(_ argv: [Bytes]) -> [KeyReference] {
        guard argv.count > 1 else { return [] }
        if name == "set" {
            let get = argv.dropFirst(3).contains { $0.equalsIgnoringCase("get") }
            return [KeyReference(position: 1, flags: get ? [.rw, .access, .update] : [.ow, .update])]
        }
        var readOnly = true
        var i = 2
        while i < argv.count {
            if argv[i].equalsIgnoringCase("get") { i += 3; continue }
            readOnly = false
            break
        }
        return [KeyReference(position: 1, flags: readOnly ? [.ro, .access] : [.rw, .access, .update])]
    }

    /// ASCII case-insensitive equality with a keyword.
    private static func matches(_ b: Bytes, _ word: String) -> Bool {
        let w = word.utf8
        if b.count != w.count { return false }
        func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
        for (c, d) in zip(b.raw, w) where lower(c) != lower(d) { return false }
        return true
    }

    /// Walks the key specs over `argv`. Nil when a spec cannot be applied (unknown, or positions out
    /// of range), so the caller falls back to the command's own finder.
    static func keysFromSpecs(_ specs: [KeySpec], _ argv: [Bytes]) -> [KeyReference]? {
        let argc = argv.count
        var out: [KeyReference] = []
        for spec in specs where !spec.flags.contains(.notKey) {
            var first = 0
            switch spec.begin {
            case let .index(i): first = i
            case let .keyword(word, startFrom):
                if startFrom > 0 {
                    var i = startFrom
                    while i < argc { if matches(argv[i], word) { first = i + 1; break }; i += 1 }
                } else {
                    var i = argc + startFrom
                    while i >= 1 && i < argc { if matches(argv[i], word) { first = i + 1; break }; i -= 1 }
                }
                if first == 0 { continue }   // keyword absent: no keys from this spec
            case .unknown: return nil
            }
            var last: Int
            var step: Int
            switch spec.find {
            case let .range(lastKey, s, limit):
                step = s
                if lastKey >= 0 {
                    last = first + lastKey
                } else if limit == 0 {
                    last = argc + lastKey
                } else {
                    last = first + (argc - first) / limit + lastKey
                }
            case let .keynum(idx, firstKey, s):
                step = s
                guard first + idx < argc, let n = parseStrictInt(argv[first + idx].raw), n >= 0, n <= argc else { return nil }
                first += firstKey
                last = first + n - 1
            case .unknown: return nil
            }
            if last >= argc || last < first || first >= argc { return nil }
            var i = first
            while i <= last {
                out.append(KeyReference(position: i, flags: spec.flags))
                i += max(step, 1)
            }
        }
        return out
    }
}
