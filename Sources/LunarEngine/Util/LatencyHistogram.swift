/// Per-command latency distribution (INFO latencystats, LATENCY HISTOGRAM), with the resolution
/// Redis 7.0 reports: values in nanoseconds from 1 to 10^9, two significant decimal digits.
///
/// The layout is the HDR histogram scheme: bucket 0 counts values 0…255 one by one; bucket k ≥ 1
/// counts 128·2^k … 256·2^k − 1 in 128 steps of 2^k. Two values are "equivalent" when they land in
/// the same step, and a percentile answers the highest value equivalent to the step it falls in
/// (the lowest for the 0th), which is what makes Lunar's figures read like Redis's (15 µs → 15.039).
public struct LatencyHistogram: Sendable {
    static let subBuckets = 256
    static let halfMagnitude = 7          // log2(subBuckets / 2)
    static let maxValue: Int64 = 1_000_000_000
    /// Buckets needed so that 256·2^(n−1) exceeds maxValue.
    static let bucketCount: Int = {
        var n = 1
        var smallestUntrackable = Int64(subBuckets)
        while smallestUntrackable <= maxValue {
            smallestUntrackable <<= 1
            n += 1
        }
        return n
    }()
    static let countsLength = (bucketCount + 1) << halfMagnitude

    private var counts: [Int64] = []
    public private(set) var total: Int64 = 0

    public init() {}

    /// Records one duration in nanoseconds (clamped to 1…10^9 ns, as Redis does).
    public mutating func record(nanoseconds v: Int64) {
        if counts.isEmpty { counts = [Int64](repeating: 0, count: Self.countsLength) }
        let x = min(max(v, 1), Self.maxValue)
        counts[Self.index(of: x)] += 1
        total += 1
    }

    // MARK: The bucket arithmetic

    @inline(__always) static func bucket(of v: Int64) -> Int {
        // The position of the highest bit of v (at least that of 255), less the sub-bucket bits.
        (64 - (v | Int64(subBuckets - 1)).leadingZeroBitCount) - (halfMagnitude + 1)
    }

    static func index(of v: Int64) -> Int {
        let b = bucket(of: v)
        let sub = Int(v >> Int64(b))
        return ((b + 1) << halfMagnitude) + sub - (subBuckets / 2)
    }

    /// The lowest value counted at `index`.
    static func value(at index: Int) -> Int64 {
        var b = (index >> halfMagnitude) - 1
        var sub = (index & (subBuckets / 2 - 1)) + subBuckets / 2
        if b < 0 {
            sub -= subBuckets / 2
            b = 0
        }
        return Int64(sub) << Int64(b)
    }

    static func lowestEquivalent(_ v: Int64) -> Int64 {
        let b = bucket(of: v)
        return (v >> Int64(b)) << Int64(b)
    }

    static func highestEquivalent(_ v: Int64) -> Int64 {
        let b = bucket(of: v)
        let sub = Int(v >> Int64(b))
        // A value in the top half of the range past the last bucket counts in the next one.
        let width = Int64(1) << Int64(sub >= subBuckets ? b + 1 : b)
        return lowestEquivalent(v) + width - 1
    }

    // MARK: Reading

    /// The value at `percentile` (0…100) in nanoseconds; 0 for an empty histogram.
    public func value(atPercentile percentile: Double) -> Int64 {
        guard total > 0 else { return 0 }
        let p = min(percentile, 100)
        let wanted = max(1, Int64(p / 100 * Double(total) + 0.5))
        var seen: Int64 = 0
        for i in 0..<counts.count {
            seen += counts[i]
            if seen >= wanted {
                let v = Self.value(at: i)
                return percentile == 0 ? Self.lowestEquivalent(v) : Self.highestEquivalent(v)
            }
        }
        return 0
    }

    /// LATENCY HISTOGRAM's buckets: for each power of two from 1024 ns, the number of durations up
    /// to and including that value's step, keyed by the step's highest value in whole microseconds;
    /// only the powers where the count grows, until every duration is counted.
    public func cumulativeBuckets() -> [(micros: Int64, count: Int64)] {
        guard total > 0 else { return [] }
        var out: [(Int64, Int64)] = []
        var level: Int64 = 1024
        var i = 0
        var seen: Int64 = 0
        var previous: Int64 = 0
        while previous < total {
            let last = Self.index(of: min(level, Self.maxValue))
            while i <= last && i < counts.count {
                seen += counts[i]
                i += 1
            }
            if seen > previous {
                out.append((Self.highestEquivalent(level) / 1000, seen))
                previous = seen
            }
            if level > Self.maxValue { break }
            level <<= 1
        }
        return out
    }
}
