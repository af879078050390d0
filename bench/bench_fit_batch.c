/* bench_fit_batch.c: subjects per minute of hrn-fit --list on this machine, one at a time (one
 * process, every thread) against worker processes (--jobs N, the threads shared out), on
 * synthetic single-photo subjects of the small or the BFM-size model with hrn-fit's default
 * stages (configs/fit.ini: 150 + 500 + 100 + 60 + 100 iterations):
 *
 *     build/bench/bench_fit_batch [subjects] [small|bfm] [jobs...]
 *
 * It writes the subjects (photo + landmarks, like a user's) and the model to /tmp/hrn_bench_batch,
 * then times `hrn-fit --list` for each jobs value (default: 1 and 2) from a clean output folder,
 * run from the build folder (build/train/hrn-fit). Under mpirun the ranks would share the subjects
 * the same way (hrn-fit --list under mpirun). Report the machine's load beside the figures. */
#include "hrn_train.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *DIR = "/tmp/hrn_bench_batch";

static enum hrn_status write_subjects(const struct hrn_face_model *fm, int n) {
    enum hrn_status st = HRN_OK;
    struct hrn_fit_config cfg;
    HRN_TRY(hrn_config_defaults(&hrn_fit_schema, &cfg));
    char p[512];
    snprintf(p, sizeof p, "%s/subjects.txt", DIR);
    FILE *list = fopen(p, "w");
    if (!list) return hrn_error_set(HRN_ERR_IO, "%s: cannot write", p);
    for (int i = 0; i < n && st == HRN_OK; i++) {
        struct hrn_fit_view v;
        struct hrn_fit_truth truth;
        st = hrn_fit_synth_views(fm, &cfg, 100 + (uint64_t)i, 1, 0.0f, 3.0f, &v, &truth);
        if (st != HRN_OK) break;
        float lm[68 * 2];
        for (int k = 0; k < 68; k++) {
            lm[2 * k] = v.lm[2 * k];
            lm[2 * k + 1] = 223.0f - v.lm[2 * k + 1]; /* the view's y is up; files' y is down */
        }
        snprintf(p, sizeof p, "%s/s%03d.png", DIR, i);
        st = hrn_image_write_png(p, &v.img, 8);
        snprintf(p, sizeof p, "%s/s%03d.lm68.txt", DIR, i);
        if (st == HRN_OK) st = hrn_lmk_write_txt(p, lm, 68);
        fprintf(list, "s%03d s%03d.png\n", i, i);
        hrn_fit_view_free(&v);
        hrn_fit_truth_free(&truth);
    }
    fclose(list);
fail:
    return st;
}

static double run(int jobs) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "rm -rf %s/out && train/hrn-fit -q --model %s/model.h5 --list %s/subjects.txt "
             "--jobs %d --out %s/out > /dev/null",
             DIR, DIR, DIR, jobs, DIR);
    double t0 = hrn_time_now();
    int rc = system(cmd);
    double el = hrn_time_now() - t0;
    return rc == 0 ? el : -1.0;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 8;
    int bfm = argc > 2 && !strcmp(argv[2], "bfm");
    struct stat sb;
    if (n < 1 || stat("train/hrn-fit", &sb) != 0) {
        fprintf(stderr, "usage: (from the build folder) bench/bench_fit_batch [subjects] "
                "[small|bfm] [jobs...]\n");
        return 2;
    }
    struct hrn_face_model fm = {0};
    char p[512];
    snprintf(p, sizeof p, "mkdir -p %s", DIR);
    if (system(p) != 0) return 1;
    snprintf(p, sizeof p, "%s/model.h5", DIR);
    enum hrn_status st = hrn_synth_face(&fm, &(struct hrn_synth_params){
        .preset = bfm ? HRN_SYNTH_BFM : HRN_SYNTH_SMALL, .seed = 1});
    if (st == HRN_OK) st = hrn_fit_normalize_model(&fm);
    if (st == HRN_OK) st = hrn_face_model_save(&fm, p);
    if (st == HRN_OK) st = write_subjects(&fm, n);
    hrn_face_model_free(&fm);
    if (st != HRN_OK) {
        fprintf(stderr, "bench_fit_batch: %s\n", hrn_error_msg());
        return 1;
    }
    printf("| model | subjects | jobs | wall s | subjects/min |\n|---|---|---|---|---|\n");
    int n_jobs = argc > 3 ? argc - 3 : 2;
    for (int j = 0; j < n_jobs; j++) {
        int jobs = argc > 3 ? atoi(argv[3 + j]) : j + 1;
        double s = run(jobs);
        if (s < 0) printf("| %s | %d | %d | failed | |\n", bfm ? "bfm" : "small", n, jobs);
        else printf("| %s | %d | %d | %.1f | %.1f |\n", bfm ? "bfm" : "small", n, jobs, s,
                    60.0 * n / s);
        fflush(stdout);
    }
    return 0;
}
