import LunarRESP

/// Replication commands a master serves: SYNC/PSYNC (a replica attaches), REPLCONF (handshake
/// options and ACKs), WAIT (block until replicas acknowledge this client's writes), ROLE and FAILOVER
/// (Failover.swift).
enum ReplicationCommands {
    static var specs: [CommandSpec] {
        let syncFlags: CommandFlags = [.admin, .noscript, .noAsyncLoading, .noMulti]
        return [
            CommandSpec("psync", arity: -3, flags: syncFlags, group: .server, since: "2.8.0",
                        summary: "Attaches this connection as a replica: continues from the backlog when its history and offset allow, else sends a full snapshot, then the command stream.",
                        complexity: "", syntax: "replicationid offset") { ctx in
                ReplicationMaster.of(ctx.engine).sync(ctx)
            },
            CommandSpec("sync", arity: 1, flags: syncFlags, group: .server,
                        summary: "Attaches this connection as a replica the old way: a full snapshot, then the command stream.",
                        complexity: "") { ctx in
                ReplicationMaster.of(ctx.engine).sync(ctx)
            },
            CommandSpec("replconf", arity: -1, flags: [.admin, .noscript, .loading, .stale, .allowBusy], group: .server, since: "3.0.0",
                        summary: "Sets replication options of this connection (listening port, address, capabilities) and carries a replica's acknowledged offset.",
                        handler: replconf),
            CommandSpec("wait", arity: 3, flags: [.noscript], group: .generic, since: "3.0.0",
                        summary: "Blocks until the given number of replicas acknowledged every write this connection made, or the timeout (ms) passes; returns how many did.",
                        syntax: "numreplicas timeout", acl: ["-keyspace", "connection"]) { ctx in
                ReplicationMaster.of(ctx.engine).wait(ctx)
            },
            CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: .server, since: "2.8.12",
                        summary: "Reports the replication role: master, its replication offset and its online replicas.",
                        acl: ["admin", "dangerous"]) { ctx in
                ReplicationMaster.of(ctx.engine).role(ctx)
            },
            ReplicationMaster.failoverSpec,
        ]
    }

    /// REPLCONF option value [option value …]. ACK and GETACK never reply.
    static func replconf(_ ctx: CommandContext) {
        if ctx.argc % 2 == 0 {
            ctx.syntaxError()
            return
        }
        let m = ReplicationMaster.of(ctx.engine)
        var j = 1
        while j < ctx.argc {
            let value = ctx.argv[j + 1]
            if ctx.arg(j, is: "listening-port") {
                guard let port = ctx.int(j + 1) else { return }
                m.peer(ctx.client).listeningPort = port
            } else if ctx.arg(j, is: "ip-address") {
                guard value.count < 256 else {
                    ctx.error("ERR REPLCONF ip-address provided by replica instance is too long: \(value.count) bytes")
                    return
                }
                m.peer(ctx.client).announcedIP = value.string
            } else if ctx.arg(j, is: "capa") {
                // Only psync2 changes what this master sends; others (eof…) are accepted and ignored.
                if value.equalsIgnoringCase("psync2") { m.peer(ctx.client).capaPsync2 = true }
            } else if ctx.arg(j, is: "ack") {
                // Only from an attached replica; silently ignored otherwise, and never answered.
                if ctx.client.isReplica, let off = parseStrictInt(value.raw) { m.ack(ctx.client, Int64(off)) }
                return
            } else if ctx.arg(j, is: "getack") {
                // Asks a replica for an ACK; a master has nothing to acknowledge.
                return
            } else if ctx.arg(j, is: "rdb-only") {
                guard let v = ctx.int(j + 1) else { return }
                guard v == 0 || v == 1 else {
                    ctx.error("ERR value is out of range, value must between 0 and 1")
                    return
                }
                m.peer(ctx.client).rdbOnly = v == 1
            } else if ctx.arg(j, is: "rdb-filter-only") {
                // What the snapshot may hold: "" (everything) or "functions" (redis-cli --functions-rdb).
                guard let filters = splitArguments(value.raw) else {
                    ctx.error("ERR Missing rdb-filter-only values")
                    return
                }
                var functionsOnly = false
                for f in filters {
                    guard f.equalsIgnoringCase("functions") else {
                        ctx.error("ERR Unsupported rdb-filter-only option: \(f.string)")
                        return
                    }
                    functionsOnly = true
                }
                m.peer(ctx.client).functionsOnly = functionsOnly
            } else {
                ctx.error("ERR Unrecognized REPLCONF option: \(ctx.argv[j].string)")
                return
            }
            j += 2
        }
        ctx.ok()
    }
}
