@testable import LunarEngine
import LunarRESP
import XCTest

/// Expectations below were checked against redis-server 7.0.15 (OBJECT ENCODING after SET, INCRBYFLOAT replies).
final class StringEncodingTests: XCTestCase {
    func testEncodingNames() {
        let cases: [(String, String)] = [
            ("12", "int"), ("0", "int"), ("-0", "embstr"), ("007", "embstr"), (" 1", "embstr"), ("+1", "embstr"),
            ("9223372036854775807", "int"), ("9223372036854775808", "embstr"), ("-9223372036854775808", "int"),
            ("", "embstr"), ("abc", "embstr"), ("1.5", "embstr"),
            (String(repeating: "x", count: 44), "embstr"), (String(repeating: "x", count: 45), "raw"),
            (String(repeating: "9", count: 50), "raw"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(StringEncoding.encodingName(of: Bytes(value)), expected, "value \(value)")
        }
    }

    func testDecimal() {
        for v in [0, 1, 9, 10, -1, -10, 123456789, Int.max, Int.min, Int.min + 1] {
            XCTAssertEqual(StringEncoding.decimal(v).string, String(v))
        }
    }

    func testLongDoubleParsing() {
        XCTAssertNotNil(StringEncoding.parseLongDouble(Bytes("1.5")))
        XCTAssertNotNil(StringEncoding.parseLongDouble(Bytes("inf")))
        XCTAssertNotNil(StringEncoding.parseLongDouble(Bytes("0x10")))
        for bad in ["", " 1", "abc", "nan", "1e99999", "1e-99999", "1\u{0}", "1.5x", "1 "] {
            XCTAssertNil(StringEncoding.parseLongDouble(Bytes(bad)), "should reject \(bad.debugDescription)")
        }
    }

    func testLongDoubleFormatting() {
        #if arch(x86_64) || arch(i386)
        // 1e10 + 0.1 in 80-bit long double, as Redis prints it.
        let v = StringEncoding.parseLongDouble(Bytes("1e10"))! + StringEncoding.parseLongDouble(Bytes("0.1"))!
        XCTAssertEqual(StringEncoding.formatLongDouble(v).string, "10000000000.09999999962747097")
        #endif
        XCTAssertEqual(StringEncoding.formatLongDouble(1500).string, "1500")
        XCTAssertEqual(StringEncoding.formatLongDouble(-0.0).string, "0")
        XCTAssertEqual(StringEncoding.formatLongDouble(2.5).string, "2.5")
        XCTAssertEqual(StringEncoding.formatLongDouble(-3).string, "-3")
    }
}
