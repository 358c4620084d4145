/// Constants of the RDB file format as Redis 7.0 writes it (RDB version 10), plus the two codecs
/// the format relies on: CRC-64 (Jones polynomial) and LZF decompression/compression.
public enum RDB {
    /// The RDB version Lunar writes (Redis 7.0's). Files up to this version are read.
    public static let version = 10

    // Opcodes (bytes that may appear where a value type is expected).
    static let opFunction2: UInt8 = 245
    static let opFunctionPreGA: UInt8 = 246
    static let opModuleAux: UInt8 = 247
    static let opIdle: UInt8 = 248
    static let opFreq: UInt8 = 249
    static let opAux: UInt8 = 250
    static let opResizeDB: UInt8 = 251
    static let opExpireTimeMS: UInt8 = 252
    static let opExpireTime: UInt8 = 253
    static let opSelectDB: UInt8 = 254
    static let opEOF: UInt8 = 255

    // Value types.
    static let typeString: UInt8 = 0
    static let typeList: UInt8 = 1
    static let typeSet: UInt8 = 2
    static let typeZSet: UInt8 = 3
    static let typeHash: UInt8 = 4
    static let typeZSet2: UInt8 = 5
    static let typeModulePreGA: UInt8 = 6
    static let typeModule2: UInt8 = 7
    static let typeHashZipmap: UInt8 = 9
    static let typeListZiplist: UInt8 = 10
    static let typeSetIntset: UInt8 = 11
    static let typeZSetZiplist: UInt8 = 12
    static let typeHashZiplist: UInt8 = 13
    static let typeListQuicklist: UInt8 = 14
    static let typeStreamListpacks: UInt8 = 15
    static let typeHashListpack: UInt8 = 16
    static let typeZSetListpack: UInt8 = 17
    static let typeListQuicklist2: UInt8 = 18
    static let typeStreamListpacks2: UInt8 = 19

    // Length prefixes: the two top bits of the first byte.
    static let len6: UInt8 = 0
    static let len14: UInt8 = 1
    static let len32: UInt8 = 0x80
    static let len64: UInt8 = 0x81
    static let lenEncoded: UInt8 = 3
    // Special string encodings (low six bits after a 0b11 prefix).
    static let encInt8 = 0
    static let encInt16 = 1
    static let encInt32 = 2
    static let encLZF = 3

    // Quicklist-2 node containers.
    static let quicklistPlain = 1
    static let quicklistPacked = 2
}

/// CRC-64 as Redis computes it: Jones polynomial 0xad93d23594c935a9, reflected input and output,
/// initial value 0, no final xor. The check value of "123456789" is 0xe9c6d914c4b8d9ca.
public struct CRC64 {
    /// Eight tables for slicing-by-8 (the first is the classic byte table).
    nonisolated(unsafe) static let tables: [[UInt64]] = {
        // The polynomial with its bits reversed, for the reflected (LSB-first) algorithm.
        let poly: UInt64 = 0x95ac_9329_ac4b_c9b5
        var t = [[UInt64]](repeating: [UInt64](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt64(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1 }
            t[0][i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[k - 1][i]
                t[k][i] = t[0][Int(prev & 0xff)] ^ (prev >> 8)
            }
        }
        return t
    }()

    public private(set) var value: UInt64 = 0
    public init() {}

    public mutating func update<C: ContiguousCollection>(_ bytes: C) where C.Element == UInt8 {
        bytes.withContiguousBufferPointer { update(UnsafeRawBufferPointer($0)) }
    }

    public mutating func update(_ p: UnsafeRawBufferPointer) {
        var crc = value
        let n = p.count
        var i = 0
        CRC64.tables.withUnsafeBufferPointer { tb in
            let t0 = tb[0], t1 = tb[1], t2 = tb[2], t3 = tb[3], t4 = tb[4], t5 = tb[5], t6 = tb[6], t7 = tb[7]
            t0.withUnsafeBufferPointer { t0 in
            t1.withUnsafeBufferPointer { t1 in
            t2.withUnsafeBufferPointer { t2 in
            t3.withUnsafeBufferPointer { t3 in
            t4.withUnsafeBufferPointer { t4 in
            t5.withUnsafeBufferPointer { t5 in
            t6.withUnsafeBufferPointer { t6 in
            t7.withUnsafeBufferPointer { t7 in
                while n - i >= 8 {
                    var w: UInt64 = 0
                    for k in 0..<8 { w |= UInt64(p[i + k]) << (8 * UInt64(k)) }
                    let x = crc ^ w
                    crc = t7[Int(x & 0xff)] ^ t6[Int((x >> 8) & 0xff)] ^ t5[Int((x >> 16) & 0xff)]
                        ^ t4[Int((x >> 24) & 0xff)] ^ t3[Int((x >> 32) & 0xff)] ^ t2[Int((x >> 40) & 0xff)]
                        ^ t1[Int((x >> 48) & 0xff)] ^ t0[Int(x >> 56)]
                    i += 8
                }
                while i < n {
                    crc = t0[Int((crc ^ UInt64(p[i])) & 0xff)] ^ (crc >> 8)
                    i += 1
                }
            }}}}}}}}
        }
        value = crc
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var c = CRC64()
        c.update(bytes)
        return c.value
    }
}

/// A collection whose elements are contiguous in memory (Array, ArraySlice).
public protocol ContiguousCollection: Collection {
    func withContiguousBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R
}
extension Array: ContiguousCollection {
    public func withContiguousBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer(body)
    }
}
extension ArraySlice: ContiguousCollection {
    public func withContiguousBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer(body)
    }
}

/// LZF, the compression RDB strings may use: literal runs and back references into the output.
public enum LZF {
    /// Decompresses `input` into exactly `length` bytes, or nil if the data is malformed.
    public static func decompress(_ input: ArraySlice<UInt8>, length: Int) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(length)
        var i = input.startIndex
        let end = input.endIndex
        while i < end {
            let ctrl = Int(input[i])
            i += 1
            if ctrl < 32 {
                // A literal run of ctrl + 1 bytes.
                let n = ctrl + 1
                guard i + n <= end, out.count + n <= length else { return nil }
                out.append(contentsOf: input[i..<(i + n)])
                i += n
            } else {
                // A back reference: length in the top three bits (7 means an extra byte follows).
                var n = ctrl >> 5
                if n == 7 {
                    guard i < end else { return nil }
                    n += Int(input[i])
                    i += 1
                }
                n += 2
                guard i < end else { return nil }
                let back = ((ctrl & 0x1f) << 8) + Int(input[i]) + 1
                i += 1
                guard back <= out.count, out.count + n <= length else { return nil }
                var from = out.count - back
                for _ in 0..<n {
                    out.append(out[from])
                    from += 1
                }
            }
        }
        return out.count == length ? out : nil
    }

    /// Match-finder state reused across calls: a hash table of positions offset by a running base,
    /// so no call has to clear it (entries below the current base are stale), and the output buffer.
    public struct Compressor {
        static let hashBits = 14
        var table = [Int](repeating: Int.min / 2, count: 1 << Compressor.hashBits)
        var base = 0
        /// The last successful compression's output.
        public private(set) var output: [UInt8] = []
        public init() {}

        /// Compresses `input` into `output`; false when the result would not be smaller (the caller then
        /// stores the input raw). A greedy matcher over a hash of the next three bytes that, like LZ4,
        /// strides faster through data where it keeps finding nothing.
        public mutating func compressInto(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
            let n = input.count
            if n < 4 { return false }
            let b = base
            base += n + 8192   // positions of this call never look valid to the next one
            output.removeAll(keepingCapacity: true)
            output.reserveCapacity(n)
            let mask = (1 << Compressor.hashBits) - 1
            var out = output
            output = []
            defer { output = out }
            var litStart = 0
            var i = 0
            var misses = 0
            @inline(__always) func flushLiterals(_ out: inout [UInt8], upTo end: Int) {
                var s = litStart
                while s < end {
                    let run = min(32, end - s)
                    out.append(UInt8(run - 1))
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: input[s..<(s + run)]))
                    s += run
                }
            }
            let ok: Bool = table.withUnsafeMutableBufferPointer { table in
                while i + 2 < n {
                    let key = Int(input[i]) << 16 | Int(input[i + 1]) << 8 | Int(input[i + 2])
                    let h = ((key &* 2654435761) >> 10) & mask
                    let cand = table[h] - b
                    table[h] = b + i
                    if cand >= 0, cand < i, i - cand <= 8192, input[cand] == input[i], input[cand + 1] == input[i + 1],
                       input[cand + 2] == input[i + 2] {
                        var len = 3
                        let maxLen = min(264, n - i)
                        while len < maxLen && input[cand + len] == input[i + len] { len += 1 }
                        flushLiterals(&out, upTo: i)
                        let off = i - cand - 1
                        let l = len - 2
                        if l < 7 {
                            out.append(UInt8((l << 5) | (off >> 8)))
                        } else {
                            out.append(UInt8((7 << 5) | (off >> 8)))
                            out.append(UInt8(l - 7))
                        }
                        out.append(UInt8(off & 0xff))
                        i += len
                        litStart = i
                        misses = 0
                        if out.count >= n - 1 { return false }
                    } else {
                        misses += 1
                        i += 1 + (misses >> 5)
                    }
                }
                flushLiterals(&out, upTo: n)
                return out.count < n
            }
            return ok
        }

        /// Compresses `input`; nil when the result would not be smaller.
        public mutating func compress(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
            compressInto(input) ? output : nil
        }
    }

    /// One-shot compression (tests, small uses).
    public static func compress(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var c = Compressor()
        return c.compress(input)
    }
}
