#if canImport(Glibc)
import Glibc
#endif
import LunarRESP

nonisolated(unsafe) var shellWaitingForReply: Int32 = 0

/// The interactive shell (REPL).
public final class Shell {
    let cli: CLI
    let editor = LineEditor()
    let help = HelpTable()
    var hintsEnabled = true
    var historyPath: String?
    var interrupted = false

    public init(cli: CLI) { self.cli = cli }

    var prompt: String {
        if cli.conn == nil { return "not connected> " }
        if cli.ldb.debuggerPrompt { return "lua debugger> " }
        var p = cli.config.socketPath.map { "lunar \($0)" } ?? formatAddr(cli.config.host, cli.config.port)
        if cli.config.dbnum != 0 { p += "[\(cli.config.dbnum)]" }
        if cli.inMulti { p += "(TX)" }
        return p + "> "
    }

    func formatAddr(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    func ensureHelp() {
        if !help.loaded, let c = cli.conn { help.load(from: c) }
    }

    var setUp = false

    public func run() -> Int32 {
        let tty = LineEditor.stdinIsTTY
        cli.interactive = true
        if tty && !setUp {
            setUp = true
            if let env = getenv("LUNARCLI_HISTFILE") {
                let p = String(cString: env)
                historyPath = (p.isEmpty || p == "/dev/null") ? nil : p
            } else if let home = getenv("HOME") {
                historyPath = String(cString: home) + "/.lunarcli_history"
            }
            if let h = historyPath { editor.loadHistory(h) }
            editor.hints = { [weak self] line in
                guard let self, self.hintsEnabled else { return nil }
                self.ensureHelp()
                return self.help.hint(for: line)
            }
            editor.completions = { [weak self] line in
                guard let self else { return [] }
                self.ensureHelp()
                return self.help.complete(line)
            }
            // Ctrl-C while waiting for a reply interrupts the wait instead of killing the shell.
            cli.enableSpinner()
        }
        while true {
            let result = editor.readLine(prompt: prompt)
            switch result {
            case .eof, .interrupted: return 0
            case let .line(line):
                let trimmed = line.trimmingSpaces
                if trimmed.isEmpty { continue }
                guard let args = splitArguments(Array(line.utf8)) else {
                    Out.write("Invalid argument(s)\n")
                    Out.flush()
                    continue
                }
                let firstWord = args.first?.lowercased.string ?? ""
                if firstWord == "quit" || firstWord == "exit" { return 0 }
                if tty {
                    if !Self.isSensitive(args) {
                        editor.addHistory(line)
                        if let h = historyPath { editor.saveHistory(h) }
                    }
                }
                if args.isEmpty { continue }
                let first = args[0].string.lowercased()
                if first == "quit" || first == "exit" { return 0 }
                if first == ":set" && args.count == 2 {
                    let what = args[1].string.lowercased()
                    if what == "hints" { hintsEnabled = true } else if what == "nohints" { hintsEnabled = false }
                    continue
                }
                if first == "restart" {
                    // Only meaningful in a --ldb session: start the script over in a new session.
                    if cli.config.evalFile != nil {
                        cli.ldb.active = true
                        cli.setOutput(.raw)
                        cli.ldb.restartRequested = true
                        return 0
                    }
                    Out.write("Use 'restart' only in Lua debugging mode.\n")
                    Out.flush()
                    continue
                }
                if first == "clear" && args.count == 1 {
                    Out.write("\u{1b}[H\u{1b}[2J"); Out.flush(); continue
                }
                if first == "connect" && (args.count == 2 || args.count == 3) {
                    cli.config.host = args[1].string
                    if args.count == 3 { cli.config.port = atoiLike(args[2].string) }
                    cli.config.socketPath = nil
                    cli.config.dbnum = 0
                    cli.connect(force: true)
                    continue
                }
                if (first == "help" || first == "?") && !cli.ldb.active {  // the debugger has its own help
                    if cli.conn == nil { cli.connect(force: true, quiet: true) }
                    ensureHelp()
                    Out.write(help.help(args.dropFirst().map { $0.string }))
                    Out.flush()
                    continue
                }
                // "N command" repeats the command N times.
                var repeatCount = 1
                var cmd = args
                if args.count > 1, let n = Int(args[0].string), n > 0 {
                    repeatCount = n
                    cmd = Array(args.dropFirst())
                }
                let start = monotonicSeconds()
                interrupted = false
                execute(cmd, repeat: repeatCount)
                cli.finishLdbSession()
                let elapsed = monotonicSeconds() - start
                if elapsed >= 0.5 && cli.config.output == .standard && !interrupted {
                    Out.write("(\(Modes.fmt2(elapsed))s)\n")
                }
                Out.flush()
            }
        }
    }

    /// Runs a command; reconnects once if the server went away (e.g. it restarted) and retries.
    func execute(_ argv: [Bytes], repeat repeatN: Int) {
        Connection.interrupted = 0
        if cli.conn == nil {
            if !cli.connect(force: true) { return }
            help.reset()
        }
        let wasConnected = cli.conn != nil
        cli.quietConnectionErrors = true
        let ok = cli.issueCommand(argv, repeat: repeatN)
        cli.quietConnectionErrors = false
        if ok {
            if cli.conn == nil && !cli.shutdownSent {
                Out.err("(interrupted)\n")
                interrupted = true
                cli.killRunningScript(argv)
                if cli.conn == nil { cli.connect(force: true, quiet: true) }
            }
            cli.shutdownSent = false
            return
        }
        if wasConnected {
            // The connection was lost: the server may have restarted. Reconnect and retry once.
            if cli.connect(force: true, quiet: false) {
                _ = cli.issueCommand(argv, repeat: repeatN)
            }
        }
    }

    static func isSensitive(_ args: [Bytes]) -> Bool {
        guard let first = args.first?.lowercased.string else { return false }
        if first == "auth" { return true }
        if first == "hello" && args.contains(where: { $0.lowercased.string == "auth" }) { return true }
        if first == "acl" && args.count > 1 && args[1].lowercased.string == "setuser" { return true }
        if first == "config" && args.count > 1 && args[1].lowercased.string == "set"
            && args.contains(where: { $0.lowercased.string.contains("pass") }) { return true }
        return false
    }
}

extension HelpTable {
    func reset() {}
}

extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
