import XCTest
@testable import LunarRESP

final class MultibulkTests: XCTestCase {
    private func parse(_ s: String, from: Int = 0) -> Multibulk.Parsed {
        Array(s.utf8).withUnsafeBytes { Multibulk.parse($0, from: from) }
    }

    func testWholeCommandsAndWhereTheyEnd() {
        let two = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n"
        guard case let .command(argv, end) = parse(two) else { return XCTFail() }
        XCTAssertEqual(argv, [Bytes("GET"), Bytes("k")])
        XCTAssertEqual(end, 20)
        guard case let .command(next, end2) = parse(two, from: end) else { return XCTFail() }
        XCTAssertEqual(next, [Bytes("PING")])
        XCTAssertEqual(end2, two.utf8.count)
        // Binary values, empty values and CRLF inside a value.
        guard case let .command(bin, _) = parse("*2\r\n$0\r\n\r\n$4\r\n\r\n\r\n\r\n") else { return XCTFail() }
        XCTAssertEqual(bin, [Bytes(), Bytes("\r\n\r\n")])
    }

    func testEveryCutIsIncomplete() {
        let cmd = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"
        for n in 0..<cmd.utf8.count {
            let cut = String(decoding: Array(cmd.utf8)[0..<n], as: UTF8.self)
            guard case .incomplete = parse(cut) else { return XCTFail("cut at \(n) not incomplete") }
        }
    }

    func testMalformed() {
        for bad in ["PING\r\n", "*x\r\n", "*0\r\n", "*-1\r\n", "*1\r\n+OK\r\n", "*1\r\n$-1\r\n", "*1\r\n$a\r\n",
                    "*1\r\n$3\r\nabcd\r\n"] {
            guard case .malformed = parse(bad) else { return XCTFail("not malformed: \(bad.debugDescription)") }
        }
    }
}
