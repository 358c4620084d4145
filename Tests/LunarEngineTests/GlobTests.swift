import XCTest
@testable import LunarEngine

/// Corner cases of the glob matcher, each checked against redis-server 7.0's KEYS.
final class GlobTests: XCTestCase {
    func m(_ p: [UInt8], _ s: [UInt8], noCase: Bool = false) -> Bool { globMatch(p, s, noCase: noCase) }

    func testRedisCornerCases() {
        let cases: [([UInt8], [UInt8], Bool)] = [
            (Array("*".utf8), [], false), (Array("**".utf8), [], false), ([], [], true), (Array("?".utf8), [], false),
            (Array("[\\]".utf8), Array("]".utf8), true), (Array("[\\]".utf8), Array("\\".utf8), false),
            (Array("[a-]".utf8), Array("^".utf8), true), (Array("[a-]".utf8), Array("-".utf8), false),
            (Array("[abc".utf8), Array("b".utf8), true), (Array("[^".utf8), Array("x".utf8), true),
            (Array("[".utf8), Array("[".utf8), false), (Array("\\".utf8), Array("\\".utf8), true),
            (Array("a\\".utf8), Array("a\\".utf8), true), (Array("\\*".utf8), Array("x".utf8), false),
            ([0x5b, 0x61, 0x2d, 0xff, 0x5d], [0x7a], false), ([0x5b, 0x61, 0x2d, 0xff, 0x5d], [0x2a], true),
            ([0x5b, 0x80, 0x2d, 0xff, 0x5d], [0xe9], true), ([0x5b, 0x80, 0x2d, 0xff, 0x5d], [0x61], false),
            (Array("[z-a]".utf8), Array("m".utf8), true), (Array("a*a*a".utf8), Array("aaa".utf8), true),
            (Array("a*a*a".utf8), Array("aa".utf8), false), (Array("*a*".utf8), Array("a".utf8), true),
        ]
        for (p, s, want) in cases {
            XCTAssertEqual(m(p, s), want, "\(p) ~ \(s)")
        }
    }

    func testNoCase() {
        XCTAssertTrue(m(Array("HeLLo*".utf8), Array("hello world".utf8), noCase: true))
        XCTAssertTrue(m(Array("[A-C]x".utf8), Array("bX".utf8), noCase: true))
        XCTAssertFalse(m(Array("[A-C]x".utf8), Array("bX".utf8)))
    }

    func testHostilePatternFinishes() {
        let s = [UInt8](repeating: UInt8(ascii: "a"), count: 80)
        var p: [UInt8] = []
        for _ in 0..<40 { p += Array("a*".utf8) }
        p += Array("b".utf8)
        XCTAssertFalse(m(p, s))
    }
}
