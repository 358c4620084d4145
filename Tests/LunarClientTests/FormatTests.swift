import XCTest
@testable import LunarClient
import LunarRESP

final class FormatTests: XCTestCase {
    func tty(_ r: Reply) throws -> String {
        String(decoding: try ReplyFormatter(mode: .standard).format(r), as: UTF8.self)
    }

    func testReprEscapes() {
        XCTAssertEqual(ReplyFormatter.repr(Array("a\"b\\c\n\r\t\u{07}\u{08}".utf8) + [0, 0xff, 0x7f]),
                       "\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x00\\xff\\x7f\"")
    }

    func testNestedArraysIndentByIndexWidth() throws {
        let inner = Reply.array((1...10).map { .integer(Int64($0)) })
        let r = Reply.array([.string("a"), inner, .null])
        let out = try tty(r)
        XCTAssertTrue(out.hasPrefix("1) \"a\"\n2)  1) (integer) 1\n    2) (integer) 2\n"))
        XCTAssertTrue(out.contains("   10) (integer) 10\n3) (nil)\n"))
    }

    func testMapsSetsAndEmptyAggregates() throws {
        XCTAssertEqual(try tty(.map([.string("k"), .array([.integer(1), .integer(2)])])),
                       "1# \"k\" => \n   1) (integer) 1\n   2) (integer) 2\n")
        XCTAssertEqual(try tty(.set([.string("x")])), "1~ \"x\"\n")
        XCTAssertEqual(try tty(.array([])), "(empty array)\n")
        XCTAssertEqual(try tty(.map([])), "(empty hash)\n")
        XCTAssertEqual(try tty(.set([])), "(empty set)\n")
        XCTAssertEqual(try tty(.bool(true)), "(true)\n")
        XCTAssertEqual(try tty(.double("3.5")), "(double) 3.5\n")
        XCTAssertThrowsError(try tty(.bigNumber("1")))
    }

    func testStreamingMatchesWholeReply() throws {
        for mode in [OutputMode.standard, .raw, .csv] {
            let f = ReplyFormatter(mode: mode)
            let els: [Reply] = [.string("k1"), .array([.integer(1), .string("x")]), .string("k2"), .null]
            for (kind, whole) in [(Connection.AggregateKind.map, Reply.map(els)), (.array, .array(els)), (.set, .set(els))] {
                var streamed: [UInt8] = []
                for (i, e) in els.enumerated() {
                    streamed += try f.streamElement(e, index: i, count: els.count, kind: kind, forceRaw: false)
                }
                XCTAssertEqual(String(decoding: streamed, as: UTF8.self), String(decoding: try f.format(whole), as: UTF8.self))
            }
        }
    }

    func testReplyParserIncremental() throws {
        let full = Array("*2\r\n$3\r\nfoo\r\n%1\r\n+k\r\n,1.5\r\n".utf8)
        for cut in 0..<full.count {
            XCTAssertNil(try ReplyParser.parse(Array(full[0..<cut]), from: 0))
        }
        let (r, end) = try XCTUnwrap(ReplyParser.parse(full, from: 0))
        XCTAssertEqual(end, full.count)
        XCTAssertEqual(r, .array([.string("foo"), .map([.status("k"), .double("1.5")])]))
    }

    /// The summary orders redis-cli 7.0 prints for --bigkeys with 0, 1 and 2+ keys scanned.
    func testTypeTableOrderFollowsRehashProgress() {
        var t = TypeTableModel(inserting: ["string", "list", "set", "hash", "zset", "stream"])
        XCTAssertEqual(t.order, ["hash", "list", "string", "stream", "set", "zset"])
        t.lookup()
        XCTAssertEqual(t.order, ["string", "list", "hash", "stream", "set", "zset"])
        t.lookup()
        XCTAssertEqual(t.order, ["list", "hash", "string", "stream", "set", "zset"])
        t.lookup()
        XCTAssertEqual(t.order, ["list", "hash", "string", "stream", "set", "zset"])
    }

    func testHintsDropTypedArguments() {
        let docs = Reply.array([
            .map([.string("name"), .string("key"), .string("type"), .string("key")]),
            .map([.string("name"), .string("value"), .string("type"), .string("string")]),
            .map([.string("name"), .string("condition"), .string("type"), .string("oneof"),
                  .string("flags"), .array([.status("optional")]),
                  .string("arguments"), .array([
                      .map([.string("name"), .string("nx"), .string("type"), .string("pure-token"), .string("token"), .string("NX")]),
                      .map([.string("name"), .string("xx"), .string("type"), .string("pure-token"), .string("token"), .string("XX")]),
                  ])]),
            .map([.string("name"), .string("field"), .string("type"), .string("string"),
                  .string("flags"), .array([.status("optional"), .status("multiple")])]),
        ])
        XCTAssertEqual(HelpTable.hint(for: docs.elements!), "key value [NX|XX] [field [field ...]]")
    }
}
