/// SHA-1 (FIPS 180-4), used for script identifiers (EVALSHA, SCRIPT LOAD, redis.sha1hex) and for
/// DEBUG DIGEST.
public enum SHA1 {
    public static func digest(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
        let len = message.count
        var w = [UInt32](repeating: 0, count: 80)
        // Whole blocks, then the padded tail (one or two blocks).
        let fullBlocks = len / 64
        func process(_ b: UnsafePointer<UInt8>) {
            for i in 0..<16 {
                w[i] = UInt32(b[4 * i]) << 24 | UInt32(b[4 * i + 1]) << 16 | UInt32(b[4 * i + 2]) << 8 | UInt32(b[4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = (x << 1) | (x >> 31)
            }
            var (a, bb, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: f = (bb & c) | (~bb & d); k = 0x5A827999
                case 20..<40: f = bb ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (bb & c) | (bb & d) | (c & d); k = 0x8F1BBCDC
                default: f = bb ^ c ^ d; k = 0xCA62C1D6
                }
                let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = (bb << 30) | (bb >> 2)
                bb = a
                a = t
            }
            h = (h.0 &+ a, h.1 &+ bb, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        if let base = message.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            for i in 0..<fullBlocks { process(base + 64 * i) }
        }
        let rem = len - fullBlocks * 64
        var tail = [UInt8](repeating: 0, count: rem < 56 ? 64 : 128)
        for i in 0..<rem { tail[i] = message[fullBlocks * 64 + i] }
        tail[rem] = 0x80
        let bits = UInt64(len) &* 8
        for i in 0..<8 { tail[tail.count - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        tail.withUnsafeBufferPointer { p in
            process(p.baseAddress!)
            if p.count == 128 { process(p.baseAddress! + 64) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for v in [h.0, h.1, h.2, h.3, h.4] {
            out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xff)); out.append(UInt8((v >> 8) & 0xff)); out.append(UInt8(v & 0xff))
        }
        return out
    }

    /// Lowercase hex digest (40 characters).
    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(raw: $0) }
    }
    public static func hex(raw: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var s: [UInt8] = []
        s.reserveCapacity(40)
        for b in digest(raw) { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }
}
