/* face_basis.c: the differentiable basis products S = mean + B c of hrn_face_shape_op and
 * hrn_face_albedo_op, and the compact float16 copy of the bases they read.
 *
 * Why a compact copy: at BFM size the identity+expression basis is 107127 x 144 and the albedo
 * basis 107127 x 80 floats (95 MB). A fitting step reads both forward (B c) and backward (B^T g),
 * about 190 MB, and these products are memory-bound (~29 GB/s per core here), so they were half
 * of a photometric iteration. Float16 halves the bytes; the conversion (vcvtph2ps) is free next to
 * the memory traffic.
 *
 * Layout of the copy (one "group" per op: shape = id|exp side by side, albedo = tex): the rows are
 * cut into tiles of 32; a tile stores its k columns one after another, each column's 32 rows as
 * 32 halves = one 64-byte cache line. So the forward of a tile keeps its 32 outputs in two
 * AVX-512 registers while it streams k lines, and the backward multiplies each line by the same
 * 32 gradient values and adds into a per-thread (k,16) accumulator that stays in L1. Column j is
 * stored as B[:,j] / s_j with s_j a power of two (|B/s| < 2^15, exact to scale), so small
 * columns keep float16's full 11-bit precision; s_j is folded into the coefficient forward and
 * into the gradient backward. The float32 arrays of the model stay the reference for everything
 * else (files, exports, the plain hrn_face_shape).
 */
#include "hrn_model.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum {
    TILE = 32,        /* rows per tile: one cache line of halves per column */
    KMAX = 512,       /* most columns of one group */
    CHUNK = 16,       /* tiles per work item (512 rows): the float partial sums are flushed */
    PAR_TILES = 128,  /* fewer tiles than this stay on one thread */
    /* software prefetch distance in 32-byte units: 4 KB ahead. The hardware prefetchers stop at
     * 4 KB pages; inside a fitting step (other data in the caches between the passes) this took
     * one thread's basis pass from ~1.6 to ~1.0 ms per op */
    PF = 128,
};

struct basis16 {
    int built;             /* made from the sources with this stamp (usable or not) */
    int ok;                /* usable (finite values, k <= KMAX) */
    int64_t n, n_tiles;    /* rows (3N) and tiles */
    int32_t k;             /* columns */
    uint16_t *h;           /* (n_tiles, k, TILE) halves, 64-byte aligned */
    float *scale;          /* (k) s_j */
    uint64_t stamp;        /* fingerprint of the float32 arrays it was made from */
};

struct hrn_basis_cache {
    struct basis16 g[2]; /* 0 = shape (id|exp), 1 = albedo (tex) */
};

/* --- which kernels --------------------------------------------------------------------------- */

enum kern { KERN_F32 = 0, KERN_AVX2, KERN_AVX512 };

static enum hrn_basis_store g_store = HRN_BASIS_AUTO;

static int cpu_avx2_f16c(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}

static int cpu_avx512(void) { return __builtin_cpu_supports("avx512f") && cpu_avx2_f16c(); }

/* HRN_BASIS=f32|f16|f16-avx2 in the environment replaces AUTO (A/B runs of whole tools). */
static enum hrn_basis_store env_store(void) {
    static int done;
    static enum hrn_basis_store s = HRN_BASIS_AUTO;
    if (!done) {
        const char *e = getenv("HRN_BASIS");
        if (e && !strcmp(e, "f32")) s = HRN_BASIS_F32;
        else if (e && !strcmp(e, "f16")) s = HRN_BASIS_F16;
        else if (e && !strcmp(e, "f16-avx2")) s = HRN_BASIS_F16_AVX2;
        else if (e && *e) hrn_log(HRN_LOG_WARN, "HRN_BASIS=%s: expected f32, f16 or f16-avx2; "
                                  "ignored", e);
        done = 1;
    }
    return s;
}

static enum kern kernels(void) {
    switch (g_store == HRN_BASIS_AUTO ? env_store() : g_store) {
    case HRN_BASIS_F32: return KERN_F32;
    case HRN_BASIS_F16_AVX2: return cpu_avx2_f16c() ? KERN_AVX2 : KERN_F32;
    default: return cpu_avx512() ? KERN_AVX512 : cpu_avx2_f16c() ? KERN_AVX2 : KERN_F32;
    }
}

enum hrn_status hrn_basis_store_set(enum hrn_basis_store s) {
    if ((unsigned)s > HRN_BASIS_F16_AVX2)
        return hrn_error_set(HRN_ERR_INVALID, "basis store: unknown choice %d", (int)s);
    if ((s == HRN_BASIS_F16 && !cpu_avx2_f16c()) || (s == HRN_BASIS_F16_AVX2 && !cpu_avx2_f16c()))
        return hrn_error_set(HRN_ERR_UNSUPPORTED, "basis store: float16 bases need a CPU with "
                             "AVX2, FMA and F16C; this one has not");
    g_store = s;
    return HRN_OK;
}

enum hrn_basis_store hrn_basis_store_active(void) {
    switch (kernels()) {
    case KERN_AVX512: return HRN_BASIS_F16;
    case KERN_AVX2: return HRN_BASIS_F16_AVX2;
    default: return HRN_BASIS_F32;
    }
}

/* --- building the copy ----------------------------------------------------------------------- */

/* A group's columns: the first k0 from a (n, k0), the rest from b (n, k1). */
struct src2 {
    const float *a, *b;
    int32_t k0, k1;
};

static inline float src_at(const struct src2 *s, int64_t i, int32_t j) {
    return j < s->k0 ? s->a[i * s->k0 + j] : s->b[i * s->k1 + (j - s->k0)];
}

/* The pointers, sizes and 64 sampled values: an in-place edit of the float32 arrays (such as
 * hrn_fit_normalize_model's rescale) changes it and the copy is rebuilt on the next use. */
static uint64_t stamp_of(const struct src2 *s, int64_t n) {
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    MIX((uintptr_t)s->a);
    MIX((uintptr_t)s->b);
    MIX(s->k0);
    MIX(s->k1);
    MIX(n);
    int32_t k = s->k0 + s->k1;
    int64_t total = n * k;
    for (int q = 0; q < 64 && total > 0; q++) {
        int64_t e = (int64_t)((double)q / 63.0 * (double)(total - 1));
        float v = src_at(s, e / k, (int32_t)(e % k));
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        MIX(bits);
    }
#undef MIX
    return h;
}

__attribute__((target("avx2,f16c"))) static void to_half8(const float *in, uint16_t *out) {
    __m128i hv = _mm256_cvtps_ph(_mm256_loadu_ps(in), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128((__m128i *)out, hv);
}

static void basis16_free(struct basis16 *b) {
    free(b->h);
    free(b->scale);
    memset(b, 0, sizeof *b);
}

/* Convert one group; b->ok stays 0 (float32 is used) when a value is not finite. */
static enum hrn_status basis16_build(struct basis16 *b, const struct src2 *s, int64_t n) {
    basis16_free(b);
    int32_t k = s->k0 + s->k1;
    b->n = n;
    b->k = k;
    b->stamp = stamp_of(s, n);
    b->built = 1;
    if (k < 1 || k > KMAX || n < 1) return HRN_OK;
    b->n_tiles = (n + TILE - 1) / TILE;
    size_t bytes = (size_t)b->n_tiles * (size_t)k * TILE * sizeof(uint16_t);
    void *mem = NULL;
    b->scale = malloc((size_t)k * sizeof(float));
    float *mx = calloc((size_t)k, sizeof(float));
    if (!b->scale || !mx || posix_memalign(&mem, 64, bytes) != 0) {
        free(mx);
        free(mem);
        basis16_free(b);
        return hrn_error_set(HRN_ERR_NOMEM, "face basis: no memory for a %lld x %d float16 copy",
                             (long long)n, k);
    }
    b->h = mem;
    int finite = 1;
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < k; j++) {
            float v = fabsf(src_at(s, i, j));
            finite &= isfinite(v);
            mx[j] = v > mx[j] ? v : mx[j];
        }
    if (!finite) { /* let float32 propagate the NaN/Inf as the products always did */
        uint64_t stamp = b->stamp;
        free(mx);
        basis16_free(b);
        b->stamp = stamp;
        b->built = 1;
        return HRN_OK;
    }
    for (int32_t j = 0; j < k; j++) {
        int e = 0;
        if (mx[j] > 0) frexpf(mx[j], &e); /* mx < 2^e */
        b->scale[j] = mx[j] > 0 ? ldexpf(1.0f, e - 15) : 1.0f;
    }
    free(mx);
#pragma omp parallel for schedule(static) if (b->n_tiles > PAR_TILES)
    for (int64_t t = 0; t < b->n_tiles; t++) {
        uint16_t *tile = b->h + t * k * TILE;
        for (int32_t j = 0; j < k; j++) {
            float col[TILE];
            float inv = 1.0f / b->scale[j]; /* a power of two: exact */
            for (int r = 0; r < TILE; r++) {
                int64_t i = t * TILE + r;
                col[r] = i < n ? src_at(s, i, j) * inv : 0.0f;
            }
            for (int r = 0; r < TILE; r += 8) to_half8(col + r, tile + j * TILE + r);
        }
    }
    b->ok = 1;
    return HRN_OK;
}

/* The two groups' float32 sources. */
static void group_src(const struct hrn_face_model *fm, int albedo, struct src2 *s) {
    memset(s, 0, sizeof *s);
    if (albedo) {
        if (fm->mean_albedo && fm->tex_basis && fm->n_tex > 0) {
            s->a = fm->tex_basis;
            s->k0 = fm->n_tex;
        }
        return;
    }
    if (fm->id_basis && fm->n_id > 0) {
        s->a = fm->id_basis;
        s->k0 = fm->n_id;
    }
    if (fm->exp_basis && fm->n_exp > 0) {
        if (s->a) {
            s->b = fm->exp_basis;
            s->k1 = fm->n_exp;
        } else { /* only expressions: a model without identity basis */
            s->a = fm->exp_basis;
            s->k0 = fm->n_exp;
        }
    }
}

/* The float16 group for an op, built or rebuilt when needed; NULL means use float32. The cache
 * hangs off the model (a const model in the ops' signatures: it is a cache, invisible in the
 * results' meaning); building is serialized for models shared between threads. */
static const struct basis16 *group16(const struct hrn_face_model *fm, int albedo,
                                     enum hrn_status *st) {
    *st = HRN_OK;
    struct src2 s;
    group_src(fm, albedo, &s);
    if (!s.a || kernels() == KERN_F32) return NULL;
    int64_t n = 3 * fm->n_verts;
    uint64_t want = stamp_of(&s, n);
    const struct basis16 *out = NULL;
#pragma omp critical(hrn_face_basis_cache)
    {
        struct hrn_face_model *m = (struct hrn_face_model *)fm;
        if (!m->basis_cache) m->basis_cache = calloc(1, sizeof *m->basis_cache);
        if (!m->basis_cache) {
            *st = hrn_error_set(HRN_ERR_NOMEM, "face basis: no memory");
        } else {
            struct basis16 *b = &m->basis_cache->g[albedo];
            if (!b->built || b->stamp != want)
                *st = basis16_build(b, &s, n);
            if (*st == HRN_OK && b->ok) out = b;
        }
    }
    return out;
}

enum hrn_status hrn_face_model_compact(const struct hrn_face_model *fm) {
    enum hrn_status st = HRN_OK;
    for (int a = 0; a < 2 && st == HRN_OK; a++) group16(fm, a, &st);
    return st;
}

void hrn_face_model_drop_compact(struct hrn_face_model *fm) {
    if (!fm || !fm->basis_cache) return;
    for (int a = 0; a < 2; a++) basis16_free(&fm->basis_cache->g[a]);
    free(fm->basis_cache);
    fm->basis_cache = NULL;
}

size_t hrn_face_model_compact_bytes(const struct hrn_face_model *fm) {
    size_t s = 0;
    if (fm && fm->basis_cache)
        for (int a = 0; a < 2; a++) {
            const struct basis16 *b = &fm->basis_cache->g[a];
            if (b->ok) s += (size_t)b->n_tiles * (size_t)b->k * TILE * sizeof(uint16_t);
        }
    return s;
}

/* --- float16 kernels ------------------------------------------------------------------------- */

/* out rows [32 t0, 32 t1) = base + H xs, base = mean or the constant fill */
__attribute__((target("avx512f"))) static void fwd_avx512(const struct basis16 *b, int64_t t0,
                                                          int64_t t1, const float *xs,
                                                          const float *mean, float fill,
                                                          float *out) {
    int32_t k = b->k;
    for (int64_t t = t0; t < t1; t++) {
        const __m256i *q = (const __m256i *)(b->h + t * k * TILE);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int32_t j = 0;
        for (; j + 2 <= k; j += 2, q += 4) {
            _mm_prefetch((const char *)(q + PF), _MM_HINT_T0);
            _mm_prefetch((const char *)(q + PF + 2), _MM_HINT_T0);
            __m512 x0 = _mm512_set1_ps(xs[j]), x1 = _mm512_set1_ps(xs[j + 1]);
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q)), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q + 1)), x0, a1);
            a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q + 2)), x1, a2);
            a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q + 3)), x1, a3);
        }
        if (j < k) {
            __m512 x0 = _mm512_set1_ps(xs[j]);
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q)), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q + 1)), x0, a1);
        }
        a0 = _mm512_add_ps(a0, a2);
        a1 = _mm512_add_ps(a1, a3);
        int64_t r0 = t * TILE, left = b->n - r0;
        __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512 c0 = mean ? _mm512_maskz_loadu_ps(m0, mean + r0) : _mm512_set1_ps(fill);
        __m512 c1 = mean ? _mm512_maskz_loadu_ps(m1, mean + r0 + 16) : _mm512_set1_ps(fill);
        _mm512_mask_storeu_ps(out + r0, m0, _mm512_add_ps(c0, a0));
        _mm512_mask_storeu_ps(out + r0 + 16, m1, _mm512_add_ps(c1, a1));
    }
}

/* acc (k,16) in double += H^T g over tiles [t0, t1) (at most CHUNK): float partial sums per
 * chunk, then added to the double accumulator */
__attribute__((target("avx512f"))) static void bwd_avx512(const struct basis16 *b, int64_t t0,
                                                          int64_t t1, const float *g,
                                                          float *accf, double *accd) {
    int32_t k = b->k;
    for (int32_t j = 0; j < k; j++) _mm512_store_ps(accf + 16 * j, _mm512_setzero_ps());
    for (int64_t t = t0; t < t1; t++) {
        const __m256i *q = (const __m256i *)(b->h + t * k * TILE);
        int64_t r0 = t * TILE, left = b->n - r0;
        __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512 g0 = _mm512_maskz_loadu_ps(m0, g + r0), g1 = _mm512_maskz_loadu_ps(m1, g + r0 + 16);
        for (int32_t j = 0; j < k; j++, q += 2) {
            _mm_prefetch((const char *)(q + PF), _MM_HINT_T0);
            __m512 a = _mm512_load_ps(accf + 16 * j);
            a = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q)), g0, a);
            a = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_load_si256(q + 1)), g1, a);
            _mm512_store_ps(accf + 16 * j, a);
        }
    }
    for (int32_t j = 0; j < k; j++) {
        __m512 a = _mm512_load_ps(accf + 16 * j);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        _mm512_store_pd(accd + 16 * j, _mm512_add_pd(_mm512_load_pd(accd + 16 * j), lo));
        _mm512_store_pd(accd + 16 * j + 8, _mm512_add_pd(_mm512_load_pd(accd + 16 * j + 8), hi));
    }
}

/* The same with 8-lane AVX2 registers: a tile is four of them. */
__attribute__((target("avx2,fma,f16c"))) static void fwd_avx2(const struct basis16 *b, int64_t t0,
                                                             int64_t t1, const float *xs,
                                                             const float *mean, float fill,
                                                             float *out) {
    int32_t k = b->k;
    for (int64_t t = t0; t < t1; t++) {
        const __m128i *q = (const __m128i *)(b->h + t * k * TILE);
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = 0; j < k; j++, q += 4) {
            _mm_prefetch((const char *)(q + 2 * PF), _MM_HINT_T0);
            __m256 x = _mm256_set1_ps(xs[j]);
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q)), x, a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 1)), x, a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 2)), x, a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 3)), x, a3);
        }
        float res[TILE];
        _mm256_storeu_ps(res, a0);
        _mm256_storeu_ps(res + 8, a1);
        _mm256_storeu_ps(res + 16, a2);
        _mm256_storeu_ps(res + 24, a3);
        int64_t r0 = t * TILE, m = b->n - r0 < TILE ? b->n - r0 : TILE;
        for (int64_t r = 0; r < m; r++) out[r0 + r] = (mean ? mean[r0 + r] : fill) + res[r];
    }
}

__attribute__((target("avx2,fma,f16c"))) static void bwd_avx2(const struct basis16 *b, int64_t t0,
                                                             int64_t t1, const float *g,
                                                             float *accf, double *accd) {
    int32_t k = b->k;
    for (int32_t j = 0; j < k; j++) _mm256_store_ps(accf + 8 * j, _mm256_setzero_ps());
    for (int64_t t = t0; t < t1; t++) {
        const __m128i *q = (const __m128i *)(b->h + t * k * TILE);
        int64_t r0 = t * TILE, m = b->n - r0 < TILE ? b->n - r0 : TILE;
        float gt[TILE] = {0};
        memcpy(gt, g + r0, (size_t)m * sizeof(float));
        __m256 g0 = _mm256_loadu_ps(gt), g1 = _mm256_loadu_ps(gt + 8);
        __m256 g2 = _mm256_loadu_ps(gt + 16), g3 = _mm256_loadu_ps(gt + 24);
        for (int32_t j = 0; j < k; j++, q += 4) {
            _mm_prefetch((const char *)(q + 2 * PF), _MM_HINT_T0);
            __m256 a = _mm256_load_ps(accf + 8 * j);
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q)), g0, a);
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 1)), g1, a);
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 2)), g2, a);
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_load_si128(q + 3)), g3, a);
            _mm256_store_ps(accf + 8 * j, a);
        }
    }
    for (int32_t j = 0; j < k; j++) {
        __m256 a = _mm256_load_ps(accf + 8 * j);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(a));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        _mm256_store_pd(accd + 8 * j, _mm256_add_pd(_mm256_load_pd(accd + 8 * j), lo));
        _mm256_store_pd(accd + 8 * j + 8 * (size_t)k, /* second half after the first k*8 */
                        _mm256_add_pd(_mm256_load_pd(accd + 8 * j + 8 * (size_t)k), hi));
    }
}

/* out (n) = base + B x, x the group's k coefficients */
static void f16_forward(const struct basis16 *b, enum kern kn, const float *x, const float *mean,
                        float fill, float *out) {
    float xs[KMAX];
    for (int32_t j = 0; j < b->k; j++) xs[j] = x[j] * b->scale[j];
    int64_t nch = (b->n_tiles + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (b->n_tiles > PAR_TILES)
    for (int64_t c = 0; c < nch; c++) {
        int64_t t0 = c * CHUNK, t1 = t0 + CHUNK < b->n_tiles ? t0 + CHUNK : b->n_tiles;
        if (kn == KERN_AVX512) fwd_avx512(b, t0, t1, xs, mean, fill, out);
        else fwd_avx2(b, t0, t1, xs, mean, fill, out);
    }
}

/* gc (k) += B^T g: each thread sums its chunks in (k,16) doubles; the threads' totals are added
 * in thread order (deterministic for a given thread count). */
static enum hrn_status f16_backward(struct hrn_tape *t, const struct basis16 *b, enum kern kn,
                                    const float *g, float *gc) {
    int32_t k = b->k;
    int nt = b->n_tiles > PAR_TILES ? omp_get_max_threads() : 1;
    size_t per = (size_t)k * 16; /* floats of one accumulator */
    float *accf = hrn_tape_alloc(t, (size_t)nt * per * sizeof(float));
    double *accd = hrn_tape_alloc(t, (size_t)nt * per * sizeof(double));
    double *part = hrn_tape_alloc(t, (size_t)nt * (size_t)k * sizeof(double));
    if (!accf || !accd || !part) return HRN_ERR_NOMEM;
    memset(accd, 0, (size_t)nt * per * sizeof(double));
    memset(part, 0, (size_t)nt * (size_t)k * sizeof(double));
    int64_t nch = (b->n_tiles + CHUNK - 1) / CHUNK;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int id = omp_get_thread_num();
        float *af = accf + (size_t)id * per;
        double *ad = accd + (size_t)id * per;
#pragma omp for schedule(static)
        for (int64_t c = 0; c < nch; c++) {
            int64_t t0 = c * CHUNK, t1 = t0 + CHUNK < b->n_tiles ? t0 + CHUNK : b->n_tiles;
            if (kn == KERN_AVX512) bwd_avx512(b, t0, t1, g, af, ad);
            else bwd_avx2(b, t0, t1, g, af, ad);
        }
        double *p = part + (size_t)id * (size_t)k;
        for (int32_t j = 0; j < k; j++) {
            double s = 0;
            if (kn == KERN_AVX512)
                for (int l = 0; l < 16; l++) s += ad[16 * j + l];
            else
                for (int l = 0; l < 8; l++) s += ad[8 * j + l] + ad[8 * (size_t)k + 8 * j + l];
            p[j] = s;
        }
    }
    for (int32_t j = 0; j < k; j++) {
        double s = 0;
        for (int i = 0; i < nt; i++) s += part[(size_t)i * (size_t)k + j];
        gc[j] += (float)(s * (double)b->scale[j]);
    }
    return HRN_OK;
}

/* --- float32 kernels (the reference, and CPUs without F16C) ---------------------------------- */

/* gc (k) += B^T g for B (n, k) row-major: one streaming pass over the basis, rows split over the
 * threads. Each thread sums rows in blocks of 512 in float (an axpy per row that vectorises over
 * k), then the blocks and threads in double; OpenBLAS's sgemv_t reached about half the memory
 * bandwidth on 2 threads here. */
static void gemv_t(const float *B, const float *g, int64_t n, int32_t k, float *gc) {
    enum { BLK = 512 };
    double tot[KMAX] = {0};
    HRN_ASSERT(k <= KMAX);
#pragma omp parallel if (n > 8 * BLK)
    {
        double acc[KMAX] = {0};
        float blk[KMAX];
#pragma omp for schedule(static)
        for (int64_t b0 = 0; b0 < n; b0 += BLK) {
            int64_t b1 = b0 + BLK < n ? b0 + BLK : n;
            for (int32_t j = 0; j < k; j++) blk[j] = 0;
            int64_t i = b0;
            for (; i + 4 <= b1; i += 4) { /* four rows per pass over blk */
                const float *r0 = B + i * k, *r1 = r0 + k, *r2 = r1 + k, *r3 = r2 + k;
                float g0 = g[i], g1 = g[i + 1], g2 = g[i + 2], g3 = g[i + 3];
#pragma omp simd
                for (int32_t j = 0; j < k; j++)
                    blk[j] += r0[j] * g0 + r1[j] * g1 + r2[j] * g2 + r3[j] * g3;
            }
            for (; i < b1; i++) {
                const float *row = B + i * k;
                float gi = g[i];
#pragma omp simd
                for (int32_t j = 0; j < k; j++) blk[j] += row[j] * gi;
            }
            for (int32_t j = 0; j < k; j++) acc[j] += (double)blk[j];
        }
#pragma omp critical
        for (int32_t j = 0; j < k; j++) tot[j] += acc[j];
    }
    for (int32_t j = 0; j < k; j++) gc[j] += (float)tot[j];
}

/* --- the op ---------------------------------------------------------------------------------- */

struct basis_ctx {
    const float *mean;           /* (3N) or NULL (constant fill) */
    float fill;
    struct src2 s;               /* float32 columns: k0 from s.a, k1 from s.b */
    int64_t off;                 /* offset of the group's first coefficient */
    int64_t n3;
    const struct basis16 *h;     /* the float16 copy, or NULL */
    enum kern kn;
};

static enum hrn_status basis_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct basis_ctx *c = hrn_custom_ctx(out);
    const float *x = out->src[0]->data + c->off;
    if (c->h) {
        f16_forward(c->h, c->kn, x, c->mean, c->fill, out->data);
        return HRN_OK;
    }
    if (c->mean)
        memcpy(out->data, c->mean, (size_t)c->n3 * sizeof(float));
    else
        for (int64_t i = 0; i < c->n3; i++) out->data[i] = c->fill;
    if (c->s.k0 > 0)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->n3, c->s.k0, 1.0f, c->s.a, c->s.k0, x,
                    1, 1.0f, out->data, 1);
    if (c->s.k1 > 0)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->n3, c->s.k1, 1.0f, c->s.b, c->s.k1,
                    x + c->s.k0, 1, 1.0f, out->data, 1);
    return HRN_OK;
}

static enum hrn_status basis_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct basis_ctx *c = hrn_custom_ctx(out);
    if (!hrn_src_wants_grad(out, 0) || c->s.k0 + c->s.k1 == 0) return HRN_OK;
    float *g = out->src[0]->grad + c->off;
    if (c->h) return f16_backward(t, c->h, c->kn, out->grad, g);
    /* d coeffs += B^T dS: one more pass over the basis */
    if (c->s.k0 > 0) gemv_t(c->s.a, out->grad, c->n3, c->s.k0, g);
    if (c->s.k1 > 0) gemv_t(c->s.b, out->grad, c->n3, c->s.k1, g + c->s.k0);
    return HRN_OK;
}

static const struct hrn_custom_op BASIS_OP = {"face_basis", basis_fwd, basis_bwd, 0};

static struct hrn_tensor *bad_shape(const char *op, const struct hrn_tensor *x, const char *want) {
    char buf[64];
    hrn_error_set(HRN_ERR_INVALID, "%s: input %s has shape %s, expected %s", op,
                  x->name[0] ? x->name : "?", hrn_tensor_shape_str(x, buf, sizeof buf), want);
    return NULL;
}

static struct hrn_tensor *basis_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                   struct hrn_tensor *c, int albedo) {
    const char *name = albedo ? "face_albedo" : "face_shape";
    if (!c) return hrn_custom(t, &BASIS_OP, NULL, &c, 1, 1, (int64_t[]){1}); /* keeps the msg */
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    if (c->ndim != 1 || c->shape[0] < l.total)
        return bad_shape(name, c, "(n_coeffs) of the model");
    struct basis_ctx *x = hrn_tape_alloc(t, sizeof *x);
    if (!x) return NULL;
    memset(x, 0, sizeof *x);
    x->n3 = 3 * fm->n_verts;
    group_src(fm, albedo, &x->s);
    if (albedo) {
        x->mean = fm->mean_albedo;
        x->fill = 0.8f;
        x->off = l.tex;
    } else {
        x->mean = fm->mean_shape;
        /* id|exp are adjacent in the coefficient vector; a model without id starts at exp */
        x->off = fm->id_basis && fm->n_id > 0 ? l.id : l.exp;
    }
    enum hrn_status st;
    x->h = group16(fm, albedo, &st);
    if (st != HRN_OK) return NULL;
    x->kn = kernels();
    return hrn_custom(t, &BASIS_OP, x, &c, 1, 2, (int64_t[]){fm->n_verts, 3});
}

struct hrn_tensor *hrn_face_shape_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                     struct hrn_tensor *c) {
    return basis_op(t, fm, c, 0);
}

struct hrn_tensor *hrn_face_albedo_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                      struct hrn_tensor *c) {
    return basis_op(t, fm, c, 1);
}

/* --- the shape at a few vertices --------------------------------------------------------------- */

struct rows_ctx {
    const struct hrn_face_model *fm;
    struct src2 s;           /* float32 columns */
    const struct basis16 *h; /* or the float16 copy the full op reads */
    int64_t off;
    const int32_t *verts;    /* (n) */
};

/* Entry (row i, column j) of the group, as the full op sees it: from the float16 copy when it
 * reads one (so both ops give the same shape), else float32. */
__attribute__((target("f16c"))) static float h16_at(const struct basis16 *b, int64_t i, int32_t j) {
    uint16_t hv = b->h[((i / TILE) * b->k + j) * TILE + i % TILE];
    return _cvtsh_ss(hv) * b->scale[j];
}

static inline float rows_at(const struct rows_ctx *c, int64_t i, int32_t j) {
    return c->h ? h16_at(c->h, i, j) : src_at(&c->s, i, j);
}

static enum hrn_status rows_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct rows_ctx *c = hrn_custom_ctx(out);
    const float *x = out->src[0]->data + c->off;
    int32_t k = c->s.k0 + c->s.k1;
    for (int64_t r = 0; r < out->shape[0]; r++)
        for (int q = 0; q < 3; q++) {
            int64_t i = 3 * (int64_t)c->verts[r] + q;
            float acc = 0; /* the tile kernels' order differs: equal to rounding */
            for (int32_t j = 0; j < k; j++) acc += rows_at(c, i, j) * x[j];
            out->data[3 * r + q] = c->fm->mean_shape[i] + acc;
        }
    return HRN_OK;
}

static enum hrn_status rows_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct rows_ctx *c = hrn_custom_ctx(out);
    float *gx = out->src[0]->grad + c->off;
    int32_t k = c->s.k0 + c->s.k1;
    for (int32_t j = 0; j < k; j++) {
        double s = 0;
        for (int64_t r = 0; r < out->shape[0]; r++)
            for (int q = 0; q < 3; q++)
                s += (double)rows_at(c, 3 * (int64_t)c->verts[r] + q, j) *
                     (double)out->grad[3 * r + q];
        gx[j] += (float)s;
    }
    return HRN_OK;
}

static const struct hrn_custom_op ROWS_OP = {"face_shape_rows", rows_fwd, rows_bwd, 0};

struct hrn_tensor *hrn_face_shape_rows_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                          struct hrn_tensor *c, const int32_t *verts, int64_t n) {
    if (!c) return hrn_custom(t, &ROWS_OP, NULL, &c, 1, 1, (int64_t[]){1});
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    if (c->ndim != 1 || c->shape[0] < l.total)
        return bad_shape("face_shape_rows", c, "(n_coeffs) of the model");
    if (n < 1) {
        hrn_error_set(HRN_ERR_INVALID, "face_shape_rows: %lld vertices, expected at least 1",
                      (long long)n);
        return NULL;
    }
    for (int64_t r = 0; r < n; r++)
        if (verts[r] < 0 || verts[r] >= fm->n_verts) {
            hrn_error_set(HRN_ERR_INVALID, "face_shape_rows: vertex %d (entry %lld) is not in "
                          "0..%lld", verts[r], (long long)r, (long long)fm->n_verts - 1);
            return NULL;
        }
    struct rows_ctx *x = hrn_tape_alloc(t, sizeof *x);
    if (!x) return NULL;
    memset(x, 0, sizeof *x);
    x->fm = fm;
    x->verts = verts;
    group_src(fm, 0, &x->s);
    x->off = fm->id_basis && fm->n_id > 0 ? l.id : l.exp;
    enum hrn_status st;
    x->h = group16(fm, 0, &st);
    if (st != HRN_OK) return NULL;
    return hrn_custom(t, &ROWS_OP, x, &c, 1, 2, (int64_t[]){n, 3});
}
