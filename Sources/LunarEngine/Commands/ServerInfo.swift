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

    /// The figures INFO memory and MEMORY STATS share, computed once per call.
    struct MemoryOverview {
        var used = 0, rss = 0, peak = 0, startup = 0
        var backlog = 0, replicasPending = 0, replicasOwn = 0, normalClients = 0
        var evalCaches = 0, functionCaches = 0
        var dbOverhead = 0
        var allocator = (allocated: 0, active: 0, resident: 0)
        var scripting: [String] = []
        /// Redis's used_memory_overhead / overhead.total: what is not the dataset.
        var overhead: Int {
            min(used, startup + backlog + replicasPending + replicasOwn + normalClients + evalCaches + functionCaches + dbOverhead)
        }
        var dataset: Int { used - overhead }
    }

    static func memoryOverview(_ e: Engine) -> MemoryOverview {
        let state = ServerState.of(e)
        state.notePeak()
        var m = MemoryOverview()
        m.used = MemoryProbe.allocated()
        m.rss = MemoryProbe.rss()
        m.peak = max(state.peakMemory, m.used)
        m.startup = min(state.startupMemory, m.used)
        m.allocator = MemoryProbe.allocatorStats()
        m.scripting = (e.extensions[InfoSectionProvider.key("memory.scripting")] as? InfoSectionProvider)?.render(e) ?? []
        for line in m.scripting {
            if line.hasPrefix("used_memory_scripts_eval:") { m.evalCaches = Int(line.split(separator: ":")[1]) ?? 0 }
            if line.hasPrefix("used_memory_functions:") { m.functionCaches = Int(line.split(separator: ":")[1]) ?? 0 }
        }
        m.backlog = ReplicationMaster.of(e).backlogBytes
        for c in e.replicaClients where !c.closed {
            let b = ConnectionCommands.buffers(c, e)
            m.replicasPending += b.omem
            m.replicasOwn += b.total - b.omem
        }
        m.normalClients = normalClientsMemory(e)
        for db in e.databases where db.count > 0 {
            let o = dbOverheads(db)
            m.dbOverhead += o.main + o.expires
        }
        return m
    }

    /// MEMORY STATS' per-database overheads: the key table's slots and the expiry index's entries.
    static func dbOverheads(_ db: Database) -> (main: Int, expires: Int) {
        (db.table.slotCount * 48, db.table.volatileCount * 16)
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
        let m = memoryOverview(e)
        let used = m.used, rss = m.rss, peak = m.peak, startup = m.startup, dataset = m.dataset
        let total = MemoryProbe.totalSystem()
        let maxmem = e.config.int("maxmemory")
        let frag = used == 0 ? 0 : Double(rss) / Double(used)
        let lazyPending = e.lazyFree.pending.load(ordering: .relaxed)
        let lazyFreed = e.lazyFree.freed.load(ordering: .relaxed) - e.stats.lazyfreedBase
        let a = m.allocator
        let ratio = { (x: Int, y: Int) -> String in String(format: "%.2f", y == 0 ? 0 : Double(x) / Double(y)) }
        return [
            "used_memory:\(used)",
            "used_memory_human:\(MemoryProbe.human(used))",
            "used_memory_rss:\(rss)",
            "used_memory_rss_human:\(MemoryProbe.human(rss))",
            "used_memory_peak:\(peak)",
            "used_memory_peak_human:\(MemoryProbe.human(peak))",
            "used_memory_peak_perc:\(String(format: "%.2f", peak == 0 ? 0 : Double(used) * 100 / Double(peak)))%",
            "used_memory_overhead:\(m.overhead)",
            "used_memory_startup:\(startup)",
            "used_memory_dataset:\(dataset)",
            "used_memory_dataset_perc:\(String(format: "%.2f", used == 0 ? 0 : Double(dataset) * 100 / Double(used)))%",
            "allocator_allocated:\(a.allocated)",
            "allocator_active:\(a.active)",
            "allocator_resident:\(a.resident)",
            "total_system_memory:\(total)",
            "total_system_memory_human:\(MemoryProbe.human(total))",
        ] + m.scripting + [
            "maxmemory:\(maxmem)",
            "maxmemory_human:\(MemoryProbe.human(maxmem))",
            "maxmemory_policy:\(e.config.string("maxmemory-policy"))",
            "allocator_frag_ratio:\(ratio(a.active, a.allocated))",
            "allocator_frag_bytes:\(a.active - a.allocated)",
            "allocator_rss_ratio:\(ratio(a.resident, a.active))",
            "allocator_rss_bytes:\(a.resident - a.active)",
            "rss_overhead_ratio:\(ratio(rss, a.resident))",
            "rss_overhead_bytes:\(rss - a.resident)",
            "mem_fragmentation_ratio:\(String(format: "%.2f", frag))",
            "mem_fragmentation_bytes:\(rss - used)",
            "mem_not_counted_for_evict:\(e.memoryNotCountedForEviction)",
            "mem_replication_backlog:\(m.backlog)",
            "mem_total_replication_buffers:\(m.backlog + m.replicasPending)",
            "mem_clients_slaves:\(m.replicasOwn)",
            "mem_clients_normal:\(m.normalClients)",
            "mem_cluster_links:0",
            // The append-only file is written at the end of each engine round: no buffer outlives it.
            "mem_aof_buffer:0",
            "mem_allocator:\(MemoryProbe.allocatorName())",
            // No active defragmentation in Lunar (Redis reports 0 while it is off).
            "active_defrag_running:0",
            "lazyfree_pending_objects:\(lazyPending)",
            "lazyfreed_objects:\(lazyFreed)",
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
        let io = e.ioCounters?() ?? (reads: 0, writes: 0)
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
            "expired_time_cap_reached_count:\(s.expireCycleTimeCapReached)",
            "expire_cycle_cpu_milliseconds:\(s.expireCycleMicros / 1000)",
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
        ] + provided(e, "stats.migrate", or: ["migrate_cached_sockets:0"]) + [
            // Lunar does not track keys written with a TTL on a writable replica, nor defragment.
            "slave_expires_tracked_keys:0",
            "active_defrag_hits:0",
            "active_defrag_misses:0",
            "active_defrag_key_hits:0",
            "active_defrag_key_misses:0",
            "total_active_defrag_time:0",
            "current_active_defrag_time:0",
            "tracking_total_keys:\(e.tracking.table.count)",
            "tracking_total_items:\(e.tracking.items)",
            "tracking_total_prefixes:\(e.tracking.prefixCount)",
            "unexpected_error_replies:0",
            "total_error_replies:\(s.errorReplies)",
            "dump_payload_sanitizations:0",
            "total_reads_processed:\(io.reads - s.ioBase.reads)",
            "total_writes_processed:\(io.writes - s.ioBase.writes)",
            // Redis counts here the reads and writes it hands to its io-threads (off by default);
            // Lunar's I/O threads are not that offload, and its reply buffers are not resized.
            "io_threaded_reads_processed:0",
            "io_threaded_writes_processed:0",
            "reply_buffer_shrinks:0",
            "reply_buffer_expands:0",
        ]
    }

    /// Lines a module outside the engine contributes (see InfoSectionProvider), or `fallback`.
    private static func provided(_ e: Engine, _ name: String, or fallback: [String]) -> [String] {
        (e.extensions[InfoSectionProvider.key(name)] as? InfoSectionProvider)?.render(e) ?? fallback
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
                let m = ServerInfo.memoryOverview(e)
                let keys = e.databases.reduce(0) { $0 + $1.count }
                let dbs = e.databases.filter { $0.count > 0 }
                let a = m.allocator
                let ratio = { (x: Int, y: Int) -> Double in y == 0 ? 0 : Double(x) / Double(y) }
                ctx.out.map(27 + dbs.count)
                ctx.out.bulk("peak.allocated"); ctx.out.integer(m.peak)
                ctx.out.bulk("total.allocated"); ctx.out.integer(m.used)
                ctx.out.bulk("startup.allocated"); ctx.out.integer(m.startup)
                ctx.out.bulk("replication.backlog"); ctx.out.integer(m.backlog)
                ctx.out.bulk("clients.slaves"); ctx.out.integer(m.replicasOwn + m.replicasPending)
                ctx.out.bulk("clients.normal"); ctx.out.integer(m.normalClients)
                ctx.out.bulk("cluster.links"); ctx.out.integer(0)
                ctx.out.bulk("aof.buffer"); ctx.out.integer(0)
                ctx.out.bulk("lua.caches"); ctx.out.integer(m.evalCaches)
                ctx.out.bulk("functions.caches"); ctx.out.integer(m.functionCaches)
                for db in dbs {
                    let o = ServerInfo.dbOverheads(db)
                    ctx.out.bulk("db.\(db.id)")
                    ctx.out.map(3)
                    ctx.out.bulk("overhead.hashtable.main"); ctx.out.integer(o.main)
                    ctx.out.bulk("overhead.hashtable.expires"); ctx.out.integer(o.expires)
                    ctx.out.bulk("overhead.hashtable.slot-to-keys"); ctx.out.integer(0)   // cluster mode only
                }
                ctx.out.bulk("overhead.total"); ctx.out.integer(m.overhead)
                ctx.out.bulk("keys.count"); ctx.out.integer(keys)
                ctx.out.bulk("keys.bytes-per-key"); ctx.out.integer(keys == 0 ? 0 : (m.used - m.startup) / keys)
                ctx.out.bulk("dataset.bytes"); ctx.out.integer(m.dataset)
                ctx.out.bulk("dataset.percentage"); ctx.out.double(m.used == 0 ? 0 : Double(m.dataset) * 100 / Double(m.used))
                ctx.out.bulk("peak.percentage"); ctx.out.double(Double(m.used) * 100 / Double(max(1, m.peak)))
                ctx.out.bulk("allocator.allocated"); ctx.out.integer(a.allocated)
                ctx.out.bulk("allocator.active"); ctx.out.integer(a.active)
                ctx.out.bulk("allocator.resident"); ctx.out.integer(a.resident)
                ctx.out.bulk("allocator-fragmentation.ratio"); ctx.out.double(ratio(a.active, a.allocated))
                ctx.out.bulk("allocator-fragmentation.bytes"); ctx.out.integer(a.active - a.allocated)
                ctx.out.bulk("allocator-rss.ratio"); ctx.out.double(ratio(a.resident, a.active))
                ctx.out.bulk("allocator-rss.bytes"); ctx.out.integer(a.resident - a.active)
                ctx.out.bulk("rss-overhead.ratio"); ctx.out.double(ratio(m.rss, a.resident))
                ctx.out.bulk("rss-overhead.bytes"); ctx.out.integer(m.rss - a.resident)
                ctx.out.bulk("fragmentation"); ctx.out.double(ratio(m.rss, m.used))
                ctx.out.bulk("fragmentation.bytes"); ctx.out.integer(m.rss - m.used)
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
/// `InfoSectionProvider.key(section)` (the persistence module provides "persistence"), or lines
/// of a built-in section (the scripting module provides "memory.scripting").
public final class InfoSectionProvider {
    public let render: (Engine) -> [String]
    public init(_ render: @escaping (Engine) -> [String]) { self.render = render }
    public static func key(_ section: String) -> String { "info." + section }
}
