import LunarRESP

/// Where a FAILOVER stands (INFO's master_failover_state).
struct FailoverState {
    enum Phase: String { case none = "no-failover", waitForSync = "waiting-for-sync", inProgress = "failover-in-progress" }
    var phase = Phase.none
    /// The replica taking over: given with TO, or the first one found caught up.
    var targetHost: String?
    var targetPort = 0
    /// Unix ms when waiting for the replica gives up (0: no TIMEOUT), and whether it then fails
    /// over anyway (FORCE).
    var endTime: Int64 = 0
    var force = false
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: a coordinated switch of roles between this
/// master and one of its replicas, as Redis 7.0 does it.
///
/// 1. Writes are paused (clients' write commands wait, as under CLIENT PAUSE WRITE).
/// 2. The master waits until a replica (the one named with TO, else any) has acknowledged the
///    whole stream (its REPLCONF ACK offset equals master_repl_offset); with TIMEOUT it gives up
///    then, or with FORCE fails over to the named replica anyway.
/// 3. It becomes a replica of that replica and asks it `PSYNC <replid> <offset> FAILOVER`: a replica
///    receiving that with its own replication id becomes a master first, then answers the PSYNC
///    (normally +CONTINUE, nothing to transfer).
/// 4. Once the PSYNC is answered the failover is over and the pause ends; if the target refuses
///    (or the link fails first), the old master becomes a master again (the failover is aborted).
extension ReplicationMaster {
    static var failoverSpec: CommandSpec { CommandSpec(
        "failover", arity: -1, flags: [.admin, .noscript, .stale], group: .server, since: "6.2.0",
        summary: "Hands the master role to a replica once it has caught up, and follows it.",
        complexity: "O(1)", syntax: "[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]") { ctx in
            ReplicationMaster.of(ctx.engine).failoverCommand(ctx)
        } }

    func failoverCommand(_ ctx: CommandContext) {
        if ctx.argc == 2 && ctx.arg(1, is: "abort") {
            guard failover.phase != .none else { return ctx.error("ERR No failover in progress.") }
            abortFailover("Failover manually aborted")
            ctx.ok()
            return
        }
        var timeout = 0
        var force = false
        var host: String?
        var port = 0
        var j = 1
        while j < ctx.argc {
            if ctx.arg(j, is: "timeout") && j + 1 < ctx.argc && timeout == 0 {
                guard let v = parseStrictInt(ctx.argv[j + 1].raw) else { return ctx.error(Err.notInteger) }
                guard v > 0 else { return ctx.error("ERR FAILOVER timeout must be greater than 0") }
                timeout = v
                j += 2
            } else if ctx.arg(j, is: "to") && j + 2 < ctx.argc && host == nil {
                guard let p = parseStrictInt(ctx.argv[j + 2].raw) else { return ctx.error(Err.notInteger) }
                host = ctx.argv[j + 1].string
                port = p
                j += 3
            } else if ctx.arg(j, is: "force") && !force {
                force = true
                j += 1
            } else {
                return ctx.syntaxError()
            }
        }
        if failover.phase != .none { return ctx.error("ERR FAILOVER already in progress.") }
        if engine.isReplicaRole { return ctx.error("ERR FAILOVER is not valid when server is a replica.") }
        if replicas.isEmpty { return ctx.error("ERR FAILOVER requires connected replicas.") }
        if force && (timeout == 0 || host == nil) {
            return ctx.error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        }
        if let host {
            guard let r = replica(host: host, port: port) else {
                return ctx.error("ERR FAILOVER target HOST and PORT is not a replica.")
            }
            guard r.live else { return ctx.error("ERR FAILOVER target replica is not online.") }
            engine.logger.notice("FAILOVER requested to \(host):\(port).")
        } else {
            engine.logger.notice("FAILOVER requested to any replica.")
        }
        failover = FailoverState(phase: .waitForSync, targetHost: host, targetPort: port,
                                 endTime: timeout > 0 ? unixMillis() &+ Int64(timeout) : 0, force: force)
        engine.failoverPausing = true
        ctx.ok()
    }

    private func replica(host: String, port: Int) -> Replica? {
        replicas.first { $0.ip.lowercased() == host.lowercased() && $0.listeningPort == port }
    }

    /// Moves a waiting failover on: gives up or forces at its deadline, or starts it once the target
    /// (or any replica) has acknowledged everything. Called from the cron and on each ACK.
    func updateFailover() {
        guard failover.phase == .waitForSync else { return }
        if failover.endTime != 0 && failover.endTime <= unixMillis() {
            if failover.force, let host = failover.targetHost {
                engine.logger.notice("FAILOVER to \(host):\(failover.targetPort) time out exceeded, failing over.")
                startFailover()
            } else {
                abortFailover("Replica never caught up before timeout")
            }
            return
        }
        var target: Replica?
        if let host = failover.targetHost {
            target = replica(host: host, port: failover.targetPort)
        } else if let r = liveReplicas.first(where: { $0.ackOffset == offset }) {
            target = r
            failover.targetHost = r.ip
            failover.targetPort = r.listeningPort
        }
        if let t = target, t.live, t.ackOffset == offset {
            engine.logger.notice("Failover target \(t.ip):\(t.listeningPort) is synced, failing over.")
            startFailover()
        }
    }

    /// Becomes a replica of the target, asking it to take over (PSYNC … FAILOVER).
    private func startFailover() {
        guard let host = failover.targetHost, let r = ReplicationReplica.of(engine) else {
            abortFailover("Failover target is unknown")
            return
        }
        failover.phase = .inProgress
        r.follow(host: host, port: failover.targetPort, continueOwnHistory: true)
    }

    /// The target answered the PSYNC: the failover is done (this server now follows it).
    func failoverPsyncAccepted() {
        guard failover.phase == .inProgress else { return }
        clearFailover()
    }

    /// The link to the target failed before its PSYNC answer: the failover is aborted.
    func failoverLinkFailed(_ reason: String) {
        guard failover.phase == .inProgress else { return }
        abortFailover(reason.hasPrefix("PSYNC") ? "Failover target rejected psync request" : "Failover target handshake failed")
    }

    /// Ends a failover that did not happen: a server that had become the target's replica is a master again.
    func abortFailover(_ reason: String) {
        guard failover.phase != .none else { return }
        if let host = failover.targetHost {
            engine.logger.notice("FAILOVER to \(host):\(failover.targetPort) aborted: \(reason)")
        } else {
            engine.logger.notice("FAILOVER to any replica aborted: \(reason)")
        }
        if failover.phase == .inProgress { ReplicationReplica.of(engine)?.becomeMaster() }
        clearFailover()
    }

    /// No failover any more: the writes it held run (the engine loop releases them).
    private func clearFailover() {
        failover = FailoverState()
        engine.failoverPausing = false
    }

    /// PSYNC … FAILOVER received: the sender is our master handing over. With our replication id
    /// we become a master now and the PSYNC goes on; false (after replying) when it is refused.
    func acceptFailoverRequest(_ ctx: CommandContext) -> Bool {
        guard ctx.argc > 3, ctx.argv[0].equalsIgnoringCase("psync"), ctx.arg(3, is: "failover") else { return true }
        guard ctx.argv[1].string.lowercased() == replID else {
            ctx.error("ERR PSYNC FAILOVER replid must match my replid.")
            return false
        }
        if let r = ReplicationReplica.of(engine), engine.isReplicaRole {
            r.becomeMaster()
            engine.logger.notice("MASTER MODE enabled (failover request from '\(ctx.client.remoteAddress)')")
        }
        return true
    }
}
