/* rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64.
 *
 * The state is a plain struct owned by the caller (the bindings keep one per
 * Lua state), so saving and restoring it is copying 32 bytes, and a run with
 * the same seed is bit-identical. Normals use the ziggurat method, which
 * keeps no cached value outside the state. */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void gl_rng_seed(gl_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* the generator, inlined into the fill loops below */
static inline uint64_t next(gl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t gl_rng_next(gl_rng *r) { return next(r); }

static inline double uniform(gl_rng *r) { return (double)(next(r) >> 11) * 0x1.0p-53; }

double gl_rng_uniform(gl_rng *r) { return uniform(r); }

void gl_tensor_uniform_(gl_tensor *t, gl_rng *r, float lo, float hi)
{
    double w = (double)hi - (double)lo;
    for (int64_t i = 0; i < t->numel; i++) {
        float v = (float)(lo + w * uniform(r));
        /* rounding to float can land on hi; keep the interval half-open */
        t->data[i] = (v >= hi && hi > lo) ? nextafterf(hi, lo) : v;
    }
    gl_tensor_bump(t);
}

/* Normals by Marsaglia and Tsang's ziggurat (128 strips): a 32-bit draw
 * picks a strip and a point; ~99% of draws are accepted by one compare and
 * one multiply, the rest fall back to an exact test (or the tail). The
 * strip index uses bits of the 64-bit output that the point does not, so
 * the two are independent. */
#define ZIG_N 128
static uint32_t zig_k[ZIG_N];
static float zig_w[ZIG_N], zig_f[ZIG_N];
static int zig_ready;

static void zig_setup(void)
{
    const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
    double dn = 3.442619855899, tn = dn;
    double q = vn / exp(-0.5 * dn * dn);
    zig_k[0] = (uint32_t)((dn / q) * m1);
    zig_k[1] = 0;
    zig_w[0] = (float)(q / m1);
    zig_w[ZIG_N - 1] = (float)(dn / m1);
    zig_f[0] = 1.0f;
    zig_f[ZIG_N - 1] = (float)exp(-0.5 * dn * dn);
    for (int i = ZIG_N - 2; i >= 1; i--) {
        dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)));
        zig_k[i + 1] = (uint32_t)((dn / tn) * m1);
        tn = dn;
        zig_f[i] = (float)exp(-0.5 * dn * dn);
        zig_w[i] = (float)(dn / m1);
    }
    zig_ready = 1;
}

/* The rare path: draw u was not accepted by the strip test; resolve it
 * exactly (wedge or tail), drawing more from r as needed. */
static __attribute__((noinline)) float zig_slow(gl_rng *r, uint64_t u)
{
    const double R = 3.442619855899;
    for (;;) {
        int32_t hz = (int32_t)(uint32_t)(u >> 32);
        int iz = (int)(u & (ZIG_N - 1));
        uint32_t ahz = hz < 0 ? (uint32_t)(-(int64_t)hz) : (uint32_t)hz;
        if (ahz < zig_k[iz]) return (float)hz * zig_w[iz];
        double x = (double)hz * zig_w[iz];
        if (iz == 0) { /* the tail beyond R */
            double y;
            do {
                x = -log(1.0 - uniform(r)) / R;
                y = -log(1.0 - uniform(r));
            } while (y + y < x * x);
            return (float)(hz > 0 ? R + x : -R - x);
        }
        if (zig_f[iz] + uniform(r) * (zig_f[iz - 1] - zig_f[iz]) < exp(-0.5 * x * x)) return (float)x;
        u = next(r);
    }
}

void gl_tensor_normal_(gl_tensor *t, gl_rng *r, float mean, float std)
{
    if (!zig_ready) zig_setup();
    float *p = t->data;
    /* the state in four scalars, so it stays in registers: the slow path
     * gets a copy in memory and hands it back */
    uint64_t s0 = r->s[0], s1 = r->s[1], s2 = r->s[2], s3 = r->s[3];
    for (int64_t i = 0; i < t->numel; i++) {
        uint64_t u = rotl(s1 * 5, 7) * 9, sh = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= sh;
        s3 = rotl(s3, 45);
        int32_t hz = (int32_t)(uint32_t)(u >> 32);
        int iz = (int)(u & (ZIG_N - 1));
        uint32_t ahz = hz < 0 ? (uint32_t)(-(int64_t)hz) : (uint32_t)hz;
        float z;
        if (__builtin_expect(ahz < zig_k[iz], 1)) z = (float)hz * zig_w[iz];
        else {
            gl_rng st = {{s0, s1, s2, s3}};
            z = zig_slow(&st, u);
            s0 = st.s[0], s1 = st.s[1], s2 = st.s[2], s3 = st.s[3];
        }
        p[i] = mean + std * z;
    }
    r->s[0] = s0, r->s[1] = s1, r->s[2] = s2, r->s[3] = s3;
    gl_tensor_bump(t);
}

/* Lemire's unbiased bounded integer. */
static uint64_t bounded(gl_rng *r, uint64_t range)
{
    uint64_t x = gl_rng_next(r);
    __uint128_t m = (__uint128_t)x * range;
    uint64_t l = (uint64_t)m;
    if (l < range) {
        uint64_t thr = -range % range;
        while (l < thr) {
            x = gl_rng_next(r);
            m = (__uint128_t)x * range;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

gl_status gl_tensor_randint_(gl_tensor *t, gl_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return gl_fail(GL_ERR_ARG, "randint: high (%lld) must be greater than low (%lld)",
                       (long long)hi, (long long)lo);
    if (lo < -(1 << 24) || hi > (1 << 24) + 1 || hi - lo > (1 << 24)) /* bounds first: hi - lo cannot overflow */
        return gl_fail(GL_ERR_ARG, "randint: range [%lld, %lld) is not exact in float32",
                       (long long)lo, (long long)hi);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)(lo + (int64_t)bounded(r, (uint64_t)(hi - lo)));
    gl_tensor_bump(t);
    return GL_OK;
}

void gl_rng_permutation(gl_rng *r, int64_t n, int64_t *idx)
{
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)bounded(r, (uint64_t)(i + 1));
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}
