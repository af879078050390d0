/* proto_realy.c: REALY's region-aware evaluation (spec B; czh-98/REALY main.py, utils/gICP.py,
 * rICP.py, eval.py, NICP.py, util.py).
 *
 * Per subject: a 7-keypoint similarity (gICP, B.2), then per region a rigid ICP with keypoints
 * (rICP, B.3) from the same gICP result, then the bidirectional step (B.4): closest points C0 of the
 * processed scan on the aligned prediction, NICP of the scan towards C0 (nonrigid.c), closest points
 * C1 of the deformed scan, and NMSE = mean |C1_i - G_i| against the original scan positions. */
#include "hrn_eval.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- keypoint sets (keypoints_region_map) ------------------------------------------------------- */

static const int KP_SEVEN[] = {36, 39, 42, 45, 33, 48, 54};
static const int KP_FOREHEAD[] = {36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
static const int KP_MOUTH[] = {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 64};
static const int KP_NOSE[] = {27, 28, 29, 30, 31, 32, 33, 34, 35};
static const int KP_NOSE_PART[] = {27, 28, 29, 30, 31, 35, 32, 33, 34, 70, 71};
static const int KP_CHEEK[] = {48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 64, 76, 77,
                               36, 41, 40, 39, 42, 47, 46, 45, 7, 8, 9};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

int hrn_realy_kpset(int which, const int **idx) {
    switch (which) {
    case 0: *idx = KP_SEVEN; return N_OF(KP_SEVEN);
    case 1: *idx = KP_FOREHEAD; return N_OF(KP_FOREHEAD);
    case 2: *idx = KP_MOUTH; return N_OF(KP_MOUTH);
    case 3: *idx = KP_NOSE; return N_OF(KP_NOSE);
    case 4: *idx = KP_NOSE_PART; return N_OF(KP_NOSE_PART);
    case 5: *idx = KP_CHEEK; return N_OF(KP_CHEEK);
    default: HRN_ABORT("hrn_realy_kpset: bad set %d", which);
    }
}

/* --- keypoints ------------------------------------------------------------------------------------ */

enum hrn_status hrn_realy_kpdef_read(const char *path, struct hrn_realy_kpdef *kd) {
    double *vals = NULL;
    int64_t n = 0;
    enum hrn_status st = hrn_eval_read_numbers(path, &vals, &n);
    if (st != HRN_OK) return st;
    if (n != 3 * HRN_REALY_N_KP) {
        free(vals);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: expected %d entries [tri, b1, b2] (%d numbers), "
                             "found %lld numbers", path, HRN_REALY_N_KP, 3 * HRN_REALY_N_KP,
                             (long long)n);
    }
    for (int k = 0; k < HRN_REALY_N_KP; k++) {
        double t = vals[3 * k];
        if (t != floor(t) || t < 0 || (kd->faces && t >= (double)kd->nf)) {
            free(vals);
            return hrn_error_set(HRN_ERR_FORMAT, "%s: keypoint %d: triangle %g is not a valid "
                                 "0-based index of the template's %lld triangles", path, k, t,
                                 (long long)kd->nf);
        }
        kd->tri[k] = (int64_t)t;
        kd->b1[k] = vals[3 * k + 1];
        kd->b2[k] = vals[3 * k + 2];
    }
    free(vals);
    return HRN_OK;
}

void hrn_realy_keypoints(const struct hrn_realy_kpdef *kd, const double *v, double *kp) {
    for (int k = 0; k < HRN_REALY_N_KP; k++) {
        const int32_t *f = kd->faces + 3 * kd->tri[k];
        double b1 = kd->b1[k], b2 = kd->b2[k], b3 = 1 - b1 - b2;
        for (int j = 0; j < 3; j++)
            kp[3 * k + j] = b1 * v[3 * (int64_t)f[0] + j] + b2 * v[3 * (int64_t)f[1] + j] +
                            b3 * v[3 * (int64_t)f[2] + j];
    }
}

static void gather(const double *kp, const int *idx, int n, double *out) {
    for (int i = 0; i < n; i++) memcpy(out + 3 * i, kp + 3 * idx[i], 3 * sizeof(double));
}

/* --- numpy's arithmetic (the official mode) ------------------------------------------------ */

/* numpy's pairwise float32 summation (pairwise_sum for float: 8 accumulators per 128-block). */
static float np_pairwise_f32(const float *a, int64_t n) {
    if (n < 8) {
        float r = 0;
        for (int64_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return np_pairwise_f32(a, n2) + np_pairwise_f32(a + n2, n - n2);
}

/* The same for float64 (numpy's pairwise_sum for double). */
static double np_pairwise_f64(const double *a, int64_t n) {
    if (n < 8) {
        double r = 0;
        for (int64_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return np_pairwise_f64(a, n2) + np_pairwise_f64(a + n2, n - n2);
}

/* out (n,3) = x (n,3) R^T + t as np.matmul(x, R.T) + t computes it: numpy hands the product to
 * BLAS dgemm (OpenBLAS here, as for numpy), whose kernels round differently from three multiplies
 * and two adds. out must not alias x. */
static void apply_rt_blas(const double *x, int64_t n, const double R[9], const double t[3],
                          double *out) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, 3, 3, 1.0, x, 3, R, 3, 0.0,
                out, 3);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) out[3 * i + j] += t[j];
}

/* R = U Vh of numpy.linalg.svd(W): LAPACK dgesdd on W in column-major order (what numpy's
 * umath_linalg calls, with the same LAPACK), then U.dot(Vh) through dgemm. */
static enum hrn_status rotation_numpy(const double W[9], double R[9]) {
    double a[9], S[3], Uc[9], VTc[9], U[9], VT[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) a[i + 3 * j] = W[3 * i + j];
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', 3, 3, a, 3, S, Uc, 3, VTc, 3);
    if (info != 0)
        return hrn_error_set(HRN_ERR_LAPACK, "REALY fit_icp_RT: dgesdd failed (info %d)", (int)info);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            U[3 * i + j] = Uc[i + 3 * j];
            VT[3 * i + j] = VTc[i + 3 * j];
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 3, 3, 1.0, U, 3, VT, 3, 0.0, R, 3);
    return HRN_OK;
}

/* util.py fit_icp_RT as numpy 1.24 evaluates it when the target Q (n,3) is float32 (io_obj.read)
 * and the source P (n,3) float64: mean(Q) is a float32 sequential sum (the reduced axis is not
 * the contiguous one), Q - mean(Q) is float32, the products go through BLAS, the scale's
 * numerator is a float32 pairwise sum and the translation a float64 pairwise mean. These
 * roundings matter: the 7-keypoint SVD of gICP amplifies them to ~1e-8 in R and s. */
static enum hrn_status fit_icp_rt_numpy(const double *P, const double *Q, int64_t n,
                                        int with_scale, double *s, double R[9], double t[3]) {
    double mp[3] = {0, 0, 0}, W[9];
    float mq[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) {
            mp[j] += P[3 * i + j];
            mq[j] += (float)Q[3 * i + j];
        }
    for (int j = 0; j < 3; j++) {
        mp[j] /= (double)n;
        mq[j] /= (float)n;
    }
    double *t1 = malloc((size_t)n * 3 * sizeof(double)), *s1 = malloc((size_t)n * 3 * sizeof(double));
    double *rp = malloc((size_t)n * 3 * sizeof(double));
    float *a32 = malloc((size_t)n * 3 * sizeof(float));
    enum hrn_status st = HRN_OK;
    if (!t1 || !s1 || !rp || !a32) {
        st = hrn_error_set(HRN_ERR_NOMEM, "REALY fit_icp_RT: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < 3 * n; i++) {
        t1[i] = (double)((float)Q[i] - mq[i % 3]);
        s1[i] = P[i] - mp[i % 3];
    }
    /* W = t1 . s1^T: numpy's dot of a Fortran-ordered (3,n) and a C-ordered (n,3) array */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 3, 3, (blasint)n, 1.0, t1, 3, s1, 3, 0.0,
                W, 3);
    HRN_TRY(rotation_numpy(W, R));
    double scale = 1.0;
    if (with_scale) {
        for (int64_t i = 0; i < 3 * n; i++) a32[i] = fabsf((float)t1[i]);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3, (blasint)n, 3, 1.0, R, 3, s1, 3,
                    0.0, rp, (blasint)n);
        for (int64_t i = 0; i < 3 * n; i++) rp[i] = fabs(rp[i]);
        double den = np_pairwise_f64(rp, 3 * n);
        if (!(den > 0)) {
            st = hrn_error_set(HRN_ERR_NUMERIC, "REALY fit: source points coincide");
            goto fail;
        }
        scale = (double)np_pairwise_f32(a32, 3 * n) / den;
    }
    /* translation = mean over points of target - scale * R . source, a C-ordered (3,n) array */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 3, (blasint)n, 3, 1.0, R, 3, P, 3, 0.0,
                rp, (blasint)n);
    for (int j = 0; j < 3; j++) {
        double *row = rp + j * n;
        for (int64_t i = 0; i < n; i++) row[i] = Q[3 * i + j] - scale * row[i];
        t[j] = np_pairwise_f64(row, n) / (double)n;
    }
    *s = scale;
fail:
    free(t1);
    free(s1);
    free(rp);
    free(a32);
    return st;
}

/* --- B.2 gICP ------------------------------------------------------------------------------------- */

enum hrn_status hrn_realy_gicp(struct hrn_emesh *pred, const struct hrn_realy_kpdef *kd,
                               const double *gt_kp, int exact) {
    double kp[3 * HRN_REALY_N_KP], P[21], Q[21], s, R[9], t[3];
    hrn_realy_keypoints(kd, pred->v, kp);
    gather(kp, KP_SEVEN, 7, P);
    gather(gt_kp, KP_SEVEN, 7, Q);
    enum hrn_status st = exact ? hrn_fit_realy(P, Q, 7, 1, &s, R, t)
                               : fit_icp_rt_numpy(P, Q, 7, 1, &s, R, t);
    if (st != HRN_OK) return hrn_error_prefix(st, "gICP");
    if (exact) {
        hrn_eval_transform(pred->v, pred->nv, s, R, t);
        return HRN_OK;
    }
    /* gICP.py: np.matmul(predicted_vertices * scale, R.T) + t, the vertices float32 (io_obj):
     * numpy 1.x keeps float32 * float64-scalar in float32, then the matmul is float64 */
    double *x = malloc((size_t)pred->nv * 3 * sizeof(double));
    if (!x) return hrn_error_set(HRN_ERR_NOMEM, "gICP: out of memory");
    const float sf = (float)s;
    for (int64_t i = 0; i < 3 * pred->nv; i++) x[i] = (double)((float)pred->v[i] * sf);
    apply_rt_blas(x, pred->nv, R, t, pred->v);
    free(x);
    return HRN_OK;
}

/* Closest points q (n,3) on the prediction's surface: trimesh's (nearest.on_surface, with its
 * near-tie rule) in the official mode, the exact ones with --exact. */
static void closest_many(const struct hrn_bvh *b, const double *p, int64_t n, double *q, int exact) {
    if (exact) hrn_bvh_closest_many(b, p, n, q, NULL, NULL);
    else hrn_bvh_closest_many_trimesh(b, p, n, q, NULL, NULL);
}

/* --- B.3 rICP ------------------------------------------------------------------------------------- */

/* tmp (n,3) = x (n,3) R^T + t: through BLAS as numpy does (official) or in plain double
 * arithmetic (--exact). */
static void rigid_apply(const double *x, int64_t n, const double R[9], const double t[3],
                        int exact, double *tmp) {
    if (!exact) {
        apply_rt_blas(x, n, R, t, tmp);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++)
            tmp[3 * i + j] = R[3 * j] * x[3 * i] + R[3 * j + 1] * x[3 * i + 1] +
                             R[3 * j + 2] * x[3 * i + 2] + t[j];
}

/* x (n,3) <- float32(x R^T + t): rICP.py's updates end in astype(np.float32) */
static void rigid_update_f32(double *x, int64_t n, const double R[9], const double t[3], int exact,
                             double *tmp) {
    rigid_apply(x, n, R, t, exact, tmp);
    for (int64_t i = 0; i < 3 * n; i++) x[i] = (double)(float)tmp[i];
}

enum hrn_status hrn_realy_ricp(double *v, int64_t nv, const int32_t *f, int64_t nf,
                               const struct hrn_emesh *scan, const double *kp_p, const double *kp_g,
                               int n_kp, int cheek, int exact, int *n_fits) {
    enum hrn_status st = HRN_OK;
    struct hrn_bvh b = {0};
    const int64_t ns = scan->nv;
    /* rate = |S| / |kp_g| (cheek: / 4), m = int(rate) */
    double rate = (double)ns / (double)n_kp;
    if (cheek) rate /= 4;
    int64_t m = (int64_t)rate;
    int64_t nk = m * n_kp, np = ns + nk, ntmp = np > nv ? np : nv;
    double *P = malloc((size_t)np * 3 * sizeof(double)), *Q = malloc((size_t)np * 3 * sizeof(double));
    float *res = malloc((size_t)np * sizeof(float));
    double *Kp = malloc((size_t)(nk + 1) * 3 * sizeof(double));
    double *tmp = malloc((size_t)ntmp * 3 * sizeof(double));
    int fits = 0;
    if (!P || !Q || !res || !Kp || !tmp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "rICP: out of memory");
        goto fail;
    }
    for (int64_t r = 0; r < m; r++) {
        memcpy(Kp + 3 * r * n_kp, kp_p, (size_t)n_kp * 3 * sizeof(double));
        memcpy(Q + 3 * (ns + r * n_kp), kp_g, (size_t)n_kp * 3 * sizeof(double));
    }
    memcpy(Q, scan->v, (size_t)ns * 3 * sizeof(double));
    HRN_TRY(hrn_bvh_build(&b, v, nv, f, nf));
    double err_pre = 0;
    for (int it = 0;; ) {
        closest_many(&b, scan->v, ns, P, exact); /* C: closest on the surface */
        memcpy(P + 3 * ns, Kp, (size_t)nk * 3 * sizeof(double));
        double s, R[9], t[3];
        HRN_TRY(exact ? hrn_fit_realy(P, Q, np, 0, &s, R, t)
                      : fit_icp_rt_numpy(P, Q, np, 0, &s, R, t));
        fits++;
        /* err = mean of squared row norms of float32(P R^T + t) - Q, in float32 like numpy */
        rigid_apply(P, np, R, t, exact, tmp);
        for (int64_t i = 0; i < np; i++) {
            float acc = 0;
            for (int j = 0; j < 3; j++) {
                float d = (float)tmp[3 * i + j] - (float)Q[3 * i + j];
                acc += d * d;
            }
            res[i] = acc;
        }
        double err = (double)(np_pairwise_f32(res, np) / (float)np);
        /* the R, t of the breaking iteration is not applied */
        if (fabs(err - err_pre) < 1e-6 || it >= 100) break;
        it++;
        err_pre = err;
        rigid_update_f32(v, nv, R, t, exact, tmp);
        rigid_update_f32(Kp, nk, R, t, exact, tmp);
        hrn_bvh_refit(&b, v);
    }
fail:
    if (n_fits) *n_fits = fits;
    hrn_bvh_free(&b);
    free(P);
    free(Q);
    free(res);
    free(Kp);
    free(tmp);
    return st;
}

/* --- B.4 bidirectional evaluation ------------------------------------------------------------------- */

/* Pd = (vr, f): the rICP vertices with the (masked) prediction faces. With keep != 0 the processed
 * scan, its deformation and the per-vertex errors are handed to the caller (*g_out, *def_out,
 * *err_out; malloc'd). */
static enum hrn_status bidirectional(const double *vr, int64_t nv, const int32_t *f, int64_t nf,
                                     const struct hrn_emesh *scan_raw, const double *kp_pred,
                                     const double *kp_gt, int n_kp, int exact, double *nmse,
                                     int *solves,
                                     int keep, struct hrn_emesh *g_out, double **def_out,
                                     double **err_out) {
    enum hrn_status st = HRN_OK;
    struct hrn_emesh g = {0};
    struct hrn_bvh b = {0};
    struct hrn_kdtree kd = {0};
    double *c0 = NULL, *def = NULL, *c1 = NULL;
    int64_t kidx[HRN_REALY_N_KP];
    HRN_TRY(hrn_emesh_trimesh_process(scan_raw, &g));
    c0 = malloc((size_t)g.nv * 3 * sizeof(double));
    def = malloc((size_t)g.nv * 3 * sizeof(double));
    c1 = malloc((size_t)g.nv * 3 * sizeof(double));
    if (!c0 || !def || !c1) {
        st = hrn_error_set(HRN_ERR_NOMEM, "REALY: out of memory");
        goto fail;
    }
    HRN_TRY(hrn_bvh_build(&b, vr, nv, f, nf));
    closest_many(&b, g.v, g.nv, c0, exact);
    if (n_kp > 0) {
        HRN_TRY(hrn_kdtree_build(&kd, g.v, g.nv));
        for (int k = 0; k < n_kp; k++) kidx[k] = hrn_kdtree_nearest(&kd, kp_gt + 3 * k, NULL);
    }
    struct hrn_nicp_opts o = {.n_kp = n_kp, .kp_idx = kidx, .kp_pos = kp_pred, .gamma = 1};
    HRN_TRY(hrn_nicp(&g, c0, g.nv, &o, def, solves));
    closest_many(&b, def, g.nv, c1, exact);
    /* NMSE: a mean Euclidean distance against the ORIGINAL scan positions */
    double sum = 0;
    for (int64_t i = 0; i < g.nv; i++) {
        double dx = c1[3 * i] - g.v[3 * i], dy = c1[3 * i + 1] - g.v[3 * i + 1],
               dz = c1[3 * i + 2] - g.v[3 * i + 2];
        c1[i] = sqrt(dx * dx + dy * dy + dz * dz); /* in place: row i is read before written */
        sum += c1[i];
    }
    *nmse = sum / (double)g.nv;
    if (keep) { /* hand over the processed scan, the deformed scan and the per-vertex errors */
        *g_out = g;
        memset(&g, 0, sizeof g);
        *def_out = def;
        def = NULL;
        *err_out = c1;
        c1 = NULL;
    }
fail:
    hrn_kdtree_free(&kd);
    hrn_bvh_free(&b);
    hrn_emesh_free(&g);
    free(c0);
    free(def);
    free(c1);
    return st;
}

static const char *REGION_NAME[HRN_REALY_N_REGIONS] = {"nose", "mouth", "forehead", "cheek"};

void hrn_realy_meshes_free(struct hrn_realy_meshes *m) {
    if (!m) return;
    free(m->gicp_v);
    free(m->faces);
    for (int k = 0; k < HRN_REALY_N_REGIONS; k++) {
        free(m->ricp_v[k]);
        hrn_emesh_free(&m->scan[k]);
        free(m->deformed[k]);
        free(m->err[k]);
    }
    memset(m, 0, sizeof *m);
}

enum hrn_status hrn_realy_eval(const struct hrn_emesh *pred, const struct hrn_realy_gt *gt,
                               const struct hrn_realy_kpdef *kd, struct hrn_realy_result *r) {
    return hrn_realy_eval_ex(pred, gt, kd, NULL, r, NULL);
}

enum hrn_status hrn_realy_eval_ex(const struct hrn_emesh *pred, const struct hrn_realy_gt *gt,
                                  const struct hrn_realy_kpdef *kd, const uint8_t *vertex_mask,
                                  struct hrn_realy_result *r, struct hrn_realy_meshes *out) {
    enum hrn_status st = HRN_OK;
    struct hrn_emesh gl = {0};
    double *vr = NULL;
    int32_t *mf = NULL;
    memset(r, 0, sizeof *r);
    if (out) memset(out, 0, sizeof *out);
    for (int k = 0; k < HRN_REALY_N_REGIONS; k++) r->nmse[k] = r->err_mm[k] = (double)NAN;
    /* --template_mask (B.3): a face survives when all three of its vertices are 1; only B.4's Pd
     * (and the exported meshes) use these faces, rICP uses all of them */
    int64_t nmf = pred->nf;
    mf = malloc((size_t)(pred->nf > 0 ? pred->nf : 1) * 3 * sizeof(int32_t));
    if (!mf) return hrn_error_set(HRN_ERR_NOMEM, "REALY: out of memory");
    if (vertex_mask) {
        nmf = 0;
        for (int64_t k = 0; k < pred->nf; k++) {
            const int32_t *t = pred->f + 3 * k;
            if (vertex_mask[t[0]] && vertex_mask[t[1]] && vertex_mask[t[2]])
                memcpy(mf + 3 * nmf++, t, 3 * sizeof(int32_t));
        }
        if (nmf == 0) {
            st = hrn_error_set(HRN_ERR_INVALID, "REALY: the template mask keeps no triangle");
            goto fail;
        }
    } else {
        memcpy(mf, pred->f, (size_t)pred->nf * 3 * sizeof(int32_t));
    }
    HRN_TRY(hrn_emesh_copy(&gl, pred));
    HRN_TRY(hrn_realy_gicp(&gl, kd, gt->kp, gt->exact));
    double kp[3 * HRN_REALY_N_KP], kp_p[3 * HRN_REALY_N_KP], kp_g[3 * HRN_REALY_N_KP];
    hrn_realy_keypoints(kd, gl.v, kp); /* once, from the gICP result */
    size_t vbytes = (size_t)pred->nv * 3 * sizeof(double);
    vr = malloc(vbytes);
    if (!vr) {
        st = hrn_error_set(HRN_ERR_NOMEM, "REALY: out of memory");
        goto fail;
    }
    if (out) {
        out->gicp_v = malloc(vbytes);
        if (!out->gicp_v) {
            st = hrn_error_set(HRN_ERR_NOMEM, "REALY: out of memory");
            goto fail;
        }
        memcpy(out->gicp_v, gl.v, vbytes);
        out->nv = pred->nv;
    }
    /* rICP keypoint sets per region: nose -> nose_part; evaluation sets: nose -> nose */
    static const int ricp_set[HRN_REALY_N_REGIONS] = {4, 2, 1, 5};
    static const int eval_set[HRN_REALY_N_REGIONS] = {3, 2, 1, -1};
    for (int reg = 0; reg < HRN_REALY_N_REGIONS; reg++) {
        const struct hrn_emesh *scan = &gt->region[reg];
        const int *idx;
        int n = hrn_realy_kpset(ricp_set[reg], &idx);
        gather(kp, idx, n, kp_p);
        gather(gt->kp, idx, n, kp_g);
        memcpy(vr, gl.v, vbytes); /* each from the gICP result */
        st = hrn_realy_ricp(vr, pred->nv, pred->f, pred->nf, scan, kp_p, kp_g, n,
                            reg == HRN_REALY_CHEEK, gt->exact, &r->ricp_fits[reg]);
        if (st != HRN_OK) {
            hrn_error_prefix(st, "rICP %s", REGION_NAME[reg]);
            goto fail;
        }
        double kpr[3 * HRN_REALY_N_KP];
        hrn_realy_keypoints(kd, vr, kpr); /* recomputed from this region's rICP result */
        int ne = 0;
        if (eval_set[reg] >= 0) {
            ne = hrn_realy_kpset(eval_set[reg], &idx);
            gather(kpr, idx, ne, kp_p);
            gather(gt->kp, idx, ne, kp_g);
        }
        st = bidirectional(vr, pred->nv, mf, nmf, scan, kp_p, kp_g, ne, gt->exact, &r->nmse[reg],
                           &r->nicp_solves[reg], out != NULL, out ? &out->scan[reg] : NULL,
                           out ? &out->deformed[reg] : NULL, out ? &out->err[reg] : NULL);
        if (st != HRN_OK) {
            hrn_error_prefix(st, "region %s", REGION_NAME[reg]);
            goto fail;
        }
        r->err_mm[reg] = r->nmse[reg] * gt->metrical_scale;
        if (out) {
            out->ricp_v[reg] = malloc(vbytes);
            if (!out->ricp_v[reg]) {
                st = hrn_error_set(HRN_ERR_NOMEM, "REALY: out of memory");
                goto fail;
            }
            memcpy(out->ricp_v[reg], vr, vbytes);
        }
    }
    if (out) {
        out->faces = mf;
        out->nf = nmf;
        mf = NULL;
    }
fail:
    if (st != HRN_OK && out) hrn_realy_meshes_free(out);
    hrn_emesh_free(&gl);
    free(vr);
    free(mf);
    return st;
}

/* --- exported meshes (B.5): what main.py writes under region_align_save/<name>/ ------------- */

/* Piecewise-linear jet on [0,1] (blue -> cyan -> yellow -> red). main.py takes OpenCV's BGR LUT
 * reversed in index order and uses it as RGB; jet's blue(1-x) = red(x), so that is jet itself. */
static void jet(double x, double rgb[3]) {
    double c[3] = {1.5 - fabs(4 * x - 3), 1.5 - fabs(4 * x - 2), 1.5 - fabs(4 * x - 1)};
    for (int k = 0; k < 3; k++) rgb[k] = round(255 * fmin(1, fmax(0, c[k]))) / 255;
}

static enum hrn_status write_obj(const char *path, const double *v, int64_t nv, const int32_t *f,
                                 int64_t nf, const char *vfmt, const double *err) {
    struct hrn_eval_sbuf b = {0};
    char fmt[64];
    for (int64_t i = 0; i < nv; i++) {
        snprintf(fmt, sizeof fmt, "v %s %s %s", vfmt, vfmt, vfmt);
        hrn_eval_sbuf_printf(&b, fmt, v[3 * i], v[3 * i + 1], v[3 * i + 2]);
        if (err) {
            double e = fmin(err[i] / 0.5, 1.0), rgb[3];
            jet((double)(int)(e * 255) / 255, rgb);
            hrn_eval_sbuf_printf(&b, " %.8f %.8f %.8f", rgb[0], rgb[1], rgb[2]);
        }
        hrn_eval_sbuf_printf(&b, "\n");
    }
    for (int64_t k = 0; k < nf; k++)
        hrn_eval_sbuf_printf(&b, "f %d %d %d\n", f[3 * k] + 1, f[3 * k + 1] + 1, f[3 * k + 2] + 1);
    enum hrn_status st = b.oom ? hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path)
                               : hrn_eval_write_atomic(path, b.s ? b.s : "", b.len);
    hrn_eval_sbuf_free(&b);
    return st;
}

enum hrn_status hrn_realy_write_meshes(const char *dir, const struct hrn_realy_meshes *m,
                                       double metrical_scale) {
    char path[4200];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    enum hrn_status st;
    snprintf(path, sizeof path, "%s/at_global.obj", dir);
    if ((st = write_obj(path, m->gicp_v, m->nv, m->faces, m->nf, "%f", NULL)) != HRN_OK) return st;
    for (int k = 0; k < HRN_REALY_N_REGIONS; k++) {
        const struct hrn_emesh *g = &m->scan[k];
        snprintf(path, sizeof path, "%s/at_%s.obj", dir, REGION_NAME[k]);
        if ((st = write_obj(path, m->ricp_v[k], m->nv, m->faces, m->nf, "%f", NULL)) != HRN_OK)
            return st;
        snprintf(path, sizeof path, "%s/deform_%s.obj", dir, REGION_NAME[k]);
        if ((st = write_obj(path, m->deformed[k], g->nv, g->f, g->nf, "%.8f", NULL)) != HRN_OK)
            return st;
        snprintf(path, sizeof path, "%s/error_%s.obj", dir, REGION_NAME[k]);
        if ((st = write_obj(path, g->v, g->nv, g->f, g->nf, "%.8f", m->err[k])) != HRN_OK)
            return st;
        struct hrn_eval_sbuf b = {0};
        for (int64_t i = 0; i < g->nv; i++)
            hrn_eval_sbuf_printf(&b, "%.9g\n", m->err[k][i] * metrical_scale);
        snprintf(path, sizeof path, "%s/error_%s.txt", dir, REGION_NAME[k]);
        st = b.oom ? hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path)
                   : hrn_eval_write_atomic(path, b.s ? b.s : "", b.len);
        hrn_eval_sbuf_free(&b);
        if (st != HRN_OK) return st;
    }
    return HRN_OK;
}

/* --- Python float formatting (B.5) --------------------------------------------------------------- */

char *hrn_py_float_repr(double x, char *buf, size_t cap) {
    if (isnan(x)) { snprintf(buf, cap, "nan"); return buf; }
    if (isinf(x)) { snprintf(buf, cap, x > 0 ? "inf" : "-inf"); return buf; }
    if (x == 0) { snprintf(buf, cap, signbit(x) ? "-0.0" : "0.0"); return buf; }
    /* shortest round-trip digits */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp = [-]d.ddde[+-]XX: split digits and exponent */
    const char *p = tmp;
    int neg = *p == '-';
    if (neg) p++;
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    digits[nd] = '\0';
    int e10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = '\0';
    char out[64];
    int o = 0;
    if (neg) out[o++] = '-';
    if (e10 >= -5 + 1 && e10 < 16) { /* repr uses fixed notation for 1e-4 <= |x| < 1e16 */
        if (e10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -e10 - 1; i++) out[o++] = '0';
            for (int i = 0; i < nd; i++) out[o++] = digits[i];
        } else {
            for (int i = 0; i <= e10; i++) out[o++] = i < nd ? digits[i] : '0';
            out[o++] = '.';
            if (nd > e10 + 1)
                for (int i = e10 + 1; i < nd; i++) out[o++] = digits[i];
            else
                out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", e10 < 0 ? '-' : '+', abs(e10));
    }
    snprintf(buf, cap, "%s", out);
    return buf;
}

char *hrn_py_float_str9(double x, char *buf) {
    char full[64];
    hrn_py_float_repr(x, full, sizeof full);
    snprintf(buf, 32, "%.9s", full);
    return buf;
}
