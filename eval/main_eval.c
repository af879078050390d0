/* main_eval.c: the hrn-eval executable: `hrn-eval facescape|realy|multiview|now [options]`.
 * Reads the benchmark's files, evaluates every sample with the hrn_eval library, reports bad
 * samples one by one without stopping (unless --stop-on-error), and writes a per-sample CSV, a JSON
 * summary and the official tool's output files/table. Exit codes: 0 ok, 1 failure, 2 bad usage. */
#include "hrn_eval.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PATH_CAP = 4096 };

struct common {
    const char *out;
    const char *method;
    int stop_on_error;
    int limit;
};

/* --- small helpers ------------------------------------------------------------------------------ */

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static enum hrn_status mkdir_p(const char *path) {
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
    return HRN_OK;
}

static enum hrn_status write_sbuf(const char *path, struct hrn_eval_sbuf *b) {
    if (b->oom) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory building the report", path);
    return hrn_eval_write_atomic(path, b->s ? b->s : "", b->len);
}

/* JSON string body with escapes. */
static void json_str(struct hrn_eval_sbuf *b, const char *s) {
    hrn_eval_sbuf_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') hrn_eval_sbuf_printf(b, "\\%c", c);
        else if (c < 0x20) hrn_eval_sbuf_printf(b, "\\u%04x", c);
        else hrn_eval_sbuf_printf(b, "%c", c);
    }
    hrn_eval_sbuf_printf(b, "\"");
}

static void json_num(struct hrn_eval_sbuf *b, double x) {
    if (isfinite(x)) hrn_eval_sbuf_printf(b, "%.10g", x);
    else hrn_eval_sbuf_printf(b, "null");
}

/* CSV field: quoted when it holds a comma, quote or newline. */
static void csv_str(struct hrn_eval_sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        hrn_eval_sbuf_printf(b, "%s", s);
        return;
    }
    hrn_eval_sbuf_printf(b, "\"");
    for (; *s; s++) hrn_eval_sbuf_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    hrn_eval_sbuf_printf(b, "\"");
}

/* Skipped samples, for the summary. */
struct skips {
    int n;
    struct hrn_eval_sbuf json; /* array body */
};

static void skip_add(struct skips *s, const char *name, const char *reason) {
    hrn_log(HRN_LOG_WARN, "%s: skipped: %s", name, reason);
    hrn_eval_sbuf_printf(&s->json, "%s{\"sample\": ", s->n ? ", " : "");
    json_str(&s->json, name);
    hrn_eval_sbuf_printf(&s->json, ", \"reason\": ");
    json_str(&s->json, reason);
    hrn_eval_sbuf_printf(&s->json, "}");
    s->n++;
}

/* Sorted names of the regular files in dir ending in ext. */
static enum hrn_status list_dir(const char *dir, const char *ext, char ***names, int *n) {
    DIR *d = opendir(dir);
    if (!d) return hrn_error_set(HRN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int cap = 64, k = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    struct dirent *e;
    size_t el = strlen(ext);
    while (v && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0) continue;
        if (k == cap) {
            cap *= 2;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        v[k++] = strdup(e->d_name);
    }
    closedir(d);
    if (!v) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", dir);
    *names = v;
    *n = k;
    return HRN_OK;
}

static void free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Read a mesh and check it: finite, indices in range, no degenerate faces. */
static enum hrn_status read_checked(const char *path, struct hrn_emesh *m, int check_degenerate) {
    enum hrn_status st = hrn_emesh_read(path, m);
    if (st != HRN_OK) return st;
    st = hrn_emesh_validate(m, path, check_degenerate);
    if (st != HRN_OK) hrn_emesh_free(m);
    return st;
}

/* --- FaceScape ----------------------------------------------------------------------------------- */

/* In a JSON object {"name": [w0, h0, s, t0, t1], ...}: the 5 numbers of key `name`. */
static enum hrn_status crop_lookup(const char *text, const char *path, const char *name,
                                   double out[5]) {
    char key[256];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *p = strstr(text, key);
    if (!p) return hrn_error_set(HRN_ERR_FORMAT, "%s: no entry \"%s\"", path, name);
    p = strchr(p + strlen(key), '[');
    if (!p) return hrn_error_set(HRN_ERR_FORMAT, "%s: entry \"%s\" is not an array", path, name);
    p++;
    for (int i = 0; i < 5; i++) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        char *end;
        out[i] = strtod(p, &end);
        if (end == p || !isfinite(out[i]))
            return hrn_error_set(HRN_ERR_FORMAT, "%s: entry \"%s\": expected 5 numbers "
                                 "[w0, h0, s, t0, t1]", path, name);
        p = end;
    }
    if (!(out[2] > 0)) return hrn_error_set(HRN_ERR_FORMAT, "%s: entry \"%s\": scale %g <= 0", path,
                                           name, out[2]);
    return HRN_OK;
}

static enum hrn_status slurp_text(const char *path, char **text) {
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!b) {
        fclose(f);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(b, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    b[got] = '\0';
    *text = b;
    return HRN_OK;
}

static enum hrn_status npy_expect(const char *dir, const char *file, int64_t count, double **out) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int nd;
    int64_t sh[4];
    enum hrn_status st = hrn_eval_npy_read(path, out, &nd, sh);
    if (st != HRN_OK) return st;
    if (sh[0] * sh[1] * sh[2] * sh[3] != count) {
        free(*out);
        *out = NULL;
        return hrn_error_set(HRN_ERR_FORMAT, "%s: expected %lld values", path, (long long)count);
    }
    return HRN_OK;
}

static void fs_group_line(struct hrn_eval_sbuf *b, const char *label, const double *v, const int *idx,
                          int n, const char *fmt, double mul) {
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    for (int i = 0; i < n; i++) t[i] = v[idx[i]];
    int64_t nv;
    double m = hrn_eval_nanmean(t, n, &nv);
    hrn_eval_sbuf_printf(b, "  %-10s", label);
    hrn_eval_sbuf_printf(b, fmt, m * mul);
    hrn_eval_sbuf_printf(b, "  (done %d/%d)\n", (int)nv, n);
    free(t);
}

static int run_facescape(int argc, char **argv, struct common *c) {
    const char *set = NULL, *data = NULL, *predef = NULL, *pred = NULL, *loader = "deep3df";
    const char *crop_json = NULL;
    int quantize = 0, cull = 1;
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'},     {"data", required_argument, 0, 'd'},
        {"predef", required_argument, 0, 'P'},  {"pred", required_argument, 0, 'p'},
        {"loader", required_argument, 0, 'l'},  {"crop-json", required_argument, 0, 'j'},
        {"quantize24", no_argument, 0, 'z'},    {"no-cull", no_argument, 0, 'n'},
        {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': set = optarg; break;
        case 'd': data = optarg; break;
        case 'P': predef = optarg; break;
        case 'p': pred = optarg; break;
        case 'l': loader = optarg; break;
        case 'j': crop_json = optarg; break;
        case 'z': quantize = 1; break;
        case 'n': cull = 0; break;
        default: return 2;
        }
    }
    if (!set || (strcmp(set, "wild") && strcmp(set, "lab")) || !data || !predef || !pred) {
        fprintf(stderr, "hrn-eval facescape: need --set wild|lab, --data, --predef and --pred\n");
        return 2;
    }
    int deep3df = strcmp(loader, "deep3df") == 0;
    if (!deep3df && strcmp(loader, "ortho") != 0) {
        fprintf(stderr, "hrn-eval facescape: --loader must be deep3df or ortho\n");
        return 2;
    }
    if (deep3df && !crop_json) {
        fprintf(stderr, "hrn-eval facescape: --loader deep3df needs --crop-json (HRN's "
                        "trans_params per image)\n");
        return 2;
    }
    int lab = strcmp(set, "lab") == 0;
    enum hrn_status st = HRN_OK;
    double *ps = NULL, *hc = NULL, *rot = NULL;
    char *crop = NULL;
    int n_items = lab ? 660 : 400;
    if (c->limit > 0 && c->limit < n_items) n_items = c->limit;
    double *cd = malloc(660 * sizeof(double)), *mne = malloc(660 * sizeof(double)),
           *cr = malloc(660 * sizeof(double));
    struct hrn_eval_sbuf csv = {0}, json = {0}, table = {0}, f1 = {0}, f2 = {0}, f3 = {0};
    struct skips sk = {0};
    for (int i = 0; i < 660; i++) cd[i] = mne[i] = cr[i] = (double)NAN;
    if (!lab) {
        HRN_TRY(npy_expect(predef, "wild_pupil_scales.npy", 400, &ps));
        HRN_TRY(npy_expect(predef, "wild_head_centers.npy", 1200, &hc));
        HRN_TRY(npy_expect(predef, "wild_rotations.npy", 3600, &rot));
    } else {
        HRN_TRY(npy_expect(predef, "lab_head_centers.npy", 9, &hc));
        HRN_TRY(npy_expect(predef, "lab_rotations.npy", 99, &rot));
    }
    if (crop_json) HRN_TRY(slurp_text(crop_json, &crop));
    hrn_eval_sbuf_printf(&csv, "sample,status,cd_mm,mne_rad,cr_percent,delta_z,message\n");
    struct hrn_progress prog;
    hrn_progress_begin(&prog, lab ? "fslab" : "fswild", n_items);
    for (int idx = 0; idx < n_items; idx++) {
        char name[32], gtp[PATH_CAP], pp[PATH_CAP], camp[PATH_CAP];
        int sub = idx / 33, foc = (idx % 33) / 11, view = idx % 11;
        if (lab) {
            snprintf(name, sizeof name, "%02d_%01d_%02d", sub, foc, view);
            snprintf(gtp, sizeof gtp, "%s/lab_gt_mesh/%02d.obj", data, sub);
            snprintf(camp, sizeof camp, "%s/lab_cam/%s.json", data, name);
        } else {
            snprintf(name, sizeof name, "%03d", idx);
            snprintf(gtp, sizeof gtp, "%s/wild_gt_mesh/%s.obj", data, name);
        }
        const char *cands[3] = {"%s/%s_hrn_mid_mesh.obj", "%s/%s.obj", "%s/%s.ply"};
        pp[0] = '\0';
        for (int k = 0; k < 3; k++) {
            snprintf(pp, sizeof pp, cands[k], pred, name);
            if (file_exists(pp)) break;
            pp[0] = '\0';
        }
        struct hrn_emesh g = {0}, p = {0};
        struct hrn_fs_result r = {.cd = (double)NAN, .mne = (double)NAN, .cr = (double)NAN,
                                  .delta_z = (double)NAN};
        enum hrn_status ist = HRN_OK;
        if (!pp[0]) {
            ist = hrn_error_set(HRN_ERR_IO, "no prediction %s/%s{_hrn_mid_mesh.obj,.obj,.ply}",
                                pred, name);
            goto item_done;
        }
        if ((ist = read_checked(gtp, &g, 0)) != HRN_OK) goto item_done;
        if ((ist = read_checked(pp, &p, 1)) != HRN_OK) goto item_done;
        struct hrn_fs_item it = {.lab = lab, .quantize24 = quantize, .cull_back = cull};
        double focal = -1;
        if (lab) {
            double *cam = NULL;
            int64_t nc = 0;
            if ((ist = hrn_eval_read_numbers(camp, &cam, &nc)) != HRN_OK) goto item_done;
            if (nc < 21) {
                free(cam);
                ist = hrn_error_set(HRN_ERR_FORMAT, "%s: expected [K (3x3), Rt (3x4), ...]", camp);
                goto item_done;
            }
            memcpy(it.K, cam, 9 * sizeof(double));
            memcpy(it.Rt, cam + 9, 12 * sizeof(double));
            free(cam);
            focal = it.K[0];
            memcpy(it.head_center, hc + 3 * foc, 3 * sizeof(double));
            memcpy(it.R, rot + 9 * view, 9 * sizeof(double));
        } else {
            it.ps = ps[idx];
            memcpy(it.head_center, hc + 3 * idx, 3 * sizeof(double));
            memcpy(it.R, rot + 9 * idx, 9 * sizeof(double));
        }
        if (deep3df) {
            double tp[5];
            if ((ist = crop_lookup(crop, crop_json, name, tp)) != HRN_OK) goto item_done;
            hrn_fs_align_deep3df(&p, tp, focal);
        } else {
            hrn_fs_ortho_branch(&p, focal);
        }
        ist = hrn_fs_eval(&g, &p, &it, &r);
    item_done:
        hrn_emesh_free(&g);
        hrn_emesh_free(&p);
        hrn_eval_sbuf_printf(&csv, "%s,%s,", name, ist == HRN_OK ? "ok" : "skipped");
        hrn_eval_sbuf_printf(&csv, "%.9g,%.9g,%.9g,%.9g,", r.cd, r.mne, 100 * r.cr, r.delta_z);
        csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        if (ist != HRN_OK) {
            skip_add(&sk, name, hrn_error_msg());
            if (c->stop_on_error) {
                st = ist;
                hrn_progress_end(&prog);
                goto fail;
            }
        } else {
            cd[idx] = r.cd;
            mne[idx] = r.mne;
            cr[idx] = r.cr;
        }
        hrn_progress_update(&prog, idx + 1, "skipped %d", sk.n);
    }
    hrn_progress_end(&prog);
    /* the official result files: eval_result/<set>_<method>/{CD,CR,MNE}_full.txt */
    char dir[PATH_CAP], path[PATH_CAP + 64];
    snprintf(dir, sizeof dir, "%s/fs%s_%s", c->out, set, c->method);
    HRN_TRY(mkdir_p(dir));
    for (int i = 0; i < n_items; i++) {
        /* np.savetxt's default "%.18e"; NaN prints as "nan" */
        hrn_eval_sbuf_printf(&f1, "%.18e\n", cd[i]);
        hrn_eval_sbuf_printf(&f2, "%.18e\n", cr[i]);
        hrn_eval_sbuf_printf(&f3, "%.18e\n", mne[i]);
    }
    snprintf(path, sizeof path, "%s/CD_full.txt", dir);
    HRN_TRY(write_sbuf(path, &f1));
    snprintf(path, sizeof path, "%s/CR_full.txt", dir);
    HRN_TRY(write_sbuf(path, &f2));
    snprintf(path, sizeof path, "%s/MNE_full.txt", dir);
    HRN_TRY(write_sbuf(path, &f3));
    snprintf(path, sizeof path, "%s/facescape_%s_%s.csv", c->out, set, c->method);
    HRN_TRY(write_sbuf(path, &csv));
    /* table: groups of A.9 (nanmean; done = non-NaN items) */
    int idxs[660], ni;
    const char *labels[5];
    int lo[5], hi[5], ng;
    hrn_eval_sbuf_printf(&table, "FaceScape %s, method %s: %d items, %d skipped\n",
                    lab ? "in-the-lab" : "in-the-wild", c->method, n_items, sk.n);
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"facescape\", \"set\": \"%s\", \"method\": ", set);
    json_str(&json, c->method);
    hrn_eval_sbuf_printf(&json, ", \"items\": %d, \"skipped\": %d, \"groups\": {", n_items, sk.n);
    for (int pass = 0; pass < (lab ? 2 : 1); pass++) {
        if (!lab) {
            static const char *wl[5] = {"0-5deg", "5-30deg", "30-60deg", "60-90deg", "all"};
            for (int k = 0; k < 5; k++) {
                labels[k] = wl[k];
                lo[k] = k < 4 ? 100 * k : 0;
                hi[k] = k < 4 ? 100 * (k + 1) : 400;
            }
            ng = 5;
        } else if (pass == 0) {
            static const char *al[4] = {"0deg", "30deg", "60deg", "all-f1200"};
            int l0[4] = {0, 1, 9, 0}, h0[4] = {1, 9, 11, 11};
            for (int k = 0; k < 4; k++) { labels[k] = al[k]; lo[k] = l0[k]; hi[k] = h0[k]; }
            ng = 4;
        } else {
            static const char *fl[4] = {"f1200", "f600", "f300", "all"};
            for (int k = 0; k < 4; k++) { labels[k] = fl[k]; lo[k] = k; hi[k] = k + 1; }
            ng = 4;
        }
        hrn_eval_sbuf_printf(&table, lab ? (pass == 0 ? "by angle (focal 1200 only):\n"
                                                 : "by focal length:\n")
                                    : "by angle:\n");
        for (int k = 0; k < ng; k++) {
            ni = 0;
            for (int i = 0; i < n_items; i++) {
                int in;
                if (!lab) in = i >= lo[k] && i < hi[k];
                else if (pass == 0) in = (i % 33) / 11 == 0 && (i % 11) >= lo[k] && (i % 11) < hi[k];
                else in = k == 3 || (i % 33) / 11 == lo[k];
                if (in) idxs[ni++] = i;
            }
            hrn_eval_sbuf_printf(&table, " %s\n", labels[k]);
            fs_group_line(&table, "CD (mm)", cd, idxs, ni, "%1.2f", 1);
            fs_group_line(&table, "MNE (rad)", mne, idxs, ni, "%1.3f", 1);
            fs_group_line(&table, "CR (%)", cr, idxs, ni, "%2.1f", 100);
            double *t = malloc((size_t)(ni > 0 ? ni : 1) * 3 * sizeof(double));
            for (int i = 0; i < ni; i++) {
                t[i] = cd[idxs[i]];
                t[ni + i] = mne[idxs[i]];
                t[2 * ni + i] = cr[idxs[i]];
            }
            int64_t done;
            double mcd = hrn_eval_nanmean(t, ni, &done), mmne = hrn_eval_nanmean(t + ni, ni, NULL),
                   mcr = hrn_eval_nanmean(t + 2 * ni, ni, NULL);
            free(t);
            hrn_eval_sbuf_printf(&json, "%s\"%s\": {\"cd_mm\": ", (pass || k) ? ", " : "", labels[k]);
            json_num(&json, mcd);
            hrn_eval_sbuf_printf(&json, ", \"mne_rad\": ");
            json_num(&json, mmne);
            hrn_eval_sbuf_printf(&json, ", \"cr_percent\": ");
            json_num(&json, 100 * mcr);
            hrn_eval_sbuf_printf(&json, ", \"done_rate\": ");
            json_num(&json, ni ? (double)done / ni : (double)NAN);
            hrn_eval_sbuf_printf(&json, "}");
        }
    }
    hrn_eval_sbuf_printf(&json, "}, \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/facescape_%s_%s.json", c->out, set, c->method);
    HRN_TRY(write_sbuf(path, &json));
    if (table.s) fputs(table.s, stdout);
fail:
    if (st != HRN_OK) fprintf(stderr, "hrn-eval facescape: %s\n", hrn_error_msg());
    free(ps);
    free(hc);
    free(rot);
    free(crop);
    free(cd);
    free(mne);
    free(cr);
    hrn_eval_sbuf_free(&csv);
    hrn_eval_sbuf_free(&json);
    hrn_eval_sbuf_free(&table);
    hrn_eval_sbuf_free(&f1);
    hrn_eval_sbuf_free(&f2);
    hrn_eval_sbuf_free(&f3);
    hrn_eval_sbuf_free(&sk.json);
    return st == HRN_OK ? 0 : 1;
}

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

static int run_realy(int argc, char **argv, struct common *c) {
    const char *kpdir = NULL, *scandir_ = NULL, *scale = NULL, *tmpl = NULL, *tmpl_kp = NULL,
               *pred = NULL;
    static const struct option opts[] = {
        {"keypoints", required_argument, 0, 'k'}, {"scan-region", required_argument, 0, 'r'},
        {"scale", required_argument, 0, 's'},     {"template", required_argument, 0, 't'},
        {"template-kp", required_argument, 0, 'b'}, {"pred", required_argument, 0, 'p'},
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
        default: return 2;
        }
    }
    if (!kpdir || !scandir_ || !scale || !tmpl || !tmpl_kp || !pred) {
        fprintf(stderr, "hrn-eval realy: need --keypoints, --scan-region, --scale, --template, "
                        "--template-kp and --pred\n");
        return 2;
    }
    enum hrn_status st = HRN_OK;
    struct hrn_emesh tm = {0};
    struct hrn_realy_kpdef kd = {0};
    double *ms = NULL;
    int64_t nms = 0;
    char **files = NULL;
    int nfiles = 0, nsorted = 0;
    struct named *sorted = NULL;
    struct hrn_eval_sbuf txt = {0}, csv = {0}, json = {0}, out = {0};
    struct skips sk = {0};
    double *vals[4] = {NULL, NULL, NULL, NULL};
    int nrows = 0;
    HRN_TRY(read_checked(tmpl, &tm, 0));
    kd.faces = tm.f;
    kd.nf = tm.nf;
    HRN_TRY(hrn_realy_kpdef_read(tmpl_kp, &kd));
    HRN_TRY(hrn_eval_read_numbers(scale, &ms, &nms));
    HRN_TRY(list_dir(pred, ".obj", &files, &nfiles));
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
            skip_add(&sk, files[i], "name does not parse as an integer after removing '_' "
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
        for (int k = 0; k < 4; k++) r.err_mm[k] = (double)NAN;
        if (sid < 1 || sid > nms) {
            ist = hrn_error_set(HRN_ERR_FORMAT, "subject id %d outside 1..%lld of %s", sid,
                                (long long)nms, scale);
            goto item_done;
        }
        snprintf(path, sizeof path, "%s/%s", pred, sorted[i].file);
        if ((ist = read_checked(path, &p, 1)) != HRN_OK) goto item_done;
        if (p.nv != tm.nv) {
            ist = hrn_error_set(HRN_ERR_FORMAT, "%s: %lld vertices, the template %s has %lld",
                                path, (long long)p.nv, tmpl, (long long)tm.nv);
            goto item_done;
        }
        /* the template's triangles index the keypoints; the prediction's are the surface */
        snprintf(path, sizeof path, "%s/%d.obj", kpdir, sid);
        {
            struct hrn_emesh kpm = {0};
            if ((ist = hrn_emesh_read(path, &kpm)) != HRN_OK) goto item_done;
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
            if ((ist = read_checked(path, &gt.region[k], 0)) != HRN_OK) goto item_done;
        }
        gt.metrical_scale = ms[sid - 1];
        ist = hrn_realy_eval(&p, &gt, &kd, &r);
    item_done:
        hrn_emesh_free(&p);
        for (int k = 0; k < 4; k++) hrn_emesh_free(&gt.region[k]);
        hrn_eval_sbuf_printf(&csv, "%s,%s,%.9g,%.9g,%.9g,%.9g,", name, ist == HRN_OK ? "ok" : "skipped",
                        r.err_mm[0], r.err_mm[1], r.err_mm[2], r.err_mm[3]);
        csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        if (ist != HRN_OK) {
            skip_add(&sk, name, hrn_error_msg());
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
    HRN_TRY(mkdir_p(c->out));
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/REALY_error.txt", c->out);
    HRN_TRY(write_sbuf(path, &txt));
    snprintf(path, sizeof path, "%s/realy_%s.csv", c->out, c->method);
    HRN_TRY(write_sbuf(path, &csv));
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
    json_str(&json, c->method);
    hrn_eval_sbuf_printf(&json, ", \"evaluated\": %d, \"skipped\": %d, \"regions\": {", nrows, sk.n);
    for (int k = 0; k < 4; k++) {
        hrn_eval_sbuf_printf(&json, "%s\"%s\": {\"mean_mm\": ", k ? ", " : "", REGIONS[k]);
        json_num(&json, mean[k]);
        hrn_eval_sbuf_printf(&json, ", \"median_mm\": ");
        json_num(&json, med[k]);
        hrn_eval_sbuf_printf(&json, ", \"std_mm\": ");
        json_num(&json, sd[k]);
        hrn_eval_sbuf_printf(&json, "}");
    }
    hrn_eval_sbuf_printf(&json, "}, \"all_mm\": ");
    json_num(&json, all);
    hrn_eval_sbuf_printf(&json, ", \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/realy_%s.json", c->out, c->method);
    HRN_TRY(write_sbuf(path, &json));
    if (out.s) fputs(out.s, stdout);
fail:
    if (st != HRN_OK) fprintf(stderr, "hrn-eval realy: %s\n", hrn_error_msg());
    hrn_emesh_free(&tm);
    free(ms);
    if (files) free_names(files, nfiles);
    free(sorted);
    for (int k = 0; k < 4; k++) free(vals[k]);
    hrn_eval_sbuf_free(&txt);
    hrn_eval_sbuf_free(&csv);
    hrn_eval_sbuf_free(&json);
    hrn_eval_sbuf_free(&out);
    hrn_eval_sbuf_free(&sk.json);
    return st == HRN_OK ? 0 : 1;
}

/* --- multi-view and NoW ----------------------------------------------------------------------------- */

static int run_scan2mesh(int argc, char **argv, struct common *c, int now) {
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
    struct skips sk = {0};
    HRN_TRY(slurp_text(list, &text));
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
        if ((ist = read_checked(f[0], &g, 0)) != HRN_OK) goto item_done;
        if ((ist = hrn_eval_lmk7_read(f[1], gl)) != HRN_OK) goto item_done;
        if ((ist = read_checked(f[2], &p, 1)) != HRN_OK) goto item_done;
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
        csv_str(&csv, name);
        hrn_eval_sbuf_printf(&csv, ",%s,%lld,%.9g,%.9g,%.9g,%.9g,", ist == HRN_OK ? "ok" : "skipped",
                        (long long)r.n, r.median, r.mean, r.std, r.s);
        csv_str(&csv, ist == HRN_OK ? "" : hrn_error_msg());
        hrn_eval_sbuf_printf(&csv, "\n");
        hrn_s2m_result_free(&r);
        if (ist != HRN_OK) {
            skip_add(&sk, name, hrn_error_msg());
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
    HRN_TRY(mkdir_p(c->out));
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s_%s.csv", c->out, now ? "now" : "multiview", c->method);
    HRN_TRY(write_sbuf(path, &csv));
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"%s\", \"method\": ", now ? "now" : "multiview");
    json_str(&json, c->method);
    hrn_eval_sbuf_printf(&json, ", \"crop_factor\": %g, \"crop_radius_mm\": %g, \"refine\": \"%s\", "
                    "\"pool\": \"%s\", \"evaluated\": %d, \"skipped\": %d, \"vertices\": %lld, "
                    "\"median_mm\": ", factor, radius,
                    o.refine == HRN_REFINE_NONE ? "none" : o.refine == HRN_REFINE_RIGID ? "rigid"
                                                                                        : "similarity",
                    pool, n_ok, sk.n, (long long)n_all);
    json_num(&json, med);
    hrn_eval_sbuf_printf(&json, ", \"mean_mm\": ");
    json_num(&json, mean);
    hrn_eval_sbuf_printf(&json, ", \"std_mm\": ");
    json_num(&json, sd);
    hrn_eval_sbuf_printf(&json, ", \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/%s_%s.json", c->out, now ? "now" : "multiview", c->method);
    HRN_TRY(write_sbuf(path, &json));
    if (now) {
        /* the .meanmedian file holds the median and the mean */
        struct hrn_eval_sbuf mm = {0};
        hrn_eval_sbuf_printf(&mm, "%.18e\n%.18e\n", med, mean);
        snprintf(path, sizeof path, "%s/%s.meanmedian", c->out, c->method);
        st = write_sbuf(path, &mm);
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

/* --- main ------------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
        "usage: hrn-eval <protocol> [common options] [protocol options]\n"
        "protocols: facescape, realy, multiview, now (spec/eval_protocols.md A-D)\n"
        "common options (before or after the protocol options):\n"
        "  --out DIR          output directory (default .)\n"
        "  --method NAME      method label for file names (default hrn)\n"
        "  --stop-on-error    stop at the first bad sample (default: report it and go on)\n"
        "  --limit N          evaluate the first N samples only\n"
        "  -q, --quiet        no progress or warnings\n"
        "  -h, --help         this help\n"
        "facescape: --set wild|lab --data DIR --predef DIR --pred DIR\n"
        "           [--loader deep3df|ortho] [--crop-json FILE] [--quantize24] [--no-cull]\n"
        "   DIR of --data holds wild_gt_mesh/%%03d.obj, lab_gt_mesh/%%02d.obj, lab_cam/<name>.json;\n"
        "   --predef is benchmark/code/predef (*.npy); predictions <pred>/<name>{_hrn_mid_mesh.obj,\n"
        "   .obj,.ply}; --crop-json maps <name> to HRN's trans_params [w0,h0,s,t0,t1]\n"
        "realy: --keypoints DIR --scan-region DIR --scale metrical_scale.txt --template T.obj\n"
        "       --template-kp T.txt --pred DIR\n"
        "multiview|now: --list FILE (lines: gt_scan gt_lmk7 pred_mesh pred_lmk7)\n"
        "       [--crop-factor F (multiview 1.2, now 1.4; 0 = no crop)] [--crop-radius MM]\n"
        "       [--nose-tip-index I] [--refine none|rigid|similarity (multiview none, now\n"
        "       similarity)] [--pool vertex|scan] [--max-iter N]\n");
}

int main(int argc, char **argv) {
    struct common c = {.out = ".", .method = "hrn"};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    const char *proto = argv[1];
    /* pull the common options out; pass the rest to the protocol's parser */
    char **rest = malloc((size_t)(argc + 1) * sizeof(char *));
    int nr = 0;
    rest[nr++] = argv[0];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has_val = !strcmp(a, "--out") || !strcmp(a, "--method") || !strcmp(a, "--limit");
        if (has_val && i + 1 >= argc) {
            fprintf(stderr, "hrn-eval: %s needs a value\n", a);
            free(rest);
            return 2;
        }
        if (!strcmp(a, "--out")) c.out = argv[++i];
        else if (!strcmp(a, "--method")) c.method = argv[++i];
        else if (!strcmp(a, "--limit")) c.limit = atoi(argv[++i]);
        else if (!strcmp(a, "--stop-on-error")) c.stop_on_error = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) hrn_log_set_level(HRN_LOG_NONE);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(rest);
            return 0;
        } else rest[nr++] = argv[i];
    }
    rest[nr] = NULL;
    int rc;
    if (!strcmp(proto, "facescape")) rc = run_facescape(nr, rest, &c);
    else if (!strcmp(proto, "realy")) rc = run_realy(nr, rest, &c);
    else if (!strcmp(proto, "multiview")) rc = run_scan2mesh(nr, rest, &c, 0);
    else if (!strcmp(proto, "now")) rc = run_scan2mesh(nr, rest, &c, 1);
    else {
        fprintf(stderr, "hrn-eval: unknown protocol '%s'\n", proto);
        rc = 2;
    }
    if (rc == 2) usage(stderr);
    free(rest);
    return rc;
}
