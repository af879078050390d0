/* proto_scan2mesh.c: the scan-to-mesh protocols: the multi-view protocol (spec C; built on the
 * FG 2018 / ESRC script compute_vertices_to_mesh_distances.py) and NoW (spec D;
 * now_evaluation compute_error.py, scan2mesh_computations.py).
 *
 * Per item: crop the GT scan around its 7 landmarks (radius factor 1.2 in FG 2018, 1.4 in NoW),
 * align the prediction by the MATLAB-port Procrustes of the 7 landmarks (reflection allowed),
 * optionally refine, and measure every kept scan vertex's distance to the predicted surface.
 *
 * The refinement (hrn_s2m_refine) minimises upstream's objective F = sum_i d_i^2, d_i the unsigned
 * distance of scan vertex i to the surface s*R*v + t, over the similarity (or, metrical / rigid,
 * over R and t only). Upstream runs chumpy's dogleg on the residual vector d with the Jacobian of
 * the closest-point distance; we run Levenberg-Marquardt on the same residuals and Jacobian:
 *   - closest points are re-found on the moved mesh at every evaluation;
 *   - d_i is differentiated with the closest point q_i carried by the mesh (fixed barycentrics):
 *     dd_i = -n_i . dq_i, n_i = (S_i - q_i)/d_i (the face normal when d_i = 0), which is the exact
 *     derivative of the min-distance where it is differentiable (envelope theorem) and gives a
 *     point-to-plane Gauss-Newton model (tangential sliding is free, unlike point-to-point ICP);
 *   - parameters are increments about the scan centroid c: x' = c + e^a Rod(w) (x - c) + dt
 *     (a absent in rigid mode), composed into (s, R, t) after every accepted step; e^a keeps the
 *     scale positive, where upstream adds 100(|s| - s), which is 0 for s > 0: same minimiser;
 *   - Marquardt damping (A + lambda diag(A)) delta = -J^T d; a step is accepted only if F drops
 *     (lambda /= 10), else lambda *= 10 and the step is retried from the same state.
 * Termination (documented in hrn_eval.h): F = 0; an accepted step lowers F by less than
 * tol*F (default 1e-10); the step is below 1e-12 (relative to the scan extent); lambda > 1e12;
 * or max_iter (default 100) evaluations. Upstream's dogleg stops at a relative decrease of 1e-4
 * (e_3), so its F is at best equal to ours; where the two differ, ours is the lower value of
 * the same objective (tests/test_eval_scan2mesh.c checks stationarity on synthetic cases). */
#include "hrn_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double dist3(const double *a, const double *b) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

void hrn_s2m_crop(const struct hrn_emesh *gt, const double *lmk7, double factor, uint8_t *keep,
                  double *radius, double centre[3]) {
    /* order: R eye outer, R eye inner, L eye inner, L eye outer, nose bottom, R mouth, L mouth */
    double bridge[3], c[3];
    for (int j = 0; j < 3; j++) bridge[j] = (lmk7[3 + j] + lmk7[6 + j]) / 2;
    const double *nb = lmk7 + 12;
    for (int j = 0; j < 3; j++) c[j] = nb[j] + 0.3 * (bridge[j] - nb[j]);
    double r = factor * (dist3(lmk7, lmk7 + 9) + dist3(bridge, nb)) / 2;
    for (int64_t i = 0; i < gt->nv; i++) keep[i] = dist3(gt->v + 3 * i, c) <= r;
    if (radius) *radius = r;
    if (centre) memcpy(centre, c, sizeof c);
}

void hrn_s2m_result_free(struct hrn_s2m_result *r) {
    if (!r) return;
    free(r->dist);
    r->dist = NULL;
}

/* Compose (s2,R2,t2) after (s1,R1,t1): v -> s2 R2 (s1 R1 v + t1) + t2. */
static void compose(double *s1, double R1[9], double t1[3], double s2, const double R2[9],
                    const double t2[3]) {
    double R[9], t[3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            R[3 * i + j] = R2[3 * i] * R1[j] + R2[3 * i + 1] * R1[3 + j] + R2[3 * i + 2] * R1[6 + j];
    for (int i = 0; i < 3; i++)
        t[i] = s2 * (R2[3 * i] * t1[0] + R2[3 * i + 1] * t1[1] + R2[3 * i + 2] * t1[2]) + t2[i];
    *s1 *= s2;
    memcpy(R1, R, sizeof R);
    memcpy(t1, t, sizeof t);
}

/* Solve the k x k system A x = b (k <= 7) by Gaussian elimination with partial pivoting; returns 0
 * when A is singular. A and b are overwritten. */
static int solve_small(double *A, double *b, int k, double *x) {
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r * k + c]) > fabs(A[p * k + c])) p = r;
        if (!(fabs(A[p * k + c]) > 0)) return 0;
        if (p != c) {
            for (int j = 0; j < k; j++) {
                double tmp = A[c * k + j];
                A[c * k + j] = A[p * k + j];
                A[p * k + j] = tmp;
            }
            double tmp = b[c];
            b[c] = b[p];
            b[p] = tmp;
        }
        for (int r = c + 1; r < k; r++) {
            double m = A[r * k + c] / A[c * k + c];
            for (int j = c; j < k; j++) A[r * k + j] -= m * A[c * k + j];
            b[r] -= m * b[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = b[c];
        for (int j = c + 1; j < k; j++) s -= A[c * k + j] * x[j];
        x[c] = s / A[c * k + c];
    }
    return 1;
}

/* Closest points q (n,3), distances d (n) and triangles of the scan S on the mesh; returns F. */
static double s2m_eval_f(const struct hrn_bvh *b, const double *S, int64_t n, double *q, double *d,
                         int64_t *tri) {
    hrn_bvh_closest_many(b, S, n, q, d, tri);
    double f = 0;
    for (int64_t i = 0; i < n; i++) f += d[i] * d[i];
    return f;
}

/* The increment x' = c + e^a Rod(w) (x - c) + dt as a similarity (s2, R2, t2). p: [a,] w, dt. */
static void increment(const double *p, int with_scale, const double c[3], double *s2, double R2[9],
                      double t2[3]) {
    const double *w = p + (with_scale ? 1 : 0), *dt = w + 3;
    *s2 = with_scale ? exp(p[0]) : 1.0;
    hrn_eval_rodrigues(w, R2);
    for (int i = 0; i < 3; i++)
        t2[i] = c[i] + dt[i] -
                *s2 * (R2[3 * i] * c[0] + R2[3 * i + 1] * c[1] + R2[3 * i + 2] * c[2]);
}

enum hrn_status hrn_s2m_refine(const double *S, int64_t n, struct hrn_emesh *pred, int with_scale,
                               int max_iter, double tol, double *s_out, double R_out[9],
                               double t_out[3], struct hrn_s2m_refine_info *info) {
    enum hrn_status st = HRN_OK;
    struct hrn_bvh b = {0};
    double *q = NULL, *d = NULL, *vsave = NULL;
    int64_t *tri = NULL;
    double *fn = NULL;
    const int k = with_scale ? 7 : 6;
    if (max_iter <= 0) max_iter = 100;
    if (!(tol > 0)) tol = 1e-10;
    *s_out = 1;
    for (int i = 0; i < 9; i++) R_out[i] = i % 4 == 0;
    t_out[0] = t_out[1] = t_out[2] = 0;
    struct hrn_s2m_refine_info inf = {0};
    if (n <= 0) return hrn_error_set(HRN_ERR_INVALID, "scan2mesh refine: no scan points");
    q = malloc((size_t)n * 3 * sizeof(double));
    d = malloc((size_t)n * sizeof(double));
    tri = malloc((size_t)n * sizeof(int64_t));
    vsave = malloc((size_t)pred->nv * 3 * sizeof(double));
    fn = malloc((size_t)(pred->nf > 0 ? pred->nf : 1) * 3 * sizeof(double));
    if (!q || !d || !tri || !vsave || !fn) {
        st = hrn_error_set(HRN_ERR_NOMEM, "scan2mesh refine: out of memory (%lld points)",
                           (long long)n);
        goto fail;
    }
    HRN_TRY(hrn_bvh_build(&b, pred->v, pred->nv, pred->f, pred->nf));
    /* centre of the increments: the scan centroid; extent for the step criterion */
    double c[3] = {0, 0, 0}, ext = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) c[j] += S[3 * i + j] / (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) ext = fmax(ext, fabs(S[3 * i + j] - c[j]));
    if (!(ext > 0)) ext = 1;
    double f = s2m_eval_f(&b, S, n, q, d, tri);
    inf.f0 = f;
    inf.evals = 1;
    double lambda = 1e-4;
    while (inf.evals < max_iter && f > 0 && lambda <= 1e12) {
        /* normal equations of the linearised residuals at the current state */
        double A[49] = {0}, g[7] = {0};
        hrn_emesh_face_normals(pred, fn);
        for (int64_t i = 0; i < n; i++) {
            double nv[3], r[3];
            for (int j = 0; j < 3; j++) r[j] = q[3 * i + j] - c[j];
            if (d[i] > 1e-12 * ext) {
                for (int j = 0; j < 3; j++) nv[j] = (S[3 * i + j] - q[3 * i + j]) / d[i];
            } else {
                memcpy(nv, fn + 3 * tri[i], sizeof nv);
            }
            double J[7];
            int o = 0;
            if (with_scale) J[o++] = -(nv[0] * r[0] + nv[1] * r[1] + nv[2] * r[2]);
            J[o++] = -(r[1] * nv[2] - r[2] * nv[1]); /* -(r x n) */
            J[o++] = -(r[2] * nv[0] - r[0] * nv[2]);
            J[o++] = -(r[0] * nv[1] - r[1] * nv[0]);
            J[o++] = -nv[0];
            J[o++] = -nv[1];
            J[o++] = -nv[2];
            for (int a = 0; a < k; a++) {
                g[a] += J[a] * d[i];
                for (int bb = a; bb < k; bb++) A[a * k + bb] += J[a] * J[bb];
            }
        }
        for (int a = 0; a < k; a++)
            for (int bb = 0; bb < a; bb++) A[a * k + bb] = A[bb * k + a];
        memcpy(vsave, pred->v, (size_t)pred->nv * 3 * sizeof(double));
        int accepted = 0;
        double step = 0, f_new = f;
        while (!accepted && inf.evals < max_iter && lambda <= 1e12) {
            double M[49], rhs[7], p[7];
            memcpy(M, A, sizeof M);
            for (int a = 0; a < k; a++) {
                M[a * k + a] += lambda * (A[a * k + a] > 0 ? A[a * k + a] : 1e-30);
                rhs[a] = -g[a];
            }
            if (!solve_small(M, rhs, k, p)) {
                lambda *= 10;
                continue;
            }
            double s2, R2[9], t2[3];
            increment(p, with_scale, c, &s2, R2, t2);
            hrn_eval_transform(pred->v, pred->nv, s2, R2, t2);
            hrn_bvh_refit(&b, pred->v);
            f_new = s2m_eval_f(&b, S, n, q, d, tri);
            inf.evals++;
            step = 0; /* largest displacement of the scan extent under the increment */
            for (int a = 0; a < k; a++) step = fmax(step, fabs(p[a]) * (a < k - 3 ? ext : 1));
            if (f_new < f) {
                accepted = 1;
                compose(s_out, R_out, t_out, s2, R2, t2);
                lambda = fmax(lambda / 10, 1e-12);
            } else {
                memcpy(pred->v, vsave, (size_t)pred->nv * 3 * sizeof(double));
                hrn_bvh_refit(&b, pred->v);
                lambda *= 10;
            }
        }
        if (!accepted) {
            f = s2m_eval_f(&b, S, n, q, d, tri); /* the state restored above */
            break;
        }
        inf.iters++;
        double drop = f - f_new;
        f = f_new;
        if (drop <= tol * (f + drop) || step <= 1e-12 * ext) break;
    }
    inf.f = f;
fail:
    if (info) *info = inf;
    hrn_bvh_free(&b);
    free(q);
    free(d);
    free(tri);
    free(vsave);
    free(fn);
    return st;
}

int64_t hrn_emesh_drop_zero_cross_faces(struct hrn_emesh *m) {
    int64_t kept = 0;
    for (int64_t k = 0; k < m->nf; k++) {
        const int32_t *t = m->f + 3 * k;
        const double *a = m->v + 3 * t[0], *b = m->v + 3 * t[1], *c = m->v + 3 * t[2];
        double e1[3], e2[3];
        for (int j = 0; j < 3; j++) {
            e1[j] = b[j] - a[j];
            e2[j] = c[j] - a[j];
        }
        /* now_evaluation clean_degenerated_faces: unit edges (a zero edge divides by 1), drop the
         * face when the cross product's norm is exactly 0 */
        double l1 = sqrt(e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2]);
        double l2 = sqrt(e2[0] * e2[0] + e2[1] * e2[1] + e2[2] * e2[2]);
        if (l1 == 0) l1 = 1;
        if (l2 == 0) l2 = 1;
        for (int j = 0; j < 3; j++) {
            e1[j] /= l1;
            e2[j] /= l2;
        }
        double x = e1[1] * e2[2] - e1[2] * e2[1], y = e1[2] * e2[0] - e1[0] * e2[2],
               z = e1[0] * e2[1] - e1[1] * e2[0];
        if (sqrt(x * x + y * y + z * z) == 0) continue;
        if (kept != k) memmove(m->f + 3 * kept, t, 3 * sizeof(int32_t));
        kept++;
    }
    int64_t dropped = m->nf - kept;
    m->nf = kept;
    return dropped;
}

enum hrn_status hrn_s2m_eval(const struct hrn_emesh *gt, const double *gt_lmk7,
                             struct hrn_emesh *pred, const double *pred_lmk7,
                             const struct hrn_s2m_opts *o, struct hrn_s2m_result *r) {
    enum hrn_status st = HRN_OK;
    uint8_t *keep = NULL;
    double *S = NULL;
    struct hrn_bvh b = {0};
    memset(r, 0, sizeof *r);
    r->median = r->mean = r->std = (double)NAN;
    keep = malloc((size_t)gt->nv);
    if (!keep) return hrn_error_set(HRN_ERR_NOMEM, "scan2mesh: out of memory");
    /* crop */
    if (o->crop_radius_mm > 0) {
        const double *c = gt_lmk7 + 12; /* nose bottom, unless a nose-tip vertex is given */
        if (o->nose_tip_index >= 0) {
            if (o->nose_tip_index >= gt->nv) {
                st = hrn_error_set(HRN_ERR_INVALID, "scan2mesh: nose tip index %d >= %lld vertices",
                                   o->nose_tip_index, (long long)gt->nv);
                goto fail;
            }
            c = gt->v + 3 * o->nose_tip_index;
        }
        for (int64_t i = 0; i < gt->nv; i++) keep[i] = dist3(gt->v + 3 * i, c) <= o->crop_radius_mm;
    } else if (o->crop_factor > 0) {
        hrn_s2m_crop(gt, gt_lmk7, o->crop_factor, keep, NULL, NULL);
    } else {
        memset(keep, 1, (size_t)gt->nv);
    }
    int64_t n = 0;
    for (int64_t i = 0; i < gt->nv; i++) n += keep[i];
    if (n == 0) {
        st = hrn_error_set(HRN_ERR_NUMERIC, "scan2mesh: the crop keeps no scan vertex");
        goto fail;
    }
    S = malloc((size_t)n * 3 * sizeof(double));
    r->dist = malloc((size_t)n * sizeof(double));
    if (!S || !r->dist) {
        st = hrn_error_set(HRN_ERR_NOMEM, "scan2mesh: out of memory");
        goto fail;
    }
    for (int64_t i = 0, k = 0; i < gt->nv; i++)
        if (keep[i]) memcpy(S + 3 * k++, gt->v + 3 * i, 3 * sizeof(double));
    r->n = n;
    /* 7-landmark Procrustes, pred -> gt */
    HRN_TRY(hrn_procrustes_matlab(gt_lmk7, pred_lmk7, 7, 1, &r->s, r->R, r->t, NULL));
    if (o->metrical_scale > 0) {
        /* scan2mesh_computations_metrical.py: v <- unit * v T + c, where c = muX - b muY T was
         * computed with the Procrustes scale b (kept as upstream has it; the rigid refinement
         * then moves the mesh) */
        r->s = o->metrical_scale;
    }
    hrn_eval_transform(pred->v, pred->nv, r->s, r->R, r->t);
    if (o->refine != HRN_REFINE_NONE) {
        int with_scale = o->refine == HRN_REFINE_SIMILARITY && !(o->metrical_scale > 0);
        double s2, R2[9], t2[3];
        HRN_TRY(hrn_s2m_refine(S, n, pred, with_scale, o->max_iter, o->tol, &s2, R2, t2,
                               &r->refine));
        compose(&r->s, r->R, r->t, s2, R2, t2);
    }
    HRN_TRY(hrn_bvh_build(&b, pred->v, pred->nv, pred->f, pred->nf));
    hrn_bvh_closest_many(&b, S, n, NULL, r->dist, NULL);
    r->median = hrn_eval_median(r->dist, n);
    r->mean = hrn_eval_mean(r->dist, n);
    r->std = hrn_eval_std(r->dist, n, 0);
fail:
    if (st != HRN_OK) hrn_s2m_result_free(r);
    hrn_bvh_free(&b);
    free(keep);
    free(S);
    return st;
}
