/* test_data_loader.c: training data: ground-truth files, folder datasets in Deep3D's layout
 * (photos aligned on load, aligned crops, validation of every entry), augmentation (landmarks
 * against the augmented image, the mirror permutation, UV maps), and the loader (the same bytes
 * whatever the thread count, exact resume, epoch permutations, failing samples). */
#include "hrn_data.h"
#include "hrn_test.h"

#include <stdint.h>
#include <unistd.h>

/* --- fixtures ------------------------------------------------------------------------------- */

static char g_tmp[64]; /* the temporary directory of this run */

static void join(char *out, size_t cap, const char *rel) {
    snprintf(out, cap, "%s/%s", g_tmp, rel);
}

static int sh(const char *cmd) { return system(cmd); }

static void mkdirs(const char *rel) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", g_tmp, rel);
    CHECK(sh(cmd) == 0);
}

static void write_text(const char *rel, const char *text) {
    char p[512];
    join(p, sizeof p, rel);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* The synthetic face rendered with HRN's camera (the frame of an aligned crop) and its 68
 * landmarks in y-up crop pixels. Shared by every case. */
struct face {
    struct hrn_face_model fm;
    struct hrn_image render; /* (3,224,224) */
    float lm[68 * 2];        /* y up */
};
static struct face g_face;

static int face_init(void) {
    struct face *f = &g_face;
    if (f->render.data) return 1;
    if (hrn_synth_face(&f->fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) !=
        HRN_OK)
        return 0;
    float *coeffs = calloc((size_t)hrn_face_model_n_coeffs(&f->fm), sizeof(float));
    float *verts = malloc((size_t)(3 * f->fm.n_verts) * sizeof(float));
    struct hrn_camera cam = hrn_camera_default();
    int ok = coeffs && verts && hrn_render_shaded(&f->fm, coeffs, &cam, NULL, &f->render) == HRN_OK;
    if (ok) {
        hrn_face_posed(&f->fm, coeffs, verts);
        for (int i = 0; i < 68; i++) {
            float uvz[3];
            hrn_project(&cam, verts + 3 * f->fm.lmk68[i], 1, uvz);
            f->lm[2 * i] = uvz[0] - 0.5f; /* (u, v) -> y-up pixel centres */
            f->lm[2 * i + 1] = uvz[1] - 0.5f;
        }
    }
    free(coeffs);
    free(verts);
    return ok;
}

/* A "photo": the render scaled by sc and placed at (ox, oy) in a w x h image (black around), its
 * y-down landmarks, and the face coverage as a mask image. */
static void make_photo(double sc, double ox, double oy, int w, int h, struct hrn_image *photo,
                       struct hrn_image *mask, float *lm_ydown) {
    double A[6] = {1 / sc, 0, -ox / sc, 0, 1 / sc, -oy / sc};
    CHECK_OK(hrn_image_warp_affine(&g_face.render, A, w, h, NULL, photo));
    CHECK_OK(hrn_image_init(mask, w, h, 1));
    for (size_t p = 0; photo->data && mask->data && p < (size_t)w * (size_t)h; p++)
        mask->data[p] = photo->data[p] > 0.0f ? 1.0f : 0.0f;
    for (int i = 0; i < 68; i++) {
        lm_ydown[2 * i] = (float)((double)g_face.lm[2 * i] * sc + ox);
        lm_ydown[2 * i + 1] = (float)((223.0 - (double)g_face.lm[2 * i + 1]) * sc + oy);
    }
}

/* y-down photo landmarks to Deep3D's landmarks/ file convention (y up: H-1-y). */
static void write_lm_yup(const char *rel, const float *lm_ydown, int h) {
    float t[68 * 2];
    for (int k = 0; k < 68; k++) {
        t[2 * k] = lm_ydown[2 * k];
        t[2 * k + 1] = (float)(h - 1) - lm_ydown[2 * k + 1];
    }
    char p[512];
    join(p, sizeof p, rel);
    CHECK_OK(hrn_lmk_write_txt(p, t, 68));
}

static void write_png(const char *rel, const struct hrn_image *img) {
    char p[512];
    join(p, sizeof p, rel);
    CHECK_OK(hrn_image_write_png(p, img, 8));
}

/* A ground truth with every map (values from the index, so two differ) and optionally coeffs and
 * verts of the model's sizes. */
static void make_gt(struct hrn_sample_gt *g, const struct hrn_face_model *fm, uint64_t seed) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    memset(g, 0, sizeof *g);
    g->n_coeffs = hrn_face_model_n_coeffs(fm);
    g->n_verts = fm->n_verts;
    g->coeffs = malloc((size_t)g->n_coeffs * sizeof(float));
    g->verts = malloc((size_t)(3 * g->n_verts) * sizeof(float));
    g->deform = malloc(3 * 64 * 64 * sizeof(float));
    g->disp = malloc(256 * 256 * sizeof(float));
    g->albedo = malloc(3 * 256 * 256 * sizeof(float));
    g->albedo_detail = malloc(3 * 256 * 256 * sizeof(float));
    g->skin = malloc(256 * 256 * sizeof(float));
    hrn_rng_fill_normal(&r, g->coeffs, (size_t)g->n_coeffs, 0, 1);
    hrn_rng_fill_normal(&r, g->verts, (size_t)(3 * g->n_verts), 0, 1);
    hrn_rng_fill_normal(&r, g->deform, 3 * 64 * 64, 0, 0.01f);
    hrn_rng_fill_normal(&r, g->disp, 256 * 256, 0, 0.001f);
    hrn_rng_fill_uniform(&r, g->albedo, 3 * 256 * 256, 0, 1);
    hrn_rng_fill_uniform(&r, g->albedo_detail, 3 * 256 * 256, 0, 1);
    for (int i = 0; i < 256 * 256; i++)
        g->skin[i] = (float)(hrn_rng_uniform(&r) < 0.7);
}

static void gt_release(struct hrn_sample_gt *g) {
    struct hrn_sample s = {0};
    s.gt = *g;
    hrn_sample_free(&s);
    memset(g, 0, sizeof *g);
}

static int floats_equal(const float *a, const float *b, size_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static int gt_equal(const struct hrn_sample_gt *a, const struct hrn_sample_gt *b) {
    return a->n_coeffs == b->n_coeffs && a->n_verts == b->n_verts &&
           floats_equal(a->coeffs, b->coeffs, (size_t)a->n_coeffs) &&
           floats_equal(a->verts, b->verts, (size_t)(3 * a->n_verts)) &&
           floats_equal(a->deform, b->deform, 3 * 64 * 64) &&
           floats_equal(a->disp, b->disp, 256 * 256) &&
           floats_equal(a->albedo, b->albedo, 3 * 256 * 256) &&
           floats_equal(a->albedo_detail, b->albedo_detail, 3 * 256 * 256) &&
           floats_equal(a->skin, b->skin, 256 * 256);
}

/* Byte equality of two samples (what the loader promises whatever the thread count). */
static int sample_equal(const struct hrn_sample *a, const struct hrn_sample *b) {
    if (a->index != b->index || strcmp(a->name, b->name) || a->img.w != b->img.w ||
        a->img.h != b->img.h || a->img.c != b->img.c || a->aug_flip != b->aug_flip)
        return 0;
    size_t np = (size_t)a->img.w * (size_t)a->img.h;
    return floats_equal(a->img.data, b->img.data, np * (size_t)a->img.c) &&
           memcmp(a->lm, b->lm, sizeof a->lm) == 0 && floats_equal(a->mask, b->mask, np) &&
           memcmp(a->aug_affine, b->aug_affine, sizeof a->aug_affine) == 0 &&
           gt_equal(&a->gt, &b->gt);
}

/* --- ground truth files ------------------------------------------------------------------------
 */

static void test_gt_round_trip(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    char p[512], tmp[520];
    mkdirs("gt_rt");
    join(p, sizeof p, "gt_rt/full.h5");
    struct hrn_sample_gt g, back = {0}, part = {0};
    make_gt(&g, &g_face.fm, 3);
    CHECK_OK(hrn_sample_gt_save(p, &g));
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CHECK(access(tmp, F_OK) != 0); /* committed: no temporary left */
    CHECK_OK(hrn_sample_gt_load(p, &back));
    CHECK(gt_equal(&g, &back));
    gt_release(&back);

    /* only some arrays: the others come back NULL */
    struct hrn_sample_gt only = {.deform = g.deform, .skin = g.skin};
    join(p, sizeof p, "gt_rt/part.h5");
    CHECK_OK(hrn_sample_gt_save(p, &only));
    CHECK_OK(hrn_sample_gt_load(p, &part));
    CHECK(part.coeffs == NULL && part.verts == NULL && part.disp == NULL && part.albedo == NULL &&
          part.albedo_detail == NULL && part.n_coeffs == 0 && part.n_verts == 0);
    CHECK(floats_equal(part.deform, g.deform, 3 * 64 * 64));
    CHECK(floats_equal(part.skin, g.skin, 256 * 256));
    gt_release(&part);

    /* wrong shapes name the file and the dataset; nothing is left allocated */
    join(p, sizeof p, "gt_rt/bad.h5");
    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_create(p, &f));
    CHECK_OK(hrn_h5_write_f32(f, "deform", 3, (int64_t[]){3, 32, 32}, g.deform));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_STATUS(hrn_sample_gt_load(p, &back), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad.h5");
    CHECK_ERR_HAS("'deform'");
    CHECK_ERR_HAS("(3,32,32)");
    CHECK(back.deform == NULL);
    join(p, sizeof p, "gt_rt/bad2.h5");
    CHECK_OK(hrn_h5_create(p, &f));
    CHECK_OK(hrn_h5_write_f32(f, "verts", 2, (int64_t[]){10, 2}, g.deform));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_STATUS(hrn_sample_gt_load(p, &back), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("'verts'");
    join(p, sizeof p, "gt_rt/none.h5");
    CHECK_STATUS(hrn_sample_gt_load(p, &back), HRN_ERR_IO);
    CHECK_ERR_HAS("none.h5");

    /* a deep copy: equal bytes, no shared pointer */
    struct hrn_sample s = {0}, c = {0};
    s.index = 5;
    snprintf(s.name, sizeof s.name, "x");
    CHECK_OK(hrn_image_init(&s.img, 224, 224, 3));
    s.img.data[77] = 0.5f;
    s.mask = calloc(224 * 224, sizeof(float));
    s.gt = g;
    CHECK_OK(hrn_sample_copy(&c, &s));
    CHECK(sample_equal(&c, &s));
    CHECK(c.img.data != s.img.data && c.mask != s.mask && c.gt.deform != s.gt.deform &&
          c.gt.coeffs != s.gt.coeffs);
    hrn_sample_free(&c);
    hrn_sample_free(&s);
}

/* --- folder datasets -----------------------------------------------------------------------------
 */

/* Dataset "photos": photos of the rendered face at other scales and places, landmarks in
 * Deep3D's landmarks/ (y up), a mask for p0, ground truth for p0, a JPEG p1 listed through its
 * mask path, p2 without mask (face region from the landmarks), p3 with 5 detections only. */
static void make_photo_dataset(void) {
    struct hrn_image photo = {0}, mask = {0};
    float lm[68 * 2];
    char p[512];
    mkdirs("photos/faces/landmarks");
    mkdirs("photos/faces/detections");
    mkdirs("photos/faces/mask");
    mkdirs("photos/faces/gt");
    mkdirs("photos/datalist");
    make_photo(1.6, 70, 40, 480, 420, &photo, &mask, lm);
    write_png("photos/faces/p0.png", &photo);
    write_png("photos/faces/mask/p0.png", &mask);
    write_lm_yup("photos/faces/landmarks/p0.txt", lm, photo.h);
    struct hrn_sample_gt g;
    make_gt(&g, &g_face.fm, 10);
    join(p, sizeof p, "photos/faces/gt/p0.h5");
    CHECK_OK(hrn_sample_gt_save(p, &g));
    gt_release(&g);
    hrn_image_free(&photo);
    hrn_image_free(&mask);

    make_photo(0.8, 20, 30, 240, 260, &photo, &mask, lm);
    join(p, sizeof p, "photos/faces/p1.jpg");
    CHECK_OK(hrn_image_write_jpeg(p, &photo, 95));
    write_png("photos/faces/mask/p1.png", &mask);
    write_lm_yup("photos/faces/landmarks/p1.txt", lm, photo.h);
    hrn_image_free(&photo);
    hrn_image_free(&mask);

    make_photo(1.2, -10, 15, 300, 300, &photo, &mask, lm);
    write_png("photos/faces/p2.png", &photo);
    write_lm_yup("photos/faces/landmarks/p2.txt", lm, photo.h);
    write_png("photos/faces/p3.png", &photo);
    float lm5[5 * 2];
    hrn_lmk_extract_5p(lm, lm5);
    join(p, sizeof p, "photos/faces/detections/p3.txt");
    CHECK_OK(hrn_lmk_write_txt(p, lm5, 5));
    hrn_image_free(&photo);
    hrn_image_free(&mask);

    char list[1024];
    snprintf(list, sizeof list,
             "# Deep3D-style list\nfaces/p0.png\n\nfaces/mask/p1.png\n%s/photos/faces/p2.png\n"
             "  faces/p3.png  \n",
             g_tmp);
    write_text("photos/datalist/train.txt", list);
}

/* The crop of an aligned photo shows the render where the render had it. */
static void check_aligned_like_render(const struct hrn_sample *s, const char *what) {
    double err = 0, diff = 0;
    int n = 0;
    for (int i = 0; i < 68; i++)
        err += hypot(s->lm[2 * i] - g_face.lm[2 * i], s->lm[2 * i + 1] - g_face.lm[2 * i + 1]);
    err /= 68;
    CHECK_MSG(err < 3.0, "%s: mean landmark error after alignment %.2f px", what, err);
    for (size_t p = 0; s->img.data && p < 224 * 224; p++)
        if (g_face.render.data[p] > 0.05f) {
            diff += fabs((double)s->img.data[p] - (double)g_face.render.data[p]);
            n++;
        }
    CHECK(n > 5000);
    CHECK_MSG(n > 0 && diff / n < 0.07, "%s: mean abs difference on the face %.3f", what,
              n ? diff / n : -1);
}

static double mask_iou_with_render(const float *mask) {
    int inter = 0, uni = 0;
    for (size_t p = 0; p < 224 * 224; p++) {
        int m = mask[p] > 0.5f, f = g_face.render.data[p] > 0.0f;
        inter += m && f;
        uni += m || f;
    }
    return uni ? (double)inter / uni : 0;
}

static void test_folder_photos(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    make_photo_dataset();
    char root[512], list[512], gtp[512];
    join(root, sizeof root, "photos");
    join(list, sizeof list, "photos/datalist/train.txt");
    struct hrn_dataset ds = {0};
    CHECK_OK(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_STRICT, stderr));
    CHECK(ds.n == 4 && ds.n_bad == 0 && !ds.aligned);
    if (ds.n != 4) {
        hrn_dataset_free(&ds);
        return;
    }
    CHECK(strstr(ds.paths[1], "faces/p1.jpg") != NULL); /* the mask line became its photo */
    struct hrn_sample s = {0};
    /* p0: PNG photo, mask file, ground truth */
    CHECK_OK(hrn_dataset_get(&ds, 0, &s));
    CHECK(!strcmp(s.name, "p0") && s.index == 0 && s.img.w == 224 && s.img.h == 224 &&
          s.img.c == 3 && s.aug_flip == 0 && s.aug_affine[0] == 1 && s.aug_affine[4] == 1);
    check_aligned_like_render(&s, "p0");
    CHECK(s.mask != NULL);
    if (s.mask)
        CHECK_MSG(mask_iou_with_render(s.mask) > 0.95, "p0 mask IoU %.3f",
                  mask_iou_with_render(s.mask));
    struct hrn_sample_gt g;
    make_gt(&g, &g_face.fm, 10);
    CHECK(gt_equal(&s.gt, &g));
    gt_release(&g);
    hrn_sample_free(&s);
    /* p1: JPEG through its mask's line */
    CHECK_OK(hrn_dataset_get(&ds, 1, &s));
    CHECK(!strcmp(s.name, "p1"));
    check_aligned_like_render(&s, "p1");
    CHECK(s.mask && mask_iou_with_render(s.mask) > 0.9);
    CHECK(s.gt.deform == NULL && s.gt.coeffs == NULL);
    hrn_sample_free(&s);
    /* p2: no mask file: the face region of the landmarks */
    CHECK_OK(hrn_dataset_get(&ds, 2, &s));
    check_aligned_like_render(&s, "p2");
    CHECK(s.mask && mask_iou_with_render(s.mask) > 0.6);
    hrn_sample_free(&s);
    /* p3: 5 detections: aligned, 68 points unknown, no mask */
    CHECK_OK(hrn_dataset_get(&ds, 3, &s));
    CHECK(s.img.data != NULL && s.mask == NULL && isnan(s.lm[0]) && isnan(s.lm[135]));
    double diff = 0;
    int n = 0;
    for (size_t p = 0; s.img.data && p < 224 * 224; p++)
        if (g_face.render.data[p] > 0.05f) {
            diff += fabs((double)s.img.data[p] - (double)g_face.render.data[p]);
            n++;
        }
    CHECK_MSG(n > 0 && diff / n < 0.07, "p3 mean abs difference %.3f", n ? diff / n : -1);
    hrn_sample_free(&s);
    CHECK_STATUS(hrn_dataset_get(&ds, 4, &s), HRN_ERR_INVALID);
    hrn_dataset_free(&ds);
    /* without a face model a folder of photos cannot be aligned */
    CHECK_STATUS(hrn_dataset_open_folder(&ds, NULL, root, list, HRN_DATASET_STRICT, NULL),
                 HRN_ERR_INVALID);
    (void)gtp;
}

/* Dataset "crops": `aligned = true`, n crops of the render with a per-image brightness so that
 * samples differ, landmarks in crop coordinates (y up), masks for the even ones, gt for some. */
static void make_crop_dataset(const char *name, int n) {
    char rel[256], list[8192] = "";
    size_t len = 0;
    snprintf(rel, sizeof rel, "%s/images/landmarks", name);
    mkdirs(rel);
    snprintf(rel, sizeof rel, "%s/images/mask", name);
    mkdirs(rel);
    snprintf(rel, sizeof rel, "%s/images/gt", name);
    mkdirs(rel);
    snprintf(rel, sizeof rel, "%s/datalist", name);
    mkdirs(rel);
    snprintf(rel, sizeof rel, "%s/dataset.ini", name);
    write_text(rel, "[hrn]\nschema = dataset\n[dataset]\naligned = true ; crops already\n");
    struct hrn_image img = {0}, mask = {0};
    CHECK_OK(hrn_image_init(&img, 224, 224, 3));
    CHECK_OK(hrn_image_init(&mask, 224, 224, 1));
    for (int i = 0; i < n && img.data && mask.data; i++) {
        for (size_t p = 0; p < 3 * 224 * 224; p++)
            img.data[p] = g_face.render.data[p] * (0.6f + 0.03f * (float)i);
        for (size_t p = 0; p < 224 * 224; p++)
            mask.data[p] = g_face.render.data[p] > 0.0f;
        snprintf(rel, sizeof rel, "%s/images/c%d.png", name, i);
        write_png(rel, &img);
        if (i % 2 == 0) {
            snprintf(rel, sizeof rel, "%s/images/mask/c%d.png", name, i);
            write_png(rel, &mask);
        }
        if (i % 3 == 0) {
            struct hrn_sample_gt g;
            make_gt(&g, &g_face.fm, 100 + (uint64_t)i);
            char p[512];
            snprintf(rel, sizeof rel, "%s/images/gt/c%d.h5", name, i);
            join(p, sizeof p, rel);
            CHECK_OK(hrn_sample_gt_save(p, &g));
            gt_release(&g);
        }
        float lm[68 * 2];
        for (int k = 0; k < 136; k++)
            lm[k] = g_face.lm[k] + 0.25f * (float)i;
        char p[512];
        snprintf(rel, sizeof rel, "%s/images/landmarks/c%d.txt", name, i);
        join(p, sizeof p, rel);
        CHECK_OK(hrn_lmk_write_txt(p, lm, 68));
        len += (size_t)snprintf(list + len, sizeof list - len, "images/c%d.png\n", i);
    }
    snprintf(rel, sizeof rel, "%s/datalist/train.txt", name);
    write_text(rel, list);
    hrn_image_free(&img);
    hrn_image_free(&mask);
}

static void open_crops(const char *name, struct hrn_dataset *ds) {
    char root[512], list[512], rel[256];
    join(root, sizeof root, name);
    snprintf(rel, sizeof rel, "%s/datalist/train.txt", name);
    join(list, sizeof list, rel);
    CHECK_OK(hrn_dataset_open_folder(ds, &g_face.fm, root, list, HRN_DATASET_STRICT, stderr));
}

static void test_folder_aligned(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    make_crop_dataset("crops", 4);
    struct hrn_dataset ds = {0};
    open_crops("crops", &ds);
    CHECK(ds.n == 4 && ds.aligned == 1);
    struct hrn_sample s = {0};
    struct hrn_image want = {0};
    char p[512];
    for (int i = 0; i < ds.n; i++) {
        CHECK_OK(hrn_dataset_get(&ds, i, &s));
        snprintf(p, sizeof p, "%s/crops/images/c%d.png", g_tmp, i);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &want));
        /* taken as it is: the same pixels, the file's landmarks, the mask binarised */
        CHECK(s.img.data && want.data &&
              !memcmp(s.img.data, want.data, 3 * 224 * 224 * sizeof(float)));
        for (int k = 0; k < 136; k++)
            CHECK(s.lm[k] == g_face.lm[k] + 0.25f * (float)i);
        CHECK(s.mask != NULL);
        if (i % 2 == 0 && s.mask) CHECK(mask_iou_with_render(s.mask) > 0.999);
        if (i % 2 == 1 && s.mask) CHECK(mask_iou_with_render(s.mask) > 0.6); /* from landmarks */
        CHECK((s.gt.deform != NULL) == (i % 3 == 0));
        CHECK((s.gt.coeffs != NULL) == (i % 3 == 0));
        hrn_image_free(&want);
        hrn_sample_free(&s);
    }
    hrn_dataset_free(&ds);
    /* a malformed dataset.ini is an error naming its line */
    write_text("crops/dataset.ini", "[dataset]\n\naligned = maybe\n");
    char root[512], list[512];
    join(root, sizeof root, "crops");
    join(list, sizeof list, "crops/datalist/train.txt");
    CHECK_STATUS(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_STRICT, NULL),
                 HRN_ERR_CONFIG);
    CHECK_ERR_HAS("dataset.ini:3");
    write_text("crops/dataset.ini", "aligned = true\n");
}

/* Bad entries: each is reported with the list's line and the file, STRICT fails before anything
 * is returned, SKIP_BAD keeps the good ones. */
static void test_folder_bad_entries(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    make_crop_dataset("bad", 2); /* c0, c1 good */
    struct hrn_image img = {0}, small = {0};
    char p[512], list[512];
    join(p, sizeof p, "bad/images/c0.png");
    CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &img));
    CHECK_OK(hrn_image_init(&small, 128, 128, 1));
    const char *names[] = {"b_count", "b_nan", "b_mask", "b_gt", "b_noimg", "b_nolm"};
    for (int k = 0; k < 6; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "bad/images/%s.png", names[k]);
        if (k != 4)
            write_png(rel, &img);
        else
            write_text(rel, "not an image\n");
        if (k == 5) continue;
        char lm[8192] = "";
        size_t len = 0;
        for (int i = 0; i < (k == 0 ? 67 : 68); i++)
            len += (size_t)snprintf(lm + len, sizeof lm - len, "%s %.3f\n",
                                    k == 1 && i == 30 ? "nan" : "100", (double)(50 + i));
        snprintf(rel, sizeof rel, "bad/images/landmarks/%s.txt", names[k]);
        write_text(rel, lm);
    }
    write_png("bad/images/mask/b_mask.png", &small);
    struct hrn_h5 *f = NULL;
    join(p, sizeof p, "bad/images/gt/b_gt.h5");
    CHECK_OK(hrn_h5_create(p, &f));
    CHECK_OK(hrn_h5_write_f32(f, "disp", 3, (int64_t[]){1, 128, 128}, small.data));
    CHECK_OK(hrn_h5_commit(f));
    write_text("bad/datalist/bad.txt", "images/c0.png\n"       /* 1 good */
                                       "images/missing.png\n"  /* 2 */
                                       "images/b_count.png\n"  /* 3 */
                                       "# a comment\n"         /* 4 */
                                       "images/b_nan.png\n"    /* 5 */
                                       "images/c1.png\n"       /* 6 good */
                                       "images/b_mask.png\n"   /* 7 */
                                       "images/b_gt.png\n"     /* 8 */
                                       "images/b_noimg.png\n"  /* 9 */
                                       "images/b_nolm.png\n"); /* 10 */
    hrn_image_free(&img);
    hrn_image_free(&small);

    char root[512];
    join(root, sizeof root, "bad");
    join(list, sizeof list, "bad/datalist/bad.txt");
    char *rep = NULL;
    size_t rep_n = 0;
    FILE *mf = open_memstream(&rep, &rep_n);
    struct hrn_dataset ds = {0};
    CHECK_STATUS(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_STRICT, mf),
                 HRN_ERR_INVALID);
    CHECK_ERR_HAS("7 of 9 entries are bad");
    CHECK_ERR_HAS("bad.txt:2:"); /* the first problem */
    CHECK_ERR_HAS("missing.png");
    CHECK(ds.n == 0 && ds.paths == NULL); /* nothing returned */
    fclose(mf);
    struct {
        const char *line, *file, *what;
    } want[] = {
        {"bad.txt:2: ", "missing.png", "cannot open"},
        {"bad.txt:3: ", "landmarks/b_count.txt", "67 landmarks"},
        {"bad.txt:5: ", "landmarks/b_nan.txt:31", "not a finite"},
        {"bad.txt:7: ", "mask/b_mask.png", "128x128"},
        {"bad.txt:8: ", "gt/b_gt.h5", "'disp'"},
        {"bad.txt:9: ", "b_noimg.png", "not a PNG or JPEG"},
        {"bad.txt:10: ", "b_nolm.png", "no landmarks"},
    };
    int lines = 0;
    for (char *c = rep; c && *c; c++)
        lines += *c == '\n';
    CHECK_MSG(lines == 7, "report has %d lines:\n%s", lines, rep ? rep : "");
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const char *at = rep ? strstr(rep, want[k].line) : NULL;
        const char *eol = at ? strchr(at, '\n') : NULL;
        int ok = at && eol;
        if (ok) {
            char one[1024];
            snprintf(one, sizeof one, "%.*s", (int)(eol - at), at);
            ok = strstr(one, want[k].file) && strstr(one, want[k].what);
        }
        CHECK_MSG(ok, "report lacks '%s... %s ... %s':\n%s", want[k].line, want[k].file,
                  want[k].what, rep ? rep : "");
    }
    free(rep);

    CHECK_OK(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_SKIP_BAD, NULL));
    CHECK(ds.n == 2 && ds.n_bad == 7);
    if (ds.n == 2) CHECK(strstr(ds.paths[0], "c0.png") && strstr(ds.paths[1], "c1.png"));
    hrn_dataset_free(&ds);
    /* nothing good left: an error even when skipping */
    write_text("bad/datalist/allbad.txt", "images/missing.png\n");
    join(list, sizeof list, "bad/datalist/allbad.txt");
    CHECK_STATUS(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_SKIP_BAD, NULL),
                 HRN_ERR_INVALID);
    join(list, sizeof list, "bad/datalist/nolist.txt");
    CHECK_STATUS(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_STRICT, NULL),
                 HRN_ERR_IO);
    CHECK_ERR_HAS("nolist.txt");
}

/* --- augmentation ---------------------------------------------------------------------------- */

/* A sample whose image holds one Gaussian blob (sigma 1.5 px) at the y-up point (x, y). */
static void blob_sample(struct hrn_sample *s, int64_t index, double x, double y) {
    memset(s, 0, sizeof *s);
    s->index = index;
    CHECK_OK(hrn_image_init(&s->img, 224, 224, 3));
    s->mask = calloc(224 * 224, sizeof(float));
    double yd = 223.0 - y;
    for (int r = 0; s->img.data && r < 224; r++)
        for (int c = 0; c < 224; c++) {
            double d2 = (c - x) * (c - x) + (r - yd) * (r - yd);
            float v = d2 < 36.0 ? (float)exp(-d2 / (2 * 1.5 * 1.5)) : 0.0f;
            for (int ch = 0; ch < 3; ch++)
                *hrn_image_px(&s->img, ch, r, c) = v;
            s->mask[r * 224 + c] = v;
        }
    memcpy(s->lm, g_face.lm, sizeof s->lm);
}

/* Intensity centroid of channel 0, y up. */
static void centroid(const struct hrn_image *img, double *x, double *y) {
    double sw = 0, sx = 0, sy = 0;
    for (int r = 0; r < img->h; r++)
        for (int c = 0; c < img->w; c++) {
            double v = *hrn_image_px(img, 0, r, c);
            sw += v, sx += v * c, sy += v * r;
        }
    *x = sx / sw;
    *y = 223.0 - sy / sw;
}

/* The augmented landmark k is where the augmented image shows the blob drawn at the original
 * landmark perm[k] (k itself without a flip). */
static void test_augment_landmarks_follow_image(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    struct hrn_augment aug;
    hrn_augment_defaults(&aug);
    int seen[2] = {0, 0};
    double worst = 0, worst_unpermuted = 1e9;
    int compared = 0;
    for (int64_t idx = 0; idx < 6; idx++) {
        for (int j = 0; j < 68; j++) {
            struct hrn_sample s;
            blob_sample(&s, idx, g_face.lm[2 * j], g_face.lm[2 * j + 1]);
            CHECK_OK(hrn_augment_apply(&aug, 99, 3, &s));
            double cx, cy;
            centroid(&s.img, &cx, &cy);
            /* the landmark that is now the original point j */
            int k = j;
            if (s.aug_flip)
                for (k = 0; k < 68 && hrn_lm68_flip_perm[k] != j; k++) {
                }
            CHECK(k < 68);
            if (k >= 68) k = j;
            double d = hypot((double)s.lm[2 * k] - cx, (double)s.lm[2 * k + 1] - cy);
            /* a blob cut by the border has its centroid pulled inwards: not a fair comparison */
            double m = fmin(fmin(s.lm[2 * k], 223.0 - (double)s.lm[2 * k]),
                            fmin(s.lm[2 * k + 1], 223.0 - (double)s.lm[2 * k + 1]));
            if (!(m > 7.0)) {
                hrn_sample_free(&s);
                continue;
            }
            compared++;
            if (d > worst) worst = d;
            if (s.aug_flip && hrn_lm68_flip_perm[j] != j) {
                double u = hypot((double)s.lm[2 * j] - cx, (double)s.lm[2 * j + 1] - cy);
                if (u < worst_unpermuted) worst_unpermuted = u;
            }
            /* the mask went through the same warp */
            CHECK(s.mask && !memcmp(s.mask, s.img.data, 224 * 224 * sizeof(float)));
            seen[s.aug_flip]++;
            hrn_sample_free(&s);
        }
    }
    CHECK_MSG(compared > 6 * 60, "only %d blobs away from the border", compared);
    CHECK_MSG(worst < 0.05, "augmented landmark vs its blob in the augmented image: %.4f px",
              worst);
    CHECK_MSG(seen[0] > 0 && seen[1] > 0, "flips %d, not flipped %d: both must occur", seen[1],
              seen[0]);
    /* without the permutation the mirrored points would be far off: the check above can fail */
    CHECK_MSG(worst_unpermuted > 1.0, "unpermuted mirrored landmark only %.3f px off",
              worst_unpermuted);
    /* the table is an involution that keeps the 10 points on the symmetry line (chin 8, nose
     * bridge 27..30, nose tip 33, lip centres 51, 57, 62, 66) */
    int moved = 0;
    for (int k = 0; k < 68; k++) {
        CHECK(hrn_lm68_flip_perm[hrn_lm68_flip_perm[k]] == k);
        moved += hrn_lm68_flip_perm[k] != k;
    }
    CHECK(moved == 58);
    CHECK(hrn_lm68_flip_perm[36] == 45 && hrn_lm68_flip_perm[48] == 54 &&
          hrn_lm68_flip_perm[0] == 16 && hrn_lm68_flip_perm[8] == 8);
}

static void test_augment_uv_flip(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    struct hrn_sample s = {0}, orig = {0}, t = {0};
    s.index = 4;
    CHECK_OK(hrn_image_init(&s.img, 224, 224, 3));
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    hrn_rng_fill_uniform(&r, s.img.data, 3 * 224 * 224, 0, 1);
    memcpy(s.lm, g_face.lm, sizeof s.lm);
    make_gt(&s.gt, &g_face.fm, 7);
    s.aug_affine[0] = s.aug_affine[4] = 1; /* as hrn_dataset_get leaves it */
    CHECK_OK(hrn_sample_copy(&orig, &s));
    /* a pure mirror */
    struct hrn_augment flip = {.enabled = 1, .flip_p = 1};
    CHECK_OK(hrn_augment_apply(&flip, 1, 0, &s));
    CHECK(s.aug_flip == 1);
    CHECK(s.gt.coeffs == NULL && s.gt.verts == NULL && s.gt.n_coeffs == 0 && s.gt.n_verts == 0);
    int bad_img = 0, bad_map = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++)
                bad_img +=
                    *hrn_image_px(&s.img, ch, y, x) != *hrn_image_px(&orig.img, ch, y, 223 - x);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                float a = s.gt.deform[(ch * 64 + y) * 64 + x];
                float b = orig.gt.deform[(ch * 64 + y) * 64 + 63 - x];
                bad_map += a != (ch == 0 ? -b : b);
            }
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 256; x++) {
                size_t i = ((size_t)ch * 256 + (size_t)y) * 256, a = i + (size_t)x,
                       b = i + 255 - (size_t)x;
                bad_map += s.gt.albedo[a] != orig.gt.albedo[b];
                bad_map += s.gt.albedo_detail[a] != orig.gt.albedo_detail[b];
                if (ch == 0) {
                    bad_map += s.gt.disp[a] != orig.gt.disp[b];
                    bad_map += s.gt.skin[a] != orig.gt.skin[b];
                }
            }
    CHECK_MSG(bad_img == 0, "%d pixels are not the mirrored ones", bad_img);
    CHECK_MSG(bad_map == 0, "%d UV texels are not the mirrored ones", bad_map);
    /* landmarks: x -> 223 - x, mirror-permuted, y kept */
    for (int k = 0; k < 68; k++) {
        int j = hrn_lm68_flip_perm[k];
        CHECK_NEAR(s.lm[2 * k], 223.0 - (double)orig.lm[2 * j], 1e-4, 0);
        CHECK_NEAR(s.lm[2 * k + 1], orig.lm[2 * j + 1], 1e-4, 0);
    }
    /* twice is the identity */
    CHECK_OK(hrn_augment_apply(&flip, 1, 0, &s));
    CHECK(!memcmp(s.img.data, orig.img.data, 3 * 224 * 224 * sizeof(float)));
    s.gt.coeffs = orig.gt.coeffs, s.gt.n_coeffs = orig.gt.n_coeffs; /* borrowed for the compare */
    s.gt.verts = orig.gt.verts, s.gt.n_verts = orig.gt.n_verts;
    CHECK(gt_equal(&s.gt, &orig.gt));
    s.gt.coeffs = s.gt.verts = NULL;
    for (int k = 0; k < 136; k++)
        CHECK_NEAR(s.lm[k], orig.lm[k], 1e-4, 0);
    hrn_sample_free(&s);

    /* the identity and a disabled augmentation change nothing and keep the pose ground truth */
    struct hrn_augment none = {.enabled = 1};
    struct hrn_augment off;
    hrn_augment_defaults(&off);
    off.enabled = 0;
    const struct hrn_augment *keep[2] = {&none, &off};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(hrn_sample_copy(&t, &orig));
        CHECK_OK(hrn_augment_apply(keep[k], 1, 0, &t));
        CHECK(sample_equal(&t, &orig));
        hrn_sample_free(&t);
    }
    /* a pure function of (seed, epoch, index) */
    struct hrn_augment def;
    hrn_augment_defaults(&def);
    struct hrn_sample u = {0};
    CHECK_OK(hrn_sample_copy(&t, &orig));
    CHECK_OK(hrn_sample_copy(&u, &orig));
    CHECK_OK(hrn_augment_apply(&def, 11, 2, &t));
    CHECK_OK(hrn_augment_apply(&def, 11, 2, &u));
    CHECK(sample_equal(&t, &u));
    hrn_sample_free(&u);
    CHECK_OK(hrn_sample_copy(&u, &orig));
    CHECK_OK(hrn_augment_apply(&def, 11, 3, &u));
    CHECK(memcmp(t.aug_affine, u.aug_affine, sizeof t.aug_affine) != 0);
    hrn_sample_free(&u);
    hrn_sample_free(&t);
    struct hrn_augment wild = {.enabled = 1, .scale_delta = 2};
    CHECK_OK(hrn_sample_copy(&t, &orig));
    CHECK_STATUS(hrn_augment_apply(&wild, 1, 0, &t), HRN_ERR_INVALID);
    hrn_sample_free(&t);
    hrn_sample_free(&orig);
}

/* --- the loader ------------------------------------------------------------------------------ */

struct seq {
    struct hrn_batch b[16];
    int n;
};

static void seq_free(struct seq *q) {
    for (int i = 0; i < q->n; i++)
        hrn_batch_free(&q->b[i]);
    q->n = 0;
}

/* n batches from a loader with this config, started at (epoch, pos). */
static void run_loader(const struct hrn_dataset *ds, struct hrn_loader_config c, int64_t epoch,
                       int64_t pos, int n, struct seq *q) {
    struct hrn_augment aug;
    hrn_augment_defaults(&aug);
    struct hrn_loader *l = NULL;
    q->n = 0;
    CHECK_OK(hrn_loader_open(&l, ds, &aug, &c, epoch, pos));
    if (!l) return;
    for (int i = 0; i < n && i < 16; i++) {
        struct hrn_batch b = {0};
        CHECK_OK(hrn_loader_next(l, &b));
        q->b[q->n++] = b;
    }
    hrn_loader_close(l);
}

static int batch_equal(const struct hrn_batch *a, const struct hrn_batch *b) {
    if (a->n != b->n || a->epoch != b->epoch || a->pos != b->pos ||
        a->first_epoch != b->first_epoch || a->first_pos != b->first_pos)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (!sample_equal(&a->s[i], &b->s[i])) return 0;
    return 1;
}

static void test_loader_threads_same_bytes(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    make_crop_dataset("ld", 11);
    struct hrn_dataset ds = {0};
    open_crops("ld", &ds);
    CHECK(ds.n == 11);
    if (ds.n != 11) return;
    struct seq q[3] = {0};
    for (int t = 0; t < 3; t++)
        run_loader(
            &ds,
            (struct hrn_loader_config){
                .seed = 5, .batch = 4, .shuffle = 1, .threads = t, .prefetch = t == 2 ? 3 : 0},
            0, 0, 7, &q[t]);
    /* 11 samples, batches of 4: 4, 4, 3 per epoch, positions after each batch */
    const int want_n[7] = {4, 4, 3, 4, 4, 3, 4};
    const int64_t want_e[7] = {0, 0, 1, 1, 1, 2, 2}, want_p[7] = {4, 8, 0, 4, 8, 0, 4};
    for (int i = 0; i < 7 && q[0].n == 7; i++) {
        CHECK(q[0].b[i].n == want_n[i] && q[0].b[i].epoch == want_e[i] &&
              q[0].b[i].pos == want_p[i]);
        CHECK(q[0].b[i].first_epoch == (i < 3 ? 0 : i < 6 ? 1 : 2));
        for (int k = 0; k < q[0].b[i].n; k++) { /* dataset order of this epoch, augmented */
            const struct hrn_sample *s = &q[0].b[i].s[k];
            CHECK(s->img.w == 224 && s->mask != NULL);
            CHECK(s->aug_affine[0] != 1.0f || s->aug_affine[2] != 0.0f);
        }
    }
    for (int t = 1; t < 3; t++) {
        CHECK(q[t].n == q[0].n);
        for (int i = 0; i < q[0].n && i < q[t].n; i++)
            CHECK_MSG(batch_equal(&q[0].b[i], &q[t].b[i]), "threads %d: batch %d differs", t, i);
    }
    /* every sample of an epoch once */
    int count[11] = {0};
    for (int i = 0; i < 3 && q[0].n == 7; i++)
        for (int k = 0; k < q[0].b[i].n; k++)
            count[q[0].b[i].s[k].index]++;
    for (int k = 0; k < 11; k++)
        CHECK(count[k] == 1);
    for (int t = 0; t < 3; t++)
        seq_free(&q[t]);

    /* drop_last: 4, 4 per epoch, the position after the second is the next epoch's start */
    run_loader(&ds,
               (struct hrn_loader_config){
                   .seed = 5, .batch = 4, .shuffle = 1, .drop_last = 1, .threads = 2},
               0, 0, 5, &q[0]);
    for (int i = 0; i < q[0].n; i++) {
        CHECK(q[0].b[i].n == 4);
        CHECK(q[0].b[i].epoch == (i + 1) / 2 && q[0].b[i].pos == ((i + 1) % 2) * 4);
        CHECK(q[0].b[i].first_epoch == i / 2 && q[0].b[i].first_pos == (i % 2) * 4);
    }
    /* with drop_last, a position with less than a batch left starts the next epoch */
    struct seq r = {0};
    run_loader(&ds, (struct hrn_loader_config){.seed = 5, .batch = 4, .shuffle = 1, .drop_last = 1},
               0, 8, 1, &r);
    CHECK(r.n == 1 && q[0].n == 5 && batch_equal(&r.b[0], &q[0].b[2]));
    seq_free(&r);
    seq_free(&q[0]);
    /* a batch larger than the dataset with drop_last would never yield */
    struct hrn_loader *l = NULL;
    CHECK_STATUS(hrn_loader_open(&l, &ds, NULL,
                                 &(struct hrn_loader_config){.batch = 12, .drop_last = 1}, 0, 0),
                 HRN_ERR_INVALID);
    CHECK(l == NULL);
    CHECK_STATUS(hrn_loader_open(&l, &ds, NULL, &(struct hrn_loader_config){.batch = 2}, 0, 12),
                 HRN_ERR_INVALID);
    hrn_dataset_free(&ds);
}

static void test_loader_resume(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    struct hrn_dataset ds = {0};
    open_crops("ld", &ds); /* made by the previous case */
    if (ds.n != 11) SKIP("dataset 'ld' missing");
    struct hrn_loader_config c = {.seed = 8, .batch = 3, .shuffle = 1, .threads = 2};
    struct seq full = {0}, tail = {0};
    run_loader(&ds, c, 0, 0, 10, &full);
    /* resume after batch j (mid-epoch, at an epoch's end, in the next epoch) */
    const int js[3] = {1, 3, 5};
    for (int m = 0; m < 3 && full.n == 10; m++) {
        int j = js[m];
        c.threads = m; /* the resumed run may use another thread count */
        run_loader(&ds, c, full.b[j].epoch, full.b[j].pos, 10 - j - 1, &tail);
        CHECK(tail.n == 10 - j - 1);
        for (int i = 0; i < tail.n; i++)
            CHECK_MSG(batch_equal(&tail.b[i], &full.b[j + 1 + i]),
                      "resumed after batch %d: batch %d differs", j, i);
        seq_free(&tail);
    }
    CHECK(full.n == 10 && full.b[3].epoch == 1 && full.b[3].pos == 0); /* 11 = 3+3+3+2 */
    /* the end of an epoch is the start of the next */
    run_loader(&ds, c, 0, 11, 1, &tail);
    CHECK(tail.n == 1 && full.n == 10 && batch_equal(&tail.b[0], &full.b[4]));
    seq_free(&tail);
    /* a position in the middle of a batch resumes from exactly that sample */
    c.threads = 1;
    run_loader(&ds, c, 1, 1, 1, &tail);
    CHECK(tail.n == 1 && tail.b[0].n == 3 && tail.b[0].first_pos == 1 && tail.b[0].pos == 4);
    for (int k = 0; tail.n == 1 && full.n == 10 && k < 3; k++)
        CHECK(sample_equal(&tail.b[0].s[k], k < 2 ? &full.b[4].s[k + 1] : &full.b[5].s[0]));
    seq_free(&tail);
    seq_free(&full);
    hrn_dataset_free(&ds);
}

static void test_loader_permutation(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    struct hrn_dataset ds = {0};
    open_crops("ld", &ds);
    if (ds.n != 11) SKIP("dataset 'ld' missing");
    struct hrn_loader *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    CHECK_OK(hrn_loader_open(
        &a, &ds, NULL, &(struct hrn_loader_config){.seed = 3, .batch = 2, .shuffle = 1}, 0, 0));
    CHECK_OK(hrn_loader_open(
        &b, &ds, NULL,
        &(struct hrn_loader_config){.seed = 3, .batch = 5, .shuffle = 1, .threads = 1}, 4, 7));
    CHECK_OK(hrn_loader_open(
        &c, &ds, NULL, &(struct hrn_loader_config){.seed = 4, .batch = 2, .shuffle = 1}, 0, 0));
    CHECK_OK(
        hrn_loader_open(&d, &ds, NULL, &(struct hrn_loader_config){.seed = 3, .batch = 2}, 0, 0));
    if (!a || !b || !c || !d) goto done;
    int64_t ord[6][11];
    int differ_epoch = 0, differ_seed = 0;
    for (int e = 0; e < 6; e++) {
        int seen[11] = {0};
        for (int p = 0; p < 11; p++) {
            ord[e][p] = hrn_loader_order(a, e, p);
            CHECK(ord[e][p] >= 0 && ord[e][p] < 11);
            if (ord[e][p] >= 0 && ord[e][p] < 11) seen[ord[e][p]]++;
            /* a function of (seed, epoch) only: another loader agrees, whatever it does */
            CHECK(hrn_loader_order(b, e, p) == ord[e][p]);
            differ_seed += hrn_loader_order(c, e, p) != ord[e][p];
            CHECK(hrn_loader_order(d, e, p) == p); /* no shuffle: dataset order */
        }
        for (int k = 0; k < 11; k++)
            CHECK(seen[k] == 1);
        if (e > 0) differ_epoch += memcmp(ord[e], ord[e - 1], sizeof ord[e]) != 0;
    }
    CHECK_MSG(differ_epoch == 5, "only %d of 5 consecutive epochs changed order", differ_epoch);
    CHECK(differ_seed > 11);
    /* asking again, after the cache moved on, gives the same */
    CHECK(hrn_loader_order(a, 0, 3) == ord[0][3] && hrn_loader_order(a, 5, 10) == ord[5][10]);
    CHECK(hrn_loader_order(a, 0, 11) == -1 && hrn_loader_order(a, -1, 0) == -1);
    /* the batches follow the order */
    struct hrn_batch bt = {0};
    for (int i = 0; i < 6; i++) {
        CHECK_OK(hrn_loader_next(a, &bt));
        for (int k = 0; k < bt.n; k++)
            CHECK(bt.s[k].index == ord[bt.first_epoch][bt.first_pos + k]);
    }
    hrn_batch_free(&bt);
done:
    hrn_loader_close(a);
    hrn_loader_close(b); /* closed with batches in flight */
    hrn_loader_close(c);
    hrn_loader_close(d);
    hrn_dataset_free(&ds);
}

/* A file that disappears after validation fails the batch with the sample's name; the loader
 * stays failed and closes cleanly with workers mid-epoch. */
static void test_loader_failing_sample(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    make_crop_dataset("gone", 5);
    struct hrn_dataset ds = {0};
    open_crops("gone", &ds);
    if (ds.n != 5) SKIP("dataset 'gone' missing");
    char p[512];
    join(p, sizeof p, "gone/images/c3.png");
    CHECK(remove(p) == 0);
    for (int t = 0; t < 3; t += 2) {
        struct hrn_loader *l = NULL;
        CHECK_OK(hrn_loader_open(&l, &ds, NULL,
                                 &(struct hrn_loader_config){.batch = 2, .threads = t}, 0, 0));
        if (!l) continue;
        struct hrn_batch b = {0};
        CHECK_OK(hrn_loader_next(l, &b)); /* c0, c1 */
        CHECK(b.n == 2 && b.s[0].index == 0 && b.s[1].index == 1);
        CHECK_STATUS(hrn_loader_next(l, &b), HRN_ERR_IO); /* c2, c3 */
        CHECK_ERR_HAS("c3.png");
        CHECK_ERR_HAS("sample 3");
        CHECK(b.n == 0 && b.s == NULL);
        CHECK_STATUS(hrn_loader_next(l, &b), HRN_ERR_IO);
        CHECK_ERR_HAS("c3.png");
        hrn_loader_close(l);
    }
    hrn_dataset_free(&ds);
}

/* The synthetic dataset through the loader (runs once hrn_synth_sample exists). */
static void test_synth_dataset(void) {
    if (!face_init()) SKIP("cannot make the synthetic face: %s", hrn_error_msg());
    struct hrn_synth_data_config sc;
    hrn_synth_data_defaults(&sc);
    sc.count = 5;
    struct hrn_sample s = {0};
    hrn_face_model_compact(&g_face.fm);
    enum hrn_status st = hrn_synth_sample(&g_face.fm, &sc, 0, &s);
    hrn_sample_free(&s);
    if (st == HRN_ERR_UNSUPPORTED) SKIP("hrn_synth_sample is not built yet (%s)", hrn_error_msg());
    CHECK_OK(st);
    struct hrn_dataset ds = {0};
    CHECK_OK(hrn_dataset_open_synth(&ds, &g_face.fm, &sc));
    CHECK(ds.n == 5 && ds.kind == HRN_DATASET_SYNTH);
    CHECK(ds.synth_ctx != NULL); /* one model context, made once, shared by the threads */
    CHECK_OK(hrn_dataset_get(&ds, 2, &s));
    CHECK(s.index == 2 && s.img.w == 224 && s.img.h == 224 && s.img.c == 3 && s.name[0]);
    { /* the bytes of hrn_synth_sample, which makes a context per call */
        struct hrn_sample m = {0};
        CHECK_OK(hrn_synth_sample(&g_face.fm, &sc, 2, &m));
        CHECK(s.img.data && m.img.data && floats_equal(s.img.data, m.img.data, 3 * 224 * 224));
        CHECK(s.mask && m.mask && floats_equal(s.mask, m.mask, 224 * 224));
        CHECK(memcmp(s.lm, m.lm, sizeof s.lm) == 0 && gt_equal(&s.gt, &m.gt));
        hrn_sample_free(&m);
    }
    hrn_sample_free(&s);
    struct seq q[2] = {0};
    for (int t = 0; t < 2; t++)
        run_loader(
            &ds, (struct hrn_loader_config){.seed = 2, .batch = 2, .shuffle = 1, .threads = 2 * t},
            0, 0, 4, &q[t]);
    CHECK(q[0].n == 4 && q[1].n == 4);
    for (int i = 0; i < q[0].n && i < q[1].n; i++)
        CHECK(batch_equal(&q[0].b[i], &q[1].b[i]));
    seq_free(&q[0]);
    seq_free(&q[1]);
    hrn_dataset_free(&ds);
    /* the same samples written by hrn_synth_write_folder and read back as a folder dataset:
     * PNG quantisation of the image, %.4f landmarks, the rest exact */
    char root[512], list[600];
    join(root, sizeof root, "synth");
    CHECK_OK(hrn_synth_write_folder(&g_face.fm, &sc, 0, 4, 1, root, 2));
    snprintf(list, sizeof list, "%s/datalist/train.txt", root);
    CHECK_OK(hrn_dataset_open_folder(&ds, &g_face.fm, root, list, HRN_DATASET_STRICT, stderr));
    CHECK(ds.n == 3 && ds.aligned);
    for (int64_t i = 0; i < ds.n; i++) {
        struct hrn_sample f = {0};
        CHECK_OK(hrn_synth_sample(&g_face.fm, &sc, i, &s));
        CHECK_OK(hrn_dataset_get(&ds, i, &f));
        CHECK(!strcmp(s.name, f.name) && f.index == i);
        double dimg = 0, dlm = 0;
        for (size_t p = 0; s.img.data && f.img.data && p < 3 * 224 * 224; p++)
            dimg = fmax(dimg, fabs((double)s.img.data[p] - (double)f.img.data[p]));
        for (int k = 0; k < 136; k++)
            dlm = fmax(dlm, fabs((double)s.lm[k] - (double)f.lm[k]));
        CHECK_MSG(dimg <= 0.5 / 255 + 1e-6, "sample %lld: image differs by %g", (long long)i, dimg);
        CHECK_MSG(dlm <= 5e-5 + 1e-4, "sample %lld: landmarks differ by %g", (long long)i, dlm);
        CHECK(s.mask && f.mask && floats_equal(s.mask, f.mask, 224 * 224));
        CHECK(gt_equal(&s.gt, &f.gt));
        hrn_sample_free(&s);
        hrn_sample_free(&f);
    }
    hrn_dataset_free(&ds);
    snprintf(list, sizeof list, "%s/datalist/val.txt", root);
    CHECK_OK(hrn_dataset_open_folder(&ds, NULL, root, list, HRN_DATASET_STRICT, stderr));
    CHECK(ds.n == 1 && ds.n_bad == 0);
    hrn_dataset_free(&ds);

    struct hrn_synth_data_config bad = sc;
    bad.count = 0;
    CHECK_STATUS(hrn_dataset_open_synth(&ds, &g_face.fm, &bad), HRN_ERR_INVALID);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hrn_test_loader_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    hrn_log_set_level(HRN_LOG_ERROR);
    RUN(test_gt_round_trip);
    RUN(test_folder_photos);
    RUN(test_folder_aligned);
    RUN(test_folder_bad_entries);
    RUN(test_augment_landmarks_follow_image);
    RUN(test_augment_uv_flip);
    RUN(test_loader_threads_same_bytes);
    RUN(test_loader_resume);
    RUN(test_loader_permutation);
    RUN(test_loader_failing_sample);
    RUN(test_synth_dataset);
    hrn_image_free(&g_face.render);
    hrn_face_model_free(&g_face.fm);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return hrn_test_finish();
}
