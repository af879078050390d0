/* bench_nets.c: the HRN networks at full size against PyTorch CPU in one run.
 *
 *     build/bench/bench_nets [--threads 2] [--quick] [--no-torch] [--only row[,row...]]
 *                            [--ckpt hrn_nets.h5]
 *
 * Threads: --threads N (default: OMP_NUM_THREADS, else 2) is applied to OpenMP (oneDNN and our
 * kernels), to OpenBLAS (its OpenMP build joins the same pool) and to PyTorch, and exported as
 * OMP_NUM_THREADS / OPENBLAS_NUM_THREADS; the settings in force are printed. --only runs the
 * named rows alone, without PyTorch (with HRN_PROFILE_LAYERS=1 the layer profile printed at
 * exit then covers those rows only, warm-up runs included).
 *
 * Rows: ResNet-50 (224x224) forward and training step (forward + backward + Adam) at batch 1, 8
 * and 32; mid_net (6->3, 64x64) and high_net (9->1, 256x256) forward and training step at batch 1;
 * the de-retouching UNet forward at 512x512. Each row: median ms over the timed repetitions after
 * warm-up, GFLOP/s from the convolution MACs counted on the tape (training counted as 3x the
 * forward), that as a fraction of the measured peak of one oneDNN convolution (a ResNet 3x3,
 * 256 channels at 14x14, batch 32, through the same op), and the ratio to PyTorch
 * (bench/bench_nets_torch.py, started by this program with the same thread count, same shapes,
 * NCHW float32). Forward rows run in inference mode (eval BatchNorm, no gradient bookkeeping),
 * as torch.no_grad() + eval() does. --ckpt loads a converted checkpoint into the ResNet, the two
 * generators and the UNet first (scripts/convert_pth.py) to check it against these networks.
 */
#include "hrn_model.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_ROWS = 32 };
struct row {
    char name[48];
    double ms, gflop, torch_ms;
};
static struct row g_rows[MAX_ROWS];
static int g_nrows, g_quick;
static const char *g_only; /* comma-separated row names, or NULL for all */
static double g_peak;
static double g_phase[3]; /* forward, backward, optimizer step of the last run (ms) */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* conv MACs of the nodes on the tape */
static double tape_macs(const struct hrn_tape *t) {
    double m = 0;
    for (int i = 0; i < t->n_nodes; i++) {
        const struct hrn_tensor *n = t->nodes[i];
        if (n->op == HRN_OP_CONV2D)
            m += (double)n->numel * (double)(n->src[1]->numel / n->src[1]->shape[0]);
        else if (n->op == HRN_OP_CONV_TRANSPOSE2D)
            m += (double)n->src[0]->numel * (double)(n->src[1]->numel / n->src[1]->shape[0]);
    }
    return m;
}

static void add_row(const char *name, double ms, double gflop) {
    struct row *r = &g_rows[g_nrows++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->ms = ms;
    r->gflop = gflop;
    r->torch_ms = 0;
    printf("  %-28s %9.1f ms  %7.1f GFLOP/s\n", name, ms, gflop / (ms * 1e-3));
    fflush(stdout);
}

/* One forward (train = 0) or training step on a fresh tape; returns ms and the conv GFLOP. */
static enum hrn_status run(struct hrn_net *net, struct hrn_tape *t, struct hrn_optim *opt,
                           const float *x, int64_t n, int64_t h, int64_t w, int train,
                           double *ms, double *gflop) {
    enum hrn_status st = HRN_OK;
    double t0 = hrn_time_now();
    hrn_tape_reset(t);
    struct hrn_tensor *xt = hrn_tape_wrap(t, (float *)x, 4, (int64_t[]){n, net->cfg.in_ch, h, w},
                                          "x");
    struct hrn_tensor *y = hrn_net_forward(t, net, xt);
    if (!y) return hrn_error_prefix(HRN_ERR_INVALID, "forward");
    double t1 = hrn_time_now(), t2 = t1;
    if (train) {
        struct hrn_tensor *loss = hrn_mean_all(t, hrn_square(t, y));
        hrn_params_zero_grad(&net->params);
        HRN_TRY(hrn_tape_backward(t, loss));
        t2 = hrn_time_now();
        HRN_TRY(hrn_optim_step(opt, &net->params));
    }
    double t3 = hrn_time_now();
    g_phase[0] = 1e3 * (t1 - t0);
    g_phase[1] = 1e3 * (t2 - t1);
    g_phase[2] = 1e3 * (t3 - t2);
    *ms = 1e3 * (hrn_time_now() - t0);
    *gflop = 2e-9 * tape_macs(t) * (train ? 3.0 : 1.0);
fail:
    return st;
}

static int selected(const char *name) {
    if (!g_only) return 1;
    size_t n = strlen(name);
    for (const char *s = g_only; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !strncmp(s, name, n)) return 1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

static enum hrn_status bench(const char *name, struct hrn_net *net, int64_t n, int64_t h,
                             int64_t w, int train, int reps) {
    enum hrn_status st = HRN_OK;
    if (!selected(name)) return HRN_OK;
    struct hrn_tape t = {0};
    float *x = NULL;
    size_t numel = (size_t)(n * net->cfg.in_ch * h * w);
    x = malloc(numel * sizeof *x);
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "input");
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    hrn_rng_fill_uniform(&r, x, numel, -1, 1);
    /* activations and gradients of the whole step: sized generously, touched only as used */
    const char *e = getenv("HRN_BENCH_ARENA_PER_PIXEL"); /* floats per input pixel */
    /* measured peaks: ResNet-50 0.15 / 0.30 GB per 224² image (forward / step), pix2pix at 256²
     * 0.49 / 1.06 GB: about 750 / 1500 and 1900 / 4000 floats per input pixel */
    double fpp = e ? atof(e) : (train ? 5000.0 : 2500.0);
    if (net->cfg.kind == HRN_NET_RESNET50) fpp *= 0.4;
    HRN_TRY(hrn_tape_init(&t, (size_t)((double)(n * h * w) * fpp * sizeof(float)) + (256u << 20)));
    net->training = train;
    hrn_net_requires_grad(net, train);
    struct hrn_optim opt;
    HRN_TRY(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM, .lr = 1e-5f}));
    double times[16], gf = 0, ms = 0, first = 0;
    int warm = 1 + (reps > 2);
    for (int i = 0; i < warm; i++) {
        HRN_TRY(run(net, &t, &opt, x, n, h, w, train, &ms, &gf));
        if (i == 0) first = ms;
    }
    for (int i = 0; i < reps; i++) HRN_TRY(run(net, &t, &opt, x, n, h, w, train, &times[i], &gf));
    if (getenv("HRN_BENCH_VERBOSE")) {
        printf("    %s: first run %.1f ms, then", name, first);
        for (int i = 0; i < reps; i++) printf(" %.1f", times[i]);
        printf(" ms (%d warm-up + %d timed runs); last run: forward %.1f, backward %.1f, "
               "optimizer %.1f ms\n", warm, reps, g_phase[0], g_phase[1], g_phase[2]);
    }
    qsort(times, (size_t)reps, sizeof times[0], cmp_d);
    add_row(name, times[reps / 2], gf);
    if (getenv("HRN_BENCH_VERBOSE"))
        printf("    tape arena peak %.2f GB\n", (double)hrn_arena_peak(&t.arena) / 1e9);
fail:
    hrn_net_requires_grad(net, 1);
    hrn_tape_free(&t);
    free(x);
    return st;
}

/* the peak: one oneDNN conv (ResNet layer3 3x3, 256->256, 14x14, batch 32) through hrn_conv2d */
static enum hrn_status measure_peak(void) {
    enum hrn_status st = HRN_OK;
    struct hrn_tape t = {0};
    HRN_TRY(hrn_tape_init(&t, 64u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 4, (int64_t[]){32, 256, 14, 14}, "x");
    struct hrn_tensor *w = hrn_tape_tensor(&t, 4, (int64_t[]){256, 256, 3, 3}, "w");
    if (!x || !w) {
        st = HRN_ERR_NOMEM;
        goto fail;
    }
    struct hrn_rng r;
    hrn_rng_seed(&r, 1);
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, -1, 1);
    hrn_rng_fill_uniform(&r, w->data, (size_t)w->numel, -1, 1);
    struct hrn_conv2d_params p = {.pad = {1, 1}};
    double best = 1e30;
    for (int i = 0; i < 12; i++) {
        struct hrn_tape_mark m = hrn_tape_mark(&t);
        double t0 = hrn_time_now();
        struct hrn_tensor *y = hrn_conv2d(&t, x, w, NULL, &p);
        double dt = hrn_time_now() - t0;
        if (!y) {
            st = HRN_ERR_DNNL;
            goto fail;
        }
        if (i >= 2 && dt < best) best = dt;
        hrn_tape_rewind(&t, m);
    }
    g_peak = 2.0 * 32 * 256 * 14 * 14 * 256 * 9 / best * 1e-9;
    printf("  peak: one oneDNN 3x3 conv (32x256x14x14, plain NCHW in/out): %.1f GFLOP/s\n",
           g_peak);
fail:
    hrn_tape_free(&t);
    return st;
}

static void run_torch(int threads) {
    /* the script sits next to this file (CMake compiles it by its absolute path) */
    char dir[512], cmd[700];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, "bench");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench_nets_torch.py --threads %d%s", dir,
             threads, g_quick ? " --quick" : "");
    printf("running PyTorch: %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) {
        printf("  cannot run PyTorch\n");
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, p)) {
        char name[64];
        double ms;
        if (sscanf(line, "ROW %63s %lf", name, &ms) == 2) {
            for (int i = 0; i < g_nrows; i++)
                if (!strcmp(g_rows[i].name, name)) g_rows[i].torch_ms = ms;
        } else {
            fputs(line, stdout);
        }
    }
    pclose(p);
}

int main(int argc, char **argv) {
    /* first: may restart the program with OPENBLAS_CORETYPE set (same argv, same environment) */
    hrn_blas_cpu_setup(argv);
    enum hrn_status st = HRN_OK;
    const char *ckpt = NULL;
    int torch = 1, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) g_quick = 1;
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--ckpt") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) g_only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--quick] [--no-torch] [--only row,...] "
                            "[--ckpt file.h5]\n", argv[0]);
            return 2;
        }
    }
    if (threads <= 0) {
        const char *e = getenv("OMP_NUM_THREADS");
        threads = e && atoi(e) > 0 ? atoi(e) : 2;
    }
    /* libgomp read the environment before main: set the pools directly, and export the values
     * for the PyTorch child */
    char tb[16];
    snprintf(tb, sizeof tb, "%d", threads);
    setenv("OMP_NUM_THREADS", tb, 1);
    setenv("OPENBLAS_NUM_THREADS", tb, 1);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
    printf("bench_nets: %d OpenMP threads (oneDNN, OpenBLAS %s core %s), OMP_PROC_BIND=%s "
           "OMP_PLACES=%s, %ld online CPUs\n",
           omp_get_max_threads(), openblas_get_config(), hrn_blas_core(), bind ? bind : "unset",
           places ? places : "unset", sysconf(_SC_NPROCESSORS_ONLN));
    struct hrn_net recon = {0}, mid = {0}, high = {0}, unet = {0};
    HRN_TRY(hrn_net_init(&recon, &(struct hrn_net_config){.kind = HRN_NET_RESNET50}, 1));
    HRN_TRY(hrn_net_init(&mid, &(struct hrn_net_config){.kind = HRN_NET_PIX2PIX, .in_ch = 6,
                                                       .out_ch = 3}, 2));
    HRN_TRY(hrn_net_init(&high, &(struct hrn_net_config){.kind = HRN_NET_PIX2PIX, .in_ch = 9,
                                                        .out_ch = 1}, 3));
    HRN_TRY(hrn_net_init(&unet, &(struct hrn_net_config){.kind = HRN_NET_UNET}, 4));
    if (ckpt) {
        HRN_TRY(hrn_net_load(&recon, ckpt, "net_recon"));
        HRN_TRY(hrn_net_load(&mid, ckpt, "mid_net"));
        HRN_TRY(hrn_net_load(&high, ckpt, "high_net"));
        HRN_TRY(hrn_net_load(&unet, ckpt, "generator"));
        printf("  loaded %s: net_recon, mid_net, high_net, generator\n", ckpt);
    }
    if (!g_only || selected("peak")) HRN_TRY(measure_peak());
    int big = g_quick ? 2 : 3;
    HRN_TRY(bench("resnet50_fwd_b1", &recon, 1, 224, 224, 0, 7));
    HRN_TRY(bench("resnet50_fwd_b8", &recon, 8, 224, 224, 0, 5));
    if (!g_quick) HRN_TRY(bench("resnet50_fwd_b32", &recon, 32, 224, 224, 0, big));
    HRN_TRY(bench("resnet50_train_b1", &recon, 1, 224, 224, 1, 5));
    HRN_TRY(bench("resnet50_train_b8", &recon, 8, 224, 224, 1, big));
    if (!g_quick) HRN_TRY(bench("resnet50_train_b32", &recon, 32, 224, 224, 1, big));
    HRN_TRY(bench("mid_net_fwd", &mid, 1, 64, 64, 0, 9));
    HRN_TRY(bench("mid_net_train", &mid, 1, 64, 64, 1, 7));
    HRN_TRY(bench("high_net_fwd", &high, 1, 256, 256, 0, 5));
    HRN_TRY(bench("high_net_train", &high, 1, 256, 256, 1, big));
    HRN_TRY(bench("unet_fwd_512", &unet, 1, 512, 512, 0, big));
    if (torch && !g_only) run_torch(threads);
    printf("\n%-24s %10s %8s %7s %10s %8s\n", "row", "hrn ms", "GFLOP/s", "%peak", "torch ms",
           "torch/hrn");
    for (int i = 0; i < g_nrows; i++) {
        const struct row *r = &g_rows[i];
        double gfs = r->gflop / (r->ms * 1e-3);
        if (r->torch_ms > 0)
            printf("%-24s %10.1f %8.1f %6.0f%% %10.1f %8.2f\n", r->name, r->ms, gfs,
                   g_peak > 0 ? 100 * gfs / g_peak : 0.0, r->torch_ms, r->torch_ms / r->ms);
        else
            printf("%-24s %10.1f %8.1f %6.0f%% %10s %8s\n", r->name, r->ms, gfs,
                   g_peak > 0 ? 100 * gfs / g_peak : 0.0, "-", "-");
    }
fail:
    hrn_net_free(&recon);
    hrn_net_free(&mid);
    hrn_net_free(&high);
    hrn_net_free(&unet);
    hrn_layers_release();
    if (st != HRN_OK) fprintf(stderr, "bench_nets: %s\n", hrn_error_msg());
    return hrn_exit_code(st);
}
