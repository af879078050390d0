/* hrn_mem.h: arena allocator, float32 tensors, and a seeded random generator.
 * Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     struct hrn_arena a;
 *     if (hrn_arena_init(&a, 64u << 20) != HRN_OK) return 1;    // 64 MiB, one malloc
 *     struct hrn_tensor *x = hrn_tensor_new(&a, 4, (int64_t[]){1, 3, 224, 224}, "image");
 *     if (!x) { fprintf(stderr, "%s\n", hrn_error_msg()); ... }   // HRN_ERR_NOMEM
 *     size_t m = hrn_arena_mark(&a);
 *     float *tmp = hrn_arena_alloc(&a, 1000 * sizeof(float), 0);  // scratch
 *     hrn_arena_rewind(&a, m);                                     // frees tmp
 *     printf("peak %zu bytes\n", hrn_arena_peak(&a));
 *     hrn_arena_free(&a);
 *
 *     struct hrn_rng r;
 *     hrn_rng_seed(&r, 42);
 *     double z = hrn_rng_normal(&r);    // the same sequence on every machine
 *
 * Memory lifetimes (style.md 5.6): process (engine, config, logger), model (parameters, optimizer
 * state, primitive caches) and step (tape nodes, activations), each with its own arena. Nothing
 * allocated from an arena is freed alone; rewind or reset the arena.
 */
#ifndef HRN_MEM_H
#define HRN_MEM_H

#include "hrn_base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- arena ------------------------------------------------------------------------------------ */

enum { HRN_ARENA_ALIGN = 64 }; /* a cache line; what AVX-512 and oneDNN like */

struct hrn_arena {
    uint8_t *base; /* one allocation, HRN_ARENA_ALIGN-aligned */
    size_t cap;    /* bytes */
    size_t used;   /* bytes handed out, including alignment padding */
    size_t peak;   /* highest `used` seen since init (or hrn_arena_reset_peak) */
};

/* Allocate `bytes` of backing memory. HRN_ERR_NOMEM if malloc fails. */
enum hrn_status hrn_arena_init(struct hrn_arena *a, size_t bytes);
/* Free the backing memory; NULL-safe and safe on a zeroed struct. */
void hrn_arena_free(struct hrn_arena *a);
/* `bytes` aligned to `align` (a power of two; 0 means HRN_ARENA_ALIGN), not zeroed. Returns NULL
 * and sets HRN_ERR_NOMEM ("arena: needed X bytes, available Y of Z") when it does not fit. */
void *hrn_arena_alloc(struct hrn_arena *a, size_t bytes, size_t align);
/* Same, zero-filled. */
void *hrn_arena_calloc(struct hrn_arena *a, size_t bytes, size_t align);
/* A position to rewind to; everything allocated after it is released by the rewind. */
size_t hrn_arena_mark(const struct hrn_arena *a);
void hrn_arena_rewind(struct hrn_arena *a, size_t mark);
void hrn_arena_reset(struct hrn_arena *a);       /* rewind to 0 */
size_t hrn_arena_peak(const struct hrn_arena *a); /* to size arenas from real runs */
size_t hrn_arena_used(const struct hrn_arena *a);

/* --- tensor ----------------------------------------------------------------------------------- */

enum { HRN_MAX_DIMS = 4, HRN_MAX_SRC = 4, HRN_MAX_OP_PARAMS = 64, HRN_TENSOR_NAME = 32 };

enum hrn_tensor_flag {
    HRN_TENSOR_PARAM = 1u << 0,         /* a trainable parameter (lives in a param store) */
    HRN_TENSOR_REQUIRES_GRAD = 1u << 1, /* gradient wanted for this tensor */
    HRN_TENSOR_LOSS = 1u << 2,          /* a scalar loss */
    HRN_TENSOR_NO_GRAD_INPUT = 1u << 3, /* an input that is never differentiated (indices, masks) */
};

/* A contiguous row-major float32 tensor of up to 4 dimensions, OUTERMOST FIRST: shape = (N,C,H,W)
 * as in PyTorch, oneDNN and HDF5 (not ggml's innermost-first ne[]). The autodiff fields (grad,
 * op, src, op_params, saved) are used by the autodiff module and zero otherwise. */
struct hrn_tensor {
    int32_t ndim;
    int64_t shape[HRN_MAX_DIMS]; /* unused trailing entries are 1 */
    int64_t numel;
    float *data;  /* owned by an arena (or a param store); never free()d alone */
    float *grad;  /* NULL unless a gradient is wanted; same lifetime as data */
    uint32_t flags;
    int32_t op;   /* enum hrn_op of the autodiff module; 0 = leaf */
    struct hrn_tensor *src[HRN_MAX_SRC];
    _Alignas(8) uint8_t op_params[HRN_MAX_OP_PARAMS]; /* POD parameters of the op (stride, eps) */
    void *saved;  /* what backward needs, saved by forward (step arena) */
    char name[HRN_TENSOR_NAME];
};

/* A new zero-filled tensor from the arena; NULL with HRN_ERR_INVALID (bad ndim or a dimension < 1)
 * or HRN_ERR_NOMEM. `name` may be NULL. The struct and its data both come from the arena. */
struct hrn_tensor *hrn_tensor_new(struct hrn_arena *a, int ndim, const int64_t *shape,
                                  const char *name);
/* Initialise a tensor header over caller-owned data (no allocation). HRN_ERR_INVALID on a bad shape. */
enum hrn_status hrn_tensor_wrap(struct hrn_tensor *t, float *data, int ndim, const int64_t *shape,
                                const char *name);
/* Product of the first ndim entries of shape; -1 if ndim is out of range or a dimension < 1. */
int64_t hrn_shape_numel(int ndim, const int64_t *shape);
int hrn_tensor_same_shape(const struct hrn_tensor *a, const struct hrn_tensor *b);
/* "(2,3,64,64)" into buf; returns buf. */
char *hrn_tensor_shape_str(const struct hrn_tensor *t, char *buf, size_t cap);

/* --- random numbers --------------------------------------------------------------------------- */

/* xoshiro256** seeded through splitmix64: the same integers on every machine for a given seed.
 * Uniform floats are built from the top bits; normals use Marsaglia's polar method in double,
 * which needs only log() and sqrt(); glibc's results for these are the same on every x86-64
 * machine, and the tests pin the first values. */
struct hrn_rng {
    uint64_t s[4];
    double spare; /* second normal of the last polar pair */
    int has_spare;
};

void hrn_rng_seed(struct hrn_rng *r, uint64_t seed);
uint64_t hrn_rng_u64(struct hrn_rng *r);
/* Uniform in [0, n); n > 0. Unbiased (rejection). */
uint64_t hrn_rng_below(struct hrn_rng *r, uint64_t n);
double hrn_rng_uniform(struct hrn_rng *r);  /* [0, 1), 53 bits */
float hrn_rng_uniformf(struct hrn_rng *r);  /* [0, 1), 24 bits */
double hrn_rng_normal(struct hrn_rng *r);   /* N(0, 1) */
/* A counter-based stream: the generator seeded from (seed, k1, k2, k3) through splitmix64, so
 * the numbers of, say, (dataset seed, epoch, sample index, purpose) are the same whichever thread
 * or process draws them and in whatever order (training data, augmentation, resume). Distinct
 * keys give unrelated streams. */
void hrn_rng_seed_keyed(struct hrn_rng *r, uint64_t seed, uint64_t k1, uint64_t k2, uint64_t k3);
/* Fill x[n] with uniform values in [lo, hi) or N(mean, std^2). */
void hrn_rng_fill_uniform(struct hrn_rng *r, float *x, size_t n, float lo, float hi);
void hrn_rng_fill_normal(struct hrn_rng *r, float *x, size_t n, float mean, float std);

#ifdef __cplusplus
}
#endif
#endif /* HRN_MEM_H */
