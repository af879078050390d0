/* npy.c: the NumPy .npy reader (hrn_npy.h). Every size comes from the file, so each is checked
 * before it is used: header length, dimensions, their product, and the bytes the file really has.
 * ref: numpy/lib/format.py's description of the format (versions 1.0, 2.0, 3.0). */
#include "hrn_npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct npy_hdr {
    int ndim;
    int64_t shape[HRN_NPY_MAX_DIMS];
    int64_t count;
    char kind;      /* 'f' 'i' 'u' 'b' */
    int size;       /* bytes per value */
    int big_endian;
};

/* --- header ------------------------------------------------------------------------------------ */

/* The 10- or 12-byte preamble: magic, version, header length. *off is where the header starts. */
static enum hrn_status parse_preamble(const unsigned char *p, size_t len, const char *name,
                                      size_t *off, size_t *hl) {
    if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = p[6];
    if (major == 1) {
        *hl = (size_t)p[8] | (size_t)p[9] << 8;
        *off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return hrn_error_set(HRN_ERR_FORMAT, "%s: truncated .npy header", name);
        *hl = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        *off = 12;
    } else {
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy format version %d.%d, expected 1.0, 2.0 or 3.0",
                             name, major, p[7]);
    }
    if (*hl > HRN_NPY_MAX_HEADER)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy header of %zu bytes, more than the %d allowed",
                             name, *hl, HRN_NPY_MAX_HEADER);
    return HRN_OK;
}

/* A cursor over the header text, for error messages that say where and what was expected. */
struct cur {
    const char *s, *p, *end, *name;
};

static void skip_ws(struct cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static enum hrn_status expected(const struct cur *c, const char *what) {
    int at = (int)(c->p - c->s), n = (int)(c->end - c->s);
    return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy header, byte %d: expected %s in \"%.*s\"", c->name,
                         at, what, n > 200 ? 200 : n, c->s);
}

static int accept(struct cur *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string (single or double quotes, no escapes: none of the keys or dtypes has one)
 * copied into buf. */
static enum hrn_status parse_str(struct cur *c, char *buf, size_t cap, const char *what) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return expected(c, what);
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap || *c->p == '\\') return expected(c, what);
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return expected(c, "a closing quote");
    c->p++;
    buf[n] = '\0';
    return HRN_OK;
}

/* '<f8', '|u1', '>i4' ...: byte order, kind, size. */
static enum hrn_status parse_descr(struct cur *c, struct npy_hdr *h) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy structured dtypes are not supported", c->name);
    char d[16];
    enum hrn_status st = parse_str(c, d, sizeof d, "a dtype string such as '<f8'");
    if (st != HRN_OK) return st;
    int ok = strlen(d) == 3 && strchr("<>|=", d[0]) && strchr("fiub", d[1]) && isdigit((unsigned char)d[2]);
    h->kind = d[1];
    h->size = ok ? d[2] - '0' : 0;
    if (ok) {
        if (h->kind == 'f') ok = h->size == 4 || h->size == 8;
        else if (h->kind == 'b') ok = h->size == 1;
        else ok = h->size == 1 || h->size == 2 || h->size == 4 || h->size == 8;
    }
    if (!ok)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy dtype '%s' is not supported (float32/64, "
                             "int/uint 8-64 bits or bool)", c->name, d);
    /* '=' is the writer's native order; every machine hrn builds for is little-endian */
    h->big_endian = d[0] == '>' && h->size > 1;
    return HRN_OK;
}

static enum hrn_status parse_bool(struct cur *c, int *v) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        *v = 1;
        c->p += 4;
    } else if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        *v = 0;
        c->p += 5;
    } else {
        return expected(c, "True or False");
    }
    return HRN_OK;
}

/* One dimension: decimal digits (python 2 numpy added an 'L'), at most HRN_NPY_MAX_COUNT. */
static enum hrn_status parse_dim(struct cur *c, int64_t *d) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '-')
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy shape has a negative dimension", c->name);
    if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return expected(c, "a dimension");
    int64_t v = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
        v = v * 10 + (*c->p++ - '0');
        if (v > HRN_NPY_MAX_COUNT)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy dimension over the limit of %lld values",
                                 c->name, (long long)HRN_NPY_MAX_COUNT);
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    *d = v;
    return HRN_OK;
}

/* (), (n,), (n, m), (n, m,): the dimensions and their product, checked against the limit. */
static enum hrn_status parse_shape(struct cur *c, struct npy_hdr *h) {
    if (!accept(c, '(')) return expected(c, "'(' opening the shape");
    h->ndim = 0;
    h->count = 1;
    while (!accept(c, ')')) {
        if (h->ndim == HRN_NPY_MAX_DIMS)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy shape has more than %d dimensions", c->name,
                                 HRN_NPY_MAX_DIMS);
        int64_t d = 0;
        enum hrn_status st = parse_dim(c, &d);
        if (st != HRN_OK) return st;
        if (d != 0 && h->count > HRN_NPY_MAX_COUNT / d)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy shape holds more than the %lld values allowed",
                                 c->name, (long long)HRN_NPY_MAX_COUNT);
        h->count *= d;
        h->shape[h->ndim++] = d;
        /* Python writes (n,) for one dimension: a comma is required there, optional at the end */
        if (accept(c, ',')) continue;
        if (!accept(c, ')')) return expected(c, "',' or ')' in the shape");
        if (h->ndim == 1) return expected(c, "',' after the only dimension (Python's (n,))");
        break;
    }
    for (int i = h->ndim; i < HRN_NPY_MAX_DIMS; i++) h->shape[i] = 1;
    return HRN_OK;
}

/* {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a newline.
 * Each key exactly once, nothing else. */
static enum hrn_status parse_header(const char *s, size_t n, const char *name, struct npy_hdr *h) {
    struct cur c = {s, s, s + n, name};
    int seen_descr = 0, seen_order = 0, seen_shape = 0, fortran = 0;
    enum hrn_status st;
    if (!accept(&c, '{')) return expected(&c, "'{'");
    while (!accept(&c, '}')) {
        char key[32];
        if ((st = parse_str(&c, key, sizeof key, "a key ('descr', 'fortran_order' or 'shape')")) != HRN_OK)
            return st;
        if (!accept(&c, ':')) return expected(&c, "':'");
        int *seen = !strcmp(key, "descr") ? &seen_descr : !strcmp(key, "fortran_order") ? &seen_order
                  : !strcmp(key, "shape") ? &seen_shape : NULL;
        if (!seen) return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy header has an unknown key '%s'", name, key);
        if (*seen) return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy header repeats the key '%s'", name, key);
        *seen = 1;
        if (seen == &seen_descr) st = parse_descr(&c, h);
        else if (seen == &seen_order) st = parse_bool(&c, &fortran);
        else st = parse_shape(&c, h);
        if (st != HRN_OK) return st;
        if (accept(&c, ',')) continue;
        if (!accept(&c, '}')) return expected(&c, "',' or '}'");
        break;
    }
    skip_ws(&c);
    if (c.p != c.end) return expected(&c, "only spaces after the header's '}'");
    if (!seen_descr || !seen_order || !seen_shape)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy header lacks '%s'", name,
                             !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    if (fortran && h->ndim > 1)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: Fortran-ordered .npy arrays are not supported "
                             "(save with numpy.ascontiguousarray)", name);
    return HRN_OK;
}

/* --- data -------------------------------------------------------------------------------------- */

static double load_one(const unsigned char *p, const struct npy_hdr *h) {
    unsigned char b[8];
    for (int i = 0; i < h->size; i++) b[i] = h->big_endian ? p[h->size - 1 - i] : p[i];
    switch (h->kind) {
    case 'f':
        if (h->size == 4) {
            float f;
            memcpy(&f, b, 4);
            return (double)f;
        } else {
            double d;
            memcpy(&d, b, 8);
            return d;
        }
    case 'b':
        return b[0] != 0;
    case 'u': {
        uint64_t u = 0;
        for (int i = h->size - 1; i >= 0; i--) u = u << 8 | b[i];
        return (double)u;
    }
    default: {  /* 'i': sign-extend from the top byte */
        uint64_t u = 0;
        for (int i = h->size - 1; i >= 0; i--) u = u << 8 | b[i];
        int sh = 64 - 8 * h->size;
        int64_t v = sh ? (int64_t)(u << sh) >> sh : (int64_t)u;
        return (double)v;
    }
    }
}

static void convert(const unsigned char *src, int64_t n, const struct npy_hdr *h, double *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = load_one(src + i * h->size, h);
}

/* Check the data length against the shape, then allocate. */
static enum hrn_status start_out(const struct npy_hdr *h, uint64_t data_bytes, const char *name,
                                 struct hrn_npy *out) {
    uint64_t want = (uint64_t)h->count * (uint64_t)h->size;
    if (data_bytes != want)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: .npy data has %llu bytes, its shape needs %llu (%s)",
                             name, (unsigned long long)data_bytes, (unsigned long long)want,
                             data_bytes < want ? "truncated file" : "trailing bytes");
    out->data = malloc((size_t)(h->count > 0 ? h->count : 1) * sizeof(double));
    if (!out->data)
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory for %lld values", name, (long long)h->count);
    out->ndim = h->ndim;
    memcpy(out->shape, h->shape, sizeof out->shape);
    out->count = h->count;
    out->dtype[0] = h->kind;
    out->dtype[1] = (char)('0' + h->size);
    out->dtype[2] = '\0';
    return HRN_OK;
}

/* --- public ------------------------------------------------------------------------------------ */

void hrn_npy_free(struct hrn_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

enum hrn_status hrn_npy_read_mem(const void *buf, size_t len, const char *name, struct hrn_npy *out) {
    const unsigned char *p = buf;
    struct npy_hdr h = {0};
    size_t off, hl;
    memset(out, 0, sizeof *out);
    enum hrn_status st = parse_preamble(p, len, name, &off, &hl);
    if (st != HRN_OK) return st;
    if (hl > len - off) return hrn_error_set(HRN_ERR_FORMAT, "%s: truncated .npy header", name);
    if ((st = parse_header((const char *)p + off, hl, name, &h)) != HRN_OK) return st;
    if ((st = start_out(&h, len - off - hl, name, out)) != HRN_OK) return st;
    convert(p + off + hl, h.count, &h, out->data);
    return HRN_OK;
}

/* Read the data in blocks so a file is never held twice in memory. */
static enum hrn_status read_data(FILE *f, const struct npy_hdr *h, const char *path, double *dst) {
    unsigned char block[1 << 16];
    int64_t per = (int64_t)sizeof block / h->size;
    for (int64_t i = 0; i < h->count; i += per) {
        int64_t n = h->count - i < per ? h->count - i : per;
        if (fread(block, (size_t)h->size, (size_t)n, f) != (size_t)n)
            return hrn_error_set(HRN_ERR_IO, "%s: read error in the .npy data", path);
        convert(block, n, h, dst + i);
    }
    return HRN_OK;
}

enum hrn_status hrn_npy_read(const char *path, struct hrn_npy *out) {
    enum hrn_status st = HRN_OK;
    struct npy_hdr h = {0};
    unsigned char pre[12];
    char *hdr = NULL;
    struct stat sb;
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = hrn_error_set(HRN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    size_t got = fread(pre, 1, sizeof pre, f);
    size_t off, hl;
    HRN_TRY(parse_preamble(pre, got, path, &off, &hl));
    if (off + hl > size) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: truncated .npy header", path);
        goto fail;
    }
    hdr = malloc(hl + 1);
    if (!hdr) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fseek(f, (long)off, SEEK_SET) != 0 || fread(hdr, 1, hl, f) != hl) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error in the .npy header", path);
        goto fail;
    }
    HRN_TRY(parse_header(hdr, hl, path, &h));
    HRN_TRY(start_out(&h, size - off - hl, path, out));
    HRN_TRY(read_data(f, &h, path, out->data));
    free(hdr);
    fclose(f);
    return HRN_OK;
fail:
    free(hdr);
    fclose(f);
    hrn_npy_free(out);
    return st;
}
