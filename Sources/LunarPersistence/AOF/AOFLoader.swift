#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarEngine
import LunarRESP

/// Replays append-only files into the engine: an RDB image when a file starts with one (the base
/// written by a rewrite), then the commands that follow, run by an internal client exactly as a
/// client's would be (MULTI … EXEC included). Runs before the engine starts, or on its thread.
struct AOFLoader {
    let engine: Engine
    /// `aof-load-truncated`: a last file cut short is truncated to its last whole command and loaded.
    let allowTruncated: Bool
    /// Replaying from inside a command (DEBUG LOADAOF): commands run nested, leaving the running
    /// command's context alone. At start-up they run as top-level commands.
    let insideCommand: Bool
    /// At start-up: clients connected meanwhile are answered every
    /// `loading-process-events-interval-bytes` (see Engine.serveWhileLoading).
    let servingClients: Bool
    private let client: Client

    init(engine: Engine, allowTruncated: Bool, insideCommand: Bool = false, servingClients: Bool = false) {
        self.engine = engine
        self.allowTruncated = allowTruncated
        self.insideCommand = insideCommand
        self.servingClients = servingClients
        client = Client(id: engine.newClientID(), connection: nil, now: unixMillis())
    }

    /// Loads one file. `isLast`: the newest file, the only one a crash can have cut short.
    /// `bytesBefore`: the size of the files loaded before it (INFO's loading progress).
    /// Returns the number of commands replayed.
    @discardableResult
    func load(path: String, name: String, isLast: Bool, bytesBefore: Int = 0) throws -> Int {
        let data = try readAll(path)
        if data.isEmpty { return 0 }
        let replayingBefore = engine.replayingAppendOnlyFile
        engine.replayingAppendOnlyFile = true
        defer { engine.replayingAppendOnlyFile = replayingBefore }
        var pos = 0
        let interval = max(1, engine.config.int("loading-process-events-interval-bytes"))
        var nextProgress = interval
        let engine = self.engine
        if data.count >= 5 && data[0..<5].elementsEqual("REDIS".utf8) {
            engine.logger.notice("Reading RDB base file on AOF loading...")
            var reader = RDBReader(data: data, engine: engine, expireBefore: nil)
            reader.keepExistingLibraries = true
            if servingClients {
                reader.progress = { pos in engine.loadingReached(bytesBefore + pos) }
            }
            do {
                let stats = try reader.load()
                engine.logger.notice("Done loading RDB, keys loaded: \(stats.keysLoaded), keys expired: \(stats.keysExpired).")
            } catch {
                throw AOFError("Error reading the RDB base file \(name), AOF loading aborted: \(error)")
            }
            engine.logger.notice("Reading the remaining AOF tail...")
            pos = reader.endOffset
        }
        var commands = 0
        // Where the file is known good: after the last whole command (a cut inside a command is
        // truncated there, as Redis does), and where the transaction still open began (a file that
        // ends inside MULTI is truncated back to before it).
        var validUpTo = pos
        var validBeforeMulti = pos
        while pos < data.count {
            let start = pos
            switch parseCommand(data, &pos) {
            case .annotation:
                validUpTo = pos
                continue
            case .truncated:
                return try truncated(path: path, name: name, isLast: isLast, validUpTo: validUpTo, commands: commands)
            case .malformed:
                throw AOFError("Bad file format reading the append only file \(name): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
            case let .command(argv):
                guard engine.table.lookup(argv[0]) != nil else {
                    throw AOFError("Unknown command '\(String(argv[0].string.prefix(128)))' reading the append only file \(name)")
                }
                if argv[0].equalsIgnoringCase("multi") { validBeforeMulti = start }
                if insideCommand {
                    var out = ReplyWriter(resp: 2, capacity: 64)
                    engine.executeNested(client, argv, out: &out, inScript: false)
                } else {
                    engine.executeTopLevel(client, argv)
                    client.output.buffer.clear()
                }
                commands += 1
                validUpTo = pos
                if servingClients && pos >= nextProgress {
                    nextProgress = pos + interval
                    engine.loadingReached(bytesBefore + pos)
                }
            }
        }
        if client.inMulti {
            engine.logger.notice("Revert incomplete MULTI/EXEC transaction in AOF file \(name)")
            client.inMulti = false
            client.multiFailed = false
            client.queued.removeAll()
            return try truncated(path: path, name: name, isLast: isLast, validUpTo: validBeforeMulti, commands: commands)
        }
        return commands
    }

    /// A file that ends inside a command (or a transaction): Redis's `aof-load-truncated` rules.
    private func truncated(path: String, name: String, isLast: Bool, validUpTo: Int, commands: Int) throws -> Int {
        if client.inMulti {
            client.inMulti = false
            client.multiFailed = false
            client.queued.removeAll()
        }
        guard isLast && allowTruncated else {
            throw AOFError("Unexpected end of file reading the append only file \(name). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")
        }
        engine.logger.warning("!!! Warning: short read while loading the AOF file \(name)!!!")
        engine.logger.warning("!!! Truncating the AOF \(name) at offset \(validUpTo) !!!")
        if truncate(path, off_t(validUpTo)) != 0 {
            throw AOFError("Error truncating the AOF file \(name): \(String(cString: strerror(errno)))")
        }
        engine.logger.warning("AOF \(name) loaded anyway because aof-load-truncated is enabled")
        return commands
    }

    enum Parsed {
        case command([Bytes])
        case annotation
        case truncated
        case malformed
    }

    /// One command (or a `#` annotation line, such as aof-timestamp-enabled's) at `pos`, advancing past it.
    private func parseCommand(_ d: [UInt8], _ pos: inout Int) -> Parsed {
        d.withUnsafeBytes { raw -> Parsed in
            if raw[pos] == UInt8(ascii: "#") {
                guard let eol = Multibulk.lineEnd(raw, pos) else { return .truncated }
                pos = eol + 2
                return .annotation
            }
            switch Multibulk.parse(raw, from: pos) {
            case let .command(argv, end):
                pos = end
                return .command(argv)
            case .incomplete: return .truncated
            case .malformed: return .malformed
            }
        }
    }

    private func readAll(_ path: String) throws -> [UInt8] {
        if access(path, F_OK) != 0 {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            throw AOFError("Unable to obtain the AOF file \(name) length. stat: \(String(cString: strerror(errno)))")
        }
        do {
            return try Persistence.readFile(path)
        } catch {
            throw AOFError("Fatal error: can't open the append log file \(path.split(separator: "/").last.map(String.init) ?? path) for reading: \(String(cString: strerror(errno)))")
        }
    }
}
