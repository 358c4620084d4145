#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarRESP

/// The INFO command's text: Redis 7.0's sections and field names, filled with Lunar's own figures.
enum ServerInfo {
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"]
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]

    static func render(_ e: Engine, sections args: [Bytes]) -> String {
        var wanted: [String] = []
        if args.isEmpty {
            wanted = defaultSections
        } else {
            var set = Set<String>()
            for a in args {
                switch a.lowercased.string {
                case "default": set.formUnion(defaultSections)
                case "all": set.formUnion(allSections)
                case "everything": set.formUnion(allSections)
                case let s: set.insert(s)
                }
            }
            wanted = allSections.filter { set.contains($0) }
        }
        var out = ""
        var n = 0
        for name in wanted {
            let lines = section(e, name)
            if n > 0 { out += "\r\n" }
            n += 1
            out += "# " + title(name) + "\r\n"
            for l in lines { out += l + "\r\n" }
        }
        return out
    }

    /// Every command and subcommand, for commandstats.
    static func allSpecs(_ e: Engine) -> [CommandSpec] {
        var out: [CommandSpec] = []
        for s in e.table.all {
            out.append(s)
            out.append(contentsOf: CommandIntrospection.sortedSubcommands(s))
        }
        return out
    }

    private static func title(_ s: String) -> String {
        switch s {
        case "cpu": return "CPU"
        case "commandstats": return "Commandstats"
        case "errorstats": return "Errorstats"
        case "latencystats": return "Latencystats"
        default: return s.prefix(1).uppercased() + s.dropFirst()
        }
    }

    private static func section(_ e: Engine, _ name: String) -> [String] {
        switch name {
        case "server": return server(e)
        case "clients": return clients(e)
        case "memory": return memory(e)
        case "persistence":
            if let p = e.extensions[InfoSectionProvider.key("persistence")] as? InfoSectionProvider { return p.render(e) }
            return persistence(e)
        case "stats": return stats(e)
        case "replication": return replication(e)
        case "cpu": return cpu()
        case "modules": return []
        case "commandstats":
            return allSpecs(e).compactMap { s in
                if s.statCalls == 0 && s.statRejected == 0 && s.statFailed == 0 { return nil }
                let per = s.statCalls == 0 ? 0 : Double(s.statMicros) / Double(s.statCalls)
                return "cmdstat_\(s.fullName):calls=\(s.statCalls),usec=\(s.statMicros),usec_per_call=\(String(format: "%.2f", per)),rejected_calls=\(s.statRejected),failed_calls=\(s.statFailed)"
            }
        case "errorstats":
            return e.stats.errorCodes.keys.sorted().map { "errorstat_\($0):count=\(e.stats.errorCodes[$0]!)" }
        case "latencystats": return e.latencyStatsLines()
        case "cluster": return ["cluster_enabled:0"]
        case "keyspace":
            return e.databases.compactMap { db in
                db.count == 0 ? nil : "db\(db.id):keys=\(db.count),expires=\(db.table.volatileCount),avg_ttl=\(db.avgTTL)"
            }
        default: return []
        }
    }

    private static func server(_ e: Engine) -> [String] {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { p in String(decoding: p.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let os = "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
        let nowUs = unixMicros()
        let uptime = max(0, (unixMillis() - e.stats.startTime) / 1000)
        let hz = e.config.int("hz")
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        return [
            "redis_version:\(LunarVersion.redisCompatible)",
            "lunar_version:\(LunarVersion.string)",
            "redis_git_sha1:00000000",
            "redis_git_dirty:0",
            "redis_build_id:0",
            "redis_mode:standalone",
            "os:\(os)",
            "arch_bits:\(MemoryLayout<Int>.size * 8)",
            "monotonic_clock:POSIX clock_gettime",
            "multiplexing_api:epoll",
            "atomicvar_api:swift-atomics",
            "gcc_version:0.0.0",
            "process_id:\(getpid())",
            "process_supervised:no",
            "run_id:\(e.runID)",
            "tcp_port:\(e.serverInfo["tcp_port"] ?? e.config.string("port"))",
            "server_time_usec:\(nowUs)",
            "uptime_in_seconds:\(uptime)",
            "uptime_in_days:\(uptime / 86400)",
            "hz:\(min(500, max(1, hz)))",
            "configured_hz:\(hz)",
            "lru_clock:\((nowUs / 1_000_000) & ((1 << 24) - 1))",
            "executable:\(exe)",
            "config_file:\(e.config.configFile ?? "")",
            "io_threads_active:0",
        ]
    }

    /// INFO's mem_clients_normal and MEMORY STATS' clients.normal: CLIENT LIST's tot-mem of every
    /// client but the replicas.
    static func normalClientsMemory(_ e: Engine) -> Int {
        var n = 0
        for c in e.clients.values where !c.closed && !c.isReplica { n += ConnectionCommands.buffers(c, e).total }
        return n
    }

    private static func clients(_ e: Engine) -> [String] {
        let timeoutTable = e.blockedClients.values.filter { ($0.blocked?.deadline ?? 0) != 0 }.count
        let peaks = ServerState.of(e).recentClientPeaks(e)
        return [
            // As in Redis, replicas are not counted as clients.
            "connected_clients:\(e.clients.count - ReplicationMaster.of(e).replicaCount)",
            "cluster_connections:0",
            "maxclients:\(e.config.int("maxclients"))",
            "client_recent_max_input_buffer:\(peaks.input)",
            "client_recent_max_output_buffer:\(peaks.output)",
            "blocked_clients:\(e.blockedClients.count)",
            "tracking_clients:\(e.tracking.clientCount)",
            "clients_in_timeout_table:\(timeoutTable)",
        ]
    }

    static func memory(_ e: Engine) -> [String] {
        let state = ServerState.of(e)
        state.notePeak()
        let used = MemoryProbe.allocated()
        let rss = MemoryProbe.rss()
        let peak = max(state.peakMemory, used)
        let startup = min(state.startupMemory, used)
        let dataset = used - startup
        let total = MemoryProbe.totalSystem()
        let maxmem = e.config.int("maxmemory")
        let frag = used == 0 ? 0 : Double(rss) / Double(used)
        return [
            "used_memory:\(used)",
            "used_memory_human:\(MemoryProbe.human(used))",
            "used_memory_rss:\(rss)",
            "used_memory_rss_human:\(MemoryProbe.human(rss))",
            "used_memory_peak:\(peak)",
            "used_memory_peak_human:\(MemoryProbe.human(peak))",
            "used_memory_peak_perc:\(String(format: "%.2f", peak == 0 ? 0 : Double(used) * 100 / Double(peak)))%",
            "used_memory_overhead:\(startup)",
            "used_memory_startup:\(startup)",
            "used_memory_dataset:\(dataset)",
            "used_memory_dataset_perc:\(String(format: "%.2f", used == 0 ? 0 : Double(dataset) * 100 / Double(used)))%",
            "total_system_memory:\(total)",
            "total_system_memory_human:\(MemoryProbe.human(total))",
            "maxmemory:\(maxmem)",
            "maxmemory_human:\(MemoryProbe.human(maxmem))",
            "maxmemory_policy:\(e.config.string("maxmemory-policy"))",
            "mem_fragmentation_ratio:\(String(format: "%.2f", frag))",
            "mem_fragmentation_bytes:\(rss - used)",
            "mem_not_counted_for_evict:\(e.memoryNotCountedForEviction)",
            "mem_clients_normal:\(normalClientsMemory(e))",
            "mem_allocator:\(MemoryProbe.allocatorName())",
            "lazyfree_pending_objects:0",
            "lazyfreed_objects:0",
        ]
    }

    private static func persistence(_ e: Engine) -> [String] {
        [
            "loading:0",
            "async_loading:0",
            "rdb_changes_since_last_save:\(e.dirty)",
            "rdb_bgsave_in_progress:0",
            "rdb_last_save_time:\(ServerState.of(e).lastSave)",
            "rdb_last_bgsave_status:ok",
            "rdb_last_bgsave_time_sec:-1",
            "rdb_current_bgsave_time_sec:-1",
            "rdb_saves:0",
            "aof_enabled:0",
            "aof_rewrite_in_progress:0",
            "aof_rewrite_scheduled:0",
            "aof_last_rewrite_time_sec:-1",
            "aof_current_rewrite_time_sec:-1",
            "aof_last_bgrewrite_status:ok",
            "aof_rewrites:0",
            "aof_last_write_status:ok",
        ]
    }

    private static func stats(_ e: Engine) -> [String] {
        let s = e.stats
        let (ops, inK, outK) = ServerState.of(e).rates()
        return [
            "total_connections_received:\(s.connectionsReceived)",
            "total_commands_processed:\(s.commandsProcessed)",
            "instantaneous_ops_per_sec:\(ops)",
            "total_net_input_bytes:\(s.totalNetInput)",
            "total_net_output_bytes:\(s.totalNetOutput)",
            "total_net_repl_input_bytes:0",
            "total_net_repl_output_bytes:\(s.totalNetReplOutput)",
            "instantaneous_input_kbps:\(String(format: "%.2f", inK))",
            "instantaneous_output_kbps:\(String(format: "%.2f", outK))",
            "instantaneous_input_repl_kbps:0.00",
            "instantaneous_output_repl_kbps:\(String(format: "%.2f", ServerState.of(e).replOutputRate()))",
            "rejected_connections:\(s.rejectedConnections)",
            "sync_full:\(s.syncFull)",
            "sync_partial_ok:\(s.syncPartialOK)",
            "sync_partial_err:\(s.syncPartialErr)",
            "expired_keys:\(s.expiredKeys)",
            "expired_stale_perc:\(String(format: "%.2f", s.expiredStalePerc))",
            "evicted_keys:\(s.evictedKeys)",
            "evicted_clients:0",
            "total_eviction_exceeded_time:\(e.evictionExceededMillis.total)",
            "current_eviction_exceeded_time:\(e.evictionExceededMillis.current)",
            "keyspace_hits:\(s.keyspaceHits)",
            "keyspace_misses:\(s.keyspaceMisses)",
            "pubsub_channels:\(e.pubsub.channelCount)",
            "pubsub_patterns:\(e.pubsub.patternCount)",
            "pubsubshard_channels:\(e.pubsub.shardChannelCount)",
            "latest_fork_usec:0",
            "total_forks:0",
            "tracking_total_keys:\(e.tracking.table.count)",
            "tracking_total_items:\(e.tracking.items)",
            "tracking_total_prefixes:\(e.tracking.prefixCount)",
            "unexpected_error_replies:0",
            "total_error_replies:\(s.errorReplies)",
            "total_reads_processed:\(s.commandsProcessed)",
        ]
    }

    private static func replication(_ e: Engine) -> [String] {
        ReplicationMaster.of(e).infoLines()
    }

    private static func cpu() -> [String] {
        func t(_ v: timeval) -> String { String(format: "%ld.%06ld", Int(v.tv_sec), Int(v.tv_usec)) }
        var selfUsage = rusage()
        var children = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &selfUsage)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        #else
        getrusage(RUSAGE_SELF, &selfUsage)
        getrusage(RUSAGE_CHILDREN, &children)
        #endif
        var lines = [
            "used_cpu_sys:\(t(selfUsage.ru_stime))",
            "used_cpu_user:\(t(selfUsage.ru_utime))",
            "used_cpu_sys_children:\(t(children.ru_stime))",
            "used_cpu_user_children:\(t(children.ru_utime))",
        ]
        #if os(Linux)
        var thread = rusage()
        // INFO runs on the engine thread: RUSAGE_THREAD measures exactly it.
        if getrusage(1, &thread) == 0 {
            lines.append("used_cpu_sys_main_thread:\(t(thread.ru_stime))")
            lines.append("used_cpu_user_main_thread:\(t(thread.ru_utime))")
        }
        #endif
        return lines
    }
}

/// MEMORY USAGE / DOCTOR / STATS / PURGE / MALLOC-STATS / HELP.
enum MemoryCommand {
    static var subcommands: [CommandSpec] {
        [
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "4.0.0", summary: "Lists the MEMORY subcommands.") { ctx in
                ConnectionCommands.help(ctx, "MEMORY", [
                    ("DOCTOR", "Reports memory problems, if any."),
                    ("MALLOC-STATS", "Reports the allocator's statistics."),
                    ("PURGE", "Returns free memory to the operating system where the allocator can."),
                    ("STATS", "Reports memory use in detail."),
                    ("USAGE <key> [SAMPLES <count>]", "Estimates the bytes used by <key> and its value; aggregates are sampled (default 5, 0 = all)."),
                ])
            },
            CommandSpec("usage", arity: -3, flags: [.readonly], keys: (2, 2, 1), group: .server, since: "4.0.0", summary: "Estimates the memory used by a key and its value.", complexity: "O(N) where N is the number of samples.", syntax: "key [SAMPLES count]") { ctx in
                var samples = 5
                var j = 3
                while j < ctx.argc {
                    if ctx.arg(j, is: "samples") && j + 1 < ctx.argc {
                        guard let n = ctx.int(j + 1) else { return }
                        if n < 0 { ctx.syntaxError(); return }
                        samples = n
                        j += 2
                    } else {
                        ctx.syntaxError()
                        return
                    }
                }
                guard let s = ctx.db.slot(ctx.argv[2], touch: false), let v = ctx.db.table.value(at: s) else { ctx.out.nullBulk(); return }
                ctx.out.integer(MemoryProbe.usage(key: ctx.argv[2], value: v, samples: samples))
            },
            CommandSpec("doctor", arity: 2, group: .server, since: "4.0.0", summary: "Reports memory problems, if any.") { ctx in
                let used = MemoryProbe.allocated()
                let rss = MemoryProbe.rss()
                let state = ServerState.of(ctx.engine)
                state.notePeak()
                var issues: [String] = []
                if used < 5 * 1024 * 1024 {
                    ctx.out.verbatim("Memory use is small (\(MemoryProbe.human(used))): there is nothing to diagnose.\n")
                    return
                }
                if state.peakMemory > used * 3 / 2 {
                    issues.append("Peak memory (\(MemoryProbe.human(state.peakMemory))) is much higher than current use (\(MemoryProbe.human(used))): the allocator may hold on to freed memory (MEMORY PURGE can help).")
                }
                if rss > used * 3 / 2 && rss - used > 10 * 1024 * 1024 {
                    issues.append("Resident memory (\(MemoryProbe.human(rss))) is well above allocated memory (\(MemoryProbe.human(used))): fragmentation is high.")
                }
                let maxmem = ctx.engine.config.int("maxmemory")
                if maxmem > 0 && used > maxmem * 9 / 10 {
                    issues.append("Memory use is above 90% of maxmemory (\(MemoryProbe.human(maxmem))).")
                }
                if issues.isEmpty {
                    ctx.out.verbatim("No memory problems found.\n")
                } else {
                    ctx.out.verbatim("Memory problems found:\n\n" + issues.map { " * " + $0 + "\n" }.joined())
                }
            },
            CommandSpec("stats", arity: 2, group: .server, since: "4.0.0", summary: "Reports memory use in detail.") { ctx in
                let e = ctx.engine
                let state = ServerState.of(e)
                state.notePeak()
                let used = MemoryProbe.allocated()
                let rss = MemoryProbe.rss()
                let startup = min(state.startupMemory, used)
                let keys = e.databases.reduce(0) { $0 + $1.count }
                let dataset = used - startup
                let dbs = e.databases.filter { $0.count > 0 }
                ctx.out.map(11 + dbs.count)
                ctx.out.bulk("peak.allocated"); ctx.out.integer(max(state.peakMemory, used))
                ctx.out.bulk("total.allocated"); ctx.out.integer(used)
                ctx.out.bulk("startup.allocated"); ctx.out.integer(startup)
                ctx.out.bulk("clients.normal"); ctx.out.integer(ServerInfo.normalClientsMemory(e))
                for db in dbs {
                    ctx.out.bulk("db.\(db.id)")
                    ctx.out.map(2)
                    ctx.out.bulk("overhead.hashtable.main"); ctx.out.integer(db.table.slotCount * 48)
                    ctx.out.bulk("overhead.hashtable.expires"); ctx.out.integer(db.table.volatileCount * 16)
                }
                ctx.out.bulk("keys.count"); ctx.out.integer(keys)
                ctx.out.bulk("keys.bytes-per-key"); ctx.out.integer(keys == 0 ? 0 : dataset / keys)
                ctx.out.bulk("dataset.bytes"); ctx.out.integer(dataset)
                ctx.out.bulk("dataset.percentage"); ctx.out.double(used == 0 ? 0 : Double(dataset) * 100 / Double(used))
                ctx.out.bulk("peak.percentage"); ctx.out.double(Double(used) * 100 / Double(max(1, max(state.peakMemory, used))))
                ctx.out.bulk("fragmentation"); ctx.out.double(used == 0 ? 0 : Double(rss) / Double(used))
                ctx.out.bulk("fragmentation.bytes"); ctx.out.integer(rss - used)
            },
            CommandSpec("purge", arity: 2, group: .server, since: "4.0.0", summary: "Returns free memory to the operating system where the allocator can.") { ctx in
                MemoryProbe.trim()
                ctx.ok()
            },
            CommandSpec("malloc-stats", arity: 2, group: .server, since: "4.0.0", summary: "Reports the allocator's statistics.") { ctx in
                ctx.out.verbatim(MemoryProbe.allocatorReport())
            },
        ]
    }
}

/// A module's INFO section, replacing the built-in one: stored in `engine.extensions` under
/// `InfoSectionProvider.key(section)` (the persistence module provides "persistence").
public final class InfoSectionProvider {
    public let render: (Engine) -> [String]
    public init(_ render: @escaping (Engine) -> [String]) { self.render = render }
    public static func key(_ section: String) -> String { "info." + section }
}
