/* fit_config.c: the "fit" config schema (configs/fit.ini, configs/fit_multiview.ini). The weight
 * keys are HRN's option names (hrn_method.md 4.1); the defaults are the single-view fitting
 * values of configs/fit.ini. */
#include "hrn_train.h"

#include <stddef.h>

#define T struct hrn_fit_config

static const struct hrn_config_key STAGE_KEYS[] = {
    HRN_CFG_INT(T, iters[HRN_FIT_LM], "lm", "150", 0, 1000000,
                "iterations of the landmark stage (pose, identity, expression)"),
    HRN_CFG_INT(T, iters[HRN_FIT_COEFF], "coeff", "500", 0, 1000000,
                "iterations of the photometric stage (all coefficients, lighting, albedo)"),
    HRN_CFG_INT(T, iters[HRN_FIT_MID], "mid", "100", 0, 1000000,
                "iterations of the deformation-map stage"),
    HRN_CFG_INT(T, iters[HRN_FIT_HIGH], "high", "60", 0, 1000000,
                "iterations of the displacement-map stage"),
    HRN_CFG_INT(T, iters[HRN_FIT_TEX], "tex", "100", 0, 1000000,
                "iterations of the texture refinement (HRN: 100); 0 = the unwrapped photo as "
                "texture"),
    HRN_CFG_FLOAT(T, mid_coeff_scale, "mid_coeff_scale", "0.3", 0, 10,
                  "learning-rate factor of the coefficient groups during the mid stage"),
    HRN_CFG_FLOAT(T, high_coeff_scale, "high_coeff_scale", "0", 0, 10,
                  "learning-rate factor of the coefficient groups during the high stage"),
    HRN_CFG_BOOL(T, high_mid_photo, "high_mid_photo", "false",
                 "the high stage also has the photometric term of the mid render (HRN's "
                 "multi-view fitting)"),
};

static const struct hrn_config_key LR_KEYS[] = {
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_ID], "id", "0.03", 0, 10, "identity coefficients"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_EXP], "exp", "0.03", 0, 10, "expression coefficients"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_TEX], "tex", "0.05", 0, 10, "albedo coefficients"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_LIGHT], "light", "0.02", 0, 10, "SH lighting (gamma)"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_POSE], "pose", "0.01", 0, 10,
                  "Euler angles (radians) and translation (decimetres)"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_DEFORM], "deform", "1e-3", 0, 10,
                  "deformation map (decimetres)"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_DISP], "disp", "2e-4", 0, 10, "displacement map (decimetres)"),
    HRN_CFG_FLOAT(T, lr[HRN_FIT_G_ALBEDO], "albedo", "0.02", 0, 10,
                  "UV albedo map of models without an albedo basis"),
    HRN_CFG_FLOAT(T, lr_tex_offset, "tex_offset", "1e-2", 0, 10,
                  "UV colour offset of the texture refinement (HRN: 1e-2)"),
    HRN_CFG_DOUBLE(T, clip_norm, "clip_norm", "0", 0, 1e9,
                   "clip the global gradient norm; 0 = off"),
};

#define W(m, key, def, lo, hi, help) \
    HRN_CFG_FLOAT(T, w.m, key, def, lo, hi, help)
static const struct hrn_config_key WEIGHT_KEYS[] = {
    W(w_color, "w_color", "1.92", 0, 1e9, "photometric (all levels)"),
    W(w_lm, "w_lm", "1.6e-2", 0, 1e9,
      "landmarks (224-pixel units squared); HRN's network uses 1.6e-3"),
    W(w_reg, "w_reg", "1e-3", 0, 1e9,
      "coefficient regularizer; HRN's network uses 3e-4"),
    W(w_id, "w_id", "1", 0, 1e9, "identity part of the regularizer"),
    W(w_exp, "w_exp", "0.8", 0, 1e9, "expression part of the regularizer"),
    W(w_tex, "w_tex", "1.7e-2", 0, 1e9, "albedo part of the regularizer"),
    W(w_gamma, "w_gamma", "10", 0, 1e9, "monochrome lighting"),
    W(w_contour, "w_contour", "20", 0, 1e9, "contour-aware loss"),
    W(w_smooth, "w_smooth", "5e3", 0, 1e9, "TV of the deformation map"),
    W(w_smooth_std, "w_smooth_std", "0", 0, 1e9, "TV_std of the deformation map"),
    W(w_dis_reg, "w_dis_reg", "10", 0, 1e9, "mean |displacement|"),
    W(w_dis_smooth, "w_dis_smooth", "0", 0, 1e9, "TV of the displacement map"),
    W(w_dis_smooth_std, "w_dis_smooth_std", "0", 0, 1e9, "TV_std of the displacement map"),
    HRN_CFG_FLOAT(T, w_albedo_smooth, "w_albedo_smooth", "10", 0, 1e9,
                  "TV of the UV albedo map (models without albedo)"),
    HRN_CFG_FLOAT(T, w_lm_stage_reg, "w_lm_stage_reg", "3e-4", 0, 1e9,
                  "coefficient regularizer in the landmark stage"),
    HRN_CFG_FLOAT(T, w_tex_photo, "w_tex_photo", "1.92", 0, 1e9,
                  "texture refinement: photometric term (HRN: 1.92)"),
    HRN_CFG_FLOAT(T, w_tex_tv, "w_tex_tv", "10", 0, 1e9,
                  "texture refinement: TV of the colour offset (HRN: 10)"),
    HRN_CFG_FLOAT(T, w_exp_bounded, "w_exp_bounded", "0.2", 0, 1e9,
                  "models with bounded expressions (blendshape weights kept in [0,1]): prior "
                  "sum |w| pulling them to 0, in the regularizer (times w_reg), instead of w_exp's "
                  "Gaussian"),
};
#undef W

static const struct hrn_config_key MAP_KEYS[] = {
    HRN_CFG_INT(T, deform_res, "deform_res", "64", 4, 1024, "deformation map size (HRN: 64)"),
    HRN_CFG_INT(T, disp_res, "disp_res", "256", 16, 2048, "displacement map size (HRN: 256)"),
    HRN_CFG_INT(T, albedo_res, "albedo_res", "64", 4, 1024,
                "UV albedo map size for models without an albedo basis"),
    HRN_CFG_FLOAT(T, albedo_init, "albedo_init", "0.6", 0, 1, "initial grey of the albedo map"),
    HRN_CFG_FLOAT(T, forehead, "forehead", "1.5", 0, 10,
                  "face region from landmarks: brow lift in eye-to-brow distances"),
    HRN_CFG_BOOL(T, use_contour, "contour", "true",
                 "contour loss when a face mask or a landmark face region exists"),
    HRN_CFG_BOOL(T, valid_mask, "valid_mask", "true",
                 "HRN's valid mask (face mask sampled in UV) multiplies D and the displacement"),
    HRN_CFG_FLOAT(T, tex_fat_face, "tex_fat_face", "0.03", 0, 0.5,
                  "texture refinement: the target photo's face pushed outward along the jaw by "
                  "HRN's fat_face with this degree (0 = the photo as it is)"),
    HRN_CFG_BOOL(T, bounded_exp, "bounded_exp", "true",
                 "models that declare bounded expressions (blendshapes: ICT, SFM) keep their "
                 "weights in [0,1] with the prior w_exp_bounded (false: Gaussian like the rest)"),
    HRN_CFG_BOOL(T, photo_face_mask, "photo_face_mask", "true",
                 "photometric loss on the covered pixels of the face region (false: all covered "
                 "pixels, as HRN's multi-view fitting and texture refinement)"),
};

static const struct hrn_config_key OUT_KEYS[] = {
    HRN_CFG_INT(T, tex_res, "tex_res", "256", 16, 4096, "texture PNG size"),
    HRN_CFG_BOOL(T, fused_neutral, "fused_neutral", "false",
                 "fused mesh with zero expression (else the mean expression over views)"),
    HRN_CFG_INT(T, log_every, "log_every", "1", 1, 1000000, "loss TSV row every n iterations"),
};

static const struct hrn_config_key CHECK_KEYS[] = {
    HRN_CFG_FLOAT(T, small_face_px, "small_face_px", "30", 0, 1e6,
                  "warn when the eye centres are closer than this in the photo (pixels): the 224 "
                  "crop is then upsampled about 2x and the mid and detail levels are mostly prior"),
    HRN_CFG_FLOAT(T, clipped_max, "clipped_max", "0.05", 0, 1,
                  "warn when more than this fraction of the fitted face's pixels in the crop lie "
                  "outside the photo"),
    HRN_CFG_FLOAT(T, detail_max_mm, "detail_max_mm", "2", 0, 1e6,
                  "warn when the largest |displacement| reaches this (mm): skin detail is "
                  "shallower, deeper detail follows the iteration budget, not the photo"),
    HRN_CFG_FLOAT(T, exp_offset_max_mm, "exp_offset_max_mm", "50", 0, 1e6,
                  "warn when the expression moves a vertex farther than this (mm; a wide-open "
                  "jaw moves the chin about 30)"),
    HRN_CFG_FLOAT(T, coeff_max, "coeff_max", "3", 0, 1e6,
                  "warn when a Gaussian coefficient is beyond this many standard deviations"),
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
static const struct hrn_config_section SECTIONS[] = {
    {"stages", STAGE_KEYS, N(STAGE_KEYS), 0, "iterations per stage"},
    {"lr", LR_KEYS, N(LR_KEYS), 0, "Adam learning rates per parameter group"},
    {"weights", WEIGHT_KEYS, N(WEIGHT_KEYS), 0, "loss weights (HRN option names)"},
    {"maps", MAP_KEYS, N(MAP_KEYS), 0, "UV maps and masks"},
    {"output", OUT_KEYS, N(OUT_KEYS), 0, "what is written"},
    {"checks", CHECK_KEYS, N(CHECK_KEYS), 0, "when the fit warns that a result is implausible"},
};

const struct hrn_config_schema hrn_fit_schema = {"fit", SECTIONS, N(SECTIONS), sizeof(T)};
#undef N
#undef T

void hrn_fit_config_multiview(struct hrn_fit_config *cfg) {
    cfg->w.w_lm = 1.6e-4f;
    cfg->w.w_reg = 3e-4f;
    cfg->w.w_smooth = 1e3f;
    cfg->w.w_smooth_std = 1e4f;
    cfg->w.w_dis_reg = 1.0f;
    cfg->w.w_dis_smooth = 1e4f;
    cfg->w.w_dis_smooth_std = 1e4f;
}
