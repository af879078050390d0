/* bench_render.c: the differentiable forward model on the BFM-size synthetic face model (35709
 * vertices, 70789 triangles, 80/64/80 coefficients) at 224x224, at 1 and 2 OpenMP threads:
 *
 *   ./bench/bench_render [model.h5]      (default: the synthetic BFM preset, seed 1)
 *
 * Each part is timed with the float32 bases and, when the CPU has F16C, with the float16 copy the
 * basis ops use by default; first it prints how far the float16 shape and albedo are from float32.
 *
 * 1. full: forward + backward of coefficients -> shape -> pose -> normals, albedo, SH -> project ->
 *    rasterize -> interpolate -> photometric loss (masked mean squared error against a target
 *    rendered from other coefficients);
 * 2. per-vertex part only (shape, pose, normals, albedo, SH, a per-vertex squared error), forward +
 *    backward: the part bench_render_torch.py times in PyTorch;
 * 3. rasterization alone (the rasterize op's forward) and its backward through interpolate.
 * Medians of REPS runs after a warm-up; the tape is reset between runs (arena pages stay warm).
 */
#include "hrn_model.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPS = 31 };

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}
static int die(const char *what) {
    fprintf(stderr, "bench_render: %s: %s\n", what, hrn_error_msg());
    return 1;
}

struct setup {
    struct hrn_face_model *fm;
    struct hrn_topo *topo;
    struct hrn_camera cam;
    float *coeffs, *target_img, *target_col, *mask;
};

/* per-vertex part; returns the lit colour (N,3), *uvz the projected vertices */
static struct hrn_tensor *per_vertex(struct hrn_tape *t, const struct setup *s,
                                     struct hrn_tensor *c, struct hrn_tensor **uvz) {
    struct hrn_coeff_layout l = hrn_face_model_layout(s->fm);
    struct hrn_tensor *S = hrn_face_shape_op(t, s->fm, c);
    struct hrn_tensor *V = hrn_rigid_op(t, S, c, l.angle, l.trans);
    struct hrn_tensor *nrm = hrn_normals_op(t, s->topo, V, HRN_NORMALS_HRN);
    struct hrn_tensor *A = hrn_face_albedo_op(t, s->fm, c);
    if (uvz) *uvz = hrn_project_op(t, &s->cam, V);
    return hrn_sh_op(t, nrm, A, c, l.gamma);
}

static struct hrn_tensor *leaf(struct hrn_tape *t, const struct setup *s) {
    int64_t nc = hrn_face_model_n_coeffs(s->fm);
    struct hrn_tensor *c = hrn_tape_wrap(t, s->coeffs, 1, &nc, "coeffs");
    if (c && hrn_tape_requires_grad(t, c) != HRN_OK) return NULL;
    return c;
}

int main(int argc, char **argv) {
    hrn_blas_cpu_setup(argv); /* OpenBLAS's AVX-512 kernels where it would pick SSE3 */
    struct hrn_face_model fm = {0};
    struct hrn_topo topo = {0};
    struct hrn_tape t = {0};
    double t0 = hrn_time_now();
    if (argc > 1) {
        if (hrn_face_model_load(argv[1], &fm) != HRN_OK) return die(argv[1]);
    } else if (hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_BFM, .seed = 1}) !=
               HRN_OK) {
        return die("synthetic model");
    }
    if (hrn_topo_init(&topo, fm.tris, fm.n_tris, fm.n_verts) != HRN_OK) return die("topology");
    if (hrn_tape_init(&t, (size_t)256 << 20) != HRN_OK) return die("tape");
    printf("bench_render: OpenBLAS core %s\n", hrn_blas_core());
    printf("bench_render: model %s, %lld vertices, %lld triangles, %lld coefficients (setup %.0f ms)\n",
           fm.name, (long long)fm.n_verts, (long long)fm.n_tris,
           (long long)hrn_face_model_n_coeffs(&fm), 1e3 * (hrn_time_now() - t0));
    struct setup s = {&fm, &topo, hrn_camera_default(), NULL, NULL, NULL, NULL};
    int64_t nc = hrn_face_model_n_coeffs(&fm), N = fm.n_verts, npix = 224 * 224;
    struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
    s.coeffs = calloc((size_t)nc, sizeof(float));
    s.target_img = malloc((size_t)(3 * npix) * sizeof(float));
    s.target_col = malloc((size_t)(3 * N) * sizeof(float));
    struct hrn_rng r;
    hrn_rng_seed(&r, 5);
    /* target: another subject, lit from the side */
    for (int64_t i = 0; i < l.angle; i++) s.coeffs[i] = 0.7f * (float)hrn_rng_normal(&r);
    s.coeffs[l.angle + 1] = 0.3f;
    s.coeffs[l.gamma + 3] = 0.2f;
    hrn_tape_reset(&t);
    {
        struct hrn_tensor *uvz = NULL, *col = per_vertex(&t, &s, leaf(&t, &s), &uvz);
        struct hrn_tensor *rast = hrn_rasterize_op(&t, &s.cam, uvz, fm.tris, fm.n_tris);
        struct hrn_tensor *img = hrn_interpolate_op(&t, col, rast, fm.tris);
        if (!img) return die("target");
        memcpy(s.target_img, img->data, (size_t)(3 * npix) * sizeof(float));
        memcpy(s.target_col, col->data, (size_t)(3 * N) * sizeof(float));
    }
    /* the fitted subject: mean face with a small pose */
    memset(s.coeffs, 0, (size_t)nc * sizeof(float));
    s.coeffs[l.angle + 1] = 0.25f;
    s.coeffs[l.gamma + 3] = 0.1f;

    const char *names[5] = {"full fwd+bwd (coeffs -> image -> loss)", "  of which forward",
                            "per-vertex part fwd+bwd (shared with torch)", "rasterize forward",
                            "rasterize+interpolate backward"};
    /* the float16 copy of the bases against the float32 arrays: build time and the largest
     * difference of the shape and albedo (the target coefficients, ~N(0, 0.7^2)) */
    enum hrn_basis_store stores[2] = {HRN_BASIS_F32, hrn_basis_store_active()};
    int n_stores = stores[1] == HRN_BASIS_F32 ? 1 : 2;
    if (n_stores == 2) {
        float *c0 = calloc((size_t)nc, sizeof(float));
        hrn_rng_seed(&r, 5);
        for (int64_t i = 0; i < l.angle; i++) c0[i] = 0.7f * (float)hrn_rng_normal(&r);
        hrn_face_model_drop_compact(&fm); /* made by the target's render above: time it anew */
        double tb = hrn_time_now();
        if (hrn_face_model_compact(&fm) != HRN_OK) return die("compact");
        tb = hrn_time_now() - tb;
        double err[2] = {0, 0};
        for (int a = 0; a < 2; a++) {
            float *out[2];
            for (int k = 0; k < 2; k++) {
                hrn_basis_store_set(stores[k]);
                hrn_tape_reset(&t);
                struct hrn_tensor *c = hrn_tape_wrap(&t, c0, 1, &nc, "c");
                struct hrn_tensor *x = a ? hrn_face_albedo_op(&t, &fm, c) : hrn_face_shape_op(&t, &fm, c);
                if (!x) return die("basis op");
                out[k] = malloc((size_t)(3 * N) * sizeof(float));
                memcpy(out[k], x->data, (size_t)(3 * N) * sizeof(float));
            }
            for (int64_t i = 0; i < 3 * N; i++) {
                double d = (double)out[0][i] - (double)out[1][i];
                err[a] = d > err[a] ? d : -d > err[a] ? -d : err[a];
            }
            free(out[0]);
            free(out[1]);
        }
        printf("bench_render: float16 bases (%s kernels): %.1f MB instead of %.1f MB, built in %.0f "
               "ms; largest difference to float32 at coefficients ~N(0,0.7^2): shape %.2e mm, "
               "albedo %.2e\n", stores[1] == HRN_BASIS_F16 ? "AVX-512" : "AVX2",
               (double)hrn_face_model_compact_bytes(&fm) / 1e6,
               (double)(3 * N) * (double)(fm.n_id + fm.n_exp + (fm.mean_albedo ? fm.n_tex : 0)) *
                   4e-6,
               1e3 * tb, err[0] * (double)fm.mm_per_unit, err[1]);
        free(c0);
    }
    for (int sti = 0; sti < 2 * n_stores; sti++) {
        int nt = 1 + sti % 2;
        hrn_basis_store_set(stores[sti / 2]);
        printf("bases %s, ", stores[sti / 2] == HRN_BASIS_F32 ? "float32" : "float16");
        omp_set_num_threads(nt);
        double tm[5][REPS];
        for (int rep = -2; rep < REPS; rep++) {
            /* 1. full */
            hrn_tape_reset(&t);
            double a = hrn_time_now();
            struct hrn_tensor *c = leaf(&t, &s), *uvz = NULL;
            struct hrn_tensor *col = per_vertex(&t, &s, c, &uvz);
            struct hrn_tensor *rast = hrn_rasterize_op(&t, &s.cam, uvz, fm.tris, fm.n_tris);
            struct hrn_tensor *img = hrn_interpolate_op(&t, col, rast, fm.tris);
            struct hrn_tensor *tgt =
                hrn_tape_wrap(&t, s.target_img, 3, (int64_t[]){3, 224, 224}, "target");
            struct hrn_tensor *mask = hrn_coverage_mask(&t, rast);
            struct hrn_tensor *loss =
                hrn_mean_all(&t, hrn_mask_mul(&t, hrn_square(&t, hrn_sub(&t, img, tgt)), mask));
            double b = hrn_time_now();
            if (hrn_tape_backward(&t, loss) != HRN_OK) return die("full backward");
            double e = hrn_time_now();
            /* 2. per-vertex part */
            hrn_tape_reset(&t);
            double a2 = hrn_time_now();
            c = leaf(&t, &s);
            col = per_vertex(&t, &s, c, NULL);
            struct hrn_tensor *tc =
                hrn_tape_wrap(&t, s.target_col, 2, (int64_t[]){N, 3}, "target_col");
            loss = hrn_mean_all(&t, hrn_square(&t, hrn_sub(&t, col, tc)));
            if (hrn_tape_backward(&t, loss) != HRN_OK) return die("per-vertex backward");
            double e2 = hrn_time_now();
            /* 3. rasterization alone, and the backward of rasterize+interpolate */
            hrn_tape_reset(&t);
            struct hrn_tensor *uv = hrn_tape_tensor(&t, 2, (int64_t[]){N, 3}, "uvz");
            struct hrn_tensor *cl = hrn_tape_tensor(&t, 2, (int64_t[]){N, 3}, "col");
            if (!uv || !cl || hrn_tape_requires_grad(&t, uv) != HRN_OK ||
                hrn_tape_requires_grad(&t, cl) != HRN_OK)
                return die("raster leaves");
            {
                float *verts = malloc((size_t)(3 * N) * sizeof(float));
                hrn_face_posed(&fm, s.coeffs, verts);
                hrn_project(&s.cam, verts, N, uv->data);
                free(verts);
            }
            memcpy(cl->data, s.target_col, (size_t)(3 * N) * sizeof(float));
            double a3 = hrn_time_now();
            rast = hrn_rasterize_op(&t, &s.cam, uv, fm.tris, fm.n_tris);
            double b3 = hrn_time_now();
            img = hrn_interpolate_op(&t, cl, rast, fm.tris);
            tgt = hrn_tape_wrap(&t, s.target_img, 3, (int64_t[]){3, 224, 224}, "target");
            loss = hrn_mean_all(&t, hrn_square(&t, hrn_sub(&t, img, tgt)));
            double c3 = hrn_time_now();
            if (hrn_tape_backward(&t, loss) != HRN_OK) return die("raster backward");
            double e3 = hrn_time_now();
            if (rep < 0) continue;
            tm[0][rep] = e - a;
            tm[1][rep] = b - a;
            tm[2][rep] = e2 - a2;
            tm[3][rep] = b3 - a3;
            tm[4][rep] = e3 - c3;
        }
        printf("%d thread%s:\n", nt, nt > 1 ? "s" : "");
        for (int k = 0; k < 5; k++) printf("  %-46s %8.3f ms\n", names[k], 1e3 * median(tm[k], REPS));
        /* per op of the per-vertex part: forward, then backward seeded with ones */
        const char *opn[5] = {"face_shape", "rigid", "vertex_normals", "face_albedo", "sh_light"};
        double to[5][2][REPS];
        for (int rep = -2; rep < REPS; rep++) {
            hrn_tape_reset(&t);
            struct hrn_tensor *c = leaf(&t, &s);
            struct hrn_tensor *x[5];
            double ta[6];
            ta[0] = hrn_time_now();
            x[0] = hrn_face_shape_op(&t, &fm, c);
            ta[1] = hrn_time_now();
            x[1] = hrn_rigid_op(&t, x[0], c, l.angle, l.trans);
            ta[2] = hrn_time_now();
            x[2] = hrn_normals_op(&t, &topo, x[1], HRN_NORMALS_HRN);
            ta[3] = hrn_time_now();
            x[3] = hrn_face_albedo_op(&t, &fm, c);
            ta[4] = hrn_time_now();
            x[4] = hrn_sh_op(&t, x[2], x[3], c, l.gamma);
            ta[5] = hrn_time_now();
            if (!x[4]) return die("ops");
            for (int k = 0; k < 5; k++) to[k][0][rep < 0 ? 0 : rep] = ta[k + 1] - ta[k];
            /* backward of each op alone: call its backward function directly on a small seed */
            for (int k = 0; k < 5; k++) {
                x[k]->grad = hrn_tape_alloc(&t, (size_t)x[k]->numel * sizeof(float));
                if (!x[k]->grad) return die("grad");
                memset(x[k]->grad, 0, (size_t)x[k]->numel * sizeof(float));
            }
            for (int k = 4; k >= 0; k--) {
                for (int64_t i = 0; i < x[k]->numel; i++) x[k]->grad[i] = 1e-3f;
                double b0 = hrn_time_now();
                if (hrn_custom_info(x[k])->backward(&t, x[k]) != HRN_OK) return die("op bwd");
                to[k][1][rep < 0 ? 0 : rep] = hrn_time_now() - b0;
            }
        }
        for (int k = 0; k < 5; k++)
            printf("    %-16s forward %7.3f ms  backward %7.3f ms\n", opn[k],
                   1e3 * median(to[k][0], REPS), 1e3 * median(to[k][1], REPS));
    }
    free(s.coeffs);
    free(s.target_img);
    free(s.target_col);
    hrn_tape_free(&t);
    hrn_topo_free(&topo);
    hrn_face_model_free(&fm);
    return 0;
}
