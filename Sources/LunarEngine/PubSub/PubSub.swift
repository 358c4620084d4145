import LunarRESP
import OrderedCollections

/// The three kinds of subscription, which differ only in their reply words and which counts they show.
public enum SubscriptionKind {
    case channel, pattern, shard

    var subscribeWord: String {
        switch self {
        case .channel: return "subscribe"
        case .pattern: return "psubscribe"
        case .shard: return "ssubscribe"
        }
    }

    var unsubscribeWord: String {
        switch self {
        case .channel: return "unsubscribe"
        case .pattern: return "punsubscribe"
        case .shard: return "sunsubscribe"
        }
    }
}

/// A client's subscriptions, in the order it made them.
public struct ClientSubscriptions {
    public var channels: OrderedSet<Bytes> = []
    public var patterns: OrderedSet<Bytes> = []
    public var shardChannels: OrderedSet<Bytes> = []
    /// Redis's CLIENT_PUBSUB flag: set by a subscription, cleared by an unsubscribe that leaves none.
    public var pubsubMode = false

    public var isEmpty: Bool { channels.isEmpty && patterns.isEmpty && shardChannels.isEmpty }

    /// The count a (un)subscribe confirmation carries: channels + patterns, or shard channels.
    func count(for kind: SubscriptionKind) -> Int {
        kind == .shard ? shardChannels.count : channels.count + patterns.count
    }

    subscript(kind: SubscriptionKind) -> OrderedSet<Bytes> {
        get {
            switch kind {
            case .channel: return channels
            case .pattern: return patterns
            case .shard: return shardChannels
            }
        }
        set {
            switch kind {
            case .channel: channels = newValue
            case .pattern: patterns = newValue
            case .shard: shardChannels = newValue
            }
        }
    }
}

/// Publish/subscribe: who listens to which channel, pattern and shard channel, and message delivery.
///
/// Owned by the engine thread like the keyspace, so a PUBLISH inside MULTI or a script is delivered
/// atomically with the rest. A message is written straight into each receiver's reply buffer and the
/// receiver is flushed with the engine round, like any other reply.
public final class PubSub {
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    unowned(unsafe) let engine: Engine
    /// Subscribers per channel, in subscription order (the order a message reaches them).
    private var channels: [Bytes: [Client]] = [:]
    private var shardChannels: [Bytes: [Client]] = [:]
    /// Subscribers per pattern; patterns are matched in the order they were first subscribed.
    private var patterns: OrderedDictionary<Bytes, [Client]> = [:]

    init(engine: Engine) { self.engine = engine }

    public var channelCount: Int { channels.count }
    public var patternCount: Int { patterns.count }
    public var shardChannelCount: Int { shardChannels.count }

    private func table(_ kind: SubscriptionKind) -> [Bytes: [Client]] {
        kind == .shard ? shardChannels : channels
    }

    // MARK: Subscribing

    /// Subscribes the client and writes the confirmation to `out`.
    func subscribe(_ c: Client, _ name: Bytes, kind: SubscriptionKind, out: inout ReplyWriter) {
        if !c.subscriptions[kind].contains(name) {
            c.subscriptions[kind].append(name)
            switch kind {
            case .channel: channels[name, default: []].append(c)
            case .shard: shardChannels[name, default: []].append(c)
            case .pattern: patterns[name, default: []].append(c)
            }
        }
        c.subscriptions.pubsubMode = true
        confirm(c, kind.subscribeWord, name, c.subscriptions.count(for: kind), out: &out)
    }

    /// Unsubscribes from the given names, or from every subscription of the kind when `names` is
    /// empty; each one is confirmed (a client with none gets one confirmation with a null name).
    func unsubscribe(_ c: Client, _ names: [Bytes], kind: SubscriptionKind, out: inout ReplyWriter) {
        let targets = names.isEmpty ? Array(c.subscriptions[kind]) : names
        if targets.isEmpty {
            confirm(c, kind.unsubscribeWord, nil, c.subscriptions.count(for: kind), out: &out)
        }
        for name in targets {
            remove(c, name, kind: kind)
            confirm(c, kind.unsubscribeWord, name, c.subscriptions.count(for: kind), out: &out)
        }
        if c.subscriptions.isEmpty { c.subscriptions.pubsubMode = false }
    }

    /// Drops every subscription without confirmations (disconnect, RESET).
    public func unsubscribeAll(_ c: Client) {
        if c.subscriptions.isEmpty && !c.subscriptions.pubsubMode { return }
        for kind in [SubscriptionKind.channel, .pattern, .shard] {
            for name in c.subscriptions[kind] { remove(c, name, kind: kind) }
        }
        c.subscriptions = ClientSubscriptions()
    }

    private func remove(_ c: Client, _ name: Bytes, kind: SubscriptionKind) {
        guard c.subscriptions[kind].remove(name) != nil else { return }
        func drop(_ list: inout [Client]?) {
            list?.removeAll { $0 === c }
            if list?.isEmpty == true { list = nil }
        }
        switch kind {
        case .channel: drop(&channels[name])
        case .shard: drop(&shardChannels[name])
        case .pattern: drop(&patterns[name])
        }
    }

    private func confirm(_ c: Client, _ word: String, _ name: Bytes?, _ count: Int, out: inout ReplyWriter) {
        let start = out.buffer.writerIndex
        out.push(3)
        out.bulk(word)
        if let name { out.bulk(name) } else { out.nullBulk() }
        out.integer(count)
        engine.keepPush(c, from: start, to: out.buffer.writerIndex)
    }

    // MARK: Publishing

    /// Delivers a message; returns how many deliveries were made (a client reached through a channel
    /// and a pattern counts twice, as in Redis).
    func publish(_ channel: Bytes, _ message: Bytes, shard: Bool) -> Int {
        var n = 0
        if let list = (shard ? shardChannels : channels)[channel] {
            for c in list where !c.closed {
                deliver(to: c) { out in
                    out.push(3)
                    out.bulk(shard ? "smessage" : "message")
                    out.bulk(channel)
                    out.bulk(message)
                }
                n += 1
            }
        }
        if shard { return n }
        for (pattern, list) in patterns where globMatch(pattern, channel) {
            for c in list where !c.closed {
                deliver(to: c) { out in
                    out.push(4)
                    out.bulk("pmessage")
                    out.bulk(pattern)
                    out.bulk(channel)
                    out.bulk(message)
                }
                n += 1
            }
        }
        return n
    }

    /// Writes a message into the receiver's reply stream. A receiver whose command is running (a
    /// RESP3 client publishing to its own channel, the caller of a script, a client inside EXEC) gets
    /// it in place, where its reply is being written, as in Redis 7.0.
    private func deliver(to c: Client, _ write: (inout ReplyWriter) -> Void) {
        if let owner = engine.replyContext(of: c) {
            let start = owner.out.buffer.writerIndex
            write(&owner.out)
            if owner === engine.topContext { engine.keepPush(c, from: start, to: owner.out.buffer.writerIndex) }
        } else {
            write(&c.output)
            engine.markFlush(c)
        }
    }

    // MARK: Introspection (PUBSUB)

    /// Channels with at least one subscriber, optionally filtered by a glob pattern.
    func activeChannels(matching pattern: Bytes?, shard: Bool) -> [Bytes] {
        table(shard ? .shard : .channel).keys.filter { pattern == nil || globMatch(pattern!, $0) }
    }

    func subscriberCount(_ channel: Bytes, shard: Bool) -> Int {
        table(shard ? .shard : .channel)[channel]?.count ?? 0
    }
}
