/* mesh.c: struct hrn_mesh allocation, checks, the read dispatcher, and helpers shared by the OBJ
 * and PLY readers/writers (growable arrays, extension checks). */
#include "mesh_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- growable arrays -------------------------------------------------------------------------- */

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 1;
    int64_t nc = *cap ? *cap : 256;
    while (nc < need) {
        if (nc > INT64_MAX / 2) return 0;
        nc *= 2;
    }
    if ((uint64_t)nc > SIZE_MAX / elem) return 0;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

enum hrn_status hrn__fvec_push(struct hrn__fvec *v, const float *x, int k) {
    if (!grow((void **)&v->p, &v->cap, v->n + k, sizeof(float)))
        return hrn_error_set(HRN_ERR_NOMEM, "out of memory growing an array to %lld floats",
                             (long long)(v->n + k));
    memcpy(v->p + v->n, x, (size_t)k * sizeof(float));
    v->n += k;
    return HRN_OK;
}

enum hrn_status hrn__ivec_push(struct hrn__ivec *v, const int32_t *x, int k) {
    if (!grow((void **)&v->p, &v->cap, v->n + k, sizeof(int32_t)))
        return hrn_error_set(HRN_ERR_NOMEM, "out of memory growing an array to %lld ints",
                             (long long)(v->n + k));
    memcpy(v->p + v->n, x, (size_t)k * sizeof(int32_t));
    v->n += k;
    return HRN_OK;
}

enum hrn_status hrn__ivec_reserve(struct hrn__ivec *v, int64_t cap) {
    if (!grow((void **)&v->p, &v->cap, cap, sizeof(int32_t)))
        return hrn_error_set(HRN_ERR_NOMEM, "out of memory reserving %lld ints", (long long)cap);
    return HRN_OK;
}

int hrn__has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), k = strlen(ext);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)path[n - k + i]) != tolower((unsigned char)ext[i])) return 0;
    return 1;
}

/* --- struct hrn_mesh -------------------------------------------------------------------------- */

static void *alloc_zero(int64_t n, size_t elem, int *ok) {
    if (n <= 0) return NULL;
    if ((uint64_t)n > SIZE_MAX / elem) {
        *ok = 0;
        return NULL;
    }
    void *p = calloc((size_t)n, elem);
    if (!p) *ok = 0;
    return p;
}

enum hrn_status hrn_mesh_alloc(struct hrn_mesh *m, int64_t n_verts, int64_t n_faces,
                               int with_colors, int64_t n_uvs, int64_t n_normals) {
    memset(m, 0, sizeof *m);
    if (n_verts < 0 || n_faces < 0 || n_uvs < 0 || n_normals < 0 || n_verts > INT32_MAX ||
        n_uvs > INT32_MAX || n_normals > INT32_MAX)
        return hrn_error_set(
            HRN_ERR_INVALID, "mesh: bad counts (%lld vertices, %lld faces, %lld uvs, %lld normals)",
            (long long)n_verts, (long long)n_faces, (long long)n_uvs, (long long)n_normals);
    int ok = 1;
    m->verts = alloc_zero(n_verts, 3 * sizeof(float), &ok);
    if (with_colors) m->colors = alloc_zero(n_verts, 3 * sizeof(float), &ok);
    m->uvs = alloc_zero(n_uvs, 2 * sizeof(float), &ok);
    m->normals = alloc_zero(n_normals, 3 * sizeof(float), &ok);
    m->faces = alloc_zero(n_faces, 3 * sizeof(int32_t), &ok);
    if (!ok) {
        hrn_mesh_free(m);
        return hrn_error_set(HRN_ERR_NOMEM, "mesh: cannot allocate %lld vertices and %lld faces",
                             (long long)n_verts, (long long)n_faces);
    }
    m->n_verts = n_verts;
    m->n_faces = n_faces;
    m->n_uvs = n_uvs;
    m->n_normals = n_normals;
    return HRN_OK;
}

void hrn_mesh_free(struct hrn_mesh *m) {
    if (!m) return;
    free(m->verts);
    free(m->colors);
    free(m->uvs);
    free(m->normals);
    free(m->faces);
    free(m->face_uvs);
    free(m->face_normals);
    memset(m, 0, sizeof *m);
}

static enum hrn_status check_index_array(const int32_t *idx, int64_t n_faces, int64_t n,
                                         const char *what) {
    for (int64_t i = 0; i < 3 * n_faces; i++)
        if (idx[i] < 0 || idx[i] >= n)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "mesh: face %lld has %s index %d, expected 0..%lld",
                                 (long long)(i / 3), what, (int)idx[i], (long long)n - 1);
    return HRN_OK;
}

enum hrn_status hrn_mesh_check(const struct hrn_mesh *m) {
    enum hrn_status st;
    if (m->n_verts < 0 || m->n_faces < 0 || m->n_uvs < 0 || m->n_normals < 0)
        return hrn_error_set(HRN_ERR_INVALID, "mesh: negative count");
    if ((m->n_verts > 0 && !m->verts) || (m->n_faces > 0 && !m->faces) ||
        (m->n_uvs > 0 && !m->uvs) || (m->n_normals > 0 && !m->normals))
        return hrn_error_set(HRN_ERR_INVALID, "mesh: a count is > 0 but its array is NULL");
    if ((st = check_index_array(m->faces, m->n_faces, m->n_verts, "vertex")) != HRN_OK) return st;
    if (m->face_uvs) {
        if ((st = check_index_array(m->face_uvs, m->n_faces, m->n_uvs, "uv")) != HRN_OK) return st;
    } else if (m->n_uvs > 0 && m->n_uvs != m->n_verts) {
        return hrn_error_set(HRN_ERR_INVALID,
                             "mesh: %lld uvs for %lld vertices and no face_uvs to index them",
                             (long long)m->n_uvs, (long long)m->n_verts);
    }
    if (m->face_normals) {
        if ((st = check_index_array(m->face_normals, m->n_faces, m->n_normals, "normal")) != HRN_OK)
            return st;
    } else if (m->n_normals > 0 && m->n_normals != m->n_verts) {
        return hrn_error_set(
            HRN_ERR_INVALID,
            "mesh: %lld normals for %lld vertices and no face_normals to index them",
            (long long)m->n_normals, (long long)m->n_verts);
    }
    return HRN_OK;
}

enum hrn_status hrn_mesh_read(const char *path, struct hrn_mesh *out) {
    memset(out, 0, sizeof *out);
    if (hrn__has_ext(path, ".obj")) return hrn_mesh_read_obj(path, out);
    if (hrn__has_ext(path, ".ply")) return hrn_mesh_read_ply(path, out);
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: unknown mesh format, expected .obj or .ply",
                         path);
}
