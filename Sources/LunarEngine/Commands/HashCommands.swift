import LunarRESP

/// The hash command family.
enum HashCommands {
    static var specs: [CommandSpec] { [] }
}
