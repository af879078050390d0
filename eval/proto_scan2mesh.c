/* proto_scan2mesh.c: the scan-to-mesh protocols: the multi-view protocol (spec C; built on the
 * FG 2018 / ESRC script compute_vertices_to_mesh_distances.py) and NoW (spec D;
 * now_evaluation compute_error.py, scan2mesh_computations.py).
 *
 * Per item: crop the GT scan around its 7 landmarks (radius factor 1.2 in FG 2018, 1.4 in NoW),
 * align the prediction by the MATLAB-port Procrustes of the 7 landmarks (reflection allowed),
 * optionally refine, and measure every kept scan vertex's distance to the predicted surface.
 *
 * The NoW refinement minimises the sum of squared scan-to-surface distances over (s, R, t) of the
 * mesh. Upstream runs chumpy's dogleg on that objective; we run point-to-point ICP with a closed-form
 * similarity per step, whose fixed points are the stationary points of the same objective (the
 * closest point is a minimiser, so its derivative in the transform vanishes: envelope theorem). The
 * two optimisers can stop at slightly different points of the same basin. */
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

enum hrn_status hrn_s2m_eval(const struct hrn_emesh *gt, const double *gt_lmk7,
                             struct hrn_emesh *pred, const double *pred_lmk7,
                             const struct hrn_s2m_opts *o, struct hrn_s2m_result *r) {
    enum hrn_status st = HRN_OK;
    uint8_t *keep = NULL;
    double *S = NULL, *C = NULL;
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
    C = malloc((size_t)n * 3 * sizeof(double));
    r->dist = malloc((size_t)n * sizeof(double));
    if (!S || !C || !r->dist) {
        st = hrn_error_set(HRN_ERR_NOMEM, "scan2mesh: out of memory");
        goto fail;
    }
    for (int64_t i = 0, k = 0; i < gt->nv; i++)
        if (keep[i]) memcpy(S + 3 * k++, gt->v + 3 * i, 3 * sizeof(double));
    r->n = n;
    /* 7-landmark Procrustes, pred -> gt */
    HRN_TRY(hrn_procrustes_matlab(gt_lmk7, pred_lmk7, 7, 1, &r->s, r->R, r->t, NULL));
    hrn_eval_transform(pred->v, pred->nv, r->s, r->R, r->t);
    HRN_TRY(hrn_bvh_build(&b, pred->v, pred->nv, pred->f, pred->nf));
    if (o->refine != HRN_REFINE_NONE) {
        int with_scale = o->refine == HRN_REFINE_SIMILARITY;
        int max_iter = o->max_iter > 0 ? o->max_iter : 100;
        double prev = INFINITY;
        for (int it = 0; it < max_iter; it++) {
            hrn_bvh_closest_many(&b, S, n, C, r->dist, NULL);
            double obj = 0;
            for (int64_t i = 0; i < n; i++) obj += r->dist[i] * r->dist[i];
            if (it > 0 && prev - obj <= 1e-10 * prev) break;
            prev = obj;
            double s, R[9], t[3];
            HRN_TRY(hrn_eval_umeyama(C, S, n, with_scale, &s, R, t));
            if (!(s > 0)) {
                st = hrn_error_set(HRN_ERR_NUMERIC, "scan2mesh: refinement scale %g", s);
                goto fail;
            }
            hrn_eval_transform(pred->v, pred->nv, s, R, t);
            compose(&r->s, r->R, r->t, s, R, t);
            hrn_bvh_refit(&b, pred->v);
        }
    }
    hrn_bvh_closest_many(&b, S, n, NULL, r->dist, NULL);
    r->median = hrn_eval_median(r->dist, n);
    r->mean = hrn_eval_mean(r->dist, n);
    r->std = hrn_eval_std(r->dist, n, 0);
fail:
    if (st != HRN_OK) hrn_s2m_result_free(r);
    hrn_bvh_free(&b);
    free(keep);
    free(S);
    free(C);
    return st;
}
