import LunarRESP
import NIOCore

/// A connection that attached as a replica (SYNC/PSYNC), or is preparing to with REPLCONF.
final class Replica {
    let client: Client
    /// REPLCONF listening-port / ip-address: where the replica says it can be reached.
    var listeningPort = 0
    var announcedIP: String?
    /// REPLCONF capa psync2: it understands `+CONTINUE <replid>`. (Lunar always sends the snapshot
    /// with a length prefix, so `capa eof` changes nothing.)
    var capaPsync2 = false
    /// REPLCONF rdb-only 1: it wants the snapshot and no stream (redis-cli --rdb).
    var rdbOnly = false
    /// REPLCONF rdb-filter-only functions: the snapshot should hold the functions only.
    var functionsOnly = false
    /// Attached (SYNC/PSYNC done): the snapshot or backlog is queued and the stream follows, so it
    /// is online at once (INFO's state).
    var attached = false
    /// The offset the replica reported with REPLCONF ACK, and when (Unix seconds).
    var ackOffset: Int64 = 0
    var ackTime: Int64 = 0
    /// Attached with the old SYNC (redis-cli --replica): it never sends ACKs, so it is never timed out.
    var prePsync = false

    init(client: Client) { self.client = client }

    /// The address INFO and ROLE report: the announced one, else the peer's IP.
    var ip: String {
        if let announcedIP { return announcedIP }
        let a = client.remoteAddress
        if let colon = a.lastIndex(of: ":") { return String(a[..<colon]) }
        return a
    }

    var live: Bool { attached && !client.closed }
}

/// The master side of replication. It consumes the engine's propagation feed (already rewritten to
/// deterministic commands), encodes it as the RESP stream replicas apply, keeps the backlog for
/// partial resyncs, and hands the bytes to each replica's output, which the engine's normal flush
/// passes to the network threads. Everything here runs on the engine thread.
public final class ReplicationMaster: PropagationSink {
    static let key = "lunar.replication"
    unowned let engine: Engine

    /// The current replication history's id, and the previous one (valid up to `secondReplOffset`).
    public private(set) var replID = ReplicationMaster.newReplID()
    public private(set) var replID2 = String(repeating: "0", count: 40)
    public private(set) var secondReplOffset: Int64 = -1
    /// master_repl_offset: bytes of stream produced since the history began.
    public private(set) var offset: Int64 = 0
    private(set) var backlog: ReplicationBacklog?

    /// Attached replicas in the order they attached (slave0, slave1…).
    private(set) var replicas: [Replica] = []
    /// Every connection that sent REPLCONF or attached, by client id.
    private var peers: [Int: Replica] = [:]
    /// The database the stream last selected; -1 makes the next command emit SELECT.
    private var streamDB = -1
    /// Nothing was fed since the last REPLCONF GETACK (a second one would be redundant).
    private var getAckPending = false

    /// master_repl_offset after each client's last write, by client id (what WAIT waits for).
    private var writeOffsets: [Int: Int64] = [:]
    /// Clients blocked in WAIT, by client id.
    private var waiters: [Int: (client: Client, offset: Int64, count: Int)] = [:]

    /// A FAILOVER under way (Failover.swift).
    var failover = FailoverState()

    /// When the keep-alive PING was last due (monotonic ms).
    private var lastPing: Int64 = 0
    /// Unix seconds when the last replica went away (for repl-backlog-ttl).
    private var noReplicasSince: Int64 = unixMillis() / 1000

    /// What a full resync asks of the snapshot writer.
    public struct SnapshotRequest {
        /// Auxiliary fields Redis puts in a replication RDB (repl-stream-db, repl-id, repl-offset).
        public var aux: [(String, String)]
        /// Only the functions, no keys (REPLCONF rdb-filter-only functions).
        public var functionsOnly: Bool
    }

    /// Produces the RDB payload of a full resync. The server sets it to the persistence module's
    /// writer; without one only an empty dataset can be described.
    public var snapshot: ((Engine, SnapshotRequest) -> [UInt8])?

    init(engine: Engine) {
        self.engine = engine
    }

    /// The engine's replication state, created (with its cron hook) on first use; it joins the
    /// propagation feed when the first replica attaches.
    public static func of(_ engine: Engine) -> ReplicationMaster {
        if let m = engine.extensions[key] as? ReplicationMaster { return m }
        let m = ReplicationMaster(engine: engine)
        engine.extensions[key] = m
        engine.cronHooks.append { e in ReplicationMaster.of(e).cron() }
        engine.config.onChange.append { [unowned m] name, value in
            if name == "repl-backlog-size", let n = m.engine.config.parseMemory(value) { m.backlogSizeChanged(n) }
            if name == "min-replicas-to-write" || name == "min-replicas-max-lag" { m.refreshGoodReplicas() }
        }
        m.refreshGoodReplicas()
        m.backlogSizeChanged(engine.config.int("repl-backlog-size"))
        return m
    }

    /// Redis's smallest backlog: a smaller repl-backlog-size is raised to it.
    static let minBacklogSize = 16 * 1024

    private func backlogSizeChanged(_ n: Int) {
        if n < Self.minBacklogSize {
            engine.config.set("repl-backlog-size", String(Self.minBacklogSize))   // comes back here
            return
        }
        backlog?.resize(n)
    }

    static func newReplID() -> String {
        var g = SystemRandomNumberGenerator()
        return String((0..<40).map { _ in "0123456789abcdef".randomElement(using: &g)! })
    }

    // MARK: Feeding the stream

    /// Where each unit is encoded (kept between calls so its storage is reused).
    private var encoder = ReplyWriter(resp: 2, capacity: 1024)

    public func propagate(_ ops: [PropagatedOp]) {
        // A replica's sub-replicas get its master's stream as it came (see `proxy`), not the effects
        // of applying it again.
        guard backlog != nil, !ops.isEmpty, !engine.isReplicaRole else { return }
        encoder.buffer.clear()
        for op in ops where op.targets.contains(.replicas) {
            if op.db != streamDB {
                encoder.array(2)
                encoder.bulk(bytes: "SELECT".utf8)
                encoder.bulk(int: op.db)
                streamDB = op.db
            }
            encoder.command(op.argv)
        }
        if encoder.buffer.readableBytes == 0 { return }
        feed(encoder.buffer)
        if encoder.buffer.capacity > 1 << 20 { encoder = ReplyWriter(resp: 2, capacity: 1024) }
        writeOffsets[engine.currentClient.id] = offset
    }

    /// A control command (PING, REPLCONF GETACK) in whatever database the stream has selected.
    private func feedControl(_ argv: [String]) {
        encoder.buffer.clear()
        encoder.array(argv.count)
        for a in argv { encoder.bulk(bytes: a.utf8) }
        feed(encoder.buffer)
    }

    // MARK: As a replica (chained replication)

    /// After a full sync from this server's master: its history becomes ours (its id, its offset),
    /// so replicas of this server can continue from it, and follow it if this server is promoted.
    /// Sub-replicas are disconnected: their data predates the snapshot.
    func adoptMasterHistory(replID id: String, offset off: Int64) {
        for r in replicas where r.live { engine.kill(r.client) }
        prune()
        replID = id
        replID2 = String(repeating: "0", count: 40)
        secondReplOffset = -1
        offset = off
        backlog = ReplicationBacklog(capacity: engine.config.int("repl-backlog-size"), offset: off)
        streamDB = -1
    }

    /// A partial resync with the master under a new id (+CONTINUE <id>, after the master's failover):
    /// the old id stays valid up to here, as Redis shifts it.
    func masterChangedID(to id: String) {
        if id == replID { return }
        replID2 = replID
        secondReplOffset = offset + 1
        replID = id
        for r in replicas where r.live { engine.kill(r.client) }
    }

    /// Bytes of the master's stream this replica applied: they go on, unchanged, to its own replicas.
    func proxy(_ bytes: UnsafeRawBufferPointer) {
        guard let backlog else {
            offset += Int64(bytes.count)
            return
        }
        backlog.append(bytes)
        offset = backlog.endOffset
        for r in replicas where r.live && !r.rdbOnly {
            r.client.output.buffer.writeBytes(bytes)
            engine.markFlush(r.client)
        }
    }

    /// REPLICAOF NO ONE: a new history starts here; the master's id stays valid up to this offset,
    /// so replicas that followed the same master can continue from this server.
    func promoted() {
        replID2 = replID
        secondReplOffset = offset + 1
        replID = Self.newReplID()
        streamDB = -1
        if backlog == nil { backlog = ReplicationBacklog(capacity: engine.config.int("repl-backlog-size"), offset: offset) }
        engine.addPropagationSink(self)
        // Replicas of this server learn the new id when they reconnect (they continue with the old one).
        for r in replicas where r.live { engine.kill(r.client) }
        engine.logger.notice("Setting secondary replication ID to \(replID2), valid up to offset: \(secondReplOffset). New replication ID is \(replID)")
    }

    /// DEBUG CHANGE-REPL-ID: a new replication id, and no secondary one.
    func changeReplicationID() {
        replID = Self.newReplID()
        replID2 = String(repeating: "0", count: 40)
        secondReplOffset = -1
    }

    /// Appends bytes to the stream: the backlog, the offset and every online replica's output.
    private func feed(_ buf: ByteBuffer) {
        guard let backlog else { return }
        buf.withUnsafeReadableBytes { backlog.append($0) }
        offset = backlog.endOffset
        getAckPending = false
        for r in replicas where r.live && !r.rdbOnly {
            var b = buf
            r.client.output.buffer.writeBuffer(&b)
            engine.markFlush(r.client)
        }
    }

    // MARK: Replicas

    func peer(_ c: Client) -> Replica {
        if let r = peers[c.id] { return r }
        let r = Replica(client: c)
        peers[c.id] = r
        return r
    }

    /// Drops closed connections from the replica list.
    private func prune() {
        if replicas.contains(where: { $0.client.closed }) {
            replicas.removeAll { $0.client.closed }
            if replicas.isEmpty { noReplicasSince = unixMillis() / 1000 }
            refreshGoodReplicas()
        }
        if peers.count > replicas.count, peers.values.contains(where: { $0.client.closed }) {
            peers = peers.filter { !$0.value.client.closed }
        }
        if !waiters.isEmpty { waiters = waiters.filter { !$0.value.client.closed } }
    }

    var liveReplicas: [Replica] {
        prune()
        return replicas.filter { $0.live }
    }

    /// Makes the connection a replica: it stops getting replies and starts getting the stream.
    private func attach(_ r: Replica) {
        r.attached = true
        r.ackTime = unixMillis() / 1000
        r.client.isReplica = true
        engine.replicaClients.append(r.client)
        r.client.replyOff = true
        r.client.replySkipNext = false
        replicas.append(r)
        refreshGoodReplicas()
    }

    // MARK: min-replicas-to-write

    /// Online replicas whose last ACK is at most min-replicas-max-lag seconds old.
    private(set) var goodReplicas = 0

    /// Recounts the good replicas and tells the engine whether writes must be refused (NOREPLICAS).
    /// Run on every cron tick and when replicas come or go, as Redis does.
    func refreshGoodReplicas() {
        let maxLag = Int64(engine.config.int("min-replicas-max-lag"))
        let nowSec = unixMillis() / 1000
        goodReplicas = replicas.filter { $0.live && !$0.rdbOnly && nowSec - $0.ackTime <= maxLag }.count
        let need = engine.config.int("min-replicas-to-write")
        let refuse = need > 0 && maxLag > 0 && goodReplicas < need
        engine.writesNeedReplicasError = refuse ? "NOREPLICAS Not enough good replicas to write." : nil
    }

    /// SYNC / PSYNC replid offset.
    func sync(_ ctx: CommandContext) {
        let c = ctx.client
        if c.isReplica || c.isMonitor { return }   // already attached (or monitoring): ignored, as Redis does
        // PSYNC … FAILOVER from our master: we take over first (Failover.swift).
        guard acceptFailoverRequest(ctx) else { return }
        if failover.phase != .none {
            ctx.error("NOMASTERLINK Can't SYNC while failing over")
            return
        }
        if ctx.out.buffer.readableBytes > 0 {
            ctx.error("ERR SYNC and PSYNC are invalid with pending output")
            return
        }
        let isPsync = ctx.argv[0].equalsIgnoringCase("psync")
        var wantedOffset: Int64 = -1
        if isPsync {
            guard let v = ctx.int(2) else { return }
            wantedOffset = Int64(v)
        }
        prune()
        let r = peer(c)
        if isPsync {
            if continueSync(ctx, r, replid: ctx.argv[1].string, from: wantedOffset) {
                engine.stats.syncPartialOK += 1
                return
            }
            if ctx.argv[1] != Bytes("?") { engine.stats.syncPartialErr += 1 }
        }
        r.prePsync = !isPsync
        // The first replica starts a new history: a new id and a backlog from here.
        if backlog == nil && liveReplicas.isEmpty {
            replID = Self.newReplID()
            replID2 = String(repeating: "0", count: 40)
            secondReplOffset = -1
            backlog = ReplicationBacklog(capacity: engine.config.int("repl-backlog-size"), offset: offset)
            // From now on the engine records the effects of every write (it costs nothing before).
            engine.addPropagationSink(self)
            engine.logger.notice("Replication backlog created, my new replication IDs are '\(replID)' and '\(replID2)'")
        }
        guard let rdb = makeSnapshot(for: r) else {
            ctx.error("ERR Lunar cannot produce an RDB snapshot of a non-empty dataset without the persistence module")
            return
        }
        engine.stats.syncFull += 1
        engine.logger.notice("Replica \(r.ip):\(r.listeningPort) asks for synchronization; full resync from offset \(offset)")
        if isPsync { ctx.out.simple("FULLRESYNC \(replID) \(offset)") }
        ctx.out.buffer.writeString("$\(rdb.count)\r\n")
        ctx.out.buffer.writeBytes(rdb)
        c.outputLimitExemptOnce = true   // the snapshot does not count against the replica's limit
        // The replica loads the snapshot with database 0 selected: the stream must select again.
        streamDB = -1
        if r.rdbOnly {
            c.closeAfterReply = true
            return
        }
        attach(r)
    }

    /// Tries a partial resync: the replica's history must be ours and the backlog must still hold
    /// everything after its offset. On success answers +CONTINUE and sends the missing bytes.
    private func continueSync(_ ctx: CommandContext, _ r: Replica, replid: String, from wanted: Int64) -> Bool {
        if replid.lowercased() != replID {
            guard replid.lowercased() == replID2, wanted <= secondReplOffset else { return false }
        }
        guard let backlog, backlog.covers(wanted) else { return false }
        if r.capaPsync2 { ctx.out.simple("CONTINUE \(replID)") } else { ctx.out.simple("CONTINUE") }
        ctx.out.buffer.writeBytes(backlog.bytes(from: wanted))
        r.client.outputLimitExemptOnce = true
        engine.logger.notice("Partial resynchronization request from \(r.ip):\(r.listeningPort) accepted, sending \(offset - wanted + 1) bytes of backlog")
        attach(r)
        return true
    }

    private func makeSnapshot(for r: Replica) -> [UInt8]? {
        if let snapshot {
            let aux = [("repl-stream-db", "0"), ("repl-id", replID), ("repl-offset", String(offset))]
            return snapshot(engine, SnapshotRequest(aux: aux, functionsOnly: r.functionsOnly))
        }
        if engine.databases.allSatisfy({ $0.count == 0 }) { return Self.emptyRDB }
        return nil
    }

    /// An RDB file describing no keys: header, end marker, checksum 0 (meaning "not computed").
    static let emptyRDB: [UInt8] = Array("REDIS0010".utf8) + [0xFF] + [UInt8](repeating: 0, count: 8)

    /// REPLCONF ACK from a replica.
    func ack(_ c: Client, _ off: Int64) {
        guard c.isReplica, let r = peers[c.id] else { return }
        if off > r.ackOffset { r.ackOffset = off }
        r.ackTime = unixMillis() / 1000
        if failover.phase == .waitForSync {
            // A role change is no thing to do inside REPLCONF ACK: right after it.
            engine.enqueue { e in ReplicationMaster.of(e).updateFailover() }
        }
        if !waiters.isEmpty {
            // Waking runs the clients' queued commands: do it after this command, not inside it.
            engine.enqueue { e in ReplicationMaster.of(e).serveWaiters() }
        }
    }

    // MARK: WAIT

    /// Replicas whose acknowledged offset reached `off`.
    func acks(reaching off: Int64) -> Int {
        liveReplicas.filter { !$0.rdbOnly && $0.ackOffset >= off }.count
    }

    func wait(_ ctx: CommandContext) {
        if engine.isReplicaRole {
            ctx.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
            return
        }
        guard let wanted = ctx.int(1) else { return }
        guard let ms = parseStrictInt(ctx.argv[2].raw) else {
            ctx.error("ERR timeout is not an integer or out of range")
            return
        }
        if ms < 0 {
            ctx.error("ERR timeout is negative")
            return
        }
        let c = ctx.client
        let target = writeOffsets[c.id] ?? 0
        let have = acks(reaching: target)
        if have >= wanted || ctx.noBlocking {
            ctx.out.integer(have)
            return
        }
        var deadline: Int64 = 0
        if ms > 0 {
            let (d, overflow) = ctx.now.addingReportingOverflow(Int64(ms))
            deadline = overflow ? 0 : d
        }
        var state = BlockedState(keys: [], db: c.db, deadline: deadline, argv: ctx.argv, spec: ctx.spec, timeoutIsNullArray: false)
        state.timeoutReply = { [unowned self] client in
            self.waiters.removeValue(forKey: client.id)
            client.output.integer(self.acks(reaching: target))
        }
        engine.block(client: c, state: state, isRetry: false)
        waiters[c.id] = (c, target, wanted)
        requestAcks()
    }

    /// Asks every replica for an ACK now (REPLCONF GETACK * in the stream).
    private func requestAcks() {
        if getAckPending || liveReplicas.isEmpty { return }
        feedControl(["REPLCONF", "GETACK", "*"])
        getAckPending = true
    }

    /// Answers WAITing clients whose replicas have caught up.
    func serveWaiters() {
        for id in Array(waiters.keys) {
            // Re-read each entry: waking one client runs its queued commands, which may WAIT again.
            guard let w = waiters[id] else { continue }
            guard !w.client.closed, w.client.blocked?.spec.name == "wait" else {
                waiters.removeValue(forKey: id)
                continue
            }
            if acks(reaching: w.offset) >= w.count {
                _ = engine.unblockClient(w.client, error: nil)   // its reply is the count (timeoutReply)
            }
        }
    }

    // MARK: Cron

    func cron() {
        prune()
        refreshGoodReplicas()
        // Forget the write offsets of clients that are gone.
        if writeOffsets.count > 64 { writeOffsets = writeOffsets.filter { engine.clients[$0.key] != nil } }
        let nowMs = monotonicMillis()
        let nowSec = unixMillis() / 1000
        // Keep the link alive: replicas drop a master that stays silent past their repl-timeout.
        if nowMs - lastPing >= Int64(max(1, engine.config.int("repl-ping-replica-period"))) * 1000 {
            lastPing = nowMs
            // Not during a FAILOVER: a PING would move the offset the target must reach.
            if !liveReplicas.isEmpty && !engine.isReplicaRole && failover.phase == .none { feedControl(["PING"]) }
        }
        // A replica that stopped acknowledging is cut off (its own link is presumably dead).
        let timeout = Int64(engine.config.int("repl-timeout"))
        for r in liveReplicas where !r.prePsync && nowSec - r.ackTime > timeout {
            engine.logger.warning("Disconnecting timedout replica: \(r.ip):\(r.listeningPort)")
            engine.kill(r.client)
        }
        // With no replica for repl-backlog-ttl seconds the backlog is freed and the history ends.
        let ttl = Int64(engine.config.int("repl-backlog-ttl"))
        if backlog != nil, replicas.isEmpty, ttl > 0, nowSec - noReplicasSince > ttl, !engine.isReplicaRole {
            backlog = nil
            engine.removePropagationSink(self)
            replID = Self.newReplID()
            replID2 = String(repeating: "0", count: 40)
            secondReplOffset = -1
            engine.logger.notice("Replication backlog freed after \(ttl) seconds without connected replicas.")
        }
        if !waiters.isEmpty { serveWaiters() }
        updateFailover()
    }

    // MARK: Reports

    /// INFO replication.
    func infoLines() -> [String] {
        let live = liveReplicas
        var lines = ["role:master", "connected_slaves:\(live.count)"]
        if engine.isReplicaRole, let replica = ReplicationReplica.of(engine) {
            lines = replica.infoLines() + ["connected_slaves:\(live.count)"]
        }
        if engine.config.int("min-replicas-to-write") > 0 && engine.config.int("min-replicas-max-lag") > 0 {
            lines.append("min_slaves_good_slaves:\(goodReplicas)")
        }
        let nowSec = unixMillis() / 1000
        for (i, r) in live.enumerated() {
            lines.append("slave\(i):ip=\(r.ip),port=\(r.listeningPort),state=online,offset=\(r.ackOffset),lag=\(max(0, nowSec - r.ackTime))")
        }
        lines += [
            "master_failover_state:\(failover.phase.rawValue)",
            "master_replid:\(replID)",
            "master_replid2:\(replID2)",
            "master_repl_offset:\(offset)",
            "second_repl_offset:\(secondReplOffset)",
            "repl_backlog_active:\(backlog == nil ? 0 : 1)",
            "repl_backlog_size:\(engine.config.int("repl-backlog-size"))",
            "repl_backlog_first_byte_offset:\(backlog?.firstOffset ?? 0)",
            "repl_backlog_histlen:\(backlog?.histlen ?? 0)",
        ]
        return lines
    }

    /// ROLE: ["master", offset, [[ip, port, acked offset]…]] for the online replicas.
    func role(_ ctx: CommandContext) {
        if engine.isReplicaRole, let replica = ReplicationReplica.of(engine) {
            replica.role(ctx)
            return
        }
        let online = liveReplicas
        ctx.out.array(3)
        ctx.out.bulk("master")
        ctx.out.integer(Int(offset))
        ctx.out.array(online.count)
        for r in online {
            ctx.out.array(3)
            ctx.out.bulk(r.ip)
            ctx.out.bulk(String(r.listeningPort))
            ctx.out.bulk(String(r.ackOffset))
        }
    }

    /// For a shutdown: every online replica's connection with the stream not yet handed to the network
    /// (possibly empty), which the server writes and waits for before the process exits.
    public func takeUnsentStream() -> [(ClientConnection, ByteBuffer)] {
        liveReplicas.compactMap { r in
            guard let conn = r.client.connection, !r.rdbOnly else { return nil }
            let b = r.client.output.buffer
            r.client.output.buffer = ByteBufferAllocator().buffer(capacity: 0)
            return (conn, b)
        }
    }

    /// Number of attached replicas (INFO clients leaves them out of connected_clients).
    public var replicaCount: Int { liveReplicas.count }
    /// The bytes the replication backlog holds (INFO's mem_replication_backlog).
    var backlogBytes: Int { backlog?.histlen ?? 0 }
}
