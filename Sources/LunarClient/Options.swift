#if canImport(Glibc)
import Glibc
#endif
import LunarRESP

/// Command-line configuration, parsed the way redis-cli 7.0 parses its options: options first, in any
/// order, up to the first argument that does not start with '-'; the rest is the command.
public struct Config {
    public var host = "127.0.0.1"
    public var port = 6379
    public var socketPath: String?
    public var auth: String?
    public var user: String?
    public var noAuthWarning = false
    public var dbnum = 0
    public var repeatCount = 1
    public var interval: Double = 0      // seconds
    public var resp3 = false
    public var stdinLastArg = false
    public var stdinTag: String?
    public var output: OutputMode = .standard
    public var bulkDelimiter: [UInt8] = [10]
    public var replyDelimiter: [UInt8] = [10]
    public var setErrcode = false
    public var quotedInput = false
    public var showPushes: Bool? = nil
    public var verbose = false

    public var evalFile: String?
    public var evalLdb = false           // --ldb / --ldb-sync-mode
    public var evalLdbSync = false       // --ldb-sync-mode
    public var functionLoadFile: String?
    public var functionReplace = false
    public var functionsMode = false
    public var pipeMode = false
    public var pipeTimeout: Double = 30
    public var scanMode = false
    public var pattern: Bytes?
    public var scanCount: Int?
    public var scanType: String?
    public var bigkeys = false
    public var memkeys = false
    public var memkeysSamples = 0
    public var statMode = false
    public var latencyMode = false
    public var latencyHistory = false

    public var stdoutIsTTY = false
    public var command: [String] = []

    public init() {}
}

public enum OptionOutcome {
    case run(Config)
    case exit(Int32)
}

public let lunarCLIVersion = "7.0.15"

public func parseOptions(_ argv: [String], stdoutIsTTY: Bool) -> OptionOutcome {
    var c = Config()
    c.stdoutIsTTY = stdoutIsTTY
    c.output = stdoutIsTTY ? .standard : .raw
    var i = 1
    func err(_ s: String) { fputs(s, stderr) }
    func unescapeDelim(_ s: String) -> [UInt8] {
        // redis-cli runs -d/-D through sdssplitargs-style unescaping of "\n" and friends.
        if let parts = splitArguments(Array(("\"" + s + "\"").utf8)), parts.count == 1 { return parts[0].raw }
        return Array(s.utf8)
    }
    while i < argv.count {
        let a = argv[i]
        let last = i == argv.count - 1
        func next() -> String { i += 1; return argv[i] }
        switch a {
        case "-h" where !last: c.host = next()
        case "-h", "--help": usage(); return .exit(0)
        case "-x": c.stdinLastArg = true
        case "-X" where !last: c.stdinTag = next()
        case "-p" where !last:
            let p = atoiLike(next())
            if p < 0 || p > 65535 { err("Invalid server port.\n"); return .exit(1) }
            c.port = p
        case "-s" where !last: c.socketPath = next()
        case "-r" where !last: c.repeatCount = atoiLike(next())
        case "-i" where !last: c.interval = atof(next())
        case "-n" where !last: c.dbnum = atoiLike(next())
        case "--no-auth-warning": c.noAuthWarning = true
        case "--askpass": break
        case "-a" where !last, "--pass" where !last: c.auth = next()
        case "--user" where !last: c.user = next()
        case "-u" where !last:
            if let e = parseURI(next(), &c) { err(e); return .exit(1) }
        case "--raw": c.output = .raw
        case "--no-raw": c.output = .standard
        case "--quoted-input": c.quotedInput = true
        case "--csv": c.output = .csv
        case "--latency": c.latencyMode = true
        case "--latency-history": c.latencyMode = true; c.latencyHistory = true
        case "--stat": c.statMode = true
        case "--scan": c.scanMode = true
        case "--pattern" where !last: c.pattern = Bytes(next())
        case "--quoted-pattern" where !last:
            guard let p = splitArguments(Array(next().utf8)), p.count == 1 else {
                err("Invalid quoted string specified for --quoted-pattern.\n"); return .exit(1)
            }
            c.pattern = p[0]
        case "--count" where !last: c.scanCount = atoiLike(next())
        case "--type" where !last: c.scanType = next()
        case "--bigkeys": c.bigkeys = true
        case "--memkeys": c.memkeys = true
        case "--memkeys-samples" where !last: c.memkeys = true; c.memkeysSamples = atoiLike(next())
        case "--pipe": c.pipeMode = true
        case "--pipe-timeout" where !last: c.pipeTimeout = atof(next())
        case "--eval" where !last: c.evalFile = next()
        case "--ldb": c.evalLdb = true; c.output = .raw
        case "--ldb-sync-mode": c.evalLdb = true; c.evalLdbSync = true; c.output = .raw
        case "--function-load" where !last: c.functionLoadFile = next()
        case "--replace": c.functionReplace = true
        case "--functions": c.functionsMode = true
        case "-c", "--verbose": c.verbose = c.verbose || a == "--verbose"
        case "-d" where !last: c.bulkDelimiter = unescapeDelim(next())
        case "-D" where !last: c.replyDelimiter = unescapeDelim(next())
        case "-e": c.setErrcode = true
        case "-2": c.resp3 = false
        case "-3": c.resp3 = true
        case "--show-pushes" where !last: c.showPushes = next().lowercased().hasPrefix("y")
        case "-v", "--version":
            print("lunar-cli \(lunarCLIVersion)")
            return .exit(0)
        default:
            if a.hasPrefix("-") {
                err("Unrecognized option or bad number of args for: '\(a)'\n")
                return .exit(1)
            }
            c.command = Array(argv[i...])
            i = argv.count
            continue
        }
        i += 1
    }
    if c.evalLdb && c.evalFile == nil {
        err("Options --ldb and --ldb-sync-mode require --eval.\n")
        err("Try \(argv.first ?? "lunar-cli") --help for more information.\n")
        return .exit(1)
    }
    if c.auth != nil && !c.noAuthWarning {
        err("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n")
    }
    if c.auth == nil, let env = getenv("REDISCLI_AUTH") { c.auth = String(cString: env) }
    return .run(c)
}

/// atoi: leading spaces, optional sign, digits; anything else stops the number.
func atoiLike(_ s: String) -> Int {
    var v = 0
    var neg = false
    var started = false
    for ch in s.utf8 {
        if !started && (ch == 32 || ch == 9) { continue }
        if !started && (ch == UInt8(ascii: "-") || ch == UInt8(ascii: "+")) { neg = ch == UInt8(ascii: "-"); started = true; continue }
        guard ch >= 48 && ch <= 57 else { break }
        started = true
        v = v &* 10 &+ Int(ch - 48)
    }
    return neg ? -v : v
}

/// redis://[[user:]password@]host[:port][/db]
func parseURI(_ uri: String, _ c: inout Config) -> String? {
    let scheme = "redis://"
    guard uri.lowercased().hasPrefix(scheme) else { return "Invalid URI scheme\n" }
    var rest = Substring(uri.dropFirst(scheme.count))
    if rest.isEmpty { return nil }
    func decode(_ s: Substring) -> String? {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%") {
                guard i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
                i += 3
            } else { out.append(b[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
    if let at = rest.lastIndex(of: "@") {
        var userinfo = rest[..<at]
        if let colon = userinfo.firstIndex(of: ":") {
            let u = userinfo[..<colon]
            if !u.isEmpty { c.user = decode(u) }
            userinfo = userinfo[userinfo.index(after: colon)...]
        }
        guard let pw = decode(userinfo) else { return "Illegal character in URI encoding\n" }
        c.auth = pw
        rest = rest[rest.index(after: at)...]
    }
    if rest.isEmpty { return nil }
    var hostPort = rest
    var path: Substring = ""
    if let slash = rest.firstIndex(of: "/") {
        hostPort = rest[..<slash]
        path = rest[rest.index(after: slash)...]
    }
    if !hostPort.isEmpty {
        if let colon = hostPort.lastIndex(of: ":") {
            c.port = atoiLike(String(hostPort[hostPort.index(after: colon)...]))
            let h = hostPort[..<colon]
            if !h.isEmpty { c.host = String(h) }
        } else {
            c.host = String(hostPort)
        }
    }
    if !path.isEmpty { c.dbnum = atoiLike(String(path)) }
    return nil
}

func usage() {
    let text = """
lunar-cli \(lunarCLIVersion)

Usage: lunar-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
                     You can also use the REDISCLI_AUTH environment
                     variable to pass this password more safely
                     (if both are used, this argument takes precedence).
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  -u <uri>           Server URI: redis://[[user:]password@]host[:port][/db].
  -r <repeat>        Execute specified command N times (-1: forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     It is possible to specify sub-second times like -i 0.1.
                     This interval is also used in --scan and --stat per cycle.
                     and in --bigkeys and --memkeys per 100 cycles.
  -n <db>            Database number.
  -2                 Start session in RESP2 protocol mode.
  -3                 Start session in RESP3 protocol mode.
  -x                 Read last argument from STDIN (see example below).
  -X <tag>           Read <tag> argument from STDIN (see example below).
  -d <delimiter>     Delimiter between response bulks for raw formatting (default: \\n).
  -D <delimiter>     Delimiter between responses for raw formatting (default: \\n).
  -e                 Return exit error code when command execution fails.
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --quoted-input     Force input to be handled as quoted strings.
  --csv              Output in CSV format.
  --show-pushes <yn> Whether to print RESP3 PUSH messages.  Enabled by default when
                     STDOUT is a tty but can be overridden with --show-pushes no.
  --stat             Print rolling stats about server: mem, clients, ...
  --latency          Enter a special mode continuously sampling latency.
                     If you use this mode in an interactive session it runs
                     forever displaying real-time stats. Otherwise if --raw or
                     --csv is specified, or if you redirect the output to a non
                     TTY, it samples the latency for 1 second (you can use
                     -i to change the interval), then produces a single output
                     and exits.
  --latency-history  Like --latency but tracking latency changes over time.
                     Default time interval is 15 sec. Change it using -i.
  --pipe             Transfer raw Redis protocol from stdin to server.
  --pipe-timeout <n> In --pipe mode, abort with error if after sending all data.
                     no reply is received within <n> seconds.
                     Default timeout: 30. Use 0 to wait forever.
  --bigkeys          Sample keys looking for keys with many elements (complexity).
  --memkeys          Sample keys looking for keys consuming a lot of memory.
  --memkeys-samples <n> Sample keys looking for keys consuming a lot of memory.
                     And define number of key elements to sample
  --scan             List all keys using the SCAN command.
  --pattern <pat>    Keys pattern when using the --scan, --bigkeys or --memkeys
                     options (default: *).
  --quoted-pattern <pat> Same as --pattern, but the specified string can be
                         quoted, in order to pass an otherwise non binary-safe string.
  --count <n>        COUNT hint for each SCAN call of --scan.
  --type <type>      Only list keys of this type with --scan (SCAN ... TYPE).
  --eval <file>      Send an EVAL command using the Lua script at <file>.
                     Errors are reported against <file> and its line numbers.
  --ldb              Used with --eval enable the Lua debugger.
  --ldb-sync-mode    Like --ldb but uses the synchronous Lua debugger, in
                     this mode the server is blocked and script changes are
                     not rolled back from the server memory.
  --function-load <file> Load the Lua library in <file> with FUNCTION LOAD and
                     print the functions it registered.
  --replace          With --function-load, replace a library of the same name.
  --functions        List the loaded function libraries, their functions and flags.
  --verbose          Verbose mode.
  --no-auth-warning  Don't show warning message when using password on command
                     line interface.
  --help             Output this help and exit.
  --version          Output version and exit.

Examples:
  cat /etc/passwd | lunar-cli -x set mypasswd
  lunar-cli -r 100 lpush mylist x
  lunar-cli -r 100 -i 1 info | grep used_memory_human:
  lunar-cli --quoted-input set '"null-\\x00-separated"' value
  lunar-cli --eval myscript.lua key1 key2 , arg1 arg2 arg3
  lunar-cli --function-load mylib.lua --replace
  lunar-cli --scan --pattern '*:12345*'

  (Note: when using --eval the comma separates KEYS[] from ARGV[] items)

When no command is given, lunar-cli starts in interactive mode.
Type "help" in interactive mode for information on available commands
and settings.


"""
    fputs(text, stdout)
}
