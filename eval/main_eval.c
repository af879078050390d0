/* main_eval.c: the hrn-eval executable: `hrn-eval facescape|realy|multiview|now [options]`.
 * Reads the benchmark's files, evaluates every sample with the hrn_eval library, reports bad
 * samples one by one without stopping (unless --stop-on-error), and writes a per-sample CSV, a JSON
 * summary and the official tool's output files/table. Exit codes: 0 ok, 1 failure, 2 bad usage. */
#include "eval_cli_impl.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* A predefined array of FaceScape's benchmark/code/predef: shape (N, inner...) with N >= need
 * (the official code only indexes it, so a subset of the 400 wild items is fine). */
static enum hrn_status npy_expect(const char *dir, const char *file, int64_t need, int inner_nd,
                                  double **out) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int nd;
    int64_t sh[4];
    enum hrn_status st = hrn_eval_npy_read(path, out, &nd, sh);
    if (st != HRN_OK) return st;
    int ok = nd == 1 + inner_nd && sh[0] >= need;
    for (int k = 1; ok && k <= inner_nd; k++) ok = sh[k] == 3;
    if (!ok) {
        free(*out);
        *out = NULL;
        return hrn_error_set(HRN_ERR_FORMAT, "%s: expected shape (N%s) with N >= %lld", path,
                             inner_nd == 0 ? "," : inner_nd == 1 ? ", 3" : ", 3, 3",
                             (long long)need);
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

int hrn__run_facescape(int argc, char **argv, struct hrn__cli *c) {
    const char *set = NULL, *data = NULL, *predef = NULL, *pred = NULL, *loader = "deep3df";
    const char *crop_json = NULL;
    /* back-face culling on by default: pyrender's default material is single-sided and FaceScape
     * passes no SKIP_CULL_FACES flag, so GL culls back faces (see hrn_fs_item.cull_back) */
    int exact = 0, cull = 1;
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'},     {"data", required_argument, 0, 'd'},
        {"predef", required_argument, 0, 'P'},  {"pred", required_argument, 0, 'p'},
        {"loader", required_argument, 0, 'l'},  {"crop-json", required_argument, 0, 'j'},
        {"quantize24", no_argument, 0, 'z'},    {"no-cull", no_argument, 0, 'n'},
        {"exact", no_argument, 0, 'x'},
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
        case 'z':
            fprintf(stderr, "hrn-eval facescape: --quantize24 is gone: the default (official) "
                            "mode reproduces pyrender's 24-bit depth buffer; --exact turns it off\n");
            return 2;
        case 'x': exact = 1; break;
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
    /* the official align_deep3df reads <pred>/Deep3D_cons_dict.json */
    char crop_default[PATH_CAP];
    if (deep3df && !crop_json) {
        snprintf(crop_default, sizeof crop_default, "%s/Deep3D_cons_dict.json", pred);
        if (!hrn__file_exists(crop_default)) {
            fprintf(stderr, "hrn-eval facescape: --loader deep3df (the default) needs HRN's crop "
                            "parameters: --crop-json FILE, or %s\n", crop_default);
            return 2;
        }
        crop_json = crop_default;
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
    struct hrn__skips sk = {0};
    for (int i = 0; i < 660; i++) cd[i] = mne[i] = cr[i] = (double)NAN;
    if (!lab) {
        HRN_TRY(npy_expect(predef, "wild_pupil_scales.npy", n_items, 0, &ps));
        HRN_TRY(npy_expect(predef, "wild_head_centers.npy", n_items, 1, &hc));
        HRN_TRY(npy_expect(predef, "wild_rotations.npy", n_items, 2, &rot));
    } else { /* indexed by focal index and view */
        HRN_TRY(npy_expect(predef, "lab_head_centers.npy", n_items > 22 ? 3 : n_items > 11 ? 2 : 1,
                           1, &hc));
        HRN_TRY(npy_expect(predef, "lab_rotations.npy", n_items > 11 ? 11 : n_items, 2, &rot));
    }
    if (crop_json) HRN_TRY(hrn__slurp_text(crop_json, &crop));
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
            if (hrn__file_exists(pp)) break;
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
        if ((ist = hrn__read_checked(gtp, &g, 0)) != HRN_OK) goto item_done;
        if ((ist = hrn__read_checked(pp, &p, 1)) != HRN_OK) goto item_done;
        struct hrn_fs_item it = {.lab = lab, .exact = exact, .cull_back = cull};
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
    HRN_TRY(hrn__mkdir_p(dir));
    for (int i = 0; i < n_items; i++) {
        /* np.savetxt's default "%.18e"; NaN prints as "nan" */
        hrn_eval_sbuf_printf(&f1, "%.18e\n", cd[i]);
        hrn_eval_sbuf_printf(&f2, "%.18e\n", cr[i]);
        hrn_eval_sbuf_printf(&f3, "%.18e\n", mne[i]);
    }
    snprintf(path, sizeof path, "%s/CD_full.txt", dir);
    HRN_TRY(hrn__write_sbuf(path, &f1));
    snprintf(path, sizeof path, "%s/CR_full.txt", dir);
    HRN_TRY(hrn__write_sbuf(path, &f2));
    snprintf(path, sizeof path, "%s/MNE_full.txt", dir);
    HRN_TRY(hrn__write_sbuf(path, &f3));
    snprintf(path, sizeof path, "%s/facescape_%s_%s.csv", c->out, set, c->method);
    HRN_TRY(hrn__write_sbuf(path, &csv));
    /* table: groups of A.9 (nanmean; done = non-NaN items) */
    int idxs[660], ni;
    const char *labels[5];
    int lo[5], hi[5], ng;
    hrn_eval_sbuf_printf(&table, "FaceScape %s, method %s: %d items, %d skipped\n",
                    lab ? "in-the-lab" : "in-the-wild", c->method, n_items, sk.n);
    hrn_eval_sbuf_printf(&json, "{\"protocol\": \"facescape\", \"set\": \"%s\", \"method\": ", set);
    hrn__json_str(&json, c->method);
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
            hrn__json_num(&json, mcd);
            hrn_eval_sbuf_printf(&json, ", \"mne_rad\": ");
            hrn__json_num(&json, mmne);
            hrn_eval_sbuf_printf(&json, ", \"cr_percent\": ");
            hrn__json_num(&json, 100 * mcr);
            hrn_eval_sbuf_printf(&json, ", \"done_rate\": ");
            hrn__json_num(&json, ni ? (double)done / ni : (double)NAN);
            hrn_eval_sbuf_printf(&json, "}");
        }
    }
    hrn_eval_sbuf_printf(&json, "}, \"skipped_samples\": [%s]}\n", sk.json.s ? sk.json.s : "");
    snprintf(path, sizeof path, "%s/facescape_%s_%s.json", c->out, set, c->method);
    HRN_TRY(hrn__write_sbuf(path, &json));
    if (table.s) fputs(table.s, stdout);
    if (sk.n == n_items) /* nothing measured: not a result anyone should take for one */
        st = hrn_error_set(HRN_ERR_INVALID, "none of the %d items could be evaluated (see the "
                           "messages above and %s)", n_items, path);
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

/* --- main ------------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
        "usage: hrn-eval <protocol> [common options] [protocol options]\n"
        "protocols: facescape, realy, multiview, now (spec/eval_protocols.md A-D)\n"
        "common options (before or after the protocol options):\n"
        "  --out DIR          output directory (default .)\n"
        "  --method NAME      method label for file names (default hrn; letters, digits . _ -)\n"
        "  --stop-on-error    stop at the first bad sample (default: report it and go on;\n"
        "                     a run where no sample could be evaluated exits 1)\n");
    fprintf(f,
        "  --limit N          evaluate the first N samples only (N >= 1)\n"
        "  -q, --quiet        no progress or warnings\n"
        "  -h, --help         this help\n"
        "facescape: --set wild|lab --data DIR --predef DIR --pred DIR\n"
        "           [--loader deep3df|ortho] [--crop-json FILE] [--exact] [--no-cull]\n"
        "   --data DIR holds wild_gt_mesh/%%03d.obj, lab_gt_mesh/%%02d.obj, lab_cam/<name>.json;\n"
        "   --predef DIR is benchmark/code/predef (*.npy; a subset of the wild items is enough\n"
        "   with --limit); predictions <pred>/<name>{_hrn_mid_mesh.obj,.obj,.ply}.\n"
        "   --loader deep3df (default): HRN's / Deep3D's camera-space meshes (align_deep3df),\n"
        "   with the crop parameters of --crop-json FILE, {\"<name>\": [w0, h0, s, t0, t1]}\n"
        "   (HRN's trans_params; default <pred>/Deep3D_cons_dict.json as the official loader).\n"
        "   --loader ortho: meshes already in normalised orthographic image coordinates (x right,\n"
        "   y up, z towards the camera, the image being [-1,1]^2; PRNet-style pixels /128 - 1).\n"
        "   Default: the official code's arithmetic (pyrender's 24-bit depth buffer and float32\n"
        "   depth maps; published numbers come from it). --exact: double-precision depth\n"
        "   alignment instead (differs from the official by up to a few %% on the lab set).\n"
        "   --no-cull: rasterise back faces too (default: culled, as pyrender's single-sided\n"
        "   default material in FaceScape's renderer.py)\n"
        "realy: --keypoints DIR --scan-region DIR --scale metrical_scale.txt --template T.obj\n"
        "       --template-kp T.txt --pred DIR [--template-mask FILE] [--save-meshes] [--exact]\n"
        "   main.py's names work too: --REALY_HIFI3D_keypoints, --REALY_scan_region,\n"
        "   --prediction, --scale_path, --save (= --out), --template_topology T (= --template\n"
        "   DATA/T.obj --template-kp DATA/T.txt, DATA from --realy-data, default ./data).\n"
        "   Default: the official arithmetic (vertices read as float32, gICP's float32 scaling);\n"
        "   --exact: double precision.\n"
        "   writes <out>/REALY_error.txt, realy_<method>.{csv,json}; --template-mask (alias\n"
        "   --template_mask): one 0/1 per template vertex (comma or space separated); a face is\n"
        "   kept when its 3 vertices are 1, only for the bidirectional step (B.4), not rICP;\n"
        "   --save-meshes: <out>/region_align_save/<name>/{at_global,at_<region>,deform_<region>,\n"
        "   error_<region>}.obj as REALY's main.py, plus error_<region>.txt (per-vertex mm)\n"
        "multiview|now: --list FILE (lines: gt_scan gt_lmk7 pred_mesh pred_lmk7)\n"
        "       [--crop-factor F (multiview 1.2, now 1.4; 0 = no crop)] [--crop-radius MM]\n"
        "       [--nose-tip-index I] [--refine none|rigid|similarity (multiview none, now\n"
        "       similarity)] [--pool vertex|scan] [--max-iter N (100)] [--tol T (1e-10)]\n"
        "       [--clean-mesh] [--metrical [--unit mm|cm|m (m)]]\n"
        "now, NoW's own layout (instead of --list): --pred DIR and --dataset DIR\n"
        "       [--image-set val|test] [--imgs-list FILE] [--gt-mesh-folder DIR]\n"
        "       [--gt-lmk-folder DIR] [--challenge multiview_neutral|multiview_expressions|\n"
        "       multiview_occlusions|selfie]\n"
        "   defaults as now_evaluation: list <dataset>/imagepathsvalidation.txt (val) or\n"
        "   imagepathstest.txt (test), lines <subject>/<challenge>/<image>.jpg; GT scan: the\n"
        "   first <gt-mesh-folder (<dataset>/scans)>/<subject>/*.obj; GT landmarks: the first\n"
        "   <gt-lmk-folder (<dataset>/scans_lmks_onlypp)>/<subject>/*.pp (7 points); prediction\n"
        "   <pred>/<subject>/<challenge>/<image stem>.obj (else .ply) and .npy (else .txt) with\n"
        "   the 7 landmarks. Missing predictions are skipped and counted.\n"
        "   --clean-mesh: drop faces whose unit-edge cross product is exactly 0 (clean_mesh);\n"
        "   --metrical: scale fixed to the unit factor of --unit, refine rotation+translation;\n"
        "   the method name gets _metrical as upstream's identifier.\n"
        "   Refinement: Levenberg-Marquardt on the point-to-surface distances (see hrn_eval.h).\n"
        "   Outputs: now_<method>.{csv,json} (per image; per challenge and pooled median/mean/\n"
        "   std), <method>.meanmedian (pooled median, mean), <method>_<challenge>.meanmedian,\n"
        "   <method>_distances.npy (float64 pooled distances); with --challenge C the pooled\n"
        "   files are <method>_C.meanmedian and <method>_distances_C.npy.\n");
}

int main(int argc, char **argv) {
    struct hrn__cli c = {.out = ".", .method = "hrn"};
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
        else if (!strcmp(a, "--limit")) {
            if (!hrn__parse_int("--limit", argv[++i], 1, INT32_MAX, &c.limit)) {
                free(rest);
                return 2;
            }
        }
        else if (!strcmp(a, "--stop-on-error")) c.stop_on_error = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) hrn_log_set_level(HRN_LOG_NONE);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(rest);
            return 0;
        } else rest[nr++] = argv[i];
    }
    rest[nr] = NULL;
    if (!hrn__method_ok(c.method)) {
        fprintf(stderr, "hrn-eval: --method '%s': use letters, digits, '.', '_' and '-' only, not "
                        "starting with '.' (it names the output files)\n", c.method);
        free(rest);
        return 2;
    }
    int rc;
    if (!strcmp(proto, "facescape")) rc = hrn__run_facescape(nr, rest, &c);
    else if (!strcmp(proto, "realy")) rc = hrn__run_realy(nr, rest, &c);
    else if (!strcmp(proto, "multiview")) rc = hrn__run_scan2mesh(nr, rest, &c, 0);
    else if (!strcmp(proto, "now")) rc = hrn__run_scan2mesh(nr, rest, &c, 1);
    else {
        fprintf(stderr, "hrn-eval: unknown protocol '%s'\n", proto);
        rc = 2;
    }
    if (rc == 2) usage(stderr);
    free(rest);
    return rc;
}

