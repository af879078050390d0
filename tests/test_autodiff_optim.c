/* test_autodiff_optim.c: the parameter store, optimizer behaviour and validation, L-BFGS through
 * liblbfgs on objectives built with the tape. (Exact update rules against PyTorch are in
 * test_autodiff_torch.c.) */
#include "hrn_autodiff.h"
#include "hrn_test.h"

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

int main(void) {
    setenv("HRN_CHECK_FINITE", "1", 1);
    RUN(test_check_finite);
    RUN(test_params_store);
    RUN(test_optim_validation);
    RUN(test_optimizers_converge);
    RUN(test_lbfgs_rosenbrock);
    RUN(test_lbfgs_least_squares);
    return hrn_test_finish();
}
