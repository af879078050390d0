/* fit_check.c: is the fit's result believable, and were its inputs good enough (issue 16)? A fit
 * can converge to a face no one would accept (a snout from unbounded expressions, detail that
 * follows the iteration budget) or from a photo that cannot support it (a tiny or cut-off face);
 * the loss does not show either, so the figures are measured here and the user warned. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest fraction, over views from photos, of the fitted face's crop pixels (the mid mesh's
 * coverage) that lie outside the photo (the crop's padding). */
static enum hrn_status clipped_fraction(struct hrn_fit *f, double *out) {
    enum hrn_status st = HRN_OK;
    *out = 0;
    for (int k = 0; k < f->n_views; k++) {
        const struct hrn_fit_view *v = &f->views[k];
        if (!v->has_align) continue;
        struct hrn_image img = {0};
        float *cover = NULL;
        HRN_TRY(hrn_fit_render(f, k, 1, &img, &cover));
        const float *b = v->photo_box;
        long n = 0, outside = 0;
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) {
                if (cover[y * 224 + x] <= 0) continue;
                n++;
                outside += (float)x < b[0] || (float)x >= b[2] || (float)y < b[1] || (float)y >= b[3];
            }
        hrn_image_free(&img);
        free(cover);
        if (n) *out = fmax(*out, (double)outside / (double)n);
    }
fail:
    return st;
}

/* The largest |displacement| in mm over views, as the geometry uses it (times the valid mask). */
static enum hrn_status detail_amplitude(struct hrn_fit *f, double *out) {
    *out = 0;
    for (int k = 0; k < f->n_views; k++) {
        hrn_tape_reset(&f->tape);
        struct hrn_tensor *d = fit_disp_map(f, k);
        if (!d) return hrn_error_prefix(HRN_ERR_INVALID, "checking the detail of view %d: ", k);
        for (int64_t i = 0; i < d->numel; i++) *out = fmax(*out, fabs((double)d->data[i]));
    }
    hrn_tape_reset(&f->tape);
    *out *= (double)f->fm->mm_per_unit;
    return HRN_OK;
}

/* Coefficient ranges: the largest |Gaussian coefficient| (id, tex, and exp unless bounded) and
 * the range of bounded expression weights. */
static void coeff_ranges(const struct hrn_fit *f, struct hrn_fit_checks *c) {
    struct hrn_params *ps = (struct hrn_params *)&f->ps;
    int bounded = fit_exp_bounded(f);
    c->coeff_sd = 0;
    c->exp_min = c->exp_max = 0;
    for (int i = 0; i < ps->n_entries; i++) {
        int g = ps->entries[i].group;
        if (g != HRN_FIT_G_ID && g != HRN_FIT_G_EXP && g != HRN_FIT_G_TEX) continue;
        const struct hrn_tensor *x = hrn_params_tensor(ps, i);
        for (int64_t j = 0; j < x->numel; j++) {
            double v = (double)x->data[j];
            if (g == HRN_FIT_G_EXP && bounded) {
                c->exp_min = fmin(c->exp_min, v);
                c->exp_max = fmax(c->exp_max, v);
            } else {
                c->coeff_sd = fmax(c->coeff_sd, fabs(v));
            }
        }
    }
}

/* The largest distance in mm that any view's expression moves a vertex (the expression part of
 * the shape alone: shape(exp) - shape(0)). */
static enum hrn_status expression_offset(const struct hrn_fit *f, double *out) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts, nc = hrn_face_model_n_coeffs(fm);
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    *out = 0;
    if (fm->n_exp < 1) return HRN_OK;
    float *c = calloc((size_t)nc, sizeof(float)), *ck = malloc((size_t)nc * sizeof(float));
    float *s0 = malloc((size_t)(3 * N) * sizeof(float)), *s1 = malloc((size_t)(3 * N) * sizeof(float));
    if (!c || !ck || !s0 || !s1) {
        st = hrn_error_set(HRN_ERR_NOMEM, "checking the expression: no memory");
        goto fail;
    }
    hrn_face_shape(fm, c, s0);
    for (int k = 0; k < f->n_views; k++) {
        hrn_fit_coeffs(f, k, ck);
        memcpy(c + l.exp, ck + l.exp, (size_t)fm->n_exp * sizeof(float));
        hrn_face_shape(fm, c, s1);
        for (int64_t i = 0; i < N; i++) {
            double dx = (double)(s1[3 * i] - s0[3 * i]), dy = (double)(s1[3 * i + 1] - s0[3 * i + 1]);
            double dz = (double)(s1[3 * i + 2] - s0[3 * i + 2]);
            *out = fmax(*out, sqrt(dx * dx + dy * dy + dz * dz));
        }
    }
    *out *= (double)fm->mm_per_unit;
fail:
    free(c);
    free(ck);
    free(s0);
    free(s1);
    return st;
}

/* One line per problem, with the figure, the bound and what to do. */
static void log_warnings(const struct hrn_fit *f) {
    const struct hrn_fit_checks *c = &f->check;
    const struct hrn_fit_config *g = &f->cfg;
    if (c->warnings & HRN_FIT_WARN_SMALL_FACE)
        hrn_log(HRN_LOG_WARN, "the face is small: %.1f px between the eye centres (below %.0f): "
                "the photo holds little of the shape and none of the detail, which come mostly "
                "from the priors", c->eye_px, (double)g->small_face_px);
    if (c->warnings & HRN_FIT_WARN_CLIPPED)
        hrn_log(HRN_LOG_WARN, "the face is partly outside the photo: %.0f%% of the fitted face "
                "lies beyond its edge (over %.0f%%); that part is guessed", 100 * c->clipped,
                100 * (double)g->clipped_max);
    if (c->warnings & HRN_FIT_WARN_DETAIL)
        hrn_log(HRN_LOG_WARN, "the detail reaches %.2f mm (bound %.2f mm): deeper than skin detail; "
                "it likely follows the iteration budget (stages.high) rather than the photo",
                c->detail_mm, (double)g->detail_max_mm);
    if (c->warnings & HRN_FIT_WARN_COEFF)
        hrn_log(HRN_LOG_WARN, "implausible coefficients: largest |coefficient| %.2f standard "
                "deviations (bound %.1f), expression weights in [%.2f, %.2f]: raise weights.w_reg "
                "or check the landmarks", c->coeff_sd, (double)g->coeff_max, c->exp_min, c->exp_max);
    if (c->warnings & HRN_FIT_WARN_EXP_OFFSET)
        hrn_log(HRN_LOG_WARN, "the expression moves a vertex %.0f mm (bound %.0f mm): the face is "
                "distorted (a snout or beak); more landmarks or a stronger weights.w_reg help",
                c->exp_offset_mm, (double)g->exp_offset_max_mm);
}

enum hrn_status hrn_fit_check(struct hrn_fit *f) {
    enum hrn_status st = HRN_OK;
    struct hrn_fit_checks c = {0};
    const struct hrn_fit_config *g = &f->cfg;
    for (int k = 0; k < f->n_views; k++)
        if (f->views[k].eye_px > 0)
            c.eye_px = c.eye_px > 0 ? fmin(c.eye_px, (double)f->views[k].eye_px)
                                    : (double)f->views[k].eye_px;
    HRN_TRY(clipped_fraction(f, &c.clipped));
    HRN_TRY(detail_amplitude(f, &c.detail_mm));
    HRN_TRY(expression_offset(f, &c.exp_offset_mm));
    coeff_ranges(f, &c);
    if (c.eye_px > 0 && c.eye_px < (double)g->small_face_px) c.warnings |= HRN_FIT_WARN_SMALL_FACE;
    if (c.clipped > (double)g->clipped_max) c.warnings |= HRN_FIT_WARN_CLIPPED;
    if (c.detail_mm >= (double)g->detail_max_mm) c.warnings |= HRN_FIT_WARN_DETAIL;
    /* bounded weights are projected into [0,1] every step: outside means a client's input */
    if (c.coeff_sd > (double)g->coeff_max || c.exp_min < -1e-6 || c.exp_max > 1 + 1e-6)
        c.warnings |= HRN_FIT_WARN_COEFF;
    if (c.exp_offset_mm > (double)g->exp_offset_max_mm) c.warnings |= HRN_FIT_WARN_EXP_OFFSET;
    f->check = c;
    hrn_log(HRN_LOG_INFO, "check: eye centres %.1f px apart, %.1f%% of the face outside the photo, "
            "detail up to %.2f mm, expression offset up to %.1f mm, |coefficient| up to %.2f sd, "
            "expression weights in [%.2f, %.2f]", c.eye_px, 100 * c.clipped, c.detail_mm,
            c.exp_offset_mm, c.coeff_sd, c.exp_min, c.exp_max);
    log_warnings(f);
fail:
    return st;
}
