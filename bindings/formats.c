/* bindings/formats.c — file formats as Lua functions (core.formats).
 * Loading a file is something a script may want to handle, so failures
 * return nil, message (like io.open); bad arguments raise. */
#include "bindings.h"

/* load_idx(path) -> Tensor of raw byte values, or nil, message */
static int f_load_idx(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    gl_ud *u = gl_lua_newud(L);
    gl_status st = gl_idx_load(&u->t, path);
    if (st != GL_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, gl_errmsg());
        return 2;
    }
    gl_lua_account(L);
    return 1;
}

static const luaL_Reg fns[] = {{"load_idx", f_load_idx}, {NULL, NULL}};

int luaopen_ganlua_formats(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
