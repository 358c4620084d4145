import Foundation
import LunarEngine
import LunarRESP

/// SAVE, BGSAVE, LASTSAVE and SHUTDOWN with real persistence, plus DEBUG RELOAD and FLUSHALL's
/// save (when `save` points are set). They replace the engine's built-in entries of the same name,
/// keeping their table metadata (arity, flags, group…).
enum PersistenceCommands {
    static func specs(replacing table: CommandTable) -> [CommandSpec] {
        var out: [CommandSpec] = []
        func replace(_ name: String, summary: String? = nil, complexity: String? = nil, _ handler: @escaping CommandHandler) {
            guard let old = table.lookup(Bytes(name)) else { return }
            out.append(CommandSpec(
                old.name, arity: old.arity, flags: old.flags, keys: (old.firstKey, old.lastKey, old.keyStep),
                group: old.group, since: old.since, summary: summary ?? old.summary,
                complexity: complexity ?? old.complexity, syntax: old.syntax, acl: old.extraACL,
                handler: handler, getKeys: old.getKeys))
        }
        replace("save", summary: "Writes the dataset to the RDB file synchronously.", save)
        replace("bgsave", summary: "Writes the dataset to the RDB file in the background.", complexity: "O(1)", bgsave)
        replace("lastsave", summary: "Returns the Unix time of the last successful save to disk.", lastsave)
        replace("shutdown", summary: "Stops the server, saving the dataset first when save points are configured or SAVE is given.", shutdown)
        if let debug = table.lookup(Bytes("debug")), let original = debug.handler {
            replace("debug") { ctx in
                if ctx.argc >= 2 && ctx.argv[1].equalsIgnoringCase("reload") {
                    // DEBUG's own access check runs first: DEBUG HELP answers the same error when disallowed.
                    debugReload(ctx, original: original)
                } else if ctx.argc == 2 && ctx.argv[1].equalsIgnoringCase("loadaof") {
                    debugLoadAOF(ctx, original: original)
                } else if ctx.argc == 3 && ctx.argv[1].equalsIgnoringCase("aof-flush-sleep")
                            && ctx.protectedActionAllowed("enable-debug-command") {
                    // A testing aid: the AOF buffer waits this many µs before each write.
                    guard let us = ctx.int(2), let p = persistence(ctx) else { return }
                    p.aofFlushSleepMicros = max(0, min(us, 10_000_000))
                    ctx.ok()
                } else {
                    original(ctx)
                }
            }
        }
        if let flushall = table.lookup(Bytes("flushall")), let original = flushall.handler {
            replace("flushall") { ctx in
                let before = ctx.engine.dirty
                original(ctx)
                if ctx.engine.dirty != before, let p = Persistence.of(ctx.engine) { p.afterFlushAll() }
            }
        }
        out.append(CommandSpec("bgrewriteaof", arity: 1, flags: [.admin, .noscript, .noAsyncLoading], group: .server,
                               since: "1.0.0", summary: "Asynchronously rewrites the append-only file to disk.",
                               complexity: "O(1)", handler: bgrewriteaof))
        return out + DumpRestore.specs + Migrate.specs
    }

    static func persistence(_ ctx: CommandContext) -> Persistence? {
        guard let p = Persistence.of(ctx.engine) else {
            ctx.error("ERR persistence is not available")
            return nil
        }
        return p
    }

    // MARK: SAVE / BGSAVE / LASTSAVE

    static func save(_ ctx: CommandContext) {
        guard let p = persistence(ctx) else { return }
        if p.bgsaveInProgress {
            ctx.error("ERR Background save already in progress")
            return
        }
        if p.saveSync() { ctx.ok() } else { ctx.error("ERR") }
    }

    static func bgsave(_ ctx: CommandContext) {
        var schedule = false
        if ctx.argc > 1 {
            if ctx.argc == 2 && ctx.arg(1, is: "schedule") { schedule = true } else { ctx.syntaxError(); return }
        }
        guard let p = persistence(ctx) else { return }
        // Inside MULTI/EXEC Redis defers the save to the cron (it cannot fork mid-transaction).
        let inExec = ctx.noBlocking && !ctx.inScript
        if p.bgsaveInProgress {
            ctx.error("ERR Background save already in progress")
        } else if p.aof?.rewrite != nil {
            // One background job at a time, as Redis runs one child process.
            if schedule || inExec {
                p.bgsaveScheduled = true
                ctx.out.simple("Background saving scheduled")
            } else {
                ctx.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
            }
        } else if inExec {
            p.bgsaveScheduled = true
            ctx.out.simple("Background saving scheduled")
        } else if p.startBackgroundSave() {
            ctx.out.simple("Background saving started")
        } else {
            ctx.error("ERR")
        }
    }

    static func lastsave(_ ctx: CommandContext) {
        guard let p = persistence(ctx) else { return }
        ctx.out.integer(Int(p.lastSave))
    }

    // MARK: BGREWRITEAOF

    static func bgrewriteaof(_ ctx: CommandContext) {
        guard let p = persistence(ctx), let aof = p.aof else { return }
        let inExec = ctx.noBlocking && !ctx.inScript
        if aof.rewrite != nil {
            ctx.error("ERR Background append only file rewriting already in progress")
        } else if p.bgsaveInProgress || inExec {
            aof.rewriteScheduled = true
            ctx.out.simple("Background append only file rewriting scheduled")
        } else if aof.startRewrite() {
            ctx.out.simple("Background append only file rewriting started")
        } else {
            ctx.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
        }
    }

    // MARK: SHUTDOWN

    static func shutdown(_ ctx: CommandContext) {
        var nosave = false, save = false, now = false, force = false, abort = false
        for i in 1..<ctx.argc {
            if ctx.arg(i, is: "nosave") { nosave = true }
            else if ctx.arg(i, is: "save") { save = true }
            else if ctx.arg(i, is: "now") { now = true }
            else if ctx.arg(i, is: "force") { force = true }
            else if ctx.arg(i, is: "abort") { abort = true }
            else { ctx.syntaxError(); return }
        }
        if (abort && ctx.argc != 2) || (save && nosave) { ctx.syntaxError(); return }
        if abort { ctx.error("ERR No shutdown in progress."); return }
        guard let p = persistence(ctx) else { return }
        guard p.prepareForShutdown(save: save, nosave: nosave, force: force) else {
            ctx.error("ERR Errors trying to SHUTDOWN. Check logs.")
            return
        }
        guard let handler = ctx.engine.shutdownHandler else {
            ctx.error("ERR Errors trying to SHUTDOWN. Check logs.")
            return
        }
        handler(now)
    }

    // MARK: DEBUG LOADAOF

    /// Writes out the append-only file, empties the dataset and replays the file.
    static func debugLoadAOF(_ ctx: CommandContext, original: CommandHandler) {
        if !ctx.protectedActionAllowed("enable-debug-command") {
            original(ctx)
            return
        }
        guard let p = persistence(ctx), let aof = p.aof else { return }
        if aof.state == .on { aof.flushAndSync() }
        ctx.engine.flushAll()
        // The reload changes nothing a replica or the AOF needs to replay.
        ctx.propagateNothing()
        do {
            try aof.loadFiles(insideCommand: true)
        } catch {
            ctx.engine.logger.warning("\(error)")
            ctx.error("ERR Error loading the AOF file, check server logs.")
            return
        }
        p.dirtyAtSave = ctx.engine.dirty
        ctx.engine.logger.notice("Append Only File loaded by DEBUG LOADAOF")
        ctx.ok()
    }

    // MARK: DEBUG RELOAD

    static func debugReload(_ ctx: CommandContext, original: CommandHandler) {
        if !ctx.protectedActionAllowed("enable-debug-command") {
            original(ctx)
            return
        }
        var merge = false, flush = true, save = true
        for i in 2..<ctx.argc {
            if ctx.arg(i, is: "merge") { merge = true }
            else if ctx.arg(i, is: "noflush") { flush = false }
            else if ctx.arg(i, is: "nosave") { save = false }
            else { ctx.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."); return }
        }
        guard let p = persistence(ctx) else { return }
        if save && !p.saveSync() {
            ctx.error("ERR")
            return
        }
        if flush {
            // Redis empties the data and the function libraries, then loads the file's.
            ctx.engine.flushAll()
            RDBReader.functionFlusher?(ctx.engine)
        }
        // The reload changes nothing a replica or the AOF needs to replay.
        ctx.propagateNothing()
        do {
            try p.load(path: p.path, expireBefore: unixMillis(), allowDuplicates: merge,
                       refuseExistingLibraries: !flush && !merge)
        } catch {
            ctx.engine.logger.warning("\(error)")
            ctx.error("ERR Error trying to load the RDB dump")
            return
        }
        ctx.engine.logger.notice("DB reloaded by DEBUG RELOAD")
        ctx.ok()
    }
}

extension Persistence {
    /// Redis's shutdown sequence for persistence: a running BGSAVE is abandoned, then the dataset is
    /// saved when `save` points exist (unless NOSAVE) or SAVE was given. False if saving failed
    /// without FORCE: the server must keep running.
    public func prepareForShutdown(save: Bool, nosave: Bool, force: Bool) -> Bool {
        if bgsave != nil {
            engine.logger.warning("There is a child saving an .rdb. Killing it!")
            abandonBackgroundSave()
        }
        if let aof {
            if aof.rewrite != nil {
                engine.logger.warning("There is a child rewriting the AOF. Killing it!")
                aof.abandonRewrite()
            }
            if aof.state != .off {
                engine.logger.notice("Calling fsync() on the AOF file.")
                aof.flushAndSync()
            }
        }
        if (!savePoints.isEmpty && !nosave) || save {
            engine.logger.notice("Saving the final RDB snapshot before exiting.")
            if !saveSync() {
                if force {
                    engine.logger.warning("Error trying to save the DB. Exit anyway.")
                } else {
                    engine.logger.warning("Error trying to save the DB, can't exit.")
                    engine.logger.warning("Errors trying to shut down the server. Check the logs for more information.")
                    return false
                }
            }
        }
        return true
    }

    /// Cancels a running BGSAVE and waits (bounded) for its writer, which may be creating its temp file
    /// right now: it removes the file once it sees the cancel, so none is left behind.
    func abandonBackgroundSave() {
        guard let job = bgsave else { return }
        fileLock.lock()
        job.cancel()
        fileLock.unlock()
        if job.finished.wait(timeout: .now() + 10) == .timedOut {
            engine.logger.warning("The background save did not stop in time; removing its temp file")
        }
        unlink(job.tempPath)
    }

    /// FLUSHALL: a running BGSAVE is abandoned, and with `save` points the (now empty) dataset is saved
    /// (not counted in rdb_saves, as in Redis 7.0).
    func afterFlushAll() {
        abandonBackgroundSave()
        if !savePoints.isEmpty {
            saveSync(counted: false)
        }
    }
}
