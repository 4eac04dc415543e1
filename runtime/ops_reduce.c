/* ops_reduce.c — sums, means, max/min, variance, norms, logsumexp and the
 * softmaxes. A reduction over dim d sees x as outer x n x inner (n the
 * size of d); over all elements it yields a 0-dim tensor. */
#include "internal.h"

#include <math.h>
#include <string.h>

static void split3(const gl_tensor *x, int d, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = gl_numel(d, x->shape);
    *n = x->shape[d];
    *inner = gl_numel(x->ndim - d - 1, x->shape + d + 1);
}

/* Shape of x reduced over d: kept as 1, or dropped. */
static int reduced_shape(const gl_tensor *x, int d, int keepdim, int64_t *shape)
{
    int k = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != d) shape[k++] = x->shape[i];
        else if (keepdim) shape[k++] = 1;
    }
    return k;
}

/* ---------------------------------------------------------------- sum */

/* n floats summed in double over eight running sums: one serial double
 * chain costs an add's latency (3-4 cycles) per element, and a loss's
 * mean over a 128 x 128 batch was 40 % of a small Linear's step. */
typedef float reduce_v4 __attribute__((vector_size(16), aligned(4)));
typedef double reduce_v4d __attribute__((vector_size(32)));
GL_CLONES static double sum_floats(const float *restrict p, int64_t n)
{
    reduce_v4d s0 = {0}, s1 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const reduce_v4 *r = (const reduce_v4 *)(p + i);
        s0 += __builtin_convertvector(r[0], reduce_v4d);
        s1 += __builtin_convertvector(r[1], reduce_v4d);
    }
    s0 += s1;
    double s = (s0[0] + s0[1]) + (s0[2] + s0[3]);
    for (; i < n; i++) s += p[i];
    return s;
}

/* q[b] = sum over j < n of p[j * inner + b]: each block of 32 columns in
 * four 8-float vectors, stored once (a column's order of additions is the
 * plain loop's, so the sums are the same bit for bit) */
typedef float reduce_v8 __attribute__((vector_size(32), aligned(4)));
GL_CLONES static void col_sums(const float *restrict p, int64_t n, int64_t inner, float *restrict q)
{
    int64_t b = 0;
    for (; b + 32 <= inner; b += 32) {
        reduce_v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int64_t j = 0; j < n; j++) {
            const reduce_v8 *r = (const reduce_v8 *)(p + j * inner + b);
            s0 += r[0], s1 += r[1], s2 += r[2], s3 += r[3];
        }
        reduce_v8 *o = (reduce_v8 *)(q + b);
        o[0] = s0, o[1] = s1, o[2] = s2, o[3] = s3;
    }
    for (; b + 8 <= inner; b += 8) {
        reduce_v8 s0 = {0};
        for (int64_t j = 0; j < n; j++) s0 += *(const reduce_v8 *)(p + j * inner + b);
        *(reduce_v8 *)(q + b) = s0;
    }
    for (; b < inner; b++) {
        float s0 = 0.0f;
        for (int64_t j = 0; j < n; j++) s0 += p[j * inner + b];
        q[b] = s0;
    }
}

/* g back to the input shape: restore the reduced dim as 1, then expand. */
static gl_status expand_back(gl_node *n, gl_tensor *g, gl_tensor **gin)
{
    int d = (int)n->i[0];
    gl_tensor *k = NULL;
    if (d >= 0 && !n->i[1]) {
        int64_t shape[GL_MAX_DIMS];
        memcpy(shape, n->in_shape[0], sizeof shape);
        shape[d] = 1;
        GL_TRY(gl_op_reshape(&k, g, n->in_ndim[0], shape));
    } else {
        k = gl_tensor_retain(g);
    }
    gl_status st = gl_op_expand(gin, k, n->in_ndim[0], n->in_shape[0]);
    gl_tensor_release(k);
    return st;
}

static gl_status sum_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return expand_back(n, g, gin);
}

gl_status gl_op_sum(gl_tensor **out, gl_tensor *x)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, 0, NULL));
    o->data[0] = (float)sum_floats(x->data, x->numel);
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_SUM, sum_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (n) n->i[0] = -1;
    *out = o;
    return GL_OK;
}

gl_status gl_op_sum_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim)
{
    int d;
    GL_TRY(gl_dim("sum", dim, x->ndim, &d));
    int64_t shape[GL_MAX_DIMS], outer, n, inner;
    int nd = reduced_shape(x, d, keepdim, shape);
    split3(x, d, &outer, &n, &inner);
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    for (int64_t a = 0; a < outer; a++) {
        const float *p = x->data + a * n * inner;
        float *q = o->data + a * inner;
        if (inner == 1) q[0] = (float)sum_floats(p, n);
        else col_sums(p, n, inner, q);
    }
    gl_status st;
    gl_node *nd_ = gl_record(&st, GL_OP_SUM, sum_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (nd_) {
        nd_->i[0] = d;
        nd_->i[1] = keepdim;
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_mean(gl_tensor **out, gl_tensor *x)
{
    if (x->numel == 0) return gl_fail(GL_ERR_ARG, "mean: tensor has no elements");
    gl_tensor *s;
    GL_TRY(gl_op_sum(&s, x));
    gl_status st = gl_op_affine(out, s, 1.0f / (float)x->numel, 0.0f);
    gl_tensor_release(s);
    return st;
}

gl_status gl_op_mean_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim)
{
    int d;
    GL_TRY(gl_dim("mean", dim, x->ndim, &d));
    if (x->shape[d] == 0) return gl_fail(GL_ERR_ARG, "mean: dim %d has size 0", d + 1);
    gl_tensor *s;
    GL_TRY(gl_op_sum_dim(&s, x, d, keepdim));
    gl_status st = gl_op_affine(out, s, 1.0f / (float)x->shape[d], 0.0f);
    gl_tensor_release(s);
    return st;
}

/* dst (shape_dst, broadcastable to shape) = src (contiguous, shape) summed
 * over the broadcast dims; dst zeroed by the caller. Dims collapsed first,
 * so a conv bias's gradient (N x C x H x W to C) sums N*C rows of H*W. */
static void broadcast_sum(float *dst, int nd_dst, const int64_t *shape_dst, const float *src, int nd,
                          const int64_t *shape_src)
{
    gl_bwalk w;
    gl_bwalk_init(&w, nd, shape_src, nd_dst, shape_dst);
    for (int64_t o = 0; o < w.total; o += w.inner, gl_bwalk_next(&w)) {
        if (w.step) {
            float *dp = dst + w.off;
            const float *sp = src + o;
            for (int64_t j = 0; j < w.inner; j++) dp[j] += sp[j];
        } else {
            dst[w.off] += (float)sum_floats(src + o, w.inner);
        }
    }
}

static gl_status sum_to_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_expand(gin, g, n->in_ndim[0], n->in_shape[0]);
}

gl_status gl_op_sum_to(gl_tensor **out, gl_tensor *x, int ndim, const int64_t *shape)
{
    /* shape must broadcast to x's shape */
    if (ndim > x->ndim) goto bad;
    for (int i = 0; i < ndim; i++) {
        int64_t s = shape[i], t = x->shape[x->ndim - ndim + i];
        if (s != t && s != 1) goto bad;
    }
    gl_tensor *o;
    GL_TRY(gl_tensor_zeros(&o, ndim, shape));
    broadcast_sum(o->data, ndim, shape, x->data, x->ndim, x->shape);
    gl_status st;
    gl_record(&st, GL_OP_SUM_TO, sum_to_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
bad: {
    char b1[96], b2[96];
    return gl_fail(GL_ERR_SHAPE, "sum_to: %s does not broadcast to %s", gl_shape_str(b1, sizeof b1, ndim, shape),
                   gl_tensor_shape_str(x, b2, sizeof b2));
}
}

/* ------------------------------------------------------------ max, min */

/* g placed at the saved argmax positions: expand(g) * onehot. */
static gl_status max_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    gl_tensor *mask, *ge = NULL;
    GL_TRY(gl_tensor_zeros(&mask, n->in_ndim[0], n->in_shape[0]));
    if (n->op == GL_OP_MAX_ALL) {
        mask->data[n->i[2]] = 1.0f;
    } else {
        int d = (int)n->i[0];
        int64_t outer = gl_numel(d, n->in_shape[0]), len = n->in_shape[0][d];
        int64_t inner = gl_numel(n->in_ndim[0] - d - 1, n->in_shape[0] + d + 1);
        for (int64_t a = 0; a < outer; a++)
            for (int64_t b = 0; b < inner; b++)
                mask->data[(a * len + n->idx[a * inner + b]) * inner + b] = 1.0f;
    }
    gl_status st = expand_back(n, g, &ge);
    if (!st) st = gl_op_mul(gin, ge, mask);
    gl_tensor_release(ge);
    gl_tensor_release(mask);
    return st;
}

static inline int better(float v, float best, int is_min)
{
    /* NaN wins, as in PyTorch: it propagates */
    if (isnan(v)) return !isnan(best);
    return is_min ? v < best : v > best;
}

gl_status gl_op_max_dim(gl_tensor **values, gl_tensor **indices, gl_tensor *x, int dim, int keepdim,
                        int is_min)
{
    const char *fn = is_min ? "min" : "max";
    int d;
    GL_TRY(gl_dim(fn, dim, x->ndim, &d));
    if (x->shape[d] == 0) return gl_fail(GL_ERR_ARG, "%s: dim %d has size 0", fn, d + 1);
    int64_t shape[GL_MAX_DIMS], outer, n, inner;
    int nd = reduced_shape(x, d, keepdim, shape);
    split3(x, d, &outer, &n, &inner);
    gl_tensor *o, *ix = NULL;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(outer * inner > 0 ? outer * inner : 1));
    if (!idx) { gl_tensor_release(o); return gl_fail(GL_ERR_NOMEM, "%s: out of memory", fn); }
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            const float *p = x->data + a * n * inner + b;
            float best = p[0];
            int64_t bi = 0;
            for (int64_t j = 1; j < n; j++)
                if (better(p[j * inner], best, is_min)) { best = p[j * inner]; bi = j; }
            o->data[a * inner + b] = best;
            idx[a * inner + b] = bi;
        }
    gl_status st = GL_OK;
    if (indices) {
        if ((st = gl_tensor_new(&ix, nd, shape))) goto fail;
        for (int64_t k = 0; k < outer * inner; k++) ix->data[k] = (float)idx[k];
    }
    gl_node *nn = gl_record(&st, GL_OP_MAX_DIM, max_backward, o, 1, &x);
    if (st) goto fail;
    if (nn) {
        nn->i[0] = d;
        nn->i[1] = keepdim;
        nn->idx = idx;
        idx = NULL;
    }
    free(idx);
    *values = o;
    if (indices) *indices = ix;
    return GL_OK;
fail:
    free(idx);
    gl_tensor_release(o);
    gl_tensor_release(ix);
    return st;
}

static int64_t arg_all(const gl_tensor *x, int is_min)
{
    int64_t bi = 0;
    for (int64_t i = 1; i < x->numel; i++)
        if (better(x->data[i], x->data[bi], is_min)) bi = i;
    return bi;
}

gl_status gl_op_max_all(gl_tensor **out, gl_tensor *x, int is_min)
{
    if (x->numel == 0) return gl_fail(GL_ERR_ARG, "%s: tensor has no elements", is_min ? "min" : "max");
    int64_t bi = arg_all(x, is_min);
    gl_tensor *o;
    GL_TRY(gl_scalar(&o, x->data[bi]));
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_MAX_ALL, max_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = -1;
        n->i[2] = bi;
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_argmax_all(gl_tensor **out, gl_tensor *x, int is_min)
{
    if (x->numel == 0) return gl_fail(GL_ERR_ARG, "argmax: tensor has no elements");
    return gl_scalar(out, (float)arg_all(x, is_min));
}

/* ------------------------------------------------------- var, norm */

gl_status gl_op_var_dim(gl_tensor **out, gl_tensor *x, int dim, int keepdim, int unbiased)
{
    /* var = sum((x - mean)^2) / (n - unbiased), composed of recorded ops;
     * dim < 0: over all elements */
    int all = dim < 0, d = dim;
    int64_t n = all ? x->numel : 0;
    if (!all) {
        if (d >= x->ndim) return gl_fail(GL_ERR_ARG, "var: dim %d out of range for a %d-dim tensor", d + 1, x->ndim);
        n = x->shape[d];
    }
    gl_tensor *m = NULL, *c = NULL, *sq = NULL, *s = NULL;
    gl_status st;
    if (all) st = gl_op_mean(&m, x);
    else st = gl_op_mean_dim(&m, x, d, 1);
    if (!st && !(st = gl_op_sub(&c, x, m)) && !(st = gl_op_mul(&sq, c, c))) {
        if (all) st = gl_op_sum(&s, sq);
        else st = gl_op_sum_dim(&s, sq, d, keepdim);
        if (!st) st = gl_op_affine(out, s, 1.0f / (float)(n - unbiased), 0.0f);
    }
    gl_tensor_release(m);
    gl_tensor_release(c);
    gl_tensor_release(sq);
    gl_tensor_release(s);
    return st;
}

/* d||x||_p = sign(x) |x|^(p-1) / ||x||^(p-1); 0 where the norm is 0 (the
 * subgradient PyTorch uses), so a zero vector gives no NaN. */
static gl_status norm_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    float p = n->f[0];
    gl_tensor *x = NULL, *o = NULL, *ge = NULL, *num = NULL, *den = NULL, *t = NULL, *u = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &x)) || (st = gl_node_saved(n, 1, &o))) goto out;
    if ((st = expand_back(n, g, &ge))) goto out;
    if (p == 1.0f) {
        if (!(st = gl_op_unary(&t, GL_U_SIGN, x))) st = gl_op_mul(gin, ge, t);
        goto out;
    }
    if (p == 2.0f) num = gl_tensor_retain(x);
    else {
        /* x |x|^(p-2) */
        if ((st = gl_op_unary(&t, GL_U_ABS, x)) || (st = gl_op_pow_scalar(&u, t, p - 2.0f)) ||
            (st = gl_op_mul(&num, x, u)))
            goto out;
        gl_tensor_release(t); gl_tensor_release(u); t = u = NULL;
    }
    {
        /* den = (out + [out == 0])^(p-1), the bump is a constant */
        gl_tensor *z;
        if ((st = gl_op_compare_scalar(&z, GL_CMP_EQ, o, 0.0f))) goto out;
        st = gl_op_add(&t, o, z);
        gl_tensor_release(z);
        if (st) goto out;
        if (p == 2.0f) den = gl_tensor_retain(t);
        else if ((st = gl_op_pow_scalar(&den, t, p - 1.0f))) goto out;
        gl_tensor_release(t);
        t = NULL;
        /* den back to the input's shape */
        if ((st = expand_back(n, den, &t))) goto out;
        if (!(st = gl_op_div(&u, num, t))) st = gl_op_mul(gin, ge, u);
    }
out:
    gl_tensor_release(x);
    gl_tensor_release(o);
    gl_tensor_release(ge);
    gl_tensor_release(num);
    gl_tensor_release(den);
    gl_tensor_release(t);
    gl_tensor_release(u);
    return st;
}

gl_status gl_op_norm(gl_tensor **out, gl_tensor *x, float p, int dim, int keepdim)
{
    if (!(p > 0.0f) || isinf(p)) return gl_fail(GL_ERR_ARG, "norm: p = %g is not supported (p > 0, finite)", p);
    int d = -1;
    int64_t shape[GL_MAX_DIMS] = {0}, outer = 1, n = x->numel, inner = 1;
    int nd = 0;
    if (dim >= 0) { /* dim < 0: over all elements */
        GL_TRY(gl_dim("norm", dim, x->ndim, &d));
        nd = reduced_shape(x, d, keepdim, shape);
        split3(x, d, &outer, &n, &inner);
    }
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            const float *q = x->data + a * n * inner + b;
            double s = 0;
            if (p == 2.0f) for (int64_t j = 0; j < n; j++) s += (double)q[j * inner] * q[j * inner];
            else if (p == 1.0f) for (int64_t j = 0; j < n; j++) s += fabs(q[j * inner]);
            else for (int64_t j = 0; j < n; j++) s += pow(fabs(q[j * inner]), p);
            o->data[a * inner + b] = (float)(p == 2.0f ? sqrt(s) : p == 1.0f ? s : pow(s, 1.0 / p));
        }
    gl_status st;
    gl_node *nn = gl_record(&st, GL_OP_NORM, norm_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (nn) {
        nn->f[0] = p;
        nn->i[0] = d;
        nn->i[1] = keepdim;
        gl_node_save(nn, x, 0);
        gl_node_save(nn, o, 1);
    }
    *out = o;
    return GL_OK;
}

/* ------------------------------------------ logsumexp and the softmaxes */

/* m = max over d (keepdim), detached, non-finite rows set to 0. */
static gl_status row_max(gl_tensor **m, gl_tensor *x, int d)
{
    int prev = gl_set_grad_enabled(0);
    gl_status st = gl_op_max_dim(m, NULL, x, d, 1, 0);
    gl_set_grad_enabled(prev);
    if (st) return st;
    for (int64_t i = 0; i < (*m)->numel; i++)
        if (!isfinite((*m)->data[i])) (*m)->data[i] = 0.0f;
    return GL_OK;
}

gl_status gl_op_logsumexp(gl_tensor **out, gl_tensor *x, int dim, int keepdim)
{
    int d;
    GL_TRY(gl_dim("logsumexp", dim, x->ndim, &d));
    gl_tensor *m = NULL, *c = NULL, *e = NULL, *s = NULL, *l = NULL, *r = NULL;
    gl_status st;
    if ((st = row_max(&m, x, d)) || (st = gl_op_sub(&c, x, m)) || (st = gl_op_unary(&e, GL_U_EXP, c)) ||
        (st = gl_op_sum_dim(&s, e, d, 1)) || (st = gl_op_unary(&l, GL_U_LOG, s)) || (st = gl_op_add(&r, l, m)))
        goto out;
    if (keepdim) {
        *out = r;
        r = NULL;
    } else {
        int64_t shape[GL_MAX_DIMS];
        int nd = reduced_shape(x, d, 0, shape);
        st = gl_op_reshape(out, r, nd, shape);
    }
out:
    gl_tensor_release(m);
    gl_tensor_release(c);
    gl_tensor_release(e);
    gl_tensor_release(s);
    gl_tensor_release(l);
    gl_tensor_release(r);
    return st;
}

gl_status gl_op_softmax(gl_tensor **out, gl_tensor *x, int dim)
{
    int d;
    GL_TRY(gl_dim("softmax", dim, x->ndim, &d));
    gl_tensor *m = NULL, *c = NULL, *e = NULL, *s = NULL;
    gl_status st;
    if (!(st = row_max(&m, x, d)) && !(st = gl_op_sub(&c, x, m)) && !(st = gl_op_unary(&e, GL_U_EXP, c)) &&
        !(st = gl_op_sum_dim(&s, e, d, 1)))
        st = gl_op_div(out, e, s);
    gl_tensor_release(m);
    gl_tensor_release(c);
    gl_tensor_release(e);
    gl_tensor_release(s);
    return st;
}

gl_status gl_op_log_softmax(gl_tensor **out, gl_tensor *x, int dim)
{
    gl_tensor *l;
    GL_TRY(gl_op_logsumexp(&l, x, dim, 1));
    gl_status st = gl_op_sub(out, x, l);
    gl_tensor_release(l);
    return st;
}
