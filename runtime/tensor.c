/* tensor.c — tensor headers, storages, views, and in-place fills.
 *
 * A gl_storage is a refcounted float buffer from the allocator; a gl_tensor
 * is a refcounted header (shape, offset, autograd links) holding one
 * reference to a storage. Headers and storages are recycled through small
 * free lists so a steady training loop does not call malloc. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define POOL_MAX 8192

static gl_tensor *tensor_pool[POOL_MAX];
static int n_tensor_pool;
static gl_storage *storage_pool[POOL_MAX];
static int n_storage_pool;

int64_t gl_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

static gl_status check_shape(const char *fn, int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > GL_MAX_DIMS)
        return gl_fail(GL_ERR_ARG, "%s: %d dims; at most %d are supported", fn, ndim, GL_MAX_DIMS);
    /* nz, the product of the nonzero sizes, is bounded as well: an empty
     * tensor must not carry sizes whose products (strides, transposes)
     * overflow wherever they are taken */
    int64_t n = 1, nz = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return gl_fail(GL_ERR_ARG, "%s: size %lld of dim %d is negative", fn,
                           (long long)shape[d], d + 1);
        if (shape[d] == 0) {
            n = 0;
            continue;
        }
        /* nz <= 2^40 and shape[d] < 2^63 cannot overflow in 128 bits */
        __int128 m = (__int128)nz * shape[d];
        if (m > ((int64_t)1 << 40))
            return gl_fail(GL_ERR_NOMEM, "%s: %.3g elements is too many", fn, (double)m);
        nz = (int64_t)m;
    }
    *numel = n ? nz : 0;
    return GL_OK;
}

static gl_tensor *header_new(void)
{
    gl_tensor *t = n_tensor_pool ? tensor_pool[--n_tensor_pool] : malloc(sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->refcount = 1;
    return t;
}

static gl_storage *storage_new(size_t n)
{
    gl_storage *s = n_storage_pool ? storage_pool[--n_storage_pool] : malloc(sizeof *s);
    if (!s) return NULL;
    s->data = gl_alloc_floats(n);
    if (!s->data) {
        free(s);
        return NULL;
    }
    s->refcount = 1;
    s->version = 0;
    s->grad_leaf = 0;
    s->n = n;
    return s;
}

static void storage_release(gl_storage *s)
{
    if (!s || --s->refcount > 0) return;
    gl_free_floats(s->data, s->n);
    if (n_storage_pool < POOL_MAX) storage_pool[n_storage_pool++] = s;
    else free(s);
}

gl_status gl_tensor_new(gl_tensor **out, int ndim, const int64_t *shape)
{
    int64_t n;
    GL_TRY(check_shape("tensor", ndim, shape, &n));
    gl_tensor *t = header_new();
    if (!t) return gl_fail(GL_ERR_NOMEM, "tensor: out of memory");
    t->storage = storage_new((size_t)n);
    if (!t->storage) {
        char b[96];
        free(t);
        return gl_fail(GL_ERR_NOMEM, "tensor: out of memory for %s floats",
                       gl_shape_str(b, sizeof b, ndim, shape));
    }
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = n;
    t->data = t->storage->data;
    *out = t;
    return GL_OK;
}

gl_status gl_tensor_zeros(gl_tensor **out, int ndim, const int64_t *shape)
{
    GL_TRY(gl_tensor_new(out, ndim, shape));
    memset((*out)->data, 0, sizeof(float) * (size_t)(*out)->numel);
    return GL_OK;
}

gl_status gl_full(gl_tensor **out, int ndim, const int64_t *shape, float v)
{
    GL_TRY(gl_tensor_new(out, ndim, shape));
    gl_tensor_fill_(*out, v);
    return GL_OK;
}

gl_status gl_scalar(gl_tensor **out, float v) { return gl_full(out, 0, NULL, v); }

gl_status gl_tensor_new_like(gl_tensor **out, const gl_tensor *t)
{
    return gl_tensor_new(out, t->ndim, t->shape);
}

static gl_status alias_at(gl_tensor **out, gl_tensor *t, int64_t offset, int ndim,
                          const int64_t *shape)
{
    gl_tensor *a = header_new();
    if (!a) return gl_fail(GL_ERR_NOMEM, "view: out of memory");
    a->ndim = ndim;
    if (ndim) memcpy(a->shape, shape, sizeof(int64_t) * (size_t)ndim);
    a->numel = gl_numel(ndim, shape);
    a->storage = t->storage;
    a->copy_op = t->copy_op;
    a->copy_dim = t->copy_dim;
    t->storage->refcount++;
    a->offset = offset;
    a->data = t->storage->data + offset;
    *out = a;
    return GL_OK;
}

gl_status gl_tensor_alias(gl_tensor **out, gl_tensor *t, int ndim, const int64_t *shape)
{
    int64_t n;
    GL_TRY(check_shape("view", ndim, shape, &n));
    if (n != t->numel) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "view: shape %s is invalid for %s (%lld elements)",
                       gl_shape_str(b1, sizeof b1, ndim, shape), gl_tensor_shape_str(t, b2, sizeof b2),
                       (long long)t->numel);
    }
    return alias_at(out, t, t->offset, ndim, shape);
}

gl_status gl_tensor_rows(gl_tensor **out, gl_tensor *t, int64_t start, int64_t len)
{
    if (t->ndim < 1 || start < 0 || len < 0 || start + len > t->shape[0])
        return gl_fail(GL_ERR_ARG, "rows: [%lld, %lld) outside dim 1 of size %lld",
                       (long long)start, (long long)(start + len),
                       (long long)(t->ndim ? t->shape[0] : 0));
    int64_t shape[GL_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = len;
    int64_t row = t->shape[0] ? t->numel / t->shape[0] : 0;
    return alias_at(out, t, t->offset + start * row, t->ndim, shape);
}

gl_tensor *gl_tensor_retain(gl_tensor *t)
{
    if (t) t->refcount++;
    return t;
}

void gl_tensor_release(gl_tensor *t)
{
    if (!t || --t->refcount > 0) return;
    gl_tensor *grad = t->grad;
    gl_node *fn = t->grad_fn;
    storage_release(t->storage);
    if (n_tensor_pool < POOL_MAX) tensor_pool[n_tensor_pool++] = t;
    else free(t);
    gl_tensor_release(grad);
    gl_node_release(fn);
}

void gl_release_all(gl_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) {
        gl_tensor_release(ts[i]);
        ts[i] = NULL;
    }
}

int gl_tensor_same_shape(const gl_tensor *a, const gl_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

const char *gl_tensor_shape_str(const gl_tensor *t, char *buf, size_t n)
{
    return gl_shape_str(buf, n, t->ndim, t->shape);
}

gl_status gl_dim(const char *fn, int dim, int ndim, int *out)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        /* dims are reported 1-based, as the Lua user wrote them */
        return gl_fail(GL_ERR_ARG, "%s: dim %d out of range for a %d-dim tensor", fn,
                       dim < 0 ? dim : dim + 1, ndim);
    }
    *out = d;
    return GL_OK;
}

void gl_tensor_bump(gl_tensor *t) { t->storage->version++; }

void gl_tensor_fill_(gl_tensor *t, float v)
{
    float *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = v;
    gl_tensor_bump(t);
}

gl_status gl_check_inplace(const char *fn, const gl_tensor *t)
{
    if (gl_grad_enabled() && t->requires_grad && !t->grad_fn)
        return gl_fail(GL_ERR_STATE,
                       "%s: in-place write to a leaf that requires grad "
                       "(wrap it in autograd.no_grad or detach it)",
                       fn);
    /* a view (made while recording) of such a leaf writes into the leaf:
     * PyTorch refuses it too; a detach()ed alias may still be written */
    if (gl_grad_enabled() && t->grad_fn && t->storage->grad_leaf)
        return gl_fail(GL_ERR_STATE,
                       "%s: in-place write to a view of a leaf that requires grad "
                       "(wrap it in autograd.no_grad, or write into a clone())",
                       fn);
    if (t->copy_op) {
        char dim[24] = "";
        if (t->copy_dim) snprintf(dim, sizeof dim, " along dim %d", t->copy_dim);
        return gl_fail(GL_ERR_STATE,
                       "%s: this tensor is a copy made by %s%s, not a view (only slices along dim 1 share "
                       "storage), so the write would not reach its source: write into the source with "
                       "index_fill_ or index_copy_, or clone() it first",
                       fn, t->copy_op, dim);
    }
    return GL_OK;
}

/* outer blocks of size[dim] * inner floats; position k of dim at k * inner */
static gl_status index_args(const char *fn, const gl_tensor *t, int dim, const int64_t *idx, int64_t cnt,
                            int64_t *outer, int64_t *inner)
{
    if (dim < 0 || dim >= t->ndim) return gl_fail(GL_ERR_ARG, "%s: dim %d is out of range", fn, dim + 1);
    for (int64_t k = 0; k < cnt; k++)
        if (idx[k] < 0 || idx[k] >= t->shape[dim])
            return gl_fail(GL_ERR_ARG, "%s: index %lld is outside dim %d of size %lld", fn, (long long)idx[k] + 1,
                           dim + 1, (long long)t->shape[dim]);
    *outer = gl_numel(dim, t->shape);
    *inner = gl_numel(t->ndim - dim - 1, t->shape + dim + 1);
    return GL_OK;
}

gl_status gl_tensor_index_fill_(gl_tensor *t, int dim, const int64_t *idx, int64_t cnt, float v)
{
    int64_t outer = 0, inner = 0;
    GL_TRY(index_args("index_fill_", t, dim, idx, cnt, &outer, &inner));
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < cnt; k++) {
            float *p = t->data + (a * t->shape[dim] + idx[k]) * inner;
            for (int64_t j = 0; j < inner; j++) p[j] = v;
        }
    gl_tensor_bump(t);
    return GL_OK;
}

gl_status gl_tensor_index_copy_(gl_tensor *t, int dim, const int64_t *idx, int64_t cnt, const gl_tensor *src)
{
    int64_t outer = 0, inner = 0;
    GL_TRY(index_args("index_copy_", t, dim, idx, cnt, &outer, &inner));
    int ok = src->ndim == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++) ok = src->shape[d] == (d == dim ? cnt : t->shape[d]);
    if (!ok) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "index_copy_: source %s does not fit %lld positions of dim %d of %s",
                       gl_tensor_shape_str(src, b1, sizeof b1), (long long)cnt, dim + 1,
                       gl_tensor_shape_str(t, b2, sizeof b2));
    }
    if (src->storage == t->storage) return gl_fail(GL_ERR_ARG, "index_copy_: the source shares the destination's storage");
    for (int64_t a = 0; a < outer; a++)
        for (int64_t k = 0; k < cnt; k++)
            memcpy(t->data + (a * t->shape[dim] + idx[k]) * inner, src->data + (a * cnt + k) * inner,
                   sizeof(float) * (size_t)inner);
    gl_tensor_bump(t);
    return GL_OK;
}

gl_status gl_broadcast_shape(const char *fn, const gl_tensor *a, const gl_tensor *b, int *ndim,
                             int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int da = a->ndim - n + i, db = b->ndim - n + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char b1[96], b2[96];
            return gl_fail(GL_ERR_SHAPE,
                           "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", fn,
                           gl_tensor_shape_str(a, b1, sizeof b1), gl_tensor_shape_str(b, b2, sizeof b2),
                           i + 1, (long long)sa, (long long)sb);
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return GL_OK;
}

/* dst (shape_dst) = src broadcast. Odometer over dst with src strides of 0
 * on broadcast dims; the innermost dim runs as a plain loop. */
/* The walk both broadcast kernels share: over the nd-dim shape, the
 * offset into the smaller operand (ns dims, sshape) whose broadcast dims
 * have stride 0. */
void gl_broadcast_strides(int64_t *stride, int nd, int ns, const int64_t *sshape)
{
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int sd = ns - nd + d;
        int64_t s = sd >= 0 ? sshape[sd] : 1;
        stride[d] = s == 1 ? 0 : acc;
        acc *= s;
    }
}

int gl_collapse_dims(int nd, int64_t *shape, int nops, int64_t *const *strides)
{
    int m = 0;
    for (int d = nd - 1; d >= 0; d--) { /* built innermost first at [nd-1-m] */
        if (shape[d] == 1) continue;
        int at = nd - m, merge = m > 0;
        for (int k = 0; merge && k < nops; k++)
            merge = strides[k][d] == strides[k][at] * shape[at];
        if (merge) {
            shape[at] *= shape[d];
            continue;
        }
        shape[at - 1] = shape[d];
        for (int k = 0; k < nops; k++) strides[k][at - 1] = strides[k][d];
        m++;
    }
    if (m == 0) {
        shape[0] = 1;
        for (int k = 0; k < nops; k++) strides[k][0] = 0;
        return 1;
    }
    int from = nd - m;
    memmove(shape, shape + from, sizeof(int64_t) * (size_t)m);
    for (int k = 0; k < nops; k++) memmove(strides[k], strides[k] + from, sizeof(int64_t) * (size_t)m);
    return m;
}

void gl_bwalk_init(gl_bwalk *w, int nd, const int64_t *shape, int ns, const int64_t *sshape)
{
    int64_t *st = w->stride;
    w->total = gl_numel(nd, shape);
    gl_broadcast_strides(w->stride, nd, ns, sshape);
    memcpy(w->shape, shape, sizeof(int64_t) * (size_t)nd);
    w->nd = gl_collapse_dims(nd, w->shape, 1, &st);
    memset(w->idx, 0, sizeof w->idx);
    w->inner = w->shape[w->nd - 1];
    w->step = w->stride[w->nd - 1];
    w->off = 0;
}

static void broadcast_copy(float *dst, int nd, const int64_t *shape, const float *src, int ns,
                           const int64_t *sshape)
{
    gl_bwalk w;
    gl_bwalk_init(&w, nd, shape, ns, sshape);
    for (int64_t o = 0; o < w.total; o += w.inner, gl_bwalk_next(&w)) {
        if (w.step) memcpy(dst + o, src + w.off, sizeof(float) * (size_t)w.inner);
        else for (int64_t j = 0; j < w.inner; j++) dst[o + j] = src[w.off];
    }
}

gl_status gl_tensor_copy_(gl_tensor *dst, const gl_tensor *src)
{
    int nd;
    int64_t shape[GL_MAX_DIMS];
    GL_TRY(gl_broadcast_shape("copy_", dst, src, &nd, shape));
    if (nd != dst->ndim || gl_numel(nd, shape) != dst->numel) {
        char b1[96], b2[96];
        return gl_fail(GL_ERR_SHAPE, "copy_: source %s does not broadcast to destination %s",
                       gl_tensor_shape_str(src, b1, sizeof b1), gl_tensor_shape_str(dst, b2, sizeof b2));
    }
    if (src->numel == dst->numel) memmove(dst->data, src->data, sizeof(float) * (size_t)dst->numel);
    else broadcast_copy(dst->data, dst->ndim, dst->shape, src->data, src->ndim, src->shape);
    gl_tensor_bump(dst);
    return GL_OK;
}

/* Used by expand. */
void gl_kernel_broadcast_copy(float *dst, int nd, const int64_t *shape, const float *src, int ns,
                              const int64_t *sshape)
{
    broadcast_copy(dst, nd, shape, src, ns, sshape);
}

void gl_set_num_threads(int n)
{
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
    gl_conv_set_threads(n);
}

int gl_get_num_threads(void) { return openblas_get_num_threads(); }

const char *gl_blas_backend(void)
{
    static char buf[160];
    snprintf(buf, sizeof buf, "%s (core %s)", openblas_get_config(), openblas_get_corename());
    return buf;
}

gl_status gl_tensor_one_hot(gl_tensor **out, const gl_tensor *idx, int64_t n_classes)
{
    if (n_classes < 1) return gl_fail(GL_ERR_ARG, "one_hot: %lld classes", (long long)n_classes);
    if (idx->ndim >= GL_MAX_DIMS) return gl_fail(GL_ERR_ARG, "one_hot: too many dims");
    int64_t shape[GL_MAX_DIMS];
    memcpy(shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    shape[idx->ndim] = n_classes;
    for (int64_t i = 0; i < idx->numel; i++) {
        float v = idx->data[i];
        if (!(v >= 1.0f && v <= (float)n_classes && v == floorf(v)))
            return gl_fail(GL_ERR_ARG, "one_hot: class %g at position %lld is not an integer in 1..%lld", v,
                           (long long)i + 1, (long long)n_classes);
    }
    GL_TRY(gl_tensor_zeros(out, idx->ndim + 1, shape));
    for (int64_t i = 0; i < idx->numel; i++) (*out)->data[i * n_classes + (int64_t)idx->data[i] - 1] = 1.0f;
    return GL_OK;
}

gl_status gl_tensor_arange(gl_tensor **out, double a, double b, double s)
{
    if (!isfinite(a) || !isfinite(b) || !isfinite(s))
        return gl_fail(GL_ERR_ARG, "arange: start, end and step must be finite, got %g, %g, %g", a, b, s);
    if (s == 0) return gl_fail(GL_ERR_ARG, "arange: step must be non-zero");
    double cnt = ceil((b - a) / s);
    if (cnt < 0) cnt = 0;
    if (cnt > 2147483648.0) return gl_fail(GL_ERR_NOMEM, "arange: %.0f elements is too many", cnt);
    int64_t n = (int64_t)cnt;
    GL_TRY(gl_tensor_new(out, 1, &n));
    for (int64_t i = 0; i < n; i++) (*out)->data[i] = (float)(a + s * (double)i);
    return GL_OK;
}

gl_status gl_tensor_linspace(gl_tensor **out, double a, double b, int64_t n)
{
    if (!isfinite(a) || !isfinite(b)) return gl_fail(GL_ERR_ARG, "linspace: start and end must be finite, got %g, %g", a, b);
    if (n < 0) return gl_fail(GL_ERR_ARG, "linspace: steps must be non-negative, got %lld", (long long)n);
    GL_TRY(gl_tensor_new(out, 1, &n));
    for (int64_t i = 0; i < n; i++) (*out)->data[i] = (float)(n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1));
    return GL_OK;
}

gl_status gl_tensor_eye(gl_tensor **out, int64_t n, int64_t m)
{
    if (n < 0 || m < 0) return gl_fail(GL_ERR_ARG, "eye: sizes must be non-negative, got %lld x %lld", (long long)n, (long long)m);
    int64_t shape[2] = {n, m};
    GL_TRY(gl_tensor_zeros(out, 2, shape));
    for (int64_t i = 0; i < n && i < m; i++) (*out)->data[i * m + i] = 1.0f;
    return GL_OK;
}

gl_status gl_tensor_dot(double *out, const gl_tensor *a, const gl_tensor *b)
{
    if (a->numel != b->numel)
        return gl_fail(GL_ERR_SHAPE, "dot: %lld and %lld elements", (long long)a->numel, (long long)b->numel);
    double s = 0;
    for (int64_t i = 0; i < a->numel; i++) s += (double)a->data[i] * (double)b->data[i];
    *out = s;
    return GL_OK;
}
