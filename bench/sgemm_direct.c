/* sgemm_direct.c — OpenBLAS's cblas_sgemm called directly, the ceiling
 * ganlua's matmul is measured against. Usage: sgemm_direct N THREADS */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 512, th = argc > 2 ? atoi(argv[2]) : 1;
    openblas_set_num_threads(th);
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) return 1;
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 7) / 7; b[i] = (float)(i % 5) / 5; }
    int reps = n <= 128 ? 2000 : n <= 512 ? 50 : 10;
    for (int r = 0; r < 3; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = now();
    for (int r = 0; r < reps; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double dt = (now() - t0) / reps;
    printf("%.2f\n", 2.0 * n * n * n / dt / 1e9);
    free(a); free(b); free(c);
    return 0;
}
