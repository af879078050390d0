/* synth_data.c: synthetic training samples with ground truth at every level (issue #11): the
 * per-model context, HRN's forward pass (M1 geometry, UV-space shading with the detail normals of
 * the displacement map, rendered on M1; hrn_method.md 2.2-2.3), the sample and its re-render from
 * the ground truth. The draws are in synth_maps.c, the image-space nuisances in synth_image.c, the
 * dataset folder in synth_folder.c. */
#include "synth_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hrn_synth_data_defaults(struct hrn_synth_data_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->count = 1000;
    /* inside the prior, as hrn-model render and the fit demo draw subjects: the synthetic model's
     * bases at a full standard deviation give lopsided heads and green-blue skin */
    c->id_std = 0.7f;
    c->tex_std = 0.7f;
    c->exp_std = 0.5f; /* expressions are mostly mild in photos: the full prior looks grimacing */
    c->yaw_deg = 60.0f;
    c->pitch_deg = 30.0f;
    c->roll_deg = 20.0f;
    c->trans_px = 10.0f; /* Deep3D's augmentation shifts by up to 10 px */
    c->dist_frac = 0.1f; /* and scales by up to 10 % */
    c->deform_mm = 3.0f;
    c->disp_mm = 0.4f;
    c->detail_strength = 1.0f;
    c->occluder_p = 0.3f;
    c->noise_max = 0.03f;
    c->jpeg_p = 0.5f;
    c->background = 1;
    c->levels = 2;
}

/* --- the per-model context ------------------------------------------------------------------- */

void synth_ctx_free(struct hrn_synth_ctx *x) {
    if (!x) return;
    hrn_topo_free(&x->topo);
    hrn_uv_map_free(&x->uv);
    hrn_csr_free(&x->sampler);
    hrn_topo_free(&x->grid);
    free(x->st);
    free(x->chart64);
    free(x->skin);
    free(x->ab256);
    free(x->ab64);
    memset(x, 0, sizeof *x);
}

/* uv of every vertex (the first corner's through a UV table, as the deformation sampler) */
static float *vertex_uvs(const struct hrn_face_model *fm) {
    float *vuv = calloc((size_t)(2 * fm->n_verts), sizeof *vuv);
    uint8_t *seen = calloc((size_t)fm->n_verts, 1);
    if (vuv && seen)
        for (int64_t i = 0; i < 3 * fm->n_tris; i++) {
            int32_t v = fm->tris[i], u = fm->tri_uvs ? fm->tri_uvs[i] : v;
            if (seen[v]) continue;
            seen[v] = 1;
            vuv[2 * v] = fm->uvs[2 * u];
            vuv[2 * v + 1] = fm->uvs[2 * u + 1];
        }
    free(seen);
    if (!seen) {
        free(vuv);
        return NULL;
    }
    return vuv;
}

/* Canonical (a, b) face-frame positions of the 68 points: the stand-ins for points a model lacks
 * (SFM has no jaw contour). Eyes at b = 0, mouth at b = -1, a in eye-distance units. */
static void canonical_lm(int i, float ab[2]) {
    static const float jaw[17][2] = {
        {-1.00f, -0.10f}, {-0.98f, -0.40f}, {-0.94f, -0.70f}, {-0.88f, -1.00f}, {-0.78f, -1.28f},
        {-0.62f, -1.52f}, {-0.44f, -1.70f}, {-0.23f, -1.82f}, {0.00f, -1.86f},  {0.23f, -1.82f},
        {0.44f, -1.70f},  {0.62f, -1.52f},  {0.78f, -1.28f},  {0.88f, -1.00f},  {0.94f, -0.70f},
        {0.98f, -0.40f},  {1.00f, -0.10f}};
    if (i < 17) {
        ab[0] = jaw[i][0], ab[1] = jaw[i][1];
    } else if (i < 27) { /* brows */
        float s = (float)(i - 17) / 9.0f;
        ab[0] = -0.85f + 1.7f * s;
        ab[1] = 0.30f + 0.08f * (1.0f - fabsf(2 * s - 1));
    } else if (i < 31) { /* nose bridge */
        ab[0] = 0, ab[1] = -0.18f * (float)(i - 27) - 0.05f;
    } else if (i < 36) { /* nostrils */
        ab[0] = 0.1f * (float)(i - 33), ab[1] = -0.62f;
    } else if (i < 48) { /* eyes: outer corner, upper lid, inner corner, lower lid */
        static const float ring[6][2] = {{-0.18f, 0}, {-0.08f, 0.05f}, {0.08f, 0.05f},
                                         {0.18f, 0},  {0.08f, -0.04f}, {-0.08f, -0.04f}};
        int k = (i - 36) % 6;
        ab[0] = (i < 42 ? -0.5f : 0.5f) + ring[k][0], ab[1] = ring[k][1];
    } else { /* mouth */
        float ang = 6.2831853f * (float)((i < 60 ? i - 48 : i - 60)) / (i < 60 ? 12.0f : 8.0f);
        float r = i < 60 ? 1.0f : 0.8f;
        ab[0] = -0.4f * r * cosf(ang), ab[1] = -1.0f + 0.12f * r * sinf(ang);
    }
}

static int lmk_uv(const float *vuv, const struct hrn_face_model *fm, int i, float uv[2]) {
    if (fm->lmk68[i] < 0) return 0;
    uv[0] = vuv[2 * fm->lmk68[i]], uv[1] = vuv[2 * fm->lmk68[i] + 1];
    return 1;
}

/* mean uv of the landmarks of a list that the model has; 0 when it has none of them */
static int mean_lmk_uv(const float *vuv, const struct hrn_face_model *fm, const int *ids, int n,
                       float uv[2]) {
    float s[2] = {0, 0}, p[2];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (lmk_uv(vuv, fm, ids[i], p)) s[0] += p[0], s[1] += p[1], k++;
    if (!k) return 0;
    uv[0] = s[0] / (float)k, uv[1] = s[1] / (float)k;
    return 1;
}

static enum hrn_status frame_init(struct synth_frame *f, const struct hrn_face_model *fm,
                                  const float *vuv) {
    static const int EYE_L[] = {36, 37, 38, 39, 40, 41}, EYE_R[] = {42, 43, 44, 45, 46, 47};
    static const int MOUTH[] = {48, 54, 51, 57, 62, 66};
    float el[2], er[2], mo[2];
    if (!mean_lmk_uv(vuv, fm, EYE_L, 6, el) || !mean_lmk_uv(vuv, fm, EYE_R, 6, er) ||
        !mean_lmk_uv(vuv, fm, MOUTH, 6, mo))
        return hrn_error_set(HRN_ERR_INVALID,
                             "synthetic samples: face model %s lacks the eye or "
                             "mouth landmarks that place the detail maps",
                             fm->name);
    f->o[0] = 0.5f * (el[0] + er[0]), f->o[1] = 0.5f * (el[1] + er[1]);
    f->ex[0] = er[0] - el[0], f->ex[1] = er[1] - el[1];
    f->ey[0] = f->o[0] - mo[0], f->ey[1] = f->o[1] - mo[1];
    float det = f->ex[0] * f->ey[1] - f->ex[1] * f->ey[0];
    if (!(fabsf(det) > 1e-8f))
        return hrn_error_set(HRN_ERR_INVALID,
                             "synthetic samples: face model %s: eyes and mouth "
                             "are collinear in UV",
                             fm->name);
    f->inv[0] = f->ey[1] / det, f->inv[1] = -f->ey[0] / det;
    f->inv[2] = -f->ex[1] / det, f->inv[3] = f->ex[0] / det;
    for (int i = 0; i < 68; i++) {
        float uv[2];
        f->has[i] = (uint8_t)lmk_uv(vuv, fm, i, uv);
        if (f->has[i]) {
            float du = uv[0] - f->o[0], dv = uv[1] - f->o[1];
            f->lm[i][0] = f->inv[0] * du + f->inv[1] * dv;
            f->lm[i][1] = f->inv[2] * du + f->inv[3] * dv;
        } else {
            canonical_lm(i, f->lm[i]);
        }
    }
    return HRN_OK;
}

/* (a, b) of every texel centre of an R x R map (row 0 at v = 1) */
static void frame_coords(const struct synth_frame *f, int R, float *ab) {
    for (int i = 0; i < R; i++)
        for (int j = 0; j < R; j++) {
            float du = ((float)j + 0.5f) / (float)R - f->o[0];
            float dv = 1.0f - ((float)i + 0.5f) / (float)R - f->o[1];
            ab[i * R + j] = f->inv[0] * du + f->inv[1] * dv;
            ab[R * R + i * R + j] = f->inv[2] * du + f->inv[3] * dv;
        }
}

static void skin_and_chart(struct hrn_synth_ctx *x) {
    const struct hrn_face_model *fm = x->fm;
    const int R = SYNTH_UV, r = SYNTH_DEF, k = R / r;
    for (int64_t p = 0; p < (int64_t)R * R; p++) {
        int32_t f = x->uv.texel_tri[p];
        float s = f >= 0 ? 1.0f : 0.0f;
        if (f >= 0 && fm->skin_mask) {
            s = 0;
            for (int c = 0; c < 3; c++)
                s += x->uv.texel_bary[3 * p + c] * fm->skin_mask[fm->tris[3 * f + c]];
            s = s > 0.5f ? 1.0f : 0.0f;
        }
        x->skin[p] = s;
    }
    /* a 64 texel is on the chart when any 256 texel it covers is (the sampler reads it) */
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) {
            float m = 0;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    m = synth_fmaxf(m, x->uv.mask[(i * k + a) * R + j * k + b]);
            x->chart64[i * r + j] = m;
        }
}

enum hrn_status synth_ctx_init(struct hrn_synth_ctx *x, const struct hrn_face_model *fm) {
    enum hrn_status st = HRN_OK;
    float *vuv = NULL;
    memset(x, 0, sizeof *x);
    x->fm = fm;
    x->cam = hrn_camera_default();
    if (!fm->uvs || !fm->mean_shape)
        return hrn_error_set(HRN_ERR_INVALID, "synthetic samples: face model %s has no %s",
                             fm->name, fm->uvs ? "mean shape" : "texture coordinates (uv)");
    HRN_TRY(hrn_topo_init(&x->topo, fm->tris, fm->n_tris, fm->n_verts));
    HRN_TRY(hrn_uv_map_init(&x->uv, fm, SYNTH_UV));
    HRN_TRY(hrn_uv_sampler_init(&x->sampler, fm, SYNTH_DEF));
    HRN_TRY(hrn_uv_grid_init(&x->grid, SYNTH_UV));
    x->st = hrn_uv_tex_coords(fm);
    if (!x->st) {
        st = hrn_error_prefix(HRN_ERR_INVALID, "synthetic samples: ");
        goto fail;
    }
    x->chart64 = malloc((size_t)SYNTH_DEF * SYNTH_DEF * sizeof(float));
    x->skin = malloc((size_t)SYNTH_UV * SYNTH_UV * sizeof(float));
    x->ab256 = malloc((size_t)2 * SYNTH_UV * SYNTH_UV * sizeof(float));
    x->ab64 = malloc((size_t)2 * SYNTH_DEF * SYNTH_DEF * sizeof(float));
    vuv = vertex_uvs(fm);
    if (!x->chart64 || !x->skin || !x->ab256 || !x->ab64 || !vuv) {
        st = hrn_error_set(HRN_ERR_NOMEM, "synthetic samples: no memory for model %s", fm->name);
        goto fail;
    }
    HRN_TRY(frame_init(&x->frame, fm, vuv));
    frame_coords(&x->frame, SYNTH_UV, x->ab256);
    frame_coords(&x->frame, SYNTH_DEF, x->ab64);
    skin_and_chart(x);
    free(vuv);
    return HRN_OK;
fail:
    free(vuv);
    synth_ctx_free(x);
    return st;
}

/* --- HRN's forward pass ---------------------------------------------------------------------- */

static size_t tape_bytes(const struct hrn_face_model *fm) {
    /* ~40 (N,3) tensors and ~30 256-maps of 3 channels, with room to spare */
    return ((size_t)48 << 20) + (size_t)fm->n_verts * 3 * sizeof(float) * 48;
}

/* Canonical level-1 vertices: S0 = shape(coeffs) plus, when deform is given, the deformation map
 * sampled at the vertices with HRN's half-texel quirk. out (N,3). t: scratch (reset here; one
 * tape of tape_bytes serves every stage of a sample, so its pages are touched once). */
static enum hrn_status canonical_verts(const struct hrn_synth_ctx *x, struct hrn_tape *t,
                                       const float *coeffs, const float *deform, float *out) {
    const struct hrn_face_model *fm = x->fm;
    enum hrn_status st = HRN_OK;
    hrn_tape_reset(t);
    struct hrn_tensor *c =
        hrn_tape_wrap(t, (float *)coeffs, 1, (int64_t[]){hrn_face_model_n_coeffs(fm)}, "coeffs");
    struct hrn_tensor *S = hrn_face_shape_op(t, fm, c);
    if (deform) {
        struct hrn_tensor *D =
            hrn_tape_wrap(t, (float *)deform, 3, (int64_t[]){3, SYNTH_DEF, SYNTH_DEF}, "deform");
        S = hrn_add(t, S, hrn_uv_to_vertex(t, &x->sampler, D));
    }
    if (!S)
        st = hrn_error_prefix(HRN_ERR_INVALID, "synthetic samples: model %s: ", fm->name);
    else
        memcpy(out, S->data, (size_t)(3 * fm->n_verts) * sizeof(float));
    return st;
}

/* What one render gives: the image (3,224,224), the coverage (224*224) and the projected
 * landmarks (68*2, y-up crop pixels; NaN where the model has none). */
struct synth_view {
    float *img, *cover, *lm;
};

/* HRN's forward pass for canonical vertices verts (N,3) posed by coeffs: UV-space shading
 * SH(N) * albedo_uv (N the world2uv of the posed vertex normals, or with disp the detail normals
 * of hrn_detail_normals), rendered on the mesh through render_uv_texture, composited over bg
 * (3,224,224; NULL = black), silhouette-antialiased against it and clipped to [0,1]. */
static enum hrn_status render(const struct hrn_synth_ctx *x, struct hrn_tape *t,
                              const float *coeffs, const float *verts, const float *disp,
                              const float *albedo_uv, const float *bg, struct synth_view *out) {
    const struct hrn_face_model *fm = x->fm;
    const int64_t R = SYNTH_UV, H = SYNTH_IMG, N = fm->n_verts;
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    enum hrn_status st = HRN_OK;
    hrn_tape_reset(t);
    struct hrn_tensor *c = hrn_tape_wrap(t, (float *)coeffs, 1, (int64_t[]){l.total}, "coeffs");
    struct hrn_tensor *S = hrn_tape_wrap(t, (float *)verts, 2, (int64_t[]){N, 3}, "verts");
    struct hrn_tensor *V = hrn_rigid_op(t, S, c, l.angle, l.trans);
    struct hrn_tensor *uvz = hrn_project_op(t, &x->cam, V);
    struct hrn_tensor *nrm =
        hrn_world2uv(t, &x->uv, hrn_normals_op(t, &x->topo, V, HRN_NORMALS_HRN));
    if (disp) {
        struct hrn_tensor *pv = hrn_world2uv(t, &x->uv, V);
        struct hrn_tensor *d = hrn_tape_wrap(t, (float *)disp, 3, (int64_t[]){1, R, R}, "disp");
        nrm = hrn_detail_normals(t, &x->grid, pv, nrm, d);
    }
    struct hrn_tensor *A = hrn_tape_wrap(t, (float *)albedo_uv, 3, (int64_t[]){3, R, R}, "albedo");
    struct hrn_tensor *col = hrn_sh_op(t, nrm, A, c, l.gamma);
    struct hrn_tensor *rast = NULL;
    struct hrn_tensor *img = hrn_render_uv_texture(t, fm, &x->cam, uvz, x->st, col, &rast);
    if (img && rast) {
        for (int64_t p = 0; p < H * H; p++) {
            int covered = rast->data[4 * p + 3] > 0;
            out->cover[p] = covered ? 1.0f : 0.0f;
            if (bg && !covered)
                for (int ch = 0; ch < 3; ch++)
                    img->data[ch * H * H + p] = bg[ch * H * H + p];
        }
        img = hrn_antialias_op(t, img, rast, uvz, &x->topo);
    }
    if (!img)
        return hrn_error_prefix(HRN_ERR_INVALID,
                                "synthetic samples: rendering model %s: ", fm->name);
    for (int64_t i = 0; i < 3 * H * H; i++) /* a camera clips what is brighter than white */
        out->img[i] = synth_fminf(1.0f, synth_fmaxf(0.0f, img->data[i]));
    if (out->lm)
        for (int i = 0; i < 68; i++) {
            int32_t v = fm->lmk68[i];
            out->lm[2 * i] = v >= 0 ? uvz->data[3 * v] : NAN;
            out->lm[2 * i + 1] = v >= 0 ? uvz->data[3 * v + 1] : NAN;
        }
    return st;
}

/* --- the sample ------------------------------------------------------------------------------ */

/* The 68 landmarks of canonical vertices verts posed by coeffs, plain float (for painting what
 * the holes show before the render; the sample's own landmarks come from the render's op) */
static void project_landmarks(const struct hrn_synth_ctx *x, const float *coeffs,
                              const float *verts, float *lm) {
    struct hrn_coeff_layout l = hrn_face_model_layout(x->fm);
    float R[9];
    hrn_euler_to_rot(coeffs + l.angle, R);
    for (int i = 0; i < 68; i++) {
        int32_t v = x->fm->lmk68[i];
        float p[3], uvz[3];
        lm[2 * i] = lm[2 * i + 1] = NAN;
        if (v < 0) continue;
        hrn_transform_points(R, coeffs + l.trans, verts + 3 * v, p, 1);
        hrn_project(&x->cam, p, 1, uvz);
        lm[2 * i] = uvz[0], lm[2 * i + 1] = uvz[1];
    }
}

/* The clean UV albedo (3,256,256): the model's albedo (mean + basis * tex) unwrapped and clamped
 * to [0,1], or a drawn skin tone for models without one. */
static enum hrn_status clean_albedo(const struct hrn_synth_ctx *x, struct hrn_tape *t,
                                    const struct hrn_synth_data_config *c, int64_t index,
                                    const float *coeffs, float *albedo) {
    const struct hrn_face_model *fm = x->fm;
    if (!fm->mean_albedo) return synth_draw_albedo(x, c, index, albedo);
    enum hrn_status st = HRN_OK;
    hrn_tape_reset(t);
    struct hrn_tensor *cv =
        hrn_tape_wrap(t, (float *)coeffs, 1, (int64_t[]){hrn_face_model_n_coeffs(fm)}, "coeffs");
    struct hrn_tensor *A = hrn_world2uv(t, &x->uv, hrn_face_albedo_op(t, fm, cv));
    if (!A) {
        st = hrn_error_prefix(HRN_ERR_INVALID, "synthetic samples: albedo of model %s: ", fm->name);
    } else {
        for (int64_t i = 0; i < 3 * SYNTH_UV * SYNTH_UV; i++)
            albedo[i] = synth_fminf(1.0f, synth_fmaxf(0.0f, A->data[i]));
    }
    return st;
}

static enum hrn_status alloc_gt(struct hrn_sample_gt *gt, const struct hrn_face_model *fm,
                                int levels) {
    const size_t U = (size_t)SYNTH_UV * SYNTH_UV;
    gt->n_coeffs = hrn_face_model_n_coeffs(fm);
    gt->n_verts = fm->n_verts;
    gt->coeffs = calloc((size_t)gt->n_coeffs, sizeof(float));
    gt->verts = malloc((size_t)(3 * fm->n_verts) * sizeof(float));
    gt->albedo = malloc(3 * U * sizeof(float));
    gt->albedo_detail = malloc(3 * U * sizeof(float));
    gt->skin = malloc(U * sizeof(float));
    if (levels >= 1) gt->deform = calloc((size_t)3 * SYNTH_DEF * SYNTH_DEF, sizeof(float));
    if (levels >= 2) gt->disp = calloc(U, sizeof(float));
    if (!gt->coeffs || !gt->verts || !gt->albedo || !gt->albedo_detail || !gt->skin ||
        (levels >= 1 && !gt->deform) || (levels >= 2 && !gt->disp))
        return hrn_error_set(HRN_ERR_NOMEM, "synthetic samples: no memory for the ground truth");
    return HRN_OK;
}

static enum hrn_status check_config(const struct hrn_face_model *fm,
                                    const struct hrn_synth_data_config *c, int64_t index) {
    if (!fm || !c) return hrn_error_set(HRN_ERR_INVALID, "synthetic samples: no model or config");
    if (index < 0 || (c->count > 0 && index >= c->count))
        return hrn_error_set(HRN_ERR_INVALID,
                             "synthetic samples: index %lld outside the dataset's "
                             "%lld samples",
                             (long long)index, (long long)c->count);
    if (c->levels < 0 || c->levels > 2)
        return hrn_error_set(HRN_ERR_INVALID, "synthetic samples: levels %d, expected 0, 1 or 2",
                             c->levels);
    return HRN_OK;
}

enum hrn_status synth_make_sample(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  struct hrn_sample *s) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = x->fm;
    const int64_t H = SYNTH_IMG;
    struct hrn_sample_gt *gt = &s->gt;
    struct hrn_tape t = {0};
    float *bg = NULL;
    s->index = index;
    snprintf(s->name, sizeof s->name, "synth_%llu_%06lld", (unsigned long long)c->seed,
             (long long)index);
    HRN_TRY(alloc_gt(gt, fm, c->levels));
    HRN_TRY(hrn_image_init(&s->img, (int)H, (int)H, 3));
    HRN_TRY(hrn_tape_init(&t, tape_bytes(fm)));
    s->mask = malloc((size_t)(H * H) * sizeof(float));
    if (c->background) bg = malloc((size_t)(3 * H * H) * sizeof(float));
    if (!s->mask || (c->background && !bg)) {
        st = hrn_error_set(HRN_ERR_NOMEM, "synthetic samples: no memory");
        goto fail;
    }
    synth_draw_coeffs(x, c, index, gt->coeffs);
    if (gt->deform) synth_draw_deform(x, c, index, gt->deform);
    if (gt->disp) HRN_TRY(synth_draw_disp(x, c, index, gt->disp));
    memcpy(gt->skin, x->skin, (size_t)SYNTH_UV * SYNTH_UV * sizeof(float));
    HRN_TRY(clean_albedo(x, &t, c, index, gt->coeffs, gt->albedo));
    HRN_TRY(synth_draw_detail(x, c, index, gt->albedo, gt->albedo_detail));
    HRN_TRY(canonical_verts(x, &t, gt->coeffs, gt->deform, gt->verts));
    if (bg) {
        synth_draw_background(c->seed, index, bg);
        float lm[68 * 2];
        project_landmarks(x, gt->coeffs, gt->verts, lm);
        synth_draw_interior(c->seed, index, lm, bg);
    }
    struct synth_view v = {s->img.data, s->mask, s->lm};
    HRN_TRY(render(x, &t, gt->coeffs, gt->verts, gt->disp, gt->albedo_detail, bg, &v));
    synth_draw_occluder(c, index, s->lm, s->img.data, s->mask);
    HRN_TRY(synth_degrade(c, index, &s->img));
    s->aug_affine[0] = 1, s->aug_affine[4] = 1; /* not augmented */
fail:
    hrn_tape_free(&t);
    free(bg);
    return st;
}

/* --- the public entry points ---------------------------------------------------------------- */

enum hrn_status hrn_synth_ctx_new(struct hrn_synth_ctx **out, const struct hrn_face_model *fm) {
    *out = NULL;
    if (!fm) return hrn_error_set(HRN_ERR_INVALID, "synthetic samples: no face model");
    /* the ops make the compact bases lazily: make them now, so that nothing is written later */
    enum hrn_status st = hrn_face_model_compact(fm);
    if (st != HRN_OK) return hrn_error_prefix(st, "synthetic samples: ");
    struct hrn_synth_ctx *x = malloc(sizeof *x);
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "synthetic samples: no memory for the context");
    st = synth_ctx_init(x, fm);
    if (st != HRN_OK) {
        free(x);
        return st;
    }
    *out = x;
    return HRN_OK;
}

void hrn_synth_ctx_free(struct hrn_synth_ctx *x) {
    if (!x) return;
    synth_ctx_free(x);
    free(x);
}

const struct hrn_face_model *hrn_synth_ctx_model(const struct hrn_synth_ctx *x) {
    return x ? x->fm : NULL;
}

enum hrn_status hrn_synth_sample_ctx(const struct hrn_synth_ctx *x,
                                     const struct hrn_synth_data_config *c, int64_t index,
                                     struct hrn_sample *out) {
    memset(out, 0, sizeof *out);
    if (!x) return hrn_error_set(HRN_ERR_INVALID, "synthetic samples: no context");
    SYNTH_TRY(check_config(x->fm, c, index));
    enum hrn_status st = synth_make_sample(x, c, index, out);
    if (st != HRN_OK) {
        hrn_sample_free(out);
        return hrn_error_prefix(st, "synthetic sample %lld: ", (long long)index);
    }
    return HRN_OK;
}

enum hrn_status hrn_synth_sample(const struct hrn_face_model *fm,
                                 const struct hrn_synth_data_config *c, int64_t index,
                                 struct hrn_sample *out) {
    struct hrn_synth_ctx x;
    memset(out, 0, sizeof *out);
    SYNTH_TRY(check_config(fm, c, index));
    SYNTH_TRY(synth_ctx_init(&x, fm));
    enum hrn_status st = hrn_synth_sample_ctx(&x, c, index, out);
    synth_ctx_free(&x);
    return st;
}

enum hrn_status hrn_synth_render_gt_ctx(const struct hrn_synth_ctx *x,
                                        const struct hrn_synth_data_config *c,
                                        const struct hrn_sample_gt *gt, struct hrn_image *img,
                                        float **cover) {
    enum hrn_status st = HRN_OK;
    float *cov = NULL, *verts = NULL;
    struct hrn_tape t = {0};
    memset(img, 0, sizeof *img);
    if (cover) *cover = NULL;
    if (!x) return hrn_error_set(HRN_ERR_INVALID, "synthetic ground truth: no context");
    const struct hrn_face_model *fm = x->fm;
    SYNTH_TRY(check_config(fm, c, 0));
    if (!gt || !gt->coeffs || gt->n_coeffs != hrn_face_model_n_coeffs(fm) ||
        (!gt->albedo_detail && !gt->albedo) || (gt->verts && gt->n_verts != fm->n_verts))
        return hrn_error_set(HRN_ERR_INVALID,
                             "synthetic ground truth: needs coeffs (%lld for "
                             "model %s) and an albedo",
                             (long long)hrn_face_model_n_coeffs(fm), fm->name);
    HRN_TRY(hrn_image_init(img, SYNTH_IMG, SYNTH_IMG, 3));
    HRN_TRY(hrn_tape_init(&t, tape_bytes(fm)));
    cov = malloc((size_t)SYNTH_IMG * SYNTH_IMG * sizeof(float));
    if (!cov) {
        st = hrn_error_set(HRN_ERR_NOMEM, "synthetic ground truth: no memory");
        goto fail;
    }
    const float *V = gt->verts;
    if (!V) {
        verts = malloc((size_t)(3 * fm->n_verts) * sizeof(float));
        if (!verts) {
            st = hrn_error_set(HRN_ERR_NOMEM, "synthetic ground truth: no memory");
            goto fail;
        }
        HRN_TRY(canonical_verts(x, &t, gt->coeffs, c->levels >= 1 ? gt->deform : NULL, verts));
        V = verts;
    }
    struct synth_view v = {img->data, cov, NULL};
    HRN_TRY(render(x, &t, gt->coeffs, V, c->levels >= 2 ? gt->disp : NULL,
                   gt->albedo_detail ? gt->albedo_detail : gt->albedo, NULL, &v));
    if (cover) *cover = cov, cov = NULL;
fail:
    hrn_tape_free(&t);
    free(cov);
    free(verts);
    if (st != HRN_OK) hrn_image_free(img);
    return st;
}

enum hrn_status hrn_synth_render_gt(const struct hrn_face_model *fm,
                                    const struct hrn_synth_data_config *c,
                                    const struct hrn_sample_gt *gt, struct hrn_image *img,
                                    float **cover) {
    struct hrn_synth_ctx x;
    memset(img, 0, sizeof *img);
    if (cover) *cover = NULL;
    SYNTH_TRY(check_config(fm, c, 0));
    SYNTH_TRY(synth_ctx_init(&x, fm));
    enum hrn_status st = hrn_synth_render_gt_ctx(&x, c, gt, img, cover);
    synth_ctx_free(&x);
    return st;
}
