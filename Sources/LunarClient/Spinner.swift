#if canImport(Glibc)
import Glibc
#endif

/// A progress line on the terminal for replies that take long: a spinner, the elapsed time and a hint
/// that Ctrl-C interrupts. Drawn on stderr so it never mixes with reply output.
public final class Spinner {
    let delay: Double
    var shown = false
    var frame = 0
    static let frames = ["|", "/", "-", "\\"]

    public init(delay: Double = 0.5) { self.delay = delay }

    public func tick(_ elapsed: Double) {
        guard elapsed >= delay else { return }
        frame = (frame + 1) % Self.frames.count
        let secs = Modes.fmt2(elapsed).dropLast(1)  // one decimal
        let text = "\r\u{1b}[2K\(Self.frames[frame]) waiting for the reply... \(secs)s (Ctrl-C to interrupt)"
        fputs(text, stderr)
        fflush(stderr)
        shown = true
    }

    public func clear() {
        if shown {
            fputs("\r\u{1b}[2K", stderr)
            fflush(stderr)
            shown = false
        }
    }
}
