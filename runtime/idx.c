/* idx.c — MNIST's IDX files (LeCun's format), plain or gzipped.
 *
 * Layout: magic 0x00 0x00 <type> <ndim>, ndim big-endian uint32 sizes,
 * then the values. Only unsigned bytes (type 0x08), the type of every
 * MNIST file, are read. Every field is checked against the data that is
 * actually there: a wrong magic, a truncated body or trailing bytes are
 * errors that name the file, never a short or garbage tensor. zlib's
 * gzread reads plain files as they are, so one path serves both. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

/* Read exactly n bytes; returns the number read (short on EOF/error). */
static size_t read_full(gzFile f, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, buf + got, chunk);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

gl_status gl_idx_load(gl_tensor **out, const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return gl_fail(GL_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gl_status st = GL_OK;
    unsigned char hdr[4], dimb[4 * GL_MAX_DIMS];
    unsigned char *body = NULL;
    gl_tensor *t = NULL;
    size_t got = read_full(f, hdr, 4);
    if (got < 4) {
        st = gl_fail(GL_ERR_FORMAT, "%s: not an IDX file (%zu bytes, shorter than the 4-byte magic)", path, got);
        goto done;
    }
    if (hdr[0] != 0 || hdr[1] != 0) {
        st = gl_fail(GL_ERR_FORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, hdr[0], hdr[1], hdr[2], hdr[3]);
        goto done;
    }
    if (hdr[2] != 0x08) {
        st = gl_fail(GL_ERR_FORMAT, "%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)", path, hdr[2]);
        goto done;
    }
    int nd = hdr[3];
    if (nd < 1 || nd > GL_MAX_DIMS) {
        st = gl_fail(GL_ERR_FORMAT, "%s: IDX header declares %d dims", path, nd);
        goto done;
    }
    if (read_full(f, dimb, (size_t)(4 * nd)) < (size_t)(4 * nd)) {
        st = gl_fail(GL_ERR_FORMAT, "%s: truncated in the IDX header", path);
        goto done;
    }
    int64_t shape[GL_MAX_DIMS], n = 1;
    for (int d = 0; d < nd; d++) {
        const unsigned char *p = dimb + 4 * d;
        shape[d] = ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | (int64_t)p[3];
        if (shape[d] > 0 && n > ((int64_t)1 << 34) / shape[d]) {
            st = gl_fail(GL_ERR_FORMAT, "%s: IDX sizes multiply to an implausible count", path);
            goto done;
        }
        n *= shape[d];
    }
    /* read the body in chunks, so a lying header fails on the missing
     * data instead of allocating its claimed size up front */
    size_t cap = 0, have = 0;
    while (have < (size_t)n) {
        size_t want = (size_t)n - have > ((size_t)16 << 20) ? ((size_t)16 << 20) : (size_t)n - have;
        if (have + want > cap) {
            size_t nc = cap ? cap * 2 : ((size_t)16 << 20);
            while (nc < have + want) nc *= 2;
            if (nc > (size_t)n) nc = (size_t)n;
            unsigned char *nb = realloc(body, nc);
            if (!nb) {
                st = gl_fail(GL_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            body = nb;
            cap = nc;
        }
        size_t r = read_full(f, body + have, want);
        have += r;
        if (r < want) {
            char b[96];
            st = gl_fail(GL_ERR_FORMAT, "%s: truncated: the header declares %s = %lld values, the file holds %zu", path,
                         gl_shape_str(b, sizeof b, nd, shape), (long long)n, have);
            goto done;
        }
    }
    unsigned char extra;
    if (read_full(f, &extra, 1) != 0) {
        st = gl_fail(GL_ERR_FORMAT, "%s: trailing bytes after the %lld values the header declares", path, (long long)n);
        goto done;
    }
    int zerr;
    gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        st = gl_fail(GL_ERR_FORMAT, "%s: corrupt gzip stream (%s)", path, gzerror(f, &zerr));
        goto done;
    }
    if ((st = gl_tensor_new(&t, nd, shape))) goto done;
    for (int64_t i = 0; i < n; i++) t->data[i] = (float)body[i];
    *out = t;
done:
    free(body);
    gzclose(f);
    return st;
}
