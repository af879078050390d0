/* kdtree.c: an implicit 3-d tree for exact nearest-vertex queries (scipy cKDTree's role in
 * REALY's kidx and NICP correspondence search, B.4). The range [lo,hi) of idx[] is a node whose
 * splitting point is idx[(lo+hi)/2]; the axis is that of the largest spread. */
#include "hrn_eval.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static void select_k(int32_t *idx, const double *p, int axis, int64_t lo, int64_t hi, int64_t k) {
    while (hi - lo > 1) {
        double pivot = p[3 * (int64_t)idx[lo + (hi - lo) / 2] + axis];
        int64_t i = lo, j = hi - 1;
        while (i <= j) {
            while (p[3 * (int64_t)idx[i] + axis] < pivot) i++;
            while (p[3 * (int64_t)idx[j] + axis] > pivot) j--;
            if (i <= j) {
                int32_t t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j + 1;
        else if (k >= i) lo = i;
        else return;
    }
}

static void build(struct hrn_kdtree *t, int64_t lo, int64_t hi) {
    while (hi - lo > 1) {
        double mn[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, mx[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
        for (int64_t i = lo; i < hi; i++)
            for (int j = 0; j < 3; j++) {
                double x = t->p[3 * (int64_t)t->idx[i] + j];
                if (x < mn[j]) mn[j] = x;
                if (x > mx[j]) mx[j] = x;
            }
        int axis = 0;
        for (int j = 1; j < 3; j++)
            if (mx[j] - mn[j] > mx[axis] - mn[axis]) axis = j;
        int64_t m = lo + (hi - lo) / 2;
        select_k(t->idx, t->p, axis, lo, hi, m);
        t->axis[m] = (uint8_t)axis;
        build(t, lo, m);
        lo = m + 1; /* loop on the right half */
    }
}

enum hrn_status hrn_kdtree_build(struct hrn_kdtree *t, const double *p, int64_t n) {
    memset(t, 0, sizeof *t);
    if (n <= 0 || n > INT32_MAX)
        return hrn_error_set(HRN_ERR_INVALID, "kdtree: need 1..%d points, got %lld", INT32_MAX,
                             (long long)n);
    t->p = p;
    t->n = n;
    t->idx = malloc((size_t)n * sizeof *t->idx);
    t->axis = calloc((size_t)n, 1);
    if (!t->idx || !t->axis) {
        hrn_kdtree_free(t);
        return hrn_error_set(HRN_ERR_NOMEM, "kdtree: cannot allocate for %lld points", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) t->idx[i] = (int32_t)i;
    build(t, 0, n);
    return HRN_OK;
}

void hrn_kdtree_free(struct hrn_kdtree *t) {
    if (!t) return;
    free(t->idx);
    free(t->axis);
    memset(t, 0, sizeof *t);
}

struct best {
    double d2;
    int64_t i;
};

static void consider(const struct hrn_kdtree *t, const double q[3], int64_t k, struct best *b) {
    int64_t pi = t->idx[k];
    const double *p = t->p + 3 * pi;
    double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
    double d2 = dx * dx + dy * dy + dz * dz;
    if (d2 < b->d2 || (d2 == b->d2 && pi < b->i)) {
        b->d2 = d2;
        b->i = pi;
    }
}

static void search(const struct hrn_kdtree *t, const double q[3], int64_t lo, int64_t hi,
                   struct best *b) {
    while (hi - lo > 0) {
        if (hi - lo == 1) {
            consider(t, q, lo, b);
            return;
        }
        int64_t m = lo + (hi - lo) / 2;
        consider(t, q, m, b);
        int axis = t->axis[m];
        double diff = q[axis] - t->p[3 * (int64_t)t->idx[m] + axis];
        int64_t nlo, nhi, flo, fhi; /* near and far halves */
        if (diff < 0) {
            nlo = lo; nhi = m; flo = m + 1; fhi = hi;
        } else {
            nlo = m + 1; nhi = hi; flo = lo; fhi = m;
        }
        search(t, q, nlo, nhi, b);
        /* <= keeps exact ties reachable so the smallest index wins */
        if (diff * diff <= b->d2) {
            lo = flo;
            hi = fhi;
        } else {
            return;
        }
    }
}

int64_t hrn_kdtree_nearest(const struct hrn_kdtree *t, const double q[3], double *d2) {
    struct best b = {DBL_MAX, -1};
    search(t, q, 0, t->n, &b);
    if (d2) *d2 = b.d2;
    return b.i;
}
