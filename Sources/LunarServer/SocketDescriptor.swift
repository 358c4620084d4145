import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The socket descriptor of an accepted TCP connection, for writing replies straight to it.
///
/// Without pipelining, SwiftNIO's write path (pipeline, pending-writes queue, promises, flush) cost
/// more instructions per reply than the rest of the I/O thread's work on the request put together;
/// a `send(2)` of the engine's reply buffer does the same job when NIO has nothing queued (see
/// `ChannelConnection.write`). NIO keeps the descriptor private, so it is read by reflection from
/// the channel's `socket.descriptor` and then checked against the channel's own addresses: any
/// doubt (another NIO layout, a Unix socket, a mismatch) gives nil and the connection uses NIO's
/// path only. `LunarServerTests` fail if a NIO update hides the descriptor.
enum SocketDescriptor {
    static func of(_ channel: Channel) -> CInt? {
        guard let socket = member("socket", of: channel),
              let fd = member("descriptor", of: socket) as? CInt, fd >= 0 else { return nil }
        var type: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == CInt(SOCK_STREAM.rawValue),
              let local = channel.localAddress, let remote = channel.remoteAddress,
              matches(fd, local, getsockname), matches(fd, remote, getpeername) else { return nil }
        return fd
    }

    /// A stored property by name, searched through the superclasses too.
    private static func member(_ label: String, of value: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: value)
        while let m = mirror {
            if let child = m.children.first(where: { $0.label == label }) { return child.value }
            mirror = m.superclassMirror
        }
        return nil
    }

    /// Whether the socket's address (from getsockname or getpeername) is `expected`: family, address and port.
    private static func matches(
        _ fd: CInt, _ expected: SocketAddress,
        _ query: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) -> Bool {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { query(fd, $0, &length) == 0 }
        }
        guard ok else { return false }
        switch expected {
        case let .v4(a):
            guard storage.ss_family == sa_family_t(AF_INET) else { return false }
            let got = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            return got.sin_port == a.address.sin_port && got.sin_addr.s_addr == a.address.sin_addr.s_addr
        case let .v6(a):
            guard storage.ss_family == sa_family_t(AF_INET6) else { return false }
            var got = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            var want = a.address
            return got.sin6_port == want.sin6_port
                && memcmp(&got.sin6_addr, &want.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        case .unixDomainSocket:
            return false
        }
    }
}
