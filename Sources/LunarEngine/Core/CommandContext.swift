#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// Redis's shared error replies, worded exactly as Redis 7.0 words them.
public enum Err {
    public static let wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public static let syntax = "ERR syntax error"
    public static let notInteger = "ERR value is not an integer or out of range"
    public static let oom = "OOM command not allowed when used memory > 'maxmemory'."
    public static let notFloat = "ERR value is not a valid float"
    public static let indexOutOfRange = "ERR index out of range"
    public static let noSuchKey = "ERR no such key"
    public static let overflow = "ERR increment or decrement would overflow"
    public static let dbIndexOutOfRange = "ERR DB index is out of range"
    public static let timeoutNotFloat = "ERR timeout is not a float or out of range"
    public static let timeoutNegative = "ERR timeout is negative"
}

/// Everything a command handler needs: its arguments, its client, the database, and the reply writer.
///
/// One context serves one command execution at a time; the engine reuses it between commands.
public final class CommandContext {
    /// The engine owns this object and outlives it; unowned(unsafe) skips the runtime check a
    /// checked unowned reference pays on every access (several per command).
    public unowned(unsafe) let engine: Engine
    /// The client the command runs for. Not owned (no retain/release on every read): whoever runs
    /// the command holds the client meanwhile, and the engine points idle contexts at its idle client.
    public unowned(unsafe) var client: Client
    public var argv: [Bytes] = []
    /// The running command's spec. Specs live as long as the command table (built at startup and
    /// never shrunk), so the context need not own it: no retain/release per command.
    public unowned(unsafe) var spec: CommandSpec!
    /// Where the reply goes (the client's output, or a scratch writer for EXEC and scripts).
    public var out: ReplyWriter
    /// True inside MULTI/EXEC or a script: blocking commands must answer at once instead of blocking.
    public var noBlocking = false
    /// True when a blocked command is being re-run because one of its keys got data.
    public var isRetry = false
    /// True when running inside a Lua script (some commands behave differently there).
    public var inScript = false

    /// What this command propagates instead of its own argv (nil: its argv when it changed data).
    public var propagateOverride: [[Bytes]]?
    /// Set by a command that propagates although it changed no data (PUBLISH, to replicas).
    public var forcedPropagation: PropagationTargets?

    init(engine: Engine, client: Client) {
        self.engine = engine
        self.client = client
        self.out = ReplyWriter(resp: client.resp, capacity: 0)
    }

    @inline(__always) public var argc: Int { argv.count }
    @inline(__always) public var db: Database { engine.databases[client.db] }
    @inline(__always) public var now: Int64 { engine.now }

    // MARK: Replies

    @inline(__always) public func error(_ message: String) { out.error(message) }
    /// An error that quotes arguments byte for byte, as Redis does: `ctx.error(quoting: "ERR … '\(quoted: arg)'")`.
    public func error(quoting message: QuotingMessage) { out.error(quoting: message) }
    @inline(__always) public func wrongType() { out.error(Err.wrongType) }
    @inline(__always) public func syntaxError() { out.error(Err.syntax) }
    @inline(__always) public func ok() { out.ok() }

    // MARK: Propagation

    /// Propagates these commands (deterministic forms) instead of this command's argv. Only evaluated
    /// while something consumes the feed.
    @inline(__always) public func propagateAs(_ argvs: @autoclosure () -> [[Bytes]]) {
        if engine.isPropagating { propagateOverride = argvs() }
    }

    /// This command propagates even though it changed no data, to these targets only.
    @inline(__always) public func forcePropagation(to targets: PropagationTargets) {
        if engine.isPropagating { forcedPropagation = targets }
    }

    /// This command propagates nothing itself (EXEC, scripts: the commands they ran do).
    @inline(__always) public func propagateNothing() {
        if engine.isPropagating { propagateOverride = [] }
    }

    // MARK: Argument parsing (each writes Redis's error reply and returns nil on failure)

    /// A strict 64-bit integer argument ("ERR value is not an integer or out of range").
    public func int(_ i: Int, error: String = Err.notInteger) -> Int? {
        guard let v = parseStrictInt(argv[i].raw) else {
            out.error(error)
            return nil
        }
        return v
    }

    /// A double argument as Redis parses it (strtod, no NaN, no trailing garbage): "ERR value is not a valid float".
    public func double(_ i: Int, error: String = Err.notFloat) -> Double? {
        guard let v = parseDouble(argv[i]) else {
            out.error(error)
            return nil
        }
        return v
    }

    /// Parses a blocking timeout in seconds (BLPOP…): returns the absolute deadline in ms (0 for none).
    ///
    /// As Redis 7.0 does it: the argument is read as a long double, multiplied by 1000 and rounded
    /// up to whole ms, then converted to a 64-bit integer. "inf" and values past 2^63 ms convert to the
    /// x86 integer-indefinite value (INT64_MIN) and are reported as negative; tiny negative values
    /// round up to 0 and block forever; tiny positive ones round up to 1 ms.
    public func timeoutDeadline(_ i: Int) -> Int64? {
        guard let secs = StringEncoding.parseLongDouble(argv[i]) else {
            out.error(Err.timeoutNotFloat)
            return nil
        }
        let up = (secs * 1000).rounded(.up)
        let inRange = up.isFinite && up >= -9223372036854775808.0 && up < 9223372036854775808.0
        let msInt: Int64 = inRange ? Int64(up) : Int64.min
        if msInt < 0 {
            out.error(Err.timeoutNegative)
            return nil
        }
        if msInt == 0 { return 0 }
        let (deadline, overflow) = engine.now.addingReportingOverflow(msInt)
        // Past the end of time: Redis never fires such a timeout either.
        return overflow ? 0 : deadline
    }

    /// The key whose readiness caused this re-run of a blocked command (nil on a normal run).
    /// Redis 7.0 serves a client blocked on several keys from the key that became ready.
    public internal(set) var readyKey: Bytes?

    /// True if argument i equals the option name, ignoring case.
    @inline(__always) public func arg(_ i: Int, is option: StaticString) -> Bool {
        i < argv.count && argv[i].equalsIgnoringCase(option)
    }

    // MARK: Blocking

    /// Blocks the client on `keys` until one of them gets data or the deadline passes.
    /// Only valid when `noBlocking` is false; the command is run again when a key becomes ready.
    public func block(on keys: [Bytes], deadline: Int64, timeoutIsNullArray: Bool) {
        engine.block(client: client, state: BlockedState(
            keys: keys, db: client.db, deadline: deadline, argv: argv, spec: spec,
            timeoutIsNullArray: timeoutIsNullArray), isRetry: isRetry)
    }
}

/// Parses a double the way Redis does: the whole string must be consumed by strtod, no leading space, not NaN.
@inline(__always) private func plainDecimal(_ b: Bytes) -> Double? {
    b.raw.withUnsafeBufferPointer { p -> Double? in
        let negative = p[0] == UInt8(ascii: "-")
        var i = negative ? 1 : 0
        if i == p.count || p.count - i > 18 { return nil }
        var v: UInt64 = 0
        while i < p.count {
            let d = p[i] &- 48
            if d > 9 { return nil }
            v = v &* 10 &+ UInt64(d)
            i += 1
        }
        return negative ? -Double(v) : Double(v)
    }
}

public func parseDouble(_ b: Bytes) -> Double? {
    let n = b.count
    if n == 0 || n > 5000 { return nil }
    if b[0] == 32 || (b[0] >= 9 && b[0] <= 13) { return nil }
    // Fast path for plain integers, leading zeros and a minus sign allowed (redis-benchmark's random
    // scores are zero-padded): up to 18 digits fit a UInt64, and converting that to Double rounds
    // to nearest as strtod does, so the result is the same.
    if n <= 19, let d = plainDecimal(b) { return d }
    var buf = b.raw
    buf.append(0)
    return buf.withUnsafeBufferPointer { p -> Double? in
        let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let v = strtod(start, &end)
        guard let end, end - UnsafeMutablePointer(mutating: start) == n else { return nil }
        if v.isNaN { return nil }
        // As Redis: out of range is an error when it overflowed or underflowed to zero (denormals pass).
        if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
        return v
    }
}

extension CommandContext {
    /// Whether a protected action gated by a yes/no/local option (`enable-debug-command`,
    /// `enable-module-command`) may run for this client; "local" admits loopback and Unix socket
    /// clients and the server's own.
    public func protectedActionAllowed(_ option: String) -> Bool {
        switch engine.config.string(option) {
        case "yes": return true
        case "local":
            let a = client.remoteAddress
            return client.isInternal || a.hasPrefix("127.") || a.hasPrefix("::1") || client.isUnixSocket || a.isEmpty
        default: return false
        }
    }
}
