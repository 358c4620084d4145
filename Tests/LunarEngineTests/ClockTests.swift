import Foundation
import LunarEngine
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ClockTests: XCTestCase {
    /// The monotonic clock (the CPU's counter where the kernel trusts it) never goes back and keeps
    /// pace with CLOCK_MONOTONIC.
    func testMonotonicClockKeepsPaceWithTheSystemClock() {
        func system() -> Int64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        }
        var last = monotonicMicros()
        for _ in 0..<100_000 {
            let t = monotonicMicros()
            XCTAssertGreaterThanOrEqual(t, last)
            last = t
        }
        // Each reading pairs the two clocks; a pair the scheduler split (the thread preempted between
        // the two reads, as happens on a busy machine) is read again rather than taken for drift.
        func pair() -> (system: Int64, monotonic: Int64) {
            var best = (system: system(), monotonic: monotonicMicros())
            for _ in 0..<20 {
                let before = system(), m = monotonicMicros(), after = system()
                best = (system: (before + after) / 2, monotonic: m)
                if after - before < 200 { break }
            }
            return best
        }
        let p0 = pair()
        usleep(200_000)
        let p1 = pair()
        let drift = abs((p1.monotonic - p0.monotonic) - (p1.system - p0.system))
        XCTAssertLessThan(drift, 5_000, "monotonic clock drifted \(drift) µs over 200 ms (CPU counter: \(MonotonicClock.usesCPUCounter))")
        var millis = monotonicMillis(), micros = monotonicMicros()
        for _ in 0..<20 where micros / 1000 - millis > 1 {  // preempted between the two reads: read again
            millis = monotonicMillis()
            micros = monotonicMicros()
        }
        XCTAssertEqual(Double(millis), Double(micros / 1000), accuracy: 2)
    }

    /// Where the kernel keeps time with the time-stamp counter, so does Lunar.
    func testUsesTheCPUCounterWhereTheKernelDoes() throws {
        #if arch(x86_64) && os(Linux)
        let source = (try? String(contentsOfFile: "/sys/devices/system/clocksource/clocksource0/current_clocksource", encoding: .utf8)) ?? ""
        guard source.hasPrefix("tsc") else { throw XCTSkip("the kernel's clock source is \(source)") }
        XCTAssertTrue(MonotonicClock.usesCPUCounter)
        #else
        throw XCTSkip("x86-64 Linux only")
        #endif
    }
}
