#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarEngine
import LunarRESP

/// The append-only file (Redis 7's multi-part AOF): every write the engine propagates is appended,
/// as a command, to the current incremental file of `<dir>/<appenddirname>/`; a rewrite replaces
/// the base with a snapshot of the dataset and starts a new incremental file.
///
/// Threads: everything here runs on the engine thread except the rewrite's file writer and the
/// `appendfsync everysec` fsyncs (a serial background queue). The round's appended commands are
/// written before the round's replies leave (`Engine.beforeReplies`), so a client never sees a
/// write acknowledged that the file does not hold; with `appendfsync always` they are also fsynced
/// first, as Redis does in its main thread.
///
/// Redis forks to rewrite. Lunar takes the snapshot on the engine thread (the same plan BGSAVE
/// uses) at the moment it switches appending to a new incremental file, so the new base and the
/// files after it meet exactly, with no rewrite buffer to replay.
public final class AppendOnlyFile: PropagationSink {
    static let key = "lunar.aof"

    public enum State { case off, on, waitRewrite }

    unowned let engine: Engine
    unowned let persistence: Persistence
    public internal(set) var state: State = .off
    var manifest = AOFManifest()
    /// The incremental file being appended to (the temporary one while waiting for the first rewrite).
    var fd: Int32 = -1
    /// Commands appended since the last write (Redis's aof_buf).
    var out = ReplyWriter(resp: 2, capacity: 4096)
    var pendingBytes: Int { out.buffer.readableBytes }
    /// The database the current file last selected (-1: the next command emits SELECT).
    var selectedDB = -1
    /// Bytes of the base and incremental files (INFO aof_current_size), and that total after the
    /// last rewrite or load (aof_base_size, the reference of auto-aof-rewrite-percentage).
    var currentSize = 0
    var baseSize = 0
    /// The error of the last failed write, nil while writes succeed (aof_last_write_status).
    var writeError: String?
    /// Appended bytes not yet fsynced, and when the last fsync was started (everysec).
    var unsynced = false
    var lastFsync: Int64 = 0
    var delayedFsyncs = 0
    let fsyncQueue = DispatchQueue(label: "lunar-aof-fsync")
    let fsyncsInFlight = Counter()
    var rewrite: AOFRewrite?
    var rewriteScheduled = false
    var rewrites = 0
    var rewriteFailures = 0
    var lastRewriteOK = true
    var lastRewriteSeconds = -1
    var lastRewriteAttempt: Int64 = 0
    /// True while files are being replayed (their commands must not be appended again).
    var loading = false
    /// `aof-timestamp-enabled` (kept in a field: read for every appended unit), and the second of
    /// the last annotation written.
    var timestamps = false
    var lastTimestamp: Int64 = 0

    init(engine: Engine, persistence: Persistence) {
        self.engine = engine
        self.persistence = persistence
    }

    public static func of(_ engine: Engine) -> AppendOnlyFile? { engine.extensions[key] as? AppendOnlyFile }

    /// The configuration of the append-only file beyond `appendonly`, `appendfilename` and `appendfsync`.
    static var configParams: [ConfigParam] {
        [
            ConfigParam("appenddirname", .string, "appendonlydir", immutable: true),
            ConfigParam("aof-load-truncated", .bool, "yes"),
            ConfigParam("aof-use-rdb-preamble", .bool, "yes"),
            ConfigParam("auto-aof-rewrite-percentage", .int(min: 0, max: Int(Int32.max)), "100"),
            ConfigParam("auto-aof-rewrite-min-size", .memory(min: 0, max: Int.max), "67108864"),
            ConfigParam("no-appendfsync-on-rewrite", .bool, "no"),
            ConfigParam("aof-rewrite-incremental-fsync", .bool, "yes"),
            ConfigParam("aof-timestamp-enabled", .bool, "no"),
            ConfigParam("aof-disable-auto-gc", .bool, "no"),
        ]
    }

    static func install(on engine: Engine, persistence: Persistence) -> AppendOnlyFile {
        let aof = AppendOnlyFile(engine: engine, persistence: persistence)
        engine.extensions[key] = aof
        engine.cronHooks.append { e in AppendOnlyFile.of(e)?.cron() }
        aof.timestamps = engine.config.get("aof-timestamp-enabled") == "yes"
        engine.config.onChange.append { [unowned aof] name, value in
            if name == "appendonly" { aof.configChanged(enabled: value == "yes") }
            if name == "aof-timestamp-enabled" { aof.timestamps = value == "yes" }
        }
        return aof
    }

    // MARK: Names

    var directory: String { persistence.directory + "/" + engine.config.string("appenddirname") }
    var fileName: String { engine.config.string("appendfilename") }
    var manifestName: String { fileName + ".manifest" }
    func baseName(_ seq: Int, rdb: Bool) -> String { "\(fileName).\(seq).base.\(rdb ? "rdb" : "aof")" }
    func incrName(_ seq: Int) -> String { "\(fileName).\(seq).incr.aof" }
    /// The incremental file that collects writes while `appendonly yes` waits for its first base.
    var tempIncrName: String { "temp-\(fileName).incr" }
    func path(_ name: String) -> String { directory + "/" + name }
    /// `aof-use-rdb-preamble`: bases are RDB images (yes, the default) or commands.
    var rdbPreamble: Bool { engine.config.get("aof-use-rdb-preamble") != "no" }

    /// The dataset as a base file's bytes, per `aof-use-rdb-preamble` (on the engine thread).
    func baseSnapshot() -> [UInt8] {
        if rdbPreamble {
            return RDBWriter.snapshot(engine, extraAux: [("aof-base", "1")], compress: persistence.compress,
                                      checksum: persistence.checksum)
        }
        return AOFCommandWriter.snapshot(engine, timestamp: timestamps)
    }

    var fsyncPolicy: String { engine.config.string("appendfsync") }

    // MARK: Start-up

    /// `appendonly yes` at start-up: loads the files the manifest names (the RDB file is not read,
    /// as in Redis), upgrades a single old-style file, or creates a base and an incremental file
    /// for an empty dataset. Then appends from now on.
    func loadAtStartup() throws {
        try ensureDirectory()
        let mpath = path(manifestName)
        if access(mpath, F_OK) == 0 {
            manifest = try readManifest()
        } else if access(persistence.directory + "/" + fileName, F_OK) == 0 {
            try upgradeOldStyleFile()
        }
        if !manifest.isEmpty {
            let start = monotonicMillis()
            engine.loadingProgress = Engine.LoadingProgress(totalBytes: filesSize(manifest.loadOrder))
            defer { engine.loadingProgress = nil }
            try loadFiles(servingClients: true)
            let secs = Double(monotonicMillis() - start) / 1000
            engine.logger.notice("DB loaded from append only file: \(String(format: "%.3f", secs)) seconds")
        }
        let loadedBase = manifest.base
        if manifest.base == nil && manifest.incrs.isEmpty {
            // An empty dataset gets a base at once, so the directory always holds a complete AOF.
            let name = baseName(manifest.baseSeq + 1, rdb: rdbPreamble)
            let bytes = baseSnapshot()
            if let err = Persistence.writeFile(bytes, directory: directory, finalName: path(name), temp: "temp-rewriteaof-\(getpid()).aof") {
                throw AOFError(err)
            }
            manifest.base = AOFManifest.Entry(name: name, seq: manifest.baseSeq + 1, kind: .base)
            engine.logger.notice("Creating AOF base file \(name) on server start")
        }
        if manifest.incrs.isEmpty {
            let name = incrName(manifest.incrSeq + 1)
            let f = open(path(name), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
            if f < 0 { throw AOFError("Can't open the append-only file \(name): \(String(cString: strerror(errno)))") }
            close(f)
            manifest.incrs.append(AOFManifest.Entry(name: name, seq: manifest.incrSeq + 1, kind: .incr))
            engine.logger.notice("Creating AOF incr file \(name) on server start")
        }
        if let err = persistManifest(manifest) { throw AOFError(err) }
        try openForAppend(manifest.incrs[manifest.incrs.count - 1].name)
        // As Redis 7.0 reports them: the sizes of what was loaded (a base created just now is not
        // counted), and as the growth reference the loaded base alone.
        currentSize = loadedBase == nil ? 0 : filesSize(manifest.loadOrder)
        baseSize = loadedBase.map { filesSize([$0]) } ?? 0
        state = .on
        engine.addPropagationSink(self)
        // What was replayed is on disk already: nothing is "changed since the last save".
        persistence.dirtyAtSave = engine.dirty
    }

    /// Replays the base and the incremental files, in order, with nothing propagated meanwhile.
    func loadFiles(insideCommand: Bool = false, servingClients: Bool = false) throws {
        let sinks = engine.propagationSinks
        for s in sinks { engine.removePropagationSink(s) }
        loading = true
        defer {
            loading = false
            for s in sinks { engine.addPropagationSink(s) }
        }
        let loader = AOFLoader(engine: engine, allowTruncated: engine.config.get("aof-load-truncated") != "no",
                               insideCommand: insideCommand, servingClients: servingClients)
        let files = manifest.loadOrder
        var bytesBefore = 0
        for (i, f) in files.enumerated() {
            let start = monotonicMillis()
            try loader.load(path: path(f.name), name: f.name, isLast: i == files.count - 1, bytesBefore: bytesBefore)
            bytesBefore += filesSize([f])
            let secs = Double(monotonicMillis() - start) / 1000
            engine.logger.notice("DB loaded from \(f.kind == .base ? "base" : "incr") file \(f.name): \(String(format: "%.3f", secs)) seconds")
        }
    }

    /// A Redis 6 `appendonly.aof` in `dir`: moved into the AOF directory as the base, as Redis 7 does.
    private func upgradeOldStyleFile() throws {
        let old = persistence.directory + "/" + fileName
        let m = AOFManifest(base: AOFManifest.Entry(name: fileName, seq: 1, kind: .base))
        if let err = persistManifest(m) { throw AOFError(err) }
        if rename(old, path(fileName)) != 0 {
            throw AOFError("Error trying to rename the old AOF file \(fileName) into dir \(engine.config.string("appenddirname")): \(String(cString: strerror(errno)))")
        }
        Persistence.syncDirectory(persistence.directory)
        manifest = m
        engine.logger.notice("Successfully migrated an old-style AOF file (\(fileName)) into the AOF directory (\(engine.config.string("appenddirname"))).")
    }

    private func ensureDirectory() throws {
        var st = stat()
        if stat(directory, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFDIR { throw AOFError("Can't open or create append-only dir \(engine.config.string("appenddirname")): Not a directory") }
            return
        }
        if mkdir(directory, 0o755) != 0 {
            throw AOFError("Can't open or create append-only dir \(engine.config.string("appenddirname")): \(String(cString: strerror(errno)))")
        }
    }

    private func readManifest() throws -> AOFManifest {
        let bytes: [UInt8]
        do { bytes = try Persistence.readFile(path(manifestName)) } catch {
            throw AOFError("Fail to open AOF manifest file \(manifestName): \(error)")
        }
        return try AOFManifest.parse(String(decoding: bytes, as: UTF8.self))
    }

    private func openForAppend(_ name: String) throws {
        let f = open(path(name), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if f < 0 { throw AOFError("Can't open the append-only file \(name): \(String(cString: strerror(errno)))") }
        fd = f
        selectedDB = -1
        lastTimestamp = 0
    }

    func filesSize(_ entries: [AOFManifest.Entry]) -> Int {
        var total = 0
        for e in entries {
            var st = stat()
            if stat(path(e.name), &st) == 0 { total += Int(st.st_size) }
        }
        return total
    }

    /// Writes the manifest atomically (a temp file renamed over it). Returns an error message, or nil.
    func persistManifest(_ m: AOFManifest) -> String? {
        Persistence.writeFile(Array(m.render().utf8), directory: directory, finalName: path(manifestName),
                              temp: "temp-\(manifestName)")
    }

    // MARK: Appending

    /// The feed of writes (PropagationSink): encoded as RESP commands into the buffer.
    public func propagate(_ ops: [PropagatedOp]) {
        if state == .off || loading { return }
        if timestamps, ops.contains(where: { $0.targets.contains(.aof) }) {
            // aof-timestamp-enabled: a `#TS:<unix seconds>` annotation whenever the second changed.
            let now = unixMillis() / 1000
            if now > lastTimestamp {
                lastTimestamp = now
                out.buffer.writeString("#TS:\(now)\r\n")
            }
        }
        for op in ops where op.targets.contains(.aof) {
            if op.db != selectedDB {
                out.command([Bytes("SELECT"), Bytes(op.db)])
                selectedDB = op.db
            }
            out.command(op.argv)
        }
    }

    /// Writes the buffer to the current file (before the round's replies go out), then fsyncs as
    /// `appendfsync` asks. On a write error the buffer is kept, writes are refused with MISCONF and
    /// the cron retries; with `appendfsync always` the server exits, as Redis does.
    func writeBuffer() {
        if pendingBytes == 0 || fd < 0 { return }
        if persistence.aofFlushSleepMicros > 0 { usleep(UInt32(persistence.aofFlushSleepMicros)) }
        let always = fsyncPolicy == "always"
        var off = 0
        var failure: Int32 = 0
        out.buffer.withUnsafeReadableBytes { p in
            while off < p.count {
                let n = write(fd, p.baseAddress! + off, p.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                off += n
            }
        }
        if failure != 0 {
            // A partial write is cut off again, so the file never ends inside a command.
            if off > 0 {
                var st = stat()
                if fstat(fd, &st) == 0 { _ = ftruncate(fd, st.st_size - off_t(off)) }
            }
            let msg = String(cString: strerror(failure))
            if always {
                engine.logger.critical("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
                exit(1)
            }
            if writeError == nil {
                engine.logger.warning("Error writing to the AOF file: \(msg)")
            }
            writeError = msg
            persistence.updateWriteGate()
            return
        }
        currentSize += pendingBytes
        if out.buffer.capacity > 1 << 22 { out = ReplyWriter(resp: 2, capacity: 4096) } else { out.buffer.clear() }
        if writeError != nil {
            engine.logger.warning("AOF write error looks solved, Redis can write again.")
            writeError = nil
            persistence.updateWriteGate()
        }
        unsynced = true
        if always {
            if fsync(fd) != 0 {
                engine.logger.critical("Can't persist AOF for fsync error when the AOF fsync policy is 'always': \(String(cString: strerror(errno))). Exiting...")
                exit(1)
            }
            unsynced = false
            lastFsync = monotonicMillis()
        } else {
            syncEverySecondIfDue()
        }
    }

    /// `appendfsync everysec`: an fsync in the background at most once a second, skipped (and
    /// counted in aof_delayed_fsync) while the previous one is still running.
    func syncEverySecondIfDue() {
        guard unsynced, fd >= 0, fsyncPolicy == "everysec" else { return }
        if rewrite != nil && engine.config.get("no-appendfsync-on-rewrite") == "yes" { return }
        let now = monotonicMillis()
        if now - lastFsync < 1000 { return }
        if fsyncsInFlight.value > 0 {
            delayedFsyncs += 1
            return
        }
        lastFsync = now
        unsynced = false
        let f = fd
        fsyncsInFlight.add(1)
        fsyncQueue.async { [fsyncsInFlight] in
            _ = fsync(f)
            fsyncsInFlight.add(-1)
        }
    }

    /// Closes a file the engine stopped appending to, after the fsyncs queued for it (background).
    func retire(fd f: Int32) {
        let sync = fsyncPolicy != "no"
        fsyncsInFlight.add(1)
        fsyncQueue.async { [fsyncsInFlight] in
            if sync { _ = fsync(f) }
            close(f)
            fsyncsInFlight.add(-1)
        }
    }

    /// Writes and fsyncs everything now (shutdown, SAVE-like moments), waiting for background fsyncs.
    func flushAndSync() {
        writeBuffer()
        fsyncQueue.sync {}
        if fd >= 0 { _ = fsync(fd) }
        unsynced = false
    }

    // MARK: Cron

    func cron() {
        if state == .off && rewrite == nil && !rewriteScheduled { return }
        if pendingBytes > 0 && writeError != nil { writeBuffer() }
        syncEverySecondIfDue()
        if rewrite != nil || persistence.bgsaveInProgress { return }
        let nowMs = monotonicMillis()
        if rewriteScheduled || state == .waitRewrite {
            // A failed rewrite is retried after a pause that grows with consecutive failures.
            if rewriteFailures > 0 && nowMs - lastRewriteAttempt < Int64(min(60, rewriteFailures * 5)) * 1000 { return }
            startRewrite()
            return
        }
        // auto-aof-rewrite-percentage / -min-size: the files grew that much since the last rewrite.
        let pct = engine.config.int("auto-aof-rewrite-percentage")
        let minSize = engine.config.int("auto-aof-rewrite-min-size")
        if state == .on && pct > 0 && currentSize > minSize {
            let base = max(baseSize, 1)
            let growth = (currentSize * 100 / base) - 100
            if growth >= pct {
                if rewriteFailures > 0 && nowMs - lastRewriteAttempt < Int64(min(60, rewriteFailures * 5)) * 1000 { return }
                engine.logger.notice("Starting automatic rewriting of AOF on \(growth)% growth")
                startRewrite()
            }
        }
    }

    // MARK: Turning on and off (CONFIG SET appendonly)

    func configChanged(enabled: Bool) {
        if enabled && state == .off {
            if persistence.bgsaveInProgress {
                state = .waitRewrite
                rewriteScheduled = true
                engine.logger.notice("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.")
                return
            }
            if rewrite != nil {
                // A BGREWRITEAOF of a server without AOF is running: it cannot hand over appending.
                abandonRewrite()
            }
            state = .waitRewrite
            if !startRewrite() {
                state = .off
                engine.logger.warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.")
            }
        } else if !enabled && state != .off {
            stop()
        }
    }

    /// A replica's full sync replaced the dataset: the AOF starts again from it (a rewrite, the
    /// writes meanwhile collected in a temp file), as Redis restarts its AOF after a sync.
    public func datasetReplaced() {
        guard state != .off else { return }
        stop()
        configChanged(enabled: true)
    }

    /// `appendonly no`: the file is written and fsynced, then no longer appended to.
    func stop() {
        flushAndSync()
        if rewrite != nil { abandonRewrite() }
        if state == .waitRewrite { unlink(path(tempIncrName)) }
        if fd >= 0 { close(fd) }
        fd = -1
        out.buffer.clear()
        state = .off
        rewriteScheduled = false
        writeError = nil
        persistence.updateWriteGate()
        engine.removePropagationSink(self)
    }

    // MARK: INFO

    func infoLines() -> [String] {
        [
            "aof_enabled:\(state != .off ? 1 : 0)",
            "aof_rewrite_in_progress:\(rewrite != nil ? 1 : 0)",
            "aof_rewrite_scheduled:\(rewriteScheduled ? 1 : 0)",
            "aof_last_rewrite_time_sec:\(lastRewriteSeconds)",
            "aof_current_rewrite_time_sec:\(rewrite.map { Int((monotonicMillis() - $0.started) / 1000) } ?? -1)",
            "aof_last_bgrewrite_status:\(lastRewriteOK ? "ok" : "err")",
            "aof_rewrites:\(rewrites)",
            "aof_rewrites_consecutive_failures:\(rewriteFailures)",
            "aof_last_write_status:\(writeError == nil ? "ok" : "err")",
            "aof_last_cow_size:0",
        ]
    }

    /// The fields INFO shows while the AOF is on (after the module_fork ones, as Redis orders them).
    func infoSizeLines() -> [String] {
        guard state != .off else { return [] }
        return [
            "aof_current_size:\(currentSize)",
            "aof_base_size:\(baseSize)",
            "aof_pending_rewrite:\(rewriteScheduled ? 1 : 0)",
            "aof_buffer_length:\(pendingBytes)",
            "aof_pending_bio_fsync:\(fsyncsInFlight.value)",
            "aof_delayed_fsync:\(delayedFsyncs)",
        ]
    }

    /// `appendonly no` at start-up: an existing manifest still numbers the files a BGREWRITEAOF writes.
    func readManifestIfPresent() {
        guard access(path(manifestName), F_OK) == 0 else { return }
        do { manifest = try readManifest() } catch {
            engine.logger.warning("Ignoring the AOF manifest \(manifestName): \(error)")
        }
    }

    /// MISCONF text while appending fails (nil when the last write succeeded).
    var denyWritesError: String? {
        guard state != .off, let e = writeError else { return nil }
        return "MISCONF Errors writing to the AOF file: \(e)"
    }
}

/// A small thread-safe counter (background fsyncs in flight).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    func add(_ d: Int) { lock.lock(); v += d; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}
