/* hrn-model: make, inspect and render face models.
 *
 *   hrn-model synth  [--preset small|bfm] [--seed N] [--n-id K] [--n-exp K] [--n-tex K] --out model.h5
 *   hrn-model info   MODEL
 *   hrn-model convert MODEL OUT.h5 [--uvs uvs.npy] [--flip-v]
 *   hrn-model render (--model model.h5 | --synth small|bfm) [--subject-seed S] [--yaw D]
 *                    [--pitch D] [--roll D] --out face.png [--obj face.obj]
 *   hrn-model demo   [--out DIR]
 * Global options before the command: -v/--verbose (debug log), -q/--quiet (errors only).
 */
#include "hrn_model.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const double DEG = 3.14159265358979323846 / 180.0;

static void usage(FILE *out) {
    fprintf(out,
            "usage: hrn-model [-v|--verbose] [-q|--quiet] <command> [options]\n"
            "\n"
            "commands:\n"
            "  synth   write a synthetic face model (HDF5)\n"
            "            --preset small|bfm   size (bfm: 35709 vertices, 70789 triangles) [small]\n"
            "            --seed N             seed of the random bases [1]\n"
            "            --n-id K --n-exp K --n-tex K   basis sizes [80, 64, 80]\n"
            "            --out FILE           output .h5 (required)\n"
            "  info    print a face model's sizes: hrn-model info MODEL\n"
            "  convert write any model hrn reads (BFM_model_front.mat, BFM 2017/2019 .h5, eos .bin)\n"
            "          in hrn's HDF5 format: hrn-model convert MODEL OUT.h5\n"
            "            --uvs FILE.npy       per-vertex UVs (N,2), e.g. HRN's bfm_uvs2.npy (the .mat\n"
            "                                 has none); v up, as in OBJ files\n"
            "            --flip-v             take the UVs' v as downward (v -> 1 - v)\n"
            "  render  render a random subject of a model to PNG (and OBJ)\n"
            "            --model FILE | --synth small|bfm\n"
            "            --subject-seed S     seed of the subject's coefficients [7]\n"
            "            --yaw D --pitch D --roll D   head pose in degrees [0]\n"
            "            --out FILE.png|.jpg (required)  --obj FILE.obj\n"
            "  demo    synthetic BFM-size model, one subject in three views: PNGs, OBJ, model\n"
            "            --out DIR            output folder [hrn-demo]\n"
            "\n"
            "MODEL is any model file: hrn's HDF5, the SFM/ICT files, BFM 2017/2019 .h5,\n"
            "Deep3D's BFM_model_front.mat, or an eos .bin (with expression_blendshapes_<N>.bin\n"
            "and ibug_to_sfm.txt beside it); the kind is read from the file's first bytes.\n"
            "\n"
            "  -h, --help     this help\n"
            "  --version      versions of hrn and the libraries\n");
}

static int parse_long(const char *s, long lo, long hi, long *out, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "hrn-model: %s: '%s' is not an integer in %ld..%ld\n", what, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v)) {
        fprintf(stderr, "hrn-model: %s: '%s' is not a number\n", what, s);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_preset(const char *s, enum hrn_synth_preset *p) {
    if (strcmp(s, "small") == 0) *p = HRN_SYNTH_SMALL;
    else if (strcmp(s, "bfm") == 0) *p = HRN_SYNTH_BFM;
    else {
        fprintf(stderr, "hrn-model: preset '%s': expected small or bfm\n", s);
        return 0;
    }
    return 1;
}

/* A plausible random subject: identity, albedo ~ N(0, 0.7^2), a slight smile, frontal light from
 * the upper left, the head at the origin. */
static void random_subject(const struct hrn_face_model *fm, uint64_t seed, float *coeffs) {
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    struct hrn_rng rng;
    hrn_rng_seed(&rng, seed);
    memset(coeffs, 0, (size_t)l.total * sizeof(float));
    hrn_rng_fill_normal(&rng, coeffs + l.id, (size_t)fm->n_id, 0.0f, 0.7f);
    hrn_rng_fill_normal(&rng, coeffs + l.tex, (size_t)fm->n_tex, 0.0f, 0.7f);
    if (fm->n_exp > 1) coeffs[l.exp + 1] = 0.8f; /* smile on the synthetic model */
    for (int c = 0; c < 3; c++) {
        coeffs[l.gamma + 9 * c + 1] = -0.15f; /* light from above (Y1 = -a1c1*y) */
        coeffs[l.gamma + 9 * c + 2] = 0.25f;  /* and from the front */
        coeffs[l.gamma + 9 * c + 3] = 0.12f;  /* and from the left (Y3 = -a1c1*x) */
    }
}

static enum hrn_status write_outputs(const struct hrn_face_model *fm, const float *coeffs,
                                     const char *png, const char *obj) {
    enum hrn_status st = HRN_OK;
    struct hrn_camera cam = hrn_camera_default();
    struct hrn_image img = {0};
    struct hrn_mesh m = {0};
    HRN_TRY(hrn_render_shaded(fm, coeffs, &cam, NULL, &img));
    HRN_TRY(hrn_image_write(png, &img)); /* PNG or JPEG by the extension, checked by the caller */
    if (obj) {
        /* the posed mesh in world units with per-vertex lit colour and the model's UVs */
        int64_t N = fm->n_verts;
        int has_uv = fm->uvs && !fm->tri_uvs;
        /* per-vertex normals and UVs: the face index arrays stay NULL (hrn_mesh.h) */
        HRN_TRY(hrn_mesh_alloc(&m, N, fm->n_tris, 1, has_uv ? N : 0, N));
        hrn_face_posed(fm, coeffs, m.verts);
        hrn_vertex_normals(m.verts, N, fm->tris, fm->n_tris, m.normals);
        float *alb = malloc((size_t)(3 * N) * sizeof(float));
        if (!alb) {
            st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (fm->mean_albedo)
            hrn_face_albedo(fm, coeffs, alb);
        else
            for (int64_t i = 0; i < 3 * N; i++) alb[i] = 0.8f;
        hrn_sh_shade(m.normals, alb, coeffs + hrn_face_model_layout(fm).gamma, N, m.colors);
        free(alb);
        for (int64_t i = 0; i < 3 * N; i++) m.colors[i] = fminf(1.0f, fmaxf(0.0f, m.colors[i]));
        memcpy(m.faces, fm->tris, (size_t)(3 * fm->n_tris) * sizeof(int32_t));
        if (has_uv) memcpy(m.uvs, fm->uvs, (size_t)(2 * N) * sizeof(float));
        HRN_TRY(hrn_mesh_write_obj(obj, &m, NULL));
    }
fail:
    hrn_image_free(&img);
    hrn_mesh_free(&m);
    return st;
}

static int cmd_synth(int argc, char **argv) {
    struct hrn_synth_params p = {.preset = HRN_SYNTH_SMALL, .seed = 1};
    const char *out = NULL;
    static const struct option opts[] = {{"preset", required_argument, 0, 'p'},
                                         {"seed", required_argument, 0, 's'},
                                         {"n-id", required_argument, 0, 'i'},
                                         {"n-exp", required_argument, 0, 'e'},
                                         {"n-tex", required_argument, 0, 't'},
                                         {"out", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': if (!parse_preset(optarg, &p.preset)) return 2; break;
        case 's': if (!parse_long(optarg, 0, 0x7fffffffL, &v, "--seed")) return 2; p.seed = (uint64_t)v; break;
        case 'i': if (!parse_long(optarg, 1, 1000, &v, "--n-id")) return 2; p.n_id = (int32_t)v; break;
        case 'e': if (!parse_long(optarg, 1, 1000, &v, "--n-exp")) return 2; p.n_exp = (int32_t)v; break;
        case 't': if (!parse_long(optarg, 1, 1000, &v, "--n-tex")) return 2; p.n_tex = (int32_t)v; break;
        case 'o': out = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (!out || optind != argc) {
        fprintf(stderr, "hrn-model synth: --out FILE is required and takes no other arguments\n");
        return 2;
    }
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_synth_face(&fm, &p);
    if (st == HRN_OK) st = hrn_face_model_save(&fm, out);
    if (st == HRN_OK)
        printf("%s: %s, %lld vertices, %lld triangles, %d/%d/%d identity/expression/albedo modes\n",
               out, fm.name, (long long)fm.n_verts, (long long)fm.n_tris, fm.n_id, fm.n_exp, fm.n_tex);
    else
        fprintf(stderr, "hrn-model: %s\n", hrn_error_msg());
    hrn_face_model_free(&fm);
    return hrn_exit_code(st);
}

static int has_ext(const char *s, const char *ext) {
    size_t a = strlen(s), b = strlen(ext);
    return a >= b && strcasecmp(s + a - b, ext) == 0;
}

/* Per-vertex UVs from a .npy (N,2) into fm, replacing any it had. */
static enum hrn_status set_uvs(struct hrn_face_model *fm, const char *npy, int flip_v) {
    struct hrn_npy a;
    enum hrn_status st = hrn_npy_read(npy, &a);
    if (st != HRN_OK) return st;
    if (a.ndim != 2 || a.shape[0] != fm->n_verts || a.shape[1] != 2) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: UVs of shape (%lld,%lld%s), the model needs (%lld, 2): "
                           "one UV per vertex", npy, (long long)a.shape[0], (long long)a.shape[1],
                           a.ndim > 2 ? ",..." : "", (long long)fm->n_verts);
        goto done;
    }
    float *uv = malloc((size_t)(2 * fm->n_verts) * sizeof(float));
    if (!uv) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", npy);
        goto done;
    }
    for (int64_t i = 0; i < 2 * fm->n_verts; i++) {
        if (!isfinite(a.data[i])) {
            free(uv);
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: UV of vertex %lld is not finite", npy, (long long)(i / 2));
            goto done;
        }
        uv[i] = (float)(flip_v && i % 2 ? 1.0 - a.data[i] : a.data[i]);
    }
    free(fm->uvs);
    free(fm->tri_uvs);
    fm->uvs = uv;
    fm->tri_uvs = NULL;
    fm->n_uvs = fm->n_verts;
done:
    hrn_npy_free(&a);
    return st;
}

static int cmd_convert(int argc, char **argv) {
    const char *uvs = NULL;
    int flip_v = 0;
    static const struct option opts[] = {{"uvs", required_argument, 0, 'u'},
                                         {"flip-v", no_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u') uvs = optarg;
        else if (c == 'f') flip_v = 1;
        else { usage(stderr); return 2; }
    }
    if (argc - optind != 2 || !(has_ext(argv[optind + 1], ".h5") || has_ext(argv[optind + 1], ".hdf5"))) {
        fprintf(stderr, "usage: hrn-model convert MODEL OUT.h5 [--uvs FILE.npy] [--flip-v]\n");
        return 2;
    }
    if (flip_v && !uvs) {
        fprintf(stderr, "hrn-model convert: --flip-v applies to --uvs\n");
        return 2;
    }
    const char *in = argv[optind], *out = argv[optind + 1];
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_face_model_load(in, &fm);
    if (st == HRN_OK && uvs) st = set_uvs(&fm, uvs, flip_v);
    if (st == HRN_OK) st = hrn_face_model_save(&fm, out);
    if (st == HRN_OK) {
        int n_lmk = 0;
        for (int i = 0; i < HRN_N_LMK68; i++) n_lmk += fm.lmk68[i] >= 0;
        printf("%s: %s, %lld vertices, %lld triangles, %d/%d/%d identity/expression/albedo modes, "
               "%s, %d of 68 landmarks, %g mm per unit\n", out, fm.name, (long long)fm.n_verts,
               (long long)fm.n_tris, fm.n_id, fm.n_exp, fm.n_tex, fm.uvs ? "UVs" : "no UVs", n_lmk,
               (double)fm.mm_per_unit);
        if (!fm.uvs)
            fprintf(stderr, "hrn-model: note: %s has no UVs; hrn-fit's maps and textures need them "
                    "(--uvs, e.g. HRN's bfm_uvs2.npy)\n", out);
    } else {
        fprintf(stderr, "hrn-model: %s\n", hrn_error_msg());
    }
    hrn_face_model_free(&fm);
    return hrn_exit_code(st);
}

static int cmd_info(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: hrn-model info MODEL\n");
        return 2;
    }
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_face_model_load(argv[1], &fm);
    if (st != HRN_OK) {
        fprintf(stderr, "hrn-model: %s\n", hrn_error_msg());
        return hrn_exit_code(st);
    }
    int n_lmk = 0;
    for (int i = 0; i < HRN_N_LMK68; i++) n_lmk += fm.lmk68[i] >= 0;
    printf("name          %s\n", fm.name);
    printf("licence       %s\n", fm.licence);
    printf("vertices      %lld\n", (long long)fm.n_verts);
    printf("triangles     %lld\n", (long long)fm.n_tris);
    printf("identity      %d modes\n", fm.n_id);
    printf("expression    %d modes\n", fm.n_exp);
    printf("albedo        %s, %d modes\n", fm.mean_albedo ? "per vertex" : "none", fm.n_tex);
    printf("uv            %lld%s\n", (long long)fm.n_uvs, fm.tri_uvs ? " (table with seams)" : " (per vertex)");
    printf("landmarks     %d of 68 iBUG points\n", n_lmk);
    printf("units         %g mm per unit\n", (double)fm.mm_per_unit);
    printf("coefficients  %lld\n", (long long)hrn_face_model_n_coeffs(&fm));
    hrn_face_model_free(&fm);
    return 0;
}

static int cmd_render(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *obj = NULL;
    enum hrn_synth_preset preset = HRN_SYNTH_SMALL;
    int synth = 0;
    long subject = 7;
    double yaw = 0, pitch = 0, roll = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"synth", required_argument, 0, 'S'},
                                         {"subject-seed", required_argument, 0, 's'},
                                         {"yaw", required_argument, 0, 'y'},
                                         {"pitch", required_argument, 0, 'p'},
                                         {"roll", required_argument, 0, 'r'},
                                         {"out", required_argument, 0, 'o'},
                                         {"obj", required_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'S': if (!parse_preset(optarg, &preset)) return 2; synth = 1; break;
        case 's': if (!parse_long(optarg, 0, 0x7fffffffL, &subject, "--subject-seed")) return 2; break;
        case 'y': if (!parse_double(optarg, &yaw, "--yaw")) return 2; break;
        case 'p': if (!parse_double(optarg, &pitch, "--pitch")) return 2; break;
        case 'r': if (!parse_double(optarg, &roll, "--roll")) return 2; break;
        case 'o': out = optarg; break;
        case 'j': obj = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (!out || (!model == !synth) || optind != argc) {
        fprintf(stderr, "hrn-model render: give --out FILE.png and exactly one of --model or --synth\n");
        return 2;
    }
    /* refuse before rendering what would be written under a misleading name */
    if (!has_ext(out, ".png") && !has_ext(out, ".jpg") && !has_ext(out, ".jpeg")) {
        fprintf(stderr, "hrn-model render: --out %s: expected a .png, .jpg or .jpeg name\n", out);
        return 2;
    }
    if (obj && !has_ext(obj, ".obj")) {
        fprintf(stderr, "hrn-model render: --obj %s: expected a .obj name\n", obj);
        return 2;
    }
    struct hrn_face_model fm = {0};
    enum hrn_status st = synth ? hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = preset, .seed = 1})
                               : hrn_face_model_load(model, &fm);
    float *coeffs = NULL;
    if (st == HRN_OK) {
        coeffs = malloc((size_t)hrn_face_model_n_coeffs(&fm) * sizeof(float));
        if (!coeffs) st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
    }
    if (st == HRN_OK) {
        struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
        random_subject(&fm, (uint64_t)subject, coeffs);
        coeffs[l.angle] = (float)(pitch * DEG);
        coeffs[l.angle + 1] = (float)(yaw * DEG);
        coeffs[l.angle + 2] = (float)(roll * DEG);
        /* a model in other units than BFM's decimetres is scaled into the camera's range */
        if (fm.mm_per_unit != 100.0f) {
            fprintf(stderr, "hrn-model: note: the camera expects decimetre units (BFM); this model has "
                            "%g mm per unit, so it may not fit the frame\n", (double)fm.mm_per_unit);
        }
        st = write_outputs(&fm, coeffs, out, obj);
    }
    if (st != HRN_OK) fprintf(stderr, "hrn-model: %s\n", hrn_error_msg());
    else printf("wrote %s%s%s\n", out, obj ? " and " : "", obj ? obj : "");
    free(coeffs);
    hrn_face_model_free(&fm);
    return hrn_exit_code(st);
}

static int cmd_demo(int argc, char **argv) {
    const char *dir = "hrn-demo";
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') dir = optarg;
        else { usage(stderr); return 2; }
    }
    if (optind != argc) { usage(stderr); return 2; }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "hrn-model: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    double t0 = hrn_time_now();
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_BFM, .seed = 1});
    float *coeffs = NULL;
    char path[1024], obj[1024];
    if (st == HRN_OK) {
        snprintf(path, sizeof path, "%s/synthetic_bfm.h5", dir);
        st = hrn_face_model_save(&fm, path);
        if (st == HRN_OK)
            printf("model    %s: %lld vertices, %lld triangles (synthetic, BFM-size) in %.1f s\n", path,
                   (long long)fm.n_verts, (long long)fm.n_tris, hrn_time_now() - t0);
    }
    if (st == HRN_OK) {
        coeffs = malloc((size_t)hrn_face_model_n_coeffs(&fm) * sizeof(float));
        if (!coeffs) st = hrn_error_set(HRN_ERR_NOMEM, "out of memory");
    }
    static const double yaws[3] = {-30, 0, 30};
    struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
    for (int v = 0; v < 3 && st == HRN_OK; v++) {
        random_subject(&fm, 7, coeffs);
        coeffs[l.angle + 1] = (float)(yaws[v] * DEG);
        coeffs[l.angle] = (float)(5 * DEG);
        snprintf(path, sizeof path, "%s/subject_view%d.png", dir, v);
        snprintf(obj, sizeof obj, "%s/subject_view%d.obj", dir, v);
        double t1 = hrn_time_now();
        st = write_outputs(&fm, coeffs, path, v == 1 ? obj : NULL);
        if (st == HRN_OK)
            printf("view %d   %s (yaw %+.0f deg)%s%s, %.0f ms\n", v, path, yaws[v], v == 1 ? " and " : "",
                   v == 1 ? obj : "", 1e3 * (hrn_time_now() - t1));
    }
    if (st != HRN_OK) fprintf(stderr, "hrn-model: %s\n", hrn_error_msg());
    free(coeffs);
    hrn_face_model_free(&fm);
    return hrn_exit_code(st);
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* global options before the command: -v/--verbose, -q/--quiet (HRN_LOG_LEVEL otherwise) */
    while (argc > 2 && argv[1][0] == '-') {
        if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0)
            hrn_log_set_level(HRN_LOG_DEBUG);
        else if (strcmp(argv[1], "-q") == 0 || strcmp(argv[1], "--quiet") == 0)
            hrn_log_set_level(HRN_LOG_ERROR);
        else
            break;
        argc--;
        argv++;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        hrn_print_versions(stdout, "hrn-model");
        return 0;
    }
    argc--;
    argv++;
    optind = 1;
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc, argv);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc, argv);
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc, argv);
    if (strcmp(cmd, "render") == 0) return cmd_render(argc, argv);
    if (strcmp(cmd, "demo") == 0) return cmd_demo(argc, argv);
    fprintf(stderr, "hrn-model: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
