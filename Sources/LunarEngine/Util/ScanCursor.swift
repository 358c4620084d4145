import LunarRESP

/// The cursor argument of SCAN, SSCAN, HSCAN and ZSCAN ("ERR invalid cursor" when nil).
/// A SCAN cursor as Redis reads it (strtoul in base 10): no leading space, optional sign
/// (a minus wraps around), digits up to the end; out of range is an error.
public func parseScanCursor(_ b: Bytes) -> UInt64? {
    let n = b.count
    var i = 0
    if n > 0 && (b[0] == 32 || (b[0] >= 9 && b[0] <= 13)) { return nil }
    var negative = false
    if i < n && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) {
        negative = b[i] == UInt8(ascii: "-")
        i += 1
    }
    let digitsStart = i
    var v: UInt64 = 0
    while i < n, b[i] >= 48 && b[i] <= 57 {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(b[i] - 48))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    if i == digitsStart {
        // No digits: strtoul consumed nothing, so only an empty argument is accepted (as 0).
        return n == 0 || b[0] == 0 ? 0 : nil
    }
    if i < n && b[i] != 0 { return nil }
    return negative ? 0 &- v : v
}
