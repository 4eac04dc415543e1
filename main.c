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
#include <sys/stat.h>
#include <unistd.h>

static const char *progname = "ganlua";
static lua_State *running_L = NULL;

/* ------------------------------------------------------------ Lua's allocator */

/* Every tensor op creates a userdata, and the collector frees one, so a
 * small-op loop spends a tenth of its time in malloc and free. Blocks of up
 * to SMALL_MAX bytes are kept in free lists by their exact size (Lua passes
 * the size of every block it frees or resizes), so a block is only reused
 * for a request of the size it was allocated with. Larger blocks go to
 * realloc/free as in luaL_newstate. The lists are emptied at exit. Off
 * under AddressSanitizer, which must see every block. */
#define SMALL_MAX 256
#ifdef __SANITIZE_ADDRESS__
static const int pool_on = 0;
#else
static const int pool_on = 1;
#endif
typedef struct small_blk {
    struct small_blk *next;
} small_blk;
static small_blk *small_free[SMALL_MAX + 1];

static void *small_get(size_t n)
{
    small_blk *b = small_free[n];
    if (!b) return malloc(n);
    small_free[n] = b->next;
    return b;
}

static void small_put(void *p, size_t n)
{
    small_blk *b = p;
    b->next = small_free[n];
    small_free[n] = b;
}

static void *lua_pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (!ptr) osize = 0; /* then osize is an object type, not a size */
    int small_old = pool_on && osize >= sizeof(small_blk) && osize <= SMALL_MAX;
    int small_new = pool_on && nsize >= sizeof(small_blk) && nsize <= SMALL_MAX;
    if (nsize == 0) {
        if (small_old) small_put(ptr, osize);
        else free(ptr);
        return NULL;
    }
    if (!ptr) return small_new ? small_get(nsize) : malloc(nsize);
    if (!small_old && !small_new) return realloc(ptr, nsize);
    void *q = small_new ? small_get(nsize) : malloc(nsize);
    if (!q) return NULL; /* Lua keeps the old block */
    memcpy(q, ptr, osize < nsize ? osize : nsize);
    if (small_old) small_put(ptr, osize);
    else free(ptr);
    return q;
}

static void lua_pool_drain(void)
{
    for (size_t n = 0; n <= SMALL_MAX; n++)
        while (small_free[n]) {
            small_blk *b = small_free[n];
            small_free[n] = b->next;
            free(b);
        }
}

static int lua_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: unprotected error in a Lua call: %s\n", progname, msg ? msg : "(not a string)");
    return 0; /* Lua then aborts */
}

static lua_State *new_state(void)
{
    lua_State *L = lua_newstate(lua_pool_alloc, NULL);
    if (L) lua_atpanic(L, lua_panic);
    return L;
}

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

/* `ganlua -i script`: the REPL that follows sees the script's top-level
 * locals. The script is loaded with one call appended to its last line,
 * ganlua.keep_locals(), which copies the main chunk's locals in scope at
 * its end into ganlua.script_locals; when the script raises instead, the
 * message handler copies them from the main chunk's frame at the error. */
static const char MAIN_CHUNK_KEY = 'm';

/* the locals of frame ar (names starting with '(' are Lua's own) into
 * ganlua.script_locals */
static void capture_locals(lua_State *L, lua_Debug *ar)
{
    lua_newtable(L);
    const char *name;
    for (int i = 1; (name = lua_getlocal(L, ar, i)) != NULL; i++) {
        if (name[0] == '(') lua_pop(L, 1);
        else lua_setfield(L, -2, name);
    }
    lua_getglobal(L, "ganlua");
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "script_locals");
    }
    lua_pop(L, 2);
}

/* ganlua.keep_locals(): the caller's locals (the appended call's caller is
 * the main chunk) */
static int keep_locals(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar)) capture_locals(L, &ar);
    return 0;
}

/* at an error: the frame running the main chunk, if it is on the stack */
static void capture_at_error(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &MAIN_CHUNK_KEY);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "f", &ar);
        int is_main = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
        if (is_main) {
            capture_locals(L, &ar);
            break;
        }
    }
    lua_pop(L, 1);
}

static int msghandler(lua_State *L)
{
    capture_at_error(L);
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

/* -------------------------------------------------------------- REPL
 * The REPL itself is Lua (stdlib/repl.lua): one implementation for the
 * top level, `ganlua -i`, repl() called from a script and Ctrl-\ during a
 * run. This file gives it the terminal: readline with history and
 * completion, and the signals. */

static int in_readline;
static lua_State *main_L;
static char history_path[4096];

static void on_sigint_prompt(int sig)
{
    (void)sig;
    /* at the prompt Ctrl-C abandons the line being typed */
    rl_crlf();
    rl_replace_line("", 0);
    rl_on_new_line();
    rl_redisplay();
}

/* term.readline(prompt) -> line, or nil at end of input */
static int term_readline(lua_State *L)
{
    const char *prompt = luaL_optstring(L, 1, "> ");
    in_readline = 1;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint_prompt;
    sigaction(SIGINT, &sa, &old);
    char *line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    in_readline = 0;
    if (!line) return 0;
    lua_pushstring(L, line);
    free(line);
    return 1;
}

static int term_add_history(lua_State *L)
{
    const char *line = luaL_checkstring(L, 1);
    if (*line) {
        add_history(line);
        if (history_path[0]) append_history(1, history_path);
    }
    return 0;
}

/* term.protect(f, ...) -> pcall(f, ...) with Ctrl-C raising "interrupted!"
 * inside f instead of killing the process */
static int term_protect(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int n = lua_gettop(L) - 1;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, 1);
    lua_State *prev = running_L;
    running_L = L;
    signal(SIGINT, on_sigint);
    int st = lua_pcall(L, n, LUA_MULTRET, 1);
    signal(SIGINT, SIG_DFL);
    running_L = prev;
    lua_pushboolean(L, st == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

static int term_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* Completion asks stdlib's repl.complete(text, line_before) for words. */
static char **completions;
static int n_completions;

static char *next_completion(const char *text, int state)
{
    (void)text;
    static int i;
    if (state == 0) i = 0;
    return i < n_completions ? strdup(completions[i++]) : NULL;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    lua_State *L = main_L;
    for (int i = 0; i < n_completions; i++) free(completions[i]);
    free(completions);
    completions = NULL;
    n_completions = 0;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "ganlua.completer");
    if (lua_isfunction(L, -1)) {
        lua_pushstring(L, text);
        lua_pushlstring(L, rl_line_buffer, (size_t)start);
        if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            int n = (int)luaL_len(L, -1);
            completions = calloc((size_t)(n ? n : 1), sizeof *completions);
            for (int i = 0; completions && i < n; i++) {
                lua_geti(L, -1, i + 1);
                const char *w = lua_tostring(L, -1);
                if (w) completions[n_completions++] = strdup(w);
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top);
    if (n_completions == 0) return NULL;
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, next_completion);
}

static int term_set_completer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "ganlua.completer");
    return 0;
}

static const luaL_Reg term_fns[] = {{"readline", term_readline}, {"add_history", term_add_history},
                                    {"protect", term_protect},   {"isatty", term_isatty},
                                    {"set_completer", term_set_completer}, {NULL, NULL}};

/* Ctrl-\ during a script: stop at the next Lua instruction and open the
 * REPL there, with that function's locals (stdlib repl.break_in). */
static int break_skip;

static void break_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    /* let one line event pass: a loop's back jump lands on its `for`
     * line, where the loop variables are not in scope yet */
    if (break_skip-- > 0) return;
    /* not inside the stdlib (optim.lua's step loop, say): keep the hook
     * until a line of the script's own code runs, so that the prompt has
     * the script's variables */
    if (lua_getinfo(L, "S", ar) && strncmp(ar->source, "@stdlib/", 8) == 0) return;
    lua_sethook(L, NULL, 0, 0);
    lua_getglobal(L, "ganlua");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "break_in");
        if (lua_isfunction(L, -1)) {
            if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
                fprintf(stderr, "ganlua: %s\n", lua_tostring(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void on_sigquit(int sig)
{
    (void)sig;
    if (running_L && !in_readline) {
        break_skip = 1;
        lua_sethook(running_L, break_hook, LUA_MASKLINE, 0);
    }
}

static void install_term(lua_State *L)
{
    main_L = L;
    rl_readline_name = "ganlua";
    rl_attempted_completion_function = attempt_completion;
    rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,+-*/^%#~[]";
    const char *home = getenv("HOME");
    if (home && snprintf(history_path, sizeof history_path, "%s/.ganlua_history", home) < (int)sizeof history_path) {
        FILE *f = fopen(history_path, "a"); /* create it so append_history works */
        if (f) fclose(f);
        read_history(history_path);
    } else {
        history_path[0] = 0;
    }
    lua_getglobal(L, "ganlua");
    luaL_newlib(L, term_fns);
    lua_setfield(L, -2, "term");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) { /* scripts that start ganlua again (toy_sweep.lua) use this */
        exe[n] = 0;
        lua_pushstring(L, exe);
        lua_setfield(L, -2, "executable");
    }
    lua_pop(L, 1);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigquit;
    sigaction(SIGQUIT, &sa, NULL);
}

static int repl(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "ganlua.repl");
    if (docall(L, 1, 1) != LUA_OK) return report(L, LUA_ERRRUN);
    lua_getfield(L, -1, "top");
    lua_remove(L, -2);
    return report(L, docall(L, 0, 0));
}

/* -------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [script [args]]\n"
            "       %s report DIR... [--out DIR]  (HTML pages of runs; report --help)\n"
            "  -e code        run code\n"
            "  -i             enter the REPL after running the script\n"
            "  --threads N    BLAS threads (default: all cores)\n"
            "  -v, --version  print the version\n"
            "  -h, --help     this help\n"
            "  -              run standard input as a script\n"
            "With no script, starts the REPL.\n",
            progname, progname);
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

/* the script with ganlua.keep_locals() appended to its last line (the
 * line numbers stay the script's), as a chunk named @fname; a shebang line
 * is blanked as luaL_loadfile skips it. A script that cannot take the call
 * (it ends in a return) is loaded as it is, and the REPL says so. */
static int load_keeping_locals(lua_State *L, const char *fname)
{
    static const char tail[] = " ;ganlua.keep_locals()";
    FILE *f = fopen(fname, "rb");
    if (!f) return luaL_loadfile(L, fname); /* its own error message */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    luaL_addlstring(&b, tail, sizeof tail - 1);
    luaL_pushresult(&b);
    size_t len;
    char *src = (char *)lua_tolstring(L, -1, &len); /* the buffer's own copy: blanking its shebang in place */
    if (failed || (len > sizeof tail && src[0] == 27)) { /* a read error or precompiled: the plain loader */
        lua_pop(L, 1);
        return luaL_loadfile(L, fname);
    }
    if (src[0] == '#')
        for (size_t i = 0; i < len && src[i] != '\n'; i++) src[i] = ' ';
    lua_pushfstring(L, "@%s", fname);
    int st = luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t");
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (st != LUA_OK) {
        lua_pop(L, 1);
        st = luaL_loadfile(L, fname);
        if (st == LUA_OK) fprintf(stderr, "%s: -i: %s ends in a return, so its locals will not be visible in the REPL\n", progname, fname);
    }
    return st;
}

static int run_script(lua_State *L, char **argv, int script, int argc, int interactive)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL; /* stdin */
    int st;
    struct stat sb;
    /* `ganlua report DIR...`, unless a script file named report is here */
    if (fname && strcmp(fname, "report") == 0 && !(stat(fname, &sb) == 0 && S_ISREG(sb.st_mode)))
        st = luaL_loadstring(L, "local rc = require('ganlua.report').main({...}); if rc ~= 0 then os.exit(rc) end");
    else
        st = interactive && fname ? load_keeping_locals(L, fname) : luaL_loadfile(L, fname);
    if (st == LUA_OK) {
        if (interactive) {
            lua_getglobal(L, "ganlua");
            lua_pushcfunction(L, keep_locals);
            lua_setfield(L, -2, "keep_locals");
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_rawsetp(L, LUA_REGISTRYINDEX, &MAIN_CHUNK_KEY);
        }
        int n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
        st = docall(L, n, LUA_MULTRET);
    }
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MAIN_CHUNK_KEY);
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
        printf("ganlua %s (%s, OpenBLAS, oneDNN)\n", GL_VERSION, LUA_RELEASE);
        if (!o.script && !o.ran_e && !o.interactive) {
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    install_term(L);
    create_arg_table(L, argv, argc, o.script);
    if (!run_e(L, argc, argv)) return 0;
    int script_ok = 1;
    /* -i enters the REPL after a failed script too (as python -i does),
     * with the locals at the error; the exit status still says it failed */
    if (o.script && !(script_ok = run_script(L, argv, o.script, argc, o.interactive)) && !o.interactive) return 0;
    if (o.interactive || (!o.script && !o.ran_e && !o.version)) {
        if (!o.interactive && !o.script && isatty(0))
            printf("ganlua %s  (%s)  help(x) explains, Ctrl-D exits\n", GL_VERSION, LUA_RELEASE);
        if (repl(L) != LUA_OK) return 0;
    }
    lua_pushboolean(L, script_ok);
    return 1;
}

int main(int argc, char **argv)
{
    lua_State *L = new_state();
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
    lua_pool_drain();
    return (ok && st == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
