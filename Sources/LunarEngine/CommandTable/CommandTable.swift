import LunarRESP

/// The command table: every command Lunar knows, by name. Built once at startup, read-only afterwards,
/// so the I/O threads may consult it too (for BUSY decisions) without locking.
public final class CommandTable: @unchecked Sendable {
    public private(set) var all: [CommandSpec] = []
    /// Case-insensitive open-addressing index of `all` by name: lowercase names and their specs,
    /// probed linearly from a hash of the ASCII-folded name, so a lookup neither allocates nor
    /// lowercases (every command runs one).
    private var slotNames: [[UInt8]] = []
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
        slotNames = [[UInt8]](repeating: [], count: n)
        slotSpecs = [CommandSpec?](repeating: nil, count: n)
        for s in all {
            let name = Array(s.name.lowercased().utf8)
            var i = name.withUnsafeBytes { Self.foldedHash($0) } & (n - 1)
            while slotSpecs[i] != nil { i = (i + 1) & (n - 1) }
            slotNames[i] = name
            slotSpecs[i] = s
        }
    }

    /// FNV-1a over the bytes with bit 5 set (ASCII letters fold to lowercase; other bytes never
    /// change with case, so every spelling of a name hashes alike).
    @inline(__always) private static func foldedHash(_ p: UnsafeRawBufferPointer) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in p { h = (h ^ UInt64(b | 0x20)) &* 0x0000_0100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    public func lookup(_ name: Bytes) -> CommandSpec? {
        let n = name.count
        if n == 0 || n > 64 || slotSpecs.isEmpty { return nil }
        return name.raw.withUnsafeBytes { p -> CommandSpec? in
            let mask = slotSpecs.count - 1
            var i = Self.foldedHash(p) & mask
            while let spec = slotSpecs[i] {
                let cand = slotNames[i]
                if cand.count == n {
                    var j = 0
                    while j < n {
                        var c = p[j]
                        if c >= 65 && c <= 90 { c |= 0x20 }
                        if c != cand[j] { break }
                        j += 1
                    }
                    if j == n { return spec }
                }
                i = (i + 1) & mask
            }
            return nil
        }
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
            + SortedSetCommands.specs + TransactionCommands.specs + ReplicationCommands.specs
    }
}
