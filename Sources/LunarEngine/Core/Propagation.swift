import LunarRESP

/// Who a propagated command is meant for (a script chooses with `redis.set_repl`).
public struct PropagationTargets: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let aof = PropagationTargets(rawValue: 1)
    public static let replicas = PropagationTargets(rawValue: 2)
    public static let all: PropagationTargets = [.aof, .replicas]
}

/// One command of the propagation feed: what a replica or an append-only file replays.
public struct PropagatedOp {
    /// The database the command applies to (consumers emit SELECT when it changes).
    public var db: Int
    public var argv: [Bytes]
    public var targets: PropagationTargets

    public init(db: Int, argv: [Bytes], targets: PropagationTargets = .all) {
        self.db = db
        self.argv = argv
        self.targets = targets
    }
}

/// A consumer of the propagation feed (replication, append-only file). Called on the engine thread.
public protocol PropagationSink: AnyObject {
    /// The effects of one execution unit (a command, an EXEC, a script, a function call, or one key
    /// deleted by expiry), in order. A unit of more than one write arrives wrapped in MULTI … EXEC.
    func propagate(_ ops: [PropagatedOp])
}

/// The propagation feed.
///
/// As in Redis 7.0, writes travel as their effects, not as the commands clients sent:
/// - a command that changed data (the engine's `dirty` counter moved) propagates its own argv,
///   unless its handler supplied a deterministic form with `CommandContext.propagateAs`
///   (SET EX → SET PXAT, EXPIRE → PEXPIREAT, SPOP → SREM, BLPOP → LPOP, INCRBYFLOAT → SET KEEPTTL…);
/// - EXEC, EVAL and FCALL propagate nothing themselves; the writes they ran do, and when there is
///   more than one they are wrapped in MULTI … EXEC so a replica applies them atomically;
/// - a key deleted by lazy or active expiry propagates as DEL, ahead of the unit that found it.
///
/// Nothing is recorded while no sink is attached, so the feed costs nothing until a replica or an
/// append-only file asks for it (it then starts from a snapshot of the data).
extension Engine {
    @inline(__always) public var isPropagating: Bool { !propagationSinks.isEmpty }

    /// Attaches a consumer of the feed.
    public func addPropagationSink(_ sink: PropagationSink) {
        if !propagationSinks.contains(where: { $0 === sink }) { propagationSinks.append(sink) }
    }

    public func removePropagationSink(_ sink: PropagationSink) {
        propagationSinks.removeAll { $0 === sink }
    }

    /// Records the effects of a command that just ran (called by dispatch while propagating).
    @inline(__always) func recordEffects(_ ctx: CommandContext, changed: Bool) {
        // A command that changed nothing propagates nothing, whatever form it prepared, unless it
        // insists (PUBLISH reaches the subscribers of replicas).
        var targets: PropagationTargets = ctx.inScript ? scriptPropagationTargets : .all
        if let forced = ctx.forcedPropagation {
            targets.formIntersection(forced)
        } else if !changed {
            return
        }
        if let argvs = ctx.propagateOverride {
            for argv in argvs { pendingOps.append(PropagatedOp(db: ctx.client.db, argv: argv, targets: targets)) }
        } else {
            pendingOps.append(PropagatedOp(db: ctx.client.db, argv: ctx.argv, targets: targets))
        }
    }

    /// Forgets the effects recorded for the running unit (a debugger session rolled back with YES).
    public func discardPendingEffects() {
        pendingOps.removeAll()
        pendingExpired.removeAll()
    }

    /// A key deleted because it expired: propagated as DEL before the current unit's own effects.
    func recordExpiredDeletion(db: Int, key: Bytes) {
        guard isPropagating else { return }
        pendingExpired.append(PropagatedOp(db: db, argv: [Bytes("DEL"), key]))
    }

    /// An evicted key is propagated as DEL (UNLINK with lazyfree-lazy-eviction), ahead of the
    /// command whose check evicted it, as expired keys are.
    func recordEviction(db: Int, key: Bytes, lazy: Bool) {
        guard isPropagating else { return }
        pendingExpired.append(PropagatedOp(db: db, argv: [Bytes(lazy ? "UNLINK" : "DEL"), key]))
    }

    /// Hands the recorded effects of the unit that just ended to every sink.
    @inline(__always) func flushPropagation() {
        if pendingExpired.isEmpty && pendingOps.isEmpty { return }
        flushPropagationSlow()
    }

    private func flushPropagationSlow() {
        let expired = pendingExpired
        var ops = pendingOps
        pendingExpired.removeAll()
        pendingOps.removeAll()
        scriptPropagationTargets = .all
        guard isPropagating else { return }
        for op in expired {
            for s in propagationSinks { s.propagate([op]) }
        }
        if ops.isEmpty { return }
        if ops.count > 1 {
            let db = ops[0].db
            var targets: PropagationTargets = []
            for op in ops { targets.formUnion(op.targets) }
            ops.insert(PropagatedOp(db: db, argv: [Bytes("MULTI")], targets: targets), at: 0)
            ops.append(PropagatedOp(db: ops[ops.count - 1].db, argv: [Bytes("EXEC")], targets: targets))
        }
        for s in propagationSinks { s.propagate(ops) }
    }
}
