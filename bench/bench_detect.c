/* bench_detect: face detection + 68 landmarks on a 640x480 photo, per stage: the detector's
 * input (pad + resize), the detector net at 416 and 608, decoding + NMS, and the landmark net per
 * face; then hrn_detect_faces end to end. Threads: OMP_NUM_THREADS (the goal is stated for 2).
 *
 *     bench_detect [--weights FILE] [--image PHOTO] [--reps N]
 *
 * Without --image it uses the 300-W photo of ../shared/realdata (eos_example/image_0010.png)
 * resized to 640x480 (one face); results go to docs/PERFORMANCE.md by hand. */
#include "hrn_detect.h"

#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stats {
    double best, median;
};

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct stats summarize(double *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, cmp_d);
    return (struct stats){ms[0], ms[n / 2]};
}

/* ms per call of one stage, reps times after one warm-up. */
#define TIME_STAGE(label, reps, call)                                                       \
    do {                                                                                    \
        double ms_[256];                                                                    \
        call;                                                                               \
        for (int r_ = 0; r_ < (reps); r_++) {                                               \
            double t0_ = hrn_time_now();                                                    \
            call;                                                                           \
            ms_[r_] = 1e3 * (hrn_time_now() - t0_);                                         \
        }                                                                                   \
        struct stats s_ = summarize(ms_, (reps));                                           \
        printf("%-34s %8.2f %8.2f\n", label, s_.median, s_.best);                           \
    } while (0)

static enum hrn_status load_photo(const char *path, struct hrn_image *img) {
    struct hrn_image full = {0};
    enum hrn_status st = hrn_image_read(path, HRN_IMAGE_RGB, &full);
    if (!st && (full.w != 640 || full.h != 480)) st = hrn_image_resize(&full, 640, 480, 0, img);
    else if (!st) {
        *img = full;
        full = (struct hrn_image){0};
    }
    hrn_image_free(&full);
    return st;
}

static void bench_stages(struct hrn_detect *d, const struct hrn_image *img, int reps) {
    float *hwc = hrn_detect_hwc255(img);
    float *x = malloc((size_t)608 * 608 * 3 * sizeof *x), out[19 * 19 * 25], lm[136];
    struct hrn_detect_box boxes[64];
    HRN_ASSERT(hwc && x);
    for (int s = 416; s <= 608; s += 192) {
        char l[64];
        struct hrn_detect_options o = hrn_detect_defaults();
        o.input_size = s;
        snprintf(l, sizeof l, "detector input %d", s);
        TIME_STAGE(l, reps, hrn_tinyface_input(x, hwc, img->w, img->h, s));
        snprintf(l, sizeof l, "detector net %d", s);
        TIME_STAGE(l, reps, HRN_ASSERT(hrn_tinyface_forward(d, x, s, out) == HRN_OK));
        int n = 0;
        snprintf(l, sizeof l, "decode + NMS %d", s);
        TIME_STAGE(l, reps, n = hrn_tinyface_decode(out, s, img->w, img->h, &o, boxes, 64));
        if (n > 0) {
            snprintf(l, sizeof l, "landmarks, one face (%d)", s);
            TIME_STAGE(l, reps, HRN_ASSERT(hrn_lm68_on_box(d, hwc, img->w, img->h, &boxes[0],
                                                           lm) == HRN_OK));
        }
    }
    free(x);
    free(hwc);
}

/* End to end (the photo's conversion included), and per face. */
static void bench_total(struct hrn_detect *d, const struct hrn_image *img, int reps) {
    struct hrn_face faces[16];
    for (int s = 416; s <= 608; s += 192) {
        struct hrn_detect_options o = hrn_detect_defaults();
        o.input_size = s;
        int n = 0;
        double ms[256];
        HRN_ASSERT(hrn_detect_faces(d, img, &o, faces, 16, &n) == HRN_OK); /* warm-up */
        for (int r = 0; r < reps; r++) {
            double t0 = hrn_time_now();
            HRN_ASSERT(hrn_detect_faces(d, img, &o, faces, 16, &n) == HRN_OK);
            ms[r] = 1e3 * (hrn_time_now() - t0);
        }
        struct stats st = summarize(ms, reps);
        printf("%-34s %8.2f %8.2f   %d face(s), %.2f ms per face (median)\n", s == 416 ?
               "hrn_detect_faces 416" : "hrn_detect_faces 608", st.median, st.best, n,
               n ? st.median / n : 0.0);
    }
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    static const struct option opts[] = {{"weights", required_argument, 0, 'w'},
                                         {"image", required_argument, 0, 'i'},
                                         {"reps", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    char wbuf[4096], ibuf[4096];
    const char *weights = hrn_detect_default_weights(wbuf, sizeof wbuf, NULL), *image = NULL;
    int reps = 20, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'w') weights = optarg;
        else if (c == 'i') image = optarg;
        else if (c == 'r') reps = atoi(optarg);
        else return 2;
    }
    if (reps < 1 || reps > 256) reps = 20;
    if (!image) {
        const char *rd = getenv("HRN_REALDATA");
        snprintf(ibuf, sizeof ibuf, "%s/eos_example/image_0010.png",
                 rd && *rd ? rd : "../shared/realdata");
        image = ibuf;
    }
    struct hrn_detect d = {0};
    struct hrn_image img = {0};
    if (hrn_detect_load(&d, weights) || load_photo(image, &img)) {
        fprintf(stderr, "bench_detect: %s\n", hrn_error_msg());
        return 1;
    }
    printf("bench_detect: %s as %dx%d, %d threads, OpenBLAS core %s, %d reps\n", image, img.w,
           img.h, omp_get_max_threads(), hrn_blas_core(), reps);
    printf("%-34s %8s %8s\n", "stage", "median", "best");
    bench_stages(&d, &img, reps);
    bench_total(&d, &img, reps);
    hrn_image_free(&img);
    hrn_detect_free(&d);
    return 0;
}
