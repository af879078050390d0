/* deretouch.c: the de-retouching formula of hrn_method.md 2.6 (an elementwise custom op over three
 * inputs: a composition would record a dozen full-size nodes) and the bilinear resize
 * (align_corners=False) used around the de-retouching UNet, with its adjoint. */
#include "losses_impl.h"

#include <math.h>
#include <string.h>

/* --- de-retouching --------------------------------------------------------------------------- */

/* out A' (B,3,H,W) from src tn, blend, a0 of the same shape; the formula in PyTorch's order */
static enum hrn_status deretouch_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const float *tn = out->src[0]->data, *bl = out->src[1]->data, *a0 = out->src[2]->data;
    for (int64_t i = 0; i < out->numel; i++) {
        float T = (tn[i] + 1.0f) / 2.0f, B = bl[i];
        float T0 = (1.0f - 2.0f * B) * (T * T) + 2.0f * B * T;
        float phi = 1e6f * (T0 * T0 * T0) + 1e-6f;
        out->data[i] = a0[i] * (T + 1.0f / phi) / (T0 + 1.0f / phi);
    }
    return HRN_OK;
}

/* With ip = 1/phi, num = T + ip, den = T0 + ip, A' = a0 num/den:
 *   dA'/da0 = num/den
 *   dip/dT0 = -3e6 T0^2 / phi^2
 *   dA'/dT0 = a0 (dip/dT0 den - num (1 + dip/dT0)) / den^2
 *   dA'/dT  = a0/den + dA'/dT0 ((1 - 2B) 2T + 2B);   dT/dtn = 1/2
 *   dA'/dB  = dA'/dT0 (2T - 2T^2)
 * in double: den^2 spans many decades when T0 is small. */
static enum hrn_status deretouch_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    struct hrn_tensor *xt = out->src[0], *xb = out->src[1], *xa = out->src[2];
    int gt = hrn_src_wants_grad(out, 0), gb = hrn_src_wants_grad(out, 1),
        ga = hrn_src_wants_grad(out, 2);
    for (int64_t i = 0; i < out->numel; i++) {
        double g = (double)out->grad[i];
        double T = ((double)xt->data[i] + 1.0) / 2.0, B = (double)xb->data[i],
               a0 = (double)xa->data[i];
        double T0 = (1.0 - 2.0 * B) * T * T + 2.0 * B * T;
        double phi = 1e6 * T0 * T0 * T0 + 1e-6, ip = 1.0 / phi;
        double num = T + ip, den = T0 + ip;
        double dip = -3e6 * T0 * T0 / (phi * phi);
        double dT0 = a0 * (dip * den - num * (1.0 + dip)) / (den * den);
        if (ga) xa->grad[i] += (float)(g * num / den);
        double dT0_dT = 2.0 * (1.0 - 2.0 * B) * T + 2.0 * B;
        if (gt) xt->grad[i] += (float)(0.5 * g * (a0 / den + dT0 * dT0_dT));
        if (gb) xb->grad[i] += (float)(g * dT0 * (2.0 * T - 2.0 * T * T));
    }
    return HRN_OK;
}

static const struct hrn_custom_op DERETOUCH_OP = {"deretouch", deretouch_fwd, deretouch_bwd, 0};

struct hrn_tensor *hrn_deretouch(struct hrn_tape *t, struct hrn_tensor *tn,
                                 struct hrn_tensor *blend, struct hrn_tensor *a0) {
    static const char *L = "deretouch";
    if (hrn__loss_null(L, (struct hrn_tensor *[]){tn, blend, a0}, 3)) return NULL;
    if (tn->ndim != 4 || !hrn_tensor_same_shape(tn, blend) || !hrn_tensor_same_shape(tn, a0)) {
        char s0[64], s1[64], s2[64];
        hrn_error_set(HRN_ERR_INVALID, "%s: texture Tn, blend layer and albedo must all be "
                      "(B,C,H,W) of one shape (got %s, %s and %s; resize the blend layer with "
                      "hrn_resize_bilinear_ad)", L, hrn_tensor_shape_str(tn, s0, sizeof s0),
                      hrn_tensor_shape_str(blend, s1, sizeof s1),
                      hrn_tensor_shape_str(a0, s2, sizeof s2));
        return NULL;
    }
    return hrn_custom(t, &DERETOUCH_OP, NULL, (struct hrn_tensor *[]){tn, blend, a0}, 3, 4,
                      tn->shape);
}

/* --- bilinear resize, align_corners=False ---------------------------------------------------- */

/* Source taps along one axis as PyTorch's upsample_bilinear2d computes them (in float):
 * src = max(scale (dst + 0.5) - 0.5, 0) with scale = in/out, i0 = floor, i1 = min(i0+1, in-1). */
struct taps {
    int64_t *i0, *i1;
    float *w0, *w1;
};

static int taps_make(struct hrn_tape *t, struct taps *k, int64_t in, int64_t out) {
    k->i0 = hrn_tape_alloc(t, (size_t)out * sizeof(int64_t));
    k->i1 = hrn_tape_alloc(t, (size_t)out * sizeof(int64_t));
    k->w0 = hrn__loss_floats(t, out);
    k->w1 = hrn__loss_floats(t, out);
    if (!k->i0 || !k->i1 || !k->w0 || !k->w1) return 0;
    float scale = (float)in / (float)out;
    for (int64_t d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int64_t i0 = (int64_t)src;
        k->i0[d] = i0;
        k->i1[d] = i0 + (i0 < in - 1 ? 1 : 0);
        k->w1[d] = src - (float)i0;
        k->w0[d] = 1.0f - k->w1[d];
    }
    return 1;
}

struct resize_ctx {
    struct taps h, w;
};

/* out (B,C,oh,ow) from x (B,C,H,W) */
static enum hrn_status resize_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct resize_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *x = out->src[0];
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t OH = out->shape[2], OW = out->shape[3];
    for (int64_t p = 0; p < P; p++) {
        const float *s = x->data + p * H * W;
        float *d = out->data + p * OH * OW;
        for (int64_t y = 0; y < OH; y++) {
            const float *r0 = s + c->h.i0[y] * W, *r1 = s + c->h.i1[y] * W;
            float h0 = c->h.w0[y], h1 = c->h.w1[y];
            for (int64_t xo = 0; xo < OW; xo++) {
                int64_t a = c->w.i0[xo], b = c->w.i1[xo];
                float w0 = c->w.w0[xo], w1 = c->w.w1[xo];
                d[y * OW + xo] = h0 * (w0 * r0[a] + w1 * r0[b]) + h1 * (w0 * r1[a] + w1 * r1[b]);
            }
        }
    }
    return HRN_OK;
}

/* the adjoint: every output gradient goes back to its four taps (planes are independent) */
static enum hrn_status resize_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct resize_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *x = out->src[0];
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t OH = out->shape[2], OW = out->shape[3];
    for (int64_t p = 0; p < P; p++) {
        float *gs = x->grad + p * H * W;
        const float *gd = out->grad + p * OH * OW;
        for (int64_t y = 0; y < OH; y++) {
            float *r0 = gs + c->h.i0[y] * W, *r1 = gs + c->h.i1[y] * W;
            float h0 = c->h.w0[y], h1 = c->h.w1[y];
            for (int64_t xo = 0; xo < OW; xo++) {
                int64_t a = c->w.i0[xo], b = c->w.i1[xo];
                float g = gd[y * OW + xo], w0 = c->w.w0[xo], w1 = c->w.w1[xo];
                r0[a] += g * h0 * w0;
                r0[b] += g * h0 * w1;
                r1[a] += g * h1 * w0;
                r1[b] += g * h1 * w1;
            }
        }
    }
    return HRN_OK;
}

static const struct hrn_custom_op RESIZE_OP = {"resize_bilinear", resize_fwd, resize_bwd, 0};

struct hrn_tensor *hrn_resize_bilinear_ad(struct hrn_tape *t, struct hrn_tensor *x, int64_t oh,
                                          int64_t ow) {
    static const char *L = "resize_bilinear";
    if (hrn__loss_null(L, &x, 1)) return NULL;
    if (x->ndim != 4) return hrn__loss_bad(L, x, "expected (B,C,H,W)");
    if (oh < 1 || ow < 1) {
        hrn_error_set(HRN_ERR_INVALID, "%s: output size %lldx%lld must be positive", L,
                      (long long)oh, (long long)ow);
        return NULL;
    }
    struct resize_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c || !taps_make(t, &c->h, x->shape[2], oh) || !taps_make(t, &c->w, x->shape[3], ow))
        return NULL;
    return hrn_custom(t, &RESIZE_OP, c, &x, 1, 4,
                      (int64_t[]){x->shape[0], x->shape[1], oh, ow});
}
