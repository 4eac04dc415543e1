/* error.c — the per-thread message behind every failed gl_status. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char msg[512];

const char *gl_errmsg(void) { return msg; }

gl_status gl_fail(gl_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return st;
}

const char *gl_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    if (ndim == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? "x%lld" : "%lld",
                                 (long long)shape[d]);
    return buf;
}
