/* align.c: the similarity fits of the protocols, each exactly as its official code does it
 * (REALY fit_icp_RT, B.2; the MATLAB procrustes port of FG 2018 / NoW, C.1 and D.3), and the
 * statistics (np.median, mean, std with ddof). SVDs go through LAPACKE_dgesvd. */
#include "hrn_eval.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* M (3x3 row-major) = U diag(S) VT. */
static enum hrn_status svd3(const double M[9], double U[9], double S[3], double VT[9],
                            const char *what) {
    double a[9], superb[2];
    memcpy(a, M, sizeof a);
    lapack_int info = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', 3, 3, a, 3, S, U, 3, VT, 3, superb);
    if (info != 0)
        return hrn_error_set(HRN_ERR_LAPACK, "%s: dgesvd of the 3x3 cross-covariance failed (info %d)",
                             what, (int)info);
    return HRN_OK;
}

static void mat3_mul(const double A[9], const double B[9], double C[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

static void centroid(const double *P, int64_t n, double mu[3]) {
    mu[0] = mu[1] = mu[2] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) mu[j] += P[3 * i + j];
    for (int j = 0; j < 3; j++) mu[j] /= (double)n;
}

enum hrn_status hrn_fit_realy(const double *P, const double *Q, int64_t n, int with_scale,
                              double *s, double R[9], double t[3]) {
    if (n < 1) return hrn_error_set(HRN_ERR_INVALID, "REALY fit: no points");
    double mp[3], mq[3], M[9] = {0}, U[9], S[3], VT[9];
    centroid(P, n, mp);
    centroid(Q, n, mq);
    /* M = t1 s1^T with t1 = Q - mean(Q), s1 = P - mean(P) as 3xn */
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                M[3 * a + b] += (Q[3 * i + a] - mq[a]) * (P[3 * i + b] - mp[b]);
    enum hrn_status st = svd3(M, U, S, VT, "REALY fit_icp_RT");
    if (st != HRN_OK) return st;
    mat3_mul(U, VT, R); /* no det(R) = -1 correction: the official code has none */
    double scale = 1.0;
    if (with_scale) {
        /* L1 ratio of element-wise absolute values (not Umeyama) */
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            double sp[3];
            for (int j = 0; j < 3; j++) {
                num += fabs(Q[3 * i + j] - mq[j]);
                sp[j] = P[3 * i + j] - mp[j];
            }
            for (int j = 0; j < 3; j++)
                den += fabs(R[3 * j] * sp[0] + R[3 * j + 1] * sp[1] + R[3 * j + 2] * sp[2]);
        }
        if (!(den > 0)) return hrn_error_set(HRN_ERR_NUMERIC, "REALY fit: source points coincide");
        scale = num / den;
    }
    for (int j = 0; j < 3; j++)
        t[j] = mq[j] - scale * (R[3 * j] * mp[0] + R[3 * j + 1] * mp[1] + R[3 * j + 2] * mp[2]);
    *s = scale;
    return HRN_OK;
}

enum hrn_status hrn_procrustes_matlab(const double *X, const double *Y, int64_t n, int scaling,
                                      double *s, double R[9], double t[3], double *dissimilarity) {
    if (n < 2) return hrn_error_set(HRN_ERR_INVALID, "procrustes: need >= 2 points, got %lld",
                                    (long long)n);
    double mx[3], my[3], ssx = 0, ssy = 0;
    centroid(X, n, mx);
    centroid(Y, n, my);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) {
            double a = X[3 * i + j] - mx[j], b = Y[3 * i + j] - my[j];
            ssx += a * a;
            ssy += b * b;
        }
    if (!(ssx > 0) || !(ssy > 0))
        return hrn_error_set(HRN_ERR_NUMERIC, "procrustes: all landmarks coincide");
    double nx = sqrt(ssx), ny = sqrt(ssy);
    /* A = X0^T Y0 of the normalised sets; U S V^T = A; T = V U^T (reflection allowed) */
    double A[9] = {0}, U[9], S[3], VT[9];
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                A[3 * a + b] += (X[3 * i + a] - mx[a]) / nx * ((Y[3 * i + b] - my[b]) / ny);
    enum hrn_status st = svd3(A, U, S, VT, "procrustes");
    if (st != HRN_OK) return st;
    double trace = S[0] + S[1] + S[2];
    double b = scaling ? trace * nx / ny : 1.0;
    /* v' = b v T + c (rows) = b T^T v + c (columns); T^T = U V^T */
    mat3_mul(U, VT, R);
    for (int j = 0; j < 3; j++)
        t[j] = mx[j] - b * (R[3 * j] * my[0] + R[3 * j + 1] * my[1] + R[3 * j + 2] * my[2]);
    *s = b;
    if (dissimilarity)
        *dissimilarity = scaling ? 1 - trace * trace : 1 + ssy / ssx - 2 * trace * ny / nx;
    return HRN_OK;
}

void hrn_eval_transform(double *v, int64_t n, double s, const double R[9], const double t[3]) {
    for (int64_t i = 0; i < n; i++) {
        double *p = v + 3 * i, x = p[0], y = p[1], z = p[2];
        for (int j = 0; j < 3; j++)
            p[j] = s * (R[3 * j] * x + R[3 * j + 1] * y + R[3 * j + 2] * z) + t[j];
    }
}

void hrn_eval_rodrigues(const double r[3], double R[9]) {
    double th = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    if (th < 1e-300) {
        double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(R, id, sizeof id);
        return;
    }
    double k[3] = {r[0] / th, r[1] / th, r[2] / th}, c = cos(th), s = sin(th), C = 1 - c;
    R[0] = c + k[0] * k[0] * C;
    R[1] = k[0] * k[1] * C - k[2] * s;
    R[2] = k[0] * k[2] * C + k[1] * s;
    R[3] = k[1] * k[0] * C + k[2] * s;
    R[4] = c + k[1] * k[1] * C;
    R[5] = k[1] * k[2] * C - k[0] * s;
    R[6] = k[2] * k[0] * C - k[1] * s;
    R[7] = k[2] * k[1] * C + k[0] * s;
    R[8] = c + k[2] * k[2] * C;
}

/* --- statistics ---------------------------------------------------------------------------------- */

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hrn_eval_median(const double *x, int64_t n) {
    if (n <= 0) return (double)NAN;
    double *c = malloc((size_t)n * sizeof *c);
    HRN_ASSERT(c != NULL);
    memcpy(c, x, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, dcmp);
    double m = (n % 2) ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

/* Pairwise summation, as numpy does for mean/sum of float arrays (close to it, not bit-exact). */
static double psum(const double *x, int64_t n) {
    if (n <= 8) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += x[i];
        return s;
    }
    int64_t h = n / 2;
    return psum(x, h) + psum(x + h, n - h);
}

double hrn_eval_mean(const double *x, int64_t n) {
    if (n <= 0) return (double)NAN;
    return psum(x, n) / (double)n;
}

double hrn_eval_std(const double *x, int64_t n, int ddof) {
    if (n <= ddof) return (double)NAN;
    double m = hrn_eval_mean(x, n), s = 0;
    for (int64_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - ddof));
}

double hrn_eval_nanmean(const double *x, int64_t n, int64_t *n_valid) {
    double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            s += x[i];
            k++;
        }
    if (n_valid) *n_valid = k;
    return k ? s / (double)k : (double)NAN;
}

enum hrn_status hrn_eval_umeyama(const double *P, const double *Q, int64_t n, int with_scale,
                            double *s, double R[9], double t[3]) {
    if (n < 3) return hrn_error_set(HRN_ERR_INVALID, "umeyama: need >= 3 points, got %lld",
                                    (long long)n);
    double mp[3], mq[3], M[9] = {0}, U[9], S[3], VT[9], varp = 0;
    centroid(P, n, mp);
    centroid(Q, n, mq);
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) {
            double pa = P[3 * i + a] - mp[a];
            varp += pa * pa;
            for (int b = 0; b < 3; b++) M[3 * a + b] += (Q[3 * i + a] - mq[a]) * (P[3 * i + b] - mp[b]);
        }
    enum hrn_status st = svd3(M, U, S, VT, "umeyama");
    if (st != HRN_OK) return st;
    double UV[9];
    mat3_mul(U, VT, UV);
    double det = UV[0] * (UV[4] * UV[8] - UV[5] * UV[7]) - UV[1] * (UV[3] * UV[8] - UV[5] * UV[6]) +
                 UV[2] * (UV[3] * UV[7] - UV[4] * UV[6]);
    double d3 = det < 0 ? -1.0 : 1.0; /* a proper rotation */
    double Us[9];
    memcpy(Us, U, sizeof Us);
    for (int i = 0; i < 3; i++) Us[3 * i + 2] *= d3;
    mat3_mul(Us, VT, R);
    double scale = 1.0;
    if (with_scale) {
        if (!(varp > 0)) return hrn_error_set(HRN_ERR_NUMERIC, "umeyama: source points coincide");
        scale = (S[0] + S[1] + d3 * S[2]) / varp;
    }
    for (int j = 0; j < 3; j++)
        t[j] = mq[j] - scale * (R[3 * j] * mp[0] + R[3 * j + 1] * mp[1] + R[3 * j + 2] * mp[2]);
    *s = scale;
    return HRN_OK;
}
