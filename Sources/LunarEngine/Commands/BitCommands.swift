import LunarRESP

/// The bit command family.
enum BitCommands {
    static var specs: [CommandSpec] { [] }
}
