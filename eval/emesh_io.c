/* emesh_io.c: reading evaluation meshes through core/hrn_mesh.h, and the small numeric file
 * readers the protocols need (.npy arrays, numeric text/JSON, landmark files). Kept apart from
 * emesh.c so the kernels link without the mesh readers. */
#include "hrn_eval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum hrn_status hrn_emesh_read(const char *path, struct hrn_emesh *out) {
    struct hrn_mesh m = {0};
    enum hrn_status st = hrn_mesh_read(path, &m);
    if (st == HRN_OK) st = hrn_emesh_from_mesh(out, &m);
    hrn_mesh_free(&m);
    return st;
}

/* --- numeric text ------------------------------------------------------------------------------- */

static enum hrn_status slurp(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return hrn_error_set(HRN_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return HRN_OK;
}

/* All numbers in a text, in order. A number starts at a digit, or at '-', '+' or '.' followed by
 * a digit, and is not part of a word (so "x1" or "v2" do not count). "nan", "NaN", "inf" and
 * "infinity" (any case, signed) count too. */
static enum hrn_status scan_numbers(const char *path, const char *s, double **vals, int64_t *n) {
    size_t cap = 64, k = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    const char *p = s;
    while (*p) {
        int prev_word = p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int start = isdigit((unsigned char)p[0]) ||
                    ((p[0] == '-' || p[0] == '+' || p[0] == '.') &&
                     (isdigit((unsigned char)p[1]) || (p[1] == '.' && isdigit((unsigned char)p[2]))));
        int is_nan = (p[0] == 'n' || p[0] == 'N') && (p[1] == 'a' || p[1] == 'A') &&
                     (p[2] == 'n' || p[2] == 'N') && !isalnum((unsigned char)p[3]);
        /* "inf", "-inf", "Infinity" count too, so a landmark file holding one is reported as a
         * non-finite coordinate rather than as a line with too few numbers */
        const char *q = (p[0] == '-' || p[0] == '+') ? p + 1 : p;
        int is_inf = !strncasecmp(q, "inf", 3) &&
                     (!isalnum((unsigned char)q[3]) ||
                      (!strncasecmp(q + 3, "inity", 5) && !isalnum((unsigned char)q[8])));
        if ((start || is_nan || is_inf) && !prev_word) {
            char *end;
            double x = strtod(p, &end);
            if (end == p) {
                p++;
                continue;
            }
            if (k == cap) {
                cap *= 2;
                double *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
                }
                v = nv;
            }
            v[k++] = x;
            p = end;
            continue;
        }
        p++;
    }
    *vals = v;
    *n = (int64_t)k;
    return HRN_OK;
}

enum hrn_status hrn_eval_read_numbers(const char *path, double **vals, int64_t *n) {
    char *text = NULL;
    enum hrn_status st = slurp(path, &text, NULL);
    if (st != HRN_OK) return st;
    st = scan_numbers(path, text, vals, n);
    free(text);
    return st;
}

/* --- .npy ------------------------------------------------------------------------------------------ */

enum hrn_status hrn_eval_npy_read(const char *path, double **data, int *ndim, int64_t shape[4]) {
    struct hrn_npy a;
    *data = NULL;
    enum hrn_status st = hrn_npy_read(path, &a);
    if (st != HRN_OK) return st;
    if (a.ndim > 4) {
        hrn_npy_free(&a);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: more than 4 dimensions", path);
    }
    for (int i = 0; i < 4; i++) shape[i] = a.shape[i];
    *ndim = a.ndim;
    *data = a.data;  /* the caller frees it, as before */
    return HRN_OK;
}

/* --- 7 landmarks ------------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    if (a < b) return 0;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suf[i]) return 0;
    return 1;
}

/* .npy (7,3) or (1,7,3); .pp (MeshLab picked points): the first 7 <point x= y= z=> entries (NoW
 * reads lines 8-14, the first 7 points); text (.txt/.lnd): one landmark per line, 3 numbers, or 4
 * with a leading index (FG 2018 .lnd "idx x y z"); lines with other counts are ignored. */
enum hrn_status hrn_eval_lmk7_read(const char *path, double lmk[21]) {
    enum hrn_status st = HRN_OK;
    char *text = NULL;
    int n = 0;
    if (ends_with(path, ".npy")) {
        double *d = NULL;
        int nd = 0;
        int64_t sh[4];
        HRN_TRY(hrn_eval_npy_read(path, &d, &nd, sh));
        if (sh[0] * sh[1] * sh[2] * sh[3] != 21 || sh[nd - 1] != 3) {
            free(d);
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: expected shape (7,3) or (1,7,3)", path);
            goto fail;
        }
        memcpy(lmk, d, 21 * sizeof(double));
        free(d);
        n = 7;
    } else if (ends_with(path, ".pp")) {
        HRN_TRY(slurp(path, &text, NULL));
        const char *p = text;
        while (n < 7 && (p = strstr(p, "<point")) != NULL) {
            const char *end = strchr(p, '>');
            if (!end) break;
            const char *names[3] = {" x=\"", " y=\"", " z=\""};
            for (int j = 0; j < 3; j++) {
                const char *a = strstr(p, names[j]);
                if (!a || a > end) {
                    st = hrn_error_set(HRN_ERR_FORMAT, "%s: point %d lacks %c=\"...\"", path, n,
                                       'x' + j);
                    goto fail;
                }
                lmk[3 * n + j] = strtod(a + 4, NULL);
            }
            n++;
            p = end;
        }
    } else {
        HRN_TRY(slurp(path, &text, NULL));
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line && n < 8;
             line = strtok_r(NULL, "\n", &save)) {
            double *v = NULL;
            int64_t k = 0;
            HRN_TRY(scan_numbers(path, line, &v, &k));
            if (k == 3 || k == 4) {
                if (n < 7) memcpy(lmk + 3 * n, v + (k - 3), 3 * sizeof(double));
                n++;
            }
            free(v);
        }
    }
    if (n != 7) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: expected 7 landmarks, found %d", path, n);
        goto fail;
    }
    for (int i = 0; i < 21; i++)
        if (!isfinite(lmk[i])) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: landmark %d has a non-finite coordinate", path,
                               i / 3);
            goto fail;
        }
fail:
    free(text);
    return st;
}
