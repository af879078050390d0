/* hrn-fit: fit HRN's hierarchical face to one or more photos of one person, or run the demo.
 *
 *   hrn-fit --model M.h5 --image a.jpg [--lmk a.lm68.txt] [--mask a.png] [--image b.jpg ...]
 *           [--checkpoint hrn_nets.h5] [--config configs/fit.ini] [--set section.key=value ...]
 *           --out DIR
 *   hrn-fit --model M.h5 --list subjects.txt [--jobs N] --out DIR      (many subjects)
 *   mpirun -np N hrn-fit --model M.h5 --list subjects.txt --out DIR   (subjects across ranks)
 *   hrn-fit --demo [--preset small|bfm] [--out DIR]
 * Exit codes: 0 success, 1 failure (bad input, numeric stop, a failed subject), 2 bad command line.
 */
#include "hrn_train.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_VIEWS = 64, MAX_SETS = 128 };

static void usage(FILE *out) {
    fprintf(out,
            "usage: hrn-fit [options] --model MODEL.h5 --image IMG [--lmk LMK] [--mask PNG]\n"
            "               [--image IMG2 ...] --out DIR\n"
            "       hrn-fit --model MODEL.h5 --list SUBJECTS.txt [--jobs N] --out DIR\n"
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
            "                   default: the image's name with .lm68.txt, .pts or .lm5.txt,\n"
            "                   else detected (face-api's detector and 68-point net), written\n"
            "                   to DIR/<image>.lm68.txt\n"
            "  --face K         a photo with several faces: fit face K, 0 = the largest [0]\n"
            "  --detector F     the detector's weights [$HRN_WEIGHTS_DIR/face-api-1.7.15.h5]\n"
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
            "  --list FILE      many subjects, one per line: NAME IMAGE [lmk=F] [mask=F]\n"
            "                   [IMAGE ...] (paths relative to the list); each into DIR/NAME/,\n"
            "                   with DIR/summary.csv; finished subjects are skipped on a rerun;\n"
            "                   a failing subject is reported and the others go on (exit 1)\n"
            "  --jobs N         with --list: N worker processes, one thread each [1]; under\n"
            "                   mpirun the ranks share the subjects instead\n"
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

struct args {
    const char *model, *config, *config_multi, *out, *checkpoint, *list, *detector;
    const char *images[MAX_VIEWS], *lmks[MAX_VIEWS], *masks[MAX_VIEWS];
    const char *sets[MAX_SETS];
    int n_img, n_set, demo, help_config, preset, jobs, face;
};

/* a whole number in [lo, hi] or -1 */
static long parse_count(const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (!*s || *end || errno || v < lo || v > hi) ? -1 : v;
}

/* one option into a; 0 ok, 1 done (help printed), 2 usage error (message printed) */
static int take_option(int c, struct args *a) {
    switch (c) {
    case 'M': a->model = optarg; return 0;
    case 'i':
        if (a->n_img == MAX_VIEWS) return fprintf(stderr, "hrn-fit: at most %d images\n", MAX_VIEWS), 2;
        a->images[a->n_img++] = optarg;
        return 0;
    case 'l':
    case 'm':
        if (a->n_img == 0)
            return fprintf(stderr, "hrn-fit: --%s must follow the --image it belongs to\n",
                           c == 'l' ? "lmk" : "mask"), 2;
        if (c == 'l') a->lmks[a->n_img - 1] = optarg;
        else a->masks[a->n_img - 1] = optarg;
        return 0;
    case 'c': a->config = optarg; return 0;
    case 'k': a->checkpoint = optarg; return 0;
    case 'C': a->config_multi = optarg; return 0;
    case 's':
        if (a->n_set == MAX_SETS) return fprintf(stderr, "hrn-fit: at most %d --set\n", MAX_SETS), 2;
        a->sets[a->n_set++] = optarg;
        return 0;
    case 'o': a->out = optarg; return 0;
    case 'd': a->demo = 1; return 0;
    case 'L': a->list = optarg; return 0;
    case 'D': a->detector = optarg; return 0;
    case 'F':
        if ((a->face = (int)parse_count(optarg, 0, 31)) < 0)
            return fprintf(stderr, "hrn-fit: --face '%s': expected 0..31\n", optarg), 2;
        return 0;
    case 'j':
        if ((a->jobs = (int)parse_count(optarg, 1, HRN_FIT_MAX_JOBS)) < 0)
            return fprintf(stderr, "hrn-fit: --jobs '%s': expected 1..%d\n", optarg,
                           HRN_FIT_MAX_JOBS), 2;
        return 0;
    case 'p':
        if (!strcmp(optarg, "small")) a->preset = HRN_SYNTH_SMALL;
        else if (!strcmp(optarg, "bfm")) a->preset = HRN_SYNTH_BFM;
        else return fprintf(stderr, "hrn-fit: --preset '%s': expected small or bfm\n", optarg), 2;
        return 0;
    case 'v': hrn_log_set_level(HRN_LOG_DEBUG); return 0;
    case 'q': hrn_log_set_level(HRN_LOG_ERROR); return 0;
    case 'h': usage(stdout); return 1;
    case 'H': hrn_config_help(&hrn_fit_schema, stdout); return 1;
    case 'V': hrn_print_versions(stdout, "hrn-fit"); return 1;
    default: usage(stderr); return 2;
    }
}

static int parse_args(int argc, char **argv, struct args *a) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'M'}, {"image", required_argument, 0, 'i'},
        {"lmk", required_argument, 0, 'l'},   {"mask", required_argument, 0, 'm'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"config-multi", required_argument, 0, 'C'}, {"checkpoint", required_argument, 0, 'k'},
        {"out", required_argument, 0, 'o'},   {"demo", no_argument, 0, 'd'},
        {"preset", required_argument, 0, 'p'}, {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
        {"help-config", no_argument, 0, 'H'}, {"version", no_argument, 0, 'V'},
        {"list", required_argument, 0, 'L'},  {"jobs", required_argument, 0, 'j'},
        {"face", required_argument, 0, 'F'},  {"detector", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->out = "hrn-fit-out";
    a->preset = HRN_SYNTH_SMALL;
    a->jobs = 1;
    int c, r;
    while ((c = getopt_long(argc, argv, "vqho:", opts, NULL)) != -1)
        if ((r = take_option(c, a)) != 0) return r;
    if (optind != argc) return fprintf(stderr, "hrn-fit: unexpected argument '%s'\n", argv[optind]), 2;
    if (a->list && a->n_img)
        return fprintf(stderr, "hrn-fit: --list and --image do not go together\n"), 2;
    if (!a->demo && (!a->model || (a->n_img == 0 && !a->list)))
        return fprintf(stderr, "hrn-fit: --model and at least one --image (or --list) are required "
                       "(or --demo); see --help\n"), 2;
    return 0;
}

/* without --config: the built-in defaults (configs/fit.ini), with HRN's multi-view weights
 * (configs/fit_multiview.ini) for several images and the demo's three views; a list's subjects
 * use cfg or cfg_multi by their number of photos */
static enum hrn_status load_configs(const struct args *a, struct hrn_fit_config *cfg,
                                    struct hrn_fit_config *cfg_multi) {
    enum hrn_status st = a->config ? hrn_config_load(&hrn_fit_schema, a->config, cfg)
                                   : hrn_config_defaults(&hrn_fit_schema, cfg);
    if (st == HRN_OK && !a->config && a->n_img > 1) hrn_fit_config_multiview(cfg);
    if (st == HRN_OK)
        st = a->config_multi ? hrn_config_load(&hrn_fit_schema, a->config_multi, cfg_multi)
             : a->config && a->list ? hrn_config_load(&hrn_fit_schema, a->config, cfg_multi)
                                    : hrn_config_defaults(&hrn_fit_schema, cfg_multi);
    if (st == HRN_OK && !a->config_multi && !(a->config && a->list)) hrn_fit_config_multiview(cfg_multi);
    for (int i = 0; i < a->n_set && st == HRN_OK; i++) {
        st = hrn_config_set(&hrn_fit_schema, cfg, a->sets[i]);
        if (st == HRN_OK) st = hrn_config_set(&hrn_fit_schema, cfg_multi, a->sets[i]);
    }
    return st;
}

/* --image ...: one subject, its results printed */
static enum hrn_status fit_images(const struct args *a, const struct hrn_fit_job *job) {
    struct hrn_fit_subject s = {.n_views = a->n_img};
    for (int k = 0; k < a->n_img; k++) {
        s.image[k] = (char *)a->images[k];
        s.lmk[k] = (char *)a->lmks[k];
        s.mask[k] = (char *)a->masks[k];
    }
    struct hrn_fit_report r;
    enum hrn_status st = hrn_fit_subject_run(job, &s, a->out, &r);
    if (st != HRN_OK) return st;
    for (int k = 0; k < r.n_views && k < HRN_FIT_REPORT_VIEWS; k++)
        printf("%s: landmark RMS %.2f px in the 224 crop (%.2f px in the photo) over %d points\n",
               r.name[k], r.rms_crop[k], r.rms_px[k], r.n_points[k]);
    printf("max |coeff| %.2f; outputs in %s\n", (double)r.max_abs_coeff, a->out);
    if (r.max_abs_coeff >= 3.0f)
        hrn_log(HRN_LOG_WARN, "a coefficient is %.2f standard deviations from the mean: the face "
                "is implausible for this model (raise weights.w_reg or check the landmarks)",
                (double)r.max_abs_coeff);
    return HRN_OK;
}

/* --list: every subject, in worker processes or across MPI ranks */
static enum hrn_status fit_list(const struct args *a, const struct hrn_fit_job *job, char **argv,
                                struct hrn_dist *dist) {
    struct hrn_fit_list l;
    enum hrn_status st = hrn_fit_list_read(a->list, &l);
    if (st != HRN_OK) return st;
    int failed = 0;
    st = hrn_fit_batch_run(job, &l, &(struct hrn_fit_batch_opts){
        .out = a->out, .jobs = a->jobs, .argv = argv, .dist = dist}, &failed);
    if (st == HRN_OK && dist->rank == 0 && !getenv("HRN_FIT_WORKER")) {
        printf("%d of %d subjects fitted; summary in %s/summary.csv\n", l.n - failed, l.n, a->out);
        if (failed) st = hrn_error_set(HRN_ERR_INVALID, "%d subject%s failed (see %s/summary.csv)",
                                       failed, failed > 1 ? "s" : "", a->out);
    }
    hrn_fit_list_free(&l);
    return st;
}

static enum hrn_status run(const struct args *a, const struct hrn_fit_config *cfg,
                           const struct hrn_fit_config *cfg_multi, int *argc, char ***argv) {
    enum hrn_status st = HRN_OK;
    struct hrn_face_model fm = {0};
    struct hrn_fit_nets nets = {0};
    struct hrn_dist dist = {0};
    HRN_TRY(hrn_fit_load_model(a->model, &fm));
    if (a->checkpoint) HRN_TRY(hrn_fit_nets_load(a->checkpoint, &nets));
    struct hrn_fit_job job = {.fm = &fm, .cfg = cfg, .cfg_multi = cfg_multi,
                              .nets = a->checkpoint ? &nets : NULL, .detector = a->detector,
                              .face = a->face};
    if (a->list) {
        HRN_TRY(hrn_dist_init(&dist, argc, argv));
        st = fit_list(a, &job, *argv, &dist);
        if (st != HRN_OK) hrn_dist_abort(&dist, 1);
    } else {
        st = fit_images(a, &job);
    }
fail:
    hrn_dist_finalize(&dist);
    hrn_fit_nets_free(&nets);
    hrn_face_model_free(&fm);
    return st;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    struct args a;
    int pr = parse_args(argc, argv, &a);
    if (pr) return pr == 1 ? 0 : 2;
    struct hrn_fit_config cfg, cfg_multi;
    enum hrn_status st = load_configs(&a, &cfg, &cfg_multi);
    if (st != HRN_OK) {
        fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
        return 2;
    }
    st = a.demo ? hrn_fit_demo(&cfg, &cfg_multi, a.preset, a.out, stdout)
                : run(&a, &cfg, &cfg_multi, &argc, &argv);
    if (st != HRN_OK) fprintf(stderr, "hrn-fit: %s\n", hrn_error_msg());
    hrn_layers_release();
    return hrn_exit_code(st);
}
