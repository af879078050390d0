/* test_eval_chain.c: hrn-fit's output folder evaluated by hrn-eval as it is (issue 17).
 *
 * A synthetic subject with known shape (hrn_fit_synth_views, the demo's subject) is fitted from
 * one rendered view and written by hrn_fit_write_outputs (what hrn-fit writes). hrn-eval's
 * multiview protocol (7-landmark similarity Procrustes, FG 2018 crop, scan-to-mesh distances)
 * then compares the fitted <view>_mid.obj, aligned by the <view>_lmk7.txt hrn-fit writes next to
 * it, with the true canonical shape. The model's mean face, evaluated the same way, is the wrong
 * mesh that must score clearly worse. */
#include "hrn_eval.h"
#include "hrn_model.h"
#include "hrn_test.h"
#include "hrn_train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const int LMK7[7] = {36, 39, 42, 45, 33, 48, 54};

static const char *exe(void) {
    static const char *cands[] = {"../eval/hrn-eval", "eval/hrn-eval"};
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (stat(cands[i], &sb) == 0) return cands[i];
    }
    return NULL;
}

/* The shape v (N,3) with the model's triangles, and its 7 landmarks. Returns 0 on success. */
static int write_shape(const struct hrn_face_model *fm, const float *v, const char *obj,
                       const char *lmk) {
    FILE *f = fopen(obj, "w");
    if (!f) return -1;
    for (int64_t i = 0; i < fm->n_verts; i++)
        fprintf(f, "v %.9g %.9g %.9g\n", (double)v[3 * i], (double)v[3 * i + 1],
                (double)v[3 * i + 2]);
    for (int64_t k = 0; k < fm->n_tris; k++)
        fprintf(f, "f %d %d %d\n", fm->tris[3 * k] + 1, fm->tris[3 * k + 1] + 1,
                fm->tris[3 * k + 2] + 1);
    int bad = fclose(f) != 0;
    f = fopen(lmk, "w");
    if (!f) return -1;
    for (int i = 0; i < 7; i++) {
        const float *x = v + 3 * (int64_t)fm->lmk68[LMK7[i]];
        fprintf(f, "%.9g %.9g %.9g\n", (double)x[0], (double)x[1], (double)x[2]);
    }
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

/* Mean scan-to-mesh distance of row `want` (sample name) of hrn-eval's multiview CSV, -1 if
 * absent or not ok (-1 times the unit factor stays negative). Columns: sample,status,n_vertices,median,mean,... */
static double csv_mean(const char *path, const char *want) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    double r = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) != 0 || line[strlen(want)] != ',') continue;
        char *p = line + strlen(want) + 1;
        if (strncmp(p, "ok,", 3) != 0) break;
        p += 3;
        strtod(p, &p); /* n_vertices */
        strtod(p + 1, &p); /* median */
        r = strtod(p + 1, NULL);
    }
    fclose(f);
    return r;
}

static void test_fit_then_eval(void) {
    const char *e = exe();
    if (!e) {
        SKIP("hrn-eval executable not found next to the tests");
        return;
    }
    const char *d = hrn_test_tmpdir("eval_chain");
    char fitdir[600], path[1200], gt[700], gtl[700], mean[700], meanl[700], list[700], out[700];
    snprintf(fitdir, sizeof fitdir, "%s/fit", d);
    struct hrn_face_model fm = {0};
    struct hrn_fit_config cfg;
    struct hrn_fit_view view;
    struct hrn_fit_truth truth = {0};
    struct hrn_fit f = {0};
    memset(&view, 0, sizeof view);
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_fit_normalize_model(&fm));
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &cfg));
    CHECK_OK(hrn_fit_synth_views(&fm, &cfg, 7, 1, 30.0f, 3.0f, &view, &truth));
    CHECK_OK(hrn_fit_init(&f, &fm, &cfg, &view, 1));
    snprintf(path, sizeof path, "%s/losses.tsv", d);
    CHECK_OK(hrn_fit_run(&f, path));
    CHECK_OK(hrn_fit_write_outputs(&f, fitdir));
    double fit_err_mm = hrn_fit_vertex_error_mm(&f, &truth);
    snprintf(gt, sizeof gt, "%s/gt.obj", d);
    snprintf(gtl, sizeof gtl, "%s/gt_lmk7.txt", d);
    snprintf(mean, sizeof mean, "%s/mean.obj", d);
    snprintf(meanl, sizeof meanl, "%s/mean_lmk7.txt", d);
    CHECK(write_shape(&fm, truth.verts, gt, gtl) == 0);
    CHECK(write_shape(&fm, fm.mean_shape, mean, meanl) == 0);
    /* hrn-fit's folder as it is: <view>_mid.obj and <view>_lmk7.txt */
    snprintf(list, sizeof list, "%s/list.txt", d);
    FILE *lf = fopen(list, "w");
    CHECK(lf != NULL);
    if (!lf) goto done;
    fprintf(lf, "%s %s %s/%s_mid.obj %s/%s_lmk7.txt\n", gt, gtl, fitdir, view.name, fitdir,
            view.name);
    fprintf(lf, "%s %s %s %s\n", gt, gtl, mean, meanl);
    fclose(lf);
    snprintf(out, sizeof out, "%s/eval", d);
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "%s multiview --list %s --out %s -q > %s/eval.log 2>&1", e, list,
             out, d);
    int rc = system(cmd);
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "hrn-eval multiview: exit %d (%s/eval.log)",
              WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, d);
    snprintf(path, sizeof path, "%s/multiview_hrn.csv", out);
    /* samples are named by their prediction path; distances are in the GT's (model) units */
    char name_fit[900];
    snprintf(name_fit, sizeof name_fit, "%s/%s_mid.obj", fitdir, view.name);
    double mm = (double)fm.mm_per_unit;
    double e_fit = csv_mean(path, name_fit) * mm, e_mean = csv_mean(path, mean) * mm;
    printf("fit (vertex error %.3f mm): scan-to-mesh mean %.3f mm; mean face %.3f mm\n",
           fit_err_mm, e_fit, e_mean);
    /* plausible: the fit is within a few mm of the truth after a 7-point alignment, the mean
     * face (a different identity) at least 1.5 times farther */
    CHECK_MSG(e_fit > 0 && e_fit < 3.0, "fitted mesh: %.3f mm", e_fit);
    CHECK_MSG(e_mean > 1.5 * e_fit, "mean face %.3f mm vs fit %.3f mm", e_mean, e_fit);
done:
    hrn_fit_free(&f);
    hrn_fit_view_free(&view);
    hrn_fit_truth_free(&truth);
    hrn_face_model_free(&fm);
}

int main(void) {
    RUN(test_fit_then_eval);
    return hrn_test_finish();
}
