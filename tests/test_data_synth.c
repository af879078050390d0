/* test_data_synth.c: the synthetic training-sample generator (data/synth_*.c): samples are pure
 * functions of (seed, index) whatever the order or threads, the ground truth re-renders the image,
 * the landmarks are the projected vertices, the displacement map shows in the shading, masks and
 * bounded expression priors, the dataset folder and its argument errors, the SFM/ICT models. */
#include "hrn_data.h"
#include "hrn_test.h"

#include <pthread.h>
static struct hrn_face_model g_fm;
static int g_fm_ok;

static void clean_config(struct hrn_synth_data_config *c) {
    hrn_synth_data_defaults(c);
    c->count = 100;
    c->noise_max = 0, c->jpeg_p = 0, c->occluder_p = 0, c->background = 0;
}

static int same_floats(const float *a, const float *b, size_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* every byte of two samples */
static int same_sample(const struct hrn_sample *a, const struct hrn_sample *b) {
    const size_t U = 256 * 256;
    return a->img.w == b->img.w && same_floats(a->img.data, b->img.data, 3 * 224 * 224) &&
           same_floats(a->mask, b->mask, 224 * 224) && memcmp(a->lm, b->lm, sizeof a->lm) == 0 &&
           a->gt.n_coeffs == b->gt.n_coeffs &&
           same_floats(a->gt.coeffs, b->gt.coeffs, (size_t)a->gt.n_coeffs) &&
           same_floats(a->gt.verts, b->gt.verts, (size_t)(3 * a->gt.n_verts)) &&
           same_floats(a->gt.deform, b->gt.deform, 3 * 64 * 64) &&
           same_floats(a->gt.disp, b->gt.disp, U) &&
           same_floats(a->gt.albedo, b->gt.albedo, 3 * U) &&
           same_floats(a->gt.albedo_detail, b->gt.albedo_detail, 3 * U) &&
           same_floats(a->gt.skin, b->gt.skin, U) && strcmp(a->name, b->name) == 0;
}

struct job {
    const struct hrn_synth_data_config *c;
    int64_t index;
    struct hrn_sample s;
    enum hrn_status st;
};
static void *job_run(void *arg) {
    struct job *j = arg;
    j->st = hrn_synth_sample(&g_fm, j->c, j->index, &j->s);
    return NULL;
}

static void test_pure_function_of_index(void) {
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c); /* everything on: background, occluders, noise, JPEG */
    c.seed = 42, c.count = 100, c.occluder_p = 0.5f, c.jpeg_p = 0.5f;
    struct hrn_sample a3 = {0}, a5 = {0}, b5 = {0}, b3 = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 3, &a3));
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 5, &a5));
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 5, &b5)); /* the other order */
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 3, &b3));
    CHECK(same_sample(&a3, &b3));
    CHECK(same_sample(&a5, &b5));
    /* two threads at once */
    struct job j[2] = {{&c, 5, {0}, HRN_OK}, {&c, 3, {0}, HRN_OK}};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, job_run, &j[0]) == 0);
    job_run(&j[1]);
    pthread_join(t, NULL);
    CHECK_OK(j[0].st);
    CHECK_OK(j[1].st);
    CHECK(same_sample(&j[0].s, &a5));
    CHECK(same_sample(&j[1].s, &a3));
    /* different indices and seeds differ everywhere that is drawn */
    CHECK(a3.gt.coeffs && a5.gt.coeffs &&
          memcmp(a3.gt.coeffs, a5.gt.coeffs, 4 * (size_t)a3.gt.n_coeffs) != 0);
    CHECK(!same_floats(a3.img.data, a5.img.data, 3 * 224 * 224));
    CHECK(!same_floats(a3.gt.disp, a5.gt.disp, 256 * 256));
    CHECK(!same_floats(a3.gt.deform, a5.gt.deform, 3 * 64 * 64));
    CHECK(strcmp(a3.name, "synth_42_000003") == 0);
    c.seed = 43;
    struct hrn_sample o3 = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 3, &o3));
    CHECK(!same_floats(a3.img.data, o3.img.data, 3 * 224 * 224));
    hrn_sample_free(&a3), hrn_sample_free(&a5), hrn_sample_free(&b3), hrn_sample_free(&b5);
    hrn_sample_free(&j[0].s), hrn_sample_free(&j[1].s), hrn_sample_free(&o3);
}

/* One context made once gives the bytes of hrn_synth_sample (which makes one per call), for
 * every level and nuisance setting, and so does the ground-truth re-render; two threads sharing
 * the context at once too (it is read-only). */
struct ctx_job {
    const struct hrn_synth_ctx *x;
    const struct hrn_synth_data_config *c;
    int first; /* samples first, first + 2, ... < 8 */
    struct hrn_sample s[8];
    enum hrn_status st;
};
static void *ctx_job_run(void *arg) {
    struct ctx_job *j = arg;
    for (int i = j->first; i < 8 && j->st == HRN_OK; i += 2)
        j->st = hrn_synth_sample_ctx(j->x, j->c, i, &j->s[i]);
    return NULL;
}

static void test_context(void) {
    struct hrn_synth_ctx *x = NULL;
    CHECK_OK(hrn_synth_ctx_new(&x, &g_fm));
    if (!x) return;
    CHECK(hrn_synth_ctx_model(x) == &g_fm);
    struct hrn_synth_data_config c;
    for (int variant = 0; variant < 4; variant++) {
        hrn_synth_data_defaults(&c);
        c.seed = 11, c.count = 100, c.occluder_p = 0.6f, c.jpeg_p = 0.6f;
        if (variant == 1) clean_config(&c);
        if (variant >= 2) c.levels = variant - 2; /* coefficients only; + deformation */
        for (int64_t i = 0; i < 3; i++) {
            struct hrn_sample a = {0}, b = {0};
            CHECK_OK(hrn_synth_sample_ctx(x, &c, i, &a));
            CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &b));
            CHECK_MSG(same_sample(&a, &b), "variant %d sample %lld: context and per-call differ",
                      variant, (long long)i);
            struct hrn_image ia = {0}, ib = {0};
            float *ca = NULL, *cb = NULL;
            CHECK_OK(hrn_synth_render_gt_ctx(x, &c, &a.gt, &ia, &ca));
            CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &a.gt, &ib, &cb));
            CHECK(ia.data && ib.data && same_floats(ia.data, ib.data, 3 * 224 * 224));
            CHECK(same_floats(ca, cb, 224 * 224));
            hrn_image_free(&ia), hrn_image_free(&ib), free(ca), free(cb);
            hrn_sample_free(&a), hrn_sample_free(&b);
        }
    }
    /* two threads on the one context, interleaved indices, against the per-call samples */
    hrn_synth_data_defaults(&c);
    c.seed = 12, c.count = 100, c.occluder_p = 0.6f;
    struct ctx_job j[2] = {{.x = x, .c = &c, .first = 0}, {.x = x, .c = &c, .first = 1}};
    pthread_t t;
    int started = pthread_create(&t, NULL, ctx_job_run, &j[1]) == 0;
    CHECK(started);
    ctx_job_run(&j[0]);
    if (started) pthread_join(t, NULL);
    CHECK_OK(j[0].st);
    CHECK_OK(j[1].st);
    for (int i = 0; i < 8; i++) {
        struct hrn_sample b = {0};
        CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &b));
        CHECK_MSG(same_sample(&j[i % 2].s[i], &b), "sample %d: shared context differs", i);
        hrn_sample_free(&b), hrn_sample_free(&j[i % 2].s[i]);
    }
    /* the checks of the per-call path */
    struct hrn_sample s = {0};
    CHECK_STATUS(hrn_synth_sample_ctx(x, &c, 100, &s), HRN_ERR_INVALID);
    CHECK_STATUS(hrn_synth_sample_ctx(NULL, &c, 0, &s), HRN_ERR_INVALID);
    c.levels = 3;
    CHECK_STATUS(hrn_synth_sample_ctx(x, &c, 0, &s), HRN_ERR_INVALID);
    hrn_synth_ctx_free(x);
    hrn_synth_ctx_free(NULL);
    struct hrn_face_model bare = g_fm; /* a shallow copy without texture coordinates */
    bare.uvs = NULL;
    CHECK_STATUS(hrn_synth_ctx_new(&x, &bare), HRN_ERR_INVALID);
    CHECK(x == NULL);
    CHECK_ERR_HAS("texture coordinates");
}

/* The clean sample is HRN's render of its ground truth, stored at 8 bits: within half a level. */
static void test_gt_rerender(void) {
    struct hrn_synth_data_config c;
    clean_config(&c);
    for (int64_t i = 0; i < 4; i++) {
        struct hrn_sample s = {0};
        struct hrn_image img = {0};
        float *cover = NULL;
        CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &s));
        CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &img, &cover));
        if (!s.img.data || !img.data || !cover) goto next;
        double worst = 0;
        for (size_t p = 0; p < 3 * 224 * 224; p++)
            worst = fmax(worst, fabs((double)s.img.data[p] - (double)img.data[p]));
        CHECK_MSG(worst <= 0.5 / 255 + 1e-6, "sample %lld: re-render differs by %.3g", (long long)i,
                  worst);
        CHECK(same_floats(cover, s.mask, 224 * 224)); /* no occluder: the mask is the coverage */
        /* without gt.verts the vertices come from the coefficients and the deformation map */
        float *v = s.gt.verts;
        s.gt.verts = NULL;
        struct hrn_image img2 = {0};
        CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &img2, NULL));
        s.gt.verts = v;
        if (img2.data) {
            double w2 = 0;
            for (size_t p = 0; p < 3 * 224 * 224; p++)
                w2 = fmax(w2, fabs((double)img2.data[p] - (double)img.data[p]));
            CHECK_MSG(w2 == 0, "render from coefficients differs by %.3g", w2);
        }
        hrn_image_free(&img2);
    next:
        hrn_sample_free(&s);
        hrn_image_free(&img);
        free(cover);
    }
    /* with a background: the face's inside pixels (away from the antialiased outline) still match
     */
    c.background = 1;
    struct hrn_sample s = {0};
    struct hrn_image img = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 7, &s));
    CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &img, NULL));
    double worst = 0;
    int inside = 0;
    for (int y = 1; s.img.data && img.data && y < 223; y++)
        for (int x = 1; x < 223; x++) {
            const float *m = s.mask + y * 224 + x;
            if (!(m[0] > 0 && m[-1] > 0 && m[1] > 0 && m[-224] > 0 && m[224] > 0)) continue;
            inside++;
            for (int ch = 0; ch < 3; ch++) {
                size_t p = (size_t)ch * 224 * 224 + (size_t)y * 224 + (size_t)x;
                worst = fmax(worst, fabs((double)s.img.data[p] - (double)img.data[p]));
            }
        }
    CHECK(inside > 2000);
    CHECK_MSG(worst <= 0.5 / 255 + 1e-6, "inside the face the render differs by %.3g", worst);
    hrn_sample_free(&s);
    hrn_image_free(&img);
}

/* Landmarks are the landmark vertices of M1 (gt.verts), posed and projected by HRN's camera. */
static void test_landmarks_project(void) {
    struct hrn_synth_data_config c;
    clean_config(&c);
    struct hrn_coeff_layout l = hrn_face_model_layout(&g_fm);
    struct hrn_camera cam = hrn_camera_default();
    for (int64_t i = 0; i < 6; i++) {
        struct hrn_sample s = {0};
        CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &s));
        if (!s.gt.verts) continue;
        float R[9], worst = 0;
        hrn_euler_to_rot(s.gt.coeffs + l.angle, R);
        for (int k = 0; k < 68; k++) {
            int32_t v = g_fm.lmk68[k];
            if (v < 0) {
                CHECK(isnan(s.lm[2 * k]));
                continue;
            }
            float p[3], uvz[3];
            hrn_transform_points(R, s.gt.coeffs + l.trans, s.gt.verts + 3 * v, p, 1);
            hrn_project(&cam, p, 1, uvz);
            worst =
                fmaxf(worst, fmaxf(fabsf(uvz[0] - s.lm[2 * k]), fabsf(uvz[1] - s.lm[2 * k + 1])));
        }
        CHECK_MSG(worst < 1e-3f, "sample %lld: landmark off its projected vertex by %g px",
                  (long long)i, (double)worst);
        /* the nose tip is on the face (at most a pixel off the covered pixel centres: in profile
         * it is the outline), inside the crop, with y up: row = 223.5 - v */
        float u = s.lm[2 * 30], v = s.lm[2 * 30 + 1];
        CHECK(u > 20 && u < 204 && v > 20 && v < 204);
        int row = (int)lrintf(223.5f - v), col = (int)lrintf(u - 0.5f), on = 0;
        for (int dy = -1; s.mask && dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                on |= s.mask[(row + dy) * 224 + col + dx] == 1.0f;
        CHECK_MSG(on, "sample %lld: nose tip not on the mask", (long long)i);
        hrn_sample_free(&s);
    }
}

/* The displacement map changes the shading inside the face only (the silhouette is M1's). */
static void test_displacement_shading(void) {
    struct hrn_synth_data_config c;
    clean_config(&c);
    struct hrn_sample s = {0};
    struct hrn_image with = {0}, without = {0};
    float *cw = NULL, *co = NULL;
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 2, &s));
    CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &with, &cw));
    float *d = s.gt.disp;
    s.gt.disp = NULL;
    CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &without, &co));
    s.gt.disp = d;
    if (with.data && without.data && cw && co) {
        CHECK(same_floats(cw, co, 224 * 224));
        double sum = 0, mx = 0, far_bg = 0;
        int n = 0;
        for (int p = 0; p < 224 * 224; p++) {
            double e = 0;
            for (int ch = 0; ch < 3; ch++)
                e += fabs((double)with.data[ch * 224 * 224 + p] -
                          (double)without.data[ch * 224 * 224 + p]);
            int y = p / 224, x = p % 224, near = 0; /* the outline's antialiasing blends */
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    near |= y + dy >= 0 && y + dy < 224 && x + dx >= 0 && x + dx < 224 &&
                            cw[(y + dy) * 224 + x + dx] > 0;
            if (cw[p] > 0)
                sum += e, n++, mx = fmax(mx, e);
            else if (!near)
                far_bg += e;
        }
        CHECK(far_bg == 0);
        /* wrinkles of ~0.4 mm tilt the normals visibly: several grey levels at the folds */
        CHECK_MSG(mx > 0.03 && n > 0 && sum / n > 1e-3,
                  "displacement barely shows: max %.3g mean %.3g", mx, n ? sum / n : 0.0);
    }
    /* levels = 1 has no displacement map and renders like the map removed */
    c.levels = 1;
    struct hrn_sample s1 = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 2, &s1));
    CHECK(s1.gt.disp == NULL && s1.gt.deform != NULL);
    if (s1.img.data && without.data) {
        double worst = 0;
        for (size_t p = 0; p < 3 * 224 * 224; p++)
            worst = fmax(worst, fabs((double)s1.img.data[p] - (double)without.data[p]));
        CHECK(worst <= 0.5 / 255 + 1e-6);
    }
    hrn_sample_free(&s), hrn_sample_free(&s1);
    hrn_image_free(&with), hrn_image_free(&without);
    free(cw), free(co);
}

/* Masks are 0/1 and inside the rendered face; occluders cut them; images are 8-bit and finite. */
static void test_masks_and_occluders(void) {
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    c.count = 100, c.occluder_p = 1.0f;
    int cut = 0;
    for (int64_t i = 0; i < 6; i++) {
        struct hrn_sample s = {0};
        struct hrn_image img = {0};
        float *cover = NULL;
        CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &s));
        CHECK_OK(hrn_synth_render_gt(&g_fm, &c, &s.gt, &img, &cover));
        if (!s.mask || !cover) goto next;
        int face = 0, in_cover = 1, removed = 0, binary = 1, quant = 1;
        for (int p = 0; p < 224 * 224; p++) {
            binary &= s.mask[p] == 0.0f || s.mask[p] == 1.0f;
            face += s.mask[p] > 0;
            in_cover &= s.mask[p] <= cover[p];
            removed += cover[p] > 0 && s.mask[p] == 0;
        }
        for (size_t p = 0; p < 3 * 224 * 224; p++) {
            float v = s.img.data[p] * 255.0f;
            quant &= isfinite(v) && v >= 0 && v <= 255 && fabsf(v - rintf(v)) < 1e-3f;
        }
        CHECK(binary && in_cover && quant);
        CHECK_MSG(face > 224 * 224 / 20 && face < 224 * 224 * 8 / 10,
                  "sample %lld: face covers %d px", (long long)i, face);
        cut += removed > 50;
    next:
        hrn_sample_free(&s);
        hrn_image_free(&img);
        free(cover);
    }
    CHECK_MSG(cut >= 4, "only %d of 6 samples with an occluder lost face pixels", cut);
    /* the ground-truth maps: zero deformation off the chart, displacement only on the skin */
    struct hrn_sample s = {0};
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 1, &s));
    if (s.gt.disp && s.gt.skin) {
        int off = 0, on = 0;
        for (int p = 0; p < 256 * 256; p++)
            off += s.gt.skin[p] == 0 && s.gt.disp[p] != 0, on += s.gt.disp[p] != 0;
        CHECK(off == 0 && on > 1000);
        float m = 0;
        for (int p = 0; p < 3 * 64 * 64; p++)
            m = fmaxf(m, fabsf(s.gt.deform[p]));
        CHECK_MSG(m > 0.5f / 100 && m < 10.0f / 100, "deformation peak %g mm", (double)m * 100);
    }
    hrn_sample_free(&s);
}

/* A model whose expression basis is blendshapes draws weights in [0,1]; the flag round-trips. */
static void test_bounded_expressions(void) {
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_face_model_to_hrn_frame(&fm));
    CHECK(fm.exp_bounded == 0);
    fm.exp_bounded = 1;
    const char *dir = hrn_test_tmpdir("data_synth");
    char path[600];
    snprintf(path, sizeof path, "%s/bounded.h5", dir);
    CHECK_OK(hrn_face_model_save(&fm, path));
    struct hrn_face_model back = {0};
    CHECK_OK(hrn_face_model_load(path, &back));
    CHECK(back.exp_bounded == 1);
    hrn_face_model_free(&back);
    CHECK_OK(hrn_face_model_compact(&fm));
    struct hrn_synth_data_config c;
    clean_config(&c);
    struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
    int active = 0, inside = 1;
    for (int64_t i = 0; i < 8; i++) {
        struct hrn_sample s = {0};
        CHECK_OK(hrn_synth_sample(&fm, &c, i, &s));
        for (int k = 0; s.gt.coeffs && k < fm.n_exp; k++) {
            float w = s.gt.coeffs[l.exp + k];
            inside &= w >= 0 && w <= 1;
            active += w > 0;
        }
        hrn_sample_free(&s);
    }
    CHECK(inside);
    CHECK_MSG(active >= 8 && active < 8 * fm.n_exp / 2, "%d active blendshapes in 8 samples",
              active);
    hrn_face_model_free(&fm);
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f) return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static int file_has(const char *path, const char *needle) {
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same && (ca = fgetc(fa)) == (cb = fgetc(fb)) && ca != EOF) {
    }
    if (same) same = feof(fa) && feof(fb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_write_folder(void) {
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    c.seed = 5, c.count = 10, c.occluder_p = 0.5f;
    const char *dir = hrn_test_tmpdir("data_synth");
    char r1[600], r2[600], p[800], q[800];
    snprintf(r1, sizeof r1, "%s/folder_t2", dir);
    snprintf(r2, sizeof r2, "%s/folder_t1/deeper", dir);
    CHECK_OK(hrn_synth_write_folder(&g_fm, &c, 4, 3, 1, r1, 2));
    CHECK_OK(hrn_synth_write_folder(&g_fm, &c, 4, 3, 1, r2, 1));
    static const char *const FILES[] = {"images/%s.png", "images/landmarks/%s.txt",
                                        "images/mask/%s.png", "images/gt/%s.h5",
                                        "images/gt/%s.obj"};
    for (int i = 4; i < 7; i++) {
        char name[64], rel[128];
        snprintf(name, sizeof name, "synth_5_%06d", i);
        for (int f = 0; f < 5; f++) {
            snprintf(rel, sizeof rel, FILES[f], name);
            snprintf(p, sizeof p, "%s/%s", r1, rel);
            snprintf(q, sizeof q, "%s/%s", r2, rel);
            CHECK_MSG(same_file(p, q) || f == 3, "%s differs between 2 threads and 1", rel);
        }
        snprintf(p, sizeof p, "%s/images/landmarks/%s.txt", r1, name);
        CHECK(count_lines(p) == 68);
        /* what was written is the sample: image bytes, landmarks, ground truth */
        struct hrn_sample s = {0};
        struct hrn_image img = {0};
        struct hrn_sample_gt gt = {0};
        CHECK_OK(hrn_synth_sample(&g_fm, &c, i, &s));
        snprintf(p, sizeof p, "%s/images/%s.png", r1, name);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_RGB, &img));
        CHECK(img.data && s.img.data && same_floats(img.data, s.img.data, 3 * 224 * 224));
        float lm[68 * 2];
        snprintf(p, sizeof p, "%s/images/landmarks/%s.txt", r1, name);
        CHECK_OK(hrn_lmk_read(p, 68, lm, 68, NULL));
        for (int k = 0; k < 136; k++)
            CHECK_NEAR(lm[k], s.lm[k], 1e-4, 0);
        snprintf(p, sizeof p, "%s/images/gt/%s.h5", r1, name);
        CHECK_OK(hrn_sample_gt_load(p, &gt));
        CHECK(gt.coeffs && s.gt.coeffs && gt.n_coeffs == s.gt.n_coeffs &&
              same_floats(gt.coeffs, s.gt.coeffs, (size_t)gt.n_coeffs));
        CHECK(same_floats(gt.disp, s.gt.disp, 256 * 256));
        struct hrn_sample tmp = {.gt = gt};
        hrn_sample_free(&tmp);
        hrn_sample_free(&s);
        hrn_image_free(&img);
    }
    snprintf(p, sizeof p, "%s/dataset.ini", r1);
    CHECK(file_has(p, "aligned = true") && file_has(p, "seed = 5") && file_has(p, g_fm.name));
    /* the folder read back as a dataset is the synthetic dataset: folders and memory agree */
    struct hrn_dataset ds = {0};
    snprintf(p, sizeof p, "%s/datalist/train.txt", r1);
    CHECK_OK(hrn_dataset_open_folder(&ds, &g_fm, r1, p, HRN_DATASET_STRICT, stderr));
    CHECK(ds.n == 2);
    for (int64_t i = 0; i < ds.n && ds.n == 2; i++) {
        struct hrn_sample f = {0}, m = {0};
        CHECK_OK(hrn_dataset_get(&ds, i, &f));
        CHECK_OK(hrn_synth_sample(&g_fm, &c, 4 + i, &m));
        CHECK(f.img.data && m.img.data && same_floats(f.img.data, m.img.data, 3 * 224 * 224));
        CHECK(same_floats(f.mask, m.mask, 224 * 224));
        for (int k = 0; k < 136; k++)
            CHECK_NEAR(f.lm[k], m.lm[k], 1e-4, 0);
        CHECK(f.gt.coeffs && m.gt.coeffs &&
              same_floats(f.gt.coeffs, m.gt.coeffs, (size_t)m.gt.n_coeffs));
        CHECK(same_floats(f.gt.albedo_detail, m.gt.albedo_detail, 3 * 256 * 256));
        hrn_sample_free(&f), hrn_sample_free(&m);
    }
    hrn_dataset_free(&ds);
    snprintf(p, sizeof p, "%s/datalist/train.txt", r1);
    CHECK(count_lines(p) == 2 && file_has(p, "images/synth_5_000004.png"));
    snprintf(p, sizeof p, "%s/datalist/val.txt", r1);
    CHECK(count_lines(p) == 1 && file_has(p, "images/synth_5_000006.png"));
    /* bad arguments */
    CHECK_STATUS(hrn_synth_write_folder(&g_fm, &c, 8, 3, 0, r1, 1),
                 HRN_ERR_INVALID); /* past count */
    CHECK_STATUS(hrn_synth_write_folder(&g_fm, &c, 0, 3, 4, r1, 1), HRN_ERR_INVALID); /* val > n */
    CHECK_STATUS(hrn_synth_write_folder(&g_fm, &c, 0, 0, 0, r1, 1), HRN_ERR_INVALID);
    CHECK_STATUS(hrn_synth_write_folder(&g_fm, &c, 0, 1, 0, "", 1), HRN_ERR_INVALID);
    snprintf(p, sizeof p, "%s/dataset.ini/below", r1); /* a file in the way */
    CHECK_STATUS(hrn_synth_write_folder(&g_fm, &c, 0, 1, 0, p, 1), HRN_ERR_IO);
    CHECK_ERR_HAS("dataset.ini");
    struct hrn_sample s = {0};
    CHECK_STATUS(hrn_synth_sample(&g_fm, &c, 10, &s), HRN_ERR_INVALID); /* index past count */
    CHECK_STATUS(hrn_synth_sample(&g_fm, &c, -1, &s), HRN_ERR_INVALID);
}

static void test_contact_sheet(void) {
    struct hrn_synth_data_config c;
    hrn_synth_data_defaults(&c);
    struct hrn_sample s[2];
    memset(s, 0, sizeof s);
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 0, &s[0]));
    CHECK_OK(hrn_synth_sample(&g_fm, &c, 1, &s[1]));
    char path[600];
    snprintf(path, sizeof path, "%s/sheet.png", hrn_test_tmpdir("data_synth"));
    CHECK_OK(hrn_synth_contact_sheet(s, 2, path));
    struct hrn_image img = {0};
    CHECK_OK(hrn_image_read(path, HRN_IMAGE_ANY, &img));
    CHECK(img.w == 6 * 224 && img.h == 2 * 224 && img.c == 3);
    CHECK_STATUS(hrn_synth_contact_sheet(s, 0, path), HRN_ERR_INVALID);
    hrn_image_free(&img);
    hrn_sample_free(&s[0]), hrn_sample_free(&s[1]);
}

/* The real models hrn loads: SFM (Gaussian shape, 6 blendshapes, no albedo, no jaw landmarks)
 * and ICT (100 identities, 53 ARKit blendshapes, a UV table). */
static void real_model(const char *rel, int want_bounded) {
    const char *rd = hrn_test_realdata();
    if (!rd) SKIP("no ../shared/realdata");
    char path[600];
    snprintf(path, sizeof path, "%s/%s", rd, rel);
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_face_model_load(path, &fm));
    CHECK_OK(hrn_face_model_to_hrn_frame(&fm));
    CHECK(fm.exp_bounded == want_bounded);
    CHECK_OK(hrn_face_model_compact(&fm));
    struct hrn_synth_data_config c;
    clean_config(&c);
    struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
    for (int64_t i = 0; i < 3; i++) {
        struct hrn_sample s = {0};
        struct hrn_image img = {0};
        CHECK_OK(hrn_synth_sample(&fm, &c, i, &s));
        CHECK_OK(hrn_synth_render_gt(&fm, &c, &s.gt, &img, NULL));
        if (s.img.data && img.data) {
            double worst = 0;
            for (size_t p = 0; p < 3 * 224 * 224; p++)
                worst = fmax(worst, fabs((double)s.img.data[p] - (double)img.data[p]));
            CHECK(worst <= 0.5 / 255 + 1e-6);
            int face = 0;
            for (int p = 0; p < 224 * 224; p++)
                face += s.mask[p] > 0;
            CHECK(face > 224 * 224 / 20);
            for (int k = 0; k < fm.n_exp; k++)
                CHECK(!want_bounded ||
                      (s.gt.coeffs[l.exp + k] >= 0 && s.gt.coeffs[l.exp + k] <= 1));
            for (int k = 0; k < 68; k++)
                CHECK((fm.lmk68[k] >= 0) == (isfinite(s.lm[2 * k]) != 0));
        }
        hrn_sample_free(&s);
        hrn_image_free(&img);
    }
    hrn_face_model_free(&fm);
}
static void test_sfm(void) { real_model("sfm/sfm_shape_3448.h5", 1); }
static void test_ict(void) { real_model("ict_facekit/ict_face_light_narrow.h5", 1); }

/* hrn-data synth: help, usage errors (exit 2), a runtime error naming the file (exit 1), a run */
static void test_cli(void) {
    const char *exe = "../data/hrn-data";
    struct stat sb;
    if (stat(exe, &sb) != 0) SKIP("%s not built", exe);
    const char *dir = hrn_test_tmpdir("data_synth_cli");
    char cmd[2000], p[800];
    snprintf(cmd, sizeof cmd, "%s --help > /dev/null", exe);
    CHECK(hrn_test_run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s synth -h > /dev/null", exe);
    CHECK(hrn_test_run(cmd) == 0);
    static const char *const BAD[] = {"",
                                      "frobnicate",
                                      "synth --out x",
                                      "synth --synth small",
                                      "synth --synth tiny --out x",
                                      "synth --synth small --model m.h5 --out x",
                                      "synth --synth small --count 0 --out x",
                                      "synth --synth small --count 3 --val 4 --out x",
                                      "synth --synth small --set synth.nope=1 --out x",
                                      "synth --synth small --set synth.yaw_deg=200 --out x",
                                      "synth --synth small --out x extra"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s > /dev/null 2>&1", exe, BAD[i]);
        CHECK_MSG(hrn_test_run(cmd) == 2, "'hrn-data %s' should be a usage error (exit 2)", BAD[i]);
    }
    snprintf(cmd, sizeof cmd, "%s synth --model %s/missing.h5 --out %s/o 2> %s/err.txt", exe, dir,
             dir, dir);
    CHECK(hrn_test_run(cmd) == 1);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    CHECK(file_has(p, "missing.h5"));
    snprintf(cmd, sizeof cmd,
             "%s synth --synth small --seed 9 --count 3 --val 1 --threads 2 "
             "--set synth.occluder_p=1 --contact-sheet %s/sheet.png --out %s/o > /dev/null",
             exe, dir, dir);
    CHECK(hrn_test_run(cmd) == 0);
    snprintf(p, sizeof p, "%s/o/datalist/val.txt", dir);
    CHECK(count_lines(p) == 1 && file_has(p, "images/synth_9_000002.png"));
    snprintf(p, sizeof p, "%s/o/images/gt/synth_9_000000.obj", dir);
    CHECK(stat(p, &sb) == 0);
    struct hrn_image sheet = {0};
    snprintf(p, sizeof p, "%s/sheet.png", dir);
    CHECK_OK(hrn_image_read(p, HRN_IMAGE_ANY, &sheet));
    CHECK(sheet.w == 6 * 224 && sheet.h == 3 * 224);
    hrn_image_free(&sheet);
}

int main(void) {
    g_fm_ok =
        hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}) ==
            HRN_OK &&
        hrn_face_model_to_hrn_frame(&g_fm) == HRN_OK && hrn_face_model_compact(&g_fm) == HRN_OK;
    if (!g_fm_ok) {
        printf("cannot make the synthetic model: %s\n", hrn_error_msg());
        return 1;
    }
    RUN(test_pure_function_of_index);
    RUN(test_context);
    RUN(test_gt_rerender);
    RUN(test_landmarks_project);
    RUN(test_displacement_shading);
    RUN(test_masks_and_occluders);
    RUN(test_bounded_expressions);
    RUN(test_write_folder);
    RUN(test_contact_sheet);
    RUN(test_cli);
    RUN(test_sfm);
    RUN(test_ict);
    hrn_face_model_free(&g_fm);
    return hrn_test_finish();
}
