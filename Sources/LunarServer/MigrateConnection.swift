import LunarEngine
import LunarPersistence
import LunarRESP
import NIOCore
import NIOPosix

/// MIGRATE's connection to a target server: the request is written and the replies are read on an
/// event loop, while the engine thread waits for the outcome (MIGRATE is synchronous, as in Redis).
final class NIOMigrateSocket: MigrateSocket, @unchecked Sendable {
    private let channel: Channel
    private let handler: MigrateReplyHandler

    private init(channel: Channel, handler: MigrateReplyHandler) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects within `timeoutMs`; nil when the name does not resolve or the connect times out.
    /// A refused connection gives a socket whose writes fail: Redis's blocking connect only waits
    /// for the socket to become writable, so there the refusal shows as a write error.
    static func open(host: String, port: Int, timeoutMs: Int, group: EventLoopGroup) -> MigrateSocket? {
        guard port > 0 && port <= 65535 else { return RefusedMigrateSocket() }
        let handler = MigrateReplyHandler()
        let connect = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(Int64(min(timeoutMs, 1 << 40))))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: host, port: port)
        do {
            return NIOMigrateSocket(channel: try connect.wait(), handler: handler)
        } catch let error as NIOConnectionError where !error.connectionErrors.isEmpty {
            return RefusedMigrateSocket()
        } catch {
            return nil
        }
    }

    func exchange(_ request: [UInt8], replies: Int, timeoutMs: Int) -> MigrateExchange {
        let promise = channel.eventLoop.makePromise(of: MigrateExchange.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.begin(request: request, replies: replies, timeoutMs: timeoutMs, promise: promise)
        }
        return (try? promise.futureResult.wait()) ?? MigrateExchange(replies: [], failure: .reading)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// A target that refused the connection: every exchange fails as a write.
final class RefusedMigrateSocket: MigrateSocket {
    func exchange(_ request: [UInt8], replies: Int, timeoutMs: Int) -> MigrateExchange {
        MigrateExchange(replies: [], failure: .writing)
    }
    func close() {}
}

/// Runs one exchange at a time on the channel's event loop: writes the request, then collects the
/// expected number of replies, each within the timeout (Redis reads each reply with its own timeout).
final class MigrateReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var pending = ByteBuffer()
    private var parser = RESPValueParser()
    private var promise: EventLoopPromise<MigrateExchange>?
    private var expected = 0
    private var replies: [String] = []
    private var written = false
    private var timer: Scheduled<Void>?
    private var timeoutMs = 1000
    private var closed = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func begin(request: [UInt8], replies count: Int, timeoutMs: Int, promise: EventLoopPromise<MigrateExchange>) {
        guard let context, !closed else {
            promise.succeed(MigrateExchange(replies: [], failure: .writing))
            return
        }
        self.promise = promise
        expected = count
        replies = []
        written = false
        self.timeoutMs = min(timeoutMs, 1 << 40)
        armTimer(context)
        let write = context.eventLoop.makePromise(of: Void.self)
        write.futureResult.whenComplete { [self] result in
            switch result {
            case .success:
                written = true
                if replies.count >= expected { finish(nil) }
            case .failure:
                finish(.writing)
            }
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: request)), promise: write)
    }

    private func armTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMs))) { [self] in
            finish(written ? .reading : .writing, timedOut: true)
        }
    }

    private func finish(_ failure: MigrateExchange.Failure?, timedOut: Bool = false) {
        guard let p = promise else { return }
        promise = nil
        timer?.cancel()
        timer = nil
        p.succeed(MigrateExchange(replies: replies, failure: failure, timedOut: timedOut))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        pending.writeBuffer(&buf)
        while promise != nil && replies.count < expected {
            let value: RESPValue?
            do {
                value = try parser.decode(&pending)
            } catch {
                // A reply that is not RESP: the exchange ends as a read failure.
                finish(.reading)
                context.close(promise: nil)
                return
            }
            guard let value else { break }
            replies.append(Self.line(value))
            armTimer(context)
        }
        if promise != nil && replies.count >= expected && written { finish(nil) }
        pending.discardReadBytes()
    }

    /// The reply's first line, as Redis's MIGRATE reads it.
    static func line(_ v: RESPValue) -> String {
        switch v {
        case let .simple(s): return "+" + s.string
        case let .error(e): return "-" + e.string
        case let .integer(n): return ":\(n)"
        case let .bulk(b): return "$\(b.count)"
        default: return "+"
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        finish(written ? .reading : .writing)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(written ? .reading : .writing)
        context.close(promise: nil)
    }
}
