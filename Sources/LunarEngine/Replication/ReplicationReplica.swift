import DequeModule
import LunarRESP

/// The network side of a link to a master (the server module implements it with SwiftNIO): it
/// connects, runs the handshake, receives the snapshot and parses the stream, and reports each step
/// to the engine with `engine.enqueue`. The engine only hands it bytes to send (ACKs).
public protocol MasterLink: AnyObject {
    /// Sends bytes to the master (thread-safe: the network side writes them on its own thread).
    func send(_ bytes: [UInt8])
    func close()
}

/// What a link needs to know to connect and ask for the stream.
public struct MasterLinkSetup: Sendable {
    public let host: String
    public let port: Int
    /// This server's port, announced with REPLCONF listening-port.
    public let listeningPort: Int
    public let masterUser: String?
    public let masterAuth: String?
    /// PSYNC arguments: the history and offset to continue from, or ("?", -1) for a full sync.
    public let psyncID: String
    public let psyncOffset: Int64
    /// Identifies the link in its reports: reports from an older link are ignored.
    public let generation: Int
    /// PSYNC carries FAILOVER: this server, a master handing over, asks the target to take over.
    public var failover = false
}

/// This server as a replica (REPLICAOF host port): the engine-side state of the link to the master.
/// Everything here runs on the engine thread.
///
/// The master's stream is applied by an internal client flagged `isMasterLink`, one command at a
/// time between other clients' commands, exactly as it arrives; the replica's offset counts the
/// stream's bytes, and the bytes go on unchanged to this server's own replicas (chained
/// replication, `ReplicationMaster.proxy`). Keys do not expire here until the master's DEL arrives.
public final class ReplicationReplica {
    static let key = "lunar.replica"

    public enum LinkState: String { case none, connect, connecting, sync, connected }

    unowned let engine: Engine
    /// Opens a link (set by the server). Without it REPLICAOF cannot connect.
    public var connector: ((MasterLinkSetup) -> MasterLink)?
    /// Replaces the dataset with the master's snapshot (set by the server: the persistence module
    /// loads it, and restarts the AOF from it). Throws when the payload cannot be loaded.
    public var loadSnapshot: (([UInt8]) throws -> Void)?

    public private(set) var masterHost: String?
    public private(set) var masterPort = 0
    public private(set) var state: LinkState = .none
    private var link: MasterLink?
    private var generation = 0
    /// The master's history this replica follows, and the offset of the last byte it applied; nil
    /// before the first sync (a reconnect then asks for a full one).
    private var masterReplID: String?
    private var masterClient: Client?
    /// The database the master's stream has selected (kept across a partial resync: the stream
    /// continues without selecting again).
    private var masterDB = 0
    /// Stream bytes applied inside a MULTI not yet closed: as in Redis, the replica's offset moves
    /// (and the bytes go on to its own replicas) only at EXEC, so a link lost mid-transaction
    /// resumes from the MULTI.
    private var pendingRaw: [UInt8] = []
    /// The stream from the first command a CLIENT PAUSE holds on: as Redis, the master's writes wait
    /// for the pause to end (and all that follows them, REPLCONF GETACK included).
    private var held = Deque<(argv: [Bytes], raw: [UInt8])>()
    /// Bytes received but not yet applied (slave_read_repl_offset − slave_repl_offset).
    private var readAhead: Int64 = 0
    /// Monotonic ms: last data from the master, when to try connecting next, last ACK sent.
    private var lastIO: Int64 = 0
    private var nextAttempt: Int64 = 0
    private var lastAck: Int64 = 0
    /// Unix seconds the link went down (master_link_down_since_seconds), 0 while up or never up.
    private var linkDownSince: Int64 = 0
    /// Snapshot transfer progress (master_sync_* fields).
    private var syncTotal: Int64 = -1
    private var syncRead: Int64 = 0

    init(engine: Engine) {
        self.engine = engine
    }

    public static func of(_ engine: Engine) -> ReplicationReplica? { engine.extensions[key] as? ReplicationReplica }

    /// Creates the replica state (its REPLICAOF command works once `connector` is set).
    @discardableResult
    public static func install(on engine: Engine) -> ReplicationReplica {
        if let r = of(engine) { return r }
        let r = ReplicationReplica(engine: engine)
        engine.extensions[key] = r
        engine.cronHooks.append { e in ReplicationReplica.of(e)?.cron() }
        engine.config.onChange.append { [unowned r] name, _ in
            if name == "replica-read-only" || name == "replica-serve-stale-data" { r.updateReadOnly() }
        }
        return r
    }

    private var master: ReplicationMaster { ReplicationMaster.of(engine) }
    private var offset: Int64 { master.offset }

    // MARK: REPLICAOF

    static var specs: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .stale, .noAsyncLoading]
        let handler: CommandHandler = { ctx in
            guard let r = of(ctx.engine) else {
                ctx.error("ERR REPLICAOF is not available")
                return
            }
            r.replicaof(ctx)
        }
        return [
            CommandSpec("replicaof", arity: 3, flags: flags, group: .server, since: "5.0.0",
                        summary: "Makes this server a replica of another one (host port), or a master again (NO ONE).",
                        complexity: "O(1)", syntax: "host port", handler: handler),
            CommandSpec("slaveof", arity: 3, flags: flags, group: .server, since: "1.0.0",
                        summary: "Makes this server a replica of another one (host port), or a master again (NO ONE); REPLICAOF's old name.",
                        complexity: "O(1)", syntax: "host port", handler: handler),
        ]
    }

    func replicaof(_ ctx: CommandContext) {
        if ctx.arg(1, is: "no") && ctx.arg(2, is: "one") {
            if masterHost != nil {
                becomeMaster()
                engine.logger.notice("MASTER MODE enabled (user request from '\(ctx.client.remoteAddress)')")
            }
            ctx.ok()
            return
        }
        guard let port = parseStrictInt(ctx.argv[2].raw), port >= 0, port <= 65535 else {
            ctx.error("ERR Invalid master port")
            return
        }
        let host = ctx.argv[1].string
        if masterHost == host && masterPort == port {
            engine.logger.notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
            ctx.out.simple("OK Already connected to specified master")
            return
        }
        follow(host: host, port: port, continueOwnHistory: true)
        engine.logger.notice("REPLICAOF \(host):\(port) enabled (user request from '\(ctx.client.remoteAddress)')")
        ctx.ok()
    }

    /// Starts following a master (REPLICAOF, or `replicaof` at start-up): the link connects from the cron.
    /// `continueOwnHistory`: a master turned replica asks to continue from its own history (PSYNC
    /// with its id and offset: a failover among replicas of one master needs no full sync), as
    /// Redis's REPLICAOF does; at start-up there is none and it asks for a full sync.
    public func follow(host: String, port: Int, continueOwnHistory: Bool) {
        let wasMaster = masterHost == nil
        dropLink()
        masterHost = host
        masterPort = port
        _ = engine.config.set("replicaof", "\(host) \(port)", startup: true)   // CONFIG GET replicaof shows it
        state = .connect
        nextAttempt = 0
        linkDownSince = 0
        engine.isReplicaRole = true
        updateReadOnly()
        if wasMaster {
            masterReplID = continueOwnHistory ? master.replID : nil
            masterDB = 0
        }
        // This server's own replicas stay: they are disconnected when the history changes (a full
        // sync, or a new id on +CONTINUE).
        connectIfDue()
    }

    /// REPLICAOF NO ONE: stop following; the data stays and this server takes writes again.
    func becomeMaster() {
        dropLink()
        masterHost = nil
        masterPort = 0
        _ = engine.config.set("replicaof", "", startup: true)
        state = .none
        engine.isReplicaRole = false
        updateReadOnly()
        master.promoted()
    }

    /// The gates a replica puts on other clients: READONLY (replica-read-only) and, while the link
    /// is not up, MASTERDOWN (replica-serve-stale-data no). Called whenever role, link or config change.
    func updateReadOnly() {
        let ro = engine.isReplicaRole && engine.config.get("replica-read-only") != "no"
        engine.readOnlyReplicaError = ro ? "READONLY You can't write against a read only replica." : nil
        let stale = engine.isReplicaRole && state != .connected && engine.config.get("replica-serve-stale-data") == "no"
        engine.staleReplicaError = stale ? "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'." : nil
    }

    private func dropLink() {
        generation += 1
        link?.close()
        link = nil
        if let c = masterClient {
            if c.inMulti {
                c.inMulti = false
                c.multiFailed = false
                c.queued.removeAll()
            }
        }
        masterClient = nil
        readAhead = 0
        syncTotal = -1
        syncRead = 0
    }

    // MARK: The link's reports (enqueued by the network side)

    private func current(_ gen: Int) -> Bool { gen == generation && masterHost != nil }

    /// The handshake is done and the master answered PSYNC: the snapshot transfer begins.
    public func linkSyncing(generation gen: Int, totalBytes: Int64) {
        guard current(gen) else { return }
        master.failoverPsyncAccepted()
        state = .sync
        syncTotal = totalBytes
        syncRead = 0
        lastIO = monotonicMillis()
    }

    /// Progress of the snapshot transfer (INFO master_sync_read_bytes).
    public func linkSyncProgress(generation gen: Int, readBytes: Int64) {
        guard current(gen) else { return }
        syncRead = readBytes
        lastIO = monotonicMillis()
    }

    /// +FULLRESYNC and the snapshot: the dataset is replaced and the stream follows from `offset`.
    public func linkFullSync(generation gen: Int, replID: String, offset: Int64, snapshot: [UInt8]) {
        guard current(gen) else { return }
        engine.logger.notice("MASTER <-> REPLICA sync: Loading DB in memory (\(snapshot.count) bytes)")
        do {
            guard let loadSnapshot else { throw ReplicaError("no snapshot loader") }
            try loadSnapshot(snapshot)
        } catch {
            engine.logger.warning("Failed trying to load the MASTER synchronization DB from socket: \(error)")
            linkClosed(generation: gen, reason: "bad snapshot")
            return
        }
        masterReplID = replID
        masterDB = 0
        master.adoptMasterHistory(replID: replID, offset: offset)
        startStream()
        engine.logger.notice("MASTER <-> REPLICA sync: Finished with success")
    }

    /// +CONTINUE: the master keeps sending from where this replica was.
    public func linkContinue(generation gen: Int, newReplID: String?) {
        guard current(gen) else { return }
        master.failoverPsyncAccepted()
        if let id = newReplID, id != masterReplID {
            master.masterChangedID(to: id)
            masterReplID = id
        }
        startStream()
        engine.logger.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
    }

    private func startStream() {
        let c = Client(id: engine.newClientID(), connection: nil, remoteAddress: "\(masterHost ?? ""):\(masterPort)",
                       now: unixMillis())
        c.isMasterLink = true
        c.db = masterDB
        masterClient = c
        pendingRaw.removeAll()
        held.removeAll()
        state = .connected
        updateReadOnly()
        linkDownSince = 0
        lastIO = monotonicMillis()
        readAhead = 0
        sendAck()
    }

    /// Bytes of the stream arrived (counted before they are applied: slave_read_repl_offset).
    public func linkReceived(generation gen: Int, bytes: Int) {
        guard current(gen) else { return }
        readAhead += Int64(bytes)
        lastIO = monotonicMillis()
    }

    /// Commands of the stream, each with its raw bytes: applied in order, then passed on.
    public func linkApply(generation gen: Int, _ commands: [(argv: [Bytes], raw: [UInt8])]) {
        guard current(gen), let c = masterClient else { return }
        lastIO = monotonicMillis()
        for cmd in commands {
            if !held.isEmpty || pauseHolds(cmd.argv, c) {
                held.append(cmd)
                engine.pauseHoldsWork = true
                continue
            }
            apply(cmd, c)
        }
        masterDB = c.db
    }

    /// Whether CLIENT PAUSE holds this command of the master's (see ClientPause.swift).
    private func pauseHolds(_ argv: [Bytes], _ c: Client) -> Bool {
        guard engine.pauseActive, let spec = engine.table.resolve(argv) else { return false }
        return engine.postponedByPause(spec, argv, c)
    }

    /// Applies the stream a pause held, once it is over (called by the engine between commands).
    func resumeHeld() {
        guard let c = masterClient else { held.removeAll(); return }
        while let cmd = held.first, !pauseHolds(cmd.argv, c) {
            held.removeFirst()
            apply(cmd, c)
        }
        if !held.isEmpty { engine.pauseHoldsWork = true }   // a new pause holds the rest
        masterDB = c.db
    }

    /// Applies one command of the stream, then passes it on to this server's own replicas.
    private func apply(_ cmd: (argv: [Bytes], raw: [UInt8]), _ c: Client) {
        let argv = cmd.argv
        if argv.count >= 2 && argv[0].equalsIgnoringCase("replconf") && argv[1].equalsIgnoringCase("getack") {
            // Answered with the offset before this command, as Redis does; then counted.
            sendAck()
        } else if !(argv.count == 1 && argv[0].equalsIgnoringCase("ping")) {
            engine.executeTopLevel(c, argv)
            c.output.buffer.clear()
        }
        if c.inMulti {
            pendingRaw.append(contentsOf: cmd.raw)
        } else if pendingRaw.isEmpty {
            cmd.raw.withUnsafeBytes { master.proxy($0) }
        } else {
            pendingRaw.append(contentsOf: cmd.raw)
            pendingRaw.withUnsafeBytes { master.proxy($0) }
            pendingRaw.removeAll()
        }
    }

    /// The link is gone (closed by either side, failed to connect, or a protocol error): retry in a second.
    public func linkClosed(generation gen: Int, reason: String) {
        guard current(gen) else { return }
        // A FAILOVER whose target did not answer the PSYNC is aborted (this server is a master again).
        if master.failover.phase == .inProgress {
            master.failoverLinkFailed(reason)
            return
        }
        if state == .connected {
            engine.logger.warning("Connection with master lost.")
            linkDownSince = unixMillis() / 1000
        } else {
            engine.logger.warning("Error condition on socket for SYNC: \(reason)")
        }
        link?.close()
        link = nil
        generation += 1
        if let c = masterClient, c.inMulti {
            // A transaction cut off by the link's loss never happened (the master resends it whole).
            c.inMulti = false
            c.multiFailed = false
            c.queued.removeAll()
        }
        masterClient = nil
        pendingRaw.removeAll()
        held.removeAll()
        readAhead = 0
        state = .connect
        updateReadOnly()
        nextAttempt = monotonicMillis() + 1000
    }

    // MARK: Cron

    func cron() {
        guard masterHost != nil else { return }
        let now = monotonicMillis()
        connectIfDue()
        if state == .connected && now - lastAck >= 1000 { sendAck() }
        // A master silent past repl-timeout (it PINGs every repl-ping-replica-period) is given up on.
        let timeout = Int64(engine.config.int("repl-timeout")) * 1000
        if (state == .connected || state == .sync || state == .connecting) && now - lastIO > timeout {
            engine.logger.warning("MASTER timeout: no data nor PING received...")
            linkClosed(generation: generation, reason: "timeout")
        }
    }

    private func connectIfDue() {
        guard state == .connect, let host = masterHost, let connector else { return }
        let now = monotonicMillis()
        if now < nextAttempt { return }
        generation += 1
        state = .connecting
        lastIO = now
        let continuing = masterReplID != nil && !(masterReplID!.allSatisfy { $0 == "0" })
        var setup = MasterLinkSetup(
            host: host, port: masterPort, listeningPort: engine.config.int("port"),
            masterUser: nonEmpty(engine.config.string("masteruser")),
            masterAuth: nonEmpty(engine.config.string("masterauth")),
            psyncID: continuing ? masterReplID! : "?", psyncOffset: continuing ? offset + 1 : -1,
            generation: generation)
        setup.failover = master.failover.phase == .inProgress
        engine.logger.notice("Connecting to MASTER \(host):\(masterPort)")
        link = connector(setup)
    }

    private func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    /// REPLCONF ACK <offset>: how far this replica has applied the stream (masters' WAIT and lag).
    private func sendAck() {
        guard let link, state == .connected else { return }
        lastAck = monotonicMillis()
        let off = String(offset)
        link.send(Array("*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$\(off.utf8.count)\r\n\(off)\r\n".utf8))
    }

    // MARK: Reports

    /// INFO replication while following a master (Redis's replica fields, in its order).
    func infoLines() -> [String] {
        let nowMs = monotonicMillis()
        let up = state == .connected
        var lines = [
            "role:slave",
            "master_host:\(masterHost ?? "")",
            "master_port:\(masterPort)",
            "master_link_status:\(up ? "up" : "down")",
            "master_last_io_seconds_ago:\(up ? Int((nowMs - lastIO) / 1000) : -1)",
            "master_sync_in_progress:\(state == .sync ? 1 : 0)",
            "slave_read_repl_offset:\(offset + Int64(pendingRaw.count) + readAhead)",
            "slave_repl_offset:\(offset)",
        ]
        if state == .sync {
            let total = max(syncTotal, 0)
            lines += [
                "master_sync_total_bytes:\(syncTotal)",
                "master_sync_read_bytes:\(syncRead)",
                "master_sync_left_bytes:\(max(0, total - syncRead))",
                "master_sync_perc:\(String(format: "%.2f", total > 0 ? Double(syncRead) * 100 / Double(total) : 0))",
                "master_sync_last_io_seconds_ago:\(Int((nowMs - lastIO) / 1000))",
            ]
        }
        if !up {
            lines.append("master_link_down_since_seconds:\(linkDownSince > 0 ? unixMillis() / 1000 - linkDownSince : -1)")
        }
        lines += [
            "slave_priority:\(engine.config.int("replica-priority"))",
            "slave_read_only:\(engine.readOnlyReplicaError != nil ? 1 : 0)",
            "replica_announced:\(engine.config.get("replica-announced") == "no" ? 0 : 1)",
        ]
        return lines
    }

    /// ROLE: ["slave", host, port, state, offset].
    func role(_ ctx: CommandContext) {
        ctx.out.array(5)
        ctx.out.bulk("slave")
        ctx.out.bulk(masterHost ?? "")
        ctx.out.integer(masterPort)
        switch state {
        case .none, .connect: ctx.out.bulk("connect")
        case .connecting: ctx.out.bulk("connecting")
        case .sync: ctx.out.bulk("sync")
        case .connected: ctx.out.bulk("connected")
        }
        ctx.out.integer(state == .connected ? Int(offset) : -1)
    }
}

struct ReplicaError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
