/* tape.c: the op table, node creation, and the reverse walk (backward). */
#include "ad_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* --- op table -------------------------------------------------------------------------------- */

#define U(nm) {nm, 1, 0, hrn__unary_fwd, hrn__unary_bwd}
const struct hrn_op_info hrn_op_table[HRN_OP_COUNT] = {
    [HRN_OP_NONE] = {"none", 0, 0, NULL, NULL},
    [HRN_OP_ADD] = {"add", 2, 0, hrn__add_fwd, hrn__add_bwd},
    [HRN_OP_SUB] = {"sub", 2, 0, hrn__sub_fwd, hrn__sub_bwd},
    [HRN_OP_MUL] = {"mul", 2, 0, hrn__mul_fwd, hrn__mul_bwd},
    [HRN_OP_DIV] = {"div", 2, 0, hrn__div_fwd, hrn__div_bwd},
    [HRN_OP_MASK_MUL] = {"mask_mul", 2, 1u << 1, hrn__mask_mul_fwd, hrn__mask_mul_bwd},
    [HRN_OP_NEG] = U("neg"),
    [HRN_OP_SCALE] = U("scale"),
    [HRN_OP_ADD_SCALAR] = U("add_scalar"),
    [HRN_OP_EXP] = U("exp"),
    [HRN_OP_LOG] = U("log"),
    [HRN_OP_SQRT] = U("sqrt"),
    [HRN_OP_RSQRT] = U("rsqrt"),
    [HRN_OP_POW] = U("pow"),
    [HRN_OP_ABS] = U("abs"),
    [HRN_OP_SQUARE] = U("square"),
    [HRN_OP_RELU] = U("relu"),
    [HRN_OP_LEAKY_RELU] = U("leaky_relu"),
    [HRN_OP_SIGMOID] = U("sigmoid"),
    [HRN_OP_TANH] = U("tanh"),
    [HRN_OP_SOFTPLUS] = U("softplus"),
    [HRN_OP_CLAMP] = U("clamp"),
    [HRN_OP_SUM] = {"sum", 1, 0, hrn__sum_fwd, hrn__sum_bwd},
    [HRN_OP_MEAN] = {"mean", 1, 0, hrn__mean_fwd, hrn__mean_bwd},
    [HRN_OP_SUM_AXIS] = {"sum_axis", 1, 0, hrn__sum_axis_fwd, hrn__sum_axis_bwd},
    [HRN_OP_MEAN_AXIS] = {"mean_axis", 1, 0, hrn__mean_axis_fwd, hrn__mean_axis_bwd},
    [HRN_OP_L2NORM] = {"l2norm", 1, 0, hrn__l2norm_fwd, hrn__l2norm_bwd},
    [HRN_OP_MATMUL] = {"matmul", 2, 0, hrn__matmul_fwd, hrn__matmul_bwd},
    [HRN_OP_BMM] = {"bmm", 2, 0, hrn__bmm_fwd, hrn__bmm_bwd},
    [HRN_OP_RESHAPE] = {"reshape", 1, 0, hrn__reshape_fwd, hrn__reshape_bwd},
    [HRN_OP_PERMUTE] = {"permute", 1, 0, hrn__permute_fwd, hrn__permute_bwd},
    [HRN_OP_CONCAT] = {"concat", -1, 0, hrn__concat_fwd, hrn__concat_bwd},
    [HRN_OP_SLICE] = {"slice", 1, 0, hrn__slice_fwd, hrn__slice_bwd},
    [HRN_OP_GATHER_ROWS] = {"gather_rows", 1, 0, hrn__gather_rows_fwd, hrn__gather_rows_bwd},
    [HRN_OP_SCATTER_ADD_ROWS] = {"scatter_add_rows", 1, 0, hrn__scatter_add_rows_fwd,
                                 hrn__scatter_add_rows_bwd},
    [HRN_OP_SPMM] = {"spmm", 1, 0, hrn__spmm_fwd, hrn__spmm_bwd},
    [HRN_OP_CROSS] = {"cross", 2, 0, hrn__cross_fwd, hrn__cross_bwd},
    [HRN_OP_NORMALIZE] = {"normalize", 1, 0, hrn__normalize_fwd, hrn__normalize_bwd},
    [HRN_OP_EULER_ROT] = {"euler_rot", 1, 0, hrn__euler_rot_fwd, hrn__euler_rot_bwd},
    [HRN_OP_CONV2D] = {"conv2d", -1, 0, hrn__conv2d_fwd, hrn__conv2d_bwd},
    [HRN_OP_CONV_TRANSPOSE2D] = {"conv_transpose2d", -1, 0, hrn__conv_transpose2d_fwd,
                                 hrn__conv_transpose2d_bwd},
    [HRN_OP_BATCH_NORM] = {"batch_norm", -1, 0, hrn__batch_norm_fwd, hrn__batch_norm_bwd},
    [HRN_OP_INSTANCE_NORM] = {"instance_norm", -1, 0, hrn__instance_norm_fwd,
                              hrn__instance_norm_bwd},
    [HRN_OP_MAX_POOL2D] = {"max_pool2d", 1, 0, hrn__max_pool2d_fwd, hrn__max_pool2d_bwd},
    [HRN_OP_AVG_POOL2D] = {"avg_pool2d", 1, 0, hrn__avg_pool2d_fwd, hrn__avg_pool2d_bwd},
    [HRN_OP_RESIZE_BILINEAR] = {"resize_bilinear", 1, 0, hrn__resize_bilinear_fwd,
                                hrn__resize_bilinear_bwd},
    [HRN_OP_PAD2D] = {"pad2d", 1, 0, hrn__pad2d_fwd, hrn__pad2d_bwd},
    [HRN_OP_DROPOUT] = {"dropout", 1, 0, hrn__dropout_fwd, hrn__dropout_bwd},
    [HRN_OP_CUSTOM] = {"custom", -1, 0, hrn__custom_fwd, hrn__custom_bwd},
};
#undef U
_Static_assert(sizeof hrn_op_table / sizeof hrn_op_table[0] == HRN_OP_COUNT,
               "hrn_op_table out of sync with enum hrn_op");
_Static_assert(HRN_OP_COUNT < 256, "op ids must fit the tensor's int32 op field comfortably");

const char *hrn_op_name(int op) {
    if (op < 0 || op >= HRN_OP_COUNT || !hrn_op_table[op].name) return "?";
    return hrn_op_table[op].name;
}

/* --- tape ------------------------------------------------------------------------------------ */

enum hrn_status hrn_tape_init(struct hrn_tape *t, size_t arena_bytes) {
    memset(t, 0, sizeof *t);
    enum hrn_status st = hrn_arena_init(&t->arena, arena_bytes);
    if (st != HRN_OK) return hrn_error_prefix(st, "tape");
    t->cap = 1024;
    t->nodes = malloc((size_t)t->cap * sizeof *t->nodes);
    if (!t->nodes) {
        hrn_arena_free(&t->arena);
        return hrn_error_set(HRN_ERR_NOMEM, "tape: cannot allocate the node list");
    }
    return HRN_OK;
}

void hrn_tape_free(struct hrn_tape *t) {
    if (!t) return;
    hrn_arena_free(&t->arena);
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

void hrn_tape_reset(struct hrn_tape *t) {
    hrn_arena_reset(&t->arena);
    t->n_nodes = 0;
    t->n_backward = 0;
}

struct hrn_tape_mark hrn_tape_mark(const struct hrn_tape *t) {
    return (struct hrn_tape_mark){hrn_arena_mark(&t->arena), t->n_nodes};
}

void hrn_tape_rewind(struct hrn_tape *t, struct hrn_tape_mark m) {
    HRN_ASSERT(m.n_nodes <= t->n_nodes);
    hrn_arena_rewind(&t->arena, m.arena);
    t->n_nodes = m.n_nodes;
}

void *hrn__scratch(struct hrn_tape *t, size_t bytes) {
    void *p = hrn_arena_alloc(&t->arena, bytes ? bytes : 1, 0);
    if (!p) hrn_error_prefix(HRN_ERR_NOMEM, "tape arena full (enlarge it in hrn_tape_init)");
    return p;
}

struct hrn_tensor *hrn_tape_tensor(struct hrn_tape *t, int ndim, const int64_t *shape,
                                   const char *name) {
    return hrn_tensor_new(&t->arena, ndim, shape, name);
}

struct hrn_tensor *hrn_tape_wrap(struct hrn_tape *t, float *data, int ndim, const int64_t *shape,
                                 const char *name) {
    struct hrn_tensor *x = hrn_arena_alloc(&t->arena, sizeof *x, 0);
    if (!x) return NULL;
    if (hrn_tensor_wrap(x, data, ndim, shape, name) != HRN_OK) return NULL;
    return x;
}

enum hrn_status hrn_tape_requires_grad(struct hrn_tape *t, struct hrn_tensor *x) {
    if (!x) return hrn_error_set(HRN_ERR_INVALID, "requires_grad: tensor is NULL");
    if (x->flags & HRN_TENSOR_NO_GRAD_INPUT)
        return hrn_error_set(HRN_ERR_INVALID,
                             "requires_grad: '%s' is marked HRN_TENSOR_NO_GRAD_INPUT (an index or "
                             "mask input)",
                             x->name);
    if (x->op != HRN_OP_NONE)
        return hrn_error_set(HRN_ERR_INVALID,
                             "requires_grad: '%s' is the output of op %s; only leaves can be "
                             "marked (outputs get gradients when their inputs do)",
                             x->name, hrn_op_name(x->op));
    if (!x->grad) {
        x->grad = hrn_arena_calloc(&t->arena, (size_t)x->numel * sizeof(float), 0);
        if (!x->grad) return hrn_error_prefix(HRN_ERR_NOMEM, "requires_grad '%s'", x->name);
    }
    x->flags |= HRN_TENSOR_REQUIRES_GRAD;
    return HRN_OK;
}

struct hrn_tensor *hrn_detach(struct hrn_tape *t, struct hrn_tensor *x) {
    if (hrn__null_input("detach", &x, 1)) return NULL;
    struct hrn_tensor *y = hrn_arena_alloc(&t->arena, sizeof *y, 0);
    if (!y) return NULL;
    hrn_tensor_wrap(y, x->data, x->ndim, x->shape, x->name);
    return y;
}

const char *hrn_tensor_label(const struct hrn_tape *t, const struct hrn_tensor *x, char *buf,
                             size_t cap) {
    if (!x) {
        snprintf(buf, cap, "(null)");
    } else if (x->name[0]) {
        snprintf(buf, cap, "'%s'", x->name);
    } else if (x->op == HRN_OP_NONE) {
        snprintf(buf, cap, "a leaf");
    } else {
        int idx = -1;
        if (t)
            for (int32_t i = t->n_nodes - 1; i >= 0; i--)
                if (t->nodes[i] == x) {
                    idx = i;
                    break;
                }
        snprintf(buf, cap, "%s#%d", x->op == HRN_OP_CUSTOM ? hrn_custom_info(x)->name : hrn_op_name(x->op),
                 idx);
    }
    return buf;
}

int hrn__null_input(const char *op, struct hrn_tensor *const *xs, int n) {
    for (int i = 0; i < n; i++) {
        if (xs[i]) continue;
        /* keep the message of the op that failed first: it names the real cause */
        if (!hrn_error_msg()[0])
            hrn_error_set(HRN_ERR_INVALID, "%s: input %d is NULL", op, i);
        return 1;
    }
    return 0;
}

struct hrn_tensor *hrn__shape_error(const struct hrn_tape *t, const char *op,
                                    const struct hrn_tensor *a, const struct hrn_tensor *b,
                                    const char *why) {
    char sa[64], sb[64], la[48], lb[48];
    hrn_tensor_shape_str(a, sa, sizeof sa);
    hrn_tensor_label(t, a, la, sizeof la);
    if (b) {
        hrn_tensor_shape_str(b, sb, sizeof sb);
        hrn_tensor_label(t, b, lb, sizeof lb);
        hrn_error_set(HRN_ERR_INVALID, "%s: shapes %s (%s) and %s (%s) %s", op, sa, la, sb, lb,
                      why);
    } else {
        hrn_error_set(HRN_ERR_INVALID, "%s: shape %s (%s) %s", op, sa, la, why);
    }
    return NULL;
}

struct hrn_tensor *hrn__node(struct hrn_tape *t, int op, int ndim, const int64_t *shape,
                             struct hrn_tensor *const *src, int n_src, const void *params,
                             size_t params_size, int alloc_data) {
    HRN_ASSERT(op > HRN_OP_NONE && op < HRN_OP_COUNT);
    HRN_ASSERT(n_src >= 1 && n_src <= HRN_MAX_SRC && params_size <= HRN_MAX_OP_PARAMS);
    int64_t numel = hrn_shape_numel(ndim, shape);
    HRN_ASSERT(numel > 0);
    struct hrn_tensor *out = hrn_arena_alloc(&t->arena, sizeof *out, 0);
    if (!out) goto nomem;
    memset(out, 0, sizeof *out);
    out->ndim = ndim;
    for (int i = 0; i < HRN_MAX_DIMS; i++) out->shape[i] = i < ndim ? shape[i] : 1;
    out->numel = numel;
    out->op = op;
    if (params) memcpy(out->op_params, params, params_size);
    uint8_t nodiff = hrn__nodiff(out);
    for (int i = 0; i < n_src; i++) {
        out->src[i] = src[i];
        if ((src[i]->flags & HRN_TENSOR_REQUIRES_GRAD) && !(nodiff & (1u << i)) &&
            !(src[i]->flags & HRN_TENSOR_NO_GRAD_INPUT))
            out->flags |= HRN_TENSOR_REQUIRES_GRAD;
    }
    if (alloc_data) {
        out->data = hrn_arena_alloc(&t->arena, (size_t)numel * sizeof(float), 0);
        if (!out->data) goto nomem;
    }
    enum hrn_status st = hrn_op_table[op].forward(t, out);
    if (st != HRN_OK) {
        hrn_error_prefix(st, "%s forward", hrn_op_name(op));
        return NULL;
    }
    if (t->n_nodes == t->cap) {
        int32_t cap = t->cap * 2;
        struct hrn_tensor **nodes = realloc(t->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            hrn_error_set(HRN_ERR_NOMEM, "tape: cannot grow the node list to %d", (int)cap);
            return NULL;
        }
        t->nodes = nodes;
        t->cap = cap;
    }
    t->nodes[t->n_nodes++] = out;
    return out;
nomem:
    hrn_error_prefix(HRN_ERR_NOMEM, "%s: tape arena full (enlarge it in hrn_tape_init)",
                     hrn_op_name(op));
    return NULL;
}

/* --- backward -------------------------------------------------------------------------------- */

static enum hrn_status check_finite(const struct hrn_tape *t, const struct hrn_tensor *node) {
    for (int i = 0; i < HRN_MAX_SRC; i++) {
        const struct hrn_tensor *s = node->src[i];
        if (!hrn__wants_grad(node, i)) continue;
        for (int64_t k = 0; k < s->numel; k++)
            if (!isfinite(s->grad[k])) {
                char l[48], ls[48];
                return hrn_error_set(HRN_ERR_NUMERIC,
                                     "backward of %s: gradient of input %d (%s) is %g at %lld",
                                     hrn_tensor_label(t, node, l, sizeof l), i,
                                     hrn_tensor_label(t, s, ls, sizeof ls), (double)s->grad[k],
                                     (long long)k);
            }
    }
    return HRN_OK;
}

static int check_finite_enabled(void) {
    static int v = -1; /* read once; HRN_CHECK_FINITE=1 hunts NaNs in long fits */
    if (v < 0) {
        const char *e = getenv("HRN_CHECK_FINITE");
        v = e && *e && *e != '0';
    }
    return v;
}

enum hrn_status hrn_tape_backward_seed(struct hrn_tape *t, struct hrn_tensor *out,
                                       const float *seed) {
    char lab[48];
    if (!out)
        return hrn_error_prefix(HRN_ERR_INVALID,
                                "backward: the loss is NULL because an earlier op failed");
    if (!(out->flags & HRN_TENSOR_REQUIRES_GRAD))
        return hrn_error_set(HRN_ERR_INVALID,
                             "backward: %s does not depend on anything that requires a gradient: "
                             "no parameters. Use tensors from hrn_params_tensor() or mark leaves "
                             "with hrn_tape_requires_grad() before building the loss",
                             hrn_tensor_label(t, out, lab, sizeof lab));
    int32_t last = -1;
    if (out->op == HRN_OP_NONE) {
        /* a leaf loss: its own gradient is all there is */
        for (int64_t k = 0; k < out->numel; k++) out->grad[k] += seed[k];
        t->n_backward++;
        return HRN_OK;
    }
    for (int32_t i = t->n_nodes - 1; i >= 0; i--)
        if (t->nodes[i] == out) {
            last = i;
            break;
        }
    if (last < 0)
        return hrn_error_set(HRN_ERR_INVALID,
                             "backward: %s is not on this tape (made on another tape, or dropped "
                             "by hrn_tape_reset/rewind)",
                             hrn_tensor_label(t, out, lab, sizeof lab));
    /* Intermediate gradients start from zero on every call; leaves accumulate. */
    for (int32_t i = 0; i <= last; i++) {
        struct hrn_tensor *n = t->nodes[i];
        if (!(n->flags & HRN_TENSOR_REQUIRES_GRAD)) continue;
        size_t bytes = (size_t)n->numel * sizeof(float);
        if (!n->grad) {
            n->grad = hrn_arena_alloc(&t->arena, bytes, 0);
            if (!n->grad)
                return hrn_error_prefix(HRN_ERR_NOMEM, "backward: gradient of %s",
                                        hrn_tensor_label(t, n, lab, sizeof lab));
        }
        memset(n->grad, 0, bytes);
    }
    memcpy(out->grad, seed, (size_t)out->numel * sizeof(float));
    int check = check_finite_enabled();
    for (int32_t i = last; i >= 0; i--) {
        struct hrn_tensor *n = t->nodes[i];
        if (!(n->flags & HRN_TENSOR_REQUIRES_GRAD)) continue;
        struct hrn_tape_mark m = hrn_tape_mark(t); /* scratch of one backward is dropped after it */
        enum hrn_status st = hrn_op_table[n->op].backward(t, n);
        hrn_arena_rewind(&t->arena, m.arena);
        if (st != HRN_OK)
            return hrn_error_prefix(st, "backward of %s", hrn_tensor_label(t, n, lab, sizeof lab));
        if (check && (st = check_finite(t, n)) != HRN_OK) return st;
    }
    t->n_backward++;
    return HRN_OK;
}

enum hrn_status hrn_tape_backward(struct hrn_tape *t, struct hrn_tensor *loss) {
    if (!loss)
        return hrn_error_prefix(HRN_ERR_INVALID,
                                "backward: the loss is NULL because an earlier op failed");
    if (loss->numel != 1) {
        char s[64], l[48];
        return hrn_error_set(HRN_ERR_INVALID,
                             "backward: the loss %s has shape %s; backward needs a scalar "
                             "(one element): reduce it with hrn_sum_all or hrn_mean_all, or use "
                             "hrn_tape_backward_seed",
                             hrn_tensor_label(t, loss, l, sizeof l),
                             hrn_tensor_shape_str(loss, s, sizeof s));
    }
    const float one = 1.0f;
    return hrn_tape_backward_seed(t, loss, &one);
}
