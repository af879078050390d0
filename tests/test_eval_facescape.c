/* test_eval_facescape.c: the FaceScape protocol (spec A) on synthetic heads with known answers:
 * a moved copy of the GT is aligned back to zero error (wild and lab), concentric cylinders give
 * the analytic chamfer distance, a shorter prediction the analytic completeness, and the
 * align_deep3df loader matches numbers computed with numpy from the spec's formulas. */
#include "hrn_eval.h"
#include "hrn_test.h"

static const double PI = 3.14159265358979323846;

/* An open cylinder about the y axis (radius r, |y| <= h), nseg segments, outward faces. */
static void make_cylinder(struct hrn_emesh *m, double r, double h, int nseg, int nrow) {
    CHECK_OK(hrn_emesh_alloc(m, (int64_t)nseg * nrow, 2 * (int64_t)nseg * (nrow - 1)));
    for (int i = 0; i < nrow; i++)
        for (int j = 0; j < nseg; j++) {
            double a = 2 * PI * j / nseg, *p = m->v + 3 * ((int64_t)i * nseg + j);
            p[0] = r * sin(a);
            p[1] = -h + 2 * h * i / (nrow - 1);
            p[2] = r * cos(a);
        }
    int64_t k = 0;
    for (int i = 0; i + 1 < nrow; i++)
        for (int j = 0; j < nseg; j++) {
            int32_t a = i * nseg + j, b = i * nseg + (j + 1) % nseg, c = a + nseg, d = b + nseg;
            int32_t t[6] = {a, b, d, a, d, c};
            memcpy(m->f + 3 * k, t, sizeof t);
            k += 2;
        }
}

static const double ID[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

static void test_cylinder_chamfer_and_cr(void) {
    struct hrn_emesh g = {0}, p = {0}, cg = {0}, cp = {0};
    make_cylinder(&g, 80, 100, 1440, 41);
    make_cylinder(&p, 83, 100, 1440, 41);
    double *dg = malloc(256 * 256 * sizeof(double)), *dp = malloc(256 * 256 * sizeof(double));
    double *ng = malloc(256 * 256 * 3 * sizeof(double)), *np_ = malloc(256 * 256 * 3 * sizeof(double));
    double hc[3] = {0, 0, 0};
    CHECK_OK(hrn_fs_map_cyl(&g, ID, hc, 1, dg, ng));
    CHECK_OK(hrn_fs_map_cyl(&p, ID, hc, 1, dp, np_));
    int rows = 0;
    for (int i = 0; i < 256; i++) rows += fabs(150 - 300.0 * i / 255) <= 100;
    int64_t cov = 0;
    double sag = 80 * (1 - cos(PI / 1440));
    for (int k = 0; k < 256 * 256; k++)
        if (dg[k] != 0) {
            cov++;
            CHECK(dg[k] <= 80 + 1e-9 && dg[k] >= 80 - sag - 1e-9);
        }
    CHECK(cov == (int64_t)rows * 256);
    CHECK_OK(hrn_fs_cylinder2mesh(dg, &cg));
    CHECK_OK(hrn_fs_cylinder2mesh(dp, &cp));
    double cd;
    CHECK_OK(hrn_fs_chamfer(&cg, &cp, &cd));
    /* vertices at the same angles: distance (83 - 80) cos(pi/255) to the neighbouring facets, up
     * to the input tessellation's sag (< 0.003 mm) */
    CHECK_NEAR(cd, 3 * cos(PI / 255), 4e-3, 0);
    /* identical facet normals would make MNE NaN (A.8): compare with a coarse 64-gon instead,
     * whose facet normals are 0.25-11 GT facets (>= 1e-3 rad) away from every GT facet normal */
    struct hrn_emesh coarse = {0};
    make_cylinder(&coarse, 83, 100, 64, 41);
    CHECK_OK(hrn_fs_map_cyl(&coarse, ID, hc, 1, dp, np_));
    double mne = hrn_fs_mne(ng, np_);
    CHECK_MSG(mne > 1e-4 && mne < PI / 64, "mne %g", mne);
    hrn_emesh_free(&coarse);
    hrn_emesh_free(&cg);
    hrn_emesh_free(&cp);

    /* completeness: a prediction half as tall covers the rows with |y| <= 50 only */
    hrn_emesh_free(&p);
    make_cylinder(&p, 83, 50, 720, 11);
    int half = 0;
    for (int i = 0; i < 256; i++) half += fabs(150 - 300.0 * i / 255) <= 50;
    CHECK_OK(hrn_fs_map_cyl(&p, ID, hc, 1, dp, np_));
    int64_t common = 0;
    for (int k = 0; k < 256 * 256; k++) common += dg[k] != 0 && dp[k] != 0;
    CHECK(common == (int64_t)half * 256);
    free(dg);
    free(dp);
    free(ng);
    free(np_);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

/* A sphere "head" of radius 0.9 (normalised units) at z = -10, with the wild pupil scale 100. */
/* Two nested cylinders: every ray hits both; the farthest hit (r = 90) wins, as with pyembree. */
static void test_farthest_hit_wins(void) {
    struct hrn_emesh a = {0}, b = {0}, m = {0};
    make_cylinder(&a, 80, 100, 360, 11);
    make_cylinder(&b, 90, 100, 360, 11);
    CHECK_OK(hrn_emesh_alloc(&m, a.nv + b.nv, a.nf + b.nf));
    memcpy(m.v, a.v, (size_t)a.nv * 3 * sizeof(double));
    memcpy(m.v + 3 * a.nv, b.v, (size_t)b.nv * 3 * sizeof(double));
    memcpy(m.f, a.f, (size_t)a.nf * 3 * sizeof(int32_t));
    for (int64_t k = 0; k < 3 * b.nf; k++) m.f[3 * a.nf + k] = b.f[k] + (int32_t)a.nv;
    double *dp = malloc(256 * 256 * sizeof(double)), *nm = malloc(256 * 256 * 3 * sizeof(double));
    double hc[3] = {0, 0, 0};
    CHECK_OK(hrn_fs_map_cyl(&m, ID, hc, 1, dp, nm));
    int64_t n = 0, bad = 0;
    for (int k = 0; k < 256 * 256; k++)
        if (dp[k] != 0) {
            n++;
            bad += !(dp[k] <= 90 + 1e-9 && dp[k] >= 90 * cos(PI / 360) - 1e-9);
        }
    CHECK(n > 100 * 256);
    CHECK_MSG(bad == 0, "%lld pixels did not keep the farthest hit", (long long)bad);
    free(dp);
    free(nm);
    hrn_emesh_free(&a);
    hrn_emesh_free(&b);
    hrn_emesh_free(&m);
}

static void test_wild_moved_copy(void) {
    struct hrn_emesh g = {0}, p = {0};
    CHECK_OK(hrn_emesh_uv_sphere(&g, 0.9, 60, 120));
    for (int64_t i = 0; i < g.nv; i++) g.v[3 * i + 2] -= 10;
    CHECK_OK(hrn_emesh_copy(&p, &g));
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] += 0.2; /* 20 mm towards the camera */
    /* exact geometry: the analytic answers hold to 1e-9 without the official depth buffer */
    struct hrn_fs_item it = {.lab = 0, .ps = 100, .head_center = {0, 0, -10}, .cull_back = 1,
                             .exact = 1};
    memcpy(it.R, ID, sizeof ID);
    struct hrn_fs_result r;
    CHECK_OK(hrn_fs_eval(&g, &p, &it, &r));
    CHECK_NEAR(r.delta_z, 0.2 * 128, 1e-9, 0);
    CHECK_NEAR(r.cd, 0, 1e-9, 0);
    CHECK(r.cr == 1.0);
    CHECK(r.n_gt_cyl > 100 * 256);
    CHECK(isnan(r.mne) || r.mne < 1e-6); /* identical normals: 0, or NaN through acos(>1) (A.8) */
    CHECK(r.n_mask > 1000);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);

    /* a concentric larger sphere (offset surface, +1 mm): after the depth alignment it is moved
     * back by the median depth difference; every distance is then at most 1 mm + that shift */
    CHECK_OK(hrn_emesh_uv_sphere(&g, 0.9, 60, 120));
    CHECK_OK(hrn_emesh_uv_sphere(&p, 0.91, 60, 120));
    for (int64_t i = 0; i < g.nv; i++) g.v[3 * i + 2] -= 10;
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] -= 10;
    CHECK_OK(hrn_fs_eval(&g, &p, &it, &r));
    /* the bigger sphere is nearer by sqrt(91^2 - rho^2) - sqrt(90^2 - rho^2), from 1 mm on the
     * axis to 13.5 mm at rho = 90: the median lies between (x 1.28 px/mm) */
    CHECK_MSG(r.delta_z > 1.28 && r.delta_z < 13.5 * 1.28, "dz %g", r.delta_z);
    CHECK(r.cd > 0.1 && r.cd < 1.0 + r.delta_z / 1.28 + 1e-3);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

static void test_lab_identity(void) {
    /* GT sphere (pupil units, radius 1.5) 20 units in front; pred = GT in the camera frame, in
     * pupil units again (what the lab loader produces before *= 62.85) */
    struct hrn_emesh g = {0}, p = {0};
    CHECK_OK(hrn_emesh_uv_sphere(&g, 1.5, 60, 120));
    struct hrn_fs_item it = {.lab = 1, .K = {1200, 0, 128, 0, 1200, 128, 0, 0, 1},
                             .Rt = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 20}, .cull_back = 1};
    it.head_center[2] = 20 * 62.85;
    memcpy(it.R, ID, sizeof ID);
    CHECK_OK(hrn_emesh_copy(&p, &g));
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] += 20;
    struct hrn_fs_result r;
    CHECK_OK(hrn_fs_eval(&g, &p, &it, &r));
    CHECK(r.delta_z == 0);
    CHECK_NEAR(r.cd, 0, 1e-9, 0);
    CHECK(r.cr == 1.0);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

static void test_align_deep3df_numbers(void) {
    /* reference: the A.2 steps run in numpy (see the commit message) on these 3 vertices */
    struct hrn_emesh m = {0};
    CHECK_OK(hrn_emesh_alloc(&m, 3, 1));
    double v[9] = {0.1, 0.2, 0.0, -0.3, 0.1, 0.4, 0.2, -0.2, -0.4};
    memcpy(m.v, v, sizeof v);
    int32_t f[3] = {0, 1, 2};
    memcpy(m.f, f, sizeof f);
    double tp[5] = {300, 280, 0.9, 140, 150};
    hrn_fs_align_deep3df(&m, tp, -1);
    double want[9] = {0.18185763888888862, 0.1597222222222221, -2.0,
                      -0.17057291666666674, 0.07161458333333326, -1.6475694444444444,
                      0.2699652777777777, -0.19270833333333348, -2.3524305555555554};
    for (int i = 0; i < 9; i++) CHECK_NEAR(m.v[i], want[i], 1e-15, 1e-14);
    /* lab branch: height normalised to 3 units, z centred then moved to f/128 */
    memcpy(m.v, v, sizeof v);
    hrn_fs_ortho_branch(&m, 1200);
    double ymin = 1e9, ymax = -1e9, mz = 0;
    for (int i = 0; i < 3; i++) {
        ymin = fmin(ymin, m.v[3 * i + 1]);
        ymax = fmax(ymax, m.v[3 * i + 1]);
        mz += m.v[3 * i + 2] / 3;
    }
    CHECK_NEAR(ymax - ymin, 3, 1e-14, 0);
    CHECK_NEAR(mz, 1200.0 / 128 / (0.4 / 3), 1e-12, 1e-12);
    hrn_emesh_free(&m);
}

static void test_cylinder2mesh_rules(void) {
    double *c = calloc(256 * 256, sizeof(double));
    /* a 3x3 block of 100 with one jump of 20: only quads whose corners differ by < 15 */
    for (int i = 10; i < 13; i++)
        for (int j = 20; j < 23; j++) c[i * 256 + j] = 100;
    struct hrn_emesh m = {0};
    CHECK_OK(hrn_fs_cylinder2mesh(c, &m));
    CHECK(m.nf == 8 && m.nv == 9); /* 2x2 valid pixels, each 2 faces */
    hrn_emesh_free(&m);
    c[11 * 256 + 21] = 120; /* the centre jumps by 20: every quad touching it is dropped */
    CHECK_OK(hrn_fs_cylinder2mesh(c, &m));
    CHECK(m.nf == 0);
    hrn_emesh_free(&m);
    /* a covered last row makes the official code index past the map: reported, not guessed */
    for (int j = 0; j < 256; j++) c[255 * 256 + j] = c[0 * 256 + j] = 90;
    CHECK_STATUS(hrn_fs_cylinder2mesh(c, &m), HRN_ERR_UNSUPPORTED);
    free(c);
}

int main(void) {
    RUN(test_cylinder_chamfer_and_cr);
    RUN(test_farthest_hit_wins);
    RUN(test_wild_moved_copy);
    RUN(test_lab_identity);
    RUN(test_align_deep3df_numbers);
    RUN(test_cylinder2mesh_rules);
    return hrn_test_finish();
}
