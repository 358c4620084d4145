@testable import LunarEngine
import LunarRESP
import XCTest

/// notify-keyspace-events flag strings, and publishing through an engine's Pub/Sub.
final class KeyspaceEventsTests: XCTestCase {
    func testParseAndCanonicalSpelling() {
        XCTAssertEqual(KeyspaceEvents.parse(""), 0)
        XCTAssertNil(KeyspaceEvents.parse("X"))
        XCTAssertNil(KeyspaceEvents.parse("K E"))
        XCTAssertEqual(KeyspaceEvents.format(KeyspaceEvents.parse("KEA")!), "AKE")
        XCTAssertEqual(KeyspaceEvents.format(KeyspaceEvents.parse("zE")!), "zE")
        XCTAssertEqual(KeyspaceEvents.format(KeyspaceEvents.parse("ndtexzhsl$")!), "$lshzxetdn")
        XCTAssertEqual(KeyspaceEvents.format(KeyspaceEvents.parse("mEKn")!), "nKEm")
        // 'A' does not include key misses or new keys…
        XCTAssertEqual(KeyspaceEvents.parse("A")! & (KeyspaceEvents.keyMiss | KeyspaceEvents.new), 0)
        // …and next to 'A', 'n' is kept but not shown (as Redis 7.0 prints it).
        let an = KeyspaceEvents.parse("KEAmn")!
        XCTAssertNotEqual(an & KeyspaceEvents.new, 0)
        XCTAssertEqual(KeyspaceEvents.format(an), "AKEm")
        XCTAssertEqual(KeyspaceEvents.normalize("KEAmn"), "AnKEm")
        XCTAssertEqual(KeyspaceEvents.display(KeyspaceEvents.normalize("KEAmn")!), "AKEm")
    }

    func testConfigKeepsNewFlagBehindA() {
        let engine = Engine()
        XCTAssertEqual(engine.notifyFlags, 0)
        XCTAssertNil(engine.config.set("notify-keyspace-events", "KEAn"))
        XCTAssertEqual(engine.config.shown("notify-keyspace-events"), "AKE")
        XCTAssertNotEqual(engine.notifyFlags & KeyspaceEvents.new, 0)
        // Without K or E nothing is published, so no class counts as on.
        XCTAssertNil(engine.config.set("notify-keyspace-events", "A"))
        XCTAssertEqual(engine.notifyFlags, 0)
        XCTAssertEqual(engine.config.set("notify-keyspace-events", "Q"), KeyspaceEvents.invalidFlagsError)
        XCTAssertEqual(engine.config.shown("notify-keyspace-events"), "A")
    }
}
