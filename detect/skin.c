/* skin.c: a skin mask without a segmentation network. Deep3DFaceRecon's skin-colour model (two
 * 4-component Gaussian mixtures over (Y, Cb, Cr), one for skin and one for the rest, combined by
 * Bayes' rule with a skin prior of 0.8; its published constants below) restricted to the face
 * region of the 68 landmarks (the jaw closed over the raised brows, as data/align.c's
 * hrn_face_region_mask draws it for the crop). */
#include "detect_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One mixture: weights, means (Y, Cb, Cr), covariance determinants and inverses. */
struct skin_gmm {
    double w[4], mu[4][3], det[4], inv[4][3][3];
};

/* Deep3DFaceRecon's util/skin_mask.py constants (numbers, not code). */
static const struct skin_gmm GMM_SKIN = {
    {0.24063933, 0.16365987, 0.26034665, 0.33535415},
    {{113.71862, 103.39613, 164.08226}, {150.19858, 105.18467, 155.51428},
     {183.92976, 107.62468, 152.71820}, {114.90524, 113.59782, 151.38217}},
    {5692842.5, 5851930.5, 2329131., 1585971.},
    {{{0.0019472069, 0.0020450759, -0.00060243998}, {0.0020450759, 0.017700525, 0.0051420014},
      {-0.00060243998, 0.0051420014, 0.0081308950}},
     {{0.0027110141, 0.0011036990, 0.0023122299}, {0.0011036990, 0.010707724, 0.010742856},
      {0.0023122299, 0.010742856, 0.017481629}},
     {{0.0048026871, 0.00022935172, 0.0077668377}, {0.00022935172, 0.011729696, 0.0081661865},
      {0.0077668377, 0.0081661865, 0.025374353}},
     {{0.0011989699, 0.0022453172, -0.0010748957}, {0.0022453172, 0.047758564, 0.020332102},
      {-0.0010748957, 0.020332102, 0.024502251}}}};

static const struct skin_gmm GMM_NONSKIN = {
    {0.12791070, 0.31130761, 0.34245777, 0.21832393},
    {{99.200851, 112.07533, 140.20602}, {110.91392, 125.52969, 130.19237},
     {129.75864, 129.96107, 126.96808}, {112.29587, 128.85121, 129.05431}},
    {458703648., 6466488., 90611376., 133097.63},
    {{{0.00085371657, 0.00071197288, 0.00023958916}, {0.00071197288, 0.0025935620, 0.00076557708},
      {0.00023958916, 0.00076557708, 0.0015042332}},
     {{0.00024650150, 0.00045542428, 0.00015019422}, {0.00045542428, 0.026412144, 0.018419769},
      {0.00015019422, 0.018419769, 0.037497383}},
     {{0.00037054974, 0.00038146760, 0.00040408765}, {0.00038146760, 0.0085505722, 0.0079136286},
      {0.00040408765, 0.0079136286, 0.010982352}},
     {{0.00013709733, 0.00051228428, 0.00012777430}, {0.00051228428, 0.28237113, 0.10528370},
      {0.00012777430, 0.10528370, 0.23468947}}}};

static const double PRIOR_SKIN = 0.8;

/* log of the mixture density at x. Summed in the log domain: far from every component both
 * densities underflow to 0 in doubles (Deep3D's numpy code then divides 0 by 0). */
static double gmm_logpdf(const struct skin_gmm *g, const double x[3]) {
    double l[4], m = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double d[3] = {x[0] - g->mu[k][0], x[1] - g->mu[k][1], x[2] - g->mu[k][2]}, q = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) q += d[i] * g->inv[k][i][j] * d[j];
        /* (2 pi)^(3/2) sqrt(det) is the normaliser */
        l[k] = log(g->w[k]) - 0.5 * q - 1.5 * log(2 * 3.14159265358979323846) - 0.5 * log(g->det[k]);
        if (l[k] > m) m = l[k];
    }
    double s = 0;
    for (int k = 0; k < 4; k++) s += exp(l[k] - m);
    return m + log(s);
}

float hrn_skin_prob(float rf, float gf, float bf) {
    double r = rf, g = gf, b = bf;
    /* ITU-R BT.601 studio-swing YCbCr of 0..255 RGB, Deep3D's _rgb2ycbcr */
    double y[3] = {16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
                   128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255,
                   128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255};
    double ls = log(PRIOR_SKIN) + gmm_logpdf(&GMM_SKIN, y);
    double ln = log(1 - PRIOR_SKIN) + gmm_logpdf(&GMM_NONSKIN, y);
    return (float)(1 / (1 + exp(ln - ls)));
}

/* The face polygon in photo pixels: jaw 0..16, then brows 26..17 raised by forehead times the
 * brow-to-eye distance (the direction follows the points, so y up or down both work). */
static int face_polygon(const float *lm, float forehead, double poly[27][2]) {
    double eye = 0, brow = 0;
    for (int i = 36; i < 48; i++) eye += (double)lm[2 * i + 1] / 12.0;
    for (int i = 17; i < 27; i++) brow += (double)lm[2 * i + 1] / 10.0;
    double raise = (double)forehead * (brow - eye);
    int n = 0;
    for (int i = 0; i <= 16; i++, n++) {
        poly[n][0] = lm[2 * i];
        poly[n][1] = lm[2 * i + 1];
    }
    for (int i = 26; i >= 17; i--, n++) {
        poly[n][0] = lm[2 * i];
        poly[n][1] = (double)lm[2 * i + 1] + raise;
    }
    return n;
}

/* Even-odd rule at pixel centre (x, y). */
static int inside(double (*poly)[2], int n, double x, double y) {
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++)
        if ((poly[i][1] > y) != (poly[j][1] > y) &&
            x < (poly[j][0] - poly[i][0]) * (y - poly[i][1]) / (poly[j][1] - poly[i][1]) +
                    poly[i][0])
            in = !in;
    return in;
}

static enum hrn_status check_args(const struct hrn_image *img, const float *lm68,
                                  const char *what) {
    if (!img || !img->data || img->c != 3 || img->w < 1 || img->h < 1)
        return hrn_error_set(HRN_ERR_INVALID, "%s: needs an RGB image", what);
    for (int i = 0; i < 136; i++)
        if (!isfinite(lm68[i]))
            return hrn_error_set(HRN_ERR_INVALID, "%s: landmark %d is not finite", what, i / 2);
    return HRN_OK;
}

enum hrn_status hrn_face_hull_mask(const float *lm68, int w, int h, float forehead, float *mask) {
    if (w < 1 || h < 1 || !(forehead >= 0))
        return hrn_error_set(HRN_ERR_INVALID, "face hull: size %dx%d, forehead %g", w, h,
                             (double)forehead);
    double poly[27][2];
    int n = face_polygon(lm68, forehead, poly);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            mask[(size_t)y * (size_t)w + (size_t)x] = (float)inside(poly, n, x, y);
    return HRN_OK;
}

enum hrn_status hrn_skin_mask(const struct hrn_image *img, const float *lm68, float forehead,
                              float *out) {
    enum hrn_status st = check_args(img, lm68, "skin mask");
    if (st) return st;
    HRN_TRY(hrn_face_hull_mask(lm68, img->w, img->h, forehead, out));
    size_t n = (size_t)img->w * (size_t)img->h;
    const float *r = img->data, *g = r + n, *b = g + n;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < img->h; y++)
        for (size_t i = (size_t)y * (size_t)img->w; i < (size_t)(y + 1) * (size_t)img->w; i++)
            if (out[i] > 0)
                out[i] = hrn_skin_prob(255 * r[i], 255 * g[i], 255 * b[i]) >= 0.5f ? 1.0f : 0.0f;
    return HRN_OK;
fail:
    return st;
}

/* The bounding box of the mask's nonzero pixels grown by a quarter each way, clipped. */
static int mask_bbox(const float *m, int w, int h, int *x0, int *y0, int *x1, int *y1) {
    *x0 = w, *y0 = h, *x1 = -1, *y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * (size_t)w + (size_t)x] > 0) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
    if (*x1 < 0) return 0;
    int gx = (*x1 - *x0) / 4 + 1, gy = (*y1 - *y0) / 4 + 1;
    *x0 = *x0 > gx ? *x0 - gx : 0;
    *y0 = *y0 > gy ? *y0 - gy : 0;
    *x1 = *x1 + gx < w ? *x1 + gx : w - 1;
    *y1 = *y1 + gy < h ? *y1 + gy : h - 1;
    return 1;
}

enum hrn_status hrn_skin_write_overlay(const char *path, const struct hrn_image *img,
                                       const float *hull, const float *skin) {
    int x0, y0, x1, y1;
    if (!img || img->c != 3 || !mask_bbox(hull, img->w, img->h, &x0, &y0, &x1, &y1))
        return hrn_error_set(HRN_ERR_INVALID, "%s: empty face region or not an RGB image", path);
    struct hrn_image o = {0};
    enum hrn_status st = hrn_image_init(&o, x1 - x0 + 1, y1 - y0 + 1, 3);
    if (st) return st;
    /* kept skin in green, rejected hull pixels in red, the rest dimmed: what was dropped shows */
    static const float KEEP[3] = {0.1f, 0.9f, 0.1f}, DROP[3] = {1, 0.1f, 0.1f};
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)y * (size_t)img->w + (size_t)x;
            for (int c = 0; c < 3; c++) {
                float v = *hrn_image_px(img, c, y, x);
                float t = hull[i] <= 0 ? 0.6f * v
                          : skin[i] > 0 ? 0.7f * v + 0.3f * KEEP[c] : 0.5f * v + 0.5f * DROP[c];
                *hrn_image_px(&o, c, y - y0, x - x0) = t;
            }
        }
    st = hrn_image_write_png(path, &o, 8);
    hrn_image_free(&o);
    return st;
}
