/* test_model_import.c: face-model importers (eos .bin, Deep3D .mat, BFM 2017 .h5) and dispatch. */
#include "hrn_model.h"
#include "hrn_test.h"

#include <matio.h>
#include <sys/wait.h>

static void test_eos_matches_shared_h5(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char bin[600], bs[600], map[600], h5[600];
    snprintf(bin, sizeof bin, "%s/sfm/sfm_shape_3448.bin", rd);
    snprintf(bs, sizeof bs, "%s/sfm/expression_blendshapes_3448.bin", rd);
    snprintf(map, sizeof map, "%s/sfm/ibug_to_sfm.txt", rd);
    snprintf(h5, sizeof h5, "%s/sfm/sfm_shape_3448.h5", rd);
    struct hrn_face_model a = {0}, b = {0};
    CHECK_OK(hrn_face_model_import_eos(bin, bs, map, &a));
    CHECK_OK(hrn_face_model_load(h5, &b));
    CHECK(a.n_verts == 3448 && a.n_tris == 6736 && a.n_id == 63 && a.n_exp == 6);
    CHECK(a.n_verts == b.n_verts && a.n_id == b.n_id && a.n_exp == b.n_exp);
    if (a.n_verts != b.n_verts || a.n_id != b.n_id || a.n_exp != b.n_exp) goto done;
    double dm = 0, db = 0, de = 0, du = 0;
    for (int64_t i = 0; i < 3 * a.n_verts; i++) {
        dm = fmax(dm, fabs((double)(a.mean_shape[i] - b.mean_shape[i])));
        for (int k = 0; k < a.n_id; k++)
            db = fmax(db, fabs((double)(a.id_basis[i * a.n_id + k] - b.id_basis[i * b.n_id + k])));
        for (int k = 0; k < a.n_exp; k++)
            de = fmax(de, fabs((double)(a.exp_basis[i * a.n_exp + k] - b.exp_basis[i * b.n_exp + k])));
    }
    for (int64_t i = 0; i < 2 * a.n_verts; i++) du = fmax(du, fabs((double)(a.uvs[i] - b.uvs[i])));
    CHECK_MSG(dm < 1e-4, "mean differs by %g", dm);
    CHECK_MSG(db < 1e-3, "rescaled basis differs by %g", db); /* float32 sqrt(eigenvalue) */
    CHECK_MSG(de < 1e-5, "expression differs by %g", de);
    CHECK_MSG(du < 1e-6, "uv differs by %g", du);
    CHECK(memcmp(a.tris, b.tris, (size_t)(3 * a.n_tris) * sizeof(int32_t)) == 0);
    CHECK(memcmp(a.lmk68, b.lmk68, sizeof a.lmk68) == 0);
    CHECK(a.lmk68[8] == 33 && a.lmk68[30] == 114); /* chin bottom, nose tip (ibug 9 and 31) */
done:
    hrn_face_model_free(&a);
    hrn_face_model_free(&b);
}

static void test_eos_truncated(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/sfm/sfm_shape_3448.bin", rd);
    snprintf(dst, sizeof dst, "%s/truncated.bin", hrn_test_tmpdir("import"));
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    CHECK(in && out);
    if (!in || !out) return;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out); /* the mean's header and part of it: the basis is missing */
    fclose(in);
    fclose(out);
    struct hrn_face_model fm = {0};
    CHECK_STATUS(hrn_face_model_import_eos(dst, NULL, NULL, &fm), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("truncated.bin");
    CHECK_ERR_HAS("shape");
    CHECK_STATUS(hrn_face_model_import_eos("no/such.bin", NULL, NULL, &fm), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such.bin");
}

/* A 4-vertex Deep3D-layout .mat written with libmatio (column-major doubles, 1-based indices). */
static int write_mat_var(mat_t *m, const char *name, size_t rows, size_t cols, const double *rowmajor) {
    double *cm = malloc(rows * cols * sizeof(double));
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) cm[j * rows + i] = rowmajor[i * cols + j];
    size_t dims[2] = {rows, cols};
    matvar_t *v = Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, cm, 0);
    int ok = v && Mat_VarWrite(m, v, MAT_COMPRESSION_NONE) == 0;
    Mat_VarFree(v);
    free(cm);
    return ok;
}

static void write_deep3d_mat_tri(const char *path, int with_keypoints, double tri0, double kp0) {
    mat_t *m = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    CHECK(m != NULL);
    if (!m) return;
    double mean[12], id[12 * 2], ex[12 * 3], tex_mu[12], tex[12 * 2], tri[2 * 3] = {1, 2, 3, 1, 3, 4},
           kp[68], skin[4] = {1, 1, 0, 1};
    for (int i = 0; i < 12; i++) {
        mean[i] = 0.1 * i;
        tex_mu[i] = 100 + i;
        for (int k = 0; k < 2; k++) id[i * 2 + k] = i + 100 * k;
        for (int k = 0; k < 3; k++) ex[i * 3 + k] = -i - 1000 * k;
        for (int k = 0; k < 2; k++) tex[i * 2 + k] = 2.55 * (i + k);
    }
    for (int i = 0; i < 68; i++) kp[i] = 1 + i % 4;
    tri[0] = tri0;
    kp[0] = kp0;
    int ok = write_mat_var(m, "meanshape", 1, 12, mean) && write_mat_var(m, "idBase", 12, 2, id) &&
             write_mat_var(m, "exBase", 12, 3, ex) && write_mat_var(m, "meantex", 1, 12, tex_mu) &&
             write_mat_var(m, "texBase", 12, 2, tex) && write_mat_var(m, "tri", 2, 3, tri) &&
             write_mat_var(m, "skinmask", 1, 4, skin);
    if (with_keypoints) ok = ok && write_mat_var(m, "keypoints", 1, 68, kp);
    CHECK(ok);
    Mat_Close(m);
}

static void write_deep3d_mat(const char *path, int with_keypoints) {
    write_deep3d_mat_tri(path, with_keypoints, 1, 1);
}

/* Indices that are not integers in range (NaN, huge, fractional, 0) are refused by value: the
 * importer converted them to integers before checking the range (undefined behaviour). */
static void test_deep3d_mat_bad_indices(void) {
    static const double bad[] = {NAN, 1e30, -1e30, 2.5, 0, 5, INFINITY};
    char path[600];
    snprintf(path, sizeof path, "%s/bad_index.mat", hrn_test_tmpdir("import"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct hrn_face_model fm = {0};
        write_deep3d_mat_tri(path, 1, bad[i], 1);
        CHECK_STATUS(hrn_face_model_import(path, &fm), HRN_ERR_FORMAT);
        CHECK_ERR_HAS("'tri' row 0 has vertex");
        CHECK_ERR_HAS("expected 1..4");
        write_deep3d_mat_tri(path, 1, 1, bad[i]);
        CHECK_STATUS(hrn_face_model_import(path, &fm), HRN_ERR_FORMAT);
        CHECK_ERR_HAS("'keypoints' entry 0 is");
    }
}

static void test_deep3d_mat(void) {
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/BFM_model_front.mat", hrn_test_tmpdir("import"));
    snprintf(bad, sizeof bad, "%s/no_keypoints.mat", hrn_test_tmpdir("import"));
    write_deep3d_mat(path, 1);
    write_deep3d_mat(bad, 0);
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_import(path, &fm));
    CHECK(fm.n_verts == 4 && fm.n_tris == 2 && fm.n_id == 2 && fm.n_exp == 3 && fm.n_tex == 2);
    if (fm.n_verts == 4 && fm.n_id == 2 && fm.n_exp == 3) {
        CHECK_NEAR(fm.mean_shape[5], 0.5, 1e-6, 0);
        CHECK(fm.id_basis[7 * 2 + 1] == 107.0f);     /* row 7, column 1: transposed correctly */
        CHECK(fm.exp_basis[3 * 3 + 2] == -2003.0f);  /* row 3, column 2: -3 - 1000*2 */
        CHECK_NEAR(fm.mean_albedo[0], 100.0 / 255, 1e-6, 0);
        CHECK_NEAR(fm.tex_basis[5 * 2 + 1], 0.06, 1e-6, 0); /* 2.55*6/255 */
        CHECK(fm.tris[0] == 0 && fm.tris[5] == 3);   /* 1-based made 0-based */
        CHECK(fm.lmk68[0] == 0 && fm.lmk68[5] == 1);
        CHECK(fm.skin_mask && fm.skin_mask[2] == 0.0f);
        CHECK(fm.mm_per_unit == 100.0f);
    }
    hrn_face_model_free(&fm);
    CHECK_STATUS(hrn_face_model_import(bad, &fm), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no_keypoints.mat");
    CHECK_ERR_HAS("keypoints");
}

static void test_bfm2017_h5(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/model2017.h5", hrn_test_tmpdir("import"));
    struct hrn_h5 *f = NULL;
    float pts[3 * 4] = {0}, mean[12], basis[12 * 2], var[2] = {4, 9};
    int32_t cells[3 * 2] = {0, 0, 1, 2, 2, 3}; /* (3, T): triangles (0,1,2) and (0,2,3) */
    for (int i = 0; i < 12; i++) {
        mean[i] = (float)i;
        basis[2 * i] = 1.0f;
        basis[2 * i + 1] = -1.0f;
    }
    CHECK_OK(hrn_h5_create(path, &f));
    CHECK_OK(hrn_h5_write_f32(f, "shape/representer/points", 2, (int64_t[]){3, 4}, pts));
    CHECK_OK(hrn_h5_write_i32(f, "shape/representer/cells", 2, (int64_t[]){3, 2}, cells));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/mean", 1, (int64_t[]){12}, mean));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/pcaBasis", 2, (int64_t[]){12, 2}, basis));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/pcaVariance", 1, (int64_t[]){2}, var));
    CHECK_OK(hrn_h5_commit(f));
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_import(path, &fm));
    CHECK(fm.n_verts == 4 && fm.n_tris == 2 && fm.n_id == 2 && fm.n_exp == 0);
    if (fm.n_tris == 2 && fm.n_id == 2) {
        CHECK(fm.tris[0] == 0 && fm.tris[1] == 1 && fm.tris[2] == 2);
        CHECK(fm.tris[3] == 0 && fm.tris[4] == 2 && fm.tris[5] == 3);
        CHECK(fm.id_basis[0] == 2.0f && fm.id_basis[1] == -3.0f); /* times sqrt(variance) */
        CHECK(fm.lmk68[30] == -1);
    }
    hrn_face_model_free(&fm);
}

/* A BFM 2017 file whose expression basis does not fit: the error names it, and nothing leaks
 * (the expression mean was read into a local and lost; LeakSanitizer checks in the ASan build). */
static void test_bfm2017_bad_expression(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/model2017_badexp.h5", hrn_test_tmpdir("import"));
    struct hrn_h5 *f = NULL;
    float pts[3 * 4] = {0}, mean[12] = {0}, basis[12 * 2] = {0}, var[2] = {4, 9};
    int32_t cells[3 * 2] = {0, 0, 1, 2, 2, 3};
    CHECK_OK(hrn_h5_create(path, &f));
    CHECK_OK(hrn_h5_write_f32(f, "shape/representer/points", 2, (int64_t[]){3, 4}, pts));
    CHECK_OK(hrn_h5_write_i32(f, "shape/representer/cells", 2, (int64_t[]){3, 2}, cells));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/mean", 1, (int64_t[]){12}, mean));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/pcaBasis", 2, (int64_t[]){12, 2}, basis));
    CHECK_OK(hrn_h5_write_f32(f, "shape/model/pcaVariance", 1, (int64_t[]){2}, var));
    CHECK_OK(hrn_h5_write_f32(f, "expression/model/mean", 1, (int64_t[]){12}, mean));
    CHECK_OK(hrn_h5_write_f32(f, "expression/model/pcaBasis", 2, (int64_t[]){11, 2}, basis));
    CHECK_OK(hrn_h5_commit(f));
    struct hrn_face_model fm = {0};
    CHECK_STATUS(hrn_face_model_import(path, &fm), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("expression/model/pcaBasis");
    CHECK(fm.mean_shape == NULL);
}

/* hrn_face_model_load, what the tools call for --model, reads every kind by its first bytes
 * (issue 17: a .mat, BFM 2017 .h5 or eos .bin gave "not an HDF5 file"). */
static void test_loader_dispatch(void) {
    const char *dir = hrn_test_tmpdir("import");
    char mat[600], renamed[600], txt[600], h5[600];
    snprintf(mat, sizeof mat, "%s/dispatch.mat", dir);
    snprintf(renamed, sizeof renamed, "%s/dispatch_mat_named.h5", dir);
    snprintf(txt, sizeof txt, "%s/dispatch.h5", dir);
    snprintf(h5, sizeof h5, "%s/model2017.h5", dir); /* written by test_bfm2017_h5 */
    write_deep3d_mat(mat, 1);
    write_deep3d_mat(renamed, 1);
    FILE *f = fopen(txt, "w");
    if (f) {
        fputs("not a model\n", f);
        fclose(f);
    }
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_load(mat, &fm));
    CHECK(fm.n_verts == 4 && fm.n_id == 2 && fm.mm_per_unit == 100.0f);
    hrn_face_model_free(&fm);
    CHECK_OK(hrn_face_model_load(renamed, &fm)); /* the bytes decide, not the name */
    CHECK(fm.n_verts == 4 && fm.n_exp == 3);
    hrn_face_model_free(&fm);
    CHECK_OK(hrn_face_model_load(h5, &fm));
    CHECK(fm.n_verts == 4 && fm.n_id == 2 && fm.id_basis && fm.id_basis[0] == 2.0f);
    hrn_face_model_free(&fm);
    CHECK_STATUS(hrn_face_model_load(txt, &fm), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("dispatch.h5: not a face model hrn reads");
    CHECK_STATUS(hrn_face_model_load("no/such/model.mat", &fm), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/model.mat: cannot open: No such file");
}

/* The real eos and ICT files through the same loader: the .bin finds its blendshapes and iBUG
 * mapping beside it and equals the shared .h5 conversion. */
static void test_loader_realdata(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("no shared real data (set HRN_REALDATA)");
        return;
    }
    char bin[600], h5[600], ict[600];
    snprintf(bin, sizeof bin, "%s/sfm/sfm_shape_3448.bin", rd);
    snprintf(h5, sizeof h5, "%s/sfm/sfm_shape_3448.h5", rd);
    snprintf(ict, sizeof ict, "%s/ict_facekit/ict_face_light_narrow.h5", rd);
    struct hrn_face_model a = {0}, b = {0};
    CHECK_OK(hrn_face_model_load(bin, &a));
    CHECK_OK(hrn_face_model_load(h5, &b));
    CHECK(a.n_verts == 3448 && a.n_exp == 6 && b.n_exp == 6);
    CHECK(memcmp(a.lmk68, b.lmk68, sizeof a.lmk68) == 0);
    CHECK(a.tris && b.tris && a.n_tris == b.n_tris &&
          memcmp(a.tris, b.tris, (size_t)(3 * a.n_tris) * sizeof(int32_t)) == 0);
    hrn_face_model_free(&a);
    hrn_face_model_free(&b);
    CHECK_OK(hrn_face_model_load(ict, &a));
    CHECK(a.n_verts > 1000 && a.n_exp > 0);
    hrn_face_model_free(&a);
}

static int run_cmd(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* hrn-model convert: a .mat plus HRN-style per-vertex UVs (.npy) into hrn's HDF5; bad UVs and a
 * render to an unknown image extension are refused. */
static void test_convert_cli(void) {
    const char *exe = "../model/hrn-model";
    struct stat sb;
    if (stat(exe, &sb) != 0) {
        SKIP("%s not built", exe);
        return;
    }
    const char *dir = hrn_test_tmpdir("import");
    char mat[600], npy[600], bad[600], out[600], cmd[4000];
    snprintf(mat, sizeof mat, "%s/cli.mat", dir);
    snprintf(npy, sizeof npy, "%s/uvs.npy", dir);
    snprintf(bad, sizeof bad, "%s/uvs_bad.npy", dir);
    snprintf(out, sizeof out, "%s/converted.h5", dir);
    write_deep3d_mat(mat, 1);
    /* (4, 2) float64 and (3, 2): a hand-written .npy, as numpy.save writes it */
    for (int k = 0; k < 2; k++) {
        int n = k ? 3 : 4;
        char hdr[128];
        int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 2), }", n);
        while ((10 + hl + 1) % 64) hdr[hl++] = ' ';
        hdr[hl++] = '\n';
        FILE *f = fopen(k ? bad : npy, "wb");
        if (!f) return;
        fwrite("\x93NUMPY\x01\x00", 1, 8, f);
        fputc(hl & 255, f);
        fputc(hl >> 8, f);
        fwrite(hdr, 1, (size_t)hl, f);
        for (int i = 0; i < 2 * n; i++) {
            double v = 0.1 * i;
            fwrite(&v, 8, 1, f);
        }
        fclose(f);
    }
    remove(out);
    snprintf(cmd, sizeof cmd, "%s convert %s %s --uvs %s > /dev/null", exe, mat, out, npy);
    CHECK(run_cmd(cmd) == 0);
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_load(out, &fm));
    CHECK(fm.n_verts == 4 && fm.n_uvs == 4 && fm.uvs && !fm.tri_uvs);
    if (fm.uvs) CHECK_NEAR(fm.uvs[5], 0.5, 1e-7, 0);
    CHECK(fm.mm_per_unit == 100.0f && fm.lmk68[5] == 1 && fm.n_tex == 2);
    hrn_face_model_free(&fm);
    snprintf(cmd, sizeof cmd, "%s convert %s %s --uvs %s --flip-v > /dev/null", exe, mat, out, npy);
    CHECK(run_cmd(cmd) == 0);
    CHECK_OK(hrn_face_model_load(out, &fm));
    if (fm.uvs) CHECK_NEAR(fm.uvs[5], 0.5, 1e-7, 0);
    if (fm.uvs) CHECK_NEAR(fm.uvs[1], 0.9, 1e-7, 0);
    hrn_face_model_free(&fm);
    snprintf(cmd, sizeof cmd, "%s convert %s %s --uvs %s 2> %s/err.txt", exe, mat, out, bad, dir);
    CHECK(run_cmd(cmd) == 1);
    snprintf(cmd, sizeof cmd, "grep -q 'uvs_bad.npy: UVs of shape (3,2), the model needs (4, 2)' %s/err.txt", dir);
    CHECK_MSG(run_cmd(cmd) == 0, "convert with bad UVs: message");
    snprintf(cmd, sizeof cmd, "%s convert %s %s/out.obj 2> /dev/null", exe, mat, dir);
    CHECK(run_cmd(cmd) == 2);
    /* render: a .bmp name would have got PNG bytes */
    char bmp[600];
    snprintf(bmp, sizeof bmp, "%s/face.bmp", dir);
    remove(bmp);
    snprintf(cmd, sizeof cmd, "%s render --synth small --out %s 2> /dev/null", exe, bmp);
    CHECK(run_cmd(cmd) == 2);
    CHECK(stat(bmp, &sb) != 0);
    snprintf(cmd, sizeof cmd, "%s render --model %s --out %s/face.jpg > /dev/null 2>&1", exe, out, dir);
    CHECK(run_cmd(cmd) == 0);
    snprintf(bmp, sizeof bmp, "%s/face.jpg", dir);
    CHECK(hrn_image_read_jpeg_orientation(bmp) == 1 && stat(bmp, &sb) == 0 && sb.st_size > 100);
}

static void test_dispatch_unknown(void) {
    struct hrn_face_model fm = {0};
    CHECK_STATUS(hrn_face_model_import("face.xyz", &fm), HRN_ERR_UNSUPPORTED);
    CHECK_ERR_HAS("face.xyz");
}

int main(void) {
    RUN(test_eos_matches_shared_h5);
    RUN(test_eos_truncated);
    RUN(test_deep3d_mat);
    RUN(test_deep3d_mat_bad_indices);
    RUN(test_bfm2017_h5);
    RUN(test_bfm2017_bad_expression);
    RUN(test_loader_dispatch);
    RUN(test_loader_realdata);
    RUN(test_convert_cli);
    RUN(test_dispatch_unknown);
    return hrn_test_finish();
}
