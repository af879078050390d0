/* test_fit_batch.c: hrn-fit --list over synthetic subjects on the small model (photos with known
 * landmarks written by the test), one of them broken:
 * - 2 worker processes fit the good subjects (one of them with two photos), the broken one is
 *   reported in summary.csv with the file and the reason, the others still finish, exit 1;
 * - a rerun skips the finished subjects (their fit.h5 is not rewritten) and, once the broken
 *   photo is fixed, fits only that one and exits 0;
 * - a bad list is refused with its line; under mpirun (when built with MPI) two ranks share the
 *   subjects and rank 0 writes the same summary;
 * - a real photo with no landmark file (the 300-W image) is fitted from detected landmarks,
 *   written with the outputs, within 5% of the manual labels; the same photo as a JPEG stored
 *   sideways with an Exif orientation is read upright and gives the same landmarks (needs the
 *   shared real data and the face-api weights: skipped without them). */
#include "hrn_test.h"

#include "hrn_detect.h"
#include "hrn_train.h"

static const char *EXE = "../train/hrn-fit";
static const char *DIR = "tmp_fit_batch";
static struct hrn_face_model g_fm;

/* photos/<stem>.png and its 68 landmarks (y down) as <stem>.lm68.txt, from a synthetic view */
static void write_photo(const struct hrn_fit_view *v, const char *stem) {
    char p[600];
    snprintf(p, sizeof p, "%s/photos/%s.png", DIR, stem);
    CHECK_OK(hrn_image_write_png(p, &v->img, 8));
    float lm[68 * 2];
    for (int i = 0; i < 68; i++) {
        lm[2 * i] = v->lm[2 * i];
        lm[2 * i + 1] = 223.0f - v->lm[2 * i + 1];
    }
    snprintf(p, sizeof p, "%s/photos/%s.lm68.txt", DIR, stem);
    CHECK_OK(hrn_lmk_write_txt(p, lm, 68));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* three good subjects (seeds 1-3; "carol" has two photos) and "dave", whose photo is not a PNG */
static void make_subjects(void) {
    char p[600];
    snprintf(p, sizeof p, "rm -rf %s && mkdir -p %s/photos", DIR, DIR);
    CHECK(hrn_test_run(p) == 0);
    struct hrn_fit_config cfg;
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &cfg));
    static const char *const stems[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        int nv = i == 2 ? 2 : 1;
        struct hrn_fit_view v[2];
        struct hrn_fit_truth truth;
        CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 11 + i, nv, 0.0f, 3.0f, v, &truth));
        for (int k = 0; k < nv; k++) {
            char stem[32];
            snprintf(stem, sizeof stem, "%s%d", stems[i], k);
            write_photo(&v[k], stem);
            hrn_fit_view_free(&v[k]);
        }
        hrn_fit_truth_free(&truth);
    }
    snprintf(p, sizeof p, "%s/photos/dave0.png", DIR);
    write_file(p, "\x89PNG, but not really");
    snprintf(p, sizeof p, "%s/photos/bob0.lm68.txt", DIR);
    char q[1400];
    snprintf(q, sizeof q, "cp %s %s/photos/bob0_moved.txt", p, DIR);
    CHECK(hrn_test_run(q) == 0);
    snprintf(q, sizeof q, "cp %s/photos/alice0.lm68.txt %s/photos/dave0.lm68.txt", DIR, DIR);
    CHECK(hrn_test_run(q) == 0);
    snprintf(p, sizeof p, "%s/subjects.txt", DIR);
    write_file(p, "# name  photos (relative to this list)\n"
                  "alice   photos/alice0.png\n"
                  "\n"
                  "bob     photos/bob0.png lmk=photos/bob0_moved.txt\n"
                  "carol   photos/carol0.png photos/carol1.png\n"
                  "dave    photos/dave0.png\n");
    snprintf(p, sizeof p, "%s/model.h5", DIR);
    CHECK_OK(hrn_face_model_save(&g_fm, p));
}

static void command(char *cmd, size_t cap, const char *launch, const char *out, const char *list) {
    snprintf(cmd, cap,
             "%s %s -q --model %s/model.h5 --list %s/%s --jobs 2 --out %s/%s --set stages.lm=60 "
             "--set stages.coeff=40 --set stages.mid=5 --set stages.high=2 --set stages.tex=2 "
             "--set maps.disp_res=64 > %s/%s.stdout 2> %s/%s.stderr",
             launch, EXE, DIR, DIR, list, DIR, out, DIR, out, DIR, out);
}

/* summary.csv's status of a subject ("" when absent), and its landmark RMS */
static void summary_of(const char *csv, const char *name, char *status, double *rms) {
    status[0] = 0;
    *rms = NAN;
    char key[64];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = csv ? strstr(csv, key) : NULL;
    if (p) sscanf(p + strlen(key), "%15[^,],%*d,%lf", status, rms);
}

static long mtime_of(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_mtim.tv_sec * 1000000000L + sb.st_mtim.tv_nsec : -1;
}

static void check_summary(const char *out, int want_dave_ok) {
    char p[600], st[16];
    double rms;
    snprintf(p, sizeof p, "%s/%s/summary.csv", DIR, out);
    char *csv = hrn_test_slurp(p, NULL);
    CHECK_MSG(csv && !strncmp(csv, "subject,status,views,landmark_rms_px", 36), "%s", p);
    static const char *const good[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        summary_of(csv, good[i], st, &rms);
        CHECK_MSG(!strcmp(st, "ok") && rms < 5.0, "%s: status '%s', landmark RMS %g px", good[i],
                  st, rms);
        snprintf(p, sizeof p, "%s/%s/%s/fit.h5", DIR, out, good[i]);
        CHECK_MSG(mtime_of(p) > 0, "%s missing", p);
    }
    summary_of(csv, "dave", st, &rms);
    if (want_dave_ok) {
        CHECK_MSG(!strcmp(st, "ok"), "dave: %s", st);
    } else {
        CHECK_MSG(!strcmp(st, "failed"), "dave: '%s'", st);
        CHECK_MSG(csv && strstr(csv, "dave0.png"), "dave's error does not name the photo:\n%s",
                  csv ? csv : "");
    }
    free(csv);
}

static void test_batch_one_broken(void) {
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    make_subjects();
    char cmd[4096], p[600];
    command(cmd, sizeof cmd, "", "out", "subjects.txt");
    CHECK_MSG(hrn_test_run(cmd) == 1, "%s: want exit 1 (one subject failed)", cmd);
    check_summary("out", 0);
    snprintf(p, sizeof p, "%s/out/carol/carol1_mid.obj", DIR);
    CHECK_MSG(stat(p, &sb) == 0, "%s: the two-photo subject lacks its second view", p);
    /* a rerun skips what is done */
    snprintf(p, sizeof p, "%s/out/alice/fit.h5", DIR);
    long before = mtime_of(p);
    CHECK_MSG(hrn_test_run(cmd) == 1, "rerun: want exit 1 (dave still broken)");
    CHECK_MSG(mtime_of(p) == before, "alice was fitted again on the rerun");
    /* the broken photo fixed: only dave is fitted, and all is well */
    snprintf(cmd, sizeof cmd, "cp %s/photos/alice0.png %s/photos/dave0.png", DIR, DIR);
    CHECK(hrn_test_run(cmd) == 0);
    command(cmd, sizeof cmd, "", "out", "subjects.txt");
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s: want exit 0 once dave is fixed", cmd);
    CHECK_MSG(mtime_of(p) == before, "alice was fitted again");
    check_summary("out", 1);
}

static void test_batch_bad_list(void) {
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    char p[600], cmd[4096];
    snprintf(p, sizeof p, "%s/bad.txt", DIR);
    write_file(p, "alice photos/alice0.png\nbob photos/bob0.png colour=red\n");
    command(cmd, sizeof cmd, "", "bad", "bad.txt");
    CHECK(hrn_test_run(cmd) == 1);
    snprintf(p, sizeof p, "%s/bad.stderr", DIR);
    char *err = hrn_test_slurp(p, NULL);
    CHECK_MSG(err && strstr(err, "bad.txt:2") && strstr(err, "colour=red"), "message: %s",
              err ? err : "(none)");
    free(err);
    snprintf(p, sizeof p, "%s/dup.txt", DIR);
    write_file(p, "alice photos/alice0.png\nalice photos/bob0.png\n");
    command(cmd, sizeof cmd, "", "dup", "dup.txt");
    CHECK(hrn_test_run(cmd) == 1);
    snprintf(p, sizeof p, "%s/dup.stderr", DIR);
    err = hrn_test_slurp(p, NULL);
    CHECK_MSG(err && strstr(err, "dup.txt:2") && strstr(err, "again"), "message: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "%s -q --model %s/model.h5 --list %s --out %s/x 2> /dev/null", EXE,
             DIR, DIR, DIR);
    CHECK_MSG(hrn_test_run(cmd) == 1, "a folder as --list was accepted");
}

static void test_batch_mpi(void) {
#ifdef HRN_MPIEXEC
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    char launch[600], cmd[4096];
    snprintf(launch, sizeof launch,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 %s -np 2 --oversubscribe "
             "-x OMP_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0", HRN_MPIEXEC);
    command(cmd, sizeof cmd, launch, "out_mpi", "subjects.txt");
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    check_summary("out_mpi", 1);
    /* one thread per process both ways: the same fits, so the same figures */
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/out/summary.csv", DIR);
    snprintf(q, sizeof q, "%s/out_mpi/summary.csv", DIR);
    char *a = hrn_test_slurp(p, NULL), *b = hrn_test_slurp(q, NULL), sa[16], sb2[16];
    static const char *const names[4] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) {
        double ra, rb;
        summary_of(a, names[i], sa, &ra);
        summary_of(b, names[i], sb2, &rb);
        CHECK_MSG(ra == rb, "%s: landmark RMS %g with --jobs, %g under mpirun", names[i], ra, rb);
    }
    free(a);
    free(b);
#else
    SKIP("hrn was built without MPI");
#endif
}

/* src stored turned 90 degrees counter-clockwise, as a camera held sideways stores it, with an
 * Exif APP1 segment saying orientation 6 (turn 90 degrees clockwise to view) spliced in after the
 * JPEG's SOI marker */
static void write_sideways_jpeg(const struct hrn_image *src, const char *path) {
    struct hrn_image s = {0};
    CHECK_OK(hrn_image_init(&s, src->h, src->w, 3));
    if (!s.data) return;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < s.h; b++)
            for (int a = 0; a < s.w; a++) /* S(a, b) = U(W-1-b, a) */
                s.data[((size_t)c * s.h + b) * s.w + a] =
                    src->data[((size_t)c * src->h + a) * src->w + (src->w - 1 - b)];
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.plain.jpg", path);
    CHECK_OK(hrn_image_write_jpeg(tmp, &s, 95));
    hrn_image_free(&s);
    FILE *in = fopen(tmp, "rb"), *out = fopen(path, "wb");
    CHECK(in && out);
    if (in && out) {
        /* little-endian TIFF: one IFD entry, tag 0x0112 SHORT count 1 value 6 */
        static const unsigned char app1[] = {
            0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
            1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
        unsigned char soi[2];
        CHECK(fread(soi, 1, 2, in) == 2 && soi[0] == 0xFF && soi[1] == 0xD8);
        fwrite(soi, 1, 2, out);
        fwrite(app1, 1, sizeof app1, out);
        int ch;
        while ((ch = fgetc(in)) != EOF) fputc(ch, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

/* hrn-fit on photo (no landmark file next to it) into out; the detected landmarks' error
 * against the manual ones */
static double fit_detected(const char *model, const char *weights, const char *photo,
                           const char *out, const char *stem, const float *manual) {
    char cmd[4096], p[700];
    snprintf(cmd, sizeof cmd,
             "%s -q --model %s --detector %s --image %s --out %s --set stages.coeff=60 "
             "--set stages.mid=5 --set stages.high=2 --set stages.tex=2 --set maps.disp_res=64 "
             "> %s.stdout 2> %s.stderr", EXE, model, weights, photo, out, out, out);
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    snprintf(p, sizeof p, "%s/%s.lm68.txt", out, stem);
    float lm[68 * 2];
    int n = 0;
    CHECK_OK(hrn_lmk_read(p, 0, lm, 68, &n));
    if (n != 68) return INFINITY;
    snprintf(p, sizeof p, "%s/%s_mid.obj", out, stem);
    struct stat sb;
    CHECK_MSG(stat(p, &sb) == 0, "%s missing", p);
    return hrn_lm68_nme(lm, manual);
}

static void test_fit_detects_landmarks(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no realdata directory (set HRN_REALDATA)");
    char model[1024], img[1024], lmk[1024], weights[1024];
    snprintf(model, sizeof model, "%s/sfm/sfm_shape_3448.h5", rd);
    snprintf(img, sizeof img, "%s/eos_example/image_0010.png", rd);
    snprintf(lmk, sizeof lmk, "%s/eos_example/image_0010.lm68.txt", rd);
    snprintf(weights, sizeof weights, "%s", HRN_FACEAPI_H5);
    struct stat sb;
    if (stat(model, &sb) != 0 || stat(img, &sb) != 0) SKIP("SFM or the 300-W photo missing");
    if (stat(weights, &sb) != 0) SKIP("face-api weights missing (%s): scripts/install-deps.sh", weights);
    float manual[68 * 2];
    int n = 0;
    CHECK_OK(hrn_lmk_read(lmk, 0, manual, 68, &n));
    struct hrn_image u = {0}, back = {0};
    CHECK_OK(hrn_image_read(img, HRN_IMAGE_RGB, &u));
    char p[700], q[800];
    snprintf(p, sizeof p, "%s/det", DIR);
    snprintf(q, sizeof q, "mkdir -p %s", p);
    CHECK(hrn_test_run(q) == 0);
    snprintf(p, sizeof p, "%s/det/face.png", DIR);
    CHECK_OK(hrn_image_write_png(p, &u, 8));
    snprintf(q, sizeof q, "%s/det/out_png", DIR);
    double e_png = fit_detected(model, weights, p, q, "face", manual);
    /* the sideways JPEG reads upright */
    snprintf(p, sizeof p, "%s/det/sideways.jpg", DIR);
    write_sideways_jpeg(&u, p);
    CHECK(hrn_image_read_jpeg_orientation(p) == 6);
    CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &back));
    double diff = 0;
    if (back.data && back.w == u.w && back.h == u.h)
        for (size_t i = 0; i < (size_t)3 * u.w * u.h; i++) diff += fabs((double)(back.data[i] - u.data[i]));
    CHECK_MSG(back.w == u.w && back.h == u.h && diff / (3.0 * u.w * u.h) < 0.02,
              "the Exif-rotated JPEG reads as %dx%d (want %dx%d), mean difference %g", back.w,
              back.h, u.w, u.h, diff / (3.0 * u.w * u.h));
    snprintf(q, sizeof q, "%s/det/out_jpg", DIR);
    double e_jpg = fit_detected(model, weights, p, q, "sideways", manual);
    printf("  detected landmarks vs the manual 68 (NME, outer eye corners): PNG %.2f%%, sideways "
           "JPEG with Exif orientation 6 %.2f%%\n", 100 * e_png, 100 * e_jpg);
    CHECK_MSG(e_png < 0.05 && e_jpg < 0.05, "NME %g, %g", e_png, e_jpg);
    hrn_image_free(&u);
    hrn_image_free(&back);
}

int main(void) {
    CHECK_OK(hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_fit_normalize_model(&g_fm));
    RUN(test_batch_one_broken);
    RUN(test_batch_bad_list);
    RUN(test_batch_mpi);
    RUN(test_fit_detects_landmarks);
    hrn_face_model_free(&g_fm);
    hrn_layers_release();
    return hrn_test_finish();
}
