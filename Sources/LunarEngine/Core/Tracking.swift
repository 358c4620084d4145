import LunarRESP

/// A client's CLIENT TRACKING settings (nil while tracking is off).
public struct TrackingState {
    var bcast = false
    var optin = false
    var optout = false
    var noloop = false
    /// The client that receives the invalidations (0: this one).
    var redirect = 0
    var brokenRedirect = false
    /// BCAST prefixes (the empty prefix when none was given).
    var prefixes: [Bytes] = []
    /// CLIENT CACHING YES (optin) or NO (optout) given for the next command.
    var caching = false
}

/// Server-assisted client-side caching (CLIENT TRACKING), as Redis 7.0 does it:
/// - default mode: the keys a tracking client reads are remembered (a table by key name, across
///   databases); when one is modified, expires or is evicted, each client that read it gets one
///   `invalidate` message and the key is forgotten until read again;
/// - BCAST: clients subscribe to key prefixes; the keys modified under a prefix are collected and
///   sent in one message per prefix at the end of the engine round;
/// - invalidations go to the client as RESP3 pushes, or to a REDIRECT client (RESP3 push, or a
///   `__redis__:invalidate` Pub/Sub message for a RESP2 client in subscribed mode);
/// - the client running the command gets its own invalidations after that command's reply; NOLOOP
///   leaves them out; FLUSHDB/FLUSHALL invalidate everything with a null.
final class Tracking {
    unowned let engine: Engine
    /// Key name → ids of the clients that read it (default mode).
    private(set) var table: [Bytes: Set<Int>] = [:]
    private(set) var items = 0
    /// BCAST prefix → subscribed clients, and the keys modified since the last round's end, each with
    /// the id of the only client that modified it (nil: several, or the server itself).
    final class Prefix {
        var clients: [Int: Client] = [:]
        var pending: [Bytes: Int?] = [:]
    }
    private(set) var prefixes: [Bytes: Prefix] = [:]
    /// Clients with tracking on.
    private(set) var clientCount = 0
    /// Keys whose invalidation goes to the running client once its command has replied.
    var pendingForCaller: [Bytes?] = []
    /// The running client's tracking settings when its first pending invalidation was queued.
    var pendingState: TrackingState?

    /// `tracking-table-max-keys`, kept here so a tracked read does not parse the config text.
    private var maxKeys: Int

    init(engine: Engine) {
        self.engine = engine
        maxKeys = engine.config.int("tracking-table-max-keys")
        engine.config.onChange.append { [unowned self] name, value in
            if name == "tracking-table-max-keys" { self.maxKeys = Int(value) ?? 0 }
        }
    }

    /// Anything to do on a key change (cheap test for the hot path).
    var active: Bool { !table.isEmpty || !prefixes.isEmpty }
    var hasPrefixes: Bool { !prefixes.isEmpty }
    var prefixCount: Int { prefixes.count }

    // MARK: Turning it on and off

    func enable(_ c: Client, _ s: TrackingState) {
        if c.tracking == nil { clientCount += 1 }
        var state = s
        if s.bcast {
            // New prefixes add to the client's existing ones.
            var all = c.tracking?.prefixes ?? []
            for p in s.prefixes where !all.contains(p) { all.append(p) }
            if all.isEmpty { all = [Bytes()] }
            state.prefixes = all
            for p in all {
                let entry = prefixes[p] ?? Prefix()
                entry.clients[c.id] = c
                prefixes[p] = entry
            }
        }
        c.tracking = state
        refreshInUse()
    }

    /// Keeps Engine.trackingInUse true exactly while there is something to track or to invalidate.
    func refreshInUse() {
        engine.trackingInUse = clientCount > 0 || !table.isEmpty || !prefixes.isEmpty || !pendingForCaller.isEmpty
    }

    func disable(_ c: Client) {
        guard let t = c.tracking else { return }
        for p in t.prefixes {
            guard let entry = prefixes[p] else { continue }
            entry.clients.removeValue(forKey: c.id)
            if entry.clients.isEmpty { prefixes.removeValue(forKey: p) }
        }
        c.tracking = nil
        clientCount -= 1
        refreshInUse()
    }

    // MARK: Reads and changes

    /// After a read-only command: remembers the keys `reader` read (default mode, subject to OPTIN/OPTOUT).
    func remember(_ reader: Client, _ spec: CommandSpec, _ argv: [Bytes]) {
        guard let t = reader.tracking, !t.bcast else { return }
        if t.optin && !t.caching { return }
        if t.optout && t.caching { return }
        for i in spec.keyPositions(argv) where i < argv.count {
            let inserted = table[argv[i], default: []].insert(reader.id).inserted
            if inserted { items += 1 }
        }
        enforceLimit()
    }

    /// tracking-table-max-keys: keys beyond it are invalidated (as if modified), in no set order.
    /// Also run by the cron, so a lowered limit applies without waiting for the next read.
    func enforceLimit() {
        let limit = maxKeys
        while limit > 0 && table.count > limit, let victim = table.keys.first {
            invalidate(victim, by: nil)
        }
    }

    /// A key was modified, deleted, expired or evicted. `by`: the client running the command.
    func invalidate(_ key: Bytes, by modifier: Client?) {
        if let ids = table.removeValue(forKey: key) {
            items -= ids.count
            // The client whose command is running (whatever changed the key, an expiry included)
            // gets it after its reply, or not at all with NOLOOP.
            let current = engine.executingClient
            for id in ids {
                guard let c = engine.clients[id], !c.closed, let t = c.tracking, !t.bcast else { continue }
                if c === current {
                    if !t.noloop {
                        if pendingForCaller.isEmpty { pendingState = t }
                        pendingForCaller.append(key)
                    }
                } else {
                    send(to: c, keys: [key])
                }
            }
        }
        if !prefixes.isEmpty {
            for (p, entry) in prefixes where key.raw.starts(with: p.raw) {
                if let prev = entry.pending[key] {
                    if prev != modifier?.id { entry.pending[key] = .some(nil) }
                } else {
                    entry.pending[key] = .some(modifier?.id)
                }
            }
        }
    }

    /// FLUSHDB/FLUSHALL: every tracking client learns that everything it cached is gone.
    func invalidateAll(by modifier: Client?) {
        table = [:]
        items = 0
        for c in engine.clients.values where c.tracking != nil && !c.closed {
            if c === modifier {
                if pendingForCaller.isEmpty { pendingState = c.tracking }
                pendingForCaller.append(nil)
            } else {
                send(to: c, keys: nil)
            }
        }
        refreshInUse()
    }

    /// End of a top-level command: the running client's own invalidations, after its reply.
    func flushCaller(_ c: Client) {
        let keys = pendingForCaller
        pendingForCaller = []
        refreshInUse()
        // Tracking turned off by a later command of the same transaction or script: what was
        // already due is still sent, to the redirect target of then (as Redis does).
        let state = c.tracking ?? pendingState
        pendingState = nil
        if c.closed || state == nil { return }
        for k in keys { send(to: c, keys: k.map { [$0] }, state: state) }
    }

    /// End of an engine round: the BCAST prefixes' collected keys, one message per prefix and client.
    func flushBroadcasts() {
        for (_, entry) in prefixes where !entry.pending.isEmpty {
            let pending = entry.pending.sorted { $0.key.raw.lexicographicallyPrecedes($1.key.raw) }
            entry.pending = [:]
            for c in entry.clients.values where !c.closed {
                let noloop = c.tracking?.noloop ?? false
                let keys = pending.compactMap { k, by in noloop && by == c.id ? nil : k }
                if !keys.isEmpty { send(to: c, keys: keys) }
            }
        }
    }

    // MARK: Delivery

    /// Writes one invalidation (`keys` nil: everything) to the client or its redirect target.
    private func send(to c: Client, keys: [Bytes]?, state: TrackingState? = nil) {
        guard let t = state ?? c.tracking else { return }
        var target = c
        if t.redirect != 0 {
            guard let r = engine.clients[t.redirect], !r.closed else {
                // The redirect client is gone: say so at every invalidation it misses (RESP3 only),
                // as Redis 7.0 does; the flag shows in CLIENT TRACKINGINFO.
                c.tracking?.brokenRedirect = true
                if c.resp >= 3 {
                    write(c) { out in
                        out.push(2)
                        out.bulk("tracking-redir-broken")
                        out.integer(t.redirect)
                    }
                }
                return
            }
            target = r
        }
        if target.resp >= 3 {
            write(target) { out in
                out.push(2)
                out.bulk("invalidate")
                // A flush's null takes the form of the tracking client's protocol, as in Redis
                // (a RESP2 client redirecting to a RESP3 one: `$-1`, which RESP3 reads too).
                if keys == nil && c.resp < 3 { out.buffer.writeStaticString("$-1\r\n") } else { Self.keysReply(&out, keys) }
            }
        } else if t.redirect != 0 && target.subscriptions.pubsubMode {
            // RESP2 has no push messages: only a redirect target in subscribed mode hears of
            // invalidations, a RESP2 client tracking for itself gets nothing (as in Redis).
            write(target) { out in
                out.array(3)
                out.bulk("message")
                out.bulk("__redis__:invalidate")
                Self.keysReply(&out, keys)
            }
        }
    }

    private static func keysReply(_ out: inout ReplyWriter, _ keys: [Bytes]?) {
        guard let keys else { out.nullBulk(); return }
        out.array(keys.count)
        for k in keys { out.bulk(k) }
    }

    private func write(_ c: Client, _ body: (inout ReplyWriter) -> Void) {
        if let owner = engine.replyContext(of: c) {
            body(&owner.out)
        } else {
            body(&c.output)
            engine.markFlush(c)
        }
    }
}

// MARK: CLIENT TRACKING, CACHING, TRACKINGINFO, GETREDIR

extension Tracking {
    static var specs: [CommandSpec] {
        let flags: CommandFlags = [.noscript, .loading, .stale]
        return [
            CommandSpec("tracking", arity: -3, flags: flags, group: .connection, since: "6.0.0",
                        summary: "Turns server-assisted client-side caching on or off for this connection.",
                        complexity: "O(1). Some options may introduce additional complexity.",
                        syntax: "ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
                        handler: tracking),
            CommandSpec("caching", arity: 3, flags: flags, group: .connection, since: "6.0.0",
                        summary: "Says whether the next command's keys are tracked (OPTIN and OPTOUT modes).",
                        syntax: "YES|NO") { ctx in
                let c = ctx.client
                guard let t = c.tracking, t.optin || t.optout else {
                    ctx.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
                    return
                }
                if ctx.arg(2, is: "yes") {
                    guard t.optin else { ctx.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."); return }
                } else if ctx.arg(2, is: "no") {
                    guard t.optout else { ctx.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."); return }
                } else {
                    ctx.syntaxError()
                    return
                }
                c.tracking?.caching = true
                ctx.ok()
            },
            CommandSpec("trackinginfo", arity: 2, flags: flags, group: .connection, since: "6.2.0",
                        summary: "Describes this connection's client-side caching settings.") { ctx in
                let t = ctx.client.tracking
                ctx.out.map(3)
                ctx.out.bulk("flags")
                var f: [String] = []
                if let t {
                    f.append("on")
                    if t.bcast { f.append("bcast") }
                    if t.optin { f.append("optin"); if t.caching { f.append("caching-yes") } }
                    if t.optout { f.append("optout"); if t.caching { f.append("caching-no") } }
                    if t.noloop { f.append("noloop") }
                    if t.brokenRedirect { f.append("broken_redirect") }
                } else {
                    f.append("off")
                }
                ctx.out.set(f.count)
                for x in f { ctx.out.bulk(x) }
                ctx.out.bulk("redirect")
                ctx.out.integer(t.map { $0.redirect } ?? -1)
                ctx.out.bulk("prefixes")
                let ps = (t?.bcast ?? false) ? t!.prefixes.sorted { $0.raw.lexicographicallyPrecedes($1.raw) } : []
                ctx.out.array(ps.count)
                for p in ps { ctx.out.bulk(p) }
            },
            CommandSpec("getredir", arity: 2, flags: flags, group: .connection, since: "6.0.0",
                        summary: "Returns the client the invalidations are redirected to: -1 when tracking is off, 0 for none.") { ctx in
                ctx.out.integer(ctx.client.tracking.map { $0.redirect } ?? -1)
            },
        ]
    }

    private static func tracking(_ ctx: CommandContext) {
        let c = ctx.client
        let engine = ctx.engine
        let on: Bool
        if ctx.arg(2, is: "on") { on = true } else if ctx.arg(2, is: "off") { on = false } else { ctx.syntaxError(); return }
        var s = TrackingState()
        var j = 3
        while j < ctx.argc {
            let more = ctx.argc - 1 - j
            if ctx.arg(j, is: "redirect") && more >= 1 {
                j += 1
                guard let id = parseStrictInt(ctx.argv[j].raw) else { ctx.error(Err.notInteger); return }
                if id != c.id && engine.clients[id] == nil {
                    ctx.error("ERR The client ID you want redirect to does not exist")
                    return
                }
                s.redirect = id
            } else if ctx.arg(j, is: "bcast") {
                s.bcast = true
            } else if ctx.arg(j, is: "optin") {
                s.optin = true
            } else if ctx.arg(j, is: "optout") {
                s.optout = true
            } else if ctx.arg(j, is: "noloop") {
                s.noloop = true
            } else if ctx.arg(j, is: "prefix") && more >= 1 {
                j += 1
                s.prefixes.append(ctx.argv[j])
            } else {
                ctx.syntaxError()
                return
            }
            j += 1
        }
        guard on else {
            engine.tracking.disable(c)
            ctx.ok()
            return
        }
        if !s.bcast && !s.prefixes.isEmpty {
            ctx.error("ERR PREFIX option requires BCAST mode to be enabled")
            return
        }
        if let old = c.tracking, old.bcast != s.bcast {
            ctx.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
            return
        }
        if s.bcast && (s.optin || s.optout) {
            ctx.error("ERR OPTIN and OPTOUT are not compatible with BCAST")
            return
        }
        if s.optin && s.optout {
            ctx.error("ERR You can't specify both OPTIN mode and OPTOUT mode")
            return
        }
        if let old = c.tracking, (s.optin && old.optout) || (s.optout && old.optin) {
            ctx.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
            return
        }
        if s.bcast {
            // Prefixes of one client may not overlap: a key would be announced twice.
            let existing = c.tracking?.prefixes ?? []
            for (i, p) in s.prefixes.enumerated() {
                for e in existing where e.raw.starts(with: p.raw) || p.raw.starts(with: e.raw) {
                    ctx.error(quoting: "ERR Prefix '\(quoted: p)' overlaps with an existing prefix '\(quoted: e)'. Prefixes for a single client must not overlap.")
                    return
                }
                for q in s.prefixes[(i + 1)...] where q.raw.starts(with: p.raw) || p.raw.starts(with: q.raw) {
                    ctx.error(quoting: "ERR Prefix '\(quoted: p)' overlaps with another provided prefix '\(quoted: q)'. Prefixes for a single client must not overlap.")
                    return
                }
            }
        }
        engine.tracking.enable(c, s)
        ctx.ok()
    }
}
