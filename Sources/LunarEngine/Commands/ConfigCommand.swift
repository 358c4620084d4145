import Foundation
import LunarRESP

/// CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
enum ConfigCommand {
    static var subcommands: [CommandSpec] {
        let admin: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "5.0.0", summary: "Lists the CONFIG subcommands.") { ctx in
                ConnectionCommands.help(ctx, "CONFIG", [
                    ("GET <pattern>", "Returns the parameters whose names match the glob-style <pattern>, with their values."),
                    ("SET <directive> <value> [<directive> <value> ...]", "Changes parameters; either all of them change or none does."),
                    ("RESETSTAT", "Zeroes the statistics that INFO reports."),
                    ("REWRITE", "Writes the running configuration back to the configuration file."),
                ])
            },
            CommandSpec("get", arity: -3, flags: admin, group: .server, since: "2.0.0", summary: "Returns configuration parameters matching glob patterns, with their values.", complexity: "O(N) when N is the number of configuration parameters provided", syntax: "parameter [parameter ...]", handler: get),
            CommandSpec("set", arity: -4, flags: admin, group: .server, since: "2.0.0", summary: "Changes configuration parameters at run time, all or none.", complexity: "O(N) when N is the number of configuration parameters provided", syntax: "parameter value [parameter value ...]", handler: set),
            CommandSpec("resetstat", arity: 2, flags: admin, group: .server, since: "2.0.0", summary: "Zeroes the statistics reported by INFO.") { ctx in
                resetStats(ctx.engine)
                ctx.ok()
            },
            CommandSpec("rewrite", arity: 2, flags: admin, group: .server, since: "2.8.0", summary: "Writes the running configuration back to the configuration file.", handler: rewrite),
        ]
    }

    static func get(_ ctx: CommandContext) {
        let config = ctx.engine.config
        var seen = Set<String>()
        var pairs: [(String, String)] = []
        for i in 2..<ctx.argc {
            let pattern = ctx.argv[i]
            let hasGlob = pattern.raw.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
            if !hasGlob {
                let name = pattern.string
                if seen.contains(name) { continue }
                if let v = config.shown(name) {
                    seen.insert(name)
                    pairs.append((name, v))
                }
                continue
            }
            for (name, v) in config.matching(pattern) where !seen.contains(name) {
                seen.insert(name)
                pairs.append((name, v))
            }
        }
        ctx.out.map(pairs.count)
        for (k, v) in pairs {
            ctx.out.bulk(k)
            ctx.out.bulk(v)
        }
    }

    static func set(_ ctx: CommandContext) {
        if ctx.argc % 2 != 0 { ctx.syntaxError(); return }
        let config = ctx.engine.config
        var names: [String] = []
        var given: [Bytes] = []
        var values: [String] = []
        var i = 2
        while i < ctx.argc {
            let raw = ctx.argv[i]
            guard let name = config.canonicalName(raw.string), let p = config.params[name] else {
                ctx.error(quoting: "ERR Unknown option or number of arguments for CONFIG SET - '\(quoted: raw)'")
                return
            }
            if p.immutable {
                ctx.error(quoting: "ERR CONFIG SET failed (possibly related to argument '\(quoted: raw)') - can't set immutable config")
                return
            }
            if names.contains(name) {
                ctx.error(quoting: "ERR CONFIG SET failed (possibly related to argument '\(quoted: raw)') - duplicate parameter")
                return
            }
            names.append(name)
            given.append(raw)
            values.append(ctx.argv[i + 1].string)
            i += 2
        }
        // All or nothing: on the first refusal, every value already applied goes back.
        let old = names.map { config.get($0) ?? "" }
        for (j, name) in names.enumerated() {
            let value = (name == "save" && values[j].isEmpty) ? "" : values[j]
            if let err = config.set(name, value) {
                for k in 0..<j { config.set(names[k], old[k], startup: true) }
                ctx.error(quoting: "ERR CONFIG SET failed (possibly related to argument '\(quoted: given[j])') - \(err)")
                return
            }
        }
        // Then the parameters that act on the outside (listeners): the first failure puts every value
        // back and re-applies the ones already applied, as Redis rolls back.
        var applied: [String] = []
        for (j, name) in names.enumerated() {
            guard let apply = config.appliers[name], config.get(name) != old[j] else { continue }
            if let err = apply() {
                for k in 0..<names.count { config.set(names[k], old[k], startup: true) }
                for a in applied { _ = config.appliers[a]?() }
                ctx.error(quoting: "ERR CONFIG SET failed (possibly related to argument '\(quoted: given[j])') - \(err)")
                return
            }
            applied.append(name)
        }
        // Redis keeps hz within 1…500 whatever was asked.
        if names.contains("hz") { config.set("hz", String(min(500, max(1, config.int("hz"))))) }
        ctx.ok()
    }

    static func resetStats(_ engine: Engine) {
        let start = engine.stats.startTime
        engine.stats = EngineStats()
        engine.stats.startTime = start
        if let io = engine.ioCounters?() { engine.stats.ioBase = io }
        engine.stats.lazyfreedBase = engine.lazyFree.freed.load(ordering: .relaxed)
        for s in ServerInfo.allSpecs(engine) {
            s.statCalls = 0
            s.statMicros = 0
            s.statRejected = 0
            s.statFailed = 0
            s.latency = LatencyHistogram()
        }
        ServerState.of(engine).resetRates()
    }

    /// Rewrites the config file: lines of known directives get the current value (first occurrence;
    /// later duplicates are dropped), other lines are kept, and parameters that differ from their
    /// default but were not in the file are appended.
    static func rewrite(_ ctx: CommandContext) {
        let config = ctx.engine.config
        guard let path = config.configFile else { ctx.error("ERR The server is running without a config file"); return }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var written = Set<String>()
        var out: [String] = []
        // ACL users, as Redis 7.0 rewrites them: every user (default included) as a `user` line, in
        // the place of the file's `user` lines, the rest appended; none when an ACL file holds them.
        var users = ctx.engine.aclFilePath == nil ? ctx.engine.acl.userLines().map(\.string) : []
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { out.append(line); continue }
            let word = String(trimmed.prefix { $0 != " " && $0 != "\t" }).lowercased()
            if word == "user" {
                if !users.isEmpty { out.append(users.removeFirst()) }
                continue
            }
            guard let name = config.canonicalName(word) else { out.append(line); continue }
            if written.contains(name) { continue }
            written.insert(name)
            out.append(directive(name, config.shown(name) ?? ""))
        }
        var appended = false
        for name in config.params.keys.sorted() where !written.contains(name) {
            guard let p = config.params[name], let v = config.shown(name) else { continue }
            let def = defaultValue(config, p)
            if v == def { continue }
            if !appended {
                out.append("# Generated by CONFIG REWRITE")
                appended = true
            }
            out.append(directive(name, v))
        }
        for line in users {
            if !appended {
                out.append("# Generated by CONFIG REWRITE")
                appended = true
            }
            out.append(line)
        }
        let body = out.joined(separator: "\n") + "\n"
        let tmp = path + ".tmp-\(getpid())"
        do {
            try body.write(toFile: tmp, atomically: false, encoding: .utf8)
            if rename(tmp, path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            ctx.engine.logger.warning("CONFIG REWRITE failed: \(error)")
            ctx.error("ERR Rewriting config file: \(String(cString: strerror(errno)))")
            return
        }
        ctx.ok()
    }

    /// The canonical form of a parameter's default (memory values in bytes…).
    private static func defaultValue(_ config: ConfigStore, _ p: ConfigParam) -> String {
        let probe = ConfigStore([p])
        return probe.get(p.name) ?? p.defaultValue
    }

    private static func directive(_ name: String, _ value: String) -> String {
        if name == "save" && value.isEmpty { return "save \"\"" }
        return name + " " + quote(value)
    }

    private static func quote(_ v: String) -> String {
        if v.isEmpty { return "\"\"" }
        if v.contains(where: { $0 == "\"" || $0 == "'" || $0 == "\\" || $0 == "\n" || $0 == "#" }) || (v.contains(" ") && !isList(v)) {
            var s = "\""
            for ch in v {
                switch ch {
                case "\"": s += "\\\""
                case "\\": s += "\\\\"
                case "\n": s += "\\n"
                default: s.append(ch)
                }
            }
            return s + "\""
        }
        return v
    }

    /// Space-separated lists (bind, save) are written unquoted, as redis.conf does.
    private static func isList(_ v: String) -> Bool {
        !v.contains(where: { $0 == "\"" || $0 == "'" })
    }
}
