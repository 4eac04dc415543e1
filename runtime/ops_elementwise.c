/* ops_elementwise.c — broadcasting binary ops, ops with a number, unary
 * activations and comparisons, each forward beside its backward.
 *
 * Backward functions are written with differentiable ops so that under
 * create_graph the gradient has a graph of its own. When no graph is
 * wanted (grad mode off during backward), the unary ops take a fused
 * one-loop path instead; tests hold the two paths against each other. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* the binary ops are gl_binop (ganlua.h), one enum for the whole tree */
static inline float bapply(int op, float x, float y)
{
    switch (op) {
    case GL_BIN_ADD: return x + y;
    case GL_BIN_SUB: return x - y;
    case GL_BIN_MUL: return x * y;
    case GL_BIN_DIV: return x / y;
    case GL_BIN_POW: return powf(x, y);
    case GL_BIN_MAX: return x > y ? x : (y > x ? y : (isnan(x) ? x : y));
    default: return x < y ? x : (y < x ? y : (isnan(x) ? x : y));
    }
}

/* Contiguous loops the compiler can vectorise, one per op and layout. */
#define DEFINE_LOOPS(NAME, EXPR)                                                          \
    static void NAME##_vv(float *o, const float *a, const float *b, int64_t n)            \
    {                                                                                     \
        for (int64_t i = 0; i < n; i++) { float x = a[i], y = b[i]; o[i] = (EXPR); }      \
    }                                                                                     \
    static void NAME##_vs(float *o, const float *a, float y, int64_t n)                   \
    {                                                                                     \
        for (int64_t i = 0; i < n; i++) { float x = a[i]; o[i] = (EXPR); }                \
    }                                                                                     \
    static void NAME##_sv(float *o, float x, const float *b, int64_t n)                   \
    {                                                                                     \
        for (int64_t i = 0; i < n; i++) { float y = b[i]; o[i] = (EXPR); }                \
    }
DEFINE_LOOPS(add, x + y)
DEFINE_LOOPS(sub, x - y)
DEFINE_LOOPS(mul, x * y)
DEFINE_LOOPS(div, x / y)

static void run_vv(int op, float *o, const float *a, const float *b, int64_t n)
{
    switch (op) {
    case GL_BIN_ADD: add_vv(o, a, b, n); return;
    case GL_BIN_SUB: sub_vv(o, a, b, n); return;
    case GL_BIN_MUL: mul_vv(o, a, b, n); return;
    case GL_BIN_DIV: div_vv(o, a, b, n); return;
    default: for (int64_t i = 0; i < n; i++) o[i] = bapply(op, a[i], b[i]);
    }
}
static void run_vs(int op, float *o, const float *a, float y, int64_t n)
{
    switch (op) {
    case GL_BIN_ADD: add_vs(o, a, y, n); return;
    case GL_BIN_SUB: sub_vs(o, a, y, n); return;
    case GL_BIN_MUL: mul_vs(o, a, y, n); return;
    case GL_BIN_DIV: div_vs(o, a, y, n); return;
    default: for (int64_t i = 0; i < n; i++) o[i] = bapply(op, a[i], y);
    }
}
static void run_sv(int op, float *o, float x, const float *b, int64_t n)
{
    switch (op) {
    case GL_BIN_ADD: add_sv(o, x, b, n); return;
    case GL_BIN_SUB: sub_sv(o, x, b, n); return;
    case GL_BIN_MUL: mul_sv(o, x, b, n); return;
    case GL_BIN_DIV: div_sv(o, x, b, n); return;
    default: for (int64_t i = 0; i < n; i++) o[i] = bapply(op, x, b[i]);
    }
}

/* out (shape) = a op b with broadcasting: an odometer over the outer dims,
 * and for the innermost dim one of the contiguous loops above. */
static void binary_kernel(int op, gl_tensor *out, const gl_tensor *a, const gl_tensor *b)
{
    int64_t n = out->numel;
    if (n == 0) return;
    if (a->numel == n && b->numel == n) { run_vv(op, out->data, a->data, b->data, n); return; }
    if (b->numel == 1) { run_vs(op, out->data, a->data, b->data[0], n); return; }
    if (a->numel == 1) { run_sv(op, out->data, a->data[0], b->data, n); return; }
    int nd = out->ndim;
    int64_t sa[GL_MAX_DIMS], sb[GL_MAX_DIMS];
    gl_broadcast_strides(sa, nd, a->ndim, a->shape);
    gl_broadcast_strides(sb, nd, b->ndim, b->shape);
    int64_t shape[GL_MAX_DIMS], *strides[2] = {sa, sb};
    memcpy(shape, out->shape, sizeof(int64_t) * (size_t)nd);
    nd = gl_collapse_dims(nd, shape, 2, strides);
    int64_t inner = shape[nd - 1];
    int64_t idx[GL_MAX_DIMS] = {0}, oa = 0, ob = 0;
    for (int64_t o = 0; o < n; o += inner) {
        float *op_ = out->data + o;
        if (sa[nd - 1] && sb[nd - 1]) run_vv(op, op_, a->data + oa, b->data + ob, inner);
        else if (sa[nd - 1]) run_vs(op, op_, a->data + oa, b->data[ob], inner);
        else if (sb[nd - 1]) run_sv(op, op_, a->data[oa], b->data + ob, inner);
        else { float v = bapply(op, a->data[oa], b->data[ob]); for (int64_t j = 0; j < inner; j++) op_[j] = v; }
        for (int d = nd - 2; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < shape[d]) break;
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}

gl_status gl_reduce_like(gl_tensor **out, gl_tensor *x, int ndim, const int64_t *shape)
{
    if (x->ndim == ndim && memcmp(x->shape, shape, sizeof(int64_t) * (size_t)ndim) == 0) {
        *out = gl_tensor_retain(x);
        return GL_OK;
    }
    return gl_op_sum_to(out, x, ndim, shape);
}

/* Gradient of a broadcast input: sum g*factor down to the input's shape. */
static gl_status to_input(gl_node *n, int i, gl_tensor *t, gl_tensor **gin)
{
    gl_status st = gl_reduce_like(gin, t, n->in_ndim[i], n->in_shape[i]);
    gl_tensor_release(t);
    return st;
}

/* Gradient x*y summed to input i's shape. */
static gl_status mul_to_input(gl_node *n, int i, gl_tensor *x, gl_tensor *y, gl_tensor **gin)
{
    gl_tensor *t;
    GL_TRY(gl_op_mul(&t, x, y));
    return to_input(n, i, t, gin);
}

static gl_status binary_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    int op = (int)n->i[0];
    gl_tensor *a = NULL, *b = NULL, *t = NULL, *u = NULL, *v = NULL;
    gl_status st = GL_OK;
    if (op == GL_BIN_ADD || op == GL_BIN_SUB) {
        if (needs[0]) st = gl_reduce_like(&gin[0], g, n->in_ndim[0], n->in_shape[0]);
        if (st == GL_OK && needs[1]) {
            if (op == GL_BIN_ADD) st = gl_reduce_like(&gin[1], g, n->in_ndim[1], n->in_shape[1]);
            else if ((st = gl_op_affine(&t, g, -1.0f, 0.0f)) == GL_OK) st = to_input(n, 1, t, &gin[1]);
        }
        return st;
    }
    if ((st = gl_node_saved(n, 0, &a)) != GL_OK) goto out;
    if ((st = gl_node_saved(n, 1, &b)) != GL_OK) goto out;
    switch (op) {
    case GL_BIN_MUL: /* d(ab) = b da + a db */
        if (needs[0] && (st = mul_to_input(n, 0, g, b, &gin[0]))) goto out;
        if (needs[1] && (st = mul_to_input(n, 1, g, a, &gin[1]))) goto out;
        break;
    case GL_BIN_DIV: /* d(a/b) = da / b - a db / b^2 */
        if (needs[0]) {
            if ((st = gl_op_div(&t, g, b))) goto out;
            st = to_input(n, 0, t, &gin[0]);
            t = NULL;
            if (st) goto out;
        }
        if (needs[1]) {
            if ((st = gl_op_mul(&u, g, a)) || (st = gl_op_mul(&v, b, b)) || (st = gl_op_div(&t, u, v))) goto out;
            gl_tensor_release(u); u = NULL;
            if ((st = gl_op_affine(&u, t, -1.0f, 0.0f))) goto out;
            gl_tensor_release(t); t = NULL;
            if ((st = to_input(n, 1, u, &gin[1]))) { u = NULL; goto out; }
            u = NULL;
        }
        break;
    case GL_BIN_POW: /* d(a^b) = b a^(b-1) da + a^b log(a) db */
        if (needs[0]) {
            gl_tensor *bm1 = NULL;
            if ((st = gl_op_affine(&bm1, b, 1.0f, -1.0f))) goto out;
            st = gl_op_pow(&u, a, bm1);
            gl_tensor_release(bm1);
            if (st || (st = gl_op_mul(&v, u, b)) || (st = gl_op_mul(&t, v, g))) goto out;
            if ((st = to_input(n, 0, t, &gin[0]))) { t = NULL; goto out; }
            t = NULL;
            gl_tensor_release(u); gl_tensor_release(v); u = v = NULL;
        }
        if (needs[1]) {
            if ((st = gl_op_pow(&u, a, b)) || (st = gl_op_unary(&v, GL_U_LOG, a))) goto out;
            gl_tensor *w = NULL;
            if ((st = gl_op_mul(&w, u, v))) goto out;
            st = gl_op_mul(&t, w, g);
            gl_tensor_release(w);
            if (st || (st = to_input(n, 1, t, &gin[1]))) { t = NULL; goto out; }
            t = NULL;
        }
        break;
    default: { /* maximum/minimum: the larger (smaller) side gets g; ties split */
        const char *name = op == GL_BIN_MAX ? "maximum" : "minimum";
        int nd;
        int64_t shape[GL_MAX_DIMS];
        if ((st = gl_broadcast_shape(name, a, b, &nd, shape)) ||
            (st = gl_tensor_new(&u, nd, shape)))
            goto out;
        int64_t N = u->numel;
        /* u = 1 where a wins, 0.5 on ties, 0 where b wins; b's share is 1 - u */
        {
            gl_tensor *cmp = NULL, *eq = NULL;
            if ((st = gl_op_compare(&cmp, op == GL_BIN_MAX ? GL_CMP_GT : GL_CMP_LT, a, b)) ||
                (st = gl_op_compare(&eq, GL_CMP_EQ, a, b))) {
                gl_tensor_release(cmp);
                goto out;
            }
            for (int64_t k = 0; k < N; k++) u->data[k] = cmp->data[k] + 0.5f * eq->data[k];
            gl_tensor_release(cmp);
            gl_tensor_release(eq);
        }
        if (needs[0] && (st = mul_to_input(n, 0, g, u, &gin[0]))) goto out;
        if (needs[1]) {
            if ((st = gl_op_affine(&v, u, -1.0f, 1.0f)) || (st = mul_to_input(n, 1, g, v, &gin[1])))
                goto out;
        }
        break;
    }
    }
out:
    gl_tensor_release(a);
    gl_tensor_release(b);
    gl_tensor_release(t);
    gl_tensor_release(u);
    gl_tensor_release(v);
    return st;
}

static const char *bnames[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};
static const gl_op bops[] = {GL_OP_ADD, GL_OP_SUB, GL_OP_MUL, GL_OP_DIV, GL_OP_POW, GL_OP_MAXIMUM, GL_OP_MINIMUM};

static gl_status binary(gl_tensor **out, int op, gl_tensor *a, gl_tensor *b)
{
    int nd;
    int64_t shape[GL_MAX_DIMS];
    GL_TRY(gl_broadcast_shape(bnames[op], a, b, &nd, shape));
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    binary_kernel(op, o, a, b);
    gl_status st;
    gl_tensor *ins[2] = {a, b};
    gl_node *n = gl_record(&st, bops[op], binary_backward, o, 2, ins);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = op;
        if (op != GL_BIN_ADD && op != GL_BIN_SUB) {
            gl_node_save(n, a, 0);
            gl_node_save(n, b, 0);
        }
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_add(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_ADD, a, b); }
gl_status gl_op_sub(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_SUB, a, b); }
gl_status gl_op_mul(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_MUL, a, b); }
gl_status gl_op_div(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_DIV, a, b); }
gl_status gl_op_pow(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_POW, a, b); }
gl_status gl_op_maximum(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_MAX, a, b); }
gl_status gl_op_minimum(gl_tensor **out, gl_tensor *a, gl_tensor *b) { return binary(out, GL_BIN_MIN, a, b); }

/* ------------------------------------------------ affine: alpha x + beta */

static gl_status affine_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_affine(&gin[0], g, n->f[0], 0.0f);
}

gl_status gl_op_affine(gl_tensor **out, gl_tensor *x, float alpha, float beta)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    const float *p = x->data;
    float *q = o->data;
    for (int64_t i = 0; i < x->numel; i++) q[i] = alpha * p[i] + beta;
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_AFFINE, affine_backward, o, 1, &x);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) n->f[0] = alpha;
    *out = o;
    return GL_OK;
}

/* ----------------------------------------------------------- x ^ p */

static gl_status pow_scalar_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    float p = n->f[0];
    gl_tensor *x = NULL, *t = NULL, *u = NULL;
    gl_status st;
    if (p == 0.0f) {
        if ((st = gl_tensor_zeros(&gin[0], g->ndim, g->shape))) return st;
        return GL_OK;
    }
    if ((st = gl_node_saved(n, 0, &x))) return st;
    if (p == 1.0f) st = gl_op_affine(&gin[0], g, 1.0f, 0.0f);
    else if (p == 2.0f) {
        if (!(st = gl_op_mul(&t, g, x))) st = gl_op_affine(&gin[0], t, 2.0f, 0.0f);
    } else {
        /* p x^(p-1) g */
        if (!(st = gl_op_pow_scalar(&t, x, p - 1.0f)) && !(st = gl_op_mul(&u, t, g)))
            st = gl_op_affine(&gin[0], u, p, 0.0f);
    }
    gl_tensor_release(x);
    gl_tensor_release(t);
    gl_tensor_release(u);
    return st;
}

gl_status gl_op_pow_scalar(gl_tensor **out, gl_tensor *x, float p)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    const float *a = x->data;
    float *q = o->data;
    int64_t N = x->numel;
    if (p == 2.0f) for (int64_t i = 0; i < N; i++) q[i] = a[i] * a[i];
    else if (p == 1.0f) for (int64_t i = 0; i < N; i++) q[i] = a[i];
    else if (p == 0.5f) for (int64_t i = 0; i < N; i++) q[i] = sqrtf(a[i]);
    else if (p == -1.0f) for (int64_t i = 0; i < N; i++) q[i] = 1.0f / a[i];
    else for (int64_t i = 0; i < N; i++) q[i] = powf(a[i], p);
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_POW_SCALAR, pow_scalar_backward, o, 1, &x);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) {
        n->f[0] = p;
        gl_node_save(n, x, 0);
    }
    *out = o;
    return GL_OK;
}

gl_status gl_op_rdiv(gl_tensor **out, float s, gl_tensor *x)
{
    gl_tensor *inv;
    GL_TRY(gl_op_pow_scalar(&inv, x, -1.0f));
    gl_status st = gl_op_affine(out, inv, s, 0.0f);
    gl_tensor_release(inv);
    return st;
}

gl_status gl_op_rpow(gl_tensor **out, float s, gl_tensor *x)
{
    /* s^x = exp(x log s); a non-positive base has no real log */
    if (!(s > 0.0f)) {
        gl_tensor *b;
        GL_TRY(gl_full(&b, 0, NULL, s));
        gl_status st = gl_op_pow(out, b, x);
        gl_tensor_release(b);
        return st;
    }
    gl_tensor *t;
    GL_TRY(gl_op_affine(&t, x, logf(s), 0.0f));
    gl_status st = gl_op_unary(out, GL_U_EXP, t);
    gl_tensor_release(t);
    return st;
}

/* ------------------------------------------------------------- unary */

static inline float sigmoidf(float x)
{
    /* stable on both sides */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* The constant masks the unary backwards multiply by (no graph). */
typedef enum {
    MASK_POSITIVE, /* 1 where x > 0, else a (relu: 0, leaky relu: its slope) */
    MASK_INSIDE,   /* 1 where a <= x <= b, else 0 (clamp) */
    MASK_BELOW     /* 0 where x * a > b, else 1 (softplus past its threshold) */
} mask_kind;

static gl_status mask_of(gl_tensor **out, const gl_tensor *x, mask_kind kind, float a, float b)
{
    GL_TRY(gl_tensor_new_like(out, x));
    const float *p = x->data;
    float *q = (*out)->data;
    int64_t N = x->numel;
    switch (kind) {
    case MASK_POSITIVE: for (int64_t i = 0; i < N; i++) q[i] = p[i] > 0.0f ? 1.0f : a; break;
    case MASK_INSIDE: for (int64_t i = 0; i < N; i++) q[i] = (p[i] >= a && p[i] <= b) ? 1.0f : 0.0f; break;
    case MASK_BELOW: for (int64_t i = 0; i < N; i++) q[i] = p[i] * a > b ? 0.0f : 1.0f; break;
    }
    return GL_OK;
}

GL_CLONES static gl_status unary_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    gl_unary u = (gl_unary)n->i[0];
    gl_tensor *s = NULL, *t = NULL, *v = NULL;
    gl_status st;
    if (u == GL_U_SIGN) return gl_tensor_zeros(&gin[0], g->ndim, g->shape);
    if ((st = gl_node_saved(n, 0, &s))) return st; /* x, or out for exp/sqrt/sigmoid/tanh */
    if (!gl_grad_enabled()) {
        /* fused: one loop, no temporaries */
        if ((st = gl_tensor_new_like(&t, g))) goto out;
        const float *restrict G = g->data, *restrict S = s->data;
        float *restrict R = t->data;
        int64_t N = g->numel;
        switch (u) {
        case GL_U_EXP: for (int64_t i = 0; i < N; i++) R[i] = G[i] * S[i]; break;
        case GL_U_LOG: for (int64_t i = 0; i < N; i++) R[i] = G[i] / S[i]; break;
        case GL_U_SQRT: for (int64_t i = 0; i < N; i++) R[i] = 0.5f * G[i] / S[i]; break;
        case GL_U_ABS: /* branch-free: g sign(x) */
            for (int64_t i = 0; i < N; i++) R[i] = G[i] * (float)((S[i] > 0.0f) - (S[i] < 0.0f));
            break;
        case GL_U_SIGMOID: for (int64_t i = 0; i < N; i++) R[i] = G[i] * S[i] * (1.0f - S[i]); break;
        case GL_U_TANH: for (int64_t i = 0; i < N; i++) R[i] = G[i] * (1.0f - S[i] * S[i]); break;
        case GL_U_RELU: /* load g unconditionally so the select vectorises */
            for (int64_t i = 0; i < N; i++) {
                float gi = G[i];
                R[i] = S[i] > 0.0f ? gi : 0.0f;
            }
            break;
        case GL_U_ERF: /* g 2 / sqrt(pi) exp(-x^2) */
            for (int64_t i = 0; i < N; i++) R[i] = G[i] * 1.12837917f * expf(-S[i] * S[i]);
            break;
        default: GL_ASSERT(0);
        }
        gin[0] = t;
        t = NULL;
        goto out;
    }
    switch (u) {
    case GL_U_EXP: st = gl_op_mul(&gin[0], g, s); break;
    case GL_U_LOG: st = gl_op_div(&gin[0], g, s); break;
    case GL_U_SQRT:
        if (!(st = gl_op_div(&t, g, s))) st = gl_op_affine(&gin[0], t, 0.5f, 0.0f);
        break;
    case GL_U_ABS:
        if (!(st = gl_op_unary(&t, GL_U_SIGN, s))) st = gl_op_mul(&gin[0], g, t);
        break;
    case GL_U_SIGMOID: /* g s (1 - s) */
        if (!(st = gl_op_affine(&t, s, -1.0f, 1.0f)) && !(st = gl_op_mul(&v, s, t)))
            st = gl_op_mul(&gin[0], g, v);
        break;
    case GL_U_TANH: /* g (1 - s^2) */
        if (!(st = gl_op_mul(&t, s, s)) && !(st = gl_op_affine(&v, t, -1.0f, 1.0f)))
            st = gl_op_mul(&gin[0], g, v);
        break;
    case GL_U_RELU:
        if (!(st = mask_of(&t, s, MASK_POSITIVE, 0.0f, 0.0f))) st = gl_op_mul(&gin[0], g, t);
        break;
    case GL_U_ERF: /* g 2 / sqrt(pi) exp(-x^2), from differentiable ops */
        if (!(st = gl_op_mul(&t, s, s)) && !(st = gl_op_affine(&v, t, -1.0f, 0.0f))) {
            gl_tensor_release(t);
            t = NULL;
            if (!(st = gl_op_unary(&t, GL_U_EXP, v))) {
                gl_tensor_release(v);
                v = NULL;
                if (!(st = gl_op_affine(&v, t, 1.12837917f, 0.0f))) st = gl_op_mul(&gin[0], g, v);
            }
        }
        break;
    default: GL_ASSERT(0);
    }
out:
    gl_tensor_release(s);
    gl_tensor_release(t);
    gl_tensor_release(v);
    return st;
}

GL_CLONES gl_status gl_op_unary(gl_tensor **out, gl_unary u, gl_tensor *x)
{
    if ((int)u < 0 || u >= GL_U_COUNT) return gl_fail(GL_ERR_ARG, "unary: unknown op %d", (int)u);
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    const float *p = x->data;
    float *q = o->data;
    int64_t N = x->numel;
    switch (u) {
    case GL_U_EXP: for (int64_t i = 0; i < N; i++) q[i] = expf(p[i]); break;
    case GL_U_LOG: for (int64_t i = 0; i < N; i++) q[i] = logf(p[i]); break;
    case GL_U_SQRT: for (int64_t i = 0; i < N; i++) q[i] = sqrtf(p[i]); break;
    case GL_U_ABS: for (int64_t i = 0; i < N; i++) q[i] = fabsf(p[i]); break;
    case GL_U_SIGN: for (int64_t i = 0; i < N; i++) q[i] = (float)((p[i] > 0) - (p[i] < 0)); break;
    case GL_U_SIGMOID: for (int64_t i = 0; i < N; i++) q[i] = sigmoidf(p[i]); break;
    case GL_U_TANH: for (int64_t i = 0; i < N; i++) q[i] = tanhf(p[i]); break;
    case GL_U_RELU: for (int64_t i = 0; i < N; i++) q[i] = p[i] > 0.0f ? p[i] : 0.0f; break;
    case GL_U_ERF: for (int64_t i = 0; i < N; i++) q[i] = erff(p[i]); break;
    default: break;
    }
    gl_status st;
    gl_node *n = gl_record(&st, GL_OP_UNARY, unary_backward, o, 1, &x);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = u;
        /* relu's mask is out > 0 as well as x > 0: keeping the output (which
         * the next layer keeps anyway) lets x go, as PyTorch's relu does;
         * in a conv + BatchNorm + ReLU stack that is a third of the
         * activations a step holds */
        int save_out = u == GL_U_EXP || u == GL_U_SQRT || u == GL_U_SIGMOID || u == GL_U_TANH || u == GL_U_RELU;
        if (u != GL_U_SIGN) gl_node_save(n, save_out ? o : x, save_out);
    }
    *out = o;
    return GL_OK;
}

/* --------------------------------------------- leaky_relu, softplus, clamp */

GL_CLONES static gl_status masked_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    gl_tensor *x = NULL, *m = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &x))) return st;
    if (n->op == GL_OP_LEAKY_RELU) {
        if (!gl_grad_enabled()) {
            float slope = n->f[0];
            if (!(st = gl_tensor_new_like(&m, g))) {
                for (int64_t i = 0; i < g->numel; i++)
                    m->data[i] = x->data[i] > 0.0f ? g->data[i] : slope * g->data[i];
                gin[0] = m;
                m = NULL;
            }
        } else if (!(st = mask_of(&m, x, MASK_POSITIVE, n->f[0], 0.0f))) {
            st = gl_op_mul(&gin[0], g, m);
        }
    } else if (n->op == GL_OP_CLAMP) {
        if (!(st = mask_of(&m, x, MASK_INSIDE, n->f[0], n->f[1]))) st = gl_op_mul(&gin[0], g, m);
    } else if (!gl_grad_enabled()) { /* softplus, fused: g sigmoid(beta x) below the threshold, g above */
        float beta = n->f[0], thr = n->f[1];
        if (!(st = gl_tensor_new_like(&m, g))) {
            const float *restrict X = x->data, *restrict G = g->data;
            float *restrict R = m->data;
            for (int64_t i = 0; i < g->numel; i++) {
                float bx = beta * X[i];
                R[i] = bx > thr ? G[i] : G[i] * sigmoidf(bx);
            }
            gin[0] = m;
            m = NULL;
        }
    } else { /* softplus: g sigmoid(beta x) below the threshold, g above, from differentiable ops */
        float beta = n->f[0], thr = n->f[1];
        gl_tensor *bx = NULL, *sg = NULL, *t = NULL, *keep = NULL;
        if (!(st = gl_op_affine(&bx, x, beta, 0.0f)) && !(st = gl_op_unary(&sg, GL_U_SIGMOID, bx)) &&
            !(st = mask_of(&keep, x, MASK_BELOW, beta, thr)) && !(st = gl_op_mul(&t, sg, keep))) {
            /* d = sg * keep + (1 - keep); keep is saved by the mul above,
             * so the complement goes into a tensor of its own */
            gl_tensor *d = NULL, *rest = NULL;
            if (!(st = gl_op_compare_scalar(&rest, GL_CMP_EQ, keep, 0.0f)) && !(st = gl_op_add(&d, t, rest)))
                st = gl_op_mul(&gin[0], g, d);
            gl_tensor_release(d);
            gl_tensor_release(rest);
        }
        gl_tensor_release(bx);
        gl_tensor_release(sg);
        gl_tensor_release(t);
        gl_tensor_release(keep);
    }
    gl_tensor_release(x);
    gl_tensor_release(m);
    return st;
}

/* save_out: the backward reads its mask from the output o instead of x */
static gl_status record_masked(gl_tensor **out, gl_tensor *o, gl_tensor *x, gl_op op, float f0, float f1, int save_out)
{
    gl_status st;
    gl_node *n = gl_record(&st, op, masked_backward, o, 1, &x);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) {
        n->f[0] = f0;
        n->f[1] = f1;
        gl_node_save(n, save_out ? o : x, save_out);
    }
    *out = o;
    return GL_OK;
}

GL_CLONES gl_status gl_op_leaky_relu(gl_tensor **out, gl_tensor *x, float slope)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    for (int64_t i = 0; i < x->numel; i++) {
        float v = x->data[i];
        o->data[i] = v > 0.0f ? v : slope * v;
    }
    /* for a slope >= 0, out > 0 exactly where x > 0: the output serves as the
     * mask (see relu), so x can go */
    return record_masked(out, o, x, GL_OP_LEAKY_RELU, slope, 0.0f, slope >= 0.0f);
}

gl_status gl_op_softplus(gl_tensor **out, gl_tensor *x, float beta, float threshold)
{
    if (beta == 0.0f) return gl_fail(GL_ERR_ARG, "softplus: beta must be non-zero");
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    for (int64_t i = 0; i < x->numel; i++) {
        float bx = beta * x->data[i];
        /* log1p(exp(bx)) = max(bx, 0) + log1p(exp(-|bx|)) */
        o->data[i] = bx > threshold ? x->data[i]
                                    : (fmaxf(bx, 0.0f) + log1pf(expf(-fabsf(bx)))) / beta;
    }
    return record_masked(out, o, x, GL_OP_SOFTPLUS, beta, threshold, 0);
}

gl_status gl_op_clamp(gl_tensor **out, gl_tensor *x, float lo, float hi)
{
    if (lo > hi) return gl_fail(GL_ERR_ARG, "clamp: min %g is greater than max %g", lo, hi);
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    for (int64_t i = 0; i < x->numel; i++) {
        float v = x->data[i];
        o->data[i] = v < lo ? lo : (v > hi ? hi : v);
    }
    return record_masked(out, o, x, GL_OP_CLAMP, lo, hi, 0);
}

/* ------------------------------------------------- bce with logits */

/* l = softplus(x) - x t = max(x, 0) - x t + log1p(exp(-|x|));
 * dl/dx = sigmoid(x) - t, dl/dt = -x. One op instead of softplus, a
 * product and a difference, each with its own backward. */
static gl_status bce_logits_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    gl_tensor *x = NULL, *t = NULL, *a = NULL, *b = NULL;
    gl_status st;
    int has_t = n->n_in > 1;
    float tv = n->f[0];
    if ((st = gl_node_saved(n, 0, &x)) || (has_t && (st = gl_node_saved(n, 1, &t)))) goto out;
    if (!gl_grad_enabled()) { /* fused */
        const float *restrict X = x->data, *restrict G = g->data;
        int64_t N = x->numel;
        if (needs[0]) {
            if ((st = gl_tensor_new_like(&gin[0], x))) goto out;
            float *restrict R = gin[0]->data;
            if (!has_t) for (int64_t i = 0; i < N; i++) R[i] = G[i] * (sigmoidf(X[i]) - tv);
            else if (t->numel == 1) for (int64_t i = 0; i < N; i++) R[i] = G[i] * (sigmoidf(X[i]) - t->data[0]);
            else for (int64_t i = 0; i < N; i++) R[i] = G[i] * (sigmoidf(X[i]) - t->data[i]);
        }
        if (has_t && needs[1]) {
            if ((st = gl_tensor_new_like(&gin[1], t))) goto out;
            if (t->numel == 1) {
                double s = 0;
                for (int64_t i = 0; i < N; i++) s -= (double)X[i] * G[i];
                gin[1]->data[0] = (float)s;
            } else
                for (int64_t i = 0; i < N; i++) gin[1]->data[i] = -X[i] * G[i];
        }
        goto out;
    }
    /* from differentiable ops, for higher orders */
    if (needs[0] && !(st = gl_op_unary(&a, GL_U_SIGMOID, x))) {
        if (has_t) st = gl_op_sub(&b, a, t);
        else st = gl_op_affine(&b, a, 1.0f, -tv);
        if (!st) st = gl_op_mul(&gin[0], g, b);
    }
    if (!st && has_t && needs[1]) {
        gl_tensor_release(a);
        gl_tensor_release(b);
        a = b = NULL;
        if (!(st = gl_op_mul(&a, x, g)) && !(st = gl_op_affine(&b, a, -1.0f, 0.0f)))
            st = t->numel == 1 ? gl_op_sum_to(&gin[1], b, t->ndim, t->shape) : gl_op_affine(&gin[1], b, 1.0f, 0.0f);
    }
out:
    gl_tensor_release(x);
    gl_tensor_release(t);
    gl_tensor_release(a);
    gl_tensor_release(b);
    return st;
}

gl_status gl_op_bce_logits(gl_tensor **out, gl_tensor *x, gl_tensor *t, float tv)
{
    char b1[96], b2[96];
    if (t && t->numel != 1 && !gl_tensor_same_shape(t, x))
        return gl_fail(GL_ERR_SHAPE, "bce_with_logits: target %s does not match input %s", gl_tensor_shape_str(t, b1, sizeof b1),
                       gl_tensor_shape_str(x, b2, sizeof b2));
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    const float *restrict X = x->data;
    float *restrict R = o->data;
    for (int64_t i = 0; i < x->numel; i++) {
        float v = X[i], ti = t ? t->data[t->numel == 1 ? 0 : i] : tv;
        R[i] = fmaxf(v, 0.0f) - v * ti + log1pf(expf(-fabsf(v)));
    }
    gl_status st;
    gl_tensor *ins[2] = {x, t};
    gl_node *n = gl_record(&st, GL_OP_BCE_LOGITS, bce_logits_backward, o, t ? 2 : 1, ins);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    if (n) {
        n->f[0] = tv;
        gl_node_save(n, x, 0);
        if (t) gl_node_save(n, t, 0);
    }
    *out = o;
    return GL_OK;
}

/* ------------------------------------------------------------- compare */

static inline float cmpf(gl_cmp c, float x, float y)
{
    switch (c) {
    case GL_CMP_EQ: return x == y;
    case GL_CMP_NE: return x != y;
    case GL_CMP_LT: return x < y;
    case GL_CMP_LE: return x <= y;
    case GL_CMP_GT: return x > y;
    default: return x >= y;
    }
}

gl_status gl_op_compare(gl_tensor **out, gl_cmp c, gl_tensor *a, gl_tensor *b)
{
    int nd;
    int64_t shape[GL_MAX_DIMS];
    GL_TRY(gl_broadcast_shape("compare", a, b, &nd, shape));
    gl_tensor *o, *bx = NULL, *ax = NULL;
    GL_TRY(gl_tensor_new(&o, nd, shape));
    /* broadcast both sides (cheap; comparisons are not on hot paths) */
    gl_status st = GL_OK;
    const float *pa = a->data, *pb = b->data;
    if (a->numel != o->numel) {
        if ((st = gl_tensor_new(&ax, nd, shape)) || (st = gl_tensor_copy_(ax, a))) goto fail;
        pa = ax->data;
    }
    if (b->numel != o->numel) {
        if ((st = gl_tensor_new(&bx, nd, shape)) || (st = gl_tensor_copy_(bx, b))) goto fail;
        pb = bx->data;
    }
    for (int64_t i = 0; i < o->numel; i++) o->data[i] = cmpf(c, pa[i], pb[i]);
    gl_tensor_release(ax);
    gl_tensor_release(bx);
    *out = o;
    return GL_OK;
fail:
    gl_tensor_release(ax);
    gl_tensor_release(bx);
    gl_tensor_release(o);
    return st;
}

gl_status gl_op_compare_scalar(gl_tensor **out, gl_cmp c, gl_tensor *a, float s)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, a));
    for (int64_t i = 0; i < a->numel; i++) o->data[i] = cmpf(c, a->data[i], s);
    *out = o;
    return GL_OK;
}

/* --------------------------------------------------------------- clone */

static gl_status clone_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)n;
    (void)needs;
    gin[0] = gl_tensor_retain(g);
    return GL_OK;
}

gl_status gl_op_clone(gl_tensor **out, gl_tensor *x)
{
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    memcpy(o->data, x->data, sizeof(float) * (size_t)x->numel);
    gl_status st;
    gl_record(&st, GL_OP_CLONE, clone_backward, o, 1, &x);
    if (st != GL_OK) { gl_tensor_release(o); return st; }
    *out = o;
    return GL_OK;
}

/* ------------------------------------------------- a sum across processes */

static gl_status collective_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    return gl_op_collective_sum(&gin[0], g, n->coll, n->coll_ctx);
}

gl_status gl_op_collective_sum(gl_tensor **out, gl_tensor *x, gl_collective_fn fn, void *ctx)
{
    if (!fn) return gl_fail(GL_ERR_ARG, "collective_sum: no reduction given");
    gl_tensor *o;
    GL_TRY(gl_tensor_new_like(&o, x));
    memcpy(o->data, x->data, sizeof(float) * (size_t)x->numel);
    gl_status st = fn(ctx, o->data, o->numel);
    if (st != GL_OK) {
        gl_tensor_release(o);
        return st;
    }
    gl_node *n = gl_record(&st, GL_OP_COLLECTIVE_SUM, collective_backward, o, 1, &x);
    if (st != GL_OK) {
        gl_tensor_release(o);
        return st;
    }
    if (n) n->coll = fn, n->coll_ctx = ctx;
    *out = o;
    return GL_OK;
}

/* ----------------------------------------------------- the binary family */

const char *gl_binop_name(gl_binop op)
{
    static const char *names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"};
    return (unsigned)op < sizeof names / sizeof *names ? names[op] : "?";
}

gl_status gl_op_binary(gl_tensor **out, gl_binop op, gl_tensor *a, gl_tensor *b)
{
    switch (op) {
    case GL_BIN_ADD: return gl_op_add(out, a, b);
    case GL_BIN_SUB: return gl_op_sub(out, a, b);
    case GL_BIN_MUL: return gl_op_mul(out, a, b);
    case GL_BIN_DIV: return gl_op_div(out, a, b);
    case GL_BIN_POW: return gl_op_pow(out, a, b);
    case GL_BIN_MAX: return gl_op_maximum(out, a, b);
    case GL_BIN_MIN: return gl_op_minimum(out, a, b);
    }
    return gl_fail(GL_ERR_ARG, "binary: unknown op %d", (int)op);
}

gl_status gl_op_binary_scalar(gl_tensor **out, gl_binop op, gl_tensor *a, float s, int swapped)
{
    switch (op) {
    case GL_BIN_ADD: return gl_op_affine(out, a, 1.0f, s);
    case GL_BIN_SUB: return swapped ? gl_op_affine(out, a, -1.0f, s) : gl_op_affine(out, a, 1.0f, -s);
    case GL_BIN_MUL: return gl_op_affine(out, a, s, 0.0f);
    case GL_BIN_DIV: return swapped ? gl_op_rdiv(out, s, a) : gl_op_affine(out, a, 1.0f / s, 0.0f);
    case GL_BIN_POW: return swapped ? gl_op_rpow(out, s, a) : gl_op_pow_scalar(out, a, s);
    case GL_BIN_MAX:
    case GL_BIN_MIN: {
        gl_tensor *c = NULL;
        GL_TRY(gl_scalar(&c, s));
        gl_status st = op == GL_BIN_MAX ? gl_op_maximum(out, a, c) : gl_op_minimum(out, a, c);
        gl_tensor_release(c);
        return st;
    }
    }
    return gl_fail(GL_ERR_ARG, "binary: unknown op %d", (int)op);
}


gl_status gl_tensor_binary_scalar_(gl_tensor *t, gl_binop op, float s, const char *fn)
{
    if (op > GL_BIN_DIV) return gl_fail(GL_ERR_ARG, "%s: no in-place %s", fn, gl_binop_name(op));
    GL_TRY(gl_check_inplace(fn, t));
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = bapply(op, t->data[i], s);
    gl_tensor_bump(t);
    return GL_OK;
}

gl_status gl_tensor_binary_(gl_tensor *t, gl_binop op, gl_tensor *y, float alpha, const char *fn)
{
    if (op > GL_BIN_DIV) return gl_fail(GL_ERR_ARG, "%s: no in-place %s", fn, gl_binop_name(op));
    GL_TRY(gl_check_inplace(fn, t));
    if (op != GL_BIN_ADD && op != GL_BIN_SUB) alpha = 1.0f;
    if (y->storage == t->storage && y->data != t->data) { /* an overlapping view: read from a copy */
        gl_tensor *c = NULL;
        int prev = gl_set_grad_enabled(0);
        gl_status st = gl_op_clone(&c, y);
        gl_set_grad_enabled(prev);
        GL_TRY(st);
        st = gl_tensor_binary_(t, op, c, alpha, fn);
        gl_tensor_release(c);
        return st;
    }
    int same = y->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = y->shape[d] == t->shape[d];
    if (same || y->numel == 1) { /* the common cases, directly */
        const float *yd = y->data;
        if (same && yd == t->data) { /* x:add_(x) */
            for (int64_t i = 0; i < t->numel; i++) t->data[i] = bapply(op, t->data[i], alpha * t->data[i]);
        } else if (same) {
            for (int64_t i = 0; i < t->numel; i++) t->data[i] = bapply(op, t->data[i], alpha * yd[i]);
        } else {
            float v = alpha * yd[0];
            for (int64_t i = 0; i < t->numel; i++) t->data[i] = bapply(op, t->data[i], v);
        }
        gl_tensor_bump(t);
        return GL_OK;
    }
    /* y broadcasts into t: y expanded to t's shape (a fresh tensor), then the same loop */
    char b1[96], b2[96];
    gl_tensor *e = NULL;
    int prev = gl_set_grad_enabled(0);
    gl_status st = gl_op_expand(&e, y, t->ndim, t->shape);
    gl_set_grad_enabled(prev);
    if (st != GL_OK || e->numel != t->numel) {
        gl_tensor_release(e);
        return gl_fail(GL_ERR_SHAPE, "%s: %s does not broadcast into %s", fn, gl_tensor_shape_str(y, b1, sizeof b1),
                       gl_tensor_shape_str(t, b2, sizeof b2));
    }
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = bapply(op, t->data[i], alpha * e->data[i]);
    gl_tensor_release(e);
    gl_tensor_bump(t);
    return GL_OK;
}

gl_status gl_tensor_clamp_(gl_tensor *t, float lo, float hi)
{
    if (!(lo <= hi)) return gl_fail(GL_ERR_ARG, "clamp_: max (%g) is below min (%g)", hi, lo);
    GL_TRY(gl_check_inplace("clamp_", t));
    for (int64_t i = 0; i < t->numel; i++) {
        float v = t->data[i];
        t->data[i] = v < lo ? lo : (v > hi ? hi : v);
    }
    gl_tensor_bump(t);
    return GL_OK;
}
