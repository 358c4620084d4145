import NIOCore

/// A decoded reply, for the client side (lunar-cli) and for scripts that read command replies.
public indirect enum RESPValue: Sendable, Equatable {
    case simple(Bytes)
    case error(Bytes)
    case integer(Int)
    case bulk(Bytes)
    case null                     // RESP2 $-1 / *-1, RESP3 _
    case array([RESPValue])
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case push([RESPValue])
    case double(Double)
    case boolean(Bool)
    case bigNumber(Bytes)
    case verbatim(format: Bytes, text: Bytes)
    case attribute([(RESPValue, RESPValue)])

    public static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case let (.simple(x), .simple(y)), let (.error(x), .error(y)), let (.bulk(x), .bulk(y)), let (.bigNumber(x), .bigNumber(y)):
            return x == y
        case let (.integer(x), .integer(y)): return x == y
        case (.null, .null): return true
        case let (.array(x), .array(y)), let (.set(x), .set(y)), let (.push(x), .push(y)): return x == y
        case let (.map(x), .map(y)), let (.attribute(x), .attribute(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.double(x), .double(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.boolean(x), .boolean(y)): return x == y
        case let (.verbatim(f1, t1), .verbatim(f2, t2)): return f1 == f2 && t1 == t2
        default: return false
        }
    }
}

/// Incremental decoder of RESP2/RESP3 replies. `decode` returns nil until a whole value is buffered.
public struct RESPValueParser: Sendable {
    public init() {}

    public mutating func decode(_ buffer: inout ByteBuffer) throws(ProtocolError) -> RESPValue? {
        var copy = buffer
        guard let v = try Self.parseValue(&copy) else { return nil }
        buffer = copy
        return v
    }

    /// Parses one value from a complete encoded reply (throws if it is not one).
    public static func parse(_ bytes: ByteBuffer) throws(ProtocolError) -> RESPValue {
        var b = bytes
        guard let v = try parseValue(&b) else { throw ProtocolError("incomplete reply") }
        return v
    }

    static func line(_ b: inout ByteBuffer) -> [UInt8]? {
        let view = b.readableBytesView
        guard let cr = view.firstIndex(of: 13), cr + 1 < view.endIndex else { return nil }
        let l = b.readBytes(length: cr - view.startIndex)!
        b.moveReaderIndex(forwardBy: 2)
        return l
    }

    static func parseValue(_ b: inout ByteBuffer) throws(ProtocolError) -> RESPValue? {
        guard let t = b.readInteger(as: UInt8.self) else { return nil }
        guard let l = line(&b) else { return nil }
        func count() throws(ProtocolError) -> Int {
            guard let n = Int(String(decoding: l, as: UTF8.self)) else { throw ProtocolError("bad length") }
            return n
        }
        func elements(_ n: Int) throws(ProtocolError) -> [RESPValue]? {
            var out: [RESPValue] = []
            out.reserveCapacity(max(0, min(n, 4096)))
            for _ in 0..<max(0, n) {
                guard let v = try parseValue(&b) else { return nil }
                out.append(v)
            }
            return out
        }
        switch t {
        case UInt8(ascii: "+"): return .simple(Bytes(l))
        case UInt8(ascii: "-"): return .error(Bytes(l))
        case UInt8(ascii: ":"): return .integer(try count())
        case UInt8(ascii: "("): return .bigNumber(Bytes(l))
        case UInt8(ascii: ","):
            let s = String(decoding: l, as: UTF8.self)
            switch s {
            case "inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            case "nan", "-nan": return .double(.nan)
            default: return .double(Double(s) ?? 0)
            }
        case UInt8(ascii: "#"): return .boolean(l.first == UInt8(ascii: "t"))
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let n = try count()
            if n < 0 { return .null }
            guard b.readableBytes >= n + 2 else { return nil }
            let body = b.readBytes(length: n)!
            b.moveReaderIndex(forwardBy: 2)
            if t == UInt8(ascii: "=") {
                return .verbatim(format: Bytes(body.prefix(3)), text: Bytes(body.dropFirst(4)))
            }
            if t == UInt8(ascii: "!") { return .error(Bytes(body)) }
            return .bulk(Bytes(body))
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let n = try count()
            if n < 0 { return .null }
            guard let els = try elements(n) else { return nil }
            return t == UInt8(ascii: "*") ? .array(els) : (t == UInt8(ascii: "~") ? .set(els) : .push(els))
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let n = try count()
            guard let els = try elements(2 * n) else { return nil }
            var pairs: [(RESPValue, RESPValue)] = []
            var i = 0
            while i < els.count { pairs.append((els[i], els[i + 1])); i += 2 }
            if t == UInt8(ascii: "|") {
                // An attribute precedes the real reply; clients that don't use it skip it.
                guard let next = try parseValue(&b) else { return nil }
                return next
            }
            return .map(pairs)
        default:
            throw ProtocolError("unknown reply type '\(Character(Unicode.Scalar(t)))'")
        }
    }
}

/// Encodes a command as a RESP multibulk request.
public func encodeCommand(_ args: [Bytes], into buffer: inout ByteBuffer) {
    buffer.writeString("*\(args.count)\r\n")
    for a in args {
        buffer.writeString("$\(a.count)\r\n")
        buffer.writeBytes(a.raw)
        buffer.writeStaticString("\r\n")
    }
}
