/* fit_impl.h: what the train module's files share (not part of the public API). */
#ifndef HRN_FIT_IMPL_H
#define HRN_FIT_IMPL_H

#include "hrn_train.h"

/* The tensors of one view's forward pass (tape-owned; NULL where not computed). */
struct fit_fwd {
    struct hrn_tensor *c;    /* (n_coeffs) */
    struct hrn_tensor *S;    /* (N,3) canonical shape (S0, or S1 = S0 + D at level >= 1) */
    struct hrn_tensor *V;    /* (N,3) posed */
    struct hrn_tensor *uvz;  /* (N,3) projected */
    struct hrn_tensor *lm;   /* (1,n_lm,2) projected landmarks */
    struct hrn_tensor *nrm;  /* (N,3) posed normals */
    struct hrn_tensor *A;    /* (N,3) albedo */
    struct hrn_tensor *rast; /* (224,224,4) */
    struct hrn_tensor *img;  /* (3,224,224) */
};

/* Record view k's forward pass at a level (0 base, 1 mid, 2 high) on f->tape; render = 0 stops
 * after the landmarks. Failures leave NULLs (the message is kept). */
void fit_forward(struct hrn_fit *f, int k, int level, int render, struct fit_fwd *o);
const char *fit_group_name(int g);

#endif /* HRN_FIT_IMPL_H */
