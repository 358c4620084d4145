import LunarRESP

/// The sortedset command family.
enum SortedSetCommands {
    static var specs: [CommandSpec] { [] }
}
