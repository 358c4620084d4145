#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarEngine

@_silgen_name("backtrace")
private func c_backtrace(_ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ size: Int32) -> Int32
@_silgen_name("backtrace_symbols_fd")
private func c_backtrace_symbols_fd(_ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ size: Int32, _ fd: Int32)

/// Redis's crash log (`crash-log-enabled`): on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the server
/// log gets "crashed by signal" and a stack trace before the process dies, so an operator finds the
/// crash where the server's other messages are. The handler then passes the signal on to whatever
/// handled it before (the Swift runtime's backtracer, which prints its own report on stderr) or to
/// the default action. Everything the handler touches is prepared at install time: it only calls
/// async-signal-safe functions (open, write, close, sigaction, raise) and glibc's backtrace.
public enum CrashReport {
    private static let signals: [Int32] = [SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT]
    private static let frameCapacity: Int32 = 100

    /// What the handler reads: written once by `install`, before any handler can run.
    private struct State {
        var logPath: UnsafeMutablePointer<CChar>?       // nil: standard output
        var header: UnsafeMutableBufferPointer<UInt8>
        var footer: UnsafeMutableBufferPointer<UInt8>
        var frames: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        var previous: UnsafeMutablePointer<sigaction>   // one per entry of `signals`
    }
    nonisolated(unsafe) private static var state: State?
    /// CONFIG SET crash-log-enabled no: the handlers stay, but only pass the signal on.
    nonisolated(unsafe) public static var enabled = true

    /// Installs the handlers. `logfile`: the configured log file ("" for standard output);
    /// `crash-log-enabled` in `config` turns the report on and off (CONFIG SET included).
    public static func install(logfile: String, config: ConfigStore) {
        enabled = config.bool("crash-log-enabled")
        config.onChange.append { name, value in
            if name == "crash-log-enabled" { enabled = value == "yes" }
        }
        func buffer(_ s: String) -> UnsafeMutableBufferPointer<UInt8> {
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: s.utf8.count)
            _ = b.initialize(from: s.utf8)
            return b
        }
        let st = State(
            logPath: logfile.isEmpty ? nil : strdup(logfile),
            header: buffer("\n\n=== LUNAR BUG REPORT START: Cut & paste starting from here ===\n"
                           + "Lunar \(LunarVersion.string) (Redis \(LunarVersion.redisCompatible) compatible) crashed by signal: "),
            footer: buffer("\n=== LUNAR BUG REPORT END. Make sure to include from START to END. ===\n\n"),
            frames: .allocate(capacity: Int(frameCapacity)),
            previous: .allocate(capacity: signals.count))
        state = st
        for (i, sig) in signals.enumerated() {
            var sa = sigaction()
            sa.__sigaction_handler.sa_sigaction = crashHandler
            sa.sa_flags = Int32(truncatingIfNeeded: SA_SIGINFO | SA_NODEFER)
            sigemptyset(&sa.sa_mask)
            sigaction(sig, &sa, st.previous + i)
        }
    }

    fileprivate static func handle(_ sig: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
        guard let st = state, let index = signals.firstIndex(of: sig) else { return }
        // Whatever happens next, this handler is not entered again for this signal.
        let previous = st.previous[index]
        var restore = previous
        sigaction(sig, &restore, nil)
        if enabled {
            let fd = st.logPath.map { open($0, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) } ?? STDOUT_FILENO
            if fd >= 0 {
                writeFully(fd, UnsafeRawBufferPointer(st.header))
                writeNumber(fd, Int(sig))
                if let info {
                    writeAll(fd, ", si_code: ")
                    writeNumber(fd, Int(info.pointee.si_code))
                }
                writeAll(fd, "\n\n------ STACK TRACE ------\n")
                let n = c_backtrace(st.frames, frameCapacity)
                c_backtrace_symbols_fd(st.frames, n, fd)
                writeFully(fd, UnsafeRawBufferPointer(st.footer))
                if fd != STDOUT_FILENO { close(fd) }
            }
        }
        // On to the previous handler (the Swift runtime's backtracer, which reports on stderr), then
        // the default action: a signal sent by kill or raise would otherwise let the process go on.
        if previous.sa_flags & Int32(truncatingIfNeeded: SA_SIGINFO) != 0,
           let next = previous.__sigaction_handler.sa_sigaction {
            next(sig, info, context)
        } else if let next = previous.__sigaction_handler.sa_handler,
                  unsafeBitCast(next, to: Int.self) != unsafeBitCast(SIG_DFL, to: Int.self),
                  unsafeBitCast(next, to: Int.self) != unsafeBitCast(SIG_IGN, to: Int.self) {
            next(sig)
        }
        signal(sig, SIG_DFL)
        raise(sig)
    }

    private static func writeAll(_ fd: Int32, _ text: StaticString) {
        writeFully(fd, UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
    /// A decimal number without allocating (a signal handler may not).
    private static func writeNumber(_ fd: Int32, _ value: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var v = value.magnitude
            var i = p.count
            repeat {
                i -= 1
                p[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0 && i > 1
            if value < 0 { i -= 1; p[i] = UInt8(ascii: "-") }
            writeFully(fd, UnsafeRawBufferPointer(rebasing: p[i...]))
        }
    }
}

private func crashHandler(_ sig: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    CrashReport.handle(sig, info, context)
}
