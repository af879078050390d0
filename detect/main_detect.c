/* hrn-detect: faces and their 68 landmarks in photos, written as hrn-fit reads them; and the
 * one-time conversion of face-api's TF.js weights to hrn's HDF5. */
#include "hrn_detect.h"
#include "hrn_lmk.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_FACES = 64 };

static void usage(FILE *f) {
    fprintf(f,
        "usage: hrn-detect [options] IMAGE... --out DIR\n"
        "       hrn-detect convert MODEL_DIR OUT.h5\n"
        "\n"
        "Finds the faces in each photo (face-api's tiny face detector) and their 68 iBUG landmarks\n"
        "(face-api's face_landmark_68 net). Per photo, in DIR:\n"
        "  <stem>.lm68.txt, <stem>.lm5.txt   the largest face's points (what hrn-fit reads)\n"
        "  <stem>.face<k>.lm68.txt/.lm5.txt  every face k = 0, 1, ... (largest first), when there\n"
        "                                    are several\n"
        "  <stem>.faces.txt                  one line per face: k left top width height score\n"
        "  <stem>_detect.png                 the photo with boxes, points and face numbers\n"
        "  <stem>_skin.png, <stem>_skin_check.png   with --mask: the largest face's skin mask\n"
        "                                    (hrn-fit --mask reads it) and a picture of it\n"
        "Exit status: 0 when every photo had a face, 1 when one could not be read or had none\n"
        "(the others are still written), 2 for a bad command line.\n"
        "\n"
        "options:\n"
        "  --out DIR          output folder (created if missing)\n"
        "  --weights FILE     converted weights (default: $HRN_FACEAPI_H5, else\n"
        "                     $HRN_WEIGHTS_DIR/face-api-1.7.15.h5, else %s/face-api-1.7.15.h5)\n"
        "  --size N           detector input, a multiple of 32 (default 608; face-api's is 416)\n"
        "  --threshold T      detector score threshold (default 0.3; face-api's is 0.5)\n"
        "  --iou T            NMS overlap threshold (default 0.4)\n"
        "  --max-faces N      keep at most N faces per photo (default %d)\n"
        "  --no-overlay       do not write <stem>_detect.png nor <stem>_skin_check.png\n"
        "  --mask             write the skin mask: Deep3D's skin-colour model inside the face\n"
        "                     region of the landmarks (brows raised 1.5 brow-eye distances)\n"
        "  -q, --quiet        print nothing but errors\n"
        "  -h, --help         this help\n"
        "\n"
        "convert: MODEL_DIR is the model/ folder of the npm package @vladmandic/face-api@1.7.15\n"
        "(scripts/install-deps.sh fetches it and runs this; docs/DETECTION.md).\n",
        HRN_DEFAULT_WEIGHTS_DIR, MAX_FACES);
}

struct args {
    const char *out, *weights;
    struct hrn_detect_options o;
    int max_faces, overlay, quiet, mask;
};

static int parse_num(const char *s, double lo, double hi, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return !errno && end != s && !*end && *v >= lo && *v <= hi;
}

/* 0 ok, 2 usage error (printed). */
static int parse_args(int argc, char **argv, struct args *a) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},      {"weights", required_argument, 0, 'w'},
        {"size", required_argument, 0, 's'},     {"threshold", required_argument, 0, 't'},
        {"iou", required_argument, 0, 'i'},      {"max-faces", required_argument, 0, 'm'},
        {"no-overlay", no_argument, 0, 'n'},     {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},           {"mask", no_argument, 0, 'k'},
        {0, 0, 0, 0}};
    *a = (struct args){.o = hrn_detect_defaults(), .max_faces = MAX_FACES, .overlay = 1};
    int c;
    double v;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'w': a->weights = optarg; break;
        case 's': ok = parse_num(optarg, 64, 2048, &v) && (int)v == v && (int)v % 32 == 0;
                  a->o.input_size = (int)v; break;
        case 't': ok = parse_num(optarg, 0, 1, &v); a->o.score_threshold = (float)v; break;
        case 'i': ok = parse_num(optarg, 0, 1, &v); a->o.iou_threshold = (float)v; break;
        case 'm': ok = parse_num(optarg, 1, MAX_FACES, &v) && (int)v == v;
                  a->max_faces = (int)v; break;
        case 'n': a->overlay = 0; break;
        case 'k': a->mask = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "hrn-detect: bad value '%s' for --%s\n", optarg,
                    c == 's' ? "size (a multiple of 32 in 64..2048)" : c == 't' ? "threshold (0..1)"
                    : c == 'i' ? "iou (0..1)" : "max-faces (1..64)");
            return 2;
        }
    }
    if (optind >= argc || !a->out) {
        fprintf(stderr, "hrn-detect: %s\n", optind >= argc ? "no image given" : "--out DIR is required");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The file name without folder and last extension. */
static void stem_of(const char *path, char *stem, size_t cap) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(stem, cap, "%s", basename(tmp));
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
}

static enum hrn_status write_faces_txt(const char *path, const struct hrn_face *f, int n,
                                       const struct hrn_detect_options *o) {
    struct hrn_tmpfile tf;
    enum hrn_status st = hrn_tmpfile_open(&tf, path);
    if (st) return st;
    fprintf(tf.fp, "# hrn-detect: face-api tiny face detector at %d, score > %g; largest first\n"
                  "# face left top width height score\n", o->input_size,
            (double)o->score_threshold);
    for (int i = 0; i < n; i++) {
        const struct hrn_detect_box *b = &f[i].box;
        fprintf(tf.fp, "%d %.2f %.2f %.2f %.2f %.4f\n", i, (double)b->x0, (double)b->y0,
                (double)(b->x1 - b->x0), (double)(b->y1 - b->y0), (double)b->score);
    }
    return hrn_tmpfile_close(&tf, 1);
}

static enum hrn_status write_points(const char *dir, const char *stem, const char *tag,
                                    const struct hrn_face *f) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s%s.lm68.txt", dir, stem, tag);
    enum hrn_status st = hrn_lmk_write_txt(p, f->lm68, 68);
    snprintf(p, sizeof p, "%s/%s%s.lm5.txt", dir, stem, tag);
    return st ? st : hrn_lmk_write_txt(p, f->lm5, 5);
}

/* hrn-fit's default brow lift (configs/fit.ini forehead), so that the mask covers what its
 * landmark face region would. */
static const float MASK_FOREHEAD = 1.5f;

/* <stem>_skin.png (8-bit gray, 255 = skin) and, with the overlay, <stem>_skin_check.png. */
static enum hrn_status write_skin(const struct args *a, const char *stem,
                                  const struct hrn_image *img, const struct hrn_face *f) {
    char p[4096];
    struct hrn_image m = {0};
    float *hull = malloc((size_t)img->w * (size_t)img->h * sizeof *hull);
    enum hrn_status st = hull ? hrn_image_init(&m, img->w, img->h, 1)
                              : hrn_error_set(HRN_ERR_NOMEM, "no memory for the skin mask");
    if (!st) st = hrn_skin_mask(img, f->lm68, MASK_FOREHEAD, m.data);
    snprintf(p, sizeof p, "%s/%s_skin.png", a->out, stem);
    if (!st) st = hrn_image_write_png(p, &m, 8);
    if (!st && a->overlay) st = hrn_face_hull_mask(f->lm68, img->w, img->h, MASK_FOREHEAD, hull);
    snprintf(p, sizeof p, "%s/%s_skin_check.png", a->out, stem);
    if (!st && a->overlay) st = hrn_skin_write_overlay(p, img, hull, m.data);
    free(hull);
    hrn_image_free(&m);
    return st;
}

static enum hrn_status write_outputs(const struct args *a, const char *stem,
                                     const struct hrn_image *img, const struct hrn_face *f,
                                     int n) {
    char p[4096], tag[32];
    snprintf(p, sizeof p, "%s/%s.faces.txt", a->out, stem);
    enum hrn_status st = write_faces_txt(p, f, n, &a->o);
    if (!st && n > 0) st = write_points(a->out, stem, "", &f[0]);
    for (int i = 0; !st && n > 1 && i < n; i++) {
        snprintf(tag, sizeof tag, ".face%d", i);
        st = write_points(a->out, stem, tag, &f[i]);
    }
    snprintf(p, sizeof p, "%s/%s_detect.png", a->out, stem);
    if (!st && a->overlay) st = hrn_detect_write_overlay(p, img, f, n);
    if (!st && a->mask && n > 0) st = write_skin(a, stem, img, &f[0]);
    return st;
}

/* One photo: 0 done with faces, 1 failed or no face. */
static int run_one(struct hrn_detect *d, const struct args *a, const char *path) {
    struct hrn_image img = {0};
    struct hrn_face faces[MAX_FACES];
    int n = 0;
    char stem[1024];
    stem_of(path, stem, sizeof stem);
    double t0 = hrn_time_now();
    enum hrn_status st = hrn_image_read(path, HRN_IMAGE_RGB, &img);
    if (!st) st = hrn_detect_faces(d, &img, &a->o, faces, a->max_faces, &n);
    double ms = 1e3 * (hrn_time_now() - t0);
    if (!st) st = write_outputs(a, stem, &img, faces, n);
    hrn_image_free(&img);
    if (st) {
        fprintf(stderr, "hrn-detect: %s: %s\n", path, hrn_error_msg());
        return 1;
    }
    if (n == 0) fprintf(stderr, "hrn-detect: %s: no face found\n", path);
    if (!a->quiet && n > 0)
        printf("%s: %d face%s (%.0f ms incl. reading), largest at (%.0f,%.0f) %.0fx%.0f score %.3f\n",
               path, n, n > 1 ? "s" : "", ms, (double)faces[0].box.x0, (double)faces[0].box.y0,
               (double)(faces[0].box.x1 - faces[0].box.x0),
               (double)(faces[0].box.y1 - faces[0].box.y0), (double)faces[0].box.score);
    return n == 0;
}

static int main_convert(int argc, char **argv) {
    if (argc != 4) {
        usage(stderr);
        return 2;
    }
    enum hrn_status st = hrn_faceapi_convert(argv[2], argv[3]);
    if (st) {
        fprintf(stderr, "hrn-detect convert: %s\n", hrn_error_msg());
        return hrn_exit_code(st);
    }
    printf("hrn-detect convert: wrote %s\n", argv[3]);
    return 0;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    if (argc > 1 && !strcmp(argv[1], "convert")) return main_convert(argc, argv);
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    char wbuf[4096];
    const char *weights = a.weights ? a.weights
                                    : hrn_detect_default_weights(wbuf, sizeof wbuf,
                                                                 HRN_DEFAULT_WEIGHTS_DIR);
    if (mkdir(a.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "hrn-detect: cannot create %s: %s\n", a.out, strerror(errno));
        return 1;
    }
    struct hrn_detect d = {0};
    enum hrn_status st = hrn_detect_load(&d, weights);
    if (st) {
        fprintf(stderr, "hrn-detect: %s\n(scripts/install-deps.sh fetches and converts the "
                        "weights; docs/DETECTION.md)\n", hrn_error_msg());
        return 1;
    }
    for (int i = optind; i < argc; i++) rc |= run_one(&d, &a, argv[i]);
    hrn_detect_free(&d);
    return rc;
}
