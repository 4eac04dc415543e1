/* bindings/autograd.c — the C half of the `autograd` module: backward over
 * several outputs, grad, and grad-mode switches. gradcheck lives in
 * stdlib/autograd.lua on top of these. */
#include "bindings.h"

#include <string.h>

/* A tensor or a list of tensors at arg, as a scratch array (userdata left
 * on the stack). *single says whether a bare tensor was given. */
static gl_tensor **tensor_list(lua_State *L, int arg, int *n, int *single, const char *what)
{
    if (gl_lua_test(L, arg)) {
        gl_tensor **xs = lua_newuserdatauv(L, sizeof(gl_tensor *), 0);
        xs[0] = gl_lua_check(L, arg);
        *n = 1;
        *single = 1;
        return xs;
    }
    if (!lua_istable(L, arg))
        gl_lua_argerror(L, arg, lua_pushfstring(L, "expected a Tensor or a list of Tensors as %s", what));
    gl_tensor **xs = gl_lua_tensor_list(L, arg, n, lua_pushfstring(L, "%s entry", what));
    *single = 0;
    return xs;
}

/* grad_outputs from opts (a tensor or list matching the outputs), or NULL */
static gl_tensor **grad_outputs(lua_State *L, int opts, int n_out)
{
    if (!lua_istable(L, opts)) return NULL;
    lua_getfield(L, opts, "grad_outputs");
    int gi = lua_gettop(L);
    if (lua_isnil(L, gi)) return NULL;
    int n, single;
    gl_tensor **gs = tensor_list(L, gi, &n, &single, "grad_outputs");
    if (n != n_out) gl_lua_errorf(L, "autograd: %d grad_outputs for %d outputs", n, n_out);
    return gs;
}

/* autograd.backward(outputs [, grads] [, opts]) */
static int a_backward(lua_State *L)
{
    lua_settop(L, 3); /* tensor_list pushes scratch arrays above the arguments */
    int n, single;
    gl_tensor **outs = tensor_list(L, 1, &n, &single, "outputs");
    gl_tensor **gs = NULL;
    int opts = 3;
    if (!lua_isnoneornil(L, 2) && !(lua_istable(L, 2) && !gl_lua_test(L, 2) && luaL_len(L, 2) == 0)) {
        int m, s2;
        gs = tensor_list(L, 2, &m, &s2, "grads");
        if (m != n) return gl_lua_errorf(L, "autograd.backward: %d gradients for %d outputs", m, n);
    } else if (lua_istable(L, 2)) {
        opts = 2;
    }
    static const char *const keys[] = {"create_graph", "retain_graph", NULL};
    gl_lua_check_options(L, opts, "autograd.backward", keys);
    int create = gl_lua_opt_boolean(L, opts, "create_graph", 0);
    int retain = gl_lua_opt_boolean(L, opts, "retain_graph", create);
    gl_lua_check_status(L, gl_autograd_backward(outs, gs, n, retain, create));
    gl_lua_account(L);
    return 0;
}

/* autograd.grad(outputs, inputs [, {create_graph=, retain_graph=,
 * grad_outputs=, allow_unused=}]) -> gradients, in the form of inputs */
static int a_grad(lua_State *L)
{
    lua_settop(L, 3);
    int n_out, n_in, s1, single;
    gl_tensor **outs = tensor_list(L, 1, &n_out, &s1, "outputs");
    gl_tensor **ins = tensor_list(L, 2, &n_in, &single, "inputs");
    static const char *const keys[] = {"create_graph", "retain_graph", "grad_outputs", "allow_unused", NULL};
    gl_lua_check_options(L, 3, "autograd.grad", keys);
    int create = gl_lua_opt_boolean(L, 3, "create_graph", 0);
    int retain = gl_lua_opt_boolean(L, 3, "retain_graph", create);
    int allow_unused = gl_lua_opt_boolean(L, 3, "allow_unused", 0);
    gl_tensor **gs = grad_outputs(L, 3, n_out);
    /* result userdata first, so a failure leaks nothing */
    int base = lua_gettop(L);
    gl_tensor **res = lua_newuserdatauv(L, sizeof(gl_tensor *) * (size_t)(n_in ? n_in : 1), 0);
    gl_lua_check_status(L, gl_autograd_grad(outs, gs, n_out, ins, n_in, res, retain, create));
    /* hand the references to userdata at once */
    for (int k = 0; k < n_in; k++) {
        if (res[k]) gl_lua_push(L, res[k]);
        else lua_pushnil(L);
        res[k] = NULL;
    }
    for (int k = 0; k < n_in; k++)
        if (lua_isnil(L, base + 2 + k) && !allow_unused)
            return gl_lua_errorf(L, "autograd.grad: input %d is not reachable from the outputs "
                                 "(pass allow_unused = true to get nil)", k + 1);
    gl_lua_account(L);
    if (single) return 1;
    lua_createtable(L, n_in, 0);
    for (int k = 0; k < n_in; k++) {
        lua_pushvalue(L, base + 2 + k);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* Run f(...) with grad mode set to on, restoring it even if f raises. */
static int with_mode(lua_State *L, int on)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 1;
    int prev = gl_set_grad_enabled(on);
    int st = lua_pcall(L, nargs, LUA_MULTRET, 0);
    gl_set_grad_enabled(prev);
    if (st != LUA_OK) return lua_error(L);
    return lua_gettop(L);
}
static int a_no_grad(lua_State *L) { return with_mode(L, 0); }
static int a_enable_grad(lua_State *L) { return with_mode(L, 1); }

static int a_is_grad_enabled(lua_State *L)
{
    lua_pushboolean(L, gl_grad_enabled());
    return 1;
}

static int a_set_grad_enabled(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, gl_set_grad_enabled(lua_toboolean(L, 1)));
    return 1;
}

static const luaL_Reg fns[] = {
    {"backward", a_backward}, {"grad", a_grad}, {"no_grad", a_no_grad}, {"enable_grad", a_enable_grad},
    {"is_grad_enabled", a_is_grad_enabled}, {"set_grad_enabled", a_set_grad_enabled}, {NULL, NULL}};

int luaopen_ganlua_autograd(lua_State *L)
{
    luaL_newlib(L, fns);
    return 1;
}
