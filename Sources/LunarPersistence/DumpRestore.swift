import LunarEngine
import LunarRESP

/// DUMP and RESTORE: one key's value in Redis's serialized form, which is an RDB value record
/// (type byte and value, as in a file) followed by the RDB version (2 bytes, little-endian) and a
/// CRC-64 of everything before it. redis-server and Lunar restore each other's payloads.
enum DumpRestore {
    static var specs: [CommandSpec] {
        [
            CommandSpec("dump", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: .generic, since: "2.6.0",
                        summary: "Returns a serialized representation of the value stored at a key.",
                        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
                        syntax: "key", handler: dump),
            CommandSpec("restore", arity: -4, flags: [.write, .denyoom], keys: (1, 1, 1), group: .generic, since: "2.6.0",
                        summary: "Creates a key from the serialized representation of a value.",
                        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
                        syntax: "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
                        acl: ["dangerous"], handler: restore),
            CommandSpec("restore-asking", arity: -4, flags: [.write, .denyoom, .asking], keys: (1, 1, 1), group: .generic, since: "3.0.0",
                        summary: "RESTORE as a cluster node sends it to a node importing the slot; on a standalone server the same as RESTORE.",
                        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
                        syntax: "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
                        acl: ["dangerous"], handler: restore),
        ]
    }

    static func payload(of value: Value, compress: Bool) -> [UInt8] {
        var w = RDBWriter(compress: compress)
        w.byte(RDBWriter.typeByte(of: value))
        w.writeValue(value)
        var bytes = w.bytes
        bytes.append(UInt8(RDB.version & 0xff))
        bytes.append(UInt8(RDB.version >> 8))
        RDBWriter.appendChecksum(&bytes, checksum: true)
        return bytes
    }

    static func dump(_ ctx: CommandContext) {
        guard let value = ctx.db.lookupRead(ctx.argv[1]) else {
            ctx.out.nullBulk()
            return
        }
        let compress = Persistence.of(ctx.engine)?.compress ?? true
        ctx.out.bulk(bytes: payload(of: value, compress: compress))
    }

    /// The footer's RDB version is one this server reads and the CRC-64 matches.
    static func verify(_ p: [UInt8]) -> Bool {
        guard p.count >= 10 else { return false }
        let n = p.count
        let version = Int(p[n - 10]) | Int(p[n - 9]) << 8
        guard version <= RDB.version else { return false }
        var crc: UInt64 = 0
        for i in 0..<8 { crc |= UInt64(p[n - 8 + i]) << (8 * UInt64(i)) }
        return CRC64.checksum(Array(p[0..<(n - 8)])) == crc
    }

    static func restore(_ ctx: CommandContext) {
        let key = ctx.argv[1]
        var replace = false, absttl = false
        var idle: Int? = nil, freq: Int? = nil
        var j = 4
        while j < ctx.argc {
            let more = ctx.argc - j - 1
            if ctx.arg(j, is: "replace") {
                replace = true
            } else if ctx.arg(j, is: "absttl") {
                absttl = true
            } else if ctx.arg(j, is: "idletime") && more >= 1 && freq == nil {
                guard let v = ctx.int(j + 1) else { return }
                if v < 0 { ctx.error("ERR Invalid IDLETIME value, must be >= 0"); return }
                idle = v
                j += 1
            } else if ctx.arg(j, is: "freq") && more >= 1 && idle == nil {
                guard let v = ctx.int(j + 1) else { return }
                if v < 0 || v > 255 { ctx.error("ERR Invalid FREQ value, must be >= 0 and <= 255"); return }
                freq = v
                j += 1
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        guard let ttl = ctx.int(2) else { return }
        if ttl < 0 { ctx.error("ERR Invalid TTL value, must be >= 0"); return }
        let db = ctx.db
        if !replace && db.exists(key) {
            ctx.error("BUSYKEY Target key name already exists.")
            return
        }
        let p = ctx.argv[3].raw
        guard verify(p) else {
            ctx.error("ERR DUMP payload version or checksum are wrong")
            return
        }
        var reader = RDBReader(data: Array(p[0..<(p.count - 10)]), engine: ctx.engine, expireBefore: nil)
        guard let value = try? reader.readDumpedValue() else {
            ctx.error("ERR Bad data format")
            return
        }
        let deleted = replace && db.delete(key)
        var expire = Int64(ttl)
        if ttl != 0 && !absttl { expire += ctx.engine.now }
        if ttl != 0 && expire <= ctx.engine.now && !ctx.client.isMasterLink && !ctx.engine.replayingAppendOnlyFile {
            // Already expired: nothing is created (a replaced key is simply deleted).
            if deleted {
                db.signalModified(key)
                db.notify(KeyspaceEvents.generic, "del", key)
                ctx.propagateAs([[Bytes("DEL"), key]])
            }
            ctx.ok()
            return
        }
        let slot = db.add(key, value, notifyNew: true)
        if expire != 0 { db.table.setExpire(slot: slot, expire) }
        if idle != nil || freq != nil, let clock = ctx.engine.clockFromRDB(idleSeconds: idle, frequency: freq) {
            db.table.setClock(at: slot, clock)
        }
        db.signalModified(key)
        db.notify(KeyspaceEvents.generic, "restore", key)
        if ttl != 0 && !absttl {
            // Replicas and the AOF get the absolute time, as Redis propagates it.
            var argv = ctx.argv
            argv[2] = Bytes(String(expire))
            argv.append(Bytes("ABSTTL"))
            ctx.propagateAs([argv])
        }
        ctx.ok()
    }
}

extension RDBReader {
    /// A DUMP payload's value (the footer already removed): the type byte, then the value, and
    /// nothing after it. Throws on anything else (RESTORE answers "Bad data format").
    mutating func readDumpedValue() throws -> Value {
        let type = try u8()
        guard let value = try readValue(type: type), pos == data.count else { throw RDBError("Bad data format") }
        return value
    }
}
