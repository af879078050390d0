/* test_model.c: synthetic face model, HDF5 model format, forward geometry, SH, rasterizer. */
#include "hrn_model.h"
#include "hrn_test.h"

static struct hrn_face_model g_small;

static void test_synth_small_invariants(void) {
    struct hrn_face_model *fm = &g_small;
    CHECK(fm->n_verts > 1000 && fm->n_verts < 2000);
    CHECK(fm->n_tris > 1.8 * fm->n_verts && fm->n_tris < 2 * fm->n_verts);
    CHECK(fm->n_id == 80 && fm->n_exp == 64 && fm->n_tex == 80);
    CHECK(hrn_face_model_n_coeffs(fm) == 257);
    int bad = 0;
    int *used = calloc((size_t)fm->n_verts, sizeof *used);
    for (int64_t i = 0; i < 3 * fm->n_tris; i++) {
        bad += fm->tris[i] < 0 || fm->tris[i] >= fm->n_verts;
        if (!bad) used[fm->tris[i]] = 1;
    }
    CHECK(bad == 0);
    int unused = 0;
    for (int64_t v = 0; v < fm->n_verts; v++) unused += !used[v];
    CHECK_MSG(unused == 0, "%d vertices in no triangle", unused);
    free(used);
    /* landmarks: all defined, distinct, and in the right places relative to each other */
    for (int i = 0; i < 68; i++) CHECK(fm->lmk68[i] >= 0 && fm->lmk68[i] < fm->n_verts);
    const float *S = fm->mean_shape;
#define LX(i) S[3 * fm->lmk68[i]]
#define LY(i) S[3 * fm->lmk68[i] + 1]
#define LZ(i) S[3 * fm->lmk68[i] + 2]
    CHECK(LX(36) < LX(39) && LX(39) < LX(42) && LX(42) < LX(45)); /* eyes left to right */
    CHECK(LY(8) < LY(57) && LY(57) < LY(30) && LY(30) < LY(27) && LY(27) < LY(19)); /* chin up to brow */
    CHECK(LZ(30) > LZ(39) + 0.15f);                               /* the nose tip sticks out */
    CHECK(LX(0) < LX(36) && LX(16) > LX(45));                     /* jaw outside the eyes */
    /* centroid at the origin */
    double c[3] = {0, 0, 0};
    for (int64_t v = 0; v < fm->n_verts; v++)
        for (int d = 0; d < 3; d++) c[d] += (double)S[3 * v + d];
    for (int d = 0; d < 3; d++) CHECK_NEAR(c[d] / (double)fm->n_verts, 0.0, 1e-5, 0);
    /* face size in mm: about 15 cm wide and 20 cm tall */
    float xmin = 1e9f, xmax = -1e9f, ymin = 1e9f, ymax = -1e9f;
    for (int64_t v = 0; v < fm->n_verts; v++) {
        xmin = fminf(xmin, S[3 * v]);
        xmax = fmaxf(xmax, S[3 * v]);
        ymin = fminf(ymin, S[3 * v + 1]);
        ymax = fmaxf(ymax, S[3 * v + 1]);
    }
    CHECK_NEAR((xmax - xmin) * fm->mm_per_unit, 156, 5, 0);
    CHECK_NEAR((ymax - ymin) * fm->mm_per_unit, 210, 5, 0);
    /* skin mask excludes some vertices (eyes, brows, lips) but keeps most */
    double skin = 0;
    for (int64_t v = 0; v < fm->n_verts; v++) skin += (double)fm->skin_mask[v];
    CHECK(skin > 0.7 * (double)fm->n_verts && skin < 0.98 * (double)fm->n_verts);
}

static void test_synth_deterministic_and_seeded(void) {
    struct hrn_face_model a = {0}, b = {0};
    CHECK_OK(hrn_synth_face(&a, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_synth_face(&b, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 2}));
    size_t nb = (size_t)(3 * a.n_verts * a.n_id) * sizeof(float);
    CHECK(memcmp(a.id_basis, g_small.id_basis, nb) == 0);      /* same seed: identical */
    CHECK(memcmp(a.id_basis, b.id_basis, nb) != 0);            /* other seed: different */
    CHECK(memcmp(a.mean_shape, b.mean_shape, (size_t)(3 * a.n_verts) * sizeof(float)) == 0);
    /* identity standard deviations decay: RMS of column 3 > RMS of the last column */
    double r3 = 0, rl = 0;
    for (int64_t i = 0; i < 3 * a.n_verts; i++) {
        r3 += pow((double)a.id_basis[i * a.n_id + 3], 2);
        rl += pow((double)a.id_basis[i * a.n_id + a.n_id - 1], 2);
    }
    CHECK(r3 > 20 * rl);
    hrn_face_model_free(&a);
    hrn_face_model_free(&b);
    CHECK_STATUS(hrn_synth_face(&b, &(struct hrn_synth_params){.preset = (enum hrn_synth_preset)7}),
                 HRN_ERR_INVALID);
}

static void test_synth_bfm_counts(void) {
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_BFM, .seed = 3,
                                                             .n_id = 4, .n_exp = 9, .n_tex = 3}));
    CHECK(fm.n_verts == 35709);
    CHECK(fm.n_tris == 70789);
    int *used = calloc((size_t)fm.n_verts, sizeof *used);
    for (int64_t i = 0; i < 3 * fm.n_tris; i++) used[fm.tris[i]]++;
    int unused = 0;
    for (int64_t v = 0; v < fm.n_verts; v++) unused += !used[v];
    CHECK(unused == 0);
    free(used);
    hrn_face_model_free(&fm);
}

static void test_rotation(void) {
    float ang[3] = {0.3f, -0.5f, 0.2f}, R[9];
    hrn_euler_to_rot(ang, R);
    /* against the product of the three elementary matrices */
    double cx = cos(0.3), sx = sin(0.3), cy = cos(-0.5), sy = sin(-0.5), cz = cos(0.2), sz = sin(0.2);
    double Rx[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx}, Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy},
           Rz[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1}, T[9], M[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[3 * i + j] = 0;
            for (int k = 0; k < 3; k++) T[3 * i + j] += Ry[3 * i + k] * Rx[3 * k + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            M[3 * i + j] = 0;
            for (int k = 0; k < 3; k++) M[3 * i + j] += Rz[3 * i + k] * T[3 * k + j];
        }
    for (int i = 0; i < 9; i++) CHECK_NEAR(R[i], M[i], 1e-6, 0);
}

static void test_sh_constants(void) {
    float Y[9];
    hrn_sh_basis((float[]){0, 0, 1}, Y);
    CHECK_NEAR(Y[0], 0.8862269, 1e-6, 0);
    CHECK_NEAR(Y[2], 1.7724539, 1e-6, 0);
    CHECK_NEAR(Y[6], 0.7006239 * 2, 1e-6, 0);
    hrn_sh_basis((float[]){1, 0, 0}, Y);
    CHECK_NEAR(Y[3], -1.7724539, 1e-6, 0);
    CHECK_NEAR(Y[8], 1.2135162, 1e-6, 0);
    float s = (float)(1 / sqrt(3.0));
    hrn_sh_basis((float[]){s, s, s}, Y);
    CHECK_NEAR(Y[4], 2.4270324 / 3, 1e-6, 0);
    CHECK_NEAR(Y[5], -2.4270324 / 3, 1e-6, 0);
    /* zero gamma: ambient 0.8 only, colour = 0.8 * Y0 * albedo */
    float gamma[27] = {0}, rgb[3];
    hrn_sh_shade((float[]){0, 0, 1}, (float[]){0.5f, 0.25f, 1.0f}, gamma, 1, rgb);
    CHECK_NEAR(rgb[0], 0.8 * 0.8862269 * 0.5, 1e-6, 0);
    CHECK_NEAR(rgb[2], 0.8 * 0.8862269, 1e-6, 0);
}

static void test_normals_face_camera(void) {
    struct hrn_face_model *fm = &g_small;
    float *n = malloc((size_t)(3 * fm->n_verts) * sizeof(float));
    hrn_vertex_normals(fm->mean_shape, fm->n_verts, fm->tris, fm->n_tris, n);
    int tip = fm->lmk68[30];
    CHECK(n[3 * tip + 2] > 0.8f); /* the nose tip looks at the camera (+z) */
    int unit = 1;
    for (int64_t v = 0; v < fm->n_verts; v++) {
        double l = sqrt((double)(n[3 * v] * n[3 * v] + n[3 * v + 1] * n[3 * v + 1] +
                                 n[3 * v + 2] * n[3 * v + 2]));
        unit &= fabs(l - 1) < 1e-5;
    }
    CHECK(unit);
    /* the left jaw points left, the right jaw right */
    CHECK(n[3 * fm->lmk68[2]] < -0.3f && n[3 * fm->lmk68[14]] > 0.3f);
    free(n);
}

/* Brute force: for every pixel, every triangle; barycentrics by solving the 2x2 system in
 * screen space, depth by the perspective-correct formula. Returns the nearest triangle. */
static void brute_pixel(const struct hrn_camera *cam, const float *verts, const int32_t *tris,
                        int64_t n_tris, int row, int col, int32_t *tri, double *b1, double *b2,
                        double *depth) {
    *tri = -1;
    *depth = INFINITY;
    double px = col, py = row;
    for (int64_t f = 0; f < n_tris; f++) {
        double P[3][3];
        for (int k = 0; k < 3; k++) {
            const float *v = verts + 3 * tris[3 * f + k];
            double zc = (double)cam->camera_d - (double)v[2];
            P[k][0] = (double)cam->focal * (double)v[0] / zc + (double)cam->cx - 0.5;
            P[k][1] = (double)cam->height - 0.5 -
                      ((double)cam->focal * (double)v[1] / zc + (double)cam->cy);
            P[k][2] = zc;
        }
        double a11 = P[1][0] - P[0][0], a12 = P[2][0] - P[0][0];
        double a21 = P[1][1] - P[0][1], a22 = P[2][1] - P[0][1];
        double det = a11 * a22 - a12 * a21;
        if (det == 0) continue;
        double rx = px - P[0][0], ry = py - P[0][1];
        double l1 = (a22 * rx - a12 * ry) / det, l2 = (-a21 * rx + a11 * ry) / det, l0 = 1 - l1 - l2;
        if (l0 < 0 || l1 < 0 || l2 < 0) continue;
        double w0 = l0 / P[0][2], w1 = l1 / P[1][2], w2 = l2 / P[2][2], ws = w0 + w1 + w2;
        double z = 1 / ws;
        if (z < *depth) {
            *depth = z;
            *tri = (int32_t)f;
            *b1 = w1 / ws;
            *b2 = w2 / ws;
        }
    }
}

static void test_raster_vs_brute_force(void) {
    struct hrn_face_model *fm = &g_small;
    struct hrn_camera cam = hrn_camera_default();
    cam.width = 64; /* a smaller image keeps the brute force fast under the sanitizers */
    cam.height = 56;
    cam.cx = 32;
    cam.cy = 28;
    cam.focal = 280;
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(fm), sizeof(float));
    float *verts = malloc((size_t)(3 * fm->n_verts) * sizeof(float));
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    struct hrn_raster r = {0};
    float poses[3][3] = {{0, 0, 0}, {0.1f, 0.5f, 0.05f}, {-0.2f, -0.9f, 0.1f}};
    for (int p = 0; p < 3; p++) {
        memcpy(coeffs + l.angle, poses[p], sizeof poses[p]);
        hrn_face_posed(fm, coeffs, verts);
        CHECK_OK(hrn_rasterize(&cam, verts, fm->n_verts, fm->tris, fm->n_tris, &r));
        int covered = 0, mismatch = 0, tie = 0;
        double max_db = 0, max_dz = 0;
        for (int row = 0; row < cam.height; row++)
            for (int col = 0; col < cam.width; col++) {
                int32_t bt;
                double b1 = 0, b2 = 0, z;
                brute_pixel(&cam, verts, fm->tris, fm->n_tris, row, col, &bt, &b1, &b2, &z);
                size_t pix = (size_t)row * (size_t)cam.width + (size_t)col;
                int32_t rt = r.tri[pix];
                covered += rt >= 0;
                if (rt == bt) {
                    if (rt >= 0) {
                        max_db = fmax(max_db, fmax(fabs(b1 - (double)r.b1[pix]), fabs(b2 - (double)r.b2[pix])));
                        max_dz = fmax(max_dz, fabs(z - (double)r.depth[pix]));
                    }
                } else if (rt >= 0 && bt >= 0 && fabs(z - (double)r.depth[pix]) < 1e-6) {
                    tie++; /* a pixel centre on a shared edge or vertex: either owner is right */
                } else {
                    mismatch++;
                }
            }
        CHECK_MSG(mismatch == 0, "pose %d: %d pixels differ from brute force", p, mismatch);
        CHECK_MSG(covered > cam.width * cam.height / 4, "pose %d: only %d pixels covered", p, covered);
        CHECK(tie < covered / 50);
        CHECK_MSG(max_db < 1e-5 && max_dz < 1e-5, "pose %d: barycentric diff %g, depth diff %g", p,
                  max_db, max_dz);
    }
    hrn_raster_free(&r);
    free(coeffs);
    free(verts);
}

static void test_raster_perspective_correct(void) {
    /* One triangle tilted in depth. The interpolated world x at a pixel must equal the x where the
     * pixel's ray meets the triangle's plane; screen-space (affine) interpolation would not. */
    struct hrn_camera cam = hrn_camera_default();
    float verts[9] = {-0.8f, -0.8f, 2.0f, 0.8f, -0.8f, -2.0f, 0.0f, 0.9f, 0.0f};
    int32_t tris[3] = {0, 1, 2};
    struct hrn_raster r = {0};
    CHECK_OK(hrn_rasterize(&cam, verts, 3, tris, 1, &r));
    float attr[9];
    for (int i = 0; i < 9; i++) attr[i] = verts[i];
    float *out = malloc(3 * 224 * 224 * sizeof(float));
    hrn_raster_interpolate(&r, tris, attr, 3, 0.0f, out);
    /* plane through the three vertices */
    double e1[3], e2[3], nrm[3];
    for (int d = 0; d < 3; d++) {
        e1[d] = (double)verts[3 + d] - (double)verts[d];
        e2[d] = (double)verts[6 + d] - (double)verts[d];
    }
    nrm[0] = e1[1] * e2[2] - e1[2] * e2[1];
    nrm[1] = e1[2] * e2[0] - e1[0] * e2[2];
    nrm[2] = e1[0] * e2[1] - e1[1] * e2[0];
    double dpl = nrm[0] * (double)verts[0] + nrm[1] * (double)verts[1] + nrm[2] * (double)verts[2];
    double max_err = 0, max_affine = 0;
    int n = 0;
    for (int row = 0; row < 224; row += 3)
        for (int col = 0; col < 224; col += 3) {
            size_t pix = (size_t)row * 224 + (size_t)col;
            if (r.tri[pix] < 0) continue;
            n++;
            /* ray from the camera (0,0,10) through the pixel centre: x = (u-cx) zc / f */
            double u = col + 0.5, v = 224 - row - 0.5;
            double dx = (u - 112) / 1015, dy = (v - 112) / 1015; /* per unit of z_c */
            /* point = (dx*zc, dy*zc, 10 - zc); solve the plane equation for zc */
            double zc = (dpl - nrm[2] * 10) / (nrm[0] * dx + nrm[1] * dy - nrm[2]);
            double x = dx * zc;
            max_err = fmax(max_err, fabs(x - (double)out[pix]));
            max_err = fmax(max_err, fabs(zc - (double)r.depth[pix]));
            /* screen-space (affine) weights l_k are proportional to b_k * z_k / z_c; their x is
             * what a rasterizer without perspective correction would give */
            double b1 = r.b1[pix], b2 = r.b2[pix], b0 = 1 - b1 - b2;
            double l0 = b0 * (10 - (double)verts[2]), l1 = b1 * (10 - (double)verts[5]),
                   l2 = b2 * (10 - (double)verts[8]), ls = l0 + l1 + l2;
            double xa = (l0 * (double)verts[0] + l1 * (double)verts[3] + l2 * (double)verts[6]) / ls;
            max_affine = fmax(max_affine, fabs(x - xa));
        }
    CHECK(n > 500);
    CHECK_MSG(max_err < 2e-5, "max error %g", max_err);
    CHECK_MSG(max_affine > 0.01, "affine interpolation differs by only %g: the test cannot tell",
              max_affine);
    free(out);
    hrn_raster_free(&r);
}

static void test_raster_shared_edges_cover_once(void) {
    /* A square of two triangles whose diagonal and sides pass exactly through pixel centres:
     * every pixel inside is covered by exactly one of them, and none twice. */
    struct hrn_camera cam = hrn_camera_default();
    /* vertices at z = 0 (z_c = 10): pixel px = 101.5*x + 111.5; choose x so px is integral */
    float a = (float)(20.0 / 101.5);
    float verts[12] = {-a, -a, 0, a, -a, 0, a, a, 0, -a, a, 0};
    int32_t t1[3] = {0, 1, 2}, t2[3] = {0, 2, 3};
    struct hrn_raster r1 = {0}, r2 = {0};
    CHECK_OK(hrn_rasterize(&cam, verts, 4, t1, 1, &r1));
    CHECK_OK(hrn_rasterize(&cam, verts, 4, t2, 1, &r2));
    int both = 0, covered = 0;
    for (int i = 0; i < 224 * 224; i++) {
        both += r1.tri[i] >= 0 && r2.tri[i] >= 0;
        covered += r1.tri[i] >= 0 || r2.tri[i] >= 0;
    }
    CHECK_MSG(both == 0, "%d pixels covered twice", both);
    /* pixel centres from -20..20 around 111.5 +-: 40 or 41 per side depending on edge ownership */
    CHECK_MSG(covered >= 40 * 40 && covered <= 41 * 41, "covered %d", covered);
    hrn_raster_free(&r1);
    hrn_raster_free(&r2);
}

static void test_render_shaded(void) {
    struct hrn_face_model *fm = &g_small;
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(fm), sizeof(float));
    struct hrn_camera cam = hrn_camera_default();
    struct hrn_image img = {0};
    CHECK_OK(hrn_render_shaded(fm, coeffs, &cam, NULL, &img));
    CHECK(img.w == 224 && img.h == 224 && img.c == 3);
    /* the face covers the centre, not the corners; the centre is skin-coloured (r > g > b) */
    size_t np = 224 * 224, c = 112 * 224 + 112;
    CHECK(img.data[0] == 0.0f && img.data[np - 1] == 0.0f);
    CHECK(img.data[c] > img.data[np + c] && img.data[np + c] > img.data[2 * np + c]);
    CHECK(img.data[c] > 0.3f);
    hrn_image_free(&img);
    free(coeffs);
}

static void test_model_save_load(void) {
    const char *dir = hrn_test_tmpdir("model");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/small.h5", dir);
    CHECK_OK(hrn_face_model_save(&g_small, path));
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_load(path, &fm));
    CHECK(fm.n_verts == g_small.n_verts && fm.n_tris == g_small.n_tris);
    CHECK(fm.n_id == 80 && fm.n_exp == 64 && fm.n_tex == 80);
    CHECK(memcmp(fm.id_basis, g_small.id_basis, (size_t)(3 * fm.n_verts * 80) * sizeof(float)) == 0);
    CHECK(memcmp(fm.tris, g_small.tris, (size_t)(3 * fm.n_tris) * sizeof(int32_t)) == 0);
    CHECK(memcmp(fm.uvs, g_small.uvs, (size_t)(2 * fm.n_verts) * sizeof(float)) == 0);
    CHECK(memcmp(fm.lmk68, g_small.lmk68, sizeof fm.lmk68) == 0);
    CHECK(fm.mm_per_unit == 100.0f && strcmp(fm.name, g_small.name) == 0);
    hrn_face_model_free(&fm);
    /* a file without triangles names the file and the dataset */
    snprintf(bad, sizeof bad, "%s/no_tris.h5", dir);
    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_create(bad, &f));
    CHECK_OK(hrn_h5_write_f32(f, "shape/mean", 1, (int64_t[]){9}, g_small.mean_shape));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_STATUS(hrn_face_model_load(bad, &fm), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no_tris.h5");
    CHECK_ERR_HAS("triangles");
    CHECK_STATUS(hrn_face_model_load("does/not/exist.h5", &fm), HRN_ERR_IO);
    CHECK_ERR_HAS("does/not/exist.h5");
}

static void test_load_shared_sfm_and_ict(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char path[600];
    struct hrn_face_model fm = {0};
    snprintf(path, sizeof path, "%s/sfm/sfm_shape_3448.h5", rd);
    CHECK_OK(hrn_face_model_load(path, &fm));
    CHECK(fm.n_verts == 3448 && fm.n_tris == 6736 && fm.n_id == 63 && fm.n_exp == 6);
    CHECK(fm.mean_albedo == NULL && fm.n_uvs == 3448);
    CHECK(fm.lmk68[8] == 33 && fm.lmk68[0] == -1); /* chin -> vertex 33; jaw undefined */
    hrn_face_model_free(&fm);
    snprintf(path, sizeof path, "%s/ict_facekit/ict_face_light_narrow.h5", rd);
    CHECK_OK(hrn_face_model_load(path, &fm));
    CHECK(fm.n_verts == 6706 && fm.n_tris == 13120 && fm.n_id == 100 && fm.n_exp == 53);
    CHECK(fm.tri_uvs != NULL && fm.n_uvs == 6706); /* a UV table with its own triangles */
    for (int i = 0; i < 68; i++) CHECK(fm.lmk68[i] >= 0);
    hrn_face_model_free(&fm);
}

int main(void) {
    if (hrn_synth_face(&g_small, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) !=
        HRN_OK) {
        printf("cannot build the synthetic model: %s\n0 passed, 1 failed\n", hrn_error_msg());
        return 1;
    }
    RUN(test_synth_small_invariants);
    RUN(test_synth_deterministic_and_seeded);
    RUN(test_synth_bfm_counts);
    RUN(test_rotation);
    RUN(test_sh_constants);
    RUN(test_normals_face_camera);
    RUN(test_raster_vs_brute_force);
    RUN(test_raster_perspective_correct);
    RUN(test_raster_shared_edges_cover_once);
    RUN(test_render_shaded);
    RUN(test_model_save_load);
    RUN(test_load_shared_sfm_and_ict);
    hrn_face_model_free(&g_small);
    return hrn_test_finish();
}
