/* test_eval_kernels.c: the evaluation module's geometry kernels against brute force and analytic
 * answers: closest point (plane, sphere), nearest vertex, ray hits, z-buffer, REALY fit,
 * MATLAB Procrustes, statistics, trimesh vertex merging and the CHOLMOD non-rigid ICP. */
#include "hrn_eval.h"
#include "hrn_test.h"

static void rand_rotation(struct hrn_rng *r, double R[9]) {
    double rv[3] = {2 * hrn_rng_uniform(r) - 1, 2 * hrn_rng_uniform(r) - 1,
                    2 * hrn_rng_uniform(r) - 1};
    for (int j = 0; j < 3; j++) rv[j] *= 1.5;
    hrn_eval_rodrigues(rv, R);
}

static void test_closest_plane(void) {
    struct hrn_emesh m = {0};
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_emesh_grid(&m, 21, 31, -1, 1, -2, 2));
    CHECK_OK(hrn_bvh_build(&b, m.v, m.nv, m.f, m.nf));
    struct hrn_rng r;
    hrn_rng_seed(&r, 1);
    for (int i = 0; i < 200; i++) {
        double p[3] = {3 * hrn_rng_uniform(&r) - 1.5, 5 * hrn_rng_uniform(&r) - 2.5,
                       2 * hrn_rng_uniform(&r) - 1}, q[3];
        double d2 = hrn_bvh_closest(&b, p, q, NULL);
        /* analytic: clamp x,y to the rectangle, z to 0 */
        double cx = fmin(1, fmax(-1, p[0])), cy = fmin(2, fmax(-2, p[1]));
        double want = (p[0] - cx) * (p[0] - cx) + (p[1] - cy) * (p[1] - cy) + p[2] * p[2];
        CHECK_NEAR(d2, want, 1e-12, 1e-12);
        CHECK_NEAR(q[0], cx, 1e-12, 0);
        CHECK_NEAR(q[1], cy, 1e-12, 0);
        CHECK_NEAR(q[2], 0, 1e-12, 0);
    }
    hrn_bvh_free(&b);
    hrn_emesh_free(&m);
}

static void test_closest_sphere_vs_brute(void) {
    struct hrn_emesh m = {0};
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_emesh_uv_sphere(&m, 2.0, 24, 48));
    CHECK_OK(hrn_emesh_validate(&m, "sphere", 1));
    CHECK_OK(hrn_bvh_build(&b, m.v, m.nv, m.f, m.nf));
    struct hrn_rng r;
    hrn_rng_seed(&r, 2);
    int mism = 0;
    double maxerr = 0;
    for (int i = 0; i < 500; i++) {
        double p[3];
        for (int j = 0; j < 3; j++) p[j] = 6 * hrn_rng_uniform(&r) - 3;
        double q1[3], q2[3];
        int64_t t1, t2;
        double d1 = hrn_bvh_closest(&b, p, q1, &t1);
        double d2 = hrn_closest_brute(m.v, m.f, m.nf, p, q2, &t2);
        if (d1 != d2 || t1 != t2) mism++;
        /* the tessellation lies inside the sphere, within r(1 - cos(pi/24)) of it */
        double rad = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        double e = fabs(sqrt(d1) - fabs(rad - 2.0));
        if (e > maxerr) maxerr = e;
    }
    CHECK_MSG(mism == 0, "%d BVH results differ from brute force", mism);
    CHECK(maxerr <= 2.0 * (1 - cos(3.14159265358979 / 24)) + 1e-12);
    /* the many-query version agrees with the single one */
    double P[30], D[10], Q[30];
    for (int i = 0; i < 30; i++) P[i] = 4 * hrn_rng_uniform(&r) - 2;
    hrn_bvh_closest_many(&b, P, 10, Q, D, NULL);
    for (int i = 0; i < 10; i++) CHECK_NEAR(D[i] * D[i], hrn_bvh_closest(&b, P + 3 * i, NULL, NULL), 1e-12, 1e-12);
    /* refit after a rigid motion: still equal to brute force */
    double R[9], t[3] = {0.3, -0.2, 1.0};
    rand_rotation(&r, R);
    hrn_eval_transform(m.v, m.nv, 1.5, R, t);
    hrn_bvh_refit(&b, m.v);
    mism = 0;
    for (int i = 0; i < 200; i++) {
        double p[3];
        for (int j = 0; j < 3; j++) p[j] = 8 * hrn_rng_uniform(&r) - 4;
        if (hrn_bvh_closest(&b, p, NULL, NULL) != hrn_closest_brute(m.v, m.f, m.nf, p, NULL, NULL))
            mism++;
    }
    CHECK(mism == 0);
    hrn_bvh_free(&b);
    hrn_emesh_free(&m);
}

static void test_kdtree_vs_brute(void) {
    struct hrn_rng r;
    hrn_rng_seed(&r, 3);
    enum { N = 3000 };
    double *p = malloc(N * 3 * sizeof(double));
    for (int i = 0; i < 3 * N; i++) p[i] = hrn_rng_uniform(&r);
    for (int i = 0; i < 30; i++) memcpy(p + 3 * (N - 1 - i), p + 3 * i, 3 * sizeof(double)); /* ties */
    struct hrn_kdtree t = {0};
    CHECK_OK(hrn_kdtree_build(&t, p, N));
    int bad = 0;
    for (int k = 0; k < 400; k++) {
        double q[3];
        if (k < 30) memcpy(q, p + 3 * k, sizeof q);
        else for (int j = 0; j < 3; j++) q[j] = 1.2 * hrn_rng_uniform(&r) - 0.1;
        double best = 1e300, d2;
        int64_t bi = -1;
        for (int i = 0; i < N; i++) {
            double dx = p[3 * i] - q[0], dy = p[3 * i + 1] - q[1], dz = p[3 * i + 2] - q[2];
            double e = dx * dx + dy * dy + dz * dz;
            if (e < best) { best = e; bi = i; }
        }
        int64_t got = hrn_kdtree_nearest(&t, q, &d2);
        if (got != bi || d2 != best) bad++;
    }
    CHECK_MSG(bad == 0, "%d k-d tree answers differ from brute force", bad);
    hrn_kdtree_free(&t);
    free(p);
}

static void test_ray_hits(void) {
    struct hrn_emesh m = {0};
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_emesh_uv_sphere(&m, 1.0, 16, 32));
    CHECK_OK(hrn_bvh_build(&b, m.v, m.nv, m.f, m.nf));
    struct hrn_rng r;
    hrn_rng_seed(&r, 4);
    struct hrn_ray_hit h[8];
    for (int i = 0; i < 100; i++) {
        /* from the centre: exactly one hit (up to shared edges), at distance <= 1 */
        double d[3] = {hrn_rng_normal(&r), hrn_rng_normal(&r), hrn_rng_normal(&r)}, o[3] = {0, 0, 0};
        int n = hrn_bvh_ray_hits(&b, o, d, h, 8);
        CHECK(n >= 1);
        double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        CHECK(h[0].t * len <= 1.0 + 1e-12 && h[0].t * len >= cos(3.15 / 16));
        /* the same from outside through the centre: two distinct hits, ordered */
        double o2[3] = {-3 * d[0] / len, -3 * d[1] / len, -3 * d[2] / len};
        n = hrn_bvh_ray_hits(&b, o2, d, h, 8);
        CHECK(n >= 2);
        if (n >= 2) CHECK(h[0].t <= h[n - 1].t);
        /* brute check of the count: every triangle, same test */
        int want = 0;
        for (int64_t k = 0; k < m.nf; k++) {
            struct hrn_bvh one = b; /* reuse the ray code on one-triangle ranges is not possible; */
            (void)one;
            const double *A = m.v + 3 * m.f[3 * k], *B = m.v + 3 * m.f[3 * k + 1],
                         *C = m.v + 3 * m.f[3 * k + 2];
            double e1[3], e2[3], s[3], pv[3], qv[3];
            for (int j = 0; j < 3; j++) { e1[j] = B[j] - A[j]; e2[j] = C[j] - A[j]; s[j] = o2[j] - A[j]; }
            pv[0] = d[1] * e2[2] - d[2] * e2[1]; pv[1] = d[2] * e2[0] - d[0] * e2[2]; pv[2] = d[0] * e2[1] - d[1] * e2[0];
            double det = e1[0] * pv[0] + e1[1] * pv[1] + e1[2] * pv[2];
            if (det == 0) continue;
            double u = (s[0] * pv[0] + s[1] * pv[1] + s[2] * pv[2]) / det;
            qv[0] = s[1] * e1[2] - s[2] * e1[1]; qv[1] = s[2] * e1[0] - s[0] * e1[2]; qv[2] = s[0] * e1[1] - s[1] * e1[0];
            double v = (d[0] * qv[0] + d[1] * qv[1] + d[2] * qv[2]) / det;
            double tt = (e2[0] * qv[0] + e2[1] * qv[1] + e2[2] * qv[2]) / det;
            if (u >= -1e-12 && v >= -1e-12 && 1 - u - v >= -1e-12 && tt > 0) want++;
        }
        CHECK(n == want);
    }
    /* a ray pointing away misses */
    double o3[3] = {0, 0, 5}, d3[3] = {0, 0, 1};
    CHECK(hrn_bvh_ray_hits(&b, o3, d3, h, 8) == 0);
    hrn_bvh_free(&b);
    hrn_emesh_free(&m);
}

static void test_zbuffer(void) {
    /* a tilted plane z = -50 + 0.1 x + 0.2 y under an orthographic camera (xmag = 20) */
    struct hrn_emesh m = {0};
    CHECK_OK(hrn_emesh_grid(&m, 11, 11, -10, 10, -10, 10));
    for (int64_t i = 0; i < m.nv; i++) m.v[3 * i + 2] = -50 + 0.1 * m.v[3 * i] + 0.2 * m.v[3 * i + 1];
    struct hrn_zbuf_camera cam = {.kind = HRN_CAMERA_ORTHO, .width = 64, .height = 64, .xmag = 20,
                                  .ymag = 20, .znear = 0.05, .zfar = 10000, .cull_back = 1};
    double *dep = malloc(64 * 64 * sizeof(double));
    CHECK_OK(hrn_zbuffer_render(&cam, m.v, m.nv, m.f, m.nf, dep));
    int n = 0, bad = 0;
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++) {
            double X = ((c + 0.5) / 32 - 1) * 20, Y = (1 - (r + 0.5) / 32) * 20;
            int inside = fabs(X) < 10 && fabs(Y) < 10;
            double d = dep[r * 64 + c];
            if (inside) {
                n++;
                if (fabs(d - (50 - 0.1 * X - 0.2 * Y)) > 1e-9) bad++;
            } else if (d != 0) bad++;
        }
    CHECK(n == 32 * 32);
    CHECK_MSG(bad == 0, "%d depth pixels wrong", bad);
    /* flipped winding is culled; without culling it renders the same */
    for (int64_t k = 0; k < m.nf; k++) { int32_t t = m.f[3 * k]; m.f[3 * k] = m.f[3 * k + 1]; m.f[3 * k + 1] = t; }
    CHECK_OK(hrn_zbuffer_render(&cam, m.v, m.nv, m.f, m.nf, dep));
    int nz = 0;
    for (int i = 0; i < 64 * 64; i++) nz += dep[i] != 0;
    CHECK(nz == 0);
    cam.cull_back = 0;
    CHECK_OK(hrn_zbuffer_render(&cam, m.v, m.nv, m.f, m.nf, dep));
    nz = 0;
    for (int i = 0; i < 64 * 64; i++) nz += dep[i] != 0;
    CHECK(nz == 32 * 32);
    hrn_emesh_free(&m);

    /* pinhole: a sphere of radius 100 at Z = 1000 seen by f = 1000: depth of the front surface,
     * nearest of two layers; compare with the exact ray-sphere intersection within the chord error */
    CHECK_OK(hrn_emesh_uv_sphere(&m, 100, 64, 128));
    for (int64_t i = 0; i < m.nv; i++) m.v[3 * i + 2] += 1000;
    struct hrn_zbuf_camera pc = {.kind = HRN_CAMERA_PINHOLE, .width = 64, .height = 64, .fx = 300,
                                 .fy = 300, .cx = 32, .cy = 32, .znear = 0.1, .zfar = 100000};
    CHECK_OK(hrn_zbuffer_render(&pc, m.v, m.nv, m.f, m.nf, dep));
    double maxe = 0;
    int cov = 0;
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++) {
            double x = (c + 0.5 - 32) / 300, y = (r + 0.5 - 32) / 300; /* ray (x, y, 1) */
            double a = x * x + y * y + 1, bb = -2 * 1000, cc = 1000.0 * 1000 - 100 * 100;
            double disc = bb * bb - 4 * a * cc;
            if (disc < 0.3 * 4e4) continue; /* skip the silhouette (disc = 4e4 on the axis) */
            double Z = (-bb - sqrt(disc)) / (2 * a);
            cov++;
            if (fabs(dep[r * 64 + c] - Z) > maxe) maxe = fabs(dep[r * 64 + c] - Z);
        }
    CHECK(cov > 100);
    CHECK_MSG(maxe < 100 * (1 - cos(3.14159265 / 64)) * 1.01, "max depth error %g", maxe);
    /* pyrender's depth path: within the 24-bit quantum d^2/(n 2^24) plus the float32
     * linearisation's rounding (one float32 ulp of f + n, 1/128, through dZ = Z^2/(2nf) d(den)) */
    double *dq = malloc(64 * 64 * sizeof(double));
    pc.gl_depth = 1;
    CHECK_OK(hrn_zbuffer_render(&pc, m.v, m.nv, m.f, m.nf, dq));
    double maxq = 0;
    for (int i = 0; i < 64 * 64; i++) {
        CHECK((dep[i] == 0) == (dq[i] == 0));
        if (fabs(dq[i] - dep[i]) > maxq) maxq = fabs(dq[i] - dep[i]);
    }
    CHECK_MSG(maxq > 0 && maxq < 1100.0 * 1100 / (0.1 * 16777216) +
                                     1100.0 * 1100 / (2 * 0.1 * 100000) / 128 + 1e-3,
              "max GL depth deviation %g", maxq);
    free(dq);
    free(dep);
    hrn_emesh_free(&m);
}

static void test_procrustes_random(void) {
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    for (int trial = 0; trial < 50; trial++) {
        double Y[21], X[21], R[9], t[3], s = 0.2 + 3 * hrn_rng_uniform(&r);
        for (int i = 0; i < 21; i++) Y[i] = 100 * hrn_rng_uniform(&r);
        rand_rotation(&r, R);
        for (int j = 0; j < 3; j++) t[j] = 50 * hrn_rng_normal(&r);
        memcpy(X, Y, sizeof X);
        hrn_eval_transform(X, 7, s, R, t);
        double s2, R2[9], t2[3], dis;
        CHECK_OK(hrn_procrustes_matlab(X, Y, 7, 1, &s2, R2, t2, &dis));
        CHECK_NEAR(s2, s, 1e-12, 1e-10);
        for (int j = 0; j < 9; j++) CHECK_NEAR(R2[j], R[j], 1e-10, 0);
        for (int j = 0; j < 3; j++) CHECK_NEAR(t2[j], t[j], 1e-8, 1e-10);
        CHECK_NEAR(dis, 0, 1e-12, 0);
        double s3, R3[9], t3[3];
        CHECK_OK(hrn_fit_realy(Y, X, 7, 1, &s3, R3, t3));
        CHECK_NEAR(s3, s, 1e-12, 1e-10);
        for (int j = 0; j < 9; j++) CHECK_NEAR(R3[j], R[j], 1e-10, 0);
        for (int j = 0; j < 3; j++) CHECK_NEAR(t3[j], t[j], 1e-8, 1e-10);
    }
    /* a mirrored copy: procrustes (reflection='best' with no det check) returns the reflection */
    double Y[21], X[21];
    for (int i = 0; i < 21; i++) Y[i] = hrn_rng_uniform(&r);
    memcpy(X, Y, sizeof X);
    for (int i = 0; i < 7; i++) X[3 * i] = -X[3 * i];
    double s, R[9], t[3];
    CHECK_OK(hrn_procrustes_matlab(X, Y, 7, 1, &s, R, t, NULL));
    double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                 R[2] * (R[3] * R[7] - R[4] * R[6]);
    CHECK_NEAR(det, -1, 1e-10, 0);
    CHECK_NEAR(s, 1, 1e-10, 0);
    /* the REALY L1 scale differs from Umeyama's for a non-exact fit: check its definition */
    double P[12] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}, Q[12];
    memcpy(Q, P, sizeof Q);
    Q[3] = 2; /* stretch one point */
    double sr, Rr[9], tr[3];
    CHECK_OK(hrn_fit_realy(P, Q, 4, 1, &sr, Rr, tr));
    double mq[3] = {0.5, 0.5, 0.75}, mp[3] = {0.25, 0.5, 0.75}, num = 0, den = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            num += fabs(Q[3 * i + j] - mq[j]);
            double rp = 0;
            for (int k = 0; k < 3; k++) rp += Rr[3 * j + k] * (P[3 * i + k] - mp[k]);
            den += fabs(rp);
        }
    CHECK_NEAR(sr, num / den, 1e-14, 1e-14);
}

static void test_stats(void) {
    double a[] = {5, 1, 3, 2};
    CHECK(hrn_eval_median(a, 4) == 2.5);
    CHECK(hrn_eval_median(a, 3) == 3);
    CHECK(isnan(hrn_eval_median(a, 0)));
    CHECK_NEAR(hrn_eval_mean(a, 4), 2.75, 0, 1e-15);
    CHECK_NEAR(hrn_eval_std(a, 4, 0), sqrt(2.1875), 0, 1e-14);
    CHECK_NEAR(hrn_eval_std(a, 4, 1), sqrt(2.1875 * 4 / 3), 0, 1e-14);
    double b[] = {1, NAN, 3};
    int64_t nv;
    CHECK(hrn_eval_nanmean(b, 3, &nv) == 2 && nv == 2);
}

static void test_trimesh_process(void) {
    struct hrn_emesh m = {0}, p = {0};
    CHECK_OK(hrn_emesh_grid(&m, 3, 3, 0, 1, 0, 1));
    /* append a duplicate of vertex 4 (within 1e-9) used by one face, and an unreferenced vertex */
    struct hrn_emesh m2 = {0};
    CHECK_OK(hrn_emesh_alloc(&m2, m.nv + 2, m.nf));
    memcpy(m2.v, m.v, (size_t)m.nv * 3 * sizeof(double));
    memcpy(m2.f, m.f, (size_t)m.nf * 3 * sizeof(int32_t));
    m2.v[3 * 9] = m.v[12] + 1e-10; m2.v[3 * 9 + 1] = m.v[13]; m2.v[3 * 9 + 2] = m.v[14];
    m2.v[3 * 10] = 7; m2.v[3 * 10 + 1] = 7; m2.v[3 * 10 + 2] = 7;
    for (int k = 0; k < 3; k++) if (m2.f[k] == 4) m2.f[k] = 9;
    CHECK_OK(hrn_emesh_trimesh_process(&m2, &p));
    CHECK(p.nv == 9);
    CHECK(memcmp(p.f, m.f, (size_t)m.nf * 3 * sizeof(int32_t)) == 0);
    CHECK(memcmp(p.v, m.v, (size_t)m.nv * 3 * sizeof(double)) == 0);
    hrn_emesh_free(&m);
    hrn_emesh_free(&m2);
    hrn_emesh_free(&p);
}

static void test_validate(void) {
    struct hrn_emesh m = {0};
    CHECK_OK(hrn_emesh_grid(&m, 3, 3, 0, 1, 0, 1));
    CHECK_OK(hrn_emesh_validate(&m, "g", 1));
    m.f[4] = m.f[3];
    CHECK_STATUS(hrn_emesh_validate(&m, "pred.obj", 1), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("degenerate");
    CHECK_ERR_HAS("pred.obj");
    CHECK_OK(hrn_emesh_validate(&m, "g", 0));
    m.f[4] = 100;
    CHECK_STATUS(hrn_emesh_validate(&m, "g", 0), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("index 100");
    m.f[4] = 1;
    m.v[5] = NAN;
    CHECK_STATUS(hrn_emesh_validate(&m, "g", 0), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("not finite");
    hrn_emesh_free(&m);
}

/* NICP without keypoints deforms a flat grid onto a parallel, slightly bent copy; the result must
 * approach the target (the data weights are 1 everywhere here), and keypoints pull chosen vertices. */
static void test_nicp(void) {
    struct hrn_emesh g = {0}, t = {0};
    CHECK_OK(hrn_emesh_grid(&g, 15, 15, -1, 1, -1, 1));
    CHECK_OK(hrn_emesh_grid(&t, 41, 41, -1, 1, -1, 1));
    for (int64_t i = 0; i < t.nv; i++) {
        double x = t.v[3 * i], y = t.v[3 * i + 1];
        t.v[3 * i + 2] = 0.3 + 0.05 * (x * x + y * y);
    }
    double *out = malloc((size_t)g.nv * 3 * sizeof(double));
    struct hrn_nicp_opts o = {.gamma = 1};
    int solves = 0;
    /* a saddle scan and its own vertices moved by 0.05 (< half the spacing): a common translation
     * zeroes both terms, so NICP must land on it. (A planar scan would leave the z column of the
     * affine maps undetermined: the normal matrix is singular, as upstream.) */
    struct hrn_emesh sad = {0};
    CHECK_OK(hrn_emesh_copy(&sad, &g));
    for (int64_t i = 0; i < sad.nv; i++)
        sad.v[3 * i + 2] = 0.1 * (sad.v[3 * i] * sad.v[3 * i] - sad.v[3 * i + 1] * sad.v[3 * i + 1]);
    double *moved = malloc((size_t)sad.nv * 3 * sizeof(double));
    for (int64_t i = 0; i < 3 * sad.nv; i++) moved[i] = sad.v[i] + (i % 3 == 2 ? 0.05 : 0.0);
    CHECK_OK(hrn_nicp(&sad, moved, sad.nv, &o, out, &solves));
    CHECK(solves >= 3);
    double maxd = 0;
    for (int64_t i = 0; i < 3 * sad.nv; i++) maxd = fmax(maxd, fabs(out[i] - moved[i]));
    CHECK_MSG(maxd < 1e-6, "translation not recovered: %g", maxd);
    free(moved);
    hrn_emesh_free(&sad);
    /* a bent target: the stiff schedule gets within a few hundredths (initial gap 0.3-0.4) */
    CHECK_OK(hrn_nicp(&g, t.v, t.nv, &o, out, &solves));
    double maxe = 0;
    for (int64_t i = 0; i < g.nv; i++) {
        double x = out[3 * i], y = out[3 * i + 1];
        double e = fabs(out[3 * i + 2] - (0.3 + 0.05 * (x * x + y * y)));
        if (e > maxe) maxe = e;
    }
    CHECK_MSG(maxe < 0.06, "deformed surface %.4f from the target", maxe);
    /* keypoints: 4 scan vertices pulled to given targets */
    int64_t kidx[4] = {0, 14, 210, 224};
    double kpos[12];
    for (int k = 0; k < 4; k++) {
        memcpy(kpos + 3 * k, g.v + 3 * kidx[k], 3 * sizeof(double));
        kpos[3 * k + 2] = 0.4;
    }
    struct hrn_nicp_opts ok = {.n_kp = 4, .kp_idx = kidx, .kp_pos = kpos, .gamma = 1};
    CHECK_OK(hrn_nicp(&g, t.v, t.nv, &ok, out, &solves));
    CHECK(solves >= 2 && solves <= 1 + 3 * 11);
    for (int64_t i = 0; i < g.nv; i++) CHECK(isfinite(out[3 * i + 2]));
    CHECK(out[2] > 0.3);
    free(out);
    hrn_emesh_free(&g);
    hrn_emesh_free(&t);
}

/* trimesh 3.12.7's closest point (REALY's official mode): a flat triangle A (normal +z) and a
 * triangle B rising from their shared edge x = 0. A point 0.01 below A and 5e-5 from the edge has
 * its exact closest point on A; B's (on the edge) is only 2.5e-9 farther in squared distance, and
 * B's normal points more towards the point, so trimesh returns B's. */
static void test_closest_trimesh_ties(void) {
    const double v[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, -1, 0.5, 0.5};
    const int32_t f[6] = {0, 1, 2, 0, 2, 3};
    struct hrn_bvh b = {0};
    CHECK_OK(hrn_bvh_build(&b, v, 4, f, 2));
    const double delta = 5e-5, h = 0.01;
    double below[3] = {delta, 0.3, -h}, far[3] = {2e-4, 0.3, -h};
    double q[3], d2;
    int64_t tri;
    d2 = hrn_bvh_closest(&b, below, q, &tri);
    CHECK(tri == 0 && fabs(q[0] - delta) < 1e-15 && fabs(d2 - h * h) < 1e-18);
    d2 = hrn_bvh_closest_trimesh(&b, below, q, &tri);
    CHECK_MSG(tri == 1 && fabs(q[0]) < 1e-15 && fabs(q[2]) < 1e-15,
              "behind A near the edge: trimesh takes B's edge point, got tri %lld x %g",
              (long long)tri, q[0]);
    CHECK_NEAR(d2, h * h + delta * delta, 1e-18, 1e-9);
    /* 2e-4 from the edge the squared distances are 4e-8 apart: no tie, A's point */
    d2 = hrn_bvh_closest_trimesh(&b, far, q, &tri);
    CHECK(tri == 0 && fabs(q[0] - 2e-4) < 1e-15 && fabs(d2 - h * h) < 1e-18);
    hrn_bvh_free(&b);
}

int main(void) {
    RUN(test_closest_plane);
    RUN(test_closest_sphere_vs_brute);
    RUN(test_closest_trimesh_ties);
    RUN(test_kdtree_vs_brute);
    RUN(test_ray_hits);
    RUN(test_zbuffer);
    RUN(test_procrustes_random);
    RUN(test_stats);
    RUN(test_trimesh_process);
    RUN(test_validate);
    RUN(test_nicp);
    return hrn_test_finish();
}
