import LunarRESP

/// A reply as lunar-cli sees it. Unlike `RESPValue`, doubles and big numbers keep the exact text the
/// server sent, because redis-cli prints them verbatim.
public indirect enum Reply: Sendable, Equatable {
    case status(Bytes)
    case error(Bytes)
    case integer(Int64)
    case string(Bytes)
    case null
    case array([Reply])
    case map([Reply])          // flattened key, value, key, value...
    case set([Reply])
    case push([Reply])
    case double(Bytes)
    case bool(Bool)
    case bigNumber(Bytes)
    case verbatim(format: Bytes, text: Bytes)

    public var isError: Bool { if case .error = self { return true } else { return false } }

    /// The bytes of a string-like reply.
    public var bytes: Bytes? {
        switch self {
        case let .status(b), let .string(b), let .error(b), let .double(b), let .bigNumber(b): return b
        case let .verbatim(_, t): return t
        case let .integer(i): return Bytes(String(i))
        default: return nil
        }
    }

    public var text: String? { bytes.map { String(decoding: $0.raw, as: UTF8.self) } }

    /// Elements of an aggregate (a map is flattened).
    public var elements: [Reply]? {
        switch self {
        case let .array(a), let .map(a), let .set(a), let .push(a): return a
        default: return nil
        }
    }

    public var integerValue: Int64? {
        switch self {
        case let .integer(i): return i
        case let .string(b), let .status(b): return Int64(String(decoding: b.raw, as: UTF8.self))
        default: return nil
        }
    }

    /// Key/value pairs of a map, or of a RESP2 flat array standing for one.
    public var pairs: [(Reply, Reply)] {
        guard let e = elements else { return [] }
        var out: [(Reply, Reply)] = []
        var i = 0
        while i + 1 < e.count { out.append((e[i], e[i + 1])); i += 2 }
        return out
    }

    /// Looks up a field in a map-like reply by its (case-sensitive) name.
    public subscript(field: String) -> Reply? {
        for (k, v) in pairs where k.text == field { return v }
        return nil
    }
}

public struct ReplyProtocolError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Parses replies out of a byte buffer. `parse` returns nil when the buffer holds an incomplete reply.
public enum ReplyParser {
    public static func parse(_ buf: [UInt8], from start: Int) throws -> (Reply, Int)? {
        var i = start
        guard let r = try value(buf, &i) else { return nil }
        return (r, i)
    }

    @inline(__always)
    static func line(_ b: [UInt8], _ i: inout Int) -> ArraySlice<UInt8>? {
        var j = i
        let n = b.count
        while j + 1 < n {
            if b[j] == 13 && b[j + 1] == 10 {
                let l = b[i..<j]
                i = j + 2
                return l
            }
            j += 1
        }
        return nil
    }

    static func int(_ l: ArraySlice<UInt8>) throws -> Int64 {
        guard let v = Int64(String(decoding: l, as: UTF8.self)) else {
            throw ReplyProtocolError("Protocol error, bad integer")
        }
        return v
    }

    static func value(_ b: [UInt8], _ i: inout Int) throws -> Reply? {
        guard i < b.count else { return nil }
        let t = b[i]
        var j = i + 1
        guard let l = line(b, &j) else { return nil }
        var result: Reply
        switch t {
        case UInt8(ascii: "+"): result = .status(Bytes(l))
        case UInt8(ascii: "-"): result = .error(Bytes(l))
        case UInt8(ascii: ":"): result = .integer(try int(l))
        case UInt8(ascii: ","): result = .double(Bytes(l))
        case UInt8(ascii: "("): result = .bigNumber(Bytes(l))
        case UInt8(ascii: "#"): result = .bool(l.first == UInt8(ascii: "t"))
        case UInt8(ascii: "_"): result = .null
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let n = Int(try int(l))
            if n < 0 { result = .null; break }
            guard b.count >= j + n + 2 else { return nil }
            let body = Bytes(b[j..<(j + n)])
            j += n + 2
            if t == UInt8(ascii: "=") {
                result = .verbatim(format: Bytes(body.raw.prefix(3)), text: Bytes(body.raw.dropFirst(4)))
            } else if t == UInt8(ascii: "!") {
                result = .error(body)
            } else {
                result = .string(body)
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            var n = Int(try int(l))
            if n < 0 { result = .null; break }
            if t == UInt8(ascii: "%") { n *= 2 }
            var els: [Reply] = []
            els.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n {
                guard let v = try value(b, &j) else { return nil }
                els.append(v)
            }
            switch t {
            case UInt8(ascii: "*"): result = .array(els)
            case UInt8(ascii: "~"): result = .set(els)
            case UInt8(ascii: ">"): result = .push(els)
            default: result = .map(els)
            }
        default:
            throw ReplyProtocolError("Protocol error, got \"\(String(decoding: [t], as: UTF8.self))\" as reply type byte")
        }
        i = j
        return result
    }
}
