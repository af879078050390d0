/* test_eval_scan2mesh.c: the multi-view / NoW scan-to-mesh protocol (spec C, D): the crop radius,
 * a moved and scaled copy aligned to zero, noisy scans over a plane (distances = |noise|), and a
 * concentric sphere with and without the refinement. */
#include "hrn_eval.h"
#include "hrn_test.h"

static const double LMK[21] = {-40, 0, 0, -10, 0, 0, 10, 0, 0, 40, 0, 0,
                               0, -40, 0, -20, -60, 0, 20, -60, 0};

static void test_crop(void) {
    struct hrn_emesh g = {0};
    CHECK_OK(hrn_emesh_grid(&g, 201, 201, -100, 100, -100, 100));
    uint8_t *keep = malloc((size_t)g.nv);
    double r, c[3];
    hrn_s2m_crop(&g, LMK, 1.2, keep, &r, c);
    CHECK_NEAR(r, 72, 1e-12, 0); /* 1.2 (80 + 40)/2 */
    CHECK_NEAR(c[1], -28, 1e-12, 0);
    int64_t n = 0, want = 0;
    for (int64_t i = 0; i < g.nv; i++) {
        n += keep[i];
        double dx = g.v[3 * i], dy = g.v[3 * i + 1] + 28;
        want += sqrt(dx * dx + dy * dy) <= 72;
    }
    CHECK(n == want && n > 10000);
    hrn_s2m_crop(&g, LMK, 1.4, keep, &r, c);
    CHECK_NEAR(r, 84, 1e-12, 0);
    free(keep);
    hrn_emesh_free(&g);
}

/* A curved face-like scan (height field) and its similarity-moved copy: zero after Procrustes. */
static void test_moved_copy(void) {
    struct hrn_emesh g = {0}, p = {0};
    CHECK_OK(hrn_emesh_grid(&g, 81, 81, -100, 100, -100, 100));
    for (int64_t i = 0; i < g.nv; i++) {
        double x = g.v[3 * i] / 60, y = g.v[3 * i + 1] / 60;
        g.v[3 * i + 2] = 40 * exp(-(x * x + y * y));
    }
    double lmk[21];
    memcpy(lmk, LMK, sizeof lmk);
    for (int k = 0; k < 7; k++) {
        double x = lmk[3 * k] / 60, y = lmk[3 * k + 1] / 60;
        lmk[3 * k + 2] = 40 * exp(-(x * x + y * y));
    }
    CHECK_OK(hrn_emesh_copy(&p, &g));
    double R[9], rv[3] = {0.2, 1.0, -0.4}, t[3] = {1, 2, 3}, plmk[21];
    hrn_eval_rodrigues(rv, R);
    hrn_eval_transform(p.v, p.nv, 0.01, R, t); /* metres-like units */
    memcpy(plmk, lmk, sizeof plmk);
    hrn_eval_transform(plmk, 7, 0.01, R, t);
    for (int mode = 0; mode < 3; mode++) {
        struct hrn_emesh q = {0};
        CHECK_OK(hrn_emesh_copy(&q, &p));
        struct hrn_s2m_opts o = {.crop_factor = 1.4, .refine = (enum hrn_scan_refine)mode,
                                 .nose_tip_index = -1};
        struct hrn_s2m_result r;
        CHECK_OK(hrn_s2m_eval(&g, lmk, &q, plmk, &o, &r));
        CHECK(r.n > 1000);
        CHECK_MSG(r.mean < 1e-9 && r.median < 1e-9, "mode %d mean %g", mode, r.mean);
        CHECK_NEAR(r.s, 100, 1e-9, 1e-9);
        hrn_s2m_result_free(&r);
        hrn_emesh_free(&q);
    }
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

/* Scan = plane points with uniform noise in z; prediction = the plane: distance = |noise|. */
static void test_noisy_plane(void) {
    struct hrn_emesh g = {0}, p = {0};
    CHECK_OK(hrn_emesh_grid(&g, 121, 121, -60, 60, -60, 60));
    CHECK_OK(hrn_emesh_grid(&p, 31, 31, -200, 200, -200, 200));
    struct hrn_rng rng;
    hrn_rng_seed(&rng, 9);
    for (int64_t i = 0; i < g.nv; i++) g.v[3 * i + 2] = 2 * hrn_rng_uniform(&rng) - 1;
    struct hrn_s2m_opts o = {.crop_factor = 0, .refine = HRN_REFINE_NONE, .nose_tip_index = -1};
    struct hrn_s2m_result r;
    double lmk[21];
    memcpy(lmk, LMK, sizeof lmk);
    CHECK_OK(hrn_s2m_eval(&g, lmk, &p, lmk, &o, &r));
    CHECK(r.n == g.nv);
    double *a = malloc((size_t)g.nv * sizeof(double));
    for (int64_t i = 0; i < g.nv; i++) a[i] = fabs(g.v[3 * i + 2]);
    CHECK_NEAR(r.mean, hrn_eval_mean(a, g.nv), 1e-12, 1e-12);
    CHECK_NEAR(r.median, hrn_eval_median(a, g.nv), 1e-12, 1e-12);
    CHECK_NEAR(r.std, hrn_eval_std(a, g.nv, 0), 1e-12, 1e-12);
    CHECK_NEAR(r.mean, 0.5, 0.02, 0); /* E|U(-1,1)| */
    free(a);
    hrn_s2m_result_free(&r);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

/* GT sphere r = 90, prediction r = 92 with the GT's landmarks: 2 mm (minus the facet sag) without
 * refinement and with rigid refinement; ~0 with the similarity refinement. */
static void test_concentric_spheres(void) {
    struct hrn_emesh g = {0}, p = {0};
    CHECK_OK(hrn_emesh_uv_sphere(&g, 90, 40, 80));
    double lmk[21];
    memcpy(lmk, LMK, sizeof lmk);
    for (int k = 0; k < 7; k++) lmk[3 * k + 2] = 30; /* any non-degenerate set, inside */
    lmk[14] = 50;
    double sag = 92 * (1 - cos(3.14159265358979 / 100)) * 2.2; /* finer pred facets */
    for (int mode = 0; mode < 3; mode++) {
        CHECK_OK(hrn_emesh_uv_sphere(&p, 92, 100, 200));
        struct hrn_s2m_opts o = {.crop_factor = 0, .refine = (enum hrn_scan_refine)mode,
                                 .nose_tip_index = -1, .max_iter = 20};
        struct hrn_s2m_result r;
        CHECK_OK(hrn_s2m_eval(&g, lmk, &p, lmk, &o, &r));
        if (mode == HRN_REFINE_SIMILARITY) {
            CHECK_MSG(r.mean < sag, "similarity: mean %g", r.mean);
            CHECK_NEAR(r.s, 90.0 / 92, 2e-3, 0);
        } else {
            CHECK_MSG(r.mean <= 2 + 1e-9 && r.mean > 2 - sag, "mode %d mean %g", mode, r.mean);
            CHECK(r.std < sag);
        }
        hrn_s2m_result_free(&r);
        hrn_emesh_free(&p);
    }
    hrn_emesh_free(&g);
}

static void test_lmk_files(void) {
    const char *dir = hrn_test_tmpdir("eval_s2m");
    char path[600];
    double l[21];
    snprintf(path, sizeof path, "%s/a.lnd", dir);
    FILE *f = fopen(path, "w");
    for (int k = 0; k < 7; k++) fprintf(f, "%d %g %g %g\n", k + 1, k * 1.5, -k * 2.0, 0.25);
    fclose(f);
    CHECK_OK(hrn_eval_lmk7_read(path, l));
    CHECK(l[3] == 1.5 && l[19] == -12 && l[20] == 0.25);
    snprintf(path, sizeof path, "%s/a.pp", dir);
    f = fopen(path, "w");
    fprintf(f, "<!DOCTYPE PickedPoints>\n<PickedPoints>\n <DocumentData>\n </DocumentData>\n");
    for (int k = 0; k < 7; k++)
        fprintf(f, " <point x=\"%g\" y=\"%g\" z=\"%g\" active=\"1\" name=\"%d\"/>\n", k + 0.5, 2.0 * k, -1.0, k);
    fprintf(f, "</PickedPoints>\n");
    fclose(f);
    CHECK_OK(hrn_eval_lmk7_read(path, l));
    CHECK(l[0] == 0.5 && l[19] == 12 && l[20] == -1);
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    f = fopen(path, "w");
    for (int k = 0; k < 7; k++) fprintf(f, "%g %s %g\n", 1.0, k == 3 ? "nan" : "2", 3.0);
    fclose(f);
    CHECK_STATUS(hrn_eval_lmk7_read(path, l), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("landmark 3");
    f = fopen(path, "w");
    fprintf(f, "1 2 3\n4 5 6\n");
    fclose(f);
    CHECK_STATUS(hrn_eval_lmk7_read(path, l), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("found 2");
    /* .npy (1,7,3) float64 */
    snprintf(path, sizeof path, "%s/a.npy", dir);
    f = fopen(path, "wb");
    const char *hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 7, 3), }";
    char h[128];
    memset(h, ' ', sizeof h);
    memcpy(h, hdr, strlen(hdr));
    h[117] = '\n'; /* 10 + 118 = 128 bytes */
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char hl[2] = {118, 0};
    fwrite(hl, 1, 2, f);
    fwrite(h, 1, 118, f);
    for (int i = 0; i < 21; i++) {
        double x = i * 0.5;
        fwrite(&x, sizeof x, 1, f);
    }
    fclose(f);
    CHECK_OK(hrn_eval_lmk7_read(path, l));
    CHECK(l[20] == 10);
}

int main(void) {
    RUN(test_crop);
    RUN(test_moved_copy);
    RUN(test_noisy_plane);
    RUN(test_concentric_spheres);
    RUN(test_lmk_files);
    return hrn_test_finish();
}
