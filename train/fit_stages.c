/* fit_stages.c: the parameters of a fit, the forward pass of each level on the tape, the losses of
 * each stage, and the Adam loop with its NaN/Inf guard (hrn_method.md 2, 4, 6). */
#include "hrn_train.h"
#include "fit_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *hrn_fit_stage_name(enum hrn_fit_stage s) {
    static const char *const names[HRN_FIT_N_STAGES] = {"lm", "coeff", "mid", "high", "tex"};
    return (unsigned)s < HRN_FIT_N_STAGES ? names[s] : "?";
}

static const char *const GROUP_NAMES[HRN_FIT_N_GROUPS] = {"id",     "exp",    "tex",  "light",
                                                          "pose",   "deform", "disp", "albedo"};

void hrn_fit_free(struct hrn_fit *f) {
    if (!f) return;
    hrn_topo_free(&f->topo);
    hrn_topo_free(&f->grid);
    hrn_csr_free(&f->deform_sampler);
    hrn_csr_free(&f->albedo_sampler);
    hrn_csr_free(&f->lmk_op[0]);
    hrn_csr_free(&f->lmk_op[1]);
    hrn_csr_free(&f->lmk_rows_op[0]);
    hrn_csr_free(&f->lmk_rows_op[1]);
    hrn_uv_map_free(&f->uv_hi);
    free(f->st);
    free(f->contour_lr);
    hrn_params_free(&f->ps);
    free(f->p_exp);
    free(f->p_light);
    free(f->p_pose);
    free(f->p_disp);
    hrn_tape_free(&f->tape);
    free(f->safe);
    free(f->valid);
    free(f->valid_lo);
    free(f->albedo_uv);
    free(f->tex_refined);
    memset(f, 0, sizeof *f);
}

/* The landmark operators: 68 rows picking the model's iBUG vertices, 5 rows averaging the eye
 * corners as Deep3D's extract_5p. A point the model lacks is an empty row. */
static enum hrn_status init_lmk_ops(struct hrn_fit *f) {
    const struct hrn_face_model *fm = f->fm;
    int32_t row[68 * 2], col[68 * 2];
    float val[68 * 2];
    int64_t nnz = 0;
    for (int i = 0; i < 68; i++)
        if (fm->lmk68[i] >= 0) {
            row[nnz] = i;
            col[nnz] = fm->lmk68[i];
            val[nnz++] = 1.0f;
        }
    enum hrn_status st = hrn_csr_from_coo(&f->lmk_op[0], 68, fm->n_verts, nnz, row, col, val);
    if (st != HRN_OK) return st;
    static const int P5[5][2] = {{36, 39}, {42, 45}, {30, -1}, {48, -1}, {54, -1}};
    nnz = 0;
    for (int i = 0; i < 5; i++) {
        int n = P5[i][1] < 0 ? 1 : 2, ok = 1;
        for (int j = 0; j < n; j++) ok &= fm->lmk68[P5[i][j]] >= 0;
        if (!ok) continue;
        for (int j = 0; j < n; j++) {
            row[nnz] = i;
            col[nnz] = fm->lmk68[P5[i][j]];
            val[nnz++] = 1.0f / (float)n;
        }
    }
    st = hrn_csr_from_coo(&f->lmk_op[1], 5, fm->n_verts, nnz, row, col, val);
    if (st != HRN_OK) return st;
    /* the same operators over only the vertices they use (the landmark stage computes the shape
     * at those rows alone: hrn_face_shape_rows_op) */
    f->n_lmk_verts = 0;
    for (int o = 0; o < 2; o++) {
        const struct hrn_csr *A = &f->lmk_op[o];
        for (int64_t j = 0; j < A->rowptr[A->rows]; j++) {
            int v = A->col[j], seen = 0;
            for (int i = 0; i < f->n_lmk_verts && !seen; i++) seen = f->lmk_verts[i] == v;
            if (!seen) f->lmk_verts[f->n_lmk_verts++] = v;
        }
    }
    for (int o = 0; o < 2 && st == HRN_OK; o++) {
        const struct hrn_csr *A = &f->lmk_op[o];
        int64_t n = 0;
        for (int64_t r = 0; r < A->rows; r++)
            for (int64_t j = A->rowptr[r]; j < A->rowptr[r + 1]; j++) {
                int c = 0;
                while (f->lmk_verts[c] != A->col[j]) c++;
                row[n] = (int32_t)r;
                col[n] = c;
                val[n++] = A->val[j];
            }
        st = hrn_csr_from_coo(&f->lmk_rows_op[o], A->rows, f->n_lmk_verts, n, row, col, val);
    }
    return st;
}

enum hrn_status hrn_fit_init(struct hrn_fit *f, const struct hrn_face_model *fm,
                             const struct hrn_fit_config *cfg, struct hrn_fit_view *views,
                             int n_views) {
    enum hrn_status st = HRN_OK;
    memset(f, 0, sizeof *f);
    hrn_params_init(&f->ps);
    if (n_views < 1 || n_views > 64)
        return hrn_error_set(HRN_ERR_INVALID, "fit: %d views, expected 1..64", n_views);
    if (fm->n_id < 1 || !fm->id_basis)
        return hrn_error_set(HRN_ERR_INVALID, "fit: face model %s has no identity basis",
                             fm->name);
    if (!fm->uvs)
        return hrn_error_set(HRN_ERR_INVALID, "fit: face model %s has no uvs (needed by the UV "
                             "maps)", fm->name);
    f->fm = fm;
    f->cfg = *cfg;
    f->views = views;
    f->n_views = n_views;
    f->cam = hrn_camera_default();
    for (int k = 0; k < n_views; k++) {
        if (views[k].img.data && (views[k].img.w != 224 || views[k].img.h != 224 ||
                                  views[k].img.c != 3))
            return hrn_error_set(HRN_ERR_INVALID, "fit: view %d (%s) is %dx%dx%d, expected "
                                 "3x224x224", k, views[k].name, views[k].img.c, views[k].img.h,
                                 views[k].img.w);
        if (views[k].n_lm != 68 && views[k].n_lm != 5 && views[k].n_lm != 0)
            return hrn_error_set(HRN_ERR_INVALID, "fit: view %d has %d landmarks, expected 68 "
                                 "or 5", k, views[k].n_lm);
    }
    HRN_TRY(hrn_topo_init(&f->topo, fm->tris, fm->n_tris, fm->n_verts));
    HRN_TRY(hrn_uv_sampler_init(&f->deform_sampler, fm, cfg->deform_res));
    if (!fm->mean_albedo) HRN_TRY(hrn_uv_sampler_init(&f->albedo_sampler, fm, cfg->albedo_res));
    HRN_TRY(hrn_uv_map_init(&f->uv_hi, fm, cfg->disp_res));
    HRN_TRY(hrn_uv_grid_init(&f->grid, cfg->disp_res));
    HRN_TRY(init_lmk_ops(f));
    f->st = hrn_uv_tex_coords(fm);
    if (!f->st) {
        st = HRN_ERR_NOMEM;
        goto fail;
    }
    f->contour_lr = calloc((size_t)n_views * 2 * 224, sizeof(float));
    f->p_exp = malloc((size_t)n_views * sizeof(int));
    f->p_light = malloc((size_t)n_views * sizeof(int));
    f->p_pose = malloc((size_t)n_views * sizeof(int));
    f->p_disp = malloc((size_t)n_views * sizeof(int));
    if (!f->contour_lr || !f->p_exp || !f->p_light || !f->p_pose || !f->p_disp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "fit: no memory");
        goto fail;
    }
    for (int k = 0; k < n_views; k++)
        if (views[k].mask)
            hrn_contour_targets(views[k].mask, 1, 224, f->contour_lr + k * 448,
                                f->contour_lr + k * 448 + 224);

    /* parameters: shared identity, albedo and deformation map; per view the rest */
    struct hrn_params *ps = &f->ps;
    int64_t rd = cfg->deform_res, ra = cfg->albedo_res, rh = cfg->disp_res;
    f->p_tex = f->p_albedo = -1;
    HRN_TRY(hrn_params_add(ps, "id", 1, (int64_t[]){fm->n_id}, HRN_FIT_G_ID, &f->p_id));
    if (fm->n_tex > 0 && fm->mean_albedo)
        HRN_TRY(hrn_params_add(ps, "tex", 1, (int64_t[]){fm->n_tex}, HRN_FIT_G_TEX, &f->p_tex));
    if (!fm->mean_albedo)
        HRN_TRY(hrn_params_add(ps, "albedo_map", 3, (int64_t[]){3, ra, ra}, HRN_FIT_G_ALBEDO,
                               &f->p_albedo));
    HRN_TRY(hrn_params_add(ps, "deform", 3, (int64_t[]){3, rd, rd}, HRN_FIT_G_DEFORM,
                           &f->p_deform));
    for (int k = 0; k < n_views; k++) {
        char name[64];
        f->p_exp[k] = -1;
        if (fm->n_exp > 0) {
            snprintf(name, sizeof name, "view%d/exp", k);
            HRN_TRY(hrn_params_add(ps, name, 1, (int64_t[]){fm->n_exp}, HRN_FIT_G_EXP,
                                   &f->p_exp[k]));
        }
        snprintf(name, sizeof name, "view%d/gamma", k);
        HRN_TRY(hrn_params_add(ps, name, 1, (int64_t[]){HRN_N_GAMMA}, HRN_FIT_G_LIGHT,
                               &f->p_light[k]));
        snprintf(name, sizeof name, "view%d/pose", k); /* angle x,y,z then translation */
        HRN_TRY(hrn_params_add(ps, name, 1, (int64_t[]){6}, HRN_FIT_G_POSE, &f->p_pose[k]));
        snprintf(name, sizeof name, "view%d/disp", k);
        HRN_TRY(hrn_params_add(ps, name, 3, (int64_t[]){1, rh, rh}, HRN_FIT_G_DISP,
                               &f->p_disp[k]));
    }
    HRN_TRY(hrn_params_alloc(ps));
    if (f->p_albedo >= 0) {
        struct hrn_tensor *a = hrn_params_tensor(ps, f->p_albedo);
        for (int64_t i = 0; i < a->numel; i++) a->data[i] = cfg->albedo_init;
    }
    f->safe = malloc(ps->n * sizeof(float));
    if (!f->safe) {
        st = hrn_error_set(HRN_ERR_NOMEM, "fit: no memory");
        goto fail;
    }
    memcpy(f->safe, ps->values, ps->n * sizeof(float));
    size_t per_view = (size_t)(fm->n_verts * 3 * 4 * 40) + (size_t)(rh * rh * 4 * 3 * 60) +
                      (size_t)224 * 224 * 4 * 60;
    HRN_TRY(hrn_tape_init(&f->tape, ((size_t)32 << 20) + (size_t)n_views * per_view));
    return HRN_OK;
fail:
    hrn_fit_free(f);
    return st;
}

/* --- the forward pass ------------------------------------------------------------------------ */

/* The full coefficient vector of view k as a tape tensor: id | exp | tex | angle | gamma | trans. */
static struct hrn_tensor *coeff_vector(struct hrn_fit *f, int k) {
    struct hrn_tape *t = &f->tape;
    const struct hrn_face_model *fm = f->fm;
    if (f->coeffs_in && f->coeffs_in[k]) return f->coeffs_in[k];
    if (f->coeffs_fixed) {
        int64_t nc = hrn_face_model_n_coeffs(fm);
        return hrn_tape_wrap(t, (float *)f->coeffs_fixed + nc * k, 1, (int64_t[]){nc}, "coeffs");
    }
    struct hrn_tensor *pose = hrn_params_tensor(&f->ps, f->p_pose[k]);
    struct hrn_tensor *tail[3] = {hrn_slice(t, pose, 0, 0, 3),
                                  hrn_params_tensor(&f->ps, f->p_light[k]),
                                  hrn_slice(t, pose, 0, 3, 3)};
    struct hrn_tensor *rest = hrn_concat(t, tail, 3, 0);
    struct hrn_tensor *parts[4];
    int n = 0;
    parts[n++] = hrn_params_tensor(&f->ps, f->p_id);
    if (f->p_exp[k] >= 0) parts[n++] = hrn_params_tensor(&f->ps, f->p_exp[k]);
    if (fm->n_tex > 0) {
        /* a model with tex coefficients but no albedo: zeros stand in (they change nothing) */
        if (f->p_tex >= 0) parts[n++] = hrn_params_tensor(&f->ps, f->p_tex);
        else parts[n++] = hrn_tape_tensor(t, 1, (int64_t[]){fm->n_tex}, "tex0");
    }
    parts[n++] = rest;
    return hrn_concat(t, parts, n, 0);
}

struct hrn_tensor *fit_deform_map(struct hrn_fit *f, int k) {
    int64_t R = f->cfg.deform_res;
    struct hrn_tensor *d = f->deform_in && f->deform_in[k] ? f->deform_in[k]
                           : f->deform_fixed
                               ? hrn_tape_wrap(&f->tape, (float *)f->deform_fixed + 3 * R * R * k,
                                               3, (int64_t[]){3, R, R}, "deform")
                               : hrn_params_tensor(&f->ps, f->p_deform);
    if (!f->valid_lo) return d;
    return hrn_mask_mul(&f->tape, d, hrn_tape_wrap(&f->tape, f->valid_lo + R * R * k, 3,
                                                   (int64_t[]){1, R, R}, "valid_lo"));
}

struct hrn_tensor *fit_disp_map(struct hrn_fit *f, int k) {
    int64_t R = f->cfg.disp_res;
    struct hrn_tensor *d = f->disp_in && f->disp_in[k] ? f->disp_in[k]
                           : f->disp_fixed
                               ? hrn_tape_wrap(&f->tape, (float *)f->disp_fixed + R * R * k, 3,
                                               (int64_t[]){1, R, R}, "disp")
                               : hrn_params_tensor(&f->ps, f->p_disp[k]);
    if (!f->valid) return d;
    return hrn_mask_mul(&f->tape, d, hrn_tape_wrap(&f->tape, f->valid + R * R * k, 3,
                                                   (int64_t[]){1, R, R}, "valid"));
}

void fit_forward(struct hrn_fit *f, int k, int level, int render, struct fit_fwd *o) {
    struct hrn_tape *t = &f->tape;
    const struct hrn_face_model *fm = f->fm;
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    memset(o, 0, sizeof *o);
    o->c = coeff_vector(f, k);
    int n_lm = f->views[k].n_lm == 5 ? 5 : 68;
    if (render < 0) {
        /* landmarks only: the shape at the landmark vertices, posed and projected */
        struct hrn_tensor *sr = hrn_face_shape_rows_op(t, fm, o->c, f->lmk_verts, f->n_lmk_verts);
        struct hrn_tensor *ur = hrn_project_op(t, &f->cam, hrn_rigid_op(t, sr, o->c, l.angle, l.trans));
        struct hrn_tensor *lr = hrn_spmm(t, &f->lmk_rows_op[n_lm == 5], ur);
        o->lm = hrn_reshape(t, hrn_slice(t, lr, 1, 0, 2), 3, (int64_t[]){1, n_lm, 2});
        return;
    }
    o->S = hrn_face_shape_op(t, fm, o->c);
    if (level >= 1) o->S = hrn_add(t, o->S, hrn_uv_to_vertex(t, &f->deform_sampler,
                                                            fit_deform_map(f, k)));
    o->V = hrn_rigid_op(t, o->S, o->c, l.angle, l.trans);
    o->uvz = hrn_project_op(t, &f->cam, o->V);
    struct hrn_tensor *lm3 = hrn_spmm(t, &f->lmk_op[n_lm == 5], o->uvz);  /* (n_lm,3) */
    o->lm = hrn_reshape(t, hrn_slice(t, lm3, 1, 0, 2), 3, (int64_t[]){1, n_lm, 2});
    if (!render) return;
    o->nrm = hrn_normals_op(t, &f->topo, o->V, HRN_NORMALS_HRN);
    /* the de-retouched UV albedo A' (from a checkpoint's UNet) replaces A0 from level 1 on */
    int64_t R = f->uv_hi.res;
    struct hrn_tensor *auv = NULL;
    if (level >= 1 && f->albedo_uv)
        auv = hrn_tape_wrap(t, f->albedo_uv + 3 * R * R * k, 3, (int64_t[]){3, R, R}, "albedo_uv");
    else if (fm->mean_albedo)
        o->A = hrn_face_albedo_op(t, fm, o->c);
    else
        o->A = hrn_uv_to_vertex(t, &f->albedo_sampler, hrn_params_tensor(&f->ps, f->p_albedo));
    if (level < 2 && !auv) {
        o->col = hrn_sh_op(t, o->nrm, o->A, o->c, l.gamma);
        o->rast = hrn_rasterize_op(t, &f->cam, o->uvz, fm->tris, fm->n_tris);
        o->img = hrn_interpolate_op(t, o->col, o->rast, fm->tris);
    } else {
        /* HRN's C1 (with A') and C2: UV-space shading, rendered on the M1 mesh; at the high level
         * with the detail normals of the displacement map */
        struct hrn_tensor *nrm = hrn_world2uv(t, &f->uv_hi, o->nrm);
        if (level == 2) {
            struct hrn_tensor *pv = hrn_world2uv(t, &f->uv_hi, o->V);
            nrm = hrn_detail_normals(t, &f->grid, pv, nrm, fit_disp_map(f, k));
        }
        if (!auv) auv = hrn_world2uv(t, &f->uv_hi, o->A);
        o->col = hrn_sh_op(t, nrm, auv, o->c, l.gamma);
        o->img = hrn_render_uv_texture(t, fm, &f->cam, o->uvz, f->st, o->col, &o->rast);
    }
}

/* --- losses of one view ---------------------------------------------------------------------- */

/* The photometric term of view k's render o: covered pixels, times the face region when there is
 * one and cfg.photo_face_mask is on (HRN's multi-view fitting uses the coverage alone). */
static struct hrn_tensor *photo_term(struct hrn_fit *f, int k, const struct fit_fwd *o) {
    struct hrn_tape *t = &f->tape;
    const struct hrn_fit_view *v = &f->views[k];
    const float *face = f->cfg.photo_face_mask ? v->mask : NULL;
    struct hrn_tensor *mask = hrn_tape_tensor(t, 4, (int64_t[]){1, 1, 224, 224}, "photo_mask");
    if (mask && o->rast) {
        mask->flags |= HRN_TENSOR_NO_GRAD_INPUT;
        for (int64_t p = 0; p < 224 * 224; p++) {
            float cov = o->rast->data[4 * p + 3] > 0 ? 1.0f : 0.0f;
            mask->data[p] = face ? cov * face[p] : cov;
        }
    }
    struct hrn_tensor *target =
        hrn_tape_wrap(t, v->img.data, 4, (int64_t[]){1, 3, 224, 224}, "target");
    struct hrn_tensor *img = hrn_reshape(t, o->img, 4, (int64_t[]){1, 3, 224, 224});
    return hrn_loss_photo(t, img, target, mask);
}

static void add_view_losses(struct hrn_fit *f, int k, enum hrn_fit_stage s, struct hrn_loss_sum *ls,
                            const struct fit_fwd *o) {
    struct hrn_tape *t = &f->tape;
    const struct hrn_face_model *fm = f->fm;
    const struct hrn_fit_view *v = &f->views[k];
    int n_lm = v->n_lm == 5 ? 5 : 68;
    /* landmarks: targets NaN where unknown, rows the model lacks are invalid */
    if (v->n_lm > 0) {
        uint8_t *valid = hrn_tape_alloc(t, (size_t)n_lm);
        struct hrn_tensor *gt = hrn_tape_wrap(t, (float *)v->lm, 3, (int64_t[]){1, n_lm, 2}, "lm_gt");
        const struct hrn_csr *L = &f->lmk_op[n_lm == 5];
        if (valid)
            for (int i = 0; i < n_lm; i++)
                valid[i] = L->rowptr[i + 1] > L->rowptr[i] && isfinite(v->lm[2 * i]) &&
                           isfinite(v->lm[2 * i + 1]);
        hrn_loss_sum_add(ls, HRN_LOSS_LM,
                         n_lm == 5 ? hrn_loss_landmark5(t, o->lm, gt, valid)
                                   : hrn_loss_landmark68(t, o->lm, gt, valid));
    }
    /* coefficient regularizer (per view, as HRN's per-view losses are summed), on the
     * coefficients as used (the parameters, or a client's such as a network's output) */
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    struct hrn_tensor *id = hrn_reshape(t, hrn_slice(t, o->c, 0, l.id, fm->n_id), 2,
                                        (int64_t[]){1, fm->n_id});
    struct hrn_tensor *ex = fm->n_exp > 0
        ? hrn_reshape(t, hrn_slice(t, o->c, 0, l.exp, fm->n_exp), 2, (int64_t[]){1, fm->n_exp})
        : NULL;
    struct hrn_tensor *tx = fm->n_tex > 0 && fm->mean_albedo
        ? hrn_reshape(t, hrn_slice(t, o->c, 0, l.tex, fm->n_tex), 2, (int64_t[]){1, fm->n_tex})
        : NULL;
    hrn_loss_sum_add(ls, HRN_LOSS_REG,
                     hrn_loss_coeff_reg(t, id, fit_exp_bounded(f) ? NULL : ex, tx, f->cfg.w.w_id,
                                        f->cfg.w.w_exp, f->cfg.w.w_tex));
    /* blendshape weights (ICT's ARKit set, eos's) mean nothing below 0 and are kept in [0,1]
     * (project_bounded); their prior is the sum of |w|, a constant pull to the neutral face that
     * leaves unused shapes at exactly 0, not a Gaussian around 0 */
    if (ex && fit_exp_bounded(f))
        hrn_loss_sum_add(ls, HRN_LOSS_REG, hrn_scale(t, hrn_sum_all(t, hrn_abs(t, ex)),
                                                     f->cfg.w_exp_bounded));
    if (s == HRN_FIT_LM) return;

    hrn_loss_sum_add(ls, HRN_LOSS_GAMMA,
                     hrn_loss_gamma(t, hrn_reshape(t, hrn_slice(t, o->c, 0, l.gamma, HRN_N_GAMMA),
                                                   2, (int64_t[]){1, HRN_N_GAMMA})));
    enum hrn_loss_term pt = s == HRN_FIT_COEFF ? HRN_LOSS_PHOTO
                            : s == HRN_FIT_MID ? HRN_LOSS_PHOTO_MID : HRN_LOSS_PHOTO_HIGH;
    hrn_loss_sum_add(ls, pt, photo_term(f, k, o));
    if (f->cfg.use_contour && v->mask) {
        int64_t N = fm->n_verts;
        struct hrn_tensor *vp =
            hrn_reshape(t, hrn_slice(t, o->uvz, 1, 0, 2), 3, (int64_t[]){1, N, 2});
        struct hrn_tensor *left =
            hrn_tape_wrap(t, f->contour_lr + k * 448, 2, (int64_t[]){1, 224}, "contour_l");
        struct hrn_tensor *right =
            hrn_tape_wrap(t, f->contour_lr + k * 448 + 224, 2, (int64_t[]){1, 224}, "contour_r");
        hrn_loss_sum_add(ls, HRN_LOSS_CONTOUR, hrn_loss_contour(t, vp, left, right, NULL));
    }
    /* the maps' regularizers act on the maps as used (times the valid mask), per view, as in
     * HRN's compute_losses_for_mvhrn */
    if (s >= HRN_FIT_MID) {
        int64_t R = f->cfg.deform_res;
        struct hrn_tensor *d = hrn_reshape(t, fit_deform_map(f, k), 4, (int64_t[]){1, 3, R, R});
        hrn_loss_sum_add(ls, HRN_LOSS_SMOOTH, hrn_loss_tv(t, d));
        hrn_loss_sum_add(ls, HRN_LOSS_SMOOTH_STD, hrn_loss_tv_std(t, d));
    }
    if (s == HRN_FIT_HIGH) {
        int64_t R = f->cfg.disp_res;
        struct hrn_tensor *d = hrn_reshape(t, fit_disp_map(f, k), 4, (int64_t[]){1, 1, R, R});
        hrn_loss_sum_add(ls, HRN_LOSS_DIS_REG, hrn_loss_abs_mean(t, d));
        hrn_loss_sum_add(ls, HRN_LOSS_DIS_SMOOTH, hrn_loss_tv(t, d));
        hrn_loss_sum_add(ls, HRN_LOSS_DIS_SMOOTH_STD, hrn_loss_tv_std(t, d));
    }
}

/* Every term of one iteration over all views; *albedo_tv receives the albedo map's TV (or NULL). */
struct hrn_tensor *fit_stage_loss(struct hrn_fit *f, enum hrn_fit_stage s, struct hrn_loss_sum *ls,
                                  double *albedo_tv) {
    struct hrn_tape *t = &f->tape;
    struct hrn_loss_weights w = f->cfg.w;
    if (s == HRN_FIT_LM) w.w_reg = f->cfg.w_lm_stage_reg;
    hrn_loss_sum_init(ls, t, &w);
    int level = s == HRN_FIT_MID ? 1 : s == HRN_FIT_HIGH ? 2 : 0;
    for (int k = 0; k < f->n_views; k++) {
        struct fit_fwd o;
        fit_forward(f, k, level, s == HRN_FIT_LM ? -1 : 1, &o);
        add_view_losses(f, k, s, ls, &o);
        if (s == HRN_FIT_HIGH && f->cfg.high_mid_photo) {
            /* HRN's multi-view loss also compares the mid render (C1 on M1) */
            struct fit_fwd o1;
            fit_forward(f, k, 1, 1, &o1);
            hrn_loss_sum_add(ls, HRN_LOSS_PHOTO_MID, photo_term(f, k, &o1));
        }
    }
    struct hrn_tensor *total = hrn_loss_sum_total(ls);
    *albedo_tv = NAN;
    if (f->p_albedo >= 0 && s != HRN_FIT_LM && total) {
        int64_t R = f->cfg.albedo_res;
        struct hrn_tensor *tv = hrn_loss_tv(t, hrn_reshape(t, hrn_params_tensor(&f->ps, f->p_albedo),
                                                            4, (int64_t[]){1, 3, R, R}));
        if (tv) *albedo_tv = (double)tv->data[0];
        if (f->cfg.w_albedo_smooth > 0)
            total = hrn_add(t, total, hrn_scale(t, tv, f->cfg.w_albedo_smooth));
    }
    return total;
}

/* --- the loop -------------------------------------------------------------------------------- */

void fit_tsv_header(FILE *f) {
    fprintf(f, "stage\titer\ttotal");
    for (int i = 0; i < HRN_LOSS_TERM_COUNT; i++) fprintf(f, "\t%s", hrn_loss_term_name(i));
    fprintf(f, "\talbedo_smooth\ttex_tv\tms\n");
}

void fit_tsv_row(FILE *f, enum hrn_fit_stage s, int64_t iter, const struct hrn_fit_term_log *l,
                 double ms) {
    fprintf(f, "%s\t%lld\t%.9g", hrn_fit_stage_name(s), (long long)iter, l->total);
    for (int i = 0; i < HRN_LOSS_TERM_COUNT; i++) {
        if (l->count[i]) fprintf(f, "\t%.9g", l->value[i]);
        else fprintf(f, "\tnan");
    }
    fprintf(f, "\t%.9g\t%.9g\t%.3f\n", l->albedo_smooth, l->tex_tv, ms);
}

static float group_lr(const struct hrn_fit *f, enum hrn_fit_stage s, int g) {
    const struct hrn_fit_config *c = &f->cfg;
    int coeff = g == HRN_FIT_G_ID || g == HRN_FIT_G_EXP || g == HRN_FIT_G_POSE;
    switch (s) {
    case HRN_FIT_LM: return coeff ? c->lr[g] : 0.0f;
    case HRN_FIT_COEFF: return g == HRN_FIT_G_DEFORM || g == HRN_FIT_G_DISP ? 0.0f : c->lr[g];
    case HRN_FIT_MID:
        if (g == HRN_FIT_G_DISP) return 0.0f;
        return coeff ? c->lr[g] * c->mid_coeff_scale : c->lr[g];
    case HRN_FIT_HIGH:
        if (g == HRN_FIT_G_DISP) return c->lr[g];
        return c->lr[g] * c->high_coeff_scale;
    default: return 0.0f;
    }
}

/* Bounded expression weights back into [0,1] after a step (projected Adam). */
static void project_bounded(struct hrn_fit *f) {
    if (!fit_exp_bounded(f)) return;
    for (int k = 0; k < f->n_views; k++) {
        if (f->p_exp[k] < 0) continue;
        struct hrn_tensor *x = hrn_params_tensor(&f->ps, f->p_exp[k]);
        for (int64_t i = 0; i < x->numel; i++) x->data[i] = fminf(1.0f, fmaxf(0.0f, x->data[i]));
    }
}

/* The driver's loss callback of a fit stage: every view's terms, for the log and the guard. */
struct stage_job {
    struct hrn_fit *f;
    enum hrn_fit_stage s;
    struct hrn_loss_sum ls;
    double albedo_tv;
};

static struct hrn_tensor *stage_job_loss(void *user, struct hrn_tape *t,
                                         struct hrn_driver_terms *tm) {
    struct stage_job *j = user;
    (void)t; /* the fit's own tape, which the driver was given */
    struct hrn_tensor *total = fit_stage_loss(j->f, j->s, &j->ls, &j->albedo_tv);
    for (int i = 0; i < HRN_LOSS_TERM_COUNT; i++)
        if (j->ls.count[i]) hrn_driver_terms_add(tm, hrn_loss_term_name(i), j->ls.value[i]);
    if (j->f->p_albedo >= 0 && j->s != HRN_FIT_LM)
        hrn_driver_terms_add(tm, "albedo_smooth", j->albedo_tv);
    return total;
}

/* Parameters a stage does not move are constants of its tapes: no backward through what only
 * they feed (with high_coeff_scale 0 the high stage skips the whole mesh's backward). Marks them
 * in frozen[] (restored by thaw) and says whether anything moves. */
static int freeze_still(struct hrn_fit *f, enum hrn_fit_stage s, uint8_t *frozen) {
    int moving = 0;
    for (int e = 0; e < f->ps.n_entries; e++) {
        struct hrn_tensor *x = &f->ps.entries[e].t;
        if (group_lr(f, s, f->ps.entries[e].group) == 0.0f && (x->flags & HRN_TENSOR_REQUIRES_GRAD)) {
            x->flags &= ~(uint32_t)HRN_TENSOR_REQUIRES_GRAD;
            frozen[e] = 1;
        }
        moving |= !frozen[e] && (x->flags & HRN_TENSOR_REQUIRES_GRAD);
    }
    return moving;
}

static void thaw(struct hrn_fit *f, const uint8_t *frozen) {
    for (int e = 0; e < f->ps.n_entries; e++)
        if (frozen[e]) f->ps.entries[e].t.flags |= HRN_TENSOR_REQUIRES_GRAD;
}

enum hrn_status hrn_fit_stage(struct hrn_fit *f, enum hrn_fit_stage s, FILE *tsv) {
    enum hrn_status st = HRN_OK;
    int iters = f->cfg.iters[s];
    if (iters <= 0) return HRN_OK;
    if (s == HRN_FIT_TEX) return fit_texture_stage(f, tsv);
    if (s >= HRN_FIT_MID && f->cfg.valid_mask && !f->valid) {
        st = hrn_fit_valid_masks(f);
        if (st != HRN_OK) return st;
    }
    struct hrn_driver drv = {.tape = &f->tape};
    struct hrn_progress prog;
    int prog_on = 0;
    uint8_t *frozen = calloc((size_t)f->ps.n_entries + 1, 1);
    if (!frozen) return hrn_error_set(HRN_ERR_NOMEM, "fit: no memory");
    int moving = freeze_still(f, s, frozen);
    /* constant rates: a cosine decay within the stage converged less far in the demo; each stage
     * starts with fresh moments */
    struct hrn_optim_config oc = {.kind = HRN_OPTIM_ADAM, .lr = 1e-3f};
    HRN_TRY(hrn_driver_add(&drv, "fit", &f->ps, &oc, f->cfg.clip_norm, NULL));
    for (int g = 0; g < HRN_FIT_N_GROUPS; g++)
        HRN_TRY(hrn_optim_set_group_lr(&drv.o[0].opt, g, group_lr(f, s, g)));
    hrn_driver_restart(&drv, 0);
    char label[32], ctx[128];
    snprintf(label, sizeof label, "fit %s", hrn_fit_stage_name(s));
    hrn_progress_begin(&prog, label, iters);
    prog_on = 1;
    double t0 = hrn_time_now();
    struct stage_job job = {.f = f, .s = s};
    for (int it = 0; it < iters; it++) {
        double ti = hrn_time_now();
        snprintf(ctx, sizeof ctx, "fit stage %s, iteration %d (overall %lld)",
                 hrn_fit_stage_name(s), it, (long long)f->iter);
        struct hrn_driver_result r;
        st = hrn_driver_step(&drv, 1u, stage_job_loss, &job, ctx, moving, &r);
        if (st != HRN_OK) goto fail;
        project_bounded(f);
        struct hrn_fit_term_log lg = {.total = r.total, .albedo_smooth = job.albedo_tv,
                                      .tex_tv = NAN};
        memcpy(lg.value, job.ls.value, sizeof lg.value);
        memcpy(lg.count, job.ls.count, sizeof lg.count);
        f->last = lg;
        if (tsv && (it % f->cfg.log_every == 0 || it == iters - 1))
            fit_tsv_row(tsv, s, f->iter, &lg, 1e3 * (hrn_time_now() - ti));
        f->iter++;
        hrn_progress_update(&prog, it + 1, "loss %.5g", lg.total);
    }
    f->ms_per_iter[s] = 1e3 * (hrn_time_now() - t0) / iters;
    f->stage_done[s] = 1;
fail:
    memcpy(f->safe, f->ps.values, f->ps.n * sizeof(float));
    thaw(f, frozen);
    free(frozen);
    hrn_driver_free(&drv);
    if (prog_on) hrn_progress_end(&prog);
    return st;
}

enum hrn_status hrn_fit_run(struct hrn_fit *f, const char *tsv_path) {
    enum hrn_status st = HRN_OK;
    struct hrn_tmpfile tf = {0};
    FILE *tsv = NULL;
    if (tsv_path) {
        HRN_TRY(hrn_tmpfile_open(&tf, tsv_path));
        tsv = tf.fp;
        fit_tsv_header(tsv);
    }
    for (int s = 0; s < HRN_FIT_N_STAGES; s++) {
        st = hrn_fit_stage(f, (enum hrn_fit_stage)s, tsv);
        if (st != HRN_OK) break;
        if (f->cfg.iters[s] > 0)
            hrn_log(HRN_LOG_INFO, "stage %-5s %5d iterations, %.2f ms each, loss %.6g",
                    hrn_fit_stage_name(s), f->cfg.iters[s], f->ms_per_iter[s], f->last.total);
    }
    if (st == HRN_OK) st = hrn_fit_check(f);
    /* the TSV is kept after a numeric stop too: it shows where the fit went wrong */
    if (tsv_path) {
        enum hrn_status st2 = hrn_tmpfile_close(&tf, 1);
        if (st == HRN_OK) st = st2;
    }
    return st;
fail:
    hrn_tmpfile_close(&tf, 0);
    return st;
}

/* --- results --------------------------------------------------------------------------------- */

void hrn_fit_coeffs(const struct hrn_fit *f, int k, float *c) {
    const struct hrn_face_model *fm = f->fm;
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    struct hrn_params *ps = (struct hrn_params *)&f->ps;
    memset(c, 0, (size_t)l.total * sizeof(float));
    memcpy(c + l.id, hrn_params_tensor(ps, f->p_id)->data, (size_t)fm->n_id * sizeof(float));
    if (f->p_exp[k] >= 0)
        memcpy(c + l.exp, hrn_params_tensor(ps, f->p_exp[k])->data,
               (size_t)fm->n_exp * sizeof(float));
    if (f->p_tex >= 0)
        memcpy(c + l.tex, hrn_params_tensor(ps, f->p_tex)->data, (size_t)fm->n_tex * sizeof(float));
    const float *pose = hrn_params_tensor(ps, f->p_pose[k])->data;
    memcpy(c + l.angle, pose, 3 * sizeof(float));
    memcpy(c + l.trans, pose + 3, 3 * sizeof(float));
    memcpy(c + l.gamma, hrn_params_tensor(ps, f->p_light[k])->data, HRN_N_GAMMA * sizeof(float));
}

static enum hrn_status copy_out(struct hrn_tensor *x, float *out, int64_t n, const char *what) {
    if (!x) return hrn_error_prefix(HRN_ERR_INVALID, "fit %s: ", what);
    HRN_ASSERT(x->numel == n);
    memcpy(out, x->data, (size_t)n * sizeof(float));
    return HRN_OK;
}

enum hrn_status hrn_fit_shape(struct hrn_fit *f, int k, int level, float *verts) {
    struct fit_fwd o;
    hrn_tape_reset(&f->tape);
    fit_forward(f, k, level, 0, &o);
    return copy_out(o.S, verts, 3 * f->fm->n_verts, "shape");
}

enum hrn_status hrn_fit_posed(struct hrn_fit *f, int k, int level, float *verts) {
    struct fit_fwd o;
    hrn_tape_reset(&f->tape);
    fit_forward(f, k, level, 0, &o);
    return copy_out(o.V, verts, 3 * f->fm->n_verts, "posed shape");
}

enum hrn_status hrn_fit_fused_shape(struct hrn_fit *f, float *verts) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts, nc = hrn_face_model_n_coeffs(fm);
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    float *c = calloc((size_t)nc, sizeof(float)), *ck = malloc((size_t)nc * sizeof(float));
    if (!c || !ck) {
        st = hrn_error_set(HRN_ERR_NOMEM, "fused shape: no memory");
        goto fail;
    }
    for (int k = 0; k < f->n_views; k++) {
        hrn_fit_coeffs(f, k, ck);
        for (int64_t i = 0; i < nc; i++) c[i] += ck[i] / (float)f->n_views;
    }
    if (f->cfg.fused_neutral)
        for (int i = 0; i < fm->n_exp; i++) c[l.exp + i] = 0.0f;
    hrn_face_shape(fm, c, verts);
    hrn_tape_reset(&f->tape);
    /* the shared D where any view's valid mask allows it */
    struct hrn_tensor *d = hrn_params_tensor(&f->ps, f->p_deform);
    if (f->valid_lo) {
        int64_t R = f->cfg.deform_res;
        struct hrn_tensor *vm = hrn_tape_tensor(&f->tape, 3, (int64_t[]){1, R, R}, "valid_any");
        if (vm)
            for (int64_t i = 0; i < R * R; i++) {
                float m = 0;
                for (int k = 0; k < f->n_views; k++) m = fmaxf(m, f->valid_lo[k * R * R + i]);
                vm->data[i] = m;
            }
        d = hrn_mask_mul(&f->tape, d, vm);
    }
    struct hrn_tensor *off = hrn_uv_to_vertex(&f->tape, &f->deform_sampler, d);
    if (!off) {
        st = hrn_error_prefix(HRN_ERR_INVALID, "fused shape: ");
        goto fail;
    }
    for (int64_t i = 0; i < 3 * N; i++) verts[i] += off->data[i];
fail:
    free(c);
    free(ck);
    return st;
}

enum hrn_status hrn_fit_render(struct hrn_fit *f, int k, int level, struct hrn_image *img,
                               float **cover) {
    enum hrn_status st = HRN_OK;
    struct fit_fwd o;
    if (cover) *cover = NULL;
    hrn_tape_reset(&f->tape);
    fit_forward(f, k, level, 1, &o);
    if (!o.img || !o.rast) return hrn_error_prefix(HRN_ERR_INVALID, "fit render: ");
    HRN_TRY(hrn_image_init(img, 224, 224, 3));
    memcpy(img->data, o.img->data, 3 * 224 * 224 * sizeof(float));
    if (cover) {
        *cover = malloc(224 * 224 * sizeof(float));
        if (!*cover) {
            hrn_image_free(img);
            return hrn_error_set(HRN_ERR_NOMEM, "fit render: no memory");
        }
        for (int p = 0; p < 224 * 224; p++) (*cover)[p] = o.rast->data[4 * p + 3] > 0 ? 1.0f : 0.0f;
    }
fail:
    return st;
}

float hrn_fit_max_abs_coeff(const struct hrn_fit *f) {
    float m = 0;
    struct hrn_params *ps = (struct hrn_params *)&f->ps;
    for (int i = 0; i < ps->n_entries; i++) {
        int g = ps->entries[i].group;
        if (g != HRN_FIT_G_ID && g != HRN_FIT_G_EXP && g != HRN_FIT_G_TEX) continue;
        const struct hrn_tensor *x = hrn_params_tensor(ps, i);
        for (int64_t j = 0; j < x->numel; j++) m = fmaxf(m, fabsf(x->data[j]));
    }
    return m;
}

double hrn_fit_landmark_rms(struct hrn_fit *f, int k, int *n_used) {
    struct fit_fwd o;
    const struct hrn_fit_view *v = &f->views[k];
    int n_lm = v->n_lm == 5 ? 5 : 68;
    const struct hrn_csr *L = &f->lmk_op[n_lm == 5];
    hrn_tape_reset(&f->tape);
    fit_forward(f, k, 1, 0, &o);
    double s = 0;
    int n = 0;
    if (o.lm)
        for (int i = 0; i < n_lm; i++) {
            if (L->rowptr[i + 1] == L->rowptr[i] || !isfinite(v->lm[2 * i])) continue;
            double dx = (double)o.lm->data[2 * i] - (double)v->lm[2 * i];
            double dy = (double)o.lm->data[2 * i + 1] - (double)v->lm[2 * i + 1];
            s += dx * dx + dy * dy;
            n++;
        }
    if (n_used) *n_used = n;
    return n ? sqrt(s / n) : (double)NAN;
}

const char *fit_group_name(int g) {
    return (unsigned)g < HRN_FIT_N_GROUPS ? GROUP_NAMES[g] : "?";
}
