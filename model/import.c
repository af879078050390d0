/* import.c: face models from other tools' files into struct hrn_face_model:
 * eos/Surrey (.bin cereal archives + expression blendshapes + the iBUG mapping), Deep3DFaceRecon's
 * BFM_model_front.mat (the file HRN users have; read with libmatio), and the Basel Face Model
 * 2017/2019 .h5 (scalismo layout). Bases are stored "rescaled" (eigenvectors times standard
 * deviations) so coefficients are ~N(0,1), as eos's get_rescaled_pca_basis and Deep3D's idBase.
 */
#include "hrn_model.h"

#include <ctype.h>
#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- eos cereal binary ------------------------------------------------------------------------ */

struct reader {
    const char *path;
    FILE *f;
    long size;
};

static enum hrn_status rd(struct reader *r, void *buf, size_t n, const char *what) {
    if (fread(buf, 1, n, r->f) != n)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: truncated at byte %ld reading %s (file is %ld bytes)",
                             r->path, ftell(r->f), what, r->size);
    return HRN_OK;
}

/* An Eigen matrix: int32 rows, int32 cols, rows*cols float32 column-major. Returns it row-major
 * in a malloc()ed buffer; NULL with rows = cols = 0 for an empty matrix. */
static enum hrn_status rd_matrix(struct reader *r, const char *what, float **out, int32_t *rows,
                                 int32_t *cols) {
    enum hrn_status st;
    int32_t rc[2];
    *out = NULL;
    if ((st = rd(r, rc, sizeof rc, what)) != HRN_OK) return st;
    long left = r->size - ftell(r->f);
    if (rc[0] < 0 || rc[1] < 0 || (rc[0] > 0 && rc[1] > 0 && (long)rc[0] * rc[1] > left / 4))
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s claims %d x %d floats but %ld bytes are left",
                             r->path, what, rc[0], rc[1], left);
    *rows = rc[0];
    *cols = rc[1];
    size_t n = (size_t)rc[0] * (size_t)rc[1];
    if (n == 0) return HRN_OK;
    float *cm = malloc(n * sizeof(float)), *rm = malloc(n * sizeof(float));
    if (!cm || !rm) {
        free(cm);
        free(rm);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for %s", r->path, what);
    }
    if ((st = rd(r, cm, n * sizeof(float), what)) != HRN_OK) {
        free(cm);
        free(rm);
        return st;
    }
    for (int32_t i = 0; i < rc[0]; i++)
        for (int32_t j = 0; j < rc[1]; j++) rm[(size_t)i * (size_t)rc[1] + (size_t)j] = cm[(size_t)j * (size_t)rc[0] + (size_t)i];
    free(cm);
    *out = rm;
    return HRN_OK;
}

struct pca {
    float *mean, *basis, *eig;
    int32_t n, k; /* mean length, components */
    int32_t *tris;
    uint64_t n_tris;
};

static void pca_free(struct pca *p) {
    free(p->mean);
    free(p->basis);
    free(p->eig);
    free(p->tris);
    memset(p, 0, sizeof *p);
}

static enum hrn_status rd_pca(struct reader *r, const char *name, struct pca *p) {
    enum hrn_status st;
    int32_t rows, cols, br, bc, er, ec;
    char what[64];
    snprintf(what, sizeof what, "%s mean", name);
    if ((st = rd_matrix(r, what, &p->mean, &rows, &cols)) != HRN_OK) return st;
    snprintf(what, sizeof what, "%s basis", name);
    if ((st = rd_matrix(r, what, &p->basis, &br, &bc)) != HRN_OK) return st;
    snprintf(what, sizeof what, "%s eigenvalues", name);
    if ((st = rd_matrix(r, what, &p->eig, &er, &ec)) != HRN_OK) return st;
    p->n = rows * cols;
    p->k = bc;
    if ((p->n > 0 && (br != p->n || er * ec != bc)))
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s model: mean %d, basis %dx%d, %d eigenvalues "
                             "do not agree", r->path, name, p->n, br, bc, er * ec);
    snprintf(what, sizeof what, "%s triangle count", name);
    if ((st = rd(r, &p->n_tris, sizeof p->n_tris, what)) != HRN_OK) return st;
    long left = r->size - ftell(r->f);
    if (p->n_tris > (uint64_t)left / 12)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s model claims %llu triangles but %ld bytes are left",
                             r->path, name, (unsigned long long)p->n_tris, left);
    if (p->n_tris) {
        p->tris = malloc((size_t)p->n_tris * 3 * sizeof(int32_t));
        if (!p->tris) return hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", r->path);
        snprintf(what, sizeof what, "%s triangles", name);
        if ((st = rd(r, p->tris, (size_t)p->n_tris * 12, what)) != HRN_OK) return st;
    }
    return HRN_OK;
}

static enum hrn_status open_reader(struct reader *r, const char *path) {
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open", path);
    fseek(r->f, 0, SEEK_END);
    r->size = ftell(r->f);
    fseek(r->f, 0, SEEK_SET);
    return HRN_OK;
}

/* eos's ibug_to_sfm.txt (a TOML subset): "<ibug 1-based> = <vertex>" lines under
 * [landmark_mappings]. */
static enum hrn_status read_ibug_mapping(const char *path, int64_t n_verts, int32_t lmk[68]) {
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open", path);
    char line[512];
    int lineno = 0, in_map = 0;
    enum hrn_status st = HRN_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = '\0';
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!*s) continue;
        if (*s == '[') {
            in_map = strncmp(s, "[landmark_mappings]", 19) == 0;
            continue;
        }
        if (!in_map) continue;
        int ib, v;
        char extra;
        if (sscanf(s, "%d = %d %c", &ib, &v, &extra) != 2 || ib < 1 || ib > 68 || v < 0 ||
            v >= n_verts) {
            st = hrn_error_set(HRN_ERR_FORMAT,
                               "%s:%d: expected '<ibug point 1..68> = <vertex 0..%lld>'", path,
                               lineno, (long long)n_verts - 1);
            break;
        }
        lmk[ib - 1] = v;
    }
    fclose(f);
    return st;
}

enum hrn_status hrn_face_model_import_eos(const char *bin, const char *blendshapes,
                                          const char *ibug_mapping, struct hrn_face_model *out) {
    enum hrn_status st = HRN_OK;
    struct reader r = {0}, rb = {0};
    struct pca shape = {0}, color = {0};
    struct hrn_face_model fm = {0};
    double *uv = NULL;
    memset(out, 0, sizeof *out);
    HRN_TRY(open_reader(&r, bin));
    uint32_t version;
    HRN_TRY(rd(&r, &version, sizeof version, "class version"));
    if (version > 1) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: eos MorphableModel class version %u, expected 0 or 1",
                           bin, version);
        goto fail;
    }
    HRN_TRY(rd_pca(&r, "shape", &shape));
    HRN_TRY(rd_pca(&r, "colour", &color));
    if (shape.n <= 0 || shape.n % 3 || shape.n_tris == 0) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: empty shape model", bin);
        goto fail;
    }
    fm.n_verts = shape.n / 3;
    fm.n_tris = (int64_t)shape.n_tris;
    fm.n_id = shape.k;
    fm.mean_shape = shape.mean;
    shape.mean = NULL;
    fm.id_basis = shape.basis;
    shape.basis = NULL;
    for (int64_t i = 0; i < 3 * fm.n_verts; i++)
        for (int k = 0; k < fm.n_id; k++) {
            float ev = shape.eig[k];
            fm.id_basis[i * fm.n_id + k] *= ev > 0 ? sqrtf(ev) : 0.0f;
        }
    fm.tris = shape.tris;
    shape.tris = NULL;
    for (int64_t i = 0; i < 3 * fm.n_tris; i++)
        if (fm.tris[i] < 0 || fm.tris[i] >= fm.n_verts) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: triangle %lld has vertex %d of %lld", bin,
                               (long long)(i / 3), fm.tris[i], (long long)fm.n_verts);
            goto fail;
        }
    if (color.n == shape.n && color.k >= 0) {
        fm.mean_albedo = color.mean; /* eos colour models are in [0,1] */
        color.mean = NULL;
        fm.n_tex = color.k;
        fm.tex_basis = color.basis;
        color.basis = NULL;
        for (int64_t i = 0; i < 3 * fm.n_verts; i++)
            for (int k = 0; k < fm.n_tex; k++)
                fm.tex_basis[i * fm.n_tex + k] *= color.eig[k] > 0 ? sqrtf(color.eig[k]) : 0.0f;
    }
    if (version >= 1) {
        uint64_t n_uv;
        HRN_TRY(rd(&r, &n_uv, sizeof n_uv, "texture coordinate count"));
        if (n_uv != 0 && n_uv != (uint64_t)fm.n_verts) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: %llu texture coordinates for %lld vertices", bin,
                               (unsigned long long)n_uv, (long long)fm.n_verts);
            goto fail;
        }
        if (n_uv) {
            uv = malloc((size_t)n_uv * 2 * sizeof(double));
            fm.uvs = malloc((size_t)n_uv * 2 * sizeof(float));
            if (!uv || !fm.uvs) {
                st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", bin);
                goto fail;
            }
            HRN_TRY(rd(&r, uv, (size_t)n_uv * 16, "texture coordinates"));
            fm.n_uvs = (int64_t)n_uv;
            /* eos measures v downward from the top of the texture; ours is v up */
            for (uint64_t i = 0; i < n_uv; i++) {
                fm.uvs[2 * i] = (float)uv[2 * i];
                fm.uvs[2 * i + 1] = (float)(1.0 - uv[2 * i + 1]);
            }
        }
    }
    if (blendshapes) {
        HRN_TRY(open_reader(&rb, blendshapes));
        uint64_t n_bs;
        HRN_TRY(rd(&rb, &n_bs, sizeof n_bs, "blendshape count"));
        /* each blendshape holds 3N floats: the file must have room for them before the basis
         * (3N x n_bs) is allocated */
        if (n_bs > 10000 || n_bs > (uint64_t)rb.size / (uint64_t)(12 * fm.n_verts)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: %llu blendshapes of %lld vertices do not fit in "
                               "its %ld bytes", blendshapes, (unsigned long long)n_bs,
                               (long long)fm.n_verts, rb.size);
            goto fail;
        }
        fm.n_exp = (int32_t)n_bs;
        fm.exp_bounded = 1; /* eos fits these weights with non-negative least squares */
        fm.exp_basis = calloc((size_t)(3 * fm.n_verts) * n_bs, sizeof(float));
        if (!fm.exp_basis && n_bs) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", blendshapes);
            goto fail;
        }
        for (uint64_t b = 0; b < n_bs; b++) {
            uint64_t len;
            char name[256];
            HRN_TRY(rd(&rb, &len, sizeof len, "blendshape name length"));
            if (len >= sizeof name) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: blendshape %llu name of %llu bytes", blendshapes,
                                   (unsigned long long)b, (unsigned long long)len);
                goto fail;
            }
            HRN_TRY(rd(&rb, name, (size_t)len, "blendshape name"));
            float *vec = NULL;
            int32_t rows, cols;
            HRN_TRY(rd_matrix(&rb, "blendshape", &vec, &rows, &cols));
            if ((int64_t)rows * cols != 3 * fm.n_verts) {
                free(vec);
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: blendshape %llu has %d values, expected %lld",
                                   blendshapes, (unsigned long long)b, rows * cols,
                                   (long long)(3 * fm.n_verts));
                goto fail;
            }
            for (int64_t i = 0; i < 3 * fm.n_verts; i++) fm.exp_basis[i * fm.n_exp + (int64_t)b] = vec[i];
            free(vec);
        }
    }
    for (int i = 0; i < HRN_N_LMK68; i++) fm.lmk68[i] = -1;
    if (ibug_mapping) HRN_TRY(read_ibug_mapping(ibug_mapping, fm.n_verts, fm.lmk68));
    fm.mm_per_unit = 1.0f; /* eos models are in millimetres */
    const char *base = strrchr(bin, '/');
    snprintf(fm.name, sizeof fm.name, "%s", base ? base + 1 : bin);
    snprintf(fm.licence, sizeof fm.licence, "see the licence of %s", fm.name);
    *out = fm;
    memset(&fm, 0, sizeof fm);
fail:
    if (st != HRN_OK) hrn_face_model_free(&fm);
    if (r.f) fclose(r.f);
    if (rb.f) fclose(rb.f);
    pca_free(&shape);
    pca_free(&color);
    free(uv);
    return st;
}

/* --- Deep3DFaceRecon BFM_model_front.mat ------------------------------------------------------ */

/* Read a numeric MATLAB variable as a row-major float matrix of (rows, cols); MATLAB stores
 * column-major. want_rows/want_cols of -1 accept any size. */
static enum hrn_status mat_read(mat_t *mat, const char *path, const char *name, int64_t want_rows,
                                int64_t want_cols, float **out, int64_t *rows, int64_t *cols) {
    matvar_t *v = Mat_VarRead(mat, name);
    *out = NULL;
    if (!v) return hrn_error_set(HRN_ERR_FORMAT, "%s: no variable '%s'", path, name);
    enum hrn_status st = HRN_OK;
    if (v->rank != 2 || v->isComplex || !v->data ||
        (v->class_type != MAT_C_DOUBLE && v->class_type != MAT_C_SINGLE &&
         v->class_type != MAT_C_INT32 && v->class_type != MAT_C_UINT32 &&
         v->class_type != MAT_C_INT64 && v->class_type != MAT_C_UINT16 &&
         v->class_type != MAT_C_UINT8 && v->class_type != MAT_C_INT16)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: variable '%s' is not a real 2-D numeric matrix", path,
                           name);
        goto done;
    }
    int64_t r = (int64_t)v->dims[0], c = (int64_t)v->dims[1];
    if ((want_rows >= 0 && r != want_rows) || (want_cols >= 0 && c != want_cols)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: variable '%s' is %lldx%lld, expected %lldx%lld", path,
                           name, (long long)r, (long long)c, (long long)want_rows, (long long)want_cols);
        goto done;
    }
    float *o = malloc((size_t)(r * c) * sizeof(float));
    if (!o) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for '%s'", path, name);
        goto done;
    }
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            int64_t k = j * r + i;
            double x;
            switch (v->class_type) {
            case MAT_C_DOUBLE: x = ((const double *)v->data)[k]; break;
            case MAT_C_SINGLE: x = (double)((const float *)v->data)[k]; break;
            case MAT_C_INT32: x = ((const int32_t *)v->data)[k]; break;
            case MAT_C_UINT32: x = ((const uint32_t *)v->data)[k]; break;
            case MAT_C_INT64: x = (double)((const int64_t *)v->data)[k]; break;
            case MAT_C_INT16: x = ((const int16_t *)v->data)[k]; break;
            case MAT_C_UINT16: x = ((const uint16_t *)v->data)[k]; break;
            default: x = ((const uint8_t *)v->data)[k]; break;
            }
            o[i * c + j] = (float)x;
        }
    *out = o;
    *rows = r;
    *cols = c;
done:
    Mat_VarFree(v);
    return st;
}

/* A 1-based MATLAB index x into n items, as 0-based *v. The range is checked on the float: a
 * NaN or 1e30 converted to an integer first would be undefined behaviour. */
static int mat_index(float x, int64_t n, int64_t *v) {
    if (!(x >= 1.0f && (double)x <= (double)n && x == floorf(x))) return 0;
    *v = (int64_t)x - 1;
    return 1;
}

enum hrn_status hrn_face_model_import_bfm_mat(const char *path, struct hrn_face_model *out) {
    enum hrn_status st = HRN_OK;
    struct hrn_face_model fm = {0};
    float *tmp = NULL;
    int64_t r, c;
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return hrn_error_set(HRN_ERR_IO, "%s: cannot open", path);
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return hrn_error_set(HRN_ERR_FORMAT, "%s: not a MATLAB .mat file libmatio can read", path);
    HRN_TRY(mat_read(mat, path, "meanshape", -1, -1, &fm.mean_shape, &r, &c));
    int64_t n3 = r * c;
    if (n3 % 3 || (r != 1 && c != 1)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'meanshape' is %lldx%lld, expected a 1x3N vector", path,
                           (long long)r, (long long)c);
        goto fail;
    }
    fm.n_verts = n3 / 3;
    HRN_TRY(mat_read(mat, path, "idBase", n3, -1, &fm.id_basis, &r, &c));
    fm.n_id = (int32_t)c;
    HRN_TRY(mat_read(mat, path, "exBase", n3, -1, &fm.exp_basis, &r, &c));
    fm.n_exp = (int32_t)c;
    HRN_TRY(mat_read(mat, path, "meantex", -1, -1, &fm.mean_albedo, &r, &c));
    if (r * c != n3) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'meantex' has %lld values, expected %lld", path,
                           (long long)(r * c), (long long)n3);
        goto fail;
    }
    HRN_TRY(mat_read(mat, path, "texBase", n3, -1, &fm.tex_basis, &r, &c));
    fm.n_tex = (int32_t)c;
    /* Deep3D keeps albedo in 0..255; ours is [0,1] */
    for (int64_t i = 0; i < n3; i++) fm.mean_albedo[i] /= 255.0f;
    for (int64_t i = 0; i < n3 * fm.n_tex; i++) fm.tex_basis[i] /= 255.0f;
    HRN_TRY(mat_read(mat, path, "tri", -1, 3, &tmp, &r, &c));
    fm.n_tris = r;
    fm.tris = malloc((size_t)(3 * r) * sizeof(int32_t));
    if (!fm.tris) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
        goto fail;
    }
    for (int64_t i = 0; i < 3 * r; i++) {
        int64_t v;
        if (!mat_index(tmp[i], fm.n_verts, &v)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'tri' row %lld has vertex %g, expected 1..%lld",
                               path, (long long)(i / 3), (double)tmp[i], (long long)fm.n_verts);
            goto fail;
        }
        fm.tris[i] = (int32_t)v;
    }
    free(tmp);
    tmp = NULL;
    for (int i = 0; i < HRN_N_LMK68; i++) fm.lmk68[i] = -1;
    HRN_TRY(mat_read(mat, path, "keypoints", -1, -1, &tmp, &r, &c));
    if (r * c != HRN_N_LMK68) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'keypoints' has %lld entries, expected 68", path,
                           (long long)(r * c));
        goto fail;
    }
    for (int i = 0; i < HRN_N_LMK68; i++) {
        int64_t v;
        if (!mat_index(tmp[i], fm.n_verts, &v)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'keypoints' entry %d is %g, expected 1..%lld", path,
                               i, (double)tmp[i], (long long)fm.n_verts);
            goto fail;
        }
        fm.lmk68[i] = (int32_t)v;
    }
    free(tmp);
    tmp = NULL;
    /* skinmask is optional (only used in training) */
    matvar_t *info = Mat_VarReadInfo(mat, "skinmask");
    if (info) {
        Mat_VarFree(info);
        HRN_TRY(mat_read(mat, path, "skinmask", -1, -1, &fm.skin_mask, &r, &c));
        if (r * c != fm.n_verts) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'skinmask' has %lld entries, expected %lld", path,
                               (long long)(r * c), (long long)fm.n_verts);
            goto fail;
        }
    }
    fm.mm_per_unit = 100.0f; /* Deep3D divides BFM by 1e5: decimetres (hrn_method.md 1.3) */
    snprintf(fm.name, sizeof fm.name, "bfm09-front (Deep3DFaceRecon)");
    snprintf(fm.licence, sizeof fm.licence, "Basel Face Model 2009: see its licence");
    Mat_Close(mat);
    *out = fm;
    return HRN_OK;
fail:
    Mat_Close(mat);
    free(tmp);
    hrn_face_model_free(&fm);
    return st;
}

/* --- Basel Face Model 2017/2019 (.h5, scalismo layout) ---------------------------------------- */

/* Sizes a face model file may declare: far above any real model (BFM 2017 full head: 53149
 * vertices, 199 components), far below what would exhaust memory. */
enum { MAX_VERTS = 1 << 22, MAX_TRIS = 1 << 23, MAX_COMPONENTS = 4096 };

/* mean (3N), basis (3N,K) orthonormal, variance (K) -> our mean and rescaled basis. On failure
 * both outputs are freed and NULL, so a caller holding them in locals leaks nothing. */
static enum hrn_status bfm17_part(struct hrn_h5 *f, const char *part, int64_t n3, float **mean,
                                  float **basis, int32_t *k) {
    enum hrn_status st;
    char name[128];
    int ndim;
    int64_t shape[HRN_H5_MAX_DIMS];
    float *var = NULL;
    *mean = *basis = NULL;
    snprintf(name, sizeof name, "%s/model/mean", part);
    *mean = malloc((size_t)n3 * sizeof(float));
    if (!*mean) {
        st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
        goto done;
    }
    if ((st = hrn_h5_read_f32(f, name, 1, &n3, *mean)) != HRN_OK) goto done;
    snprintf(name, sizeof name, "%s/model/pcaBasis", part);
    if ((st = hrn_h5_shape(f, name, &ndim, shape)) != HRN_OK) goto done;
    if (ndim != 2 || shape[0] != n3 || shape[1] > MAX_COMPONENTS) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' must be (%lld, K) with K <= %d",
                           hrn_h5_path(f), name, (long long)n3, MAX_COMPONENTS);
        goto done;
    }
    *k = (int32_t)shape[1];
    *basis = malloc((size_t)(n3 * shape[1]) * sizeof(float));
    var = malloc((size_t)shape[1] * sizeof(float));
    if (!*basis || !var) {
        st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
        goto done;
    }
    if ((st = hrn_h5_read_f32(f, name, 2, shape, *basis)) != HRN_OK) goto done;
    snprintf(name, sizeof name, "%s/model/pcaVariance", part);
    if ((st = hrn_h5_read_f32(f, name, 1, &shape[1], var)) != HRN_OK) goto done;
    for (int64_t i = 0; i < n3; i++)
        for (int32_t j = 0; j < *k; j++) (*basis)[i * *k + j] *= var[j] > 0 ? sqrtf(var[j]) : 0.0f;
done:
    free(var);
    if (st != HRN_OK) {
        free(*mean);
        free(*basis);
        *mean = *basis = NULL;
        *k = 0;
    }
    return st;
}

enum hrn_status hrn_face_model_import_bfm2017(const char *path, struct hrn_face_model *out) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    struct hrn_face_model fm = {0};
    float *pts = NULL;
    int32_t *cells = NULL;
    int ndim;
    int64_t shape[HRN_H5_MAX_DIMS];
    memset(out, 0, sizeof *out);
    HRN_TRY(hrn_h5_open(path, &f));
    HRN_TRY(hrn_h5_shape(f, "shape/representer/points", &ndim, shape));
    if (ndim != 2 || shape[0] != 3) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'shape/representer/points' must be (3, N)", path);
        goto fail;
    }
    fm.n_verts = shape[1];
    int64_t n3 = 3 * fm.n_verts;
    if (fm.n_verts < 3 || fm.n_verts > MAX_VERTS) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: %lld vertices, expected 3..%d", path,
                           (long long)fm.n_verts, MAX_VERTS);
        goto fail;
    }
    HRN_TRY(hrn_h5_shape(f, "shape/representer/cells", &ndim, shape));
    if (ndim != 2 || shape[0] != 3 || shape[1] < 1 || shape[1] > MAX_TRIS) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: 'shape/representer/cells' must be (3, T), "
                           "1 <= T <= %d", path, MAX_TRIS);
        goto fail;
    }
    fm.n_tris = shape[1];
    cells = malloc((size_t)(3 * fm.n_tris) * sizeof(int32_t));
    fm.tris = malloc((size_t)(3 * fm.n_tris) * sizeof(int32_t));
    if (!cells || !fm.tris) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
        goto fail;
    }
    HRN_TRY(hrn_h5_read_i32(f, "shape/representer/cells", 2, shape, cells));
    for (int64_t t = 0; t < fm.n_tris; t++)
        for (int e = 0; e < 3; e++) {
            int32_t v = cells[e * fm.n_tris + t];
            if (v < 0 || v >= fm.n_verts) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: cell %lld has vertex %d of %lld", path,
                                   (long long)t, v, (long long)fm.n_verts);
                goto fail;
            }
            fm.tris[3 * t + e] = v;
        }
    HRN_TRY(bfm17_part(f, "shape", n3, &fm.mean_shape, &fm.id_basis, &fm.n_id));
    if (hrn_h5_exists(f, "expression/model/mean")) {
        /* the expression mean is an offset from the neutral shape */
        float *emean = NULL;
        HRN_TRY(bfm17_part(f, "expression", n3, &emean, &fm.exp_basis, &fm.n_exp));
        for (int64_t i = 0; i < n3; i++) fm.mean_shape[i] += emean[i];
        free(emean);
    }
    if (hrn_h5_exists(f, "color/model/mean"))
        HRN_TRY(bfm17_part(f, "color", n3, &fm.mean_albedo, &fm.tex_basis, &fm.n_tex));
    for (int i = 0; i < HRN_N_LMK68; i++) fm.lmk68[i] = -1; /* BFM2017 names its own landmarks */
    fm.mm_per_unit = 1.0f;
    const char *base = strrchr(path, '/');
    snprintf(fm.name, sizeof fm.name, "%s", base ? base + 1 : path);
    snprintf(fm.licence, sizeof fm.licence, "Basel Face Model 2017/2019: see its licence");
    hrn_h5_close(f);
    free(cells);
    free(pts);
    *out = fm;
    return HRN_OK;
fail:
    hrn_h5_close(f);
    free(cells);
    free(pts);
    hrn_face_model_free(&fm);
    return hrn_error_prefix(st, "importing BFM 2017/2019");
}

/* --- dispatch --------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    if (a < b) return 0;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suf[i]) return 0;
    return 1;
}

enum hrn_status hrn_face_model_import(const char *path, struct hrn_face_model *out) {
    if (ends_with(path, ".mat")) return hrn_face_model_import_bfm_mat(path, out);
    if (ends_with(path, ".bin")) return hrn_face_model_import_eos(path, NULL, NULL, out);
    /* hrn_face_model_load tells hrn's layout from BFM 2017's */
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return hrn_face_model_load(path, out);
    return hrn_error_set(HRN_ERR_UNSUPPORTED,
                         "%s: unknown face model file: expected .h5 (hrn, SFM/ICT layout or BFM "
                         "2017/2019), .mat (Deep3DFaceRecon BFM_model_front.mat) or .bin (eos)",
                         path);
}
