/* tests/fuzz/fuzz.c — the libFuzzer harness of every parser, one binary per
 * target (FUZZ_TARGET, set by the Makefile's fuzz rule):
 *   idx          gl_idx_load: IDX files, plain and gzipped
 *   image        gl_image_load: PNG, JPEG, GIF, BMP, TGA, PNM
 *   cifar        gl_cifar_load: CIFAR-10 binary batches
 *   safetensors  ckpt.read: the safetensors header (C) and its JSON (Lua), then every tensor
 *   csv          data.read_csv
 *   json         json.decode
 *   cli          cli.parse, the input split into arguments at newlines
 * A parser may refuse its input (a status, nil + message, or a clean Lua
 * error); a crash, a sanitizer report, a leak or an internal Lua error
 * ("attempt to index a nil value", a message positioned in the stdlib) is a
 * finding. The Lua targets are in targets.lua beside this file; libFuzzer
 * sees their coverage through a line hook that counts (previous line, line)
 * pairs of the Lua code run into libFuzzer's extra counters, as it sees C
 * code's edges through its own instrumentation. */
#include "../../bindings/bindings.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static lua_State *L;
static char path[64];

#define FUZZ_LUA !(FUZZ_C_idx || FUZZ_C_image || FUZZ_C_cifar)

#if FUZZ_LUA
#define LUA_EDGES (1 << 16)
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[LUA_EDGES];
static uint64_t prev_line;

static void line_hook(lua_State *h, lua_Debug *ar)
{
    if (!lua_getinfo(h, "S", ar)) return;
    uint64_t cur = (uint64_t)(uintptr_t)ar->source * 0x9E3779B97F4A7C15ull ^ (uint64_t)ar->currentline * 0xBF58476D1CE4E5B9ull;
    cur ^= cur >> 29;
    uint8_t *c = &lua_edges[(cur ^ (prev_line >> 1)) & (LUA_EDGES - 1)];
    if (*c < 255) (*c)++;
    prev_line = cur;
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/ganlua-fuzz-%ld", (long)getpid());
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "ganlua", luaopen_ganlua, 1);
    lua_pop(L, 1);
    if (luaL_dofile(L, FUZZ_DIR "/targets.lua") != LUA_OK) {
        fprintf(stderr, "fuzz: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_getfield(L, -1, STR(FUZZ_TARGET)); /* the target's Lua function, or nil for a C target */
    lua_setglobal(L, "fuzz_one");
    lua_pushstring(L, path);
    lua_setglobal(L, "fuzz_path");
    lua_settop(L, 0);
    return 0;
}

static void write_input(const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    write_input(data, n);
#if FUZZ_C_idx
    gl_tensor *a = NULL;
    if (gl_idx_load(&a, path) == GL_OK) gl_tensor_release(a);
#elif FUZZ_C_image
    for (int ch = 0; ch <= 3; ch += 3) { /* as stored, and as RGB */
        gl_tensor *a = NULL;
        if (gl_image_load(&a, path, ch) == GL_OK) gl_tensor_release(a);
    }
#elif FUZZ_C_cifar
    gl_tensor *a = NULL, *b = NULL;
    const char *paths[1] = {path};
    if (gl_cifar_load(&a, &b, paths, 1) == GL_OK) {
        gl_tensor_release(a);
        gl_tensor_release(b);
    }
#else
    lua_getglobal(L, "fuzz_one");
    lua_pushlstring(L, (const char *)data, n);
    prev_line = 0;
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    int st = lua_pcall(L, 1, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    if (st != LUA_OK) {
        fprintf(stderr, "fuzz: finding: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_gc(L, LUA_GCCOLLECT);
#endif
    return 0;
}
