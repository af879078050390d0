/* op_elementwise.c: binary ops with broadcasting (add, sub, mul, div, mask_mul) and unary ops. */
#include "ad_impl.h"

#include <math.h>

/* --- broadcasting ---------------------------------------------------------------------------- */

/* The output shape of a binary op: the larger operand's. The smaller one (numel ns) must be a
 * scalar or match the larger's trailing dimensions once its leading 1s are dropped; then big
 * element i pairs with small element i % ns, which the row loops below exploit. */
static const struct hrn_tensor *broadcast(const struct hrn_tensor *a, const struct hrn_tensor *b) {
    const struct hrn_tensor *big = a, *small = b;
    if (b->numel > a->numel || (b->numel == a->numel && b->ndim > a->ndim)) {
        big = b;
        small = a;
    }
    if (small->numel == 1) return big;
    if (big->numel % small->numel) return NULL;
    int s0 = 0;
    while (s0 < small->ndim - 1 && small->shape[s0] == 1) s0++;
    int ns = small->ndim - s0;
    if (ns > big->ndim) return NULL;
    for (int k = 0; k < ns; k++)
        if (small->shape[small->ndim - 1 - k] != big->shape[big->ndim - 1 - k]) return NULL;
    return big;
}

static struct hrn_tensor *binary(struct hrn_tape *t, int op, struct hrn_tensor *a,
                                 struct hrn_tensor *b) {
    struct hrn_tensor *src[2] = {a, b};
    if (hrn__null_input(hrn_op_name(op), src, 2)) return NULL;
    const struct hrn_tensor *big = broadcast(a, b);
    if (!big)
        return hrn__shape_error(t, hrn_op_name(op), a, b,
                                "do not broadcast (need equal shapes, a scalar, or the smaller "
                                "shape equal to the trailing dimensions of the larger)");
    return hrn__node(t, op, big->ndim, big->shape, src, 2, NULL, 0, 1);
}

struct hrn_tensor *hrn_add(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b) {
    return binary(t, HRN_OP_ADD, a, b);
}
struct hrn_tensor *hrn_sub(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b) {
    return binary(t, HRN_OP_SUB, a, b);
}
struct hrn_tensor *hrn_mul(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b) {
    return binary(t, HRN_OP_MUL, a, b);
}
struct hrn_tensor *hrn_div(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b) {
    return binary(t, HRN_OP_DIV, a, b);
}
struct hrn_tensor *hrn_mask_mul(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *mask) {
    return binary(t, HRN_OP_MASK_MUL, x, mask);
}

/* --- binary kernels -------------------------------------------------------------------------- */

/* out (n) = a (na) OP b (nb), one of na, nb equal to n and the other dividing it. EXPR sees
 * x = a[..], y = b[..]. Each output element is written by exactly one thread: deterministic. */
#define BINARY_FWD(EXPR)                                                                  \
    do {                                                                                  \
        if (na == n && nb == n) {                                                         \
            HRN__PAR_FOR(n >= HRN_PAR_MIN, i, n, float x = a[i], y = b[i]; out[i] = (EXPR);); \
        } else {                                                                          \
            int64_t inner = na < n ? na : nb, rows = n / inner;                           \
            int a_small = na < n;                                                         \
            HRN__PAR_FOR(n >= HRN_PAR_MIN, r, rows,                                       \
                for (int64_t j = 0; j < inner; j++) {                                     \
                    int64_t i = r * inner + j;                                            \
                    float x = a[a_small ? j : i], y = b[a_small ? i : j];                 \
                    out[i] = (EXPR);                                                      \
                });                                                                       \
        }                                                                                 \
    } while (0)

/* gx (nx) += d out/d x terms. The full-size side runs in parallel; a broadcast (smaller) side
 * sums over rows in a fixed order on one thread so results do not depend on the thread count.
 * EXPR sees g = dout[i], x = a[..], y = b[..], o = out[i]. */
#define BINARY_BWD(gx, nx, EXPR)                                                          \
    do {                                                                                  \
        int64_t inner = na < n ? na : (nb < n ? nb : n), rows = n / inner;                \
        if (nx == n && inner == n) {                                                      \
            HRN__PAR_FOR(n >= HRN_PAR_MIN, i, n,                                          \
                float g = dout[i], o = out[i], x = a[i], y = b[i];                        \
                (void)o; (void)x; (void)y;                                                \
                gx[i] += (EXPR););                                                        \
        } else if (nx == n) {                                                             \
            HRN__PAR_FOR(n >= HRN_PAR_MIN, r, rows,                                       \
                for (int64_t j = 0; j < inner; j++) {                                     \
                    int64_t i = r * inner + j;                                            \
                    float g = dout[i], o = out[i];                                        \
                    float x = a[na == n ? i : j], y = b[nb == n ? i : j];                 \
                    (void)o; (void)x; (void)y;                                            \
                    gx[i] += (EXPR);                                                      \
                });                                                                       \
        } else {                                                                          \
            for (int64_t r = 0; r < rows; r++)                                            \
                for (int64_t j = 0; j < inner; j++) {                                     \
                    int64_t i = r * inner + j;                                            \
                    float g = dout[i], o = out[i];                                        \
                    float x = a[na == n ? i : j], y = b[nb == n ? i : j];                 \
                    (void)o;                                                              \
                    (void)x;                                                              \
                    (void)y;                                                              \
                    gx[j] += (EXPR);                                                      \
                }                                                                         \
        }                                                                                 \
    } while (0)

/* --- binary kernels (llm.c style: outputs first; n = numel(out), na/nb = numel(a)/numel(b)) */

/* out (n) = a (na) + b (nb) */
static void add_forward(float *out, const float *a, const float *b, int64_t n, int64_t na,
                        int64_t nb) {
    BINARY_FWD(x + y);
}
/* da (na) += dout; db (nb) += dout (either may be NULL) */
static void add_backward(float *ga, float *gb, const float *dout, const float *a, const float *b,
                         const float *out, int64_t n, int64_t na, int64_t nb) {
    if (ga) BINARY_BWD(ga, na, g);
    if (gb) BINARY_BWD(gb, nb, g);
}

/* out (n) = a (na) - b (nb) */
static void sub_forward(float *out, const float *a, const float *b, int64_t n, int64_t na,
                        int64_t nb) {
    BINARY_FWD(x - y);
}
/* da += dout; db -= dout */
static void sub_backward(float *ga, float *gb, const float *dout, const float *a, const float *b,
                         const float *out, int64_t n, int64_t na, int64_t nb) {
    if (ga) BINARY_BWD(ga, na, g);
    if (gb) BINARY_BWD(gb, nb, -g);
}

/* out (n) = a (na) * b (nb) */
static void mul_forward(float *out, const float *a, const float *b, int64_t n, int64_t na,
                        int64_t nb) {
    BINARY_FWD(x * y);
}
/* da += dout·b; db += dout·a */
static void mul_backward(float *ga, float *gb, const float *dout, const float *a, const float *b,
                         const float *out, int64_t n, int64_t na, int64_t nb) {
    if (ga) BINARY_BWD(ga, na, g * y);
    if (gb) BINARY_BWD(gb, nb, g * x);
}

/* out (n) = a (na) / b (nb) */
static void div_forward(float *out, const float *a, const float *b, int64_t n, int64_t na,
                        int64_t nb) {
    BINARY_FWD(x / y);
}
/* d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -out/b */
static void div_backward(float *ga, float *gb, const float *dout, const float *a, const float *b,
                         const float *out, int64_t n, int64_t na, int64_t nb) {
    if (ga) BINARY_BWD(ga, na, g / y);
    if (gb) BINARY_BWD(gb, nb, -g * o / y);
}

/* --- tape wrappers: read the node, call the kernels ------------------------------------------ */

#define FWD_WRAPPER(name, kernel)                                                         \
    enum hrn_status hrn__##name##_fwd(struct hrn_tape *t, struct hrn_tensor *o) {         \
        (void)t;                                                                          \
        kernel(o->data, o->src[0]->data, o->src[1]->data, o->numel, o->src[0]->numel,     \
               o->src[1]->numel);                                                         \
        return HRN_OK;                                                                    \
    }
#define BWD_WRAPPER(name, kernel)                                                         \
    enum hrn_status hrn__##name##_bwd(struct hrn_tape *t, struct hrn_tensor *o) {         \
        (void)t;                                                                          \
        kernel(hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL,                            \
               hrn__wants_grad(o, 1) ? o->src[1]->grad : NULL, o->grad, o->src[0]->data,  \
               o->src[1]->data, o->data, o->numel, o->src[0]->numel, o->src[1]->numel);   \
        return HRN_OK;                                                                    \
    }

FWD_WRAPPER(add, add_forward)
BWD_WRAPPER(add, add_backward)
FWD_WRAPPER(sub, sub_forward)
BWD_WRAPPER(sub, sub_backward)
FWD_WRAPPER(mul, mul_forward)
BWD_WRAPPER(mul, mul_backward)
FWD_WRAPPER(div, div_forward)
BWD_WRAPPER(div, div_backward)
/* mask_mul: the product, with the mask's gradient never requested (nodiff_src bit 1, so
 * hrn__wants_grad(o, 1) is 0 and mul_backward gets gb = NULL) */
FWD_WRAPPER(mask_mul, mul_forward)
BWD_WRAPPER(mask_mul, mul_backward)

/* --- unary ops ------------------------------------------------------------------------------- */

struct unary_params {
    float p0, p1; /* scale: s; add_scalar: c; pow: p; leaky_relu: slope; clamp: lo, hi */
};

static struct hrn_tensor *unary(struct hrn_tape *t, int op, struct hrn_tensor *x, float p0,
                                float p1) {
    if (hrn__null_input(hrn_op_name(op), &x, 1)) return NULL;
    struct unary_params p = {p0, p1};
    return hrn__node(t, op, x->ndim, x->shape, &x, 1, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_neg(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_NEG, x, 0, 0);
}
struct hrn_tensor *hrn_scale(struct hrn_tape *t, struct hrn_tensor *x, float s) {
    return unary(t, HRN_OP_SCALE, x, s, 0);
}
struct hrn_tensor *hrn_add_scalar(struct hrn_tape *t, struct hrn_tensor *x, float c) {
    return unary(t, HRN_OP_ADD_SCALAR, x, c, 0);
}
struct hrn_tensor *hrn_exp(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_EXP, x, 0, 0);
}
struct hrn_tensor *hrn_ln(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_LOG, x, 0, 0);
}
struct hrn_tensor *hrn_sqrt(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_SQRT, x, 0, 0);
}
struct hrn_tensor *hrn_rsqrt(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_RSQRT, x, 0, 0);
}
struct hrn_tensor *hrn_pow(struct hrn_tape *t, struct hrn_tensor *x, float p) {
    return unary(t, HRN_OP_POW, x, p, 0);
}
struct hrn_tensor *hrn_abs(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_ABS, x, 0, 0);
}
struct hrn_tensor *hrn_square(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_SQUARE, x, 0, 0);
}
struct hrn_tensor *hrn_relu(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_RELU, x, 0, 0);
}
struct hrn_tensor *hrn_leaky_relu(struct hrn_tape *t, struct hrn_tensor *x, float slope) {
    return unary(t, HRN_OP_LEAKY_RELU, x, slope, 0);
}
struct hrn_tensor *hrn_sigmoid(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_SIGMOID, x, 0, 0);
}
struct hrn_tensor *hrn_tanh(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_TANH, x, 0, 0);
}
struct hrn_tensor *hrn_softplus(struct hrn_tape *t, struct hrn_tensor *x) {
    return unary(t, HRN_OP_SOFTPLUS, x, 0, 0);
}
struct hrn_tensor *hrn_clamp(struct hrn_tape *t, struct hrn_tensor *x, float lo, float hi) {
    if (x && !(lo <= hi)) {
        hrn_error_set(HRN_ERR_INVALID, "clamp: lo %g > hi %g", (double)lo, (double)hi);
        return NULL;
    }
    return unary(t, HRN_OP_CLAMP, x, lo, hi);
}

enum { SOFTPLUS_THRESHOLD = 20 }; /* PyTorch's default: linear above it */

/* out (n) = f(x (n)); EXPR sees x and p0, p1. */
#define UNARY_FWD(EXPR)                                                                   \
    do {                                                                                  \
        HRN__PAR_FOR(n >= HRN_PAR_MIN, i, n, float x = in[i]; out[i] = (EXPR););        \
    } while (0)

/* out (n) = f_op(x (n); p0, p1) */
static void unary_forward(float *out, const float *in, int64_t n, int op, float p0, float p1) {
    switch (op) {
    case HRN_OP_NEG: UNARY_FWD(-x); break;
    case HRN_OP_SCALE: UNARY_FWD(p0 * x); break;
    case HRN_OP_ADD_SCALAR: UNARY_FWD(x + p0); break;
    case HRN_OP_EXP: UNARY_FWD(expf(x)); break;
    case HRN_OP_LOG: UNARY_FWD(logf(x)); break;
    case HRN_OP_SQRT: UNARY_FWD(sqrtf(x)); break;
    case HRN_OP_RSQRT: UNARY_FWD(1.0f / sqrtf(x)); break;
    case HRN_OP_POW: UNARY_FWD(powf(x, p0)); break;
    case HRN_OP_ABS: UNARY_FWD(fabsf(x)); break;
    case HRN_OP_SQUARE: UNARY_FWD(x * x); break;
    case HRN_OP_RELU: UNARY_FWD(x > 0.0f ? x : 0.0f); break;
    case HRN_OP_LEAKY_RELU: UNARY_FWD(x > 0.0f ? x : p0 * x); break;
    case HRN_OP_SIGMOID: UNARY_FWD(1.0f / (1.0f + expf(-x))); break;
    case HRN_OP_TANH: UNARY_FWD(tanhf(x)); break;
    case HRN_OP_SOFTPLUS: UNARY_FWD(x > SOFTPLUS_THRESHOLD ? x : log1pf(expf(x))); break;
    case HRN_OP_CLAMP: UNARY_FWD(x < p0 ? p0 : (x > p1 ? p1 : x)); break;
    default: HRN_ABORT("unary forward: op %d (%s) is not unary", op, hrn_op_name(op));
    }
}

/* gin (n) += dout (n) · f'(x); EXPR sees g, x (input), y (output), p0, p1. */
#define UNARY_BWD(EXPR)                                                                   \
    do {                                                                                  \
        HRN__PAR_FOR(n >= HRN_PAR_MIN, i, n, float g = dout[i], x = in[i], y = out[i];  \
                     (void)x; (void)y; gin[i] += (EXPR););                                \
    } while (0)

/* gin (n) += dout (n) · f_op'(x (n)), with y (n) = f_op(x) saved by the forward */
static void unary_backward(float *gin, const float *dout, const float *in, const float *out,
                           int64_t n, int op, float p0, float p1) {
    switch (op) {
    case HRN_OP_NEG: UNARY_BWD(-g); break;
    case HRN_OP_SCALE: UNARY_BWD(p0 * g); break;
    case HRN_OP_ADD_SCALAR: UNARY_BWD(g); break;
    case HRN_OP_EXP: UNARY_BWD(g * y); break;
    case HRN_OP_LOG: UNARY_BWD(g / x); break;
    case HRN_OP_SQRT: UNARY_BWD(0.5f * g / y); break;
    case HRN_OP_RSQRT: UNARY_BWD(-0.5f * g * y * y * y); break;
    case HRN_OP_POW: UNARY_BWD(g * p0 * powf(x, p0 - 1.0f)); break;
    case HRN_OP_ABS: UNARY_BWD(x > 0.0f ? g : (x < 0.0f ? -g : 0.0f)); break;
    case HRN_OP_SQUARE: UNARY_BWD(2.0f * g * x); break;
    case HRN_OP_RELU: UNARY_BWD(x > 0.0f ? g : 0.0f); break;
    case HRN_OP_LEAKY_RELU: UNARY_BWD(x > 0.0f ? g : p0 * g); break;
    case HRN_OP_SIGMOID: UNARY_BWD(g * y * (1.0f - y)); break;
    case HRN_OP_TANH: UNARY_BWD(g * (1.0f - y * y)); break;
    case HRN_OP_SOFTPLUS: /* d/dx log(1+e^x) = sigmoid(x) */
        UNARY_BWD(x > SOFTPLUS_THRESHOLD ? g : g / (1.0f + expf(-x)));
        break;
    case HRN_OP_CLAMP: UNARY_BWD(x >= p0 && x <= p1 ? g : 0.0f); break;
    default: HRN_ABORT("unary backward: op %d (%s) is not unary", op, hrn_op_name(op));
    }
}

enum hrn_status hrn__unary_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct unary_params *p = HRN__PARAMS(o, const struct unary_params);
    unary_forward(o->data, o->src[0]->data, o->numel, o->op, p->p0, p->p1);
    return HRN_OK;
}

enum hrn_status hrn__unary_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct unary_params *p = HRN__PARAMS(o, const struct unary_params);
    unary_backward(o->src[0]->grad, o->grad, o->src[0]->data, o->data, o->numel, o->op, p->p0,
                   p->p1);
    return HRN_OK;
}
