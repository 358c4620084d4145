import Foundation
import Logging
import LunarEngine
import LunarPersistence
import LunarServer

// lunar-server [config-file] [--option value …], like redis-server.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--help" || arguments.first == "-h" {
    print("""
    Usage: lunar-server [/path/to/lunar.conf] [options]
           lunar-server -v or --version
           lunar-server -h or --help

    Every configuration directive may also be given as an option, e.g.
           lunar-server --port 7777 --loglevel verbose
           lunar-server /etc/lunar/lunar.conf --port 7777 --save ""
    """)
    exit(0)
}
if arguments.first == "--version" || arguments.first == "-v" {
    print("Lunar server v=\(LunarVersion.string) (Redis 7.0.15 compatible)")
    exit(0)
}

let config = ConfigStore(ConfigStore.defaults + Persistence.configParams)
do {
    try ServerOptions.load(arguments: arguments, into: config)
} catch {
    FileHandle.standardError.write(("\(error)\n").data(using: .utf8)!)
    exit(1)
}

let level: Logger.Level = {
    switch config.string("loglevel") {
    case "debug": return .debug
    case "verbose": return .info
    case "warning": return .warning
    case "nothing": return .critical
    default: return .notice
    }
}()
// Log lines go to standard output, or to `logfile` (as Redis's).
let logfile = config.string("logfile")
if !logfile.isEmpty, let err = ServerLogHandler.checkWritable(logfile) {
    FileHandle.standardError.write((err + "\n").data(using: .utf8)!)
    exit(1)
}
LoggingSystem.bootstrap { label in ServerLogHandler(label: label, path: logfile, level: level) }
let logger = Logger(label: "lunar")
// Crashes are reported in the log (crash-log-enabled), as Redis does.
CrashReport.install(logfile: logfile, config: config)

signal(SIGPIPE, SIG_IGN)
let server = LunarServer(config: config, logger: logger)
do {
    try server.start()
} catch {
    logger.critical("\(error)")
    FileHandle.standardError.write(("\(error)\n").data(using: .utf8)!)
    exit(1)
}
let pidfile = config.string("pidfile")
if !pidfile.isEmpty { try? "\(getpid())\n".write(toFile: pidfile, atomically: true, encoding: .utf8) }

// SIGINT/SIGTERM: shut down cleanly.
var signalSources: [DispatchSourceSignal] = []
for sig in [SIGINT, SIGTERM] {
    signal(sig, SIG_IGN)
    let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    src.setEventHandler {
        logger.warning("Received \(sig == SIGINT ? "SIGINT" : "SIGTERM") scheduling shutdown...")
        server.shutdownFromSignal(sig == SIGINT ? "SIGINT" : "SIGTERM")
    }
    src.resume()
    signalSources.append(src)
}
try server.wait()
