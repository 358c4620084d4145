import LunarRESP

/// The list command family.
enum ListCommands {
    static var specs: [CommandSpec] { [] }
}
