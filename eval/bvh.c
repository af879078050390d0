/* bvh.c: a bounding-volume hierarchy over triangles for exact closest-point queries (the
 * psbody/trimesh "closest point on the surface", spec E) and ray casting with all hits
 * (trimesh intersects_location(multiple_hits=True), A.5).
 *
 * Build: top-down, split on the longest axis of the centroid box at the median (nth_element on
 * centroids), leaves of <= 4 triangles. Closest point: depth-first, nearer child first, pruned by
 * the squared distance to each box. Ray: slab test per box, Moller-Trumbore per triangle with the
 * barycentric tolerance -1e-12 (A.10). */
#include "hrn_eval.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LEAF_SIZE = 4, STACK_MAX = 128 };

/* --- closest point on a triangle --------------------------------------------------------------- */

static inline double dot3(const double *a, const double *b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* ref: C. Ericson, Real-Time Collision Detection, 5.1.5 (Voronoi region test). */
double hrn_closest_on_triangle(const double p[3], const double a[3], const double b[3],
                               const double c[3], double q[3]) {
    double ab[3], ac[3], ap[3];
    for (int j = 0; j < 3; j++) {
        ab[j] = b[j] - a[j];
        ac[j] = c[j] - a[j];
        ap[j] = p[j] - a[j];
    }
    double d1 = dot3(ab, ap), d2 = dot3(ac, ap);
    if (d1 <= 0 && d2 <= 0) {
        memcpy(q, a, 3 * sizeof(double));
        goto done;
    }
    double bp[3];
    for (int j = 0; j < 3; j++) bp[j] = p[j] - b[j];
    double d3 = dot3(ab, bp), d4 = dot3(ac, bp);
    if (d3 >= 0 && d4 <= d3) {
        memcpy(q, b, 3 * sizeof(double));
        goto done;
    }
    double vc = d1 * d4 - d3 * d2;
    if (vc <= 0 && d1 >= 0 && d3 <= 0) {
        double v = d1 / (d1 - d3);
        for (int j = 0; j < 3; j++) q[j] = a[j] + v * ab[j];
        goto done;
    }
    double cp[3];
    for (int j = 0; j < 3; j++) cp[j] = p[j] - c[j];
    double d5 = dot3(ab, cp), d6 = dot3(ac, cp);
    if (d6 >= 0 && d5 <= d6) {
        memcpy(q, c, 3 * sizeof(double));
        goto done;
    }
    double vb = d5 * d2 - d1 * d6;
    if (vb <= 0 && d2 >= 0 && d6 <= 0) {
        double w = d2 / (d2 - d6);
        for (int j = 0; j < 3; j++) q[j] = a[j] + w * ac[j];
        goto done;
    }
    double va = d3 * d6 - d5 * d4;
    if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
        double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        for (int j = 0; j < 3; j++) q[j] = b[j] + w * (c[j] - b[j]);
        goto done;
    }
    {
        double denom = va + vb + vc;
        if (denom == 0) { /* degenerate (collinear) triangle: fall back to its edges */
            double best = DBL_MAX, t[3];
            const double *e[3][2] = {{a, b}, {b, c}, {a, c}};
            for (int k = 0; k < 3; k++) {
                double d[3], w[3];
                for (int j = 0; j < 3; j++) {
                    d[j] = e[k][1][j] - e[k][0][j];
                    w[j] = p[j] - e[k][0][j];
                }
                double dd = dot3(d, d), s = dd > 0 ? dot3(w, d) / dd : 0;
                s = s < 0 ? 0 : (s > 1 ? 1 : s);
                for (int j = 0; j < 3; j++) t[j] = e[k][0][j] + s * d[j];
                double r[3] = {p[0] - t[0], p[1] - t[1], p[2] - t[2]};
                if (dot3(r, r) < best) {
                    best = dot3(r, r);
                    memcpy(q, t, sizeof t);
                }
            }
            return best;
        }
        double v = vb / denom, w = vc / denom;
        for (int j = 0; j < 3; j++) q[j] = a[j] + ab[j] * v + ac[j] * w;
    }
done:;
    double r[3] = {p[0] - q[0], p[1] - q[1], p[2] - q[2]};
    return dot3(r, r);
}

double hrn_closest_brute(const double *v, const int32_t *f, int64_t nf, const double p[3],
                         double q[3], int64_t *tri) {
    double best = DBL_MAX, t[3];
    int64_t bt = -1;
    for (int64_t k = 0; k < nf; k++) {
        double d2 = hrn_closest_on_triangle(p, v + 3 * f[3 * k], v + 3 * f[3 * k + 1],
                                            v + 3 * f[3 * k + 2], t);
        if (d2 < best) {
            best = d2;
            bt = k;
            if (q) memcpy(q, t, sizeof t);
        }
    }
    if (tri) *tri = bt;
    return best;
}

/* --- build ------------------------------------------------------------------------------------- */

struct build_ctx {
    struct hrn_bvh *b;
    double *cent; /* (nf,3) */
};

static void node_bounds(struct hrn_bvh *b, struct hrn_bvh_node *n) {
    for (int j = 0; j < 3; j++) {
        n->lo[j] = DBL_MAX;
        n->hi[j] = -DBL_MAX;
    }
    for (int32_t i = n->first; i < n->first + n->count; i++) {
        const int32_t *t = b->f + 3 * (int64_t)b->tri[i];
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) {
                double x = b->v[3 * (int64_t)t[k] + j];
                if (x < n->lo[j]) n->lo[j] = x;
                if (x > n->hi[j]) n->hi[j] = x;
            }
    }
}

/* Quickselect on tri[lo..hi) so that element k is in place by centroid coordinate `axis`. */
static void select_k(int32_t *tri, const double *cent, int axis, int32_t lo, int32_t hi,
                     int32_t k) {
    while (hi - lo > 1) {
        double pivot = cent[3 * (int64_t)tri[lo + (hi - lo) / 2] + axis];
        int32_t i = lo, j = hi - 1;
        while (i <= j) {
            while (cent[3 * (int64_t)tri[i] + axis] < pivot) i++;
            while (cent[3 * (int64_t)tri[j] + axis] > pivot) j--;
            if (i <= j) {
                int32_t tmp = tri[i];
                tri[i] = tri[j];
                tri[j] = tmp;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j + 1;
        else if (k >= i) lo = i;
        else return;
    }
}

static int32_t build_rec(struct build_ctx *c, int32_t first, int32_t count) {
    struct hrn_bvh *b = c->b;
    int32_t id = b->n_nodes++;
    struct hrn_bvh_node *n = &b->nodes[id];
    n->first = first;
    n->count = count;
    n->left = n->right = -1;
    node_bounds(b, n);
    if (count <= LEAF_SIZE) return id;
    double clo[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, chi[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
    for (int32_t i = first; i < first + count; i++)
        for (int j = 0; j < 3; j++) {
            double x = c->cent[3 * (int64_t)b->tri[i] + j];
            if (x < clo[j]) clo[j] = x;
            if (x > chi[j]) chi[j] = x;
        }
    int axis = 0;
    for (int j = 1; j < 3; j++)
        if (chi[j] - clo[j] > chi[axis] - clo[axis]) axis = j;
    int32_t half = count / 2;
    select_k(b->tri, c->cent, axis, first, first + count, first + half);
    int32_t l = build_rec(c, first, half);
    int32_t r = build_rec(c, first + half, count - half);
    b->nodes[id].left = l; /* nodes[] does not move: allocated for the worst case */
    b->nodes[id].right = r;
    return id;
}

enum hrn_status hrn_bvh_build(struct hrn_bvh *b, const double *v, int64_t nv, const int32_t *f,
                              int64_t nf) {
    memset(b, 0, sizeof *b);
    if (nf <= 0 || nf > INT32_MAX / 2)
        return hrn_error_set(HRN_ERR_INVALID, "bvh: need 1..%d triangles, got %lld",
                             INT32_MAX / 2, (long long)nf);
    for (int64_t k = 0; k < 3 * nf; k++)
        if (f[k] < 0 || f[k] >= nv)
            return hrn_error_set(HRN_ERR_INVALID, "bvh: face %lld has index %d outside 0..%lld",
                                 (long long)(k / 3), f[k], (long long)nv - 1);
    b->v = v;
    b->f = f;
    b->nf = nf;
    b->nodes = malloc((size_t)(2 * nf) * sizeof *b->nodes);
    b->tri = malloc((size_t)nf * sizeof *b->tri);
    double *cent = malloc((size_t)nf * 3 * sizeof(double));
    if (!b->nodes || !b->tri || !cent) {
        free(cent);
        hrn_bvh_free(b);
        return hrn_error_set(HRN_ERR_NOMEM, "bvh: cannot allocate for %lld triangles",
                             (long long)nf);
    }
    for (int64_t k = 0; k < nf; k++) {
        b->tri[k] = (int32_t)k;
        for (int j = 0; j < 3; j++)
            cent[3 * k + j] =
                (v[3 * f[3 * k] + j] + v[3 * f[3 * k + 1] + j] + v[3 * f[3 * k + 2] + j]) / 3.0;
    }
    struct build_ctx c = {b, cent};
    build_rec(&c, 0, (int32_t)nf);
    free(cent);
    return HRN_OK;
}

/* Children are stored after their parent, so a reverse sweep refits bottom-up. */
void hrn_bvh_refit(struct hrn_bvh *b, const double *v) {
    b->v = v;
    for (int32_t i = b->n_nodes - 1; i >= 0; i--) {
        struct hrn_bvh_node *n = &b->nodes[i];
        if (n->left < 0) {
            node_bounds(b, n);
            continue;
        }
        const struct hrn_bvh_node *l = &b->nodes[n->left], *r = &b->nodes[n->right];
        for (int j = 0; j < 3; j++) {
            n->lo[j] = fmin(l->lo[j], r->lo[j]);
            n->hi[j] = fmax(l->hi[j], r->hi[j]);
        }
    }
}

void hrn_bvh_free(struct hrn_bvh *b) {
    if (!b) return;
    free(b->nodes);
    free(b->tri);
    memset(b, 0, sizeof *b);
}

/* --- closest point ------------------------------------------------------------------------------ */

static inline double box_d2(const struct hrn_bvh_node *n, const double p[3]) {
    double d2 = 0;
    for (int j = 0; j < 3; j++) {
        double d = p[j] < n->lo[j] ? n->lo[j] - p[j] : (p[j] > n->hi[j] ? p[j] - n->hi[j] : 0);
        d2 += d * d;
    }
    return d2;
}

double hrn_bvh_closest(const struct hrn_bvh *b, const double p[3], double q[3], int64_t *tri) {
    int32_t stack[STACK_MAX];
    int sp = 0;
    double best = DBL_MAX, t[3], bq[3] = {0, 0, 0};
    int64_t bt = -1;
    stack[sp++] = 0;
    while (sp > 0) {
        const struct hrn_bvh_node *n = &b->nodes[stack[--sp]];
        if (box_d2(n, p) > best) continue;
        if (n->left < 0) {
            for (int32_t i = n->first; i < n->first + n->count; i++) {
                int64_t k = b->tri[i];
                const int32_t *fk = b->f + 3 * k;
                double d2 = hrn_closest_on_triangle(p, b->v + 3 * (int64_t)fk[0],
                                                    b->v + 3 * (int64_t)fk[1],
                                                    b->v + 3 * (int64_t)fk[2], t);
                /* ties go to the lower triangle index, like a brute-force scan */
                if (d2 < best || (d2 == best && k < bt)) {
                    best = d2;
                    bt = k;
                    memcpy(bq, t, sizeof t);
                }
            }
            continue;
        }
        double dl = box_d2(&b->nodes[n->left], p), dr = box_d2(&b->nodes[n->right], p);
        HRN_ASSERT(sp + 2 <= STACK_MAX);
        /* push the farther child first so the nearer one is searched first */
        if (dl <= dr) {
            if (dr <= best) stack[sp++] = n->right;
            if (dl <= best) stack[sp++] = n->left;
        } else {
            if (dl <= best) stack[sp++] = n->left;
            if (dr <= best) stack[sp++] = n->right;
        }
    }
    if (q) memcpy(q, bq, sizeof bq);
    if (tri) *tri = bt;
    return best;
}

void hrn_bvh_closest_many(const struct hrn_bvh *b, const double *p, int64_t n, double *q,
                          double *dist, int64_t *tri) {
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < n; i++) {
        double qq[3];
        int64_t tt;
        double d2 = hrn_bvh_closest(b, p + 3 * i, qq, &tt);
        if (q) memcpy(q + 3 * i, qq, sizeof qq);
        if (dist) dist[i] = sqrt(d2);
        if (tri) tri[i] = tt;
    }
}

/* --- closest point as trimesh 3.12.7 returns it (REALY's official mode) ---------------------- */

/* trimesh.triangles.closest_point: Ericson's region tests with trimesh's slack tol.zero (1e-13)
 * where Ericson compares with 0, and its arithmetic order. */
static double closest_on_triangle_tm(const double p[3], const double a[3], const double b[3],
                                     const double c[3], double q[3]) {
    const double z = 1e-13;
    double ab[3], ac[3], ap[3], bp[3], cp[3];
    for (int j = 0; j < 3; j++) {
        ab[j] = b[j] - a[j];
        ac[j] = c[j] - a[j];
        ap[j] = p[j] - a[j];
        bp[j] = p[j] - b[j];
        cp[j] = p[j] - c[j];
    }
    double d1 = dot3(ab, ap), d2 = dot3(ac, ap), d3 = dot3(ab, bp), d4 = dot3(ac, bp);
    double d5 = dot3(ab, cp), d6 = dot3(ac, cp);
    double vc = d1 * d4 - d3 * d2, vb = d5 * d2 - d1 * d6, va = d3 * d6 - d5 * d4;
    if (d1 < z && d2 < z) {
        memcpy(q, a, 3 * sizeof(double));
    } else if (d3 > -z && d4 <= d3) {
        memcpy(q, b, 3 * sizeof(double));
    } else if (vc < z && d1 > -z && d3 < z) {
        double v = d1 / (d1 - d3);
        for (int j = 0; j < 3; j++) q[j] = a[j] + v * ab[j];
    } else if (d6 > -z && d5 <= d6) {
        memcpy(q, c, 3 * sizeof(double));
    } else if (vb < z && d2 > -z && d6 < z) {
        double w = d2 / (d2 - d6);
        for (int j = 0; j < 3; j++) q[j] = a[j] + w * ac[j];
    } else if (va < z && (d4 - d3) > -z && (d5 - d6) > -z) {
        double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        for (int j = 0; j < 3; j++) q[j] = b[j] + w * (c[j] - b[j]);
    } else {
        double den = 1.0 / (va + vb + vc), v = vb * den, w = vc * den;
        for (int j = 0; j < 3; j++) q[j] = a[j] + ab[j] * v + ac[j] * w;
    }
    double r[3] = {p[0] - q[0], p[1] - q[1], p[2] - q[2]};
    return dot3(r, r);
}

/* Squared distance from p to the nearest vertex of any triangle (trimesh's KD-tree over the
 * referenced vertices). */
static double nearest_vertex_d2(const struct hrn_bvh *b, const double p[3]) {
    int32_t stack[STACK_MAX];
    int sp = 0;
    double best = DBL_MAX;
    stack[sp++] = 0;
    while (sp > 0) {
        const struct hrn_bvh_node *n = &b->nodes[stack[--sp]];
        if (box_d2(n, p) > best) continue;
        if (n->left >= 0) {
            HRN_ASSERT(sp + 2 <= STACK_MAX);
            stack[sp++] = n->right;
            stack[sp++] = n->left;
            continue;
        }
        for (int32_t i = n->first; i < n->first + n->count; i++)
            for (int k = 0; k < 3; k++) {
                const double *x = b->v + 3 * (int64_t)b->f[3 * (int64_t)b->tri[i] + k];
                double r[3] = {p[0] - x[0], p[1] - x[1], p[2] - x[2]};
                if (dot3(r, r) < best) best = dot3(r, r);
            }
    }
    return best;
}

static int box_meets_cube(const double lo[3], const double hi[3], const double clo[3],
                          const double chi[3]) {
    for (int j = 0; j < 3; j++)
        if (lo[j] > chi[j] || hi[j] < clo[j]) return 0;
    return 1;
}

/* The two nearest candidates (squared distance, point, triangle) among the triangles whose
 * bounding box meets the cube [clo, chi]; ties keep the lower triangle index first. */
struct two_best {
    double d2[2], q[2][3];
    int64_t tri[2];
};

static void two_best_offer(struct two_best *t, double d2, const double q[3], int64_t k) {
    int slot = (d2 < t->d2[0] || (d2 == t->d2[0] && k < t->tri[0])) ? 0
               : (d2 < t->d2[1] || (d2 == t->d2[1] && k < t->tri[1])) ? 1 : 2;
    if (slot == 2) return;
    if (slot == 0) {
        t->d2[1] = t->d2[0];
        t->tri[1] = t->tri[0];
        memcpy(t->q[1], t->q[0], sizeof t->q[0]);
    }
    t->d2[slot] = d2;
    t->tri[slot] = k;
    memcpy(t->q[slot], q, sizeof t->q[0]);
}

static void leaf_candidates(const struct hrn_bvh *b, const struct hrn_bvh_node *n,
                            const double p[3], const double clo[3], const double chi[3],
                            struct two_best *t) {
    for (int32_t i = n->first; i < n->first + n->count; i++) {
        int64_t k = b->tri[i];
        const double *x[3];
        double tlo[3], thi[3], q[3];
        for (int m = 0; m < 3; m++) x[m] = b->v + 3 * (int64_t)b->f[3 * k + m];
        for (int j = 0; j < 3; j++) {
            tlo[j] = fmin(x[0][j], fmin(x[1][j], x[2][j]));
            thi[j] = fmax(x[0][j], fmax(x[1][j], x[2][j]));
        }
        if (!box_meets_cube(tlo, thi, clo, chi)) continue;
        two_best_offer(t, closest_on_triangle_tm(p, x[0], x[1], x[2], q), q, k);
    }
}

/* Unit normal of triangle k as trimesh's face_normals: cross(b - a, c - b), zero when its norm
 * is at most 1e-13. */
static void face_normal_tm(const struct hrn_bvh *b, int64_t k, double nrm[3]) {
    const double *a = b->v + 3 * (int64_t)b->f[3 * k], *bb = b->v + 3 * (int64_t)b->f[3 * k + 1],
                 *c = b->v + 3 * (int64_t)b->f[3 * k + 2];
    double u[3], w[3];
    for (int j = 0; j < 3; j++) {
        u[j] = bb[j] - a[j];
        w[j] = c[j] - bb[j];
    }
    nrm[0] = u[1] * w[2] - u[2] * w[1];
    nrm[1] = u[2] * w[0] - u[0] * w[2];
    nrm[2] = u[0] * w[1] - u[1] * w[0];
    double len = sqrt(dot3(nrm, nrm));
    for (int j = 0; j < 3; j++) nrm[j] = len > 1e-13 ? nrm[j] * (1.0 / len) : 0;
}

double hrn_bvh_closest_trimesh(const struct hrn_bvh *b, const double p[3], double q[3],
                               int64_t *tri) {
    /* trimesh.proximity.closest_point: candidates = faces whose box meets the cube of half-size
     * (nearest vertex distance + tol.merge) about p */
    double r = sqrt(nearest_vertex_d2(b, p)) + 1e-8, clo[3], chi[3];
    for (int j = 0; j < 3; j++) {
        clo[j] = p[j] - r;
        chi[j] = p[j] + r;
    }
    struct two_best t = {{DBL_MAX, DBL_MAX}, {{0, 0, 0}, {0, 0, 0}}, {INT64_MAX, INT64_MAX}};
    int32_t stack[STACK_MAX];
    int sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
        const struct hrn_bvh_node *n = &b->nodes[stack[--sp]];
        if (!box_meets_cube(n->lo, n->hi, clo, chi) || box_d2(n, p) > t.d2[1]) continue;
        if (n->left < 0) {
            leaf_candidates(b, n, p, clo, chi, &t);
            continue;
        }
        HRN_ASSERT(sp + 2 <= STACK_MAX);
        stack[sp++] = n->right;
        stack[sp++] = n->left;
    }
    if (t.tri[1] == INT64_MAX) t.d2[1] = t.d2[0]; /* one candidate: trimesh takes it twice */
    int pick = 0;
    /* "same closest point on two different faces": when the two best squared distances are
     * within tol.merge (and both above it), the face whose normal points most towards p wins,
     * even if its point is farther (by less than 1e-8 in squared distance) */
    if (t.tri[1] != INT64_MAX && t.d2[1] - t.d2[0] < 1e-8 && t.d2[0] > 1e-8 && t.d2[1] > 1e-8) {
        double dots[2];
        for (int s = 0; s < 2; s++) {
            double nrm[3], v[3], len = sqrt(t.d2[s]);
            face_normal_tm(b, t.tri[s], nrm);
            for (int j = 0; j < 3; j++) v[j] = (p[j] - t.q[s][j]) / len;
            dots[s] = dot3(nrm, v);
        }
        pick = dots[1] > dots[0];
    }
    if (q) memcpy(q, t.q[pick], sizeof t.q[0]);
    if (tri) *tri = t.tri[pick];
    return t.d2[pick];
}

void hrn_bvh_closest_many_trimesh(const struct hrn_bvh *b, const double *p, int64_t n, double *q,
                                  double *dist, int64_t *tri) {
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < n; i++) {
        double qq[3];
        int64_t tt;
        double d2 = hrn_bvh_closest_trimesh(b, p + 3 * i, qq, &tt);
        if (q) memcpy(q + 3 * i, qq, sizeof qq);
        if (dist) dist[i] = sqrt(d2);
        if (tri) tri[i] = tt;
    }
}

/* --- rays ---------------------------------------------------------------------------------------- */

static int ray_box(const struct hrn_bvh_node *n, const double o[3], const double inv[3]) {
    double t0 = 0, t1 = DBL_MAX;
    for (int j = 0; j < 3; j++) {
        double a = (n->lo[j] - o[j]) * inv[j], c = (n->hi[j] - o[j]) * inv[j];
        if (isnan(a) || isnan(c)) { /* 0 * inf: the origin lies on the slab's plane */
            if (o[j] < n->lo[j] || o[j] > n->hi[j]) return 0;
            continue;
        }
        if (a > c) {
            double tmp = a;
            a = c;
            c = tmp;
        }
        if (a > t0) t0 = a;
        if (c < t1) t1 = c;
        /* slack for boxes of zero thickness and rounding at the tolerance */
        if (t0 > t1 * (1 + 1e-12) + 1e-12) return 0;
    }
    return 1;
}

static int hit_cmp(const void *a, const void *b) {
    const struct hrn_ray_hit *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->tri < y->tri ? -1 : (x->tri > y->tri);
}

int hrn_bvh_ray_hits(const struct hrn_bvh *b, const double o[3], const double d[3],
                     struct hrn_ray_hit *hits, int cap) {
    const double tol = 1e-12;
    double inv[3];
    for (int j = 0; j < 3; j++) inv[j] = 1.0 / d[j]; /* +-inf for axis-parallel rays */
    int32_t stack[STACK_MAX];
    int sp = 0, nh = 0;
    stack[sp++] = 0;
    while (sp > 0) {
        const struct hrn_bvh_node *n = &b->nodes[stack[--sp]];
        if (!ray_box(n, o, inv)) continue;
        if (n->left >= 0) {
            HRN_ASSERT(sp + 2 <= STACK_MAX);
            stack[sp++] = n->left;
            stack[sp++] = n->right;
            continue;
        }
        for (int32_t i = n->first; i < n->first + n->count; i++) {
            int64_t k = b->tri[i];
            const double *a = b->v + 3 * (int64_t)b->f[3 * k], *bb = b->v + 3 * (int64_t)b->f[3 * k + 1],
                         *c = b->v + 3 * (int64_t)b->f[3 * k + 2];
            double e1[3], e2[3], s[3], pv[3], qv[3];
            for (int j = 0; j < 3; j++) {
                e1[j] = bb[j] - a[j];
                e2[j] = c[j] - a[j];
                s[j] = o[j] - a[j];
            }
            pv[0] = d[1] * e2[2] - d[2] * e2[1];
            pv[1] = d[2] * e2[0] - d[0] * e2[2];
            pv[2] = d[0] * e2[1] - d[1] * e2[0];
            double det = dot3(e1, pv);
            if (det == 0) continue; /* parallel to the plane: trimesh finds no plane hit */
            double u = dot3(s, pv) / det;
            qv[0] = s[1] * e1[2] - s[2] * e1[1];
            qv[1] = s[2] * e1[0] - s[0] * e1[2];
            qv[2] = s[0] * e1[1] - s[1] * e1[0];
            double v = dot3(d, qv) / det;
            double t = dot3(e2, qv) / det;
            if (u < -tol || v < -tol || 1 - u - v < -tol || !(t > 0)) continue;
            if (nh < cap) {
                hits[nh].t = t;
                hits[nh].tri = k;
            }
            nh++;
        }
    }
    int m = nh < cap ? nh : cap;
    if (m > 1) qsort(hits, (size_t)m, sizeof *hits, hit_cmp);
    return nh;
}
