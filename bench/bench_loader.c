/* bench_loader.c: samples per second of the training-data loader alone (no network), batch 8,
 * with 0 (the caller makes the samples), 1 and 2 worker threads, augmentation on (Deep3D's
 * defaults), from these sources:
 *
 *   synthetic      hrn_synth_sample on the fly (skipped while the generator is not built)
 *   synth folder   a folder written by hrn_synth_write_folder to /tmp (same condition)
 *   crops folder   224 crops with landmarks, masks and ground truth written by this bench
 *                  (`aligned = true`: PNG decoding, gt HDF5, augmentation)
 *   photos folder  640x480 photos with 68 landmarks written by this bench (PNG decoding and
 *                  the 5-point alignment to the 224 crop on load, as for real photos)
 *
 * Run by hand on a quiet machine:
 *
 *     OMP_NUM_THREADS=1 build/bench/bench_loader [samples] [small|bfm] [disk_samples]
 *
 * Each row times `samples` samples of the synthetic source (default 48) or `disk_samples` of a
 * folder (default 256, epochs over 64 files, so the disk cache is warm after the first epoch),
 * rounded up to whole batches, from hrn_loader_open to the last batch: the prefetch's first fill
 * is included. The generator renders with OpenMP: with OMP_NUM_THREADS=2 one loader thread
 * already uses both cores. The table says which sources ran and why the others did not. */
#include "hrn_train.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 8 };

/* CPU seconds of the whole process (all threads): cpu/wall shows how many cores the loader kept
 * busy, which other jobs on a shared machine cannot inflate. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct source {
    const char *name;
    struct hrn_dataset ds;
    int ok;
    char why[256];
};

static void row(struct source *s, int threads, int samples) {
    struct hrn_augment aug;
    hrn_augment_defaults(&aug);
    struct hrn_loader *l = NULL;
    struct hrn_batch b = {0};
    int got = 0;
    double t0 = hrn_time_now(), c0 = cpu_now();
    enum hrn_status st = hrn_loader_open(
        &l, &s->ds, &aug,
        &(struct hrn_loader_config){.seed = 1, .batch = BATCH, .shuffle = 1, .threads = threads}, 0,
        0);
    while (st == HRN_OK && got < samples) {
        st = hrn_loader_next(l, &b);
        got += st == HRN_OK ? b.n : 0;
    }
    double t = hrn_time_now() - t0, cpu = cpu_now() - c0;
    hrn_batch_free(&b);
    hrn_loader_close(l);
    if (st != HRN_OK) {
        printf("%-14s %7d %5d   failed: %s\n", s->name, threads, BATCH, hrn_error_msg());
        return;
    }
    printf("%-14s %7d %5d %8d %8.2f %10.1f %8.2f\n", s->name, threads, BATCH, got, t, got / t,
           cpu / t);
    fflush(stdout);
}

/* The mean face rendered with HRN's camera and its y-up landmarks. */
static enum hrn_status render_face(const struct hrn_face_model *fm, struct hrn_image *img,
                                   float *lm) {
    enum hrn_status st = HRN_OK;
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(fm), sizeof(float));
    float *verts = malloc((size_t)(3 * fm->n_verts) * sizeof(float));
    struct hrn_camera cam = hrn_camera_default();
    if (!coeffs || !verts) {
        st = hrn_error_set(HRN_ERR_NOMEM, "bench: no memory");
        goto fail;
    }
    HRN_TRY(hrn_render_shaded(fm, coeffs, &cam, NULL, img));
    hrn_face_posed(fm, coeffs, verts);
    for (int i = 0; i < 68; i++) {
        float uvz[3];
        hrn_project(&cam, verts + 3 * fm->lmk68[i], 1, uvz);
        lm[2 * i] = uvz[0] - 0.5f;
        lm[2 * i + 1] = uvz[1] - 0.5f;
    }
fail:
    free(coeffs);
    free(verts);
    return st;
}

static enum hrn_status write_lines(const char *path, const char *fmt, int n) {
    struct hrn_tmpfile tf;
    enum hrn_status st = hrn_tmpfile_open(&tf, path);
    if (st != HRN_OK) return st;
    for (int i = 0; i < n; i++)
        fprintf(tf.fp, fmt, i);
    return hrn_tmpfile_close(&tf, 1);
}

/* n crops (aligned) or n photos (the crop scaled 1.7x into 640x480 at a per-image place) with
 * landmarks (Deep3D's y-up files), a mask each and, for crops, a ground truth each. */
static enum hrn_status write_folder(const struct hrn_face_model *fm, const char *root, int photos,
                                    int n) {
    enum hrn_status st = HRN_OK;
    struct hrn_image face = {0}, img = {0}, mask = {0};
    struct hrn_sample_gt gt = {0};
    float lm[68 * 2], out[68 * 2];
    char p[1024];
    snprintf(p, sizeof p,
             "mkdir -p '%s/images/landmarks' '%s/images/mask' '%s/images/gt' "
             "'%s/datalist'",
             root, root, root, root);
    if (system(p) != 0) return hrn_error_set(HRN_ERR_IO, "%s: cannot make the folders", root);
    HRN_TRY(render_face(fm, &face, lm));
    if (!photos) {
        snprintf(p, sizeof p, "%s/dataset.ini", root);
        HRN_TRY(write_lines(p, "aligned = true\n", 1));
        gt.deform = calloc(3 * 64 * 64, sizeof(float));
        gt.disp = calloc(256 * 256, sizeof(float));
        gt.albedo = calloc(3 * 256 * 256, sizeof(float));
        gt.skin = calloc(256 * 256, sizeof(float));
        if (!gt.deform || !gt.disp || !gt.albedo || !gt.skin) {
            st = hrn_error_set(HRN_ERR_NOMEM, "bench: no memory");
            goto fail;
        }
    }
    for (int i = 0; i < n; i++) {
        double sc = photos ? 1.7 : 1, ox = photos ? 100 + 3 * (i % 20) : 0, oy = photos ? 40 : 0;
        double A[6] = {1 / sc, 0, -ox / sc, 0, 1 / sc, -oy / sc};
        int w = photos ? 640 : 224, h = photos ? 480 : 224;
        HRN_TRY(hrn_image_warp_affine(&face, A, w, h, NULL, &img));
        HRN_TRY(hrn_image_init(&mask, w, h, 1));
        for (size_t k = 0; k < (size_t)w * (size_t)h; k++)
            mask.data[k] = img.data[k] > 0.0f;
        for (int k = 0; k < 68; k++) { /* y-up crop -> y-down photo -> y-up photo */
            out[2 * k] = (float)((double)lm[2 * k] * sc + ox);
            out[2 * k + 1] = (float)((double)(h - 1) - ((223.0 - (double)lm[2 * k + 1]) * sc + oy));
        }
        snprintf(p, sizeof p, "%s/images/f%d.png", root, i);
        HRN_TRY(hrn_image_write_png(p, &img, 8));
        snprintf(p, sizeof p, "%s/images/mask/f%d.png", root, i);
        HRN_TRY(hrn_image_write_png(p, &mask, 8));
        snprintf(p, sizeof p, "%s/images/landmarks/f%d.txt", root, i);
        HRN_TRY(hrn_lmk_write_txt(p, out, 68));
        if (!photos) {
            snprintf(p, sizeof p, "%s/images/gt/f%d.h5", root, i);
            HRN_TRY(hrn_sample_gt_save(p, &gt));
        }
        hrn_image_free(&img);
        hrn_image_free(&mask);
    }
    snprintf(p, sizeof p, "%s/datalist/train.txt", root);
    HRN_TRY(write_lines(p, "images/f%d.png\n", n));
fail:
    hrn_image_free(&face);
    hrn_image_free(&img);
    hrn_image_free(&mask);
    free(gt.deform), free(gt.disp), free(gt.albedo), free(gt.skin);
    return st;
}

static void open_folder(struct source *s, const struct hrn_face_model *fm, const char *root) {
    char list[1024];
    snprintf(list, sizeof list, "%s/datalist/train.txt", root);
    s->ok = hrn_dataset_open_folder(&s->ds, fm, root, list, HRN_DATASET_STRICT, stderr) == HRN_OK;
    if (!s->ok) snprintf(s->why, sizeof s->why, "%s", hrn_error_msg());
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv);
    int samples = argc > 1 ? atoi(argv[1]) : 48;
    int small = argc > 2 && !strcmp(argv[2], "small");
    int disk_samples = argc > 3 ? atoi(argv[3]) : 256;
    if (samples < BATCH) samples = 48;
    if (disk_samples < BATCH) disk_samples = 256;
    hrn_log_set_level(HRN_LOG_WARN);
    struct hrn_face_model fm = {0};
    enum hrn_status st = hrn_synth_face(
        &fm,
        &(struct hrn_synth_params){.preset = small ? HRN_SYNTH_SMALL : HRN_SYNTH_BFM, .seed = 1});
    if (st == HRN_OK) st = hrn_fit_normalize_model(&fm);
    if (st == HRN_OK) st = hrn_face_model_compact(&fm);
    if (st != HRN_OK) {
        fprintf(stderr, "bench_loader: %s\n", hrn_error_msg());
        return 1;
    }
    char tmp[] = "/tmp/hrn_bench_loader_XXXXXX", dir[256];
    if (!mkdtemp(tmp)) {
        perror("bench_loader: mkdtemp");
        return 1;
    }
    int n_disk = 64; /* on disk: epochs repeat, the cache is warm */
    struct source src[4] = {{.name = "synthetic"},
                            {.name = "synth folder"},
                            {.name = "crops folder"},
                            {.name = "photos folder"}};
    struct hrn_synth_data_config sc;
    hrn_synth_data_defaults(&sc);
    sc.count = samples;
    src[0].ok = hrn_dataset_open_synth(&src[0].ds, &fm, &sc) == HRN_OK;
    if (src[0].ok) { /* the dataset opens without making a sample: try one */
        struct hrn_sample s = {0};
        src[0].ok = hrn_synth_sample(&fm, &sc, 0, &s) == HRN_OK;
        hrn_sample_free(&s);
    }
    if (!src[0].ok) snprintf(src[0].why, sizeof src[0].why, "%s", hrn_error_msg());
    snprintf(dir, sizeof dir, "%s/synth", tmp);
    sc.count = n_disk;
    if (hrn_synth_write_folder(&fm, &sc, 0, n_disk, 0, dir, 2) == HRN_OK)
        open_folder(&src[1], &fm, dir);
    else
        snprintf(src[1].why, sizeof src[1].why, "%s", hrn_error_msg());
    snprintf(dir, sizeof dir, "%s/crops", tmp);
    if (write_folder(&fm, dir, 0, n_disk) == HRN_OK)
        open_folder(&src[2], &fm, dir);
    else
        snprintf(src[2].why, sizeof src[2].why, "%s", hrn_error_msg());
    snprintf(dir, sizeof dir, "%s/photos", tmp);
    if (write_folder(&fm, dir, 1, n_disk) == HRN_OK)
        open_folder(&src[3], &fm, dir);
    else
        snprintf(src[3].why, sizeof src[3].why, "%s", hrn_error_msg());

    const char *omp = getenv("OMP_NUM_THREADS");
    printf(
        "loader throughput, %s model (%lld vertices), batch %d, augmentation on, OMP_NUM_THREADS "
        "%s; rows of %d synthetic or %d folder samples (%d files)\n",
        small ? "small" : "BFM-size", (long long)fm.n_verts, BATCH, omp ? omp : "unset", samples,
        disk_samples, n_disk);
    printf("%-14s %7s %5s %8s %8s %10s %8s\n", "source", "threads", "batch", "samples", "s",
           "samples/s", "cpu/wall");
    for (int k = 0; k < 4; k++) {
        if (!src[k].ok) {
            printf("%-14s not run: %s\n", src[k].name, src[k].why);
            continue;
        }
        for (int t = 0; t <= 2; t++)
            row(&src[k], t, k == 0 ? samples : disk_samples);
        hrn_dataset_free(&src[k].ds);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_loader: could not remove %s\n", tmp);
    hrn_face_model_free(&fm);
    return 0;
}
