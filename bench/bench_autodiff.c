/* bench_autodiff.c: autodiff tape overhead and elementwise throughput.
 *
 *   OMP_NUM_THREADS=1 ./bench/bench_autodiff      (and =2)
 *
 * 1. Tape overhead: a chain of 10^5 ops on 1-element tensors (scale/add_scalar alternating), so
 *    the time is node creation and the reverse walk, not arithmetic. Reported per node.
 * 2. Elementwise throughput on 10^7 floats (forward and backward of add, mul, exp, and sum),
 *    in GB/s of memory traffic (each float read or written counts 4 bytes; write-allocate reads
 *    are not counted), next to a plain memcpy of the same 40 MB measured in the same run.
 *    A plain C loop c[i] = a[i] + b[i] (OpenMP like the kernels, no tape) is the floor for the
 *    tape's add. Note glibc's memcpy uses non-temporal stores at this size (it goes to DRAM),
 *    while 3 x 40 MB arrays may fit a large L3: compare ops with the plain loop first.
 *    An optional argument sets the float count (e.g. 100000000 to be sure to leave the L3).
 * Median of REPS runs; outputs reuse the same arena memory (rewind), so pages are warm.
 */
#include "hrn_autodiff.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 7, CHAIN = 100000 };

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static int die(const char *what) {
    fprintf(stderr, "bench_autodiff: %s: %s\n", what, hrn_error_msg());
    return 1;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv); /* OpenBLAS's own CPU detection falls back to SSE3 on some VMs */
    int64_t N = 10000000;
    if (argc > 1) {
        char *end = NULL;
        long long v = strtoll(argv[1], &end, 10);
        if (!end || *end || v < 1000) {
            fprintf(stderr, "usage: bench_autodiff [n_floats >= 1000]\n");
            return 2;
        }
        N = v;
    }
    struct hrn_tape t;
    size_t arena = (size_t)N * sizeof(float) * 8 + ((size_t)64 << 20);
    if (hrn_tape_init(&t, arena) != HRN_OK) return die("tape");
    printf("bench_autodiff: %d OpenMP threads\n", omp_get_max_threads());

    /* --- 1. tape overhead --- */
    double tf[REPS], tb[REPS];
    for (int r = 0; r < REPS; r++) {
        hrn_tape_reset(&t);
        struct hrn_tensor *x = hrn_tape_tensor(&t, 1, (int64_t[]){1}, "x");
        if (!x || hrn_tape_requires_grad(&t, x) != HRN_OK) return die("leaf");
        x->data[0] = 0.5f;
        double t0 = hrn_time_now();
        struct hrn_tensor *y = x;
        for (int i = 0; i < CHAIN; i++)
            y = (i & 1) ? hrn_add_scalar(&t, y, 1e-6f) : hrn_scale(&t, y, 0.999999f);
        double t1 = hrn_time_now();
        if (!y) return die("chain");
        if (hrn_tape_backward(&t, y) != HRN_OK) return die("backward");
        double t2 = hrn_time_now();
        tf[r] = t1 - t0;
        tb[r] = t2 - t1;
    }
    printf("tape chain of %d one-element ops: forward %.1f ns/node, backward %.1f ns/node "
           "(arena peak %.1f MB)\n",
           CHAIN, 1e9 * median(tf, REPS) / CHAIN, 1e9 * median(tb, REPS) / CHAIN,
           (double)hrn_arena_peak(&t.arena) / 1e6);

    /* --- 2. elementwise throughput --- */
    hrn_tape_reset(&t);
    struct hrn_tensor *a = hrn_tape_tensor(&t, 1, &N, "a");
    struct hrn_tensor *b = hrn_tape_tensor(&t, 1, &N, "b");
    float *dst = malloc((size_t)N * sizeof(float));
    if (!a || !b || !dst) return die("alloc");
    struct hrn_rng rng;
    hrn_rng_seed(&rng, 1);
    hrn_rng_fill_uniform(&rng, a->data, (size_t)N, -1, 1);
    hrn_rng_fill_uniform(&rng, b->data, (size_t)N, 0.5f, 2);
    memset(dst, 0, (size_t)N * sizeof(float));
    if (hrn_tape_requires_grad(&t, a) != HRN_OK || hrn_tape_requires_grad(&t, b) != HRN_OK)
        return die("grad");

    double tm[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = hrn_time_now();
        memcpy(dst, a->data, (size_t)N * sizeof(float));
        tm[r] = hrn_time_now() - t0;
    }
    double mb = 2.0 * 4.0 * (double)N / median(tm, REPS) / 1e9;
    printf("memcpy %lld floats: %.1f GB/s (read + write)\n", (long long)N, mb);
    const float *pa = a->data, *pb = b->data;
    for (int r = 0; r < REPS; r++) {
        double t0 = hrn_time_now();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N; i++) dst[i] = pa[i] + pb[i];
        tm[r] = hrn_time_now() - t0;
    }
    double lm = median(tm, REPS);
    printf("plain loop c = a + b: %.2f ms, %.1f GB/s (3 streams)\n", 1e3 * lm,
           3.0 * 4.0 * (double)N / lm / 1e9);
    printf("%-8s %12s %10s %8s   %12s %10s %8s   (%% of the plain loop's GB/s)\n", "op",
           "fwd ms", "GB/s", "%", "bwd ms", "GB/s", "%");
    double lg = 3.0 * 4.0 * (double)N / lm / 1e9;

    const char *names[] = {"add", "mul", "exp", "sum"};
    /* floats moved: forward reads inputs and writes out; backward reads dout (+ saved inputs)
     * and read-modify-writes each input gradient */
    const double fwd_streams[] = {3, 3, 2, 1};
    const double bwd_streams[] = {1 + 2 + 2, 1 + 2 + 2 + 2, 1 + 1 + 2, 2};
    for (int k = 0; k < 4; k++) {
        double f[REPS], bw[REPS];
        /* forward alone: the working set is the inputs and the output, as in the plain loop */
        for (int r = 0; r < REPS; r++) {
            struct hrn_tape_mark m = hrn_tape_mark(&t);
            double t0 = hrn_time_now();
            struct hrn_tensor *y = k == 0   ? hrn_add(&t, a, b)
                                   : k == 1 ? hrn_mul(&t, a, b)
                                   : k == 2 ? hrn_exp(&t, a)
                                            : hrn_sum_all(&t, a);
            f[r] = hrn_time_now() - t0;
            if (!y) return die(names[k]);
            hrn_tape_rewind(&t, m);
        }
        for (int r = 0; r < REPS; r++) {
            struct hrn_tape_mark m = hrn_tape_mark(&t);
            struct hrn_tensor *y = k == 0   ? hrn_add(&t, a, b)
                                   : k == 1 ? hrn_mul(&t, a, b)
                                   : k == 2 ? hrn_exp(&t, a)
                                            : hrn_sum_all(&t, a);
            if (!y) return die(names[k]);
            /* backward of this node alone with d out = 1: the op's backward kernel */
            y->grad = hrn_arena_alloc(&t.arena, (size_t)y->numel * sizeof(float), 0);
            if (!y->grad) return die("grad");
            for (int64_t i = 0; i < y->numel; i++) y->grad[i] = 1.0f;
            double t2 = hrn_time_now();
            if (hrn_op_table[y->op].backward(&t, y) != HRN_OK) return die("bwd");
            bw[r] = hrn_time_now() - t2;
            hrn_tape_rewind(&t, m);
        }
        double fm = median(f, REPS), bm = median(bw, REPS);
        double fg = fwd_streams[k] * 4.0 * (double)N / fm / 1e9;
        double bg = bwd_streams[k] * 4.0 * (double)N / bm / 1e9;
        printf("%-8s %12.2f %10.1f %7.0f%%   %12.2f %10.1f %7.0f%%\n", names[k], 1e3 * fm, fg,
               100.0 * fg / lg, 1e3 * bm, bg, 100.0 * bg / lg);
    }
    free(dst);
    hrn_tape_free(&t);
    return 0;
}
