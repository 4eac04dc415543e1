/* bindings/sys.c — core.sys: the few operating-system facts scripts need
 * that Lua's standard library lacks: a wall clock, whether a stream is a
 * terminal (and how wide), mkdir -p, a directory's entries. Failures
 * return nil, message. */
#define _POSIX_C_SOURCE 200809L
#include "bindings.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* time() -> seconds on a monotonic clock (for rates and durations) */
static int s_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* isatty(fd) -> boolean */
static int s_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "not a file descriptor");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

/* term_width(fd) -> columns of the terminal on fd, or nil when fd is not a
 * terminal or its size is unknown */
static int s_term_width(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "not a file descriptor");
    struct winsize ws;
    if (ioctl((int)fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushinteger(L, ws.ws_col);
    return 1;
}

/* mkdir(path) -> true, or nil, message; creates missing parents */
static int s_mkdir(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < 4096, 1, "path must be 1 to 4095 bytes");
    char buf[4096];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            luaL_pushfail(L);
            lua_pushfstring(L, "cannot create directory %s: %s", buf, strerror(e));
            return 2;
        }
        buf[i] = c;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s exists and is not a directory", path);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* listdir(path) -> the names in a directory (without . and ..), each
 * subdirectory's (or symbolic link to one) with a trailing /, unsorted; or
 * nil, message */
static int s_listdir(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < 4096, 1, "path must be 1 to 4095 bytes");
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(e));
        return 2;
    }
    lua_newtable(L);
    lua_Integer k = 0;
    luaL_Buffer b;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) break;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int isdir = e->d_type == DT_DIR;
        if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
            struct stat sb;
            char full[8192];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            isdir = stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
        }
        luaL_buffinit(L, &b);
        luaL_addstring(&b, e->d_name);
        if (isdir) luaL_addchar(&b, '/');
        luaL_pushresult(&b);
        lua_rawseti(L, -2, ++k);
    }
    int err = errno;
    closedir(d);
    if (err) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(err));
        return 2;
    }
    return 1;
}

static int s_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* write_file(path, string) -> true: the whole file, atomically (gl_wfile);
 * raises "write_file: cannot write PATH: REASON" on failure */
static int s_write_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    gl_lua_check_status(L, gl_write_file("write_file", path, data, n));
    lua_pushboolean(L, 1);
    return 1;
}

/* where() -> "file:line: " of the innermost frame outside the stdlib (see
 * gl_lua_where): the stdlib's argcheck.raise prefixes its messages with it */
static int s_where(lua_State *L)
{
    gl_lua_where(L);
    return 1;
}

static const luaL_Reg fns[] = {
    {"where", s_where},
    {"write_file", s_write_file},
    {"time", s_time}, {"isatty", s_isatty}, {"term_width", s_term_width}, {"mkdir", s_mkdir}, {"getpid", s_getpid}, {"listdir", s_listdir},
    {NULL, NULL}};

int luaopen_ganlua_sys(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
