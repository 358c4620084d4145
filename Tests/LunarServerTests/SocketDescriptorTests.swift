import NIOCore
import NIOPosix
import XCTest

@testable import LunarServer

#if canImport(Glibc)
import Glibc
#endif

/// Replies are written straight to the socket descriptor that SocketDescriptor digs out of SwiftNIO's
/// channel. These tests fail when a SwiftNIO update moves it (the server would then quietly use NIO's
/// slower write path) and prove that the descriptor found is the connection's own.
final class SocketDescriptorTests: XCTestCase {
    /// Records what SocketDescriptor finds for each accepted channel.
    final class Recorder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let found: EventLoopPromise<CInt?>
        init(_ found: EventLoopPromise<CInt?>) { self.found = found }
        func channelActive(context: ChannelHandlerContext) {
            found.succeed(SocketDescriptor.of(context.channel))
        }
    }

    private func accept(_ group: EventLoopGroup, bind: (ServerBootstrap) throws -> Channel,
                        connect: (SocketAddress) throws -> CInt) throws -> (server: CInt?, client: CInt) {
        let found = group.next().makePromise(of: CInt?.self)
        let bootstrap = ServerBootstrap(group: group).childChannelInitializer { ch in
            ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Recorder(found)) }
        }
        let listener = try bind(bootstrap)
        defer { try? listener.close().wait() }
        let client = try connect(listener.localAddress!)
        return (try found.futureResult.wait(), client)
    }

    /// A plain blocking client socket connected to `address` (the SocketAddress's own sockaddr).
    private func connect(_ address: SocketAddress) throws -> CInt {
        let fd = socket(address.protocol.rawValue, CInt(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }, 0)
        return fd
    }

    /// Bytes sent on the descriptor arrive at the client socket this test connected.
    private func assertIsTheConnection(_ fd: CInt?, client: CInt) {
        guard let fd else { return XCTFail("no descriptor found: SwiftNIO's channel layout changed?") }
        let message: [UInt8] = Array("+PONG\r\n".utf8)
        XCTAssertEqual(Glibc.send(fd, message, message.count, CInt(MSG_NOSIGNAL)), message.count)
        var got = [UInt8](repeating: 0, count: 16)
        let n = recv(client, &got, got.count, 0)
        XCTAssertEqual(Array(got.prefix(max(n, 0))), message)
    }

    func testFindsTheAcceptedIPv4Socket() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // Several connections: each must get its own descriptor, not a neighbour's.
        for _ in 0..<3 {
            let (fd, client) = try accept(group, bind: { try $0.bind(host: "127.0.0.1", port: 0).wait() }, connect: connect)
            assertIsTheConnection(fd, client: client)
            close(client)
        }
    }

    func testFindsTheAcceptedIPv6Socket() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let listener: Channel
        do { listener = try ServerBootstrap(group: group).bind(host: "::1", port: 0).wait() } catch {
            throw XCTSkip("no IPv6 loopback here")
        }
        try listener.close().wait()
        let (fd, client) = try accept(group, bind: { try $0.bind(host: "::1", port: 0).wait() }, connect: connect)
        assertIsTheConnection(fd, client: client)
        close(client)
    }

    func testUnixSocketsKeepNIOsWritePath() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let path = NSTemporaryDirectory() + "lunar-sd-\(getpid()).sock"
        unlink(path)
        defer { unlink(path) }
        let (fd, client) = try accept(group, bind: { try $0.bind(unixDomainSocketPath: path).wait() }, connect: connect)
        XCTAssertNil(fd)
        close(client)
    }
}
