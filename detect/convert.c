/* convert.c: face-api's TF.js weights (a *-weights_manifest.json listing the tensors and one or
 * more .bin shards holding them back to back in manifest order) to hrn's HDF5, dequantised as
 * tfjs's decodeWeights does. */
#include "detect_impl.h"

#include "hrn_h5.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILE_BYTES = 64 << 20, MAX_SHARDS = 16 };

/* The models hrn uses: the HDF5 group, the file stem, whether it must be there. */
static const struct {
    const char *group, *stem;
    int required;
} MODELS[] = {
    {"tiny_face_detector", "tiny_face_detector_model", 1},
    {"face_landmark_68", "face_landmark_68_model", 1},
    {"face_recognition", "face_recognition_model", 0},
};

static enum hrn_status read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum hrn_status st = HRN_OK;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || n > MAX_FILE_BYTES || fseek(f, 0, SEEK_SET) != 0) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: size %ld not in 0..%d bytes", path, n,
                           MAX_FILE_BYTES);
    } else if (!(*data = malloc((size_t)n + 1))) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, n);
    } else if (fread(*data, 1, (size_t)n, f) != (size_t)n) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
    } else {
        (*data)[n] = 0;
        *len = (size_t)n;
    }
    fclose(f);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                      : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* One manifest entry: its element count and storage bytes per element, checked. */
struct wspec {
    const char *name;
    int ndim;
    int64_t shape[HRN_H5_MAX_DIMS], numel;
    int bytes;      /* 1 uint8, 2 uint16/float16, 4 float32 */
    int is_half;
    double scale, min; /* quantised: v = q·scale + min */
};

static enum hrn_status parse_spec(const struct hrn_json *w, const char *what, struct wspec *sp) {
    const struct hrn_json *name = hrn_json_get(w, "name"), *shape = hrn_json_get(w, "shape");
    const struct hrn_json *dtype = hrn_json_get(w, "dtype"), *q = hrn_json_get(w, "quantization");
    if (!name || name->kind != HRN_JSON_STR || !shape || shape->kind != HRN_JSON_ARR || !dtype ||
        dtype->kind != HRN_JSON_STR || shape->n > HRN_H5_MAX_DIMS)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: a weight without name, shape or dtype", what);
    memset(sp, 0, sizeof *sp);
    sp->name = name->str;
    sp->numel = 1;
    for (const struct hrn_json *d = shape->first; d; d = d->next) {
        if (d->kind != HRN_JSON_NUM || d->num < 1 || d->num > 1e8)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: %s: bad shape", what, sp->name);
        sp->shape[sp->ndim++] = (int64_t)d->num;
        sp->numel *= (int64_t)d->num;
    }
    if (strcmp(dtype->str, "float32") != 0)
        return hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: %s: dtype %s (only float32 weights)", what,
                             sp->name, dtype->str);
    sp->bytes = 4;
    if (!q) return HRN_OK;
    const struct hrn_json *qd = hrn_json_get(q, "dtype"), *sc = hrn_json_get(q, "scale"),
                          *mn = hrn_json_get(q, "min");
    if (!qd || qd->kind != HRN_JSON_STR)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s: quantization without dtype", what, sp->name);
    sp->is_half = !strcmp(qd->str, "float16");
    sp->bytes = !strcmp(qd->str, "uint8") ? 1 : 2;
    if (!sp->is_half && strcmp(qd->str, "uint8") && strcmp(qd->str, "uint16"))
        return hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: %s: quantization dtype %s", what, sp->name,
                             qd->str);
    if (!sp->is_half) {
        if (!sc || !mn || sc->kind != HRN_JSON_NUM || mn->kind != HRN_JSON_NUM)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: %s: quantization without scale and min",
                                 what, sp->name);
        sp->scale = sc->num;
        sp->min = mn->num;
    }
    return HRN_OK;
}

/* Decode one tensor from its bytes: tfjs computes q·scale + min in double, stores float32. */
static void decode(const struct wspec *sp, const unsigned char *src, float *dst) {
    for (int64_t i = 0; i < sp->numel; i++) {
        if (sp->bytes == 4) {
            memcpy(&dst[i], src + 4 * i, 4); /* little-endian hosts only (x86-64, arm64) */
        } else if (sp->is_half) {
            dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        } else {
            double q = sp->bytes == 1 ? src[i] : (double)(src[2 * i] | src[2 * i + 1] << 8);
            dst[i] = (float)(q * sp->scale + sp->min);
        }
    }
}

/* The shards of one group, concatenated. */
static enum hrn_status read_shards(const char *dir, const struct hrn_json *paths,
                                   const char *what, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (!paths || paths->kind != HRN_JSON_ARR || paths->n < 1 || paths->n > MAX_SHARDS)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: a group without paths", what);
    for (const struct hrn_json *p = paths->first; p; p = p->next) {
        char path[4096], *part = NULL;
        size_t n = 0;
        if (p->kind != HRN_JSON_STR || strchr(p->str, '/'))
            return hrn_error_set(HRN_ERR_FORMAT, "%s: a shard path must be a file name", what);
        snprintf(path, sizeof path, "%s/%s", dir, p->str);
        enum hrn_status st = read_file(path, &part, &n);
        char *grown = st ? NULL : realloc(*data, *len + n + 1);
        if (!st && !grown) st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
        if (st) {
            free(part);
            free(*data);
            *data = NULL;
            return st;
        }
        memcpy(grown + *len, part, n);
        free(part);
        *data = grown;
        *len += n;
    }
    return HRN_OK;
}

/* Every weight of one manifest group, written as "<group>/<name>". */
static enum hrn_status convert_group(struct hrn_h5 *f, const char *dir, const char *group,
                                     const struct hrn_json *g, const char *what) {
    char *bin = NULL;
    size_t len = 0, off = 0;
    enum hrn_status st = read_shards(dir, hrn_json_get(g, "paths"), what, &bin, &len);
    const struct hrn_json *ws = hrn_json_get(g, "weights");
    if (!st && (!ws || ws->kind != HRN_JSON_ARR))
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: a group without weights", what);
    for (const struct hrn_json *w = ws ? ws->first : NULL; !st && w; w = w->next) {
        struct wspec sp;
        if ((st = parse_spec(w, what, &sp))) break;
        size_t bytes = (size_t)sp.numel * (size_t)sp.bytes;
        if (off + bytes > len) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: %s needs bytes %zu..%zu, the shards hold %zu",
                               what, sp.name, off, off + bytes, len);
            break;
        }
        float *v = malloc((size_t)sp.numel * sizeof *v);
        if (!v) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: %s: out of memory", what, sp.name);
            break;
        }
        decode(&sp, (const unsigned char *)bin + off, v);
        off += bytes;
        char name[512];
        snprintf(name, sizeof name, "%s/%s", group, sp.name);
        st = hrn_h5_write_f32(f, name, sp.ndim, sp.shape, v);
        free(v);
    }
    if (!st && off != len)
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: the weights take %zu bytes, the shards hold %zu",
                           what, off, len);
    free(bin);
    return st;
}

static enum hrn_status convert_model(struct hrn_h5 *f, const char *dir, int i, int *done) {
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s-weights_manifest.json", dir, MODELS[i].stem);
    *done = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe && !MODELS[i].required) return HRN_OK;
    if (probe) fclose(probe);
    enum hrn_status st = read_file(path, &text, &len);
    struct hrn_json *m = NULL;
    if (!st) st = hrn_json_parse(text, len, path, &m);
    if (!st && m->kind != HRN_JSON_ARR)
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: expected an array of weight groups", path);
    for (const struct hrn_json *g = m ? m->first : NULL; !st && g; g = g->next)
        st = convert_group(f, dir, MODELS[i].group, g, path);
    hrn_json_free(m);
    free(text);
    *done = st == HRN_OK;
    return st;
}

enum hrn_status hrn_faceapi_convert(const char *model_dir, const char *out_h5) {
    struct hrn_h5 *f = NULL;
    enum hrn_status st = hrn_h5_create(out_h5, &f);
    if (st) return st;
    char models[256] = "";
    for (size_t i = 0; !st && i < sizeof MODELS / sizeof MODELS[0]; i++) {
        int done = 0;
        st = convert_model(f, model_dir, (int)i, &done);
        if (done) {
            strcat(models, models[0] ? " " : "");
            strcat(models, MODELS[i].group);
        }
    }
    if (!st) st = hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-faceapi");
    if (!st) st = hrn_h5_attr_write_i64(f, "/", "hrn_format_version", 1);
    if (!st) st = hrn_h5_attr_write_str(f, "/", "models", models);
    if (!st)
        st = hrn_h5_attr_write_str(f, "/", "source",
                                   "npm @vladmandic/face-api 1.7.15, model/ (MIT licence; "
                                   "LICENSE beside the converted file)");
    if (!st) return hrn_h5_commit(f);
    hrn_h5_close(f);
    return st;
}
