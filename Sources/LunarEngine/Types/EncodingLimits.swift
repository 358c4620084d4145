import LunarRESP

/// The encoding thresholds of sets, hashes, sorted sets and HyperLogLogs, read from the config once and refreshed
/// when CONFIG SET changes them, so hot commands don't parse config strings on every call.
/// One per engine (`Engine.encodingLimits`); only touched on the engine thread.
final class EncodingLimits {
    var setMaxIntsetEntries = 512
    var hashMaxListpackEntries = 512
    var hashMaxListpackValue = 64
    var zsetMaxListpackEntries = 128
    var zsetMaxListpackValue = 64
    /// Past this size a sparse HyperLogLog turns dense.
    var hllSparseMaxBytes = 3000
    /// Stream nodes (listpacks in Redis) close at this many bytes or entries (0: no limit).
    var streamNodeMaxBytes = 4096
    var streamNodeMaxEntries = 100

    init(config: ConfigStore) {
        load(config)
        // The config owns this closure and is the only caller, so it is alive whenever the closure
        // runs (unowned(unsafe): no weak reference, whose side table would slow every retain of it).
        config.onChange.append { [self, unowned(unsafe) config] name, _ in
            if name.hasPrefix("set-max-intset") || name.hasPrefix("hash-max-listpack") || name.hasPrefix("zset-max-listpack")
                || name == "hll-sparse-max-bytes" || name.hasPrefix("stream-node-max") {
                self.load(config)
            }
        }
    }

    private func load(_ c: ConfigStore) {
        setMaxIntsetEntries = c.int("set-max-intset-entries")
        hashMaxListpackEntries = c.int("hash-max-listpack-entries")
        hashMaxListpackValue = c.int("hash-max-listpack-value")
        zsetMaxListpackEntries = c.int("zset-max-listpack-entries")
        zsetMaxListpackValue = c.int("zset-max-listpack-value")
        hllSparseMaxBytes = c.int("hll-sparse-max-bytes")
        streamNodeMaxBytes = c.int("stream-node-max-bytes")
        streamNodeMaxEntries = c.int("stream-node-max-entries")
    }

    /// The limits of `engine`'s configuration.
    @inline(__always) static func of(_ engine: Engine) -> EncodingLimits { engine.encodingLimits }
}

/// A fast pseudo-random generator (xoshiro256**) for SPOP, SRANDMEMBER and HRANDFIELD sampling,
/// seeded once from the system generator. Engine thread only.
struct FastRandom: RandomNumberGenerator {
    nonisolated(unsafe) private static var s: (UInt64, UInt64, UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next() | 1, g.next(), g.next(), g.next())
    }()

    @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    mutating func next() -> UInt64 {
        var st = FastRandom.s
        let result = FastRandom.rotl(st.1 &* 5, 7) &* 9
        let t = st.1 << 17
        st.2 ^= st.0
        st.3 ^= st.1
        st.1 ^= st.2
        st.0 ^= st.3
        st.2 ^= t
        st.3 = FastRandom.rotl(st.3, 45)
        FastRandom.s = st
        return result
    }
}

/// SSCAN/HSCAN options after the cursor: `[MATCH pattern] [COUNT count]`, with Redis's errors.
struct ScanOptions {
    var pattern: Bytes? = nil
    var count = 10

    /// Parses options from argv[from...]; writes the error and returns nil when invalid.
    static func parse(_ ctx: CommandContext, from: Int) -> ScanOptions? {
        var o = ScanOptions()
        var i = from
        while i < ctx.argc {
            let remaining = ctx.argc - i
            if ctx.arg(i, is: "count") && remaining >= 2 {
                guard let n = ctx.int(i + 1) else { return nil }
                if n < 1 {
                    ctx.syntaxError()
                    return nil
                }
                o.count = n
                i += 2
            } else if ctx.arg(i, is: "match") && remaining >= 2 {
                let p = ctx.argv[i + 1]
                // "*" matches everything: skip the matching work, as Redis does.
                o.pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : p
                i += 2
            } else {
                ctx.syntaxError()
                return nil
            }
        }
        return o
    }

    @inline(__always) func matches(_ b: Bytes) -> Bool {
        guard let pattern else { return true }
        return globMatch(pattern.raw, b.raw)
    }
}
