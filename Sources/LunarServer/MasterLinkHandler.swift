import Foundation
import LunarEngine
import LunarRESP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The network side of this server's link to its master (REPLICAOF): a SwiftNIO client connection
/// that runs Redis's replica handshake (PING, AUTH, REPLCONF listening-port and capa psync2, PSYNC),
/// receives the snapshot of a full sync, then parses the master's stream into commands with their
/// raw bytes. Every step is reported to the engine (`ReplicationReplica.link…`) with `engine.enqueue`;
/// the engine applies the data. Parsing happens here, on the event loop, off the engine thread.
final class NIOMasterLink: MasterLink, @unchecked Sendable {
    private let lock = NIOLock()
    private var channel: Channel?
    private var closed = false

    /// Connects with `setup` on one of the group's event loops.
    static func open(_ setup: MasterLinkSetup, group: EventLoopGroup, engine: Engine) -> NIOMasterLink {
        let link = NIOMasterLink()
        let gen = setup.generation
        let report: @Sendable (@escaping (ReplicationReplica) -> Void) -> Void = { f in
            engine.enqueue { e in if let r = ReplicationReplica.of(e) { f(r) } }
        }
        ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MasterLinkHandler(setup: setup, report: report))
                }
            }
            .connect(host: setup.host, port: setup.port)
            .whenComplete { result in
                switch result {
                case let .success(ch):
                    let keep = link.lock.withLock { () -> Bool in
                        if link.closed { return false }
                        link.channel = ch
                        return true
                    }
                    if !keep { ch.close(promise: nil) }
                case let .failure(error):
                    report { $0.linkClosed(generation: gen, reason: "\(error)") }
                }
            }
        return link
    }

    func send(_ bytes: [UInt8]) {
        guard let ch = lock.withLock({ channel }) else { return }
        ch.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func close() {
        let ch = lock.withLock { () -> Channel? in
            closed = true
            return channel
        }
        ch?.close(promise: nil)
    }
}

/// The replica side of the replication protocol, one connection to the master.
final class MasterLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Waiting for the reply to the handshake command at this index of `handshake`.
        case handshake(Int)
        /// +FULLRESYNC received: waiting for the `$<length>` line (the master may send newlines first).
        case payloadHeader(replID: String, offset: Int64)
        case payload(replID: String, offset: Int64, length: Int)
        case stream
        case done
    }

    private let setup: MasterLinkSetup
    private let report: @Sendable (@escaping (ReplicationReplica) -> Void) -> Void
    private var phase = Phase.handshake(0)
    private var pending = ByteBuffer()
    private var payload: [UInt8] = []
    private var lastProgress = 0
    private let handshake: [[String]]

    init(setup: MasterLinkSetup, report: @escaping @Sendable (@escaping (ReplicationReplica) -> Void) -> Void) {
        self.setup = setup
        self.report = report
        var steps: [[String]] = [["PING"]]
        if let auth = setup.masterAuth {
            steps.append(setup.masterUser.map { ["AUTH", $0, auth] } ?? ["AUTH", auth])
        }
        steps.append(["REPLCONF", "listening-port", String(setup.listeningPort)])
        steps.append(["REPLCONF", "capa", "psync2"])
        steps.append(["PSYNC", setup.psyncID, String(setup.psyncOffset)] + (setup.failover ? ["FAILOVER"] : []))
        handshake = steps
    }

    func channelActive(context: ChannelHandlerContext) {
        sendStep(context, 0)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail("connection closed by the master")
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail("\(error)")
        context.close(promise: nil)
    }

    private func fail(_ reason: String) {
        if case .done = phase { return }
        phase = .done
        let gen = setup.generation
        report { $0.linkClosed(generation: gen, reason: reason) }
    }

    private func sendStep(_ context: ChannelHandlerContext, _ i: Int) {
        let argv = handshake[i]
        var out = "*\(argv.count)\r\n"
        for a in argv { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: out)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        pending.writeBuffer(&buf)
        process(context)
        pending.discardReadBytes()
    }

    private func process(_ context: ChannelHandlerContext) {
        let gen = setup.generation
        while true {
            switch phase {
            case let .handshake(i):
                guard let line = readLine() else { return }
                let step = handshake[i][0]
                if line.hasPrefix("-") {
                    // A master that wants AUTH still answers PING, and REPLCONF options it does not
                    // know are not fatal (Redis continues too); anything else ends this attempt.
                    let benign = (step == "PING" && (line.hasPrefix("-NOAUTH") || line.hasPrefix("-NOPERM") || line.hasPrefix("-ERR operation not permitted")))
                        || step == "REPLCONF"
                    if !benign {
                        fail("\(step) answered \(line.dropFirst())")
                        context.close(promise: nil)
                        return
                    }
                }
                if step == "PSYNC" {
                    let words = line.dropFirst().split(separator: " ").map(String.init)
                    if words.first == "FULLRESYNC", words.count >= 3, let off = Int64(words[2]) {
                        phase = .payloadHeader(replID: words[1], offset: off)
                    } else if words.first == "CONTINUE" {
                        let newID = words.count >= 2 ? words[1] : nil
                        phase = .stream
                        report { $0.linkContinue(generation: gen, newReplID: newID) }
                    } else {
                        fail("unexpected reply to PSYNC: \(line)")
                        context.close(promise: nil)
                        return
                    }
                } else {
                    phase = .handshake(i + 1)
                    sendStep(context, i + 1)
                }
            case let .payloadHeader(id, off):
                // Newlines are the master's keep-alives while it prepares the snapshot.
                while pending.readableBytes > 0, pending.getInteger(at: pending.readerIndex, as: UInt8.self) == 10 {
                    pending.moveReaderIndex(forwardBy: 1)
                }
                guard let line = readLine() else { return }
                guard line.hasPrefix("$"), let n = Int(line.dropFirst()), n >= 0 else {
                    fail("bad snapshot header from the master: \(line.prefix(64))")
                    context.close(promise: nil)
                    return
                }
                payload = []
                payload.reserveCapacity(n)
                lastProgress = 0
                phase = .payload(replID: id, offset: off, length: n)
                report { $0.linkSyncing(generation: gen, totalBytes: Int64(n)) }
            case let .payload(id, off, n):
                let take = min(n - payload.count, pending.readableBytes)
                if take > 0, let bytes = pending.readBytes(length: take) { payload.append(contentsOf: bytes) }
                if payload.count < n {
                    if payload.count - lastProgress >= 1 << 20 {
                        lastProgress = payload.count
                        let read = Int64(payload.count)
                        report { $0.linkSyncProgress(generation: gen, readBytes: read) }
                    }
                    return
                }
                let snapshot = payload
                payload = []
                phase = .stream
                report { $0.linkFullSync(generation: gen, replID: id, offset: off, snapshot: snapshot) }
            case .stream:
                var commands: [(argv: [Bytes], raw: [UInt8])] = []
                while let cmd = readCommand() {
                    guard let cmd else {
                        fail("protocol error in the master's stream")
                        context.close(promise: nil)
                        return
                    }
                    commands.append(cmd)
                }
                if !commands.isEmpty {
                    let batch = commands
                    report { $0.linkApply(generation: gen, batch) }
                }
                return
            case .done:
                pending.clear()
                return
            }
        }
    }

    /// A `\r\n`-terminated line (without it), or nil if not complete yet.
    private func readLine() -> String? {
        let view = pending.readableBytesView
        guard let cr = view.firstIndex(of: 13), cr + 1 < view.endIndex, view[cr + 1] == 10 else { return nil }
        let len = cr - view.startIndex
        let s = pending.readString(length: len) ?? ""
        pending.moveReaderIndex(forwardBy: 2)
        return s
    }

    /// The next command of the stream with its raw bytes: nil when incomplete (nothing consumed),
    /// .some(nil) on a protocol error.
    private func readCommand() -> (argv: [Bytes], raw: [UInt8])?? {
        let parsed = pending.withUnsafeReadableBytes { Multibulk.parse($0, from: 0) }
        switch parsed {
        case let .command(argv, end):
            let raw = pending.readBytes(length: end) ?? []
            return .some((argv, raw))
        case .incomplete:
            return nil
        case .malformed:
            return .some(nil)
        }
    }
}
