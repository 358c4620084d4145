import LunarEngine
import XCTest

/// The figures redis-server 7.0 printed for the same durations (its durations are whole µs).
final class LatencyHistogramTests: XCTestCase {
    func testPercentilesReadTheStepOfTheValue() {
        var h = LatencyHistogram()
        h.record(nanoseconds: 15_000)
        XCTAssertEqual(h.value(atPercentile: 50), 15_039)       // INFO: p50=15.039
        var g = LatencyHistogram()
        g.record(nanoseconds: 11_000)
        XCTAssertEqual(g.value(atPercentile: 99.9), 11_007)     // p99.9=11.007
        XCTAssertEqual(g.value(atPercentile: 0), 10_944)        // p0=10.944: the lowest of the step
        XCTAssertEqual(LatencyHistogram().value(atPercentile: 50), 0)
    }

    func testPercentilesOverSeveralValues() {
        var h = LatencyHistogram()
        for v in [12_000, 13_000, 82_000] as [Int64] { h.record(nanoseconds: v) }
        XCTAssertEqual(h.total, 3)
        XCTAssertEqual(h.value(atPercentile: 50), 13_055)
        XCTAssertEqual(h.value(atPercentile: 99), 82_431)       // as Redis: p99=82.431 for 82 µs
        XCTAssertEqual(h.value(atPercentile: 0), 11_968)
    }

    func testCumulativeBucketsByPowersOfTwo() {
        var h = LatencyHistogram()
        for _ in 0..<5 { h.record(nanoseconds: 15_000) }
        h.record(nanoseconds: 30_000)
        // LATENCY HISTOGRAM: {16: 5, 33: 6}
        XCTAssertEqual(h.cumulativeBuckets().map { [$0.micros, $0.count] }, [[16, 5], [33, 6]])
        var small = LatencyHistogram()
        small.record(nanoseconds: 0)            // clamped to 1 ns
        small.record(nanoseconds: 1_000)
        small.record(nanoseconds: 120_000)
        XCTAssertEqual(small.cumulativeBuckets().map { [$0.micros, $0.count] }, [[1, 2], [132, 3]])
        var huge = LatencyHistogram()
        huge.record(nanoseconds: 5_000_000_000)  // clamped to 1 s
        XCTAssertEqual(huge.cumulativeBuckets().last?.count, 1)
        XCTAssertEqual(huge.value(atPercentile: 100), 1_002_438_655)
    }
}
