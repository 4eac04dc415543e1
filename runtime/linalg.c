/* linalg.c — what the metrics need from LAPACK (through OpenBLAS, which
 * ships it): the Fréchet distance between two Gaussians, as FID uses,
 *   d^2 = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1^1/2 S2 S1^1/2)^1/2),
 * with symmetric eigendecompositions (dsyevd) in double precision. The
 * symmetric form of the cross term avoids the complex square roots a
 * general sqrtm(S1 S2) can produce from rounding. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* LAPACK's Fortran interface, as OpenBLAS exports it */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);

/* Eigen-decompose the n x n symmetric a in place (columns become vectors). */
static gl_status sym_eig(double *a, double *w, int n)
{
    int lwork = -1, liwork = -1, info = 0, iw;
    double wq;
    dsyevd_("V", "U", &n, a, &n, w, &wq, &lwork, &iw, &liwork, &info);
    if (info != 0) return gl_fail(GL_ERR_ARG, "frechet: eigendecomposition failed (info %d)", info);
    lwork = (int)wq;
    liwork = iw;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return gl_fail(GL_ERR_NOMEM, "frechet: out of memory");
    }
    dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    if (info != 0) return gl_fail(GL_ERR_ARG, "frechet: eigendecomposition did not converge (info %d)", info);
    return GL_OK;
}

gl_status gl_frechet_distance(double *out, const gl_tensor *mu1, const gl_tensor *s1, const gl_tensor *mu2,
                              const gl_tensor *s2)
{
    char b1[96], b2[96];
    if (mu1->ndim != 1 || mu2->ndim != 1 || mu1->shape[0] != mu2->shape[0])
        return gl_fail(GL_ERR_SHAPE, "frechet: means %s and %s must be vectors of one size", gl_tensor_shape_str(mu1, b1, sizeof b1),
                       gl_tensor_shape_str(mu2, b2, sizeof b2));
    int64_t d = mu1->shape[0];
    for (int k = 0; k < 2; k++) {
        const gl_tensor *s = k ? s2 : s1;
        if (s->ndim != 2 || s->shape[0] != d || s->shape[1] != d)
            return gl_fail(GL_ERR_SHAPE, "frechet: covariance %s is not %lldx%lld", gl_tensor_shape_str(s, b1, sizeof b1),
                           (long long)d, (long long)d);
    }
    if (d > 8192) return gl_fail(GL_ERR_ARG, "frechet: %lld features is too many", (long long)d);
    int n = (int)d;
    size_t nn = (size_t)n * (size_t)n;
    double *a = malloc(sizeof(double) * nn), *h = malloc(sizeof(double) * nn), *m = malloc(sizeof(double) * nn),
           *t = malloc(sizeof(double) * nn), *w = malloc(sizeof(double) * (size_t)(n ? n : 1));
    gl_status st = GL_OK;
    if (!a || !h || !m || !t || !w) {
        st = gl_fail(GL_ERR_NOMEM, "frechet: out of memory");
        goto out;
    }
    double dist = 0, tr = 0;
    for (int i = 0; i < n; i++) {
        double dm = (double)mu1->data[i] - mu2->data[i];
        dist += dm * dm;
        tr += (double)s1->data[(int64_t)i * n + i] + s2->data[(int64_t)i * n + i];
    }
    /* h = S1^1/2 = V diag(sqrt(max(l, 0))) V^T (row/column order is
     * irrelevant for symmetric matrices) */
    for (size_t k = 0; k < nn; k++) a[k] = s1->data[k];
    if ((st = sym_eig(a, w, n))) goto out;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += a[(size_t)k * n + i] * sqrt(w[k] > 0 ? w[k] : 0) * a[(size_t)k * n + j];
            h[(size_t)i * n + j] = s;
        }
    /* m = h S2 h */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += h[(size_t)i * n + k] * s2->data[(size_t)k * n + j];
            t[(size_t)i * n + j] = s;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += t[(size_t)i * n + k] * h[(size_t)k * n + j];
            m[(size_t)i * n + j] = s;
        }
    /* symmetrise against rounding, then Tr sqrt(m) = sum sqrt(eigenvalues) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) m[(size_t)i * n + j] = m[(size_t)j * n + i] = 0.5 * (m[(size_t)i * n + j] + m[(size_t)j * n + i]);
    if ((st = sym_eig(m, w, n))) goto out;
    double cross = 0;
    for (int i = 0; i < n; i++) cross += sqrt(w[i] > 0 ? w[i] : 0);
    *out = dist + tr - 2 * cross;
out:
    free(a);
    free(h);
    free(m);
    free(t);
    free(w);
    return st;
}
