import Atomics
import LunarEngine
import LunarRESP
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The engine's view of one connection: sends hop onto the connection's event loop.
final class ChannelConnection: ClientConnection, @unchecked Sendable {
    let channel: Channel
    /// The position of the channel's event loop in the group (the server groups replies by it).
    let loopIndex: Int
    /// The handler, to resume reading once the engine has caught up (event-loop confined). A strong
    /// reference, cleared when the channel goes inactive: a weak one would give the handler a side
    /// table, and every retain and release NIO makes of it per read would take the slow path.
    var handler: ConnectionHandler?
    /// The TCP socket's descriptor, when replies may be written to it directly (see `write`).
    private let fd: CInt?
    /// Replies handed to NIO and not written yet (event-loop confined): while there are any, later
    /// replies queue behind them in NIO so that the client receives everything in order.
    private var queuedInNIO = 0
    /// Counted reply buffers not written yet (see ClientConnection.unsentBytes): added by the engine
    /// when it hands them over, taken off here once the socket has them (or they are dropped). One
    /// word holds both figures, so each hand-over costs one atomic operation on either side: the
    /// bytes in the low 40 bits, the number of buffers above them (CLIENT LIST's `oll`).
    private let unsent = ManagedAtomic<Int>(0)
    private let unsentExempt = ManagedAtomic<Int>(0)
    private static let bufferUnit = 1 << 40
    private static let bytesMask = bufferUnit - 1
    /// Bytes received and not parsed into commands yet (stored by the handler after each parse).
    let unparsed = ManagedAtomic<Int>(0)
    init(channel: Channel, loopIndex: Int, fd: CInt?) {
        self.channel = channel
        self.loopIndex = loopIndex
        self.fd = fd
    }

    var descriptor: Int32 { fd ?? -1 }
    var unsentBytes: Int { unsent.load(ordering: .relaxed) & Self.bytesMask }
    var unsentExemptBytes: Int { unsentExempt.load(ordering: .relaxed) & Self.bytesMask }
    var unsentBuffers: Int {
        // The count wraps past 2^24 buffers; the bytes below it stay exact.
        Int(UInt(bitPattern: unsent.load(ordering: .relaxed)) >> 40) + Int(UInt(bitPattern: unsentExempt.load(ordering: .relaxed)) >> 40)
    }
    var unparsedInputBytes: Int { unparsed.load(ordering: .relaxed) }
    func noteHandedOver(_ bytes: Int, _ tracking: UnsentTracking) {
        switch tracking {
        case .limited: unsent.wrappingIncrement(by: Self.bufferUnit &+ bytes, ordering: .relaxed)
        case .exempt: unsentExempt.wrappingIncrement(by: Self.bufferUnit &+ bytes, ordering: .relaxed)
        case .none: break
        }
    }
    @inline(__always) private func released(_ bytes: Int, _ tracking: UnsentTracking) {
        guard bytes > 0 else { return }
        switch tracking {
        case .limited: unsent.wrappingDecrement(by: Self.bufferUnit &+ bytes, ordering: .relaxed)
        case .exempt: unsentExempt.wrappingDecrement(by: Self.bufferUnit &+ bytes, ordering: .relaxed)
        case .none: break
        }
    }

    func send(_ buffer: ByteBuffer, thenClose: Bool) {
        channel.eventLoop.execute { self.write(buffer, thenClose: thenClose) }
    }

    /// Writes on the channel's event loop.
    ///
    /// While the channel is open and NIO holds none of this connection's earlier replies, the reply
    /// goes straight to the socket with one `send` (SocketDescriptor: NIO's own write path costs
    /// more than the rest of a request's I/O work). Whatever the socket does not take at once (a
    /// full send buffer, an error) is handed to NIO, which waits for writability, or closes the
    /// channel on the error as before; later replies follow it through NIO until it is written.
    /// The descriptor cannot have been closed and reused here: NIO closes it on this event loop
    /// and the handler's context is cleared (channelInactive) before any other task runs.
    func write(_ buffer: ByteBuffer, thenClose: Bool, tracking: UnsentTracking = .none) {
        let handler = self.handler
        handler?.resumeIfCaughtUp()
        let n = buffer.readableBytes
        if n > 0 { handler?.batcher.countWrite() }
        // What the engine counted for this hand-over (the buffer's allocation): released when the
        // whole buffer has been written or dropped, since until then its storage stays allocated.
        let held = tracking == .none ? 0 : buffer.capacity
        if n > 0 {
            if thenClose {
                queuedInNIO += 1
                channel.writeAndFlush(NIOAny(buffer)).whenComplete { [channel] _ in
                    self.released(held, tracking)
                    channel.close(promise: nil)
                }
            } else if let context = handler?.context {
                var rest = buffer
                if let fd, queuedInNIO == 0 {
                    let sent = buffer.withUnsafeReadableBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                    if sent == n { released(held, tracking); return }
                    if sent > 0 { rest.moveReaderIndex(forwardBy: sent) }
                }
                queuedInNIO += 1
                let done = context.eventLoop.makePromise(of: Void.self)
                done.futureResult.whenComplete { _ in
                    self.queuedInNIO -= 1
                    self.released(held, tracking)
                }
                // From the handler's place in the pipeline: one step shorter than the channel's path.
                context.writeAndFlush(NIOAny(rest), promise: done)
            } else {
                released(held, tracking)
                channel.writeAndFlush(NIOAny(buffer), promise: nil)
            }
        } else {
            released(held, tracking)
            if thenClose { channel.close(promise: nil) }
        }
    }

    func close() {
        let channel = self.channel
        channel.eventLoop.execute { channel.close(promise: nil) }
    }
}

/// Reads RESP from a connection and hands whole batches of commands to the engine: every command
/// parsed from one read burst crosses to the engine thread in a single queue operation.
///
/// While a script holds the engine past busy-reply-threshold, this handler answers by itself:
/// BUSY errors, SCRIPT KILL / FUNCTION KILL (it sets the kill flag the script polls) and SHUTDOWN NOSAVE.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let engine: Engine
    let batcher: LoopBatcher
    private var parser: RequestParser
    private var cumulation: ByteBuffer?
    private var batch: [[Bytes]] = []
    private var client: Client!
    private var connection: ChannelConnection?
    private var failed = false
    private var paused = false
    private var reportedUnparsed = 0
    /// Set while the channel is active (event-loop confined).
    private(set) var context: ChannelHandlerContext?

    /// Backpressure: a client whose commands pile up faster than the engine runs them stops being
    /// read until the engine catches up, so a flood cannot grow queues without bound.
    static let pauseAbove = 16_384
    static let resumeBelow = 2_048

    init(engine: Engine, batcher: LoopBatcher) {
        self.engine = engine
        self.batcher = batcher
        self.parser = RequestParser(maxBulkLength: engine.protoMaxBulkLen.load(ordering: .relaxed))
    }

    func channelActive(context: ChannelHandlerContext) {
        let ch = context.channel
        self.context = context
        let conn = ChannelConnection(channel: ch, loopIndex: batcher.index, fd: SocketDescriptor.of(ch))
        conn.handler = self
        connection = conn
        client = Client(
            id: engine.newClientID(), connection: conn,
            remoteAddress: Self.describe(ch.remoteAddress, local: ch.localAddress),
            localAddress: Self.describe(ch.localAddress, local: ch.localAddress),
            now: unixMillis())
        // What the engine will set when it takes the connection in: known now, because requests
        // may be parsed before then (the unauthenticated limits, see authLimits).
        client.authenticated = !engine.authRequiredFlag.load(ordering: .acquiring)
        engine.connect(client)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let client {
            if client.debugging.load(ordering: .acquiring) { engine.debugChannel.disconnect() }
            batcher.flush()
            engine.disconnect(client)
            connection?.handler = nil
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        batcher.countRead()
        if failed { return }
        var incoming = unwrapInboundIn(data)
        if cumulation == nil || cumulation!.readableBytes == 0 {
            cumulation = incoming
        } else {
            cumulation!.writeBuffer(&incoming)
        }
        parseBuffered()
    }

    /// Parses what has been received into `batch` (or fails the connection on a protocol error).
    private func parseBuffered() {
        guard cumulation != nil else { return }
        parser.maxBulkLength = engine.protoMaxBulkLen.load(ordering: .relaxed)
        parser.authLimits = authLimits()
        do {
            try parser.parse(&cumulation!, into: &batch)
        } catch {
            submitBatch()
            fail(Array("ERR Protocol error: ".utf8) + error.bytes)
            return
        }
        // A client that sends a huge request without finishing it is cut off (client-query-buffer-limit).
        if let c = cumulation, c.readableBytes > engine.queryBufferLimit.load(ordering: .relaxed) {
            fail(nil)
            return
        }
        // CLIENT LIST's qbuf: stored only when it changes (it is 0 after almost every read).
        let left = cumulation?.readableBytes ?? 0
        if left != reportedUnparsed {
            reportedUnparsed = left
            connection?.unparsed.store(left, ordering: .relaxed)
        }
        if let c = cumulation {
            if c.readableBytes == 0 {
                // Let go of the read buffer rather than clearing it: it is shared with NIO's receive
                // buffer pool, so clearing it would copy it (a 16 KiB allocation per read) and keep
                // the pool from reusing it.
                cumulation = nil
            } else if c.readerIndex > 65536 {
                cumulation!.discardReadBytes()   // keep only the unparsed tail
            }
        }
    }

    /// Whether Redis's limits for unauthenticated clients apply to the next requests: they do while
    /// a password is required and this client has not authenticated, and whether it has is only
    /// known once the engine has run every command the client sent before.
    private func authLimits() -> RequestParser.AuthLimits {
        if !engine.authRequiredFlag.load(ordering: .acquiring) { return .off }
        // inFlight first: its release by the engine publishes the state of the commands it counts.
        let idle = batch.isEmpty && client.inFlight.load(ordering: .acquiring) == 0
        if idle { parser.sawReset = false }
        // Only RESET logs an authenticated client out (AUTH failing does not).
        if client.authenticatedFlag.load(ordering: .acquiring) && !parser.sawReset { return .authenticated }
        return idle ? .enforced : .undecided
    }

    func resumeIfCaughtUp() {
        // A request held until the client's earlier commands had run (the unauthenticated limits):
        // parse it now if they have.
        if parser.heldForAuth, !failed, client.inFlight.load(ordering: .acquiring) == 0 {
            parseBuffered()
            submitBatch()
        }
        guard paused, let context, client.inFlight.load(ordering: .relaxed) < Self.resumeBelow else { return }
        paused = false
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submitBatch()
        context.fireChannelReadComplete()
    }

    private func submitBatch() {
        guard !batch.isEmpty else { return }
        // A client debugging a script talks to the debugger, which holds the engine thread.
        if client.debugging.load(ordering: .acquiring) {
            engine.debugChannel.put(batch)
            batch = []
            return
        }
        if engine.busy.load(ordering: .acquiring) != 0 {
            batcher.flush()
            let cmds = batch
            batch = []
            answerWhileBusy(cmds)
            return
        }
        // Counted here, not when the batcher hands them over: until they have run, this client's
        // state (authentication, for one) may still change.
        client.inFlight.wrappingIncrement(by: batch.count, ordering: .relaxed)
        if batch.count == 1 {
            // The common case without pipelining: the command goes alone, and this connection's
            // batch array stays here for the next read (no array allocated and freed per request).
            batcher.add(.one(client, batch[0]))
            batch.removeAll(keepingCapacity: true)
        } else {
            batcher.add(.many(client, batch))
            batch = []
        }
        if !paused, let context, client.inFlight.load(ordering: .relaxed) > Self.pauseAbove {
            paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
    }

    /// The engine is held by a long script: answer here without waiting for it.
    private func answerWhileBusy(_ cmds: [[Bytes]]) {
        // Commands of this client still queued on the engine are answered there, in order, and so
        // are those of a client in MULTI (a rejection fails its transaction): the engine answers
        // them from the script's hook.
        if client.inFlight.load(ordering: .acquiring) > 0 || client.multiOpen.load(ordering: .acquiring) {
            client.inFlight.wrappingIncrement(by: cmds.count, ordering: .relaxed)
            batcher.add(.many(client, cmds))
            return
        }
        let kind = engine.busy.load(ordering: .acquiring)
        var out = ReplyWriter(resp: 2, capacity: 128)
        var forward: [[Bytes]] = []
        for argv in cmds {
            if !forward.isEmpty {
                // Behind a command the engine answers: the engine answers the rest, in order.
                forward.append(argv)
                continue
            }
            let name = argv[0].lowercased.string
            let sub = argv.count > 1 ? argv[1].lowercased.string : ""
            if (name == "script" || name == "function") && sub == "kill" && argv.count == 2 {
                if (name == "script") != (kind == 1) {
                    out.error(kind == 1 ? "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE." : "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
                } else if engine.scriptHasWritten.load(ordering: .acquiring) {
                    out.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
                } else {
                    engine.killRequested.store(true, ordering: .releasing)
                    out.ok()
                }
            } else if name == "shutdown" && argv.count >= 2 && argv[1].equalsIgnoringCase("nosave") {
                engine.shutdownHandler?(false)
            } else if let spec = engine.table.resolve(argv), spec.flags.contains(.allowBusy), name != "shutdown" {
                forward.append(argv)
            } else if name == "exec" {
                // Not in MULTI (or the engine would answer): nothing to discard, the reply as Redis's.
                out.error(Engine.execAbortWhileBusy(kind))
            } else {
                out.error(Engine.busyError(kind))
            }
        }
        if out.buffer.readableBytes > 0 { client.connection?.send(out.buffer, thenClose: false) }
        if !forward.isEmpty {
            client.inFlight.wrappingIncrement(by: forward.count, ordering: .relaxed)
            batcher.add(.many(client, forward))
        }
    }

    /// Stops reading; the engine answers the commands before the bad one, then the error, then closes.
    private func fail(_ error: [UInt8]?) {
        failed = true
        cumulation = nil
        batch = []
        batcher.flush()
        engine.failClient(client, error: error)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// An address as CLIENT LIST shows it: `ip:port`, or for a Unix socket connection (whose peer
    /// has no path) the server's socket path with port 0 on both ends, as Redis does.
    static func describe(_ a: SocketAddress?, local: SocketAddress?) -> String {
        guard let a else { return "" }
        switch a {
        case let .v4(x): return "\(x.host):\(a.port ?? 0)"
        case let .v6(x): return "\(x.host):\(a.port ?? 0)"
        case .unixDomainSocket: return "\(local?.pathname ?? a.pathname ?? ""):0"
        }
    }
}
