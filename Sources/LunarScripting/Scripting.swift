import CLua
import LunarEngine

/// Entry point of the scripting module: the commands it adds and the per-engine Lua state.
public enum Scripting {
    /// Creates the Lua machinery on an engine (called once at startup).
    public static func install(on engine: Engine) throws {}

    /// The version string of the linked Lua runtime (e.g. "Lua 5.4").
    public static func luaVersion() -> String {
        guard let L = luaL_newstate() else { return "" }
        defer { lua_close(L) }
        luaL_openlibs(L)
        _ = clua_getglobal(L, "_VERSION")
        return String(cString: clua_tostring(L, -1))
    }
}

/// EVAL, SCRIPT, FUNCTION and FCALL.
public enum ScriptingCommands {
    public static var specs: [CommandSpec] { [] }
}
