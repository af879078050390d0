/* fuzz_h5gen.c: see fuzz_h5gen.h. */
#include "fuzz_h5gen.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

/* Data is written only below this many elements; larger datasets are declared, never filled
 * (libhdf5 allocates their storage late, so they cost nothing until a reader reads them). */
enum { WRITE_CAP = 1 << 14, MAX_ATTRS = 10 };

static void pick_name(struct fuzz_in *in, const char *const *names, int n, char *buf, size_t cap,
                      int *index) {
    uint8_t b = fuzz_u8(in);
    *index = -1;
    if (n > 0 && b < 224) {
        *index = (int)(fuzz_u32(in) % (uint32_t)n);
        strncpy(buf, names[*index], cap - 1);
        buf[cap - 1] = 0;
    } else {
        fuzz_str(in, buf, cap);
        if (!buf[0]) strcpy(buf, "x");
    }
}

/* A dimension from one selector byte (see fuzz_h5gen.h). */
static hsize_t pick_dim(struct fuzz_in *in, const struct fuzz_h5_spec *s) {
    uint8_t d = fuzz_u8(in);
    switch (d >> 6) {
    case 0: return d & 63;
    case 1: return s->n_sizes ? (hsize_t)s->sizes[(d & 63) % s->n_sizes] : (hsize_t)(d & 63);
    case 2: return (hsize_t)fuzz_u32(in) + 1;
    default: return (hsize_t)(d & 63) << 12;
    }
}

static int pick_shape(struct fuzz_in *in, const struct fuzz_h5_spec *s, int name, hsize_t dims[4]) {
    uint8_t b = fuzz_u8(in);
    if ((b & 0x80) && name >= 0 && s->nominal_ndim[name] > 0) {
        int nd = s->nominal_ndim[name];
        for (int i = 0; i < nd; i++) dims[i] = (hsize_t)s->nominal[name][i];
        if (b & 0x40) { /* one dimension off by one */
            int i = (int)fuzz_pick(in, (uint32_t)nd);
            dims[i] = (b & 0x20) || dims[i] == 0 ? dims[i] + 1 : dims[i] - 1;
        }
        return nd;
    }
    int nd = b % 5;
    for (int i = 0; i < nd; i++) dims[i] = pick_dim(in, s);
    return nd;
}

/* Element bytes: the input's next bytes, repeated to fill the dataset. */
static void *fill(struct fuzz_in *in, size_t bytes) {
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf) return NULL;
    size_t got;
    const uint8_t *src = fuzz_bytes(in, fuzz_u8(in), &got);
    for (size_t i = 0; i < bytes; i++) buf[i] = got ? src[i % got] : 0;
    return buf;
}

static hid_t pick_type(struct fuzz_in *in, int *is_vlen) {
    *is_vlen = 0;
    switch (fuzz_pick(in, 8)) {
    case 0: return H5Tcopy(H5T_NATIVE_FLOAT);
    case 1: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case 2: return H5Tcopy(H5T_NATIVE_INT);
    case 3: return H5Tcopy(H5T_NATIVE_LLONG);
    case 4: return H5Tcopy(H5T_NATIVE_UCHAR);
    case 5: return H5Tcopy(H5T_NATIVE_SHORT);
    case 6: {
        hid_t s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, H5T_VARIABLE);
        *is_vlen = 1;
        return s;
    }
    default: {
        hid_t s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, 1 + fuzz_pick(in, 16));
        return s;
    }
    }
}

/* Write the selected values: numbers from the input bytes, strings from the spec or the input. */
static herr_t write_values(struct fuzz_in *in, const struct fuzz_h5_spec *s, hid_t obj, int is_attr,
                           hid_t type, int is_vlen, size_t count) {
    herr_t r = 0;
    if (is_vlen) {
        char **v = calloc(count ? count : 1, sizeof *v);
        char(*store)[40] = calloc(count ? count : 1, sizeof *store);
        for (size_t i = 0; v && store && i < count; i++) {
            int idx;
            pick_name(in, s->strs, s->n_strs, store[i], sizeof store[i], &idx);
            v[i] = store[i];
        }
        if (v && store) r = is_attr ? H5Awrite(obj, type, v) : H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
        free(store);
        return r;
    }
    size_t bytes = count * H5Tget_size(type);
    uint8_t *buf = fill(in, bytes);
    if (!buf) return -1;
    if (H5Tget_class(type) == H5T_STRING && s->n_strs && bytes) { /* a known value, padded */
        const char *v = s->strs[fuzz_pick(in, (uint32_t)s->n_strs)];
        size_t n = strlen(v) < bytes ? strlen(v) : bytes;
        memset(buf, 0, bytes);
        memcpy(buf, v, n);
    }
    r = is_attr ? H5Awrite(obj, type, buf) : H5Dwrite(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    free(buf);
    return r;
}

static size_t count_of(const hsize_t *dims, int nd) {
    size_t c = 1;
    for (int i = 0; i < nd; i++) {
        if (dims[i] && c > WRITE_CAP / dims[i]) return (size_t)-1;
        c *= dims[i];
    }
    return c;
}

static int add_attr(struct fuzz_in *in, const struct fuzz_h5_spec *s, hid_t file) {
    char name[64];
    int idx, vlen, rc = -1;
    pick_name(in, s->attrs, s->n_attrs, name, sizeof name, &idx);
    if (H5Aexists(file, name) != 0) return 0;
    hid_t type = pick_type(in, &vlen);
    hsize_t n = 1 + fuzz_pick(in, 3);
    hid_t space = fuzz_pick(in, 4) ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    size_t count = H5Sget_simple_extent_npoints(space) > 0 ? (size_t)H5Sget_simple_extent_npoints(space) : 0;
    hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && write_values(in, s, a, 1, type, vlen, count) >= 0) rc = 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

static int add_object(struct fuzz_in *in, const struct fuzz_h5_spec *s, hid_t file, hid_t lcpl) {
    char name[96];
    int idx, vlen, rc = 0;
    pick_name(in, s->names, s->n_names, name, sizeof name, &idx);
    if (fuzz_pick(in, 16) == 0) { /* a group where the reader may expect a dataset */
        hid_t g = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (g >= 0) H5Gclose(g);
        return 0;
    }
    hsize_t dims[4];
    int nd = pick_shape(in, s, idx, dims);
    hid_t type = pick_type(in, &vlen);
    hid_t space = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = space >= 0 ? H5Dcreate2(file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
    size_t count = count_of(dims, nd);
    if (d >= 0 && count != (size_t)-1 && write_values(in, s, d, 0, type, vlen, count) < 0) rc = -1;
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    H5Tclose(type);
    return rc;
}

int fuzz_h5_build(struct fuzz_in *in, const struct fuzz_h5_spec *spec, const char *path) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return -1;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    int rc = 0, n_attrs = (int)fuzz_pick(in, MAX_ATTRS), n_objs = (int)fuzz_pick(in, (uint32_t)spec->max_objects);
    for (int i = 0; i < n_attrs && rc == 0; i++) rc = add_attr(in, spec, file);
    for (int i = 0; i < n_objs && rc == 0; i++) rc = add_object(in, spec, file, lcpl);
    H5Pclose(lcpl);
    if (H5Fclose(file) < 0) rc = -1;
    return rc;
}
