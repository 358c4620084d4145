@testable import LunarEngine
import XCTest

final class ReplicationBacklogTests: XCTestCase {
    private func feed(_ b: ReplicationBacklog, _ s: String) {
        Array(s.utf8).withUnsafeBytes { b.append($0) }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testOffsetsStartAfterCreation() {
        let b = ReplicationBacklog(capacity: 16, offset: 100)
        XCTAssertEqual(b.firstOffset, 101)
        XCTAssertEqual(b.histlen, 0)
        XCTAssertTrue(b.covers(101))
        XCTAssertFalse(b.covers(100))
        XCTAssertFalse(b.covers(102))
        feed(b, "hello")
        XCTAssertEqual(b.endOffset, 105)
        XCTAssertEqual(b.firstOffset, 101)
        XCTAssertEqual(text(b.bytes(from: 101)), "hello")
        XCTAssertEqual(text(b.bytes(from: 104)), "lo")
        XCTAssertEqual(b.bytes(from: 106), [])
        XCTAssertTrue(b.covers(106))
        XCTAssertFalse(b.covers(107))
    }

    func testWrapKeepsTheMostRecentBytes() {
        let b = ReplicationBacklog(capacity: 8, offset: 0)
        feed(b, "abcdef")
        feed(b, "ghijk")        // 11 bytes fed, 8 kept: "defghijk"
        XCTAssertEqual(b.histlen, 8)
        XCTAssertEqual(b.endOffset, 11)
        XCTAssertEqual(b.firstOffset, 4)
        XCTAssertEqual(text(b.bytes(from: 4)), "defghijk")
        XCTAssertEqual(text(b.bytes(from: 9)), "ijk")
        XCTAssertFalse(b.covers(3))
        // A write larger than the whole buffer keeps only its tail.
        feed(b, "0123456789XYZ")
        XCTAssertEqual(b.endOffset, 24)
        XCTAssertEqual(text(b.bytes(from: b.firstOffset)), "56789XYZ")
    }

    func testManySmallWritesAcrossTheEdge() {
        let b = ReplicationBacklog(capacity: 10, offset: 0)
        var all = ""
        for i in 0..<57 {
            let s = String(i % 10)
            all += s
            feed(b, s)
            let expect = String(all.suffix(10))
            XCTAssertEqual(text(b.bytes(from: b.firstOffset)), expect)
        }
    }

    func testResizeKeepsRecentHistory() {
        let b = ReplicationBacklog(capacity: 8, offset: 0)
        feed(b, "abcdefghij")     // keeps "cdefghij"
        b.resize(4)
        XCTAssertEqual(b.endOffset, 10)
        XCTAssertEqual(b.histlen, 4)
        XCTAssertEqual(text(b.bytes(from: 7)), "ghij")
        b.resize(16)
        feed(b, "KLM")
        XCTAssertEqual(b.endOffset, 13)
        XCTAssertEqual(text(b.bytes(from: 7)), "ghijKLM")
    }
}
