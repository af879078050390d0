/* hrn_h5.h: HDF5 helpers: numeric datasets of a given shape, groups, string and numeric attributes.
 * Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     struct hrn_h5 *f = NULL;
 *     enum hrn_status st;
 *     HRN_TRY(hrn_h5_create("ckpt.h5", &f));                  // writes ckpt.h5.tmp
 *     HRN_TRY(hrn_h5_write_f32(f, "params/fc.weight", 2, (int64_t[]){10, 20}, w));
 *     HRN_TRY(hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-checkpoint"));
 *     HRN_TRY(hrn_h5_commit(f));                              // closes, renames to ckpt.h5
 *     f = NULL;
 *
 *     HRN_TRY(hrn_h5_open("ckpt.h5", &f));
 *     HRN_TRY(hrn_h5_read_f32(f, "params/fc.weight", 2, (int64_t[]){10, 20}, w));
 *     // wrong shape -> HRN_ERR_FORMAT "ckpt.h5: dataset 'params/fc.weight' has shape (10,21),
 *     //                expected (10,20)"
 *     hrn_h5_close(f);
 *   fail:
 *     hrn_h5_close(f);    // NULL-safe; abandons (removes) an uncommitted .tmp
 *
 * Names are paths inside the file ("a/b/c"; a leading '/' is optional). Writing a dataset creates
 * the missing groups on its path. Reads convert from any stored numeric type (HDF5's own
 * conversion), so a float64 dataset reads into float32. Every error names the file and the
 * dataset or attribute. HDF5's automatic error stack printing is switched off.
 *
 * Errors: HRN_ERR_IO for a missing/unreadable file ("x.h5: cannot open: No such file or
 * directory"), HRN_ERR_FORMAT for a file that is not HDF5 ("x.h5: cannot open: not an HDF5 file"),
 * a missing dataset or attribute ("x.h5: no dataset 'params/b'"), a wrong shape or type;
 * HRN_ERR_INVALID for caller mistakes (writing to a file opened read-only, a dataset that exists
 * already); HRN_ERR_HDF5 when the library itself fails (its innermost message is appended).
 * A struct hrn_h5 is not thread-safe (nor is serial HDF5): use one thread at a time.
 */
#ifndef HRN_H5_H
#define HRN_H5_H

#include "hrn_base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { HRN_H5_MAX_DIMS = 8 };
/* The most values a dataset may declare (2^31: 8 GiB as float32). Reads also refuse an
 * uncompressed dataset whose declared bytes the file does not store ("truncated or corrupt"),
 * so a shape from a file can be trusted for allocation after hrn_h5_shape succeeded. */
#define HRN_H5_MAX_VALUES ((int64_t)1 << 31)

struct hrn_h5; /* opaque: an open file */

/* Open an existing file read-only. */
enum hrn_status hrn_h5_open(const char *path, struct hrn_h5 **out);
/* Create (truncate) "<path>.tmp" for writing; hrn_h5_commit renames it to path. */
enum hrn_status hrn_h5_create(const char *path, struct hrn_h5 **out);
/* Flush, close and rename "<path>.tmp" to path. Frees f whatever the result. */
enum hrn_status hrn_h5_commit(struct hrn_h5 *f);
/* Close; a created file that was not committed is removed. NULL-safe. */
void hrn_h5_close(struct hrn_h5 *f);
/* The path given to open/create. */
const char *hrn_h5_path(const struct hrn_h5 *f);

/* 1 if a dataset or group exists at name, else 0. */
int hrn_h5_exists(struct hrn_h5 *f, const char *name);
/* Rank and dimensions of a dataset (HRN_ERR_FORMAT if missing or not a dataset, or, in a file
 * opened for reading, if it declares more than the file holds: see HRN_H5_MAX_VALUES). */
enum hrn_status hrn_h5_shape(struct hrn_h5 *f, const char *name, int *ndim,
                             int64_t shape[HRN_H5_MAX_DIMS]);

/* Read a dataset whose shape must equal (ndim, shape) exactly; a shape entry of -1 accepts any
 * size there. out holds the product of the actual dimensions. */
enum hrn_status hrn_h5_read_f32(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, float *out);
enum hrn_status hrn_h5_read_f64(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, double *out);
enum hrn_status hrn_h5_read_i32(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, int32_t *out);
/* Read a dataset of any shape into a malloc()ed buffer the caller free()s; ndim/shape receive
 * its shape (shape may be NULL). */
enum hrn_status hrn_h5_read_f32_alloc(struct hrn_h5 *f, const char *name, int *ndim,
                                      int64_t shape[HRN_H5_MAX_DIMS], float **out);
enum hrn_status hrn_h5_read_i32_alloc(struct hrn_h5 *f, const char *name, int *ndim,
                                      int64_t shape[HRN_H5_MAX_DIMS], int32_t **out);

/* Write a dataset (replacing none: HRN_ERR_INVALID if it exists). Stored as float32 / float64 /
 * int32, contiguous, uncompressed. A 0-d scalar is ndim = 0. */
enum hrn_status hrn_h5_write_f32(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const float *data);
enum hrn_status hrn_h5_write_f64(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const double *data);
enum hrn_status hrn_h5_write_i32(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const int32_t *data);
/* Create a group (and its parents); no error if it exists. */
enum hrn_status hrn_h5_create_group(struct hrn_h5 *f, const char *name);

/* A 1-d dataset of strings (h5py's `f["names"] = ["a", "b"]`, or numpy bytes arrays).
 * write: stored as variable-length UTF-8 strings, shape (n,).
 * read: accepts fixed-length (NUL- or space-padded) and variable-length strings of shape (n,) or
 * a scalar (n = 1). *out is ONE malloc()ed block holding n pointers followed by the strings, so a
 * single free(*out) releases everything. */
enum hrn_status hrn_h5_write_str_list(struct hrn_h5 *f, const char *name, int64_t n,
                                      const char *const *strs);
enum hrn_status hrn_h5_read_str_list(struct hrn_h5 *f, const char *name, int64_t *n,
                                     char ***out);

/* Attributes on the object `obj` ("/" for the root, or a group or dataset path). Writing an
 * attribute that exists replaces it. Strings are written as variable-length UTF-8 (what h5py
 * writes for a Python str); numbers as float64 / int64 scalars. Reads accept any numeric type
 * for the numeric readers and an attribute must hold exactly one element. */
enum hrn_status hrn_h5_attr_write_str(struct hrn_h5 *f, const char *obj, const char *attr,
                                      const char *value);
enum hrn_status hrn_h5_attr_write_f64(struct hrn_h5 *f, const char *obj, const char *attr,
                                      double value);
enum hrn_status hrn_h5_attr_write_i64(struct hrn_h5 *f, const char *obj, const char *attr,
                                      int64_t value);
/* Read a string attribute (fixed- or variable-length) into buf; HRN_ERR_FORMAT if it does not fit. */
enum hrn_status hrn_h5_attr_read_str(struct hrn_h5 *f, const char *obj, const char *attr,
                                     char *buf, size_t cap);
enum hrn_status hrn_h5_attr_read_f64(struct hrn_h5 *f, const char *obj, const char *attr,
                                     double *value);
enum hrn_status hrn_h5_attr_read_i64(struct hrn_h5 *f, const char *obj, const char *attr,
                                     int64_t *value);

/* Call fn(name, is_group, user) for each direct child of group, in name order; a non-zero
 * return from fn stops the walk. */
typedef int (*hrn_h5_child_fn)(const char *name, int is_group, void *user);
enum hrn_status hrn_h5_list(struct hrn_h5 *f, const char *group, hrn_h5_child_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* HRN_H5_H */
