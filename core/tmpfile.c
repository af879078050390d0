/* tmpfile.c: files written whole or not at all (hrn_base.h). */
#include "hrn_base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status hrn_tmpfile_open(struct hrn_tmpfile *tf, const char *path) {
    memset(tf, 0, sizeof *tf);
    size_t n = strlen(path);
    tf->path = malloc(n + 1);
    tf->tmp = malloc(n + 5);
    if (!tf->path || !tf->tmp) {
        hrn_tmpfile_close(tf, 0);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tf->path, path, n + 1);
    memcpy(tf->tmp, path, n);
    memcpy(tf->tmp + n, ".tmp", 5);
    tf->fp = fopen(tf->tmp, "wb");
    if (!tf->fp) {
        enum hrn_status st =
            hrn_error_set(HRN_ERR_IO, "%s: cannot create '%s': %s", path, tf->tmp, strerror(errno));
        free(tf->path);
        free(tf->tmp);
        memset(tf, 0, sizeof *tf);
        return st;
    }
    return HRN_OK;
}

enum hrn_status hrn_tmpfile_close(struct hrn_tmpfile *tf, int commit) {
    enum hrn_status st = HRN_OK;
    if (tf->fp) {
        int bad = ferror(tf->fp), err = errno;
        if (fclose(tf->fp) != 0 && !bad) {
            bad = 1;
            err = errno;
        }
        tf->fp = NULL;
        if (commit && bad) {
            st = hrn_error_set(HRN_ERR_IO, "%s: write failed on '%s': %s", tf->path, tf->tmp,
                               strerror(err));
            commit = 0;
        }
        if (commit && rename(tf->tmp, tf->path) != 0) {
            st = hrn_error_set(HRN_ERR_IO, "%s: cannot rename '%s' to it: %s", tf->path, tf->tmp,
                               strerror(errno));
            commit = 0;
        }
        if (!commit) remove(tf->tmp);
    }
    free(tf->path);
    free(tf->tmp);
    tf->path = tf->tmp = NULL;
    return st;
}
