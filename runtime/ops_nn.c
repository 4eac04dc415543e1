/* ops_nn.c — the fused layer primitives: linear, and the convolution
 * family.
 *
 * Convolution is three ops that are each other's adjoints (same stride,
 * padding, dilation), which is what makes every order of derivative work:
 *   A  conv2d(x, W)            x: N x C x H x W,  W: O x C x KH x KW
 *   B  conv2d_tr(g, W, H, W)   g: N x O x HO x WO -> N x C x H x W
 *   C  conv2d_wgrad(x, g)      -> O x C x KH x KW
 * with  dA/dx = B(G, W), dA/dW = C(x, G);  dB/dg = A(Y, W), dB/dW = C(Y, g);
 *       dC/dx = B(g, Z), dC/dg = A(x, Z).
 * nn.ConvTranspose2d's forward is B (its weight is C_in x C_out x KH x KW,
 * the layout of A's W with O = C_in). The kernels are oneDNN's
 * (conv_dnnl.c); this file checks shapes and records the graph. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- linear */

/* y = act(x W^T + b);  x: N x IN, W: O x IN, b: O (or NULL) -> N x O,
 * act the identity or a leaky relu of slope >= 0 (relu at 0);
 * with g' = g act'(y):  dx = g' W,  dW = g'^T x,  db = sum_rows g'.
 * act' is read off the output (y > 0 exactly where the product is), so
 * the product itself is never kept: fused, a toy MLP's Linear + ReLU is
 * one allocation and one pass fewer each way. */
GL_CLONES static void act_inplace(float *restrict y, int64_t n, float slope)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : slope * y[i];
}

GL_CLONES static void act_grad(float *restrict r, const float *restrict g, const float *restrict y, int64_t n, float slope)
{
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        r[i] = y[i] > 0.0f ? gi : slope * gi;
    }
}

static gl_status linear_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    gl_tensor *x = NULL, *w = NULL, *y = NULL, *ga = NULL, *mask = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &x)) || (st = gl_node_saved(n, 1, &w))) goto out;
    if (n->i[0]) { /* the activation's gradient first: g' */
        float slope = n->f[0];
        if ((st = gl_node_saved(n, 2, &y))) goto out;
        if (!gl_grad_enabled()) {
            if ((st = gl_tensor_new_like(&ga, g))) goto out;
            act_grad(ga->data, g->data, y->data, g->numel, slope);
        } else { /* g times a constant mask, from differentiable ops */
            if ((st = gl_tensor_new_like(&mask, y))) goto out;
            for (int64_t i = 0; i < y->numel; i++) mask->data[i] = y->data[i] > 0.0f ? 1.0f : slope;
            if ((st = gl_op_mul(&ga, g, mask))) goto out;
        }
        g = ga;
    }
    if (needs[0] && (st = gl_op_matmul_t(&gin[0], g, w, 0, 0))) goto out;
    if (needs[1] && (st = gl_op_matmul_t(&gin[1], g, x, 1, 0))) goto out;
    if (n->n_in > 2 && needs[2]) st = gl_op_sum_dim(&gin[2], g, 0, 0);
out:
    gl_tensor_release(x);
    gl_tensor_release(w);
    gl_tensor_release(y);
    gl_tensor_release(ga);
    gl_tensor_release(mask);
    return st;
}

gl_status gl_op_linear(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b)
{
    return gl_op_linear_act(out, x, w, b, 0, 0.0f);
}

gl_status gl_op_linear_act(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b, int act, float slope)
{
    if (act && !(slope >= 0.0f))
        return gl_fail(GL_ERR_ARG, "linear: a fused activation's slope must be >= 0, got %g", (double)slope);
    char b1[96], b2[96];
    if (w->ndim != 2)
        return gl_fail(GL_ERR_SHAPE, "linear: weight must be 2-D (out x in), got %s", gl_tensor_shape_str(w, b1, sizeof b1));
    if (x->ndim != 2 || x->shape[1] != w->shape[1])
        return gl_fail(GL_ERR_SHAPE, "linear: input %s has %lld features, weight %s expects %lld",
                       gl_tensor_shape_str(x, b1, sizeof b1), (long long)(x->ndim ? x->shape[x->ndim - 1] : 0),
                       gl_tensor_shape_str(w, b2, sizeof b2), (long long)w->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return gl_fail(GL_ERR_SHAPE, "linear: bias %s does not match %lld outputs", gl_tensor_shape_str(b, b1, sizeof b1),
                       (long long)w->shape[0]);
    int64_t N = x->shape[0], IN = x->shape[1], O = w->shape[0];
    int64_t shape[2] = {N, O};
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, 2, shape));
    float beta = 0.0f;
    if (b) {
        if (O <= 8) /* a few outputs (a D's logit): a loop, not a memcpy per row */
            for (int64_t r = 0; r < N; r++)
                for (int64_t j = 0; j < O; j++) o->data[r * O + j] = b->data[j];
        else
            for (int64_t r = 0; r < N; r++) memcpy(o->data + r * O, b->data, sizeof(float) * (size_t)O);
        beta = 1.0f;
    }
    if (N && O) {
        if (IN) gl_sgemm(0, 1, N, O, IN, 1.0f, x->data, IN, w->data, IN, beta, o->data, O);
        else if (!b) memset(o->data, 0, sizeof(float) * (size_t)(N * O));
    }
    if (act) act_inplace(o->data, o->numel, slope);
    gl_status st;
    gl_tensor *ins[3] = {x, w, b};
    gl_node *nd = gl_record(&st, act ? GL_OP_LINEAR_ACT : GL_OP_LINEAR, linear_backward, o, b ? 3 : 2, ins);
    if (st) { gl_tensor_release(o); return st; }
    if (nd) {
        nd->i[0] = act;
        nd->f[0] = slope;
        gl_node_save(nd, x, 0);
        gl_node_save(nd, w, 0);
        if (act) gl_node_save(nd, o, 1);
    }
    *out = o;
    return GL_OK;
}

/* ----------------------------------------------------------- convolution */

static gl_status conv_params_check(const char *fn, const gl_conv_params *p)
{
    if (p->stride[0] < 1 || p->stride[1] < 1 || p->dilation[0] < 1 || p->dilation[1] < 1 || p->padding[0] < 0 ||
        p->padding[1] < 0)
        return gl_fail(GL_ERR_ARG, "%s: stride and dilation must be >= 1 and padding >= 0", fn);
    return GL_OK;
}

static void set_params(gl_conv_geom *g, const gl_conv_params *p)
{
    g->sh = p->stride[0]; g->sw = p->stride[1];
    g->ph = p->padding[0]; g->pw = p->padding[1];
    g->dh = p->dilation[0]; g->dw = p->dilation[1];
}

/* the map size conv2d makes of g's image and kernel; 0 when the kernel
 * (with padding and dilation) does not fit */
static int map_size(const gl_conv_geom *g, int64_t *HO, int64_t *WO)
{
    int64_t eh = g->H + 2 * g->ph - g->dh * (g->KH - 1) - 1, ew = g->W + 2 * g->pw - g->dw * (g->KW - 1) - 1;
    if (g->H < 1 || g->W < 1 || eh < 0 || ew < 0) return 0;
    *HO = eh / g->sh + 1;
    *WO = ew / g->sw + 1;
    return 1;
}

static void set_node_params(gl_node *nd, const gl_conv_params *p)
{
    nd->i[0] = p->stride[0]; nd->i[1] = p->stride[1];
    nd->i[2] = p->padding[0]; nd->i[3] = p->padding[1];
    nd->extra_shape[0] = p->dilation[0];
    nd->extra_shape[1] = p->dilation[1];
}

static gl_conv_params node_params(const gl_node *nd)
{
    gl_conv_params p = {{nd->i[0], nd->i[1]}, {nd->i[2], nd->i[3]}, {nd->extra_shape[0], nd->extra_shape[1]}};
    return p;
}

static gl_status conv_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs);

/* runs the kernel into a new tensor of the given shape and records the op */
static gl_status conv_op(gl_tensor **out, gl_op op, gl_conv_kind kind, const gl_conv_geom *g, gl_tensor *a, gl_tensor *b,
                         const int64_t shape[4], const gl_conv_params *p)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, 4, shape));
    gl_status st = gl_conv_run(kind, g, a->data, b->data, o->data);
    if (st) { gl_tensor_release(o); return st; }
    gl_tensor *ins[2] = {a, b};
    gl_node *nd = gl_record(&st, op, conv_backward, o, 2, ins);
    if (st) { gl_tensor_release(o); return st; }
    if (nd) {
        set_node_params(nd, p);
        gl_node_save(nd, a, 0);
        gl_node_save(nd, b, 0);
    }
    *out = o;
    return GL_OK;
}

/* A: the map (N x O x HO x WO) of images x (N x C x H x W) under filters w */
gl_status gl_op_conv2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p)
{
    char b1[96], b2[96];
    GL_TRY(conv_params_check("conv2d", p));
    if (x->ndim != 4 || w->ndim != 4)
        return gl_fail(GL_ERR_SHAPE, "conv2d: input %s and weight %s must both be 4-D (N x C x H x W, O x C x KH x KW)",
                       gl_tensor_shape_str(x, b1, sizeof b1), gl_tensor_shape_str(w, b2, sizeof b2));
    if (x->shape[1] != w->shape[1])
        return gl_fail(GL_ERR_SHAPE, "conv2d: input %s has %lld channels, weight %s expects %lld",
                       gl_tensor_shape_str(x, b1, sizeof b1), (long long)x->shape[1],
                       gl_tensor_shape_str(w, b2, sizeof b2), (long long)w->shape[1]);
    gl_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2], w->shape[3], 0, 0, 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    if (!map_size(&g, &g.HO, &g.WO))
        return gl_fail(GL_ERR_SHAPE, "conv2d: input %s is smaller than the %lldx%lld kernel (with padding and dilation)",
                       gl_tensor_shape_str(x, b1, sizeof b1), (long long)g.KH, (long long)g.KW);
    int64_t shape[4] = {g.N, g.O, g.HO, g.WO};
    return conv_op(out, GL_OP_CONV2D, GL_CONV_FWD, &g, x, w, shape, p);
}

gl_status gl_op_conv_transpose2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p,
                                 const int64_t op[2])
{
    char b1[96], b2[96];
    GL_TRY(conv_params_check("conv_transpose2d", p));
    if (x->ndim != 4 || w->ndim != 4)
        return gl_fail(GL_ERR_SHAPE, "conv_transpose2d: input %s and weight %s must both be 4-D",
                       gl_tensor_shape_str(x, b1, sizeof b1), gl_tensor_shape_str(w, b2, sizeof b2));
    for (int i = 0; i < 2; i++)
        if (op[i] < 0 || (op[i] >= p->stride[i] && op[i] >= p->dilation[i]))
            return gl_fail(GL_ERR_ARG, "conv_transpose2d: output_padding (%lld) must be >= 0 and smaller than stride (%lld) "
                           "or dilation (%lld)", (long long)op[i], (long long)p->stride[i], (long long)p->dilation[i]);
    int64_t H = (x->shape[2] - 1) * p->stride[0] - 2 * p->padding[0] + p->dilation[0] * (w->shape[2] - 1) + 1 + op[0];
    int64_t W = (x->shape[3] - 1) * p->stride[1] - 2 * p->padding[1] + p->dilation[1] * (w->shape[3] - 1) + 1 + op[1];
    return gl_op_conv2d_tr(out, x, w, H, W, p);
}

/* B: y (N x C x H x W) = adjoint of conv2d applied to gm (N x O x HO x WO) */
gl_status gl_op_conv2d_tr(gl_tensor **out, gl_tensor *gm, gl_tensor *w, int64_t H, int64_t W, const gl_conv_params *p)
{
    char b1[96], b2[96];
    GL_TRY(conv_params_check("conv_transpose2d", p));
    if (gm->ndim != 4 || w->ndim != 4)
        return gl_fail(GL_ERR_SHAPE, "conv_transpose2d: input %s and weight %s must both be 4-D",
                       gl_tensor_shape_str(gm, b1, sizeof b1), gl_tensor_shape_str(w, b2, sizeof b2));
    if (gm->shape[1] != w->shape[0])
        return gl_fail(GL_ERR_SHAPE, "conv_transpose2d: input %s has %lld channels, weight %s expects %lld",
                       gl_tensor_shape_str(gm, b1, sizeof b1), (long long)gm->shape[1],
                       gl_tensor_shape_str(w, b2, sizeof b2), (long long)w->shape[0]);
    gl_conv_geom g = {gm->shape[0], w->shape[1], H, W, w->shape[0], w->shape[2], w->shape[3], gm->shape[2], gm->shape[3], 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    /* the map size H, W must be one that conv2d takes to HO, WO */
    int64_t HO, WO;
    if (!map_size(&g, &HO, &WO) || HO != g.HO || WO != g.WO)
        return gl_fail(GL_ERR_SHAPE, "conv_transpose2d: output size %lldx%lld is not reachable from input %s",
                       (long long)H, (long long)W, gl_tensor_shape_str(gm, b1, sizeof b1));
    int64_t shape[4] = {g.N, g.C, H, W};
    return conv_op(out, GL_OP_CONV2D_TR, GL_CONV_BWD_DATA, &g, gm, w, shape, p);
}

/* C: dW (O x C x KH x KW) from images x (N x C x H x W) and maps gm (N x O x HO x WO) */
gl_status gl_op_conv2d_wgrad(gl_tensor **out, gl_tensor *x, gl_tensor *gm, int64_t KH, int64_t KW, const gl_conv_params *p)
{
    char b1[96], b2[96];
    GL_TRY(conv_params_check("conv2d_wgrad", p));
    if (x->ndim != 4 || gm->ndim != 4 || x->shape[0] != gm->shape[0])
        return gl_fail(GL_ERR_SHAPE, "conv2d_wgrad: images %s and maps %s do not match",
                       gl_tensor_shape_str(x, b1, sizeof b1), gl_tensor_shape_str(gm, b2, sizeof b2));
    gl_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], gm->shape[1], KH, KW, gm->shape[2], gm->shape[3], 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    int64_t HO, WO;
    if (KH < 1 || KW < 1 || !map_size(&g, &HO, &WO) || HO != g.HO || WO != g.WO)
        return gl_fail(GL_ERR_SHAPE, "conv2d_wgrad: maps %s do not match images %s",
                       gl_tensor_shape_str(gm, b1, sizeof b1), gl_tensor_shape_str(x, b2, sizeof b2));
    int64_t shape[4] = {g.O, g.C, KH, KW};
    return conv_op(out, GL_OP_CONV2D_WGRAD, GL_CONV_BWD_WEIGHTS, &g, x, gm, shape, p);
}

static gl_status conv_backward(gl_node *n, gl_tensor *G, gl_tensor **gin, const unsigned char *needs)
{
    gl_conv_params p = node_params(n);
    gl_tensor *a = NULL, *b = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &a)) || (st = gl_node_saved(n, 1, &b))) goto out;
    switch (n->op) {
    case GL_OP_CONV2D: /* a = x, b = W */
        if (needs[0] && (st = gl_op_conv2d_tr(&gin[0], G, b, a->shape[2], a->shape[3], &p))) goto out;
        if (needs[1]) st = gl_op_conv2d_wgrad(&gin[1], a, G, b->shape[2], b->shape[3], &p);
        break;
    case GL_OP_CONV2D_TR: /* a = maps g, b = W; G has the image shape */
        if (needs[0] && (st = gl_op_conv2d(&gin[0], G, b, &p))) goto out;
        if (needs[1]) st = gl_op_conv2d_wgrad(&gin[1], G, a, b->shape[2], b->shape[3], &p);
        break;
    default: /* GL_OP_CONV2D_WGRAD: a = x, b = maps; G has the weight shape */
        if (needs[0] && (st = gl_op_conv2d_tr(&gin[0], b, G, a->shape[2], a->shape[3], &p))) goto out;
        if (needs[1]) st = gl_op_conv2d(&gin[1], a, G, &p);
        break;
    }
out:
    gl_tensor_release(a);
    gl_tensor_release(b);
    return st;
}
