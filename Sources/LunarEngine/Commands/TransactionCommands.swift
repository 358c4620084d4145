import LunarRESP

/// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
///
/// While a client is in MULTI the engine's dispatch queues its commands (answering QUEUED) and flags
/// the transaction as failed when a command is rejected at queue time; EXEC then runs the queue as one
/// atomic unit on the engine thread.
enum TransactionCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("multi", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], group: .transactions, since: "1.2.0", summary: "Starts a transaction: later commands are queued until EXEC or DISCARD.") { ctx in
                if ctx.client.inMulti { ctx.error("ERR MULTI calls can not be nested"); return }
                ctx.client.inMulti = true
                ctx.client.multiFailed = false
                ctx.client.queued.removeAll()
                ctx.ok()
            },
            CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog], group: .transactions, since: "1.2.0", summary: "Runs every command queued since MULTI, as one atomic unit.", complexity: "Depends on commands in the transaction") { ctx in
                exec(ctx)
            },
            CommandSpec("discard", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], group: .transactions, since: "2.0.0", summary: "Drops the commands queued since MULTI and leaves the transaction.", complexity: "O(N), when N is the number of queued commands") { ctx in
                guard ctx.client.inMulti else { ctx.error("ERR DISCARD without MULTI"); return }
                discardTransaction(ctx.engine, ctx.client)
                ctx.ok()
            },
            CommandSpec("watch", arity: -2, flags: [.noscript, .loading, .stale, .fast, .allowBusy], keys: (1, -1, 1), group: .transactions, since: "2.2.0", summary: "Makes the next EXEC fail if any of the given keys changes before it.", complexity: "O(1) for every key.", syntax: "key [key ...]") { ctx in
                if ctx.client.inMulti { ctx.error("ERR WATCH inside MULTI is not allowed"); return }
                for i in 1..<ctx.argc { ctx.engine.watch(ctx.client, db: ctx.client.db, key: ctx.argv[i]) }
                ctx.ok()
            },
            CommandSpec("unwatch", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], group: .transactions, since: "2.2.0", summary: "Forgets every key watched by this connection.") { ctx in
                ctx.engine.unwatchAll(ctx.client)
                ctx.ok()
            },
        ]
    }

    /// Leaves MULTI state, dropping the queue and every WATCH.
    static func discardTransaction(_ engine: Engine, _ c: Client) {
        c.inMulti = false
        c.multiFailed = false
        c.queued.removeAll()
        engine.unwatchAll(c)
    }

    private static func exec(_ ctx: CommandContext) {
        let engine = ctx.engine
        let c = ctx.client
        guard c.inMulti else { ctx.error("ERR EXEC without MULTI"); return }
        if c.multiFailed {
            discardTransaction(engine, c)
            ctx.error("EXECABORT Transaction discarded because of previous errors.")
            return
        }
        if engine.watchTripped(c) {
            discardTransaction(engine, c)
            ctx.out.nullArray()
            return
        }
        let queue = c.queued
        c.inMulti = false
        c.multiFailed = false
        c.queued = []
        // Nothing watched matters any more once the transaction is sure to run.
        engine.unwatchAll(c)
        // The queued writes propagate (wrapped in MULTI/EXEC when more than one), not EXEC itself.
        ctx.propagateNothing()
        ctx.out.array(queue.count)
        c.executingTransaction = queue
        for argv in queue {
            engine.executeNested(c, argv, out: &ctx.out, inScript: false)
        }
        c.executingTransaction = nil
    }
}
