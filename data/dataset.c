/* dataset.c: training datasets: synthetic (made on the fly by hrn_synth_sample) and folders in
 * Deep3DFaceRecon's layout (training.md 1.1), validated whole before training starts, and their
 * samples: a photo aligned to the 224 crop (hrn_method.md 1.1 step 7) as hrn-fit does, with its
 * landmarks, mask and ground truth. */
#include "data_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PATH_CAP = 1024, LINE_CAP = 4096, CROP = 224 };

/* The face region without a mask file: hrn-fit's default brow lift (configs/fit.ini forehead). */
static const float FOREHEAD = 1.5f;

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Crop rescale for the model's units (hrn_data.h: 102 px per decimetre). */
static double crop_rescale(const struct hrn_face_model *fm) {
    return fm ? 102.0 * (double)fm->mm_per_unit / 100.0 : 102.0;
}

/* --- paths of an entry -------------------------------------------------------------------------
 */

/* The directory and stem of a photo path: "a/b/c.jpg" -> "a/b", "c"; "c.jpg" -> ".", "c". */
static enum hrn_status split_path(const char *photo, char *dir, char *stem) {
    const char *slash = strrchr(photo, '/');
    const char *base = slash ? slash + 1 : photo;
    size_t dn = slash ? (size_t)(slash - photo) : 1;
    if (dn >= PATH_CAP || strlen(base) >= PATH_CAP)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", photo);
    if (slash) {
        memcpy(dir, photo, dn);
        dir[dn] = 0;
        if (dn == 0) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    strcpy(stem, base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    return HRN_OK;
}

/* <dir>/<sub>/<stem><ext> into out. */
static enum hrn_status side_path(const char *photo, const char *sub, const char *ext, char *out) {
    char dir[PATH_CAP], stem[PATH_CAP];
    enum hrn_status st = split_path(photo, dir, stem);
    if (st != HRN_OK) return st;
    int k = snprintf(out, PATH_CAP, "%s/%s/%s%s", dir, sub, stem, ext);
    if (k < 0 || k >= PATH_CAP) return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", photo);
    return HRN_OK;
}

/* The files an entry has beside its photo (HRN_DATASET_HAS_*); the mask path in mask_out. */
static unsigned entry_files(const char *photo, char *mask_out) {
    char p[PATH_CAP];
    unsigned f = 0;
    if (side_path(photo, "landmarks", ".txt", p) == HRN_OK && file_exists(p))
        f |= HRN_DATASET_HAS_LM68;
    if (side_path(photo, "detections", ".txt", p) == HRN_OK && file_exists(p))
        f |= HRN_DATASET_HAS_DET5;
    if (side_path(photo, "gt", ".h5", p) == HRN_OK && file_exists(p)) f |= HRN_DATASET_HAS_GT;
    /* Deep3D's masks are PNGs; a mask saved under the photo's own file name is accepted too */
    mask_out[0] = 0;
    if (side_path(photo, "mask", ".png", p) == HRN_OK && file_exists(p)) {
        f |= HRN_DATASET_HAS_MASK;
        strcpy(mask_out, p);
    } else {
        const char *dot = strrchr(photo, '.');
        if (dot && !strchr(dot, '/') && side_path(photo, "mask", dot, p) == HRN_OK &&
            file_exists(p)) {
            f |= HRN_DATASET_HAS_MASK;
            strcpy(mask_out, p);
        }
    }
    return f;
}

/* Deep3D lists name masks (<dir>/mask/<stem>.png); its loader takes the photo at <dir>/<stem> with
 * the mask's extension. Other extensions are tried too, since photos are often JPEGs. */
static enum hrn_status mask_line_to_photo(const char *path, char *photo) {
    const char *slash = strrchr(path, '/');
    int is_mask = slash && slash - path >= 4 && !strncmp(slash - 4, "mask", 4) &&
                  (slash - 4 == path || slash[-5] == '/'); /* the parent folder is "mask" */
    if (!is_mask) {
        if ((size_t)snprintf(photo, PATH_CAP, "%s", path) >= PATH_CAP)
            return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", path);
        return HRN_OK;
    }
    char stem[PATH_CAP];
    snprintf(stem, sizeof stem, "%s", slash + 1);
    char *dot = strrchr(stem, '.');
    const char *mext = dot && dot != stem ? strrchr(path, '.') : "";
    if (dot && dot != stem) *dot = 0;
    int dn = (int)(slash - 4 - path); /* "<dir>/" including the slash, or 0 */
    const char *exts[] = {mext, ".jpg", ".png", ".jpeg", ".JPG", ".PNG", ".JPEG"};
    for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++) {
        int n = snprintf(photo, PATH_CAP, "%.*s%s%s", dn, path, stem, exts[k]);
        if (n < 0 || n >= PATH_CAP)
            return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", path);
        if (file_exists(photo)) return HRN_OK;
    }
    return hrn_error_set(HRN_ERR_IO,
                         "%s: no photo for this mask (looked for %.*s%s.{jpg,png,jpeg})", path, dn,
                         path, stem);
}

/* --- cheap header reads ------------------------------------------------------------------------
 */

static unsigned be16(const unsigned char *b) { return (unsigned)b[0] << 8 | b[1]; }
static unsigned long be32(const unsigned char *b) {
    return (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 | (unsigned long)b[2] << 8 | b[3];
}

/* JPEG: walk the markers to the first start-of-frame (SOF0..15 but DHT C4, JPG C8, DAC CC). */
static int jpeg_size(FILE *fp, int *w, int *h) {
    unsigned char b[8];
    for (;;) {
        int c = fgetc(fp);
        if (c != 0xFF) return 0;
        while ((c = fgetc(fp)) == 0xFF) {
        }
        if (c == EOF) return 0;
        if (c == 0xD8 || c == 0x01 || (c >= 0xD0 && c <= 0xD7)) continue; /* no length */
        if (fread(b, 1, 2, fp) != 2) return 0;
        unsigned len = be16(b);
        if (len < 2) return 0;
        if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
            if (fread(b, 1, 5, fp) != 5) return 0;
            *h = (int)be16(b + 1);
            *w = (int)be16(b + 3);
            return 1;
        }
        if (c == 0xD9 || c == 0xDA) return 0; /* end of image / scan before any frame */
        if (fseek(fp, (long)len - 2, SEEK_CUR) != 0) return 0;
    }
}

/* Width and height of a PNG or JPEG from its header, without decoding it. */
static enum hrn_status image_size(const char *path, int *w, int *h) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char b[24];
    size_t n = fread(b, 1, sizeof b, fp);
    int ok = 0;
    *w = *h = 0;
    if (n >= 24 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8) && !memcmp(b + 12, "IHDR", 4)) {
        unsigned long pw = be32(b + 16), ph = be32(b + 20);
        ok = pw >= 1 && ph >= 1 && pw <= HRN_IMAGE_MAX_SIDE && ph <= HRN_IMAGE_MAX_SIDE;
        *w = (int)(ok ? pw : 0), *h = (int)(ok ? ph : 0);
    } else if (n >= 2 && b[0] == 0xFF && b[1] == 0xD8) {
        ok = fseek(fp, 2, SEEK_SET) == 0 && jpeg_size(fp, w, h) && *w >= 1 && *h >= 1;
    } else {
        fclose(fp);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: not a PNG or JPEG image", path);
    }
    fclose(fp);
    if (!ok) return hrn_error_set(HRN_ERR_FORMAT, "%s: corrupt or truncated image header", path);
    return HRN_OK;
}

/* --- landmarks -------------------------------------------------------------------------------- */

/* The landmarks of an entry: 68 from landmarks/ (stored y up; turned y down, y = h-1-y', when
 * h > 0) or else 5 from detections/ (y down). *n gets 68 or 5. */
static enum hrn_status entry_landmarks(const char *photo, unsigned files, int h, float *lm,
                                       int *n) {
    char p[PATH_CAP];
    enum hrn_status st;
    if (files & HRN_DATASET_HAS_LM68) {
        if ((st = side_path(photo, "landmarks", ".txt", p)) != HRN_OK) return st;
        if ((st = hrn_lmk_read_txt(p, 68, lm, 68, NULL)) != HRN_OK) return st;
        for (int k = 0; h > 0 && k < 68; k++)
            lm[2 * k + 1] = (float)(h - 1) - lm[2 * k + 1];
        *n = 68;
        return HRN_OK;
    }
    if (files & HRN_DATASET_HAS_DET5) {
        if ((st = side_path(photo, "detections", ".txt", p)) != HRN_OK) return st;
        if ((st = hrn_lmk_read_txt(p, 5, lm, 68, NULL)) != HRN_OK) return st;
        *n = 5;
        return HRN_OK;
    }
    char q[PATH_CAP];
    side_path(photo, "landmarks", ".txt", p);
    side_path(photo, "detections", ".txt", q);
    return hrn_error_set(HRN_ERR_IO, "%s: no landmarks (neither %s nor %s exists)", photo, p, q);
}

/* --- validation ------------------------------------------------------------------------------- */

/* Every check an entry can fail without decoding its pixels: photo header (and size when
 * aligned), landmarks (count, finite, alignable), mask size, gt shapes. */
static enum hrn_status check_entry(const struct hrn_dataset *ds, const char *photo,
                                   unsigned *files) {
    enum hrn_status st;
    char mask[PATH_CAP], p[PATH_CAP];
    int w = 0, h = 0, n = 0;
    float lm[68 * 2];
    *files = entry_files(photo, mask);
    if ((st = image_size(photo, &w, &h)) != HRN_OK) return st;
    if (ds->aligned && (w != CROP || h != CROP))
        return hrn_error_set(HRN_ERR_FORMAT,
                             "%s: image is %dx%d, expected %dx%d (dataset.ini: "
                             "aligned = true)",
                             photo, w, h, CROP, CROP);
    if ((st = entry_landmarks(photo, *files, ds->aligned ? 0 : h, lm, &n)) != HRN_OK) return st;
    if (!ds->aligned) {
        struct hrn_align a;
        if ((st = hrn_align_fit(lm, n, w, h, ds->lm5_3d, &a)) != HRN_OK)
            return hrn_error_prefix(st, "%s: cannot align from its landmarks: ", photo);
    }
    if (*files & HRN_DATASET_HAS_MASK) {
        int mw = 0, mh = 0;
        if ((st = image_size(mask, &mw, &mh)) != HRN_OK) return st;
        if (mw != w || mh != h)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: mask is %dx%d, its image %s is %dx%d", mask,
                                 mw, mh, photo, w, h);
    }
    if (*files & HRN_DATASET_HAS_GT) {
        if ((st = side_path(photo, "gt", ".h5", p)) != HRN_OK) return st;
        int64_t nc = ds->fm ? hrn_face_model_n_coeffs(ds->fm) : -1;
        int64_t nv = ds->fm ? ds->fm->n_verts : -1;
        if ((st = hrn__sample_gt_check(p, nc, nv)) != HRN_OK) return st;
    }
    return HRN_OK;
}

/* dataset.ini at the root: only `aligned` is read (any section; other keys are the writer's
 * business). A missing file means a folder of photos. */
static enum hrn_status read_dataset_ini(const char *root, int *aligned) {
    char path[PATH_CAP], line[512];
    *aligned = 0;
    if (snprintf(path, sizeof path, "%s/dataset.ini", root) >= (int)sizeof path)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", root);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno == ENOENT
                   ? HRN_OK
                   : hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    for (int ln = 1; fgets(line, sizeof line, fp); ln++) {
        char key[64], val[64];
        if (sscanf(line, " %63[A-Za-z0-9_] = %63[^ \t\r\n;#]", key, val) != 2 ||
            strcmp(key, "aligned") != 0)
            continue;
        for (char *c = val; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "on") || !strcmp(val, "1"))
            *aligned = 1;
        else if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "off") ||
                 !strcmp(val, "0"))
            *aligned = 0;
        else {
            fclose(fp);
            return hrn_error_set(HRN_ERR_CONFIG, "%s:%d: aligned = '%s': expected true or false",
                                 path, ln, val);
        }
    }
    fclose(fp);
    return HRN_OK;
}

/* Trim a list line in place; NULL for blank lines and comments. */
static char *list_entry(char *line) {
    char *s = line, *e;
    while (*s && isspace((unsigned char)*s))
        s++;
    if (!*s || *s == '#') return NULL;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static enum hrn_status push_entry(struct hrn_dataset *ds, int64_t *cap, const char *photo,
                                  unsigned files) {
    if (ds->n == *cap) {
        int64_t nc = *cap ? 2 * *cap : 256;
        char **p = realloc(ds->paths, (size_t)nc * sizeof *p);
        if (p) ds->paths = p;
        uint8_t *f = p ? realloc(ds->files, (size_t)nc) : NULL;
        if (f) ds->files = f;
        if (!p || !f)
            return hrn_error_set(HRN_ERR_NOMEM, "dataset: no memory for %lld entries",
                                 (long long)nc);
        *cap = nc;
    }
    size_t len = strlen(photo) + 1;
    char *copy = malloc(len);
    if (!copy) return hrn_error_set(HRN_ERR_NOMEM, "dataset: no memory for a path");
    memcpy(copy, photo, len);
    ds->paths[ds->n] = copy;
    ds->files[ds->n] = (uint8_t)files;
    ds->n++;
    return HRN_OK;
}

/* One list line: resolve, check, report. Returns HRN_OK for a good entry (pushed), a failure
 * status for a bad one (reported, first message kept in `first`), or an error of its own. */
static enum hrn_status take_line(struct hrn_dataset *ds, int64_t *cap, const char *list, int ln,
                                 const char *entry, FILE *report, char *first, size_t first_cap,
                                 int *bad) {
    char full[PATH_CAP], photo[PATH_CAP];
    unsigned files = 0;
    enum hrn_status st;
    int k = entry[0] == '/' ? snprintf(full, sizeof full, "%s", entry)
                            : snprintf(full, sizeof full, "%s/%s", ds->root, entry);
    if (k < 0 || k >= (int)sizeof full)
        st = hrn_error_set(HRN_ERR_INVALID, "%s: path too long", entry);
    else if ((st = mask_line_to_photo(full, photo)) == HRN_OK)
        st = check_entry(ds, photo, &files);
    if (st == HRN_OK) return push_entry(ds, cap, photo, files);
    if (st == HRN_ERR_NOMEM) return st;
    *bad = 1;
    if (report) fprintf(report, "%s:%d: %s\n", list, ln, hrn_error_msg());
    if (!first[0]) snprintf(first, first_cap, "%s:%d: %s", list, ln, hrn_error_msg());
    return HRN_OK;
}

enum hrn_status hrn_dataset_open_folder(struct hrn_dataset *ds, const struct hrn_face_model *fm,
                                        const char *root, const char *list,
                                        enum hrn_dataset_policy policy, FILE *report) {
    enum hrn_status st = HRN_OK;
    char line[LINE_CAP], first[1200] = "";
    int64_t cap = 0, lines = 0;
    FILE *fp = NULL;
    memset(ds, 0, sizeof *ds);
    ds->kind = HRN_DATASET_FOLDER;
    ds->fm = fm;
    if ((size_t)snprintf(ds->root, sizeof ds->root, "%s", root) >= sizeof ds->root)
        return hrn_error_set(HRN_ERR_INVALID, "dataset root %s: path too long", root);
    HRN_TRY(read_dataset_ini(root, &ds->aligned));
    if (!ds->aligned) {
        if (!fm) {
            st = hrn_error_set(HRN_ERR_INVALID,
                               "dataset %s: photos that are not aligned crops "
                               "need a face model for the alignment",
                               root);
            goto fail;
        }
        if ((st = hrn_model_lm5(fm, ds->lm5_3d)) != HRN_OK) {
            st = hrn_error_prefix(st, "dataset %s: face model %s: ", root, fm->name);
            goto fail;
        }
    }
    fp = fopen(list, "r");
    if (!fp) {
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", list, strerror(errno));
        goto fail;
    }
    for (int ln = 1; fgets(line, sizeof line, fp); ln++) {
        if (!strchr(line, '\n') && !feof(fp)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%d: line longer than %d characters", list, ln,
                               LINE_CAP - 2);
            goto fail;
        }
        char *entry = list_entry(line);
        if (!entry) continue;
        int bad = 0;
        lines++;
        HRN_TRY(take_line(ds, &cap, list, ln, entry, report, first, sizeof first, &bad));
        ds->n_bad += bad;
    }
    if (ferror(fp)) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error", list);
        goto fail;
    }
    fclose(fp);
    fp = NULL;
    if (lines == 0) {
        st = hrn_error_set(HRN_ERR_INVALID, "%s: no entries", list);
        goto fail;
    }
    if (ds->n_bad > 0 && (policy == HRN_DATASET_STRICT || ds->n == 0)) {
        st = hrn_error_set(HRN_ERR_INVALID, "%s: %lld of %lld entries are bad%s; the first: %s",
                           list, (long long)ds->n_bad, (long long)lines,
                           policy == HRN_DATASET_STRICT ? "" : " (none is left)", first);
        goto fail;
    }
    if (ds->n_bad > 0)
        hrn_log(HRN_LOG_WARN, "%s: %lld of %lld entries are bad and left out", list,
                (long long)ds->n_bad, (long long)lines);
    return HRN_OK;
fail:
    if (fp) fclose(fp);
    hrn_dataset_free(ds);
    return st;
}

enum hrn_status hrn_dataset_open_synth(struct hrn_dataset *ds, const struct hrn_face_model *fm,
                                       const struct hrn_synth_data_config *c) {
    memset(ds, 0, sizeof *ds);
    if (!fm) return hrn_error_set(HRN_ERR_INVALID, "synthetic dataset: no face model");
    if (c->count < 1)
        return hrn_error_set(HRN_ERR_INVALID, "synthetic dataset: count %lld, expected >= 1",
                             (long long)c->count);
    /* the context makes the model's compact bases too: loader threads only read both */
    enum hrn_status st = hrn_synth_ctx_new(&ds->synth_ctx, fm);
    if (st != HRN_OK) return hrn_error_prefix(st, "synthetic dataset: ");
    ds->kind = HRN_DATASET_SYNTH;
    ds->fm = fm;
    ds->synth = *c;
    ds->n = c->count;
    ds->aligned = 1;
    return HRN_OK;
}

void hrn_dataset_free(struct hrn_dataset *ds) {
    if (!ds) return;
    for (int64_t i = 0; ds->paths && i < ds->n; i++)
        free(ds->paths[i]);
    free(ds->paths);
    free(ds->files);
    hrn_synth_ctx_free(ds->synth_ctx);
    memset(ds, 0, sizeof *ds);
}

/* --- loading a sample ---------------------------------------------------------------------------
 */

/* The mask of the photo cropped as the photo (or taken as it is when aligned), 1 where > 0.5:
 * hrn-fit's treatment of masks. */
static enum hrn_status load_mask(const struct hrn_dataset *ds, const char *path, int w, int h,
                                 const struct hrn_align *a, float **out) {
    enum hrn_status st = HRN_OK;
    struct hrn_image m = {0}, crop = {0};
    HRN_TRY(hrn_image_read(path, HRN_IMAGE_GRAY, &m));
    if (m.w != w || m.h != h) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: mask is %dx%d, its image is %dx%d", path, m.w, m.h,
                           w, h);
        goto fail;
    }
    if (!ds->aligned)
        HRN_TRY(hrn_align_crop(&m, a, CROP, crop_rescale(ds->fm), &crop, NULL, 0, NULL));
    const struct hrn_image *src = ds->aligned ? &m : &crop;
    *out = malloc((size_t)CROP * CROP * sizeof(float));
    if (!*out) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for the mask", path);
        goto fail;
    }
    for (int i = 0; i < CROP * CROP; i++)
        (*out)[i] = src->data[i] > 0.5f ? 1.0f : 0.0f;
fail:
    hrn_image_free(&m);
    hrn_image_free(&crop);
    return st;
}

/* Ground truth; coefficient and vertex counts must fit the dataset's model. */
static enum hrn_status load_gt(const struct hrn_dataset *ds, const char *photo,
                               struct hrn_sample_gt *gt) {
    char p[PATH_CAP];
    enum hrn_status st = side_path(photo, "gt", ".h5", p);
    if (st == HRN_OK) st = hrn_sample_gt_load(p, gt);
    if (st != HRN_OK || !ds->fm) return st;
    if (gt->coeffs && gt->n_coeffs != hrn_face_model_n_coeffs(ds->fm))
        return hrn_error_set(HRN_ERR_FORMAT,
                             "%s: dataset 'coeffs' has %lld values, the model %s "
                             "%lld",
                             p, (long long)gt->n_coeffs, ds->fm->name,
                             (long long)hrn_face_model_n_coeffs(ds->fm));
    if (gt->verts && gt->n_verts != ds->fm->n_verts)
        return hrn_error_set(HRN_ERR_FORMAT,
                             "%s: dataset 'verts' has %lld vertices, the model %s "
                             "%lld",
                             p, (long long)gt->n_verts, ds->fm->name, (long long)ds->fm->n_verts);
    return HRN_OK;
}

static enum hrn_status get_folder(const struct hrn_dataset *ds, int64_t i, struct hrn_sample *s) {
    enum hrn_status st = HRN_OK;
    const char *photo = ds->paths[i];
    unsigned files = ds->files[i];
    struct hrn_image img = {0};
    float lm[68 * 2];
    int n = 0;
    char dir[PATH_CAP], stem[PATH_CAP], mask[PATH_CAP];
    HRN_TRY(split_path(photo, dir, stem));
    size_t len =
        strlen(stem) < sizeof s->name ? strlen(stem) : sizeof s->name - 1; /* cut long stems */
    memcpy(s->name, stem, len);
    s->name[len] = 0;
    HRN_TRY(hrn_image_read(photo, HRN_IMAGE_RGB, &img));
    if (ds->aligned && (img.w != CROP || img.h != CROP)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: image is %dx%d, expected %dx%d", photo, img.w,
                           img.h, CROP, CROP);
        goto fail;
    }
    int w0 = img.w, h0 = img.h;
    /* an aligned crop's y-up landmarks are the sample's as they are; a photo's go y down */
    HRN_TRY(entry_landmarks(photo, files, ds->aligned ? 0 : h0, lm, &n));
    for (int k = 0; k < 68 * 2; k++)
        s->lm[k] = NAN; /* unknown unless given */
    struct hrn_align a = {0};
    if (ds->aligned) {
        s->img = img;
        img.data = NULL;
        if (n == 68) memcpy(s->lm, lm, sizeof lm);
    } else {
        HRN_TRY(hrn_align_fit(lm, n, img.w, img.h, ds->lm5_3d, &a));
        float lm_crop[68 * 2];
        HRN_TRY(hrn_align_crop(&img, &a, CROP, crop_rescale(ds->fm), &s->img, lm, n, lm_crop));
        if (n == 68) memcpy(s->lm, lm_crop, sizeof lm_crop);
    }
    if (files & HRN_DATASET_HAS_MASK) {
        entry_files(photo, mask);
        HRN_TRY(load_mask(ds, mask, w0, h0, &a, &s->mask));
    } else if (n == 68) {
        s->mask = malloc((size_t)CROP * CROP * sizeof(float));
        if (!s->mask) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for the mask", photo);
            goto fail;
        }
        HRN_TRY(hrn_face_region_mask(s->lm, CROP, FOREHEAD, s->mask));
    }
    if (files & HRN_DATASET_HAS_GT) HRN_TRY(load_gt(ds, photo, &s->gt));
    hrn_image_free(&img);
    return HRN_OK;
fail:
    hrn_image_free(&img);
    return st;
}

enum hrn_status hrn_dataset_get(const struct hrn_dataset *ds, int64_t i, struct hrn_sample *out) {
    static const float identity[6] = {1, 0, 0, 0, 1, 0};
    enum hrn_status st;
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= ds->n)
        return hrn_error_set(HRN_ERR_INVALID, "dataset: sample %lld of %lld", (long long)i,
                             (long long)ds->n);
    if (ds->kind == HRN_DATASET_SYNTH) {
        st = ds->synth_ctx ? hrn_synth_sample_ctx(ds->synth_ctx, &ds->synth, i, out)
                           : hrn_synth_sample(ds->fm, &ds->synth, i, out);
        if (st == HRN_OK && !out->name[0])
            snprintf(out->name, sizeof out->name, "synth_%llu_%lld",
                     (unsigned long long)ds->synth.seed, (long long)i);
    } else {
        st = get_folder(ds, i, out);
    }
    if (st != HRN_OK) {
        hrn_sample_free(out);
        return st;
    }
    out->index = i;
    memcpy(out->aug_affine, identity, sizeof identity);
    out->aug_flip = 0;
    return HRN_OK;
}
