import LunarEngine
import LunarRESP
import LunarScripting
import XCTest

/// The propagation feed: what a replica or an append-only file would replay after each command.
/// The test thread plays the engine thread (the engine is not started), so every call is synchronous.
final class PropagationTests: XCTestCase {
    final class Recorder: PropagationSink {
        var units: [[PropagatedOp]] = []
        func propagate(_ ops: [PropagatedOp]) { units.append(ops) }
        /// Every unit as text lines "db: ARGV…", then forgotten.
        func drain() -> [[String]] {
            defer { units = [] }
            return units.map { $0.map { "\($0.db): " + $0.argv.map(\.string).joined(separator: " ") } }
        }
    }

    var engine: Engine!
    var client: Client!
    var feed: Recorder!

    override func setUpWithError() throws {
        let config = ConfigStore()
        _ = config.set("lua-library-dir", "", startup: true)
        _ = config.set("enable-debug-command", "yes", startup: true)
        let table = CommandTable()
        table.register(ScriptingCommands.specs)
        engine = Engine(config: config, table: table)
        try Scripting.install(on: engine)
        client = Client(id: 1, connection: nil, now: 0)
        feed = Recorder()
        engine.addPropagationSink(feed)
    }

    @discardableResult
    func run(_ args: String...) -> String {
        client.output.buffer.clear()
        engine.executeTopLevel(client, args.map { Bytes($0) })
        return String(decoding: client.output.buffer.readableBytesView, as: UTF8.self)
    }

    func testPlainWritesPropagateAsSentAndReadsNot() {
        run("SET", "k", "v")
        run("GET", "k")
        run("SET", "k", "v", "NX")   // changes nothing
        run("RPUSH", "l", "a", "b")
        XCTAssertEqual(feed.drain(), [["0: SET k v"], ["0: RPUSH l a b"]])
    }

    func testSelectedDatabaseTravelsWithEachCommand() {
        run("SELECT", "3")
        run("INCR", "n")
        XCTAssertEqual(feed.drain(), [["3: INCR n"]])
    }

    func testRelativeExpiriesBecomeAbsolute() throws {
        run("SET", "k", "v", "EX", "100")
        run("SETEX", "s", "100", "v")
        run("EXPIRE", "k", "50", "GT")    // not greater: no change
        run("PEXPIRE", "s", "200000")
        run("GETEX", "s", "PERSIST")
        run("EXPIRE", "s", "-1")          // a past time deletes
        let units = feed.drain()
        guard units.count == 5 else { return XCTFail("\(units)") }
        let set = units[0][0].split(separator: " ")
        XCTAssertEqual(set[1...4], ["SET", "k", "v", "PXAT"])
        let at = try XCTUnwrap(Int64(set[5]))
        XCTAssertEqual(Double(at), Double(unixMillis() + 100_000), accuracy: 5_000)
        XCTAssertTrue(units[1][0].hasPrefix("0: SET s v PXAT "))
        XCTAssertTrue(units[2][0].hasPrefix("0: PEXPIREAT s "))
        XCTAssertEqual(units[3], ["0: PERSIST s"])
        XCTAssertEqual(units[4], ["0: DEL s"])
    }

    func testRandomAndFloatResultsTravelAsTheirOutcome() {
        run("SADD", "s", "a", "b", "c")
        _ = feed.drain()
        let reply = run("SPOP", "s")
        let popped = reply.split(separator: "\r\n").last.map(String.init)!
        XCTAssertEqual(feed.drain(), [["0: SREM s \(popped)"]])
        run("SPOP", "s", "5")
        XCTAssertEqual(feed.drain(), [["0: DEL s"]])
        run("INCRBYFLOAT", "f", "1.5")
        run("HINCRBYFLOAT", "h", "x", "0.25")
        XCTAssertEqual(feed.drain(), [["0: SET f 1.5 KEEPTTL"], ["0: HSET h x 0.25"]])
    }

    func testBlockingPopsTravelAsPlainPops() {
        run("RPUSH", "l", "a", "b", "c")
        run("ZADD", "z", "1", "m", "2", "n")
        _ = feed.drain()
        run("BLPOP", "missing", "l", "0")
        run("BRPOPLPUSH", "l", "l2", "0")
        run("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5")
        run("BZPOPMAX", "z", "0")
        run("BLPOP", "l", "0.01")   // empty now: it blocks and changes nothing
        XCTAssertEqual(feed.drain(), [["0: LPOP l"], ["0: RPOPLPUSH l l2"], ["0: LPOP l 1"], ["0: ZPOPMAX z"]])
    }

    func testTransactionsWrapMoreThanOneWrite() {
        run("MULTI"); run("SET", "a", "1"); run("GET", "a"); run("EXEC")
        XCTAssertEqual(feed.drain(), [["0: SET a 1"]])
        run("MULTI"); run("SET", "a", "2"); run("SELECT", "1"); run("INCR", "a"); run("EXEC")
        XCTAssertEqual(feed.drain(), [["0: MULTI", "0: SET a 2", "1: INCR a", "1: EXEC"]])
    }

    /// Commands travel as the script wrote them (lower case here), as in Redis.
    func testScriptsPropagateTheirEffects() {
        run("EVAL", "redis.call('set', KEYS[1], 'x'); return redis.call('get', KEYS[1])", "1", "k")
        XCTAssertEqual(feed.drain(), [["0: set k x"]])
        run("EVAL", "redis.call('incr', KEYS[1]); redis.call('spop', KEYS[2]); return 1", "2", "n", "nokey")
        run("EVAL", "return redis.call('get', KEYS[1])", "1", "k")
        run("EVAL", "redis.call('lpush', KEYS[1], 'a'); redis.call('expire', KEYS[1], 100); return 1", "1", "l")
        let units = feed.drain()
        guard units.count == 2 else { return XCTFail("\(units)") }
        XCTAssertEqual(units[0], ["0: incr n"])
        XCTAssertEqual(units[1].count, 4)
        XCTAssertEqual(Array(units[1][0...1]), ["0: MULTI", "0: lpush l a"])
        XCTAssertTrue(units[1][2].hasPrefix("0: PEXPIREAT l "))
        XCTAssertEqual(units[1][3], "0: EXEC")
    }

    func testSetReplChoosesTargets() {
        run("EVAL", "redis.set_repl(redis.REPL_NONE); redis.call('set', 'a', '1'); redis.set_repl(redis.REPL_AOF); redis.call('set', 'b', '2'); return 1", "0")
        guard feed.units.count == 1 else { return XCTFail("\(feed.units)") }
        XCTAssertEqual(feed.units[0].map(\.targets.rawValue), [1, 0, 1, 1])
        _ = feed.drain()
        // The next script starts again with everything propagated everywhere.
        run("EVAL", "redis.call('set', 'c', '3'); return 1", "0")
        XCTAssertEqual(feed.units.first?.first?.targets, .all)
    }

    func testFunctionsAndFcallPropagate() {
        let lib = "#!lua name=plib\nredis.register_function('put', function(keys, args) redis.call('set', keys[1], args[1]); redis.call('set', keys[2], args[1]); return 1 end)"
        run("FUNCTION", "LOAD", lib)
        run("FCALL", "put", "2", "a", "b", "v")
        let units = feed.drain()
        guard units.count == 2 else { return XCTFail("\(units)") }
        XCTAssertEqual(units[0].count, 1)
        XCTAssertTrue(units[0][0].hasPrefix("0: FUNCTION LOAD #!lua name=plib"))
        XCTAssertEqual(units[1], ["0: MULTI", "0: set a v", "0: set b v", "0: EXEC"])
    }

    func testExpiredKeysTravelAsDelBeforeTheUnit() {
        run("SET", "gone", "v", "PX", "1")
        // The engine reads the clock as commands end, so the wait happens inside one.
        run("DEBUG", "SLEEP", "0.005")
        _ = feed.drain()
        run("EVAL", "redis.call('get', KEYS[1]); redis.call('set', 'x', '1'); redis.call('set', 'y', '1'); return 1", "1", "gone")
        XCTAssertEqual(feed.drain(), [["0: DEL gone"], ["0: MULTI", "0: set x 1", "0: set y 1", "0: EXEC"]])
    }

    func testPublishTravelsToReplicasOnly() {
        run("PUBLISH", "ch", "hello")
        XCTAssertEqual(feed.units.first?.first?.targets, .replicas)
        XCTAssertEqual(feed.drain(), [["0: PUBLISH ch hello"]])
    }

    func testNothingIsRecordedWithoutASink() {
        engine.removePropagationSink(feed)
        run("SET", "k", "v")
        engine.addPropagationSink(feed)
        run("GET", "k")
        XCTAssertEqual(feed.drain(), [])
    }
}
