import LunarRESP

/// One configuration parameter, as redis.conf, the command line and CONFIG GET/SET see it.
public struct ConfigParam {
    public enum Kind {
        case bool
        case int(min: Int, max: Int)
        case memory(min: Int, max: Int)   // accepts 1k, 5mb, 1gb… and answers in bytes
        case string
        case enumeration([String])
        /// Free-form with a custom validator returning an error message (e.g. `save`, `bind`).
        case custom((String) -> String?)
        /// Stored in a lossless canonical spelling returned by the normalizer (nil: refused with `error`);
        /// CONFIG GET and REWRITE show `display` of it.
        case canonical((String) -> String?, display: (String) -> String, error: (String) -> String)
        /// client-output-buffer-limit: classes given are merged into the current value.
        case outputBufferLimits
    }
    public let name: String
    public let aliases: [String]
    public let kind: Kind
    public let defaultValue: String
    /// Can only be set at startup.
    public let immutable: Bool
    /// A valid value Lunar does not support: the reason it is refused, or nil to accept it.
    public let unsupported: ((String) -> String?)?
    /// A testing aid: CONFIG GET shows it only when asked by its exact name (Redis's hidden configs).
    public let hidden: Bool
    public init(_ name: String, _ kind: Kind, _ defaultValue: String, aliases: [String] = [], immutable: Bool = false,
                hidden: Bool = false, unsupported: ((String) -> String?)? = nil) {
        self.name = name
        self.hidden = hidden
        self.kind = kind
        self.defaultValue = defaultValue
        self.aliases = aliases
        self.immutable = immutable
        self.unsupported = unsupported
    }
}

/// The server's configuration: every parameter Lunar has, with its current value.
/// Read and written on the engine thread (CONFIG GET/SET); values the I/O side needs are mirrored
/// into atomics by the engine when they change.
public final class ConfigStore: @unchecked Sendable {
    public private(set) var params: [String: ConfigParam] = [:]
    private var canonical: [String: String] = [:]   // alias → name
    private var values: [String: String] = [:]
    /// The configuration file the server was started with (CONFIG REWRITE writes it), if any.
    public var configFile: String?
    /// `user name rules…` lines of the configuration file (each with "user" first), with where they
    /// were: the users are created once the command table is complete.
    public var userDirectives: [(args: [Bytes], line: String, number: Int, source: String)] = []
    /// Called after a value changes (name, new canonical value).
    public var onChange: [(String, String) -> Void] = []
    /// Applies a parameter that can fail once set (a listener to bind): CONFIG SET calls it when the
    /// value changed, and restores every value it set when one returns an error message.
    public var appliers: [String: () -> String?] = [:]

    public init(_ defs: [ConfigParam] = ConfigStore.defaults) {
        for d in defs { add(d) }
    }

    public func add(_ d: ConfigParam) {
        params[d.name] = d
        canonical[d.name] = d.name
        for a in d.aliases { canonical[a] = d.name }
        values[d.name] = normalize(d, d.defaultValue) ?? d.defaultValue
    }

    public func canonicalName(_ name: String) -> String? { canonical[name.lowercased()] }

    public func get(_ name: String) -> String? {
        guard let c = canonicalName(name) else { return nil }
        return values[c]
    }
    /// The value as CONFIG GET shows it (differs from `get` only for display-transformed parameters).
    public func shown(_ name: String) -> String? {
        guard let c = canonicalName(name), let v = values[c] else { return nil }
        if case let .canonical(_, display, _)? = params[c]?.kind { return display(v) }
        return v
    }
    public func int(_ name: String) -> Int { Int(get(name) ?? "0") ?? 0 }
    public func bool(_ name: String) -> Bool { get(name) == "yes" }
    public func string(_ name: String) -> String { get(name) ?? "" }

    /// Sets a value; returns nil on success or the reason it was refused (Redis's wording after the dash).
    @discardableResult
    public func set(_ name: String, _ value: String, startup: Bool = false) -> String? {
        guard let c = canonicalName(name), let p = params[c] else { return "unknown option" }
        if p.immutable && !startup { return "can't set immutable config" }
        guard let v = normalize(p, value) else { return validationError(p, value) }
        if let reason = p.unsupported?(v) { return reason }
        values[c] = v
        for f in onChange { f(c, v) }
        return nil
    }

    /// Names matching a glob, with values, for CONFIG GET (aliases are matched too, as in Redis 7).
    public func matching(_ pattern: Bytes) -> [(String, String)] {
        var out: [(String, String)] = []
        var seen = Set<String>()
        for (alias, name) in canonical.sorted(by: { $0.key < $1.key }) where params[name]?.hidden != true {
            if globMatch(pattern.raw, Array(alias.utf8), noCase: true) && !seen.contains(alias) {
                seen.insert(alias)
                out.append((alias, shown(name)!))
            }
        }
        return out
    }

    private func normalize(_ p: ConfigParam, _ raw: String) -> String? {
        switch p.kind {
        case .bool:
            switch raw.lowercased() {
            case "yes": return "yes"
            case "no": return "no"
            default: return nil
            }
        case let .int(lo, hi):
            guard let v = parseStrictInt(Array(raw.utf8)), v >= lo, v <= hi else { return nil }
            return String(v)
        case let .memory(lo, hi):
            guard let v = parseMemory(raw), v >= lo, v <= hi else { return nil }
            return String(v)
        case .string:
            return raw
        case let .enumeration(options):
            let l = raw.lowercased()
            return options.contains(l) ? l : nil
        case let .custom(check):
            return check(raw) == nil ? raw : nil
        case let .canonical(normalizer, _, _):
            return normalizer(raw)
        case .outputBufferLimits:
            guard case let .success(v) = OutputBufferLimits.merge(values[p.name], raw) else { return nil }
            return v
        }
    }

    private func validationError(_ p: ConfigParam, _ raw: String) -> String {
        switch p.kind {
        case .bool: return "argument must be 'yes' or 'no'"
        case let .int(lo, hi):
            if parseStrictInt(Array(raw.utf8)) == nil { return "argument couldn't be parsed into an integer" }
            return "argument must be between \(lo) and \(hi) inclusive"
        case let .memory(lo, hi):
            if parseMemory(raw) == nil { return "argument must be a memory value" }
            return "argument must be between \(lo) and \(hi) inclusive"
        case .string: return "invalid value"
        case .enumeration: return "argument(s) must be one of the following: " + {
            if case let .enumeration(o) = p.kind { return o.joined(separator: ", ") } else { return "" } }()
        case let .custom(check): return check(raw) ?? "invalid value"
        case let .canonical(_, _, error): return error(raw)
        case .outputBufferLimits:
            if case let .failure(e) = OutputBufferLimits.merge(nil, raw) { return e.message }
            return "invalid value"
        }
    }

    /// Memory values: plain bytes or with k/kb/m/mb/g/gb (k=1000, kb=1024, as in redis.conf).
    public func parseMemory(_ s: String) -> Int? { ConfigStore.memoryValue(s) }
    public static func memoryValue(_ s: String) -> Int? {
        let l = s.lowercased()
        let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
        for (u, mul) in units where l.hasSuffix(u) {
            guard let n = parseStrictInt(Array(l.dropLast(u.count).utf8)), n >= 0 else { return nil }
            let (r, o) = n.multipliedReportingOverflow(by: mul)
            return o ? nil : r
        }
        guard let n = parseStrictInt(Array(l.utf8)), n >= 0 else { return nil }
        return n
    }

    /// `save`: empty, or pairs "seconds changes" separated by single spaces (seconds ≥ 1, changes ≥ 0).
    /// `replicaof host port` (or empty).
    static func checkReplicaOf(_ v: String) -> String? {
        if v.isEmpty { return nil }
        let parts = v.split(separator: " ")
        guard parts.count == 2, let port = Int(parts[1]), port >= 0, port <= 65535 else { return "Invalid master port" }
        return nil
    }

    static func checkSavePoints(_ v: String) -> String? {
        if v.isEmpty { return nil }
        let parts = v.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count % 2 == 0 else { return "Invalid save parameters" }
        for (i, p) in parts.enumerated() {
            var t = Substring(p.drop { $0 == "\t" })
            if t.first == "+" { t = t.dropFirst() }
            guard let n = Int(t), t.allSatisfy({ $0.isASCII && $0.isNumber }), n >= (i % 2 == 0 ? 1 : 0) else {
                return "Invalid save parameters"
            }
        }
        return nil
    }

    /// Every parameter Lunar has. Unknown names in a config file are a startup error, as in Redis.
    public static var defaults: [ConfigParam] {
        let big = Int(Int64.max)
        return [
            ConfigParam("port", .int(min: 0, max: 65535), "6379"),
            ConfigParam("bind", .string, "127.0.0.1 -::1"),
            ConfigParam("unixsocket", .string, "", immutable: true),
            ConfigParam("unixsocketperm", .int(min: 0, max: 0o777), "0", immutable: true),
            ConfigParam("loglevel", .enumeration(["debug", "verbose", "notice", "warning", "nothing"]), "notice"),
            ConfigParam("logfile", .string, "", immutable: true),
            ConfigParam("databases", .int(min: 1, max: Int(Int32.max)), "16", immutable: true),
            ConfigParam("daemonize", .bool, "no", immutable: true),
            ConfigParam("pidfile", .string, ""),
            ConfigParam("dir", .string, "."),
            ConfigParam("dbfilename", .string, "dump.rdb"),
            // Testing aids, as in Redis: a delay per key while saving (BGSAVE, SAVE) or loading an RDB
            // file, in microseconds (negative: sleep 1 µs for one key in -n).
            ConfigParam("rdb-key-save-delay", .int(min: Int(Int32.min), max: Int(Int32.max)), "0", hidden: true),
            ConfigParam("key-load-delay", .int(min: Int(Int32.min), max: Int(Int32.max)), "0", hidden: true),
            // Redis's default save points when no config file sets them (tests and benchmarks pass --save '').
            ConfigParam("save", .custom(ConfigStore.checkSavePoints), "3600 1 300 100 60 10000"),
            ConfigParam("appendonly", .bool, "no"),
            ConfigParam("appendfilename", .string, "appendonly.aof", immutable: true),
            ConfigParam("appendfsync", .enumeration(["everysec", "always", "no"]), "everysec"),   // Redis's order (its error lists them so)
            ConfigParam("requirepass", .string, ""),
            ConfigParam("aclfile", .string, "", immutable: true),
            ConfigParam("acllog-max-len", .int(min: 0, max: Int(Int32.max)), "128"),
            ConfigParam("acl-pubsub-default", .enumeration(["allchannels", "resetchannels"]), "resetchannels"),
            ConfigParam("maxclients", .int(min: 1, max: big), "10000"),
            ConfigParam("maxmemory", .memory(min: 0, max: big), "0"),
            ConfigParam("maxmemory-policy", .enumeration(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction"),
            ConfigParam("client-output-buffer-limit", .outputBufferLimits,
                        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
            ConfigParam("maxmemory-samples", .int(min: 1, max: Int(Int32.max)), "5"),
            ConfigParam("maxmemory-eviction-tenacity", .int(min: 0, max: 100), "10"),
            ConfigParam("lfu-log-factor", .int(min: 0, max: Int(Int32.max)), "10"),
            ConfigParam("lfu-decay-time", .int(min: 0, max: Int(Int32.max)), "1"),
            ConfigParam("lazyfree-lazy-eviction", .bool, "no"),
            ConfigParam("timeout", .int(min: 0, max: Int(Int32.max)), "0"),
            ConfigParam("tcp-keepalive", .int(min: 0, max: Int(Int32.max)), "300"),
            ConfigParam("tcp-backlog", .int(min: 0, max: Int(Int32.max)), "511", immutable: true),
            ConfigParam("hz", .int(min: 0, max: Int(Int32.max)), "10"),
            ConfigParam("proto-max-bulk-len", .memory(min: 1024 * 1024, max: big), "536870912"),
            ConfigParam("client-query-buffer-limit", .memory(min: 1024 * 1024, max: big), "1073741824"),
            ConfigParam("busy-reply-threshold", .int(min: 0, max: big), "5000", aliases: ["lua-time-limit"]),
            ConfigParam("enable-debug-command", .enumeration(["yes", "no", "local"]), "no", immutable: true),
            ConfigParam("enable-module-command", .enumeration(["yes", "no", "local"]), "no", immutable: true),
            ConfigParam("cluster-enabled", .bool, "no", immutable: true,
                        unsupported: { $0 == "yes" ? "Lunar has no cluster mode" : nil }),
            ConfigParam("hash-max-listpack-entries", .int(min: 0, max: big), "512", aliases: ["hash-max-ziplist-entries"]),
            ConfigParam("hash-max-listpack-value", .int(min: 0, max: big), "64", aliases: ["hash-max-ziplist-value"]),
            ConfigParam("list-max-listpack-size", .int(min: Int(Int32.min), max: Int(Int32.max)), "-2", aliases: ["list-max-ziplist-size"]),
            ConfigParam("list-compress-depth", .int(min: 0, max: Int(Int32.max)), "0"),
            ConfigParam("set-max-intset-entries", .int(min: 0, max: big), "512"),
            ConfigParam("zset-max-listpack-entries", .int(min: 0, max: big), "128", aliases: ["zset-max-ziplist-entries"]),
            ConfigParam("zset-max-listpack-value", .int(min: 0, max: big), "64", aliases: ["zset-max-ziplist-value"]),
            ConfigParam("hll-sparse-max-bytes", .memory(min: 0, max: big), "3000"),
            ConfigParam("stream-node-max-bytes", .memory(min: 0, max: big), "4096"),
            ConfigParam("stream-node-max-entries", .int(min: 0, max: big), "100"),
            ConfigParam("active-expire-effort", .int(min: 1, max: 10), "1"),
            ConfigParam("lazyfree-lazy-user-flush", .bool, "no"),
            ConfigParam("lua-memory-limit", .memory(min: 0, max: big), "268435456"),
            ConfigParam("lua-library-dir", .string, "lua"),
            ConfigParam("lua-library-errors", .enumeration(["refuse", "skip"]), "refuse"),
            ConfigParam("io-threads", .int(min: 1, max: 128), "1", immutable: true),
            ConfigParam("protected-mode", .bool, "yes"),
            ConfigParam("slowlog-log-slower-than", .int(min: -1, max: big), "10000"),
            ConfigParam("slowlog-max-len", .int(min: 0, max: big), "128"),
            ConfigParam("notify-keyspace-events", .canonical(KeyspaceEvents.normalize, display: KeyspaceEvents.display, error: { _ in KeyspaceEvents.invalidFlagsError }), ""),
            ConfigParam("latency-tracking", .bool, "yes"),
            ConfigParam("tracking-table-max-keys", .int(min: 0, max: big), "1000000"),
            ConfigParam("latency-tracking-info-percentiles", .canonical(Engine.normalizePercentiles, display: { $0 }, error: Engine.percentilesError), "50 99 99.9"),
            ConfigParam("latency-monitor-threshold", .int(min: 0, max: big), "0"),
            ConfigParam("repl-backlog-size", .memory(min: 1, max: big), "1048576"),
            // The replica role (REPLICAOF): `replicaof host port` at start-up, the master's password,
            // and how the replica behaves.
            ConfigParam("replicaof", .custom(ConfigStore.checkReplicaOf), "", aliases: ["slaveof"], immutable: true),
            ConfigParam("masterauth", .string, ""),
            ConfigParam("masteruser", .string, ""),
            ConfigParam("replica-read-only", .bool, "yes", aliases: ["slave-read-only"]),
            ConfigParam("replica-serve-stale-data", .bool, "yes", aliases: ["slave-serve-stale-data"]),
            ConfigParam("replica-priority", .int(min: 0, max: Int(Int32.max)), "100", aliases: ["slave-priority"]),
            ConfigParam("replica-announced", .bool, "yes"),
            ConfigParam("replica-ignore-maxmemory", .bool, "yes", aliases: ["slave-ignore-maxmemory"]),
            ConfigParam("repl-backlog-ttl", .int(min: 0, max: Int(Int32.max)), "3600"),
            ConfigParam("repl-ping-replica-period", .int(min: 1, max: Int(Int32.max)), "10", aliases: ["repl-ping-slave-period"]),
            ConfigParam("repl-timeout", .int(min: 1, max: Int(Int32.max)), "60"),
            ConfigParam("min-replicas-to-write", .int(min: 0, max: Int(Int32.max)), "0", aliases: ["min-slaves-to-write"]),
            ConfigParam("min-replicas-max-lag", .int(min: 0, max: Int(Int32.max)), "10", aliases: ["min-slaves-max-lag"]),
            ConfigParam("shutdown-on-sigint", .canonical(ConfigStore.shutdownFlags, display: { $0 }, error: { _ in ConfigStore.shutdownFlagsError }), "default"),
            ConfigParam("shutdown-on-sigterm", .canonical(ConfigStore.shutdownFlags, display: { $0 }, error: { _ in ConfigStore.shutdownFlagsError }), "default"),
        ] + acceptedWithoutEffect
    }

    /// `shutdown-on-sigint`/`-sigterm`: `default`, or any of save, nosave, now, force.
    static func shutdownFlags(_ v: String) -> String? {
        let words = v.lowercased().split(separator: " ").map(String.init)
        if words == ["default"] { return "default" }
        guard !words.isEmpty, words.allSatisfy({ ["save", "nosave", "now", "force"].contains($0) }) else { return nil }
        return words.joined(separator: " ")
    }
    static let shutdownFlagsError = "argument(s) must be one of the following: default, save, nosave, now, force"

    /// `maxmemory-clients`: bytes, or a percentage of maxmemory (`10%`).
    static func checkMemoryOrPercent(_ v: String) -> String? {
        if v.hasSuffix("%") {
            guard let n = Int(v.dropLast()), n >= 0 else { return "argument must be a memory or percent value" }
            return n > 100 ? "percentage argument must be less or equal to 100" : nil
        }
        return memoryValue(v) == nil ? "argument must be a memory or percent value" : nil
    }

    /// `oom-score-adj-values`: three integers between -2000 and 2000.
    static func checkOOMScoreValues(_ v: String) -> String? {
        let parts = v.split(separator: " ")
        guard parts.count == 3, parts.allSatisfy({ Int($0).map { (-2000...2000).contains($0) } ?? false }) else {
            return "Invalid oom-score-adj-values"
        }
        return nil
    }

    /// Redis 7.0 parameters for mechanisms Lunar does not have (TLS, cluster, active defragmentation,
    /// syslog, supervision, process titles, CPU affinity lists, OOM-score and memory tuning, diskless
    /// replication, lazy freeing, client eviction) or that it does its own way. A redis.conf that sets
    /// them still loads, and CONFIG GET/SET answer as Redis does; a value that would need the missing
    /// mechanism (a TLS port, active defragmentation, client eviction) is refused with the reason.
    /// docs/COMPATIBILITY.md lists them.
    static var acceptedWithoutEffect: [ConfigParam] {
        let big = Int(Int64.max)
        let int32 = Int(Int32.max)
        let noTLS: (String) -> String? = { $0 == "0" || $0 == "no" ? nil : "Lunar has no TLS support" }
        return [
            // Active defragmentation (redis-server built without its own jemalloc refuses it too).
            ConfigParam("activedefrag", .bool, "no", unsupported: { $0 == "yes" ? "Active defragmentation cannot be enabled: Lunar has no active defragmentation" : nil }),
            ConfigParam("active-defrag-cycle-min", .int(min: 1, max: 99), "1"),
            ConfigParam("active-defrag-cycle-max", .int(min: 1, max: 99), "25"),
            ConfigParam("active-defrag-ignore-bytes", .memory(min: 1, max: big), "104857600"),
            ConfigParam("active-defrag-max-scan-fields", .int(min: 1, max: big), "1000"),
            ConfigParam("active-defrag-threshold-lower", .int(min: 0, max: 1000), "10"),
            ConfigParam("active-defrag-threshold-upper", .int(min: 0, max: 1000), "100"),
            ConfigParam("activerehashing", .bool, "yes"),
            // Redis's hidden testing parameters Lunar has no mechanism for (no panic exit code, no
            // SIGALRM watchdog, no event processing while loading).
            ConfigParam("use-exit-on-panic", .bool, "no", hidden: true),
            ConfigParam("watchdog-period", .int(min: 0, max: int32), "0", hidden: true),
            ConfigParam("loading-process-events-interval-bytes", .int(min: 1024, max: int32), "2097152", hidden: true),
            ConfigParam("dynamic-hz", .bool, "yes"),
            ConfigParam("jemalloc-bg-thread", .bool, "yes"),
            ConfigParam("disable-thp", .bool, "yes", immutable: true),
            // `relative` is another name for `yes`, which CONFIG GET shows (as Redis does).
            ConfigParam("oom-score-adj", .canonical({ ["no": "no", "yes": "yes", "relative": "yes", "absolute": "absolute"][$0.lowercased()] },
                                                    display: { $0 }, error: { _ in "argument(s) must be one of the following: no, yes, relative, absolute" }), "no"),
            ConfigParam("oom-score-adj-values", .custom(ConfigStore.checkOOMScoreValues), "0 200 800"),
            ConfigParam("maxmemory-clients", .custom(ConfigStore.checkMemoryOrPercent), "0",
                        unsupported: { $0 == "0" || $0 == "0%" ? nil : "Lunar has no client eviction" }),
            ConfigParam("lazyfree-lazy-expire", .bool, "no"),
            ConfigParam("lazyfree-lazy-server-del", .bool, "no"),
            ConfigParam("lazyfree-lazy-user-del", .bool, "no"),
            ConfigParam("replica-lazy-flush", .bool, "no", aliases: ["slave-lazy-flush"]),
            // Process and logging.
            ConfigParam("always-show-logo", .bool, "no", immutable: true),
            ConfigParam("set-proc-title", .bool, "yes", immutable: true),
            ConfigParam("proc-title-template", .string, "{title} {listen-addr} {server-mode}"),
            ConfigParam("supervised", .enumeration(["upstart", "systemd", "auto", "no"]), "no", immutable: true),
            ConfigParam("syslog-enabled", .bool, "no", immutable: true),
            ConfigParam("syslog-ident", .string, "redis", immutable: true),
            ConfigParam("syslog-facility", .enumeration(["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", immutable: true),
            ConfigParam("crash-log-enabled", .bool, "yes"),
            ConfigParam("crash-memcheck-enabled", .bool, "yes"),
            ConfigParam("ignore-warnings", .string, ""),
            ConfigParam("enable-protected-configs", .enumeration(["yes", "no", "local"]), "no", immutable: true),
            ConfigParam("server_cpulist", .string, "", immutable: true),
            ConfigParam("bio_cpulist", .string, "", immutable: true),
            ConfigParam("aof_rewrite_cpulist", .string, "", immutable: true),
            ConfigParam("bgsave_cpulist", .string, "", immutable: true),
            ConfigParam("io-threads-do-reads", .bool, "no", immutable: true),
            ConfigParam("shutdown-timeout", .int(min: 0, max: int32), "10"),
            ConfigParam("propagation-error-behavior", .enumeration(["ignore", "panic", "panic-on-replicas"]), "ignore"),
            ConfigParam("sanitize-dump-payload", .enumeration(["no", "yes", "clients"]), "no"),
            // Networking and persistence details.
            ConfigParam("bind-source-addr", .string, ""),
            ConfigParam("socket-mark-id", .int(min: 0, max: Int(UInt32.max)), "0", immutable: true),
            ConfigParam("rdb-del-sync-files", .bool, "no"),
            ConfigParam("rdb-save-incremental-fsync", .bool, "yes"),
            // Replication: Lunar always sends a snapshot with a length prefix, built on the engine thread.
            ConfigParam("repl-diskless-sync", .bool, "yes"),
            ConfigParam("repl-diskless-sync-delay", .int(min: 0, max: int32), "5"),
            ConfigParam("repl-diskless-sync-max-replicas", .int(min: 0, max: int32), "0"),
            ConfigParam("repl-diskless-load", .enumeration(["disabled", "on-empty-db", "swapdb"]), "disabled"),
            ConfigParam("repl-disable-tcp-nodelay", .bool, "no"),
            ConfigParam("replica-announce-ip", .string, "", aliases: ["slave-announce-ip"]),
            ConfigParam("replica-announce-port", .int(min: 0, max: 65535), "0", aliases: ["slave-announce-port"]),
            ConfigParam("replica-ignore-disk-write-errors", .bool, "no"),
            // Cluster (cluster-enabled yes is refused).
            ConfigParam("cluster-config-file", .string, "nodes.conf", immutable: true),
            ConfigParam("cluster-port", .int(min: 0, max: 65535), "0", immutable: true),
            ConfigParam("cluster-node-timeout", .int(min: 0, max: big), "15000"),
            ConfigParam("cluster-announce-ip", .string, ""),
            ConfigParam("cluster-announce-hostname", .string, ""),
            ConfigParam("cluster-announce-port", .int(min: 0, max: 65535), "0"),
            ConfigParam("cluster-announce-bus-port", .int(min: 0, max: 65535), "0"),
            ConfigParam("cluster-announce-tls-port", .int(min: 0, max: 65535), "0"),
            ConfigParam("cluster-preferred-endpoint-type", .enumeration(["ip", "hostname", "unknown-endpoint"]), "ip"),
            ConfigParam("cluster-require-full-coverage", .bool, "yes"),
            ConfigParam("cluster-replica-no-failover", .bool, "no", aliases: ["cluster-slave-no-failover"]),
            ConfigParam("cluster-replica-validity-factor", .int(min: 0, max: int32), "10", aliases: ["cluster-slave-validity-factor"]),
            ConfigParam("cluster-allow-reads-when-down", .bool, "no"),
            ConfigParam("cluster-allow-pubsubshard-when-down", .bool, "yes"),
            ConfigParam("cluster-allow-replica-migration", .bool, "yes"),
            ConfigParam("cluster-migration-barrier", .int(min: 0, max: int32), "1"),
            ConfigParam("cluster-link-sendbuf-limit", .memory(min: 0, max: big), "0"),
            // TLS: only the values that leave it off are accepted.
            ConfigParam("tls-port", .int(min: 0, max: 65535), "0", unsupported: noTLS),
            ConfigParam("tls-cert-file", .string, ""),
            ConfigParam("tls-key-file", .string, ""),
            ConfigParam("tls-key-file-pass", .string, ""),
            ConfigParam("tls-client-cert-file", .string, ""),
            ConfigParam("tls-client-key-file", .string, ""),
            ConfigParam("tls-client-key-file-pass", .string, ""),
            ConfigParam("tls-dh-params-file", .string, ""),
            ConfigParam("tls-ca-cert-file", .string, ""),
            ConfigParam("tls-ca-cert-dir", .string, ""),
            ConfigParam("tls-protocols", .string, ""),
            ConfigParam("tls-ciphers", .string, ""),
            ConfigParam("tls-ciphersuites", .string, ""),
            ConfigParam("tls-prefer-server-ciphers", .bool, "no"),
            ConfigParam("tls-session-caching", .bool, "yes"),
            ConfigParam("tls-session-cache-size", .int(min: 0, max: int32), "20480"),
            ConfigParam("tls-session-cache-timeout", .int(min: 0, max: int32), "300"),
            ConfigParam("tls-auth-clients", .enumeration(["no", "yes", "optional"]), "yes"),
            ConfigParam("tls-replication", .bool, "no", unsupported: noTLS),
            ConfigParam("tls-cluster", .bool, "no", unsupported: noTLS),
        ]
    }
}

/// client-output-buffer-limit: for each client class, a hard limit, a soft limit and how many seconds
/// the soft one may be exceeded (0: no limit), in Redis's canonical form
/// `normal H S T slave H S T pubsub H S T`.
public struct OutputBufferLimits: Equatable {
    public struct Limit: Equatable {
        public var hard = 0, soft = 0, seconds = 0
        public var isSet: Bool { hard > 0 || soft > 0 }
    }
    public var normal = Limit(), replica = Limit(), pubsub = Limit()

    public struct ParseError: Error { public let message: String }

    public init() {}

    /// Parses the canonical form (or any list of whole class specs).
    public init?(_ text: String) {
        guard case .success = OutputBufferLimits.apply(text, to: &self) else { return nil }
    }

    public var text: String {
        "normal \(normal.hard) \(normal.soft) \(normal.seconds) slave \(replica.hard) \(replica.soft) \(replica.seconds) pubsub \(pubsub.hard) \(pubsub.soft) \(pubsub.seconds)"
    }

    /// `raw`'s classes applied over `current` (all or nothing), as CONFIG SET does; Redis's errors.
    static func merge(_ current: String?, _ raw: String) -> Result<String, ParseError> {
        var limits = current.flatMap { OutputBufferLimits($0) } ?? OutputBufferLimits()
        switch apply(raw, to: &limits) {
        case let .failure(e): return .failure(e)
        case .success: return .success(limits.text)
        }
    }

    private static func apply(_ raw: String, to limits: inout OutputBufferLimits) -> Result<Void, ParseError> {
        let t = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if t.count % 4 != 0 { return .failure(ParseError(message: "Wrong number of arguments in buffer limit configuration.")) }
        // Every field is checked before any is applied.
        var parsed: [(String, Limit)] = []
        var i = 0
        while i < t.count {
            let cls = t[i].lowercased()
            guard ["normal", "slave", "replica", "pubsub"].contains(cls) else {
                return .failure(ParseError(message: "Invalid client class specified in buffer limit configuration."))
            }
            var values: [Int] = []
            for j in 1...3 {
                guard let v = ConfigStore.memoryValue(t[i + j]), v >= 0 else {
                    return .failure(ParseError(message: "Error in hard, soft or soft_seconds setting in buffer limit configuration."))
                }
                values.append(v)
            }
            parsed.append((cls, Limit(hard: values[0], soft: values[1], seconds: values[2])))
            i += 4
        }
        for (cls, l) in parsed {
            switch cls {
            case "normal": limits.normal = l
            case "pubsub": limits.pubsub = l
            default: limits.replica = l
            }
        }
        return .success(())
    }
}
