/* pipeline.c: what face-api does around its two networks, step for step: the detector's input
 * (NetInput.toBatchTensor), YOLO decoding and NMS (TinyYolov2Base.extractBoxes,
 * nonMaxSuppression), the landmark crop (extractFaceTensors, padToSquare) and the landmark
 * post-processing (FaceLandmark68NetBase.postProcess); then hrn_detect_faces over all of it. */
#include "detect_impl.h"

#include "hrn_lmk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float TINY_MEAN[3] = {117.001f, 114.697f, 97.404f};
static const float LM_MEAN[3] = {122.782f, 117.001f, 104.298f};
static const double ANCHORS[HRN_TINYFACE_ANCHORS][2] = {
    {1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
    {4.266906, 5.178857}, {9.041765, 10.66308}};

enum { MAX_CANDIDATES = 4096 };

struct hrn_detect_options hrn_detect_defaults(void) {
    return (struct hrn_detect_options){.input_size = 608, .score_threshold = 0.3f,
                                       .iou_threshold = 0.4f};
}

/* JavaScript's Math.round: halves go up. */
static double js_round(double v) { return floor(v + 0.5); }

/* --- resampling ------------------------------------------------------------------------------- */

/* A padded source: (sh,sw) pixels of which rows [top, top+h) and columns [left, left+w) come
 * from img (row stride stride, 3 channels), the rest is black. */
struct padded_src {
    const float *img;
    int stride, h, w, top, left, sh, sw;
};

static const float *src_px(const struct padded_src *p, int y, int x) {
    static const float black[3] = {0, 0, 0};
    y -= p->top;
    x -= p->left;
    if (y < 0 || y >= p->h || x < 0 || x >= p->w) return black;
    return p->img + ((size_t)y * p->stride + x) * 3;
}

/* tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false) on the CPU backend: source
 * = dst·in/out in double, neighbours floor/ceil clamped, lerp in double, stored as float32; then
 * (v - mean)/255 in float32. Without a resize (same size) the values are copied. */
static void resize_normalize(float *x, const struct padded_src *p, int out, const float mean[3]) {
    double ry = (double)p->sh / out, rx = (double)p->sw / out;
    int same = p->sh == out && p->sw == out;
    /* the columns' neighbours and weights are the same on every row: computed once */
    int *cx = malloc(2 * (size_t)out * sizeof *cx);
    double *cw = malloc((size_t)out * sizeof *cw);
    HRN_ASSERT(cx && cw); /* a few KB */
    for (int c = 0; c < out; c++) {
        double fx = same ? c : rx * c;
        cx[2 * c] = (int)fmax(0, floor(fx));
        cx[2 * c + 1] = (int)fmin(p->sw - 1, ceil(fx));
        cw[c] = fx - cx[2 * c];
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < out; r++) {
        double fy = same ? r : ry * r;
        int y0 = (int)fmax(0, floor(fy)), y1 = (int)fmin(p->sh - 1, ceil(fy));
        double wy = fy - y0;
        for (int c = 0; c < out; c++) {
            int x0 = cx[2 * c], x1 = cx[2 * c + 1];
            double wx = cw[c];
            const float *tl = src_px(p, y0, x0), *tr = src_px(p, y0, x1);
            const float *bl = src_px(p, y1, x0), *br = src_px(p, y1, x1);
            float *o = x + ((size_t)r * out + c) * 3;
            for (int ch = 0; ch < 3; ch++) {
                double top = (double)tl[ch] + ((double)tr[ch] - (double)tl[ch]) * wx;
                double bot = (double)bl[ch] + ((double)br[ch] - (double)bl[ch]) * wx;
                float v = (float)(top + (bot - top) * wy);
                o[ch] = (v - mean[ch]) / 255.0f;
            }
        }
    }
    free(cx);
    free(cw);
}

void hrn_tinyface_input(float *x, const float *img_hwc, int w, int h, int size) {
    int s = w > h ? w : h; /* padToSquare(isCenterImage = false): black at the bottom/right */
    struct padded_src p = {img_hwc, w, h, w, 0, 0, s, s};
    resize_normalize(x, &p, size, TINY_MEAN);
}

/* --- detector decoding ------------------------------------------------------------------------ */

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* A candidate in face-api's relative units (fractions of the photo). */
struct cand {
    double x, y, w, h, score;
    int idx;
};

static double iou(const struct cand *a, const struct cand *b, double s) {
    double ax0 = a->x * s, ay0 = a->y * s, aw = a->w * s, ah = a->h * s;
    double bx0 = b->x * s, by0 = b->y * s, bw = b->w * s, bh = b->h * s;
    double iw = fmax(0.0, fmin(ax0 + aw, bx0 + bw) - fmax(ax0, bx0));
    double ih = fmax(0.0, fmin(ay0 + ah, by0 + bh) - fmax(ay0, by0));
    double inter = iw * ih;
    return inter / (aw * ah + bw * bh - inter);
}

/* Ascending score, then ascending index: face-api sorts stably and pops from the end. */
static int cmp_cand(const void *pa, const void *pb) {
    const struct cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Candidates above the threshold, in face-api's scan order (row, column, anchor). */
static int collect(const float *out, int size, int w, int h, double thr, struct cand *c) {
    int g = size / 32, n = 0;
    double scale = (double)size / (w > h ? w : h);
    double rw = js_round(w * scale), rh = js_round(h * scale), in = fmax(rw, rh);
    double fx = in / rw, fy = in / rh;
    for (int row = 0; row < g; row++)
        for (int col = 0; col < g; col++)
            for (int a = 0; a < HRN_TINYFACE_ANCHORS; a++) {
                const float *t = out + (((size_t)row * g + col) * HRN_TINYFACE_ANCHORS + a) * 5;
                double score = sigmoid((double)t[4]);
                if (!(score > thr) || n == MAX_CANDIDATES) continue;
                double cx = (col + sigmoid((double)t[0])) / g * fx, cy = (row + sigmoid((double)t[1])) / g * fy;
                double bw = exp((double)t[2]) * ANCHORS[a][0] / g * fx;
                double bh = exp((double)t[3]) * ANCHORS[a][1] / g * fy;
                c[n] = (struct cand){cx - bw / 2, cy - bh / 2, bw, bh, score, n};
                n++;
            }
    return n;
}

int hrn_tinyface_decode(const float *out, int size, int w, int h,
                        const struct hrn_detect_options *o, struct hrn_detect_box *boxes,
                        int cap) {
    struct cand *c = malloc(MAX_CANDIDATES * sizeof *c);
    if (!c) return 0;
    int n = collect(out, size, w, h, (double)o->score_threshold, c), kept = 0;
    qsort(c, (size_t)n, sizeof *c, cmp_cand);
    /* greedy NMS: take the best left, drop everything overlapping it by more than the limit */
    while (n > 0 && kept < cap) {
        struct cand best = c[--n];
        boxes[kept++] = (struct hrn_detect_box){
            (float)(best.x * w), (float)(best.y * h), (float)(best.x * w + best.w * w),
            (float)(best.y * h + best.h * h), (float)best.score};
        int m = 0;
        for (int i = 0; i < n; i++)
            if (iou(&best, &c[i], size) <= (double)o->iou_threshold) c[m++] = c[i];
        n = m;
    }
    free(c);
    return kept;
}

/* --- landmarks -------------------------------------------------------------------------------- */

int hrn_lm68_crop(const struct hrn_detect_box *box, int w, int h, int *x, int *y, int *cw,
                  int *ch) {
    double cx = fmax((double)box->x0, 0.0), cy = fmax((double)box->y0, 0.0);
    double ww = fmin((double)box->x1 - cx, w - cx), hh = fmin((double)box->y1 - cy, h - cy);
    *x = (int)floor(cx);
    *y = (int)floor(cy);
    *cw = ww > 0 ? (int)floor(ww) : 0;
    *ch = hh > 0 ? (int)floor(hh) : 0;
    return *cw > 0 && *ch > 0 && *x < w && *y < h;
}

void hrn_dk_crop_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch,
                       int size) {
    /* padToSquare(isCenterImage = true): Math.round(d/2) after, the rest before */
    int d = abs(ch - cw), before = d - (int)js_round(d * 0.5), s = cw > ch ? cw : ch;
    struct padded_src p = {img_hwc + ((size_t)cy * w + cx) * 3, w, ch, cw,
                           ch < cw ? before : 0, cw < ch ? before : 0, s, s};
    resize_normalize(x, &p, size, LM_MEAN);
}

void hrn_lm68_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch) {
    hrn_dk_crop_input(x, img_hwc, w, cx, cy, cw, ch, HRN_LM68_INPUT);
}

void hrn_lm68_postprocess(const float *out, int cx, int cy, int cw, int ch, float *lm68) {
    /* float32 ops as tfjs runs them: out·112 - pad, / scaled size; then JS doubles */
    double scale = (double)HRN_LM68_INPUT / (cw > ch ? cw : ch);
    double iw = cw * scale, ih = ch * scale;
    float padx = iw < ih ? (float)(fabs(iw - ih) / 2) : 0.0f;
    float pady = ih < iw ? (float)(fabs(iw - ih) / 2) : 0.0f;
    for (int i = 0; i < 68; i++) {
        float rx = (out[2 * i] * (float)HRN_LM68_INPUT - padx) / (float)iw;
        float ry = (out[2 * i + 1] * (float)HRN_LM68_INPUT - pady) / (float)ih;
        lm68[2 * i] = (float)((double)rx * cw + cx);
        lm68[2 * i + 1] = (float)((double)ry * ch + cy);
    }
}

enum hrn_status hrn_lm68_on_box(struct hrn_detect *d, const float *img_hwc, int w, int h,
                                const struct hrn_detect_box *box, float *lm68) {
    int cx, cy, cw, ch;
    if (!hrn_lm68_crop(box, w, h, &cx, &cy, &cw, &ch))
        return hrn_error_set(HRN_ERR_INVALID, "landmarks: box (%g,%g)-(%g,%g) misses the %dx%d "
                             "photo", (double)box->x0, (double)box->y0, (double)box->x1, (double)box->y1, w, h);
    float *x = malloc((size_t)HRN_LM68_INPUT * HRN_LM68_INPUT * 3 * sizeof *x), out[HRN_LM68_OUT];
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "landmarks: out of memory");
    hrn_lm68_input(x, img_hwc, w, cx, cy, cw, ch);
    enum hrn_status st = hrn_lm68_forward(d, x, out);
    free(x);
    if (!st) hrn_lm68_postprocess(out, cx, cy, cw, ch, lm68);
    return st;
}

/* --- everything ------------------------------------------------------------------------------- */

/* roundf (half away from zero) without the libm call per value: the fraction left by truncf is
 * exact, so comparing it with 0.5 rounds exactly as roundf does (|v| < 2^23; larger floats are
 * integers already and come back unchanged). */
static inline float round_half_away(float v) {
    float t = truncf(v), f = v - t;
    return f >= 0.5f ? t + 1.0f : f <= -0.5f ? t - 1.0f : t;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void to_hwc255(float *x, const float *chw, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) x[3 * i + c] = round_half_away(chw[c * n + i] * 255.0f);
}

float *hrn_detect_hwc255(const struct hrn_image *img) {
    size_t n = (size_t)img->w * img->h;
    float *x = malloc(n * 3 * sizeof *x);
    if (!x) {
        hrn_error_set(HRN_ERR_NOMEM, "detect: cannot allocate a %dx%d image", img->w, img->h);
        return NULL;
    }
    to_hwc255(x, img->data, n);
    return x;
}

static float box_area(const struct hrn_detect_box *b) { return (b->x1 - b->x0) * (b->y1 - b->y0); }

static int cmp_area(const void *pa, const void *pb) {
    float a = box_area(&((const struct hrn_face *)pa)->box);
    float b = box_area(&((const struct hrn_face *)pb)->box);
    return (a < b) - (a > b);
}

/* Boxes and their landmarks into *faces (malloc()ed, as many as boxes; the caller frees it). x
 * holds the detector input. */
static enum hrn_status detect_all(struct hrn_detect *d, const float *hwc, float *x, int w, int h,
                                  const struct hrn_detect_options *o, struct hrn_face **faces,
                                  int *n) {
    int s = o->input_size, g = s / 32;
    float *out = malloc((size_t)g * g * 25 * sizeof *out);
    struct hrn_detect_box *boxes = malloc(MAX_CANDIDATES * sizeof *boxes);
    enum hrn_status st = HRN_OK;
    if (!out || !boxes) st = hrn_error_set(HRN_ERR_NOMEM, "detect: out of memory");
    if (!st) {
        hrn_tinyface_input(x, hwc, w, h, s);
        st = hrn_tinyface_forward(d, x, s, out);
    }
    int nb = st ? 0 : hrn_tinyface_decode(out, s, w, h, o, boxes, MAX_CANDIDATES);
    *n = 0;
    *faces = malloc((size_t)(nb > 0 ? nb : 1) * sizeof **faces);
    if (!st && !*faces) st = hrn_error_set(HRN_ERR_NOMEM, "detect: out of memory");
    for (int i = 0; !st && i < nb; i++) {
        struct hrn_face *f = &(*faces)[*n];
        f->box = boxes[i];
        int cx, cy, cw, ch;
        if (!hrn_lm68_crop(&f->box, w, h, &cx, &cy, &cw, &ch)) continue; /* off the photo */
        st = hrn_lm68_on_box(d, hwc, w, h, &f->box, f->lm68);
        hrn_lmk_extract_5p(f->lm68, f->lm5);
        (*n)++;
    }
    free(out);
    free(boxes);
    return st;
}

/* d->io holds at least n floats. */
static enum hrn_status io_reserve(struct hrn_detect *d, size_t n) {
    if (d->io_floats >= n) return HRN_OK;
    free(d->io);
    d->io = malloc(n * sizeof *d->io);
    d->io_floats = d->io ? n : 0;
    return d->io ? HRN_OK : hrn_error_set(HRN_ERR_NOMEM, "detect: cannot allocate %zu floats", n);
}

enum hrn_status hrn_detect_faces(struct hrn_detect *d, const struct hrn_image *img,
                                 const struct hrn_detect_options *o, struct hrn_face *faces,
                                 int cap, int *n) {
    *n = 0;
    if (!img->data || img->c != 3)
        return hrn_error_set(HRN_ERR_INVALID, "detect: expected an RGB image, got %d channels",
                             img->c);
    if (o->input_size < 64 || o->input_size % 32 || !(o->score_threshold >= 0) ||
        !(o->iou_threshold >= 0))
        return hrn_error_set(HRN_ERR_INVALID, "detect: input size %d (a multiple of 32 >= 64), "
                             "thresholds %g and %g", o->input_size, (double)o->score_threshold,
                             (double)o->iou_threshold);
    size_t npx = (size_t)img->w * (size_t)img->h, nx = (size_t)o->input_size * o->input_size;
    enum hrn_status st = io_reserve(d, 3 * npx + 3 * nx);
    if (st) return st;
    float *hwc = d->io, *x = hwc + 3 * npx;
    to_hwc255(hwc, img->data, npx);
    struct hrn_face *all = NULL;
    int na = 0;
    st = detect_all(d, hwc, x, img->w, img->h, o, &all, &na);
    if (!st) {
        qsort(all, (size_t)na, sizeof *all, cmp_area);
        *n = na < cap ? na : cap;
        memcpy(faces, all, (size_t)*n * sizeof *faces);
    }
    free(all);
    return st;
}

double hrn_lm68_nme(const float *lm68, const float *ref68) {
    double iod = hypot(ref68[2 * 36] - ref68[2 * 45], ref68[2 * 36 + 1] - ref68[2 * 45 + 1]);
    double s = 0;
    for (int i = 0; i < 68; i++)
        s += hypot(lm68[2 * i] - ref68[2 * i], lm68[2 * i + 1] - ref68[2 * i + 1]);
    return s / 68 / iod;
}

const char *hrn_detect_default_weights(char *buf, size_t cap, const char *fallback_dir) {
    const char *f = getenv("HRN_FACEAPI_H5"), *dir = getenv("HRN_WEIGHTS_DIR");
    if (f && *f)
        snprintf(buf, cap, "%s", f);
    else
        snprintf(buf, cap, "%s/face-api-1.7.15.h5",
                 dir && *dir ? dir : fallback_dir ? fallback_dir : "weights");
    return buf;
}
