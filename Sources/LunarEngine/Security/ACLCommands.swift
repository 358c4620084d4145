import LunarRESP

/// The ACL command and the engine's side of ACLs: authentication, the dispatch check, ACL LOG entries.
enum ACLCommands {
    static var specs: [CommandSpec] {
        let admin: CommandFlags = [.admin, .noscript, .loading, .stale]
        let plain: CommandFlags = [.noscript, .loading, .stale]
        return [
            CommandSpec("acl", arity: -2, group: .server, since: "6.0.0", summary: "Manages users and their permissions.", complexity: "Depends on subcommand.", subcommands: [
                CommandSpec("cat", arity: -2, flags: plain, group: .server, since: "6.0.0", summary: "Lists the ACL categories, or the commands in one.", syntax: "[category]", handler: cat),
                CommandSpec("deluser", arity: -3, flags: admin, group: .server, since: "6.0.0", summary: "Deletes users and closes their connections.", complexity: "O(1) amortized time considering the typical user.", syntax: "username [username ...]", handler: deluser),
                CommandSpec("dryrun", arity: -4, flags: admin, group: .server, since: "7.0.0", summary: "Tells whether a user could run a command, without running it.", syntax: "username command [arg [arg ...]]", handler: dryrun),
                CommandSpec("genpass", arity: -2, flags: plain, group: .server, since: "6.0.0", summary: "Returns random hex digits usable as a password.", syntax: "[bits]", handler: genpass),
                CommandSpec("getuser", arity: 3, flags: admin, group: .server, since: "6.0.0", summary: "Describes a user's rules.", complexity: "O(N). Where N is the number of password, command and pattern rules that the user has.", syntax: "username", handler: getuser),
                CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .server, since: "6.0.0", summary: "Lists the ACL subcommands.") { ctx in
                    ConnectionCommands.help(ctx, "ACL", helpLines)
                },
                CommandSpec("list", arity: 2, flags: admin, group: .server, since: "6.0.0", summary: "Lists every user's rules in config-file form.", complexity: "O(N). Where N is the number of configured users.") { ctx in
                    let lines = ctx.engine.acl.userLines()
                    ctx.out.array(lines.count)
                    for l in lines { ctx.out.bulk(l) }
                },
                CommandSpec("load", arity: 2, flags: admin, group: .server, since: "6.0.0", summary: "Replaces every user with the ACL file's.", complexity: "O(N). Where N is the number of configured users.") { ctx in
                    guard ctx.engine.aclFilePath != nil else { notConfigured(ctx); return }
                    if let errors = ctx.engine.loadACLFile(current: ctx.client) { ctx.error("ERR " + errors) } else { ctx.ok() }
                },
                CommandSpec("log", arity: -2, flags: admin, group: .server, since: "6.0.0", summary: "Lists recent ACL denials and failed authentications.", complexity: "O(N) with N being the number of entries shown.", syntax: "[count|RESET]", handler: log),
                CommandSpec("save", arity: 2, flags: admin, group: .server, since: "6.0.0", summary: "Writes every user to the ACL file.", complexity: "O(N). Where N is the number of configured users.") { ctx in
                    guard let path = ctx.engine.aclFilePath else { notConfigured(ctx); return }
                    if ctx.engine.acl.save(to: path) { ctx.ok() } else {
                        ctx.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
                    }
                },
                CommandSpec("setuser", arity: -3, flags: admin, group: .server, since: "6.0.0", summary: "Creates or changes a user.", complexity: "O(N). Where N is the number of rules provided.", syntax: "username [rule [rule ...]]", handler: setuser),
                CommandSpec("users", arity: 2, flags: admin, group: .server, since: "6.0.0", summary: "Lists the user names.", complexity: "O(N). Where N is the number of configured users.") { ctx in
                    let names = ctx.engine.acl.sortedNames
                    ctx.out.array(names.count)
                    for n in names { ctx.out.bulk(n) }
                },
                CommandSpec("whoami", arity: 2, flags: plain, group: .server, since: "6.0.0", summary: "Returns the connection's user name.") { ctx in
                    ctx.out.bulk(ctx.engine.user(of: ctx.client).name)
                },
            ]),
        ]
    }

    static func notConfigured(_ ctx: CommandContext) {
        ctx.error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
    }

    static let helpLines: [(String, String)] = [
        ("CAT [<category>]", "List all commands that belong to <category>, or all command categories\nwhen no category is specified."),
        ("DELUSER <username> [<username> ...]", "Delete a list of users."),
        ("DRYRUN <username> <command> [<arg> ...]", "Returns whether the user can execute the given command without executing the command."),
        ("GETUSER <username>", "Get the user's details."),
        ("GENPASS [<bits>]", "Generate a secure 256-bit user password. The optional `bits` argument can\nbe used to specify a different size."),
        ("LIST", "Show users details in config file format."),
        ("LOAD", "Reload users from the ACL file."),
        ("LOG [<count> | RESET]", "Show the ACL log entries."),
        ("SAVE", "Save the current config to the ACL file."),
        ("SETUSER <username> <attribute> [<attribute> ...]", "Create or modify a user with the specified attributes."),
        ("USERS", "List all the registered usernames."),
        ("WHOAMI", "Return the current connection username."),
    ]

    static func cat(_ ctx: CommandContext) {
        let acl = ctx.engine.acl
        acl.prepare()
        if ctx.argc == 2 {
            ctx.out.array(ACL.categories.count)
            for c in ACL.categories { ctx.out.bulk(c) }
            return
        }
        if ctx.argc > 3 { ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try ACL HELP."); return }
        let cat = ctx.argv[2].lowercased.string
        guard ACL.categories.contains(cat) else { ctx.error(quoting: "ERR Unknown category '\(quoted: ctx.argv[2], max: 128)'"); return }
        let names = acl.specs.filter { $0.aclCategories.contains(cat) }.map(\.fullName)
        ctx.out.array(names.count)
        for n in names { ctx.out.bulk(n) }
    }

    static func genpass(_ ctx: CommandContext) {
        var bits = 256
        if ctx.argc > 3 { ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try ACL HELP."); return }
        if ctx.argc == 3 {
            guard let n = ctx.int(2) else { return }
            guard n > 0, n <= 4096 else {
                ctx.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
                return
            }
            bits = n
        }
        let chars = (bits + 3) / 4
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        ctx.out.bulk(Bytes((0..<chars).map { _ in digits[Int(g.next() & 15)] }))
    }

    static func setuser(_ ctx: CommandContext) {
        let acl = ctx.engine.acl
        acl.prepare()
        // As Redis: no C whitespace (space, \t, \n, \v, \f, \r) and no NUL in a username.
        if ctx.argv[2].raw.contains(where: { $0 == 0 || $0 == 32 || (9...13).contains($0) }) {
            ctx.error("ERR Usernames can't contain spaces or null characters")
            return
        }
        let name = ctx.argv[2].string
        let existing = acl.users[name]
        let user = existing?.copy() ?? acl.newUser(name)
        do {
            try acl.apply(Array(ctx.argv[3...]), to: user)
        } catch let e as ACL.RuleError {
            ctx.error(quoting: e.reply)
            return
        } catch {
            return
        }
        if let existing {
            existing.adopt(user)
            ctx.engine.userChanged(existing)
        } else {
            acl.users[name] = user
        }
        ctx.engine.aclChanged()
        ctx.ok()
    }

    static func deluser(_ ctx: CommandContext) {
        let acl = ctx.engine.acl
        var deleted = 0
        for i in 2..<ctx.argc {
            let name = ctx.argv[i].string
            if name == "default" { ctx.error("ERR The 'default' user cannot be removed"); return }
        }
        for i in 2..<ctx.argc {
            let name = ctx.argv[i].string
            guard let u = acl.users.removeValue(forKey: name) else { continue }
            deleted += 1
            ctx.engine.disconnect(user: u, current: ctx.client)
        }
        ctx.engine.aclChanged()
        ctx.out.integer(deleted)
    }

    static func getuser(_ ctx: CommandContext) {
        let acl = ctx.engine.acl
        acl.prepare()
        guard let u = acl.users[ctx.argv[2].string] else { ctx.out.nullBulk(); return }
        ctx.out.map(6)
        ctx.out.bulk("flags")
        var flags = [u.enabled ? "on" : "off"]
        if u.nopass { flags.append("nopass") }
        if let f = u.payloadFlag { flags.append(f) }
        ctx.out.set(flags.count)
        for f in flags { ctx.out.bulk(f) }
        ctx.out.bulk("passwords")
        ctx.out.array(u.passwords.count)
        for p in u.passwords { ctx.out.bulk(p) }
        writeSelector(ctx, u.root)
        ctx.out.bulk("selectors")
        ctx.out.array(u.selectors.count)
        for s in u.selectors {
            ctx.out.map(3)
            writeSelector(ctx, s)
        }
    }

    private static func writeSelector(_ ctx: CommandContext, _ s: ACLSelector) {
        let acl = ctx.engine.acl
        ctx.out.bulk("commands"); ctx.out.bulk(acl.describeCommands(s))
        ctx.out.bulk("keys"); ctx.out.bulk(Bytes(acl.describeKeys(s).map(\.raw).joined(separator: [UInt8(ascii: " ")])))
        ctx.out.bulk("channels"); ctx.out.bulk(acl.describeChannels(s))
    }

    static func dryrun(_ ctx: CommandContext) {
        let engine = ctx.engine
        guard let u = engine.acl.users[ctx.argv[2].string] else { ctx.error(quoting: "ERR User '\(quoted: ctx.argv[2])' not found"); return }
        let argv = Array(ctx.argv[3...])
        guard let spec = engine.table.resolve(argv) else { ctx.error(quoting: "ERR Command '\(quoted: argv[0])' not found"); return }
        if !spec.arityOK(argv.count) { ctx.error("ERR wrong number of arguments for '\(spec.fullName)' command"); return }
        guard let (denial, pos) = engine.acl.check(u, spec, argv) else { ctx.ok(); return }
        switch denial {
        case .command: ctx.out.bulk("This user has no permissions to run the '\(spec.fullName)' command")
        case .key: ctx.out.bulk("This user has no permissions to access the '\(argv[pos].string)' key")
        case .channel: ctx.out.bulk("This user has no permissions to access the '\(argv[pos].string)' channel")
        }
    }

    static func log(_ ctx: CommandContext) {
        let acl = ctx.engine.acl
        var count = acl.log.entries.count
        if ctx.argc == 3 {
            if ctx.arg(2, is: "reset") { acl.log.entries = []; ctx.ok(); return }
            // Redis reads the count as a signed integer and lists nothing for zero or less.
            guard let n = ctx.int(2) else { return }
            count = min(count, max(0, n))
        } else if ctx.argc > 3 {
            ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try ACL HELP.")
            return
        }
        let now = ctx.engine.now
        ctx.out.array(count)
        for e in acl.log.entries.prefix(count) {
            ctx.out.map(7)
            ctx.out.bulk("count"); ctx.out.integer(e.count)
            ctx.out.bulk("reason"); ctx.out.bulk(e.reason)
            ctx.out.bulk("context"); ctx.out.bulk(e.context)
            ctx.out.bulk("object"); ctx.out.bulk(e.object)
            ctx.out.bulk("username"); ctx.out.bulk(e.username)
            ctx.out.bulk("age-seconds"); ctx.out.double(Double(max(0, now - e.createdMillis)) / 1000)
            ctx.out.bulk("client-info"); ctx.out.bulk(e.clientInfo)
        }
    }
}

extension Engine {
    /// The user a client is authenticated as (the default user until AUTH says otherwise).
    @inline(__always) public func user(of c: Client) -> ACLUser { c.user ?? acl.defaultUser }

    /// Recomputes the dispatch fast-path flag: ACL checks run only while some user is restricted.
    func aclChanged() {
        aclInUse = acl.users.values.contains { !$0.unrestricted }
        authRequired = !(acl.defaultUser.enabled && acl.defaultUser.nopass)
    }

    /// A user's rules changed: its subscribers that lost a channel are disconnected, as in Redis 7.0.
    func userChanged(_ u: ACLUser) {
        for c in clients.values where user(of: c) === u && !c.subscriptions.isEmpty && !acl.allowsSubscriptions(u, c) {
            if c === executingClient { c.closeAfterReply = true } else { kill(c) }
        }
    }

    /// ACL DELUSER: the user's connections close (the current one after its reply).
    func disconnect(user u: ACLUser, current: Client?) {
        for c in Array(clients.values) where c.user === u {
            if c === current { c.closeAfterReply = true } else { kill(c) }
        }
    }

    /// AUTH / HELLO AUTH: authenticates the client as `name`, or logs the failure (ACL LOG "auth").
    func authenticate(_ c: Client, user name: Bytes, password: Bytes, command: Bytes) -> Bool {
        if let u = acl.users[name.string], u.accepts(password) {
            c.user = u === acl.defaultUser ? nil : u
            c.authenticated = true
            return true
        }
        aclLog(c, reason: "auth", context: "toplevel", object: command.string, username: name.string)
        return false
    }

    func aclLog(_ c: Client, reason: String, context: String, object: String, username: String) {
        acl.log.add(reason: reason, context: context, object: object, username: username, now: now,
                    clientInfo: ConnectionCommands.describe(c, self, now: now),
                    maxLen: config.int("acllog-max-len"))
    }

    /// Whose permissions a command is checked against: its client's, or for a script's command the
    /// client running the script. Nil for internal clients (AOF loading, the master link), which
    /// Redis never checks.
    func aclSubject(_ ctx: CommandContext) -> Client? {
        let c = ctx.inScript ? (executingClient ?? ctx.client) : ctx.client
        return c.isInternal ? nil : c
    }

    /// Whether the client running the current script may run `argv` (redis.acl_check_cmd).
    public func scriptCallerMayRun(_ spec: CommandSpec, _ argv: [Bytes]) -> Bool {
        guard aclInUse, let c = executingClient, !c.isInternal else { return true }
        return acl.check(user(of: c), spec, argv) == nil
    }

    /// The dispatch check while some user is restricted: writes Redis's NOPERM (or the script's
    /// error) and logs the denial. Returns false when the command must not run.
    func aclAllows(_ ctx: CommandContext, _ spec: CommandSpec) -> Bool {
        guard let client = aclSubject(ctx) else { return true }
        let u = user(of: client)
        if u.unrestricted { return true }
        guard let (denial, pos) = acl.check(u, spec, ctx.argv) else { return true }
        let inExec = !ctx.inScript && ctx !== topContext
        let context = ctx.inScript ? "lua" : (inExec || client.inMulti ? "multi" : "toplevel")
        let object = denial == .command ? spec.fullName : ctx.argv[pos].string
        aclLog(client, reason: denial.logReason, context: context, object: object, username: u.name)
        let message: String
        if ctx.inScript {
            switch denial {
            case .command: message = "ERR The user executing the script can't run this command or subcommand"
            case .key: message = "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
            case .channel: message = "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
        } else if inExec {
            // Queued while allowed, refused at EXEC: the rules changed in between.
            let reason: String
            switch denial {
            case .command: reason = "no permission to execute the command or subcommand"
            case .key: reason = "no permission to touch the specified keys"
            case .channel: reason = "no permission to access one of the channels used as arguments"
            }
            message = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + reason
        } else {
            switch denial {
            case .command: message = "NOPERM this user has no permissions to run the '\(spec.fullName)' command"
            case .key: message = "NOPERM this user has no permissions to access one of the keys used as arguments"
            case .channel: message = "NOPERM this user has no permissions to access one of the channels used as arguments"
            }
        }
        rejectDenied(ctx, message, spec: spec)
        return false
    }
}
