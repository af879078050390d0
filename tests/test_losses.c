/* test_losses.c: finite-difference gradient checks of every loss of the losses module (inputs kept
 * away from the kinks of abs/relu/ceil/max), hand-computed values (contour distances, targets,
 * excluded landmarks), the weighted sum and its log, and the error messages for bad input.
 * Parity with PyTorch is in test_losses_torch.c. Seeds: HRN_TEST_SEED (default 1), HRN_TEST_NLOOP
 * (default 2). */
#include "hrn_losses.h"
#include "hrn_test.h"

static uint64_t g_seed = 1;
static int g_nloop = 2;

/* --- gradient-check cases -------------------------------------------------------------------- */

enum gen {
    GEN_UNIFORM = 0, /* [-1, 1] */
    GEN_POS,         /* [0.2, 1] */
    GEN_NO_KINK,     /* |x| in [0.1, 1], random sign */
    GEN_T,           /* Tn = 2T-1 with T in [0.2, 0.95] */
    GEN_BLEND,       /* [0.1, 0.9] */
    GEN_CONTOUR,     /* projected vertices around g_left/g_right (see contour_verts) */
    GEN_GT_AWAY,     /* pred + sign*[0.1, 0.5] of input 0: |pred - gt| away from 0 */
};

struct gc_case;
typedef struct hrn_tensor *(*build_fn)(struct hrn_tape *t, struct hrn_tensor *const *in,
                                       const struct gc_case *c);
struct gc_case {
    const char *label;
    build_fn build;
    int n_in;
    int ndim[3];
    int64_t shape[3][4];
    enum gen gen[3];
    double max_zero_frac; /* 0 = default 0.9 */
    float gain;           /* the loss is scaled by this so its gradients are of order 1 */
    double h;             /* 0 = the checker's 1e-2; larger for quadratics (exact differences) */
};

/* constants the builders use */
enum { CS = 16, CB = 2, CN = 40 }; /* contour: image size, batch, vertices */
static float g_left[CB * CS], g_right[CB * CS];
static float g_mask_img[2 * 1 * 5 * 6], g_mask_map[2 * 1 * 4 * 5], g_skin[7];
static float g_lm_gt[2 * 68 * 2], g_lm5_gt[3 * 5 * 2];
static uint8_t g_lm_valid[2 * 68];

static struct hrn_tensor *cwrap(struct hrn_tape *t, float *d, int nd, const int64_t *s) {
    return hrn_tape_wrap(t, d, nd, s, "const");
}

#define B1(name, expr)                                                                      \
    static struct hrn_tensor *name(struct hrn_tape *t, struct hrn_tensor *const *in,        \
                                   const struct gc_case *c) {                               \
        (void)c;                                                                            \
        return (expr);                                                                      \
    }

B1(b_photo, hrn_loss_photo(t, in[0], in[1], cwrap(t, g_mask_img, 4, (int64_t[]){2, 1, 5, 6})))
B1(b_map_l1, hrn_loss_map_l1(t, in[0], in[1], cwrap(t, g_mask_map, 4, (int64_t[]){2, 1, 4, 5})))
B1(b_map_l1_hw, hrn_loss_map_l1(t, in[0], in[1], cwrap(t, g_mask_map, 2, (int64_t[]){4, 5})))
B1(b_tv, hrn_loss_tv(t, in[0]))
B1(b_tv_std, hrn_loss_tv_std(t, in[0]))
B1(b_abs_mean, hrn_loss_abs_mean(t, in[0]))
B1(b_gan_real, hrn_loss_gan_ls(t, in[0], 1))
B1(b_gan_fake, hrn_loss_gan_ls(t, in[0], 0))
B1(b_gan_d, hrn_loss_gan_ls_d(t, in[0], in[1]))
B1(b_lm68, hrn_loss_landmark68(t, in[0], cwrap(t, g_lm_gt, 3, (int64_t[]){2, 68, 2}),
                               g_lm_valid))
B1(b_lm5, hrn_loss_landmark5(t, in[0], cwrap(t, g_lm5_gt, 3, (int64_t[]){3, 5, 2}), NULL))
B1(b_contour, hrn_loss_contour(t, in[0], cwrap(t, g_left, 2, (int64_t[]){CB, CS}),
                               cwrap(t, g_right, 2, (int64_t[]){CB, CS}),
                               &(struct hrn_contour_opts){.margin = 0.1f, .img_size = CS}))
B1(b_reg, hrn_loss_coeff_reg(t, in[0], in[1], in[2], 1.0f, 0.8f, 1.7e-2f))
B1(b_reg_id_only, hrn_loss_coeff_reg(t, in[0], NULL, NULL, 1.5f, 0, 0))
B1(b_gamma, hrn_loss_gamma(t, in[0]))
B1(b_reflc, hrn_loss_reflectance(t, in[0], cwrap(t, g_skin, 1, (int64_t[]){7})))
B1(b_deretouch, hrn_deretouch(t, in[0], in[1], in[2]))
B1(b_resize_up, hrn_resize_bilinear_ad(t, in[0], 9, 4))
B1(b_resize_down, hrn_resize_bilinear_ad(t, in[0], 4, 3))
B1(b_resize_1, hrn_resize_bilinear_ad(t, in[0], 7, 5))

/* the weighted sum: photo + TV + a term with weight 0 (logged, not in the graph) */
static struct hrn_tensor *b_sum(struct hrn_tape *t, struct hrn_tensor *const *in,
                                const struct gc_case *c) {
    (void)c;
    struct hrn_loss_weights w;
    hrn_loss_weights_default(&w);
    w.w_smooth = 0.3f;
    struct hrn_loss_sum s;
    hrn_loss_sum_init(&s, t, &w);
    hrn_loss_sum_add(&s, HRN_LOSS_PHOTO_MID, b_photo(t, in, c));
    hrn_loss_sum_add(&s, HRN_LOSS_SMOOTH, hrn_loss_tv(t, in[0]));
    hrn_loss_sum_add(&s, HRN_LOSS_SMOOTH_STD, hrn_loss_tv_std(t, in[1])); /* weight 0 */
    return hrn_loss_sum_total(&s);
}

#define S2(a, b) {a, b}
#define S3(a, b, c) {a, b, c}
#define S4(a, b, c, d) {a, b, c, d}
static const struct gc_case CASES[] = {
    {"photo", b_photo, 2, {4, 4}, {S4(2, 3, 5, 6), S4(2, 3, 5, 6)}, {0}, 0, 20, 0},
    {"map_l1 (B,1,H,W) mask", b_map_l1, 2, {4, 4}, {S4(2, 3, 4, 5), S4(2, 3, 4, 5)},
     {0, GEN_GT_AWAY}, 0.6, 60, 0},
    {"map_l1 (H,W) mask", b_map_l1_hw, 2, {4, 4}, {S4(2, 1, 4, 5), S4(2, 1, 4, 5)},
     {0, GEN_GT_AWAY}, 0.6, 20, 0},
    {"tv", b_tv, 1, {4}, {S4(2, 3, 5, 6)}, {0}, 0, 20, 0},
    {"tv_std", b_tv_std, 1, {4}, {S4(2, 2, 4, 5)}, {0}, 0, 1, 0},
    {"abs_mean", b_abs_mean, 1, {4}, {S4(2, 1, 4, 4)}, {GEN_NO_KINK}, 0, 32, 0},
    {"gan_ls real", b_gan_real, 1, {4}, {S4(2, 1, 3, 3)}, {0}, 0, 9, 0},
    {"gan_ls fake", b_gan_fake, 1, {4}, {S4(2, 1, 3, 3)}, {0}, 0, 9, 0},
    {"gan_ls D", b_gan_d, 2, {4, 4}, {S4(2, 1, 3, 3), S4(2, 1, 3, 3)}, {0}, 0, 18, 0},
    /* quadratic: central differences are exact, a larger step cuts float32 rounding */
    {"landmark68 (valid mask, NaN)", b_lm68, 1, {3}, {S3(2, 68, 2)}, {0}, 0.5, 60, 0.1},
    {"landmark5", b_lm5, 1, {3}, {S3(3, 5, 2)}, {0}, 0, 8, 0.1},
    {"contour", b_contour, 1, {3}, {S3(CB, CN, 2)}, {GEN_CONTOUR}, 0.8, CS * CB * CN, 0},
    {"coeff_reg", b_reg, 3, {2, 2, 2}, {S2(2, 5), S2(2, 4), S2(2, 3)}, {0}, 0, 1, 0},
    {"coeff_reg id only", b_reg_id_only, 1, {2}, {S2(3, 4)}, {0}, 0, 1, 0},
    {"gamma (B,27)", b_gamma, 1, {2}, {S2(2, 27)}, {0}, 0, 27, 0},
    {"gamma (B,3,9)", b_gamma, 1, {3}, {S3(1, 3, 9)}, {0}, 0, 27, 0},
    {"reflectance", b_reflc, 1, {3}, {S3(2, 7, 3)}, {GEN_POS}, 0.5, 10, 0},
    {"deretouch", b_deretouch, 3, {4, 4, 4}, {S4(1, 3, 2, 3), S4(1, 3, 2, 3), S4(1, 3, 2, 3)},
     {GEN_T, GEN_BLEND, GEN_POS}, 0, 1, 0},
    {"resize up/down", b_resize_up, 1, {4}, {S4(1, 2, 5, 7)}, {0}, 0, 1, 0},
    {"resize down", b_resize_down, 1, {4}, {S4(2, 1, 8, 8)}, {0}, 0, 1, 0},
    {"resize from 3x3", b_resize_1, 1, {4}, {S4(1, 1, 3, 3)}, {0}, 0, 1, 0},
    {"weighted sum", b_sum, 2, {4, 4}, {S4(2, 3, 5, 6), S4(2, 3, 5, 6)}, {0}, 0, 10, 0},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

static enum hrn_status case_fn(struct hrn_tape *t, struct hrn_tensor *const *in, int n,
                               void *user, struct hrn_tensor **out) {
    (void)n;
    const struct gc_case *c = user;
    struct hrn_tensor *y = c->build(t, in, c);
    *out = y && c->gain != 1.0f ? hrn_scale(t, y, c->gain) : y;
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

/* Per-row targets of a mask-like shape: rows 0..1 empty (0, S-1), the others a span [l, r]. */
static void contour_targets(void) {
    for (int b = 0; b < CB; b++)
        for (int i = 0; i < CS; i++) {
            float *l = g_left + b * CS + i, *r = g_right + b * CS + i;
            if (i < 2) {
                *l = 0, *r = CS - 1;
            } else {
                *l = (float)(3 + (i + b) % 3);
                *r = (float)(10 + (i * 7 + b) % 4);
            }
        }
}

/* Vertices at kink-free places: v with fraction in [0.2, 0.8] (the row is constant under a
 * perturbation of 1e-2), u inside the margin band (|d| < 0.1 S = 1.6 px, 0.1 px from l or r),
 * outside, or deep inside; a few rows beyond the image (clamped rows). */
static void contour_verts(struct hrn_rng *r, struct hrn_tensor *x) {
    for (int b = 0; b < CB; b++)
        for (int n = 0; n < CN; n++) {
            float *p = x->data + (b * CN + n) * 2;
            float v = (float)(-2 + (int)hrn_rng_below(r, CS + 3)) + 0.2f +
                      0.6f * hrn_rng_uniformf(r);
            float cv = ceilf(v);
            int yi = cv < 0 ? 0 : cv > CS - 1 ? CS - 1 : (int)cv;
            int row = CS - 1 - yi;
            float l = g_left[b * CS + row], rr = g_right[b * CS + row];
            float off = 0.1f + 1.3f * hrn_rng_uniformf(r);
            int kind = (int)hrn_rng_below(r, 5);
            float u = kind == 0   ? l + off    /* inside, in the band */
                      : kind == 1 ? rr - off
                      : kind == 2 ? l - off - 2 * hrn_rng_uniformf(r) /* outside */
                      : kind == 3 ? rr + off + 2 * hrn_rng_uniformf(r)
                                  : 0.5f * (l + rr) + 0.25f; /* deep inside (0 gradient) */
            if (row < 2 && kind == 4) u = 20.0f;                 /* empty row: outside */
            p[0] = u, p[1] = v;
        }
}

static void fill(struct hrn_rng *r, struct hrn_tensor *x, enum gen g, const struct hrn_tensor *x0) {
    if (g == GEN_CONTOUR) {
        contour_verts(r, x);
        return;
    }
    for (int64_t i = 0; i < x->numel; i++) {
        float u = hrn_rng_uniformf(r), s = hrn_rng_u64(r) & 1 ? 1.0f : -1.0f;
        switch (g) {
        case GEN_UNIFORM: x->data[i] = 2 * u - 1; break;
        case GEN_POS: x->data[i] = 0.2f + 0.8f * u; break;
        case GEN_NO_KINK: x->data[i] = s * (0.1f + 0.9f * u); break;
        case GEN_T: x->data[i] = 2 * (0.2f + 0.75f * u) - 1; break;
        case GEN_BLEND: x->data[i] = 0.1f + 0.8f * u; break;
        case GEN_GT_AWAY: x->data[i] = x0->data[i] + s * (0.1f + 0.4f * u); break;
        case GEN_CONTOUR: break;
        }
    }
}

static void setup_constants(void) {
    struct hrn_rng r;
    hrn_rng_seed(&r, 12345);
    for (int i = 0; i < 60; i++)
        g_mask_img[i] = hrn_rng_uniformf(&r) < 0.3f ? 0 : hrn_rng_uniformf(&r);
    for (int i = 0; i < 40; i++) g_mask_map[i] = hrn_rng_uniformf(&r) < 0.4f ? 0.0f : 1.0f;
    for (int i = 0; i < 7; i++) g_skin[i] = i == 2 || i == 5 ? 0.0f : 1.0f;
    for (int i = 0; i < 2 * 68 * 2; i++) g_lm_gt[i] = 2 * hrn_rng_uniformf(&r) - 1;
    for (int i = 0; i < 3 * 5 * 2; i++) g_lm5_gt[i] = 2 * hrn_rng_uniformf(&r) - 1;
    for (int i = 0; i < 2 * 68; i++) g_lm_valid[i] = hrn_rng_uniformf(&r) > 0.25f;
    g_lm_gt[(1 * 68 + 7) * 2] = NAN; /* excluded through NaN as well */
    contour_targets();
}

static void test_gradcheck_losses(void) {
    int failed = 0;
    for (int l = 0; l < g_nloop; l++) {
        uint64_t seed = g_seed + (uint64_t)l;
        for (int k = 0; k < N_CASES; k++) {
            const struct gc_case *c = &CASES[k];
            struct hrn_tape t;
            CHECK_OK(hrn_tape_init(&t, 4u << 20));
            struct hrn_rng r;
            hrn_rng_seed(&r, seed * 1000 + (uint64_t)k);
            struct hrn_tensor *in[3] = {0};
            for (int i = 0; i < c->n_in; i++) {
                in[i] = hrn_tape_tensor(&t, c->ndim[i], c->shape[i], NULL);
                fill(&r, in[i], c->gen[i], in[0]);
            }
            struct hrn_gradcheck_opts o = {.seed = seed, .max_zero_frac = c->max_zero_frac,
                                           .h = c->h,
                                           .four_point = 1, .max_per_input = 96};
            struct hrn_gradcheck_report rep;
            enum hrn_status st = hrn_gradcheck(&t, in, c->n_in, case_fn, (void *)c, &o, &rep);
            CHECK_MSG(st == HRN_OK, "gradcheck %s seed %llu: %s", c->label,
                      (unsigned long long)seed, hrn_error_msg());
            CHECK_MSG(rep.n_checked > 0, "%s: nothing was checked", c->label);
            failed += st != HRN_OK;
            if (getenv("HRN_TEST_VERBOSE")) printf("    %-30s %s\n", c->label, rep.msg);
            hrn_tape_free(&t);
        }
    }
    if (failed) printf("    %d gradcheck cases failed (HRN_TEST_SEED=%llu)\n", failed,
                       (unsigned long long)g_seed);
}

/* --- values by hand -------------------------------------------------------------------------- */

static void test_contour_values(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    /* S = 10, every row l = 3, r = 7; margin 0.01 */
    float left[10], right[10];
    for (int i = 0; i < 10; i++) left[i] = 3, right[i] = 7;
    /* u = 12: a = -0.9, b = -0.5, d = 0.45/0.9 = 0.5 -> 0.5 (outside: the distance to r / S)
     * u = 5: a = -0.2, b = 0.2, d = -0.04/0.2 = -0.2 -> |0 - 0.01| = 0.01 (deep inside)
     * u = 6.95: a = -0.395, b = 0.005, d = -0.005 -> 0.005 (inside, in the band)
     * u = 1, v = 3.5 (row 10-1-4 = 5): d = (0.2)(0.6)/0.6 = 0.2 */
    float v[8] = {12, 0.5f, 5, 4.2f, 6.95f, 9.7f, 1, 3.5f};
    struct hrn_tensor *vt = hrn_tape_wrap(&t, v, 3, (int64_t[]){1, 4, 2}, "verts");
    CHECK_OK(hrn_tape_requires_grad(&t, vt));
    struct hrn_tensor *l = hrn_tape_wrap(&t, left, 2, (int64_t[]){1, 10}, "left"),
                      *r = hrn_tape_wrap(&t, right, 2, (int64_t[]){1, 10}, "right");
    struct hrn_tensor *loss = hrn_loss_contour(&t, vt, l, r,
                                               &(struct hrn_contour_opts){0.01f, 10});
    CHECK(loss != NULL);
    if (loss) {
        CHECK_NEAR(loss->data[0], (0.5 + 0.01 + 0.005 + 0.2) / 4, 1e-7, 1e-5);
        CHECK_OK(hrn_tape_backward(&t, loss));
        /* d/du: outside right +1/S, deep inside 0, band near r: d = (u-r)/S -> -|.| gives
         * -(1/S)·sign... loss = |d| = (r-u)/S -> -1/S; outside left: (l-u)/S -> -1/S; over 4 */
        CHECK_NEAR(vt->grad[0], 0.1 / 4, 1e-8, 1e-5);
        CHECK_NEAR(vt->grad[2], 0.0, 1e-9, 0);
        CHECK_NEAR(vt->grad[4], -0.1 / 4, 1e-8, 1e-5);
        CHECK_NEAR(vt->grad[6], -0.1 / 4, 1e-8, 1e-5);
        for (int i = 1; i < 8; i += 2) CHECK(vt->grad[i] == 0.0f); /* v: no gradient */
    }
    /* the targets helper: an empty row, a one-pixel row, a value of exactly 0.5 (not face) */
    float mask[4 * 4] = {0, 0, 0, 0,  0, 0, 1, 0,  0.5f, 0.6f, 0.9f, 0.5f,  1, 1, 1, 1};
    float lt[4], rt[4];
    hrn_contour_targets(mask, 1, 4, lt, rt);
    CHECK(lt[0] == 0 && rt[0] == 3);
    CHECK(lt[1] == 3 && rt[1] == 2);
    CHECK(lt[2] == 2 && rt[2] == 2);
    CHECK(lt[3] == 1 && rt[3] == 3);
    hrn_tape_free(&t);
}

static void test_landmark_exclusion(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    float p[5 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    float g[5 * 2] = {1.5f, 2, 3, 5, NAN, 6, 7, 8, 9, 13};
    uint8_t valid[5] = {1, 1, 1, 1, 0};
    struct hrn_tensor *pt = hrn_tape_wrap(&t, p, 3, (int64_t[]){1, 5, 2}, "p");
    struct hrn_tensor *gt = hrn_tape_wrap(&t, g, 3, (int64_t[]){1, 5, 2}, "g");
    /* point 2 has a NaN target, point 4 is marked invalid: (0.25 + 1) / 5 */
    struct hrn_tensor *l = hrn_loss_landmark5(&t, pt, gt, valid);
    CHECK(l && isfinite(l->data[0]));
    if (l) CHECK_NEAR(l->data[0], 1.25 / 5, 1e-7, 1e-6);
    /* 68 points: the weights are 20 at 28..30 and 60..67 */
    float w[68];
    hrn_landmark_weights68(w);
    int n20 = 0;
    for (int i = 0; i < 68; i++) n20 += w[i] == 20.0f;
    CHECK(n20 == 11 && w[28] == 20 && w[30] == 20 && w[31] == 1 && w[27] == 1 && w[59] == 1 &&
          w[60] == 20 && w[67] == 20);
    hrn_tape_free(&t);
}

/* The photometric and contour losses at fitting sizes run in blocks over threads: the photo loss
 * against a double-precision evaluation of its formula, the contour loss on 20000 vertices
 * against the same vertices taken 40 at a time (one block, one thread). */
static void test_large_blocks(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, 9);
    int64_t B = 2, HW = 224 * 224;
    struct hrn_tensor *a = hrn_tape_tensor(&t, 4, (int64_t[]){B, 3, 224, 224}, "a"),
                      *b = hrn_tape_tensor(&t, 4, (int64_t[]){B, 3, 224, 224}, "b"),
                      *m = hrn_tape_tensor(&t, 4, (int64_t[]){B, 1, 224, 224}, "m");
    hrn_rng_fill_uniform(&r, a->data, (size_t)a->numel, 0, 1);
    hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, 0, 1);
    for (int64_t i = 0; i < m->numel; i++) m->data[i] = hrn_rng_uniformf(&r) < 0.4f ? 0.0f : 1.0f;
    CHECK_OK(hrn_tape_requires_grad(&t, a));
    CHECK_OK(hrn_tape_requires_grad(&t, b));
    struct hrn_tensor *l = hrn_loss_photo(&t, a, b, m);
    CHECK(l != NULL);
    double num = 0, den = 0;
    for (int64_t p = 0; p < B * HW; p++) {
        int64_t o = (p / HW) * 3 * HW + p % HW;
        double s = 0;
        for (int c = 0; c < 3; c++) s += pow((double)a->data[o + c * HW] - (double)b->data[o + c * HW], 2);
        num += (double)m->data[p] * sqrt(s + 1e-6);
        den += (double)m->data[p];
    }
    if (l) {
        CHECK_NEAR(l->data[0], num / den, 0, 1e-6);
        CHECK_OK(hrn_tape_backward(&t, l));
        double e = 0;
        for (int64_t p = 0; p < B * HW; p += 97) {
            int64_t o = (p / HW) * 3 * HW + p % HW;
            double s = 0;
            for (int c = 0; c < 3; c++) s += pow((double)a->data[o + c * HW] - (double)b->data[o + c * HW], 2);
            for (int c = 0; c < 3; c++) {
                double d = (double)a->data[o + c * HW] - (double)b->data[o + c * HW];
                double want = (double)m->data[p] * d / sqrt(s + 1e-6) / den;
                e = fmax(e, fabs((double)a->grad[o + c * HW] - want) / (fabs(want) + 1e-9));
                e = fmax(e, fabs((double)b->grad[o + c * HW] + want) / (fabs(want) + 1e-9));
            }
        }
        CHECK_MSG(e < 1e-4, "photo gradient off by %g (relative)", e);
    }
    /* contour: one batch of 20000 vertices against 500 calls of 40 */
    enum { NV = 20000, PIECE = 40 };
    hrn_tape_reset(&t);
    struct hrn_tensor *left = hrn_tape_tensor(&t, 2, (int64_t[]){1, 224}, "l"),
                      *right = hrn_tape_tensor(&t, 2, (int64_t[]){1, 224}, "r"),
                      *v = hrn_tape_tensor(&t, 3, (int64_t[]){1, NV, 2}, "v");
    for (int i = 0; i < 224; i++) {
        left->data[i] = (float)(60 + i % 7);
        right->data[i] = (float)(160 - i % 5);
    }
    for (int64_t i = 0; i < NV; i++) {
        v->data[2 * i] = 230 * hrn_rng_uniformf(&r) - 3;
        v->data[2 * i + 1] = 230 * hrn_rng_uniformf(&r) - 3;
    }
    CHECK_OK(hrn_tape_requires_grad(&t, v));
    struct hrn_contour_opts o = {.margin = 0.1f, .img_size = 224};
    struct hrn_tensor *lc = hrn_loss_contour(&t, v, left, right, &o);
    CHECK(lc != NULL);
    if (lc) CHECK_OK(hrn_tape_backward(&t, lc));
    double sum = 0, ge = 0;
    for (int64_t p0 = 0; p0 < NV && lc; p0 += PIECE) {
        struct hrn_tape_mark mk = hrn_tape_mark(&t);
        struct hrn_tensor *vp = hrn_tape_tensor(&t, 3, (int64_t[]){1, PIECE, 2}, "piece");
        memcpy(vp->data, v->data + 2 * p0, 2 * PIECE * sizeof(float));
        CHECK_OK(hrn_tape_requires_grad(&t, vp));
        struct hrn_tensor *lp = hrn_loss_contour(&t, vp, left, right, &o);
        if (!lp) break;
        sum += (double)lp->data[0] * PIECE;
        CHECK_OK(hrn_tape_backward(&t, lp));
        for (int k = 0; k < 2 * PIECE; k++) {
            double want = (double)vp->grad[k] * PIECE / NV;
            ge = fmax(ge, fabs((double)v->grad[2 * p0 + k] - want) / (fabs(want) + 1e-12));
        }
        hrn_tape_rewind(&t, mk);
    }
    if (lc) CHECK_NEAR(lc->data[0], sum / NV, 0, 1e-6);
    CHECK_MSG(ge < 1e-5, "contour gradient off by %g (relative)", ge);
    hrn_tape_free(&t);
}

static void test_large_inputs(void) {
    /* the sizes HRN uses: photo at 224, TV on Δ at 256, de-retouching with the 512 resizes */
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 96u << 20));
    struct hrn_rng r;
    hrn_rng_seed(&r, 7);
    struct hrn_tensor *a = hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, 224, 224}, "a"),
                      *b = hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, 224, 224}, "b"),
                      *m = hrn_tape_tensor(&t, 4, (int64_t[]){1, 1, 224, 224}, "m"),
                      *d = hrn_tape_tensor(&t, 4, (int64_t[]){1, 1, 256, 256}, "disp"),
                      *tn = hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, 256, 256}, "tn"),
                      *a0 = hrn_tape_tensor(&t, 4, (int64_t[]){1, 3, 256, 256}, "a0");
    hrn_rng_fill_uniform(&r, a->data, (size_t)a->numel, 0, 1);
    hrn_rng_fill_uniform(&r, b->data, (size_t)b->numel, 0, 1);
    hrn_rng_fill_uniform(&r, m->data, (size_t)m->numel, 0, 1);
    hrn_rng_fill_uniform(&r, d->data, (size_t)d->numel, -0.01f, 0.01f);
    hrn_rng_fill_uniform(&r, tn->data, (size_t)tn->numel, -1, 1);
    hrn_rng_fill_uniform(&r, a0->data, (size_t)a0->numel, 0, 1);
    CHECK_OK(hrn_tape_requires_grad(&t, a));
    CHECK_OK(hrn_tape_requires_grad(&t, d));
    CHECK_OK(hrn_tape_requires_grad(&t, tn));
    struct hrn_tensor *x512 = hrn_resize_bilinear_ad(&t, tn, 512, 512);
    /* a stand-in for the UNet: sigmoid of the input */
    struct hrn_tensor *blend = hrn_resize_bilinear_ad(&t, hrn_sigmoid(&t, x512), 256, 256);
    struct hrn_tensor *ad = hrn_deretouch(&t, tn, blend, a0);
    struct hrn_loss_sum s;
    hrn_loss_sum_init(&s, &t, NULL);
    hrn_loss_sum_add(&s, HRN_LOSS_PHOTO_MID, hrn_loss_photo(&t, a, b, m));
    hrn_loss_sum_add(&s, HRN_LOSS_DIS_SMOOTH, hrn_loss_tv(&t, d)); /* weight 0 by default */
    hrn_loss_sum_add(&s, HRN_LOSS_DIS_REG, hrn_loss_abs_mean(&t, d));
    hrn_loss_sum_add(&s, HRN_LOSS_REFLC, hrn_mean_all(&t, ad)); /* any scalar, to reach tn */
    struct hrn_tensor *tot = hrn_loss_sum_total(&s);
    CHECK_MSG(tot != NULL, "%s", hrn_error_msg());
    if (tot) {
        CHECK(isfinite(tot->data[0]));
        CHECK_OK(hrn_tape_backward(&t, tot));
        int fin = 1;
        for (int64_t i = 0; i < tn->numel; i++) fin &= isfinite(tn->grad[i]);
        CHECK(fin);
    }
    hrn_tape_free(&t);
}

/* --- weighted sum and log -------------------------------------------------------------------- */

static void test_weights_and_sum(void) {
    struct hrn_loss_weights w, mv;
    hrn_loss_weights_default(&w);
    hrn_loss_weights_mvhrn(&mv);
    CHECK(w.w_color == 1.92f && w.w_lm == 1.6e-3f && w.w_reg == 3e-4f && w.w_gamma == 10.0f &&
          w.w_contour == 20.0f && w.w_smooth == 5e3f && w.w_dis_reg == 10.0f && w.w_adv == 1.0f &&
          w.w_reflc == 5.0f && w.w_id == 1.0f && w.w_exp == 0.8f && w.w_tex == 1.7e-2f);
    CHECK(w.w_smooth_std == 0 && w.w_dis_smooth == 0 && w.w_dis_smooth_std == 0);
    CHECK_NEAR(mv.w_lm, 1.6e-4, 0, 1e-6);
    CHECK(mv.w_color == 1.92f && mv.w_smooth == 1000.0f && mv.w_smooth_std == 10000.0f &&
          mv.w_dis_reg == 1.0f && mv.w_dis_smooth == 10000.0f && mv.w_dis_smooth_std == 10000.0f &&
          mv.w_contour == 20.0f && mv.w_gamma == 10.0f && mv.w_reg == 3e-4f && mv.w_adv == 0 &&
          mv.w_reflc == 0);
    CHECK(hrn_loss_term_weight(&w, HRN_LOSS_PHOTO_HIGH) == 1.92f);
    CHECK(hrn_loss_term_weight(&mv, HRN_LOSS_DIS_SMOOTH_STD) == 10000.0f);
    CHECK(!strcmp(hrn_loss_term_name(HRN_LOSS_CONTOUR), "contour"));
    CHECK(!strcmp(hrn_loss_term_name(HRN_LOSS_TERM_COUNT), "?"));
    CHECK_OK(hrn_loss_weights_set(&w, "w_contour", 7.5));
    CHECK(w.w_contour == 7.5f);
    CHECK_STATUS(hrn_loss_weights_set(&w, "w_countour", 1), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("w_countour");

    /* total = sum of weight * value; repeated adds (per view) sum up; weight 0 only logs */
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    float v1 = 2.0f, v2 = 3.0f, v3 = 0.5f, v4 = 4.0f;
    struct hrn_tensor *x1 = hrn_tape_wrap(&t, &v1, 1, (int64_t[]){1}, "x1"),
                      *x2 = hrn_tape_wrap(&t, &v2, 1, (int64_t[]){1}, "x2"),
                      *x3 = hrn_tape_wrap(&t, &v3, 1, (int64_t[]){1}, "x3"),
                      *x4 = hrn_tape_wrap(&t, &v4, 1, (int64_t[]){1}, "x4");
    CHECK_OK(hrn_tape_requires_grad(&t, x1));
    CHECK_OK(hrn_tape_requires_grad(&t, x4));
    struct hrn_loss_sum s;
    hrn_loss_sum_init(&s, &t, &mv);
    CHECK_OK(hrn_loss_sum_add(&s, HRN_LOSS_CONTOUR, x1));
    CHECK_OK(hrn_loss_sum_add(&s, HRN_LOSS_CONTOUR, x2));
    CHECK_OK(hrn_loss_sum_add(&s, HRN_LOSS_SMOOTH, x3));
    CHECK_OK(hrn_loss_sum_add(&s, HRN_LOSS_REFLC, x4)); /* MV weight 0 */
    struct hrn_tensor *tot = hrn_loss_sum_total(&s);
    CHECK(tot != NULL);
    if (tot) {
        CHECK_NEAR(tot->data[0], 20.0 * 5 + 1000.0 * 0.5, 0, 1e-6);
        CHECK_OK(hrn_tape_backward(&t, tot));
        CHECK(x1->grad[0] == 20.0f && x4->grad[0] == 0.0f);
    }
    CHECK(s.count[HRN_LOSS_CONTOUR] == 2 && s.value[HRN_LOSS_CONTOUR] == 5.0);
    CHECK(s.count[HRN_LOSS_REFLC] == 1 && s.value[HRN_LOSS_REFLC] == 4.0);

    /* the log */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f) {
        hrn_loss_sum_tsv_header(f);
        hrn_loss_sum_tsv_row(&s, f, 12);
        fclose(f);
        CHECK(!strncmp(buf, "iter\ttotal\tphoto\tphoto_mid\t", 26));
        CHECK(strstr(buf, "\tprior_disp\n12\t600\tnan\t") != NULL);
        /* contour is column 2 + HRN_LOSS_CONTOUR of the row */
        char *row = strchr(buf, '\n') + 1;
        int tabs = 0;
        char *p = row;
        while (*p && tabs < 2 + HRN_LOSS_CONTOUR) tabs += *p++ == '\t';
        CHECK(!strncmp(p, "5\t", 2));
        int cols = 1;
        for (p = row; *p && *p != '\n'; p++) cols += *p == '\t';
        CHECK(cols == 2 + HRN_LOSS_TERM_COUNT);
    }
    free(buf);

    /* a failed term makes the total NULL with the term's name and the cause */
    hrn_tape_reset(&t);
    hrn_error_clear();
    hrn_loss_sum_init(&s, &t, NULL);
    float img[2 * 3 * 4] = {0};
    struct hrn_tensor *a = hrn_tape_wrap(&t, img, 4, (int64_t[]){1, 2, 3, 4}, "a"),
                      *b = hrn_tape_wrap(&t, img, 4, (int64_t[]){1, 2, 4, 3}, "b");
    CHECK_STATUS(hrn_loss_sum_add(&s, HRN_LOSS_PHOTO, hrn_loss_photo(&t, a, b, a)),
                 HRN_ERR_INVALID);
    CHECK(hrn_loss_sum_total(&s) == NULL);
    CHECK_ERR_HAS("loss term photo");
    CHECK_ERR_HAS("photo_loss");
    /* no weighted term */
    hrn_loss_sum_init(&s, &t, &mv);
    hrn_loss_sum_add(&s, HRN_LOSS_ADV_MID, hrn_tape_wrap(&t, &v1, 1, (int64_t[]){1}, "x1"));
    CHECK(hrn_loss_sum_total(&s) == NULL);
    CHECK_ERR_HAS("no term");
    hrn_tape_free(&t);
}

/* --- bad input ------------------------------------------------------------------------------- */

static void test_errors(void) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *x4 = hrn_tape_tensor(&t, 4, (int64_t[]){2, 3, 4, 5}, "x4"),
                      *y4 = hrn_tape_tensor(&t, 4, (int64_t[]){2, 3, 5, 4}, "y4"),
                      *m4 = hrn_tape_tensor(&t, 4, (int64_t[]){2, 3, 4, 5}, "m4"),
                      *h1 = hrn_tape_tensor(&t, 4, (int64_t[]){2, 3, 1, 5}, "h1"),
                      *lm = hrn_tape_tensor(&t, 3, (int64_t[]){2, 67, 2}, "lm"),
                      *lm2 = hrn_tape_tensor(&t, 3, (int64_t[]){2, 68, 2}, "lm2"),
                      *v = hrn_tape_tensor(&t, 3, (int64_t[]){2, 10, 2}, "v"),
                      *lr = hrn_tape_tensor(&t, 2, (int64_t[]){2, 200}, "lr"),
                      *g = hrn_tape_tensor(&t, 2, (int64_t[]){2, 26}, "g"),
                      *tex = hrn_tape_tensor(&t, 3, (int64_t[]){1, 6, 3}, "tex"),
                      *sk = hrn_tape_tensor(&t, 1, (int64_t[]){6}, "sk"),
                      *sk5 = hrn_tape_tensor(&t, 1, (int64_t[]){5}, "sk5");

    CHECK(hrn_loss_photo(&t, x4, y4, x4) == NULL);
    CHECK_ERR_HAS("photo_loss");
    CHECK_ERR_HAS("(2,3,4,5) and (2,3,5,4)");
    CHECK(hrn_loss_photo(&t, x4, x4, m4) == NULL); /* a 3-channel mask */
    CHECK_ERR_HAS("mask (2,3,4,5)");
    CHECK_ERR_HAS("(2,1,4,5)");
    CHECK(hrn_loss_map_l1(&t, x4, x4, y4) == NULL);
    CHECK_ERR_HAS("map_l1_loss: mask (2,3,5,4)");
    CHECK(hrn_loss_tv(&t, h1) == NULL);
    CHECK_ERR_HAS("tv_loss");
    CHECK_ERR_HAS("(2,3,1,5)");
    CHECK(hrn_loss_tv_std(&t, lm) == NULL);
    CHECK_ERR_HAS("tv_std_loss");
    CHECK(hrn_loss_landmark68(&t, lm, lm, NULL) == NULL);
    CHECK_ERR_HAS("landmark68_loss");
    CHECK_ERR_HAS("(2,67,2)");
    CHECK(hrn_loss_landmark(&t, lm, lm2, NULL, NULL) == NULL);
    CHECK_ERR_HAS("(2,67,2) and (2,68,2)");
    CHECK(hrn_loss_landmark5(&t, lm2, lm2, NULL) == NULL);
    CHECK_ERR_HAS("(B,5,D)");
    CHECK(hrn_loss_contour(&t, v, lr, lr, NULL) == NULL);
    CHECK_ERR_HAS("contour_loss: left targets must be (2,224)");
    CHECK_ERR_HAS("(2,200)");
    CHECK(hrn_loss_contour(&t, lm2, lr, lr, &(struct hrn_contour_opts){0.01f, 0}) == NULL);
    CHECK_ERR_HAS("img_size 0");
    CHECK(hrn_loss_contour(&t, x4, lr, lr, NULL) == NULL);
    CHECK_ERR_HAS("(B,N,2)");
    CHECK(hrn_loss_gamma(&t, g) == NULL);
    CHECK_ERR_HAS("gamma_loss");
    CHECK_ERR_HAS("(2,26)");
    CHECK(hrn_loss_coeff_reg(&t, g, lm, NULL, 1, 1, 1) == NULL);
    CHECK_ERR_HAS("coeff_reg_loss: exp");
    CHECK(hrn_loss_reflectance(&t, tex, sk5) == NULL);
    CHECK_ERR_HAS("reflectance_loss: skin mask (5)");
    CHECK(hrn_loss_reflectance(&t, tex, sk) == NULL); /* all zeros */
    CHECK_ERR_HAS("sums to 0");
    CHECK(hrn_deretouch(&t, x4, y4, x4) == NULL);
    CHECK_ERR_HAS("deretouch");
    CHECK_ERR_HAS("(2,3,5,4)");
    CHECK(hrn_resize_bilinear_ad(&t, lm, 4, 4) == NULL);
    CHECK_ERR_HAS("resize_bilinear");
    CHECK(hrn_resize_bilinear_ad(&t, x4, 0, 4) == NULL);
    CHECK_ERR_HAS("0x4");
    /* a NULL input keeps the first failure's message */
    hrn_error_clear();
    CHECK(hrn_loss_tv(&t, hrn_add(&t, x4, y4)) == NULL);
    CHECK_ERR_HAS("add");
    hrn_error_clear();
    CHECK(hrn_loss_gan_ls_d(&t, NULL, x4) == NULL);
    CHECK_ERR_HAS("gan_ls_d_loss: input 0 is NULL");
    hrn_tape_free(&t);
}

int main(void) {
    const char *s = getenv("HRN_TEST_SEED"), *n = getenv("HRN_TEST_NLOOP");
    if (s) g_seed = strtoull(s, NULL, 10);
    if (n) g_nloop = atoi(n);
    setup_constants();
    RUN(test_gradcheck_losses);
    RUN(test_contour_values);
    RUN(test_landmark_exclusion);
    RUN(test_weights_and_sum);
    RUN(test_errors);
    RUN(test_large_inputs);
    RUN(test_large_blocks);
    return hrn_test_finish();
}
