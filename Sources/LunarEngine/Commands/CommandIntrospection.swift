import LunarRESP

/// COMMAND and its subcommands: INFO, COUNT, LIST, GETKEYS, DOCS, HELP. Everything comes from the
/// command table, so what COMMAND reports is exactly what dispatch enforces.
enum CommandIntrospection {
    static var subcommands: [CommandSpec] {
        let f: CommandFlags = [.loading, .stale]
        return [
            CommandSpec("help", arity: 2, flags: f, group: .server, since: "5.0.0", summary: "Lists the COMMAND subcommands.", acl: ["connection"]) { ctx in
                ConnectionCommands.help(ctx, "COMMAND", [
                    ("(no subcommand)", "Describes every command, as COMMAND INFO does."),
                    ("COUNT", "Returns how many commands the server knows."),
                    ("INFO [<command-name> ...]", "Describes the given commands (all when none is given)."),
                    ("DOCS [<command-name> ...]", "Documents the given commands (all when none is given)."),
                    ("GETKEYS <full-command>", "Returns the keys a full command line would access."),
                    ("GETKEYSANDFLAGS <full-command>", "Returns the keys a full command line would access, each with its key-spec flags."),
                    ("LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]", "Returns the names of the commands, optionally filtered."),
                ])
            },
            CommandSpec("count", arity: 2, flags: f, group: .server, since: "2.8.13", summary: "Returns the number of commands the server knows.", acl: ["connection"]) { ctx in
                ctx.out.integer(ctx.engine.table.count)
            },
            CommandSpec("info", arity: -2, flags: f, group: .server, since: "2.8.13", summary: "Describes the given commands, or all of them.", complexity: "O(N) where N is the number of commands to look up", syntax: "[command-name [command-name ...]]", acl: ["connection"]) { ctx in
                if ctx.argc == 2 { all(ctx); return }
                ctx.out.array(ctx.argc - 2)
                for i in 2..<ctx.argc {
                    if let spec = find(ctx.engine.table, ctx.argv[i]) { writeInfo(ctx, spec) } else { ctx.out.nullBulk() }
                }
            },
            CommandSpec("docs", arity: -2, flags: f, group: .server, since: "7.0.0", summary: "Documents the given commands, or all of them.", complexity: "O(N) where N is the number of commands to look up", syntax: "[command-name [command-name ...]]", acl: ["connection"]) { ctx in
                var specs: [CommandSpec] = []
                if ctx.argc == 2 {
                    specs = ctx.engine.table.all
                } else {
                    for i in 2..<ctx.argc { if let s = find(ctx.engine.table, ctx.argv[i]) { specs.append(s) } }
                }
                ctx.out.map(specs.count)
                for s in specs {
                    ctx.out.bulk(s.fullName)
                    writeDocs(ctx, s)
                }
            },
            CommandSpec("getkeys", arity: -4, flags: f, group: .server, since: "2.8.13", summary: "Returns the keys a full command line would access.", complexity: "O(N) where N is the number of arguments to the command", syntax: "command [arg [arg ...]]", acl: ["connection"]) { ctx in
                getKeys(ctx, withFlags: false)
            },
            CommandSpec("getkeysandflags", arity: -4, flags: f, group: .server, since: "7.0.0", summary: "Returns the keys a full command line would access, with how it uses each.", complexity: "O(N) where N is the number of arguments to the command", syntax: "command [arg [arg ...]]", acl: ["connection"]) { ctx in
                getKeys(ctx, withFlags: true)
            },
            CommandSpec("list", arity: -2, flags: f, group: .server, since: "7.0.0", summary: "Returns the names of the commands, optionally filtered by module, ACL category or pattern.", complexity: "O(N) where N is the total number of Redis commands", syntax: "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]", acl: ["connection"], handler: list),
        ]
    }

    /// COMMAND GETKEYS / GETKEYSANDFLAGS: the same key finder ACL checks use.
    static func getKeys(_ ctx: CommandContext, withFlags: Bool) {
        let argv = Array(ctx.argv[2...])
        var spec = ctx.engine.table.lookup(argv[0])
        if let container = spec, !container.subcommands.isEmpty, argv.count >= 2 {
            spec = container.subcommands[argv[1].lowercased.string]
        }
        guard let spec else { ctx.error("ERR Invalid command specified"); return }
        if !spec.hasKeys { ctx.error("ERR The command has no key arguments"); return }
        if !spec.arityOK(argv.count) { ctx.error("ERR Invalid number of arguments specified for command"); return }
        guard let keys = spec.keysWithFlags(argv), !keys.isEmpty else {
            if spec.flags.contains(.noMandatoryKeys) { ctx.out.array(0) } else { ctx.error("ERR Invalid arguments specified for command") }
            return
        }
        ctx.out.array(keys.count)
        for k in keys {
            if withFlags {
                ctx.out.array(2)
                ctx.out.bulk(argv[k.position])
                let names = k.flags.nameList
                ctx.out.set(names.count)
                for n in names { ctx.out.simple(n) }
            } else {
                ctx.out.bulk(argv[k.position])
            }
        }
    }

    /// Finds a command by name, or a subcommand written as "container|sub".
    static func find(_ table: CommandTable, _ name: Bytes) -> CommandSpec? {
        if let bar = name.raw.firstIndex(of: UInt8(ascii: "|")) {
            guard let parent = table.lookup(Bytes(name.raw[..<bar])) else { return nil }
            return parent.subcommands[Bytes(name.raw[(bar + 1)...]).lowercased.string]
        }
        return table.lookup(name)
    }

    /// COMMAND with no subcommand: every command's description.
    static func all(_ ctx: CommandContext) {
        if ctx.argc > 1 && ctx.spec.name == "command" {
            ctx.error(quoting: "ERR unknown subcommand '\(quoted: ctx.argv[1], max: 128)'. Try COMMAND HELP.")
            return
        }
        let specs = ctx.engine.table.all
        ctx.out.array(specs.count)
        for s in specs { writeInfo(ctx, s) }
    }

    static func sortedSubcommands(_ s: CommandSpec) -> [CommandSpec] {
        s.subcommands.values.sorted { $0.name < $1.name }
    }

    /// One COMMAND INFO entry: name, arity, flags, first/last/step, ACL categories, tips, key specs, subcommands.
    static func writeInfo(_ ctx: CommandContext, _ s: CommandSpec) {
        ctx.out.array(10)
        ctx.out.bulk(s.fullName)
        ctx.out.integer(s.arity)
        let flags = CommandFlags.names.filter { s.flags.contains($0.0) }
        ctx.out.set(flags.count)
        for (_, n) in flags { ctx.out.simple(n) }
        ctx.out.integer(s.firstKey)
        ctx.out.integer(s.lastKey)
        ctx.out.integer(s.keyStep)
        let cats = s.aclCategories
        ctx.out.set(cats.count)
        for c in cats { ctx.out.simple("@" + c) }
        let tips = s.tips
        ctx.out.set(tips.count)
        for t in tips { ctx.out.bulk(t) }
        writeKeySpecs(ctx, s)
        let subs = sortedSubcommands(s)
        ctx.out.set(subs.count)
        for sub in subs { writeInfo(ctx, sub) }
    }

    /// The command's key specifications (Redis 7.0's, see KeySpec.swift).
    static func writeKeySpecs(_ ctx: CommandContext, _ s: CommandSpec) {
        let specs = s.keySpecs
        ctx.out.set(specs.count)
        for k in specs {
            ctx.out.map(k.notes == nil ? 3 : 4)
            if let notes = k.notes { ctx.out.bulk("notes"); ctx.out.bulk(notes) }
            ctx.out.bulk("flags")
            let names = k.flags.nameList
            ctx.out.set(names.count)
            for n in names { ctx.out.simple(n) }
            ctx.out.bulk("begin_search")
            ctx.out.map(2)
            switch k.begin {
            case let .index(i):
                ctx.out.bulk("type"); ctx.out.bulk("index")
                ctx.out.bulk("spec"); ctx.out.map(1); ctx.out.bulk("index"); ctx.out.integer(i)
            case let .keyword(word, startFrom):
                ctx.out.bulk("type"); ctx.out.bulk("keyword")
                ctx.out.bulk("spec"); ctx.out.map(2)
                ctx.out.bulk("keyword"); ctx.out.bulk(word)
                ctx.out.bulk("startfrom"); ctx.out.integer(startFrom)
            case .unknown:
                ctx.out.bulk("type"); ctx.out.bulk("unknown")
                ctx.out.bulk("spec"); ctx.out.map(0)
            }
            ctx.out.bulk("find_keys")
            ctx.out.map(2)
            switch k.find {
            case let .range(lastKey, step, limit):
                ctx.out.bulk("type"); ctx.out.bulk("range")
                ctx.out.bulk("spec"); ctx.out.map(3)
                ctx.out.bulk("lastkey"); ctx.out.integer(lastKey)
                ctx.out.bulk("keystep"); ctx.out.integer(step)
                ctx.out.bulk("limit"); ctx.out.integer(limit)
            case let .keynum(idx, firstKey, step):
                ctx.out.bulk("type"); ctx.out.bulk("keynum")
                ctx.out.bulk("spec"); ctx.out.map(3)
                ctx.out.bulk("keynumidx"); ctx.out.integer(idx)
                ctx.out.bulk("firstkey"); ctx.out.integer(firstKey)
                ctx.out.bulk("keystep"); ctx.out.integer(step)
            case .unknown:
                ctx.out.bulk("type"); ctx.out.bulk("unknown")
                ctx.out.bulk("spec"); ctx.out.map(0)
            }
        }
    }

    static func list(_ ctx: CommandContext) {
        var filter: (CommandSpec) -> Bool = { _ in true }
        if ctx.argc != 2 {
            guard ctx.argc == 5, ctx.arg(2, is: "filterby") else { ctx.syntaxError(); return }
            let value = ctx.argv[4]
            if ctx.arg(3, is: "module") {
                filter = { _ in false }   // no modules
            } else if ctx.arg(3, is: "aclcat") {
                let cat = value.lowercased.string
                filter = { $0.aclCategories.contains(cat) }
            } else if ctx.arg(3, is: "pattern") {
                filter = { globMatch(value.raw, Array($0.fullName.utf8), noCase: true) }
            } else {
                ctx.syntaxError()
                return
            }
        }
        var names: [String] = []
        for s in ctx.engine.table.all {
            if filter(s) { names.append(s.fullName) }
            for sub in sortedSubcommands(s) where filter(sub) { names.append(sub.fullName) }
        }
        ctx.out.array(names.count)
        for n in names { ctx.out.bulk(n) }
    }

    // MARK: DOCS

    static func writeDocs(_ ctx: CommandContext, _ s: CommandSpec) {
        let args = DocArgument.parse(s.syntax, command: s.fullName)
        let subs = sortedSubcommands(s)
        var n = 4
        if !args.isEmpty { n += 1 }
        if !subs.isEmpty { n += 1 }
        ctx.out.map(n)
        ctx.out.bulk("summary"); ctx.out.bulk(s.summary)
        ctx.out.bulk("since"); ctx.out.bulk(s.since)
        ctx.out.bulk("group"); ctx.out.bulk(s.group.rawValue)
        ctx.out.bulk("complexity"); ctx.out.bulk(s.complexity)
        if !args.isEmpty {
            ctx.out.bulk("arguments")
            ctx.out.array(args.count)
            for a in args { a.write(&ctx.out) }
        }
        if !subs.isEmpty {
            ctx.out.bulk("subcommands")
            ctx.out.map(subs.count)
            for sub in subs {
                ctx.out.bulk(sub.fullName)
                writeDocs(ctx, sub)
            }
        }
    }
}

/// One argument in COMMAND DOCS's structure, parsed from a CommandSpec's syntax line.
///
/// The syntax language: lowercase words are arguments, UPPERCASE words are tokens, `[...]` is optional,
/// `<...>` groups required items (`<FROMMEMBER member|FROMLONLAT longitude latitude>`), `a|b` are alternatives, and `x [x ...]` (or `[x ...]`) repeats. A token directly before an argument
/// introduces it (`EX seconds`); a bracket that starts with a token and holds several items is a block
/// introduced by that token (`[LIMIT offset count]`); `TOKEN A|B|C` is a token introducing a choice.
struct DocArgument {
    var name: String
    var type: String
    var token: String?
    var keySpecIndex: Int?
    var optional = false
    var multiple = false
    var children: [DocArgument] = []

    func write(_ out: inout ReplyWriter) {
        var n = 2
        if keySpecIndex != nil { n += 1 }
        if token != nil { n += 1 }
        if optional || multiple { n += 1 }
        if !children.isEmpty { n += 1 }
        out.map(n)
        out.bulk("name"); out.bulk(name)
        out.bulk("type"); out.bulk(type)
        if let keySpecIndex { out.bulk("key_spec_index"); out.integer(keySpecIndex) }
        if let token { out.bulk("token"); out.bulk(token) }
        if optional || multiple {
            var f: [String] = []
            if optional { f.append("optional") }
            if multiple { f.append("multiple") }
            out.bulk("flags")
            out.set(f.count)
            for x in f { out.simple(x) }
        }
        if !children.isEmpty {
            out.bulk("arguments")
            out.array(children.count)
            for c in children { c.write(&out) }
        }
    }

    // MARK: Parsing

    indirect enum Node: Equatable {
        case word(String)
        case group([Node])
        case required([Node])
        case bar
        case ellipsis
    }

    static func parse(_ syntax: String, command: String) -> [DocArgument] {
        var chars = Array(syntax)
        var pos = 0
        let nodes = parseNodes(&chars, &pos)
        var keyIndex = 0
        var args = convertSequence(nodes, inGroup: false, command: command, keyIndex: &keyIndex)
        // Top-level items never carry the "optional" of a group; done.
        if args.count == 1 && args[0].type == "block" && !args[0].optional && args[0].token == nil {
            args = args[0].children
        }
        return args
    }

    private static func parseNodes(_ c: inout [Character], _ pos: inout Int) -> [Node] {
        var out: [Node] = []
        var word = ""
        func flush() {
            if word == "..." { out.append(.ellipsis) } else if !word.isEmpty { out.append(.word(word)) }
            word = ""
        }
        while pos < c.count {
            let ch = c[pos]
            pos += 1
            switch ch {
            case " ", "\t": flush()
            case "[": flush(); out.append(.group(parseNodes(&c, &pos)))
            case "<": flush(); out.append(.required(parseNodes(&c, &pos)))
            case "]", ">": flush(); return out
            case "|": flush(); out.append(.bar)
            default: word.append(ch)
            }
        }
        flush()
        return out
    }

    private static func isToken(_ w: String) -> Bool {
        w.contains(where: { $0.isLetter }) && !w.contains(where: { $0.isLowercase })
    }

    private static func split(_ nodes: [Node]) -> [[Node]] {
        var alts: [[Node]] = [[]]
        for n in nodes {
            if n == .bar { alts.append([]) } else { alts[alts.count - 1].append(n) }
        }
        return alts
    }

    static func convertSequence(_ nodes: [Node], inGroup: Bool, command: String, keyIndex: inout Int) -> [DocArgument] {
        let alts = split(nodes)
        if alts.count > 1 {
            // TOKEN A|B|C: a token introducing a choice of single words.
            if alts[0].count == 2, case let .word(t) = alts[0][0], isToken(t),
               alts.dropFirst().allSatisfy({ $0.count == 1 && { if case .word = $0[0] { return true } else { return false } }($0) }) {
                var choices = [alts[0][1]]
                for a in alts.dropFirst() { choices.append(a[0]) }
                var one = oneof(choices.map { [$0] }, command: command, keyIndex: &keyIndex)
                one.token = t
                return [one]
            }
            // Every alternative a single item or introduced by a token: the bars split the whole sequence.
            let wide = alts.allSatisfy { a in
                if a.count <= 1 { return true }
                if case let .word(w) = a[0] { return isToken(w) }
                return false
            }
            if wide { return [oneof(alts, command: command, keyIndex: &keyIndex)] }
            // Otherwise bars bind the items right next to them (key BEFORE|AFTER pivot).
            var grouped: [[[Node]]] = []   // each element: alternatives of single nodes
            var i = 0
            var items: [[Node]] = []
            while i < nodes.count {
                if nodes[i] == .bar, !items.isEmpty, i + 1 < nodes.count {
                    items[items.count - 1].append(nodes[i + 1])
                    i += 2
                    continue
                }
                items.append([nodes[i]])
                i += 1
            }
            grouped = items.map { $0.map { [$0] } }
            var result: [DocArgument] = []
            var pending: [Node] = []
            func flushPending() {
                if !pending.isEmpty { result += convertItems(pending, inGroup: false, command: command, keyIndex: &keyIndex) }
                pending = []
            }
            for g in grouped {
                if g.count == 1 { pending.append(g[0][0]) } else {
                    flushPending()
                    result.append(oneof(g, command: command, keyIndex: &keyIndex))
                }
            }
            flushPending()
            return inGroup ? [wrap(result)] : result
        }
        let items = convertItems(nodes, inGroup: inGroup, command: command, keyIndex: &keyIndex)
        return items
    }

    private static func oneof(_ alts: [[Node]], command: String, keyIndex: inout Int) -> DocArgument {
        var children: [DocArgument] = []
        for a in alts {
            let items = convertItems(a, inGroup: true, command: command, keyIndex: &keyIndex)
            children.append(items.count == 1 ? items[0] : wrap(items))
        }
        return DocArgument(name: children.map(\.name).joined(separator: "_"), type: "oneof", token: nil, children: children)
    }

    private static func wrap(_ items: [DocArgument]) -> DocArgument {
        if items.count == 1 { return items[0] }
        return DocArgument(name: items.map(\.name).joined(separator: "_"), type: "block", token: nil, children: items)
    }

    /// Converts a sequence without top-level bars: tokens attach to what follows, repetitions merge.
    private static func convertItems(_ nodes: [Node], inGroup: Bool, command: String, keyIndex: inout Int) -> [DocArgument] {
        // A group holding `x ...` right after the same x: mark the preceding items as repeated.
        var seq: [Node] = []
        var repeatedFrom: [Int: Bool] = [:]   // index in seq where a repeated run starts
        var runs: [(start: Int, len: Int)] = []
        for n in nodes {
            if case let .group(inner) = n, inner.last == .ellipsis {
                let body = Array(inner.dropLast())
                if body.count <= seq.count, Array(seq.suffix(body.count)) == body, !body.isEmpty {
                    runs.append((seq.count - body.count, body.count))
                    repeatedFrom[seq.count - body.count] = true
                    continue
                }
                // `[x ...]` alone: optional, repeated.
                seq.append(.group(body + [.ellipsis]))
                continue
            }
            seq.append(n)
        }
        var out: [DocArgument] = []
        var i = 0
        while i < seq.count {
            if let run = runs.first(where: { $0.start == i }) {
                let body = Array(seq[i..<(i + run.len)])
                var items = convertItems(body, inGroup: true, command: command, keyIndex: &keyIndex)
                var a = items.count == 1 ? items.removeFirst() : wrap(items)
                a.multiple = true
                out.append(a)
                i += run.len
                continue
            }
            let n = seq[i]
            switch n {
            case let .word(w):
                if isToken(w) {
                    if i + 1 < seq.count, case let .word(next) = seq[i + 1], !isToken(next), !runs.contains(where: { $0.start == i + 1 }) {
                        var a = argument(next, command: command, keyIndex: &keyIndex)
                        a.token = w
                        out.append(a)
                        i += 2
                        continue
                    }
                    out.append(DocArgument(name: w.lowercased(), type: "pure-token", token: w))
                } else {
                    out.append(argument(w, command: command, keyIndex: &keyIndex))
                }
            case let .group(inner), let .required(inner):
                var repeated = false
                var body = inner
                if body.last == .ellipsis { body.removeLast(); repeated = true }
                var items = convertSequence(body, inGroup: true, command: command, keyIndex: &keyIndex)
                var a: DocArgument
                if items.count == 1 {
                    a = items.removeFirst()
                } else if let first = items.first, first.type == "pure-token", let tok = first.token {
                    a = wrap(Array(items.dropFirst()))
                    if a.type != "block" { a = DocArgument(name: a.name, type: "block", token: nil, children: [a]) }
                    a.token = tok
                } else if let first = items.first, first.token != nil, first.type != "pure-token" {
                    var rest = items
                    let tok = rest[0].token
                    rest[0].token = nil
                    a = DocArgument(name: rest.map(\.name).joined(separator: "_"), type: "block", token: tok, children: rest)
                } else {
                    a = wrap(items)
                }
                if case .group = n { a.optional = true }
                if repeated { a.multiple = true }
                out.append(a)
            case .ellipsis:
                if var last = out.popLast() { last.multiple = true; out.append(last) }
            case .bar:
                break
            }
            i += 1
        }
        return out
    }

    /// An argument named `w`, with its type guessed from the name.
    private static func argument(_ w: String, command: String, keyIndex: inout Int) -> DocArgument {
        let l = w.lowercased()
        let integerNames: Set<String> = ["count", "numkeys", "index", "start", "stop", "end", "offset", "seconds", "milliseconds",
                                         "db", "destination-db", "index1", "index2", "client-id", "port", "decrement", "ttl",
                                         "numreplicas", "rank", "maxlen", "len", "bit", "protover", "timeout-ms", "samples",
                                         "numargs", "numkeys", "limit", "cursor", "delta"]
        let doubleNames: Set<String> = ["score", "longitude", "latitude", "radius", "timeout", "weight", "width", "height"]
        var type = "string"
        if integerNames.contains(l) || l.hasSuffix("count") {
            type = "integer"
        } else if l == "increment" {
            type = command.contains("float") || command.hasPrefix("z") ? "double" : "integer"
        } else if doubleNames.contains(l) || ((l == "min" || l == "max") && command.contains("score")) {
            type = "double"
        } else if l == "pattern" {
            type = "pattern"
        } else if l.hasPrefix("unix-time") {
            type = "unix-time"
        } else if l == "key" || l.hasSuffix("key") || l == "destination" || l == "source" {
            type = "key"
        }
        var a = DocArgument(name: w, type: type, token: nil)
        if type == "key" {
            a.keySpecIndex = keyIndex
            keyIndex += 1
        }
        return a
    }
}
