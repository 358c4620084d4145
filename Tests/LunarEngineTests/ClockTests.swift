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
        let s0 = system(), m0 = monotonicMicros()
        usleep(200_000)
        let s1 = system(), m1 = monotonicMicros()
        let drift = abs((m1 - m0) - (s1 - s0))
        XCTAssertLessThan(drift, 5_000, "monotonic clock drifted \(drift) µs over 200 ms (CPU counter: \(MonotonicClock.usesCPUCounter))")
        XCTAssertEqual(Double(monotonicMillis()), Double(monotonicMicros() / 1000), accuracy: 2)
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
