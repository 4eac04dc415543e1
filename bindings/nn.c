/* bindings/nn.c — the C half of `nn` and `optim`: fused layer ops and the
 * optimizer updates. The module classes around them are stdlib/nn.lua and
 * stdlib/optim.lua. */
#include "bindings.h"

#include <string.h>

/* A number or a pair {h, w} from opts[key] (default def); the runtime
 * judges the values */
static void pair_opt(lua_State *L, int opts, const char *key, int64_t def, int64_t out[2])
{
    out[0] = out[1] = def;
    if (!lua_istable(L, opts)) return;
    int t = lua_getfield(L, opts, key);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
        out[0] = out[1] = lua_tointeger(L, -1);
    } else if (t == LUA_TTABLE) {
        for (int i = 0; i < 2; i++) {
            lua_geti(L, -1, i + 1);
            if (!lua_isinteger(L, -1)) gl_lua_errorf(L, "%s must be an integer or a pair of integers", key);
            out[i] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        gl_lua_errorf(L, "%s must be an integer or a pair of integers, got %s", key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

static gl_conv_params conv_opts(lua_State *L, int opts)
{
    gl_conv_params p;
    pair_opt(L, opts, "stride", 1, p.stride);
    pair_opt(L, opts, "padding", 0, p.padding);
    pair_opt(L, opts, "dilation", 1, p.dilation);
    return p;
}

/* linear(x, W [, b]) */
/* linear(x, W [, b [, slope]]): with slope, a leaky relu of that slope
 * (relu at 0) fused after the product (nn.Sequential's Linear + ReLU) */
static int n_linear(lua_State *L)
{
    gl_tensor *x = gl_lua_check(L, 1), *w = gl_lua_check(L, 2);
    gl_tensor *b = lua_isnoneornil(L, 3) ? NULL : gl_lua_check(L, 3);
    int act = !lua_isnoneornil(L, 4);
    float slope = act ? (float)luaL_checknumber(L, 4) : 0.0f;
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_linear_act(&u->t, x, w, b, act, slope));
    gl_lua_account(L);
    return 1;
}

/* conv2d(x, W [, opts]) — no bias */
static int n_conv2d(lua_State *L)
{
    gl_tensor *x = gl_lua_check(L, 1), *w = gl_lua_check(L, 2);
    gl_conv_params p = conv_opts(L, 3);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_conv2d(&u->t, x, w, &p));
    gl_lua_account(L);
    return 1;
}

/* conv_transpose2d(x, W [, opts with output_padding]) — no bias;
 * W: C_in x C_out x KH x KW */
static int n_conv_transpose2d(lua_State *L)
{
    gl_tensor *x = gl_lua_check(L, 1), *w = gl_lua_check(L, 2);
    gl_conv_params p = conv_opts(L, 3);
    int64_t op[2];
    pair_opt(L, 3, "output_padding", 0, op);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_conv_transpose2d(&u->t, x, w, &p, op));
    gl_lua_account(L);
    return 1;
}

/* batch_norm(x, w, b, eps) -> y, mean, var (w and b may both be nil) */
static int n_batch_norm(lua_State *L)
{
    gl_tensor *x = gl_lua_check(L, 1);
    gl_tensor *w = lua_isnoneornil(L, 2) ? NULL : gl_lua_check(L, 2);
    gl_tensor *b = lua_isnoneornil(L, 3) ? NULL : gl_lua_check(L, 3);
    float eps = (float)luaL_checknumber(L, 4);
    gl_ud *u = gl_lua_newud(L), *m = gl_lua_newud(L), *v = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_batch_norm(&u->t, x, w, b, eps, &m->t, &v->t));
    gl_lua_account(L);
    return 3;
}

/* minibatch_disc(M [, include_self]): M is N x B x C */
static int n_minibatch_disc(lua_State *L)
{
    gl_tensor *m = gl_lua_check(L, 1);
    int self = lua_toboolean(L, 2);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_minibatch_disc(&u->t, m, self));
    gl_lua_account(L);
    return 1;
}

/* weight_norm(v, g): g v / ||v[:, k]|| per column k of v viewed as A x K */
static int n_weight_norm(lua_State *L)
{
    gl_tensor *v = gl_lua_check(L, 1), *g = gl_lua_check(L, 2);
    gl_ud *u = gl_lua_newud(L);
    gl_lua_check_status(L, gl_op_weight_norm(&u->t, v, g));
    gl_lua_account(L);
    return 1;
}

/* frechet(mu1, S1, mu2, S2) -> number */
static int n_frechet(lua_State *L)
{
    gl_tensor *m1 = gl_lua_check(L, 1), *s1 = gl_lua_check(L, 2), *m2 = gl_lua_check(L, 3), *s2 = gl_lua_check(L, 4);
    double d = 0;
    gl_lua_check_status(L, gl_frechet_distance(&d, m1, s1, m2, s2));
    lua_pushnumber(L, d);
    return 1;
}

static gl_tensor *opt_tensor(lua_State *L, int idx) { return lua_isnoneornil(L, idx) ? NULL : gl_lua_check(L, idx); }

/* The update writes parameters in place: it must not be recorded, and a
 * parameter is a leaf that requires grad, so the runtime's in-place guard
 * does not apply here (this is the optimizer's job). */

/* sgd_step(p, g, buf|nil, {lr, momentum, dampening, weight_decay, nesterov}, first) */
static int n_sgd_step(lua_State *L)
{
    gl_tensor *p = gl_lua_check(L, 1), *g = gl_lua_check(L, 2), *buf = opt_tensor(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    gl_sgd_opts o = {(float)gl_lua_opt_number(L, 4, "lr", 0), (float)gl_lua_opt_number(L, 4, "momentum", 0), (float)gl_lua_opt_number(L, 4, "dampening", 0),
                     (float)gl_lua_opt_number(L, 4, "weight_decay", 0), 0};
    lua_getfield(L, 4, "nesterov");
    o.nesterov = lua_toboolean(L, -1);
    lua_pop(L, 1);
    gl_lua_check_status(L, gl_sgd_step(p, g, buf, &o, lua_toboolean(L, 5)));
    return 0;
}

/* adam_step(p, g, m, v, vmax|nil, {lr, beta1, beta2, eps, weight_decay}, step) */
static int n_adam_step(lua_State *L)
{
    gl_tensor *p = gl_lua_check(L, 1), *g = gl_lua_check(L, 2), *m = gl_lua_check(L, 3), *v = gl_lua_check(L, 4);
    gl_tensor *vmax = opt_tensor(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    gl_adam_opts o = {(float)gl_lua_opt_number(L, 6, "lr", 1e-3f), (float)gl_lua_opt_number(L, 6, "beta1", 0.9f), (float)gl_lua_opt_number(L, 6, "beta2", 0.999f),
                      (float)gl_lua_opt_number(L, 6, "eps", 1e-8f), (float)gl_lua_opt_number(L, 6, "weight_decay", 0)};
    gl_lua_check_status(L, gl_adam_step(p, g, m, v, vmax, &o, luaL_checkinteger(L, 7)));
    return 0;
}

/* rmsprop_step(p, g, sq, buf|nil, gavg|nil, {lr, alpha, eps, weight_decay, momentum}) */
static int n_rmsprop_step(lua_State *L)
{
    gl_tensor *p = gl_lua_check(L, 1), *g = gl_lua_check(L, 2), *sq = gl_lua_check(L, 3);
    gl_tensor *buf = opt_tensor(L, 4), *gavg = opt_tensor(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    gl_rmsprop_opts o = {(float)gl_lua_opt_number(L, 6, "lr", 1e-2f), (float)gl_lua_opt_number(L, 6, "alpha", 0.99f), (float)gl_lua_opt_number(L, 6, "eps", 1e-8f),
                         (float)gl_lua_opt_number(L, 6, "weight_decay", 0), (float)gl_lua_opt_number(L, 6, "momentum", 0)};
    gl_lua_check_status(L, gl_rmsprop_step(p, g, sq, buf, gavg, &o));
    return 0;
}

static const luaL_Reg fns[] = {
    {"linear", n_linear}, {"conv2d", n_conv2d}, {"conv_transpose2d", n_conv_transpose2d},
    {"minibatch_disc", n_minibatch_disc}, {"weight_norm", n_weight_norm}, {"batch_norm", n_batch_norm}, {"frechet", n_frechet},
    {"sgd_step", n_sgd_step}, {"adam_step", n_adam_step}, {"rmsprop_step", n_rmsprop_step}, {NULL, NULL}};

int luaopen_ganlua_nn(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
