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

void gl_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M * N * K >= GL_SGEMM_DNNL_MIN &&
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
