/* test_runtime.c — C unit tests of runtime/ alone: no Lua involved.
 * Prints one line per failed check and ends with "N passed, N failed". */
#include "../../runtime/ganlua.h"
#include "../../runtime/internal.h" /* gl_sgemm */

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) passed++;                                                                        \
        else {                                                                                     \
            failed++;                                                                              \
            printf("FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, gl_errmsg());              \
        }                                                                                          \
    } while (0)

static gl_tensor *vec(int n, const float *v)
{
    int64_t s = n;
    gl_tensor *t = NULL;
    if (gl_tensor_new(&t, 1, &s) != GL_OK) return NULL;
    memcpy(t->data, v, sizeof(float) * (size_t)n);
    return t;
}

static gl_tensor *mat(int r, int c, const float *v)
{
    int64_t s[2] = {r, c};
    gl_tensor *t = NULL;
    if (gl_tensor_new(&t, 2, s) != GL_OK) return NULL;
    memcpy(t->data, v, sizeof(float) * (size_t)(r * c));
    return t;
}

static void test_header_example(void)
{
    /* y = sum(x*x): dy/dx = 2x; d(sum dy/dx)/dx = 2 */
    int64_t shape[1] = {3};
    gl_tensor *x = NULL, *sq = NULL, *y = NULL, *g = NULL, *gs = NULL, *g2 = NULL;
    CHECK(gl_tensor_new(&x, 1, shape) == GL_OK);
    gl_tensor_fill_(x, 1.5f);
    gl_tensor_set_requires_grad(x, 1);
    CHECK(gl_op_mul(&sq, x, x) == GL_OK);
    CHECK(gl_op_sum(&y, sq) == GL_OK);
    CHECK(y->ndim == 0 && fabsf(y->data[0] - 6.75f) < 1e-6f);
    CHECK(gl_autograd_grad(&y, NULL, 1, &x, 1, &g, 1, 1) == GL_OK);
    CHECK(g && g->data[0] == 3.0f && g->data[2] == 3.0f);
    CHECK(g && g->grad_fn != NULL);
    CHECK(gl_op_sum(&gs, g) == GL_OK);
    CHECK(gl_autograd_grad(&gs, NULL, 1, &x, 1, &g2, 0, 0) == GL_OK);
    CHECK(g2 && g2->data[0] == 2.0f && g2->data[1] == 2.0f);
    gl_tensor_release(g2);
    gl_tensor_release(gs);
    gl_tensor_release(g);
    gl_tensor_release(y);
    gl_tensor_release(sq);
    gl_tensor_release(x);
}

/* A sum across two processes that hold the same values: doubling. Its
 * gradient is the same sum of the incoming gradients (each process gets
 * both processes' g). y = sum(collective(x) * x) = 2 sum(x^2): dy/dx = 4x,
 * half of it through the op's backward, and d(sum dy/dx)/dx = 4, through
 * the backward's own record (the op again). */
static gl_status doubling(void *ctx, float *data, int64_t n)
{
    int *calls = ctx;
    ++*calls;
    for (int64_t i = 0; i < n; i++) data[i] *= 2;
    return GL_OK;
}
static gl_status refusing(void *ctx, float *data, int64_t n)
{
    (void)ctx, (void)data, (void)n;
    return gl_fail(GL_ERR_STATE, "collective: the other process is gone");
}

static void test_collective_sum(void)
{
    int64_t shape[1] = {3};
    int calls = 0;
    gl_tensor *x = NULL, *sq = NULL, *c = NULL, *y = NULL, *g = NULL, *gs = NULL, *g2 = NULL;
    CHECK(gl_tensor_new(&x, 1, shape) == GL_OK);
    gl_tensor_fill_(x, 1.5f);
    gl_tensor_set_requires_grad(x, 1);
    CHECK(gl_op_collective_sum(&c, x, doubling, &calls) == GL_OK);
    CHECK(c->data[1] == 3.0f && calls == 1);
    CHECK(gl_op_mul(&sq, c, x) == GL_OK);
    CHECK(gl_op_sum(&y, sq) == GL_OK);
    CHECK(fabsf(y->data[0] - 13.5f) < 1e-6f);
    CHECK(gl_autograd_grad(&y, NULL, 1, &x, 1, &g, 1, 1) == GL_OK);
    CHECK(g && g->data[0] == 6.0f && g->data[2] == 6.0f && calls == 2);
    CHECK(gl_op_sum(&gs, g) == GL_OK);
    CHECK(gl_autograd_grad(&gs, NULL, 1, &x, 1, &g2, 0, 0) == GL_OK);
    CHECK(g2 && g2->data[0] == 4.0f && g2->data[1] == 4.0f && calls > 2);
    gl_tensor *bad = NULL;
    CHECK(gl_op_collective_sum(&bad, x, refusing, NULL) == GL_ERR_STATE && bad == NULL);
    CHECK(strstr(gl_errmsg(), "the other process is gone") != NULL);
    CHECK(gl_op_collective_sum(&bad, x, NULL, NULL) == GL_ERR_ARG && bad == NULL);
    gl_tensor_release(g2);
    gl_tensor_release(gs);
    gl_tensor_release(g);
    gl_tensor_release(y);
    gl_tensor_release(c);
    gl_tensor_release(sq);
    gl_tensor_release(x);
}

static void test_errors(void)
{
    float v[6] = {1, 2, 3, 4, 5, 6};
    gl_tensor *a = mat(2, 3, v), *b = mat(2, 3, v), *c = NULL;
    CHECK(gl_op_matmul(&c, a, b) == GL_ERR_SHAPE);
    CHECK(strstr(gl_errmsg(), "matmul: 2x3 @ 2x3: inner sizes 3 and 2 differ") != NULL);
    CHECK(c == NULL);
    gl_tensor *r = vec(4, v);
    CHECK(gl_op_add(&c, a, r) == GL_ERR_SHAPE);
    CHECK(strstr(gl_errmsg(), "add: shapes 2x3 and 4 do not broadcast") != NULL);
    int64_t bad[1] = {-2};
    CHECK(gl_tensor_new(&c, 1, bad) == GL_ERR_ARG);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(gl_tensor_new(&c, 9, nine) == GL_ERR_ARG);
    CHECK(gl_op_narrow(&c, a, 1, 2, 2) == GL_ERR_ARG);
    CHECK(strstr(gl_errmsg(), "narrow") != NULL);
    gl_tensor_release(a);
    gl_tensor_release(b);
    gl_tensor_release(r);
}

static void test_views_share_storage(void)
{
    float v[6] = {1, 2, 3, 4, 5, 6};
    gl_tensor *a = mat(3, 2, v), *rows = NULL, *flat = NULL;
    int64_t six = 6;
    CHECK(gl_tensor_rows(&rows, a, 1, 2) == GL_OK);
    CHECK(gl_op_reshape(&flat, a, 1, &six) == GL_OK);
    CHECK(rows->data[0] == 3.0f && rows->storage == a->storage);
    rows->data[0] = 30.0f;
    CHECK(a->data[2] == 30.0f && flat->data[2] == 30.0f);
    gl_tensor_release(a); /* views keep the storage alive */
    CHECK(flat->data[5] == 6.0f);
    gl_tensor_release(rows);
    gl_tensor_release(flat);
}

static void test_matmul_values(void)
{
    /* [1 2 3; 4 5 6] @ [1 0; 0 1; 1 1] = [4 5; 10 11] */
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {1, 0, 0, 1, 1, 1};
    gl_tensor *a = mat(2, 3, av), *b = mat(3, 2, bv), *c = NULL, *ct = NULL;
    CHECK(gl_op_matmul(&c, a, b) == GL_OK);
    CHECK(c->data[0] == 4 && c->data[1] == 5 && c->data[2] == 10 && c->data[3] == 11);
    /* a^T @ a via flags: 3x3, [0][0] = 1 + 16 */
    CHECK(gl_op_matmul_t(&ct, a, a, 1, 0) == GL_OK);
    CHECK(ct->shape[0] == 3 && ct->shape[1] == 3 && ct->data[0] == 17 && ct->data[8] == 45);
    gl_tensor_release(a);
    gl_tensor_release(b);
    gl_tensor_release(c);
    gl_tensor_release(ct);
}

/* gl_sgemm against a double-precision loop, for shapes of every path
 * (the skinny forms for a side <= 4, oneDNN's, OpenBLAS's), both
 * transposes, alpha and beta, and leading dimensions wider than the rows;
 * beta = 0 must not read C (NaN there stays out of the result). */
static void test_sgemm_shapes(void)
{
    static const int64_t dims[] = {1, 2, 3, 4, 5, 17, 70};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    int bad = 0, runs = 0;
    float *A = malloc(sizeof(float) * 80 * 80), *B = malloc(sizeof(float) * 80 * 80), *C = malloc(sizeof(float) * 80 * 80);
    double *R = malloc(sizeof(double) * 80 * 80);
    uint64_t x = 12345;
    for (int i = 0; i < 80 * 80; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        A[i] = (float)((double)(x >> 40) / (1 << 24) - 0.5);
        B[(i * 7) % (80 * 80)] = (float)((double)((x >> 20) & 0xffff) / 65536.0 - 0.5);
    }
    for (int mi = 0; mi < 7; mi++)
        for (int ni = 0; ni < 7; ni++)
            for (int ki = 0; ki < 7; ki++)
                for (int f = 0; f < 4; f++)
                    for (int c = 0; c < 3; c++) {
                        int64_t M = dims[mi], N = dims[ni], K = dims[ki];
                        int ta = f & 1, tb = f >> 1;
                        float alpha = ab[c][0], beta = ab[c][1];
                        int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t j = 0; j < N; j++) {
                                double acc = 0;
                                for (int64_t k = 0; k < K; k++)
                                    acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                                           (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
                                float c0 = beta == 0.0f ? NAN : (float)(i - j) * 0.125f;
                                C[i * ldc + j] = c0;
                                R[i * N + j] = alpha * acc + (beta == 0.0f ? 0.0 : beta * (double)c0);
                            }
                        gl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                        runs++;
                        for (int64_t i = 0; i < M; i++)
                            for (int64_t j = 0; j < N; j++) {
                                double d = fabs(C[i * ldc + j] - R[i * N + j]);
                                if (!(d <= 1e-5 * (1.0 + (double)K))) {
                                    if (bad++ < 5)
                                        printf("sgemm %lldx%lldx%lld ta=%d tb=%d alpha=%g beta=%g: C[%lld][%lld] = %g, want %g\n",
                                               (long long)M, (long long)K, (long long)N, ta, tb, alpha, beta, (long long)i,
                                               (long long)j, C[i * ldc + j], R[i * N + j]);
                                }
                            }
                    }
    CHECK(runs == 7 * 7 * 7 * 4 * 3);
    CHECK(bad == 0);
    free(A);
    free(B);
    free(C);
    free(R);
}

/* rows of B and C 512 floats apart: the product goes to OpenBLAS instead
 * of oneDNN (ops_matmul.c's GL_SGEMM_DNNL_ALIAS); the same values either
 * way, against a double loop, with beta = 0 ignoring the NaN in C */
static void test_sgemm_aliasing_rows(void)
{
    enum { M = 40, K = 48, N = 36, LD = 512 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * LD), *C = malloc(sizeof(float) * M * LD);
    int bad = 0;
    for (int i = 0; i < M * K; i++) A[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (int i = 0; i < K * LD; i++) B[i] = (float)((i * 53) % 97) / 97.0f - 0.5f;
    for (int i = 0; i < M * LD; i++) C[i] = NAN;
    gl_sgemm(0, 0, M, N, K, 1.5f, A, K, B, LD, 0.0f, C, LD);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)A[i * K + k] * (double)B[k * LD + j];
            if (!(fabs(C[i * LD + j] - 1.5 * acc) <= 1e-4)) bad++;
        }
    CHECK(bad == 0);
    CHECK(isnan(C[N])); /* past the row's N columns nothing is written */
    free(A);
    free(B);
    free(C);
}

static void test_allocator_reuse(void)
{
    gl_mem_stats s0, s1;
    for (int i = 0; i < 10; i++) { /* warm up */
        gl_tensor *t = NULL;
        int64_t s[2] = {64, 64};
        gl_tensor_new(&t, 2, s);
        gl_tensor_release(t);
    }
    gl_mem_get_stats(&s0);
    for (int i = 0; i < 1000; i++) {
        gl_tensor *t = NULL;
        int64_t s[2] = {64, 64};
        gl_tensor_new(&t, 2, s);
        gl_tensor_release(t);
    }
    gl_mem_get_stats(&s1);
    CHECK(s1.n_malloc == s0.n_malloc);
    CHECK(s1.n_alloc == s0.n_alloc + 1000);
    CHECK(s1.live_bytes == s0.live_bytes);
}

static void test_rng(void)
{
    gl_rng r1, r2;
    gl_rng_seed(&r1, 42);
    gl_rng_seed(&r2, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= gl_rng_next(&r1) == gl_rng_next(&r2);
    CHECK(same);
    gl_rng_seed(&r2, 43);
    CHECK(gl_rng_next(&r1) != gl_rng_next(&r2));
    /* uniform mean ~ 0.5, normal mean ~ 0 and variance ~ 1 */
    int64_t n = 200000;
    gl_tensor *t = NULL;
    gl_tensor_new(&t, 1, &n);
    gl_tensor_uniform_(t, &r1, 0.0f, 1.0f);
    double s = 0, mn = 1, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        s += t->data[i];
        if (t->data[i] < mn) mn = t->data[i];
        if (t->data[i] > mx) mx = t->data[i];
    }
    CHECK(fabs(s / n - 0.5) < 0.005 && mn >= 0.0 && mx < 1.0);
    gl_tensor_normal_(t, &r1, 0.0f, 1.0f);
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += t->data[i];
    m /= n;
    for (int64_t i = 0; i < n; i++) v += (t->data[i] - m) * (t->data[i] - m);
    v /= n;
    CHECK(fabs(m) < 0.01 && fabs(v - 1.0) < 0.02);
    /* the shape, not only the moments: mass within 1, 2, 3 sigma and the
     * fourth moment (3 for a normal) */
    double in1 = 0, in2 = 0, in3 = 0, k4 = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(t->data[i] - m);
        in1 += a < 1; in2 += a < 2; in3 += a < 3;
        k4 += pow(t->data[i] - m, 4);
    }
    CHECK(fabs(in1 / n - 0.6827) < 0.005 && fabs(in2 / n - 0.9545) < 0.003 && fabs(in3 / n - 0.9973) < 0.001);
    CHECK(fabs(k4 / n / (v * v) - 3.0) < 0.1);
    CHECK(gl_tensor_randint_(t, &r1, 5, 5) == GL_ERR_ARG);
    CHECK(gl_tensor_randint_(t, &r1, -3, 4) == GL_OK);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= t->data[i] >= -3 && t->data[i] < 4 && t->data[i] == floorf(t->data[i]);
    CHECK(ok);
    gl_tensor_release(t);
}

static void test_freed_graph_and_versions(void)
{
    float v[3] = {1, 2, 3};
    gl_tensor *x = vec(3, v), *y = NULL, *s = NULL;
    gl_tensor_set_requires_grad(x, 1);
    CHECK(gl_op_unary(&y, GL_U_EXP, x) == GL_OK);
    CHECK(gl_op_sum(&s, y) == GL_OK);
    CHECK(gl_autograd_backward(&s, NULL, 1, 0, 0) == GL_OK);
    CHECK(fabsf(x->grad->data[1] - expf(2.0f)) < 1e-5f);
    CHECK(gl_autograd_backward(&s, NULL, 1, 0, 0) == GL_ERR_STATE);
    CHECK(strstr(gl_errmsg(), "retain_graph") != NULL);
    gl_tensor_release(s);
    s = NULL;
    /* modifying a saved tensor in place is caught at backward */
    gl_tensor *z = NULL, *w = NULL;
    gl_tensor_release(x->grad);
    x->grad = NULL;
    CHECK(gl_op_mul(&z, x, y) == GL_OK); /* saves y (no grad_fn needed: y is from exp) */
    CHECK(gl_op_sum(&w, z) == GL_OK);
    gl_tensor_fill_(y, 0.0f);
    CHECK(gl_autograd_backward(&w, NULL, 1, 0, 0) == GL_ERR_STATE);
    CHECK(strstr(gl_errmsg(), "modified in place") != NULL);
    gl_tensor_release(w);
    gl_tensor_release(z);
    gl_tensor_release(y);
    gl_tensor_release(x);
}

static void test_deep_chain_release(void)
{
    /* a million-node chain is released without recursion */
    float v[1] = {1};
    gl_tensor *x = vec(1, v), *y = NULL;
    gl_tensor_set_requires_grad(x, 1);
    y = gl_tensor_retain(x);
    int ok = 1;
    for (int i = 0; i < 1000000 && ok; i++) {
        gl_tensor *n = NULL;
        ok = gl_op_affine(&n, y, 1.0f, 0.0f) == GL_OK;
        gl_tensor_release(y);
        y = n;
    }
    CHECK(ok);
    gl_tensor_release(y); /* would overflow the C stack if recursive */
    gl_tensor_release(x);
    CHECK(1);
}

static void test_broadcast_values(void)
{
    /* [[1],[2]] + [10, 20, 30] = [[11,21,31],[12,22,32]] */
    float av[2] = {1, 2}, bv[3] = {10, 20, 30};
    gl_tensor *a = mat(2, 1, av), *b = vec(3, bv), *c = NULL, *s = NULL;
    CHECK(gl_op_add(&c, a, b) == GL_OK);
    CHECK(c->ndim == 2 && c->shape[0] == 2 && c->shape[1] == 3);
    CHECK(c->data[0] == 11 && c->data[2] == 31 && c->data[3] == 12 && c->data[5] == 32);
    /* and summed back: sum_to {1, 3} = [23, 43, 63] */
    int64_t shape[2] = {1, 3};
    CHECK(gl_op_sum_to(&s, c, 2, shape) == GL_OK);
    CHECK(s->data[0] == 23 && s->data[1] == 43 && s->data[2] == 63);
    gl_tensor_release(a);
    gl_tensor_release(b);
    gl_tensor_release(c);
    gl_tensor_release(s);
}

/* every broadcast pattern of two 4-D operands (each dim of each either
 * full or 1): a - b, expand and sum_to against index loops, which fails
 * if the kernels' merging of dims (gl_collapse_dims) merges a wrong pair.
 * Small integers, so every sum is exact. */
static gl_tensor *pattern(int mask, const int64_t full[4], int salt)
{
    int64_t s[4];
    for (int d = 0; d < 4; d++) s[d] = (mask >> d) & 1 ? 1 : full[d];
    gl_tensor *t = NULL;
    if (gl_tensor_new(&t, 4, s) != GL_OK) return NULL;
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = (float)((i * 7 + salt) % 11) - 5.0f;
    return t;
}
static int64_t at(const gl_tensor *t, const int64_t i[4])
{
    int64_t off = 0;
    for (int d = 0; d < 4; d++) off = off * t->shape[d] + (t->shape[d] == 1 ? 0 : i[d]);
    return off;
}
static void test_broadcast_patterns(void)
{
    const int64_t full[4] = {2, 3, 4, 5};
    int bad_sub = 0, bad_expand = 0, bad_sum = 0, errors = 0;
    for (int ma = 0; ma < 16; ma++)
        for (int mb = 0; mb < 16; mb++) {
            gl_tensor *a = pattern(ma, full, 1), *b = pattern(mb, full, 3), *c = NULL;
            if (!a || !b || gl_op_sub(&c, a, b) != GL_OK) { errors++; goto next; }
            int64_t i[4];
            for (i[0] = 0; i[0] < c->shape[0]; i[0]++)
                for (i[1] = 0; i[1] < c->shape[1]; i[1]++)
                    for (i[2] = 0; i[2] < c->shape[2]; i[2]++)
                        for (i[3] = 0; i[3] < c->shape[3]; i[3]++)
                            if (c->data[at(c, i)] != a->data[at(a, i)] - b->data[at(b, i)]) bad_sub++;
            if (ma == 0) { /* b expanded to the full shape, and a summed down to b's */
                gl_tensor *e = NULL, *s = NULL, *z = NULL;
                if (gl_op_expand(&e, b, 4, full) != GL_OK || gl_op_sum_to(&s, a, 4, b->shape) != GL_OK ||
                    gl_tensor_zeros(&z, 4, b->shape) != GL_OK) errors++;
                else {
                    for (i[0] = 0; i[0] < 2; i[0]++)
                        for (i[1] = 0; i[1] < 3; i[1]++)
                            for (i[2] = 0; i[2] < 4; i[2]++)
                                for (i[3] = 0; i[3] < 5; i[3]++) {
                                    if (e->data[at(e, i)] != b->data[at(b, i)]) bad_expand++;
                                    z->data[at(z, i)] += a->data[at(a, i)];
                                }
                    for (int64_t k = 0; k < z->numel; k++)
                        if (s->data[k] != z->data[k]) bad_sum++;
                }
                gl_tensor_release(e); gl_tensor_release(s); gl_tensor_release(z);
            }
        next:
            gl_tensor_release(a); gl_tensor_release(b); gl_tensor_release(c);
        }
    CHECK(errors == 0);
    CHECK(bad_sub == 0);
    CHECK(bad_expand == 0);
    CHECK(bad_sum == 0);
}

/* the cache stays within the peak of live bytes plus its slack (4 MB +
 * 1/64): 64 MB freed in 4 MB buffers and then 64 MB asked for in 5 MB
 * ones must not leave the first 64 MB cached beside the second */
static void test_cache_bound(void)
{
    enum { K = 16 };
    float *a[K], *b[K];
    int ok = 1;
    for (int i = 0; i < K; i++) ok &= (a[i] = gl_alloc_floats((4u << 20) / 4)) != NULL;
    for (int i = 0; i < K; i++) gl_free_floats(a[i], (4u << 20) / 4);
    for (int i = 0; i < K; i++) ok &= (b[i] = gl_alloc_floats((5u << 20) / 4)) != NULL;
    for (int i = 0; i < K; i++) b[i][(5u << 20) / 4 - 1] = (float)i; /* mapped and writable */
    gl_mem_stats m;
    gl_mem_get_stats(&m);
    CHECK(ok);
    CHECK(m.live_bytes + m.cached_bytes <= m.peak_bytes + ((size_t)4 << 20) + m.peak_bytes / 64);
    for (int i = 0; i < K; i++) gl_free_floats(b[i], (5u << 20) / 4);
    /* and a buffer freed is served again from the cache */
    gl_mem_get_stats(&m);
    size_t mallocs = m.n_malloc;
    float *c = gl_alloc_floats((5u << 20) / 4);
    gl_mem_get_stats(&m);
    CHECK(c != NULL && m.n_malloc == mallocs);
    gl_free_floats(c, (5u << 20) / 4);
}

int main(void)
{
    gl_set_num_threads(1);
    test_header_example();
    test_collective_sum();
    test_errors();
    test_views_share_storage();
    test_matmul_values();
    test_sgemm_shapes();
    test_sgemm_aliasing_rows();
    test_allocator_reuse();
    test_rng();
    test_freed_graph_and_versions();
    test_deep_chain_release();
    test_broadcast_values();
    test_broadcast_patterns();
    test_cache_bound();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
