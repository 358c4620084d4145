#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

public struct ConnectionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A blocking connection to a Redis-protocol server over TCP or a unix socket.
public final class Connection {
    public private(set) var fd: Int32
    var rbuf: [UInt8] = []
    var rpos = 0
    /// Set by a SIGINT handler (or anyone) to abandon a blocking read.
    nonisolated(unsafe) public static var interrupted: Int32 = 0
    /// Called periodically (about every 100 ms) while waiting for a reply; used by the spinner.
    public var onWait: ((Double) -> Void)?

    init(fd: Int32) { self.fd = fd }
    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    public static func connect(host: String, port: Int, timeout: Double? = nil) throws -> Connection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        if rc != 0 { throw ConnectionError(String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(res) }
        var lastErr: Int32 = ECONNREFUSED
        var p = res
        while let ai = p {
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd >= 0 {
                if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
                    return Connection(fd: fd)
                }
                lastErr = errno
                _ = Glibc.close(fd)
            }
            p = ai.pointee.ai_next
        }
        throw ConnectionError(String(cString: strerror(lastErr)))
    }

    public static func connect(unixPath: String) throws -> Connection {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw ConnectionError(String(cString: strerror(errno))) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array(unixPath.utf8)
        let cap = MemoryLayout.size(ofValue: addr.sun_path) - 1
        if path.count > cap { _ = Glibc.close(fd); throw ConnectionError("Path too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, c) in path.enumerated() { raw[i] = c }
            raw[path.count] = 0
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if ok != 0 {
            let e = errno
            _ = Glibc.close(fd)
            throw ConnectionError(String(cString: strerror(e)))
        }
        return Connection(fd: fd)
    }

    // MARK: writing

    public func writeAll(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConnectionError(String(cString: strerror(errno)))
            }
            off += n
        }
    }

    public static func encode(_ args: [Bytes]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + args.reduce(0) { $0 + $1.count + 16 })
        out.append(contentsOf: Array("*\(args.count)\r\n".utf8))
        for a in args {
            out.append(contentsOf: Array("$\(a.count)\r\n".utf8))
            out.append(contentsOf: a.raw)
            out.append(13); out.append(10)
        }
        return out
    }

    public func send(_ args: [Bytes]) throws { try writeAll(Self.encode(args)) }

    public func send(_ args: [String]) throws { try send(args.map { Bytes($0) }) }

    // MARK: reading

    /// Reads some bytes (blocking). Returns false at EOF.
    func fill(waitStart: Double) throws -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            if Connection.interrupted != 0 { throw ConnectionError("Interrupted") }
            let r = poll(&pfd, 1, onWait == nil ? -1 : 100)
            if r < 0 {
                if errno == EINTR { continue }
                throw ConnectionError(String(cString: strerror(errno)))
            }
            if r == 0 { onWait?(monotonicSeconds() - waitStart); continue }
            break
        }
        if rpos > 0 && rpos == rbuf.count { rbuf.removeAll(keepingCapacity: true); rpos = 0 }
        if rpos > 65536 && rpos * 2 > rbuf.count { rbuf.removeFirst(rpos); rpos = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
        if n < 0 {
            if errno == EINTR { return true }
            throw ConnectionError(String(cString: strerror(errno)))
        }
        if n == 0 { return false }
        rbuf.append(contentsOf: chunk[0..<n])
        return true
    }

    /// True if bytes are ready on the socket right now.
    func readable() -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0
    }

    /// True if a complete reply is already buffered or bytes are waiting.
    public var hasPendingInput: Bool { rpos < rbuf.count || readable() }

    /// Reads the next reply, blocking until it arrives.
    public func readReply() throws -> Reply {
        let start = monotonicSeconds()
        var lastTry = -1
        while true {
            if rbuf.count > rpos && rbuf.count - rpos > lastTry {
                if let (r, next) = try ReplyParser.parse(rbuf, from: rpos) {
                    rpos = next
                    return r
                }
                lastTry = (rbuf.count - rpos) * 2  // re-parse only after the buffer doubled or the socket drained
            }
            if !(try fill(waitStart: start)) { throw ConnectionError("Server closed the connection") }
            while readable() && rbuf.count - rpos <= lastTry {
                if !(try fill(waitStart: start)) { throw ConnectionError("Server closed the connection") }
            }
            if !readable() { lastTry = min(lastTry, rbuf.count - rpos - 1) }
        }
    }

    public enum AggregateKind { case array, set, map }

    /// If the next reply is a non-empty array, set or map, consumes just its header and returns its kind and
    /// element count (a map counts keys and values), so the caller can read and print element by element.
    /// Otherwise consumes nothing and returns nil.
    public func readAggregateHeader() throws -> (AggregateKind, Int)? {
        let start = monotonicSeconds()
        while true {
            if rpos < rbuf.count {
                let t = rbuf[rpos]
                let kind: AggregateKind
                switch t {
                case UInt8(ascii: "*"): kind = .array
                case UInt8(ascii: "~"): kind = .set
                case UInt8(ascii: "%"): kind = .map
                default: return nil
                }
                var j = rpos + 1
                if let l = ReplyParser.line(rbuf, &j) {
                    let n = Int(try ReplyParser.int(l))
                    if n <= 0 { return nil }
                    rpos = j
                    return (kind, kind == .map ? n * 2 : n)
                }
            }
            if !(try fill(waitStart: start)) { throw ConnectionError("Server closed the connection") }
        }
    }

    /// Sends a command and reads its reply.
    public func call(_ args: [Bytes]) throws -> Reply {
        try send(args)
        return try readReply()
    }

    public func call(_ args: String...) throws -> Reply { try call(args.map { Bytes($0) }) }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
