/* alloc.c — the size-class cache behind every tensor buffer.
 *
 * A training step allocates the same shapes every iteration; keeping freed
 * buffers in per-class free lists turns those into list pops instead of
 * malloc/free (and page faults for large buffers). Classes are powers of
 * two split in four, so at most 25% is wasted. Buffers are 64-byte aligned
 * for the vectorised loops.
 *
 * The cache is bounded by the peak: live + cached never exceeds the
 * highest live total seen plus a slack (4 MB + 1/64 of it). Without the
 * bound, buffers of classes that peak at different moments of a step all
 * stay cached, and a DCGAN step at 64x64 held 75 MB more than its 303 MB
 * peak of live tensors. With it, a step whose shapes need more than the
 * slack in other classes gives some back and maps them again (DCGAN 64:
 * 17 buffers a step, page faults of a few ms against a step of seconds);
 * small models never reach the slack. Buffers of 1 MB and more are
 * mapped and unmapped directly, so what is given back leaves the process
 * (glibc's heap would keep it). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define N_CLASSES 256
#define MIN_BYTES 256u
/* Keep at most this much idle memory; beyond it frees go to the system. */
#define CACHE_LIMIT ((size_t)1 << 30)
/* buffers from here up are mapped directly; under AddressSanitizer none
 * (it checks the bounds of heap buffers, not of mapped ones) */
#ifdef __SANITIZE_ADDRESS__
#define MAP_BYTES SIZE_MAX
#else
#define MAP_BYTES ((size_t)1 << 20)
#endif

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

/* the bytes class c holds (the inverse of size_class) */
static size_t class_bytes(int c)
{
    if (c == 0) return MIN_BYTES;
    int k = (c - 1) / 4 + 8, sub = (c - 1) % 4 + 1;
    size_t base = (size_t)1 << k;
    return base + (size_t)sub * (base / 4);
}

static void *sys_alloc(size_t cb)
{
    if (cb >= MAP_BYTES) {
        void *p = mmap(NULL, cb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    void *p = NULL;
    return posix_memalign(&p, 64, cb) == 0 ? p : NULL;
}

static void sys_free(void *p, size_t cb)
{
    if (cb >= MAP_BYTES) munmap(p, cb);
    else free(p);
}

/* what live + cached may reach: the peak of live bytes plus the slack */
static size_t cache_bound(void) { return stats.peak_bytes + ((size_t)4 << 20) + stats.peak_bytes / 64; }

/* gives cached buffers back, the largest first, until live + cached +
 * need fits the bound (or nothing is cached) */
static void evict_for(size_t need)
{
    for (int c = N_CLASSES - 1; c >= 0 && stats.live_bytes + stats.cached_bytes + need > cache_bound(); c--) {
        size_t cb;
        while (freelist[c] && stats.live_bytes + stats.cached_bytes + need > cache_bound()) {
            freeblk *b = freelist[c];
            freelist[c] = b->next;
            cb = class_bytes(c);
            stats.cached_bytes -= cb;
            sys_free(b, cb);
        }
    }
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
        if (stats.live_bytes + cb > stats.peak_bytes) stats.peak_bytes = stats.live_bytes + cb;
        evict_for(cb);
        if (!(p = sys_alloc(cb))) {
            /* Give the cache back and try once more before failing. */
            gl_mem_trim();
            if (!(p = sys_alloc(cb))) return NULL;
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
    if (c < N_CLASSES && stats.cached_bytes + cb <= CACHE_LIMIT &&
        stats.live_bytes + stats.cached_bytes + cb <= cache_bound()) {
        freeblk *b = (freeblk *)p;
        b->next = freelist[c];
        freelist[c] = b;
        stats.cached_bytes += cb;
    } else {
        sys_free(p, cb);
    }
}

void gl_mem_trim(void)
{
    for (int c = 0; c < N_CLASSES; c++) {
        while (freelist[c]) {
            freeblk *b = freelist[c];
            freelist[c] = b->next;
            sys_free(b, class_bytes(c));
        }
    }
    stats.cached_bytes = 0;
}

void gl_mem_get_stats(gl_mem_stats *s) { *s = stats; }

uint64_t gl_mem_total_bytes(void) { return stats.total_bytes; }
