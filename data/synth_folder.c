/* synth_folder.c: a synthetic dataset written to disk in Deep3DFaceRecon's folder layout
 * (hrn_dataset_open_folder reads it back): images, landmarks, masks, ground truth (HDF5 and the
 * canonical mesh), dataset.ini and the train/val lists. Samples are made by worker threads sharing
 * one read-only model context; each file depends only on its sample, so the folder is the same
 * whatever the thread count. */
#include "synth_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum hrn_status mkdir_one(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return HRN_OK;
        return hrn_error_set(HRN_ERR_IO, "%s: exists and is not a directory", path);
    }
    return hrn_error_set(HRN_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
}

/* mkdir -p */
static enum hrn_status mkdirs(const char *path) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            enum hrn_status st = mkdir_one(buf);
            *p = '/';
            if (st != HRN_OK) return st;
        }
    return mkdir_one(buf);
}

static enum hrn_status join(char *out, size_t cap, const char *root, const char *a, const char *b,
                            const char *ext) {
    if (snprintf(out, cap, "%s/%s%s%s", root, a, b, ext) >= (int)cap)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", root);
    return HRN_OK;
}

static enum hrn_status write_landmarks(const char *path, const float *lm) {
    struct hrn_tmpfile tf;
    enum hrn_status st = hrn_tmpfile_open(&tf, path);
    if (st != HRN_OK) return st;
    int ok = 1;
    for (int i = 0; i < 68; i++)
        ok &= fprintf(tf.fp, "%.4f %.4f\n", (double)lm[2 * i], (double)lm[2 * i + 1]) > 0;
    if (!ok) {
        hrn_tmpfile_close(&tf, 0);
        return hrn_error_set(HRN_ERR_IO, "%s: write failed", path);
    }
    return hrn_tmpfile_close(&tf, 1);
}

/* the canonical level-1 mesh (gt.verts) with the model's triangles: geometry only, what hrn-eval
 * compares (uvs would add a third to a file that is already most of a sample's bytes) */
static enum hrn_status write_mesh(const char *path, const struct hrn_face_model *fm,
                                  const float *verts) {
    struct hrn_mesh m = {0};
    enum hrn_status st = hrn_mesh_alloc(&m, fm->n_verts, fm->n_tris, 0, 0, 0);
    if (st != HRN_OK) return st;
    memcpy(m.verts, verts, (size_t)(3 * fm->n_verts) * sizeof(float));
    memcpy(m.faces, fm->tris, (size_t)(3 * fm->n_tris) * sizeof(int32_t));
    st = hrn_mesh_write_obj(path, &m, NULL);
    hrn_mesh_free(&m);
    return st;
}

static enum hrn_status write_sample(const char *root, const struct hrn_face_model *fm,
                                    const struct hrn_sample *s) {
    char path[1200];
    struct hrn_image mask = {s->img.w, s->img.h, 1, s->mask};
    SYNTH_TRY(join(path, sizeof path, root, "images/", s->name, ".png"));
    SYNTH_TRY(hrn_image_write_png(path, &s->img, 8));
    SYNTH_TRY(join(path, sizeof path, root, "images/landmarks/", s->name, ".txt"));
    SYNTH_TRY(write_landmarks(path, s->lm));
    SYNTH_TRY(join(path, sizeof path, root, "images/mask/", s->name, ".png"));
    SYNTH_TRY(hrn_image_write_png(path, &mask, 8));
    SYNTH_TRY(join(path, sizeof path, root, "images/gt/", s->name, ".h5"));
    SYNTH_TRY(hrn_sample_gt_save(path, &s->gt));
    SYNTH_TRY(join(path, sizeof path, root, "images/gt/", s->name, ".obj"));
    return write_mesh(path, fm, s->gt.verts);
}

/* --- the workers ----------------------------------------------------------------------------- */

struct folder_job {
    const struct hrn_synth_ctx *x;
    const struct hrn_synth_data_config *c;
    const char *root;
    int64_t first, n;
    int stride, offset; /* this worker makes samples first + offset + k*stride */
    enum hrn_status st;
    int64_t failed_index;
    char msg[512]; /* the error message (thread-local in the worker) */
};

static void *folder_worker(void *arg) {
    struct folder_job *j = arg;
    for (int64_t k = j->offset; k < j->n && j->st == HRN_OK; k += j->stride) {
        struct hrn_sample s;
        memset(&s, 0, sizeof s);
        enum hrn_status st = synth_make_sample(j->x, j->c, j->first + k, &s);
        if (st == HRN_OK) st = write_sample(j->root, j->x->fm, &s);
        hrn_sample_free(&s);
        if (st != HRN_OK) {
            j->st = st;
            j->failed_index = j->first + k;
            snprintf(j->msg, sizeof j->msg, "%s", hrn_error_msg());
        }
    }
    return NULL;
}

static enum hrn_status run_workers(const struct hrn_synth_ctx *x,
                                   const struct hrn_synth_data_config *c, int64_t first, int64_t n,
                                   const char *root, int threads) {
    struct folder_job jobs[64];
    pthread_t tid[64];
    int started = 0;
    if (threads > 64) threads = 64;
    for (int t = 0; t < threads; t++)
        jobs[t] = (struct folder_job){.x = x,
                                      .c = c,
                                      .root = root,
                                      .first = first,
                                      .n = n,
                                      .stride = threads,
                                      .offset = t,
                                      .st = HRN_OK};
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, folder_worker, &jobs[t]) != 0) break;
        started = t;
    }
    for (int t = started + 1; t < threads; t++) /* threads that did not start: run them here */
        folder_worker(&jobs[t]);
    folder_worker(&jobs[0]);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    /* report the lowest failing index, so the message does not depend on scheduling */
    const struct folder_job *bad = NULL;
    for (int t = 0; t < threads; t++)
        if (jobs[t].st != HRN_OK && (!bad || jobs[t].failed_index < bad->failed_index))
            bad = &jobs[t];
    if (bad)
        return hrn_error_set(bad->st, "%s: sample %lld: %s", root, (long long)bad->failed_index,
                             bad->msg);
    return HRN_OK;
}

/* --- lists and dataset.ini ------------------------------------------------------------------- */

static enum hrn_status write_list(const char *root, const char *file,
                                  const struct hrn_synth_data_config *c, int64_t from, int64_t to) {
    char path[1200];
    struct hrn_tmpfile tf;
    SYNTH_TRY(join(path, sizeof path, root, "datalist/", file, ""));
    SYNTH_TRY(hrn_tmpfile_open(&tf, path));
    int ok = 1;
    for (int64_t i = from; i < to; i++)
        ok &= fprintf(tf.fp, "images/synth_%llu_%06lld.png\n", (unsigned long long)c->seed,
                      (long long)i) > 0;
    if (!ok) {
        hrn_tmpfile_close(&tf, 0);
        return hrn_error_set(HRN_ERR_IO, "%s: write failed", path);
    }
    return hrn_tmpfile_close(&tf, 1);
}

static enum hrn_status write_ini(const char *root, const struct hrn_face_model *fm,
                                 const struct hrn_synth_data_config *c, int64_t first, int64_t n) {
    char path[1200];
    struct hrn_tmpfile tf;
    SYNTH_TRY(join(path, sizeof path, root, "dataset.ini", "", ""));
    SYNTH_TRY(hrn_tmpfile_open(&tf, path));
    int ok =
        fprintf(
            tf.fp,
            "; synthetic faces written by hrn-data synth (docs/TRAINING_DATA.md); the images\n"
            "; are 224x224 crops already in HRN's frame, landmarks in y-up crop pixels\n"
            "aligned = true\nmodel = %s\nseed = %llu\ncount = %lld\nfirst = %lld\nwritten = %lld\n"
            "; generator: id_std %g exp_std %g tex_std %g yaw %g pitch %g roll %g trans_px %g\n"
            "; dist_frac %g deform_mm %g disp_mm %g detail %g occluder_p %g noise_max %g\n"
            "; jpeg_p %g background %d levels %d expression prior %s\n",
            fm->name, (unsigned long long)c->seed, (long long)c->count, (long long)first,
            (long long)n, (double)c->id_std, (double)c->exp_std, (double)c->tex_std,
            (double)c->yaw_deg, (double)c->pitch_deg, (double)c->roll_deg, (double)c->trans_px,
            (double)c->dist_frac, (double)c->deform_mm, (double)c->disp_mm,
            (double)c->detail_strength, (double)c->occluder_p, (double)c->noise_max,
            (double)c->jpeg_p, c->background, c->levels,
            fm->exp_bounded ? "blendshapes in [0,1]" : "gaussian") > 0;
    if (!ok) {
        hrn_tmpfile_close(&tf, 0);
        return hrn_error_set(HRN_ERR_IO, "%s: write failed", path);
    }
    return hrn_tmpfile_close(&tf, 1);
}

enum hrn_status hrn_synth_write_folder(const struct hrn_face_model *fm,
                                       const struct hrn_synth_data_config *c, int64_t first,
                                       int64_t n, int64_t n_val, const char *root, int threads) {
    enum hrn_status st = HRN_OK;
    struct hrn_synth_ctx x = {0};
    char path[1200];
    if (!fm || !c || !root || !root[0])
        return hrn_error_set(HRN_ERR_INVALID, "synthetic folder: no model, config or root");
    if (first < 0 || n < 1 || (c->count > 0 && first + n > c->count) || n_val < 0 || n_val > n ||
        threads < 0)
        return hrn_error_set(HRN_ERR_INVALID,
                             "synthetic folder %s: samples [%lld, %lld) with %lld "
                             "for validation and %d threads do not fit a dataset of %lld",
                             root, (long long)first, (long long)(first + n), (long long)n_val,
                             threads, (long long)c->count);
    static const char *const DIRS[] = {"images/landmarks", "images/mask", "images/gt", "datalist"};
    for (int i = 0; i < 4; i++) {
        SYNTH_TRY(join(path, sizeof path, root, DIRS[i], "", ""));
        SYNTH_TRY(mkdirs(path));
    }
    SYNTH_TRY(hrn_face_model_compact(fm)); /* before the threads: the ops would make it lazily */
    SYNTH_TRY(synth_ctx_init(&x, fm));
    HRN_TRY(run_workers(&x, c, first, n, root, threads < 1 ? 1 : threads));
    HRN_TRY(write_list(root, "train.txt", c, first, first + n - n_val));
    HRN_TRY(write_list(root, "val.txt", c, first + n - n_val, first + n));
    HRN_TRY(write_ini(root, fm, c, first, n));
fail:
    synth_ctx_free(&x);
    return st;
}
