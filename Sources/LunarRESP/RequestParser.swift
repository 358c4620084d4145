import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A protocol violation that Redis answers with `-ERR Protocol error: …` and then closes the connection.
public struct ProtocolError: Error, Sendable, Equatable {
    public let message: String
    /// The message as Redis writes it: byte for byte, where `message` shows a byte that is not
    /// UTF-8 as a replacement character (`expected '$', got '\xff'`).
    public let bytes: [UInt8]
    public init(_ message: String) { self.message = message; self.bytes = Array(message.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes; self.message = String(decoding: bytes, as: UTF8.self) }
}

/// Incremental parser for client requests: RESP multibulk (`*N\r\n$len\r\n…`) and inline commands.
///
/// It is resumable: a half-received multibulk keeps the arguments parsed so far, so a huge
/// command arriving in many reads is parsed in linear time.
public struct RequestParser: Sendable {
    /// Longest inline request or count line without a newline (Redis's PROTO_INLINE_MAX_SIZE).
    public static let inlineMax = 64 * 1024
    public var maxBulkLength: Int

    /// Redis's limits for a client that has not authenticated yet while a password is required: at
    /// most 10 arguments and 16 KiB per argument, so such a client cannot make the server allocate
    /// much (CVE-2021-32675).
    public static let unauthenticatedMaxArgs = 10
    public static let unauthenticatedMaxBulk = 16384
    /// What `readArgs` reports for an argument over that size; `parse` then holds or throws it.
    static let unauthenticatedBulk = ProtocolError("unauthenticated bulk length")
    public enum AuthLimits: Sendable {
        /// No password is required.
        case off
        /// The client is authenticated: no limits, until a RESET is parsed (`sawReset`), which may
        /// end that; the requests after it are then `.undecided`.
        case authenticated
        /// The client is not authenticated and has no command waiting to run: a request over the
        /// limits is a protocol error.
        case enforced
        /// Commands the client sent before may still change that (AUTH, HELLO … AUTH, RESET): a
        /// request over the limits waits (`heldForAuth`) until the caller knows.
        case undecided
    }
    /// Set by the caller before each `parse`.
    public var authLimits: AuthLimits = .off
    /// Parsing stopped before a request over the unauthenticated limits because `authLimits` was
    /// `.undecided`, or because commands parsed before it in the same batch may authenticate the
    /// client. Parse again once those commands have run.
    public private(set) var heldForAuth = false
    /// A RESET was parsed while a password is required (the caller clears it once that RESET has run).
    public var sawReset = false

    private var pendingArgs: Int = 0          // arguments still expected in the current multibulk
    private var args: [Bytes] = []
    private var bulkLength: Int = -1           // length of the bulk whose header was read
    /// The small arguments of the previous command by position (see `readArgs`).
    private var recent = [Bytes](repeating: Bytes(), count: RequestParser.recentSlots)

    public init(maxBulkLength: Int = 512 * 1024 * 1024) { self.maxBulkLength = maxBulkLength }

    /// True while a command is partly received.
    public var inProgress: Bool { pendingArgs > 0 }

    /// Parses every complete command in `buffer`, consuming what it parsed.
    /// Commands parsed before a protocol error are returned in `commands` before the error is thrown.
    public mutating func parse(_ buffer: inout ByteBuffer, into commands: inout [[Bytes]]) throws(ProtocolError) {
        // Pipelines deliver commands by the dozen: start the batch with room for some.
        if commands.capacity < 16 { commands.reserveCapacity(16) }
        heldForAuth = false
        while buffer.readableBytes > 0 {
            if pendingArgs == 0 {
                let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
                if first == UInt8(ascii: "*") {
                    guard let (lineLength, count) = Self.numberLine(buffer) else {
                        if buffer.readableBytes > Self.inlineMax { throw ProtocolError("too big mbulk count string") }
                        return
                    }
                    guard let n = count, n <= Int(Int32.max) else {
                        throw ProtocolError("invalid multibulk length")
                    }
                    if n > Self.unauthenticatedMaxArgs, try holdForAuth(commands, "unauthenticated multibulk length") { return }
                    buffer.moveReaderIndex(forwardBy: lineLength)
                    if n <= 0 { continue }
                    pendingArgs = n
                    args = []
                    args.reserveCapacity(min(n, 1024))
                } else {
                    guard let cmd = try parseInline(&buffer) else { return }
                    if !cmd.isEmpty {
                        if authLimits != .off { noteReset(cmd) }
                        commands.append(cmd)
                    }
                    continue
                }
            }
            // Inside a multibulk: read bulk headers and payloads, straight from the buffer's bytes.
            let (consumed, error) = buffer.withUnsafeReadableBytes { p in readArgs(p) }
            buffer.moveReaderIndex(forwardBy: consumed)
            if let error {
                if error == Self.unauthenticatedBulk, try holdForAuth(commands, error.message) { return }
                throw error
            }
            if pendingArgs > 0 { return }
            if authLimits != .off { noteReset(args) }
            commands.append(args)
            args = []
        }
    }

    /// A request over the unauthenticated limits: true when parsing must stop before it and wait
    /// (commands before it may authenticate the client), false when the limits do not apply, and
    /// the protocol error when they do.
    private mutating func holdForAuth(_ parsed: [[Bytes]], _ message: String) throws(ProtocolError) -> Bool {
        switch authLimits {
        case .off, .authenticated: return false
        case .undecided:
            heldForAuth = true
            return true
        case .enforced:
            if !parsed.isEmpty {
                heldForAuth = true
                return true
            }
            throw ProtocolError(message)
        }
    }

    /// RESET logs the client out when a password is required: what follows it is undecided.
    private mutating func noteReset(_ cmd: [Bytes]) {
        guard cmd.count == 1, cmd[0].count == 5, cmd[0].equalsIgnoringCase("reset") else { return }
        sawReset = true
        if authLimits == .authenticated { authLimits = .undecided }
    }

    /// Reads bulk headers and payloads of the current multibulk from `p` until the command is
    /// complete or the bytes run out. Returns how many bytes it consumed, and the protocol error
    /// that stopped it, if any.
    private mutating func readArgs(_ p: UnsafeRawBufferPointer) -> (Int, ProtocolError?) {
        let count = p.count
        guard let base = p.baseAddress else { return (0, nil) }
        var i = 0
        while pendingArgs > 0 {
            if bulkLength < 0 {
                guard i < count else { break }
                let c = p[i]
                // The usual header, `$` and plain digits up to a CR with its LF already here, is read
                // in one pass; anything else takes the general path below (errors, partial lines).
                if c == UInt8(ascii: "$"), let (n, cr) = Self.plainNumber(base, from: i + 1, count: count),
                   n <= maxBulkLength, n <= Self.unauthenticatedMaxBulk || authLimits == .off || authLimits == .authenticated {
                    bulkLength = n
                    i = cr + 2
                }
            }
            if bulkLength < 0 {
                let c = p[i]
                let cr = Self.lineEnd(base, from: i, count: count, byte: 13) ?? -1
                guard cr >= 0, cr + 1 < count else {
                    // No complete line yet (the LF after the CR is needed too): Redis waits for it
                    // before it looks at the line, even when its first byte is already wrong.
                    if count - i > Self.inlineMax { return (i, ProtocolError("too big bulk count string")) }
                    break
                }
                if c != UInt8(ascii: "$") { return (i, ProtocolError(bytes: Array("expected '$', got '".utf8) + [c, UInt8(ascii: "'")])) }
                guard cr > i, let n = parseStrictInt(UnsafeRawBufferPointer(rebasing: p[(i + 1)..<cr])),
                      n >= 0, n <= maxBulkLength else {
                    return (i, ProtocolError("invalid bulk length"))
                }
                if n > Self.unauthenticatedMaxBulk && authLimits != .off && authLimits != .authenticated {
                    // The header stays unread: the caller decides (holdForAuth).
                    return (i, Self.unauthenticatedBulk)
                }
                bulkLength = n
                i = cr + 2
            }
            let n = bulkLength
            guard count - i >= n + 2 else { break }
            // Small arguments equal to the one at the same position of the previous command (the
            // command name, option words, a script's sha, repeated values) share its storage
            // instead of allocating a copy.
            let k = args.count
            if k < Self.recentSlots && n <= Self.recentMaxLength {
                let prev = recent[k]
                if prev.count == n && prev.raw.withUnsafeBytes({ memcmp($0.baseAddress ?? base, base + i, n) == 0 }) {
                    args.append(prev)
                } else {
                    let arg = Bytes(Array(UnsafeBufferPointer(start: (base + i).assumingMemoryBound(to: UInt8.self), count: n)))
                    recent[k] = arg
                    args.append(arg)
                }
            } else {
                // Array(UnsafeBufferPointer<UInt8>) takes the standard library's pre-specialized copy
                // path; [UInt8](unsafeUninitializedCapacity:) looks up generic metadata on every call.
                args.append(Bytes(Array(UnsafeBufferPointer(start: (base + i).assumingMemoryBound(to: UInt8.self), count: n))))
            }
            i += n + 2  // Redis skips the CRLF after a payload without checking it
            bulkLength = -1
            pendingArgs -= 1
        }
        return (i, nil)
    }

    static let recentSlots = 4
    static let recentMaxLength = 48

    /// Reads a `*N` or `$N` line ending in CRLF (the CR is what Redis looks for) and parses N, without
    /// copying the line: nil when the line is incomplete, .some(nil) when N is not a strict integer.
    /// The line's length with its CRLF, and N (nil when N is not a strict integer); nil when the
    /// line is incomplete. Nothing is consumed.
    @inline(__always)
    private static func numberLine(_ buffer: ByteBuffer) -> (Int, Int?)? {
        let found: (Int, Int?)? = buffer.withUnsafeReadableBytes { p in
            guard let base = p.baseAddress, p.count > 1 else { return nil }
            if let (n, cr) = plainNumber(base, from: 1, count: p.count) { return (cr, n) }
            guard let cr = lineEnd(base, from: 0, count: p.count, byte: 13) else { return nil }
            guard cr + 1 < p.count else { return nil }  // need the LF too
            return (cr, cr >= 1 ? parseStrictInt(UnsafeRawBufferPointer(rebasing: p[1..<cr])) : nil)
        }
        guard let (cr, n) = found else { return nil }
        return (cr + 2, n)
    }

    /// The index of the first `byte` in `p[from..<count]`, or nil when there is none or a NUL comes
    /// before it. Redis finds the end of a request line with `strchr` on its query buffer, which
    /// stops at a NUL: a line with a NUL before its end is never complete there (the client waits
    /// until the 64 KiB line limit's error), and Lunar treats it the same way.
    @inline(__always)
    static func lineEnd(_ p: UnsafeRawPointer, from: Int, count: Int, byte: UInt8) -> Int? {
        guard from < count, let q = memchr(p + from, CInt(byte), count - from) else { return nil }
        let end = UnsafeRawPointer(q) - p
        if memchr(p + from, 0, end - from) != nil { return nil }
        return end
    }

    /// `p[from...]` as plain decimal digits (not starting with 0, at most 18 of them) followed by a CR
    /// that has one more byte after it: the number and the CR's index, or nil for anything else (a
    /// sign, a zero, a partial line…), which the callers then parse the general way.
    @inline(__always)
    static func plainNumber(_ p: UnsafeRawPointer, from: Int, count: Int) -> (Int, Int)? {
        var j = from
        var v = 0
        while j < count {
            let c = p.load(fromByteOffset: j, as: UInt8.self)
            if c == 13 { break }
            guard c >= 48 && c <= 57, j - from < 18, c != 48 || j > from else { return nil }
            v = v &* 10 &+ Int(c &- 48)
            j += 1
        }
        guard j > from, j + 1 < count else { return nil }
        return (v, j)
    }

    private func parseInline(_ buffer: inout ByteBuffer) throws(ProtocolError) -> [Bytes]? {
        let end = buffer.withUnsafeReadableBytes { p -> Int? in
            guard let base = p.baseAddress else { return nil }
            return Self.lineEnd(base, from: 0, count: p.count, byte: 10)
        }
        guard let end else {
            if buffer.readableBytes > Self.inlineMax { throw ProtocolError("too big inline request") }
            return nil
        }
        var line = buffer.readBytes(length: end)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard let parts = splitArguments(line) else { throw ProtocolError("unbalanced quotes in request") }
        return parts
    }
}

/// Redis's strict integer syntax (string2ll): optional '-', no '+', no leading zeros, no spaces, fits in Int64.
@inlinable
public func parseStrictInt<C: Collection>(_ s: C) -> Int? where C.Element == UInt8 {
    var it = s.makeIterator()
    guard var c = it.next() else { return nil }
    var negative = false
    if c == UInt8(ascii: "-") {
        negative = true
        guard let d = it.next() else { return nil }
        c = d
    }
    if c == UInt8(ascii: "0") {
        // "0" alone is valid; "-0" and leading zeros are not.
        if it.next() != nil || negative { return nil }
        return 0
    }
    guard c >= 49 && c <= 57 else { return nil }
    var v: UInt64 = UInt64(c - 48)
    var digits = 1
    while let d = it.next() {
        guard d >= 48 && d <= 57 else { return nil }
        digits += 1
        if digits > 20 { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(d - 48))
        if o1 || o2 { return nil }
        v = a
    }
    if negative {
        if v > UInt64(Int64.max) + 1 { return nil }
        return v == UInt64(Int64.max) + 1 ? Int.min : -Int(v)
    }
    if v > UInt64(Int64.max) { return nil }
    return Int(v)
}

/// Splits an inline command line the way redis-cli and Redis's inline parser do:
/// whitespace-separated, "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \'.
/// Returns nil on unbalanced quotes (or a closing quote not followed by a space).
public func splitArguments(_ line: [UInt8]) -> [Bytes]? {
    var result: [Bytes] = []
    var i = 0
    let n = line.count
    func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 || c == 0 }
    func hexVal(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }
    while true {
        while i < n && isSpace(line[i]) { i += 1 }
        if i >= n { return result }
        var current = Bytes()
        var inDouble = false
        var inSingle = false
        var done = false
        while !done {
            if inDouble {
                if i >= n { return nil }
                let c = line[i]
                if c == 92 && i + 3 < n && line[i + 1] == UInt8(ascii: "x"), let h = hexVal(line[i + 2]), let l = hexVal(line[i + 3]) {
                    current.append(UInt8(h * 16 + l))
                    i += 3
                } else if c == 92 && i + 1 < n {
                    i += 1
                    switch line[i] {
                    case UInt8(ascii: "n"): current.append(10)
                    case UInt8(ascii: "r"): current.append(13)
                    case UInt8(ascii: "t"): current.append(9)
                    case UInt8(ascii: "b"): current.append(8)
                    case UInt8(ascii: "a"): current.append(7)
                    default: current.append(line[i])
                    }
                } else if c == UInt8(ascii: "\"") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else if inSingle {
                if i >= n { return nil }
                let c = line[i]
                if c == 92 && i + 1 < n && line[i + 1] == UInt8(ascii: "'") {
                    i += 1
                    current.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if i + 1 < n && !isSpace(line[i + 1]) { return nil }
                    done = true
                } else {
                    current.append(c)
                }
            } else {
                if i >= n { done = true; break }
                let c = line[i]
                if isSpace(c) {
                    done = true
                } else if c == UInt8(ascii: "\"") {
                    inDouble = true
                } else if c == UInt8(ascii: "'") {
                    inSingle = true
                } else {
                    current.append(c)
                }
            }
            if i < n { i += 1 }
        }
        result.append(current)
    }
}
