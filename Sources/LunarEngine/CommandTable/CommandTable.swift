import LunarRESP

/// The command table: every command Lunar knows, by name. Built once at startup, read-only afterwards,
/// so the I/O threads may consult it too (for BUSY decisions) without locking.
public final class CommandTable: @unchecked Sendable {
    public private(set) var all: [CommandSpec] = []
    /// Case-insensitive open-addressing index of `all` by name. Each slot holds the lowercase name
    /// packed into two words (names are at most 16 bytes; longer ones are compared byte by byte),
    /// so a lookup folds case 8 bytes at a time and compares words: no allocation, no lowercasing.
    private var slotWords: [(UInt64, UInt64, Int)] = []
    private var slotSpecs: [CommandSpec?] = []

    public init(_ specs: [CommandSpec] = CommandTable.builtins) {
        register(specs)
    }

    /// Adds commands (the scripting module registers EVAL, SCRIPT, FUNCTION… this way). Startup only.
    public func register(_ specs: [CommandSpec]) {
        for s in specs {
            all.removeAll { $0.name == s.name }
            all.append(s)
        }
        rebuildIndex()
    }

    private func rebuildIndex() {
        var n = 16
        while n < all.count * 4 { n *= 2 }
        slotWords = [(UInt64, UInt64, Int)](repeating: (0, 0, -1), count: n)
        slotSpecs = [CommandSpec?](repeating: nil, count: n)
        for s in all {
            let name = Array(s.name.lowercased().utf8)
            let (w0, w1) = name.withUnsafeBytes { Self.words($0) }
            var i = Self.slotHash(w0, w1, name.count) & (n - 1)
            while slotSpecs[i] != nil { i = (i + 1) & (n - 1) }
            slotWords[i] = (w0, w1, name.count)
            slotSpecs[i] = s
        }
    }

    /// The first 16 bytes of a name, zero-padded, with ASCII letters folded to lowercase.
    @inline(__always) private static func words(_ p: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var w: (UInt64, UInt64) = (0, 0)
        let n = min(p.count, 16)
        if n > 0 { withUnsafeMutableBytes(of: &w) { $0.baseAddress!.copyMemory(from: p.baseAddress!, byteCount: n) } }
        return (lowercase(w.0), lowercase(w.1))
    }

    /// ASCII lowercase of the 8 bytes of a word at once (other bytes unchanged).
    @inline(__always) private static func lowercase(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let seven = w & (ones &* 0x7f)
        let geA = seven &+ ones &* (0x80 - 0x41)     // high bit set where byte >= 'A'
        let gtZ = seven &+ ones &* (0x80 - 0x5b)     // high bit set where byte > 'Z'
        let upper = geA & ~gtZ & ~w & (ones &* 0x80)
        return w | (upper >> 2)
    }

    @inline(__always) private static func slotHash(_ w0: UInt64, _ w1: UInt64, _ n: Int) -> Int {
        let r = (w0 ^ 0x9e37_79b9_7f4a_7c15).multipliedFullWidth(by: w1 ^ UInt64(n) ^ 0xc2b2_ae3d_27d4_eb4f)
        return Int(truncatingIfNeeded: r.high ^ r.low)
    }

    public func lookup(_ name: Bytes) -> CommandSpec? {
        let n = name.count
        if n == 0 || n > 64 || slotSpecs.isEmpty { return nil }
        return name.raw.withUnsafeBytes { p -> CommandSpec? in
            let (w0, w1) = Self.words(p)
            let mask = slotSpecs.count - 1
            var i = Self.slotHash(w0, w1, n) & mask
            while let spec = slotSpecs[i] {
                let e = slotWords[i]
                if e.0 == w0 && e.1 == w1 && e.2 == n && (n <= 16 || Self.tailMatches(p, spec.name)) { return spec }
                i = (i + 1) & mask
            }
            return nil
        }
    }

    /// Bytes 16… of a long name against a lowercase name, ignoring ASCII case.
    private static func tailMatches(_ p: UnsafeRawBufferPointer, _ name: String) -> Bool {
        let u = Array(name.utf8)
        if u.count != p.count { return false }
        for j in 16..<p.count {
            var c = p[j]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != u[j] { return false }
        }
        return true
    }

    /// The command, or its subcommand when the command has subcommands and argv names one.
    public func resolve(_ argv: [Bytes]) -> CommandSpec? {
        guard let spec = lookup(argv[0]) else { return nil }
        if !spec.subcommands.isEmpty, argv.count >= 2, let sub = spec.subcommands[argv[1].lowercased.string] {
            return sub
        }
        return spec
    }

    public var count: Int { all.count }

    /// Every built-in family's commands. Each family lives in its own file under Commands/.
    public static var builtins: [CommandSpec] {
        ConnectionCommands.specs + PubSubCommands.specs + ServerCommands.specs + KeyCommands.specs + StringCommands.specs
            + BitCommands.specs + ListCommands.specs + SetCommands.specs + HashCommands.specs
            + SortedSetCommands.specs + HyperLogLogCommands.specs + GeoCommands.specs + StreamCommands.specs + TransactionCommands.specs
            + ReplicationCommands.specs + ReplicationReplica.specs + SlowLog.specs + Engine.monitorSpecs + Engine.latencySpecs
            + ClusterCommands.specs + ModuleCommands.specs + Lolwut.specs + ACLCommands.specs
    }
}
