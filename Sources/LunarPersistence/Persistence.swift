#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarEngine
import LunarRESP

/// RDB persistence state of one engine: the last save, the background save in flight, the `save`
/// points checked by the cron. Everything but the background writer runs on the engine thread.
///
/// Redis forks to save in the background. Lunar cannot fork a multi-threaded process, so BGSAVE
/// serializes the dataset on the engine thread (a pause proportional to the dataset, like SAVE but
/// without the disk I/O) and a background thread writes and fsyncs the file.
public final class Persistence {
    static let key = "lunar.persistence"

    unowned let engine: Engine
    /// Unix seconds of the last successful save (start-up time until then).
    public private(set) var lastSave: Int64
    /// `engine.dirty` at the last successful save: changes since then are the difference.
    var dirtyAtSave = 0
    /// DEBUG AOF-FLUSH-SLEEP (µs): a testing aid, the AOF buffer waits this long before each write.
    var aofFlushSleepMicros = 0
    var lastBgsaveOK = true {
        didSet { updateWriteGate() }
    }
    /// Unix seconds of the last BGSAVE attempt (a failed one is retried after 5 seconds).
    var lastBgsaveTry: Int64 = 0
    var lastBgsaveSeconds = -1
    var rdbSaves = 0
    var bgsaveScheduled = false
    /// The background save in flight.
    var bgsave: BackgroundSave?
    public private(set) var lastLoad = RDBLoadStats()

    /// The append-only file (appending only while `appendonly yes`).
    public internal(set) weak var aof: AppendOnlyFile?

    /// Serializes renames of finished files against a synchronous save at shutdown.
    let fileLock = NSLock()

    /// The configuration parameters of RDB persistence beyond the engine's (`dir`, `dbfilename`, `save`):
    /// added to the server's ConfigStore before options are read.
    public static var configParams: [ConfigParam] {
        [
            ConfigParam("rdbcompression", .bool, "yes"),
            ConfigParam("rdbchecksum", .bool, "yes"),
            ConfigParam("stop-writes-on-bgsave-error", .bool, "yes"),
        ] + AppendOnlyFile.configParams
    }

    /// The writer options the configuration asks for (compression on unless `rdbcompression no`).
    public var compress: Bool { engine.config.get("rdbcompression") != "no" }
    public var checksum: Bool { engine.config.get("rdbchecksum") != "no" }

    init(engine: Engine) {
        self.engine = engine
        lastSave = unixMillis() / 1000
    }

    /// The persistence state of an engine (installed by `install(on:)`).
    public static func of(_ engine: Engine) -> Persistence? { engine.extensions[key] as? Persistence }

    /// Installs the RDB commands (SAVE, BGSAVE, LASTSAVE, SHUTDOWN, DEBUG RELOAD), the cron check of
    /// the `save` points and the INFO persistence section. Call before the engine starts.
    @discardableResult
    public static func install(on engine: Engine) -> Persistence {
        let p = Persistence(engine: engine)
        engine.extensions[key] = p
        let aof = AppendOnlyFile.install(on: engine, persistence: p)
        p.aof = aof
        engine.beforeReplies = { [unowned aof] in aof.writeBuffer() }
        engine.table.register(PersistenceCommands.specs(replacing: engine.table))
        engine.cronHooks.append { e in Persistence.of(e)?.cron() }
        Migrate.install(on: engine)
        engine.config.onChange.append { [unowned p] name, _ in
            if name == "save" || name == "stop-writes-on-bgsave-error" { p.updateWriteGate() }
        }
        engine.extensions[InfoSectionProvider.key("persistence")] = InfoSectionProvider { e in
            Persistence.of(e)?.infoLines() ?? []
        }
        return p
    }

    // MARK: Paths

    /// The directory and file name the configuration names (`dir`, `dbfilename`).
    public var directory: String {
        let d = engine.config.string("dir")
        return d.isEmpty ? "." : d
    }
    public var path: String { directory + "/" + engine.config.string("dbfilename") }

    public var changesSinceSave: Int { engine.dirty - dirtyAtSave }
    public var bgsaveInProgress: Bool { bgsave != nil }

    // MARK: Loading

    /// Loads the configured file if it exists (start-up). Throws an RDBError for a bad file.
    public func loadAtStartup() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw RDBError("Can't chdir to '\(directory)': No such file or directory")
        }
        if engine.config.get("appendonly") == "yes", let aof {
            // As in Redis 7, the append-only file is the dataset's only source then (the RDB file is not read).
            try aof.loadAtStartup()
            return
        }
        aof?.readManifestIfPresent()
        let p = path
        guard FileManager.default.fileExists(atPath: p) else { return }
        let start = monotonicMillis()
        let stats = try load(path: p, expireBefore: unixMillis(), keepExistingLibraries: true, servingClients: true)
        let secs = Double(monotonicMillis() - start) / 1000
        engine.logger.notice("Done loading RDB, keys loaded: \(stats.keysLoaded), keys expired: \(stats.keysExpired).")
        engine.logger.notice("DB loaded from disk: \(String(format: "%.3f", secs)) seconds")
    }

    /// Reads a file into the engine's databases (on the engine thread, or before it starts).
    @discardableResult
    public func load(path: String, expireBefore: Int64?, allowDuplicates: Bool = false,
                     keepExistingLibraries: Bool = false, refuseExistingLibraries: Bool = false,
                     servingClients: Bool = false) throws -> RDBLoadStats {
        let data = try Persistence.readFile(path)
        var reader = RDBReader(data: data, engine: engine, expireBefore: expireBefore)
        // At start-up, clients connected meanwhile are answered as the file is read (LOADING).
        if servingClients {
            engine.loadingProgress = Engine.LoadingProgress(totalBytes: data.count)
            reader.progress = { [engine] pos in engine.loadingReached(pos) }
        }
        defer { if servingClients { engine.loadingProgress = nil } }
        reader.allowDuplicates = allowDuplicates
        reader.keepExistingLibraries = keepExistingLibraries
        reader.refuseExistingLibraries = refuseExistingLibraries
        reader.verifyChecksum = checksum
        let stats = try reader.load()
        for (k, v) in stats.aux where k == "redis-ver" {
            engine.logger.notice("Loading RDB produced by version \(v)")
        }
        lastLoad = stats
        dirtyAtSave = engine.dirty
        return stats
    }

    /// Replaces the whole dataset with an RDB image (a replica's full sync): every database is emptied,
    /// then the image is loaded with its expired keys kept (the master will send their DELs).
    /// On the engine thread. On error the databases are left empty.
    @discardableResult
    public func replaceDataset(with bytes: [UInt8]) throws -> RDBLoadStats {
        engine.flushAll()
        var reader = RDBReader(data: bytes, engine: engine, expireBefore: nil)
        do {
            let stats = try reader.load()
            lastLoad = stats
            return stats
        } catch {
            engine.flushAll()
            throw error
        }
    }

    /// The whole file, read straight into one array (no intermediate copy).
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw RDBError("Fatal error loading the DB: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RDBError("Fatal error loading the DB: \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var off = 0
            while off < size {
                let n = read(fd, buf.baseAddress! + off, size - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                off += n
            }
            count = off
        }
        if failure != 0 { throw RDBError("Fatal error loading the DB: \(String(cString: strerror(failure)))") }
        return bytes
    }

    // MARK: Saving

    /// SAVE: serializes and writes the file now, on the engine thread. False on failure (logged).
    @discardableResult
    /// Sleeps `usec` microseconds; a negative value sleeps 1 µs once in `-usec` calls (Redis's
    /// debugDelay, for rdb-key-save-delay and key-load-delay).
    static func debugDelay(_ usec: Int) {
        var us = usec
        if us < 0 { us = Int.random(in: 0..<(-us)) == 0 ? 1 : 0 }
        if us > 0 { usleep(useconds_t(us)) }
    }

    public func saveSync(counted: Bool = true) -> Bool {
        let keyDelay = engine.config.int("rdb-key-save-delay")
        if keyDelay != 0 {
            // SAVE blocks for the delay, as Redis's does.
            for _ in 0..<engine.databases.reduce(0, { $0 + $1.count }) { Persistence.debugDelay(keyDelay) }
        }
        let bytes = RDBWriter.snapshot(engine, compress: compress, checksum: checksum)
        fileLock.lock()
        defer { fileLock.unlock() }
        bgsave?.cancel()
        if let err = Persistence.writeFile(bytes, directory: directory, finalName: path, temp: "temp-\(getpid()).rdb") {
            // As in Redis, a failed SAVE leaves rdb_last_bgsave_status alone.
            engine.logger.warning("\(err)")
            return false
        }
        engine.logger.notice("DB saved on disk")
        dirtyAtSave = engine.dirty
        lastSave = unixMillis() / 1000
        lastBgsaveOK = true
        if counted { rdbSaves += 1 }
        return true
    }

    /// BGSAVE: serializes on the engine thread, then writes on a background thread.
    /// Returns false if one is already running.
    @discardableResult
    public func startBackgroundSave() -> Bool {
        if bgsave != nil { return false }
        let started = monotonicMillis()
        lastBgsaveTry = unixMillis() / 1000
        let plan = RDBWriter.plan(engine, compress: compress)
        let withChecksum = checksum
        let job = BackgroundSave(dirtyBefore: engine.dirty, started: started,
                                 tempPath: directory + "/temp-bg-\(getpid()).rdb")
        bgsave = job
        bgsaveScheduled = false
        rdbSaves += 1   // Redis counts a BGSAVE when it starts
        engine.logger.notice("Background saving started")
        let dir = directory, final = path, temp = "temp-bg-\(getpid()).rdb"
        let engine = self.engine
        let lock = fileLock
        let keyDelay = engine.config.int("rdb-key-save-delay")
        let thread = Thread {
            // rdb-key-save-delay: the writer is slowed as Redis's child is, key by key.
            if keyDelay != 0 {
                for _ in 0..<plan.keys where !job.cancelled { Persistence.debugDelay(keyDelay) }
            }
            // Long string values are encoded and the checksum computed here, off the engine thread.
            var bytes = plan.assemble()
            RDBWriter.appendChecksum(&bytes, checksum: withChecksum)
            var err = Persistence.writeFile(bytes, directory: dir, finalName: nil, temp: temp)
            if err == nil {
                lock.lock()
                if job.cancelled {
                    err = "Background save cancelled"
                    unlink(dir + "/" + temp)
                } else if rename(dir + "/" + temp, final) != 0 {
                    err = "Error moving temp DB file \(temp) on the final destination \(final) (in server root dir \(dir)): \(String(cString: strerror(errno)))"
                    unlink(dir + "/" + temp)
                } else {
                    Persistence.syncDirectory(dir)
                }
                lock.unlock()
            }
            let result = err
            job.finished.signal()
            engine.enqueue { e in Persistence.of(e)?.backgroundSaveDone(job, error: result) }
        }
        thread.name = "lunar-bgsave"
        thread.start()
        return true
    }

    private func backgroundSaveDone(_ job: BackgroundSave, error: String?) {
        guard bgsave === job else { return }
        bgsave = nil
        lastBgsaveSeconds = Int((monotonicMillis() - job.started) / 1000)
        if let error {
            if !job.cancelled {
                engine.logger.warning("\(error)")
                engine.logger.warning("Background saving error")
                lastBgsaveOK = false
            }
            return
        }
        engine.logger.notice("Background saving terminated with success")
        dirtyAtSave = job.dirtyBefore
        lastSave = unixMillis() / 1000
        lastBgsaveOK = true
    }

    /// Writes `bytes` to `directory/temp`, fsyncs it, and (with `finalName`) renames it into place.
    /// Returns an error message, or nil.
    static func writeFile(_ bytes: [UInt8], directory: String, finalName: String?, temp: String) -> String? {
        let tempPath = directory + "/" + temp
        let fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            let cwd = FileManager.default.currentDirectoryPath
            return "Failed opening the temp RDB file \(temp) (in server root dir \(cwd)) for saving: \(String(cString: strerror(errno)))"
        }
        var off = 0
        let ok: Bool = bytes.withUnsafeBytes { p in
            while off < p.count {
                let n = write(fd, p.baseAddress! + off, min(p.count - off, 1 << 24))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
        if !ok || fsync(fd) != 0 {
            let msg = "Write error saving DB on disk: \(String(cString: strerror(errno)))"
            close(fd)
            unlink(tempPath)
            return msg
        }
        close(fd)
        guard let finalName else { return nil }
        if rename(tempPath, finalName) != 0 {
            let msg = "Error moving temp DB file \(temp) on the final destination \(finalName) (in server root dir \(directory)): \(String(cString: strerror(errno)))"
            unlink(tempPath)
            return msg
        }
        syncDirectory(directory)
        return nil
    }

    /// fsyncs a directory so a rename in it is durable.
    static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static let misconf = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."

    /// Redis refuses writes while the last background save failed, save points are set and
    /// `stop-writes-on-bgsave-error` is yes (the engine checks `denyWritesError` per command).
    func updateWriteGate() {
        let deny = !lastBgsaveOK && !savePoints.isEmpty && engine.config.get("stop-writes-on-bgsave-error") != "no"
        engine.denyWritesError = deny ? Persistence.misconf : aof?.denyWritesError
    }

    // MARK: Cron

    /// The parsed `save` points: (seconds, changes).
    var savePoints: [(Int, Int)] {
        let parts = engine.config.string("save").split(separator: " ").compactMap { Int($0) }
        var out: [(Int, Int)] = []
        var i = 0
        while i + 1 < parts.count {
            out.append((parts[i], parts[i + 1]))
            i += 2
        }
        return out
    }

    /// Starts a BGSAVE when one was scheduled or a `save` point is reached.
    func cron() {
        if bgsave != nil { return }
        let nowSec = unixMillis() / 1000
        // One background job at a time, as Redis runs one child: saves wait for an AOF rewrite.
        if aof?.rewrite != nil { return }
        if bgsaveScheduled {
            startBackgroundSave()
            return
        }
        let changes = changesSinceSave
        if changes == 0 { return }
        for (secs, needed) in savePoints {
            // After a failed attempt, wait 5 seconds before trying again (as Redis does).
            if changes >= needed && nowSec - lastSave > Int64(secs) && (nowSec - lastBgsaveTry > 5 || lastBgsaveOK) {
                engine.logger.notice("\(needed) changes in \(secs) seconds. Saving...")
                startBackgroundSave()
                return
            }
        }
    }

    // MARK: INFO

    func infoLines() -> [String] {
        let current = bgsave.map { Int((monotonicMillis() - $0.started) / 1000) } ?? -1
        return [
            "loading:\(engine.loadingProgress == nil ? 0 : 1)",
            "async_loading:0",
            "current_cow_peak:0",
            "current_cow_size:0",
            "current_cow_size_age:0",
            "current_fork_perc:0.00",
            "current_save_keys_processed:0",
            "current_save_keys_total:0",
            "rdb_changes_since_last_save:\(changesSinceSave)",
            "rdb_bgsave_in_progress:\(bgsave != nil ? 1 : 0)",
            "rdb_last_save_time:\(lastSave)",
            "rdb_last_bgsave_status:\(lastBgsaveOK ? "ok" : "err")",
            "rdb_last_bgsave_time_sec:\(lastBgsaveSeconds)",
            "rdb_current_bgsave_time_sec:\(current)",
            "rdb_saves:\(rdbSaves)",
            "rdb_last_cow_size:0",
            "rdb_last_load_keys_expired:\(lastLoad.keysExpired)",
            "rdb_last_load_keys_loaded:\(lastLoad.keysLoaded)",
        ] + (aof?.infoLines() ?? []) + [
            "module_fork_in_progress:0",
            "module_fork_last_cow_size:0",
        ] + (aof?.infoSizeLines() ?? []) + loadingInfoLines()
    }

    /// While the dataset loads, Redis's loading_* fields (the percentage and ETA from the bytes
    /// read, or from the file's used-mem when the total is unknown).
    private func loadingInfoLines() -> [String] {
        guard let l = engine.loadingProgress else { return [] }
        var perc = 0.0
        var remaining = 1
        if l.totalBytes > 0 {
            perc = Double(l.loadedBytes) / Double(l.totalBytes) * 100
            remaining = l.totalBytes - l.loadedBytes
        } else if l.rdbUsedMem > 0 {
            perc = min(99.99, Double(l.loadedBytes) / Double(l.rdbUsedMem) * 100)
            remaining = max(1, l.rdbUsedMem - l.loadedBytes)
        }
        let elapsed = Int(unixMillis() / 1000 - l.startTime)
        let eta = elapsed == 0 ? 1 : elapsed * remaining / (l.loadedBytes + 1)
        return [
            "loading_start_time:\(l.startTime)",
            "loading_total_bytes:\(l.totalBytes)",
            "loading_rdb_used_mem:\(l.rdbUsedMem)",
            "loading_loaded_bytes:\(l.loadedBytes)",
            "loading_loaded_perc:\(String(format: "%.2f", perc))",
            "loading_eta_seconds:\(eta)",
        ]
    }
}

/// A BGSAVE in flight: the writer thread checks `cancelled` (under the file lock) before renaming.
final class BackgroundSave: @unchecked Sendable {
    let dirtyBefore: Int
    let started: Int64
    let tempPath: String
    var cancelled = false
    /// Signalled by the writer thread when it is done (and has removed its temp file if cancelled).
    let finished = DispatchSemaphore(value: 0)
    init(dirtyBefore: Int, started: Int64, tempPath: String) {
        self.dirtyBefore = dirtyBefore
        self.started = started
        self.tempPath = tempPath
    }

    /// Abandons the save (call with the file lock held): the writer will not rename, and its temp
    /// file goes away now, as Redis removes a killed child's.
    func cancel() {
        cancelled = true
        unlink(tempPath)
    }
}
