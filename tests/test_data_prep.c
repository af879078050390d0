/* test_data_prep.c: hrn-data prep on real photos with no landmark files (the 300-W photo and a
 * PASCAL photo with two faces) plus a photo without a face: the faces are kept with landmarks
 * within 5% (300-W, manual labels) and 7% (PASCAL, dlib's) of the reference, the faceless photo
 * is left out and reported, and the folder opens as a training dataset whose samples carry the
 * landmarks and the mask. Needs the shared real data and face-api's weights (skipped without). */
#include "hrn_test.h"

#include "hrn_data.h"
#include "hrn_detect.h"

static const char *EXE = "../data/hrn-data";
static const char *DIR = "tmp_data_prep";

/* landmarks/<stem>.txt back in y down, against a reference file (y down) */
static double nme_of(const char *stem, int h, const char *ref) {
    char p[700];
    float lm[136], want[136];
    int n = 0, m = 0;
    snprintf(p, sizeof p, "%s/out/images/landmarks/%s.txt", DIR, stem);
    CHECK_OK(hrn_lmk_read(p, 0, lm, 68, &n));
    CHECK_OK(hrn_lmk_read(ref, 0, want, 68, &m));
    if (n != 68 || m != 68) return INFINITY;
    for (int i = 0; i < 68; i++) lm[2 * i + 1] = (float)(h - 1) - lm[2 * i + 1];
    return hrn_lm68_nme(lm, want);
}

static void test_prep_real_photos(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no realdata directory (set HRN_REALDATA)");
    struct stat sb;
    if (stat(HRN_FACEAPI_H5, &sb) != 0) SKIP("face-api weights missing (%s)", HRN_FACEAPI_H5);
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/in && cp %s/eos_example/image_0010.png "
             "%s/dlib_faces/2008_001009.jpg %s/in/", DIR, DIR, rd, rd, DIR);
    CHECK(hrn_test_run(cmd) == 0);
    struct hrn_image sky = {0};
    CHECK_OK(hrn_image_init(&sky, 320, 240, 3));
    for (size_t i = 0; i < (size_t)3 * 320 * 240; i++) sky.data[i] = i < 320 * 240 ? 0.35f : 0.7f;
    snprintf(cmd, sizeof cmd, "%s/in/sky.png", DIR);
    CHECK_OK(hrn_image_write_png(cmd, &sky, 8));
    hrn_image_free(&sky);
    snprintf(cmd, sizeof cmd, "%s prep %s/in --val 1 --detector %s --out %s/out > %s/stdout.txt "
             "2>&1", EXE, DIR, HRN_FACEAPI_H5, DIR, DIR);
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    char p[700], q[700];
    snprintf(p, sizeof p, "%s/out/prep_report.tsv", DIR);
    FILE *f = fopen(p, "r");
    char rep[2048] = "";
    if (f) {
        size_t k = fread(rep, 1, sizeof rep - 1, f);
        rep[k] = 0;
        fclose(f);
    }
    CHECK_MSG(strstr(rep, "sky.png\tno\tno face found") && strstr(rep, "image_0010.png\tyes") &&
                  strstr(rep, "2008_001009.jpg\tyes"), "report:\n%s", rep);
    snprintf(q, sizeof q, "%s/eos_example/image_0010.lm68.txt", rd);
    double e300 = nme_of("image_0010", 1024, q);
    /* the largest of the two faces: dlib's face0 or face1, whichever is nearer */
    snprintf(q, sizeof q, "%s/dlib_faces/2008_001009.face0.lm68.txt", rd);
    struct hrn_image im = {0};
    snprintf(p, sizeof p, "%s/dlib_faces/2008_001009.jpg", rd);
    CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &im));
    double ev = nme_of("2008_001009", im.h, q);
    snprintf(q, sizeof q, "%s/dlib_faces/2008_001009.face1.lm68.txt", rd);
    double ev1 = nme_of("2008_001009", im.h, q);
    hrn_image_free(&im);
    if (ev1 < ev) ev = ev1;
    printf("  landmark error of the prepared files: 300-W %.2f%% (manual), PASCAL %.2f%% (dlib)\n",
           100 * e300, 100 * ev);
    CHECK_MSG(e300 < 0.05 && ev < 0.07, "NME %g, %g", e300, ev);
    /* a training dataset: every kept photo, aligned on load, with landmarks and mask */
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    struct hrn_dataset ds = {0};
    snprintf(p, sizeof p, "%s/out", DIR);
    snprintf(q, sizeof q, "%s/out/datalist/train.txt", DIR);
    CHECK_OK(hrn_dataset_open_folder(&ds, &fm, p, q, HRN_DATASET_STRICT, stderr));
    CHECK(ds.n == 1 && ds.files && (ds.files[0] & HRN_DATASET_HAS_LM68) &&
          (ds.files[0] & HRN_DATASET_HAS_MASK));
    struct hrn_sample s;
    CHECK_OK(hrn_dataset_get(&ds, 0, &s));
    int finite = 1;
    for (int i = 0; i < 136; i++) finite &= isfinite(s.lm[i]) && s.lm[i] > -20 && s.lm[i] < 244;
    CHECK_MSG(finite, "the sample's landmarks are not in the 224 crop");
    CHECK(s.mask != NULL);
    hrn_sample_free(&s);
    hrn_dataset_free(&ds);
    hrn_face_model_free(&fm);
}

int main(void) {
    RUN(test_prep_real_photos);
    hrn_layers_release();
    return hrn_test_finish();
}
