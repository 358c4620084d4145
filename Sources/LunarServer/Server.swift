import Foundation
import Logging
import LunarEngine
import LunarPersistence
import LunarRESP
import LunarScripting
import NIOCore
import NIOPosix

/// A startup problem reported to the user with a non-zero exit.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// The Lunar server: configuration, the engine thread, and the SwiftNIO listeners.
public final class LunarServer: @unchecked Sendable {
    public let engine: Engine
    public let config: ConfigStore
    private let group: MultiThreadedEventLoopGroup
    private var channels: [Channel] = []
    /// The TCP listeners (`port` and `bind`), replaced when CONFIG SET changes either.
    private var tcpChannels: [Channel] = []
    private var bootstrap: ServerBootstrap?
    private let logger: Logger

    public init(config: ConfigStore, logger: Logger) {
        self.config = config
        self.logger = logger
        let table = CommandTable()
        table.register(ScriptingCommands.specs)
        engine = Engine(config: config, table: table, logger: logger)
        let threads = max(1, config.int("io-threads"))
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    }

    /// Binds every configured address and starts the engine. Throws StartupError on failure.
    public func start() throws {
        try Scripting.install(on: engine)
        // RDB persistence: its commands, the dataset saved with function libraries, and the file loaded now.
        let persistence = Persistence.install(on: engine)
        RDBWriter.functionLibraries = { Scripting.libraryCodes($0) }
        RDBReader.functionLoader = { Scripting.loadLibrary($0, code: $1, keepExisting: $2, replace: $3) }
        RDBReader.functionFlusher = { Scripting.flushLibraries($0) }
        // SCRIPT DEBUG YES rolls a session back to an in-memory snapshot (Lunar cannot fork).
        engine.datasetCheckpoint = { [unowned engine, unowned persistence] in
            let saved = RDBWriter.snapshot(engine, compress: false, checksum: false)
            return {
                do { _ = try persistence.replaceDataset(with: saved) } catch {
                    engine.logger.error("Could not roll back the debugging session's changes: \(error)")
                }
            }
        }
        // A replica's full sync gets an RDB snapshot taken on the engine thread: the stream that
        // follows starts exactly where the snapshot ends. REPLCONF rdb-filter-only functions
        // (redis-cli --functions-rdb) gets the libraries and no keys.
        ReplicationMaster.of(engine).snapshot = { e, request in
            let p = Persistence.of(e)
            return RDBWriter.snapshot(e, extraAux: request.aux, compress: p?.compress ?? true,
                                      checksum: p?.checksum ?? true, includeKeys: !request.functionsOnly)
        }
        // The replica role: REPLICAOF connects through SwiftNIO, and a full sync's snapshot replaces
        // the dataset through the persistence module (which restarts the AOF from it).
        let replica = ReplicationReplica.install(on: engine)
        let linkGroup = group
        replica.connector = { [unowned engine] setup in NIOMasterLink.open(setup, group: linkGroup, engine: engine) }
        // MIGRATE's connections to its targets.
        Migrate.of(engine)?.connector = { host, port, timeoutMs in
            NIOMigrateSocket.open(host: host, port: port, timeoutMs: timeoutMs, group: linkGroup)
        }
        replica.loadSnapshot = { [unowned persistence, unowned engine] bytes in
            // Everything becomes the master's, functions included (the shipped libraries too, as
            // Redis replaces a replica's functions with its master's).
            Scripting.flushLibraries(engine)
            try persistence.replaceDataset(with: bytes)
            persistence.aof?.datasetReplaced()
        }
        // ACL users: the config file's `user` lines, or the ACL file (`aclfile`), as Redis 7.0 loads them.
        for d in config.userDirectives {
            if let err = engine.checkUserDirective(d.args) { throw ServerOptions.configError(d.line, d.number, d.source, err) }
        }
        if let err = engine.loadUsersAtStartup(config.userDirectives.map(\.args)) { throw StartupError(err) }
        let port = config.int("port")
        engine.serverInfo["tcp_port"] = String(port)
        let engine = self.engine
        // Per event loop: its command batcher, and its number (connections carry it for the replies).
        var batchers: [ObjectIdentifier: LoopBatcher] = [:]
        for (i, loop) in group.makeIterator().enumerated() { batchers[ObjectIdentifier(loop)] = LoopBatcher(loop: loop, index: i, engine: engine) }
        let loopBatchers = batchers
        engine.ioCounters = {
            loopBatchers.values.reduce(into: (reads: 0, writes: 0)) {
                $0.reads += $1.reads.load(ordering: .relaxed)
                $0.writes += $1.writes.load(ordering: .relaxed)
            }
        }
        // The event loops allocate every parsed request: maxmemory's gauge follows their counters.
        for loop in group.makeIterator() { loop.execute { MemoryGauge.shared.registerCurrentThread() } }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(config.int("tcp-backlog")))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 512, initial: 16384, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(engine: engine, batcher: loopBatchers[ObjectIdentifier(channel.eventLoop)]!))
                }
            }
        self.bootstrap = bootstrap
        if port != 0 {
            tcpChannels = try bindTCP(port: port, bind: config.string("bind"))
            if tcpChannels.isEmpty { throw StartupError("Failed listening on port \(port) (tcp), aborting.") }
        }
        // CONFIG SET port / bind move the listeners (connected clients stay), or fail and change nothing.
        listeningPort = port
        listeningBind = config.string("bind")
        config.appliers["port"] = { [unowned self] in
            self.rebindTCP(closeFirst: false) ? nil : "Unable to listen on this port. Check server logs."
        }
        config.appliers["bind"] = { [unowned self] in
            self.rebindTCP(closeFirst: true) ? nil : "Failed to bind to specified addresses."
        }
        let unix = config.string("unixsocket")
        if !unix.isEmpty {
            try? FileManager.default.removeItem(atPath: unix)
            do {
                let ch = try bootstrap.bind(unixDomainSocketPath: unix).wait()
                channels.append(ch)
                let perm = config.int("unixsocketperm")
                if perm != 0 { chmod(unix, mode_t(perm)) }
                logger.notice("Listening on unix socket \(unix)")
            } catch {
                throw StartupError("Failed opening Unix socket \(unix): \(error)")
            }
        }
        logStartupBanner(port: port)
        engine.shutdownHandler = { [weak self] now in self?.shutdown(save: false, waitForReplicas: !now) }
        // One hop per event loop per engine round, carrying every connection's replies. Every
        // connection is a ChannelConnection, numbered by its event loop (no per-round dictionary
        // or dynamic casts: this runs once per round on the engine thread).
        let loops = Array(group.makeIterator())
        engine.replySink = { batch in
            @inline(__always) func channelConnection(_ o: OutgoingReplies) -> ChannelConnection {
                unsafeDowncast(o.connection as AnyObject, to: ChannelConnection.self)
            }
            if loops.count == 1 {
                loops[0].execute { for o in batch { channelConnection(o).write(o.buffer, thenClose: o.thenClose, tracking: o.tracking) } }
                return
            }
            var byLoop = [[OutgoingReplies]](repeating: [], count: loops.count)
            for o in batch { byLoop[channelConnection(o).loopIndex].append(o) }
            for (i, items) in byLoop.enumerated() where !items.isEmpty {
                loops[i].execute { for o in items { channelConnection(o).write(o.buffer, thenClose: o.thenClose, tracking: o.tracking) } }
            }
        }
        // The dataset is read with the listeners up, as Redis does: clients that connect meanwhile
        // get LOADING for everything but the commands flagged `loading` (Engine.serveWhileLoading).
        do {
            try persistence.loadAtStartup()
        } catch {
            let text = "\(error)"
            if text.hasPrefix("Can't chdir") || error is AOFError { throw StartupError(text) }
            throw StartupError("Fatal error loading the DB (\(persistence.path)): \(text)\(text.hasSuffix(".") ? "" : ".") Exiting.")
        }
        // `replicaof host port` in the configuration: follow that master from the start.
        let replicaof = config.string("replicaof").split(separator: " ")
        if replicaof.count == 2, let mport = Int(replicaof[1]) {
            replica.follow(host: String(replicaof[0]), port: mport, continueOwnHistory: false)
        }
        engine.start()
        logger.notice("Ready to accept connections")
    }

    /// Once the listeners are up, before the dataset loads: the version, port and process id (with
    /// `always-show-logo yes`, or on a terminal, in the lines Redis's logo carries: tools that watch a
    /// server's log for " PID: " find it), else Redis's one-line form.
    private func logStartupBanner(port: Int) {
        if config.bool("always-show-logo") || (isatty(STDOUT_FILENO) != 0 && config.string("logfile").isEmpty) {
            logger.notice("Lunar \(LunarVersion.string) (Redis \(LunarVersion.redisCompatible) compatible) 64 bit, running in standalone mode")
            logger.notice(" Port: \(port)")
            logger.notice(" PID: \(getpid())")
        } else {
            logger.notice("Running mode=standalone, port=\(port).")
        }
    }

    /// Hands the replicas every byte of the stream before exiting (the kernel delivers what it was
    /// given even after the process ends), waiting at most `shutdown-timeout` seconds for the sockets
    /// to take it (Redis waits that long for the replicas' acknowledgements). Only on the engine
    /// thread: from an I/O thread (SHUTDOWN NOSAVE during a busy script) the replicas' state is off limits.
    private func flushReplicas() {
        guard engine.isEngineThread else { return }
        let timeoutSeconds = config.int("shutdown-timeout")
        let pending = ReplicationMaster.of(engine).takeUnsentStream()
        if pending.isEmpty { return }
        let done = DispatchSemaphore(value: 0)
        for (conn, buffer) in pending {
            guard let channel = (conn as? ChannelConnection)?.channel else { done.signal(); continue }
            // Writes on a channel complete in order: this one completing means the earlier ones did.
            channel.writeAndFlush(NIOAny(buffer)).whenComplete { _ in done.signal() }
        }
        let deadline = DispatchTime.now() + .seconds(timeoutSeconds)
        for _ in pending where done.wait(timeout: deadline) == .timedOut {
            logger.warning("Some replicas did not receive the whole replication stream before shutdown")
            return
        }
        logger.notice("All replicas received the replication stream before shutdown")
    }

    /// SIGINT/SIGTERM (`name`): on the engine thread, saves when `save` points are set (as Redis
    /// does), then exits. `shutdown-on-sigint`/`shutdown-on-sigterm` change that as SHUTDOWN's
    /// options do: save, nosave, now (no wait for replicas), force (exit even if saving fails).
    /// If the save fails without force the server keeps running, as Redis does.
    public func shutdownFromSignal(_ name: String) {
        // A script holding the engine past busy-reply-threshold: exit now without saving.
        if engine.busy.load(ordering: .relaxed) != 0 {
            shutdown(save: false)
            return
        }
        engine.enqueue { [weak self] e in
            guard let self else { return }
            let flags = Set(e.config.string(name == "SIGINT" ? "shutdown-on-sigint" : "shutdown-on-sigterm").split(separator: " "))
            if let p = Persistence.of(e),
               !p.prepareForShutdown(save: flags.contains("save"), nosave: flags.contains("nosave"), force: flags.contains("force")) {
                self.logger.warning("\(name) received but errors trying to shut down the server, check the logs for more information")
                return
            }
            self.shutdown(save: false, waitForReplicas: !flags.contains("now"))
        }
    }

    /// Closes listeners and exits the process (SHUTDOWN, SIGTERM).
    public func shutdown(save: Bool, waitForReplicas: Bool = true) {
        logger.warning("User requested shutdown...")
        if waitForReplicas { flushReplicas() }
        let pidfile = config.string("pidfile")
        if !pidfile.isEmpty { try? FileManager.default.removeItem(atPath: pidfile) }
        let unix = config.string("unixsocket")
        if !unix.isEmpty { try? FileManager.default.removeItem(atPath: unix) }
        logger.warning("Lunar is now ready to exit, bye bye...")
        exit(0)
    }

    /// Binds `port` on every address of `bind` ("-" before an address: skipped if it cannot be bound).
    private func bindTCP(port: Int, bind: String) throws -> [Channel] {
        guard let bootstrap else { return [] }
        var bound: [Channel] = []
        for var addr in bind.split(separator: " ").map(String.init) {
            let optional = addr.hasPrefix("-")
            if optional { addr.removeFirst() }
            do {
                bound.append(try bootstrap.bind(host: addr, port: port).wait())
                logger.notice("Listening on \(addr):\(port)")
            } catch {
                if optional { continue }
                for ch in bound { ch.close(promise: nil) }
                throw StartupError("Could not create server TCP listening socket \(addr):\(port): \(error)")
            }
        }
        return bound
    }

    /// Listens on the configured port and addresses instead of the current ones (on the engine
    /// thread, from CONFIG SET; waiting for the binds is brief). With `closeFirst` (a new `bind`, which
    /// may reuse the port) the old listeners close before, and come back if the new ones fail.
    private func rebindTCP(closeFirst: Bool) -> Bool {
        let port = config.int("port")
        let old = tcpChannels
        if closeFirst { for ch in old { try? ch.close().wait() } }
        do {
            tcpChannels = port == 0 ? [] : try bindTCP(port: port, bind: config.string("bind"))
        } catch {
            logger.warning("\(error)")
            if closeFirst { tcpChannels = (try? bindTCP(port: listeningPort, bind: listeningBind)) ?? [] }
            return false
        }
        if !closeFirst { for ch in old { try? ch.close().wait() } }
        listeningPort = port
        listeningBind = config.string("bind")
        engine.serverInfo["tcp_port"] = String(port)
        return true
    }
    /// The port and addresses the TCP listeners have now (what a failed rebind returns to).
    private var listeningPort = 0
    private var listeningBind = ""

    /// Blocks for good: the process ends through `shutdown` (exit), not when a listener closes (CONFIG
    /// SET port closes the old ones).
    public func wait() throws {
        while true { sleep(3600) }
    }
}
