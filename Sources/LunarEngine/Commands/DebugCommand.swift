#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LunarRESP

/// DEBUG: the testing helpers Lunar supports. The persistence module adds RELOAD and LOADAOF.
enum DebugCommand {
    static func run(_ ctx: CommandContext) {
        guard ctx.protectedActionAllowed("enable-debug-command") else {
            ctx.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
            return
        }
        let sub = ctx.argv[1].lowercased.string
        switch (sub, ctx.argc) {
        case ("help", 2):
            ConnectionCommands.help(ctx, "DEBUG", [
                ("CHANGE-REPL-ID", "Gives this server a new replication ID and forgets the secondary one."),
                ("DIGEST", "Returns a digest of the whole dataset (Redis's algorithm: equal datasets give equal digests on both servers)."),
                ("DIGEST-VALUE <key> [<key> ...]", "Returns the digest of each key's value (expiry flag included)."),
                ("ERROR <string>", "Replies with <string> as an error."),
                ("LOG <message>", "Writes <message> to the server log."),
                ("OBJECT <key>", "Shows low-level information about the value of <key>."),
                ("PANIC", "Crashes the server with a panic (its crash report goes to the log)."),
                ("PAUSE-CRON <0|1>", "Stops or restarts the periodic work (expiry cycle, eviction, timeouts, replication pings)."),
                ("POPULATE <count> [<prefix>] [<size>]", "Creates <count> string keys <prefix>:<n> (prefix \"key\") holding \"value:<n>\",\npadded with zero bytes or cut to <size>; existing keys are skipped."),
                ("PROTOCOL <type>", "Replies with a sample of a RESP type: string|integer|double|bignum|null|array|set|map|\nattrib|push|verbatim|true|false."),
                ("RELOAD [MERGE] [NOFLUSH] [NOSAVE]", "Saves the RDB file, empties the dataset and loads the file back (NOSAVE: load the existing file; NOFLUSH: keep the current keys; MERGE: the file's keys replace same-named ones)."),
                ("SEGFAULT", "Crashes the server by SIGSEGV (its crash report goes to the log)."),
                ("SET-ACTIVE-EXPIRE <0|1>", "Turns the active expiry cycle off or on (expired keys are still removed when accessed)."),
                ("SET-DISABLE-DENY-SCRIPTS <0|1>", "Lets scripts call the commands they are normally refused (testing aid)."),
                ("SLEEP <seconds>", "Stops the server for <seconds> (decimals allowed)."),
            ])
        case ("segfault", 2):
            // A crash on purpose (testing the crash report), as Redis's: a write to an address that is
            // never mapped. The address depends on the arguments so the compiler keeps the write.
            ctx.engine.logger.warning("DEBUG SEGFAULT called: crashing on purpose")
            UnsafeMutablePointer<UInt8>(bitPattern: ctx.argc == 2 ? -1 : 1)!.pointee = 120
        case ("panic", 2):
            ctx.engine.logger.critical("------------------------------------------------")
            ctx.engine.logger.critical("!!! Software Failure. Press left mouse button to continue")
            ctx.engine.logger.critical("Guru Meditation: DEBUG PANIC called at Unix time \(unixMillis() / 1000)")
            abort()
        case ("sleep", 3):
            let secs = parseDouble(ctx.argv[2]) ?? Double(ctx.argv[2].string.prefix { $0.isNumber || $0 == "." }) ?? 0
            if secs > 0 { usleep(useconds_t(min(secs, 3600) * 1_000_000)) }
            ctx.ok()
        case ("set-disable-deny-scripts", 3):
            ctx.engine.scriptsMayCallAnything = (parseStrictInt(ctx.argv[2].raw) ?? 0) != 0
            ctx.ok()
        case ("pause-cron", 3):
            ctx.engine.cronPaused = (parseStrictInt(ctx.argv[2].raw) ?? 0) != 0
            ctx.ok()
        case ("set-active-expire", 3):
            ctx.engine.activeExpireEnabled = (parseStrictInt(ctx.argv[2].raw) ?? 0) != 0
            ctx.ok()
        case ("object", 3):
            // As Redis, a key that expired but was not deleted yet is still shown.
            guard let s = ctx.db.table.slot(of: ctx.argv[2]), let v = ctx.db.table.value(at: s) else { ctx.error(Err.noSuchKey); return }
            let clock = ctx.db.table.clock(at: s)
            var extra = ""
            if case let .list(l) = v { extra = " ql_nodes:\(max(1, (l.count + 127) / 128)) ql_avg_node:\(String(format: "%.2f", l.count == 0 ? 0 : Double(l.count) / Double(max(1, (l.count + 127) / 128)))) ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:\(l.items.reduce(0) { $0 + $1.count + 2 })" }
            let size = MemoryProbe.usage(key: ctx.argv[2], value: v, samples: 0)
            ctx.out.simple("Value at:0x0 refcount:1 encoding:\(ServerCommands.encoding(of: v, editedString: ctx.db.table.isEditedString(at: s))) serializedlength:\(size) lru:\(clock) lru_seconds_idle:\(ctx.engine.lfuMode ? 0 : ctx.engine.idleMillis(clock) / 1000)\(extra)")
        case ("log", 3):
            ctx.engine.logger.warning("DEBUG LOG: \(ctx.argv[2].string)")
            ctx.ok()
        case ("digest", 2):
            ctx.out.simple(Digest.hex(Digest.dataset(ctx.engine)))
        case ("digest-value", _):
            ctx.out.array(ctx.argc - 2)
            for key in ctx.argv.dropFirst(2) {
                // Logically expired keys count too, as in Redis (a debugging view of the table).
                var d = Digest.zero
                if let s = ctx.db.table.slot(of: key), let v = ctx.db.table.value(at: s) {
                    Digest.mixValue(&d, v, expires: ctx.db.table.expire(at: s) != 0)
                }
                ctx.out.simple(Digest.hex(d))
            }
        case ("populate", 3...5):
            populate(ctx)
        case ("protocol", 3):
            protocolSample(ctx, ctx.argv[2].lowercased.string)
        case ("error", 3):
            ctx.error(ctx.argv[2].string)
        case ("change-repl-id", 2):
            ReplicationMaster.of(ctx.engine).changeReplicationID()
            ctx.ok()
        default:
            ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try DEBUG HELP.")
        }
    }

    /// DEBUG POPULATE count [prefix] [size]: keys `prefix:n` with "value:n" (zero-padded or cut to
    /// `size`). Like Redis, it is not propagated and does not count as a change for the save points.
    private static func populate(_ ctx: CommandContext) {
        let positive = "ERR value is out of range, must be positive"
        guard let count = parseStrictInt(ctx.argv[2].raw), count >= 0 else { return ctx.error(positive) }
        var size = 0
        if ctx.argc == 5 {
            guard let v = parseStrictInt(ctx.argv[4].raw), v >= 0 else { return ctx.error(positive) }
            size = v
        }
        // Redis first grows its table for `count` keys and fails when that allocation cannot be
        // had: a count whose table alone would not fit in memory is refused the same way.
        let tableBytes = UInt64(min(count, 1 << 58)) &* 16
        if tableBytes > ProcessInfo.processInfo.physicalMemory { return ctx.error("ERR OOM in dictTryExpand") }
        // Redis formats the key into a 128-byte buffer: a longer name is cut at 127 bytes.
        let prefix = ctx.argc >= 4 ? ctx.argv[3].raw : Array("key".utf8)
        let db = ctx.db
        db.table.reserve(additional: min(count, 1 << 26))
        for j in 0..<count {
            let key = Bytes(Array((prefix + Array(":\(j)".utf8)).prefix(127)))
            if db.slot(key) != nil { continue }
            var value = Array("value:\(j)".utf8)
            if size > 0 {
                if value.count > size { value.removeLast(value.count - size) }
                value.append(contentsOf: [UInt8](repeating: 0, count: size - value.count))
            }
            db.add(key, .string(Bytes(value)), notifyNew: false)
            if ctx.engine.hasWatchers { ctx.engine.touchWatched(db: db.id, key: key) }
            ctx.engine.keyChanged(key, byCommand: true)
        }
        ctx.propagateNothing()
        ctx.ok()
    }

    /// DEBUG PROTOCOL type: one reply of each RESP type, as Redis sends them (client libraries test
    /// their parsers with it).
    private static func protocolSample(_ ctx: CommandContext, _ name: String) {
        let resp3 = ctx.client.resp >= 3
        switch name {
        case "string": ctx.out.bulk("Hello World")
        case "integer": ctx.out.integer(12345)
        case "double": ctx.out.double(3.141)
        case "bignum":
            let digits = "1234567999999999999999999999999999999"
            if resp3 { ctx.out.buffer.writeString("(\(digits)\r\n") } else { ctx.out.bulk(digits) }
        case "null": ctx.out.nullBulk()
        case "array", "set":
            if name == "array" { ctx.out.array(3) } else { ctx.out.set(3) }
            for j in 0..<3 { ctx.out.integer(j) }
        case "map":
            ctx.out.map(3)
            for j in 0..<3 {
                ctx.out.integer(j)
                ctx.out.bool(j == 1)
            }
        case "attrib":
            if resp3 {
                ctx.out.buffer.writeString("|1\r\n")
                ctx.out.bulk("key-popularity")
                ctx.out.array(2)
                ctx.out.bulk("key:123")
                ctx.out.integer(90)
            }
            ctx.out.bulk("Some real reply following the attribute")
        case "push":
            guard resp3 else { return ctx.error("ERR RESP2 is not supported by this command") }
            ctx.out.push(2)
            ctx.out.bulk("server-cpu-usage")
            ctx.out.integer(42)
            ctx.out.bulk("Some real reply following the push reply")
        case "true": ctx.out.bool(true)
        case "false": ctx.out.bool(false)
        case "verbatim": ctx.out.verbatim("This is a verbatim\nstring")
        default:
            ctx.error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
        }
    }
}

/// DEBUG DIGEST's algorithm, as Redis computes it, so a digest taken on Lunar equals redis-server's
/// for the same data (a cheap whole-dataset comparison for tests and for checking replicas).
///
/// Two ways of folding bytes into a 20-byte digest: `xor` (order-independent: SHA1 of the data
/// xored in) and `mix` (order-dependent: the xor, then the digest replaced by its own SHA1). A key
/// mixes its name, then its type and contents; lists and streams mix their items in order, while
/// sets, hashes and sorted sets xor per-element digests; a TTL adds the fixed text "!!expire!!"
/// (not the time). Keys are xored together, each database prefixed by its number.
enum Digest {
    static let zero = [UInt8](repeating: 0, count: 20)

    static func xor(_ d: inout [UInt8], _ data: [UInt8]) {
        let h = data.withUnsafeBytes { SHA1.digest($0) }
        for i in 0..<20 { d[i] ^= h[i] }
    }

    static func mix(_ d: inout [UInt8], _ data: [UInt8]) {
        xor(&d, data)
        d = d.withUnsafeBytes { SHA1.digest($0) }
    }

    /// The type codes Redis mixes in (big-endian 32-bit): string 0, list 1, set 2, zset 3, hash 4, stream 6.
    static func typeCode(_ v: Value) -> UInt32 {
        switch v {
        case .string: return 0
        case .list: return 1
        case .set: return 2
        case .zset: return 3
        case .hash: return 4
        case .stream: return 6
        }
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }

    /// Mixes a value (and whether it has a TTL) into `d`.
    static func mixValue(_ d: inout [UInt8], _ v: Value, expires: Bool) {
        mix(&d, bigEndian(typeCode(v)))
        switch v {
        case let .string(s):
            mix(&d, s.raw)
        case let .list(l):
            for e in l.items { mix(&d, e.raw) }
        case let .set(s):
            s.forEach { m in
                switch m {
                case let .int(n): xor(&d, Array(String(n).utf8))
                case let .bytes(b): xor(&d, b.raw)
                }
            }
        case let .zset(z):
            z.forEach { n in
                var e = zero
                mix(&e, n.member.raw)
                mix(&e, Array(cFormat("%.17g", n.score).utf8))
                xor(&d, e)
            }
        case let .hash(h):
            h.forEach { f, value in
                var e = zero
                mix(&e, f.raw)
                mix(&e, value.raw)
                xor(&d, e)
            }
        case let .stream(st):
            st.forEach(from: StreamID(0, 0), to: .max) { id, fields in
                mix(&d, Array("\(id.ms).\(id.seq)".utf8))
                for f in fields { mix(&d, f.raw) }
                return true
            }
        }
        if expires { xor(&d, Array("!!expire!!".utf8)) }
    }

    /// The whole dataset's digest (all zeros when it is empty).
    static func dataset(_ engine: Engine) -> [UInt8] {
        var final = zero
        for db in engine.databases where db.table.count > 0 {
            mix(&final, bigEndian(UInt32(truncatingIfNeeded: db.id)))
            db.table.forEachSlot { s in
                guard let v = db.table.value(at: s) else { return }
                var d = zero
                mix(&d, db.table.key(at: s).raw)
                mixValue(&d, v, expires: db.table.expire(at: s) != 0)
                xor(&final, d)
            }
        }
        return final
    }

    static func hex(_ d: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var s: [UInt8] = []
        s.reserveCapacity(40)
        for b in d { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }
}
