/* bindings/mpi/dist_mpi.c — ganlua_mpi.so, the MPI backend of ganlua.dist
 * (stdlib/dist.lua), built against Debian's OpenMPI and loaded only when
 * a script runs under mpirun or srun. The executable and ganlua.so do not
 * link libmpi, so a machine without MPI runs every script as one rank.
 *
 *   local mpi = package.loadlib(path, "luaopen_ganlua_mpi")()
 *   local rank, size = mpi.init(core.plugin_api)
 *   mpi.allreduce({t1, t2}, "sum")   -- in place, one message for the list
 *   mpi.broadcast({t}, root)         -- root 0-based
 *   mpi.gather(s, root) -> {s0, s1, ...} on root, nil elsewhere (strings)
 *   mpi.bcast_string(s, root) -> root's s
 *   local c = mpi.counter(); c:next() -> 0, 1, 2, ... across all ranks
 *   mpi.sum(t) -> a new tensor, the sum over ranks, recorded by autograd
 *
 * Tensors are reached through the loading build's gl_plugin_api (checked
 * by ABI and tensor header size). Communication only; the arithmetic of a
 * mean is the caller's. MPI_Finalize runs at exit (atexit), with this
 * object pinned so it is still mapped then. */
#include "../bindings.h"

#include <dlfcn.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int luaopen_ganlua_mpi(lua_State *L);

static const gl_plugin_api *api;
static int rank_, size_;

static void finalize(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
}

/* errors from MPI come back as codes (MPI_ERRORS_RETURN), raised here */
static void check_mpi(lua_State *L, int rc, const char *fn)
{
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(rc, msg, &n);
    msg[n < MPI_MAX_ERROR_STRING ? n : MPI_MAX_ERROR_STRING - 1] = 0;
    api->errorf(L, "dist.%s: MPI: %s", fn, msg);
}

static void need_init(lua_State *L)
{
    if (!api) luaL_error(L, "ganlua_mpi: init has not been called");
}

/* init(plugin_api) -> rank, size */
static int m_init(lua_State *L)
{
    const gl_plugin_api *a = lua_touserdata(L, 1);
    if (!a || a->abi != GL_PLUGIN_ABI || a->tensor_size != sizeof(gl_tensor))
        return luaL_error(L, "ganlua_mpi.so was built for another ganlua (plugin ABI %d, this one %d): rebuild it with make",
                          a ? a->abi : -1, GL_PLUGIN_ABI);
    if (api) {
        lua_pushinteger(L, rank_);
        lua_pushinteger(L, size_);
        return 2;
    }
    /* OpenMPI dlopens its own components, which need libmpi's symbols
     * global; and this object must stay mapped for the atexit handler */
    Dl_info self;
    if (dladdr((void *)m_init, &self) && self.dli_fname) dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
    dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return luaL_error(L, "dist: MPI_Init failed");
        atexit(finalize);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    api = a;
    lua_pushinteger(L, rank_);
    lua_pushinteger(L, size_);
    return 2;
}

static int m_barrier(lua_State *L)
{
    need_init(L);
    check_mpi(L, MPI_Barrier(MPI_COMM_WORLD), "barrier");
    return 0;
}

static int root_arg(lua_State *L, int i, const char *fn)
{
    lua_Integer r = luaL_checkinteger(L, i);
    if (r < 0 || r >= size_) api->errorf(L, "dist.%s: root %d is not a rank (0..%d)", fn, (int)r, size_ - 1);
    return (int)r;
}

/* The tensors of the list at 1 packed into one float buffer (a message per
 * call, not per tensor), the op run, and the result copied back. Every
 * tensor is checked for an in-place write first, so a failure leaves all
 * of them as they were. */
static int reduce_or_bcast(lua_State *L, int bcast)
{
    need_init(L);
    const char *fn = bcast ? "broadcast" : "allreduce";
    int n;
    gl_tensor **ts = api->tensor_list(L, 1, &n, "tensor");
    MPI_Op op = MPI_SUM;
    int root = 0;
    if (bcast) {
        root = root_arg(L, 2, fn);
    } else {
        static const char *const ops[] = {"sum", "max", "min", NULL};
        static const MPI_Op mops[] = {MPI_SUM, MPI_MAX, MPI_MIN};
        op = mops[luaL_checkoption(L, 2, "sum", ops)];
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        api->check_status(L, api->check_inplace(bcast ? "dist.broadcast" : "dist.allreduce", ts[i]));
        total += ts[i]->numel;
    }
    if (total > INT32_MAX) return api->errorf(L, "dist.%s: %lld floats, more than one message holds", fn, (long long)total);
    float *buf = n == 1 ? ts[0]->data : malloc(sizeof(float) * (size_t)(total ? total : 1));
    if (!buf) return api->errorf(L, "dist.%s: out of memory for %lld floats", fn, (long long)total);
    if (n != 1)
        for (int i = 0, k = 0; i < n; k += (int)ts[i]->numel, i++) memcpy(buf + k, ts[i]->data, sizeof(float) * (size_t)ts[i]->numel);
    int rc = bcast ? MPI_Bcast(buf, (int)total, MPI_FLOAT, root, MPI_COMM_WORLD)
                   : MPI_Allreduce(MPI_IN_PLACE, buf, (int)total, MPI_FLOAT, op, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS && n != 1)
        for (int i = 0, k = 0; i < n; k += (int)ts[i]->numel, i++) memcpy(ts[i]->data, buf + k, sizeof(float) * (size_t)ts[i]->numel);
    if (n != 1) free(buf);
    check_mpi(L, rc, fn);
    for (int i = 0; i < n; i++) api->bump(ts[i]);
    return 0;
}

static int m_allreduce(lua_State *L) { return reduce_or_bcast(L, 0); }

/* the reduction the runtime's collective_sum op calls, forward and backward */
static gl_status mpi_sum(void *ctx, float *data, int64_t n)
{
    (void)ctx;
    if (n > INT32_MAX) return api->fail(GL_ERR_ARG, "dist.sum: %lld floats, more than one message holds", (long long)n);
    int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) return GL_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
    return api->fail(GL_ERR_STATE, "dist.sum: MPI: %s", msg);
}

/* sum(t) -> the sum over ranks as a new tensor, differentiable */
static int m_sum(lua_State *L)
{
    need_init(L);
    gl_tensor *x = api->check(L, 1), *out = NULL;
    api->check_status(L, api->collective_sum(&out, x, mpi_sum, NULL));
    api->push(L, out);
    return 1;
}
static int m_broadcast(lua_State *L) { return reduce_or_bcast(L, 1); }

/* gather(s, root) -> the list of every rank's string on root, nil elsewhere */
static int m_gather(lua_State *L)
{
    need_init(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int root = root_arg(L, 2, "gather");
    if (len > INT32_MAX) return api->errorf(L, "dist.gather: a value of %zu bytes is too large", len);
    int mine = (int)len, *lens = NULL, *offs = NULL;
    char *all = NULL;
    if (rank_ == root) {
        lens = lua_newuserdatauv(L, sizeof(int) * 2 * (size_t)size_, 0);
        offs = lens + size_;
    }
    check_mpi(L, MPI_Gather(&mine, 1, MPI_INT, lens, 1, MPI_INT, root, MPI_COMM_WORLD), "gather");
    int64_t total = 0;
    if (rank_ == root) {
        for (int i = 0; i < size_; i++) offs[i] = (int)total, total += lens[i];
        if (total > INT32_MAX) return api->errorf(L, "dist.gather: %lld bytes in all, too large", (long long)total);
        all = lua_newuserdatauv(L, (size_t)(total ? total : 1), 0);
    }
    check_mpi(L, MPI_Gatherv(s, mine, MPI_CHAR, all, lens, offs, MPI_CHAR, root, MPI_COMM_WORLD), "gather");
    if (rank_ != root) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, size_, 0);
    for (int i = 0; i < size_; i++) {
        lua_pushlstring(L, all + offs[i], (size_t)lens[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* bcast_string(s, root) -> root's string on every rank (s is ignored
 * elsewhere; nil allowed there) */
static int m_bcast_string(lua_State *L)
{
    need_init(L);
    int root = root_arg(L, 2, "broadcast");
    size_t len = 0;
    const char *s = rank_ == root ? luaL_checklstring(L, 1, &len) : NULL;
    if (len > INT32_MAX) return api->errorf(L, "dist.broadcast: a value of %zu bytes is too large", len);
    int n = (int)len;
    check_mpi(L, MPI_Bcast(&n, 1, MPI_INT, root, MPI_COMM_WORLD), "broadcast");
    char *buf = rank_ == root ? (char *)s : lua_newuserdatauv(L, (size_t)(n ? n : 1), 0);
    check_mpi(L, MPI_Bcast(buf, n, MPI_CHAR, root, MPI_COMM_WORLD), "broadcast");
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

/* ------------------------------------------------------------ counter */

/* A shared counter in an MPI window on rank 0: next() is an atomic
 * fetch-and-add, so ranks take work as they become free (a sweep's jobs)
 * without a coordinator loop. Made collectively. */
#define COUNTER_MT "ganlua.MpiCounter"
typedef struct {
    MPI_Win win;
    int64_t *cell;
    int live;
} counter;

static int m_counter(lua_State *L)
{
    need_init(L);
    counter *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->live = 0;
    luaL_setmetatable(L, COUNTER_MT);
    MPI_Aint bytes = rank_ == 0 ? (MPI_Aint)sizeof(int64_t) : 0;
    check_mpi(L, MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &c->cell, &c->win), "counter");
    if (rank_ == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win);
        *c->cell = 0;
        MPI_Win_unlock(0, c->win);
    }
    c->live = 1;
    check_mpi(L, MPI_Barrier(MPI_COMM_WORLD), "counter");
    return 1;
}

static int counter_next(lua_State *L)
{
    counter *c = luaL_checkudata(L, 1, COUNTER_MT);
    if (!c->live) return api->errorf(L, "dist.counter: the counter has been freed");
    int64_t one = 1, got = 0;
    check_mpi(L, MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, c->win), "counter");
    int rc = MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, c->win);
    int rc2 = MPI_Win_unlock(0, c->win);
    check_mpi(L, rc, "counter");
    check_mpi(L, rc2, "counter");
    lua_pushinteger(L, (lua_Integer)got);
    return 1;
}

/* free(): collective, like the window it frees */
static int counter_free(lua_State *L)
{
    counter *c = luaL_checkudata(L, 1, COUNTER_MT);
    if (c->live) {
        c->live = 0;
        int done = 0;
        MPI_Finalized(&done);
        if (!done) MPI_Win_free(&c->win);
    }
    return 0;
}

int luaopen_ganlua_mpi(lua_State *L)
{
    static const luaL_Reg fns[] = {{"init", m_init},
                                   {"barrier", m_barrier},
                                   {"allreduce", m_allreduce},
                                   {"broadcast", m_broadcast},
                                   {"gather", m_gather},
                                   {"bcast_string", m_bcast_string},
                                   {"counter", m_counter},
                                   {"sum", m_sum},
                                   {NULL, NULL}};
    static const luaL_Reg cfns[] = {{"next", counter_next}, {"free", counter_free}, {NULL, NULL}};
    if (luaL_newmetatable(L, COUNTER_MT)) {
        luaL_newlib(L, cfns);
        lua_setfield(L, -2, "__index");
        /* no __gc: freeing a window is collective, the script frees it */
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
