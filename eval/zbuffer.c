/* zbuffer.c: a depth-only rasteriser standing in for pyrender in FaceScape's optimize_Z (A.4).
 * Pixels are sampled at their centres (c + 0.5, r + 0.5), the nearest depth wins (GL_LESS: the
 * first of equal depths stays). Orthographic depth is affine in screen space; pinhole depth is
 * interpolated as 1/Z (what the GL depth buffer's z_ndc amounts to). Pixel centres exactly on an
 * edge belong to one of the two triangles sharing it (a top-left style rule), so a closed surface
 * has neither holes nor double coverage.
 * With cam->gl_depth the depth goes through what pyrender's OpenGL path does to it (float32
 * vertices, the 24-bit depth buffer, float32 readback and linearisation): FaceScape's official
 * depth maps, reproduced as tests/reference/gen_eval_official.py describes. */
#include "hrn_eval.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* pyrender's depth readback (Renderer._read_main_framebuffer) for a stored 24-bit value u: the
 * float32 window depth linearised as numpy 1.x evaluates it, every operation in float32 (the
 * Python scalars are rounded to float32 first); FaceScape's renderer.render_orthcam then undoes
 * the perspective linearisation pyrender wrongly applies to orthographic cameras, in float32 too.
 * 0 = background (the cleared depth 1.0). */
static double gl_readback(uint32_t u, double n, double f, int ortho) {
    float d = (float)(u / 16777215.0);
    if (d == 1.0f) return 0;
    float x = 2.0f * d - 1.0f;
    float z = (float)(2.0 * n * f) / ((float)(f + n) - x * (float)(f - n));
    if (!ortho) return (double)z;
    float t = ((float)(f + n) - (float)(2.0 * n * f) / z) / (float)(f - n);
    t = ((t + (float)((f + n) / (f - n))) * (float)(f - n)) / 2.0f;
    return (double)t;
}

/* Whether an edge a->b (in a counter-clockwise-normalised triangle) owns centres on it. */
static int owns_edge(double du, double dv) { return dv > 0 || (dv == 0 && du < 0); }

enum hrn_status hrn_zbuffer_render(const struct hrn_zbuf_camera *cam, const double *v, int64_t nv,
                                   const int32_t *f, int64_t nf, double *depth) {
    const int W = cam->width, H = cam->height;
    if (W <= 0 || H <= 0) return hrn_error_set(HRN_ERR_INVALID, "zbuffer: bad size %dx%d", W, H);
    int ortho = cam->kind == HRN_CAMERA_ORTHO;
    if (ortho ? !(cam->xmag > 0 && cam->ymag > 0) : !(cam->fx > 0 && cam->fy > 0))
        return hrn_error_set(HRN_ERR_INVALID, "zbuffer: bad camera parameters");
    double *su = malloc((size_t)(nv > 0 ? nv : 1) * 3 * sizeof(double)); /* (nv,3): u, v, attr */
    if (!su) return hrn_error_set(HRN_ERR_NOMEM, "zbuffer: cannot allocate %lld vertices",
                                  (long long)nv);
    const int gl = cam->gl_depth;
    const double n = cam->znear, fa = cam->zfar;
    for (int64_t i = 0; i < nv; i++) {
        const double *p = v + 3 * i, pf[3] = {(float)p[0], (float)p[1], (float)p[2]};
        if (gl) p = pf; /* pyrender uploads float32 vertex positions */
        if (ortho) {
            su[3 * i] = (p[0] / cam->xmag + 1) * W / 2;
            su[3 * i + 1] = (1 - p[1] / cam->ymag) * H / 2;
            su[3 * i + 2] = gl ? (-p[2] - n) / (fa - n) /* window depth */
                               : -p[2]; /* depth, affine in screen space */
        } else {
            su[3 * i] = cam->fx * p[0] / p[2] + cam->cx;
            su[3 * i + 1] = cam->fy * p[1] / p[2] + cam->cy;
            /* 1/Z and the window depth (z_ndc + 1)/2 are affine in screen space */
            su[3 * i + 2] = gl ? ((fa + n) / (fa - n) - 2 * fa * n / ((fa - n) * p[2]) + 1) / 2
                               : 1.0 / p[2];
        }
    }
    /* gl: the 24-bit depth buffer, cleared to 1.0 (stored 2^24 - 1) */
    uint32_t *zb = gl ? malloc((size_t)W * H * sizeof(uint32_t)) : NULL;
    if (gl && !zb) {
        free(su);
        return hrn_error_set(HRN_ERR_NOMEM, "zbuffer: cannot allocate %dx%d", W, H);
    }
    for (int64_t i = 0; i < (int64_t)W * H; i++) {
        depth[i] = 0;
        if (gl) zb[i] = 16777215u;
    }
    for (int64_t k = 0; k < nf; k++) {
        const int32_t *t = f + 3 * k;
        if (!ortho && (v[3 * t[0] + 2] <= 0 || v[3 * t[1] + 2] <= 0 || v[3 * t[2] + 2] <= 0))
            continue; /* behind the camera: not clipped, dropped */
        const double *a = su + 3 * t[0], *b = su + 3 * t[1], *c = su + 3 * t[2];
        /* signed area in (u, v-down) coordinates; < 0 means counter-clockwise on screen with y up,
         * i.e. a front face in GL's default convention */
        double area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
        if (area == 0 || !isfinite(area)) continue;
        if (cam->cull_back && area > 0) continue;
        const double *P[3] = {a, b, c};
        if (area < 0) { /* normalise to positive area */
            P[1] = c;
            P[2] = b;
            area = -area;
        }
        double umin = fmin(a[0], fmin(b[0], c[0])), umax = fmax(a[0], fmax(b[0], c[0]));
        double vmin = fmin(a[1], fmin(b[1], c[1])), vmax = fmax(a[1], fmax(b[1], c[1]));
        int c0 = (int)fmax(0, ceil(umin - 0.5)), c1 = (int)fmin(W - 1, floor(umax - 0.5));
        int r0 = (int)fmax(0, ceil(vmin - 0.5)), r1 = (int)fmin(H - 1, floor(vmax - 0.5));
        int own[3];
        for (int e = 0; e < 3; e++) {
            const double *p0 = P[e], *p1 = P[(e + 1) % 3];
            own[e] = owns_edge(p1[0] - p0[0], p1[1] - p0[1]);
        }
        for (int r = r0; r <= r1; r++) {
            double pv = r + 0.5;
            for (int cc = c0; cc <= c1; cc++) {
                double pu = cc + 0.5, w[3];
                int inside = 1;
                for (int e = 0; e < 3 && inside; e++) {
                    const double *p0 = P[e], *p1 = P[(e + 1) % 3];
                    double E = (p1[0] - p0[0]) * (pv - p0[1]) - (p1[1] - p0[1]) * (pu - p0[0]);
                    if (E < 0 || (E == 0 && !own[e])) inside = 0;
                    w[(e + 2) % 3] = E; /* the edge opposite vertex (e+2) */
                }
                if (!inside) continue;
                double attr = (w[0] * P[0][2] + w[1] * P[1][2] + w[2] * P[2][2]) / area;
                if (gl) { /* near/far clipping, 24-bit rounding, GL_LESS on the stored value */
                    if (!(attr >= 0 && attr <= 1)) continue;
                    uint32_t q = (uint32_t)nearbyint(attr * 16777215.0);
                    uint32_t *dst = zb + (int64_t)r * W + cc;
                    if (q < *dst) *dst = q;
                    continue;
                }
                double z = ortho ? attr : 1.0 / attr;
                if (!(z >= cam->znear && z <= cam->zfar)) continue;
                double *dst = depth + (int64_t)r * W + cc;
                if (*dst == 0 || z < *dst) *dst = z;
            }
        }
    }
    if (gl)
        for (int64_t i = 0; i < (int64_t)W * H; i++) depth[i] = gl_readback(zb[i], n, fa, ortho);
    free(zb);
    free(su);
    return HRN_OK;
}
