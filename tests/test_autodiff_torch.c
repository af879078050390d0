/* test_autodiff_torch.c: parity with PyTorch 1.13 through tests/data/autodiff_torch.h5 (made by
 * tests/reference/gen_autodiff_torch.py): a two-layer MLP trained 20 steps with Adam, each
 * optimizer's updates on the same gradients, each schedule's rates, gradient clipping, and a few
 * ops whose exact semantics matter (thresholds, eps, the HRN rotation). */
#include "hrn_autodiff.h"
#include "hrn_test.h"

#define FIXTURE HRN_TEST_DATA_DIR "/autodiff_torch.h5"

static struct hrn_h5 *g_h5;

/* Read a float dataset of any shape (malloc()ed); NULL and a failed check when missing. */
static float *rd(const char *name, int64_t *numel) {
    int ndim = 0;
    int64_t shape[HRN_H5_MAX_DIMS];
    float *p = NULL;
    enum hrn_status st = hrn_h5_read_f32_alloc(g_h5, name, &ndim, shape, &p);
    CHECK_MSG(st == HRN_OK, "reading %s: %s", name, hrn_error_msg());
    if (st != HRN_OK) return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (numel) *numel = n;
    return p;
}

static double attr_f(const char *obj, const char *name) {
    double v = 0;
    CHECK_OK(hrn_h5_attr_read_f64(g_h5, obj, name, &v));
    return v;
}
static int64_t attr_i(const char *obj, const char *name) {
    int64_t v = 0;
    CHECK_OK(hrn_h5_attr_read_i64(g_h5, obj, name, &v));
    return v;
}

/* llm.c check_tensor: prints "name OK maxdiff" or the first mismatch, returns 1 if all close */
static int check_tensor(const char *name, const float *got, const float *want, int64_t n,
                        double atol, double rtol) {
    double md = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double tol = atol + rtol * fmax(fabs((double)got[i]), fabs((double)want[i]));
        if (d > md) md = d;
        if ((d > tol || !isfinite(got[i])) && bad < 0) bad = i;
    }
    if (bad >= 0)
        printf("  %s MISMATCH at %lld: got %.9g want %.9g (maxdiff %.3g)\n", name,
               (long long)bad, (double)got[bad], (double)want[bad], md);
    else if (getenv("HRN_TEST_VERBOSE"))
        printf("  %s OK maxdiff=%.3g\n", name, md);
    return bad < 0;
}

static void test_mlp_adam(void) {
    int64_t nx = 0, ny = 0, n1 = 0, nb1 = 0, n2 = 0, nb2 = 0;
    float *x = rd("mlp/x", &nx), *y = rd("mlp/y", &ny), *w1 = rd("mlp/w1", &n1),
          *b1 = rd("mlp/b1", &nb1), *w2 = rd("mlp/w2", &n2), *b2 = rd("mlp/b2", &nb2);
    double *losses = NULL;
    struct hrn_params ps;
    struct hrn_tape t = {0};
    hrn_params_init(&ps);
    if (!x || !y || !w1 || !b1 || !w2 || !b2) goto done;
    int64_t N = 16, DIN = 8, DH = 32, DOUT = 4;
    CHECK(nx == N * DIN && ny == N * DOUT && n1 == DH * DIN && n2 == DOUT * DH);
    losses = malloc(20 * sizeof *losses);
    CHECK_OK(hrn_h5_read_f64(g_h5, "mlp/losses", 1, (int64_t[]){20}, losses));
    int i1, ib1, i2, ib2;
    CHECK_OK(hrn_params_add(&ps, "w1", 2, (int64_t[]){DH, DIN}, 0, &i1));
    CHECK_OK(hrn_params_add(&ps, "b1", 1, (int64_t[]){DH}, 0, &ib1));
    CHECK_OK(hrn_params_add(&ps, "w2", 2, (int64_t[]){DOUT, DH}, 0, &i2));
    CHECK_OK(hrn_params_add(&ps, "b2", 1, (int64_t[]){DOUT}, 0, &ib2));
    CHECK_OK(hrn_params_alloc(&ps));
    memcpy(hrn_params_tensor(&ps, i1)->data, w1, (size_t)n1 * 4);
    memcpy(hrn_params_tensor(&ps, ib1)->data, b1, (size_t)nb1 * 4);
    memcpy(hrn_params_tensor(&ps, i2)->data, w2, (size_t)n2 * 4);
    memcpy(hrn_params_tensor(&ps, ib2)->data, b2, (size_t)nb2 * 4);
    struct hrn_optim opt;
    CHECK_OK(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM,
                                                             .lr = (float)attr_f("mlp", "lr")}));
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    double worst = 0;
    for (int step = 0; step < 20; step++) {
        hrn_tape_reset(&t);
        struct hrn_tensor *xt = hrn_tape_wrap(&t, x, 2, (int64_t[]){N, DIN}, "x");
        struct hrn_tensor *yt = hrn_tape_wrap(&t, y, 2, (int64_t[]){N, DOUT}, "y");
        struct hrn_tensor *z1 =
            hrn_matmul(&t, xt, hrn_params_tensor(&ps, i1), HRN_MATMUL_TRANS_B); /* x·W1ᵀ */
        struct hrn_tensor *h = hrn_tanh(&t, hrn_add(&t, z1, hrn_params_tensor(&ps, ib1)));
        struct hrn_tensor *out = hrn_add(
            &t, hrn_matmul(&t, h, hrn_params_tensor(&ps, i2), HRN_MATMUL_TRANS_B),
            hrn_params_tensor(&ps, ib2));
        struct hrn_tensor *loss = hrn_mean_all(&t, hrn_square(&t, hrn_sub(&t, out, yt)));
        CHECK_MSG(loss != NULL, "%s", hrn_error_msg());
        if (!loss) break;
        double rel = fabs((double)loss->data[0] - losses[step]) / fabs(losses[step]);
        worst = fmax(worst, rel);
        CHECK_MSG(rel <= 1e-5, "step %d loss %.9g torch %.9g (rel %.3g)", step,
                  (double)loss->data[0], losses[step], rel);
        hrn_params_zero_grad(&ps);
        CHECK_OK(hrn_tape_backward(&t, loss));
        CHECK_OK(hrn_optim_step(&opt, &ps));
    }
    printf("  mlp: 20 Adam steps, loss %.6f -> %.6f, max relative loss diff %.3g\n", losses[0],
           losses[19], worst);
    const char *fin[4] = {"mlp/w1_final", "mlp/b1_final", "mlp/w2_final", "mlp/b2_final"};
    int idx[4] = {i1, ib1, i2, ib2};
    for (int k = 0; k < 4; k++) {
        int64_t n;
        float *want = rd(fin[k], &n);
        struct hrn_tensor *p = hrn_params_tensor(&ps, idx[k]);
        CHECK(want && n == p->numel);
        if (want) CHECK(check_tensor(fin[k], p->data, want, n, 1e-5, 1e-4));
        free(want);
    }
done:
    free(x), free(y), free(w1), free(b1), free(w2), free(b2), free(losses);
    hrn_tape_free(&t);
    hrn_params_free(&ps);
}

static void test_optimizers(void) {
    const char *names[] = {"sgd", "sgd_momentum", "sgd_nesterov_wd", "adam", "adam_l2", "adamw"};
    for (int k = 0; k < 6; k++) {
        char grp[64], path[96];
        snprintf(grp, sizeof grp, "optim/%s", names[k]);
        struct hrn_optim_config cfg = {
            .kind = (enum hrn_optim_kind)attr_i(grp, "kind"),
            .lr = (float)attr_f(grp, "lr"),
            .momentum = (float)attr_f(grp, "momentum"),
            .dampening = (float)attr_f(grp, "dampening"),
            .nesterov = (int)attr_i(grp, "nesterov"),
            .weight_decay = (float)attr_f(grp, "weight_decay"),
        };
        snprintf(path, sizeof path, "%s/p0", grp);
        float *p0 = rd(path, NULL);
        snprintf(path, sizeof path, "%s/grads", grp);
        float *grads = rd(path, NULL);
        snprintf(path, sizeof path, "%s/after", grp);
        float *after = rd(path, NULL);
        struct hrn_params ps;
        hrn_params_init(&ps);
        struct hrn_optim opt;
        int ok = p0 && grads && after;
        if (ok) {
            CHECK_OK(hrn_params_add(&ps, "p", 1, (int64_t[]){10}, 0, NULL));
            CHECK_OK(hrn_params_alloc(&ps));
            CHECK_OK(hrn_optim_init(&opt, &cfg));
            memcpy(ps.values, p0, 10 * 4);
            for (int s = 0; s < 5; s++) {
                memcpy(ps.grads, grads + 10 * s, 10 * 4);
                CHECK_OK(hrn_optim_step(&opt, &ps));
                snprintf(path, sizeof path, "%s step %d", names[k], s);
                CHECK_MSG(check_tensor(path, ps.values, after + 10 * s, 10, 1e-6, 1e-5), "%s",
                          path);
            }
        }
        hrn_params_free(&ps);
        free(p0), free(grads), free(after);
    }
    /* two groups at different rates */
    float *p0 = rd("optim/adam_groups/p0", NULL), *grads = rd("optim/adam_groups/grads", NULL),
          *after = rd("optim/adam_groups/after", NULL);
    if (p0 && grads && after) {
        struct hrn_params ps;
        hrn_params_init(&ps);
        int ia, ib;
        CHECK_OK(hrn_params_add(&ps, "pose", 1, (int64_t[]){4}, 0, &ia));
        CHECK_OK(hrn_params_add(&ps, "id", 1, (int64_t[]){6}, 1, &ib));
        CHECK_OK(hrn_params_alloc(&ps));
        struct hrn_optim opt;
        CHECK_OK(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM,
                                                                 .lr = 1.0f}));
        CHECK_OK(hrn_optim_set_group_lr(&opt, 0, (float)attr_f("optim/adam_groups", "lr0")));
        CHECK_OK(hrn_optim_set_group_lr(&opt, 1, (float)attr_f("optim/adam_groups", "lr1")));
        struct hrn_tensor *a = hrn_params_tensor(&ps, ia), *b = hrn_params_tensor(&ps, ib);
        memcpy(a->data, p0, 4 * 4);
        memcpy(b->data, p0 + 4, 6 * 4);
        for (int s = 0; s < 5; s++) {
            memcpy(a->grad, grads + 10 * s, 4 * 4);
            memcpy(b->grad, grads + 10 * s + 4, 6 * 4);
            CHECK_OK(hrn_optim_step(&opt, &ps));
            CHECK(check_tensor("adam_groups pose", a->data, after + 10 * s, 4, 1e-6, 1e-5));
            CHECK(check_tensor("adam_groups id", b->data, after + 10 * s + 4, 6, 1e-6, 1e-5));
        }
        hrn_params_free(&ps);
    }
    free(p0), free(grads), free(after);
}

static void test_schedules(void) {
    const char *names[] = {"constant", "step", "cosine", "warmup", "warmup_cosine"};
    for (int k = 0; k < 5; k++) {
        char grp[64], path[96];
        snprintf(grp, sizeof grp, "sched/%s", names[k]);
        struct hrn_lr_schedule s = {.kind = (enum hrn_lr_kind)attr_i(grp, "kind")};
        if (hrn_h5_attr_read_i64(g_h5, grp, "step_size", &s.step_size) == HRN_OK)
            s.gamma = (float)attr_f(grp, "gamma");
        if (hrn_h5_attr_read_i64(g_h5, grp, "total_steps", &s.total_steps) == HRN_OK)
            s.min_factor = (float)attr_f(grp, "min_factor");
        if (hrn_h5_attr_read_i64(g_h5, grp, "warmup_steps", &s.warmup_steps) == HRN_OK)
            s.warmup_start = (float)attr_f(grp, "warmup_start");
        double want[30];
        snprintf(path, sizeof path, "%s/lr", grp);
        CHECK_OK(hrn_h5_read_f64(g_h5, path, 1, (int64_t[]){30}, want));
        struct hrn_params ps;
        hrn_params_init(&ps);
        CHECK_OK(hrn_params_add(&ps, "p", 1, (int64_t[]){1}, 0, NULL));
        CHECK_OK(hrn_params_alloc(&ps));
        struct hrn_optim opt;
        CHECK_OK(hrn_optim_init(&opt, &(struct hrn_optim_config){.kind = HRN_OPTIM_SGD,
                                                                 .lr = 0.1f, .schedule = s}));
        double md = 0;
        for (int i = 0; i < 30; i++) {
            double lr = (double)hrn_optim_lr(&opt, 0);
            md = fmax(md, fabs(lr - want[i]) / want[i]);
            CHECK_MSG(fabs(lr - want[i]) <= 1e-6 * want[i], "%s step %d: lr %.9g torch %.9g",
                      names[k], i, lr, want[i]);
            CHECK_OK(hrn_optim_step(&opt, &ps));
        }
        if (getenv("HRN_TEST_VERBOSE")) printf("  sched %s OK max rel diff %.3g\n", names[k], md);
        hrn_params_free(&ps);
    }
}

static void test_clip(void) {
    float *ag = rd("clip/a_grad", NULL), *bg = rd("clip/b_grad", NULL),
          *ac = rd("clip/a_clipped", NULL), *bc = rd("clip/b_clipped", NULL);
    if (ag && bg && ac && bc) {
        struct hrn_params ps;
        hrn_params_init(&ps);
        int ia, ib;
        CHECK_OK(hrn_params_add(&ps, "a", 2, (int64_t[]){3, 4}, 0, &ia));
        CHECK_OK(hrn_params_add(&ps, "b", 1, (int64_t[]){5}, 0, &ib));
        CHECK_OK(hrn_params_alloc(&ps));
        memcpy(hrn_params_tensor(&ps, ia)->grad, ag, 12 * 4);
        memcpy(hrn_params_tensor(&ps, ib)->grad, bg, 5 * 4);
        double norm = hrn_params_clip_grad_norm(&ps, attr_f("clip", "max_norm"));
        CHECK_NEAR(norm, attr_f("clip", "norm"), 0, 1e-6);
        CHECK(check_tensor("clip a", hrn_params_tensor(&ps, ia)->grad, ac, 12, 1e-7, 1e-6));
        CHECK(check_tensor("clip b", hrn_params_tensor(&ps, ib)->grad, bc, 5, 1e-7, 1e-6));
        hrn_params_free(&ps);
    }
    free(ag), free(bg), free(ac), free(bc);
}

static struct hrn_tensor *op_build(struct hrn_tape *t, const char *name, struct hrn_tensor *x) {
    if (!strcmp(name, "softplus")) return hrn_softplus(t, hrn_scale(t, x, 12.0f));
    if (!strcmp(name, "sigmoid")) return hrn_sigmoid(t, x);
    if (!strcmp(name, "leaky_relu")) return hrn_leaky_relu(t, x, 0.2f);
    if (!strcmp(name, "clamp")) return hrn_clamp(t, x, -0.5f, 0.5f);
    if (!strcmp(name, "normalize")) return hrn_normalize(t, x, 0);
    if (!strcmp(name, "l2norm")) return hrn_l2norm(t, x);
    if (!strcmp(name, "cross"))
        return hrn_cross(t, hrn_slice(t, x, 1, 0, 3), hrn_slice(t, x, 1, 3, 3));
    if (!strcmp(name, "euler")) return hrn_euler_rot(t, x);
    if (!strcmp(name, "rsqrt")) return hrn_rsqrt(t, hrn_add_scalar(t, hrn_abs(t, x), 0.5f));
    if (!strcmp(name, "mean_axis")) return hrn_mean_axis(t, x, 1);
    return NULL;
}

static void test_ops_vs_torch(void) {
    const char *names[] = {"softplus", "sigmoid", "leaky_relu", "clamp",  "normalize",
                           "l2norm",   "cross",   "euler",      "rsqrt", "mean_axis"};
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    for (int k = 0; k < 10; k++) {
        char path[96];
        int ndim;
        int64_t shape[HRN_H5_MAX_DIMS], ny = 0, nr = 0, ndx = 0;
        float *x = NULL;
        snprintf(path, sizeof path, "ops/%s/x", names[k]);
        CHECK_OK(hrn_h5_read_f32_alloc(g_h5, path, &ndim, shape, &x));
        snprintf(path, sizeof path, "ops/%s/y", names[k]);
        float *y = rd(path, &ny);
        snprintf(path, sizeof path, "ops/%s/r", names[k]);
        float *r = rd(path, &nr);
        snprintf(path, sizeof path, "ops/%s/dx", names[k]);
        float *dx = rd(path, &ndx);
        if (x && y && r && dx) {
            hrn_tape_reset(&t);
            struct hrn_tensor *xt = hrn_tape_tensor(&t, ndim, shape, "x");
            memcpy(xt->data, x, (size_t)xt->numel * 4);
            CHECK_OK(hrn_tape_requires_grad(&t, xt));
            struct hrn_tensor *out = op_build(&t, names[k], xt);
            CHECK_MSG(out && out->numel == ny && nr == ny && ndx == xt->numel, "%s: %s",
                      names[k], hrn_error_msg());
            if (out && out->numel == ny) {
                CHECK_MSG(check_tensor(names[k], out->data, y, ny, 1e-6, 1e-5), "%s forward",
                          names[k]);
                CHECK_OK(hrn_tape_backward_seed(&t, out, r));
                CHECK_MSG(check_tensor(names[k], xt->grad, dx, ndx, 1e-6, 1e-5), "%s backward",
                          names[k]);
            }
        }
        free(x), free(y), free(r), free(dx);
    }
    hrn_tape_free(&t);
}

int main(void) {
    if (hrn_h5_open(FIXTURE, &g_h5) != HRN_OK) {
        printf("FAIL cannot open %s: %s\n", FIXTURE, hrn_error_msg());
        return 1;
    }
    RUN(test_mlp_adam);
    RUN(test_optimizers);
    RUN(test_schedules);
    RUN(test_clip);
    RUN(test_ops_vs_torch);
    hrn_h5_close(g_h5);
    return hrn_test_finish();
}
