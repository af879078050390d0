/* image_ops.c: bilinear resize (PyTorch F.interpolate semantics), affine warp, padded crop and
 * 2x3 affine helpers. Conventions are in hrn_image.h. */
#include "hrn_image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- bilinear resize -------------------------------------------------------------------------- */

/* Per output index: the two source indices and their weights along one axis. */
struct axis_tap {
    int i0, i1;
    float l0, l1;
};

/* ref: PyTorch aten/src/ATen/native/UpSample.h, area_pixel_compute_scale and
 * area_pixel_compute_source_index (computed in float for float tensors, as here). */
static void axis_taps(int in, int out, int align_corners, struct axis_tap *t) {
    float scale;
    if (align_corners)
        scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    else
        scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        float src = align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        int i0 = (int)src;
        if (i0 > in - 1) i0 = in - 1; /* float rounding at the far edge */
        float l1 = src - (float)i0;
        t[o].i0 = i0;
        t[o].i1 = i0 < in - 1 ? i0 + 1 : i0;
        t[o].l1 = l1;
        t[o].l0 = 1.0f - l1;
    }
}

void hrn_resize_bilinear(const float *src, int c, int h, int w, float *dst, int oh, int ow,
                         int align_corners) {
    HRN_ASSERT(src && dst && c >= 1 && h >= 1 && w >= 1 && oh >= 1 && ow >= 1);
    struct axis_tap *tx = malloc(((size_t)ow + (size_t)oh) * sizeof *tx);
    HRN_ASSERT(tx != NULL); /* tiny next to the images themselves */
    struct axis_tap *ty = tx + ow;
    axis_taps(w, ow, align_corners, tx);
    axis_taps(h, oh, align_corners, ty);
    for (int ch = 0; ch < c; ch++) {
        const float *s = src + (size_t)ch * (size_t)h * (size_t)w;  // (h,w)
        float *d = dst + (size_t)ch * (size_t)oh * (size_t)ow;     // (oh,ow)
        for (int y = 0; y < oh; y++) {
            const float *r0 = s + (size_t)ty[y].i0 * (size_t)w;
            const float *r1 = s + (size_t)ty[y].i1 * (size_t)w;
            float ly0 = ty[y].l0, ly1 = ty[y].l1;
            for (int x = 0; x < ow; x++) {
                int x0 = tx[x].i0, x1 = tx[x].i1;
                float lx0 = tx[x].l0, lx1 = tx[x].l1;
                d[(size_t)y * ow + x] =
                    ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1]);
            }
        }
    }
    free(tx);
}

static enum hrn_status check_src(const struct hrn_image *src, const char *op) {
    HRN_ASSERT(src != NULL);
    if (!src->data || src->w < 1 || src->h < 1 || src->c < 1 || src->c > 4)
        return hrn_error_set(HRN_ERR_INVALID, "%s: empty source image (%dx%d, %d channels)", op,
                             src->w, src->h, src->c);
    return HRN_OK;
}

enum hrn_status hrn_image_resize(const struct hrn_image *src, int w, int h, int align_corners,
                                 struct hrn_image *dst) {
    HRN_ASSERT(dst && dst != src);
    memset(dst, 0, sizeof *dst);
    enum hrn_status st = check_src(src, "image resize");
    if (st != HRN_OK) return st;
    if ((st = hrn_image_init(dst, w, h, src->c)) != HRN_OK)
        return hrn_error_prefix(st, "image resize to %dx%d", w, h);
    hrn_resize_bilinear(src->data, src->c, src->h, src->w, dst->data, h, w, align_corners);
    return HRN_OK;
}

/* --- affine warp ------------------------------------------------------------------------------ */

void hrn_affine_apply(const double A[6], double x, double y, double *ox, double *oy) {
    double u = A[0] * x + A[1] * y + A[2];
    double v = A[3] * x + A[4] * y + A[5];
    *ox = u;
    *oy = v;
}

enum hrn_status hrn_affine_invert(const double A[6], double inv[6]) {
    double a = A[0], b = A[1], tx = A[2], c = A[3], d = A[4], ty = A[5];
    double det = a * d - b * c;
    /* relative test: a uniform scale of the matrix must not change the verdict */
    double n0 = sqrt(a * a + c * c), n1 = sqrt(b * b + d * d);
    if (!isfinite(det) || !isfinite(tx) || !isfinite(ty) || !(fabs(det) > 1e-12 * n0 * n1) ||
        det == 0.0)
        return hrn_error_set(HRN_ERR_NUMERIC,
                             "affine matrix [%g %g %g; %g %g %g] is singular (det %g)", a, b, tx,
                             c, d, ty, det);
    double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
    inv[0] = ia;
    inv[1] = ib;
    inv[2] = -(ia * tx + ib * ty);
    inv[3] = ic;
    inv[4] = id;
    inv[5] = -(ic * tx + id * ty);
    return HRN_OK;
}

void hrn_warp_affine(const float *src, int c, int h, int w, const double A[6],
                     const float *border, float *dst, int oh, int ow) {
    HRN_ASSERT(src && dst && A && c >= 1 && h >= 1 && w >= 1 && oh >= 1 && ow >= 1);
    size_t np_src = (size_t)h * (size_t)w, np_dst = (size_t)oh * (size_t)ow;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            double sx, sy;
            hrn_affine_apply(A, (double)x, (double)y, &sx, &sy);
            size_t o = (size_t)y * ow + x;
            /* all four neighbours outside (or NaN): the border value */
            if (!(sx > -1.0 && sx < (double)w && sy > -1.0 && sy < (double)h)) {
                for (int ch = 0; ch < c; ch++) dst[(size_t)ch * np_dst + o] = border ? border[ch] : 0.0f;
                continue;
            }
            double fx0 = floor(sx), fy0 = floor(sy);
            int x0 = (int)fx0, y0 = (int)fy0, x1 = x0 + 1, y1 = y0 + 1;
            float ax = (float)(sx - fx0), ay = (float)(sy - fy0);
            float w00 = (1.0f - ax) * (1.0f - ay), w01 = ax * (1.0f - ay);
            float w10 = (1.0f - ax) * ay, w11 = ax * ay;
            int in_x0 = x0 >= 0, in_x1 = x1 < w, in_y0 = y0 >= 0, in_y1 = y1 < h;
            for (int ch = 0; ch < c; ch++) {
                const float *s = src + (size_t)ch * np_src;
                float b = border ? border[ch] : 0.0f;
                float p00 = in_y0 && in_x0 ? s[(size_t)y0 * w + x0] : b;
                float p01 = in_y0 && in_x1 ? s[(size_t)y0 * w + x1] : b;
                float p10 = in_y1 && in_x0 ? s[(size_t)y1 * w + x0] : b;
                float p11 = in_y1 && in_x1 ? s[(size_t)y1 * w + x1] : b;
                dst[(size_t)ch * np_dst + o] = w00 * p00 + w01 * p01 + w10 * p10 + w11 * p11;
            }
        }
    }
}

enum hrn_status hrn_image_warp_affine(const struct hrn_image *src, const double A[6], int w, int h,
                                      const float *border, struct hrn_image *dst) {
    HRN_ASSERT(dst && dst != src && A);
    memset(dst, 0, sizeof *dst);
    enum hrn_status st = check_src(src, "image warp");
    if (st != HRN_OK) return st;
    if ((st = hrn_image_init(dst, w, h, src->c)) != HRN_OK)
        return hrn_error_prefix(st, "image warp to %dx%d", w, h);
    hrn_warp_affine(src->data, src->c, src->h, src->w, A, border, dst->data, h, w);
    return HRN_OK;
}

/* --- crop ------------------------------------------------------------------------------------- */

enum hrn_status hrn_image_crop(const struct hrn_image *src, int x0, int y0, int w, int h,
                               const float *pad, struct hrn_image *dst) {
    HRN_ASSERT(dst && dst != src);
    memset(dst, 0, sizeof *dst);
    enum hrn_status st = check_src(src, "image crop");
    if (st != HRN_OK) return st;
    if ((st = hrn_image_init(dst, w, h, src->c)) != HRN_OK)
        return hrn_error_prefix(st, "image crop of %dx%d at (%d,%d)", w, h, x0, y0);
    /* the part of the rectangle inside src, in destination coordinates [xa,xb) x [ya,yb);
     * 64-bit so that x0 + w cannot overflow */
    int64_t xa = x0 < 0 ? -(int64_t)x0 : 0, ya = y0 < 0 ? -(int64_t)y0 : 0;
    int64_t xb = (int64_t)src->w - x0, yb = (int64_t)src->h - y0;
    if (xb > w) xb = w;
    if (yb > h) yb = h;
    size_t np_src = (size_t)src->w * (size_t)src->h, np_dst = (size_t)w * (size_t)h;
    for (int ch = 0; ch < src->c; ch++) {
        float p = pad ? pad[ch] : 0.0f;
        float *d = dst->data + (size_t)ch * np_dst;
        const float *s = src->data + (size_t)ch * np_src;
        for (int y = 0; y < h; y++) {
            float *row = d + (size_t)y * w;
            if (y < ya || y >= yb || xa >= xb) {
                for (int x = 0; x < w; x++) row[x] = p;
                continue;
            }
            for (int64_t x = 0; x < xa; x++) row[x] = p;
            memcpy(row + xa, s + (size_t)((int64_t)y + y0) * src->w + (size_t)(xa + x0),
                   (size_t)(xb - xa) * sizeof *row);
            for (int64_t x = xb; x < w; x++) row[x] = p;
        }
    }
    return HRN_OK;
}
