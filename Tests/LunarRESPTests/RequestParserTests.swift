import LunarRESP
import NIOCore
import XCTest

final class RequestParserTests: XCTestCase {
    private func parse(_ chunks: [String], maxBulk: Int = 512 * 1024 * 1024) throws -> [[String]] {
        var p = RequestParser(maxBulkLength: maxBulk)
        var buf = ByteBuffer()
        var out: [[Bytes]] = []
        for c in chunks {
            buf.writeString(c)
            try p.parse(&buf, into: &out)
        }
        return out.map { $0.map(\.string) }
    }

    func testMultibulk() throws {
        XCTAssertEqual(try parse(["*2\r\n$3\r\nGET\r\n$1\r\na\r\n"]), [["GET", "a"]])
    }

    func testSplitAcrossReads() throws {
        let whole = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n"
        for cut in 1..<whole.count {
            let a = String(whole.prefix(cut)), b = String(whole.dropFirst(cut))
            XCTAssertEqual(try parse([a, b]), [["SET", "key", "value"], ["PING"]], "cut at \(cut)")
        }
    }

    func testInlineWithQuotes() throws {
        XCTAssertEqual(try parse(["SET k \"a b\\n\" 'c\\'d'\r\n"]), [["SET", "k", "a b\n", "c'd"]])
        XCTAssertEqual(try parse(["PING\n"]), [["PING"]])
        XCTAssertEqual(try parse(["\r\n"]), [])
    }

    func testEmptyMultibulkIsSkipped() throws {
        XCTAssertEqual(try parse(["*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"]), [["PING"]])
    }

    func testErrors() {
        XCTAssertThrowsError(try parse(["*1\r\n+PING\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "expected '$', got '+'") }
        XCTAssertThrowsError(try parse(["*x\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid multibulk length") }
        XCTAssertThrowsError(try parse(["*1\r\n$-5\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid bulk length") }
        XCTAssertThrowsError(try parse(["*1\r\n$2000\r\n"], maxBulk: 1000)) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid bulk length") }
        XCTAssertThrowsError(try parse(["SET \"a\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "unbalanced quotes in request") }
        XCTAssertThrowsError(try parse([String(repeating: "a", count: 70000)])) { XCTAssertEqual(($0 as! ProtocolError).message, "too big inline request") }
    }

    /// Redis looks for a line's end with strchr, which stops at a NUL: such a line never ends (until
    /// the 64 KiB line limit), and a wrong first byte is only reported once its line is complete.
    func testLinesEndAsRedisFindsThem() throws {
        XCTAssertEqual(try parse(["ECHO a\u{0}b\r\nPING\r\n"]), [])
        XCTAssertEqual(try parse(["*1\u{0}\r\n*1\r\n$4\r\nPING\r\n"]), [])
        XCTAssertEqual(try parse(["*1\r\n$4\u{0}\r\nPING\r\n"]), [])
        XCTAssertEqual(try parse(["PING\r\nECHO \u{0}"]), [["PING"]])
        XCTAssertEqual(try parse(["*1\r\n+PIN"]), [])
        XCTAssertThrowsError(try parse(["*1\r\n+PIN", "G\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "expected '$', got '+'") }
        XCTAssertThrowsError(try parse(["ECHO \u{0}" + String(repeating: "a", count: 70000) + "\r\n"])) {
            XCTAssertEqual(($0 as! ProtocolError).message, "too big inline request")
        }
        // The byte is quoted as it came, not as UTF-8.
        var p = RequestParser()
        var buf = ByteBuffer(bytes: Array("*1\r\n".utf8) + [0xff] + Array("1\r\n".utf8))
        var out: [[Bytes]] = []
        XCTAssertThrowsError(try p.parse(&buf, into: &out)) {
            XCTAssertEqual(($0 as! ProtocolError).bytes, Array("expected '$', got '".utf8) + [0xff, 0x27])
        }
    }

    /// Redis's limits for clients that have not authenticated (10 arguments, 16 KiB per argument).
    func testUnauthenticatedLimits() throws {
        func run(_ limits: RequestParser.AuthLimits, _ text: String) throws -> (cmds: [[String]], held: Bool, left: Int) {
            var p = RequestParser()
            p.authLimits = limits
            var buf = ByteBuffer(string: text)
            var out: [[Bytes]] = []
            try p.parse(&buf, into: &out)
            return (out.map { $0.map(\.string) }, p.heldForAuth, buf.readableBytes)
        }
        let eleven = "*11\r\n" + String(repeating: "$1\r\nx\r\n", count: 11)
        let big = "*1\r\n$16385\r\n" + String(repeating: "x", count: 16385) + "\r\n"
        let ok = "*10\r\n" + String(repeating: "$1\r\nx\r\n", count: 10) + "*1\r\n$16384\r\n" + String(repeating: "x", count: 16384) + "\r\n"
        XCTAssertEqual(try run(.enforced, ok).cmds.count, 2)
        XCTAssertThrowsError(try run(.enforced, eleven)) { XCTAssertEqual(($0 as! ProtocolError).message, "unauthenticated multibulk length") }
        XCTAssertThrowsError(try run(.enforced, big)) { XCTAssertEqual(($0 as! ProtocolError).message, "unauthenticated bulk length") }
        for limits in [RequestParser.AuthLimits.off, .authenticated] {
            XCTAssertEqual(try run(limits, eleven + big).cmds.count, 2)
        }
        // After another command (an AUTH may be among them), or while earlier ones have not run:
        // held, unconsumed, for the caller to parse again.
        let held = try run(.enforced, "*1\r\n$4\r\nAUTH\r\n" + eleven)
        XCTAssertEqual(held.cmds, [["AUTH"]])
        XCTAssertTrue(held.held)
        XCTAssertEqual(held.left, eleven.utf8.count)
        XCTAssertTrue(try run(.undecided, big).held)
        // RESET may log an authenticated client out: what follows it is held.
        let afterReset = try run(.authenticated, "RESET\r\n" + eleven)
        XCTAssertEqual(afterReset.cmds, [["RESET"]])
        XCTAssertTrue(afterReset.held)
    }

    /// Count and length lines are read in one pass when they are plain digits; every other spelling
    /// (zero, leading zeros, signs, spaces, 19+ digits, a CR without its LF yet) takes the general
    /// path and must be accepted or refused exactly as before.
    func testNumberLinesOutsideThePlainDigitsPath() throws {
        XCTAssertEqual(try parse(["*1\r\n$0\r\n\r\n"]), [[""]])
        XCTAssertEqual(try parse(["*2\r\n$10\r\n0123456789\r\n$1\r\nx\r\n"]), [["0123456789", "x"]])
        XCTAssertEqual(try parse(["*1\r", "\n$3\r", "\nGET\r\n"]), [["GET"]])
        XCTAssertEqual(try parse(["*1\r\n$1", "2\r\nhello world!\r\n"]), [["hello world!"]])
        for bad in ["$01\r\n", "$+1\r\n", "$ 1\r\n", "$1 \r\n", "$\r\n", "$-0\r\n", "$1234567890123456789\r\n",
                    "$99999999999999999999\r\n"] {
            XCTAssertThrowsError(try parse(["*1\r\n" + bad]), bad) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid bulk length") }
        }
        for bad in ["*01\r\n", "*+1\r\n", "* 1\r\n", "*1x\r\n", "*99999999999999999999\r\n"] {
            XCTAssertThrowsError(try parse([bad]), bad) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid multibulk length") }
        }
        // 18 digits still go the fast way; the bulk length limit applies to them too.
        XCTAssertThrowsError(try parse(["*1\r\n$123456789012345678\r\n"])) { XCTAssertEqual(($0 as! ProtocolError).message, "invalid bulk length") }
    }

    /// Small arguments equal to the previous command's at the same position share storage; what
    /// the parser returns must still be exactly what was sent, however the bytes arrive.
    func testRepeatedArgumentsAcrossCommands() throws {
        let cmds = [["SET", "k1", "xxx"], ["SET", "k2", "xxx"], ["SET", "k2", "yyy"], ["GET", "k2"],
                    ["SET", "k1", ""], ["SET", "", "xxx"], ["set", "k1", "xxx", "EX", "10"], ["SET", "k1", "xxx"],
                    [String(repeating: "a", count: 60), "k1"], [String(repeating: "a", count: 60), "k1"]]
        let whole = cmds.map { c in "*\(c.count)\r\n" + c.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined() }.joined()
        XCTAssertEqual(try parse([whole]), cmds)
        for cut in stride(from: 1, to: whole.count, by: 3) {
            let a = String(whole.prefix(cut)), b = String(whole.dropFirst(cut))
            XCTAssertEqual(try parse([a, b]), cmds, "cut at \(cut)")
        }
        // Shared storage keeps value semantics: changing one parsed argument changes no other.
        var p = RequestParser()
        var buf = ByteBuffer()
        buf.writeString("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
        var out: [[Bytes]] = []
        try p.parse(&buf, into: &out)
        out[0][1].append(UInt8(ascii: "z"))
        buf.writeString("*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
        try p.parse(&buf, into: &out)
        XCTAssertEqual(out.map { $0.map(\.string) }, [["GET", "az"], ["GET", "a"], ["GET", "a"]])
    }

    func testStrictInt() {
        XCTAssertEqual(parseStrictInt(Array("123".utf8)), 123)
        XCTAssertEqual(parseStrictInt(Array("-9223372036854775808".utf8)), Int.min)
        XCTAssertEqual(parseStrictInt(Array("9223372036854775807".utf8)), Int.max)
        for bad in ["", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "1.0", "abc"] {
            XCTAssertNil(parseStrictInt(Array(bad.utf8)), bad)
        }
    }
}

final class ReplyWriterTests: XCTestCase {
    private func text(_ f: (inout ReplyWriter) -> Void, resp: Int = 2) -> String {
        var w = ReplyWriter(resp: resp)
        f(&w)
        return w.buffer.getString(at: 0, length: w.buffer.readableBytes)!
    }

    func testScalars() {
        XCTAssertEqual(text { $0.integer(-42) }, ":-42\r\n")
        XCTAssertEqual(text { $0.integer(Int.min) }, ":-9223372036854775808\r\n")
        XCTAssertEqual(text { $0.bulk("hi") }, "$2\r\nhi\r\n")
        XCTAssertEqual(text { $0.error("ERR bad\r\nthing") }, "-ERR bad  thing\r\n")
        XCTAssertEqual(text { $0.nullBulk() }, "$-1\r\n")
        XCTAssertEqual(text({ $0.nullBulk() }, resp: 3), "_\r\n")
    }

    func testEncodersWriteWholeReplies() {
        for v in [0, 7, 9, 10, 99, 100, 12345, -1, -10, Int.max] {
            XCTAssertEqual(text { $0.integer(v) }, ":\(v)\r\n")
            XCTAssertEqual(text { $0.array(max(0, v)) }, "*\(max(0, v))\r\n")
        }
        XCTAssertEqual(text { $0.bulk(Bytes()) }, "$0\r\n\r\n")
        XCTAssertEqual(text { $0.bulk(Bytes(String(repeating: "v", count: 300))) }, "$300\r\n" + String(repeating: "v", count: 300) + "\r\n")
        XCTAssertEqual(text { $0.bulk(bytes: Array("abc".utf8)[1...]) }, "$2\r\nbc\r\n")
        XCTAssertEqual(text { $0.bulk(bytes: Array("abc".utf8).reversed()) }, "$3\r\ncba\r\n")
        XCTAssertEqual(text { $0.simple(Bytes("OK")) }, "+OK\r\n")
        XCTAssertEqual(text { $0.simple(Bytes()) }, "+\r\n")
        XCTAssertEqual(text { w in w.integer(1); w.bulk(Bytes("x")); w.integer(2) }, ":1\r\n$1\r\nx\r\n:2\r\n")
    }

    func testResp3Degradation() {
        XCTAssertEqual(text { $0.map(2) }, "*4\r\n")
        XCTAssertEqual(text({ $0.map(2) }, resp: 3), "%2\r\n")
        XCTAssertEqual(text { $0.double(1.5) }, "$3\r\n1.5\r\n")
        XCTAssertEqual(text({ $0.double(.infinity) }, resp: 3), ",inf\r\n")
        XCTAssertEqual(text { $0.bool(true) }, ":1\r\n")
        XCTAssertEqual(text({ $0.bool(false) }, resp: 3), "#f\r\n")
    }

    func testDoubleFormatting() {
        XCTAssertEqual(formatDouble(0.1), "0.10000000000000001")
        XCTAssertEqual(formatDouble(3), "3")
        XCTAssertEqual(formatDouble(-.infinity), "-inf")
    }

    func testValueParserRoundTrip() throws {
        var b = ByteBuffer()
        b.writeString("*3\r\n:1\r\n$-1\r\n%1\r\n+a\r\n,2.5\r\n")
        let v = try RESPValueParser.parse(b)
        XCTAssertEqual(v, .array([.integer(1), .null, .map([(.simple("a"), .double(2.5))])]))
    }
}
