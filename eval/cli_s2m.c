/* cli_s2m.c: `hrn-eval multiview` and `hrn-eval now` (spec C, D). Inputs either as a list of
 * 4 paths per line (--list), or, for NoW, the benchmark's own layout (--dataset / --imgs-list,
 * scans/, scans_lmks_onlypp/, <pred>/<subject>/<challenge>/<image>.{obj,ply,npy,txt}). */
#include "eval_cli_impl.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pooled distances of one group (a NoW challenge, or everything). */
struct pool {
    double *d;
    int64_t n, cap;
    int items;
};

static enum hrn_status pool_add(struct pool *p, const double *d, int64_t n) {
    if (p->n + n > p->cap) {
        int64_t cap = 2 * (p->n + n);
        double *nd = realloc(p->d, (size_t)cap * sizeof(double));
        if (!nd) return hrn_error_set(HRN_ERR_NOMEM, "out of memory pooling distances");
        p->d = nd;
        p->cap = cap;
    }
    memcpy(p->d + p->n, d, (size_t)n * sizeof(double));
    p->n += n;
    p->items++;
    return HRN_OK;
}

static int ends_with(const char *s, const char *e) {
    size_t a = strlen(s), b = strlen(e);
    return a >= b && strcmp(s + a - b, e) == 0;
}

/* NoW's load_pp and load_txt return float32 arrays: round those landmarks as upstream does. */
static void lmk_float32(const char *path, double *l) {
    if (!ends_with(path, ".pp") && !ends_with(path, ".txt")) return;
    for (int k = 0; k < 21; k++) l[k] = (double)(float)l[k];
}

struct s2m_item {
    char name[PATH_CAP];
    char f[4][PATH_CAP]; /* gt scan, gt lmk, pred mesh, pred lmk */
    int challenge;       /* NoW layout: 0..3, -1 unknown; list mode: -1 */
};

static enum hrn_status eval_item(const struct s2m_item *it, const struct hrn_s2m_opts *o,
                                 int clean, struct hrn_s2m_result *r, int64_t *n_dropped) {
    struct hrn_emesh g = {0}, p = {0};
    double gl[21], pl[21];
    enum hrn_status st = HRN_OK;
    *n_dropped = 0;
    HRN_TRY(hrn__read_checked(it->f[0], &g, 0));
    HRN_TRY(hrn_eval_lmk7_read(it->f[1], gl));
    lmk_float32(it->f[1], gl);
    if (clean) {
        HRN_TRY(hrn__read_mesh(it->f[2], &p));
        *n_dropped = hrn_emesh_drop_zero_cross_faces(&p);
        HRN_TRY(hrn_emesh_validate(&p, it->f[2], 0));
    } else {
        st = hrn__read_checked(it->f[2], &p, 1);
        if (st != HRN_OK) {
            /* the hint only where it helps: --clean-mesh drops degenerate faces, nothing else */
            if (strstr(hrn_error_msg(), "degenerate"))
                hrn_error_prefix(st, "(degenerate faces can be dropped with --clean-mesh)");
            goto fail;
        }
    }
    if (p.nf == 0) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no faces left", it->f[2]);
        goto fail;
    }
    HRN_TRY(hrn_eval_lmk7_read(it->f[3], pl));
    lmk_float32(it->f[3], pl);
    st = hrn_s2m_eval(&g, gl, &p, pl, o, r);
fail:
    hrn_emesh_free(&g);
    hrn_emesh_free(&p);
    return st;
}

static void stats_json(struct hrn_eval_sbuf *j, const struct pool *p) {
    hrn_eval_sbuf_printf(j, "{\"images\": %d, \"vertices\": %lld, \"median_mm\": ", p->items,
                         (long long)p->n);
    hrn__json_num(j, hrn_eval_median(p->d, p->n));
    hrn_eval_sbuf_printf(j, ", \"mean_mm\": ");
    hrn__json_num(j, hrn_eval_mean(p->d, p->n));
    hrn_eval_sbuf_printf(j, ", \"std_mm\": ");
    hrn__json_num(j, hrn_eval_std(p->d, p->n, 0));
    hrn_eval_sbuf_printf(j, "}");
}

static enum hrn_status write_meanmedian(const char *path, const struct pool *p) {
    struct hrn_eval_sbuf mm = {0};
    hrn_eval_sbuf_printf(&mm, "%.18e\n%.18e\n", hrn_eval_median(p->d, p->n),
                         hrn_eval_mean(p->d, p->n));
    enum hrn_status st = hrn__write_sbuf(path, &mm);
    hrn_eval_sbuf_free(&mm);
    return st;
}

int hrn__run_scan2mesh(int argc, char **argv, struct hrn__cli *c, int now) {
    const char *list = NULL, *refine = NULL, *pool_mode = "vertex";
    const char *dataset = NULL, *image_set = "val", *imgs_list = NULL, *gt_mesh = NULL,
               *gt_lmk = NULL, *pred = NULL, *challenge = NULL, *unit = "m";
    double factor = now ? 1.4 : 1.2, radius = 0, tol = 0;
    int nose_tip = -1, max_iter = 100, clean = 0, metrical = 0;
    static const struct option opts[] = {
        {"list", required_argument, 0, 'L'},        {"crop-factor", required_argument, 0, 'f'},
        {"crop-radius", required_argument, 0, 'r'}, {"nose-tip-index", required_argument, 0, 'n'},
        {"refine", required_argument, 0, 'R'},      {"pool", required_argument, 0, 'p'},
        {"max-iter", required_argument, 0, 'i'},    {"tol", required_argument, 0, 'T'},
        {"dataset", required_argument, 0, 'D'},     {"image-set", required_argument, 0, 'S'},
        {"imgs-list", required_argument, 0, 'I'},   {"gt-mesh-folder", required_argument, 0, 'G'},
        {"gt-lmk-folder", required_argument, 0, 'K'}, {"pred", required_argument, 0, 'P'},
        {"challenge", required_argument, 0, 'C'},   {"clean-mesh", no_argument, 0, 'c'},
        {"metrical", no_argument, 0, 'M'},          {"unit", required_argument, 0, 'U'},
        {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int ok = 1;
        switch (ch) {
        case 'L': list = optarg; break;
        case 'f': ok = hrn__parse_num("--crop-factor", optarg, 0, 1e3, &factor); break;
        case 'r': ok = hrn__parse_num("--crop-radius", optarg, 0, 1e9, &radius); break;
        case 'n': ok = hrn__parse_int("--nose-tip-index", optarg, 0, INT32_MAX, &nose_tip); break;
        case 'R': refine = optarg; break;
        case 'p': pool_mode = optarg; break;
        case 'i': ok = hrn__parse_int("--max-iter", optarg, 1, 100000000, &max_iter); break;
        case 'T': ok = hrn__parse_num("--tol", optarg, 0, 1, &tol); break;
        case 'D': dataset = optarg; break;
        case 'S': image_set = optarg; break;
        case 'I': imgs_list = optarg; break;
        case 'G': gt_mesh = optarg; break;
        case 'K': gt_lmk = optarg; break;
        case 'P': pred = optarg; break;
        case 'C': challenge = optarg; break;
        case 'c': clean = 1; break;
        case 'M': metrical = 1; break;
        case 'U': unit = optarg; break;
        default: return 2;
        }
        if (!ok) return 2;
    }
    const char *pname = now ? "now" : "multiview";
    struct hrn_s2m_opts o = {.crop_factor = factor, .crop_radius_mm = radius,
                             .nose_tip_index = nose_tip, .max_iter = max_iter, .tol = tol,
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
    if (metrical) { /* scan2mesh_computations_metrical.get_unit_factor: data -> mm */
        if (!strcmp(unit, "mm")) o.metrical_scale = 1;
        else if (!strcmp(unit, "cm")) o.metrical_scale = 10;
        else if (!strcmp(unit, "m")) o.metrical_scale = 1000;
        else {
            fprintf(stderr, "hrn-eval: --unit must be mm, cm or m\n");
            return 2;
        }
    }
    int layout = dataset || imgs_list || pred;
    int per_scan = !strcmp(pool_mode, "scan");
    if (per_scan == 0 && strcmp(pool_mode, "vertex")) {
        fprintf(stderr, "hrn-eval %s: --pool must be vertex or scan\n", pname);
        return 2;
    }
    if (layout && (!now || list)) {
        fprintf(stderr, "hrn-eval %s: the NoW layout options (--dataset, --imgs-list, --pred) are "
                        "for `now` only and exclude --list\n", pname);
        return 2;
    }
    if (!layout && !list) {
        fprintf(stderr, "hrn-eval %s: need --list FILE (lines: gt_scan gt_lmk pred_mesh "
                        "pred_lmk)%s\n", pname, now ? ", or --pred DIR with --dataset DIR (NoW "
                        "layout)" : "");
        return 2;
    }
    int want_ch = -1;
    if (challenge && *challenge) {
        want_ch = hrn_now_challenge_index(challenge);
        if (want_ch < 0 || !layout) {
            fprintf(stderr, "hrn-eval now: --challenge needs the NoW layout and one of "
                            "multiview_neutral, multiview_expressions, multiview_occlusions, "
                            "selfie\n");
            return 2;
        }
    }
    char lpath[PATH_CAP], spath[PATH_CAP], kpath[PATH_CAP];
    struct hrn_now_layout L = {0};
    if (layout) {
        if (!pred || (!dataset && (!imgs_list || !gt_mesh || !gt_lmk))) {
            fprintf(stderr, "hrn-eval now: the NoW layout needs --pred DIR and --dataset DIR (or "
                            "all of --imgs-list, --gt-mesh-folder, --gt-lmk-folder)\n");
            return 2;
        }
        if (strcmp(image_set, "val") && strcmp(image_set, "test")) {
            fprintf(stderr, "hrn-eval now: --image-set must be val or test\n");
            return 2;
        }
        snprintf(lpath, sizeof lpath, "%s/%s", dataset ? dataset : ".",
                 !strcmp(image_set, "val") ? "imagepathsvalidation.txt" : "imagepathstest.txt");
        snprintf(spath, sizeof spath, "%s/scans", dataset ? dataset : ".");
        snprintf(kpath, sizeof kpath, "%s/scans_lmks_onlypp", dataset ? dataset : ".");
        L.pred_dir = pred;
        L.scans_dir = gt_mesh ? gt_mesh : spath;
        L.lmks_dir = gt_lmk ? gt_lmk : kpath;
        if (!imgs_list) imgs_list = lpath;
    }
    /* upstream appends _metrical to the method identifier */
    char method[512];
    snprintf(method, sizeof method, "%s%s", c->method, metrical ? "_metrical" : "");
    enum hrn_status st = HRN_OK;
    char *text = NULL;
    struct hrn_now_item *nitems = NULL;
    int64_t n_now = 0;
    char **lines = NULL;
    int nl = 0;
    double *per[3] = {NULL, NULL, NULL};
    struct pool all = {0}, chp[HRN_NOW_N_CHALLENGES] = {{0}};
    int n_ok = 0, n_missing = 0;
    struct hrn_eval_sbuf csv = {0}, json = {0};
    struct hrn__skips sk = {0};
    if (layout) {
        HRN_TRY(hrn_now_read_list(imgs_list, &nitems, &n_now));
        nl = (int)n_now;
    } else {
        HRN_TRY(hrn__slurp_text(list, &text));
        int cap = 1;
        for (char *p = text; *p; p++) cap += *p == '\n';
        lines = malloc((size_t)cap * sizeof(char *));
        if (!lines) {
            st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
            goto fail;
        }
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            if (l[strspn(l, " \t\r")] && l[strspn(l, " \t\r")] != '#') lines[nl++] = l;
    }
    for (int k = 0; k < 3; k++) per[k] = malloc((size_t)(nl > 0 ? nl : 1) * sizeof(double));
    if (!per[0] || !per[1] || !per[2]) {
        st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    hrn_eval_sbuf_printf(&csv, "sample,%sstatus,n_vertices,median_mm,mean_mm,std_mm,scale,"
                         "refine_evals,faces_dropped,message\n", layout ? "challenge," : "");
    int n_todo = 0;
    for (int i = 0; i < nl; i++)
        if (!layout || want_ch < 0 || nitems[i].challenge_idx == want_ch) n_todo++;
    if (c->limit > 0 && c->limit < n_todo) n_todo = c->limit;
    struct hrn_progress prog;
    hrn_progress_begin(&prog, pname, n_todo);
    int done = 0;
    for (int i = 0; i < nl && done < n_todo; i++) {
        struct s2m_item it = {.challenge = -1};
        struct hrn_s2m_result r = {.median = (double)NAN, .mean = (double)NAN,
                                   .std = (double)NAN, .s = (double)NAN};
        enum hrn_status ist = HRN_OK;
        int64_t dropped = 0;
        if (layout) {
            const struct hrn_now_item *ni = &nitems[i];
            if (want_ch >= 0 && ni->challenge_idx != want_ch) continue;
            snprintf(it.name, sizeof it.name, "%s", ni->line);
            it.challenge = ni->challenge_idx;
            struct hrn_now_paths np;
            ist = hrn_now_resolve(&L, ni, &np);
            if (ist != HRN_OK) {
                n_missing++;
                goto item_done;
            }
            snprintf(it.f[0], PATH_CAP, "%s", np.gt_scan);
            snprintf(it.f[1], PATH_CAP, "%s", np.gt_lmk);
            snprintf(it.f[2], PATH_CAP, "%s", np.pred_mesh);
            snprintf(it.f[3], PATH_CAP, "%s", np.pred_lmk);
        } else {
            int nf = sscanf(lines[i], "%4095s %4095s %4095s %4095s", it.f[0], it.f[1], it.f[2],
                            it.f[3]);
            snprintf(it.name, sizeof it.name, "%s", nf >= 3 ? it.f[2] : lines[i]);
            if (nf != 4) {
                ist = hrn_error_set(HRN_ERR_FORMAT, "%s line %d: expected 4 paths, found %d", list,
                                    i + 1, nf);
                goto item_done;
            }
        }
        ist = eval_item(&it, &o, clean, &r, &dropped);
        if (ist == HRN_OK) {
            st = pool_add(&all, r.dist, r.n);
            if (st == HRN_OK && it.challenge >= 0) st = pool_add(&chp[it.challenge], r.dist, r.n);
            if (st != HRN_OK) {
                hrn_s2m_result_free(&r);
                hrn_progress_end(&prog);
                goto fail;
            }
            per[0][n_ok] = r.median;
            per[1][n_ok] = r.mean;
            per[2][n_ok] = r.std;
            n_ok++;
        }
    item_done:
        hrn__csv_str(&csv, it.name);
        if (layout) hrn_eval_sbuf_printf(&csv, ",%s", hrn_now_challenge_name(it.challenge));
        hrn_eval_sbuf_printf(&csv, ",%s,%lld,%.9g,%.9g,%.9g,%.9g,%d,%lld,",
                             ist == HRN_OK ? "ok" : "skipped", (long long)r.n, r.median, r.mean,
                             r.std, r.s, r.refine.evals, (long long)dropped);
        hrn__csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        hrn_s2m_result_free(&r);
        done++;
        if (ist != HRN_OK) {
            hrn__skip_add(&sk, it.name, hrn_error_msg());
            if (c->stop_on_error) {
                st = ist;
                hrn_progress_end(&prog);
                goto fail;
            }
        }
        hrn_progress_update(&prog, done, "skipped %d", sk.n);
    }
    hrn_progress_end(&prog);
    double med, mean, sd;
    if (per_scan) {
        med = hrn_eval_mean(per[0], n_ok);
        mean = hrn_eval_mean(per[1], n_ok);
        sd = hrn_eval_mean(per[2], n_ok);
    } else { /* pooled over every vertex of every scan; std ddof 0 (np.std) */
        med = hrn_eval_median(all.d, all.n);
        mean = hrn_eval_mean(all.d, all.n);
        sd = hrn_eval_std(all.d, all.n, 0);
    }
    HRN_TRY(hrn__mkdir_p(c->out));
    char path[PATH_CAP + 600];
    snprintf(path, sizeof path, "%s/%s_%s.csv", c->out, pname, method);
    HRN_TRY(hrn__write_sbuf(path, &csv));
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"%s\", \"method\": ", pname);
    hrn__json_str(&json, method);
    hrn_eval_sbuf_printf(&json, ", \"crop_factor\": %g, \"crop_radius_mm\": %g, "
                         "\"refine\": \"%s\", "
                         "\"metrical\": %s, \"clean_mesh\": %s, \"pool\": \"%s\", \"evaluated\": "
                         "%d, \"skipped\": %d, \"missing\": %d, \"vertices\": %lld, \"median_mm\": ",
                         factor, radius,
                         o.refine == HRN_REFINE_NONE    ? "none"
                         : o.refine == HRN_REFINE_RIGID ? "rigid"
                                                        : "similarity",
                         metrical ? "true" : "false", clean ? "true" : "false", pool_mode, n_ok,
                         sk.n, n_missing, (long long)all.n);
    hrn__json_num(&json, med);
    hrn_eval_sbuf_printf(&json, ", \"mean_mm\": ");
    hrn__json_num(&json, mean);
    hrn_eval_sbuf_printf(&json, ", \"std_mm\": ");
    hrn__json_num(&json, sd);
    if (layout) {
        hrn_eval_sbuf_printf(&json, ", \"challenges\": {");
        int first = 1;
        for (int k = 0; k < HRN_NOW_N_CHALLENGES; k++) {
            if (want_ch >= 0 && k != want_ch) continue;
            hrn_eval_sbuf_printf(&json, "%s\"%s\": ", first ? "" : ", ",
                                 hrn_now_challenge_name(k));
            stats_json(&json, &chp[k]);
            first = 0;
        }
        hrn_eval_sbuf_printf(&json, "}");
    }
    hrn_eval_sbuf_printf(&json, ", \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/%s_%s.json", c->out, pname, method);
    HRN_TRY(hrn__write_sbuf(path, &json));
    if (now) {
        /* the .meanmedian file holds the pooled median and mean (per-vertex pooling); with
         * --challenge the files carry its name as upstream's computed_distances_<challenge> */
        const char *suffix = want_ch >= 0 ? hrn_now_challenge_name(want_ch) : "";
        snprintf(path, sizeof path, "%s/%s%s%s.meanmedian", c->out, method, *suffix ? "_" : "",
                 suffix);
        HRN_TRY(write_meanmedian(path, &all));
        snprintf(path, sizeof path, "%s/%s_distances%s%s.npy", c->out, method, *suffix ? "_" : "",
                 suffix);
        HRN_TRY(hrn__write_npy_f64(path, all.d, all.n));
        for (int k = 0; layout && want_ch < 0 && k < HRN_NOW_N_CHALLENGES; k++) {
            snprintf(path, sizeof path, "%s/%s_%s.meanmedian", c->out, method,
                     hrn_now_challenge_name(k));
            HRN_TRY(write_meanmedian(path, &chp[k]));
        }
    }
    printf("%s, method %s: %d evaluated, %d skipped (%d missing), %lld vertices (%s pooling)\n",
           now ? "NoW" : "multi-view", method, n_ok, sk.n, n_missing, (long long)all.n, pool_mode);
    if (layout) /* cumulative_errors.py's line, per challenge */
        for (int k = 0; k < HRN_NOW_N_CHALLENGES; k++) {
            if (want_ch >= 0 && k != want_ch) continue;
            printf("%-22s - median: %.2f, mean: %.2f, std: %.2f  (%d images)\n",
                   hrn_now_challenge_name(k), hrn_eval_median(chp[k].d, chp[k].n),
                   hrn_eval_mean(chp[k].d, chp[k].n), hrn_eval_std(chp[k].d, chp[k].n, 0),
                   chp[k].items);
        }
    printf("Median: %.4f mm  Mean: %.4f mm  Std: %.4f mm\n", med, mean, sd);
    if (n_ok == 0) /* nothing measured: not a result anyone should take for one */
        st = hrn_error_set(HRN_ERR_INVALID, "no sample could be evaluated (%d skipped, %d "
                           "missing; see the messages above and %s)", sk.n, n_missing, path);
fail:
    if (st != HRN_OK) fprintf(stderr, "hrn-eval %s: %s\n", pname, hrn_error_msg());
    free(text);
    free(lines);
    free(nitems);
    free(all.d);
    for (int k = 0; k < HRN_NOW_N_CHALLENGES; k++) free(chp[k].d);
    for (int k = 0; k < 3; k++) free(per[k]);
    hrn_eval_sbuf_free(&csv);
    hrn_eval_sbuf_free(&json);
    hrn_eval_sbuf_free(&sk.json);
    return st == HRN_OK ? 0 : 1;
}
