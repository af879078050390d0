/* mesh_obj.c: Wavefront OBJ read and write (with an .mtl file beside the .obj).
 * ref: Wavefront "Object Files (.obj)" and "Material Library File (.mtl)" specifications. */
#include "mesh_impl.h"

#include "hrn_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- reading ---------------------------------------------------------------------------------- */

enum { MAX_TOKENS = 64 };

/* Split s in place at spaces/tabs/CR; returns the token count, or -1 when over max. */
static int tokenize(char *s, char **tok, int max) {
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\f' || *s == '\v')
            s++;
        if (!*s) return n;
        if (n == max) return -1;
        tok[n++] = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n' && *s != '\f' &&
               *s != '\v')
            s++;
        if (*s) *s++ = '\0';
    }
}

/* A finite float from the whole token. */
static int parse_float(const char *t, float *out) {
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || *end != '\0') return 0;
    if (errno == ERANGE && fabs(v) == HUGE_VAL) return 0;
    if (!isfinite(v) || fabs(v) > (double)3.4028234663852886e38f) return 0;
    *out = (float)v;
    return 1;
}

/* One OBJ index (1-based, or negative from the end) from [t, t+len). 0 when malformed. */
static int parse_index(const char *t, size_t len, long *out) {
    char buf[32];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, t, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (end == buf || *end != '\0' || errno == ERANGE || v == 0) return 0;
    *out = v;
    return 1;
}

struct obj_state {
    const char *path;
    struct hrn__fvec v, c, vt, vn;
    struct hrn__ivec f, ft, fn, fline; /* triangles' v/vt/vn indices and their source lines */
    int64_t n_colored;
    int64_t faces_with_vt, faces_with_vn, polys;
    int have_uv_faces_warning;
};

/* Resolve one OBJ index against the count so far: negative ones now (they are relative to this
 * line), positive ones are range-checked at the end (against the final count). */
static enum hrn_status resolve(const struct obj_state *s, long line, long i, int64_t count,
                               const char *what, int32_t *out) {
    int64_t r;
    if (i < 0) {
        r = count + i;
        if (r < 0)
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s:%ld: %s index %ld reaches before the first %s (%lld so far)",
                                 s->path, line, what, i, what, (long long)count);
    } else {
        r = i - 1;
    }
    if (r > INT32_MAX)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: %s index %ld too large", s->path, line, what,
                             i);
    *out = (int32_t)r;
    return HRN_OK;
}

static enum hrn_status parse_face(struct obj_state *s, long line, char **tok, int nt) {
    enum hrn_status st = HRN_OK;
    int k = nt - 1;
    if (k < 3)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: face with %d vertices, expected at least 3",
                             s->path, line, k);
    int32_t cv[MAX_TOKENS], ct[MAX_TOKENS], cn[MAX_TOKENS];
    int form = -1; /* bit 0: has vt, bit 1: has vn */
    for (int j = 0; j < k; j++) {
        const char *t = tok[1 + j];
        const char *sl1 = strchr(t, '/');
        const char *sl2 = sl1 ? strchr(sl1 + 1, '/') : NULL;
        if (sl2 && strchr(sl2 + 1, '/'))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed face vertex '%s'", s->path,
                                 line, t);
        long iv, it = 0, in = 0;
        size_t lv = sl1 ? (size_t)(sl1 - t) : strlen(t);
        int ok = parse_index(t, lv, &iv);
        int f = 0;
        if (ok && sl1) {
            size_t lt = sl2 ? (size_t)(sl2 - sl1 - 1) : strlen(sl1 + 1);
            if (lt > 0) {
                ok = parse_index(sl1 + 1, lt, &it);
                f |= 1;
            } else if (!sl2) {
                ok = 0; /* "v/" */
            }
            if (ok && sl2) {
                ok = parse_index(sl2 + 1, strlen(sl2 + 1), &in);
                f |= 2;
            }
        }
        if (!ok)
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s:%ld: malformed face vertex '%s' (expected v, v/vt, v//vn or "
                                 "v/vt/vn with non-zero integers)",
                                 s->path, line, t);
        if (form < 0) form = f;
        if (f != form)
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s:%ld: face mixes vertex forms ('%s' after '%s')", s->path, line,
                                 t, tok[1]);
        if ((st = resolve(s, line, iv, s->v.n / 3, "vertex", &cv[j])) != HRN_OK) return st;
        if ((f & 1) && (st = resolve(s, line, it, s->vt.n / 2, "texture", &ct[j])) != HRN_OK)
            return st;
        if ((f & 2) && (st = resolve(s, line, in, s->vn.n / 3, "normal", &cn[j])) != HRN_OK)
            return st;
    }
    if (k > 3) s->polys++;
    /* fan triangulation around the first corner */
    for (int j = 1; j + 1 < k; j++) {
        int32_t tv[3] = {cv[0], cv[j], cv[j + 1]};
        int32_t ln = (int32_t)(line > INT32_MAX ? INT32_MAX : line);
        if ((st = hrn__ivec_push(&s->f, tv, 3)) != HRN_OK) return st;
        if ((st = hrn__ivec_push(&s->fline, &ln, 1)) != HRN_OK) return st;
        if (form & 1) {
            int32_t tt[3] = {ct[0], ct[j], ct[j + 1]};
            if ((st = hrn__ivec_push(&s->ft, tt, 3)) != HRN_OK) return st;
            s->faces_with_vt++;
        } else {
            int32_t none[3] = {-1, -1, -1};
            if ((st = hrn__ivec_push(&s->ft, none, 3)) != HRN_OK) return st;
        }
        if (form & 2) {
            int32_t tn[3] = {cn[0], cn[j], cn[j + 1]};
            if ((st = hrn__ivec_push(&s->fn, tn, 3)) != HRN_OK) return st;
            s->faces_with_vn++;
        } else {
            int32_t none[3] = {-1, -1, -1};
            if ((st = hrn__ivec_push(&s->fn, none, 3)) != HRN_OK) return st;
        }
    }
    return HRN_OK;
}

static enum hrn_status parse_numbers(const struct obj_state *s, long line, char **tok, int nt,
                                     float *out) {
    for (int j = 1; j < nt; j++)
        if (!parse_float(tok[j], &out[j - 1]))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed number '%s' in '%s' line",
                                 s->path, line, tok[j], tok[0]);
    return HRN_OK;
}

/* Statements that are valid OBJ but carry nothing a triangle mesh keeps. */
static int ignored_statement(const char *t) {
    static const char *const names[] = {"mtllib",     "usemtl",    "o",     "g",        "s",
                                        "l",          "p",         "vp",    "mg",       "lod",
                                        "shadow_obj", "trace_obj", "bevel", "c_interp", "d_interp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i]) == 0) return 1;
    return 0;
}

static enum hrn_status check_range(const struct obj_state *s, const struct hrn__ivec *idx,
                                   int64_t count, const char *what, const char *plural) {
    for (int64_t i = 0; i < idx->n; i++) {
        if (idx->p[i] < 0 || idx->p[i] >= count) {
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s:%d: %s index %lld out of range (the file has "
                                 "%lld %s)",
                                 s->path, (int)s->fline.p[i / 3], what, (long long)idx->p[i] + 1,
                                 (long long)count, plural);
        }
    }
    return HRN_OK;
}

static int32_t *take_faces(struct hrn__ivec *v) {
    int32_t *p = v->p;
    v->p = NULL;
    v->n = v->cap = 0;
    return p;
}

enum hrn_status hrn_mesh_read_obj(const char *path, struct hrn_mesh *out) {
    enum hrn_status st = HRN_OK;
    memset(out, 0, sizeof *out);
    struct obj_state s = {.path = path};
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: NUL byte (not a text OBJ file)", path,
                               lineno);
            goto fail;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *tok[MAX_TOKENS];
        int nt = tokenize(line, tok, MAX_TOKENS);
        if (nt == 0) continue;
        if (nt < 0) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: more than %d values on one line", path,
                               lineno, MAX_TOKENS - 1);
            goto fail;
        }
        float x[8] = {0};
        if (strcmp(tok[0], "v") == 0) {
            if (nt != 4 && nt != 5 && nt != 7) {
                st = hrn_error_set(HRN_ERR_FORMAT,
                                   "%s:%ld: 'v' with %d numbers, expected x y z [w] or x y z r g b",
                                   path, lineno, nt - 1);
                goto fail;
            }
            HRN_TRY(parse_numbers(&s, lineno, tok, nt, x));
            if (s.v.n / 3 >= INT32_MAX) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: too many vertices", path, lineno);
                goto fail;
            }
            HRN_TRY(hrn__fvec_push(&s.v, x, 3));
            if (nt == 7) {
                /* colours of earlier vertices without one default to white */
                while (s.c.n < s.v.n - 3)
                    HRN_TRY(hrn__fvec_push(&s.c, (float[]){1, 1, 1}, 3));
                HRN_TRY(hrn__fvec_push(&s.c, x + 3, 3));
                s.n_colored++;
            } else if (s.n_colored) {
                HRN_TRY(hrn__fvec_push(&s.c, (float[]){1, 1, 1}, 3));
            }
        } else if (strcmp(tok[0], "vt") == 0) {
            if (nt < 2 || nt > 4) {
                st = hrn_error_set(HRN_ERR_FORMAT,
                                   "%s:%ld: 'vt' with %d numbers, expected u [v [w]]", path, lineno,
                                   nt - 1);
                goto fail;
            }
            HRN_TRY(parse_numbers(&s, lineno, tok, nt, x));
            HRN_TRY(hrn__fvec_push(&s.vt, x, 2));
        } else if (strcmp(tok[0], "vn") == 0) {
            if (nt != 4) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: 'vn' with %d numbers, expected 3", path,
                                   lineno, nt - 1);
                goto fail;
            }
            HRN_TRY(parse_numbers(&s, lineno, tok, nt, x));
            HRN_TRY(hrn__fvec_push(&s.vn, x, 3));
        } else if (strcmp(tok[0], "f") == 0) {
            HRN_TRY(parse_face(&s, lineno, tok, nt));
        } else if (!ignored_statement(tok[0])) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: unknown statement '%.40s'", path, lineno,
                               tok[0]);
            goto fail;
        }
    }
    if (ferror(f)) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto fail;
    }
    if (s.v.n == 0) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no vertices", path);
        goto fail;
    }
    int64_t nv = s.v.n / 3, nf = s.f.n / 3;
    HRN_TRY(check_range(&s, &s.f, nv, "vertex", "vertices"));
    int keep_vt = s.faces_with_vt > 0 && s.faces_with_vt == nf;
    int keep_vn = s.faces_with_vn > 0 && s.faces_with_vn == nf;
    if (s.faces_with_vt > 0 && !keep_vt)
        hrn_log(HRN_LOG_WARN, "%s: %lld of %lld triangles have texture coordinates; ignoring them",
                path, (long long)s.faces_with_vt, (long long)nf);
    if (s.faces_with_vn > 0 && !keep_vn)
        hrn_log(HRN_LOG_WARN, "%s: %lld of %lld triangles have normals; ignoring them", path,
                (long long)s.faces_with_vn, (long long)nf);
    if (keep_vt) HRN_TRY(check_range(&s, &s.ft, s.vt.n / 2, "texture", "texture coordinates"));
    if (keep_vn) HRN_TRY(check_range(&s, &s.fn, s.vn.n / 3, "normal", "normals"));

    out->n_verts = nv;
    out->verts = s.v.p;
    s.v.p = NULL;
    if (s.n_colored) {
        out->colors = s.c.p;
        s.c.p = NULL;
    }
    out->n_faces = nf;
    out->faces = take_faces(&s.f);
    /* uvs/normals without faces that use them are still kept, as written */
    out->n_uvs = s.vt.n / 2;
    out->uvs = s.vt.p;
    s.vt.p = NULL;
    out->n_normals = s.vn.n / 3;
    out->normals = s.vn.p;
    s.vn.p = NULL;
    if (keep_vt) out->face_uvs = take_faces(&s.ft);
    if (keep_vn) out->face_normals = take_faces(&s.fn);
    /* uvs that no face indexes cannot be per-vertex unless their count matches */
    if (!keep_vt && out->n_uvs != nv) {
        free(out->uvs);
        out->uvs = NULL;
        out->n_uvs = 0;
    }
    if (!keep_vn && out->n_normals != nv) {
        free(out->normals);
        out->normals = NULL;
        out->n_normals = 0;
    }
fail:
    fclose(f);
    free(line);
    free(s.v.p);
    free(s.c.p);
    free(s.vt.p);
    free(s.vn.p);
    free(s.f.p);
    free(s.ft.p);
    free(s.fn.p);
    free(s.fline.p);
    if (st != HRN_OK) hrn_mesh_free(out);
    return st;
}

/* --- writing ---------------------------------------------------------------------------------- */

/* The index array for uvs (normals): the per-face one, or the vertex indices for per-vertex ones,
 * or NULL when there are none. hrn_mesh_check has ruled out the rest. */
static const int32_t *attr_index(const int32_t *per_face, int64_t n_attr,
                                 const struct hrn_mesh *m) {
    if (per_face) return per_face;
    if (n_attr > 0 && n_attr == m->n_verts) return m->faces;
    return NULL;
}

static int valid_name(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '#') return 0;
    return 1;
}

enum hrn_status hrn_mesh_write_obj(const char *path, const struct hrn_mesh *m,
                                   const struct hrn_obj_material *mtl) {
    enum hrn_status st = HRN_OK;
    char mtl_path[4096], base[1024];
    struct hrn_tmpfile tf = {0}, tfm = {0};
    FILE *f = NULL, *fm = NULL;
    HRN_TRY(hrn_mesh_check(m));
    if (mtl) {
        if (!valid_name(mtl->name))
            return hrn_error_set(HRN_ERR_INVALID,
                                 "%s: material name '%s' must be non-empty without spaces or '#'",
                                 path, mtl->name ? mtl->name : "(null)");
        if (mtl->texture && (strchr(mtl->texture, '\n') || strchr(mtl->texture, '#')))
            return hrn_error_set(HRN_ERR_INVALID, "%s: texture path '%s' has a newline or '#'",
                                 path, mtl->texture);
        /* <dir>/<base>.obj -> <dir>/<base>.mtl, referenced by its base name */
        const char *slash = strrchr(path, '/');
        const char *file = slash ? slash + 1 : path;
        size_t flen = strlen(file);
        if (hrn__has_ext(file, ".obj")) flen -= 4;
        if (flen == 0 || flen + 5 > sizeof base)
            return hrn_error_set(HRN_ERR_INVALID, "%s: cannot derive an .mtl name", path);
        memcpy(base, file, flen);
        base[flen] = '\0';
        if (!valid_name(base))
            return hrn_error_set(HRN_ERR_INVALID,
                                 "%s: file name has a space; mtllib cannot name it", path);
        int n = snprintf(mtl_path, sizeof mtl_path, "%.*s%s.mtl", (int)(file - path), path, base);
        if (n < 0 || (size_t)n >= sizeof mtl_path)
            return hrn_error_set(HRN_ERR_IO, "%s: path too long", path);
        HRN_TRY(hrn_tmpfile_open(&tfm, mtl_path));
        fm = tfm.fp;
        fprintf(fm, "# written by hrn %s\nnewmtl %s\n", hrn_version(), mtl->name);
        fprintf(fm, "Ka 1.000000 1.000000 1.000000\nKd 1.000000 1.000000 1.000000\n"
                    "Ks 0.000000 0.000000 0.000000\nd 1.000000\nillum 1\n");
        if (mtl->texture) fprintf(fm, "map_Kd %s\n", mtl->texture);
    }
    HRN_TRY(hrn_tmpfile_open(&tf, path));
    f = tf.fp;
    fprintf(f, "# written by hrn %s: %lld vertices, %lld triangles\n", hrn_version(),
            (long long)m->n_verts, (long long)m->n_faces);
    if (mtl) fprintf(f, "mtllib %s.mtl\n", base);
    for (int64_t i = 0; i < m->n_verts; i++) {
        const float *v = m->verts + 3 * i;
        if (m->colors) {
            const float *c = m->colors + 3 * i;
            fprintf(f, "v %.9g %.9g %.9g %.9g %.9g %.9g\n", (double)v[0], (double)v[1],
                    (double)v[2], (double)c[0], (double)c[1], (double)c[2]);
        } else {
            fprintf(f, "v %.9g %.9g %.9g\n", (double)v[0], (double)v[1], (double)v[2]);
        }
    }
    for (int64_t i = 0; i < m->n_uvs; i++)
        fprintf(f, "vt %.9g %.9g\n", (double)m->uvs[2 * i], (double)m->uvs[2 * i + 1]);
    for (int64_t i = 0; i < m->n_normals; i++)
        fprintf(f, "vn %.9g %.9g %.9g\n", (double)m->normals[3 * i], (double)m->normals[3 * i + 1],
                (double)m->normals[3 * i + 2]);
    if (mtl) fprintf(f, "usemtl %s\n", mtl->name);
    const int32_t *ft = attr_index(m->face_uvs, m->n_uvs, m);
    const int32_t *fn = attr_index(m->face_normals, m->n_normals, m);
    for (int64_t i = 0; i < m->n_faces; i++) {
        fputc('f', f);
        for (int j = 0; j < 3; j++) {
            int64_t k = 3 * i + j;
            if (ft && fn)
                fprintf(f, " %d/%d/%d", m->faces[k] + 1, ft[k] + 1, fn[k] + 1);
            else if (ft)
                fprintf(f, " %d/%d", m->faces[k] + 1, ft[k] + 1);
            else if (fn)
                fprintf(f, " %d//%d", m->faces[k] + 1, fn[k] + 1);
            else
                fprintf(f, " %d", m->faces[k] + 1);
        }
        fputc('\n', f);
    }
    if (fm) HRN_TRY(hrn_tmpfile_close(&tfm, 1));
    HRN_TRY(hrn_tmpfile_close(&tf, 1));
    return HRN_OK;
fail:
    hrn_tmpfile_close(&tf, 0);
    hrn_tmpfile_close(&tfm, 0);
    return st;
}
