/* render_antialias.c: silhouette antialiasing with gradients to the silhouette's vertices, after
 * nvdiffrast's antialias (Laine et al. 2020): beyond HRN, which renders without it. See
 * hrn_antialias_op in hrn_render.h for the rule. The forward records every blend (pixel, the pixel
 * it blends towards, the edge, the crossing point) so the backward revisits only those. */
#include "hrn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct aa_blend {
    int64_t dst, src;   /* pixel changed, pixel whose colour it moves towards */
    int32_t va, vb;     /* the silhouette edge's vertices */
    float ax, ay, bx, by; /* screen centres of the front pixel A and the back pixel B */
    int8_t mode;        /* +1: dst = B, weight alpha - 0.5; -1: dst = A, weight 0.5 - alpha */
    float alpha;
};

struct aa_ctx {
    const struct hrn_topo *tp;
    struct aa_blend *bl;
    int64_t n_bl;
};

static inline void scr_of(const float *uvz, int32_t v, int H, double *x, double *y) {
    *x = (double)uvz[3 * v] - 0.5;
    *y = (double)H - 0.5 - (double)uvz[3 * v + 1];
}

static double tri_orient(const float *uvz, const int32_t *tr, int H) {
    double p[3][2];
    for (int k = 0; k < 3; k++) scr_of(uvz, tr[k], H, &p[k][0], &p[k][1]);
    return (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[1][1] - p[0][1]) * (p[2][0] - p[0][0]);
}

/* The other triangle with edge (a, b) of triangle f, or -1 when none (the first found on a
 * non-manifold edge). */
static int32_t neighbour(const struct hrn_topo *tp, int32_t f, int32_t a, int32_t b) {
    for (int64_t j = tp->vf_ptr[a]; j < tp->vf_ptr[a + 1]; j++) {
        int32_t g = tp->vf_face[j];
        if (g == f) continue;
        const int32_t *tr = tp->tris + 3 * g;
        if (tr[0] == b || tr[1] == b || tr[2] == b) return g;
    }
    return -1;
}

/* Is triangle g (may be -1: no) on the other side of edge (a, b)? */
static int neighbour_is(const struct hrn_topo *tp, int32_t a, int32_t b, int32_t g) {
    if (g < 0) return 0;
    const int32_t *tr = tp->tris + 3 * g;
    return (tr[0] == a || tr[1] == a || tr[2] == a) && (tr[0] == b || tr[1] == b || tr[2] == b);
}

/* edge function of (a -> b) at (x, y) */
static inline double efn(double ax, double ay, double bx, double by, double x, double y) {
    return (x - ax) * (by - ay) - (y - ay) * (bx - ax);
}

static enum hrn_status aa_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    struct aa_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *img = out->src[0], *rast = out->src[1], *uvzt = out->src[2];
    const float *I = img->data, *r = rast->data, *uvz = uvzt->data;
    int64_t C = img->shape[0], H = img->shape[1], W = img->shape[2], np = H * W;
    memcpy(out->data, I, (size_t)(C * np) * sizeof(float));
    /* at most one blend per pixel pair */
    int64_t cap = 2 * np, n = 0;
    struct aa_blend *bl = hrn_tape_alloc(t, (size_t)cap * sizeof *bl);
    if (!bl) return HRN_ERR_NOMEM;
    for (int dir = 0; dir < 2; dir++) /* 0: horizontal pairs, 1: vertical pairs */
        for (int64_t row = 0; row < H - dir; row++)
            for (int64_t col = 0; col < W - 1 + dir; col++) {
                int64_t p = row * W + col, q = dir ? p + W : p + 1;
                int32_t tp_ = (int32_t)r[4 * p + 3] - 1, tq = (int32_t)r[4 * q + 3] - 1;
                if (tp_ == tq) continue;
                /* the front pixel A: covered, and nearer when both are */
                int a_is_p = tq < 0 || (tp_ >= 0 && r[4 * p + 2] < r[4 * q + 2]);
                int64_t A = a_is_p ? p : q, B = a_is_p ? q : p;
                int32_t f = a_is_p ? tp_ : tq;
                double Ax = (double)(A % W), Ay = (double)(A / W);
                double Bx = (double)(B % W), By = (double)(B / W);
                /* Walk from f along A -> B: leave each triangle by its first crossed edge after
                 * the entry point; stop at a silhouette edge (no neighbour, or a neighbour facing
                 * the other way on screen). A few steps cover a pixel pair that straddles an
                 * interior edge next to the silhouette (small triangles near the outline). */
                int32_t va = -1, vb = -1, h = f, from = -1;
                double alpha = -1, orient_h = 0;
                for (int step = 0; step < 4 && h >= 0; step++) {
                    const int32_t *tr = c->tp->tris + 3 * h;
                    orient_h = tri_orient(uvz, tr, (int)H);
                    if (orient_h == 0) break;
                    /* efn(a, b, P) = (P-a) x (b-a) is negative inside a positively oriented
                     * triangle: s makes it positive inside */
                    double s = orient_h > 0 ? -1 : 1;
                    int best = -1;
                    double best_alpha = 2;
                    for (int k = 0; k < 3; k++) {
                        if (neighbour_is(c->tp, tr[k], tr[(k + 1) % 3], from)) continue;
                        double x0, y0, x1, y1;
                        scr_of(uvz, tr[k], (int)H, &x0, &y0);
                        scr_of(uvz, tr[(k + 1) % 3], (int)H, &x1, &y1);
                        double eA = s * efn(x0, y0, x1, y1, Ax, Ay);
                        double eB = s * efn(x0, y0, x1, y1, Bx, By);
                        if (!(eB < 0) || !(eA > eB)) continue;
                        double al = eA / (eA - eB);
                        if (al >= alpha && al < best_alpha) {
                            best_alpha = al;
                            best = k;
                        }
                    }
                    if (best < 0) break;
                    int32_t a0 = tr[best], a1 = tr[(best + 1) % 3];
                    int32_t g2 = neighbour(c->tp, h, a0, a1);
                    alpha = best_alpha;
                    if (g2 < 0 || (tri_orient(uvz, c->tp->tris + 3 * g2, (int)H) > 0) !=
                                      (orient_h > 0)) {
                        va = a0;
                        vb = a1;
                        break;
                    }
                    from = h;
                    h = g2;
                }
                if (va < 0 || !(alpha > 0 && alpha < 1)) continue;
                double x0, y0, x1, y1;
                scr_of(uvz, va, (int)H, &x0, &y0);
                scr_of(uvz, vb, (int)H, &x1, &y1);
                /* horizontal pairs take the steep edges, vertical pairs the flat ones */
                double adx = fabs(x1 - x0), ady = fabs(y1 - y0);
                if (dir == 0 ? !(ady > adx) : !(adx >= ady)) continue;
                double best_alpha = alpha;
                struct aa_blend *b = bl + n++;
                b->va = va;
                b->vb = vb;
                b->ax = (float)Ax;
                b->ay = (float)Ay;
                b->bx = (float)Bx;
                b->by = (float)By;
                b->alpha = (float)best_alpha;
                if (best_alpha > 0.5) {
                    b->mode = 1;
                    b->dst = B;
                    b->src = A;
                } else {
                    b->mode = -1;
                    b->dst = A;
                    b->src = B;
                }
                float w = b->mode > 0 ? b->alpha - 0.5f : 0.5f - b->alpha;
                for (int64_t ch = 0; ch < C; ch++)
                    out->data[ch * np + b->dst] += w * (I[ch * np + b->src] - I[ch * np + b->dst]);
            }
    c->bl = bl;
    c->n_bl = n;
    return HRN_OK;
}

static enum hrn_status aa_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct aa_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *img = out->src[0], *uvzt = out->src[2];
    const float *I = img->data, *uvz = uvzt->data, *g = out->grad;
    int64_t C = img->shape[0], H = img->shape[1], W = img->shape[2], np = H * W;
    int wi = hrn_src_wants_grad(out, 0), wv = hrn_src_wants_grad(out, 2);
    if (wi)
        for (int64_t i = 0; i < C * np; i++) img->grad[i] += g[i];
    for (int64_t k = 0; k < c->n_bl; k++) {
        const struct aa_blend *b = c->bl + k;
        float w = b->mode > 0 ? b->alpha - 0.5f : 0.5f - b->alpha;
        double galpha = 0;
        for (int64_t ch = 0; ch < C; ch++) {
            float gd = g[ch * np + b->dst];
            if (wi) {
                img->grad[ch * np + b->src] += w * gd;
                img->grad[ch * np + b->dst] -= w * gd;
            }
            galpha += (double)gd * (double)(I[ch * np + b->src] - I[ch * np + b->dst]);
        }
        if (!wv) continue;
        galpha *= b->mode; /* dw/dalpha */
        double x0, y0, x1, y1;
        scr_of(uvz, b->va, (int)H, &x0, &y0);
        scr_of(uvz, b->vb, (int)H, &x1, &y1);
        double Ax = b->ax, Ay = b->ay, Bx = b->bx, By = b->by;
        double eA = efn(x0, y0, x1, y1, Ax, Ay), eB = efn(x0, y0, x1, y1, Bx, By);
        double den = (eA - eB) * (eA - eB);
        if (den == 0) continue;
        double geA = galpha * -eB / den, geB = galpha * eA / den;
        /* de(P)/d(x0, y0) = (Py - y1, x1 - Px), de(P)/d(x1, y1) = (-(Py - y0), Px - x0) */
        double gx0 = geA * (Ay - y1) + geB * (By - y1);
        double gy0 = geA * (x1 - Ax) + geB * (x1 - Bx);
        double gx1 = -geA * (Ay - y0) - geB * (By - y0);
        double gy1 = geA * (Ax - x0) + geB * (Bx - x0);
        float *gv = uvzt->grad;
        gv[3 * b->va] += (float)gx0; /* u = px + 0.5 */
        gv[3 * b->va + 1] -= (float)gy0; /* v = H - 0.5 - py */
        gv[3 * b->vb] += (float)gx1;
        gv[3 * b->vb + 1] -= (float)gy1;
    }
    return HRN_OK;
}

static const struct hrn_custom_op AA_OP = {"antialias", aa_fwd, aa_bwd, 1u << 1};

struct hrn_tensor *hrn_antialias_op(struct hrn_tape *t, struct hrn_tensor *img,
                                    struct hrn_tensor *rast, struct hrn_tensor *uvz,
                                    const struct hrn_topo *tp) {
    struct hrn_tensor *src[3] = {img, rast, uvz};
    if (!img || !rast || !uvz) return hrn_custom(t, &AA_OP, NULL, src, 3, 1, (int64_t[]){1});
    char b1[64], b2[64], b3[64];
    if (img->ndim != 3 || rast->ndim != 3 || rast->shape[2] != 4 ||
        rast->shape[0] != img->shape[1] || rast->shape[1] != img->shape[2] || uvz->ndim != 2 ||
        uvz->shape[1] != 3 || uvz->shape[0] != tp->n_verts) {
        hrn_error_set(HRN_ERR_INVALID,
                      "antialias: img %s, rast %s, uvz %s; expected (C,H,W), (H,W,4), (%lld,3)",
                      hrn_tensor_shape_str(img, b1, sizeof b1),
                      hrn_tensor_shape_str(rast, b2, sizeof b2),
                      hrn_tensor_shape_str(uvz, b3, sizeof b3), (long long)tp->n_verts);
        return NULL;
    }
    struct aa_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->tp = tp;
    return hrn_custom(t, &AA_OP, c, src, 3, 3, img->shape);
}
