import CJemalloc
import LunarRESP
#if canImport(Glibc)
import Glibc
#endif

/// maxmemory, as in Redis 7.0.
///
/// Before each command a client sends (`Engine.dispatch`, top level only) the used memory is compared
/// with `maxmemory`. Above it, keys are evicted by `maxmemory-policy` until the data fits again, for
/// at most the time `maxmemory-eviction-tenacity` allows (what is left continues before the next
/// commands and on cron ticks). When nothing can be evicted — `noeviction`, or a volatile policy with
/// no key that has a TTL — the commands flagged denyoom (those that may add data: SET, LPUSH, …, a
/// script or function not declared `allow-oom` or `no-writes`, EXEC of a transaction holding one,
/// and any command queued inside MULTI) are refused with OOM, and a script that started then may not
/// make a denyoom call before its first write (Redis's pre-command OOM state).
///
/// The LRU, LFU and TTL policies keep a pool of the 16 best candidates, refilled with
/// `maxmemory-samples` random keys from each database on every pick, and evict the best of it: the
/// approximation Redis documents, not a global order. The random policies evict random keys, taking
/// the databases in turn. An evicted key is deleted as DEL (UNLINK with lazyfree-lazy-eviction) is
/// propagated, with an `evicted` keyspace event and the evicted_keys counter.
///
/// Used memory is `MemoryGauge.shared`: jemalloc's total, brought up to date with per-thread counters.
public enum EvictionPolicy: String {
    case noeviction
    case allkeysLRU = "allkeys-lru", allkeysLFU = "allkeys-lfu", allkeysRandom = "allkeys-random"
    case volatileLRU = "volatile-lru", volatileLFU = "volatile-lfu", volatileRandom = "volatile-random"
    case volatileTTL = "volatile-ttl"

    var allKeys: Bool { self == .allkeysLRU || self == .allkeysLFU || self == .allkeysRandom }
    var usesLFU: Bool { self == .allkeysLFU || self == .volatileLFU }
    var isRandom: Bool { self == .allkeysRandom || self == .volatileRandom }
}

/// The engine's maxmemory settings and eviction state (engine thread only).
final class Eviction {
    var maxmemory = 0
    var policy = EvictionPolicy.noeviction
    var samples = 5
    var tenacity = 10
    var lfuLogFactor = 10
    var lfuDecayMinutes = 1
    var lazy = false
    /// The last check before a command found memory over the limit with nothing left to evict
    /// (Redis's pre_command_oom_state): a script started then is refused its first denyoom call.
    var oomAtCommandStart = false
    /// Eviction stopped at its time budget with memory still over the limit: cron goes on with it.
    var unfinished = false
    /// Since when (monotonic µs) memory has stayed over the limit after eviction (0: it is not),
    /// and the time it was so before: INFO's total/current_eviction_exceeded_time.
    var exceededSince: Int64 = 0
    var exceededMicros: Int64 = 0

    func noteResult(_ r: Result) {
        if r == .ok {
            if exceededSince != 0 {
                exceededMicros += monotonicMicros() - exceededSince
                exceededSince = 0
            }
        } else if exceededSince == 0 {
            exceededSince = monotonicMicros()
        }
    }
    /// The best candidates so far, ascending by score (the last one is evicted first).
    var pool: [(score: UInt64, db: Int, key: Bytes)] = []
    static let poolSize = 16
    /// Where the random policies start looking (the databases take turns).
    var nextDB = 0
    var rng = FastRandom()

    enum Result { case ok, running, fail }

    func load(_ c: ConfigStore) {
        maxmemory = c.int("maxmemory")
        policy = EvictionPolicy(rawValue: c.string("maxmemory-policy")) ?? .noeviction
        samples = max(1, c.int("maxmemory-samples"))
        tenacity = c.int("maxmemory-eviction-tenacity")
        lfuLogFactor = c.int("lfu-log-factor")
        lfuDecayMinutes = c.int("lfu-decay-time")
        lazy = c.bool("lazyfree-lazy-eviction")
        if maxmemory == 0 { unfinished = false; oomAtCommandStart = false }
    }

    /// How long one call may evict, from the tenacity (0–100): 50 µs per step up to 10 (500 µs at
    /// the default), then 15% more per step, and no limit at 100 — Redis's curve.
    var timeLimitMicros: Int64 {
        if tenacity <= 10 { return Int64(50 * tenacity) }
        if tenacity >= 100 { return Int64.max }
        return Int64(500.0 * pow(1.15, Double(tenacity - 10)))
    }

    // The used memory as each command's check reads it: the full gauge (a lock and every registered
    // thread's counters) is read once per engine round, and within the round only the engine
    // thread's own counters move it — the requests of the round were parsed before it began, and
    // what the event loops parse meanwhile runs in a later round.
    var roundBase = 0
    var engineNetAtRoundBase: Int64 = 0
    var roundBaseValid = false
    var ownAllocated: UnsafeMutablePointer<UInt64>?
    var ownFreed: UnsafeMutablePointer<UInt64>?

    /// The engine thread's own net allocated bytes (0 before its counters are known).
    @inline(__always) var engineNet: Int64 {
        guard let a = ownAllocated, let f = ownFreed else { return 0 }
        return Int64(bitPattern: a.pointee &- f.pointee)
    }

    /// Reads the full gauge as the base for the commands that follow (each round, and after cron
    /// or CONFIG SET refreshed it).
    func takeRoundBase() {
        roundBase = MemoryGauge.shared.used()
        engineNetAtRoundBase = engineNet
        roundBaseValid = true
    }

    /// Used memory for maxmemory's checks (see takeRoundBase).
    @inline(__always) func usedMemory() -> Int {
        if !roundBaseValid { takeRoundBase() }
        return roundBase + Int(engineNet &- engineNetAtRoundBase)
    }

    /// Called on the engine thread when it starts: its own counters, read without a lock.
    func adoptEngineThread() {
        var a: UnsafeMutablePointer<UInt64>?
        var f: UnsafeMutablePointer<UInt64>?
        if cjemalloc_thread_counters(&a, &f) {
            ownAllocated = a
            ownFreed = f
        }
        roundBaseValid = false
    }

    /// A uniform number in [0, 1) (LFU's probabilistic increment).
    func unitRandom() -> Double { Double(rng.next() >> 11) * 0x1p-53 }
}

/// The per-key access clock: one 32-bit word per key (KeyTable), in the two forms Redis keeps in
/// the 24 LRU bits of each object — the form follows the policy, and after a switch between an LFU
/// policy and another the old words read as nonsense until the keys are used again, as in Redis.
/// - LRU: the engine clock in seconds, modulo 2^24 (it wraps every 194 days; idle times are taken
///   modulo that too).
/// - LFU: the minute (modulo 2^16) of the counter's last decay, then an 8-bit logarithmic access
///   counter: new keys start at 5; each access first takes one off per `lfu-decay-time` minutes
///   gone by, then adds one with probability 1 / ((counter − 5) × lfu-log-factor + 1).
extension Engine {
    static let lruClockMax: UInt32 = (1 << 24) - 1
    static let lfuInitialCounter: UInt32 = 5

    @inline(__always) var lruClock: UInt32 { UInt32(truncatingIfNeeded: now / 1000) & Engine.lruClockMax }
    @inline(__always) var lfuMinutes: UInt32 { UInt32(truncatingIfNeeded: now / 60_000) & 0xFFFF }

    /// The clock of a key created now.
    @inline(__always) func newKeyClock() -> UInt32 {
        lfuMode ? lfuMinutes << 8 | Engine.lfuInitialCounter : lruClock
    }

    /// The clock of a key used now, given its clock before.
    @inline(__always) func touchedClock(_ old: UInt32) -> UInt32 {
        lfuMode ? lfuTouched(old) : lruClock
    }

    private func lfuTouched(_ old: UInt32) -> UInt32 {
        var counter = UInt32(lfuCounter(old))
        if counter < 255 {
            let base = Double(max(0, Int(counter) - Int(Engine.lfuInitialCounter)))
            if eviction.unitRandom() < 1.0 / (base * Double(eviction.lfuLogFactor) + 1) { counter += 1 }
        }
        return lfuMinutes << 8 | counter
    }

    /// Milliseconds since the key was last used (LRU form), wrap-around included.
    func idleMillis(_ clock: UInt32) -> Int {
        let now = lruClock
        let c = clock & Engine.lruClockMax
        let seconds = now >= c ? now - c : now + (Engine.lruClockMax - c)
        return Int(seconds) * 1000
    }

    /// The key's LFU counter with the decay for the minutes gone by (what OBJECT FREQ answers).
    func lfuCounter(_ clock: UInt32) -> Int {
        let last = Int(clock >> 8) & 0xFFFF
        let now = Int(lfuMinutes)
        let elapsed = now >= last ? now - last : 65535 - last + now
        let counter = Int(clock & 255)
        let periods = eviction.lfuDecayMinutes > 0 ? elapsed / eviction.lfuDecayMinutes : 0
        return periods > counter ? 0 : counter - periods
    }

    // MARK: RDB (Redis saves the idle time under an LRU policy, the counter under an LFU one)

    /// What an RDB file records of a key's access clock: its idle seconds under allkeys-lru and
    /// volatile-lru, its LFU counter under the LFU policies, nothing otherwise.
    public func rdbAccessInfo(_ clock: UInt32) -> (idleSeconds: Int?, frequency: Int?) {
        switch eviction.policy {
        case .allkeysLRU, .volatileLRU: return (idleMillis(clock) / 1000, nil)
        case .allkeysLFU, .volatileLFU: return (nil, lfuCounter(clock))
        default: return (nil, nil)
        }
    }

    /// The access clock of a key loaded with what its RDB record said, when that applies to the
    /// clock form in use (nil: keep the clock of a new key).
    public func clockFromRDB(idleSeconds: Int?, frequency: Int?) -> UInt32? {
        if lfuMode {
            guard let f = frequency else { return nil }
            return lfuMinutes << 8 | UInt32(min(255, max(0, f)))
        }
        guard let idle = idleSeconds else { return nil }
        let wrap = Int(Engine.lruClockMax)
        var c = Int(lruClock) - min(idle, wrap)
        if c < 0 { c += wrap }
        return UInt32(c)
    }

    // MARK: Eviction

    /// Frees memory down to maxmemory if it is over (see Eviction). `.fail` when it is over and
    /// nothing can be evicted; `.running` when the time budget ran out first.
    func performEvictions() -> Eviction.Result {
        let r = evictToLimit()
        eviction.noteResult(r)
        return r
    }

    /// INFO stats: how long memory stayed over maxmemory after eviction, in all and right now (ms).
    public var evictionExceededMillis: (total: Int64, current: Int64) {
        let ev = eviction
        let current = ev.exceededSince == 0 ? 0 : monotonicMicros() - ev.exceededSince
        return ((ev.exceededMicros + current) / 1000, current / 1000)
    }

    private func evictToLimit() -> Eviction.Result {
        let ev = eviction
        guard ev.maxmemory > 0 else { return .ok }
        var used = ev.usedMemory() - memoryNotCountedForEviction
        if used <= ev.maxmemory {
            ev.unfinished = false
            return .ok
        }
        if ev.policy == .noeviction { return .fail }
        let start = monotonicMicros()
        let limit = ev.timeLimitMicros
        var evicted = 0
        while used > ev.maxmemory {
            guard let (db, slot) = pickVictim() else {
                ev.unfinished = false
                return .fail
            }
            evict(db: db, slot: slot)
            evicted += 1
            used = ev.usedMemory() - memoryNotCountedForEviction
            if evicted % 16 == 0 && monotonicMicros() - start > limit {
                ev.unfinished = used > ev.maxmemory
                return ev.unfinished ? .running : .ok
            }
        }
        ev.unfinished = false
        return .ok
    }

    private func evict(db: Database, slot: Int) {
        let key = db.table.key(at: slot)
        db.table.remove(slot: slot)
        stats.evictedKeys &+= 1
        if hasWatchers { touchWatched(db: db.id, key: key) }
        keyChanged(key, byCommand: false)
        db.notify(KeyspaceEvents.evicted, "evicted", key)
        recordEviction(db: db.id, key: key, lazy: eviction.lazy)
    }

    /// The next key to evict under the policy, or nil when there is none.
    private func pickVictim() -> (Database, Int)? {
        let ev = eviction
        if ev.policy.isRandom {
            for i in 0..<databases.count {
                let db = databases[(ev.nextDB + i) % databases.count]
                let slot = ev.policy.allKeys ? db.table.randomSlot(using: &ev.rng) : db.table.randomVolatileSlot(using: &ev.rng)
                if let slot {
                    ev.nextDB = (db.id + 1) % databases.count
                    return (db, slot)
                }
            }
            return nil
        }
        // Refill the pool from every database, then take the best candidate that is still there.
        while true {
            var sampled = 0
            for db in databases {
                sampled += samplePool(db)
            }
            if sampled == 0 { return nil }
            while let c = ev.pool.popLast() {
                let db = databases[c.db]
                if let s = db.table.slot(of: c.key), ev.policy.allKeys || db.table.expire(at: s) != 0 {
                    return (db, s)
                }
            }
        }
    }

    /// Adds up to maxmemory-samples random keys of `db` to the pool by score (higher: evicted
    /// sooner); returns how many keys were sampled.
    private func samplePool(_ db: Database) -> Int {
        let ev = eviction
        let table = db.table
        let candidates = ev.policy.allKeys ? table.count : table.volatileCount
        if candidates == 0 { return 0 }
        var n = 0
        for _ in 0..<min(ev.samples, candidates) {
            guard let s = ev.policy.allKeys ? table.randomSlot(using: &ev.rng) : table.randomVolatileSlot(using: &ev.rng) else { break }
            n += 1
            let score: UInt64
            switch ev.policy {
            case .volatileTTL: score = UInt64.max - UInt64(max(0, table.expire(at: s)))
            case .allkeysLFU, .volatileLFU: score = UInt64(255 - lfuCounter(table.clock(at: s)))
            default: score = UInt64(idleMillis(table.clock(at: s)))
            }
            if ev.pool.count >= Eviction.poolSize && score <= ev.pool[0].score { continue }
            let key = table.key(at: s)
            if ev.pool.contains(where: { $0.db == db.id && $0.key == key }) { continue }
            var i = ev.pool.count
            while i > 0 && ev.pool[i - 1].score > score { i -= 1 }
            ev.pool.insert((score, db.id, key), at: i)
            if ev.pool.count > Eviction.poolSize { ev.pool.removeFirst() }
        }
        return n
    }

    /// The check before a top-level command: evicts if needed and says whether the command must be
    /// refused with OOM (`denyoom`: it is one the limit refuses, see Eviction).
    func rejectForMaxmemory(denyoom: @autoclosure () -> Bool) -> Bool {
        let oom = performEvictions() == .fail
        eviction.oomAtCommandStart = oom
        return oom && denyoom()
    }

    /// maxmemory was exceeded with nothing to evict at the check before the running command (a
    /// script then may not make a denyoom call before its first write).
    public var scriptStartedOutOfMemory: Bool { eviction.maxmemory > 0 && eviction.oomAtCommandStart }

    /// Continues an eviction that ran out of time, and refreshes the memory gauge (cron).
    func maxmemoryCron() {
        guard eviction.maxmemory > 0 else { return }
        MemoryGauge.shared.refresh()
        eviction.takeRoundBase()
        if eviction.unfinished { _ = performEvictions() }
    }
}

/// A running estimate of the bytes the process has allocated, cheap enough to read before every
/// command: jemalloc's exact total (stats.allocated, whose refresh takes microseconds) taken on
/// cron ticks, plus what the registered threads — the engine thread and the event loops, where
/// the server allocates — allocated minus freed since, from jemalloc's per-thread counters.
/// (A value parsed on an event loop and freed by the engine nets out across the two threads.)
public final class MemoryGauge: @unchecked Sendable {
    public static let shared = MemoryGauge()

    private struct Counters {
        let id: Int
        let allocated: UnsafeMutablePointer<UInt64>
        let freed: UnsafeMutablePointer<UInt64>
        var net: Int64 { Int64(bitPattern: cjemalloc_read_counter(allocated) &- cjemalloc_read_counter(freed)) }
    }
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var threads: [Counters] = []
    private var nextID = 1
    /// Net bytes of registered threads that have exited (their allocations outlive them).
    private var retired: Int64 = 0
    private var base = 0
    private var netAtBase: Int64 = 0
    /// Unregisters a thread when it exits: its counters live in its thread-local storage.
    private var exitKey = pthread_key_t()

    private init() {
        pthread_mutex_init(lock, nil)
        pthread_key_create(&exitKey) { value in
            MemoryGauge.shared.unregister(id: Int(bitPattern: value))
        }
        refresh()
    }

    /// Adds the calling thread's counters (once per thread; the thread is dropped when it exits).
    public func registerCurrentThread() {
        if pthread_getspecific(exitKey) != nil { return }
        var a: UnsafeMutablePointer<UInt64>?
        var f: UnsafeMutablePointer<UInt64>?
        guard cjemalloc_thread_counters(&a, &f), let a, let f else { return }
        pthread_mutex_lock(lock)
        let id = nextID
        nextID += 1
        let c = Counters(id: id, allocated: a, freed: f)
        threads.append(c)
        // The thread's allocations before now are in jemalloc's total already.
        netAtBase &+= c.net
        pthread_mutex_unlock(lock)
        pthread_setspecific(exitKey, UnsafeRawPointer(bitPattern: id))
    }

    private func unregister(id: Int) {
        pthread_mutex_lock(lock)
        if let i = threads.firstIndex(where: { $0.id == id }) {
            retired &+= threads[i].net
            threads.remove(at: i)
        }
        pthread_mutex_unlock(lock)
    }

    /// Sum of the registered threads' net bytes (the lock held: a thread cannot exit meanwhile).
    private func netLocked() -> Int64 {
        var sum = retired
        for c in threads { sum &+= c.net }
        return sum
    }

    /// Takes jemalloc's exact total as the new base.
    public func refresh() {
        let total = Int(cjemalloc_allocated())
        pthread_mutex_lock(lock)
        base = total
        netAtBase = netLocked()
        pthread_mutex_unlock(lock)
    }

    /// The estimate of allocated bytes now.
    public func used() -> Int {
        pthread_mutex_lock(lock)
        let v = base + Int(netLocked() &- netAtBase)
        pthread_mutex_unlock(lock)
        return max(0, v)
    }
}
