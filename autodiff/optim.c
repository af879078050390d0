/* optim.c: SGD (momentum, nesterov), Adam, AdamW, learning-rate schedules. The update rules
 * follow torch.optim 1.13 (single-tensor "for-loop" implementations) so that the fixtures made by
 * tests/reference/gen_autodiff_optim.py match to float rounding. */
#include "ad_impl.h"

#include <math.h>
#include <stdlib.h>

static const double HRN_PI = 3.14159265358979323846; /* M_PI is not C11 or POSIX */

/* --- schedules ------------------------------------------------------------------------------- */

double hrn_lr_factor(const struct hrn_lr_schedule *s, int64_t t) {
    double f = 1.0;
    if (s->warmup_steps > 0) {
        if (t < s->warmup_steps)
            return (double)s->warmup_start +
                   (1.0 - (double)s->warmup_start) * (double)t / (double)s->warmup_steps;
        t -= s->warmup_steps;
    }
    switch (s->kind) {
    case HRN_LR_CONSTANT: break;
    case HRN_LR_STEP: f = pow((double)s->gamma, (double)(t / s->step_size)); break;
    case HRN_LR_COSINE: {
        double tt = (double)(t < s->total_steps ? t : s->total_steps);
        double m = (double)s->min_factor;
        f = m + (1.0 - m) * 0.5 * (1.0 + cos(HRN_PI * tt / (double)s->total_steps));
        break;
    }
    }
    return f;
}

static enum hrn_status check_schedule(const struct hrn_lr_schedule *s) {
    if (s->kind != HRN_LR_CONSTANT && s->kind != HRN_LR_STEP && s->kind != HRN_LR_COSINE)
        return hrn_error_set(HRN_ERR_INVALID, "lr schedule: unknown kind %d", (int)s->kind);
    if (s->kind == HRN_LR_STEP && (s->step_size < 1 || !(s->gamma > 0.0f)))
        return hrn_error_set(HRN_ERR_INVALID,
                             "lr schedule step: step_size %lld must be >= 1 and gamma %g > 0",
                             (long long)s->step_size, (double)s->gamma);
    if (s->kind == HRN_LR_COSINE &&
        (s->total_steps < 1 || !(s->min_factor >= 0.0f && s->min_factor <= 1.0f)))
        return hrn_error_set(HRN_ERR_INVALID,
                             "lr schedule cosine: total_steps %lld must be >= 1 and min_factor %g "
                             "in [0, 1]",
                             (long long)s->total_steps, (double)s->min_factor);
    if (s->warmup_steps < 0 || (s->warmup_steps > 0 && !(s->warmup_start >= 0.0f &&
                                                         s->warmup_start <= 1.0f)))
        return hrn_error_set(HRN_ERR_INVALID,
                             "lr schedule warm-up: %lld steps from factor %g (need steps >= 0 and "
                             "a factor in [0, 1])",
                             (long long)s->warmup_steps, (double)s->warmup_start);
    return HRN_OK;
}

/* --- optimizers ------------------------------------------------------------------------------ */

enum hrn_status hrn_optim_init(struct hrn_optim *o, const struct hrn_optim_config *cfg) {
    memset(o, 0, sizeof *o);
    struct hrn_optim_config c = *cfg;
    if (c.kind != HRN_OPTIM_SGD && c.kind != HRN_OPTIM_ADAM && c.kind != HRN_OPTIM_ADAMW)
        return hrn_error_set(HRN_ERR_INVALID, "optim: unknown kind %d", (int)c.kind);
    if (!(c.lr > 0.0f) || !isfinite(c.lr))
        return hrn_error_set(HRN_ERR_INVALID, "optim: lr %g must be > 0", (double)c.lr);
    if (c.beta1 == 0.0f) c.beta1 = 0.9f;
    if (c.beta2 == 0.0f) c.beta2 = 0.999f;
    if (c.eps == 0.0f) c.eps = 1e-8f;
    if (!(c.beta1 > 0.0f && c.beta1 < 1.0f) || !(c.beta2 > 0.0f && c.beta2 < 1.0f) ||
        !(c.eps > 0.0f))
        return hrn_error_set(HRN_ERR_INVALID,
                             "optim: beta1 %g and beta2 %g must be in (0, 1), eps %g > 0",
                             (double)c.beta1, (double)c.beta2, (double)c.eps);
    if (!(c.momentum >= 0.0f) || !(c.dampening >= 0.0f) || !(c.weight_decay >= 0.0f))
        return hrn_error_set(HRN_ERR_INVALID,
                             "optim: momentum %g, dampening %g and weight_decay %g must be >= 0",
                             (double)c.momentum, (double)c.dampening, (double)c.weight_decay);
    if (c.nesterov && (c.momentum <= 0.0f || c.dampening != 0.0f))
        return hrn_error_set(HRN_ERR_INVALID,
                             "optim: nesterov needs momentum > 0 and dampening 0 (as PyTorch)");
    enum hrn_status st = check_schedule(&c.schedule);
    if (st != HRN_OK) return st;
    o->cfg = c;
    for (int g = 0; g < HRN_MAX_GROUPS; g++) o->group_lr[g] = c.lr;
    o->last_lr = c.lr;
    return HRN_OK;
}

enum hrn_status hrn_optim_set_group_lr(struct hrn_optim *o, int group, float lr) {
    if (group < 0 || group >= HRN_MAX_GROUPS)
        return hrn_error_set(HRN_ERR_INVALID, "optim: group %d, expected 0 to %d", group,
                             HRN_MAX_GROUPS - 1);
    if (!(lr >= 0.0f) || !isfinite(lr))
        return hrn_error_set(HRN_ERR_INVALID, "optim: group %d lr %g must be >= 0", group,
                             (double)lr);
    o->group_lr[group] = lr;
    return HRN_OK;
}

float hrn_optim_lr(const struct hrn_optim *o, int group) {
    HRN_ASSERT(group >= 0 && group < HRN_MAX_GROUPS);
    return (float)((double)o->group_lr[group] * hrn_lr_factor(&o->cfg.schedule, o->t));
}

/* p (n), g (n), buf (n) momentum: torch.optim.SGD */
static void sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                       float dampening, int nesterov, float wd, int first) {
    /* elementwise, so threads change nothing in the result */
    HRN__PAR_FOR(n >= HRN_PAR_MIN, i, (int64_t)n, {
        float d = g[i];
        if (wd != 0.0f) d += wd * p[i];
        if (momentum != 0.0f) {
            buf[i] = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    });
}

/* p (n), g (n), m (n), v (n): torch.optim.Adam / AdamW (amsgrad off), step t >= 1 */
static void adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                        float b1, float b2, float eps, float wd, int decoupled, int64_t t) {
    /* torch computes the bias corrections in Python floats (double) */
    double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    float step_size = (float)((double)lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    /* elementwise, so threads change nothing in the result; ResNet-50 has 24M parameters and
     * one thread took ~90 ms per step (a third of a batch-1 training step) */
    HRN__PAR_FOR(n >= HRN_PAR_MIN, i, (int64_t)n, {
        float gi = g[i];
        if (decoupled)
            p[i] *= 1.0f - lr * wd;
        else if (wd != 0.0f)
            gi += wd * p[i];
        m[i] = m[i] * b1 + (1.0f - b1) * gi; /* torch: lerp_(grad, 1 - beta1) */
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
    });
}

enum hrn_status hrn_optim_step(struct hrn_optim *o, struct hrn_params *p) {
    if (!p->allocated) return hrn_error_set(HRN_ERR_INVALID, "optim: the params are not allocated");
    /* kept oneDNN reorders of frozen weights are stale after any update */
    hrn_dnnl_weights_changed();
    const struct hrn_optim_config *c = &o->cfg;
    int slots = c->kind == HRN_OPTIM_SGD ? (c->momentum != 0.0f ? 1 : 0) : 2;
    if (slots > 0 && (!p->state || p->state_slots != slots)) {
        free(p->state);
        p->state = calloc((size_t)slots * (p->n ? p->n : 1), sizeof(float));
        if (!p->state) return hrn_error_set(HRN_ERR_NOMEM, "optim: cannot allocate state");
        p->state_slots = slots;
    }
    /* a non-finite gradient would poison the state: refuse before changing anything. One
     * parallel pass over the flat buffer; the entry and element are looked up only on failure. */
    int bad = 0;
    const float *gall = p->grads;
    int64_t nall = (int64_t)p->n;
    if (nall >= HRN_PAR_MIN) {
#pragma omp parallel for reduction(| : bad) schedule(static)
        for (int64_t i = 0; i < nall; i++) bad |= !isfinite(gall[i]);
    } else {
        for (int64_t i = 0; i < nall; i++) bad |= !isfinite(gall[i]);
    }
    for (int32_t e = 0; bad && e < p->n_entries; e++) {
        const struct hrn_param_entry *pe = &p->entries[e];
        for (size_t i = 0; i < pe->numel; i++)
            if (!isfinite(p->grads[pe->offset + i]))
                return hrn_error_set(HRN_ERR_NUMERIC,
                                     "optim step %lld: gradient of '%s' is %g at element %zu",
                                     (long long)o->t, pe->name,
                                     (double)p->grads[pe->offset + i], i);
    }
    int64_t t1 = o->t + 1;
    for (int32_t e = 0; e < p->n_entries; e++) {
        const struct hrn_param_entry *pe = &p->entries[e];
        float lr = hrn_optim_lr(o, pe->group);
        float *x = p->values + pe->offset;
        const float *g = p->grads + pe->offset;
        switch (c->kind) {
        case HRN_OPTIM_SGD:
            sgd_update(x, g, slots ? p->state + pe->offset : NULL, pe->numel, lr, c->momentum,
                       c->dampening, c->nesterov, c->weight_decay, o->t == 0);
            break;
        case HRN_OPTIM_ADAM:
        case HRN_OPTIM_ADAMW:
            adam_update(x, g, p->state + pe->offset, p->state + p->n + pe->offset, pe->numel, lr,
                        c->beta1, c->beta2, c->eps, c->weight_decay, c->kind == HRN_OPTIM_ADAMW,
                        t1);
            break;
        }
    }
    o->last_lr = hrn_optim_lr(o, 0);
    o->t = t1;
    return HRN_OK;
}
