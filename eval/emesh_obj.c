/* emesh_obj.c: a double-precision OBJ reader for the evaluation protocols. The official tools
 * read OBJ coordinates as float64 (trimesh, psbody) or as float64 rounded to float32 (REALY's
 * io_obj), so hrn-eval parses them with strtod and never through float. */
#include "hrn_eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Each line is at most this long; longer lines are an error (no OBJ writer makes them). */
enum { OBJ_LINE_CAP = 65536 };

struct obj_counts {
    int64_t nv, nf;
};

/* First pass: count vertices and triangles so the arrays are allocated once, at their size. */
static enum hrn_status obj_count(FILE *fp, const char *path, char *line, struct obj_counts *c) {
    int64_t ln = 0;
    c->nv = c->nf = 0;
    while (fgets(line, OBJ_LINE_CAP, fp)) {
        ln++;
        if (!strchr(line, '\n') && !feof(fp))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%lld: line longer than %d characters", path,
                                 (long long)ln, OBJ_LINE_CAP - 2);
        if (line[0] == 'v' && (line[1] == ' ' || line[1] == '\t')) c->nv++;
        else if (line[0] == 'f' && (line[1] == ' ' || line[1] == '\t')) {
            int k = 0;
            for (char *s = strtok(line + 2, " \t\r\n"); s; s = strtok(NULL, " \t\r\n")) k++;
            if (k < 3 || k > 4)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%lld: a face with %d vertices (expected "
                                     "3, or 4 for a quad)", path, (long long)ln, k);
            c->nf += k - 2;
        }
    }
    if (ferror(fp)) return hrn_error_set(HRN_ERR_IO, "%s: read error", path);
    if (c->nv > INT32_MAX) return hrn_error_set(HRN_ERR_FORMAT, "%s: too many vertices", path);
    return HRN_OK;
}

/* "12", "12/3", "12//4", "-1" (relative) -> 0-based index, or -1 when invalid. */
static int64_t obj_index(const char *s, int64_t nv_so_far) {
    char *end;
    errno = 0;
    long long k = strtoll(s, &end, 10);
    if (end == s || errno || (*end != '\0' && *end != '/')) return -1;
    if (k > 0) return k - 1;
    if (k < 0) return nv_so_far + k;
    return -1;
}

static enum hrn_status obj_line(char *line, int64_t ln, const char *path, struct hrn_emesh *m,
                                int64_t *iv, int64_t *jf) {
    if (line[0] == 'v' && (line[1] == ' ' || line[1] == '\t')) {
        char *p = line + 2;
        for (int j = 0; j < 3; j++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%lld: expected 3 coordinates after 'v'",
                                     path, (long long)ln);
            m->v[3 * *iv + j] = x;
            p = end;
        }
        (*iv)++;
    } else if (line[0] == 'f' && (line[1] == ' ' || line[1] == '\t')) {
        int64_t idx[4];
        int k = 0;
        for (char *s = strtok(line + 2, " \t\r\n"); s && k < 4; s = strtok(NULL, " \t\r\n")) {
            idx[k] = obj_index(s, *iv);
            if (idx[k] < 0 || idx[k] > INT32_MAX)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%lld: bad vertex index '%s'", path,
                                     (long long)ln, s);
            k++;
        }
        /* trimesh's triangulate_quads: (0,1,2) and (2,3,0) */
        static const int tri[2][3] = {{0, 1, 2}, {2, 3, 0}};
        for (int t = 0; t < k - 2; t++, (*jf)++)
            for (int j = 0; j < 3; j++) m->f[3 * *jf + j] = (int32_t)idx[tri[t][j]];
    }
    return HRN_OK;
}

enum hrn_status hrn_emesh_read_obj(const char *path, struct hrn_emesh *out) {
    enum hrn_status st = HRN_OK;
    memset(out, 0, sizeof *out);
    char *line = malloc(OBJ_LINE_CAP);
    FILE *fp = fopen(path, "r");
    if (!fp || !line) {
        st = fp ? hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path)
                : hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct obj_counts c;
    HRN_TRY(obj_count(fp, path, line, &c));
    if (c.nv == 0) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no vertices ('v x y z' lines)", path);
        goto fail;
    }
    HRN_TRY(hrn_emesh_alloc(out, c.nv, c.nf));
    rewind(fp);
    int64_t ln = 0, iv = 0, jf = 0;
    while (fgets(line, OBJ_LINE_CAP, fp)) {
        ln++;
        if ((st = obj_line(line, ln, path, out, &iv, &jf)) != HRN_OK) goto fail;
    }
    /* indices are checked against the vertex count by hrn_emesh_validate */
fail:
    if (st != HRN_OK) hrn_emesh_free(out);
    if (fp) fclose(fp);
    free(line);
    return st;
}
