#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// What OBJECT ENCODING reports for a string value, and the number conversions string commands share.
public enum StringEncoding {
    /// Strings up to this many bytes are stored by Redis 7.0 in one allocation with their header ("embstr").
    public static let embstrLimit = 44

    /// Redis 7.0's encoding name for a string value: "int" for a canonical decimal that fits a signed
    /// 64-bit integer (20 characters at most), "embstr" up to 44 bytes, "raw" beyond.
    public static func encodingName(of s: Bytes) -> String {
        if s.count <= 20, parseStrictInt(s.raw) != nil { return "int" }
        return s.count <= embstrLimit ? "embstr" : "raw"
    }

    /// The decimal text of an integer, built without going through String.
    public static func decimal(_ v: Int) -> Bytes {
        if UInt(bitPattern: v) < UInt(sharedIntegerCount) { return sharedIntegers[v] }
        return formatDecimal(v)
    }

    /// Like Redis's shared integer objects: the text of 0..<10000 is built once, and every counter
    /// value or reply in that range shares it (INCR then neither allocates nor frees).
    public static let sharedIntegerCount = 10_000
    private static let sharedIntegers: [Bytes] = (0..<sharedIntegerCount).map { formatDecimal($0) }

    private static func formatDecimal(_ v: Int) -> Bytes {
        let negative = v < 0
        let magnitude = negative ? UInt64(bitPattern: Int64(v)).magnitudeOfNegativeValue : UInt64(v)
        var digits = 1
        var t = magnitude
        while t >= 10 {
            t /= 10
            digits += 1
        }
        let total = digits + (negative ? 1 : 0)
        // Digits go to a stack buffer, then one Array copy (the pre-specialized path; building the
        // Array with unsafeUninitializedCapacity looks up generic metadata on every call).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var u = magnitude
            var i = total
            repeat {
                i -= 1
                buf[i] = UInt8(48 + u % 10)
                u /= 10
            } while u > 0
            if negative { buf[0] = UInt8(ascii: "-") }
            return Bytes(Array(UnsafeBufferPointer(rebasing: buf[0..<total])))
        }
    }

    /// Appends `n` zero bytes (SETBIT, SETRANGE and BITFIELD growing a string) with bulk copies.
    public static func growZero(_ a: inout [UInt8], by n: Int) {
        guard n > 0 else { return }
        a.append(contentsOf: [UInt8](repeating: 0, count: n))
    }

    #if arch(x86_64) || arch(i386)
    public typealias LongDouble = Float80
    #else
    public typealias LongDouble = Double
    #endif

    /// Parses a long double as Redis's string2ld does: strtold must consume the whole text (an embedded NUL fails),
    /// no leading space, no NaN, no overflow or underflow to zero. nil when the text is not a valid float.
    public static func parseLongDouble(_ b: Bytes) -> LongDouble? {
        let n = b.count
        if n == 0 || n >= 5 * 1024 { return nil }
        let first = b[0]
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var buf = b.raw
        buf.append(0)
        return buf.withUnsafeBufferPointer { p -> LongDouble? in
            let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            #if arch(x86_64) || arch(i386)
            let v = strtold(start, &end)
            #else
            let v = strtod(start, &end)
            #endif
            guard let end, end - UnsafeMutablePointer(mutating: start) == n else { return nil }
            if v.isNaN || errno == EINVAL { return nil }
            if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
            return v
        }
    }

    /// Formats a long double as INCRBYFLOAT stores it: fixed notation with 17 decimals (`%.17Lf`),
    /// trailing zeros and a trailing dot removed, and "-0" written as "0".
    public static func formatLongDouble(_ v: LongDouble) -> Bytes {
        if v.isInfinite { return v > 0 ? Bytes("inf") : Bytes("-inf") }
        // Most values fit a small buffer; huge magnitudes (up to ~1e4932) need the large one.
        var cap = 128
        var buf = [CChar](repeating: 0, count: cap)
        var n = printFixed(v, &buf, cap)
        if Int(n) >= cap {
            cap = 5 * 1024 + 64
            buf = [CChar](repeating: 0, count: cap)
            n = printFixed(v, &buf, cap)
        }
        var len = Int(max(0, min(n, Int32(cap - 1))))
        var bytes = buf[0..<len].map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while len > 0 && bytes[len - 1] == UInt8(ascii: "0") { len -= 1 }
            if len > 0 && bytes[len - 1] == UInt8(ascii: ".") { len -= 1 }
            bytes.removeSubrange(len...)
        }
        if bytes == [UInt8(ascii: "-"), UInt8(ascii: "0")] { bytes = [UInt8(ascii: "0")] }
        return Bytes(bytes)
    }
}

/// `%.17Lf` (or `%.17f` where long double is a double) into a caller buffer; returns snprintf's count.
private func printFixed(_ v: StringEncoding.LongDouble, _ buf: inout [CChar], _ cap: Int) -> Int32 {
    #if arch(x86_64) || arch(i386)
    return withVaList([v]) { vsnprintf(&buf, cap, "%.17Lf", $0) }
    #else
    return withVaList([v]) { vsnprintf(&buf, cap, "%.17f", $0) }
    #endif
}

extension UInt64 {
    /// Magnitude of a negative Int64 given as its bit pattern.
    @inline(__always) var magnitudeOfNegativeValue: UInt64 { (~self) &+ 1 }
}
