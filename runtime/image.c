/* image.c — sample grids, PNG and GIF files.
 *
 * make_grid follows torchvision.utils.make_grid: images tiled nrow per
 * row with `padding` pixels around each, single-channel images shown as
 * grey RGB, optional min-max normalisation (over everything, a given
 * range, or each image). PNGs go through stb_image_write, GIFs through
 * giflib; both are written atomically (gl_wfile, atomic.c), so a crash
 * never leaves a half file. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gif_lib.h>
#include <limits.h>
#include <math.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* out: 3 x H x W (or 1-channel input kept as 3 grey channels) in [0, 1]
 * before clamping; t: N x C x h x w or C x h x w, C in {1, 3}. */
gl_status gl_image_make_grid(gl_tensor **out, const gl_tensor *t, const gl_grid_opts *o)
{
    char b[96];
    int64_t N, C, h, w;
    if (t->ndim == 4) { N = t->shape[0]; C = t->shape[1]; h = t->shape[2]; w = t->shape[3]; }
    else if (t->ndim == 3) { N = 1; C = t->shape[0]; h = t->shape[1]; w = t->shape[2]; }
    else if (t->ndim == 2) { N = 1; C = 1; h = t->shape[0]; w = t->shape[1]; }
    else return gl_fail(GL_ERR_SHAPE, "make_grid: expected N x C x H x W, C x H x W or H x W images, got %s", gl_tensor_shape_str(t, b, sizeof b));
    if (C != 1 && C != 3) return gl_fail(GL_ERR_SHAPE, "make_grid: images need 1 or 3 channels, got %lld", (long long)C);
    if (N < 1 || h < 1 || w < 1) return gl_fail(GL_ERR_SHAPE, "make_grid: no pixels in %s", gl_tensor_shape_str(t, b, sizeof b));
    if (o->nrow < 1 || o->padding < 0)
        return gl_fail(GL_ERR_ARG, "make_grid: nrow must be >= 1 and padding >= 0, got %lld and %lld", (long long)o->nrow, (long long)o->padding);
    if (!isnan(o->lo) && !(o->lo < o->hi))
        return gl_fail(GL_ERR_ARG, "make_grid: range must be {lo, hi} with lo < hi, got {%g, %g}", o->lo, o->hi);
    int64_t nrow = o->nrow, pad = o->padding;
    int64_t cols = N < nrow ? N : nrow, rows = (N + nrow - 1) / nrow;
    int64_t H = rows * (h + pad) + pad, W = cols * (w + pad) + pad;
    if (H > 32768 || W > 32768) return gl_fail(GL_ERR_SHAPE, "make_grid: a %lldx%lld grid is too large", (long long)H, (long long)W);
    int64_t shape[3] = {3, H, W};
    gl_tensor *g;
    GL_TRY(gl_full(&g, 3, shape, o->pad_value));
    int64_t per = C * h * w;
    for (int64_t k = 0; k < N; k++) {
        const float *src = t->data + k * per;
        float lo = 0.0f, hi = 1.0f;
        if (o->normalize) {
            if (!isnan(o->lo) && !isnan(o->hi)) { lo = o->lo; hi = o->hi; }
            else {
                const float *p = o->scale_each ? src : t->data;
                int64_t n = o->scale_each ? per : t->numel;
                lo = INFINITY; hi = -INFINITY;
                for (int64_t i = 0; i < n; i++) {
                    if (p[i] < lo) lo = p[i];
                    if (p[i] > hi) hi = p[i];
                }
            }
        }
        float scale = hi - lo > 1e-12f ? 1.0f / (hi - lo) : 1.0f;
        int64_t r = k / nrow, c = k % nrow;
        for (int64_t ch = 0; ch < 3; ch++) {
            const float *plane = src + (C == 1 ? 0 : ch) * h * w;
            for (int64_t y = 0; y < h; y++) {
                float *dst = g->data + (ch * H + pad + r * (h + pad) + y) * W + pad + c * (w + pad);
                for (int64_t x = 0; x < w; x++) {
                    float v = (plane[y * w + x] - lo) * scale;
                    dst[x] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
                }
            }
        }
    }
    *out = g;
    return GL_OK;
}

/* C x H x W floats in [0, 1] -> interleaved bytes (x 255 + 0.5, clamped,
 * as torchvision's save_image) */
static unsigned char *to_bytes(const gl_tensor *t, int *C, int *H, int *W)
{
    *C = (int)t->shape[0]; *H = (int)t->shape[1]; *W = (int)t->shape[2];
    size_t n = (size_t)*C * (size_t)*H * (size_t)*W;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) return NULL;
    for (int c = 0; c < *C; c++)
        for (int64_t i = 0; i < (int64_t)*H * *W; i++) {
            float v = t->data[c * (int64_t)*H * *W + i] * 255.0f + 0.5f;
            b[i * *C + c] = (unsigned char)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
        }
    return b;
}

static gl_status check_image(const char *fn, const gl_tensor *t)
{
    char b[96];
    if (t->ndim != 3 || (t->shape[0] != 1 && t->shape[0] != 3 && t->shape[0] != 4) || t->shape[1] < 1 || t->shape[2] < 1 ||
        t->shape[1] > 32768 || t->shape[2] > 32768)
        return gl_fail(GL_ERR_SHAPE, "%s: expected a C x H x W image with C = 1, 3 or 4, got %s", fn, gl_tensor_shape_str(t, b, sizeof b));
    return GL_OK;
}

static void sink_write(void *ctx, void *data, int size) { gl_wfile_write(ctx, data, (size_t)size); }

gl_status gl_image_write_png(const char *path, const gl_tensor *t)
{
    GL_TRY(check_image("save_png", t));
    int C, H, W;
    unsigned char *bytes = to_bytes(t, &C, &H, &W);
    if (!bytes) return gl_fail(GL_ERR_NOMEM, "save_png: out of memory");
    gl_wfile *w;
    gl_status st = gl_wfile_open(&w, "save_png", path);
    if (st != GL_OK) {
        free(bytes);
        return st;
    }
    if (!stbi_write_png_to_func(sink_write, w, W, H, C, bytes, W * C)) gl_wfile_fail(w, ENOMEM);
    free(bytes);
    return gl_wfile_commit(w);
}

/* The JPEG decoder of stb_image 2.27 (Debian's libstb) builds a Huffman
 * table from a DHT segment's 16 code counts without checking that they add
 * up to at most 256, and a table that claims more overruns the decoder's
 * arrays (fixed upstream after 2.27). Such files are refused before stb sees
 * them: 0 if a table of the DHT segment at p (its length first) declares
 * more codes, read as stb reads it (bytes past the end as 0). */
static int jpeg_dht_ok(const unsigned char *p, size_t n)
{
    long left = (long)(n >= 2 ? p[0] << 8 | p[1] : 0) - 2;
    for (size_t i = 2; left > 0;) {
        int q = i < n ? p[i] : 0, codes = 0;
        if (q >> 4 > 1 || (q & 15) > 3) return 1; /* stb rejects the segment */
        for (size_t k = i + 1; k < i + 17; k++) codes += k < n ? p[k] : 0;
        if (codes > 256) return 0;
        i += 17 + (size_t)codes;
        left -= 17 + codes;
    }
    return 1;
}

/* Every DHT segment stb could read: those before the first scan walked
 * marker by marker as stb walks them (junk and fill bytes skipped, every
 * segment by its length), then, since the compressed data hides where stb
 * resumes, each FF C4 in the rest of the file. */
static int jpeg_tables_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] == 0xff) i++;
    if (i == 0 || i >= n || p[i] != 0xd8) return 1; /* not a JPEG to stb */
    for (i++;;) {
        while (i < n && p[i] != 0xff) i++;
        while (i < n && p[i] == 0xff) i++;
        if (i >= n) return 1;
        int m = p[i++];
        if (m == 0xda) break; /* start of scan */
        if (m == 0xd9 || m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd8)) return 1; /* stb stops */
        if (m == 0xc4 && !jpeg_dht_ok(p + i, n - i)) return 0;
        i += i + 1 < n ? (size_t)(p[i] << 8 | p[i + 1]) : n;
    }
    for (; i + 1 < n; i++)
        if (p[i] == 0xff && p[i + 1] == 0xc4 && !jpeg_dht_ok(p + i + 2, n - i - 2)) return 0;
    return 1;
}

/* stb_image 2.27 also misreads 16-bit PNMs (P5/P6 with a maximum above
 * 255): it takes their big-endian samples in the machine's byte order, and
 * converting their channels reads past its buffer (both fixed upstream
 * after 2.27). They are refused. */
static int pnm16(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6') && stbi_is_16_bit_from_memory(p, (int)n);
}

/* Truncated files. stb_image 2.27 decodes a short PNM or uncompressed TGA
 * into a buffer it never fills (uninitialised pixels), and a short BMP,
 * RLE TGA, JPEG or GIF with zeros or grey in place of the missing data,
 * all without an error. Like PIL (which torchvision uses) ganlua refuses
 * them: the layout each of these formats declares is walked as stb walks
 * it, and a file that ends before its pixels do is an error. PNG needs no
 * check (stb reports its truncation); PSD, PIC and HDR are not checked.
 * Returns 0, or 1 with a description in msg. */
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

static int pnm_truncated(const unsigned char *p, size_t n, char *msg, size_t cap)
{
    /* stb's parser: a character at a time, 0 past the end (never consumed),
     * whitespace and # comments between fields, one character after the
     * maximum value */
    size_t i = 2;
#define PNM_GET() (i < n ? (char)p[i++] : 0)
    int comp = p[1] == '6' ? 3 : 1;
    char c = PNM_GET();
    uint64_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        for (;;) {
            while (i < n && (c == ' ' || (c >= '\t' && c <= '\r'))) c = PNM_GET();
            if (i >= n || c != '#') break;
            while (i < n && c != '\n' && c != '\r') c = PNM_GET();
        }
        while (i < n && c >= '0' && c <= '9' && v[k] < ((uint64_t)1 << 40)) {
            v[k] = v[k] * 10 + (uint64_t)(c - '0');
            c = PNM_GET();
        }
    }
#undef PNM_GET
    uint64_t need = v[0] * v[1] * (uint64_t)comp; /* 8-bit (16-bit ones are refused before) */
    if (v[0] > (1u << 24) || v[1] > (1u << 24) || need <= n - i) return 0; /* stb rejects the sizes itself */
    snprintf(msg, cap, "truncated PNM file (%llu bytes of pixels declared, %zu present)", (unsigned long long)need,
             n - i);
    return 1;
}

/* The first 64 bytes of a file, zeros past its end (as stb reads them). */
static void header64(unsigned char h[64], const unsigned char *p, size_t n)
{
    memset(h, 0, 64);
    memcpy(h, p, n < 64 ? n : 64);
}

static int tga_truncated(const unsigned char *file, size_t n, char *msg, size_t cap)
{
    unsigned char p[64];
    header64(p, file, n);
    int indexed = p[1], type = p[2], bpp = p[16];
    uint64_t pixels = (uint64_t)le16(p + 12) * le16(p + 14), bytes = (uint64_t)(bpp + 7) / 8;
    uint64_t at = 18 + (uint64_t)p[0];
    if (indexed) at += le16(p + 3) + (uint64_t)le16(p + 5) * (uint64_t)((p[7] + 7) / 8);
    if (type < 8) { /* uncompressed */
        uint64_t need = at + pixels * bytes;
        if (need <= n) return 0;
        snprintf(msg, cap, "truncated TGA file (%llu bytes declared, %zu present)", (unsigned long long)need, n);
        return 1;
    }
    /* run-length packets: a count byte, then one pixel (a run) or count pixels */
    uint64_t done = 0;
    while (done < pixels) {
        if (at >= n) break;
        int cmd = file[at++];
        uint64_t count = (uint64_t)(cmd & 127) + 1;
        at += (cmd & 128) ? bytes : count * bytes;
        if (at > n) break;
        done += count;
    }
    if (done >= pixels) return 0;
    snprintf(msg, cap, "truncated TGA file (its run-length data ends after %llu of %llu pixels)",
             (unsigned long long)done, (unsigned long long)pixels);
    return 1;
}

static int bmp_truncated(const unsigned char *file, size_t n, char *msg, size_t cap)
{
    unsigned char p[64];
    header64(p, file, n);
    uint32_t offset = le32(p + 10), hsz = le32(p + 14);
    int64_t w, h;
    int bpp;
    if (hsz == 12) {
        w = le16(p + 18), h = le16(p + 20), bpp = (int)le16(p + 24);
    } else {
        w = (int32_t)le32(p + 18), h = (int32_t)le32(p + 22), bpp = (int)le16(p + 28);
    }
    if (h < 0) h = -h; /* top-down rows */
    if (w <= 0 || h == 0 || w > (1 << 24) || h > (1 << 24) || offset < 14 + hsz) return 0; /* stb decides */
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return 0;
    uint64_t row = ((uint64_t)w * (uint64_t)bpp + 7) / 8, stride = (row + 3) / 4 * 4;
    uint64_t need = offset + stride * (uint64_t)(h - 1) + row; /* the last row's padding may be missing */
    if (need <= n) return 0;
    snprintf(msg, cap, "truncated BMP file (%llu bytes declared, %zu present)", (unsigned long long)need, n);
    return 1;
}

/* A JPEG's entropy-coded data escapes every FF byte, so the first FF D9
 * after its first scan header is the end-of-image marker; without it the
 * scan data was cut. */
static int jpeg_truncated(const unsigned char *p, size_t n, char *msg, size_t cap)
{
    size_t i = 2;
    for (;;) { /* to the first start of scan, segment by segment */
        while (i < n && p[i] != 0xff) i++;
        while (i < n && p[i] == 0xff) i++;
        if (i >= n) break;
        int m = p[i++];
        if (m == 0xda) break;
        if (m == 0xd9) return 0; /* an image without a scan: stb says what is wrong */
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) continue; /* markers without a length */
        if (i + 1 >= n) break;
        i += (size_t)(p[i] << 8 | p[i + 1]);
    }
    for (; i + 1 < n; i++)
        if (p[i] == 0xff && p[i + 1] == 0xd9) return 0;
    snprintf(msg, cap, "truncated JPEG file (no end-of-image marker after its image data)");
    return 1;
}

/* The first image of a GIF (the one stb_image returns): every block up to
 * the end of its compressed data must be in the file. */
static int gif_truncated(const unsigned char *p, size_t n, char *msg, size_t cap)
{
    size_t i = 13;
    if (n >= 13 && (p[10] & 0x80)) i += (size_t)3 << ((p[10] & 7) + 1); /* global colour table */
    for (;;) {
        if (i >= n) break;
        int b = p[i++];
        if (b == 0x3b) return 0; /* trailer before any image: stb says what is wrong */
        if (b == 0x2c) {         /* image descriptor, its colour table, the LZW code size */
            if (i + 9 > n) break;
            int flags = p[i + 8];
            i += 9;
            if (flags & 0x80) i += (size_t)3 << ((flags & 7) + 1);
            i++;
        } else if (b == 0x21) { /* extension: its label, then sub-blocks */
            i++;
        } else {
            return 0; /* not a block stb reads: stb says what is wrong */
        }
        int ended = 0; /* sub-blocks, up to a zero-length one */
        while (i < n && !ended) {
            size_t len = p[i++];
            ended = len == 0;
            i += len;
        }
        if (!ended || i > n) break;
        if (b == 0x2c) return 0;
    }
    snprintf(msg, cap, "truncated GIF file (it ends inside the first image)");
    return 1;
}

static int truncated(const unsigned char *p, size_t n, char *msg, size_t cap)
{
    if (n >= 2 && p[0] == 0xff && p[1] == 0xd8) return jpeg_truncated(p, n, msg, cap);
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return 0;
    if (n >= 2 && p[0] == 'B' && p[1] == 'M') return bmp_truncated(p, n, msg, cap);
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return gif_truncated(p, n, msg, cap);
    if (n >= 4 && (!memcmp(p, "8BPS", 4) || !memcmp(p, "\x53\x80\xf6\x34", 4))) return 0;
    if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return pnm_truncated(p, n, msg, cap);
    if (n >= 2 && p[0] == '#' && p[1] == '?') return 0; /* Radiance HDR */
    int w, h, c;
    if (n <= INT_MAX && stbi_info_from_memory(p, (int)n, &w, &h, &c)) /* what is left is a TGA to stb */
        return tga_truncated(p, n, msg, cap);
    return 0;
}

gl_status gl_image_load(gl_tensor **out, const char *path, int channels)
{
    int w, h, c;
    if (channels < 0 || channels > 4) return gl_fail(GL_ERR_ARG, "image.load: channels must be 0 (as stored), 1, 3 or 4");
    /* the whole file, for the JPEG check and then stb */
    FILE *f = fopen(path, "rb");
    if (!f) return gl_fail(GL_ERR_IO, "image.load: %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, r;
    do {
        if (len == cap) {
            unsigned char *nb = cap <= INT_MAX / 2 ? realloc(buf, cap = cap ? 2 * cap : 65536) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return gl_fail(GL_ERR_NOMEM, "image.load: %s: too large or out of memory", path);
            }
            buf = nb;
        }
        len += r = fread(buf + len, 1, cap - len, f);
    } while (r > 0);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        free(buf);
        return gl_fail(GL_ERR_IO, "image.load: %s: %s", path, strerror(err));
    }
    if (!jpeg_tables_ok(buf, len)) {
        free(buf);
        return gl_fail(GL_ERR_FORMAT, "image.load: %s: bad Huffman table (Corrupt JPEG)", path);
    }
    if (pnm16(buf, len)) {
        free(buf);
        return gl_fail(GL_ERR_FORMAT, "image.load: %s: 16-bit PNM files are not supported", path);
    }
    char why[160];
    if (truncated(buf, len, why, sizeof why)) {
        free(buf);
        return gl_fail(GL_ERR_FORMAT, "image.load: %s: %s", path, why);
    }
    unsigned char *px = stbi_load_from_memory(buf, (int)len, &w, &h, &c, channels);
    free(buf);
    if (!px) {
        const char *reason = stbi_failure_reason();
        return gl_fail(GL_ERR_FORMAT, "image.load: %s: %s", path,
                       reason && *reason ? reason : "not a complete image in a format ganlua reads (truncated?)");
    }
    if (w <= 0 || h <= 0) { /* stb lets a PNM header cut short through as an empty image */
        stbi_image_free(px);
        return gl_fail(GL_ERR_FORMAT, "image.load: %s: the image has no pixels (%d x %d; a truncated header?)", path, w, h);
    }
    int C = channels ? channels : c;
    int64_t shape[3] = {C, h, w};
    gl_tensor *t;
    gl_status st = gl_tensor_new(&t, 3, shape);
    if (st) { stbi_image_free(px); return st; }
    for (int ch = 0; ch < C; ch++)
        for (int64_t i = 0; i < (int64_t)h * w; i++) t->data[ch * (int64_t)h * w + i] = px[i * C + ch] / 255.0f;
    stbi_image_free(px);
    *out = t;
    return GL_OK;
}

gl_status gl_image_resize(gl_tensor **out, const gl_tensor *t, int oh, int ow, double x0, double y0, double x1,
                          double y1)
{
    if (t->ndim != 2 && t->ndim != 3)
        return gl_fail(GL_ERR_SHAPE, "image.resize: expected a C x H x W or H x W image, got %d dims", t->ndim);
    int64_t C = t->ndim == 3 ? t->shape[0] : 1, H = t->shape[t->ndim - 2], W = t->shape[t->ndim - 1];
    if (H < 1 || W < 1 || H > INT_MAX / 4 / (W > 0 ? W : 1))
        return gl_fail(GL_ERR_SHAPE, "image.resize: cannot resize a %lld x %lld image", (long long)H, (long long)W);
    if (oh < 1 || ow < 1 || oh > 65536 || ow > 65536 || (int64_t)oh * ow > (1 << 28))
        return gl_fail(GL_ERR_ARG, "image.resize: bad output size %d x %d", oh, ow);
    if (!(x0 >= 0 && x0 < x1 && x1 <= 1 && y0 >= 0 && y0 < y1 && y1 <= 1))
        return gl_fail(GL_ERR_ARG, "image.resize: bad source region [%g, %g) x [%g, %g)", x0, x1, y0, y1);
    int64_t shape[3] = {C, oh, ow};
    gl_tensor *r;
    GL_TRY(gl_tensor_new(&r, t->ndim, t->ndim == 3 ? shape : shape + 1));
    /* a region of exactly oh x ow whole pixels is copied, not filtered (the
     * Mitchell filter blurs even at scale 1) */
    double px = x0 * (double)W, py = y0 * (double)H;
    if (fabs((x1 - x0) * (double)W - ow) < 1e-6 && fabs((y1 - y0) * (double)H - oh) < 1e-6 &&
        fabs(px - round(px)) < 1e-6 && fabs(py - round(py)) < 1e-6) {
        int64_t cx = (int64_t)round(px), cy = (int64_t)round(py);
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < oh; y++)
                memcpy(r->data + (c * oh + y) * ow, t->data + (c * H + cy + y) * W + cx, (size_t)ow * sizeof(float));
        *out = r;
        return GL_OK;
    }
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < t->numel; i++) {
        lo = fminf(lo, t->data[i]);
        hi = fmaxf(hi, t->data[i]);
    }
    for (int64_t c = 0; c < C; c++) {
        if (!stbir_resize_region(t->data + c * H * W, (int)W, (int)H, (int)(W * 4), r->data + c * oh * ow, ow, oh,
                                 ow * 4, STBIR_TYPE_FLOAT, 1, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                                 STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT, STBIR_FILTER_DEFAULT, STBIR_COLORSPACE_LINEAR,
                                 NULL, (float)x0, (float)y0, (float)x1, (float)y1)) {
            gl_tensor_release(r);
            return gl_fail(GL_ERR_NOMEM, "image.resize: out of memory");
        }
    }
    /* the cubic filters overshoot at sharp edges: keep the source's range */
    for (int64_t i = 0; i < r->numel; i++) {
        if (r->data[i] < lo) r->data[i] = lo;
        if (r->data[i] > hi) r->data[i] = hi;
    }
    *out = r;
    return GL_OK;
}

/* giflib's output function: the bytes go to the atomic file */
static int gif_sink(GifFileType *gif, const GifByteType *data, int n)
{
    return gl_wfile_write(gif->UserData, data, (size_t)n) ? n : 0;
}

/* GIF: frames are 3 x H x W (or 1 x H x W) in [0, 1], all the same size.
 * Grey frames get a 256-level grey palette (exact for MNIST); colour
 * frames a 6 x 7 x 6 colour cube. delay in hundredths of a second. */
gl_status gl_image_write_gif(const char *path, gl_tensor *const *frames, int n, int delay_cs, int loop)
{
    if (n < 1) return gl_fail(GL_ERR_ARG, "save_gif: no frames");
    for (int i = 0; i < n; i++) {
        GL_TRY(check_image("save_gif", frames[i]));
        if (frames[i]->shape[1] != frames[0]->shape[1] || frames[i]->shape[2] != frames[0]->shape[2])
            return gl_fail(GL_ERR_SHAPE, "save_gif: frame %d is %lldx%lld, frame 1 is %lldx%lld", i + 1,
                           (long long)frames[i]->shape[1], (long long)frames[i]->shape[2], (long long)frames[0]->shape[1],
                           (long long)frames[0]->shape[2]);
    }
    int H = (int)frames[0]->shape[1], W = (int)frames[0]->shape[2];
    if (H > 65535 || W > 65535) return gl_fail(GL_ERR_SHAPE, "save_gif: frames larger than 65535 pixels");
    /* grey if every frame is grey */
    int grey = 1;
    for (int i = 0; i < n && grey; i++) {
        const gl_tensor *t = frames[i];
        if (t->shape[0] == 1) continue;
        int64_t P = (int64_t)H * W;
        for (int64_t k = 0; k < P && grey; k++) grey = t->data[k] == t->data[P + k] && t->data[k] == t->data[2 * P + k];
    }
    ColorMapObject *cmap = GifMakeMapObject(256, NULL);
    if (!cmap) return gl_fail(GL_ERR_NOMEM, "save_gif: out of memory");
    for (int i = 0; i < 256; i++) {
        if (grey) {
            cmap->Colors[i].Red = cmap->Colors[i].Green = cmap->Colors[i].Blue = (GifByteType)i;
        } else if (i < 252) {
            cmap->Colors[i].Red = (GifByteType)(i / 42 * 255 / 5);
            cmap->Colors[i].Green = (GifByteType)(i / 6 % 7 * 255 / 6);
            cmap->Colors[i].Blue = (GifByteType)(i % 6 * 255 / 5);
        } else {
            cmap->Colors[i].Red = cmap->Colors[i].Green = cmap->Colors[i].Blue = 0;
        }
    }
    int err = 0;
    gl_wfile *w;
    gl_status st = gl_wfile_open(&w, "save_gif", path);
    if (st != GL_OK) {
        GifFreeMapObject(cmap);
        return st;
    }
    GifFileType *gif = EGifOpen(w, gif_sink, &err);
    GifByteType *line = malloc((size_t)W);
    if (!gif || !line) {
        st = gl_fail(GL_ERR_IO, "save_gif: cannot write %s: %s", path, gif ? "out of memory" : GifErrorString(err));
        goto fail;
    }
    EGifSetGifVersion(gif, true);
    if (EGifPutScreenDesc(gif, W, H, 8, 0, cmap) == GIF_ERROR) goto gif_error;
    if (loop) {
        unsigned char app[11] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'}, sub[3] = {1, 0, 0};
        if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
            EGifPutExtensionBlock(gif, 11, app) == GIF_ERROR || EGifPutExtensionBlock(gif, 3, sub) == GIF_ERROR ||
            EGifPutExtensionTrailer(gif) == GIF_ERROR)
            goto gif_error;
    }
    for (int i = 0; i < n; i++) {
        const gl_tensor *t = frames[i];
        unsigned char gce[4] = {0, (unsigned char)(delay_cs & 255), (unsigned char)((delay_cs >> 8) & 255), 0};
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, gce) == GIF_ERROR) goto gif_error;
        if (EGifPutImageDesc(gif, 0, 0, W, H, false, NULL) == GIF_ERROR) goto gif_error;
        int64_t P = (int64_t)H * W;
        int C = (int)t->shape[0];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int64_t k = (int64_t)y * W + x;
                float r = t->data[k], g = C >= 3 ? t->data[P + k] : r, bl = C >= 3 ? t->data[2 * P + k] : r;
                r = r < 0 ? 0 : (r > 1 ? 1 : r);
                g = g < 0 ? 0 : (g > 1 ? 1 : g);
                bl = bl < 0 ? 0 : (bl > 1 ? 1 : bl);
                if (grey) line[x] = (GifByteType)(r * 255.0f + 0.5f);
                else line[x] = (GifByteType)((int)(r * 5 + 0.5f) * 42 + (int)(g * 6 + 0.5f) * 6 + (int)(bl * 5 + 0.5f));
            }
            if (EGifPutLine(gif, line, W) == GIF_ERROR) goto gif_error;
        }
    }
    free(line);
    GifFreeMapObject(cmap);
    if (EGifCloseFile(gif, &err) == GIF_ERROR) gl_wfile_fail(w, EIO);
    return gl_wfile_commit(w);
gif_error:
    st = gl_fail(GL_ERR_IO, "save_gif: cannot write %s: %s", path, GifErrorString(gif->Error));
fail:
    if (gif) EGifCloseFile(gif, &err);
    gl_wfile_abort(w);
    free(line);
    GifFreeMapObject(cmap);
    return st;
}
