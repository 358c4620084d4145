import LunarRESP

/// Redis-style glob matching (KEYS, SCAN MATCH, CONFIG GET…): `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
///
/// Follows Redis 7.0's matcher in its corner cases, checked against redis-server:
/// - the empty string matches only the empty pattern (so `**` does not match the empty key);
/// - an unterminated `[set` runs to the end of the pattern; a lone `\` matches a backslash;
/// - inside brackets `\x` needs only one following byte (`[\]` is the set {`]`}), and `a-]` is a range;
/// - range ends compare as C `char`s, i.e. signed: bytes ≥ 0x80 sort below ASCII;
/// - after a `*` fails to place the rest of the pattern anywhere, earlier stars are not retried
///   (same result, bounded work), and more than 1000 nested stars never match.
public func globMatch(_ pattern: [UInt8], _ string: [UInt8], noCase: Bool = false) -> Bool {
    pattern.withUnsafeBufferPointer { p in
        string.withUnsafeBufferPointer { s in
            var giveUp = false
            return globMatchImpl(p, 0, s, 0, noCase, &giveUp, depth: 0)
        }
    }
}

/// Convenience for `Bytes` arguments.
@inline(__always)
public func globMatch(_ pattern: Bytes, _ string: Bytes, noCase: Bool = false) -> Bool {
    globMatch(pattern.raw, string.raw, noCase: noCase)
}

/// A byte as C's (signed) `char`, lowered when matching without case (ASCII only, as the C locale does).
@inline(__always)
private func cchar(_ c: UInt8, _ noCase: Bool) -> Int {
    let v = noCase && c >= 65 && c <= 90 ? c | 0x20 : c
    return Int(Int8(bitPattern: v))
}

private func globMatchImpl(_ p: UnsafeBufferPointer<UInt8>, _ pi0: Int, _ s: UnsafeBufferPointer<UInt8>, _ si0: Int,
                           _ noCase: Bool, _ giveUp: inout Bool, depth: Int) -> Bool {
    if depth > 1000 { return false }
    let star = UInt8(ascii: "*"), bslash = UInt8(ascii: "\\"), close = UInt8(ascii: "]")
    let pn = p.count, sn = s.count
    var pi = pi0
    var si = si0
    while pi < pn && si < sn {
        switch p[pi] {
        case star:
            while pi + 1 < pn && p[pi + 1] == star { pi += 1 }
            if pi + 1 == pn { return true }
            while si < sn {
                if globMatchImpl(p, pi + 1, s, si, noCase, &giveUp, depth: depth + 1) { return true }
                if giveUp { return false }
                si += 1
            }
            giveUp = true
            return false
        case UInt8(ascii: "?"):
            si += 1
        case UInt8(ascii: "["):
            pi += 1
            let negate = pi < pn && p[pi] == UInt8(ascii: "^")
            if negate { pi += 1 }
            var matched = false
            let ch = s[si]
            while true {
                if pi < pn && p[pi] == bslash && pn - pi >= 2 {
                    pi += 1
                    if p[pi] == ch { matched = true }
                } else if pi < pn && p[pi] == close {
                    break
                } else if pi >= pn {
                    // Unterminated set: it ends with the pattern.
                    pi -= 1
                    break
                } else if pn - pi >= 3 && p[pi + 1] == UInt8(ascii: "-") {
                    var lo = cchar(p[pi], false), hi = cchar(p[pi + 2], false)
                    var c = cchar(ch, false)
                    if lo > hi { swap(&lo, &hi) }
                    if noCase {
                        lo = lowerInt(lo)
                        hi = lowerInt(hi)
                        c = lowerInt(c)
                    }
                    pi += 2
                    if c >= lo && c <= hi { matched = true }
                } else if cchar(p[pi], noCase) == cchar(ch, noCase) {
                    matched = true
                }
                pi += 1
            }
            if negate { matched = !matched }
            if !matched { return false }
            si += 1
        default:
            if p[pi] == bslash && pn - pi >= 2 { pi += 1 }
            if cchar(p[pi], noCase) != cchar(s[si], noCase) { return false }
            si += 1
        }
        pi += 1
        if si == sn {
            while pi < pn && p[pi] == star { pi += 1 }
            break
        }
    }
    return pi == pn && si == sn
}

@inline(__always)
private func lowerInt(_ c: Int) -> Int { c >= 65 && c <= 90 ? c + 32 : c }
