/* prep.c: a folder of raw photos into Deep3DFaceRecon's training layout (hrn-data prep): each
 * photo's face found by face-api's detector and 68-point net (detect/), the photo copied to
 * <out>/images/, its 68 landmarks (landmarks/<stem>.txt, Deep3D's y up), its 5 points
 * (detections/<stem>.txt, y down) and a skin mask (mask/<stem>.png: Deep3D's skin-colour model
 * inside the landmark face region) beside it, and datalist/train.txt, val.txt: what
 * hrn_dataset_open_folder and hrn-train's data.kind = folder read, with no landmark files needed
 * from the user. Photos without a face are listed in prep_report.tsv and left out; with several
 * faces the largest is taken (the detector's order). */
#include "hrn_data.h"
#include "hrn_detect.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TRY_RET(expr)                                  \
    do {                                               \
        enum hrn_status s_ = (expr);                   \
        if (s_ != HRN_OK) return s_;                   \
    } while (0)

enum { PREP_MAX_PHOTOS = 1 << 20, PREP_PATH = 1400 };

static int is_photo(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || name[0] == '.') return 0;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the photo names of dir, sorted (so the split and the lists do not depend on readdir's order) */
static enum hrn_status list_photos(const char *dir, char ***names, int *n) {
    DIR *d = opendir(dir);
    *names = NULL;
    *n = 0;
    if (!d) return hrn_error_set(HRN_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct dirent *e;
    int cap = 0;
    enum hrn_status st = HRN_OK;
    while ((e = readdir(d)) && st == HRN_OK) {
        if (!is_photo(e->d_name)) continue;
        if (*n == PREP_MAX_PHOTOS) {
            st = hrn_error_set(HRN_ERR_INVALID, "%s: more than %d photos", dir, PREP_MAX_PHOTOS);
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(*names, (size_t)cap * sizeof *g);
            if (!g) {
                st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
                break;
            }
            *names = g;
        }
        if (!((*names)[*n] = strdup(e->d_name))) st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
        else (*n)++;
    }
    closedir(d);
    if (st == HRN_OK && *n == 0)
        st = hrn_error_set(HRN_ERR_INVALID, "%s: no .jpg, .jpeg or .png photos", dir);
    if (*n > 1) qsort(*names, (size_t)*n, sizeof **names, cmp_str);
    return st;
}

static enum hrn_status copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    struct hrn_tmpfile tf = {0};
    enum hrn_status st = hrn_tmpfile_open(&tf, to);
    char buf[1 << 16];
    size_t k;
    while (st == HRN_OK && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, tf.fp) != k) st = hrn_error_set(HRN_ERR_IO, "%s: write failed", to);
    if (st == HRN_OK && ferror(in)) st = hrn_error_set(HRN_ERR_IO, "%s: read error", from);
    fclose(in);
    if (tf.fp) {
        enum hrn_status cs = hrn_tmpfile_close(&tf, st == HRN_OK);
        if (st == HRN_OK) st = cs;
    }
    return st;
}

/* the mask (h,w) in [0,1] as an 8-bit gray PNG */
static enum hrn_status write_mask(const char *path, const float *m, int w, int h) {
    struct hrn_image im = {0};
    TRY_RET(hrn_image_init(&im, w, h, 1));
    memcpy(im.data, m, (size_t)w * h * sizeof(float));
    enum hrn_status st = hrn_image_write_png(path, &im, 8);
    hrn_image_free(&im);
    return st;
}

/* One photo's files under out/images; *found = 0 (and nothing written) when no face is found. */
static enum hrn_status prep_one(struct hrn_detect *det, const char *src, const char *out,
                                const char *name, int *found, char *why, size_t why_cap) {
    enum hrn_status st = HRN_OK;
    struct hrn_image img = {0};
    struct hrn_face faces[16];
    int n = 0;
    float *mask = NULL;
    char p[PREP_PATH], stem[512];
    snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(name, '.') - name), name);
    struct hrn_detect_options o = hrn_detect_defaults();
    *found = 0;
    HRN_TRY(hrn_image_read(src, HRN_IMAGE_RGB, &img));
    HRN_TRY(hrn_detect_faces(det, &img, &o, faces, 16, &n));
    if (n == 0) {
        snprintf(why, why_cap, "no face found");
        goto fail;
    }
    float lm_up[68 * 2]; /* Deep3D's landmark files: y up */
    for (int i = 0; i < 68; i++) {
        lm_up[2 * i] = faces[0].lm68[2 * i];
        lm_up[2 * i + 1] = (float)(img.h - 1) - faces[0].lm68[2 * i + 1];
    }
    mask = malloc((size_t)img.w * img.h * sizeof(float));
    if (!mask) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for its mask", src);
        goto fail;
    }
    HRN_TRY(hrn_skin_mask(&img, faces[0].lm68, 1.5f, mask));
    snprintf(p, sizeof p, "%s/images/landmarks/%s.txt", out, stem);
    HRN_TRY(hrn_lmk_write_txt(p, lm_up, 68));
    snprintf(p, sizeof p, "%s/images/detections/%s.txt", out, stem);
    HRN_TRY(hrn_lmk_write_txt(p, faces[0].lm5, 5));
    snprintf(p, sizeof p, "%s/images/mask/%s.png", out, stem);
    HRN_TRY(write_mask(p, mask, img.w, img.h));
    /* the photo last: a photo in images/ always has its landmarks */
    snprintf(p, sizeof p, "%s/images/%s", out, name);
    HRN_TRY(copy_file(src, p));
    snprintf(why, why_cap, "%d face%s, score %.2f", n, n > 1 ? "s (the largest taken)" : "",
             (double)faces[0].box.score);
    *found = 1;
fail:
    free(mask);
    hrn_image_free(&img);
    return st == HRN_OK ? st : hrn_error_prefix(st, "%s: ", src);
}

static enum hrn_status make_dirs(const char *out) {
    static const char *const SUB[] = {"", "/images", "/images/landmarks", "/images/detections",
                                      "/images/mask", "/datalist"};
    char p[PREP_PATH];
    for (size_t i = 0; i < sizeof SUB / sizeof SUB[0]; i++) {
        snprintf(p, sizeof p, "%s%s", out, SUB[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return hrn_error_set(HRN_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    }
    return HRN_OK;
}

/* datalist/train.txt and val.txt (the last n_val of the kept photos) */
static enum hrn_status write_lists(const char *out, char **names, const int *kept, int n, int n_val) {
    int total = 0;
    for (int i = 0; i < n; i++) total += kept[i];
    int seen = 0;
    char p[PREP_PATH];
    struct hrn_tmpfile tr = {0}, va = {0};
    snprintf(p, sizeof p, "%s/datalist/train.txt", out);
    TRY_RET(hrn_tmpfile_open(&tr, p));
    snprintf(p, sizeof p, "%s/datalist/val.txt", out);
    enum hrn_status st = hrn_tmpfile_open(&va, p);
    if (st != HRN_OK) {
        hrn_tmpfile_close(&tr, 0);
        return st;
    }
    for (int i = 0; i < n; i++) {
        if (!kept[i]) continue;
        fprintf(seen++ < total - n_val ? tr.fp : va.fp, "images/%s\n", names[i]);
    }
    st = hrn_tmpfile_close(&tr, 1);
    enum hrn_status sv = hrn_tmpfile_close(&va, st == HRN_OK);
    return st == HRN_OK ? sv : st;
}

enum hrn_status hrn_prep_folder(const char *photos, const char *out, const char *weights,
                                int n_val, int *n_kept, int *n_total) {
    enum hrn_status st = HRN_OK;
    struct hrn_detect det = {0};
    char **names = NULL, p[PREP_PATH], why[256];
    int n = 0, *kept = NULL;
    struct hrn_tmpfile rep = {0};
    *n_kept = *n_total = 0;
    HRN_TRY(list_photos(photos, &names, &n));
    HRN_TRY(hrn_detect_load(&det, weights));
    HRN_TRY(make_dirs(out));
    kept = calloc((size_t)n, sizeof *kept);
    if (!kept) {
        st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
        goto fail;
    }
    snprintf(p, sizeof p, "%s/prep_report.tsv", out);
    HRN_TRY(hrn_tmpfile_open(&rep, p));
    fprintf(rep.fp, "photo\tkept\tnote\n");
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", photos, names[i]);
        HRN_TRY(prep_one(&det, p, out, names[i], &kept[i], why, sizeof why));
        fprintf(rep.fp, "%s\t%s\t%s\n", names[i], kept[i] ? "yes" : "no", why);
        if (!kept[i]) hrn_log(HRN_LOG_WARN, "%s: %s: left out", p, why);
        *n_kept += kept[i];
    }
    *n_total = n;
    st = hrn_tmpfile_close(&rep, 1);
    if (st == HRN_OK && *n_kept == 0)
        st = hrn_error_set(HRN_ERR_INVALID, "%s: no face found in any of the %d photos", photos, n);
    if (st == HRN_OK) st = write_lists(out, names, kept, n, n_val < *n_kept ? n_val : 0);
fail:
    if (rep.fp) hrn_tmpfile_close(&rep, 0);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(kept);
    hrn_detect_free(&det);
    return st;
}
