/* bench_train.c: time per image of a training step of each hrn-train stage at HRN's widths,
 * against the same networks' step in PyTorch CPU, in one run.
 *
 *     build/bench/bench_train [--threads 2] [--reps 5] [--quick] [--no-torch]
 *
 * For stage recon (net_recon, ResNet-50 width 64) and stage geometry (mid_net and high_net, ngf
 * 64, 9 blocks; PatchGAN discriminators ndf 64 with weights.w_adv = 1; nets.base = gt), at batch 8
 * and 32, on synthetic synth-bfm faces made on the fly (one loader thread):
 *  1. the real trainer (hrn_trainer_open/run; run directory under /tmp, removed at the end): two
 *     warm-up steps then --reps timed steps. The figures are hrn_trainer_timing's deltas over the
 *     timed steps (not wall time: the run writes a checkpoint after its last step): the whole step
 *     = data wait + geometry preparation (valid masks, P, T) + optimizer steps (forward, backward,
 *     Adam, the discriminators' step included), per image.
 *  2. the networks alone in C (hrn_net_* and autodiff, as bench_nets times them): recon = ResNet-50
 *     forward, mean of squares of the 257 outputs, backward, Adam; geometry = the trainer's
 *     generator step through mid_net -> high_net with alpha/beta and the discriminators'
 *     least-squares generator terms, then the discriminators' own step on the detached fakes
 *     (real = fixed random maps), each with its own Adam; mean of squares stands in for the
 *     renderer's losses. Median step after warm-up, per image.
 *  3. the same networks' steps in PyTorch (bench/bench_train_torch.py, started here with
 *     /usr/bin/python3, same thread count, shapes, batch, train() mode and Adam; it prints
 *     "ROW <name> <ms per step>").
 * The renderer and the face-model losses of step 1 have no PyTorch counterpart here (Debian's
 * PyTorch has no differentiable rasterizer), so the ratio compares the networks only.
 *
 * A case whose estimated memory (activations of the networks plus the renderer's tape, from the
 * peaks bench_nets measured) is over 16 GB or over the memory available is skipped, saying why
 * (geometry at batch 32: about 49 GB). --quick: widths 8, one residual block, batch 2 and 4, one
 * warm-up and two timed steps, to check that everything runs (a few seconds per case when the
 * machine is idle). The figures need an idle machine: a warning is printed when the load average
 * says another program runs (OpenMP barriers then wait for descheduled threads).
 * Exit 0 on success; 1 on a failure, named (a failed PyTorch run included: --no-torch runs
 * without it); 2 on a bad command line.
 */
#include "hrn_train.h"

#include <cblas.h>
#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { MAX_CASES = 4, MAX_REPS = 64 };

/* return a failure to the caller (functions without cleanup) */
#define TRY_RET(expr)                    \
    do {                                 \
        enum hrn_status s_ = (expr);     \
        if (s_ != HRN_OK) return s_;     \
    } while (0)

struct opts {
    int threads, reps, warm, quick, torch;
    int recon_w, gen_w, n_blocks, disc_w; /* HRN's 64, 64, 9, 64; tiny with --quick */
};

struct bcase {
    int geometry, batch;
    char name[32];     /* "recon_b8": the row name shared with the PyTorch script */
    char skip[200];    /* why it did not run, or "" */
    double est_gb;     /* estimated step memory of the trainer */
    double data_ms, prep_ms, opt_ms; /* trainer, per image */
    double nets_ms, torch_ms;        /* networks alone, per image (0: not measured) */
    double rss_gb;     /* the process's peak resident memory after the case */
};

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_d);
    return v[n / 2];
}

static double peak_rss_gb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss * 1024.0 / 1e9; /* Linux: kilobytes */
}

static double mem_available_gb(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024.0 / 1e9;
}

/* --- memory estimate -------------------------------------------------------------------------- */

/* Step memory in GB per image. The networks' figures are bench_nets' measured tape peaks of a
 * training step at width 64 (ResNet-50 at 224: 0.30 GB; pix2pix at 256: 1.06 GB, so about 1/16
 * of that for mid_net at 64), scaled linearly with the width (activations are channels x pixels).
 * The PatchGANs (three forwards per step on the 256 map: the generator's term, real and fake) are
 * about 0.1 GB at ndf 64. The renderer's tape (hrn-fit's forward model per sample: level 0 at
 * 224 for recon; levels 1 and 2 with the 256 UV maps for geometry) is a rough per-image margin;
 * --quick prints the peak resident memory with tiny networks, which is mostly that part. */
static double est_nets_gb_per_image(const struct bcase *c, const struct opts *o) {
    if (!c->geometry) return 0.30 * o->recon_w / 64.0;
    return 1.06 * o->gen_w / 64.0 * (1.0 + 1.0 / 16.0) + 0.10 * o->disc_w / 64.0;
}

static void estimate(struct bcase *c, const struct opts *o, double avail_gb) {
    double render = c->geometry ? 0.30 : 0.10;
    c->est_gb = c->batch * (est_nets_gb_per_image(c, o) + render);
    if (c->est_gb > 16.0)
        snprintf(c->skip, sizeof c->skip, "skipped: estimated %.0f GB of step memory (over 16 GB)",
                 c->est_gb);
    else if (avail_gb > 0 && c->est_gb > 0.9 * avail_gb)
        snprintf(c->skip, sizeof c->skip, "skipped: estimated %.1f GB, %.1f GB available",
                 c->est_gb, avail_gb);
}

/* --- 1. the trainer ----------------------------------------------------------------------------- */

static void train_config(struct hrn_train_config *c, const struct bcase *bc, const struct opts *o,
                         const char *dir) {
    hrn_config_defaults(&hrn_train_schema, c);
    c->stage = bc->geometry ? HRN_TRAIN_GEOMETRY : HRN_TRAIN_RECON;
    snprintf(c->out, sizeof c->out, "%.400s/%s", dir, bc->name);
    snprintf(c->model, sizeof c->model, "synth-bfm");
    c->data_kind = 0;
    c->synth_count = 100000;
    c->synth_val = 0;
    c->loader_threads = 1;
    c->recon_width = o->recon_w;
    c->mid_width = c->high_width = o->gen_w;
    c->n_blocks = o->n_blocks;
    c->disc_width = o->disc_w;
    c->w.w_adv = 1.0f;
    c->base = 0; /* ground-truth coefficients as the base mesh */
    c->batch = bc->batch;
    c->optim.iterations = o->warm + o->reps;
    /* no validation, no checkpoint until the one written after the last step */
    c->val_every = 0;
    c->val_samples = 0;
    c->vis_samples = 0;
    c->ckpt_every = 1000000;
    c->ckpt_minutes = 0;
    c->keep_last = 1;
    /* the step's tape holds the networks' activations too; pages are touched only as used */
    c->arena_mb = (int)(bc->est_gb * 1.3 * 1024.0) + 1024;
}

struct snap {
    int64_t at;        /* the step after which to take the snapshot */
    double data, prep, step;
    struct hrn_trainer *tr;
};

/* The timing counters once the warm-up steps are done. */
static enum hrn_status snap_hook(void *user, int64_t step) {
    struct snap *s = user;
    if (step == s->at) hrn_trainer_timing(s->tr, &s->data, &s->prep, &s->step);
    return HRN_OK;
}

static enum hrn_status bench_trainer(struct bcase *bc, const struct opts *o, const char *dir) {
    enum hrn_status st = HRN_OK;
    struct hrn_train_config cfg;
    train_config(&cfg, bc, o, dir);
    struct hrn_trainer *tr = NULL;
    HRN_TRY(hrn_trainer_open(&tr, &cfg, 0));
    struct snap s = {.at = o->warm, .tr = tr};
    HRN_TRY(hrn_trainer_run(tr, snap_hook, &s));
    double data, prep, step;
    hrn_trainer_timing(tr, &data, &prep, &step);
    double per = 1e3 / ((double)o->reps * bc->batch);
    bc->data_ms = (data - s.data) * per;
    bc->prep_ms = (prep - s.prep) * per;
    bc->opt_ms = (step - s.step) * per;
    printf("  %-12s trainer: step %8.1f ms/image = data %.1f + prep %.1f + optimizer %.1f\n",
           bc->name, bc->data_ms + bc->prep_ms + bc->opt_ms, bc->data_ms, bc->prep_ms, bc->opt_ms);
    fflush(stdout);
fail:
    hrn_trainer_close(tr);
    if (st != HRN_OK) hrn_error_prefix(st, "%s, trainer: ", bc->name);
    return st;
}

/* --- 2. the networks alone in C ----------------------------------------------------------------- */

struct gnets {
    struct hrn_net mid, high, disc[2];
    struct hrn_params scales; /* alpha, beta */
    struct hrn_optim opt[5];  /* mid, high, scales, disc[0], disc[1]: one per store */
    struct hrn_tape tape;
    int64_t B, R, Rd;
    float *x, *real[2], *fake[2]; /* (B,6,R,R); maps (B,3,Rd,Rd) and (B,1,R,R) */
};

static struct hrn_params *gnets_store(struct gnets *g, int i) {
    switch (i) {
    case 0: return &g->mid.params;
    case 1: return &g->high.params;
    case 2: return &g->scales;
    default: return &g->disc[i - 3].params;
    }
}

static float *rand_buf(struct hrn_rng *r, int64_t n) {
    float *p = malloc((size_t)n * sizeof *p);
    if (p) hrn_rng_fill_uniform(r, p, (size_t)n, -1, 1);
    return p;
}

static enum hrn_status gnets_init(struct gnets *g, const struct opts *o, int64_t B) {
    g->B = B;
    g->R = 256;
    g->Rd = 64;
    struct hrn_net_config mc = {.kind = HRN_NET_PIX2PIX, .in_ch = 6, .out_ch = 3,
                                .width = o->gen_w, .n_blocks = o->n_blocks};
    TRY_RET(hrn_net_init(&g->mid, &mc, 2));
    mc.in_ch = 9;
    mc.out_ch = 1;
    TRY_RET(hrn_net_init(&g->high, &mc, 3));
    for (int i = 0; i < 2; i++)
        TRY_RET(hrn_net_init(&g->disc[i], &(struct hrn_net_config){.kind = HRN_NET_PATCHGAN,
                             .in_ch = i ? 1 : 3, .width = o->disc_w}, 4 + (uint64_t)i));
    g->mid.training = g->high.training = g->disc[0].training = g->disc[1].training = 1;
    hrn_params_init(&g->scales);
    TRY_RET(hrn_params_add(&g->scales, "alpha", 1, (int64_t[]){1}, 0, NULL));
    TRY_RET(hrn_params_add(&g->scales, "beta", 1, (int64_t[]){1}, 0, NULL));
    TRY_RET(hrn_params_alloc(&g->scales));
    hrn_params_tensor(&g->scales, 0)->data[0] = hrn_params_tensor(&g->scales, 1)->data[0] = 0.01f;
    for (int i = 0; i < 5; i++) {
        struct hrn_optim_config oc = {.kind = HRN_OPTIM_ADAM, .lr = 1e-4f};
        if (i >= 3) oc = (struct hrn_optim_config){.kind = HRN_OPTIM_ADAM, .lr = 2e-4f,
                                                   .beta1 = 0.5f};
        TRY_RET(hrn_optim_init(&g->opt[i], &oc));
    }
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    int64_t n0 = B * 3 * g->Rd * g->Rd, n1 = B * g->R * g->R;
    g->x = rand_buf(&r, B * 6 * g->R * g->R);
    g->real[0] = rand_buf(&r, n0);
    g->real[1] = rand_buf(&r, n1);
    g->fake[0] = rand_buf(&r, n0);
    g->fake[1] = rand_buf(&r, n1);
    if (!g->x || !g->real[0] || !g->real[1] || !g->fake[0] || !g->fake[1])
        return hrn_error_set(HRN_ERR_NOMEM, "networks: no memory for the inputs");
    return HRN_OK;
}

static void gnets_free(struct gnets *g) {
    hrn_net_free(&g->mid);
    hrn_net_free(&g->high);
    hrn_net_free(&g->disc[0]);
    hrn_net_free(&g->disc[1]);
    hrn_params_free(&g->scales);
    hrn_tape_free(&g->tape);
    free(g->x);
    for (int i = 0; i < 2; i++) {
        free(g->real[i]);
        free(g->fake[i]);
    }
}

/* The generator's loss as the trainer builds it (geometry_nets + adversarial), mean of squares of
 * the maps in place of the renderer's terms; the maps are copied out as the next fakes. */
static struct hrn_tensor *gen_loss(struct gnets *g) {
    struct hrn_tape *t = &g->tape;
    int64_t B = g->B, R = g->R, Rd = g->Rd;
    struct hrn_tensor *x = hrn_tape_wrap(t, g->x, 4, (int64_t[]){B, 6, R, R}, "x");
    struct hrn_tensor *alpha = hrn_params_tensor(&g->scales, 0);
    struct hrn_tensor *beta = hrn_params_tensor(&g->scales, 1);
    struct hrn_tensor *d = hrn_net_forward(t, &g->mid, hrn_interp_bilinear(t, x, Rd, Rd, 0));
    d = hrn_mul(t, d, hrn_scale(t, alpha, 0.1f));
    if (!d) return NULL;
    struct hrn_tensor *parts[3] = {hrn_slice(t, x, 1, 0, 3), hrn_slice(t, x, 1, 3, 3),
                                   hrn_interp_bilinear(t, d, R, R, 0)};
    struct hrn_tensor *disp = hrn_net_forward(t, &g->high, hrn_concat(t, parts, 3, 1));
    disp = hrn_mul(t, disp, hrn_scale(t, beta, 0.1f));
    if (!disp) return NULL;
    memcpy(g->fake[0], d->data, (size_t)d->numel * sizeof(float));
    memcpy(g->fake[1], disp->data, (size_t)disp->numel * sizeof(float));
    struct hrn_tensor *loss = hrn_add(t, hrn_mean_all(t, hrn_square(t, d)),
                                      hrn_mean_all(t, hrn_square(t, disp)));
    loss = hrn_add(t, loss, hrn_loss_gan_ls(t, hrn_net_forward(t, &g->disc[0], d), 1));
    return hrn_add(t, loss, hrn_loss_gan_ls(t, hrn_net_forward(t, &g->disc[1], disp), 1));
}

/* The discriminators' step: 0.5 (mean (D(real) - 1)^2 + mean D(fake)^2) each. */
static struct hrn_tensor *disc_loss(struct gnets *g) {
    struct hrn_tape *t = &g->tape;
    struct hrn_tensor *total = NULL;
    for (int i = 0; i < 2; i++) {
        int64_t C = i ? 1 : 3, R = i ? g->R : g->Rd;
        int64_t shape[4] = {g->B, C, R, R};
        struct hrn_tensor *real = hrn_tape_wrap(t, g->real[i], 4, shape, "real");
        struct hrn_tensor *fake = hrn_tape_wrap(t, g->fake[i], 4, shape, "fake");
        struct hrn_tensor *l = hrn_loss_gan_ls_d(t, hrn_net_forward(t, &g->disc[i], real),
                                                 hrn_net_forward(t, &g->disc[i], fake));
        total = total ? hrn_add(t, total, l) : l;
    }
    return total;
}

/* One loss, backward, and an Adam step of the stores [first, last). */
static enum hrn_status update(struct gnets *g, struct hrn_tensor *loss, int first, int last) {
    if (!loss) return hrn_error_prefix(HRN_ERR_INVALID, "networks: ");
    for (int i = 0; i < 5; i++) hrn_params_zero_grad(gnets_store(g, i));
    TRY_RET(hrn_tape_backward(&g->tape, loss));
    for (int i = first; i < last; i++) TRY_RET(hrn_optim_step(&g->opt[i], gnets_store(g, i)));
    return HRN_OK;
}

static enum hrn_status gnets_step(struct gnets *g) {
    hrn_tape_reset(&g->tape);
    TRY_RET(update(g, gen_loss(g), 0, 3));
    hrn_tape_reset(&g->tape);
    return update(g, disc_loss(g), 3, 5);
}

/* Step memory of the networks alone: the estimate without the renderer, plus slack. */
static size_t nets_arena_bytes(const struct bcase *c, const struct opts *o) {
    return (size_t)(c->batch * est_nets_gb_per_image(c, o) * 1.3 * 1e9) + (512u << 20);
}

static enum hrn_status nets_geometry(struct bcase *bc, const struct opts *o, double *ms) {
    enum hrn_status st = HRN_OK;
    struct gnets g = {0};
    double times[MAX_REPS];
    HRN_TRY(gnets_init(&g, o, bc->batch));
    HRN_TRY(hrn_tape_init(&g.tape, nets_arena_bytes(bc, o)));
    for (int i = 0; i < o->warm + o->reps; i++) {
        double t0 = hrn_time_now();
        HRN_TRY(gnets_step(&g));
        if (i >= o->warm) times[i - o->warm] = 1e3 * (hrn_time_now() - t0);
    }
    *ms = median(times, o->reps);
fail:
    gnets_free(&g);
    return st;
}

static enum hrn_status recon_step(struct hrn_net *net, struct hrn_tape *t, struct hrn_optim *opt,
                                  float *x, int64_t B) {
    hrn_tape_reset(t);
    struct hrn_tensor *xt = hrn_tape_wrap(t, x, 4, (int64_t[]){B, 3, 224, 224}, "x");
    struct hrn_tensor *y = hrn_net_forward(t, net, xt);
    if (!y) return hrn_error_prefix(HRN_ERR_INVALID, "net_recon: ");
    struct hrn_tensor *loss = hrn_mean_all(t, hrn_square(t, y));
    hrn_params_zero_grad(&net->params);
    TRY_RET(hrn_tape_backward(t, loss));
    return hrn_optim_step(opt, &net->params);
}

static enum hrn_status nets_recon(struct bcase *bc, const struct opts *o, double *ms) {
    enum hrn_status st = HRN_OK;
    struct hrn_net net = {0};
    struct hrn_tape t = {0};
    struct hrn_optim opt;
    struct hrn_rng r;
    double times[MAX_REPS];
    int64_t B = bc->batch;
    hrn_rng_seed(&r, 5);
    float *x = rand_buf(&r, B * 3 * 224 * 224);
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "networks: no memory for the input");
    HRN_TRY(hrn_net_init(&net, &(struct hrn_net_config){.kind = HRN_NET_RESNET50,
                         .width = o->recon_w}, 1));
    net.training = 1;
    HRN_TRY(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM, .lr = 1e-4f}));
    HRN_TRY(hrn_tape_init(&t, nets_arena_bytes(bc, o)));
    for (int i = 0; i < o->warm + o->reps; i++) {
        double t0 = hrn_time_now();
        HRN_TRY(recon_step(&net, &t, &opt, x, B));
        if (i >= o->warm) times[i - o->warm] = 1e3 * (hrn_time_now() - t0);
    }
    *ms = median(times, o->reps);
fail:
    hrn_tape_free(&t);
    hrn_net_free(&net);
    free(x);
    return st;
}

static enum hrn_status bench_nets_c(struct bcase *bc, const struct opts *o) {
    double ms = 0;
    enum hrn_status st = bc->geometry ? nets_geometry(bc, o, &ms) : nets_recon(bc, o, &ms);
    hrn_layers_release(); /* the cached primitives are per shape: do not carry them over */
    if (st != HRN_OK) return hrn_error_prefix(st, "%s, networks: ", bc->name);
    bc->nets_ms = ms / bc->batch;
    printf("  %-12s networks alone: %8.1f ms/image (median step %.1f ms)\n", bc->name, bc->nets_ms,
           ms);
    fflush(stdout);
    return HRN_OK;
}

/* --- 3. PyTorch --------------------------------------------------------------------------------- */

/* 0 when every requested row came back, 1 otherwise (said why). */
static int run_torch(struct bcase *cs, int n, const struct opts *o) {
    char dir[512], rows[128] = "", cmd[1100];
    snprintf(dir, sizeof dir, "%s", __FILE__); /* the script sits next to this file */
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, "bench");
    for (int i = 0; i < n; i++) {
        if (cs[i].skip[0]) continue;
        size_t len = strlen(rows);
        snprintf(rows + len, sizeof rows - len, "%s%s", len ? "," : "", cs[i].name);
    }
    if (!rows[0]) return 0;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench_train_torch.py --threads %d --reps %d "
             "--warm %d --rows %s --recon-width %d --gen-width %d --n-blocks %d --disc-width %d",
             dir, o->threads, o->reps, o->warm, rows, o->recon_w, o->gen_w, o->n_blocks, o->disc_w);
    printf("running PyTorch: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "bench_train: cannot start /usr/bin/python3 (--no-torch runs without)\n");
        return 1;
    }
    char line[256];
    while (fgets(line, sizeof line, p)) {
        char name[64];
        double ms;
        if (sscanf(line, "ROW %63s %lf", name, &ms) != 2) {
            fputs(line, stdout);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(cs[i].name, name)) cs[i].torch_ms = ms / cs[i].batch;
    }
    int rc = pclose(p), missing = 0;
    for (int i = 0; i < n; i++) missing += !cs[i].skip[0] && cs[i].torch_ms <= 0;
    if (rc != 0 || missing)
        fprintf(stderr, "bench_train: bench_train_torch.py exited with status %d, %d row(s) "
                "missing (its messages are above; --no-torch runs without PyTorch)\n", rc, missing);
    return rc != 0 || missing;
}

/* --- report, run directory, main --------------------------------------------------------------- */

static void print_table(const struct bcase *cs, int n, const struct opts *o) {
    printf("\nms per image, %d thread(s) (%d warm-up step(s) excluded; trainer: mean over %d timed "
           "steps, networks: median step / batch)\n", o->threads, o->warm, o->reps);
    printf("%-9s %5s | %8s %7s %7s %9s | %9s %9s %9s\n", "stage", "batch", "hrn step", "data",
           "prep", "optimizer", "hrn nets", "torch", "torch/hrn");
    for (int i = 0; i < n; i++) {
        const struct bcase *c = &cs[i];
        const char *stage = c->geometry ? "geometry" : "recon";
        if (c->skip[0]) {
            printf("%-9s %5d | %s\n", stage, c->batch, c->skip);
            continue;
        }
        printf("%-9s %5d | %8.1f %7.1f %7.1f %9.1f | %9.1f ", stage, c->batch,
               c->data_ms + c->prep_ms + c->opt_ms, c->data_ms, c->prep_ms, c->opt_ms, c->nets_ms);
        if (c->torch_ms > 0) printf("%9.1f %9.2f\n", c->torch_ms, c->torch_ms / c->nets_ms);
        else printf("%9s %9s\n", "-", "-");
    }
    printf("hrn step = data wait + geometry preparation + optimizer steps (forward, backward, Adam "
           "of the networks and the discriminators, and hrn-fit's renderer and losses per sample).\n"
           "The renderer and the face-model losses have no PyTorch counterpart here (Debian's "
           "PyTorch has no differentiable rasterizer): the ratio torch/hrn compares the networks "
           "alone (> 1: hrn is faster).\n");
}

/* Remove the run directories (files one level down: config.ini, losses.tsv, ckpt_*.h5). */
static void remove_tree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int len = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof path) continue; /* not ours: our names are short */
        DIR *sub = depth < 2 ? opendir(path) : NULL;
        if (sub) {
            closedir(sub);
            remove_tree(path, depth + 1);
        } else {
            remove(path);
        }
    }
    if (d) closedir(d);
    rmdir(dir);
}

static int parse_args(int argc, char **argv, struct opts *o) {
    *o = (struct opts){.threads = 0, .reps = 5, .warm = 2, .torch = 1, .recon_w = 64,
                       .gen_w = 64, .n_blocks = 9, .disc_w = 64};
    int reps = -1; /* not given */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o->quick = 1;
        else if (!strcmp(argv[i], "--no-torch")) o->torch = 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            o->threads = atoi(argv[++i]);
            if (o->threads < 1) return 0;
        }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else return 0;
    }
    if (o->quick) {
        *o = (struct opts){.threads = o->threads, .reps = 2, .warm = 1, .quick = 1,
                           .torch = o->torch, .recon_w = 8, .gen_w = 8, .n_blocks = 1,
                           .disc_w = 8};
    }
    if (reps != -1) o->reps = reps; /* atoi: garbage is 0, refused below */
    if (o->reps < 1 || o->reps > MAX_REPS) return 0;
    if (o->threads <= 0) {
        const char *e = getenv("OMP_NUM_THREADS");
        o->threads = e && atoi(e) > 0 ? atoi(e) : 2;
    }
    return 1;
}

/* libgomp read the environment before main: set the pools directly, and export the values for
 * the PyTorch child and the loader thread */
/* Another busy program makes OpenMP's barriers wait for descheduled threads: on a 2-core VM a
 * second 2-thread OpenMP program made both 30-50x slower (docs/PERFORMANCE.md). Say so. */
static void warn_load(int threads) {
    double l1 = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l1) != 1) l1 = 0;
    if (f) fclose(f);
    if (l1 > 0.5 * threads)
        printf("WARNING: load average %.1f before starting: another program is running; the "
               "figures of this run are not benchmarks\n", l1);
}

static void set_threads(int threads) {
    char tb[16];
    snprintf(tb, sizeof tb, "%d", threads);
    setenv("OMP_NUM_THREADS", tb, 1);
    setenv("OPENBLAS_NUM_THREADS", tb, 1);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    printf("bench_train: %d OpenMP threads (oneDNN, OpenBLAS core %s), %ld online CPUs, "
           "%.1f GB available\n", omp_get_max_threads(), hrn_blas_core(),
           sysconf(_SC_NPROCESSORS_ONLN), mem_available_gb());
}

static enum hrn_status run_case(struct bcase *c, const struct opts *o, const char *dir) {
    printf("%s: estimated step memory %.1f GB\n", c->name, c->est_gb);
    if (c->skip[0]) {
        printf("  %s\n", c->skip);
        return HRN_OK;
    }
    fflush(stdout);
    enum hrn_status st = bench_trainer(c, o, dir);
    char run[600];
    snprintf(run, sizeof run, "%.500s/%s", dir, c->name);
    remove_tree(run, 1); /* its checkpoint: a few hundred MB at HRN's widths */
    TRY_RET(st);
    TRY_RET(bench_nets_c(c, o));
    c->rss_gb = peak_rss_gb();
    printf("  peak resident memory of this process so far: %.2f GB\n", c->rss_gb);
    return HRN_OK;
}

int main(int argc, char **argv) {
    /* first: may restart the program with OPENBLAS_CORETYPE set (same argv, same environment) */
    hrn_blas_cpu_setup(argv);
    struct opts o;
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: %s [--threads N] [--reps N (1..%d)] [--quick] [--no-torch]\n",
                argv[0], MAX_REPS);
        return 2;
    }
    set_threads(o.threads);
    warn_load(o.threads);
    hrn_log_set_level(HRN_LOG_ERROR); /* no progress lines between the figures */
    char dir[] = "/tmp/hrn_bench_train.XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_train: cannot create a run directory under /tmp\n");
        return 1;
    }
    struct bcase cs[MAX_CASES] = {0};
    int n = 0, batches[2] = {o.quick ? 2 : 8, o.quick ? 4 : 32};
    double avail = mem_available_gb();
    for (int g = 0; g < 2; g++)
        for (int b = 0; b < 2; b++) {
            struct bcase *c = &cs[n++];
            c->geometry = g;
            c->batch = batches[b];
            snprintf(c->name, sizeof c->name, "%s_b%d", g ? "geometry" : "recon", c->batch);
            estimate(c, &o, avail);
        }
    enum hrn_status st = HRN_OK;
    for (int i = 0; i < n && st == HRN_OK; i++) st = run_case(&cs[i], &o, dir);
    int torch_failed = st == HRN_OK && o.torch ? run_torch(cs, n, &o) : 0;
    if (st == HRN_OK) print_table(cs, n, &o);
    remove_tree(dir, 0);
    hrn_layers_release();
    if (st != HRN_OK) fprintf(stderr, "bench_train: %s\n", hrn_error_msg());
    return st != HRN_OK ? hrn_exit_code(st) : torch_failed;
}
