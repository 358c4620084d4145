#if canImport(Glibc)
import Glibc
#endif
import LunarRESP

/// Lua debugger support (`--ldb`, `--ldb-sync-mode`, and `SCRIPT DEBUG YES|SYNC` typed in the shell followed by
/// EVAL), behaving like redis-cli 7.0:
/// - while a session runs, replies are printed in raw form and the debugger's status lines are coloured when
///   TERM names an xterm;
/// - the status `<endsession>` ends the session: it prints nothing, output goes back to the standard (TTY) form,
///   and the shell then reads the EVAL reply and prints "(Lua debugging session ended...)";
/// - `restart` in the shell re-reads the script file and starts a new session on a fresh connection.
public struct LdbState {
    /// A debugging session is running (redis-cli's eval_ldb).
    public var active = false
    /// The session just ended; the EVAL reply is still to be read (eval_ldb_end).
    public var ended = false
    /// The next EVAL starts a session because the user typed SCRIPT DEBUG YES|SYNC (enable_ldb_on_eval).
    public var armedByUser = false
    /// The shell shows "lua debugger> " (set by the --ldb flow, dropped when the session ends).
    public var debuggerPrompt = false
    /// The shell asked for a new session (`restart`).
    public var restartRequested = false

    public init() {}
}

public enum LdbFormat {
    static let banner = "Lua debugging session started, please use:\n"
        + "quit    -- End the session.\n"
        + "restart -- Restart the script in debug mode again.\n"
        + "help    -- Show Lua script debugging commands.\n\n"

    /// TERM containing "xterm" turns colours on (redis-cli's rule).
    static var colorTerm: Bool {
        guard let t = getenv("TERM") else { return false }
        return String(cString: t).contains("xterm")
    }

    /// ANSI colour for one debugger status line, chosen by its tags and shape.
    /// Returns (bold, colour code).
    static func style(of line: ArraySlice<UInt8>) -> (Int, Int) {
        func has(_ tag: String) -> Bool { contains(line, Array(tag.utf8)) }
        var bold = 0, code = 37   // plain white
        if has("<debug>") { bold = 1; code = 37 }
        if has("<redis>") { bold = 0; code = 32 }
        if has("<reply>") { bold = 0; code = 36 }
        if has("<error>") { bold = 0; code = 31 }
        if has("<hint>") { bold = 1; code = 37 }
        if has("<value>") || has("<retval>") { bold = 0; code = 35 }
        let b = Array(line)
        if b.count > 4 && b[3] >= 48 && b[3] <= 57 {
            if b[1] == UInt8(ascii: ">") { bold = 0; code = 33 }            // "-> N": the current line
            else if b[2] == UInt8(ascii: "#") { bold = 1; code = 37 }       // "  #N": a breakpoint
        }
        return (bold, code)
    }

    static func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard needle.count <= hay.count else { return false }
        var i = hay.startIndex
        let last = hay.endIndex - needle.count
        while i <= last {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    static func colored(_ line: ArraySlice<UInt8>, into out: inout [UInt8]) {
        guard colorTerm else { out.append(contentsOf: line); return }
        let (bold, code) = style(of: line)
        out.append(contentsOf: Array("\u{1b}[\(bold);\(code);49m".utf8))
        out.append(contentsOf: line)
        out.append(contentsOf: Array("\u{1b}[0m".utf8))
    }
}

extension CLI {
    /// Switches the output form (the formatter follows).
    func setOutput(_ mode: OutputMode) {
        config.output = mode
        formatter.mode = mode
    }

    /// A command is about to be sent: SCRIPT DEBUG arms or disarms the debugger for the next EVAL, and an EVAL
    /// sent while armed starts a session (raw output from now on).
    func ldbBeforeSend(_ argv: [Bytes]) {
        if argv.count == 3 && argv[0].equalsIgnoringCase("script") && argv[1].equalsIgnoringCase("debug") {
            ldb.armedByUser = argv[2].equalsIgnoringCase("yes") || argv[2].equalsIgnoringCase("sync")
        }
        if argv[0].equalsIgnoringCase("eval") && ldb.armedByUser {
            ldb.active = true
            setOutput(.raw)
        }
    }

    /// Raw formatting during a session: status lines are debugger output (coloured); `<endsession>` ends it.
    func formatLdb(_ r: Reply, into out: inout [UInt8]) throws {
        switch r {
        case let .status(s) where ldb.active:
            let text = ReplyFormatter.cString(s)
            if text.starts(with: Array("<endsession>".utf8)) {
                ldb.armedByUser = false
                ldb.active = false
                ldb.ended = true
                ldb.debuggerPrompt = false
                setOutput(.standard)
            } else {
                LdbFormat.colored(s.raw[...], into: &out)
            }
        case .array(let els), .push(let els), .set(let els):
            for (i, e) in els.enumerated() {
                if i > 0 { out.append(contentsOf: config.bulkDelimiter) }
                try formatLdb(e, into: &out)
            }
        case .map(let els):
            var i = 0
            while i + 1 < els.count {
                if i > 0 { out.append(contentsOf: config.bulkDelimiter) }
                try formatLdb(els[i], into: &out)
                out.append(32)
                try formatLdb(els[i + 1], into: &out)
                i += 2
            }
        default:
            try ReplyFormatter.raw(r, &out, config.bulkDelimiter)
        }
    }

    /// After the session ended: read the EVAL reply, print it in the standard form and say the session is over.
    func finishLdbSession() {
        guard ldb.ended else { return }
        ldb.ended = false
        if let c = conn {
            do {
                let reply = try readWithSpinner(c)
                try printReply(reply, raw: false)
            } catch {
                Out.flush()
                Out.err("Error: \(error)\n")
                conn?.close()
                conn = nil
            }
        }
        Out.write("\n(Lua debugging session ended\(config.evalLdbSync ? "" : " -- dataset changes rolled back"))\n\n")
        Out.flush()
    }
}

extension Modes {
    /// `--ldb` / `--ldb-sync-mode` with `--eval`: debug the script in the shell; `restart` starts over.
    public static func evalDebug(_ cli: CLI, file: String, args: [String]) -> Int32 {
        var shell: Shell? = nil
        while true {
            if cli.ldb.active { Out.write(LdbFormat.banner) }
            guard let script = readFile(file) else {
                Out.flush()
                Out.err("Can't open file '\(file)': \(String(cString: strerror(errno)))\n")
                return 1
            }
            if cli.ldb.active, let c = cli.conn {
                // Its reply does not matter: a refusal shows up as the EVAL's reply.
                _ = try? c.call(["SCRIPT", "DEBUG", cli.config.evalLdbSync ? "sync" : "yes"])
            }
            let cmd = Modes.evalCommand(script: script, args: args)
            let debugging = cli.ldb.active
            let ok = cli.issueCommand(cmd, repeat: 1)
            guard debugging else { return ok ? 0 : 1 }
            if !cli.ldb.active {
                // The session ended at once: the script did not compile. Show why; no shell.
                cli.ldb.ended = false
                Out.write("Eval debugging session can't start:\n")
                if let c = cli.conn, let reply = try? cli.readWithSpinner(c) {
                    _ = try? cli.printReply(reply, raw: false)
                }
                Out.flush()
                return ok ? 0 : 1
            }
            cli.ldb.debuggerPrompt = true
            if shell == nil { shell = Shell(cli: cli) }
            let code = shell!.run()
            if !cli.ldb.restartRequested { return code }
            cli.ldb.restartRequested = false
            cli.connect(force: true)
            Out.write("\n")
        }
    }
}
