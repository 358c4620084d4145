@testable import LunarEngine
import LunarRESP
import XCTest

final class ListObjectTests: XCTestCase {
    private func list(_ s: String) -> ListObject {
        ListObject(.init(s.map { Bytes(String($0)) }))
    }
    private func text(_ l: ListObject) -> String {
        l.items.map(\.string).joined()
    }

    func testPushPopBothEnds() {
        let l = ListObject()
        l.push("b", left: true)
        l.push("a", left: true)
        l.push("c", left: false)
        XCTAssertEqual(text(l), "abc")
        XCTAssertEqual(l.pop(left: true), "a")
        XCTAssertEqual(l.pop(left: false), "c")
        XCTAssertEqual(l.pop(left: false), "b")
        XCTAssertNil(l.pop(left: true))
        XCTAssertTrue(l.isEmpty)
        XCTAssertEqual(l.encodingName, "quicklist")
    }

    func testNegativeIndexes() {
        let l = list("abcde")
        XCTAssertEqual(l.element(at: 0), "a")
        XCTAssertEqual(l.element(at: -1), "e")
        XCTAssertEqual(l.element(at: -5), "a")
        XCTAssertNil(l.element(at: -6))
        XCTAssertNil(l.element(at: 5))
        XCTAssertNil(l.element(at: Int.min))
        XCTAssertNil(l.element(at: Int.max))
        XCTAssertTrue(l.set(-2, "D"))
        XCTAssertFalse(l.set(5, "x"))
        XCTAssertEqual(text(l), "abcDe")
    }

    func testRangeClamping() {
        let l = list("abcdef")
        XCTAssertEqual(l.range(0, -1), 0..<6)
        XCTAssertEqual(l.range(-100, 100), 0..<6)
        XCTAssertEqual(l.range(2, -2), 2..<5)
        XCTAssertEqual(l.range(5, 2), 0..<0)
        XCTAssertEqual(l.range(-1, -2), 0..<0)
        XCTAssertEqual(l.range(6, 10), 0..<0)
        XCTAssertEqual(l.range(Int.min, Int.max), 0..<6)
        XCTAssertEqual(l.range(Int.max, Int.min), 0..<0)
        XCTAssertEqual(ListObject().range(0, -1), 0..<0)
    }

    func testTrim() {
        var l = list("abcdef")
        XCTAssertEqual(l.trim(1, -2), 2)
        XCTAssertEqual(text(l), "bcde")
        XCTAssertEqual(l.trim(-2, 100), 2)
        XCTAssertEqual(text(l), "de")
        XCTAssertEqual(l.trim(5, 1), 2)
        XCTAssertTrue(l.isEmpty)
        l = list("abc")
        XCTAssertEqual(l.trim(0, -1), 0)
        XCTAssertEqual(text(l), "abc")
    }

    func testInsertAroundPivot() {
        let l = list("abca")
        XCTAssertTrue(l.insert("x", pivot: "a", after: false))
        XCTAssertTrue(l.insert("y", pivot: "a", after: true))
        XCTAssertTrue(l.insert("z", pivot: "c", after: true))
        XCTAssertFalse(l.insert("q", pivot: "nope", after: true))
        XCTAssertEqual(text(l), "xaybcza")
    }

    func testRemoveDirections() {
        var l = list("abacaba")
        XCTAssertEqual(l.remove("a", count: 2), 2)
        XCTAssertEqual(text(l), "bcaba")
        l = list("abacaba")
        XCTAssertEqual(l.remove("a", count: -3), 3)
        XCTAssertEqual(text(l), "abcb")
        l = list("abacaba")
        XCTAssertEqual(l.remove("a", count: 0), 4)
        XCTAssertEqual(text(l), "bcb")
        XCTAssertEqual(l.remove("z", count: 0), 0)
        XCTAssertEqual(text(l), "bcb")
        l = list("abacaba")
        XCTAssertEqual(l.remove("b", count: Int.min), 2, "Int.min removes every match, like Redis")
        XCTAssertEqual(l.remove("a", count: 100), 4)
        XCTAssertEqual(text(l), "c")
    }

    func testPositionsRankCountMaxlen() {
        let l = list("abcabca")   // a at 0, 3, 6
        XCTAssertEqual(l.positions(of: "a", rank: 1, count: nil, maxlen: 0), [0])
        XCTAssertEqual(l.positions(of: "a", rank: 2, count: nil, maxlen: 0), [3])
        XCTAssertEqual(l.positions(of: "a", rank: -1, count: nil, maxlen: 0), [6])
        XCTAssertEqual(l.positions(of: "a", rank: -2, count: 0, maxlen: 0), [3, 0])
        XCTAssertEqual(l.positions(of: "a", rank: 1, count: 2, maxlen: 0), [0, 3])
        XCTAssertEqual(l.positions(of: "a", rank: 2, count: 0, maxlen: 0), [3, 6])
        XCTAssertEqual(l.positions(of: "a", rank: 1, count: 0, maxlen: 4), [0, 3])
        XCTAssertEqual(l.positions(of: "a", rank: -1, count: 0, maxlen: 4), [6, 3])
        XCTAssertEqual(l.positions(of: "a", rank: 2, count: 1, maxlen: 3), [])
        XCTAssertEqual(l.positions(of: "a", rank: 10, count: nil, maxlen: 0), [])
        XCTAssertEqual(l.positions(of: "z", rank: 1, count: 0, maxlen: 0), [])
        XCTAssertEqual(l.positions(of: "a", rank: Int.max, count: 1, maxlen: 0), [])
        // Redis's wrapping arithmetic: rank Int.min scans from the tail and ignores COUNT.
        XCTAssertEqual(l.positions(of: "a", rank: Int.min, count: nil, maxlen: 0), [6])
        XCTAssertEqual(l.positions(of: "a", rank: Int.min, count: 1, maxlen: 0), [6, 3, 0])
    }

    func testTimeoutParsingLikeStrtold() {
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes("")))
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes(" 1")))
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes("1 ")))
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes("nan")))
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes("1e5000")))
        XCTAssertNil(StringEncoding.parseLongDouble(Bytes("1e-5000")))
        XCTAssertEqual(StringEncoding.parseLongDouble(Bytes("0x10")), 16)
        XCTAssertEqual(StringEncoding.parseLongDouble(Bytes("+0.5")), 0.5)
        XCTAssertEqual(StringEncoding.parseLongDouble(Bytes("inf"))?.isInfinite, true)
        XCTAssertNotNil(StringEncoding.parseLongDouble(Bytes("1e-400")), "a long double holds it")
    }
}
