/* op_dropout.c: inverted dropout (nn.Dropout): in training each element is kept with
 * probability 1-p and scaled by 1/(1-p), else zeroed; the mask comes from hrn_rng seeded by the
 * caller, so a step is reproducible (PyTorch's generator differs: parity tests compare the rule,
 * not the mask). The mask is kept (one byte per element, step memory) for backward. */
#include "ad_impl.h"

enum { DROPOUT_PURPOSE = 0x64726f70 }; /* "drop": the key of the mask streams */

struct dropout_params {
    float p;
    uint64_t seed;
};

struct hrn_tensor *hrn_dropout(struct hrn_tape *t, struct hrn_tensor *x, float p, uint64_t seed,
                               int training) {
    if (hrn__null_input("dropout", &x, 1)) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) {
        hrn_error_set(HRN_ERR_INVALID, "dropout: p = %g must be in [0, 1)", (double)p);
        return NULL;
    }
    if (!training || p == 0.0f) return x; /* the identity: no node */
    struct dropout_params dp = {p, seed};
    return hrn__node(t, HRN_OP_DROPOUT, x->ndim, x->shape, &x, 1, &dp, sizeof dp, 1);
}

enum hrn_status hrn__dropout_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const struct dropout_params *p = HRN__PARAMS(o, const struct dropout_params);
    uint8_t *mask = hrn__scratch(t, (size_t)o->numel);
    if (!mask) return HRN_ERR_NOMEM;
    const float scale = 1.0f / (1.0f - p->p);
    const float *x = o->src[0]->data;
    const int64_t rows = o->ndim > 0 ? o->shape[0] : 1, per = rows > 0 ? o->numel / rows : 0;
    const int64_t row0 = t->coll ? t->coll->row0 : 0;
    for (int64_t b = 0; b < rows; b++) {
        struct hrn_rng r;
        hrn_rng_seed_keyed(&r, p->seed, (uint64_t)(row0 + b), DROPOUT_PURPOSE, 0);
        for (int64_t i = b * per; i < (b + 1) * per; i++) {
            mask[i] = hrn_rng_uniformf(&r) >= p->p;
            o->data[i] = mask[i] ? x[i] * scale : 0.0f;
        }
    }
    o->saved = mask;
    return HRN_OK;
}

enum hrn_status hrn__dropout_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct dropout_params *p = HRN__PARAMS(o, const struct dropout_params);
    const uint8_t *mask = o->saved;
    const float scale = 1.0f / (1.0f - p->p);
    float *dx = o->src[0]->grad;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, o->numel, if (mask[i]) dx[i] += o->grad[i] * scale;);
    return HRN_OK;
}
