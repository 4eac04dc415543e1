/* bindings/formats.c — file formats as Lua functions (core.formats).
 * Loading a file is something a script may want to handle, so failures
 * return nil, message (like io.open); writes and bad arguments raise. */
#include "bindings.h"

/* load_idx(path) -> Tensor of raw byte values, or nil, message */
static int f_load_idx(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    gl_ud *u = gl_lua_newud(L);
    gl_status st = gl_idx_load(&u->t, path);
    if (st != GL_OK) return gl_lua_fail(L);
    gl_lua_account(L);
    return 1;
}

/* load_cifar({paths}) -> x, labels (see gl_cifar_load), or nil, message */
static int f_load_cifar(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "1 to 64 paths");
    const char *paths[64];
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        paths[i] = lua_tostring(L, -1); /* kept alive by the table */
        if (!paths[i] || lua_type(L, -1) != LUA_TSTRING) return gl_lua_argerror(L, 1, "paths must be strings");
        lua_pop(L, 1);
    }
    gl_ud *ux = gl_lua_newud(L), *uy = gl_lua_newud(L);
    if (gl_cifar_load(&ux->t, &uy->t, paths, (int)n) != GL_OK) return gl_lua_fail(L);
    gl_lua_account(L);
    return 2;
}

/* st_write(path, {names}, {tensors}, metadata_json|nil) -> true; raises on failure */
static int f_st_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    const char *meta = luaL_optstring(L, 4, NULL);
    int n = (int)luaL_len(L, 2);
    if ((int)luaL_len(L, 3) != n) return gl_lua_errorf(L, "st_write: %d names for %d tensors", n, (int)luaL_len(L, 3));
    const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        names[i] = lua_tostring(L, -1);
        if (!names[i]) return gl_lua_argerror(L, 2, lua_pushfstring(L, "name %d is not a string", i + 1));
        lua_pop(L, 1); /* the table keeps the string alive */
    }
    int nt;
    gl_tensor **ts = gl_lua_tensor_list(L, 3, &nt, "entry");
    gl_lua_check_status(L, gl_st_write(path, names, ts, n, meta));
    lua_pushboolean(L, 1);
    return 1;
}

#define ST_MT "ganlua.SafetensorsFile"

typedef struct {
    gl_st_file *f;
} st_ud;

static st_ud *check_st(lua_State *L)
{
    st_ud *u = luaL_checkudata(L, 1, ST_MT);
    if (!u->f) gl_lua_argerror(L, 1, "file has been closed");
    return u;
}

/* st_open(path) -> file or nil, message */
static int f_st_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    st_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->f = NULL;
    luaL_setmetatable(L, ST_MT);
    if (gl_st_open(&u->f, path) != GL_OK) return gl_lua_fail(L);
    return 1;
}

static int st_header(lua_State *L)
{
    st_ud *u = check_st(L);
    size_t n;
    const char *h = gl_st_header(u->f, &n);
    lua_pushlstring(L, h, n);
    return 1;
}

static int st_data_size(lua_State *L)
{
    st_ud *u = check_st(L);
    lua_pushinteger(L, (lua_Integer)gl_st_data_size(u->f));
    return 1;
}

/* file:tensor(name, dtype, {shape}, begin, end) -> Tensor or nil, message */
static int st_tensor(lua_State *L)
{
    st_ud *u = check_st(L);
    const char *name = luaL_checkstring(L, 2), *dtype = luaL_checkstring(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    int nd = (int)luaL_len(L, 4);
    if (nd > GL_MAX_DIMS) {
        lua_pushfstring(L, "tensor '%s' has %d dims", name, nd);
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    int64_t shape[GL_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        lua_geti(L, 4, d + 1);
        int isint;
        shape[d] = (int64_t)lua_tointegerx(L, -1, &isint);
        lua_pop(L, 1);
        if (!isint) return gl_lua_argerror(L, 4, "shape entries must be integers");
    }
    lua_Integer b = luaL_checkinteger(L, 5), e = luaL_checkinteger(L, 6);
    if (b < 0 || e < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "tensor '%s' has negative offsets", name);
        return 2;
    }
    gl_ud *t = gl_lua_newud(L);
    if (gl_st_tensor(&t->t, u->f, name, dtype, nd, shape, (uint64_t)b, (uint64_t)e) != GL_OK) return gl_lua_fail(L);
    gl_lua_account(L);
    return 1;
}

static int st_close(lua_State *L)
{
    st_ud *u = luaL_checkudata(L, 1, ST_MT);
    gl_st_close(u->f);
    u->f = NULL;
    return 0;
}

static const luaL_Reg st_methods[] = {{"header", st_header}, {"data_size", st_data_size}, {"tensor", st_tensor}, {"close", st_close}, {NULL, NULL}};

static const luaL_Reg fns[] = {{"load_idx", f_load_idx}, {"load_cifar", f_load_cifar}, {"st_write", f_st_write}, {"st_open", f_st_open}, {NULL, NULL}};

int luaopen_ganlua_formats(lua_State *L)
{
    if (luaL_newmetatable(L, ST_MT)) {
        luaL_newlib(L, st_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, st_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, st_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
