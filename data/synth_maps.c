/* synth_maps.c: what a synthetic sample draws: coefficients from the model's prior, pose, SH light
 * and position; the ground-truth deformation map (smooth bumps on face regions), displacement map
 * (forehead lines, frown lines, crow's feet, nasolabial folds, pores) and albedo (a skin tone for
 * models without an albedo basis; freckles, blemishes, moles and uneven tone as the detail). Every
 * draw has its own keyed stream (synth_impl.h), so a sample is a pure function of (seed, index).
 * Positions are in the face's UV frame (struct synth_frame): they land on the same face regions
 * whatever the model's UV layout. docs/TRAINING_DATA.md gives the reasons for the ranges. */
#include "synth_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float PI_F = 3.14159265f;

static void rng_for(struct hrn_rng *r, const struct hrn_synth_data_config *c, int64_t index,
                    enum synth_purpose p) {
    hrn_rng_seed_keyed(r, c->seed, (uint64_t)index, (uint64_t)p, 0);
}
static float unif(struct hrn_rng *r, float lo, float hi) {
    return lo + (hi - lo) * hrn_rng_uniformf(r);
}
static float normal(struct hrn_rng *r) { return (float)hrn_rng_normal(r); }

/* --- coefficients, pose, light --------------------------------------------------------------- */

static void draw_gaussian(struct hrn_rng *r, float *x, int n, float std) {
    /* a plausible subject: the prior truncated at 3 standard deviations */
    for (int i = 0; i < n; i++)
        x[i] = std * synth_clampf(normal(r), -3.0f, 3.0f);
}

/* Blendshape weights in [0,1]: a few shapes active at once (a face rarely shows more than two or
 * three action units strongly), each at a uniform strength. */
static void draw_blendshapes(struct hrn_rng *r, float *x, int n) {
    float p = synth_fminf(0.5f, 3.0f / (float)n);
    for (int i = 0; i < n; i++) {
        float on = hrn_rng_uniformf(r), w = hrn_rng_uniformf(r);
        x[i] = on < p ? w : 0.0f;
    }
}

/* Light as photos have it: mostly ambient, one soft key light from the front half-space and
 * usually above, a weak second-order term, near-white with a slight tint. In HRN's SH basis
 * (hrn_method.md 1.6) shading(n) = A + B (n.d) + C ((n.d)^2 - 1/3) is exactly
 * g0 = A/Y0 - 0.8, g1 = -B dy/a1c1, g2 = B dz/a1c1, g3 = -B dx/a1c1 and the quadratic's
 * expansion over bands 4..8. */
static void draw_light(struct hrn_rng *r, float *gamma) {
    const float Y0 = 0.8862269f, A1 = 1.7724539f, A2 = 2.4270324f, Y6 = 0.7006239f, Y8 = 1.2135162f;
    float A = unif(r, 0.6f, 0.95f); /* ambient level */
    float B = unif(r, 0.1f, 0.45f); /* key light strength */
    /* a face squarely lit should not pass ~1.1 times its albedo: photos are exposed for it */
    if (A + B > 1.1f) A *= 1.1f / (A + B), B *= 1.1f / (A + B);
    float C = B * unif(r, 0.1f, 0.35f); /* clamped-cosine-like second order */
    float d[3] = {unif(r, -1.0f, 1.0f), unif(r, -0.25f, 1.0f), unif(r, 0.35f, 1.2f)};
    float dn = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    for (int k = 0; k < 3; k++)
        d[k] /= dn;
    float warm = 0.04f * normal(r); /* warm (+) or cool (-) key light */
    float tint[3] = {1.0f + 0.03f * normal(r), 1.0f, 1.0f + 0.03f * normal(r)};
    float keytint[3] = {1.0f + warm, 1.0f, 1.0f - warm};
    float q[5] = {2 * d[0] * d[1] / A2, -2 * d[1] * d[2] / A2, (3 * d[2] * d[2] - 1) / 6 / Y6,
                  -2 * d[0] * d[2] / A2, (d[0] * d[0] - d[1] * d[1]) / 2 / Y8};
    float jitter[5];
    for (int k = 0; k < 5; k++)
        jitter[k] = 0.02f * normal(r);
    for (int ch = 0; ch < 3; ch++) {
        float *g = gamma + 9 * ch, a = A * tint[ch], b = B * tint[ch] * keytint[ch];
        g[0] = a / Y0 - 0.8f;
        g[1] = -b * d[1] / A1;
        g[2] = b * d[2] / A1;
        g[3] = -b * d[0] / A1;
        for (int k = 0; k < 5; k++)
            g[4 + k] = C * tint[ch] * keytint[ch] * q[k] + jitter[k];
    }
}

void synth_draw_coeffs(const struct hrn_synth_ctx *x, const struct hrn_synth_data_config *c,
                       int64_t index, float *coeffs) {
    const struct hrn_face_model *fm = x->fm;
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    struct hrn_rng r;
    memset(coeffs, 0, (size_t)l.total * sizeof(float));
    rng_for(&r, c, index, SYNTH_RNG_ID);
    draw_gaussian(&r, coeffs + l.id, fm->n_id, c->id_std);
    rng_for(&r, c, index, SYNTH_RNG_EXP);
    if (fm->exp_bounded)
        draw_blendshapes(&r, coeffs + l.exp, fm->n_exp);
    else
        draw_gaussian(&r, coeffs + l.exp, fm->n_exp, c->exp_std);
    rng_for(&r, c, index, SYNTH_RNG_TEX);
    draw_gaussian(&r, coeffs + l.tex, fm->n_tex, c->tex_std);
    rng_for(&r, c, index, SYNTH_RNG_POSE);
    const float deg = PI_F / 180.0f;
    coeffs[l.angle + 0] = unif(&r, -c->pitch_deg, c->pitch_deg) * deg;
    coeffs[l.angle + 1] = unif(&r, -c->yaw_deg, c->yaw_deg) * deg;
    coeffs[l.angle + 2] = unif(&r, -c->roll_deg, c->roll_deg) * deg;
    /* distance and position: the face origin at z_c, shifted by up to trans_px crop pixels */
    float zc = x->cam.camera_d * (1.0f + unif(&r, -c->dist_frac, c->dist_frac));
    coeffs[l.trans + 0] = unif(&r, -c->trans_px, c->trans_px) * zc / x->cam.focal;
    coeffs[l.trans + 1] = unif(&r, -c->trans_px, c->trans_px) * zc / x->cam.focal;
    coeffs[l.trans + 2] = x->cam.camera_d - zc;
    rng_for(&r, c, index, SYNTH_RNG_LIGHT);
    draw_light(&r, coeffs + l.gamma);
}

/* --- the deformation map --------------------------------------------------------------------- */

/* Face regions for the mid-level bumps: (a, b) centre, size, mirrored pair */
static const struct {
    float a, b, sigma;
    int pair;
} REGIONS[] = {
    {0.55f, -0.55f, 0.25f, 1}, /* cheeks */
    {0.00f, -0.50f, 0.12f, 0}, /* nose tip */
    {0.00f, -0.20f, 0.10f, 0}, /* nose bridge */
    {0.75f, -1.25f, 0.25f, 1}, /* jaw */
    {0.00f, -1.60f, 0.20f, 0}, /* chin */
    {0.45f, 0.35f, 0.20f, 1},  /* brows */
    {0.00f, 0.90f, 0.40f, 0},  /* forehead */
    {0.00f, -1.00f, 0.15f, 0}, /* lips */
    {0.50f, -0.22f, 0.12f, 1}, /* under the eyes */
};

static void add_bump(const struct hrn_synth_ctx *x, float a0, float b0, float sigma,
                     const float amp[3], float *d) {
    const int R = SYNTH_DEF, RR = R * R;
    for (int p = 0; p < RR; p++) {
        float da = x->ab64[p] - a0, db = x->ab64[RR + p] - b0;
        float g = expf(-(da * da + db * db) / (2 * sigma * sigma));
        for (int k = 0; k < 3; k++)
            d[k * RR + p] += amp[k] * g;
    }
}

void synth_draw_deform(const struct hrn_synth_ctx *x, const struct hrn_synth_data_config *c,
                       int64_t index, float *d) {
    const int RR = SYNTH_DEF * SYNTH_DEF;
    const float unit = c->deform_mm / x->fm->mm_per_unit;
    struct hrn_rng r;
    rng_for(&r, c, index, SYNTH_RNG_DEFORM);
    memset(d, 0, (size_t)(3 * RR) * sizeof(float));
    for (size_t i = 0; i < sizeof REGIONS / sizeof REGIONS[0]; i++) {
        /* every draw happens whether the bump is kept or not: the stream stays aligned */
        float keep = hrn_rng_uniformf(&r), sigma = REGIONS[i].sigma * unif(&r, 0.7f, 1.4f);
        float amp[3] = {0.35f * normal(&r), 0.35f * normal(&r), normal(&r)}; /* mostly along z */
        float n = sqrtf(amp[0] * amp[0] + amp[1] * amp[1] + amp[2] * amp[2]) + 1e-6f;
        float mag = unit * unif(&r, 0.3f, 1.0f) / n, asym = unif(&r, 0.7f, 1.3f);
        float da = 0.08f * normal(&r), db = 0.08f * normal(&r);
        if (keep > 0.6f) continue;
        for (int k = 0; k < 3; k++)
            amp[k] *= mag;
        add_bump(x, REGIONS[i].a + da, REGIONS[i].b + db, sigma, amp, d);
        if (REGIONS[i].pair) { /* the other side: mirrored (x negated), a little different */
            float m[3] = {-amp[0] * asym, amp[1] * asym, amp[2] * asym};
            add_bump(x, -REGIONS[i].a - da, REGIONS[i].b + db, sigma, m, d);
        }
    }
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < RR; p++)
            d[k * RR + p] *= x->chart64[p];
}

/* --- the displacement map -------------------------------------------------------------------- */

enum { STROKE_PTS = 17 };
/* A groove along a curve in the face frame: depth * exp(-dist^2 / 2w^2), tapered to its ends. */
struct stroke {
    float p[STROKE_PTS][2];
    float w, depth;
};

/* quadratic Bezier p0 -> p2 through control p1 */
static void stroke_bezier(struct stroke *s, const float p0[2], const float p1[2],
                          const float p2[2]) {
    for (int k = 0; k < STROKE_PTS; k++) {
        float t = (float)k / (STROKE_PTS - 1), u = 1 - t;
        for (int j = 0; j < 2; j++)
            s->p[k][j] = u * u * p0[j] + 2 * u * t * p1[j] + t * t * p2[j];
    }
}

static void add_stroke(const struct hrn_synth_ctx *x, const struct stroke *s, float *disp) {
    const int RR = SYNTH_UV * SYNTH_UV;
    float lo[2] = {1e9f, 1e9f}, hi[2] = {-1e9f, -1e9f}, m = 3 * s->w;
    for (int k = 0; k < STROKE_PTS; k++)
        for (int j = 0; j < 2; j++)
            lo[j] = synth_fminf(lo[j], s->p[k][j]), hi[j] = synth_fmaxf(hi[j], s->p[k][j]);
    /* the texels whose (a, b) may fall in the box: its corners taken back to texel indices
     * (uv = o + a ex + b ey), two texels wider; the test below still decides */
    const struct synth_frame *f = &x->frame;
    const int R = SYNTH_UV;
    float ilo = 1e9f, ihi = -1e9f, jlo = 1e9f, jhi = -1e9f;
    for (int k = 0; k < 4; k++) {
        float a = k & 1 ? hi[0] + m : lo[0] - m, b = k & 2 ? hi[1] + m : lo[1] - m;
        float u = f->o[0] + a * f->ex[0] + b * f->ey[0], v = f->o[1] + a * f->ex[1] + b * f->ey[1];
        float jj = u * (float)R - 0.5f, ii = (1 - v) * (float)R - 0.5f;
        ilo = synth_fminf(ilo, ii), ihi = synth_fmaxf(ihi, ii);
        jlo = synth_fminf(jlo, jj), jhi = synth_fmaxf(jhi, jj);
    }
    int i0 = (int)synth_fmaxf(0, floorf(ilo) - 2), i1 = (int)synth_fminf(R - 1, ceilf(ihi) + 2);
    int j0 = (int)synth_fmaxf(0, floorf(jlo) - 2), j1 = (int)synth_fminf(R - 1, ceilf(jhi) + 2);
    float sx[STROKE_PTS], sy[STROKE_PTS], sl2[STROKE_PTS]; /* the segments */
    for (int k = 0; k + 1 < STROKE_PTS; k++) {
        sx[k] = s->p[k + 1][0] - s->p[k][0], sy[k] = s->p[k + 1][1] - s->p[k][1];
        sl2[k] = sx[k] * sx[k] + sy[k] * sy[k] + 1e-12f;
    }
    for (int i = i0; i <= i1; i++)
        for (int j = j0; j <= j1; j++) {
            int p = i * R + j;
            float a = x->ab256[p], b = x->ab256[RR + p];
            if (a < lo[0] - m || a > hi[0] + m || b < lo[1] - m || b > hi[1] + m) continue;
            float best = 1e9f, tb = 0;
            for (int k = 0; k + 1 < STROKE_PTS; k++) {
                float ex = sx[k], ey = sy[k];
                float t =
                    synth_clampf(((a - s->p[k][0]) * ex + (b - s->p[k][1]) * ey) / sl2[k], 0, 1);
                float dx = a - s->p[k][0] - t * ex, dy = b - s->p[k][1] - t * ey;
                float dd = dx * dx + dy * dy;
                if (dd < best) best = dd, tb = ((float)k + t) / (STROKE_PTS - 1);
            }
            float taper = sqrtf(synth_fmaxf(0.0f, 4 * tb * (1 - tb)));
            disp[p] += s->depth * taper * expf(-best / (2 * s->w * s->w));
        }
}

static void forehead_lines(const struct hrn_synth_ctx *x, struct hrn_rng *r, float age, float unit,
                           float *disp) {
    const struct synth_frame *f = &x->frame;
    float brow = synth_fmaxf(f->lm[19][1], f->lm[24][1]);
    int n = (int)floorf(age * 5.0f + hrn_rng_uniformf(r));
    float b = brow + unif(r, 0.18f, 0.28f);
    for (int k = 0; k < n; k++) {
        struct stroke s;
        float half = unif(r, 0.3f, 0.7f), kappa = unif(r, -0.08f, 0.15f);
        float wf = unif(r, 3.0f, 8.0f), ph = unif(r, 0, 2 * PI_F), c0 = 0.1f * normal(r);
        for (int i = 0; i < STROKE_PTS; i++) {
            float a = c0 + half * (2.0f * (float)i / (STROKE_PTS - 1) - 1.0f);
            s.p[i][0] = a;
            s.p[i][1] = b + kappa * a * a + 0.012f * sinf(wf * a + ph);
        }
        s.w = unif(r, 0.010f, 0.018f);
        s.depth = -unit * age * unif(r, 0.5f, 1.0f);
        add_stroke(x, &s, disp);
        b += unif(r, 0.12f, 0.18f);
    }
}

static void frown_lines(const struct hrn_synth_ctx *x, struct hrn_rng *r, float age, float unit,
                        float *disp) {
    const struct synth_frame *f = &x->frame;
    float brow = 0.5f * (f->lm[21][1] + f->lm[22][1]);
    float on = hrn_rng_uniformf(r), a = unif(r, 0.05f, 0.11f), len = unif(r, 0.1f, 0.2f);
    float w = unif(r, 0.008f, 0.014f), dep = unit * age * unif(r, 0.4f, 0.9f);
    if (on > 0.6f * age) return;
    for (int side = -1; side <= 1; side += 2) {
        struct stroke s;
        float p0[2] = {side * a, brow - 0.08f}, p2[2] = {side * (a + 0.02f), brow - 0.08f + len};
        float p1[2] = {0.5f * (p0[0] + p2[0]) + side * 0.01f, 0.5f * (p0[1] + p2[1])};
        stroke_bezier(&s, p0, p1, p2);
        s.w = w, s.depth = -dep;
        add_stroke(x, &s, disp);
    }
}

/* Crow's feet: a fan of short lines from each outer eye corner (points 36 and 45). */
static void crows_feet(const struct hrn_synth_ctx *x, struct hrn_rng *r, float age, float unit,
                       float *disp) {
    const struct synth_frame *f = &x->frame;
    int n = (int)floorf(age * 4.0f + hrn_rng_uniformf(r));
    for (int side = -1; side <= 1; side += 2) {
        const float *corner = f->lm[side < 0 ? 36 : 45];
        for (int k = 0; k < n; k++) {
            struct stroke s;
            float ang =
                (n > 1 ? -0.7f + 1.4f * (float)k / (float)(n - 1) : 0.0f) + 0.15f * normal(r);
            float len = unif(r, 0.1f, 0.2f), start = unif(r, 0.04f, 0.08f);
            float dx = side * cosf(ang), dy = sinf(ang);
            float p0[2] = {corner[0] + dx * start, corner[1] + dy * start};
            float p2[2] = {p0[0] + dx * len, p0[1] + dy * len};
            float p1[2] = {0.5f * (p0[0] + p2[0]), 0.5f * (p0[1] + p2[1]) - 0.02f * fabsf(dy)};
            stroke_bezier(&s, p0, p1, p2);
            s.w = unif(r, 0.007f, 0.012f);
            s.depth = -unit * age * unif(r, 0.4f, 0.8f);
            add_stroke(x, &s, disp);
        }
    }
}

/* Nasolabial folds: from beside the nose wing (31, 35) bowing outward to beside the mouth
 * corner (48, 54). Most adult faces have them, deeper with age. */
static void nasolabial(const struct hrn_synth_ctx *x, struct hrn_rng *r, float age, float unit,
                       float *disp) {
    const struct synth_frame *f = &x->frame;
    float w = unif(r, 0.018f, 0.03f), dep = unit * (0.3f + 0.7f * age) * unif(r, 0.5f, 1.0f);
    float bow = unif(r, 0.04f, 0.1f), drop = unif(r, 0.05f, 0.15f);
    for (int side = -1; side <= 1; side += 2) {
        const float *nose = f->lm[side < 0 ? 31 : 35], *mouth = f->lm[side < 0 ? 48 : 54];
        struct stroke s;
        float p0[2] = {nose[0] + side * 0.07f, nose[1] + 0.02f};
        float p2[2] = {mouth[0] + side * 0.06f, mouth[1] - drop};
        float p1[2] = {0.5f * (p0[0] + p2[0]) + side * bow, 0.5f * (p0[1] + p2[1])};
        stroke_bezier(&s, p0, p1, p2);
        s.w = w, s.depth = -dep;
        add_stroke(x, &s, disp);
    }
}

/* Value noise: a g x g grid of N(0,1) values bilinearly enlarged to R x R. */
static void value_noise(struct hrn_rng *r, int g, int R, float *out) {
    float grid[32 * 32];
    for (int i = 0; i < g * g; i++)
        grid[i] = normal(r);
    hrn_resize_bilinear(grid, 1, g, g, out, R, R, 1);
}

/* Pores and fine roughness: white noise smoothed by a 3x3 binomial filter (features of ~2
 * texels, about a millimetre on a face chart), plus a gentle undulation. */
static enum hrn_status pores(struct hrn_rng *r, float amp, float *disp) {
    const int R = SYNTH_UV;
    float *w = malloc((size_t)R * R * sizeof(float)), *u = malloc((size_t)R * R * sizeof(float));
    if (!w || !u) {
        free(w), free(u);
        return hrn_error_set(HRN_ERR_NOMEM, "synthetic displacement map: no memory");
    }
    for (int i = 0; i < R * R; i++)
        w[i] = normal(r);
    value_noise(r, 24, R, u);
    for (int i = 1; i < R - 1; i++)
        for (int j = 1; j < R - 1; j++) {
            float s = 0;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++)
                    s += w[(i + di) * R + j + dj] * (float)((2 - abs(di)) * (2 - abs(dj)));
            disp[i * R + j] += amp * (s / 16.0f * 2.0f + 0.5f * u[i * R + j]);
        }
    free(w);
    free(u);
    return HRN_OK;
}

enum hrn_status synth_draw_disp(const struct hrn_synth_ctx *x,
                                const struct hrn_synth_data_config *c, int64_t index, float *disp) {
    const int RR = SYNTH_UV * SYNTH_UV;
    const float unit = c->disp_mm / x->fm->mm_per_unit;
    struct hrn_rng r;
    memset(disp, 0, (size_t)RR * sizeof(float));
    if (!(unit > 0)) return HRN_OK;
    rng_for(&r, c, index, SYNTH_RNG_DISP);
    float age = powf(hrn_rng_uniformf(&r), 0.8f); /* how wrinkled: 0 smooth .. 1 deep lines */
    forehead_lines(x, &r, age, unit, disp);
    frown_lines(x, &r, age, unit, disp);
    crows_feet(x, &r, age, unit, disp);
    nasolabial(x, &r, age, unit, disp);
    SYNTH_TRY(pores(&r, unit * unif(&r, 0.04f, 0.1f), disp));
    for (int p = 0; p < RR; p++)
        disp[p] *= x->skin[p];
    return HRN_OK;
}

/* --- albedo ---------------------------------------------------------------------------------- */

/* add w * profile to an (a,b) polyline region: helper for brows, lips */
static float seg_dist2(float a, float b, const float *p, const float *q) {
    float ex = q[0] - p[0], ey = q[1] - p[1], l2 = ex * ex + ey * ey + 1e-12f;
    float t = synth_clampf(((a - p[0]) * ex + (b - p[1]) * ey) / l2, 0, 1);
    float dx = a - p[0] - t * ex, dy = b - p[1] - t * ey;
    return dx * dx + dy * dy;
}

static float brow_weight(const struct synth_frame *f, float a, float b) {
    float best = 1e9f;
    for (int i = 17; i < 26; i++)
        if (i != 21) best = synth_fminf(best, seg_dist2(a, b, f->lm[i], f->lm[i + 1]));
    return expf(-best / (2 * 0.025f * 0.025f));
}

static float lip_weight(const struct synth_frame *f, float a, float b) {
    float ca = 0.5f * (f->lm[48][0] + f->lm[54][0]), cb = 0.5f * (f->lm[51][1] + f->lm[57][1]);
    float ha = 0.5f * fabsf(f->lm[54][0] - f->lm[48][0]) + 0.02f;
    float hb = 0.5f * fabsf(f->lm[51][1] - f->lm[57][1]) + 0.04f;
    float e = ((a - ca) / ha) * ((a - ca) / ha) + ((b - cb) / hb) * ((b - cb) / hb);
    return synth_clampf(3.0f * (1.0f - e), 0, 1);
}

/* inside the eye opening (the ellipse through the ring of points first..first+5), soft-edged;
 * *iris: the iris disc at its centre */
static float eye_weight(const struct synth_frame *f, float a, float b, int first, float *iris) {
    float ca = 0, cb = 0;
    for (int i = first; i < first + 6; i++)
        ca += f->lm[i][0] / 6, cb += f->lm[i][1] / 6;
    float ha = 0.5f * fabsf(f->lm[first + 3][0] - f->lm[first][0]);
    float hb = 0.5f * fabsf(f->lm[first + 1][1] - f->lm[first + 5][1]) + 0.01f;
    float da = (a - ca) / ha, db = (b - cb) / hb;
    float rad = sqrtf((a - ca) * (a - ca) + (b - cb) * (b - cb)) / (0.45f * ha);
    *iris = synth_clampf(3.0f * (1.0f - rad), 0, 1);
    return synth_clampf(4.0f * (1.0f - (da * da + db * db)), 0, 1);
}

enum hrn_status synth_draw_albedo(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  float *albedo) {
    const int R = SYNTH_UV, RR = R * R;
    const struct synth_frame *f = &x->frame;
    static const float LIGHT[3] = {0.86f, 0.68f, 0.57f}, DARK[3] = {0.36f, 0.23f, 0.17f};
    struct hrn_rng r;
    rng_for(&r, c, index, SYNTH_RNG_ALBEDO);
    float t = hrn_rng_uniformf(&r), base[3];
    float hue[3] = {1.0f + 0.03f * normal(&r), 1.0f, 1.0f + 0.05f * normal(&r)};
    for (int k = 0; k < 3; k++)
        base[k] = (LIGHT[k] + t * (DARK[k] - LIGHT[k])) * hue[k];
    float hair[3], hd = unif(&r, 0.1f, 0.6f); /* brow colour: dark to mid brown */
    hair[0] = hd, hair[1] = hd * 0.75f, hair[2] = hd * 0.55f;
    float iris_c[3] = {unif(&r, 0.1f, 0.45f), 0, 0};
    iris_c[1] = iris_c[0] * unif(&r, 0.6f, 1.1f), iris_c[2] = iris_c[0] * unif(&r, 0.4f, 1.3f);
    float *noise = malloc((size_t)RR * sizeof(float));
    if (!noise) return hrn_error_set(HRN_ERR_NOMEM, "synthetic albedo: no memory");
    value_noise(&r, 6, R, noise);
    for (int p = 0; p < RR; p++) {
        float a = x->ab256[p], b = x->ab256[RR + p];
        float v = 1.0f + 0.04f * noise[p];
        float cheek = expf(-((fabsf(a) - 0.6f) * (fabsf(a) - 0.6f) + (b + 0.55f) * (b + 0.55f)) /
                           (2 * 0.22f * 0.22f));
        float col[3] = {base[0] * v * (1 + 0.06f * cheek), base[1] * v * (1 - 0.03f * cheek),
                        base[2] * v * (1 - 0.02f * cheek)};
        float lip = lip_weight(f, a, b), brow = brow_weight(f, a, b), iris = 0, iris2 = 0;
        float eye = eye_weight(f, a, b, 36, &iris), eye2 = eye_weight(f, a, b, 42, &iris2);
        if (eye2 > eye) eye = eye2, iris = iris2;
        static const float LIPS[3] = {1.0f, 0.72f, 0.75f}, SCLERA[3] = {0.85f, 0.82f, 0.8f};
        for (int k = 0; k < 3; k++) {
            float v0 = col[k] * (1 - lip * 0.25f) * (1 + lip * (LIPS[k] - 1));
            v0 += brow * 0.8f * (hair[k] - v0);
            float ey = SCLERA[k] + iris * (iris_c[k] - SCLERA[k]);
            v0 += eye * (ey - v0);
            albedo[k * RR + p] = synth_clampf(v0, 0, 1);
        }
    }
    free(noise);
    return HRN_OK;
}

/* --- albedo detail --------------------------------------------------------------------------- */

/* multiply m (3,R,R) by 1 - k * tint * g inside a round spot of radius rad texels at (ci, cj) */
static void spot(float *m, float ci, float cj, float rad, const float tint[3], float k) {
    const int R = SYNTH_UV, RR = R * R;
    int i0 = (int)synth_fmaxf(0, floorf(ci - 3 * rad)),
        i1 = (int)synth_fminf(R - 1, ceilf(ci + 3 * rad));
    int j0 = (int)synth_fmaxf(0, floorf(cj - 3 * rad)),
        j1 = (int)synth_fminf(R - 1, ceilf(cj + 3 * rad));
    for (int i = i0; i <= i1; i++)
        for (int j = j0; j <= j1; j++) {
            float d2 = ((float)i - ci) * ((float)i - ci) + ((float)j - cj) * ((float)j - cj);
            float g = expf(-d2 / (2 * rad * rad));
            for (int ch = 0; ch < 3; ch++)
                m[ch * RR + i * R + j] *= 1.0f - k * tint[ch] * g;
        }
}

/* texel (row, col) of face-frame point (a, b) */
static void frame_texel(const struct synth_frame *f, float a, float b, float *ci, float *cj) {
    float u = f->o[0] + a * f->ex[0] + b * f->ey[0], v = f->o[1] + a * f->ex[1] + b * f->ey[1];
    *cj = u * SYNTH_UV - 0.5f, *ci = (1 - v) * SYNTH_UV - 0.5f;
}

static void detail_spots(const struct hrn_synth_ctx *x, struct hrn_rng *r, float s, float *m) {
    static const float BROWN[3] = {0.75f, 1.0f, 1.15f}, RED[3] = {-0.2f, 1.0f, 0.8f},
                       MOLE[3] = {0.9f, 1.0f, 1.0f};
    const struct synth_frame *f = &x->frame;
    float freckled = hrn_rng_uniformf(r);
    int n_freckles = freckled < 0.3f ? (int)unif(r, 60, 300) : 0;
    for (int i = 0; i < n_freckles; i++) { /* over the nose and cheeks */
        float a = 0.45f * normal(r), b = -0.45f + 0.2f * normal(r), ci, cj;
        float rad = unif(r, 0.5f, 1.2f), k = s * unif(r, 0.06f, 0.22f);
        frame_texel(f, a, b, &ci, &cj);
        spot(m, ci, cj, rad, BROWN, k);
    }
    int n_red = (int)unif(r, 0, 7), n_mole = (int)unif(r, 0, 3);
    for (int i = 0; i < n_red + n_mole; i++) { /* anywhere on the face */
        float a = unif(r, -0.9f, 0.9f), b = unif(r, -1.7f, 1.0f), ci, cj;
        int mole = i >= n_red;
        float rad = mole ? unif(r, 0.8f, 2.0f) : unif(r, 1.5f, 3.5f);
        float k = s * (mole ? unif(r, 0.4f, 0.7f) : unif(r, 0.15f, 0.35f));
        frame_texel(f, a, b, &ci, &cj);
        spot(m, ci, cj, rad, mole ? MOLE : RED, k);
    }
}

enum hrn_status synth_draw_detail(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  const float *albedo, float *detail) {
    const int R = SYNTH_UV, RR = R * R;
    struct hrn_rng r;
    float s = c->detail_strength;
    if (!(s > 0)) {
        memcpy(detail, albedo, (size_t)(3 * RR) * sizeof(float));
        return HRN_OK;
    }
    float *m = malloc((size_t)(3 * RR) * sizeof(float)), *tone = malloc((size_t)RR * sizeof(float));
    if (!m || !tone) {
        free(m), free(tone);
        return hrn_error_set(HRN_ERR_NOMEM, "synthetic albedo detail: no memory");
    }
    rng_for(&r, c, index, SYNTH_RNG_DETAIL);
    /* uneven tone: blotchy redness and brightness at a few centimetres */
    value_noise(&r, 12, R, tone);
    float red = unif(&r, 0.02f, 0.06f) * s, lum = unif(&r, 0.02f, 0.05f) * s;
    for (int p = 0; p < RR; p++) {
        m[p] = 1 + lum * tone[p] + red * synth_fmaxf(0, tone[p]);
        m[RR + p] = m[2 * RR + p] = 1 + lum * tone[p] - 0.5f * red * synth_fmaxf(0, tone[p]);
    }
    detail_spots(x, &r, s, m);
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < RR; p++) {
            float f = x->skin[p] > 0 ? m[k * RR + p] : 1.0f;
            detail[k * RR + p] = synth_clampf(albedo[k * RR + p] * f, 0, 1);
        }
    free(m);
    free(tone);
    return HRN_OK;
}
