import LunarRESP

/// Command help built from the server's own COMMAND DOCS (like redis-cli 7.0), used by `help` and hints.
public struct HelpEntry {
    public var words: [String]         // upper-cased: ["CONFIG", "GET"]
    public var full: String            // "CONFIG GET"
    public var params: String
    public var summary: String
    public var since: String
    public var group: String
}

public final class HelpTable {
    public private(set) var entries: [HelpEntry] = []
    public private(set) var groups: [String] = []
    public var loaded: Bool { !entries.isEmpty }

    public init() {}

    /// Loads COMMAND DOCS from the server; falls back to COMMAND (names and arity) for older servers.
    public func load(from conn: Connection) {
        guard let docs = try? conn.call(["COMMAND", "DOCS"]), !docs.isError, let els = docs.elements, !els.isEmpty else {
            loadLegacy(from: conn)
            return
        }
        var out: [HelpEntry] = []
        var i = 0
        while i + 1 < els.count {
            if let name = els[i].text { add(name: name, sub: nil, doc: els[i + 1], into: &out) }
            i += 2
        }
        finish(out)
    }

    func add(name: String, sub: String?, doc: Reply, into out: inout [HelpEntry]) {
        var words = [name.uppercased()]
        if let s = sub {
            let subName = s.split(separator: "|").last.map(String.init) ?? s
            words.append(subName.uppercased())
        }
        var e = HelpEntry(words: words, full: words.joined(separator: " "), params: "", summary: doc["summary"]?.text ?? "",
                          since: doc["since"]?.text ?? "", group: doc["group"]?.text ?? "")
        if let args = doc["arguments"]?.elements {
            e.params = Self.hint(for: args)
        }
        out.append(e)
        if let subs = doc["subcommands"] {
            for (k, v) in subs.pairs {
                if let sn = k.text { add(name: name, sub: sn, doc: v, into: &out) }
            }
        }
    }

    func finish(_ list: [HelpEntry]) {
        entries = list.sorted { Array($0.full.utf8).lexicographicallyPrecedes(Array($1.full.utf8)) }
        var seen = Set<String>()
        groups = []
        for e in entries where !e.group.isEmpty && !seen.contains(e.group) {
            seen.insert(e.group)
            groups.append(e.group)
        }
        groups.sort()
    }

    func loadLegacy(from conn: Connection) {
        guard let r = try? conn.call(["COMMAND"]), let cmds = r.elements else { return }
        var out: [HelpEntry] = []
        for c in cmds {
            guard let e = c.elements, e.count >= 4, let name = e[0].text, case let .integer(arity) = e[1] else { continue }
            var params = ""
            var n = abs(Int(arity)) - 1
            if case let .integer(first) = e[3], first == 1 { params += "key "; n -= 1 }
            while n > 0 { params += "arg "; n -= 1 }
            if arity < 0 { params += "...options..." }
            out.append(HelpEntry(words: [name.uppercased()], full: name.uppercased(), params: params,
                                 summary: "Help not available", since: "Not known", group: "generic"))
        }
        finish(out)
    }

    /// Renders an argument list as a syntax line, e.g. `key value [NX|XX] [GET]`.
    static func hint(for args: [Reply]) -> String {
        args.map { argText($0) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func argText(_ a: Reply) -> String {
        let name = a["display_text"]?.text ?? a["name"]?.text ?? ""
        let type = a["type"]?.text ?? "string"
        let token = a["token"]?.text
        let flags = Set((a["flags"]?.elements ?? []).compactMap { $0.text })
        let subs = a["arguments"]?.elements ?? []
        var core: String
        switch type {
        case "pure-token": core = token ?? name
        case "oneof": core = subs.map { argText($0) }.joined(separator: "|")
        case "block": core = subs.map { argText($0) }.joined(separator: " ")
        default: core = name
        }
        var one = core
        if type != "pure-token", let t = token {
            one = t.isEmpty ? "\"\" " + core : t + " " + core
        }
        if flags.contains("multiple") {
            let again = flags.contains("multiple_token") ? one : core
            one = one + " [" + again + " ...]"
        }
        if flags.contains("optional") { one = "[" + one + "]" }
        return one
    }

    // MARK: output

    public func commandHelp(_ e: HelpEntry, withGroup: Bool) -> String {
        var s = "\r\n  \u{1b}[1m\(e.full)\u{1b}[0m \u{1b}[90m\(e.params)\u{1b}[0m\r\n"
        s += "  \u{1b}[33msummary:\u{1b}[0m \(e.summary)\r\n"
        s += "  \u{1b}[33msince:\u{1b}[0m \(e.since)\r\n"
        if withGroup { s += "  \u{1b}[33mgroup:\u{1b}[0m \(e.group)\r\n" }
        return s
    }

    public static func genericHelp() -> String {
        """
        lunar-cli \(lunarCLIVersion)
        To get help about commands type:
              "help @<group>" to get a list of commands in <group>
              "help <command>" for help on <command>
              "help <tab>" to get a list of possible help topics
              "quit" to exit

        To set lunar-cli preferences:
              ":set hints" enable online hints
              ":set nohints" disable online hints

        """
    }

    /// The text for `help ARGS...`.
    public func help(_ args: [String]) -> String {
        if args.isEmpty { return Self.genericHelp() }
        var out = ""
        if args[0].hasPrefix("@") {
            let g = String(args[0].dropFirst()).lowercased()
            for e in entries where e.group.lowercased() == g { out += commandHelp(e, withGroup: false) }
        } else {
            let want = args.map { $0.uppercased() }
            for e in entries where e.words == want { out += commandHelp(e, withGroup: true) }
        }
        return out + "\r\n"
    }

    /// The hint shown after what the user typed, or nil.
    public func hint(for line: String) -> String? {
        guard let argv = splitArguments(Array(line.utf8)), !argv.isEmpty else { return nil }
        let words = argv.map { $0.string.uppercased() }
        let endSpace = line.last == " " || line.last == "\t"
        // Prefer a subcommand entry ("CONFIG GET") when the user typed both words.
        var match: HelpEntry?
        if words.count >= 2, let e = entries.first(where: { $0.words.count == 2 && $0.words == Array(words.prefix(2)) }) {
            match = e
        } else if let e = entries.first(where: { $0.words.count == 1 && $0.words[0] == words[0] }) {
            match = e
        }
        guard let e = match else { return nil }
        var hint = Substring(e.params)
        var toRemove = words.count - e.words.count
        while toRemove > 0, let c = hint.first {
            if c == "[" { break }
            if c == " " { toRemove -= 1 }
            hint = hint.dropFirst()
        }
        if toRemove > 0 && !hint.hasPrefix("[") { hint = "" }
        return endSpace ? String(hint) : " " + hint
    }

    /// Completions for Tab: command names (and help topics after `help `).
    public func complete(_ line: String) -> [String] {
        let lower = line.lowercased()
        if lower.hasPrefix("help ") {
            let rest = String(line.dropFirst(5)).drop { $0 == " " }
            let topics = groups.map { "@" + $0 } + entries.map { $0.full }
            return topics.filter { $0.lowercased().hasPrefix(rest.lowercased()) }.map { "help " + $0 }
        }
        return entries.filter { $0.full.lowercased().hasPrefix(lower) }.map { $0.full }
    }
}
