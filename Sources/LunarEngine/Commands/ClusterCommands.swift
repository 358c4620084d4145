import LunarRESP

/// Lunar runs as a standalone server, like a Redis 7.0 started with `cluster-enabled no`: CLUSTER
/// (every subcommand, HELP included), READONLY, READWRITE and ASKING answer that cluster support
/// is disabled. Tools probe these (cluster clients, RedisInsight), so they get Redis's own answer
/// rather than "unknown command".
enum ClusterCommands {
    static let disabled = "ERR This instance has cluster support disabled"

    static var specs: [CommandSpec] {
        let refuse: CommandHandler = { ctx in ctx.error(disabled) }
        let admin: CommandFlags = [.admin, .stale, .noAsyncLoading]
        func sub(_ name: String, _ arity: Int, _ flags: CommandFlags, since: String = "3.0.0", _ summary: String,
                 syntax: String = "") -> CommandSpec {
            CommandSpec(name, arity: arity, flags: flags, group: .cluster, since: since, summary: summary,
                        syntax: syntax, handler: refuse)
        }
        return [
            CommandSpec("cluster", arity: -2, group: .cluster, since: "3.0.0",
                        summary: "Manages a Redis Cluster node (Lunar has no cluster mode).",
                        complexity: "Depends on subcommand.", subcommands: [
                sub("addslots", -3, admin, "Assigns hash slots to this node.", syntax: "slot [slot ...]"),
                sub("addslotsrange", -4, admin, since: "7.0.0", "Assigns ranges of hash slots to this node.",
                    syntax: "start-slot end-slot [start-slot end-slot ...]"),
                sub("bumpepoch", 2, admin, "Advances this node's configuration epoch."),
                sub("count-failure-reports", 3, [.admin, .stale], "Counts the failure reports about a node.",
                    syntax: "node-id"),
                sub("countkeysinslot", 3, [.stale], "Counts the keys in a hash slot.", syntax: "slot"),
                sub("delslots", -3, admin, "Takes hash slots away from this node.", syntax: "slot [slot ...]"),
                sub("delslotsrange", -4, admin, since: "7.0.0", "Takes ranges of hash slots away from this node.",
                    syntax: "start-slot end-slot [start-slot end-slot ...]"),
                sub("failover", -2, admin, "Makes this replica take over from its master.", syntax: "[FORCE|TAKEOVER]"),
                sub("flushslots", 2, admin, "Takes every hash slot away from this node."),
                sub("forget", 3, admin, "Removes a node from this node's table.", syntax: "node-id"),
                sub("getkeysinslot", 4, [.stale], "Returns keys of a hash slot.", syntax: "slot count"),
                sub("help", 2, [.loading, .stale], since: "5.0.0", "Lists the CLUSTER subcommands."),
                sub("info", 2, [.stale], "Returns the state of the cluster."),
                sub("keyslot", 3, [.stale], "Returns the hash slot of a key.", syntax: "key"),
                sub("links", 2, [.stale], since: "7.0.0", "Returns this node's cluster bus links."),
                sub("meet", -4, admin, "Connects this node to another cluster node.",
                    syntax: "ip port [cluster-bus-port]"),
                sub("myid", 2, [.stale], "Returns this node's id."),
                sub("nodes", 2, [.stale], "Returns the cluster's node table."),
                sub("replicas", 3, [.admin, .stale], since: "5.0.0", "Lists the replicas of a master node.",
                    syntax: "node-id"),
                sub("replicate", 3, admin, "Makes this node a replica of a master node.", syntax: "node-id"),
                sub("reset", -2, [.admin, .noscript, .stale], "Resets this cluster node.", syntax: "[HARD|SOFT]"),
                sub("saveconfig", 2, admin, "Writes the cluster configuration file."),
                sub("set-config-epoch", 3, admin, "Sets this node's configuration epoch.", syntax: "config-epoch"),
                sub("setslot", -4, admin, "Binds a hash slot to a node, or marks it migrating or importing.",
                    syntax: "slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE"),
                sub("shards", 2, [.stale], since: "7.0.0", "Returns the cluster's shards."),
                sub("slaves", 3, [.admin, .stale], "Lists the replicas of a master node (old name of REPLICAS).",
                    syntax: "node-id"),
                sub("slots", 2, [.stale], "Returns the mapping of hash slots to nodes."),
            ]),
            CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: .cluster, since: "3.0.0",
                        summary: "Allows reads from a cluster replica on this connection.", acl: ["connection"], handler: refuse),
            CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: .cluster, since: "3.0.0",
                        summary: "Ends READONLY on this connection.", acl: ["connection"], handler: refuse),
            CommandSpec("asking", arity: 1, flags: [.fast], group: .cluster, since: "3.0.0",
                        summary: "Marks the next command as following an ASK redirection.", acl: ["connection"], handler: refuse),
        ]
    }
}
