/* hrn_npy.h: the one NumPy .npy reader (format versions 1.0, 2.0 and 3.0).
 *
 *     struct hrn_npy a = {0};
 *     if (hrn_npy_read("bfm_uvs2.npy", &a) != HRN_OK) { fprintf(stderr, "%s\n", hrn_error_msg()); return 1; }
 *     // a.ndim == 2, a.shape = {35709, 2}, a.count == 71418, a.data[i] as double, a.dtype "f4"
 *     hrn_npy_free(&a);
 *
 * Files are untrusted input: the header is parsed strictly (a Python dict with exactly the keys
 * 'descr', 'fortran_order' and 'shape'), the shape's product is computed with overflow checks and
 * must stay under HRN_NPY_MAX_COUNT, and the file must hold exactly the bytes the shape says before
 * anything is allocated for the data. Fortran-ordered arrays are refused (no caller needs them and
 * a silent transpose would be worse than an error).
 */
#ifndef HRN_NPY_H
#define HRN_NPY_H

#include "hrn_base.h"

#include <stddef.h>
#include <stdint.h>

#define HRN_NPY_MAX_DIMS 8
/* 2^28 values (2 GiB as doubles): ten times the largest array hrn reads (a 35709x3x199 basis). */
#define HRN_NPY_MAX_COUNT ((int64_t)1 << 28)
/* numpy writes headers of a few hundred bytes; 2.0 allows 4 GiB, which only a hostile file uses */
#define HRN_NPY_MAX_HEADER 65536

struct hrn_npy {
    int ndim;                         /* 0 for a scalar */
    int64_t shape[HRN_NPY_MAX_DIMS];  /* outermost first; unused entries are 1 */
    int64_t count;                    /* product of the shape (1 for a scalar, 0 if a dim is 0) */
    char dtype[3];                    /* kind and size: "f4" "f8" "i1" "i2" "i4" "i8" "u1" "u2" "u4" "u8" "b1" */
    double *data;                     /* count values in C order, converted to double; malloc'd */
};

/* Read a .npy file. Any byte order and the dtypes above are accepted; 64-bit integers beyond 2^53
 * lose precision in the conversion. On failure out is left empty and the message names the file.
 * HRN_ERR_IO: cannot open/read; HRN_ERR_FORMAT: malformed, Fortran order, a size over the limit, or
 * a file shorter or longer than its shape; HRN_ERR_NOMEM. */
enum hrn_status hrn_npy_read(const char *path, struct hrn_npy *out);
/* The same from bytes in memory; name is used in messages only. */
enum hrn_status hrn_npy_read_mem(const void *buf, size_t len, const char *name, struct hrn_npy *out);
/* NULL-safe; leaves a zeroed struct. */
void hrn_npy_free(struct hrn_npy *a);

#endif /* HRN_NPY_H */
