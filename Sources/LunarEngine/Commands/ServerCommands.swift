import LunarRESP

/// The server command family.
enum ServerCommands {
    static var specs: [CommandSpec] { [] }
}
