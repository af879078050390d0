/* test_data_align.c: PIL bicubic parity, POS, Deep3D alignment crops, face region. */
#include "hrn_data.h"
#include "hrn_test.h"

static struct hrn_h5 *open_fixture(void) {
    struct hrn_h5 *f = NULL;
    if (hrn_h5_open(HRN_TEST_DATA_DIR "/align_pil.h5", &f) != HRN_OK) return NULL;
    return f;
}

/* Read a (C,H,W) uint8 dataset into an image with values /255. */
static int read_img(struct hrn_h5 *f, const char *name, struct hrn_image *img) {
    int ndim;
    int64_t sh[HRN_H5_MAX_DIMS];
    if (hrn_h5_shape(f, name, &ndim, sh) != HRN_OK || ndim != 3) return 0;
    if (hrn_image_init(img, (int)sh[2], (int)sh[1], (int)sh[0]) != HRN_OK) return 0;
    if (hrn_h5_read_f32(f, name, 3, sh, img->data) != HRN_OK) return 0;
    for (size_t i = 0; i < (size_t)(sh[0] * sh[1] * sh[2]); i++) img->data[i] /= 255.0f;
    return 1;
}

static double max_diff255(const struct hrn_image *a, const struct hrn_image *b, int row0) {
    /* b may be a band of a's rows starting at row0 */
    double m = 0;
    for (int c = 0; c < b->c; c++)
        for (int y = 0; y < b->h; y++)
            for (int x = 0; x < b->w; x++) {
                double d = fabs((double)a->data[((size_t)c * (size_t)a->h + (size_t)(y + row0)) * (size_t)a->w + (size_t)x] -
                                (double)b->data[((size_t)c * (size_t)b->h + (size_t)y) * (size_t)b->w + (size_t)x]);
                if (d > m) m = d;
            }
    return m * 255;
}

static void test_pil_bicubic_exact(void) {
    struct hrn_h5 *f = open_fixture();
    CHECK(f != NULL);
    if (!f) return;
    struct hrn_image src = {0};
    CHECK(read_img(f, "resize/src", &src));
    for (int i = 0; i < 4; i++) {
        char name[64];
        int32_t p[6];
        snprintf(name, sizeof name, "resize/%d/params", i);
        CHECK_OK(hrn_h5_read_i32(f, name, 1, (int64_t[]){6}, p));
        struct hrn_image want = {0}, got = {0};
        snprintf(name, sizeof name, "resize/%d/out", i);
        CHECK(read_img(f, name, &want));
        CHECK_OK(hrn_resize_pil_bicubic(&src, p[0], p[1], p[2], p[3], p[4], p[5], 0.0f, &got));
        if (got.data && want.data) {
            double d = max_diff255(&got, &want, 0);
            CHECK_MSG(d == 0, "case %d (%dx%d window %d,%d %dx%d): max diff %g/255", i, p[0], p[1],
                      p[2], p[3], p[4], p[5], d);
        }
        hrn_image_free(&want);
        hrn_image_free(&got);
    }
    /* a non-8-bit image takes the floating-point path: within a level of the 8-bit result */
    struct hrn_image soft = {0}, a = {0}, b = {0};
    CHECK_OK(hrn_image_init(&soft, src.w, src.h, src.c));
    for (size_t i = 0; i < (size_t)src.w * (size_t)src.h * 3; i++)
        soft.data[i] = src.data[i] + 0.3f / 255.0f;
    CHECK_OK(hrn_resize_pil_bicubic(&soft, 31, 60, 0, 0, 31, 60, 0.0f, &a));
    CHECK_OK(hrn_resize_pil_bicubic(&src, 31, 60, 0, 0, 31, 60, 0.0f, &b));
    if (a.data && b.data) CHECK(max_diff255(&a, &b, 0) < 1.5);
    hrn_image_free(&soft);
    hrn_image_free(&a);
    hrn_image_free(&b);
    hrn_image_free(&src);
    hrn_h5_close(f);
}

static void test_deep3d_align_exact(void) {
    struct hrn_h5 *f = open_fixture();
    CHECK(f != NULL);
    if (!f) return;
    struct hrn_image photo = {0};
    CHECK(read_img(f, "align/photo", &photo));
    float lm5[10], lm3d[15], lm_out[10];
    double pos[3];
    CHECK_OK(hrn_h5_read_f32(f, "align/lm5_ydown", 2, (int64_t[]){5, 2}, lm5));
    CHECK_OK(hrn_h5_read_f32(f, "align/lm3d5", 2, (int64_t[]){5, 3}, lm3d));
    CHECK_OK(hrn_h5_read_f64(f, "align/pos", 1, (int64_t[]){3}, pos));
    struct hrn_align a;
    CHECK_OK(hrn_align_fit(lm5, 5, photo.w, photo.h, lm3d, &a));
    CHECK_NEAR(a.s, pos[0], 0, 1e-5);
    CHECK_NEAR(a.t0, pos[1], 1e-3, 1e-5);
    CHECK_NEAR(a.t1, pos[2], 1e-3, 1e-5);
    static const int sizes[2] = {224, 512};
    for (int k = 0; k < 2; k++) {
        int T = sizes[k];
        struct hrn_image crop = {0}, want = {0};
        char name[64];
        snprintf(name, sizeof name, "align/%d/crop", T);
        CHECK(read_img(f, name, &want));
        CHECK_OK(hrn_align_crop(&photo, &a, T, 102.0 * T / 224, &crop, lm5, 5, lm_out));
        if (crop.data && want.data) {
            CHECK(crop.w == T && crop.h == T);
            double d = max_diff255(&crop, &want, T == 224 ? 0 : 200);
            CHECK_MSG(d == 0, "crop %d differs from PIL by %g/255", T, d);
        }
        float lm_want[10];
        snprintf(name, sizeof name, "align/%d/lm", T);
        CHECK_OK(hrn_h5_read_f32(f, name, 2, (int64_t[]){5, 2}, lm_want));
        for (int i = 0; i < 10; i++) CHECK_NEAR(lm_out[i], lm_want[i], 2e-3, 1e-5);
        hrn_image_free(&crop);
        hrn_image_free(&want);
    }
    hrn_image_free(&photo);
    hrn_h5_close(f);
}

static void test_pos_recovers_scaled_orthographic(void) {
    float X[8 * 3], xy[8 * 2], s, t[2];
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    hrn_rng_fill_uniform(&r, X, 24, -1.0f, 1.0f);
    for (int i = 0; i < 8; i++) { /* x = 80 X + 30, y = 80 Y - 12 */
        xy[2 * i] = 80.0f * X[3 * i] + 30.0f;
        xy[2 * i + 1] = 80.0f * X[3 * i + 1] - 12.0f;
    }
    CHECK_OK(hrn_align_pos(xy, X, 8, &s, t));
    CHECK_NEAR(s, 80.0, 1e-3, 0);
    CHECK_NEAR(t[0], 30.0, 1e-3, 0);
    CHECK_NEAR(t[1], -12.0, 1e-3, 0);
    float flat[5 * 3] = {0}; /* all at the origin: degenerate */
    CHECK_STATUS(hrn_align_pos(xy, flat, 5, &s, t), HRN_ERR_NUMERIC);
    CHECK_STATUS(hrn_align_pos(xy, X, 3, &s, t), HRN_ERR_INVALID);
}

/* Render the synthetic face with HRN's camera, put it into a larger "photo" at another scale and
 * place, align it back: the crop's landmarks must land where the camera projected them. */
static void test_synthetic_round_trip(void) {
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(&fm), sizeof(float));
    float *verts = malloc((size_t)(3 * fm.n_verts) * sizeof(float));
    struct hrn_camera cam = hrn_camera_default();
    struct hrn_image render = {0}, photo = {0}, crop = {0};
    CHECK_OK(hrn_render_shaded(&fm, coeffs, &cam, NULL, &render));
    hrn_face_posed(&fm, coeffs, verts);
    float lm_true[68 * 2], lm_photo[68 * 2], lm_crop[68 * 2], lm5_3d[15];
    for (int i = 0; i < 68; i++) {
        float uvz[3];
        hrn_project(&cam, verts + 3 * fm.lmk68[i], 1, uvz);
        lm_true[2 * i] = uvz[0] - 0.5f;       /* (u, v) -> y-up pixel-centre units of the crop */
        lm_true[2 * i + 1] = uvz[1] - 0.5f;
    }
    /* photo = render scaled by 1.6 and moved: photo(x,y) = render((x - 70)/1.6, (y - 40)/1.6) */
    const double sc = 1.6, ox = 70, oy = 40;
    double A[6] = {1 / sc, 0, -ox / sc, 0, 1 / sc, -oy / sc};
    CHECK_OK(hrn_image_warp_affine(&render, A, 480, 420, NULL, &photo));
    for (int i = 0; i < 68; i++) { /* y-down render pixel -> photo pixel */
        double xr = lm_true[2 * i], yr = 223 - (double)lm_true[2 * i + 1];
        lm_photo[2 * i] = (float)(xr * sc + ox);
        lm_photo[2 * i + 1] = (float)(yr * sc + oy);
    }
    CHECK_OK(hrn_model_lm5(&fm, lm5_3d));
    struct hrn_align a;
    CHECK_OK(hrn_align_fit(lm_photo, 68, photo.w, photo.h, lm5_3d, &a));
    CHECK_OK(hrn_align_crop(&photo, &a, 224, 102.0, &crop, lm_photo, 68, lm_crop));
    /* the fit is scaled-orthographic, the render perspective: a few pixels of disagreement */
    double err = 0;
    for (int i = 0; i < 68; i++)
        err += hypot(lm_crop[2 * i] - lm_true[2 * i], lm_crop[2 * i + 1] - lm_true[2 * i + 1]);
    err /= 68;
    CHECK_MSG(err < 3.0, "mean landmark error after alignment %.2f px", err);
    /* the crop shows the face where the render had it */
    double diff = 0;
    int n = 0;
    for (size_t p = 0; crop.data && p < 224 * 224; p++)
        if (render.data[p] > 0.05f) {
            diff += fabs((double)crop.data[p] - (double)render.data[p]);
            n++;
        }
    CHECK(n > 5000);
    CHECK_MSG(n > 0 && diff / n < 0.06, "mean abs difference on the face %.3f", n ? diff / n : -1);
    /* the face region from the landmarks covers the rendered face */
    float *mask = malloc(224 * 224 * sizeof(float));
    CHECK_OK(hrn_face_region_mask(lm_crop, 224, 0.6f, mask));
    int inter = 0, uni = 0;
    for (size_t p = 0; p < 224 * 224; p++) {
        int m = mask[p] > 0.5f, f = render.data[p] > 0.0f;
        inter += m && f;
        uni += m || f;
    }
    CHECK_MSG(uni > 0 && (double)inter / uni > 0.7, "face region IoU %.2f",
              uni ? (double)inter / uni : 0.0);
    free(mask);
    hrn_image_free(&render);
    hrn_image_free(&photo);
    hrn_image_free(&crop);
    free(coeffs);
    free(verts);
    hrn_face_model_free(&fm);
}

static void test_bad_input(void) {
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1,
                                                             .n_id = 1, .n_exp = 1, .n_tex = 1}));
    float lm5_3d[15], lm[68 * 2] = {0};
    fm.lmk68[30] = -1;
    CHECK_STATUS(hrn_model_lm5(&fm, lm5_3d), HRN_ERR_INVALID);
    CHECK_ERR_HAS("landmark 30");
    hrn_face_model_free(&fm);
    struct hrn_align a;
    lm5_3d[0] = 0;
    CHECK_STATUS(hrn_align_fit(lm, 67, 100, 100, lm5_3d, &a), HRN_ERR_INVALID);
    CHECK_ERR_HAS("67 landmarks");
    lm[0] = NAN;
    CHECK_STATUS(hrn_align_fit(lm, 5, 100, 100, lm5_3d, &a), HRN_ERR_INVALID);
    struct hrn_image img = {0}, out = {0};
    CHECK_OK(hrn_image_init(&img, 50, 40, 3));
    a = (struct hrn_align){.w0 = 60, .h0 = 40, .s = 100, .t0 = 25, .t1 = 20};
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("fitted on 60x40");
    /* a scale or centre that no int holds: refused before any conversion (UB before, issue 17) */
    a = (struct hrn_align){.w0 = 50, .h0 = 40, .s = 1e-30f, .t0 = 25, .t1 = 20};
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("so small or large");
    a.s = NAN;
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    a.s = 0;
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    a = (struct hrn_align){.w0 = 50, .h0 = 40, .s = 100, .t0 = 3e37f, .t1 = 20};
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("far outside");
    a.t0 = 25;
    a.t1 = -INFINITY;
    CHECK_STATUS(hrn_align_crop(&img, &a, 224, 102.0, &out, NULL, 0, NULL), HRN_ERR_INVALID);
    hrn_image_free(&img);
}

/* HRN's fat_face on a drawn face (an ellipse with landmarks on it): the face grows outward along
 * the jaw by a few pixels, never shrinks, and the centre, the eyes and the far background stay. */
static void test_fat_face(void) {
    const int S = 224;
    const float cx = 112, cy = 120, ea = 60, eb = 80;
    struct hrn_image img = {0}, out = {0};
    CHECK_OK(hrn_image_init(&img, S, S, 3));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float u = ((float)x - cx) / ea, v = ((float)y - cy) / eb;
                *hrn_image_px(&img, c, y, x) = u * u + v * v <= 1 ? 0.3f : 0.9f;
            }
    float lm[68 * 2];
    for (int i = 0; i <= 16; i++) { /* the jaw on the ellipse's lower half, left to right */
        float th = 3.14159265f - (float)i * 3.14159265f / 16;
        lm[2 * i] = cx + ea * cosf(th);
        lm[2 * i + 1] = cy + eb * sinf(th);
    }
    for (int i = 17; i <= 26; i++) { /* brows */
        lm[2 * i] = cx - 45 + 10 * (float)(i - 17);
        lm[2 * i + 1] = cy - 40;
    }
    for (int i = 27; i <= 35; i++) { /* nose bridge and base */
        lm[2 * i] = i <= 30 ? cx : cx - 8 + 4 * (float)(i - 31);
        lm[2 * i + 1] = i <= 30 ? cy - 25 + 8 * (float)(i - 27) : cy + 8;
    }
    for (int i = 36; i <= 47; i++) { /* eyes: hexagons */
        float ex = i < 42 ? cx - 25 : cx + 25, th = (float)((i - 36) % 6) * 3.14159265f / 3;
        lm[2 * i] = ex + 8 * cosf(th);
        lm[2 * i + 1] = cy - 25 + 3 * sinf(th);
    }
    for (int i = 48; i <= 67; i++) { /* lips: outer 12, inner 8 */
        int n = i < 60 ? 12 : 8, j = i < 60 ? i - 48 : i - 60;
        float r = i < 60 ? 20.0f : 14.0f, th = (float)j * 2 * 3.14159265f / (float)n;
        lm[2 * i] = cx + r * cosf(th);
        lm[2 * i + 1] = cy + 40 + 0.3f * r * sinf(th);
    }
    CHECK_OK(hrn_fat_face(&img, lm, 0.0f, &out));
    CHECK(memcmp(out.data, img.data, (size_t)3 * S * S * sizeof(float)) == 0);
    hrn_image_free(&out);
    CHECK_OK(hrn_fat_face(&img, lm, 0.03f, &out));
    int grown = 0, shrunk = 0, far_changed = 0, max_out = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float before = *hrn_image_px(&img, 1, y, x), after = *hrn_image_px(&out, 1, y, x);
            float u = ((float)x - cx) / ea, v = ((float)y - cy) / eb;
            float r = sqrtf(u * u + v * v); /* 1 on the outline */
            if (before < 0.6f && after >= 0.6f) shrunk++;
            if (before >= 0.6f && after < 0.6f) {
                grown++;
                int px = (int)lrintf((r - 1) * eb); /* an upper bound on the distance */
                if (px > max_out) max_out = px;
            }
            if ((r < 0.6f || r > 1.5f) && after != before) far_changed++;
        }
    printf("  fat_face: %d pixels joined the face (at most ~%d px out), %d left it, %d changed far "
           "from the outline\n", grown, max_out, shrunk, far_changed);
    CHECK_MSG(grown > 150, "the face grew by %d pixels only", grown);
    CHECK(shrunk == 0);
    CHECK(far_changed == 0);
    CHECK_MSG(max_out <= 12, "pixels up to %d px outside the outline joined the face", max_out);
    /* the eyes and the mouth are untouched */
    for (int i = 36; i <= 67; i++) {
        int x = (int)lm[2 * i], y = (int)lm[2 * i + 1];
        CHECK(*hrn_image_px(&out, 0, y, x) == *hrn_image_px(&img, 0, y, x));
    }
    hrn_image_free(&out);
    lm[5] = NAN;
    CHECK_STATUS(hrn_fat_face(&img, lm, 0.03f, &out), HRN_ERR_INVALID);
    CHECK_ERR_HAS("landmark 2");
    hrn_image_free(&img);
}

static void test_real_photo(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char path[600];
    struct hrn_face_model fm = {0};
    struct hrn_image photo = {0}, crop = {0};
    float lm[68 * 2], lm_crop[68 * 2], lm5_3d[15];
    snprintf(path, sizeof path, "%s/sfm/sfm_shape_3448.h5", rd);
    CHECK_OK(hrn_face_model_load(path, &fm));
    snprintf(path, sizeof path, "%s/eos_example/image_0010.png", rd);
    CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &photo));
    snprintf(path, sizeof path, "%s/eos_example/image_0010.lm68.txt", rd);
    CHECK_OK(hrn_lmk_read(path, 68, lm, 68, NULL));
    CHECK_OK(hrn_model_lm5(&fm, lm5_3d));
    struct hrn_align a;
    CHECK_OK(hrn_align_fit(lm, 68, photo.w, photo.h, lm5_3d, &a));
    /* SFM is in mm, BFM in dm: the rescale per model unit keeps the face as large as BFM's */
    CHECK_OK(hrn_align_crop(&photo, &a, 224, 102.0 * (double)fm.mm_per_unit / 100.0, &crop, lm, 68,
                            lm_crop));
    int inside = 1;
    for (int i = 0; i < 68; i++)
        inside &= lm_crop[2 * i] > 0 && lm_crop[2 * i] < 223 && lm_crop[2 * i + 1] > 0 &&
                  lm_crop[2 * i + 1] < 223;
    CHECK(inside);
    double eyes = hypot(lm_crop[2 * 45] - lm_crop[2 * 36], lm_crop[2 * 45 + 1] - lm_crop[2 * 36 + 1]);
    CHECK_MSG(eyes > 60 && eyes < 110, "outer eye corners %.1f px apart", eyes);
    CHECK_MSG(fabs(lm_crop[2 * 30] - 112) < 20 && fabs(lm_crop[2 * 30 + 1] - 112) < 30,
              "nose tip at (%.1f, %.1f)", (double)lm_crop[60], (double)lm_crop[61]);
    char out[600];
    snprintf(out, sizeof out, "%s/image_0010_224.png", hrn_test_tmpdir("align"));
    CHECK_OK(hrn_image_write_png(out, &crop, 8));
    hrn_image_free(&photo);
    hrn_image_free(&crop);
    hrn_face_model_free(&fm);
}

int main(void) {
    RUN(test_pil_bicubic_exact);
    RUN(test_deep3d_align_exact);
    RUN(test_pos_recovers_scaled_orthographic);
    RUN(test_synthetic_round_trip);
    RUN(test_fat_face);
    RUN(test_bad_input);
    RUN(test_real_photo);
    return hrn_test_finish();
}
