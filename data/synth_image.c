/* synth_image.c: the image-space part of a synthetic sample: a textured background, occluders
 * (hair fringe, glasses frame, hand) that also cut the face mask, sensor noise, JPEG compression
 * (in memory, libjpeg-turbo as core's writer uses) and 8-bit quantisation, and the contact sheet.
 */
#include "synth_impl.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

enum { S = SYNTH_IMG };

static float unif(struct hrn_rng *r, float lo, float hi) {
    return lo + (hi - lo) * hrn_rng_uniformf(r);
}
static float normal(struct hrn_rng *r) { return (float)hrn_rng_normal(r); }

/* a muted random colour: hue anywhere, low to mid saturation */
static void random_colour(struct hrn_rng *r, float vlo, float vhi, float out[3]) {
    float h = unif(r, 0, 6), s = unif(r, 0.05f, 0.5f), v = unif(r, vlo, vhi);
    int i = (int)h % 6;
    float f = h - floorf(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    memcpy(out, rgb[i], sizeof rgb[i]);
}

/* --- background ------------------------------------------------------------------------------ */

/* smooth noise: g x g N(0,1) values enlarged bilinearly to S x S, added times amp[c] */
static void add_noise_octave(struct hrn_rng *r, int g, const float amp[3], float *bg, float *tmp) {
    float grid[64 * 64];
    for (int i = 0; i < g * g; i++)
        grid[i] = normal(r);
    hrn_resize_bilinear(grid, 1, g, g, tmp, S, S, 1);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < S * S; p++)
            bg[c * S * S + p] += amp[c] * tmp[p];
}

/* Indoor/outdoor clutter stand-in: a two-colour gradient, several octaves of coloured noise and
 * a handful of soft-edged rectangles and ellipses (walls, furniture, windows), sometimes stripes.
 */
void synth_draw_background(uint64_t seed, int64_t index, float *bg) {
    struct hrn_rng r;
    hrn_rng_seed_keyed(&r, seed, (uint64_t)index, SYNTH_RNG_BACKGROUND, 0);
    float c0[3], c1[3], tmp[S * S];
    random_colour(&r, 0.15f, 0.9f, c0);
    random_colour(&r, 0.15f, 0.9f, c1);
    float ang = unif(&r, 0, 6.2831853f), ca = cosf(ang), sa = sinf(ang);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float t = synth_clampf(0.5f + ((float)x - S / 2) * ca / S + ((float)y - S / 2) * sa / S,
                                   0, 1);
            for (int c = 0; c < 3; c++)
                bg[c * S * S + y * S + x] = c0[c] + t * (c1[c] - c0[c]);
        }
    static const int OCT[4] = {4, 8, 16, 48};
    for (int o = 0; o < 4; o++) {
        float a = unif(&r, 0.01f, 0.08f), amp[3];
        for (int c = 0; c < 3; c++)
            amp[c] = a * unif(&r, 0.6f, 1.4f);
        add_noise_octave(&r, OCT[o], amp, bg, tmp);
    }
    int n_shapes = (int)unif(&r, 2, 9);
    for (int k = 0; k < n_shapes; k++) {
        float col[3], cx = unif(&r, 0, S), cy = unif(&r, 0, S);
        float hw = unif(&r, 8, 90), hh = unif(&r, 8, 90), alpha = unif(&r, 0.3f, 1.0f);
        int ellipse = hrn_rng_uniformf(&r) < 0.4f;
        random_colour(&r, 0.1f, 0.95f, col);
        /* w is +0 where d >= 1, leaving the pixel as it is (bg is never -0): only the shape's
         * box, a pixel wider, is visited */
        int x0 = (int)synth_fmaxf(0, floorf(cx - hw) - 1),
            x1 = (int)synth_fminf(S - 1, ceilf(cx + hw) + 1);
        int y0 = (int)synth_fmaxf(0, floorf(cy - hh) - 1),
            y1 = (int)synth_fminf(S - 1, ceilf(cy + hh) + 1);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                float dx = fabsf((float)x - cx) / hw, dy = fabsf((float)y - cy) / hh, d;
                d = ellipse ? sqrtf(dx * dx + dy * dy) : synth_fmaxf(dx, dy);
                float edge = (1 - d) * synth_fminf(hw, hh) * 0.7f; /* ~1.5 px edge */
                float w = alpha * synth_clampf(edge, 0, 1);
                for (int c = 0; c < 3; c++) {
                    float *v = &bg[c * S * S + y * S + x];
                    *v += w * (col[c] - *v);
                }
            }
    }
    if (hrn_rng_uniformf(&r) < 0.25f) { /* stripes: blinds, tiles, fabric */
        float f = unif(&r, 0.1f, 0.6f), a = unif(&r, 0.03f, 0.12f), th = unif(&r, 0, 3.14159f);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float v = a * sinf(f * ((float)x * cosf(th) + (float)y * sinf(th)));
                for (int c = 0; c < 3; c++)
                    bg[c * S * S + y * S + x] += v;
            }
    }
    for (int i = 0; i < 3 * S * S; i++)
        bg[i] = synth_clampf(bg[i], 0, 1);
}

/* --- what shows through the holes ------------------------------------------------------------ */

/* polygon of landmarks first..last in y-down pixels; 0 when one is missing */
static int lm_polygon(const float *lm, int first, int last, float (*pt)[2]) {
    for (int i = first; i <= last; i++) {
        float u = lm[2 * i], v = lm[2 * i + 1];
        if (!isfinite(u) || !isfinite(v)) return 0;
        pt[i - first][0] = u - 0.5f, pt[i - first][1] = (float)S - 0.5f - v;
    }
    return 1;
}

static int inside(const float (*pt)[2], int n, float x, float y) {
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++)
        if ((pt[i][1] > y) != (pt[j][1] > y) &&
            x < (pt[j][0] - pt[i][0]) * (y - pt[i][1]) / (pt[j][1] - pt[i][1]) + pt[i][0])
            in = !in;
    return in;
}

/* fill the polygon's pixels with colour(x, y) = base shaded towards its centre */
static void fill_eye(const float (*pt)[2], const float iris[3], float light, float *bg) {
    float cx = 0, cy = 0, w = fabsf(pt[3][0] - pt[0][0]) + 1e-3f;
    for (int i = 0; i < 6; i++)
        cx += pt[i][0] / 6, cy += pt[i][1] / 6;
    int x0 = (int)synth_fmaxf(0, floorf(synth_fminf(pt[0][0], pt[3][0]) - 2)),
        x1 = (int)synth_fminf(S - 1, ceilf(synth_fmaxf(pt[0][0], pt[3][0]) + 2));
    int y0 = (int)synth_fmaxf(0, floorf(cy - w)), y1 = (int)synth_fminf(S - 1, ceilf(cy + w));
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            if (!inside(pt, 6, (float)x, (float)y)) continue;
            float r =
                sqrtf(((float)x - cx) * ((float)x - cx) + ((float)y - cy) * ((float)y - cy)) / w;
            static const float SCLERA[3] = {0.82f, 0.78f, 0.75f};
            for (int c = 0; c < 3; c++) {
                float v = r < 0.08f ? 0.03f : r < 0.2f ? iris[c] : SCLERA[c] * (1.0f - 0.6f * r);
                bg[c * S * S + y * S + x] = v * light;
            }
        }
}

void synth_draw_interior(uint64_t seed, int64_t index, const float *lm, float *bg) {
    struct hrn_rng r;
    hrn_rng_seed_keyed(&r, seed, (uint64_t)index, SYNTH_RNG_INTERIOR, 0);
    float iris[3], light = unif(&r, 0.55f, 0.9f), teeth = hrn_rng_uniformf(&r);
    random_colour(&r, 0.15f, 0.5f, iris);
    float pt[12][2];
    if (lm_polygon(lm, 36, 41, pt)) fill_eye((const float(*)[2])pt, iris, light, bg);
    if (lm_polygon(lm, 42, 47, pt)) fill_eye((const float(*)[2])pt, iris, light, bg);
    if (!lm_polygon(lm, 48, 59, pt)) return;
    /* the mouth: dark, teeth along the upper lip one time in two */
    float top = 1e9f, bot = -1e9f;
    for (int i = 0; i < 12; i++)
        top = synth_fminf(top, pt[i][1]), bot = synth_fmaxf(bot, pt[i][1]);
    for (int y = (int)synth_fmaxf(0, top); y <= (int)synth_fminf(S - 1, bot); y++)
        for (int x = 0; x < S; x++) {
            if (!inside((const float(*)[2])pt, 12, (float)x, (float)y)) continue;
            float t = ((float)y - top) / (bot - top + 1e-3f);
            int tooth = teeth < 0.5f && t < 0.45f;
            static const float DARK[3] = {0.22f, 0.07f, 0.07f}, TOOTH[3] = {0.85f, 0.82f, 0.74f};
            for (int c = 0; c < 3; c++)
                bg[c * S * S + y * S + x] =
                    light * (tooth ? TOOTH[c] : DARK[c] * (1.2f - 0.6f * t));
        }
}

/* --- occluders ------------------------------------------------------------------------------- */

/* The face's image frame from the landmarks (y-down pixels): eye centres, their distance and the
 * unit vectors along the eyes (s) and down the face (t). */
struct face2d {
    float el[2], er[2], mouth[2], eo, s[2], t[2];
    int ok;
};

static void mean_pts(const float *lm, const int *ids, int n, float out[2], int *ok) {
    float sx = 0, sy = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        float u = lm[2 * ids[i]], v = lm[2 * ids[i] + 1];
        if (isfinite(u) && isfinite(v)) sx += u - 0.5f, sy += (float)S - 0.5f - v, k++;
    }
    *ok = *ok && k > 0;
    out[0] = k ? sx / (float)k : 0, out[1] = k ? sy / (float)k : 0;
}

static struct face2d face2d(const float *lm) {
    static const int EL[] = {36, 39}, ER[] = {42, 45}, MO[] = {48, 54};
    struct face2d f;
    f.ok = 1;
    mean_pts(lm, EL, 2, f.el, &f.ok);
    mean_pts(lm, ER, 2, f.er, &f.ok);
    mean_pts(lm, MO, 2, f.mouth, &f.ok);
    float dx = f.er[0] - f.el[0], dy = f.er[1] - f.el[1];
    f.eo = sqrtf(dx * dx + dy * dy);
    f.ok = f.ok && f.eo > 2;
    if (!f.ok) return f;
    f.s[0] = dx / f.eo, f.s[1] = dy / f.eo;
    f.t[0] = -f.s[1], f.t[1] = f.s[0]; /* s rotated +90 degrees in y-down pixels: down the face */
    return f;
}

/* face coordinates of pixel (x, y) relative to point o, in units of the eye distance */
static void to_face(const struct face2d *f, const float o[2], float x, float y, float *a,
                    float *b) {
    float dx = x - o[0], dy = y - o[1];
    *a = (dx * f->s[0] + dy * f->s[1]) / f->eo;
    *b = (dx * f->t[0] + dy * f->t[1]) / f->eo;
}

/* paint colour col with coverage w into pixel p and cut the mask where the occluder dominates */
static void paint(float *img, float *mask, int p, float w, const float col[3]) {
    if (w <= 0) return;
    for (int c = 0; c < 3; c++)
        img[c * S * S + p] += w * (col[c] - img[c * S * S + p]);
    if (w > 0.5f) mask[p] = 0;
}

/* A fringe of hair over the forehead: strands whose lower edge wavers above or across the
 * brows. */
static void hair_fringe(struct hrn_rng *r, const struct face2d *f, float *img, float *mask) {
    float col[3], o[2] = {0.5f * (f->el[0] + f->er[0]), 0.5f * (f->el[1] + f->er[1])};
    float d = unif(r, 0.04f, 0.6f); /* black .. light brown */
    col[0] = d, col[1] = d * unif(r, 0.7f, 0.85f), col[2] = d * unif(r, 0.5f, 0.7f);
    float edge = unif(r, -0.55f, 0.05f), half = unif(r, 0.9f, 1.7f), slope = unif(r, -0.3f, 0.3f);
    float ph[4], fr[4], am[4];
    for (int k = 0; k < 4; k++)
        ph[k] = unif(r, 0, 6.28f), fr[k] = unif(r, 3, 25) * (float)(k + 1),
        am[k] = unif(r, 0.01f, 0.06f) / (float)(k + 1);
    float strand_f = unif(r, 40, 90);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float a, b;
            to_face(f, o, (float)x, (float)y, &a, &b);
            if (fabsf(a) > half + 0.1f) continue;
            /* the head's top: hair stays inside an ellipse over the face */
            float head = (a / half) * (a / half) + ((b + 0.4f) / 1.5f) * ((b + 0.4f) / 1.5f);
            float e = edge + slope * a;
            for (int k = 0; k < 4; k++)
                e += am[k] * sinf(fr[k] * a + ph[k]);
            float side = synth_clampf((1.0f - sqrtf(head)) * half * f->eo, 0, 1);
            float w = synth_clampf((e - b) * f->eo, 0, 1) * side; /* 1 px soft edge */
            float shade = 0.75f + 0.25f * sinf(strand_f * a + 3 * sinf(7 * a)) -
                          0.2f * synth_clampf(e - b, 0, 1);
            float c[3] = {col[0] * shade, col[1] * shade, col[2] * shade};
            paint(img, mask, y * S + x, w, c);
        }
}

/* A glasses frame: two rounded rims around the eyes, a bridge and the temple arms. Only the frame
 * is an occluder; the lenses tint slightly. */
static void glasses(struct hrn_rng *r, const struct face2d *f, float *img, float *mask) {
    float col[3];
    if (hrn_rng_uniformf(r) < 0.6f) {
        float d = unif(r, 0.03f, 0.2f);
        col[0] = col[1] = col[2] = d;
    } else {
        random_colour(r, 0.4f, 0.85f, col);
    }
    float rx = unif(r, 0.42f, 0.55f), ry = unif(r, 0.28f, 0.42f), th = unif(r, 0.03f, 0.08f);
    float drop = unif(r, 0.0f, 0.08f), sq = unif(r, 2.0f, 4.0f); /* superellipse: round .. square */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float w = 0, tint = 0;
            for (int e = 0; e < 2; e++) {
                float a, b;
                to_face(f, e ? f->er : f->el, (float)x, (float)y, &a, &b);
                b -= drop;
                float q = powf(powf(fabsf(a) / rx, sq) + powf(fabsf(b) / ry, sq), 1 / sq);
                float dist =
                    fabsf(q - 1) * synth_fminf(rx, ry); /* ~ distance to the rim, eye units */
                w = synth_fmaxf(w, synth_clampf((th / 2 - dist) * f->eo + 0.5f, 0, 1));
                if (q < 1) tint = 1;
                /* temple arm: outward from the rim's outer side */
                float out = e ? a : -a;
                if (out > rx && out < rx + 0.7f)
                    w = synth_fmaxf(w,
                                    synth_clampf((th / 2 - fabsf(b + 0.05f)) * f->eo + 0.5f, 0, 1));
            }
            float a, b;
            float o[2] = {0.5f * (f->el[0] + f->er[0]), 0.5f * (f->el[1] + f->er[1])};
            to_face(f, o, (float)x, (float)y, &a, &b);
            if (fabsf(a) < 0.5f - rx + 0.02f) /* bridge */
                w = synth_fmaxf(
                    w, synth_clampf((th / 2 - fabsf(b - drop + 0.08f)) * f->eo + 0.5f, 0, 1));
            int p = y * S + x;
            if (tint > 0 && w < 1)
                for (int c = 0; c < 3; c++)
                    img[c * S * S + p] *= 0.93f;
            paint(img, mask, p, w, col);
        }
}

/* A hand over the lower face: a palm with four fingers, skin-coloured, from below at an angle. */
static void hand(struct hrn_rng *r, const struct face2d *f, float *img, float *mask) {
    static const float LIGHT[3] = {0.88f, 0.7f, 0.6f}, DARK[3] = {0.38f, 0.25f, 0.18f};
    float t = hrn_rng_uniformf(r), col[3];
    for (int c = 0; c < 3; c++)
        col[c] = LIGHT[c] + t * (DARK[c] - LIGHT[c]);
    float side = hrn_rng_uniformf(r) < 0.5f ? -1.0f : 1.0f;
    float pa = side * unif(r, 0.4f, 1.2f), pb = unif(r, 1.6f, 2.6f); /* palm centre */
    float ang = side * unif(r, 0.1f, 0.6f);                          /* fingers lean inwards */
    float ca = cosf(ang), sa = sinf(ang), flen = unif(r, 0.9f, 1.4f), fr = unif(r, 0.13f, 0.18f);
    float light = unif(r, -0.3f, 0.3f);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float a, b;
            to_face(f, f->mouth, (float)x, (float)y, &a, &b);
            /* hand frame: u across the fingers, v up along them */
            float da = a - pa, db = b - pb;
            float u = da * ca - db * sa, v = -(da * sa + db * ca);
            /* a palm ~1.4 eye distances wide (8.5 cm), fingers ~1.2 long */
            float sd = sqrtf((u / 0.7f) * (u / 0.7f) + (v / 0.8f) * (v / 0.8f)) - 1;
            sd *= 0.7f;
            for (int k = 0; k < 4; k++) {
                float fu = -0.5f + 0.33f * (float)k, len = flen * (k == 0 || k == 3 ? 0.8f : 1.0f);
                float vv = synth_clampf(v, 0.5f, 0.5f + len);
                float dd = sqrtf((u - fu) * (u - fu) + (v - vv) * (v - vv)) - fr;
                sd = synth_fminf(sd, dd);
            }
            float w = synth_clampf(0.5f - sd * f->eo, 0, 1);
            float inner = synth_clampf(-sd * 6.0f, 0, 1); /* 0 at the outline, 1 inside */
            float shade = (0.75f + 0.2f * inner) * (1.0f + light * u);
            float c[3] = {col[0] * shade, col[1] * shade, col[2] * shade};
            paint(img, mask, y * S + x, w, c);
        }
}

int synth_draw_occluder(const struct hrn_synth_data_config *c, int64_t index, const float *lm,
                        float *img, float *mask) {
    struct hrn_rng r;
    hrn_rng_seed_keyed(&r, c->seed, (uint64_t)index, SYNTH_RNG_OCCLUDER, 0);
    float p = hrn_rng_uniformf(&r);
    int kind = 1 + (int)hrn_rng_below(&r, 3);
    struct face2d f = face2d(lm);
    if (p >= c->occluder_p || !f.ok) return 0;
    if (kind == 1)
        hair_fringe(&r, &f, img, mask);
    else if (kind == 2)
        glasses(&r, &f, img, mask);
    else
        hand(&r, &f, img, mask);
    return kind;
}

/* --- noise, JPEG, quantisation --------------------------------------------------------------- */

struct jpeg_fail {
    struct jpeg_error_mgr mgr; /* first: libjpeg's pointer converts back */
    jmp_buf jb;
};

static void jpeg_fail_exit(j_common_ptr ci) {
    struct jpeg_fail *e = (struct jpeg_fail *)ci->err;
    longjmp(e->jb, 1);
}

/* compress img (3,S,S) into *buf (malloc()ed by libjpeg) */
static int jpeg_encode(const struct hrn_image *img, int quality, unsigned char **buf,
                       unsigned long *len, unsigned char *row) {
    struct jpeg_compress_struct ci;
    struct jpeg_fail err;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail_exit;
    if (setjmp(err.jb)) {
        jpeg_destroy_compress(&ci);
        return 0;
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, buf, len);
    ci.image_width = (JDIMENSION)img->w, ci.image_height = (JDIMENSION)img->h;
    ci.input_components = 3, ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    const size_t plane = (size_t)img->w * (size_t)img->h;
    for (int y = 0; y < img->h; y++) {
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++)
                row[3 * x + c] = (unsigned char)lrintf(
                    synth_clampf(img->data[c * plane + (size_t)y * (size_t)img->w + (size_t)x], 0,
                                 1) *
                    255.0f);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&ci, &rp, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return 1;
}

static int jpeg_decode(const unsigned char *buf, unsigned long len, struct hrn_image *img,
                       unsigned char *row) {
    struct jpeg_decompress_struct ci;
    struct jpeg_fail err;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail_exit;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if ((int)ci.output_width != img->w || (int)ci.output_height != img->h) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    const size_t plane = (size_t)img->w * (size_t)img->h;
    for (int y = 0; y < img->h; y++) {
        JSAMPROW rp = row;
        jpeg_read_scanlines(&ci, &rp, 1);
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++)
                img->data[c * plane + (size_t)y * (size_t)img->w + (size_t)x] =
                    (float)row[3 * x + c] * (1.0f / 255.0f);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return 1;
}

enum hrn_status synth_jpeg_roundtrip(struct hrn_image *img, int quality) {
    if (img->c != 3 || quality < 1 || quality > 100)
        return hrn_error_set(HRN_ERR_INVALID,
                             "jpeg round trip: %d channels, quality %d (expected "
                             "3 and 1..100)",
                             img->c, quality);
    unsigned char *buf = NULL, *row = malloc((size_t)img->w * 3);
    unsigned long len = 0;
    if (!row) return hrn_error_set(HRN_ERR_NOMEM, "jpeg round trip: no memory");
    int ok = jpeg_encode(img, quality, &buf, &len, row) && jpeg_decode(buf, len, img, row);
    free(buf);
    free(row);
    return ok ? HRN_OK : hrn_error_set(HRN_ERR_FORMAT, "jpeg round trip: libjpeg failed");
}

enum hrn_status synth_degrade(const struct hrn_synth_data_config *c, int64_t index,
                              struct hrn_image *img) {
    struct hrn_rng r;
    const int64_t n = (int64_t)img->w * img->h;
    hrn_rng_seed_keyed(&r, c->seed, (uint64_t)index, SYNTH_RNG_NOISE, 0);
    float sigma = c->noise_max > 0 ? unif(&r, 0, c->noise_max) : 0.0f;
    if (sigma > 0) /* luminance noise plus weaker independent colour noise */
        for (int64_t p = 0; p < n; p++) {
            float l = sigma * normal(&r);
            for (int ch = 0; ch < 3; ch++)
                img->data[ch * n + p] += l + 0.5f * sigma * normal(&r);
        }
    /* 8 bits, as a photo file, in the numbers hrn_image_read gives: folders and memory agree */
    for (int64_t i = 0; i < 3 * n; i++)
        img->data[i] = (float)lrintf(synth_clampf(img->data[i], 0, 1) * 255.0f) * (1.0f / 255.0f);
    hrn_rng_seed_keyed(&r, c->seed, (uint64_t)index, SYNTH_RNG_JPEG, 0);
    float u = hrn_rng_uniformf(&r);
    int q = 40 + (int)hrn_rng_below(&r, 56);
    if (u < c->jpeg_p) return synth_jpeg_roundtrip(img, q);
    return HRN_OK;
}

/* --- contact sheet --------------------------------------------------------------------------- */

/* resize a (C,R,R) map to the tile (C,S,S) with a transfer v -> scale*v + off per channel */
static void tile_map(const float *map, int C, int R, float scale, float off, float *tile) {
    hrn_resize_bilinear(map, C, R, R, tile, S, S, 0);
    for (int i = 0; i < C * S * S; i++)
        tile[i] = synth_clampf(scale * tile[i] + off, 0, 1);
}

static void put_tile(struct hrn_image *sheet, int row, int col, const float *tile, int C) {
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                *hrn_image_px(sheet, c, row * S + y, col * S + x) =
                    tile[(C == 1 ? 0 : c) * S * S + y * S + x];
}

static float max_abs(const float *x, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++)
        m = synth_fmaxf(m, fabsf(x[i]));
    return m;
}

static void sheet_row(struct hrn_image *sheet, int row, const struct hrn_sample *s, float *tile) {
    const struct hrn_sample_gt *g = &s->gt;
    /* the image with its landmarks (green; y up -> rows) */
    memcpy(tile, s->img.data, (size_t)3 * S * S * sizeof(float));
    for (int i = 0; i < 68; i++) {
        float u = s->lm[2 * i], v = s->lm[2 * i + 1];
        if (!isfinite(u) || !isfinite(v)) continue;
        int cx = (int)lrintf(u - 0.5f), cy = (int)lrintf((float)S - 0.5f - v);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int x = cx + dx, y = cy + dy;
                if (x < 0 || y < 0 || x >= S || y >= S) continue;
                tile[y * S + x] = 0.1f, tile[S * S + y * S + x] = 1.0f,
                             tile[2 * S * S + y * S + x] = 0.2f;
            }
    }
    put_tile(sheet, row, 0, tile, 3);
    if (s->mask) put_tile(sheet, row, 1, s->mask, 1);
    if (g->deform) { /* xyz -> rgb, 0 grey, +-max of this map at the extremes */
        float m = max_abs(g->deform, 3 * SYNTH_DEF * SYNTH_DEF) + 1e-12f;
        tile_map(g->deform, 3, SYNTH_DEF, 0.5f / m, 0.5f, tile);
        put_tile(sheet, row, 2, tile, 3);
    }
    if (g->disp) {
        float m = max_abs(g->disp, SYNTH_UV * SYNTH_UV) + 1e-12f;
        tile_map(g->disp, 1, SYNTH_UV, 0.5f / m, 0.5f, tile);
        put_tile(sheet, row, 3, tile, 1);
    }
    if (g->albedo) {
        tile_map(g->albedo, 3, SYNTH_UV, 1, 0, tile);
        put_tile(sheet, row, 4, tile, 3);
    }
    if (g->albedo_detail) {
        tile_map(g->albedo_detail, 3, SYNTH_UV, 1, 0, tile);
        put_tile(sheet, row, 5, tile, 3);
    }
}

enum hrn_status hrn_synth_contact_sheet(const struct hrn_sample *s, int n, const char *path) {
    enum hrn_status st = HRN_OK;
    struct hrn_image sheet = {0};
    if (!s || n < 1 || n > 4096 || !path)
        return hrn_error_set(HRN_ERR_INVALID, "contact sheet %s: %d samples, expected 1..4096",
                             path ? path : "(no path)", n);
    for (int i = 0; i < n; i++)
        if (s[i].img.w != S || s[i].img.h != S || s[i].img.c != 3)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "contact sheet %s: sample %s is %dx%dx%d, "
                                 "expected 3x224x224",
                                 path, s[i].name, s[i].img.c, s[i].img.h, s[i].img.w);
    float *tile = malloc((size_t)3 * S * S * sizeof(float));
    if (!tile) return hrn_error_set(HRN_ERR_NOMEM, "contact sheet %s: no memory", path);
    HRN_TRY(hrn_image_init(&sheet, 6 * S, n * S, 3));
    for (int i = 0; i < n; i++)
        sheet_row(&sheet, i, &s[i], tile);
    HRN_TRY(hrn_image_write_png(path, &sheet, 8));
fail:
    free(tile);
    hrn_image_free(&sheet);
    return st;
}
