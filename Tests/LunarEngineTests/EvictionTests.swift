import CJemalloc
@testable import LunarEngine
import LunarRESP
import XCTest

/// The access clock's arithmetic, the clocks surviving table growth, and the memory gauge.
final class EvictionTests: XCTestCase {
    func testClocksFollowTheirKeysThroughGrowthAndSlotReuse() {
        let t = KeyTable()
        for i in 0..<5000 { t.insert(Bytes("k\(i)"), .string(Bytes()), clock: UInt32(i)) }
        for i in stride(from: 0, to: 5000, by: 7) {
            XCTAssertEqual(t.clock(at: t.slot(of: Bytes("k\(i)"))!), UInt32(i))
        }
        t.remove(slot: t.slot(of: Bytes("k10"))!)
        let s = t.insert(Bytes("again"), .string(Bytes()), clock: 99_999)
        XCTAssertEqual(t.clock(at: s), 99_999, "a reused slot takes the new key's clock")
    }

    func testIdleTimeWrapsLikeRedisLRUClock() {
        let e = Engine()
        e.now = 1_000_000 * 1000          // the LRU clock reads 1_000_000 s
        XCTAssertEqual(e.idleMillis(e.lruClock), 0)
        XCTAssertEqual(e.idleMillis(e.lruClock - 42), 42_000)
        // A clock from before the 24-bit counter wrapped.
        e.now = 5 * 1000
        XCTAssertEqual(e.idleMillis(Engine.lruClockMax - 10), (5 + 10) * 1000)
    }

    func testLFUCounterStartsAtFiveDecaysPerPeriodAndGrowsLogarithmically() {
        let config = ConfigStore()
        _ = config.set("maxmemory-policy", "allkeys-lfu")
        _ = config.set("lfu-log-factor", "0")
        let e = Engine(config: config)
        e.now = 10_000 * 60_000
        XCTAssertTrue(e.lfuMode)
        var c = e.newKeyClock()
        XCTAssertEqual(e.lfuCounter(c), 5)
        for _ in 0..<10 { c = e.touchedClock(c) }
        XCTAssertEqual(e.lfuCounter(c), 15, "log factor 0: every access counts")
        e.now += 3 * 60_000
        XCTAssertEqual(e.lfuCounter(c), 12, "one off per minute (lfu-decay-time 1)")
        e.now += 60 * 60_000
        XCTAssertEqual(e.lfuCounter(c), 0)
        for _ in 0..<400 { c = e.touchedClock(c) }
        XCTAssertEqual(e.lfuCounter(c), 255, "the counter saturates")

        _ = config.set("lfu-log-factor", "10")
        var slow = e.newKeyClock()
        for _ in 0..<1000 { slow = e.touchedClock(slow) }
        // With factor 10 a thousand hits take the counter to about 5 + 13: far from 255.
        XCTAssertGreaterThan(e.lfuCounter(slow), 8)
        XCTAssertLessThan(e.lfuCounter(slow), 40)
    }

    func testRDBAccessRecordsRoundTrip() {
        let config = ConfigStore()
        _ = config.set("maxmemory-policy", "allkeys-lru")
        let e = Engine(config: config)
        e.now = 2_000_000 * 1000
        let c = e.clockFromRDB(idleSeconds: 300, frequency: nil)!
        XCTAssertEqual(e.rdbAccessInfo(c).idleSeconds, 300)
        XCTAssertNil(e.rdbAccessInfo(c).frequency)
        XCTAssertNil(e.clockFromRDB(idleSeconds: nil, frequency: 7), "an LFU record means nothing to the LRU form")
        _ = config.set("maxmemory-policy", "volatile-lfu")
        XCTAssertEqual(e.rdbAccessInfo(e.clockFromRDB(idleSeconds: nil, frequency: 7)!).frequency, 7)
        _ = config.set("maxmemory-policy", "noeviction")
        XCTAssertNil(e.rdbAccessInfo(c).idleSeconds, "Redis records idle times under LRU policies only")
    }

    func testMemoryGaugeFollowsThisThreadsAllocations() {
        let g = MemoryGauge.shared
        g.registerCurrentThread()
        g.refresh()
        let before = g.used()
        // Other threads of the test process (servers of other test cases) may allocate a little
        // meanwhile: the block is large and the tolerances a few MB.
        let block = UnsafeMutableRawPointer.allocate(byteCount: 32 << 20, alignment: 16)
        let grown = g.used() - before
        block.deallocate()
        let back = g.used() - before
        XCTAssertGreaterThanOrEqual(grown, 30 << 20)
        XCTAssertLessThan(grown, 36 << 20)
        XCTAssertLessThan(abs(back), 4 << 20)
    }

    func testMemoryGaugeKeepsTheBytesOfThreadsThatExit() {
        let g = MemoryGauge.shared
        g.registerCurrentThread()
        g.refresh()
        let before = g.used()
        final class Box: @unchecked Sendable { var p: UnsafeMutableRawPointer? }
        let box = Box()
        let done = expectation(description: "thread ran")
        let t = Thread {
            MemoryGauge.shared.registerCurrentThread()
            box.p = UnsafeMutableRawPointer.allocate(byteCount: 32 << 20, alignment: 16)
            done.fulfill()
        }
        t.start()
        wait(for: [done], timeout: 10)
        // Whether or not the thread has exited yet, its allocation still counts.
        usleep(100_000)
        XCTAssertGreaterThanOrEqual(g.used() - before, 30 << 20)
        box.p?.deallocate()
        XCTAssertLessThan(abs(g.used() - before), 4 << 20)
    }
}
