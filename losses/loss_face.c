/* loss_face.c: losses on the face model's outputs: landmarks, the contour-aware loss (a custom op:
 * a per-vertex row lookup with a piecewise formula), the coefficient and lighting regularizers
 * and the skin-albedo reflectance loss (a custom op: the masked mean couples all vertices). */
#include "losses_impl.h"

#include <math.h>
#include <string.h>

/* --- landmarks ------------------------------------------------------------------------------- */

void hrn_landmark_weights68(float w[HRN_LM68]) {
    for (int i = 0; i < HRN_LM68; i++) w[i] = 1.0f;
    for (int i = 28; i <= 30; i++) w[i] = 20.0f; /* nose bridge */
    for (int i = 60; i < 68; i++) w[i] = 20.0f;  /* inner lips */
}

struct hrn_tensor *hrn_loss_landmark(struct hrn_tape *t, struct hrn_tensor *pred,
                                     struct hrn_tensor *gt, const float *weights,
                                     const uint8_t *valid) {
    static const char *L = "landmark_loss";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){pred, gt}, 2)) return NULL;
    char sp[64], sg[64];
    if (pred->ndim != 3 || !hrn_tensor_same_shape(pred, gt)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: pred and gt must both be (B,N,D) (got %s and %s)", L,
                      hrn_tensor_shape_str(pred, sp, sizeof sp),
                      hrn_tensor_shape_str(gt, sg, sizeof sg));
        return NULL;
    }
    int64_t B = pred->shape[0], N = pred->shape[1], D = pred->shape[2];
    /* targets with the excluded points zeroed (their weight is 0, but NaN*0 would be NaN) */
    float *g0 = hrn__loss_floats(t, gt->numel), *wt = hrn__loss_floats(t, B * N);
    if (!g0 || !wt) return NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) {
            const float *g = gt->data + (b * N + i) * D;
            int ok = !valid || valid[b * N + i];
            for (int64_t k = 0; k < D; k++) ok = ok && !isnan(g[k]);
            wt[b * N + i] = ok ? (weights ? weights[i] : 1.0f) : 0.0f;
            for (int64_t k = 0; k < D; k++) g0[(b * N + i) * D + k] = ok ? g[k] : 0.0f;
        }
    struct hrn_tensor *gc = hrn__loss_const(t, g0, 3, gt->shape, "lm_target");
    struct hrn_tensor *wc = hrn__loss_const(t, wt, 2, (int64_t[]){B, N}, "lm_weight");
    /* (B,N,D) -> |p - g|^2 (B,N) -> weighted sum / (B N) */
    struct hrn_tensor *d2 = hrn_sum_axis(t, hrn_square(t, hrn_sub(t, pred, gc)), -1);
    return hrn_scale(t, hrn_sum_all(t, hrn_mask_mul(t, d2, wc)), (float)(1.0 / (double)(B * N)));
}

struct hrn_tensor *hrn_loss_landmark68(struct hrn_tape *t, struct hrn_tensor *pred,
                                       struct hrn_tensor *gt, const uint8_t *valid) {
    if (hrn__loss_null("landmark68_loss", (struct hrn_tensor *[]){pred, gt}, 2)) return NULL;
    if (pred->ndim != 3 || pred->shape[1] != HRN_LM68)
        return hrn__loss_bad("landmark68_loss", pred, "expected (B,68,D) landmarks");
    float w[HRN_LM68];
    hrn_landmark_weights68(w);
    return hrn_loss_landmark(t, pred, gt, w, valid);
}

struct hrn_tensor *hrn_loss_landmark5(struct hrn_tape *t, struct hrn_tensor *pred,
                                      struct hrn_tensor *gt, const uint8_t *valid) {
    if (hrn__loss_null("landmark5_loss", (struct hrn_tensor *[]){pred, gt}, 2)) return NULL;
    if (pred->ndim != 3 || pred->shape[1] != HRN_LM5)
        return hrn__loss_bad("landmark5_loss", pred, "expected (B,5,D) landmarks");
    return hrn_loss_landmark(t, pred, gt, NULL, valid);
}

/* --- contour-aware loss ---------------------------------------------------------------------- */

void hrn_contour_targets(const float *mask, int64_t batch, int img_size, float *left,
                         float *right) {
    int64_t S = img_size;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < S; i++) {
            const float *row = mask + (b * S + i) * S;
            int64_t first = -1, last = -1;
            for (int64_t j = 0; j < S; j++)
                if (row[j] > 0.5f) {
                    if (first < 0) first = j;
                    last = j;
                }
            left[b * S + i] = first < 0 ? 0.0f : (float)(first + 1);
            right[b * S + i] = first < 0 ? (float)(S - 1) : (float)last;
        }
}

struct contour_ctx {
    float margin;
    int64_t S;
    float *dldu; /* (B,N): d loss / d u, the 1/(B N) of the mean included */
};

/* The row of the target arrays for a projected v: ceil(v) as a long clamped to [0, S-1] (a NaN
 * lands on 0 as x86 PyTorch's long(NaN) does), then counted from the top. Written without ceilf,
 * which is a libm call on baseline x86-64. */
static inline int64_t contour_row(float vv, int64_t S) {
    float Sf = (float)S;
    int64_t yi;
    if (!(vv > 0)) {
        yi = 0; /* ceil(v) <= 0, or NaN */
    } else if (vv >= Sf - 1) {
        yi = S - 1;
    } else {
        int64_t i = (int64_t)vv; /* 0 < v < S-1: trunc is floor */
        yi = i + ((float)i < vv);
        if (yi > S - 1) yi = S - 1;
    }
    return S - 1 - yi;
}

/* fmaxf without the libm call: the non-NaN operand when one is NaN */
static inline float max_f(float a, float b) { return a > b || b != b ? a : b; }

enum { CONTOUR_BLOCK = 4096 };

/* out (1) from verts (B,N,2), left (B,S), right (B,S); saves d loss/d u per vertex. Blocks of
 * CONTOUR_BLOCK vertices are summed in double, then the blocks in order: the same total for any
 * thread count. */
static enum hrn_status contour_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    struct contour_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *v = out->src[0];
    const float *left = out->src[1]->data, *right = out->src[2]->data;
    int64_t B = v->shape[0], N = v->shape[1], S = c->S, n = B * N;
    int64_t nb = (n + CONTOUR_BLOCK - 1) / CONTOUR_BLOCK;
    double *part = hrn_tape_alloc(t, (size_t)nb * sizeof(double));
    if (!part) return HRN_ERR_NOMEM;
    float Sf = (float)S, m = c->margin;
    double inv_n = 1.0 / (double)n;
    const float *vd = v->data;
    float *dldu = c->dldu;
#pragma omp parallel for schedule(static) if (n > 2 * CONTOUR_BLOCK)
    for (int64_t blk = 0; blk < nb; blk++) {
        int64_t lo = blk * CONTOUR_BLOCK, hi = lo + CONTOUR_BLOCK < n ? lo + CONTOUR_BLOCK : n;
        double total = 0;
        int64_t b = lo / N, bn = b * N; /* batch of vertex i, stepped (no division) */
        for (int64_t i = lo; i < hi; i++) {
            if (i - bn == N) {
                b++;
                bn += N;
            }
            float u = vd[2 * i], vv = vd[2 * i + 1];
            int64_t row = contour_row(vv, S);
            float l = left[b * S + row], r = right[b * S + row];
            /* PyTorch's order: ((l-u)/S * (r-u)) / S, then / max(|l-u|/S, |r-u|/S) */
            float a = (l - u) / Sf, bb = (r - u) / Sf;
            float p = a * (r - u) / Sf;
            float fa = fabsf(a), fb = fabsf(bb), q = max_f(fa, fb);
            float d = q > 0 ? p / q : 0.0f; /* u == l == r: 0/0 in PyTorch; 0 here */
            float g = max_f(d + m, 0.0f) - m;
            total += (double)fabsf(g);
            if (!(d + m > 0.0f)) { /* outside the hinge: no gradient */
                dldu[i] = 0;
                continue;
            }
            /* d d/du by the chain PyTorch's autograd takes (max ties split evenly) */
            float dp = -(bb + a) / Sf;
            float dqa = fa > fb ? 1.0f : fa == fb ? 0.5f : 0.0f;
            float sa = a > 0 ? 1.0f : a < 0 ? -1.0f : 0.0f;
            float sb = bb > 0 ? 1.0f : bb < 0 ? -1.0f : 0.0f;
            float dq = -(dqa * sa + (1.0f - dqa) * sb) / Sf;
            float dd = q > 0 ? dp / q - p / (q * q) * dq : 0.0f;
            float dg = (d + m > 0.0f) ? (g > 0.0f ? 1.0f : g < 0.0f ? -1.0f : 0.0f) : 0.0f;
            dldu[i] = (float)((double)(dg * dd) * inv_n);
        }
        part[blk] = total;
    }
    double total = 0;
    for (int64_t blk = 0; blk < nb; blk++) total += part[blk];
    out->data[0] = (float)(total * inv_n);
    return HRN_OK;
}

static enum hrn_status contour_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct contour_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *v = out->src[0];
    float g = out->grad[0];
    int64_t n = v->numel / 2;
    float *gv = v->grad;
    const float *dl = c->dldu;
    for (int64_t i = 0; i < n; i++) gv[2 * i] += g * dl[i]; /* light: one thread */
    return HRN_OK;
}

static const struct hrn_custom_op CONTOUR_OP = {"contour_loss", contour_fwd, contour_bwd,
                                                (1u << 1) | (1u << 2)};

struct hrn_tensor *hrn_loss_contour(struct hrn_tape *t, struct hrn_tensor *verts,
                                    struct hrn_tensor *left, struct hrn_tensor *right,
                                    const struct hrn_contour_opts *opts) {
    static const char *L = "contour_loss";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){verts, left, right}, 3)) return NULL;
    struct hrn_contour_opts o = opts ? *opts : HRN_CONTOUR_OPTS_DEFAULT;
    if (o.img_size < 1 || !(o.margin >= 0) || !isfinite(o.margin)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: img_size %d must be >= 1 and margin %g >= 0", L,
                      o.img_size, (double)o.margin);
        return NULL;
    }
    if (verts->ndim != 3 || verts->shape[2] != 2)
        return hrn__loss_bad(L, verts, "verts must be (B,N,2) projected (u,v)");
    int64_t B = verts->shape[0], S = o.img_size;
    char sl[64], sr[64];
    for (int k = 0; k < 2; k++) {
        const struct hrn_tensor *x = k ? right : left;
        if (x->ndim != 2 || x->shape[0] != B || x->shape[1] != S) {
            hrn_error_set(HRN_ERR_INVALID, "%s: %s targets must be (%lld,%lld) = (B, img_size) "
                          "(got %s; verts %s)", L, k ? "right" : "left", (long long)B,
                          (long long)S, hrn_tensor_shape_str(x, sl, sizeof sl),
                          hrn_tensor_shape_str(verts, sr, sizeof sr));
            return NULL;
        }
    }
    struct contour_ctx *c = hrn_tape_alloc(t, sizeof *c);
    float *dldu = hrn__loss_floats(t, B * verts->shape[1]);
    if (!c || !dldu) return NULL;
    *c = (struct contour_ctx){o.margin, S, dldu};
    return hrn_custom(t, &CONTOUR_OP, c, (struct hrn_tensor *[]){verts, left, right}, 3, 1,
                      (int64_t[]){1});
}

/* --- regularizers ---------------------------------------------------------------------------- */

struct hrn_tensor *hrn_loss_coeff_reg(struct hrn_tape *t, struct hrn_tensor *id,
                                      struct hrn_tensor *exp, struct hrn_tensor *tex, float w_id,
                                      float w_exp, float w_tex) {
    static const char *L = "coeff_reg_loss";
    if (hrn__loss_null(L, &id, 1)) return NULL;
    if (id->ndim != 2) return hrn__loss_bad(L, id, "id must be (B,K)");
    struct hrn_tensor *xs[3] = {id, exp, tex};
    const char *nm[3] = {"id", "exp", "tex"};
    const float w[3] = {w_id, w_exp, w_tex};
    struct hrn_tensor *s = NULL;
    for (int k = 0; k < 3; k++) {
        if (!xs[k]) continue;
        if (xs[k]->ndim != 2 || xs[k]->shape[0] != id->shape[0]) {
            char a[64], b[64];
            hrn_error_set(HRN_ERR_INVALID, "%s: %s must be (B,K) with B = %lld as id %s (got %s)",
                          L, nm[k], (long long)id->shape[0], hrn_tensor_shape_str(id, a, sizeof a),
                          hrn_tensor_shape_str(xs[k], b, sizeof b));
            return NULL;
        }
        struct hrn_tensor *term = hrn_scale(t, hrn_sum_all(t, hrn_square(t, xs[k])), w[k]);
        s = s ? hrn_add(t, s, term) : term;
    }
    return hrn_scale(t, s, (float)(1.0 / (double)id->shape[0]));
}

/* I - 1/3: right-multiplying rows of (r,g,b) subtracts their mean */
static float CENTER3[9] = {2.0f / 3, -1.0f / 3, -1.0f / 3, -1.0f / 3, 2.0f / 3,
                           -1.0f / 3, -1.0f / 3, -1.0f / 3, 2.0f / 3};

struct hrn_tensor *hrn_loss_gamma(struct hrn_tape *t, struct hrn_tensor *gamma) {
    static const char *L = "gamma_loss";
    if (hrn__loss_null(L, &gamma, 1)) return NULL;
    int ok = (gamma->ndim == 2 && gamma->shape[1] == 27) ||
             (gamma->ndim == 3 && gamma->shape[1] == 3 && gamma->shape[2] == 9);
    if (!ok) return hrn__loss_bad(L, gamma, "expected SH coefficients (B,27) or (B,3,9)");
    int64_t B = gamma->shape[0];
    /* (B,3,9) -> (B,9,3) -> (B*9,3) · (I - 1/3) */
    struct hrn_tensor *g = hrn_permute(t, hrn_reshape(t, gamma, 3, (int64_t[]){B, 3, 9}),
                                       (int[]){0, 2, 1});
    struct hrn_tensor *c = hrn_matmul(t, hrn_reshape(t, g, 2, (int64_t[]){B * 9, 3}),
                                      hrn__loss_const(t, CENTER3, 2, (int64_t[]){3, 3}, "center"),
                                      0);
    return hrn_mean_all(t, hrn_square(t, c));
}

/* --- reflectance ----------------------------------------------------------------------------- */

struct reflc_ctx {
    double msum;
    float *mu; /* (B,3) masked means */
};

/* out (1) from tex (B,N,3), mask (N) */
static enum hrn_status reflc_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    struct reflc_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *x = out->src[0];
    const float *m = out->src[1]->data;
    int64_t B = x->shape[0], N = x->shape[1];
    double total = 0;
    for (int64_t b = 0; b < B; b++) {
        double mu[3] = {0, 0, 0};
        for (int64_t n = 0; n < N; n++)
            for (int k = 0; k < 3; k++)
                mu[k] += (double)m[n] * (double)x->data[(b * N + n) * 3 + k];
        for (int k = 0; k < 3; k++) c->mu[b * 3 + k] = (float)(mu[k] / c->msum);
        for (int64_t n = 0; n < N; n++)
            for (int k = 0; k < 3; k++) {
                double e = ((double)x->data[(b * N + n) * 3 + k] - (double)c->mu[b * 3 + k]) *
                           (double)m[n];
                total += e * e;
            }
    }
    out->data[0] = (float)(total / ((double)B * c->msum));
    return HRN_OK;
}

/* e = (x - mu) m;  dL/dx_v = 2/(B S) (e_v m_v - m_v/S sum_u e_u m_u), the second term through
 * mu */
static enum hrn_status reflc_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct reflc_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *x = out->src[0];
    const float *m = out->src[1]->data;
    int64_t B = x->shape[0], N = x->shape[1];
    double f = 2.0 * (double)out->grad[0] / ((double)B * c->msum);
    for (int64_t b = 0; b < B; b++) {
        double sem[3] = {0, 0, 0};
        const float *mu = c->mu + b * 3;
        for (int64_t n = 0; n < N; n++)
            for (int k = 0; k < 3; k++)
                sem[k] += ((double)x->data[(b * N + n) * 3 + k] - (double)mu[k]) * (double)m[n] *
                          (double)m[n];
        for (int64_t n = 0; n < N; n++)
            for (int k = 0; k < 3; k++) {
                double e = ((double)x->data[(b * N + n) * 3 + k] - (double)mu[k]) * (double)m[n];
                x->grad[(b * N + n) * 3 + k] +=
                    (float)(f * (e * (double)m[n] - (double)m[n] / c->msum * sem[k]));
            }
    }
    return HRN_OK;
}

static const struct hrn_custom_op REFLC_OP = {"reflectance_loss", reflc_fwd, reflc_bwd, 1u << 1};

struct hrn_tensor *hrn_loss_reflectance(struct hrn_tape *t, struct hrn_tensor *tex,
                                        struct hrn_tensor *skin_mask) {
    static const char *L = "reflectance_loss";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){tex, skin_mask}, 2)) return NULL;
    if (tex->ndim != 3 || tex->shape[2] != 3)
        return hrn__loss_bad(L, tex, "tex must be per-vertex albedo (B,N,3)");
    int64_t B = tex->shape[0], N = tex->shape[1];
    if (skin_mask->numel != N) {
        char a[64], b[64];
        hrn_error_set(HRN_ERR_INVALID, "%s: skin mask %s must have N = %lld elements (tex %s)", L,
                      hrn_tensor_shape_str(skin_mask, a, sizeof a), (long long)N,
                      hrn_tensor_shape_str(tex, b, sizeof b));
        return NULL;
    }
    double msum = 0;
    for (int64_t n = 0; n < N; n++) msum += (double)skin_mask->data[n];
    if (!(msum > 0)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: the skin mask sums to %g; it must be > 0", L, msum);
        return NULL;
    }
    struct reflc_ctx *c = hrn_tape_alloc(t, sizeof *c);
    float *mu = hrn__loss_floats(t, B * 3);
    if (!c || !mu) return NULL;
    *c = (struct reflc_ctx){msum, mu};
    struct hrn_tensor *m = hrn__loss_const(t, skin_mask->data, 1, (int64_t[]){N}, "skin_mask");
    return hrn_custom(t, &REFLC_OP, c, (struct hrn_tensor *[]){tex, m}, 2, 1, (int64_t[]){1});
}
