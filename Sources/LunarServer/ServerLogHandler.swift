#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Where the server's log lines go, as Redis sends them: to standard output when `logfile` is
/// empty, else appended to that file, which is opened for every line (as Redis does: a file moved
/// away by logrotate is followed by a new one at once).
public struct ServerLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let path: String

    public init(label: String, path: String, level: Logger.Level) {
        self.label = label
        self.path = path
        self.logLevel = level
    }

    /// The error text if `path` cannot be opened for appending (checked once at start-up).
    public static func checkWritable(_ path: String) -> String? {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { return "Can't open the log file: \(String(cString: strerror(errno)))" }
        close(fd)
        return nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let extra { all.merge(extra) { $1 } }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = "\(Self.timestamp()) \(level) \(label):\(meta) [\(source)] \(message)\n"
        let bytes = Array(text.utf8)
        if path.isEmpty {
            bytes.withUnsafeBytes { writeFully(STDOUT_FILENO, $0) }
        } else {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { return }
            bytes.withUnsafeBytes { writeFully(fd, $0) }
            close(fd)
        }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buf = [Int8](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Writes all of `bytes` to `fd` (retrying short writes and EINTR), giving up on an error. Only
/// `write(2)`: the crash report calls it from a signal handler.
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var off = 0
    while off < bytes.count {
        let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
        if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            return
        }
        off += n
    }
}
