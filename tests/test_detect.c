/* test_detect: the detect module. Without weights: the manifest reader and converter on a small
 * hand-made TF.js model, TensorFlow's 'same' padding, and the kernels against naive loops. With
 * the converted face-api weights (scripts/install-deps.sh): parity with TensorFlow.js, from the
 * fixtures of tests/reference/gen_faceapi_tfjs.js, on a procedural image and (with
 * ../shared/realdata) on three real photos: raw outputs, boxes, crops and landmarks within 1e-4. */
#include "detect_impl.h"
#include "hrn_facerec.h"
#include "hrn_h5.h"
#include "hrn_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers --------------------------------------------------------------------------------- */

static const char *weights_path(void) {
    static char buf[4096];
    const char *e = getenv("HRN_FACEAPI_H5");
    snprintf(buf, sizeof buf, "%s", e && *e ? e : HRN_FACEAPI_H5);
    return buf;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    HRN_ASSERT(f && fwrite(data, 1, n, f) == n);
    fclose(f);
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    HRN_ASSERT(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* A fixture .bin of exactly n float32 values. */
static int read_f32(const char *name, float *out, size_t n) {
    char p[1024];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/faceapi/%s", HRN_TEST_DATA_DIR, name);
    char *s = read_text(p, &len);
    int ok = s && len == n * sizeof(float);
    if (ok) memcpy(out, s, len);
    free(s);
    return ok;
}

/* max |a-b| over n values, and whether all are within atol + rtol·|b| */
static int all_near(const float *a, const float *b, size_t n, double atol, double rtol,
                    double *maxdiff) {
    int ok = 1;
    *maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= atol + rtol * fabs((double)b[i]))) ok = 0;
        if (!(d <= *maxdiff)) *maxdiff = d;
    }
    return ok;
}

/* --- without weights ------------------------------------------------------------------------- */

static void test_json(void) {
    const char *txt = " [ {\"a\": [1, -2.5e1, true, null], \"s\": \"x\\\"y\\u0041\"}, {} ] ";
    struct hrn_json *v = NULL;
    CHECK_OK(hrn_json_parse(txt, strlen(txt), "t.json", &v));
    CHECK(v && v->kind == HRN_JSON_ARR && v->n == 2);
    const struct hrn_json *a = hrn_json_get(v->first, "a"), *s = hrn_json_get(v->first, "s");
    CHECK(a && a->n == 4 && a->first->num == 1 && a->first->next->num == -25);
    CHECK(s && s->kind == HRN_JSON_STR && !strcmp(s->str, "x\"yA"));
    CHECK(!hrn_json_get(v->first, "missing"));
    hrn_json_free(v);
    const char *bad[] = {"[1, 2", "{\"a\" 1}", "[1] x", "\"abc", "[01x]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(hrn_json_parse(bad[i], strlen(bad[i]), "bad.json", &v), HRN_ERR_FORMAT);
        CHECK_ERR_HAS("bad.json");
        CHECK(v == NULL);
    }
}

/* A hand-made model folder: uint8, uint16 and float32 weights, two shards. */
static void make_model(const char *dir, int truncate) {
    char p[1024];
    const char *det = "[{\"paths\": [\"d1.bin\", \"d2.bin\"], \"weights\": ["
                      "{\"name\": \"q8\", \"shape\": [2, 2], \"dtype\": \"float32\", "
                      "\"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.1, \"min\": -1.0}},"
                      "{\"name\": \"f\", \"shape\": [3], \"dtype\": \"float32\"}]}]";
    const char *lm = "[{\"paths\": [\"l.bin\"], \"weights\": [{\"name\": \"q16\", \"shape\": [2], "
                     "\"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint16\", "
                     "\"scale\": 0.5, \"min\": 2.0}}]}]";
    snprintf(p, sizeof p, "%s/tiny_face_detector_model-weights_manifest.json", dir);
    write_bytes(p, det, strlen(det));
    snprintf(p, sizeof p, "%s/face_landmark_68_model-weights_manifest.json", dir);
    write_bytes(p, lm, strlen(lm));
    unsigned char d1[4] = {0, 10, 20, 255};
    float f[3] = {1.5f, -2.0f, 3.25f};
    unsigned char l[4] = {1, 0, 0, 1}; /* 1 and 256, little-endian */
    snprintf(p, sizeof p, "%s/d1.bin", dir);
    write_bytes(p, d1, 4);
    snprintf(p, sizeof p, "%s/d2.bin", dir);
    write_bytes(p, f, truncate ? 10 : 12);
    snprintf(p, sizeof p, "%s/l.bin", dir);
    write_bytes(p, l, 4);
}

static void test_convert(void) {
    const char *dir = hrn_test_tmpdir("detect_convert");
    char out[1024];
    snprintf(out, sizeof out, "%s/w.h5", dir);
    make_model(dir, 0);
    CHECK_OK(hrn_faceapi_convert(dir, out));
    struct hrn_h5 *f = NULL;
    float q8[4], fl[3], q16[2];
    CHECK_OK(hrn_h5_open(out, &f));
    if (!f) return;
    CHECK_OK(hrn_h5_read_f32(f, "tiny_face_detector/q8", 2, (int64_t[]){2, 2}, q8));
    CHECK_OK(hrn_h5_read_f32(f, "tiny_face_detector/f", 1, (int64_t[]){3}, fl));
    CHECK_OK(hrn_h5_read_f32(f, "face_landmark_68/q16", 1, (int64_t[]){2}, q16));
    hrn_h5_close(f);
    /* tfjs: float32(q·scale + min) in double */
    CHECK(q8[0] == (float)(0 * 0.1 - 1.0) && q8[1] == (float)(10 * 0.1 - 1.0));
    CHECK(q8[3] == (float)(255 * 0.1 - 1.0));
    CHECK(fl[0] == 1.5f && fl[1] == -2.0f && fl[2] == 3.25f);
    CHECK(q16[0] == 2.5f && q16[1] == 130.0f);
    /* a shard shorter than the manifest says */
    make_model(dir, 1);
    CHECK_STATUS(hrn_faceapi_convert(dir, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("tiny_face_detector_model-weights_manifest.json");
    /* a missing folder names the manifest */
    CHECK_STATUS(hrn_faceapi_convert("/nonexistent/dir", out), HRN_ERR_IO);
    CHECK_ERR_HAS("/nonexistent/dir/tiny_face_detector_model-weights_manifest.json");
    /* the loader refuses a file that is not a converted face-api model */
    struct hrn_detect d = {0};
    make_model(dir, 0);
    CHECK_OK(hrn_faceapi_convert(dir, out));
    CHECK_STATUS(hrn_detect_load(&d, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("conv0/filters");
    CHECK(d.params == NULL);
}

static void test_same_pad(void) {
    int out;
    CHECK(hrn_dk_same_pad(112, 3, 2, &out) == 0 && out == 56); /* total 1: (0, 1) */
    CHECK(hrn_dk_same_pad(207, 2, 2, &out) == 0 && out == 104);
    CHECK(hrn_dk_same_pad(13, 2, 1, &out) == 0 && out == 13);
    CHECK(hrn_dk_same_pad(56, 3, 1, &out) == 1 && out == 56);
    CHECK(hrn_dk_same_pad(8, 5, 2, &out) == 1 && out == 4);  /* total 3: (1, 2) */
}

/* Naive conv on (h,w,cin) with explicit pads, HWIO weights. */
static float naive_conv_at(const float *in, const float *w, int h, int wd, int cin, int cout,
                           int k, int s, int pt, int pl, int oy, int ox, int co) {
    double acc = 0;
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
            for (int ci = 0; ci < cin; ci++) {
                int iy = oy * s - pt + ky, ix = ox * s - pl + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += (double)in[(iy * wd + ix) * cin + ci] *
                       (double)w[((ky * k + kx) * cin + ci) * cout + co];
            }
    return (float)acc;
}

static void fill(float *x, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static void test_kernels(void) {
    enum { H = 9, W = 7, CI = 5, CO = 6, K = 3 };
    float in[H * W * CI], w[K * K * CI * CO], b[CO], dw[9 * CI], out[H * W * CO], ref;
    fill(in, H * W * CI, 1);
    fill(w, K * K * CI * CO, 2);
    fill(b, CO, 3);
    fill(dw, 9 * CI, 4);
    struct hrn_dconv c = {w, b, K, CI, CO};
    int oh, ow, pt = hrn_dk_same_pad(H, K, 2, &oh), pl = hrn_dk_same_pad(W, K, 2, &ow);
    hrn_dk_conv(out, in, &c, H, W, 2, pt, pl, oh, ow); /* stride 2 'same': 5x4 */
    double md = 0;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int o = 0; o < CO; o++) {
                ref = naive_conv_at(in, w, H, W, CI, CO, K, 2, pt, pl, y, x, o) + b[o];
                md = fmax(md, fabs((double)(out[(y * ow + x) * CO + o] - ref)));
            }
    CHECK_MSG(md < 1e-5, "conv stride 2: max diff %g", md);
    /* depthwise = conv with a diagonal weight */
    float wd[9 * CI * CI] = {0};
    for (int t = 0; t < 9; t++)
        for (int ch = 0; ch < CI; ch++) wd[(t * CI + ch) * CI + ch] = dw[t * CI + ch];
    hrn_dk_depthwise3(out, in, dw, H, W, CI, 1, 1, 1, H, W);
    md = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int ch = 0; ch < CI; ch++)
                md = fmax(md, fabs((double)(out[(y * W + x) * CI + ch] -
                                            naive_conv_at(in, wd, H, W, CI, CI, 3, 1, 1, 1, y, x, ch))));
    CHECK_MSG(md < 1e-5, "depthwise: max diff %g", md);
    /* max pool 2/2 'same' on odd sizes: the last row/column pools alone, pads never win */
    float neg[3 * 3] = {-5, -4, -3, -2, -1, -6, -7, -8, -9}, mp[4];
    hrn_dk_maxpool_same(mp, neg, 3, 3, 1, 2, 2);
    CHECK(mp[0] == -1 && mp[1] == -3 && mp[2] == -7 && mp[3] == -9);
    float lk[2] = {-2.0f, 3.0f};
    hrn_dk_leaky(lk, 2);
    CHECK_NEAR(lk[0], -0.2, 1e-7, 0);
    CHECK(lk[1] == 3.0f);
}

/* --- parity with TensorFlow.js ---------------------------------------------------------------- */

static struct hrn_detect g_det;
static int g_loaded = -1; /* -1 not tried, 0 absent, 1 loaded */

static int load_weights(void) {
    if (g_loaded < 0) {
        g_loaded = file_exists(weights_path()) && hrn_detect_load(&g_det, weights_path()) == HRN_OK;
        if (file_exists(weights_path()) && !g_loaded) printf("  %s\n", hrn_error_msg());
    }
    return g_loaded;
}

#define NEED_WEIGHTS()                                                                       \
    do {                                                                                     \
        if (!load_weights())                                                                 \
            SKIP("face-api weights not at %s (scripts/install-deps.sh fetches them; rebuild " \
                 "to convert)", weights_path());                                             \
    } while (0)

static struct hrn_json *g_fix;

static const struct hrn_json *fixtures(void) {
    if (!g_fix) {
        char p[1024];
        size_t len = 0;
        snprintf(p, sizeof p, "%s/faceapi/fixtures.json", HRN_TEST_DATA_DIR);
        char *s = read_text(p, &len);
        HRN_ASSERT(s);
        HRN_ASSERT(hrn_json_parse(s, len, p, &g_fix) == HRN_OK);
        free(s);
    }
    return g_fix;
}

static double num_at(const struct hrn_json *arr, int i) {
    const struct hrn_json *v = arr->first;
    while (i-- > 0 && v) v = v->next;
    HRN_ASSERT(v && v->kind == HRN_JSON_NUM);
    return v->num;
}

static float *synth_image(int w, int h) {
    float *px = malloc((size_t)w * h * 3 * sizeof *px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[(y * w + x) * 3 + c] = (float)((x * 7 + y * 13 + c * 50 + ((x * y) >> 3)) & 255);
    return px;
}

/* Detector raw output and decoded boxes of one case against the fixture. */
static void check_detector(const struct hrn_json *c, const float *hwc, int w, int h,
                           struct hrn_detect_box *boxes, int *nb) {
    int size = (int)hrn_json_get(c, "input_size")->num, g = size / 32;
    size_t n = (size_t)g * g * 25;
    float *x = malloc((size_t)size * size * 3 * sizeof *x), *out = malloc(n * sizeof *out),
          *ref = malloc(n * sizeof *ref);
    const char *name = hrn_json_get(c, "name")->str;
    CHECK(read_f32(hrn_json_get(c, "det_raw")->str, ref, n));
    hrn_tinyface_input(x, hwc, w, h, size);
    CHECK_OK(hrn_tinyface_forward(&g_det, x, size, out));
    double md;
    CHECK_MSG(all_near(out, ref, n, 1e-4, 1e-5, &md), "%s: detector raw max diff %g", name, md);
    printf("  %s: detector raw (%d,%d,25) max |diff| %.2g\n", name, g, g, md);
    struct hrn_detect_options o = hrn_detect_defaults();
    o.input_size = size;
    o.score_threshold = (float)hrn_json_get(c, "score_threshold")->num;
    *nb = hrn_tinyface_decode(out, size, w, h, &o, boxes, 64);
    const struct hrn_json *faces = hrn_json_get(c, "faces");
    CHECK_MSG(*nb == faces->n, "%s: %d boxes, face-api has %d", name, *nb, faces->n);
    int i = 0;
    for (const struct hrn_json *f = faces->first; f && i < *nb; f = f->next, i++) {
        const struct hrn_json *bx = hrn_json_get(f, "box");
        CHECK_NEAR(boxes[i].score, hrn_json_get(f, "score")->num, 1e-4, 0);
        CHECK_NEAR(boxes[i].x0, num_at(bx, 0), 1e-4, 1e-6);
        CHECK_NEAR(boxes[i].y0, num_at(bx, 1), 1e-4, 1e-6);
        CHECK_NEAR(boxes[i].x1 - boxes[i].x0, num_at(bx, 2), 1e-4, 1e-6);
        CHECK_NEAR(boxes[i].y1 - boxes[i].y0, num_at(bx, 3), 1e-4, 1e-6);
    }
    free(x);
    free(out);
    free(ref);
}

/* Crop, raw landmark output and landmarks of each face against the fixture. */
static void check_landmarks(const struct hrn_json *c, const float *hwc, int w, int h,
                            const struct hrn_detect_box *boxes, int nb) {
    const char *name = hrn_json_get(c, "name")->str;
    double worst_raw = 0, worst_px = 0;
    int i = 0;
    for (const struct hrn_json *f = hrn_json_get(c, "faces")->first; f && i < nb; f = f->next, i++) {
        const struct hrn_json *cr = hrn_json_get(f, "crop"), *pos = hrn_json_get(f, "landmarks");
        int cx, cy, cw, ch;
        CHECK(hrn_lm68_crop(&boxes[i], w, h, &cx, &cy, &cw, &ch));
        CHECK_MSG(cx == num_at(cr, 0) && cy == num_at(cr, 1) && cw == num_at(cr, 2) &&
                  ch == num_at(cr, 3), "%s face %d: crop %d %d %d %d", name, i, cx, cy, cw, ch);
        float x[HRN_LM68_INPUT * HRN_LM68_INPUT * 3], out[136], ref[136], lm[136];
        hrn_lm68_input(x, hwc, w, cx, cy, cw, ch);
        CHECK_OK(hrn_lm68_forward(&g_det, x, out));
        CHECK(read_f32(hrn_json_get(f, "lm_raw")->str, ref, 136));
        double md;
        CHECK_MSG(all_near(out, ref, 136, 1e-4, 0, &md), "%s face %d: raw max diff %g", name, i, md);
        worst_raw = fmax(worst_raw, md);
        /* face-api shifts by the detection box's corner, hrn by the crop's (hrn_detect.h) */
        CHECK_OK(hrn_lm68_on_box(&g_det, hwc, w, h, &boxes[i], lm));
        double sx = num_at(hrn_json_get(f, "box"), 0) - cx, sy = num_at(hrn_json_get(f, "box"), 1) - cy;
        double face_px = 0;
        for (int k = 0; k < 68; k++) {
            double dx = fabs((double)lm[2 * k] + sx - num_at(pos, 2 * k));
            double dy = fabs((double)lm[2 * k + 1] + sy - num_at(pos, 2 * k + 1));
            face_px = fmax(face_px, fmax(dx, dy));
        }
        /* the raw outputs' 1e-4 is relative to the crop's size */
        CHECK_MSG(face_px <= 1e-4 * (cw > ch ? cw : ch), "%s face %d: landmarks max diff %g px "
                  "for a %dx%d crop", name, i, face_px, cw, ch);
        worst_px = fmax(worst_px, face_px);
    }
    printf("  %s: %d face(s), landmark raw max |diff| %.2g, landmarks max |diff| %.2g px\n", name,
           nb, worst_raw, worst_px);
}

static void test_parity_synth(void) {
    NEED_WEIGHTS();
    const struct hrn_json *c = hrn_json_get(fixtures(), "cases")->first;
    HRN_ASSERT(!strcmp(hrn_json_get(c, "name")->str, "synth"));
    int w = (int)hrn_json_get(c, "width")->num, h = (int)hrn_json_get(c, "height")->num, nb = 0;
    float *hwc = synth_image(w, h);
    struct hrn_detect_box boxes[64];
    check_detector(c, hwc, w, h, boxes, &nb);
    /* the landmark net alone on a 61x52 crop (odd padding) */
    const struct hrn_json *sc = hrn_json_get(fixtures(), "synth_crop"), *cr = hrn_json_get(sc, "crop");
    float x[HRN_LM68_INPUT * HRN_LM68_INPUT * 3], out[136], ref[136];
    hrn_lm68_input(x, hwc, w, (int)num_at(cr, 0), (int)num_at(cr, 1), (int)num_at(cr, 2),
                   (int)num_at(cr, 3));
    CHECK_OK(hrn_lm68_forward(&g_det, x, out));
    CHECK(read_f32(hrn_json_get(sc, "lm_raw")->str, ref, 136));
    double md;
    CHECK_MSG(all_near(out, ref, 136, 1e-4, 0, &md), "synth crop: landmark raw max diff %g", md);
    printf("  synth crop: landmark raw max |diff| %.2g\n", md);
    free(hwc);
}

static void test_parity_photos(void) {
    NEED_WEIGHTS();
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no ../shared/realdata (set HRN_REALDATA)");
    for (const struct hrn_json *c = hrn_json_get(fixtures(), "cases")->first; c; c = c->next) {
        const struct hrn_json *rel = hrn_json_get(c, "realdata");
        if (!rel) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", rd, rel->str);
        struct hrn_image img = {0};
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &img));
        if (!img.data) continue;
        float *hwc = hrn_detect_hwc255(&img);
        struct hrn_detect_box boxes[64];
        int nb = 0;
        check_detector(c, hwc, img.w, img.h, boxes, &nb);
        check_landmarks(c, hwc, img.w, img.h, boxes, nb);
        free(hwc);
        hrn_image_free(&img);
    }
}

/* --- the face descriptor --------------------------------------------------------------------- */

/* The descriptor of a crop of hwc against a fixture's; returns the max |diff| (or 1 on error). */
static double descriptor_diff(const struct hrn_facerec *fr, const float *hwc, int w,
                              const struct hrn_json *crop, const char *ref_bin) {
    enum { S = HRN_FACEREC_INPUT };
    struct hrn_tape tape = {0};
    float *x = malloc((size_t)3 * S * S * sizeof *x), ref[HRN_FACEREC_DIM];
    double md = 1;
    CHECK(x && read_f32(ref_bin, ref, HRN_FACEREC_DIM));
    CHECK_OK(hrn_tape_init(&tape, (size_t)64 << 20));
    if (x && tape.nodes) {
        hrn_facerec_input(x, hwc, w, (int)num_at(crop, 0), (int)num_at(crop, 1),
                          (int)num_at(crop, 2), (int)num_at(crop, 3));
        struct hrn_tensor *in = hrn_tape_wrap(&tape, x, 4, (int64_t[]){1, 3, S, S}, "face");
        struct hrn_tensor *d = hrn_facerec_forward(fr, &tape, in);
        CHECK_MSG(d && d->numel == HRN_FACEREC_DIM, "descriptor: %s", hrn_error_msg());
        if (d) {
            double big = 0;
            md = 0;
            for (int i = 0; i < HRN_FACEREC_DIM; i++) {
                md = fmax(md, fabs((double)d->data[i] - (double)ref[i]));
                big = fmax(big, fabs((double)ref[i]));
            }
            CHECK_MSG(big > 0.05, "%s: reference descriptor is near zero (%g)", ref_bin, big);
        }
    }
    hrn_tape_free(&tape);
    free(x);
    return md;
}

/* FaceRecognitionNet on the fixtures' crops (the synthetic one, every detected face of the
 * photos): the 128 values within 1e-4 of TF.js. */
static void test_facerec_parity(void) {
    NEED_WEIGHTS();
    struct hrn_facerec fr = {0};
    CHECK_OK(hrn_facerec_load(&fr, weights_path()));
    if (!fr.params) return;
    const struct hrn_json *sc = hrn_json_get(fixtures(), "synth_crop");
    float *hwc = synth_image(200, 150);
    double md = descriptor_diff(&fr, hwc, 200, hrn_json_get(sc, "crop"),
                                hrn_json_get(sc, "desc")->str);
    free(hwc);
    CHECK_MSG(md <= 1e-4, "synth crop: descriptor max diff %g", md);
    printf("  synth crop 61x52: descriptor max |diff| %.2g\n", md);
    const char *rd = hrn_test_realdata();
    for (const struct hrn_json *c = hrn_json_get(fixtures(), "cases")->first; rd && c;
         c = c->next) {
        const struct hrn_json *rel = hrn_json_get(c, "realdata");
        if (!rel) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", rd, rel->str);
        struct hrn_image img = {0};
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &img));
        if (!img.data) continue;
        float *px = hrn_detect_hwc255(&img);
        double worst = 0;
        int n = 0;
        for (const struct hrn_json *f = hrn_json_get(c, "faces")->first; px && f; f = f->next) {
            worst = fmax(worst, descriptor_diff(&fr, px, img.w, hrn_json_get(f, "crop"),
                                                hrn_json_get(f, "desc")->str));
            n++;
        }
        CHECK_MSG(worst <= 1e-4, "%s: descriptor max diff %g", rel->str, worst);
        printf("  %s: %d face(s), descriptor max |diff| %.2g\n", hrn_json_get(c, "name")->str,
               n, worst);
        free(px);
        hrn_image_free(&img);
    }
    hrn_facerec_free(&fr);
}

int main(void) {
    RUN(test_json);
    RUN(test_convert);
    RUN(test_same_pad);
    RUN(test_kernels);
    RUN(test_parity_synth);
    RUN(test_parity_photos);
    RUN(test_facerec_parity);
    hrn_detect_free(&g_det);
    hrn_json_free(g_fix);
    return hrn_test_finish();
}
