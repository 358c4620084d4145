import XCTest
@testable import LunarPersistence

final class AOFManifestTests: XCTestCase {
    func testRoundTripKeepsRedisOrder() throws {
        // Redis writes the base first, then history, then the incremental files.
        let text = """
            file appendonly.aof.3.base.rdb seq 3 type b
            file appendonly.aof.2.incr.aof seq 2 type h
            file appendonly.aof.3.incr.aof seq 3 type i
            file appendonly.aof.4.incr.aof seq 4 type i

            """
        let m = try AOFManifest.parse(text)
        XCTAssertEqual(m.base?.name, "appendonly.aof.3.base.rdb")
        XCTAssertEqual(m.incrs.map(\.seq), [3, 4])
        XCTAssertEqual(m.history.map(\.name), ["appendonly.aof.2.incr.aof"])
        XCTAssertEqual(m.render(), text)
        XCTAssertEqual(m.baseSeq, 3)
        XCTAssertEqual(m.incrSeq, 4)
        XCTAssertEqual(m.loadOrder.map(\.name), ["appendonly.aof.3.base.rdb", "appendonly.aof.3.incr.aof", "appendonly.aof.4.incr.aof"])
    }

    func testKeysInAnyOrderCommentsAndQuotedNames() throws {
        let m = try AOFManifest.parse("# written by hand\r\ntype b seq 1 file \"my file.aof\"\nfile 'x.incr.aof' seq 2 type i\n")
        XCTAssertEqual(m.base, AOFManifest.Entry(name: "my file.aof", seq: 1, kind: .base))
        XCTAssertEqual(m.incrs.first?.name, "x.incr.aof")
        // A name with a space is quoted again when written.
        XCTAssertTrue(m.render().hasPrefix("file \"my file.aof\" seq 1 type b\n"))
        XCTAssertEqual(try AOFManifest.parse(m.render()), m)
    }

    func testMalformedManifestsAreRejected() {
        let bad = [
            "",                                                     // empty
            "# only a comment\n",
            "file a seq 1\n",                                       // missing type
            "file a seq x type b\n",                                // bad seq
            "file a seq 1 type z\n",                                // unknown type
            "file a seq 1 type b\nfile b seq 2 type b\n",           // two bases
            "file a seq 2 type i\nfile b seq 1 type i\n",           // incr sequence going back
            "file dir/a seq 1 type b\n",                            // a path, not a file name
            "file \"unterminated seq 1 type b\n",
        ]
        for text in bad {
            XCTAssertThrowsError(try AOFManifest.parse(text), "accepted: \(text.debugDescription)")
        }
    }
}
