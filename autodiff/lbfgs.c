/* lbfgs.c: L-BFGS over a parameter store through Okazaki's liblbfgs (Debian liblbfgs-dev).
 *
 * Why wrap it rather than write our own: it is small, well tested, has a More-Thuente line
 * search with the strong Wolfe conditions, and reports why it stopped in enough detail for
 * per-subject fitting (style.md 5.7). It works in double; the store holds float, so every
 * evaluation copies x to the store's values and the float gradients back to double (n is at most
 * a few thousand coefficients in fitting, so the copies cost nothing next to the objective).
 */
#include "ad_impl.h"

#include <lbfgs.h>
#include <math.h>
#include <stdio.h>

_Static_assert(sizeof(lbfgsfloatval_t) == sizeof(double), "liblbfgs must be the double build");

struct ctx {
    struct hrn_params *p;
    hrn_objective_fn fn;
    void *user;
    enum hrn_status st; /* first failure of the objective */
    int evaluations;
    int iterations; /* accepted iterations, from the progress callback */
    char msg[512];
};

static lbfgsfloatval_t evaluate(void *instance, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                const int n, const lbfgsfloatval_t step) {
    (void)step;
    struct ctx *c = instance;
    struct hrn_params *p = c->p;
    if (c->st != HRN_OK) { /* liblbfgs cannot be stopped from here: make it give up quickly */
        for (int i = 0; i < n; i++) g[i] = 0.0;
        return INFINITY;
    }
    for (int i = 0; i < n; i++) p->values[i] = (float)x[i];
    hrn_params_zero_grad(p);
    double loss = 0.0;
    c->evaluations++;
    enum hrn_status st = c->fn(c->user, p, &loss);
    if (st == HRN_OK && !isfinite(loss))
        st = hrn_error_set(HRN_ERR_NUMERIC, "objective is %g at evaluation %d", loss,
                           c->evaluations);
    if (st != HRN_OK) {
        c->st = st;
        snprintf(c->msg, sizeof c->msg, "%s", hrn_error_msg());
        for (int i = 0; i < n; i++) g[i] = 0.0;
        return INFINITY;
    }
    for (int i = 0; i < n; i++) g[i] = (double)p->grads[i];
    return loss;
}

static int progress(void *instance, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                    const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                    const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                    int ls) {
    (void)x, (void)g, (void)n, (void)ls, (void)xnorm, (void)step;
    struct ctx *c = instance;
    c->iterations = k;
    hrn_log(HRN_LOG_DEBUG, "lbfgs iter %d: loss %.6g |g| %.3g", k, fx, gnorm);
    return c->st != HRN_OK; /* non-zero cancels */
}

const char *hrn_lbfgs_result_str(enum hrn_lbfgs_result r) {
    switch (r) {
    case HRN_LBFGS_CONVERGED: return "converged";
    case HRN_LBFGS_STOPPED: return "stopped (small relative decrease)";
    case HRN_LBFGS_ALREADY_MINIMIZED: return "already minimized";
    case HRN_LBFGS_MAX_ITER: return "reached the iteration limit";
    case HRN_LBFGS_LINESEARCH_FAILED: return "line search failed";
    case HRN_LBFGS_OBJECTIVE_FAILED: return "objective failed";
    case HRN_LBFGS_INVALID: return "invalid settings";
    }
    return "?";
}

static const char *code_text(int code) {
    switch (code) {
    case LBFGS_SUCCESS: return "gradient norm below epsilon";
    case LBFGS_STOP: return "relative decrease below delta";
    case LBFGS_ALREADY_MINIMIZED: return "initial point is already a minimizer";
    case LBFGSERR_MAXIMUMITERATION: return "maximum number of iterations";
    case LBFGSERR_MAXIMUMLINESEARCH: return "line search reached its trial limit";
    case LBFGSERR_ROUNDING_ERROR: return "rounding errors prevent further progress";
    case LBFGSERR_MINIMUMSTEP: return "line search step became smaller than min_step";
    case LBFGSERR_MAXIMUMSTEP: return "line search step became larger than max_step";
    case LBFGSERR_WIDTHTOOSMALL: return "line search interval became too small";
    case LBFGSERR_INCREASEGRADIENT: return "search direction increases the objective";
    case LBFGSERR_INVALIDPARAMETERS: return "line search met an inconsistent state";
    case LBFGSERR_OUTOFINTERVAL: return "line search step left the interval";
    case LBFGSERR_INCORRECT_TMINMAX: return "line search interval is inconsistent";
    case LBFGSERR_CANCELED: return "canceled";
    case LBFGSERR_OUTOFMEMORY: return "out of memory";
    default: return "invalid parameter";
    }
}

enum hrn_status hrn_lbfgs_minimize(struct hrn_params *p, hrn_objective_fn fn, void *user,
                                   const struct hrn_lbfgs_config *cfg,
                                   struct hrn_lbfgs_report *rep) {
    enum hrn_status st = HRN_OK;
    lbfgsfloatval_t *x = NULL;
    struct hrn_lbfgs_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!p->allocated || p->n == 0)
        return hrn_error_set(HRN_ERR_INVALID, "lbfgs: the params are not allocated");
    if (p->n > INT32_MAX)
        return hrn_error_set(HRN_ERR_UNSUPPORTED, "lbfgs: %zu variables exceed liblbfgs' int n",
                             p->n);
    struct hrn_lbfgs_config c = cfg ? *cfg : (struct hrn_lbfgs_config){0};
    if (c.max_iter < 0 || c.m < 0 || c.past < 0 || c.max_linesearch < 0 || c.epsilon < 0 ||
        c.delta < 0)
        return hrn_error_set(HRN_ERR_INVALID, "lbfgs: negative settings are not allowed");
    lbfgs_parameter_t lp;
    lbfgs_parameter_init(&lp);
    lp.max_iterations = c.max_iter;
    if (c.m) lp.m = c.m;
    if (c.epsilon > 0) lp.epsilon = c.epsilon;
    lp.past = c.past;
    lp.delta = c.delta;
    if (c.max_linesearch) lp.max_linesearch = c.max_linesearch;

    int n = (int)p->n;
    x = lbfgs_malloc(n);
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "lbfgs: cannot allocate %d doubles", n);
    for (int i = 0; i < n; i++) x[i] = (double)p->values[i];
    struct ctx cx = {p, fn, user, HRN_OK, 0, 0, ""};
    lbfgsfloatval_t fx = 0.0;
    int code = lbfgs(n, x, &fx, evaluate, progress, &cx, &lp);
    /* liblbfgs leaves x at the last accepted point (it reverts a failed line search) */
    for (int i = 0; i < n; i++) p->values[i] = (float)x[i];

    rep->code = code;
    rep->evaluations = cx.evaluations;
    rep->iterations = cx.iterations;
    rep->loss = fx;
    if (cx.st != HRN_OK) {
        rep->result = HRN_LBFGS_OBJECTIVE_FAILED;
        st = hrn_error_set(cx.st, "lbfgs: objective failed after %d evaluations: %s",
                           cx.evaluations, cx.msg);
    } else if (code == LBFGS_SUCCESS) {
        rep->result = HRN_LBFGS_CONVERGED;
    } else if (code == LBFGS_STOP) {
        rep->result = HRN_LBFGS_STOPPED;
    } else if (code == LBFGS_ALREADY_MINIMIZED) {
        rep->result = HRN_LBFGS_ALREADY_MINIMIZED;
    } else if (code == LBFGSERR_MAXIMUMITERATION) {
        rep->result = HRN_LBFGS_MAX_ITER;
    } else if (code == LBFGSERR_OUTOFMEMORY) {
        st = hrn_error_set(HRN_ERR_NOMEM, "lbfgs: out of memory");
        rep->result = HRN_LBFGS_INVALID;
    } else if (code <= LBFGSERR_INVALID_N && code >= LBFGSERR_INVALID_ORTHANTWISE_END) {
        rep->result = HRN_LBFGS_INVALID;
        st = hrn_error_set(HRN_ERR_INVALID, "lbfgs: liblbfgs rejected the settings (code %d)",
                           code);
    } else {
        rep->result = HRN_LBFGS_LINESEARCH_FAILED;
    }
    snprintf(rep->why, sizeof rep->why,
             "%s: %s (code %d) after %d iterations, %d evaluations, loss %.6g",
             hrn_lbfgs_result_str(rep->result), code_text(code), code, cx.iterations,
             cx.evaluations, fx);
    lbfgs_free(x);
    return st;
}
