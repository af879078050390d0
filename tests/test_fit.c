/* test_fit.c: hrn-fit's fitting on the small synthetic model (fast): the losses of each stage fall
 * by stated factors and the geometry error falls; outputs are written; the photo input path;
 * bad inputs fail with messages naming the file; a NaN stops the fit and keeps a finite state. */
#include "hrn_test.h"

#include "hrn_train.h"

static struct hrn_face_model g_fm;

static void small_config(struct hrn_fit_config *cfg) {
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, cfg));
    cfg->disp_res = 64; /* fast: the stages, not the map size, are under test */
    cfg->iters[HRN_FIT_LM] = 60;
    cfg->iters[HRN_FIT_COEFF] = 60;
    cfg->iters[HRN_FIT_MID] = 20;
    cfg->iters[HRN_FIT_HIGH] = 5;
}

/* Run stage s once with 1 iteration (its starting loss) then with n (its final loss). */
static void stage_start_end(struct hrn_fit *f, enum hrn_fit_stage s, int n, double *first,
                            double *last, enum hrn_loss_term term, double *t_first,
                            double *t_last) {
    f->cfg.iters[s] = 1;
    CHECK_OK(hrn_fit_stage(f, s, NULL));
    *first = f->last.total;
    *t_first = f->last.value[term];
    f->cfg.iters[s] = n;
    CHECK_OK(hrn_fit_stage(f, s, NULL));
    *last = f->last.total;
    *t_last = f->last.value[term];
}

static void test_fit_single_view_converges(void) {
    struct hrn_fit_config cfg;
    small_config(&cfg);
    struct hrn_fit_view v;
    struct hrn_fit_truth truth;
    CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 3, 1, 0.0f, 3.0f, &v, &truth));
    struct hrn_fit f;
    CHECK_OK(hrn_fit_init(&f, &g_fm, &cfg, &v, 1));
    double e0 = hrn_fit_vertex_error_mm(&f, &truth);
    double a, b, ta, tb;
    stage_start_end(&f, HRN_FIT_LM, 60, &a, &b, HRN_LOSS_LM, &ta, &tb);
    printf("  lm stage: total %.4g -> %.4g, landmark term %.4g -> %.4g\n", a, b, ta, tb);
    CHECK_MSG(tb < ta / 20, "landmark term fell only from %g to %g (want 20x)", ta, tb);
    double e1 = hrn_fit_vertex_error_mm(&f, &truth);
    stage_start_end(&f, HRN_FIT_COEFF, 60, &a, &b, HRN_LOSS_PHOTO, &ta, &tb);
    printf("  coeff stage: total %.4g -> %.4g, photo term %.4g -> %.4g\n", a, b, ta, tb);
    CHECK_MSG(tb < ta / 2, "photometric term fell only from %g to %g (want 2x)", ta, tb);
    stage_start_end(&f, HRN_FIT_MID, 20, &a, &b, HRN_LOSS_PHOTO_MID, &ta, &tb);
    printf("  mid stage: total %.4g -> %.4g, photo_mid %.4g -> %.4g\n", a, b, ta, tb);
    CHECK_MSG(b < a, "mid stage total rose from %g to %g", a, b);
    double e2 = hrn_fit_vertex_error_mm(&f, &truth);
    float mc = hrn_fit_max_abs_coeff(&f);
    printf("  vertex error: mean face %.2f mm, after landmarks %.2f mm, after mid %.2f mm; "
           "max |coeff| %.2f\n", e0, e1, e2, (double)mc);
    CHECK_MSG(e2 < 0.75 * e0, "geometry error fell only from %.2f to %.2f mm", e0, e2);
    CHECK(mc < 3.0f);
    int n = 0;
    double rms = hrn_fit_landmark_rms(&f, 0, &n);
    CHECK(n == 68);
    CHECK_MSG(rms < 1.5, "landmark RMS %.3f px", rms);
    hrn_fit_free(&f);
    hrn_fit_view_free(&v);
    hrn_fit_truth_free(&truth);
}

static int file_exists(const char *dir, const char *name) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

static void test_fit_multiview_outputs(void) {
    struct hrn_fit_config cfg;
    small_config(&cfg);
    cfg.iters[HRN_FIT_LM] = 10;
    cfg.iters[HRN_FIT_COEFF] = 5;
    cfg.iters[HRN_FIT_MID] = 3;
    cfg.iters[HRN_FIT_HIGH] = 2;
    struct hrn_fit_view v[3];
    struct hrn_fit_truth truth;
    CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 5, 3, 30.0f, 3.0f, v, &truth));
    struct hrn_fit f;
    CHECK_OK(hrn_fit_init(&f, &g_fm, &cfg, v, 3));
    const char *dir = hrn_test_tmpdir("fit_mv");
    char tsv[1100];
    snprintf(tsv, sizeof tsv, "%s/losses.tsv", dir);
    CHECK_OK(hrn_fit_run(&f, tsv));
    CHECK(f.iter == 20);
    CHECK_OK(hrn_fit_write_outputs(&f, dir));
    static const char *const files[] = {"view0_mid.obj", "view0_mid.mtl", "view0_mid_tex.png",
                                        "view2_high.obj", "view1_overlay.png", "fused_mid.obj",
                                        "fused_mid_tex.png", "fused_high.obj", "fit.h5",
                                        "losses.tsv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_MSG(file_exists(dir, files[i]), "%s/%s missing", dir, files[i]);
    /* the TSV: a header and one row per iteration */
    FILE *fp = fopen(tsv, "r");
    CHECK(fp != NULL);
    int lines = 0;
    char line[4096];
    while (fp && fgets(line, sizeof line, fp)) lines++;
    if (fp) fclose(fp);
    CHECK_MSG(lines == 21, "losses.tsv has %d lines, want 21", lines);
    /* the HDF5: coefficients of every view, the shared maps */
    struct hrn_h5 *h = NULL;
    CHECK_OK(hrn_h5_open(strcat(strcpy(line, dir), "/fit.h5"), &h));
    float *c = malloc((size_t)hrn_face_model_n_coeffs(&g_fm) * sizeof(float));
    if (h && c) {
        CHECK_OK(hrn_h5_read_f32(h, "view2/coeffs", 1,
                                 (int64_t[]){hrn_face_model_n_coeffs(&g_fm)}, c));
        CHECK(hrn_h5_exists(h, "deform"));
        CHECK(hrn_h5_exists(h, "view1/disp"));
        CHECK(hrn_h5_exists(h, "fused/verts_mid"));
    }
    free(c);
    hrn_h5_close(h);
    /* the dense mesh carries UVs */
    struct hrn_mesh m = {0};
    snprintf(line, sizeof line, "%s/view0_high.obj", dir);
    CHECK_OK(hrn_mesh_read(line, &m));
    CHECK(m.n_verts > 1000 && m.uvs != NULL);
    hrn_mesh_free(&m);
    hrn_fit_free(&f);
    for (int k = 0; k < 3; k++) hrn_fit_view_free(&v[k]);
    hrn_fit_truth_free(&truth);
}

/* A "photo": the synthetic 224 view written as PNG with its landmarks (y down) as text. */
static void write_photo(const char *dir, struct hrn_fit_view *v) {
    char p[1100];
    snprintf(p, sizeof p, "%s/face.png", dir);
    CHECK_OK(hrn_image_write_png(p, &v->img, 8));
    float lm[68 * 2];
    for (int i = 0; i < 68; i++) {
        lm[2 * i] = v->lm[2 * i];
        lm[2 * i + 1] = 223.0f - v->lm[2 * i + 1];
    }
    snprintf(p, sizeof p, "%s/face.lm68.txt", dir);
    CHECK_OK(hrn_lmk_write_txt(p, lm, 68));
    snprintf(p, sizeof p, "%s/short.lm68.txt", dir);
    CHECK_OK(hrn_lmk_write_txt(p, lm, 30));
    struct hrn_image mask = {0};
    CHECK_OK(hrn_image_init(&mask, 100, 80, 1));
    snprintf(p, sizeof p, "%s/mask_small.png", dir);
    CHECK_OK(hrn_image_write_png(p, &mask, 8));
    hrn_image_free(&mask);
    snprintf(p, sizeof p, "%s/broken.png", dir);
    FILE *fp = fopen(p, "wb");
    if (fp) {
        fputs("\x89PNG not really", fp);
        fclose(fp);
    }
}

static void test_fit_photo_path_and_bad_inputs(void) {
    struct hrn_fit_config cfg;
    small_config(&cfg);
    struct hrn_fit_view syn, v;
    struct hrn_fit_truth truth;
    CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 9, 1, 0.0f, 0.0f, &syn, &truth));
    const char *dir = hrn_test_tmpdir("fit_photo");
    write_photo(dir, &syn);
    char img[1100], lmk[1100], p[1100];
    snprintf(img, sizeof img, "%s/face.png", dir);
    snprintf(lmk, sizeof lmk, "%s/face.lm68.txt", dir);
    /* the good path: aligned crop, landmark face region */
    CHECK_OK(hrn_fit_view_from_photo(&g_fm, &cfg, img, lmk, NULL, &v));
    CHECK(v.img.w == 224 && v.img_hd.w == 512 && v.mask && v.mask_from_lm);
    hrn_fit_view_free(&v);
    /* missing landmark file */
    snprintf(p, sizeof p, "%s/none.lm68.txt", dir);
    CHECK_STATUS(hrn_fit_view_from_photo(&g_fm, &cfg, img, p, NULL, &v), HRN_ERR_IO);
    CHECK_ERR_HAS("none.lm68.txt");
    /* short landmark file */
    snprintf(p, sizeof p, "%s/short.lm68.txt", dir);
    CHECK_STATUS(hrn_fit_view_from_photo(&g_fm, &cfg, img, p, NULL, &v), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("short.lm68.txt");
    CHECK_ERR_HAS("30 landmarks");
    /* a mask of another size */
    snprintf(p, sizeof p, "%s/mask_small.png", dir);
    CHECK_STATUS(hrn_fit_view_from_photo(&g_fm, &cfg, img, lmk, p, &v), HRN_ERR_INVALID);
    CHECK_ERR_HAS("mask_small.png");
    CHECK_ERR_HAS("100x80");
    /* an unreadable image */
    snprintf(p, sizeof p, "%s/broken.png", dir);
    CHECK(hrn_fit_view_from_photo(&g_fm, &cfg, p, lmk, NULL, &v) != HRN_OK);
    CHECK_ERR_HAS("broken.png");
    /* a model file without a required dataset */
    struct hrn_h5 *h = NULL;
    snprintf(p, sizeof p, "%s/no_basis.h5", dir);
    CHECK_OK(hrn_h5_create(p, &h));
    CHECK_OK(hrn_h5_write_f32(h, "shape/mean", 1, (int64_t[]){9},
                              (float[]){0, 0, 0, 1, 0, 0, 0, 1, 0}));
    CHECK_OK(hrn_h5_commit(h));
    struct hrn_face_model bad = {0};
    CHECK(hrn_fit_load_model(p, &bad) != HRN_OK);
    CHECK_ERR_HAS("no_basis.h5");
    hrn_face_model_free(&bad);
    hrn_fit_view_free(&syn);
    hrn_fit_truth_free(&truth);
}

static void test_fit_nan_stops(void) {
    struct hrn_fit_config cfg;
    small_config(&cfg);
    struct hrn_fit_view v;
    struct hrn_fit_truth truth;
    CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 3, 1, 0.0f, 0.0f, &v, &truth));
    /* a NaN pixel in the middle of the face: the photometric term turns NaN */
    for (int c = 0; c < 3; c++) *hrn_image_px(&v.img, c, 112, 112) = NAN;
    struct hrn_fit f;
    CHECK_OK(hrn_fit_init(&f, &g_fm, &cfg, &v, 1));
    CHECK_OK(hrn_fit_stage(&f, HRN_FIT_LM, NULL));
    float *after_lm = malloc(f.ps.n * sizeof(float));
    if (after_lm) memcpy(after_lm, f.ps.values, f.ps.n * sizeof(float));
    CHECK_STATUS(hrn_fit_stage(&f, HRN_FIT_COEFF, NULL), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("iteration 0");
    CHECK_ERR_HAS("'photo'");
    int finite = 1, same = 1;
    for (size_t i = 0; i < f.ps.n; i++) {
        finite &= isfinite(f.ps.values[i]);
        if (after_lm) same &= f.ps.values[i] == after_lm[i];
    }
    CHECK(finite);
    CHECK_MSG(same, "the state after the stop is not the last finite one");
    free(after_lm);
    hrn_fit_free(&f);
    hrn_fit_view_free(&v);
    hrn_fit_truth_free(&truth);
}

static void test_fit_config_files(void) {
    struct hrn_fit_config cfg, def;
    char p[1100];
    /* the built-in defaults are configs/fit.ini; + hrn_fit_config_multiview, fit_multiview.ini */
    snprintf(p, sizeof p, "%s/configs/fit.ini", HRN_SOURCE_DIR);
    CHECK_OK(hrn_config_load(&hrn_fit_schema, p, &cfg));
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &def));
    CHECK_MSG(memcmp(&cfg, &def, sizeof cfg) == 0, "configs/fit.ini differs from the defaults");
    hrn_fit_config_multiview(&def);
    snprintf(p, sizeof p, "%s/configs/fit_multiview.ini", HRN_SOURCE_DIR);
    CHECK_OK(hrn_config_load(&hrn_fit_schema, p, &cfg));
    CHECK_MSG(memcmp(&cfg, &def, sizeof cfg) == 0,
              "configs/fit_multiview.ini differs from hrn_fit_config_multiview");
    CHECK_NEAR(cfg.w.w_lm, 1.6e-4, 1e-9, 1e-6);
    CHECK_NEAR(cfg.w.w_smooth_std, 1e4, 0, 1e-6);
    CHECK_OK(hrn_config_set(&hrn_fit_schema, &cfg, "stages.mid=7"));
    CHECK(cfg.iters[HRN_FIT_MID] == 7);
    CHECK_STATUS(hrn_config_set(&hrn_fit_schema, &cfg, "stages.mdi=7"), HRN_ERR_CONFIG);
}

int main(void) {
    if (hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) !=
            HRN_OK ||
        hrn_fit_normalize_model(&g_fm) != HRN_OK) {
        fprintf(stderr, "%s\n", hrn_error_msg());
        return 1;
    }
    RUN(test_fit_config_files);
    RUN(test_fit_single_view_converges);
    RUN(test_fit_multiview_outputs);
    RUN(test_fit_photo_path_and_bad_inputs);
    RUN(test_fit_nan_stops);
    hrn_face_model_free(&g_fm);
    hrn_layers_release();
    return hrn_test_finish();
}
