/* bindings.h — what the binding files share: the Tensor userdata, argument
 * helpers, and the one place a failed gl_status becomes a Lua error. */
#ifndef GANLUA_BINDINGS_H
#define GANLUA_BINDINGS_H

#include "../runtime/ganlua.h"

#include <lauxlib.h>
#include <lua.h>

#define GL_TENSOR_MT "ganlua.Tensor"

typedef struct {
    gl_tensor *t; /* NULL once closed or before the runtime filled it */
} gl_ud;

/* A new Tensor userdata with t = NULL, metatable set: create it before
 * calling the runtime so a failure leaks nothing. */
gl_ud *gl_lua_newud(lua_State *L);
/* Push t (taking over the caller's reference). */
void gl_lua_push(lua_State *L, gl_tensor *t);
/* The tensor at idx; raises if it is not a live Tensor. */
gl_tensor *gl_lua_check(lua_State *L, int idx);
gl_tensor *gl_lua_test(lua_State *L, int idx); /* NULL if not a Tensor */
/* Push nil and the runtime's last message; returns 2 (the io.open style
 * failure of calls a script may want to handle). */
int gl_lua_fail(lua_State *L);
/* Raise the runtime's message when st is not GL_OK. */
void gl_lua_check_status(lua_State *L, gl_status st);
/* Step the Lua GC when tensor memory has grown (tensor bytes are invisible
 * to Lua's own accounting). Called after each allocation-producing call. */
void gl_lua_account(lua_State *L);
/* The RNG of this Lua state. */
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

#endif
