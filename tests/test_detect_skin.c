/* test_detect_skin: the skin mask of detect/skin.c. Deep3D's skin-colour posterior against
 * values of its own formula (numpy, float64), the landmark region against data/'s crop-frame
 * polygon, the mask against the ground truth of synthetic faces (rendered face minus occluders),
 * and on the shared real photos the fraction of the landmark region the mask keeps. */
#include "hrn_data.h"
#include "hrn_detect.h"
#include "hrn_lmk.h"
#include "hrn_model.h"
#include "hrn_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep3D's skinmask posterior, computed by util/skin_mask.py's formula (GMM likelihoods with
 * priors 0.8/0.2, no log domain) in numpy float64 for these RGB colours. */
static void test_prob_reference(void) {
    static const struct { float rgb[3]; double p; } REF[] = {
        {{224, 172, 140}, 0.9911057802505144}, {{180, 120, 90}, 0.988833463668906},
        {{90, 60, 50}, 0.9323406227177957},    {{120, 120, 120}, 0.015137866456496559},
        {{30, 90, 200}, 7.096240224084682e-08}, {{250, 240, 230}, 0.793743410546861},
        {{140, 80, 60}, 0.987698375464477}};
    for (size_t i = 0; i < sizeof REF / sizeof REF[0]; i++)
        CHECK_NEAR(hrn_skin_prob(REF[i].rgb[0], REF[i].rgb[1], REF[i].rgb[2]), REF[i].p, 1e-9,
                   1e-5);
    /* far from both mixtures numpy gives 0/0; the log domain still answers */
    float p = hrn_skin_prob(0, 255, 0);
    CHECK(isfinite(p) && p >= 0 && p < 0.5f);
}

/* A face of 68 points: take them from a synthetic sample (y-up crop pixels) and flip to y down. */
static void to_ydown(const float *lm_yup, int size, float *lm) {
    for (int i = 0; i < 68; i++) {
        lm[2 * i] = lm_yup[2 * i];
        lm[2 * i + 1] = (float)(size - 1) - lm_yup[2 * i + 1];
    }
}

static struct hrn_face_model g_fm;
static int g_fm_ok;

/* The photo-frame region is data/'s crop-frame region (same polygon; both masks have row 0 at
 * the top). */
static void test_hull_matches_data(void) {
    if (!g_fm_ok) SKIP("no synthetic model: %s", hrn_error_msg());
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    struct hrn_sample s = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 1, &s));
    float lm[136], *a = malloc(224 * 224 * sizeof *a), *b = malloc(224 * 224 * sizeof *b);
    CHECK(a && b);
    if (!a || !b || !s.img.data) goto done;
    to_ydown(s.lm, 224, lm);
    CHECK_OK(hrn_face_hull_mask(lm, 224, 224, 1.5f, a));
    CHECK_OK(hrn_face_region_mask(s.lm, 224, 1.5f, b));
    int diff = 0, area = 0;
    for (int r = 0; r < 224; r++)
        for (int col = 0; col < 224; col++) {
            area += a[r * 224 + col] > 0;
            diff += a[r * 224 + col] != b[r * 224 + col];
        }
    /* 223 - y is rounded to float: a pixel centre on the boundary may flip */
    CHECK_MSG(area > 5000 && diff <= area / 200, "hull: %d of %d pixels differ", diff, area);
done:
    free(a);
    free(b);
    hrn_sample_free(&s);
}

/* Intersection over union of two 0/1 masks within `where` (NULL: everywhere). */
static double iou(const float *a, const float *b, size_t n) {
    size_t i_ = 0, u = 0;
    for (size_t i = 0; i < n; i++) {
        i_ += a[i] > 0.5f && b[i] > 0.5f;
        u += a[i] > 0.5f || b[i] > 0.5f;
    }
    return u ? (double)i_ / (double)u : 1;
}

/* Paint a black hair fringe over the top third of the region, like the hair that hides a
 * forehead; marks the painted pixels in painted[]. */
static void paint_fringe(struct hrn_image *img, const float *hull, float *painted) {
    static const float HAIR[3] = {22 / 255.0f, 18 / 255.0f, 17 / 255.0f};
    int top = 224, bottom = -1;
    for (int i = 0; i < 224 * 224; i++)
        if (hull[i] > 0) {
            top = i / 224 < top ? i / 224 : top;
            bottom = i / 224 > bottom ? i / 224 : bottom;
        }
    int cut = top + (bottom - top) / 3;
    for (int i = 0; i < 224 * 224; i++) {
        painted[i] = i / 224 < cut ? 1.0f : 0.0f;
        for (int c = 0; c < 3 && painted[i] > 0; c++) img->data[c * 224 * 224 + i] = HAIR[c];
    }
}

/* Synthetic faces (textured backgrounds, noise, JPEG; no drawn occluder) with a hair fringe
 * painted over the top third of the landmark region. Ground truth: the rendered face inside the
 * region, minus the fringe (brows, eyes and lips count as face, so the colour model can only lose
 * there). The mask must reach a mean IoU of 0.90 with it, where the region alone cannot exceed
 * about two thirds, and keep under 5% of the fringe. */
static void test_synthetic_iou(void) {
    if (!g_fm_ok) SKIP("no synthetic model: %s", hrn_error_msg());
    enum { N = 24, P = 224 * 224 };
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    c.seed = 14;
    c.occluder_p = 0;
    float *hull = malloc(P * sizeof *hull), *skin = malloc(P * sizeof *skin);
    float *gt = malloc(P * sizeof *gt), *paint = malloc(P * sizeof *paint);
    CHECK(hull && skin && gt && paint);
    double sum_skin = 0, sum_hull = 0, hair_in = 0, hair_kept = 0;
    int n = 0;
    for (int k = 0; k < N && hull && skin && gt && paint; k++) {
        struct hrn_sample s = {0};
        float lm[136];
        CHECK_OK(hrn_synth_sample(&g_fm, &c, k, &s));
        if (!s.img.data || !s.mask) {
            hrn_sample_free(&s);
            continue;
        }
        to_ydown(s.lm, 224, lm);
        CHECK_OK(hrn_face_hull_mask(lm, 224, 224, 1.5f, hull));
        paint_fringe(&s.img, hull, paint);
        CHECK_OK(hrn_skin_mask(&s.img, lm, 1.5f, skin));
        for (int i = 0; i < P; i++) {
            gt[i] = hull[i] * s.mask[i] * (1 - paint[i]);
            hair_in += (double)(hull[i] * paint[i]);
            hair_kept += (double)(skin[i] * paint[i]);
        }
        sum_skin += iou(skin, gt, P);
        sum_hull += iou(hull, gt, P);
        n++;
        hrn_sample_free(&s);
    }
    CHECK(n == N);
    if (n == 0) goto done;
    printf("  synthetic faces with a painted fringe: mean IoU with the ground truth %.3f "
           "(landmark region alone %.3f); %.2f%% of the fringe kept\n", sum_skin / n,
           sum_hull / n, 100 * hair_kept / hair_in);
    CHECK_MSG(sum_skin / n >= 0.90, "mean IoU %.3f < 0.90", sum_skin / n);
    CHECK_MSG(hair_kept <= 0.05 * hair_in, "%.1f%% of the fringe kept", 100 * hair_kept / hair_in);
done:
    free(hull);
    free(skin);
    free(gt);
    free(paint);
}

/* One real face: the fraction of its landmark region the mask keeps. */
static double kept_fraction(const struct hrn_image *img, const float *lm, int *ok) {
    size_t n = (size_t)img->w * (size_t)img->h;
    float *hull = malloc(n * sizeof *hull), *skin = malloc(n * sizeof *skin);
    double in = 0, kept = 0;
    *ok = hull && skin && hrn_face_hull_mask(lm, img->w, img->h, 1.5f, hull) == HRN_OK &&
          hrn_skin_mask(img, lm, 1.5f, skin) == HRN_OK;
    for (size_t i = 0; *ok && i < n; i++) {
        in += (double)hull[i];
        kept += (double)skin[i];
    }
    free(hull);
    free(skin);
    return in > 0 ? kept / in : 0;
}

/* The labelled real faces (manual 300-W points, dlib's points on the PASCAL photos): a skin
 * mask on a real face keeps most of its region (eyes, brows, lips, hair and glasses go). */
static void test_real_faces(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no ../shared/realdata (set HRN_REALDATA)");
    static const char *PHOTOS[][2] = {
        {"eos_example/image_0010.png", "eos_example/image_0010.lm68.txt"},
        {"dlib_faces/2007_007763.jpg", "dlib_faces/2007_007763.face%d.lm68.txt"},
        {"dlib_faces/2008_001009.jpg", "dlib_faces/2008_001009.face%d.lm68.txt"},
        {"dlib_faces/2008_001322.jpg", "dlib_faces/2008_001322.face%d.lm68.txt"},
        {"dlib_faces/2008_002506.jpg", "dlib_faces/2008_002506.face%d.lm68.txt"}};
    double lo = 1, hi = 0, sum = 0;
    int faces = 0;
    for (size_t p = 0; p < sizeof PHOTOS / sizeof PHOTOS[0]; p++) {
        char path[2048], fmt[2048], lab[2048];
        struct hrn_image img = {0};
        snprintf(path, sizeof path, "%s/%s", rd, PHOTOS[p][0]);
        CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &img));
        snprintf(fmt, sizeof fmt, "%s/%s", rd, PHOTOS[p][1]);
        for (int k = 0; img.data && k < 16; k++) {
            float lm[136];
            int ok;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            snprintf(lab, sizeof lab, fmt, k);
#pragma GCC diagnostic pop
            struct stat sb;
            if (stat(lab, &sb) != 0) break;
            CHECK_OK(hrn_lmk_read(lab, 68, lm, 68, NULL));
            double f = kept_fraction(&img, lm, &ok);
            CHECK(ok);
            printf("  %s face %d: %.1f%% of the landmark region kept\n", PHOTOS[p][0], k,
                   100 * f);
            lo = f < lo ? f : lo;
            hi = f > hi ? f : hi;
            sum += f;
            faces++;
            if (!strstr(PHOTOS[p][1], "%d")) break;
        }
        hrn_image_free(&img);
    }
    CHECK(faces == 16);
    if (!faces) return;
    printf("  %d labelled real faces: %.1f%% kept on average (%.1f%%..%.1f%%)\n", faces,
           100 * sum / faces, 100 * lo, 100 * hi);
    /* measured 87.9%..100%, mean 95.7%: the colour model must drop something but not the face */
    CHECK_MSG(lo >= 0.8 && sum / faces < 0.99, "kept fraction %.3f..%.3f (mean %.3f)", lo, hi,
              sum / faces);
}

/* Deep3D's example photos have no 68 points: detect them (skipped without the weights). */
static void test_deep3d_examples(void) {
    const char *rd = hrn_test_realdata();
    char wbuf[4096];
    const char *e = getenv("HRN_FACEAPI_H5");
    snprintf(wbuf, sizeof wbuf, "%s", e && *e ? e : HRN_FACEAPI_H5);
    struct stat sb;
    if (stat(wbuf, &sb) != 0) SKIP("face-api weights not at %s", wbuf);
    if (!rd) SKIP("no ../shared/realdata (set HRN_REALDATA)");
    static const char *PHOTOS[] = {"000002.jpg", "000006.jpg", "000007.jpg", "000031.jpg",
                                   "vd006.png", "vd025.png"};
    struct hrn_detect det = {0};
    CHECK_OK(hrn_detect_load(&det, wbuf));
    double sum = 0, lo = 1;
    int n = 0;
    for (size_t i = 0; det.params && i < sizeof PHOTOS / sizeof PHOTOS[0]; i++) {
        char path[2048];
        struct hrn_image img = {0};
        struct hrn_face f[4];
        int nf = 0, ok = 0;
        struct hrn_detect_options o = hrn_detect_defaults();
        snprintf(path, sizeof path, "%s/deep3d_examples/%s", rd, PHOTOS[i]);
        CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &img));
        if (img.data) CHECK_OK(hrn_detect_faces(&det, &img, &o, f, 4, &nf));
        CHECK(nf >= 1);
        if (nf >= 1) {
            double k = kept_fraction(&img, f[0].lm68, &ok);
            CHECK(ok);
            printf("  deep3d_examples/%s: %.1f%% of the landmark region kept\n", PHOTOS[i],
                   100 * k);
            sum += k;
            lo = k < lo ? k : lo;
            n++;
        }
        hrn_image_free(&img);
    }
    hrn_detect_free(&det);
    if (n) printf("  %d Deep3D examples: %.1f%% kept on average (lowest %.1f%%)\n", n,
                  100 * sum / n, 100 * lo);
    CHECK_MSG(n == 0 || (lo >= 0.8 && sum / n < 0.99), "kept %.3f (lowest %.3f)", sum / n, lo);
}

static void test_bad_input(void) {
    struct hrn_image gray = {0};
    float lm[136], out[64];
    for (int i = 0; i < 136; i++) lm[i] = (float)(i % 7);
    CHECK_OK(hrn_image_init(&gray, 8, 8, 1));
    CHECK_STATUS(hrn_skin_mask(&gray, lm, 1.5f, out), HRN_ERR_INVALID);
    struct hrn_image rgb = {0};
    CHECK_OK(hrn_image_init(&rgb, 8, 8, 3));
    lm[71] = NAN;
    CHECK_STATUS(hrn_skin_mask(&rgb, lm, 1.5f, out), HRN_ERR_INVALID);
    CHECK_STATUS(hrn_face_hull_mask(lm, 0, 8, 1.5f, out), HRN_ERR_INVALID);
    hrn_image_free(&gray);
    hrn_image_free(&rgb);
}

int main(void) {
    g_fm_ok =
        hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) ==
            HRN_OK &&
        hrn_face_model_to_hrn_frame(&g_fm) == HRN_OK && hrn_face_model_compact(&g_fm) == HRN_OK;
    RUN(test_prob_reference);
    RUN(test_hull_matches_data);
    RUN(test_synthetic_iou);
    RUN(test_real_faces);
    RUN(test_deep3d_examples);
    RUN(test_bad_input);
    hrn_face_model_free(&g_fm);
    return hrn_test_finish();
}
