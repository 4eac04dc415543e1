/* bindings/sys.c — core.sys: the few operating-system facts scripts need
 * that Lua's standard library lacks: a wall clock, whether a stream is a
 * terminal (and how wide), mkdir -p, a directory's entries, a file's
 * modification time, the working directory, starting
 * and waiting for child processes. Failures return nil, message; a file
 * that cannot be written raises. */
#define _POSIX_C_SOURCE 200809L
#include "bindings.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
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

/* mtime(path) -> the last modification, in seconds since the epoch (as
 * os.time counts them, with the fraction); or nil, message */
static int s_mtime(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(e));
        return 2;
    }
    lua_pushnumber(L, (lua_Number)sb.st_mtim.tv_sec + (lua_Number)sb.st_mtim.tv_nsec * 1e-9);
    return 1;
}

/* cwd() -> the working directory's absolute path; or nil, message */
static int s_cwd(lua_State *L)
{
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        int e = errno;
        luaL_pushfail(L);
        lua_pushfstring(L, "cwd: %s", strerror(e));
        return 2;
    }
    lua_pushstring(L, buf);
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

extern char **environ;

/* env_names() -> the names of this process's environment variables */
static int s_env_names(lua_State *L)
{
    lua_newtable(L);
    int k = 0;
    for (char **e = environ; *e; e++) {
        size_t n = strcspn(*e, "=");
        lua_pushlstring(L, *e, n);
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* spawn({argv...} [, {env = {NAME = value, ...}, output = path}]) -> pid,
 * or nil, message. argv[1] is looked up in PATH; env entries are added to
 * (or replace) this process's environment, NAME = false removes one;
 * output receives the child's stdout and stderr (created or truncated). */
static int s_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"env", "output", NULL};
    gl_lua_check_options(L, 2, "sys.spawn", keys);
    lua_settop(L, 2);
    int argc = (int)luaL_len(L, 1);
    luaL_argcheck(L, argc >= 1 && argc < 4096, 1, "expected 1 to 4095 arguments");
    const char *out = NULL;
    int envt = 0;
    if (lua_istable(L, 2)) {
        if (lua_getfield(L, 2, "output") != LUA_TNIL && !(out = lua_tostring(L, -1)))
            return gl_lua_errorf(L, "sys.spawn: option output: expected a path, got %s", luaL_typename(L, -1));
        int t = lua_getfield(L, 2, "env"); /* slot 4 */
        if (t == LUA_TTABLE) envt = 4;
        else if (t != LUA_TNIL) return gl_lua_errorf(L, "sys.spawn: option env: expected a table, got %s", luaL_typename(L, -1));
    }
    /* every string stays on the stack until the child has its copies */
    const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(argc + 1), 0);
    luaL_checkstack(L, argc + 8, "sys.spawn: too many arguments");
    for (int i = 0; i < argc; i++) {
        int t = lua_geti(L, 1, i + 1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            return gl_lua_argerror(L, 1, lua_pushfstring(L, "argument %d is a %s, not a string", i + 1, lua_typename(L, t)));
        argv[i] = lua_tostring(L, -1);
    }
    argv[argc] = NULL;
    int nenv = 0, nadd = 0;
    for (char **e = environ; *e; e++) nenv++;
    if (envt) {
        lua_pushnil(L);
        while (lua_next(L, envt)) {
            nadd++;
            lua_pop(L, 1);
        }
    }
    const char **envp = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nenv + nadd + 1), 0);
    const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nadd + 1), 0); /* set or removed */
    luaL_checkstack(L, nadd + 8, "sys.spawn: too many environment entries");
    int k = 0, nn = 0;
    if (envt) {
        lua_pushnil(L);
        while (lua_next(L, envt)) {
            int remove = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
            if (lua_type(L, -2) != LUA_TSTRING || (!remove && lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
                return gl_lua_errorf(L, "sys.spawn: option env holds NAME = string (or NAME = false) pairs");
            names[nn++] = lua_tostring(L, -2); /* the env table keeps the key alive */
            if (!remove) {
                const char *kv = lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
                lua_insert(L, -3); /* below the key and value: stays on the stack */
                envp[k++] = kv;
            }
            lua_pop(L, 1); /* the value; the key stays for lua_next */
        }
    }
    for (char **e = environ; *e; e++) {
        int replaced = 0;
        for (int i = 0; i < nn && !replaced; i++) {
            size_t n = strlen(names[i]);
            replaced = strncmp(*e, names[i], n) == 0 && (*e)[n] == '=';
        }
        if (!replaced) envp[k++] = *e;
    }
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out) {
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        luaL_pushfail(L);
        lua_pushfstring(L, "sys.spawn: %s: %s", argv[0], strerror(err));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
}

/* wait([pid]) -> pid, exit status (128 + signal when killed), or nil,
 * message when there is no child to wait for; without pid, any child */
static int s_wait(lua_State *L)
{
    pid_t want = (pid_t)luaL_optinteger(L, 1, -1);
    int status;
    pid_t got;
    do got = waitpid(want, &status, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "sys.wait: %s", strerror(errno));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)got);
    lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    return 2;
}

/* where() -> "file:line: " of the innermost frame outside the stdlib (see
 * gl_lua_where): the stdlib's argcheck.raise prefixes its messages with it */
static int s_where(lua_State *L)
{
    gl_lua_where(L);
    return 1;
}

/* sys.backend() -> {blas = "OpenBLAS ... (core Zen)", conv = "oneDNN ...",
 * threads = n}: the libraries the kernels run on, for benchmarks and bug
 * reports */
static int s_backend(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, gl_blas_backend());
    lua_setfield(L, -2, "blas");
    lua_pushstring(L, gl_conv_backend());
    lua_setfield(L, -2, "conv");
    lua_pushinteger(L, gl_get_num_threads());
    lua_setfield(L, -2, "threads");
    return 1;
}

static const luaL_Reg fns[] = {
    {"where", s_where}, {"backend", s_backend}, {"spawn", s_spawn}, {"env_names", s_env_names}, {"wait", s_wait},
    {"write_file", s_write_file},
    {"time", s_time}, {"isatty", s_isatty}, {"term_width", s_term_width}, {"mkdir", s_mkdir}, {"getpid", s_getpid}, {"listdir", s_listdir},
    {"mtime", s_mtime}, {"cwd", s_cwd},
    {NULL, NULL}};

int luaopen_ganlua_sys(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
