/* bindings/image.c — core.image: grids, PNG, GIF. Writing and loading
 * files return nil, message on failure (like io.open); bad arguments raise. */
#include "bindings.h"

#include <math.h>

/* make_grid(t [, {nrow = 8, padding = 2, normalize = false, range = {lo, hi},
 * scale_each = false, pad_value = 0}]) -> 3 x H x W */
static int i_make_grid(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    gl_grid_opts o = {(int)gl_lua_opt_integer(L, 2, "nrow", 8), (int)gl_lua_opt_integer(L, 2, "padding", 2), 0, 0, NAN, NAN, 0.0f};
    o.normalize = gl_lua_opt_boolean(L, 2, "normalize", 0);
    o.scale_each = gl_lua_opt_boolean(L, 2, "scale_each", 0);
    o.pad_value = (float)gl_lua_opt_number(L, 2, "pad_value", 0);
    if (lua_istable(L, 2) && lua_getfield(L, 2, "range") == LUA_TTABLE) {
        lua_geti(L, -1, 1);
        lua_geti(L, -2, 2);
        o.lo = (float)luaL_checknumber(L, -2);
        o.hi = (float)luaL_checknumber(L, -1);
        lua_pop(L, 3);
    }
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_image_make_grid(&u->t, t, &o));
    gl_lua_account(L);
    return 1;
}

/* write_png(path, image) -> true; raises on failure */
static int i_write_png(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    gl_tensor *t = gl_lua_check(L, 2);
    gl_lua_check_status(L, gl_image_write_png(path, t));
    lua_pushboolean(L, 1);
    return 1;
}

/* load(path [, channels]) -> C x H x W in [0, 1], or nil, message */
static int i_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int ch = (int)luaL_optinteger(L, 2, 0);
    gl_ud *u = gl_lua_newud(L);
    if (gl_image_load(&u->t, path, ch) != GL_OK) return gl_lua_fail(L);
    gl_lua_account(L);
    return 1;
}

/* resize(t, oh, ow, x0, y0, x1, y1) -> C x oh x ow (see gl_image_resize) */
static int i_resize(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    lua_Integer oh = luaL_checkinteger(L, 2), ow = luaL_checkinteger(L, 3);
    luaL_argcheck(L, oh >= 1 && oh <= 65536, 2, "height must be 1..65536");
    luaL_argcheck(L, ow >= 1 && ow <= 65536, 3, "width must be 1..65536");
    double r[4];
    for (int i = 0; i < 4; i++) r[i] = luaL_checknumber(L, 4 + i);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_image_resize(&u->t, t, (int)oh, (int)ow, r[0], r[1], r[2], r[3]));
    gl_lua_account(L);
    return 1;
}

/* write_gif(path, {frames...} [, delay_cs = 10 [, loop = true]]) */
static int i_write_gif(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int delay = (int)luaL_optinteger(L, 3, 10), loop = lua_isnoneornil(L, 4) ? 1 : lua_toboolean(L, 4);
    luaL_argcheck(L, delay >= 0 && delay <= 65535, 3, "delay must be 0..65535 hundredths of a second");
    int n;
    gl_tensor **fs = gl_lua_tensor_list(L, 2, &n, "frame");
    gl_lua_check_status(L, gl_image_write_gif(path, fs, n, delay, loop));
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg fns[] = {{"make_grid", i_make_grid}, {"write_png", i_write_png}, {"load", i_load}, {"resize", i_resize},
                               {"write_gif", i_write_gif}, {NULL, NULL}};

int luaopen_ganlua_image(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
