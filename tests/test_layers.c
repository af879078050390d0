/* test_layers.c: the neural-network layer ops (conv, transposed conv, batch/instance norm,
 * pooling, bilinear interpolation, padding, dropout, linear): a finite-difference gradient check
 * per op (and a failure when a layer op has no case), PyTorch parity through
 * tests/data/layers_torch.h5 (tests/reference/gen_layers_torch.py), primitive reuse, dropout's
 * rule and the error messages. Seeds: HRN_TEST_SEED (default 1). */
#include "hrn_autodiff.h"
#include "hrn_test.h"

#define FIXTURE HRN_TEST_DATA_DIR "/layers_torch.h5"

static uint64_t g_seed = 1;

/* --- gradient checks ------------------------------------------------------------------------- */

enum gen { GEN_UNIFORM = 0, GEN_DISTINCT /* a shuffled grid with spacing 0.05: no ties */ };

struct lcase;
typedef struct hrn_tensor *(*lbuild)(struct hrn_tape *t, struct hrn_tensor *const *in,
                                     const struct lcase *c);
struct lcase {
    int op;
    const char *label;
    lbuild build;
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
    enum gen gen0;
    double max_zero_frac;
    int four_point;
};

static float g_rm[8], g_rv[8];

#define LB(name, expr)                                                                      \
    static struct hrn_tensor *name(struct hrn_tape *t, struct hrn_tensor *const *in,        \
                                   const struct lcase *c) {                                 \
        (void)c;                                                                            \
        return (expr);                                                                      \
    }

LB(b_conv, hrn_conv2d(t, in[0], in[1], in[2],
                      &(struct hrn_conv2d_params){.stride = {2, 1}, .pad = {1, 1}}))
LB(b_conv_dil, hrn_conv2d(t, in[0], in[1], NULL,
                          &(struct hrn_conv2d_params){.pad = {2, 1}, .dilation = {2, 1}}))
LB(b_convt, hrn_conv_transpose2d(t, in[0], in[1], in[2],
                                 &(struct hrn_conv2d_params){.stride = {2, 2}, .pad = {1, 1},
                                                             .output_padding = {1, 1}}))
LB(b_convt_nb, hrn_conv_transpose2d(t, in[0], in[1], NULL,
                                    &(struct hrn_conv2d_params){.stride = {2, 1}, .pad = {0, 1}}))
LB(b_bn_train, hrn_batch_norm(t, in[0], in[1], in[2],
                              &(struct hrn_batch_norm_params){g_rm, g_rv, 0.1f, 1e-5f, 1}))
LB(b_bn_plain, hrn_batch_norm(t, in[0], NULL, NULL,
                              &(struct hrn_batch_norm_params){NULL, NULL, 0.1f, 1e-5f, 1}))
LB(b_bn_eval, hrn_batch_norm(t, in[0], in[1], in[2],
                             &(struct hrn_batch_norm_params){g_rm, g_rv, 0.1f, 1e-5f, 0}))
LB(b_in_affine, hrn_instance_norm(t, in[0], in[1], in[2], 0))
LB(b_in_plain, hrn_instance_norm(t, in[0], NULL, NULL, 0))
LB(b_maxpool, hrn_max_pool2d(t, in[0], &(struct hrn_pool2d_params){{3, 3}, {2, 2}, {1, 1}, 0}))
LB(b_avgpool, hrn_avg_pool2d(t, in[0], &(struct hrn_pool2d_params){{3, 2}, {2, 1}, {1, 1}, 0}))
LB(b_avgpool_ex, hrn_avg_pool2d(t, in[0], &(struct hrn_pool2d_params){{3, 3}, {2, 2}, {1, 1}, 1}))
LB(b_gap, hrn_global_avg_pool2d(t, in[0]))
LB(b_interp_ac, hrn_interp_bilinear(t, in[0], 7, 9, 1))
LB(b_interp, hrn_interp_bilinear(t, in[0], 3, 8, 0))
LB(b_pad_refl, hrn_pad2d(t, in[0], 2, 1, 3, 2, HRN_PAD_REFLECT))
LB(b_pad_zero, hrn_pad2d(t, in[0], 1, 0, 2, 1, HRN_PAD_ZERO))
LB(b_dropout, hrn_dropout(t, in[0], 0.3f, 42, 1))
LB(b_linear, hrn_linear(t, in[0], in[1], in[2]))
/* a small block as the networks use it: pad, conv, instance norm, an activation (tanh: smooth,
 * so finite differences do not straddle a ReLU kink), residual add */
LB(b_block, hrn_add(t, in[0], hrn_tanh(t, hrn_instance_norm(t, hrn_conv2d(t,
                              hrn_pad2d(t, in[0], 1, 1, 1, 1, HRN_PAD_REFLECT), in[1], in[2], NULL),
                              NULL, NULL, 0))))

#define S4(a, b, c, d) {a, b, c, d}
static const struct lcase CASES[] = {
    {HRN_OP_CONV2D, "conv2d s(2,1) p1 +bias", b_conv, 3, {4, 4, 1},
     {S4(2, 3, 6, 5), S4(4, 3, 3, 3), {4}}, 0, 0, 0},
    {HRN_OP_CONV2D, "conv2d dilation (2,1)", b_conv_dil, 2, {4, 4},
     {S4(1, 2, 7, 6), S4(3, 2, 3, 3)}, 0, 0, 0},
    {HRN_OP_CONV_TRANSPOSE2D, "conv_transpose2d s2 p1 op1", b_convt, 3, {4, 4, 1},
     {S4(2, 3, 3, 4), S4(3, 2, 3, 3), {2}}, 0, 0, 0},
    {HRN_OP_CONV_TRANSPOSE2D, "conv_transpose2d s(2,1)", b_convt_nb, 2, {4, 4},
     {S4(1, 2, 3, 3), S4(2, 3, 2, 3)}, 0, 0, 0},
    {HRN_OP_BATCH_NORM, "batch_norm train", b_bn_train, 3, {4, 1, 1},
     {S4(3, 4, 3, 2), {4}, {4}}, 0, 0, 1},
    {HRN_OP_BATCH_NORM, "batch_norm train no affine", b_bn_plain, 1, {4}, {S4(2, 3, 2, 3)}, 0, 0,
     1},
    {HRN_OP_BATCH_NORM, "batch_norm eval", b_bn_eval, 3, {4, 1, 1}, {S4(2, 4, 3, 3), {4}, {4}},
     0, 0, 0},
    {HRN_OP_INSTANCE_NORM, "instance_norm affine", b_in_affine, 3, {4, 1, 1},
     {S4(2, 3, 3, 4), {3}, {3}}, 0, 0, 1},
    {HRN_OP_INSTANCE_NORM, "instance_norm", b_in_plain, 1, {4}, {S4(2, 2, 4, 3)}, 0, 0, 1},
    {HRN_OP_MAX_POOL2D, "max_pool2d 3 s2 p1", b_maxpool, 1, {4}, {S4(2, 2, 7, 6)}, GEN_DISTINCT,
     0.8, 0},
    {HRN_OP_AVG_POOL2D, "avg_pool2d (3,2) s(2,1) p1", b_avgpool, 1, {4}, {S4(2, 2, 6, 5)}, 0, 0,
     0},
    {HRN_OP_AVG_POOL2D, "avg_pool2d exclude pad", b_avgpool_ex, 1, {4}, {S4(1, 2, 6, 7)}, 0, 0,
     0},
    {HRN_OP_AVG_POOL2D, "global_avg_pool2d", b_gap, 1, {4}, {S4(2, 3, 4, 5)}, 0, 0, 0},
    {HRN_OP_RESIZE_BILINEAR, "interp align_corners", b_interp_ac, 1, {4}, {S4(2, 2, 4, 5)}, 0, 0,
     0},
    {HRN_OP_RESIZE_BILINEAR, "interp half-pixel", b_interp, 1, {4}, {S4(1, 2, 6, 5)}, 0, 0, 0},
    {HRN_OP_PAD2D, "pad2d reflect", b_pad_refl, 1, {4}, {S4(2, 2, 4, 3)}, 0, 0, 0},
    {HRN_OP_PAD2D, "pad2d zero", b_pad_zero, 1, {4}, {S4(1, 3, 3, 4)}, 0, 0, 0},
    {HRN_OP_DROPOUT, "dropout p 0.3", b_dropout, 1, {2}, {{6, 8}}, 0, 0, 0},
    {HRN_OP_MATMUL, "linear", b_linear, 3, {2, 2, 1}, {{3, 5}, {4, 5}, {4}}, 0, 0, 0},
    {HRN_OP_CONV2D, "block pad-conv-in-tanh-add", b_block, 3, {4, 4, 1},
     {S4(2, 3, 4, 4), S4(3, 3, 3, 3), {3}}, 0, 0, 1},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

static enum hrn_status case_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                               void *user, struct hrn_tensor **out) {
    (void)n;
    const struct lcase *c = user;
    *out = c->build(t, in, c);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static int run_case(const struct lcase *c, uint64_t seed, struct hrn_gradcheck_report *rep) {
    struct hrn_tape t;
    if (hrn_tape_init(&t, 4u << 20) != HRN_OK) return 0;
    struct hrn_rng r;
    hrn_rng_seed(&r, seed * 1000 + (uint64_t)c->op);
    for (int i = 0; i < 8; i++) {
        g_rm[i] = 0.2f * (float)i - 0.5f;
        g_rv[i] = 0.5f + 0.25f * (float)i;
    }
    struct hrn_tensor *in[3] = {0};
    int ok = 1;
    for (int i = 0; i < c->n_in && ok; i++) {
        in[i] = hrn_tape_tensor(&t, c->ndim[i], c->shape[i], NULL);
        if (!in[i]) {
            ok = 0;
            break;
        }
        hrn_rng_fill_uniform(&r, in[i]->data, (size_t)in[i]->numel, -1, 1);
        if (i == 0 && c->gen0 == GEN_DISTINCT) {
            int64_t n = in[0]->numel;
            for (int64_t k = 0; k < n; k++) in[0]->data[k] = 0.05f * (float)k;
            for (int64_t k = n - 1; k > 0; k--) {
                int64_t j = (int64_t)hrn_rng_below(&r, (uint64_t)k + 1);
                float tmp = in[0]->data[k];
                in[0]->data[k] = in[0]->data[j];
                in[0]->data[j] = tmp;
            }
        }
    }
    if (ok) {
        struct hrn_gradcheck_opts o = {.seed = seed, .max_zero_frac = c->max_zero_frac,
                                       .four_point = c->four_point};
        enum hrn_status st = hrn_gradcheck(&t, in, c->n_in, case_fn, (void *)c, &o, rep);
        ok = st == HRN_OK;
        if (!ok)
            printf("    %s (seed %llu): %s\n", c->label, (unsigned long long)seed,
                   hrn_error_msg());
    }
    hrn_tape_free(&t);
    return ok;
}

static void test_layer_ops_covered(void) {
    for (int op = HRN_OP_CONV2D; op <= HRN_OP_DROPOUT; op++) {
        int has = 0;
        for (int k = 0; k < N_CASES; k++) has |= CASES[k].op == op;
        CHECK_MSG(has, "layer op %d (%s) has no gradient-check case in test_layers.c", op,
                  hrn_op_name(op));
        CHECK(hrn_op_table[op].forward && hrn_op_table[op].backward);
    }
}

static void test_gradcheck_layers(void) {
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < N_CASES; k++) {
            struct hrn_gradcheck_report rep;
            int ok = run_case(&CASES[k], g_seed + (uint64_t)l, &rep);
            CHECK_MSG(ok, "gradcheck %s seed %llu", CASES[k].label,
                      (unsigned long long)(g_seed + (uint64_t)l));
            if (getenv("HRN_TEST_VERBOSE")) printf("    %-36s %s\n", CASES[k].label, rep.msg);
        }
}

/* --- PyTorch parity -------------------------------------------------------------------------- */

static struct hrn_h5 *g_h5;

struct fx {
    float *x, *y, *r, *dx, *w, *dw, *b, *db, *rm, *rv, *rm_after, *rv_after;
    int xnd, wnd, ynd;
    int64_t xs[8], ws[8], ys[8], bn;
};

static float *rd_opt(const char *grp, const char *name, int *nd, int64_t *shape) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", grp, name);
    if (!hrn_h5_exists(g_h5, path)) return NULL;
    int ndl;
    int64_t sh[HRN_H5_MAX_DIMS];
    float *p = NULL;
    CHECK_OK(hrn_h5_read_f32_alloc(g_h5, path, &ndl, sh, &p));
    if (nd) *nd = ndl;
    if (shape) memcpy(shape, sh, sizeof(int64_t) * (size_t)ndl);
    return p;
}

static void fx_load(struct fx *f, const char *g) {
    memset(f, 0, sizeof *f);
    f->x = rd_opt(g, "x", &f->xnd, f->xs);
    f->y = rd_opt(g, "y", &f->ynd, f->ys);
    f->r = rd_opt(g, "r", NULL, NULL);
    f->dx = rd_opt(g, "dx", NULL, NULL);
    f->w = rd_opt(g, "w", &f->wnd, f->ws);
    f->dw = rd_opt(g, "dw", NULL, NULL);
    int bnd;
    f->b = rd_opt(g, "b", &bnd, &f->bn);
    f->db = rd_opt(g, "db", NULL, NULL);
    f->rm = rd_opt(g, "running_mean", NULL, NULL);
    f->rv = rd_opt(g, "running_var", NULL, NULL);
    f->rm_after = rd_opt(g, "running_mean_after", NULL, NULL);
    f->rv_after = rd_opt(g, "running_var_after", NULL, NULL);
    CHECK_MSG(f->x && f->y && f->r && f->dx, "fixture group %s incomplete", g);
}

static void fx_free(struct fx *f) {
    free(f->x), free(f->y), free(f->r), free(f->dx), free(f->w), free(f->dw), free(f->b);
    free(f->db), free(f->rm), free(f->rv), free(f->rm_after), free(f->rv_after);
}

static double g_worst[4]; /* max |diff| of y, dx, dw, db over all cases */

static int check_tensor(const char *name, const char *what, const float *got, const float *want,
                        int64_t n, double atol, double rtol, double *worst) {
    double md = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double tol = atol + rtol * fmax(fabs((double)got[i]), fabs((double)want[i]));
        if (d > md) md = d;
        if ((d > tol || !isfinite(got[i])) && bad < 0) bad = i;
    }
    if (worst && md > *worst) *worst = md;
    if (bad >= 0)
        printf("  %s %s MISMATCH at %lld: got %.9g want %.9g (maxdiff %.3g)\n", name, what,
               (long long)bad, (double)got[bad], (double)want[bad], md);
    else if (getenv("HRN_TEST_VERBOSE"))
        printf("  %s %s OK maxdiff=%.3g\n", name, what, md);
    return bad < 0;
}

static int64_t attr_i(const char *g, const char *a) {
    int64_t v = 0;
    CHECK_OK(hrn_h5_attr_read_i64(g_h5, g, a, &v));
    return v;
}

/* Tolerances: float32 against float32 with different summation orders; conv sums up to
 * 7·7·3 = 147 products of O(1) values. */
enum { TOL_ABS_MUL = 1 };
static const double ATOL = 2e-5, RTOL = 1e-4;

static void parity_case(const char *g) {
    struct fx f;
    fx_load(&f, g);
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 8u << 20));
    if (!f.x || !f.y || !f.r || !f.dx) goto done;
    struct hrn_tensor *x = hrn_tape_tensor(&t, f.xnd, f.xs, "x");
    memcpy(x->data, f.x, (size_t)x->numel * 4);
    CHECK_OK(hrn_tape_requires_grad(&t, x));
    struct hrn_tensor *w = NULL, *b = NULL;
    if (f.w) {
        w = hrn_tape_tensor(&t, f.wnd, f.ws, "w");
        memcpy(w->data, f.w, (size_t)w->numel * 4);
        CHECK_OK(hrn_tape_requires_grad(&t, w));
    }
    if (f.b) {
        b = hrn_tape_tensor(&t, 1, &f.bn, "b");
        memcpy(b->data, f.b, (size_t)b->numel * 4);
        CHECK_OK(hrn_tape_requires_grad(&t, b));
    }
    struct hrn_tensor *y = NULL;
    if (!strncmp(g, "conv_", 5) || !strncmp(g, "convt_", 6)) {
        int s = (int)attr_i(g, "stride"), p = (int)attr_i(g, "pad");
        struct hrn_conv2d_params cp = {.stride = {s, s}, .pad = {p, p}};
        if (g[4] == 't') {
            int op = (int)attr_i(g, "outpad");
            cp.output_padding[0] = cp.output_padding[1] = op;
            y = hrn_conv_transpose2d(&t, x, w, b, &cp);
        } else {
            int d = (int)attr_i(g, "dil");
            cp.dilation[0] = cp.dilation[1] = d;
            y = hrn_conv2d(&t, x, w, b, &cp);
        }
    } else if (!strncmp(g, "bn_", 3)) {
        struct hrn_batch_norm_params bp = {f.rm, f.rv, 0.1f, 1e-5f, (int)attr_i(g, "training")};
        y = hrn_batch_norm(&t, x, w, b, &bp);
    } else if (!strncmp(g, "in_", 3)) {
        y = hrn_instance_norm(&t, x, w, b, 1e-5f);
    } else if (!strncmp(g, "maxpool", 7) || !strncmp(g, "avgpool", 7)) {
        int k = (int)attr_i(g, "k"), s = (int)attr_i(g, "s"), p = (int)attr_i(g, "p");
        struct hrn_pool2d_params pp = {{k, k}, {s, s}, {p, p}, 0};
        y = g[0] == 'm' ? hrn_max_pool2d(&t, x, &pp) : hrn_avg_pool2d(&t, x, &pp);
    } else if (!strcmp(g, "gap")) {
        y = hrn_global_avg_pool2d(&t, x);
    } else if (!strncmp(g, "interp", 6)) {
        y = hrn_interp_bilinear(&t, x, attr_i(g, "oh"), attr_i(g, "ow"), (int)attr_i(g, "align"));
    } else if (!strncmp(g, "pad_", 4)) {
        y = hrn_pad2d(&t, x, (int)attr_i(g, "l"), (int)attr_i(g, "r"), (int)attr_i(g, "t"),
                      (int)attr_i(g, "b"), (enum hrn_pad_mode)attr_i(g, "mode"));
    } else if (!strcmp(g, "linear")) {
        y = hrn_linear(&t, x, w, b);
    }
    CHECK_MSG(y != NULL, "%s: %s", g, hrn_error_msg());
    if (!y) goto done;
    int64_t ny = 1;
    for (int i = 0; i < f.ynd; i++) ny *= f.ys[i];
    CHECK_MSG(y->numel == ny, "%s: %lld outputs, torch %lld", g, (long long)y->numel,
              (long long)ny);
    if (y->numel != ny) goto done;
    CHECK(check_tensor(g, "y", y->data, f.y, ny, ATOL, RTOL, &g_worst[0]));
    CHECK_OK(hrn_tape_backward_seed(&t, y, f.r));
    CHECK(check_tensor(g, "dx", x->grad, f.dx, x->numel, ATOL, RTOL, &g_worst[1]));
    if (w && f.dw) CHECK(check_tensor(g, "dw", w->grad, f.dw, w->numel, 1e-4, RTOL, &g_worst[2]));
    if (b && f.db) CHECK(check_tensor(g, "db", b->grad, f.db, b->numel, 1e-4, RTOL, &g_worst[3]));
    if (f.rm_after && attr_i(g, "training")) {
        CHECK(check_tensor(g, "running_mean", f.rm, f.rm_after, f.bn, 1e-6, 1e-5, NULL));
        CHECK(check_tensor(g, "running_var", f.rv, f.rv_after, f.bn, 1e-6, 1e-5, NULL));
    }
done:
    hrn_tape_free(&t);
    fx_free(&f);
}

static void test_parity_torch(void) {
    static const char *cases[] = {
        "conv_s2p1",    "conv_dil2",     "conv_1x1_s2",  "conv_7x7_s2p3", "conv_4x4_s2p1",
        "convt_s2p1op1", "convt_s2p1",   "bn_train",     "bn_eval",       "in_affine",
        "in_plain",     "maxpool_3s2p1", "maxpool_2",    "avgpool_2",     "avgpool_3s2p1",
        "gap",          "interp_ac_up",  "interp_up",    "interp_down",   "interp_ac_down",
        "pad_reflect3", "pad_zero",      "linear"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) parity_case(cases[i]);
    printf("  torch parity (atol %.0e rtol %.0e): max |diff| y %.3g dx %.3g dw %.3g db %.3g\n",
           ATOL, RTOL, g_worst[0], g_worst[1], g_worst[2], g_worst[3]);
}

/* --- behaviour ------------------------------------------------------------------------------- */

static void test_dropout_rule(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 1, (int64_t[]){20000}, "x");
    for (int64_t i = 0; i < x->numel; i++) x->data[i] = 1.0f + (float)(i % 7);
    CHECK(hrn_dropout(&t, x, 0.5f, 1, 0) == x); /* eval: identity */
    CHECK(hrn_dropout(&t, x, 0.0f, 1, 1) == x);
    struct hrn_tensor *y = hrn_dropout(&t, x, 0.25f, 7, 1), *y2 = hrn_dropout(&t, x, 0.25f, 7, 1);
    int64_t zeros = 0, bad = 0, differ = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (y->data[i] == 0.0f) zeros++;
        else if (fabsf(y->data[i] - x->data[i] / 0.75f) > 1e-6f) bad++;
        differ += y->data[i] != y2->data[i];
    }
    CHECK_MSG(fabs((double)zeros / 20000.0 - 0.25) < 0.02, "dropped fraction %.4f",
              (double)zeros / 20000.0);
    CHECK(bad == 0);
    CHECK(differ == 0); /* same seed, same mask */
    struct hrn_tensor *y3 = hrn_dropout(&t, x, 0.25f, 8, 1);
    differ = 0;
    for (int64_t i = 0; i < x->numel; i++) differ += y->data[i] != y3->data[i];
    CHECK(differ > 1000);
    CHECK(hrn_dropout(&t, x, 1.0f, 1, 1) == NULL);
    CHECK_ERR_HAS("dropout");
    hrn_tape_free(&t);
}

static void test_errors(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, 8, 8}, "x");
    struct hrn_tensor *w = hrn_tape_tensor(&t, 4, (int64_t[]){4, 2, 3, 3}, "w");
    CHECK(hrn_conv2d(&t, x, w, NULL, NULL) == NULL);
    CHECK_ERR_HAS("conv2d");
    CHECK_ERR_HAS("'w'");
    hrn_error_clear();
    struct hrn_tensor *w2 = hrn_tape_tensor(&t, 4, (int64_t[]){4, 3, 9, 9}, "w2");
    CHECK(hrn_conv2d(&t, x, w2, NULL, NULL) == NULL);
    CHECK_ERR_HAS("smaller than the dilated kernel");
    hrn_error_clear();
    CHECK(hrn_pad2d(&t, x, 8, 0, 0, 0, HRN_PAD_REFLECT) == NULL);
    CHECK_ERR_HAS("reflection");
    hrn_error_clear();
    CHECK(hrn_batch_norm(&t, x, NULL, NULL, &(struct hrn_batch_norm_params){0}) == NULL);
    CHECK_ERR_HAS("running_mean");
    hrn_error_clear();
    CHECK(hrn_max_pool2d(&t, x, &(struct hrn_pool2d_params){{3, 3}, {1, 1}, {2, 2}, 0}) == NULL);
    CHECK_ERR_HAS("padding");
    hrn_tape_free(&t);
}

/* The same shapes twice: the second run reuses the cached primitives and gives the same bits. */
static void test_reuse(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 4u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, 3);
    struct hrn_tensor *x = hrn_tape_tensor(&t, 4, (int64_t[]){2, 8, 16, 16}, "x");
    struct hrn_tensor *w = hrn_tape_tensor(&t, 4, (int64_t[]){16, 8, 3, 3}, "w");
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, -1, 1);
    hrn_rng_fill_uniform(&r, w->data, (size_t)w->numel, -1, 1);
    struct hrn_conv2d_params p = {.pad = {1, 1}};
    struct hrn_tensor *y1 = hrn_conv2d(&t, x, w, NULL, &p);
    double t0 = hrn_time_now();
    struct hrn_tensor *y2 = hrn_conv2d(&t, x, w, NULL, &p);
    double dt = hrn_time_now() - t0;
    CHECK(y1 && y2 && memcmp(y1->data, y2->data, (size_t)y1->numel * 4) == 0);
    if (getenv("HRN_TEST_VERBOSE")) printf("  second conv %.3f ms\n", 1e3 * dt);
    /* against a naive reference */
    double md = 0;
    for (int n = 0; n < 2; n++)
        for (int oc = 0; oc < 16; oc++)
            for (int i = 0; i < 16; i++)
                for (int j = 0; j < 16; j++) {
                    double s = 0;
                    for (int c = 0; c < 8; c++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int ii = i + ki - 1, jj = j + kj - 1;
                                if (ii < 0 || jj < 0 || ii >= 16 || jj >= 16) continue;
                                s += (double)x->data[((n * 8 + c) * 16 + ii) * 16 + jj] *
                                     (double)w->data[((oc * 8 + c) * 3 + ki) * 3 + kj];
                            }
                    md = fmax(md, fabs(s - (double)y1->data[((n * 16 + oc) * 16 + i) * 16 + j]));
                }
    CHECK_MSG(md < 1e-4, "conv vs naive: max diff %.3g", md);
    hrn_tape_free(&t);
}

int main(void) {
    const char *s = getenv("HRN_TEST_SEED");
    if (s && *s) g_seed = strtoull(s, NULL, 10);
    RUN(test_layer_ops_covered);
    RUN(test_gradcheck_layers);
    if (hrn_h5_open(FIXTURE, &g_h5) != HRN_OK) {
        printf("FAIL cannot open %s: %s\n", FIXTURE, hrn_error_msg());
        return 1;
    }
    RUN(test_parity_torch);
    hrn_h5_close(g_h5);
    RUN(test_dropout_rule);
    RUN(test_errors);
    RUN(test_reuse);
    hrn_layers_release();
    return hrn_test_finish();
}
