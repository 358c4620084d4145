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
