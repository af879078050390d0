/* hrn-fit: fit HRN's hierarchical face to one or more photos of one person, or run the demo.
 *
 *   hrn-fit --model M.h5 --image a.jpg [--lmk a.lm68.txt] [--mask a.png] [--image b.jpg ...]
 *           [--checkpoint hrn_nets.h5] [--config configs/fit.ini] [--set section.key=value ...]
 *           --out DIR
 *   hrn-fit --demo [--preset small|bfm] [--out DIR]
 * Exit codes: 0 success, 1 failure (bad input, numeric stop), 2 bad command line.
 */
#include "hrn_train.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_VIEWS = 64, MAX_SETS = 128 };

static void usage(FILE *out) {
    fprintf(out,
            "usage: hrn-fit [options] --model MODEL.h5 --image IMG [--lmk LMK] [--mask PNG]\n"
            "               [--image IMG2 ...] --out DIR\n"
            "       hrn-fit --demo [--preset small|bfm] [--out DIR]\n"
            "\n"
            "Fits HRN's hierarchical face (coefficients, pose, lighting, deformation map,\n"
            "displacement map, texture) to photos of ONE person by optimisation. Several\n"
            "--image give a multi-view fit: shared identity and deformation map, per-view\n"
            "expression, pose, lighting and displacement, plus a fused mesh.\n"
            "\n"
            "inputs:\n"
            "  --model FILE     face model (HDF5, hrn-model's layout; SFM/ICT/BFM imports)\n"
            "  --image FILE     a photo (PNG/JPEG); repeat for more views\n"
            "  --lmk FILE       its 68 or 5 landmarks (.txt `x y` lines, 0-based, or .pts);\n"
            "                   default: the image's name with .lm68.txt, .pts or .lm5.txt\n"
            "  --mask FILE      its face mask (PNG of the image's size, white = face);\n"
            "                   default: the face region of the 68 landmarks\n"
            "  --checkpoint F   start from HRN's networks (scripts/convert_pth.py output):\n"
            "                   net_recon's coefficients, the de-retouched albedo, mid_net's\n"
            "                   deformation and high_net's displacement maps; with\n"
            "                   --config configs/hrn.ini this is HRN's own inference\n"
            "  --config FILE    configs/fit.ini or configs/fit_multiview.ini [built-in: fit.ini's\n"
            "                   values, with fit_multiview.ini's weights for several images]\n"
            "  --config-multi F the demo's three-view config [fit_multiview.ini's values]\n"
            "  --set S.K=V      override a config key (repeatable), e.g. --set stages.mid=0\n"
            "  --out DIR        output folder [hrn-fit-out]\n"
            "  --demo           fit the embedded synthetic subject (1 and 3 views) with known\n"
            "                   ground truth and print the errors\n"
            "  --preset P       demo model: small (1257 vertices) or bfm (35709) [small]\n"
            "\n"
            "outputs in DIR, per view <name>: <name>_mid.obj/.mtl/_tex.png (posed mid mesh),\n"
            "  <name>_high.obj (dense detail mesh with UVs), <name>_overlay.png (input | render\n"
            "  | shaded geometry); fused_mid.obj and fused_high.obj for several views; fit.h5\n"
            "  (all coefficients and maps); losses.tsv (every loss term per iteration);\n"
            "  config.ini (the resolved configuration).\n"
            "\n"
            "  -v, --verbose    debug log      -q, --quiet    errors only\n"
            "  --help-config    every config key with its default\n"
            "  -h, --help       this help      --version      versions of hrn and the libraries\n");
}

/* <base>.lm68.txt, <base>.pts, <base>.lm5.txt next to the image, the first that exists */
static int default_lmk(const char *image, char *out, size_t cap) {
    static const char *const ext[] = {".lm68.txt", ".pts", ".lm5.txt"};
    char base[1024];
    snprintf(base, sizeof base, "%s", image);
    char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    for (int i = 0; i < 3; i++) {
        struct stat sb;
        snprintf(out, cap, "%s%s", base, ext[i]);
        if (stat(out, &sb) == 0) return 1;
    }
    return 0;
}

/* Landmarks in another frame than the photo (a crop's, 1-based, another photo's) give a fit of
 * nothing; the alignment does not notice. Warn when points lie outside the photo, refuse when
 * most do or one lies farther out than the photo is large. */
static enum hrn_status check_landmarks(const char *image, const char *lmk) {
    float xy[68 * 2];
    int n = 0, w, h;
    enum hrn_status st = hrn_image_size(image, &w, &h);
    if (st == HRN_OK) st = hrn_lmk_read(lmk, 0, xy, 68, &n);
    if (st != HRN_OK) return st;
    int out = 0;
    double far = 0;
    for (int i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        double d = fmax(fmax(-0.5 - x, x - (w - 0.5)), fmax(-0.5 - y, y - (h - 0.5)));
        if (d > 0) out++;
        far = fmax(far, d);
    }
    if (!out) return HRN_OK;
    if (2 * out > n || far > (double)(w > h ? w : h))
        return hrn_error_set(HRN_ERR_INVALID, "%s: %d of %d landmarks lie outside the %dx%d photo %s, "
                             "up to %.0f px away: they belong to another image or frame (a crop? "
                             "1-based?); refusing to fit", lmk, out, n, w, h, image, far);
    hrn_log(HRN_LOG_WARN, "%s: %d of %d landmarks lie outside the %dx%d photo %s (up to %.0f px): "
            "check they belong to it", lmk, out, n, w, h, image, far);
    return HRN_OK;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    const char *model = NULL, *config = NULL, *config_multi = NULL, *out = "hrn-fit-out";
    const char *checkpoint = NULL;
    const char *images[MAX_VIEWS] = {0}, *lmks[MAX_VIEWS] = {0}, *masks[MAX_VIEWS] = {0};
    const char *sets[MAX_SETS];
    int n_img = 0, n_set = 0, demo = 0, help_config = 0, preset = HRN_SYNTH_SMALL;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'M'}, {"image", required_argument, 0, 'i'},
        {"lmk", required_argument, 0, 'l'},   {"mask", required_argument, 0, 'm'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"config-multi", required_argument, 0, 'C'}, {"checkpoint", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'o'},   {"demo", no_argument, 0, 'd'},
        {"preset", required_argument, 0, 'p'}, {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
        {"help-config", no_argument, 0, 'H'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "vqho:", opts, NULL)) != -1) {
        switch (c) {
        case 'M': model = optarg; break;
        case 'i':
            if (n_img == MAX_VIEWS) {
                fprintf(stderr, "hrn-fit: at most %d images\n", MAX_VIEWS);
                return 2;
            }
            images[n_img++] = optarg;
            break;
        case 'l':
        case 'm':
            if (n_img == 0) {
                fprintf(stderr, "hrn-fit: --%s must follow the --image it belongs to\n",
                        c == 'l' ? "lmk" : "mask");
                return 2;
            }
            if (c == 'l') lmks[n_img - 1] = optarg;
            else masks[n_img - 1] = optarg;
            break;
        case 'c': config = optarg; break;
        case 'k': checkpoint = optarg; break;
        case 'C': config_multi = optarg; break;
        case 's':
            if (n_set == MAX_SETS) {
                fprintf(stderr, "hrn-fit: at most %d --set\n", MAX_SETS);
                return 2;
            }
            sets[n_set++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'd': demo = 1; break;
        case 'p':
            if (!strcmp(optarg, "small")) preset = HRN_SYNTH_SMALL;
            else if (!strcmp(optarg, "bfm")) preset = HRN_SYNTH_BFM;
            else {
                fprintf(stderr, "hrn-fit: --preset '%s': expected small or bfm\n", optarg);
                return 2;
            }
            break;
        case 'v': hrn_log_set_level(HRN_LOG_DEBUG); break;
        case 'q': hrn_log_set_level(HRN_LOG_ERROR); break;
        case 'h': usage(stdout); return 0;
        case 'H': help_config = 1; break;
        case 'V': hrn_print_versions(stdout, "hrn-fit"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (help_config) {
        hrn_config_help(&hrn_fit_schema, stdout);
        return 0;
    }
    if (optind != argc) {
        fprintf(stderr, "hrn-fit: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!demo && (!model || n_img == 0)) {
        fprintf(stderr, "hrn-fit: --model and at least one --image are required (or --demo); "
                "see --help\n");
        return 2;
    }

    /* without --config: the built-in defaults (configs/fit.ini), with HRN's multi-view weights
     * (configs/fit_multiview.ini) for several images and the demo's three views */
    struct hrn_fit_config cfg, cfg_multi;
    enum hrn_status st = config ? hrn_config_load(&hrn_fit_schema, config, &cfg)
                                : hrn_config_defaults(&hrn_fit_schema, &cfg);
    if (st == HRN_OK && !config && n_img > 1) hrn_fit_config_multiview(&cfg);
    if (st == HRN_OK)
        st = config_multi ? hrn_config_load(&hrn_fit_schema, config_multi, &cfg_multi)
                          : hrn_config_defaults(&hrn_fit_schema, &cfg_multi);
    if (st == HRN_OK && !config_multi) hrn_fit_config_multiview(&cfg_multi);
    for (int i = 0; i < n_set && st == HRN_OK; i++) {
        st = hrn_config_set(&hrn_fit_schema, &cfg, sets[i]);
        if (st == HRN_OK) st = hrn_config_set(&hrn_fit_schema, &cfg_multi, sets[i]);
    }
    if (st != HRN_OK) {
        fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
        return 2;
    }

    struct hrn_face_model fm = {0};
    struct hrn_fit_view *views = NULL;
    struct hrn_fit fit = {0};
    struct hrn_fit_nets nets = {0};
    char path[1200], lmk_buf[MAX_VIEWS][1100];
    if (demo) {
        st = hrn_fit_demo(&cfg, &cfg_multi, preset, out, stdout);
        goto done;
    }
    views = calloc((size_t)n_img, sizeof *views);
    if (!views) {
        st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
        goto done;
    }
    HRN_TRY(hrn_fit_load_model(model, &fm));
    if (checkpoint) HRN_TRY(hrn_fit_nets_load(checkpoint, &nets));
    for (int k = 0; k < n_img; k++) {
        if (!lmks[k]) {
            if (!default_lmk(images[k], lmk_buf[k], sizeof lmk_buf[k])) {
                st = hrn_error_set(HRN_ERR_IO, "%s: no --lmk given and no landmark file next to "
                                   "it (.lm68.txt, .pts or .lm5.txt)", images[k]);
                goto done;
            }
            lmks[k] = lmk_buf[k];
        }
        HRN_TRY(check_landmarks(images[k], lmks[k]));
        HRN_TRY(hrn_fit_view_from_photo(&fm, &cfg, images[k], lmks[k], masks[k], &views[k]));
        for (int j = 0; j < k; j++)
            if (!strcmp(views[j].name, views[k].name)) {
                size_t n = strlen(views[k].name);
                char suffix[16];
                snprintf(suffix, sizeof suffix, "_%d", k % 100);
                memcpy(views[k].name + (n > 56 ? 56 : n), suffix, strlen(suffix) + 1);
                break;
            }
    }
    HRN_TRY(hrn_fit_mkdirs(out));
    snprintf(path, sizeof path, "%s/config.ini", out);
    HRN_TRY(hrn_config_save(&hrn_fit_schema, &cfg, path));
    HRN_TRY(hrn_fit_init(&fit, &fm, &cfg, views, n_img));
    if (checkpoint) {
        HRN_TRY(hrn_fit_start_from_nets(&fit, &nets));
        hrn_fit_nets_free(&nets); /* the networks are not needed by the fit itself */
    }
    snprintf(path, sizeof path, "%s/losses.tsv", out);
    st = hrn_fit_run(&fit, path);
    if (st == HRN_ERR_NUMERIC) {
        /* keep what the last finite state gives, then report the stop */
        fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hrn_error_msg());
        if (hrn_fit_write_outputs(&fit, out) == HRN_OK)
            fprintf(stderr, "hrn-fit: wrote the last finite state to %s\n", out);
        else
            fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
        hrn_error_set(HRN_ERR_NUMERIC, "%s", msg);
        goto done_quiet;
    }
    HRN_TRY(st);
    HRN_TRY(hrn_fit_write_outputs(&fit, out));
    for (int k = 0; k < n_img; k++) {
        int n = 0;
        double rms = hrn_fit_landmark_rms(&fit, k, &n);
        printf("%s: landmark RMS %.2f px in the 224 crop (%.2f px in the photo) over %d points\n",
               views[k].name, rms, views[k].crop_scale > 0 ? rms / (double)views[k].crop_scale : rms, n);
    }
    float mc = hrn_fit_max_abs_coeff(&fit);
    printf("max |coeff| %.2f; outputs in %s\n", (double)mc, out);
    if (mc >= 3.0f)
        hrn_log(HRN_LOG_WARN, "a coefficient is %.2f standard deviations from the mean: the face "
                "is implausible for this model (raise weights.w_reg or check the landmarks)",
                (double)mc);
fail:
done:
    if (st != HRN_OK) fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
done_quiet:
    hrn_fit_free(&fit);
    hrn_fit_nets_free(&nets);
    if (views)
        for (int k = 0; k < n_img; k++) hrn_fit_view_free(&views[k]);
    free(views);
    hrn_face_model_free(&fm);
    hrn_layers_release();
    return hrn_exit_code(st);
}
