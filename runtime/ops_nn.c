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

/* ------------------------------------------- minibatch discrimination */

/* exp(x) for x <= 0 in a form the compiler vectorises (libm's expf is a
 * call per element): 2^k p(r) with x = k ln2 + r, |r| <= ln2/2, p a
 * degree-6 Taylor polynomial (relative error < 2e-7 on that range). */
static inline float exp_nonpos(float xin)
{
    /* NaN goes through the polynomial as -87, keeping the int conversion
     * below defined, and comes out as NaN again */
    float x = !(xin >= -87.0f) ? -87.0f : xin;
    x = x > 0.0f ? 0.0f : x;
    /* round to nearest by the 1.5 * 2^23 trick: no libm call, so it vectorises */
    float k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - k * 0.693145752f - k * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f + r * 0.00138888892f)))));
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)k + 127) * (1 << 23)};
    return xin == xin ? p * scale.f : xin;
}

/* Sum with eight independent partial sums: a fixed association order the
 * compiler may vectorise (a plain float reduction it must not reorder). */
static float lane_sum(const float *x, int64_t n)
{
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) a[l] += x[j + l];
    float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; j < n; j++) s += x[j];
    return s;
}

/* The pair loops, compiled per instruction set (GL_CLONES): they are where minibatch discrimination spends
 * its time. Both use the symmetry of the pair distances, visiting each
 * unordered pair once. mt holds one feature plane transposed, mt[c][j] =
 * M[j][b][c], so the inner loops run over contiguous j. */

static void transpose_plane(const float *m, float *mt, int64_t N, int64_t B, int64_t C, int64_t b)
{
    for (int64_t j = 0; j < N; j++)
        for (int64_t c = 0; c < C; c++) mt[c * N + j] = m[(j * B + b) * C + c];
}

/* E[b][i][j] = exp(-sum_c |M[i][b][c] - M[j][b][c]|), o[i][b] = sum_j E[b][i][j] */
GL_CLONES static void mbd_forward_kernel(const float *m, float *E, float *o, int64_t N, int64_t B, int64_t C,
                                         float *mt, float *acc)
{
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, B, C, b);
        float *Eb = E + b * N * N;
        for (int64_t i = 0; i < N; i++) {
            int64_t len = N - i - 1; /* pairs (i, j > i) */
            for (int64_t j = 0; j < len; j++) acc[j] = 0.0f;
            for (int64_t c = 0; c < C; c++) {
                const float *restrict row = mt + c * N + i + 1;
                float mi = mt[c * N + i];
                for (int64_t j = 0; j < len; j++) acc[j] += fabsf(row[j] - mi);
            }
            float *restrict ei = Eb + i * N;
            ei[i] = 1.0f;
            for (int64_t j = 0; j < len; j++) ei[i + 1 + j] = exp_nonpos(-acc[j]);
            for (int64_t j = 0; j < len; j++) Eb[(i + 1 + j) * N + i] = ei[i + 1 + j];
        }
        for (int64_t i = 0; i < N; i++) o[i * B + b] = lane_sum(Eb + i * N, N);
    }
}

/* dM[k][b][c] = -sum_j (g[k][b] + g[j][b]) E[b][k][j] sign(M[k][b][c] - M[j][b][c]);
 * each pair's term enters k with one sign and j with the other, so acc
 * (C x N, transposed like mt) gathers both halves. */
GL_CLONES static void mbd_backward_kernel(const float *m, const float *e, const float *G, float *dM, int64_t N,
                                          int64_t B, int64_t C, float *w, float *mt, float *acc)
{
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, B, C, b);
        for (int64_t k = 0; k < C * N; k++) acc[k] = 0.0f;
        for (int64_t k = 0; k < N; k++) {
            int64_t len = N - k - 1;
            const float *restrict ek = e + (b * N + k) * N + k + 1;
            float gk = G[k * B + b];
            for (int64_t j = 0; j < len; j++) w[j] = (gk + G[(k + 1 + j) * B + b]) * ek[j];
            for (int64_t c = 0; c < C; c++) {
                const float *restrict row = mt + c * N + k + 1;
                float *restrict ac = acc + c * N + k + 1;
                float mk = mt[c * N + k];
                float *restrict tt = w + N; /* second half of w's buffer */
                for (int64_t j = 0; j < len; j++) {
                    float dlt = mk - row[j];
                    tt[j] = w[j] * (float)((dlt > 0.0f) - (dlt < 0.0f));
                    ac[j] += tt[j]; /* d/dM_j: +t */
                }
                acc[c * N + k] -= lane_sum(tt, len); /* d/dM_k: -t */
            }
        }
        for (int64_t j = 0; j < N; j++)
            for (int64_t c = 0; c < C; c++) dM[(j * B + b) * C + c] = acc[c * N + j];
    }
}

/* o[i][b] = sum_j exp(-sum_c |M[i][b][c] - M[j][b][c]|), M: N x B x C.
 * e[b][i][j] (saved) holds the exponentials; the backward is
 * dM[k][b][c] = -sum_j (g[k][b] + g[j][b]) e[b][k][j] sign(M[k][b][c] - M[j][b][c]). */
static gl_status mbd_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    gl_tensor *M = NULL, *E = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &M)) || (st = gl_node_saved(n, 1, &E))) goto out;
    int64_t N = M->shape[0], B = M->shape[1], C = M->shape[2];
    if (!gl_grad_enabled()) {
        /* fused: one pass over the pairs */
        if ((st = gl_tensor_zeros(&gin[0], 3, M->shape))) goto out;
        float *dM = gin[0]->data;
        const float *m = M->data, *e = E->data, *G = g->data;
        float *w = gl_alloc_floats((size_t)(2 * N)), *mt = gl_alloc_floats((size_t)(C * N)), *t = gl_alloc_floats((size_t)(C * N));
        if (!w || !mt || !t) {
            gl_free_floats(w, (size_t)(2 * N));
            gl_free_floats(t, (size_t)(C * N));
            gl_free_floats(mt, (size_t)(C * N));
            st = gl_fail(GL_ERR_NOMEM, "minibatch discrimination: out of memory");
            goto out;
        }
        mbd_backward_kernel(m, e, G, dM, N, B, C, w, mt, t);
        gl_free_floats(mt, (size_t)(C * N));
        gl_free_floats(t, (size_t)(C * N));
        gl_free_floats(w, (size_t)(2 * N));
        goto out;
    }
    {
        /* composite, so the gradient has a graph of its own:
         * diff = M_i - M_j (N x N x B x C), e = exp(-sum_c |diff|),
         * dM = -sum_j ((g_i + g_j) e)[..., None] sign(diff) */
        gl_tensor *a = NULL, *bb = NULL, *diff = NULL, *sg = NULL, *ab = NULL, *d = NULL, *nd = NULL, *ee = NULL,
                  *gi = NULL, *gj = NULL, *gs = NULL, *w = NULL, *w4 = NULL, *ws = NULL, *sum = NULL;
        int64_t s4a[4] = {N, 1, B, C}, s4b[4] = {1, N, B, C}, s3a[3] = {N, 1, B}, s3b[3] = {1, N, B}, s4w[4] = {N, N, B, 1};
        if (!(st = gl_op_reshape(&a, M, 4, s4a)) && !(st = gl_op_reshape(&bb, M, 4, s4b)) &&
            !(st = gl_op_sub(&diff, a, bb)) && !(st = gl_op_unary(&sg, GL_U_SIGN, diff)) &&
            !(st = gl_op_unary(&ab, GL_U_ABS, diff)) && !(st = gl_op_sum_dim(&d, ab, 3, 0)) &&
            !(st = gl_op_affine(&nd, d, -1.0f, 0.0f)) && !(st = gl_op_unary(&ee, GL_U_EXP, nd)) &&
            !(st = gl_op_reshape(&gi, g, 3, s3a)) && !(st = gl_op_reshape(&gj, g, 3, s3b)) &&
            !(st = gl_op_add(&gs, gi, gj)) && !(st = gl_op_mul(&w, gs, ee)) &&
            !(st = gl_op_reshape(&w4, w, 4, s4w)) && !(st = gl_op_mul(&ws, w4, sg)) &&
            !(st = gl_op_sum_dim(&sum, ws, 1, 0)))
            st = gl_op_affine(&gin[0], sum, -1.0f, 0.0f);
        gl_tensor *all[] = {a, bb, diff, sg, ab, d, nd, ee, gi, gj, gs, w, w4, ws, sum};
        gl_release_all(all, (int)(sizeof all / sizeof *all));
    }
out:
    gl_tensor_release(M);
    gl_tensor_release(E);
    return st;
}

gl_status gl_op_minibatch_disc(gl_tensor **out, gl_tensor *M)
{
    char b1[96];
    if (M->ndim != 3)
        return gl_fail(GL_ERR_SHAPE, "minibatch discrimination: expected N x B x C, got %s", gl_tensor_shape_str(M, b1, sizeof b1));
    int64_t N = M->shape[0], B = M->shape[1], C = M->shape[2];
    int64_t es[3] = {B, N, N}, os[2] = {N, B};
    gl_tensor *o = NULL, *E = NULL;
    GL_TRY(gl_tensor_new(&o, 2, os));
    gl_status st;
    if ((st = gl_tensor_new(&E, 3, es))) { gl_tensor_release(o); return st; }
    float *mt = gl_alloc_floats((size_t)(C * N)), *acc = gl_alloc_floats((size_t)N);
    if (!mt || !acc) {
        gl_free_floats(mt, (size_t)(C * N));
        gl_free_floats(acc, (size_t)N);
        gl_tensor_release(o);
        gl_tensor_release(E);
        return gl_fail(GL_ERR_NOMEM, "minibatch discrimination: out of memory");
    }
    mbd_forward_kernel(M->data, E->data, o->data, N, B, C, mt, acc);
    gl_free_floats(mt, (size_t)(C * N));
    gl_free_floats(acc, (size_t)N);
    gl_node *nd = gl_record(&st, GL_OP_MINIBATCH_DISC, mbd_backward, o, 1, &M);
    if (st) {
        gl_tensor_release(o);
        gl_tensor_release(E);
        return st;
    }
    if (nd) {
        gl_node_save(nd, M, 0);
        gl_node_save(nd, E, 0);
    }
    gl_tensor_release(E);
    *out = o;
    return GL_OK;
}
