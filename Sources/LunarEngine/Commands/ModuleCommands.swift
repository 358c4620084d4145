import Logging
import LunarRESP

/// MODULE: Lunar loads no Redis modules (they are C shared objects written against Redis's own
/// internals). The command keeps Redis 7.0's surface so tools that list modules work: LIST answers
/// an empty list, LOAD/LOADEX fail as a load that failed does (with the reason in the log), UNLOAD
/// finds no module. LOAD, LOADEX and UNLOAD are gated by `enable-module-command` as in Redis.
enum ModuleCommands {
    static let notAllowed = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

    static var specs: [CommandSpec] {
        let gated: CommandFlags = [.admin, .noscript, .noAsyncLoading]
        return [
            CommandSpec("module", arity: -2, group: .server, since: "4.0.0", summary: "Manages server modules.",
                        complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "5.0.0",
                            summary: "Lists the MODULE subcommands.") { ctx in
                    ConnectionCommands.help(ctx, "MODULE", [
                        ("LIST", "Returns the loaded modules (Lunar loads none)."),
                        ("LOAD <path> [<arg> ...]", "Loads a module from <path> (not supported by Lunar)."),
                        ("LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                         "Loads a module with configurations and arguments (not supported by Lunar)."),
                        ("UNLOAD <name>", "Unloads a module."),
                    ])
                },
                CommandSpec("list", arity: 2, flags: [.admin, .noscript], group: .server, since: "4.0.0",
                            summary: "Returns the loaded modules.") { ctx in
                    ctx.out.array(0)
                },
                CommandSpec("load", arity: -3, flags: gated, group: .server, since: "4.0.0",
                            summary: "Loads a module.", syntax: "path [arg [arg ...]]", handler: load),
                CommandSpec("loadex", arity: -3, flags: gated, group: .server, since: "7.0.0",
                            summary: "Loads a module with configuration parameters and arguments.",
                            syntax: "path [CONFIG name value [CONFIG name value ...]] [ARGS args [args ...]]",
                            handler: load),
                CommandSpec("unload", arity: 3, flags: gated, group: .server, since: "4.0.0",
                            summary: "Unloads a module.", syntax: "name") { ctx in
                    guard ctx.protectedActionAllowed("enable-module-command") else { return ctx.error(notAllowed) }
                    ctx.error("ERR Error unloading module: no such module with that name")
                },
            ]),
        ]
    }

    /// LOAD and LOADEX: refused like a module whose load failed, with the reason in the log.
    static func load(_ ctx: CommandContext) {
        guard ctx.protectedActionAllowed("enable-module-command") else { return ctx.error(notAllowed) }
        ctx.engine.logger.warning("Module \(ctx.argv[2].string) failed to load: Lunar does not load Redis modules")
        ctx.error("ERR Error loading the extension. Please check the server logs.")
    }
}
