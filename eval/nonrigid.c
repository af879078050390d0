/* nonrigid.c: REALY's non-rigid ICP (utils/NICP.py; spec B.4 step 3) with CHOLMOD.
 *
 * Unknowns X (4N,3): one 3x4 affine map per scan vertex (rows 4i..4i+3 act on [x y z 1]).
 * Each solve minimises ||A X - B||^2 with A = [alpha*kron(M, G); diag(w) D; diag(kw) D] and
 * B = [0; diag(w) U; diag(kw) T]. Instead of forming A, we assemble the normal matrix directly,
 * which is the same matrix A^T A:
 *   stiffness  alpha^2 * kron(M^T M, G^2), M^T M = the graph Laplacian of the unique edges,
 *   data       sum_i (w_i^2 + kw_i^2) x_i x_i^T on the 4x4 diagonal block i (x_i = [v_i; 1] in
 *              float32, as D is stored as float32 upstream),
 * and A^T B with blocks x_i (w_i^2 U_i + kw_i^2 T_i)^T. CHOLMOD (SuiteSparse 5.12, supernodal
 * LL^T with AMD/METIS ordering) factorises it; the symbolic analysis is done once per call since
 * the pattern never changes (we keep explicit zeros for vertices with zero weight). */
#include "hrn_eval.h"

#include <cholmod.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS (Debian's OpenMP build) parallelises every small dense block of CHOLMOD's supernodal
 * factorisation; the thread wake-ups cost more than the blocks (measured: 2x slower on 2 cores),
 * so the factorisations run with one BLAS thread and the previous setting is restored. */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

struct edge {
    int32_t a, b;
};

static int edge_cmp(const void *x, const void *y) {
    const struct edge *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Unique undirected edges (a < b) of the triangles. */
static enum hrn_status unique_edges(const struct hrn_emesh *g, struct edge **out, int64_t *ne) {
    struct edge *e = malloc((size_t)(3 * g->nf + 1) * sizeof *e);
    if (!e) return hrn_error_set(HRN_ERR_NOMEM, "nicp: cannot allocate edges");
    int64_t n = 0;
    for (int64_t k = 0; k < g->nf; k++)
        for (int j = 0; j < 3; j++) {
            int32_t a = g->f[3 * k + j], b = g->f[3 * k + (j + 1) % 3];
            if (a == b) continue;
            e[n].a = a < b ? a : b;
            e[n].b = a < b ? b : a;
            n++;
        }
    qsort(e, (size_t)n, sizeof *e, edge_cmp);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (m == 0 || e[i].a != e[m - 1].a || e[i].b != e[m - 1].b) e[m++] = e[i];
    *out = e;
    *ne = m;
    return HRN_OK;
}

struct nicp_sys {
    cholmod_common cc;
    int started;
    cholmod_triplet *T;
    cholmod_sparse *Hs;
    cholmod_factor *L;
    cholmod_dense *rhs;
    int64_t n4;
};

/* Fill the triplets of the normal matrix (upper triangle, stype 1). g2: the 4 stiffness weights. */
static void fill_system(struct nicp_sys *s, const struct edge *e, int64_t ne, int64_t nv,
                        const double *xt /* (nv,4) float32-rounded [x y z 1] */,
                        const double *omega2 /* (nv) */, double alpha, const double g2[4]) {
    cholmod_triplet *T = s->T;
    int32_t *ri = T->i, *ci = T->j;
    double *x = T->x;
    size_t k = 0;
    double a2 = alpha * alpha;
    for (int64_t i = 0; i < ne; i++) {
        int32_t p = e[i].a, q = e[i].b;
        for (int d = 0; d < 4; d++) {
            double w = a2 * g2[d];
            ri[k] = 4 * p + d; ci[k] = 4 * p + d; x[k++] = w;
            ri[k] = 4 * q + d; ci[k] = 4 * q + d; x[k++] = w;
            ri[k] = 4 * p + d; ci[k] = 4 * q + d; x[k++] = -w; /* p < q: upper */
        }
    }
    for (int64_t i = 0; i < nv; i++)
        for (int r = 0; r < 4; r++)
            for (int c = r; c < 4; c++) {
                ri[k] = (int32_t)(4 * i + r);
                ci[k] = (int32_t)(4 * i + c);
                x[k++] = omega2[i] * xt[4 * i + r] * xt[4 * i + c];
            }
    T->nnz = k;
}

static enum hrn_status solve_system(struct nicp_sys *s, double *X /* (4N,3) row-major */) {
    cholmod_free_sparse(&s->Hs, &s->cc);
    s->Hs = cholmod_triplet_to_sparse(s->T, s->T->nnz, &s->cc);
    if (!s->Hs) return hrn_error_set(HRN_ERR_NOMEM, "nicp: CHOLMOD triplet_to_sparse failed");
    if (!s->L) {
        s->L = cholmod_analyze(s->Hs, &s->cc);
        if (!s->L)
            return hrn_error_set(HRN_ERR_NUMERIC, "nicp: CHOLMOD analyze failed (status %d)",
                                 s->cc.status);
    }
    if (!cholmod_factorize(s->Hs, s->L, &s->cc) || s->cc.status == CHOLMOD_NOT_POSDEF)
        return hrn_error_set(HRN_ERR_NUMERIC,
                             "nicp: the normal matrix (%lld unknowns) is not positive definite "
                             "(CHOLMOD status %d): too few data/keypoint constraints",
                             (long long)s->n4, s->cc.status);
    cholmod_dense *sol = cholmod_solve(CHOLMOD_A, s->L, s->rhs, &s->cc);
    if (!sol) return hrn_error_set(HRN_ERR_NUMERIC, "nicp: CHOLMOD solve failed");
    const double *sx = sol->x; /* column-major (4N,3) */
    for (int64_t i = 0; i < s->n4; i++)
        for (int c = 0; c < 3; c++) X[3 * i + c] = sx[(size_t)c * (size_t)s->n4 + (size_t)i];
    cholmod_free_dense(&sol, &s->cc);
    return HRN_OK;
}

enum hrn_status hrn_nicp(const struct hrn_emesh *g, const double *c0, int64_t n_c0,
                         const struct hrn_nicp_opts *o, double *out, int *n_solves) {
    enum hrn_status st = HRN_OK;
    const int64_t nv = g->nv;
    struct nicp_sys s = {0};
    struct edge *e = NULL;
    int64_t ne = 0;
    struct hrn_kdtree kd = {0};
    double *X = NULL, *Xold = NULL, *xt = NULL, *omega2 = NULL, *dist = NULL, *U = NULL;
    double *kw = NULL;
    int64_t *nn = NULL;
    int solves = 0;
    if (nv < 1 || n_c0 < 1) return hrn_error_set(HRN_ERR_INVALID, "nicp: empty input");
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    HRN_TRY(unique_edges(g, &e, &ne));
    HRN_TRY(hrn_kdtree_build(&kd, c0, n_c0));
    X = malloc((size_t)nv * 12 * sizeof(double));
    Xold = malloc((size_t)nv * 12 * sizeof(double));
    xt = malloc((size_t)nv * 4 * sizeof(double));
    omega2 = malloc((size_t)nv * sizeof(double));
    dist = malloc((size_t)nv * sizeof(double));
    U = malloc((size_t)nv * 3 * sizeof(double));
    kw = calloc((size_t)nv, sizeof(double));
    nn = malloc((size_t)nv * sizeof(int64_t));
    if (!X || !Xold || !xt || !omega2 || !dist || !U || !kw || !nn) {
        st = hrn_error_set(HRN_ERR_NOMEM, "nicp: cannot allocate for %lld vertices", (long long)nv);
        goto fail;
    }
    if (!cholmod_start(&s.cc)) {
        st = hrn_error_set(HRN_ERR_NOMEM, "nicp: cholmod_start failed");
        goto fail;
    }
    s.started = 1;
    s.cc.print = 0;
    /* AMD alone: CHOLMOD's default also tries METIS, which costs more than it saves on these
     * mesh-graph systems (measured in bench_eval) */
    s.cc.nmethods = 1;
    s.cc.method[0].ordering = CHOLMOD_AMD;
    s.n4 = 4 * nv;
    s.T = cholmod_allocate_triplet((size_t)s.n4, (size_t)s.n4, (size_t)(12 * ne + 10 * nv), 1,
                                   CHOLMOD_REAL, &s.cc);
    s.rhs = cholmod_zeros((size_t)s.n4, 3, CHOLMOD_REAL, &s.cc);
    if (!s.T || !s.rhs) {
        st = hrn_error_set(HRN_ERR_NOMEM, "nicp: CHOLMOD allocation failed for %lld unknowns",
                           (long long)s.n4);
        goto fail;
    }
    memcpy(out, g->v, (size_t)nv * 3 * sizeof(double)); /* cur */
    for (int64_t i = 0; i < 12 * nv; i++) {
        X[i] = 1.0;
        Xold[i] = 0.0;
    }
    const int with_kp = o->n_kp > 0;
    const double gam = o->gamma;
    const double g2_plain[4] = {1, 1, 1, gam * gam};
    const double g2_kp[4] = {4, 4, 9, 4 * gam * gam}; /* diag(2,2,3,2 gamma)^2 */
    const int n_stages = with_kp ? 4 : 3;
    int count = 0;
    for (int stage = 0; stage < n_stages; stage++) {
        double alpha, eps;
        if (with_kp) {
            alpha = stage == 0 ? 150.0 : 50.0 * exp(-0.5 * (stage - 1));
            eps = pow(0.5, stage - 1);
        } else {
            alpha = 50.0 * exp(-0.5 * stage);
            eps = pow(0.5, stage);
        }
        for (int step = 0;; step++) {
            if (with_kp && stage == 0 && step >= 1) break; /* exactly one step in stage 0 */
            if (with_kp && step > 10) break;
            double diff = 0;
            for (int64_t i = 0; i < 12 * nv; i++) diff += (X[i] - Xold[i]) * (X[i] - Xold[i]);
            if (!(sqrt(diff) > eps)) break;
            memcpy(Xold, X, (size_t)nv * 12 * sizeof(double));
            /* correspondences: nearest point of C0 to every current vertex */
            double dsum = 0;
#pragma omp parallel for schedule(dynamic, 512) reduction(+ : dsum)
            for (int64_t i = 0; i < nv; i++) {
                double d2;
                nn[i] = hrn_kdtree_nearest(&kd, out + 3 * i, &d2);
                dist[i] = sqrt(d2);
                dsum += dist[i];
            }
            double thr = fmax(2 * dsum / (double)nv, 1.0);
            for (int64_t i = 0; i < nv; i++) {
                for (int j = 0; j < 3; j++) {
                    float xf = (float)out[3 * i + j];
                    xt[4 * i + j] = (double)xf;
                    U[3 * i + j] = c0[3 * nn[i] + j];
                }
                xt[4 * i + 3] = 1.0;
            }
            /* weights: w (0/1 data term) and kw (keypoints); omega2 = w^2 + kw^2 */
            double kwv = with_kp ? (stage == 0 ? 50.0 : 5.0 * exp(-0.9 * count)) : 0.0;
            for (int64_t i = 0; i < nv; i++) kw[i] = 0;
            for (int k = 0; k < o->n_kp; k++) kw[o->kp_idx[k]] = kwv;
            double *rhs = s.rhs->x; /* column-major (4N,3) */
            memset(rhs, 0, (size_t)s.n4 * 3 * sizeof(double));
            for (int64_t i = 0; i < nv; i++) {
                double w = (with_kp && stage == 0) ? 0.0 : (dist[i] < thr ? 1.0 : 0.0);
                omega2[i] = w * w + kw[i] * kw[i];
                double tgt[3];
                for (int j = 0; j < 3; j++) tgt[j] = w * w * U[3 * i + j];
                if (kw[i] != 0) {
                    /* T = U with the kidx rows replaced by the keypoints; the last one wins */
                    const double *tk = NULL;
                    for (int k = 0; k < o->n_kp; k++)
                        if (o->kp_idx[k] == i) tk = o->kp_pos + 3 * k;
                    for (int j = 0; j < 3; j++) tgt[j] += kw[i] * kw[i] * tk[j];
                }
                for (int r = 0; r < 4; r++)
                    for (int j = 0; j < 3; j++)
                        rhs[(size_t)j * (size_t)s.n4 + (size_t)(4 * i + r)] = xt[4 * i + r] * tgt[j];
            }
            fill_system(&s, e, ne, nv, xt, omega2,
                        alpha, (with_kp && stage == 0) ? g2_kp : g2_plain);
            HRN_TRY(solve_system(&s, X));
            solves++;
            /* cur <- D(cur) X: incremental, with the float32 D */
            for (int64_t i = 0; i < nv; i++)
                for (int j = 0; j < 3; j++) {
                    double acc = 0;
                    for (int r = 0; r < 4; r++) acc += xt[4 * i + r] * X[3 * (4 * i + r) + j];
                    out[3 * i + j] = acc;
                }
            count++;
        }
    }
fail:
    openblas_set_num_threads(blas_threads);
    if (n_solves) *n_solves = solves;
    if (s.started) {
        cholmod_free_triplet(&s.T, &s.cc);
        cholmod_free_sparse(&s.Hs, &s.cc);
        cholmod_free_factor(&s.L, &s.cc);
        cholmod_free_dense(&s.rhs, &s.cc);
        cholmod_finish(&s.cc);
    }
    hrn_kdtree_free(&kd);
    free(e);
    free(X);
    free(Xold);
    free(xt);
    free(omega2);
    free(dist);
    free(U);
    free(kw);
    free(nn);
    return st;
}
