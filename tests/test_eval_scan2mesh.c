/* test_eval_scan2mesh.c: the multi-view / NoW scan-to-mesh protocol (spec C, D): the crop radius,
 * a moved and scaled copy aligned to zero, noisy scans over a plane (distances = |noise|), and a
 * concentric sphere with and without the refinement; the Levenberg-Marquardt refinement
 * (exact recovery of a known similarity, stationarity of a non-zero minimum, against point-to-point
 * ICP), NoW's clean_mesh and metrical variant, and the NoW list / layout resolution. */
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

/* A smooth height-field "face" (41x41 grid over +-60 mm). */
static void bump(struct hrn_emesh *m) {
    CHECK_OK(hrn_emesh_grid(m, 41, 41, -60, 60, -60, 60));
    for (int64_t i = 0; i < m->nv; i++) {
        double x = m->v[3 * i] / 40, y = m->v[3 * i + 1] / 35;
        m->v[3 * i + 2] = 30 * exp(-(x * x + y * y)) + 4 * sin(m->v[3 * i] / 15);
    }
}

/* Points on the mesh surface (3 barycentric samples per triangle), optionally pushed off along the
 * face normal by a deterministic offset in [-amp, amp]. */
static double *surface_samples(const struct hrn_emesh *m, double amp, int64_t *n) {
    double *fnrm = malloc((size_t)m->nf * 3 * sizeof(double));
    hrn_emesh_face_normals(m, fnrm);
    static const double B[3][3] = {{1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.6, 0.3, 0.1}, {0.15, 0.2, 0.65}};
    double *S = malloc((size_t)m->nf * 9 * sizeof(double));
    uint64_t h = 12345;
    for (int64_t k = 0; k < m->nf; k++)
        for (int j = 0; j < 3; j++) {
            h = h * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(h >> 11) / 9007199254740992.0 * 2 - 1;
            double *q = S + 3 * (3 * k + j);
            for (int c = 0; c < 3; c++)
                q[c] = B[j][0] * m->v[3 * m->f[3 * k] + c] + B[j][1] * m->v[3 * m->f[3 * k + 1] + c] +
                       B[j][2] * m->v[3 * m->f[3 * k + 2] + c] + amp * u * fnrm[3 * k + c];
        }
    free(fnrm);
    *n = 3 * m->nf;
    return S;
}

static double objective(const struct hrn_emesh *m, const double *S, int64_t n) {
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_bvh_build(&b, m->v, m->nv, m->f, m->nf));
    double *d = malloc((size_t)n * sizeof(double)), f = 0;
    hrn_bvh_closest_many(&b, S, n, NULL, d, NULL);
    for (int64_t i = 0; i < n; i++) f += d[i] * d[i];
    free(d);
    hrn_bvh_free(&b);
    return f;
}

/* Scan = surface points of G(mesh) for a known similarity G; the refinement of the untransformed
 * mesh must recover G (F -> 0), in both the similarity and the rigid mode. */
static void test_refine_recovers_similarity(void) {
    for (int with_scale = 0; with_scale < 2; with_scale++) {
        struct hrn_emesh m = {0}, g = {0};
        bump(&m);
        CHECK_OK(hrn_emesh_copy(&g, &m));
        double sg = with_scale ? 1.08 : 1.0, Rg[9], rg[3] = {0.04, -0.06, 0.05}, tg[3] = {3, -2, 4};
        hrn_eval_rodrigues(rg, Rg);
        hrn_eval_transform(g.v, g.nv, sg, Rg, tg);
        int64_t n;
        double *S = surface_samples(&g, 0, &n);
        double s, R[9], t[3];
        struct hrn_s2m_refine_info info;
        CHECK_OK(hrn_s2m_refine(S, n, &m, with_scale, 100, 0, &s, R, t, &info));
        CHECK_MSG(info.f0 > 1000 && info.f < 1e-12 * info.f0, "scale %d: F %g -> %g in %d evals",
                  with_scale, info.f0, info.f, info.evals);
        CHECK_NEAR(s, sg, 1e-7, 0);
        for (int k = 0; k < 9; k++) CHECK_NEAR(R[k], Rg[k], 1e-7, 0);
        for (int k = 0; k < 3; k++) CHECK_NEAR(t[k], tg[k], 1e-5, 0);
        for (int64_t i = 0; i < 3 * m.nv; i++) CHECK_NEAR(m.v[i], g.v[i], 1e-5, 0);
        free(S);
        hrn_emesh_free(&m);
        hrn_emesh_free(&g);
    }
}

/* Point-to-point ICP with closed-form Umeyama steps (the previous refinement), as a reference. */
static double icp_reference(struct hrn_emesh *m, const double *S, int64_t n, int iters) {
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_bvh_build(&b, m->v, m->nv, m->f, m->nf));
    double *C = malloc((size_t)n * 3 * sizeof(double));
    for (int it = 0; it < iters; it++) {
        hrn_bvh_closest_many(&b, S, n, C, NULL, NULL);
        double s, R[9], t[3];
        CHECK_OK(hrn_eval_umeyama(C, S, n, 1, &s, R, t));
        hrn_eval_transform(m->v, m->nv, s, R, t);
        hrn_bvh_refit(&b, m->v);
    }
    free(C);
    hrn_bvh_free(&b);
    return objective(m, S, n);
}

/* Noisy scan (points off the surface by up to 0.8 mm): the minimum is not 0. At the refined pose
 * no small change of any of the 7 parameters lowers F (a stationary minimum), and 100 iterations of
 * point-to-point ICP from the same start do not reach a lower F. */
static void test_refine_stationary(void) {
    struct hrn_emesh m = {0}, g = {0}, m2 = {0};
    bump(&m);
    CHECK_OK(hrn_emesh_copy(&g, &m));
    double Rg[9], rg[3] = {-0.03, 0.05, 0.02}, tg[3] = {-2, 1.5, 2.5};
    hrn_eval_rodrigues(rg, Rg);
    hrn_eval_transform(g.v, g.nv, 0.95, Rg, tg);
    int64_t n;
    double *S = surface_samples(&g, 0.8, &n);
    CHECK_OK(hrn_emesh_copy(&m2, &m));
    double s, R[9], t[3];
    struct hrn_s2m_refine_info info;
    CHECK_OK(hrn_s2m_refine(S, n, &m, 1, 100, 0, &s, R, t, &info));
    double f = objective(&m, S, n);
    CHECK_NEAR(f, info.f, 1e-9, 1e-12);
    CHECK_MSG(info.evals < 100, "LM did not converge: %d evaluations", info.evals);
    double c[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) c[j] += S[3 * i + j] / (double)n;
    for (int k = 0; k < 7; k++)
        for (int sg = -1; sg <= 1; sg += 2) {
            struct hrn_emesh p = {0};
            CHECK_OK(hrn_emesh_copy(&p, &m));
            double sc = 1, rv[3] = {0, 0, 0}, tv[3] = {0, 0, 0}, Rp[9], tt[3];
            if (k == 0) sc = 1 + sg * 1e-4;
            else if (k < 4) rv[k - 1] = sg * 1e-4;
            else tv[k - 4] = sg * 1e-3;
            hrn_eval_rodrigues(rv, Rp);
            for (int i = 0; i < 3; i++) /* about the scan centroid */
                tt[i] = c[i] + tv[i] - sc * (Rp[3 * i] * c[0] + Rp[3 * i + 1] * c[1] +
                                             Rp[3 * i + 2] * c[2]);
            hrn_eval_transform(p.v, p.nv, sc, Rp, tt);
            double fp = objective(&p, S, n);
            CHECK_MSG(fp >= f * (1 - 1e-9), "param %d sign %d: F %.12g < %.12g", k, sg, fp, f);
            hrn_emesh_free(&p);
        }
    double f_icp = icp_reference(&m2, S, n, 100);
    CHECK_MSG(f <= f_icp * (1 + 1e-9), "LM F %.12g > ICP F %.12g", f, f_icp);
    free(S);
    hrn_emesh_free(&m);
    hrn_emesh_free(&m2);
    hrn_emesh_free(&g);
}

static void test_clean_mesh(void) {
    struct hrn_emesh m = {0};
    CHECK_OK(hrn_emesh_alloc(&m, 5, 5));
    double v[15] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 1, 1, 0};
    memcpy(m.v, v, sizeof v);
    int32_t f[15] = {0, 1, 2,  /* good */
                     0, 1, 3,  /* collinear: cross exactly 0 */
                     0, 0, 2,  /* zero edge (divided by 1), cross exactly 0 */
                     1, 4, 2,  /* good */
                     2, 2, 2}; /* a point */
    memcpy(m.f, f, sizeof f);
    CHECK(hrn_emesh_drop_zero_cross_faces(&m) == 3);
    CHECK(m.nf == 2 && m.f[3] == 1 && m.f[4] == 4 && m.f[5] == 2);
    hrn_emesh_free(&m);
}

/* Metrical NoW: a prediction in metres with exact landmarks. The unit factor 1000 replaces the
 * Procrustes scale; the rigid refinement brings it to 0. A prediction 3 % too large keeps its error
 * in metrical mode (the scale is not optimised) but not with the similarity refinement. */
static void test_metrical(void) {
    struct hrn_emesh g = {0};
    bump(&g);
    double lmk[21];
    for (int k = 0; k < 7; k++) memcpy(lmk + 3 * k, g.v + 3 * (200 + 97 * k), 3 * sizeof(double));
    for (int big = 0; big < 2; big++) {
        double sc = big ? 1.03e-3 : 1e-3, Rg[9], rg[3] = {0.3, -0.2, 0.1}, tg[3] = {0.1, 0.2, -0.3};
        hrn_eval_rodrigues(rg, Rg);
        double plmk[21];
        memcpy(plmk, lmk, sizeof plmk);
        hrn_eval_transform(plmk, 7, sc, Rg, tg);
        for (int mode = 0; mode < 2; mode++) {
            struct hrn_emesh p = {0};
            CHECK_OK(hrn_emesh_copy(&p, &g));
            hrn_eval_transform(p.v, p.nv, sc, Rg, tg);
            struct hrn_s2m_opts o = {.crop_factor = 0, .nose_tip_index = -1,
                                     .refine = HRN_REFINE_SIMILARITY,
                                     .metrical_scale = mode == 0 ? 1000 : 0};
            struct hrn_s2m_result r;
            CHECK_OK(hrn_s2m_eval(&g, lmk, &p, plmk, &o, &r));
            if (mode == 0) CHECK_NEAR(r.s, big ? 1000 : 1000, 1e-9, 0);
            if (big && mode == 0) CHECK_MSG(r.mean > 0.1, "metrical, 3%% too large: mean %g", r.mean);
            else CHECK_MSG(r.mean < 1e-6, "big %d mode %d: mean %g", big, mode, r.mean);
            hrn_s2m_result_free(&r);
            hrn_emesh_free(&p);
        }
    }
    hrn_emesh_free(&g);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_now_list_and_layout(void) {
    const char *dir = hrn_test_tmpdir("eval_now_layout");
    char path[700], cmd[3200];
    snprintf(path, sizeof path, "%s/list.txt", dir);
    write_text(path, "FaMoS_180424_03335_TA/multiview_neutral/IMG_0101.jpg\r\n\n"
                     "a/b/FaMoS_1/selfie/IMG_7.JPG\n  \nS2/other/x.png\n");
    struct hrn_now_item *it = NULL;
    int64_t n = 0;
    CHECK_OK(hrn_now_read_list(path, &it, &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(!strcmp(it[0].subject, "FaMoS_180424_03335_TA") && it[0].challenge_idx == 0 &&
              !strcmp(it[0].stem, "IMG_0101") && it[0].line_no == 1);
        CHECK(!strcmp(it[1].subject, "FaMoS_1") && it[1].challenge_idx == 3 &&
              !strcmp(it[1].stem, "IMG_7") && !strcmp(it[1].image, "IMG_7.JPG"));
        CHECK(it[2].challenge_idx == -1 && !strcmp(hrn_now_challenge_name(-1), "unknown"));
    }
    free(it);
    write_text(path, "S1/multiview_neutral/a.jpg\nS1_no_slash.jpg\n");
    CHECK_STATUS(hrn_now_read_list(path, &it, &n), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("line 2");
    /* layout: scans/<s>/<any>.obj, scans_lmks_onlypp/<s>/<any>.pp, pred/<s>/<c>/<stem>.ply+.txt */
    snprintf(cmd, sizeof cmd, "rm -rf %s/scans %s/lm %s/pred && mkdir -p %s/scans/S1 %s/lm/S1 "
             "%s/pred/S1/selfie", dir, dir, dir, dir, dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/scans/S1/zz.obj", dir);
    write_text(path, "v 0 0 0\n");
    snprintf(path, sizeof path, "%s/scans/S1/scan_01.obj", dir);
    write_text(path, "v 0 0 0\n");
    snprintf(path, sizeof path, "%s/lm/S1/S1.pp", dir);
    write_text(path, "x\n");
    snprintf(path, sizeof path, "%s/pred/S1/selfie/IMG_1.ply", dir);
    write_text(path, "x\n");
    char sd[640], ld[640], pd[640];
    snprintf(sd, sizeof sd, "%s/scans", dir);
    snprintf(ld, sizeof ld, "%s/lm", dir);
    snprintf(pd, sizeof pd, "%s/pred", dir);
    struct hrn_now_layout L = {.pred_dir = pd, .scans_dir = sd, .lmks_dir = ld};
    struct hrn_now_item one = {.subject = "S1", .challenge = "selfie", .stem = "IMG_1",
                               .line = "S1/selfie/IMG_1.jpg"};
    struct hrn_now_paths p;
    CHECK_STATUS(hrn_now_resolve(&L, &one, &p), HRN_ERR_IO);
    CHECK_ERR_HAS("IMG_1.npy or");
    snprintf(path, sizeof path, "%s/pred/S1/selfie/IMG_1.txt", dir);
    write_text(path, "x\n");
    CHECK_OK(hrn_now_resolve(&L, &one, &p));
    CHECK(strstr(p.gt_scan, "/scans/S1/scan_01.obj") != NULL);
    CHECK(strstr(p.gt_lmk, "/lm/S1/S1.pp") != NULL);
    CHECK(strstr(p.pred_mesh, "IMG_1.ply") != NULL && strstr(p.pred_lmk, "IMG_1.txt") != NULL);
    snprintf(path, sizeof path, "%s/pred/S1/selfie/IMG_1.obj", dir);
    write_text(path, "x\n");
    CHECK_OK(hrn_now_resolve(&L, &one, &p));
    CHECK(strstr(p.pred_mesh, "IMG_1.obj") != NULL);
    struct hrn_now_item two = one;
    snprintf(two.subject, sizeof two.subject, "S9");
    CHECK_STATUS(hrn_now_resolve(&L, &two, &p), HRN_ERR_IO);
    CHECK_ERR_HAS("S9");
}

int main(void) {
    RUN(test_crop);
    RUN(test_moved_copy);
    RUN(test_noisy_plane);
    RUN(test_concentric_spheres);
    RUN(test_lmk_files);
    RUN(test_refine_recovers_similarity);
    RUN(test_refine_stationary);
    RUN(test_clean_mesh);
    RUN(test_metrical);
    RUN(test_now_list_and_layout);
    return hrn_test_finish();
}
