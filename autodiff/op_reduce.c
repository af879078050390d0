/* op_reduce.c: sum and mean over all elements or one axis; L2 norm along the last axis. */
#include "ad_impl.h"

#include <math.h>

/* Whole-tensor sums add fixed blocks in double, then the block sums in order, so the result
 * does not depend on the number of threads. */
enum { SUM_BLOCK = 4096 };

/* returns sum of x (n) in double; partial (nblocks) is scratch */
/* 8 running sums per block (fixed lanes) let the compiler vectorise without reordering */
static double sum_block(const float *x, int64_t n) {
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)x[i + k];
    for (; i < n; i++) lane[i & 7] += (double)x[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

static double sum_blocks(const float *x, int64_t n, double *partial) {
    int64_t nb = (n + SUM_BLOCK - 1) / SUM_BLOCK;
    HRN__PAR_FOR(n >= HRN_PAR_MIN, b, nb,
                 int64_t lo = b * SUM_BLOCK;
                 partial[b] = sum_block(x + lo, (lo + SUM_BLOCK < n ? lo + SUM_BLOCK : n) - lo););
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++) s += partial[b];
    return s;
}

static struct hrn_tensor *reduce_all(struct hrn_tape *t, int op, struct hrn_tensor *x) {
    if (hrn__null_input(hrn_op_name(op), &x, 1)) return NULL;
    return hrn__node(t, op, 1, (int64_t[]){1}, &x, 1, NULL, 0, 1);
}

struct hrn_tensor *hrn_sum_all(struct hrn_tape *t, struct hrn_tensor *x) {
    return reduce_all(t, HRN_OP_SUM, x);
}
struct hrn_tensor *hrn_mean_all(struct hrn_tape *t, struct hrn_tensor *x) {
    return reduce_all(t, HRN_OP_MEAN, x);
}

static enum hrn_status reduce_all_fwd(struct hrn_tape *t, struct hrn_tensor *o, double scale) {
    const struct hrn_tensor *x = o->src[0];
    double *partial = hrn__scratch(t, (size_t)((x->numel + SUM_BLOCK - 1) / SUM_BLOCK) * 8);
    if (!partial) return HRN_ERR_NOMEM;
    o->data[0] = (float)(sum_blocks(x->data, x->numel, partial) * scale);
    return HRN_OK;
}

/* out (1) = sum x (n) */
enum hrn_status hrn__sum_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return reduce_all_fwd(t, o, 1.0);
}
/* out (1) = sum x (n) / n */
enum hrn_status hrn__mean_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return reduce_all_fwd(t, o, 1.0 / (double)o->src[0]->numel);
}

static void reduce_all_bwd(struct hrn_tensor *o, float scale) {
    if (!hrn__wants_grad(o, 0)) return;
    float *gx = o->src[0]->grad;
    int64_t n = o->src[0]->numel;
    float g = o->grad[0] * scale;
    HRN__PAR_FOR(n >= HRN_PAR_MIN, i, n, gx[i] += g;);
}

enum hrn_status hrn__sum_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    reduce_all_bwd(o, 1.0f);
    return HRN_OK;
}
enum hrn_status hrn__mean_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    reduce_all_bwd(o, (float)(1.0 / (double)o->src[0]->numel));
    return HRN_OK;
}

/* --- over one axis: x viewed as (outer, d, inner) -> out (outer, inner) ----------------------- */

struct axis_params {
    int64_t outer, d, inner;
};

static struct hrn_tensor *reduce_axis(struct hrn_tape *t, int op, struct hrn_tensor *x, int axis) {
    if (hrn__null_input(hrn_op_name(op), &x, 1)) return NULL;
    int ax = axis < 0 ? axis + x->ndim : axis;
    if (ax < 0 || ax >= x->ndim) {
        char s[64];
        hrn_error_set(HRN_ERR_INVALID, "%s: axis %d out of range for shape %s", hrn_op_name(op),
                      axis, hrn_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    struct axis_params p = {1, x->shape[ax], 1};
    int64_t shape[HRN_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < ax) p.outer *= x->shape[i];
        if (i > ax) p.inner *= x->shape[i];
        if (i != ax) shape[nd++] = x->shape[i];
    }
    if (nd == 0) shape[nd++] = 1;
    return hrn__node(t, op, nd, shape, &x, 1, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_sum_axis(struct hrn_tape *t, struct hrn_tensor *x, int axis) {
    return reduce_axis(t, HRN_OP_SUM_AXIS, x, axis);
}
struct hrn_tensor *hrn_mean_axis(struct hrn_tape *t, struct hrn_tensor *x, int axis) {
    return reduce_axis(t, HRN_OP_MEAN_AXIS, x, axis);
}

/* out (outer, inner) = scale · sum_k x (outer, d, inner) */
static void sum_axis_forward(float *out, const float *x, int64_t outer, int64_t d, int64_t inner,
                             double scale) {
    int64_t n = outer * inner;
    HRN__PAR_FOR(n * d >= HRN_PAR_MIN, oi, n,
        int64_t o = oi / inner, i = oi % inner;
        const float *xp = x + o * d * inner + i;
        double s = 0.0;
        for (int64_t k = 0; k < d; k++) s += (double)xp[k * inner];
        out[oi] = (float)(s * scale);
    );
}

/* dx (outer, d, inner) += scale · dout (outer, inner) */
static void sum_axis_backward(float *dx, const float *dout, int64_t outer, int64_t d,
                              int64_t inner, float scale) {
    HRN__PAR_FOR(outer * d * inner >= HRN_PAR_MIN, ok, outer * d,
        int64_t o = ok / d;
        float *gp = dx + ok * inner;
        const float *gop = dout + o * inner;
        for (int64_t i = 0; i < inner; i++) gp[i] += scale * gop[i];
    );
}

enum hrn_status hrn__sum_axis_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct axis_params *p = HRN__PARAMS(o, const struct axis_params);
    sum_axis_forward(o->data, o->src[0]->data, p->outer, p->d, p->inner, 1.0);
    return HRN_OK;
}
enum hrn_status hrn__mean_axis_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct axis_params *p = HRN__PARAMS(o, const struct axis_params);
    sum_axis_forward(o->data, o->src[0]->data, p->outer, p->d, p->inner, 1.0 / (double)p->d);
    return HRN_OK;
}
enum hrn_status hrn__sum_axis_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct axis_params *p = HRN__PARAMS(o, const struct axis_params);
    if (hrn__wants_grad(o, 0))
        sum_axis_backward(o->src[0]->grad, o->grad, p->outer, p->d, p->inner, 1.0f);
    return HRN_OK;
}
enum hrn_status hrn__mean_axis_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct axis_params *p = HRN__PARAMS(o, const struct axis_params);
    if (hrn__wants_grad(o, 0))
        sum_axis_backward(o->src[0]->grad, o->grad, p->outer, p->d, p->inner,
                          (float)(1.0 / (double)p->d));
    return HRN_OK;
}

/* --- L2 norm along the last axis ------------------------------------------------------------- */

struct hrn_tensor *hrn_l2norm(struct hrn_tape *t, struct hrn_tensor *x) {
    if (hrn__null_input("l2norm", &x, 1)) return NULL;
    int64_t shape[HRN_MAX_DIMS] = {1};
    int nd = x->ndim > 1 ? x->ndim - 1 : 1;
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    return hrn__node(t, HRN_OP_L2NORM, nd, shape, &x, 1, NULL, 0, 1);
}

/* out (rows) = sqrt(sum_j x (rows, D)^2) */
enum hrn_status hrn__l2norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct hrn_tensor *x = o->src[0];
    int64_t rows = o->numel, D = x->shape[x->ndim - 1];
    const float *xd = x->data;
    float *out = o->data;
    HRN__PAR_FOR(x->numel >= HRN_PAR_MIN, r, rows,
        double s = 0.0;
        for (int64_t j = 0; j < D; j++) s += (double)xd[r * D + j] * (double)xd[r * D + j];
        out[r] = (float)sqrt(s);
    );
    return HRN_OK;
}

/* dx (rows, D) += dout (rows) · x / |x|; 0 where |x| = 0 */
enum hrn_status hrn__l2norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct hrn_tensor *x = o->src[0];
    int64_t rows = o->numel, D = x->shape[x->ndim - 1];
    const float *xd = x->data, *out = o->data, *dout = o->grad;
    float *gx = x->grad;
    HRN__PAR_FOR(x->numel >= HRN_PAR_MIN, r, rows,
        if (out[r] <= 0.0f) continue;
        float s = dout[r] / out[r];
        for (int64_t j = 0; j < D; j++) gx[r * D + j] += s * xd[r * D + j];
    );
    return HRN_OK;
}
