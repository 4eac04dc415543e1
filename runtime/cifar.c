/* cifar.c — CIFAR-10's binary version (cifar-10-binary.tar.gz).
 *
 * Each file (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) is a run
 * of 3073-byte records with nothing between them: a label byte 0..9, then
 * 1024 red, 1024 green and 1024 blue bytes, each plane 32 rows of 32. A
 * file that is empty, is not a whole number of records, changes size while
 * it is read, or holds a label above 9 is an error that names it. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define REC 3073
#define PIX 3072

gl_status gl_cifar_load(gl_tensor **x, gl_tensor **labels, const char *const *paths, int n)
{
    if (n < 1) return gl_fail(GL_ERR_ARG, "cifar: no files given");
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) return gl_fail(GL_ERR_IO, "cifar: %s: %s", paths[i], strerror(errno));
        if (!S_ISREG(sb.st_mode)) return gl_fail(GL_ERR_IO, "cifar: %s is not a regular file", paths[i]);
        if (sb.st_size == 0 || sb.st_size % REC != 0)
            return gl_fail(GL_ERR_FORMAT,
                           "cifar: %s holds %lld bytes, not a whole number of 3073-byte records "
                           "(truncated, or not CIFAR-10's binary version)",
                           paths[i], (long long)sb.st_size);
        if (sb.st_size / REC > ((int64_t)1 << 40) / PIX - total)
            return gl_fail(GL_ERR_ARG, "cifar: too many records");
        total += sb.st_size / REC;
    }
    int64_t xs[4] = {total, 3, 32, 32}, ls[1] = {total};
    gl_tensor *X = NULL, *Y = NULL;
    gl_status st;
    if ((st = gl_tensor_new(&X, 4, xs)) || (st = gl_tensor_new(&Y, 1, ls))) goto fail;
    enum { CHUNK = 512 };
    unsigned char *buf = malloc((size_t)CHUNK * REC);
    if (!buf) {
        st = gl_fail(GL_ERR_NOMEM, "cifar: out of memory");
        goto fail;
    }
    int64_t at = 0;
    for (int i = 0; i < n && !st; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            st = gl_fail(GL_ERR_IO, "cifar: %s: %s", paths[i], strerror(errno));
            break;
        }
        size_t got;
        while (!st && (got = fread(buf, 1, (size_t)CHUNK * REC, f)) > 0) {
            if (got % REC != 0 || at + (int64_t)(got / REC) > total) {
                st = gl_fail(GL_ERR_FORMAT, "cifar: %s changed while it was read", paths[i]);
                break;
            }
            for (size_t r = 0; r < got / REC; r++, at++) {
                const unsigned char *rec = buf + r * REC;
                if (rec[0] > 9) {
                    st = gl_fail(GL_ERR_FORMAT, "cifar: %s: record %lld has label %d (CIFAR-10's are 0..9)", paths[i],
                                 (long long)(at + 1), rec[0]);
                    break;
                }
                Y->data[at] = rec[0];
                float *dst = X->data + at * PIX;
                for (int k = 0; k < PIX; k++) dst[k] = rec[1 + k];
            }
        }
        if (!st && ferror(f)) st = gl_fail(GL_ERR_IO, "cifar: %s: read error", paths[i]);
        fclose(f);
    }
    free(buf);
    if (!st && at != total) st = gl_fail(GL_ERR_FORMAT, "cifar: the files changed while they were read");
    if (st) goto fail;
    *x = X;
    *labels = Y;
    return GL_OK;
fail:
    if (X) gl_tensor_release(X);
    if (Y) gl_tensor_release(Y);
    return st;
}
