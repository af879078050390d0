/* train_demo.c: hrn-train --demo: on a fresh machine, with no data files, train narrow networks
 * on synthetic faces (recon, then geometry with the trained net_recon as the base), then compare
 * on held-out synthetic samples: the mean face, the networks' single forward pass, hrn-fit from
 * the mean face and hrn-fit started from the networks (training.md 5.3). */
#include "hrn_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEMO_METHODS = 4 };
static const char *const METHOD[DEMO_METHODS] = {
    "mean face", "networks, one forward pass", "hrn-fit from the mean face",
    "hrn-fit from the networks"};

struct demo_row {
    double vert_mm, lm_px, deform_mm, disp_mm, secs;
    int n;
};

static void demo_config(struct hrn_train_config *c, const char *model, const char *out,
                        int stage) {
    hrn_config_defaults(&hrn_train_schema, c);
    c->stage = stage;
    /* lengths checked by hrn_train_demo */
    snprintf(c->model, sizeof c->model, "%.*s", (int)sizeof c->model - 1, model);
    snprintf(c->out, sizeof c->out, "%.*s", (int)sizeof c->out - 1, out);
    c->synth_count = 100000; /* every step sees new faces */
    c->synth_val = 16;
    c->loader_threads = 1;
    c->recon_width = 16;
    c->mid_width = 16;
    c->high_width = 8;
    c->n_blocks = 3;
    c->optim.lr = 1e-3;
    c->optim.schedule = HRN_CONFIG_LR_COSINE;
    c->ckpt_every = 100;
    c->ckpt_minutes = 0;
    c->val_every = 100;
    c->val_samples = 16;
    c->arena_mb = 2048;
    /* what a short run can learn first: the coefficients it cannot yet infer stay near the
     * prior's mean (a strong coefficient supervision), the maps follow their ground truth (strong
     * 3D priors, a light adversarial term) */
    c->w_coeff_sup = 30;
    c->w_prior_mid = 1000;
    c->w_prior_high = 1000;
    c->w.w_adv = 0.1f;
    c->disc_width = 8;
    /* HRN starts alpha and beta at 0.01: D at most 0.1 mm, the displacement 0.1 mm; a short run
     * would spend its steps growing them to the maps' millimetres */
    c->alpha0 = 0.5f;
    c->beta0 = 0.1f;
    if (stage == HRN_TRAIN_RECON) {
        c->batch = 8;
        c->optim.iterations = 500;
    } else {
        c->batch = 4;
        c->optim.iterations = 200;
        c->base = 1; /* the trained net_recon, frozen, gives the base mesh */
    }
}

static enum hrn_status train_stage(const struct hrn_train_config *c) {
    struct hrn_trainer *tr = NULL;
    enum hrn_status st = hrn_trainer_open(&tr, c, 0);
    if (st == HRN_OK) st = hrn_trainer_run(tr, NULL, NULL);
    hrn_trainer_close(tr);
    return st;
}

/* Mean |a*m - b| over the UV chart's texels (chart (R*R) 0/1; m the method's valid mask, as its
 * mesh uses the map, or 1) of C planes of R x R, in mm. */
static double map_error_mm(const float *a, const float *valid, const float *b, const float *chart,
                           int64_t C, int64_t R, double mmu) {
    double e = 0, n = 0;
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < R * R; i++) {
            if (!chart[i]) continue;
            double m = valid ? (double)valid[i] : 1.0;
            e += fabs((double)a[c * R * R + i] * m - (double)b[c * R * R + i]);
            n++;
        }
    return n > 0 ? e / n * mmu : (double)NAN;
}

/* The deformation-map chart at 64: the 256 chart's texel at the same UV. */
static void chart_lo(const struct hrn_fit *f, float *out, int64_t Rd) {
    int64_t R = f->uv_hi.res;
    for (int64_t i = 0; i < Rd; i++)
        for (int64_t j = 0; j < Rd; j++)
            out[i * Rd + j] = f->uv_hi.mask[(i * R / Rd + R / Rd / 2) * R + j * R / Rd + R / Rd / 2];
}

static void measure(struct hrn_fit *f, const struct hrn_sample *s, const struct hrn_fit_truth *tru,
                    double secs, struct demo_row *r) {
    int64_t Rd = f->cfg.deform_res, R = f->cfg.disp_res;
    double mmu = (double)f->fm->mm_per_unit;
    float lo[128 * 128];
    chart_lo(f, lo, Rd);
    r->vert_mm += hrn_fit_vertex_error_mm(f, tru);
    r->lm_px += hrn_fit_landmark_rms(f, 0, NULL);
    const float *d = hrn_params_tensor(&f->ps, f->p_deform)->data;
    const float *x = hrn_params_tensor(&f->ps, f->p_disp[0])->data;
    if (s->gt.deform) r->deform_mm += map_error_mm(d, f->valid_lo, s->gt.deform, lo, 3, Rd, mmu);
    if (s->gt.disp) r->disp_mm += map_error_mm(x, f->valid, s->gt.disp, f->uv_hi.mask, 1, R, mmu);
    r->secs += secs;
    r->n++;
}

/* The held-out sample as a fit view and its truth (copies: the fit frees its own). */
static enum hrn_status sample_view(const struct hrn_sample *s, int64_t nc, int64_t N,
                                   struct hrn_fit_view *v, struct hrn_fit_truth *t) {
    memset(v, 0, sizeof *v);
    memset(t, 0, sizeof *t);
    snprintf(v->name, sizeof v->name, "%s", s->name);
    v->n_lm = 68;
    memcpy(v->lm, s->lm, sizeof v->lm);
    v->img = s->img;
    v->img.data = malloc((size_t)(3 * 224 * 224) * sizeof(float));
    v->mask = s->mask ? malloc((size_t)(224 * 224) * sizeof(float)) : NULL;
    t->n_views = 1;
    t->coeffs = malloc((size_t)nc * sizeof(float));
    t->verts = malloc((size_t)(3 * N) * sizeof(float));
    if (!v->img.data || (s->mask && !v->mask) || !t->coeffs || !t->verts || !s->gt.verts ||
        !s->gt.coeffs)
        return hrn_error_set(HRN_ERR_NOMEM, "demo: no memory (or a sample without truth)");
    memcpy(v->img.data, s->img.data, (size_t)(3 * 224 * 224) * sizeof(float));
    if (v->mask) memcpy(v->mask, s->mask, (size_t)(224 * 224) * sizeof(float));
    memcpy(t->coeffs, s->gt.coeffs, (size_t)nc * sizeof(float));
    memcpy(t->verts, s->gt.verts, (size_t)(3 * N) * sizeof(float));
    return HRN_OK;
}

/* One held-out sample through the four methods. */
static enum hrn_status eval_sample(const struct hrn_face_model *fm, const struct hrn_fit_config *fc,
                                   struct hrn_fit_nets *nets, const struct hrn_sample *s,
                                   struct demo_row *rows) {
    enum hrn_status st = HRN_OK;
    struct hrn_fit_view v;
    struct hrn_fit_truth tru;
    struct hrn_fit f = {0};
    HRN_TRY(sample_view(s, hrn_face_model_n_coeffs(fm), fm->n_verts, &v, &tru));
    for (int m = 0; m < DEMO_METHODS; m++) {
        HRN_TRY(hrn_fit_init(&f, fm, fc, &v, 1));
        double t0 = hrn_time_now();
        if (m == 1 || m == 3) HRN_TRY(hrn_fit_start_from_nets(&f, nets));
        if (m >= 2) HRN_TRY(hrn_fit_run(&f, NULL));
        measure(&f, s, &tru, hrn_time_now() - t0, &rows[m]);
        hrn_fit_free(&f);
    }
fail:
    hrn_fit_free(&f);
    hrn_fit_view_free(&v);
    hrn_fit_truth_free(&tru);
    return st;
}

static void print_table(FILE *out, const struct demo_row *rows, int n) {
    fprintf(out, "\nheld-out synthetic faces (%d, single view):\n", n);
    fprintf(out, "  %-28s %10s %10s %9s %9s %9s\n", "", "vertex mm", "landmk px", "D mm",
            "disp mm", "s/image");
    for (int m = 0; m < DEMO_METHODS; m++) {
        const struct demo_row *r = &rows[m];
        double k = r->n ? 1.0 / r->n : (double)NAN;
        fprintf(out, "  %-28s %10.3f %10.3f %9.4f %9.4f %9.3f\n", METHOD[m], r->vert_mm * k,
                r->lm_px * k, r->deform_mm * k, r->disp_mm * k, r->secs * k);
    }
}

enum hrn_status hrn_train_compare(const char *ckpt, const struct hrn_train_config *c, int n_eval,
                                  FILE *report) {
    enum hrn_status st = HRN_OK;
    struct hrn_face_model fm = {0};
    struct hrn_fit_nets nets = {0};
    struct hrn_dataset val = {0};
    struct hrn_sample s = {0};
    struct demo_row rows[DEMO_METHODS];
    memset(rows, 0, sizeof rows);
    if (n_eval < 1) return hrn_error_set(HRN_ERR_INVALID, "compare: %d samples", n_eval);
    HRN_TRY(hrn_fit_nets_load(ckpt, &nets));
    HRN_TRY(hrn_train_load_model(c->model, &fm));
    struct hrn_synth_data_config sc;
    hrn_synth_data_defaults(&sc);
    sc.seed = (uint64_t)c->synth_seed + 1000003u; /* hrn-train's held-out seed */
    sc.count = n_eval;
    sc.deform_mm = c->deform_mm;
    sc.disp_mm = c->disp_mm;
    sc.occluder_p = c->occluder_p;
    sc.noise_max = c->noise_max;
    sc.jpeg_p = c->jpeg_p;
    sc.background = c->background;
    sc.yaw_deg = c->yaw_deg;
    sc.pitch_deg = c->pitch_deg;
    sc.roll_deg = c->roll_deg;
    HRN_TRY(hrn_dataset_open_synth(&val, &fm, &sc));
    struct hrn_fit_config fc;
    HRN_TRY(hrn_config_defaults(&hrn_fit_schema, &fc));
    fc.iters[HRN_FIT_TEX] = 0; /* the texture changes no error measured here */
    for (int64_t i = 0; i < n_eval; i++) {
        HRN_TRY(hrn_dataset_get(&val, i, &s));
        HRN_TRY(eval_sample(&fm, &fc, &nets, &s, rows));
        hrn_sample_free(&s);
    }
    print_table(report, rows, n_eval);
fail:
    hrn_sample_free(&s);
    hrn_dataset_free(&val);
    hrn_fit_nets_free(&nets);
    hrn_face_model_free(&fm);
    return st;
}

enum hrn_status hrn_train_demo(const char *out_dir, const char *model, int n_eval, FILE *report) {
    enum hrn_status st = HRN_OK;
    struct hrn_train_config rc, gc;
    char dir[1100], ck[1200];
    if (strlen(out_dir) > 400 || strlen(model) > 400)
        return hrn_error_set(HRN_ERR_INVALID, "demo: output directory or model path too long");
    double t0 = hrn_time_now();
    /* 1. net_recon, then mid_net + high_net over the frozen net_recon */
    snprintf(dir, sizeof dir, "%s/recon", out_dir);
    demo_config(&rc, model, dir, HRN_TRAIN_RECON);
    fprintf(report, "training net_recon (ResNet-50, width %d): %d steps of %d faces -> %s\n",
            rc.recon_width, rc.optim.iterations, rc.batch, dir);
    fflush(report);
    HRN_TRY(train_stage(&rc));
    snprintf(ck, sizeof ck, "%s/ckpt_%08d.h5", dir, rc.optim.iterations);
    snprintf(dir, sizeof dir, "%s/geometry", out_dir);
    demo_config(&gc, model, dir, HRN_TRAIN_GEOMETRY);
    snprintf(gc.init, sizeof gc.init, "%.*s", (int)sizeof gc.init - 1, ck);
    fprintf(report, "training mid_net and high_net (widths %d, %d): %d steps of %d faces -> %s\n",
            gc.mid_width, gc.high_width, gc.optim.iterations, gc.batch, dir);
    fflush(report);
    HRN_TRY(train_stage(&gc));
    fprintf(report, "trained in %.0f s\n", hrn_time_now() - t0);
    /* 2. the four methods on held-out faces (the validation set of the runs) */
    snprintf(ck, sizeof ck, "%s/ckpt_%08d.h5", dir, gc.optim.iterations);
    HRN_TRY(hrn_train_compare(ck, &gc, n_eval, report));
    fprintf(report, "demo took %.0f s; loss logs, validation metrics and checkpoints in %s\n",
            hrn_time_now() - t0, out_dir);
fail:
    return st;
}
