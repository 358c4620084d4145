import LunarRESP

/// Command flags, as Redis 7 names them in COMMAND INFO.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 14)
    public static let noMulti = CommandFlags(rawValue: 1 << 15)
    public static let movableKeys = CommandFlags(rawValue: 1 << 16)
    public static let allowBusy = CommandFlags(rawValue: 1 << 17)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 18)
    /// Accepted on a cluster node for a slot being imported (RESTORE-ASKING).
    public static let asking = CommandFlags(rawValue: 1 << 19)

    /// Names in Redis's order, for COMMAND INFO. Like Redis, COMMAND INFO never shows may_replicate.
    public static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"),
        (.pubsub, "pubsub"), (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"),
        (.stale, "stale"), (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.asking, "asking"), (.fast, "fast"),
        (.noAuth, "no_auth"), (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"),
        (.noMulti, "no_multi"), (.movableKeys, "movablekeys"), (.allowBusy, "allow_busy"),
    ]
}

/// The command groups of COMMAND DOCS.
public enum CommandGroup: String, Sendable {
    case generic, string, list, set, hash, sortedSet = "sorted-set", bitmap, hyperloglog, geo, stream
    case pubsub, transactions, connection, server, scripting, cluster, sentinel
}

/// What a command does when it runs: reads its arguments from the context and writes its reply there.
public typealias CommandHandler = (CommandContext) -> Void

/// One entry of the command table: the single source for dispatch, arity checks, COMMAND INFO/DOCS,
/// ACL categories, script flags and the CLI's hints.
public final class CommandSpec: @unchecked Sendable {
    /// Lowercase name; for a subcommand the subcommand alone (e.g. "get" under "config").
    public let name: String
    /// Redis's arity: N means exactly N arguments including the name, -N means at least N.
    public let arity: Int
    public let flags: CommandFlags
    /// Key positions (first, last, step) as COMMAND INFO reports them; last -1 means "to the end".
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    public let group: CommandGroup
    public let since: String
    /// One sentence in our own words.
    public let summary: String
    public let complexity: String
    /// Argument syntax, e.g. `key value [NX|XX] [GET]`; the source of COMMAND DOCS arguments and CLI hints.
    public let syntax: String
    /// Extra ACL categories beyond those derived from flags and group (e.g. "keyspace", "dangerous").
    public let extraACL: [String]
    public let handler: CommandHandler?
    public private(set) var subcommands: [String: CommandSpec] = [:]
    public private(set) weak var parent: CommandSpec?
    /// Computes keys for commands whose key positions depend on other arguments (movablekeys).
    public let getKeys: (([Bytes]) -> [Int])?

    public init(
        _ name: String, arity: Int, flags: CommandFlags = [], keys: (Int, Int, Int) = (0, 0, 0),
        group: CommandGroup, since: String = "1.0.0", summary: String, complexity: String = "O(1)",
        syntax: String = "", acl: [String] = [], subcommands: [CommandSpec] = [],
        handler: CommandHandler? = nil, getKeys: (([Bytes]) -> [Int])? = nil
    ) {
        self.name = name
        self.fullName = name
        self.arity = arity
        self.flags = getKeys != nil ? flags.union(.movableKeys) : flags
        (firstKey, lastKey, keyStep) = keys
        self.group = group
        self.since = since
        self.summary = summary
        self.complexity = complexity
        self.syntax = syntax
        self.extraACL = acl
        self.getKeys = getKeys
        self.handler = handler
        for s in subcommands {
            self.subcommands[s.name] = s
            s.parent = self
            s.fullName = "\(name)|\(s.name)"
        }
    }

    /// "config|get" for subcommands, the name otherwise (Redis's fullname, used in errors).
    public private(set) var fullName: String

    // Per-command statistics for INFO commandstats. Only the engine thread touches them.
    public var statCalls = 0
    public var statMicros = 0
    /// Its calls' durations (INFO latencystats, LATENCY HISTOGRAM).
    public var latency = LatencyHistogram()
    public var statRejected = 0
    public var statFailed = 0

    public var isWrite: Bool { flags.contains(.write) }
    /// Refused over maxmemory when nothing can be evicted (its own flag or its container's).
    public var isDenyOOM: Bool { flags.contains(.denyoom) || parent?.flags.contains(.denyoom) == true }

    /// ACL categories: derived from flags and group as Redis derives them, plus the extra ones.
    public var aclCategories: [String] {
        var c: [String] = []
        if flags.contains(.write) { c.append("write") }
        if flags.contains(.readonly) && group != .scripting { c.append("read") }
        if flags.contains(.admin) { c.append(contentsOf: ["admin", "dangerous"]) }
        if flags.contains(.pubsub) { c.append("pubsub") }
        if flags.contains(.fast) { c.append("fast") }
        if flags.contains(.blocking) { c.append("blocking") }
        if !flags.contains(.fast) { c.append("slow") }
        // A container (CLIENT, CONFIG…) gets no category from its group; its subcommands do.
        switch subcommands.isEmpty ? group : .server {
        case .string: c.append("string")
        case .list: c.append("list")
        case .set: c.append("set")
        case .hash: c.append("hash")
        case .sortedSet: c.append("sortedset")
        case .bitmap: c.append("bitmap")
        case .hyperloglog: c.append("hyperloglog")
        case .geo: c.append("geo")
        case .stream: c.append("stream")
        case .transactions: c.append("transaction")
        case .connection: c.append("connection")
        case .scripting: c.append("scripting")
        case .generic: c.append("keyspace")
        default: break
        }
        // "-name" in the extra list removes a category the group implies (SORT is generic but not @keyspace).
        for e in extraACL {
            if e.hasPrefix("-") {
                c.removeAll { $0 == e.dropFirst() }
            } else if !c.contains(e) {
                c.append(e)
            }
        }
        // Redis lists categories in the order of its category table.
        return c.sorted { (Self.aclOrder[$0] ?? 99) < (Self.aclOrder[$1] ?? 99) }
    }

    private static let aclOrder: [String: Int] = Dictionary(uniqueKeysWithValues: [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
        "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
        "transaction", "scripting",
    ].enumerated().map { ($1, $0) })

    /// Positions of the key arguments in `argv` (argv[0] is the command name).
    public func keyPositions(_ argv: [Bytes]) -> [Int] {
        if let getKeys { return getKeys(argv) }
        if firstKey <= 0 { return [] }
        let last = lastKey < 0 ? argv.count + lastKey : lastKey
        var r: [Int] = []
        var i = firstKey
        while i <= last && i < argv.count {
            r.append(i)
            i += max(1, keyStep)
        }
        return r
    }

    /// Redis 7.0's key specs for this command (KeySpecData.swift), or specs derived from
    /// (first, last, step) for a command Redis does not describe.
    public private(set) lazy var keySpecs: [KeySpec] = {
        if let s = KeySpec.byName[fullName] { return s }
        if firstKey <= 0 { return [] }
        let f: KeySpecFlags = isWrite ? [.rw, .update] : [.ro, .access]
        return [KeySpec(flags: f, begin: .index(firstKey),
                        find: .range(lastKey: lastKey < 0 ? lastKey : lastKey - firstKey, step: keyStep, limit: 0))]
    }()

    /// Redis 7.0's command tips (COMMAND INFO), e.g. nondeterministic_output.
    public var tips: [String] { KeySpec.tipsByName[fullName] ?? [] }

    /// True if `argc` satisfies the arity.
    public func arityOK(_ argc: Int) -> Bool { arity >= 0 ? argc == arity : argc >= -arity }
}
