/* test_losses_identity: hrn_loss_identity (losses/loss_identity.c) by hand and by finite
 * differences (hrn_gradcheck: random weights, double accumulation, backward accumulates), and the
 * whole chain photo -> face descriptor (detect/hrn_facerec.h) -> loss by a directional finite
 * difference, which needs face-api's weights (skipped without). */
#include "hrn_facerec.h"
#include "hrn_losses.h"
#include "hrn_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_values(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    /* rows: equal (cos 1), opposite (-1), orthogonal (0), scaled copy (1) */
    float a[4 * 3] = {1, 2, 3, 1, 0, 0, 0, 1, 0, 2, 2, 1};
    float b[4 * 3] = {1, 2, 3, -3, 0, 0, 0, 0, 5, 4, 4, 2};
    struct hrn_tensor *ta = hrn_tape_wrap(&t, a, 2, (int64_t[]){4, 3}, "a");
    struct hrn_tensor *tb = hrn_tape_wrap(&t, b, 2, (int64_t[]){4, 3}, "b");
    struct hrn_tensor *l = hrn_loss_identity(&t, ta, tb);
    CHECK(l && l->numel == 1);
    if (l) CHECK_NEAR(l->data[0], (0.0 + 2.0 + 1.0 + 0.0) / 4, 1e-6, 0);
    /* a zero descriptor stays finite (cos 0) */
    float z[3] = {0, 0, 0}, o[3] = {1, 1, 1};
    l = hrn_loss_identity(&t, hrn_tape_wrap(&t, z, 2, (int64_t[]){1, 3}, "z"),
                          hrn_tape_wrap(&t, o, 2, (int64_t[]){1, 3}, "o"));
    if (l) CHECK_NEAR(l->data[0], 1.0, 1e-6, 0);
    CHECK(l != NULL);
    hrn_tape_free(&t);
}

static void test_bad_shapes(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *a = hrn_tape_tensor(&t, 2, (int64_t[]){2, 8}, "a");
    struct hrn_tensor *b = hrn_tape_tensor(&t, 2, (int64_t[]){3, 8}, "b");
    struct hrn_tensor *c = hrn_tape_tensor(&t, 1, (int64_t[]){8}, "c");
    CHECK(hrn_loss_identity(&t, a, b) == NULL);
    CHECK(strstr(hrn_error_msg(), "identity loss") != NULL);
    CHECK(hrn_loss_identity(&t, c, c) == NULL);
    CHECK(hrn_loss_identity(&t, NULL, a) == NULL);
    hrn_tape_free(&t);
}

static enum hrn_status identity_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                                   void *user, struct hrn_tensor **out) {
    (void)n, (void)user;
    *out = hrn_loss_identity(t, in[0], in[1]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

/* Both descriptors get gradients; several seeds and sizes (128 as the net's). */
static void test_gradcheck(void) {
    static const int64_t SHAPES[][2] = {{1, 5}, {3, 16}, {2, 128}};
    for (int k = 0; k < 3; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct hrn_tape t;
            CHECK_OK(hrn_tape_init(&t, 4u << 20));
            struct hrn_rng r;
            hrn_rng_seed(&r, 100 * seed + (uint64_t)k);
            struct hrn_tensor *in[2];
            for (int i = 0; i < 2; i++) {
                in[i] = hrn_tape_tensor(&t, 2, SHAPES[k], NULL);
                for (int64_t j = 0; j < in[i]->numel; j++)
                    in[i]->data[j] = 2 * hrn_rng_uniformf(&r) - 1;
            }
            struct hrn_gradcheck_opts o = {.seed = seed, .max_per_input = 96};
            struct hrn_gradcheck_report rep;
            enum hrn_status st = hrn_gradcheck(&t, in, 2, identity_fn, NULL, &o, &rep);
            CHECK_MSG(st == HRN_OK, "gradcheck (%lld,%lld) seed %llu: %s",
                      (long long)SHAPES[k][0], (long long)SHAPES[k][1],
                      (unsigned long long)seed, hrn_error_msg());
            CHECK(rep.n_checked > 0);
            hrn_tape_free(&t);
        }
}

/* --- through the descriptor net ------------------------------------------------------------- */

enum { S = 150 }; /* the net's size: the resize in front is checked by test_resize_gradcheck */

static const char *weights_path(void) {
    static char buf[4096];
    const char *e = getenv("HRN_FACEAPI_H5");
    snprintf(buf, sizeof buf, "%s", e && *e ? e : HRN_FACEAPI_H5);
    return buf;
}

/* A smooth face-coloured test image (3,S,S) in [0,1] with a seed-dependent pattern. */
static void make_image(float *x, int seed) {
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int i = 0; i < S; i++) {
                double v = 0.55 - 0.1 * c + 0.2 * sin(0.07 * i * (1 + seed) + 0.05 * y) *
                                                cos(0.09 * y + seed + c);
                x[(c * S + y) * S + i] = (float)v;
            }
}

/* L(x) = identity(descriptor(x), target), its gradient into g (may be NULL). */
static double chain_loss(const struct hrn_facerec *fr, float *x, const float *target, float *g) {
    struct hrn_tape t;
    double l = NAN;
    if (hrn_tape_init(&t, (size_t)96 << 20) != HRN_OK) return l;
    struct hrn_tensor *xt = hrn_tape_wrap(&t, x, 4, (int64_t[]){1, 3, S, S}, "x");
    struct hrn_tensor *tt = hrn_tape_wrap(&t, (float *)target, 2,
                                          (int64_t[]){1, HRN_FACEREC_DIM}, "target");
    if (g) CHECK_OK(hrn_tape_requires_grad(&t, xt));
    struct hrn_tensor *loss = hrn_loss_identity(&t, hrn_facerec_image(fr, &t, xt), tt);
    CHECK_MSG(loss != NULL, "chain: %s", hrn_error_msg());
    if (loss && g) {
        CHECK_OK(hrn_tape_backward(&t, loss));
        memcpy(g, xt->grad, (size_t)3 * S * S * sizeof *g);
        /* backward accumulates into a leaf: a second call doubles it */
        CHECK_OK(hrn_tape_backward(&t, loss));
        double worst = 0, big = 0;
        for (int i = 0; i < 3 * S * S; i++) {
            worst = fmax(worst, fabs((double)xt->grad[i] - 2.0 * (double)g[i]));
            big = fmax(big, fabs((double)g[i]));
        }
        CHECK_MSG(worst <= 1e-6 * big, "second backward: off by %g of %g", worst, big);
    }
    if (loss) l = loss->data[0];
    hrn_tape_free(&t);
    return l;
}

/* The analytic derivative along smooth random directions against central differences of the
 * loss, and one gradient step lowering the loss. The
 * exact check is test_tfjs_gradient; here a step of 3e-4 trades the float32 forward's noise
 * (about 1e-7 of the loss, 1e-5 of a derivative of 1e-2 at this step) against the ReLU and
 * max-pool kinks a step crosses somewhere in the net (which move single derivatives by up to
 * ~10%), so the check is on the median over 6 directions (measured 1.1%, worst 3.1%) and on the
 * signs. */
static void test_chain(void) {
    struct stat sb;
    if (stat(weights_path(), &sb) != 0) SKIP("face-api weights not at %s", weights_path());
    struct hrn_facerec fr = {0};
    CHECK_OK(hrn_facerec_load(&fr, weights_path()));
    if (!fr.params) return;
    enum { N = 3 * S * S };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *g = malloc(N * sizeof *g);
    float *xp = malloc(N * sizeof *xp), *v = malloc(N * sizeof *v), target[HRN_FACEREC_DIM];
    CHECK(x && y && g && xp && v);
    if (!x || !y || !g || !xp || !v) goto done;
    /* the target: the descriptor of another image */
    make_image(y, 3);
    {
        struct hrn_tape t;
        CHECK_OK(hrn_tape_init(&t, (size_t)96 << 20));
        struct hrn_tensor *d = hrn_facerec_image(
            &fr, &t, hrn_tape_wrap(&t, y, 4, (int64_t[]){1, 3, S, S}, "y"));
        CHECK(d != NULL);
        if (d) memcpy(target, d->data, sizeof target);
        hrn_tape_free(&t);
    }
    make_image(x, 0);
    double l0 = chain_loss(&fr, x, target, g);
    CHECK(isfinite(l0) && l0 > 1e-3);
    struct hrn_rng r;
    hrn_rng_seed(&r, 77);
    const double eps = 3e-4;
    double rels[6];
    int same_sign = 0;
    for (int k = 0; k < 6; k++) {
        /* a smooth direction: pixel noise would cross a ReLU kink somewhere for any step */
        double gv = 0, fx = 0.02 + 0.1 * (double)hrn_rng_uniformf(&r),
               fy = 0.02 + 0.1 * (double)hrn_rng_uniformf(&r);
        double ph[3] = {6 * (double)hrn_rng_uniformf(&r), 6 * (double)hrn_rng_uniformf(&r),
                        6 * (double)hrn_rng_uniformf(&r)};
        for (int i = 0; i < N; i++) {
            int c = i / (S * S), yy = i / S % S, xx = i % S;
            v[i] = (float)sin(fx * xx + fy * yy + ph[c]);
            gv += (double)g[i] * (double)v[i];
        }
        for (int i = 0; i < N; i++) xp[i] = x[i] + (float)eps * v[i];
        double lp = chain_loss(&fr, xp, target, NULL);
        for (int i = 0; i < N; i++) xp[i] = x[i] - (float)eps * v[i];
        double lm = chain_loss(&fr, xp, target, NULL);
        double fd = (lp - lm) / (2 * eps), rel = fabs(fd - gv) / fmax(fabs(fd), fabs(gv));
        printf("  direction %d: analytic %.6g, central difference %.6g (rel. diff %.2g)\n", k, gv,
               fd, rel);
        rels[k] = rel;
        same_sign += (fd > 0) == (gv > 0);
    }
    /* median of 6: the mean of the middle two after sorting */
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (rels[j] < rels[i]) {
                double tmp = rels[i];
                rels[i] = rels[j], rels[j] = tmp;
            }
    double med = 0.5 * (rels[2] + rels[3]);
    printf("  median relative difference %.3g over 6 directions\n", med);
    CHECK_MSG(med <= 0.03 && same_sign == 6, "directional derivatives: median rel. diff %.3g, "
              "%d of 6 signs agree", med, same_sign);
    /* a step against the gradient lowers the loss (what w_feat relies on) */
    double gg = 0;
    for (int i = 0; i < N; i++) gg += (double)g[i] * (double)g[i];
    for (int i = 0; i < N; i++) xp[i] = x[i] - (float)(0.1 * l0 / gg) * g[i];
    double l1 = chain_loss(&fr, xp, target, NULL);
    printf("  loss %.5f -> %.5f after one gradient step (the same image: %.2g)\n", l0, l1,
           chain_loss(&fr, y, target, NULL));
    CHECK(l1 < l0);
    CHECK_NEAR(chain_loss(&fr, y, target, NULL), 0.0, 1e-6, 0);
done:
    free(x), free(y), free(g), free(xp), free(v);
    hrn_facerec_free(&fr);
}

/* What hrn_facerec_image puts in front of the net for a crop of another size: the bilinear
 * resize to 150 (here from 112 and from 224, HRN's crop) and the normalisation. */
static enum hrn_status resize_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                                 void *user, struct hrn_tensor **out) {
    (void)n, (void)user;
    *out = hrn_facerec_normalize(
        t, hrn_interp_bilinear(t, in[0], HRN_FACEREC_INPUT, HRN_FACEREC_INPUT, 0));
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_resize_gradcheck(void) {
    static const int SIZES[2] = {112, 224};
    for (int k = 0; k < 2; k++) {
        struct hrn_tape t;
        CHECK_OK(hrn_tape_init(&t, 64u << 20));
        struct hrn_rng r;
        hrn_rng_seed(&r, 5 + (uint64_t)k);
        struct hrn_tensor *x =
            hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, SIZES[k], SIZES[k]}, NULL);
        for (int64_t i = 0; x && i < x->numel; i++) x->data[i] = hrn_rng_uniformf(&r);
        struct hrn_gradcheck_opts o = {.seed = 9, .max_per_input = 48};
        struct hrn_gradcheck_report rep;
        enum hrn_status st = hrn_gradcheck(&t, &x, 1, resize_fn, NULL, &o, &rep);
        CHECK_MSG(st == HRN_OK, "resize %d -> 150: %s", SIZES[k], hrn_error_msg());
        hrn_tape_free(&t);
    }
}

/* The loss and its gradient against TF.js's tf.valueAndGrad through face-api's own net
 * (tests/reference/gen_faceapi_tfjs.js, "identity"): a 150x150 procedural image (no resize), the
 * synthetic crop's descriptor as target. */
static float *read_fixture_f32(const char *name, size_t n) {
    char p[2048];
    snprintf(p, sizeof p, "%s/faceapi/%s", HRN_TEST_DATA_DIR, name);
    FILE *f = fopen(p, "rb");
    float *v = malloc(n * sizeof *v);
    size_t got = f && v ? fread(v, sizeof *v, n, f) : 0;
    if (f) fclose(f);
    if (got != n) {
        free(v);
        return NULL;
    }
    return v;
}

static void test_tfjs_gradient(void) {
    struct stat sb;
    if (stat(weights_path(), &sb) != 0) SKIP("face-api weights not at %s", weights_path());
    enum { F = 150, STRIDE = 5, NS = F / STRIDE };
    /* fixtures.json "identity": loss 0.039553940296173096 (copied here to keep the test free of a
     * JSON reader; the generator prints it) */
    const double REF_LOSS = 0.039553940296173096;
    struct hrn_facerec fr = {0};
    CHECK_OK(hrn_facerec_load(&fr, weights_path()));
    float *target = read_fixture_f32("synth_crop_desc.bin", HRN_FACEREC_DIM);
    float *ref = read_fixture_f32("identity_grad.bin", (size_t)NS * NS * 3);
    float *x = malloc((size_t)3 * F * F * sizeof *x);
    struct hrn_tape t = {0};
    CHECK(target && ref && x);
    CHECK_OK(hrn_tape_init(&t, (size_t)96 << 20));
    if (!fr.params || !target || !ref || !x || !t.nodes) goto done;
    for (int y = 0; y < F; y++)
        for (int i = 0; i < F; i++)
            for (int c = 0; c < 3; c++)
                x[(c * F + y) * F + i] =
                    (float)((i * 7 + y * 13 + c * 50 + ((i * y) >> 3)) & 255) / 255.0f;
    struct hrn_tensor *xt = hrn_tape_wrap(&t, x, 4, (int64_t[]){1, 3, F, F}, "x");
    CHECK_OK(hrn_tape_requires_grad(&t, xt));
    struct hrn_tensor *tt = hrn_tape_wrap(&t, target, 2, (int64_t[]){1, HRN_FACEREC_DIM}, "tg");
    struct hrn_tensor *loss = hrn_loss_identity(&t, hrn_facerec_image(&fr, &t, xt), tt);
    CHECK_MSG(loss != NULL, "%s", hrn_error_msg());
    if (!loss) goto done;
    CHECK_OK(hrn_tape_backward(&t, loss));
    CHECK_NEAR(loss->data[0], REF_LOSS, 1e-6, 0);
    /* TF.js differentiates with respect to 0..255 values, hrn with respect to [0,1] */
    double md = 0, big = 0;
    for (int y = 0; y < NS; y++)
        for (int i = 0; i < NS; i++)
            for (int c = 0; c < 3; c++) {
                double r = ref[(y * NS + i) * 3 + c];
                double g = (double)xt->grad[(c * F + y * STRIDE) * F + i * STRIDE] / 255.0;
                md = fmax(md, fabs(g - r));
                big = fmax(big, fabs(r));
            }
    printf("  loss %.9f (TF.js %.9f); gradient on %d pixels: max |diff| %.3g, max |grad| %.3g\n",
           (double)loss->data[0], REF_LOSS, NS * NS, md, big);
    CHECK_MSG(big > 0, "reference gradient is zero");
    /* measured 3.6e-12 of 2.4e-6: float32 summation order */
    CHECK_MSG(md <= 1e-4 * big, "gradient max diff %.3g > 1e-4 of %.3g", md, big);
done:
    hrn_tape_free(&t);
    free(x), free(ref), free(target);
    hrn_facerec_free(&fr);
}

int main(void) {
    RUN(test_values);
    RUN(test_bad_shapes);
    RUN(test_gradcheck);
    RUN(test_resize_gradcheck);
    RUN(test_tfjs_gradient);
    RUN(test_chain);
    return hrn_test_finish();
}
