import LunarRESP

/// The key command family.
enum KeyCommands {
    static var specs: [CommandSpec] { [] }
}
