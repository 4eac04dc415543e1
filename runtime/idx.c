/* idx.c — MNIST's IDX files (LeCun's format), plain or gzipped.
 *
 * Layout: magic 0x00 0x00 <type> <ndim>, ndim big-endian uint32 sizes,
 * then the values. Only unsigned bytes (type 0x08), the type of every
 * MNIST file, are read. Every field is checked against the data that is
 * actually there: a wrong magic, a truncated body or trailing bytes are
 * errors that name the file, never a short or garbage tensor. A file that
 * starts with gzip's magic is inflated member by member, and a corrupt or
 * truncated stream or bytes after its last member are errors too (zlib's
 * gzread skips such bytes silently, so it is not used). */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

/* The open file: plain bytes, or a gzip stream inflated through z. */
typedef struct {
    FILE *f;
    int gz, end;     /* end: gzip's last member is done */
    const char *err; /* what is wrong with the gzip stream, or NULL */
    z_stream z;      /* next_in/avail_in: the buffered input, either way */
    unsigned char in[1 << 16];
} idx_src;

/* Refill the input buffer once it is empty; 0 at the end of the file. */
static int fill(idx_src *s)
{
    if (s->z.avail_in == 0) {
        s->z.next_in = s->in;
        s->z.avail_in = (uInt)fread(s->in, 1, sizeof s->in, s->f);
    }
    return s->z.avail_in > 0;
}

/* Read exactly n bytes; returns the number read, short at the end of the
 * data or on a bad gzip stream (s->err). */
static size_t read_full(idx_src *s, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n && !s->gz && fill(s)) {
        size_t k = n - got < s->z.avail_in ? n - got : s->z.avail_in;
        memcpy(buf + got, s->z.next_in, k);
        s->z.next_in += k;
        s->z.avail_in -= (uInt)k;
        got += k;
    }
    while (got < n && s->gz && !s->end && !s->err) {
        if (!fill(s)) {
            s->err = "unexpected end of file";
            break;
        }
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        s->z.next_out = buf + got;
        s->z.avail_out = (uInt)want;
        int r = inflate(&s->z, Z_NO_FLUSH);
        got += want - s->z.avail_out;
        if (r == Z_STREAM_END) { /* another member may follow, nothing else */
            if (!fill(s)) s->end = 1;
            else if (s->z.next_in[0] != 0x1f) s->err = "trailing bytes after the gzip data";
            else inflateReset(&s->z);
        } else if (r != Z_OK && r != Z_BUF_ERROR) s->err = s->z.msg ? s->z.msg : "cannot inflate";
    }
    return got;
}

static gl_status bad_gzip(const char *path, const idx_src *s)
{
    return gl_fail(GL_ERR_FORMAT, "%s: corrupt gzip stream (%s)", path, s->err);
}

gl_status gl_idx_load(gl_tensor **out, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return gl_fail(GL_ERR_IO, "%s: %s", path, strerror(errno));
    idx_src *s = calloc(1, sizeof *s);
    if (!s) {
        fclose(f);
        return gl_fail(GL_ERR_NOMEM, "%s: out of memory", path);
    }
    s->f = f;
    gl_status st = GL_OK;
    unsigned char hdr[4], dimb[4 * GL_MAX_DIMS];
    unsigned char *body = NULL;
    gl_tensor *t = NULL;
    if (fill(s) && s->z.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            st = gl_fail(GL_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        s->gz = 1;
    }
    size_t got = read_full(s, hdr, 4);
    if (got < 4) {
        st = s->err ? bad_gzip(path, s)
                    : gl_fail(GL_ERR_FORMAT, "%s: not an IDX file (%zu bytes, shorter than the 4-byte magic)", path, got);
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
    if (read_full(s, dimb, (size_t)(4 * nd)) < (size_t)(4 * nd)) {
        st = s->err ? bad_gzip(path, s) : gl_fail(GL_ERR_FORMAT, "%s: truncated in the IDX header", path);
        goto done;
    }
    /* nz, the product of the nonzero sizes, is bounded too: a 0 must not
     * let through sizes whose product overflows wherever it is taken */
    int64_t shape[GL_MAX_DIMS], n = 1, nz = 1;
    for (int d = 0; d < nd; d++) {
        const unsigned char *p = dimb + 4 * d;
        shape[d] = ((int64_t)p[0] << 24) | ((int64_t)p[1] << 16) | ((int64_t)p[2] << 8) | (int64_t)p[3];
        if (shape[d] > 0 && nz > ((int64_t)1 << 34) / shape[d]) {
            st = gl_fail(GL_ERR_FORMAT, "%s: IDX sizes multiply to an implausible count", path);
            goto done;
        }
        if (shape[d] > 0) nz *= shape[d];
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
        size_t r = read_full(s, body + have, want);
        have += r;
        if (r < want) {
            char b[96];
            if (s->err) {
                st = bad_gzip(path, s);
                goto done;
            }
            st = gl_fail(GL_ERR_FORMAT, "%s: truncated: the header declares %s = %lld values, the file holds %zu", path,
                         gl_shape_str(b, sizeof b, nd, shape), (long long)n, have);
            goto done;
        }
    }
    unsigned char extra;
    if (read_full(s, &extra, 1) != 0) {
        st = gl_fail(GL_ERR_FORMAT, "%s: trailing bytes after the %lld values the header declares", path, (long long)n);
        goto done;
    }
    if (s->err) { /* the trailer's checksum and length are read last */
        st = bad_gzip(path, s);
        goto done;
    }
    if ((st = gl_tensor_new(&t, nd, shape))) goto done;
    for (int64_t i = 0; i < n; i++) t->data[i] = (float)body[i];
    *out = t;
done:
    free(body);
    if (s->gz) inflateEnd(&s->z);
    fclose(f);
    free(s);
    return st;
}
