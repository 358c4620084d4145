/// Redis-style glob matching (KEYS, SCAN MATCH, CONFIG GET…): `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
public func globMatch(_ pattern: [UInt8], _ string: [UInt8], noCase: Bool = false) -> Bool {
    return pattern.withUnsafeBufferPointer { p in
        string.withUnsafeBufferPointer { s in
            globMatchImpl(p, 0, s, 0, noCase, depth: 0)
        }
    }
}

private func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c | 0x20 : c }

private func globMatchImpl(_ p: UnsafeBufferPointer<UInt8>, _ pi0: Int, _ s: UnsafeBufferPointer<UInt8>, _ si0: Int, _ noCase: Bool, depth: Int) -> Bool {
    // Deeply nested stars are cut off, as Redis does, to bound the work of hostile patterns.
    if depth > 1000 { return false }
    var pi = pi0
    var si = si0
    while pi < p.count && si < s.count || (pi < p.count && p[pi] == UInt8(ascii: "*")) {
        let c = p[pi]
        switch c {
        case UInt8(ascii: "*"):
            while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
            if pi + 1 == p.count { return true }
            var k = si
            while k <= s.count {
                if globMatchImpl(p, pi + 1, s, k, noCase, depth: depth + 1) { return true }
                k += 1
            }
            return false
        case UInt8(ascii: "?"):
            si += 1
        case UInt8(ascii: "["):
            pi += 1
            let not = pi < p.count && p[pi] == UInt8(ascii: "^")
            if not { pi += 1 }
            var matched = false
            while true {
                if pi >= p.count { pi -= 1; break }
                if p[pi] == UInt8(ascii: "\\") && pi + 2 < p.count {
                    pi += 1
                    if p[pi] == s[si] { matched = true }
                } else if p[pi] == UInt8(ascii: "]") {
                    break
                } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") {
                    var start = p[pi], end = p[pi + 2], ch = s[si]
                    if start > end { swap(&start, &end) }
                    if noCase { start = lower(start); end = lower(end); ch = lower(ch) }
                    pi += 2
                    if ch >= start && ch <= end { matched = true }
                } else {
                    if noCase ? lower(p[pi]) == lower(s[si]) : p[pi] == s[si] { matched = true }
                }
                pi += 1
            }
            if not { matched = !matched }
            if !matched { return false }
            si += 1
        case UInt8(ascii: "\\") where pi + 1 < p.count:
            pi += 1
            if noCase ? lower(p[pi]) != lower(s[si]) : p[pi] != s[si] { return false }
            si += 1
        default:
            if noCase ? lower(c) != lower(s[si]) : c != s[si] { return false }
            si += 1
        }
        pi += 1
        if si == s.count {
            while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
            break
        }
    }
    return pi == p.count && si == s.count
}
