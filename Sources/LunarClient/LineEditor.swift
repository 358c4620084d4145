#if canImport(Glibc)
import Glibc
#endif

/// A small line editor for the interactive shell: raw terminal mode, cursor movement, history and hints.
/// Keys: Left/Right, Home/End, Ctrl-A/E, Backspace, Delete, Ctrl-D (delete or EOF), Ctrl-U, Ctrl-K, Ctrl-W,
/// Ctrl-L (clear screen), Up/Down and Ctrl-P/N (history), Tab (completion), Ctrl-C (quit, as in redis-cli).
public final class LineEditor {
    public enum Result { case line(String), interrupted, eof }

    public var history: [String] = []
    public var maxHistory = 1000
    /// Returns a hint to show after the text (gray), or nil.
    public var hints: ((String) -> String?)?
    /// Returns completions for the text.
    public var completions: ((String) -> [String])?

    var saved = termios()

    public init() {}

    public static var stdinIsTTY: Bool { isatty(0) != 0 }

    func enableRaw() -> Bool {
        guard tcgetattr(0, &saved) == 0 else { return false }
        var raw = saved
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_oflag &= ~tcflag_t(OPOST)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        return tcsetattr(0, TCSAFLUSH, &raw) == 0
    }

    func disableRaw() { _ = tcsetattr(0, TCSAFLUSH, &saved) }

    func write(_ s: String) {
        let b = Array(s.utf8)
        var off = 0
        while off < b.count {
            let n = b.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + off, b.count - off) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    /// Terminal width (80 when unknown).
    static func columns() -> Int {
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    func readByte() -> UInt8? {
        var c: UInt8 = 0
        while true {
            let n = read(0, &c, 1)
            if n == 1 { return c }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Reads a line without a terminal (piped input): no prompt, no editing.
    func readPlainLine() -> Result {
        var bytes: [UInt8] = []
        while let c = readByte() {
            if c == 10 { return .line(String(decoding: bytes, as: UTF8.self)) }
            bytes.append(c)
        }
        return bytes.isEmpty ? .eof : .line(String(decoding: bytes, as: UTF8.self))
    }

    public func addHistory(_ line: String) {
        guard !line.isEmpty, history.last != line else { return }
        history.append(line)
        if history.count > maxHistory { history.removeFirst(history.count - maxHistory) }
    }

    public func readLine(prompt: String) -> Result {
        guard Self.stdinIsTTY else { return readPlainLine() }
        guard enableRaw() else {
            write(prompt)
            return readPlainLine()
        }
        defer { disableRaw() }
        var buf: [Character] = []
        var pos = 0
        var histIndex = history.count
        var pending = ""   // the edited line while browsing history
        let promptWidth = prompt.count

        func refresh(showHint: Bool = true) {
            var s = "\r" + prompt + String(buf)
            if showHint, var h = hints?(String(buf)), !h.isEmpty {
                // Like linenoise, cut the hint at the right edge of the terminal.
                let room = Self.columns() - promptWidth - buf.count
                if h.count > room { h = String(h.prefix(max(0, room))) }
                if !h.isEmpty { s += "\u{1b}[0;90;49m" + h + "\u{1b}[0m" }
            }
            s += "\u{1b}[0K\r"
            let col = promptWidth + pos
            if col > 0 { s += "\u{1b}[\(col)C" }
            write(s)
        }
        func setLine(_ s: String) { buf = Array(s); pos = buf.count }

        write(prompt)
        var utf8Pending: [UInt8] = []
        while true {
            guard let c = readByte() else { return .eof }
            switch c {
            case 13, 10:  // Enter
                refresh(showHint: false)
                write("\r\n")
                return .line(String(buf))
            case 3:  // Ctrl-C: like redis-cli, leaves the shell
                write("\r\n")
                return .interrupted
            case 4:  // Ctrl-D
                if buf.isEmpty { write("\r\n"); return .eof }
                if pos < buf.count { buf.remove(at: pos); refresh() }
            case 127, 8:  // Backspace
                if pos > 0 { buf.remove(at: pos - 1); pos -= 1; refresh() }
            case 1: pos = 0; refresh()                    // Ctrl-A
            case 5: pos = buf.count; refresh()            // Ctrl-E
            case 2: if pos > 0 { pos -= 1; refresh() }    // Ctrl-B
            case 6: if pos < buf.count { pos += 1; refresh() }  // Ctrl-F
            case 21: buf.removeSubrange(0..<pos); pos = 0; refresh()   // Ctrl-U
            case 11: buf.removeSubrange(pos..<buf.count); refresh()     // Ctrl-K
            case 23:  // Ctrl-W: delete the previous word
                var p = pos
                while p > 0 && buf[p - 1] == " " { p -= 1 }
                while p > 0 && buf[p - 1] != " " { p -= 1 }
                buf.removeSubrange(p..<pos); pos = p; refresh()
            case 12: write("\u{1b}[H\u{1b}[2J"); refresh()  // Ctrl-L
            case 16: histIndex = moveHistory(-1, histIndex, &pending, setLine); refresh()  // Ctrl-P
            case 14: histIndex = moveHistory(1, histIndex, &pending, setLine); refresh()   // Ctrl-N
            case 9:  // Tab
                if let comps = completions?(String(buf)), let first = comps.first {
                    if comps.count == 1 { setLine(first) } else {
                        // Complete the longest common prefix.
                        var common = Array(first)
                        for cand in comps.dropFirst() {
                            let a = Array(cand)
                            var n = 0
                            while n < common.count && n < a.count && common[n].lowercased() == a[n].lowercased() { n += 1 }
                            common = Array(common[0..<n])
                        }
                        if common.count > buf.count { setLine(String(common)) } else { write("\u{07}") }
                    }
                    refresh()
                }
            case 27:  // escape sequences
                guard let a = readByte() else { return .eof }
                if a == UInt8(ascii: "[") {
                    guard let b = readByte() else { return .eof }
                    if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                        guard let t = readByte() else { return .eof }
                        if t == UInt8(ascii: "~") {
                            switch b {
                            case UInt8(ascii: "3"): if pos < buf.count { buf.remove(at: pos); refresh() }
                            case UInt8(ascii: "1"), UInt8(ascii: "7"): pos = 0; refresh()
                            case UInt8(ascii: "4"), UInt8(ascii: "8"): pos = buf.count; refresh()
                            default: break
                            }
                        }
                    } else {
                        switch b {
                        case UInt8(ascii: "A"): histIndex = moveHistory(-1, histIndex, &pending, setLine); refresh()
                        case UInt8(ascii: "B"): histIndex = moveHistory(1, histIndex, &pending, setLine); refresh()
                        case UInt8(ascii: "C"): if pos < buf.count { pos += 1; refresh() }
                        case UInt8(ascii: "D"): if pos > 0 { pos -= 1; refresh() }
                        case UInt8(ascii: "H"): pos = 0; refresh()
                        case UInt8(ascii: "F"): pos = buf.count; refresh()
                        default: break
                        }
                    }
                } else if a == UInt8(ascii: "O") {
                    guard let b = readByte() else { return .eof }
                    if b == UInt8(ascii: "H") { pos = 0; refresh() }
                    if b == UInt8(ascii: "F") { pos = buf.count; refresh() }
                }
            default:
                if c < 32 { break }
                utf8Pending.append(c)
                // Wait for a whole UTF-8 sequence before inserting it.
                let lead = utf8Pending[0]
                let need = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
                if utf8Pending.count < need { continue }
                let s = String(decoding: utf8Pending, as: UTF8.self)
                utf8Pending.removeAll()
                for ch in s { buf.insert(ch, at: pos); pos += 1 }
                refresh()
            }
        }
    }

    func moveHistory(_ dir: Int, _ idx: Int, _ pending: inout String, _ set: (String) -> Void) -> Int {
        let n = idx + dir
        guard n >= 0 && n <= history.count else { return idx }
        if idx == history.count { pending = "" }
        set(n == history.count ? pending : history[n])
        return n
    }

    // MARK: history file

    public func loadHistory(_ path: String) {
        guard let f = fopen(path, "r") else { return }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        while getline(&line, &cap, f) > 0 {
            var s = String(cString: line!)
            while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
            addHistory(s)
        }
        free(line)
    }

    public func saveHistory(_ path: String) {
        guard let f = fopen(path, "w") else { return }
        defer { fclose(f) }
        _ = fchmod(fileno(f), 0o600)
        for h in history { fputs(h + "\n", f) }
    }
}
