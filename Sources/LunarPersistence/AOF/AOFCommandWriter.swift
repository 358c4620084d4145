import LunarEngine
import LunarRESP

/// An AOF base written as commands (`aof-use-rdb-preamble no`), the form Redis's rewrite emits:
/// FUNCTION LOAD per library, then per database SELECT and one command per key (SET, or RPUSH,
/// SADD, ZADD, HMSET with at most 64 elements each), followed by PEXPIREAT for a key with a TTL.
/// Built on the engine thread (the snapshot's moment); the caller writes the bytes elsewhere.
struct AOFCommandWriter {
    static let itemsPerCommand = 64

    private var out = ReplyWriter(resp: 2, capacity: 1 << 16)

    static func snapshot(_ engine: Engine, timestamp: Bool) -> [UInt8] {
        var w = AOFCommandWriter()
        if timestamp { w.out.buffer.writeString("#TS:\(unixMillis() / 1000)\r\n") }
        if let provider = RDBWriter.functionLibraries {
            for code in provider(engine) { w.command([Array("FUNCTION".utf8), Array("LOAD".utf8), code.raw]) }
        }
        let now = unixMillis()
        for db in engine.databases where db.count > 0 {
            w.command([Array("SELECT".utf8), Array(String(db.id).utf8)])
            let table = db.table
            table.forEachSlot { s in
                guard let value = table.value(at: s) else { return }
                let expire = table.expire(at: s)
                if expire != 0 && expire < now { return }   // logically gone already
                let key = table.key(at: s).raw
                w.write(key: key, value: value)
                if expire != 0 { w.command([Array("PEXPIREAT".utf8), key, Array(String(expire).utf8)]) }
            }
        }
        return Array(w.out.buffer.readableBytesView)
    }

    private mutating func write(key: [UInt8], value: Value) {
        switch value {
        case let .string(s):
            command([Array("SET".utf8), key, s.raw])
        case let .list(l):
            var items: [[UInt8]] = []
            for e in l.items { items.append(e.raw) }
            batched("RPUSH", key, items, per: 1)
        case let .set(set):
            var items: [[UInt8]] = []
            set.forEach { m in
                switch m {
                case let .int(v): items.append(Array(String(v).utf8))
                case let .bytes(b): items.append(b.raw)
                }
            }
            batched("SADD", key, items, per: 1)
        case let .hash(h):
            var items: [[UInt8]] = []
            h.forEach { f, v in
                items.append(f.raw)
                items.append(v.raw)
            }
            batched("HMSET", key, items, per: 2)
        case let .zset(z):
            var items: [[UInt8]] = []
            z.forEach { n in
                // Swift prints the shortest text that reads back as the same double (inf/-inf too).
                items.append(Array("\(n.score)".utf8))
                items.append(n.member.raw)
            }
            batched("ZADD", key, items, per: 2)
        }
    }

    /// `name key item…` in commands of at most 64 elements (an element is `per` items).
    private mutating func batched(_ name: String, _ key: [UInt8], _ items: [[UInt8]], per: Int) {
        let chunk = Self.itemsPerCommand * per
        var i = 0
        while i < items.count {
            let end = min(items.count, i + chunk)
            command([Array(name.utf8), key] + items[i..<end])
            i = end
        }
    }

    private mutating func command(_ parts: [[UInt8]]) {
        out.array(parts.count)
        for p in parts { out.bulk(bytes: p) }
    }
}
