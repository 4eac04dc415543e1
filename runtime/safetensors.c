/* safetensors.c — the safetensors file format (Hugging Face): an 8-byte
 * little-endian header length, a JSON header mapping names to dtype,
 * shape and [begin, end) byte offsets into the data that follows, and an
 * optional "__metadata__" object of strings.
 *
 * Writing: float32 tensors, header padded with spaces to a multiple of 8,
 * atomically (gl_wfile, atomic.c), so a crash or a full disk leaves the
 * previous file intact.
 * Reading: the whole file is read once; the header length is checked
 * against the file size, and every tensor's offsets against the data
 * size and its dtype x shape, before a byte is converted. The JSON itself
 * is parsed by the caller (stdlib), which hands back each entry. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gl_st_file {
    unsigned char *buf;
    size_t size;      /* whole file */
    size_t header;    /* header length */
    char path[1024];
};

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

gl_status gl_st_write(const char *path, const char *const *names, gl_tensor *const *ts, int n, const char *metadata_json)
{
    /* the header, built in memory first to know its length */
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *h = open_memstream(&hdr, &hlen);
    if (!h) return gl_fail(GL_ERR_NOMEM, "safetensors: out of memory");
    fputc('{', h);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', h);
        put_json_string(h, names[i]);
        fprintf(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < ts[i]->ndim; d++) fprintf(h, d ? ",%lld" : "%lld", (long long)ts[i]->shape[d]);
        uint64_t bytes = (uint64_t)ts[i]->numel * 4;
        fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    if (metadata_json && *metadata_json) fprintf(h, "%s\"__metadata__\":%s", n ? "," : "", metadata_json);
    fputc('}', h);
    while ((ftell(h) % 8) != 0) fputc(' ', h);
    if (fclose(h) != 0 || !hdr) {
        free(hdr);
        return gl_fail(GL_ERR_NOMEM, "safetensors: out of memory");
    }
    gl_wfile *w;
    gl_status st = gl_wfile_open(&w, "safetensors", path);
    if (st != GL_OK) {
        free(hdr);
        return st;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)(((uint64_t)hlen >> (8 * k)) & 255);
    gl_wfile_write(w, len8, 8);
    gl_wfile_write(w, hdr, hlen);
    free(hdr);
    for (int i = 0; i < n; i++) /* float32, little-endian like this machine */
        gl_wfile_write(w, ts[i]->data, 4 * (size_t)ts[i]->numel);
    return gl_wfile_commit(w);
}

gl_status gl_st_open(gl_st_file **out, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return gl_fail(GL_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return gl_fail(GL_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return gl_fail(GL_ERR_FORMAT, "%s: not a safetensors file (%zu bytes, shorter than the 8-byte header length)", path, size);
    }
    gl_st_file *sf = calloc(1, sizeof *sf);
    unsigned char *buf = malloc(size);
    if (!sf || !buf) {
        free(sf);
        free(buf);
        close(fd);
        return gl_fail(GL_ERR_NOMEM, "%s: out of memory for %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got < size) {
        free(sf);
        free(buf);
        return gl_fail(GL_ERR_IO, "%s: read %zu of %zu bytes", path, got, size);
    }
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = (hl << 8) | buf[k];
    if (hl > size - 8 || hl < 2) {
        free(sf);
        free(buf);
        return gl_fail(GL_ERR_FORMAT, "%s: header length %llu does not fit in a %zu-byte file (truncated or not safetensors)",
                       path, (unsigned long long)hl, size);
    }
    if (buf[8] != '{') {
        free(sf);
        free(buf);
        return gl_fail(GL_ERR_FORMAT, "%s: the header is not a JSON object", path);
    }
    sf->buf = buf;
    sf->size = size;
    sf->header = (size_t)hl;
    snprintf(sf->path, sizeof sf->path, "%s", path);
    *out = sf;
    return GL_OK;
}

uint64_t gl_st_data_size(const gl_st_file *sf) { return sf->size - 8 - sf->header; }

const char *gl_st_header(const gl_st_file *sf, size_t *len)
{
    *len = sf->header;
    return (const char *)sf->buf + 8;
}

static int dtype_size(const char *dt)
{
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32") || !strcmp(dt, "U32")) return 4;
    if (!strcmp(dt, "F64") || !strcmp(dt, "I64") || !strcmp(dt, "U64")) return 8;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16") || !strcmp(dt, "I16") || !strcmp(dt, "U16")) return 2;
    if (!strcmp(dt, "U8") || !strcmp(dt, "I8") || !strcmp(dt, "BOOL")) return 1;
    return 0;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (m == 0) bits = s;
        else { /* subnormal */
            float v = (float)m / 1024.0f / 16384.0f;
            return s ? -v : v;
        }
    } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

gl_status gl_st_tensor(gl_tensor **out, const gl_st_file *sf, const char *name, const char *dtype, int ndim,
                       const int64_t *shape, uint64_t begin, uint64_t end)
{
    int es = dtype_size(dtype);
    if (!es) return gl_fail(GL_ERR_FORMAT, "%s: tensor '%s' has dtype %s, which ganlua cannot read", sf->path, name, dtype);
    if (ndim < 0 || ndim > GL_MAX_DIMS) return gl_fail(GL_ERR_FORMAT, "%s: tensor '%s' has %d dims", sf->path, name, ndim);
    /* nz, the product of the nonzero sizes, is bounded too: a 0 must not
     * let through sizes whose product overflows wherever it is taken */
    uint64_t n = 1, nz = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && nz > ((uint64_t)1 << 40) / (uint64_t)shape[d]))
            return gl_fail(GL_ERR_FORMAT, "%s: tensor '%s' has an implausible shape", sf->path, name);
        if (shape[d] > 0) nz *= (uint64_t)shape[d];
        n *= (uint64_t)shape[d];
    }
    uint64_t data = sf->size - 8 - sf->header;
    if (begin > end || end > data)
        return gl_fail(GL_ERR_FORMAT, "%s: tensor '%s' spans bytes %llu..%llu but the data holds %llu (truncated?)", sf->path,
                       name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data);
    if (end - begin != n * (uint64_t)es)
        return gl_fail(GL_ERR_FORMAT, "%s: tensor '%s' has %llu bytes for %llu %s values", sf->path, name,
                       (unsigned long long)(end - begin), (unsigned long long)n, dtype);
    gl_tensor *t;
    GL_TRY(gl_tensor_new(&t, ndim, shape));
    const unsigned char *p = sf->buf + 8 + sf->header + begin;
    for (uint64_t i = 0; i < n; i++, p += es) {
        float v;
        if (!strcmp(dtype, "F32")) memcpy(&v, p, 4);
        else if (!strcmp(dtype, "F64")) { double x; memcpy(&x, p, 8); v = (float)x; }
        else if (!strcmp(dtype, "F16")) { uint16_t x; memcpy(&x, p, 2); v = half_to_float(x); }
        else if (!strcmp(dtype, "BF16")) { uint32_t x = (uint32_t)(p[0] | (p[1] << 8)) << 16; memcpy(&v, &x, 4); }
        else if (!strcmp(dtype, "I64")) { int64_t x; memcpy(&x, p, 8); v = (float)x; }
        else if (!strcmp(dtype, "U64")) { uint64_t x; memcpy(&x, p, 8); v = (float)x; }
        else if (!strcmp(dtype, "I32")) { int32_t x; memcpy(&x, p, 4); v = (float)x; }
        else if (!strcmp(dtype, "U32")) { uint32_t x; memcpy(&x, p, 4); v = (float)x; }
        else if (!strcmp(dtype, "I16")) { int16_t x; memcpy(&x, p, 2); v = (float)x; }
        else if (!strcmp(dtype, "U16")) { uint16_t x; memcpy(&x, p, 2); v = (float)x; }
        else if (!strcmp(dtype, "I8")) v = (float)(int8_t)p[0];
        else v = (float)p[0]; /* U8, BOOL */
        t->data[i] = v;
    }
    *out = t;
    return GL_OK;
}

void gl_st_close(gl_st_file *sf)
{
    if (!sf) return;
    free(sf->buf);
    free(sf);
}
