import LunarRESP

/// CLIENT PAUSE / CLIENT UNPAUSE, as Redis 7.0 pauses clients.
///
/// While a pause lasts, a client's command that it covers (every command with ALL; with WRITE the
/// ones that may write or replicate: writes, EVAL/EVALSHA/FCALL unless the script declares
/// `no-writes`, PUBLISH, PFCOUNT, EXEC of such commands) is postponed, not refused: the client waits
/// (CLIENT LIST flag b, INFO blocked_clients) and the command runs when the pause ends, followed by
/// what the client sent meanwhile. Replicas are never paused; on a replica, the master's stream waits
/// from its first command the pause covers (ReplicationReplica holds it), as in Redis 7.0. Keys do not expire
/// and nothing is evicted while paused: an expired key is hidden from readers but kept, so that a
/// replica promoted during the pause (the reason for pausing) gets the same data set.
public enum PauseType: Int, Sendable {
    case none = 0, write = 1, all = 2
}

extension Engine {
    /// A pause is in force now: CLIENT PAUSE not yet over, or a FAILOVER holding writes (Redis's
    /// pause "purposes": CLIENT UNPAUSE ends the first, only the failover's end the second).
    @inline(__always) var pauseActive: Bool { failoverPausing || (pauseType != .none && now < pauseEnd) }
    /// Some pause may apply: the one flag the command path tests.
    @inline(__always) var pauseMayApply: Bool { pauseType != .none || failoverPausing }

    /// Pauses clients until `end` (Unix ms); an overlapping pause keeps the later end and the
    /// stricter type, as Redis does.
    func pauseClients(until end: Int64, type: PauseType) {
        if type.rawValue > pauseType.rawValue { pauseType = type }
        if end > pauseEnd { pauseEnd = end }
    }

    /// Whether `spec` (with `argv`, from `client`) waits while the clients are paused.
    func postponedByPause(_ spec: CommandSpec, _ argv: [Bytes], _ client: Client) -> Bool {
        if pauseType == .all && now < pauseEnd { return true }
        return mayReplicate(spec, argv) || (spec.name == "exec" && spec.parent == nil && client.inMulti
            && client.queued.contains { q in table.resolve(q).map { mayReplicate($0, q) } ?? false })
    }

    /// Redis's "may replicate": a write or a command flagged may_replicate; for a script or function
    /// that declares its flags, whether it may write.
    private func mayReplicate(_ spec: CommandSpec, _ argv: [Bytes]) -> Bool {
        if spec.group == .scripting, spec.getKeys != nil, let writes = scriptMayWrite?(argv) { return writes }
        return spec.isWrite || spec.flags.contains(.mayReplicate)
    }

    /// Holds the client's command until the pause ends; the commands it sends meanwhile queue behind it.
    func postpone(_ client: Client, _ argv: [Bytes], _ spec: CommandSpec) {
        client.blocked = BlockedState(keys: [], db: client.db, deadline: 0, argv: argv, spec: spec,
                                      timeoutIsNullArray: false, postponed: true)
        blockedClients[client.id] = client
        postponedClients.append(client)
        pauseHoldsWork = true
        blockCalled = true
    }

    /// Ends the CLIENT PAUSE (CLIENT UNPAUSE, or its time is up) or re-examines the held work after a
    /// FAILOVER ended: the postponed commands run in the order they arrived, and those a remaining
    /// pause still covers wait again. Called between commands, never from inside one.
    func unpauseClients() {
        pauseType = .none
        pauseEnd = 0
        pauseHoldsWork = false
        ReplicationReplica.of(self)?.resumeHeld()
        let waiting = postponedClients
        postponedClients = []
        for c in waiting where !c.closed {
            guard let st = c.blocked, st.postponed else { continue }
            unblock(c)
            executeTopLevel(c, st.argv)
            resumePending(c)
        }
    }

    /// The CLIENT PAUSE is over (its end has passed, or CLIENT UNPAUSE ran) and no FAILOVER holds writes.
    var pauseOver: Bool { !failoverPausing && (pauseType == .none || unixMillis() >= pauseEnd) }

    /// A CLIENT PAUSE ended while a FAILOVER still holds writes: the reads it held may run.
    var commandPauseEndedUnderFailover: Bool {
        failoverPausing && pauseType != .none && unixMillis() >= pauseEnd
    }

    static var pauseSpecs: [CommandSpec] {
        let flags: CommandFlags = [.admin, .noscript, .loading, .stale]
        return [
            CommandSpec("pause", arity: -3, flags: flags, group: .connection, since: "3.0.0",
                        summary: "Holds the clients' commands (all, or those that may write) for some milliseconds.",
                        complexity: "O(1)", syntax: "timeout [WRITE|ALL]", acl: ["dangerous"]) { ctx in
                guard let ms = parseStrictInt(ctx.argv[2].raw) else {
                    ctx.error("ERR timeout is not an integer or out of range")
                    return
                }
                if ms < 0 {
                    ctx.error("ERR timeout is negative")
                    return
                }
                let now = ctx.engine.now
                var type = PauseType.all
                if ctx.argc == 4 {
                    if ctx.arg(3, is: "write") {
                        type = .write
                    } else if ctx.arg(3, is: "all") {
                        type = .all
                    } else {
                        ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL")
                        return
                    }
                } else if ctx.argc > 4 {
                    ctx.error("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.")
                    return
                }
                // A timeout of 0 is an end in the past (Redis adds the clock only to a positive timeout;
                // a sum past the largest integer wraps into the past too, as in Redis 7.0).
                ctx.engine.pauseClients(until: ms > 0 ? now &+ Int64(ms) : 0, type: type)
                ctx.ok()
            },
            CommandSpec("unpause", arity: 2, flags: flags, group: .connection, since: "6.2.0",
                        summary: "Ends a CLIENT PAUSE.", complexity: "O(N) Where N is the number of paused clients",
                        acl: ["dangerous"]) { ctx in
                // The waiting commands run after this one (see the engine loop), not inside it.
                ctx.engine.pauseType = .none
                ctx.engine.pauseEnd = 0
                ctx.ok()
            },
        ]
    }
}
