import LunarRESP

/// The set command family.
enum SetCommands {
    static var specs: [CommandSpec] { [] }
}
