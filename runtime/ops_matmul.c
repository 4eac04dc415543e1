/* ops_matmul.c — matrix products, and gl_sgemm, through which every
 * product in the runtime is computed.
 *
 * The core op is C = op(A) op(B) with op a transpose or not, 2-D or
 * batched 3-D. Its gradients are the same op with other flags, so no
 * transpose is ever materialised and every order of derivative works:
 *   dA = G op(B)^T   (or op(B) G^T when A was used transposed)
 *   dB = op(A)^T G   (or G^T op(A) when B was used transposed) */
#include "internal.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <string.h>

/* Which library multiplies. oneDNN's sgemm is JIT-compiled for the CPU it
 * runs on (AVX-512 where there is one); Debian's OpenBLAS 0.3.21 runs
 * Haswell (AVX2) kernels on an AMD EPYC Zen 5. Measured there, one thread: 128x100x128 takes 20 us in oneDNN against 34 in
 * OpenBLAS, 1024^3 11 ms against 21; below about 16k multiply-adds
 * OpenBLAS's smaller call overhead wins (16^3: 0.27 us against 0.5). */
#define GL_SGEMM_DNNL_MIN 16384
/* ... except where B's or C's rows are a multiple of 2 KB apart: oneDNN's
 * AVX2 sgemm then loses a third to cache-set aliasing (Zen 3, one thread:
 * 512^3 at 43-53 GFLOP/s against 79 at 500^3 and 82 at 512x512x520;
 * 1024^3 67 against 76 at 1024x1024x1000), and OpenBLAS, which packs
 * both operands, keeps 63 and 75. */
#define GL_SGEMM_DNNL_ALIAS 512

/* Products with a side of at most GL_SKINNY: a Linear with one or two
 * inputs or outputs (a toy's D reads 2-D points and gives one logit) and
 * its gradients. Both libraries block for square-ish products and pay for
 * it here: on a Zen 3 core, 128x2x128 takes 2.4 us in oneDNN and 8 in
 * OpenBLAS, 128x128x2 4.4 and 5.2, against well under a microsecond of
 * work. These two loops do that work directly: the "axpy" form adds
 * op(A)(i,k) times row k of op(B) into row i of C (rows of B contiguous),
 * the "dot" form takes each C(i,j) as one dot product of a row of op(A)
 * with a column of op(B) (both contiguous). A side that is not contiguous
 * where its form needs it is first copied (it is the small side, or the
 * problem is solved transposed). */
#define GL_SKINNY 4

/* C = alpha A B + beta C, A(i,k) at A[i * ai + k * ak], B row k at B + k * ldb.
 * Each block of 32 columns of a row of C is summed over k in four
 * 8-float vectors (GCC's vector extension: AVX registers in the AVX
 * clones, pairs of SSE registers in the baseline one) and stored once. */
typedef float skinny_v8 __attribute__((vector_size(32), aligned(4))); /* unaligned loads and stores */
GL_CLONES static void skinny_axpy(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t ai, int64_t ak,
                                  const float *restrict B, int64_t ldb, float beta, float *restrict C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *restrict c = C + i * ldc;
        int64_t j = 0;
        for (; j + 32 <= N; j += 32) {
            skinny_v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
            for (int64_t k = 0; k < K; k++) {
                const float a = A[i * ai + k * ak];
                const skinny_v8 *b = (const skinny_v8 *)(B + k * ldb + j);
                s0 += a * b[0], s1 += a * b[1], s2 += a * b[2], s3 += a * b[3];
            }
            skinny_v8 *o = (skinny_v8 *)(c + j);
            if (beta == 0.0f) /* BLAS: C is not read */
                o[0] = alpha * s0, o[1] = alpha * s1, o[2] = alpha * s2, o[3] = alpha * s3;
            else
                o[0] = alpha * s0 + beta * o[0], o[1] = alpha * s1 + beta * o[1], o[2] = alpha * s2 + beta * o[2],
                o[3] = alpha * s3 + beta * o[3];
        }
        for (; j + 8 <= N; j += 8) {
            skinny_v8 s0 = {0};
            for (int64_t k = 0; k < K; k++) s0 += A[i * ai + k * ak] * *(const skinny_v8 *)(B + k * ldb + j);
            skinny_v8 *o = (skinny_v8 *)(c + j);
            *o = beta == 0.0f ? alpha * s0 : alpha * s0 + beta * *o;
        }
        for (; j < N; j++) {
            float s0 = 0.0f;
            for (int64_t k = 0; k < K; k++) s0 += A[i * ai + k * ak] * B[k * ldb + j];
            c[j] = beta == 0.0f ? alpha * s0 : alpha * s0 + beta * c[j];
        }
    }
}

/* sum of a[k] b[k], in two 8-float vectors of running sums */
GL_CLONES static float skinny_dot(const float *restrict a, const float *restrict b, int64_t K)
{
    skinny_v8 s0 = {0}, s1 = {0};
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        const skinny_v8 *x = (const skinny_v8 *)(a + k), *y = (const skinny_v8 *)(b + k);
        s0 += x[0] * y[0], s1 += x[1] * y[1];
    }
    if (k + 8 <= K) {
        s0 += *(const skinny_v8 *)(a + k) * *(const skinny_v8 *)(b + k);
        k += 8;
    }
    s0 += s1;
    float s = ((s0[0] + s0[4]) + (s0[1] + s0[5])) + ((s0[2] + s0[6]) + (s0[3] + s0[7]));
    for (; k < K; k++) s += a[k] * b[k];
    return s;
}

/* C = alpha A B^T + beta C with rows of A (M x K) and of B (N x K) contiguous */
static void skinny_dots(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                        int64_t ldb, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float v = alpha * skinny_dot(A + i * lda, B + j * ldb, K);
            C[i * ldc + j] = beta == 0.0f ? v : v + beta * C[i * ldc + j];
        }
}

/* dst (cols x rows, row-major) = src^T, src rows x cols with leading dimension ld */
static void transpose_into(float *dst, const float *src, int64_t rows, int64_t cols, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * ld + c];
}

/* The skinny product, or 0 when the shape is not skinny (or a copy's
 * memory was not there): the caller then asks a library. */
static int skinny_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    int64_t ai = ta ? 1 : lda, ak = ta ? lda : 1; /* op(A)(i,k) = A[i * ai + k * ak] */
    float stack[1024], *tmp = NULL;
    size_t need = 0;
    int form; /* 1 axpy, 2 dot, 3 dot after copying B, 4 axpy after copying B, 5 dot after copying A, 6 transposed */
    if (M <= GL_SKINNY && !tb) form = 1, need = 0;
    else if (M <= GL_SKINNY) form = ta ? 5 : 2, need = ta ? (size_t)(M * K) : 0;
    else if (K <= GL_SKINNY) form = tb ? 4 : 1, need = tb ? (size_t)(K * N) : 0;
    else if (N <= GL_SKINNY && !ta) form = tb ? 2 : 3, need = tb ? 0 : (size_t)(N * K);
    else if (N <= GL_SKINNY) form = 6, need = (size_t)(N * M);
    else return 0;
    if (need) {
        tmp = need <= sizeof stack / sizeof *stack ? stack : gl_alloc_floats(need);
        if (!tmp) return 0;
    }
    switch (form) {
    case 1: skinny_axpy(M, N, K, alpha, A, ai, ak, B, ldb, beta, C, ldc); break;
    case 2: skinny_dots(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 3: /* B is K x N: its N columns as rows */
        transpose_into(tmp, B, K, N, ldb);
        skinny_dots(M, N, K, alpha, A, lda, tmp, K, beta, C, ldc);
        break;
    case 4: /* B is N x K: as K rows of N */
        transpose_into(tmp, B, N, K, ldb);
        skinny_axpy(M, N, K, alpha, A, ai, ak, tmp, N, beta, C, ldc);
        break;
    case 5: /* A is K x M: its M columns as rows */
        transpose_into(tmp, A, K, M, lda);
        skinny_dots(M, N, K, alpha, tmp, K, B, ldb, beta, C, ldc);
        break;
    case 6: { /* A is K x M (rows over i contiguous): T = op(B)^T op(A)^T, N x M, then C = alpha T^T + beta C */
        int64_t bj = tb ? ldb : 1, bk = tb ? 1 : ldb; /* op(B)(k,j) = B[k * bk + j * bj] */
        skinny_axpy(N, M, K, 1.0f, B, bj, bk, A, lda, 0.0f, tmp, M);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                float v = alpha * tmp[j * M + i];
                C[i * ldc + j] = beta == 0.0f ? v : v + beta * C[i * ldc + j];
            }
        break;
    }
    }
    if (tmp && tmp != stack) gl_free_floats(tmp, need);
    return 1;
}

void gl_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (skinny_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
    if (M * N * K >= GL_SGEMM_DNNL_MIN && ldb % GL_SGEMM_DNNL_ALIAS && ldc % GL_SGEMM_DNNL_ALIAS &&
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static gl_status matmul_backward(gl_node *n, gl_tensor *g, gl_tensor **gin, const unsigned char *needs)
{
    int ta = (int)n->i[0], tb = (int)n->i[1];
    gl_tensor *a = NULL, *b = NULL;
    gl_status st;
    if ((st = gl_node_saved(n, 0, &a)) || (st = gl_node_saved(n, 1, &b))) goto out;
    if (needs[0]) {
        if (!ta) st = gl_op_matmul_t(&gin[0], g, b, 0, !tb);
        else st = gl_op_matmul_t(&gin[0], b, g, tb, 1);
        if (st) goto out;
    }
    if (needs[1]) {
        if (!tb) st = gl_op_matmul_t(&gin[1], a, g, !ta, 0);
        else st = gl_op_matmul_t(&gin[1], g, a, 1, ta);
    }
out:
    gl_tensor_release(a);
    gl_tensor_release(b);
    return st;
}

gl_status gl_op_matmul_t(gl_tensor **out, gl_tensor *a, gl_tensor *b, int ta, int tb)
{
    char b1[96], b2[96];
    if (a->ndim != b->ndim || a->ndim < 2 || a->ndim > 3 || (a->ndim == 3 && a->shape[0] != b->shape[0]))
        return gl_fail(GL_ERR_SHAPE, "matmul: %s @ %s: expected two 2-D or two 3-D tensors with the same batch",
                       gl_tensor_shape_str(a, b1, sizeof b1), gl_tensor_shape_str(b, b2, sizeof b2));
    int bd = a->ndim - 2;
    int64_t B = bd ? a->shape[0] : 1;
    int64_t ar = a->shape[bd], ac = a->shape[bd + 1], br = b->shape[bd], bc = b->shape[bd + 1];
    int64_t M = ta ? ac : ar, K = ta ? ar : ac, K2 = tb ? bc : br, N = tb ? br : bc;
    if (K != K2)
        return gl_fail(GL_ERR_SHAPE, "matmul: %s%s @ %s%s: inner sizes %lld and %lld differ",
                       gl_tensor_shape_str(a, b1, sizeof b1), ta ? "^T" : "", gl_tensor_shape_str(b, b2, sizeof b2),
                       tb ? "^T" : "", (long long)K, (long long)K2);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return gl_fail(GL_ERR_ARG, "matmul: sizes beyond BLAS's int range");
    int64_t shape[3] = {B, M, N};
    gl_tensor *o;
    GL_TRY(gl_tensor_new(&o, a->ndim, bd ? shape : shape + 1));
    if (M && N) {
        if (K == 0) memset(o->data, 0, sizeof(float) * (size_t)o->numel);
        else
            for (int64_t i = 0; i < B; i++)
                gl_sgemm(ta, tb, M, N, K, 1.0f, a->data + i * ar * ac, ac, b->data + i * br * bc, bc, 0.0f, o->data + i * M * N, N);
    }
    gl_status st;
    gl_tensor *ins[2] = {a, b};
    gl_node *n = gl_record(&st, GL_OP_MATMUL, matmul_backward, o, 2, ins);
    if (st) { gl_tensor_release(o); return st; }
    if (n) {
        n->i[0] = ta;
        n->i[1] = tb;
        gl_node_save(n, a, 0);
        gl_node_save(n, b, 0);
    }
    *out = o;
    return GL_OK;
}

/* NumPy's rules: 1-D operands become a row / column and that dim is
 * dropped again; 3-D @ 2-D folds the batch into the rows; 2-D @ 3-D
 * broadcasts the matrix over the batch. */
gl_status gl_op_matmul(gl_tensor **out, gl_tensor *a, gl_tensor *b)
{
    char b1[96], b2[96];
    if (a->ndim < 1 || b->ndim < 1 || a->ndim > 3 || b->ndim > 3)
        return gl_fail(GL_ERR_SHAPE, "matmul: %s @ %s: operands must have 1 to 3 dims",
                       gl_tensor_shape_str(a, b1, sizeof b1), gl_tensor_shape_str(b, b2, sizeof b2));
    if (a->ndim == b->ndim && a->ndim >= 2) return gl_op_matmul_t(out, a, b, 0, 0);
    gl_tensor *a2 = NULL, *b2t = NULL, *r = NULL;
    gl_status st = GL_OK;
    int64_t s[3];
    int drop_row = 0, drop_col = 0;
    if (a->ndim == 1) {
        s[0] = 1; s[1] = a->shape[0];
        if ((st = gl_op_reshape(&a2, a, 2, s))) goto out;
        drop_row = 1;
    } else a2 = gl_tensor_retain(a);
    if (b->ndim == 1) {
        s[0] = b->shape[0]; s[1] = 1;
        if ((st = gl_op_reshape(&b2t, b, 2, s))) goto out;
        drop_col = 1;
    } else b2t = gl_tensor_retain(b);
    if (a2->ndim == 3 && b2t->ndim == 2) {
        if (a2->shape[2] != b2t->shape[0]) {
            st = gl_fail(GL_ERR_SHAPE, "matmul: %s @ %s: inner sizes %lld and %lld differ",
                         gl_tensor_shape_str(a, b1, sizeof b1), gl_tensor_shape_str(b, b2, sizeof b2),
                         (long long)a2->shape[2], (long long)b2t->shape[0]);
            goto out;
        }
        gl_tensor *flat = NULL, *prod = NULL;
        s[0] = a2->shape[0] * a2->shape[1]; s[1] = a2->shape[2];
        if (!(st = gl_op_reshape(&flat, a2, 2, s)) && !(st = gl_op_matmul_t(&prod, flat, b2t, 0, 0))) {
            s[0] = a2->shape[0]; s[1] = a2->shape[1]; s[2] = b2t->shape[1];
            st = gl_op_reshape(&r, prod, 3, s);
        }
        gl_tensor_release(flat);
        gl_tensor_release(prod);
    } else if (a2->ndim == 2 && b2t->ndim == 3) {
        gl_tensor *ex = NULL;
        s[0] = b2t->shape[0]; s[1] = a2->shape[0]; s[2] = a2->shape[1];
        if (!(st = gl_op_expand(&ex, a2, 3, s))) st = gl_op_matmul_t(&r, ex, b2t, 0, 0);
        gl_tensor_release(ex);
    } else {
        st = gl_op_matmul_t(&r, a2, b2t, 0, 0);
    }
    if (st) goto out;
    if (drop_row || drop_col) {
        /* drop the dims that 1-D operands added */
        int64_t shp[3];
        int k = 0;
        for (int d = 0; d < r->ndim; d++) {
            if (drop_row && d == r->ndim - 2) continue;
            if (drop_col && d == r->ndim - 1) continue;
            shp[k++] = r->shape[d];
        }
        st = gl_op_reshape(out, r, k, shp);
    } else {
        *out = r;
        r = NULL;
    }
out:
    gl_tensor_release(a2);
    gl_tensor_release(b2t);
    gl_tensor_release(r);
    return st;
}
