/* emesh.c: double-precision triangle meshes for evaluation: allocation, conversion from core
 * meshes, validation, face normals and trimesh's process=True vertex merge (B.4). */
#include "hrn_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status hrn_emesh_alloc(struct hrn_emesh *m, int64_t nv, int64_t nf) {
    memset(m, 0, sizeof *m);
    if (nv < 0 || nf < 0 || nv > INT32_MAX || nf > INT32_MAX)
        return hrn_error_set(HRN_ERR_INVALID, "mesh: bad size %lld vertices, %lld faces",
                             (long long)nv, (long long)nf);
    m->v = malloc((size_t)(nv > 0 ? nv : 1) * 3 * sizeof(double));
    m->f = malloc((size_t)(nf > 0 ? nf : 1) * 3 * sizeof(int32_t));
    if (!m->v || !m->f) {
        hrn_emesh_free(m);
        return hrn_error_set(HRN_ERR_NOMEM, "mesh: cannot allocate %lld vertices, %lld faces",
                             (long long)nv, (long long)nf);
    }
    m->nv = nv;
    m->nf = nf;
    return HRN_OK;
}

void hrn_emesh_free(struct hrn_emesh *m) {
    if (!m) return;
    free(m->v);
    free(m->f);
    memset(m, 0, sizeof *m);
}

enum hrn_status hrn_emesh_copy(struct hrn_emesh *dst, const struct hrn_emesh *src) {
    enum hrn_status st = hrn_emesh_alloc(dst, src->nv, src->nf);
    if (st != HRN_OK) return st;
    if (src->nv > 0) memcpy(dst->v, src->v, (size_t)src->nv * 3 * sizeof(double));
    if (src->nf > 0) memcpy(dst->f, src->f, (size_t)src->nf * 3 * sizeof(int32_t));
    return HRN_OK;
}

enum hrn_status hrn_emesh_from_mesh(struct hrn_emesh *out, const struct hrn_mesh *m) {
    enum hrn_status st = hrn_emesh_alloc(out, m->n_verts, m->n_faces);
    if (st != HRN_OK) return st;
    for (int64_t i = 0; i < 3 * m->n_verts; i++) out->v[i] = (double)m->verts[i];
    if (m->n_faces > 0) /* a point-only OBJ (REALY's keypoint files) has no face array */
        memcpy(out->f, m->faces, (size_t)m->n_faces * 3 * sizeof(int32_t));
    return HRN_OK;
}

static void tri_cross(const double *a, const double *b, const double *c, double n[3]) {
    double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    double e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    n[0] = e1[1] * e2[2] - e1[2] * e2[1];
    n[1] = e1[2] * e2[0] - e1[0] * e2[2];
    n[2] = e1[0] * e2[1] - e1[1] * e2[0];
}

enum hrn_status hrn_emesh_validate(const struct hrn_emesh *m, const char *what,
                                   int check_degenerate) {
    if (m->nv <= 0 || m->nf <= 0)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: empty mesh (%lld vertices, %lld faces)", what,
                             (long long)m->nv, (long long)m->nf);
    for (int64_t i = 0; i < 3 * m->nv; i++)
        if (!isfinite(m->v[i]))
            return hrn_error_set(HRN_ERR_FORMAT, "%s: vertex %lld is not finite", what,
                                 (long long)(i / 3));
    for (int64_t k = 0; k < m->nf; k++) {
        const int32_t *t = m->f + 3 * k;
        for (int j = 0; j < 3; j++)
            if (t[j] < 0 || t[j] >= m->nv)
                return hrn_error_set(HRN_ERR_FORMAT,
                                     "%s: face %lld has vertex index %d, expected 0..%lld", what,
                                     (long long)k, t[j], (long long)m->nv - 1);
        if (!check_degenerate) continue;
        double n[3];
        tri_cross(m->v + 3 * t[0], m->v + 3 * t[1], m->v + 3 * t[2], n);
        if (t[0] == t[1] || t[1] == t[2] || t[0] == t[2] || (n[0] == 0 && n[1] == 0 && n[2] == 0))
            return hrn_error_set(HRN_ERR_FORMAT, "%s: face %lld (%d %d %d) is degenerate", what,
                                 (long long)k, t[0], t[1], t[2]);
    }
    return HRN_OK;
}

void hrn_emesh_face_normals(const struct hrn_emesh *m, double *normals) {
    for (int64_t k = 0; k < m->nf; k++) {
        const int32_t *t = m->f + 3 * k;
        double n[3];
        tri_cross(m->v + 3 * t[0], m->v + 3 * t[1], m->v + 3 * t[2], n);
        double l = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        for (int j = 0; j < 3; j++) normals[3 * k + j] = l > 0 ? n[j] / l : 0.0;
    }
}

/* --- trimesh process=True ---------------------------------------------------------------------- */

struct rkey {
    int64_t q[3];
    int64_t idx;
};

static int rkey_cmp(const void *a, const void *b) {
    const struct rkey *x = a, *y = b;
    for (int j = 0; j < 3; j++)
        if (x->q[j] != y->q[j]) return x->q[j] < y->q[j] ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

enum hrn_status hrn_emesh_trimesh_process(const struct hrn_emesh *in, struct hrn_emesh *out) {
    enum hrn_status st = HRN_OK;
    struct rkey *keys = malloc((size_t)(in->nv + 1) * sizeof *keys);
    int64_t *rep = malloc((size_t)(in->nv + 1) * sizeof *rep);   /* vertex -> first equal one */
    int64_t *newid = malloc((size_t)(in->nv + 1) * sizeof *newid);
    uint8_t *used = calloc((size_t)in->nv + 1, 1);
    memset(out, 0, sizeof *out);
    if (!keys || !rep || !newid || !used) {
        st = hrn_error_set(HRN_ERR_NOMEM, "trimesh process: out of memory");
        goto fail;
    }
    /* trimesh merge_vertices rounds to 8 decimals (tol.merge = 1e-8) and keeps the first
     * occurrence of each unique rounded row. */
    for (int64_t i = 0; i < in->nv; i++) {
        for (int j = 0; j < 3; j++) keys[i].q[j] = (int64_t)llround(in->v[3 * i + j] * 1e8);
        keys[i].idx = i;
    }
    qsort(keys, (size_t)in->nv, sizeof *keys, rkey_cmp);
    for (int64_t i = 0; i < in->nv; i++) {
        if (i > 0 && memcmp(keys[i].q, keys[i - 1].q, sizeof keys[i].q) == 0)
            rep[keys[i].idx] = rep[keys[i - 1].idx];
        else
            rep[keys[i].idx] = keys[i].idx;
    }
    for (int64_t k = 0; k < 3 * in->nf; k++) used[rep[in->f[k]]] = 1;
    int64_t nv = 0;
    for (int64_t i = 0; i < in->nv; i++) newid[i] = used[i] ? nv++ : -1;
    HRN_TRY(hrn_emesh_alloc(out, nv, in->nf));
    for (int64_t i = 0; i < in->nv; i++)
        if (newid[i] >= 0) memcpy(out->v + 3 * newid[i], in->v + 3 * i, 3 * sizeof(double));
    for (int64_t k = 0; k < 3 * in->nf; k++) out->f[k] = (int32_t)newid[rep[in->f[k]]];
fail:
    free(keys);
    free(rep);
    free(newid);
    free(used);
    return st;
}

/* --- synthetic shapes -------------------------------------------------------------------------- */

enum hrn_status hrn_emesh_grid(struct hrn_emesh *m, int nx, int ny, double x0, double x1,
                               double y0, double y1) {
    if (nx < 2 || ny < 2) return hrn_error_set(HRN_ERR_INVALID, "grid: need >= 2x2 vertices");
    enum hrn_status st = hrn_emesh_alloc(m, (int64_t)nx * ny, 2 * (int64_t)(nx - 1) * (ny - 1));
    if (st != HRN_OK) return st;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            double *p = m->v + 3 * ((int64_t)j * nx + i);
            p[0] = x0 + (x1 - x0) * i / (nx - 1);
            p[1] = y0 + (y1 - y0) * j / (ny - 1);
            p[2] = 0;
        }
    int64_t k = 0;
    for (int j = 0; j + 1 < ny; j++)
        for (int i = 0; i + 1 < nx; i++) {
            int32_t a = j * nx + i, b = a + 1, c = a + nx, d = c + 1;
            int32_t t[6] = {a, b, d, a, d, c};
            memcpy(m->f + 6 * k, t, sizeof t);
            k++;
        }
    return HRN_OK;
}

enum hrn_status hrn_emesh_uv_sphere(struct hrn_emesh *m, double r, int nlat, int nlon) {
    if (nlat < 2 || nlon < 3) return hrn_error_set(HRN_ERR_INVALID, "sphere: too coarse");
    int64_t nv = 2 + (int64_t)(nlat - 1) * nlon, nf = 2 * (int64_t)nlon * (nlat - 1);
    enum hrn_status st = hrn_emesh_alloc(m, nv, nf);
    if (st != HRN_OK) return st;
    const double pi = 3.14159265358979323846;
    double *v = m->v;
    v[0] = 0; v[1] = 0; v[2] = r;          /* north pole */
    for (int i = 1; i < nlat; i++) {
        double th = pi * i / nlat;
        for (int j = 0; j < nlon; j++) {
            double ph = 2 * pi * j / nlon;
            double *p = v + 3 * (1 + (int64_t)(i - 1) * nlon + j);
            p[0] = r * sin(th) * cos(ph);
            p[1] = r * sin(th) * sin(ph);
            p[2] = r * cos(th);
        }
    }
    int32_t south = (int32_t)nv - 1;
    v[3 * south] = 0; v[3 * south + 1] = 0; v[3 * south + 2] = -r;
    int64_t k = 0;
#define RING(i, j) ((int32_t)(1 + ((i) - 1) * nlon + ((j) % nlon)))
    for (int j = 0; j < nlon; j++) {
        int32_t t[3] = {0, RING(1, j), RING(1, j + 1)};
        memcpy(m->f + 3 * k++, t, sizeof t);
    }
    for (int i = 1; i + 1 < nlat; i++)
        for (int j = 0; j < nlon; j++) {
            int32_t a = RING(i, j), b = RING(i, j + 1), c = RING(i + 1, j), d = RING(i + 1, j + 1);
            int32_t t[6] = {a, c, d, a, d, b};
            memcpy(m->f + 3 * k, t, sizeof t);
            k += 2;
        }
    for (int j = 0; j < nlon; j++) {
        int32_t t[3] = {south, RING(nlat - 1, j + 1), RING(nlat - 1, j)};
        memcpy(m->f + 3 * k++, t, sizeof t);
    }
#undef RING
    HRN_ASSERT(k == nf);
    return HRN_OK;
}
