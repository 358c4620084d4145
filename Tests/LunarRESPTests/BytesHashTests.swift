import LunarRESP
import XCTest

/// Bytes places itself in Dictionary and Set with BytesHash (`_rawHashValue(seed:)`), not SipHash:
/// these check what the standard library's tables rely on.
final class BytesHashTests: XCTestCase {
    private let keys: [Bytes] = (0..<65_536).map { Bytes("member:\($0)") }

    func testEqualBytesHashAlikeWhateverTheirStorage() {
        for seed in [0, 1, -1, 0x5eed, Int.max] {
            for k in keys.prefix(2_000) {
                let copy = Bytes(Array(k.raw))   // another buffer, same bytes
                XCTAssertEqual(k._rawHashValue(seed: seed), copy._rawHashValue(seed: seed))
            }
        }
    }

    /// Swift's tables take a bucket from the low bits: they must spread short, similar keys evenly.
    func testLowBitsSpreadSimilarKeys() {
        for seed in [0, 12_345] {
            var buckets = [Int](repeating: 0, count: 1024)
            for k in keys { buckets[k._rawHashValue(seed: seed) & 1023] += 1 }
            // 64 per bucket on average; a poor hash piles them into few buckets.
            XCTAssertLessThan(buckets.max()!, 3 * 64, "seed \(seed)")
            XCTAssertGreaterThan(buckets.min()!, 64 / 4, "seed \(seed)")
        }
    }

    /// Every table mixes in its own seed, so two tables do not place the same keys alike (copying
    /// one into another in iteration order would otherwise cluster).
    func testTheTableSeedChangesPlacement() {
        var same = 0
        for k in keys.prefix(10_000) where k._rawHashValue(seed: 1) & 1023 == k._rawHashValue(seed: 2) & 1023 {
            same += 1
        }
        XCTAssertLessThan(same, 100)   // about 10 expected by chance
    }

    /// Lengths around every branch of the hash (0, 1–3, 4–7, 8–16, longer with a partial block).
    func testEveryLengthIsStableAndDistinct() {
        var seen = Set<Int>()
        for n in 0..<80 {
            let b = Bytes(repeating: 0x61, count: n)
            XCTAssertEqual(b._rawHashValue(seed: 7), Bytes(Array(b.raw))._rawHashValue(seed: 7))
            seen.insert(b._rawHashValue(seed: 7))
        }
        XCTAssertEqual(seen.count, 80)
    }

    func testDictionaryAndSetOfBytes() {
        var d: [Bytes: Int] = [:]
        for (i, k) in keys.enumerated() { d[k] = i }
        XCTAssertEqual(d.count, keys.count)
        for (i, k) in keys.enumerated() where i % 7 == 0 { XCTAssertEqual(d[Bytes(Array(k.raw))], i) }
        for k in keys where k.count % 2 == 0 { d.removeValue(forKey: k) }
        XCTAssertEqual(d.count, keys.filter { $0.count % 2 == 1 }.count)
        // Copying a table into a smaller one in its own order.
        var s = Set<Bytes>(minimumCapacity: 16)
        for k in d.keys { s.insert(k) }
        XCTAssertEqual(s.count, d.count)
        XCTAssertTrue(s.contains(Bytes("member:1")) == (d[Bytes("member:1")] != nil))
    }
}
