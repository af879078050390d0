/* face_model.c: the face model struct, its HDF5 format, and the plain forward geometry
 * (shape, albedo, pose, normals, SH shading). */
#include "hrn_model.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void hrn_face_model_free(struct hrn_face_model *fm) {
    if (!fm) return;
    free(fm->mean_shape);
    free(fm->id_basis);
    free(fm->exp_basis);
    free(fm->mean_albedo);
    free(fm->tex_basis);
    free(fm->tris);
    free(fm->uvs);
    free(fm->tri_uvs);
    free(fm->skin_mask);
    hrn_face_model_drop_compact(fm);
    memset(fm, 0, sizeof *fm);
}

struct hrn_coeff_layout hrn_face_model_layout(const struct hrn_face_model *fm) {
    struct hrn_coeff_layout l;
    l.id = 0;
    l.exp = l.id + fm->n_id;
    l.tex = l.exp + fm->n_exp;
    l.angle = l.tex + fm->n_tex;
    l.gamma = l.angle + 3;
    l.trans = l.gamma + HRN_N_GAMMA;
    l.total = l.trans + 3;
    return l;
}

int64_t hrn_face_model_n_coeffs(const struct hrn_face_model *fm) {
    return hrn_face_model_layout(fm).total;
}

/* --- HDF5 format ------------------------------------------------------------------------------ */

enum { FACE_MODEL_FORMAT_VERSION = 1 };
static const char FACE_MODEL_FORMAT[] = "hrn-face-model";

enum hrn_status hrn_face_model_save(const struct hrn_face_model *fm, const char *path) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    int64_t n3 = 3 * fm->n_verts;
    HRN_TRY(hrn_h5_create(path, &f));
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "hrn_format", FACE_MODEL_FORMAT));
    HRN_TRY(hrn_h5_attr_write_i64(f, "/", "hrn_format_version", FACE_MODEL_FORMAT_VERSION));
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "name", fm->name));
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "licence", fm->licence));
    HRN_TRY(hrn_h5_attr_write_f64(f, "/", "mm_per_unit", (double)fm->mm_per_unit));
    HRN_TRY(hrn_h5_attr_write_i64(f, "/", "uv_v_up", 1));
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "expression_prior",
                                  fm->exp_bounded ? "blendshapes" : "gaussian"));
    HRN_TRY(hrn_h5_write_f32(f, "shape/mean", 1, &n3, fm->mean_shape));
    if (fm->n_id > 0)
        HRN_TRY(hrn_h5_write_f32(f, "shape/basis", 2, (int64_t[]){n3, fm->n_id}, fm->id_basis));
    if (fm->n_exp > 0)
        HRN_TRY(hrn_h5_write_f32(f, "expression/basis", 2, (int64_t[]){n3, fm->n_exp},
                                 fm->exp_basis));
    if (fm->mean_albedo) {
        HRN_TRY(hrn_h5_write_f32(f, "albedo/mean", 1, &n3, fm->mean_albedo));
        if (fm->n_tex > 0)
            HRN_TRY(hrn_h5_write_f32(f, "albedo/basis", 2, (int64_t[]){n3, fm->n_tex},
                                     fm->tex_basis));
    }
    HRN_TRY(hrn_h5_write_i32(f, "triangles", 2, (int64_t[]){fm->n_tris, 3}, fm->tris));
    if (fm->uvs) {
        HRN_TRY(hrn_h5_write_f32(f, "uv", 2, (int64_t[]){fm->n_uvs, 2}, fm->uvs));
        if (fm->tri_uvs)
            HRN_TRY(hrn_h5_write_i32(f, "triangle_uv", 2, (int64_t[]){fm->n_tris, 3}, fm->tri_uvs));
    }
    HRN_TRY(hrn_h5_write_i32(f, "landmarks/ibug68", 1, (int64_t[]){HRN_N_LMK68}, fm->lmk68));
    if (fm->skin_mask)
        HRN_TRY(hrn_h5_write_f32(f, "masks/skin", 1, (int64_t[]){fm->n_verts}, fm->skin_mask));
    st = hrn_h5_commit(f);
    f = NULL;
    if (st != HRN_OK) goto fail;
    return HRN_OK;
fail:
    hrn_h5_close(f);
    return hrn_error_prefix(st, "saving face model %s", path);
}

static enum hrn_status read_alloc_f32(struct hrn_h5 *f, const char *name, int ndim,
                                      const int64_t *shape, float **out) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for '%s'", hrn_h5_path(f), name);
    return hrn_h5_read_f32(f, name, ndim, shape, *out);
}

static enum hrn_status read_alloc_i32(struct hrn_h5 *f, const char *name, int ndim,
                                      const int64_t *shape, int32_t **out) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    *out = malloc((size_t)n * sizeof(int32_t));
    if (!*out) return hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for '%s'", hrn_h5_path(f), name);
    return hrn_h5_read_i32(f, name, ndim, shape, *out);
}

static enum hrn_status check_indices(const char *path, const char *what, const int32_t *idx,
                                     int64_t n, int64_t limit, int allow_minus1) {
    for (int64_t i = 0; i < n; i++) {
        if ((idx[i] == -1 && allow_minus1)) continue;
        if (idx[i] < 0 || idx[i] >= limit)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' entry %lld is %d, expected 0..%lld%s",
                                 path, what, (long long)i, idx[i], (long long)limit - 1,
                                 allow_minus1 ? " or -1" : "");
    }
    return HRN_OK;
}

/* hrn's own layout (and the SFM/ICT files of ../shared/realdata, which share it) */
static enum hrn_status load_hrn_layout(const char *path, struct hrn_face_model *out) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    struct hrn_face_model fm = {0};
    int ndim;
    int64_t shape[HRN_H5_MAX_DIMS];
    HRN_TRY(hrn_h5_open(path, &f));
    int64_t ver = 0;
    if (hrn_h5_attr_read_i64(f, "/", "hrn_format_version", &ver) == HRN_OK) {
        if (ver > FACE_MODEL_FORMAT_VERSION) {
            st = hrn_error_set(HRN_ERR_FORMAT,
                               "%s: face model format version %lld, this build reads up to %d: "
                               "update hrn", path, (long long)ver, FACE_MODEL_FORMAT_VERSION);
            goto fail;
        }
    }
    hrn_error_clear();
    /* Optional metadata. The shared SFM/ICT files say `license` and a `units` sentence instead. */
    if (hrn_h5_attr_read_str(f, "/", "name", fm.name, sizeof fm.name) != HRN_OK) {
        const char *base = strrchr(path, '/');
        snprintf(fm.name, sizeof fm.name, "%s", base ? base + 1 : path);
    }
    if (hrn_h5_attr_read_str(f, "/", "licence", fm.licence, sizeof fm.licence) != HRN_OK &&
        hrn_h5_attr_read_str(f, "/", "license", fm.licence, sizeof fm.licence) != HRN_OK)
        fm.licence[0] = '\0';
    double mm = 1.0;
    if (hrn_h5_attr_read_f64(f, "/", "mm_per_unit", &mm) != HRN_OK) {
        char units[256] = "";
        mm = 1.0; /* millimetres unless the file says otherwise */
        if (hrn_h5_attr_read_str(f, "/", "units", units, sizeof units) == HRN_OK) {
            if (strstr(units, "centimetre") || strstr(units, "centimeter")) mm = 10.0;
            else if (strstr(units, "decimetre") || strstr(units, "decimeter")) mm = 100.0;
            else if (strstr(units, "metre") && !strstr(units, "millimetre")) mm = 1000.0;
        }
    }
    fm.mm_per_unit = (float)mm;
    hrn_error_clear();

    HRN_TRY(hrn_h5_shape(f, "shape/mean", &ndim, shape));
    if (ndim != 1 || shape[0] % 3 != 0 || shape[0] < 9) {
        st = hrn_error_set(HRN_ERR_FORMAT,
                           "%s: dataset 'shape/mean' must be (3N,) with N >= 3, got %d dims",
                           path, ndim);
        goto fail;
    }
    fm.n_verts = shape[0] / 3;
    int64_t n3 = shape[0];
    HRN_TRY(read_alloc_f32(f, "shape/mean", 1, &n3, &fm.mean_shape));
    if (hrn_h5_exists(f, "shape/basis")) {
        HRN_TRY(hrn_h5_shape(f, "shape/basis", &ndim, shape));
        fm.n_id = ndim == 2 ? (int32_t)shape[1] : 0;
        HRN_TRY(read_alloc_f32(f, "shape/basis", 2, (int64_t[]){n3, fm.n_id}, &fm.id_basis));
    }
    if (hrn_h5_exists(f, "expression/basis")) {
        HRN_TRY(hrn_h5_shape(f, "expression/basis", &ndim, shape));
        fm.n_exp = ndim == 2 ? (int32_t)shape[1] : 0;
        HRN_TRY(read_alloc_f32(f, "expression/basis", 2, (int64_t[]){n3, fm.n_exp},
                               &fm.exp_basis));
        char prior[32] = "";
        if (hrn_h5_attr_read_str(f, "/", "expression_prior", prior, sizeof prior) == HRN_OK)
            fm.exp_bounded = strcmp(prior, "blendshapes") == 0;
        else /* the shared SFM/ICT files: named blendshape targets */
            fm.exp_bounded = hrn_h5_exists(f, "expression/names");
        hrn_error_clear();
    }
    if (hrn_h5_exists(f, "albedo/mean")) {
        HRN_TRY(read_alloc_f32(f, "albedo/mean", 1, &n3, &fm.mean_albedo));
        if (hrn_h5_exists(f, "albedo/basis")) {
            HRN_TRY(hrn_h5_shape(f, "albedo/basis", &ndim, shape));
            fm.n_tex = ndim == 2 ? (int32_t)shape[1] : 0;
            HRN_TRY(read_alloc_f32(f, "albedo/basis", 2, (int64_t[]){n3, fm.n_tex},
                                   &fm.tex_basis));
        }
    }
    HRN_TRY(hrn_h5_shape(f, "triangles", &ndim, shape));
    fm.n_tris = shape[0];
    HRN_TRY(read_alloc_i32(f, "triangles", 2, (int64_t[]){fm.n_tris, 3}, &fm.tris));
    HRN_TRY(check_indices(path, "triangles", fm.tris, 3 * fm.n_tris, fm.n_verts, 0));
    if (hrn_h5_exists(f, "uv")) {
        HRN_TRY(hrn_h5_shape(f, "uv", &ndim, shape));
        fm.n_uvs = shape[0];
        HRN_TRY(read_alloc_f32(f, "uv", 2, (int64_t[]){fm.n_uvs, 2}, &fm.uvs));
        if (hrn_h5_exists(f, "triangle_uv")) {
            HRN_TRY(read_alloc_i32(f, "triangle_uv", 2, (int64_t[]){fm.n_tris, 3}, &fm.tri_uvs));
            HRN_TRY(check_indices(path, "triangle_uv", fm.tri_uvs, 3 * fm.n_tris, fm.n_uvs, 0));
        } else if (fm.n_uvs != fm.n_verts) {
            st = hrn_error_set(HRN_ERR_FORMAT,
                               "%s: dataset 'uv' has %lld rows but there are %lld vertices and no "
                               "'triangle_uv' table", path, (long long)fm.n_uvs,
                               (long long)fm.n_verts);
            goto fail;
        }
        /* eos/SFM files store v downward; our format and OBJ store v up. */
        int64_t v_up = 1;
        if (hrn_h5_attr_read_i64(f, "/", "uv_v_up", &v_up) != HRN_OK && !fm.tri_uvs) v_up = 0;
        hrn_error_clear();
        if (!v_up)
            for (int64_t i = 0; i < fm.n_uvs; i++) fm.uvs[2 * i + 1] = 1.0f - fm.uvs[2 * i + 1];
    }
    for (int i = 0; i < HRN_N_LMK68; i++) fm.lmk68[i] = -1;
    if (hrn_h5_exists(f, "landmarks/ibug68")) {
        HRN_TRY(hrn_h5_read_i32(f, "landmarks/ibug68", 1, (int64_t[]){HRN_N_LMK68}, fm.lmk68));
        HRN_TRY(check_indices(path, "landmarks/ibug68", fm.lmk68, HRN_N_LMK68, fm.n_verts, 1));
    }
    if (hrn_h5_exists(f, "masks/skin"))
        HRN_TRY(read_alloc_f32(f, "masks/skin", 1, (int64_t[]){fm.n_verts}, &fm.skin_mask));
    hrn_h5_close(f);
    *out = fm;
    return HRN_OK;
fail:
    hrn_h5_close(f);
    hrn_face_model_free(&fm);
    return hrn_error_prefix(st, "loading face model");
}

/* --- any model file: dispatch on its kind --------------------------------------------------------
 * The tools take --model as whatever the user has: hrn's HDF5, BFM 2017/2019 (HDF5 too),
 * Deep3D's BFM_model_front.mat or an eos .bin. The first bytes decide (a name can lie), the
 * extension only for eos, whose cereal archive has no signature. */

enum model_kind { KIND_HDF5, KIND_MAT, KIND_EOS };

static int has_ext(const char *s, const char *ext) {
    size_t a = strlen(s), b = strlen(ext);
    return a >= b && strcasecmp(s + a - b, ext) == 0;
}

static enum hrn_status sniff(const char *path, enum model_kind *kind) {
    unsigned char head[2056] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    /* HDF5's signature sits at 0 or after a user block of 512 * 2^k bytes (MATLAB 7.3 uses 512) */
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n >= 6 && memcmp(head, "MATLAB", 6) == 0) {
        *kind = KIND_MAT; /* v5/v7, and v7.3 (HDF5 inside) which libmatio reads too */
        return HRN_OK;
    }
    for (size_t off = 0; off + 8 <= n; off = off ? 2 * off : 512)
        if (memcmp(head + off, h5sig, 8) == 0) {
            *kind = KIND_HDF5;
            return HRN_OK;
        }
    if (has_ext(path, ".bin")) {
        *kind = KIND_EOS;
        return HRN_OK;
    }
    return hrn_error_set(HRN_ERR_FORMAT, "%s: not a face model hrn reads: neither HDF5 (hrn, "
                         "SFM/ICT, BFM 2017/2019) nor a MATLAB .mat (Deep3D's BFM_model_front.mat), "
                         "and not an eos .bin", path);
}

/* eos ships a model as sfm_shape_<N>.bin with expression_blendshapes_<N>.bin and
 * ibug_to_sfm.txt beside it: use those that exist, and say so. */
static enum hrn_status load_eos(const char *path, struct hrn_face_model *out) {
    char dir[1024], bs[1200], map[1200];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    const char *us = strrchr(base, '_');
    struct stat sb;
    snprintf(bs, sizeof bs, "%s/expression_blendshapes_%s", dir, us ? us + 1 : base);
    snprintf(map, sizeof map, "%s/ibug_to_sfm.txt", dir);
    int has_bs = us && strcmp(bs + strlen(dir) + 1, base) != 0 && stat(bs, &sb) == 0;
    int has_map = stat(map, &sb) == 0;
    hrn_log(HRN_LOG_INFO, "%s: eos model; expression blendshapes: %s; iBUG landmarks: %s", path,
            has_bs ? bs : "none found", has_map ? map : "none found (ibug_to_sfm.txt)");
    return hrn_face_model_import_eos(path, has_bs ? bs : NULL, has_map ? map : NULL, out);
}

enum hrn_status hrn_face_model_load(const char *path, struct hrn_face_model *out) {
    memset(out, 0, sizeof *out);
    enum model_kind kind;
    enum hrn_status st = sniff(path, &kind);
    if (st != HRN_OK) return hrn_error_prefix(st, "loading face model");
    if (kind == KIND_MAT) return hrn_face_model_import_bfm_mat(path, out);
    if (kind == KIND_EOS) return load_eos(path, out);
    struct hrn_h5 *f = NULL;
    if ((st = hrn_h5_open(path, &f)) != HRN_OK) return hrn_error_prefix(st, "loading face model");
    int bfm17 = hrn_h5_exists(f, "shape/representer/points");
    hrn_h5_close(f);
    return bfm17 ? hrn_face_model_import_bfm2017(path, out) : load_hrn_layout(path, out);
}

/* --- forward geometry ------------------------------------------------------------------------- */

/* out (3N) = mean + basis (3N,K) * c (K); a tall-skinny gemv: memory-bound, one pass over the basis. */
static void add_basis(const float *basis, const float *c, int64_t n3, int32_t k, float *out) {
    if (k <= 0 || !basis) return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n3, k, 1.0f, basis, k, c, 1, 1.0f, out, 1);
}

void hrn_face_shape(const struct hrn_face_model *fm, const float *coeffs, float *out) {
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    int64_t n3 = 3 * fm->n_verts;
    memcpy(out, fm->mean_shape, (size_t)n3 * sizeof(float));
    add_basis(fm->id_basis, coeffs + l.id, n3, fm->n_id, out);
    add_basis(fm->exp_basis, coeffs + l.exp, n3, fm->n_exp, out);
}

void hrn_face_albedo(const struct hrn_face_model *fm, const float *coeffs, float *out) {
    HRN_ASSERT(fm->mean_albedo != NULL);
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    int64_t n3 = 3 * fm->n_verts;
    memcpy(out, fm->mean_albedo, (size_t)n3 * sizeof(float));
    add_basis(fm->tex_basis, coeffs + l.tex, n3, fm->n_tex, out);
    for (int64_t i = 0; i < n3; i++) out[i] = out[i] < 0 ? 0 : out[i] > 1 ? 1 : out[i];
}

void hrn_euler_to_rot(const float angle[3], float R[9]) {
    double cx = cos((double)angle[0]), sx = sin((double)angle[0]);
    double cy = cos((double)angle[1]), sy = sin((double)angle[1]);
    double cz = cos((double)angle[2]), sz = sin((double)angle[2]);
    /* Rz*Ry*Rx, multiplied out */
    double m[9] = {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
                   sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
                   -sy,     cy * sx,                cy * cx};
    for (int i = 0; i < 9; i++) R[i] = (float)m[i];
}

void hrn_transform_points(const float R[9], const float t[3], const float *in, float *out,
                          int64_t n) {
    for (int64_t v = 0; v < n; v++) {
        float x = in[3 * v], y = in[3 * v + 1], z = in[3 * v + 2];
        for (int r = 0; r < 3; r++)
            out[3 * v + r] = R[3 * r] * x + R[3 * r + 1] * y + R[3 * r + 2] * z + t[r];
    }
}

void hrn_face_posed(const struct hrn_face_model *fm, const float *coeffs, float *out) {
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    float R[9];
    hrn_face_shape(fm, coeffs, out);
    hrn_euler_to_rot(coeffs + l.angle, R);
    hrn_transform_points(R, coeffs + l.trans, out, out, fm->n_verts);
}

void hrn_vertex_normals(const float *verts, int64_t n_verts, const int32_t *tris, int64_t n_tris,
                        float *out) {
    memset(out, 0, (size_t)(3 * n_verts) * sizeof(float));
    for (int64_t f = 0; f < n_tris; f++) {
        const float *a = verts + 3 * tris[3 * f], *b = verts + 3 * tris[3 * f + 1],
                    *c = verts + 3 * tris[3 * f + 2];
        float e1[3] = {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
        float e2[3] = {b[0] - c[0], b[1] - c[1], b[2] - c[2]};
        float n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                      e1[0] * e2[1] - e1[1] * e2[0]};
        float len = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        if (len <= 0) continue; /* degenerate: no direction to add */
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) out[3 * tris[3 * f + k] + j] += n[j] / len;
    }
    for (int64_t v = 0; v < n_verts; v++) {
        float *n = out + 3 * v;
        float len = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        if (len > 0)
            for (int j = 0; j < 3; j++) n[j] /= len;
    }
}

/* ref: hrn_method.md 1.6 (models/bfm.py: SH): a = [pi, 2pi/sqrt3, 2pi/sqrt8],
 * c = [1/sqrt(4pi), sqrt3/sqrt(4pi), 3sqrt5/sqrt(12pi)]. */
void hrn_sh_basis(const float n[3], float Y[HRN_N_SH]) {
    const double PI = 3.14159265358979323846;
    const double a0c0 = PI * (1.0 / sqrt(4 * PI));
    const double a1c1 = (2 * PI / sqrt(3.0)) * (sqrt(3.0) / sqrt(4 * PI));
    const double a2c2 = (2 * PI / sqrt(8.0)) * (3 * sqrt(5.0) / sqrt(12 * PI));
    double x = n[0], y = n[1], z = n[2];
    Y[0] = (float)a0c0;
    Y[1] = (float)(-a1c1 * y);
    Y[2] = (float)(a1c1 * z);
    Y[3] = (float)(-a1c1 * x);
    Y[4] = (float)(a2c2 * x * y);
    Y[5] = (float)(-a2c2 * y * z);
    Y[6] = (float)(0.5 * a2c2 / sqrt(3.0) * (3 * z * z - 1));
    Y[7] = (float)(-a2c2 * x * z);
    Y[8] = (float)(0.5 * a2c2 * (x * x - y * y));
}

void hrn_sh_shade(const float *normals, const float *albedo, const float *gamma, int64_t n,
                  float *out_rgb) {
    float g[HRN_N_GAMMA];
    for (int i = 0; i < HRN_N_GAMMA; i++) g[i] = gamma[i] + (i % HRN_N_SH == 0 ? 0.8f : 0.0f);
    for (int64_t v = 0; v < n; v++) {
        float Y[HRN_N_SH];
        hrn_sh_basis(normals + 3 * v, Y);
        for (int c = 0; c < 3; c++) {
            float s = 0;
            for (int k = 0; k < HRN_N_SH; k++) s += Y[k] * g[c * HRN_N_SH + k];
            out_rgb[3 * v + c] = s * albedo[3 * v + c];
        }
    }
}

enum hrn_status hrn_face_model_to_hrn_frame(struct hrn_face_model *fm) {
    if (!fm->mean_shape || fm->n_verts < 3)
        return hrn_error_set(HRN_ERR_INVALID, "face model %s: no mean shape", fm->name);
    if (!(fm->mm_per_unit > 0) || !isfinite(fm->mm_per_unit))
        return hrn_error_set(HRN_ERR_FORMAT, "face model %s: mm_per_unit %g is not positive",
                             fm->name, (double)fm->mm_per_unit);
    int64_t N = fm->n_verts;
    double c[3] = {0, 0, 0};
    for (int64_t v = 0; v < N; v++)
        for (int k = 0; k < 3; k++) c[k] += (double)fm->mean_shape[3 * v + k];
    float k = fm->mm_per_unit / 100.0f;
    for (int64_t v = 0; v < N; v++)
        for (int j = 0; j < 3; j++)
            fm->mean_shape[3 * v + j] =
                (float)(((double)fm->mean_shape[3 * v + j] - c[j] / (double)N) * (double)k);
    if (k != 1.0f) {
        if (fm->id_basis)
            for (int64_t i = 0; i < 3 * N * fm->n_id; i++) fm->id_basis[i] *= k;
        if (fm->exp_basis)
            for (int64_t i = 0; i < 3 * N * fm->n_exp; i++) fm->exp_basis[i] *= k;
    }
    fm->mm_per_unit = 100.0f;
    return HRN_OK;
}
