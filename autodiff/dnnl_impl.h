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
 * NULL), work out the reorders for its n_args arguments and cache it under key. */
enum hrn_status hrn__dnnl_create(const int64_t key[HRN__DNNL_KEY], const void *op_desc,
                                 const_dnnl_primitive_desc_t hint, int n_args,
                                 const struct hrn__dnnl_argspec *spec,
                                 struct hrn__dnnl_prim **out);

/* Run p with the caller's buffers (ptr[i] for argument i of the spec, same order). */
enum hrn_status hrn__dnnl_exec(struct hrn__dnnl_prim *p, void *const *ptr);

/* A plain memory descriptor: tag dnnl_nchw, dnnl_oihw, dnnl_iohw, dnnl_x ... */
dnnl_memory_desc_t hrn__dnnl_md(int ndims, const int64_t *dims, dnnl_format_tag_t tag);

/* Bytes of a primitive's argument (the pooling workspace). */
size_t hrn__dnnl_arg_bytes(const struct hrn__dnnl_prim *p, int arg_index);

/* Drop every cached primitive and the buffers (tests; process exit). */
void hrn__dnnl_release(void);

#endif /* HRN_DNNL_IMPL_H */
