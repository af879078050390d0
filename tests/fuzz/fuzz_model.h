/* fuzz_model.h: the oracle of the face model harnesses (HDF5, .mat, eos .bin): a model that
 * loads must be usable as hrn_model.h describes it, since the renderer and the losses index with
 * its triangles and landmarks without checking them again. */
#ifndef HRN_FUZZ_MODEL_H
#define HRN_FUZZ_MODEL_H

#include "hrn_model.h"

#include <stdio.h>
#include <stdlib.h>

static inline void fuzz_model_fail(const char *who, const char *what, long long i) {
    fprintf(stderr, "%s: a model that loaded is broken: %s (%lld)\n", who, what, i);
    abort();
}

static inline double fuzz_model_touch(const float *p, int64_t n) {
    double s = 0;
    for (int64_t i = 0; p && i < n; i++) s += (double)p[i];
    return s;
}

static inline void fuzz_check_model(const struct hrn_face_model *fm, const char *who) {
    int64_t n = fm->n_verts, n3 = 3 * n;
    if (n < 1 || fm->n_tris < 0 || !fm->mean_shape) fuzz_model_fail(who, "sizes", n);
    if (fm->n_id < 0 || fm->n_exp < 0 || fm->n_tex < 0) fuzz_model_fail(who, "basis sizes", 0);
    /* a width of 0 may come with a malloc(0) pointer: only a missing basis is wrong */
    if (fm->n_id > 0 && !fm->id_basis) fuzz_model_fail(who, "id basis", fm->n_id);
    if (fm->n_exp > 0 && !fm->exp_basis) fuzz_model_fail(who, "exp basis", fm->n_exp);
    if (fm->n_tex > 0 && (!fm->tex_basis || !fm->mean_albedo))
        fuzz_model_fail(who, "tex basis", fm->n_tex);
    for (int64_t i = 0; i < 3 * fm->n_tris; i++)
        if (fm->tris[i] < 0 || fm->tris[i] >= n) fuzz_model_fail(who, "triangle index", i);
    if (fm->uvs && !fm->tri_uvs && fm->n_uvs != n) fuzz_model_fail(who, "per-vertex uvs", fm->n_uvs);
    for (int64_t i = 0; fm->tri_uvs && i < 3 * fm->n_tris; i++)
        if (fm->tri_uvs[i] < 0 || fm->tri_uvs[i] >= fm->n_uvs) fuzz_model_fail(who, "uv index", i);
    for (int i = 0; i < HRN_N_LMK68; i++)
        if (fm->lmk68[i] < -1 || fm->lmk68[i] >= n) fuzz_model_fail(who, "landmark", i);
    volatile double s = fuzz_model_touch(fm->mean_shape, n3);
    s += fuzz_model_touch(fm->id_basis, n3 * fm->n_id);
    s += fuzz_model_touch(fm->exp_basis, n3 * fm->n_exp);
    s += fuzz_model_touch(fm->mean_albedo, n3);
    s += fuzz_model_touch(fm->tex_basis, n3 * fm->n_tex);
    s += fuzz_model_touch(fm->uvs, 2 * fm->n_uvs);
    s += fuzz_model_touch(fm->skin_mask, n);
    (void)s;
}

#endif /* HRN_FUZZ_MODEL_H */
