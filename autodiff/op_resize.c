/* op_resize.c: bilinear resizing of (N,C,H,W) tensors with PyTorch's F.interpolate(mode=
 * 'bilinear') semantics, align_corners true and false (no antialias).
 *
 * A C kernel rather than oneDNN's resampling primitive: oneDNN's linear resampling implements
 * only the half-pixel (align_corners=False) mapping, and the UNet needs align_corners=True.
 * Source coordinate of output index i along an axis of in -> out samples:
 *   align_corners: i·(in-1)/(out-1) (0 when out = 1)
 *   otherwise:     max((i+0.5)·in/out - 0.5, 0)
 * then x0 = floor, x1 = min(x0+1, in-1), weights (1-l, l) with l = src - x0.
 * Backward scatters each output gradient to its four sources; planes (n,c) are independent, so
 * the parallel loop over planes is deterministic.
 */
#include "dnnl_impl.h" /* hrn__prof_* */

#include <math.h>

struct resize_params {
    int32_t align_corners;
};

struct hrn_tensor *hrn_interp_bilinear(struct hrn_tape *t, struct hrn_tensor *x, int64_t oh,
                                       int64_t ow, int align_corners) {
    if (hrn__null_input("interp_bilinear", &x, 1)) return NULL;
    if (x->ndim != 4)
        return hrn__shape_error(t, "interp_bilinear", x, NULL, "must be 4-d (N,C,H,W)");
    if (oh < 1 || ow < 1) {
        hrn_error_set(HRN_ERR_INVALID, "interp_bilinear: output size %lldx%lld must be >= 1x1",
                      (long long)oh, (long long)ow);
        return NULL;
    }
    struct resize_params p = {!!align_corners};
    return hrn__node(t, HRN_OP_RESIZE_BILINEAR, 4, (int64_t[]){x->shape[0], x->shape[1], oh, ow},
                     &x, 1, &p, sizeof p, 1);
}

/* source index pair and weight of the second, for each output index along one axis */
static void axis_map(int64_t in, int64_t out, int align, int32_t *i0, int32_t *i1, float *l) {
    /* PyTorch computes the scale in float (area_pixel_compute_scale<float>) */
    float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                        : (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        float src = align ? scale * (float)i : scale * ((float)i + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int64_t a = (int64_t)src;
        if (a > in - 1) a = in - 1;
        i0[i] = (int32_t)a;
        i1[i] = (int32_t)(a < in - 1 ? a + 1 : a);
        l[i] = src - (float)a;
    }
}

struct maps {
    int32_t *y0, *y1, *x0, *x1;
    float *ly, *lx;
};

static enum hrn_status make_maps(struct hrn_tape *t, const struct hrn_tensor *o, struct maps *m) {
    int64_t H = o->src[0]->shape[2], W = o->src[0]->shape[3], OH = o->shape[2], OW = o->shape[3];
    int align = HRN__PARAMS(o, const struct resize_params)->align_corners;
    m->y0 = hrn__scratch(t, (size_t)OH * 4);
    m->y1 = hrn__scratch(t, (size_t)OH * 4);
    m->ly = hrn__scratch(t, (size_t)OH * 4);
    m->x0 = hrn__scratch(t, (size_t)OW * 4);
    m->x1 = hrn__scratch(t, (size_t)OW * 4);
    m->lx = hrn__scratch(t, (size_t)OW * 4);
    if (!m->y0 || !m->y1 || !m->ly || !m->x0 || !m->x1 || !m->lx) return HRN_ERR_NOMEM;
    axis_map(H, OH, align, m->y0, m->y1, m->ly);
    axis_map(W, OW, align, m->x0, m->x1, m->lx);
    return HRN_OK;
}

/* out (P,OH,OW) from x (P,H,W), P = N·C planes */
static void resize_forward(float *out, const float *x, const struct maps *m, int64_t P, int64_t H,
                           int64_t W, int64_t OH, int64_t OW) {
    HRN__PAR_FOR(P * OH * OW >= HRN_PAR_MIN, pl, P, {
        const float *xp = x + pl * H * W;
        float *op = out + pl * OH * OW;
        for (int64_t i = 0; i < OH; i++) {
            const float *r0 = xp + m->y0[i] * W, *r1 = xp + m->y1[i] * W;
            float ly = m->ly[i];
            for (int64_t j = 0; j < OW; j++) {
                float lx = m->lx[j];
                float top = (1 - lx) * r0[m->x0[j]] + lx * r0[m->x1[j]];
                float bot = (1 - lx) * r1[m->x0[j]] + lx * r1[m->x1[j]];
                op[i * OW + j] = (1 - ly) * top + ly * bot;
            }
        }
    });
}

/* dx (P,H,W) += scatter of dout (P,OH,OW) */
static void resize_backward(float *dx, const float *dout, const struct maps *m, int64_t P,
                            int64_t H, int64_t W, int64_t OH, int64_t OW) {
    HRN__PAR_FOR(P * OH * OW >= HRN_PAR_MIN, pl, P, {
        float *dp = dx + pl * H * W;
        const float *gp = dout + pl * OH * OW;
        for (int64_t i = 0; i < OH; i++) {
            float *r0 = dp + m->y0[i] * W, *r1 = dp + m->y1[i] * W;
            float ly = m->ly[i];
            for (int64_t j = 0; j < OW; j++) {
                float g = gp[i * OW + j], lx = m->lx[j];
                r0[m->x0[j]] += (1 - ly) * (1 - lx) * g;
                r0[m->x1[j]] += (1 - ly) * lx * g;
                r1[m->x0[j]] += ly * (1 - lx) * g;
                r1[m->x1[j]] += ly * lx * g;
            }
        }
    });
}

enum hrn_status hrn__resize_bilinear_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    struct maps m;
    struct hrn_tape_mark mk = hrn_tape_mark(t);
    enum hrn_status st = make_maps(t, o, &m);
    const struct hrn_tensor *x = o->src[0];
    if (st == HRN_OK)
        resize_forward(o->data, x->data, &m, x->shape[0] * x->shape[1], x->shape[2], x->shape[3],
                       o->shape[2], o->shape[3]);
    hrn_arena_rewind(&t->arena, mk.arena); /* the maps are rebuilt in backward */
    if (t0 > 0) hrn__prof_add(HRN__PROF_RESIZE, t0);
    return st;
}

enum hrn_status hrn__resize_bilinear_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    struct maps m;
    enum hrn_status st = make_maps(t, o, &m);
    const struct hrn_tensor *x = o->src[0];
    if (st == HRN_OK)
        resize_backward(x->grad, o->grad, &m, x->shape[0] * x->shape[1], x->shape[2],
                        x->shape[3], o->shape[2], o->shape[3]);
    if (t0 > 0) hrn__prof_add(HRN__PROF_RESIZE, t0);
    return st;
}
