/* op_linear.c: nn.Linear as a composition of matmul (sgemm, x·wᵀ) and a broadcast add. */
#include "ad_impl.h"

struct hrn_tensor *hrn_linear(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                              struct hrn_tensor *b) {
    if (hrn__null_input("linear", (struct hrn_tensor *[]){x, w}, 2)) return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return hrn__shape_error(t, "linear", x, w, "must be x (N,IN) and w (OUT,IN)");
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return hrn__shape_error(t, "linear", w, b, "disagree: the bias must be (OUT)");
    struct hrn_tensor *y = hrn_matmul(t, x, w, HRN_MATMUL_TRANS_B); /* (N,OUT) */
    return b ? hrn_add(t, y, b) : y;
}
