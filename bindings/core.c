/* bindings/core.c — what every binding file shares (declared in
 * bindings.h): the Tensor userdata, the one place a failed gl_status
 * becomes a Lua error, where an error points, the collector's pacing and
 * the RNG of a Lua state. The Tensor methods themselves are in tensor.c. */
#include "bindings.h"

#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------ userdata */

const char gl_lua_mt_key = 0;

void gl_lua_set_tensor_mt(lua_State *L, int idx)
{
    lua_pushvalue(L, idx);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &gl_lua_mt_key);
}

gl_ud *gl_lua_newud(lua_State *L)
{
    gl_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    gl_lua_push_tensor_mt(L);
    lua_setmetatable(L, -2);
    return u;
}

void gl_lua_push(lua_State *L, gl_tensor *t)
{
    gl_ud *u = gl_lua_newud(L);
    u->t = t;
}

gl_tensor *gl_lua_test(lua_State *L, int idx)
{
    gl_ud *u = gl_lua_test_ud(L, idx);
    return u ? u->t : NULL;
}

gl_tensor *gl_lua_check(lua_State *L, int idx)
{
    gl_ud *u = gl_lua_test_ud(L, idx);
    if (!u) luaL_typeerror(L, idx, "Tensor");
    if (!u->t) luaL_argerror(L, idx, "tensor has been closed");
    return u->t;
}

gl_tensor **gl_lua_tensor_list(lua_State *L, int arg, int *n, const char *what)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer cnt = luaL_len(L, arg);
    if (cnt > (1 << 24)) gl_lua_argerror(L, arg, "too many tensors");
    gl_tensor **xs = lua_newuserdatauv(L, sizeof(gl_tensor *) * (size_t)(cnt ? cnt : 1), 0);
    for (int i = 0; i < (int)cnt; i++) {
        lua_geti(L, arg, i + 1);
        xs[i] = gl_lua_test(L, -1);
        if (!xs[i]) gl_lua_argerror(L, arg, lua_pushfstring(L, "%s %d is not a live Tensor", what, i + 1));
        lua_pop(L, 1);
    }
    *n = (int)cnt;
    return xs;
}

/* -------------------------------------------------------------- errors */

/* The stdlib's chunks are named "@stdlib/<file>.lua" (ganlua.c). */
static int in_stdlib(const lua_Debug *ar) { return strncmp(ar->source, "@stdlib/", 8) == 0; }

void gl_lua_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) break;
        if (ar.currentline <= 0 || in_stdlib(&ar)) continue; /* C frames have no line */
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
        return;
    }
    lua_pushliteral(L, "");
}

int gl_lua_raise(lua_State *L, const char *msg)
{
    gl_lua_where(L);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

int gl_lua_errorf(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gl_lua_where(L);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* the message luaL_argerror writes, naming the C function as it does */
int gl_lua_argerror(lua_State *L, int arg, const char *extramsg)
{
    lua_Debug ar;
    const char *name = "?";
    if (lua_getstack(L, 0, &ar)) {
        lua_getinfo(L, "n", &ar);
        if (ar.namewhat && strcmp(ar.namewhat, "method") == 0 && --arg == 0)
            return gl_lua_errorf(L, "calling '%s' on bad self (%s)", ar.name ? ar.name : "?", extramsg);
        if (ar.name) name = ar.name;
    }
    return gl_lua_errorf(L, "bad argument #%d to '%s' (%s)", arg, name, extramsg);
}

void gl_lua_check_options(lua_State *L, int idx, const char *fn, const char *const keys[])
{
    if (lua_isnoneornil(L, idx)) return;
    if (!lua_istable(L, idx) || gl_lua_test(L, idx))
        gl_lua_errorf(L, "%s: expected an options table, got %s", fn, luaL_typename(L, idx));
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1); /* the value; the key stays on top */
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; k && keys[i] && !known; i++) known = strcmp(k, keys[i]) == 0;
        if (known) continue;
        if (!k) gl_lua_errorf(L, "%s: option names are strings, got a %s key", fn, luaL_typename(L, -1));
        int top = lua_gettop(L);
        luaL_Buffer b; /* the list of options */
        luaL_buffinit(L, &b);
        for (int i = 0; keys[i]; i++) {
            if (i) luaL_addstring(&b, ", ");
            luaL_addstring(&b, keys[i]);
        }
        luaL_pushresult(&b); /* top + 1 */
        lua_pushnil(L);      /* top + 2: argcheck.suggest's "did you mean", if the stdlib is loaded */
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        if (lua_getfield(L, -1, "ganlua.argcheck") == LUA_TTABLE && lua_getfield(L, -1, "suggest") == LUA_TFUNCTION) {
            lua_pushstring(L, k);
            lua_newtable(L);
            for (int i = 0; keys[i]; i++) {
                lua_pushstring(L, keys[i]);
                lua_rawseti(L, -2, i + 1);
            }
            lua_call(L, 2, 1);
            lua_replace(L, top + 2);
        }
        const char *hint = lua_tostring(L, top + 2);
        gl_lua_errorf(L, "%s: unknown option '%s'%s%s%s (options: %s)", fn, k, hint ? " (did you mean '" : "",
                      hint ? hint : "", hint ? "'?)" : "", lua_tostring(L, top + 1));
    }
}

/* ------------------------------------------------------ option fields */

int gl_lua_opt_boolean(lua_State *L, int t, const char *k, int def)
{
    if (!lua_istable(L, t)) return def;
    int r = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

lua_Integer gl_lua_opt_integer(lua_State *L, int t, const char *k, lua_Integer def)
{
    if (!lua_istable(L, t)) return def;
    lua_Integer v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) gl_lua_errorf(L, "option %s must be an integer, got %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

lua_Number gl_lua_opt_number(lua_State *L, int t, const char *k, lua_Number def)
{
    if (!lua_istable(L, t)) return def;
    lua_Number v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok) gl_lua_errorf(L, "option %s must be a number, got %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

int gl_lua_fail(lua_State *L)
{
    luaL_pushfail(L);
    lua_pushstring(L, gl_errmsg());
    return 2;
}

void gl_lua_check_status(lua_State *L, gl_status st)
{
    if (st != GL_OK) gl_lua_raise(L, gl_errmsg());
}

/* ----------------------------------------------------------- GC pacing */

/* Tensor bytes are invisible to Lua's own accounting (a userdata is one
 * pointer), so the bindings pace the collector themselves. Lua runs in
 * generational mode: most tensors die young, and a young collection every
 * STEP_BYTES of tensor allocation hands their buffers back to the cache
 * while they are still warm in the CPU cache. Tensors that lived long
 * enough to turn old are reclaimed by a full collection once live tensor
 * memory exceeds what the last one left plus max(MIN_SLACK, half of it). */
#define STEP_BYTES ((uint64_t)2 << 20)
#define MIN_SLACK ((size_t)16 << 20)
static uint64_t next_step = STEP_BYTES;
static size_t full_threshold = MIN_SLACK;

void gl_lua_account(lua_State *L)
{
    uint64_t total = gl_mem_total_bytes();
    if (total < next_step) return;
    next_step = total + STEP_BYTES;
    lua_gc(L, LUA_GCSTEP, 0);
    gl_mem_stats s;
    gl_mem_get_stats(&s);
    if (s.live_bytes <= full_threshold) return;
    lua_gc(L, LUA_GCCOLLECT);
    gl_mem_get_stats(&s);
    full_threshold = s.live_bytes + (s.live_bytes / 8 > MIN_SLACK ? s.live_bytes / 8 : MIN_SLACK);
}

/* ----------------------------------------------------------------- RNG */

static const char *RNG_KEY = "ganlua.rng";

void gl_lua_init_rng(lua_State *L)
{
    /* once per state, seeded with 0 until manual_seed */
    if (lua_getfield(L, LUA_REGISTRYINDEX, RNG_KEY) == LUA_TNIL) {
        gl_rng *r = lua_newuserdatauv(L, sizeof *r, 0);
        gl_rng_seed(r, 0);
        lua_setfield(L, LUA_REGISTRYINDEX, RNG_KEY);
    }
    lua_pop(L, 1);
}

gl_rng *gl_lua_rng(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RNG_KEY);
    gl_rng *r = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return r; /* lives in the registry for the state's lifetime */
}
