/* hrn-data: training data tools.
 *
 *   hrn-data synth (--model M.h5 | --synth small|bfm) [--seed S] [--count N] [--val N]
 *                  [--threads T] [--contact-sheet FILE] [--sheet-rows N] [--set key=value ...]
 *                  --out DIR
 *   hrn-data prep PHOTO_DIR [--val N] [--detector WEIGHTS.h5] --out DIR
 * Exit codes: 0 success, 1 failure, 2 bad command line.
 */
#include "hrn_data.h"
#include "hrn_detect.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generator's distributions as a config section, so --set uses the strict INI machinery
 * (ranges, exact numbers, messages naming the key). Defaults: hrn_synth_data_defaults's. */
#define K_F(m, def, lo, hi, help)                                                                  \
    HRN_CFG_FLOAT(struct hrn_synth_data_config, m, #m, def, lo, hi, help)
static const struct hrn_config_key SYNTH_KEYS[] = {
    K_F(id_std, "0.7", 0, 3, "identity coefficients ~ N(0, id_std^2) (1 = the model's prior)"),
    K_F(exp_std, "0.5", 0, 3, "Gaussian expression coefficients' scale (blendshape models: [0,1])"),
    K_F(tex_std, "0.7", 0, 3, "albedo coefficients' scale"),
    K_F(yaw_deg, "60", 0, 90, "yaw uniform in +-yaw_deg"),
    K_F(pitch_deg, "30", 0, 90, "pitch uniform in +-pitch_deg"),
    K_F(roll_deg, "20", 0, 90, "roll uniform in +-roll_deg"),
    K_F(trans_px, "10", 0, 60, "position jitter in crop pixels"),
    K_F(dist_frac, "0.1", 0, 0.4, "distance jitter (fraction of camera_d)"),
    K_F(deform_mm, "3", 0, 20, "typical peak of the deformation map (mm)"),
    K_F(disp_mm, "0.4", 0, 5, "typical depth of the displacement map's wrinkles (mm)"),
    K_F(detail_strength, "1", 0, 3, "albedo detail amplitude (freckles, blemishes, uneven tone)"),
    K_F(occluder_p, "0.3", 0, 1, "probability of an occluder (hair fringe, glasses, hand)"),
    K_F(noise_max, "0.03", 0, 0.3, "sensor noise std, uniform up to this"),
    K_F(jpeg_p, "0.5", 0, 1, "probability of JPEG compression at quality 40..95"),
    HRN_CFG_BOOL(struct hrn_synth_data_config, background, "background", "true",
                 "textured random background (false: black, as HRN's renders)"),
    HRN_CFG_INT(struct hrn_synth_data_config, levels, "levels", "2", 0, 2,
                "0 coefficients only, 1 + deformation map, 2 + displacement map"),
};
#undef K_F
static const struct hrn_config_section SYNTH_SECTIONS[] = {
    {"synth", SYNTH_KEYS, (int)(sizeof SYNTH_KEYS / sizeof SYNTH_KEYS[0]), 0,
     "the synthetic generator's distributions"},
};
static const struct hrn_config_schema SYNTH_SCHEMA = {"synth", SYNTH_SECTIONS, 1,
                                                      sizeof(struct hrn_synth_data_config)};

static void usage(FILE *out) {
    fprintf(out,
            "usage: hrn-data synth (--model MODEL.h5 | --synth small|bfm) [options] --out DIR\n"
            "\n"
            "Writes a synthetic training set with ground truth at every level of HRN's\n"
            "representation (coefficients, deformation map, displacement map, clean and\n"
            "detailed albedo) in Deep3DFaceRecon's folder layout: DIR/images/<name>.png\n"
            "(224x224 crops), images/landmarks/<name>.txt (68 `x y`, y up), images/mask/,\n"
            "images/gt/<name>.h5 and .obj (canonical mesh), datalist/train.txt and val.txt,\n"
            "dataset.ini. Sample i depends only on (model, seed, i, settings).\n"
            "\n"
            "  --model FILE        face model (HDF5; brought to HRN's frame: recentred, dm)\n"
            "  --synth P           hrn's synthetic model instead: small or bfm (BFM-size)\n"
            "  --seed S            dataset seed [1]\n"
            "  --count N           samples [1000]\n"
            "  --val N             the last N go to datalist/val.txt [count/10]\n"
            "  --threads T         worker threads [2]\n"
            "  --contact-sheet F   also write a PNG of the first samples (image+landmarks |\n"
            "                      mask | deformation | displacement | albedo | albedo detail)\n"
            "  --sheet-rows N      samples on the contact sheet [16]\n"
            "  --set synth.K=V     a generator setting (repeatable); --help-config lists them\n"
            "  --out DIR           output folder (created)\n"
            "  --help-config       the generator's settings with their defaults\n"
            "  -h, --help          this help\n"
            "\n"
            "usage: hrn-data prep PHOTO_DIR [--val N] [--detector WEIGHTS.h5] --out DIR\n"
            "\n"
            "Prepares raw photos for training (hrn-train data.kind = folder) with no landmark\n"
            "files needed: each photo's largest face found by face-api's detector and 68-point\n"
            "net, the photo copied to DIR/images/, its landmarks (images/landmarks/, y up), 5\n"
            "points (images/detections/), a skin mask (images/mask/), datalist/train.txt and\n"
            "val.txt; photos without a face are left out and listed in DIR/prep_report.tsv.\n"
            "\n"
            "  --val N             the last N kept photos (by name) go to val.txt [0]\n"
            "  --detector FILE     the weights [$HRN_WEIGHTS_DIR/face-api-1.7.15.h5]\n");
}


static int parse_i64(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static enum hrn_status load_model(const char *path, const char *preset, struct hrn_face_model *fm) {
    enum hrn_status st;
    if (preset) {
        enum hrn_synth_preset p = strcmp(preset, "bfm") == 0 ? HRN_SYNTH_BFM : HRN_SYNTH_SMALL;
        st = hrn_synth_face(fm, &(struct hrn_synth_params){.preset = p, .seed = 1});
    } else {
        st = hrn_face_model_load(path, fm);
    }
    if (st == HRN_OK) st = hrn_face_model_to_hrn_frame(fm);
    if (st != HRN_OK) return hrn_error_prefix(st, "%s: ", preset ? "synthetic model" : path);
    return HRN_OK;
}

static enum hrn_status contact_sheet(const struct hrn_face_model *fm,
                                     const struct hrn_synth_data_config *c, int rows,
                                     const char *path) {
    enum hrn_status st = HRN_OK;
    struct hrn_sample *s = calloc((size_t)rows, sizeof *s);
    if (!s) return hrn_error_set(HRN_ERR_NOMEM, "contact sheet: no memory");
    for (int i = 0; i < rows; i++)
        HRN_TRY(hrn_synth_sample(fm, c, i, &s[i]));
    HRN_TRY(hrn_synth_contact_sheet(s, rows, path));
fail:
    for (int i = 0; i < rows; i++)
        hrn_sample_free(&s[i]);
    free(s);
    return st;
}

static int cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'M'},
                                         {"synth", required_argument, 0, 'S'},
                                         {"seed", required_argument, 0, 's'},
                                         {"count", required_argument, 0, 'n'},
                                         {"val", required_argument, 0, 'V'},
                                         {"threads", required_argument, 0, 't'},
                                         {"contact-sheet", required_argument, 0, 'C'},
                                         {"sheet-rows", required_argument, 0, 'R'},
                                         {"set", required_argument, 0, 'x'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help-config", no_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *preset = NULL, *sheet = NULL, *out = NULL;
    long long seed = 1, count = 1000, val = -1, threads = 2, rows = 16;
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    int o, li = -1;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        int ok = 1;
        switch (o) {
        case 'M':
            model = optarg;
            break;
        case 'S':
            preset = optarg;
            ok = !strcmp(optarg, "small") || !strcmp(optarg, "bfm");
            break;
        case 's':
            ok = parse_i64(optarg, 0, (long long)1 << 62, &seed);
            break;
        case 'n':
            ok = parse_i64(optarg, 1, (long long)1 << 40, &count);
            break;
        case 'V':
            ok = parse_i64(optarg, 0, (long long)1 << 40, &val);
            break;
        case 't':
            ok = parse_i64(optarg, 1, 64, &threads);
            break;
        case 'R':
            ok = parse_i64(optarg, 1, 512, &rows);
            break;
        case 'C':
            sheet = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'x':
            if (hrn_config_set(&SYNTH_SCHEMA, &c, optarg) != HRN_OK) {
                fprintf(stderr, "hrn-data synth: %s\n", hrn_error_msg());
                return 2;
            }
            break;
        case 'H':
            hrn_config_help(&SYNTH_SCHEMA, stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) { /* getopt_long sets li only for long options, and every value option is one */
            fprintf(stderr, "hrn-data synth: bad value '%s' for --%s\n", optarg,
                    li >= 0 ? opts[li].name : "?");
            return 2;
        }
    }
    if (optind < argc || !out || !!model == !!preset) {
        fprintf(stderr, "hrn-data synth: %s\n",
                optind < argc ? "unexpected argument"
                : !out        ? "--out DIR is required"
                              : "give exactly one of --model FILE and --synth small|bfm");
        usage(stderr);
        return 2;
    }
    if (val < 0) val = count / 10;
    if (val > count) {
        fprintf(stderr, "hrn-data synth: --val %lld is more than --count %lld\n", val, count);
        return 2;
    }
    c.seed = (uint64_t)seed, c.count = count;
    struct hrn_face_model fm = {0};
    enum hrn_status st = load_model(model, preset, &fm);
    double t0 = hrn_time_now(); /* the samples only, not the model's loading */
    if (st == HRN_OK) st = hrn_synth_write_folder(&fm, &c, 0, count, val, out, (int)threads);
    double secs = hrn_time_now() - t0;
    if (st == HRN_OK && sheet)
        st = contact_sheet(&fm, &c, (int)(rows < count ? rows : count), sheet);
    if (st == HRN_OK)
        printf("hrn-data synth: %lld samples of %s (%lld vertices) in %.1f s (%.2f samples/s, %lld "
               "threads) -> %s\n",
               count, fm.name, (long long)fm.n_verts, secs, (double)count / secs, threads, out);
    else
        fprintf(stderr, "hrn-data synth: %s\n", hrn_error_msg());
    hrn_face_model_free(&fm);
    return st == HRN_OK ? 0 : 1;
}

static int cmd_prep(int argc, char **argv) {
    static const struct option opts[] = {{"val", required_argument, 0, 'V'},
                                         {"detector", required_argument, 0, 'D'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *weights = NULL;
    long long val = 0;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'V' && !parse_i64(optarg, 0, 1 << 20, &val)) {
            fprintf(stderr, "hrn-data prep: bad value '%s' for --val\n", optarg);
            return 2;
        }
        if (o == 'D') weights = optarg;
        else if (o == 'o') out = optarg;
        else if (o == 'h') return usage(stdout), 0;
        else if (o != 'V') return usage(stderr), 2;
    }
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "hrn-data prep: %s\n", !out ? "--out DIR is required"
                                                     : "give exactly one folder of photos");
        return 2;
    }
    char wbuf[1024];
    if (!weights) weights = hrn_detect_default_weights(wbuf, sizeof wbuf, HRN_DEFAULT_WEIGHTS_DIR);
    int kept = 0, total = 0;
    enum hrn_status st = hrn_prep_folder(argv[optind], out, weights, (int)val, &kept, &total);
    if (st == HRN_OK)
        printf("hrn-data prep: %d of %d photos have a face -> %s (left out: %s/prep_report.tsv)\n",
               kept, total, out, out);
    else
        fprintf(stderr, "hrn-data prep: %s\n", hrn_error_msg());
    return st == HRN_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "prep")) return cmd_prep(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "synth") != 0) {
        fprintf(stderr, "hrn-data: %s\n",
                argc < 2 ? "a subcommand is required" : "unknown subcommand");
        usage(stderr);
        return 2;
    }
    return cmd_synth(argc - 1, argv + 1);
}
