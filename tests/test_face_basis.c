/* test_face_basis.c: the float16 copy of the face-model bases read by hrn_face_shape_op and
 * hrn_face_albedo_op (model/face_basis.c): forward and backward against the float32 arrays within
 * the bound float16 rounding allows, every row and column reached (tiles, tails, threads), the
 * gradient checks of both kernel sets, the cache's rebuild, drop and NaN fallback, and the shape
 * at a few vertices (hrn_face_shape_rows_op). */
#include "hrn_model.h"
#include "hrn_test.h"

#include <omp.h>

/* A model of basis ops only: 4001 vertices (12003 rows: 375 full tiles of 32 and a tail of 3,
 * enough tiles for two threads), 81 id columns (an odd total with the 64 exp columns) and 80
 * albedo columns; column j scaled by 10^(j%7-3) so the per-column scales matter, and one zero
 * column. */
static struct hrn_face_model g_fm;

static void make_model(void) {
    struct hrn_face_model *m = &g_fm;
    memset(m, 0, sizeof *m);
    m->n_verts = 4001;
    m->n_id = 81;
    m->n_exp = 64;
    m->n_tex = 80;
    int64_t n = 3 * m->n_verts;
    m->mean_shape = malloc((size_t)n * sizeof(float));
    m->mean_albedo = malloc((size_t)n * sizeof(float));
    m->id_basis = malloc((size_t)(n * m->n_id) * sizeof(float));
    m->exp_basis = malloc((size_t)(n * m->n_exp) * sizeof(float));
    m->tex_basis = malloc((size_t)(n * m->n_tex) * sizeof(float));
    struct hrn_rng r;
    hrn_rng_seed(&r, 11);
    hrn_rng_fill_uniform(&r, m->mean_shape, (size_t)n, -1, 1);
    hrn_rng_fill_uniform(&r, m->mean_albedo, (size_t)n, 0.2f, 0.8f);
    float *b[3] = {m->id_basis, m->exp_basis, m->tex_basis};
    int32_t k[3] = {m->n_id, m->n_exp, m->n_tex};
    for (int q = 0; q < 3; q++) {
        hrn_rng_fill_normal(&r, b[q], (size_t)(n * k[q]), 0, 0.01f);
        for (int64_t i = 0; i < n; i++)
            for (int32_t j = 0; j < k[q]; j++) b[q][i * k[q] + j] *= powf(10.0f, (float)(j % 7 - 3));
    }
    for (int64_t i = 0; i < n; i++) m->exp_basis[i * m->n_exp + 5] = 0; /* a zero column */
    snprintf(m->name, sizeof m->name, "basis-test");
}

/* column j of a group: shape = id|exp, albedo = tex */
static float col_at(int albedo, int64_t i, int32_t j) {
    if (albedo) return g_fm.tex_basis[i * g_fm.n_tex + j];
    return j < g_fm.n_id ? g_fm.id_basis[i * g_fm.n_id + j]
                         : g_fm.exp_basis[i * g_fm.n_exp + j - g_fm.n_id];
}

/* The largest |B_:j| of each column and its float16 step: the copy stores B/s_j with s_j the power
 * of two putting max|B/s| in [2^14, 2^15); float16 keeps 11 significant bits (relative error
 * <= 2^-11) and below 2^-14 steps of 2^-24 (absolute error <= 2^-25 s_j). */
static void col_scales(int albedo, int32_t k, double *s) {
    int64_t n = 3 * g_fm.n_verts;
    for (int32_t j = 0; j < k; j++) {
        double mx = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)col_at(albedo, i, j)));
        int e = 0;
        if (mx > 0) frexp(mx, &e);
        s[j] = mx > 0 ? ldexp(1.0, e - 15) : 1.0;
    }
}

/* The op's output and the coefficient gradient for a seed on the output, in the current store. */
static void run_op(int albedo, const float *c, const float *seed, float *out, float *grad) {
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 32u << 20));
    int64_t nc = hrn_face_model_n_coeffs(&g_fm);
    struct hrn_tensor *x = hrn_tape_tensor(&t, 1, &nc, "c");
    memcpy(x->data, c, (size_t)nc * sizeof(float));
    CHECK_OK(hrn_tape_requires_grad(&t, x));
    struct hrn_tensor *y = albedo ? hrn_face_albedo_op(&t, &g_fm, x) : hrn_face_shape_op(&t, &g_fm, x);
    CHECK(y != NULL);
    if (y) {
        memcpy(out, y->data, (size_t)y->numel * sizeof(float));
        CHECK_OK(hrn_tape_backward_seed(&t, y, seed));
        memcpy(grad, x->grad, (size_t)nc * sizeof(float));
    }
    hrn_tape_free(&t);
}

/* float16 forward and backward against float32, row by row and column by column, within
 * rounding bound + float accumulation; returns the largest difference seen (must be > 0: the
 * float16 path really ran). */
static double compare_store(enum hrn_basis_store st, int albedo, const float *seed, const char *what) {
    struct hrn_coeff_layout l = hrn_face_model_layout(&g_fm);
    int64_t nc = l.total, n = 3 * g_fm.n_verts;
    int32_t k = albedo ? g_fm.n_tex : g_fm.n_id + g_fm.n_exp;
    int64_t off = albedo ? l.tex : l.id;
    float *c = malloc((size_t)nc * sizeof(float));
    float *o32 = malloc((size_t)n * sizeof(float)), *o16 = malloc((size_t)n * sizeof(float));
    float *g32 = malloc((size_t)nc * sizeof(float)), *g16 = malloc((size_t)nc * sizeof(float));
    double *s = malloc((size_t)k * sizeof(double));
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    hrn_rng_fill_normal(&r, c, (size_t)nc, 0, 1);
    col_scales(albedo, k, s);
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_F32));
    run_op(albedo, c, seed, o32, g32);
    CHECK_OK(hrn_basis_store_set(st));
    run_op(albedo, c, seed, o16, g16);
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_AUTO));
    double worst = 0;
    int bad = 0;
    const float *mean = albedo ? g_fm.mean_albedo : g_fm.mean_shape;
    for (int64_t i = 0; i < n && bad < 5; i++) {
        double round = 0, mag = fabs((double)mean[i]);
        for (int32_t j = 0; j < k; j++) {
            double cj = fabs((double)c[off + j]), b = fabs((double)col_at(albedo, i, j));
            round += cj * (ldexp(b, -11) + ldexp(s[j], -25));
            mag += cj * b;
        }
        double d = fabs((double)o16[i] - (double)o32[i]);
        double tol = round + 2.0 * (k + 1) * ldexp(mag, -24);
        worst = fmax(worst, d);
        if (!(d <= tol)) {
            bad++;
            CHECK_MSG(0, "%s forward row %lld: float16 %.9g, float32 %.9g, |diff| %.3g > %.3g", what,
                      (long long)i, (double)o16[i], (double)o32[i], d, tol);
        }
    }
    for (int32_t j = 0; j < k && bad < 5; j++) {
        double round = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            double gi = fabs((double)seed[i]), b = fabs((double)col_at(albedo, i, j));
            round += gi * (ldexp(b, -11) + ldexp(s[j], -25));
            mag += gi * b;
        }
        /* both sum 512-row blocks in float, then in double */
        double d = fabs((double)g16[off + j] - (double)g32[off + j]);
        double tol = round + 2.0 * 512 * ldexp(mag, -24) + 1e-30;
        if (!(d <= tol)) {
            bad++;
            CHECK_MSG(0, "%s gradient of column %d: float16 %.9g, float32 %.9g, |diff| %.3g > %.3g",
                      what, j, (double)g16[off + j], (double)g32[off + j], d, tol);
        }
    }
    /* nothing outside the group's block moves */
    for (int64_t q = 0; q < nc; q++)
        if (q < off || q >= off + k) CHECK(g16[q] == 0 && g32[q] == 0);
    free(c);
    free(o32);
    free(o16);
    free(g32);
    free(g16);
    free(s);
    return worst;
}

static int n_f16_stores(enum hrn_basis_store *st) {
    int n = 0;
    if (hrn_basis_store_set(HRN_BASIS_F16) == HRN_OK) {
        st[n++] = hrn_basis_store_active(); /* AVX-512, or AVX2 on CPUs without it */
        if (st[0] == HRN_BASIS_F16) st[n++] = HRN_BASIS_F16_AVX2;
    }
    hrn_basis_store_set(HRN_BASIS_AUTO);
    return n;
}

static void test_f16_matches_f32(void) {
    enum hrn_basis_store st[2] = {HRN_BASIS_F32, HRN_BASIS_F32};
    int ns = n_f16_stores(st);
    if (ns == 0) SKIP("this CPU has no F16C: the ops use float32 only");
    int64_t n = 3 * g_fm.n_verts;
    float *seed = malloc((size_t)n * sizeof(float));
    struct hrn_rng r;
    hrn_rng_seed(&r, 6);
    for (int q = 0; q < ns; q++) {
        const char *kn = st[q] == HRN_BASIS_F16 ? "avx512" : "avx2";
        for (int a = 0; a < 2; a++) {
            char what[64];
            snprintf(what, sizeof what, "%s %s", kn, a ? "albedo" : "shape");
            hrn_rng_fill_uniform(&r, seed, (size_t)n, -1, 1);
            double worst = compare_store(st[q], a, seed, what);
            CHECK_MSG(worst > 0, "%s: float16 and float32 agree exactly: float16 not used?", what);
            /* one-hot seeds at the first row, a middle tile and the last row (in the 3-row
             * tail): each gives that row of the basis, so a row lost in the tiling shows */
            int64_t rows[3] = {0, 5000, n - 1};
            for (int h = 0; h < 3; h++) {
                memset(seed, 0, (size_t)n * sizeof(float));
                seed[rows[h]] = 1;
                compare_store(st[q], a, seed, what);
            }
        }
    }
    free(seed);
}

/* The same with 1 thread: the per-thread sums of the backward. */
static void test_f16_one_thread(void) {
    enum hrn_basis_store st[2] = {HRN_BASIS_F32, HRN_BASIS_F32};
    if (n_f16_stores(st) == 0) SKIP("this CPU has no F16C");
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    int64_t n = 3 * g_fm.n_verts;
    float *seed = malloc((size_t)n * sizeof(float));
    struct hrn_rng r;
    hrn_rng_seed(&r, 7);
    hrn_rng_fill_uniform(&r, seed, (size_t)n, -1, 1);
    CHECK(compare_store(st[0], 0, seed, "1 thread shape") > 0);
    free(seed);
    omp_set_num_threads(nt);
}

static enum hrn_status fn_basis(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                                struct hrn_tensor **out) {
    (void)n;
    *out = *(const int *)u ? hrn_face_albedo_op(t, &g_fm, in[0]) : hrn_face_shape_op(t, &g_fm, in[0]);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_f16_gradcheck(void) {
    enum hrn_basis_store st[3] = {HRN_BASIS_F32, HRN_BASIS_F32, HRN_BASIS_F32};
    int ns = n_f16_stores(st);
    st[ns++] = HRN_BASIS_F32;
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 64u << 20));
    int64_t nc = hrn_face_model_n_coeffs(&g_fm);
    struct hrn_tensor *c = hrn_tape_tensor(&t, 1, &nc, "coeffs");
    struct hrn_rng r;
    hrn_rng_seed(&r, 8);
    hrn_rng_fill_uniform(&r, c->data, (size_t)nc, -1, 1);
    for (int q = 0; q < ns; q++) {
        CHECK_OK(hrn_basis_store_set(st[q]));
        for (int a = 0; a < 2; a++) {
            /* the op is linear: a large step has no truncation error and keeps the float
             * rounding of the 12003-row sums small next to the difference */
            struct hrn_gradcheck_opts o = {.h = 1.0, .seed = 3, .max_per_input = 96};
            struct hrn_gradcheck_report rep;
            enum hrn_status s = hrn_gradcheck(&t, &c, 1, fn_basis, &a, &o, &rep);
            if (getenv("HRN_TEST_VERBOSE")) printf("    store %d %s: %s\n", (int)st[q], a ? "albedo" : "shape", rep.msg);
            CHECK_MSG(s == HRN_OK && rep.n_checked > 0, "store %d %s: %s", (int)st[q],
                      a ? "albedo" : "shape", s == HRN_OK ? rep.msg : hrn_error_msg());
        }
    }
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_AUTO));
    hrn_tape_free(&t);
}

/* The copy follows in-place edits it can see, can be dropped, and a NaN keeps float32. */
static void test_cache(void) {
    enum hrn_basis_store st[2] = {HRN_BASIS_F32, HRN_BASIS_F32};
    if (n_f16_stores(st) == 0) SKIP("this CPU has no F16C");
    int64_t nc = hrn_face_model_n_coeffs(&g_fm), n = 3 * g_fm.n_verts;
    float *c = calloc((size_t)nc, sizeof(float)), *seed = calloc((size_t)n, sizeof(float));
    float *o = malloc((size_t)n * sizeof(float)), *o2 = malloc((size_t)n * sizeof(float));
    float *g = malloc((size_t)nc * sizeof(float));
    c[3] = 1.0f; /* column 3 of id: scaled by 1 */
    CHECK_OK(hrn_face_model_compact(&g_fm));
    size_t bytes = hrn_face_model_compact_bytes(&g_fm);
    size_t tiles = (size_t)(n + 31) / 32;
    CHECK_MSG(bytes == tiles * 32 * 2 * (size_t)(g_fm.n_id + g_fm.n_exp + g_fm.n_tex),
              "compact copy holds %zu bytes", bytes);
    run_op(0, c, seed, o, g);
    /* rescale the id basis in place, as hrn_fit_normalize_model does: the copy is remade */
    for (int64_t i = 0; i < n * g_fm.n_id; i++) g_fm.id_basis[i] *= 0.5f;
    run_op(0, c, seed, o2, g);
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = (double)g_fm.mean_shape[i] + 0.5 * ((double)o[i] - (double)g_fm.mean_shape[i]);
        e = fmax(e, fabs((double)o2[i] - want));
    }
    CHECK_MSG(e < 1e-6, "after an in-place rescale the shape is off by %g", e);
    for (int64_t i = 0; i < n * g_fm.n_id; i++) g_fm.id_basis[i] *= 2.0f;
    hrn_face_model_drop_compact(&g_fm);
    CHECK(g_fm.basis_cache == NULL && hrn_face_model_compact_bytes(&g_fm) == 0);
    hrn_face_model_drop_compact(&g_fm); /* twice: NULL-safe */
    hrn_face_model_drop_compact(NULL);
    /* a NaN in the albedo basis: that group stays float32 (the NaN reaches its rows) */
    float keep = g_fm.tex_basis[7 * g_fm.n_tex + 2];
    g_fm.tex_basis[7 * g_fm.n_tex + 2] = NAN;
    hrn_face_model_drop_compact(&g_fm);
    CHECK_OK(hrn_face_model_compact(&g_fm));
    CHECK(hrn_face_model_compact_bytes(&g_fm) == tiles * 32 * 2 * (size_t)(g_fm.n_id + g_fm.n_exp));
    for (int64_t q = 0; q < nc; q++) c[q] = 0.1f;
    run_op(1, c, seed, o, g);
    int nan_rows = 0;
    for (int64_t i = 0; i < n; i++) nan_rows += isnan(o[i]);
    CHECK_MSG(nan_rows == 1 && isnan(o[7]), "%d rows NaN", nan_rows);
    g_fm.tex_basis[7 * g_fm.n_tex + 2] = keep;
    hrn_face_model_drop_compact(&g_fm);
    free(c);
    free(seed);
    free(o);
    free(o2);
    free(g);
}

/* hrn_face_shape_rows_op: the rows of hrn_face_shape_op at a few vertices (same bases, so equal
 * to the float rounding of a k-term sum), its gradient that of the full op seeded on those rows,
 * and a gradient check; in every store. */
static enum hrn_status fn_rows(struct hrn_tape *t, struct hrn_tensor *const *in, int n, void *u,
                               struct hrn_tensor **out) {
    (void)n;
    *out = hrn_face_shape_rows_op(t, &g_fm, in[0], (const int32_t *)u, 6);
    return *out ? HRN_OK : HRN_ERR_INVALID;
}

static void test_shape_rows(void) {
    static const int32_t verts[6] = {0, 17, 1234, 2000, 3999, 4000}; /* the last in the tail tile */
    enum hrn_basis_store st[3] = {HRN_BASIS_F32, HRN_BASIS_F32, HRN_BASIS_F32};
    int ns = n_f16_stores(st);
    st[ns++] = HRN_BASIS_F32;
    int64_t nc = hrn_face_model_n_coeffs(&g_fm), n = 3 * g_fm.n_verts;
    int32_t k = g_fm.n_id + g_fm.n_exp;
    float *c = malloc((size_t)nc * sizeof(float)), *seed = calloc((size_t)n, sizeof(float));
    float *full = malloc((size_t)n * sizeof(float)), *gfull = malloc((size_t)nc * sizeof(float));
    struct hrn_rng r;
    hrn_rng_seed(&r, 13);
    hrn_rng_fill_normal(&r, c, (size_t)nc, 0, 1);
    float rs[18];
    for (int i = 0; i < 18; i++) rs[i] = 2 * hrn_rng_uniformf(&r) - 1;
    for (int v = 0; v < 6; v++)
        for (int q = 0; q < 3; q++) seed[3 * verts[v] + q] = rs[3 * v + q];
    for (int q = 0; q < ns; q++) {
        CHECK_OK(hrn_basis_store_set(st[q]));
        run_op(0, c, seed, full, gfull);
        struct hrn_tape t;
        CHECK_OK(hrn_tape_init(&t, 1u << 20));
        struct hrn_tensor *x = hrn_tape_tensor(&t, 1, &nc, "c");
        memcpy(x->data, c, (size_t)nc * sizeof(float));
        CHECK_OK(hrn_tape_requires_grad(&t, x));
        struct hrn_tensor *y = hrn_face_shape_rows_op(&t, &g_fm, x, verts, 6);
        CHECK(y != NULL && y->ndim == 2 && y->shape[0] == 6 && y->shape[1] == 3);
        if (!y) {
            hrn_tape_free(&t);
            continue;
        }
        for (int v = 0; v < 6; v++)
            for (int d = 0; d < 3; d++) {
                int64_t i = 3 * verts[v] + d;
                double mag = fabs((double)g_fm.mean_shape[i]);
                for (int32_t j = 0; j < k; j++) mag += fabs((double)col_at(0, i, j) * (double)c[j]);
                CHECK_NEAR(y->data[3 * v + d], full[i], 2.0 * (k + 1) * ldexp(mag, -24), 0);
            }
        CHECK_OK(hrn_tape_backward_seed(&t, y, rs));
        for (int32_t j = 0; j < k; j++) {
            double mag = 0;
            for (int v = 0; v < 6; v++)
                for (int d = 0; d < 3; d++)
                    mag += fabs((double)col_at(0, 3 * verts[v] + d, j) * (double)rs[3 * v + d]);
            CHECK_NEAR(x->grad[j], gfull[j], 2.0 * 512 * ldexp(mag, -24) + 1e-30, 0);
        }
        for (int64_t j = k; j < nc; j++) CHECK(x->grad[j] == 0);
        struct hrn_gradcheck_opts o = {.h = 1.0, .seed = 3, .max_per_input = 16};
        struct hrn_gradcheck_report rep;
        enum hrn_status s = hrn_gradcheck(&t, &x, 1, fn_rows, (void *)verts, &o, &rep);
        CHECK_MSG(s == HRN_OK && rep.n_checked > 0, "store %d: %s", (int)st[q],
                  s == HRN_OK ? rep.msg : hrn_error_msg());
        /* a vertex out of range */
        int32_t bad = (int32_t)g_fm.n_verts;
        CHECK(hrn_face_shape_rows_op(&t, &g_fm, x, &bad, 1) == NULL);
        CHECK_ERR_HAS("face_shape_rows");
        hrn_tape_free(&t);
    }
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_AUTO));
    free(c);
    free(seed);
    free(full);
    free(gfull);
}

static void test_store_choice(void) {
    CHECK_STATUS(hrn_basis_store_set((enum hrn_basis_store)9), HRN_ERR_INVALID);
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_F32));
    CHECK(hrn_basis_store_active() == HRN_BASIS_F32);
    CHECK_OK(hrn_basis_store_set(HRN_BASIS_AUTO));
    enum hrn_basis_store a = hrn_basis_store_active();
    CHECK(a == HRN_BASIS_F32 || a == HRN_BASIS_F16 || a == HRN_BASIS_F16_AVX2);
}

int main(void) {
    make_model();
    RUN(test_store_choice);
    RUN(test_f16_matches_f32);
    RUN(test_f16_one_thread);
    RUN(test_f16_gradcheck);
    RUN(test_cache);
    RUN(test_shape_rows);
    hrn_face_model_free(&g_fm);
    return hrn_test_finish();
}
