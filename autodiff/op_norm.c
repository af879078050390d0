/* op_norm.c: batch norm and instance norm through oneDNN's batch-normalization primitive.
 *
 * Batch norm, PyTorch's BatchNorm2d: training normalises with the batch mean and the BIASED
 * variance and updates the running statistics as running = (1-m)·running + m·stat with the
 * UNBIASED variance (·n/(n-1), n = N·H·W); inference uses the running statistics
 * (use_global_stats), and its backward treats them as constants.
 * Instance norm, PyTorch's InstanceNorm2d (no running statistics): the same primitive over the
 * (1, N·C, H, W) view, so every (sample, channel) plane is normalised on its own; the affine
 * weight (C) is tiled to N·C and its gradient summed back over the samples.
 * All tensors plain NCHW; gradients are ADDED (the wrapper accumulates).
 */
#include "dnnl_impl.h"

struct bn_params {
    float *running_mean, *running_var; /* (C), model lifetime; NULL for instance norm */
    float momentum, eps;
    int32_t training, instance, affine;
};

struct bn_saved {
    float *mean, *var; /* (C') batch statistics (training) */
    float *scale, *shift; /* (C') the tiled affine parameters (instance norm) */
};

static struct hrn_tensor *norm_node(struct hrn_tape *t, int instance, struct hrn_tensor *x,
                                    struct hrn_tensor *w, struct hrn_tensor *b,
                                    const struct hrn_batch_norm_params *q) {
    const char *name = instance ? "instance_norm" : "batch_norm";
    struct hrn_tensor *src[3] = {x, w, b};
    if (hrn__null_input(name, src, 1)) return NULL;
    if (x->ndim != 4) return hrn__shape_error(t, name, x, NULL, "must be 4-d (N,C,H,W)");
    if ((w == NULL) != (b == NULL)) {
        hrn_error_set(HRN_ERR_INVALID, "%s: give both weight and bias (affine) or neither",
                      name);
        return NULL;
    }
    int64_t C = x->shape[1];
    if (w && (w->numel != C || b->numel != C))
        return hrn__shape_error(t, name, x, w, "disagree: weight and bias need C elements");
    struct bn_params p = {NULL, NULL, q ? q->momentum : 0.1f, q && q->eps > 0 ? q->eps : 1e-5f,
                          instance ? 1 : (q ? q->training : 1), instance, w != NULL};
    if (!instance) {
        if (!q || !q->running_mean || !q->running_var) {
            if (!p.training) {
                hrn_error_set(HRN_ERR_INVALID,
                              "batch_norm: inference mode needs running_mean and running_var");
                return NULL;
            }
        } else {
            p.running_mean = q->running_mean;
            p.running_var = q->running_var;
        }
        if (p.training && x->numel / C < 2) {
            hrn_error_set(HRN_ERR_INVALID,
                          "batch_norm: training needs more than one value per channel (input "
                          "(%lld,%lld,%lld,%lld)), as PyTorch",
                          (long long)x->shape[0], (long long)C, (long long)x->shape[2],
                          (long long)x->shape[3]);
            return NULL;
        }
    }
    return hrn__node(t, instance ? HRN_OP_INSTANCE_NORM : HRN_OP_BATCH_NORM, 4, x->shape, src,
                     w ? 3 : 1, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_batch_norm(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                                  struct hrn_tensor *b, const struct hrn_batch_norm_params *p) {
    return norm_node(t, 0, x, w, b, p);
}

struct hrn_tensor *hrn_instance_norm(struct hrn_tape *t, struct hrn_tensor *x,
                                     struct hrn_tensor *w, struct hrn_tensor *b, float eps) {
    struct hrn_batch_norm_params q = {.eps = eps, .training = 1};
    return norm_node(t, 1, x, w, b, &q);
}

/* --- primitives ------------------------------------------------------------------------------ */

/* the primitive's data dims: (N,C,H,W), or (1,N·C,H,W) for instance norm */
static void dims_of(const struct hrn_tensor *o, int64_t d[4]) {
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    d[0] = p->instance ? 1 : o->shape[0];
    d[1] = p->instance ? o->shape[0] * o->shape[1] : o->shape[1];
    d[2] = o->shape[2];
    d[3] = o->shape[3];
}

static unsigned flags_of(const struct bn_params *p) {
    return (p->affine ? (unsigned)(dnnl_use_scale | dnnl_use_shift) : 0u) |
           (p->training ? 0u : (unsigned)dnnl_use_global_stats);
}

static void make_key(int64_t *key, int kind, const int64_t d[4], unsigned flags, float eps) {
    memset(key, 0, HRN__DNNL_KEY * sizeof *key);
    uint32_t eb;
    memcpy(&eb, &eps, sizeof eb);
    int64_t v[] = {kind, d[0], d[1], d[2], d[3], flags, eb};
    memcpy(key, v, sizeof v);
}

static enum hrn_status get_fwd(const int64_t d[4], unsigned flags, float eps,
                               struct hrn__dnnl_prim **out) {
    enum hrn_status st = HRN_OK;
    int64_t key[HRN__DNNL_KEY];
    make_key(key, HRN__DK_BN_FWD, d, flags, eps);
    if ((*out = hrn__dnnl_find(key))) return HRN_OK;
    dnnl_memory_desc_t x = hrn__dnnl_md(4, d, dnnl_nchw), c = hrn__dnnl_md(1, &d[1], dnnl_x);
    dnnl_batch_normalization_desc_t desc;
    /* training prop in both modes: with use_global_stats it reads the given statistics, and it
     * is the hint the backward primitive wants */
    HRN_DNNL(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &x, eps,
                                                        flags));
    int global = (flags & dnnl_use_global_stats) != 0;
    enum hrn__dnnl_dir sd = global ? HRN__DNNL_IN : HRN__DNNL_OUT;
    struct hrn__dnnl_argspec spec[6] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &x},
                                        {DNNL_ARG_DST, HRN__DNNL_OUT, &x},
                                        {DNNL_ARG_MEAN, sd, &c},
                                        {DNNL_ARG_VARIANCE, sd, &c},
                                        {DNNL_ARG_SCALE, HRN__DNNL_IN, &c},
                                        {DNNL_ARG_SHIFT, HRN__DNNL_IN, &c}};
    return hrn__dnnl_create(key, &desc, NULL, (flags & dnnl_use_scale) ? 6 : 4, spec, out);
fail:
    return st;
}

/* out (N,C,H,W) = (x - mean)/sqrt(var + eps)·w + b */
static enum hrn_status norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    enum hrn_status st = HRN_OK;
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    int64_t d[4];
    dims_of(o, d);
    unsigned flags = flags_of(p);
    struct hrn__dnnl_prim *prim = NULL;
    HRN_TRY(get_fwd(d, flags, p->eps, &prim));
    struct bn_saved *s = hrn__scratch(t, sizeof *s);
    if (!s) return HRN_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    const int64_t Cp = d[1], C = o->shape[1];
    if (p->affine) {
        if (p->instance) { /* tile (C) -> (N·C) */
            s->scale = hrn__scratch(t, (size_t)Cp * sizeof(float));
            s->shift = hrn__scratch(t, (size_t)Cp * sizeof(float));
            if (!s->scale || !s->shift) return HRN_ERR_NOMEM;
            for (int64_t i = 0; i < Cp; i++) {
                s->scale[i] = o->src[1]->data[i % C];
                s->shift[i] = o->src[2]->data[i % C];
            }
        } else {
            s->scale = o->src[1]->data;
            s->shift = o->src[2]->data;
        }
    }
    if (p->training) {
        s->mean = hrn__scratch(t, (size_t)Cp * sizeof(float));
        s->var = hrn__scratch(t, (size_t)Cp * sizeof(float));
        if (!s->mean || !s->var) return HRN_ERR_NOMEM;
    } else {
        s->mean = p->running_mean;
        s->var = p->running_var;
    }
    void *ptr[6] = {o->src[0]->data, o->data, s->mean, s->var, s->scale, s->shift};
    HRN_TRY(hrn__dnnl_exec(prim, ptr));
    if (p->training && p->running_mean) {
        const double n = (double)(d[0] * d[2] * d[3]);
        const float m = p->momentum, unbias = (float)(n / (n - 1.0));
        for (int64_t c = 0; c < C; c++) {
            p->running_mean[c] = (1.0f - m) * p->running_mean[c] + m * s->mean[c];
            p->running_var[c] = (1.0f - m) * p->running_var[c] + m * s->var[c] * unbias;
        }
    }
    o->saved = s;
    return HRN_OK;
fail:
    return st;
}

static enum hrn_status norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    enum hrn_status st = HRN_OK;
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    const struct bn_saved *s = o->saved;
    int64_t d[4];
    dims_of(o, d);
    unsigned flags = flags_of(p);
    struct hrn__dnnl_prim *fwd = NULL, *prim = NULL;
    HRN_TRY(get_fwd(d, flags, p->eps, &fwd));
    int64_t key[HRN__DNNL_KEY];
    make_key(key, HRN__DK_BN_BWD, d, flags, p->eps);
    if (!(prim = hrn__dnnl_find(key))) {
        dnnl_memory_desc_t x = hrn__dnnl_md(4, d, dnnl_nchw), c = hrn__dnnl_md(1, &d[1], dnnl_x);
        dnnl_batch_normalization_desc_t desc;
        HRN_DNNL(dnnl_batch_normalization_backward_desc_init(
            &desc, p->affine ? dnnl_backward : dnnl_backward_data, &x, &x, p->eps, flags));
        /* the shift is an argument of the backward too (2.6 rejects the execution without it,
         * though the gradient does not depend on it) */
        struct hrn__dnnl_argspec spec[9] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &x},
                                            {DNNL_ARG_DIFF_DST, HRN__DNNL_IN, &x},
                                            {DNNL_ARG_MEAN, HRN__DNNL_IN, &c},
                                            {DNNL_ARG_VARIANCE, HRN__DNNL_IN, &c},
                                            {DNNL_ARG_DIFF_SRC, HRN__DNNL_OUT_ADD, &x},
                                            {DNNL_ARG_SCALE, HRN__DNNL_IN, &c},
                                            {DNNL_ARG_DIFF_SCALE, HRN__DNNL_OUT_ADD, &c},
                                            {DNNL_ARG_DIFF_SHIFT, HRN__DNNL_OUT_ADD, &c},
                                            {DNNL_ARG_SHIFT, HRN__DNNL_IN, &c}};
        HRN_TRY(hrn__dnnl_create(key, &desc, fwd->pd, p->affine ? 9 : 5, spec, &prim));
    }
    const int64_t Cp = d[1], C = o->shape[1];
    int want_w = p->affine && hrn__wants_grad(o, 1), want_b = p->affine && hrn__wants_grad(o, 2);
    float *dscale = NULL, *dshift = NULL;
    if (p->instance && (want_w || want_b)) { /* per (sample, channel), summed below */
        dscale = hrn__scratch(t, (size_t)Cp * sizeof(float));
        dshift = hrn__scratch(t, (size_t)Cp * sizeof(float));
        if (!dscale || !dshift) return HRN_ERR_NOMEM;
        memset(dscale, 0, (size_t)Cp * sizeof(float));
        memset(dshift, 0, (size_t)Cp * sizeof(float));
    } else if (p->affine) {
        dscale = want_w ? o->src[1]->grad : NULL;
        dshift = want_b ? o->src[2]->grad : NULL;
    }
    void *ptr[9] = {o->src[0]->data, o->grad, s->mean, s->var,
                    hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL, s->scale, dscale, dshift,
                    s->shift};
    HRN_TRY(hrn__dnnl_exec(prim, ptr));
    if (p->instance && (want_w || want_b)) /* fixed order over samples: deterministic */
        for (int64_t i = 0; i < Cp; i++) {
            if (want_w) o->src[1]->grad[i % C] += dscale[i];
            if (want_b) o->src[2]->grad[i % C] += dshift[i];
        }
    return HRN_OK;
fail:
    return st;
}

enum hrn_status hrn__batch_norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return norm_fwd(t, o);
}
enum hrn_status hrn__batch_norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return norm_bwd(t, o);
}
enum hrn_status hrn__instance_norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return norm_fwd(t, o);
}
enum hrn_status hrn__instance_norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return norm_bwd(t, o);
}
