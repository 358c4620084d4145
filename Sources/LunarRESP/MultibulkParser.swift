/// One command in RESP's multibulk form (`*N` then N `$len` bulk strings), the only form an
/// append-only file and a master's replication stream hold. Shared by the AOF loader and the
/// replica's master link; clients' requests go through `RequestParser`, which also takes inline
/// commands and enforces the client limits.
public enum Multibulk {
    public enum Parsed {
        /// A whole command; `end` is the index just past it.
        case command([Bytes], end: Int)
        /// The bytes stop inside the command (wait for more, or the file was cut short).
        case incomplete
        /// Not a multibulk command.
        case malformed
    }

    /// Parses the command starting at `start` in `d`.
    public static func parse(_ d: UnsafeRawBufferPointer, from start: Int) -> Parsed {
        var p = start
        guard p < d.count else { return .incomplete }
        guard d[p] == UInt8(ascii: "*") else { return .malformed }
        guard let argc = number(d, &p) else { return lineEnd(d, p) == nil ? .incomplete : .malformed }
        guard argc >= 1, argc <= 1 << 20 else { return .malformed }
        var argv: [Bytes] = []
        argv.reserveCapacity(argc)
        for _ in 0..<argc {
            guard p < d.count else { return .incomplete }
            guard d[p] == UInt8(ascii: "$") else { return .malformed }
            guard let len = number(d, &p) else { return lineEnd(d, p) == nil ? .incomplete : .malformed }
            guard d.count - p >= len + 2 else { return .incomplete }
            guard d[p + len] == 13, d[p + len + 1] == 10 else { return .malformed }
            argv.append(Bytes(UnsafeRawBufferPointer(rebasing: d[p..<(p + len)])))
            p += len + 2
        }
        return .command(argv, end: p)
    }

    /// The decimal after the type byte at `p` up to CRLF, advancing `p` past the line; nil when the
    /// line is incomplete or not a plain non-negative number (the caller tells which by `lineEnd`).
    private static func number(_ d: UnsafeRawBufferPointer, _ p: inout Int) -> Int? {
        guard let cr = lineEnd(d, p) else { return nil }
        let digits = cr - p - 1
        guard digits >= 1, digits <= 18 else { return nil }
        var v = 0
        for i in (p + 1)..<cr {
            let c = d[i]
            guard c >= 48, c <= 57 else { return nil }
            v = v * 10 + Int(c - 48)
        }
        p = cr + 2
        return v
    }

    /// The index of the CR of the CRLF ending the line that starts at `from`, if it is all there.
    public static func lineEnd(_ d: UnsafeRawBufferPointer, _ from: Int) -> Int? {
        var i = from
        while i + 1 < d.count {
            if d[i] == 13 && d[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}
