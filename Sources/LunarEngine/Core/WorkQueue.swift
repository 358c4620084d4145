#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A multi-producer, single-consumer queue: the I/O threads put work in, the engine thread takes
/// everything queued at once. One lock round-trip per batch, not per command.
final class WorkQueue<Item>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var spare: [Item] = []
    private var waiting = false

    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attr)
    }

    func put(_ item: Item) {
        pthread_mutex_lock(mutex)
        items.append(item)
        let wake = waiting
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(cond) }
    }

    /// Appends several items with one lock round-trip and at most one wake-up.
    func put(contentsOf batch: [Item]) {
        if batch.isEmpty { return }
        pthread_mutex_lock(mutex)
        items.append(contentsOf: batch)
        let wake = waiting
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(cond) }
    }

    /// Puts items back at the head of the queue, in order (work taken out but not handled yet).
    func putFront(_ front: [Item]) {
        if front.isEmpty { return }
        pthread_mutex_lock(mutex)
        items.insert(contentsOf: front, at: 0)
        pthread_mutex_unlock(mutex)
    }

    /// Takes every queued item, waiting at most `timeoutMs` for the first one.
    func takeAll(timeoutMs: Int) -> [Item] {
        pthread_mutex_lock(mutex)
        if items.isEmpty && timeoutMs > 0 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let ns = Int(ts.tv_nsec) + (timeoutMs % 1000) * 1_000_000
            ts.tv_sec += timeoutMs / 1000 + ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            waiting = true
            while items.isEmpty {
                if pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT { break }
            }
            waiting = false
        }
        // Swap buffers so the producers append into a warm array.
        swap(&items, &spare)
        let taken = spare
        spare.removeAll(keepingCapacity: true)
        pthread_mutex_unlock(mutex)
        return taken
    }
}
