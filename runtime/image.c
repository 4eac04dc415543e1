/* image.c — sample grids, PNG and GIF files.
 *
 * make_grid follows torchvision.utils.make_grid: images tiled nrow per
 * row with `padding` pixels around each, single-channel images shown as
 * grey RGB, optional min-max normalisation (over everything, a given
 * range, or each image). PNGs go through stb_image_write, GIFs through
 * giflib; both are written to a temporary file that is renamed over the
 * target only once complete, so a crash never leaves a half file. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gif_lib.h>
#include <limits.h>
#include <math.h>
#include <stb_image.h>
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
    int64_t nrow = o->nrow < 1 ? 8 : o->nrow, pad = o->padding < 0 ? 0 : o->padding;
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

typedef struct {
    FILE *f;
    int failed;
} png_sink;

static void sink_write(void *ctx, void *data, int size)
{
    png_sink *s = ctx;
    if (!s->failed && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->failed = 1;
}

/* Write via path.tmp.<pid>, fsync, rename. */
static gl_status finish_atomic(const char *fn, const char *tmp, const char *path, FILE *f, int failed)
{
    int err = failed ? EIO : 0;
    if (!err && fflush(f) != 0) err = errno;
    if (!err && fsync(fileno(f)) != 0) err = errno;
    if (fclose(f) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        remove(tmp);
        return gl_fail(GL_ERR_IO, "%s: cannot write %s: %s", fn, path, strerror(err));
    }
    return GL_OK;
}

gl_status gl_image_write_png(const char *path, const gl_tensor *t)
{
    GL_TRY(check_image("save_png", t));
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return gl_fail(GL_ERR_IO, "save_png: path too long");
    int C, H, W;
    unsigned char *bytes = to_bytes(t, &C, &H, &W);
    if (!bytes) return gl_fail(GL_ERR_NOMEM, "save_png: out of memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(bytes);
        return gl_fail(GL_ERR_IO, "save_png: cannot write %s: %s", path, strerror(e));
    }
    png_sink s = {f, 0};
    int ok = stbi_write_png_to_func(sink_write, &s, W, H, C, bytes, W * C);
    free(bytes);
    return finish_atomic("save_png", tmp, path, f, !ok || s.failed);
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
    unsigned char *px = stbi_load_from_memory(buf, (int)len, &w, &h, &c, channels);
    free(buf);
    if (!px) return gl_fail(GL_ERR_FORMAT, "image.load: %s: %s", path, stbi_failure_reason());
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
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        GifFreeMapObject(cmap);
        return gl_fail(GL_ERR_IO, "save_gif: path too long");
    }
    int err = 0;
    /* our own open(2), so the file gets the usual 0666 & ~umask mode */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    GifFileType *gif = fd >= 0 ? EGifOpenFileHandle(fd, &err) : NULL;
    if (fd >= 0 && !gif) close(fd);
    if (fd < 0) err = E_GIF_ERR_OPEN_FAILED;
    GifByteType *line = malloc((size_t)W);
    gl_status st = GL_OK;
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
    if (EGifCloseFile(gif, &err) == GIF_ERROR) {
        remove(tmp);
        return gl_fail(GL_ERR_IO, "save_gif: cannot write %s: %s", path, GifErrorString(err));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return gl_fail(GL_ERR_IO, "save_gif: cannot write %s: %s", path, strerror(e));
    }
    return GL_OK;
gif_error:
    st = gl_fail(GL_ERR_IO, "save_gif: cannot write %s: %s", path, GifErrorString(gif->Error));
    EGifCloseFile(gif, &err);
    gif = NULL;
fail:
    if (gif) EGifCloseFile(gif, &err);
    remove(tmp);
    free(line);
    GifFreeMapObject(cmap);
    return st;
}
