/* test_autodiff_optim.c: the parameter store, optimizer behaviour and validation, L-BFGS through
 * liblbfgs on objectives built with the tape. (Exact update rules against PyTorch are in
 * test_autodiff_torch.c.) */
#include "hrn_autodiff.h"
#include "hrn_test.h"

#include <ctype.h>

static void test_params_store(void) {
    struct hrn_params ps;
    hrn_params_init(&ps);
    int ia = -1, ib = -1;
    CHECK_OK(hrn_params_add(&ps, "a", 2, (int64_t[]){3, 5}, 0, &ia));
    CHECK_OK(hrn_params_add(&ps, "b", 1, (int64_t[]){7}, 2, &ib));
    CHECK(ia == 0 && ib == 1);
    CHECK_STATUS(hrn_params_add(&ps, "a", 1, (int64_t[]){2}, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("'a' is declared twice");
    CHECK_STATUS(hrn_params_add(&ps, "c", 1, (int64_t[]){2}, HRN_MAX_GROUPS, NULL),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("group");
    CHECK_STATUS(hrn_params_add(&ps, "d", 1, (int64_t[]){0}, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("bad shape");
    CHECK_OK(hrn_params_alloc(&ps));
    CHECK_STATUS(hrn_params_add(&ps, "late", 1, (int64_t[]){2}, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("after hrn_params_alloc");
    struct hrn_tensor *a = hrn_params_tensor(&ps, ia), *b = hrn_params_tensor(&ps, ib);
    /* views into one flat buffer, 64-byte aligned starts */
    CHECK(a->data == ps.values && b->data >= a->data + 15);
    CHECK(((uintptr_t)b->data & 63) == 0);
    CHECK(a->grad == ps.grads && b->grad == ps.grads + (b->data - ps.values));
    CHECK((a->flags & HRN_TENSOR_PARAM) && (a->flags & HRN_TENSOR_REQUIRES_GRAD));
    CHECK(hrn_params_find(&ps, "b") == ib && hrn_params_find(&ps, "zzz") == -1);
    CHECK(ps.entries[ib].group == 2);
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    hrn_params_fill_normal(&ps, ia, &r, 0.1f);
    hrn_params_fill_uniform(&ps, ib, &r, 2.0f, 3.0f);
    CHECK(b->data[3] >= 2.0f && b->data[3] < 3.0f);
    for (size_t i = 0; i < ps.n; i++) ps.grads[i] = 1.0f;
    hrn_params_zero_grad(&ps);
    double s = 0;
    for (size_t i = 0; i < ps.n; i++) s += fabs((double)ps.grads[i]);
    CHECK(s == 0.0);
    /* clipping: no change below the limit, scaled above */
    a->grad[0] = 3.0f, b->grad[0] = 4.0f;
    CHECK_NEAR(hrn_params_clip_grad_norm(&ps, 10.0), 5.0, 1e-12, 0);
    CHECK(a->grad[0] == 3.0f);
    CHECK_NEAR(hrn_params_clip_grad_norm(&ps, 1.0), 5.0, 1e-12, 0);
    CHECK_NEAR(hrn_params_grad_norm(&ps), 1.0, 1e-6, 0);
    hrn_params_free(&ps);
    hrn_params_free(&ps); /* idempotent */
    hrn_params_free(NULL);
}

static void test_optim_validation(void) {
    struct hrn_optim o;
    CHECK_STATUS(hrn_optim_init(&o, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM}),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("lr");
    CHECK_STATUS(hrn_optim_init(&o, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM, .lr = 1,
                                                               .beta1 = 1.5f}),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("beta1");
    CHECK_STATUS(hrn_optim_init(&o, &(struct hrn_optim_config){.kind = HRN_OPTIM_SGD, .lr = 1,
                                                               .nesterov = 1}),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("nesterov");
    struct hrn_lr_schedule bad = {.kind = HRN_LR_COSINE};
    CHECK_STATUS(hrn_optim_init(&o, &(struct hrn_optim_config){.kind = HRN_OPTIM_SGD, .lr = 1,
                                                               .schedule = bad}),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("total_steps");
    CHECK_OK(hrn_optim_init(&o, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM, .lr = 1}));
    CHECK_STATUS(hrn_optim_set_group_lr(&o, -1, 0.1f), HRN_ERR_INVALID);
    /* a NaN gradient is refused, naming the parameter, and nothing changes */
    struct hrn_params ps;
    hrn_params_init(&ps);
    CHECK_OK(hrn_params_add(&ps, "ok", 1, (int64_t[]){3}, 0, NULL));
    CHECK_OK(hrn_params_add(&ps, "shape.alpha", 1, (int64_t[]){4}, 0, NULL));
    CHECK_OK(hrn_params_alloc(&ps));
    ps.values[0] = 1.0f;
    ps.grads[0] = 1.0f;
    hrn_params_tensor(&ps, 1)->grad[2] = NAN;
    CHECK_STATUS(hrn_optim_step(&o, &ps), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("'shape.alpha'");
    CHECK(ps.values[0] == 1.0f && o.t == 0);
    hrn_params_free(&ps);
}

/* Plain quadratic: every optimizer must get close to the minimum; group rate 0 freezes. */
static void test_optimizers_converge(void) {
    const struct hrn_optim_config cfgs[3] = {
        {.kind = HRN_OPTIM_SGD, .lr = 0.1f, .momentum = 0.9f},
        {.kind = HRN_OPTIM_ADAM, .lr = 0.05f},
        {.kind = HRN_OPTIM_ADAMW, .lr = 0.05f, .weight_decay = 1e-4f},
    };
    const float target[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    for (int k = 0; k < 3; k++) {
        struct hrn_params ps;
        hrn_params_init(&ps);
        CHECK_OK(hrn_params_add(&ps, "x", 1, (int64_t[]){4}, 0, NULL));
        CHECK_OK(hrn_params_add(&ps, "frozen", 1, (int64_t[]){2}, 1, NULL));
        CHECK_OK(hrn_params_alloc(&ps));
        struct hrn_tensor *x = hrn_params_tensor(&ps, 0), *f = hrn_params_tensor(&ps, 1);
        f->data[0] = 7.0f;
        struct hrn_optim o;
        CHECK_OK(hrn_optim_init(&o, &cfgs[k]));
        CHECK_OK(hrn_optim_set_group_lr(&o, 1, 0.0f));
        for (int it = 0; it < 400; it++) {
            hrn_params_zero_grad(&ps);
            for (int i = 0; i < 4; i++) x->grad[i] = 2.0f * (x->data[i] - target[i]);
            f->grad[0] = 1.0f;
            CHECK_OK(hrn_optim_step(&o, &ps));
        }
        for (int i = 0; i < 4; i++) CHECK_NEAR(x->data[i], target[i], 2e-2, 0);
        CHECK(f->data[0] == 7.0f);
        hrn_params_free(&ps);
    }
}

/* --- L-BFGS ---------------------------------------------------------------------------------- */

struct rosen {
    struct hrn_tape t;
    int calls;
    int fail_at; /* objective fails at this call (0 = never) */
};

/* f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, built with the tape */
static enum hrn_status rosen_fn(void *user, struct hrn_params *p, double *loss) {
    struct rosen *r = user;
    r->calls++;
    if (r->fail_at && r->calls == r->fail_at)
        return hrn_error_set(HRN_ERR_IO, "synthetic failure at call %d", r->calls);
    hrn_tape_reset(&r->t);
    struct hrn_tape *t = &r->t;
    struct hrn_tensor *xy = hrn_params_tensor(p, 0);
    struct hrn_tensor *x = hrn_slice(t, xy, 0, 0, 1), *y = hrn_slice(t, xy, 0, 1, 1);
    struct hrn_tensor *a = hrn_square(t, hrn_add_scalar(t, hrn_neg(t, x), 1.0f));
    struct hrn_tensor *b = hrn_scale(t, hrn_square(t, hrn_sub(t, y, hrn_square(t, x))), 100.0f);
    struct hrn_tensor *f = hrn_sum_all(t, hrn_add(t, a, b));
    enum hrn_status st = hrn_tape_backward(t, f);
    if (st != HRN_OK) return st;
    *loss = (double)f->data[0];
    return HRN_OK;
}

static void test_lbfgs_rosenbrock(void) {
    struct hrn_params ps;
    hrn_params_init(&ps);
    CHECK_OK(hrn_params_add(&ps, "xy", 1, (int64_t[]){2}, 0, NULL));
    CHECK_OK(hrn_params_alloc(&ps));
    ps.values[0] = -1.2f, ps.values[1] = 1.0f;
    struct rosen r = {0};
    CHECK_OK(hrn_tape_init(&r.t, 1u << 16));
    struct hrn_lbfgs_report rep;
    CHECK_OK(hrn_lbfgs_minimize(&ps, rosen_fn, &r,
                                &(struct hrn_lbfgs_config){.max_iter = 200, .epsilon = 1e-4},
                                &rep));
    printf("  rosenbrock: %s\n", rep.why);
    /* float32 objective: the line search may stop on rounding near the minimum; either way the
     * point must be the minimum (1, 1) */
    CHECK_MSG(rep.result == HRN_LBFGS_CONVERGED || rep.result == HRN_LBFGS_LINESEARCH_FAILED,
              "result %s", hrn_lbfgs_result_str(rep.result));
    CHECK_NEAR(ps.values[0], 1.0, 1e-2, 0);
    CHECK_NEAR(ps.values[1], 1.0, 2e-2, 0);
    CHECK(rep.loss < 1e-4 && rep.iterations > 5 && rep.evaluations >= rep.iterations);
    /* an iteration limit is reported as such */
    ps.values[0] = -1.2f, ps.values[1] = 1.0f;
    CHECK_OK(hrn_lbfgs_minimize(&ps, rosen_fn, &r, &(struct hrn_lbfgs_config){.max_iter = 3},
                                &rep));
    CHECK(rep.result == HRN_LBFGS_MAX_ITER);
    CHECK(strstr(rep.why, "iteration") != NULL);
    /* a failing objective stops it with the objective's error */
    ps.values[0] = -1.2f, ps.values[1] = 1.0f;
    r.calls = 0;
    r.fail_at = 4;
    CHECK_STATUS(hrn_lbfgs_minimize(&ps, rosen_fn, &r, NULL, &rep), HRN_ERR_IO);
    CHECK_ERR_HAS("synthetic failure at call 4");
    CHECK(rep.result == HRN_LBFGS_OBJECTIVE_FAILED);
    /* bad settings */
    CHECK_STATUS(hrn_lbfgs_minimize(&ps, rosen_fn, &r, &(struct hrn_lbfgs_config){.m = -1}, &rep),
                 HRN_ERR_INVALID);
    hrn_tape_free(&r.t);
    hrn_params_free(&ps);
}

/* Least squares through matmul: L-BFGS reaches the exact solution of a well-posed system. */
struct lsq {
    struct hrn_tape t;
    float A[20 * 5], b[20];
};

static enum hrn_status lsq_fn(void *user, struct hrn_params *p, double *loss) {
    struct lsq *q = user;
    struct hrn_tape *t = &q->t;
    hrn_tape_reset(t);
    struct hrn_tensor *A = hrn_tape_wrap(t, q->A, 2, (int64_t[]){20, 5}, "A");
    struct hrn_tensor *b = hrn_tape_wrap(t, q->b, 2, (int64_t[]){20, 1}, "b");
    struct hrn_tensor *x = hrn_reshape(t, hrn_params_tensor(p, 0), 2, (int64_t[]){5, 1});
    struct hrn_tensor *f = hrn_sum_all(t, hrn_square(t, hrn_sub(t, hrn_matmul(t, A, x, 0), b)));
    enum hrn_status st = hrn_tape_backward(t, f);
    if (st == HRN_OK) *loss = (double)f->data[0];
    return st;
}

static void test_lbfgs_least_squares(void) {
    struct lsq q;
    struct hrn_rng r;
    hrn_rng_seed(&r, 11);
    hrn_rng_fill_uniform(&r, q.A, 100, -1, 1);
    const float xs[5] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f};
    for (int i = 0; i < 20; i++) {
        double s = 0;
        for (int j = 0; j < 5; j++) s += (double)q.A[i * 5 + j] * (double)xs[j];
        q.b[i] = (float)s;
    }
    CHECK_OK(hrn_tape_init(&q.t, 1u << 16));
    struct hrn_params ps;
    hrn_params_init(&ps);
    CHECK_OK(hrn_params_add(&ps, "x", 1, (int64_t[]){5}, 0, NULL));
    CHECK_OK(hrn_params_alloc(&ps));
    struct hrn_lbfgs_report rep;
    CHECK_OK(hrn_lbfgs_minimize(&ps, lsq_fn, &q, &(struct hrn_lbfgs_config){.max_iter = 100},
                                &rep));
    printf("  least squares: %s\n", rep.why);
    for (int j = 0; j < 5; j++) CHECK_NEAR(ps.values[j], xs[j], 1e-3, 0);
    hrn_tape_free(&q.t);
    hrn_params_free(&ps);
}

/* HRN_CHECK_FINITE=1 (set in main before the first backward) names the node making a NaN/Inf. */
static void test_check_finite(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 16));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 1, (int64_t[]){4}, "x");
    CHECK_OK(hrn_tape_requires_grad(&t, x));
    x->data[0] = 1, x->data[1] = 0, x->data[2] = 2, x->data[3] = 3; /* d ln(x)/dx at 0 = inf */
    struct hrn_tensor *y = hrn_ln(&t, x);
    y->name[0] = 'y', y->name[1] = '\0';
    struct hrn_tensor *zero = hrn_tape_tensor(&t, 1, (int64_t[]){1}, "zero");
    struct hrn_tensor *loss = hrn_sum_all(&t, hrn_mask_mul(&t, y, zero)); /* 0/0 in ln's bwd */
    CHECK_STATUS(hrn_tape_backward(&t, loss), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("'y'");
    CHECK_ERR_HAS("at 1");
    hrn_tape_free(&t);
}

/* The usage example at the top of hrn_autodiff.h, verbatim between the markers. */
static enum hrn_status header_example(float *xs, float *ys, struct hrn_params *out) {
    /* --- begin header example --- */
    enum hrn_status st = HRN_OK;
    struct hrn_params ps;
    struct hrn_tape tape = {0};
    hrn_params_init(&ps);
    int iw, ib;
    HRN_TRY(hrn_params_add(&ps, "fc.weight", 2, (int64_t[]){4, 8}, 0, &iw));
    HRN_TRY(hrn_params_add(&ps, "fc.bias", 1, (int64_t[]){4}, 0, &ib));
    HRN_TRY(hrn_params_alloc(&ps));                 // values, grads: one buffer each
    struct hrn_optim opt;
    struct hrn_optim_config oc = {.kind = HRN_OPTIM_ADAM, .lr = 1e-2f};
    HRN_TRY(hrn_optim_init(&opt, &oc));
    HRN_TRY(hrn_tape_init(&tape, 1u << 20));        // step memory: nodes, activations, grads
    for (int step = 0; step < 2000; step++) {
        hrn_tape_reset(&tape);
        struct hrn_tensor *x = hrn_tape_wrap(&tape, xs, 2, (int64_t[]){32, 8}, "x");
        struct hrn_tensor *y = hrn_tape_wrap(&tape, ys, 2, (int64_t[]){32, 4}, "y");
        struct hrn_tensor *xw = hrn_matmul(&tape, x, hrn_params_tensor(&ps, iw),
                                           HRN_MATMUL_TRANS_B);                // (32,4)
        struct hrn_tensor *pred = hrn_add(&tape, xw, hrn_params_tensor(&ps, ib)); // + (4)
        struct hrn_tensor *err = hrn_sub(&tape, pred, y);
        struct hrn_tensor *loss = hrn_mean_all(&tape, hrn_square(&tape, err));
        hrn_params_zero_grad(&ps);
        HRN_TRY(hrn_tape_backward(&tape, loss)); // a NULL loss (an op failed) is reported here
        hrn_params_clip_grad_norm(&ps, 10.0);   //   with the first failing op's message
        HRN_TRY(hrn_optim_step(&opt, &ps));
    }
  fail:
    hrn_tape_free(&tape);
    // use the fitted ps (on failure too: it is valid), then hrn_params_free(&ps)
    /* --- end header example --- */
    *out = ps; /* the caller checks and frees */
    return st;
}

static void test_header_example(void) {
    float xs[32 * 8], ys[32 * 4], w[4 * 8], b[4] = {0.5f, -1.0f, 0.25f, 2.0f};
    struct hrn_rng r;
    hrn_rng_seed(&r, 9);
    hrn_rng_fill_uniform(&r, xs, 32 * 8, -1, 1);
    hrn_rng_fill_uniform(&r, w, 4 * 8, -1, 1);
    for (int i = 0; i < 32; i++)
        for (int o = 0; o < 4; o++) {
            double s = (double)b[o];
            for (int k = 0; k < 8; k++) s += (double)xs[i * 8 + k] * (double)w[o * 8 + k];
            ys[i * 4 + o] = (float)s;
        }
    struct hrn_params ps;
    CHECK_OK(header_example(xs, ys, &ps));
    for (int k = 0; k < 32; k++) CHECK_NEAR(hrn_params_tensor(&ps, 0)->data[k], w[k], 2e-2, 0);
    for (int k = 0; k < 4; k++) CHECK_NEAR(hrn_params_tensor(&ps, 1)->data[k], b[k], 2e-2, 0);
    hrn_params_free(&ps);
    /* the header's text is this code */
    FILE *f = fopen(HRN_SOURCE_DIR "/autodiff/hrn_autodiff.h", "r");
    FILE *g = fopen(HRN_SOURCE_DIR "/tests/test_autodiff_optim.c", "r");
    CHECK(f && g);
    char hdr[8192] = "", line[256];
    size_t k = 0;
    int in = 0;
    /* compared without whitespace: indentation differs between the comment and the code */
    while (f && fgets(line, sizeof line, f) && k < sizeof hdr - 256) {
        if (strstr(line, " * Usage")) in = 1;
        else if (strstr(line, " * Design")) break;
        else if (in)
            for (const char *c = line + 2; *c; c++)
                if (!isspace((unsigned char)*c)) hdr[k++] = *c;
    }
    hdr[k] = '\0';
    char code[8192] = "";
    k = 0;
    in = 0;
    while (g && fgets(line, sizeof line, g) && k < sizeof code - 256) {
        if (strstr(line, "--- begin header example")) in = 1;
        else if (strstr(line, "--- end header example")) break;
        else if (in)
            for (const char *c = line; *c; c++)
                if (!isspace((unsigned char)*c)) code[k++] = *c;
    }
    code[k] = '\0';
    CHECK_MSG(k > 500 && strcmp(hdr, code) == 0,
              "the usage example in hrn_autodiff.h and this test differ:\n%s\n--\n%s", hdr, code);
    if (f) fclose(f);
    if (g) fclose(g);
}

int main(void) {
    setenv("HRN_CHECK_FINITE", "1", 1);
    RUN(test_check_finite);
    RUN(test_header_example);
    RUN(test_params_store);
    RUN(test_optim_validation);
    RUN(test_optimizers_converge);
    RUN(test_lbfgs_rosenbrock);
    RUN(test_lbfgs_least_squares);
    return hrn_test_finish();
}
