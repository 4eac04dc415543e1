/* ops_minibatch.c — the pair kernel of minibatch discrimination
 * (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 3.2;
 * the layer around it, with its weight normalisation and bias, is
 * nn.MinibatchDiscrimination in stdlib/nn.lua).
 *
 *   M: N x B x C (the features times T),  D[b][i][j] = sum_c |M[i][b][c] - M[j][b][c]|
 *   o[i][b] = sum_{j != i} exp(-D[b][i][j])   (+ 1 with include_self: the j = i term)
 *   dM[k][b][c] = -sum_j (g[k][b] + g[j][b]) exp(-D[b][k][j]) sign(M[k][b][c] - M[j][b][c])
 *
 * The self pair adds exactly 1 to o and nothing to dM (its distance is 0,
 * sign(0) = 0), so include_self is a constant shift.
 *
 * How the kernels are laid out, and why:
 * - Each unordered pair is visited once. Per plane b, rows i run over the
 *   16-wide column blocks J from i's own block on; lanes j <= i of that
 *   block (and lanes past N in the last) are masked to 0. A pair's term
 *   goes to row i through a register accumulator reduced once per row, and
 *   to column j through a vector add into a column buffer.
 * - Vectors are GCC's vector extension, 16 floats wide, compiled per
 *   instruction set (GL_CLONES): one zmm, two ymm or four xmm. Every clone
 *   does the same operations in the same order, so all round alike.
 * - No subnormal reaches the arithmetic. exp(-d) is exactly 0 once
 *   d > 87 (below FLT_MIN; the old kernel clamped d there and returned
 *   1.6e-38 for every far pair), and the kernels run with FTZ/DAZ set:
 *   (g_k + g_j) * e of a tiny e is subnormal, and Intel cores take a
 *   microcode assist on each such product or sum while AMD's do not. With
 *   T ~ N(0, 1) every pair was far, so every backward product was subnormal.
 * - Scratch buffers are one allocation with a 64-byte skew between them,
 *   so a store and the next loads never share an address modulo 4096
 *   (Intel's 4K-aliasing stall); row reductions read registers, never a
 *   row just stored.
 * Under create_graph the backward is a composite of differentiable ops. */
#include "internal.h"

#include <math.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define GL_HAVE_MXCSR 1
#endif

/* The vector helpers are always inlined into each clone, so they take its
 * instruction set; the psabi note about passing vectors by value concerns
 * calls that never happen. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define VINLINE static inline __attribute__((always_inline))

#define VL 16
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

VINLINE vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
VINLINE void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
VINLINE vf vand(vf a, vi m) { return (vf)((vi)a & m); }
VINLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }

/* lanes 0..15 summed in a fixed tree (l + 8, then + 4, + 2, + 1), the same
 * in every clone; shuffles, so the lanes never go through memory */
typedef float vf8 __attribute__((vector_size(8 * sizeof(float))));
typedef float vf4 __attribute__((vector_size(4 * sizeof(float))));
VINLINE float vsum(vf v)
{
    vf8 h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
             __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    vf4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
    return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

/* exp(-d) for d >= 0 (or NaN): 2^k p(r), -d = k ln2 + r, |r| <= ln2/2,
 * p of degree 6 (relative error < 2e-7). Exactly 0 for d > 87 (where
 * exp(-d) < FLT_MIN would be subnormal); NaN stays NaN. No vector
 * compares: GCC scalarises a 16-lane compare lane by lane where the
 * clone lacks AVX-512, so masks come from the sign of integer
 * differences of the bit patterns (a non-negative float orders as its
 * bits do). */
VINLINE vf vexp_neg(vf d)
{
    vi bits = (vi)d;
    vi far = (0x42ae0000 - bits) >> 31;   /* d > 87.0f, NaN included: all ones */
    vi nan = (0x7f800000 - bits) >> 31;   /* d is NaN */
    vf x = -vand(d, ~far);                /* far lanes computed as exp(0), then dropped */
    vf t = x * 1.44269504f + 12582912.0f; /* 1.5 * 2^23 + k: round to nearest, no libm */
    vi ki = (vi)t - 0x4b400000;           /* k, read off the mantissa */
    vf k = t - 12582912.0f;
    vf r = x - k * 0.693145752f - k * 1.42860677e-6f;
    vf p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f + r * 0.00138888892f)))));
    vf scale = (vf)((ki + 127) << 23);
    return (vf)(((vi)(p * scale) & ~far) | (bits & nan));
}

/* The lane masks of the diagonal and the last block, built with scalar
 * stores once per call: diag[q] keeps lanes l > q, tail keeps the lanes
 * below N of the last block. (Vector compares of lane indices made GCC
 * scalarise the whole row loop.) */
typedef struct {
    vi diag[VL];
    vi tail;
} lane_masks;
static void masks_init(lane_masks *lm, int64_t N)
{
    int32_t d[VL][VL], t[VL];
    int64_t last = (N + VL - 1) / VL * VL - VL;
    for (int q = 0; q < VL; q++)
        for (int l = 0; l < VL; l++) d[q][l] = l > q ? -1 : 0;
    for (int l = 0; l < VL; l++) t[l] = last + l < N ? -1 : 0;
    memcpy(lm->diag, d, sizeof d);
    memcpy(&lm->tail, t, sizeof t);
}

static inline int64_t padded(int64_t N) { return (N + VL - 1) / VL * VL; }

/* mt[c][j] = M[j][b][c] for j < N, 0 up to Np: one plane, columns contiguous */
static void transpose_plane(const float *m, float *mt, int64_t N, int64_t Np, int64_t B, int64_t C, int64_t b)
{
    for (int64_t c = 0; c < C; c++) memset(mt + c * Np + N, 0, sizeof(float) * (size_t)(Np - N));
    for (int64_t j = 0; j < N; j++)
        for (int64_t c = 0; c < C; c++) mt[c * Np + j] = m[(j * B + b) * C + c];
}

typedef struct {
    unsigned csr;
} fpmode;
static fpmode flush_subnormals(void)
{
    fpmode f = {0};
#ifdef GL_HAVE_MXCSR
    f.csr = _mm_getcsr();
    _mm_setcsr(f.csr | 0x8040); /* FTZ | DAZ */
#endif
    return f;
}
static void restore_fpmode(fpmode f)
{
#ifdef GL_HAVE_MXCSR
    _mm_setcsr(f.csr);
#else
    (void)f;
#endif
}

/* Rows are taken R at a time: the R rows of a group share their column
 * range, each column vector is loaded once for all R, and the R
 * dependency chains (the distance sum, the exp polynomial) overlap. */
#define R 4

/* E: B x N x Np, row i of plane b holding e[b][i][j] for j > i in the
 * blocks from i's own on (the rest is never read). mt: C x Np, ocol: Np. */
GL_CLONES static void mbd_forward_kernel(const float *m, float *E, float *o, int64_t N, int64_t B, int64_t C,
                                         float self, float *mt, float *ocol, const lane_masks *lm)
{
    int64_t Np = padded(N), nb = Np / VL;
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, Np, B, C, b);
        memset(ocol, 0, sizeof(float) * (size_t)Np);
        float *Eb = E + b * N * Np;
        for (int64_t i0 = 0; i0 < N; i0 += R) { /* VL is a multiple of R: a group lies in one block */
            int64_t I = i0 / VL;
            vf racc[R] = {{0}};
            for (int64_t J = I; J < nb; J++) {
                vf d[R] = {{0}};
                for (int64_t c = 0; c < C; c++) {
                    vf col = vload(mt + c * Np + J * VL);
                    for (int r = 0; r < R; r++) d[r] += vabs(col - mt[c * Np + i0 + r]); /* rows past N read padding */
                }
                vf sum = {0};
                for (int r = 0; r < R; r++) {
                    vf e = vexp_neg(d[r]);
                    if (J == I) e = vand(e, lm->diag[(i0 + r) % VL]);
                    if (J == nb - 1) e = vand(e, lm->tail); /* rows past N: none of their lanes lie after them */
                    if (i0 + r >= N) e = (vf){0};
                    if (i0 + r < N) vstore(Eb + (i0 + r) * Np + J * VL, e);
                    racc[r] += e;
                    sum += e;
                }
                vstore(ocol + J * VL, vload(ocol + J * VL) + sum);
            }
            for (int r = 0; r < R && i0 + r < N; r++) o[(i0 + r) * B + b] = vsum(racc[r]);
        }
        for (int64_t i = 0; i < N; i++) o[i * B + b] += ocol[i] + self;
    }
}

/* dM as in the header. Per pair (k < j) and dim c, t = (g_k + g_j) e_kj
 * sign(M_k - M_j) enters dM_k as -t and dM_j as +t. acc: C x Np (the
 * column side, transposed like mt), w: R x Np (the group's weights
 * (g_k + g_j) e_kj), gcol: Np. */
GL_CLONES static void mbd_backward_kernel(const float *m, const float *E, const float *G, float *dM, int64_t N,
                                          int64_t B, int64_t C, float *mt, float *acc, float *w, float *gcol)
{
    int64_t Np = padded(N), nb = Np / VL;
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, Np, B, C, b);
        memset(acc, 0, sizeof(float) * (size_t)(C * Np));
        memset(gcol, 0, sizeof(float) * (size_t)Np);
        for (int64_t j = 0; j < N; j++) gcol[j] = G[j * B + b];
        const float *Eb = E + b * N * Np;
        for (int64_t k0 = 0; k0 < N; k0 += R) {
            int64_t K = k0 / VL;
            for (int r = 0; r < R; r++) {
                float *wr = w + r * Np;
                if (k0 + r >= N) { /* a row past N weighs nothing */
                    memset(wr + K * VL, 0, sizeof(float) * (size_t)(Np - K * VL));
                    continue;
                }
                const float *ek = Eb + (k0 + r) * Np;
                float gk = gcol[k0 + r];
                for (int64_t J = K; J < nb; J++) vstore(wr + J * VL, (vload(gcol + J * VL) + gk) * vload(ek + J * VL));
            }
            for (int64_t c = 0; c < C; c++) {
                const float *mc = mt + c * Np;
                float *ac = acc + c * Np;
                vf racc[R] = {{0}};
                for (int64_t J = K; J < nb; J++) {
                    vf col = vload(mc + J * VL), sum = {0};
                    for (int r = 0; r < R; r++) {
                        vf dl = mc[k0 + r] - col;
                        vi nz = -((vi)dl & 0x7fffffff) >> 31; /* dl != 0 (see vexp_neg on compares) */
                        vf t = vand((vf)((vi)vload(w + r * Np + J * VL) ^ ((vi)dl & (int32_t)0x80000000)), nz);
                        racc[r] += t;
                        sum += t;
                    }
                    vstore(ac + J * VL, vload(ac + J * VL) + sum);
                }
                for (int r = 0; r < R && k0 + r < N; r++) ac[k0 + r] -= vsum(racc[r]);
            }
        }
        for (int64_t j = 0; j < N; j++)
            for (int64_t c = 0; c < C; c++) dM[(j * B + b) * C + c] = acc[c * Np + j];
    }
}

/* Scratch for the kernels: n buffers of sizes[i] floats in one block of
 * *total floats (what gl_free_floats is given back), buffer i starting
 * 64 (i + 1) bytes past a multiple of 64 floats after the one before. */
static float *scratch_new(int n, const int64_t *sizes, float **bufs, size_t *total)
{
    size_t off = 0, at[8];
    for (int i = 0; i < n && i < 8; i++) {
        off += 16 * (size_t)(i + 1);
        at[i] = off;
        off += ((size_t)sizes[i] + 63) / 64 * 64;
    }
    float *p = gl_alloc_floats(off);
    if (!p) return NULL;
    for (int i = 0; i < n && i < 8; i++) bufs[i] = p + at[i];
    *total = off;
    return p;
}

static gl_status mbd_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    (void)needs;
    gl_tensor *M = NULL, *E = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &M)) || (st = gl_node_saved(n, 1, &E))) goto out;
    int64_t N = M->shape[0], B = M->shape[1], C = M->shape[2];
    if (!gl_grad_enabled()) {
        /* fused: one pass over the pairs */
        if ((st = gl_tensor_new(&gin[0], 3, M->shape))) goto out;
        int64_t Np = padded(N), sizes[4] = {C * Np, C * Np, R * Np, Np};
        float *buf[4];
        size_t total = 0;
        float *s = scratch_new(4, sizes, buf, &total);
        if (!s) {
            st = gl_fail(GL_ERR_NOMEM, "minibatch discrimination: out of memory");
            goto out;
        }
        fpmode f = flush_subnormals();
        mbd_backward_kernel(M->data, E->data, g->data, gin[0]->data, N, B, C, buf[0], buf[1], buf[2], buf[3]);
        restore_fpmode(f);
        gl_free_floats(s, total);
        goto out;
    }
    {
        /* composite, so the gradient has a graph of its own:
         * diff = M_i - M_j (N x N x B x C), e = exp(-sum_c |diff|),
         * dM = -sum_j ((g_i + g_j) e)[..., None] sign(diff); the self
         * pair's sign is 0, so it is the same with or without it */
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

gl_status gl_op_minibatch_disc(gl_tensor **out, gl_tensor *M, int include_self)
{
    char b1[96];
    if (M->ndim != 3)
        return gl_fail(GL_ERR_SHAPE, "minibatch discrimination: expected N x B x C, got %s", gl_tensor_shape_str(M, b1, sizeof b1));
    int64_t N = M->shape[0], B = M->shape[1], C = M->shape[2];
    if (N > INT32_MAX - VL)
        return gl_fail(GL_ERR_SHAPE, "minibatch discrimination: a batch of %lld is too large", (long long)N);
    int64_t Np = padded(N);
    int64_t es[3] = {B, N, Np}, os[2] = {N, B};
    gl_tensor *o = NULL, *E = NULL;
    GL_TRY(gl_tensor_new(&o, 2, os));
    gl_status st;
    if ((st = gl_tensor_new(&E, 3, es))) {
        gl_tensor_release(o);
        return st;
    }
    int64_t sizes[2] = {C * Np, Np};
    float *buf[2];
    size_t total = 0;
    float *s = scratch_new(2, sizes, buf, &total);
    if (!s) {
        gl_tensor_release(o);
        gl_tensor_release(E);
        return gl_fail(GL_ERR_NOMEM, "minibatch discrimination: out of memory");
    }
    lane_masks lm;
    masks_init(&lm, N);
    fpmode f = flush_subnormals();
    mbd_forward_kernel(M->data, E->data, o->data, N, B, C, include_self ? 1.0f : 0.0f, buf[0], buf[1], &lm);
    restore_fpmode(f);
    gl_free_floats(s, total);
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
