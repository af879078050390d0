/* cli_util.c: small helpers of the hrn-eval executable (files, JSON/CSV fields, skip lists). */
#include "eval_cli_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- small helpers ------------------------------------------------------------------------------ */

int hrn__parse_int(const char *opt, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < lo || v > hi) {
        fprintf(stderr, "hrn-eval: %s: expected an integer in [%ld, %ld], got '%s'\n", opt, lo,
                hi, s);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int hrn__parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "hrn-eval: %s: expected a finite number in [%g, %g], got '%s'\n", opt, lo,
                hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int hrn__method_ok(const char *m) {
    if (!m[0] || m[0] == '.' || strlen(m) > 128) return 0;
    for (const char *p = m; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') return 0;
    return 1;
}

int hrn__file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

enum hrn_status hrn__mkdir_p(const char *path) {
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
    return HRN_OK;
}

enum hrn_status hrn__write_sbuf(const char *path, struct hrn_eval_sbuf *b) {
    if (b->oom) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory building the report", path);
    return hrn_eval_write_atomic(path, b->s ? b->s : "", b->len);
}

/* JSON string body with escapes. */
void hrn__json_str(struct hrn_eval_sbuf *b, const char *s) {
    hrn_eval_sbuf_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') hrn_eval_sbuf_printf(b, "\\%c", c);
        else if (c < 0x20) hrn_eval_sbuf_printf(b, "\\u%04x", c);
        else hrn_eval_sbuf_printf(b, "%c", c);
    }
    hrn_eval_sbuf_printf(b, "\"");
}

void hrn__json_num(struct hrn_eval_sbuf *b, double x) {
    if (isfinite(x)) hrn_eval_sbuf_printf(b, "%.10g", x);
    else hrn_eval_sbuf_printf(b, "null");
}

/* CSV field: quoted when it holds a comma, quote or newline. */
void hrn__csv_str(struct hrn_eval_sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        hrn_eval_sbuf_printf(b, "%s", s);
        return;
    }
    hrn_eval_sbuf_printf(b, "\"");
    for (; *s; s++) hrn_eval_sbuf_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    hrn_eval_sbuf_printf(b, "\"");
}


void hrn__skip_add(struct hrn__skips *s, const char *name, const char *reason) {
    hrn_log(HRN_LOG_WARN, "%s: skipped: %s", name, reason);
    hrn_eval_sbuf_printf(&s->json, "%s{\"sample\": ", s->n ? ", " : "");
    hrn__json_str(&s->json, name);
    hrn_eval_sbuf_printf(&s->json, ", \"reason\": ");
    hrn__json_str(&s->json, reason);
    hrn_eval_sbuf_printf(&s->json, "}");
    s->n++;
}

/* Sorted names of the regular files in dir ending in ext. */
enum hrn_status hrn__list_dir(const char *dir, const char *ext, char ***names, int *n) {
    DIR *d = opendir(dir);
    if (!d) return hrn_error_set(HRN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int cap = 64, k = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    struct dirent *e;
    size_t el = strlen(ext);
    while (v && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
        if (k == cap) {
            cap *= 2;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        v[k++] = strdup(e->d_name);
    }
    closedir(d);
    if (!v) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", dir);
    *names = v;
    *n = k;
    return HRN_OK;
}

void hrn__free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Read a mesh and check it: finite, indices in range, no degenerate faces. */
enum hrn_status hrn__read_mesh(const char *path, struct hrn_emesh *m) {
    size_t n = strlen(path);
    /* OBJ in float64 as trimesh/psbody/REALY read it; PLY through the core reader */
    if (n > 4 && (!strcmp(path + n - 4, ".obj") || !strcmp(path + n - 4, ".OBJ")))
        return hrn_emesh_read_obj(path, m);
    return hrn_emesh_read(path, m);
}

enum hrn_status hrn__read_checked(const char *path, struct hrn_emesh *m, int check_degenerate) {
    enum hrn_status st = hrn__read_mesh(path, m);
    if (st != HRN_OK) return st;
    st = hrn_emesh_validate(m, path, check_degenerate);
    if (st != HRN_OK) hrn_emesh_free(m);
    return st;
}


enum hrn_status hrn__slurp_text(const char *path, char **text) {
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!b) {
        fclose(f);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(b, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    b[got] = '\0';
    *text = b;
    return HRN_OK;
}


int hrn__dir_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

enum hrn_status hrn__write_npy_f64(const char *path, const double *x, int64_t n) {
    /* NPY format 1.0: magic, version, header length (u16 LE), a dict padded with spaces to a
     * 64-byte multiple (incl. the 10-byte prefix) ending in '\n', then the raw data */
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%lld,), }",
                      (long long)n);
    int total = 10 + dl + 1;
    int pad = (64 - total % 64) % 64;
    int hl = dl + pad + 1;
    size_t len = 10 + (size_t)hl + (size_t)n * 8;
    char *buf = malloc(len);
    if (!buf) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', (size_t)pad);
    buf[10 + dl + pad] = '\n';
    for (int64_t i = 0; i < n; i++) { /* little-endian doubles */
        uint64_t u;
        memcpy(&u, x + i, 8);
        for (int k = 0; k < 8; k++) buf[10 + hl + 8 * i + k] = (char)((u >> (8 * k)) & 0xff);
    }
    enum hrn_status st = hrn_eval_write_atomic(path, buf, len);
    free(buf);
    return st;
}
