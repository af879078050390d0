/* bench_dist.c: the gradient reduction of data-parallel hrn-train, per call, at np ranks:
 *
 *     mpirun -np 2 -x OMP_NUM_THREADS=1 build/bench/bench_dist [floats] [reps]
 *
 * times, for a vector of `floats` (default 23.5 M, ResNet-50's gradient, 94 MB) and the sizes of
 * hrn's other networks, hrn's rank-ordered sum (train/dist.c: MPI_Alltoallv, sum in rank order,
 * MPI_Allgatherv) against a plain MPI_Allreduce(MPI_SUM), best and median of `reps` calls after one
 * warm-up, and checks both give the exact sum of integer-valued data. Rank 0 prints the table.
 * The step time it is set against comes from hrn-train itself, which prints at the end of an MPI
 * run how many seconds of its steps went to the reduction (docs/PERFORMANCE.md). */
#include "hrn_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HRN_HAVE_MPI
#include <mpi.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* rank r's value of element i: small integers, so every order of the sum is exact */
static float value(int r, int64_t i) { return (float)((i * 7 + r * 3) % 101); }

static int exact(const float *v, int64_t n, int size) {
    for (int64_t i = 0; i < n; i++) {
        float want = 0;
        for (int r = 0; r < size; r++) want += value(r, i);
        if (v[i] != want) return 0;
    }
    return 1;
}

/* best and median seconds of reps calls of one method (0 ordered, 1 MPI_Allreduce) */
static int time_method(struct hrn_dist *d, int method, float *v, int64_t n, int reps,
                       double *best, double *median, int *ok) {
    double *t = malloc((size_t)reps * sizeof(double));
    if (!t) return 0;
    *ok = 1;
    for (int k = -1; k < reps; k++) {
        for (int64_t i = 0; i < n; i++) v[i] = value(d->rank, i);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (method == 0) d->coll.sum_f32(&d->coll, v, n);
        else MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double el = MPI_Wtime() - t0, worst;
        MPI_Allreduce(&el, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); /* the slowest rank */
        if (k >= 0) t[k] = worst;
        if (k == 0) *ok = exact(v, n, d->size);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    *best = t[0];
    *median = t[reps / 2];
    free(t);
    return 1;
}

int main(int argc, char **argv) {
    struct hrn_dist d;
    if (hrn_dist_init(&d, &argc, &argv) != HRN_OK || !d.mpi) {
        fprintf(stderr, "bench_dist: run me with mpirun -np N (%s)\n", hrn_error_msg());
        return 1;
    }
    int64_t big = argc > 1 ? atoll(argv[1]) : 23500000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    const struct { const char *name; int64_t n; } rows[] = {
        {"ResNet-50 (net_recon)", big},
        {"pix2pix mid_net, width 64", 11400000},
        {"de-retouching UNet, width 64", 13400000},
        {"narrow test net", 100000},
    };
    float *v = malloc((size_t)big * sizeof(float));
    if (!v || reps < 1) return 1;
    if (d.rank == 0)
        printf("| vector | MB | ordered (hrn) best / median | MPI_Allreduce best / median | "
               "exact |\n|---|---|---|---|---|\n");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        int64_t n = rows[r].n < big ? rows[r].n : big;
        double b0, m0, b1, m1;
        int ok0, ok1;
        time_method(&d, 0, v, n, reps, &b0, &m0, &ok0);
        time_method(&d, 1, v, n, reps, &b1, &m1, &ok1);
        if (d.rank == 0)
            printf("| %s | %.1f | %.3f / %.3f s | %.3f / %.3f s | %s |\n", rows[r].name,
                   (double)n * 4e-6, b0, m0, b1, m1, ok0 && ok1 ? "yes" : "NO");
    }
    if (d.rank == 0) printf("np %d\n", d.size);
    free(v);
    hrn_dist_finalize(&d);
    return 0;
}

#else
int main(void) {
    fprintf(stderr, "bench_dist: hrn was built without MPI (install libopenmpi-dev, re-run cmake)\n");
    return 1;
}
#endif
