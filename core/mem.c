/* mem.c: arena, tensor headers, random generator. */
#include "hrn_mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- arena ------------------------------------------------------------------------------------ */

enum hrn_status hrn_arena_init(struct hrn_arena *a, size_t bytes) {
    memset(a, 0, sizeof *a);
    size_t cap = (bytes + HRN_ARENA_ALIGN - 1) / HRN_ARENA_ALIGN * HRN_ARENA_ALIGN;
    if (cap == 0) cap = HRN_ARENA_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, HRN_ARENA_ALIGN, cap) != 0 || !p)
        return hrn_error_set(HRN_ERR_NOMEM, "arena: cannot allocate %zu bytes", cap);
    a->base = p;
    a->cap = cap;
    return HRN_OK;
}

void hrn_arena_free(struct hrn_arena *a) {
    if (!a) return;
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *hrn_arena_alloc(struct hrn_arena *a, size_t bytes, size_t align) {
    if (align == 0) align = HRN_ARENA_ALIGN;
    HRN_ASSERT((align & (align - 1)) == 0);
    HRN_ASSERT(align <= HRN_ARENA_ALIGN); /* the base is only this aligned */
    size_t off = (a->used + align - 1) & ~(align - 1);
    if (off > a->cap || bytes > a->cap - off) {
        hrn_error_set(HRN_ERR_NOMEM, "arena: needed %zu bytes, available %zu of %zu", bytes,
                      off <= a->cap ? a->cap - off : 0, a->cap);
        return NULL;
    }
    a->used = off + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return a->base + off;
}

void *hrn_arena_calloc(struct hrn_arena *a, size_t bytes, size_t align) {
    void *p = hrn_arena_alloc(a, bytes, align);
    if (p) memset(p, 0, bytes);
    return p;
}

size_t hrn_arena_mark(const struct hrn_arena *a) { return a->used; }

void hrn_arena_rewind(struct hrn_arena *a, size_t mark) {
    HRN_ASSERT(mark <= a->used);
    a->used = mark;
}

void hrn_arena_reset(struct hrn_arena *a) { a->used = 0; }
size_t hrn_arena_peak(const struct hrn_arena *a) { return a->peak; }
size_t hrn_arena_used(const struct hrn_arena *a) { return a->used; }

/* --- tensor ----------------------------------------------------------------------------------- */

int64_t hrn_shape_numel(int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > HRN_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return -1;
        if (n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

static enum hrn_status check_shape(int ndim, const int64_t *shape, const char *name) {
    if (ndim < 1 || ndim > HRN_MAX_DIMS)
        return hrn_error_set(HRN_ERR_INVALID, "tensor '%s': %d dimensions, expected 1 to %d",
                             name ? name : "", ndim, HRN_MAX_DIMS);
    if (hrn_shape_numel(ndim, shape) < 0)
        return hrn_error_set(HRN_ERR_INVALID, "tensor '%s': every dimension must be >= 1",
                             name ? name : "");
    return HRN_OK;
}

static void fill_header(struct hrn_tensor *t, float *data, int ndim, const int64_t *shape,
                        const char *name) {
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < HRN_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->numel = hrn_shape_numel(ndim, shape);
    t->data = data;
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
}

struct hrn_tensor *hrn_tensor_new(struct hrn_arena *a, int ndim, const int64_t *shape,
                                  const char *name) {
    if (check_shape(ndim, shape, name) != HRN_OK) return NULL;
    int64_t n = hrn_shape_numel(ndim, shape);
    if ((uint64_t)n > SIZE_MAX / sizeof(float)) {
        hrn_error_set(HRN_ERR_NOMEM, "tensor '%s': %lld elements do not fit in memory",
                      name ? name : "", (long long)n);
        return NULL;
    }
    struct hrn_tensor *t = hrn_arena_alloc(a, sizeof *t, 0);
    if (!t) return NULL;
    float *d = hrn_arena_calloc(a, (size_t)n * sizeof(float), 0);
    if (!d) return NULL;
    fill_header(t, d, ndim, shape, name);
    return t;
}

enum hrn_status hrn_tensor_wrap(struct hrn_tensor *t, float *data, int ndim, const int64_t *shape,
                                const char *name) {
    enum hrn_status st = check_shape(ndim, shape, name);
    if (st != HRN_OK) return st;
    fill_header(t, data, ndim, shape, name);
    return HRN_OK;
}

int hrn_tensor_same_shape(const struct hrn_tensor *a, const struct hrn_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *hrn_tensor_shape_str(const struct hrn_tensor *t, char *buf, size_t cap) {
    size_t k = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, cap - k, "(");
    for (int i = 0; i < t->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

/* --- rng -------------------------------------------------------------------------------------- */
/* ref: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (xoshiro256**),
 * and Steele et al.'s splitmix64 for seeding. */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void hrn_rng_seed(struct hrn_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

void hrn_rng_seed_keyed(struct hrn_rng *r, uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3) {
    /* each key word goes through a full splitmix64 round before the next is mixed in, so
     * (1,2,3) and (2,1,3) differ */
    uint64_t x = seed, k[3] = {k1, k2, k3};
    uint64_t h = splitmix64(&x);
    for (int i = 0; i < 3; i++) {
        x = h ^ (k[i] + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
        h = splitmix64(&x);
    }
    hrn_rng_seed(r, h);
}

uint64_t hrn_rng_u64(struct hrn_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t hrn_rng_below(struct hrn_rng *r, uint64_t n) {
    HRN_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete last bucket */
    uint64_t x;
    do x = hrn_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double hrn_rng_uniform(struct hrn_rng *r) { return (double)(hrn_rng_u64(r) >> 11) * 0x1.0p-53; }
float hrn_rng_uniformf(struct hrn_rng *r) { return (float)(hrn_rng_u64(r) >> 40) * 0x1.0p-24f; }

double hrn_rng_normal(struct hrn_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * hrn_rng_uniform(r) - 1.0;
        v = 2.0 * hrn_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

void hrn_rng_fill_uniform(struct hrn_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * hrn_rng_uniformf(r);
}

void hrn_rng_fill_normal(struct hrn_rng *r, float *x, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)mean + (double)std * hrn_rng_normal(r));
}
