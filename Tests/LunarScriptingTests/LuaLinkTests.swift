import CLua
import LunarScripting
import XCTest

final class LuaLinkTests: XCTestCase {
    func testLinkedLuaIs54() {
        XCTAssertEqual(Scripting.luaVersion(), "Lua 5.4")
    }

    func testLuaIntegerArithmetic() {
        let L = luaL_newstate()!
        defer { lua_close(L) }
        XCTAssertEqual(luaL_loadstring(L, "return 2^53 // 1 | 0, 7 // 2"), 0)
        XCTAssertEqual(clua_pcall(L, 0, 2, 0), 0)
        XCTAssertEqual(clua_tointeger(L, -2), 9_007_199_254_740_992)
        XCTAssertEqual(clua_tointeger(L, -1), 3)
    }
}
