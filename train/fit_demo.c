/* fit_demo.c: synthetic subjects with known ground truth, rendered by hrn's own forward pass, and
 * hrn-fit --demo, which fits one and three views of one and reports the errors. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hrn_fit_truth_free(struct hrn_fit_truth *t) {
    if (!t) return;
    free(t->coeffs);
    free(t->deform);
    free(t->verts);
    memset(t, 0, sizeof *t);
}

/* A smooth ground-truth deformation map (3,R,R): bumps along z (cheeks out, a fuller nose tip)
 * and a slight widening of the jaw, peak amplitude amp (model units). */
static void truth_deform(int64_t R, float amp, float *d) {
    static const float B[4][5] = {
        /* u, v, sigma, z amplitude, x amplitude (signed away from the middle) */
        {0.30f, 0.45f, 0.08f, 0.8f, -0.3f},
        {0.70f, 0.45f, 0.08f, 0.8f, 0.3f},
        {0.50f, 0.55f, 0.05f, 1.0f, 0.0f},
        {0.50f, 0.20f, 0.10f, -0.5f, 0.0f},
    };
    memset(d, 0, (size_t)(3 * R * R) * sizeof(float));
    for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < R; j++) {
            float u = ((float)j + 0.5f) / (float)R, v = 1.0f - ((float)i + 0.5f) / (float)R;
            for (int b = 0; b < 4; b++) {
                float du = u - B[b][0], dv = v - B[b][1], s = B[b][2];
                float g = expf(-(du * du + dv * dv) / (2 * s * s));
                d[0 * R * R + i * R + j] += amp * B[b][4] * g;
                d[2 * R * R + i * R + j] += amp * B[b][3] * g;
            }
        }
}

enum hrn_status hrn_fit_synth_views(const struct hrn_face_model *fm,
                                    const struct hrn_fit_config *cfg, uint64_t seed, int n_views,
                                    float yaw_deg, float deform_mm, struct hrn_fit_view *views,
                                    struct hrn_fit_truth *truth) {
    enum hrn_status st = HRN_OK;
    struct hrn_fit f = {0};
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    int64_t nc = l.total, N = fm->n_verts, R = cfg->deform_res;
    memset(truth, 0, sizeof *truth);
    for (int k = 0; k < n_views; k++) {
        memset(&views[k], 0, sizeof views[k]);
        snprintf(views[k].name, sizeof views[k].name, "view%d", k);
        views[k].n_lm = 68;
    }
    truth->n_views = n_views;
    truth->coeffs = calloc((size_t)(nc * n_views), sizeof(float));
    truth->deform = malloc((size_t)(3 * R * R) * sizeof(float));
    truth->verts = malloc((size_t)(3 * N) * sizeof(float));
    if (!truth->coeffs || !truth->deform || !truth->verts) {
        st = hrn_error_set(HRN_ERR_NOMEM, "synthetic views: no memory");
        goto fail;
    }
    /* a plausible subject: |coefficients| well inside 3 standard deviations */
    struct hrn_rng rng;
    hrn_rng_seed(&rng, seed);
    float *c0 = truth->coeffs;
    hrn_rng_fill_normal(&rng, c0 + l.id, (size_t)fm->n_id, 0.0f, 0.7f);
    for (int i = 0; i < fm->n_id; i++) c0[l.id + i] = fmaxf(-2.0f, fminf(2.0f, c0[l.id + i]));
    hrn_rng_fill_normal(&rng, c0 + l.tex, (size_t)fm->n_tex, 0.0f, 0.7f);
    for (int i = 0; i < fm->n_exp && i < 10; i++)
        c0[l.exp + i] = (float)(0.3 * hrn_rng_normal(&rng));
    if (fm->n_exp > 1) c0[l.exp + 1] = 0.6f;
    for (int c = 0; c < 3; c++) {
        c0[l.gamma + 9 * c + 1] = -0.15f;
        c0[l.gamma + 9 * c + 2] = 0.25f;
        c0[l.gamma + 9 * c + 3] = 0.12f;
    }
    c0[l.angle] = 0.05f; /* slight pitch */
    truth_deform(R, deform_mm / fm->mm_per_unit, truth->deform);
    for (int k = 0; k < n_views; k++) {
        float *ck = truth->coeffs + k * nc;
        if (k) memcpy(ck, c0, (size_t)nc * sizeof(float));
        float yaw = n_views > 1 ? yaw_deg * (2.0f * (float)k / (float)(n_views - 1) - 1.0f) : 0.0f;
        ck[l.angle + 1] = yaw * 3.14159265f / 180.0f;
        ck[l.trans + 0] = 0.02f * (float)k;
    }

    /* render through the fit's own forward pass with the true parameters */
    HRN_TRY(hrn_fit_init(&f, fm, cfg, views, n_views));
    struct hrn_params *ps = &f.ps;
    memcpy(hrn_params_tensor(ps, f.p_id)->data, c0 + l.id, (size_t)fm->n_id * sizeof(float));
    if (f.p_tex >= 0)
        memcpy(hrn_params_tensor(ps, f.p_tex)->data, c0 + l.tex, (size_t)fm->n_tex * sizeof(float));
    memcpy(hrn_params_tensor(ps, f.p_deform)->data, truth->deform,
           (size_t)(3 * R * R) * sizeof(float));
    if (f.p_albedo >= 0) {
        /* skin-like albedo with a smooth vertical gradient */
        struct hrn_tensor *a = hrn_params_tensor(ps, f.p_albedo);
        int64_t ra = cfg->albedo_res;
        static const float skin[3] = {0.78f, 0.58f, 0.48f};
        for (int c = 0; c < 3; c++)
            for (int64_t i = 0; i < ra; i++)
                for (int64_t j = 0; j < ra; j++)
                    a->data[(c * ra + i) * ra + j] =
                        skin[c] * (0.9f + 0.2f * (float)i / (float)ra) +
                        0.03f * sinf(6.0f * (float)j / (float)ra);
    }
    for (int k = 0; k < n_views; k++) {
        const float *ck = truth->coeffs + k * nc;
        if (f.p_exp[k] >= 0)
            memcpy(hrn_params_tensor(ps, f.p_exp[k])->data, ck + l.exp,
                   (size_t)fm->n_exp * sizeof(float));
        memcpy(hrn_params_tensor(ps, f.p_light[k])->data, ck + l.gamma, HRN_N_GAMMA * sizeof(float));
        float *pose = hrn_params_tensor(ps, f.p_pose[k])->data;
        memcpy(pose, ck + l.angle, 3 * sizeof(float));
        memcpy(pose + 3, ck + l.trans, 3 * sizeof(float));
    }
    for (int k = 0; k < n_views; k++) {
        struct hrn_fit_view *v = &views[k];
        HRN_TRY(hrn_fit_render(&f, k, 1, &v->img, &v->mask));
        struct fit_fwd o;
        hrn_tape_reset(&f.tape);
        fit_forward(&f, k, 1, 0, &o);
        if (!o.lm) {
            st = hrn_error_prefix(HRN_ERR_INVALID, "synthetic views: ");
            goto fail;
        }
        for (int i = 0; i < 68; i++) {
            int has = fm->lmk68[i] >= 0;
            v->lm[2 * i] = has ? o.lm->data[2 * i] : NAN;
            v->lm[2 * i + 1] = has ? o.lm->data[2 * i + 1] : NAN;
        }
    }
    HRN_TRY(hrn_fit_shape(&f, 0, 1, truth->verts));
    hrn_fit_free(&f);
    return HRN_OK;
fail:
    hrn_fit_free(&f);
    for (int k = 0; k < n_views; k++) hrn_fit_view_free(&views[k]);
    hrn_fit_truth_free(truth);
    return st;
}

double hrn_fit_vertex_error_mm(struct hrn_fit *f, const struct hrn_fit_truth *truth) {
    int64_t N = f->fm->n_verts;
    float *v = malloc((size_t)(3 * N) * sizeof(float));
    if (!v) return NAN;
    enum hrn_status st =
        f->n_views > 1 ? hrn_fit_fused_shape(f, v) : hrn_fit_shape(f, 0, 1, v);
    double s = 0;
    if (st == HRN_OK)
        for (int64_t i = 0; i < N; i++) {
            double dx = (double)v[3 * i] - (double)truth->verts[3 * i];
            double dy = (double)v[3 * i + 1] - (double)truth->verts[3 * i + 1];
            double dz = (double)v[3 * i + 2] - (double)truth->verts[3 * i + 2];
            s += sqrt(dx * dx + dy * dy + dz * dz);
        }
    free(v);
    return st == HRN_OK ? s / (double)N * (double)f->fm->mm_per_unit : (double)NAN;
}

static enum hrn_status demo_case(const struct hrn_face_model *fm, const struct hrn_fit_config *cfg,
                                 int n_views, const char *dir, FILE *report) {
    enum hrn_status st = HRN_OK;
    struct hrn_fit_view views[3];
    struct hrn_fit_truth truth = {0};
    struct hrn_fit f = {0};
    char path[1100];
    memset(views, 0, sizeof views);
    HRN_TRY(hrn_fit_synth_views(fm, cfg, 7, n_views, 30.0f, 3.0f, views, &truth));
    HRN_TRY(hrn_fit_mkdirs(dir));
    for (int k = 0; k < n_views; k++) {
        if (snprintf(path, sizeof path, "%s/%s_input.png", dir, views[k].name) >= (int)sizeof path) {
            st = hrn_error_set(HRN_ERR_INVALID, "%s: path too long", dir);
            goto fail;
        }
        HRN_TRY(hrn_image_write_png(path, &views[k].img, 8));
    }
    HRN_TRY(hrn_fit_init(&f, fm, cfg, views, n_views));
    double e0 = hrn_fit_vertex_error_mm(&f, &truth);
    if (snprintf(path, sizeof path, "%s/losses.tsv", dir) >= (int)sizeof path) {
        st = hrn_error_set(HRN_ERR_INVALID, "%s: path too long", dir);
        goto fail;
    }
    double t0 = hrn_time_now();
    HRN_TRY(hrn_fit_run(&f, path));
    double secs = hrn_time_now() - t0;
    HRN_TRY(hrn_fit_write_outputs(&f, dir));
    double e = hrn_fit_vertex_error_mm(&f, &truth), lm = 0;
    for (int k = 0; k < n_views; k++) lm += hrn_fit_landmark_rms(&f, k, NULL) / n_views;
    fprintf(report, "%d view%s: mean vertex error %.3f mm (mean face: %.3f mm), landmark RMS "
            "%.3f px, max |coeff| %.2f, %lld iterations in %.1f s -> %s\n", n_views,
            n_views > 1 ? "s" : " ", e, e0, lm, (double)hrn_fit_max_abs_coeff(&f),
            (long long)f.iter, secs, dir);
fail:
    hrn_fit_free(&f);
    for (int k = 0; k < n_views; k++) hrn_fit_view_free(&views[k]);
    hrn_fit_truth_free(&truth);
    return st;
}

enum hrn_status hrn_fit_demo(const struct hrn_fit_config *cfg_single,
                             const struct hrn_fit_config *cfg_multi, int preset,
                             const char *out_dir, FILE *report) {
    enum hrn_status st = HRN_OK;
    struct hrn_face_model fm = {0};
    char dir[1100];
    HRN_TRY(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = (enum hrn_synth_preset)preset,
                                                            .seed = 1}));
    HRN_TRY(hrn_fit_normalize_model(&fm));
    fprintf(report, "hrn-fit demo: synthetic model %s (%lld vertices), subject with known "
            "coefficients, pose, lighting and a 3 mm deformation map\n", fm.name,
            (long long)fm.n_verts);
    snprintf(dir, sizeof dir, "%s/single", out_dir);
    HRN_TRY(demo_case(&fm, cfg_single, 1, dir, report));
    snprintf(dir, sizeof dir, "%s/multi", out_dir);
    HRN_TRY(demo_case(&fm, cfg_multi, 3, dir, report));
fail:
    hrn_face_model_free(&fm);
    return st;
}
