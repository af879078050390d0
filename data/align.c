/* align.c: Deep3D/HRN 5-point alignment (POS + resize-and-crop), PIL's bicubic resampling, and
 * the face region from landmarks. ref: hrn_method.md 1.1 step 7; Deep3DFaceRecon
 * util/preprocess.py (POS, resize_n_crop_img, align_img); Pillow 9 src/libImaging/Resample.c
 * (the filter, the coefficient layout and the 8-bit fixed-point arithmetic reproduced here). */
#include "hrn_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- 5 points and POS ------------------------------------------------------------------------- */

enum hrn_status hrn_model_lm5(const struct hrn_face_model *fm, float lm5_3d[15]) {
    static const int need[] = {36, 39, 42, 45, 30, 48, 54};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (fm->lmk68[need[i]] < 0)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "face model '%s' has no vertex for iBUG landmark %d, which the "
                                 "5-point alignment needs", fm->name, need[i]);
    /* the 68 points of the mean shape, then Deep3D's extract_5p */
    float lm68[68 * 3] = {0}, out[15];
    for (int i = 0; i < 68; i++)
        for (int d = 0; d < 3 && fm->lmk68[i] >= 0; d++)
            lm68[3 * i + d] = fm->mean_shape[3 * fm->lmk68[i] + d];
    for (int d = 0; d < 3; d++) {
        out[0 + d] = 0.5f * (lm68[3 * 36 + d] + lm68[3 * 39 + d]);
        out[3 + d] = 0.5f * (lm68[3 * 42 + d] + lm68[3 * 45 + d]);
        out[6 + d] = lm68[3 * 30 + d];
        out[9 + d] = lm68[3 * 48 + d];
        out[12 + d] = lm68[3 * 54 + d];
    }
    memcpy(lm5_3d, out, sizeof out);
    return HRN_OK;
}

/* Solve the 4x4 system M k = r (Gaussian elimination with partial pivoting, double). */
static int solve4(double M[4][4], double r[4], double k[4]) {
    for (int c = 0; c < 4; c++) {
        int p = c;
        for (int i = c + 1; i < 4; i++)
            if (fabs(M[i][c]) > fabs(M[p][c])) p = i;
        if (fabs(M[p][c]) < 1e-12) return 0;
        if (p != c) {
            for (int j = 0; j < 4; j++) {
                double tmp = M[c][j];
                M[c][j] = M[p][j];
                M[p][j] = tmp;
            }
            double tmp = r[c];
            r[c] = r[p];
            r[p] = tmp;
        }
        for (int i = c + 1; i < 4; i++) {
            double f = M[i][c] / M[c][c];
            for (int j = c; j < 4; j++) M[i][j] -= f * M[c][j];
            r[i] -= f * r[c];
        }
    }
    for (int i = 3; i >= 0; i--) {
        double s = r[i];
        for (int j = i + 1; j < 4; j++) s -= M[i][j] * k[j];
        k[i] = s / M[i][i];
    }
    return 1;
}

enum hrn_status hrn_align_pos(const float *xy, const float *xyz, int n, float *s, float t[2]) {
    if (n < 4) return hrn_error_set(HRN_ERR_INVALID, "POS: %d points, need at least 4", n);
    /* The 2n x 8 system is block diagonal: x rows use k0..3, y rows k4..7. Each block is a
     * least-squares problem [X Y Z 1] k = x solved through its normal equations in double. */
    double k[2][4];
    for (int axis = 0; axis < 2; axis++) {
        double M[4][4] = {{0}}, r[4] = {0};
        for (int i = 0; i < n; i++) {
            double row[4] = {xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2], 1.0};
            for (int a = 0; a < 4; a++) {
                r[a] += row[a] * (double)xy[2 * i + axis];
                for (int b = 0; b < 4; b++) M[a][b] += row[a] * row[b];
            }
        }
        if (!solve4(M, r, k[axis]))
            return hrn_error_set(HRN_ERR_NUMERIC, "POS: the 3D points are degenerate (coplanar "
                                                  "or repeated); cannot fit a camera");
    }
    double n1 = sqrt(k[0][0] * k[0][0] + k[0][1] * k[0][1] + k[0][2] * k[0][2]);
    double n2 = sqrt(k[1][0] * k[1][0] + k[1][1] * k[1][1] + k[1][2] * k[1][2]);
    *s = (float)((n1 + n2) / 2);
    t[0] = (float)k[0][3];
    t[1] = (float)k[1][3];
    if (!(*s > 0) || !isfinite(*s))
        return hrn_error_set(HRN_ERR_NUMERIC, "POS: fitted scale %g is not positive", (double)*s);
    return HRN_OK;
}

enum hrn_status hrn_align_fit(const float *lm, int n_lm, int w0, int h0, const float lm5_3d[15],
                              struct hrn_align *out) {
    if (n_lm != 68 && n_lm != 5)
        return hrn_error_set(HRN_ERR_INVALID, "alignment: %d landmarks, expected 68 or 5", n_lm);
    if (w0 < 1 || h0 < 1)
        return hrn_error_set(HRN_ERR_INVALID, "alignment: image size %dx%d", w0, h0);
    float lm5[10];
    if (n_lm == 68)
        hrn_lmk_extract_5p(lm, lm5);
    else
        memcpy(lm5, lm, sizeof lm5);
    for (int i = 0; i < 5; i++) {
        if (!isfinite(lm5[2 * i]) || !isfinite(lm5[2 * i + 1]))
            return hrn_error_set(HRN_ERR_INVALID, "alignment: landmark point %d is not finite", i);
        lm5[2 * i + 1] = (float)(h0 - 1) - lm5[2 * i + 1]; /* y up, as Deep3D */
    }
    float s = 0, t[2] = {0, 0};
    enum hrn_status st = hrn_align_pos(lm5, lm5_3d, 5, &s, t);
    if (st != HRN_OK) return st;
    *out = (struct hrn_align){.w0 = (float)w0, .h0 = (float)h0, .s = s, .t0 = t[0], .t1 = t[1]};
    return HRN_OK;
}

/* --- PIL bicubic ------------------------------------------------------------------------------ */

enum { PRECISION_BITS = 32 - 8 - 2 };

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Coefficients of output samples first .. first+count-1 of a resize from in_size to out_size, in
 * Pillow's layout: bounds[2i] = first input, bounds[2i+1] = number of inputs, k[i*ksize + j]. */
struct coeffs {
    int ksize;
    int *bounds;
    double *k;
    int32_t *kk; /* fixed point, 8-bit path */
};

static void coeffs_free(struct coeffs *c) {
    free(c->bounds);
    free(c->k);
    free(c->kk);
    memset(c, 0, sizeof *c);
}

static int coeffs_make(int in_size, int out_size, int first, int count, struct coeffs *c) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = calloc((size_t)count * 2, sizeof(int));
    c->k = calloc((size_t)count * (size_t)c->ksize, sizeof(double));
    c->kk = calloc((size_t)count * (size_t)c->ksize, sizeof(int32_t));
    if (!c->bounds || !c->k || !c->kk) return 0;
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        if (xx < 0 || xx >= out_size) continue; /* padding: no inputs */
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = c->k + (size_t)i * (size_t)c->ksize;
        for (int x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (int x = 0; x < c->ksize; x++) {
            double v = k[x] * (1 << PRECISION_BITS);
            c->kk[(size_t)i * (size_t)c->ksize + (size_t)x] = (int32_t)(k[x] < 0 ? -0.5 + v : 0.5 + v);
        }
        c->bounds[2 * i] = xmin;
        c->bounds[2 * i + 1] = xmax;
    }
    return 1;
}

static uint8_t clip8(int32_t in) {
    int32_t v = in >> PRECISION_BITS; /* arithmetic shift: floor, as Pillow's lookup table */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int is_8bit(const struct hrn_image *img) {
    size_t n = (size_t)img->w * (size_t)img->h * (size_t)img->c;
    for (size_t i = 0; i < n; i++) {
        float v = img->data[i] * 255.0f;
        if (!(v >= 0.0f && v <= 255.0f) || fabsf(v - roundf(v)) > 1e-3f) return 0;
    }
    return 1;
}

enum hrn_status hrn_resize_pil_bicubic(const struct hrn_image *img, int w, int h, int x0, int y0,
                                       int ww, int wh, float pad, struct hrn_image *out) {
    enum hrn_status st = HRN_OK;
    struct coeffs cx = {0}, cy = {0};
    uint8_t *in8 = NULL, *mid8 = NULL;
    double *midf = NULL;
    memset(out, 0, sizeof *out);
    if (w < 1 || h < 1 || ww < 1 || wh < 1 || img->w < 1 || img->h < 1)
        return hrn_error_set(HRN_ERR_INVALID, "bicubic resize: bad sizes (%dx%d to %dx%d, window "
                                              "%dx%d)", img->w, img->h, w, h, ww, wh);
    if (!coeffs_make(img->w, w, x0, ww, &cx) || !coeffs_make(img->h, h, y0, wh, &cy)) goto nomem;
    /* input rows the window needs */
    int rmin = img->h, rmax = 0;
    for (int i = 0; i < wh; i++)
        if (cy.bounds[2 * i + 1] > 0) {
            if (cy.bounds[2 * i] < rmin) rmin = cy.bounds[2 * i];
            if (cy.bounds[2 * i] + cy.bounds[2 * i + 1] > rmax) rmax = cy.bounds[2 * i] + cy.bounds[2 * i + 1];
        }
    if ((st = hrn_image_init(out, ww, wh, img->c)) != HRN_OK) goto done;
    size_t plane = (size_t)img->w * (size_t)img->h, oplane = (size_t)ww * (size_t)wh;
    int nrows = rmax > rmin ? rmax - rmin : 0;
    int eight = is_8bit(img);
    if (eight) {
        in8 = malloc(plane * (size_t)img->c);
        mid8 = malloc((size_t)nrows * (size_t)ww * (size_t)img->c + 1);
        if (!in8 || !mid8) goto nomem;
        for (size_t i = 0; i < plane * (size_t)img->c; i++) in8[i] = (uint8_t)lroundf(img->data[i] * 255.0f);
    } else {
        midf = malloc(((size_t)nrows * (size_t)ww * (size_t)img->c + 1) * sizeof(double));
        if (!midf) goto nomem;
    }
    for (int c = 0; c < img->c; c++) {
        /* horizontal pass over the needed rows (Pillow resamples horizontally first) */
        for (int r = 0; r < nrows; r++)
            for (int i = 0; i < ww; i++) {
                int xmin = cx.bounds[2 * i], n = cx.bounds[2 * i + 1];
                size_t o = ((size_t)c * (size_t)nrows + (size_t)r) * (size_t)ww + (size_t)i;
                size_t row = (size_t)c * plane + (size_t)(rmin + r) * (size_t)img->w + (size_t)xmin;
                if (eight) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    const int32_t *k = cx.kk + (size_t)i * (size_t)cx.ksize;
                    for (int x = 0; x < n; x++) ss += (int32_t)in8[row + (size_t)x] * k[x];
                    mid8[o] = clip8(ss);
                } else {
                    double ss = 0;
                    const double *k = cx.k + (size_t)i * (size_t)cx.ksize;
                    for (int x = 0; x < n; x++) ss += (double)img->data[row + (size_t)x] * k[x];
                    midf[o] = ss < 0 ? 0 : ss > 1 ? 1 : ss; /* Pillow clips after each pass */
                }
            }
        /* vertical pass into the window; columns or rows outside the resized image are pad */
        for (int j = 0; j < wh; j++)
            for (int i = 0; i < ww; i++) {
                float *dst = out->data + (size_t)c * oplane + (size_t)j * (size_t)ww + (size_t)i;
                int ymin = cy.bounds[2 * j], n = cy.bounds[2 * j + 1];
                if (n == 0 || cx.bounds[2 * i + 1] == 0) {
                    *dst = pad;
                    continue;
                }
                if (eight) {
                    int32_t ss = 1 << (PRECISION_BITS - 1);
                    const int32_t *k = cy.kk + (size_t)j * (size_t)cy.ksize;
                    for (int y = 0; y < n; y++)
                        ss += (int32_t)mid8[((size_t)c * (size_t)nrows + (size_t)(ymin - rmin + y)) * (size_t)ww + (size_t)i] * k[y];
                    *dst = (float)clip8(ss) / 255.0f;
                } else {
                    double ss = 0;
                    const double *k = cy.k + (size_t)j * (size_t)cy.ksize;
                    for (int y = 0; y < n; y++)
                        ss += midf[((size_t)c * (size_t)nrows + (size_t)(ymin - rmin + y)) * (size_t)ww + (size_t)i] * k[y];
                    *dst = (float)(ss < 0 ? 0 : ss > 1 ? 1 : ss);
                }
            }
    }
    goto done;
nomem:
    st = hrn_error_set(HRN_ERR_NOMEM, "bicubic resize: out of memory");
done:
    if (st != HRN_OK) hrn_image_free(out);
    coeffs_free(&cx);
    coeffs_free(&cy);
    free(in8);
    free(mid8);
    free(midf);
    return st;
}

/* --- aligned crop ----------------------------------------------------------------------------- */

enum hrn_status hrn_align_crop(const struct hrn_image *img, const struct hrn_align *a, int T,
                               double rescale, struct hrn_image *out, const float *lm_in, int n_lm,
                               float *lm_out) {
    if (T < 1 || !(rescale > 0))
        return hrn_error_set(HRN_ERR_INVALID, "aligned crop: size %d, rescale %g", T, rescale);
    if ((float)img->w != a->w0 || (float)img->h != a->h0)
        return hrn_error_set(HRN_ERR_INVALID, "aligned crop: image is %dx%d but the alignment was "
                                              "fitted on %gx%g", img->w, img->h, (double)a->w0,
                             (double)a->h0);
    /* Deep3D's resize_n_crop_img, with numpy's float64 arithmetic and int32 truncation */
    double s = rescale / (double)a->s, w0 = (double)a->w0, h0 = (double)a->h0;
    double wd = w0 * s, hd = h0 * s;
    /* range-checked as doubles: converting a NaN or 1e30 to int is undefined behaviour */
    if (!(wd >= 1 && hd >= 1 && wd < 65537 && hd < 65537))
        return hrn_error_set(HRN_ERR_INVALID, "aligned crop: the face is so small or large that the "
                                              "photo would be resized to %gx%g", wd, hd);
    int w = (int)wd, h = (int)hd;
    double ld = w / 2.0 - T / 2.0 + ((double)a->t0 - w0 / 2) * s;
    double ud = h / 2.0 - T / 2.0 + (h0 / 2 - (double)a->t1) * s;
    if (!(fabs(ld) < 1 << 20 && fabs(ud) < 1 << 20))
        return hrn_error_set(HRN_ERR_INVALID, "aligned crop: the face centre (%g, %g) is far outside "
                                              "the %gx%g photo", (double)a->t0, (double)a->t1, w0, h0);
    int left = (int)ld, up = (int)ud;
    enum hrn_status st = hrn_resize_pil_bicubic(img, w, h, left, up, T, T, 0.0f, out);
    if (st != HRN_OK) return st;
    for (int i = 0; lm_in && lm_out && i < n_lm; i++) {
        double x = lm_in[2 * i], y = (h0 - 1) - (double)lm_in[2 * i + 1]; /* y up */
        lm_out[2 * i] = (float)((x - (double)a->t0 + w0 / 2) * s - (w / 2.0 - T / 2.0));
        lm_out[2 * i + 1] = (float)((y - (double)a->t1 + h0 / 2) * s - (h / 2.0 - T / 2.0));
    }
    return HRN_OK;
}

/* --- face region ------------------------------------------------------------------------------ */

enum hrn_status hrn_face_region_mask(const float *lm, int size, float forehead, float *mask) {
    if (size < 1) return hrn_error_set(HRN_ERR_INVALID, "face region: size %d", size);
    /* eye centres and brow centres give the upward direction and the raise */
    double eye = 0, brow = 0;
    for (int i = 36; i < 48; i++) eye += (double)lm[2 * i + 1] / 12.0;
    for (int i = 17; i < 27; i++) brow += (double)lm[2 * i + 1] / 10.0;
    double raise = (double)forehead * (brow - eye);
    double poly[27][2];
    int n = 0;
    for (int i = 0; i <= 16; i++, n++) {
        poly[n][0] = lm[2 * i];
        poly[n][1] = lm[2 * i + 1];
    }
    for (int i = 26; i >= 17; i--, n++) {
        poly[n][0] = lm[2 * i];
        poly[n][1] = (double)lm[2 * i + 1] + raise;
    }
    for (int r = 0; r < size; r++)
        for (int c = 0; c < size; c++) {
            double x = c, y = size - 1 - r; /* pixel centre in y-up crop coordinates */
            int inside = 0;
            for (int i = 0, j = n - 1; i < n; j = i++) {
                if ((poly[i][1] > y) != (poly[j][1] > y) &&
                    x < (poly[j][0] - poly[i][0]) * (y - poly[i][1]) / (poly[j][1] - poly[i][1]) + poly[i][0])
                    inside = !inside;
            }
            mask[(size_t)r * (size_t)size + (size_t)c] = inside ? 1.0f : 0.0f;
        }
    return HRN_OK;
}
