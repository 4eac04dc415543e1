/* atomic.c — the one way ganlua writes a file.
 *
 * The bytes go to a new temporary file beside the target (same directory,
 * so the rename cannot cross file systems), which is flushed, fsync'ed,
 * given the usual 0666 & ~umask mode and renamed over the target; then the
 * directory is fsync'ed so the rename itself survives a power cut. On any
 * failure the temporary file is removed and the target is untouched: a
 * reader sees the old file or the new one, never a mixture, even when the
 * writer is killed (a killed writer leaves only its PATH.tmp.XXXXXX). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gl_wfile {
    FILE *f;
    int err;         /* first errno seen; 0 while all is well */
    char *fn, *path; /* the operation's name and the target, for messages */
    char tmp[];
};

static mode_t file_mode(void)
{
    mode_t m = umask(022); /* the only portable read of the umask */
    umask(m);
    return 0666 & ~m;
}

static gl_status fail_io(const char *fn, const char *path, int err)
{
    return gl_fail(GL_ERR_IO, "%s: cannot write %s: %s", fn, path, strerror(err ? err : EIO));
}

gl_status gl_wfile_open(gl_wfile **out, const char *fn, const char *path)
{
    *out = NULL;
    size_t np = strlen(path), nf = strlen(fn);
    if (np == 0) return gl_fail(GL_ERR_IO, "%s: cannot write an empty path", fn);
    gl_wfile *w = malloc(sizeof *w + np + sizeof ".tmp.XXXXXX");
    char *names = malloc(np + nf + 2);
    if (!w || !names) {
        free(w);
        free(names);
        return gl_fail(GL_ERR_NOMEM, "%s: out of memory", fn);
    }
    memcpy(w->tmp, path, np);
    memcpy(w->tmp + np, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    w->fn = names;
    memcpy(w->fn, fn, nf + 1);
    w->path = names + nf + 1;
    memcpy(w->path, path, np + 1);
    w->err = 0;
    int fd = mkostemp(w->tmp, O_CLOEXEC);
    if (fd < 0) {
        gl_status st = fail_io(fn, path, errno);
        free(names);
        free(w);
        return st;
    }
    if (fchmod(fd, file_mode()) != 0 || !(w->f = fdopen(fd, "wb"))) {
        gl_status st = fail_io(fn, path, errno);
        close(fd);
        unlink(w->tmp);
        free(names);
        free(w);
        return st;
    }
    *out = w;
    return GL_OK;
}

FILE *gl_wfile_stream(gl_wfile *w) { return w->f; }

const char *gl_wfile_tmpname(const gl_wfile *w) { return w->tmp; }

void gl_wfile_fail(gl_wfile *w, int err)
{
    if (!w->err) w->err = err ? err : EIO;
}

int gl_wfile_write(gl_wfile *w, const void *data, size_t n)
{
    if (w->err) return 0;
    if (n && fwrite(data, 1, n, w->f) != n) gl_wfile_fail(w, errno);
    return !w->err;
}

static void release(gl_wfile *w)
{
    free(w->fn);
    free(w);
}

void gl_wfile_abort(gl_wfile *w)
{
    if (!w) return;
    fclose(w->f);
    unlink(w->tmp);
    release(w);
}

/* fsync the directory holding path; file systems that cannot (EINVAL) are
 * left alone, as every database does */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return 0; /* the rename has happened; nothing to sync through */
    int err = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
    close(fd);
    return err;
}

gl_status gl_wfile_commit(gl_wfile *w)
{
    int err = w->err;
    if (!err && fflush(w->f) != 0) err = errno;
    if (!err && fsync(fileno(w->f)) != 0) err = errno;
    if (fclose(w->f) != 0 && !err) err = errno;
    if (!err && rename(w->tmp, w->path) != 0) err = errno;
    if (err) {
        unlink(w->tmp);
        gl_status st = fail_io(w->fn, w->path, err);
        release(w);
        return st;
    }
    err = sync_dir(w->path);
    gl_status st = err ? fail_io(w->fn, w->path, err) : GL_OK;
    release(w);
    return st;
}

gl_status gl_write_file(const char *fn, const char *path, const void *data, size_t n)
{
    gl_wfile *w;
    GL_TRY(gl_wfile_open(&w, fn, path));
    gl_wfile_write(w, data, n);
    return gl_wfile_commit(w);
}
