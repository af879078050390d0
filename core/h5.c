/* h5.c: HDF5 helpers (hrn_h5.h) over the serial HDF5 1.10 C API.
 *
 * Every object handle is opened and closed inside one function, so the only handle an open
 * struct hrn_h5 keeps is the file itself and H5Fclose never meets a dangling object. */
#include "hrn_h5.h"

#include <hdf5.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct hrn_h5 {
    hid_t fid;
    char *path; /* as given */
    char *tmp;  /* "<path>.tmp" for a created file, else NULL */
};

/* --- helpers ---------------------------------------------------------------------------------- */

/* libhdf5 1.10.8 leaves a file whose H5Fclose failed (its flush hit a full disk) in its ID table
 * after freeing it; the atexit handler H5_term_library then closes it again and the process dies
 * with SIGSEGV instead of exiting 1. hrn closes every file it opens itself, so the handler has no
 * work left but that crash: turn it off before main(), before any HDF5 call can register it. */
__attribute__((constructor)) static void h5_no_atexit(void) { H5dont_atexit(); }

static void h5_quiet(void) {
    /* HDF5 would print its whole error stack to stderr; we report through hrn_error_* instead. */
    static int done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

struct h5_detail {
    char msg[256];
};

/* The low-level driver's message spans lines ("file write failed: time = ..., filename = ...,
 * errno = 28, error message = 'No space left on device', buf = ..."): keep its head and the
 * system's reason, which would otherwise fall past the end of the message. */
static void h5_shorten(char *m) {
    const char *key = "error message = '";
    char *why = strstr(m, key), *colon = strchr(m, ':');
    if (why && colon && colon < why) {
        why += strlen(key);
        size_t n = strcspn(why, "'");
        memmove(colon + 2, why, n);
        colon[1] = ' ';
        colon[2 + n] = '\0';
    }
    for (char *p = m; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

static herr_t h5_walk_cb(unsigned n, const H5E_error2_t *e, void *user) {
    struct h5_detail *d = user;
    if (n == 0 && e->desc) {
        snprintf(d->msg, sizeof d->msg, "%s", e->desc);
        h5_shorten(d->msg);
    }
    return 0;
}

/* The most specific message on HDF5's error stack ("" if none), to append to our messages. */
static const char *h5_detail(struct h5_detail *d) {
    d->msg[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_cb, d);
    H5Eclear2(H5E_DEFAULT);
    return d->msg;
}

/* HRN_ERR_HDF5 "<path>: <what> '<name>': <hdf5 detail>" */
static enum hrn_status h5_fail(const struct hrn_h5 *f, const char *what, const char *name) {
    struct h5_detail d;
    const char *det = h5_detail(&d);
    return hrn_error_set(HRN_ERR_HDF5, "%s: %s '%s'%s%s", f->path, what, name, det[0] ? ": " : "",
                         det);
}

static int h5_writable(const struct hrn_h5 *f) { return f->tmp != NULL; }

static enum hrn_status check_args(const struct hrn_h5 *f, const char *name, const char *what) {
    HRN_ASSERT(f != NULL);
    if (!name || !name[0])
        return hrn_error_set(HRN_ERR_INVALID, "%s: empty %s name", f->path, what);
    return HRN_OK;
}

/* "(10,20)" / "()" into buf; -1 entries print as '*'. */
static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < ndim && n < cap; i++) {
        if (shape[i] < 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s*", i ? "," : "");
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
    }
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* 1 if every link on the path exists and the last resolves to an object, 0 if not. H5Lexists
 * fails (instead of returning 0) when an intermediate group is missing, hence the walk. */
static int path_exists(hid_t fid, const char *name) {
    while (*name == '/') name++;
    if (!*name) return 1;
    char buf[1024];
    size_t len = strlen(name);
    if (len >= sizeof buf) return 0;
    memcpy(buf, name, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char save = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(fid, buf, H5P_DEFAULT);
        if (e > 0) e = H5Oexists_by_name(fid, buf, H5P_DEFAULT);
        buf[i] = save;
        if (e <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return 0;
        }
    }
    return 1;
}

/* Open the object at name ("/" or "" is the root). *kind receives H5I_GROUP / H5I_DATASET.
 * HRN_ERR_FORMAT "<path>: no <what> '<name>'" when absent. */
static enum hrn_status open_obj(struct hrn_h5 *f, const char *name, const char *what, hid_t *out,
                                H5I_type_t *kind) {
    *out = H5I_INVALID_HID;
    const char *p = name;
    while (*p == '/') p++;
    if (!*p) p = "/";
    if (!path_exists(f->fid, p))
        return hrn_error_set(HRN_ERR_FORMAT, "%s: no %s '%s'", f->path, what, name);
    hid_t id = H5Oopen(f->fid, p, H5P_DEFAULT);
    if (id < 0) return h5_fail(f, "cannot open", name);
    *kind = H5Iget_type(id);
    *out = id;
    return HRN_OK;
}

static enum hrn_status open_dataset(struct hrn_h5 *f, const char *name, hid_t *out) {
    H5I_type_t kind;
    enum hrn_status st = open_obj(f, name, "dataset", out, &kind);
    if (st != HRN_OK) return st;
    if (kind != H5I_DATASET) {
        H5Oclose(*out);
        *out = H5I_INVALID_HID;
        return hrn_error_set(HRN_ERR_FORMAT, "%s: '%s' is a group, expected a dataset", f->path,
                             name);
    }
    return HRN_OK;
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    default: return "non-numeric";
    }
}

/* Rank and dims of an open dataset or attribute's dataspace. */
static enum hrn_status space_shape(struct hrn_h5 *f, hid_t space, const char *name, int *ndim,
                                   int64_t shape[HRN_H5_MAX_DIMS]) {
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0) return h5_fail(f, "cannot read the shape of", name);
    if (nd > HRN_H5_MAX_DIMS)
        return hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: '%s' has %d dimensions, at most %d supported",
                             f->path, name, nd, HRN_H5_MAX_DIMS);
    hsize_t dims[HRN_H5_MAX_DIMS];
    if (H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        return h5_fail(f, "cannot read the shape of", name);
    *ndim = nd;
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
    return HRN_OK;
}

/* A file declares a dataset's shape in a few bytes; callers allocate by it. Before anyone does,
 * check that the file can hold what it declares: an unfiltered dataset's bytes must be stored
 * (H5Dget_storage_size) and fit in the file; a compressed one can expand, so it is only held to
 * HRN_H5_MAX_VALUES. A dataset that was never written (no storage) is refused too: hrn's files
 * and h5py's always write their data. */
static enum hrn_status check_stored(struct hrn_h5 *f, hid_t did, const char *name, int nd,
                                    const int64_t *shape) {
    enum hrn_status st = HRN_OK;
    hid_t type = H5Dget_type(did), dcpl = H5Dget_create_plist(did);
    int64_t count = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] != 0 && count > HRN_H5_MAX_VALUES / shape[i]) {
            char s[160];
            shape_str(s, sizeof s, nd, shape);
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' declares shape %s, more than the "
                               "%lld values allowed", f->path, name, s, (long long)HRN_H5_MAX_VALUES);
            goto done;
        }
        count *= shape[i];
    }
    size_t esz = type >= 0 ? H5Tget_size(type) : 0;
    int filtered = dcpl >= 0 && H5Pget_nfilters(dcpl) > 0;
    if (type < 0 || dcpl < 0 || esz == 0) {
        st = h5_fail(f, "cannot read the layout of", name);
        goto done;
    }
    if (!filtered && count > 0 && H5Tget_class(type) != H5T_STRING) {
        uint64_t need = (uint64_t)count * esz, stored = H5Dget_storage_size(did);
        hsize_t fsize = 0;
        if (H5Fget_filesize(f->fid, &fsize) < 0) fsize = 0;
        if (stored < need || need > (uint64_t)fsize) {
            char s[160];
            shape_str(s, sizeof s, nd, shape);
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' declares shape %s (%llu bytes) but "
                               "the file stores %llu bytes of it in %llu (truncated or corrupt)",
                               f->path, name, s, (unsigned long long)need,
                               (unsigned long long)stored, (unsigned long long)fsize);
        }
    }
done:
    H5Eclear2(H5E_DEFAULT);
    if (type >= 0) H5Tclose(type);
    if (dcpl >= 0) H5Pclose(dcpl);
    return st;
}

/* --- open / create / commit / close ----------------------------------------------------------- */

enum hrn_status hrn_h5_open(const char *path, struct hrn_h5 **out) {
    HRN_ASSERT(path && out);
    *out = NULL;
    h5_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return hrn_error_set(HRN_ERR_IO, "%s: cannot open: not a regular file", path);
    FILE *fp = fopen(path, "rb"); /* so that "permission denied" is not "not an HDF5 file" */
    if (!fp) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(fp);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: cannot open: not an HDF5 file", path);
    }
    struct hrn_h5 *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    }
    f->fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->fid < 0) {
        struct h5_detail d;
        enum hrn_status st = hrn_error_set(HRN_ERR_HDF5, "%s: cannot open: %s", path, h5_detail(&d));
        free(f->path);
        free(f);
        return st;
    }
    *out = f;
    return HRN_OK;
}

enum hrn_status hrn_h5_create(const char *path, struct hrn_h5 **out) {
    HRN_ASSERT(path && out);
    *out = NULL;
    h5_quiet();
    struct hrn_h5 *f = calloc(1, sizeof *f);
    size_t n = strlen(path);
    if (!f || !(f->path = strdup(path)) || !(f->tmp = malloc(n + 5))) {
        if (f) free(f->path);
        free(f);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(f->tmp, path, n);
    memcpy(f->tmp + n, ".tmp", 5);
    f->fid = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f->fid < 0) {
        struct h5_detail d;
        h5_detail(&d);
        enum hrn_status st = hrn_error_set(HRN_ERR_IO, "%s: cannot create '%s': %s", path, f->tmp,
                                           d.msg[0] ? d.msg : "unknown HDF5 error");
        remove(f->tmp); /* H5Fcreate made it before its first write failed: no 0-byte leftover */
        free(f->tmp);
        free(f->path);
        free(f);
        return st;
    }
    *out = f;
    return HRN_OK;
}

static void h5_free(struct hrn_h5 *f) {
    free(f->tmp);
    free(f->path);
    free(f);
}

enum hrn_status hrn_h5_commit(struct hrn_h5 *f) {
    HRN_ASSERT(f != NULL);
    if (!h5_writable(f)) {
        H5Fclose(f->fid);
        enum hrn_status st =
            hrn_error_set(HRN_ERR_INVALID, "%s: commit of a file opened read-only", f->path);
        h5_free(f);
        return st;
    }
    enum hrn_status st = HRN_OK;
    if (H5Fflush(f->fid, H5F_SCOPE_GLOBAL) < 0) st = h5_fail(f, "cannot flush", f->tmp);
    if (H5Fclose(f->fid) < 0 && st == HRN_OK) st = h5_fail(f, "cannot close", f->tmp);
    if (st == HRN_OK && rename(f->tmp, f->path) != 0)
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot rename '%s' to it: %s", f->path, f->tmp,
                           strerror(errno));
    if (st != HRN_OK) remove(f->tmp);
    h5_free(f);
    return st;
}

void hrn_h5_close(struct hrn_h5 *f) {
    if (!f) return;
    H5Fclose(f->fid);
    H5Eclear2(H5E_DEFAULT);
    if (f->tmp) remove(f->tmp); /* created but never committed: nothing half-written remains */
    h5_free(f);
}

const char *hrn_h5_path(const struct hrn_h5 *f) { return f->path; }

/* --- queries ---------------------------------------------------------------------------------- */

int hrn_h5_exists(struct hrn_h5 *f, const char *name) {
    HRN_ASSERT(f && name);
    return path_exists(f->fid, name);
}

enum hrn_status hrn_h5_shape(struct hrn_h5 *f, const char *name, int *ndim,
                             int64_t shape[HRN_H5_MAX_DIMS]) {
    enum hrn_status st = check_args(f, name, "dataset");
    if (st != HRN_OK) return st;
    hid_t did = H5I_INVALID_HID, space = H5I_INVALID_HID;
    HRN_TRY(open_dataset(f, name, &did));
    space = H5Dget_space(did);
    if (space < 0) {
        st = h5_fail(f, "cannot read the shape of", name);
        goto fail;
    }
    HRN_TRY(space_shape(f, space, name, ndim, shape));
    if (!h5_writable(f)) HRN_TRY(check_stored(f, did, name, *ndim, shape));
fail:
    if (space >= 0) H5Sclose(space);
    if (did >= 0) H5Dclose(did);
    return st;
}

/* --- reading ---------------------------------------------------------------------------------- */

/* Open dataset name, check its type is numeric and (when want_ndim >= 0) its shape matches, and
 * return its shape. */
static enum hrn_status open_numeric(struct hrn_h5 *f, const char *name, int want_ndim,
                                    const int64_t *want, hid_t *did, int *ndim,
                                    int64_t shape[HRN_H5_MAX_DIMS]) {
    enum hrn_status st = check_args(f, name, "dataset");
    if (st != HRN_OK) return st;
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    HRN_TRY(open_dataset(f, name, did));
    type = H5Dget_type(*did);
    if (type < 0) {
        st = h5_fail(f, "cannot read the type of", name);
        goto fail;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has type %s, expected numbers",
                           f->path, name, class_name(cls));
        goto fail;
    }
    space = H5Dget_space(*did);
    if (space < 0) {
        st = h5_fail(f, "cannot read the shape of", name);
        goto fail;
    }
    HRN_TRY(space_shape(f, space, name, ndim, shape));
    if (!h5_writable(f)) HRN_TRY(check_stored(f, *did, name, *ndim, shape));
    if (want_ndim >= 0) {
        int ok = *ndim == want_ndim;
        for (int i = 0; ok && i < want_ndim; i++) ok = want[i] < 0 || want[i] == shape[i];
        if (!ok) {
            char got_s[160], want_s[160];
            shape_str(got_s, sizeof got_s, *ndim, shape);
            shape_str(want_s, sizeof want_s, want_ndim, want);
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has shape %s, expected %s",
                               f->path, name, got_s, want_s);
            goto fail;
        }
    }
fail:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (st != HRN_OK && *did >= 0) {
        H5Dclose(*did);
        *did = H5I_INVALID_HID;
    }
    return st;
}

static enum hrn_status read_numeric(struct hrn_h5 *f, const char *name, int ndim,
                                    const int64_t *shape, hid_t memtype, void *out) {
    HRN_ASSERT(ndim >= 0 && ndim <= HRN_H5_MAX_DIMS && (ndim == 0 || shape));
    HRN_ASSERT(out != NULL);
    hid_t did = H5I_INVALID_HID;
    int nd;
    int64_t got[HRN_H5_MAX_DIMS];
    enum hrn_status st = open_numeric(f, name, ndim, shape, &did, &nd, got);
    if (st != HRN_OK) return st;
    if (H5Dread(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        st = h5_fail(f, "cannot read dataset", name);
    H5Dclose(did);
    return st;
}

enum hrn_status hrn_h5_read_f32(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, float *out) {
    return read_numeric(f, name, ndim, shape, H5T_NATIVE_FLOAT, out);
}

enum hrn_status hrn_h5_read_f64(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, double *out) {
    return read_numeric(f, name, ndim, shape, H5T_NATIVE_DOUBLE, out);
}

enum hrn_status hrn_h5_read_i32(struct hrn_h5 *f, const char *name, int ndim,
                                const int64_t *shape, int32_t *out) {
    return read_numeric(f, name, ndim, shape, H5T_NATIVE_INT32, out);
}

static enum hrn_status read_alloc(struct hrn_h5 *f, const char *name, int *ndim,
                                  int64_t shape[HRN_H5_MAX_DIMS], hid_t memtype, size_t elem,
                                  void **out) {
    HRN_ASSERT(ndim && out);
    *out = NULL;
    hid_t did = H5I_INVALID_HID;
    int nd;
    int64_t sh[HRN_H5_MAX_DIMS];
    void *buf = NULL;
    enum hrn_status st;
    HRN_TRY(open_numeric(f, name, -1, NULL, &did, &nd, sh));
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        if (sh[i] > 0 && n > SIZE_MAX / elem / (size_t)sh[i]) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: dataset '%s' is too large", f->path, name);
            goto fail;
        }
        n *= (size_t)sh[i];
    }
    buf = malloc(n ? n * elem : 1);
    if (!buf) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: dataset '%s': cannot allocate %zu bytes", f->path,
                           name, n * elem);
        goto fail;
    }
    if (n && H5Dread(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        st = h5_fail(f, "cannot read dataset", name);
        goto fail;
    }
    *ndim = nd;
    if (shape)
        for (int i = 0; i < nd; i++) shape[i] = sh[i];
    *out = buf;
    buf = NULL;
fail:
    free(buf);
    if (did >= 0) H5Dclose(did);
    return st;
}

enum hrn_status hrn_h5_read_f32_alloc(struct hrn_h5 *f, const char *name, int *ndim,
                                      int64_t shape[HRN_H5_MAX_DIMS], float **out) {
    void *p = NULL;
    enum hrn_status st = read_alloc(f, name, ndim, shape, H5T_NATIVE_FLOAT, sizeof(float), &p);
    *out = p;
    return st;
}

enum hrn_status hrn_h5_read_i32_alloc(struct hrn_h5 *f, const char *name, int *ndim,
                                      int64_t shape[HRN_H5_MAX_DIMS], int32_t **out) {
    void *p = NULL;
    enum hrn_status st = read_alloc(f, name, ndim, shape, H5T_NATIVE_INT32, sizeof(int32_t), &p);
    *out = p;
    return st;
}

/* --- writing ---------------------------------------------------------------------------------- */

static enum hrn_status check_writable(const struct hrn_h5 *f, const char *name) {
    if (!h5_writable(f))
        return hrn_error_set(HRN_ERR_INVALID, "%s: cannot write '%s': file opened read-only",
                             f->path, name);
    return HRN_OK;
}

/* A link-creation property list that makes the missing groups on a path. */
static hid_t lcpl_intermediate(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        H5Pclose(lcpl);
        return H5I_INVALID_HID;
    }
    return lcpl;
}

static enum hrn_status write_numeric(struct hrn_h5 *f, const char *name, int ndim,
                                     const int64_t *shape, hid_t filetype, hid_t memtype,
                                     const void *data) {
    enum hrn_status st = check_args(f, name, "dataset");
    if (st != HRN_OK) return st;
    if ((st = check_writable(f, name)) != HRN_OK) return st;
    if (ndim < 0 || ndim > HRN_H5_MAX_DIMS)
        return hrn_error_set(HRN_ERR_INVALID, "%s: dataset '%s': %d dimensions, expected 0 to %d",
                             f->path, name, ndim, HRN_H5_MAX_DIMS);
    hsize_t dims[HRN_H5_MAX_DIMS];
    hsize_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return hrn_error_set(HRN_ERR_INVALID, "%s: dataset '%s': dimension %d is %lld", f->path,
                                 name, i, (long long)shape[i]);
        dims[i] = (hsize_t)shape[i];
        n *= dims[i];
    }
    HRN_ASSERT(data != NULL || n == 0);
    if (path_exists(f->fid, name))
        return hrn_error_set(HRN_ERR_INVALID, "%s: dataset '%s' exists already", f->path, name);
    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, did = H5I_INVALID_HID;
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    lcpl = lcpl_intermediate();
    if (space < 0 || lcpl < 0) {
        st = h5_fail(f, "cannot create dataset", name);
        goto fail;
    }
    did = H5Dcreate2(f->fid, name, filetype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (did < 0) {
        st = h5_fail(f, "cannot create dataset", name);
        goto fail;
    }
    if (n > 0 && H5Dwrite(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        st = h5_fail(f, "cannot write dataset", name);
        goto fail;
    }
fail:
    if (did >= 0) H5Dclose(did);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    return st;
}

enum hrn_status hrn_h5_write_f32(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const float *data) {
    return write_numeric(f, name, ndim, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

enum hrn_status hrn_h5_write_f64(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const double *data) {
    return write_numeric(f, name, ndim, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data);
}

enum hrn_status hrn_h5_write_i32(struct hrn_h5 *f, const char *name, int ndim,
                                 const int64_t *shape, const int32_t *data) {
    return write_numeric(f, name, ndim, shape, H5T_STD_I32LE, H5T_NATIVE_INT32, data);
}

enum hrn_status hrn_h5_create_group(struct hrn_h5 *f, const char *name) {
    enum hrn_status st = check_args(f, name, "group");
    if (st != HRN_OK) return st;
    if ((st = check_writable(f, name)) != HRN_OK) return st;
    if (path_exists(f->fid, name)) {
        hid_t id;
        H5I_type_t kind;
        if ((st = open_obj(f, name, "group", &id, &kind)) != HRN_OK) return st;
        H5Oclose(id);
        if (kind != H5I_GROUP)
            return hrn_error_set(HRN_ERR_INVALID, "%s: cannot create group '%s': a dataset is there",
                                 f->path, name);
        return HRN_OK;
    }
    hid_t lcpl = lcpl_intermediate();
    hid_t gid = lcpl >= 0 ? H5Gcreate2(f->fid, name, lcpl, H5P_DEFAULT, H5P_DEFAULT)
                          : H5I_INVALID_HID;
    if (gid < 0) st = h5_fail(f, "cannot create group", name);
    if (gid >= 0) H5Gclose(gid);
    if (lcpl >= 0) H5Pclose(lcpl);
    return st;
}

/* --- string-list datasets --------------------------------------------------------------------- */

enum hrn_status hrn_h5_write_str_list(struct hrn_h5 *f, const char *name, int64_t n,
                                      const char *const *strs) {
    enum hrn_status st = check_args(f, name, "dataset");
    if (st != HRN_OK) return st;
    if ((st = check_writable(f, name)) != HRN_OK) return st;
    HRN_ASSERT(n >= 0 && (n == 0 || strs));
    if (path_exists(f->fid, name))
        return hrn_error_set(HRN_ERR_INVALID, "%s: dataset '%s' exists already", f->path, name);
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    hid_t did = H5I_INVALID_HID;
    hsize_t dims[1] = {(hsize_t)n};
    type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        st = h5_fail(f, "cannot create dataset", name);
        goto fail;
    }
    space = H5Screate_simple(1, dims, NULL);
    lcpl = lcpl_intermediate();
    if (space < 0 || lcpl < 0) {
        st = h5_fail(f, "cannot create dataset", name);
        goto fail;
    }
    did = H5Dcreate2(f->fid, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (did < 0 || (n > 0 && H5Dwrite(did, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) < 0)) {
        st = h5_fail(f, "cannot write dataset", name);
        goto fail;
    }
fail:
    if (did >= 0) H5Dclose(did);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return st;
}

/* Pack n strings into one block: n pointers, then the bytes. */
static char **pack_strings(int64_t n, size_t total_bytes) {
    size_t head = (size_t)n * sizeof(char *);
    return malloc(head + total_bytes + 1);
}

/* Strip the padding of a fixed-length string of `size` bytes at s (NUL or space padded). */
static size_t fixed_len(const char *s, size_t size, H5T_str_t pad) {
    size_t len = strnlen(s, size);
    if (pad == H5T_STR_SPACEPAD)
        while (len > 0 && s[len - 1] == ' ') len--;
    return len;
}

enum hrn_status hrn_h5_read_str_list(struct hrn_h5 *f, const char *name, int64_t *n,
                                     char ***out) {
    HRN_ASSERT(n && out);
    *n = 0;
    *out = NULL;
    enum hrn_status st = check_args(f, name, "dataset");
    if (st != HRN_OK) return st;
    hid_t did = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID;
    char **vl = NULL, *fixed = NULL, **res = NULL;
    HRN_TRY(open_dataset(f, name, &did));
    ftype = H5Dget_type(did);
    space = H5Dget_space(did);
    if (ftype < 0 || space < 0) {
        st = h5_fail(f, "cannot read dataset", name);
        goto fail;
    }
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has type %s, expected strings",
                           f->path, name, class_name(H5Tget_class(ftype)));
        goto fail;
    }
    int nd;
    int64_t sh[HRN_H5_MAX_DIMS];
    HRN_TRY(space_shape(f, space, name, &nd, sh));
    if (nd > 1) {
        char s[160];
        shape_str(s, sizeof s, nd, sh);
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: dataset '%s' has shape %s, expected a 1-d list",
                           f->path, name, s);
        goto fail;
    }
    int64_t cnt = nd == 0 ? 1 : sh[0];
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) {
        st = h5_fail(f, "cannot read dataset", name);
        goto fail;
    }
    size_t total = 0;
    if (H5Tis_variable_str(ftype) > 0) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0) {
            st = h5_fail(f, "cannot read dataset", name);
            goto fail;
        }
        vl = calloc((size_t)cnt + 1, sizeof *vl);
        if (!vl) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: dataset '%s': out of memory", f->path, name);
            goto fail;
        }
        if (cnt && H5Dread(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vl) < 0) {
            st = h5_fail(f, "cannot read dataset", name);
            goto fail;
        }
        for (int64_t i = 0; i < cnt; i++) total += (vl[i] ? strlen(vl[i]) : 0) + 1;
        res = pack_strings(cnt, total);
        if (!res) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: dataset '%s': out of memory", f->path, name);
            goto fail;
        }
        char *p = (char *)(res + cnt);
        for (int64_t i = 0; i < cnt; i++) {
            size_t len = vl[i] ? strlen(vl[i]) : 0;
            memcpy(p, vl[i] ? vl[i] : "", len);
            p[len] = '\0';
            res[i] = p;
            p += len + 1;
        }
        if (cnt) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vl);
    } else {
        /* keep the file's padding: the default NULLTERM would drop the last byte of a full
         * NULLPAD string (numpy's fixed-length bytes) */
        size_t size = H5Tget_size(ftype);
        if (size == 0 || H5Tset_size(mtype, size) < 0 ||
            H5Tset_strpad(mtype, H5Tget_strpad(ftype)) < 0) {
            st = h5_fail(f, "cannot read dataset", name);
            goto fail;
        }
        fixed = malloc((size_t)cnt * size + 1);
        res = pack_strings(cnt, (size_t)cnt * (size + 1));
        if (!fixed || !res) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: dataset '%s': out of memory", f->path, name);
            goto fail;
        }
        if (cnt && H5Dread(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, fixed) < 0) {
            st = h5_fail(f, "cannot read dataset", name);
            goto fail;
        }
        H5T_str_t pad = H5Tget_strpad(ftype);
        char *p = (char *)(res + cnt);
        for (int64_t i = 0; i < cnt; i++) {
            const char *s = fixed + (size_t)i * size;
            size_t len = fixed_len(s, size, pad);
            memcpy(p, s, len);
            p[len] = '\0';
            res[i] = p;
            p += len + 1;
        }
    }
    *n = cnt;
    *out = res;
    res = NULL;
fail:
    free(res);
    free(fixed);
    free(vl);
    if (mtype >= 0) H5Tclose(mtype);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    if (did >= 0) H5Dclose(did);
    return st;
}

/* --- attributes ------------------------------------------------------------------------------- */

static enum hrn_status attr_obj(struct hrn_h5 *f, const char *obj, hid_t *oid) {
    HRN_ASSERT(f && obj);
    H5I_type_t kind;
    return open_obj(f, obj, "object", oid, &kind);
}

/* Create attribute attr on obj with the given type and a scalar dataspace, replacing an old one,
 * and write value. */
static enum hrn_status attr_write(struct hrn_h5 *f, const char *obj, const char *attr, hid_t ftype,
                                  hid_t mtype, const void *value) {
    enum hrn_status st = check_args(f, attr, "attribute");
    if (st != HRN_OK) return st;
    if ((st = check_writable(f, attr)) != HRN_OK) return st;
    hid_t oid = H5I_INVALID_HID, space = H5I_INVALID_HID, aid = H5I_INVALID_HID;
    HRN_TRY(attr_obj(f, obj, &oid));
    htri_t ex = H5Aexists(oid, attr);
    if (ex > 0 && H5Adelete(oid, attr) < 0) {
        st = h5_fail(f, "cannot replace attribute", attr);
        goto fail;
    }
    space = H5Screate(H5S_SCALAR);
    aid = space >= 0 ? H5Acreate2(oid, attr, ftype, space, H5P_DEFAULT, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    if (aid < 0 || H5Awrite(aid, mtype, value) < 0) {
        st = h5_fail(f, "cannot write attribute", attr);
        goto fail;
    }
fail:
    if (aid >= 0) H5Aclose(aid);
    if (space >= 0) H5Sclose(space);
    if (oid >= 0) H5Oclose(oid);
    return st;
}

enum hrn_status hrn_h5_attr_write_str(struct hrn_h5 *f, const char *obj, const char *attr,
                                      const char *value) {
    HRN_ASSERT(value != NULL);
    /* Variable-length UTF-8, what h5py writes for a str, so Python reads back a str. */
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        if (type >= 0) H5Tclose(type);
        return h5_fail(f, "cannot write attribute", attr);
    }
    enum hrn_status st = attr_write(f, obj, attr, type, type, &value);
    H5Tclose(type);
    return st;
}

enum hrn_status hrn_h5_attr_write_f64(struct hrn_h5 *f, const char *obj, const char *attr,
                                      double value) {
    return attr_write(f, obj, attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

enum hrn_status hrn_h5_attr_write_i64(struct hrn_h5 *f, const char *obj, const char *attr,
                                      int64_t value) {
    return attr_write(f, obj, attr, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

/* Open attribute attr of obj, check it holds one element; returns its file type. */
static enum hrn_status attr_open(struct hrn_h5 *f, const char *obj, const char *attr, hid_t *oid,
                                 hid_t *aid, hid_t *ftype) {
    *oid = *aid = *ftype = H5I_INVALID_HID;
    enum hrn_status st = check_args(f, attr, "attribute");
    if (st != HRN_OK) return st;
    HRN_TRY(attr_obj(f, obj, oid));
    htri_t ex = H5Aexists(*oid, attr);
    if (ex <= 0) {
        H5Eclear2(H5E_DEFAULT);
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no attribute '%s' on '%s'", f->path, attr, obj);
        goto fail;
    }
    *aid = H5Aopen(*oid, attr, H5P_DEFAULT);
    if (*aid < 0 || (*ftype = H5Aget_type(*aid)) < 0) {
        st = h5_fail(f, "cannot open attribute", attr);
        goto fail;
    }
    hid_t space = H5Aget_space(*aid);
    hssize_t np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (np != 1) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: attribute '%s' on '%s' has %lld elements, expected 1",
                           f->path, attr, obj, (long long)np);
        goto fail;
    }
    return HRN_OK;
fail:
    if (*ftype >= 0) H5Tclose(*ftype);
    if (*aid >= 0) H5Aclose(*aid);
    if (*oid >= 0) H5Oclose(*oid);
    *oid = *aid = *ftype = H5I_INVALID_HID;
    return st;
}

static void attr_close(hid_t oid, hid_t aid, hid_t ftype) {
    if (ftype >= 0) H5Tclose(ftype);
    if (aid >= 0) H5Aclose(aid);
    if (oid >= 0) H5Oclose(oid);
}

enum hrn_status hrn_h5_attr_read_str(struct hrn_h5 *f, const char *obj, const char *attr,
                                     char *buf, size_t cap) {
    HRN_ASSERT(buf && cap > 0);
    buf[0] = '\0';
    hid_t oid, aid, ftype, mtype = H5I_INVALID_HID;
    char *vs = NULL, *fixed = NULL;
    enum hrn_status st = attr_open(f, obj, attr, &oid, &aid, &ftype);
    if (st != HRN_OK) return st;
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: attribute '%s' on '%s' has type %s, expected a string",
                           f->path, attr, obj, class_name(H5Tget_class(ftype)));
        goto fail;
    }
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) {
        st = h5_fail(f, "cannot read attribute", attr);
        goto fail;
    }
    const char *s;
    size_t len;
    if (H5Tis_variable_str(ftype) > 0) {
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Aread(aid, mtype, &vs) < 0) {
            st = h5_fail(f, "cannot read attribute", attr);
            goto fail;
        }
        s = vs ? vs : "";
        len = strlen(s);
    } else {
        size_t size = H5Tget_size(ftype);
        fixed = malloc(size + 1);
        if (!fixed) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: attribute '%s': out of memory", f->path, attr);
            goto fail;
        }
        if (H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5Tget_strpad(ftype)) < 0 ||
            H5Aread(aid, mtype, fixed) < 0) {
            st = h5_fail(f, "cannot read attribute", attr);
            goto fail;
        }
        fixed[size] = '\0';
        s = fixed;
        len = fixed_len(fixed, size, H5Tget_strpad(ftype));
    }
    if (len >= cap) {
        st = hrn_error_set(HRN_ERR_FORMAT,
                           "%s: attribute '%s' on '%s' is %zu bytes long, the buffer holds %zu",
                           f->path, attr, obj, len, cap - 1);
        goto fail;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
fail:
    if (vs) H5free_memory(vs);
    free(fixed);
    if (mtype >= 0) H5Tclose(mtype);
    attr_close(oid, aid, ftype);
    return st;
}

static enum hrn_status attr_read_num(struct hrn_h5 *f, const char *obj, const char *attr,
                                     hid_t mtype, void *value) {
    hid_t oid, aid, ftype;
    enum hrn_status st = attr_open(f, obj, attr, &oid, &aid, &ftype);
    if (st != HRN_OK) return st;
    H5T_class_t cls = H5Tget_class(ftype);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: attribute '%s' on '%s' has type %s, expected a number",
                           f->path, attr, obj, class_name(cls));
    else if (H5Aread(aid, mtype, value) < 0)
        st = h5_fail(f, "cannot read attribute", attr);
    attr_close(oid, aid, ftype);
    return st;
}

enum hrn_status hrn_h5_attr_read_f64(struct hrn_h5 *f, const char *obj, const char *attr,
                                     double *value) {
    return attr_read_num(f, obj, attr, H5T_NATIVE_DOUBLE, value);
}

enum hrn_status hrn_h5_attr_read_i64(struct hrn_h5 *f, const char *obj, const char *attr,
                                     int64_t *value) {
    return attr_read_num(f, obj, attr, H5T_NATIVE_INT64, value);
}

/* --- listing ---------------------------------------------------------------------------------- */

struct list_ctx {
    hrn_h5_child_fn fn;
    void *user;
    int stopped;
};

static herr_t list_cb(hid_t gid, const char *name, const H5L_info_t *info, void *user) {
    (void)info;
    struct list_ctx *c = user;
    int is_group = 0;
    hid_t id = H5Oopen(gid, name, H5P_DEFAULT);
    if (id >= 0) {
        is_group = H5Iget_type(id) == H5I_GROUP;
        H5Oclose(id);
    } else {
        H5Eclear2(H5E_DEFAULT); /* a dangling soft link: report it as a non-group */
    }
    if (c->fn(name, is_group, c->user) != 0) {
        c->stopped = 1;
        return 1;
    }
    return 0;
}

enum hrn_status hrn_h5_list(struct hrn_h5 *f, const char *group, hrn_h5_child_fn fn, void *user) {
    HRN_ASSERT(f && group && fn);
    hid_t gid;
    H5I_type_t kind;
    enum hrn_status st = open_obj(f, group, "group", &gid, &kind);
    if (st != HRN_OK) return st;
    if (kind != H5I_GROUP) {
        H5Oclose(gid);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: '%s' is a dataset, expected a group", f->path,
                             group);
    }
    struct list_ctx c = {fn, user, 0};
    hsize_t idx = 0;
    if (H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, &idx, list_cb, &c) < 0)
        st = h5_fail(f, "cannot list group", group);
    H5Oclose(gid);
    return st;
}
