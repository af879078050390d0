/* bench_fit.c: milliseconds per fitting iteration (forward, every loss, backward, Adam step) of
 * hrn-fit's stages on the BFM-size synthetic model (35709 vertices, 70789 triangles) at 224x224,
 * single view and three views. Run by hand with the thread count you want to measure:
 *
 *     OMP_NUM_THREADS=2 build/bench/bench_fit [iterations] [small|bfm] [stage] [views]
 *
 * A stage name (lm, coeff, mid, high) times that stage only and a view count (1 or 3) that case
 * only, e.g. for a profiler; the stages before it run their 3 warm-up iterations only.
 * HRN_BASIS=f32 in the environment times the float32 bases instead of the float16 copy.
 * Columns: the mean over the stage's iterations and the median iteration (robust to bursts of
 * other jobs on a shared machine). */
#include "hrn_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the per-iteration times in the last column of the stage's TSV rows: robust to
 * the bursts of other jobs on a shared machine, where the mean is not. NAN without rows. */
static double median_ms(FILE *tsv, int n) {
    double *v = tsv ? malloc((size_t)n * sizeof *v) : NULL, med = NAN;
    char line[4096];
    int k = 0;
    if (!v) return NAN;
    rewind(tsv);
    while (k < n && fgets(line, sizeof line, tsv)) {
        char *tab = strrchr(line, '\t');
        if (tab) v[k++] = atof(tab + 1);
    }
    if (k > 0) {
        qsort(v, (size_t)k, sizeof *v, cmp_d);
        med = v[k / 2];
    }
    free(v);
    return med;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    int small = argc > 2 && !strcmp(argv[2], "small");
    const char *only = argc > 3 ? argv[3] : NULL;
    int only_views = argc > 4 ? atoi(argv[4]) : 0;
    if (iters < 1) iters = 20;
    hrn_log_set_level(HRN_LOG_WARN);
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_synth_face(
        &fm, &(struct hrn_synth_params){.preset = small ? HRN_SYNTH_SMALL : HRN_SYNTH_BFM,
                                         .seed = 1});
    if (st == HRN_OK) st = hrn_fit_normalize_model(&fm);
    if (st != HRN_OK) {
        fprintf(stderr, "bench_fit: %s\n", hrn_error_msg());
        return 1;
    }
    const char *threads = getenv("OMP_NUM_THREADS");
    printf("bench_fit: %s, %lld vertices, %lld triangles, 224x224, OMP_NUM_THREADS=%s, BLAS core "
           "%s, %d iterations per stage after 3 warm-up\n", fm.name, (long long)fm.n_verts,
           (long long)fm.n_tris, threads ? threads : "(unset)", hrn_blas_core(), iters);
    printf("%-7s %-6s %10s %10s\n", "views", "stage", "ms/iter", "median");
    for (int nv = 1; nv <= 3 && st == HRN_OK; nv += 2) {
        if (only_views > 0 && nv != only_views) continue;
        struct hrn_fit_config cfg;
        struct hrn_fit_view v[3];
        struct hrn_fit_truth truth;
        struct hrn_fit f = {0};
        hrn_config_defaults(&hrn_fit_schema, &cfg);
        if (nv > 1) hrn_fit_config_multiview(&cfg);
        st = hrn_fit_synth_views(&fm, &cfg, 7, nv, 30.0f, 3.0f, v, &truth);
        if (st == HRN_OK) st = hrn_fit_init(&f, &fm, &cfg, v, nv);
        for (int s = 0; s < HRN_FIT_N_STAGES && st == HRN_OK; s++) {
            f.cfg.iters[s] = 3;
            st = hrn_fit_stage(&f, (enum hrn_fit_stage)s, NULL);
            if (only && strcmp(only, hrn_fit_stage_name((enum hrn_fit_stage)s))) continue;
            f.cfg.iters[s] = iters;
            f.cfg.log_every = 1;
            FILE *tsv = tmpfile(); /* a row per iteration, with its milliseconds */
            if (st == HRN_OK) st = hrn_fit_stage(&f, (enum hrn_fit_stage)s, tsv);
            if (st == HRN_OK)
                printf("%-7d %-6s %10.2f %10.2f\n", nv, hrn_fit_stage_name((enum hrn_fit_stage)s),
                       f.ms_per_iter[s], median_ms(tsv, iters));
            if (tsv) fclose(tsv);
            if (only) break;
        }
        hrn_fit_free(&f);
        if (st == HRN_OK || truth.verts) {
            for (int k = 0; k < nv; k++) hrn_fit_view_free(&v[k]);
            hrn_fit_truth_free(&truth);
        }
    }
    if (st != HRN_OK) fprintf(stderr, "bench_fit: %s\n", hrn_error_msg());
    hrn_face_model_free(&fm);
    hrn_layers_release();
    return hrn_exit_code(st);
}
