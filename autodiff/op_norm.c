/* op_norm.c: batch norm (training in C, inference through oneDNN's batch-normalization
 * primitive) and instance norm in C.
 *
 * Batch norm, PyTorch's BatchNorm2d: training normalises with the batch mean and the BIASED
 * variance and updates the running statistics as running = (1-m)·running + m·stat with the
 * UNBIASED variance (·n/(n-1), n = N·H·W); inference uses the running statistics
 * (use_global_stats), and its backward treats them as constants.
 * Training statistics are accumulated in double by a C kernel: oneDNN 2.6's float primitive was
 * off by 9e-6 from a double reference on a (4,3,256,256) batch (the C kernel by 2e-7), at the same
 * speed (51 ms fwd+bwd on (8,64,112,112), 2 threads), and the same kernel sums across processes
 * in a data-parallel run, so N processes compute what one does to rounding.
 * Instance norm, PyTorch's InstanceNorm2d (no running statistics): a C kernel over the N·C
 * planes (mean, then the biased variance around it, both accumulated in double), parallel over
 * planes. oneDNN's batch-norm primitive over the (1, N·C, H, W) view gave the same numbers but
 * took about 0.3 ms per call on pix2pix's 16x16 maps (HRN_PROFILE_LAYERS), a third of mid_net's
 * forward; the affine weight's gradient is summed over the samples in a fixed order.
 * All tensors plain NCHW; gradients are ADDED (the wrapper accumulates).
 */
#include "dnnl_impl.h"

#include <math.h>

struct bn_params {
    float *running_mean, *running_var; /* (C), model lifetime; NULL for instance norm */
    float momentum, eps;
    int32_t training, instance, affine;
};

struct bn_saved {
    float *mean, *var; /* (C) the running statistics */
    float *scale, *shift; /* (C) the affine parameters */
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

/* --- instance norm: C kernel ------------------------------------------------------------------ */

struct in_saved {
    float *mean, *rstd; /* (N·C) */
};

/* out (N,C,H,W) = (x - mean_p)·rstd_p·w_c + b_c per plane p = (n,c) */
static enum hrn_status in_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    const int64_t C = o->shape[1], P = o->shape[0] * C, n = o->shape[2] * o->shape[3];
    struct in_saved *s = hrn__scratch(t, sizeof *s);
    if (!s) return HRN_ERR_NOMEM;
    s->mean = hrn__scratch(t, (size_t)P * sizeof(float));
    s->rstd = hrn__scratch(t, (size_t)P * sizeof(float));
    if (!s->mean || !s->rstd) return HRN_ERR_NOMEM;
    const float *x = o->src[0]->data;
    const float *w = p->affine ? o->src[1]->data : NULL, *b = p->affine ? o->src[2]->data : NULL;
    float *y = o->data;
    const float eps = p->eps;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, P, {
        const float *xp = x + pl * n;
        float *yp = y + pl * n;
        double sum = 0;
        for (int64_t i = 0; i < n; i++) sum += (double)xp[i];
        const float mean = (float)(sum / (double)n);
        double ss = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)(xp[i] - mean);
            ss += d * d;
        }
        const float rstd = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
        const int64_t c = pl % C;
        const float sc = w ? rstd * w[c] : rstd, sh = b ? b[c] : 0.0f;
        for (int64_t i = 0; i < n; i++) yp[i] = (xp[i] - mean) * sc + sh;
        s->mean[pl] = mean;
        s->rstd[pl] = rstd;
    });
    o->saved = s;
    if (t0 > 0) hrn__prof_add(HRN__PROF_INORM, t0);
    return HRN_OK;
}

/* dx += rstd·(g - mean(g) - xhat·mean(g·xhat)), g = dy·w_c; dw_c += Σ dy·xhat, db_c += Σ dy */
static enum hrn_status in_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    const struct in_saved *s = o->saved;
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    const int64_t C = o->shape[1], P = o->shape[0] * C, n = o->shape[2] * o->shape[3];
    const int want_x = hrn__wants_grad(o, 0);
    const int want_w = p->affine && hrn__wants_grad(o, 1), want_b = p->affine && hrn__wants_grad(o, 2);
    float *dws = NULL, *dbs = NULL; /* per plane, summed over samples below */
    if (want_w || want_b) {
        dws = hrn__scratch(t, (size_t)P * sizeof(float));
        dbs = hrn__scratch(t, (size_t)P * sizeof(float));
        if (!dws || !dbs) return HRN_ERR_NOMEM;
    }
    const float *x = o->src[0]->data, *dy = o->grad;
    const float *w = p->affine ? o->src[1]->data : NULL;
    float *dx = want_x ? o->src[0]->grad : NULL;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, P, {
        const float *xp = x + pl * n, *gp = dy + pl * n;
        const float mean = s->mean[pl], rstd = s->rstd[pl];
        double sg = 0, sgx = 0; /* Σ dy, Σ dy·xhat */
        for (int64_t i = 0; i < n; i++) {
            sg += (double)gp[i];
            sgx += (double)gp[i] * (double)((xp[i] - mean) * rstd);
        }
        if (dws) {
            dws[pl] = (float)sgx;
            dbs[pl] = (float)sg;
        }
        if (dx) {
            const float wc = w ? w[pl % C] : 1.0f;
            const float mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
            float *dp = dx + pl * n;
            for (int64_t i = 0; i < n; i++) {
                float xh = (xp[i] - mean) * rstd;
                dp[i] += wc * rstd * (gp[i] - mg - xh * mgx);
            }
        }
    });
    for (int64_t pl = 0; dws && pl < P; pl++) { /* fixed order over samples: deterministic */
        if (want_w) o->src[1]->grad[pl % C] += dws[pl];
        if (want_b) o->src[2]->grad[pl % C] += dbs[pl];
    }
    if (t0 > 0) hrn__prof_add(HRN__PROF_INORM, t0);
    return HRN_OK;
}

/* --- batch norm in training: C kernels ----------------------------------------------------------
 * With a collective of several processes (t->coll) the statistics are those of the global batch
 * (synchronised batch norm): the per-channel sums of x and x^2 are summed across the processes
 * (in double) before they are used, and so are the backward's sums of dy and dy*xhat (the
 * gradient through the mean and the variance); dx of the local rows then equals the one-process
 * dx of those rows. The weight and bias gradients stay local sums: the driver's gradient
 * reduction adds them. */

struct train_saved {
    float *mean, *rstd; /* (C) global batch statistics */
    double n;           /* values per channel in the global batch */
};

static int synced(const struct hrn_tape *t) { return t->coll && t->coll->size > 1; }

static enum hrn_status train_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    const int64_t N = o->shape[0], C = o->shape[1], HW = o->shape[2] * o->shape[3];
    struct train_saved *s = hrn__scratch(t, sizeof *s);
    double *acc = hrn__scratch(t, (size_t)(2 * C + 1) * sizeof(double)); /* Σx, Σx², count */
    if (!s || !acc) return HRN_ERR_NOMEM;
    s->mean = hrn__scratch(t, (size_t)C * sizeof(float));
    s->rstd = hrn__scratch(t, (size_t)C * sizeof(float));
    if (!s->mean || !s->rstd) return HRN_ERR_NOMEM;
    const float *x = o->src[0]->data;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, c, C, {
        double s1 = 0, s2 = 0;
        for (int64_t b = 0; b < N; b++) {
            const float *xp = x + (b * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) {
                s1 += (double)xp[i];
                s2 += (double)xp[i] * (double)xp[i];
            }
        }
        acc[c] = s1;
        acc[C + c] = s2;
    });
    acc[2 * C] = (double)(N * HW);
    if (synced(t)) {
        enum hrn_status st = t->coll->sum_f64(t->coll, acc, 2 * C + 1);
        if (st != HRN_OK) return hrn_error_prefix(st, "batch_norm (synchronised): ");
    }
    s->n = acc[2 * C];
    for (int64_t c = 0; c < C; c++) {
        double mean = acc[c] / s->n, var = fmax(acc[C + c] / s->n - mean * mean, 0.0);
        s->mean[c] = (float)mean;
        s->rstd[c] = (float)(1.0 / sqrt(var + (double)p->eps));
        if (p->running_mean) {
            const float m = p->momentum;
            p->running_mean[c] = (1.0f - m) * p->running_mean[c] + m * (float)mean;
            p->running_var[c] = (1.0f - m) * p->running_var[c] + m * (float)(var * s->n / (s->n - 1.0));
        }
    }
    const float *w = p->affine ? o->src[1]->data : NULL, *bb = p->affine ? o->src[2]->data : NULL;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, N * C, {
        const int64_t c = pl % C;
        const float sc = w ? s->rstd[c] * w[c] : s->rstd[c], sh = bb ? bb[c] : 0.0f;
        const float *xp = x + pl * HW;
        float *yp = o->data + pl * HW;
        for (int64_t i = 0; i < HW; i++) yp[i] = (xp[i] - s->mean[c]) * sc + sh;
    });
    o->saved = s;
    return HRN_OK;
}

/* dx += w·rstd·(dy - Σdy/n - xhat·Σ(dy·xhat)/n), the sums over the global batch */
static enum hrn_status train_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    const struct bn_params *p = HRN__PARAMS(o, const struct bn_params);
    const struct train_saved *s = o->saved;
    const int64_t N = o->shape[0], C = o->shape[1], HW = o->shape[2] * o->shape[3];
    double *acc = hrn__scratch(t, (size_t)(2 * C) * sizeof(double)); /* Σdy, Σdy·xhat */
    if (!acc) return HRN_ERR_NOMEM;
    const float *x = o->src[0]->data, *dy = o->grad;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, c, C, {
        double sg = 0, sgx = 0;
        for (int64_t b = 0; b < N; b++) {
            const float *xp = x + (b * C + c) * HW, *gp = dy + (b * C + c) * HW;
            for (int64_t i = 0; i < HW; i++) {
                sg += (double)gp[i];
                sgx += (double)gp[i] * (double)((xp[i] - s->mean[c]) * s->rstd[c]);
            }
        }
        acc[c] = sg;
        acc[C + c] = sgx;
    });
    if (p->affine && hrn__wants_grad(o, 1))
        for (int64_t c = 0; c < C; c++) o->src[1]->grad[c] += (float)acc[C + c];
    if (p->affine && hrn__wants_grad(o, 2))
        for (int64_t c = 0; c < C; c++) o->src[2]->grad[c] += (float)acc[c];
    if (!hrn__wants_grad(o, 0)) return HRN_OK; /* every process skips alike: same graph */
    if (synced(t)) {
        enum hrn_status st = t->coll->sum_f64(t->coll, acc, 2 * C);
        if (st != HRN_OK) return hrn_error_prefix(st, "batch_norm (synchronised) backward: ");
    }
    const float *w = p->affine ? o->src[1]->data : NULL;
    float *dx = o->src[0]->grad;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, pl, N * C, {
        const int64_t c = pl % C;
        const float k = (w ? w[c] : 1.0f) * s->rstd[c], mean = s->mean[c], rstd = s->rstd[c];
        const float mg = (float)(acc[c] / s->n), mgx = (float)(acc[C + c] / s->n);
        const float *xp = x + pl * HW, *gp = dy + pl * HW;
        float *dp = dx + pl * HW;
        for (int64_t i = 0; i < HW; i++) dp[i] += k * (gp[i] - mg - (xp[i] - mean) * rstd * mgx);
    });
    return HRN_OK;
}

/* --- batch norm: oneDNN primitives ------------------------------------------------------------ */

/* the primitive's data dims (N,C,H,W) */
static void dims_of(const struct hrn_tensor *o, int64_t d[4]) {
    HRN_ASSERT(!HRN__PARAMS(o, const struct bn_params)->instance); /* in_fwd / in_bwd */
    d[0] = o->shape[0];
    d[1] = o->shape[1];
    d[2] = o->shape[2];
    d[3] = o->shape[3];
}

/* inference only: training runs in the C kernels above */
static unsigned flags_of(const struct bn_params *p) {
    return (p->affine ? (unsigned)(dnnl_use_scale | dnnl_use_shift) : 0u) |
           (unsigned)dnnl_use_global_stats;
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
    /* training prop with use_global_stats: it reads the given statistics, and it is the hint
     * the backward primitive wants (a frozen network still passes gradients to its input) */
    HRN_DNNL(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &x, eps,
                                                        flags));
    struct hrn__dnnl_argspec spec[6] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &x},
                                        {DNNL_ARG_DST, HRN__DNNL_OUT, &x},
                                        {DNNL_ARG_MEAN, HRN__DNNL_IN, &c},
                                        {DNNL_ARG_VARIANCE, HRN__DNNL_IN, &c},
                                        {DNNL_ARG_SCALE, HRN__DNNL_IN, &c},
                                        {DNNL_ARG_SHIFT, HRN__DNNL_IN, &c}};
    return hrn__dnnl_create(key, &desc, NULL, (flags & dnnl_use_scale) ? 6 : 4, spec, out);
fail:
    return st;
}

/* out (N,C,H,W) = (x - running_mean)/sqrt(running_var + eps)·w + b */
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
    if (p->affine) {
        s->scale = o->src[1]->data;
        s->shift = o->src[2]->data;
    }
    s->mean = p->running_mean;
    s->var = p->running_var;
    void *ptr[6] = {o->src[0]->data, o->data, s->mean, s->var, s->scale, s->shift};
    HRN_TRY(hrn__dnnl_exec(prim, ptr));
    o->saved = s;
    return HRN_OK;
fail:
    return st;
}

static enum hrn_status norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
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
    int want_w = p->affine && hrn__wants_grad(o, 1), want_b = p->affine && hrn__wants_grad(o, 2);
    float *dscale = NULL, *dshift = NULL;
    if (p->affine) {
        dscale = want_w ? o->src[1]->grad : NULL;
        dshift = want_b ? o->src[2]->grad : NULL;
    }
    void *ptr[9] = {o->src[0]->data, o->grad, s->mean, s->var,
                    hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL, s->scale, dscale, dshift,
                    s->shift};
    HRN_TRY(hrn__dnnl_exec(prim, ptr));
    return HRN_OK;
fail:
    return st;
}

enum hrn_status hrn__batch_norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return HRN__PARAMS(o, const struct bn_params)->training ? train_fwd(t, o) : norm_fwd(t, o);
}
enum hrn_status hrn__batch_norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return HRN__PARAMS(o, const struct bn_params)->training ? train_bwd(t, o) : norm_bwd(t, o);
}
enum hrn_status hrn__instance_norm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return in_fwd(t, o);
}
enum hrn_status hrn__instance_norm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return in_bwd(t, o);
}
