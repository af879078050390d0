/* dist.c: data parallelism over MPI (Open MPI from Debian), optional at build time.
 *
 * A process started by mpirun initialises MPI; one started by hand stays a single process without
 * touching MPI (no singleton start-up, and a build without MPI behaves the same). The collectives
 * behind struct hrn_collective add in rank order, so results do not depend on timing or on the MPI
 * library's choice of algorithm (MPI may reorder its own reductions):
 * - float vectors (gradients, up to ~100 MB): each process sends chunk j of its vector to process
 *   j (MPI_Alltoallv), process j adds the N copies of its chunk in rank order, and MPI_Allgatherv
 *   hands the chunks back: the traffic of a ring all-reduce. Measured here (training.md 4.2) a
 *   94 MB MPI_Allreduce took 1.0-2.8 s at np 2 against 0.2-0.3 s for this scheme.
 * - double vectors (batch-norm statistics, loss terms; a few thousand values): MPI_Allgather of
 *   every process's vector, then the rank-order sum on every process. */
#include "hrn_train.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HRN_HAVE_MPI
#include <mpi.h>
#endif

/* Launched by an MPI starter (Open MPI's mpirun, MPICH's hydra, a PMIx launcher)? */
int hrn_dist_launched(void) {
    static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (int i = 0; i < 3; i++)
        if (getenv(VARS[i])) return 1;
    return 0;
}

#ifdef HRN_HAVE_MPI

static enum hrn_status mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    return hrn_error_set(HRN_ERR_IO, "MPI: %s: %s", what, msg);
}

/* scratch of at least bytes (kept between calls: the gradient reduction runs every step) */
static void *scratch(struct hrn_dist *d, size_t bytes) {
    if (bytes <= d->scratch_bytes) return d->scratch;
    void *p = realloc(d->scratch, bytes);
    if (!p) return NULL;
    d->scratch = p;
    d->scratch_bytes = bytes;
    return p;
}

static enum hrn_status sum_f64(const struct hrn_collective *c, double *buf, int64_t n) {
    struct hrn_dist *d = c->ctx;
    if (n < 0 || n > INT_MAX / d->size)
        return hrn_error_set(HRN_ERR_INVALID, "MPI: %lld doubles is too many to gather", (long long)n);
    double *all = scratch(d, (size_t)(n * d->size) * sizeof(double) + 1);
    if (!all) return hrn_error_set(HRN_ERR_NOMEM, "MPI: no memory to gather %lld doubles", (long long)n);
    int rc = MPI_Allgather(buf, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allgather");
    for (int64_t i = 0; i < n; i++) {
        double s = all[i];
        for (int r = 1; r < d->size; r++) s += all[(int64_t)r * n + i];
        buf[i] = s;
    }
    return HRN_OK;
}

static enum hrn_status sum_f32(const struct hrn_collective *c, float *buf, int64_t n) {
    struct hrn_dist *d = c->ctx;
    const int N = d->size, me = d->rank;
    const int64_t chunk = (n + N - 1) / N;
    if (n < 0 || chunk > INT_MAX)
        return hrn_error_set(HRN_ERR_INVALID, "MPI: %lld floats is too many to reduce", (long long)n);
    int *cnt = d->counts, *dsp = cnt + N, *rcnt = dsp + N, *rdsp = rcnt + N;
    for (int j = 0; j < N; j++) {
        int64_t lo = (int64_t)j * chunk, hi = lo + chunk < n ? lo + chunk : n;
        cnt[j] = hi > lo ? (int)(hi - lo) : 0;
        dsp[j] = hi > lo ? (int)lo : 0;
    }
    for (int j = 0; j < N; j++) {
        rcnt[j] = cnt[me];
        rdsp[j] = j * cnt[me];
    }
    float *got = scratch(d, (size_t)N * (size_t)cnt[me] * sizeof(float) + 1);
    if (!got) return hrn_error_set(HRN_ERR_NOMEM, "MPI: no memory to reduce %lld floats", (long long)n);
    int rc = MPI_Alltoallv(buf, cnt, dsp, MPI_FLOAT, got, rcnt, rdsp, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Alltoallv");
    float *mine = buf + dsp[me];
    for (int i = 0; i < cnt[me]; i++) {
        float s = got[i];
        for (int r = 1; r < N; r++) s += got[(int64_t)r * cnt[me] + i];
        mine[i] = s;
    }
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, dsp, MPI_FLOAT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? HRN_OK : mpi_fail(rc, "MPI_Allgatherv");
}

static enum hrn_status bcast_f32(const struct hrn_collective *c, float *buf, int64_t n) {
    (void)c;
    for (int64_t off = 0; off < n; off += INT_MAX / 2) {
        int k = (int)(n - off < INT_MAX / 2 ? n - off : INT_MAX / 2);
        int rc = MPI_Bcast(buf + off, k, MPI_FLOAT, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Bcast");
    }
    return HRN_OK;
}

enum hrn_status hrn_dist_init(struct hrn_dist *d, int *argc, char ***argv) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (!hrn_dist_launched()) return HRN_OK;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Init");
    d->mpi = 1;
    /* errors come back as codes, so a tool can name what failed before it aborts the job */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->counts = malloc((size_t)d->size * 4 * sizeof(int));
    if (!d->counts) return hrn_error_set(HRN_ERR_NOMEM, "MPI: no memory for %d ranks", d->size);
    d->coll = (struct hrn_collective){.rank = d->rank, .size = d->size, .sum_f64 = sum_f64,
                                      .sum_f32 = sum_f32, .bcast_f32 = bcast_f32, .ctx = d};
    return HRN_OK;
}

enum hrn_status hrn_dist_barrier(struct hrn_dist *d) {
    if (!d->mpi) return HRN_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? HRN_OK : mpi_fail(rc, "MPI_Barrier");
}

enum hrn_status hrn_dist_all_ok(struct hrn_dist *d, int ok, int *all_ok) {
    *all_ok = ok;
    if (!d->mpi) return HRN_OK;
    int rc = MPI_Allreduce(&ok, all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? HRN_OK : mpi_fail(rc, "MPI_Allreduce");
}

void hrn_dist_abort(struct hrn_dist *d, int code) {
    if (d->mpi && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

void hrn_dist_finalize(struct hrn_dist *d) {
    if (d->mpi) MPI_Finalize();
    free(d->scratch);
    free(d->counts);
    memset(d, 0, sizeof *d);
}

#else /* no MPI in this build */

enum hrn_status hrn_dist_init(struct hrn_dist *d, int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    memset(d, 0, sizeof *d);
    d->size = 1;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return hrn_error_set(HRN_ERR_INVALID, "started by mpirun with %s processes, but this hrn "
                             "was built without MPI (install libopenmpi-dev and re-run cmake)", n);
    return HRN_OK;
}

enum hrn_status hrn_dist_barrier(struct hrn_dist *d) {
    (void)d;
    return HRN_OK;
}

enum hrn_status hrn_dist_all_ok(struct hrn_dist *d, int ok, int *all_ok) {
    (void)d;
    *all_ok = ok;
    return HRN_OK;
}

void hrn_dist_abort(struct hrn_dist *d, int code) {
    (void)d;
    (void)code;
}

void hrn_dist_finalize(struct hrn_dist *d) {
    free(d->scratch);
    free(d->counts);
    memset(d, 0, sizeof *d);
}

#endif

int hrn_dist_built_with_mpi(void) {
#ifdef HRN_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

const struct hrn_collective *hrn_dist_collective(const struct hrn_dist *d) {
    return d && d->size > 1 ? &d->coll : NULL;
}
