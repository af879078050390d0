/* test_losses_torch.c: every loss of the losses module against its PyTorch version (HRN's
 * models/losses.py and Deep3D's, as tests/reference/gen_losses_torch.py writes them into
 * tests/data/losses_torch.h5): the value and the gradient of every differentiable input; the
 * de-retouching op and the bilinear resize by value and vector-Jacobian product.
 * HRN_TEST_VERBOSE=1 prints every max difference. */
#include "hrn_losses.h"
#include "hrn_test.h"

#define FIXTURE HRN_TEST_DATA_DIR "/losses_torch.h5"

static struct hrn_h5 *g_h5;
static struct hrn_tape g_t;

/* a leaf on the tape holding dataset grp/name (requires grad when asked); NULL + failed check */
static struct hrn_tensor *load(const char *grp, const char *name, int grad) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", grp, name);
    int ndim = 0;
    int64_t shape[HRN_H5_MAX_DIMS];
    float *p = NULL;
    enum hrn_status st = hrn_h5_read_f32_alloc(g_h5, path, &ndim, shape, &p);
    CHECK_MSG(st == HRN_OK, "reading %s: %s", path, hrn_error_msg());
    if (st != HRN_OK) return NULL;
    struct hrn_tensor *x = hrn_tape_tensor(&g_t, ndim, shape, name);
    CHECK(x != NULL);
    if (x) {
        memcpy(x->data, p, (size_t)x->numel * sizeof(float));
        if (grad) CHECK_OK(hrn_tape_requires_grad(&g_t, x));
    }
    free(p);
    return x;
}

static double attr_f(const char *obj, const char *name) {
    double v = 0;
    CHECK_OK(hrn_h5_attr_read_f64(g_h5, obj, name, &v));
    return v;
}

/* llm.c check_tensor: |got - want| <= atol + rtol max(|got|,|want|) everywhere */
static int check_tensor(const char *label, const float *got, const float *want, int64_t n,
                        double atol, double rtol) {
    double md = 0, mr = 0;
    int64_t bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double mag = fmax(fabs((double)got[i]), fabs((double)want[i]));
        md = fmax(md, d);
        if (mag > 0) mr = fmax(mr, d / mag);
        if ((d > atol + rtol * mag || !isfinite(got[i])) && bad < 0) bad = i;
    }
    if (bad >= 0)
        printf("  %s MISMATCH at %lld: got %.9g want %.9g (max abs diff %.3g)\n", label,
               (long long)bad, (double)got[bad], (double)want[bad], md);
    else if (getenv("HRN_TEST_VERBOSE"))
        printf("  %-26s OK max abs diff %.3g, max rel diff %.3g\n", label, md, mr);
    return bad < 0;
}

/* the loss value against the attribute, then each input's gradient against d_<name> */
static void check_loss(const char *grp, struct hrn_tensor *loss, struct hrn_tensor *const *xs,
                       int n, double val_rtol, double gatol, double grtol) {
    CHECK_MSG(loss != NULL, "%s: %s", grp, hrn_error_msg());
    if (!loss) return;
    CHECK(loss->numel == 1);
    float want = (float)attr_f(grp, "loss");
    char label[96];
    snprintf(label, sizeof label, "%s value", grp);
    CHECK_MSG(check_tensor(label, loss->data, &want, 1, 0, val_rtol), "%s value", grp);
    CHECK_OK(hrn_tape_backward(&g_t, loss));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "d_%s", xs[i]->name);
        struct hrn_tensor *ref = load(grp, name, 0);
        if (!ref) continue;
        CHECK(ref->numel == xs[i]->numel);
        snprintf(label, sizeof label, "%s %s", grp, name);
        CHECK_MSG(check_tensor(label, xs[i]->grad, ref->data, ref->numel, gatol, grtol), "%s",
                  label);
    }
}

static void test_photo(void) {
    const char *grps[2] = {"photo", "photo_small_mask"};
    for (int k = 0; k < 2; k++) {
        hrn_tape_reset(&g_t);
        struct hrn_tensor *a = load(grps[k], "a", 1), *b = load(grps[k], "b", 1),
                          *m = load(grps[k], "mask", 0);
        if (!a || !b || !m) continue;
        check_loss(grps[k], hrn_loss_photo(&g_t, a, b, m), (struct hrn_tensor *[]){a, b}, 2,
                   1e-6, 1e-7, 1e-5);
    }
    /* the (B,H,W) mask layout gives the same */
    hrn_tape_reset(&g_t);
    struct hrn_tensor *a = load("photo", "a", 0), *b = load("photo", "b", 0),
                      *m = load("photo", "mask", 0);
    if (a && b && m) {
        struct hrn_tensor *m3 = hrn_reshape(&g_t, m, 3, (int64_t[]){2, 8, 10});
        struct hrn_tensor *l4 = hrn_loss_photo(&g_t, a, b, m), *l3 = hrn_loss_photo(&g_t, a, b, m3);
        CHECK(l4 && l3 && l4->data[0] == l3->data[0]);
    }
}

static void test_landmarks(void) {
    hrn_tape_reset(&g_t);
    struct hrn_tensor *p = load("lm68", "pred", 1), *g = load("lm68", "gt", 0);
    if (p && g)
        check_loss("lm68", hrn_loss_landmark68(&g_t, p, g, NULL), &p, 1, 1e-6, 1e-6, 1e-5);

    hrn_tape_reset(&g_t);
    p = load("lm68_missing", "pred", 1), g = load("lm68_missing", "gt", 0);
    struct hrn_tensor *v = load("lm68_missing", "valid", 0);
    if (p && g && v) {
        CHECK(isnan(g->data[(0 * 68 + 5) * 2 + 1])); /* the NaN target is really there */
        uint8_t valid[2 * 68];
        for (int i = 0; i < 2 * 68; i++) valid[i] = v->data[i] != 0;
        check_loss("lm68_missing", hrn_loss_landmark68(&g_t, p, g, valid), &p, 1, 1e-6, 1e-6,
                   1e-5);
    }

    hrn_tape_reset(&g_t);
    p = load("lm5", "pred", 1), g = load("lm5", "gt", 0);
    if (p && g) check_loss("lm5", hrn_loss_landmark5(&g_t, p, g, NULL), &p, 1, 1e-6, 1e-6, 1e-5);
}

static void test_contour(void) {
    const char *grps[2] = {"contour", "contour_s36"};
    for (int k = 0; k < 2; k++) {
        hrn_tape_reset(&g_t);
        struct hrn_tensor *v = load(grps[k], "verts", 1), *l = load(grps[k], "left", 0),
                          *r = load(grps[k], "right", 0), *m = load(grps[k], "mask", 0);
        if (!v || !l || !r || !m) continue;
        struct hrn_contour_opts o = HRN_CONTOUR_OPTS_DEFAULT;
        if (k == 1) {
            int64_t s = 0;
            CHECK_OK(hrn_h5_attr_read_i64(g_h5, grps[k], "img_size", &s));
            o.img_size = (int)s;
            o.margin = (float)attr_f(grps[k], "margin");
        }
        /* the targets helper reproduces get_edge_points_horizontal exactly */
        int64_t B = m->shape[0];
        CHECK(m->shape[1] == o.img_size && m->shape[2] == o.img_size);
        float *lt = malloc((size_t)(B * o.img_size) * sizeof(float)),
              *rt = malloc((size_t)(B * o.img_size) * sizeof(float));
        hrn_contour_targets(m->data, B, o.img_size, lt, rt);
        char label[64];
        snprintf(label, sizeof label, "%s left", grps[k]);
        CHECK(check_tensor(label, lt, l->data, l->numel, 0, 0));
        snprintf(label, sizeof label, "%s right", grps[k]);
        CHECK(check_tensor(label, rt, r->data, r->numel, 0, 0));
        free(lt), free(rt);
        check_loss(grps[k], hrn_loss_contour(&g_t, v, l, r, &o), &v, 1, 1e-5, 1e-9, 1e-4);
    }
}

static void test_maps(void) {
    hrn_tape_reset(&g_t);
    struct hrn_tensor *p = load("map_l1", "pred", 1), *g = load("map_l1", "gt", 0),
                      *m = load("map_l1", "mask", 0);
    if (p && g && m) check_loss("map_l1", hrn_loss_map_l1(&g_t, p, g, m), &p, 1, 1e-6, 1e-8, 1e-5);
    hrn_tape_reset(&g_t);
    p = load("map_l1_nomask", "pred", 1), g = load("map_l1_nomask", "gt", 0);
    if (p && g)
        check_loss("map_l1_nomask", hrn_loss_map_l1(&g_t, p, g, NULL), &p, 1, 1e-6, 1e-8, 1e-5);

    const char *grps[5] = {"tv", "tv_std", "tv_disp", "tv_std_disp", "abs_mean"};
    for (int k = 0; k < 5; k++) {
        hrn_tape_reset(&g_t);
        struct hrn_tensor *x = load(grps[k], "x", 1);
        if (!x) continue;
        struct hrn_tensor *l = k == 4             ? hrn_loss_abs_mean(&g_t, x)
                               : strstr(grps[k], "std") ? hrn_loss_tv_std(&g_t, x)
                                                  : hrn_loss_tv(&g_t, x);
        check_loss(grps[k], l, &x, 1, 1e-5, 1e-7, 1e-4);
    }
}

static void test_gan(void) {
    for (int k = 0; k < 2; k++) {
        const char *grp = k ? "gan_fake" : "gan_real";
        hrn_tape_reset(&g_t);
        struct hrn_tensor *p = load(grp, "p", 1);
        if (p) check_loss(grp, hrn_loss_gan_ls(&g_t, p, !k), &p, 1, 1e-6, 1e-8, 1e-5);
    }
    hrn_tape_reset(&g_t);
    struct hrn_tensor *r = load("gan_d", "real", 1), *f = load("gan_d", "fake", 1);
    if (r && f)
        check_loss("gan_d", hrn_loss_gan_ls_d(&g_t, r, f), (struct hrn_tensor *[]){r, f}, 2,
                   1e-6, 1e-8, 1e-5);
}

static void test_face_regs(void) {
    hrn_tape_reset(&g_t);
    struct hrn_tensor *id = load("reg", "id", 1), *ex = load("reg", "exp", 1),
                      *tx = load("reg", "tex", 1);
    if (id && ex && tx)
        check_loss("reg", hrn_loss_coeff_reg(&g_t, id, ex, tx, 1.0f, 0.8f, 1.7e-2f),
                   (struct hrn_tensor *[]){id, ex, tx}, 3, 1e-6, 1e-8, 1e-5);
    hrn_tape_reset(&g_t);
    struct hrn_tensor *gm = load("gamma", "gamma", 1);
    if (gm) check_loss("gamma", hrn_loss_gamma(&g_t, gm), &gm, 1, 1e-5, 1e-8, 1e-4);
    hrn_tape_reset(&g_t);
    struct hrn_tensor *tex = load("reflc", "tex", 1), *m = load("reflc", "mask", 0);
    if (tex && m)
        check_loss("reflc", hrn_loss_reflectance(&g_t, tex, m), &tex, 1, 1e-5, 1e-8, 1e-4);
}

/* y and d sum(r*y)/d inputs */
static void check_vjp(const char *grp, struct hrn_tensor *y, struct hrn_tensor *const *xs, int n,
                      double atol, double rtol) {
    CHECK_MSG(y != NULL, "%s: %s", grp, hrn_error_msg());
    if (!y) return;
    struct hrn_tensor *want = load(grp, "y", 0), *r = load(grp, "r", 0);
    if (!want || !r) return;
    CHECK(want->numel == y->numel && r->numel == y->numel);
    char label[96];
    snprintf(label, sizeof label, "%s y", grp);
    CHECK_MSG(check_tensor(label, y->data, want->data, y->numel, atol, rtol), "%s", label);
    CHECK_OK(hrn_tape_backward_seed(&g_t, y, r->data));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "d_%s", xs[i]->name);
        struct hrn_tensor *ref = load(grp, name, 0);
        if (!ref) continue;
        snprintf(label, sizeof label, "%s %s", grp, name);
        CHECK_MSG(check_tensor(label, xs[i]->grad, ref->data, ref->numel, atol, rtol), "%s",
                  label);
    }
}

static void test_deretouch(void) {
    hrn_tape_reset(&g_t);
    struct hrn_tensor *tn = load("deretouch", "tn", 1), *b = load("deretouch", "blend", 1),
                      *a0 = load("deretouch", "a0", 1);
    if (tn && b && a0)
        check_vjp("deretouch", hrn_deretouch(&g_t, tn, b, a0), (struct hrn_tensor *[]){tn, b, a0},
                  3, 1e-6, 1e-5);
}

static void test_resize(void) {
    for (int k = 0; k < 4; k++) {
        char grp[16];
        snprintf(grp, sizeof grp, "resize%d", k);
        int64_t oh = 0, ow = 0;
        CHECK_OK(hrn_h5_attr_read_i64(g_h5, grp, "oh", &oh));
        CHECK_OK(hrn_h5_attr_read_i64(g_h5, grp, "ow", &ow));
        hrn_tape_reset(&g_t);
        struct hrn_tensor *x = load(grp, "x", 1);
        if (!x) continue;
        struct hrn_tensor *y = hrn_resize_bilinear_ad(&g_t, x, oh, ow);
        check_vjp(grp, y, &x, 1, 1e-6, 1e-5);
        /* and the same as core's forward-only resize (hrn_image.h) */
        if (y) {
            int64_t P = x->shape[0] * x->shape[1];
            float *ref = malloc((size_t)y->numel * sizeof(float));
            for (int64_t p = 0; p < P; p++)
                hrn_resize_bilinear(x->data + p * x->shape[2] * x->shape[3], 1, (int)x->shape[2],
                                    (int)x->shape[3], ref + p * oh * ow, (int)oh, (int)ow, 0);
            snprintf(grp, sizeof grp, "resize%d core", k);
            CHECK(check_tensor(grp, y->data, ref, y->numel, 1e-6, 1e-6));
            free(ref);
        }
    }
}

int main(void) {
    if (hrn_h5_open(FIXTURE, &g_h5) != HRN_OK) {
        printf("FAIL cannot open %s: %s\n", FIXTURE, hrn_error_msg());
        return 1;
    }
    if (hrn_tape_init(&g_t, 8u << 20) != HRN_OK) return 1;
    RUN(test_photo);
    RUN(test_landmarks);
    RUN(test_contour);
    RUN(test_maps);
    RUN(test_gan);
    RUN(test_face_regs);
    RUN(test_deretouch);
    RUN(test_resize);
    hrn_tape_free(&g_t);
    hrn_h5_close(g_h5);
    return hrn_test_finish();
}
