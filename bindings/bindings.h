/* bindings.h — what the binding files share (core.c): the Tensor userdata,
 * the one place a failed gl_status becomes a Lua error and where errors
 * point, the collector's pacing and the RNG. */
#ifndef GANLUA_BINDINGS_H
#define GANLUA_BINDINGS_H

#include "../runtime/ganlua.h"

#include <lauxlib.h>
#include <lua.h>

#define GL_TENSOR_MT "ganlua.Tensor"

typedef struct {
    gl_tensor *t; /* NULL once closed or before the runtime filled it */
} gl_ud;

/* The Tensor metatable is kept in the registry under a pointer key, so the
 * per-op type checks compare metatables without a string lookup. */
extern const char gl_lua_mt_key;
void gl_lua_set_tensor_mt(lua_State *L, int idx); /* tensor.c, once */
static inline void gl_lua_push_tensor_mt(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &gl_lua_mt_key); }
/* the userdata at idx if its metatable is the one at mt_idx (absolute) */
static inline gl_ud *gl_lua_test_ud_mt(lua_State *L, int idx, int mt_idx)
{
    gl_ud *u = lua_touserdata(L, idx);
    if (!u || !lua_getmetatable(L, idx)) return NULL;
    int same = lua_rawequal(L, -1, mt_idx);
    lua_pop(L, 1);
    return same ? u : NULL;
}
static inline gl_ud *gl_lua_test_ud(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    gl_lua_push_tensor_mt(L);
    gl_ud *u = gl_lua_test_ud_mt(L, idx, lua_gettop(L));
    lua_pop(L, 1);
    return u;
}

/* A new Tensor userdata with t = NULL, metatable set: create it before
 * calling the runtime so a failure leaks nothing. */
gl_ud *gl_lua_newud(lua_State *L);
/* Push t (taking over the caller's reference). */
void gl_lua_push(lua_State *L, gl_tensor *t);
/* The tensor at idx; raises if it is not a live Tensor. */
gl_tensor *gl_lua_check(lua_State *L, int idx);
gl_tensor *gl_lua_test(lua_State *L, int idx); /* NULL if not a Tensor */
/* Refuse an options table (at idx; nil passes) with a key not in the
 * NULL-terminated keys: "fn: unknown option 'creat_graph' (did you mean
 * 'create_graph'?) (options: ...)". */
void gl_lua_check_options(lua_State *L, int idx, const char *fn, const char *const keys[]);
/* The tensors of the list at arg as borrowed pointers, in a userdata block
 * pushed on the stack (the table keeps the tensors alive); "<what> 3 is
 * not a live Tensor" names a bad entry. */
gl_tensor **gl_lua_tensor_list(lua_State *L, int arg, int *n, const char *what);
/* A field of the options table at t (nil or absent: def; t not a table:
 * def), the one reader of option fields every binding uses. */
int gl_lua_opt_boolean(lua_State *L, int t, const char *k, int def);
lua_Integer gl_lua_opt_integer(lua_State *L, int t, const char *k, lua_Integer def);
lua_Number gl_lua_opt_number(lua_State *L, int t, const char *k, lua_Number def);
/* Push nil and the runtime's last message; returns 2 (the io.open style
 * failure of calls a script may want to handle). */
int gl_lua_fail(lua_State *L);
/* Raise the runtime's message when st is not GL_OK, at the caller's line. */
void gl_lua_check_status(lua_State *L, gl_status st);
/* Where an error points: "file:line: " of the innermost frame that is not
 * the stdlib's (nor C), so a check made deep inside ganlua names the
 * script's line that called it; "" when there is none. Pushes a string. */
void gl_lua_where(lua_State *L);
/* Raise msg at gl_lua_where. */
int gl_lua_raise(lua_State *L, const char *msg);
/* luaL_error and luaL_argerror, raised at gl_lua_where instead of at the
 * C function's immediate caller (which may be the stdlib). Every binding
 * uses these; luaL_argcheck is redirected below. */
int gl_lua_errorf(lua_State *L, const char *fmt, ...);
int gl_lua_argerror(lua_State *L, int arg, const char *extramsg);
#undef luaL_argcheck
#define luaL_argcheck(L, cond, arg, extramsg) ((void)((cond) || gl_lua_argerror(L, (arg), (extramsg))))
/* Step the Lua GC when tensor memory has grown (tensor bytes are invisible
 * to Lua's own accounting). Called after each allocation-producing call. */
void gl_lua_account(lua_State *L);
/* The RNG of this Lua state (created by gl_lua_init_rng). */
void gl_lua_init_rng(lua_State *L);
gl_rng *gl_lua_rng(lua_State *L);

int luaopen_ganlua_tensor(lua_State *L);
int luaopen_ganlua_autograd(lua_State *L);
int luaopen_ganlua_nn(lua_State *L);
int luaopen_ganlua_formats(lua_State *L);
int luaopen_ganlua_image(lua_State *L);
int luaopen_ganlua_sys(lua_State *L);
int luaopen_ganlua_canvas(lua_State *L);
int luaopen_ganlua_core(lua_State *L);
int luaopen_ganlua(lua_State *L);

/* What a separately built C module (the MPI backend, bindings/mpi/) may
 * call in the executable or ganlua.so that loaded it: core.plugin_api is a
 * light userdata pointing at this table, checked by abi and the size of a
 * tensor header, so a plugin from another build is refused, not trusted. */
#define GL_PLUGIN_ABI 1
typedef struct {
    int abi;                /* GL_PLUGIN_ABI */
    size_t tensor_size;     /* sizeof(gl_tensor) */
    gl_tensor **(*tensor_list)(lua_State *L, int arg, int *n, const char *what);
    gl_tensor *(*check)(lua_State *L, int idx);
    gl_status (*check_inplace)(const char *fn, const gl_tensor *t);
    void (*bump)(gl_tensor *t);
    void (*check_status)(lua_State *L, gl_status st);
    int (*errorf)(lua_State *L, const char *fmt, ...);
    void (*push)(lua_State *L, gl_tensor *t);
    gl_status (*collective_sum)(gl_tensor **out, gl_tensor *x, gl_collective_fn fn, void *ctx);
    gl_status (*fail)(gl_status st, const char *fmt, ...);
} gl_plugin_api;
extern const gl_plugin_api gl_plugin; /* ganlua.c */

#endif
