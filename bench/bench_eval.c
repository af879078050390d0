/* bench_eval.c: per-sample time of each hrn-eval protocol on synthetic meshes of 35709-ish and
 * 100k vertices, and the kernels' query throughput against brute force. Run by hand:
 *     ./bench_eval            (OMP_NUM_THREADS decides the threads of the OpenMP loops)
 * Figures go to docs/PERFORMANCE.md with the machine and the date. */
#include "hrn_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double height(double x, double y) { return 40 * exp(-(x * x + y * y) / 3600.0) + 0.05 * x; }

/* A face-like height field of n x n vertices over [-100,100]^2 mm. */
static void face(struct hrn_emesh *m, int n) {
    if (hrn_emesh_grid(m, n, n, -100, 100, -100, 100) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    for (int64_t i = 0; i < m->nv; i++) m->v[3 * i + 2] = height(m->v[3 * i], m->v[3 * i + 1]);
}

static void bench_kernels(int n) {
    struct hrn_emesh m = {0};
    face(&m, n);
    struct hrn_bvh b = {0};
    double t0 = hrn_time_now();
    if (hrn_bvh_build(&b, m.v, m.nv, m.f, m.nf) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t_build = hrn_time_now() - t0;
    struct hrn_rng r;
    hrn_rng_seed(&r, 1);
    enum { NQ = 200000, NB = 100 };
    double *q = malloc(NQ * 3 * sizeof(double)), *d = malloc(NQ * sizeof(double));
    for (int i = 0; i < NQ; i++) {
        q[3 * i] = 200 * hrn_rng_uniform(&r) - 100;
        q[3 * i + 1] = 200 * hrn_rng_uniform(&r) - 100;
        q[3 * i + 2] = height(q[3 * i], q[3 * i + 1]) + 10 * hrn_rng_normal(&r);
    }
    t0 = hrn_time_now();
    double acc = 0;
    for (int i = 0; i < NQ; i++) acc += hrn_bvh_closest(&b, q + 3 * i, NULL, NULL);
    double t_bvh = hrn_time_now() - t0;
    t0 = hrn_time_now();
    hrn_bvh_closest_many(&b, q, NQ, NULL, d, NULL);
    double t_bvh_mt = hrn_time_now() - t0;
    t0 = hrn_time_now();
    for (int i = 0; i < NB; i++) acc += hrn_closest_brute(m.v, m.f, m.nf, q + 3 * i, NULL, NULL);
    double t_brute = hrn_time_now() - t0;
    printf("closest point, %lld vertices / %lld triangles: BVH build %.1f ms; BVH %.2f M q/s "
           "(1 thread), %.2f M q/s (omp); brute force %.0f q/s -> speed-up %.0fx\n",
           (long long)m.nv, (long long)m.nf, 1e3 * t_build, NQ / t_bvh / 1e6, NQ / t_bvh_mt / 1e6,
           NB / t_brute, (NQ / t_bvh) / (NB / t_brute));
    /* nearest vertex */
    struct hrn_kdtree kd = {0};
    t0 = hrn_time_now();
    if (hrn_kdtree_build(&kd, m.v, m.nv) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t_kb = hrn_time_now() - t0;
    t0 = hrn_time_now();
    int64_t sink = 0;
    for (int i = 0; i < NQ; i++) sink += hrn_kdtree_nearest(&kd, q + 3 * i, NULL);
    double t_kd = hrn_time_now() - t0;
    t0 = hrn_time_now();
    for (int i = 0; i < NB * 10; i++) {
        double best = 1e300;
        int64_t bi = 0;
        for (int64_t k = 0; k < m.nv; k++) {
            double dx = m.v[3 * k] - q[3 * i], dy = m.v[3 * k + 1] - q[3 * i + 1],
                   dz = m.v[3 * k + 2] - q[3 * i + 2], e = dx * dx + dy * dy + dz * dz;
            if (e < best) { best = e; bi = k; }
        }
        sink += bi;
    }
    double t_kbr = hrn_time_now() - t0;
    printf("nearest vertex: k-d build %.1f ms; k-d %.2f M q/s; brute %.0f q/s -> %.0fx\n",
           1e3 * t_kb, NQ / t_kd / 1e6, NB * 10 / t_kbr, (NQ / t_kd) / (NB * 10 / t_kbr));
    /* rays: one 256x256 cylindrical map */
    double *dp = malloc(256 * 256 * sizeof(double)), *nm = malloc(256 * 256 * 3 * sizeof(double));
    double R[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, hc[3] = {0, 0, -60};
    t0 = hrn_time_now();
    if (hrn_fs_map_cyl(&m, R, hc, 1, dp, nm) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t_cyl = hrn_time_now() - t0;
    /* z-buffer: one 256x256 orthographic depth map */
    struct hrn_zbuf_camera cam = {.kind = HRN_CAMERA_ORTHO, .width = 256, .height = 256,
                                  .xmag = 128, .ymag = 128, .znear = 0.05, .zfar = 10000,
                                  .cull_back = 1};
    for (int64_t i = 0; i < m.nv; i++) m.v[3 * i + 2] -= 500;
    t0 = hrn_time_now();
    if (hrn_zbuffer_render(&cam, m.v, m.nv, m.f, m.nf, dp) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t_z = hrn_time_now() - t0;
    printf("rays: 65536-ray cylindrical map (build + all hits) %.1f ms (%.2f M rays/s); "
           "z-buffer 256x256 %.1f ms\n", 1e3 * t_cyl, 65536 / t_cyl / 1e6, 1e3 * t_z);
    if (acc < 0 || sink < 0) printf("%g\n", acc);
    free(q);
    free(d);
    free(dp);
    free(nm);
    hrn_kdtree_free(&kd);
    hrn_bvh_free(&b);
    hrn_emesh_free(&m);
}

/* FaceScape wild item: a sphere-capped face at z = -10 (normalised), ps = 100. */
static void bench_facescape(int n) {
    struct hrn_emesh g = {0}, p = {0};
    face(&g, n);
    for (int64_t i = 0; i < g.nv; i++) {
        for (int j = 0; j < 3; j++) g.v[3 * i + j] /= 100; /* normalised units */
        g.v[3 * i + 2] -= 10;
    }
    if (hrn_emesh_copy(&p, &g) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] += 0.01 * sin(p.v[3 * i] * 20);
    struct hrn_fs_item it = {.lab = 0, .ps = 100, .head_center = {0, 0, -10.6}, .cull_back = 1,
                             .R = {1, 0, 0, 0, 1, 0, 0, 0, 1}};
    struct hrn_fs_result r;
    double t0 = hrn_time_now();
    if (hrn_fs_eval(&g, &p, &it, &r) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t = hrn_time_now() - t0;
    printf("facescape (wild), %lld vertices: %.0f ms/sample (CD %.3f mm, CR %.1f%%)\n",
           (long long)g.nv, 1e3 * t, r.cd, 100 * r.cr);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

static void bench_s2m(int n) {
    struct hrn_emesh g = {0}, p = {0};
    face(&g, n);
    face(&p, n);
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] += 0.5 * sin(p.v[3 * i] / 10);
    double lmk[21] = {-40, 0, 0, -10, 0, 0, 10, 0, 0, 40, 0, 0, 0, -40, 0, -20, -60, 0, 20, -60, 0};
    for (int k = 0; k < 7; k++) lmk[3 * k + 2] = height(lmk[3 * k], lmk[3 * k + 1]);
    for (int mode = 0; mode < 2; mode++) {
        struct hrn_emesh q = {0};
        if (hrn_emesh_copy(&q, &p) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
        struct hrn_s2m_opts o = {.crop_factor = mode ? 1.4 : 1.2, .nose_tip_index = -1,
                                 .refine = mode ? HRN_REFINE_SIMILARITY : HRN_REFINE_NONE,
                                 .max_iter = 100};
        struct hrn_s2m_result r;
        double t0 = hrn_time_now();
        if (hrn_s2m_eval(&g, lmk, &q, lmk, &o, &r) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
        double t = hrn_time_now() - t0;
        printf("%s, %lld-vertex scan and prediction: %.0f ms/sample (%lld cropped vertices, "
               "mean %.3f mm)\n", mode ? "now (crop 1.4, similarity ICP)" : "multiview (crop 1.2)",
               (long long)g.nv, 1e3 * t, (long long)r.n, r.mean);
        hrn_s2m_result_free(&r);
        hrn_emesh_free(&q);
    }
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

/* REALY on the face grid: keypoints at grid vertices inside four patches (as in the tests),
 * scan regions cut from the GT grid, prediction = GT with a wave. */
static void bench_realy(int n) {
    struct hrn_emesh g = {0}, p = {0};
    face(&g, n);
    face(&p, n);
    for (int64_t i = 0; i < p.nv; i++) p.v[3 * i + 2] += 0.3 * sin(p.v[3 * i] / 8);
    struct hrn_realy_kpdef kd = {.faces = g.f, .nf = g.nf};
    /* patches as fractions of the grid: nose, mouth, forehead, cheek */
    const double P[4][4] = {{0.37, 0.63, 0.37, 0.63}, {0.3, 0.7, 0.13, 0.33},
                            {0.17, 0.83, 0.7, 0.92}, {0.05, 0.3, 0.13, 0.67}};
    int cells = n - 1;
    for (int k = 0; k < HRN_REALY_N_KP; k++) {
        int reg = ((k >= 27 && k <= 35) || k == 70 || k == 71) ? 0
                  : ((k >= 48 && k <= 60) || k == 64)         ? 1
                  : ((k >= 36 && k <= 47) || (k >= 17 && k <= 26)) ? 2 : 3;
        int i0 = (int)(P[reg][0] * cells), i1 = (int)(P[reg][1] * cells);
        int j0 = (int)(P[reg][2] * cells), j1 = (int)(P[reg][3] * cells);
        int i = i0 + 1 + (k * 7) % (i1 - i0 - 2), j = j0 + 1 + (k * 5) % (j1 - j0 - 2);
        kd.tri[k] = 2 * ((int64_t)j * cells + i);
        kd.b1[k] = 1;
        kd.b2[k] = 0;
    }
    struct hrn_realy_gt gt = {.metrical_scale = 1};
    hrn_realy_keypoints(&kd, g.v, gt.kp);
    int64_t *id = malloc((size_t)g.nv * sizeof(int64_t));
    for (int reg = 0; reg < 4; reg++) {
        int i0 = (int)(P[reg][0] * cells), i1 = (int)(P[reg][1] * cells);
        int j0 = (int)(P[reg][2] * cells), j1 = (int)(P[reg][3] * cells);
        for (int64_t i = 0; i < g.nv; i++) id[i] = -1;
        int64_t nf = 0, nv = 0;
        for (int j = j0; j < j1; j++)
            for (int i = i0; i < i1; i++) {
                int64_t c = (int64_t)j * cells + i;
                for (int t = 0; t < 6; t++) id[g.f[6 * c + t]] = 0;
                nf += 2;
            }
        for (int64_t i = 0; i < g.nv; i++)
            if (id[i] == 0) id[i] = nv++;
        if (hrn_emesh_alloc(&gt.region[reg], nv, nf) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
        for (int64_t i = 0; i < g.nv; i++)
            if (id[i] >= 0) memcpy(gt.region[reg].v + 3 * id[i], g.v + 3 * i, 3 * sizeof(double));
        int64_t k = 0;
        for (int j = j0; j < j1; j++)
            for (int i = i0; i < i1; i++) {
                int64_t c = (int64_t)j * cells + i;
                for (int t = 0; t < 6; t++) gt.region[reg].f[k++] = (int32_t)id[g.f[6 * c + t]];
            }
    }
    free(id);
    struct hrn_realy_result r;
    double t0 = hrn_time_now();
    if (hrn_realy_eval(&p, &gt, &kd, &r) != HRN_OK) HRN_ABORT("%s", hrn_error_msg());
    double t = hrn_time_now() - t0;
    printf("realy, %lld-vertex prediction, scan regions %lld/%lld/%lld/%lld vertices: %.0f ms/sample "
           "(rICP fits %d/%d/%d/%d, NICP solves %d/%d/%d/%d; errors %.3f/%.3f/%.3f/%.3f)\n",
           (long long)p.nv, (long long)gt.region[0].nv, (long long)gt.region[1].nv,
           (long long)gt.region[2].nv, (long long)gt.region[3].nv, 1e3 * t, r.ricp_fits[0],
           r.ricp_fits[1], r.ricp_fits[2], r.ricp_fits[3], r.nicp_solves[0], r.nicp_solves[1],
           r.nicp_solves[2], r.nicp_solves[3], r.err_mm[0], r.err_mm[1], r.err_mm[2], r.err_mm[3]);
    for (int k = 0; k < 4; k++) hrn_emesh_free(&gt.region[k]);
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
}

/* usage: bench_eval [kernels|facescape|s2m|realy ...] (default: all) */
int main(int argc, char **argv) {
    const int sizes[2] = {189, 317}; /* 35721 and 100489 vertices */
    const char *names[4] = {"kernels", "facescape", "s2m", "realy"};
    void (*fns[4])(int) = {bench_kernels, bench_facescape, bench_s2m, bench_realy};
    for (int s = 0; s < 2; s++) {
        printf("--- %d x %d grid ---\n", sizes[s], sizes[s]);
        for (int k = 0; k < 4; k++) {
            int want = argc < 2;
            for (int a = 1; a < argc; a++) want |= strcmp(argv[a], names[k]) == 0;
            if (want) fns[k](sizes[s]);
            fflush(stdout);
        }
    }
    return 0;
}
