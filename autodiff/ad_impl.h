/* ad_impl.h: declarations shared by the autodiff sources (not public). */
#ifndef HRN_AD_IMPL_H
#define HRN_AD_IMPL_H

#include "hrn_autodiff.h"

#include <stdio.h>
#include <string.h>

/* Loops over at least this many floats use OpenMP; smaller ones run faster on one thread.
 * HRN_PAR_MIN_COPY is for a bare copy or add of one array: one thread moves 2^18 floats in about
 * the 60-80 us that waking a sleeping OpenMP thread costs under OMP_WAIT_POLICY=passive. */
enum { HRN_PAR_MIN = 1 << 15, HRN_PAR_MIN_COPY = 1 << 18 };

/* for (int64_t i = 0; i < n; i++) { body }, with OpenMP only when cond holds. An `if` clause is
 * not enough: GCC still starts a (one-thread) team for it, which costs more than a tiny op. */
#define HRN__PAR_FOR(cond, i, n, ...)                                                  \
    do {                                                                               \
        if (cond) {                                                                    \
            _Pragma("omp parallel for schedule(static)")                               \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__ }                           \
        } else {                                                                       \
            for (int64_t i = 0; i < (n); i++) { __VA_ARGS__ }                           \
        }                                                                              \
    } while (0)

/* A new node: header and (if alloc_data) uninitialised data from the arena, src/op_params set,
 * REQUIRES_GRAD if a differentiable source has it, forward run, node appended. NULL with a
 * message on NOMEM or when the forward fails. params may be NULL. */
struct hrn_tensor *hrn__node(struct hrn_tape *t, int op, int ndim, const int64_t *shape,
                             struct hrn_tensor *const *src, int n_src, const void *params,
                             size_t params_size, int alloc_data);

/* NULL-input check for op constructors: returns 1 (and sets a message if none is pending) when
 * one of the n inputs is NULL. */
int hrn__null_input(const char *op, struct hrn_tensor *const *xs, int n);

/* HRN_ERR_INVALID "op: shapes A and B <why>" with the tensors' labels; returns NULL for use as
 * `return hrn__shape_error(...)`. */
struct hrn_tensor *hrn__shape_error(const struct hrn_tape *t, const char *op,
                                    const struct hrn_tensor *a, const struct hrn_tensor *b,
                                    const char *why);

/* Allocate scratch from the tape arena (NOMEM message set on failure). */
void *hrn__scratch(struct hrn_tape *t, size_t bytes);

/* What a custom node keeps in op_params. */
struct hrn__custom_params {
    const struct hrn_custom_op *op;
    void *ctx;
};

/* Sources never differentiated by node out's op (the table's mask, or the custom op's). */
static inline uint8_t hrn__nodiff(const struct hrn_tensor *out) {
    if (out->op == HRN_OP_CUSTOM)
        return ((const struct hrn__custom_params *)(const void *)out->op_params)->op->nodiff_src;
    return hrn_op_table[out->op].nodiff_src;
}

/* Does src i of out want a gradient? (REQUIRES_GRAD, and not a non-differentiable input) */
static inline int hrn__wants_grad(const struct hrn_tensor *out, int i) {
    const struct hrn_tensor *s = out->src[i];
    return s && (s->flags & HRN_TENSOR_REQUIRES_GRAD) && s->grad &&
           !(s->flags & HRN_TENSOR_NO_GRAD_INPUT) && !(hrn__nodiff(out) & (1u << i));
}

#define HRN__PARAMS(out, type) ((type *)(void *)(out)->op_params)

/* forward/backward pairs, one per op (op_*.c) */
#define HRN__DECL(name)                                                         \
    enum hrn_status hrn__##name##_fwd(struct hrn_tape *t, struct hrn_tensor *out); \
    enum hrn_status hrn__##name##_bwd(struct hrn_tape *t, struct hrn_tensor *out);
HRN__DECL(add)
HRN__DECL(sub)
HRN__DECL(mul)
HRN__DECL(div)
HRN__DECL(mask_mul)
HRN__DECL(unary)
HRN__DECL(sum)
HRN__DECL(mean)
HRN__DECL(sum_axis)
HRN__DECL(mean_axis)
HRN__DECL(l2norm)
HRN__DECL(matmul)
HRN__DECL(bmm)
HRN__DECL(reshape)
HRN__DECL(permute)
HRN__DECL(concat)
HRN__DECL(slice)
HRN__DECL(gather_rows)
HRN__DECL(scatter_add_rows)
HRN__DECL(spmm)
HRN__DECL(cross)
HRN__DECL(normalize)
HRN__DECL(euler_rot)
HRN__DECL(conv2d)
HRN__DECL(conv_transpose2d)
HRN__DECL(batch_norm)
HRN__DECL(instance_norm)
HRN__DECL(max_pool2d)
HRN__DECL(avg_pool2d)
HRN__DECL(resize_bilinear)
HRN__DECL(pad2d)
HRN__DECL(dropout)
HRN__DECL(custom)
#undef HRN__DECL

#endif /* HRN_AD_IMPL_H */
