import Atomics
import LunarEngine
import LunarRESP
import NIOCore

/// Collects the command batches of every connection served by one event loop during one loop tick
/// and hands them to the engine in a single queue operation at the end of the tick.
///
/// With many connections this turns "one engine wake-up per connection" into "one per tick": the
/// engine thread then runs a long round of commands instead of being woken for each client, which
/// matters most when the server shares one core with its I/O thread.
final class LoopBatcher: @unchecked Sendable {
    private let loop: EventLoop
    /// The loop's position in the event loop group (ChannelConnection.loopIndex).
    let index: Int
    private let engine: Engine
    private var pending: [Engine.Submission] = []
    private var scheduled = false
    /// Reads and reply writes done on this loop (INFO's total_reads_processed and
    /// total_writes_processed). Only the loop writes them, with a plain load and store (no locked
    /// instruction on the request path); INFO reads them from the engine thread.
    let reads = ManagedAtomic<Int>(0)
    let writes = ManagedAtomic<Int>(0)
    @inline(__always) func countRead() { reads.store(reads.load(ordering: .relaxed) &+ 1, ordering: .relaxed) }
    @inline(__always) func countWrite() { writes.store(writes.load(ordering: .relaxed) &+ 1, ordering: .relaxed) }

    init(loop: EventLoop, index: Int, engine: Engine) {
        self.loop = loop
        self.index = index
        self.engine = engine
    }

    /// Adds a client's commands (on the event loop); they are submitted when the tick's reads are done.
    func add(_ submission: Engine.Submission) {
        pending.append(submission)
        if !scheduled {
            scheduled = true
            loop.execute { self.flush() }
        }
    }

    /// Submits everything collected so far. Called at the end of the tick, and before anything that
    /// must reach the engine after a connection's earlier commands (disconnect, protocol error).
    func flush() {
        scheduled = false
        if pending.isEmpty { return }
        let batches = pending
        pending = []
        engine.submit(batches: batches)
    }
}
