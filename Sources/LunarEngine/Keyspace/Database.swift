import LunarRESP

/// One numbered database (SELECT n): its key table plus expiry-aware access.
///
/// Every access goes through `lookup…`, which deletes a key whose time has passed (lazy expiry),
/// so an expired key is never visible to a command. Only the engine thread touches a Database.
public final class Database {
    public let id: Int
    /// A class so the hot lookup path works on it in place (no struct copy of its arrays per call).
    public var table = KeyTable()
    /// INFO keyspace's avg_ttl (ms): a running estimate over the TTLs active expiry samples, as Redis
    /// keeps it (each sample batch weighs 2%); 0 when the database has no key with a TTL.
    public internal(set) var avgTTL: Int64 = 0
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    public unowned(unsafe) let engine: Engine

    init(id: Int, engine: Engine) {
        self.id = id
        self.engine = engine
    }

    public var count: Int { table.count }

    // MARK: Lookup

    /// The slot of a live key, deleting it first if it has expired. The lookup counts as a use of
    /// the key (its access clock moves, see Eviction.swift) unless `touch` is false, as for Redis's
    /// LOOKUP_NOTOUCH readers: TYPE, EXISTS, the TTL family, OBJECT, MEMORY USAGE.
    @inline(__always)
    public func slot(_ key: Bytes, touch: Bool = true) -> Int? {
        guard let s = table.slot(of: key) else { return nil }
        let e = table.expire(at: s)
        if e != 0 && e < engine.now && !engine.replayingAppendOnlyFile {
            if engine.isReplicaRole {
                // As a Redis replica: the key stays until the master's DEL. Commands from the master
                // still see it (the master ran them while it was alive); anyone else does not. On a
                // writable replica it goes now, since a local write may create the key again.
                if !engine.executingForMaster {
                    if engine.readOnlyReplicaError == nil { expireSlot(s) }
                    return nil
                }
            } else if engine.pauseActive && !engine.executingWrite {
                // Clients are paused (CLIENT PAUSE): the key is gone for readers but stays until the
                // pause ends, as Redis does (a write meeting it deletes it, so it can be created again).
                return nil
            } else {
                expireSlot(s)
                return nil
            }
        }
        if touch { table.setClock(at: s, engine.touchedClock(table.clock(at: s))) }
        return s
    }

    /// The value of a live key (counts a keyspace hit or miss, as Redis's read lookups do). A miss
    /// publishes a keymiss event unless `notifyMiss` is false (Redis's OBJECT lookups).
    public func lookupRead(_ key: Bytes, notifyMiss: Bool = true, touch: Bool = true) -> Value? {
        if let s = slot(key, touch: touch) {
            engine.stats.keyspaceHits &+= 1
            return table.value(at: s)
        }
        engine.stats.keyspaceMisses &+= 1
        if notifyMiss { notify(KeyspaceEvents.keyMiss, "keymiss", key) }
        return nil
    }

    /// The value of a live key, for commands about to write (no hit/miss accounting).
    public func lookup(_ key: Bytes) -> Value? {
        guard let s = slot(key) else { return nil }
        return table.value(at: s)
    }

    public func exists(_ key: Bytes) -> Bool { slot(key) != nil }

    // MARK: Writes (callers signal modification themselves, once the write really happened)

    /// Sets a key to a value, as SET does: replaces any old value and clears its TTL unless `keepTTL`.
    public func set(_ key: Bytes, _ value: Value, keepTTL: Bool = false) {
        if let s = slot(key) {
            table.replaceValue(at: s, with: value)
            if !keepTTL { table.setExpire(slot: s, 0) }
            signalReady(key)   // a stream replaced by another type wakes its XREADGROUP clients
        } else {
            table.insert(key, value, clock: engine.newKeyClock())
            notify(KeyspaceEvents.new, "new", key)
            signalReadyIfBlockable(key, value)
        }
    }

    /// Adds a key that the caller knows is absent (a "new" keyspace event unless loading data).
    @discardableResult
    public func add(_ key: Bytes, _ value: Value, notifyNew: Bool = true) -> Int {
        let s = table.insert(key, value, clock: engine.newKeyClock())
        if notifyNew { notify(KeyspaceEvents.new, "new", key) }
        signalReadyIfBlockable(key, value)
        return s
    }

    /// As in Redis, creating a list or sorted set key (push, RENAME, COPY, SORT STORE, RESTORE…)
    /// may serve clients blocked on it.
    @inline(__always) private func signalReadyIfBlockable(_ key: Bytes, _ value: Value) {
        guard engine.hasBlocked else { return }
        switch value {
        case .list, .zset, .stream: engine.markReady(db: id, key: key)
        default: break
        }
    }

    /// Deletes a key; true if it existed.
    @discardableResult
    public func delete(_ key: Bytes) -> Bool {
        guard let s = slot(key) else { return false }
        table.remove(slot: s)
        signalReady(key)   // XREADGROUP clients blocked on a deleted stream get an error
        return true
    }

    /// Mutates a live key's value in place. Returns nil when the key is absent.
    public func mutate<R>(_ key: Bytes, _ body: (inout Value) -> R) -> R? {
        guard let s = slot(key) else { return nil }
        return table.withValue(at: s, body)
    }

    // MARK: Expiry

    /// Absolute expiry in Unix ms of a live key, 0 if it has none, nil if the key is absent.
    public func expireTime(_ key: Bytes) -> Int64? {
        guard let s = slot(key) else { return nil }
        return table.expire(at: s)
    }

    /// Sets (or with 0 clears) the absolute expiry of a live key; false if absent.
    @discardableResult
    public func setExpire(_ key: Bytes, at ms: Int64) -> Bool {
        guard let s = slot(key) else { return false }
        table.setExpire(slot: s, ms)
        return true
    }

    /// Deletes an expired key found by lazy or active expiry.
    func expireSlot(_ s: Int) {
        let key = table.key(at: s)
        let value = engine.lazyExpire ? table.value(at: s) : nil
        table.remove(slot: s)
        if let value { engine.lazyFree.release(value) }
        signalReady(key)
        engine.stats.expiredKeys &+= 1
        notify(KeyspaceEvents.expired, "expired", key)
        engine.keyChanged(key, byCommand: false)
        engine.keyExpired(db: self, key: key)
        engine.recordExpiredDeletion(db: id, key: key)
    }

    // MARK: Notifications

    /// Tells WATCHers that `key` changed. Call after every real modification.
    public func signalModified(_ key: Bytes) {
        engine.dirty &+= 1
        if engine.hasWatchers { engine.touchWatched(db: id, key: key) }
        engine.keyChanged(key, byCommand: true)
    }

    /// Tells blocked clients that `key` may now have data for them (a push to a list or zset).
    public func signalReady(_ key: Bytes) {
        if engine.hasBlocked { engine.markReady(db: id, key: key) }
    }

    /// Deletes a key, handing a costly value to the lazy-free thread (UNLINK, `lazyfree-lazy-*`);
    /// true if it existed.
    @discardableResult
    public func deleteLazily(_ key: Bytes) -> Bool {
        guard let s = slot(key) else { return false }
        let value = table.value(at: s)
        table.remove(slot: s)
        signalReady(key)
        if let value { engine.lazyFree.release(value) }
        return true
    }

    /// Removes every key (FLUSHDB), freeing them in the background with `async`.
    public func removeAll(async: Bool = false) {
        if async {
            let lazy = engine.lazyFree
            let n = table.count
            table.removeAll { work in lazy.releaseAll(objects: n, work) }
        } else {
            table.removeAll()
        }
        // XREADGROUP clients blocked on a stream of this database get an error (Redis 7.0).
        if engine.hasBlocked {
            for wk in engine.blockedByKey.keys where wk.db == id { engine.markReady(db: id, key: wk.key) }
        }
        avgTTL = 0
    }

    /// Up to `maxChecks` random volatile keys are tested and the expired ones deleted; returns how many expired.
    func activeExpire(maxChecks: Int) -> (checked: Int, expired: Int) {
        var rng = SystemRandomNumberGenerator()
        var checked = 0
        var expired = 0
        var ttlSum: Int64 = 0
        var ttlSamples: Int64 = 0
        let now = engine.now
        while checked < maxChecks, let s = table.randomVolatileSlot(using: &rng) {
            checked += 1
            let e = table.expire(at: s)
            if e < now {
                expireSlot(s)
                expired += 1
            } else if e > now {
                // Capped so that a batch of far-future TTLs (EXPIREAT near the largest time) cannot
                // overflow the sum.
                ttlSum += min(e - now, Int64.max / 64)
                ttlSamples += 1
            }
        }
        if ttlSamples > 0 {
            let avg = ttlSum / ttlSamples
            if avgTTL == 0 { avgTTL = avg }
            avgTTL = (avgTTL / 50) * 49 + avg / 50
        }
        return (checked, expired)
    }
}
