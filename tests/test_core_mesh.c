/* test_core_mesh.c: OBJ and PLY read/write: round trips (uv, normals, colours, material), the
 * real OBJ files in shared/realdata, polygons and negative indices, and every kind of bad file
 * (out-of-range index with file:line, malformed number, truncated/corrupt binary PLY, missing). */
#include "hrn_test.h"

static char g_path[1024];

static const char *tmp_path(const char *name) {
    snprintf(g_path, sizeof g_path, "%s/%s", hrn_test_tmpdir("mesh"), name);
    return g_path;
}

static const char *write_text(const char *name, const char *text) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static int file_exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* A small textured, coloured mesh: a unit cube's 8 corners, 12 triangles, a uv table of 14
 * entries with seams (per-face uv indices) and per-vertex normals. Values are not round. */
static void make_mesh(struct hrn_mesh *m, int colors, int uvs, int normals) {
    static const int32_t F[12][3] = {{0, 1, 2}, {0, 2, 3}, {4, 6, 5}, {4, 7, 6},
                                     {0, 4, 5}, {0, 5, 1}, {1, 5, 6}, {1, 6, 2},
                                     {2, 6, 7}, {2, 7, 3}, {3, 7, 4}, {3, 4, 0}};
    CHECK_OK(hrn_mesh_alloc(m, 8, 12, colors, uvs ? 14 : 0, normals ? 8 : 0));
    for (int i = 0; i < 8; i++) {
        m->verts[3 * i] = (float)((i & 1) ^ ((i >> 1) & 1)) * 1.1f - 0.123456789f;
        m->verts[3 * i + 1] = (float)((i >> 1) & 1) * 2.3f + 1e-7f * (float)i;
        m->verts[3 * i + 2] = (float)(i >> 2) * -0.7f + 123.456f;
        if (colors)
            for (int c = 0; c < 3; c++)
                m->colors[3 * i + c] = (float)((i * 37 + c * 91) % 256) / 255.0f;
        if (normals)
            for (int c = 0; c < 3; c++)
                m->normals[3 * i + c] = (float)(c == i % 3) * 0.57735f;
    }
    memcpy(m->faces, F, sizeof F);
    if (uvs) {
        for (int i = 0; i < 14; i++) {
            m->uvs[2 * i] = (float)i / 13.0f;
            m->uvs[2 * i + 1] = 1.0f - (float)(i * i) / 169.0f;
        }
        m->face_uvs = malloc(sizeof F);
        for (int i = 0; i < 36; i++)
            m->face_uvs[i] = (i * 5) % 14;
    }
}

static void check_same_geometry(const struct hrn_mesh *a, const struct hrn_mesh *b, double tol) {
    CHECK(a->n_verts == b->n_verts && a->n_faces == b->n_faces);
    if (a->n_verts != b->n_verts || a->n_faces != b->n_faces) return;
    for (int64_t i = 0; i < 3 * a->n_verts; i++)
        CHECK_NEAR(a->verts[i], b->verts[i], tol, 0);
    for (int64_t i = 0; i < 3 * a->n_faces; i++)
        CHECK(a->faces[i] == b->faces[i]);
}

static void test_obj_round_trip(void) {
    struct hrn_mesh m = {0}, r = {0};
    make_mesh(&m, 1, 1, 1);
    m.face_normals = malloc(36 * sizeof(int32_t));
    for (int i = 0; i < 36; i++)
        m.face_normals[i] = m.faces[i];
    struct hrn_obj_material mtl = {.name = "face_mat", .texture = "face_tex.png"};
    const char *p = tmp_path("rt.obj");
    CHECK_OK(hrn_mesh_write_obj(p, &m, &mtl));
    CHECK_OK(hrn_mesh_read(p, &r));
    check_same_geometry(&m, &r, 0); /* %.9g is exact for float */
    CHECK(r.colors != NULL && r.n_uvs == 14 && r.n_normals == 8);
    CHECK(r.face_uvs != NULL && r.face_normals != NULL);
    for (int i = 0; r.colors && i < 24; i++)
        CHECK(r.colors[i] == m.colors[i]);
    for (int i = 0; r.uvs && i < 28; i++)
        CHECK(r.uvs[i] == m.uvs[i]);
    for (int i = 0; r.normals && i < 24; i++)
        CHECK(r.normals[i] == m.normals[i]);
    for (int i = 0; r.face_uvs && i < 36; i++)
        CHECK(r.face_uvs[i] == m.face_uvs[i]);
    for (int i = 0; r.face_normals && i < 36; i++)
        CHECK(r.face_normals[i] == m.face_normals[i]);
    /* the .mtl beside it, named after the .obj, with the texture */
    const char *mp = tmp_path("rt.mtl");
    CHECK(file_exists(mp));
    FILE *f = fopen(mp, "r");
    char text[1024] = "";
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    CHECK(strstr(text, "newmtl face_mat\n") != NULL);
    CHECK(strstr(text, "map_Kd face_tex.png\n") != NULL);
    CHECK(strstr(text, "Kd ") != NULL && strstr(text, "Ka ") != NULL &&
          strstr(text, "Ks ") != NULL);
    /* and the .obj names it */
    f = fopen(tmp_path("rt.obj"), "r");
    char head[256] = "";
    if (f) {
        size_t n = fread(head, 1, sizeof head - 1, f);
        head[n] = '\0';
        fclose(f);
    }
    CHECK(strstr(head, "\nmtllib rt.mtl\n") != NULL);
    CHECK(!file_exists(tmp_path("rt.obj.tmp")) && !file_exists(tmp_path("rt.mtl.tmp")));
    hrn_mesh_free(&r);

    /* without a material: no mtllib, no .mtl; per-vertex uvs are written as vt indexed by v */
    struct hrn_mesh pv = {0};
    CHECK_OK(hrn_mesh_alloc(&pv, 8, 12, 0, 8, 0));
    memcpy(pv.verts, m.verts, 24 * sizeof(float));
    memcpy(pv.faces, m.faces, 36 * sizeof(int32_t));
    for (int i = 0; i < 16; i++)
        pv.uvs[i] = (float)i * 0.0625f;
    char plain[1024];
    snprintf(plain, sizeof plain, "%s", tmp_path("plain.obj"));
    p = plain;
    CHECK_OK(hrn_mesh_write_obj(p, &pv, NULL));
    CHECK(!file_exists(tmp_path("plain.mtl")));
    CHECK_OK(hrn_mesh_read_obj(p, &r));
    CHECK(r.n_uvs == 8 && r.face_uvs != NULL && r.colors == NULL && r.normals == NULL);
    for (int i = 0; r.face_uvs && i < 36; i++)
        CHECK(r.face_uvs[i] == r.faces[i]);
    hrn_mesh_free(&r);
    hrn_mesh_free(&pv);
    hrn_mesh_free(&m);
    hrn_mesh_free(&m); /* safe twice */
    hrn_mesh_free(NULL);
}

static void test_obj_features(void) {
    /* a quad and a pentagon (fan-triangulated), negative indices, v/vt, v//vn, comments, ignored
     * statements, CRLF, a 'v' with w, tabs */
    const char *p =
        write_text("feat.obj", "# header comment\r\nmtllib x.mtl\r\no thing\ng grp\ns off\r\n"
                               "v 0 0 0\nv 1 0 0\nv 1 1 0 1.0\nv 0 1 0 # trailing comment\n"
                               "v\t0.5\t2\t0\n"
                               "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 1 0\n"
                               "vn 0 0 1\n"
                               "usemtl m\n"
                               "f 1/1 2/2 3/3 4/4\n"
                               "f -5/-5 -4/-4 -3/-3 -1/-1 -2/-2\n"
                               "l 1 2\n");
    struct hrn_mesh m = {0};
    CHECK_OK(hrn_mesh_read(p, &m));
    CHECK(m.n_verts == 5 && m.n_faces == 2 + 3 && m.n_uvs == 5);
    static const int32_t want[15] = {0, 1, 2, 0, 2, 3, 0, 1, 2, 0, 2, 4, 0, 4, 3};
    for (int i = 0; m.faces && i < 15; i++)
        CHECK_MSG(m.faces[i] == want[i], "face idx %d", i);
    for (int i = 0; m.face_uvs && i < 15; i++)
        CHECK(m.face_uvs[i] == want[i]);
    CHECK(m.face_normals == NULL && m.normals == NULL); /* 1 normal, 5 vertices, unused: dropped */
    CHECK(m.verts && m.verts[3 * 4] == 0.5f && m.verts[3 * 4 + 1] == 2.0f);
    hrn_mesh_free(&m);

    /* v//vn, and colours on some vertices only (others white) */
    p = write_text("vn.obj", "v 0 0 0 1 0 0\nv 1 0 0\nv 0 1 0 0 0 0.5\nvn 0 0 1\nvn 0 0 -1\n"
                             "f 1//1 2//1 3//2\n");
    CHECK_OK(hrn_mesh_read(p, &m));
    CHECK(m.colors && m.colors[0] == 1 && m.colors[1] == 0 && m.colors[3] == 1 &&
          m.colors[4] == 1 && m.colors[8] == 0.5f);
    CHECK(m.face_normals && m.face_normals[0] == 0 && m.face_normals[2] == 1 && m.face_uvs == NULL);
    hrn_mesh_free(&m);
}

static void test_obj_errors(void) {
    struct hrn_mesh m = {0};
    const char *p = write_text("bad_index.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n# a comment\n"
                                                "f 1 2 3\nf 1 2 4\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_index.obj:6: vertex index 4 out of range (the file has 3 vertices)");
    CHECK(m.verts == NULL && m.faces == NULL); /* nothing half-filled */
    p = write_text("bad_neg.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_neg.obj:4: vertex index -4 reaches before the first vertex");
    p = write_text("bad_vt.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/2\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_vt.obj:5: texture index 2 out of range");
    p = write_text("bad_num.obj", "v 0 0 0\nv 1 0.5.1 0\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_num.obj:2: malformed number '0.5.1'");
    p = write_text("bad_nan.obj", "v 0 0 nan\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_nan.obj:1: malformed number 'nan'");
    p = write_text("bad_count.obj", "v 0 0\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_count.obj:1: 'v' with 2 numbers");
    p = write_text("bad_face.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_face.obj:4: face with 2 vertices");
    p = write_text("bad_zero.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_zero.obj:4: malformed face vertex '0'");
    p = write_text("bad_mix.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2 3\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_mix.obj:5: face mixes vertex forms");
    p = write_text("bad_stmt.obj", "v 0 0 0\nxyz 1\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad_stmt.obj:2: unknown statement 'xyz'");
    p = write_text("empty.obj", "# nothing\n");
    CHECK_STATUS(hrn_mesh_read(p, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("empty.obj: no vertices");
    CHECK_STATUS(hrn_mesh_read("no/such/mesh.obj", &m), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/mesh.obj: cannot open");
    CHECK_STATUS(hrn_mesh_read("no/such/mesh.ply", &m), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/mesh.ply: cannot open");
    CHECK_STATUS(hrn_mesh_read("mesh.stl", &m), HRN_ERR_UNSUPPORTED);
    CHECK_ERR_HAS("mesh.stl");
}

static void test_write_rejects_bad_mesh(void) {
    struct hrn_mesh m = {0};
    make_mesh(&m, 0, 0, 0);
    m.faces[7] = 8;
    CHECK_STATUS(hrn_mesh_write_obj(tmp_path("bad_out.obj"), &m, NULL), HRN_ERR_INVALID);
    CHECK_ERR_HAS("face 2 has vertex index 8");
    CHECK_STATUS(hrn_mesh_write_ply(tmp_path("bad_out.ply"), &m, 1), HRN_ERR_INVALID);
    CHECK(!file_exists(tmp_path("bad_out.obj")) && !file_exists(tmp_path("bad_out.ply")));
    m.faces[7] = 1;
    struct hrn_obj_material mtl = {.name = "has space", .texture = NULL};
    CHECK_STATUS(hrn_mesh_write_obj(tmp_path("bad_out.obj"), &m, &mtl), HRN_ERR_INVALID);
    CHECK_ERR_HAS("material name 'has space'");
    CHECK_STATUS(hrn_mesh_write_obj("no/such/dir/x.obj", &m, NULL), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/dir/x.obj: cannot create 'no/such/dir/x.obj.tmp'");
    hrn_mesh_free(&m);
}

static void test_ply_round_trip(void) {
    for (int binary = 0; binary <= 1; binary++) {
        struct hrn_mesh m = {0}, r = {0};
        /* per-vertex normals and uvs (SFM/HRN layout) and colours */
        CHECK_OK(hrn_mesh_alloc(&m, 8, 12, 1, 8, 8));
        struct hrn_mesh tmpl = {0};
        make_mesh(&tmpl, 1, 0, 1);
        memcpy(m.verts, tmpl.verts, 24 * sizeof(float));
        memcpy(m.colors, tmpl.colors, 24 * sizeof(float));
        memcpy(m.normals, tmpl.normals, 24 * sizeof(float));
        memcpy(m.faces, tmpl.faces, 36 * sizeof(int32_t));
        for (int i = 0; i < 16; i++)
            m.uvs[i] = 0.1f * (float)i + 1e-4f;
        hrn_mesh_free(&tmpl);
        const char *p = tmp_path(binary ? "rt_bin.ply" : "rt_ascii.ply");
        CHECK_OK(hrn_mesh_write_ply(p, &m, binary));
        CHECK_OK(hrn_mesh_read(p, &r));
        check_same_geometry(&m, &r, 0); /* float32 binary and %.9g ASCII are both exact */
        CHECK(r.colors && r.normals && r.uvs && r.n_uvs == 8 && r.n_normals == 8);
        CHECK(r.face_uvs == NULL && r.face_normals == NULL);
        for (int i = 0; r.colors && i < 24; i++)
            CHECK_NEAR(r.colors[i], m.colors[i], 0.5 / 255 + 1e-7, 0); /* uchar */
        for (int i = 0; r.normals && i < 24; i++)
            CHECK(r.normals[i] == m.normals[i]);
        for (int i = 0; r.uvs && i < 16; i++)
            CHECK(r.uvs[i] == m.uvs[i]);
        /* binary: header + 8 * (12 + 12 + 3 + 8) + 12 * 13 bytes */
        if (binary) {
            FILE *f = fopen(p, "rb");
            char hdr[1024] = "";
            size_t n = f ? fread(hdr, 1, sizeof hdr - 1, f) : 0;
            if (f) fclose(f);
            hdr[n] = '\0';
            char *e = strstr(hdr, "end_header\n");
            CHECK(e != NULL);
            if (e) CHECK(file_size(p) == (long)(e + 11 - hdr) + 8 * 35 + 12 * 13);
        }
        hrn_mesh_free(&r);
        hrn_mesh_free(&m);
    }
    /* per-face uvs (seams) go through MeshLab's texcoord list, both modes */
    for (int binary = 0; binary <= 1; binary++) {
        struct hrn_mesh m = {0}, r = {0};
        make_mesh(&m, 0, 1, 0);
        const char *p = tmp_path(binary ? "tc_bin.ply" : "tc_ascii.ply");
        CHECK_OK(hrn_mesh_write_ply(p, &m, binary));
        CHECK_OK(hrn_mesh_read_ply(p, &r));
        check_same_geometry(&m, &r, 0);
        CHECK(r.face_uvs != NULL && r.n_uvs == 36);
        for (int i = 0; r.face_uvs && i < 36; i++) {
            CHECK(r.uvs[2 * r.face_uvs[i]] == m.uvs[2 * m.face_uvs[i]]);
            CHECK(r.uvs[2 * r.face_uvs[i] + 1] == m.uvs[2 * m.face_uvs[i] + 1]);
        }
        hrn_mesh_free(&r);
        hrn_mesh_free(&m);
    }
}

static void write_bytes(const char *p, const void *a, size_t n, const void *b, size_t nb) {
    FILE *f = fopen(p, "wb");
    if (!f) return;
    fwrite(a, 1, n, f);
    if (b) fwrite(b, 1, nb, f);
    fclose(f);
}

static void test_ply_other_writers(void) {
    /* ASCII with a quad, double coordinates, float colours, u/v names, an extra vertex property,
     * an extra face property, an unknown element with a list, and comments */
    const char *p =
        write_text("other.ply", "ply\nformat ascii 1.0\ncomment made by hand\n"
                                "element vertex 4\nproperty double x\nproperty double y\n"
                                "property double z\nproperty float quality\nproperty float red\n"
                                "property float green\nproperty float blue\nproperty float u\n"
                                "property float v\n"
                                "element face 1\nproperty uchar flags\n"
                                "property list uint uint vertex_index\n"
                                "element edge 2\nproperty list uchar int verts\nproperty int w\n"
                                "end_header\n"
                                "0 0 0 9 0.25 0.5 1 0 0\n1 0 0 9 0 0 0 1 0\n1 1 0 9 0 0 0 1 1\n"
                                "0 1 0 9 0 0 0 0 1\n"
                                "7 4 0 1 2 3\n"
                                "2 0 1 5\n2 1 2 6\n");
    struct hrn_mesh m = {0};
    CHECK_OK(hrn_mesh_read(p, &m));
    CHECK(m.n_verts == 4 && m.n_faces == 2 && m.colors && m.uvs && !m.normals);
    static const int32_t want[6] = {0, 1, 2, 0, 2, 3};
    for (int i = 0; m.faces && i < 6; i++)
        CHECK(m.faces[i] == want[i]);
    CHECK(m.colors && m.colors[0] == 0.25f && m.colors[1] == 0.5f && m.colors[2] == 1.0f);
    CHECK(m.uvs && m.uvs[2] == 1.0f && m.uvs[5] == 1.0f);
    hrn_mesh_free(&m);

    /* binary big-endian: one triangle with int16 indices count uchar, double coords, and a
     * skipped float vertex property and a skipped list in the faces */
    const char *hdr = "ply\nformat binary_big_endian 1.0\nelement vertex 3\n"
                      "property double x\nproperty double y\nproperty double z\n"
                      "property float confidence\nelement face 1\n"
                      "property list uchar short vertex_indices\nproperty list uchar float junk\n"
                      "end_header\n";
    uint8_t body[3 * 28 + 1 + 6 + 1 + 8];
    size_t k = 0;
    for (int v = 0; v < 3; v++) {
        double xyz[3] = {v == 1 ? 1.5 : 0.0, v == 2 ? -2.25 : 0.0, 3.0};
        for (int c = 0; c < 3; c++) {
            uint64_t u;
            memcpy(&u, &xyz[c], 8);
            for (int b = 7; b >= 0; b--)
                body[k++] = (uint8_t)(u >> (8 * b));
        }
        for (int b = 0; b < 4; b++)
            body[k++] = 0xff; /* a NaN confidence: skipped, never read */
    }
    body[k++] = 3;
    for (int i = 0; i < 3; i++) {
        body[k++] = 0;
        body[k++] = (uint8_t)(2 - i);
    }
    body[k++] = 2;
    for (int b = 0; b < 8; b++)
        body[k++] = 0;
    p = tmp_path("be.ply");
    write_bytes(p, hdr, strlen(hdr), body, k);
    CHECK_OK(hrn_mesh_read(p, &m));
    CHECK(m.n_verts == 3 && m.n_faces == 1);
    CHECK(m.verts && m.verts[3] == 1.5f && m.verts[7] == -2.25f && m.verts[8] == 3.0f);
    CHECK(m.faces && m.faces[0] == 2 && m.faces[1] == 1 && m.faces[2] == 0);
    hrn_mesh_free(&m);
}

static void test_ply_errors(void) {
    struct hrn_mesh m = {0}, src = {0};
    make_mesh(&src, 1, 0, 0);
    char good[1024], cut[1024];
    snprintf(good, sizeof good, "%s", tmp_path("trunc_src.ply"));
    snprintf(cut, sizeof cut, "%s", tmp_path("trunc.ply"));
    CHECK_OK(hrn_mesh_write_ply(good, &src, 1));
    long n = file_size(good);
    FILE *f = fopen(good, "rb");
    uint8_t *buf = malloc((size_t)n);
    CHECK(f && buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    if (f) fclose(f);
    /* cut it at every length from just after the header to one byte short: always an error */
    int hdr_len = 0;
    for (long i = 0; i + 11 <= n; i++)
        if (memcmp(buf + i, "end_header\n", 11) == 0) {
            hdr_len = (int)i + 11;
            break;
        }
    CHECK(hdr_len > 0);
    int all_fail = 1;
    for (long len = hdr_len; len < n; len++) {
        write_bytes(cut, buf, (size_t)len, NULL, 0);
        enum hrn_status st = hrn_mesh_read_ply(cut, &m);
        if (st != HRN_ERR_FORMAT || !strstr(hrn_error_msg(), "trunc.ply")) all_fail = 0;
        CHECK(m.verts == NULL);
    }
    CHECK(all_fail);
    write_bytes(cut, buf, (size_t)n - 5, NULL, 0);
    CHECK_STATUS(hrn_mesh_read_ply(cut, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("trunc.ply: truncated");
    CHECK_ERR_HAS("element 'face'");
    write_bytes(cut, buf, (size_t)hdr_len + 5 * 15, NULL, 0); /* inside the vertices (15 B each) */
    CHECK_STATUS(hrn_mesh_read_ply(cut, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("trunc.ply: truncated or corrupt: element 'vertex' claims 8 records");

    /* a huge claimed count is refused before any allocation */
    const char *huge = "ply\nformat binary_little_endian 1.0\nelement vertex 2000000000\n"
                       "property float x\nproperty float y\nproperty float z\nelement face 1\n"
                       "property list uchar int vertex_indices\nend_header\n";
    const char *hp = tmp_path("huge.ply");
    write_bytes(hp, huge, strlen(huge), buf + hdr_len, 64);
    CHECK_STATUS(hrn_mesh_read_ply(hp, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("huge.ply: truncated or corrupt: element 'vertex' claims 2000000000 records");
    /* a list claiming 200 items in a short file */
    memcpy(buf + n - 13, "\xc8", 1); /* the last face's count byte */
    write_bytes(cut, buf, (size_t)n, NULL, 0);
    CHECK_STATUS(hrn_mesh_read_ply(cut, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("truncated");
    /* an out-of-range index in a binary file names the face */
    memcpy(buf + n - 13, "\x03", 1);
    int32_t big = 8;
    memcpy(buf + n - 4, &big, 4);
    write_bytes(cut, buf, (size_t)n, NULL, 0);
    CHECK_STATUS(hrn_mesh_read_ply(cut, &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("trunc.ply: face 11: vertex index 8 out of range (8 vertices)");
    free(buf);
    hrn_mesh_free(&src);

    /* ASCII: bad index names the line, bad number, short file */
    const char *h = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                    "property float z\nelement face 2\nproperty list uchar int vertex_indices\n"
                    "end_header\n";
    char t[1024];
    snprintf(t, sizeof t, "%s0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 1 3\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply:14: vertex index 3 out of range (3 vertices)");
    snprintf(t, sizeof t, "%s0 0 0\n1 0x 0\n0 1 0\n3 0 1 2\n3 0 1 2\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply:11: malformed number '0x'");
    snprintf(t, sizeof t, "%s0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 1.5 2\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply:14: '1.5' is not a int");
    snprintf(t, sizeof t, "%s0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0          \n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply:15: file ends inside element 'face' record 1");
    snprintf(t, sizeof t, "%s0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply: truncated or corrupt: element 'face' claims 2 records");
    snprintf(t, sizeof t, "%s0 0 nan\n1 0 0\n0 1 0\n3 0 1 2\n3 0 1 2\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("a.ply:10: value is not finite in element 'vertex'");
    snprintf(t, sizeof t, "%s0 0 0\n1 0 0\n0 1 0\n2 0 1\n3 0 1 2\n", h);
    CHECK_STATUS(hrn_mesh_read(write_text("a.ply", t), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("face 0 has 2 vertices");
    /* header problems */
    CHECK_STATUS(hrn_mesh_read(write_text("h.ply", "plyx\n"), &m), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("h.ply:1: expected 'ply'");
    CHECK_STATUS(hrn_mesh_read(write_text("h.ply", "ply\nformat ascii 1.0\nelement vertex 1\n"
                                                   "property half x\nend_header\n"),
                               &m),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("h.ply:4: unknown type 'half'");
    CHECK_STATUS(
        hrn_mesh_read(write_text("h.ply", "ply\nformat ascii 1.0\nelement vertex 1\n"), &m),
        HRN_ERR_FORMAT);
    CHECK_ERR_HAS("h.ply: no 'end_header'");
    CHECK_STATUS(hrn_mesh_read(write_text("h.ply", "ply\nformat ascii 1.0\nelement vertex -1\n"
                                                   "end_header\n"),
                               &m),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("h.ply:3: bad count '-1'");
    CHECK_STATUS(hrn_mesh_read(write_text("h.ply", "ply\nformat ascii 1.0\nelement vertex 1\n"
                                                   "property float x\nend_header\n1\n"),
                               &m),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("lacks x, y or z");
}

static void read_real(const char *rel, int64_t nv, int64_t nf, int64_t nuv) {
    const char *d = hrn_test_realdata();
    if (!d) {
        SKIP("shared/realdata not found (set HRN_REALDATA)");
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", d, rel);
    if (!file_exists(p)) {
        SKIP("%s absent", p);
        return;
    }
    struct hrn_mesh m = {0};
    CHECK_OK(hrn_mesh_read(p, &m));
    CHECK_MSG(m.n_verts == nv && m.n_faces == nf && m.n_uvs == nuv,
              "%s: %lld vertices, %lld faces, %lld uvs", rel, (long long)m.n_verts,
              (long long)m.n_faces, (long long)m.n_uvs);
    CHECK_OK(hrn_mesh_check(&m));
    /* and through PLY and back */
    const char *out = tmp_path("real.ply");
    CHECK_OK(hrn_mesh_write_ply(out, &m, 1));
    struct hrn_mesh r = {0};
    CHECK_OK(hrn_mesh_read(out, &r));
    check_same_geometry(&m, &r, 0);
    hrn_mesh_free(&r);
    hrn_mesh_free(&m);
}

/* Counts checked with awk on the files: sfm_reference.obj has 845 `v` and 1610 triangle `f`
 * lines (it is eos's low-resolution reference mesh, not the 3448-vertex shape model);
 * canonical_face_model.obj has 468 v, 468 vt, 898 f. */
static void test_real_sfm_obj(void) { read_real("sfm/sfm_reference.obj", 845, 1610, 0); }
static void test_real_mediapipe_obj(void) {
    read_real("mediapipe_face_geometry/canonical_face_model.obj", 468, 898, 468);
}

static void test_real_annotated_obj(void) {
    /* 845 vertices of which some carry a colour and a trailing comment */
    const char *d = hrn_test_realdata();
    if (!d) {
        SKIP("shared/realdata not found (set HRN_REALDATA)");
        return;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/sfm/sfm_reference_annotated.obj", d);
    if (!file_exists(p)) {
        SKIP("%s absent", p);
        return;
    }
    struct hrn_mesh m = {0}, ref = {0};
    CHECK_OK(hrn_mesh_read(p, &m));
    snprintf(p, sizeof p, "%s/sfm/sfm_reference.obj", d);
    CHECK_OK(hrn_mesh_read(p, &ref));
    check_same_geometry(&m, &ref, 0);
    CHECK(m.colors != NULL && ref.colors == NULL);
    /* line 12 of the file: v -38.0782 -66.9499 -64.9298 0 1 0 # right contour 14 */
    CHECK(m.colors && m.colors[3 * 11] == 0 && m.colors[3 * 11 + 1] == 1 &&
          m.colors[3 * 11 + 2] == 0);
    CHECK(m.verts[3 * 11] == -38.0782f);
    hrn_mesh_free(&m);
    hrn_mesh_free(&ref);
}

int main(void) {
    RUN(test_obj_round_trip);
    RUN(test_obj_features);
    RUN(test_obj_errors);
    RUN(test_write_rejects_bad_mesh);
    RUN(test_ply_round_trip);
    RUN(test_ply_other_writers);
    RUN(test_ply_errors);
    RUN(test_real_sfm_obj);
    RUN(test_real_mediapipe_obj);
    RUN(test_real_annotated_obj);
    return hrn_test_finish();
}
