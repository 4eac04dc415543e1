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
 *   VL-wide column blocks J (VL the vector width) from i's own block on; lanes j <= i of that
 *   block (and lanes past N in the last) are masked to 0. A pair's term
 *   goes to row i through a register accumulator reduced once per row, and
 *   to column j through a vector add into a column buffer.
 * - Vectors are GCC's vector extension at the CPU's own width: 16 floats
 *   (AVX-512), 8 (AVX2) or 4 (SSE2), from one source (ops_minibatch_kern.h)
 *   compiled three times. A 16-wide vector in an AVX2 function was 5-8x
 *   slower: GCC kept its halves on the stack.
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
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#include <immintrin.h>
#endif

/* The kernels are built at three vector widths (ops_minibatch_kern.h) and
 * pick_kernels chooses one for the CPU; widths sum in different orders,
 * so results agree to rounding across machines and exactly on one. The
 * vector helpers pass vectors by value only where they are inlined, so
 * the psabi note does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Rows are padded to a multiple of 16 floats, whichever width runs. */
static inline int64_t padded(int64_t N) { return (N + 15) / 16 * 16; }

/* E, the saved exp(-D), holds per plane only what the kernels read: row i
 * from column 16 floor(i / 16) (where i's own block starts, at any width)
 * to Np, the rows back to back. Read once, in order, by the backward: no
 * holes for the prefetcher to skip (the square N x Np layout left half of
 * each plane unread, and the backward stalled on E's loads). e_row(i)
 * is the offset of row i's column 0, so row i's column j is at
 * e_row(i) + j for j >= 16 floor(i / 16); e_row(N) + 16 floor(N / 16) is
 * the plane's size. */
static inline int64_t e_row(int64_t i, int64_t Np)
{
    int64_t q = i / 16, s = i % 16;
    return 16 * q * Np - 128 * q * (q - 1) + s * (Np - 16 * q) - 16 * q;
}
static inline int64_t e_plane(int64_t N, int64_t Np) { return e_row(N, Np) + 16 * (N / 16); }

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

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define KVL 16
#define KSUF _w16
#define KTARGET __attribute__((target("avx512f")))
#include "ops_minibatch_kern.h"
#undef KVL
#undef KSUF
#undef KTARGET
#define KVL 8
#define KSUF _w8
#define KTARGET __attribute__((target("avx2,fma")))
#include "ops_minibatch_kern.h"
#undef KVL
#undef KSUF
#undef KTARGET
#endif
#define KVL 4
#define KSUF _w4
#define KTARGET
#include "ops_minibatch_kern.h"
#undef KVL
#undef KSUF
#undef KTARGET

typedef void (*mbd_fwd_fn)(const float *, float *, float *, int64_t, int64_t, int64_t, float, float *, float *);
typedef void (*mbd_bwd_fn)(const float *, const float *, const float *, float *, int64_t, int64_t, int64_t, float *,
                           float *, float *, float *);
/* The widest kernels this CPU runs, or the width named by the environment
 * variable GANLUA_MBD_WIDTH (4, 8 or 16) when the CPU runs that one: the
 * tests check every width on one machine. Read on each call (a getenv),
 * which costs nothing beside the pair loops. */
static void pick_kernels(mbd_fwd_fn *f, mbd_bwd_fn *b)
{
    const char *want = getenv("GANLUA_MBD_WIDTH");
    int w = want ? atoi(want) : 16;
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
    __builtin_cpu_init();
    if (w >= 16 && __builtin_cpu_supports("avx512f")) {
        *f = mbd_forward_kernel_w16, *b = mbd_backward_kernel_w16;
        return;
    }
    if (w >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *f = mbd_forward_kernel_w8, *b = mbd_backward_kernel_w8;
        return;
    }
#else
    (void)w;
#endif
    *f = mbd_forward_kernel_w4, *b = mbd_backward_kernel_w4;
}

/* Scratch for the kernels: n buffers of sizes[i] floats in one block of
 * *total floats (what gl_free_floats is given back), buffer i starting
 * 64 (i + 1) bytes past a multiple of 64 floats after the one before. */
static float *scratch_new(int n, const int64_t *sizes, float **bufs, size_t *total)
{
    size_t off = 0, at[8];
    GL_ASSERT(n <= 8);
    for (int i = 0; i < n; i++) {
        off += 16 * (size_t)(i + 1);
        at[i] = off;
        off += ((size_t)sizes[i] + 63) / 64 * 64;
    }
    float *p = gl_alloc_floats(off);
    if (!p) return NULL;
    for (int i = 0; i < n; i++) bufs[i] = p + at[i];
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
        int64_t Np = padded(N), sizes[4] = {C * Np, C * Np, 4 * Np, Np}; /* w: R = 4 rows */
        float *buf[4];
        size_t total = 0;
        float *s = scratch_new(4, sizes, buf, &total);
        if (!s) {
            st = gl_fail(GL_ERR_NOMEM, "minibatch discrimination: out of memory");
            goto out;
        }
        fpmode f = flush_subnormals();
        mbd_fwd_fn fk;
        mbd_bwd_fn bk;
        pick_kernels(&fk, &bk);
        bk(M->data, E->data, g->data, gin[0]->data, N, B, C, buf[0], buf[1], buf[2], buf[3]);
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
    if (N > INT32_MAX - 16)
        return gl_fail(GL_ERR_SHAPE, "minibatch discrimination: a batch of %lld is too large", (long long)N);
    int64_t Np = padded(N);
    int64_t es[2] = {B, e_plane(N, Np)}, os[2] = {N, B};
    gl_tensor *o = NULL, *E = NULL;
    GL_TRY(gl_tensor_new(&o, 2, os));
    gl_status st;
    if ((st = gl_tensor_new(&E, 2, es))) {
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
    mbd_fwd_fn fk;
    mbd_bwd_fn bk;
    pick_kernels(&fk, &bk);
    fpmode f = flush_subnormals();
    fk(M->data, E->data, o->data, N, B, C, include_self ? 1.0f : 0.0f, buf[0], buf[1]);
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
