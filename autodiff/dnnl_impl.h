/* dnnl_impl.h: the oneDNN 2.6 wrapper shared by the layer ops (not public).
 *
 * One process-wide engine and stream, and a cache of primitives keyed by op kind and shape
 * (style.md 4.2 #11: primitive creation JIT-compiles, so it happens once per shape). Every
 * primitive is created with a user-mode scratchpad; the scratchpad and the buffers for layout
 * reorders come from one growing buffer of ours (darknet's shared workspace), not from per-call
 * allocations inside oneDNN.
 *
 * An entry describes its arguments with OUR layouts (plain NCHW/OIHW, given by the op) and the
 * layouts the primitive wants (often blocked, from format_tag_any). hrn__dnnl_exec reorders inputs
 * in and outputs out as needed. Outputs marked HRN__DNNL_OUT_ADD are ADDED into the caller's
 * buffer: oneDNN's backward primitives overwrite (style.md 4.2 #2), the tape's contract adds.
 *
 * Not thread-safe: one thread records and runs tapes at a time (oneDNN itself uses OpenMP).
 */
#ifndef HRN_DNNL_IMPL_H
#define HRN_DNNL_IMPL_H

#include "ad_impl.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#if DNNL_VERSION_MAJOR != 2
#error "hrn's oneDNN wrapper is written for the oneDNN 2.x C API (Debian 12 ships 2.6.3)"
#endif

/* A oneDNN call failing becomes HRN_ERR_DNNL naming the call (style.md 5.7). */
#define HRN_DNNL(call)                                                                        \
    do {                                                                                      \
        dnnl_status_t s_ = (call);                                                            \
        if (s_ != dnnl_success) {                                                             \
            st = hrn_error_set(HRN_ERR_DNNL, "%s -> %s", #call, dnnl_status2str(s_));         \
            goto fail;                                                                        \
        }                                                                                     \
    } while (0)

enum { HRN__DNNL_MAX_ARGS = 10, HRN__DNNL_KEY = 24 };

enum hrn__dnnl_dir {
    HRN__DNNL_IN = 0,  /* read from the caller's buffer */
    HRN__DNNL_OUT,     /* written (overwritten) into the caller's buffer */
    HRN__DNNL_OUT_ADD, /* added into the caller's buffer; NULL buffer = discarded */
};

/* How an op describes one argument when creating a primitive. */
struct hrn__dnnl_argspec {
    int id;                        /* DNNL_ARG_SRC, ... */
    enum hrn__dnnl_dir dir;
    const dnnl_memory_desc_t *user; /* our layout; NULL = whatever the primitive wants (opaque
                                     * buffers such as the pooling workspace) */
};

struct hrn__dnnl_arg {
    int id;
    enum hrn__dnnl_dir dir;
    dnnl_memory_desc_t user, want;
    int reorder;               /* layouts differ */
    int tmp;                   /* the primitive reads/writes our temporary buffer */
    size_t off, bytes;         /* in the temporary buffer; bytes of `want` */
    dnnl_primitive_t r;        /* reorder user->want (IN) or want->user (OUT, OUT_ADD with sum) */
    dnnl_memory_t m_user, m_want;
};

struct hrn__dnnl_prim {
    int64_t key[HRN__DNNL_KEY];
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int n_args;
    struct hrn__dnnl_arg a[HRN__DNNL_MAX_ARGS];
    dnnl_memory_t m_scratch;
    size_t scratch_bytes, tmp_bytes; /* scratchpad first, then the temporaries */
    const char *impl;                /* oneDNN's implementation name, for logs */
};

/* Key kinds (key[0]); the rest of the key is the op's shape and parameters. */
enum hrn__dnnl_kind {
    HRN__DK_CONV_FWD = 1,
    HRN__DK_CONV_BWD_D,
    HRN__DK_CONV_BWD_W,
    HRN__DK_DECONV_FWD,
    HRN__DK_DECONV_BWD_D,
    HRN__DK_DECONV_BWD_W,
    HRN__DK_BN_FWD,
    HRN__DK_BN_BWD,
    HRN__DK_POOL_FWD,
    HRN__DK_POOL_BWD,
};

/* The engine (created on first use). NULL + HRN_ERR_DNNL on failure. */
dnnl_engine_t hrn__dnnl_engine(void);

/* The cached primitive for key, or NULL. */
struct hrn__dnnl_prim *hrn__dnnl_find(const int64_t key[HRN__DNNL_KEY]);

/* Create a primitive from an op descriptor (hint: the forward pd for backward primitives, else
 * NULL), work out the reorders for its n_args arguments and cache it under key. po: post-ops
 * (inference fusion; their runtime operands are arguments of the spec too), or NULL. */
enum hrn_status hrn__dnnl_create(const int64_t key[HRN__DNNL_KEY], const void *op_desc,
                                 const_dnnl_primitive_desc_t hint, int n_args,
                                 const struct hrn__dnnl_argspec *spec,
                                 struct hrn__dnnl_prim **out);
enum hrn_status hrn__dnnl_create_po(const int64_t key[HRN__DNNL_KEY], const void *op_desc,
                                    const_dnnl_primitive_desc_t hint, const_dnnl_post_ops_t po,
                                    int n_args, const struct hrn__dnnl_argspec *spec,
                                    struct hrn__dnnl_prim **out);

/* Run p with the caller's buffers (ptr[i] for argument i of the spec, same order). */
enum hrn_status hrn__dnnl_exec(struct hrn__dnnl_prim *p, void *const *ptr);

/* Frozen weights. Bit i of frozen says input argument i is a parameter that does not change
 * between weights epochs: its reorder into the primitive's layout is kept (keyed by the buffer
 * and the wanted layout) and reused until hrn_dnnl_weights_changed() starts a new epoch.
 * Callers pass a bit only for net parameters that want no gradient (inference); every writer
 * of parameter values we know of ends the epoch: hrn_optim_step, hrn_net_load, hrn_net_init,
 * hrn_net_free, hrn_net_requires_grad and hrn_layers_release. Code that writes net parameter
 * values by hand must call hrn_net_requires_grad (or this) before the next forward. Weights
 * that want gradients (training) are never taken from the cache, so an optimizer update is
 * seen by the next forward even without the epoch. */
enum hrn_status hrn__dnnl_exec_frozen(struct hrn__dnnl_prim *p, void *const *ptr,
                                      unsigned frozen);
/* hrn_dnnl_weights_changed and hrn_dnnl_frozen_count are public (hrn_autodiff.h). */

/* A plain memory descriptor: tag dnnl_nchw, dnnl_oihw, dnnl_iohw, dnnl_x ... */
dnnl_memory_desc_t hrn__dnnl_md(int ndims, const int64_t *dims, dnnl_format_tag_t tag);

/* Bytes of a primitive's argument (the pooling workspace). */
size_t hrn__dnnl_arg_bytes(const struct hrn__dnnl_prim *p, int arg_index);

/* Drop every cached primitive and the buffers (tests; process exit). */
void hrn__dnnl_release(void);

/* The inference fusion (hrn_conv2d_fused, hrn_conv_transpose2d_frozen) is public
 * (hrn_autodiff.h); op_conv.c implements it. */

/* --- profiling (HRN_PROFILE_LAYERS=1) ---------------------------------------------------------
 * Wall time per category, accumulated over the process and printed to stderr by
 * hrn_layers_release (then reset). Costs two clock reads per timed section when on, one branch
 * when off. The oneDNN kinds above are categories 1..HRN__DK_POOL_BWD (their compute); the rest
 * follow. */
enum hrn__prof_cat {
    HRN__PROF_CREATE = HRN__DK_POOL_BWD + 1, /* primitive creation (JIT), reorders included */
    HRN__PROF_REORDER_W,                     /* weights plain -> blocked */
    HRN__PROF_REORDER_IN,                    /* other inputs plain -> blocked */
    HRN__PROF_REORDER_OUT,                   /* outputs blocked -> plain (with sum for grads) */
    HRN__PROF_ADD_OUT,                       /* gradients added in plain layout */
    HRN__PROF_PAD,
    HRN__PROF_RESIZE,
    HRN__PROF_INORM, /* instance norm fwd+bwd (C kernel) */
    HRN__PROF_N
};
/* 1 when HRN_PROFILE_LAYERS is set to something other than 0 (read once). */
int hrn__prof_on(void);
/* Add now - t0 seconds (t0 from hrn_time_now) to category cat. */
void hrn__prof_add(int cat, double t0);

#endif /* HRN_DNNL_IMPL_H */
