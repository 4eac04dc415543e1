/* ops_nn.c — the fused layer primitives: linear, and the convolution
 * family on im2col/col2im + sgemm.
 *
 * Convolution is three ops that are each other's adjoints (same stride,
 * padding, dilation), which is what makes every order of derivative work:
 *   A  conv2d(x, W)            x: N x C x H x W,  W: O x C x KH x KW
 *   B  conv2d_tr(g, W, H, W)   g: N x O x HO x WO -> N x C x H x W
 *   C  conv2d_wgrad(x, g)      -> O x C x KH x KW
 * with  dA/dx = B(G, W), dA/dW = C(x, G);  dB/dg = A(Y, W), dB/dW = C(Y, g);
 *       dC/dx = B(g, Z), dC/dg = A(x, Z).
 * nn.ConvTranspose2d's forward is B (its weight is C_in x C_out x KH x KW,
 * the layout of A's W with O = C_in). Scratch buffers come from the
 * allocator's cache, so a training loop does not call malloc. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- linear */

/* y = x W^T + b;  x: N x IN, W: O x IN, b: O (or NULL) -> N x O
 * dx = g W,  dW = g^T x,  db = sum_rows g */
static gl_status linear_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    gl_tensor *x = NULL, *w = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &x)) || (st = gl_node_saved(n, 1, &w))) goto out;
    if (needs[0] && (st = gl_op_matmul_t(&gin[0], g, w, 0, 0))) goto out;
    if (needs[1] && (st = gl_op_matmul_t(&gin[1], g, x, 1, 0))) goto out;
    if (n->n_in > 2 && needs[2]) st = gl_op_sum_dim(&gin[2], g, 0, 0);
out:
    gl_tensor_release(x);
    gl_tensor_release(w);
    return st;
}

gl_status gl_op_linear(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b)
{
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
        for (int64_t r = 0; r < N; r++) memcpy(o->data + r * O, b->data, sizeof(float) * (size_t)O);
        beta = 1.0f;
    }
    if (N && O) {
        if (IN) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)O, (int)IN, 1.0f, x->data, (int)IN, w->data,
                            (int)IN, beta, o->data, (int)O);
        else if (!b) memset(o->data, 0, sizeof(float) * (size_t)(N * O));
    }
    gl_status st;
    gl_tensor *ins[3] = {x, w, b};
    gl_node *nd = gl_record(&st, GL_OP_LINEAR, linear_backward, o, b ? 3 : 2, ins);
    if (st) { gl_tensor_release(o); return st; }
    if (nd) {
        gl_node_save(nd, x, 0);
        gl_node_save(nd, w, 0);
    }
    *out = o;
    return GL_OK;
}

/* ----------------------------------------------------------- convolution */

typedef struct {
    int64_t N, C, H, W;   /* image side */
    int64_t O, KH, KW;    /* filters */
    int64_t HO, WO;       /* map side */
    int64_t sh, sw, ph, pw, dh, dw;
} geom;

static gl_status conv_params_check(const char *fn, const gl_conv_params *p)
{
    if (p->stride[0] < 1 || p->stride[1] < 1 || p->dilation[0] < 1 || p->dilation[1] < 1 || p->padding[0] < 0 ||
        p->padding[1] < 0)
        return gl_fail(GL_ERR_ARG, "%s: stride and dilation must be >= 1 and padding >= 0", fn);
    return GL_OK;
}

static void set_params(geom *g, const gl_conv_params *p)
{
    g->sh = p->stride[0]; g->sw = p->stride[1];
    g->ph = p->padding[0]; g->pw = p->padding[1];
    g->dh = p->dilation[0]; g->dw = p->dilation[1];
}

/* The output columns ow whose input column ow*sw + off lies inside the
 * image: lo <= ow < hi (empty when lo >= hi), so the copy loops need no
 * bounds test. */
static void valid_cols(const geom *g, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
    int64_t h = g->W - off <= 0 ? 0 : (g->W - 1 - off) / g->sw + 1;
    if (h > g->WO) h = g->WO;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* cols[(c*KH + i)*KW + j][n*P + oh*WO + ow] = x[n][c][oh*sh - ph + i*dh][ow*sw - pw + j*dw] */
static void im2col(const geom *g, const float *x, float *cols)
{
    int64_t P = g->HO * g->WO, NP = g->N * P;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < g->KH; i++)
            for (int64_t j = 0; j < g->KW; j++) {
                float *row = cols + ((c * g->KH + i) * g->KW + j) * NP;
                const int64_t sw = g->sw, off = j * g->dw - g->pw;
                int64_t lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t n = 0; n < g->N; n++) {
                    const float *img = x + (n * g->C + c) * g->H * g->W;
                    float *dst = row + n * P;
                    for (int64_t oh = 0; oh < g->HO; oh++) {
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;
                        float *d = dst + oh * g->WO;
                        if (ih < 0 || ih >= g->H) {
                            memset(d, 0, sizeof(float) * (size_t)g->WO);
                            continue;
                        }
                        const float *src = img + ih * g->W;
                        for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0.0f;
                        if (sw == 1 && hi > lo) memcpy(d + lo, src + lo + off, sizeof(float) * (size_t)(hi - lo));
                        else
                            for (int64_t ow = lo; ow < hi; ow++) d[ow] = src[ow * sw + off];
                        for (int64_t ow = hi; ow < g->WO; ow++) d[ow] = 0.0f;
                    }
                }
            }
}

/* the adjoint: x[...] += cols[...] (x zeroed by the caller) */
static void col2im(const geom *g, const float *cols, float *x)
{
    int64_t P = g->HO * g->WO, NP = g->N * P;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < g->KH; i++)
            for (int64_t j = 0; j < g->KW; j++) {
                const float *row = cols + ((c * g->KH + i) * g->KW + j) * NP;
                const int64_t sw = g->sw, off = j * g->dw - g->pw;
                int64_t lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int64_t n = 0; n < g->N; n++) {
                    float *img = x + (n * g->C + c) * g->H * g->W;
                    const float *srcp = row + n * P;
                    for (int64_t oh = 0; oh < g->HO; oh++) {
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;
                        if (ih < 0 || ih >= g->H) continue;
                        float *d = img + ih * g->W;
                        const float *s = srcp + oh * g->WO;
                        for (int64_t ow = lo; ow < hi; ow++) d[ow * sw + off] += s[ow];
                    }
                }
            }
}

/* maps[n][o][p] <-> flat[o][n*P + p] */
static void nchw_to_cnp(const float *src, float *dst, int64_t N, int64_t O, int64_t P)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) memcpy(dst + o * N * P + n * P, src + (n * O + o) * P, sizeof(float) * (size_t)P);
}
static void cnp_to_nchw(const float *src, float *dst, int64_t N, int64_t O, int64_t P)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) memcpy(dst + (n * O + o) * P, src + o * N * P + n * P, sizeof(float) * (size_t)P);
}

/* The two work buffers every convolution op needs, from the allocator's
 * cache: cols (C*KH*KW x N*HO*WO) and maps in channel-major order
 * (O x N*HO*WO). */
typedef struct {
    float *cols, *maps;
    size_t ncols, nmaps;
} work;

static gl_status work_get(work *w, const geom *g, const char *fn, int with_cols)
{
    size_t np = (size_t)(g->N * g->HO * g->WO);
    w->ncols = with_cols ? (size_t)(g->C * g->KH * g->KW) * np : 0;
    w->nmaps = (size_t)g->O * np;
    w->cols = with_cols ? gl_alloc_floats(w->ncols) : NULL;
    w->maps = gl_alloc_floats(w->nmaps);
    if ((w->cols || !with_cols) && w->maps) return GL_OK;
    gl_free_floats(w->cols, w->ncols);
    gl_free_floats(w->maps, w->nmaps);
    return gl_fail(GL_ERR_NOMEM, "%s: out of memory for its work buffers", fn);
}

static void work_put(work *w)
{
    gl_free_floats(w->cols, w->ncols);
    gl_free_floats(w->maps, w->nmaps);
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

/* cols, when given, is conv2d's column matrix of a, kept for the weight
 * gradient of a backward without create_graph (saved third) */
static gl_status record_conv(gl_tensor **out, gl_tensor *o, gl_op op, gl_tensor *a, gl_tensor *b,
                             const gl_conv_params *p, gl_tensor *cols)
{
    gl_status st;
    gl_tensor *ins[2] = {a, b};
    gl_node *nd = gl_record(&st, op, conv_backward, o, 2, ins);
    if (st) { gl_tensor_release(o); return st; }
    if (nd) {
        set_node_params(nd, p);
        gl_node_save(nd, a, 0);
        gl_node_save(nd, b, 0);
        if (cols) gl_node_save(nd, cols, 0);
    }
    *out = o;
    return GL_OK;
}

/* conv2d; with cols_out, x's column matrix is also handed back (NULL when
 * it is empty) for a weight gradient to reuse */
static gl_status conv2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p, gl_tensor **cols_out)
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
    geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[2], w->shape[3], 0, 0, 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    int64_t eh = g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1, ew = g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1;
    if (eh < 0 || ew < 0)
        return gl_fail(GL_ERR_SHAPE, "conv2d: input %s is smaller than the %lldx%lld kernel (with padding and dilation)",
                       gl_tensor_shape_str(x, b1, sizeof b1), (long long)g.KH, (long long)g.KW);
    g.HO = eh / g.sh + 1;
    g.WO = ew / g.sw + 1;
    int64_t shape[4] = {g.N, g.O, g.HO, g.WO};
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, 4, shape));
    int64_t P = g.HO * g.WO, K = g.C * g.KH * g.KW, NP = g.N * P;
    /* When the weight will want its gradient, the column matrix goes into a
     * tensor the node keeps (as PyTorch's THNN convolution kept its
     * "finput"), so a plain backward does not build it a second time. */
    int keep_cols = (cols_out || (gl_grad_enabled() && w->requires_grad)) && K && NP;
    work wk;
    gl_status st;
    if ((st = work_get(&wk, &g, "conv2d", !keep_cols))) {
        gl_tensor_release(o);
        return st;
    }
    gl_tensor *keep = NULL;
    if (keep_cols) {
        int64_t cshape[2] = {K, NP};
        if ((st = gl_tensor_new(&keep, 2, cshape))) {
            work_put(&wk);
            gl_tensor_release(o);
            return st;
        }
    }
    float *cols = keep ? keep->data : wk.cols;
    im2col(&g, x->data, cols);
    /* maps (O x NP) = W (O x K) @ cols (K x NP) */
    if (g.O && NP && K) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.O, (int)NP, (int)K, 1.0f, w->data, (int)K, cols, (int)NP, 0.0f, wk.maps, (int)NP);
    else memset(wk.maps, 0, sizeof(float) * wk.nmaps);
    cnp_to_nchw(wk.maps, o->data, g.N, g.O, P);
    work_put(&wk);
    st = record_conv(out, o, GL_OP_CONV2D, x, w, p, keep);
    if (cols_out && st == GL_OK) *cols_out = keep;
    else gl_tensor_release(keep);
    return st;
}

gl_status gl_op_conv2d(gl_tensor **out, gl_tensor *x, gl_tensor *w, const gl_conv_params *p)
{
    return conv2d(out, x, w, p, NULL);
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
    geom g = {gm->shape[0], w->shape[1], H, W, w->shape[0], w->shape[2], w->shape[3], gm->shape[2], gm->shape[3], 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    /* the map size H, W must be one that conv2d takes to HO, WO */
    int64_t eh = g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1, ew = g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1;
    if (H < 1 || W < 1 || eh < 0 || ew < 0 || eh / g.sh + 1 != g.HO || ew / g.sw + 1 != g.WO)
        return gl_fail(GL_ERR_SHAPE, "conv_transpose2d: output size %lldx%lld is not reachable from input %s",
                       (long long)H, (long long)W, gl_tensor_shape_str(gm, b1, sizeof b1));
    int64_t shape[4] = {g.N, g.C, H, W};
    gl_tensor *o;
    GL_TRY(gl_tensor_zeros(&o, 4, shape));
    int64_t P = g.HO * g.WO, K = g.C * g.KH * g.KW, NP = g.N * P;
    work wk;
    gl_status st;
    if ((st = work_get(&wk, &g, "conv_transpose2d", 1))) {
        gl_tensor_release(o);
        return st;
    }
    nchw_to_cnp(gm->data, wk.maps, g.N, g.O, P);
    /* cols (K x NP) = W^T (K x O) @ maps (O x NP) */
    if (K && NP && g.O) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)NP, (int)g.O, 1.0f, w->data, (int)K, wk.maps, (int)NP, 0.0f, wk.cols, (int)NP);
    else memset(wk.cols, 0, sizeof(float) * wk.ncols);
    col2im(&g, wk.cols, o->data);
    work_put(&wk);
    return record_conv(out, o, GL_OP_CONV2D_TR, gm, w, p, NULL);
}

/* C: dW (O x C x KH x KW) from images x (N x C x H x W) and maps gm (N x O x HO x WO);
 * cached, when given, is x's column matrix from conv2d's forward (K x N*HO*WO) */
static gl_status conv2d_wgrad(gl_tensor **out, gl_tensor *x, gl_tensor *gm, int64_t KH, int64_t KW,
                              const gl_conv_params *p, gl_tensor *cached)
{
    char b1[96], b2[96];
    GL_TRY(conv_params_check("conv2d_wgrad", p));
    if (x->ndim != 4 || gm->ndim != 4 || x->shape[0] != gm->shape[0])
        return gl_fail(GL_ERR_SHAPE, "conv2d_wgrad: images %s and maps %s do not match",
                       gl_tensor_shape_str(x, b1, sizeof b1), gl_tensor_shape_str(gm, b2, sizeof b2));
    geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], gm->shape[1], KH, KW, gm->shape[2], gm->shape[3], 0, 0, 0, 0, 0, 0};
    set_params(&g, p);
    int64_t eh = g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1, ew = g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1;
    if (eh < 0 || ew < 0 || eh / g.sh + 1 != g.HO || ew / g.sw + 1 != g.WO)
        return gl_fail(GL_ERR_SHAPE, "conv2d_wgrad: maps %s do not match images %s",
                       gl_tensor_shape_str(gm, b1, sizeof b1), gl_tensor_shape_str(x, b2, sizeof b2));
    int64_t shape[4] = {g.O, g.C, KH, KW};
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, 4, shape));
    int64_t P = g.HO * g.WO, K = g.C * g.KH * g.KW, NP = g.N * P;
    work wk;
    gl_status st;
    if ((st = work_get(&wk, &g, "conv2d_wgrad", cached == NULL))) {
        gl_tensor_release(o);
        return st;
    }
    const float *cols = wk.cols;
    if (cached) cols = cached->data;
    else im2col(&g, x->data, wk.cols);
    nchw_to_cnp(gm->data, wk.maps, g.N, g.O, P);
    /* dW (O x K) = maps (O x NP) @ cols^T (NP x K) */
    if (g.O && K && NP) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.O, (int)K, (int)NP, 1.0f, wk.maps, (int)NP, cols, (int)NP, 0.0f, o->data, (int)K);
    else memset(o->data, 0, sizeof(float) * (size_t)(g.O * K));
    work_put(&wk);
    return record_conv(out, o, GL_OP_CONV2D_WGRAD, x, gm, p, NULL);
}

gl_status gl_op_conv2d_wgrad(gl_tensor **out, gl_tensor *x, gl_tensor *gm, int64_t KH, int64_t KW, const gl_conv_params *p)
{
    return conv2d_wgrad(out, x, gm, KH, KW, p, NULL);
}

static gl_status conv_backward(gl_node *n, gl_tensor *G, gl_tensor **gin, const unsigned char *needs)
{
    gl_conv_params p = node_params(n);
    gl_tensor *a = NULL, *b = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &a)) || (st = gl_node_saved(n, 1, &b))) goto out;
    switch (n->op) {
    case GL_OP_CONV2D: /* a = x, b = W, and maybe x's column matrix */
        if (needs[0] && (st = gl_op_conv2d_tr(&gin[0], G, b, a->shape[2], a->shape[3], &p))) goto out;
        if (needs[1]) {
            /* the kept columns are a constant: only without create_graph,
             * where the weight gradient records nothing */
            gl_tensor *cols = NULL;
            if (n->n_saved > 2 && !gl_grad_enabled() && (st = gl_node_saved(n, 2, &cols))) goto out;
            st = conv2d_wgrad(&gin[1], a, G, b->shape[2], b->shape[3], &p, cols);
            gl_tensor_release(cols);
        }
        break;
    case GL_OP_CONV2D_TR: /* a = maps g, b = W; G has the image shape */
        if (needs[0] && needs[1] && !gl_grad_enabled()) {
            /* both products need G's column matrix: build it once */
            gl_tensor *cols = NULL;
            if (!(st = conv2d(&gin[0], G, b, &p, &cols)))
                st = conv2d_wgrad(&gin[1], G, a, b->shape[2], b->shape[3], &p, cols);
            gl_tensor_release(cols);
            break;
        }
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
