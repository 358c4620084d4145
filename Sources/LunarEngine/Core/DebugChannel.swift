import Foundation
import LunarRESP

/// Carries a debugging client's input to the engine thread while a Lua debugger session holds it.
///
/// During a session (SCRIPT DEBUG) the engine thread waits inside the script for the next debugger
/// command, so the client's requests cannot go through the engine queue. Its connection handler
/// sees `Client.debugging` set and puts them here instead; the engine takes them one at a time.
public final class DebugChannel: @unchecked Sendable {
    public enum Message {
        case command([Bytes])
        /// The debugging client's connection went away: the session ends.
        case disconnected
    }

    private let cond = NSCondition()
    private var items: [Message] = []

    public init() {}

    /// Called by the I/O side.
    public func put(_ commands: [[Bytes]]) {
        cond.lock()
        items.append(contentsOf: commands.map { .command($0) })
        cond.signal()
        cond.unlock()
    }

    public func disconnect() {
        cond.lock()
        items.append(.disconnected)
        cond.signal()
        cond.unlock()
    }

    /// Waits (engine thread) for the next message, up to `timeoutMs`; nil on timeout.
    public func take(timeoutMs: Int) -> Message? {
        cond.lock()
        defer { cond.unlock() }
        let deadline = Date(timeIntervalSinceNow: Double(timeoutMs) / 1000)
        while items.isEmpty {
            if !cond.wait(until: deadline) { return nil }
        }
        return items.removeFirst()
    }

    /// Forgets anything left from an earlier session.
    public func reset() {
        cond.lock()
        items.removeAll()
        cond.unlock()
    }
}
