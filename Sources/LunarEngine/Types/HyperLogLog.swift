#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// Redis's HyperLogLog, kept in an ordinary string value in Redis's own byte layout, so GET, DUMP,
/// RESTORE and RDB files carry it between Lunar and Redis unchanged.
///
/// Layout (16-byte header, then the registers):
///   "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality, 8 bytes little endian,
///   whose top bit set means "stale, recompute".
/// 16384 registers (14 bits of the hash choose one); each holds the longest run of zero bits seen in
/// the other 50 bits, plus one.
/// - Dense: 6 bits per register, packed least significant bit first (12288 bytes).
/// - Sparse: run-length opcodes, used while the value is small:
///     00xxxxxx           ZERO   1..64 registers set to 0
///     01xxxxxx yyyyyyyy  XZERO  1..16384 registers set to 0
///     1vvvvvxx           VAL    1..4 registers set to 1..32
///   It turns dense when a register needs more than 32 or the value would pass hll-sparse-max-bytes.
/// How the sparse opcodes are split and merged decides the exact bytes, so every edit follows the
/// same steps as Redis (the values must be byte-identical after the same PFADDs).
enum HyperLogLog {
    static let indexBits = 14
    static let registerCount = 1 << indexBits               // 16384
    static let q = 64 - indexBits                           // hash bits left for the zero run
    static let registerMax = 63
    static let headerSize = 16
    static let denseSize = headerSize + (registerCount * 6 + 7) / 8
    static let encDense: UInt8 = 0
    static let encSparse: UInt8 = 1
    static let sparseValMax = 32
    static let sparseValMaxLen = 4
    static let zeroMaxLen = 64
    static let xzeroMaxLen = 16384

    static let corrupted = "INVALIDOBJ Corrupted HLL object detected"
    static let notHLL = "WRONGTYPE Key is not a valid HyperLogLog string value."

    // MARK: Header

    /// A new, empty HLL: sparse, one XZERO covering every register, cached cardinality 0.
    static func empty() -> [UInt8] {
        var s = [UInt8](repeating: 0, count: headerSize)
        s[0] = UInt8(ascii: "H"); s[1] = UInt8(ascii: "Y"); s[2] = UInt8(ascii: "L"); s[3] = UInt8(ascii: "L")
        s[4] = encSparse
        var left = registerCount
        while left > 0 {
            let n = min(left, xzeroMaxLen)
            appendXZero(&s, n)
            left -= n
        }
        return s
    }

    /// True if the bytes look like an HLL: magic, a known encoding, and the exact size when dense.
    /// (The sparse opcodes are checked only when they are walked.)
    static func isValid(_ s: [UInt8]) -> Bool {
        guard s.count >= headerSize, s[0] == UInt8(ascii: "H"), s[1] == UInt8(ascii: "Y"),
              s[2] == UInt8(ascii: "L"), s[3] == UInt8(ascii: "L"), s[4] <= encSparse else { return false }
        return s[4] != encDense || s.count == denseSize
    }

    static func hasValidCache(_ s: [UInt8]) -> Bool { s[15] & 0x80 == 0 }
    static func invalidateCache(_ s: inout [UInt8]) { s[15] |= 0x80 }

    static func cachedCardinality(_ s: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(s[8 + i]) << (8 * UInt64(i)) }
        return v
    }

    static func setCachedCardinality(_ s: inout [UInt8], _ v: UInt64) {
        for i in 0..<8 { s[8 + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    // MARK: Hashing

    /// MurmurHash64A (Austin Appleby's 64-bit variant), little-endian reads, as Redis hashes elements.
    static func murmur64A(_ data: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let m: UInt64 = 0xc6a4_a793_5bd1_e995
        let r: UInt64 = 47
        let len = data.count
        var h = seed ^ (UInt64(len) &* m)
        let blocks = len / 8
        for i in 0..<blocks {
            var k = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            k = k &* m
            k ^= k >> r
            k = k &* m
            h ^= k
            h = h &* m
        }
        let tail = blocks * 8
        let rest = len & 7
        if rest > 0 {
            for i in stride(from: rest - 1, through: 0, by: -1) { h ^= UInt64(data[tail + i]) << (8 * UInt64(i)) }
            h = h &* m
        }
        h ^= h >> r
        h = h &* m
        h ^= h >> r
        return h
    }

    /// The register an element falls into and the value it proposes (length of the run of zeros in
    /// the remaining hash bits, plus one; at most q + 1).
    @inline(__always) static func position(of element: UnsafeRawBufferPointer) -> (index: Int, count: Int) {
        var h = murmur64A(element, seed: 0xadc8_3b19)
        let index = Int(h & UInt64(registerCount - 1))
        h >>= UInt64(indexBits)
        h |= 1 << UInt64(q)    // a stop bit so the run ends by q + 1
        return (index, h.trailingZeroBitCount + 1)
    }

    static func position(of element: Bytes) -> (index: Int, count: Int) {
        element.raw.withUnsafeBytes { position(of: $0) }
    }

    // MARK: Dense registers

    /// Register `i` of a dense buffer whose registers start at `base`. The last register's second
    /// byte lies past the end; it reads as zero (Redis reads the string's terminating NUL there).
    @inline(__always) static func denseGet(_ s: UnsafeBufferPointer<UInt8>, base: Int, _ i: Int) -> Int {
        let bit = i * 6
        let byte = base + bit >> 3
        let fb = bit & 7
        let b0 = Int(s[byte])
        let b1 = byte + 1 < s.count ? Int(s[byte + 1]) : 0
        return ((b0 >> fb) | (b1 << (8 - fb))) & registerMax
    }

    @inline(__always) static func denseGet(_ s: [UInt8], _ i: Int) -> Int {
        s.withUnsafeBufferPointer { denseGet($0, base: headerSize, i) }
    }

    @inline(__always) static func denseSetRegister(_ s: inout [UInt8], base: Int, _ i: Int, _ v: Int) {
        let bit = i * 6
        let byte = base + bit >> 3
        let fb = bit & 7
        s[byte] = UInt8(truncatingIfNeeded: (Int(s[byte]) & ~(registerMax << fb)) | (v << fb))
        if byte + 1 < s.count {
            let fb8 = 8 - fb
            s[byte + 1] = UInt8(truncatingIfNeeded: (Int(s[byte + 1]) & ~(registerMax >> fb8)) | (v >> fb8))
        }
    }

    /// Raises register `i` of a dense HLL to `count`; true if it was lower.
    @discardableResult
    static func denseSet(_ s: inout [UInt8], _ i: Int, _ count: Int) -> Bool {
        if count <= denseGet(s, i) { return false }
        denseSetRegister(&s, base: headerSize, i, count)
        return true
    }

    // MARK: Sparse opcodes

    @inline(__always) static func isZero(_ b: UInt8) -> Bool { b & 0xc0 == 0 }
    @inline(__always) static func isXZero(_ b: UInt8) -> Bool { b & 0xc0 == 0x40 }
    @inline(__always) static func isVal(_ b: UInt8) -> Bool { b & 0x80 != 0 }
    @inline(__always) static func zeroLen(_ b: UInt8) -> Int { Int(b & 0x3f) + 1 }
    @inline(__always) static func xzeroLen(_ b0: UInt8, _ b1: UInt8) -> Int { (Int(b0 & 0x3f) << 8 | Int(b1)) + 1 }
    @inline(__always) static func valValue(_ b: UInt8) -> Int { Int((b >> 2) & 0x1f) + 1 }
    @inline(__always) static func valLen(_ b: UInt8) -> Int { Int(b & 0x3) + 1 }
    @inline(__always) static func valOp(_ value: Int, _ len: Int) -> UInt8 { UInt8(0x80 | (value - 1) << 2 | (len - 1)) }
    @inline(__always) static func zeroOp(_ len: Int) -> UInt8 { UInt8(len - 1) }

    static func appendXZero(_ s: inout [UInt8], _ len: Int) {
        s.append(UInt8(0x40 | (len - 1) >> 8))
        s.append(UInt8((len - 1) & 0xff))
    }

    /// A run of zero registers as the shortest opcode.
    static func appendZeros(_ s: inout [UInt8], _ len: Int) {
        if len > zeroMaxLen { appendXZero(&s, len) } else { s.append(zeroOp(len)) }
    }

    /// The byte at `i`, or 0 past the end (a truncated XZERO reads the terminating NUL in Redis).
    @inline(__always) static func byte(_ s: [UInt8], _ i: Int) -> UInt8 { i < s.count ? s[i] : 0 }

    /// Converts a sparse HLL to dense (no-op when already dense). The header, cached cardinality
    /// included, is kept. False if the sparse opcodes do not cover exactly every register.
    static func toDense(_ s: inout [UInt8]) -> Bool {
        if s[4] == encDense { return true }
        var d = [UInt8](repeating: 0, count: denseSize)
        for i in 0..<headerSize { d[i] = s[i] }
        d[4] = encDense
        let covered = walkSparse(s) { first, n, v in
            if v != 0 { for i in first..<(first + n) { denseSetRegister(&d, base: headerSize, i, v) } }
        }
        if !covered { return false }
        s = d
        return true
    }

    /// Raises register `index` of a sparse HLL to `count`, editing the opcodes in place the way Redis
    /// does (and so producing the same bytes). Turns the HLL dense when `count` does not fit a VAL
    /// opcode or the edit would grow it past `maxBytes`. Answers 1 if the register changed, 0 if it
    /// already held `count` or more, -1 if the opcodes are corrupt.
    static func sparseSet(_ s: inout [UInt8], _ index: Int, _ count: Int, maxBytes: Int) -> Int {
        if count > sparseValMax { return promote(&s, index, count) }

        // 1. Find the opcode covering `index` (and the one before it, where merging starts).
        var p = headerSize
        var first = 0, span = 0
        var prev = -1
        while p < s.count {
            let op = s[p]
            var oplen = 1
            if isZero(op) {
                span = zeroLen(op)
            } else if isVal(op) {
                span = valLen(op)
            } else {
                span = xzeroLen(op, byte(s, p + 1))
                oplen = 2
            }
            if index <= first + span - 1 { break }
            prev = p
            p += oplen
            first += span
        }
        if span == 0 || p >= s.count { return -1 }
        let op = s[p]
        let oldLen = isXZero(op) ? 2 : 1
        let next = p + oldLen < s.count ? p + oldLen : -1

        // 2. The easy cases: already high enough, or a one-register opcode rewritten in place.
        var rewritten = false
        if isVal(op) {
            if valValue(op) >= count { return 0 }
            if valLen(op) == 1 {
                s[p] = valOp(count, 1)
                rewritten = true
            }
        } else if isZero(op) && zeroLen(op) == 1 {
            s[p] = valOp(count, 1)
            rewritten = true
        }

        if !rewritten {
            // 3. Split the opcode around the register: [before] VAL(count,1) [after].
            let last = first + span - 1
            var seq: [UInt8] = []
            seq.reserveCapacity(5)
            if isVal(op) {
                let cur = valValue(op)
                if index != first { seq.append(valOp(cur, index - first)) }
                seq.append(valOp(count, 1))
                if index != last { seq.append(valOp(cur, last - index)) }
            } else {
                if index != first { appendZeros(&seq, index - first) }
                seq.append(valOp(count, 1))
                if index != last { appendZeros(&seq, last - index) }
            }
            let delta = seq.count - oldLen
            if delta > 0 && s.count + delta > maxBytes { return promote(&s, index, count) }
            let newCount = s.count + delta
            if next >= 0 {
                s.replaceSubrange(p..<next, with: seq)
            } else {
                // The last opcode: Redis overwrites from p and sets the length to old + delta,
                // which cuts a truncated XZERO's replacement short the same way.
                s.removeSubrange(p...)
                s.append(contentsOf: seq)
                if s.count > newCount { s.removeSubrange(newCount...) }
                while s.count < newCount { s.append(0) }
            }
        }

        // 4. Merge equal adjacent VAL opcodes, looking at up to 5 opcodes from the one before.
        var m = prev >= 0 ? prev : headerSize
        var scan = 5
        while m < s.count && scan > 0 {
            scan -= 1
            let b = s[m]
            if isXZero(b) {
                m += 2
                continue
            }
            if isZero(b) {
                m += 1
                continue
            }
            if m + 1 < s.count && isVal(s[m + 1]) && valValue(b) == valValue(s[m + 1]) {
                let len = valLen(b) + valLen(s[m + 1])
                if len <= sparseValMaxLen {
                    s[m + 1] = valOp(valValue(b), len)
                    s.remove(at: m)
                    continue   // the merged opcode may merge with the next one too
                }
            }
            m += 1
        }
        invalidateCache(&s)
        return 1
    }

    private static func promote(_ s: inout [UInt8], _ index: Int, _ count: Int) -> Int {
        if !toDense(&s) { return -1 }
        denseSet(&s, index, count)
        return 1
    }

    /// Adds an element: 1 if a register changed, 0 if not, -1 if the HLL is corrupt.
    static func add(_ s: inout [UInt8], _ element: Bytes, sparseMaxBytes: Int) -> Int {
        let (index, count) = position(of: element)
        return set(&s, index, count, sparseMaxBytes: sparseMaxBytes)
    }

    static func set(_ s: inout [UInt8], _ index: Int, _ count: Int, sparseMaxBytes: Int) -> Int {
        switch s[4] {
        case encDense: return denseSet(&s, index, count) ? 1 : 0
        case encSparse: return sparseSet(&s, index, count, maxBytes: sparseMaxBytes)
        default: return -1
        }
    }

    // MARK: Counting and merging

    /// How many registers hold each value (index 0…63). `nil` if sparse opcodes do not cover
    /// exactly every register.
    static func histogram(_ s: [UInt8]) -> [Int]? {
        var h = [Int](repeating: 0, count: 64)
        if s[4] == encDense {
            s.withUnsafeBufferPointer { b in
                for i in 0..<registerCount { h[denseGet(b, base: headerSize, i)] += 1 }
            }
            return h
        }
        return walkSparse(s) { _, n, v in h[v] += n } ? h : nil
    }

    /// Histogram of plain one-byte registers (the merged registers of a multi-key PFCOUNT).
    static func histogram(registers: [UInt8]) -> [Int] {
        var h = [Int](repeating: 0, count: 64)
        for r in registers { h[Int(r) & 63] += 1 }
        return h
    }

    /// Ertl's improved raw estimator ("New cardinality estimation algorithms for HyperLogLog
    /// sketches", 2017), with Redis's constants and evaluation order so the results are identical.
    static func estimate(_ h: [Int]) -> UInt64 {
        let m = Double(registerCount)
        var z = m * tau((m - Double(h[q + 1])) / m)
        for j in stride(from: q, through: 1, by: -1) {
            z += Double(h[j])
            z *= 0.5
        }
        z += m * sigma(Double(h[0]) / m)
        let alphaInf = 0.721347520444481703680
        let e = (alphaInf * m * m / z).rounded(.toNearestOrAwayFromZero)
        // z is 0 only when every register is past q + 1 (a hand-made dense value): Redis's llroundl
        // of infinity gives LLONG_MIN there, which it then reports.
        return e.isFinite ? UInt64(e) : 1 << 63
    }

    private static func sigma(_ x0: Double) -> Double {
        if x0 == 1 { return .infinity }
        var x = x0, y = 1.0, z = x0, zPrev = 0.0
        repeat {
            x *= x
            zPrev = z
            z += x * y
            y += y
        } while zPrev != z
        return z
    }

    private static func tau(_ x0: Double) -> Double {
        if x0 == 0 || x0 == 1 { return 0 }
        var x = x0, y = 1.0, z = 1 - x0, zPrev = 0.0
        repeat {
            x = sqrt(x)
            zPrev = z
            y *= 0.5
            z -= pow(1 - x, 2) * y
        } while zPrev != z
        return z / 3
    }

    /// Raises `registers` (one byte per register) to this HLL's registers. False if corrupt.
    static func merge(into registers: inout [UInt8], _ s: [UInt8]) -> Bool {
        if s[4] == encDense {
            s.withUnsafeBufferPointer { b in
                for i in 0..<registerCount {
                    let v = UInt8(denseGet(b, base: headerSize, i))
                    if v > registers[i] { registers[i] = v }
                }
            }
            return true
        }
        return walkSparse(s) { first, n, v in
            let r = UInt8(v)
            if r != 0 { for i in first..<(first + n) where r > registers[i] { registers[i] = r } }
        }
    }

    /// Walks a sparse HLL's opcodes (ZERO, XZERO, VAL) and calls `run(first, count, value)` for each
    /// run of registers, value 0 for the zero runs. False when the runs do not cover exactly every
    /// register (a corrupt HLL); no run past the last register is passed on.
    @inline(__always)
    static func walkSparse(_ s: [UInt8], _ run: (_ first: Int, _ count: Int, _ value: Int) -> Void) -> Bool {
        var idx = 0
        var p = headerSize
        while p < s.count {
            let op = s[p]
            let n: Int
            var value = 0
            if isZero(op) {
                n = zeroLen(op); p += 1
            } else if isXZero(op) {
                n = xzeroLen(op, byte(s, p + 1)); p += 2
            } else {
                n = valLen(op); value = valValue(op); p += 1
            }
            if idx + n > registerCount { return false }
            run(idx, n, value)
            idx += n
        }
        return idx == registerCount
    }
}
