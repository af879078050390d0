/* test_fit_slow.c: hrn-fit on real face models and a real photo (slow; skipped visibly without
 * ../shared/realdata):
 * - round trips on the Surrey Face Model and the ICT face model: faces rendered by hrn with known
 *   coefficients, pose and lighting are fitted back with one view and with three; the mean vertex
 *   error of three views must be below that of one, with every coefficient inside 3 standard
 *   deviations;
 * - the 300-W image image_0010 with its manual 68 landmarks and the SFM: the RMS distance between
 *   the fitted model's landmark vertices and the manual landmarks, over the points the model
 *   maps, below 5 photo pixels. */
#include "hrn_test.h"

#include "hrn_train.h"

static void round_trip(const char *model_rel) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no realdata directory (set HRN_REALDATA)");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", rd, model_rel);
    struct stat sb;
    if (stat(path, &sb) != 0) SKIP("%s missing", path);
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_fit_load_model(path, &fm));
    if (!fm.mean_shape) return;
    struct hrn_fit_config cs, cm;
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &cs));
    cm = cs;
    hrn_fit_config_multiview(&cm);
    double err[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        int nv = pass ? 3 : 1;
        struct hrn_fit_view v[3];
        struct hrn_fit_truth truth;
        struct hrn_fit f;
        const struct hrn_fit_config *cfg = pass ? &cm : &cs;
        CHECK_OK(hrn_fit_synth_views(&fm, cfg, 11, nv, 30.0f, 0.0f, v, &truth));
        CHECK_OK(hrn_fit_init(&f, &fm, cfg, v, nv));
        double e0 = hrn_fit_vertex_error_mm(&f, &truth);
        double t0 = hrn_time_now();
        CHECK_OK(hrn_fit_run(&f, NULL));
        err[pass] = hrn_fit_vertex_error_mm(&f, &truth);
        float mc = hrn_fit_max_abs_coeff(&f);
        printf("  %s, %d view%s: mean vertex error %.3f mm (mean face %.3f mm), max |coeff| %.2f, "
               "%.1f s\n", fm.name, nv, nv > 1 ? "s" : "", err[pass], e0, (double)mc,
               hrn_time_now() - t0);
        CHECK_MSG(mc < 3.0f, "max |coeff| %.2f is not plausible", (double)mc);
        CHECK_MSG(err[pass] < e0, "error %.3f mm is not below the mean face's %.3f", err[pass],
                  e0);
        hrn_fit_free(&f);
        for (int k = 0; k < nv; k++) hrn_fit_view_free(&v[k]);
        hrn_fit_truth_free(&truth);
    }
    CHECK_MSG(err[1] < err[0], "three views (%.3f mm) are not more accurate than one (%.3f mm)",
              err[1], err[0]);
    hrn_face_model_free(&fm);
}

static void test_round_trip_sfm(void) { round_trip("sfm/sfm_shape_3448.h5"); }
static void test_round_trip_ict(void) { round_trip("ict_facekit/ict_face_light_narrow.h5"); }

static void test_300w_landmarks_sfm(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no realdata directory (set HRN_REALDATA)");
    char model[1024], img[1024], lmk[1024];
    snprintf(model, sizeof model, "%s/sfm/sfm_shape_3448.h5", rd);
    snprintf(img, sizeof img, "%s/eos_example/image_0010.png", rd);
    snprintf(lmk, sizeof lmk, "%s/eos_example/image_0010.lm68.txt", rd);
    struct stat sb;
    if (stat(model, &sb) != 0 || stat(img, &sb) != 0) SKIP("SFM or 300-W image missing");
    struct hrn_face_model fm = {0};
    struct hrn_fit_config cfg;
    struct hrn_fit_view v;
    struct hrn_fit f;
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &cfg));
    CHECK_OK(hrn_fit_load_model(model, &fm));
    CHECK_OK(hrn_fit_view_from_photo(&fm, &cfg, img, lmk, NULL, &v));
    CHECK_OK(hrn_fit_init(&f, &fm, &cfg, &v, 1));
    CHECK_OK(hrn_fit_run(&f, NULL));
    int n = 0;
    double rms_crop = hrn_fit_landmark_rms(&f, 0, &n);
    /* crop pixels per photo pixel: F/s of the alignment */
    double rms = rms_crop / (double)v.crop_scale;
    float mc = hrn_fit_max_abs_coeff(&f);
    printf("  300-W image_0010, SFM: landmark RMS %.2f photo px (%.2f px in the 224 crop) over %d "
           "points, max |coeff| %.2f\n", rms, rms_crop, n, (double)mc);
    CHECK(n == 50);
    CHECK_MSG(rms < 5.0, "landmark RMS %.2f px", rms);
    CHECK(mc < 3.0f);
    const char *dir = hrn_test_tmpdir("fit_300w");
    CHECK_OK(hrn_fit_write_outputs(&f, dir));
    hrn_fit_free(&f);
    hrn_fit_view_free(&v);
    hrn_face_model_free(&fm);
}

int main(void) {
    RUN(test_300w_landmarks_sfm);
    RUN(test_round_trip_sfm);
    RUN(test_round_trip_ict);
    hrn_layers_release();
    return hrn_test_finish();
}
