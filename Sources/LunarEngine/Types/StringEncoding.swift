import LunarRESP

/// The encoding Redis 7.0 would report for a string value (OBJECT ENCODING):
/// "int" when the text is a canonical 64-bit integer (string2ll rules, at most 20 chars),
/// "embstr" up to 44 bytes, "raw" beyond.
public func encodingName(of s: Bytes) -> String {
    if s.count <= 20, parseStrictInt(s.raw) != nil { return "int" }
    return s.count <= 44 ? "embstr" : "raw"
}
