#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CJemalloc

/// Current Unix time in milliseconds.
public func unixMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Current Unix time in microseconds.
public func unixMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Monotonic milliseconds, for durations.
@inline(__always) public func monotonicMillis() -> Int64 { MonotonicClock.nanos() / 1_000_000 }

/// Monotonic microseconds, for durations (command statistics).
@inline(__always) public func monotonicMicros() -> Int64 { MonotonicClock.nanos() / 1000 }

/// Monotonic time for durations. Where the kernel itself keeps time with the CPU's time-stamp counter
/// (its clock source is `tsc`: the counter is invariant and in step across cores), the counter is
/// read directly and scaled, as Redis does for its monotonic clock: a few cycles instead of a
/// clock_gettime call (about 25 ns on the machines we measure on), which commands run from scripts
/// paid twice each for their statistics. Anywhere else, CLOCK_MONOTONIC.
public enum MonotonicClock {
    struct Scale {
        let ticks0: UInt64
        let nanos0: Int64
        /// Nanoseconds per tick, times 2^32.
        let nanosPerTickQ32: UInt64
    }

    /// Measured once, on first use, against CLOCK_MONOTONIC over about 2 ms.
    static let scale: Scale? = calibrate()

    /// True when durations come from the time-stamp counter.
    public static var usesCPUCounter: Bool { scale != nil }

    @inline(__always) public static func nanos() -> Int64 {
        guard let s = scale else { return systemNanos() }
        let d = lunar_cpu_ticks() &- s.ticks0
        let p = d.multipliedFullWidth(by: s.nanosPerTickQ32)
        return s.nanos0 &+ Int64(truncatingIfNeeded: (p.high << 32) | (p.low >> 32))
    }

    static func systemNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private static func calibrate() -> Scale? {
        guard lunar_cpu_ticks() != 0, kernelClockSource() == "tsc" else { return nil }
        let n0 = systemNanos(), t0 = lunar_cpu_ticks()
        var n1 = n0, t1 = t0
        while n1 - n0 < 2_000_000 {
            n1 = systemNanos()
            t1 = lunar_cpu_ticks()
        }
        guard t1 > t0 else { return nil }
        let q = (Double(n1 - n0) / Double(t1 - t0)) * 4_294_967_296.0
        guard q.isFinite, q > 0, q < 4_294_967_296.0 * 1000 else { return nil }
        return Scale(ticks0: t1, nanos0: n1, nanosPerTickQ32: UInt64(q))
    }

    private static func kernelClockSource() -> String {
        guard let f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r") else { return "" }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 64)
        guard fgets(&buf, 64, f) != nil else { return "" }
        let line = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return line.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
    }
}
