/* test_core_lmk.c: landmark text and .pts files, the 68 -> 5 reduction, the real 300-W and dlib
 * landmark files, and the errors (wrong count, bad line, NaN/Inf, missing file). */
#include "hrn_test.h"

static char g_path[1024];

static const char *write_text(const char *name, const char *text) {
    snprintf(g_path, sizeof g_path, "%s/%s", hrn_test_tmpdir("lmk"), name);
    FILE *f = fopen(g_path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return g_path;
}

static void test_txt_round_trip(void) {
    float xy[68 * 2], back[68 * 2];
    for (int i = 0; i < 136; i++)
        xy[i] = 0.1f * (float)i * (float)i - 3.14159f + 1e-5f * (float)i;
    char p[1024];
    snprintf(p, sizeof p, "%s/rt.lm68.txt", hrn_test_tmpdir("lmk"));
    CHECK_OK(hrn_lmk_write_txt(p, xy, 68));
    int n = 0;
    CHECK_OK(hrn_lmk_read(p, 68, back, 68, &n));
    CHECK(n == 68);
    for (int i = 0; i < 136; i++)
        CHECK(back[i] == xy[i]); /* %.9g is exact for float */
    /* .pts adds 1 on write and subtracts it on read */
    snprintf(p, sizeof p, "%s/rt.pts", hrn_test_tmpdir("lmk"));
    CHECK_OK(hrn_lmk_write_pts(p, xy, 68));
    CHECK_OK(hrn_lmk_read(p, 68, back, 68, NULL));
    for (int i = 0; i < 136; i++)
        CHECK_NEAR(back[i], xy[i], 1e-5, 1e-6);
    FILE *f = fopen(p, "r");
    char head[64] = "";
    if (f) {
        size_t k = fread(head, 1, sizeof head - 1, f);
        head[k] = '\0';
        fclose(f);
    }
    CHECK(strncmp(head, "version: 1\nn_points: 68\n{\n", 26) == 0);
    CHECK_STATUS(hrn_lmk_write_txt("no/such/dir/x.txt", xy, 68), HRN_ERR_IO);
    xy[3] = NAN;
    CHECK_STATUS(hrn_lmk_write_txt(p, xy, 68), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("landmark 1 is not finite");
}

static void test_txt_format(void) {
    float xy[10];
    int n = 0;
    const char *p = write_text("five.txt", "# five points\n\n10 20\n  11.5\t21.25  \n12 22 # nose\n"
                                           "\n1e1 -2\n14 24\n");
    CHECK_OK(hrn_lmk_read_txt(p, 5, xy, 5, &n));
    CHECK(n == 5 && xy[0] == 10 && xy[1] == 20 && xy[2] == 11.5f && xy[3] == 21.25f);
    CHECK(xy[6] == 10 && xy[7] == -2);
    /* any count */
    CHECK_OK(hrn_lmk_read(p, 0, xy, 5, &n));
    CHECK(n == 5);
    CHECK_STATUS(hrn_lmk_read(p, 0, xy, 4, &n), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("more than 4 landmarks");
    CHECK_STATUS(hrn_lmk_read(p, 68, xy, 5, &n), HRN_ERR_INVALID); /* buffer too small */
}

static void test_errors(void) {
    float xy[68 * 2];
    /* 67 lines when 68 are expected */
    char text[68 * 16] = "";
    for (int i = 0; i < 67; i++)
        snprintf(text + strlen(text), 16, "%d %d\n", i, 2 * i);
    const char *p = write_text("x.txt", text);
    CHECK_STATUS(hrn_lmk_read(p, 68, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("x.txt: 67 landmarks, expected 68");
    /* 69 lines as well */
    strcat(text, "1 2\n2 3\n");
    CHECK_STATUS(hrn_lmk_read(write_text("x.txt", text), 68, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("x.txt: 69 landmarks, expected 68");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 2\n3 4\n5 six\n"), 3, xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt:3: 'six' is not a finite number");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 2\n\n3\n"), 2, xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt:3: expected 'x y', found one value");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 2 3\n"), 1, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt:1: expected 'x y', found more than two values");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 2\nnan 3\n"), 2, xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt:2: 'nan' is not a finite number");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 inf\n"), 1, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt:1: 'inf' is not a finite number");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "1 1e999\n"), 1, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("'1e999' is not a finite number");
    CHECK_STATUS(hrn_lmk_read(write_text("bad.txt", "# empty\n"), 0, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.txt: no landmarks");
    CHECK_STATUS(hrn_lmk_read("no/such/file.txt", 68, xy, 68, NULL), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/file.txt: cannot open");
    CHECK_STATUS(hrn_lmk_read("no/such/file.pts", 68, xy, 68, NULL), HRN_ERR_IO);
    CHECK_STATUS(hrn_lmk_read("points.csv", 68, xy, 68, NULL), HRN_ERR_UNSUPPORTED);
    CHECK_ERR_HAS("points.csv");
    /* .pts problems */
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "version: 1\nn_points: 3\n{\n1 1\n2 2\n}\n"), 0,
                              xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts: 2 landmarks, but n_points says 3");
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "version: 1\nn_points: 2\n{\n1 1\n2 2\n"), 0, xy,
                              68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts: no closing '}'");
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "version: 2\nn_points: 2\n{\n1 1\n2 2\n}\n"), 0,
                              xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts:1: expected 'version: 1'");
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "version: 1\nn_points: 2\n{\n1 1\n2 x\n}\n"), 0,
                              xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts:5: 'x' is not a finite number");
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "version: 1\nn_points: 2\n{\n1 1\n2 2\n}\n"), 68,
                              xy, 68, NULL),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts: 2 landmarks, expected 68");
    CHECK_STATUS(hrn_lmk_read(write_text("a.pts", "1 1\n2 2\n"), 0, xy, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.pts:1: expected 'version:', 'n_points:' or '{'");
    int n = 0;
    CHECK_OK(hrn_lmk_read(write_text("a.pts", "version: 1\nn_points:  2\n{\n1 1\n2.5 2\n}"), 0, xy,
                          68, &n));
    CHECK(n == 2 && xy[0] == 0 && xy[1] == 0 && xy[2] == 1.5f && xy[3] == 1);
}

static void test_extract_5p(void) {
    float lm68[136], lm5[10];
    for (int i = 0; i < 68; i++) {
        lm68[2 * i] = (float)(3 * i);
        lm68[2 * i + 1] = (float)(1000 - 7 * i);
    }
    hrn_lmk_extract_5p(lm68, lm5);
    CHECK(lm5[0] == 1.5f * (36 + 39) && lm5[1] == 1000 - 3.5f * (36 + 39));
    CHECK(lm5[2] == 1.5f * (42 + 45) && lm5[3] == 1000 - 3.5f * (42 + 45));
    CHECK(lm5[4] == 90 && lm5[5] == 1000 - 210);
    CHECK(lm5[6] == 144 && lm5[7] == 1000 - 336);
    CHECK(lm5[8] == 162 && lm5[9] == 1000 - 378);
}

static void test_real_300w_pts_vs_txt(void) {
    const char *d = hrn_test_realdata();
    if (!d) {
        SKIP("shared/realdata not found (set HRN_REALDATA)");
        return;
    }
    char pts[1024], txt[1024];
    snprintf(pts, sizeof pts, "%s/eos_example/image_0010.pts", d);
    snprintf(txt, sizeof txt, "%s/eos_example/image_0010.lm68.txt", d);
    FILE *f = fopen(pts, "r");
    if (!f) {
        SKIP("%s absent", pts);
        return;
    }
    fclose(f);
    float a[136], b[136];
    CHECK_OK(hrn_lmk_read(pts, 68, a, 68, NULL));
    CHECK_OK(hrn_lmk_read(txt, 68, b, 68, NULL));
    /* the .txt was made as pts - 1 and printed with 6 decimals; both round to the same float */
    for (int i = 0; i < 136; i++)
        CHECK_NEAR(a[i], b[i], 1e-6, 0);
    /* first point of the .pts is 611.284152 272.773913 */
    CHECK_NEAR(a[0], 610.284152, 1e-4, 0);
    CHECK_NEAR(a[1], 271.773913, 1e-4, 0);
    /* the 5 points lie where the face is: eyes above the mouth, left eye left of the right */
    float lm5[10];
    hrn_lmk_extract_5p(a, lm5);
    CHECK(lm5[0] < lm5[2] && lm5[1] < lm5[7] && lm5[6] < lm5[8]);
}

static void test_real_dlib_lm68(void) {
    const char *d = hrn_test_realdata();
    if (!d) {
        SKIP("shared/realdata not found (set HRN_REALDATA)");
        return;
    }
    static const char *const files[] = {
        "2007_007763.face0", "2007_007763.face1", "2007_007763.face2", "2007_007763.face3",
        "2007_007763.face4", "2007_007763.face5", "2007_007763.face6", "2008_001009.face0",
        "2008_001009.face1", "2008_001322.face0", "2008_001322.face1", "2008_001322.face2",
        "2008_002506.face0", "2008_002506.face1", "2008_002506.face2",
    };
    int found = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/dlib_faces/%s.lm68.txt", d, files[i]);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        fclose(f);
        found++;
        float xy[136];
        int n = 0;
        CHECK_OK(hrn_lmk_read(p, 68, xy, 68, &n));
        CHECK(n == 68);
        /* integer pixel positions inside a PASCAL VOC image */
        for (int k = 0; k < 136; k++)
            CHECK(xy[k] == floorf(xy[k]) && xy[k] > -100 && xy[k] < 2000);
        /* a 5-point file can be derived and read back as one */
        float lm5[10], back[10];
        hrn_lmk_extract_5p(xy, lm5);
        char o[1024];
        snprintf(o, sizeof o, "%s/%s.lm5.txt", hrn_test_tmpdir("lmk"), files[i]);
        CHECK_OK(hrn_lmk_write_txt(o, lm5, 5));
        CHECK_OK(hrn_lmk_read(o, 5, back, 5, NULL));
        CHECK(memcmp(lm5, back, sizeof lm5) == 0);
    }
    if (!found) SKIP("%s/dlib_faces has no lm68 files", d);
}

static void test_real_deep3d_lm5(void) {
    const char *d = hrn_test_realdata();
    if (!d) {
        SKIP("shared/realdata not found (set HRN_REALDATA)");
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/deep3d_examples/000002.lm5.txt", d);
    FILE *f = fopen(p, "r");
    if (!f) {
        SKIP("%s absent", p);
        return;
    }
    fclose(f);
    float xy[10];
    CHECK_OK(hrn_lmk_read(p, 5, xy, 5, NULL));
    CHECK_NEAR(xy[0], 142.84, 1e-4, 0);
    CHECK_NEAR(xy[5], 253.57, 1e-4, 0);
    CHECK_NEAR(xy[9], 284.74, 1e-4, 0);
    CHECK_STATUS(hrn_lmk_read(p, 68, (float[136]){0}, 68, NULL), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("000002.lm5.txt: 5 landmarks, expected 68");
}

int main(void) {
    RUN(test_txt_round_trip);
    RUN(test_txt_format);
    RUN(test_errors);
    RUN(test_extract_5p);
    RUN(test_real_300w_pts_vs_txt);
    RUN(test_real_dlib_lm68);
    RUN(test_real_deep3d_lm5);
    return hrn_test_finish();
}
