/* losses_impl.h: helpers shared by the loss files (private to the losses module). */
#ifndef HRN_LOSSES_IMPL_H
#define HRN_LOSSES_IMPL_H

#include "hrn_losses.h"

/* 1 (and a message unless one is already set: the first failure names the cause) when one of the
 * n inputs is NULL. */
int hrn__loss_null(const char *loss, struct hrn_tensor *const *xs, int n);
/* HRN_ERR_INVALID "loss: what (got (a,b,c))"; returns NULL for `return hrn__loss_bad(...)`. */
struct hrn_tensor *hrn__loss_bad(const char *loss, const struct hrn_tensor *x, const char *what);
/* A leaf on the tape that shares x's data and never gets or passes a gradient (masks). */
struct hrn_tensor *hrn__loss_const(struct hrn_tape *t, const float *data, int ndim,
                                   const int64_t *shape, const char *name);
/* A tape-owned copy of n floats (NULL + HRN_ERR_NOMEM when the arena is full). */
float *hrn__loss_floats(struct hrn_tape *t, int64_t n);

#endif
