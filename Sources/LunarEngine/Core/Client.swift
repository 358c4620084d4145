import Atomics
import DequeModule
import LunarRESP
import NIOCore

/// The network side of a client, implemented by the server module. Called from the engine thread.
public protocol ClientConnection: AnyObject, Sendable {
    /// Sends encoded replies; when `thenClose` is set the connection closes after they are written.
    func send(_ buffer: ByteBuffer, thenClose: Bool)
    /// Closes the connection now (CLIENT KILL).
    func close()
    /// Bytes of reply buffers (their allocations) handed over with `tracking` .limited and not yet
    /// completely written to the socket (client-output-buffer-limit); the engine adds them with
    /// `noteHandedOver` as it hands them.
    var unsentBytes: Int { get }
    /// The same for `tracking` .exempt (a replica's output: its snapshot, and its stream when the
    /// replica class has no limit).
    var unsentExemptBytes: Int { get }
    /// How many buffers those bytes are in (CLIENT LIST's `oll`).
    var unsentBuffers: Int { get }
    func noteHandedOver(_ bytes: Int, _ tracking: UnsentTracking)
    /// Bytes received and not yet parsed into commands (CLIENT LIST's `qbuf`).
    var unparsedInputBytes: Int { get }
    /// The socket's file descriptor, for CLIENT LIST's `fd` (-1 when unknown).
    var descriptor: Int32 { get }
}

extension ClientConnection {
    public var descriptor: Int32 { -1 }
    public var unsentBuffers: Int { 0 }
    public var unparsedInputBytes: Int { 0 }
}

/// How a hand-over's bytes are counted until written: as the client's output (.limited: CLIENT LIST's
/// omem, and against its class's client-output-buffer-limit when there is one), as memory maxmemory
/// leaves out (.exempt: replicas' output), or not at all.
public enum UnsentTracking: UInt8, Sendable {
    case none, limited, exempt
}

/// Replies for one connection, produced in one engine round.
public struct OutgoingReplies: @unchecked Sendable {
    public let connection: ClientConnection
    public let buffer: ByteBuffer
    public let thenClose: Bool
    /// How the buffer's bytes count in the connection's unsent figures until written.
    public let tracking: UnsentTracking
}

/// Why a client is blocked (BLPOP and friends): the command to run again when one of its keys gets data.
public struct BlockedState {
    public var keys: [Bytes]
    public var db: Int
    /// Unix ms at which the client times out; 0 means never.
    public var deadline: Int64
    public var argv: [Bytes]
    public var spec: CommandSpec
    /// Reply sent on timeout: RESP null array or null bulk. Redis 7.0 answers a timed-out list, zset or
    /// stream wait (BLMOVE and BRPOPLPUSH included) with a null array.
    public var timeoutIsNullArray: Bool
    /// Writes the reply on timeout or CLIENT UNBLOCK instead of a null (WAIT answers with a count).
    public var timeoutReply: ((Client) -> Void)? = nil
    /// Held by CLIENT PAUSE rather than waiting for keys: `argv` runs when the pause ends.
    public var postponed = false
}

/// A key watched by WATCH.
public struct WatchedKey: Hashable {
    public var db: Int
    public var key: Bytes
}

/// Per-connection state. Owned by the engine thread: only the engine reads or writes these fields
/// (the I/O side keeps its own copies of what it needs, such as the id).
public final class Client: @unchecked Sendable {
    public let id: Int
    public let connection: ClientConnection?
    public var name: Bytes = Bytes()
    public var db: Int = 0
    public var resp: Int = 2
    public let remoteAddress: String
    public let localAddress: String
    public let createdAt: Int64
    public var lastInteraction: Int64
    public var lastCommand: String = "NULL"
    public var libName: Bytes = Bytes()
    public var libVersion: Bytes = Bytes()
    /// CLIENT NO-EVICT: excluded from client eviction (reported as flag `e` by CLIENT LIST).
    public var noEvict = false
    /// CLIENT REPLY OFF: replies are dropped until CLIENT REPLY ON.
    public var replyOff = false
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    public var replySkipNext = false
    /// The running command's reply is skipped (the command before it was CLIENT REPLY SKIP).
    public var replySkipping = false
    /// A replica attached by SYNC/PSYNC: it gets the replication stream and no replies (flag S).
    public internal(set) var isReplica = false
    /// The link to this server's master when it is a replica: its commands are the master's stream
    /// (never refused as writes to a read-only replica, keys it touches are alive until the master
    /// deletes them). It is not a connection of this server, so CLIENT LIST does not show it.
    public internal(set) var isMasterLink = false
    /// CLIENT TRACKING's settings; nil while tracking is off.
    public internal(set) var tracking: TrackingState?
    /// In MONITOR mode: receives a line for every command the server runs (flag O).
    public internal(set) var isMonitor = false
    /// Passed AUTH (or connected while no password was required): until then, with `requirepass`
    /// set, only AUTH, HELLO … AUTH, RESET and QUIT run (NOAUTH). Internal clients are authenticated.
    public var authenticated = true {
        didSet { authenticatedFlag.store(authenticated, ordering: .releasing) }
    }
    /// `authenticated` for the I/O thread (the unauthenticated request limits, see RequestParser).
    public let authenticatedFlag = UnsafeAtomic<Bool>.create(true)
    /// The ACL user this connection is authenticated as; nil for the default user.
    public var user: ACLUser?
    /// Since when (engine ms) the client's pending output has been over its class's soft limit (0: not).
    var softLimitSince: Int64 = 0
    /// The next hand-over of this client's output is not counted against its output buffer limit:
    /// it carries a replica's snapshot (or backlog), which Redis sends outside the buffer too.
    var outputLimitExemptOnce = false

    /// True while this client debugs a script (SCRIPT DEBUG): its input goes to `Engine.debugChannel`.
    public let debugging = UnsafeAtomic<Bool>.create(false)

    /// Commands handed to the engine and not yet run; the I/O side stops reading while it is high.
    public let inFlight = UnsafeAtomic<Int>.create(0)

    /// Replies produced by the engine and not yet handed to the connection.
    public var output: ReplyWriter
    public var closeAfterReply = false
    public var closed = false
    /// In the engine's list of clients whose replies go out at the end of the round.
    var flushQueued = false
    /// The reply buffer handed to the network side the round before last: reused (cleared) for the
    /// next round's replies once the network side has written and dropped it (see Engine.flush).
    var spareOutput: ByteBuffer?

    // MULTI/EXEC
    public var inMulti = false {
        // Mirrored for the I/O side, which must not answer BUSY on its own for a client in MULTI
        // (the rejection has to mark the transaction failed, on the engine).
        didSet { if inMulti != oldValue { multiOpen.store(inMulti, ordering: .releasing) } }
    }
    /// `inMulti`, readable from the I/O threads.
    public let multiOpen = UnsafeAtomic<Bool>.create(false)
    public var multiFailed = false
    public var queued: [[Bytes]] = []
    /// The transaction EXEC is running: CLIENT LIST (and ACL LOG's client line) still show it, as Redis does.
    public var executingTransaction: [[Bytes]]?
    public var watched: [WatchedKey: Bool] = [:]   // key → was it alive when watched
    public var watchDirty = false

    // Pub/Sub
    public var subscriptions = ClientSubscriptions()

    // Blocking
    public var blocked: BlockedState?
    /// Commands received while blocked, run once it is unblocked.
    public var pending: Deque<[Bytes]> = []

    /// True for the engine's own clients (Lua's redis.call, the startup loader).
    public var isInternal: Bool { connection == nil }
    /// Connected through the Unix socket: its address is the socket's path with port 0 (as Redis
    /// shows it), a port no TCP peer has.
    public var isUnixSocket: Bool { connection != nil && remoteAddress.hasSuffix(":0") }

    deinit {
        debugging.destroy()
        inFlight.destroy()
        multiOpen.destroy()
        authenticatedFlag.destroy()
    }

    public init(id: Int, connection: ClientConnection?, remoteAddress: String = "", localAddress: String = "", now: Int64) {
        self.id = id
        self.connection = connection
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.createdAt = now
        self.lastInteraction = now
        self.output = ReplyWriter(resp: 2, capacity: 0)
    }
}
