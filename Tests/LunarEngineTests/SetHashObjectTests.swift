@testable import LunarEngine
import LunarRESP
import Dispatch
import XCTest

final class SetObjectTests: XCTestCase {
    private func b(_ s: String) -> Bytes { Bytes(s) }

    func testIntsetStaysSortedAndConvertsOnString() {
        let s = SetObject(forFirst: b("5"))
        XCTAssertTrue(s.isIntset)
        for m in ["5", "-3", "100", "0", "7", "5"] { s.add(b(m), maxIntsetEntries: 512) }
        XCTAssertEqual(s.count, 5)
        XCTAssertEqual(s.members, ["-3", "0", "5", "7", "100"].map(b))
        XCTAssertEqual(s.encodingName, "intset")
        XCTAssertTrue(s.contains(b("7")))
        XCTAssertFalse(s.contains(b("07")), "non-canonical text is a different member")
        XCTAssertFalse(s.contains(b("x")))
        XCTAssertTrue(s.add(b("x"), maxIntsetEntries: 512))
        XCTAssertEqual(s.encodingName, "hashtable")
        XCTAssertEqual(Set(s.members), Set(["-3", "0", "5", "7", "100", "x"].map(b)))
        XCTAssertTrue(s.remove(b("x")))
        XCTAssertEqual(s.encodingName, "hashtable", "conversion is one way")
        XCTAssertTrue(s.contains(b("100")))
        XCTAssertFalse(s.remove(b("x")))
    }

    func testNonCanonicalIntegersMakeAHashtable() {
        for first in ["007", "+1", "-0", "9223372036854775808", "1.0", "", " 1"] {
            let s = SetObject(forFirst: b(first))
            s.add(b(first), maxIntsetEntries: 512)
            XCTAssertEqual(s.encodingName, "hashtable", first)
        }
        let s = SetObject(forFirst: b("9223372036854775807"))
        s.add(b("9223372036854775807"), maxIntsetEntries: 512)
        s.add(b("-9223372036854775808"), maxIntsetEntries: 512)
        XCTAssertEqual(s.encodingName, "intset")
        XCTAssertEqual(s.members, ["-9223372036854775808", "9223372036854775807"].map(b))
    }

    func testPackedIntsWidthsAgainstAModel() {
        var g = FastRandom()
        var p = PackedInts()
        var model: [Int64] = []
        XCTAssertEqual(p.width, 2)
        let pools: [ClosedRange<Int64>] = [-300...300, -70000...70000, Int64.min...Int64.max]
        for round in 0..<3000 {
            let range = pools[round < 1000 ? 0 : (round < 2000 ? 1 : 2)]
            let v = Int64.random(in: range, using: &g)
            if round % 4 == 3, !model.isEmpty {
                let i = Int.random(in: 0..<model.count, using: &g)
                XCTAssertEqual(p.remove(at: i), model.remove(at: i))
                continue
            }
            let pos = model.firstIndex { $0 >= v } ?? model.count
            model.insert(v, at: pos)
            p.insert(v, at: pos)
        }
        XCTAssertEqual(Array(p), model)
        XCTAssertEqual(p.width, 8)
        var small = PackedInts()
        for v: Int64 in [3, -2, 32767, -32768] { small.insert(v, at: 0) }
        XCTAssertEqual(small.width, 2)
        XCTAssertEqual(small.bytes.count, 8, "four 2-byte members")
        small.insert(32768, at: 4)
        XCTAssertEqual(small.width, 4)
        XCTAssertEqual(Array(small), [-32768, 32767, -2, 3, 32768])
    }

    func testIntsetEntryLimit() {
        let s = SetObject()
        for i in 0..<4 { s.add(b(String(i)), maxIntsetEntries: 4) }
        XCTAssertTrue(s.isIntset)
        s.add(b("4"), maxIntsetEntries: 4)
        XCTAssertFalse(s.isIntset)
        XCTAssertEqual(s.count, 5)
        let z = SetObject(forFirst: b("1"))
        z.add(b("1"), maxIntsetEntries: 0)
        XCTAssertFalse(z.isIntset)
    }

    func testRandomAndPop() {
        var g = FastRandom()
        for hashtable in [false, true] {
            let s = hashtable ? SetObject.hashtable() : SetObject()
            for i in 0..<50 { s.add(b(String(i)), maxIntsetEntries: 512) }
            XCTAssertEqual(s.isIntset, !hashtable)
            var seen = Set<Bytes>()
            for _ in 0..<2000 { seen.insert(s.randomMember(using: &g).bytes) }
            XCTAssertEqual(seen.count, 50, "every member gets sampled")
            var popped = Set<Bytes>()
            while !s.isEmpty { XCTAssertTrue(popped.insert(s.popRandom(using: &g).bytes).inserted) }
            XCTAssertEqual(popped.count, 50)
        }
    }

    func testScanStableCursorUnderChanges() {
        let s = SetObject.hashtable()
        for i in 0..<1000 { s.add(b("k\(i)"), maxIntsetEntries: 512) }
        var cursor: UInt64 = 0
        var seen = Set<Bytes>()
        var n = 0
        repeat {
            cursor = s.scan(cursor: cursor, count: 7) { seen.insert($0.bytes) }
            s.add(b("tmp\(n)"), maxIntsetEntries: 512)
            s.remove(b("tmp\(n - 1)"))
            n += 1
        } while cursor != 0
        for i in 0..<1000 { XCTAssertTrue(seen.contains(b("k\(i)"))) }
        // a small intset answers everything at once
        let small = SetObject()
        for i in 0..<10 { small.add(b(String(i)), maxIntsetEntries: 512) }
        var all: [Bytes] = []
        XCTAssertEqual(small.scan(cursor: 99, count: 1) { all.append($0.bytes) }, 0)
        XCTAssertEqual(all.count, 10)
    }

    func testPopEverythingFromALargeSetStaysCheap() {
        // Popping a big set empty leaves a sparse slot table on the way; sampling must not walk it all.
        var g = FastRandom()
        let s = SetObject.hashtable()
        for i in 0..<50_000 { s.add(b("m\(i)"), maxIntsetEntries: 512) }
        var popped = Set<Bytes>()
        let start = DispatchTime.now().uptimeNanoseconds
        while !s.isEmpty { popped.insert(s.popRandom(using: &g).bytes) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        XCTAssertEqual(popped.count, 50_000)
        XCTAssertLessThan(seconds, 20, "popping must stay close to O(1) per member")
    }

    func testInsertIfAbsent() {
        let t = SlotTable<Int>(filler: 0)
        XCTAssertEqual(t.insertIfAbsent(b("a"), 1).inserted, true)
        XCTAssertEqual(t.insertIfAbsent(b("a"), 2).inserted, false)
        let (s, ins) = t.insertIfAbsent(b("b"), 3)
        XCTAssertTrue(ins)
        XCTAssertEqual(t.values[s], 3)
        t.remove(b("a"))
        let (s2, ins2) = t.insertIfAbsent(b("c"), 4)
        XCTAssertTrue(ins2)
        XCTAssertEqual(s2, 0, "reuses the freed slot")
        XCTAssertEqual(t.find(b("c")), 0)
        XCTAssertEqual(t.count, 2)
    }

    func testCopyIsIndependent() {
        let s = SetObject(forFirst: b("1"))
        s.add(b("1"), maxIntsetEntries: 512)
        let c = s.copy()
        c.add(b("2"), maxIntsetEntries: 512)
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(c.count, 2)
        let t = SetObject.hashtable()
        t.add(b("x"), maxIntsetEntries: 512)
        let u = t.copy()
        u.add(b("y"), maxIntsetEntries: 512)
        u.remove(b("x"))
        XCTAssertEqual(t.members, [b("x")])
        XCTAssertEqual(u.members, [b("y")])
        let h = HashObject()
        for i in 0..<600 { h.set(b("f\(i)"), b("v"), maxEntries: 512, maxValue: 64) }
        let hc = h.copy()
        hc.set(b("f1"), b("changed"), maxEntries: 512, maxValue: 64)
        hc.delete(b("f2"))
        XCTAssertEqual(h.get(b("f1")), b("v"))
        XCTAssertEqual(h.count, 600)
        XCTAssertEqual(hc.count, 599)
        XCTAssertEqual(hc.encodingName, "hashtable")
    }

    func testSlotTableShrinksFromTheTailAndReusesSlots() {
        let t = SlotTable<Void>(filler: ())
        for i in 0..<10 { t.insert(b("m\(i)"), ()) }
        t.remove(b("m3"))
        t.insert(b("new"), ())
        XCTAssertEqual(t.slotCount, 10, "the freed slot is reused")
        for i in (5..<10).reversed() { t.remove(b("m\(i)")) }
        XCTAssertEqual(t.slotCount, 5)
        XCTAssertEqual(t.count, 5)
        for i in 0..<5 { t.insert(b("again\(i)"), ()) }
        XCTAssertEqual(t.count, 10)
        XCTAssertEqual(t.slotCount, 10)
        var live = 0
        t.forEachSlot { _ in live += 1 }
        XCTAssertEqual(live, 10)
    }
}

final class HashObjectTests: XCTestCase {
    private func b(_ s: String) -> Bytes { Bytes(s) }

    func testListpackKeepsInsertionOrder() {
        let h = HashObject()
        XCTAssertTrue(h.set(b("z"), b("1"), maxEntries: 128, maxValue: 64))
        XCTAssertTrue(h.set(b("a"), b("2"), maxEntries: 128, maxValue: 64))
        XCTAssertTrue(h.set(b("m"), b("3"), maxEntries: 128, maxValue: 64))
        XCTAssertFalse(h.set(b("a"), b("two"), maxEntries: 128, maxValue: 64))
        XCTAssertEqual(h.pairs.map { $0.0 }, ["z", "a", "m"].map(b))
        XCTAssertEqual(h.get(b("a")), b("two"))
        XCTAssertTrue(h.delete(b("z")))
        XCTAssertFalse(h.delete(b("z")))
        h.set(b("z"), b("again"), maxEntries: 128, maxValue: 64)
        XCTAssertEqual(h.pairs.map { $0.0 }, ["a", "m", "z"].map(b))
        XCTAssertEqual(h.valueLength(b("z")), 5)
        XCTAssertNil(h.get(b("nope")))
        XCTAssertEqual(h.encodingName, "listpack")
    }

    func testLongEntriesAndEmptyStrings() {
        let h = HashObject()
        let long = Bytes(repeating: 120, count: 300)
        h.set(b(""), b(""), maxEntries: 128, maxValue: 1000)
        h.set(long, long, maxEntries: 128, maxValue: 1000)
        h.set(b("k"), long, maxEntries: 128, maxValue: 1000)
        XCTAssertTrue(h.isListpack, "300-byte entries use multi-byte lengths")
        XCTAssertEqual(h.get(b("")), b(""))
        XCTAssertEqual(h.get(long), long)
        XCTAssertEqual(h.get(b("k")), long)
        h.set(b("k"), b("short"), maxEntries: 128, maxValue: 1000)
        XCTAssertEqual(h.get(b("k")), b("short"))
        XCTAssertEqual(h.get(long), long)
        XCTAssertEqual(h.count, 3)
    }

    func testConversions() {
        let h = HashObject()
        for i in 0..<3 { h.set(b("f\(i)"), b("v"), maxEntries: 3, maxValue: 5) }
        XCTAssertTrue(h.isListpack)
        h.set(b("f3"), b("v"), maxEntries: 3, maxValue: 5)
        XCTAssertEqual(h.encodingName, "hashtable")
        XCTAssertEqual(Set(h.pairs.map { $0.0 }), Set((0..<4).map { b("f\($0)") }))
        let g = HashObject()
        g.set(b("a"), b("12345"), maxEntries: 3, maxValue: 5)
        XCTAssertTrue(g.isListpack)
        g.set(b("a"), b("123456"), maxEntries: 3, maxValue: 5)
        XCTAssertFalse(g.isListpack)
        XCTAssertEqual(g.get(b("a")), b("123456"))
        let p = HashObject()
        p.set(b("a"), b("1"), maxEntries: 128, maxValue: 64)
        p.convertIfAnyTooLong([b("a"), Bytes(repeating: 65, count: 65)], maxValue: 64)
        XCTAssertFalse(p.isListpack)
        XCTAssertTrue(p.delete(b("a")))
        XCTAssertTrue(p.isEmpty)
    }

    func testRandomPairsAndScan() {
        var g = FastRandom()
        for n in [5, 300] {
            let h = HashObject()
            for i in 0..<n { h.set(b("f\(i)"), b("v\(i)"), maxEntries: 128, maxValue: 64) }
            XCTAssertEqual(h.isListpack, n <= 128)
            var seen = Set<Bytes>()
            for _ in 0..<(n * 30) {
                let (f, v) = h.randomPair(using: &g)
                XCTAssertEqual(h.get(f), v)
                seen.insert(f)
            }
            XCTAssertEqual(seen.count, n)
            var cursor: UInt64 = 0
            var scanned: [Bytes] = []
            repeat { cursor = h.scan(cursor: cursor, count: 10) { f, _ in scanned.append(f) } } while cursor != 0
            XCTAssertEqual(Set(scanned).count, n)
            XCTAssertEqual(scanned.count, n)
        }
    }

    func testLongDoubleFormatting() {
        XCTAssertEqual(StringEncoding.formatLongDouble(StringEncoding.LongDouble((0.1 as Double) + (0.2 as Double))), b("0.30000000000000004"))
        XCTAssertEqual(StringEncoding.formatLongDouble(StringEncoding.parseLongDouble(b("0.1"))! + StringEncoding.parseLongDouble(b("0.2"))!), b("0.3"))
        XCTAssertEqual(StringEncoding.formatLongDouble(3000), b("3000"))
        XCTAssertEqual(StringEncoding.formatLongDouble(-0.0), b("0"))
        XCTAssertEqual(StringEncoding.formatLongDouble(-2.5), b("-2.5"))
        XCTAssertEqual(StringEncoding.formatLongDouble(1e17), b("100000000000000000"))
        XCTAssertNil(StringEncoding.parseLongDouble(b(" 1")))
        XCTAssertNil(StringEncoding.parseLongDouble(b("1 ")))
        XCTAssertNil(StringEncoding.parseLongDouble(b("nan")))
        XCTAssertNil(StringEncoding.parseLongDouble(b("")))
        XCTAssertNil(StringEncoding.parseLongDouble(b("1e5000")))
        XCTAssertEqual(StringEncoding.parseLongDouble(b("0x10")), 16)
        XCTAssertNotNil(StringEncoding.parseLongDouble(b("1e400")))
        XCTAssertEqual(StringEncoding.parseLongDouble(b("inf"))?.isInfinite, true)
    }

    func testScanCursorParsing() {
        XCTAssertEqual(parseScanCursor(b("0")), 0)
        XCTAssertEqual(parseScanCursor(b("")), 0)
        XCTAssertEqual(parseScanCursor(b("+12")), 12)
        XCTAssertEqual(parseScanCursor(b("-1")), UInt64.max)
        XCTAssertEqual(parseScanCursor(b("18446744073709551615")), UInt64.max)
        XCTAssertNil(parseScanCursor(b("18446744073709551616")))
        XCTAssertNil(parseScanCursor(b("-")))
        XCTAssertNil(parseScanCursor(b(" 1")))
        XCTAssertNil(parseScanCursor(b("1x")))
    }
}
