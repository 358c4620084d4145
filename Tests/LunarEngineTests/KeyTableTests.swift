@testable import LunarEngine
import LunarRESP
import XCTest

final class KeyTableTests: XCTestCase {
    func testInsertRemoveReuse() {
        var t = KeyTable()
        for i in 0..<100 { t.insert(Bytes("k\(i)"), .string(Bytes("v\(i)"))) }
        XCTAssertEqual(t.count, 100)
        for i in stride(from: 0, to: 100, by: 2) { t.remove(slot: t.slot(of: Bytes("k\(i)"))!) }
        XCTAssertEqual(t.count, 50)
        XCTAssertEqual(t.slotCount, 100)
        t.insert(Bytes("new"), .string(Bytes("x")))
        XCTAssertEqual(t.slotCount, 100, "freed slots are reused")
        guard case let .string(v)? = t.value(at: t.slot(of: Bytes("k51"))!) else { return XCTFail() }
        XCTAssertEqual(v, Bytes("v51"))
    }

    func testScanReturnsKeysPresentThroughout() {
        var t = KeyTable()
        for i in 0..<1000 { t.insert(Bytes("stay\(i)"), .string(Bytes())) }
        var seen = Set<Bytes>()
        var cursor = 0
        var round = 0
        repeat {
            cursor = t.scanSlots(from: cursor, count: 10) { seen.insert(t.key(at: $0)) }
            // Churn between calls: add and remove other keys.
            t.insert(Bytes("tmp\(round)"), .string(Bytes()))
            if round % 3 == 0, let s = t.slot(of: Bytes("tmp\(round / 2)")) { t.remove(slot: s) }
            round += 1
        } while cursor != 0 && round < 10_000
        for i in 0..<1000 { XCTAssertTrue(seen.contains(Bytes("stay\(i)"))) }
    }

    func testVolatileTracking() {
        var t = KeyTable()
        for i in 0..<10 { t.insert(Bytes("k\(i)"), .string(Bytes())) }
        t.setExpire(slot: 3, 100)
        t.setExpire(slot: 5, 200)
        XCTAssertEqual(t.volatileCount, 2)
        t.setExpire(slot: 3, 0)
        XCTAssertEqual(t.volatileCount, 1)
        var g = SystemRandomNumberGenerator()
        XCTAssertEqual(t.randomVolatileSlot(using: &g), 5)
        t.remove(slot: 5)
        XCTAssertEqual(t.volatileCount, 0)
    }

    func testGlob() {
        let cases: [(String, String, Bool)] = [
            ("*", "anything", true), ("h?llo", "hello", true), ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true), ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true),
            ("foo*bar", "foobazbar", true), ("foo*bar", "foobaz", false), ("\\*", "*", true), ("a*", "", false),
            ("*a*b", "xaxb", true),
        ]
        for (p, s, want) in cases {
            XCTAssertEqual(globMatch(Array(p.utf8), Array(s.utf8)), want, "\(p) ~ \(s)")
        }
    }
}

final class KeyTableRandomizedTests: XCTestCase {
    /// Random inserts, removals and expiry changes checked against a plain Dictionary model.
    func testAgainstModel() {
        var t = KeyTable()
        var model: [Bytes: (Int, Int64)] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<60_000 {
            let k = Bytes("key\(Int.random(in: 0..<3000, using: &rng))")
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                if let s = t.slot(of: k) {
                    t.replaceValue(at: s, with: .string(Bytes("\(step)")))
                    model[k]!.0 = step
                } else {
                    t.insert(k, .string(Bytes("\(step)")))
                    model[k] = (step, 0)
                }
            case 5..<8:
                if let s = t.slot(of: k) {
                    t.remove(slot: s)
                    model.removeValue(forKey: k)
                } else {
                    XCTAssertNil(model[k])
                }
            default:
                if let s = t.slot(of: k) {
                    let at: Int64 = Bool.random(using: &rng) ? Int64(step + 1) : 0
                    t.setExpire(slot: s, at)
                    model[k]!.1 = at
                }
            }
            if step % 5000 == 0 || step == 59_999 {
                XCTAssertEqual(t.count, model.count)
                XCTAssertEqual(t.volatileCount, model.values.filter { $0.1 != 0 }.count)
                for (mk, (v, e)) in model {
                    guard let s = t.slot(of: mk), case let .string(sv)? = t.value(at: s) else { return XCTFail("missing \(mk)") }
                    XCTAssertEqual(sv, Bytes("\(v)"))
                    XCTAssertEqual(t.expire(at: s), e)
                }
            }
        }
    }
}

final class KeyTableHashTests: XCTestCase {
    /// Keys of every length BytesHash reads differently (0–3, 4–7, 8–16, longer), and keys that differ
    /// in one byte only, all stay distinct and findable.
    func testKeysOfEveryLengthAndOneByteApart() {
        let t = KeyTable()
        var keys: [Bytes] = []
        for n in 0...70 {
            let base = [UInt8](repeating: UInt8(ascii: "k"), count: n)
            keys.append(Bytes(base))
            for i in Swift.stride(from: 0, to: n, by: max(1, n / 5)) {
                var k = base
                k[i] = UInt8(ascii: "j")
                keys.append(Bytes(k))
            }
        }
        keys.append(contentsOf: (0..<2000).map { Bytes("key:\(String(repeating: "0", count: 8))\($0)") })
        for (i, k) in keys.enumerated() {
            XCTAssertNil(t.slot(of: k), "\(k) before insert")
            t.insert(k, .string(Bytes("\(i)")))
        }
        XCTAssertEqual(t.count, keys.count)
        for (i, k) in keys.enumerated() {
            guard let s = t.slot(of: k), case let .string(v)? = t.value(at: s) else { return XCTFail("missing \(k)") }
            XCTAssertEqual(v, Bytes("\(i)"))
            XCTAssertEqual(t.key(at: s), k)
        }
        XCTAssertNil(t.slot(of: Bytes("not there")))
    }

    /// The pipelining prefetch steps are hints: any position, stale or out of range, is harmless;
    /// for a present key they lead to its slot.
    func testPrefetchStepsAcceptAnyPosition() {
        let t = KeyTable()
        XCTAssertEqual(t.prefetchBucket(Bytes("a")), -1)
        for i in 0..<100 { t.insert(Bytes("k\(i)"), .string(Bytes("v"))) }
        // A hint looks a few buckets far at most: nearly every key's slot is found.
        var found = 0
        for i in 0..<100 {
            let h = t.prefetchBucket(Bytes("k\(i)"))
            let s = t.prefetchSlot(hash: h)
            if s == t.slot(of: Bytes("k\(i)")) { found += 1 }
            t.prefetchKey(slot: s)
        }
        XCTAssertGreaterThanOrEqual(found, 90)
        for bad in [-1, -100, 1 << 30, Int.min, Int.max] {
            _ = t.prefetchSlot(hash: bad)
            t.prefetchKey(slot: bad)
        }
        XCTAssertNotNil(t.slot(of: Bytes("k5")))
    }

    /// An entry is two words (a key and a value reference): prefetching reads them as such.
    func testEntryIsTwoWords() {
        XCTAssertEqual(MemoryLayout<KeyTable.Entry>.stride, 2 * MemoryLayout<UInt>.size)
    }

    /// Slot numbers outgrow the bits a bucket gives them (2^16, then 2^17): the index is re-tagged
    /// and every key stays findable, through removals, reuse of free slots and `reserve`.
    func testTagsAcrossSlotWidthChanges() {
        let t = KeyTable()
        let n = 140_000
        for i in 0..<n { t.insert(Bytes("key:\(i)"), .string(Bytes("\(i)"))) }
        XCTAssertGreaterThan(t.slotBits, KeyTable.minSlotBits)
        for i in Swift.stride(from: 0, to: n, by: 3) { t.remove(slot: t.slot(of: Bytes("key:\(i)"))!) }
        for i in Swift.stride(from: 0, to: n, by: 6) { t.insert(Bytes("key:\(i)"), .string(Bytes("again"))) }
        t.reserve(additional: 300_000)
        for i in n..<(n + 10_000) { t.insert(Bytes("key:\(i)"), .string(Bytes("\(i)"))) }
        for i in 0..<(n + 10_000) {
            let present = i >= n || i % 3 != 0 || i % 6 == 0
            guard let s = t.slot(of: Bytes("key:\(i)")) else {
                XCTAssertFalse(present, "key:\(i) missing")
                continue
            }
            XCTAssertTrue(present, "key:\(i) should be gone")
            XCTAssertEqual(t.key(at: s), Bytes("key:\(i)"))
            let expected = i < n && i % 6 == 0 ? Bytes("again") : Bytes("\(i)")
            guard case let .string(v)? = t.value(at: s) else { return XCTFail("no value") }
            XCTAssertEqual(v, expected)
        }
        XCTAssertNil(t.slot(of: Bytes("key:\(n + 10_000)")))
    }
}
