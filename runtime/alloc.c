/* alloc.c — the size-class cache behind every tensor buffer.
 *
 * A training step allocates the same shapes every iteration; keeping freed
 * buffers in per-class free lists turns those into list pops instead of
 * malloc/free (and page faults for large buffers). Classes are powers of
 * two split in four, so at most 25% is wasted. Buffers are 64-byte aligned
 * for the vectorised loops. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define N_CLASSES 256
#define MIN_BYTES 256u
/* Keep at most this much idle memory; beyond it frees go to the system. */
#define CACHE_LIMIT ((size_t)1 << 30)

typedef struct freeblk {
    struct freeblk *next;
} freeblk;

static freeblk *freelist[N_CLASSES];
static gl_mem_stats stats;

/* Class of a request in bytes and the bytes that class holds. */
static int size_class(size_t bytes, size_t *cls_bytes)
{
    if (bytes <= MIN_BYTES) {
        *cls_bytes = MIN_BYTES;
        return 0;
    }
    int k = 63 - __builtin_clzll((unsigned long long)(bytes - 1)); /* 2^k < bytes <= 2^(k+1) */
    size_t base = (size_t)1 << k, step = base / 4;
    size_t sub = (bytes - base + step - 1) / step; /* 1..4 */
    *cls_bytes = base + sub * step;
    return (k - 8) * 4 + (int)sub; /* k >= 8 here */
}

float *gl_alloc_floats(size_t n)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / sizeof(float) / 2) return NULL;
    size_t cb;
    int c = size_class(n * sizeof(float), &cb);
    stats.n_alloc++;
    float *p = NULL;
    if (c < N_CLASSES && freelist[c]) {
        freeblk *b = freelist[c];
        freelist[c] = b->next;
        stats.cached_bytes -= cb;
        p = (float *)b;
    } else {
        stats.n_malloc++;
        if (posix_memalign((void **)&p, 64, cb) != 0) {
            /* Give the cache back and try once more before failing. */
            gl_mem_trim();
            if (posix_memalign((void **)&p, 64, cb) != 0) return NULL;
        }
    }
    stats.live_bytes += cb;
    stats.total_bytes += cb;
    if (stats.live_bytes > stats.peak_bytes) stats.peak_bytes = stats.live_bytes;
    return p;
}

void gl_free_floats(float *p, size_t n)
{
    if (!p) return;
    if (n == 0) n = 1;
    size_t cb;
    int c = size_class(n * sizeof(float), &cb);
    stats.live_bytes -= cb;
    if (c < N_CLASSES && stats.cached_bytes + cb <= CACHE_LIMIT) {
        freeblk *b = (freeblk *)p;
        b->next = freelist[c];
        freelist[c] = b;
        stats.cached_bytes += cb;
    } else {
        free(p);
    }
}

void gl_mem_trim(void)
{
    for (int c = 0; c < N_CLASSES; c++) {
        while (freelist[c]) {
            freeblk *b = freelist[c];
            freelist[c] = b->next;
            free(b);
        }
    }
    stats.cached_bytes = 0;
}

void gl_mem_get_stats(gl_mem_stats *s) { *s = stats; }

uint64_t gl_mem_total_bytes(void) { return stats.total_bytes; }
