/* train_config.c: the "train" config schema (configs/train_*.ini; training.md 6.2). The weight
 * keys are HRN's option names (hrn_method.md 4.1) plus the supervision terms synthetic data
 * allows; [optim] is the shared section (optim.iterations = the run's steps). */
#include "hrn_train.h"

#include <stddef.h>

#define T struct hrn_train_config

static const char *const STAGE_NAMES[] = {"recon", "mid", "geometry", "deretouch", NULL};
static const char *const KIND_NAMES[] = {"synthetic", "folder", NULL};
static const char *const POLICY_NAMES[] = {"strict", "skip_bad", NULL};
static const char *const BASE_NAMES[] = {"gt", "net", NULL};

static const struct hrn_config_key RUN_KEYS[] = {
    HRN_CFG_ENUM(T, stage, "stage", "recon", STAGE_NAMES,
                 "what trains: recon (net_recon), mid (mid_net), geometry (mid_net + high_net), "
                 "deretouch (the de-retouching UNet)"),
    HRN_CFG_STRING(T, out, "out", "runs/train", "run directory (checkpoints, logs, pictures)"),
    HRN_CFG_INT(T, seed, "seed", "1", 0, 2000000000,
                "initial weights, epoch order and augmentation"),
    HRN_CFG_STRING(T, init, "init", "",
                   "checkpoint to start from (hrn-train's or HRN's converted weights); the "
                   "networks it holds are loaded, the rest initialised"),
    HRN_CFG_INT(T, arena_mb, "arena_mb", "4096", 64, 1 << 20,
                "step memory reserved (pages are used only as touched)"),
};

static const struct hrn_config_key DATA_KEYS[] = {
    HRN_CFG_ENUM(T, data_kind, "kind", "synthetic", KIND_NAMES,
                 "synthetic (made on the fly) or folder (Deep3D layout)"),
    HRN_CFG_STRING(T, model, "model", "synth-bfm",
                   "face model: synth-small, synth-bfm or a file hrn-model reads"),
    HRN_CFG_STRING(T, root, "root", "", "folder dataset root"),
    HRN_CFG_STRING(T, train_list, "train_list", "datalist/train.txt",
                   "training list, relative to root"),
    HRN_CFG_STRING(T, val_list, "val_list", "datalist/val.txt",
                   "validation list, relative to root (empty: none)"),
    HRN_CFG_ENUM(T, policy, "policy", "strict", POLICY_NAMES,
                 "bad entries: strict stops before step 1; skip_bad leaves them out"),
    HRN_CFG_INT(T, synth_count, "synth_count", "10000", 1, 2000000000, "synthetic training samples"),
    HRN_CFG_INT(T, synth_val, "synth_val", "32", 0, 100000,
                "held-out synthetic samples (another seed)"),
    HRN_CFG_INT(T, synth_seed, "synth_seed", "1", 0, 2000000000, "synthetic dataset seed"),
    HRN_CFG_FLOAT(T, deform_mm, "deform_mm", "3", 0, 50, "synthetic deformation-map peak (mm)"),
    HRN_CFG_FLOAT(T, disp_mm, "disp_mm", "0.6", 0, 10, "synthetic displacement-map peak (mm)"),
    HRN_CFG_FLOAT(T, yaw_deg, "yaw_deg", "60", 0, 90, "synthetic yaw range (+-degrees)"),
    HRN_CFG_FLOAT(T, pitch_deg, "pitch_deg", "30", 0, 90, "synthetic pitch range (+-degrees)"),
    HRN_CFG_FLOAT(T, roll_deg, "roll_deg", "20", 0, 90, "synthetic roll range (+-degrees)"),
    HRN_CFG_FLOAT(T, occluder_p, "occluder_p", "0.3", 0, 1, "probability of an occluder"),
    HRN_CFG_FLOAT(T, noise_max, "noise_max", "0.02", 0, 1, "largest sensor-noise std"),
    HRN_CFG_FLOAT(T, jpeg_p, "jpeg_p", "0.3", 0, 1, "probability of JPEG compression"),
    HRN_CFG_BOOL(T, background, "background", "true", "random textured backgrounds"),
    HRN_CFG_INT(T, loader_threads, "loader_threads", "1", 0, 64,
                "threads preparing batches ahead (0: in the training thread)"),
    HRN_CFG_BOOL(T, augment, "augment", "false",
                 "Deep3D's shift/scale/rotation/flip (drops coefficient ground truth)"),
};

static const struct hrn_config_key NET_KEYS[] = {
    HRN_CFG_INT(T, recon_width, "recon_width", "64", 4, 256, "net_recon (ResNet-50) base width"),
    HRN_CFG_INT(T, mid_width, "mid_width", "64", 4, 256, "mid_net ngf"),
    HRN_CFG_INT(T, high_width, "high_width", "64", 4, 256, "high_net ngf"),
    HRN_CFG_INT(T, n_blocks, "n_blocks", "9", 1, 32, "pix2pix residual blocks"),
    HRN_CFG_INT(T, unet_width, "unet_width", "64", 4, 256, "de-retouching UNet base width"),
    HRN_CFG_FLOAT(T, dropout, "dropout", "0.5", -1, 0.95f, "pix2pix dropout (negative: none)"),
    HRN_CFG_FLOAT(T, alpha0, "alpha0", "0.01", 0, 100, "initial alpha (mid_net output scale)"),
    HRN_CFG_FLOAT(T, beta0, "beta0", "0.01", 0, 100, "initial beta (high_net output scale)"),
    HRN_CFG_BOOL(T, train_recon, "train_recon", "true", "recon stage: net_recon trains"),
    HRN_CFG_BOOL(T, train_mid, "train_mid", "true", "mid/geometry stages: mid_net trains"),
    HRN_CFG_BOOL(T, train_high, "train_high", "true", "geometry stage: high_net trains"),
    HRN_CFG_ENUM(T, base, "base", "gt", BASE_NAMES,
                 "mid/geometry stages: the base coefficients from the ground truth or from a "
                 "frozen net_recon (init checkpoint)"),
};

static const struct hrn_config_key LR_KEYS[] = {
    HRN_CFG_FLOAT(T, lr_recon, "recon", "1", 0, 1000, "factor of optim.lr for net_recon"),
    HRN_CFG_FLOAT(T, lr_mid, "mid", "1", 0, 1000, "factor of optim.lr for mid_net"),
    HRN_CFG_FLOAT(T, lr_high, "high", "1", 0, 1000, "factor of optim.lr for high_net"),
    HRN_CFG_FLOAT(T, lr_scales, "scales", "1", 0, 1000, "factor of optim.lr for alpha and beta"),
    HRN_CFG_FLOAT(T, lr_unet, "unet", "1", 0, 1000, "factor of optim.lr for the de-retouching UNet"),
};

#define W(m, key, def, help) HRN_CFG_FLOAT(T, w.m, key, def, 0, 1e9, help)
static const struct hrn_config_key WEIGHT_KEYS[] = {
    W(w_color, "w_color", "1.92", "photometric (every level)"),
    W(w_lm, "w_lm", "1.6e-3", "landmarks (224-pixel units squared)"),
    W(w_reg, "w_reg", "3e-4", "coefficient regularizer"),
    W(w_id, "w_id", "1", "identity part of the regularizer"),
    W(w_exp, "w_exp", "0.8", "expression part of the regularizer"),
    W(w_tex, "w_tex", "1.7e-2", "albedo part of the regularizer"),
    W(w_gamma, "w_gamma", "10", "monochrome lighting"),
    W(w_contour, "w_contour", "20", "contour-aware loss"),
    W(w_smooth, "w_smooth", "5e3", "TV of the deformation map"),
    W(w_smooth_std, "w_smooth_std", "0", "TV_std of the deformation map"),
    W(w_dis_reg, "w_dis_reg", "10", "mean |displacement|"),
    W(w_dis_smooth, "w_dis_smooth", "0", "TV of the displacement map"),
    W(w_dis_smooth_std, "w_dis_smooth_std", "0", "TV_std of the displacement map"),
    W(w_adv, "w_adv", "1", "least-squares adversarial loss of each map (HRN's option 1)"),
    HRN_CFG_FLOAT(T, w_coeff_sup, "w_coeff_sup", "1", 0, 1e9,
                  "mean squared coefficient error against ground truth (where known)"),
    HRN_CFG_FLOAT(T, w_prior_mid, "w_prior_mid", "100", 0, 1e9,
                  "3D prior: mean |D - D_gt| in model units (where known)"),
    HRN_CFG_FLOAT(T, w_prior_high, "w_prior_high", "100", 0, 1e9,
                  "3D prior: mean |disp - disp_gt| in model units (where known)"),
};
#undef W

static const struct hrn_config_key GAN_KEYS[] = {
    HRN_CFG_INT(T, disc_width, "width", "64", 4, 256, "discriminators' ndf (pix2pix: 64)"),
    HRN_CFG_INT(T, disc_layers, "layers", "3", 1, 5, "PatchGAN layers (pix2pix: 3)"),
    HRN_CFG_FLOAT(T, lr_d, "lr", "2e-4", 1e-9f, 1, "discriminators' Adam rate (pix2pix: 2e-4)"),
    HRN_CFG_FLOAT(T, beta1_d, "beta1", "0.5", 0, 0.999f, "discriminators' Adam beta1 (pix2pix: 0.5)"),
};

static const struct hrn_config_key BATCH_KEYS[] = {
    HRN_CFG_INT(T, batch, "size", "8", 1, 64, "samples per step"),
};

static const struct hrn_config_key CKPT_KEYS[] = {
    HRN_CFG_INT(T, ckpt_every, "every_steps", "500", 1, 2000000000, "checkpoint every n steps"),
    HRN_CFG_DOUBLE(T, ckpt_minutes, "every_minutes", "30", 0, 1e6,
                   "and at least every this many minutes (0: off)"),
    HRN_CFG_INT(T, keep_last, "keep_last", "2", 1, 1000, "checkpoints kept (older are removed)"),
};

static const struct hrn_config_key LOG_KEYS[] = {
    HRN_CFG_INT(T, val_every, "val_every", "500", 0, 2000000000,
                "validate every n steps (0: at the end only)"),
    HRN_CFG_INT(T, val_samples, "val_samples", "16", 0, 100000, "held-out samples per validation"),
    HRN_CFG_INT(T, vis_samples, "vis_samples", "4", 0, 64, "validation samples in the picture"),
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
static const struct hrn_config_section SECTIONS[] = {
    {"run", RUN_KEYS, N(RUN_KEYS), 0, "the run"},
    {"data", DATA_KEYS, N(DATA_KEYS), 0, "training data"},
    {"nets", NET_KEYS, N(NET_KEYS), 0, "networks: widths, what trains"},
    {"optim", HRN_CONFIG_OPTIM_KEYS, HRN_CONFIG_OPTIM_N_KEYS, offsetof(T, optim),
     "optimizer (iterations = training steps)"},
    {"lr", LR_KEYS, N(LR_KEYS), 0, "learning-rate factors per parameter group"},
    {"weights", WEIGHT_KEYS, N(WEIGHT_KEYS), 0, "loss weights (HRN option names)"},
    {"gan", GAN_KEYS, N(GAN_KEYS), 0,
     "PatchGAN discriminators on the maps (used when weights.w_adv > 0)"},
    {"batch", BATCH_KEYS, N(BATCH_KEYS), 0, "batching"},
    {"ckpt", CKPT_KEYS, N(CKPT_KEYS), 0, "checkpoints"},
    {"log", LOG_KEYS, N(LOG_KEYS), 0, "validation and pictures"},
};

const struct hrn_config_schema hrn_train_schema = {"train", SECTIONS, N(SECTIONS), sizeof(T)};
