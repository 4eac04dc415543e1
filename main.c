/* main.c — the ganlua executable: Lua 5.4 with the ganlua modules as
 * globals, running a script, a -e chunk, or a REPL.
 *
 *   ganlua [--threads N] [-e code] [-i] [-v] [script [args...]]
 *
 * Like lua(1): `arg` holds the script's arguments (arg[0] the script), an
 * error prints its message and a traceback and exits with status 1, and
 * Ctrl-C stops running Lua code with an "interrupted!" error. */
#include "bindings/bindings.h"

#include <lualib.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *progname = "ganlua";
static lua_State *running_L = NULL;

/* ------------------------------------------------------------ signals */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
    if (running_L) lua_sethook(running_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* ------------------------------------------------------------ running */

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    running_L = L;
    signal(SIGINT, on_sigint);
    int st = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    running_L = NULL;
    lua_remove(L, base);
    return st;
}

static int report(lua_State *L, int st)
{
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return st;
}

static int dochunk(lua_State *L, int st)
{
    if (st == LUA_OK) st = docall(L, 0, 0);
    return report(L, st);
}

/* -------------------------------------------------------------- REPL */

#define PROMPT "> "
#define PROMPT2 ">> "
#define EOFMARK "<eof>"

static int incomplete(lua_State *L, int st)
{
    if (st == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        size_t lm = sizeof(EOFMARK) - 1;
        if (lmsg >= lm && strcmp(msg + lmsg - lm, EOFMARK) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

static int pushline(lua_State *L, int first)
{
    char *b = readline(first ? PROMPT : PROMPT2);
    if (!b) return 0;
    size_t l = strlen(b);
    if (first && b[0] == '=') lua_pushfstring(L, "return %s", b + 1); /* 5.2-style '=expr' */
    else lua_pushlstring(L, b, l);
    free(b);
    return 1;
}

/* Try the line as an expression ("return line") first. */
static int addreturn(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int st = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (st == LUA_OK) {
        lua_remove(L, -2);
        if (line[0] != '\0') add_history(line);
    } else {
        lua_pop(L, 2);
    }
    return st;
}

static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int st = luaL_loadbuffer(L, line, len, "=stdin");
        if (!incomplete(L, st) || !pushline(L, 0)) {
            add_history(line);
            return st;
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

static int loadline(lua_State *L)
{
    lua_settop(L, 0);
    if (!pushline(L, 1)) return -1;
    int st = addreturn(L);
    if (st != LUA_OK) st = multiline(L);
    lua_remove(L, 1);
    return st;
}

static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        lua_getglobal(L, "print");
        lua_insert(L, 1);
        if (lua_pcall(L, n, 0, 0) != LUA_OK)
            fprintf(stderr, "%s: error calling 'print' (%s)\n", progname, lua_tostring(L, -1));
    }
}

static void repl(lua_State *L)
{
    const char *old = progname;
    progname = NULL;
    int st;
    while ((st = loadline(L)) != -1) {
        if (st == LUA_OK) st = docall(L, 0, LUA_MULTRET);
        if (st == LUA_OK) print_results(L);
        else {
            const char *msg = lua_tostring(L, -1);
            fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 0);
    fputc('\n', stdout);
    progname = old;
}

/* -------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [script [args]]\n"
            "  -e code        run code\n"
            "  -i             enter the REPL after running the script\n"
            "  --threads N    BLAS threads (default: all cores)\n"
            "  -v, --version  print the version\n"
            "  -h, --help     this help\n"
            "  -              run standard input as a script\n"
            "With no script, starts the REPL.\n",
            progname);
}

typedef struct {
    int script;   /* argv index of the script, or 0 */
    int interactive, version, ran_e;
    int threads;
} opts_t;

static int parse_args(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            o->script = i;
            return 0;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc) o->script = i + 1;
            return 0;
        }
        if (strcmp(a, "-e") == 0) {
            if (++i >= argc) { fprintf(stderr, "%s: '-e' needs an argument\n", progname); return -1; }
            o->ran_e = 1;
        } else if (strcmp(a, "-i") == 0) {
            o->interactive = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            o->version = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (++i < argc ? argv[i] : NULL);
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 1024) {
                fprintf(stderr, "%s: --threads needs a number from 1 to 1024, got '%s'\n", progname, v ? v : "");
                return -1;
            }
            o->threads = (int)n;
        } else {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", progname, a);
            return -1;
        }
    }
    return 0;
}

static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    int narg = argc - (script + 1);
    lua_createtable(L, narg, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_e(lua_State *L, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0 || strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--threads") == 0) { i++; continue; }
        if (strcmp(argv[i], "-e") == 0) {
            const char *code = argv[++i];
            if (dochunk(L, luaL_loadbuffer(L, code, strlen(code), "=(command line)")) != LUA_OK) return 0;
        }
    }
    return 1;
}

static int run_script(lua_State *L, char **argv, int script, int argc)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL; /* stdin */
    int st = luaL_loadfile(L, fname);
    if (st == LUA_OK) {
        int n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
        st = docall(L, n, LUA_MULTRET);
    }
    return report(L, st) == LUA_OK;
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    opts_t o = {0};
    if (parse_args(argc, argv, &o) != 0) return 0;
    luaL_openlibs(L);
    gl_set_num_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    /* ganlua = require "ganlua"; ganlua.install_globals() */
    luaL_requiref(L, "ganlua", luaopen_ganlua, 1);
    lua_getfield(L, -1, "install_globals");
    lua_call(L, 0, 0);
    lua_pop(L, 1);
    if (o.version) {
        printf("ganlua %s (%s, OpenBLAS)\n", GL_VERSION, LUA_RELEASE);
        if (!o.script && !o.ran_e && !o.interactive) {
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    create_arg_table(L, argv, argc, o.script);
    if (!run_e(L, argc, argv)) return 0;
    if (o.script && !run_script(L, argv, o.script, argc)) return 0;
    if (o.interactive || (!o.script && !o.ran_e && !o.version)) {
        if (!o.interactive && !o.script && isatty(0)) printf("ganlua %s  (%s)  Ctrl-D exits\n", GL_VERSION, LUA_RELEASE);
        repl(L);
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int st = lua_pcall(L, 2, 1, 0);
    int ok = lua_toboolean(L, -1);
    report(L, st);
    lua_close(L);
    return (ok && st == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
