#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarEngine
import LunarRESP

/// A rewrite in flight: a writer thread turns the snapshot plan into the new base file.
final class AOFRewrite: @unchecked Sendable {
    let started: Int64
    /// The temp file the writer creates in the AOF directory.
    let tempName: String
    /// The incremental files the new base replaces (those in the manifest when the rewrite began).
    let replacedIncrs: [AOFManifest.Entry]
    /// An RDB base (`.base.rdb`) or a base of commands (`.base.aof`).
    let rdb: Bool
    /// Set (under `lock`) when the rewrite is abandoned: the writer then removes its temp file.
    var cancelled = false
    let lock = NSLock()
    let finished = DispatchSemaphore(value: 0)

    init(started: Int64, tempName: String, replacedIncrs: [AOFManifest.Entry], rdb: Bool) {
        self.started = started
        self.tempName = tempName
        self.replacedIncrs = replacedIncrs
        self.rdb = rdb
    }
}

extension AppendOnlyFile {
    /// BGREWRITEAOF: the dataset is planned on the engine thread at the moment appending moves to a
    /// new incremental file; a writer thread produces the new base. False if it could not start.
    @discardableResult
    func startRewrite() -> Bool {
        if rewrite != nil { return false }
        lastRewriteAttempt = monotonicMillis()
        rewriteScheduled = false
        do {
            if access(directory, F_OK) != 0 && mkdir(directory, 0o755) != 0 {
                throw AOFError("Can't open or create append-only dir \(engine.config.string("appenddirname")): \(String(cString: strerror(errno)))")
            }
        } catch {
            engine.logger.warning("\(error)")
            rewriteFailed()
            return false
        }
        // Everything appended so far goes to the files the new base replaces.
        writeBuffer()
        var replaced = manifest.incrs
        switch state {
        case .on:
            // A new incremental file receives the writes from now on; the manifest names it at once.
            let name = incrName(manifest.incrSeq + 1)
            let f = open(path(name), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
            if f < 0 {
                engine.logger.warning("Can't open the append-only file \(name): \(String(cString: strerror(errno)))")
                rewriteFailed()
                return false
            }
            var next = manifest
            next.incrs.append(AOFManifest.Entry(name: name, seq: manifest.incrSeq + 1, kind: .incr))
            if let err = persistManifest(next) {
                engine.logger.warning("\(err)")
                close(f)
                unlink(path(name))
                rewriteFailed()
                return false
            }
            manifest = next
            if fd >= 0 { retire(fd: fd) }
            fd = f
            selectedDB = -1
            lastTimestamp = 0
        case .waitRewrite:
            // Turning the AOF on: writes collect in a temp file that becomes the first incremental
            // file once the base exists.
            let f = open(path(tempIncrName), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
            if f < 0 {
                engine.logger.warning("Can't open the append-only file \(tempIncrName): \(String(cString: strerror(errno)))")
                rewriteFailed()
                return false
            }
            if fd >= 0 { close(fd) }
            fd = f
            selectedDB = -1
            lastTimestamp = 0
            currentSize = 0
            engine.addPropagationSink(self)
        case .off:
            replaced = manifest.incrs
        }
        // The snapshot: an RDB plan (long strings are encoded by the writer thread) or the commands.
        let rdb = rdbPreamble
        let plan = rdb ? RDBWriter.plan(engine, extraAux: [("aof-base", "1")], compress: persistence.compress) : nil
        let commands = rdb ? [] : AOFCommandWriter.snapshot(engine, timestamp: timestamps)
        let withChecksum = persistence.checksum
        let job = AOFRewrite(started: monotonicMillis(), tempName: "temp-rewriteaof-bg-\(getpid()).aof",
                             replacedIncrs: state == .waitRewrite ? [] : replaced, rdb: rdb)
        rewrite = job
        rewrites += 1
        engine.logger.notice("Background append only file rewriting started")
        let dir = directory
        let engine = self.engine
        let thread = Thread {
            var bytes = commands
            if let plan {
                bytes = plan.assemble()
                RDBWriter.appendChecksum(&bytes, checksum: withChecksum)
            }
            var err = Persistence.writeFile(bytes, directory: dir, finalName: nil, temp: job.tempName)
            job.lock.lock()
            if job.cancelled {
                unlink(dir + "/" + job.tempName)
                err = "cancelled"
            }
            job.lock.unlock()
            if err == nil { engine.logger.notice("Successfully created the temporary AOF base file \(job.tempName)") }
            let result = err
            job.finished.signal()
            engine.enqueue { e in AppendOnlyFile.of(e)?.rewriteDone(job, error: result) }
        }
        thread.name = "lunar-aof-rewrite"
        thread.start()
        return true
    }

    private func rewriteFailed() {
        lastRewriteOK = false
        rewriteFailures += 1
    }

    /// On the engine thread when the writer is done: the new base is renamed into place, the
    /// manifest switched to it, and the replaced files deleted in the background.
    func rewriteDone(_ job: AOFRewrite, error: String?) {
        guard rewrite === job else { return }
        rewrite = nil
        lastRewriteSeconds = Int((monotonicMillis() - job.started) / 1000)
        if let error {
            if error != "cancelled" {
                engine.logger.warning("\(error)")
                engine.logger.warning("Background AOF rewrite terminated with error")
                rewriteFailed()
            }
            return
        }
        engine.logger.notice("Background AOF rewrite terminated with success")
        // What the engine appended meanwhile is written before the manifest names the files.
        writeBuffer()
        var next = manifest
        let baseSeq = manifest.baseSeq + 1
        let base = AOFManifest.Entry(name: baseName(baseSeq, rdb: job.rdb), seq: baseSeq, kind: .base)
        if rename(path(job.tempName), path(base.name)) != 0 {
            engine.logger.warning("Error trying to rename the temporary AOF base file \(job.tempName) into \(base.name): \(String(cString: strerror(errno)))")
            unlink(path(job.tempName))
            rewriteFailed()
            return
        }
        engine.logger.notice("Successfully renamed the temporary AOF base file \(job.tempName) into \(base.name)")
        var renamedIncr: AOFManifest.Entry?
        if state == .waitRewrite {
            let e = AOFManifest.Entry(name: incrName(manifest.incrSeq + 1), seq: manifest.incrSeq + 1, kind: .incr)
            if rename(path(tempIncrName), path(e.name)) != 0 {
                engine.logger.warning("Error trying to rename the temporary AOF incr file \(tempIncrName) into \(e.name): \(String(cString: strerror(errno)))")
                unlink(path(base.name))
                rewriteFailed()
                return
            }
            engine.logger.notice("Successfully renamed the temporary AOF incr file \(tempIncrName) into \(e.name)")
            renamedIncr = e
        }
        if let old = next.base { next.history.append(AOFManifest.Entry(name: old.name, seq: old.seq, kind: .history)) }
        let replacedNames = Set(job.replacedIncrs.map(\.name))
        for e in next.incrs where replacedNames.contains(e.name) || state != .on {
            next.history.append(AOFManifest.Entry(name: e.name, seq: e.seq, kind: .history))
        }
        next.incrs.removeAll { replacedNames.contains($0.name) || state != .on }
        if let renamedIncr { next.incrs = [renamedIncr] }
        next.base = base
        if let err = persistManifest(next) {
            engine.logger.warning("\(err)")
            // The old manifest still describes a complete AOF: keep it, drop the new base.
            if let renamedIncr { rename(path(renamedIncr.name), path(tempIncrName)) }
            unlink(path(base.name))
            rewriteFailed()
            return
        }
        manifest = next
        if state == .waitRewrite {
            state = .on
            engine.logger.notice("AOF rewrite of the dataset done: appending is on")
        }
        currentSize = filesSize(manifest.loadOrder)
        baseSize = currentSize
        lastRewriteOK = true
        rewriteFailures = 0
        deleteHistory()
        engine.logger.notice("Background AOF rewrite finished successfully")
        // A BGSAVE asked for while the rewrite ran starts now.
        if persistence.bgsaveScheduled && !persistence.bgsaveInProgress { persistence.startBackgroundSave() }
    }

    /// Removes the history files (in the background) and the manifest's mention of them.
    func deleteHistory() {
        if manifest.history.isEmpty || engine.config.get("aof-disable-auto-gc") == "yes" { return }
        let paths = manifest.history.map { path($0.name) }
        for h in manifest.history { engine.logger.notice("Removing the history file \(h.name) in the background") }
        manifest.history = []
        if let err = persistManifest(manifest) { engine.logger.warning("\(err)") }
        DispatchQueue.global(qos: .utility).async { for p in paths { unlink(p) } }
    }

    /// Stops a running rewrite (appendonly no, shutdown, FLUSHALL does not): its temp file goes away.
    func abandonRewrite() {
        guard let job = rewrite else { return }
        job.lock.lock()
        job.cancelled = true
        unlink(path(job.tempName))
        job.lock.unlock()
        if job.finished.wait(timeout: .now() + 10) == .timedOut {
            engine.logger.warning("The AOF rewrite did not stop in time; removing its temp file")
        }
        unlink(path(job.tempName))
        rewrite = nil
    }
}
