/* fuzz_mat.c: Deep3DFaceRecon's BFM_model_front.mat through hrn_face_model_import_bfm_mat
 * (model/import.c). libmatio writes the file from the input (libmatio is the trusted parser, see
 * fuzz_common.h): MATLAB v5 (plain or compressed) or v7.3, variables named as the importer expects
 * or from the input, of any numeric class, char or complex, with the nominal shape (for the N, T
 * and basis widths the first bytes choose), one dimension off by one, or any small shape.
 * Oracle: fuzz_check_model. */
#include "fuzz_common.h"

#include "fuzz_model.h"

#include <matio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_VARS = 12, WRITE_CAP = 1 << 14 };

static const char *const NAMES[] = {"meanshape", "idBase", "exBase", "meantex", "texBase",
                                    "tri", "keypoints", "skinmask"};
enum { N_NAMES = sizeof NAMES / sizeof NAMES[0] };

struct mat_class {
    enum matio_classes cls;
    enum matio_types type;
    size_t size;
};
static const struct mat_class CLASSES[] = {
    {MAT_C_DOUBLE, MAT_T_DOUBLE, 8}, {MAT_C_SINGLE, MAT_T_SINGLE, 4}, {MAT_C_INT32, MAT_T_INT32, 4},
    {MAT_C_UINT32, MAT_T_UINT32, 4}, {MAT_C_INT64, MAT_T_INT64, 8},   {MAT_C_INT16, MAT_T_INT16, 2},
    {MAT_C_UINT16, MAT_T_UINT16, 2}, {MAT_C_UINT8, MAT_T_UINT8, 1},   {MAT_C_CHAR, MAT_T_UINT8, 1},
};
enum { N_CLASSES = sizeof CLASSES / sizeof CLASSES[0] };

static void pick_dims(struct fuzz_in *in, const size_t nominal[2], int *rank, size_t dims[3]) {
    uint8_t b = fuzz_u8(in);
    *rank = 2;
    if (b & 0x80) {
        dims[0] = nominal[0];
        dims[1] = nominal[1];
        if (b & 0x40) dims[b & 1] += (b & 0x20) || dims[b & 1] == 0 ? 1 : (size_t)-1;
        return;
    }
    *rank = 2 + (b % 8 == 0); /* a few 3-D arrays */
    for (int i = 0; i < *rank; i++) dims[i] = fuzz_u8(in) % 70;
}

/* Add one variable; 0 when it was written or skipped, -1 when libmatio failed. */
static int add_var(struct fuzz_in *in, mat_t *mat, const size_t nominal[N_NAMES][2],
                   enum matio_compression comp) {
    char name[32];
    uint32_t idx = fuzz_pick(in, N_NAMES + 1);
    if (idx < N_NAMES) strcpy(name, NAMES[idx]);
    else fuzz_str(in, name, sizeof name);
    if (!name[0] || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
                        != strlen(name))
        return 0; /* libmatio writes any name; MATLAB's rules keep the files sane */
    const size_t none[2] = {1, 1};
    int rank;
    size_t dims[3];
    pick_dims(in, idx < N_NAMES ? nominal[idx] : none, &rank, dims);
    const struct mat_class *mc = &CLASSES[fuzz_pick(in, N_CLASSES)];
    int complex = fuzz_pick(in, 32) == 0 && mc->cls != MAT_C_CHAR;
    size_t count = 1;
    for (int i = 0; i < rank; i++) count = dims[i] && count > WRITE_CAP / dims[i] ? WRITE_CAP + 1 : count * dims[i];
    if (count > WRITE_CAP) return 0;
    size_t bytes = count * mc->size, got;
    uint8_t *re = malloc(bytes ? 2 * bytes : 1);
    if (!re) return 0;
    const uint8_t *src = fuzz_bytes(in, fuzz_u8(in), &got);
    for (size_t i = 0; i < 2 * bytes; i++) re[i] = got ? src[i % got] : 0;
    struct mat_complex_split_t split = {re, re + bytes};
    matvar_t *v = Mat_VarCreate(name, mc->cls, mc->type, rank, dims, complex ? (void *)&split : re,
                                complex ? MAT_F_COMPLEX | MAT_F_DONT_COPY_DATA : MAT_F_DONT_COPY_DATA);
    int rc = v && Mat_VarWrite(mat, v, comp) == 0 ? 0 : -1;
    Mat_VarFree(v);
    free(re);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    struct fuzz_in in = {data, size, 0};
    size_t n = 3 + fuzz_u8(&in) % 40, t = fuzz_u8(&in) % 40, k[3];
    for (int i = 0; i < 3; i++) k[i] = fuzz_u8(&in) % 6;
    const size_t nominal[N_NAMES][2] = {{1, 3 * n}, {3 * n, k[0]}, {3 * n, k[1]}, {1, 3 * n},
                                        {3 * n, k[2]}, {t, 3}, {68, 1}, {1, n}};
    uint32_t fmt = fuzz_pick(&in, 4);
    const char *path = fuzz_path("BFM_model_front.mat");
    if (!path) return 0;
    mat_t *mat = Mat_CreateVer(path, NULL, fmt == 3 ? MAT_FT_MAT73 : MAT_FT_MAT5);
    if (!mat) return 0;
    int n_vars = (int)fuzz_pick(&in, MAX_VARS), rc = 0;
    for (int i = 0; i < n_vars && rc == 0; i++)
        rc = add_var(&in, mat, nominal, fmt == 1 ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE);
    Mat_Close(mat);
    if (rc != 0) return 0;
    struct hrn_face_model fm = {0};
    if (fuzz_ok(hrn_face_model_import_bfm_mat(path, &fm))) fuzz_check_model(&fm, "fuzz_mat");
    hrn_face_model_free(&fm);
    return 0;
}
