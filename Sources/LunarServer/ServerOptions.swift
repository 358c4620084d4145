import Foundation
import LunarEngine
import LunarRESP

/// Parses `lunar-server [config-file] [--option value …]` as redis-server does: the file first,
/// then each `--name value…` applied on top (a later one wins). Errors are worded like Redis's.
public enum ServerOptions {
    public static func load(arguments: [String], into config: ConfigStore) throws {
        var args = arguments
        var lines: [(String, Int, String)] = []   // (text, line number, source)
        if let first = args.first, !first.hasPrefix("--") {
            args.removeFirst()
            config.configFile = first.hasPrefix("/") ? first : FileManager.default.currentDirectoryPath + "/" + first
            guard let text = try? String(contentsOfFile: first, encoding: .utf8) else {
                throw StartupError("Fatal error, can't open config file '\(first)': No such file or directory")
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                lines.append((String(line), n + 1, first))
            }
        }
        // Command-line options become config lines, as redis-server does.
        var cur: [String] = []
        for a in args {
            if a.hasPrefix("--") && a.count > 2 {
                if !cur.isEmpty { lines.append((quoteJoin(cur), 0, "command line")) }
                cur = [String(a.dropFirst(2))]
            } else {
                if cur.isEmpty { throw StartupError("Invalid argument '\(a)': options must start with --") }
                cur.append(a)
            }
        }
        if !cur.isEmpty { lines.append((quoteJoin(cur), 0, "command line")) }

        var savePointsSeen = false
        for (line, n, source) in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let parts = splitArguments(Array(trimmed.utf8)), !parts.isEmpty else {
                throw configError(line, n, source, "Unbalanced quotes in configuration line")
            }
            let name = parts[0].string.lowercased()
            let values = parts.dropFirst().map(\.string)
            if name == "include" { continue }
            if name == "user" {
                guard parts.count >= 2 else { throw configError(line, n, source, "Bad directive or wrong number of arguments") }
                config.userDirectives.append((args: Array(parts), line: line, number: n, source: source))
                continue
            }
            guard config.canonicalName(name) != nil else {
                throw configError(line, n, source, "Bad directive or wrong number of arguments")
            }
            var value: String
            if name == "save" && values.count == 1 && values[0].isEmpty {
                value = ""
            } else {
                value = values.joined(separator: " ")
            }
            // As in redis.conf, several `save` lines add up (the first one replaces the default).
            if name == "save" {
                let current = config.string("save")
                if savePointsSeen && !value.isEmpty && !current.isEmpty { value = current + " " + value }
                savePointsSeen = true
            }
            if let err = config.set(name, value, startup: true) {
                throw configError(line, n, source, err)
            }
        }
    }

    private static func quoteJoin(_ parts: [String]) -> String {
        parts.map { p in
            if p.isEmpty { return "\"\"" }
            if p.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" }) {
                return "\"" + p.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            return p
        }.joined(separator: " ")
    }

    static func configError(_ line: String, _ n: Int, _ source: String, _ msg: String) -> StartupError {
        StartupError("""

        *** FATAL CONFIG FILE ERROR (Lunar, Redis 7.0.15 compatible) ***
        Reading the configuration file, at line \(n) (\(source))
        >>> '\(line.trimmingCharacters(in: .whitespaces))'
        \(msg)
        """)
    }
}
