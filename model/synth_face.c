/* synth_face.c: a seeded synthetic morphable face model, the embedded default of the demo and the
 * tests (no real face model may be shipped with hrn).
 *
 * The surface is a height field over an oval domain: (s, t) in the unit disk maps to
 * x = HALF_W*s, y = HALF_H*t, z = a rounded base (the face curving back towards the ears) plus
 * Gaussian features (nose ridge and tip, nostril wings, eye sockets with eyeballs, brow ridges,
 * lips with a mouth line, cheeks, chin). The vertices sit on an integer lattice inside a disk;
 * the BFM preset drops a few outermost vertices and triangles so the counts are exactly those of
 * Deep3D's BFM-front (35709, 70789), which makes benchmarks comparable.
 */
#include "hrn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float HALF_W = 0.78f;  /* half face width in model units (dm): 7.8 cm */
static const float HALF_H = 1.05f;  /* half face height: 10.5 cm */
static const float DEPTH = 0.90f;   /* depth of the base surface at the centre */

static double gauss2(double s, double t, double cs, double ct, double ws, double wt) {
    double ds = (s - cs) / ws, dt = (t - ct) / wt;
    return exp(-0.5 * (ds * ds + dt * dt));
}

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* Height of the face features at (s, t), added to the base depth. */
static double feature_height(double s, double t) {
    double as = fabs(s);
    /* nose: a narrow ridge from the bridge (t=0.28) growing to the tip (t=-0.12), then a fall-off */
    double ridge = 0.05 + 0.25 * clamp01((0.28 - t) / 0.40);
    double along = t >= -0.12 ? (t <= 0.30 ? 1.0 : exp(-0.5 * pow((t - 0.30) / 0.05, 2)))
                              : exp(-0.5 * pow((t + 0.12) / 0.06, 2));
    double width = 0.06 + 0.05 * clamp01((0.28 - t) / 0.40); /* wider towards the tip */
    double h = ridge * along * exp(-0.5 * (s / width) * (s / width));
    h += 0.07 * gauss2(as, t, 0.12, -0.16, 0.06, 0.05);   /* nostril wings */
    h += -0.10 * gauss2(as, t, 0.32, 0.25, 0.13, 0.08);   /* eye sockets */
    h += 0.045 * gauss2(as, t, 0.32, 0.25, 0.07, 0.04);   /* eyeballs */
    h += 0.05 * gauss2(as, t, 0.32, 0.42, 0.18, 0.05);    /* brow ridges */
    h += 0.07 * gauss2(s, t, 0.0, -0.44, 0.20, 0.05);     /* upper lip */
    h += 0.06 * gauss2(s, t, 0.0, -0.57, 0.17, 0.045);    /* lower lip */
    h += -0.03 * gauss2(s, t, 0.0, -0.505, 0.22, 0.015);  /* mouth line */
    h += 0.07 * gauss2(s, t, 0.0, -0.82, 0.16, 0.09);     /* chin */
    h += 0.04 * gauss2(as, t, 0.45, -0.15, 0.15, 0.15);   /* cheeks */
    return h;
}

static void surface_point(double s, double t, float out[3]) {
    double base = (double)DEPTH * sqrt(fmax(0.0, 1.0 - 0.85 * s * s)) * (1.0 - 0.25 * t * t);
    out[0] = (float)((double)HALF_W * s);
    out[1] = (float)((double)HALF_H * t);
    out[2] = (float)(base + feature_height(s, t));
}

/* Weights of the coloured regions, each in [0,1]. */
struct regions {
    double lips, brows, sclera, iris, cheeks;
};

static struct regions region_weights(double s, double t) {
    struct regions r;
    double as = fabs(s);
    r.lips = clamp01(1.6 * (gauss2(s, t, 0.0, -0.445, 0.22, 0.035) +
                            gauss2(s, t, 0.0, -0.565, 0.19, 0.04)));
    r.brows = clamp01(1.5 * gauss2(as, t + 0.15 * (as - 0.32) * (as - 0.32), 0.33, 0.44, 0.15, 0.025));
    r.sclera = clamp01(2.0 * gauss2(as, t, 0.33, 0.25, 0.10, 0.035) - 0.3);
    r.iris = clamp01(2.5 * gauss2(as, t, 0.33, 0.25, 0.035, 0.03) - 0.5);
    r.cheeks = gauss2(as, t, 0.45, -0.2, 0.15, 0.12);
    return r;
}

/* iBUG-68 landmark positions in normalized (s, t) = (x/HALF_W, y/HALF_H), image-left first. */
static void landmark_st(int i, double *s, double *t) {
    static const double pts[HRN_N_LMK68][2] = {
        /* 17..26 brows, 27..30 nose bridge, 31..35 nostrils */
        [17] = {-0.62, 0.40}, [18] = {-0.50, 0.45}, [19] = {-0.38, 0.47}, [20] = {-0.26, 0.46},
        [21] = {-0.14, 0.43}, [22] = {0.14, 0.43},  [23] = {0.26, 0.46},  [24] = {0.38, 0.47},
        [25] = {0.50, 0.45},  [26] = {0.62, 0.40},  [27] = {0.0, 0.28},   [28] = {0.0, 0.14},
        [29] = {0.0, 0.01},   [30] = {0.0, -0.12},  [31] = {-0.15, -0.21}, [32] = {-0.08, -0.23},
        [33] = {0.0, -0.24},  [34] = {0.08, -0.23}, [35] = {0.15, -0.21},
        /* 36..41 left eye (outer corner, upper, inner corner, lower), 42..47 right eye */
        [36] = {-0.48, 0.25}, [37] = {-0.38, 0.29}, [38] = {-0.27, 0.29}, [39] = {-0.18, 0.25},
        [40] = {-0.27, 0.21}, [41] = {-0.38, 0.21}, [42] = {0.18, 0.25},  [43] = {0.27, 0.29},
        [44] = {0.38, 0.29},  [45] = {0.48, 0.25},  [46] = {0.38, 0.21},  [47] = {0.27, 0.21},
        /* 48..59 outer lips, 60..67 inner lips */
        [48] = {-0.28, -0.50}, [49] = {-0.18, -0.45}, [50] = {-0.07, -0.42}, [51] = {0.0, -0.43},
        [52] = {0.07, -0.42},  [53] = {0.18, -0.45},  [54] = {0.28, -0.50},  [55] = {0.18, -0.57},
        [56] = {0.08, -0.60},  [57] = {0.0, -0.61},   [58] = {-0.08, -0.60}, [59] = {-0.18, -0.57},
        [60] = {-0.22, -0.50}, [61] = {-0.08, -0.48}, [62] = {0.0, -0.48},   [63] = {0.08, -0.48},
        [64] = {0.22, -0.50},  [65] = {0.08, -0.52},  [66] = {0.0, -0.52},   [67] = {-0.08, -0.52},
    };
    if (i <= 16) {
        /* jaw contour from the image-left upper jaw (171 deg) down to the chin (270 deg) and up */
        const double PI = 3.14159265358979323846;
        double deg = 171.0 + (double)i * (198.0 / 16.0);
        *s = 0.95 * cos(deg * PI / 180.0);
        *t = 0.95 * sin(deg * PI / 180.0);
        return;
    }
    *s = pts[i][0];
    *t = pts[i][1];
}

/* --- lattice ---------------------------------------------------------------------------------- */

struct lattice_spec {
    int half;           /* lattice columns/rows in -half..half */
    int r2;             /* keep i^2 + j^2 <= r2 */
    int64_t n_verts;    /* exact vertex count wanted (0: all kept) */
    int64_t n_tris;     /* exact triangle count wanted (0: all) */
};

static const struct lattice_spec PRESETS[] = {
    [HRN_SYNTH_SMALL] = {20, 400, 0, 0},
    /* the disk of radius^2 11365 holds 35717 points; 8 shell points and 27 border triangles go */
    [HRN_SYNTH_BFM] = {107, 11365, 35709, 70789},
};

struct lattice {
    int64_t n_verts, n_tris;
    float *st;      /* (N, 2) normalized (s, t) */
    int32_t *tris;  /* (T, 3) */
};

static int cmp_angle(const void *a, const void *b) {
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

static enum hrn_status build_lattice(const struct lattice_spec *sp, struct lattice *L) {
    enum hrn_status st = HRN_OK;
    int n = 2 * sp->half + 1;
    int32_t *id = NULL;
    double *shell = NULL;
    int32_t *refs = NULL;
    memset(L, 0, sizeof *L);
    id = malloc((size_t)n * (size_t)n * sizeof *id);
    if (!id) goto nomem;
    int64_t count = 0;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            int i = c - sp->half, j = r - sp->half;
            id[r * n + c] = i * i + j * j <= sp->r2 ? 0 : -1;
            count += id[r * n + c] == 0;
        }
    if (sp->n_verts > 0 && count > sp->n_verts) {
        /* Drop every other point of the outermost shell, in angle order, until the count fits. */
        int64_t n_shell = 0;
        shell = malloc((size_t)(8 * n) * 2 * sizeof *shell);
        if (!shell) goto nomem;
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) {
                int i = c - sp->half, j = r - sp->half;
                if (i * i + j * j == sp->r2) {
                    shell[2 * n_shell] = atan2((double)j, (double)i);
                    shell[2 * n_shell + 1] = (double)(r * n + c);
                    n_shell++;
                }
            }
        qsort(shell, (size_t)n_shell, 2 * sizeof *shell, cmp_angle);
        for (int64_t k = 0; k < n_shell && count > sp->n_verts; k += 2) {
            id[(int64_t)shell[2 * k + 1]] = -1;
            count--;
        }
        HRN_ASSERT(count == sp->n_verts);
    }
    L->n_verts = count;
    L->st = malloc((size_t)count * 2 * sizeof(float));
    /* at most two triangles per cell */
    L->tris = malloc((size_t)(2 * (n - 1) * (n - 1)) * 3 * sizeof(int32_t));
    if (!L->st || !L->tris) goto nomem;
    int64_t v = 0;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++)
            if (id[r * n + c] == 0) {
                id[r * n + c] = (int32_t)v;
                L->st[2 * v] = (float)(c - sp->half) / (float)sp->half;
                L->st[2 * v + 1] = (float)(r - sp->half) / (float)sp->half;
                v++;
            }
    /* Cells: a bottom-left, b bottom-right, c top-left, d top-right (x right, y up); triangles are
     * counter-clockwise seen from +z. A cell with three corners gives one triangle. */
    int64_t t = 0;
    for (int r = 0; r + 1 < n; r++)
        for (int c = 0; c + 1 < n; c++) {
            int32_t a = id[r * n + c], b = id[r * n + c + 1], cc = id[(r + 1) * n + c],
                    d = id[(r + 1) * n + c + 1];
            int32_t q[4][3] = {{a, b, d}, {a, d, cc}, {b, d, cc}, {a, b, cc}};
            int have = (a >= 0) + (b >= 0) + (cc >= 0) + (d >= 0);
            int32_t *o = L->tris + 3 * t;
            if (have == 4) {
                memcpy(o, q[0], sizeof q[0]);
                memcpy(o + 3, q[1], sizeof q[1]);
                t += 2;
            } else if (have == 3) {
                const int32_t *pick = a < 0 ? q[2] : b < 0 ? q[1] : cc < 0 ? q[0] : q[3];
                memcpy(o, pick, sizeof q[0]);
                t += 1;
            }
        }
    L->n_tris = t;
    if (sp->n_tris > 0 && t > sp->n_tris) {
        /* Remove border triangles, farthest from the centre first, never orphaning a vertex. */
        refs = calloc((size_t)L->n_verts, sizeof *refs);
        double *far = malloc((size_t)t * 2 * sizeof *far);
        if (!refs || !far) {
            free(far);
            goto nomem;
        }
        for (int64_t k = 0; k < 3 * t; k++) refs[L->tris[k]]++;
        for (int64_t k = 0; k < t; k++) {
            double m = 0;
            for (int e = 0; e < 3; e++) {
                const float *p = L->st + 2 * L->tris[3 * k + e];
                m += (double)(p[0] * p[0] + p[1] * p[1]);
            }
            far[2 * k] = -m; /* ascending sort of -m = farthest first */
            far[2 * k + 1] = (double)k;
        }
        qsort(far, (size_t)t, 2 * sizeof *far, cmp_angle);
        int64_t remove = t - sp->n_tris;
        for (int64_t k = 0; k < t && remove > 0; k++) {
            int32_t *tri = L->tris + 3 * (int64_t)far[2 * k + 1];
            if (refs[tri[0]] < 2 || refs[tri[1]] < 2 || refs[tri[2]] < 2) continue;
            for (int e = 0; e < 3; e++) refs[tri[e]]--;
            tri[0] = -1; /* marked removed */
            remove--;
        }
        free(far);
        HRN_ASSERT(remove == 0);
        int64_t w = 0;
        for (int64_t k = 0; k < t; k++)
            if (L->tris[3 * k] >= 0) {
                memmove(L->tris + 3 * w, L->tris + 3 * k, 3 * sizeof(int32_t));
                w++;
            }
        L->n_tris = w;
    }
    goto done;
nomem:
    st = hrn_error_set(HRN_ERR_NOMEM, "synthetic face: out of memory building the lattice");
    free(L->st);
    free(L->tris);
    memset(L, 0, sizeof *L);
done:
    free(id);
    free(shell);
    free(refs);
    return st;
}

/* --- bases ------------------------------------------------------------------------------------ */

/* A smooth random displacement field over the face (dims = 3) or a scalar one (dims = 1): a sum of
 * Gaussian bumps with random centres in the disk and random amplitudes (mirrored in x when
 * symmetric), scaled to RMS sigma per vertex. Written to col[(dims*v + d) * stride]. */
static void random_field(struct hrn_rng *rng, const float *st, int64_t n, double width, int n_bumps,
                         double sigma, int dims, int symmetric, float *col, int64_t stride) {
    double cen[16][2], amp[16][3];
    HRN_ASSERT(n_bumps <= 16);
    for (int b = 0; b < n_bumps; b++) {
        double r = sqrt(hrn_rng_uniform(rng)), a = 2 * 3.14159265358979323846 * hrn_rng_uniform(rng);
        cen[b][0] = 0.9 * r * cos(a);
        cen[b][1] = 0.9 * r * sin(a);
        for (int d = 0; d < 3; d++) amp[b][d] = hrn_rng_normal(rng);
    }
    double ss = 0;
    for (int64_t v = 0; v < n; v++)
        for (int d = 0; d < dims; d++) {
            double val = 0, s = st[2 * v], t = st[2 * v + 1];
            for (int b = 0; b < n_bumps; b++) {
                val += amp[b][d] * gauss2(s, t, cen[b][0], cen[b][1], width, width);
                /* mirrored bump: faces vary mostly symmetrically; x displacements flip sign */
                if (symmetric)
                    val += (dims == 3 && d == 0 ? -1 : 1) * amp[b][d] *
                           gauss2(s, t, -cen[b][0], cen[b][1], width, width);
            }
            col[(dims * v + d) * stride] = (float)val;
            ss += val * val;
        }
    double scale = ss > 0 ? sigma / sqrt(ss / (double)n) : 0;
    for (int64_t k = 0; k < dims * n; k++) col[k * stride] = (float)((double)col[k * stride] * scale);
}

/* Named expressions: displacement (dx, dy, dz) at (s, t) for expression e, in model units. */
static void named_expression(int e, double s, double t, double d[3]) {
    double as = fabs(s), sg = s < 0 ? -1 : 1;
    d[0] = d[1] = d[2] = 0;
    switch (e) {
    case 0: { /* jaw open: the lower lip and chin drop and move back */
        double w = clamp01((-0.50 - t) / 0.20) * exp(-0.5 * pow(s / 0.55, 2));
        d[1] = -0.10 * w;
        d[2] = -0.03 * w;
        break;
    }
    case 1: { /* smile: mouth corners up and out */
        double w = gauss2(as, t, 0.28, -0.50, 0.12, 0.10);
        d[0] = 0.04 * sg * w;
        d[1] = 0.04 * w;
        break;
    }
    case 2: /* brow raise */
        d[1] = 0.04 * gauss2(as, t, 0.32, 0.43, 0.20, 0.08);
        break;
    case 3: { /* brow furrow: inner brows in and down */
        double w = gauss2(as, t, 0.15, 0.40, 0.10, 0.07);
        d[0] = -0.02 * sg * w;
        d[1] = -0.02 * w;
        break;
    }
    case 4: /* blink, image-left eye */
    case 5: /* blink, image-right eye */
        if ((e == 4) == (s < 0)) d[1] = -0.03 * gauss2(as, t, 0.32, 0.29, 0.09, 0.03);
        break;
    case 6: { /* pucker: lips forward and together */
        double w = gauss2(s, t, 0.0, -0.50, 0.20, 0.09);
        d[0] = -0.25 * s * w;
        d[2] = 0.05 * w;
        break;
    }
    case 7: /* cheek puff */
        d[2] = 0.05 * gauss2(as, t, 0.42, -0.35, 0.14, 0.14);
        break;
    default:
        break;
    }
}

enum { N_NAMED_EXP = 8 };

enum hrn_status hrn_synth_face(struct hrn_face_model *out, const struct hrn_synth_params *p) {
    enum hrn_status st = HRN_OK;
    struct hrn_face_model fm = {0};
    struct lattice L = {0};
    memset(out, 0, sizeof *out);
    if ((unsigned)p->preset > HRN_SYNTH_BFM)
        return hrn_error_set(HRN_ERR_INVALID, "synthetic face: unknown preset %d", (int)p->preset);
    if (p->n_id < 0 || p->n_exp < 0 || p->n_tex < 0)
        return hrn_error_set(HRN_ERR_INVALID, "synthetic face: negative basis size");
    HRN_TRY(build_lattice(&PRESETS[p->preset], &L));

    fm.n_verts = L.n_verts;
    fm.n_tris = L.n_tris;
    fm.n_id = p->n_id ? p->n_id : 80;
    fm.n_exp = p->n_exp ? p->n_exp : 64;
    fm.n_tex = p->n_tex ? p->n_tex : 80;
    fm.mm_per_unit = 100.0f;
    snprintf(fm.name, sizeof fm.name, "hrn-synthetic-%s-seed%llu",
             p->preset == HRN_SYNTH_BFM ? "bfm" : "small", (unsigned long long)p->seed);
    snprintf(fm.licence, sizeof fm.licence,
             "synthetic model generated by hrn; no scan data; free to use");
    int64_t N = fm.n_verts, n3 = 3 * N;
    fm.mean_shape = malloc((size_t)n3 * sizeof(float));
    fm.id_basis = calloc((size_t)(n3 * fm.n_id), sizeof(float));
    fm.exp_basis = calloc((size_t)(n3 * fm.n_exp), sizeof(float));
    fm.mean_albedo = malloc((size_t)n3 * sizeof(float));
    fm.tex_basis = calloc((size_t)(n3 * fm.n_tex), sizeof(float));
    fm.skin_mask = malloc((size_t)N * sizeof(float));
    fm.uvs = malloc((size_t)N * 2 * sizeof(float));
    fm.n_uvs = N;
    fm.tris = L.tris;
    L.tris = NULL;
    if (!fm.mean_shape || !fm.id_basis || !fm.exp_basis || !fm.mean_albedo || !fm.tex_basis ||
        !fm.skin_mask || !fm.uvs) {
        st = hrn_error_set(HRN_ERR_NOMEM, "synthetic face: out of memory for %lld vertices",
                           (long long)N);
        goto fail;
    }

    /* mean shape, recentred on its centroid as HRN does with BFM */
    double cen[3] = {0, 0, 0};
    for (int64_t v = 0; v < N; v++) {
        surface_point(L.st[2 * v], L.st[2 * v + 1], fm.mean_shape + 3 * v);
        for (int d = 0; d < 3; d++) cen[d] += (double)fm.mean_shape[3 * v + d];
    }
    for (int64_t v = 0; v < N; v++)
        for (int d = 0; d < 3; d++)
            fm.mean_shape[3 * v + d] = (float)((double)fm.mean_shape[3 * v + d] - cen[d] / (double)N);

    /* UVs: the (s, t) domain mapped to [0,1]^2, v up */
    for (int64_t v = 0; v < N; v++) {
        fm.uvs[2 * v] = 0.5f * (L.st[2 * v] + 1.0f);
        fm.uvs[2 * v + 1] = 0.5f * (L.st[2 * v + 1] + 1.0f);
    }

    /* albedo and skin mask */
    for (int64_t v = 0; v < N; v++) {
        double s = L.st[2 * v], t = L.st[2 * v + 1];
        struct regions r = region_weights(s, t);
        double skin[3] = {0.78, 0.57, 0.47}, lip[3] = {0.68, 0.33, 0.33}, brow[3] = {0.30, 0.22, 0.18},
               sclera[3] = {0.88, 0.86, 0.84}, iris[3] = {0.22, 0.15, 0.10};
        for (int d = 0; d < 3; d++) {
            double c = skin[d] + (d == 0 ? 0.06 : -0.02) * r.cheeks;
            c += r.lips * (lip[d] - c);
            c += r.brows * (brow[d] - c);
            c += r.sclera * (sclera[d] - c);
            c += r.iris * (iris[d] - c);
            fm.mean_albedo[3 * v + d] = (float)c;
        }
        double not_skin = fmax(fmax(r.lips, r.brows), r.sclera);
        fm.skin_mask[v] = not_skin > 0.5 ? 0.0f : 1.0f;
    }

    struct hrn_rng rng;
    hrn_rng_seed(&rng, p->seed);
    /* identity: the first three modes scale width, height and depth; then smooth random fields
     * from wide to narrow, standard deviations decaying from 0.08 to 0.005 units (8 mm to 0.5 mm) */
    for (int k = 0; k < fm.n_id; k++) {
        double frac = fm.n_id > 1 ? (double)k / (double)(fm.n_id - 1) : 0;
        double sigma = 0.08 * pow(0.005 / 0.08, frac);
        if (k < 3) {
            double ss = 0;
            for (int64_t v = 0; v < N; v++) {
                double val = (double)fm.mean_shape[3 * v + k];
                fm.id_basis[(3 * v + k) * fm.n_id + k] = (float)val;
                ss += val * val;
            }
            double sc = sigma / sqrt(ss / (double)N);
            for (int64_t v = 0; v < N; v++) fm.id_basis[(3 * v + k) * fm.n_id + k] *= (float)sc;
        } else {
            random_field(&rng, L.st, N, 0.6 * pow(0.25, frac), 6, sigma, 3, 1, fm.id_basis + k,
                         fm.n_id);
        }
    }
    /* expression: named localized ones first (one coefficient = one standard deviation), then
     * smooth random fields over the lower face with small amplitudes */
    for (int k = 0; k < fm.n_exp; k++) {
        if (k < N_NAMED_EXP) {
            for (int64_t v = 0; v < N; v++) {
                double d[3];
                named_expression(k, L.st[2 * v], L.st[2 * v + 1], d);
                for (int c = 0; c < 3; c++) fm.exp_basis[(3 * v + c) * fm.n_exp + k] = (float)d[c];
            }
        } else {
            double frac = (double)(k - N_NAMED_EXP) / (double)(fm.n_exp > N_NAMED_EXP + 1 ? fm.n_exp - N_NAMED_EXP - 1 : 1);
            random_field(&rng, L.st, N, 0.3 * pow(0.5, frac), 4, 0.02 * pow(0.25, frac), 3, 0,
                         fm.exp_basis + k, fm.n_exp);
        }
    }
    /* albedo: brightness, then redness, then smooth random colour fields */
    for (int k = 0; k < fm.n_tex; k++) {
        double frac = fm.n_tex > 1 ? (double)k / (double)(fm.n_tex - 1) : 0;
        double sigma = 0.06 * pow(0.1, frac);
        if (k < 2) {
            for (int64_t v = 0; v < N; v++)
                for (int c = 0; c < 3; c++)
                    fm.tex_basis[(3 * v + c) * fm.n_tex + k] =
                        (float)(k == 0 ? sigma * (double)fm.mean_albedo[3 * v + c]
                                       : (c == 0 ? sigma : -0.5 * sigma));
        } else {
            /* A scalar field times a colour close to the skin tone: real albedo varies mostly in
             * brightness and redness, not independently per channel (which gives green casts). */
            float *field = malloc((size_t)N * sizeof(float));
            if (!field) {
                st = hrn_error_set(HRN_ERR_NOMEM, "synthetic face: out of memory");
                goto fail;
            }
            random_field(&rng, L.st, N, 0.5 * pow(0.2, frac), 5, sigma, 1, 1, field, 1);
            double tint[3];
            for (int c = 0; c < 3; c++) tint[c] = 1.0 + 0.25 * hrn_rng_normal(&rng);
            for (int64_t v = 0; v < N; v++)
                for (int c = 0; c < 3; c++)
                    fm.tex_basis[(3 * v + c) * fm.n_tex + k] =
                        (float)((double)field[v] * tint[c] * (double)fm.mean_albedo[3 * v + c] / 0.6);
            free(field);
        }
    }

    /* landmarks: the vertex nearest to each point in (s, t) */
    for (int i = 0; i < HRN_N_LMK68; i++) {
        double s, t, best = INFINITY;
        landmark_st(i, &s, &t);
        for (int64_t v = 0; v < N; v++) {
            double ds = (double)L.st[2 * v] - s, dt = (double)L.st[2 * v + 1] - t;
            if (ds * ds + dt * dt < best) {
                best = ds * ds + dt * dt;
                fm.lmk68[i] = (int32_t)v;
            }
        }
    }
    free(L.st);
    *out = fm;
    return HRN_OK;
fail:
    free(L.st);
    free(L.tris);
    hrn_face_model_free(&fm);
    return st;
}
