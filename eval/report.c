/* report.c: report text buffers and atomic file writes for hrn-eval's CSV, JSON and tables. */
#include "hrn_eval.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hrn_eval_sbuf_printf(struct hrn_eval_sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        va_end(ap2);
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)need + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            va_end(ap2);
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    vsnprintf(b->s + b->len, (size_t)need + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)need;
}

void hrn_eval_sbuf_free(struct hrn_eval_sbuf *b) {
    if (!b) return;
    free(b->s);
    memset(b, 0, sizeof *b);
}

enum hrn_status hrn_eval_write_atomic(const char *path, const char *text, size_t len) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t w = len ? fwrite(text, 1, len, f) : 0;
    int bad = w != len || fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        return hrn_error_set(HRN_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return hrn_error_set(HRN_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(e));
    }
    return HRN_OK;
}
