/* fat_face.c: HRN's fat_face (LargeModelInfer.fat_face, used for the target of its texture
 * refinement, hrn_method.md 2.7): a radial flow toward the face centre, kept only along the face
 * contour and away from the inner features, warps the image so that the face grows outward by a
 * few pixels and its texture covers the rendered silhouette.
 *
 * HRN computes the flow on the 224 crop upscaled to 400 with its 106-point landmarks and
 * RetinaFace box. Here the same construction runs on the 68 iBUG landmarks:
 * - contour polyline: the jaw, points 0..16 (HRN: 106-point contour 0..32);
 * - inner features: brows 17-21 and 22-26, nose 27-30 and 31-35 (open), eyes 36-41 and 42-47,
 *   outer and inner lips 48-59 and 60-67 (closed);
 * - the box: the landmarks' bounding box with its top raised by 20% of its height (RetinaFace's
 *   box reaches above the brows).
 * Everything else follows HRN: stroke width lw = max(1, min(roi w, h) / 10) of the box grown by
 * half its size, strokes 255 of width lw (contour) and 2 lw (features), Gaussian blurs of size
 * 2 lw + 1, the radial profile tri(d) on a 100x100 grid resized to L x L at the box centre with
 * L = min(2 max(w, h), twice the distance to the image border), flow = L degree tri(d) toward the
 * centre, times contour/255 and (1 - features/255), resized to 224 and scaled back, then
 * image_warp_grid1: every pixel with a flow of 0.2 px or more takes the bilinear colour at
 * (x + fx, y + fy), snapped to a corner when within 0.2 of it. Colours stay float (HRN rounds to
 * 8 bits). */
#include "hrn_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { FF_WORK = 400 }; /* HRN's working size */

/* Distance from p to the segment a-b. */
static float seg_dist(float px, float py, float ax, float ay, float bx, float by) {
    float dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    float t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0.0f;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float ex = px - (ax + t * dx), ey = py - (ay + t * dy);
    return sqrtf(ex * ex + ey * ey);
}

/* Stroke the polyline through pts[idx[0..n)] (closed: back to the first) with width w into img
 * (S x S, value 1 = 255 in HRN). */
static void stroke(float *img, int S, const float *pts, const int *idx, int n, int closed, float w) {
    int segs = closed ? n : n - 1;
    for (int s = 0; s < segs; s++) {
        const float *a = pts + 2 * idx[s], *b = pts + 2 * idx[(s + 1) % n];
        int x0 = (int)floorf(fminf(a[0], b[0]) - w), x1 = (int)ceilf(fmaxf(a[0], b[0]) + w);
        int y0 = (int)floorf(fminf(a[1], b[1]) - w), y1 = (int)ceilf(fmaxf(a[1], b[1]) + w);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > S - 1) x1 = S - 1;
        if (y1 > S - 1) y1 = S - 1;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (seg_dist((float)x, (float)y, a[0], a[1], b[0], b[1]) <= 0.5f * w)
                    img[y * S + x] = 1.0f;
    }
}

static int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* cv2.GaussianBlur(img, (k, k), 0): sigma = 0.3 ((k-1)/2 - 1) + 0.8, BORDER_REFLECT_101. */
static enum hrn_status gauss_blur(float *img, int S, int k) {
    int r = k / 2;
    double sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8, sum = 0;
    double *w = malloc((size_t)k * sizeof(double));
    float *tmp = malloc((size_t)S * S * sizeof(float));
    if (!w || !tmp) {
        free(w);
        free(tmp);
        return hrn_error_set(HRN_ERR_NOMEM, "fat_face: no memory");
    }
    for (int i = 0; i < k; i++) sum += w[i] = exp(-(double)((i - r) * (i - r)) / (2 * sigma * sigma));
    for (int i = 0; i < k; i++) w[i] /= sum;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double a = 0;
            for (int i = 0; i < k; i++) a += w[i] * (double)img[y * S + reflect101(x + i - r, S)];
            tmp[y * S + x] = (float)a;
        }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double a = 0;
            for (int i = 0; i < k; i++) a += w[i] * (double)tmp[reflect101(y + i - r, S) * S + x];
            img[y * S + x] = (float)a;
        }
    free(w);
    free(tmp);
    return HRN_OK;
}

enum hrn_status hrn_fat_face(const struct hrn_image *img, const float *lm68, float degree,
                             struct hrn_image *out) {
    enum hrn_status st = HRN_OK;
    const int S = FF_WORK, W = img->w, H = img->h;
    float *contour = NULL, *inner = NULL, *grid = NULL, *sq = NULL, *field = NULL, *flow = NULL;
    if (W != H || W < 8 || !(degree >= 0))
        return hrn_error_set(HRN_ERR_INVALID, "fat_face: a square image and degree >= 0 expected "
                             "(got %dx%d, %g)", W, H, (double)degree);
    for (int i = 0; i < 68; i++)
        if (!isfinite(lm68[2 * i]) || !isfinite(lm68[2 * i + 1]))
            return hrn_error_set(HRN_ERR_INVALID, "fat_face: landmark %d is not finite", i);
    HRN_TRY(hrn_image_init(out, W, H, img->c));
    memcpy(out->data, img->data, (size_t)img->c * W * H * sizeof(float));
    if (degree == 0) return HRN_OK;
    const float scale = (float)S / (float)W;
    float pts[68 * 2];
    float bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;
    for (int i = 0; i < 68; i++) {
        pts[2 * i] = lm68[2 * i] * scale;
        pts[2 * i + 1] = lm68[2 * i + 1] * scale;
        bx0 = fminf(bx0, pts[2 * i]);
        bx1 = fmaxf(bx1, pts[2 * i]);
        by0 = fminf(by0, pts[2 * i + 1]);
        by1 = fmaxf(by1, pts[2 * i + 1]);
    }
    by0 -= 0.2f * (by1 - by0);
    float bw = bx1 - bx0, bh = by1 - by0;
    /* the stroke width from the box grown by half its size, clipped to the image */
    float rx0 = fmaxf(0, bx0 - (float)(int)(0.5f * bw)), rx1 = fminf((float)S, bx1 + (float)(int)(0.5f * bw));
    float ry0 = fmaxf(0, by0 - (float)(int)(0.5f * bh)), ry1 = fminf((float)S, by1 + (float)(int)(0.5f * bh));
    int lw = (int)fminf(rx1 - rx0, ry1 - ry0) / 10;
    if (lw < 1) lw = 1;
    int k = 2 * lw + 1;
    contour = calloc((size_t)S * S, sizeof(float));
    inner = calloc((size_t)S * S, sizeof(float));
    field = calloc((size_t)2 * S * S, sizeof(float));
    grid = malloc((size_t)2 * 100 * 100 * sizeof(float));
    if (!contour || !inner || !field || !grid) {
        st = hrn_error_set(HRN_ERR_NOMEM, "fat_face: no memory");
        goto fail;
    }
    static const int JAW[17] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    stroke(contour, S, pts, JAW, 17, 0, (float)lw);
    static const int BROW_L[5] = {17, 18, 19, 20, 21}, BROW_R[5] = {22, 23, 24, 25, 26};
    static const int NOSE_B[4] = {27, 28, 29, 30}, NOSE_T[5] = {31, 32, 33, 34, 35};
    static const int EYE_L[6] = {36, 37, 38, 39, 40, 41}, EYE_R[6] = {42, 43, 44, 45, 46, 47};
    static const int LIP_O[12] = {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59};
    static const int LIP_I[8] = {60, 61, 62, 63, 64, 65, 66, 67};
    float w2 = (float)(2 * lw);
    stroke(inner, S, pts, BROW_L, 5, 0, w2);
    stroke(inner, S, pts, BROW_R, 5, 0, w2);
    stroke(inner, S, pts, NOSE_B, 4, 0, w2);
    stroke(inner, S, pts, NOSE_T, 5, 0, w2);
    stroke(inner, S, pts, EYE_L, 6, 1, w2);
    stroke(inner, S, pts, EYE_R, 6, 1, w2);
    stroke(inner, S, pts, LIP_O, 12, 1, w2);
    stroke(inner, S, pts, LIP_I, 8, 1, w2);
    HRN_TRY(gauss_blur(contour, S, k));
    HRN_TRY(gauss_blur(inner, S, k));
    /* the radial profile toward the centre, on a 100 x 100 grid (planar: x then y) */
    float cx = 0.5f * (bx0 + bx1), cy = 0.5f * (by0 + by1), b = fmaxf(bw, bh);
    int L = (int)fminf(fminf(2 * b, 2 * (cx - 1)),
                       fminf(fminf(2 * (cy - 1), 2 * ((float)S - cy - 1)), 2 * ((float)S - cx - 1)));
    if (L >= 2) {
        float s = (float)L * degree;
        for (int h = 0; h < 100; h++)
            for (int w = 0; w < 100; w++) {
                float dx = (float)(w - 50), dy = (float)(h - 50), d = sqrtf(dx * dx + dy * dy);
                float tri = d <= 25 ? d / 25 : 2 - d / 25;
                float fx = 0, fy = 0;
                if (d > 0 && d <= 50) {
                    fx = -s * tri * dx / d;
                    fy = -s * tri * dy / d;
                }
                grid[h * 100 + w] = fx;
                grid[10000 + h * 100 + w] = fy;
            }
        sq = malloc((size_t)2 * L * L * sizeof(float));
        if (!sq) {
            st = hrn_error_set(HRN_ERR_NOMEM, "fat_face: no memory");
            goto fail;
        }
        hrn_resize_bilinear(grid, 2, 100, 100, sq, L, L, 0);
        int r0 = (int)(cy - 0.5f * (float)L), c0 = (int)(cx - 0.5f * (float)L);
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < L; y++)
                for (int x = 0; x < L; x++) {
                    int yy = r0 + y, xx = c0 + x;
                    if (yy < 0 || yy >= S || xx < 0 || xx >= S) continue;
                    int p = yy * S + xx;
                    field[c * S * S + p] = sq[(c * L + y) * L + x] * contour[p] * (1 - inner[p]);
                }
    }
    /* back to the image's size, in its pixels */
    flow = malloc((size_t)2 * W * H * sizeof(float));
    if (!flow) {
        st = hrn_error_set(HRN_ERR_NOMEM, "fat_face: no memory");
        goto fail;
    }
    hrn_resize_bilinear(field, 2, S, S, flow, H, W, 0);
    for (int64_t i = 0; i < 2 * (int64_t)W * H; i++) flow[i] /= scale;
    /* image_warp_grid1: read the unwarped image, snap within 0.2 of a corner */
    const int64_t np = (int64_t)W * H;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float fx = flow[y * W + x], fy = flow[np + y * W + x];
            if (fabsf(fx) < 0.2f && fabsf(fy) < 0.2f) continue;
            float nx = fminf(fmaxf((float)x + fx, 0), (float)(W - 1));
            float ny = fminf(fmaxf((float)y + fy, 0), (float)(H - 1));
            int x0 = (int)floorf(nx), y0 = (int)floorf(ny);
            int x1 = (int)ceilf(nx), y1 = (int)ceilf(ny);
            float a = ny - (float)y0, bb = nx - (float)x0; /* row and column fractions */
            for (int c = 0; c < img->c; c++) {
                const float *I = img->data + c * np;
                float v11 = I[y0 * W + x0], v12 = I[y0 * W + x1], v21 = I[y1 * W + x0],
                      v22 = I[y1 * W + x1], v;
                if (a < 0.2f && bb < 0.2f) v = v11;
                else if (a < 0.2f && bb > 0.8f) v = v12;
                else if (a > 0.8f && bb < 0.2f) v = v21;
                else if (a > 0.8f && bb > 0.8f) v = v22;
                else v = (v11 * (1 - bb) + v12 * bb) * (1 - a) + (v21 * (1 - bb) + v22 * bb) * a;
                out->data[c * np + y * W + x] = v;
            }
        }
fail:
    free(contour);
    free(inner);
    free(grid);
    free(sq);
    free(field);
    free(flow);
    if (st != HRN_OK) hrn_image_free(out);
    return st;
}
