import LunarRESP

/// A key pattern of a selector, with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
struct ACLKeyPattern: Equatable {
    var pattern: Bytes
    var read: Bool
    var write: Bool
}

/// What a selector (a user's root permissions or one of its `(...)` selectors) allows: commands by
/// id, first arguments of otherwise denied commands (`+select|0`), key patterns and channel patterns.
final class ACLSelector {
    var commands: [UInt64]
    /// Set by +@all / allcommands: commands added later would be allowed too (describes as +@all).
    var allowsFuture = false
    var firstArgs: [Int: [Bytes]] = [:]
    var keys: [ACLKeyPattern] = []
    var allKeys = false
    var channels: [Bytes] = []
    var allChannels = false

    init(words: Int) { commands = [UInt64](repeating: 0, count: words) }

    func copy() -> ACLSelector {
        let s = ACLSelector(words: commands.count)
        s.commands = commands
        s.allowsFuture = allowsFuture
        s.firstArgs = firstArgs
        s.keys = keys
        s.allKeys = allKeys
        s.channels = channels
        s.allChannels = allChannels
        return s
    }

    @inline(__always) func allows(_ id: Int) -> Bool { commands[id >> 6] & (1 << UInt64(id & 63)) != 0 }
    @inline(__always) func set(_ id: Int, _ on: Bool) {
        if on { commands[id >> 6] |= 1 << UInt64(id & 63) } else { commands[id >> 6] &= ~(1 << UInt64(id & 63)) }
    }
    /// Everything allowed: all commands (and future ones), every key read/write, every channel.
    var isUnrestricted: Bool { allowsFuture && allKeys && allChannels && commands.allSatisfy { $0 == ~0 } }
}

/// An ACL user: its switch, passwords (SHA-256 hex digests) and its root selector plus extra selectors.
public final class ACLUser {
    public let name: String
    var enabled = false
    var nopass = false
    var passwords: [String] = []
    var root: ACLSelector
    var selectors: [ACLSelector] = []
    /// "sanitize-payload" / "skip-sanitize-payload" as last set (shown by ACL LIST/GETUSER), or nil.
    var payloadFlag: String?
    /// All permissions: dispatch skips the check for this user's clients.
    public internal(set) var unrestricted = false

    init(name: String, words: Int) {
        self.name = name
        root = ACLSelector(words: words)
    }

    func copy() -> ACLUser {
        let u = ACLUser(name: name, words: root.commands.count)
        u.enabled = enabled
        u.nopass = nopass
        u.passwords = passwords
        u.root = root.copy()
        u.selectors = selectors.map { $0.copy() }
        u.payloadFlag = payloadFlag
        return u
    }

    func adopt(_ other: ACLUser) {
        enabled = other.enabled
        nopass = other.nopass
        passwords = other.passwords
        root = other.root
        selectors = other.selectors
        payloadFlag = other.payloadFlag
        unrestricted = root.isUnrestricted
    }

    func accepts(_ password: Bytes) -> Bool {
        guard enabled else { return false }
        if nopass { return true }
        // Every stored hash is compared in full, in time that does not depend on where they differ
        // (as Redis's time-independent comparison).
        let given = Array(SHA256.hex(password.raw).utf8)
        var matched = false
        for stored in passwords {
            let s = Array(stored.utf8)
            var diff = UInt8(truncatingIfNeeded: s.count ^ given.count)
            for i in 0..<min(s.count, given.count) { diff |= s[i] ^ given[i] }
            matched = matched || diff == 0
        }
        return matched
    }
}

/// Why a command was refused, in Redis's order of relevance (a later reason wins between selectors).
enum ACLDenial: Int, Comparable {
    case command = 1, key = 2, channel = 4
    static func < (a: ACLDenial, b: ACLDenial) -> Bool { a.rawValue < b.rawValue }
    var logReason: String {
        switch self {
        case .command: return "command"
        case .key: return "key"
        case .channel: return "channel"
        }
    }
}

/// The users, the rules language of ACL SETUSER and the permission checks. Lives on the engine
/// thread like everything else commands touch.
public final class ACL {
    unowned let engine: Engine
    var users: [String: ACLUser] = [:]
    public private(set) var defaultUser: ACLUser
    /// Commands and subcommands by ACL id (an index into the selectors' bitmaps).
    private(set) var specs: [CommandSpec] = []
    private var ids: [ObjectIdentifier: Int] = [:]
    private var categoryMembers: [String: [Int]] = [:]
    var words: Int { max(1, (specs.count + 63) / 64) }
    var log = ACLLog()

    static let categories = [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
        "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
        "transaction", "scripting",
    ]

    init(engine: Engine) {
        self.engine = engine
        defaultUser = ACLUser(name: "default", words: 1)
        users["default"] = defaultUser
    }

    /// Numbers every command once the table is complete (scripting registers its commands after the
    /// engine starts), and makes the default user what the configuration says.
    func prepare() {
        var n = 0
        for s in engine.table.all { n += 1 + s.subcommands.count }
        if n == specs.count { return }
        // Every user's rules as text, to rebuild its bitmaps once the ids have moved.
        let rules = users.values.map { ($0, specs.isEmpty ? [] : describe($0, withName: false)) }
        specs = []
        ids = [:]
        categoryMembers = [:]
        for s in engine.table.all {
            for spec in [s] + CommandIntrospection.sortedSubcommands(s) {
                ids[ObjectIdentifier(spec)] = specs.count
                for c in spec.aclCategories { categoryMembers[c, default: []].append(specs.count) }
                specs.append(spec)
            }
        }
        for (u, r) in rules {
            let fresh = ACLUser(name: u.name, words: words)
            _ = try? apply(r, to: fresh)
            u.adopt(fresh)
        }
    }

    func id(of spec: CommandSpec) -> Int? { ids[ObjectIdentifier(spec)] }

    /// The default user as Redis starts it: on, nopass or requirepass, all keys, channels, commands.
    func resetDefaultUser(requirepass: String, pubsubDefault: String) {
        prepare()
        let u = ACLUser(name: "default", words: words)
        var rules = ["on", "~*", "&*", "+@all"]
        rules.append(requirepass.isEmpty ? "nopass" : ">" + requirepass)
        _ = try? apply(rules.map { Bytes($0) }, to: u)
        defaultUser.adopt(u)
        _ = pubsubDefault
    }

    /// True when `password` is the default user's only way in: requirepass follows CONFIG SET.
    func setRequirepass(_ value: String) {
        let u = defaultUser.copy()
        _ = try? apply([Bytes("resetpass"), Bytes(value.isEmpty ? "nopass" : ">" + value)], to: u)
        defaultUser.adopt(u)
    }

    // MARK: Rules

    struct RuleError: Error {
        /// The reply; a rule it quotes is copied as Redis's `%s` copies it (see QuotingMessage).
        var reply: QuotingMessage
        var whole: Bool = false   // a message that is the whole reply (unmatched parenthesis)
        /// The reason alone, without the "Error in ACL SETUSER modifier" wrapping (ACL files report it).
        var reason: String = ""
        var message: String { String(decoding: reply.bytes, as: UTF8.self) }
        init(message: String, whole: Bool = false, reason: String = "") {
            self.init(reply: QuotingMessage(stringLiteral: message), whole: whole, reason: reason)
        }
        init(reply: QuotingMessage, whole: Bool = false, reason: String = "") {
            self.reply = reply
            self.whole = whole
            self.reason = reason
        }
        static let unknownCommand = "Unknown command or category name in ACL"
    }

    var newUserChannelsAll: Bool { engine.config.string("acl-pubsub-default") == "allchannels" }

    /// Applies ACL SETUSER rules to `user` (a copy: the caller commits it only when all succeed).
    func apply(_ rules: [Bytes], to user: ACLUser) throws {
        var i = 0
        while i < rules.count {
            let r = rules[i]
            if r.raw.first == UInt8(ascii: "(") {
                // A selector may span several arguments: up to the one ending with ')'.
                var text = r.raw
                var j = i
                while text.last != UInt8(ascii: ")") || (j == i && text.count == 1) {
                    j += 1
                    if j >= rules.count {
                        throw RuleError(reply: "ERR Unmatched parenthesis in acl selector starting at '\(quoted: r)'.", whole: true)
                    }
                    text += [UInt8(ascii: " ")] + rules[j].raw
                }
                let body = Bytes(text[1..<(text.count - 1)])
                let sel = ACLSelector(words: words)
                if newUserChannelsAll { sel.allChannels = true }
                for part in body.raw.split(separator: UInt8(ascii: " ")) {
                    do { try applySelectorRule(Bytes(part), to: sel) } catch let e as RuleError {
                        throw RuleError(reply: "ERR Error in ACL SETUSER modifier '\(quoted: Bytes(text))': \(e.message)", reason: e.message)
                    }
                }
                user.selectors.append(sel)
                i = j + 1
                continue
            }
            do { try applyUserRule(r, to: user) } catch let e as RuleError {
                throw RuleError(reply: "ERR Error in ACL SETUSER modifier '\(quoted: r)': \(e.message)", reason: e.message)
            }
            i += 1
        }
        user.unrestricted = user.root.isUnrestricted
    }

    private func applyUserRule(_ r: Bytes, to u: ACLUser) throws {
        let s = r.string
        let lower = s.lowercased()
        switch lower {
        case "on": u.enabled = true; return
        case "off": u.enabled = false; return
        case "nopass": u.nopass = true; u.passwords = []; return
        case "resetpass": u.nopass = false; u.passwords = []; return
        case "skip-sanitize-payload": u.payloadFlag = "skip-sanitize-payload"; return
        case "sanitize-payload": u.payloadFlag = "sanitize-payload"; return
        case "clearselectors": u.selectors = []; return
        case "reset":
            u.nopass = false; u.passwords = []
            u.enabled = false
            u.selectors = []
            u.root = ACLSelector(words: words)
            if newUserChannelsAll { u.root.allChannels = true }
            u.payloadFlag = "sanitize-payload"
            return
        default: break
        }
        switch r.raw.first {
        case UInt8(ascii: ">"), UInt8(ascii: "<"):
            let hash = SHA256.hex(Array(r.raw.dropFirst()))
            try changePassword(u, hash, add: r.raw.first == UInt8(ascii: ">"))
        case UInt8(ascii: "#"), UInt8(ascii: "!"):
            let hash = String(decoding: r.raw.dropFirst(), as: UTF8.self)
            guard hash.utf8.count == 64, hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                throw RuleError(message: "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
            }
            try changePassword(u, hash, add: r.raw.first == UInt8(ascii: "#"))
        default:
            try applySelectorRule(r, to: u.root)
        }
    }

    private func changePassword(_ u: ACLUser, _ hash: String, add: Bool) throws {
        if add {
            if !u.passwords.contains(hash) { u.passwords.append(hash) }
            u.nopass = false
        } else {
            guard let at = u.passwords.firstIndex(of: hash) else {
                throw RuleError(message: "The password you are trying to remove from the user does not exist")
            }
            u.passwords.remove(at: at)
        }
    }

    private func applySelectorRule(_ r: Bytes, to sel: ACLSelector) throws {
        let raw = r.raw
        let lower = r.lowercased.string
        switch lower {
        case "allkeys", "~*": sel.allKeys = true; sel.keys = [ACLKeyPattern(pattern: Bytes("*"), read: true, write: true)]; return
        case "resetkeys": sel.allKeys = false; sel.keys = []; return
        case "allchannels", "&*": sel.allChannels = true; sel.channels = []; return
        case "resetchannels": sel.allChannels = false; sel.channels = []; return
        case "allcommands", "+@all": setAll(sel, true); return
        case "nocommands", "-@all": setAll(sel, false); return
        default: break
        }
        guard let first = raw.first else { throw RuleError(message: "Syntax error") }
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "%"):
            var read = true, write = true
            var pattern = Array(raw.dropFirst())
            if first == UInt8(ascii: "%") {
                guard let tilde = raw.firstIndex(of: UInt8(ascii: "~")), tilde > 1 else { throw RuleError(message: "Syntax error") }
                read = false; write = false
                for c in raw[1..<tilde] {
                    switch c {
                    case UInt8(ascii: "R"), UInt8(ascii: "r"): read = true
                    case UInt8(ascii: "W"), UInt8(ascii: "w"): write = true
                    default: throw RuleError(message: "Syntax error")
                    }
                }
                pattern = Array(raw[(tilde + 1)...])
            }
            if sel.allKeys {
                throw RuleError(message: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
            }
            if pattern == [UInt8(ascii: "*")] && read && write {
                sel.allKeys = true
                sel.keys = [ACLKeyPattern(pattern: Bytes("*"), read: true, write: true)]
                return
            }
            // The same pattern again merges its permissions into the existing entry.
            if let at = sel.keys.firstIndex(where: { $0.pattern.raw == pattern }) {
                sel.keys[at].read = sel.keys[at].read || read
                sel.keys[at].write = sel.keys[at].write || write
            } else {
                sel.keys.append(ACLKeyPattern(pattern: Bytes(pattern), read: read, write: write))
            }
        case UInt8(ascii: "&"):
            if sel.allChannels {
                throw RuleError(message: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
            }
            let p = Bytes(raw.dropFirst())
            if !sel.channels.contains(p) { sel.channels.append(p) }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let allow = first == UInt8(ascii: "+")
            let name = Bytes(raw.dropFirst()).lowercased.string
            if name.hasPrefix("@") {
                guard let members = categoryMembers[String(name.dropFirst())] ?? (Self.categories.contains(String(name.dropFirst())) ? [] : nil) else {
                    throw RuleError(message: RuleError.unknownCommand)
                }
                for id in members { setCommand(sel, id, allow) }
                return
            }
            let parts = name.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard let top = engine.table.lookup(Bytes(parts[0])), let topID = id(of: top), parts.allSatisfy({ !$0.isEmpty }) else {
                throw RuleError(message: RuleError.unknownCommand)
            }
            if parts.count == 1 { setCommand(sel, topID, allow); return }
            if parts.count > 2 { throw RuleError(message: allow ? "Allowing first-arg of a subcommand is not supported" : RuleError.unknownCommand) }
            if let sub = top.subcommands[parts[1]], let subID = id(of: sub) {
                setCommand(sel, subID, allow)
                return
            }
            // A first argument of a command without subcommands (+select|0): allow only.
            guard allow, top.subcommands.isEmpty else { throw RuleError(message: RuleError.unknownCommand) }
            if !sel.allows(topID) {
                let arg = Bytes(parts[1])
                if !(sel.firstArgs[topID]?.contains(arg) ?? false) { sel.firstArgs[topID, default: []].append(arg) }
            }
        default:
            throw RuleError(message: "Syntax error")
        }
    }

    private func setAll(_ sel: ACLSelector, _ on: Bool) {
        for i in sel.commands.indices { sel.commands[i] = on ? ~0 : 0 }
        sel.allowsFuture = on
        sel.firstArgs = [:]
    }

    /// Allows or denies one command: a container takes its subcommands along.
    private func setCommand(_ sel: ACLSelector, _ id: Int, _ on: Bool) {
        sel.set(id, on)
        sel.firstArgs[id] = nil
        let spec = specs[id]
        for sub in spec.subcommands.values { if let sid = self.id(of: sub) { sel.set(sid, on); sel.firstArgs[sid] = nil } }
    }

    // MARK: Descriptions

    /// ACL LIST's line (without "user name" when `withName` is false it is a rule list for SETUSER).
    func describe(_ u: ACLUser, withName: Bool = true) -> [Bytes] {
        var parts: [String] = withName ? ["user", u.name] : []
        parts.append(u.enabled ? "on" : "off")
        if u.nopass { parts.append("nopass") }
        if let f = u.payloadFlag { parts.append(f) }
        for p in u.passwords { parts.append("#" + p) }
        var out = parts.map { Bytes($0) }
        out += describeSelector(u.root)
        for s in u.selectors {
            let inner = describeSelector(s).map(\.raw)
            out.append(Bytes([UInt8(ascii: "(")] + Array(inner.joined(separator: [UInt8(ascii: " ")])) + [UInt8(ascii: ")")]))
        }
        return out
    }

    func describeSelector(_ s: ACLSelector) -> [Bytes] {
        var out = describeKeys(s)
        if s.allChannels { out.append(Bytes("&*")) } else {
            out.append(Bytes("resetchannels"))
            out += s.channels.map { Bytes([UInt8(ascii: "&")] + $0.raw) }
        }
        out += describeCommands(s).split(separator: " ").map { Bytes(String($0)) }
        return out
    }

    func describeKeys(_ s: ACLSelector) -> [Bytes] {
        if s.allKeys { return [Bytes("~*")] }
        return s.keys.map { k in
            let prefix = k.read && k.write ? "~" : (k.read ? "%R~" : "%W~")
            return Bytes(Array(prefix.utf8) + k.pattern.raw)
        }
    }

    func describeChannels(_ s: ACLSelector) -> String {
        if s.allChannels { return "&*" }
        return s.channels.map { "&" + $0.string }.joined(separator: " ")
    }

    /// The command rules, rebuilt from the bitmap as Redis 7.0 does: +@all or -@all, then categories
    /// chosen one at a time as the best fit for what still differs (more commands in the category agree
    /// with the user than disagree; fewest disagreements, then most agreements, first in the category
    /// list on a tie), then the single commands and first arguments that still differ.
    func describeCommands(_ s: ACLSelector) -> String {
        let additive = !s.allowsFuture
        var rules = [additive ? "-@all" : "+@all"]
        // `fake` is what the rules emitted so far grant; `remaining` is the user's bitmap with every
        // chosen category flipped back, so a category is judged only on the commands still unexplained.
        let fake = ACLSelector(words: words)
        setAll(fake, !additive)
        let remaining = s.copy()
        var applied = Set<String>()
        while true {
            var best: String?
            var minDiff = Int.max, maxSame = 0
            for cat in Self.categories where !applied.contains(cat) {
                let members = categoryMembers[cat] ?? []
                let on = members.reduce(0) { $0 + (remaining.allows($1) ? 1 : 0) }
                let off = members.count - on
                let (diff, same) = additive ? (off, on) : (on, off)
                if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
                    best = cat
                    minDiff = diff
                    maxSame = same
                }
            }
            guard let cat = best else { break }
            applied.insert(cat)
            rules.append((additive ? "+@" : "-@") + cat)
            for id in categoryMembers[cat] ?? [] {
                setCommand(fake, id, additive)
                setCommand(remaining, id, !additive)
            }
        }
        for (id, spec) in specs.enumerated() where spec.parent == nil {
            if s.allows(id) != fake.allows(id) {
                rules.append((s.allows(id) ? "+" : "-") + spec.fullName)
                setCommand(fake, id, s.allows(id))
            }
            for sub in CommandIntrospection.sortedSubcommands(spec) {
                guard let sid = self.id(of: sub) else { continue }
                if s.allows(sid) != fake.allows(sid) {
                    rules.append((s.allows(sid) ? "+" : "-") + sub.fullName)
                    fake.set(sid, s.allows(sid))
                }
            }
            if !s.allows(id), let args = s.firstArgs[id] {
                for a in args { rules.append("+" + spec.fullName + "|" + a.string) }
            }
        }
        return rules.joined(separator: " ")
    }

    // MARK: Checks

    /// Whether `user` may run `spec` with `argv`: nil when allowed, else the reason and the argument at fault.
    func check(_ user: ACLUser, _ spec: CommandSpec, _ argv: [Bytes]) -> (ACLDenial, Int)? {
        if user.unrestricted { return nil }
        prepare()
        var worst: (ACLDenial, Int) = (.command, 0)
        for sel in [user.root] + user.selectors {
            guard let denial = check(sel, spec, argv) else { return nil }
            if denial.0 > worst.0 || (denial.0 == worst.0 && denial.1 > worst.1) { worst = denial }
        }
        return worst
    }

    private func check(_ sel: ACLSelector, _ spec: CommandSpec, _ argv: [Bytes]) -> (ACLDenial, Int)? {
        guard let id = id(of: spec) else { return (.command, 0) }
        // As Redis: the commands a connection may run before authenticating (AUTH, HELLO, QUIT,
        // RESET) are never refused by a user's command rules.
        if !sel.allows(id) && !spec.flags.contains(.noAuth) {
            // +select|0: the first argument may be allowed on its own.
            guard argv.count > 1, let args = sel.firstArgs[id], args.contains(argv[1].lowercased) else { return (.command, 0) }
        }
        if !sel.allKeys && spec.hasKeys {
            for k in spec.keysWithFlags(argv) ?? [] where !keyAllowed(sel, argv[k.position], k.flags) {
                return (.key, k.position)
            }
        }
        if !sel.allChannels {
            for (pos, isPattern) in Self.channels(spec, argv) where !channelAllowed(sel, argv[pos], isPattern: isPattern) {
                return (.channel, pos)
            }
        }
        return nil
    }

    func keyAllowed(_ sel: ACLSelector, _ key: Bytes, _ flags: KeySpecFlags) -> Bool {
        if sel.allKeys { return true }
        let needRead = flags.contains(.access)
        let needWrite = !flags.isDisjoint(with: [.insert, .delete, .update])
        for p in sel.keys where (!needRead || p.read) && (!needWrite || p.write) {
            if globMatch(p.pattern.raw, key.raw, noCase: false) { return true }
        }
        return false
    }

    func channelAllowed(_ sel: ACLSelector, _ channel: Bytes, isPattern: Bool) -> Bool {
        if sel.allChannels { return true }
        for p in sel.channels {
            if isPattern ? p == channel : globMatch(p.raw, channel.raw, noCase: false) { return true }
        }
        return false
    }

    /// The channel arguments of the pub/sub commands ACLs check (unsubscribing is always allowed).
    static func channels(_ spec: CommandSpec, _ argv: [Bytes]) -> [(Int, Bool)] {
        guard spec.flags.contains(.pubsub), spec.parent == nil else { return [] }
        switch spec.name {
        case "publish", "spublish": return argv.count > 1 ? [(1, false)] : []
        case "subscribe", "ssubscribe": return (1..<max(1, argv.count)).map { ($0, false) }
        case "psubscribe": return (1..<max(1, argv.count)).map { ($0, true) }
        default: return []
        }
    }

    /// Whether a user may still hold a client's subscriptions (revoked channels disconnect it).
    func allowsSubscriptions(_ user: ACLUser, _ c: Client) -> Bool {
        if user.unrestricted { return true }
        let sels = [user.root] + user.selectors
        for ch in Array(c.subscriptions.channels) + Array(c.subscriptions.shardChannels) where !sels.contains(where: { channelAllowed($0, ch, isPattern: false) }) {
            return false
        }
        for p in c.subscriptions.patterns where !sels.contains(where: { channelAllowed($0, p, isPattern: true) }) {
            return false
        }
        return true
    }
}

/// ACL LOG: recent denials and failed AUTHs, similar entries merged within a minute.
struct ACLLog {
    struct Entry {
        var count: Int
        var reason: String
        var context: String
        var object: String
        var username: String
        var createdMillis: Int64
        var clientInfo: String
    }
    var entries: [Entry] = []   // newest first

    mutating func add(reason: String, context: String, object: String, username: String, now: Int64, clientInfo: String, maxLen: Int) {
        if let at = entries.firstIndex(where: { $0.reason == reason && $0.context == context && $0.object == object
            && $0.username == username && now - $0.createdMillis < 60_000 }) {
            var e = entries.remove(at: at)
            e.count += 1
            e.createdMillis = now
            e.clientInfo = clientInfo
            entries.insert(e, at: 0)
        } else {
            entries.insert(Entry(count: 1, reason: reason, context: context, object: object, username: username,
                                 createdMillis: now, clientInfo: clientInfo), at: 0)
        }
        if entries.count > maxLen { entries.removeLast(entries.count - max(0, maxLen)) }
    }
}
