/* op_custom.c: HRN_OP_CUSTOM, the extension point for ops that live in other modules (the
 * rasterizer and UV samplers in model/, the losses). The node keeps a pointer to the op's static
 * description and to its context; the table entry only dispatches. */
#include "ad_impl.h"

enum hrn_status hrn__custom_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct hrn__custom_params *p = HRN__PARAMS(out, const struct hrn__custom_params);
    return p->op->forward(t, out);
}

enum hrn_status hrn__custom_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct hrn__custom_params *p = HRN__PARAMS(out, const struct hrn__custom_params);
    return p->op->backward(t, out);
}

_Static_assert(sizeof(struct hrn__custom_params) <= HRN_MAX_OP_PARAMS,
               "custom op parameters must fit in op_params");

struct hrn_tensor *hrn_custom(struct hrn_tape *t, const struct hrn_custom_op *op, void *ctx,
                              struct hrn_tensor *const *src, int n_src, int ndim,
                              const int64_t *shape) {
    HRN_ASSERT(op && op->name && op->forward && op->backward);
    if (n_src < 1 || n_src > HRN_MAX_SRC) {
        hrn_error_set(HRN_ERR_INVALID, "%s: %d inputs, expected 1 to %d", op->name, n_src,
                      HRN_MAX_SRC);
        return NULL;
    }
    if (hrn__null_input(op->name, src, n_src)) return NULL;
    if (hrn_shape_numel(ndim, shape) < 1) {
        hrn_error_set(HRN_ERR_INVALID, "%s: bad output shape (%d dimensions)", op->name, ndim);
        return NULL;
    }
    struct hrn__custom_params p = {op, ctx};
    struct hrn_tensor *out = hrn__node(t, HRN_OP_CUSTOM, ndim, shape, src, n_src, &p, sizeof p, 1);
    if (!out) hrn_error_prefix(HRN_ERR_INVALID, "%s", op->name); /* the message says why */
    return out;
}

const struct hrn_custom_op *hrn_custom_info(const struct hrn_tensor *out) {
    HRN_ASSERT(out && out->op == HRN_OP_CUSTOM);
    return HRN__PARAMS(out, const struct hrn__custom_params)->op;
}

void *hrn_custom_ctx(const struct hrn_tensor *out) {
    HRN_ASSERT(out && out->op == HRN_OP_CUSTOM);
    return HRN__PARAMS(out, const struct hrn__custom_params)->ctx;
}

int hrn_src_wants_grad(const struct hrn_tensor *out, int i) {
    return i >= 0 && i < HRN_MAX_SRC && hrn__wants_grad(out, i);
}

void *hrn_tape_alloc(struct hrn_tape *t, size_t bytes) { return hrn__scratch(t, bytes); }
