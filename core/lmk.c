/* lmk.c: landmark files (plain `x y` text, 300-W .pts) and the 68 -> 5 point reduction. */
#include "hrn_lmk.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), k = strlen(ext);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)path[n - k + i]) != tolower((unsigned char)ext[i])) return 0;
    return 1;
}

static enum hrn_status check_args(const char *path, int expected, const float *xy, int cap) {
    if (!xy || cap < 1 || expected < 0 || expected > cap)
        return hrn_error_set(HRN_ERR_INVALID, "%s: bad arguments (expected %d, capacity %d)", path,
                             expected, cap);
    return HRN_OK;
}

/* Parse "x y" from s (comment already cut). Returns the number of values found (0..3, 3 meaning
 * "more than two") and sets *bad to the first token that is not a finite number. */
static int parse_xy(char *s, double out[2], const char **bad) {
    int k = 0;
    *bad = NULL;
    char *save = NULL;
    for (char *t = strtok_r(s, " \t\r\n,", &save); t; t = strtok_r(NULL, " \t\r\n,", &save)) {
        if (k == 2) return 3;
        char *end;
        errno = 0;
        double v = strtod(t, &end);
        if (end == t || *end || !isfinite(v) || (errno == ERANGE && fabs(v) == HUGE_VAL) ||
            fabs(v) > 1e30) {
            *bad = t;
            return k + 1;
        }
        out[k++] = v;
    }
    return k;
}

/* One "x y" point line: HRN_ERR_FORMAT naming file:line for a non-finite number or a count other
 * than two (shared by the text and .pts readers). */
static enum hrn_status parse_point_line(const char *path, long lineno, char *line, double p[2]) {
    const char *bad;
    int k = parse_xy(line, p, &bad);
    if (bad)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: '%s' is not a finite number", path, lineno,
                             bad);
    if (k != 2)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: expected 'x y', found %s", path, lineno,
                             k < 2 ? "one value" : "more than two values");
    return HRN_OK;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

static enum hrn_status count_check(const char *path, int got, int expected, int cap) {
    if (expected > 0 && got != expected)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %d landmarks, expected %d", path, got, expected);
    if (got == 0) return hrn_error_set(HRN_ERR_FORMAT, "%s: no landmarks", path);
    if (got > cap) return hrn_error_set(HRN_ERR_FORMAT, "%s: more than %d landmarks", path, cap);
    return HRN_OK;
}

enum hrn_status hrn_lmk_read_txt(const char *path, int expected, float *xy, int cap, int *n) {
    enum hrn_status st = check_args(path, expected, xy, cap);
    if (st != HRN_OK) return st;
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    int got = 0;
    /* with an expected count, read past it to report the real count */
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        if (blank(line)) continue;
        double p[2];
        HRN_TRY(parse_point_line(path, lineno, line, p));
        if (got < cap) {
            xy[2 * got] = (float)p[0];
            xy[2 * got + 1] = (float)p[1];
        }
        if (got < 1 << 30) got++;
    }
    if (ferror(f)) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
        goto fail;
    }
    HRN_TRY(count_check(path, got, expected, cap));
    if (n) *n = got;
fail:
    free(line);
    fclose(f);
    return st;
}

/* "key: value" header line of a .pts file; value parsed as a positive int when ival is set. */
static int pts_header(char *line, const char *key, long *ival) {
    size_t k = strlen(key);
    while (isspace((unsigned char)*line))
        line++;
    if (strncmp(line, key, k) != 0 || line[k] != ':') return 0;
    char *v = line + k + 1, *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || errno == ERANGE || !blank(end)) return -1;
    *ival = x;
    return 1;
}

enum hrn_status hrn_lmk_read_pts(const char *path, int expected, float *xy, int cap, int *n) {
    enum hrn_status st = check_args(path, expected, xy, cap);
    if (st != HRN_OK) return st;
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0, version = -1, n_points = -1;
    int state = 0; /* 0: header, 1: inside { }, 2: after } */
    int got = 0;
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        if (blank(line)) continue;
        if (state == 0) {
            int r;
            if ((r = pts_header(line, "version", &version)) != 0) {
                if (r < 0 || version != 1) {
                    st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: expected 'version: 1'", path,
                                       lineno);
                    goto fail;
                }
                continue;
            }
            if ((r = pts_header(line, "n_points", &n_points)) != 0) {
                if (r < 0 || n_points < 1 || n_points > (1L << 24)) {
                    st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: bad 'n_points'", path, lineno);
                    goto fail;
                }
                continue;
            }
            char *s = line;
            while (isspace((unsigned char)*s))
                s++;
            if (*s == '{' && blank(s + 1)) {
                if (n_points < 0) {
                    st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: '{' before 'n_points:'", path,
                                       lineno);
                    goto fail;
                }
                state = 1;
                continue;
            }
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: expected 'version:', 'n_points:' or '{'",
                               path, lineno);
            goto fail;
        }
        if (state == 2) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: text after the closing '}'", path, lineno);
            goto fail;
        }
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '}' && blank(s + 1)) {
            state = 2;
            continue;
        }
        double p[2];
        HRN_TRY(parse_point_line(path, lineno, line, p));
        if (got < cap) {
            /* 1-based Matlab convention -> 0-based pixel centres */
            xy[2 * got] = (float)(p[0] - 1.0);
            xy[2 * got + 1] = (float)(p[1] - 1.0);
        }
        if (got < 1 << 30) got++;
    }
    if (ferror(f)) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
        goto fail;
    }
    if (state != 2) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: %s", path,
                           state == 0 ? "no '{' (not a .pts file?)" : "no closing '}'");
        goto fail;
    }
    if (got != n_points) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: %d landmarks, but n_points says %ld", path, got,
                           n_points);
        goto fail;
    }
    HRN_TRY(count_check(path, got, expected, cap));
    if (n) *n = got;
fail:
    free(line);
    fclose(f);
    return st;
}

enum hrn_status hrn_lmk_read(const char *path, int expected, float *xy, int cap, int *n) {
    if (has_ext(path, ".pts")) return hrn_lmk_read_pts(path, expected, xy, cap, n);
    if (has_ext(path, ".txt")) return hrn_lmk_read_txt(path, expected, xy, cap, n);
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: unknown landmark format, expected .txt or .pts",
                         path);
}

static enum hrn_status write_points(const char *path, const float *xy, int n, int pts) {
    if (!xy || n < 1) return hrn_error_set(HRN_ERR_INVALID, "%s: no landmarks to write", path);
    for (int i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i]))
            return hrn_error_set(HRN_ERR_NUMERIC, "%s: landmark %d is not finite", path, i / 2);
    struct hrn_tmpfile tf;
    enum hrn_status st = hrn_tmpfile_open(&tf, path);
    if (st != HRN_OK) return st;
    FILE *f = tf.fp;
    double off = pts ? 1.0 : 0.0;
    if (pts) fprintf(f, "version: 1\nn_points: %d\n{\n", n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%.9g %.9g\n", (double)xy[2 * i] + off, (double)xy[2 * i + 1] + off);
    if (pts) fprintf(f, "}\n");
    return hrn_tmpfile_close(&tf, 1);
}

enum hrn_status hrn_lmk_write_txt(const char *path, const float *xy, int n) {
    return write_points(path, xy, n, 0);
}

enum hrn_status hrn_lmk_write_pts(const char *path, const float *xy, int n) {
    return write_points(path, xy, n, 1);
}

void hrn_lmk_extract_5p(const float *lm68, float *lm5) {
    static const int pairs[5][2] = {{36, 39}, {42, 45}, {30, 30}, {48, 48}, {54, 54}};
    for (int i = 0; i < 5; i++)
        for (int c = 0; c < 2; c++)
            lm5[2 * i + c] = 0.5f * (lm68[2 * pairs[i][0] + c] + lm68[2 * pairs[i][1] + c]);
}
