import LunarRESP

/// The command table: every command Lunar knows, by name. Built once at startup, read-only afterwards,
/// so the I/O threads may consult it too (for BUSY decisions) without locking.
public final class CommandTable: @unchecked Sendable {
    private var byName: [Bytes: CommandSpec] = [:]
    public private(set) var all: [CommandSpec] = []

    public init(_ specs: [CommandSpec] = CommandTable.builtins) {
        register(specs)
    }

    /// Adds commands (the scripting module registers EVAL, SCRIPT, FUNCTION… this way). Startup only.
    public func register(_ specs: [CommandSpec]) {
        for s in specs {
            all.removeAll { $0.name == s.name }
            all.append(s)
            byName[Bytes(s.name)] = s
            // Clients mostly send all-uppercase names: index those too so lookup needs no allocation.
            byName[Bytes(s.name.uppercased())] = s
        }
    }

    public func lookup(_ name: Bytes) -> CommandSpec? {
        if let s = byName[name] { return s }
        return byName[name.lowercased]
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
