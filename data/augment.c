/* augment.c: Deep3DFaceRecon's shift_scale_rot_flip (data/base_dataset.py get_affine_mat,
 * apply_img_affine, apply_lm_affine; training.md 1.1), applied to a whole sample: image, mask,
 * landmarks (with the 68-point mirror permutation) and the UV ground-truth maps.
 *
 * Frame. Deep3D builds the matrix about (w//2, h//2) in PIL's coordinates, where pixel i covers
 * [i, i+1], and maps its landmarks (pixel centres at integers) with the same matrix: the image and
 * its landmarks then disagree by half a pixel, and by a whole pixel after a flip. Here the matrix
 * is built in pixel-centre coordinates about (w//2 - 0.5, h//2 - 0.5), which is where Deep3D's
 * image transform puts its centre, and the image, mask and landmarks all go through it: the image
 * is Deep3D's (a flip is exactly a column reversal) and the landmarks are where that image shows
 * them. */
#include "hrn_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Point k of a mirrored face is point perm[k] of the original (iBUG 68: the jaw reverses, the
 * brows, eyes, nostrils and lips swap sides, the nose bridge 27..30 stays). */
const int hrn_lm68_flip_perm[68] = {
    16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6, 5, 4, 3, 2, 1, 0, /* jaw 0..16 */
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                      /* brows 17..26 */
    27, 28, 29, 30,                                              /* nose bridge */
    35, 34, 33, 32, 31,                                          /* nostrils 31..35 */
    45, 44, 43, 42, 47, 46,                                      /* left eye <- right eye */
    39, 38, 37, 36, 41, 40,                                      /* right eye <- left eye */
    54, 53, 52, 51, 50, 49, 48,                                  /* outer upper lip 48..54 */
    59, 58, 57, 56, 55,                                          /* outer lower lip 55..59 */
    64, 63, 62, 61, 60,                                          /* inner upper lip 60..64 */
    67, 66, 65,                                                  /* inner lower lip 65..67 */
};

static const double PI = 3.14159265358979323846; /* M_PI is not C11 or POSIX */

/* The key of the augmentation stream: "augment" in ASCII, so that no other purpose of the same
 * (seed, epoch, index) shares it. */
#define AUG_PURPOSE 0x61756775656d6e74ull

void hrn_augment_defaults(struct hrn_augment *a) {
    memset(a, 0, sizeof *a);
    a->enabled = 1;
    a->shift_px = 10.0f;
    a->scale_delta = 0.1f;
    a->rot_deg = 10.0f;
    a->flip_p = 0.5f;
}

/* The random transform of one sample, drawn in Deep3D's order (shift x, shift y, scale, angle,
 * flip); all five are drawn whatever the ranges so that each draw keeps its place in the stream. */
struct aug_draw {
    int sx, sy;   /* integer shifts, as Deep3D's randint */
    double scale; /* 1 + U(-d, d) */
    double rot;   /* radians, U(-r, r) */
    int flip;
};

static void aug_draw(const struct hrn_augment *a, uint64_t seed, int64_t epoch, int64_t index,
                     struct aug_draw *d) {
    struct hrn_rng r;
    hrn_rng_seed_keyed(&r, seed, (uint64_t)epoch, (uint64_t)index, AUG_PURPOSE);
    int S = a->shift_px > 0 ? (int)floorf(a->shift_px) : 0;
    d->sx = (int)hrn_rng_below(&r, (uint64_t)(2 * S + 1)) - S;
    d->sy = (int)hrn_rng_below(&r, (uint64_t)(2 * S + 1)) - S;
    d->scale = 1.0 + (double)a->scale_delta * (2.0 * hrn_rng_uniform(&r) - 1.0);
    d->rot = (double)a->rot_deg * (2.0 * hrn_rng_uniform(&r) - 1.0) * (PI / 180.0);
    d->flip = hrn_rng_uniform(&r) < (double)a->flip_p;
}

/* Forward 2x3 matrix (original pixel -> augmented pixel, y down, centres at integers):
 * centre . scale . rotation . shift . flip . centre^-1, Deep3D's composition. Deep3D's rotation
 * matrix [cos -r, sin -r; -sin -r, cos -r] is [c -s; s c] for the drawn angle. */
static void aug_matrix(const struct aug_draw *d, int w, int h, double A[6]) {
    double cx = (double)(w / 2) - 0.5, cy = (double)(h / 2) - 0.5;
    double c = cos(d->rot), s = sin(d->rot), f = d->flip ? -1.0 : 1.0;
    /* M = scale * R * diag(f, 1); t = scale * R * (sx, sy) + centre - M * centre */
    double m00 = d->scale * c * f, m01 = -d->scale * s;
    double m10 = d->scale * s * f, m11 = d->scale * c;
    double rx = d->scale * (c * d->sx - s * d->sy), ry = d->scale * (s * d->sx + c * d->sy);
    A[0] = m00, A[1] = m01, A[2] = rx + cx - (m00 * cx + m01 * cy);
    A[3] = m10, A[4] = m11, A[5] = ry + cy - (m10 * cx + m11 * cy);
}

/* Mirror a (C, S, S) UV map in u (columns reversed); channel 0 negated when negate_x (the
 * deformation map's x component: a mirrored face has its offsets mirrored too). */
static void uv_flip(float *m, int C, int S, int negate_x) {
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < S; y++) {
            float *row = m + ((size_t)ch * (size_t)S + (size_t)y) * (size_t)S;
            for (int x = 0; x < S / 2; x++) {
                float t = row[x];
                row[x] = row[S - 1 - x];
                row[S - 1 - x] = t;
            }
            if (negate_x && ch == 0)
                for (int x = 0; x < S; x++)
                    row[x] = -row[x];
        }
}

static void gt_flip(struct hrn_sample_gt *g) {
    if (g->deform) uv_flip(g->deform, 3, 64, 1);
    if (g->disp) uv_flip(g->disp, 1, 256, 0);
    if (g->albedo) uv_flip(g->albedo, 3, 256, 0);
    if (g->albedo_detail) uv_flip(g->albedo_detail, 3, 256, 0);
    if (g->skin) uv_flip(g->skin, 1, 256, 0);
}

/* y-up landmarks through the y-down matrix A, then the mirror permutation on a flip. NaN (an
 * unknown point) stays NaN. */
static void lm_transform(float *lm, const double A[6], int h, int flip) {
    float out[68 * 2];
    for (int k = 0; k < 68; k++) {
        double x = lm[2 * k], y = (double)(h - 1) - (double)lm[2 * k + 1], ox, oy;
        hrn_affine_apply(A, x, y, &ox, &oy);
        out[2 * k] = (float)ox;
        out[2 * k + 1] = (float)((double)(h - 1) - oy);
    }
    for (int k = 0; k < 68; k++) {
        int src = flip ? hrn_lm68_flip_perm[k] : k;
        lm[2 * k] = out[2 * src];
        lm[2 * k + 1] = out[2 * src + 1];
    }
}

/* Warp the image and the mask (bilinear, 0 outside) with the forward matrix A. */
static enum hrn_status warp_sample(struct hrn_sample *s, const double A[6]) {
    enum hrn_status st = HRN_OK;
    double inv[6];
    struct hrn_image img = {0};
    float *mask = NULL;
    int w = s->img.w, h = s->img.h;
    HRN_TRY(hrn_affine_invert(A, inv));
    HRN_TRY(hrn_image_warp_affine(&s->img, inv, w, h, NULL, &img));
    if (s->mask) {
        mask = malloc((size_t)w * (size_t)h * sizeof(float));
        if (!mask) {
            st = hrn_error_set(HRN_ERR_NOMEM, "no memory for the mask");
            goto fail;
        }
        hrn_warp_affine(s->mask, 1, h, w, inv, NULL, mask, h, w);
        free(s->mask);
        s->mask = mask;
        mask = NULL;
    }
    hrn_image_free(&s->img);
    s->img = img;
    return HRN_OK;
fail:
    hrn_image_free(&img);
    free(mask);
    return st;
}

static void drop_pose_gt(struct hrn_sample_gt *g) {
    free(g->coeffs);
    free(g->verts);
    g->coeffs = g->verts = NULL;
    g->n_coeffs = g->n_verts = 0;
}

enum hrn_status hrn_augment_apply(const struct hrn_augment *a, uint64_t seed, int64_t epoch,
                                  struct hrn_sample *s) {
    enum hrn_status st = HRN_OK;
    static const float identity[6] = {1, 0, 0, 0, 1, 0};
    if (!s->img.data || s->img.w < 1 || s->img.h < 1)
        return hrn_error_set(HRN_ERR_INVALID, "augment %s: the sample has no image", s->name);
    memcpy(s->aug_affine, identity, sizeof identity);
    s->aug_flip = 0;
    if (!a || !a->enabled) return HRN_OK;
    if (!(a->shift_px >= 0 && a->shift_px <= 1e4f && a->scale_delta >= 0 && a->scale_delta < 1 &&
          a->rot_deg >= 0 && a->rot_deg <= 180 && a->flip_p >= 0 && a->flip_p <= 1))
        return hrn_error_set(HRN_ERR_INVALID,
                             "augment: shift %g px, scale delta %g, rotation %g "
                             "deg, flip p %g: expected shift >= 0, scale delta in [0,1), rotation "
                             "in [0,180], flip p in [0,1]",
                             (double)a->shift_px, (double)a->scale_delta, (double)a->rot_deg,
                             (double)a->flip_p);
    struct aug_draw d;
    aug_draw(a, seed, epoch, s->index, &d);
    double A[6];
    aug_matrix(&d, s->img.w, s->img.h, A);
    /* the identity (all draws at their neutral value) changes nothing, not even the pose */
    if (d.sx == 0 && d.sy == 0 && d.scale == 1.0 && d.rot == 0.0 && !d.flip) return HRN_OK;
    HRN_TRY(warp_sample(s, A));
    lm_transform(s->lm, A, s->img.h, d.flip);
    if (d.flip) gt_flip(&s->gt);
    /* a 2-D similarity of a perspective image is no 3-D pose change: the coefficients' pose and
     * the posed geometry no longer match the image, so they go; the UV maps stay valid */
    drop_pose_gt(&s->gt);
    for (int k = 0; k < 6; k++)
        s->aug_affine[k] = (float)A[k];
    s->aug_flip = d.flip;
    return HRN_OK;
fail:
    return hrn_error_prefix(st, "augment %s: ", s->name);
}
