import NIOCore

/// Encodes replies straight into a ByteBuffer, in RESP2 or RESP3 depending on the client's protocol.
///
/// Commands write their replies through this type; there is no intermediate reply tree on the hot path.
/// In RESP2 the RESP3-only types degrade the way Redis degrades them (maps become flat arrays,
/// doubles become bulk strings, nulls become `$-1` or `*-1`, booleans become integers).
/// A message that quotes client input as Redis's `%s` formats it: `\(quoted: arg)` appends the
/// argument's raw bytes up to its first NUL (`max:` as in `%.128s`), nothing decoded as UTF-8;
/// other interpolations are their text.
public struct QuotingMessage: ExpressibleByStringInterpolation, Sendable {
    public var bytes: [UInt8]
    public init(stringLiteral s: String) { bytes = Array(s.utf8) }
    public init(stringInterpolation i: Interpolation) { bytes = i.bytes }

    public struct Interpolation: StringInterpolationProtocol {
        var bytes: [UInt8] = []
        public init(literalCapacity: Int, interpolationCount: Int) {
            bytes.reserveCapacity(literalCapacity + 32 * interpolationCount)
        }
        public mutating func appendLiteral(_ s: String) { bytes += s.utf8 }
        public mutating func appendInterpolation(quoted b: Bytes, max: Int = .max) {
            bytes += b.printedPrefix(max: max)
        }
        public mutating func appendInterpolation<T>(_ v: T) { bytes += "\(v)".utf8 }
    }
}

public struct ReplyWriter: Sendable {
    public var buffer: ByteBuffer
    public var resp: Int

    public init(resp: Int = 2, capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        self.resp = resp
    }
    public init(buffer: ByteBuffer, resp: Int) {
        self.buffer = buffer
        self.resp = resp
    }

    @inlinable public mutating func ok() { literal("+OK\r\n") }
    @inlinable public mutating func queued() { literal("+QUEUED\r\n") }

    /// Appends a whole reply known at compile time in one buffer write (ByteBuffer's
    /// writeStaticString checks capacity and uniqueness on a longer path, about 150 instructions).
    @inlinable public mutating func literal(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { p in
            p.baseAddress!.copyMemory(from: s.utf8Start, byteCount: n)
            return n
        }
    }

    @inlinable public mutating func simple(_ s: String) {
        var s = s
        s.withUTF8 { simple(raw: UnsafeRawBufferPointer($0)) }
    }
    @inlinable public mutating func simple(_ s: Bytes) {
        s.raw.withUnsafeBytes { simple(raw: $0) }
    }
    /// `+<text>\r\n` in one buffer write.
    @inlinable public mutating func simple(raw src: UnsafeRawBufferPointer) {
        let n = src.count
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n + 3) { p in
            let b = p.baseAddress!
            b.storeBytes(of: UInt8(ascii: "+"), as: UInt8.self)
            if n > 0 { (b + 1).copyMemory(from: src.baseAddress!, byteCount: n) }
            (b + 1 + n).storeBytes(of: 0x0a0d, toByteOffset: 0, as: UInt16.self)
            return n + 3
        }
    }

    /// An error reply. `message` includes its code ("ERR …", "WRONGTYPE …"); newlines are replaced as Redis does.
    public mutating func error(_ message: String) {
        error(bytes: Array(message.utf8))
    }
    /// An error reply from raw bytes: for messages that quote a client's arguments, which Redis
    /// copies byte for byte (nothing is decoded as UTF-8).
    public mutating func error(bytes message: [UInt8]) {
        buffer.writeInteger(UInt8(ascii: "-"))
        var bytes = message
        for i in bytes.indices where bytes[i] == 13 || bytes[i] == 10 { bytes[i] = 32 }
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// An error reply that quotes arguments as Redis's `%s` does (see QuotingMessage).
    public mutating func error(quoting message: QuotingMessage) {
        error(bytes: message.bytes)
    }

    @inlinable public mutating func integer(_ v: Int) { header(UInt8(ascii: ":"), v) }

    @inlinable public mutating func bulk(_ b: Bytes) {
        b.raw.withUnsafeBytes { bulk(raw: $0) }
    }
    /// A bulk string from contiguous bytes: header, payload and CRLF in one buffer write.
    @inlinable public mutating func bulk(raw src: UnsafeRawBufferPointer) {
        let n = src.count
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n + 25) { p in
            let b = p.baseAddress!
            b.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
            var at = 1 + ReplyWriter.putDecimal(n, b + 1)
            (b + at).storeBytes(of: 0x0a0d, toByteOffset: 0, as: UInt16.self)
            at += 2
            if n > 0 { (b + at).copyMemory(from: src.baseAddress!, byteCount: n) }
            at += n
            (b + at).storeBytes(of: 0x0a0d, toByteOffset: 0, as: UInt16.self)
            return at + 2
        }
    }
    @inlinable public mutating func bulk<C: Collection>(bytes b: C) where C.Element == UInt8 {
        if let done: Void = b.withContiguousStorageIfAvailable({ bulk(raw: UnsafeRawBufferPointer($0)) }) {
            return done
        }
        header(UInt8(ascii: "$"), b.count)
        buffer.writeBytes(b)
        buffer.writeStaticString("\r\n")
    }
    @inlinable public mutating func bulk(_ s: String) {
        var s = s
        s.withUTF8 { bulk(raw: UnsafeRawBufferPointer($0)) }
    }
    /// An integer sent as a bulk string (as Redis does for e.g. INCRBYFLOAT results or SORT output).
    @inlinable public mutating func bulk(int v: Int) { bulk(bytes: Array(String(v).utf8)) }

    /// RESP2 `$-1`, RESP3 `_`.
    @inlinable public mutating func nullBulk() {
        if resp >= 3 { literal("_\r\n") } else { literal("$-1\r\n") }
    }
    /// RESP2 `*-1`, RESP3 `_`.
    @inlinable public mutating func nullArray() {
        if resp >= 3 { literal("_\r\n") } else { literal("*-1\r\n") }
    }
    @inlinable public mutating func array(_ n: Int) { header(UInt8(ascii: "*"), n) }
    /// A command as a multibulk request: what the AOF, the replication stream and MIGRATE send.
    @inlinable public mutating func command(_ args: [Bytes]) {
        array(args.count)
        for a in args { bulk(a) }
    }
    /// A map of `n` pairs: RESP3 `%n`, RESP2 a flat array of 2n elements.
    @inlinable public mutating func map(_ n: Int) {
        if resp >= 3 { header(UInt8(ascii: "%"), n) } else { header(UInt8(ascii: "*"), 2 * n) }
    }
    /// RESP3 `~n`, RESP2 `*n`.
    @inlinable public mutating func set(_ n: Int) {
        if resp >= 3 { header(UInt8(ascii: "~"), n) } else { header(UInt8(ascii: "*"), n) }
    }
    /// RESP3 `>n`, RESP2 `*n`.
    @inlinable public mutating func push(_ n: Int) {
        if resp >= 3 { header(UInt8(ascii: ">"), n) } else { header(UInt8(ascii: "*"), n) }
    }
    /// RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    @inlinable public mutating func bool(_ b: Bool) {
        if resp >= 3 { buffer.writeStaticString(b ? "#t\r\n" : "#f\r\n") } else { integer(b ? 1 : 0) }
    }
    /// A double: RESP3 `,` with Redis's formatting, RESP2 a bulk string.
    public mutating func double(_ d: Double) {
        let text = formatDouble(d)
        if resp >= 3 {
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        } else {
            bulk(text)
        }
    }
    /// A double the caller formatted itself (GEOPOS's coordinates): RESP3 `,`, RESP2 a bulk string.
    public mutating func double(text: Bytes) {
        if resp >= 3 {
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeBytes(text.raw)
            buffer.writeStaticString("\r\n")
        } else {
            bulk(text)
        }
    }
    /// RESP3 verbatim string (`=`), RESP2 bulk string.
    public mutating func verbatim(_ text: String, format: String = "txt") {
        verbatim(Bytes(Array(text.utf8)), format: Bytes(Array(format.utf8)))
    }
    /// RESP3 verbatim string with its format cut or padded with spaces to 3 bytes (as Redis's
    /// addReplyVerbatim), RESP2 bulk string.
    public mutating func verbatim(_ text: Bytes, format: Bytes) {
        guard resp >= 3 else { return bulk(text) }
        var ext = Array(format.raw.prefix(3))
        while ext.count < 3 { ext.append(32) }
        buffer.writeInteger(UInt8(ascii: "="))
        writeDecimal(text.count + 4)
        buffer.writeStaticString("\r\n")
        buffer.writeBytes(ext)
        buffer.writeInteger(UInt8(ascii: ":"))
        buffer.writeBytes(text.raw)
        buffer.writeStaticString("\r\n")
    }
    /// Raw protocol bytes (already encoded replies, e.g. copied from another writer).
    @inlinable public mutating func raw(_ b: ByteBuffer) {
        var b = b
        buffer.writeBuffer(&b)
    }

    /// `c`, the decimal `n`, CRLF: one buffer write (each ByteBuffer call has a fixed cost that
    /// dominates such short writes).
    @inlinable mutating func header(_ c: UInt8, _ n: Int) {
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { p in
            let b = p.baseAddress!
            b.storeBytes(of: c, as: UInt8.self)
            let at = 1 + ReplyWriter.putDecimal(n, b + 1)
            (b + at).storeBytes(of: 0x0a0d, toByteOffset: 0, as: UInt16.self)
            return at + 2
        }
    }

    /// Writes `v` in decimal at `p` (at most 20 bytes); returns the number of bytes written.
    @inlinable @inline(__always)
    static func putDecimal(_ v: Int, _ p: UnsafeMutableRawPointer) -> Int {
        if v >= 0 && v < 10 {
            p.storeBytes(of: UInt8(48 + v), as: UInt8.self)
            return 1
        }
        var u = v < 0 ? UInt64(bitPattern: Int64(v)).magnitudeOfNegative : UInt64(v)
        var digits = 1
        var t = u
        while t >= 10 { t /= 10; digits += 1 }
        let total = digits + (v < 0 ? 1 : 0)
        var i = total
        repeat {
            i -= 1
            p.storeBytes(of: UInt8(truncatingIfNeeded: 48 + u % 10), toByteOffset: i, as: UInt8.self)
            u /= 10
        } while u > 0
        if v < 0 { p.storeBytes(of: UInt8(ascii: "-"), as: UInt8.self) }
        return total
    }

    /// Writes an integer in decimal without going through String.
    @inlinable public mutating func writeDecimal(_ v: Int) {
        if v >= 0 && v < 10 {
            buffer.writeInteger(UInt8(48 + v))
            return
        }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        let written = withUnsafeMutableBytes(of: &tmp) { p -> Int in
            var u = v < 0 ? UInt64(bitPattern: Int64(v)).magnitudeOfNegative : UInt64(v)
            var i = 23
            repeat {
                p[i] = UInt8(48 + u % 10)
                u /= 10
                i -= 1
            } while u > 0
            if v < 0 {
                p[i] = UInt8(ascii: "-")
                i -= 1
            }
            return 23 - i
        }
        withUnsafeBytes(of: &tmp) { p in
            _ = buffer.writeBytes(UnsafeRawBufferPointer(rebasing: p[(24 - written)...]))
        }
    }
}

extension UInt64 {
    /// Magnitude of a negative Int64 given as its bit pattern.
    @inlinable var magnitudeOfNegative: UInt64 { (~self) &+ 1 }
}

/// Redis 7.0's double formatting for replies (`%.17g`, with inf/-inf/nan spelled out).
public func formatDouble(_ d: Double) -> String {
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    if d.isNaN { return "nan" }
    return cFormat("%.17g", d)
}

/// Shortest round-trip formatting used where Redis uses `%.17g` but integers print plainly.
public func cFormat(_ format: String, _ d: Double) -> String {
    var buf = [CChar](repeating: 0, count: 512)
    let n = withVaList([d]) { vsnprintf(&buf, 512, format, $0) }
    return String(decoding: buf[0..<Int(max(0, min(n, 511)))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
