import LunarRESP

public enum OutputMode: Sendable { case standard, raw, csv }

/// Reply formatting exactly as redis-cli 7.0 prints replies.
public struct ReplyFormatter: Sendable {
    public var mode: OutputMode
    public var bulkDelimiter: [UInt8] = [10]      // -d
    public var replyDelimiter: [UInt8] = [10]     // -D

    public init(mode: OutputMode) { self.mode = mode }

    public struct UnknownType: Error { public let code: Int }

    /// Formats a whole reply as printed after a command. `forceRaw` is redis-cli's "output raw strings" for
    /// INFO, CLIENT LIST and friends.
    public func format(_ r: Reply, forceRaw: Bool = false) throws -> [UInt8] {
        var out: [UInt8] = []
        if forceRaw {
            try Self.raw(r, &out, bulkDelimiter)
            return out
        }
        switch mode {
        case .standard: try Self.tty(r, prefix: [], &out)
        case .raw:
            try Self.raw(r, &out, bulkDelimiter)
            out.append(contentsOf: replyDelimiter)
        case .csv:
            try Self.csv(r, &out)
            out.append(10)
        }
        return out
    }

    /// Streaming output of a top-level aggregate, element by element, with the same bytes `format` produces
    /// for the whole reply.
    public func streamElement(_ r: Reply, index i: Int, count: Int, kind: Connection.AggregateKind,
                              forceRaw: Bool) throws -> [UInt8] {
        var out: [UInt8] = []
        let isMap = kind == .map
        let mode: OutputMode = forceRaw ? .raw : self.mode
        switch mode {
        case .standard:
            var n = isMap ? count / 2 : count
            var idxlen = 0
            repeat { idxlen += 1; n /= 10 } while n > 0
            let childPrefix = [UInt8](repeating: 32, count: idxlen + 2)
            if isMap && i % 2 == 1 {
                if Self.isMultiline(r) { out.append(10); out.append(contentsOf: childPrefix) }
                try Self.tty(r, prefix: childPrefix, &out)
            } else {
                let num = String((isMap ? i / 2 : i) + 1)
                out.append(contentsOf: [UInt8](repeating: 32, count: max(0, idxlen - num.utf8.count)))
                Self.append(num, &out)
                out.append(kind == .set ? UInt8(ascii: "~") : isMap ? UInt8(ascii: "#") : UInt8(ascii: ")"))
                out.append(32)
                try Self.tty(r, prefix: childPrefix, &out)
                if isMap {
                    if out.last == 10 { out.removeLast() }
                    Self.append(" => ", &out)
                }
            }
        case .raw:
            if isMap {
                if i % 2 == 0 {
                    if i > 0 { out.append(contentsOf: bulkDelimiter) }
                    try Self.raw(r, &out, bulkDelimiter)
                    out.append(32)
                } else {
                    try Self.raw(r, &out, bulkDelimiter)
                }
            } else {
                if i > 0 { out.append(contentsOf: bulkDelimiter) }
                try Self.raw(r, &out, bulkDelimiter)
            }
            if i == count - 1 && !forceRaw { out.append(contentsOf: replyDelimiter) }
        case .csv:
            try Self.csv(r, &out)
            out.append(i == count - 1 ? 10 : UInt8(ascii: ","))
        }
        return out
    }

    /// Quotes bytes like Redis's sdscatrepr: "..." with \n \r \t \a \b, \\ \" and \xHH escapes.
    public static func repr(_ s: some Collection<UInt8>, into out: inout [UInt8]) {
        out.append(34)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for c in s {
            switch c {
            case 92, 34: out.append(92); out.append(c)
            case 10: out.append(92); out.append(UInt8(ascii: "n"))
            case 13: out.append(92); out.append(UInt8(ascii: "r"))
            case 9: out.append(92); out.append(UInt8(ascii: "t"))
            case 7: out.append(92); out.append(UInt8(ascii: "a"))
            case 8: out.append(92); out.append(UInt8(ascii: "b"))
            case 32...126: out.append(c)
            default:
                out.append(92); out.append(UInt8(ascii: "x"))
                out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 15)])
            }
        }
        out.append(34)
    }

    public static func repr(_ s: some Collection<UInt8>) -> String {
        var o: [UInt8] = []
        repr(s, into: &o)
        return String(decoding: o, as: UTF8.self)
    }

    static func append(_ s: String, _ out: inout [UInt8]) { out.append(contentsOf: s.utf8) }

    static func tty(_ r: Reply, prefix: [UInt8], _ out: inout [UInt8]) throws {
        switch r {
        case let .error(e): append("(error) ", &out); out.append(contentsOf: cString(e)); out.append(10)
        case let .status(s): out.append(contentsOf: cString(s)); out.append(10)
        case let .integer(i): append("(integer) \(i)\n", &out)
        case let .double(d): append("(double) ", &out); out.append(contentsOf: d.raw); out.append(10)
        case let .string(s): repr(s.raw, into: &out); out.append(10)
        case let .verbatim(_, t): out.append(contentsOf: t.raw); out.append(10)
        case .null: append("(nil)\n", &out)
        case let .bool(b): append(b ? "(true)\n" : "(false)\n", &out)
        case .bigNumber: throw UnknownType(code: 13)
        case .array(let els), .set(let els), .push(let els), .map(let els):
            let isMap: Bool
            let sep: UInt8
            let empty: String
            switch r {
            case .set: isMap = false; sep = UInt8(ascii: "~"); empty = "(empty set)\n"
            case .map: isMap = true; sep = UInt8(ascii: "#"); empty = "(empty hash)\n"
            case .push: isMap = false; sep = UInt8(ascii: ")"); empty = "(empty push)\n"
            default: isMap = false; sep = UInt8(ascii: ")"); empty = "(empty array)\n"
            }
            if els.isEmpty { append(empty, &out); return }
            var n = isMap ? els.count / 2 : els.count
            var idxlen = 0
            repeat { idxlen += 1; n /= 10 } while n > 0
            let childPrefix = prefix + [UInt8](repeating: 32, count: idxlen + 2)
            var i = 0
            while i < els.count {
                let human = (isMap ? i / 2 : i) + 1
                if i != 0 { out.append(contentsOf: prefix) }
                let num = String(human)
                out.append(contentsOf: [UInt8](repeating: 32, count: max(0, idxlen - num.utf8.count)))
                append(num, &out)
                out.append(sep); out.append(32)
                try tty(els[i], prefix: childPrefix, &out)
                if isMap {
                    i += 1
                    if out.last == 10 { out.removeLast() }
                    append(" => ", &out)
                    if i < els.count {
                        if isMultiline(els[i]) { out.append(10); out.append(contentsOf: childPrefix) }
                        try tty(els[i], prefix: childPrefix, &out)
                    }
                }
                i += 1
            }
        }
    }

    /// Whether a value prints on more than one line in TTY mode (maps then start their value on a new line).
    static func isMultiline(_ r: Reply) -> Bool {
        switch r {
        case .array(let e), .set(let e), .push(let e):
            if e.isEmpty { return false }
            if e.count > 1 { return true }
            return isMultiline(e[0])
        case .map(let e):
            if e.isEmpty { return false }
            if e.count > 2 { return true }
            return isMultiline(e[1])
        default: return false
        }
    }

    /// C-string semantics: redis-cli prints status and error text with %s, stopping at a NUL byte.
    static func cString(_ b: Bytes) -> ArraySlice<UInt8> {
        if let z = b.raw.firstIndex(of: 0) { return b.raw[0..<z] }
        return b.raw[...]
    }

    static func raw(_ r: Reply, _ out: inout [UInt8], _ delim: [UInt8]) throws {
        switch r {
        case .null: break
        case let .error(e): out.append(contentsOf: e.raw); out.append(10)
        case let .status(s), let .string(s): out.append(contentsOf: s.raw)
        case let .verbatim(_, t): out.append(contentsOf: t.raw)
        case let .bool(b): append(b ? "(true)" : "(false)", &out)
        case let .integer(i): append(String(i), &out)
        case let .double(d): out.append(contentsOf: cString(d))
        case .bigNumber: throw UnknownType(code: 13)
        case .array(let els), .set(let els), .push(let els):
            for (i, e) in els.enumerated() {
                if i > 0 { out.append(contentsOf: delim) }
                try raw(e, &out, delim)
            }
        case .map(let els):
            var i = 0
            while i + 1 < els.count {
                if i > 0 { out.append(contentsOf: delim) }
                try raw(els[i], &out, delim)
                out.append(32)
                try raw(els[i + 1], &out, delim)
                i += 2
            }
        }
    }

    static func csv(_ r: Reply, _ out: inout [UInt8]) throws {
        switch r {
        case let .error(e): append("ERROR,", &out); repr(cString(e), into: &out)
        case let .status(s): repr(s.raw, into: &out)
        case let .integer(i): append(String(i), &out)
        case let .double(d): out.append(contentsOf: cString(d))
        case let .string(s): repr(s.raw, into: &out)
        case let .verbatim(_, t): repr(t.raw, into: &out)
        case .null: append("NULL", &out)
        case let .bool(b): append(b ? "true" : "false", &out)
        case .bigNumber: throw UnknownType(code: 13)
        case .array(let els), .set(let els), .push(let els), .map(let els):
            for (i, e) in els.enumerated() {
                try csv(e, &out)
                if i != els.count - 1 { out.append(UInt8(ascii: ",")) }
            }
        }
    }
}
