import XCTest
import DequeModule
@testable import LunarPersistence
import LunarRESP
@testable import LunarEngine

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

final class RDBRoundTripTests: XCTestCase {
    func testCompressorReuseAcrossInputs() {
        var c = LZF.Compressor()
        for i in 0..<200 {
            let input = (0..<(30 + i * 13)).map { UInt8(($0 * 7 + i) % 11) }
            if let out = input.withUnsafeBufferPointer({ c.compress($0) }) {
                XCTAssertEqual(LZF.decompress(out[...], length: input.count), input)
            }
        }
    }

    func testSnapshotLoadsBackIntoAnotherEngine() throws {
        let a = Engine()
        let db0 = a.databases[0]
        db0.add(Bytes("s"), .string(Bytes("hello")))
        db0.add(Bytes("n"), .string(Bytes("-12345")))
        db0.add(Bytes("long"), .string(Bytes(repeating: 120, count: 5000)))
        db0.add(Bytes("l"), .list(ListObject([Bytes("a"), Bytes("1"), Bytes(repeating: 0, count: 100)])))
        db0.add(Bytes("si"), .set(SetObject([Bytes("1"), Bytes("-2"), Bytes("300000")])))
        db0.add(Bytes("ss"), .set(SetObject([Bytes("x"), Bytes("y")])))
        db0.add(Bytes("h"), .hash(HashObject(pairs: [(Bytes("f"), Bytes("v")), (Bytes("g"), Bytes("2"))])))
        let z = ZSetObject()
        _ = z.insert(Bytes("m1"), score: 1.5)
        _ = z.insert(Bytes("m2"), score: -.infinity)
        z.settleEncoding(maxEntries: 128, maxValue: 64)
        db0.add(Bytes("z"), .zset(z))
        let far = unixMillis() + 1_000_000
        db0.setExpire(Bytes("s"), at: far)
        db0.add(Bytes("old"), .string(Bytes("x")))
        db0.table.setExpire(slot: db0.table.slot(of: Bytes("old"))!, 1)   // long expired: not saved
        a.databases[7].add(Bytes("k7"), .string(Bytes("seven")))

        let bytes = RDBWriter.snapshot(a)
        XCTAssertEqual(Array(bytes[0..<9]), Array("REDIS0010".utf8))

        let b = Engine()
        var r = RDBReader(data: bytes, engine: b, expireBefore: unixMillis())
        let stats = try r.load()
        XCTAssertEqual(stats.keysLoaded, 9)
        let d = b.databases[0]
        XCTAssertEqual(d.count, 8)
        guard case let .string(s)? = d.lookup(Bytes("s")) else { return XCTFail() }
        XCTAssertEqual(s, Bytes("hello"))
        XCTAssertEqual(d.expireTime(Bytes("s")), far)
        guard case let .string(long)? = d.lookup(Bytes("long")) else { return XCTFail() }
        XCTAssertEqual(long.count, 5000)
        guard case let .list(l)? = d.lookup(Bytes("l")) else { return XCTFail() }
        XCTAssertEqual(Array(l.items), [Bytes("a"), Bytes("1"), Bytes(repeating: 0, count: 100)])
        guard case let .set(si)? = d.lookup(Bytes("si")) else { return XCTFail() }
        XCTAssertEqual(si.encodingName, "intset")
        XCTAssertEqual(Set(si.members), [Bytes("1"), Bytes("-2"), Bytes("300000")])
        guard case let .hash(h)? = d.lookup(Bytes("h")) else { return XCTFail() }
        XCTAssertEqual(h.get(Bytes("g")), Bytes("2"))
        guard case let .zset(z2)? = d.lookup(Bytes("z")) else { return XCTFail() }
        XCTAssertEqual(z2.score(of: Bytes("m2")), -.infinity)
        XCTAssertEqual(z2.encodingName, "listpack")
        XCTAssertNil(d.lookup(Bytes("old")))
        XCTAssertEqual(b.databases[7].count, 1)

        // A flipped byte is caught by the checksum (or by the parser before it).
        var bad = bytes
        bad[bad.count - 12] ^= 1
        var r2 = RDBReader(data: bad, engine: Engine(), expireBefore: nil)
        XCTAssertThrowsError(try r2.load())
    }

    func testListpackAndIntsetDecoding() throws {
        // A listpack of "ab", 5, -3 (13-bit), 1000 (13-bit), 70000 (int24), as Redis encodes them.
        var lp: [UInt8] = [0, 0, 0, 0, 5, 0]
        lp += [0x82, 0x61, 0x62, 3]                    // 6-bit string "ab", backlen 3
        lp += [0x05, 1]                                // 7-bit uint 5
        lp += [0xDF, 0xFD, 2]                          // 13-bit -3
        lp += [0xC3, 0xE8, 2]                          // 13-bit 1000
        lp += [0xF2, 0x70, 0x11, 0x01, 4]              // int24 70000
        lp += [0xFF]
        let n = UInt32(lp.count)
        lp[0] = UInt8(n & 0xff); lp[1] = UInt8(n >> 8)
        XCTAssertEqual(try Packed.listpack(lp), [Bytes("ab"), Bytes("5"), Bytes("-3"), Bytes("1000"), Bytes("70000")])
        var bad = lp
        bad.removeLast(2)
        bad.append(0xFF)
        XCTAssertThrowsError(try Packed.listpack(bad))
        // An intset of 16-bit values.
        let iset: [UInt8] = [2, 0, 0, 0, 3, 0, 0, 0, 0xFF, 0xFF, 0x01, 0x00, 0x10, 0x27]
        XCTAssertEqual(try Packed.intset(iset), [Bytes("-1"), Bytes("1"), Bytes("10000")])
        XCTAssertThrowsError(try Packed.intset(Array(iset.dropLast())))
    }

    func testListpackWriterRoundTripsAtEveryBoundary() throws {
        var entries: [[UInt8]] = []
        let ints: [Int64] = [0, 127, 128, -1, -4096, -4097, 4095, 4096, 32767, 32768, -32768, -32769,
                             8_388_607, 8_388_608, -8_388_608, -8_388_609, Int64(Int32.max), Int64(Int32.max) + 1,
                             Int64(Int32.min) - 1, Int64.max, Int64.min]
        for v in ints { entries.append(Array(String(v).utf8)) }
        for n in [0, 1, 63, 64, 4095, 4096, 70000] { entries.append([UInt8](repeating: 0x41, count: n)) }
        entries.append(Array("007".utf8))
        entries.append(Array("-0".utf8))
        entries.append(Array("9223372036854775808".utf8))
        var lp = Listpack()
        for e in entries { lp.append(e) }
        let blob = lp.finish()
        XCTAssertEqual(try Packed.listpack(blob).map(\.raw), entries)
        // Scores: integral ones become integer entries, others their %.17g text.
        var z = Listpack()
        let scores: [Double] = [0, -0.0, 1, -1, 1.5, 1e15, 9e15, 1e300, .infinity, -.infinity, 5e-324]
        for d in scores { z.appendScore(d) }
        let parsed = try Packed.listpack(z.finish()).map { Double($0.string)! }
        XCTAssertEqual(parsed, scores)
        // Intsets pick the narrowest width.
        XCTAssertEqual(Listpack.intset([3, -2])[0], 2)
        XCTAssertEqual(Listpack.intset([70000])[0], 4)
        XCTAssertEqual(Listpack.intset([1 << 40])[0], 8)
        XCTAssertEqual(try Packed.intset(Listpack.intset([5, -1 << 40, 0])), [Bytes("-1099511627776"), Bytes("0"), Bytes("5")])
    }

    /// Damaged files must fail with an error, never crash: random byte changes and truncations of a
    /// snapshot holding every value type, parsed without the checksum so damage reaches the decoders.
    func testDamagedFilesNeverCrash() throws {
        let a = Engine()
        let d = a.databases[0]
        d.add(Bytes("s"), .string(Bytes(repeating: 97, count: 300)))
        d.add(Bytes("i"), .string(Bytes("123456")))
        d.add(Bytes("l"), .list(ListObject(Deque((0..<300).map { Bytes("e\($0 * 7919)") }))))
        d.add(Bytes("si"), .set(SetObject((0..<50).map { Bytes("\($0 * 1000)") })))
        d.add(Bytes("ss"), .set(SetObject((0..<600).map { Bytes("m\($0)") })))
        d.add(Bytes("h"), .hash(HashObject(pairs: (0..<20).map { (Bytes("f\($0)"), Bytes("\($0)")) })))
        let z = ZSetObject()
        for k in 0..<40 { _ = z.insert(Bytes("z\(k)"), score: Double(k) / 3) }
        z.settleEncoding(maxEntries: 128, maxValue: 64)
        d.add(Bytes("z"), .zset(z))
        let good = RDBWriter.snapshot(a)
        var rng = SystemRandomNumberGenerator()
        var failures = 0
        for round in 0..<1000 {
            var bad = good
            if round % 10 == 0 {
                bad.removeLast(Int.random(in: 1..<bad.count, using: &rng))
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bad[Int.random(in: 9..<bad.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            var r = RDBReader(data: bad, engine: Engine(), expireBefore: nil)
            r.verifyChecksum = false
            do { _ = try r.load() } catch { failures += 1 }
        }
        XCTAssertGreaterThan(failures, 30)
    }

    func testPlanAssemblesToTheSameBytesAsADirectSnapshot() {
        let e = Engine()
        let d = e.databases[2]
        for k in 0..<500 {
            let v: Bytes = k % 3 == 0 ? Bytes("\(k)") : k % 3 == 1 ? Bytes(repeating: UInt8(k % 251), count: k) : Bytes("short\(k)")
            d.add(Bytes("k\(k)"), .string(v))
        }
        d.add(Bytes("h"), .hash(HashObject(pairs: [(Bytes("f"), Bytes(repeating: 7, count: 40))])))
        for compress in [true, false] {
            let plan = RDBWriter.plan(e, compress: compress)
            XCTAssertFalse(plan.deferred.isEmpty)
            // The AUX ctime / used-mem fields may differ between two calls: compare after the header.
            let direct = RDBWriter.snapshotBody(e, compress: compress)
            let assembled = plan.assemble()
            // The header ends with the `aof-base` AUX field; ctime and used-mem are written as
            // binary integers that may themselves contain the SELECTDB opcode byte, so the first
            // SELECTDB is looked for only after that last field's name.
            let from = { (b: [UInt8]) -> Int in
                let name = Array("aof-base".utf8)
                let at = (0...(b.count - name.count)).first { Array(b[$0..<($0 + name.count)]) == name }!
                return b[(at + name.count)...].firstIndex(of: RDB.opSelectDB)!
            }
            XCTAssertEqual(Array(assembled[from(assembled)...]), Array(direct[from(direct)...]))
        }
    }
}
