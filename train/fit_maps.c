/* fit_maps.c: the per-view UV maps of a fit that are not parameters: HRN's valid (occlusion) mask
 * (hrn_method.md 2.4) and the test-time texture refinement (2.7), which fits a UV colour offset O
 * over the fixed lit colour map C2 and leaves C2 + O as the mesh texture. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status fit_to_uv(struct hrn_fit *f, const struct hrn_uv_map *m, const float *attr,
                          float *out) {
    struct hrn_tape *t = &f->tape;
    struct hrn_tape_mark mk = hrn_tape_mark(t);
    struct hrn_tensor *a = hrn_tape_wrap(t, (float *)attr, 2, (int64_t[]){f->fm->n_verts, 3}, "attr");
    struct hrn_tensor *u = hrn_world2uv(t, m, a);
    if (!u) return hrn_error_prefix(HRN_ERR_INVALID, "world2uv: ");
    memcpy(out, u->data, (size_t)(3 * m->res * m->res) * sizeof(float));
    hrn_tape_rewind(t, mk);
    return HRN_OK;
}

/* --- the valid mask -------------------------------------------------------------------------- */

/* cv2.erode with a 3x3 box: the minimum over the neighbours inside the image (OpenCV's default
 * border value for erosion never wins). src, dst (R,R), distinct. */
static void erode3(const float *src, int64_t R, float *dst) {
    for (int64_t y = 0; y < R; y++)
        for (int64_t x = 0; x < R; x++) {
            float m = src[y * R + x];
            for (int64_t dy = -1; dy <= 1; dy++)
                for (int64_t dx = -1; dx <= 1; dx++) {
                    int64_t yy = y + dy, xx = x + dx;
                    if (yy >= 0 && yy < R && xx >= 0 && xx < R) m = fminf(m, src[yy * R + xx]);
                }
            dst[y * R + x] = m;
        }
}

/* OpenCV's BORDER_REFLECT_101 index (gfedcb|abcdefgh|gfedcba); R > r assumed. */
static int64_t reflect101(int64_t i, int64_t R) {
    if (i < 0) return -i;
    if (i >= R) return 2 * R - 2 - i;
    return i;
}

/* cv2.blur with a (2r+1)x(2r+1) box, BORDER_REFLECT_101, separable; src is overwritten with the
 * result, tmp (R,R) scratch. */
static void box_blur(float *src, int64_t R, int64_t r, float *tmp) {
    double inv = 1.0 / (double)(2 * r + 1);
    for (int64_t y = 0; y < R; y++)
        for (int64_t x = 0; x < R; x++) {
            double s = 0;
            for (int64_t d = -r; d <= r; d++) s += (double)src[y * R + reflect101(x + d, R)];
            tmp[y * R + x] = (float)(s * inv);
        }
    for (int64_t y = 0; y < R; y++)
        for (int64_t x = 0; x < R; x++) {
            double s = 0;
            for (int64_t d = -r; d <= r; d++) s += (double)tmp[reflect101(y + d, R) * R + x];
            src[y * R + x] = (float)(s * inv);
        }
}

enum hrn_status fit_valid_mask_view(struct hrn_fit *f, int k, float *out, float *out_lo) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t R = f->cfg.disp_res, Rd = f->cfg.deform_res, nt = R * R, N = fm->n_verts;
    const float *mask = f->views[k].mask;
    float *V = NULL, *pos = NULL, *tmp = NULL;
    if (!mask) {
        for (int64_t i = 0; i < nt; i++) out[i] = 1.0f;
        for (int64_t i = 0; i < Rd * Rd; i++) out_lo[i] = 1.0f;
        return HRN_OK;
    }
    V = malloc((size_t)(3 * N) * sizeof(float));
    pos = malloc((size_t)(3 * nt) * sizeof(float));
    tmp = malloc((size_t)nt * sizeof(float));
    if (!V || !pos || !tmp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "valid mask: no memory");
        goto fail;
    }
    /* the face mask sampled at each texel's position on the base mesh M0 (get_texture_map) */
    HRN_TRY(hrn_fit_posed(f, k, 0, V));
    HRN_TRY(fit_to_uv(f, &f->uv_hi, V, pos));
    hrn_tape_reset(&f->tape);
    struct hrn_tensor *pm = hrn_tape_wrap(&f->tape, pos, 3, (int64_t[]){3, R, R}, "posmap");
    struct hrn_tensor *im =
        hrn_tape_wrap(&f->tape, (float *)mask, 3, (int64_t[]){1, 224, 224}, "face_mask");
    struct hrn_tensor *u = hrn_uv_unwrap_op(&f->tape, &f->uv_hi, &f->cam, pm, im);
    if (!u) {
        st = hrn_error_prefix(HRN_ERR_INVALID, "valid mask of view %d: ", k);
        goto fail;
    }
    for (int64_t i = 0; i < nt; i++) tmp[i] = isfinite(u->data[i]) ? u->data[i] : 0.0f;
    /* HRN's smooth_valid_mask: erode 3x3, then an 11x11 box blur */
    erode3(tmp, R, out);
    box_blur(out, R, 5, tmp);
    hrn_resize_bilinear(out, 1, (int)R, (int)R, out_lo, (int)Rd, (int)Rd, 0);
    double s = 0, chart = 0;
    for (int64_t i = 0; i < nt; i++) {
        s += (double)(out[i] * f->uv_hi.mask[i]);
        chart += (double)f->uv_hi.mask[i];
    }
    hrn_log(HRN_LOG_DEBUG, "view %d (%s): valid mask covers %.1f%% of the UV chart", k,
            f->views[k].name, chart > 0 ? 100.0 * s / chart : 0.0);
fail:
    hrn_tape_reset(&f->tape);
    free(V);
    free(pos);
    free(tmp);
    return st;
}

enum hrn_status fit_valid_alloc(struct hrn_fit *f) {
    int64_t R = f->cfg.disp_res, Rd = f->cfg.deform_res;
    if (!f->valid) f->valid = malloc((size_t)(f->n_views * R * R) * sizeof(float));
    if (!f->valid_lo) f->valid_lo = malloc((size_t)(f->n_views * Rd * Rd) * sizeof(float));
    if (!f->valid || !f->valid_lo) {
        free(f->valid);
        free(f->valid_lo);
        f->valid = f->valid_lo = NULL;
        return hrn_error_set(HRN_ERR_NOMEM, "valid mask: no memory");
    }
    return HRN_OK;
}

enum hrn_status hrn_fit_valid_masks(struct hrn_fit *f) {
    enum hrn_status st = HRN_OK;
    int64_t R = f->cfg.disp_res, Rd = f->cfg.deform_res, nt = R * R;
    int K = f->n_views;
    /* computed into scratch first: D and disp must not be masked by a half-made mask (the
     * forward pass of M0 does not use the masks, but a failure must leave none) */
    float *vk = malloc((size_t)(K * nt) * sizeof(float)), *vl = malloc((size_t)(K * Rd * Rd) * sizeof(float));
    if (!vk || !vl) {
        st = hrn_error_set(HRN_ERR_NOMEM, "valid mask: no memory");
        goto fail;
    }
    for (int k = 0; k < K; k++) HRN_TRY(fit_valid_mask_view(f, k, vk + k * nt, vl + k * Rd * Rd));
    HRN_TRY(fit_valid_alloc(f));
    memcpy(f->valid, vk, (size_t)(K * nt) * sizeof(float));
    memcpy(f->valid_lo, vl, (size_t)(K * Rd * Rd) * sizeof(float));
fail:
    if (st != HRN_OK) {
        free(f->valid);
        free(f->valid_lo);
        f->valid = f->valid_lo = NULL;
    }
    free(vk);
    free(vl);
    return st;
}

/* --- texture refinement ---------------------------------------------------------------------- */

enum hrn_status fit_texture_stage(struct hrn_fit *f, FILE *tsv) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t R = f->cfg.disp_res, nt = R * R;
    int K = f->n_views, iters = f->cfg.iters[HRN_FIT_TEX];
    struct hrn_params ps;
    struct hrn_optim opt;
    struct hrn_progress prog;
    int prog_on = 0;
    hrn_params_init(&ps);
    float *c2 = malloc((size_t)(K * 3 * nt) * sizeof(float));
    /* the geometry is fixed: rasterize once, keep the raster and the per-pixel texture
     * coordinates, and only look the texture up in each iteration */
    float *rast = malloc((size_t)(K * 4 * 224 * 224) * sizeof(float));
    float *sti = malloc((size_t)(K * 2 * 224 * 224) * sizeof(float));
    float *mask = malloc((size_t)(K * 224 * 224) * sizeof(float));
    struct hrn_image *target = calloc((size_t)K, sizeof *target);
    if (!c2 || !rast || !sti || !mask || !target) {
        st = hrn_error_set(HRN_ERR_NOMEM, "texture refinement: no memory");
        goto fail;
    }
    if (f->cfg.valid_mask && !f->valid) HRN_TRY(hrn_fit_valid_masks(f));
    /* C2 (the lit colour map of the high level, fixed: HRN detaches it), the projected vertices
     * and the photometric mask of each view */
    for (int k = 0; k < K; k++) {
        struct fit_fwd o;
        hrn_tape_reset(&f->tape);
        fit_forward(f, k, 2, 1, &o);
        struct hrn_tensor *sta = hrn_tape_wrap(&f->tape, f->st, 2, (int64_t[]){fm->n_uvs, 2}, "st");
        struct hrn_tensor *si =
            o.rast ? hrn_interpolate_op(&f->tape, sta, o.rast, fm->tri_uvs ? fm->tri_uvs : fm->tris)
                   : NULL;
        if (!o.col || !si) {
            st = hrn_error_prefix(HRN_ERR_INVALID, "texture refinement, view %d: ", k);
            goto fail;
        }
        HRN_ASSERT(o.col->numel == 3 * nt && o.rast->numel == 4 * 224 * 224 &&
                   si->numel == 2 * 224 * 224);
        memcpy(c2 + k * 3 * nt, o.col->data, (size_t)(3 * nt) * sizeof(float));
        memcpy(rast + k * 4 * 224 * 224, o.rast->data, 4 * 224 * 224 * sizeof(float));
        memcpy(sti + k * 2 * 224 * 224, si->data, 2 * 224 * 224 * sizeof(float));
        /* the target: the photo with the face pushed outward along the jaw (HRN's fat_face), so
         * that the texture covers the silhouette; needs the 68 landmarks */
        const struct hrn_fit_view *v = &f->views[k];
        int lm_ok = v->n_lm == 68 && f->cfg.tex_fat_face > 0;
        float lm[68 * 2];
        for (int i = 0; i < 68 && lm_ok; i++) {
            lm[2 * i] = v->lm[2 * i];
            lm[2 * i + 1] = 223.0f - v->lm[2 * i + 1];
            lm_ok = isfinite(lm[2 * i]) && isfinite(lm[2 * i + 1]);
        }
        if (lm_ok) {
            HRN_TRY(hrn_fat_face(&v->img, lm, f->cfg.tex_fat_face, &target[k]));
        } else {
            HRN_TRY(hrn_image_init(&target[k], 224, 224, 3));
            memcpy(target[k].data, v->img.data, 3 * 224 * 224 * sizeof(float));
        }
        /* HRN's refinement compares every covered pixel (its pred_mask), face mask or not */
        for (int64_t p = 0; p < 224 * 224; p++)
            mask[k * 224 * 224 + p] = o.rast->data[4 * p + 3] > 0 ? 1.0f : 0.0f;
    }
    hrn_tape_reset(&f->tape);
    int *p_off = malloc((size_t)K * sizeof(int));
    if (!p_off) {
        st = hrn_error_set(HRN_ERR_NOMEM, "texture refinement: no memory");
        goto fail;
    }
    for (int k = 0; k < K && st == HRN_OK; k++) {
        char name[64];
        snprintf(name, sizeof name, "view%d/tex_offset", k);
        st = hrn_params_add(&ps, name, 3, (int64_t[]){3, R, R}, 0, &p_off[k]);
    }
    if (st == HRN_OK) st = hrn_params_alloc(&ps);
    if (st == HRN_OK)
        st = hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM,
                                                            .lr = f->cfg.lr_tex_offset});
    if (st != HRN_OK) {
        free(p_off);
        goto fail;
    }
    hrn_progress_begin(&prog, "fit tex", iters);
    prog_on = 1;
    double t0 = hrn_time_now();
    for (int it = 0; it < iters; it++) {
        double ti = hrn_time_now();
        struct hrn_tape *t = &f->tape;
        hrn_tape_reset(t);
        hrn_params_zero_grad(&ps);
        struct hrn_tensor *total = NULL;
        double photo = 0, tv = 0;
        for (int k = 0; k < K; k++) {
            struct hrn_tensor *off = hrn_params_tensor(&ps, p_off[k]);
            struct hrn_tensor *base = hrn_tape_wrap(t, c2 + k * 3 * nt, 3, (int64_t[]){3, R, R}, "C2");
            struct hrn_tensor *ra =
                hrn_tape_wrap(t, rast + k * 4 * 224 * 224, 3, (int64_t[]){224, 224, 4}, "rast");
            struct hrn_tensor *sa =
                hrn_tape_wrap(t, sti + k * 2 * 224 * 224, 3, (int64_t[]){2, 224, 224}, "st_img");
            if (ra) ra->flags |= HRN_TENSOR_NO_GRAD_INPUT;
            if (sa) sa->flags |= HRN_TENSOR_NO_GRAD_INPUT;
            struct hrn_tensor *img = hrn_texture_op(t, hrn_add(t, base, off), sa, ra);
            struct hrn_tensor *tgt =
                hrn_tape_wrap(t, target[k].data, 4, (int64_t[]){1, 3, 224, 224}, "I_tex");
            struct hrn_tensor *m = hrn_tape_wrap(t, mask + k * 224 * 224, 4,
                                                 (int64_t[]){1, 1, 224, 224}, "photo_mask");
            struct hrn_tensor *ph = hrn_loss_photo(
                t, hrn_reshape(t, img, 4, (int64_t[]){1, 3, 224, 224}), tgt, m);
            struct hrn_tensor *tvk = hrn_loss_tv(t, hrn_reshape(t, off, 4, (int64_t[]){1, 3, R, R}));
            if (!ph || !tvk) {
                st = hrn_error_prefix(HRN_ERR_INVALID, "texture refinement, iteration %d: ", it);
                goto loop_fail;
            }
            photo += (double)ph->data[0];
            tv += (double)tvk->data[0];
            struct hrn_tensor *term = hrn_add(t, hrn_scale(t, ph, f->cfg.w_tex_photo),
                                              hrn_scale(t, tvk, f->cfg.w_tex_tv));
            total = total ? hrn_add(t, total, term) : term;
        }
        if (!total) {
            st = hrn_error_prefix(HRN_ERR_INVALID, "texture refinement, iteration %d: ", it);
            goto loop_fail;
        }
        struct hrn_fit_term_log lg = {.total = (double)total->data[0], .albedo_smooth = NAN,
                                      .tex_tv = tv};
        lg.value[HRN_LOSS_PHOTO_HIGH] = photo;
        lg.count[HRN_LOSS_PHOTO_HIGH] = K;
        if (!isfinite(lg.total)) {
            /* the offsets start at zero and only move by finite Adam steps: the last state is
             * kept as it was before this iteration */
            st = hrn_error_set(HRN_ERR_NUMERIC, "fit stage tex, iteration %d (overall %lld): "
                               "term '%s' is not finite; stopped", it, (long long)f->iter,
                               isfinite(photo) ? "tex_tv" : "photo_high");
            goto loop_fail;
        }
        f->last = lg;
        st = hrn_tape_backward(t, total);
        if (st == HRN_OK) st = hrn_optim_step(&opt, &ps);
        if (st != HRN_OK) {
            st = hrn_error_prefix(st, "fit stage tex, iteration %d: ", it);
            goto loop_fail;
        }
        double ms = 1e3 * (hrn_time_now() - ti);
        if (tsv && (it % f->cfg.log_every == 0 || it == iters - 1))
            fit_tsv_row(tsv, HRN_FIT_TEX, f->iter, &lg, ms);
        f->iter++;
        hrn_progress_update(&prog, it + 1, "loss %.5g", lg.total);
    }
    f->ms_per_iter[HRN_FIT_TEX] = 1e3 * (hrn_time_now() - t0) / iters;
    /* C2 + O: the lit colour map HRN writes as the texture */
    for (int k = 0; k < K; k++) {
        const float *off = hrn_params_tensor(&ps, p_off[k])->data;
        for (int64_t i = 0; i < 3 * nt; i++) c2[k * 3 * nt + i] += off[i];
    }
    free(f->tex_refined);
    f->tex_refined = c2;
    c2 = NULL;
    f->stage_done[HRN_FIT_TEX] = 1;
loop_fail:
    free(p_off);
fail:
    if (prog_on) hrn_progress_end(&prog);
    hrn_tape_reset(&f->tape);
    hrn_params_free(&ps);
    free(c2);
    free(rast);
    free(sti);
    free(mask);
    if (target)
        for (int k = 0; k < K; k++) hrn_image_free(&target[k]);
    free(target);
    return st;
}
