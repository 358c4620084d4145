import LunarEngine
import XCTest

final class SHA1Tests: XCTestCase {
    private func hex(_ s: String) -> String { SHA1.hex(Array(s.utf8)) }

    func testKnownVectors() {
        // FIPS 180 examples and common references.
        XCTAssertEqual(hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex("The quick brown fox jumps over the lazy dog"), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        XCTAssertEqual(hex(String(repeating: "a", count: 1_000_000)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    func testBlockBoundaries() {
        // 55, 56 and 64 bytes: the padding spills into a second block from 56 on.
        XCTAssertEqual(hex(String(repeating: "x", count: 55)), "cef734ba81a024479e09eb5a75b6ddae62e6abf1")
        XCTAssertEqual(hex(String(repeating: "x", count: 56)), "901305367c259952f4e7af8323f480d59f81335b")
        XCTAssertEqual(hex(String(repeating: "x", count: 64)), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163")
        XCTAssertEqual(hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}
