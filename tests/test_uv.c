/* test_uv.c: the UV operators against the conventions of hrn_method.md 1.5 and 2.2-2.5 (texel
 * centres, add_nonlinear_offset's half-texel quirk, get_texture_map's swapped vertical weights,
 * the grid mesh), their gradient checks, and the mesh exports. */
#include "hrn_model.h"
#include "hrn_test.h"

static struct hrn_face_model g_fm;

static void fill_uniform(struct hrn_tensor *x, uint64_t seed, float lo, float hi) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    hrn_rng_fill_uniform(&r, x->data, (size_t)x->numel, lo, hi);
}

static int gradcheck(struct hrn_tape *t, struct hrn_tensor *const *in, int n, hrn_gradcheck_fn fn,
                     void *user, double h, const char *what) {
    struct hrn_gradcheck_opts o = {.h = h, .seed = 5, .max_per_input = 48};
    struct hrn_gradcheck_report rep;
    enum hrn_status st = hrn_gradcheck(t, in, n, fn, user, &o, &rep);
    if (st != HRN_OK) printf("    %s: %s\n", what, hrn_error_msg());
    if (getenv("HRN_TEST_VERBOSE")) printf("    %-24s %s\n", what, rep.msg);
    return st == HRN_OK && rep.n_checked > 0;
}

/* A two-triangle model covering a square of the UV chart, uv per vertex (v up). */
static void square_model(struct hrn_face_model *fm, float u0, float u1, float v0, float v1) {
    memset(fm, 0, sizeof *fm);
    fm->n_verts = 4;
    fm->n_tris = 2;
    fm->n_uvs = 4;
    fm->mean_shape = calloc(12, sizeof(float));
    fm->tris = malloc(6 * sizeof(int32_t));
    fm->uvs = malloc(8 * sizeof(float));
    int32_t tr[6] = {0, 1, 2, 0, 2, 3};
    float uv[8] = {u0, v0, u1, v0, u1, v1, u0, v1};
    memcpy(fm->tris, tr, sizeof tr);
    memcpy(fm->uvs, uv, sizeof uv);
    snprintf(fm->name, sizeof fm->name, "square");
}

static void test_world2uv_texel_centres(void) {
    /* attribute = (u, v, 1) per vertex: affine barycentrics reproduce it exactly, so texel (i, j)
     * holds ((j+0.5)/R, 1-(i+0.5)/R, 1) inside the chart and 0 outside */
    struct hrn_face_model fm;
    square_model(&fm, 0.1f, 0.8f, 0.25f, 0.9f);
    struct hrn_uv_map m;
    CHECK_OK(hrn_uv_map_init(&m, &fm, 16));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    float attr[12];
    for (int v = 0; v < 4; v++) {
        attr[3 * v] = fm.uvs[2 * v];
        attr[3 * v + 1] = fm.uvs[2 * v + 1];
        attr[3 * v + 2] = 1;
    }
    struct hrn_tensor *a = hrn_tape_wrap(&t, attr, 2, (int64_t[]){4, 3}, "attr");
    struct hrn_tensor *map = hrn_world2uv(&t, &m, a);
    CHECK(map && map->shape[0] == 3 && map->shape[1] == 16 && map->shape[2] == 16);
    int inside = 0, bad = 0;
    for (int i = 0; i < 16 && map; i++)
        for (int j = 0; j < 16; j++) {
            double u = (j + 0.5) / 16, v = 1 - (i + 0.5) / 16;
            int in = u >= 0.1 && u <= 0.8 && v >= 0.25 && v <= 0.9;
            inside += in;
            int k = i * 16 + j;
            if (in)
                bad += fabs((double)map->data[k] - u) > 1e-6 ||
                       fabs((double)map->data[256 + k] - v) > 1e-6 ||
                       fabs((double)map->data[512 + k] - 1) > 1e-6;
            else
                bad += map->data[k] != 0 || map->data[512 + k] != 0 || m.mask[k] != 0;
        }
    /* columns 2..12 (u 0.156..0.781), rows 2..11 (v 0.84..0.28) */
    CHECK_MSG(inside == 11 * 10, "inside %d", inside);
    CHECK_MSG(bad == 0, "%d texels wrong", bad);
    hrn_tape_free(&t);
    hrn_uv_map_free(&m);
    hrn_face_model_free(&fm);
}

static void test_uv_sampler_half_texel(void) {
    /* a map linear in (row, col): D[r][c] = 3c + 5r. add_nonlinear_offset samples it at
     * col = u*w and row = h - v*h (not the texel-centre convention of world2uv) */
    struct hrn_face_model fm;
    square_model(&fm, 0.23f, 0.71f, 0.31f, 0.66f);
    struct hrn_csr a;
    CHECK_OK(hrn_uv_sampler_init(&a, &fm, 64));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *D = hrn_tape_tensor(&t, 3, (int64_t[]){2, 64, 64}, "D");
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++) {
            D->data[r * 64 + c] = 3.0f * c + 5.0f * r;
            D->data[4096 + r * 64 + c] = 1;
        }
    struct hrn_tensor *off = hrn_uv_to_vertex(&t, &a, D);
    CHECK(off && off->shape[0] == 4 && off->shape[1] == 2);
    for (int v = 0; v < 4 && off; v++) {
        double u = fm.uvs[2 * v], vv = fm.uvs[2 * v + 1];
        CHECK_NEAR(off->data[2 * v], 3 * u * 64 + 5 * (64 - vv * 64), 1e-3, 1e-5);
        CHECK_NEAR(off->data[2 * v + 1], 1, 1e-6, 0);
    }
    /* at the border the rows are clamped: v = 1 - tiny gives row h-1-iv = -1 -> 0 */
    hrn_csr_free(&a);
    hrn_tape_free(&t);
    hrn_face_model_free(&fm);
}

/* --- get_texture_map ---------------------------------------------------------------------- */

static struct hrn_uv_map g_map;
static struct hrn_camera g_cam;

static enum hrn_status fn_unwrap(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                 struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_uv_unwrap_op(t, &g_map, &g_cam, in[0], in[1]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_unwrap_quirky_weights(void) {
    struct hrn_face_model fm;
    square_model(&fm, 0.0f, 1.0f, 0.3f, 1.0f); /* rows 0..10 of 16 inside, the rest outside */
    CHECK_OK(hrn_uv_map_init(&g_map, &fm, 16));
    g_cam = hrn_camera_default();
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 32u << 20));
    /* image 448x336 (2x the camera's 224 width, 1.5x its height), I = 2x + 7y (+ channel 2: 1) */
    int W = 448, H = 336;
    struct hrn_tensor *img = hrn_tape_tensor(&t, 3, (int64_t[]){2, H, W}, "img");
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            img->data[y * W + x] = 2.0f * x + 7.0f * y;
            img->data[H * W + y * W + x] = 1;
        }
    struct hrn_tensor *pm = hrn_tape_tensor(&t, 3, (int64_t[]){3, 16, 16}, "pos");
    fill_uniform(pm, 3, -0.8f, 0.8f);
    struct hrn_tensor *o = hrn_uv_unwrap_op(&t, &g_map, &g_cam, pm, img);
    CHECK(o != NULL);
    for (int k = 0; k < 256 && o; k++) {
        double want;
        if (g_map.mask[k] > 0) {
            double zc = 10 - (double)pm->data[512 + k];
            double x = (1015 * (double)pm->data[k] / zc + 112) * 2;
            double y = (1015 * (double)pm->data[256 + k] / zc + 112) * 1.5;
            double yi = H - 1 - y, fy = yi - floor(yi);
            /* horizontal: standard; vertical: the weights are swapped, so the value is that of
             * row iy + (1 - fy) instead of iy + fy */
            want = 2 * x + 7 * (floor(yi) + 1 - fy);
        } else {
            want = 7.0 * (H - 1); /* bottom-left pixel */
        }
        CHECK_NEAR(o->data[k], want, 2e-2, 1e-5);
        CHECK_NEAR(o->data[256 + k], 1, 1e-5, 0);
    }
    /* gradients to the image and to the positions; keep every sample point >= 0.3 px from the
     * pixel grid lines where the bilinear weights kink (h moves it by at most 0.1 px), and an
     * image of order 1 */
    fill_uniform(img, 4, 0, 1);
    for (int k = 0; k < 256; k++) {
        double zc = 10 - (double)pm->data[512 + k];
        for (int d = 0; d < 2; d++) {
            double s = d == 0 ? 2 : 1.5;
            double c = (1015 * (double)pm->data[d * 256 + k] / zc + 112) * s;
            double f = c - floor(c);
            if (f < 0.3 || f > 0.7) c = floor(c) + 0.5;
            pm->data[d * 256 + k] = (float)(((c / s) - 112) * zc / 1015);
        }
    }
    struct hrn_tensor *in[2] = {pm, img};
    CHECK(gradcheck(&t, in, 2, fn_unwrap, NULL, 5e-4, "uv_unwrap"));
    hrn_tape_free(&t);
    hrn_uv_map_free(&g_map);
    hrn_face_model_free(&fm);
}

/* --- grid mesh and detail normals ----------------------------------------------------------- */

static void test_grid_mesh(void) {
    struct hrn_topo g;
    CHECK_OK(hrn_uv_grid_init(&g, 256));
    /* x in [2,253), y in [5,250): 251 * 245 cells, two triangles each */
    CHECK(g.n_tris == 2 * 251 * 245);
    CHECK(g.n_verts == 65536);
    /* the first cell is x = 2, y = 5: i = 5*256+2; [i, i+256, i+1], [i+1, i+256, i+257] */
    int32_t i = 5 * 256 + 2;
    CHECK(g.tris[0] == i && g.tris[1] == i + 256 && g.tris[2] == i + 1);
    CHECK(g.tris[3] == i + 1 && g.tris[4] == i + 256 && g.tris[5] == i + 257);
    /* the inner loop is over y: the next cell is y = 6 */
    CHECK(g.tris[6] == i + 256);
    hrn_topo_free(&g);
    CHECK_STATUS(hrn_uv_grid_init(&g, 8), HRN_ERR_INVALID);
}

static struct hrn_topo g_grid;

static enum hrn_status fn_detail(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                 struct hrn_tensor **out) {
    (void)n;
    (void)u;
    *out = hrn_detail_normals(t, &g_grid, in[0], in[1], in[2]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_detail_normals(void) {
    enum { R = 16 };
    CHECK_OK(hrn_uv_grid_init(&g_grid, R));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 8u << 20));
    struct hrn_tensor *in[3];
    in[0] = hrn_tape_tensor(&t, 3, (int64_t[]){3, R, R}, "pv");
    in[1] = hrn_tape_tensor(&t, 3, (int64_t[]){3, R, R}, "nc");
    in[2] = hrn_tape_tensor(&t, 3, (int64_t[]){1, R, R}, "disp");
    /* a curved sheet: x right with the column, y up (rows go down), z a bump */
    for (int r = 0; r < R; r++)
        for (int c = 0; c < R; c++) {
            float x = (c - 7.5f) / 8, y = (7.5f - r) / 8;
            in[0]->data[r * R + c] = x;
            in[0]->data[R * R + r * R + c] = y;
            in[0]->data[2 * R * R + r * R + c] = 0.3f * expf(-(x * x + y * y));
        }
    fill_uniform(in[1], 21, -1, 1);
    for (int i = 0; i < R * R; i++) in[1]->data[2 * R * R + i] = 1; /* roughly facing +z */
    fill_uniform(in[2], 22, -0.02f, 0.02f);
    CHECK(gradcheck(&t, in, 3, fn_detail, NULL, 1e-3, "detail_normals"));
    /* zero displacement: Nd = Nc exactly (the grid normals cancel) */
    memset(in[2]->data, 0, R * R * sizeof(float));
    struct hrn_tensor *nd = hrn_detail_normals(&t, &g_grid, in[0], in[1], in[2]);
    CHECK(nd != NULL);
    double e = 0;
    for (int i = 0; i < 3 * R * R && nd; i++)
        e = fmax(e, fabs((double)nd->data[i] - (double)in[1]->data[i]));
    CHECK_MSG(e < 1e-6, "Nd - Nc = %g with zero displacement", e);
    /* the grid normals of this sheet (rows down, y up): DECA's winding [i, i+R, i+1] gives
     * (0,-d)x(d,0) = +z; at the bump's right flank (x > 0) the normal leans to +x, which the
     * x,y flip turns to -x */
    struct hrn_tensor *ng = hrn_normals_op(&t, &g_grid, in[0], HRN_NORMALS_AREA | HRN_NORMALS_FLIP_XY);
    CHECK(ng != NULL);
    if (ng) {
        int k = 8 * R + 11; /* row 8, col 11: x > 0, y ~ 0 */
        CHECK_MSG(ng->data[k] < -0.05f && ng->data[2 * R * R + k] > 0.5f, "n = (%g, %g, %g)",
                  (double)ng->data[k], (double)ng->data[R * R + k], (double)ng->data[2 * R * R + k]);
        CHECK(ng->data[0] == 0 && ng->data[R * R - 1] == 0); /* corners are in no triangle */
    }
    hrn_tape_free(&t);
    hrn_topo_free(&g_grid);
}

static enum hrn_status fn_w2uv(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                               struct hrn_tensor **out) {
    (void)n;
    *out = hrn_world2uv(t, u, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}
static enum hrn_status fn_u2v(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                              struct hrn_tensor **out) {
    (void)n;
    *out = hrn_uv_to_vertex(t, u, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_uv_ops_on_synthetic_model(void) {
    /* the synthetic face's chart: most texels of the inscribed disk are covered; gradchecks */
    struct hrn_uv_map m;
    CHECK_OK(hrn_uv_map_init(&m, &g_fm, 64));
    double cov = 0;
    for (int i = 0; i < 64 * 64; i++) cov += (double)m.mask[i];
    CHECK_MSG(cov > 0.7 * 3.1416 * 32 * 32 && cov < 1.01 * 3.1416 * 32 * 32, "coverage %g", cov);
    struct hrn_csr s;
    CHECK_OK(hrn_uv_sampler_init(&s, &g_fm, 16));
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 16u << 20));
    struct hrn_tensor *a = hrn_tape_tensor(&t, 2, (int64_t[]){g_fm.n_verts, 3}, "attr");
    fill_uniform(a, 31, -1, 1);
    CHECK(gradcheck(&t, &a, 1, fn_w2uv, &m, 0, "world2uv"));
    struct hrn_tensor *d = hrn_tape_tensor(&t, 3, (int64_t[]){3, 16, 16}, "D");
    fill_uniform(d, 32, -1, 1);
    CHECK(gradcheck(&t, &d, 1, fn_u2v, &s, 0, "uv_to_vertex"));
    /* errors name the op and the shape */
    struct hrn_tensor *bad = hrn_tape_tensor(&t, 2, (int64_t[]){5, 3}, "bad");
    CHECK(hrn_world2uv(&t, &m, bad) == NULL);
    CHECK_ERR_HAS("world2uv");
    CHECK(hrn_uv_to_vertex(&t, &s, bad) == NULL);
    CHECK_ERR_HAS("uv_to_vertex");
    hrn_uv_map_free(&m);
    struct hrn_face_model nouv = {0};
    snprintf(nouv.name, sizeof nouv.name, "nouv");
    CHECK_STATUS(hrn_uv_map_init(&m, &nouv, 64), HRN_ERR_INVALID);
    CHECK_ERR_HAS("no uvs");
    hrn_tape_free(&t);
    hrn_csr_free(&s);
}


/* The mid level's shading chain without the rasterizer (hrn_method.md 2.2 and 12.3): D (3,16,16)
 * -> per-vertex offsets -> S1 = S0 + off -> vertex normals -> world2uv (32) -> SH in UV with a
 * constant albedo; the gradient reaches D through all of it. */
struct chain_ctx {
    struct hrn_csr *sampler;
    struct hrn_uv_map *map;
    struct hrn_topo *topo;
    float *gamma;
};

static enum hrn_status fn_chain(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                struct hrn_tensor **out) {
    (void)n;
    struct chain_ctx *c = u;
    int64_t N = g_fm.n_verts;
    struct hrn_tensor *s0 = hrn_tape_wrap(t, g_fm.mean_shape, 2, (int64_t[]){N, 3}, "S0");
    struct hrn_tensor *s1 = hrn_add(t, s0, hrn_uv_to_vertex(t, c->sampler, in[0]));
    struct hrn_tensor *nrm = hrn_normals_op(t, c->topo, s1, HRN_NORMALS_HRN);
    struct hrn_tensor *nuv = hrn_world2uv(t, c->map, nrm);
    struct hrn_tensor *alb = hrn_tape_tensor(t, 3, (int64_t[]){3, 32, 32}, "albedo");
    if (alb)
        for (int64_t i = 0; i < alb->numel; i++) alb->data[i] = 0.7f;
    struct hrn_tensor *g = hrn_tape_wrap(t, c->gamma, 1, (int64_t[]){27}, "gamma");
    *out = hrn_sh_op(t, nuv, alb, g, 0);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_mid_level_chain_gradcheck(void) {
    struct hrn_csr sampler;
    struct hrn_uv_map map;
    struct hrn_topo topo;
    CHECK_OK(hrn_uv_sampler_init(&sampler, &g_fm, 16));
    CHECK_OK(hrn_uv_map_init(&map, &g_fm, 32));
    CHECK_OK(hrn_topo_init(&topo, g_fm.tris, g_fm.n_tris, g_fm.n_verts));
    float gamma[27];
    for (int i = 0; i < 27; i++) gamma[i] = 0.1f * (float)((i * 5) % 7 - 3);
    struct chain_ctx c = {&sampler, &map, &topo, gamma};
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 32u << 20));
    struct hrn_tensor *d = hrn_tape_tensor(&t, 3, (int64_t[]){3, 16, 16}, "D");
    fill_uniform(d, 51, -0.02f, 0.02f);
    CHECK(gradcheck(&t, &d, 1, fn_chain, &c, 1e-3, "D -> normals -> uv -> SH"));
    hrn_tape_free(&t);
    hrn_topo_free(&topo);
    hrn_uv_map_free(&map);
    hrn_csr_free(&sampler);
}

static void test_ict_uv_table(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/ict_facekit/ict_face_light_narrow.h5", rd);
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_load(path, &fm));
    struct hrn_uv_map m;
    CHECK_OK(hrn_uv_map_init(&m, &fm, 128));
    /* the seams: world2uv through triangle_uv; an affine function of the uv TABLE's values is not
     * per-vertex, but the geometry vertex positions interpolate to finite values in the chart */
    double cov = 0;
    for (int i = 0; i < 128 * 128; i++) cov += (double)m.mask[i];
    CHECK(cov > 0.2 * 128 * 128);
    int bad = 0;
    for (int64_t tx = 0; tx < 128 * 128; tx++) {
        if (m.texel_tri[tx] < 0) continue;
        /* the texel's uv from the table's corners equals the texel centre */
        double u = 0, v = 0;
        for (int k = 0; k < 3; k++) {
            const float *uv = fm.uvs + 2 * fm.tri_uvs[3 * m.texel_tri[tx] + k];
            u += (double)m.texel_bary[3 * tx + k] * (double)uv[0];
            v += (double)m.texel_bary[3 * tx + k] * (double)uv[1];
        }
        bad += fabs(u - ((double)(tx % 128) + 0.5) / 128) > 1e-5 ||
               fabs(v - (1 - ((double)(tx / 128) + 0.5) / 128)) > 1e-5;
    }
    CHECK_MSG(bad == 0, "%d texels off their centre", bad);
    hrn_uv_map_free(&m);
    hrn_face_model_free(&fm);
}

/* --- exports ------------------------------------------------------------------------------------ */

static void test_exports(void) {
    const char *dir = hrn_test_tmpdir("uv_export");
    char path[600];
    /* dense mesh: a flat 16x16 map where row 15 is outside (0) */
    enum { R = 16 };
    struct hrn_topo g;
    CHECK_OK(hrn_uv_grid_init(&g, R));
    float pd[3 * R * R];
    for (int i = 0; i < R * R; i++) {
        int r = i / R;
        pd[i] = r == 15 ? 0 : (float)(i % R);
        pd[R * R + i] = r == 15 ? 0 : (float)r;
        pd[2 * R * R + i] = r == 15 ? 0 : 1;
    }
    struct hrn_mesh m = {0};
    CHECK_OK(hrn_dense_mesh(pd, R, &g, &m));
    CHECK(m.n_verts == R * 15);
    /* every grid triangle uses rows 5..10: all kept; each shifted one column left */
    CHECK(m.n_faces == g.n_tris);
    CHECK(m.faces[0] == 5 * R + 1 && m.faces[1] == 6 * R + 1 && m.faces[2] == 5 * R + 2);
    hrn_mesh_free(&m);
    hrn_topo_free(&g);
    /* textured OBJ: reads back with the uvs and the material */
    float *tex = malloc(3 * 32 * 32 * sizeof(float));
    for (int i = 0; i < 3 * 32 * 32; i++) tex[i] = (float)(i % 97) / 96.0f;
    snprintf(path, sizeof path, "%s/face.obj", dir);
    CHECK_OK(hrn_export_textured_obj(path, &g_fm, g_fm.mean_shape, tex, 32));
    CHECK_OK(hrn_mesh_read(path, &m));
    CHECK(m.n_verts == g_fm.n_verts && m.n_faces == g_fm.n_tris && m.uvs != NULL);
    hrn_mesh_free(&m);
    snprintf(path, sizeof path, "%s/face_tex.png", dir);
    struct hrn_image img = {0};
    CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &img));
    CHECK(img.w == 32 && img.h == 32);
    hrn_image_free(&img);
    snprintf(path, sizeof path, "%s/face.mtl", dir);
    FILE *f = fopen(path, "r");
    char buf[512] = "";
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    CHECK(strstr(buf, "map_Kd face_tex.png") != NULL);
    free(tex);
    /* overlay: the face is drawn over the image, the corners keep it */
    struct hrn_camera cam = hrn_camera_default();
    CHECK_OK(hrn_image_init(&img, 224, 224, 3));
    for (int i = 0; i < 3 * 224 * 224; i++) img.data[i] = 0.25f;
    snprintf(path, sizeof path, "%s/overlay.png", dir);
    CHECK_OK(hrn_export_overlay_png(path, &g_fm, &cam, g_fm.mean_shape, NULL, &img));
    struct hrn_image back = {0};
    CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &back));
    CHECK(back.w == 224 && fabsf(back.data[0] - 0.25f) < 0.01f);
    CHECK(fabsf(back.data[112 * 224 + 112] - 0.25f) > 0.1f);
    hrn_image_free(&back);
    /* a wrong-size background is an error naming the file */
    struct hrn_image small = {0};
    CHECK_OK(hrn_image_init(&small, 10, 10, 3));
    CHECK_STATUS(hrn_export_overlay_png(path, &g_fm, &cam, g_fm.mean_shape, NULL, &small),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("overlay.png");
    hrn_image_free(&small);
    hrn_image_free(&img);
}

int main(void) {
    if (hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) !=
        HRN_OK) {
        printf("setup: %s\n0 passed, 1 failed\n", hrn_error_msg());
        return 1;
    }
    RUN(test_world2uv_texel_centres);
    RUN(test_uv_sampler_half_texel);
    RUN(test_unwrap_quirky_weights);
    RUN(test_grid_mesh);
    RUN(test_detail_normals);
    RUN(test_uv_ops_on_synthetic_model);
    RUN(test_mid_level_chain_gradcheck);
    RUN(test_ict_uv_table);
    RUN(test_exports);
    hrn_face_model_free(&g_fm);
    return hrn_test_finish();
}
