/* test_nets.c: the four HRN networks at narrow widths against PyTorch (tests/data/nets_torch.h5
 * from tests/reference/gen_nets_torch.py): forward output, input gradient, parameter gradients,
 * BatchNorm running statistics after a training forward and the eval-mode output; the parameter
 * names are the state-dict keys (the fixture's params/ group is loaded as a checkpoint). Also the
 * checkpoint round trip and its error messages, and configs/shapes of the full-size networks
 * (declared only, no forward: the fast test stays fast). */
#include "hrn_model.h"
#include "hrn_test.h"

#define FIXTURE HRN_TEST_DATA_DIR "/nets_torch.h5"

static struct hrn_h5 *g_h5;

static float *rd(const char *name, int *nd, int64_t *shape, int64_t *numel) {
    int ndl = 0;
    int64_t sh[HRN_H5_MAX_DIMS];
    float *p = NULL;
    enum hrn_status st = hrn_h5_read_f32_alloc(g_h5, name, &ndl, sh, &p);
    CHECK_MSG(st == HRN_OK, "reading %s: %s", name, hrn_error_msg());
    if (st != HRN_OK) return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndl; i++) n *= sh[i];
    if (nd) *nd = ndl;
    if (shape) memcpy(shape, sh, sizeof(int64_t) * (size_t)ndl);
    if (numel) *numel = n;
    return p;
}

/* |got-want| <= atol_rel·max|want| + floor + rtol·|want| elementwise; prints the max difference.
 * floor: an absolute tolerance for gradients that are zero in exact arithmetic (the bias of a
 * conv followed by a normalization) and so only float rounding on both sides. */
static double g_floor;
static double check_tensor(const char *net, const char *what, const float *got, const float *want,
                           int64_t n, double atol_rel, double rtol) {
    double mx = 0, md = 0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        md = fmax(md, d);
        if ((!(d <= atol_rel * mx + g_floor + rtol * fabs((double)want[i]))) && bad < 0) bad = i;
    }
    if (bad >= 0)
        printf("  %s %s MISMATCH at %lld: got %.9g want %.9g (max |diff| %.3g, max |want| %.3g)\n",
               net, what, (long long)bad, (double)got[bad], (double)want[bad], md, mx);
    else if (getenv("HRN_TEST_VERBOSE"))
        printf("  %s %s OK max |diff| %.3g (max |want| %.3g)\n", net, what, md, mx);
    CHECK_MSG(bad < 0, "%s %s differs from PyTorch", net, what);
    return mx > 0 ? md / mx : md;
}

struct grad_walk {
    struct hrn_net *net;
    const char *grp;
    double worst;
    int n;
    int scan;       /* first pass: only the largest |gradient| of the fixture */
    double max_all;
};

static int grad_cb(const char *name, int is_group, void *user) {
    struct grad_walk *w = user;
    if (is_group) return 0;
    int i = hrn_params_find(&w->net->params, name);
    CHECK_MSG(i >= 0, "%s: fixture gradient of unknown parameter %s", w->grp, name);
    if (i < 0) return 0;
    char path[160];
    snprintf(path, sizeof path, "%s/grads/%s", w->grp, name);
    int64_t n = 0;
    float *want = rd(path, NULL, NULL, &n);
    struct hrn_tensor *p = hrn_params_tensor(&w->net->params, i);
    if (want && w->scan) {
        for (int64_t k = 0; k < n; k++) w->max_all = fmax(w->max_all, fabs((double)want[k]));
    } else if (want && n == p->numel) {
        char what[128];
        snprintf(what, sizeof what, "grad %s", name);
        w->worst = fmax(w->worst, check_tensor(w->grp, what, p->grad, want, n, 1e-4, 1e-3));
        w->n++;
    }
    free(want);
    return 0;
}

static int after_cb(const char *name, int is_group, void *user) {
    struct grad_walk *w = user;
    if (is_group) return 0;
    int i = hrn_params_find(&w->net->buffers, name);
    CHECK_MSG(i >= 0, "%s: fixture statistic of unknown buffer %s", w->grp, name);
    if (i < 0) return 0;
    char path[160];
    snprintf(path, sizeof path, "%s/after/%s", w->grp, name);
    int64_t n = 0;
    float *want = rd(path, NULL, NULL, &n);
    struct hrn_tensor *b = hrn_params_tensor(&w->net->buffers, i);
    if (want && n == b->numel) {
        w->worst = fmax(w->worst, check_tensor(w->grp, name, b->data, want, n, 1e-5, 1e-4));
        w->n++;
    }
    free(want);
    return 0;
}

static void net_parity(const char *grp, struct hrn_net_config cfg) {
    struct hrn_net net = {0};
    struct hrn_tape t = {0};
    float *x = NULL, *y = NULL, *r = NULL, *dx = NULL, *ye = NULL;
    char path[128];
    CHECK_OK(hrn_net_init(&net, &cfg, 1));
    CHECK_OK(hrn_net_load(&net, FIXTURE, (snprintf(path, sizeof path, "%s/params", grp), path)));
    int64_t training = 0;
    CHECK_OK(hrn_h5_attr_read_i64(g_h5, grp, "training", &training));
    net.training = (int)training;
    int xnd = 0;
    int64_t xs[8], ny = 0;
    snprintf(path, sizeof path, "%s/x", grp);
    x = rd(path, &xnd, xs, NULL);
    snprintf(path, sizeof path, "%s/y", grp);
    y = rd(path, NULL, NULL, &ny);
    snprintf(path, sizeof path, "%s/r", grp);
    r = rd(path, NULL, NULL, NULL);
    snprintf(path, sizeof path, "%s/dx", grp);
    dx = rd(path, NULL, NULL, NULL);
    if (!x || !y || !r || !dx) goto done;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    struct hrn_tensor *xt = hrn_tape_tensor(&t, xnd, xs, "x");
    memcpy(xt->data, x, (size_t)xt->numel * 4);
    CHECK_OK(hrn_tape_requires_grad(&t, xt));
    struct hrn_tensor *out = hrn_net_forward(&t, &net, xt);
    CHECK_MSG(out && out->numel == ny, "%s forward: %s", grp, out ? "size" : hrn_error_msg());
    if (!out || out->numel != ny) goto done;
    double wy = check_tensor(grp, "y", out->data, y, ny, 1e-5, 1e-4);
    hrn_params_zero_grad(&net.params);
    CHECK_OK(hrn_tape_backward_seed(&t, out, r));
    double wdx = check_tensor(grp, "dx", xt->grad, dx, xt->numel, 1e-4, 1e-3);
    struct grad_walk gw = {&net, grp, 0, 0, 1, 0};
    snprintf(path, sizeof path, "%s/grads", grp);
    CHECK_OK(hrn_h5_list(g_h5, path, grad_cb, &gw));
    gw.scan = 0;
    g_floor = 1e-5 * gw.max_all; /* 1e-5 of the largest weight gradient of the network */
    CHECK_OK(hrn_h5_list(g_h5, path, grad_cb, &gw));
    g_floor = 0;
    CHECK(gw.n > 0);
    printf("  %s (%s, %d params): rel. max |diff| y %.2g, dx %.2g, %d weight grads %.2g\n", grp,
           net.training ? "train" : "eval", net.params.n_entries, wy, wdx, gw.n, gw.worst);
    snprintf(path, sizeof path, "%s/after", grp);
    if (hrn_h5_exists(g_h5, path)) {
        struct grad_walk aw = {&net, grp, 0, 0, 0, 0};
        CHECK_OK(hrn_h5_list(g_h5, path, after_cb, &aw));
        CHECK(aw.n == net.buffers.n_entries);
        snprintf(path, sizeof path, "%s/y_eval", grp);
        ye = rd(path, NULL, NULL, NULL);
        hrn_tape_reset(&t);
        net.training = 0;
        struct hrn_tensor *xe = hrn_tape_wrap(&t, x, xnd, xs, "x");
        struct hrn_tensor *oe = hrn_net_forward(&t, &net, xe);
        CHECK(oe && ye);
        double we = oe && ye ? check_tensor(grp, "y_eval", oe->data, ye, ny, 1e-5, 1e-4) : 1;
        printf("  %s: %d running statistics after the step rel. max |diff| %.2g, eval output "
               "%.2g\n", grp, aw.n, aw.worst, we);
    }
done:
    free(x), free(y), free(r), free(dx), free(ye);
    hrn_tape_free(&t);
    hrn_net_free(&net);
}

static void test_resnet(void) {
    net_parity("resnet", (struct hrn_net_config){.kind = HRN_NET_RESNET50, .width = 2});
}
static void test_pix2pix(void) {
    net_parity("pix2pix", (struct hrn_net_config){.kind = HRN_NET_PIX2PIX, .in_ch = 6,
                                                   .out_ch = 3, .width = 2});
}
static void test_unet(void) {
    net_parity("unet", (struct hrn_net_config){.kind = HRN_NET_UNET, .width = 2});
}
static void test_patchgan(void) {
    net_parity("patchgan", (struct hrn_net_config){.kind = HRN_NET_PATCHGAN, .width = 4});
}

/* Full-size declarations: parameter counts of the originals, and the heads start at zero. */
static void test_full_size_params(void) {
    struct { struct hrn_net_config c; int64_t n; } cases[] = {
        /* counts of the PyTorch modules of gen_nets_torch.py at full width (torchvision
         * ResNet-50 without fc is 23,508,032; the heads add 2048·257 + 257) */
        {{.kind = HRN_NET_RESNET50}, 24034625},
        {{.kind = HRN_NET_PIX2PIX, .in_ch = 6, .out_ch = 3}, 11387587},
        {{.kind = HRN_NET_PIX2PIX, .in_ch = 9, .out_ch = 1}, 11390721},
        {{.kind = HRN_NET_UNET}, 13395459},
        {{.kind = HRN_NET_PATCHGAN}, 2764737},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hrn_net net;
        CHECK_OK(hrn_net_init(&net, &cases[k].c, 1));
        int64_t n = 0;
        for (int i = 0; i < net.params.n_entries; i++) n += (int64_t)net.params.entries[i].numel;
        CHECK_MSG(n == cases[k].n, "net %zu: %lld parameters, expected %lld", k,
                                  (long long)n, (long long)cases[k].n);
        if (getenv("HRN_TEST_VERBOSE"))
            printf("  kind %d in %d: %lld parameters\n", (int)cases[k].c.kind, cases[k].c.in_ch,
                   (long long)n);
        if (cases[k].c.kind == HRN_NET_PIX2PIX) /* about 11.4M (hrn_method.md 3) */
            CHECK(n > 11300000 && n < 11500000);
        if (cases[k].c.kind == HRN_NET_RESNET50) {
            struct hrn_tensor *h = hrn__net_param(&net, "final_layers.6", ".weight");
            float mx = 0;
            for (int64_t i = 0; h && i < h->numel; i++) mx = fmaxf(mx, fabsf(h->data[i]));
            CHECK(h && mx == 0.0f);
        }
        hrn_net_free(&net);
    }
}

static void test_checkpoint(void) {
    const char *dir = hrn_test_tmpdir("nets");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/ckpt.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    struct hrn_net a, b, c;
    CHECK_OK(hrn_net_init(&a, &(struct hrn_net_config){.kind = HRN_NET_UNET, .width = 2}, 7));
    CHECK_OK(hrn_net_init(&b, &(struct hrn_net_config){.kind = HRN_NET_UNET, .width = 2}, 8));
    CHECK_OK(hrn_net_init(&c, &(struct hrn_net_config){.kind = HRN_NET_UNET, .width = 4}, 8));
    for (int i = 0; i < a.buffers.n_entries; i++) /* non-default statistics */
        hrn_params_tensor(&a.buffers, i)->data[0] = 0.25f + (float)i;
    struct hrn_net *nets[1] = {&a};
    const char *groups[1] = {"generator"};
    const char *sn[2] = {"alpha", "beta"};
    double sv[2] = {0.01, 0.02};
    CHECK_OK(hrn_nets_save(path, nets, groups, 1, sn, sv, 2));
    CHECK_OK(hrn_net_load(&b, path, "generator"));
    CHECK(memcmp(a.params.values, b.params.values, a.params.n * 4) == 0);
    CHECK(memcmp(a.buffers.values, b.buffers.values, a.buffers.n * 4) == 0);
    double v = 0;
    CHECK_OK(hrn_nets_load_scalar(path, "beta", &v));
    CHECK_NEAR(v, 0.02, 1e-8, 0);
    /* a wider network: the first shape mismatch is named */
    CHECK_STATUS(hrn_net_load(&c, path, "generator"), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("generator/");
    CHECK_ERR_HAS("shape");
    CHECK_STATUS(hrn_net_load(&b, path, "mid_net"), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no group 'mid_net'");
    /* a missing key (strict=False style partial state dict) and an unknown extra key */
    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_create(bad, &f));
    CHECK_OK(hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-nets"));
    CHECK_OK(hrn_h5_attr_write_i64(f, "/", "hrn_format_version", 1));
    float z[4] = {0};
    CHECK_OK(hrn_h5_write_f32(f, "generator/outc.conv.bias", 1, (int64_t[]){3}, z));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_STATUS(hrn_net_load(&b, bad, "generator"), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no dataset 'generator/inc.conv.conv.0.weight'");
    struct hrn_net *n2[1] = {&b};
    CHECK_OK(hrn_nets_save(bad, n2, groups, 1, NULL, NULL, 0));
    CHECK_OK(hrn_h5_open(bad, &f));
    hrn_h5_close(f);
    /* not a checkpoint */
    CHECK_STATUS(hrn_net_load(&b, FIXTURE "_missing", "generator"), HRN_ERR_IO);
    hrn_net_free(&a);
    hrn_net_free(&b);
    hrn_net_free(&c);
}

/* Eval-mode output of net for x (1,3,16,16) on a fresh tape, malloc()ed; parameters as set. */
static float *eval_out(struct hrn_net *net, const float *x, int64_t *n) {
    struct hrn_tape t = {0};
    float *y = NULL;
    CHECK_OK(hrn_tape_init(&t, 32u << 20));
    net->training = 0;
    struct hrn_tensor *xt = hrn_tape_wrap(&t, (float *)x, 4, (int64_t[]){1, 3, 16, 16}, "x");
    struct hrn_tensor *o = hrn_net_forward(&t, net, xt);
    CHECK_MSG(o != NULL, "forward: %s", hrn_error_msg());
    if (o && (y = malloc((size_t)o->numel * sizeof *y))) {
        memcpy(y, o->data, (size_t)o->numel * sizeof *y);
        *n = o->numel;
    }
    hrn_tape_free(&t);
    return y;
}

/* max |a-b| / max |b| */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double d = 0, m = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / m;
}

/* Non-default values everywhere: weights U(-0.5,0.5) (the ResNet heads start at zero),
 * BatchNorm affine around 1 and 0, running statistics away from 0 and 1. */
static void randomize(struct hrn_net *net, uint64_t seed) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    for (int i = 0; i < net->params.n_entries; i++) {
        struct hrn_tensor *p = hrn_params_tensor(&net->params, i);
        hrn_rng_fill_uniform(&r, p->data, (size_t)p->numel, -0.5f, 0.5f);
        if (p->ndim == 1 && strstr(net->params.entries[i].name, ".weight"))
            for (int64_t k = 0; k < p->numel; k++) p->data[k] += 1.0f;
    }
    for (int i = 0; i < net->buffers.n_entries; i++) {
        struct hrn_tensor *b = hrn_params_tensor(&net->buffers, i);
        int var = strstr(net->buffers.entries[i].name, "running_var") != NULL;
        hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, var ? 0.5f : -0.3f, var ? 2.0f : 0.3f);
    }
}

/* Inference with no gradient wanted runs conv+BN(+ReLU) as one fused primitive with the weights
 * kept in oneDNN's layout: same output as the separate ops (which test_resnet/test_unet check
 * against PyTorch). */
static void test_inference_fused(void) {
    struct hrn_net_config cfgs[2] = {{.kind = HRN_NET_RESNET50, .width = 2},
                                     {.kind = HRN_NET_UNET, .width = 2}};
    float x[3 * 16 * 16];
    struct hrn_rng r;
    hrn_rng_seed(&r, 3);
    hrn_rng_fill_uniform(&r, x, sizeof x / sizeof x[0], -1, 1);
    for (int k = 0; k < 2; k++) {
        struct hrn_net net;
        CHECK_OK(hrn_net_init(&net, &cfgs[k], 5));
        randomize(&net, 11 + (uint64_t)k);
        int64_t n1 = 0, n2 = 0;
        hrn_net_requires_grad(&net, 1); /* separate conv, BN, ReLU nodes; nothing kept */
        float *ref = eval_out(&net, x, &n1);
        CHECK(hrn_dnnl_frozen_count() == 0);
        hrn_net_requires_grad(&net, 0); /* fused, weights kept */
        float *got = eval_out(&net, x, &n2);
        CHECK(hrn_dnnl_frozen_count() > 0);
        if (ref && got && n1 == n2) {
            double d = rel_diff(got, ref, n1);
            CHECK_MSG(d < 2e-6, "kind %d: fused vs separate rel. max |diff| %.3g", (int)cfgs[k].kind,
                      d);
            if (getenv("HRN_TEST_VERBOSE"))
                printf("  kind %d: fused vs separate %.2g\n", (int)cfgs[k].kind, d);
        } else {
            CHECK(0);
        }
        free(ref);
        free(got);
        hrn_net_free(&net);
    }
}

/* Weights changed between two inference forwards are seen by the second one: by an optimizer
 * step (the net stays in inference mode), by a checkpoint load, and by values written by hand
 * followed by hrn_net_requires_grad. Each second output is compared with the output of the
 * separate ops (which never keep a reorder) for the new values. */
static void test_frozen_weights_update(void) {
    const char *dir = hrn_test_tmpdir("nets");
    char path[600];
    snprintf(path, sizeof path, "%s/frozen.h5", dir);
    float x[3 * 16 * 16];
    struct hrn_rng r;
    hrn_rng_seed(&r, 4);
    hrn_rng_fill_uniform(&r, x, sizeof x / sizeof x[0], -1, 1);
    struct hrn_net net, other;
    struct hrn_net_config cfg = {.kind = HRN_NET_UNET, .width = 2};
    CHECK_OK(hrn_net_init(&net, &cfg, 21));
    CHECK_OK(hrn_net_init(&other, &cfg, 22));
    randomize(&net, 31);
    randomize(&other, 32);
    struct hrn_net *nets[1] = {&other};
    const char *groups[1] = {"generator"};
    CHECK_OK(hrn_nets_save(path, nets, groups, 1, NULL, NULL, 0));
    int64_t n = 0, m = 0;
    hrn_net_requires_grad(&net, 0);
    float *y0 = eval_out(&net, x, &n), *y1 = eval_out(&net, x, &m);
    CHECK(y0 && y1 && n == m && memcmp(y0, y1, (size_t)n * sizeof *y0) == 0); /* reuse */
    float *ys[3] = {NULL, NULL, NULL}, *refs[3] = {NULL, NULL, NULL};
    for (int how = 0; how < 3; how++) {
        free(eval_out(&net, x, &m)); /* reorders kept for the values before the change */
        if (how == 0) { /* an Adam step on hand-set gradients */
            struct hrn_optim opt;
            CHECK_OK(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM,
                                                                      .lr = 0.05f}));
            for (size_t i = 0; i < net.params.n; i++) net.params.grads[i] = (i % 3) ? 1.0f : -1.0f;
            CHECK_OK(hrn_optim_step(&opt, &net.params));
        } else if (how == 1) {
            CHECK_OK(hrn_net_load(&net, path, "generator"));
        } else {
            for (size_t i = 0; i < net.params.n; i++) net.params.values[i] *= -1.0f;
            hrn_net_requires_grad(&net, 0); /* the documented "values written by hand" */
        }
        ys[how] = eval_out(&net, x, &m); /* kept reorders, if any are still valid */
        hrn_net_requires_grad(&net, 1);
        refs[how] = eval_out(&net, x, &m); /* separate ops from the current values */
        hrn_net_requires_grad(&net, 0);
        CHECK(ys[how] && refs[how] && m == n);
        if (ys[how] && refs[how] && y0) {
            double d = rel_diff(ys[how], refs[how], n), moved = rel_diff(y0, refs[how], n);
            CHECK_MSG(d < 2e-6, "change %d: second forward off the new weights by %.3g", how, d);
            CHECK_MSG(moved > 1e-3, "change %d did not change the output (%.3g)", how, moved);
        }
    }
    for (int i = 0; i < 3; i++) free(ys[i]), free(refs[i]);
    free(y0);
    free(y1);
    hrn_net_free(&net);
    hrn_net_free(&other);
}

static void test_unknown_key(void) {
    const char *dir = hrn_test_tmpdir("nets");
    char path[600];
    snprintf(path, sizeof path, "%s/extra.h5", dir);
    struct hrn_net a;
    CHECK_OK(hrn_net_init(&a, &(struct hrn_net_config){.kind = HRN_NET_PATCHGAN, .width = 2}, 1));
    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_create(path, &f));
    CHECK_OK(hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-nets"));
    CHECK_OK(hrn_h5_attr_write_i64(f, "/", "hrn_format_version", 1));
    for (int i = 0; i < a.params.n_entries; i++) {
        char nm[128];
        snprintf(nm, sizeof nm, "d/%s", a.params.entries[i].name);
        CHECK_OK(hrn_h5_write_f32(f, nm, a.params.entries[i].t.ndim, a.params.entries[i].t.shape,
                                  a.params.entries[i].t.data));
    }
    float z = 0;
    CHECK_OK(hrn_h5_write_f32(f, "d/model.99.weight", 1, (int64_t[]){1}, &z));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_STATUS(hrn_net_load(&a, path, "d"), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("model.99.weight");
    hrn_net_free(&a);
}

int main(void) {
    if (hrn_h5_open(FIXTURE, &g_h5) != HRN_OK) {
        printf("FAIL cannot open %s: %s\n", FIXTURE, hrn_error_msg());
        return 1;
    }
    RUN(test_resnet);
    RUN(test_pix2pix);
    RUN(test_unet);
    RUN(test_patchgan);
    hrn_h5_close(g_h5);
    RUN(test_full_size_params);
    RUN(test_checkpoint);
    RUN(test_unknown_key);
    RUN(test_inference_fused);
    RUN(test_frozen_weights_update);
    hrn_layers_release();
    return hrn_test_finish();
}
