/* hrn_autodiff.h: the public header of the autodiff module: an eager reverse-mode tape over
 * float32 tensors, its ops, a parameter store, optimizers (SGD, Adam, AdamW, L-BFGS), learning-rate
 * schedules and a finite-difference gradient checker.
 *
 * Usage (fit y = x·Wᵀ + b by Adam; test_autodiff_optim.c runs this very code):
 *
 *     enum hrn_status st = HRN_OK;
 *     struct hrn_params ps;
 *     struct hrn_tape tape = {0};
 *     hrn_params_init(&ps);
 *     int iw, ib;
 *     HRN_TRY(hrn_params_add(&ps, "fc.weight", 2, (int64_t[]){4, 8}, 0, &iw));
 *     HRN_TRY(hrn_params_add(&ps, "fc.bias", 1, (int64_t[]){4}, 0, &ib));
 *     HRN_TRY(hrn_params_alloc(&ps));                 // values, grads: one buffer each
 *     struct hrn_optim opt;
 *     struct hrn_optim_config oc = {.kind = HRN_OPTIM_ADAM, .lr = 1e-2f};
 *     HRN_TRY(hrn_optim_init(&opt, &oc));
 *     HRN_TRY(hrn_tape_init(&tape, 1u << 20));        // step memory: nodes, activations, grads
 *     for (int step = 0; step < 2000; step++) {
 *         hrn_tape_reset(&tape);
 *         struct hrn_tensor *x = hrn_tape_wrap(&tape, xs, 2, (int64_t[]){32, 8}, "x");
 *         struct hrn_tensor *y = hrn_tape_wrap(&tape, ys, 2, (int64_t[]){32, 4}, "y");
 *         struct hrn_tensor *xw = hrn_matmul(&tape, x, hrn_params_tensor(&ps, iw),
 *                                            HRN_MATMUL_TRANS_B);                // (32,4)
 *         struct hrn_tensor *pred = hrn_add(&tape, xw, hrn_params_tensor(&ps, ib)); // + (4)
 *         struct hrn_tensor *err = hrn_sub(&tape, pred, y);
 *         struct hrn_tensor *loss = hrn_mean_all(&tape, hrn_square(&tape, err));
 *         hrn_params_zero_grad(&ps);
 *         HRN_TRY(hrn_tape_backward(&tape, loss)); // a NULL loss (an op failed) is reported here
 *         hrn_params_clip_grad_norm(&ps, 10.0);   //   with the first failing op's message
 *         HRN_TRY(hrn_optim_step(&opt, &ps));
 *     }
 *   fail:
 *     hrn_tape_free(&tape);
 *     // use the fitted ps (on failure too: it is valid), then hrn_params_free(&ps)
 *
 * Design (style.md 5.2-5.6):
 * - Eager: every op computes its output at once and records one node; hrn_tape_backward walks the
 *   nodes in reverse and calls each op's backward from one table (hrn_op_table), which is kept in
 *   sync with enum hrn_op by a _Static_assert.
 * - Backward ADDS into gradients (a tensor may feed several ops). Gradients of leaves (parameters,
 *   tensors marked with hrn_tape_requires_grad) accumulate across backward calls until zeroed;
 *   gradients of intermediate nodes are zeroed by each backward call.
 * - Tensors are contiguous, row-major, outermost dimension first. Ops never modify their inputs.
 * - Memory: node headers, activations, saved values and intermediate gradients come from the
 *   tape's arena (step lifetime, valid until hrn_tape_reset/rewind). Parameters, their gradients
 *   and optimizer state live in a struct hrn_params (model lifetime), each in one flat buffer.
 * - Non-differentiable inputs are marked twice over: an op's table entry lists the sources it
 *   never differentiates (nodiff_src, e.g. mask_mul's mask; gather/scatter indices are int32
 *   arrays, not tensors), and any tensor flagged HRN_TENSOR_NO_GRAD_INPUT neither receives nor
 *   passes on a gradient. hrn_detach makes a stop-gradient leaf that shares the data.
 * - HRN_CHECK_FINITE=1 in the environment makes backward check every gradient it writes for
 *   NaN/Inf and fail with HRN_ERR_NUMERIC naming the node (NaN hunting in long fits).
 * - Errors: an op given a bad shape returns NULL and sets HRN_ERR_INVALID with the op and both
 *   shapes ("add: shapes (2,3) and (4) do not broadcast ..."); an op given a NULL input returns
 *   NULL and keeps the first message, so a chain of ops can be checked once at its end. Kernel
 *   invariants after validation are HRN_ASSERTs.
 * - Broadcasting (add, sub, mul, div, mask_mul): the operands have equal shapes, or one is a
 *   scalar (one element), or the smaller one's shape equals the trailing dimensions of the
 *   larger's (leading 1s ignored): (B,N,3) with (3), (N,3) or (1).
 */
#ifndef HRN_AUTODIFF_H
#define HRN_AUTODIFF_H

#include "hrn_core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- ops ------------------------------------------------------------------------------------- */

enum hrn_op {
    HRN_OP_NONE = 0, /* a leaf: input, constant, parameter or detached tensor */
    /* elementwise, binary with broadcasting */
    HRN_OP_ADD,
    HRN_OP_SUB,
    HRN_OP_MUL,
    HRN_OP_DIV,
    HRN_OP_MASK_MUL, /* x * mask; the mask gets no gradient */
    /* elementwise, unary */
    HRN_OP_NEG,
    HRN_OP_SCALE,
    HRN_OP_ADD_SCALAR,
    HRN_OP_EXP,
    HRN_OP_LOG,
    HRN_OP_SQRT,
    HRN_OP_RSQRT,
    HRN_OP_POW,
    HRN_OP_ABS,
    HRN_OP_SQUARE,
    HRN_OP_RELU,
    HRN_OP_LEAKY_RELU,
    HRN_OP_SIGMOID,
    HRN_OP_TANH,
    HRN_OP_SOFTPLUS,
    HRN_OP_CLAMP,
    /* reductions */
    HRN_OP_SUM,
    HRN_OP_MEAN,
    HRN_OP_SUM_AXIS,
    HRN_OP_MEAN_AXIS,
    HRN_OP_L2NORM, /* along the last axis */
    /* linear algebra */
    HRN_OP_MATMUL,
    HRN_OP_BMM,
    /* shape */
    HRN_OP_RESHAPE,
    HRN_OP_PERMUTE,
    HRN_OP_CONCAT,
    HRN_OP_SLICE,
    HRN_OP_GATHER_ROWS,
    HRN_OP_SCATTER_ADD_ROWS,
    HRN_OP_SPMM,
    /* geometry on 3-vectors along the last axis */
    HRN_OP_CROSS,
    HRN_OP_NORMALIZE,
    HRN_OP_EULER_ROT,
    /* neural-network layers on (N,C,H,W) tensors (oneDNN 2.6 or C kernels) */
    HRN_OP_CONV2D,
    HRN_OP_CONV_TRANSPOSE2D,
    HRN_OP_BATCH_NORM,
    HRN_OP_INSTANCE_NORM,
    HRN_OP_MAX_POOL2D,
    HRN_OP_AVG_POOL2D,
    HRN_OP_RESIZE_BILINEAR,
    HRN_OP_PAD2D,
    HRN_OP_DROPOUT,
    /* an op defined outside this module (renderer, losses): see hrn_custom */
    HRN_OP_CUSTOM,
    HRN_OP_COUNT
};

struct hrn_tape;

/* An op's forward computes out->data from out->src[] and out->op_params (out->data is allocated,
 * not zeroed); its backward adds d(loss)/d(src) into src[i]->grad for every differentiable source
 * that has REQUIRES_GRAD, reading out->grad. Both may allocate scratch from the tape's arena. */
typedef enum hrn_status (*hrn_forward_fn)(struct hrn_tape *t, struct hrn_tensor *out);
typedef enum hrn_status (*hrn_backward_fn)(struct hrn_tape *t, struct hrn_tensor *out);

struct hrn_op_info {
    const char *name;
    int8_t n_src;         /* sources used; -1 = variable (concat: 1 to HRN_MAX_SRC) */
    uint8_t nodiff_src;   /* bit i set: src[i] is never differentiated (masks) */
    hrn_forward_fn forward;
    hrn_backward_fn backward;
};

/* Indexed by enum hrn_op; entry 0 (HRN_OP_NONE) has NULL functions. */
extern const struct hrn_op_info hrn_op_table[HRN_OP_COUNT];
const char *hrn_op_name(int op); /* "add"; "?" when out of range */

/* --- tape ------------------------------------------------------------------------------------ */

/* Sums across the processes of a data-parallel run (hrn-train under mpirun; train/dist.c makes
 * one over MPI). Each process holds rows [row0, row0 + its batch) of the global batch. Ops whose
 * result depends on the whole batch call sum_f64 during forward and backward (batch norm in
 * training: synchronised statistics), so N processes compute what one process computes with the
 * global batch; every process records the same ops, so the calls meet in the same order. The
 * results are the same on every process and do not depend on timing. */
struct hrn_collective {
    int rank, size;
    int64_t row0;
    /* buf (n) <- the sum of every process's buf, added in rank order */
    enum hrn_status (*sum_f64)(const struct hrn_collective *c, double *buf, int64_t n);
    enum hrn_status (*sum_f32)(const struct hrn_collective *c, float *buf, int64_t n);
    /* buf (n) <- rank 0's buf */
    enum hrn_status (*bcast_f32)(const struct hrn_collective *c, float *buf, int64_t n);
    void *ctx;
};

struct hrn_tape {
    struct hrn_arena arena;    /* step memory */
    struct hrn_tensor **nodes; /* (cap) recorded nodes, in creation order; malloc()ed */
    int32_t n_nodes, cap;
    int32_t n_backward;        /* backward calls since the last reset (for messages) */
    const struct hrn_collective *coll; /* NULL: one process (set by the caller, kept by reset) */
};

/* A position on the tape: rewinding to it drops the nodes and arena memory made after it. */
struct hrn_tape_mark {
    size_t arena;
    int32_t n_nodes;
};

/* Create a tape with an arena of arena_bytes. HRN_ERR_NOMEM on failure. */
enum hrn_status hrn_tape_init(struct hrn_tape *t, size_t arena_bytes);
/* NULL-safe; safe on a zeroed struct. */
void hrn_tape_free(struct hrn_tape *t);
/* Drop all nodes and step memory (tensors made from the tape become invalid). */
void hrn_tape_reset(struct hrn_tape *t);
struct hrn_tape_mark hrn_tape_mark(const struct hrn_tape *t);
void hrn_tape_rewind(struct hrn_tape *t, struct hrn_tape_mark m);

/* A zero-filled leaf tensor from the tape's arena (valid until reset/rewind); NULL + message on a
 * bad shape or a full arena. */
struct hrn_tensor *hrn_tape_tensor(struct hrn_tape *t, int ndim, const int64_t *shape,
                                   const char *name);
/* A leaf over caller-owned data (the header comes from the arena, the data is not copied). */
struct hrn_tensor *hrn_tape_wrap(struct hrn_tape *t, float *data, int ndim, const int64_t *shape,
                                 const char *name);
/* Mark a leaf as wanting a gradient: allocates a zeroed x->grad from the arena if it has none.
 * HRN_ERR_INVALID for an op output (only leaves can be marked), HRN_ERR_NOMEM. */
enum hrn_status hrn_tape_requires_grad(struct hrn_tape *t, struct hrn_tensor *x);
/* Stop-gradient: a leaf that shares x's data and never gets a gradient. NULL if x is NULL. */
struct hrn_tensor *hrn_detach(struct hrn_tape *t, struct hrn_tensor *x);

/* Back-propagate from a scalar loss (numel 1, seeded with d loss = 1). Errors (HRN_ERR_INVALID):
 * loss NULL (an earlier op failed; its message is kept and prefixed), loss not a scalar, loss not
 * depending on any parameter or requires-grad leaf, loss not on this tape. HRN_ERR_NOMEM when
 * intermediate gradients do not fit in the arena. */
enum hrn_status hrn_tape_backward(struct hrn_tape *t, struct hrn_tensor *loss);
/* Back-propagate from any node with a given output gradient seed (numel(out) floats): a
 * vector-Jacobian product. Used by hrn_gradcheck. */
enum hrn_status hrn_tape_backward_seed(struct hrn_tape *t, struct hrn_tensor *out,
                                       const float *seed);

/* --- custom ops ------------------------------------------------------------------------------ */

/* Ops that belong to other modules (the rasterizer, UV samplers, losses) extend the tape without
 * touching the op table, as ggml's map_custom does: they describe themselves in a static
 * struct hrn_custom_op and record nodes with hrn_custom. forward fills out->data (allocated, not
 * zeroed) from out->src[] and the context; backward ADDS into src[i]->grad for every i with
 * hrn_src_wants_grad(out, i), reading out->grad. Both may take scratch from the tape's arena. */
struct hrn_custom_op {
    const char *name;        /* for messages: "rasterize" */
    hrn_forward_fn forward;
    hrn_backward_fn backward;
    uint8_t nodiff_src;      /* bit i set: src[i] is never differentiated (indices, masks) */
};

/* Record a custom node with output shape (ndim, shape) over n_src (1..HRN_MAX_SRC) sources and run
 * its forward. ctx is the op's own data (geometry, saved values): the caller keeps it alive until
 * the tape is reset (the tape's arena is the usual place: hrn_tape_alloc). NULL with a message on
 * a NULL input, a bad shape, a full arena or a failing forward. */
struct hrn_tensor *hrn_custom(struct hrn_tape *t, const struct hrn_custom_op *op, void *ctx,
                              struct hrn_tensor *const *src, int n_src, int ndim,
                              const int64_t *shape);
/* The op description and context of a custom node (HRN_ASSERT that it is one). */
const struct hrn_custom_op *hrn_custom_info(const struct hrn_tensor *out);
void *hrn_custom_ctx(const struct hrn_tensor *out);
/* Does source i of node out want a gradient (requires grad, has a grad buffer, is not marked
 * non-differentiable by the op table, the custom op or the tensor)? For op backwards. */
int hrn_src_wants_grad(const struct hrn_tensor *out, int i);
/* Scratch memory from the tape's arena, 64-byte aligned, valid until reset/rewind; NULL with
 * HRN_ERR_NOMEM set when it is full. */
void *hrn_tape_alloc(struct hrn_tape *t, size_t bytes);

/* "name" or "<op>#<node index>" for messages; buf of at least 48 bytes. */
const char *hrn_tensor_label(const struct hrn_tape *t, const struct hrn_tensor *x, char *buf,
                             size_t cap);

/* --- elementwise ops (return a tape-owned tensor, or NULL with a message) --------------------- */

struct hrn_tensor *hrn_add(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b);
struct hrn_tensor *hrn_sub(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b);
struct hrn_tensor *hrn_mul(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b);
struct hrn_tensor *hrn_div(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b);
/* x * mask with the mask (same shape or broadcast) treated as a constant. */
struct hrn_tensor *hrn_mask_mul(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *mask);
struct hrn_tensor *hrn_neg(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_scale(struct hrn_tape *t, struct hrn_tensor *x, float s);   /* s*x */
struct hrn_tensor *hrn_add_scalar(struct hrn_tape *t, struct hrn_tensor *x, float c); /* x+c */
struct hrn_tensor *hrn_exp(struct hrn_tape *t, struct hrn_tensor *x);
/* natural log (named ln: hrn_log is the logger) */
struct hrn_tensor *hrn_ln(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_sqrt(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_rsqrt(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_pow(struct hrn_tape *t, struct hrn_tensor *x, float p); /* x^p */
struct hrn_tensor *hrn_abs(struct hrn_tape *t, struct hrn_tensor *x);   /* d/dx at 0 is 0 */
struct hrn_tensor *hrn_square(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_relu(struct hrn_tape *t, struct hrn_tensor *x);  /* d/dx at 0 is 0 */
struct hrn_tensor *hrn_leaky_relu(struct hrn_tape *t, struct hrn_tensor *x, float slope);
struct hrn_tensor *hrn_sigmoid(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_tanh(struct hrn_tape *t, struct hrn_tensor *x);
/* log(1+e^x), linear above x = 20 like PyTorch's default threshold. */
struct hrn_tensor *hrn_softplus(struct hrn_tape *t, struct hrn_tensor *x);
/* min(max(x, lo), hi); the gradient passes where lo <= x <= hi (as PyTorch). */
struct hrn_tensor *hrn_clamp(struct hrn_tape *t, struct hrn_tensor *x, float lo, float hi);

/* --- reductions ------------------------------------------------------------------------------ */

/* Over all elements: shape (1). Summed in double over fixed blocks: deterministic. */
struct hrn_tensor *hrn_sum_all(struct hrn_tape *t, struct hrn_tensor *x);
struct hrn_tensor *hrn_mean_all(struct hrn_tape *t, struct hrn_tensor *x);
/* Over one axis (negative counts from the end), which is removed: (A,B,C) axis 1 -> (A,C);
 * a 1-d input gives (1). */
struct hrn_tensor *hrn_sum_axis(struct hrn_tape *t, struct hrn_tensor *x, int axis);
struct hrn_tensor *hrn_mean_axis(struct hrn_tape *t, struct hrn_tensor *x, int axis);
/* sqrt(sum of squares) along the last axis, removed: (N,3) -> (N). The gradient at a zero
 * vector is 0 (PyTorch's subgradient). */
struct hrn_tensor *hrn_l2norm(struct hrn_tape *t, struct hrn_tensor *x);

/* --- matmul (OpenBLAS sgemm) ------------------------------------------------------------------ */

enum hrn_matmul_flags { HRN_MATMUL_TRANS_A = 1, HRN_MATMUL_TRANS_B = 2 };

/* op(a)·op(b) for 2-d a, b: a (M,K) or (K,M) with TRANS_A; b (K,N) or (N,K) with TRANS_B;
 * out (M,N). */
struct hrn_tensor *hrn_matmul(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                              int flags);
/* Batched: a (B,M,K) [(B,K,M) with TRANS_A], b (B,K,N) [(B,N,K)] or a 2-d b shared by every
 * batch -> (B,M,N). */
struct hrn_tensor *hrn_bmm(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                           int flags);

/* --- shape ----------------------------------------------------------------------------------- */

/* Same data, new shape (no copy); numel must match. */
struct hrn_tensor *hrn_reshape(struct hrn_tape *t, struct hrn_tensor *x, int ndim,
                               const int64_t *shape);
/* out.shape[i] = x.shape[perm[i]] (copies). */
struct hrn_tensor *hrn_permute(struct hrn_tape *t, struct hrn_tensor *x, const int *perm);
/* Swap two axes (a permute). */
struct hrn_tensor *hrn_transpose(struct hrn_tape *t, struct hrn_tensor *x, int axis0, int axis1);
/* Join 1..HRN_MAX_SRC tensors along axis; the other dimensions must agree. */
struct hrn_tensor *hrn_concat(struct hrn_tape *t, struct hrn_tensor *const *xs, int n, int axis);
/* x[..., start:start+len, ...] along axis. */
struct hrn_tensor *hrn_slice(struct hrn_tape *t, struct hrn_tensor *x, int axis, int64_t start,
                             int64_t len);
/* Rows of x (R, ...) picked by idx[n] (0 <= idx < R, copied) -> (n, ...). */
struct hrn_tensor *hrn_gather_rows(struct hrn_tape *t, struct hrn_tensor *x, const int32_t *idx,
                                   int64_t n);
/* out (n_rows, ...) = 0, then out[idx[i]] += x[i] for x (n, ...), idx[n] (repeats add up). */
struct hrn_tensor *hrn_scatter_add_rows(struct hrn_tape *t, struct hrn_tensor *x,
                                        const int32_t *idx, int64_t n, int64_t n_rows);

/* --- sparse (fixed CSR matrices, e.g. UV resampling) ----------------------------------------- */

/* A fixed sparse matrix (rows, cols) in CSR, with its transpose kept for the backward pass so
 * both directions run in parallel over rows without atomics (deterministic). */
struct hrn_csr {
    int64_t rows, cols, nnz;
    int64_t *rowptr; /* (rows+1) */
    int32_t *col;    /* (nnz) */
    float *val;      /* (nnz) */
    int64_t *t_rowptr; /* transpose: (cols+1) */
    int32_t *t_col;    /* (nnz) */
    float *t_val;      /* (nnz) */
};
/* Copy a CSR matrix (rowptr (rows+1), col/val (nnz)), check it (HRN_ERR_INVALID naming the first
 * bad row or column) and build the transpose. */
enum hrn_status hrn_csr_init(struct hrn_csr *a, int64_t rows, int64_t cols, const int64_t *rowptr,
                             const int32_t *col, const float *val);
/* Build from coordinate triplets (duplicates are summed). */
enum hrn_status hrn_csr_from_coo(struct hrn_csr *a, int64_t rows, int64_t cols, int64_t nnz,
                                 const int32_t *row, const int32_t *col, const float *val);
void hrn_csr_free(struct hrn_csr *a); /* NULL-safe */
/* A·x: A (R,C) fixed; x (C,K) -> (R,K) or x (B,C,K) -> (B,R,K). The matrix must outlive the tape
 * step. Backward: dx += Aᵀ·dout. */
struct hrn_tensor *hrn_spmm(struct hrn_tape *t, const struct hrn_csr *a, struct hrn_tensor *x);

/* --- geometry -------------------------------------------------------------------------------- */

/* a × b along the last axis (…,3). */
struct hrn_tensor *hrn_cross(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b);
/* x / max(|x|, eps) along the last axis (PyTorch F.normalize); eps <= 0 means 1e-12. */
struct hrn_tensor *hrn_normalize(struct hrn_tape *t, struct hrn_tensor *x, float eps);
/* Euler angles (B,3) = (x, y, z) in radians -> rotation matrices (B,3,3), R = Rz·Ry·Rx with the
 * right-handed matrices of hrn_method.md 1.3 (apply to row vectors as S·Rᵀ). */
struct hrn_tensor *hrn_euler_rot(struct hrn_tape *t, struct hrn_tensor *angles);

/* --- neural-network layers (oneDNN 2.6; PyTorch semantics) ----------------------------------- */

/* All take and give contiguous (N,C,H,W) tensors, match the PyTorch module named, and ADD into
 * gradients like every op. oneDNN primitives are created once per shape and cached for the
 * process (hrn_layers_release frees them); their scratchpads and layout reorders use one buffer
 * owned by this module. Not thread-safe: record and run tapes from one thread at a time (oneDNN
 * parallelises inside each layer with OpenMP). */

/* Zero fields mean: stride 1, padding 0, dilation 1, output padding 0. */
struct hrn_conv2d_params {
    int stride[2], pad[2], dilation[2]; /* (H, W) */
    int output_padding[2];              /* transposed conv only */
};

/* nn.Conv2d: x (N,C,H,W), w (OC,C,KH,KW), b (OC) or NULL -> (N,OC,OH,OW) with
 * OH = floor((H + 2·pad - dil·(KH-1) - 1)/stride) + 1. p may be NULL. */
struct hrn_tensor *hrn_conv2d(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                              struct hrn_tensor *b, const struct hrn_conv2d_params *p);
/* nn.ConvTranspose2d: x (N,C,H,W), w (C,OC,KH,KW) (PyTorch's layout), b (OC) or NULL ->
 * (N,OC,OH,OW), OH = (H-1)·stride - 2·pad + dil·(KH-1) + output_padding + 1; needs
 * output_padding <= pad. */
struct hrn_tensor *hrn_conv_transpose2d(struct hrn_tape *t, struct hrn_tensor *x,
                                        struct hrn_tensor *w, struct hrn_tensor *b,
                                        const struct hrn_conv2d_params *p);

/* nn.BatchNorm2d. running_mean/running_var (C) are the caller's buffers (model lifetime).
 * training: batch statistics, and when the buffers are given they are updated in forward as
 * PyTorch does (momentum; unbiased variance). Otherwise the running statistics are used (and
 * needed). momentum 0 means 0 (no update); eps <= 0 means 1e-5. */
struct hrn_batch_norm_params {
    float *running_mean, *running_var;
    float momentum; /* PyTorch's default is 0.1 */
    float eps;
    int training;
};
/* x (N,C,H,W); w, b (C) (affine) or both NULL. */
struct hrn_tensor *hrn_batch_norm(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                                  struct hrn_tensor *b, const struct hrn_batch_norm_params *p);
/* nn.InstanceNorm2d (no running statistics): per (sample, channel) plane, biased variance.
 * w, b (C) (affine=True) or both NULL; eps <= 0 means 1e-5. */
struct hrn_tensor *hrn_instance_norm(struct hrn_tape *t, struct hrn_tensor *x,
                                     struct hrn_tensor *w, struct hrn_tensor *b, float eps);

/* nn.MaxPool2d / nn.AvgPool2d with ceil_mode=False: stride 0 means the kernel size; padding at
 * most half the kernel. Max pooling ignores padding; average pooling counts it
 * (count_include_pad=True) unless exclude_pad. */
struct hrn_pool2d_params {
    int kernel[2], stride[2], pad[2];
    int exclude_pad;
};
struct hrn_tensor *hrn_max_pool2d(struct hrn_tape *t, struct hrn_tensor *x,
                                  const struct hrn_pool2d_params *p);
struct hrn_tensor *hrn_avg_pool2d(struct hrn_tape *t, struct hrn_tensor *x,
                                  const struct hrn_pool2d_params *p);
/* nn.AdaptiveAvgPool2d(1): (N,C,H,W) -> (N,C,1,1). */
struct hrn_tensor *hrn_global_avg_pool2d(struct hrn_tape *t, struct hrn_tensor *x);

/* F.interpolate(x, size=(oh, ow), mode='bilinear', align_corners=...) without antialias. */
struct hrn_tensor *hrn_interp_bilinear(struct hrn_tape *t, struct hrn_tensor *x, int64_t oh,
                                       int64_t ow, int align_corners);

enum hrn_pad_mode { HRN_PAD_ZERO = 0, HRN_PAD_REFLECT };
/* F.pad(x, (left, right, top, bottom)) with zeros, or nn.ReflectionPad2d (each pad smaller than
 * the dimension). */
struct hrn_tensor *hrn_pad2d(struct hrn_tape *t, struct hrn_tensor *x, int left, int right,
                             int top, int bottom, enum hrn_pad_mode mode);

/* nn.Dropout(p): in training, zero each element with probability p and scale the others by
 * 1/(1-p), with a mask drawn from hrn_rng (reproducible; not PyTorch's generator): row b of x
 * (its first dimension) from the stream keyed by (seed, global row), the global row being
 * t->coll->row0 + b, so a batch split across processes draws the masks of one process. Not
 * training, or p = 0: returns x itself. */
struct hrn_tensor *hrn_dropout(struct hrn_tape *t, struct hrn_tensor *x, float p, uint64_t seed,
                               int training);

/* nn.Linear: x (N,IN), w (OUT,IN), b (OUT) or NULL -> (N,OUT). A composition of hrn_matmul
 * (sgemm) and hrn_add, not an op of its own. */
struct hrn_tensor *hrn_linear(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                              struct hrn_tensor *b);

/* Free the cached oneDNN primitives, engine and buffers (at exit, or for leak checkers). Layers
 * used afterwards recreate them. */
void hrn_layers_release(void);

/* Inference layers for networks that are not being trained (model/net_common.c uses them):
 *
 *     struct hrn_conv_fuse bn = {bn_w, bn_b, running_mean, running_var, 1e-5f, 1};
 *     y = hrn_conv2d_fused(t, x, w, NULL, &p, &bn, 1);  // relu(bn_eval(conv(x))), one primitive
 *
 * hrn_conv2d_fused: out = relu?(bn_eval(conv2d(x, w, b))) as one oneDNN convolution with
 * per-channel multiply/add (and ReLU) post-ops, the BatchNorm folded to scale = bn_w/sqrt(var +
 * eps), shift = bn_b - mean·scale from the values at call time. fuse == NULL is a plain conv2d.
 * With a fuse, nothing may want a gradient (x, w, b and the BatchNorm's parameters; asserted).
 * bn_w/bn_b may be NULL (no affine).
 * frozen_w (both functions): w is a network parameter that wants no gradient and does not change
 * until the next hrn_dnnl_weights_changed: its reorder into oneDNN's blocked layout is kept and
 * reused across calls instead of being redone at every forward. */
struct hrn_conv_fuse {
    const float *bn_w, *bn_b, *mean, *var; /* (OC) */
    float eps;
    int relu;
};
struct hrn_tensor *hrn_conv2d_fused(struct hrn_tape *t, struct hrn_tensor *x,
                                    struct hrn_tensor *w, struct hrn_tensor *b,
                                    const struct hrn_conv2d_params *p,
                                    const struct hrn_conv_fuse *fuse, int frozen_w);
/* hrn_conv_transpose2d with frozen weights (frozen_w as above). */
struct hrn_tensor *hrn_conv_transpose2d_frozen(struct hrn_tape *t, struct hrn_tensor *x,
                                               struct hrn_tensor *w, struct hrn_tensor *b,
                                               const struct hrn_conv2d_params *p, int frozen_w);
/* Start a new weights epoch: every kept reorder of frozen weights is stale. Every writer of
 * parameter values in hrn calls it (hrn_optim_step, hrn_net_load/init/free/requires_grad,
 * hrn_layers_release, checkpoint loading); code that writes network parameter values by hand
 * must call it (or hrn_net_requires_grad) before the next forward. */
void hrn_dnnl_weights_changed(void);
/* Blocked weight copies currently kept (valid in this epoch); for tests. */
int hrn_dnnl_frozen_count(void);

/* --- parameter store ------------------------------------------------------------------------- */

enum { HRN_PARAM_NAME = 64, HRN_MAX_GROUPS = 8 };

struct hrn_param_entry {
    char name[HRN_PARAM_NAME];
    int32_t group;          /* 0..HRN_MAX_GROUPS-1, e.g. 0 = identity, 1 = pose */
    size_t offset, numel;   /* in floats, into values/grads */
    struct hrn_tensor t;    /* view into the flat buffers (PARAM | REQUIRES_GRAD) */
};

/* llm.c-style: every parameter, gradient and optimizer-state float in one buffer each. */
struct hrn_params {
    struct hrn_param_entry *entries; /* (n_entries), malloc()ed */
    int32_t n_entries, cap;
    size_t n;       /* total floats */
    float *values;  /* (n) */
    float *grads;   /* (n) */
    float *state;   /* (state_slots * n) optimizer state (momentum; Adam m then v), or NULL */
    int32_t state_slots;
    int32_t allocated;
};

void hrn_params_init(struct hrn_params *p);
/* Declare a parameter (before hrn_params_alloc). HRN_ERR_INVALID on a duplicate name, bad shape,
 * bad group or a store already allocated. *index (may be NULL) receives its index. */
enum hrn_status hrn_params_add(struct hrn_params *p, const char *name, int ndim,
                               const int64_t *shape, int group, int *index);
/* Allocate zeroed values and grads (one 64-byte aligned allocation each) and make the views. */
enum hrn_status hrn_params_alloc(struct hrn_params *p);
void hrn_params_free(struct hrn_params *p); /* NULL-safe */
/* The view of parameter i (its data/grad point into the flat buffers). */
struct hrn_tensor *hrn_params_tensor(struct hrn_params *p, int i);
/* Index of a parameter by name, -1 if none. */
int hrn_params_find(const struct hrn_params *p, const char *name);
/* Initialise parameter i with N(0, std^2) or U(lo, hi) values from rng. */
void hrn_params_fill_normal(struct hrn_params *p, int i, struct hrn_rng *r, float std);
void hrn_params_fill_uniform(struct hrn_params *p, int i, struct hrn_rng *r, float lo, float hi);
void hrn_params_zero_grad(struct hrn_params *p); /* one memset */
/* Global L2 norm of all gradients (double accumulation). */
double hrn_params_grad_norm(const struct hrn_params *p);
/* If the global norm exceeds max_norm, scale every gradient by max_norm/(norm+1e-6) (PyTorch
 * clip_grad_norm_). Returns the norm before clipping. */
double hrn_params_clip_grad_norm(struct hrn_params *p, double max_norm);

/* --- learning-rate schedules ----------------------------------------------------------------- */

enum hrn_lr_kind { HRN_LR_CONSTANT = 0, HRN_LR_STEP, HRN_LR_COSINE };

/* lr(t) = base · warmup(t) · main(t - warmup_steps), t = optimizer steps taken so far:
 * - warmup: for t < warmup_steps, start + (1 - start)·t/warmup_steps (PyTorch LinearLR with
 *   end_factor 1); 1 after;
 * - STEP: gamma^floor(t'/step_size) (StepLR); COSINE: m + (1-m)(1 + cos(pi·t'/total_steps))/2
 *   with m = min_factor (CosineAnnealingLR with eta_min = m·base), t' clamped to total_steps. */
struct hrn_lr_schedule {
    enum hrn_lr_kind kind;
    int64_t step_size;   /* STEP */
    float gamma;         /* STEP */
    int64_t total_steps; /* COSINE: steps after the warm-up */
    float min_factor;    /* COSINE */
    int64_t warmup_steps;
    float warmup_start;  /* factor at t = 0 (e.g. 0.1) */
};
/* The factor (not the rate) at step t; validated by hrn_optim_init. */
double hrn_lr_factor(const struct hrn_lr_schedule *s, int64_t t);

/* --- first-order optimizers ------------------------------------------------------------------ */

enum hrn_optim_kind { HRN_OPTIM_SGD = 0, HRN_OPTIM_ADAM, HRN_OPTIM_ADAMW };

/* The PyTorch definitions (torch.optim SGD/Adam/AdamW, 1.13): SGD weight_decay is L2 added to
 * the gradient; momentum buf = momentum·buf + (1-dampening)·g (buf = g at the first step), with
 * nesterov g + momentum·buf. Adam weight_decay is L2; AdamW's is decoupled (p *= 1 - lr·wd).
 * Zero values for beta1/beta2/eps mean 0.9/0.999/1e-8; AdamW's weight_decay 0 stays 0. */
struct hrn_optim_config {
    enum hrn_optim_kind kind;
    float lr;
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD */
    float beta1, beta2, eps;   /* Adam, AdamW */
    float weight_decay;
    struct hrn_lr_schedule schedule;
};

struct hrn_optim {
    struct hrn_optim_config cfg;
    int64_t t;                         /* steps taken */
    float group_lr[HRN_MAX_GROUPS];    /* base rate per group (default cfg.lr) */
    float last_lr;                     /* group 0's rate at the last step */
};

/* Validate (HRN_ERR_INVALID naming the field) and fill defaults. */
enum hrn_status hrn_optim_init(struct hrn_optim *o, const struct hrn_optim_config *cfg);
/* A different base rate for one parameter group (fitting: pose vs identity). */
enum hrn_status hrn_optim_set_group_lr(struct hrn_optim *o, int group, float lr);
/* The rate group g would use at the next step. */
float hrn_optim_lr(const struct hrn_optim *o, int group);
/* One update from p->grads (allocates p->state on first use). Fails with HRN_ERR_NUMERIC when a
 * gradient is NaN/Inf (naming the parameter), leaving the values unchanged. */
enum hrn_status hrn_optim_step(struct hrn_optim *o, struct hrn_params *p);

/* --- L-BFGS (wraps liblbfgs, in double) ------------------------------------------------------- */

/* The objective: set *loss and ADD d loss/d values into p->grads (zeroed before each call), for
 * the values currently in p->values. A failing status stops the minimisation with that error. */
typedef enum hrn_status (*hrn_objective_fn)(void *user, struct hrn_params *p, double *loss);

/* Why L-BFGS stopped. CONVERGED/STOPPED/ALREADY_MINIMIZED are successes; the others are not
 * errors of the caller but tell that the minimum was not certified. */
enum hrn_lbfgs_result {
    HRN_LBFGS_CONVERGED = 0,   /* |g| <= epsilon·max(1,|x|) */
    HRN_LBFGS_STOPPED,         /* relative decrease over `past` iterations below delta */
    HRN_LBFGS_ALREADY_MINIMIZED,
    HRN_LBFGS_MAX_ITER,
    HRN_LBFGS_LINESEARCH_FAILED, /* no sufficient decrease / step limits / rounding */
    HRN_LBFGS_OBJECTIVE_FAILED,  /* the objective returned an error or a non-finite value */
    HRN_LBFGS_INVALID,           /* liblbfgs rejected the settings */
};

struct hrn_lbfgs_config {
    int max_iter;       /* 0 = until converged */
    int m;              /* history size; 0 = 6 */
    double epsilon;     /* gradient tolerance; 0 = 1e-5 */
    int past;           /* delta test window; 0 = off */
    double delta;       /* relative decrease for the delta test */
    int max_linesearch; /* 0 = 40 */
};

struct hrn_lbfgs_report {
    enum hrn_lbfgs_result result;
    int code;          /* liblbfgs's return code */
    int iterations, evaluations;
    double loss;       /* at the returned values */
    char why[160];     /* a sentence for logs */
};

/* Minimise over all of p->values. Returns HRN_OK when the optimiser ran (read rep->result for why
 * it stopped), the objective's status if it failed, HRN_ERR_INVALID for bad settings, or
 * HRN_ERR_NOMEM. Group learning rates do not apply. */
enum hrn_status hrn_lbfgs_minimize(struct hrn_params *p, hrn_objective_fn fn, void *user,
                                   const struct hrn_lbfgs_config *cfg,
                                   struct hrn_lbfgs_report *rep);
const char *hrn_lbfgs_result_str(enum hrn_lbfgs_result r);

/* --- gradient checker ------------------------------------------------------------------------ */

/* Build the function under test on tape t from the given inputs and return its output (any
 * shape) in *out. It is called many times; it must be deterministic. */
typedef enum hrn_status (*hrn_gradcheck_fn)(struct hrn_tape *t, struct hrn_tensor *const *inputs,
                                            int n_inputs, void *user, struct hrn_tensor **out);

struct hrn_gradcheck_opts {
    double h;             /* step; 0 = 1e-2 (float32 inputs of order 1) */
    double atol, rtol;    /* 0 = 1e-3 and 1e-2 */
    double max_zero_frac; /* fail if more of the analytic gradients are ~0; 0 = 0.9 */
    int max_per_input;    /* elements checked per input (a random subset); 0 = 64 */
    int four_point;       /* 4-point stencil for ops with large third derivatives */
    uint64_t seed;        /* weights r and the subset; 0 = 1 */
};

struct hrn_gradcheck_report {
    int n_checked, n_failed, n_zero; /* elements compared, over tolerance, |ga| ~ 0 */
    double max_abs_err;              /* max |ga - gn| */
    double mean_asym;                /* mean |ga-gn|/(|ga|+|gn|) (ggml's asymmetry) */
    int worst_input;
    int64_t worst_index;
    double worst_ga, worst_gn;
    double accum_err;                /* max |g2 - 2·g1| / max|g1| over the double-backward check */
    char msg[256];
};

/* Check the analytic gradient of L = sum(r ⊙ fn(inputs)) against central differences in double,
 * for each input (leaves on t, made with hrn_tape_tensor; their values are restored). Per element
 * |ga-gn| <= atol + rtol·max(|ga|,|gn|). Also fails when more than max_zero_frac of the analytic
 * gradients are ~0 (a check that cannot fail proves nothing), and when a second backward without
 * zeroing does not double the gradient (= instead of +=). Returns HRN_OK or HRN_ERR_NUMERIC with
 * the worst element in the message; errors of fn are passed on. rep may be NULL. The tape is
 * rewound to its state at entry (plus the inputs' gradient buffers); the inputs' flags and grad
 * pointers are restored. Inputs may also be parameter views (their store gradients are zeroed
 * first and hold twice the analytic gradient afterwards). fn must build from the inputs only
 * (constants may be wrapped inside fn); 1 to 16 inputs. */
enum hrn_status hrn_gradcheck(struct hrn_tape *t, struct hrn_tensor *const *inputs, int n_inputs,
                              hrn_gradcheck_fn fn, void *user,
                              const struct hrn_gradcheck_opts *opts,
                              struct hrn_gradcheck_report *rep);

#ifdef __cplusplus
}
#endif
#endif /* HRN_AUTODIFF_H */
