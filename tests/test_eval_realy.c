/* test_eval_realy.c: the REALY pipeline (spec B) on a synthetic height-field "face": a similarity-
 * moved copy of the GT gives zero error in all four regions; a bump inside the nose patch raises
 * the nose error only; metrical scaling, Python's str()[:9] and the keypoint file reader;
 * --template_mask (B.4 only, not rICP) and the exported meshes / error maps (B.5). */
#include "hrn_eval.h"
#include "hrn_test.h"

enum { NX = 61 }; /* grid vertices per side over [-1,1]^2 */

static double height(double x, double y) { return 0.4 * exp(-(x * x + y * y) / 0.5) + 0.05 * x; }

static void make_face(struct hrn_emesh *m) {
    CHECK_OK(hrn_emesh_grid(m, NX, NX, -1, 1, -1, 1));
    for (int64_t i = 0; i < m->nv; i++) m->v[3 * i + 2] = height(m->v[3 * i], m->v[3 * i + 1]);
}

struct patch {
    int i0, i1, j0, j1; /* cell ranges */
};
/* nose, mouth, forehead, cheek */
static const struct patch PATCH[4] = {{22, 38, 22, 38}, {18, 42, 8, 20}, {10, 50, 42, 56},
                                      {3, 18, 8, 40}};

/* The sub-mesh of a patch's cells (vertices re-indexed, order kept). */
static void extract(const struct hrn_emesh *g, const struct patch *p, struct hrn_emesh *out) {
    int64_t *id = malloc((size_t)g->nv * sizeof(int64_t));
    for (int64_t i = 0; i < g->nv; i++) id[i] = -1;
    int64_t nf = 0;
    for (int j = p->j0; j < p->j1; j++)
        for (int i = p->i0; i < p->i1; i++) {
            int64_t c = (int64_t)j * (NX - 1) + i;
            for (int t = 0; t < 2; t++)
                for (int k = 0; k < 3; k++) id[g->f[3 * (2 * c + t) + k]] = 0;
            nf += 2;
        }
    int64_t nv = 0;
    for (int64_t i = 0; i < g->nv; i++)
        if (id[i] == 0) id[i] = nv++;
    CHECK_OK(hrn_emesh_alloc(out, nv, nf));
    for (int64_t i = 0; i < g->nv; i++)
        if (id[i] >= 0) memcpy(out->v + 3 * id[i], g->v + 3 * i, 3 * sizeof(double));
    int64_t k = 0;
    for (int j = p->j0; j < p->j1; j++)
        for (int i = p->i0; i < p->i1; i++) {
            int64_t c = (int64_t)j * (NX - 1) + i;
            for (int t = 0; t < 6; t++) out->f[k++] = (int32_t)id[g->f[6 * c + t]];
        }
    free(id);
}

static int region_of_kp(int k) {
    if ((k >= 27 && k <= 35) || k == 70 || k == 71) return 0;
    if ((k >= 48 && k <= 60) || k == 64) return 1;
    if ((k >= 36 && k <= 47) || (k >= 17 && k <= 26)) return 2;
    if (k == 76 || k == 77 || k == 7 || k == 8 || k == 9) return 3;
    return 3;
}

/* Keypoints at grid vertices inside their region (b1 = 1, b2 = 0 on the vertex's first triangle),
 * so the kidx vertices coincide with the keypoints; nose ones avoid the patch centre. */
static void make_kpdef(struct hrn_realy_kpdef *kd, const struct hrn_emesh *g) {
    kd->faces = g->f;
    kd->nf = g->nf;
    for (int k = 0; k < HRN_REALY_N_KP; k++) {
        const struct patch *p = &PATCH[region_of_kp(k)];
        int w = p->i1 - p->i0 - 2, h = p->j1 - p->j0 - 2;
        int i = p->i0 + 1 + (k * 7) % w, j = p->j0 + 1 + (k * 5) % h;
        if (region_of_kp(k) == 0 && abs(i - 30) < 6 && abs(j - 30) < 6) j = p->j0 + 1;
        kd->tri[k] = 2 * ((int64_t)j * (NX - 1) + i);
        kd->b1[k] = 1;
        kd->b2[k] = 0;
    }
}

static void make_gt(struct hrn_realy_gt *gt, const struct hrn_emesh *g,
                    const struct hrn_realy_kpdef *kd) {
    hrn_realy_keypoints(kd, g->v, gt->kp);
    for (int r = 0; r < 4; r++) extract(g, &PATCH[r], &gt->region[r]);
    gt->metrical_scale = 1;
}

static void free_gt(struct hrn_realy_gt *gt) {
    for (int r = 0; r < 4; r++) hrn_emesh_free(&gt->region[r]);
}

static void test_realy_moved_copy(void) {
    struct hrn_emesh g = {0}, p = {0};
    make_face(&g);
    struct hrn_realy_kpdef kd;
    make_kpdef(&kd, &g);
    struct hrn_realy_gt gt = {0};
    make_gt(&gt, &g, &kd);
    CHECK_OK(hrn_emesh_copy(&p, &g));
    double R[9], rv[3] = {0.3, -0.5, 0.2}, t[3] = {5, -3, 2};
    hrn_eval_rodrigues(rv, R);
    hrn_eval_transform(p.v, p.nv, 7.5, R, t);
    struct hrn_realy_result r;
    CHECK_OK(hrn_realy_eval(&p, &gt, &kd, &r));
    for (int k = 0; k < 4; k++) {
        CHECK_MSG(r.err_mm[k] < 1e-5, "region %d error %g", k, r.err_mm[k]);
        CHECK(r.ricp_fits[k] >= 1 && r.ricp_fits[k] <= 101);
        CHECK(r.nicp_solves[k] >= 1);
        if (getenv("HRN_TEST_VERBOSE")) printf("  region %d: err %.3g fits %d solves %d\n", k, r.err_mm[k], r.ricp_fits[k], r.nicp_solves[k]);
    }
    /* the metrical scale multiplies the NMSE */
    gt.metrical_scale = 100;
    struct hrn_realy_result r2;
    CHECK_OK(hrn_realy_eval(&p, &gt, &kd, &r2));
    for (int k = 0; k < 4; k++) CHECK_NEAR(r2.err_mm[k], 100 * r.nmse[k], 1e-12, 1e-9);
    free_gt(&gt);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

static void test_realy_nose_bump(void) {
    struct hrn_emesh g = {0}, p = {0};
    make_face(&g);
    struct hrn_realy_kpdef kd;
    make_kpdef(&kd, &g);
    struct hrn_realy_gt gt = {0};
    make_gt(&gt, &g, &kd);
    CHECK_OK(hrn_emesh_copy(&p, &g));
    for (int64_t i = 0; i < p.nv; i++) {
        double x = p.v[3 * i], y = p.v[3 * i + 1];
        p.v[3 * i + 2] += 0.05 * exp(-(x * x + y * y) / 0.005);
    }
    struct hrn_realy_result r;
    CHECK_OK(hrn_realy_eval(&p, &gt, &kd, &r));
    CHECK_MSG(r.err_mm[HRN_REALY_NOSE] > 1e-3 && r.err_mm[HRN_REALY_NOSE] < 0.05, "nose %g",
              r.err_mm[HRN_REALY_NOSE]);
    for (int k = 1; k < 4; k++) CHECK_MSG(r.err_mm[k] < 1e-4, "region %d error %g", k, r.err_mm[k]);
    free_gt(&gt);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

static void test_py_str9(void) {
    char b[32];
    CHECK(strcmp(hrn_py_float_str9(1.7223456789, b), "1.7223456") == 0);
    CHECK(strcmp(hrn_py_float_str9(12.5, b), "12.5") == 0);
    CHECK(strcmp(hrn_py_float_str9(0.1 + 0.2, b), "0.3000000") == 0);
    CHECK(strcmp(hrn_py_float_str9(1e-5, b), "1e-05") == 0);
    CHECK(strcmp(hrn_py_float_str9(2.0, b), "2.0") == 0);
    CHECK(strcmp(hrn_py_float_str9(123456789012.0, b), "123456789") == 0);
    CHECK(strcmp(hrn_py_float_repr(0.0001, b, sizeof b), "0.0001") == 0);
    CHECK(strcmp(hrn_py_float_repr(1e16, b, sizeof b), "1e+16") == 0);
    CHECK(strcmp(hrn_py_float_repr(1.5e-7, b, sizeof b), "1.5e-07") == 0);
    CHECK(strcmp(hrn_py_float_repr(-3.25, b, sizeof b), "-3.25") == 0);
}

static void test_kpdef_file(void) {
    const char *dir = hrn_test_tmpdir("eval_realy");
    char path[600];
    snprintf(path, sizeof path, "%s/kp.txt", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "[");
    for (int k = 0; k < 85; k++) fprintf(f, "%s[%d, 0.25, 1.5e-1]", k ? ", " : "", k * 3);
    fprintf(f, "]\n");
    fclose(f);
    struct hrn_realy_kpdef kd = {.nf = 1000};
    int32_t dummy[3] = {0, 1, 2};
    kd.faces = dummy;
    CHECK_OK(hrn_realy_kpdef_read(path, &kd));
    CHECK(kd.tri[84] == 252 && kd.b1[3] == 0.25 && kd.b2[7] == 0.15);
    kd.nf = 100; /* triangle 252 out of range */
    CHECK_STATUS(hrn_realy_kpdef_read(path, &kd), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("kp.txt");
    f = fopen(path, "w");
    fprintf(f, "[[1, 0.2, 0.3]]\n");
    fclose(f);
    CHECK_STATUS(hrn_realy_kpdef_read(path, &kd), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("85");
}

static int count_lines(const char *path, const char *prefix) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

/* The template mask removes faces from B.4's Pd only: a mask of all ones changes nothing; a mask
 * that keeps the four patches (cells + a 1-cell margin) leaves the moved copy at zero error; a mask
 * that drops the nose patch makes the nose error large while the rICP fits stay those of the
 * unmasked run. The exported meshes: face counts, per-vertex errors (mean = NMSE). */
static void test_realy_mask_and_export(void) {
    struct hrn_emesh g = {0}, p = {0};
    make_face(&g);
    struct hrn_realy_kpdef kd;
    make_kpdef(&kd, &g);
    struct hrn_realy_gt gt = {0};
    make_gt(&gt, &g, &kd);
    gt.metrical_scale = 2;
    CHECK_OK(hrn_emesh_copy(&p, &g));
    double R[9], rv[3] = {0.1, 0.2, -0.1}, t[3] = {1, 2, 3};
    hrn_eval_rodrigues(rv, R);
    hrn_eval_transform(p.v, p.nv, 3, R, t);
    struct hrn_realy_result r0, r1, r2;
    CHECK_OK(hrn_realy_eval(&p, &gt, &kd, &r0));
    uint8_t *mask = malloc((size_t)g.nv);
    memset(mask, 1, (size_t)g.nv);
    CHECK_OK(hrn_realy_eval_ex(&p, &gt, &kd, mask, &r1, NULL));
    for (int k = 0; k < 4; k++)
        CHECK(r1.nmse[k] == r0.nmse[k] && r1.ricp_fits[k] == r0.ricp_fits[k]);
    /* keep the patches with a margin */
    memset(mask, 0, (size_t)g.nv);
    for (int reg = 0; reg < 4; reg++)
        for (int j = PATCH[reg].j0 - 1; j <= PATCH[reg].j1 + 1; j++)
            for (int i = PATCH[reg].i0 - 1; i <= PATCH[reg].i1 + 1; i++) mask[j * NX + i] = 1;
    struct hrn_realy_meshes mo;
    CHECK_OK(hrn_realy_eval_ex(&p, &gt, &kd, mask, &r1, &mo));
    int64_t want_nf = 0;
    for (int64_t k = 0; k < g.nf; k++)
        want_nf += mask[g.f[3 * k]] && mask[g.f[3 * k + 1]] && mask[g.f[3 * k + 2]];
    CHECK(mo.nf == want_nf && want_nf < g.nf && want_nf > 0);
    for (int k = 0; k < 4; k++) {
        CHECK_MSG(r1.err_mm[k] < 1e-5, "masked region %d error %g", k, r1.err_mm[k]);
        CHECK(r1.ricp_fits[k] == r0.ricp_fits[k]);
        double m = hrn_eval_mean(mo.err[k], mo.scan[k].nv);
        CHECK_NEAR(m, r1.nmse[k], 1e-12, 1e-9);
    }
    const char *dir = hrn_test_tmpdir("eval_realy_export");
    char sub[600], path[700];
    snprintf(sub, sizeof sub, "%s/1_01", dir);
    CHECK_OK(hrn_realy_write_meshes(sub, &mo, gt.metrical_scale));
    snprintf(path, sizeof path, "%s/at_global.obj", sub);
    CHECK(count_lines(path, "v ") == g.nv && count_lines(path, "f ") == want_nf);
    static const char *reg[4] = {"nose", "mouth", "forehead", "cheek"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/at_%s.obj", sub, reg[k]);
        CHECK(count_lines(path, "f ") == want_nf);
        snprintf(path, sizeof path, "%s/deform_%s.obj", sub, reg[k]);
        CHECK(count_lines(path, "v ") == mo.scan[k].nv && count_lines(path, "f ") == mo.scan[k].nf);
        snprintf(path, sizeof path, "%s/error_%s.obj", sub, reg[k]);
        CHECK(count_lines(path, "v ") == mo.scan[k].nv);
        snprintf(path, sizeof path, "%s/error_%s.txt", sub, reg[k]);
        double *e = NULL;
        int64_t ne = 0;
        CHECK_OK(hrn_eval_read_numbers(path, &e, &ne));
        CHECK(ne == mo.scan[k].nv);
        double mx = 0;
        for (int64_t i = 0; i < ne; i++) mx = fmax(mx, fabs(e[i] - 2 * mo.err[k][i]));
        CHECK(mx < 1e-8 * (1 + r1.err_mm[k]));
        free(e);
    }
    /* error colours: zero error is jet(0) = dark blue (0, 0, 0.5) */
    snprintf(path, sizeof path, "%s/error_nose.obj", sub);
    FILE *f = fopen(path, "r");
    double x, y, z, cr = -1, cg = -1, cb = -1;
    CHECK(f && fscanf(f, "v %lf %lf %lf %lf %lf %lf", &x, &y, &z, &cr, &cg, &cb) == 6);
    if (f) fclose(f);
    CHECK(cr == 0 && cg == 0 && fabs(cb - 128.0 / 255) < 1e-8);
    hrn_realy_meshes_free(&mo);
    /* drop the nose patch's faces: B.4 sees a hole, rICP does not */
    memset(mask, 1, (size_t)g.nv);
    for (int j = PATCH[0].j0 + 2; j <= PATCH[0].j1 - 2; j++)
        for (int i = PATCH[0].i0 + 2; i <= PATCH[0].i1 - 2; i++) mask[j * NX + i] = 0;
    CHECK_OK(hrn_realy_eval_ex(&p, &gt, &kd, mask, &r2, NULL));
    CHECK_MSG(r2.err_mm[HRN_REALY_NOSE] > 0.01, "nose with a hole: %g", r2.err_mm[HRN_REALY_NOSE]);
    for (int k = 0; k < 4; k++) CHECK(r2.ricp_fits[k] == r0.ricp_fits[k]);
    for (int k = 1; k < 4; k++) CHECK_MSG(r2.err_mm[k] < 1e-5, "region %d %g", k, r2.err_mm[k]);
    memset(mask, 0, (size_t)g.nv);
    CHECK_STATUS(hrn_realy_eval_ex(&p, &gt, &kd, mask, &r2, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("mask keeps no triangle");
    free(mask);
    free_gt(&gt);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

int main(void) {
    RUN(test_py_str9);
    RUN(test_kpdef_file);
    RUN(test_realy_moved_copy);
    RUN(test_realy_nose_bump);
    RUN(test_realy_mask_and_export);
    return hrn_test_finish();
}
