/* test_render.c: the differentiable face ops and rasterizer ops: finite-difference gradient checks
 * of every op (rasterizer gradients on a small mesh, at pixels away from every edge), the op
 * rasterizer against the plain one and a brute force, texture lookup conventions. */
#include "hrn_model.h"
#include "hrn_test.h"

static struct hrn_face_model g_fm;
static struct hrn_topo g_topo;

static void fill_uniform(struct hrn_tensor *x, uint64_t seed, float lo, float hi) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, lo, hi);
}

static int gradcheck(struct hrn_tape *t, struct hrn_tensor *const *in, int n, hrn_gradcheck_fn fn,
                     void *user, double h, const char *what) {
    struct hrn_gradcheck_opts o = {.h = h, .seed = 3, .max_per_input = 48};
    struct hrn_gradcheck_report rep;
    enum hrn_status st = hrn_gradcheck(t, in, n, fn, user, &o, &rep);
    if (st != HRN_OK) printf("    %s: %s\n", what, hrn_error_msg());
    if (getenv("HRN_TEST_VERBOSE")) printf("    %-24s %s\n", what, rep.msg);
    return st == HRN_OK && rep.n_checked > 0;
}

/* --- face ops ------------------------------------------------------------------------------- */

static enum hrn_status fn_shape(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_face_shape_op(t, &g_fm, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_albedo(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                 struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_face_albedo_op(t, &g_fm, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_rigid(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_rigid_op(t, in[0], in[1], 1, 5);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_project(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                  struct hrn_tensor **out) {
    (void)n;
    (void)u;
    struct hrn_camera cam = hrn_camera_default();
    *out = hrn_project_op(t, &cam, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_normals(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                  struct hrn_tensor **out) {
    (void)n;
    *out = hrn_normals_op(t, &g_topo, in[0], *(const int *)u);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_sh(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                             struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_sh_op(t, in[0], in[1], in[2], 2);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_face_ops_gradcheck(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    int64_t nc = hrn_face_model_n_coeffs(&g_fm), N = g_fm.n_verts;
    struct hrn_tensor *c = hrn_tape_tensor(&t, 1, &nc, "coeffs");
    fill_uniform(c, 1, -1, 1);
    CHECK(gradcheck(&t, &c, 1, fn_shape, NULL, 0, "face_shape"));
    CHECK(gradcheck(&t, &c, 1, fn_albedo, NULL, 0, "face_albedo"));
    struct hrn_tensor *in[3];
    in[0] = hrn_tape_tensor(&t, 2, (int64_t[]){7, 3}, "v");
    in[1] = hrn_tape_tensor(&t, 1, (int64_t[]){9}, "p");
    fill_uniform(in[0], 2, -1, 1);
    fill_uniform(in[1], 3, -0.8f, 0.8f);
    CHECK(gradcheck(&t, in, 2, fn_rigid, NULL, 0, "rigid"));
    /* over several blocks of the backward's sums (256 points each) */
    struct hrn_tensor *big[2] = {hrn_tape_tensor(&t, 2, (int64_t[]){700, 3}, "v700"), in[1]};
    fill_uniform(big[0], 12, -1, 1);
    CHECK(gradcheck(&t, big, 2, fn_rigid, NULL, 0, "rigid 700"));
    fill_uniform(in[0], 4, -1, 1); /* z in [-1, 1]: z_c in [9, 11] */
    CHECK(gradcheck(&t, in, 1, fn_project, NULL, 0, "project"));
    /* normals on the synthetic mesh (all vertices, a subset checked) */
    struct hrn_tensor *v = hrn_tape_tensor(&t, 2, (int64_t[]){N, 3}, "verts");
    memcpy(v->data, g_fm.mean_shape, (size_t)(3 * N) * sizeof(float));
    int modes[2] = {HRN_NORMALS_HRN, HRN_NORMALS_AREA | HRN_NORMALS_FLIP_XY};
    for (int m = 0; m < 2; m++)
        CHECK_MSG(gradcheck(&t, &v, 1, fn_normals, &modes[m], 1e-3, "normals"), "mode %d", modes[m]);
    /* SH: per-vertex (N,3) and planar (3,H,W), within one block of the kernels and over three */
    int64_t shp[4][3] = {{11, 3, 0}, {3, 4, 5}, {150, 3, 0}, {3, 10, 15}};
    for (int k = 0; k < 4; k++) {
        int nd = k % 2 == 0 ? 2 : 3;
        in[0] = hrn_tape_tensor(&t, nd, shp[k], "n");
        in[1] = hrn_tape_tensor(&t, nd, shp[k], "albedo");
        in[2] = hrn_tape_tensor(&t, 1, (int64_t[]){30}, "gamma");
        fill_uniform(in[0], 5, -1, 1);
        fill_uniform(in[1], 6, 0.2f, 1);
        fill_uniform(in[2], 7, -0.5f, 0.5f);
        CHECK_MSG(gradcheck(&t, in, 3, fn_sh, NULL, 0, "sh"), "layout %d", k);
    }
    hrn_tape_free(&t);
}

static void test_face_ops_match_plain(void) {
    /* the ops compute the same as the plain forward functions of hrn_model.h, which read the
     * float32 bases (the float16 copy is checked against float32 in test_face_basis.c) */
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_F32));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    struct hrn_coeff_layout l = hrn_face_model_layout(&g_fm);
    int64_t nc = l.total, N = g_fm.n_verts;
    struct hrn_tensor *c = hrn_tape_tensor(&t, 1, &nc, "coeffs");
    fill_uniform(c, 9, -0.3f, 0.3f);
    struct hrn_tensor *S = hrn_face_shape_op(&t, &g_fm, c);
    struct hrn_tensor *V = hrn_rigid_op(&t, S, c, l.angle, l.trans);
    struct hrn_tensor *nrm = hrn_normals_op(&t, &g_topo, V, HRN_NORMALS_HRN);
    struct hrn_tensor *A = hrn_face_albedo_op(&t, &g_fm, c);
    struct hrn_tensor *col = hrn_sh_op(&t, nrm, A, c, l.gamma);
    CHECK(col != NULL);
    float *ref = malloc((size_t)(3 * N) * sizeof(float)), *rn = malloc((size_t)(3 * N) * sizeof(float));
    float *ra = malloc((size_t)(3 * N) * sizeof(float)), *rc = malloc((size_t)(3 * N) * sizeof(float));
    hrn_face_posed(&g_fm, c->data, ref);
    double e = 0;
    for (int64_t i = 0; i < 3 * N; i++) e = fmax(e, fabs((double)ref[i] - (double)V->data[i]));
    CHECK_MSG(e < 1e-5, "posed vertices differ by %g", e);
    hrn_vertex_normals(ref, N, g_fm.tris, g_fm.n_tris, rn);
    e = 0;
    for (int64_t i = 0; i < 3 * N; i++) e = fmax(e, fabs((double)rn[i] - (double)nrm->data[i]));
    CHECK_MSG(e < 1e-4, "normals differ by %g", e);
    hrn_face_albedo(&g_fm, c->data, ra); /* clamped; the op is not: compare where inside [0,1] */
    hrn_sh_shade(rn, A->data, c->data + l.gamma, N, rc);
    e = 0;
    for (int64_t i = 0; i < 3 * N; i++) e = fmax(e, fabs((double)rc[i] - (double)col->data[i]));
    CHECK_MSG(e < 1e-4, "SH colours differ by %g", e);
    int in01 = 0;
    for (int64_t i = 0; i < 3 * N; i++)
        if (A->data[i] >= 0 && A->data[i] <= 1) in01 += fabsf(A->data[i] - ra[i]) < 1e-5f;
    CHECK(in01 > N);
    free(ref);
    free(rn);
    free(ra);
    free(rc);
    hrn_tape_free(&t);
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_AUTO));
}

/* --- rasterizer ------------------------------------------------------------------------------- */

/* A 5x5 vertex grid (32 triangles) with a bump, seen from the default camera at a small image. */
enum { GN = 5, IMG = 24 };
static float g_grid_v[GN * GN * 3];
static int32_t g_grid_t[(GN - 1) * (GN - 1) * 6];
static float g_safe[IMG * IMG]; /* pixels > 0.25 px from every projected edge and covered */
static struct hrn_camera g_cam;

static void setup_grid(void) {
    g_cam = hrn_camera_default();
    g_cam.width = g_cam.height = IMG;
    g_cam.cx = g_cam.cy = IMG / 2.0f;
    g_cam.focal = 95; /* 1 unit ~ 9.5 px at z_c = 10 */
    for (int y = 0; y < GN; y++)
        for (int x = 0; x < GN; x++) {
            float *p = g_grid_v + 3 * (y * GN + x);
            p[0] = -1.05f + 2.1f * (float)x / (GN - 1) + 0.07f * (float)((x * 7 + y * 3) % 5 - 2) / 2;
            p[1] = -1.0f + 2.0f * (float)y / (GN - 1) + 0.05f * (float)((x * 3 + y * 5) % 5 - 2) / 2;
            p[2] = 0.8f * expf(-(p[0] * p[0] + p[1] * p[1]));
        }
    int k = 0;
    for (int y = 0; y < GN - 1; y++)
        for (int x = 0; x < GN - 1; x++) {
            int i = y * GN + x;
            int32_t tt[6] = {i, i + 1, i + GN, i + 1, i + GN + 1, i + GN};
            if ((x + y) % 2) { /* alternate the diagonal, and one triangle turned clockwise */
                int32_t t2[6] = {i, i + 1, i + GN + 1, i, i + GN, i + GN + 1};
                memcpy(tt, t2, sizeof tt);
            }
            memcpy(g_grid_t + k, tt, sizeof tt);
            k += 6;
        }
    /* safe pixels */
    float uvz[GN * GN * 3];
    hrn_project(&g_cam, g_grid_v, GN * GN, uvz);
    struct hrn_raster r = {0};
    HRN_ASSERT(hrn_rasterize(&g_cam, g_grid_v, GN * GN, g_grid_t, (GN - 1) * (GN - 1) * 2, &r) ==
               HRN_OK);
    for (int row = 0; row < IMG; row++)
        for (int col = 0; col < IMG; col++) {
            double px = col + 0.5, py = IMG - row - 0.5; /* (u, v) of the pixel centre */
            double dmin = 1e9;
            for (int f = 0; f < (GN - 1) * (GN - 1) * 2; f++)
                for (int e = 0; e < 3; e++) {
                    const float *a = uvz + 3 * g_grid_t[3 * f + e];
                    const float *b = uvz + 3 * g_grid_t[3 * f + (e + 1) % 3];
                    double dx = (double)b[0] - (double)a[0], dy = (double)b[1] - (double)a[1];
                    double s = ((px - (double)a[0]) * dx + (py - (double)a[1]) * dy) /
                               (dx * dx + dy * dy);
                    s = s < 0 ? 0 : s > 1 ? 1 : s;
                    double qx = (double)a[0] + s * dx - px, qy = (double)a[1] + s * dy - py;
                    dmin = fmin(dmin, sqrt(qx * qx + qy * qy));
                }
            g_safe[row * IMG + col] = r.tri[row * IMG + col] >= 0 && dmin > 0.25;
        }
    hrn_raster_free(&r);
}

static enum hrn_status fn_raster_interp(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                                        void *u, struct hrn_tensor **out) {
    (void)n;
    int which = *(const int *)u;
    struct hrn_tensor *uvz = hrn_project_op(t, &g_cam, in[0]);
    struct hrn_tensor *rast = hrn_rasterize_op(t, &g_cam, uvz, g_grid_t, (GN - 1) * (GN - 1) * 2);
    struct hrn_tensor *safe = hrn_tape_wrap(t, g_safe, 2, (int64_t[]){IMG, IMG}, "safe");
    if (which == 0) {
        struct hrn_tensor *img = hrn_interpolate_op(t, in[1], rast, g_grid_t);
        *out = hrn_mask_mul(t, img, safe);
    } else { /* b1, b2 and depth themselves */
        struct hrn_tensor *r3 = hrn_slice(t, rast, 2, 0, 3);
        r3 = hrn_permute(t, r3, (int[]){2, 0, 1});
        *out = hrn_mask_mul(t, r3, safe);
    }
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_raster_gradcheck(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 16u << 20));
    int n_safe = 0;
    for (int i = 0; i < IMG * IMG; i++) n_safe += g_safe[i] > 0;
    CHECK_MSG(n_safe > IMG * IMG / 4, "only %d safe pixels", n_safe);
    struct hrn_tensor *in[2];
    in[0] = hrn_tape_tensor(&t, 2, (int64_t[]){GN * GN, 3}, "verts");
    in[1] = hrn_tape_tensor(&t, 2, (int64_t[]){GN * GN, 3}, "attr");
    memcpy(in[0]->data, g_grid_v, sizeof g_grid_v);
    fill_uniform(in[1], 11, -1, 1);
    int which = 0;
    /* h = 2e-3 units = 0.02 px: no safe pixel changes triangle */
    CHECK(gradcheck(&t, in, 2, fn_raster_interp, &which, 2e-3, "rasterize+interpolate"));
    which = 1;
    CHECK(gradcheck(&t, in, 1, fn_raster_interp, &which, 2e-3, "rasterize (b1,b2,z)"));
    hrn_tape_free(&t);
}

static void test_raster_op_matches_plain(void) {
    /* the op's output equals hrn_rasterize (itself checked by brute force in test_model.c) on the
     * synthetic face at three poses */
    struct hrn_camera cam = hrn_camera_default();
    cam.width = 96;
    cam.height = 80;
    cam.cx = 48;
    cam.cy = 40;
    cam.focal = 430;
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 16u << 20));
    int64_t N = g_fm.n_verts;
    float *verts = malloc((size_t)(3 * N) * sizeof(float));
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(&g_fm), sizeof(float));
    struct hrn_coeff_layout l = hrn_face_model_layout(&g_fm);
    struct hrn_raster r = {0};
    float poses[3][3] = {{0, 0, 0}, {0.1f, 0.5f, 0.05f}, {-0.2f, -0.9f, 0.1f}};
    for (int p = 0; p < 3; p++) {
        hrn_tape_reset(&t);
        memcpy(coeffs + l.angle, poses[p], sizeof poses[p]);
        hrn_face_posed(&g_fm, coeffs, verts);
        CHECK_OK(hrn_rasterize(&cam, verts, N, g_fm.tris, g_fm.n_tris, &r));
        struct hrn_tensor *v = hrn_tape_wrap(&t, verts, 2, (int64_t[]){N, 3}, "v");
        struct hrn_tensor *rast =
            hrn_rasterize_op(&t, &cam, hrn_project_op(&t, &cam, v), g_fm.tris, g_fm.n_tris);
        CHECK(rast != NULL);
        if (!rast) break;
        int diff = 0, covered = 0;
        double db = 0;
        for (int i = 0; i < cam.width * cam.height; i++) {
            int32_t f = (int32_t)rast->data[4 * i + 3] - 1;
            covered += f >= 0;
            if (f != r.tri[i]) {
                diff++;
                continue;
            }
            if (f >= 0)
                db = fmax(db, fmax(fabs((double)rast->data[4 * i] - (double)r.b1[i]),
                                   fabs((double)rast->data[4 * i + 2] - (double)r.depth[i])));
        }
        /* float projection vs double: a pixel centre within ~1e-5 px of an edge may flip */
        CHECK_MSG(diff <= 2, "pose %d: %d of %d pixels differ", p, diff, covered);
        CHECK(covered > 1000);
        CHECK_MSG(db < 1e-4, "pose %d: values differ by %g", p, db);
    }
    hrn_raster_free(&r);
    free(verts);
    free(coeffs);
    hrn_tape_free(&t);
}

/* --- texture ---------------------------------------------------------------------------------- */

static float g_rast_full[3 * 4 * 4]; /* (3,4,4) rast with every pixel covered by triangle 0 */

static enum hrn_status fn_texture(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                  struct hrn_tensor **out) {
    (void)n;
    (void)u;
    struct hrn_tensor *rast = hrn_tape_wrap(t, g_rast_full, 3, (int64_t[]){3, 4, 4}, "rast");
    *out = hrn_texture_op(t, in[0], in[1], rast);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_texture(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 4u << 20));
    for (int i = 0; i < 12; i++) g_rast_full[4 * i + 3] = 1;
    struct hrn_tensor *in[2];
    in[0] = hrn_tape_tensor(&t, 3, (int64_t[]){2, 5, 6}, "tex");
    in[1] = hrn_tape_tensor(&t, 3, (int64_t[]){2, 3, 4}, "st");
    fill_uniform(in[0], 12, -1, 1);
    /* st in [-0.3, 1.3] (wrap), at least 0.1 texel from the texel-centre lines (kinks) */
    struct hrn_rng r;
    hrn_rng_seed(&r, 13);
    for (int i = 0; i < 24; i++) {
        int64_t N = i < 12 ? 6 : 5;
        double x = floor(-2 + 10 * (double)hrn_rng_uniformf(&r)) + 0.1 + 0.8 * (double)hrn_rng_uniformf(&r);
        in[1]->data[i] = (float)((x + 0.5) / (double)N);
    }
    CHECK(gradcheck(&t, in, 2, fn_texture, NULL, 2e-3, "texture"));
    /* conventions: st at a texel centre ((j+0.5)/W, (i+0.5)/H) returns that texel; wrap */
    struct hrn_tensor *st = hrn_tape_tensor(&t, 3, (int64_t[]){2, 3, 4}, "st2");
    int tests[3][2] = {{0, 0}, {4, 2}, {5, 4}}; /* (col, row) */
    for (int k = 0; k < 3; k++) {
        st->data[k] = (float)((tests[k][0] + 0.5) / 6);
        st->data[12 + k] = (float)((tests[k][1] + 0.5) / 5);
    }
    st->data[3] = 0; /* the left border: half col 0, half col 5 (wrap) */
    st->data[15] = (float)(0.5 / 5);
    struct hrn_tensor *rast = hrn_tape_wrap(&t, g_rast_full, 3, (int64_t[]){3, 4, 4}, "rast");
    struct hrn_tensor *o = hrn_texture_op(&t, in[0], st, rast);
    CHECK(o != NULL);
    if (o) {
        const float *T = in[0]->data;
        for (int k = 0; k < 3; k++)
            for (int ch = 0; ch < 2; ch++)
                CHECK_NEAR(o->data[ch * 12 + k], T[ch * 30 + tests[k][1] * 6 + tests[k][0]], 1e-6,
                           0);
        CHECK_NEAR(o->data[3], 0.5 * (double)(T[0] + T[5]), 1e-6, 0);
    }
    hrn_tape_free(&t);
}

static void test_render_uv_texture(void) {
    /* a constant texture renders as that constant inside the coverage, 0 outside */
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 16u << 20));
    struct hrn_camera cam = hrn_camera_default();
    cam.width = cam.height = 64;
    cam.cx = cam.cy = 32;
    cam.focal = 290;
    int64_t N = g_fm.n_verts;
    struct hrn_tensor *v = hrn_tape_wrap(&t, g_fm.mean_shape, 2, (int64_t[]){N, 3}, "v");
    struct hrn_tensor *tex = hrn_tape_tensor(&t, 3, (int64_t[]){3, 16, 16}, "tex");
    for (int64_t i = 0; i < tex->numel; i++) tex->data[i] = i < 256 ? 0.25f : i < 512 ? 0.5f : 1;
    float *st = hrn_uv_tex_coords(&g_fm);
    struct hrn_tensor *rast = NULL;
    struct hrn_tensor *img =
        hrn_render_uv_texture(&t, &g_fm, &cam, hrn_project_op(&t, &cam, v), st, tex, &rast);
    CHECK(img != NULL);
    if (img) {
        int bad = 0, cov = 0;
        for (int i = 0; i < 64 * 64; i++) {
            int c = rast->data[4 * i + 3] > 0;
            cov += c;
            bad += fabsf(img->data[i] - (c ? 0.25f : 0)) > 1e-6f ||
                   fabsf(img->data[2 * 4096 + i] - (c ? 1.0f : 0)) > 1e-6f;
        }
        CHECK(cov > 1000);
        CHECK(bad == 0);
    }
    free(st);
    hrn_tape_free(&t);
}


/* --- antialias ---------------------------------------------------------------------------------- */

/* A quad (two triangles) on a 32x32 image given directly in (u, v, z_c): its edges are slanted a
 * little and placed so every crossing point alpha stays in [0.2, 0.3] or [0.6, 0.65] (away from
 * the blend switch at 0.5 and from the pixel centres), so small steps keep the blend structure. */
enum { AA = 32 };
static struct hrn_topo g_quad;
/* screen px = u - 0.5, py = 31.5 - v: corners at px/py (3.75,3.35) (27.3,3.4) (27.2,27.65)
 * (3.7,27.62) */
static const float QUAD_UVZ[12] = {4.25f, 28.15f, 10, 27.8f, 28.1f, 10,
                                   27.7f, 3.85f, 10, 4.2f, 3.88f, 10};
static const int32_t QUAD_T[6] = {0, 1, 2, 0, 2, 3};

static enum hrn_status fn_aa(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                             struct hrn_tensor **out) {
    (void)n;
    (void)u;
    struct hrn_camera cam = hrn_camera_default();
    cam.width = cam.height = AA;
    struct hrn_tensor *rast = hrn_rasterize_op(t, &cam, in[0], QUAD_T, 2);
    *out = hrn_antialias_op(t, in[1], rast, in[0], &g_quad);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_antialias_gradcheck(void) {
    CHECK_OK(hrn_topo_init(&g_quad, QUAD_T, 2, 4));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 8u << 20));
    struct hrn_tensor *in[2];
    in[0] = hrn_tape_tensor(&t, 2, (int64_t[]){4, 3}, "uvz");
    in[1] = hrn_tape_tensor(&t, 3, (int64_t[]){2, AA, AA}, "img");
    memcpy(in[0]->data, QUAD_UVZ, sizeof QUAD_UVZ);
    fill_uniform(in[1], 41, 0, 1);
    /* the blends exist: the quad's outline changes about 4 x 24 pixels */
    struct hrn_tensor *o = NULL;
    CHECK_OK(fn_aa(&t, in, 2, NULL, &o));
    int changed = 0;
    for (int i = 0; i < 2 * AA * AA && o; i++) changed += o->data[i] != in[1]->data[i];
    CHECK_MSG(changed > 2 * 80, "only %d values changed", changed);
    CHECK(gradcheck(&t, in, 2, fn_aa, NULL, 1e-3, "antialias"));
    hrn_tape_free(&t);
}

/* Area of the convex polygon (n points) clipped to the half plane a*x + b*y <= c. */
static int clip_half(const double (*in)[2], int n, double a, double b, double c, double (*out)[2]) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        const double *p = in[i], *q = in[(i + 1) % n];
        double dp = a * p[0] + b * p[1] - c, dq = a * q[0] + b * q[1] - c;
        if (dp <= 0) {
            out[m][0] = p[0];
            out[m++][1] = p[1];
        }
        if ((dp < 0) != (dq < 0) && dp != dq) {
            double s = dp / (dp - dq);
            out[m][0] = p[0] + s * (q[0] - p[0]);
            out[m++][1] = p[1] + s * (q[1] - p[1]);
        }
    }
    return m;
}

/* The quad's exact coverage of each pixel (the box-filtered image): the quad clipped to each
 * pixel's square, shoelace area. */
static void quad_coverage(const float *uvz, double *cov) {
    double p[4][2];
    for (int k = 0; k < 4; k++) {
        p[k][0] = (double)uvz[3 * k] - 0.5;
        p[k][1] = AA - 0.5 - (double)uvz[3 * k + 1];
    }
    for (int row = 0; row < AA; row++)
        for (int col = 0; col < AA; col++) {
            double a[12][2], b[12][2];
            int n = clip_half((const double(*)[2])p, 4, 1, 0, col + 0.5, a);
            n = clip_half((const double(*)[2])a, n, -1, 0, -(col - 0.5), b);
            n = clip_half((const double(*)[2])b, n, 0, 1, row + 0.5, a);
            n = clip_half((const double(*)[2])a, n, 0, -1, -(row - 0.5), b);
            double area = 0;
            for (int i = 0; i < n; i++)
                area += b[i][0] * b[(i + 1) % n][1] - b[(i + 1) % n][0] * b[i][1];
            cov[row * AA + col] = fabs(area) / 2;
        }
}

static void test_antialias_vs_blurred_coverage(void) {
    /* A white quad over black: the antialiased image approximates the box-filtered coverage, and
     * its gradient w.r.t. the corners that of the coverage (finite differences of the exact
     * pixel coverage, step 0.01 px). L = sum of a smooth weight times the image. */
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 8u << 20));
    struct hrn_tensor *in[2];
    in[0] = hrn_tape_tensor(&t, 2, (int64_t[]){4, 3}, "uvz");
    in[1] = hrn_tape_tensor(&t, 3, (int64_t[]){1, AA, AA}, "img");
    memcpy(in[0]->data, QUAD_UVZ, sizeof QUAD_UVZ);
    CHECK_OK(hrn_tape_requires_grad(&t, in[0]));
    double wgt[AA * AA];
    for (int i = 0; i < AA * AA; i++) wgt[i] = 1 + 0.05 * (i % AA) + 0.03 * (i / AA);
    struct hrn_camera cam = hrn_camera_default();
    cam.width = cam.height = AA;
    struct hrn_tensor *rast = hrn_rasterize_op(&t, &cam, in[0], QUAD_T, 2);
    for (int i = 0; i < AA * AA; i++) in[1]->data[i] = rast->data[4 * i + 3] > 0;
    struct hrn_tensor *o = hrn_antialias_op(&t, in[1], rast, in[0], &g_quad);
    CHECK(o != NULL);
    if (!o) return;
    double cov[AA * AA], cp[AA * AA], cm[AA * AA], err = 0;
    quad_coverage(QUAD_UVZ, cov);
    for (int i = 0; i < AA * AA; i++) err = fmax(err, fabs((double)o->data[i] - cov[i]));
    CHECK_MSG(err < 0.1, "antialiased image differs from the coverage by %g", err);
    float *seed = malloc(AA * AA * sizeof(float));
    for (int i = 0; i < AA * AA; i++) seed[i] = (float)wgt[i];
    CHECK_OK(hrn_tape_backward_seed(&t, o, seed));
    free(seed);
    for (int k = 0; k < 8; k++) { /* u and v of each corner */
        int e = 3 * (k / 2) + k % 2;
        float up[12], um[12];
        memcpy(up, QUAD_UVZ, sizeof up);
        memcpy(um, QUAD_UVZ, sizeof um);
        up[e] += 0.01f;
        um[e] -= 0.01f;
        quad_coverage(up, cp);
        quad_coverage(um, cm);
        double fd = 0;
        for (int i = 0; i < AA * AA; i++)
            fd += wgt[i] * (cp[i] - cm[i]) / ((double)up[e] - (double)um[e]);
        double ga = (double)in[0]->grad[e];
        CHECK_MSG(fabs(ga - fd) < 0.05 * fabs(fd) + 0.05, "corner %d %s: analytic %g, coverage %g",
                  k / 2, k % 2 ? "v" : "u", ga, fd);
        if (getenv("HRN_TEST_VERBOSE"))
            printf("    corner %d %s: analytic %8.4f  coverage FD %8.4f\n", k / 2, k % 2 ? "v" : "u",
                   ga, fd);
    }
    hrn_tape_free(&t);
    hrn_topo_free(&g_quad);
}

static void test_errors(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x = hrn_tape_tensor(&t, 2, (int64_t[]){4, 2}, "x");
    struct hrn_camera cam = hrn_camera_default();
    CHECK(hrn_project_op(&t, &cam, x) == NULL);
    CHECK_ERR_HAS("project");
    CHECK_ERR_HAS("(4,2)");
    CHECK(hrn_face_shape_op(&t, &g_fm, x) == NULL);
    CHECK_ERR_HAS("face_shape");
    /* a NULL input keeps the first message */
    CHECK(hrn_rasterize_op(&t, &cam, hrn_project_op(&t, &cam, x), g_fm.tris, 1) == NULL);
    CHECK_ERR_HAS("project");
    hrn_tape_free(&t);
}

int main(void) {
    if (hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) !=
            HRN_OK ||
        hrn_topo_init(&g_topo, g_fm.tris, g_fm.n_tris, g_fm.n_verts) != HRN_OK) {
        printf("setup: %s\n0 passed, 1 failed\n", hrn_error_msg());
        return 1;
    }
    setup_grid();
    RUN(test_face_ops_gradcheck);
    RUN(test_face_ops_match_plain);
    RUN(test_raster_gradcheck);
    RUN(test_raster_op_matches_plain);
    RUN(test_texture);
    RUN(test_render_uv_texture);
    RUN(test_antialias_gradcheck);
    RUN(test_antialias_vs_blurred_coverage);
    RUN(test_errors);
    hrn_topo_free(&g_topo);
    hrn_face_model_free(&g_fm);
    return hrn_test_finish();
}
