/* loss_image.c: losses on images and UV maps (B,C,H,W): photometric, masked L1 to a 3D prior,
 * TVLoss and TVLoss_std, the displacement magnitude and the least-squares GAN losses. All but the
 * photometric loss (one fused custom op) are compositions of autodiff ops (each already
 * gradient-checked); masks enter as constant leaves. */
#include "losses_impl.h"

#include <math.h>
#include <string.h>

int hrn__loss_null(const char *loss, struct hrn_tensor *const *xs, int n) {
    for (int i = 0; i < n; i++) {
        if (xs[i]) continue;
        if (!hrn_error_msg()[0]) hrn_error_set(HRN_ERR_INVALID, "%s: input %d is NULL", loss, i);
        return 1;
    }
    return 0;
}

struct hrn_tensor *hrn__loss_bad(const char *loss, const struct hrn_tensor *x, const char *what) {
    char s[64];
    hrn_error_set(HRN_ERR_INVALID, "%s: %s (got %s)", loss, what,
                  hrn_tensor_shape_str(x, s, sizeof s));
    return NULL;
}

struct hrn_tensor *hrn__loss_const(struct hrn_tape *t, const float *data, int ndim,
                                   const int64_t *shape, const char *name) {
    /* the data is only read: tape_wrap's non-const pointer is for leaves a caller may update */
    struct hrn_tensor *c = hrn_tape_wrap(t, (float *)(uintptr_t)data, ndim, shape, name);
    if (c) c->flags |= HRN_TENSOR_NO_GRAD_INPUT;
    return c;
}

float *hrn__loss_floats(struct hrn_tape *t, int64_t n) {
    return hrn_tape_alloc(t, (size_t)n * sizeof(float));
}

static int is_nchw(const struct hrn_tensor *x) { return x->ndim == 4; }

/* --- photometric ----------------------------------------------------------------------------- */

/* One fused op instead of the seven-op chain sum_c (a-b)^2 -> +1e-6 -> sqrt -> *mask -> sum ->
 * /max(sum mask, 1): at 224x224 each op of the chain was a full pass with its own gradient
 * buffer (about 1 ms of a fitting step). The arithmetic is the chain's, in its order: the channel
 * sum in double, the pixel sum in blocks of PHOTO_BLOCK in double added in block order (thread
 * count independent), the backward as the chain's float products. */
/* PHOTO_PAR, PHOTO_PAR_BWD: pixels from which the forward (a sqrt per pixel) and the lighter
 * backward use OpenMP; waking a second thread costs 60-80 us under OMP_WAIT_POLICY=passive on
 * this project's VM, so the backward at 224x224 (~0.12 ms on one thread) stays on one. */
enum { PHOTO_BLOCK = 4096, PHOTO_PAR = 16384, PHOTO_PAR_BWD = 1 << 18 };

struct photo_ctx {
    const float *mask; /* (B,H,W) constant */
    float *r;          /* (B,H,W) sqrt(sum_c d^2 + 1e-6) */
    int64_t C, HW;
    float inv_denom;   /* 1 / max(sum mask, 1) */
};

static enum hrn_status photo_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    struct photo_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *a = out->src[0], *b = out->src[1];
    int64_t C = c->C, HW = c->HW, n = a->shape[0] * HW, nb = (n + PHOTO_BLOCK - 1) / PHOTO_BLOCK;
    double *part = hrn_tape_alloc(t, (size_t)(2 * nb) * sizeof(double));
    if (!part) return HRN_ERR_NOMEM;
    const float *pa = a->data, *pb = b->data, *m = c->mask;
    float *r = c->r;
#pragma omp parallel for schedule(static) if (n >= PHOTO_PAR)
    for (int64_t blk = 0; blk < nb; blk++) {
        int64_t lo = blk * PHOTO_BLOCK, hi = lo + PHOTO_BLOCK < n ? lo + PHOTO_BLOCK : n;
        double sv = 0, sm = 0;
        int64_t bi = lo / HW, q = lo % HW; /* image and pixel of p, stepped (no division) */
        for (int64_t p = lo; p < hi; p++, q++) {
            if (q == HW) {
                bi++;
                q = 0;
            }
            const float *xa = pa + bi * C * HW + q, *xb = pb + bi * C * HW + q;
            double s = 0.0;
            for (int64_t ch = 0; ch < C; ch++) {
                float d = xa[ch * HW] - xb[ch * HW];
                s += (double)(d * d);
            }
            float rp = sqrtf((float)s + 1e-6f);
            r[p] = rp;
            sv += (double)(rp * m[p]);
            sm += (double)m[p];
        }
        part[2 * blk] = sv;
        part[2 * blk + 1] = sm;
    }
    double tv = 0, tm = 0;
    for (int64_t blk = 0; blk < nb; blk++) {
        tv += part[2 * blk];
        tm += part[2 * blk + 1];
    }
    c->inv_denom = 1.0f / (float)fmax(tm, 1.0);
    out->data[0] = (float)tv * c->inv_denom;
    return HRN_OK;
}

static enum hrn_status photo_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct photo_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *a = out->src[0], *b = out->src[1];
    float *ga = hrn_src_wants_grad(out, 0) ? a->grad : NULL;
    float *gb = hrn_src_wants_grad(out, 1) ? b->grad : NULL;
    if (!ga && !gb) return HRN_OK;
    int64_t C = c->C, HW = c->HW;
    const float *pa = a->data, *pb = b->data, *m = c->mask, *r = c->r;
    float g1 = out->grad[0] * c->inv_denom;
    for (int64_t bi = 0; bi < a->shape[0]; bi++) {
        const float *mb = m + bi * HW, *rb = r + bi * HW;
        int64_t base = bi * C * HW;
#pragma omp parallel for schedule(static) if (HW >= PHOTO_PAR_BWD)
        for (int64_t q = 0; q < HW; q++) {
            float g3 = 0.5f * (g1 * mb[q]) / rb[q]; /* d sqrt */
            if (g3 == 0) continue;
            for (int64_t ch = 0; ch < C; ch++) {
                int64_t i = base + ch * HW + q;
                float gd = 2.0f * g3 * (pa[i] - pb[i]);
                if (ga) ga[i] += gd;
                if (gb) gb[i] -= gd;
            }
        }
    }
    return HRN_OK;
}

static const struct hrn_custom_op PHOTO_OP = {"photo_loss", photo_fwd, photo_bwd, 0};

struct hrn_tensor *hrn_loss_photo(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                                  struct hrn_tensor *mask) {
    static const char *L = "photo_loss";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){a, b, mask}, 3)) return NULL;
    char sa[64], sb[64], sm[64];
    if (!is_nchw(a) || !hrn_tensor_same_shape(a, b)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: images must both be (B,C,H,W) (got %s and %s)", L,
                      hrn_tensor_shape_str(a, sa, sizeof sa),
                      hrn_tensor_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    int64_t B = a->shape[0], H = a->shape[2], W = a->shape[3];
    int mask_ok = (mask->ndim == 4 && mask->shape[0] == B && mask->shape[1] == 1 &&
                   mask->shape[2] == H && mask->shape[3] == W) ||
                  (mask->ndim == 3 && mask->shape[0] == B && mask->shape[1] == H &&
                   mask->shape[2] == W);
    if (!mask_ok) {
        hrn_error_set(HRN_ERR_INVALID,
                      "%s: mask %s does not fit images %s: expected (%lld,1,%lld,%lld) or "
                      "(%lld,%lld,%lld)", L, hrn_tensor_shape_str(mask, sm, sizeof sm),
                      hrn_tensor_shape_str(a, sa, sizeof sa), (long long)B, (long long)H,
                      (long long)W, (long long)B, (long long)H, (long long)W);
        return NULL;
    }
    struct photo_ctx *c = hrn_tape_alloc(t, sizeof *c);
    float *r = hrn__loss_floats(t, B * H * W);
    if (!c || !r) return NULL;
    *c = (struct photo_ctx){mask->data, r, a->shape[1], H * W, 1.0f};
    return hrn_custom(t, &PHOTO_OP, c, (struct hrn_tensor *[]){a, b}, 2, 1, (int64_t[]){1});
}

/* --- masked L1 to a ground-truth map --------------------------------------------------------- */

struct hrn_tensor *hrn_loss_map_l1(struct hrn_tape *t, struct hrn_tensor *pred,
                                   struct hrn_tensor *gt, struct hrn_tensor *mask) {
    static const char *L = "map_l1_loss";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){pred, gt}, 2)) return NULL;
    char sp[64], sg[64], sm[64];
    if (!is_nchw(pred) || !hrn_tensor_same_shape(pred, gt)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: pred and gt must both be (B,C,H,W) (got %s and %s)", L,
                      hrn_tensor_shape_str(pred, sp, sizeof sp),
                      hrn_tensor_shape_str(gt, sg, sizeof sg));
        return NULL;
    }
    struct hrn_tensor *err = hrn_abs(t, hrn_sub(t, pred, gt));
    if (!mask) return hrn_mean_all(t, err);
    int64_t B = pred->shape[0], C = pred->shape[1], HW = pred->shape[2] * pred->shape[3];
    const int64_t *s = mask->shape;
    int same_hw = mask->ndim >= 2 && s[mask->ndim - 2] == pred->shape[2] &&
                  s[mask->ndim - 1] == pred->shape[3];
    int64_t mb, mc; /* the mask's batch and channel counts (1 = shared) */
    if (same_hw && mask->ndim == 2) {
        mb = 1, mc = 1;
    } else if (same_hw && mask->ndim == 4 && (s[0] == B || s[0] == 1) && (s[1] == C || s[1] == 1)) {
        mb = s[0], mc = s[1];
    } else {
        hrn_error_set(HRN_ERR_INVALID, "%s: mask %s does not fit maps %s: expected (B,1,H,W), "
                      "(B,C,H,W), (1,1,H,W) or (H,W)", L, hrn_tensor_shape_str(mask, sm, sizeof sm),
                      hrn_tensor_shape_str(pred, sp, sizeof sp));
        return NULL;
    }
    /* the mask broadcast to pred's shape: a constant leaf, and the divisor is its sum */
    float *full = hrn__loss_floats(t, pred->numel);
    if (!full) return NULL;
    double msum = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            const float *src = mask->data + ((mb > 1 ? b : 0) * mc + (mc > 1 ? c : 0)) * HW;
            float *dst = full + (b * C + c) * HW;
            memcpy(dst, src, (size_t)HW * sizeof(float));
            for (int64_t i = 0; i < HW; i++) msum += (double)src[i];
        }
    struct hrn_tensor *m = hrn__loss_const(t, full, 4, pred->shape, "map_mask");
    return hrn_scale(t, hrn_sum_all(t, hrn_mask_mul(t, err, m)), 1.0f / (float)fmax(msum, 1.0));
}

/* --- smoothness ------------------------------------------------------------------------------ */

static int tv_shape_ok(const char *L, const struct hrn_tensor *x) {
    if (is_nchw(x) && x->shape[2] >= 2 && x->shape[3] >= 2) return 1;
    hrn__loss_bad(L, x, "expected (B,C,H,W) with H, W >= 2");
    return 0;
}

/* TVLoss and TVLoss_std as fused ops over the neighbour differences h = x[:,:,i+1,j] - x[:,:,i,j]
 * and w = x[:,:,i,j+1] - x[:,:,i,j] (they were ~12 ops each over the whole map, with slices,
 * about 4 ms of a displacement-level fitting step at 256x256). The arithmetic follows the
 * composition's: differences and squares in float, sums and means in double, scales in float.
 * TVLoss_std's mean is recomputed each pass rather than stored per element. */
struct tv_ctx {
    int std;        /* 0 TVLoss, 1 TVLoss_std */
    float mu[2];    /* TVLoss_std: mean of h^2, of w^2 */
    double dev[2];  /* TVLoss_std: sum of (h^2 - mu) and (w^2 - mu): not 0 in float */
};

/* the sums over one direction (axis 0: h, 1: w) of f(d) for every difference d */
#define TV_FOR(x, B, C, H, W, axis, body)                                                     \
    for (int64_t pl_ = 0; pl_ < (B) * (C); pl_++) {                                           \
        const float *xp_ = (x) + pl_ * (H) * (W);                                             \
        for (int64_t i_ = 0; i_ < (H) - ((axis) == 0); i_++)                                  \
            for (int64_t j_ = 0; j_ < (W) - ((axis) == 1); j_++) {                            \
                int64_t o0_ = i_ * (W) + j_, o1_ = o0_ + ((axis) == 0 ? (W) : 1);             \
                float d = xp_[o1_] - xp_[o0_];                                                \
                body                                                                          \
            }                                                                                 \
    }

static enum hrn_status tv_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    struct tv_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *xt = out->src[0];
    const float *x = xt->data;
    int64_t B = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    float r[2];
    for (int ax = 0; ax < 2; ax++) {
        double sq = 0;
        TV_FOR(x, B, C, H, W, ax, sq += (double)(d * d);)
        if (!c->std) {
            r[ax] = (float)sq;
            continue;
        }
        int64_t n = B * C * (H - (ax == 0)) * (W - (ax == 1));
        float mu = (float)(sq * (1.0 / (double)n));
        double s = 0, dev = 0;
        TV_FOR(x, B, C, H, W, ax, {
            float e = d * d - mu;
            s += (double)(e * e);
            dev += (double)e;
        })
        c->mu[ax] = mu;
        c->dev[ax] = dev;
        r[ax] = (float)s;
    }
    if (c->std) {
        out->data[0] = (r[0] + r[1]) * (float)(2.0 / (double)B);
    } else { /* HRN: 2 (h_tv / count_h + w_tv / count_w) / B */
        float sh = (float)(1.0 / ((double)C * (double)(H - 1) * (double)W));
        float sw = (float)(1.0 / ((double)C * (double)H * (double)(W - 1)));
        out->data[0] = (r[0] * sh + r[1] * sw) * (float)(2.0 / (double)B);
    }
    return HRN_OK;
}

static enum hrn_status tv_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct tv_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *xt = out->src[0];
    const float *x = xt->data;
    float *gx = xt->grad;
    int64_t B = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    float g1 = out->grad[0] * (float)(2.0 / (double)B);
    for (int ax = 0; ax < 2; ax++) {
        float gs; /* d loss / d (d^2) for TVLoss; d loss / d (d^2 - mu) scale for TVLoss_std */
        float gmu = 0;
        if (!c->std) {
            gs = g1 * (float)(1.0 / ((double)C * (double)(H - (ax == 0)) * (double)(W - (ax == 1))));
        } else {
            /* the mean's share: -(sum of 2 g (d^2 - mu)) / n, added to every d^2 */
            int64_t n = B * C * (H - (ax == 0)) * (W - (ax == 1));
            gs = g1;
            gmu = (float)(-(2.0 * (double)g1 * c->dev[ax]) / (double)n);
        }
        float mu = c->mu[ax];
        for (int64_t pl = 0; pl < B * C; pl++) {
            const float *xp = x + pl * H * W;
            float *gp = gx + pl * H * W;
            for (int64_t i = 0; i < H - (ax == 0); i++)
                for (int64_t j = 0; j < W - (ax == 1); j++) {
                    int64_t o0 = i * W + j, o1 = o0 + (ax == 0 ? W : 1);
                    float d = xp[o1] - xp[o0];
                    float gq = c->std ? 2.0f * gs * (d * d - mu) + gmu : gs; /* d/d(d^2) */
                    float gd = 2.0f * gq * d;
                    gp[o1] += gd;
                    gp[o0] -= gd;
                }
        }
    }
    return HRN_OK;
}

static const struct hrn_custom_op TV_OP = {"tv_loss", tv_fwd, tv_bwd, 0};

static struct hrn_tensor *tv_op(struct hrn_tape *t, struct hrn_tensor *x, int std) {
    struct tv_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->std = std;
    return hrn_custom(t, &TV_OP, c, &x, 1, 1, (int64_t[]){1});
}

struct hrn_tensor *hrn_loss_tv(struct hrn_tape *t, struct hrn_tensor *x) {
    static const char *L = "tv_loss";
    if (hrn__loss_null(L, &x, 1) || !tv_shape_ok(L, x)) return NULL;
    return tv_op(t, x, 0);
}

struct hrn_tensor *hrn_loss_tv_std(struct hrn_tape *t, struct hrn_tensor *x) {
    static const char *L = "tv_std_loss";
    if (hrn__loss_null(L, &x, 1) || !tv_shape_ok(L, x)) return NULL;
    return tv_op(t, x, 1);
}

struct hrn_tensor *hrn_loss_abs_mean(struct hrn_tape *t, struct hrn_tensor *x) {
    if (hrn__loss_null("abs_mean_loss", &x, 1)) return NULL;
    return hrn_mean_all(t, hrn_abs(t, x));
}

/* --- least-squares GAN ----------------------------------------------------------------------- */

struct hrn_tensor *hrn_loss_gan_ls(struct hrn_tape *t, struct hrn_tensor *pred, int target_real) {
    if (hrn__loss_null("gan_ls_loss", &pred, 1)) return NULL;
    struct hrn_tensor *e = target_real ? hrn_add_scalar(t, pred, -1.0f) : pred;
    return hrn_mean_all(t, hrn_square(t, e));
}

struct hrn_tensor *hrn_loss_gan_ls_d(struct hrn_tape *t, struct hrn_tensor *pred_real,
                                     struct hrn_tensor *pred_fake) {
    if (hrn__loss_null("gan_ls_d_loss", (struct hrn_tensor *[]){pred_real, pred_fake}, 2))
        return NULL;
    return hrn_scale(t, hrn_add(t, hrn_loss_gan_ls(t, pred_real, 1),
                                hrn_loss_gan_ls(t, pred_fake, 0)), 0.5f);
}
