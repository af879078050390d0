/* sample.c: training samples and their ground truth: free, deep copy, and the gt/<name>.h5 files
 * (hrn_data.h "training data"). */
#include "data_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void gt_free(struct hrn_sample_gt *g) {
    free(g->coeffs);
    free(g->verts);
    free(g->deform);
    free(g->disp);
    free(g->albedo);
    free(g->albedo_detail);
    free(g->skin);
    memset(g, 0, sizeof *g);
}

void hrn_sample_free(struct hrn_sample *s) {
    if (!s) return;
    hrn_image_free(&s->img);
    free(s->mask);
    gt_free(&s->gt);
    memset(s, 0, sizeof *s);
}

/* The fixed-shape ground-truth maps: where they sit in the struct, their HDF5 name and shape. One
 * table serves copy, save and load, so the three cannot disagree. */
struct gt_map {
    size_t offset; /* of the float * member */
    const char *name;
    int ndim;
    int64_t shape[3];
};
static const struct gt_map GT_MAPS[] = {
    {offsetof(struct hrn_sample_gt, deform), "deform", 3, {3, 64, 64}},
    {offsetof(struct hrn_sample_gt, disp), "disp", 3, {1, 256, 256}},
    {offsetof(struct hrn_sample_gt, albedo), "albedo", 3, {3, 256, 256}},
    {offsetof(struct hrn_sample_gt, albedo_detail), "albedo_detail", 3, {3, 256, 256}},
    {offsetof(struct hrn_sample_gt, skin), "skin", 2, {256, 256}},
};
enum { N_GT_MAPS = sizeof GT_MAPS / sizeof GT_MAPS[0] };

static float **gt_map_ptr(struct hrn_sample_gt *g, int k) {
    return (float **)(void *)((char *)g + GT_MAPS[k].offset);
}
static const float *gt_map_cptr(const struct hrn_sample_gt *g, int k) {
    return *(float *const *)(const void *)((const char *)g + GT_MAPS[k].offset);
}
/* "3,64,64" into buf; -1 prints "any". */
static const char *shape_str(char *buf, size_t cap, int nd, const int64_t *sh) {
    size_t a = 0;
    buf[0] = 0;
    for (int d = 0; d < nd && a < cap; d++)
        a += (size_t)(sh[d] < 0
                          ? snprintf(buf + a, cap - a, "%sany", d ? "," : "")
                          : snprintf(buf + a, cap - a, "%s%lld", d ? "," : "", (long long)sh[d]));
    return buf;
}

static size_t gt_map_numel(int k) {
    size_t n = 1;
    for (int d = 0; d < GT_MAPS[k].ndim; d++)
        n *= (size_t)GT_MAPS[k].shape[d];
    return n;
}

/* *dst = a malloc()ed copy of n floats of src (NULL stays NULL). */
static enum hrn_status dup_floats(float **dst, const float *src, size_t n, const char *what) {
    *dst = NULL;
    if (!src || n == 0) return HRN_OK;
    *dst = malloc(n * sizeof(float));
    if (!*dst)
        return hrn_error_set(HRN_ERR_NOMEM, "sample copy: no memory for %s (%zu floats)", what, n);
    memcpy(*dst, src, n * sizeof(float));
    return HRN_OK;
}

enum hrn_status hrn_sample_copy(struct hrn_sample *dst, const struct hrn_sample *src) {
    enum hrn_status st = HRN_OK;
    const struct hrn_sample_gt *g = &src->gt;
    /* the scalars and fixed arrays first, then every pointer replaced by its own copy */
    *dst = *src;
    memset(&dst->img, 0, sizeof dst->img);
    dst->mask = NULL;
    memset(&dst->gt, 0, sizeof dst->gt);
    if (src->img.data) {
        HRN_TRY(hrn_image_init(&dst->img, src->img.w, src->img.h, src->img.c));
        memcpy(dst->img.data, src->img.data,
               (size_t)src->img.w * (size_t)src->img.h * (size_t)src->img.c * sizeof(float));
    }
    /* the mask has the image's size (224 x 224) */
    size_t mask_n = src->img.data ? (size_t)src->img.w * (size_t)src->img.h : 224 * 224;
    HRN_TRY(dup_floats(&dst->mask, src->mask, mask_n, "the mask"));
    dst->gt.n_coeffs = g->coeffs ? g->n_coeffs : 0;
    dst->gt.n_verts = g->verts ? g->n_verts : 0;
    HRN_TRY(dup_floats(&dst->gt.coeffs, g->coeffs, (size_t)dst->gt.n_coeffs, "gt coeffs"));
    HRN_TRY(dup_floats(&dst->gt.verts, g->verts, 3 * (size_t)dst->gt.n_verts, "gt verts"));
    for (int k = 0; k < N_GT_MAPS; k++)
        HRN_TRY(dup_floats(gt_map_ptr(&dst->gt, k), gt_map_cptr(g, k), gt_map_numel(k),
                           GT_MAPS[k].name));
    return HRN_OK;
fail:
    hrn_sample_free(dst);
    return st;
}

enum hrn_status hrn_sample_gt_save(const char *path, const struct hrn_sample_gt *gt) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    if (gt->coeffs && gt->n_coeffs < 1)
        return hrn_error_set(HRN_ERR_INVALID, "%s: coeffs given with n_coeffs %lld", path,
                             (long long)gt->n_coeffs);
    if (gt->verts && gt->n_verts < 1)
        return hrn_error_set(HRN_ERR_INVALID, "%s: verts given with n_verts %lld", path,
                             (long long)gt->n_verts);
    HRN_TRY(hrn_h5_create(path, &f));
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-sample-gt"));
    if (gt->coeffs)
        HRN_TRY(hrn_h5_write_f32(f, "coeffs", 1, (int64_t[]){gt->n_coeffs}, gt->coeffs));
    if (gt->verts) HRN_TRY(hrn_h5_write_f32(f, "verts", 2, (int64_t[]){gt->n_verts, 3}, gt->verts));
    for (int k = 0; k < N_GT_MAPS; k++) {
        const float *m = gt_map_cptr(gt, k);
        if (m) HRN_TRY(hrn_h5_write_f32(f, GT_MAPS[k].name, GT_MAPS[k].ndim, GT_MAPS[k].shape, m));
    }
    st = hrn_h5_commit(f); /* writes <path>.tmp, renames: no half-written gt file */
    f = NULL;
    return st;
fail:
    hrn_h5_close(f);
    return st;
}

/* Read `name` (any length along the axes marked -1 in want) into a new buffer when it exists;
 * shape receives the actual dimensions. */
static enum hrn_status load_opt(struct hrn_h5 *f, const char *name, int ndim, const int64_t *want,
                                float **out, int64_t *shape) {
    if (!hrn_h5_exists(f, name)) return HRN_OK;
    enum hrn_status st;
    int nd = 0;
    int64_t sh[HRN_H5_MAX_DIMS];
    if ((st = hrn_h5_shape(f, name, &nd, sh)) != HRN_OK) return st;
    int ok = nd == ndim;
    size_t n = 1;
    for (int d = 0; ok && d < nd; d++) {
        ok = sh[d] >= 1 && (want[d] < 0 || sh[d] == want[d]) && sh[d] <= (int64_t)1 << 28;
        n *= ok ? (size_t)sh[d] : 1;
    }
    if (!ok) {
        char got[96], exp[96];
        return hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has shape (%s), expected (%s)",
                             hrn_h5_path(f), name, shape_str(got, sizeof got, nd, sh),
                             shape_str(exp, sizeof exp, ndim, want));
    }
    if (n > ((size_t)1 << 31)) /* bounded above by the per-axis check; kept for the allocator */
        return hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' is too large", hrn_h5_path(f), name);
    *out = malloc(n * sizeof(float));
    if (!*out) return hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for '%s'", hrn_h5_path(f), name);
    if ((st = hrn_h5_read_f32(f, name, ndim, sh, *out)) != HRN_OK) return st;
    memcpy(shape, sh, (size_t)nd * sizeof *sh);
    return HRN_OK;
}

enum hrn_status hrn_sample_gt_load(const char *path, struct hrn_sample_gt *gt) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    int64_t sh[HRN_H5_MAX_DIMS];
    memset(gt, 0, sizeof *gt);
    HRN_TRY(hrn_h5_open(path, &f));
    HRN_TRY(load_opt(f, "coeffs", 1, (int64_t[]){-1}, &gt->coeffs, sh));
    if (gt->coeffs) gt->n_coeffs = sh[0];
    HRN_TRY(load_opt(f, "verts", 2, (int64_t[]){-1, 3}, &gt->verts, sh));
    if (gt->verts) gt->n_verts = sh[0];
    for (int k = 0; k < N_GT_MAPS; k++)
        HRN_TRY(
            load_opt(f, GT_MAPS[k].name, GT_MAPS[k].ndim, GT_MAPS[k].shape, gt_map_ptr(gt, k), sh));
    hrn_h5_close(f);
    return HRN_OK;
fail:
    hrn_h5_close(f);
    gt_free(gt);
    return st;
}

enum hrn_status hrn__sample_gt_check(const char *path, int64_t n_coeffs, int64_t n_verts) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    HRN_TRY(hrn_h5_open(path, &f));
    struct {
        const char *name;
        int ndim;
        int64_t shape[3];
    } want[2 + N_GT_MAPS] = {
        {"coeffs", 1, {n_coeffs}},
        {"verts", 2, {n_verts, 3}},
    };
    for (int k = 0; k < N_GT_MAPS; k++) {
        want[2 + k].name = GT_MAPS[k].name;
        want[2 + k].ndim = GT_MAPS[k].ndim;
        memcpy(want[2 + k].shape, GT_MAPS[k].shape, sizeof want[2 + k].shape);
    }
    for (int k = 0; k < 2 + N_GT_MAPS; k++) {
        if (!hrn_h5_exists(f, want[k].name)) continue;
        int nd = 0;
        int64_t sh[HRN_H5_MAX_DIMS];
        HRN_TRY(hrn_h5_shape(f, want[k].name, &nd, sh));
        int ok = nd == want[k].ndim;
        for (int d = 0; ok && d < nd; d++)
            ok = want[k].shape[d] < 0 || sh[d] == want[k].shape[d];
        if (!ok) {
            char got[96], exp[96];
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has shape (%s), expected (%s)",
                               path, want[k].name, shape_str(got, sizeof got, nd, sh),
                               shape_str(exp, sizeof exp, want[k].ndim, want[k].shape));
            goto fail;
        }
    }
fail:
    hrn_h5_close(f);
    return st;
}
