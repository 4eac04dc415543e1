/* rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64.
 *
 * The state is a plain struct owned by the caller (the bindings keep one per
 * Lua state), so saving and restoring it is copying 32 bytes, and a run with
 * the same seed is bit-identical. Normals use Box-Muller on pairs; an odd
 * tail draws one more pair and drops half, so no hidden cached value lives
 * outside the state. */
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

uint64_t gl_rng_next(gl_rng *r)
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

double gl_rng_uniform(gl_rng *r) { return (double)(gl_rng_next(r) >> 11) * 0x1.0p-53; }

void gl_tensor_uniform_(gl_tensor *t, gl_rng *r, float lo, float hi)
{
    double w = (double)hi - (double)lo;
    for (int64_t i = 0; i < t->numel; i++) {
        float v = (float)(lo + w * gl_rng_uniform(r));
        /* rounding to float can land on hi; keep the interval half-open */
        t->data[i] = (v >= hi && hi > lo) ? nextafterf(hi, lo) : v;
    }
    gl_tensor_bump(t);
}

void gl_tensor_normal_(gl_tensor *t, gl_rng *r, float mean, float std)
{
    for (int64_t i = 0; i < t->numel; i += 2) {
        double u1 = 1.0 - gl_rng_uniform(r); /* (0, 1] keeps log finite */
        double u2 = gl_rng_uniform(r);
        double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
        t->data[i] = (float)(mean + std * rad * cos(th));
        if (i + 1 < t->numel) t->data[i + 1] = (float)(mean + std * rad * sin(th));
    }
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
    if (hi - lo > (1 << 24) || lo < -(1 << 24) || hi > (1 << 24) + 1)
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
