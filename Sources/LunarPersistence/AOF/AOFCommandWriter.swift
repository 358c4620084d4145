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
        case let .stream(st):
            writeStream(key: key, st)
        }
    }

    /// A stream as Redis 7.0's rewrite rebuilds it: one XADD per entry (an empty stream is made by
    /// XADD MAXLEN 0), XSETID with the counters, then per group XGROUP CREATE … ENTRIESREAD, and per
    /// consumer either XGROUP CREATECONSUMER (no pending entries) or one XCLAIM … JUSTID FORCE per entry.
    private mutating func writeStream(key: [UInt8], _ st: StreamObject) {
        func b(_ s: String) -> [UInt8] { Array(s.utf8) }
        if st.length > 0 {
            st.forEach(from: .zero, to: .max) { id, fields in
                command([b("XADD"), key, b(id.description)] + fields.map { $0.raw })
                return true
            }
        } else {
            command([b("XADD"), key, b("MAXLEN"), b("0"), b("0-1"), b("x"), b("y")])
        }
        command([b("XSETID"), key, b(st.lastID.description), b("ENTRIESADDED"), b(String(st.entriesAdded)),
                 b("MAXDELETEDID"), b(st.maxDeletedID.description)])
        for g in st.sortedGroups {
            command([b("XGROUP"), b("CREATE"), key, g.name.raw, b(g.lastID.description), b("ENTRIESREAD"), b(String(g.entriesRead))])
            for c in g.sortedConsumers {
                if c.pel.isEmpty {
                    command([b("XGROUP"), b("CREATECONSUMER"), key, g.name.raw, c.name.raw])
                    continue
                }
                for (i, id) in c.pel.keys.enumerated() {
                    let n = c.pel.values[i]
                    command([b("XCLAIM"), key, g.name.raw, c.name.raw, b("0"), b(id.description), b("TIME"), b(String(n.deliveryTime)),
                             b("RETRYCOUNT"), b(String(n.deliveryCount)), b("JUSTID"), b("FORCE")])
                }
            }
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
