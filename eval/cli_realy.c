/* cli_realy.c: `hrn-eval realy` (spec B): the REALY layout, REALY_error.txt and statistics. */
#include "eval_cli_impl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- REALY ---------------------------------------------------------------------------------------- */

struct named {
    char *file;
    long long key;
};

static int named_cmp(const void *a, const void *b) {
    const struct named *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

/* int(name.replace('_', '')) as Python parses it; 0 on failure. */
static int realy_key(const char *file, long long *key) {
    char buf[256];
    size_t k = 0;
    size_t l = strlen(file) - 4; /* without ".obj" */
    for (size_t i = 0; i < l && k + 1 < sizeof buf; i++)
        if (file[i] != '_') buf[k++] = file[i];
    buf[k] = '\0';
    if (!k) return 0;
    char *end;
    errno = 0;
    *key = strtoll(buf, &end, 10);
    return *end == '\0' && errno == 0;
}

static const char *REGIONS[4] = {"nose", "mouth", "forehead", "cheek"};

static void round_f32(double *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (double)(float)x[i];
}

int hrn__run_realy(int argc, char **argv, struct hrn__cli *c) {
    const char *kpdir = NULL, *scandir_ = NULL, *scale = NULL, *tmpl = NULL, *tmpl_kp = NULL,
               *pred = NULL, *mask_path = NULL;
    const char *topology = NULL, *realy_data = "./data";
    int save_meshes = 0, exact = 0;
    /* hrn's names, and the official main.py's (--REALY_HIFI3D_keypoints, --REALY_scan_region,
     * --prediction, --template_mask, --template_topology, --scale_path, --save) */
    static const struct option opts[] = {
        {"keypoints", required_argument, 0, 'k'}, {"scan-region", required_argument, 0, 'r'},
        {"scale", required_argument, 0, 's'},     {"template", required_argument, 0, 't'},
        {"template-kp", required_argument, 0, 'b'}, {"pred", required_argument, 0, 'p'},
        {"template-mask", required_argument, 0, 'm'}, {"template_mask", required_argument, 0, 'm'},
        {"save-meshes", no_argument, 0, 'S'},
        {"REALY_HIFI3D_keypoints", required_argument, 0, 'k'},
        {"REALY_scan_region", required_argument, 0, 'r'},
        {"prediction", required_argument, 0, 'p'}, {"scale_path", required_argument, 0, 's'},
        {"template_topology", required_argument, 0, 'T'}, {"save", required_argument, 0, 'o'},
        {"realy-data", required_argument, 0, 'D'}, {"exact", no_argument, 0, 'x'},
        {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'k': kpdir = optarg; break;
        case 'r': scandir_ = optarg; break;
        case 's': scale = optarg; break;
        case 't': tmpl = optarg; break;
        case 'b': tmpl_kp = optarg; break;
        case 'p': pred = optarg; break;
        case 'm': mask_path = optarg; break;
        case 'S': save_meshes = 1; break;
        case 'T': topology = optarg; break;
        case 'o': c->out = optarg; break;
        case 'D': realy_data = optarg; break;
        case 'x': exact = 1; break;
        default: return 2;
        }
    }
    /* main.py reads data/<T>.obj and data/<T>.txt for --template_topology T */
    char tpath[PATH_CAP], kpath[PATH_CAP];
    if (topology && (tmpl || tmpl_kp)) {
        fprintf(stderr, "hrn-eval realy: --template_topology excludes --template/--template-kp\n");
        return 2;
    }
    if (topology) {
        snprintf(tpath, sizeof tpath, "%s/%s.obj", realy_data, topology);
        snprintf(kpath, sizeof kpath, "%s/%s.txt", realy_data, topology);
        tmpl = tpath;
        tmpl_kp = kpath;
    }
    if (!kpdir || !scandir_ || !scale || !tmpl || !tmpl_kp || !pred) {
        fprintf(stderr, "hrn-eval realy: need --keypoints, --scan-region, --scale, --template "
                        "and --template-kp (or --template_topology), and --pred\n");
        return 2;
    }
    enum hrn_status st = HRN_OK;
    struct hrn_emesh tm = {0};
    struct hrn_realy_kpdef kd = {0};
    double *ms = NULL, *maskv = NULL;
    uint8_t *mask = NULL;
    int64_t nmask = 0;
    int64_t nms = 0;
    char **files = NULL;
    int nfiles = 0, nsorted = 0;
    struct named *sorted = NULL;
    struct hrn_eval_sbuf txt = {0}, csv = {0}, json = {0}, out = {0};
    struct hrn__skips sk = {0};
    double *vals[4] = {NULL, NULL, NULL, NULL};
    int nrows = 0;
    HRN_TRY(hrn__read_checked(tmpl, &tm, 0));
    kd.faces = tm.f;
    kd.nf = tm.nf;
    HRN_TRY(hrn_realy_kpdef_read(tmpl_kp, &kd));
    HRN_TRY(hrn_eval_read_numbers(scale, &ms, &nms));
    if (mask_path) { /* np.loadtxt(delimiter=","): one 0/1 per template vertex */
        HRN_TRY(hrn_eval_read_numbers(mask_path, &maskv, &nmask));
        if (nmask != tm.nv) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: %lld values, the template %s has %lld vertices",
                               mask_path, (long long)nmask, tmpl, (long long)tm.nv);
            goto fail;
        }
        mask = malloc((size_t)(nmask > 0 ? nmask : 1));
        if (!mask) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", mask_path);
            goto fail;
        }
        for (int64_t i = 0; i < nmask; i++) {
            if (maskv[i] != 0 && maskv[i] != 1) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: value %lld is %g, expected 0 or 1",
                                   mask_path, (long long)i + 1, maskv[i]);
                goto fail;
            }
            mask[i] = maskv[i] != 0;
        }
    }
    HRN_TRY(hrn__list_dir(pred, ".obj", &files, &nfiles));
    sorted = calloc((size_t)(nfiles > 0 ? nfiles : 1), sizeof *sorted);
    for (int k = 0; k < 4; k++) vals[k] = malloc((size_t)(nfiles > 0 ? nfiles : 1) * sizeof(double));
    if (!sorted || !vals[0] || !vals[1] || !vals[2] || !vals[3]) {
        st = hrn_error_set(HRN_ERR_NOMEM, "realy: out of memory");
        goto fail;
    }
    for (int i = 0; i < nfiles; i++) {
        long long key;
        if (!realy_key(files[i], &key)) {
            /* upstream's sort would raise here; we report the file and go on */
            hrn__skip_add(&sk, files[i], "name does not parse as an integer after removing '_' "
                                    "(REALY sorts by int(name.replace('_', '')))");
            continue;
        }
        sorted[nsorted].file = files[i];
        sorted[nsorted++].key = key;
    }
    qsort(sorted, (size_t)nsorted, sizeof *sorted, named_cmp);
    if (c->limit > 0 && c->limit < nsorted) nsorted = c->limit;
    hrn_eval_sbuf_printf(&csv, "sample,status,nose_mm,mouth_mm,forehead_mm,cheek_mm,message\n");
    struct hrn_progress prog;
    hrn_progress_begin(&prog, "realy", nsorted);
    for (int i = 0; i < nsorted; i++) {
        char name[256], path[PATH_CAP];
        snprintf(name, sizeof name, "%.*s", (int)strlen(sorted[i].file) - 4, sorted[i].file);
        int sid = atoi(name); /* int(subject.split('_')[0]) */
        struct hrn_emesh p = {0};
        struct hrn_realy_gt gt = {0};
        struct hrn_realy_result r;
        enum hrn_status ist = HRN_OK;
        int out_error = 0; /* an output I/O error stops the run: the sample itself was fine */
        for (int k = 0; k < 4; k++) r.err_mm[k] = (double)NAN;
        if (sid < 1 || sid > nms) {
            ist = hrn_error_set(HRN_ERR_FORMAT, "subject id %d outside 1..%lld of %s", sid,
                                (long long)nms, scale);
            goto item_done;
        }
        snprintf(path, sizeof path, "%s/%s", pred, sorted[i].file);
        if ((ist = hrn__read_checked(path, &p, 1)) != HRN_OK) goto item_done;
        if (p.nv != tm.nv) {
            ist = hrn_error_set(HRN_ERR_FORMAT, "%s: %lld vertices, the template %s has %lld",
                                path, (long long)p.nv, tmpl, (long long)tm.nv);
            goto item_done;
        }
        /* the template's triangles index the keypoints; the prediction's are the surface */
        snprintf(path, sizeof path, "%s/%d.obj", kpdir, sid);
        {
            struct hrn_emesh kpm = {0};
            if ((ist = hrn__read_mesh(path, &kpm)) != HRN_OK) goto item_done;
            int ok = kpm.nv == HRN_REALY_N_KP;
            if (ok) memcpy(gt.kp, kpm.v, sizeof gt.kp);
            for (int k = 0; ok && k < 3 * HRN_REALY_N_KP; k++) ok = isfinite(gt.kp[k]);
            hrn_emesh_free(&kpm);
            if (!ok) {
                ist = hrn_error_set(HRN_ERR_FORMAT, "%s: expected %d finite keypoints", path,
                                    HRN_REALY_N_KP);
                goto item_done;
            }
        }
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%s/%d/%s.obj", scandir_, sid, REGIONS[k]);
            if ((ist = hrn__read_checked(path, &gt.region[k], 0)) != HRN_OK) goto item_done;
        }
        gt.metrical_scale = ms[sid - 1];
        gt.exact = exact;
        if (!exact) { /* io_obj.read: np.array(vertices, np.float32) */
            round_f32(p.v, 3 * p.nv);
            round_f32(gt.kp, 3 * HRN_REALY_N_KP);
            for (int k = 0; k < 4; k++) round_f32(gt.region[k].v, 3 * gt.region[k].nv);
        }
        {
            struct hrn_realy_meshes mo;
            ist = hrn_realy_eval_ex(&p, &gt, &kd, mask, &r, save_meshes ? &mo : NULL);
            if (ist == HRN_OK && save_meshes) {
                /* main.py: <save>/region_align_save/<name>/{at_*,deform_*,error_*}.obj */
                snprintf(path, sizeof path, "%s/region_align_save", c->out);
                ist = hrn__mkdir_p(path);
                if (ist == HRN_OK) {
                    snprintf(path, sizeof path, "%s/region_align_save/%s", c->out, name);
                    ist = hrn_realy_write_meshes(path, &mo, gt.metrical_scale);
                }
                out_error = ist != HRN_OK;
                hrn_realy_meshes_free(&mo);
            }
        }
    item_done:
        hrn_emesh_free(&p);
        for (int k = 0; k < 4; k++) hrn_emesh_free(&gt.region[k]);
        if (out_error) {
            st = hrn_error_prefix(ist, "%s: cannot write its meshes (--save-meshes); stopping",
                                  name);
            hrn_progress_end(&prog);
            goto fail;
        }
        hrn_eval_sbuf_printf(&csv, "%s,%s,%.9g,%.9g,%.9g,%.9g,", name, ist == HRN_OK ? "ok" : "skipped",
                        r.err_mm[0], r.err_mm[1], r.err_mm[2], r.err_mm[3]);
        hrn__csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        if (ist != HRN_OK) {
            hrn__skip_add(&sk, name, hrn_error_msg());
            if (c->stop_on_error) {
                st = ist;
                hrn_progress_end(&prog);
                goto fail;
            }
        } else {
            /* REALY_error.txt: name\t then \t<str(err)[:9]> per region; the statistics re-read
             * these truncated strings */
            hrn_eval_sbuf_printf(&txt, "%s\t", name);
            for (int k = 0; k < 4; k++) {
                char b[32];
                hrn_py_float_str9(r.err_mm[k], b);
                hrn_eval_sbuf_printf(&txt, "\t%s", b);
                vals[k][nrows] = strtod(b, NULL);
            }
            hrn_eval_sbuf_printf(&txt, "\n");
            nrows++;
        }
        hrn_progress_update(&prog, i + 1, "skipped %d", sk.n);
    }
    hrn_progress_end(&prog);
    HRN_TRY(hrn__mkdir_p(c->out));
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/REALY_error.txt", c->out);
    HRN_TRY(hrn__write_sbuf(path, &txt));
    snprintf(path, sizeof path, "%s/realy_%s.csv", c->out, c->method);
    HRN_TRY(hrn__write_sbuf(path, &csv));
    /* get_statistic_metric's lines */
    double mean[4], med[4], sd[4];
    for (int k = 0; k < 4; k++) {
        mean[k] = hrn_eval_mean(vals[k], nrows);
        med[k] = hrn_eval_median(vals[k], nrows);
        sd[k] = hrn_eval_std(vals[k], nrows, 1);
    }
    for (int k = 0; k < 4; k++) hrn_eval_sbuf_printf(&out, "average nmse@%s = %.3f\n", REGIONS[k], mean[k]);
    for (int k = 0; k < 4; k++) hrn_eval_sbuf_printf(&out, "median nmse@%s = %.3f\n", REGIONS[k], med[k]);
    for (int k = 0; k < 4; k++)
        hrn_eval_sbuf_printf(&out, "standard deviation nmse@%s = %.3f\n", REGIONS[k], sd[k]);
    double all = (mean[0] + mean[1] + mean[2] + mean[3]) / 4.0;
    hrn_eval_sbuf_printf(&out, "average nmse@all = %.3f\n", all);
    hrn_eval_sbuf_printf(&out, "(%d evaluated, %d skipped)\n", nrows, sk.n);
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"realy\", \"method\": ");
    hrn__json_str(&json, c->method);
    hrn_eval_sbuf_printf(&json, ", \"evaluated\": %d, \"skipped\": %d, \"regions\": {", nrows, sk.n);
    for (int k = 0; k < 4; k++) {
        hrn_eval_sbuf_printf(&json, "%s\"%s\": {\"mean_mm\": ", k ? ", " : "", REGIONS[k]);
        hrn__json_num(&json, mean[k]);
        hrn_eval_sbuf_printf(&json, ", \"median_mm\": ");
        hrn__json_num(&json, med[k]);
        hrn_eval_sbuf_printf(&json, ", \"std_mm\": ");
        hrn__json_num(&json, sd[k]);
        hrn_eval_sbuf_printf(&json, "}");
    }
    hrn_eval_sbuf_printf(&json, "}, \"all_mm\": ");
    hrn__json_num(&json, all);
    hrn_eval_sbuf_printf(&json, ", \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/realy_%s.json", c->out, c->method);
    HRN_TRY(hrn__write_sbuf(path, &json));
    if (out.s) fputs(out.s, stdout);
    if (nrows == 0) /* nothing measured: not a result anyone should take for one */
        st = hrn_error_set(HRN_ERR_INVALID, "no prediction in %s could be evaluated (%d skipped; "
                           "see the messages above and %s)", pred, sk.n, path);
fail:
    if (st != HRN_OK) fprintf(stderr, "hrn-eval realy: %s\n", hrn_error_msg());
    hrn_emesh_free(&tm);
    free(ms);
    free(maskv);
    free(mask);
    if (files) hrn__free_names(files, nfiles);
    free(sorted);
    for (int k = 0; k < 4; k++) free(vals[k]);
    hrn_eval_sbuf_free(&txt);
    hrn_eval_sbuf_free(&csv);
    hrn_eval_sbuf_free(&json);
    hrn_eval_sbuf_free(&out);
    hrn_eval_sbuf_free(&sk.json);
    return st == HRN_OK ? 0 : 1;
}

