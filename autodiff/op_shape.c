/* op_shape.c: reshape (no copy), permute/transpose, concat, slice, gather and scatter-add rows. */
#include "ad_impl.h"

/* --- reshape --------------------------------------------------------------------------------- */

struct hrn_tensor *hrn_reshape(struct hrn_tape *t, struct hrn_tensor *x, int ndim,
                               const int64_t *shape) {
    if (hrn__null_input("reshape", &x, 1)) return NULL;
    int64_t n = hrn_shape_numel(ndim, shape);
    if (n != x->numel) {
        char s[64], l[48];
        hrn_tensor_shape_str(x, s, sizeof s);
        char want[96] = "(";
        for (int i = 0; i < ndim && i < HRN_MAX_DIMS; i++) {
            size_t k = strlen(want);
            snprintf(want + k, sizeof want - k, "%s%lld", i ? "," : "", (long long)shape[i]);
        }
        strncat(want, ")", sizeof want - strlen(want) - 1);
        hrn_error_set(HRN_ERR_INVALID,
                      "reshape: %s of shape %s (%lld elements) cannot become %s with %d dims",
                      hrn_tensor_label(t, x, l, sizeof l), s, (long long)x->numel, want, ndim);
        return NULL;
    }
    return hrn__node(t, HRN_OP_RESHAPE, ndim, shape, &x, 1, NULL, 0, 0);
}

/* out shares x's data */
enum hrn_status hrn__reshape_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    o->data = o->src[0]->data;
    return HRN_OK;
}

/* dx (n) += dout (n) */
enum hrn_status hrn__reshape_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    float *gx = o->src[0]->grad;
    const float *g = o->grad;
    int64_t n = o->numel;
    HRN__PAR_FOR(n >= HRN_PAR_MIN_COPY, i, n, gx[i] += g[i];);
    return HRN_OK;
}

/* --- permute --------------------------------------------------------------------------------- */

struct permute_params {
    int64_t oshape[HRN_MAX_DIMS]; /* output shape padded to 4 dims */
    int64_t xstride[HRN_MAX_DIMS]; /* x's stride for each output dim */
};

struct hrn_tensor *hrn_permute(struct hrn_tape *t, struct hrn_tensor *x, const int *perm) {
    if (hrn__null_input("permute", &x, 1)) return NULL;
    int seen[HRN_MAX_DIMS] = {0};
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++) {
            char s[64];
            hrn_error_set(HRN_ERR_INVALID,
                          "permute: entry %d (%d) of the permutation is out of range or repeated "
                          "for shape %s",
                          i, perm[i], hrn_tensor_shape_str(x, s, sizeof s));
            return NULL;
        }
    }
    int64_t xs[HRN_MAX_DIMS], shape[HRN_MAX_DIMS];
    xs[x->ndim - 1] = 1;
    for (int i = x->ndim - 2; i >= 0; i--) xs[i] = xs[i + 1] * x->shape[i + 1];
    /* pad at the front so the kernel always runs 4 loops */
    struct permute_params p;
    int pad = HRN_MAX_DIMS - x->ndim;
    for (int i = 0; i < HRN_MAX_DIMS; i++) {
        p.oshape[i] = i < pad ? 1 : x->shape[perm[i - pad]];
        p.xstride[i] = i < pad ? 0 : xs[perm[i - pad]];
    }
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    return hrn__node(t, HRN_OP_PERMUTE, x->ndim, shape, &x, 1, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_transpose(struct hrn_tape *t, struct hrn_tensor *x, int axis0, int axis1) {
    if (hrn__null_input("transpose", &x, 1)) return NULL;
    int a0 = axis0 < 0 ? axis0 + x->ndim : axis0, a1 = axis1 < 0 ? axis1 + x->ndim : axis1;
    if (a0 < 0 || a0 >= x->ndim || a1 < 0 || a1 >= x->ndim) {
        char s[64];
        hrn_error_set(HRN_ERR_INVALID, "transpose: axes %d and %d out of range for shape %s",
                      axis0, axis1, hrn_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    int perm[HRN_MAX_DIMS] = {0, 1, 2, 3};
    perm[a0] = a1;
    perm[a1] = a0;
    return hrn_permute(t, x, perm);
}

/* out (o0,o1,o2,o3) = x at sum_k i_k·xstride[k]; backward is the same walk with += reversed.
 * The map is a bijection, so the backward loop can run in parallel too. */
#define PERMUTE_LOOPS(BODY)                                                               \
    for (int64_t i0 = 0; i0 < S[0]; i0++)                                                 \
        for (int64_t i1 = 0; i1 < S[1]; i1++) {                                           \
            int64_t oi = (i0 * S[1] + i1) * S[2] * S[3];                                  \
            for (int64_t i2 = 0; i2 < S[2]; i2++)                                         \
                for (int64_t i3 = 0; i3 < S[3]; i3++, oi++) {                             \
                    int64_t xi = i0 * X[0] + i1 * X[1] + i2 * X[2] + i3 * X[3];           \
                    BODY;                                                                 \
                }                                                                         \
        }
#define PERMUTE_LOOP(BODY)                                                                \
    do {                                                                                  \
        const int64_t *S = p->oshape, *X = p->xstride;                                    \
        if (o->numel >= HRN_PAR_MIN) {                                                    \
            _Pragma("omp parallel for collapse(2) schedule(static)") PERMUTE_LOOPS(BODY)  \
        } else {                                                                          \
            PERMUTE_LOOPS(BODY)                                                           \
        }                                                                                 \
    } while (0)

enum hrn_status hrn__permute_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct permute_params *p = HRN__PARAMS(o, const struct permute_params);
    const float *x = o->src[0]->data;
    float *out = o->data;
    PERMUTE_LOOP(out[oi] = x[xi]);
    return HRN_OK;
}

enum hrn_status hrn__permute_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct permute_params *p = HRN__PARAMS(o, const struct permute_params);
    float *gx = o->src[0]->grad;
    const float *g = o->grad;
    PERMUTE_LOOP(gx[xi] += g[oi]);
    return HRN_OK;
}

/* --- concat ---------------------------------------------------------------------------------- */

struct concat_params {
    int64_t outer;               /* product of the dims before axis */
    int64_t inner[HRN_MAX_SRC];  /* shape_k[axis] · product of the dims after axis */
    int64_t inner_out;
    int32_t n;
};

struct hrn_tensor *hrn_concat(struct hrn_tape *t, struct hrn_tensor *const *xs, int n, int axis) {
    if (n < 1 || n > HRN_MAX_SRC) {
        hrn_error_set(HRN_ERR_INVALID, "concat: %d inputs, expected 1 to %d", n, HRN_MAX_SRC);
        return NULL;
    }
    if (hrn__null_input("concat", xs, n)) return NULL;
    const struct hrn_tensor *x0 = xs[0];
    int ax = axis < 0 ? axis + x0->ndim : axis;
    if (ax < 0 || ax >= x0->ndim) {
        char s[64];
        hrn_error_set(HRN_ERR_INVALID, "concat: axis %d out of range for shape %s", axis,
                      hrn_tensor_shape_str(x0, s, sizeof s));
        return NULL;
    }
    struct concat_params p = {1, {0}, 0, n};
    int64_t after = 1, shape[HRN_MAX_DIMS];
    for (int i = 0; i < x0->ndim; i++) {
        if (i < ax) p.outer *= x0->shape[i];
        if (i > ax) after *= x0->shape[i];
        shape[i] = x0->shape[i];
    }
    shape[ax] = 0;
    for (int k = 0; k < n; k++) {
        const struct hrn_tensor *xk = xs[k];
        int ok = xk->ndim == x0->ndim;
        for (int i = 0; ok && i < x0->ndim; i++)
            if (i != ax && xk->shape[i] != x0->shape[i]) ok = 0;
        if (!ok) {
            char why[80];
            snprintf(why, sizeof why, "(inputs 0 and %d) differ outside the concat axis %d", k,
                     ax);
            return hrn__shape_error(t, "concat", x0, xk, why);
        }
        shape[ax] += xk->shape[ax];
        p.inner[k] = xk->shape[ax] * after;
        p.inner_out += p.inner[k];
    }
    return hrn__node(t, HRN_OP_CONCAT, x0->ndim, shape, xs, n, &p, sizeof p, 1);
}

/* out (outer, sum inner_k) = [x_0 (outer, inner_0) | x_1 | ...] */
enum hrn_status hrn__concat_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct concat_params *p = HRN__PARAMS(o, const struct concat_params);
    for (int64_t r = 0; r < p->outer; r++) {
        int64_t off = r * p->inner_out;
        for (int k = 0; k < p->n; k++) {
            memcpy(o->data + off, o->src[k]->data + r * p->inner[k],
                   (size_t)p->inner[k] * sizeof(float));
            off += p->inner[k];
        }
    }
    return HRN_OK;
}

enum hrn_status hrn__concat_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct concat_params *p = HRN__PARAMS(o, const struct concat_params);
    int64_t koff = 0;
    for (int k = 0; k < p->n; k++) {
        if (hrn__wants_grad(o, k)) {
            float *gx = o->src[k]->grad;
            for (int64_t r = 0; r < p->outer; r++) {
                const float *g = o->grad + r * p->inner_out + koff;
                float *gr = gx + r * p->inner[k];
                for (int64_t i = 0; i < p->inner[k]; i++) gr[i] += g[i];
            }
        }
        koff += p->inner[k];
    }
    return HRN_OK;
}

/* --- slice ----------------------------------------------------------------------------------- */

struct slice_params {
    int64_t outer, d, start, len, inner;
};

struct hrn_tensor *hrn_slice(struct hrn_tape *t, struct hrn_tensor *x, int axis, int64_t start,
                             int64_t len) {
    if (hrn__null_input("slice", &x, 1)) return NULL;
    int ax = axis < 0 ? axis + x->ndim : axis;
    char s[64];
    if (ax < 0 || ax >= x->ndim) {
        hrn_error_set(HRN_ERR_INVALID, "slice: axis %d out of range for shape %s", axis,
                      hrn_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (start < 0 || len < 1 || start + len > x->shape[ax]) {
        hrn_error_set(HRN_ERR_INVALID,
                      "slice: [%lld, %lld) is not inside axis %d of length %lld (shape %s)",
                      (long long)start, (long long)(start + len), ax, (long long)x->shape[ax],
                      hrn_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    struct slice_params p = {1, x->shape[ax], start, len, 1};
    int64_t shape[HRN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        if (i < ax) p.outer *= x->shape[i];
        if (i > ax) p.inner *= x->shape[i];
        shape[i] = i == ax ? len : x->shape[i];
    }
    return hrn__node(t, HRN_OP_SLICE, x->ndim, shape, &x, 1, &p, sizeof p, 1);
}

/* out (outer, len, inner) = x (outer, d, inner)[:, start:start+len, :] */
enum hrn_status hrn__slice_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct slice_params *p = HRN__PARAMS(o, const struct slice_params);
    size_t row = (size_t)(p->len * p->inner);
    for (int64_t r = 0; r < p->outer; r++)
        memcpy(o->data + r * (int64_t)row, o->src[0]->data + (r * p->d + p->start) * p->inner,
               row * sizeof(float));
    return HRN_OK;
}

enum hrn_status hrn__slice_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct slice_params *p = HRN__PARAMS(o, const struct slice_params);
    int64_t row = p->len * p->inner;
    for (int64_t r = 0; r < p->outer; r++) {
        float *gx = o->src[0]->grad + (r * p->d + p->start) * p->inner;
        const float *g = o->grad + r * row;
        for (int64_t i = 0; i < row; i++) gx[i] += g[i];
    }
    return HRN_OK;
}

/* --- gather / scatter-add rows --------------------------------------------------------------- */

struct rows_params {
    const int32_t *idx; /* (n) arena copy of the indices: not differentiable */
    int64_t n;          /* indices */
    int64_t R;          /* rows of the indexed side */
    int64_t C;          /* floats per row */
};

/* Check idx[n] against [0, R) and copy it to the arena (saved for backward). */
static int32_t *save_indices(struct hrn_tape *t, const char *op, const int32_t *idx, int64_t n,
                             int64_t R) {
    if (!idx || n < 1) {
        hrn_error_set(HRN_ERR_INVALID, "%s: %s", op, !idx ? "indices are NULL" : "no indices");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= R) {
            hrn_error_set(HRN_ERR_INVALID, "%s: index %lld is %d, outside [0, %lld)", op,
                          (long long)i, (int)idx[i], (long long)R);
            return NULL;
        }
    int32_t *copy = hrn__scratch(t, (size_t)n * sizeof *copy);
    if (copy) memcpy(copy, idx, (size_t)n * sizeof *copy);
    return copy;
}

struct hrn_tensor *hrn_gather_rows(struct hrn_tape *t, struct hrn_tensor *x, const int32_t *idx,
                                   int64_t n) {
    if (hrn__null_input("gather_rows", &x, 1)) return NULL;
    const int32_t *saved = save_indices(t, "gather_rows", idx, n, x->shape[0]);
    if (!saved) return NULL;
    struct rows_params p = {saved, n, x->shape[0], x->numel / x->shape[0]};
    int64_t shape[HRN_MAX_DIMS];
    shape[0] = n;
    for (int i = 1; i < x->ndim; i++) shape[i] = x->shape[i];
    return hrn__node(t, HRN_OP_GATHER_ROWS, x->ndim, shape, &x, 1, &p, sizeof p, 1);
}

/* out (n, C) = x (R, C)[idx (n)] */
enum hrn_status hrn__gather_rows_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct rows_params *p = HRN__PARAMS(o, const struct rows_params);
    const float *x = o->src[0]->data;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, p->n,
                 memcpy(o->data + i * p->C, x + p->idx[i] * p->C, (size_t)p->C * sizeof(float)););
    return HRN_OK;
}

/* dx (R, C)[idx[i]] += dout (n, C)[i], in index order (repeats add up deterministically) */
enum hrn_status hrn__gather_rows_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct rows_params *p = HRN__PARAMS(o, const struct rows_params);
    float *gx = o->src[0]->grad;
    for (int64_t i = 0; i < p->n; i++) {
        float *gr = gx + p->idx[i] * p->C;
        const float *g = o->grad + i * p->C;
        for (int64_t c = 0; c < p->C; c++) gr[c] += g[c];
    }
    return HRN_OK;
}

struct hrn_tensor *hrn_scatter_add_rows(struct hrn_tape *t, struct hrn_tensor *x,
                                        const int32_t *idx, int64_t n, int64_t n_rows) {
    if (hrn__null_input("scatter_add_rows", &x, 1)) return NULL;
    if (n != x->shape[0]) {
        char s[64];
        hrn_error_set(HRN_ERR_INVALID,
                      "scatter_add_rows: %lld indices for a source of shape %s (one per row)",
                      (long long)n, hrn_tensor_shape_str(x, s, sizeof s));
        return NULL;
    }
    if (n_rows < 1) {
        hrn_error_set(HRN_ERR_INVALID, "scatter_add_rows: n_rows is %lld", (long long)n_rows);
        return NULL;
    }
    const int32_t *saved = save_indices(t, "scatter_add_rows", idx, n, n_rows);
    if (!saved) return NULL;
    struct rows_params p = {saved, n, n_rows, x->numel / x->shape[0]};
    int64_t shape[HRN_MAX_DIMS];
    shape[0] = n_rows;
    for (int i = 1; i < x->ndim; i++) shape[i] = x->shape[i];
    return hrn__node(t, HRN_OP_SCATTER_ADD_ROWS, x->ndim, shape, &x, 1, &p, sizeof p, 1);
}

/* out (R, C) = 0; out[idx[i]] += x (n, C)[i], in index order */
enum hrn_status hrn__scatter_add_rows_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct rows_params *p = HRN__PARAMS(o, const struct rows_params);
    memset(o->data, 0, (size_t)o->numel * sizeof(float));
    const float *x = o->src[0]->data;
    for (int64_t i = 0; i < p->n; i++) {
        float *orow = o->data + p->idx[i] * p->C;
        const float *xr = x + i * p->C;
        for (int64_t c = 0; c < p->C; c++) orow[c] += xr[c];
    }
    return HRN_OK;
}

/* dx (n, C)[i] += dout (R, C)[idx[i]] */
enum hrn_status hrn__scatter_add_rows_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct rows_params *p = HRN__PARAMS(o, const struct rows_params);
    float *gx = o->src[0]->grad;
    HRN__PAR_FOR(o->src[0]->numel >= HRN_PAR_MIN, i, p->n,
        const float *g = o->grad + p->idx[i] * p->C;
        float *gr = gx + i * p->C;
        for (int64_t c = 0; c < p->C; c++) gr[c] += g[c];
    );
    return HRN_OK;
}
