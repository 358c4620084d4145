@testable import LunarEngine
import LunarRESP
import XCTest

final class ZSetObjectTests: XCTestCase {
    /// Reference model: (score, member) pairs kept sorted the obvious way.
    struct Naive {
        var items: [(Double, Bytes)] = []
        static func less(_ a: (Double, Bytes), _ b: (Double, Bytes)) -> Bool {
            a.0 < b.0 || (a.0 == b.0 && Bytes.compare(a.1, b.1) < 0)
        }
        mutating func set(_ m: Bytes, _ s: Double) {
            items.removeAll { $0.1 == m }
            items.append((s, m))
            items.sort(by: Naive.less)
        }
        mutating func remove(_ m: Bytes) -> Bool {
            let n = items.count
            items.removeAll { $0.1 == m }
            return items.count != n
        }
        func rank(_ m: Bytes) -> Int? { items.firstIndex { $0.1 == m } }
    }

    func members(_ z: ZSetObject) -> [(Double, Bytes)] {
        var out: [(Double, Bytes)] = []
        z.forEach { out.append(($0.score, $0.member)) }
        return out
    }

    func assertSame(_ z: ZSetObject, _ n: Naive, file: StaticString = #filePath, line: UInt = #line) {
        let got = members(z)
        XCTAssertEqual(got.count, n.items.count, file: file, line: line)
        XCTAssertEqual(z.count, n.items.count, file: file, line: line)
        for (a, b) in zip(got, n.items) {
            XCTAssertEqual(a.1, b.1, file: file, line: line)
            XCTAssertEqual(a.0, b.0, file: file, line: line)
        }
        // Backward links agree with forward order.
        var back: [Bytes] = []
        var x = z.last
        while let e = x {
            back.append(e.member)
            x = e.previous
        }
        XCTAssertEqual(back.reversed(), n.items.map { $0.1 }, file: file, line: line)
    }

    func testBasicOrderAndTies() {
        let z = ZSetObject()
        z.insert("b", score: 1)
        z.insert("a", score: 1)
        z.insert("c", score: 0.5)
        z.insert("", score: 1)
        XCTAssertEqual(members(z).map { $0.1.string }, ["c", "", "a", "b"])
        XCTAssertEqual(z.rank(of: "a"), 2)
        XCTAssertEqual(z.node(atRank: 0)?.member, "c")
        XCTAssertNil(z.node(atRank: 4))
        XCTAssertNil(z.rank(of: "zz"))
        z.setScore(z.node(for: "c")!, 2)
        XCTAssertEqual(members(z).map { $0.1.string }, ["", "a", "b", "c"])
        XCTAssertTrue(z.remove("a"))
        XCTAssertFalse(z.remove("a"))
        XCTAssertEqual(z.count, 3)
    }

    func testMemberOrderIsMemcmp() {
        let z = ZSetObject()
        for m in [Bytes([0xff]), Bytes([0x00]), Bytes("a"), Bytes("ab"), Bytes("B")] { z.insert(m, score: 0) }
        XCTAssertEqual(members(z).map { $0.1 }, [Bytes([0x00]), Bytes("B"), Bytes("a"), Bytes("ab"), Bytes([0xff])])
    }

    func testScoreRanges() {
        let z = ZSetObject()
        for i in 0..<10 { z.insert(Bytes("m\(i)"), score: Double(i)) }
        let r = ZScoreRange(min: 2, max: 5, minExclusive: true, maxExclusive: false)
        XCTAssertEqual(z.firstIn(r)?.member, "m3")
        XCTAssertEqual(z.lastIn(r)?.member, "m5")
        XCTAssertEqual(z.count(in: r), 3)
        XCTAssertNil(z.firstIn(ZScoreRange(min: 5, max: 5, minExclusive: true)))
        XCTAssertNil(z.firstIn(ZScoreRange(min: 7, max: 3)))
        XCTAssertEqual(z.count(in: ZScoreRange(min: -.infinity, max: .infinity)), 10)
        XCTAssertEqual(z.count(in: ZScoreRange(min: 100, max: .infinity)), 0)
    }

    func testLexRanges() {
        let z = ZSetObject()
        for m in ["a", "b", "c", "d", "e"] { z.insert(Bytes(m), score: 0) }
        let r = ZLexRange(min: .exclusive("a"), max: .inclusive("d"))
        XCTAssertEqual(z.firstIn(r)?.member, "b")
        XCTAssertEqual(z.lastIn(r)?.member, "d")
        XCTAssertEqual(z.count(in: r), 3)
        XCTAssertEqual(z.count(in: ZLexRange(min: .minusInfinity, max: .plusInfinity)), 5)
        XCTAssertEqual(z.count(in: ZLexRange(min: .plusInfinity, max: .minusInfinity)), 0)
    }

    func testEncodingIsOneWay() {
        let z = ZSetObject()
        z.prepareInsert(maxEntries: 2, maxValue: 64, memberLength: 1)
        z.insert("a", score: 1)
        XCTAssertEqual(z.encodingName, "listpack")
        z.prepareInsert(maxEntries: 2, maxValue: 64, memberLength: 1)
        z.insert("b", score: 1)
        XCTAssertEqual(z.encodingName, "listpack")
        z.prepareInsert(maxEntries: 2, maxValue: 64, memberLength: 1)
        z.insert("c", score: 1)
        XCTAssertEqual(z.encodingName, "skiplist")
        z.remove("c")
        z.remove("b")
        XCTAssertEqual(z.encodingName, "skiplist")
        let y = ZSetObject()
        y.prepareInsert(maxEntries: 128, maxValue: 3, memberLength: 4)
        y.insert("long", score: 1)
        XCTAssertEqual(y.encodingName, "skiplist")
    }

    func testNegativeZeroOnlyKeptWhenLarge() {
        let small = ZSetObject()
        small.insert("a", score: -0.0)
        XCTAssertEqual(small.score(of: "a")?.sign, .plus)
        let big = ZSetObject()
        big.beginBuilding()
        big.insert("a", score: -0.0)
        XCTAssertEqual(big.score(of: "a")?.sign, .minus)
    }

    func testScanVisitsEveryStableMember() {
        let z = ZSetObject()
        for i in 0..<300 { z.insert(Bytes("m\(i)"), score: Double(i % 7)) }
        var seen = Set<Bytes>()
        var cursor = 0
        var rounds = 0
        repeat {
            cursor = z.scan(from: cursor, count: 10) { seen.insert($0.member) }
            // Churn during the iteration: members m0..m49 stay put, others come and go.
            z.remove(Bytes("m\(100 + rounds)"))
            z.insert(Bytes("n\(rounds)"), score: 1)
            rounds += 1
        } while cursor != 0 && rounds < 1000
        for i in 0..<50 { XCTAssertTrue(seen.contains(Bytes("m\(i)"))) }
    }

    func testRandomizedAgainstNaive() {
        var rng = ZRandom(seed: 12345)
        let z = ZSetObject()
        var n = Naive()
        let scores: [Double] = [-.infinity, -3, -1.5, 0, 0, 1, 1, 2.25, 7, .infinity]
        for step in 0..<6000 {
            let m = Bytes("k\(Int.random(in: 0..<200, using: &rng))")
            let s = scores.randomElement(using: &rng)! + (Bool.random(using: &rng) ? 0 : Double(Int.random(in: 0..<5, using: &rng)))
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4:
                if let node = z.node(for: m) { z.setScore(node, s) } else { z.insert(m, score: s) }
                n.set(m, s)
            case 4..<6:
                XCTAssertEqual(z.remove(m), n.remove(m))
            case 6:
                XCTAssertEqual(z.rank(of: m), n.rank(m))
            case 7:
                if !n.items.isEmpty {
                    let r = Int.random(in: 0..<n.items.count, using: &rng)
                    XCTAssertEqual(z.node(atRank: r)?.member, n.items[r].1)
                    XCTAssertEqual(z.rank(z.node(atRank: r)!), r)
                }
            case 8:
                let a = scores.randomElement(using: &rng)!, b = scores.randomElement(using: &rng)!
                let r = ZScoreRange(min: a, max: b, minExclusive: Bool.random(using: &rng), maxExclusive: Bool.random(using: &rng))
                let expected = n.items.filter { r.contains($0.0) }
                XCTAssertEqual(z.count(in: r), expected.count)
                XCTAssertEqual(z.firstIn(r)?.member, expected.first?.1)
                XCTAssertEqual(z.lastIn(r)?.member, expected.last?.1)
            default:
                if let node = z.first, !n.items.isEmpty {
                    XCTAssertEqual(node.member, n.items[0].1)
                    z.remove(node: node)
                    n.items.removeFirst()
                }
            }
            if step % 500 == 0 { assertSame(z, n) }
        }
        assertSame(z, n)
    }

    func testLexAgainstNaiveWithEqualScores() {
        var rng = ZRandom(seed: 99)
        let z = ZSetObject()
        z.beginBuilding()
        var names: [Bytes] = []
        for _ in 0..<400 {
            let len = Int.random(in: 0..<4, using: &rng)
            let m = Bytes((0..<len).map { _ in UInt8.random(in: 97...100, using: &rng) })
            if !z.contains(m) {
                z.insert(m, score: 0)
                names.append(m)
            }
        }
        names.sort()
        func bound(_ g: inout ZRandom) -> ZLexBound {
            let b = Bytes((0..<Int.random(in: 0..<3, using: &g)).map { _ in UInt8.random(in: 97...100, using: &g) })
            switch Int.random(in: 0..<6, using: &g) {
            case 0: return .minusInfinity
            case 1: return .plusInfinity
            case 2, 3: return .inclusive(b)
            default: return .exclusive(b)
            }
        }
        for _ in 0..<500 {
            let r = ZLexRange(min: bound(&rng), max: bound(&rng))
            let expected = names.filter { r.contains($0) }
            XCTAssertEqual(z.count(in: r), expected.count)
            XCTAssertEqual(z.firstIn(r)?.member, expected.first)
            XCTAssertEqual(z.lastIn(r)?.member, expected.last)
        }
    }
}
