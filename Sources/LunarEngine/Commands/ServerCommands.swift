#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CJemalloc
import Foundation
import LunarRESP

/// Server commands: FLUSHDB, FLUSHALL, DBSIZE, SWAPDB, TIME, INFO, CONFIG, COMMAND, OBJECT, MEMORY, DEBUG, SHUTDOWN…
enum ServerCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("flushall", arity: -1, flags: [.write], group: .server, summary: "Removes every key from every database.", complexity: "O(N) where N is the total number of keys", syntax: "[ASYNC|SYNC]", acl: ["keyspace", "dangerous"]) { ctx in
                if ctx.argc > 2 || (ctx.argc == 2 && !ctx.arg(1, is: "async") && !ctx.arg(1, is: "sync")) { ctx.syntaxError(); return }
                ctx.engine.flushAll(async: flushAsync(ctx))
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("flushdb", arity: -1, flags: [.write], group: .server, summary: "Removes every key from the current database.", complexity: "O(N) where N is the number of keys in the selected database", syntax: "[ASYNC|SYNC]", acl: ["keyspace", "dangerous"]) { ctx in
                if ctx.argc > 2 || (ctx.argc == 2 && !ctx.arg(1, is: "async") && !ctx.arg(1, is: "sync")) { ctx.syntaxError(); return }
                ctx.engine.touchAllWatched(db: ctx.client.db)
                ctx.db.removeAll(async: flushAsync(ctx))
                if ctx.engine.trackingInUse { ctx.engine.tracking.invalidateAll(by: ctx.engine.executingClient) }
                ctx.engine.dirty &+= 1
                ctx.ok()
            },
            CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], group: .server, summary: "Returns the number of keys in the current database.", acl: ["keyspace"]) { ctx in
                ctx.out.integer(ctx.db.count)
            },
            CommandSpec("swapdb", arity: 3, flags: [.write, .fast], group: .server, since: "4.0.0", summary: "Exchanges the contents of two databases.", complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.", syntax: "index1 index2", acl: ["keyspace", "dangerous"], handler: swapdb),
            CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: .server, since: "2.6.0", summary: "Returns the server's clock: Unix seconds and the microseconds within that second.") { ctx in
                let us = unixMicros()
                ctx.out.array(2)
                ctx.out.bulk(int: Int(us / 1_000_000))
                ctx.out.bulk(int: Int(us % 1_000_000))
            },
            CommandSpec("info", arity: -1, flags: [.loading, .stale], group: .server, summary: "Reports server state and statistics, by section.", complexity: "O(1)", syntax: "[section [section ...]]", acl: ["dangerous"]) { ctx in
                ctx.out.verbatim(ServerInfo.render(ctx.engine, sections: Array(ctx.argv.dropFirst())))
            },
            CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: .server, summary: "Returns the Unix time of the last successful save (the start time, as Lunar does not persist).", acl: ["admin", "dangerous"]) { ctx in
                ctx.out.integer(Int(ServerState.of(ctx.engine).lastSave))
            },
            CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: .server, summary: "Would write the dataset to disk; Lunar has no persistence and answers with an error.", complexity: "O(N) where N is the total number of keys in all databases") { ctx in
                ctx.error(noPersistence)
            },
            CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], group: .server, summary: "Would write the dataset to disk in the background; Lunar has no persistence and answers with an error.", complexity: "O(N) where N is the total number of keys in all databases", syntax: "[SCHEDULE]") { ctx in
                if ctx.argc > 2 || (ctx.argc == 2 && !ctx.arg(1, is: "schedule")) { ctx.syntaxError(); return }
                ctx.error(noPersistence)
            },
            CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy], group: .server, summary: "Stops the server.", complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", syntax: "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", handler: shutdown),
            CommandSpec("config", arity: -2, group: .server, since: "2.0.0", summary: "Reads and changes the server configuration.", complexity: "Depends on subcommand.", subcommands: ConfigCommand.subcommands),
            CommandSpec("command", arity: -1, flags: [.loading, .stale], group: .server, since: "2.8.13", summary: "Describes every command the server knows.", complexity: "O(N) where N is the total number of Redis commands", acl: ["connection"], subcommands: CommandIntrospection.subcommands, handler: CommandIntrospection.all),
            CommandSpec("object", arity: -2, group: .generic, since: "2.2.3", summary: "Inspects the internals of a key's value.", complexity: "Depends on subcommand.", subcommands: objectSubcommands),
            CommandSpec("memory", arity: -2, group: .server, since: "4.0.0", summary: "Reports on memory use.", complexity: "Depends on subcommand.", subcommands: MemoryCommand.subcommands),
            CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale], group: .server, summary: "Debugging and testing helpers.", complexity: "Depends on subcommand.", syntax: "subcommand [argument [argument ...]]", handler: DebugCommand.run),
        ]
    }

    static let noPersistence = "ERR Lunar has no persistence (RDB/AOF): nothing can be saved to disk"

    // MARK: Hooks and per-engine state

    /// Called once by the engine's initializer: samples the ops/sec and memory peak on each cron tick.
    static func installHooks(on engine: Engine) {
        let state = ServerState(engine)
        engine.extensions[ServerState.key] = state
        engine.cronHooks.append { e in ServerState.of(e).sample(e) }
    }

    // MARK: SWAPDB

    static func swapdb(_ ctx: CommandContext) {
        guard let a = parseStrictInt(ctx.argv[1].raw), a >= Int(Int32.min), a <= Int(Int32.max) else { ctx.error("ERR invalid first DB index"); return }
        guard let b = parseStrictInt(ctx.argv[2].raw), b >= Int(Int32.min), b <= Int(Int32.max) else { ctx.error("ERR invalid second DB index"); return }
        let engine = ctx.engine
        let n = engine.databases.count
        guard a >= 0, a < n, b >= 0, b < n else { ctx.error(Err.dbIndexOutOfRange); return }
        // A watched key counts as modified if it exists on either side of the swap.
        if engine.hasWatchers {
            for (wk, list) in engine.watchers where wk.db == a || wk.db == b {
                let other = wk.db == a ? b : a
                if engine.databases[wk.db].exists(wk.key) || engine.databases[other].exists(wk.key) {
                    for c in list { c.watchDirty = true }
                }
            }
        }
        engine.swapDatabases(a, b)
        // Clients blocked on a key that now holds data get served. As Redis, the key is looked at
        // without expiring it: one already expired is deleted (and its DEL propagated) when the
        // blocked client is served, after SWAPDB.
        if engine.hasBlocked {
            for wk in Array(engine.blockedByKey.keys) where wk.db == a || wk.db == b {
                let table = engine.databases[wk.db].table
                switch table.slot(of: wk.key).flatMap({ table.value(at: $0) }) {
                case .list?, .zset?, .stream?: engine.markReady(db: wk.db, key: wk.key)
                default: break
                }
            }
        }
        engine.dirty &+= 1
        ctx.ok()
    }

    // MARK: SHUTDOWN

    static func shutdown(_ ctx: CommandContext) {
        var nosave = false, save = false, now = false, force = false, abort = false
        for i in 1..<ctx.argc {
            if ctx.arg(i, is: "nosave") { nosave = true }
            else if ctx.arg(i, is: "save") { save = true }
            else if ctx.arg(i, is: "now") { now = true }
            else if ctx.arg(i, is: "force") { force = true }
            else if ctx.arg(i, is: "abort") { abort = true }
            else { ctx.syntaxError(); return }
        }
        if (abort && ctx.argc != 2) || (save && nosave) { ctx.syntaxError(); return }
        if abort { ctx.error("ERR No shutdown in progress."); return }
        let wantsSave = save || (!nosave && !ctx.engine.config.string("save").isEmpty)
        if wantsSave && !force {
            ctx.engine.logger.warning("Error trying to save the DB, can't exit: Lunar has no persistence (use SHUTDOWN NOSAVE, or FORCE).")
            ctx.error("ERR Errors trying to SHUTDOWN. Check logs.")
            return
        }
        guard let handler = ctx.engine.shutdownHandler else {
            ctx.error("ERR Errors trying to SHUTDOWN. Check logs.")
            return
        }
        handler(now)
    }

    // MARK: OBJECT

    static var objectSubcommands: [CommandSpec] {
        let ro: CommandFlags = [.readonly]
        return [
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .generic, since: "6.2.0", summary: "Lists the OBJECT subcommands.", acl: ["keyspace"]) { ctx in
                ConnectionCommands.help(ctx, "OBJECT", [
                    ("ENCODING <key>", "Returns the internal representation of the value stored at <key>."),
                    ("FREQ <key>", "Returns the logarithmic access frequency counter of <key> (LFU policies only)."),
                    ("IDLETIME <key>", "Returns the seconds since <key> was last accessed."),
                    ("REFCOUNT <key>", "Returns the number of references to the value of <key>."),
                ])
            },
            CommandSpec("encoding", arity: 3, flags: ro, keys: (2, 2, 1), group: .generic, since: "2.2.3", summary: "Returns the internal representation of a key's value.", syntax: "key") { ctx in
                guard let v = ctx.db.lookupRead(ctx.argv[2], notifyMiss: false, touch: false) else { ctx.out.nullBulk(); return }
                let edited = ctx.db.slot(ctx.argv[2], touch: false).map { ctx.db.table.isEditedString(at: $0) } ?? false
                ctx.out.bulk(encoding(of: v, editedString: edited))
            },
            CommandSpec("refcount", arity: 3, flags: ro, keys: (2, 2, 1), group: .generic, since: "2.2.3", summary: "Returns the number of references to a key's value (values are never shared in Lunar: 1).", syntax: "key") { ctx in
                guard ctx.db.lookupRead(ctx.argv[2], notifyMiss: false, touch: false) != nil else { ctx.out.nullBulk(); return }
                ctx.out.integer(1)
            },
            CommandSpec("idletime", arity: 3, flags: ro, keys: (2, 2, 1), group: .generic, since: "2.2.3", summary: "Returns the seconds since a key was last accessed.", syntax: "key") { ctx in
                guard ctx.db.lookupRead(ctx.argv[2], notifyMiss: false, touch: false) != nil,
                      let s = ctx.db.table.slot(of: ctx.argv[2]) else { ctx.out.nullBulk(); return }
                if ctx.engine.lfuMode {
                    ctx.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                    return
                }
                ctx.out.integer(ctx.engine.idleMillis(ctx.db.table.clock(at: s)) / 1000)
            },
            CommandSpec("freq", arity: 3, flags: ro, keys: (2, 2, 1), group: .generic, since: "4.0.0", summary: "Returns the logarithmic access frequency of a key.", syntax: "key") { ctx in
                guard ctx.db.lookupRead(ctx.argv[2], notifyMiss: false, touch: false) != nil,
                      let s = ctx.db.table.slot(of: ctx.argv[2]) else { ctx.out.nullBulk(); return }
                if !ctx.engine.lfuMode {
                    ctx.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
                    return
                }
                ctx.out.integer(ctx.engine.lfuCounter(ctx.db.table.clock(at: s)))
            },
        ]
    }

    /// OBJECT ENCODING's answer for a value.
    /// FLUSHALL/FLUSHDB: ASYNC, or no option with lazyfree-lazy-user-flush, frees in the background.
    static func flushAsync(_ ctx: CommandContext) -> Bool {
        ctx.argc == 2 ? ctx.arg(1, is: "async") : ctx.engine.lazyUserFlush
    }

    static func encoding(of v: Value, editedString: Bool = false) -> String {
        switch v {
        case let .string(s): return editedString ? "raw" : StringEncoding.encodingName(of: s)
        case let .list(l): return l.encodingName
        case let .set(s): return s.encodingName
        case let .hash(h): return h.encodingName
        case let .zset(z): return z.encodingName
        case let .stream(x): return x.encodingName
        }
    }
}

/// Server-wide facts kept across commands: save time, memory peak, ops/sec samples.
final class ServerState {
    static let key = "lunar.server"
    let lastSave: Int64
    var peakMemory = 0
    let startupMemory: Int
    private var samples: [(ms: Int64, ops: Int, netIn: Int, netOut: Int, replOut: Int)] = []

    init(_ engine: Engine) {
        lastSave = engine.stats.startTime / 1000
        startupMemory = MemoryProbe.allocated()
        peakMemory = startupMemory
    }

    static func of(_ engine: Engine) -> ServerState {
        if let s = engine.extensions[key] as? ServerState { return s }
        let s = ServerState(engine)
        engine.extensions[key] = s
        return s
    }

    /// One cron sample (Redis keeps 16 samples taken every 100 ms).
    func sample(_ e: Engine) {
        let now = monotonicMillis()
        if let last = samples.last, now - last.ms < 100 { return }
        samples.append((now, e.stats.commandsProcessed, e.stats.totalNetInput, e.stats.totalNetOutput, e.stats.totalNetReplOutput))
        if samples.count > 17 { samples.removeFirst(samples.count - 17) }
        notePeak()
        sampleClientPeaks(e)
    }

    /// INFO's client_recent_max_input_buffer and client_recent_max_output_buffer: the biggest input
    /// and output buffers among the clients over the last eight seconds, one slot per second as
    /// Redis keeps them, each the largest of that second's samples (one per cron sample, 100 ms).
    private var clientPeaks = [(input: Int, output: Int)](repeating: (0, 0), count: 8)
    private var clientPeakSecond: Int64 = 0

    private func sampleClientPeaks(_ e: Engine) {
        notePeaks(currentClientPeaks(e))
    }

    private func notePeaks(_ now: (input: Int, output: Int)) {
        let second = monotonicMillis() / 1000
        if second != clientPeakSecond {
            // The slots of the seconds since the last sample start empty.
            var t = max(clientPeakSecond + 1, second - 7)
            while t <= second { clientPeaks[Int(t % 8)] = (0, 0); t += 1 }
            clientPeakSecond = second
        }
        let i = Int(second % 8)
        clientPeaks[i] = (max(clientPeaks[i].input, now.input), max(clientPeaks[i].output, now.output))
    }

    private func currentClientPeaks(_ e: Engine) -> (input: Int, output: Int) {
        var peak = (input: 0, output: 0)
        for c in e.clients.values where !c.closed {
            let b = ConnectionCommands.buffers(c, e)
            peak.input = max(peak.input, b.qbuf)
            peak.output = max(peak.output, b.output)
        }
        return peak
    }

    /// The recent peaks, the clients' buffers as they are now included.
    func recentClientPeaks(_ e: Engine) -> (input: Int, output: Int) {
        notePeaks(currentClientPeaks(e))
        var peak = (input: 0, output: 0)
        for slot in clientPeaks {
            peak.input = max(peak.input, slot.input)
            peak.output = max(peak.output, slot.output)
        }
        return peak
    }

    func notePeak() {
        let m = MemoryProbe.allocated()
        if m > peakMemory { peakMemory = m }
    }

    /// (ops/sec, input kbps, output kbps) averaged over the samples.
    func rates() -> (Int, Double, Double) {
        guard let first = samples.first, let last = samples.last, last.ms > first.ms else { return (0, 0, 0) }
        let secs = Double(last.ms - first.ms) / 1000
        let ops = Double(last.ops - first.ops) / secs
        let inK = Double(last.netIn - first.netIn) / secs / 1024
        let outK = Double(last.netOut - first.netOut) / secs / 1024
        return (Int(ops.rounded()), inK, outK)
    }

    /// Replication output kbps averaged over the samples.
    func replOutputRate() -> Double {
        guard let first = samples.first, let last = samples.last, last.ms > first.ms else { return 0 }
        return Double(last.replOut - first.replOut) / (Double(last.ms - first.ms) / 1000) / 1024
    }

    func resetRates() { samples.removeAll() }
}

/// Memory figures from the C allocator and the kernel.
public enum MemoryProbe {
    /// Bytes allocated by the server, from the allocator (jemalloc's stats.allocated).
    static func allocated() -> Int { MemoryStats.allocated() }

    /// jemalloc's stats.allocated, stats.active and stats.resident (INFO's allocator_* fields).
    static func allocatorStats() -> (allocated: Int, active: Int, resident: Int) {
        // Writing the epoch refreshes jemalloc's cached statistics.
        var epoch: UInt64 = 1
        var current: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        _ = mallctl("epoch", &current, &size, &epoch, size)
        func read(_ name: String) -> Int {
            var v = 0
            var sz = MemoryLayout<Int>.size
            return mallctl(name, &v, &sz, nil, 0) == 0 ? v : 0
        }
        return (read("stats.allocated"), read("stats.active"), read("stats.resident"))
    }

    /// Resident set size from /proc/self/statm.
    static func rss() -> Int { MemoryStats.rss() }

    /// "jemalloc-5.3.0", as INFO's mem_allocator names it.
    static func allocatorName() -> String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "jemalloc" }
        return "jemalloc-" + String(String(cString: version).prefix { $0 != "-" })
    }

    /// Asks jemalloc to return unused dirty pages of every arena to the system.
    static func trim() {
        // MALLCTL_ARENAS_ALL is 4096: "arena.4096.purge" purges all arenas.
        _ = mallctl("arena.4096.purge", nil, nil, nil, 0)
    }

    /// jemalloc's statistics report (malloc_stats_print), as MEMORY MALLOC-STATS returns it.
    static func allocatorReport() -> String {
        final class Sink { var text = "" }
        let sink = Sink()
        let opaque = Unmanaged.passRetained(sink).toOpaque()
        malloc_stats_print({ ctx, msg in
            guard let ctx, let msg else { return }
            Unmanaged<Sink>.fromOpaque(ctx).takeUnretainedValue().text += String(cString: msg)
        }, opaque, nil)
        Unmanaged<Sink>.fromOpaque(opaque).release()
        return sink.text
    }

    static func totalSystem() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Redis's human-readable byte counts: 1.25M, 23.54G, 200B.
    public static func human(_ n: Int) -> String {
        let d = Double(n)
        if n < 1024 { return "\(n)B" }
        if d < 1024 * 1024 { return String(format: "%.2fK", d / 1024) }
        if d < 1024 * 1024 * 1024 { return String(format: "%.2fM", d / 1024 / 1024) }
        if d < 1024 * 1024 * 1024 * 1024 { return String(format: "%.2fG", d / 1024 / 1024 / 1024) }
        return String(format: "%.2fT", d / 1024 / 1024 / 1024 / 1024)
    }

    /// Estimated bytes used by a key and its value: table entry, key, value payload and per-element overhead.
    /// Aggregates are sampled (`samples` elements, 0 = all) and extrapolated, as MEMORY USAGE does.
    static func usage(key: Bytes, value: Value, samples: Int) -> Int {
        let entry = 48 + 16 + key.count     // slot arrays + index entry, key storage
        func sampled<S: Sequence>(_ seq: S, count: Int, _ size: (S.Element) -> Int) -> Int {
            if count == 0 { return 0 }
            let limit = samples == 0 ? count : min(samples, count)
            var total = 0
            var taken = 0
            for e in seq {
                if taken == limit { break }
                total += size(e)
                taken += 1
            }
            return taken == 0 ? 0 : total * count / taken
        }
        switch value {
        case let .string(s):
            return entry + (StringEncoding.encodingName(of: s) == "int" ? 8 : 16 + s.count)
        case let .list(l):
            return entry + 64 + sampled(l.items, count: l.count) { 16 + $0.count }
        case let .set(s):
            return entry + 64 + sampled(s.firstMembers(samples), count: s.count) { 24 + $0.count }
        case let .hash(h):
            return entry + 64 + sampled(h.firstPairs(samples), count: h.count) { 40 + $0.key.count + $0.value.count }
        case let .zset(z):
            var members: [Bytes] = []
            let want = samples == 0 ? z.count : samples
            z.forEach { if members.count < want { members.append($0.member) } }
            return entry + 64 + sampled(members, count: z.count) { 48 + $0.count }
        case let .stream(x):
            return entry + x.approximateBytes()
        }
    }
}
