#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LunarRESP

/// LOLWUT [VERSION v] [args…]: computer art and the server version, as Redis 7.0 answers it. Version
/// 5 draws Georg Nees's "Schotter" (squares that rotate and drift more row after row) in braille
/// characters; version 6 a city skyline in four ANSI grays; any other version (7, the default) only
/// "Redis ver. 7.0.15". The art is random, so it differs from run to run, as Redis's does.
enum Lolwut {
    static var specs: [CommandSpec] {
        [
            CommandSpec("lolwut", arity: -1, flags: [.readonly, .fast], group: .server, since: "5.0.0",
                        summary: "Shows some computer art and the server version.",
                        syntax: "[VERSION version]", handler: run),
        ]
    }

    static func run(_ ctx: CommandContext) {
        var version = LunarVersion.redisCompatible
        var args = Array(ctx.argv.dropFirst())
        if args.count >= 2 && args[0].equalsIgnoringCase("version") {
            guard let v = parseStrictInt(args[1].raw) else { return ctx.error(Err.notInteger) }
            // Redis prints the number as an unsigned 32-bit "<v>.0.0" and picks the art by its text.
            version = "\(UInt32(truncatingIfNeeded: v)).0.0"
            args.removeFirst(2)
        }
        let v = Array(version.utf8) + [0, 0, 0]
        let five = (v[0] == 0x35 && v[1] == 0x2E && v[2] != 0x39) || (v[0] == 0x34 && v[1] == 0x2E && v[2] == 0x39)
        let six = (v[0] == 0x36 && v[1] == 0x2E && v[2] != 0x39) || (v[0] == 0x35 && v[1] == 0x2E && v[2] == 0x39)
        var numbers: [Int] = []
        if five || six {
            for a in args.prefix(five ? 3 : 2) {
                guard let n = parseStrictInt(a.raw) else { return ctx.error(Err.notInteger) }
                numbers.append(n)
            }
        }
        var rng = SystemRandomNumberGenerator()
        let text: String
        if five {
            let cols = clamp(numbers.count > 0 ? numbers[0] : 66, 1, 1000)
            let perRow = clamp(numbers.count > 1 ? numbers[1] : 8, 1, 200)
            let perCol = clamp(numbers.count > 2 ? numbers[2] : 12, 1, 200)
            text = schotter(cols: cols, perRow: perRow, perCol: perCol, rng: &rng).braille()
                + "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. \(LunarVersion.redisCompatible)\n"
        } else if six {
            let cols = clamp(numbers.count > 0 ? numbers[0] : 80, 1, 1000)
            let rows = clamp(numbers.count > 1 ? numbers[1] : 20, 1, 1000)
            text = skyline(cols: cols, rows: rows, rng: &rng).ansi()
                + "\nDedicated to the 8 bit game developers of past and present.\n"
                + "Original 8 bit image from Plaguemon by hikikomori. Redis ver. \(LunarVersion.redisCompatible)\n"
        } else {
            text = "Redis ver. \(LunarVersion.redisCompatible)\n"
        }
        ctx.out.verbatim(text)
    }

    private static func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { min(max(v, lo), hi) }

    /// A grid of small integers ("colors"); pixels outside are ignored.
    struct Canvas {
        let width: Int
        let height: Int
        var pixels: [UInt8]

        init(width: Int, height: Int, fill: UInt8 = 0) {
            self.width = max(0, width)
            self.height = max(0, height)
            pixels = [UInt8](repeating: fill, count: self.width * self.height)
        }

        subscript(x: Int, y: Int) -> UInt8 {
            get { x >= 0 && y >= 0 && x < width && y < height ? pixels[y * width + x] : 0 }
            set { if x >= 0 && y >= 0 && x < width && y < height { pixels[y * width + x] = newValue } }
        }

        /// A straight line, one pixel at a time (Bresenham's stepping).
        mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: UInt8) {
            var x = x0, y = y0
            let dx = abs(x1 - x0), dy = abs(y1 - y0)
            let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
            var err = dx - dy
            while true {
                self[x, y] = color
                if x == x1 && y == y1 { return }
                let e2 = 2 * err
                if e2 > -dy { err -= dy; x += sx }
                if e2 < dx { err += dx; y += sy }
            }
        }

        /// Braille text: each character shows a 2×4 block of pixels (dots 1-2-3-7 on the left column,
        /// 4-5-6-8 on the right).
        func braille() -> String {
            var out: [UInt8] = []
            var y = 0
            while y < height {
                var x = 0
                while x < width {
                    var bits = 0
                    let dots = [(0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 0, 3), (1, 1, 4), (1, 2, 5), (0, 3, 6), (1, 3, 7)]
                    for (dx, dy, bit) in dots where self[x + dx, y + dy] != 0 { bits |= 1 << bit }
                    let code = 0x2800 + bits
                    out += [UInt8(0xE0 | (code >> 12)), UInt8(0x80 | ((code >> 6) & 0x3F)), UInt8(0x80 | (code & 0x3F))]
                    x += 2
                }
                if y != height - 1 { out.append(10) }
                y += 4
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// One space per pixel, painted with its gray (black, dark gray, light gray, white).
        func ansi() -> String {
            let escapes = ["0;30;40m", "0;90;100m", "0;37;47m", "0;97;107m"]
            var out = ""
            for y in 0..<height {
                for x in 0..<width { out += "\u{1B}[\(escapes[Int(min(self[x, y], 3))]) \u{1B}[0m" }
                if y != height - 1 { out += "\n" }
            }
            return out
        }
    }

    /// Schotter: rows of squares, the first two straight, then each rotated and shifted by random
    /// amounts that grow with the row.
    static func schotter<G: RandomNumberGenerator>(cols: Int, perRow: Int, perCol: Int, rng: inout G) -> Canvas {
        let width = cols * 2
        let padding = width > 4 ? 2 : 0
        let side = Double(width - padding * 2) / Double(perRow)
        var canvas = Canvas(width: width, height: Int(side * Double(perCol)) + padding * 2)
        for row in 0..<perCol {
            for col in 0..<perRow {
                var cx = Double(Int(Double(col) * side + side / 2) + padding)
                var cy = Double(Int(Double(row) * side + side / 2) + padding)
                var angle = 0.0
                if row > 1 {
                    let spread = Double(row) / Double(perCol)
                    angle = Double.random(in: -spread...spread, using: &rng)
                    cx += Double.random(in: -spread...spread, using: &rng) * side / 3
                    cy += Double.random(in: -spread...spread, using: &rng) * side / 3
                }
                // The square's corners lie on a circle; its half-diagonal is side/√2.
                let r = (side / 2.0.squareRoot()).rounded()
                var corners: [(Int, Int)] = []
                for k in 0..<4 {
                    let a = Double.pi / 4 + angle + Double(k) * Double.pi / 2
                    corners.append((Int((sin(a) * r + cx).rounded()), Int((cos(a) * r + cy).rounded())))
                }
                for k in 0..<4 {
                    let (a, b) = (corners[k], corners[(k + 1) % 4])
                    canvas.line(a.0, a.1, b.0, b.1, 1)
                }
            }
        }
        return canvas
    }

    /// A skyline: a white sky and three rows of buildings, farthest (light gray) to nearest (black),
    /// each with lit windows in the next lighter gray.
    static func skyline<G: RandomNumberGenerator>(cols: Int, rows: Int, rng: inout G) -> Canvas {
        var canvas = Canvas(width: cols, height: rows, fill: 3)
        for (layer, color) in [UInt8(2), 1, 0].enumerated() {
            let tallest = max(1, rows - rows / 5 - layer * rows / 6)
            var x = Int.random(in: 0...3, using: &rng)
            while x < cols {
                let w = Int.random(in: 3...8, using: &rng)
                let h = Int.random(in: max(1, tallest / 3)...tallest, using: &rng)
                for bx in x..<min(cols, x + w) {
                    for by in (rows - h)..<rows { canvas[bx, by] = color }
                }
                // Windows: every other pixel inside the walls, some of them lit.
                if w >= 3 && h >= 3 {
                    var wy = rows - h + 1
                    while wy < rows - 1 {
                        var wx = x + 1
                        while wx < x + w - 1 {
                            if Int.random(in: 0..<3, using: &rng) == 0 { canvas[wx, wy] = color + 1 }
                            wx += 2
                        }
                        wy += 2
                    }
                }
                x += w + Int.random(in: 1...4, using: &rng)
            }
        }
        return canvas
    }
}
