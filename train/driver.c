/* driver.c: the one optimization step that hrn-fit's stages and hrn-train's steps share: zero the
 * gradients, build the loss (the client's callback), stop on a NaN/Inf naming the term, backward,
 * clip, keep the last good values, step the optimizer, restore on a bad gradient; and the
 * optimizer state as part of a checkpoint (architecture.md: one loop for fit and train). */
#include "hrn_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status hrn_driver_add(struct hrn_driver *d, const char *name, struct hrn_params *ps,
                               const struct hrn_optim_config *oc, double clip_norm, int *index) {
    if (d->n_opt >= HRN_DRIVER_MAX_OPTS)
        return hrn_error_set(HRN_ERR_INVALID, "driver: more than %d optimizers", HRN_DRIVER_MAX_OPTS);
    if (!ps->allocated)
        return hrn_error_set(HRN_ERR_INVALID, "driver: parameters '%s' are not allocated", name);
    struct hrn_driver_opt *o = &d->o[d->n_opt];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->ps = ps;
    o->clip_norm = clip_norm;
    enum hrn_status st = hrn_optim_init(&o->opt, oc);
    if (st != HRN_OK) return hrn_error_prefix(st, "optimizer '%s': ", name);
    o->safe = malloc(ps->n * sizeof(float) + 1);
    if (!o->safe) return hrn_error_set(HRN_ERR_NOMEM, "driver: no memory for '%s'", name);
    memcpy(o->safe, ps->values, ps->n * sizeof(float));
    if (index) *index = d->n_opt;
    d->n_opt++;
    return HRN_OK;
}

void hrn_driver_free(struct hrn_driver *d) {
    if (!d) return;
    for (int i = 0; i < d->n_opt; i++) free(d->o[i].safe);
    memset(d, 0, sizeof *d);
}

void hrn_driver_restart(struct hrn_driver *d, int oi) {
    struct hrn_driver_opt *o = &d->o[oi];
    o->opt.t = 0;
    if (o->ps->state)
        memset(o->ps->state, 0, (size_t)o->ps->state_slots * o->ps->n * sizeof(float));
    memcpy(o->safe, o->ps->values, o->ps->n * sizeof(float));
}

void hrn_driver_terms_add(struct hrn_driver_terms *tm, const char *name, double value) {
    if (tm->n >= HRN_DRIVER_MAX_TERMS) return;
    tm->name[tm->n] = name;
    tm->value[tm->n] = value;
    tm->n++;
}

/* The first non-finite term's name, "total" when every term is finite. */
static const char *bad_term(const struct hrn_driver_terms *tm) {
    for (int i = 0; i < tm->n; i++)
        if (!isfinite(tm->value[i])) return tm->name[i];
    return "total";
}

static void restore(struct hrn_driver *d, unsigned opts) {
    for (int i = 0; i < d->n_opt; i++)
        if (opts & (1u << i))
            memcpy(d->o[i].ps->values, d->o[i].safe, d->o[i].ps->n * sizeof(float));
    hrn_dnnl_weights_changed();
}

/* Global gradient norm over the optimizers in opts, clipped to the first one's clip_norm (PyTorch
 * clip_grad_norm_ over all their parameters); returns the norm before clipping. */
static double clip_all(struct hrn_driver *d, unsigned opts) {
    double s2 = 0, clip = 0;
    for (int i = 0; i < d->n_opt; i++)
        if (opts & (1u << i)) {
            double n = hrn_params_grad_norm(d->o[i].ps);
            s2 += n * n;
            if (clip == 0) clip = d->o[i].clip_norm;
        }
    double norm = sqrt(s2);
    if (clip > 0 && norm > clip) {
        float f = (float)(clip / (norm + 1e-6));
        for (int i = 0; i < d->n_opt; i++)
            if (opts & (1u << i))
                for (size_t k = 0; k < d->o[i].ps->n; k++) d->o[i].ps->grads[k] *= f;
    }
    return norm;
}

/* The global loss and terms: the sum of every process's share (NaN anywhere stays NaN, so every
 * process takes the guard's decision alike). */
static enum hrn_status sum_terms(const struct hrn_collective *c, struct hrn_driver_result *r) {
    double buf[HRN_DRIVER_MAX_TERMS + 2];
    buf[0] = r->total;
    buf[1] = r->terms.n;
    for (int i = 0; i < r->terms.n; i++) buf[2 + i] = r->terms.value[i];
    enum hrn_status st = c->sum_f64(c, buf, HRN_DRIVER_MAX_TERMS + 2);
    if (st != HRN_OK) return st;
    if (buf[1] != (double)r->terms.n * c->size)
        return hrn_error_set(HRN_ERR_INVALID, "driver: the processes logged different loss terms "
                             "(%d here)", r->terms.n);
    r->total = buf[0];
    for (int i = 0; i < r->terms.n; i++) r->terms.value[i] = buf[2 + i];
    return HRN_OK;
}

static enum hrn_status sum_grads(struct hrn_driver *d, unsigned opts) {
    double t0 = hrn_time_now();
    for (int i = 0; i < d->n_opt; i++)
        if (opts & (1u << i)) {
            enum hrn_status st = d->coll->sum_f32(d->coll, d->o[i].ps->grads, (int64_t)d->o[i].ps->n);
            if (st != HRN_OK) return hrn_error_prefix(st, "gradients of '%s': ", d->o[i].name);
        }
    d->t_reduce += hrn_time_now() - t0;
    return HRN_OK;
}

enum hrn_status hrn_driver_broadcast(struct hrn_driver *d) {
    for (int i = 0; d->coll && i < d->n_opt; i++) {
        struct hrn_driver_opt *o = &d->o[i];
        enum hrn_status st = d->coll->bcast_f32(d->coll, o->ps->values, (int64_t)o->ps->n);
        if (st != HRN_OK) return hrn_error_prefix(st, "broadcast of '%s': ", o->name);
        memcpy(o->safe, o->ps->values, o->ps->n * sizeof(float));
    }
    hrn_dnnl_weights_changed();
    return HRN_OK;
}

enum hrn_status hrn_driver_step(struct hrn_driver *d, unsigned opts, hrn_driver_loss_fn fn,
                                void *user, const char *ctx, int update,
                                struct hrn_driver_result *r) {
    HRN_ASSERT(opts != 0 && opts < (1u << d->n_opt));
    enum hrn_status st = HRN_OK;
    memset(r, 0, sizeof *r);
    r->grad_norm = NAN;
    hrn_tape_reset(d->tape);
    int first = -1;
    for (int i = 0; i < d->n_opt; i++)
        if (opts & (1u << i)) {
            hrn_params_zero_grad(d->o[i].ps);
            if (first < 0) first = i;
        }
    struct hrn_tensor *total = fn(user, d->tape, &r->terms);
    if (!total) return hrn_error_prefix(HRN_ERR_INVALID, "%s: ", ctx);
    r->total = (double)total->data[0];
    if (d->coll && (st = sum_terms(d->coll, r)) != HRN_OK) return hrn_error_prefix(st, "%s: ", ctx);
    r->lr = hrn_optim_lr(&d->o[first].opt, 0);
    if (!isfinite(r->total)) {
        /* back to the values before the last step, the last ones whose loss was finite */
        restore(d, opts);
        return hrn_error_set(HRN_ERR_NUMERIC, "%s: term '%s' is not finite; stopped, the last "
                             "finite state is kept", ctx, bad_term(&r->terms));
    }
    if (!update) return HRN_OK;
    st = hrn_tape_backward(d->tape, total);
    if (st != HRN_OK) return hrn_error_prefix(st, "%s: ", ctx);
    if (d->coll && (st = sum_grads(d, opts)) != HRN_OK) return hrn_error_prefix(st, "%s: ", ctx);
    r->grad_norm = clip_all(d, opts);
    for (int i = 0; i < d->n_opt; i++)
        if (opts & (1u << i)) memcpy(d->o[i].safe, d->o[i].ps->values, d->o[i].ps->n * sizeof(float));
    for (int i = 0; i < d->n_opt && st == HRN_OK; i++)
        if (opts & (1u << i)) st = hrn_optim_step(&d->o[i].opt, d->o[i].ps);
    if (st != HRN_OK) {
        restore(d, opts);
        return hrn_error_prefix(st, "%s, a gradient of the loss: stopped, the last finite state "
                                "is kept: ", ctx);
    }
    d->step++;
    return HRN_OK;
}

/* --- optimizer state in a checkpoint --------------------------------------------------------- */

enum hrn_status hrn_driver_save(const struct hrn_driver *d, struct hrn_h5 *h) {
    enum hrn_status st = HRN_OK;
    char name[128];
    for (int i = 0; i < d->n_opt; i++) {
        const struct hrn_driver_opt *o = &d->o[i];
        snprintf(name, sizeof name, "optim/%s/t", o->name);
        double t = (double)o->opt.t;
        HRN_TRY(hrn_h5_write_f64(h, name, 1, (int64_t[]){1}, &t));
        if (o->ps->state) {
            snprintf(name, sizeof name, "optim/%s/state", o->name);
            HRN_TRY(hrn_h5_write_f32(h, name, 2, (int64_t[]){o->ps->state_slots, (int64_t)o->ps->n},
                                     o->ps->state));
        }
    }
fail:
    return st;
}

enum hrn_status hrn_driver_load(struct hrn_driver *d, struct hrn_h5 *h, const char *path) {
    enum hrn_status st = HRN_OK;
    char name[128];
    for (int i = 0; i < d->n_opt; i++) {
        struct hrn_driver_opt *o = &d->o[i];
        double t = 0;
        snprintf(name, sizeof name, "optim/%s/t", o->name);
        HRN_TRY(hrn_h5_read_f64(h, name, 1, (int64_t[]){1}, &t));
        o->opt.t = (int64_t)t;
        snprintf(name, sizeof name, "optim/%s/state", o->name);
        if (hrn_h5_exists(h, name)) {
            int nd = 0;
            int64_t sh[8];
            HRN_TRY(hrn_h5_shape(h, name, &nd, sh));
            if (nd != 2 || sh[1] != (int64_t)o->ps->n || sh[0] < 1 || sh[0] > 4) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: '%s' does not fit optimizer '%s' (%lld "
                                   "parameters)", path, name, o->name, (long long)o->ps->n);
                goto fail;
            }
            if (!o->ps->state || o->ps->state_slots != sh[0]) {
                free(o->ps->state);
                o->ps->state = calloc((size_t)(sh[0] * sh[1]) + 1, sizeof(float));
                if (!o->ps->state) {
                    st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for '%s'", path, name);
                    goto fail;
                }
                o->ps->state_slots = (int32_t)sh[0];
            }
            HRN_TRY(hrn_h5_read_f32(h, name, 2, sh, o->ps->state));
        }
        memcpy(o->safe, o->ps->values, o->ps->n * sizeof(float));
    }
fail:
    return st;
}
