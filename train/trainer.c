/* trainer.c: hrn-train's run: a dataset and its loader, the networks of a stage, the shared
 * optimization driver, the batched forward model and losses of hrn-fit (one "view" per sample),
 * the loss log, validation and checkpoints that resume bit for bit (architecture.md).
 *
 * Exact resume: every random choice is counter-based (the loader's epoch order and augmentation,
 * the synthetic samples) or saved (each network's dropout seed), and a checkpoint holds the
 * networks with their BatchNorm buffers, alpha and beta, every optimizer's step count and moments,
 * the loader position, the step and the number of losses.tsv rows it covers. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRY_RET(expr)                                  \
    do {                                               \
        enum hrn_status s_ = (expr);                   \
        if (s_ != HRN_OK) return s_;                   \
    } while (0)

static const char *const STAGE_NAME[] = {"recon", "mid", "geometry", "deretouch"};
static const char *CKPT_FORMAT = "hrn-train-state";

struct hrn_trainer {
    struct hrn_train_config cfg;
    struct hrn_face_model fm;
    int64_t nc;
    struct hrn_dataset ds, ds_val;
    int has_val;
    struct hrn_augment aug;
    struct hrn_loader *ld;
    struct hrn_batch batch;
    struct hrn_fit fit;           /* B views: hrn-fit's forward model and losses */
    struct hrn_fit_view *views;   /* (B) borrowing the batch's arrays */
    int B;                        /* this process's samples per step */
    int Bg;                       /* the global batch: B times the number of processes */
    struct hrn_dist *dist;        /* NULL: one process */
    int rank;                     /* 0 logs, validates and writes checkpoints */
    struct hrn_net recon, mid, high;
    int has_recon, has_mid, has_high;
    struct hrn_net disc[2];       /* PatchGANs on D and on the displacement (w_adv > 0) */
    int has_disc;
    unsigned opt_disc;            /* the discriminators' optimizers (bits) */
    float *fake[2];               /* (B,3,Rd,Rd), (B,1,R,R): the maps of the last generator step */
    struct hrn_params scales;     /* alpha, beta */
    int p_alpha, p_beta;
    struct hrn_driver drv;
    unsigned opts;                /* the optimizers a step moves */
    float *coeffs_fixed;          /* (B, nc) base coefficients of the geometry stages */
    float *P, *T;                 /* (B,3,R,R) position maps and textures */
    float *pred_d, *pred_x;       /* (B,3,Rd,Rd), (B,1,R,R): validation's predicted maps */
    struct hrn_net unet;          /* the de-retouching UNet (stage deretouch) */
    int has_unet;
    float *a0, *ad, *amask, *pred_a; /* (B,3,R,R) x3 + (B,R,R): A0, the detailed albedo, the
                                      * texels that count, the last A' */
    struct hrn_tensor **cin, **din, **xin; /* (B) per-sample tape tensors */
    int64_t step, epoch, pos, rows;
    double last_ckpt_time;
    char losses_path[1100], val_path[1100];
    FILE *losses, *val;
    int n_terms;                  /* columns of losses.tsv after the first row */
    double t_data, t_prep, t_step; /* seconds spent waiting for batches, preparing the geometry
                                    * inputs and in the driver steps (for benchmarks) */
};

/* --- setup ------------------------------------------------------------------------------------ */

enum hrn_status hrn_train_load_model(const char *spec, struct hrn_face_model *fm) {
    if (!strcmp(spec, "synth-small") || !strcmp(spec, "synth-bfm")) {
        enum hrn_synth_preset p = !strcmp(spec, "synth-bfm") ? HRN_SYNTH_BFM : HRN_SYNTH_SMALL;
        TRY_RET(hrn_synth_face(fm, &(struct hrn_synth_params){.preset = p, .seed = 1}));
        return hrn_fit_normalize_model(fm);
    }
    return hrn_fit_load_model(spec, fm);
}

static void synth_config(const struct hrn_train_config *c, uint64_t seed, int64_t count,
                         struct hrn_synth_data_config *sc) {
    hrn_synth_data_defaults(sc);
    sc->seed = seed;
    sc->count = count;
    sc->deform_mm = c->deform_mm;
    sc->disp_mm = c->disp_mm;
    sc->occluder_p = c->occluder_p;
    sc->noise_max = c->noise_max;
    sc->jpeg_p = c->jpeg_p;
    sc->background = c->background;
    sc->yaw_deg = c->yaw_deg;
    sc->pitch_deg = c->pitch_deg;
    sc->roll_deg = c->roll_deg;
    sc->levels = c->stage == HRN_TRAIN_RECON ? 1 : 2;
}

static enum hrn_status open_data(struct hrn_trainer *tr) {
    const struct hrn_train_config *c = &tr->cfg;
    if (c->data_kind == HRN_DATASET_SYNTH) {
        struct hrn_synth_data_config sc;
        synth_config(c, (uint64_t)c->synth_seed, c->synth_count, &sc);
        TRY_RET(hrn_dataset_open_synth(&tr->ds, &tr->fm, &sc));
        if (c->synth_val > 0) {
            /* held out: another seed, so no validation sample is a training sample */
            synth_config(c, (uint64_t)c->synth_seed + 1000003u, c->synth_val, &sc);
            TRY_RET(hrn_dataset_open_synth(&tr->ds_val, &tr->fm, &sc));
            tr->has_val = 1;
        }
        return HRN_OK;
    }
    char list[1100];
    snprintf(list, sizeof list, "%s/%s", c->root, c->train_list);
    TRY_RET(hrn_dataset_open_folder(&tr->ds, &tr->fm, c->root, list,
                                        (enum hrn_dataset_policy)c->policy, stderr));
    if (c->val_list[0]) {
        snprintf(list, sizeof list, "%s/%s", c->root, c->val_list);
        TRY_RET(hrn_dataset_open_folder(&tr->ds_val, &tr->fm, c->root, list,
                                            (enum hrn_dataset_policy)c->policy, stderr));
        tr->has_val = 1;
    }
    return HRN_OK;
}

static enum hrn_status optim_config(const struct hrn_config_optim *o, float factor,
                                    struct hrn_optim_config *oc) {
    memset(oc, 0, sizeof *oc);
    switch (o->method) {
    case HRN_CONFIG_OPTIM_ADAM: oc->kind = HRN_OPTIM_ADAM; break;
    case HRN_CONFIG_OPTIM_ADAMW: oc->kind = HRN_OPTIM_ADAMW; break;
    case HRN_CONFIG_OPTIM_SGD: oc->kind = HRN_OPTIM_SGD; break;
    default:
        return hrn_error_set(HRN_ERR_CONFIG, "optim.method: hrn-train takes adam, adamw or sgd "
                             "(L-BFGS is for per-subject fitting)");
    }
    oc->lr = (float)(o->lr * (double)factor);
    oc->beta1 = (float)o->beta1;
    oc->beta2 = (float)o->beta2;
    oc->eps = (float)o->eps;
    oc->weight_decay = (float)o->weight_decay;
    oc->momentum = (float)o->momentum;
    struct hrn_lr_schedule *s = &oc->schedule;
    switch (o->schedule) {
    case HRN_CONFIG_LR_STEP:
        s->kind = HRN_LR_STEP;
        s->step_size = o->step_size > 0 ? o->step_size : 1;
        s->gamma = (float)o->gamma;
        break;
    case HRN_CONFIG_LR_WARMUP_COSINE:
        s->warmup_steps = o->warmup;
        s->warmup_start = 0.0f;
        /* fall through */
    case HRN_CONFIG_LR_COSINE:
        s->kind = HRN_LR_COSINE;
        s->total_steps = o->iterations - s->warmup_steps > 1 ? o->iterations - s->warmup_steps : 1;
        break;
    default: s->kind = HRN_LR_CONSTANT;
    }
    return HRN_OK;
}

static enum hrn_status add_opt(struct hrn_trainer *tr, const char *name, struct hrn_params *ps,
                               float factor) {
    struct hrn_optim_config oc;
    int idx = 0;
    TRY_RET(optim_config(&tr->cfg.optim, factor, &oc));
    TRY_RET(hrn_driver_add(&tr->drv, name, ps, &oc, tr->cfg.optim.clip_norm, &idx));
    tr->opts |= 1u << idx;
    return HRN_OK;
}

/* A network of the stage: initialised from the seed, then from the init checkpoint when that
 * holds its group. */
static enum hrn_status make_net(struct hrn_trainer *tr, struct hrn_net *net,
                                const struct hrn_net_config *nc, const char *group, int salt,
                                int required) {
    const struct hrn_train_config *c = &tr->cfg;
    TRY_RET(hrn_net_init(net, nc, (uint64_t)c->seed * 7919u + (uint64_t)salt));
    if (c->init[0]) {
        enum hrn_status st = hrn_net_load(net, c->init, group);
        if (st == HRN_OK) hrn_log(HRN_LOG_INFO, "%s: %s loaded", c->init, group);
        else if (required) return hrn_error_prefix(st, "run.init: ");
        else hrn_log(HRN_LOG_INFO, "%s: no %s (%s); initialised", c->init, group, hrn_error_msg());
    } else if (required) {
        return hrn_error_set(HRN_ERR_CONFIG, "nets.base = net needs a net_recon: set run.init to "
                             "a checkpoint that has one");
    }
    return HRN_OK;
}

/* The PatchGAN discriminators of the maps with their own Adam (pix2pix: 2e-4, beta1 0.5), made
 * when the adversarial weight is on: one on D, one on the displacement when high_net exists. */
static enum hrn_status make_discs(struct hrn_trainer *tr) {
    const struct hrn_train_config *c = &tr->cfg;
    static const char *const GROUP[2] = {"disc_mid", "disc_high"};
    int n = 1 + tr->has_high;
    for (int i = 0; i < n; i++) {
        struct hrn_net_config dc = {.kind = HRN_NET_PATCHGAN, .in_ch = i ? 1 : 3,
                                    .width = c->disc_width, .n_layers = c->disc_layers};
        TRY_RET(make_net(tr, &tr->disc[i], &dc, GROUP[i], 4 + i, 0));
        tr->disc[i].training = 1;
    }
    tr->has_disc = n;
    struct hrn_optim_config oc = {.kind = HRN_OPTIM_ADAM, .lr = c->lr_d, .beta1 = c->beta1_d};
    for (int i = 0; i < n; i++) {
        int idx = 0;
        TRY_RET(hrn_driver_add(&tr->drv, GROUP[i], &tr->disc[i].params, &oc, 0.0, &idx));
        tr->opt_disc |= 1u << idx;
    }
    int64_t B = tr->B, R = tr->fit.cfg.disp_res, Rd = tr->fit.cfg.deform_res;
    tr->fake[0] = malloc((size_t)(B * 3 * Rd * Rd) * sizeof(float));
    tr->fake[1] = malloc((size_t)(B * R * R) * sizeof(float));
    if (!tr->fake[0] || !tr->fake[1]) return hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
    return HRN_OK;
}

static enum hrn_status make_nets(struct hrn_trainer *tr) {
    const struct hrn_train_config *c = &tr->cfg;
    float lr = 1.0f;
    if (c->stage == HRN_TRAIN_DERETOUCH) {
        TRY_RET(make_net(tr, &tr->unet, &(struct hrn_net_config){.kind = HRN_NET_UNET,
                         .width = c->unet_width}, "generator", 6, 0));
        tr->has_unet = 1;
        tr->unet.training = 1;
        return add_opt(tr, "generator", &tr->unet.params, c->lr_unet);
    }
    if (c->stage == HRN_TRAIN_RECON || c->base == 1) {
        if (tr->nc != HRN_RECON_N_COEFFS)
            return hrn_error_set(HRN_ERR_CONFIG, "data.model: net_recon predicts 257 coefficients "
                                 "(80 identity, 64 expression, 80 albedo); %s has %lld",
                                 tr->fm.name, (long long)tr->nc);
        int train = c->stage == HRN_TRAIN_RECON && c->train_recon;
        TRY_RET(make_net(tr, &tr->recon, &(struct hrn_net_config){.kind = HRN_NET_RESNET50,
                             .width = c->recon_width}, "net_recon", 1, c->stage != HRN_TRAIN_RECON));
        tr->has_recon = 1;
        tr->recon.training = train;
        hrn_net_requires_grad(&tr->recon, train);
        if (train) TRY_RET(add_opt(tr, "net_recon", &tr->recon.params, c->lr_recon * lr));
    }
    if (c->stage == HRN_TRAIN_RECON) return HRN_OK;
    struct hrn_net_config mc = {.kind = HRN_NET_PIX2PIX, .in_ch = 6, .out_ch = 3,
                                .width = c->mid_width, .n_blocks = c->n_blocks,
                                .dropout = c->dropout};
    TRY_RET(make_net(tr, &tr->mid, &mc, "mid_net", 2, 0));
    tr->has_mid = 1;
    tr->mid.training = c->train_mid;
    hrn_net_requires_grad(&tr->mid, c->train_mid);
    if (c->train_mid) TRY_RET(add_opt(tr, "mid_net", &tr->mid.params, c->lr_mid));
    if (c->stage == HRN_TRAIN_GEOMETRY) {
        struct hrn_net_config hc = mc;
        hc.in_ch = 9;
        hc.out_ch = 1;
        hc.width = c->high_width;
        TRY_RET(make_net(tr, &tr->high, &hc, "high_net", 3, 0));
        tr->has_high = 1;
        tr->high.training = c->train_high;
        hrn_net_requires_grad(&tr->high, c->train_high);
        if (c->train_high) TRY_RET(add_opt(tr, "high_net", &tr->high.params, c->lr_high));
    }
    /* alpha and beta: HRN's trainable output scales (0.01 at the start) */
    hrn_params_init(&tr->scales);
    TRY_RET(hrn_params_add(&tr->scales, "alpha", 1, (int64_t[]){1}, 0, &tr->p_alpha));
    TRY_RET(hrn_params_add(&tr->scales, "beta", 1, (int64_t[]){1}, 0, &tr->p_beta));
    TRY_RET(hrn_params_alloc(&tr->scales));
    double a = c->alpha0, b = c->beta0;
    if (c->init[0] && hrn_nets_load_scalar(c->init, "alpha", &a) == HRN_OK)
        hrn_nets_load_scalar(c->init, "beta", &b);
    hrn_params_tensor(&tr->scales, tr->p_alpha)->data[0] = (float)a;
    hrn_params_tensor(&tr->scales, tr->p_beta)->data[0] = (float)b;
    TRY_RET(add_opt(tr, "scales", &tr->scales, c->lr_scales));
    return c->w.w_adv > 0 ? make_discs(tr) : HRN_OK;
}

static enum hrn_status make_fit(struct hrn_trainer *tr) {
    const struct hrn_train_config *c = &tr->cfg;
    struct hrn_fit_config fc;
    TRY_RET(hrn_config_defaults(&hrn_fit_schema, &fc));
    fc.w = c->w;
    fc.valid_mask = c->stage != HRN_TRAIN_RECON;
    fc.high_mid_photo = 1;
    fc.photo_face_mask = 1;
    fc.use_contour = 1;
    tr->views = calloc((size_t)tr->B, sizeof *tr->views);
    tr->cin = calloc((size_t)tr->B * 3, sizeof *tr->cin);
    tr->coeffs_fixed = calloc((size_t)(tr->B * tr->nc), sizeof(float));
    if (!tr->views || !tr->cin || !tr->coeffs_fixed)
        return hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
    tr->din = tr->cin + tr->B;
    tr->xin = tr->din + tr->B;
    for (int k = 0; k < tr->B; k++) {
        snprintf(tr->views[k].name, sizeof tr->views[k].name, "sample%d", k);
        tr->views[k].n_lm = 68;
    }
    TRY_RET(hrn_fit_init(&tr->fit, &tr->fm, &fc, tr->views, tr->B));
    /* the networks' activations share the fit's tape: a larger reservation */
    hrn_tape_free(&tr->fit.tape);
    TRY_RET(hrn_tape_init(&tr->fit.tape, (size_t)c->arena_mb << 20));
    tr->drv.tape = &tr->fit.tape;
    if (c->stage != HRN_TRAIN_RECON) {
        int64_t R = fc.disp_res;
        int64_t Rd = fc.deform_res;
        tr->P = malloc((size_t)(tr->B * 3 * R * R) * sizeof(float));
        tr->T = malloc((size_t)(tr->B * 3 * R * R) * sizeof(float));
        tr->pred_d = calloc((size_t)(tr->B * 3 * Rd * Rd), sizeof(float));
        tr->pred_x = calloc((size_t)(tr->B * R * R), sizeof(float));
        if (!tr->P || !tr->T || !tr->pred_d || !tr->pred_x)
            return hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
        if (c->stage == HRN_TRAIN_DERETOUCH) {
            size_t n = (size_t)(tr->B * 3 * R * R);
            tr->a0 = malloc(n * sizeof(float));
            tr->ad = malloc(n * sizeof(float));
            tr->pred_a = calloc(n, sizeof(float));
            tr->amask = malloc(n / 3 * sizeof(float));
            if (!tr->a0 || !tr->ad || !tr->pred_a || !tr->amask)
                return hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
        }
    }
    return HRN_OK;
}

/* --- one step --------------------------------------------------------------------------------- */

/* The batch's samples become the fit's views (borrowed arrays; contour targets from the masks). */
static void set_views(struct hrn_trainer *tr) {
    for (int k = 0; k < tr->B; k++) {
        struct hrn_fit_view *v = &tr->views[k];
        const struct hrn_sample *s = &tr->batch.s[k];
        v->img = s->img;
        memcpy(v->lm, s->lm, sizeof v->lm);
        v->mask = s->mask;
        snprintf(v->name, sizeof v->name, "%s", s->name);
        if (s->mask)
            hrn_contour_targets(s->mask, 1, 224, tr->fit.contour_lr + k * 448,
                                tr->fit.contour_lr + k * 448 + 224);
    }
}

static struct hrn_tensor *batch_images(struct hrn_trainer *tr, struct hrn_tape *t) {
    struct hrn_tensor *x = hrn_tape_tensor(t, 4, (int64_t[]){tr->B, 3, 224, 224}, "images");
    if (!x) return NULL;
    for (int k = 0; k < tr->B; k++)
        memcpy(x->data + (int64_t)k * 3 * 224 * 224, tr->batch.s[k].img.data,
               (size_t)3 * 224 * 224 * sizeof(float));
    return x;
}

/* The sum of x over the processes (x itself for one process); NaN when the collective fails (the
 * error message set), which the driver's guard then stops on. */
static double all_sum(struct hrn_trainer *tr, double x) {
    const struct hrn_collective *c = tr->drv.coll;
    if (!c) return x;
    return c->sum_f64(c, &x, 1) == HRN_OK ? x : (double)NAN;
}

/* This process's share of a mean over the global batch of n_local items of sum: sum / (the
 * global count); a zero leaf when it has none (its term then adds 0 across the processes). */
static struct hrn_tensor *global_mean(struct hrn_trainer *tr, struct hrn_tape *t,
                                      struct hrn_tensor *sum, int n_local, int *n_global) {
    double n = all_sum(tr, (double)n_local);
    *n_global = isfinite(n) ? (int)n : 0;
    if (!sum) return hrn_tape_tensor(t, 1, (int64_t[]){1}, "zero");
    return hrn_scale(t, sum, isfinite(n) ? 1.0f / (float)n : NAN);
}

/* Mean squared error of each sample's coefficients against its ground truth, averaged over the
 * samples of the global batch that have it; NULL-free: a zero when none has. */
static struct hrn_tensor *coeff_sup(struct hrn_trainer *tr, struct hrn_tape *t, int *n_used) {
    struct hrn_tensor *sum = NULL;
    int n_local = 0;
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample_gt *g = &tr->batch.s[k].gt;
        if (!g->coeffs || g->n_coeffs != tr->nc) continue;
        struct hrn_tensor *gt = hrn_tape_wrap(t, g->coeffs, 1, (int64_t[]){tr->nc}, "coeffs_gt");
        struct hrn_tensor *e = hrn_mean_all(t, hrn_square(t, hrn_sub(t, tr->cin[k], gt)));
        sum = sum ? hrn_add(t, sum, e) : e;
        n_local++;
    }
    return global_mean(tr, t, sum, n_local, n_used);
}

/* The fit's stage losses (summed over the samples) as a batch mean, with their terms logged. */
static struct hrn_tensor *fit_terms(struct hrn_trainer *tr, struct hrn_tape *t,
                                    enum hrn_fit_stage s, struct hrn_driver_terms *tm) {
    struct hrn_loss_sum ls;
    double atv;
    struct hrn_tensor *total = fit_stage_loss(&tr->fit, s, &ls, &atv);
    if (!total) return NULL;
    for (int i = 0; i < HRN_LOSS_TERM_COUNT; i++)
        if (ls.count[i]) hrn_driver_terms_add(tm, hrn_loss_term_name(i), ls.value[i] / tr->Bg);
    return hrn_scale(t, total, 1.0f / (float)tr->Bg);
}

static struct hrn_tensor *recon_loss(void *user, struct hrn_tape *t, struct hrn_driver_terms *tm) {
    struct hrn_trainer *tr = user;
    struct hrn_tensor *x = batch_images(tr, t);
    struct hrn_tensor *out = hrn_net_forward(t, &tr->recon, x); /* (B,257) */
    if (!out) return NULL;
    for (int k = 0; k < tr->B; k++)
        tr->cin[k] = hrn_reshape(t, hrn_slice(t, out, 0, k, 1), 1, (int64_t[]){tr->nc});
    tr->fit.coeffs_in = tr->cin;
    tr->fit.coeffs_fixed = NULL;
    struct hrn_tensor *total = fit_terms(tr, t, HRN_FIT_COEFF, tm);
    int n_sup = 0;
    struct hrn_tensor *sup = coeff_sup(tr, t, &n_sup);
    if (!total || !sup) return NULL;
    hrn_driver_terms_add(tm, "coeff_sup", n_sup ? (double)sup->data[0] : (double)NAN);
    if (n_sup && tr->cfg.w_coeff_sup > 0)
        total = hrn_add(t, total, hrn_scale(t, sup, tr->cfg.w_coeff_sup));
    return total;
}

/* 2x-1 of a texture */
static void to_pm1(const float *x, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = 2.0f * x[i] - 1.0f;
}

/* mid_net and high_net on the batch: D (B,3,Rd,Rd) into din, disp (B,1,R,R) into xin (HRN's
 * forward_hrn, hrn_method.md 3; T stands in for T', see prepare_geometry). */
static enum hrn_status geometry_nets(struct hrn_trainer *tr, struct hrn_tape *t) {
    int64_t B = tr->B, R = tr->fit.cfg.disp_res, Rd = tr->fit.cfg.deform_res, n = 3 * R * R;
    struct hrn_tensor *x = hrn_tape_tensor(t, 4, (int64_t[]){B, 6, R, R}, "mid_in");
    if (!x) return HRN_ERR_NOMEM;
    for (int64_t k = 0; k < B; k++) {
        memcpy(x->data + k * 2 * n, tr->P + k * n, (size_t)n * sizeof(float));
        to_pm1(tr->T + k * n, n, x->data + k * 2 * n + n);
    }
    struct hrn_tensor *alpha = hrn_params_tensor(&tr->scales, tr->p_alpha);
    struct hrn_tensor *beta = hrn_params_tensor(&tr->scales, tr->p_beta);
    struct hrn_tensor *d = hrn_net_forward(t, &tr->mid, hrn_interp_bilinear(t, x, Rd, Rd, 0));
    d = hrn_mul(t, d, hrn_scale(t, alpha, 0.1f)); /* (B,3,Rd,Rd) */
    if (!d) return hrn_error_prefix(HRN_ERR_INVALID, "mid_net: ");
    for (int64_t k = 0; k < B; k++)
        tr->din[k] = hrn_reshape(t, hrn_slice(t, d, 0, k, 1), 3, (int64_t[]){3, Rd, Rd});
    tr->fit.deform_in = tr->din;
    if (!tr->has_high) return HRN_OK;
    struct hrn_tensor *parts[3] = {hrn_slice(t, x, 1, 0, 3), hrn_slice(t, x, 1, 3, 3),
                                   hrn_interp_bilinear(t, d, R, R, 0)};
    struct hrn_tensor *disp = hrn_net_forward(t, &tr->high, hrn_concat(t, parts, 3, 1));
    disp = hrn_mul(t, disp, hrn_scale(t, beta, 0.1f)); /* (B,1,R,R) */
    if (!disp) return hrn_error_prefix(HRN_ERR_INVALID, "high_net: ");
    for (int64_t k = 0; k < B; k++)
        tr->xin[k] = hrn_reshape(t, hrn_slice(t, disp, 0, k, 1), 3, (int64_t[]){1, R, R});
    tr->fit.disp_in = tr->xin;
    return HRN_OK;
}

/* 3D priors (hrn_method.md 4.4): masked L1 of the maps as used against the ground truth times
 * the valid mask, averaged over the samples that have it. */
static struct hrn_tensor *prior(struct hrn_trainer *tr, struct hrn_tape *t, int high, int *n) {
    struct hrn_tensor *sum = NULL;
    int64_t R = high ? tr->fit.cfg.disp_res : tr->fit.cfg.deform_res, C = high ? 1 : 3;
    int n_local = 0;
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample_gt *g = &tr->batch.s[k].gt;
        float *gt = high ? g->disp : g->deform;
        if (!gt) continue;
        struct hrn_tensor *pred = high ? fit_disp_map(&tr->fit, k) : fit_deform_map(&tr->fit, k);
        struct hrn_tensor *gtt = hrn_tape_wrap(t, gt, 4, (int64_t[]){1, C, R, R}, "map_gt");
        const float *vm = high ? tr->fit.valid : tr->fit.valid_lo;
        struct hrn_tensor *m = vm ? hrn_tape_wrap(t, (float *)vm + k * R * R, 4,
                                                   (int64_t[]){1, 1, R, R}, "valid")
                                  : NULL;
        if (m) gtt = hrn_mask_mul(t, gtt, m);
        struct hrn_tensor *e = hrn_loss_map_l1(t, hrn_reshape(t, pred, 4, (int64_t[]){1, C, R, R}),
                                               gtt, m);
        sum = sum ? hrn_add(t, sum, e) : e;
        n_local++;
    }
    return global_mean(tr, t, sum, n_local, n);
}

/* Whether every sample of the batch has the ground-truth map i (0 D, 1 displacement): the
 * discriminators' real examples. */
static int batch_has_maps(struct hrn_trainer *tr, int i) {
    int all = 1;
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample_gt *g = &tr->batch.s[k].gt;
        if (!(i ? g->disp : g->deform)) all = 0;
    }
    /* the global batch's answer, so every process builds the same graph */
    return tr->drv.coll ? all_sum(tr, all) == tr->drv.coll->size : all;
}

/* This process's share of a mean over the global batch of a mean over its own samples. */
static float batch_share(const struct hrn_trainer *tr) { return (float)tr->B / (float)tr->Bg; }

/* The maps as the meshes use them, as a batch (B,C,R,R): i = 0 D, 1 the displacement. */
static struct hrn_tensor *batch_maps(struct hrn_trainer *tr, struct hrn_tape *t, int i) {
    struct hrn_tensor *parts[64];
    int64_t C = i ? 1 : 3, R = i ? tr->fit.cfg.disp_res : tr->fit.cfg.deform_res;
    HRN_ASSERT(tr->B >= 1 && tr->B <= 64);
    for (int k = 0; k < tr->B; k++) {
        struct hrn_tensor *m = i ? fit_disp_map(&tr->fit, k) : fit_deform_map(&tr->fit, k);
        parts[k] = hrn_reshape(t, m, 4, (int64_t[]){1, C, R, R});
    }
    /* concat takes at most HRN_MAX_SRC inputs: join in chunks */
    struct hrn_tensor *acc = parts[0];
    int k = 1;
    while (k < tr->B) {
        struct hrn_tensor *xs[HRN_MAX_SRC];
        int n = 0;
        xs[n++] = acc;
        while (k < tr->B && n < HRN_MAX_SRC) xs[n++] = parts[k++];
        acc = hrn_concat(t, xs, n, 0);
    }
    return acc;
}

/* The generator's adversarial terms (pix2pix's LSGAN with the real label), and a copy of the
 * fakes for the discriminators' step. */
static struct hrn_tensor *adversarial(struct hrn_trainer *tr, struct hrn_tape *t,
                                      struct hrn_tensor *total, struct hrn_driver_terms *tm) {
    static const char *const NAME[2] = {"adv_mid", "adv_high"};
    for (int i = 0; i < tr->has_disc && total; i++) {
        if (!batch_has_maps(tr, i)) continue;
        struct hrn_tensor *fake = batch_maps(tr, t, i);
        if (!fake) return NULL;
        memcpy(tr->fake[i], fake->data, (size_t)fake->numel * sizeof(float));
        struct hrn_tensor *g = hrn_loss_gan_ls(t, hrn_net_forward(t, &tr->disc[i], fake), 1);
        g = hrn_scale(t, g, batch_share(tr));
        if (!g) return NULL;
        hrn_driver_terms_add(tm, NAME[i], (double)g->data[0]);
        total = hrn_add(t, total, hrn_scale(t, g, tr->cfg.w.w_adv));
    }
    return total;
}

/* The discriminators' loss: 0.5 (mean (D(real) - 1)^2 + mean D(fake)^2), real = the ground-truth
 * maps times the valid masks (as the fakes are), fake = the last generator step's maps. */
static struct hrn_tensor *disc_loss(void *user, struct hrn_tape *t, struct hrn_driver_terms *tm) {
    static const char *const NAME[2] = {"disc_mid", "disc_high"};
    struct hrn_trainer *tr = user;
    struct hrn_tensor *total = NULL;
    for (int i = 0; i < tr->has_disc; i++) {
        if (!batch_has_maps(tr, i)) continue;
        int64_t C = i ? 1 : 3, R = i ? tr->fit.cfg.disp_res : tr->fit.cfg.deform_res, n = R * R;
        const float *valid = i ? tr->fit.valid : tr->fit.valid_lo;
        struct hrn_tensor *real = hrn_tape_tensor(t, 4, (int64_t[]){tr->B, C, R, R}, "real");
        if (!real) return NULL;
        for (int64_t k = 0; k < tr->B; k++) {
            const float *g = i ? tr->batch.s[k].gt.disp : tr->batch.s[k].gt.deform;
            for (int64_t c = 0; c < C; c++)
                for (int64_t p = 0; p < n; p++)
                    real->data[(k * C + c) * n + p] = g[c * n + p] * (valid ? valid[k * n + p] : 1.0f);
        }
        struct hrn_tensor *fake =
            hrn_tape_wrap(t, tr->fake[i], 4, (int64_t[]){tr->B, C, R, R}, "fake");
        struct hrn_tensor *d = hrn_loss_gan_ls_d(t, hrn_net_forward(t, &tr->disc[i], real),
                                                 hrn_net_forward(t, &tr->disc[i], fake));
        d = hrn_scale(t, d, batch_share(tr));
        if (!d) return NULL;
        hrn_driver_terms_add(tm, NAME[i], (double)d->data[0]);
        total = total ? hrn_add(t, total, d) : d;
    }
    return total;
}

static struct hrn_tensor *geometry_loss(void *user, struct hrn_tape *t,
                                        struct hrn_driver_terms *tm) {
    struct hrn_trainer *tr = user;
    tr->fit.coeffs_in = NULL;
    tr->fit.coeffs_fixed = tr->coeffs_fixed;
    if (geometry_nets(tr, t) != HRN_OK) return NULL;
    enum hrn_fit_stage s = tr->has_high ? HRN_FIT_HIGH : HRN_FIT_MID;
    struct hrn_tensor *total = fit_terms(tr, t, s, tm);
    if (!total) return NULL;
    for (int high = 0; high <= tr->has_high; high++) {
        int n = 0;
        struct hrn_tensor *p = prior(tr, t, high, &n);
        if (!p) return NULL;
        hrn_driver_terms_add(tm, high ? "prior_disp" : "prior_deform",
                             n ? (double)p->data[0] : (double)NAN);
        float w = high ? tr->cfg.w_prior_high : tr->cfg.w_prior_mid;
        if (n && w > 0) total = hrn_add(t, total, hrn_scale(t, p, w));
    }
    return tr->has_disc ? adversarial(tr, t, total, tm) : total;
}

/* Base coefficients of the batch: the ground truth, or a frozen net_recon's prediction. */
static enum hrn_status base_coeffs(struct hrn_trainer *tr) {
    if (tr->cfg.base == 1) {
        struct hrn_tape *t = &tr->fit.tape;
        hrn_tape_reset(t);
        struct hrn_tensor *out = hrn_net_forward(t, &tr->recon, batch_images(tr, t));
        if (!out) return hrn_error_prefix(HRN_ERR_INVALID, "net_recon: ");
        memcpy(tr->coeffs_fixed, out->data, (size_t)(tr->B * tr->nc) * sizeof(float));
        hrn_tape_reset(t);
        return HRN_OK;
    }
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample *s = &tr->batch.s[k];
        if (!s->gt.coeffs || s->gt.n_coeffs != tr->nc)
            return hrn_error_set(HRN_ERR_INVALID, "sample %s has no ground-truth coefficients "
                                 "(nets.base = gt needs them; augmentation drops them; or use "
                                 "nets.base = net)", s->name);
        memcpy(tr->coeffs_fixed + k * tr->nc, s->gt.coeffs, (size_t)tr->nc * sizeof(float));
    }
    return HRN_OK;
}

/* Everything the geometry networks take that does not depend on their weights: the base mesh's
 * valid masks, position maps P and textures T (HRN precomputes these offline, training.md 1.2).
 * HRN feeds high_net the texture T' re-sampled through M1; here T stands in for it (the two
 * differ by the deformation's few-millimetre shift of the sampling positions). */
static enum hrn_status prepare_geometry(struct hrn_trainer *tr) {
    struct hrn_fit *f = &tr->fit;
    int64_t N = tr->fm.n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res, n = 3 * R * R;
    TRY_RET(base_coeffs(tr));
    f->coeffs_fixed = tr->coeffs_fixed;
    f->coeffs_in = f->deform_in = f->disp_in = NULL;
    enum hrn_status st = HRN_OK;
    float *S = malloc((size_t)(6 * N) * sizeof(float)), *pos = malloc((size_t)n * sizeof(float));
    if (!S || !pos) {
        st = hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
        goto fail;
    }
    HRN_TRY(fit_valid_alloc(f));
    for (int k = 0; k < tr->B; k++) {
        HRN_TRY(fit_valid_mask_view(f, k, f->valid + k * R * R, f->valid_lo + k * Rd * Rd));
        HRN_TRY(hrn_fit_shape(f, k, 0, S));
        HRN_TRY(fit_to_uv(f, &f->uv_hi, S, tr->P + k * n));
        HRN_TRY(hrn_fit_posed(f, k, 0, S + 3 * N));
        HRN_TRY(fit_texture_of(f, k, S + 3 * N, pos, tr->T + k * n));
    }
fail:
    free(S);
    free(pos);
    return st;
}

/* --- the de-retouching stage ------------------------------------------------------------------ */

/* The UNet's inputs and targets per sample, from the ground truth (hrn_method.md 2.6): the
 * texture T unwrapped from the photo through the true M1, A0 the clean albedo, the target the
 * albedo with its detail, on the texels of the UV skin region the face mask lets through (the
 * valid mask). Synthetic data has all of these; real photos have no albedo truth. */
static enum hrn_status prepare_deretouch(struct hrn_trainer *tr) {
    struct hrn_fit *f = &tr->fit;
    int64_t N = tr->fm.n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res, n = R * R;
    enum hrn_status st = HRN_OK;
    float *V = malloc((size_t)(3 * N) * sizeof(float)), *pos = malloc((size_t)(3 * n) * sizeof(float));
    if (!V || !pos) {
        st = hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
        goto fail;
    }
    HRN_TRY(base_coeffs(tr));
    f->coeffs_in = f->deform_in = f->disp_in = NULL;
    f->coeffs_fixed = tr->coeffs_fixed;
    HRN_TRY(fit_valid_alloc(f));
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample *s = &tr->batch.s[k];
        const struct hrn_sample_gt *g = &s->gt;
        if (!g->albedo || !g->albedo_detail || !g->deform) {
            st = hrn_error_set(HRN_ERR_INVALID, "sample %s has no albedo or deformation ground "
                               "truth (the de-retouching stage needs both)", s->name);
            goto fail;
        }
        memcpy(tr->pred_d + k * 3 * Rd * Rd, g->deform, (size_t)(3 * Rd * Rd) * sizeof(float));
        memcpy(tr->a0 + k * 3 * n, g->albedo, (size_t)(3 * n) * sizeof(float));
        memcpy(tr->ad + k * 3 * n, g->albedo_detail, (size_t)(3 * n) * sizeof(float));
    }
    f->deform_fixed = tr->pred_d;
    for (int k = 0; k < tr->B; k++) {
        const struct hrn_sample_gt *g = &tr->batch.s[k].gt;
        HRN_TRY(fit_valid_mask_view(f, k, f->valid + k * n, f->valid_lo + k * Rd * Rd));
        HRN_TRY(hrn_fit_posed(f, k, 1, V));
        HRN_TRY(fit_texture_of(f, k, V, pos, tr->T + k * 3 * n));
        for (int64_t i = 0; i < n; i++)
            tr->amask[k * n + i] = f->valid[k * n + i] * f->uv_hi.mask[i] * (g->skin ? g->skin[i] : 1.0f);
    }
fail:
    f->deform_fixed = NULL;
    free(V);
    free(pos);
    return st;
}

/* A' = A0 (T + 1/phi)/(T0 + 1/phi), T0 the soft-light blend of T with the UNet's layer (run at 2R
 * as HRN does), against the detailed albedo: masked L1. The A0 baseline is logged beside it. */
static struct hrn_tensor *deretouch_loss(void *user, struct hrn_tape *t,
                                         struct hrn_driver_terms *tm) {
    struct hrn_trainer *tr = user;
    int64_t B = tr->B, R = tr->fit.cfg.disp_res, n = 3 * R * R;
    struct hrn_tensor *tn = hrn_tape_tensor(t, 4, (int64_t[]){B, 3, R, R}, "Tn");
    if (!tn) return NULL;
    for (int64_t i = 0; i < B * n; i++) tn->data[i] = 2.0f * tr->T[i] - 1.0f;
    struct hrn_tensor *blend = hrn_net_forward(t, &tr->unet, hrn_resize_bilinear_ad(t, tn, 2 * R, 2 * R));
    struct hrn_tensor *a0 = hrn_tape_wrap(t, tr->a0, 4, (int64_t[]){B, 3, R, R}, "A0");
    struct hrn_tensor *ad = hrn_tape_wrap(t, tr->ad, 4, (int64_t[]){B, 3, R, R}, "A_detail");
    struct hrn_tensor *m = hrn_tape_wrap(t, tr->amask, 4, (int64_t[]){B, 1, R, R}, "mask");
    struct hrn_tensor *ap = hrn_deretouch(t, tn, hrn_resize_bilinear_ad(t, blend, R, R), a0);
    /* the L1's divisor is the mask sum of the global batch: this process's share rescales its
     * own (exact while its mask sum is at least 1, the divisor's floor) */
    double msum = 0;
    for (int64_t i = 0; i < B * R * R; i++) msum += 3.0 * (double)tr->amask[i];
    float share = (float)(fmax(msum, 1.0) / fmax(all_sum(tr, msum), 1.0));
    struct hrn_tensor *l = hrn_scale(t, hrn_loss_map_l1(t, ap, ad, m), share);
    struct hrn_tensor *l0 = hrn_scale(t, hrn_loss_map_l1(t, a0, ad, m), share);
    if (!l || !l0) return NULL;
    memcpy(tr->pred_a, ap->data, (size_t)(B * n) * sizeof(float));
    hrn_driver_terms_add(tm, "albedo_l1", (double)l->data[0]);
    hrn_driver_terms_add(tm, "albedo_l1_a0", (double)l0->data[0]);
    return l;
}

/* --- the loss log ------------------------------------------------------------------------------ */

static void losses_header(struct hrn_trainer *tr, const struct hrn_driver_terms *tm) {
    fprintf(tr->losses, "step\tepoch\tlr\ttotal");
    for (int i = 0; i < tm->n; i++) fprintf(tr->losses, "\t%s", tm->name[i]);
    fprintf(tr->losses, "\tgrad_norm\n");
    tr->n_terms = tm->n;
}

/* One row per step; no timings, so a resumed run's file equals an uninterrupted one's. */
static void losses_row(struct hrn_trainer *tr, const struct hrn_driver_result *r) {
    if (!tr->losses) { /* not rank 0 */
        tr->rows++;
        return;
    }
    if (!tr->n_terms && tr->rows == 0) losses_header(tr, &r->terms);
    fprintf(tr->losses, "%lld\t%lld\t%.9g\t%.9g", (long long)tr->step, (long long)tr->epoch,
            (double)r->lr, r->total);
    for (int i = 0; i < r->terms.n; i++) fprintf(tr->losses, "\t%.9g", r->terms.value[i]);
    fprintf(tr->losses, "\t%.9g\n", r->grad_norm);
    fflush(tr->losses);
    tr->rows++;
}

/* What a stage needs before its step, and its loss. */
static enum hrn_status prepare_stage(struct hrn_trainer *tr) {
    switch (tr->cfg.stage) {
    case HRN_TRAIN_RECON: return HRN_OK;
    case HRN_TRAIN_DERETOUCH: return prepare_deretouch(tr);
    default: return prepare_geometry(tr);
    }
}

static hrn_driver_loss_fn stage_loss(const struct hrn_trainer *tr) {
    switch (tr->cfg.stage) {
    case HRN_TRAIN_RECON: return recon_loss;
    case HRN_TRAIN_DERETOUCH: return deretouch_loss;
    default: return geometry_loss;
    }
}

/* --- validation ----------------------------------------------------------------------------- */

/* Metrics over held-out samples, in inference mode: landmark RMS (crop pixels), mean vertex
 * error (mm, level 1 against the ground truth), map errors (mm, where known) and the loss. */
struct val_metrics {
    double lm_px, vert_mm, deform_mm, disp_mm, albedo, loss;
    int n, n_vert, n_deform, n_disp, n_albedo;
};

/* Mean |A' - A_detail| over sample k's counted texels (the de-retouching stage). */
static void val_albedo(const struct hrn_trainer *tr, int k, struct val_metrics *m) {
    int64_t n = (int64_t)tr->fit.cfg.disp_res * tr->fit.cfg.disp_res;
    double e = 0, w = 0;
    for (int64_t c = 0; c < 3; c++)
        for (int64_t i = 0; i < n; i++) {
            double mk = (double)tr->amask[k * n + i];
            e += mk * fabs((double)tr->pred_a[(k * 3 + c) * n + i] - (double)tr->ad[(k * 3 + c) * n + i]);
            w += mk;
        }
    if (w > 0) m->albedo += e / w, m->n_albedo++;
}

static void val_accumulate(struct hrn_trainer *tr, struct val_metrics *m, double loss) {
    struct hrn_fit *f = &tr->fit;
    int64_t N = tr->fm.n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res;
    double mmu = (double)tr->fm.mm_per_unit;
    float *S = malloc((size_t)(3 * N) * sizeof(float));
    for (int k = 0; k < tr->B && S; k++) {
        const struct hrn_sample_gt *g = &tr->batch.s[k].gt;
        m->loss += loss;
        m->n++;
        if (tr->has_unet) { /* the geometry is the ground truth's here: only the albedo counts */
            val_albedo(tr, k, m);
            m->lm_px = (double)NAN;
            continue;
        }
        m->lm_px += hrn_fit_landmark_rms(f, k, NULL);
        if (g->verts && g->n_verts == N && hrn_fit_shape(f, k, 1, S) == HRN_OK) {
            double e = 0;
            for (int64_t i = 0; i < N; i++) {
                double dx = S[3 * i] - g->verts[3 * i], dy = S[3 * i + 1] - g->verts[3 * i + 1];
                double dz = S[3 * i + 2] - g->verts[3 * i + 2];
                e += sqrt(dx * dx + dy * dy + dz * dz);
            }
            m->vert_mm += e / (double)N * mmu;
            m->n_vert++;
        }
        if (g->deform && f->deform_fixed) {
            double e = 0;
            const float *d = f->deform_fixed + k * 3 * Rd * Rd;
            const float *v = f->valid_lo ? f->valid_lo + k * Rd * Rd : NULL;
            for (int64_t i = 0; i < 3 * Rd * Rd; i++) {
                float w = v ? v[i % (Rd * Rd)] : 1.0f;
                e += fabs((double)(d[i] * w - g->deform[i] * w));
            }
            m->deform_mm += e / (double)(3 * Rd * Rd) * mmu;
            m->n_deform++;
        }
        if (g->disp && f->disp_fixed) {
            double e = 0;
            const float *d = f->disp_fixed + k * R * R, *v = f->valid ? f->valid + k * R * R : NULL;
            for (int64_t i = 0; i < R * R; i++) {
                float w = v ? v[i] : 1.0f;
                e += fabs((double)(d[i] * w - g->disp[i] * w));
            }
            m->disp_mm += e / (double)(R * R) * mmu;
            m->n_disp++;
        }
    }
    free(S);
}

/* --- the validation picture --------------------------------------------------------------- */

/* Copy a (C,h,w) map into column `col` of row `row` of the grid, resized to 224 (bilinear),
 * through f(x) into [0,1] grey. */
static void grid_map(struct hrn_image *g, int row, int col, const float *map, int64_t C, int64_t r,
                     float scale, float offset) {
    float *one = malloc((size_t)(r * r) * sizeof(float)), *big = malloc(224 * 224 * sizeof(float));
    if (!one || !big) goto done;
    for (int64_t i = 0; i < r * r; i++) {
        double m = 0;
        for (int64_t c = 0; c < C; c++)
            m += (double)map[c * r * r + i] * (double)map[c * r * r + i];
        m = C > 1 ? sqrt(m) : (double)map[i];
        float v = (float)m * scale + offset;
        one[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    hrn_resize_bilinear(one, 1, (int)r, (int)r, big, 224, 224, 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++)
                g->data[((size_t)c * g->h + (size_t)(row * 224 + y)) * g->w + (size_t)(col * 224 + x)] =
                    big[y * 224 + x];
done:
    free(one);
    free(big);
}

static void grid_image(struct hrn_image *g, int row, int col, const struct hrn_image *im) {
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 224; y++)
            memcpy(g->data + ((size_t)c * g->h + (size_t)(row * 224 + y)) * g->w + col * 224,
                   im->data + ((size_t)c * 224 + (size_t)y) * 224, 224 * sizeof(float));
}

/* Row k of the grid: input | render at the stage's level | shaded geometry (neutral light) over
 * the input | |D| (0..5 mm) | displacement (grey = 0, +-1 mm). The predictions are copied into
 * the fit's parameters (coefficients fixed, D, displacement) so its plain renderers see them;
 * the caller restores. */
static enum hrn_status grid_row(struct hrn_trainer *tr, struct hrn_image *g, int k) {
    struct hrn_fit *f = &tr->fit;
    int64_t N = tr->fm.n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res;
    int level = tr->cfg.stage == HRN_TRAIN_RECON ? 0 : tr->has_high ? 2 : 1;
    float mm = 1.0f / tr->fm.mm_per_unit;
    struct hrn_image a = {0}, b = {0};
    enum hrn_status st = HRN_OK;
    float *V = malloc((size_t)(3 * N) * sizeof(float));
    float *d = calloc((size_t)(3 * Rd * Rd + R * R), sizeof(float)), *x = d + 3 * Rd * Rd;
    if (!V || !d) {
        st = hrn_error_set(HRN_ERR_NOMEM, "validation picture: no memory");
        goto fail;
    }
    /* the maps as the meshes use them (times the valid masks) */
    for (int64_t i = 0; f->deform_fixed && i < 3 * Rd * Rd; i++)
        d[i] = f->deform_fixed[k * 3 * Rd * Rd + i] *
               (f->valid_lo ? f->valid_lo[k * Rd * Rd + i % (Rd * Rd)] : 1.0f);
    for (int64_t i = 0; f->disp_fixed && i < R * R; i++)
        x[i] = f->disp_fixed[k * R * R + i] * (f->valid ? f->valid[k * R * R + i] : 1.0f);
    grid_image(g, k, 0, &tr->batch.s[k].img);
    HRN_TRY(hrn_fit_render(f, k, level, &a, NULL));
    grid_image(g, k, 1, &a);
    HRN_TRY(hrn_fit_posed(f, k, level ? 1 : 0, V));
    /* a fixed light from the upper left front, so the relief shows whatever the fitted light */
    float gamma[HRN_N_GAMMA] = {0};
    for (int c = 0; c < 3; c++)
        gamma[9 * c] = -0.35f, gamma[9 * c + 1] = -0.25f, gamma[9 * c + 2] = 0.35f,
        gamma[9 * c + 3] = 0.2f;
    HRN_TRY(hrn_render_geometry(&tr->fm, &f->cam, V, gamma, &tr->batch.s[k].img, &b));
    grid_image(g, k, 2, &b);
    grid_map(g, k, 3, d, 3, Rd, 1.0f / (5 * mm), 0.0f);
    grid_map(g, k, 4, x, 1, R, 0.5f / mm, 0.5f);
fail:
    hrn_image_free(&a);
    hrn_image_free(&b);
    free(V);
    free(d);
    return st;
}

/* A (3,R,R) UV map into column `col` of row `row`, resized to 224 (bilinear), clipped. */
static void grid_uv(struct hrn_image *g, int row, int col, const float *map, int64_t r) {
    float *big = malloc((size_t)3 * 224 * 224 * sizeof(float));
    if (!big) return;
    hrn_resize_bilinear(map, 3, (int)r, (int)r, big, 224, 224, 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) {
                float v = big[((size_t)c * 224 + (size_t)y) * 224 + (size_t)x];
                g->data[((size_t)c * g->h + (size_t)(row * 224 + y)) * g->w + (size_t)(col * 224 + x)] =
                    v < 0 ? 0 : v > 1 ? 1 : v;
            }
    free(big);
}

/* De-retouching rows: input | texture T | A0 (clean) | A' | the detailed albedo. */
static void grid_row_deretouch(struct hrn_trainer *tr, struct hrn_image *g, int k) {
    int64_t R = tr->fit.cfg.disp_res, n = 3 * R * R;
    grid_image(g, k, 0, &tr->batch.s[k].img);
    grid_uv(g, k, 1, tr->T + k * n, R);
    grid_uv(g, k, 2, tr->a0 + k * n, R);
    grid_uv(g, k, 3, tr->pred_a + k * n, R);
    grid_uv(g, k, 4, tr->ad + k * n, R);
}

static enum hrn_status val_picture(struct hrn_trainer *tr) {
    enum hrn_status st = HRN_OK;
    int n = tr->cfg.vis_samples < tr->B ? tr->cfg.vis_samples : tr->B;
    struct hrn_image g = {0};
    char path[1100];
    if (n <= 0) return HRN_OK;
    HRN_TRY(hrn_image_init(&g, 5 * 224, n * 224, 3));
    for (int k = 0; k < n; k++) {
        if (tr->has_unet) grid_row_deretouch(tr, &g, k);
        else HRN_TRY(grid_row(tr, &g, k));
    }
    static const float WHITE[3] = {1, 1, 1};
    static const char *const LAB[2][5] = {
        {"input", "render", "geometry", "deformation", "displacement"},
        {"input", "texture", "albedo a0", "de-retouched", "albedo truth"}};
    for (int c = 0; c < 5; c++) hrn_draw_text(&g, c * 224 + 4, 4, 2, LAB[tr->has_unet][c], WHITE);
    snprintf(path, sizeof path, "%s/val_samples.png", tr->cfg.out);
    HRN_TRY(hrn_image_write_png(path, &g, 8));
fail:
    hrn_image_free(&g);
    return st;
}

static void set_training(struct hrn_trainer *tr, int on) {
    if (tr->has_recon) tr->recon.training = on && tr->cfg.stage == HRN_TRAIN_RECON &&
                                            tr->cfg.train_recon;
    if (tr->has_mid) tr->mid.training = on && tr->cfg.train_mid;
    if (tr->has_high) tr->high.training = on && tr->cfg.train_high;
    if (tr->has_unet) tr->unet.training = on;
}

/* The step's predictions (tape tensors, gone at the next reset) into plain arrays the fit reads
 * instead, for the metrics and the picture. */
static void keep_predictions(struct hrn_trainer *tr) {
    struct hrn_fit *f = &tr->fit;
    int64_t R = f->cfg.disp_res, Rd = f->cfg.deform_res;
    for (int k = 0; k < tr->B; k++) {
        if (f->coeffs_in && f->coeffs_in[k])
            memcpy(tr->coeffs_fixed + k * tr->nc, f->coeffs_in[k]->data,
                   (size_t)tr->nc * sizeof(float));
        if (f->deform_in && f->deform_in[k])
            memcpy(tr->pred_d + k * 3 * Rd * Rd, f->deform_in[k]->data,
                   (size_t)(3 * Rd * Rd) * sizeof(float));
        if (f->disp_in && f->disp_in[k])
            memcpy(tr->pred_x + k * R * R, f->disp_in[k]->data, (size_t)(R * R) * sizeof(float));
    }
    f->coeffs_fixed = tr->coeffs_fixed;
    f->deform_fixed = f->deform_in ? tr->pred_d : NULL;
    f->disp_fixed = f->disp_in ? tr->pred_x : NULL;
    f->coeffs_in = f->deform_in = f->disp_in = NULL;
}

/* The loss and the metrics of the first val_samples held-out samples rounded up to whole global
 * batches (dataset order, wrapping; no augmentation), batch by batch with this process's batch
 * size: the same samples and the same means whatever the number of processes (rank 0 validates
 * alone, its batch then normalised as a whole batch). */
static enum hrn_status validate(struct hrn_trainer *tr, struct val_metrics *m) {
    enum hrn_status st = HRN_OK;
    memset(m, 0, sizeof *m);
    if (!tr->has_val || tr->cfg.val_samples <= 0) return HRN_OK;
    int64_t n = tr->cfg.val_samples < tr->ds_val.n ? tr->cfg.val_samples : tr->ds_val.n;
    n = (n + tr->Bg - 1) / tr->Bg * tr->Bg;
    const int Bg = tr->Bg;
    tr->Bg = tr->B;
    struct hrn_batch keep = tr->batch;
    struct hrn_batch vb = {0};
    uint64_t seeds[3] = {tr->recon.dropout_seed, tr->mid.dropout_seed, tr->high.dropout_seed};
    set_training(tr, 0);
    vb.s = calloc((size_t)tr->B, sizeof *vb.s);
    if (!vb.s) {
        st = hrn_error_set(HRN_ERR_NOMEM, "validation: no memory");
        goto fail;
    }
    vb.n = tr->B;
    tr->batch = vb;
    for (int64_t first = 0; first < n; first += tr->B) {
        for (int k = 0; k < tr->B; k++) {
            hrn_sample_free(&vb.s[k]);
            HRN_TRY(hrn_dataset_get(&tr->ds_val, (first + k) % tr->ds_val.n, &vb.s[k]));
        }
        set_views(tr);
        struct hrn_driver_result r;
        HRN_TRY(prepare_stage(tr));
        /* evaluate only: optimizer 0 is named for the guard, nothing moves */
        char ctx[160];
        snprintf(ctx, sizeof ctx, "validation at step %lld (samples %s ...)", (long long)tr->step,
                 vb.s[0].name);
        HRN_TRY(hrn_driver_step(&tr->drv, 1u, stage_loss(tr), tr, ctx, 0, &r));
        keep_predictions(tr);
        val_accumulate(tr, m, r.total);
        if (first == 0) HRN_TRY(val_picture(tr));
    }
fail:
    tr->Bg = Bg;
    for (int k = 0; vb.s && k < vb.n; k++) hrn_sample_free(&vb.s[k]);
    free(vb.s);
    tr->batch = keep;
    tr->fit.coeffs_in = tr->fit.deform_in = tr->fit.disp_in = NULL;
    tr->fit.deform_fixed = tr->fit.disp_fixed = NULL;
    tr->recon.dropout_seed = seeds[0];
    tr->mid.dropout_seed = seeds[1];
    tr->high.dropout_seed = seeds[2];
    set_training(tr, 1);
    if (tr->batch.s) set_views(tr);
    return st;
}

static double mean_or_nan(double s, int n) { return n ? s / n : (double)NAN; }

static enum hrn_status validate_and_log(struct hrn_trainer *tr) {
    struct val_metrics m;
    if (tr->rank != 0) return HRN_OK;
    /* rank 0 alone: its tape and driver leave the collectives (the others train on and meet it
     * at the next step's) */
    const struct hrn_collective *c = tr->drv.coll;
    tr->drv.coll = tr->fit.tape.coll = NULL;
    enum hrn_status st = validate(tr, &m);
    tr->drv.coll = tr->fit.tape.coll = c;
    TRY_RET(st);
    if (!m.n) return HRN_OK;
    if (!tr->val) {
        tr->val = fopen(tr->val_path, "a");
        if (!tr->val) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", tr->val_path,
                                           strerror(errno));
        if (ftell(tr->val) == 0)
            fprintf(tr->val, "step\tsamples\tloss\tlm_px\tvert_mm\tdeform_mm\tdisp_mm\talbedo_l1\n");
    }
    fprintf(tr->val, "%lld\t%d\t%.9g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n", (long long)tr->step, m.n,
            m.loss / m.n, m.lm_px / m.n, mean_or_nan(m.vert_mm, m.n_vert),
            mean_or_nan(m.deform_mm, m.n_deform), mean_or_nan(m.disp_mm, m.n_disp),
            mean_or_nan(m.albedo, m.n_albedo));
    fflush(tr->val);
    char png[1100];
    snprintf(png, sizeof png, "%s/curves.png", tr->cfg.out);
    if (tr->rows > 0) TRY_RET(hrn_train_plot(tr->losses_path, tr->val_path, png));
    hrn_log(HRN_LOG_INFO, "validation at step %lld: loss %.5g, landmarks %.3f px, vertices %.3f "
            "mm, D %.4f mm, disp %.4f mm, albedo %.4f (%d samples)", (long long)tr->step,
            m.loss / m.n, m.lm_px / m.n, mean_or_nan(m.vert_mm, m.n_vert),
            mean_or_nan(m.deform_mm, m.n_deform), mean_or_nan(m.disp_mm, m.n_disp),
            mean_or_nan(m.albedo, m.n_albedo), m.n);
    return HRN_OK;
}

/* --- checkpoints ------------------------------------------------------------------------------ */

static void ckpt_path(const struct hrn_trainer *tr, int64_t step, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/ckpt_%08lld.h5", tr->cfg.out, (long long)step);
}

/* Steps of the checkpoints in the run directory, ascending; returns how many (at most cap). */
static int list_ckpts(const char *dir, int64_t *steps, int cap) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "ckpt_%lld.%7s", &s, tail) == 2 && !strcmp(tail, "h5"))
            steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            int64_t x = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = x;
        }
    return n;
}

static enum hrn_status save_ckpt(struct hrn_trainer *tr) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *h = NULL;
    char path[1100];
    ckpt_path(tr, tr->step, path, sizeof path);
    struct hrn_net *nets[6];
    const char *groups[6];
    int n = 0;
    if (tr->has_unet) nets[n] = &tr->unet, groups[n++] = "generator";
    if (tr->has_recon) nets[n] = &tr->recon, groups[n++] = "net_recon";
    if (tr->has_mid) nets[n] = &tr->mid, groups[n++] = "mid_net";
    if (tr->has_high) nets[n] = &tr->high, groups[n++] = "high_net";
    if (tr->has_disc > 0) nets[n] = &tr->disc[0], groups[n++] = "disc_mid";
    if (tr->has_disc > 1) nets[n] = &tr->disc[1], groups[n++] = "disc_high";
    const char *sn[2] = {"alpha", "beta"};
    double sv[2] = {0, 0};
    int ns = tr->scales.allocated ? 2 : 0;
    if (ns) {
        sv[0] = hrn_params_tensor(&tr->scales, tr->p_alpha)->data[0];
        sv[1] = hrn_params_tensor(&tr->scales, tr->p_beta)->data[0];
    }
    HRN_TRY(hrn_h5_create(path, &h));
    HRN_TRY(hrn_nets_write(h, nets, groups, n, sn, sv, ns));
    if (ns) { /* the exact float bits (the "alpha", "beta" scalars above are for hrn-fit) */
        float ab[2] = {(float)sv[0], (float)sv[1]};
        HRN_TRY(hrn_h5_write_f32(h, "state/scales", 1, (int64_t[]){2}, ab));
    }
    HRN_TRY(hrn_driver_save(&tr->drv, h));
    HRN_TRY(hrn_h5_attr_write_str(h, "/", "hrn_train_format", CKPT_FORMAT));
    HRN_TRY(hrn_h5_attr_write_str(h, "/", "stage", STAGE_NAME[tr->cfg.stage]));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "step", tr->step));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "epoch", tr->epoch));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "pos", tr->pos));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "losses_rows", tr->rows));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "driver_step", tr->drv.step));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "world_size", tr->dist ? tr->dist->size : 1));
    for (int i = 0; i < n; i++) {
        char a[64];
        snprintf(a, sizeof a, "dropout_seed_%s", groups[i]);
        /* as a string: the seed is a full 64-bit value */
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)nets[i]->dropout_seed);
        HRN_TRY(hrn_h5_attr_write_str(h, "/", a, v));
    }
    st = hrn_h5_commit(h);
    h = NULL;
    if (st != HRN_OK) goto fail;
    tr->last_ckpt_time = hrn_time_now();
    /* keep the last keep_last */
    int64_t steps[4096];
    int nc = list_ckpts(tr->cfg.out, steps, 4096);
    for (int i = 0; i + tr->cfg.keep_last < nc; i++) {
        ckpt_path(tr, steps[i], path, sizeof path);
        remove(path);
    }
    return HRN_OK;
fail:
    hrn_h5_close(h);
    return hrn_error_prefix(st, "checkpoint at step %lld: ", (long long)tr->step);
}

static enum hrn_status load_ckpt(struct hrn_trainer *tr, const char *path) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *h = NULL;
    char fmt[64], stage[32];
    int64_t v[5];
    if (tr->has_recon) HRN_TRY(hrn_net_load(&tr->recon, path, "net_recon"));
    if (tr->has_mid) HRN_TRY(hrn_net_load(&tr->mid, path, "mid_net"));
    if (tr->has_high) HRN_TRY(hrn_net_load(&tr->high, path, "high_net"));
    if (tr->has_unet) HRN_TRY(hrn_net_load(&tr->unet, path, "generator"));
    if (tr->has_disc > 0) HRN_TRY(hrn_net_load(&tr->disc[0], path, "disc_mid"));
    if (tr->has_disc > 1) HRN_TRY(hrn_net_load(&tr->disc[1], path, "disc_high"));
    HRN_TRY(hrn_h5_open(path, &h));
    if (hrn_h5_attr_read_str(h, "/", "hrn_train_format", fmt, sizeof fmt) != HRN_OK ||
        strcmp(fmt, CKPT_FORMAT)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: not an hrn-train checkpoint", path);
        goto fail;
    }
    HRN_TRY(hrn_h5_attr_read_str(h, "/", "stage", stage, sizeof stage));
    if (strcmp(stage, STAGE_NAME[tr->cfg.stage])) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: a checkpoint of stage %s, this run is %s", path,
                           stage, STAGE_NAME[tr->cfg.stage]);
        goto fail;
    }
    static const char *const KEYS[5] = {"step", "epoch", "pos", "losses_rows", "driver_step"};
    for (int i = 0; i < 5; i++) HRN_TRY(hrn_h5_attr_read_i64(h, "/", KEYS[i], &v[i]));
    tr->step = v[0], tr->epoch = v[1], tr->pos = v[2], tr->rows = v[3], tr->drv.step = v[4];
    int64_t world = 1, now = tr->dist ? tr->dist->size : 1;
    if (hrn_h5_attr_read_i64(h, "/", "world_size", &world) != HRN_OK) world = 1; /* before MPI */
    if (world != now && tr->rank == 0)
        hrn_log(HRN_LOG_WARN, "%s was written by a run of %lld processes, this one has %lld: the "
                "batches are the same, the sums are added in another order (not bit for bit)",
                path, (long long)world, (long long)now);
    if (tr->scales.allocated) {
        float ab[2];
        HRN_TRY(hrn_h5_read_f32(h, "state/scales", 1, (int64_t[]){2}, ab));
        hrn_params_tensor(&tr->scales, tr->p_alpha)->data[0] = ab[0];
        hrn_params_tensor(&tr->scales, tr->p_beta)->data[0] = ab[1];
    }
    HRN_TRY(hrn_driver_load(&tr->drv, h, path));
    struct hrn_net *nets[3] = {&tr->recon, &tr->mid, &tr->high};
    const char *groups[3] = {"net_recon", "mid_net", "high_net"};
    int has[3] = {tr->has_recon, tr->has_mid, tr->has_high};
    for (int i = 0; i < 3; i++) {
        if (!has[i]) continue;
        char a[64], s[32];
        snprintf(a, sizeof a, "dropout_seed_%s", groups[i]);
        HRN_TRY(hrn_h5_attr_read_str(h, "/", a, s, sizeof s));
        nets[i]->dropout_seed = strtoull(s, NULL, 10);
    }
    hrn_dnnl_weights_changed();
fail:
    hrn_h5_close(h);
    return st == HRN_OK ? st : hrn_error_prefix(st, "resuming from %s: ", path);
}

/* Keep the header and the first `rows` rows of a log (what the checkpoint covers). */
static enum hrn_status truncate_log(const char *path, int64_t rows) {
    enum hrn_status st = HRN_OK;
    FILE *in = fopen(path, "r");
    struct hrn_tmpfile tf = {0};
    if (!in) return rows == 0 ? HRN_OK : hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path,
                                                        strerror(errno));
    HRN_TRY(hrn_tmpfile_open(&tf, path));
    char line[8192];
    int64_t kept = -1; /* the header is row -1 */
    while (kept < rows && fgets(line, sizeof line, in)) {
        fputs(line, tf.fp);
        kept++;
    }
    fclose(in);
    in = NULL;
    if (kept < rows) {
        hrn_tmpfile_close(&tf, 0);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %lld rows, the checkpoint covers %lld", path,
                             (long long)kept, (long long)rows);
    }
    return hrn_tmpfile_close(&tf, 1);
fail:
    if (in) fclose(in);
    hrn_tmpfile_close(&tf, 0);
    return st;
}

/* --- open, run, close ----------------------------------------------------------------------- */

static enum hrn_status resume(struct hrn_trainer *tr, int *resumed) {
    int64_t steps[4096];
    *resumed = 0;
    int n = list_ckpts(tr->cfg.out, steps, 4096);
    if (n == 0) return HRN_OK;
    char path[1100];
    ckpt_path(tr, steps[n - 1], path, sizeof path);
    TRY_RET(load_ckpt(tr, path));
    if (tr->rank == 0) TRY_RET(truncate_log(tr->losses_path, tr->rows));
    hrn_log(HRN_LOG_INFO, "resumed from %s: step %lld, epoch %lld", path, (long long)tr->step,
            (long long)tr->epoch);
    *resumed = 1;
    return HRN_OK;
}

/* A data-parallel run: this process's share of the global batch, and the collectives on the tape
 * (synchronised batch norm, dropout keyed by global row) and the driver (losses, gradients). */
static enum hrn_status set_dist(struct hrn_trainer *tr, struct hrn_dist *dist) {
    int world = dist ? dist->size : 1;
    tr->dist = dist;
    tr->rank = dist ? dist->rank : 0;
    tr->Bg = tr->cfg.batch;
    if (tr->Bg % world)
        return hrn_error_set(HRN_ERR_CONFIG, "batch.size = %d is not a multiple of the %d "
                             "processes: each takes an equal share of every batch", tr->Bg, world);
    tr->B = tr->Bg / world;
    return HRN_OK;
}

static void attach_dist(struct hrn_trainer *tr) {
    const struct hrn_collective *c = hrn_dist_collective(tr->dist);
    if (!c) return;
    tr->dist->coll.row0 = (int64_t)tr->rank * tr->B;
    tr->fit.tape.coll = c;
    tr->drv.coll = c;
}

/* Every process starts from rank 0's values: the optimizers' parameters and the BatchNorm
 * buffers (Horovod's and DDP's rule; they are equal anyway when all start from the same seed or
 * checkpoint, and this makes sure). */
static enum hrn_status sync_start(struct hrn_trainer *tr) {
    const struct hrn_collective *c = tr->drv.coll;
    if (!c) return HRN_OK;
    TRY_RET(hrn_driver_broadcast(&tr->drv));
    struct hrn_net *nets[7] = {&tr->recon, &tr->mid, &tr->high, &tr->unet, &tr->disc[0],
                               &tr->disc[1], NULL};
    for (int i = 0; nets[i]; i++)
        if (nets[i]->buffers.allocated)
            TRY_RET(c->bcast_f32(c, nets[i]->buffers.values, (int64_t)nets[i]->buffers.n));
    hrn_dnnl_weights_changed();
    return HRN_OK;
}

/* Rank 0 owns the run directory's files: the logs, config.ini and the checkpoints. */
static enum hrn_status open_logs(struct hrn_trainer *tr, int resumed) {
    const struct hrn_train_config *cfg = &tr->cfg;
    if (tr->rank != 0) return HRN_OK;
    if (!resumed) {
        /* a fresh run: no stale logs or checkpoints of another run */
        remove(tr->losses_path);
        remove(tr->val_path);
    }
    char cfgp[1100];
    snprintf(cfgp, sizeof cfgp, "%s/config.ini", cfg->out);
    TRY_RET(hrn_config_save(&hrn_train_schema, cfg, cfgp));
    tr->losses = fopen(tr->losses_path, "a");
    if (!tr->losses)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", tr->losses_path, strerror(errno));
    return HRN_OK;
}

enum hrn_status hrn_trainer_open(struct hrn_trainer **out, const struct hrn_train_config *cfg,
                                 int want_resume) {
    return hrn_trainer_open_dist(out, cfg, want_resume, NULL);
}

enum hrn_status hrn_trainer_open_dist(struct hrn_trainer **out, const struct hrn_train_config *cfg,
                                      int want_resume, struct hrn_dist *dist) {
    enum hrn_status st = HRN_OK;
    struct hrn_trainer *tr = calloc(1, sizeof *tr);
    *out = NULL;
    if (!tr) return hrn_error_set(HRN_ERR_NOMEM, "hrn-train: no memory");
    tr->cfg = *cfg;
    HRN_TRY(set_dist(tr, dist));
    hrn_params_init(&tr->scales);
    HRN_TRY(hrn_fit_mkdirs(cfg->out));
    snprintf(tr->losses_path, sizeof tr->losses_path, "%s/losses.tsv", cfg->out);
    snprintf(tr->val_path, sizeof tr->val_path, "%s/val.tsv", cfg->out);
    HRN_TRY(hrn_train_load_model(cfg->model, &tr->fm));
    tr->nc = hrn_face_model_n_coeffs(&tr->fm);
    HRN_TRY(hrn_face_model_compact(&tr->fm));
    HRN_TRY(open_data(tr)); /* validates a folder list before anything trains */
    HRN_TRY(make_fit(tr));
    HRN_TRY(make_nets(tr));
    attach_dist(tr);
    int resumed = 0;
    if (want_resume) HRN_TRY(resume(tr, &resumed));
    int64_t old[1];
    if (!want_resume && list_ckpts(cfg->out, old, 1) > 0) {
        /* never mix two runs' checkpoints, and never delete a user's */
        st = hrn_error_set(HRN_ERR_INVALID, "%s holds checkpoints of an earlier run (ckpt_%08lld.h5, "
                           "...): --resume to continue it, or another run.out", cfg->out,
                           (long long)old[0]);
        goto fail;
    }
    HRN_TRY(open_logs(tr, resumed));
    HRN_TRY(sync_start(tr));
    if (tr->rows > 0) tr->n_terms = -1; /* the header is there */
    hrn_augment_defaults(&tr->aug);
    tr->aug.enabled = cfg->augment;
    HRN_TRY(hrn_loader_open(&tr->ld, &tr->ds, &tr->aug,
                            &(struct hrn_loader_config){.seed = (uint64_t)cfg->seed,
                                                        .batch = tr->Bg, .shuffle = 1,
                                                        .drop_last = 1,
                                                        .threads = cfg->loader_threads,
                                                        .shard = tr->rank,
                                                        .shards = dist ? dist->size : 1},
                            tr->epoch, tr->pos));
    tr->last_ckpt_time = hrn_time_now();
    *out = tr;
    return HRN_OK;
fail:
    hrn_trainer_close(tr);
    return st;
}

void hrn_trainer_close(struct hrn_trainer *tr) {
    if (!tr) return;
    hrn_loader_close(tr->ld);
    hrn_batch_free(&tr->batch);
    if (tr->losses) fclose(tr->losses);
    if (tr->val) fclose(tr->val);
    for (int k = 0; tr->views && k < tr->B; k++) memset(&tr->views[k], 0, sizeof tr->views[k]);
    hrn_fit_free(&tr->fit);
    free(tr->views);
    free(tr->cin);
    free(tr->coeffs_fixed);
    free(tr->P);
    free(tr->T);
    free(tr->pred_d);
    free(tr->pred_x);
    free(tr->a0);
    free(tr->ad);
    free(tr->amask);
    free(tr->pred_a);
    hrn_net_free(&tr->unet);
    hrn_driver_free(&tr->drv);
    hrn_net_free(&tr->recon);
    hrn_net_free(&tr->mid);
    hrn_net_free(&tr->high);
    hrn_net_free(&tr->disc[0]);
    hrn_net_free(&tr->disc[1]);
    free(tr->fake[0]);
    free(tr->fake[1]);
    hrn_params_free(&tr->scales);
    hrn_dataset_free(&tr->ds);
    hrn_dataset_free(&tr->ds_val);
    hrn_face_model_free(&tr->fm);
    free(tr);
}

int64_t hrn_trainer_step(const struct hrn_trainer *tr) { return tr->step; }

void hrn_trainer_timing(const struct hrn_trainer *tr, double *data_s, double *prep_s,
                        double *step_s) {
    *data_s = tr->t_data;
    *prep_s = tr->t_prep;
    *step_s = tr->t_step;
}

double hrn_trainer_reduce_seconds(const struct hrn_trainer *tr) { return tr->drv.t_reduce; }

static enum hrn_status train_step(struct hrn_trainer *tr, struct hrn_driver_result *r) {
    double t0 = hrn_time_now();
    TRY_RET(hrn_loader_next(tr->ld, &tr->batch));
    double t1 = hrn_time_now();
    set_views(tr);
    TRY_RET(prepare_stage(tr));
    double t2 = hrn_time_now();
    tr->t_data += t1 - t0;
    tr->t_prep += t2 - t1;
    char ctx[256];
    int n = snprintf(ctx, sizeof ctx, "step %lld (samples", (long long)tr->step + 1);
    for (int k = 0; k < tr->B && n < (int)sizeof ctx - 40; k++)
        n += snprintf(ctx + n, sizeof ctx - (size_t)n, " %s", tr->batch.s[k].name);
    snprintf(ctx + n, sizeof ctx - (size_t)n, ")");
    TRY_RET(hrn_driver_step(&tr->drv, tr->opts, stage_loss(tr), tr, ctx, 1, r));
    if (tr->has_disc && batch_has_maps(tr, 0)) {
        /* the discriminators' own step on the generator step's fakes (pix2pix's order) */
        struct hrn_driver_result rd;
        TRY_RET(hrn_driver_step(&tr->drv, tr->opt_disc, disc_loss, tr, ctx, 1, &rd));
        for (int i = 0; i < rd.terms.n; i++)
            hrn_driver_terms_add(&r->terms, rd.terms.name[i], rd.terms.value[i]);
    }
    tr->t_step += hrn_time_now() - t2;
    tr->step++;
    if (tr->scales.allocated)
        hrn_log(HRN_LOG_DEBUG, "step %lld: alpha %.9g beta %.9g", (long long)tr->step,
                (double)hrn_params_tensor(&tr->scales, tr->p_alpha)->data[0],
                (double)hrn_params_tensor(&tr->scales, tr->p_beta)->data[0]);
    tr->epoch = tr->batch.epoch;
    tr->pos = tr->batch.pos;
    losses_row(tr, r);
    return HRN_OK;
}

enum hrn_status hrn_trainer_run(struct hrn_trainer *tr, hrn_train_hook hook, void *user) {
    enum hrn_status st = HRN_OK;
    const struct hrn_train_config *c = &tr->cfg;
    int64_t total = c->optim.iterations;
    struct hrn_progress prog;
    hrn_progress_begin(&prog, STAGE_NAME[c->stage], total);
    double t0 = hrn_time_now();
    int64_t first = tr->step;
    if (tr->step == 0 && c->val_every > 0) HRN_TRY(validate_and_log(tr));
    while (tr->step < total) {
        struct hrn_driver_result r;
        HRN_TRY(train_step(tr, &r));
        double el = hrn_time_now() - t0;
        hrn_progress_update(&prog, tr->step, "loss %.5g lr %.2e %.1f samples/s", r.total,
                            (double)r.lr, (double)((tr->step - first) * tr->Bg) / (el > 0 ? el : 1));
        int last = tr->step == total;
        if ((c->val_every > 0 && tr->step % c->val_every == 0) || last)
            HRN_TRY(validate_and_log(tr));
        if (tr->rank == 0 && (tr->step % c->ckpt_every == 0 || last ||
            (c->ckpt_minutes > 0 && hrn_time_now() - tr->last_ckpt_time > 60 * c->ckpt_minutes)))
            HRN_TRY(save_ckpt(tr));
        if (hook) HRN_TRY(hook(user, tr->step));
    }
fail:
    hrn_progress_end(&prog);
    return st;
}
