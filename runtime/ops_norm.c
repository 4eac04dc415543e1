/* ops_norm.c — batch normalisation in training mode, fused (Ioffe and
 * Szegedy 2015, eq. in Algorithm 1; the gradient as in their section 3).
 *
 * The composite it replaces (sum over each non-channel dim, subtract,
 * square, sum again, divide, sqrt, scale, shift) made a dozen passes over
 * the activations forward and as many backward, a quarter of a DCGAN
 * iteration. Here the forward is two passes (statistics, then output) and
 * a plain backward two (the two channel sums, then dx). Under create_graph
 * the backward is built from differentiable ops, so every order of
 * derivative exists, as for the other fused layers. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* x viewed as N x C x L */
static void dims_ncl(const gl_tensor *x, int64_t *N, int64_t *C, int64_t *L)
{
    *N = x->shape[0];
    *C = x->shape[1];
    *L = 1;
    for (int d = 2; d < x->ndim; d++) *L *= x->shape[d];
}

static gl_status bn_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs);

gl_status gl_op_batch_norm(gl_tensor **out, gl_tensor *x, gl_tensor *w, gl_tensor *b, float eps, gl_tensor **mean_out,
                           gl_tensor **var_out)
{
    char b1[96];
    if (x->ndim < 2)
        return gl_fail(GL_ERR_SHAPE, "batch_norm: input %s must be N x C or N x C x ...", gl_tensor_shape_str(x, b1, sizeof b1));
    int64_t N, C, L;
    dims_ncl(x, &N, &C, &L);
    if (N * L < 2)
        return gl_fail(GL_ERR_SHAPE, "batch_norm: expected more than 1 value per channel when training, got %s",
                       gl_tensor_shape_str(x, b1, sizeof b1));
    if ((w == NULL) != (b == NULL) || (w && (w->ndim != 1 || w->shape[0] != C || b->ndim != 1 || b->shape[0] != C)))
        return gl_fail(GL_ERR_SHAPE, "batch_norm: weight and bias must both be given, with %lld elements, or neither",
                       (long long)C);
    if (!(eps >= 0)) return gl_fail(GL_ERR_ARG, "batch_norm: eps must be >= 0, got %g", eps);
    gl_tensor *o = NULL, *mean = NULL, *var = NULL, *stats = NULL;
    int64_t cs[1] = {C}, ss[1] = {2 * C};
    gl_status st;
    if ((st = gl_tensor_new(&o, x->ndim, x->shape)) || (st = gl_tensor_new(&mean, 1, cs)) || (st = gl_tensor_new(&var, 1, cs)) ||
        (st = gl_tensor_new(&stats, 1, ss)))
        goto fail;
    const double n = (double)(N * L);
    float *invstd = stats->data + C; /* stats: mean, then 1 / sqrt(var + eps) */
    for (int64_t c = 0; c < C; c++) {
        double s = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *p = x->data + (i * C + c) * L;
            for (int64_t j = 0; j < L; j++) s += p[j];
        }
        double m = s / n, q = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *p = x->data + (i * C + c) * L;
            for (int64_t j = 0; j < L; j++) q += ((double)p[j] - m) * ((double)p[j] - m);
        }
        double v = q / n;
        mean->data[c] = stats->data[c] = (float)m;
        var->data[c] = (float)v;
        invstd[c] = (float)(1.0 / sqrt(v + (double)eps));
        float a = invstd[c] * (w ? w->data[c] : 1.0f), sh = (b ? b->data[c] : 0.0f) - (float)m * a;
        for (int64_t i = 0; i < N; i++) {
            const float *p = x->data + (i * C + c) * L;
            float *q2 = o->data + (i * C + c) * L;
            for (int64_t j = 0; j < L; j++) q2[j] = p[j] * a + sh;
        }
    }
    gl_tensor *ins[3] = {x, w, b};
    gl_node *nd = gl_record(&st, GL_OP_BATCH_NORM, bn_backward, o, w ? 3 : 1, ins);
    if (st) goto fail;
    if (nd) {
        nd->f[0] = eps;
        gl_node_save(nd, x, 0);
        gl_node_save(nd, stats, 0);
        if (w) gl_node_save(nd, w, 0);
    }
    gl_tensor_release(stats);
    *out = o;
    *mean_out = mean;
    *var_out = var;
    return GL_OK;
fail:
    gl_tensor_release(o);
    gl_tensor_release(mean);
    gl_tensor_release(var);
    gl_tensor_release(stats);
    return st;
}

/* t (N x C x L) summed over N and L, keeping dims: 1 x C x 1, times k */
static gl_status chan_sum(gl_tensor **out, gl_tensor *t, float k)
{
    gl_tensor *a = NULL, *s = NULL;
    gl_status st = gl_op_sum_dim(&a, t, 2, 1);
    if (!st) st = gl_op_sum_dim(&s, a, 0, 1);
    gl_tensor_release(a);
    if (!st && k != 1.0f) {
        a = s;
        st = gl_op_affine(&s, a, k, 0.0f);
        gl_tensor_release(a);
    }
    if (!st) *out = s;
    return st;
}

/* The gradient from differentiable ops, x and w with their graphs:
 * xhat = (x - mu) invstd, gb = sum g, gw = sum g xhat,
 * dx = invstd (g w - mean(g w) - xhat mean(g w xhat)), mu and invstd
 * recomputed from x so that they carry its graph. */
static gl_status bn_backward_composite(gl_tensor *x, gl_tensor *w, float eps, gl_tensor *g, gl_tensor **gin,
                                       const unsigned char *needs)
{
    int64_t N, C, L;
    dims_ncl(x, &N, &C, &L);
    float k = 1.0f / (float)(N * L);
    int64_t s3[3] = {N, C, L}, w3[3] = {1, C, 1}, c1[1] = {C};
    enum { XS, GS, MU, XC, SQ, VAR, VE, INV, XH, GW, GX, M1, GXH, M2, T1, T2, T3, DX, SB, SW, WS, NT };
    gl_tensor *t[NT] = {0};
    gl_status st;
    if ((st = gl_op_reshape(&t[XS], x, 3, s3)) || (st = gl_op_reshape(&t[GS], g, 3, s3)) || (st = chan_sum(&t[MU], t[XS], k)) ||
        (st = gl_op_sub(&t[XC], t[XS], t[MU])) || (st = gl_op_mul(&t[SQ], t[XC], t[XC])) || (st = chan_sum(&t[VAR], t[SQ], k)) ||
        (st = gl_op_affine(&t[VE], t[VAR], 1.0f, eps)) || (st = gl_op_pow_scalar(&t[INV], t[VE], -0.5f)) ||
        (st = gl_op_mul(&t[XH], t[XC], t[INV])))
        goto out;
    if (needs[1]) {
        if ((st = gl_op_mul(&t[T3], t[GS], t[XH])) || (st = chan_sum(&t[SW], t[T3], 1.0f)) ||
            (st = gl_op_reshape(&gin[1], t[SW], 1, c1)))
            goto out;
        gl_tensor_release(t[T3]);
        t[T3] = NULL;
    }
    if (needs[2] && ((st = chan_sum(&t[SB], t[GS], 1.0f)) || (st = gl_op_reshape(&gin[2], t[SB], 1, c1)))) goto out;
    if (needs[0]) {
        if (w) {
            if ((st = gl_op_reshape(&t[WS], w, 3, w3)) || (st = gl_op_mul(&t[GW], t[GS], t[WS]))) goto out;
        } else {
            t[GW] = gl_tensor_retain(t[GS]);
        }
        if ((st = chan_sum(&t[M1], t[GW], k)) || (st = gl_op_mul(&t[GXH], t[GW], t[XH])) || (st = chan_sum(&t[M2], t[GXH], k)) ||
            (st = gl_op_sub(&t[T1], t[GW], t[M1])) || (st = gl_op_mul(&t[T2], t[XH], t[M2])) ||
            (st = gl_op_sub(&t[T3], t[T1], t[T2])) || (st = gl_op_mul(&t[DX], t[T3], t[INV])) ||
            (st = gl_op_reshape(&gin[0], t[DX], x->ndim, x->shape)))
            goto out;
    }
out:
    for (int i = 0; i < NT; i++) gl_tensor_release(t[i]);
    return st;
}

static gl_status bn_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    gl_tensor *x = NULL, *stats = NULL, *w = NULL;
    unsigned char nd3[3] = {needs[0], n->n_in > 1 && needs[1], n->n_in > 2 && needs[2]};
    gl_status st;
    if ((st = gl_node_saved(n, 0, &x)) || (st = gl_node_saved(n, 1, &stats)) || (n->n_saved > 2 && (st = gl_node_saved(n, 2, &w))))
        goto out;
    if (gl_grad_enabled()) {
        st = bn_backward_composite(x, w, n->f[0], g, gin, nd3);
        goto out;
    }
    int64_t N, C, L;
    dims_ncl(x, &N, &C, &L);
    int64_t cs[1] = {C};
    if ((nd3[0] && (st = gl_tensor_new(&gin[0], x->ndim, x->shape))) || (nd3[1] && (st = gl_tensor_new(&gin[1], 1, cs))) ||
        (nd3[2] && (st = gl_tensor_new(&gin[2], 1, cs))))
        goto out;
    const double n_el = (double)(N * L);
    for (int64_t c = 0; c < C; c++) {
        const float m = stats->data[c], inv = stats->data[C + c];
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *p = x->data + (i * C + c) * L, *q = g->data + (i * C + c) * L;
            for (int64_t j = 0; j < L; j++) {
                sg += q[j];
                sgx += (double)q[j] * (double)((p[j] - m) * inv);
            }
        }
        if (nd3[1]) gin[1]->data[c] = (float)sgx;
        if (nd3[2]) gin[2]->data[c] = (float)sg;
        if (nd3[0]) {
            const float a = (w ? w->data[c] : 1.0f) * inv, mg = (float)(sg / n_el), mgx = (float)(sgx / n_el);
            for (int64_t i = 0; i < N; i++) {
                const float *p = x->data + (i * C + c) * L, *q = g->data + (i * C + c) * L;
                float *d = gin[0]->data + (i * C + c) * L;
                for (int64_t j = 0; j < L; j++) d[j] = a * (q[j] - mg - (p[j] - m) * inv * mgx);
            }
        }
    }
out:
    gl_tensor_release(x);
    gl_tensor_release(stats);
    gl_tensor_release(w);
    return st;
}

/* Weight normalisation (Salimans and Kingma 2016): v viewed as A x K (A its
 * first dim), g K values, out[a][k] = g[k] v[a][k] / ||v[:, k]||_2. With
 * u = v / n and s[k] = sum_a G[a][k] u[a][k], the gradient is
 * dg = s, dv = (g / n) (G - u s). One op where the composite took six
 * forward and a dozen backward passes, a tenth of a minibatch-
 * discrimination toy iteration. */
static gl_status wn_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs);

static void wn_dims(const gl_tensor *v, int64_t *A, int64_t *K)
{
    *A = v->shape[0];
    *K = 1;
    for (int d = 1; d < v->ndim; d++) *K *= v->shape[d];
}

gl_status gl_op_weight_norm(gl_tensor **out, gl_tensor *v, gl_tensor *g)
{
    char b1[96], b2[96];
    if (v->ndim < 2)
        return gl_fail(GL_ERR_SHAPE, "weight_norm: v must have at least 2 dims, got %s", gl_tensor_shape_str(v, b1, sizeof b1));
    int64_t A, K;
    wn_dims(v, &A, &K);
    int same = g->ndim == v->ndim - 1;
    for (int d = 0; same && d < g->ndim; d++) same = g->shape[d] == v->shape[d + 1];
    if (!same)
        return gl_fail(GL_ERR_SHAPE, "weight_norm: g must have v's shape without its first dim (v %s, g %s)",
                       gl_tensor_shape_str(v, b1, sizeof b1), gl_tensor_shape_str(g, b2, sizeof b2));
    gl_tensor *o = NULL, *inv = NULL;
    int64_t ks[1] = {K};
    gl_status st;
    if ((st = gl_tensor_new(&o, v->ndim, v->shape)) || (st = gl_tensor_new(&inv, 1, ks))) goto fail;
    float *sq = calloc((size_t)K, sizeof *sq); /* float sums over the A rows, as PyTorch's: they vectorise along k */
    if (!sq) {
        st = gl_fail(GL_ERR_NOMEM, "weight_norm: out of memory");
        goto fail;
    }
    for (int64_t a = 0; a < A; a++) {
        const float *p = v->data + a * K;
        for (int64_t k = 0; k < K; k++) sq[k] += p[k] * p[k];
    }
    for (int64_t k = 0; k < K; k++) inv->data[k] = 1.0f / sqrtf(sq[k]); /* a zero column gives inf, then NaN, as v / 0 */
    free(sq);
    for (int64_t a = 0; a < A; a++) {
        const float *p = v->data + a * K;
        float *q = o->data + a * K;
        for (int64_t k = 0; k < K; k++) q[k] = p[k] * (g->data[k] * inv->data[k]);
    }
    gl_tensor *ins[2] = {v, g};
    gl_node *nd = gl_record(&st, GL_OP_WEIGHT_NORM, wn_backward, o, 2, ins);
    if (st) goto fail;
    if (nd) {
        gl_node_save(nd, v, 0);
        gl_node_save(nd, g, 0);
        gl_node_save(nd, inv, 0);
    }
    gl_tensor_release(inv);
    *out = o;
    return GL_OK;
fail:
    gl_tensor_release(o);
    gl_tensor_release(inv);
    return st;
}

/* The gradient from differentiable ops, for create_graph: n recomputed
 * from v so that it carries v's graph. */
static gl_status wn_backward_composite(gl_tensor *v, gl_tensor *g, gl_tensor *G, gl_tensor **gin, const unsigned char *needs)
{
    int64_t A, K;
    wn_dims(v, &A, &K);
    int64_t s2[2] = {A, K}, k2[2] = {1, K};
    enum { VS, GS, GG, SQ, SS, NR, U, GU, S, US, D1, GN, DV, NT };
    gl_tensor *t[NT] = {0};
    gl_status st;
    if ((st = gl_op_reshape(&t[VS], v, 2, s2)) || (st = gl_op_reshape(&t[GS], G, 2, s2)) || (st = gl_op_reshape(&t[GG], g, 2, k2)) ||
        (st = gl_op_mul(&t[SQ], t[VS], t[VS])) || (st = gl_op_sum_dim(&t[SS], t[SQ], 0, 1)) ||
        (st = gl_op_unary(&t[NR], GL_U_SQRT, t[SS])) || (st = gl_op_div(&t[U], t[VS], t[NR])) ||
        (st = gl_op_mul(&t[GU], t[GS], t[U])) || (st = gl_op_sum_dim(&t[S], t[GU], 0, 1)))
        goto out;
    if (needs[1] && (st = gl_op_reshape(&gin[1], t[S], g->ndim, g->shape))) goto out;
    if (needs[0]) {
        if ((st = gl_op_mul(&t[US], t[U], t[S])) || (st = gl_op_sub(&t[D1], t[GS], t[US])) || (st = gl_op_div(&t[GN], t[GG], t[NR])) ||
            (st = gl_op_mul(&t[DV], t[D1], t[GN])) || (st = gl_op_reshape(&gin[0], t[DV], v->ndim, v->shape)))
            goto out;
    }
out:
    for (int i = 0; i < NT; i++) gl_tensor_release(t[i]);
    return st;
}

static gl_status wn_backward(gl_node *n, gl_tensor *G, gl_tensor **gin, const unsigned char *needs)
{
    gl_tensor *v = NULL, *g = NULL, *inv = NULL;
    gl_status st;
    float *s = NULL;
    if ((st = gl_node_saved(n, 0, &v)) || (st = gl_node_saved(n, 1, &g)) || (st = gl_node_saved(n, 2, &inv))) goto out;
    if (gl_grad_enabled()) {
        st = wn_backward_composite(v, g, G, gin, needs);
        goto out;
    }
    int64_t A, K;
    wn_dims(v, &A, &K);
    if ((needs[0] && (st = gl_tensor_new(&gin[0], v->ndim, v->shape))) || (needs[1] && (st = gl_tensor_new(&gin[1], g->ndim, g->shape))))
        goto out;
    if (!(s = calloc((size_t)K, sizeof *s))) {
        st = gl_fail(GL_ERR_NOMEM, "weight_norm: out of memory");
        goto out;
    }
    for (int64_t a = 0; a < A; a++) { /* s[k] n[k] = sum_a G v */
        const float *p = v->data + a * K, *q = G->data + a * K;
        for (int64_t k = 0; k < K; k++) s[k] += q[k] * p[k];
    }
    for (int64_t k = 0; k < K; k++) s[k] *= inv->data[k];
    if (needs[1])
        for (int64_t k = 0; k < K; k++) gin[1]->data[k] = s[k];
    if (needs[0]) {
        for (int64_t a = 0; a < A; a++) {
            const float *p = v->data + a * K, *q = G->data + a * K;
            float *d = gin[0]->data + a * K;
            for (int64_t k = 0; k < K; k++) {
                const float gi = g->data[k] * inv->data[k];
                d[k] = gi * (q[k] - p[k] * inv->data[k] * s[k]);
            }
        }
    }
out:
    free(s);
    gl_tensor_release(v);
    gl_tensor_release(g);
    gl_tensor_release(inv);
    return st;
}
