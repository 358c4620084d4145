@testable import LunarEngine
import LunarRESP
import XCTest

/// The command index: case-insensitive, allocation-free lookups must find exactly the registered names.
final class CommandTableLookupTests: XCTestCase {
    func testEverySpellingOfEveryName() {
        let table = CommandTable()
        XCTAssertFalse(table.all.isEmpty)
        for spec in table.all {
            let lower = spec.name
            let upper = lower.uppercased()
            let mixed = String(lower.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element })
            for name in [lower, upper, mixed] {
                XCTAssertTrue(table.lookup(Bytes(name)) === spec, name)
            }
        }
    }

    func testNearMissesAreUnknown() {
        let table = CommandTable()
        for spec in table.all {
            let name = Array(spec.name.utf8)
            XCTAssertNil(table.lookup(Bytes(name + [UInt8(ascii: "x")])).flatMap { $0.name == spec.name ? $0 : nil }, spec.name)
            XCTAssertNil(table.lookup(Bytes(name.dropLast())).flatMap { $0.name == spec.name ? $0 : nil }, spec.name)
            XCTAssertNil(table.lookup(Bytes(name + [0])), spec.name)
        }
        // Only A–Z fold: '@' and '`' (0x40/0x60) or bytes ≥ 0x80 are not case variants of letters.
        for name in ["", "g", "gett", "ge", "se t", "g\u{00C9}t", String(repeating: "get", count: 30), "GET\u{0}", "@et", "`et"] {
            XCTAssertNil(table.lookup(Bytes(name)), name)
        }
        XCTAssertTrue(table.lookup(Bytes("zrevrangebyscore")) === table.lookup(Bytes("ZREVRANGEBYSCORE")))
        XCTAssertNil(table.lookup(Bytes("zrevrangebyscorf")))
    }
}
