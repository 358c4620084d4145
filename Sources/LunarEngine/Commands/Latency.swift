import LunarRESP

/// Latency tracking, as Redis 7.0 has it:
/// - per-command latency histograms (`latency-tracking`, on by default), read by INFO latencystats
///   (percentiles from `latency-tracking-info-percentiles`) and LATENCY HISTOGRAM;
/// - the latency monitor (`latency-monitor-threshold` ms, 0 = off): events that took at least the
///   threshold — `command`, `fast-command`, `expire-cycle` — with the latest and highest sample and
///   a history of the last 160 seconds that had one, read by LATENCY LATEST/HISTORY/GRAPH/DOCTOR.
struct LatencyMonitor {
    struct Event {
        var max = 0                   // ms, all time
        /// (Unix seconds, ms), one per second that had a sample (its highest); the last is the
        /// "latest" LATENCY LATEST reports.
        var history: [(time: Int64, ms: Int)] = []
    }
    static let historyLength = 160
    private(set) var events: [String: Event] = [:]
    /// Names in the order they were first seen (Redis answers from a hash table; any order is valid).
    private(set) var order: [String] = []

    /// Adds a sample; samples in the same second keep the highest.
    mutating func add(_ name: String, ms: Int, now: Int64) {
        if events[name] == nil {
            events[name] = Event()
            order.append(name)
        }
        var e = events[name]!
        e.max = Swift.max(e.max, ms)
        if let last = e.history.last, last.time == now {
            e.history[e.history.count - 1].ms = Swift.max(last.ms, ms)
        } else {
            e.history.append((now, ms))
            if e.history.count > Self.historyLength { e.history.removeFirst() }
        }
        events[name] = e
    }

    /// Forgets the named events (all when none is named); returns how many there were.
    mutating func reset(_ names: [String]) -> Int {
        if names.isEmpty {
            let n = events.count
            events = [:]
            order = []
            return n
        }
        var n = 0
        for name in names where events.removeValue(forKey: name) != nil {
            order.removeAll { $0 == name }
            n += 1
        }
        return n
    }
}

extension Engine {
    /// Records a command's duration: its histogram (latency-tracking) and the latency monitor.
    @inline(__always) func recordLatency(_ spec: CommandSpec, micros: Int) {
        if latencyTracking { spec.latency.record(nanoseconds: Int64(micros) &* 1000) }
        if latencyThreshold > 0 && micros / 1000 >= latencyThreshold {
            latency.add(spec.flags.contains(.fast) ? "fast-command" : "command", ms: micros / 1000, now: now / 1000)
        }
    }

    /// A sample for a server activity (expire-cycle…), kept when it reached the threshold.
    func recordLatencyEvent(_ name: String, ms: Int) {
        if latencyThreshold > 0 && ms >= latencyThreshold { latency.add(name, ms: ms, now: unixMillis() / 1000) }
    }

    // MARK: latency-tracking-info-percentiles

    /// The percentiles as CONFIG GET shows them ("50 99 99.9"), or nil when one is not a number or
    /// is outside 0…100.
    static func normalizePercentiles(_ raw: String) -> String? {
        var out: [String] = []
        for part in raw.split(separator: " ") {
            guard let v = Double(part), v.isFinite, v >= 0, v <= 100 else { return nil }
            out.append(formatPercentile(v))
        }
        return out.joined(separator: " ")
    }

    static func percentilesError(_ raw: String) -> String {
        for part in raw.split(separator: " ") where Double(part) == nil || !Double(part)!.isFinite {
            return "Invalid latency-tracking-info-percentiles parameters"
        }
        return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
    }

    /// A percentile with six decimals at most and no trailing zeros (50, 99.9, 2.5).
    static func formatPercentile(_ v: Double) -> String {
        var s = cFormat("%f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// INFO latencystats: one line per command that ran, its configured percentiles in µs.
    func latencyStatsLines() -> [String] {
        guard latencyTracking else { return [] }
        let ps = config.string("latency-tracking-info-percentiles").split(separator: " ").compactMap { Double($0) }
        return ServerInfo.allSpecs(self).compactMap { s in
            guard s.latency.total > 0 else { return nil }
            let fields = ps.map { p in "p\(Self.formatPercentile(p))=\(cFormat("%.3f", Double(s.latency.value(atPercentile: p)) / 1000))" }
            return "latency_percentiles_usec_\(s.fullName):" + fields.joined(separator: ",")
        }
    }

    // MARK: LATENCY

    static var latencySpecs: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("latency", arity: -2, group: .server, since: "2.8.13", summary: "Reports the server's latency samples and histograms.",
                        complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "2.8.13",
                            summary: "Lists the LATENCY subcommands.") { ctx in
                    ConnectionCommands.help(ctx, "LATENCY", [
                        ("DOCTOR", "Returns a report on the latency samples, in words."),
                        ("GRAPH <event>", "Returns an ASCII graph of the <event> samples."),
                        ("HISTORY <event>", "Returns the <event> samples, as time and latency pairs."),
                        ("LATEST", "Returns the latest and the highest sample of every event."),
                        ("RESET [<event> ...]", "Forgets the samples of the events named, or of every event."),
                        ("HISTOGRAM [COMMAND ...]", "Returns, per command, its calls and a cumulative histogram of their latency\nin microseconds; every command that ran when none is named."),
                    ])
                },
                CommandSpec("latest", arity: 2, flags: flags, group: .server, since: "2.8.13",
                            summary: "Returns the latest and the highest sample of every event.", acl: ["dangerous"]) { ctx in
                    let m = ctx.engine.latency
                    ctx.out.array(m.order.count)
                    for name in m.order {
                        let e = m.events[name]!
                        let last = e.history.last ?? (0, 0)
                        ctx.out.array(4)
                        ctx.out.bulk(name)
                        ctx.out.integer(Int(last.time))
                        ctx.out.integer(last.ms)
                        ctx.out.integer(e.max)
                    }
                },
                CommandSpec("history", arity: 3, flags: flags, group: .server, since: "2.8.13",
                            summary: "Returns an event's samples as time and latency pairs.", syntax: "event", acl: ["dangerous"]) { ctx in
                    let h = ctx.engine.latency.events[ctx.argv[2].string]?.history ?? []
                    ctx.out.array(h.count)
                    for s in h {
                        ctx.out.array(2)
                        ctx.out.integer(Int(s.time))
                        ctx.out.integer(s.ms)
                    }
                },
                CommandSpec("reset", arity: -2, flags: flags, group: .server, since: "2.8.13",
                            summary: "Forgets the samples of some events, or of all.", syntax: "[event [event ...]]",
                            acl: ["dangerous"]) { ctx in
                    ctx.out.integer(ctx.engine.latency.reset(ctx.argv.dropFirst(2).map { $0.string }))
                },
                CommandSpec("graph", arity: 3, flags: flags, group: .server, since: "2.8.13",
                            summary: "Draws an event's samples as an ASCII graph.", syntax: "event", acl: ["dangerous"]) { ctx in
                    let name = ctx.argv[2].string
                    guard let e = ctx.engine.latency.events[name] else {
                        ctx.error("ERR No samples available for event '\(name)'")
                        return
                    }
                    ctx.out.verbatim(graph(name, e, now: ctx.engine.now / 1000))
                },
                CommandSpec("doctor", arity: 2, flags: flags, group: .server, since: "2.8.13",
                            summary: "Describes the latency samples in words.", acl: ["dangerous"]) { ctx in
                    ctx.out.verbatim(doctor(ctx.engine))
                },
                CommandSpec("histogram", arity: -2, flags: flags, group: .server, since: "7.0.0",
                            summary: "Returns, per command, its calls and a cumulative histogram of their latency.",
                            complexity: "O(N) where N is the number of commands with latency information being retrieved.",
                            syntax: "[command [command ...]]", acl: ["dangerous"]) { ctx in
                    var chosen: [CommandSpec] = []
                    if ctx.argc == 2 {
                        chosen = ServerInfo.allSpecs(ctx.engine).filter { $0.latency.total > 0 }
                    } else {
                        for a in ctx.argv.dropFirst(2) {
                            // A name with '|' names a subcommand; a container names all its subcommands.
                            let parts = a.lowercased.string.split(separator: "|", maxSplits: 1).map(String.init)
                            guard let top = ctx.engine.table.lookup(Bytes(parts[0])) else { continue }
                            if parts.count == 2 {
                                if let sub = top.subcommands[parts[1]], sub.latency.total > 0 { chosen.append(sub) }
                            } else if !top.subcommands.isEmpty {
                                chosen += CommandIntrospection.sortedSubcommands(top).filter { $0.latency.total > 0 }
                            } else if top.latency.total > 0 {
                                chosen.append(top)
                            }
                        }
                    }
                    ctx.out.map(chosen.count)
                    for s in chosen {
                        ctx.out.bulk(s.fullName)
                        ctx.out.map(2)
                        ctx.out.bulk("calls")
                        ctx.out.integer(Int(s.latency.total))
                        ctx.out.bulk("histogram_usec")
                        let buckets = s.latency.cumulativeBuckets()
                        ctx.out.map(buckets.count)
                        for b in buckets {
                            ctx.out.integer(Int(b.micros))
                            ctx.out.integer(Int(b.count))
                        }
                    }
                },
            ]),
        ]
    }

    /// LATENCY GRAPH: the event's history as columns of `#` (one per sample, oldest first), scaled
    /// between its lowest and highest sample, with how long ago each was taken under it.
    static func graph(_ name: String, _ e: LatencyMonitor.Event, now: Int64) -> String {
        let samples = e.history
        let lo = samples.map(\.ms).min() ?? 0
        let hi = samples.map(\.ms).max() ?? 0
        var out = "\(name) - high \(hi) ms, low \(lo) ms (all time high \(e.max) ms)\n"
        out += String(repeating: "-", count: 80) + "\n"
        let rows = 4
        for r in stride(from: rows, to: 0, by: -1) {
            var line = ""
            for s in samples {
                let level = hi == lo ? rows : 1 + (s.ms - lo) * (rows - 1) / max(1, hi - lo)
                line += level >= r ? "#" : " "
            }
            out += line + "\n"
        }
        // Ages under the columns, written vertically: e.g. "12s" as 1, 2 and s on three lines.
        let ages = samples.map { age(now - $0.time) }
        let height = ages.map(\.count).max() ?? 0
        for i in 0..<height {
            out += String(ages.map { a in i < a.count ? a[a.index(a.startIndex, offsetBy: i)] : " " }) + "\n"
        }
        return out
    }

    private static func age(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86400 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    /// LATENCY DOCTOR: what the samples say, in words.
    static func doctor(_ e: Engine) -> String {
        let threshold = e.latencyThreshold
        if threshold <= 0 {
            return "Latency monitoring is disabled: no latency samples are collected. Enable it with \"CONFIG SET latency-monitor-threshold <milliseconds>\" (the slowest event worth recording).\n"
        }
        let m = e.latency
        if m.order.isEmpty {
            return "No event has taken \(threshold) ms or more since the latency monitor started (latency-monitor-threshold \(threshold) ms).\n"
        }
        var out = "Latency samples of at least \(threshold) ms, per event:\n\n"
        for (i, name) in m.order.enumerated() {
            let ev = m.events[name]!
            let avg = ev.history.isEmpty ? 0 : ev.history.map(\.ms).reduce(0, +) / ev.history.count
            out += "\(i + 1). \(name): \(ev.history.count) latency spikes (average \(avg) ms, highest \(ev.max) ms, latest \(ev.history.last?.ms ?? 0) ms).\n"
        }
        out += "\nAdvice:\n"
        if m.events["command"] != nil {
            out += "- Slow commands ran: SLOWLOG GET names them. Commands of O(N) cost on big values (KEYS, SMEMBERS, LRANGE of whole lists, SORT, long scripts) hold the server while they run.\n"
        }
        if m.events["fast-command"] != nil {
            out += "- Even O(1) or O(log N) commands were slow: the machine may be overloaded, swapping, or the process paused by its host.\n"
        }
        if m.events["expire-cycle"] != nil {
            out += "- Active expiry took long: many keys expiring at the same moment can cause this; spread their TTLs.\n"
        }
        return out
    }
}
