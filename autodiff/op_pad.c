/* op_pad.c: spatial padding of (N,C,H,W) tensors: zeros (F.pad / Conv2d padding_mode 'zeros')
 * or reflection (nn.ReflectionPad2d: the edge row is not repeated, index -i and 2(H-1)-i).
 * Backward adds each output gradient into the input element it was copied from; planes are
 * independent, so the parallel loop is deterministic. */
#include "dnnl_impl.h" /* hrn__prof_* */

struct pad_params {
    int32_t left, right, top, bottom, mode;
};

struct hrn_tensor *hrn_pad2d(struct hrn_tape *t, struct hrn_tensor *x, int left, int right,
                             int top, int bottom, enum hrn_pad_mode mode) {
    if (hrn__null_input("pad2d", &x, 1)) return NULL;
    if (x->ndim != 4) return hrn__shape_error(t, "pad2d", x, NULL, "must be 4-d (N,C,H,W)");
    if (left < 0 || right < 0 || top < 0 || bottom < 0 ||
        (mode != HRN_PAD_ZERO && mode != HRN_PAD_REFLECT)) {
        hrn_error_set(HRN_ERR_INVALID, "pad2d: padding (%d,%d,%d,%d) must be >= 0, mode %d",
                      left, right, top, bottom, (int)mode);
        return NULL;
    }
    if (mode == HRN_PAD_REFLECT && (left >= x->shape[3] || right >= x->shape[3] ||
                                    top >= x->shape[2] || bottom >= x->shape[2]))
        return hrn__shape_error(t, "pad2d", x, NULL,
                                "is too small for the reflection padding (each pad must be "
                                "smaller than the dimension, as PyTorch)");
    struct pad_params p = {left, right, top, bottom, (int32_t)mode};
    return hrn__node(t, HRN_OP_PAD2D, 4,
                     (int64_t[]){x->shape[0], x->shape[1], x->shape[2] + top + bottom,
                                 x->shape[3] + left + right},
                     &x, 1, &p, sizeof p, 1);
}

/* source index along an axis of n for padded index i (i - pad), or -1 for a zero */
static inline int64_t src_index(int64_t i, int64_t n, int reflect) {
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

/* out (P,OH,OW) from x (P,H,W) */
enum hrn_status hrn__pad2d_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct pad_params *p = HRN__PARAMS(o, const struct pad_params);
    const struct hrn_tensor *x = o->src[0];
    const int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t OH = o->shape[2], OW = o->shape[3];
    const int refl = p->mode == HRN_PAD_REFLECT;
    const float *xd = x->data;
    float *od = o->data;
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, P, {
        for (int64_t i = 0; i < OH; i++) {
            int64_t si = src_index(i - p->top, H, refl);
            float *orow = od + (pl * OH + i) * OW;
            if (si < 0) {
                memset(orow, 0, (size_t)OW * sizeof(float));
                continue;
            }
            const float *xrow = xd + (pl * H + si) * W;
            for (int64_t j = 0; j < OW; j++) {
                int64_t sj = src_index(j - p->left, W, refl);
                orow[j] = sj < 0 ? 0.0f : xrow[sj];
            }
        }
    });
    if (t0 > 0) hrn__prof_add(HRN__PROF_PAD, t0);
    return HRN_OK;
}

enum hrn_status hrn__pad2d_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct pad_params *p = HRN__PARAMS(o, const struct pad_params);
    struct hrn_tensor *x = o->src[0];
    const int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t OH = o->shape[2], OW = o->shape[3];
    const int refl = p->mode == HRN_PAD_REFLECT;
    float *dx = x->grad;
    const float *g = o->grad;
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, P, {
        for (int64_t i = 0; i < OH; i++) {
            int64_t si = src_index(i - p->top, H, refl);
            if (si < 0) continue;
            const float *grow = g + (pl * OH + i) * OW;
            float *xrow = dx + (pl * H + si) * W;
            for (int64_t j = 0; j < OW; j++) {
                int64_t sj = src_index(j - p->left, W, refl);
                if (sj >= 0) xrow[sj] += grow[j];
            }
        }
    });
    if (t0 > 0) hrn__prof_add(HRN__PROF_PAD, t0);
    return HRN_OK;
}
