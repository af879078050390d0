/* fuzz_h5gen.h: well-formed HDF5 files decoded from fuzz input, for the face model and checkpoint
 * harnesses. libhdf5 writes the file; the input chooses its root attributes (name, type, value)
 * and its datasets (name, type, shape, values, or a group in a dataset's place). Names come from
 * the spec (the ones the reader looks for) or from the input, and a shape can be the name's
 * nominal one, that one with a dimension off by one, dimensions from the spec's sizes, or huge
 * ones with no data written (what a hostile file declares). */
#ifndef HRN_FUZZ_H5GEN_H
#define HRN_FUZZ_H5GEN_H

#include "fuzz_common.h"

enum { FUZZ_H5_MAX_NAMES = 512, FUZZ_H5_MAX_SIZES = 16 };

struct fuzz_h5_spec {
    const char *const *names;    /* dataset paths the reader knows ("shape/mean") */
    int n_names;
    int nominal_ndim[FUZZ_H5_MAX_NAMES];      /* 0: the name has no nominal shape */
    int64_t nominal[FUZZ_H5_MAX_NAMES][4];
    const char *const *attrs;    /* root attribute names the reader knows */
    int n_attrs;
    const char *const *strs;     /* string values worth trying ("hrn-face-model") */
    int n_strs;
    int64_t sizes[FUZZ_H5_MAX_SIZES]; /* dimension values worth trying (3N, T, 68) */
    int n_sizes;
    int max_objects; /* datasets and groups per file: a little more than a complete file has */
};

/* Write the file at path. 0 on success, -1 when libhdf5 refused something (the input is then
 * not worth a reader's time). */
int fuzz_h5_build(struct fuzz_in *in, const struct fuzz_h5_spec *spec, const char *path);

#endif /* HRN_FUZZ_H5GEN_H */
