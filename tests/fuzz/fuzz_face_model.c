/* fuzz_face_model.c: HDF5 face models through hrn_face_model_load (model/face_model.c's own
 * format and model/import.c's Basel Face Model 2017/2019 .h5, chosen by content). The file is
 * built by fuzz_h5gen from the input (libhdf5 is trusted, see fuzz_common.h): the first five bytes
 * choose N, T and the three basis widths that the nominal shapes use, the rest the objects.
 * Oracle: fuzz_check_model. */
#include "fuzz_common.h"

#include "fuzz_h5gen.h"
#include "fuzz_model.h"

static const char *const NAMES[] = {
    "shape/mean", "shape/basis", "expression/basis", "expression/names", "albedo/mean",
    "albedo/basis", "triangles", "uv", "triangle_uv", "landmarks/ibug68", "masks/skin",
    "shape/representer/points", "shape/representer/cells", "shape/model/mean",
    "shape/model/pcaBasis", "shape/model/pcaVariance", "expression/model/mean",
    "expression/model/pcaBasis", "expression/model/pcaVariance", "color/model/mean",
    "color/model/pcaBasis", "color/model/pcaVariance",
};
enum { N_NAMES = sizeof NAMES / sizeof NAMES[0] };
static const char *const ATTRS[] = {"hrn_format", "hrn_format_version", "name", "licence",
                                    "license", "mm_per_unit", "units", "uv_v_up",
                                    "expression_prior"};
static const char *const STRS[] = {"hrn-face-model", "blendshapes", "gaussian", "millimetre",
                                   "centimetre", "decimetre", "metre", "sfm", ""};

/* The nominal shape of NAMES[i] for n verts, t triangles and basis widths k[3]. */
static void nominal(struct fuzz_h5_spec *s, int64_t n, int64_t t, const int64_t k[3]) {
    const int64_t shapes[N_NAMES][3] = {
        {1, 3 * n}, {2, 3 * n, k[0]}, {2, 3 * n, k[1]}, {1, k[1]}, {1, 3 * n}, {2, 3 * n, k[2]},
        {2, t, 3}, {2, n, 2}, {2, t, 3}, {1, 68}, {1, n}, {2, 3, n}, {2, 3, t}, {1, 3 * n},
        {2, 3 * n, k[0]}, {1, k[0]}, {1, 3 * n}, {2, 3 * n, k[1]}, {1, k[1]}, {1, 3 * n},
        {2, 3 * n, k[2]}, {1, k[2]},
    };
    for (int i = 0; i < N_NAMES; i++) {
        s->nominal_ndim[i] = (int)shapes[i][0];
        s->nominal[i][0] = shapes[i][1];
        s->nominal[i][1] = shapes[i][2];
    }
    const int64_t sizes[] = {3 * n, n, t, 3, 2, 68, k[0], k[1], k[2], 1, 0};
    s->n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    for (int i = 0; i < s->n_sizes; i++) s->sizes[i] = sizes[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    struct fuzz_in in = {data, size, 0};
    static struct fuzz_h5_spec spec = {.names = NAMES, .n_names = N_NAMES, .attrs = ATTRS,
                                       .n_attrs = sizeof ATTRS / sizeof ATTRS[0], .strs = STRS,
                                       .n_strs = sizeof STRS / sizeof STRS[0],
                                       .max_objects = 28};
    int64_t n = 3 + fuzz_u8(&in) % 40, t = fuzz_u8(&in) % 40, k[3];
    for (int i = 0; i < 3; i++) k[i] = fuzz_u8(&in) % 6;
    nominal(&spec, n, t, k);
    const char *path = fuzz_path("model.h5");
    if (!path || fuzz_h5_build(&in, &spec, path) != 0) return 0;
    struct hrn_face_model fm = {0};
    if (fuzz_ok(hrn_face_model_load(path, &fm))) fuzz_check_model(&fm, "fuzz_face_model");
    hrn_face_model_free(&fm);
    return 0;
}
