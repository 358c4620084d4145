@testable import LunarEngine
import LunarRESP
import XCTest

/// COMMAND DOCS arguments parsed from CommandSpec syntax lines, and the string encoding helper.
final class CommandDocsTests: XCTestCase {
    private func parse(_ s: String, _ cmd: String = "x") -> [DocArgument] { DocArgument.parse(s, command: cmd) }

    func testKeyValueAndOptionalTokens() {
        let a = parse("key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]", "set")
        XCTAssertEqual(a.map(\.name).prefix(2), ["key", "value"])
        XCTAssertEqual(a[0].type, "key")
        XCTAssertEqual(a[0].keySpecIndex, 0)
        XCTAssertEqual(a[2].type, "oneof")
        XCTAssertTrue(a[2].optional)
        XCTAssertEqual(a[2].children.map(\.token), ["NX", "XX"])
        XCTAssertEqual(a[3].type, "pure-token")
        XCTAssertEqual(a[3].token, "GET")
        XCTAssertTrue(a[3].optional)
        let exp = a[4]
        XCTAssertEqual(exp.type, "oneof")
        XCTAssertEqual(exp.children.map(\.token), ["EX", "PX", "KEEPTTL"])
        XCTAssertEqual(exp.children[0].type, "integer")
        XCTAssertEqual(exp.children[0].name, "seconds")
        XCTAssertEqual(exp.children[2].type, "pure-token")
    }

    func testRepetitionMergesIntoMultiple() {
        let a = parse("key [key ...]")
        XCTAssertEqual(a.count, 1)
        XCTAssertTrue(a[0].multiple)
        XCTAssertFalse(a[0].optional)
        let h = parse("key field value [field value ...]")
        XCTAssertEqual(h.count, 2)
        XCTAssertEqual(h[1].type, "block")
        XCTAssertTrue(h[1].multiple)
        XCTAssertEqual(h[1].children.map(\.name), ["field", "value"])
    }

    func testTokenBlocksAndTokenChoice() {
        let a = parse("[TYPE NORMAL|MASTER|REPLICA] [ID client-id [client-id ...]] [LIMIT offset count]")
        XCTAssertEqual(a[0].type, "oneof")
        XCTAssertEqual(a[0].token, "TYPE")
        XCTAssertEqual(a[0].children.map(\.token), ["NORMAL", "MASTER", "REPLICA"])
        XCTAssertEqual(a[1].type, "block")
        XCTAssertEqual(a[1].token, "ID")
        XCTAssertTrue(a[1].children[0].multiple)
        XCTAssertEqual(a[2].type, "block")
        XCTAssertEqual(a[2].token, "LIMIT")
        XCTAssertEqual(a[2].children.map(\.type), ["integer", "integer"])
    }

    func testBarsBindNeighboursInMixedSequences() {
        let a = parse("key BEFORE|AFTER pivot element")
        XCTAssertEqual(a.map(\.type), ["key", "oneof", "string", "string"])
        XCTAssertEqual(a[1].children.map(\.token), ["BEFORE", "AFTER"])
    }

    func testTypesFromNames() {
        let a = parse("key pattern numkeys timeout unix-time-seconds member", "blpop")
        XCTAssertEqual(a.map(\.type), ["key", "pattern", "integer", "double", "unix-time", "string"])
        XCTAssertTrue(parse("").isEmpty)
    }

    func testStringEncodingNames() {
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes("123")), "int")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes("-9223372036854775808")), "int")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes("9223372036854775808")), "embstr")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes("0123")), "embstr")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes("")), "embstr")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes(String(repeating: "x", count: 44))), "embstr")
        XCTAssertEqual(StringEncoding.encodingName(of: Bytes(String(repeating: "x", count: 45))), "raw")
    }
}
