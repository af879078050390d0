/* gradcheck.c: finite-difference gradient checker (style.md 5.4), for every op and for the
 * layers, losses and renderer of later modules.
 *
 * L = sum(r ⊙ f(x)) with fixed random weights r in [-1, 1] (a plain sum would hide errors in
 * ops whose outputs sum to a constant). The analytic gradient is one backward seeded with r; the
 * numeric one is a central difference of L accumulated in double, divided by the step actually
 * taken in float ((float)(x+h) - (float)(x-h)), which removes the rounding of x±h from the error.
 */
#include "ad_impl.h"

#include <math.h>
#include <stdlib.h>

struct gc_state {
    struct hrn_tape *t;
    struct hrn_tensor *const *inputs;
    int n_inputs;
    hrn_gradcheck_fn fn;
    void *user;
    const float *r;
    int64_t n_out;
};

/* Build f once more and return L = sum(r ⊙ f) in double; the tape is rewound afterwards. */
static enum hrn_status eval_loss(struct gc_state *s, double *loss) {
    struct hrn_tape_mark m = hrn_tape_mark(s->t);
    struct hrn_tensor *out = NULL;
    enum hrn_status st = s->fn(s->t, s->inputs, s->n_inputs, s->user, &out);
    if (st == HRN_OK && !out)
        st = hrn_error_prefix(HRN_ERR_INVALID, "gradcheck: the function returned no output");
    if (st == HRN_OK && out->numel != s->n_out)
        st = hrn_error_set(HRN_ERR_INVALID,
                           "gradcheck: the output has %lld elements, %lld on the first call (the "
                           "function must be deterministic)",
                           (long long)out->numel, (long long)s->n_out);
    if (st == HRN_OK) {
        double l = 0.0;
        for (int64_t j = 0; j < s->n_out; j++) l += (double)s->r[j] * (double)out->data[j];
        *loss = l;
    }
    hrn_tape_rewind(s->t, m);
    return st;
}

/* d L / d x[k] by central differences (2 or 4 points). */
static enum hrn_status numeric_grad(struct gc_state *s, float *x, double h, int four,
                                    double *gn) {
    enum hrn_status st;
    const float orig = *x;
    const float xp = (float)((double)orig + h), xm = (float)((double)orig - h);
    double lp = 0, lm = 0;
    *x = xp;
    if ((st = eval_loss(s, &lp)) != HRN_OK) goto done;
    *x = xm;
    if ((st = eval_loss(s, &lm)) != HRN_OK) goto done;
    double d1 = (lp - lm) / ((double)xp - (double)xm);
    if (four) { /* (8(f(x+h)-f(x-h)) - (f(x+2h)-f(x-2h))) / 12h: O(h^4) */
        const float xp2 = (float)((double)orig + 2 * h), xm2 = (float)((double)orig - 2 * h);
        double lp2 = 0, lm2 = 0;
        *x = xp2;
        if ((st = eval_loss(s, &lp2)) != HRN_OK) goto done;
        *x = xm2;
        if ((st = eval_loss(s, &lm2)) != HRN_OK) goto done;
        double d2 = (lp2 - lm2) / ((double)xp2 - (double)xm2);
        *gn = (4.0 * d1 - d2) / 3.0;
    } else {
        *gn = d1;
    }
done:
    *x = orig;
    return st;
}

enum hrn_status hrn_gradcheck(struct hrn_tape *t, struct hrn_tensor *const *inputs, int n_inputs,
                              hrn_gradcheck_fn fn, void *user,
                              const struct hrn_gradcheck_opts *opts,
                              struct hrn_gradcheck_report *rep) {
    enum hrn_status st = HRN_OK;
    struct hrn_gradcheck_report local;
    float *r = NULL, *ga[HRN_MAX_SRC * 4] = {0};
    int64_t *order = NULL;
    uint32_t saved_flags[HRN_MAX_SRC * 4];
    float *saved_grad[HRN_MAX_SRC * 4];
    int n_marked = 0;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    rep->worst_input = -1;

    struct hrn_gradcheck_opts o = opts ? *opts : (struct hrn_gradcheck_opts){0};
    if (o.h <= 0) o.h = 1e-2;
    if (o.atol <= 0) o.atol = 1e-3;
    if (o.rtol <= 0) o.rtol = 1e-2;
    if (o.max_zero_frac <= 0) o.max_zero_frac = 0.9;
    if (o.max_per_input <= 0) o.max_per_input = 64;
    if (o.seed == 0) o.seed = 1;
    if (n_inputs < 1 || n_inputs > (int)(sizeof ga / sizeof ga[0]))
        return hrn_error_set(HRN_ERR_INVALID, "gradcheck: %d inputs, expected 1 to %d", n_inputs,
                             (int)(sizeof ga / sizeof ga[0]));
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || inputs[i]->op != HRN_OP_NONE)
            return hrn_error_set(HRN_ERR_INVALID, "gradcheck: input %d is %s", i,
                                 inputs[i] ? "not a leaf" : "NULL");
    }
    for (int i = 0; i < n_inputs; i++) {
        saved_flags[i] = inputs[i]->flags;
        saved_grad[i] = inputs[i]->grad;
        n_marked = i + 1;
        HRN_TRY(hrn_tape_requires_grad(t, inputs[i]));
        memset(inputs[i]->grad, 0, (size_t)inputs[i]->numel * sizeof(float));
    }

    struct gc_state s = {t, inputs, n_inputs, fn, user, NULL, 0};
    struct hrn_rng rng;
    hrn_rng_seed(&rng, o.seed);

    /* analytic gradients: one backward seeded with r, then a second one that must double them */
    {
        struct hrn_tape_mark m = hrn_tape_mark(t);
        struct hrn_tensor *out = NULL;
        st = fn(t, inputs, n_inputs, user, &out);
        if (st == HRN_OK && !out)
            st = hrn_error_prefix(HRN_ERR_INVALID, "gradcheck: the function returned no output");
        if (st != HRN_OK) {
            hrn_tape_rewind(t, m);
            goto fail;
        }
        s.n_out = out->numel;
        r = malloc((size_t)s.n_out * sizeof *r);
        if (!r) {
            hrn_tape_rewind(t, m);
            st = hrn_error_set(HRN_ERR_NOMEM, "gradcheck: no memory");
            goto fail;
        }
        hrn_rng_fill_uniform(&rng, r, (size_t)s.n_out, -1.0f, 1.0f);
        s.r = r;
        st = hrn_tape_backward_seed(t, out, r);
        for (int i = 0; st == HRN_OK && i < n_inputs; i++) {
            ga[i] = malloc((size_t)inputs[i]->numel * sizeof(float));
            if (!ga[i]) st = hrn_error_set(HRN_ERR_NOMEM, "gradcheck: no memory");
            else memcpy(ga[i], inputs[i]->grad, (size_t)inputs[i]->numel * sizeof(float));
        }
        if (st == HRN_OK) st = hrn_tape_backward_seed(t, out, r);
        hrn_tape_rewind(t, m);
        if (st != HRN_OK) goto fail;
        double gmax = 0.0, emax = 0.0;
        for (int i = 0; i < n_inputs; i++)
            for (int64_t k = 0; k < inputs[i]->numel; k++) {
                double g1 = ga[i][k], g2 = inputs[i]->grad[k];
                gmax = fmax(gmax, fabs(g1));
                emax = fmax(emax, fabs(g2 - 2.0 * g1));
            }
        rep->accum_err = gmax > 0 ? emax / gmax : emax;
        if (rep->accum_err > 1e-5) {
            snprintf(rep->msg, sizeof rep->msg,
                     "a second backward did not double the gradient (relative error %.3g): a "
                     "backward overwrites (=) instead of adding (+=)",
                     rep->accum_err);
            st = hrn_error_set(HRN_ERR_NUMERIC, "gradcheck: %s", rep->msg);
            goto fail;
        }
    }

    /* numeric gradients on up to max_per_input elements of each input */
    double asym_sum = 0.0;
    int asym_n = 0;
    double worst_excess = -1.0;
    for (int i = 0; i < n_inputs; i++) {
        struct hrn_tensor *x = inputs[i];
        int64_t n = x->numel, m = n < o.max_per_input ? n : o.max_per_input;
        free(order);
        order = malloc((size_t)n * sizeof *order);
        if (!order) {
            st = hrn_error_set(HRN_ERR_NOMEM, "gradcheck: no memory");
            goto fail;
        }
        for (int64_t k = 0; k < n; k++) order[k] = k;
        for (int64_t k = 0; k < m && m < n; k++) { /* partial Fisher-Yates: a random subset */
            int64_t j = k + (int64_t)hrn_rng_below(&rng, (uint64_t)(n - k));
            int64_t tmp = order[k];
            order[k] = order[j];
            order[j] = tmp;
        }
        for (int64_t q = 0; q < m; q++) {
            int64_t k = order[q];
            double gn = 0.0;
            HRN_TRY(numeric_grad(&s, &x->data[k], o.h, o.four_point, &gn));
            double a = ga[i][k], err = fabs(a - gn);
            double tol = o.atol + o.rtol * fmax(fabs(a), fabs(gn));
            rep->n_checked++;
            if (fabs(a) < 1e-6) rep->n_zero++;
            if (err > rep->max_abs_err) rep->max_abs_err = err;
            if (fabs(a) + fabs(gn) > 0) {
                asym_sum += err / (fabs(a) + fabs(gn));
                asym_n++;
            }
            if (err > tol) rep->n_failed++;
            if (err - tol > worst_excess) {
                worst_excess = err - tol;
                rep->worst_input = i;
                rep->worst_index = k;
                rep->worst_ga = a;
                rep->worst_gn = gn;
            }
        }
    }
    rep->mean_asym = asym_n ? asym_sum / asym_n : 0.0;
    if (rep->n_failed > 0) {
        snprintf(rep->msg, sizeof rep->msg,
                 "%d of %d elements off; worst: input %d element %lld analytic %.6g numeric %.6g "
                 "(atol %.1g rtol %.1g, mean asymmetry %.3g)",
                 rep->n_failed, rep->n_checked, rep->worst_input, (long long)rep->worst_index,
                 rep->worst_ga, rep->worst_gn, o.atol, o.rtol, rep->mean_asym);
        st = hrn_error_set(HRN_ERR_NUMERIC, "gradcheck: %s", rep->msg);
    } else if (rep->n_zero > o.max_zero_frac * rep->n_checked) {
        snprintf(rep->msg, sizeof rep->msg,
                 "mistrusted: %d of %d analytic gradients are ~0 (limit %.0f%%); such a check "
                 "cannot fail: change the inputs or the function",
                 rep->n_zero, rep->n_checked, 100.0 * o.max_zero_frac);
        st = hrn_error_set(HRN_ERR_NUMERIC, "gradcheck: %s", rep->msg);
    } else {
        snprintf(rep->msg, sizeof rep->msg,
                 "ok: %d elements, max |diff| %.3g, mean asymmetry %.3g, %d zero", rep->n_checked,
                 rep->max_abs_err, rep->mean_asym, rep->n_zero);
    }
fail:
    for (int i = 0; i < n_marked; i++) {
        inputs[i]->flags = saved_flags[i];
        inputs[i]->grad = saved_grad[i];
    }
    for (int i = 0; i < n_inputs; i++) free(ga[i]);
    free(r);
    free(order);
    return st;
}
