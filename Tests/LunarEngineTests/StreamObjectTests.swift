@testable import LunarEngine
import LunarRESP
import XCTest

final class StreamObjectTests: XCTestCase {
    private func add(_ s: StreamObject, _ ms: UInt64, _ seq: UInt64, _ fields: [Bytes] = ["f", "v"],
                     maxBytes: Int = 4096, maxEntries: Int = 100) {
        s.append(id: StreamID(ms, seq), fields: fields, nodeMaxBytes: maxBytes, nodeMaxEntries: maxEntries)
    }

    private func ids(_ s: StreamObject, reverse: Bool = false) -> [String] {
        var out: [String] = []
        s.forEach(from: .zero, to: .max, reverse: reverse) { id, _ in
            out.append(id.description)
            return true
        }
        return out
    }

    func testIDParsing() {
        XCTAssertEqual(StreamID.parse("5", missingSeq: 0), StreamID(5, 0))
        XCTAssertEqual(StreamID.parse("5", missingSeq: UInt64.max), StreamID(5, UInt64.max))
        XCTAssertEqual(StreamID.parse("18446744073709551615-18446744073709551615", missingSeq: 0), .max)
        XCTAssertNil(StreamID.parse("18446744073709551616-0", missingSeq: 0))
        XCTAssertNil(StreamID.parse("1-", missingSeq: 0))
        XCTAssertNil(StreamID.parse("-1", missingSeq: 0))
        XCTAssertNil(StreamID.max.successor)
        XCTAssertNil(StreamID.zero.predecessor)
        XCTAssertEqual(StreamID(1, UInt64.max).successor, StreamID(2, 0))
        XCTAssertEqual(StreamID(bigEndian: StreamID(7, 9).bigEndian), StreamID(7, 9))
    }

    func testNodesCloseAtTheEntryLimitAndTombstonesCount() {
        let s = StreamObject()
        for i in 1...10 { add(s, UInt64(i), 0, maxEntries: 3) }
        XCTAssertEqual(s.nodes.count, 4)
        XCTAssertEqual(s.nodes.map(\.live), [3, 3, 3, 1])
        XCTAssertTrue(s.delete(StreamID(2, 0)))
        XCTAssertFalse(s.delete(StreamID(2, 0)))
        XCTAssertEqual(s.nodes[0].deletedCount, 1)
        XCTAssertEqual(s.maxDeletedID, StreamID(2, 0))
        // The last live entry of a node takes the node with it.
        XCTAssertTrue(s.delete(StreamID(10, 0)))
        XCTAssertEqual(s.nodes.count, 3)
        XCTAssertEqual(ids(s), ["1-0", "3-0", "4-0", "5-0", "6-0", "7-0", "8-0", "9-0"])
        XCTAssertEqual(ids(s, reverse: true).first, "9-0")
        XCTAssertEqual(s.length, 8)
        XCTAssertEqual(s.entriesAdded, 10)
    }

    func testNodesCloseAtTheByteLimit() {
        let s = StreamObject()
        let big = Bytes(String(repeating: "x", count: 100))
        for i in 1...4 { add(s, UInt64(i), 0, ["f", big], maxBytes: 200, maxEntries: 0) }
        // A node holds one 100-byte value (plus ~20 bytes of structure) before the next would pass 200.
        XCTAssertEqual(s.nodes.count, 4)
        XCTAssertGreaterThan(s.nodes[0].listpackBytes, 100)
    }

    func testApproximateTrimRemovesWholeNodesOnly() {
        let s = StreamObject()
        for i in 1...10 { add(s, UInt64(i), 0, maxEntries: 4) }
        XCTAssertEqual(s.trim(.maxLen(5), approx: true, limit: 0), 4)   // one node of 4; the next would go below 5
        XCTAssertEqual(s.length, 6)
        XCTAssertEqual(s.firstID, StreamID(5, 0))
        XCTAssertEqual(s.trim(.maxLen(5), approx: false, limit: 0), 1)
        XCTAssertEqual(s.firstID, StreamID(6, 0))
        XCTAssertEqual(s.trim(.minID(StreamID(9, 0)), approx: true, limit: 0), 3)   // node 5…8 (its tombstone counts)
        XCTAssertEqual(ids(s), ["9-0", "10-0"])
        XCTAssertEqual(s.trim(.maxLen(0), approx: false, limit: 0), 2)
        XCTAssertEqual(s.length, 0)
        XCTAssertEqual(s.firstID, .zero)
    }

    func testPELMapKeepsIDOrder() {
        var m = IDMap<Int>()
        for (i, id) in [StreamID(5, 0), StreamID(1, 0), StreamID(3, 2), StreamID(9, 9)].enumerated() {
            XCTAssertTrue(m.set(id, i))
        }
        XCTAssertFalse(m.set(StreamID(1, 0), 7))
        XCTAssertEqual(m.keys, [StreamID(1, 0), StreamID(3, 2), StreamID(5, 0), StreamID(9, 9)])
        XCTAssertEqual(m[StreamID(1, 0)], 7)
        XCTAssertEqual(m.remove(StreamID(3, 2)), 2)
        XCTAssertNil(m.remove(StreamID(3, 2)))
        XCTAssertEqual(m.lowerBound(StreamID(4, 0)), 1)
    }

    func testLagAndEntriesRead() {
        let s = StreamObject()
        for i in 1...5 { add(s, UInt64(i), 0) }
        let g = StreamGroup(name: "g", lastID: .zero, entriesRead: StreamObject.invalidEntriesRead)
        XCTAssertEqual(s.lag(of: g), 5)
        s.advance(g, to: StreamID(1, 0))
        XCTAssertEqual(g.entriesRead, 1)
        s.advance(g, to: StreamID(2, 0))
        XCTAssertEqual(g.entriesRead, 2)
        XCTAssertEqual(s.lag(of: g), 3)
        s.delete(StreamID(4, 0))
        XCTAssertNil(s.lag(of: g))   // a tombstone ahead: unknown
        s.advance(g, to: StreamID(3, 0))
        XCTAssertEqual(g.entriesRead, StreamObject.invalidEntriesRead)
        s.advance(g, to: StreamID(5, 0))   // the last entry: its position is known again
        XCTAssertEqual(g.entriesRead, 5)
        XCTAssertEqual(s.lag(of: g), 0)
    }
}
