/* bindings/tensor.c — the `tensor` module and the Tensor metatable.
 *
 * Every function checks its arguments, calls the runtime and pushes the
 * result; no math happens here. Lua dims and positions are 1-based
 * (negative dims count from the end) and are translated once, in
 * checkdim / checkpos. */
#include "bindings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Run a runtime call into a fresh userdata and leave it on the stack. The
 * userdata is pushed first: read every argument before PUSH_OP, or the
 * new slot can stand in for a missing one. */
#define PUSH_OP(L, call_with_out)                                                                  \
    do {                                                                                           \
        gl_ud *u_ = gl_lua_newud(L);                                                               \
        gl_tensor **out = &u_->t;                                                                  \
        gl_lua_check_status(L, (call_with_out));                                                   \
        gl_lua_account(L);                                                                         \
    } while (0)

/* The result on top of the stack: where it is a copy that PyTorch would
 * return as a view, it is marked so in-place writes to it are refused. */
static void mark_copy(lua_State *L, const gl_tensor *src, const char *op, int dim)
{
    gl_tensor *o = gl_lua_check(L, -1);
    if (o->storage != src->storage) {
        o->copy_op = op;
        o->copy_dim = dim;
    }
}

/* ------------------------------------------------------------ arguments */

static int checkdim(lua_State *L, int arg, int ndim)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    if (d == 0) gl_lua_argerror(L, arg, "dim 0 is invalid: dims are 1-based (negative counts from the end)");
    lua_Integer r = d > 0 ? d - 1 : d + ndim;
    if (r < 0 || r >= ndim)
        gl_lua_argerror(L, arg, lua_pushfstring(L, "dim %I out of range for a %d-dim tensor", (LUAI_UACINT)d, ndim));
    return (int)r;
}

static int optdim(lua_State *L, int arg, int ndim, int def)
{
    return lua_isnoneornil(L, arg) ? def : checkdim(L, arg, ndim);
}

/* 1-based position along a dim of size n (negative counts from the end). */
static int64_t checkpos(lua_State *L, int arg, int64_t n)
{
    lua_Integer p = luaL_checkinteger(L, arg);
    lua_Integer r = p > 0 ? p - 1 : p + n;
    if (p == 0 || r < 0 || r >= n)
        gl_lua_argerror(L, arg, lua_pushfstring(L, "position %d is outside 1..%d", (int)p, (int)n));
    return r;
}

static int64_t size_value(lua_State *L, int arg, int allow_neg1)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) gl_lua_argerror(L, arg, "sizes must be integers");
    if (v < 0 && !(allow_neg1 && v == -1)) gl_lua_argerror(L, arg, "sizes must be non-negative");
    return (int64_t)v;
}

/* Sizes given as a table {2, 3} at arg, or as integers from arg onwards
 * (stopping at the first non-number). Returns how many stack slots used. */
static int read_shape(lua_State *L, int arg, int *ndim, int64_t *shape, int allow_neg1)
{
    if (lua_istable(L, arg) && !gl_lua_test(L, arg)) {
        int n = (int)luaL_len(L, arg);
        if (n > GL_MAX_DIMS) gl_lua_argerror(L, arg, "more than 8 dims");
        for (int i = 0; i < n; i++) {
            lua_geti(L, arg, i + 1);
            shape[i] = size_value(L, arg, allow_neg1);
            lua_pop(L, 1);
        }
        *ndim = n;
        return 1;
    }
    int n = 0;
    while (lua_type(L, arg + n) == LUA_TNUMBER) {
        if (n == GL_MAX_DIMS) gl_lua_argerror(L, arg + n, "more than 8 dims");
        lua_pushvalue(L, arg + n);
        shape[n] = size_value(L, arg + n, allow_neg1);
        lua_pop(L, 1);
        n++;
    }
    *ndim = n;
    return n;
}

/* Options table at idx: requires_grad = true. */
static void apply_opts(lua_State *L, int idx, gl_tensor *t)
{
    static const char *const keys[] = {"requires_grad", NULL};
    if (!lua_istable(L, idx)) return;
    gl_lua_check_options(L, idx, "tensor", keys);
    gl_tensor_set_requires_grad(t, gl_lua_opt_boolean(L, idx, "requires_grad", t->requires_grad));
}

static float checkfloat(lua_State *L, int arg) { return (float)luaL_checknumber(L, arg); }

/* -------------------------------------------------------- constructors */

typedef enum { C_EMPTY, C_ZEROS, C_ONES, C_RAND, C_RANDN } ctor_kind;

static int construct(lua_State *L, ctor_kind k)
{
    int nd;
    int64_t shape[GL_MAX_DIMS];
    int used = read_shape(L, 1, &nd, shape, 0);
    int rest = 1 + used; /* nothing, or the options table */
    if (!lua_isnoneornil(L, rest) && !(lua_istable(L, rest) && !gl_lua_test(L, rest)))
        gl_lua_argerror(L, rest, lua_pushfstring(L, "sizes must be integers, got %s", luaL_typename(L, rest)));
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_tensor_new(&u->t, nd, shape));
    switch (k) {
    case C_ZEROS: gl_tensor_fill_(u->t, 0.0f); break;
    case C_ONES: gl_tensor_fill_(u->t, 1.0f); break;
    case C_RAND: gl_tensor_uniform_(u->t, gl_lua_rng(L), 0.0f, 1.0f); break;
    case C_RANDN: gl_tensor_normal_(u->t, gl_lua_rng(L), 0.0f, 1.0f); break;
    default: break;
    }
    apply_opts(L, 1 + (used ? used : 0), u->t);
    gl_lua_account(L);
    return 1;
}
static int t_empty(lua_State *L) { return construct(L, C_EMPTY); }
static int t_zeros(lua_State *L) { return construct(L, C_ZEROS); }
static int t_ones(lua_State *L) { return construct(L, C_ONES); }
static int t_rand(lua_State *L) { return construct(L, C_RAND); }
static int t_randn(lua_State *L) { return construct(L, C_RANDN); }

/* full(size_table, value) or full(d1, ..., dn, value) */
static int t_full(lua_State *L)
{
    int nd;
    int64_t shape[GL_MAX_DIMS];
    int vi;
    if (lua_istable(L, 1)) {
        read_shape(L, 1, &nd, shape, 0);
        vi = 2;
    } else {
        int top = lua_gettop(L);
        while (top > 0 && lua_type(L, top) != LUA_TNUMBER) top--; /* skip an options table */
        if (top < 1) return gl_lua_errorf(L, "full: expected sizes and a value");
        vi = top;
        nd = 0;
        for (int i = 1; i < vi; i++) {
            if (nd == GL_MAX_DIMS) gl_lua_argerror(L, i, "more than 8 dims");
            lua_pushvalue(L, i);
            shape[nd++] = size_value(L, i, 0);
            lua_pop(L, 1);
        }
    }
    float v = checkfloat(L, vi);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_full(&u->t, nd, shape, v));
    apply_opts(L, vi + 1, u->t);
    gl_lua_account(L);
    return 1;
}

/* randint(low, high, size) or randint(high, size): integers in [low, high) */
static int t_randint(lua_State *L)
{
    lua_Integer lo = 0, hi;
    int sarg;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lo = luaL_checkinteger(L, 1);
        hi = luaL_checkinteger(L, 2);
        sarg = 3;
    } else {
        hi = luaL_checkinteger(L, 1);
        sarg = 2;
    }
    int nd;
    int64_t shape[GL_MAX_DIMS];
    read_shape(L, sarg, &nd, shape, 0);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_tensor_new(&u->t, nd, shape));
    gl_lua_check_status(L, gl_tensor_randint_(u->t, gl_lua_rng(L), lo, hi));
    gl_lua_account(L);
    return 1;
}

/* arange(stop) / arange(start, stop [, step]): [start, stop) */
static int t_arange(lua_State *L)
{
    double a = 0, b, s = 1;
    if (lua_isnoneornil(L, 2)) b = luaL_checknumber(L, 1);
    else {
        a = luaL_checknumber(L, 1);
        b = luaL_checknumber(L, 2);
        s = luaL_optnumber(L, 3, 1);
    }
    PUSH_OP(L, gl_tensor_arange(out, a, b, s));
    return 1;
}
static int t_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    PUSH_OP(L, gl_tensor_linspace(out, a, b, n));
    return 1;
}
static int t_eye(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1), m = luaL_optinteger(L, 2, n);
    PUSH_OP(L, gl_tensor_eye(out, n, m));
    return 1;
}

/* from(nested table) / from(number) */
static void from_shape(lua_State *L, int idx, int depth, int *nd, int64_t *shape)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        *nd = depth;
        return;
    }
    if (!lua_istable(L, idx)) gl_lua_errorf(L, "tensor.from: expected numbers or nested tables, got %s", luaL_typename(L, idx));
    if (depth == GL_MAX_DIMS) gl_lua_errorf(L, "tensor.from: more than 8 levels of nesting");
    shape[depth] = (int64_t)luaL_len(L, idx);
    if (shape[depth] == 0) {
        *nd = depth + 1;
        return;
    }
    lua_geti(L, idx, 1);
    from_shape(L, lua_gettop(L), depth + 1, nd, shape);
    lua_pop(L, 1);
}

static void from_fill(lua_State *L, int idx, int depth, int nd, const int64_t *shape, float **p)
{
    if (depth == nd) {
        int isnum;
        lua_Number v = lua_tonumberx(L, idx, &isnum);
        if (!isnum) gl_lua_errorf(L, "tensor.from: ragged or non-numeric table (expected a number at depth %d)", depth + 1);
        *(*p)++ = (float)v;
        return;
    }
    if (!lua_istable(L, idx) || (int64_t)luaL_len(L, idx) != shape[depth])
        gl_lua_errorf(L, "tensor.from: ragged nested table (expected %d entries at depth %d)", (int)shape[depth], depth + 1);
    for (int64_t i = 1; i <= shape[depth]; i++) {
        lua_geti(L, idx, i);
        from_fill(L, lua_gettop(L), depth + 1, nd, shape, p);
        lua_pop(L, 1);
    }
}

static int t_from(lua_State *L)
{
    if (gl_lua_test(L, 1)) { /* a tensor: copy */
        gl_tensor *src = gl_lua_check(L, 1);
        int prev = gl_set_grad_enabled(0);
        gl_ud *u = gl_lua_newud(L);
        gl_status st = gl_op_clone(&u->t, src);
        gl_set_grad_enabled(prev);
        gl_lua_check_status(L, st);
        return 1;
    }
    int nd = 0;
    int64_t shape[GL_MAX_DIMS];
    luaL_checkany(L, 1);
    from_shape(L, 1, 0, &nd, shape);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_tensor_new(&u->t, nd, shape));
    float *p = u->t->data;
    from_fill(L, 1, 0, nd, shape, &p);
    apply_opts(L, 2, u->t);
    gl_lua_account(L);
    return 1;
}

/* one_hot(idx, n_classes): idx a tensor or table of 1-based classes */
static int t_one_hot(lua_State *L)
{
    gl_tensor *idx = gl_lua_test(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (!idx) {
        lua_pushcfunction(L, t_from);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        idx = gl_lua_check(L, -1);
    }
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_tensor_one_hot(&u->t, idx, n));
    gl_lua_account(L);
    return 1;
}

/* --------------------------------------------------------------- info */

/* x:size() is a plain list of integers (table.concat, unpack and # work
 * on it) whose metatable prints it as a shape, Size{2, 3}, and compares
 * it by value: x:size() == y:size(), x:size() == {2, 3}. */
#define GL_SIZE_MT "ganlua.Size"
static int size_tostring(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "Size{");
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (i > 1) luaL_addstring(&b, ", ");
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, "}");
    luaL_pushresult(&b);
    return 1;
}
static int size_eq(lua_State *L)
{
    int eq = lua_istable(L, 1) && lua_istable(L, 2) && lua_rawlen(L, 1) == lua_rawlen(L, 2);
    for (lua_Integer i = 1; eq && i <= (lua_Integer)lua_rawlen(L, 1); i++) {
        lua_rawgeti(L, 1, i);
        lua_rawgeti(L, 2, i);
        eq = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, eq);
    return 1;
}

static int m_size(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        lua_pushinteger(L, t->shape[checkdim(L, 2, t->ndim)]);
        return 1;
    }
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    luaL_setmetatable(L, GL_SIZE_MT);
    return 1;
}
static int m_dim(lua_State *L) { lua_pushinteger(L, gl_lua_check(L, 1)->ndim); return 1; }
static int m_numel(lua_State *L) { lua_pushinteger(L, gl_lua_check(L, 1)->numel); return 1; }
static int m_len(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (t->ndim == 0) return gl_lua_errorf(L, "#: a 0-dim tensor has no length");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

static int m_item(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (t->numel != 1) {
        char b[96];
        return gl_lua_errorf(L, "item: tensor of shape %s has %d elements, not 1", gl_tensor_shape_str(t, b, sizeof b), (int)t->numel);
    }
    lua_pushnumber(L, t->data[0]);
    return 1;
}

static void totable_rec(lua_State *L, const gl_tensor *t, int d, const float **p)
{
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        if (d == t->ndim - 1) lua_pushnumber(L, *(*p)++);
        else totable_rec(L, t, d + 1, p);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_totable(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (t->ndim == 0) {
        lua_pushnumber(L, t->data[0]);
        return 1;
    }
    luaL_checkstack(L, t->ndim + 4, "totable");
    const float *p = t->data;
    totable_rec(L, t, 0, &p);
    return 1;
}

/* ------------------------------------------------------------ in place */

static int m_fill_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float v = checkfloat(L, 2);
    gl_lua_check_status(L, gl_check_inplace("fill_", t));
    gl_tensor_fill_(t, v);
    lua_settop(L, 1);
    return 1;
}
static int m_zero_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    gl_lua_check_status(L, gl_check_inplace("zero_", t));
    gl_tensor_fill_(t, 0.0f);
    lua_settop(L, 1);
    return 1;
}
static int m_copy_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1), *s = gl_lua_check(L, 2);
    gl_lua_check_status(L, gl_check_inplace("copy_", t));
    gl_lua_check_status(L, gl_tensor_copy_(t, s));
    lua_settop(L, 1);
    return 1;
}
static int m_normal_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float mean = (float)luaL_optnumber(L, 2, 0), std = (float)luaL_optnumber(L, 3, 1);
    luaL_argcheck(L, std >= 0, 3, "std must be non-negative");
    gl_lua_check_status(L, gl_check_inplace("normal_", t));
    gl_tensor_normal_(t, gl_lua_rng(L), mean, std);
    lua_settop(L, 1);
    return 1;
}
static int m_uniform_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float a = (float)luaL_optnumber(L, 2, 0), b = (float)luaL_optnumber(L, 3, 1);
    luaL_argcheck(L, a <= b, 3, "upper bound is below the lower bound");
    gl_lua_check_status(L, gl_check_inplace("uniform_", t));
    gl_tensor_uniform_(t, gl_lua_rng(L), a, b);
    lua_settop(L, 1);
    return 1;
}

/* x:add_(y [, alpha]) x += alpha*y; x:mul_(y); x:sub_, x:div_; y a tensor
 * (broadcast to x) or a number. Not recorded by autograd. */
/* x:add_(y [, alpha]) x += alpha*y; x:mul_(y); x:sub_, x:div_; y a tensor
 * (broadcast into x) or a number */
static int inplace_binary(lua_State *L, gl_binop op, const char *fn)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) gl_lua_check_status(L, gl_tensor_binary_scalar_(t, op, checkfloat(L, 2), fn));
    else {
        gl_tensor *y = gl_lua_check(L, 2);
        gl_lua_check_status(L, gl_tensor_binary_(t, op, y, (float)luaL_optnumber(L, 3, 1), fn));
    }
    lua_settop(L, 1);
    return 1;
}
static int m_add_(lua_State *L) { return inplace_binary(L, GL_BIN_ADD, "add_"); }
static int m_sub_(lua_State *L) { return inplace_binary(L, GL_BIN_SUB, "sub_"); }
static int m_mul_(lua_State *L) { return inplace_binary(L, GL_BIN_MUL, "mul_"); }
static int m_div_(lua_State *L) { return inplace_binary(L, GL_BIN_DIV, "div_"); }

static void clamp_bounds(lua_State *L, int a, float *lo, float *hi)
{
    *lo = lua_isnoneornil(L, a) ? -INFINITY : checkfloat(L, a);
    *hi = lua_isnoneornil(L, a + 1) ? INFINITY : checkfloat(L, a + 1);
}

static int m_clamp_(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float lo, hi;
    clamp_bounds(L, 2, &lo, &hi);
    gl_lua_check_status(L, gl_tensor_clamp_(t, lo, hi));
    lua_settop(L, 1);
    return 1;
}

/* -------------------------------------------------------------- shapes */

static int m_reshape(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int nd;
    int64_t shape[GL_MAX_DIMS];
    read_shape(L, 2, &nd, shape, 1);
    PUSH_OP(L, gl_op_reshape(out, t, nd, shape));
    return 1;
}

static int m_flatten(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (t->ndim == 0) {
        int64_t one = 1;
        PUSH_OP(L, gl_op_reshape(out, t, 1, &one));
        return 1;
    }
    int a = optdim(L, 2, t->ndim, 0), b = optdim(L, 3, t->ndim, t->ndim - 1);
    luaL_argcheck(L, a <= b, 3, "end dim is before start dim");
    int64_t shape[GL_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d <= a || d > b) shape[k++] = t->shape[d];
        else shape[k - 1] *= t->shape[d];
    }
    PUSH_OP(L, gl_op_reshape(out, t, k, shape));
    return 1;
}

static int m_squeeze(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int64_t shape[GL_MAX_DIMS];
    int k = 0;
    if (lua_isnoneornil(L, 2)) {
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] != 1) shape[k++] = t->shape[d];
    } else {
        int s = checkdim(L, 2, t->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (d != s || t->shape[d] != 1) shape[k++] = t->shape[d];
    }
    PUSH_OP(L, gl_op_reshape(out, t, k, shape));
    return 1;
}

static int m_unsqueeze(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim + 1);
    luaL_argcheck(L, t->ndim < GL_MAX_DIMS, 1, "already 8 dims");
    int64_t shape[GL_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++) shape[i] = i == d ? 1 : t->shape[j++];
    PUSH_OP(L, gl_op_reshape(out, t, t->ndim + 1, shape));
    return 1;
}

static int m_t(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (t->ndim < 2) {
        lua_settop(L, 1);
        return 1;
    }
    if (t->ndim != 2) return gl_lua_errorf(L, "t: expects a 2-D tensor, got %d dims (use transpose or permute)", t->ndim);
    PUSH_OP(L, gl_op_transpose(out, t, 0, 1));
    mark_copy(L, t, "t()", 0);
    return 1;
}

static int m_transpose(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int a = checkdim(L, 2, t->ndim), b = checkdim(L, 3, t->ndim);
    PUSH_OP(L, gl_op_transpose(out, t, a, b));
    mark_copy(L, t, "transpose", 0);
    return 1;
}

static int m_permute(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int perm[GL_MAX_DIMS];
    if (lua_istable(L, 2)) { /* permute{2, 1} -> permute(2, 1) */
        int n = (int)luaL_len(L, 2);
        if (n > GL_MAX_DIMS) return gl_lua_errorf(L, "permute: %d dims given for a %d-dim tensor", n, t->ndim);
        lua_settop(L, 2);
        for (int i = 1; i <= n; i++) lua_geti(L, 2, i);
        lua_remove(L, 2);
    }
    int n = lua_gettop(L) - 1;
    if (n != t->ndim) return gl_lua_errorf(L, "permute: %d dims given for a %d-dim tensor", n, t->ndim);
    for (int i = 0; i < n; i++) perm[i] = checkdim(L, 2 + i, t->ndim);
    PUSH_OP(L, gl_op_permute(out, t, perm));
    mark_copy(L, t, "permute", 0);
    return 1;
}

static int m_narrow(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim);
    int64_t s = checkpos(L, 3, t->shape[d] + 1 > 1 ? t->shape[d] : 1);
    lua_Integer len = luaL_checkinteger(L, 4);
    luaL_argcheck(L, len >= 0, 4, "length must be non-negative");
    PUSH_OP(L, gl_op_narrow(out, t, d, s, len));
    mark_copy(L, t, "narrow", d + 1);
    return 1;
}

static int m_select(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim);
    int64_t i = checkpos(L, 3, t->shape[d]);
    PUSH_OP(L, gl_op_select(out, t, d, i));
    mark_copy(L, t, "select", d + 1);
    return 1;
}

/* Indices from a table or tensor of 1-based positions, into a scratch
 * userdata (collected by the GC, so an error leaks nothing). */
static int64_t *read_index(lua_State *L, int arg, int64_t size, int64_t *n, const char *fn)
{
    gl_tensor *it = gl_lua_test(L, arg);
    int64_t cnt = it ? it->numel : (luaL_checktype(L, arg, LUA_TTABLE), (int64_t)luaL_len(L, arg));
    int64_t *idx = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(cnt ? cnt : 1), 0);
    for (int64_t k = 0; k < cnt; k++) {
        double v;
        if (it) v = it->data[k];
        else {
            lua_geti(L, arg, k + 1);
            int isnum;
            v = lua_tonumberx(L, -1, &isnum);
            if (!isnum) gl_lua_errorf(L, "%s: indices must be numbers, got %s at position %I", fn, luaL_typename(L, -1), (LUAI_UACINT)(k + 1));
            lua_pop(L, 1);
        }
        if (v != floor(v) || v < 1 || v > (double)size)
            gl_lua_errorf(L, "%s: index %f is not an integer in 1..%I", fn, v, (LUAI_UACINT)size);
        idx[k] = (int64_t)v - 1;
    }
    *n = cnt;
    return idx;
}

static int m_index_select(lua_State *L)
{
    lua_settop(L, 3);
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim);
    int64_t n;
    int64_t *idx = read_index(L, 3, t->shape[d], &n, "index_select");
    PUSH_OP(L, gl_op_index_select(out, t, d, idx, n));
    return 1;
}

/* x:index_fill_(dim, idx, v), x:index_copy_(dim, idx, src): in place at
 * the 1-based positions idx (a table or tensor) along dim, as PyTorch's */
static int index_inplace(lua_State *L, int copy)
{
    lua_settop(L, 4);
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim);
    int64_t n;
    int64_t *idx = read_index(L, 3, t->shape[d], &n, copy ? "index_copy_" : "index_fill_");
    gl_tensor *src = copy ? gl_lua_check(L, 4) : NULL;
    float v = copy ? 0.0f : checkfloat(L, 4);
    gl_lua_check_status(L, gl_check_inplace(copy ? "index_copy_" : "index_fill_", t));
    gl_lua_check_status(L, copy ? gl_tensor_index_copy_(t, d, idx, n, src) : gl_tensor_index_fill_(t, d, idx, n, v));
    lua_settop(L, 1);
    return 1;
}
static int m_index_fill_(lua_State *L) { return index_inplace(L, 0); }
static int m_index_copy_(lua_State *L) { return index_inplace(L, 1); }

static int m_expand(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int nd;
    int64_t shape[GL_MAX_DIMS];
    gl_tensor *like = gl_lua_test(L, 2);
    if (like) {
        nd = like->ndim;
        memcpy(shape, like->shape, sizeof shape);
    } else {
        read_shape(L, 2, &nd, shape, 1);
    }
    PUSH_OP(L, gl_op_expand(out, t, nd, shape));
    mark_copy(L, t, "expand", 0);
    return 1;
}

/* A list of tensors from the table at arg. Borrowed pointers, kept alive
 * by the table; the array itself is a scratch userdata. */
static gl_tensor **read_list(lua_State *L, int arg, int *n) { return gl_lua_tensor_list(L, arg, n, "entry"); }

static int t_cat(lua_State *L)
{
    lua_settop(L, 2); /* read_list pushes a scratch array */
    int n;
    gl_tensor **xs = read_list(L, 1, &n);
    luaL_argcheck(L, n > 0, 1, "needs at least one tensor");
    int d = optdim(L, 2, xs[0]->ndim, 0);
    PUSH_OP(L, gl_op_cat(out, xs, n, d));
    return 1;
}

static int t_stack(lua_State *L)
{
    lua_settop(L, 2);
    int n;
    gl_tensor **xs = read_list(L, 1, &n);
    luaL_argcheck(L, n > 0, 1, "needs at least one tensor");
    int d = optdim(L, 2, xs[0]->ndim + 1, 0);
    PUSH_OP(L, gl_op_stack(out, xs, n, d));
    return 1;
}

/* ------------------------------------------------------------ arithmetic */

static int arith_call(lua_State *L, gl_binop k)
{
    /* the hottest binding: one registry lookup of the metatable serves both
     * type tests and the result */
    lua_settop(L, 2);
    gl_lua_push_tensor_mt(L);
    gl_ud *ua = gl_lua_test_ud_mt(L, 1, 3), *ub = gl_lua_test_ud_mt(L, 2, 3);
    gl_tensor *a = ua ? ua->t : NULL, *b = ub ? ub->t : NULL;
    gl_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    lua_pushvalue(L, 3);
    lua_setmetatable(L, -2);
    int top = lua_gettop(L);
    gl_status st;
    if (a && b) st = gl_op_binary(&u->t, k, a, b);
    else if (a) {
        if (lua_type(L, 2) != LUA_TNUMBER)
            return gl_lua_errorf(L, "%s: expected a Tensor or number as argument 2, got %s", gl_binop_name(k), luaL_typename(L, 2));
        st = gl_op_binary_scalar(&u->t, k, a, (float)lua_tonumber(L, 2), 0);
    } else if (b) {
        if (lua_type(L, 1) != LUA_TNUMBER)
            return gl_lua_errorf(L, "%s: expected a Tensor or number as argument 1, got %s", gl_binop_name(k), luaL_typename(L, 1));
        st = gl_op_binary_scalar(&u->t, k, b, (float)lua_tonumber(L, 1), 1);
    } else {
        if (gl_lua_test_ud(L, 1) || gl_lua_test_ud(L, 2))
            return gl_lua_errorf(L, "%s: tensor has been closed", gl_binop_name(k));
        return gl_lua_errorf(L, "%s: expected a Tensor, got %s and %s", gl_binop_name(k), luaL_typename(L, 1), luaL_typename(L, 2));
    }
    gl_lua_check_status(L, st);
    lua_settop(L, top);
    gl_lua_account(L);
    return 1;
}
static int m_add(lua_State *L) { return arith_call(L, GL_BIN_ADD); }
static int m_sub(lua_State *L) { return arith_call(L, GL_BIN_SUB); }
static int m_mul(lua_State *L) { return arith_call(L, GL_BIN_MUL); }
static int m_div(lua_State *L) { return arith_call(L, GL_BIN_DIV); }
static int m_pow(lua_State *L) { return arith_call(L, GL_BIN_POW); }
static int m_maximum(lua_State *L) { return arith_call(L, GL_BIN_MAX); }
static int m_minimum(lua_State *L) { return arith_call(L, GL_BIN_MIN); }

static int m_neg(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    PUSH_OP(L, gl_op_affine(out, t, -1.0f, 0.0f));
    return 1;
}

#define UNARY(NAME, U)                                                                             \
    static int m_##NAME(lua_State *L)                                                              \
    {                                                                                              \
        gl_tensor *t = gl_lua_check(L, 1);                                                         \
        PUSH_OP(L, gl_op_unary(out, U, t));                                                        \
        return 1;                                                                                  \
    }
UNARY(exp, GL_U_EXP)
UNARY(log, GL_U_LOG)
UNARY(sqrt, GL_U_SQRT)
UNARY(abs, GL_U_ABS)
UNARY(sign, GL_U_SIGN)
UNARY(sigmoid, GL_U_SIGMOID)
UNARY(tanh, GL_U_TANH)
UNARY(relu, GL_U_RELU)
UNARY(erf, GL_U_ERF)

static int m_leaky_relu(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float s = (float)luaL_optnumber(L, 2, 0.01);
    PUSH_OP(L, gl_op_leaky_relu(out, t, s));
    return 1;
}

static int m_softplus(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float beta = (float)luaL_optnumber(L, 2, 1), thr = (float)luaL_optnumber(L, 3, 20);
    PUSH_OP(L, gl_op_softplus(out, t, beta, thr));
    return 1;
}

static int m_clamp(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float lo, hi;
    clamp_bounds(L, 2, &lo, &hi);
    PUSH_OP(L, gl_op_clamp(out, t, lo, hi));
    return 1;
}

/* ---------------------------------------------------------- comparisons */

static int compare(lua_State *L, gl_cmp c)
{
    static const gl_cmp swapped[] = {GL_CMP_EQ, GL_CMP_NE, GL_CMP_GT, GL_CMP_GE, GL_CMP_LT, GL_CMP_LE};
    gl_tensor *a = gl_lua_test(L, 1), *b = gl_lua_test(L, 2);
    if (a && b) PUSH_OP(L, gl_op_compare(out, c, a, b));
    else if (a) {
        float v = checkfloat(L, 2);
        PUSH_OP(L, gl_op_compare_scalar(out, c, a, v));
    } else if (b) {
        float v = checkfloat(L, 1);
        PUSH_OP(L, gl_op_compare_scalar(out, swapped[c], b, v));
    }
    else gl_lua_check(L, 1);
    return 1;
}
static int m_eq(lua_State *L) { return compare(L, GL_CMP_EQ); }
static int m_ne(lua_State *L) { return compare(L, GL_CMP_NE); }
static int m_lt(lua_State *L) { return compare(L, GL_CMP_LT); }
static int m_le(lua_State *L) { return compare(L, GL_CMP_LE); }
static int m_gt(lua_State *L) { return compare(L, GL_CMP_GT); }
static int m_ge(lua_State *L) { return compare(L, GL_CMP_GE); }

/* ----------------------------------------------------------- reductions */

static int keepdim_arg(lua_State *L, int arg) { return lua_toboolean(L, arg); }

static int m_sum(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (lua_isnoneornil(L, 2)) PUSH_OP(L, gl_op_sum(out, t));
    else {
        int d = checkdim(L, 2, t->ndim);
        int keep = keepdim_arg(L, 3);
        PUSH_OP(L, gl_op_sum_dim(out, t, d, keep));
    }
    return 1;
}

static int m_mean(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (lua_isnoneornil(L, 2)) PUSH_OP(L, gl_op_mean(out, t));
    else {
        int d = checkdim(L, 2, t->ndim);
        int keep = keepdim_arg(L, 3);
        PUSH_OP(L, gl_op_mean_dim(out, t, d, keep));
    }
    return 1;
}

/* max() -> value; max(dim [, keepdim]) -> values, indices (1-based) */
static int maxmin(lua_State *L, int is_min)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        PUSH_OP(L, gl_op_max_all(out, t, is_min));
        return 1;
    }
    int d = checkdim(L, 2, t->ndim), keep = keepdim_arg(L, 3);
    gl_ud *v = gl_lua_newud(L);
    gl_ud *ix = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_max_dim(&v->t, &ix->t, t, d, keep, is_min));
    for (int64_t i = 0; i < ix->t->numel; i++) ix->t->data[i] += 1.0f;
    gl_lua_account(L);
    return 2;
}
static int m_max(lua_State *L) { return maxmin(L, 0); }
static int m_min(lua_State *L) { return maxmin(L, 1); }

static int argmaxmin(lua_State *L, int is_min)
{
    lua_settop(L, 3); /* the result is created before the arguments are read */
    gl_tensor *t = gl_lua_check(L, 1);
    gl_ud *ix = gl_lua_newud(L);
    if (lua_isnoneornil(L, 2)) {
        gl_lua_check_status(L, gl_op_argmax_all(&ix->t, t, is_min));
    } else {
        int d = checkdim(L, 2, t->ndim);
        gl_tensor *v = NULL;
        int prev = gl_set_grad_enabled(0);
        gl_status st = gl_op_max_dim(&v, &ix->t, t, d, keepdim_arg(L, 3), is_min);
        gl_set_grad_enabled(prev);
        gl_tensor_release(v);
        gl_lua_check_status(L, st);
    }
    for (int64_t i = 0; i < ix->t->numel; i++) ix->t->data[i] += 1.0f;
    gl_lua_account(L);
    return 1;
}
static int m_argmax(lua_State *L) { return argmaxmin(L, 0); }
static int m_argmin(lua_State *L) { return argmaxmin(L, 1); }

/* var([dim [, keepdim]] [, {unbiased = true}]) */
static int varstd(lua_State *L, int is_std)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int unbiased = 1, d = -1, keep = 0;
    int top = lua_gettop(L);
    if (top >= 2 && lua_istable(L, top)) {
        static const char *const keys[] = {"unbiased", NULL};
        gl_lua_check_options(L, top, is_std ? "std" : "var", keys);
        unbiased = gl_lua_opt_boolean(L, top, "unbiased", 1);
        top--;
    }
    if (top >= 2 && !lua_isnil(L, 2)) {
        d = checkdim(L, 2, t->ndim);
        keep = top >= 3 && lua_toboolean(L, 3);
    }
    gl_ud *u = gl_lua_newud(L);
    if (!is_std) gl_lua_check_status(L, gl_op_var_dim(&u->t, t, d, keep, unbiased));
    else {
        gl_ud *v = gl_lua_newud(L);
        gl_lua_check_status(L, gl_op_var_dim(&v->t, t, d, keep, unbiased));
        gl_lua_check_status(L, gl_op_unary(&u->t, GL_U_SQRT, v->t));
        lua_pop(L, 1);
    }
    gl_lua_account(L);
    return 1;
}
static int m_var(lua_State *L) { return varstd(L, 0); }
static int m_std(lua_State *L) { return varstd(L, 1); }

/* norm([p [, dim [, keepdim]]]) */
static int m_norm(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    float p = (float)luaL_optnumber(L, 2, 2);
    int d = optdim(L, 3, t->ndim, -1);
    int keep = keepdim_arg(L, 4);
    PUSH_OP(L, gl_op_norm(out, t, p, d, keep));
    return 1;
}

static int m_logsumexp(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int d = checkdim(L, 2, t->ndim);
    int keep = keepdim_arg(L, 3);
    PUSH_OP(L, gl_op_logsumexp(out, t, d, keep));
    return 1;
}

static int m_softmax(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int d = optdim(L, 2, t->ndim, t->ndim - 1);
    luaL_argcheck(L, t->ndim > 0, 1, "softmax of a 0-dim tensor");
    PUSH_OP(L, gl_op_softmax(out, t, d));
    return 1;
}

static int m_log_softmax(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    luaL_argcheck(L, t->ndim > 0, 1, "log_softmax of a 0-dim tensor");
    int d = optdim(L, 2, t->ndim, t->ndim - 1);
    PUSH_OP(L, gl_op_log_softmax(out, t, d));
    return 1;
}

static int m_matmul(lua_State *L)
{
    gl_tensor *a = gl_lua_check(L, 1), *b = gl_lua_check(L, 2);
    PUSH_OP(L, gl_op_matmul(out, a, b));
    return 1;
}

static int m_clone(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    PUSH_OP(L, gl_op_clone(out, t));
    return 1;
}

/* Tensors are always contiguous; a marked copy (see mark_copy) comes back
 * unmarked, as the copy PyTorch's contiguous() would make of a view. */
static int m_contiguous(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    if (!t->copy_op) {
        lua_settop(L, 1);
        return 1;
    }
    PUSH_OP(L, gl_op_reshape(out, t, t->ndim, t->shape));
    gl_tensor *o = gl_lua_check(L, -1);
    o->copy_op = NULL;
    o->copy_dim = 0;
    return 1;
}

/* ------------------------------------------------------------- autograd */

static int m_requires_grad(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int on = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    if (!on && t->grad_fn)
        return gl_lua_errorf(L, "requires_grad: this tensor is the output of %s; use detach() to cut it from the graph",
                          gl_tensor_grad_fn_name(t));
    gl_tensor_set_requires_grad(t, on);
    lua_settop(L, 1);
    return 1;
}

static int m_is_requires_grad(lua_State *L)
{
    lua_pushboolean(L, gl_lua_check(L, 1)->requires_grad);
    return 1;
}

static int m_detach(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    PUSH_OP(L, gl_tensor_detach(out, t));
    return 1;
}

/* x:backward([grad] [, {retain_graph=, create_graph=}]) */
static int m_backward(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    gl_tensor *g = NULL;
    int oi = 2;
    if (gl_lua_test(L, 2)) {
        g = gl_lua_check(L, 2);
        oi = 3;
    } else if (lua_isnil(L, 2)) {
        oi = 3;
    }
    static const char *const keys[] = {"create_graph", "retain_graph", NULL};
    if (!lua_isnoneornil(L, oi) && !lua_istable(L, oi)) return luaL_typeerror(L, oi, "table of options");
    gl_lua_check_options(L, oi, "backward", keys);
    int create = gl_lua_opt_boolean(L, oi, "create_graph", 0);
    int retain = gl_lua_opt_boolean(L, oi, "retain_graph", create);
    gl_lua_check_status(L, gl_autograd_backward(&t, g ? &g : NULL, 1, retain, create));
    gl_lua_account(L);
    return 0;
}

/* --------------------------------------------------------- metamethods */

/* __gc and __close: release once, leave the userdata closed. */
/* __gc and __close, a closure over the metatable (see luaopen) */
static int m_gc(lua_State *L)
{
    gl_ud *u = gl_lua_test_ud_mt(L, 1, lua_upvalueindex(1));
    if (u) {
        gl_tensor_release(u->t);
        u->t = NULL;
    }
    return 0;
}

static int m_unm(lua_State *L) { return m_neg(L); }

/* Print like PyTorch: nested brackets, aligned columns, "..." when large. */
typedef struct {
    const char *fmt;
    int width;
    int summarize;
} pfmt;

static int fmt_value(char *buf, size_t n, const pfmt *f, float v)
{
    if (isnan(v)) return snprintf(buf, n, "%*s", f->width, "nan");
    if (isinf(v)) return snprintf(buf, n, "%*s", f->width, v > 0 ? "inf" : "-inf");
    return snprintf(buf, n, f->fmt, f->width, (double)v);
}

static void print_rec(luaL_Buffer *b, const gl_tensor *t, int d, int64_t off, const pfmt *f, int indent)
{
    int64_t n = t->shape[d], stride = gl_numel(t->ndim - d - 1, t->shape + d + 1);
    luaL_addchar(b, '[');
    for (int64_t i = 0; i < n; i++) {
        if (f->summarize && n > 6 && i == 3) {
            if (d == t->ndim - 1) luaL_addstring(b, "..., ");
            else {
                luaL_addstring(b, "...,\n");
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            }
            i = n - 3;
        }
        if (d == t->ndim - 1) {
            char s[64];
            fmt_value(s, sizeof s, f, t->data[off + i]);
            luaL_addstring(b, s);
        } else {
            print_rec(b, t, d + 1, off + i * stride, f, indent + 1);
        }
        if (i < n - 1) {
            luaL_addchar(b, ',');
            if (d == t->ndim - 1) luaL_addchar(b, ' ');
            else {
                for (int k = d; k < t->ndim - 1; k++) luaL_addchar(b, '\n');
                for (int k = 0; k < indent + 1; k++) luaL_addchar(b, ' ');
            }
        }
    }
    luaL_addchar(b, ']');
}

static int m_tostring(lua_State *L)
{
    gl_ud *u = gl_lua_test_ud(L, 1);
    if (!u) return luaL_typeerror(L, 1, "Tensor");
    if (!u->t) {
        lua_pushliteral(L, "tensor(<closed>)");
        return 1;
    }
    gl_tensor *t = u->t;
    pfmt f = {"%*.4f", 0, t->numel > 1000};
    int integral = 1;
    double amax = 0, amin_nz = INFINITY;
    for (int64_t i = 0; i < t->numel; i++) {
        float v = t->data[i];
        if (!isfinite(v)) continue;
        if (v != floorf(v)) integral = 0;
        double a = fabs(v);
        if (a > amax) amax = a;
        if (a > 0 && a < amin_nz) amin_nz = a;
    }
    if (integral && amax < 1e8) f.fmt = "%*.0f.";
    else if (amax >= 1e5 || (amin_nz < 1e-4 && amin_nz != INFINITY)) f.fmt = "%*.4e";
    int w = 1;
    for (int64_t i = 0; i < t->numel; i++) {
        char s[64];
        pfmt probe = f;
        probe.width = 0;
        int len = fmt_value(s, sizeof s, &probe, t->data[i]);
        if (len > w) w = len;
        if (f.summarize && i > 2000) break;
    }
    f.width = integral && f.fmt[3] == '0' ? w - 1 : w;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "tensor(");
    if (t->ndim == 0) {
        char s[64];
        pfmt g = f;
        g.width = 0;
        fmt_value(s, sizeof s, &g, t->data[0]);
        luaL_addstring(&b, s);
    } else if (t->numel == 0) {
        luaL_addstring(&b, "[]");
    } else {
        print_rec(&b, t, 0, 0, &f, 7);
    }
    char shp[96];
    if (t->ndim > 0) {
        luaL_addstring(&b, ", size=");
        luaL_addstring(&b, gl_tensor_shape_str(t, shp, sizeof shp));
    }
    if (t->grad_fn) {
        luaL_addstring(&b, ", grad_fn=");
        luaL_addstring(&b, gl_tensor_grad_fn_name(t));
    } else if (t->requires_grad) {
        luaL_addstring(&b, ", requires_grad=true");
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

/* x.grad, x.grad_fn, x.is_leaf, x[i]; otherwise the methods */
static int m_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        lua_pop(L, 1);
        const char *k = lua_tostring(L, 2);
        gl_tensor *t = gl_lua_check(L, 1);
        if (strcmp(k, "grad") == 0) {
            if (t->grad) gl_lua_push(L, gl_tensor_retain(t->grad));
            else lua_pushnil(L);
            return 1;
        }
        if (strcmp(k, "grad_fn") == 0) {
            const char *nm = gl_tensor_grad_fn_name(t);
            if (nm) lua_pushstring(L, nm);
            else lua_pushnil(L);
            return 1;
        }
        if (strcmp(k, "is_leaf") == 0) {
            lua_pushboolean(L, t->grad_fn == NULL);
            return 1;
        }
        if (strcmp(k, "data") == 0) { /* PyTorch's x.data: the same storage, no graph (x:detach()) */
            lua_settop(L, 1);
            return m_detach(L);
        }
        if (strcmp(k, "shape") == 0) {
            lua_settop(L, 1);
            return m_size(L);
        }
        return 0; /* nil, like a missing table field */
    }
    if (lua_type(L, 2) == LUA_TNUMBER) {
        gl_tensor *t = gl_lua_check(L, 1);
        if (t->ndim == 0) return gl_lua_errorf(L, "index: a 0-dim tensor cannot be indexed");
        int64_t i = checkpos(L, 2, t->shape[0]);
        PUSH_OP(L, gl_op_select(out, t, 0, i));
        return 1;
    }
    return gl_lua_errorf(L, "index: expected a method name or a position, got %s", luaL_typename(L, 2));
}

static int m_newindex(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "grad") != 0) return gl_lua_errorf(L, "Tensor: cannot set field '%s'", k);
    gl_tensor *g = lua_isnil(L, 3) ? NULL : gl_lua_check(L, 3);
    if (g && !gl_tensor_same_shape(g, t)) {
        char b1[96], b2[96];
        return gl_lua_errorf(L, "grad: a %s gradient for a %s tensor", gl_tensor_shape_str(g, b1, sizeof b1),
                          gl_tensor_shape_str(t, b2, sizeof b2));
    }
    gl_tensor *old = t->grad;
    t->grad = gl_tensor_retain(g);
    gl_tensor_release(old);
    return 0;
}

/* ----------------------------------------------------------------- RNG */

static int t_manual_seed(lua_State *L)
{
    lua_Integer s = luaL_checkinteger(L, 1);
    gl_rng_seed(gl_lua_rng(L), (uint64_t)s);
    return 0;
}

static int t_get_rng_state(lua_State *L)
{
    gl_rng *r = gl_lua_rng(L);
    lua_pushlstring(L, (const char *)r->s, sizeof r->s);
    return 1;
}

static int t_set_rng_state(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    gl_rng *r = gl_lua_rng(L);
    luaL_argcheck(L, n == sizeof r->s, 1, "not an RNG state (expected the 32-byte string get_rng_state returns)");
    uint64_t tmp[4];
    memcpy(tmp, s, sizeof tmp);
    luaL_argcheck(L, tmp[0] | tmp[1] | tmp[2] | tmp[3], 1, "an all-zero state is invalid");
    memcpy(r->s, tmp, sizeof tmp);
    return 0;
}

/* randperm(n): a random permutation of 1..n (floats) */
static int t_randperm(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= (1 << 24), 1, "n must be in 0..2^24");
    int64_t *idx = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(n ? n : 1), 0);
    gl_rng_permutation(gl_lua_rng(L), n, idx);
    int64_t nn = n;
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_tensor_new(&u->t, 1, &nn));
    for (int64_t i = 0; i < nn; i++) u->t->data[i] = (float)(idx[i] + 1);
    gl_lua_account(L);
    return 1;
}

static int t_is_tensor(lua_State *L)
{
    lua_pushboolean(L, gl_lua_test_ud(L, 1) != NULL);
    return 1;
}

static int t_set_num_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be in 1..1024");
    gl_set_num_threads((int)n);
    return 0;
}

static int t_get_num_threads(lua_State *L)
{
    lua_pushinteger(L, gl_get_num_threads());
    return 1;
}

static int t_memory(lua_State *L)
{
    gl_mem_stats s;
    gl_mem_get_stats(&s);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)s.live_bytes);
    lua_setfield(L, -2, "live_bytes");
    lua_pushinteger(L, (lua_Integer)s.cached_bytes);
    lua_setfield(L, -2, "cached_bytes");
    lua_pushinteger(L, (lua_Integer)s.peak_bytes);
    lua_setfield(L, -2, "peak_bytes");
    lua_pushinteger(L, (lua_Integer)s.n_malloc);
    lua_setfield(L, -2, "mallocs");
    lua_pushinteger(L, (lua_Integer)s.n_alloc);
    lua_setfield(L, -2, "allocs");
    return 1;
}

/* Flat element access for gradcheck and tests: tensor._get(x, i),
 * tensor._set(x, i, v) with 1-based flat i; tensor._dot(a, b) sums a*b in
 * double precision. Not recorded by autograd. */
static int64_t flat_index(lua_State *L, gl_tensor *t, int arg)
{
    lua_Integer i = luaL_checkinteger(L, arg);
    luaL_argcheck(L, i >= 1 && i <= t->numel, arg, "flat index out of range");
    return (int64_t)i - 1;
}
static int t_get(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    lua_pushnumber(L, t->data[flat_index(L, t, 2)]);
    return 1;
}
static int t_set(lua_State *L)
{
    gl_tensor *t = gl_lua_check(L, 1);
    int64_t i = flat_index(L, t, 2);
    t->data[i] = (float)luaL_checknumber(L, 3);
    gl_tensor_bump(t);
    return 0;
}
static int t_dot(lua_State *L)
{
    gl_tensor *a = gl_lua_check(L, 1), *b = gl_lua_check(L, 2);
    double s = 0;
    gl_lua_check_status(L, gl_tensor_dot(&s, a, b));
    lua_pushnumber(L, s);
    return 1;
}

/* tensor._bce_with_logits(x, t): losses.bce_with_logits's elementwise
 * loss as one op; t a number or a Tensor (its shape is losses.lua's check) */
static int t_bce_with_logits(lua_State *L)
{
    gl_tensor *x = gl_lua_check(L, 1), *t = NULL;
    float tv = 0.0f;
    if (lua_type(L, 2) == LUA_TNUMBER) tv = (float)lua_tonumber(L, 2);
    else t = gl_lua_check(L, 2);
    PUSH_OP(L, gl_op_bce_logits(out, x, t, tv));
    return 1;
}

/* ---------------------------------------------------------------- tables */

/* Methods; each is also a function of the module (tensor.exp(x)). */
static const luaL_Reg methods[] = {
    {"size", m_size}, {"dim", m_dim}, {"numel", m_numel}, {"item", m_item}, {"totable", m_totable},
    {"clone", m_clone}, {"contiguous", m_contiguous},
    {"copy_", m_copy_}, {"fill_", m_fill_}, {"index_fill_", m_index_fill_}, {"index_copy_", m_index_copy_}, {"zero_", m_zero_}, {"normal_", m_normal_}, {"uniform_", m_uniform_},
    {"add_", m_add_}, {"sub_", m_sub_}, {"mul_", m_mul_}, {"div_", m_div_}, {"clamp_", m_clamp_},
    {"reshape", m_reshape}, {"view", m_reshape}, {"flatten", m_flatten}, {"squeeze", m_squeeze},
    {"unsqueeze", m_unsqueeze}, {"t", m_t}, {"transpose", m_transpose}, {"permute", m_permute},
    {"narrow", m_narrow}, {"select", m_select}, {"index_select", m_index_select}, {"expand", m_expand},
    {"add", m_add}, {"sub", m_sub}, {"mul", m_mul}, {"div", m_div}, {"pow", m_pow},
    {"maximum", m_maximum}, {"minimum", m_minimum}, {"neg", m_neg},
    {"exp", m_exp}, {"log", m_log}, {"sqrt", m_sqrt}, {"abs", m_abs}, {"sign", m_sign},
    {"sigmoid", m_sigmoid}, {"tanh", m_tanh}, {"relu", m_relu}, {"erf", m_erf}, {"leaky_relu", m_leaky_relu},
    {"softplus", m_softplus}, {"clamp", m_clamp},
    {"eq", m_eq}, {"ne", m_ne}, {"lt", m_lt}, {"le", m_le}, {"gt", m_gt}, {"ge", m_ge},
    {"sum", m_sum}, {"mean", m_mean}, {"max", m_max}, {"min", m_min}, {"argmax", m_argmax},
    {"argmin", m_argmin}, {"var", m_var}, {"std", m_std}, {"norm", m_norm}, {"logsumexp", m_logsumexp},
    {"softmax", m_softmax}, {"log_softmax", m_log_softmax}, {"matmul", m_matmul},
    {"requires_grad", m_requires_grad}, {"is_requires_grad", m_is_requires_grad}, {"detach", m_detach},
    {"backward", m_backward},
    {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div}, {"__pow", m_pow},
    {"__unm", m_unm}, {"__len", m_len}, {"__tostring", m_tostring},
    {"__newindex", m_newindex}, {NULL, NULL}};

static const luaL_Reg module_fns[] = {
    {"empty", t_empty}, {"zeros", t_zeros}, {"ones", t_ones}, {"full", t_full}, {"rand", t_rand},
    {"randn", t_randn}, {"randint", t_randint}, {"randperm", t_randperm}, {"arange", t_arange}, {"linspace", t_linspace},
    {"eye", t_eye}, {"from", t_from}, {"one_hot", t_one_hot}, {"cat", t_cat}, {"stack", t_stack},
    {"manual_seed", t_manual_seed}, {"get_rng_state", t_get_rng_state}, {"set_rng_state", t_set_rng_state},
    {"is_tensor", t_is_tensor}, {"set_num_threads", t_set_num_threads}, {"get_num_threads", t_get_num_threads},
    {"memory", t_memory}, {"_get", t_get}, {"_set", t_set}, {"_dot", t_dot}, {"_bce_with_logits", t_bce_with_logits}, {NULL, NULL}};

int luaopen_ganlua_tensor(lua_State *L)
{
    lua_gc(L, LUA_GCGEN, 0, 0); /* see gl_lua_account */
    gl_lua_init_rng(L);

    luaL_newlib(L, module_fns);          /* module */
    luaL_newlib(L, methods);             /* module, methods */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");      /* module.methods, for help and extension */
    for (const luaL_Reg *r = methods; r->name; r++) { /* module.exp = method */
        lua_getfield(L, -1, r->name);
        lua_setfield(L, -3, r->name);
    }
    if (luaL_newmetatable(L, GL_TENSOR_MT)) { /* module, methods, mt */
        luaL_setfuncs(L, metamethods, 0);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, m_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "Tensor");
        lua_setfield(L, -2, "__name");
        /* the finaliser runs once per tensor: it gets the metatable as an
         * upvalue instead of looking it up in the registry */
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, m_gc, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__gc");
        lua_setfield(L, -2, "__close");
    }
    gl_lua_set_tensor_mt(L, -1);
    lua_pop(L, 2);
    if (luaL_newmetatable(L, GL_SIZE_MT)) {
        lua_pushcfunction(L, size_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, size_eq);
        lua_setfield(L, -2, "__eq");
        lua_pushliteral(L, "Size");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    return 1;
}
