/* cli_s2m.c: `hrn-eval multiview` and `hrn-eval now` (spec C, D). */
#include "eval_cli_impl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- multi-view and NoW ----------------------------------------------------------------------------- */

int hrn__run_scan2mesh(int argc, char **argv, struct hrn__cli *c, int now) {
    const char *list = NULL, *refine = NULL, *pool = "vertex";
    double factor = now ? 1.4 : 1.2, radius = 0;
    int nose_tip = -1, max_iter = 100;
    static const struct option opts[] = {
        {"list", required_argument, 0, 'L'},        {"crop-factor", required_argument, 0, 'f'},
        {"crop-radius", required_argument, 0, 'r'}, {"nose-tip-index", required_argument, 0, 'n'},
        {"refine", required_argument, 0, 'R'},      {"pool", required_argument, 0, 'p'},
        {"max-iter", required_argument, 0, 'i'},    {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'L': list = optarg; break;
        case 'f': factor = strtod(optarg, &end); break;
        case 'r': radius = strtod(optarg, &end); break;
        case 'n': nose_tip = (int)strtol(optarg, &end, 10); break;
        case 'R': refine = optarg; break;
        case 'p': pool = optarg; break;
        case 'i': max_iter = (int)strtol(optarg, &end, 10); break;
        default: return 2;
        }
        if (end && *end) {
            fprintf(stderr, "hrn-eval: bad number '%s'\n", optarg);
            return 2;
        }
    }
    struct hrn_s2m_opts o = {.crop_factor = factor, .crop_radius_mm = radius,
                             .nose_tip_index = nose_tip, .max_iter = max_iter,
                             .refine = now ? HRN_REFINE_SIMILARITY : HRN_REFINE_NONE};
    if (refine) {
        if (!strcmp(refine, "none")) o.refine = HRN_REFINE_NONE;
        else if (!strcmp(refine, "rigid")) o.refine = HRN_REFINE_RIGID;
        else if (!strcmp(refine, "similarity")) o.refine = HRN_REFINE_SIMILARITY;
        else {
            fprintf(stderr, "hrn-eval: --refine must be none, rigid or similarity\n");
            return 2;
        }
    }
    int per_scan = !strcmp(pool, "scan");
    if (!list || (!per_scan && strcmp(pool, "vertex"))) {
        fprintf(stderr, "hrn-eval %s: need --list FILE (lines: gt_scan gt_lmk pred_mesh pred_lmk); "
                        "--pool vertex|scan\n", now ? "now" : "multiview");
        return 2;
    }
    enum hrn_status st = HRN_OK;
    char *text = NULL;
    double *all = NULL, *per[3] = {NULL, NULL, NULL};
    int64_t n_all = 0, cap_all = 0;
    int n_ok = 0, n_lines = 0;
    struct hrn_eval_sbuf csv = {0}, json = {0};
    struct hrn__skips sk = {0};
    HRN_TRY(hrn__slurp_text(list, &text));
    for (char *p = text; *p; p++) n_lines += *p == '\n';
    n_lines++;
    for (int k = 0; k < 3; k++) per[k] = malloc((size_t)n_lines * sizeof(double));
    if (!per[0] || !per[1] || !per[2]) {
        st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    char **lines = malloc((size_t)n_lines * sizeof(char *));
    int nl = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (l[strspn(l, " \t\r")] && l[strspn(l, " \t\r")] != '#') lines[nl++] = l;
    if (c->limit > 0 && c->limit < nl) nl = c->limit;
    hrn_eval_sbuf_printf(&csv, "sample,status,n_vertices,median_mm,mean_mm,std_mm,scale,message\n");
    struct hrn_progress prog;
    hrn_progress_begin(&prog, now ? "now" : "multiview", nl);
    for (int i = 0; i < nl; i++) {
        char f[4][PATH_CAP];
        int nf = sscanf(lines[i], "%4095s %4095s %4095s %4095s", f[0], f[1], f[2], f[3]);
        struct hrn_emesh g = {0}, p = {0};
        struct hrn_s2m_result r = {.median = (double)NAN, .mean = (double)NAN, .std = (double)NAN,
                                   .s = (double)NAN};
        double gl[21], pl[21];
        enum hrn_status ist = HRN_OK;
        const char *name = nf >= 3 ? f[2] : lines[i];
        if (nf != 4) {
            ist = hrn_error_set(HRN_ERR_FORMAT, "%s line %d: expected 4 paths, found %d", list,
                                i + 1, nf);
            goto item_done;
        }
        if ((ist = hrn__read_checked(f[0], &g, 0)) != HRN_OK) goto item_done;
        if ((ist = hrn_eval_lmk7_read(f[1], gl)) != HRN_OK) goto item_done;
        if ((ist = hrn__read_checked(f[2], &p, 1)) != HRN_OK) goto item_done;
        if ((ist = hrn_eval_lmk7_read(f[3], pl)) != HRN_OK) goto item_done;
        ist = hrn_s2m_eval(&g, gl, &p, pl, &o, &r);
        if (ist == HRN_OK) {
            if (n_all + r.n > cap_all) {
                cap_all = 2 * (n_all + r.n);
                double *na = realloc(all, (size_t)cap_all * sizeof(double));
                if (!na) {
                    st = hrn_error_set(HRN_ERR_NOMEM, "out of memory pooling distances");
                    hrn_s2m_result_free(&r);
                    hrn_emesh_free(&g);
                    hrn_emesh_free(&p);
                    hrn_progress_end(&prog);
                    free(lines);
                    goto fail;
                }
                all = na;
            }
            memcpy(all + n_all, r.dist, (size_t)r.n * sizeof(double));
            n_all += r.n;
            per[0][n_ok] = r.median;
            per[1][n_ok] = r.mean;
            per[2][n_ok] = r.std;
            n_ok++;
        }
    item_done:
        hrn_emesh_free(&g);
        hrn_emesh_free(&p);
        hrn__csv_str(&csv, name);
        hrn_eval_sbuf_printf(&csv, ",%s,%lld,%.9g,%.9g,%.9g,%.9g,", ist == HRN_OK ? "ok" : "skipped",
                        (long long)r.n, r.median, r.mean, r.std, r.s);
        hrn__csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        hrn_s2m_result_free(&r);
        if (ist != HRN_OK) {
            hrn__skip_add(&sk, name, hrn_error_msg());
            if (c->stop_on_error) {
                st = ist;
                hrn_progress_end(&prog);
                free(lines);
                goto fail;
            }
        }
        hrn_progress_update(&prog, i + 1, "skipped %d", sk.n);
    }
    hrn_progress_end(&prog);
    free(lines);
    double med, mean, sd;
    if (per_scan) {
        med = hrn_eval_mean(per[0], n_ok);
        mean = hrn_eval_mean(per[1], n_ok);
        sd = hrn_eval_mean(per[2], n_ok);
    } else { /* pooled over every vertex of every scan; std ddof 0 (np.std) */
        med = hrn_eval_median(all, n_all);
        mean = hrn_eval_mean(all, n_all);
        sd = hrn_eval_std(all, n_all, 0);
    }
    HRN_TRY(hrn__mkdir_p(c->out));
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s_%s.csv", c->out, now ? "now" : "multiview", c->method);
    HRN_TRY(hrn__write_sbuf(path, &csv));
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"%s\", \"method\": ", now ? "now" : "multiview");
    hrn__json_str(&json, c->method);
    hrn_eval_sbuf_printf(&json, ", \"crop_factor\": %g, \"crop_radius_mm\": %g, \"refine\": \"%s\", "
                    "\"pool\": \"%s\", \"evaluated\": %d, \"skipped\": %d, \"vertices\": %lld, "
                    "\"median_mm\": ", factor, radius,
                    o.refine == HRN_REFINE_NONE ? "none" : o.refine == HRN_REFINE_RIGID ? "rigid"
                                                                                        : "similarity",
                    pool, n_ok, sk.n, (long long)n_all);
    hrn__json_num(&json, med);
    hrn_eval_sbuf_printf(&json, ", \"mean_mm\": ");
    hrn__json_num(&json, mean);
    hrn_eval_sbuf_printf(&json, ", \"std_mm\": ");
    hrn__json_num(&json, sd);
    hrn_eval_sbuf_printf(&json, ", \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/%s_%s.json", c->out, now ? "now" : "multiview", c->method);
    HRN_TRY(hrn__write_sbuf(path, &json));
    if (now) {
        /* the .meanmedian file holds the median and the mean */
        struct hrn_eval_sbuf mm = {0};
        hrn_eval_sbuf_printf(&mm, "%.18e\n%.18e\n", med, mean);
        snprintf(path, sizeof path, "%s/%s.meanmedian", c->out, c->method);
        st = hrn__write_sbuf(path, &mm);
        hrn_eval_sbuf_free(&mm);
        if (st != HRN_OK) goto fail;
    }
    printf("%s, method %s: %d evaluated, %d skipped, %lld vertices (%s pooling)\n",
           now ? "NoW" : "multi-view", c->method, n_ok, sk.n, (long long)n_all, pool);
    printf("Median: %.4f mm  Mean: %.4f mm  Std: %.4f mm\n", med, mean, sd);
fail:
    if (st != HRN_OK) fprintf(stderr, "hrn-eval %s: %s\n", now ? "now" : "multiview", hrn_error_msg());
    free(text);
    free(all);
    for (int k = 0; k < 3; k++) free(per[k]);
    hrn_eval_sbuf_free(&csv);
    hrn_eval_sbuf_free(&json);
    hrn_eval_sbuf_free(&sk.json);
    return st == HRN_OK ? 0 : 1;
}

