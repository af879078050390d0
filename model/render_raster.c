/* render_raster.c: the differentiable rasterizer as autodiff custom ops, with nvdiffrast's
 * semantics: rasterize (projected vertices -> per-pixel barycentrics, depth and triangle id;
 * differentiable in the barycentrics and depth with the pixel centres fixed), interpolate
 * (attributes -> image; gradients to the attributes and to rast), texture (bilinear, wrap;
 * gradients to the texture and the texture coordinates). Scatters in the backward passes go to
 * the gradient (thread 0) and per-thread buffers (the others) added in thread order:
 * deterministic for a given thread count. */
#include "hrn_model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static struct hrn_tensor *bad_shape(const char *op, const struct hrn_tensor *x, const char *want) {
    char buf[64];
    hrn_error_set(HRN_ERR_INVALID, "%s: input %s has shape %s, expected %s", op,
                  x->name[0] ? x->name : "?", hrn_tensor_shape_str(x, buf, sizeof buf), want);
    return NULL;
}

static int is_rast(const struct hrn_tensor *r) { return r->ndim == 3 && r->shape[2] == 4; }

/* Accumulators of a scatter over nt threads: thread 0 adds into the gradient dst itself, thread
 * i > 0 into zeroed buffer i-1 of (nt-1) n floats from the arena, which gather_bufs then adds
 * into dst in thread order (deterministic for a given thread count). One buffer fewer to zero
 * and to add than a buffer per thread. *bufs is NULL when nt == 1. */
static enum hrn_status thread_bufs(struct hrn_tape *t, int nt, int64_t n, float **bufs) {
    *bufs = NULL;
    if (nt < 2) return HRN_OK;
    size_t bytes = (size_t)(nt - 1) * (size_t)n * sizeof(float);
    *bufs = hrn_tape_alloc(t, bytes);
    if (!*bufs) return HRN_ERR_NOMEM;
    memset(*bufs, 0, bytes);
    return HRN_OK;
}

static inline float *thread_acc(float *dst, float *bufs, int64_t n) {
    int id = omp_get_thread_num();
    return id == 0 ? dst : bufs + (int64_t)(id - 1) * n;
}

/* dst[i] += sum over the buffers of bufs[k*n + i]: one thread, a light pass (~0.05 ms for a
 * BFM-size gradient, less than waking a second thread costs under OMP_WAIT_POLICY=passive) */
static void gather_bufs(const float *bufs, int nt, int64_t n, float *dst) {
    if (!bufs) return;
#pragma omp parallel for schedule(static) if ((int64_t)(nt - 1) * n > (1 << 20))
    for (int64_t i = 0; i < n; i++) {
        float s = 0;
        for (int k = 0; k < nt - 1; k++) s += bufs[(int64_t)k * n + i];
        dst[i] += s;
    }
}

static inline int32_t rast_tri(const float *r, int64_t pix) { return (int32_t)r[4 * pix + 3] - 1; }

/* --- rasterize ---------------------------------------------------------------------------------- */

struct rast_ctx {
    const int32_t *tris;
    int64_t n_tris;
    int width, height;
    float z_near, z_far;
};

static enum hrn_status rast_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct rast_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *uvz = out->src[0];
    size_t npix = (size_t)c->width * (size_t)c->height;
    int32_t *tri = hrn_tape_alloc(t, npix * sizeof *tri);
    float *b1 = hrn_tape_alloc(t, npix * sizeof *b1), *b2 = hrn_tape_alloc(t, npix * sizeof *b2);
    float *z = hrn_tape_alloc(t, npix * sizeof *z);
    if (!tri || !b1 || !b2 || !z) return HRN_ERR_NOMEM;
    enum hrn_status st = hrn_rasterize_uvz(c->width, c->height, c->z_near, c->z_far, uvz->data,
                                           uvz->shape[0], c->tris, c->n_tris, tri, b1, b2, z);
    if (st != HRN_OK) return st;
    float *o = out->data; /* one thread: a light pass over 50176 pixels */
    for (size_t i = 0; i < npix; i++) {
        int cov = tri[i] >= 0;
        o[4 * i] = cov ? b1[i] : 0;
        o[4 * i + 1] = cov ? b2[i] : 0;
        o[4 * i + 2] = cov ? z[i] : 0;
        o[4 * i + 3] = (float)(tri[i] + 1);
    }
    return HRN_OK;
}

/* Gradient of (b1, b2, z_c) at pixel centre (px, py) w.r.t. the screen positions (px_k, py_k) and
 * depths z_k of the triangle's vertices (see the derivation in the comments). */
static void rast_pixel_grad(double p[3][3], double px, double py, double gb1, double gb2,
                            double gz, double gp[3][3]) {
    double e1x = p[1][0] - p[0][0], e1y = p[1][1] - p[0][1];
    double e2x = p[2][0] - p[0][0], e2y = p[2][1] - p[0][1];
    double D = e1x * e2y - e1y * e2x;
    for (int k = 0; k < 3; k++) gp[k][0] = gp[k][1] = gp[k][2] = 0;
    if (D == 0) return;
    /* reciprocals once: about twenty divisions per pixel were most of this backward's time */
    double iD = 1.0 / D;
    double rx = px - p[0][0], ry = py - p[0][1];
    /* screen-space (linear) barycentrics l and their constant gradients over the pixel plane */
    double l[3];
    l[1] = (rx * e2y - ry * e2x) * iD;
    l[2] = (e1x * ry - e1y * rx) * iD;
    l[0] = 1 - l[1] - l[2];
    double gl[3][2] = {{0, 0}, {e2y * iD, -e2x * iD}, {-e1y * iD, e1x * iD}};
    gl[0][0] = -gl[1][0] - gl[2][0];
    gl[0][1] = -gl[1][1] - gl[2][1];
    /* perspective correction: b_i = (l_i/z_i)/S, S = sum l_j/z_j, depth = 1/S */
    double iz[3] = {1.0 / p[0][2], 1.0 / p[1][2], 1.0 / p[2][2]};
    double S = l[0] * iz[0] + l[1] * iz[1] + l[2] * iz[2], iS = 1.0 / S;
    double b[3] = {l[0] * iz[0] * iS, l[1] * iz[1] * iS, l[2] * iz[2] * iS};
    double gb[3] = {0, gb1, gb2};
    double gbb = gb[1] * b[1] + gb[2] * b[2];
    double G[2] = {0, 0};
    for (int j = 0; j < 3; j++) {
        /* db_i/dl_j = (delta_ij - b_i)/(z_j S); d depth/dl_j = -1/(z_j S^2) */
        double izS = iz[j] * iS;
        double glj = (gb[j] - gbb) * izS - gz * izS * iS;
        /* db_i/dz_j = b_i (b_j - delta_ij)/z_j; d depth/dz_j = l_j/(z_j^2 S^2) */
        gp[j][2] = (b[j] * gbb - gb[j] * b[j]) * iz[j] + gz * l[j] * izS * izS;
        G[0] += glj * gl[j][0];
        G[1] += glj * gl[j][1];
    }
    /* moving vertex k by d moves l like moving the pixel by -l_k d: dl_i/dp_k = -l_k grad l_i */
    for (int k = 0; k < 3; k++) {
        gp[k][0] = -l[k] * G[0];
        gp[k][1] = -l[k] * G[1];
    }
}

static enum hrn_status rast_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct rast_ctx *c = hrn_custom_ctx(out);
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct hrn_tensor *uvz = out->src[0];
    int64_t N = uvz->shape[0];
    int W = c->width, H = c->height, nt = (int64_t)W * H > 16384 ? omp_get_max_threads() : 1;
    float *bufs, *dst = out->src[0]->grad;
    if (thread_bufs(t, nt, 3 * N, &bufs) != HRN_OK) return HRN_ERR_NOMEM;
    const float *g = out->grad, *o = out->data, *x = uvz->data;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *acc = thread_acc(dst, bufs, 3 * N);
#pragma omp for schedule(static)
        for (int row = 0; row < H; row++)
            for (int col = 0; col < W; col++) {
                int64_t pix = (int64_t)row * W + col;
                int32_t f = rast_tri(o, pix);
                const float *gg = g + 4 * pix;
                if (f < 0 || (gg[0] == 0 && gg[1] == 0 && gg[2] == 0)) continue;
                double p[3][3];
                int32_t id[3];
                for (int k = 0; k < 3; k++) {
                    id[k] = c->tris[3 * f + k];
                    p[k][0] = (double)x[3 * id[k]] - 0.5;
                    p[k][1] = (double)H - 0.5 - (double)x[3 * id[k] + 1];
                    p[k][2] = (double)x[3 * id[k] + 2];
                }
                double gp[3][3];
                rast_pixel_grad(p, col, row, gg[0], gg[1], gg[2], gp);
                for (int k = 0; k < 3; k++) {
                    acc[3 * id[k]] += (float)gp[k][0];     /* du = d px */
                    acc[3 * id[k] + 1] -= (float)gp[k][1]; /* dv = -d py */
                    acc[3 * id[k] + 2] += (float)gp[k][2];
                }
            }
    }
    gather_bufs(bufs, nt, 3 * N, dst);
    return HRN_OK;
}

static const struct hrn_custom_op RAST_OP = {"rasterize", rast_fwd, rast_bwd, 0};

struct hrn_tensor *hrn_rasterize_op(struct hrn_tape *t, const struct hrn_camera *cam,
                                    struct hrn_tensor *uvz, const int32_t *tris, int64_t n_tris) {
    if (!uvz) return hrn_custom(t, &RAST_OP, NULL, &uvz, 1, 1, (int64_t[]){1});
    if (uvz->ndim != 2 || uvz->shape[1] != 3) return bad_shape("rasterize", uvz, "(N,3)");
    if (cam->width <= 0 || cam->height <= 0 || n_tris < 1) {
        hrn_error_set(HRN_ERR_INVALID, "rasterize: %dx%d image, %lld triangles", cam->width,
                      cam->height, (long long)n_tris);
        return NULL;
    }
    /* every call (the triangles are the caller's): one branch-free pass that vectorises, then
     * the search for the message only when it failed */
    uint32_t nv = (uint32_t)uvz->shape[0];
    int bad = 0;
    for (int64_t i = 0; i < 3 * n_tris; i++) bad |= (uint32_t)tris[i] >= nv;
    for (int64_t i = 0; bad && i < 3 * n_tris; i++)
        if (tris[i] < 0 || tris[i] >= uvz->shape[0]) {
            hrn_error_set(HRN_ERR_INVALID, "rasterize: triangle %lld has vertex %d of %lld",
                          (long long)(i / 3), tris[i], (long long)uvz->shape[0]);
            return NULL;
        }
    struct rast_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    *c = (struct rast_ctx){tris, n_tris, cam->width, cam->height, cam->z_near, cam->z_far};
    return hrn_custom(t, &RAST_OP, c, &uvz, 1, 3, (int64_t[]){cam->height, cam->width, 4});
}

/* --- interpolate ---------------------------------------------------------------------------- */

static enum hrn_status interp_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const int32_t *at = hrn_custom_ctx(out);
    const float *a = out->src[0]->data, *r = out->src[1]->data;
    int64_t C = out->shape[0], npix = out->shape[1] * out->shape[2];
    float *o = out->data;
#pragma omp parallel for schedule(static) if (npix > 16384)
    for (int64_t pix = 0; pix < npix; pix++) {
        int32_t f = rast_tri(r, pix);
        if (f < 0) {
            for (int64_t ch = 0; ch < C; ch++) o[ch * npix + pix] = 0;
            continue;
        }
        float b1 = r[4 * pix], b2 = r[4 * pix + 1], b0 = 1.0f - b1 - b2;
        const float *a0 = a + at[3 * f] * C, *a1 = a + at[3 * f + 1] * C, *a2 = a + at[3 * f + 2] * C;
        for (int64_t ch = 0; ch < C; ch++)
            o[ch * npix + pix] = b0 * a0[ch] + b1 * a1[ch] + b2 * a2[ch];
    }
    return HRN_OK;
}

static enum hrn_status interp_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const int32_t *at = hrn_custom_ctx(out);
    const struct hrn_tensor *attr = out->src[0], *rast = out->src[1];
    const float *a = attr->data, *r = rast->data, *g = out->grad;
    int64_t C = out->shape[0], npix = out->shape[1] * out->shape[2], M = attr->shape[0];
    int wa = hrn_src_wants_grad(out, 0), wr = hrn_src_wants_grad(out, 1);
    float *gr = wr ? rast->grad : NULL, *bufs = NULL, *dst = wa ? attr->grad : NULL;
    int nt = npix > 16384 ? omp_get_max_threads() : 1;
    if (wa && thread_bufs(t, nt, M * C, &bufs) != HRN_OK) return HRN_ERR_NOMEM;
    /* one pass over the pixels for both gradients */
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *acc = wa ? thread_acc(dst, bufs, M * C) : NULL;
#pragma omp for schedule(static)
        for (int64_t pix = 0; pix < npix; pix++) {
            int32_t f = rast_tri(r, pix);
            if (f < 0) continue;
            int64_t i0 = at[3 * f] * C, i1 = at[3 * f + 1] * C, i2 = at[3 * f + 2] * C;
            if (gr) {
                const float *a0 = a + i0, *a1 = a + i1, *a2 = a + i2;
                float s1 = 0, s2 = 0;
                for (int64_t ch = 0; ch < C; ch++) {
                    float gc = g[ch * npix + pix];
                    s1 += gc * (a1[ch] - a0[ch]);
                    s2 += gc * (a2[ch] - a0[ch]);
                }
                gr[4 * pix] += s1;
                gr[4 * pix + 1] += s2;
            }
            if (acc) {
                float b1 = r[4 * pix], b2 = r[4 * pix + 1], b0 = 1.0f - b1 - b2;
                float *g0 = acc + i0, *g1 = acc + i1, *g2 = acc + i2;
                for (int64_t ch = 0; ch < C; ch++) {
                    float gc = g[ch * npix + pix];
                    g0[ch] += b0 * gc;
                    g1[ch] += b1 * gc;
                    g2[ch] += b2 * gc;
                }
            }
        }
    }
    gather_bufs(bufs, nt, M * C, dst);
    return HRN_OK;
}

static const struct hrn_custom_op INTERP_OP = {"interpolate", interp_fwd, interp_bwd, 0};

struct hrn_tensor *hrn_interpolate_op(struct hrn_tape *t, struct hrn_tensor *attr,
                                      struct hrn_tensor *rast, const int32_t *attr_tris) {
    struct hrn_tensor *src[2] = {attr, rast};
    if (!attr || !rast) return hrn_custom(t, &INTERP_OP, NULL, src, 2, 1, (int64_t[]){1});
    if (attr->ndim != 2) return bad_shape("interpolate", attr, "(M,C)");
    if (!is_rast(rast)) return bad_shape("interpolate", rast, "(H,W,4) from rasterize");
    /* every referenced triangle's attribute indices must be in range; attr_tris is checked
     * against the largest triangle id in rast first (a branch-free pass), pixel by pixel only
     * when that fails */
    int64_t npix = rast->shape[0] * rast->shape[1];
    int32_t fmax_ = -1;
    for (int64_t pix = 0; pix < npix; pix++) {
        int32_t f = rast_tri(rast->data, pix);
        fmax_ = f > fmax_ ? f : fmax_;
    }
    uint32_t na = (uint32_t)attr->shape[0];
    int bad = 0;
    for (int64_t i = 0; i < 3 * ((int64_t)fmax_ + 1); i++) bad |= (uint32_t)attr_tris[i] >= na;
    for (int64_t pix = 0; bad && pix < npix; pix++) {
        int32_t f = rast_tri(rast->data, pix);
        if (f < 0) continue;
        for (int k = 0; k < 3; k++)
            if (attr_tris[3 * f + k] < 0 || attr_tris[3 * f + k] >= attr->shape[0]) {
                hrn_error_set(HRN_ERR_INVALID, "interpolate: triangle %d has attribute %d of %lld",
                              f, attr_tris[3 * f + k], (long long)attr->shape[0]);
                return NULL;
            }
    }
    return hrn_custom(t, &INTERP_OP, (void *)attr_tris, src, 2, 3,
                      (int64_t[]){attr->shape[1], rast->shape[0], rast->shape[1]});
}

/* --- texture ---------------------------------------------------------------------------------- */

struct bilin {
    int64_t i00, i01, i10, i11; /* texel offsets (row*Wt + col) */
    float fx, fy;
};

static inline int64_t wrap(int64_t i, int64_t n) {
    i %= n;
    return i < 0 ? i + n : i;
}

/* nvdiffrast linear filter, wrap mode: texel centres at (i+0.5)/N */
static inline struct bilin bilin_setup(float s, float tt, int64_t Wt, int64_t Ht) {
    float x = s * (float)Wt - 0.5f, y = tt * (float)Ht - 0.5f;
    float x0 = floorf(x), y0 = floorf(y);
    struct bilin b;
    b.fx = x - x0;
    b.fy = y - y0;
    int64_t c0 = wrap((int64_t)x0, Wt), c1 = wrap((int64_t)x0 + 1, Wt);
    int64_t r0 = wrap((int64_t)y0, Ht), r1 = wrap((int64_t)y0 + 1, Ht);
    b.i00 = r0 * Wt + c0;
    b.i01 = r0 * Wt + c1;
    b.i10 = r1 * Wt + c0;
    b.i11 = r1 * Wt + c1;
    return b;
}

static enum hrn_status tex_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct hrn_tensor *tex = out->src[0];
    const float *T = tex->data, *st = out->src[1]->data, *r = out->src[2]->data;
    int64_t C = tex->shape[0], Ht = tex->shape[1], Wt = tex->shape[2], tn = Ht * Wt;
    int64_t npix = out->shape[1] * out->shape[2];
    float *o = out->data;
#pragma omp parallel for schedule(static) if (npix > 16384)
    for (int64_t pix = 0; pix < npix; pix++) {
        if (rast_tri(r, pix) < 0 || !isfinite(st[pix]) || !isfinite(st[npix + pix])) {
            for (int64_t ch = 0; ch < C; ch++) o[ch * npix + pix] = 0;
            continue;
        }
        struct bilin b = bilin_setup(st[pix], st[npix + pix], Wt, Ht);
        for (int64_t ch = 0; ch < C; ch++) {
            const float *P = T + ch * tn;
            o[ch * npix + pix] = (1 - b.fx) * (1 - b.fy) * P[b.i00] + b.fx * (1 - b.fy) * P[b.i01] +
                                 (1 - b.fx) * b.fy * P[b.i10] + b.fx * b.fy * P[b.i11];
        }
    }
    return HRN_OK;
}

static enum hrn_status tex_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct hrn_tensor *tex = out->src[0], *stt = out->src[1];
    const float *T = tex->data, *st = stt->data, *r = out->src[2]->data, *g = out->grad;
    int64_t C = tex->shape[0], Ht = tex->shape[1], Wt = tex->shape[2], tn = Ht * Wt;
    int64_t npix = out->shape[1] * out->shape[2];
    int wt = hrn_src_wants_grad(out, 0), ws = hrn_src_wants_grad(out, 1);
    int nt = npix > 16384 ? omp_get_max_threads() : 1;
    float *bufs = NULL, *dst = wt ? tex->grad : NULL;
    if (wt && thread_bufs(t, nt, C * tn, &bufs) != HRN_OK) return HRN_ERR_NOMEM;
    float *gst = ws ? stt->grad : NULL;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *acc = wt ? thread_acc(dst, bufs, C * tn) : NULL;
#pragma omp for schedule(static)
        for (int64_t pix = 0; pix < npix; pix++) {
            if (rast_tri(r, pix) < 0 || !isfinite(st[pix]) || !isfinite(st[npix + pix])) continue;
            struct bilin b = bilin_setup(st[pix], st[npix + pix], Wt, Ht);
            float gs = 0, gt = 0;
            for (int64_t ch = 0; ch < C; ch++) {
                float gc = g[ch * npix + pix];
                const float *P = T + ch * tn;
                if (acc) {
                    float *A = acc + ch * tn;
                    A[b.i00] += gc * (1 - b.fx) * (1 - b.fy);
                    A[b.i01] += gc * b.fx * (1 - b.fy);
                    A[b.i10] += gc * (1 - b.fx) * b.fy;
                    A[b.i11] += gc * b.fx * b.fy;
                }
                gs += gc * ((1 - b.fy) * (P[b.i01] - P[b.i00]) + b.fy * (P[b.i11] - P[b.i10]));
                gt += gc * ((1 - b.fx) * (P[b.i10] - P[b.i00]) + b.fx * (P[b.i11] - P[b.i01]));
            }
            if (gst) {
                gst[pix] += gs * (float)Wt;
                gst[npix + pix] += gt * (float)Ht;
            }
        }
    }
    gather_bufs(bufs, nt, C * tn, dst);
    return HRN_OK;
}

static const struct hrn_custom_op TEX_OP = {"texture", tex_fwd, tex_bwd, 1u << 2};

struct hrn_tensor *hrn_texture_op(struct hrn_tape *t, struct hrn_tensor *tex,
                                  struct hrn_tensor *st, struct hrn_tensor *rast) {
    struct hrn_tensor *src[3] = {tex, st, rast};
    if (!tex || !st || !rast) return hrn_custom(t, &TEX_OP, NULL, src, 3, 1, (int64_t[]){1});
    if (tex->ndim != 3) return bad_shape("texture", tex, "(C,Ht,Wt)");
    if (!is_rast(rast)) return bad_shape("texture", rast, "(H,W,4) from rasterize");
    if (st->ndim != 3 || st->shape[0] != 2 || st->shape[1] != rast->shape[0] ||
        st->shape[2] != rast->shape[1])
        return bad_shape("texture", st, "(2,H,W) with rast's H and W");
    return hrn_custom(t, &TEX_OP, NULL, src, 3, 3,
                      (int64_t[]){tex->shape[0], rast->shape[0], rast->shape[1]});
}

struct hrn_tensor *hrn_coverage_mask(struct hrn_tape *t, struct hrn_tensor *rast) {
    if (!rast) return hrn_custom(t, &TEX_OP, NULL, &rast, 1, 1, (int64_t[]){1});
    if (!is_rast(rast)) return bad_shape("coverage_mask", rast, "(H,W,4) from rasterize");
    struct hrn_tensor *m = hrn_tape_tensor(t, 3, (int64_t[]){1, rast->shape[0], rast->shape[1]},
                                           "coverage");
    if (!m) return NULL;
    for (int64_t pix = 0; pix < m->numel; pix++) m->data[pix] = rast_tri(rast->data, pix) >= 0;
    return m;
}

/* --- HRN's render_uv_texture ---------------------------------------------------------------- */

float *hrn_uv_tex_coords(const struct hrn_face_model *fm) {
    if (!fm->uvs) {
        hrn_error_set(HRN_ERR_INVALID, "face model %s has no uvs", fm->name);
        return NULL;
    }
    float *st = malloc((size_t)(2 * fm->n_uvs) * sizeof *st);
    if (!st) {
        hrn_error_set(HRN_ERR_NOMEM, "no memory for %lld uvs", (long long)fm->n_uvs);
        return NULL;
    }
    for (int64_t i = 0; i < fm->n_uvs; i++) {
        st[2 * i] = fm->uvs[2 * i];
        st[2 * i + 1] = 1.0f - fm->uvs[2 * i + 1];
    }
    return st;
}

struct hrn_tensor *hrn_render_uv_texture(struct hrn_tape *t, const struct hrn_face_model *fm,
                                         const struct hrn_camera *cam, struct hrn_tensor *uvz,
                                         const float *st, struct hrn_tensor *tex,
                                         struct hrn_tensor **rast_out) {
    struct hrn_tensor *rast = hrn_rasterize_op(t, cam, uvz, fm->tris, fm->n_tris);
    if (rast_out) *rast_out = rast;
    struct hrn_tensor *sta =
        hrn_tape_wrap(t, (float *)st, 2, (int64_t[]){fm->n_uvs, 2}, "uv_st");
    if (sta) sta->flags |= HRN_TENSOR_NO_GRAD_INPUT;
    struct hrn_tensor *sti = hrn_interpolate_op(t, sta, rast, fm->tri_uvs ? fm->tri_uvs : fm->tris);
    return hrn_texture_op(t, tex, sti, rast);
}
