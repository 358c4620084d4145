import LunarRESP

/// Publish/subscribe: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB.
/// The subscriber registry and delivery live in `PubSub/PubSub.swift`.
enum PubSubCommands {
    static var specs: [CommandSpec] {
        let subFlags: CommandFlags = [.pubsub, .noscript, .loading, .stale]
        return [
            CommandSpec("subscribe", arity: -2, flags: subFlags, group: .pubsub, since: "2.0.0",
                        summary: "Listens for messages published to the given channels.",
                        complexity: "O(N) where N is the number of channels to subscribe to.", syntax: "channel [channel ...]") { ctx in
                subscribe(ctx, .channel)
            },
            CommandSpec("psubscribe", arity: -2, flags: subFlags, group: .pubsub, since: "2.0.0",
                        summary: "Listens for messages published to channels matching the given glob patterns.",
                        complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
                        syntax: "pattern [pattern ...]") { ctx in
                subscribe(ctx, .pattern)
            },
            CommandSpec("ssubscribe", arity: -2, flags: subFlags, keys: (1, -1, 1), group: .pubsub, since: "7.0.0",
                        summary: "Listens for messages published to the given shard channels.",
                        complexity: "O(N) where N is the number of shard channels to subscribe to.",
                        syntax: "shardchannel [shardchannel ...]") { ctx in
                // Inside EXEC (Redis's DENY BLOCKING client): unlike SUBSCRIBE, which Redis 7.0 still
                // lets a transaction run, SSUBSCRIBE is refused there.
                if ctx !== ctx.engine.topContext && !ctx.inScript {
                    ctx.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
                    return
                }
                subscribe(ctx, .shard)
            },
            CommandSpec("unsubscribe", arity: -1, flags: subFlags, group: .pubsub, since: "2.0.0",
                        summary: "Stops listening to the given channels, or to all channels.",
                        complexity: "O(N) where N is the number of clients already subscribed to a channel.",
                        syntax: "[channel [channel ...]]") { ctx in
                unsubscribe(ctx, .channel)
            },
            CommandSpec("punsubscribe", arity: -1, flags: subFlags, group: .pubsub, since: "2.0.0",
                        summary: "Stops listening to the given patterns, or to all patterns.",
                        complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
                        syntax: "[pattern [pattern ...]]") { ctx in
                unsubscribe(ctx, .pattern)
            },
            CommandSpec("sunsubscribe", arity: -1, flags: subFlags, keys: (1, -1, 1), group: .pubsub, since: "7.0.0",
                        summary: "Stops listening to the given shard channels, or to all of them.",
                        complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
                        syntax: "[shardchannel [shardchannel ...]]") { ctx in
                unsubscribe(ctx, .shard)
            },
            CommandSpec("publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], group: .pubsub, since: "2.0.0",
                        summary: "Sends a message to a channel's subscribers and to clients whose patterns match it.",
                        complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
                        syntax: "channel message") { ctx in
                // Delivery may write into this very reply buffer (a subscriber publishing): count first.
                let receivers = ctx.engine.pubsub.publish(ctx.argv[1], ctx.argv[2], shard: false)
                ctx.forcePropagation(to: .replicas)   // subscribers of replicas get it too
                ctx.out.integer(receivers)
            },
            CommandSpec("spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], keys: (1, 1, 1), group: .pubsub, since: "7.0.0",
                        summary: "Sends a message to a shard channel's subscribers.",
                        complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
                        syntax: "shardchannel message") { ctx in
                // Delivery may write into this very reply buffer (a subscriber publishing): count first.
                let receivers = ctx.engine.pubsub.publish(ctx.argv[1], ctx.argv[2], shard: true)
                ctx.forcePropagation(to: .replicas)   // subscribers of replicas get it too
                ctx.out.integer(receivers)
            },
            CommandSpec("pubsub", arity: -2, group: .pubsub, since: "2.8.0", summary: "Inspects the Pub/Sub state.",
                        complexity: "Depends on subcommand.", subcommands: pubsubSubcommands),
        ]
    }

    static var pubsubSubcommands: [CommandSpec] {
        let flags: CommandFlags = [.pubsub, .loading, .stale]
        return [
            CommandSpec("channels", arity: -2, flags: flags, group: .pubsub, since: "2.8.0",
                        summary: "Lists the channels that have subscribers, optionally only those matching a pattern.",
                        complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
                        syntax: "[pattern]") { ctx in
                listChannels(ctx, shard: false)
            },
            CommandSpec("numsub", arity: -2, flags: flags, group: .pubsub, since: "2.8.0",
                        summary: "Counts the subscribers of each given channel (pattern subscribers not included).",
                        complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                        syntax: "[channel [channel ...]]") { ctx in
                countSubscribers(ctx, shard: false)
            },
            CommandSpec("numpat", arity: 2, flags: flags, group: .pubsub, since: "2.8.0",
                        summary: "Counts the distinct patterns that clients are subscribed to.") { ctx in
                ctx.out.integer(ctx.engine.pubsub.patternCount)
            },
            CommandSpec("shardchannels", arity: -2, flags: flags, group: .pubsub, since: "7.0.0",
                        summary: "Lists the shard channels that have subscribers, optionally only those matching a pattern.",
                        complexity: "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
                        syntax: "[pattern]") { ctx in
                listChannels(ctx, shard: true)
            },
            CommandSpec("shardnumsub", arity: -2, flags: flags, group: .pubsub, since: "7.0.0",
                        summary: "Counts the subscribers of each given shard channel.",
                        complexity: "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
                        syntax: "[shardchannel [shardchannel ...]]") { ctx in
                countSubscribers(ctx, shard: true)
            },
            CommandSpec("help", arity: 2, flags: [.loading, .stale], group: .pubsub, since: "6.2.0",
                        summary: "Lists the PUBSUB subcommands.") { ctx in
                let lines = [
                    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CHANNELS [<pattern>]",
                    "    Return the currently active channels matching a <pattern> (default: '*').",
                    "NUMPAT",
                    "    Return number of subscriptions to patterns.",
                    "NUMSUB [<channel> ...]",
                    "    Return the number of subscribers for the specified channels, excluding",
                    "    pattern subscriptions(default: no channels).",
                    "SHARDCHANNELS [<pattern>]",
                    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                    "SHARDNUMSUB [<shardchannel> ...]",
                    "    Return the number of subscribers for the specified shard level channel(s)",
                    "HELP",
                    "    Prints this help.",
                ]
                ctx.out.array(lines.count)
                for l in lines { ctx.out.simple(l) }
            },
        ]
    }

    /// In RESP2 a client with subscriptions may only run these (its connection carries messages).
    static func allowedWhileSubscribed(_ spec: CommandSpec) -> Bool {
        switch (spec.parent ?? spec).name {
        case "ping", "subscribe", "ssubscribe", "psubscribe", "unsubscribe", "sunsubscribe", "punsubscribe", "quit", "reset":
            return true
        default:
            return false
        }
    }

    static func subscribe(_ ctx: CommandContext, _ kind: SubscriptionKind) {
        for i in 1..<ctx.argc {
            ctx.engine.pubsub.subscribe(ctx.client, ctx.argv[i], kind: kind, out: &ctx.out)
        }
    }

    static func unsubscribe(_ ctx: CommandContext, _ kind: SubscriptionKind) {
        ctx.engine.pubsub.unsubscribe(ctx.client, Array(ctx.argv.dropFirst()), kind: kind, out: &ctx.out)
    }

    static func listChannels(_ ctx: CommandContext, shard: Bool) {
        if ctx.argc > 3 {
            ctx.error(quoting: "ERR unknown subcommand or wrong number of arguments for '\(quoted: ctx.argv[1], max: 128)'. Try PUBSUB HELP.")
            return
        }
        let names = ctx.engine.pubsub.activeChannels(matching: ctx.argc == 3 ? ctx.argv[2] : nil, shard: shard)
        ctx.out.array(names.count)
        for n in names { ctx.out.bulk(n) }
    }

    static func countSubscribers(_ ctx: CommandContext, shard: Bool) {
        ctx.out.array((ctx.argc - 2) * 2)
        for i in 2..<ctx.argc {
            ctx.out.bulk(ctx.argv[i])
            ctx.out.integer(ctx.engine.pubsub.subscriberCount(ctx.argv[i], shard: shard))
        }
    }
}
