#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics
import DequeModule
import Foundation
import Logging
import LunarRESP
import NIOCore

/// Counters reported by INFO.
public struct EngineStats {
    public var commandsProcessed = 0
    public var connectionsReceived = 0
    public var rejectedConnections = 0
    public var keyspaceHits = 0
    public var keyspaceMisses = 0
    public var expiredKeys = 0
    public var evictedKeys = 0
    public var expiredStalePerc = 0.0
    /// Active expiry cycles that stopped at their time budget, and the time the cycles took (µs).
    public var expireCycleTimeCapReached = 0
    public var expireCycleMicros: Int64 = 0
    /// The network side's read and write counts when the statistics were last reset (RESETSTAT).
    public var ioBase = (reads: 0, writes: 0)
    /// The lazy-free counter at the last RESETSTAT (INFO shows what was freed since).
    public var lazyfreedBase = 0
    public var startTime = unixMillis()
    public var errorReplies = 0
    /// Error replies by their code (the first word: ERR, WRONGTYPE…), for INFO errorstats.
    public var errorCodes: [String: Int] = [:]
    public var totalNetInput = 0
    public var totalNetOutput = 0
    /// Bytes sent to replicas (counted apart from total_net_output_bytes, as Redis does).
    public var totalNetReplOutput = 0
    /// Replica synchronizations: full, partial accepted, partial refused (INFO stats).
    public var syncFull = 0
    public var syncPartialOK = 0
    public var syncPartialErr = 0
}

/// The keyspace engine. One dedicated thread owns all data and runs every command, one at a time,
/// so each command, MULTI/EXEC block and script is atomic. The I/O threads talk to it only through
/// `submit`/`connect`/`disconnect` (a lock-protected queue, taken a whole batch at a time) and hand
/// replies back via `ClientConnection.send`, which hops onto the connection's event loop.
public final class Engine: @unchecked Sendable {
    public let config: ConfigStore
    public let table: CommandTable
    public var logger: Logger
    public private(set) var databases: [Database] = []

    /// Unix ms at the start of the current command; expiry decisions use it (frozen during a script).
    public internal(set) var now: Int64 = unixMillis()
    /// The last clock reading in µs (`now` is derived from it). Within one client's batch of commands
    /// the reading taken when a command ends serves as the start of the next, so a command reads the
    /// clock once.
    private var clockMicros: Int64 = unixMicros()
    /// Set by `process` between two commands of a batch when the first one read the clock as it
    /// ended; any other caller of executeTopLevel gets a fresh reading.
    private var clockFresh = false
    /// Set by dispatch when a top-level command read the clock as it ended.
    private var clockReadAtEnd = false
    public var stats = EngineStats()
    /// Reads and reply writes done by the network side since start (set by the server).
    public var ioCounters: (() -> (reads: Int, writes: Int))?
    /// Writes since start (INFO's rdb_changes_since_last_save works from it).
    public var dirty = 0

    // MARK: State shared with the I/O threads (atomics only)

    /// Input of the client debugging a script, while its session holds the engine thread.
    public let debugChannel = DebugChannel()
    /// Takes a snapshot of the whole dataset and returns what puts it back (the persistence module
    /// provides it; SCRIPT DEBUG YES rolls a session's changes back with it).
    public var datasetCheckpoint: (() -> (() -> Void))?
    // UnsafeAtomic rather than ManagedAtomic: a ManagedAtomic access costs a retain, a call and a
    // release (several per script run); these are plain loads and stores. Freed in deinit.
    /// Non-zero while a script or function has run past busy-reply-threshold: 1 script, 2 function.
    public let busy = UnsafeAtomic<Int>.create(0)
    /// Set by SCRIPT KILL / FUNCTION KILL from an I/O thread; the running script polls it.
    public let killRequested = UnsafeAtomic<Bool>.create(false)
    /// True once the running script has written (it can then no longer be killed).
    public let scriptHasWritten = UnsafeAtomic<Bool>.create(false)
    public let protoMaxBulkLen = UnsafeAtomic<Int>.create(512 * 1024 * 1024)
    public let queryBufferLimit = UnsafeAtomic<Int>.create(1024 * 1024 * 1024)
    public let connectedClients = UnsafeAtomic<Int>.create(0)
    private let nextClientID = UnsafeAtomic<Int>.create(1)

    // MARK: Engine-thread state

    enum Work {
        case connect(Client)
        case commands(Client, [[Bytes]])
        /// A single command: what a client that does not pipeline sends (no array around it).
        case command(Client, [Bytes])
        case disconnect(Client)
        case task(() -> Void)
        case none
    }
    private let queue = WorkQueue<Work>()
    /// The work taken from the queue and being run (a busy script answers the rest of it early).
    private var batch: [Work] = []
    private var batchIndex = 0
    public private(set) var clients: [Int: Client] = [:]
    /// Clients with replies to hand off at the end of the round (each once: `Client.flushQueued`).
    private var toFlush: [Client] = []
    private(set) var topContext: CommandContext!
    /// The CLIENT REPLY OFF/SKIP client whose command is running, and the pushes written into its
    /// reply meanwhile (byte ranges of its reply buffer), which outlive the dropped reply.
    private var replySuppressedClient: Client?
    private var keptPushes: [Range<Int>] = []
    /// What idle contexts point at (contexts do not own their client; see CommandContext.client).
    private let idleClient = Client(id: 0, connection: nil, now: 0)
    /// The client whose top-level command runs (the idle client between commands): replication
    /// notes its write offset for WAIT.
    var currentClient: Client { topContext.client }
    private var thread: Thread?
    private var stopping = false
    private var nextCron = monotonicMillis()

    // WATCH: clients by watched key.
    var watchers: [WatchedKey: [Client]] = [:]
    public var hasWatchers: Bool { !watchers.isEmpty }

    // Blocking: FIFO of clients per key, and keys that got data since the last check.
    var blockedByKey: [WatchedKey: Deque<Client>] = [:]
    public internal(set) var blockedClients: [Int: Client] = [:]
    var readyKeys: [WatchedKey] = []
    var readySet = Set<WatchedKey>()
    public var hasBlocked: Bool { !blockedClients.isEmpty }
    var blockCalled = false

    /// Channels, patterns and their subscribers.
    public private(set) lazy var pubsub = PubSub(engine: self)
    /// CLIENT TRACKING's tables (see Tracking.swift).
    private(set) lazy var tracking = Tracking(engine: self)
    /// Some client tracks keys or the tracking table holds some: the hot paths (every read and
    /// write) test this plain flag and leave the tracking object alone otherwise.
    var trackingInUse = false
    /// The client whose top-level command is running (its reply buffer is then the context's).
    /// Not owning: it is set only while the client's command runs (the caller holds the client).
    public private(set) unowned(unsafe) var executingClient: Client?
    /// How many nested contexts are running: nestedPool[0..<nestedDepth], innermost last.
    private var nestedDepth = 0

    // Propagation (see Propagation.swift): consumers, and the effects of the unit being run.
    public internal(set) var propagationSinks: [PropagationSink] = []
    var pendingOps: [PropagatedOp] = []
    var pendingExpired: [PropagatedOp] = []
    /// Where the running script's writes go (`redis.set_repl`); reset for every script.
    public var scriptPropagationTargets: PropagationTargets = .all

    /// Enabled keyspace-notification classes (KeyspaceEvents.swift); 0 while notifications are off.
    public internal(set) var notifyFlags = 0

    /// Whether the active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE).
    public var activeExpireEnabled = true
    /// DEBUG PAUSE-CRON: the cron does nothing while set.
    public var cronPaused = false
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged noscript (a testing aid).
    public var scriptsMayCallAnything = false
    /// Extra work run on every cron tick (stats sampling, script housekeeping…).
    public var cronHooks: [(Engine) -> Void] = []
    /// Runs on the engine thread before each round's replies are handed to the network side
    /// (the append-only file writes what the round's commands appended).
    public var beforeReplies: (() -> Void)?
    /// Called by SHUTDOWN: the server closes listeners and exits; `now` (SHUTDOWN NOW) skips the
    /// wait for replicas (up to `shutdown-timeout`).
    public var shutdownHandler: (@Sendable (_ now: Bool) -> Void)?
    /// Objects that extensions hang on the engine (the scripting module's Lua state).
    public var extensions: [String: AnyObject] = [:]
    /// The scripting module's state, also kept out of `extensions`: EVALSHA and FCALL reach it on
    /// every call, and a String-keyed dictionary lookup costs as much as a small command.
    public var scriptingState: AnyObject?
    /// Listening port and similar facts the INFO command reports.
    public var serverInfo: [String: String] = [:]
    public let runID: String = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()

    deinit {
        busy.destroy()
        killRequested.destroy()
        scriptHasWritten.destroy()
        protoMaxBulkLen.destroy()
        queryBufferLimit.destroy()
        connectedClients.destroy()
        nextClientID.destroy()
    }

    /// Encoding thresholds of sets, hashes and sorted sets, kept current with the config.
    let encodingLimits: EncodingLimits
    /// maxmemory and eviction (Eviction.swift), kept current with the config.
    let eviction = Eviction()
    /// Keys' access clocks are in the LFU form (an LFU maxmemory-policy), else the LRU form.
    public private(set) var lfuMode = false
    /// Background freeing of deleted values (UNLINK, FLUSHALL ASYNC, lazyfree-lazy-*).
    public let lazyFree = LazyFree()
    /// lazyfree-lazy-expire, -user-del and -user-flush, kept current with the config.
    public private(set) var lazyExpire = false
    public private(set) var lazyUserDel = false
    public private(set) var lazyUserFlush = false

    public init(config: ConfigStore = ConfigStore(), table: CommandTable = CommandTable(), logger: Logger = Logger(label: "lunar.engine")) {
        self.config = config
        self.table = table
        self.logger = logger
        encodingLimits = EncodingLimits(config: config)
        let n = max(1, config.int("databases"))
        databases = (0..<n).map { Database(id: $0, engine: self) }
        topContext = CommandContext(engine: self, client: idleClient)
        protoMaxBulkLen.store(config.int("proto-max-bulk-len"), ordering: .relaxed)
        queryBufferLimit.store(config.int("client-query-buffer-limit"), ordering: .relaxed)
        installKeyspaceEvents()
        eviction.load(config)
        lfuMode = eviction.policy.usesLFU
        outputLimits = OutputBufferLimits(config.string("client-output-buffer-limit")) ?? OutputBufferLimits()
        acl.resetDefaultUser(requirepass: config.string("requirepass"), pubsubDefault: config.string("acl-pubsub-default"))
        aclChanged()
        slowlogThreshold = config.int("slowlog-log-slower-than")
        slowlogMaxLen = config.int("slowlog-max-len")
        latencyTracking = config.bool("latency-tracking")
        latencyThreshold = config.int("latency-monitor-threshold")
        lazyExpire = config.bool("lazyfree-lazy-expire")
        lazyUserDel = config.bool("lazyfree-lazy-user-del")
        lazyUserFlush = config.bool("lazyfree-lazy-user-flush")
        config.onChange.append { [unowned self] name, value in
            switch name {
            case "lazyfree-lazy-expire": self.lazyExpire = value == "yes"
            case "lazyfree-lazy-user-del": self.lazyUserDel = value == "yes"
            case "lazyfree-lazy-user-flush": self.lazyUserFlush = value == "yes"
            case "latency-tracking": self.latencyTracking = value == "yes"
            case "latency-monitor-threshold": self.latencyThreshold = Int(value) ?? 0
            case "slowlog-log-slower-than": self.slowlogThreshold = Int(value) ?? -1
            case "slowlog-max-len": self.slowlogMaxLen = Int(value) ?? 0
            case "requirepass":
                // Connections already in keep their state, as in Redis; new ones must AUTH. The
                // default user's password follows requirepass.
                self.acl.setRequirepass(value)
                self.aclChanged()
            case "proto-max-bulk-len": self.protoMaxBulkLen.store(Int(value) ?? 0, ordering: .relaxed)
            case "client-query-buffer-limit": self.queryBufferLimit.store(Int(value) ?? 0, ordering: .relaxed)
            case "client-output-buffer-limit":
                self.outputLimits = OutputBufferLimits(value) ?? OutputBufferLimits()
            case "maxmemory", "maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
                 "lfu-log-factor", "lfu-decay-time", "lazyfree-lazy-eviction":
                self.eviction.load(self.config)
                self.lfuMode = self.eviction.policy.usesLFU
                if name == "maxmemory" && self.eviction.maxmemory > 0 {
                    // As Redis's CONFIG SET maxmemory: a limit below the usage evicts right away.
                    MemoryGauge.shared.refresh()
                    self.eviction.takeRoundBase()
                    let used = self.eviction.usedMemory() - self.memoryNotCountedForEviction
                    if used > self.eviction.maxmemory {
                        self.logger.warning("WARNING: the new maxmemory value set via CONFIG SET (\(self.eviction.maxmemory)) is smaller than the current memory usage (\(used)). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.")
                    }
                    if self.isEngineThread { _ = self.performEvictions() }
                }
            default: break
            }
        }
    }

    // MARK: Thread

    /// Starts the engine thread.
    public func start() {
        MemoryStats.tuneAllocator()
        let t = Thread { [self] in self.run() }
        t.name = "lunar-engine"
        t.stackSize = 64 << 20   // deep Lua recursion and nested replies need room
        thread = t
        t.start()
    }

    /// True when called from the engine thread (which alone may touch clients and data).
    public var isEngineThread: Bool { Thread.current === thread }

    public func stop() {
        enqueue { $0.stopping = true }
    }

    private func run() {
        MemoryGauge.shared.registerCurrentThread()
        eviction.adoptEngineThread()
        while !stopping {
            batch = queue.takeAll(timeoutMs: waitBudget())
            batchIndex = 0
            if eviction.maxmemory > 0 { eviction.takeRoundBase() }
            // The first keys of the next clients' commands are prefetched while the current client's
            // commands run (the same three steps as within a pipeline, see `process`): without
            // pipelining, a round holds one command from each of many clients.
            var ahead = KeyPrefetcher()
            let prefetching = batch.count >= 2
            if prefetching {
                aheadSpecs[0] = nil
                pushFirstKey(&ahead, 1)
                pushFirstKey(&ahead, 2)
            }
            while batchIndex < batch.count {
                if prefetching { pushFirstKey(&ahead, batchIndex + 3) }
                let i = batchIndex
                let w = takeItem(i)
                batchIndex += 1
                switch w {
                case let .connect(c):
                    register(c)
                case let .commands(c, cmds):
                    process(c, cmds, firstSpec: prefetching ? aheadSpecs[i & 3] : nil)
                case let .command(c, argv):
                    processOne(c, argv, firstSpec: prefetching ? aheadSpecs[i & 3] : nil)
                case let .disconnect(c):
                    forget(c)
                case let .task(f):
                    f()
                case .none:
                    break
                }
            }
            batch.removeAll(keepingCapacity: true)
            if hasBlocked { expireBlocked() }
            if pauseType != .none || pauseHoldsWork, pauseOver || commandPauseEndedUnderFailover { unpauseClients() }
            if monotonicMillis() >= nextCron { cron() }
            if trackingInUse && tracking.hasPrefixes { tracking.flushBroadcasts() }
            flush()
        }
    }

    /// A new connection's client joins the engine's table.
    private func register(_ c: Client) {
        clients[c.id] = c
        c.authenticated = !authRequired
        stats.connectionsReceived += 1
    }

    /// Moves item `i` out of the round, leaving `.none` in its place: the item's client and
    /// arguments change hands without the retain and release a copy would cost, and they are freed
    /// when the item has run rather than when the round's array is cleared.
    @inline(__always) private func takeItem(_ i: Int) -> Work {
        batch.withUnsafeMutableBufferPointer { p in
            let slot = p.baseAddress! + i
            let w = slot.move()
            slot.initialize(to: .none)
            return w
        }
    }

    /// Starts key lookups early, three steps apart (see KeyTable's prefetching): each `push` of the
    /// key of the item three places ahead prefetches its bucket, the entry of the key pushed before it
    /// and the bytes of the key pushed before that. Used along a pipeline's commands and along a
    /// round's clients.
    struct KeyPrefetcher {
        private var slotTable: KeyTable?
        private var slot = -1
        private var hashTable: KeyTable?
        private var hash = -1

        /// `key` in `table`, or nothing (the step of an item without a key).
        @inline(__always) mutating func push(_ table: KeyTable?, _ key: Bytes?) {
            slotTable?.prefetchKey(slot: slot)
            slotTable = hashTable
            slot = hashTable?.prefetchSlot(hash: hash) ?? -1
            if let table, let key {
                hashTable = table
                hash = table.prefetchBucket(key)
            } else {
                hashTable = nil
            }
        }
    }

    /// Prefetches the first key of the round's item `i` (see KeyPrefetcher) and keeps the spec of its
    /// first command in `aheadSpecs`, so that command is not looked up a second time when it runs.
    @inline(__always) private func pushFirstKey(_ pf: inout KeyPrefetcher, _ i: Int) {
        // The item is read in place (no copy of its client and arguments: that retain and release
        // cost as much as the prefetch).
        if i < batch.count {
            let pushed = batch.withUnsafeBufferPointer { p -> Bool in
                switch p[i] {
                case let .command(c, argv): return pushFirstKey(&pf, i, db: c.db, argv)
                case let .commands(c, cmds) where !cmds.isEmpty: return pushFirstKey(&pf, i, db: c.db, cmds[0])
                default: return false
                }
            }
            if pushed { return }
        }
        aheadSpecs[i & 3] = nil
        pf.push(nil, nil)
    }
    @inline(__always) private func pushFirstKey(_ pf: inout KeyPrefetcher, _ i: Int, db: Int, _ argv: [Bytes]) -> Bool {
        guard let spec = table.lookup(argv[0]) else { return false }
        aheadSpecs[i & 3] = spec
        let k = prefetchKeyIndex(spec)
        if k > 0, argv.count > k, db < databases.count { pf.push(databases[db].table, argv[k]) } else { pf.push(nil, nil) }
        return true
    }
    /// The looked-up specs of the first commands of the round's items i+1…i+3 (slot i & 3; the
    /// prefetcher runs three items ahead). Cleared when a busy script rewrites the queued items.
    private var aheadSpecs = [CommandSpec?](repeating: nil, count: 4)

    /// How long the engine may sleep: until the next cron tick or the nearest blocked deadline.
    private func waitBudget() -> Int {
        var ms = Int(max(1, nextCron - monotonicMillis()))
        if hasBlocked {
            let nowMs = unixMillis()
            for c in blockedClients.values {
                if let d = c.blocked?.deadline, d != 0 { ms = min(ms, Int(max(1, d - nowMs))) }
            }
        }
        if pauseType != .none { ms = min(ms, Int(max(1, pauseEnd - unixMillis()))) }
        return ms
    }

    // MARK: API for the I/O side (any thread)

    public func newClientID() -> Int { nextClientID.loadThenWrappingIncrement(ordering: .relaxed) }

    public func connect(_ client: Client) {
        connectedClients.wrappingIncrement(ordering: .relaxed)
        queue.put(.connect(client))
    }
    /// What an I/O thread hands over for one connection: the commands parsed from one read.
    public enum Submission {
        case one(Client, [Bytes])
        case many(Client, [[Bytes]])
    }
    /// Submits the batches of several clients at once (one queue operation for a whole event-loop tick).
    /// The submitter has already counted the commands into each client's `inFlight`.
    public func submit(batches: [Submission]) {
        queue.put(contentsOf: batches.map { s -> Work in
            switch s {
            case let .one(c, argv): return .command(c, argv)
            case let .many(c, cmds): return .commands(c, cmds)
            }
        })
    }
    public func disconnect(_ client: Client) {
        connectedClients.wrappingDecrement(ordering: .relaxed)
        queue.put(.disconnect(client))
    }
    /// Queues an error reply (or none) after the client's earlier replies, then closes the connection.
    public func failClient(_ c: Client, error: [UInt8]?) {
        enqueue { e in
            if let error { c.output.error(bytes: error) }
            c.closeAfterReply = true
            e.markFlush(c)
        }
    }
    /// Runs a closure on the engine thread.
    public func enqueue(_ f: @escaping (Engine) -> Void) { queue.put(.task { [unowned self] in f(self) }) }

    // MARK: Busy scripts

    /// Called on the engine thread by a script that has run past busy-reply-threshold (from its hook):
    /// answers the commands that reached the engine queue before the server turned busy, as the I/O
    /// side answers newer ones (BUSY, SCRIPT/FUNCTION KILL, SHUTDOWN NOSAVE). Other work stays queued.
    /// Answers an allow-busy command while a script holds the engine; returns false to run it later.
    public var busyCommandHandler: ((Client, [Bytes]) -> Bool)?

    public func answerQueuedWhileBusy() {
        let kind = busy.load(ordering: .acquiring)
        if kind == 0 { return }
        // Commands of the batch being run that come after the script, then newly queued ones.
        // Their first commands may change: the specs looked up ahead no longer apply.
        for j in 0..<aheadSpecs.count { aheadSpecs[j] = nil }
        var i = batchIndex
        while i < batch.count {
            batch[i] = answerWhileBusy(batch[i], kind: kind)
            i += 1
        }
        let work = queue.takeAll(timeoutMs: 0)
        if !work.isEmpty {
            queue.putFront(work.map { answerWhileBusy($0, kind: kind) }.filter { if case .none = $0 { return false } else { return true } })
        }
        flush()
    }

    /// The BUSY error for a script (`kind` 1) or function (2) holding the server.
    public static func busyError(_ kind: Int) -> String {
        kind == 2 ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    }
    /// EXEC's reply while a script holds the server (in MULTI or not, as Redis's rejected EXEC).
    public static func execAbortWhileBusy(_ kind: Int) -> String {
        "EXECABORT Transaction discarded because of: " + busyError(kind)
    }

    /// Allow-busy commands run from a busy script's hook: they change only their connection's state.
    private static let runsWhileBusy: Set<String> = ["multi", "discard", "watch", "unwatch", "auth", "hello", "reset", "quit"]

    private func answerWhileBusy(_ w: Work, kind: Int) -> Work {
        if case let .command(c, argv) = w { return answerWhileBusy(.commands(c, [argv]), kind: kind) }
        // The script's own client waits for its reply first, as Redis protects it: its next
        // commands stay queued.
        guard case let .commands(c, cmds) = w, !c.closed, c !== executingClient else { return w }
        var i = 0
        while i < cmds.count {
            let argv = cmds[i]
            let name = argv[0].lowercased.string
            let sub = argv.count > 1 ? argv[1].lowercased.string : ""
            if (name == "script" || name == "function") && sub == "kill" && argv.count == 2 {
                if (name == "script") != (kind == 1) {
                    c.output.error(kind == 1 ? "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE." : "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
                } else if scriptHasWritten.load(ordering: .acquiring) {
                    c.output.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
                } else {
                    killRequested.store(true, ordering: .releasing)
                    c.output.ok()
                }
            } else if name == "shutdown" && argv.count >= 2 && argv[1].equalsIgnoringCase("nosave") {
                shutdownHandler?(false)
            } else if let spec = table.resolve(argv), spec.flags.contains(.allowBusy), name != "shutdown" {
                // As in Redis, the commands that only touch the connection's own state run now
                // (MULTI, WATCH, AUTH…); an extension may answer others (FUNCTION STATS); the rest
                // runs after the script.
                if Self.runsWhileBusy.contains(name) {
                    executeNested(c, argv, out: &c.output, inScript: false, resolved: spec)
                } else if busyCommandHandler?(c, argv) != true {
                    break
                }
            } else if name == "exec" {
                // As any rejected EXEC: the transaction ends, and the reply names the reason.
                TransactionCommands.discardTransaction(self, c)
                c.output.error(Self.execAbortWhileBusy(kind))
            } else {
                // Inside MULTI the rejection also fails the transaction (EXEC answers EXECABORT).
                if c.inMulti { c.multiFailed = true }
                c.output.error(Self.busyError(kind))
            }
            i += 1
        }
        markFlush(c)
        // The answered commands will not reach `process`, which counts the rest out of `inFlight`.
        c.inFlight.wrappingDecrement(by: i, ordering: .releasing)
        return i < cmds.count ? .commands(c, Array(cmds[i...])) : .none
    }

    // MARK: Loading the dataset at start-up

    /// While the dataset is read at start-up (RDB file or append-only files): what INFO reports,
    /// and the state that makes every other client's command not flagged `loading` get Redis's
    /// LOADING error. The listeners are up meanwhile (as in Redis), and the loader calls
    /// `serveWhileLoading` every `loading-process-events-interval-bytes`.
    public struct LoadingProgress {
        public var startTime: Int64 = unixMillis() / 1000
        public var totalBytes = 0
        public var loadedBytes = 0
        /// The `used-mem` aux field of the RDB file being read, 0 if none yet.
        public var rdbUsedMem = 0
        public init(totalBytes: Int) { self.totalBytes = totalBytes }
    }
    public var loadingProgress: LoadingProgress?
    /// True while an append-only file is replayed: keys past their expiry stay, and EXPIRE or
    /// RESTORE with a time already past set it instead of deleting, as Redis does while loading. The
    /// file's later commands ran on the live key (an RPUSH after the PEXPIREAT must extend the
    /// list that expires, not create one without a TTL); expiry happens once the load is over.
    public var replayingAppendOnlyFile = false

    static let loadingError = "LOADING Redis is loading the dataset in memory"

    /// A start-up loader has read `bytes` of its files: INFO's progress moves, and the clients that
    /// connected meanwhile are answered (see `serveWhileLoading`).
    public func loadingReached(_ bytes: Int) {
        loadingProgress?.loadedBytes = bytes
        serveWhileLoading()
    }

    /// Called by a start-up loader between keys or commands (before the engine thread starts, on the
    /// thread that owns the keyspace until then): registers new connections, answers the commands
    /// queued so far (those flagged `loading` run, the rest get LOADING), forgets closed connections.
    /// Engine tasks stay queued for after the load. Redis's processEventsWhileBlocked.
    public func serveWhileLoading() {
        let work = queue.takeAll(timeoutMs: 0)
        if work.isEmpty { return }
        var later: [Work] = []
        for w in work {
            switch w {
            case let .connect(c):
                register(c)
            case let .commands(c, cmds):
                process(c, cmds)
            case let .command(c, argv):
                processOne(c, argv, firstSpec: nil)
            case let .disconnect(c):
                forget(c)
            case .task:
                later.append(w)
            case .none:
                break
            }
        }
        if !later.isEmpty { queue.putFront(later) }
        flush()
    }

    /// Whether `spec` may run for `client` while the dataset loads: commands flagged `loading`
    /// (INFO, CONFIG, AUTH, SELECT, SUBSCRIBE…), and EXEC only if every queued command is one.
    /// The loader's own client (replaying the append-only file) runs everything.
    private func refusedWhileLoading(_ spec: CommandSpec, _ client: Client) -> Bool {
        if client.isInternal { return false }
        if !spec.flags.contains(.loading) { return true }
        return spec.name == "exec" && spec.parent == nil
            && client.queued.contains { table.resolve($0)?.flags.contains(.loading) == false }
    }

    // MARK: Command processing

    /// `firstSpec`, when given, is the looked-up spec of the first command's name.
    private func process(_ client: Client, _ commands: [[Bytes]], firstSpec: CommandSpec? = nil) {
        // Releasing: the I/O side reads it to know the client's state (`authenticated`) is current.
        defer { client.inFlight.wrappingDecrement(by: commands.count, ordering: .releasing) }
        if client.closed { return }
        if client.blocked != nil || !client.pending.isEmpty {
            client.pending.append(contentsOf: commands)
            return
        }
        // Pipelines: the key lookups of the next commands are started early (see KeyTable's prefetching).
        // The key position is taken from the first command (pipelines mostly repeat one command; a
        // wrong guess only wastes a prefetch), and the table from the client's current database.
        let n = commands.count
        let k = n >= 3 ? prefetchKeyIndex(commands[0]) : 0
        var spec = firstSpec
        let table = databases[client.db].table
        var ahead = KeyPrefetcher()
        @inline(__always) func key(_ j: Int) -> Bytes? { j < n && commands[j].count > k ? commands[j][k] : nil }
        if k > 0 {
            ahead.push(table, key(1))
            ahead.push(table, key(2))
        }
        var i = 0
        while i < n {
            if k > 0 { ahead.push(table, key(i + 3)) }
            stats.totalNetInput &+= requestSize(commands[i])
            executeTopLevel(client, commands[i], resolved: spec)
            spec = nil
            clockFresh = clockReadAtEnd
            i += 1
            if client.blocked != nil {
                if i < commands.count { client.pending.append(contentsOf: commands[i...]) }
                break
            }
            if client.closeAfterReply { break }
        }
        clockFresh = false
        markFlush(client)
    }

    /// `process` for a single command (no pipeline to prefetch along).
    private func processOne(_ client: Client, _ argv: [Bytes], firstSpec: CommandSpec?) {
        defer { client.inFlight.wrappingDecrement(ordering: .releasing) }
        if client.closed { return }
        if client.blocked != nil || !client.pending.isEmpty {
            client.pending.append(argv)
            return
        }
        stats.totalNetInput &+= requestSize(argv)
        executeTopLevel(client, argv, resolved: firstSpec)
        clockFresh = false
        markFlush(client)
    }

    /// Where a command's first key is, for prefetching: its first key position, the one after the
    /// key count for EVAL/EVALSHA/FCALL (movable keys), 0 for none.
    private func prefetchKeyIndex(_ argv: [Bytes]) -> Int {
        guard argv.count >= 2, let spec = lookupCommand(argv[0]) else { return 0 }
        return prefetchKeyIndex(spec)
    }
    @inline(__always) private func prefetchKeyIndex(_ spec: CommandSpec) -> Int {
        if spec.firstKey > 0 { return spec.firstKey }
        if spec.group == .scripting && spec.getKeys != nil { return 3 }
        return 0
    }

    /// Size of a command as a RESP multibulk request (what INFO's total_net_input_bytes counts).
    @inline(__always) func requestSize(_ argv: [Bytes]) -> Int {
        var n = 3 + decimalDigits(argv.count)
        for a in argv { n &+= 5 + decimalDigits(a.count) + a.count }
        return n
    }

    @inline(__always) private func decimalDigits(_ v: Int) -> Int {
        var d = 1
        var x = v
        while x >= 10 { x /= 10; d += 1 }
        return d
    }

    /// Runs commands that queued up while the client was blocked.
    func resumePending(_ client: Client) {
        while client.blocked == nil, !client.closeAfterReply, let argv = client.pending.popFirst() {
            executeTopLevel(client, argv)
        }
        markFlush(client)
    }

    /// Runs one command from a client: the clock is read, the reply goes to the client's output.
    /// `resolved`: the command's looked-up spec when the caller has it (see `dispatch`).
    public func executeTopLevel(_ client: Client, _ argv: [Bytes], resolved: CommandSpec? = nil) {
        if !clockFresh { clockMicros = unixMicros() }
        clockFresh = false
        clockReadAtEnd = false
        now = clockMicros / 1000
        client.lastInteraction = now
        // As Redis before every command: a lowered tracking-table-max-keys applies now.
        if trackingInUse { tracking.enforceLimit() }
        let ctx = topContext!
        ctx.client = client
        ctx.argv = argv
        ctx.noBlocking = false
        ctx.isRetry = false
        ctx.inScript = false
        swap(&ctx.out, &client.output)
        executingClient = client
        if client.replyOff || client.replySkipNext {
            // CLIENT REPLY OFF / SKIP: the command runs, its reply is dropped, but not the pushes
            // written into it (pub/sub confirmations and messages), which Redis delivers whatever
            // the reply mode.
            let mark = ctx.out.buffer.writerIndex
            client.replySkipping = client.replySkipNext
            client.replySkipNext = false
            replySuppressedClient = client
            keptPushes.removeAll(keepingCapacity: true)
            dispatch(ctx, resolved: resolved)
            replySuppressedClient = nil
            // CLIENT REPLY ON clears both, and its OK is sent.
            if client.replyOff || client.replySkipping { dropReply(&ctx.out, from: mark) }
            client.replySkipping = false
        } else {
            dispatch(ctx, resolved: resolved)
        }
        executingClient = nil
        swap(&ctx.out, &client.output)
        if trackingInUse {
            // CLIENT CACHING applies to the next command that is not a CLIENT one (a whole MULTI … EXEC).
            if client.tracking?.caching == true && !client.inMulti && !argv[0].equalsIgnoringCase("client") {
                client.tracking?.caching = false
            }
            if !tracking.pendingForCaller.isEmpty { tracking.flushCaller(client) }
        }
        flushPropagation()
        ctx.client = idleClient
        if !readyKeys.isEmpty { serveReadyKeys() }
    }

    /// Runs a command on behalf of a script or EXEC: the reply is written to `out`, blocking commands
    /// answer at once, and the engine clock is not advanced.
    /// `resolved` is the command's spec when the caller has looked it up already (redis.call).
    public func executeNested(_ client: Client, _ argv: [Bytes], out: inout ReplyWriter, inScript: Bool,
                              resolved: CommandSpec? = nil) {
        // Contexts are pooled per nesting depth (a script inside EXEC nests twice).
        let depth = nestedDepth
        let ctx: CommandContext
        if depth < nestedPool.count {
            ctx = nestedPool[depth]
            ctx.client = client
            ctx.isRetry = false
            ctx.readyKey = nil
        } else {
            ctx = CommandContext(engine: self, client: client)
            nestedPool.append(ctx)
        }
        ctx.argv = argv
        ctx.noBlocking = true
        ctx.inScript = inScript
        swap(&ctx.out, &out)
        nestedDepth += 1
        dispatch(ctx, resolved: resolved)
        nestedDepth -= 1
        swap(&ctx.out, &out)
        ctx.argv = []
        ctx.client = idleClient
    }
    /// While a command called by a script runs: the context of the script command (EVAL, FCALL…)
    /// that called it, top-level or inside EXEC.
    private func scriptCallerContext() -> CommandContext? {
        let d = nestedDepth - 2
        return d >= 0 ? (d < nestedPool.count ? nestedPool[d] : nil) : topContext
    }
    /// Reusable contexts for executeNested, one per nesting depth.
    private var nestedPool: [CommandContext] = []

    /// The context holding a client's reply buffer while one of its commands runs (the buffer is
    /// swapped into the running context), or nil when the client is idle.
    public func replyContext(of c: Client) -> CommandContext? {
        var i = nestedDepth - 1
        while i >= 0 {
            if nestedPool[i].client === c { return nestedPool[i] }
            i -= 1
        }
        return c === executingClient ? topContext : nil
    }

    /// A push written into the reply of a CLIENT REPLY OFF/SKIP client's running command: kept
    /// when the reply is dropped (see executeTopLevel).
    @inline(__always) func keepPush(_ c: Client, from start: Int, to end: Int) {
        if c === replySuppressedClient && end > start { keptPushes.append(start..<end) }
    }

    /// Cuts a suppressed command's reply back to `mark`, keeping the pushes it contains, in order.
    private func dropReply(_ out: inout ReplyWriter, from mark: Int) {
        var end = mark
        for r in keptPushes where r.lowerBound >= end {
            if r.lowerBound != end, let bytes = out.buffer.getBytes(at: r.lowerBound, length: r.count) {
                out.buffer.setBytes(bytes, at: end)
            }
            end += r.count
        }
        keptPushes.removeAll(keepingCapacity: true)
        out.buffer.moveWriterIndex(to: end)
    }

    /// Looks the command up, checks arity and MULTI state, and runs its handler.
    /// `resolved`, when given, is what `table.resolve(argv)` returns.
    public func dispatch(_ ctx: CommandContext, resolved: CommandSpec? = nil) {
        let argv = ctx.argv
        let client = ctx.client
        guard var spec = resolved ?? lookupCommand(argv[0]) else {
            if ctx === topContext { client.lastCommand = "NULL" }
            // Redis formats the names with `%.*s`: raw bytes, each cut at its first NUL.
            var message = Array("ERR unknown command '".utf8) + Array(argv[0].printedPrefix(max: 128))
                + Array("', with args beginning with: ".utf8)
            var args = 0
            var i = 1
            while i < argv.count && args < 128 {
                let part = [UInt8(ascii: "'")] + Array(argv[i].printedPrefix(max: 128 - args)) + Array("' ".utf8)
                message += part
                args += part.count
                i += 1
            }
            rejectCommand(ctx, bytes: message)
            return
        }
        if !spec.subcommands.isEmpty {
            if argv.count >= 2 {
                if let sub = spec.subcommands[argv[1].lowercased.string] {
                    spec = sub
                } else if spec.handler == nil {
                    if ctx === topContext { client.lastCommand = "NULL" }
                    rejectCommand(ctx, bytes: Array("ERR unknown subcommand '".utf8) + Array(argv[1].printedPrefix(max: 128))
                                  + Array("'. Try \(spec.name.uppercased()) HELP.".utf8))
                    return
                }
            }
        }
        // CLIENT LIST's cmd: the last command a client sent, as looked up (refused or queued ones too;
        // not the commands EXEC or a script runs).
        if ctx === topContext { client.lastCommand = spec.fullName }
        if !spec.arityOK(argv.count) {
            rejectCommand(ctx, "ERR wrong number of arguments for '\(spec.fullName)' command", spec: spec)
            return
        }
        if authRequired && !client.authenticated && !spec.flags.contains(.noAuth) {
            rejectCommand(ctx, "NOAUTH Authentication required.", spec: spec)
            return
        }
        // ACLs: one flag test while every user may run everything (the common case).
        if aclInUse && !aclAllows(ctx, spec) { return }
        if eviction.maxmemory > 0 && ctx === topContext && !isReplicaRole && !pauseActive && rejectForMaxmemory(denyoom: deniesOOM(spec, argv, client)) {
            rejectCommand(ctx, Err.oom, spec: spec)
            return
        }
        if let deny = denyWritesError, !client.isMasterLink,
           ctx === topContext ? writeDeniable(spec, client) : (ctx.inScript && spec.isWrite) {
            rejectCommand(ctx, deny, spec: spec)
            return
        }
        if let deny = writesNeedReplicasError, !isReplicaRole,
           ctx === topContext ? spec.name != "ping" && writeDeniable(spec, client) : ctx.inScript && spec.isWrite {
            // A script's write fails at its redis.call, as in Redis.
            rejectCommand(ctx, deny, spec: spec)
            return
        }
        if let deny = readOnlyReplicaError, !client.isMasterLink,
           ctx === topContext ? spec.isWrite || (spec.name == "exec" && writeDeniable(spec, client)) : ctx.inScript && spec.isWrite {
            rejectCommand(ctx, deny, spec: spec)
            return
        }
        if client.subscriptions.pubsubMode && client.resp == 2 && ctx === topContext && !PubSubCommands.allowedWhileSubscribed(spec) {
            rejectCommand(ctx, "ERR Can't execute '\(spec.fullName)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", spec: spec)
            return
        }
        if let deny = staleReplicaError, ctx === topContext, !client.isMasterLink, !spec.flags.contains(.stale)
            || (spec.name == "exec" && client.queued.contains { table.resolve($0)?.flags.contains(.stale) == false }) {
            rejectCommand(ctx, deny, spec: spec)
            return
        }
        // A replica or monitor connection may not touch the keyspace (Redis keeps them from
        // reading or writing around CLIENT PAUSE).
        if (client.isMonitor || client.isReplica) && ctx === topContext && touchesKeyspace(spec, client) {
            rejectCommand(ctx, "ERR Replica can't interact with the keyspace", spec: spec)
            return
        }
        // CLIENT PAUSE: the command waits for the pause to end (see ClientPause.swift).
        if pauseMayApply && ctx === topContext && !ctx.isRetry && !client.isReplica
            && !client.isInternal && pauseActive && postponedByPause(spec, argv, client) {
            postpone(client, argv, spec)
            return
        }
        if loadingProgress != nil && ctx === topContext && refusedWhileLoading(spec, client) {
            rejectCommand(ctx, Self.loadingError, spec: spec)
            return
        }
        if client.inMulti && !ctx.inScript {
            let top = spec.parent ?? spec
            switch top.name {
            case "exec", "discard", "multi", "watch", "quit", "reset":
                break
            default:
                if spec.flags.contains(.noMulti) {
                    rejectCommand(ctx, "ERR Command not allowed inside a transaction", spec: spec)
                    return
                }
                client.queued.append(argv)
                ctx.out.queued()
                return
            }
        }
        ctx.spec = spec
        // A top-level command starts at the reading executeTopLevel took (wall clock: it is also the
        // engine's `now`); a nested one is timed by the monotonic clock, which is cheaper to read.
        let start = ctx === topContext ? clockMicros : monotonicMicros()
        // Like Redis, count commands that run (not rejected or queued ones), and a blocked command
        // re-run because its key got data only once.
        if !ctx.isRetry { stats.commandsProcessed &+= 1 }
        blockCalled = false
        let replyStart = ctx.out.buffer.writerIndex
        let dirtyBefore = dirty
        ctx.propagateOverride = nil
        ctx.forcedPropagation = nil
        let outerWrite = executingWrite
        executingWrite = spec.isWrite
        spec.handler?(ctx)
        executingWrite = outerWrite
        if isPropagating { recordEffects(ctx, changed: dirty != dirtyBefore) }
        // CLIENT TRACKING: a read's keys are remembered for the client that asked (a script's caller),
        // when the command first runs: a blocked XREAD served later does not track its keys again
        // (Redis remembers them in the call that blocked, and serves without another call).
        // As in Redis, a read inside a script remembers the keys the script declared (its caller's
        // command's keys), not the keys that read touched; the read-only script commands themselves
        // track nothing (only the reads they make do).
        if trackingInUse && spec.flags.contains(.readonly) && !ctx.isRetry {
            if ctx.inScript {
                let reader = executingClient ?? client
                if reader.tracking != nil, let caller = scriptCallerContext(), let callerSpec = lookupCommand(caller.argv[0]) {
                    tracking.remember(reader, callerSpec, caller.argv)
                }
            } else if spec.group != .scripting, client.tracking != nil {
                tracking.remember(client, spec, argv)
            }
        }
        // MONITOR shows a command once it ran (a blocked one when it blocked, not again when served);
        // not the engine's own loading (AOF) client.
        if !monitors.isEmpty && !ctx.isRetry && !spec.flags.contains(.admin) && !spec.flags.contains(.skipMonitor)
            && (ctx.inScript || !client.isInternal || client.isMasterLink) {
            feedMonitors(client, argv, lua: ctx.inScript)
        }
        // As in Redis, a command that blocks counts one call when it completes (served or timed out).
        if !blockCalled { spec.statCalls &+= 1 }
        if ctx === topContext {
            let end = unixMicros()
            let micros = Int(end - start)
            spec.statMicros &+= micros
            if !blockCalled { recordLatency(spec, micros: micros) }
            clockMicros = end
            clockReadAtEnd = true
            // SLOWLOG: a command that blocked is not logged now (Redis logs it neither), nor the
            // commands flagged skip_slowlog (EXEC: its commands are).
            if slowlogThreshold >= 0 && micros >= slowlogThreshold && !blockCalled
                && !spec.flags.contains(.skipSlowlog) && !(spec.parent?.flags.contains(.skipSlowlog) ?? false) {
                slowlog.push(argv, micros: micros, client: client, now: end / 1000, maxLen: slowlogMaxLen)
            }
        } else {
            let micros = Int(monotonicMicros() - start)
            spec.statMicros &+= micros
            recordLatency(spec, micros: micros)
            // Commands run by EXEC and by scripts are logged one by one too, as Redis does.
            if slowlogThreshold >= 0 && micros >= slowlogThreshold && !spec.flags.contains(.skipSlowlog) {
                slowlog.push(argv, micros: micros, client: client, now: now, maxLen: slowlogMaxLen)
            }
        }
        // A reply that is an error (not an array holding errors) makes the call a failed one. A
        // script's error that repeats one already counted inside it is not counted again (Redis's
        // ignore_error_stats_update).
        let alreadyCounted = scriptErrorAlreadyCounted
        scriptErrorAlreadyCounted = false
        if ctx.out.buffer.writerIndex > replyStart && ctx.out.buffer.getInteger(at: replyStart, as: UInt8.self) == UInt8(ascii: "-") {
            spec.statFailed &+= 1
            if !alreadyCounted { countError(ctx.out.buffer, at: replyStart) }
        } else if scriptNestedErrors.counted > 0 || scriptNestedErrors.new {
            // Errors inside a script's reply (an array holding them), as Redis counts them: one
            // failure per error that was counted before, one more if any is new.
            spec.statFailed &+= scriptNestedErrors.counted + (scriptNestedErrors.new ? 1 : 0)
        }
        scriptNestedErrors = (0, false)
    }

    /// Whether maxmemory refuses `spec` when nothing can be evicted (see Eviction): a denyoom
    /// command, a script or function that may grow memory, EXEC of a transaction holding one, and
    /// inside MULTI anything but EXEC, DISCARD, QUIT and RESET (queuing takes memory too).
    private func deniesOOM(_ spec: CommandSpec, _ argv: [Bytes], _ client: Client) -> Bool {
        let top = spec.parent ?? spec
        if client.inMulti {
            if top.name != "exec" { return !["discard", "quit", "reset"].contains(top.name) }
            return client.queued.contains { q in
                guard let s = table.resolve(q) else { return false }
                return commandDeniesOOM(s, q)
            }
        }
        return commandDeniesOOM(spec, argv)
    }
    private func commandDeniesOOM(_ spec: CommandSpec, _ argv: [Bytes]) -> Bool {
        if spec.group == .scripting, spec.getKeys != nil, let flagged = scriptDeniesOOM?(argv) { return flagged }
        return spec.isDenyOOM
    }
    /// Set by the scripting module: for EVAL/EVALSHA/FCALL (and their _RO forms), whether the
    /// script's or function's declared flags make it denyoom (neither allow-oom nor no-writes);
    /// nil for a script without a shebang or one not found, which count as the command's own flags.
    public var scriptDeniesOOM: (([Bytes]) -> Bool?)?

    /// The command table's answer for a name, remembered for the last name looked up: a pipeline's
    /// commands mostly repeat one name, and the request parser hands them the same storage for it.
    @inline(__always) private func lookupCommand(_ name: Bytes) -> CommandSpec? {
        if name.sharesStorage(with: lastLookupName) { return lastLookupSpec }
        let spec = table.lookup(name)
        lastLookupName = name
        lastLookupSpec = spec
        return spec
    }
    private var lastLookupName = Bytes()
    private var lastLookupSpec: CommandSpec?

    /// Set by the persistence module while writes must be refused (Redis's MISCONF after a failed
    /// background save with `stop-writes-on-bgsave-error yes`); nil otherwise.
    public var denyWritesError: String?
    /// Set by replication while fewer good replicas than min-replicas-to-write are connected: writes
    /// (and EXEC of queued writes) are refused with it (NOREPLICAS).
    public var writesNeedReplicasError: String?
    /// Set while this server is a replica with replica-read-only yes: writes from anyone but the
    /// master are refused with it (READONLY).
    public var readOnlyReplicaError: String?
    /// Set while this server is a replica whose link is down and replica-serve-stale-data is no:
    /// only commands flagged stale (INFO, REPLICAOF…) run (MASTERDOWN).
    public var staleReplicaError: String?
    /// CLIENT PAUSE: the type in force (none once unpaused), its end (Unix ms), and the clients whose
    /// command waits for it, in arrival order (see ClientPause.swift).
    var pauseType = PauseType.none
    var pauseEnd: Int64 = 0
    /// FAILOVER holds writes (pause purpose "during failover") until it ends or is aborted.
    var failoverPausing = false
    var postponedClients: [Client] = []
    /// Commands wait for the pause to end: postponed clients, or a replica's held master stream.
    var pauseHoldsWork = false
    /// The running command (innermost) is a write: an expired key it meets goes, even while paused.
    var executingWrite = false
    /// Set by the scripting module: for EVAL/EVALSHA/FCALL, whether the script's or function's
    /// declared flags let it write (no `no-writes`); nil without a shebang or when not found.
    public var scriptMayWrite: (([Bytes]) -> Bool?)?
    /// Connections in MONITOR mode, in the order they entered it.
    public internal(set) var monitors: [Client] = []
    /// The latency monitor's samples, and the latency settings (see Latency.swift).
    var latency = LatencyMonitor()
    var latencyTracking = true
    var latencyThreshold = 0
    /// SLOWLOG's entries and its settings (slowlog-log-slower-than in µs, slowlog-max-len).
    var slowlog = SlowLog()
    private var slowlogThreshold = 10_000
    private var slowlogMaxLen = 128
    /// The default user needs a password (requirepass, or ACL rules): connections start unauthenticated.
    public internal(set) var authRequired = false {
        didSet { authRequiredFlag.store(authRequired, ordering: .releasing) }
    }
    /// `authRequired` for the I/O threads (the unauthenticated request limits, see RequestParser).
    public let authRequiredFlag = ManagedAtomic<Bool>(false)
    /// Users, their rules and ACL LOG (Security/ACL.swift).
    public private(set) lazy var acl = ACL(engine: self)
    /// Some user is restricted: dispatch checks permissions (false keeps the hot path to one test).
    var aclInUse = false
    func rejectDenied(_ ctx: CommandContext, _ message: String, spec: CommandSpec) { rejectCommand(ctx, message, spec: spec) }
    /// True while this server follows a master (REPLICAOF): keys do not expire by themselves and are
    /// not evicted here; the master's DELs remove them (see Database.slot).
    public internal(set) var isReplicaRole = false
    /// Whether the command running comes from the master link (its keys stay alive while logically expired).
    @inline(__always) var executingForMaster: Bool { executingClient?.isMasterLink ?? false }

    /// Whether a command reads or writes keys or may replicate (EXEC: one of its queued commands).
    private func touchesKeyspace(_ spec: CommandSpec, _ client: Client) -> Bool {
        let mask: CommandFlags = [.write, .readonly, .mayReplicate]
        if !spec.flags.isDisjoint(with: mask) { return true }
        if spec.name == "exec" && spec.parent == nil && client.inMulti {
            return client.queued.contains { !(table.resolve($0)?.flags.isDisjoint(with: mask) ?? true) }
        }
        return false
    }

    /// Commands MISCONF refuses, as Redis: writes, PING, and EXEC of a transaction holding a write
    /// (inside scripts: writes only; scripts that may write are refused before they start).
    private func writeDeniable(_ spec: CommandSpec, _ client: Client) -> Bool {
        if spec.isWrite || spec.name == "ping" { return true }
        if spec.name == "exec" && client.inMulti {
            return client.queued.contains { table.resolve($0)?.isWrite == true }
        }
        return false
    }

    private func rejectCommand(_ ctx: CommandContext, bytes: [UInt8], spec: CommandSpec? = nil) {
        rejectCommand(ctx, String(decoding: bytes, as: UTF8.self), spec: spec, raw: bytes)
    }

    private func rejectCommand(_ ctx: CommandContext, _ message: String, spec: CommandSpec? = nil, raw: [UInt8]? = nil) {
        var message = message
        var raw = raw
        if spec?.name == "exec" && spec?.parent == nil && ctx === topContext {
            // A rejected EXEC ends any transaction and names the reason (Redis drops the ERR code),
            // inside MULTI or not; either way it forgets the client's WATCHed keys, as Redis's
            // discard does.
            TransactionCommands.discardTransaction(self, ctx.client)
            message = "EXECABORT Transaction discarded because of: " + (message.hasPrefix("ERR ") ? String(message.dropFirst(4)) : message)
            raw = nil
        } else if ctx.client.inMulti {
            ctx.client.multiFailed = true
        }
        let at = ctx.out.buffer.writerIndex
        if let raw { ctx.out.error(bytes: raw) } else { ctx.out.error(message) }
        countError(ctx.out.buffer, at: at)
        if let spec { spec.statRejected &+= 1 }
    }

    /// Counts an error reply written at `at` under its code (the text up to the first space).
    /// Set by a script command whose error reply repeats an error counted when it happened (a
    /// failed or refused redis.call): the reply is not counted again.
    public var scriptErrorAlreadyCounted = false
    /// Errors a script's reply holds below its top level: how many repeat counted ones, and
    /// whether any is new (already counted by `countScriptError` when written).
    public var scriptNestedErrors: (counted: Int, new: Bool) = (0, false)

    /// An error a script meets outside a command's own reply, counted now as Redis counts it: a
    /// redis.call/pcall refused before running (unknown command, wrong arity, not allowed, read-only,
    /// OOM; also a rejected call of `rejecting`), or an error nested in the script's reply.
    public func countScriptError(_ message: String, rejecting spec: CommandSpec?) {
        var buf = ByteBuffer()
        buf.writeString("-" + message)
        countError(buf, at: 0)
        spec?.statRejected &+= 1
    }

    private func countError(_ buf: ByteBuffer, at: Int) {
        stats.errorReplies += 1
        var end = at + 1
        let limit = min(buf.writerIndex, at + 64)
        while end < limit, let b = buf.getInteger(at: end, as: UInt8.self), b != 32, b != 13 { end += 1 }
        let code = buf.getString(at: at + 1, length: end - at - 1) ?? "ERR"
        // Redis keeps at most 128 distinct codes; beyond that new ones are not tracked.
        if stats.errorCodes[code] != nil || stats.errorCodes.count < 128 { stats.errorCodes[code, default: 0] += 1 }
    }

    // MARK: Output

    func markFlush(_ c: Client) {
        if c.output.buffer.readableBytes > 0 || c.closeAfterReply {
            if !c.flushQueued {
                c.flushQueued = true
                toFlush.append(c)
            }
        }
    }

    /// Hands every client's pending replies to the network side: one call per engine round, so the
    /// server can wake each event loop once for all its connections instead of once per client.
    private func flush() {
        // The append-only file is written before any reply leaves: a client never sees a write
        // acknowledged that the file does not hold (Redis writes it in beforeSleep for the same reason).
        if let write = beforeReplies { write() }
        if toFlush.isEmpty { return }
        var batch: [OutgoingReplies] = []
        batch.reserveCapacity(toFlush.count)
        for c in toFlush {
            c.flushQueued = false
            if c.closed { continue }
            guard let conn = c.connection else { continue }
            let buf = c.output.buffer
            if c.isReplica { stats.totalNetReplOutput &+= buf.readableBytes } else { stats.totalNetOutput &+= buf.readableBytes }
            // Two buffers take turns: the one sent the round before last has usually been written
            // and dropped by the network side by now, so clearing it costs no allocation (if it is
            // still held, clearing allocates, as a new buffer would). Big buffers are not kept.
            var spare: ByteBuffer? = nil
            swap(&spare, &c.spareOutput)   // taken out, so that it can be uniquely referenced
            if spare != nil, spare!.capacity >= buf.readableBytes, spare!.capacity <= Self.keptOutputCapacity {
                spare!.clear()
                c.output.buffer = spare!
            } else {
                c.output.buffer = nextOutputBuffer(after: buf.readableBytes)
            }
            c.spareOutput = buf.capacity <= Self.keptOutputCapacity ? buf : nil
            var tracking = UnsentTracking.none
            if c.outputLimitExemptOnce {
                c.outputLimitExemptOnce = false
                tracking = .exempt
            } else if let limit = outputLimit(of: c) {
                if overOutputLimit(c, limit, pending: conn.unsentBytes + buf.capacity) {
                    logger.warning("Client \(ConnectionCommands.describe(c, self, now: now)) scheduled to be closed ASAP for overcoming of output buffer limits.")
                    kill(c)
                    continue
                }
                tracking = .limited
            } else if c.isReplica {
                tracking = .exempt   // still left out of maxmemory's figure while unsent
            } else {
                tracking = .limited  // no limit to check, but counted for CLIENT LIST's omem
            }
            if tracking != .none { conn.noteHandedOver(buf.capacity, tracking) }
            batch.append(OutgoingReplies(connection: conn, buffer: buf, thenClose: c.closeAfterReply, tracking: tracking))
            if c.closeAfterReply { c.closed = true }
        }
        toFlush.removeAll(keepingCapacity: true)
        if let replySink { replySink(batch) } else { for o in batch { o.connection.send(o.buffer, thenClose: o.thenClose) } }
    }
    private let emptyBuffer = ByteBufferAllocator().buffer(capacity: 0)
    /// Reply buffers up to this size are kept for reuse (Redis keeps a 16 KiB reply buffer per client).
    static let keptOutputCapacity = 16 << 10
    private let allocator = ByteBufferAllocator()

    /// A fresh reply buffer for a client whose replies were just handed off: sized for as much as
    /// it sent this round (at least 64 bytes, at most 16 KiB, like Redis's per-client reply buffer),
    /// so a pipelining client's next round is not built through a chain of reallocations.
    @inline(__always) private func nextOutputBuffer(after sent: Int) -> ByteBuffer {
        if sent == 0 { return emptyBuffer }
        return allocator.buffer(capacity: min(16 << 10, max(64, sent)))
    }

    /// The client-output-buffer-limit of the client's class (replica, pubsub or normal, as Redis
    /// classifies clients), or nil when that class has none.
    @inline(__always) private func outputLimit(of c: Client) -> OutputBufferLimits.Limit? {
        let l = c.isReplica ? outputLimits.replica : c.subscriptions.pubsubMode ? outputLimits.pubsub : outputLimits.normal
        return l.isSet ? l : nil
    }

    /// Whether `pending` reply bytes break the limit: over the hard limit, or over the soft one for
    /// longer than its seconds. Redis counts only what overflows a client's 16 KiB reply buffer, so
    /// that much is left out here too.
    private func overOutputLimit(_ c: Client, _ l: OutputBufferLimits.Limit, pending: Int) -> Bool {
        let used = max(0, pending - 16 << 10)
        if l.hard > 0 && used >= l.hard { return true }
        if l.soft > 0 && used >= l.soft {
            if c.softLimitSince == 0 { c.softLimitSince = max(1, now); return false }
            return now - c.softLimitSince > Int64(l.seconds) * 1000
        }
        c.softLimitSince = 0
        return false
    }
    /// client-output-buffer-limit, kept current with the config.
    var outputLimits = OutputBufferLimits()
    /// Clients attached as replicas (their pending output is left out of maxmemory's figure).
    var replicaClients: [Client] = []

    /// Bytes maxmemory does not count, as Redis: the replicas' output not yet written (the stream,
    /// a snapshot being sent), so that a slow replica cannot make the master evict its data set.
    public var memoryNotCountedForEviction: Int {
        var n = 0
        for c in replicaClients {
            n += c.output.buffer.capacity
            if let conn = c.connection { n += conn.unsentBytes + conn.unsentExemptBytes }
        }
        return n
    }

    /// Set by the server: delivers a round's replies (grouped per event loop on its side).
    public var replySink: (@Sendable ([OutgoingReplies]) -> Void)?

    private func forget(_ c: Client) {
        if c.isReplica { replicaClients.removeAll { $0 === c } }
        stopMonitoring(c)
        if c.tracking != nil { tracking.disable(c) }
        c.closed = true
        unwatchAll(c)
        pubsub.unsubscribeAll(c)
        if c.blocked != nil { unblock(c) }
        clients.removeValue(forKey: c.id)
    }

    /// Closes a client (CLIENT KILL, QUIT after reply…).
    public func kill(_ c: Client) {
        c.connection?.close()
        forget(c)
    }

    // MARK: WATCH

    public func watch(_ c: Client, db: Int, key: Bytes) {
        let wk = WatchedKey(db: db, key: key)
        if c.watched[wk] != nil { return }
        c.watched[wk] = databases[db].exists(key)
        watchers[wk, default: []].append(c)
    }

    public func unwatchAll(_ c: Client) {
        for wk in c.watched.keys {
            watchers[wk]?.removeAll { $0 === c }
            if watchers[wk]?.isEmpty == true { watchers.removeValue(forKey: wk) }
        }
        c.watched = [:]
        c.watchDirty = false
    }

    func touchWatched(db: Int, key: Bytes) {
        guard let list = watchers[WatchedKey(db: db, key: key)] else { return }
        for c in list { c.watchDirty = true }
    }

    /// FLUSHDB/FLUSHALL/SWAPDB: every watched key of the database that exists counts as modified.
    public func touchAllWatched(db: Int) {
        for (wk, list) in watchers where wk.db == db {
            if databases[db].exists(wk.key) { for c in list { c.watchDirty = true } }
        }
    }

    /// True if a watched key changed, or expired after it was watched: EXEC must then fail.
    public func watchTripped(_ c: Client) -> Bool {
        if c.watchDirty { return true }
        for (wk, wasAlive) in c.watched where wasAlive {
            if !databases[wk.db].exists(wk.key) { return true }
        }
        return false
    }

    /// A key removed by expiry: WATCHers that saw it alive are tripped.
    func keyExpired(db: Database, key: Bytes) {
        if hasWatchers, let list = watchers[WatchedKey(db: db.id, key: key)] {
            for c in list where c.watched[WatchedKey(db: db.id, key: key)] == true { c.watchDirty = true }
        }
    }

    // MARK: Blocking

    func block(client: Client, state: BlockedState, isRetry: Bool) {
        blockCalled = true
        if isRetry, client.blocked != nil { return }
        var state = state
        // A key named twice (BLPOP k k 0) is waited on once, so unblocking leaves no stale entry.
        if state.keys.count > 1 {
            var seen = Set<Bytes>()
            state.keys = state.keys.filter { seen.insert($0).inserted }
        }
        client.blocked = state
        blockedClients[client.id] = client
        for k in state.keys {
            blockedByKey[WatchedKey(db: state.db, key: k), default: []].append(client)
        }
    }

    func unblock(_ c: Client) {
        guard let st = c.blocked else { return }
        for k in st.keys {
            let wk = WatchedKey(db: st.db, key: k)
            if var q = blockedByKey[wk] {
                if let i = q.firstIndex(where: { $0 === c }) { q.remove(at: i) }
                blockedByKey[wk] = q.isEmpty ? nil : q
            }
        }
        blockedClients.removeValue(forKey: c.id)
        c.blocked = nil
    }

    func markReady(db: Int, key: Bytes) {
        let wk = WatchedKey(db: db, key: key)
        if blockedByKey[wk] != nil && readySet.insert(wk).inserted { readyKeys.append(wk) }
    }

    /// CLIENT TRACKING: `key` changed (written, deleted, expired or evicted); `byCommand`: by the
    /// running command (false for expiry and eviction). The client is only looked up when someone
    /// tracks keys, so that writes pay nothing otherwise.
    @inline(__always) func keyChanged(_ key: Bytes, byCommand: Bool) {
        if trackingInUse && tracking.active { tracking.invalidate(key, by: byCommand ? executingClient : nil) }
    }

    /// Re-runs the commands of clients blocked on keys that got data, oldest first.
    func serveReadyKeys() {
        while !readyKeys.isEmpty {
            let keys = readyKeys
            readyKeys = []
            readySet = []
            for wk in keys {
                guard let q = blockedByKey[wk] else { continue }
                for c in Array(q) {
                    // Skip a client that meanwhile got unblocked, or blocked again on other keys.
                    guard let st = c.blocked, st.db == wk.db, st.keys.contains(wk.key) else { continue }
                    // A deleted key serves nobody, except XREADGROUP clients: they get an error
                    // (Redis 7.0 unblocks them when their stream goes away).
                    if !databases[wk.db].exists(wk.key) && st.spec.name != "xreadgroup" {
                        // An expired key was deleted just now: its DEL goes out at once.
                        flushPropagation()
                        continue
                    }
                    clockMicros = unixMicros()
                    now = clockMicros / 1000
                    let ctx = topContext!
                    ctx.client = c
                    ctx.argv = st.argv
                    ctx.noBlocking = false
                    ctx.isRetry = true
                    ctx.readyKey = wk.key
                    ctx.inScript = false
                    blockCalled = false
                    swap(&ctx.out, &c.output)
                    let prevDB = c.db
                    c.db = st.db
                    // The served client is the one running: its own invalidations (BLMOVE's
                    // destination) follow its reply, as for any command.
                    executingClient = c
                    dispatch(ctx)
                    executingClient = nil
                    flushPropagation()
                    ctx.client = idleClient
                    ctx.readyKey = nil
                    c.db = prevDB
                    swap(&ctx.out, &c.output)
                    if trackingInUse && !tracking.pendingForCaller.isEmpty { tracking.flushCaller(c) }
                    if !blockCalled {
                        unblock(c)
                        resumePending(c)
                    }
                }
            }
        }
    }

    /// Answers blocked clients whose timeout has passed.
    private func expireBlocked() {
        let t = unixMillis()
        for c in Array(blockedClients.values) {
            guard let st = c.blocked, st.deadline != 0, st.deadline <= t else { continue }
            if let reply = st.timeoutReply { reply(c) } else if st.timeoutIsNullArray { c.output.nullArray() } else { c.output.nullBulk() }
            st.spec.statCalls &+= 1
            unblock(c)
            resumePending(c)
        }
    }

    /// Unblocks a client as if it timed out (CLIENT UNBLOCK), or with an error.
    public func unblockClient(_ c: Client, error: String?) -> Bool {
        // A command postponed by CLIENT PAUSE is not blocked in that sense: it waits for the pause.
        guard let st = c.blocked, !st.postponed else { return false }
        if let error { c.output.error(error) } else if let reply = st.timeoutReply { reply(c) } else if st.timeoutIsNullArray { c.output.nullArray() } else { c.output.nullBulk() }
        st.spec.statCalls &+= 1
        unblock(c)
        resumePending(c)
        return true
    }

    // MARK: Cron

    private func cron() {
        let hz = min(500, max(1, config.int("hz")))
        nextCron = monotonicMillis() + Int64(1000 / hz)
        now = unixMillis()
        // DEBUG PAUSE-CRON 1: none of the periodic work (a testing aid, as in Redis).
        if cronPaused { return }
        // A replica leaves expiry to its master (whose DELs arrive in the stream).
        // Nor does anything expire or get evicted while clients are paused (as Redis).
        if activeExpireEnabled && !isReplicaRole && !pauseActive {
            let t = monotonicMillis()
            activeExpireCycle(budgetMs: 25)
            recordLatencyEvent("expire-cycle", ms: Int(monotonicMillis() - t))
        }
        if !pauseActive { maxmemoryCron() }
        if trackingInUse { tracking.enforceLimit() }
        flushPropagation()
        // A stream deleted by the expiry cycle wakes its blocked XREADGROUP clients (with an error).
        if !readyKeys.isEmpty { serveReadyKeys() }
        for h in cronHooks { h(self) }
        flushPropagation()
    }

    /// Samples keys with a TTL and deletes the expired ones, repeating on a database while more than
    /// a quarter of a sample had expired, within a time budget so a cycle never pauses the server long.
    private func activeExpireCycle(budgetMs: Int64) {
        let start = monotonicMicros()
        defer { stats.expireCycleMicros += monotonicMicros() - start }
        for db in databases where db.table.volatileCount == 0 { db.avgTTL = 0 }
        for db in databases where db.table.volatileCount > 0 {
            while true {
                let (checked, expired) = db.activeExpire(maxChecks: 20)
                if checked == 0 || expired * 4 <= checked { break }
                if monotonicMicros() - start > budgetMs * 1000 {
                    stats.expireCycleTimeCapReached += 1
                    return
                }
            }
        }
    }

    // MARK: Databases

    public func swapDatabases(_ a: Int, _ b: Int) {
        let ta = databases[a].table
        databases[a].table = databases[b].table
        databases[b].table = ta
        (databases[a].avgTTL, databases[b].avgTTL) = (databases[b].avgTTL, databases[a].avgTTL)
        // As Redis 7.0 does after SWAPDB: clients blocked in either database on a key that now
        // holds a list or sorted set get served.
        if hasBlocked {
            for wk in blockedByKey.keys where wk.db == a || wk.db == b {
                // A vanished stream also wakes its XREADGROUP clients (with an error), as in Redis 7.0.
                markReady(db: wk.db, key: wk.key)
            }
        }
    }

    public func flushAll(async: Bool = false) {
        for db in databases { touchAllWatched(db: db.id); db.removeAll(async: async) }
        if trackingInUse { tracking.invalidateAll(by: executingClient) }
    }
}
