import XCTest
@testable import LunarPersistence
import LunarRESP

final class RDBFormatTests: XCTestCase {
    func testCRC64CheckValue() {
        // The published check value of CRC-64/Jones (Redis's crc64.c test vector).
        XCTAssertEqual(CRC64.checksum(Array("123456789".utf8)), 0xe9c6_d914_c4b8_d9ca)
        XCTAssertEqual(CRC64.checksum([]), 0)
    }

    func testCRC64IncrementalMatchesOneShot() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var c = CRC64()
        c.update(data[0..<3])
        c.update(data[3..<517])
        c.update(data[517...])
        XCTAssertEqual(c.value, CRC64.checksum(data))
        // Against a bit-at-a-time reference.
        var crc: UInt64 = 0
        for b in data {
            crc ^= UInt64(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 : crc >> 1 }
        }
        XCTAssertEqual(crc, c.value)
    }

    func testLZFRoundTrip() {
        var rng = SystemRandomNumberGenerator()
        let inputs: [[UInt8]] = [
            Array(repeating: 65, count: 1000),
            Array("abcabcabcabcabcabcabcabcabcabcabc hello hello hello hello".utf8),
            (0..<20000).map { UInt8($0 % 7 + ($0 / 300) % 3) },
            (0..<5000).map { _ in UInt8.random(in: 0...3, using: &rng) },
        ]
        for input in inputs {
            guard let c = input.withUnsafeBufferPointer({ LZF.compress($0) }) else {
                XCTFail("compressible input was not compressed")
                continue
            }
            XCTAssertLessThan(c.count, input.count)
            XCTAssertEqual(LZF.decompress(c[...], length: input.count), input)
        }
        // Random bytes do not compress.
        let noise = (0..<4000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        XCTAssertNil(noise.withUnsafeBufferPointer { LZF.compress($0) })
        // Truncated or wrong-length data is refused.
        let c = Array(repeating: UInt8(66), count: 300).withUnsafeBufferPointer { LZF.compress($0) }!
        XCTAssertNil(LZF.decompress(c[...], length: 299))
        XCTAssertNil(LZF.decompress(c.dropLast(), length: 300))
    }

    func testStringEncodings() {
        func enc(_ s: String) -> [UInt8] {
            var w = RDBWriter()
            w.string(Array(s.utf8))
            return w.bytes
        }
        XCTAssertEqual(enc("12"), [0xC0, 12])
        XCTAssertEqual(enc("-1"), [0xC0, 0xFF])
        XCTAssertEqual(enc("300"), [0xC1, 0x2C, 0x01])
        XCTAssertEqual(enc("70000"), [0xC2, 0x70, 0x11, 0x01, 0x00])
        XCTAssertEqual(enc("012"), [3] + Array("012".utf8))      // not canonical: kept as text
        XCTAssertEqual(enc("-0"), [2] + Array("-0".utf8))
        XCTAssertEqual(enc("4294967296"), [10] + Array("4294967296".utf8))  // beyond 32 bits
        XCTAssertEqual(enc(""), [0])
        var w = RDBWriter()
        w.length(16383)
        w.length(16384)
        w.length(1 << 33)
        XCTAssertEqual(w.bytes, [0x7F, 0xFF, 0x80, 0, 0, 0x40, 0, 0x81, 0, 0, 0, 2, 0, 0, 0, 0])
    }
}
