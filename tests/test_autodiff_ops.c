/* test_autodiff_ops.c: every op of the table passes a finite-difference gradient check (and the
 * test fails when an op has no case), forward results against naive references, and the error
 * messages for bad use. Seeds: HRN_TEST_SEED (default 1), HRN_TEST_NLOOP (default 2). */
#include "hrn_autodiff.h"
#include "hrn_test.h"

#include <omp.h>

static uint64_t g_seed = 1;
static int g_nloop = 2;

/* --- gradient-check cases -------------------------------------------------------------------- */

enum gen {
    GEN_UNIFORM = 0, /* [-1, 1] */
    GEN_POSITIVE,    /* [0.5, 2] */
    GEN_NO_KINK,     /* |x| in [0.1, 1], random sign: at least 3h from the kink at 0 */
    GEN_CLAMP,       /* [-1, 1] but at least 0.05 from -0.5 and 0.5 */
    GEN_ROWS_AWAY,   /* [-1, 1] with last-axis rows of norm >= 0.3 (normalize is singular at 0) */
};

struct gc_case;
typedef struct hrn_tensor *(*build_fn)(struct hrn_tape *t, struct hrn_tensor *const *in,
                                       const struct gc_case *c);

struct gc_case {
    int op;
    const char *label;
    build_fn build;
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
    enum gen gen[3];
    double max_zero_frac; /* 0 = default */
    int flags;            /* matmul flags, axis, ... */
};

/* ops with large third derivatives near short vectors get the 4-point stencil */
static int four_point(int op) { return op == HRN_OP_NORMALIZE || op == HRN_OP_L2NORM; }

/* constant data shared by some builders */
static const int32_t IDX_G[5] = {2, 0, 2, 3, 1};
static const int32_t IDX_S[6] = {1, 0, 1, 3, 3, 2};
static struct hrn_csr g_csr;
static struct hrn_csr g_big_csr;
static int32_t g_big_idx[128];
enum { HRN_PAR_MIN_FOR_TESTS = 1 << 15 }; /* autodiff's HRN_PAR_MIN (ad_impl.h) */
static float g_mask[12] = {1, 0, 1, 1, 0, 1, 1, 1, 0, 0.5f, 1, 0};

#define B1(name, expr)                                                                      \
    static struct hrn_tensor *name(struct hrn_tape *t, struct hrn_tensor *const *in,        \
                                   const struct gc_case *c) {                               \
        (void)c;                                                                            \
        return (expr);                                                                      \
    }

B1(b_add, hrn_add(t, in[0], in[1]))
B1(b_sub, hrn_sub(t, in[0], in[1]))
B1(b_mul, hrn_mul(t, in[0], in[1]))
B1(b_div, hrn_div(t, in[0], in[1]))
B1(b_mask_mul,
   hrn_mask_mul(t, in[0], hrn_tape_wrap(t, g_mask, in[0]->ndim, in[0]->shape, "mask")))
B1(b_mask_mul_bcast, hrn_mask_mul(t, in[0], hrn_tape_wrap(t, g_mask, 1, (int64_t[]){4}, "mask")))
B1(b_neg, hrn_neg(t, in[0]))
B1(b_scale, hrn_scale(t, in[0], -1.7f))
B1(b_add_scalar, hrn_add_scalar(t, in[0], 0.3f))
B1(b_exp, hrn_exp(t, in[0]))
B1(b_ln, hrn_ln(t, in[0]))
B1(b_sqrt, hrn_sqrt(t, in[0]))
B1(b_rsqrt, hrn_rsqrt(t, in[0]))
B1(b_pow, hrn_pow(t, in[0], 2.5f))
B1(b_abs, hrn_abs(t, in[0]))
B1(b_square, hrn_square(t, in[0]))
B1(b_relu, hrn_relu(t, in[0]))
B1(b_leaky, hrn_leaky_relu(t, in[0], 0.2f))
B1(b_sigmoid, hrn_sigmoid(t, in[0]))
B1(b_tanh, hrn_tanh(t, in[0]))
B1(b_softplus, hrn_softplus(t, hrn_scale(t, in[0], 3.0f)))
B1(b_clamp, hrn_clamp(t, in[0], -0.5f, 0.5f))
B1(b_sum, hrn_sum_all(t, in[0]))
B1(b_mean, hrn_mean_all(t, in[0]))
B1(b_sum_axis, hrn_sum_axis(t, in[0], c->flags))
B1(b_mean_axis, hrn_mean_axis(t, in[0], c->flags))
B1(b_l2norm, hrn_l2norm(t, in[0]))
B1(b_matmul, hrn_matmul(t, in[0], in[1], c->flags))
B1(b_bmm, hrn_bmm(t, in[0], in[1], c->flags))
B1(b_reshape, hrn_reshape(t, in[0], 3, (int64_t[]){3, 2, 2}))
B1(b_permute, hrn_permute(t, in[0], (int[]){2, 0, 1}))
B1(b_transpose, hrn_transpose(t, in[0], 0, -1))
B1(b_concat, hrn_concat(t, in, 3, c->flags))
B1(b_slice, hrn_slice(t, in[0], 1, 1, 2))
B1(b_gather, hrn_gather_rows(t, in[0], IDX_G, 5))
B1(b_scatter, hrn_scatter_add_rows(t, in[0], IDX_S, 6, 4))
B1(b_spmm, hrn_spmm(t, &g_csr, in[0]))
B1(b_cross, hrn_cross(t, in[0], in[1]))
B1(b_normalize, hrn_normalize(t, in[0], 0))
B1(b_euler, hrn_euler_rot(t, in[0]))
/* Custom ops (the extension point other modules use): y = w * x^3 with a constant weight from the
 * context, and z = a * b^2 over two sources, each with a hand-written backward that adds. */
static enum hrn_status cube_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const float *w = hrn_custom_ctx(out);
    const struct hrn_tensor *x = out->src[0];
    for (int64_t i = 0; i < out->numel; i++)
        out->data[i] = w[i % 12] * x->data[i] * x->data[i] * x->data[i];
    return HRN_OK;
}
static enum hrn_status cube_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const float *w = hrn_custom_ctx(out);
    struct hrn_tensor *x = out->src[0];
    if (hrn_src_wants_grad(out, 0))
        for (int64_t i = 0; i < out->numel; i++)
            x->grad[i] += out->grad[i] * 3.0f * w[i % 12] * x->data[i] * x->data[i];
    return HRN_OK;
}
static const struct hrn_custom_op CUBE_OP = {"cube", cube_fwd, cube_bwd, 0};
static enum hrn_status abb_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const float *a = out->src[0]->data, *b = out->src[1]->data;
    for (int64_t i = 0; i < out->numel; i++) out->data[i] = a[i] * b[i] * b[i];
    return HRN_OK;
}
static enum hrn_status abb_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    struct hrn_tensor *a = out->src[0], *b = out->src[1];
    for (int64_t i = 0; i < out->numel; i++) {
        if (hrn_src_wants_grad(out, 0)) a->grad[i] += out->grad[i] * b->data[i] * b->data[i];
        if (hrn_src_wants_grad(out, 1)) b->grad[i] += out->grad[i] * 2.0f * a->data[i] * b->data[i];
    }
    return HRN_OK;
}
static const struct hrn_custom_op ABB_OP = {"a_times_b_squared", abb_fwd, abb_bwd, 0};
B1(b_custom_cube, hrn_custom(t, &CUBE_OP, g_mask, in, 1, in[0]->ndim, in[0]->shape))
B1(b_custom_abb, hrn_custom(t, &ABB_OP, NULL, in, 2, in[0]->ndim, in[0]->shape))
/* a chain: gradients through several ops and a tensor used twice */
B1(b_chain, hrn_mul(t, hrn_tanh(t, hrn_matmul(t, in[0], in[1], 0)),
                    hrn_sigmoid(t, hrn_matmul(t, in[0], in[1], 0))))

#define S2(a, b) {a, b}
#define S3(a, b, c) {a, b, c}
static const struct gc_case CASES[] = {
    {HRN_OP_ADD, "add same", b_add, 2, {2, 2}, {S2(3, 4), S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_ADD, "add (2,3,4)+(4)", b_add, 2, {3, 1}, {S3(2, 3, 4), {4}}, {0}, 0, 0},
    {HRN_OP_ADD, "add scalar+(3,4)", b_add, 2, {1, 2}, {{1}, S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_SUB, "sub (3,4)-(1,4)", b_sub, 2, {2, 2}, {S2(3, 4), S2(1, 4)}, {0}, 0, 0},
    {HRN_OP_SUB, "sub (4)-(3,4)", b_sub, 2, {1, 2}, {{4}, S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_MUL, "mul (2,3)*(3)", b_mul, 2, {2, 1}, {S2(2, 3), {3}}, {0}, 0, 0},
    {HRN_OP_MUL, "mul (2,3)*scalar", b_mul, 2, {2, 1}, {S2(2, 3), {1}}, {0}, 0, 0},
    {HRN_OP_DIV, "div (3,4)/(4)", b_div, 2, {2, 1}, {S2(3, 4), {4}}, {0, GEN_POSITIVE}, 0, 0},
    {HRN_OP_DIV, "div (4)/(3,4)", b_div, 2, {1, 2}, {{4}, S2(3, 4)}, {0, GEN_POSITIVE}, 0, 0},
    {HRN_OP_MASK_MUL, "mask_mul", b_mask_mul, 1, {2}, {S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_MASK_MUL, "mask_mul bcast", b_mask_mul_bcast, 1, {2}, {S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_NEG, "neg", b_neg, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_SCALE, "scale", b_scale, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_ADD_SCALAR, "add_scalar", b_add_scalar, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_EXP, "exp", b_exp, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_LOG, "ln", b_ln, 1, {2}, {S2(3, 5)}, {GEN_POSITIVE}, 0, 0},
    {HRN_OP_SQRT, "sqrt", b_sqrt, 1, {2}, {S2(3, 5)}, {GEN_POSITIVE}, 0, 0},
    {HRN_OP_RSQRT, "rsqrt", b_rsqrt, 1, {2}, {S2(3, 5)}, {GEN_POSITIVE}, 0, 0},
    {HRN_OP_POW, "pow 2.5", b_pow, 1, {2}, {S2(3, 5)}, {GEN_POSITIVE}, 0, 0},
    {HRN_OP_ABS, "abs", b_abs, 1, {2}, {S2(3, 5)}, {GEN_NO_KINK}, 0, 0},
    {HRN_OP_SQUARE, "square", b_square, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_RELU, "relu", b_relu, 1, {2}, {S2(4, 5)}, {GEN_NO_KINK}, 0, 0},
    {HRN_OP_LEAKY_RELU, "leaky_relu", b_leaky, 1, {2}, {S2(3, 5)}, {GEN_NO_KINK}, 0, 0},
    {HRN_OP_SIGMOID, "sigmoid", b_sigmoid, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_TANH, "tanh", b_tanh, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_SOFTPLUS, "softplus", b_softplus, 1, {2}, {S2(3, 5)}, {0}, 0, 0},
    {HRN_OP_CLAMP, "clamp", b_clamp, 1, {2}, {S2(4, 5)}, {GEN_CLAMP}, 0, 0},
    {HRN_OP_SUM, "sum", b_sum, 1, {3}, {S3(2, 3, 4)}, {0}, 0, 0},
    {HRN_OP_MEAN, "mean", b_mean, 1, {3}, {S3(2, 3, 4)}, {0}, 0, 0},
    {HRN_OP_SUM_AXIS, "sum axis 1", b_sum_axis, 1, {3}, {S3(2, 3, 4)}, {0}, 0, 1},
    {HRN_OP_SUM_AXIS, "sum axis 0 of 1-d", b_sum_axis, 1, {1}, {{5}}, {0}, 0, 0},
    {HRN_OP_MEAN_AXIS, "mean axis -1", b_mean_axis, 1, {3}, {S3(2, 3, 4)}, {0}, 0, -1},
    {HRN_OP_MEAN_AXIS, "mean axis 0", b_mean_axis, 1, {2}, {S2(3, 4)}, {0}, 0, 0},
    {HRN_OP_L2NORM, "l2norm", b_l2norm, 1, {2}, {S2(5, 3)}, {GEN_ROWS_AWAY}, 0, 0},
    {HRN_OP_MATMUL, "matmul", b_matmul, 2, {2, 2}, {S2(3, 4), S2(4, 5)}, {0}, 0, 0},
    {HRN_OP_MATMUL, "matmul A^T", b_matmul, 2, {2, 2}, {S2(4, 3), S2(4, 5)}, {0}, 0,
     HRN_MATMUL_TRANS_A},
    {HRN_OP_MATMUL, "matmul B^T", b_matmul, 2, {2, 2}, {S2(3, 4), S2(5, 4)}, {0}, 0,
     HRN_MATMUL_TRANS_B},
    {HRN_OP_MATMUL, "matmul A^T B^T", b_matmul, 2, {2, 2}, {S2(4, 3), S2(5, 4)}, {0}, 0,
     HRN_MATMUL_TRANS_A | HRN_MATMUL_TRANS_B},
    {HRN_OP_BMM, "bmm", b_bmm, 2, {3, 3}, {S3(2, 3, 4), S3(2, 4, 2)}, {0}, 0, 0},
    {HRN_OP_BMM, "bmm A^T B^T", b_bmm, 2, {3, 3}, {S3(2, 4, 3), S3(2, 2, 4)}, {0}, 0,
     HRN_MATMUL_TRANS_A | HRN_MATMUL_TRANS_B},
    {HRN_OP_BMM, "bmm shared b", b_bmm, 2, {3, 2}, {S3(2, 3, 4), S2(4, 2)}, {0}, 0, 0},
    {HRN_OP_BMM, "bmm shared b^T, A^T", b_bmm, 2, {3, 2}, {S3(2, 4, 3), S2(2, 4)}, {0}, 0,
     HRN_MATMUL_TRANS_A | HRN_MATMUL_TRANS_B},
    {HRN_OP_RESHAPE, "reshape", b_reshape, 1, {2}, {S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_PERMUTE, "permute", b_permute, 1, {3}, {S3(2, 3, 4)}, {0}, 0, 0},
    {HRN_OP_PERMUTE, "transpose", b_transpose, 1, {3}, {S3(2, 3, 4)}, {0}, 0, 0},
    {HRN_OP_CONCAT, "concat axis 1", b_concat, 3, {2, 2, 2}, {S2(2, 3), S2(2, 1), S2(2, 2)},
     {0}, 0, 1},
    {HRN_OP_CONCAT, "concat axis 0", b_concat, 3, {2, 2, 2}, {S2(1, 3), S2(2, 3), S2(1, 3)},
     {0}, 0, 0},
    {HRN_OP_SLICE, "slice", b_slice, 1, {3}, {S3(2, 4, 3)}, {0}, 0, 0},
    {HRN_OP_GATHER_ROWS, "gather_rows", b_gather, 1, {2}, {S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_SCATTER_ADD_ROWS, "scatter_add_rows", b_scatter, 1, {2}, {S2(6, 2)}, {0}, 0, 0},
    {HRN_OP_SPMM, "spmm (C,K)", b_spmm, 1, {2}, {S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_SPMM, "spmm (B,C,K)", b_spmm, 1, {3}, {S3(2, 4, 3)}, {0}, 0, 0},
    {HRN_OP_CROSS, "cross", b_cross, 2, {2, 2}, {S2(4, 3), S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_NORMALIZE, "normalize", b_normalize, 1, {2}, {S2(4, 3)}, {GEN_ROWS_AWAY}, 0, 0},
    {HRN_OP_EULER_ROT, "euler_rot", b_euler, 1, {2}, {S2(3, 3)}, {0}, 0, 0},
    {HRN_OP_CUSTOM, "custom w*x^3", b_custom_cube, 1, {2}, {S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_CUSTOM, "custom a*b^2", b_custom_abb, 2, {2, 2}, {S2(4, 3), S2(4, 3)}, {0}, 0, 0},
    {HRN_OP_MUL, "chain tanh*sigmoid of matmul", b_chain, 2, {2, 2}, {S2(3, 4), S2(4, 2)}, {0},
     0, 0},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

static enum hrn_status case_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                               void *user, struct hrn_tensor **out) {
    (void)n;
    const struct gc_case *c = user;
    *out = c->build(t, in, c);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void fill_input(struct hrn_rng *r, struct hrn_tensor *x, enum gen g) {
    for (int64_t i = 0; i < x->numel; i++) {
        float u = hrn_rng_uniformf(r);
        switch (g) {
        case GEN_UNIFORM: x->data[i] = 2.0f * u - 1.0f; break;
        case GEN_POSITIVE: x->data[i] = 0.5f + 1.5f * u; break;
        case GEN_NO_KINK:
            x->data[i] = (0.1f + 0.9f * u) * (hrn_rng_u64(r) & 1 ? 1.0f : -1.0f);
            break;
        case GEN_ROWS_AWAY: x->data[i] = 2.0f * u - 1.0f; break;
        case GEN_CLAMP: {
            float v = 2.0f * u - 1.0f;
            if (fabsf(fabsf(v) - 0.5f) < 0.05f) v = v > 0 ? (fabsf(v) < 0.5f ? 0.4f : 0.6f)
                                                      : (fabsf(v) < 0.5f ? -0.4f : -0.6f);
            x->data[i] = v;
            break;
        }
        }
    }
}

/* rows along the last axis scaled up to norm >= 0.3 */
static void rows_away(struct hrn_tensor *x) {
    int64_t D = x->shape[x->ndim - 1];
    for (int64_t r = 0; r < x->numel / D; r++) {
        double s = 0;
        float *row = x->data + r * D;
        for (int64_t j = 0; j < D; j++) s += (double)row[j] * (double)row[j];
        if (sqrt(s) < 0.3)
            for (int64_t j = 0; j < D; j++)
                row[j] = (float)((double)row[j] * 0.3 / fmax(sqrt(s), 1e-3));
    }
}

static int run_case(const struct gc_case *c, uint64_t seed, struct hrn_gradcheck_report *rep) {
    struct hrn_tape t;
    if (hrn_tape_init(&t, 1u << 20) != HRN_OK) return 0;
    struct hrn_rng r;
    hrn_rng_seed(&r, seed * 1000 + (uint64_t)c->op);
    struct hrn_tensor *in[3] = {0};
    int ok = 1;
    for (int i = 0; i < c->n_in; i++) {
        in[i] = hrn_tape_tensor(&t, c->ndim[i], c->shape[i], NULL);
        if (!in[i]) {
            ok = 0;
            break;
        }
        fill_input(&r, in[i], c->gen[i]);
        if (c->gen[i] == GEN_ROWS_AWAY) rows_away(in[i]);
    }
    if (ok) {
        struct hrn_gradcheck_opts o = {.seed = seed, .max_zero_frac = c->max_zero_frac,
                                       .four_point = four_point(c->op)};
        enum hrn_status st = hrn_gradcheck(&t, in, c->n_in, case_fn, (void *)c, &o, rep);
        ok = st == HRN_OK;
        if (!ok) printf("    %s (seed %llu): %s\n", c->label, (unsigned long long)seed,
                        hrn_error_msg());
    }
    hrn_tape_free(&t);
    return ok;
}

static void setup_csr(void) {
    /* 5x4 with a duplicate entry (summed), an empty row and an unused... every column used */
    const int32_t row[] = {0, 0, 1, 1, 3, 4, 4, 0, 2};
    const int32_t col[] = {0, 2, 1, 3, 0, 2, 3, 2, 1};
    const float val[] = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f, 1.0f, 0.5f, -2.0f};
    /* row 2 has one entry; make row 3 ... all rows non-empty except none: fine */
    HRN_ASSERT(hrn_csr_from_coo(&g_csr, 5, 4, 9, row, col, val) == HRN_OK);
}

static void test_op_table_complete(void) {
    for (int op = 1; op < HRN_OP_COUNT; op++) {
        /* the layer ops (conv ... dropout) have their gradient checks in test_layers.c, which
         * fails the same way when one is missing */
        if (op >= HRN_OP_CONV2D && op <= HRN_OP_DROPOUT) continue;
        const struct hrn_op_info *info = &hrn_op_table[op];
        CHECK_MSG(info->name && info->forward && info->backward,
                  "op %d has a NULL name, forward or backward", op);
        int has_case = 0;
        for (int k = 0; k < N_CASES; k++) has_case |= CASES[k].op == op;
        CHECK_MSG(has_case, "op %d (%s) has no gradient-check case in test_autodiff_ops.c", op,
                  hrn_op_name(op));
    }
    CHECK(strcmp(hrn_op_name(HRN_OP_EULER_ROT), "euler_rot") == 0);
    CHECK(strcmp(hrn_op_name(HRN_OP_COUNT), "?") == 0);
}

static void test_gradcheck_all_ops(void) {
    int failed = 0;
    for (int l = 0; l < g_nloop; l++) {
        uint64_t seed = g_seed + (uint64_t)l;
        for (int k = 0; k < N_CASES; k++) {
            struct hrn_gradcheck_report rep;
            int ok = run_case(&CASES[k], seed, &rep);
            CHECK_MSG(ok, "gradcheck %s seed %llu", CASES[k].label, (unsigned long long)seed);
            CHECK_MSG(rep.n_checked > 0, "%s: nothing was checked", CASES[k].label);
            failed += !ok;
            if (getenv("HRN_TEST_VERBOSE"))
                printf("    %-32s %s\n", CASES[k].label, rep.msg);
        }
    }
    if (failed) printf("    %d gradcheck cases failed (HRN_TEST_SEED=%llu)\n", failed,
                       (unsigned long long)g_seed);
}

/* Random shapes (1-4 dims of 1-4) with random broadcast suffixes, across seeds (style.md 5.4). */
struct rand_case {
    int kind; /* 0 add, 1 sub, 2 mul, 3 div, 4 sum_axis, 5 mean_axis, 6 permute, 7 slice, 8 concat */
    int axis;
    int perm[4];
};

static enum hrn_status rand_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *user,
                               struct hrn_tensor **out) {
    (void)n;
    const struct rand_case *c = user;
    struct hrn_tensor *a = in[0], *b = in[1], *y = NULL;
    switch (c->kind) {
    case 0: y = hrn_add(t, a, b); break;
    case 1: y = hrn_sub(t, b, a); break; /* the smaller operand first */
    case 2: y = hrn_mul(t, a, b); break;
    case 3: y = hrn_div(t, a, hrn_add_scalar(t, hrn_square(t, b), 0.5f)); break;
    case 4: y = hrn_sum_axis(t, a, c->axis); break;
    case 5: y = hrn_mean_axis(t, a, c->axis); break;
    case 6: y = hrn_permute(t, a, c->perm); break;
    case 7: y = hrn_slice(t, a, c->axis, 0, a->shape[c->axis]); break;
    case 8: y = hrn_concat(t, (struct hrn_tensor *[]){a, a}, 2, c->axis); break;
    }
    *out = y;
    return y ? HRN_OK : HRN_ERR_INVALID;
}

static void test_gradcheck_random_shapes(void) {
    int failed = 0, total = 0;
    for (int l = 0; l < 20 * g_nloop; l++) {
        struct hrn_rng r;
        hrn_rng_seed(&r, g_seed * 7919 + (uint64_t)l);
        struct hrn_tape t;
        CHECK_OK(hrn_tape_init(&t, 1u << 20));
        int nd = 1 + (int)hrn_rng_below(&r, 4);
        int64_t shape[4];
        for (int i = 0; i < nd; i++) shape[i] = 1 + (int64_t)hrn_rng_below(&r, 4);
        int keep = (int)hrn_rng_below(&r, (uint64_t)nd + 1); /* b = trailing `keep` dims or scalar */
        struct rand_case c = {(int)hrn_rng_below(&r, 9), (int)hrn_rng_below(&r, (uint64_t)nd),
                              {0, 1, 2, 3}};
        for (int i = nd - 1; i > 0; i--) { /* random permutation of nd axes */
            int j = (int)hrn_rng_below(&r, (uint64_t)i + 1), tmp = c.perm[i];
            c.perm[i] = c.perm[j];
            c.perm[j] = tmp;
        }
        struct hrn_tensor *a = hrn_tape_tensor(&t, nd, shape, "a");
        struct hrn_tensor *b = keep ? hrn_tape_tensor(&t, keep, shape + nd - keep, "b")
                                    : hrn_tape_tensor(&t, 1, (int64_t[]){1}, "b");
        hrn_rng_fill_uniform(&r, a->data, (size_t)a->numel, -1, 1);
        hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, -1, 1);
        struct hrn_tensor *in[2] = {a, b};
        int n_in = c.kind <= 3 ? 2 : 1;
        struct hrn_gradcheck_opts o = {.seed = g_seed + (uint64_t)l};
        enum hrn_status st = hrn_gradcheck(&t, in, n_in, rand_fn, &c, &o, NULL);
        total++;
        if (st != HRN_OK) {
            failed++;
            char sa[64], sb[64];
            printf("    kind %d axis %d a %s b %s: %s\n", c.kind, c.axis,
                   hrn_tensor_shape_str(a, sa, sizeof sa), hrn_tensor_shape_str(b, sb, sizeof sb),
                   hrn_error_msg());
        }
        hrn_tape_free(&t);
    }
    CHECK_MSG(failed == 0, "%d of %d random-shape cases failed (HRN_TEST_SEED=%llu)", failed,
              total, (unsigned long long)g_seed);
}

/* The OpenMP branches run only from HRN_PAR_MIN (32768) elements: check them on large inputs,
 * a random subset of elements each. */
static enum hrn_status large_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                                void *user, struct hrn_tensor **out) {
    (void)n;
    int kind = *(const int *)user;
    struct hrn_tensor *a = in[0], *b = in[1], *y = NULL; /* a (128,96,3), b (96,3) */
    switch (kind) {
    case 0: y = hrn_mul(t, hrn_add(t, a, a), hrn_sigmoid(t, a)); break;
    case 1: y = hrn_sub(t, b, hrn_mul(t, a, b)); break; /* broadcast on both sides */
    case 2: y = hrn_div(t, hrn_exp(t, a), hrn_add_scalar(t, hrn_square(t, b), 0.5f)); break;
    /* a zero-mean sum: a float32 total near 10^4 would round by more than atol·2h */
    case 3: y = hrn_sum_all(t, hrn_mul(t, a, b)); break;
    case 4: y = hrn_mean_axis(t, hrn_tanh(t, a), 1); break;
    case 5: y = hrn_normalize(t, hrn_add_scalar(t, a, 2.0f), 0); break; /* norms >= 1.7 */
    case 11: y = hrn_l2norm(t, hrn_add_scalar(t, a, 2.0f)); break;
    case 6: y = hrn_cross(t, a, hrn_softplus(t, a)); break;
    case 7: y = hrn_permute(t, a, (int[]){2, 0, 1}); break;
    case 8: y = hrn_sum_axis(t, a, 0); break;
    case 9: y = hrn_scatter_add_rows(t, hrn_gather_rows(t, a, g_big_idx, 128), g_big_idx, 128, 128);
        break;
    case 10: y = hrn_spmm(t, &g_big_csr, hrn_reshape(t, a, 2, (int64_t[]){128, 288})); break;
    }
    *out = y;
    return y ? HRN_OK : HRN_ERR_INVALID;
}

static void test_gradcheck_large(void) {
    for (int i = 0; i < 128; i++) g_big_idx[i] = (int32_t)((i * 37 + 5) % 128);
    /* a banded 200 x 128 matrix */
    int32_t row[600], col[600];
    float val[600];
    for (int k = 0; k < 600; k++) {
        row[k] = (int32_t)(k / 3);
        col[k] = (int32_t)((k / 3 + k % 3) % 128);
        val[k] = 0.25f + 0.01f * (float)(k % 17);
    }
    CHECK_OK(hrn_csr_from_coo(&g_big_csr, 200, 128, 600, row, col, val));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, g_seed + 99);
    struct hrn_tensor *a = hrn_tape_tensor(&t, 3, (int64_t[]){128, 96, 3}, "a");
    struct hrn_tensor *b = hrn_tape_tensor(&t, 2, (int64_t[]){96, 3}, "b");
    hrn_rng_fill_uniform(&r, a->data, (size_t)a->numel, -1, 1);
    hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, -1, 1);
    HRN_ASSERT(a->numel >= HRN_PAR_MIN_FOR_TESTS);
    struct hrn_tensor *in[2] = {a, b};
    for (int kind = 0; kind <= 11; kind++) {
        struct hrn_gradcheck_opts o = {.seed = g_seed, .max_per_input = 12};
        struct hrn_gradcheck_report rep;
        int n_in = kind == 1 || kind == 2 || kind == 3 ? 2 : 1;
        enum hrn_status st = hrn_gradcheck(&t, in, n_in, large_fn, &kind, &o, &rep);
        CHECK_MSG(st == HRN_OK, "large case %d: %s", kind, hrn_error_msg());
    }
    hrn_tape_free(&t);
    hrn_csr_free(&g_big_csr);
}

/* The checker itself must be able to fail. */
static enum hrn_status wrong_grad_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                                     void *user, struct hrn_tensor **out) {
    (void)n, (void)user;
    *out = hrn_mul(t, in[0], hrn_detach(t, in[0])); /* analytic x, true 2x */
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status relu_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                               void *user, struct hrn_tensor **out) {
    (void)n, (void)user;
    *out = hrn_relu(t, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_gradcheck_can_fail(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 2, (int64_t[]){3, 4}, "x");
    for (int i = 0; i < 12; i++) x->data[i] = 0.1f + 0.07f * (float)i;
    struct hrn_gradcheck_report rep;
    CHECK_STATUS(hrn_gradcheck(&t, &x, 1, wrong_grad_fn, NULL, NULL, &rep), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("elements off");
    CHECK(rep.n_failed > 0);
    /* all-zero analytic gradients: mistrusted */
    for (int i = 0; i < 12; i++) x->data[i] = -0.1f - 0.07f * (float)i;
    CHECK_STATUS(hrn_gradcheck(&t, &x, 1, relu_fn, NULL, NULL, &rep), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("mistrusted");
    /* the input is restored and its flags left as they were */
    CHECK(x->data[0] == -0.1f && !(x->flags & HRN_TENSOR_REQUIRES_GRAD) && x->grad == NULL);
    hrn_tape_free(&t);
}

/* --- forward against naive references -------------------------------------------------------- */

static void ref_matmul(float *c, const float *a, const float *b, int M, int K, int N, int ta,
                       int tb) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? a[k * M + i] : a[i * K + k]) *
                     (double)(tb ? b[j * K + k] : b[k * N + j]);
            c[i * N + j] = (float)s;
        }
}

static void test_forward_references(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 8u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, 7);
    const int M = 37, K = 19, N = 23, B = 3;
    float ref[64 * 64];
    for (int f = 0; f < 4; f++) {
        int ta = f & 1, tb = (f >> 1) & 1;
        struct hrn_tensor *a = hrn_tape_tensor(&t, 3, (int64_t[]){B, ta ? K : M, ta ? M : K}, "a");
        struct hrn_tensor *b = hrn_tape_tensor(&t, 3, (int64_t[]){B, tb ? N : K, tb ? K : N}, "b");
        hrn_rng_fill_uniform(&r, a->data, (size_t)a->numel, -1, 1);
        hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, -1, 1);
        struct hrn_tensor *c = hrn_bmm(&t, a, b, f);
        CHECK(c && c->shape[0] == B && c->shape[1] == M && c->shape[2] == N);
        double md = 0;
        for (int i = 0; c && i < B; i++) {
            ref_matmul(ref, a->data + i * M * K, b->data + i * K * N, M, K, N, ta, tb);
            for (int k = 0; k < M * N; k++) md = fmax(md, fabs(ref[k] - c->data[i * M * N + k]));
        }
        CHECK_MSG(md <= 1e-5, "bmm flags %d maxdiff %g", f, md);
        struct hrn_tensor *a2 = hrn_reshape(&t, hrn_slice(&t, a, 0, 1, 1), 2, a->shape + 1);
        struct hrn_tensor *b2 = hrn_reshape(&t, hrn_slice(&t, b, 0, 1, 1), 2, b->shape + 1);
        struct hrn_tensor *c2 = hrn_matmul(&t, a2, b2, f);
        ref_matmul(ref, a->data + M * K, b->data + K * N, M, K, N, ta, tb);
        md = 0;
        for (int k = 0; c2 && k < M * N; k++) md = fmax(md, fabs(ref[k] - c2->data[k]));
        CHECK_MSG(c2 && md <= 1e-5, "matmul flags %d maxdiff %g", f, md);
    }
    /* spmm against the dense product */
    float dense[5][4] = {{0}};
    for (int rr = 0; rr < 5; rr++)
        for (int64_t k = g_csr.rowptr[rr]; k < g_csr.rowptr[rr + 1]; k++)
            dense[rr][g_csr.col[k]] += g_csr.val[k];
    CHECK(dense[0][2] == -0.5f); /* the duplicate (0,2) entries were summed */
    struct hrn_tensor *x = hrn_tape_tensor(&t, 3, (int64_t[]){2, 4, 3}, "x");
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, -1, 1);
    struct hrn_tensor *y = hrn_spmm(&t, &g_csr, x);
    CHECK(y && y->ndim == 3 && y->shape[1] == 5);
    double md = 0;
    for (int b = 0; y && b < 2; b++)
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 3; k++) {
                double s = 0;
                for (int j = 0; j < 4; j++)
                    s += (double)dense[i][j] * (double)x->data[(b * 4 + j) * 3 + k];
                md = fmax(md, fabs(s - (double)y->data[(b * 5 + i) * 3 + k]));
            }
    CHECK_MSG(md <= 1e-6, "spmm maxdiff %g", md);
    /* Euler: R = Rz Ry Rx written out in closed form */
    struct hrn_tensor *ang = hrn_tape_tensor(&t, 2, (int64_t[]){1, 3}, "ang");
    ang->data[0] = 0.3f, ang->data[1] = -0.7f, ang->data[2] = 1.1f;
    struct hrn_tensor *R = hrn_euler_rot(&t, ang);
    double cx = cos(0.3), sx = sin(0.3), cy = cos(-0.7), sy = sin(-0.7), cz = cos(1.1),
           sz = sin(1.1);
    double want[9] = {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
                      sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
                      -sy,     cy * sx,                cy * cx};
    for (int k = 0; R && k < 9; k++) CHECK_NEAR(R->data[k], want[k], 1e-6, 0);
    /* permute against index arithmetic */
    struct hrn_tensor *p = hrn_tape_tensor(&t, 4, (int64_t[]){2, 3, 4, 5}, "p");
    for (int k = 0; k < 120; k++) p->data[k] = (float)k;
    struct hrn_tensor *q = hrn_permute(&t, p, (int[]){3, 1, 0, 2});
    int bad = 0;
    for (int i0 = 0; q && i0 < 5; i0++)
        for (int i1 = 0; i1 < 3; i1++)
            for (int i2 = 0; i2 < 2; i2++)
                for (int i3 = 0; i3 < 4; i3++)
                    bad += q->data[((i0 * 3 + i1) * 2 + i2) * 4 + i3] !=
                           p->data[((i2 * 3 + i1) * 4 + i3) * 5 + i0];
    CHECK(q && bad == 0);
    hrn_tape_free(&t);
}

/* Large reductions give the same bits with 1 and 2 threads. */
static void test_deterministic_threads(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, 3);
    struct hrn_tensor *x = hrn_tape_tensor(&t, 2, (int64_t[]){1000, 1000}, "x");
    struct hrn_tensor *b = hrn_tape_tensor(&t, 1, (int64_t[]){1000}, "b");
    CHECK_OK(hrn_tape_requires_grad(&t, x));
    CHECK_OK(hrn_tape_requires_grad(&t, b));
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, -1, 1);
    hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, -1, 1);
    float s[2], gb[2], gx[2];
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        struct hrn_tape_mark m = hrn_tape_mark(&t);
        memset(x->grad, 0, (size_t)x->numel * 4);
        memset(b->grad, 0, (size_t)b->numel * 4);
        struct hrn_tensor *loss = hrn_sum_all(&t, hrn_square(&t, hrn_mul(&t, x, b)));
        CHECK_OK(hrn_tape_backward(&t, loss));
        s[k] = loss->data[0];
        gb[k] = b->grad[17];
        gx[k] = x->grad[123457];
        hrn_tape_rewind(&t, m);
    }
    omp_set_num_threads(saved);
    CHECK(s[0] == s[1] && gb[0] == gb[1] && gx[0] == gx[1]);
    hrn_tape_free(&t);
}

/* --- tape behaviour and errors --------------------------------------------------------------- */

static void test_backward_accumulates_and_detach(void) {
    struct hrn_tape t;
    struct hrn_params ps;
    hrn_params_init(&ps);
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    int iw;
    CHECK_OK(hrn_params_add(&ps, "w", 1, (int64_t[]){3}, 0, &iw));
    CHECK_OK(hrn_params_alloc(&ps));
    struct hrn_tensor *w = hrn_params_tensor(&ps, iw);
    w->data[0] = 1, w->data[1] = 2, w->data[2] = 3;
    /* loss = sum(w * w) + sum(w * detach(w)): d/dw = 2w + w = 3w */
    struct hrn_tensor *loss = hrn_add(&t, hrn_sum_all(&t, hrn_mul(&t, w, w)),
                                      hrn_sum_all(&t, hrn_mul(&t, w, hrn_detach(&t, w))));
    CHECK_OK(hrn_tape_backward(&t, loss));
    CHECK_NEAR(w->grad[1], 6.0, 1e-6, 0);
    CHECK_OK(hrn_tape_backward(&t, loss)); /* leaves accumulate, intermediates restart */
    CHECK_NEAR(w->grad[1], 12.0, 1e-6, 0);
    hrn_params_zero_grad(&ps);
    CHECK(w->grad[1] == 0.0f);
    hrn_tape_free(&t);
    hrn_params_free(&ps);
}

/* A tensor flagged NO_GRAD_INPUT neither receives nor passes on a gradient. */
static void test_no_grad_input_flag(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 1, (int64_t[]){3}, "x");
    struct hrn_tensor *m = hrn_tape_tensor(&t, 1, (int64_t[]){3}, "m");
    CHECK_OK(hrn_tape_requires_grad(&t, x));
    CHECK_OK(hrn_tape_requires_grad(&t, m));
    m->flags |= HRN_TENSOR_NO_GRAD_INPUT;
    for (int i = 0; i < 3; i++) x->data[i] = 1.0f + (float)i, m->data[i] = 2.0f;
    struct hrn_tensor *loss = hrn_sum_all(&t, hrn_mul(&t, x, m));
    CHECK_OK(hrn_tape_backward(&t, loss));
    CHECK(x->grad[1] == 2.0f && m->grad[1] == 0.0f);
    /* a loss that depends only on such a tensor has nothing to differentiate */
    CHECK_STATUS(hrn_tape_backward(&t, hrn_sum_all(&t, hrn_exp(&t, m))), HRN_ERR_INVALID);
    CHECK_ERR_HAS("no parameters");
    struct hrn_tensor *k = hrn_tape_tensor(&t, 1, (int64_t[]){3}, "k");
    k->flags |= HRN_TENSOR_NO_GRAD_INPUT;
    CHECK_STATUS(hrn_tape_requires_grad(&t, k), HRN_ERR_INVALID);
    CHECK_ERR_HAS("NO_GRAD_INPUT");
    hrn_tape_free(&t);
}

static void test_error_messages(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *a = hrn_tape_tensor(&t, 2, (int64_t[]){2, 3}, "a");
    struct hrn_tensor *b = hrn_tape_tensor(&t, 1, (int64_t[]){4}, "b");
    hrn_error_clear();
    CHECK(hrn_add(&t, a, b) == NULL);
    CHECK_ERR_HAS("add");
    CHECK_ERR_HAS("(2,3)");
    CHECK_ERR_HAS("(4)");
    /* a NULL propagates through a chain and keeps the first message */
    struct hrn_tensor *y = hrn_sum_all(&t, hrn_exp(&t, hrn_add(&t, a, b)));
    CHECK(y == NULL);
    CHECK_ERR_HAS("add: shapes (2,3)");
    CHECK_STATUS(hrn_tape_backward(&t, y), HRN_ERR_INVALID);
    CHECK_ERR_HAS("earlier op failed");
    CHECK(hrn_matmul(&t, a, a, 0) == NULL);
    CHECK_ERR_HAS("matmul: shapes (2,3)");
    CHECK_ERR_HAS("inner dimensions 3 and 2");
    CHECK(hrn_reshape(&t, a, 2, (int64_t[]){4, 2}) == NULL);
    CHECK_ERR_HAS("reshape");
    CHECK(hrn_gather_rows(&t, a, (int32_t[]){0, 2}, 2) == NULL);
    CHECK_ERR_HAS("index 1 is 2, outside [0, 2)");
    CHECK(hrn_cross(&t, a, b) == NULL);
    CHECK_ERR_HAS("cross");
    CHECK(hrn_slice(&t, a, 1, 2, 2) == NULL);
    CHECK_ERR_HAS("slice");
    /* backward on a non-scalar */
    CHECK_OK(hrn_tape_requires_grad(&t, a));
    struct hrn_tensor *e = hrn_exp(&t, a);
    CHECK_STATUS(hrn_tape_backward(&t, e), HRN_ERR_INVALID);
    CHECK_ERR_HAS("shape (2,3)");
    CHECK_ERR_HAS("scalar");
    /* backward with nothing to differentiate */
    struct hrn_tensor *c = hrn_sum_all(&t, b);
    CHECK_STATUS(hrn_tape_backward(&t, c), HRN_ERR_INVALID);
    CHECK_ERR_HAS("no parameters");
    /* only leaves can be marked */
    CHECK_STATUS(hrn_tape_requires_grad(&t, e), HRN_ERR_INVALID);
    CHECK_ERR_HAS("only leaves");
    /* a full arena is an error, not a crash */
    struct hrn_tape small;
    CHECK_OK(hrn_tape_init(&small, 4096));
    struct hrn_tensor *z = hrn_tape_tensor(&small, 1, (int64_t[]){512}, "z");
    CHECK(z != NULL);
    CHECK(hrn_exp(&small, z) == NULL);
    CHECK_ERR_HAS("arena");
    hrn_tape_free(&small);
    hrn_tape_free(&t);
}

int main(void) {
    const char *s = getenv("HRN_TEST_SEED"), *nl = getenv("HRN_TEST_NLOOP");
    if (s && *s) g_seed = strtoull(s, NULL, 10);
    if (nl && *nl) g_nloop = atoi(nl) > 0 ? atoi(nl) : 1;
    printf("seed %llu, %d loops\n", (unsigned long long)g_seed, g_nloop);
    setup_csr();
    RUN(test_op_table_complete);
    RUN(test_gradcheck_all_ops);
    RUN(test_gradcheck_random_shapes);
    RUN(test_gradcheck_large);
    RUN(test_gradcheck_can_fail);
    RUN(test_forward_references);
    RUN(test_deterministic_threads);
    RUN(test_backward_accumulates_and_detach);
    RUN(test_no_grad_input_flag);
    RUN(test_error_messages);
    hrn_csr_free(&g_csr);
    return hrn_test_finish();
}
