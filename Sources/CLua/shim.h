#ifndef LUNAR_CLUA_SHIM_H
#define LUNAR_CLUA_SHIM_H
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <lua5.4/lauxlib.h>

// Lua's API is partly macros, which Swift cannot import; these wrappers expose them.
static inline void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void clua_newtable(lua_State *L) { lua_newtable(L); }
static inline int clua_isnil(lua_State *L, int i) { return lua_isnil(L, i); }
static inline int clua_istable(lua_State *L, int i) { return lua_istable(L, i); }
static inline int clua_isfunction(lua_State *L, int i) { return lua_isfunction(L, i); }
static inline const char *clua_tostring(lua_State *L, int i) { return lua_tolstring(L, i, NULL); }
static inline lua_Number clua_tonumber(lua_State *L, int i) { return lua_tonumberx(L, i, NULL); }
static inline lua_Integer clua_tointeger(lua_State *L, int i) { return lua_tointegerx(L, i, NULL); }
static inline int clua_pcall(lua_State *L, int nargs, int nresults, int errfunc) { return lua_pcall(L, nargs, nresults, errfunc); }
static inline void clua_call(lua_State *L, int nargs, int nresults) { lua_call(L, nargs, nresults); }
static inline int clua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline void clua_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline void clua_replace(lua_State *L, int idx) { lua_replace(L, idx); }
static inline void clua_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline void clua_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline int clua_getglobal(lua_State *L, const char *name) { return lua_getglobal(L, name); }
static inline void *clua_getextraspace(lua_State *L) { return lua_getextraspace(L); }
static inline int clua_yield_unused(void) { return 0; }

static inline int clua_isstring(lua_State *L, int i) { return lua_isstring(L, i); }
static inline const char *clua_tolstring(lua_State *L, int i, size_t *len) { return lua_tolstring(L, i, len); }
static inline int clua_isinteger(lua_State *L, int i) { return lua_isinteger(L, i); }
static inline void clua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }

// Script states run in generational mode (most garbage is a call's KEYS/ARGV and arguments, which die
// young). A full collection is done by leaving and re-entering that mode: entering it collects fully
// and sets the next collection's threshold afresh (Lua 5.4.4 can leave it wrong after LUA_GCCOLLECT).
static inline int clua_gc_collect(lua_State *L) {
    lua_gc(L, LUA_GCINC, 0, 0, 0);
    lua_gc(L, LUA_GCGEN, 0, 0);
    return 0;
}
static inline int clua_gc_countkb(lua_State *L) { return lua_gc(L, LUA_GCCOUNT, 0); }
static inline int clua_gc_step(lua_State *L, int kb) { return lua_gc(L, LUA_GCSTEP, kb); }
// ---- Lunar helpers: memory-capped allocator, interrupt hook, error-raising trampoline ----
#include <stdlib.h>
#include <string.h>
#include <jemalloc/jemalloc.h>

typedef struct {
    size_t used;      // bytes currently allocated by this state
    size_t limit;     // 0 = unlimited
    int enforce;      // the cap applies only while Lua code runs, never inside host callbacks
} clua_alloc_state;

// jemalloc is the process's allocator (see CJemalloc). Lua always says how big a block is, so frees
// go through sdallocx (no size lookup), and new blocks through malloc rather than realloc(NULL, n).
static void *clua_limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    clua_alloc_state *st = (clua_alloc_state *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        if (ptr) sdallocx(ptr, osize, 0);
        st->used -= old;
        return NULL;
    }
    if (st->enforce && st->limit && nsize > old && st->used - old + nsize > st->limit) return NULL;
    void *np = ptr ? realloc(ptr, nsize) : malloc(nsize);
    if (np) st->used = st->used - old + nsize;
    return np;
}

static inline lua_State *clua_newstate_limited(void) {
    clua_alloc_state *st = (clua_alloc_state *)calloc(1, sizeof(clua_alloc_state));
    if (!st) return NULL;
    lua_State *L = lua_newstate(clua_limited_alloc, st);
    if (!L) { free(st); return NULL; }
    lua_gc(L, LUA_GCGEN, 0, 0);   // see clua_gc_collect
    return L;
}
static inline clua_alloc_state *clua_allocstate(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (clua_alloc_state *)ud;
}
static inline void clua_close_limited(lua_State *L) {
    clua_alloc_state *st = clua_allocstate(L);
    lua_close(L);
    free(st);
}
static inline void clua_set_memlimit(lua_State *L, size_t limit) { clua_allocstate(L)->limit = limit; }
static inline int clua_set_enforce(lua_State *L, int on) { clua_alloc_state *s = clua_allocstate(L); int o = s->enforce; s->enforce = on; return o; }
static inline size_t clua_memused(lua_State *L) { return clua_allocstate(L)->used; }

// The host decides on each hook tick: 0 go on, 1 kill the script (error that pcall cannot keep).
typedef int (*clua_interrupt_fn)(lua_State *L);
static clua_interrupt_fn clua_interrupt_callback = NULL;
static inline void clua_set_interrupt(clua_interrupt_fn f) { clua_interrupt_callback = f; }
static const char *clua_kill_message = "ERR Script killed by user with SCRIPT KILL...";
static inline void clua_set_kill_message(const char *m) { clua_kill_message = m; }

static void clua_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (!clua_interrupt_callback) return;
    int r = clua_interrupt_callback(L);
    if (r == 2) {
        // A library's top-level code ran too long (FUNCTION LOAD and startup loading).
        lua_sethook(L, clua_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
        lua_newtable(L);
        lua_pushstring(L, "ERR FUNCTION LOAD timeout");
        lua_setfield(L, -2, "err");
        lua_error(L);
    }
    if (r == 1) {
        // Fire on every instruction from now on: any pcall that caught the error loses it at once.
        lua_sethook(L, clua_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
        lua_newtable(L);
        lua_pushstring(L, clua_kill_message);
        lua_setfield(L, -2, "err");
        lua_error(L);
    }
}
static inline void clua_install_hook(lua_State *L, int count) {
    if (count > 0) lua_sethook(L, clua_hook, LUA_MASKCOUNT, count);
    else lua_sethook(L, NULL, 0, 0);
}

// The Lua debugger (SCRIPT DEBUG): the host sees every new line of the user's script and answers
// 0 go on, 1 abort the script (an error that pcall cannot keep: it is raised again on every line).
typedef int (*clua_line_fn)(lua_State *L, int line);
static clua_line_fn clua_line_callback = NULL;
static inline void clua_set_line_callback(clua_line_fn f) { clua_line_callback = f; }

static void clua_debug_hook(lua_State *L, lua_Debug *ar) {
    if (ar->event != LUA_HOOKLINE) { clua_hook(L, ar); return; }
    if (!clua_line_callback || !lua_getinfo(L, "S", ar) || strcmp(ar->source, "@user_script") != 0) return;
    if (clua_line_callback(L, ar->currentline) == 1) {
        lua_newtable(L);
        lua_pushstring(L, "ERR script aborted for user request");
        lua_setfield(L, -2, "err");
        lua_error(L);
    }
}
static inline void clua_install_debug_hook(lua_State *L) {
    lua_sethook(L, clua_debug_hook, LUA_MASKLINE | LUA_MASKCOUNT, 100000);
}

// Host functions return n >= 0 results, or -1 after pushing an error value to raise.
// The raise happens here in C, so no host frame is ever unwound by longjmp.
static int clua_trampoline(lua_State *L) {
    lua_CFunction f = (lua_CFunction)lua_touserdata(L, lua_upvalueindex(1));
    int n = f(L);
    if (n < 0) return lua_error(L);
    return n;
}
static inline void clua_pushhostfunction(lua_State *L, lua_CFunction f) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushcclosure(L, clua_trampoline, 1);
}

// Runs the Lua function in upvalue 1; a string error gets the position of the caller of this C
// function (whose frame survives even a tail call), as errors of C libraries do.
static int clua_positioned_call(lua_State *L) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    if (lua_pcall(L, n, LUA_MULTRET, 0) != LUA_OK) {
        if (lua_type(L, -1) == LUA_TSTRING && lua_toboolean(L, lua_upvalueindex(2))) {
            luaL_where(L, 1);
            lua_insert(L, -2);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    return lua_gettop(L);
}
static int clua_make_positioned(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int add = lua_gettop(L) < 2 || lua_toboolean(L, 2);
    lua_settop(L, 1);
    lua_pushboolean(L, add);
    lua_pushcclosure(L, clua_positioned_call, 2);
    return 1;
}
static inline void clua_push_make_positioned(lua_State *L) { lua_pushcfunction(L, clua_make_positioned); }
#endif
