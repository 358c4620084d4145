import LunarRESP

/// The transaction command family.
enum TransactionCommands {
    static var specs: [CommandSpec] { [] }
}
