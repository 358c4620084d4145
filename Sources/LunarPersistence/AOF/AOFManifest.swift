import Foundation

/// The manifest of a multi-part append-only file (Redis 7's format): which files make up the AOF.
///
///     file appendonly.aof.3.base.rdb seq 3 type b
///     file appendonly.aof.2.incr.aof seq 2 type h
///     file appendonly.aof.3.incr.aof seq 3 type i
///
/// One base (`b`: an RDB image, or commands), the incremental files (`i`: commands appended since
/// the base was written, oldest first) and history files (`h`: replaced by a rewrite, about to be deleted).
struct AOFManifest: Equatable {
    enum Kind: String { case base = "b", history = "h", incr = "i" }

    struct Entry: Equatable {
        var name: String
        var seq: Int
        var kind: Kind
    }

    var base: Entry?
    var incrs: [Entry] = []
    var history: [Entry] = []

    /// The highest sequence numbers given so far (the next file gets one more).
    var baseSeq: Int { max(base?.seq ?? 0, history.filter { $0.name.contains(".base.") }.map(\.seq).max() ?? 0) }
    var incrSeq: Int { max(incrs.map(\.seq).max() ?? 0, history.filter { $0.name.contains(".incr.") }.map(\.seq).max() ?? 0) }

    var isEmpty: Bool { base == nil && incrs.isEmpty }

    /// The files to load, in order: the base, then the incremental files.
    var loadOrder: [Entry] { (base.map { [$0] } ?? []) + incrs }

    /// The manifest's text: base first, then history, then the incremental files (Redis's order).
    func render() -> String {
        var out = ""
        for e in (base.map { [$0] } ?? []) + history + incrs {
            out += "file \(Self.quoted(e.name)) seq \(e.seq) type \(e.kind.rawValue)\n"
        }
        return out
    }

    /// A name is written bare unless it holds spaces, quotes or control characters.
    static func quoted(_ name: String) -> String {
        let plain = name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "'") && $0 != UInt8(ascii: "\\") }
        if plain && !name.isEmpty { return name }
        var s = "\""
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case 10: s += "\\n"
            case 13: s += "\\r"
            case 9: s += "\\t"
            case 32..<127: s += String(UnicodeScalar(b))
            default: s += String(format: "\\x%02x", b)
            }
        }
        return s + "\""
    }

    /// Parses a manifest. Throws with Redis's wording for a malformed one.
    static func parse(_ text: String) throws -> AOFManifest {
        var m = AOFManifest()
        var sawLine = false
        // "\r\n" is one Character in Swift: split on both forms of line end.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            sawLine = true
            guard let words = splitArgs(trimmed), words.count >= 6, words.count % 2 == 0 else {
                throw AOFError("Invalid AOF manifest file format")
            }
            var name: String?, seq: Int?, kind: Kind?
            var i = 0
            while i + 1 < words.count {
                switch words[i] {
                case "file": name = words[i + 1]
                case "seq": seq = Int(words[i + 1])
                case "type":
                    guard let k = Kind(rawValue: words[i + 1]) else { throw AOFError("Unknown AOF file type") }
                    kind = k
                default: break   // unknown keys are ignored, as Redis does (room for future fields)
                }
                i += 2
            }
            guard let name, !name.isEmpty, let seq, seq > 0, let kind else {
                throw AOFError("Invalid AOF manifest file format")
            }
            if name.contains("/") { throw AOFError("File can't be a path, just a filename") }
            let e = Entry(name: name, seq: seq, kind: kind)
            switch kind {
            case .base:
                if m.base != nil { throw AOFError("Found duplicate base file information") }
                m.base = e
            case .incr:
                if let last = m.incrs.last, last.seq >= seq { throw AOFError("Found a non-monotonic sequence number") }
                m.incrs.append(e)
            case .history:
                m.history.append(e)
            }
        }
        if !sawLine { throw AOFError("Found an empty AOF manifest") }
        return m
    }

    /// Splits a line into words: bare words, "double-quoted" (with \\ escapes) or 'single-quoted'.
    static func splitArgs(_ line: String) -> [String]? {
        var out: [String] = []
        let b = Array(line.utf8)
        var i = 0
        while i < b.count {
            while i < b.count && (b[i] == 32 || b[i] == 9) { i += 1 }
            if i >= b.count { break }
            var word: [UInt8] = []
            if b[i] == UInt8(ascii: "\"") {
                i += 1
                var closed = false
                while i < b.count {
                    if b[i] == UInt8(ascii: "\\") && i + 1 < b.count {
                        let n = b[i + 1]
                        switch n {
                        case UInt8(ascii: "n"): word.append(10)
                        case UInt8(ascii: "r"): word.append(13)
                        case UInt8(ascii: "t"): word.append(9)
                        case UInt8(ascii: "x") where i + 3 < b.count:
                            guard let v = UInt8(String(decoding: b[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else { return nil }
                            word.append(v)
                            i += 2
                        default: word.append(n)
                        }
                        i += 2
                    } else if b[i] == UInt8(ascii: "\"") {
                        closed = true
                        i += 1
                        break
                    } else {
                        word.append(b[i])
                        i += 1
                    }
                }
                if !closed || (i < b.count && b[i] != 32 && b[i] != 9) { return nil }
            } else if b[i] == UInt8(ascii: "'") {
                i += 1
                var closed = false
                while i < b.count {
                    if b[i] == UInt8(ascii: "'") { closed = true; i += 1; break }
                    word.append(b[i])
                    i += 1
                }
                if !closed || (i < b.count && b[i] != 32 && b[i] != 9) { return nil }
            } else {
                while i < b.count && b[i] != 32 && b[i] != 9 { word.append(b[i]); i += 1 }
            }
            out.append(String(decoding: word, as: UTF8.self))
        }
        return out
    }
}

/// A problem with the append-only file, worded for the log (start-up refuses to continue with it).
public struct AOFError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
