/* ops_shape.c — reshape, expand, permute, narrow, index_select, cat and
 * their adjoints. reshape and narrow along dim 0 share storage; the rest
 * materialise a contiguous copy (the runtime keeps every tensor contiguous). */
#include "internal.h"

#include <string.h>

/* ------------------------------------------------------------- reshape */

static gl_status reshape_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_reshape(gin, g, n->in_ndim[0], n->in_shape[0]);
}

gl_status gl_op_reshape(gl_tensor **out, gl_tensor *x, int ndim, const int64_t *shape_in)
{
    if (ndim < 0 || ndim > GL_MAX_DIMS)
        return gl_fail(GL_ERR_ARG, "reshape: %d dims; at most %d are supported", ndim, GL_MAX_DIMS);
    int64_t shape[GL_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        shape[d] = shape_in[d];
        if (shape[d] == -1) {
            if (infer >= 0) return gl_fail(GL_ERR_ARG, "reshape: only one dim can be -1");
            infer = d;
        } else if (shape[d] < 0) {
            return gl_fail(GL_ERR_ARG, "reshape: size %lld of dim %d is negative", (long long)shape[d], d + 1);
        } else if (shape[d] && known > INT64_MAX / shape[d]) {
            char b1[96], b2[96];
            return gl_fail(GL_ERR_SHAPE, "reshape: shape %s is too large for %s", gl_shape_str(b1, sizeof b1, ndim, shape_in),
                           gl_tensor_shape_str(x, b2, sizeof b2));
        } else {
            known *= shape[d];
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known != 0) {
            char b[96];
            return gl_fail(GL_ERR_SHAPE, "reshape: cannot infer dim %d: %lld elements of %s do not divide by %lld",
                           infer + 1, (long long)x->numel, gl_tensor_shape_str(x, b, sizeof b), (long long)known);
        }
        shape[infer] = x->numel / known;
    }
    gl_tensor *o;
    GL_TRY(gl_tensor_alias(&o, x, ndim, shape));
    gl_status st;
    gl_record(&st, GL_OP_RESHAPE, reshape_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
}

/* ------------------------------------------------------------- expand */

static gl_status expand_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_sum_to(gin, g, n->in_ndim[0], n->in_shape[0]);
}

gl_status gl_op_expand(gl_tensor **out, gl_tensor *x, int ndim, const int64_t *shape_in)
{
    int64_t shape[GL_MAX_DIMS];
    if (ndim < x->ndim || ndim > GL_MAX_DIMS) goto bad;
    for (int d = 0; d < ndim; d++) {
        int xd = x->ndim - ndim + d;
        int64_t xs = xd >= 0 ? x->shape[xd] : 1;
        shape[d] = shape_in[d] == -1 && xd >= 0 ? xs : shape_in[d];
        if (shape[d] < 0 || (xs != 1 && xs != shape[d])) goto bad;
    }
    if (ndim == x->ndim && memcmp(shape, x->shape, sizeof(int64_t) * (size_t)ndim) == 0)
        return gl_op_reshape(out, x, ndim, shape);
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, ndim, shape));
    gl_kernel_broadcast_copy(o->data, ndim, shape, x->data, x->ndim, x->shape);
    gl_status st;
    gl_record(&st, GL_OP_EXPAND, expand_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
bad: {
    char b1[96], b2[96];
    return gl_fail(GL_ERR_SHAPE, "expand: %s cannot be expanded to %s", gl_tensor_shape_str(x, b1, sizeof b1),
                   gl_shape_str(b2, sizeof b2, ndim, shape_in));
}
}

/* ------------------------------------------------------------- permute */

static gl_status permute_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    int inv[GL_MAX_DIMS];
    for (int d = 0; d < n->extra_ndim; d++) inv[n->extra_shape[d]] = d;
    return gl_op_permute(gin, g, inv);
}

gl_status gl_op_permute(gl_tensor **out, gl_tensor *x, const int *perm)
{
    int nd = x->ndim, seen[GL_MAX_DIMS] = {0};
    int64_t shape[GL_MAX_DIMS], xstride[GL_MAX_DIMS], ostr[GL_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        if (perm[d] < 0 || perm[d] >= nd || seen[perm[d]]++)
            return gl_fail(GL_ERR_ARG, "permute: the dims are not a permutation of 1..%d", nd);
        shape[d] = x->shape[perm[d]];
    }
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xstride[d] = acc;
        acc *= x->shape[d];
    }
    for (int d = 0; d < nd; d++) ostr[d] = xstride[perm[d]]; /* stride in x of out's dim d */
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    if (o->numel) {
        int64_t idx[GL_MAX_DIMS] = {0}, off = 0, inner = nd ? shape[nd - 1] : 1, is = nd ? ostr[nd - 1] : 0;
        for (int64_t k = 0; k < o->numel; k += inner) {
            for (int64_t j = 0; j < inner; j++) o->data[k + j] = x->data[off + j * is];
            for (int d = nd - 2; d >= 0; d--) {
                off += ostr[d];
                if (++idx[d] < shape[d]) break;
                off -= ostr[d] * shape[d];
                idx[d] = 0;
            }
        }
    }
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_PERMUTE, permute_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (n) {
        n->extra_ndim = nd;
        for (int d = 0; d < nd; d++) n->extra_shape[d] = perm[d];
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_transpose(gl_tensor **out, gl_tensor *x, int d0, int d1)
{
    int a, b, perm[GL_MAX_DIMS];
    GL_TRY(gl_dim("transpose", d0, x->ndim, &a));
    GL_TRY(gl_dim("transpose", d1, x->ndim, &b));
    for (int d = 0; d < x->ndim; d++) perm[d] = d;
    perm[a] = b;
    perm[b] = a;
    return gl_op_permute(out, x, perm);
}

/* ------------------------------------------------------ narrow, select */

static void copy_slab(float *dst, int64_t dst_n, int64_t dst_off, const float *src, int64_t src_n,
                      int64_t src_off, int64_t len, int64_t outer, int64_t inner)
{
    /* for each outer block, len*inner contiguous floats; a few floats by
     * a loop (a batch of 2-D points is 128 memcpy calls of 8 bytes) */
    int64_t n = len * inner;
    for (int64_t a = 0; a < outer; a++) {
        float *d = dst + (a * dst_n + dst_off) * inner;
        const float *s = src + (a * src_n + src_off) * inner;
        if (n <= 8)
            for (int64_t i = 0; i < n; i++) d[i] = s[i];
        else
            memcpy(d, s, sizeof(float) * (size_t)n);
    }
}

static gl_status narrow_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_narrow_scatter(gin, g, n->in_ndim[0], n->in_shape[0], (int)n->i[0], n->i[1]);
}

gl_status gl_op_narrow(gl_tensor **out, gl_tensor *x, int dim, int64_t start, int64_t len)
{
    int d;
    GL_TRY(gl_dim("narrow", dim, x->ndim, &d));
    if (start < 0 || len < 0 || start + len > x->shape[d])
        return gl_fail(GL_ERR_ARG, "narrow: positions %lld..%lld are outside dim %d of size %lld",
                       (long long)start + 1, (long long)(start + len), d + 1, (long long)x->shape[d]);
    gl_tensor *o;
    if (d == 0) {
        GL_TRY(gl_tensor_rows(&o, x, start, len));
    } else {
        int64_t shape[GL_MAX_DIMS];
        memcpy(shape, x->shape, sizeof shape);
        shape[d] = len;
        GL_TRY(gl_tensor_new(&o, x->ndim, shape));
        copy_slab(o->data, len, 0, x->data, x->shape[d], start, len, gl_numel(d, x->shape),
                  gl_numel(x->ndim - d - 1, x->shape + d + 1));
    }
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_NARROW, narrow_backward, o, 1, &x);
    if (st) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = d;
        n->i[1] = start;
    }
    *out = o;
    return GL_OK;
}

static gl_status narrow_scatter_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_narrow(gin, g, (int)n->i[0], n->i[1], n->in_shape[0][n->i[0]]);
}

gl_status gl_op_narrow_scatter(gl_tensor **out, gl_tensor *g, int ndim, const int64_t *shape, int dim,
                               int64_t start)
{
    int ok = ndim == g->ndim && dim >= 0 && dim < ndim && start >= 0 && start + g->shape[dim] <= shape[dim];
    for (int d = 0; ok && d < ndim; d++) ok = d == dim || shape[d] == g->shape[d];
    if (!ok) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "narrow_scatter: %s does not fit into %s at dim %d", gl_tensor_shape_str(g, b1, sizeof b1),
                       gl_shape_str(b2, sizeof b2, ndim, shape), dim + 1);
    }
    gl_tensor *o;
    GL_TRY(gl_tensor_zeros(&o, ndim, shape));
    copy_slab(o->data, shape[dim], start, g->data, g->shape[dim], 0, g->shape[dim], gl_numel(dim, shape),
              gl_numel(ndim - dim - 1, shape + dim + 1));
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_NARROW_SCATTER, narrow_scatter_backward, o, 1, &g);
    if (st) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = dim;
        n->i[1] = start;
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_select(gl_tensor **out, gl_tensor *x, int dim, int64_t index)
{
    int d;
    GL_TRY(gl_dim("select", dim, x->ndim, &d));
    if (index < 0 || index >= x->shape[d])
        return gl_fail(GL_ERR_ARG, "select: index %lld is outside dim %d of size %lld", (long long)index + 1, d + 1,
                       (long long)x->shape[d]);
    gl_tensor *t;
    GL_TRY(gl_op_narrow(&t, x, d, index, 1));
    int64_t shape[GL_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) shape[k++] = x->shape[i];
    gl_status st = gl_op_reshape(out, t, k, shape);
    gl_tensor_release(t);
    return st;
}

/* --------------------------------------------- index_select, index_add */

static gl_status save_idx(gl_node *n, const int64_t *idx, int64_t cnt)
{
    n->idx = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    if (!n->idx) return gl_fail(GL_ERR_NOMEM, "index_select: out of memory");
    memcpy(n->idx, idx, sizeof(int64_t) * (size_t)cnt);
    n->n_idx = cnt;
    return GL_OK;
}

static gl_status index_select_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    int d = (int)n->i[0];
    return gl_op_index_add(gin, g, d, n->idx, n->n_idx, n->in_shape[0][d]);
}

gl_status gl_op_index_select(gl_tensor **out, gl_tensor *x, int dim, const int64_t *idx, int64_t cnt)
{
    int d;
    GL_TRY(gl_dim("index_select", dim, x->ndim, &d));
    for (int64_t k = 0; k < cnt; k++)
        if (idx[k] < 0 || idx[k] >= x->shape[d])
            return gl_fail(GL_ERR_ARG, "index_select: index %lld is outside dim %d of size %lld", (long long)idx[k] + 1,
                           d + 1, (long long)x->shape[d]);
    int64_t shape[GL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = cnt;
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, x->ndim, shape));
    int64_t outer = gl_numel(d, x->shape), inner = gl_numel(x->ndim - d - 1, x->shape + d + 1);
    for (int64_t k = 0; k < cnt; k++) copy_slab(o->data, cnt, k, x->data, x->shape[d], idx[k], 1, outer, inner);
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_INDEX_SELECT, index_select_backward, o, 1, &x);
    if (!st && n) {
        n->i[0] = d;
        st = save_idx(n, idx, cnt);
    }
    if (st) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
}

static gl_status index_add_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_index_select(gin, g, (int)n->i[0], n->idx, n->n_idx);
}

gl_status gl_op_index_add(gl_tensor **out, gl_tensor *g, int dim, const int64_t *idx, int64_t cnt, int64_t size_dim)
{
    int d;
    GL_TRY(gl_dim("index_add", dim, g->ndim, &d));
    if (g->shape[d] != cnt) return gl_fail(GL_ERR_SHAPE, "index_add: %lld indices for %lld slices", (long long)cnt, (long long)g->shape[d]);
    for (int64_t k = 0; k < cnt; k++)
        if (idx[k] < 0 || idx[k] >= size_dim)
            return gl_fail(GL_ERR_ARG, "index_add: index %lld is outside size %lld", (long long)idx[k] + 1, (long long)size_dim);
    int64_t shape[GL_MAX_DIMS];
    memcpy(shape, g->shape, sizeof shape);
    shape[d] = size_dim;
    gl_tensor *o;
    GL_TRY(gl_tensor_zeros(&o, g->ndim, shape));
    int64_t outer = gl_numel(d, g->shape), inner = gl_numel(g->ndim - d - 1, g->shape + d + 1);
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < cnt; k++) {
            float *dst = o->data + (a * size_dim + idx[k]) * inner;
            const float *src = g->data + (a * cnt + k) * inner;
            for (int64_t b = 0; b < inner; b++) dst[b] += src[b];
        }
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_INDEX_ADD, index_add_backward, o, 1, &g);
    if (!st && n) {
        n->i[0] = d;
        st = save_idx(n, idx, cnt);
    }
    if (st) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
}

/* ----------------------------------------------------------- cat, stack */

static gl_status cat_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    int d = (int)n->i[0];
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        int64_t len = n->in_shape[i][d];
        if (needs[i]) GL_TRY(gl_op_narrow(&gin[i], g, d, off, len));
        off += len;
    }
    return GL_OK;
}

gl_status gl_op_cat(gl_tensor **out, gl_tensor **xs, int n, int dim)
{
    if (n < 1) return gl_fail(GL_ERR_ARG, "cat: needs at least one tensor");
    int d;
    GL_TRY(gl_dim("cat", dim, xs[0]->ndim, &d));
    int64_t shape[GL_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        int ok = xs[i]->ndim == xs[0]->ndim;
        for (int k = 0; ok && k < xs[0]->ndim; k++) ok = k == d || xs[i]->shape[k] == xs[0]->shape[k];
        if (!ok) {
            char b1[96], b2[96];
            return gl_fail(GL_ERR_SHAPE, "cat: tensor %d is %s but tensor 1 is %s (only dim %d may differ)", i + 1,
                           gl_tensor_shape_str(xs[i], b1, sizeof b1), gl_tensor_shape_str(xs[0], b2, sizeof b2), d + 1);
        }
        shape[d] += xs[i]->shape[d];
    }
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, xs[0]->ndim, shape));
    int64_t outer = gl_numel(d, shape), inner = gl_numel(xs[0]->ndim - d - 1, shape + d + 1), off = 0;
    for (int i = 0; i < n; i++) {
        copy_slab(o->data, shape[d], off, xs[i]->data, xs[i]->shape[d], 0, xs[i]->shape[d], outer, inner);
        off += xs[i]->shape[d];
    }
    gl_status st;
    gl_node *nn = gl_record(&st, GL_OP_CAT, cat_backward, o, n, xs);
    if (st) { gl_tensor_release(o); return st; }
    if (nn) nn->i[0] = d;
    *out = o;
    return GL_OK;
}

gl_status gl_op_stack(gl_tensor **out, gl_tensor **xs, int n, int dim)
{
    if (n < 1) return gl_fail(GL_ERR_ARG, "stack: needs at least one tensor");
    int nd = xs[0]->ndim, d;
    GL_TRY(gl_dim("stack", dim, nd + 1, &d));
    if (nd + 1 > GL_MAX_DIMS) return gl_fail(GL_ERR_ARG, "stack: result would have more than %d dims", GL_MAX_DIMS);
    gl_tensor *buf[64], **us = n <= 64 ? buf : calloc((size_t)n, sizeof *us);
    if (!us) return gl_fail(GL_ERR_NOMEM, "stack: out of memory");
    gl_status st = GL_OK;
    int made = 0;
    for (int i = 0; i < n && !st; i++) {
        if (!gl_tensor_same_shape(xs[i], xs[0])) {
            char b1[96], b2[96];
            st = gl_fail(GL_ERR_SHAPE, "stack: tensor %d is %s but tensor 1 is %s", i + 1,
                         gl_tensor_shape_str(xs[i], b1, sizeof b1), gl_tensor_shape_str(xs[0], b2, sizeof b2));
            break;
        }
        int64_t shape[GL_MAX_DIMS];
        for (int k = 0, j = 0; k <= nd; k++) shape[k] = k == d ? 1 : xs[i]->shape[j++];
        st = gl_op_reshape(&us[i], xs[i], nd + 1, shape);
        if (!st) made++;
    }
    if (!st) st = gl_op_cat(out, us, n, d);
    gl_release_all(us, made);
    if (us != buf) free(us);
    return st;
}
