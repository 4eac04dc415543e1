/* ops_minibatch_kern.h — the pair kernels of ops_minibatch.c at one
 * vector width, included once per width with
 *   KVL      lanes per vector (16, 8 or 4)
 *   KSUF     the suffix of this width's names
 *   KTARGET  the instruction set attribute ("avx512f", "avx2" or none)
 * Each width is its machine's native vector (zmm, ymm, xmm): a 16-lane
 * GCC vector in an AVX2 function lives in two ymm halves that GCC spills
 * through the stack, 5-8x slower than native ymm code. Not a public
 * header; nothing else includes it. */
#define KCAT2(a, b) a##b
#define KCAT(a, b) KCAT2(a, b)
#define K(name) KCAT(name, KSUF)
#define vf K(vf)
#define vi K(vi)
#define VL KVL
#define VINLINE static inline __attribute__((always_inline)) KTARGET

typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));
#define vload K(vload)
#define vstore K(vstore)
#define vand K(vand)
#define vabs K(vabs)
#define vfma K(vfma)
#define vsum K(vsum)
#define vsum4 K(vsum4)
#define vexp_neg K(vexp_neg)
#define lane_masks K(lane_masks)
#define masks_init K(masks_init)
#define mbd_forward_kernel K(mbd_forward_kernel)
#define mbd_backward_kernel K(mbd_backward_kernel)

VINLINE vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
VINLINE void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
VINLINE vf vand(vf a, vi m) { return (vf)((vi)a & m); }
VINLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }
/* a b + c, fused where the width's instruction set has FMA (AVX2 + FMA,
 * AVX-512); GCC does not contract a * b + c under -std=c11 */
VINLINE vf vfma(vf a, vf b, vf c)
{
#if KVL == 16
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif KVL == 8
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}
#define VS(x) ((vf){0} + (x))

/* the lanes summed in a fixed tree (halves added, then their halves...),
 * shuffles, so the lanes never go through memory */
typedef float K(vh8) __attribute__((vector_size(8 * sizeof(float))));
typedef float K(vh4) __attribute__((vector_size(4 * sizeof(float))));
VINLINE float vsum(vf v)
{
#if KVL == 16
    K(vh8) h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
#elif KVL == 8
    K(vh8) h8 = v;
#endif
#if KVL >= 8
    K(vh4) h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
#else
    K(vh4) h4 = v;
#endif
    return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

/* the lanes of four vectors summed at once, [sum a, sum b, sum c, sum d]:
 * pairwise adds of interleaved shuffles (GCC's haddps pattern), three
 * rounds instead of four separate trees and their scalar tails */
VINLINE K(vh4) vsum4(vf a, vf b, vf c, vf d)
{
#if KVL == 16
    K(vh8) a8 = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
    K(vh8) b8 = __builtin_shufflevector(b, b, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(b, b, 8, 9, 10, 11, 12, 13, 14, 15);
    K(vh8) c8 = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(c, c, 8, 9, 10, 11, 12, 13, 14, 15);
    K(vh8) d8 = __builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15);
#elif KVL == 8
    K(vh8) a8 = a, b8 = b, c8 = c, d8 = d;
#endif
#if KVL >= 8
    K(vh8) ab = __builtin_shufflevector(a8, b8, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(a8, b8, 1, 3, 9, 11, 5, 7, 13, 15);
    K(vh8) cd = __builtin_shufflevector(c8, d8, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(c8, d8, 1, 3, 9, 11, 5, 7, 13, 15);
    K(vh8) h = __builtin_shufflevector(ab, cd, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(ab, cd, 1, 3, 9, 11, 5, 7, 13, 15);
    return __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
#else
    K(vh4) ab = __builtin_shufflevector(a, b, 0, 2, 4, 6) + __builtin_shufflevector(a, b, 1, 3, 5, 7);
    K(vh4) cd = __builtin_shufflevector(c, d, 0, 2, 4, 6) + __builtin_shufflevector(c, d, 1, 3, 5, 7);
    return __builtin_shufflevector(ab, cd, 0, 2, 4, 6) + __builtin_shufflevector(ab, cd, 1, 3, 5, 7);
#endif
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
    vf t = vfma(x, VS(1.44269504f), VS(12582912.0f)); /* 1.5 * 2^23 + k: round to nearest, no libm */
    vi ki = (vi)t - 0x4b400000;                         /* k, read off the mantissa */
    vf k = t - 12582912.0f;
    vf r = vfma(k, VS(-1.42860677e-6f), vfma(k, VS(-0.693145752f), x));
    vf p = vfma(r, VS(0.00138888892f), VS(0.00833333377f));
    p = vfma(p, r, VS(0.0416666679f));
    p = vfma(p, r, VS(0.166666672f));
    p = vfma(p, r, VS(0.5f));
    p = vfma(p, r, VS(1.0f));
    p = vfma(p, r, VS(1.0f));
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
KTARGET static void masks_init(lane_masks *lm, int64_t N)
{
    int32_t d[VL][VL], t[VL];
    int64_t last = (N + VL - 1) / VL * VL - VL; /* the last block holding rows */
    for (int q = 0; q < VL; q++)
        for (int l = 0; l < VL; l++) d[q][l] = l > q ? -1 : 0;
    for (int l = 0; l < VL; l++) t[l] = last + l < N ? -1 : 0;
    memcpy(lm->diag, d, sizeof d);
    memcpy(&lm->tail, t, sizeof t);
}

/* Rows are taken R at a time: the R rows of a group share their column
 * range, each column vector is loaded once for all R, and the R
 * dependency chains (the distance sum, the exp polynomial) overlap. */
#define R 4 /* vsum4 reduces a group's rows */

/* E: B planes of e_plane(N, Np) floats (see e_row), row i of plane b
 * holding e[b][i][j] for j > i in the blocks from i's own on (the rest of
 * the row is never read). mt: C x Np, ocol: Np.
 * Two passes per plane. The first writes the distances of each row group
 * into E, with the lanes that are not pairs (j <= i, j >= N) set to +inf,
 * which vexp_neg maps to exactly 0. The second runs exp over each row in
 * place and sums rows and columns: its iterations are independent, so the
 * core overlaps the exp polynomial's long dependency chain across them
 * (computed inside the distance loop, the exp was half the kernel's
 * time). */
KTARGET static void mbd_forward_kernel(const float *m, float *E, float *o, int64_t N, int64_t B, int64_t C,
                                       float self, float *mt, float *ocol)
{
    lane_masks masks, *lm = &masks;
    masks_init(lm, N);
    const vi inf = (vi){0} + 0x7f800000;
    int64_t Np = padded(N), nb = (N + VL - 1) / VL;
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, Np, B, C, b);
        float *Eb = E + b * e_plane(N, Np);
        for (int64_t i0 = 0; i0 < N; i0 += R) { /* VL is a multiple of R: a group lies in one block */
            int64_t I = i0 / VL;
            for (int64_t J = I; J < nb; J++) {
                vf d[R] = {{0}};
                for (int64_t c = 0; c < C; c++) {
                    vf col = vload(mt + c * Np + J * VL);
                    for (int r = 0; r < R; r++) d[r] += vabs(col - mt[c * Np + i0 + r]); /* rows past N read padding */
                }
                for (int r = 0; r < R && i0 + r < N; r++) {
                    vi keep = (vi){0} - 1;
                    if (J == I) keep &= lm->diag[(i0 + r) % VL];
                    if (J == nb - 1) keep &= lm->tail;
                    vstore(Eb + e_row(i0 + r, Np) + J * VL, (vf)(((vi)d[r] & keep) | (inf & ~keep)));
                }
            }
        }
        memset(ocol, 0, sizeof(float) * (size_t)Np);
        int64_t i = 0;
        for (; i + R <= N; i += R) { /* R rows share their blocks: R exps in flight, one column update */
            float *row[R];
            vf racc[R] = {{0}};
            for (int r = 0; r < R; r++) row[r] = Eb + e_row(i + r, Np);
            for (int64_t J = i / VL; J < nb; J++) {
                vf e[R], es = {0};
                for (int r = 0; r < R; r++) {
                    e[r] = vexp_neg(vload(row[r] + J * VL));
                    vstore(row[r] + J * VL, e[r]);
                    racc[r] += e[r];
                    es += e[r];
                }
                vstore(ocol + J * VL, vload(ocol + J * VL) + es);
            }
            K(vh4) rs = vsum4(racc[0], racc[1], racc[2], racc[3]);
            for (int r = 0; r < R; r++) o[(i + r) * B + b] = rs[r];
        }
        for (; i < N; i++) {
            float *row = Eb + e_row(i, Np);
            vf racc = {0};
            for (int64_t J = i / VL; J < nb; J++) {
                vf e = vexp_neg(vload(row + J * VL));
                vstore(row + J * VL, e);
                racc += e;
                vstore(ocol + J * VL, vload(ocol + J * VL) + e);
            }
            o[i * B + b] = vsum(racc);
        }
        for (int64_t k = 0; k < N; k++) o[k * B + b] += ocol[k] + self;
    }
}

/* dM as in the header. Per pair (k < j) and dim c, t = (g_k + g_j) e_kj
 * sign(M_k - M_j) enters dM_k as -t and dM_j as +t. acc: C x Np (the
 * column side, transposed like mt), w: R x Np (the group's weights
 * (g_k + g_j) e_kj), gcol: Np. */
KTARGET static void mbd_backward_kernel(const float *m, const float *E, const float *G, float *dM, int64_t N,
                                          int64_t B, int64_t C, float *mt, float *acc, float *w, float *gcol)
{
    int64_t Np = padded(N), nb = (N + VL - 1) / VL;
    for (int64_t b = 0; b < B; b++) {
        transpose_plane(m, mt, N, Np, B, C, b);
        memset(acc, 0, sizeof(float) * (size_t)(C * Np));
        memset(gcol, 0, sizeof(float) * (size_t)Np);
        for (int64_t j = 0; j < N; j++) gcol[j] = G[j * B + b];
        const float *Eb = E + b * e_plane(N, Np);
        for (int64_t k0 = 0; k0 < N; k0 += R) {
            int64_t K = k0 / VL;
            for (int r = 0; r < R; r++) {
                float *wr = w + r * Np;
                if (k0 + r >= N) { /* a row past N weighs nothing */
                    memset(wr + K * VL, 0, sizeof(float) * (size_t)(Np - K * VL));
                    continue;
                }
                const float *ek = Eb + e_row(k0 + r, Np);
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
                        vi nz = dl != 0.0f;                    /* all ones where dl != 0 */
                        vf t = vand((vf)((vi)vload(w + r * Np + J * VL) ^ ((vi)dl & (int32_t)0x80000000)), nz);
                        racc[r] += t;
                        sum += t;
                    }
                    vstore(ac + J * VL, vload(ac + J * VL) + sum);
                }
                K(vh4) rs = vsum4(racc[0], racc[1], racc[2], racc[3]), a4; /* rows past N add 0 to padding */
                memcpy(&a4, ac + k0, sizeof a4);
                a4 -= rs;
                memcpy(ac + k0, &a4, sizeof a4);
            }
        }
        for (int64_t j = 0; j < N; j++)
            for (int64_t c = 0; c < C; c++) dM[(j * B + b) * C + c] = acc[c * Np + j];
    }
}

#undef vload
#undef vstore
#undef vand
#undef vabs
#undef vfma
#undef VS
#undef vsum
#undef vsum4
#undef vexp_neg
#undef lane_masks
#undef masks_init
#undef mbd_forward_kernel
#undef mbd_backward_kernel
#undef vf
#undef vi
#undef VL
#undef VINLINE
#undef K
#undef KCAT
#undef KCAT2
