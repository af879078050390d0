/* hrn_losses.h: the public header of the losses module: HRN's training and fitting losses as
 * autodiff computations (hrn_method.md 4), the de-retouching formula (2.6) with the bilinear
 * resizes around its UNet, and a weighted sum of named terms for logging.
 *
 * Usage (one fitting step of single-view HRN; the renderer and networks come from model/):
 *
 *     struct hrn_loss_weights w;
 *     hrn_loss_weights_default(&w);             // or hrn_loss_weights_mvhrn(&w)
 *     struct hrn_loss_sum ls;
 *     hrn_loss_sum_init(&ls, &tape, &w);
 *     hrn_loss_sum_add(&ls, HRN_LOSS_PHOTO_MID, hrn_loss_photo(&tape, img_mid, img, mask));
 *     hrn_loss_sum_add(&ls, HRN_LOSS_LM, hrn_loss_landmark68(&tape, lm_pred, lm_gt, NULL));
 *     hrn_loss_sum_add(&ls, HRN_LOSS_REG, hrn_loss_coeff_reg(&tape, id, ex, tex, 1, 0.8f,
 *                                                           1.7e-2f));
 *     hrn_loss_sum_add(&ls, HRN_LOSS_CONTOUR,
 *                      hrn_loss_contour(&tape, verts_2d, left, right, NULL)); // left, right:
 *     hrn_loss_sum_add(&ls, HRN_LOSS_SMOOTH, hrn_loss_tv(&tape, deform)); // hrn_contour_targets
 *     struct hrn_tensor *total = hrn_loss_sum_total(&ls);  // NULL + message if any term failed
 *     HRN_TRY(hrn_tape_backward(&tape, total));
 *     if (step == 0) hrn_loss_sum_tsv_header(log);
 *     hrn_loss_sum_tsv_row(&ls, log, step);                // iteration, total, every term
 *
 * Conventions:
 * - Every loss returns a scalar tensor (shape (1)) recorded on the tape, or NULL with
 *   HRN_ERR_INVALID and a message naming the loss and the shapes it got and expected. A NULL
 *   input gives NULL and keeps the first message (the op that failed names the cause), as the
 *   autodiff ops do, so a chain can be checked once at its end.
 * - Images and maps are (B,C,H,W). Masks, targets and weights never get a gradient.
 * - The formulas copy HRN's models/losses.py and Deep3D's (hrn_method.md 4.1, 4.3) including
 *   their quirks (TVLoss_std is not normalised by pixel count; the contour rows come from the
 *   vertex's own ceil'ed v); tests/reference/gen_losses_torch.py holds the PyTorch versions the
 *   tests compare with.
 */
#ifndef HRN_LOSSES_H
#define HRN_LOSSES_H

#include "hrn_autodiff.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- image and map losses (loss_image.c) ----------------------------------------------------- */

/* Robust per-pixel L2,1 photometric loss (Deep3D photo_loss):
 *   sum_{b,y,x} sqrt(1e-6 + sum_c (a - b)^2) * m / max(sum m, 1)
 * a, b (B,C,H,W); mask (B,1,H,W) or (B,H,W), any values (e.g. a soft skin attention), no
 * gradient. Both images may receive gradients. */
struct hrn_tensor *hrn_loss_photo(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                                  struct hrn_tensor *mask);

/* Masked L1 to a ground-truth map (the 3D-prior supervision of 4.4 on the deformation map
 * (B,3,64,64) or the displacement map (B,1,256,256); its exact form is UNVERIFIED, no code):
 *   sum |pred - gt| * m / max(sum of m broadcast to pred's shape, 1)
 * i.e. the mean absolute error over masked elements. pred, gt (B,C,H,W); mask NULL (all ones),
 * (B,1,H,W) (shared by the channels), (B,C,H,W), (1,1,H,W) or (H,W) (shared by the batch). The
 * gradient at pred == gt is 0. */
struct hrn_tensor *hrn_loss_map_l1(struct hrn_tape *t, struct hrn_tensor *pred,
                                   struct hrn_tensor *gt, struct hrn_tensor *mask);

/* HRN TVLoss on x (B,C,H,W), H, W >= 2:
 *   2 (sum dh^2 / (C (H-1) W) + sum dw^2 / (C H (W-1))) / B,
 * dh = x[:,:,1:,:] - x[:,:,:-1,:], dw = x[:,:,:,1:] - x[:,:,:,:-1]. */
struct hrn_tensor *hrn_loss_tv(struct hrn_tape *t, struct hrn_tensor *x);
/* HRN TVLoss_std: 2 (sum (dh^2 - mean dh^2)^2 + sum (dw^2 - mean dw^2)^2) / B, the means over the
 * whole batch. Not normalised by the pixel count (as in HRN). */
struct hrn_tensor *hrn_loss_tv_std(struct hrn_tape *t, struct hrn_tensor *x);
/* Displacement magnitude: mean |x| over all elements (the gradient at 0 is 0). */
struct hrn_tensor *hrn_loss_abs_mean(struct hrn_tape *t, struct hrn_tensor *x);

/* Least-squares GAN (pix2pix gan_mode='lsgan', HRN GANLoss 'ls'): mean((pred - target)^2) with
 * target 1 when target_real, else 0. The generator's loss is hrn_loss_gan_ls(D(fake), 1). */
struct hrn_tensor *hrn_loss_gan_ls(struct hrn_tape *t, struct hrn_tensor *pred, int target_real);
/* The discriminator's: 0.5 (mean((D(real) - 1)^2) + mean(D(fake)^2)). Pass D applied to a
 * detached fake (hrn_detach) so the generator gets no gradient from it. */
struct hrn_tensor *hrn_loss_gan_ls_d(struct hrn_tape *t, struct hrn_tensor *pred_real,
                                     struct hrn_tensor *pred_fake);

/* --- face-model losses (loss_face.c) --------------------------------------------------------- */

enum { HRN_LM68 = 68, HRN_LM5 = 5 };

/* HRN/Deep3D's landmark weights: 1, and 20 for 0-based indices 28, 29, 30 and 60..67. */
void hrn_landmark_weights68(float w[HRN_LM68]);

/* Weighted landmark loss  sum_{b,i} w_i valid_{b,i} |p_{b,i} - g_{b,i}|^2 / (B N).
 * pred, gt (B,N,D) (D = 2 in 224-pixel units); weights (N) or NULL for ones; valid (B,N) (0/1,
 * any non-zero counts as valid) or NULL. A target with a NaN coordinate is excluded as well, so
 * a landmark set mapped onto the 68 with gaps (SFM: 50 of 68) can pass NaN for the rest. The
 * divisor stays B N (Deep3D's), so an excluded point neither adds nor re-weights the others.
 * gt gets no gradient. */
struct hrn_tensor *hrn_loss_landmark(struct hrn_tape *t, struct hrn_tensor *pred,
                                     struct hrn_tensor *gt, const float *weights,
                                     const uint8_t *valid);
/* 68 points with HRN's weights; 5 points with weights 1. valid as above (may be NULL). */
struct hrn_tensor *hrn_loss_landmark68(struct hrn_tape *t, struct hrn_tensor *pred,
                                       struct hrn_tensor *gt, const uint8_t *valid);
struct hrn_tensor *hrn_loss_landmark5(struct hrn_tape *t, struct hrn_tensor *pred,
                                      struct hrn_tensor *gt, const uint8_t *valid);

/* Contour-aware loss with the code semantics of hrn_method.md 4.3 (HRN contour_aware_loss).
 * S = img_size, m = margin. For every projected vertex (u, v) (v up, pixel units):
 *   row = S-1 - clamp(ceil(v), 0, S-1);  l = left[b,row];  r = right[b,row]
 *   d = ((l-u)/S)((r-u)/S) / max(|l-u|/S, |r-u|/S)     (signed distance to the nearer side / S)
 *   loss = mean over all B N vertices of |relu(d + m) - m|
 * Only u gets a gradient (the row is piecewise constant in v); ties of the max split the
 * gradient evenly and relu/abs have gradient 0 at 0, as in PyTorch. */
struct hrn_contour_opts {
    float margin;   /* HRN: 0.01 */
    int img_size;   /* square image the mask and the projection use; HRN: 224 */
};
#define HRN_CONTOUR_OPTS_DEFAULT ((struct hrn_contour_opts){.margin = 0.01f, .img_size = 224})
/* verts (B,N,2) = face_proj; left, right (B,S) from hrn_contour_targets; opts NULL = defaults. */
struct hrn_tensor *hrn_loss_contour(struct hrn_tape *t, struct hrn_tensor *verts,
                                    struct hrn_tensor *left, struct hrn_tensor *right,
                                    const struct hrn_contour_opts *opts);
/* Per-row targets from face masks (B,S,S), row 0 at the top (HRN get_edge_points_horizontal):
 * with the pixels of row i where mask > 0.5, left[b,i] = first column + 1 and right[b,i] = last
 * column; a row without face pixels gets left 0 and right S-1. left, right: (B,S) floats. */
void hrn_contour_targets(const float *mask, int64_t batch, int img_size, float *left,
                         float *right);

/* Coefficient regularizer: (w_id sum a^2 + w_exp sum b^2 + w_tex sum d^2) / B with id (B,Ki),
 * exp (B,Ke), tex (B,Kt) (any K, same B). HRN: w_id 1, w_exp 0.8, w_tex 1.7e-2. tex may be NULL
 * (a model without texture coefficients), and exp too. */
struct hrn_tensor *hrn_loss_coeff_reg(struct hrn_tape *t, struct hrn_tensor *id,
                                      struct hrn_tensor *exp, struct hrn_tensor *tex, float w_id,
                                      float w_exp, float w_tex);
/* Monochrome lighting: mean((gamma - mean over rgb of gamma)^2) with gamma (B,27) or (B,3,9)
 * (the SH coefficients of r, g, b in turn). */
struct hrn_tensor *hrn_loss_gamma(struct hrn_tape *t, struct hrn_tensor *gamma);
/* Skin-albedo reflectance (Deep3D reflectance_loss): with mu_{b,c} = sum_v m_v tex_{b,v,c} /
 * sum m, loss = sum ((tex - mu) m)^2 / (B sum m). tex (B,N,3) per-vertex albedo, skin_mask (N)
 * (or any shape with N elements), no gradient; its sum must be > 0. */
struct hrn_tensor *hrn_loss_reflectance(struct hrn_tape *t, struct hrn_tensor *tex,
                                        struct hrn_tensor *skin_mask);

/* --- identity (loss_identity.c) -------------------------------------------------------------- */

/* Deep3D's perceptual loss, the "feat" term (w_feat): mean over the batch of 1 - cos(a_b, b_b),
 *   sum_b (1 - <a_b/|a_b|, b_b/|b_b|>) / B,
 * rows normalised as F.normalize (eps 1e-12). a, b (B,D) face descriptors, e.g. of the rendered
 * face and of the photo from hrn_facerec_image (detect/hrn_facerec.h); both may get gradients
 * (detach the photo's, as Deep3D does, or compute it once). In [0, 2]. */
struct hrn_tensor *hrn_loss_identity(struct hrn_tape *t, struct hrn_tensor *a,
                                     struct hrn_tensor *b);

/* --- de-retouching (deretouch.c) ------------------------------------------------------------- */

/* The de-retouching formula of hrn_method.md 2.6, differentiable in all three inputs (HRN
 * detaches it; detach the result or its inputs to do the same):
 *   T = (Tn + 1)/2;  T0 = (1 - 2B) T^2 + 2B T;  phi = 1e6 T0^3 + 1e-6;
 *   A' = A0 (T + 1/phi) / (T0 + 1/phi)
 * tn: the network input 2T-1, (B,3,H,W); blend: the UNet's blend layer B resized to H,W,
 * same shape; a0: the coarse albedo map, same shape. Returns A'. */
struct hrn_tensor *hrn_deretouch(struct hrn_tape *t, struct hrn_tensor *tn,
                                 struct hrn_tensor *blend, struct hrn_tensor *a0);
/* Bilinear resize (B,C,H,W) -> (B,C,oh,ow), exactly F.interpolate(mode='bilinear',
 * align_corners=False) without antialias (the resizes around the de-retouching UNet: Tn 256 ->
 * 512, the blend layer 512 -> 256), with its adjoint as backward. */
struct hrn_tensor *hrn_resize_bilinear_ad(struct hrn_tape *t, struct hrn_tensor *x, int64_t oh,
                                          int64_t ow);

/* --- weighted sum of named terms (loss_sum.c) ------------------------------------------------ */

/* The terms of hrn_method.md 4.1 (and 4.4, 4.6), each with the weight field it uses. */
enum hrn_loss_term {
    HRN_LOSS_PHOTO = 0,      /* "photo"          w_color   (base regressor, one level) */
    HRN_LOSS_PHOTO_MID,      /* "photo_mid"      w_color */
    HRN_LOSS_PHOTO_HIGH,     /* "photo_high"     w_color */
    HRN_LOSS_LM,             /* "lm"             w_lm */
    HRN_LOSS_REG,            /* "reg"            w_reg */
    HRN_LOSS_GAMMA,          /* "gamma"          w_gamma */
    HRN_LOSS_CONTOUR,        /* "contour"        w_contour */
    HRN_LOSS_SMOOTH,         /* "smooth"         w_smooth          TVLoss(D) */
    HRN_LOSS_SMOOTH_STD,     /* "smooth_std"     w_smooth_std      TVLoss_std(D) */
    HRN_LOSS_DIS_REG,        /* "dis_reg"        w_dis_reg         mean|Δ| */
    HRN_LOSS_DIS_SMOOTH,     /* "dis_smooth"     w_dis_smooth      TVLoss(Δ) */
    HRN_LOSS_DIS_SMOOTH_STD, /* "dis_smooth_std" w_dis_smooth_std  TVLoss_std(Δ) */
    HRN_LOSS_ADV_MID,        /* "adv_mid"        w_adv */
    HRN_LOSS_ADV_HIGH,       /* "adv_high"       w_adv */
    HRN_LOSS_REFLC,          /* "reflc"          w_reflc */
    HRN_LOSS_FEAT,           /* "feat"           w_feat            hrn_loss_identity */
    HRN_LOSS_PRIOR_DEFORM,   /* "prior_deform"   w_prior_deform    hrn_loss_map_l1 on D */
    HRN_LOSS_PRIOR_DISP,     /* "prior_disp"     w_prior_disp      hrn_loss_map_l1 on Δ */
    HRN_LOSS_TERM_COUNT
};

/* Field names are the option names of HRN's facerecon_model.py (and the INI keys of hrn-fit). */
struct hrn_loss_weights {
    float w_color, w_lm, w_reg, w_gamma, w_contour;
    float w_smooth, w_smooth_std, w_dis_reg, w_dis_smooth, w_dis_smooth_std;
    float w_adv, w_reflc, w_feat;
    float w_prior_deform, w_prior_disp; /* unknown in HRN (4.4): 0 in both presets */
    float w_id, w_exp, w_tex;           /* inside the coefficient regularizer */
};
/* The option defaults (column "weight in options" of 4.1): w_color 1.92, w_lm 1.6e-3, w_reg 3e-4,
 * w_gamma 10, w_contour 20, w_smooth 5e3, w_dis_reg 10, w_adv 1, w_reflc 5, w_feat 0.2, the _std
 * and dis_smooth terms 0; w_id 1, w_exp 0.8, w_tex 1.7e-2. */
void hrn_loss_weights_default(struct hrn_loss_weights *w);
/* Multi-view fitting (compute_losses_for_mvhrn, column "MV fitting"): w_lm 1.6e-4, w_smooth 1e3,
 * w_smooth_std 1e4, w_dis_reg 1, w_dis_smooth 1e4, w_dis_smooth_std 1e4; w_adv, w_reflc, w_feat
 * 0; the rest as the default. */
void hrn_loss_weights_mvhrn(struct hrn_loss_weights *w);
/* Set a weight by its field name ("w_color"); HRN_ERR_CONFIG naming the key otherwise. */
enum hrn_status hrn_loss_weights_set(struct hrn_loss_weights *w, const char *key, double value);
const char *hrn_loss_term_name(enum hrn_loss_term term); /* "photo_mid"; "?" out of range */
/* The weight a term is multiplied by. */
float hrn_loss_term_weight(const struct hrn_loss_weights *w, enum hrn_loss_term term);

/* total = sum over added terms of weight(term) * value. A term may be added several times (the
 * per-view losses of multi-view fitting); its logged value is the sum of what was added. */
struct hrn_loss_sum {
    struct hrn_tape *t;
    struct hrn_loss_weights w;
    struct hrn_tensor *total;               /* NULL until a weighted term is added */
    double value[HRN_LOSS_TERM_COUNT];      /* unweighted, summed over adds */
    int count[HRN_LOSS_TERM_COUNT];         /* adds per term (0: not computed) */
    enum hrn_status status;                 /* first failure; later adds are ignored */
};
void hrn_loss_sum_init(struct hrn_loss_sum *s, struct hrn_tape *t,
                       const struct hrn_loss_weights *w);
/* Add weight(term) * x (x scalar). A zero weight logs the value but adds nothing to the graph.
 * A NULL x (its loss failed) or a non-scalar x records the failure, prefixed with the term's
 * name, and returns it; hrn_loss_sum_total then returns NULL. */
enum hrn_status hrn_loss_sum_add(struct hrn_loss_sum *s, enum hrn_loss_term term,
                                 struct hrn_tensor *x);
/* The weighted total (a scalar on the tape), or NULL with the first failure's message (also when
 * no term had a non-zero weight). */
struct hrn_tensor *hrn_loss_sum_total(struct hrn_loss_sum *s);
/* Tab-separated log: a header "iter total photo photo_mid ..." and one row per iteration with the
 * total and every term's unweighted value ("nan" for terms not computed). */
void hrn_loss_sum_tsv_header(FILE *f);
void hrn_loss_sum_tsv_row(const struct hrn_loss_sum *s, FILE *f, int64_t iter);

#ifdef __cplusplus
}
#endif
#endif /* HRN_LOSSES_H */
