/* hrn_train.h: the public header of the train module: the optimization driver (one step loop
 * for fitting and training), per-identity fitting of HRN's hierarchical face (coefficients, pose
 * and lighting; the mid-frequency deformation map; the high-frequency displacement map; the
 * texture) to one or more photos by optimisation (hrn-fit), and training of HRN's networks on a
 * dataset (hrn-train; see "hrn-train" below and docs/TRAINING.md).
 *
 * Usage (one photo with 68 landmarks; main_fit.c does this for the command line):
 *
 *     struct hrn_fit_config cfg;
 *     HRN_TRY(hrn_config_load(&hrn_fit_schema, "configs/fit.ini", &cfg));   // + hrn_config_set
 *     struct hrn_face_model fm = {0};
 *     HRN_TRY(hrn_fit_load_model("model.h5", &fm));        // loaded, recentred, in decimetres
 *     struct hrn_fit_view v = {0};
 *     HRN_TRY(hrn_fit_view_from_photo(&fm, &cfg, "face.jpg", "face.lm68.txt", NULL, &v));
 *     struct hrn_fit fit = {0};
 *     HRN_TRY(hrn_fit_init(&fit, &fm, &cfg, &v, 1));
 *     HRN_TRY(hrn_fit_run(&fit, "out/losses.tsv"));       // all stages; progress bar on stderr
 *     HRN_TRY(hrn_fit_write_outputs(&fit, "out"));        // meshes, textures, HDF5, overlays
 *   fail:
 *     hrn_fit_free(&fit); hrn_fit_view_free(&v); hrn_face_model_free(&fm);
 *
 * What is fitted (hrn_method.md 2, 4, 6; the forward pass is the one of hrn_render.h):
 * - level 0: S0 = mean + id_basis id + exp_basis exp, posed V = S0 R^T + t, per-vertex SH shading of
 *   the albedo (the model's per-vertex PCA albedo, or for models without one, the shared SFM and
 *   ICT, a smooth UV albedo map sampled at the vertices), rasterized and interpolated;
 * - level 1 (mid): S1 = S0 + D sampled at the vertices (HRN's add_nonlinear_offset), D (3,64,64);
 * - level 2 (high): detail normals from the displacement map (1,256,256) in UV, UV-space shading,
 *   rendered on the M1 mesh through the UV texture lookup (HRN's render_uv_texture).
 * Stages (each with its own iteration count; 0 skips it): `lm` (pose, id, exp from landmarks and
 * the coefficient regularizer), `coeff` (+ photometric, contour, lighting, albedo), `mid` (+ D with
 * its smoothness terms), `high` (+ displacement with its regularizers). The texture is the input
 * image unwrapped into UV through the final mid mesh (hrn_uv_unwrap_op), blended over views by
 * how squarely each view sees a texel. Adam with one learning rate per parameter group.
 * Multi-view: one identity, one albedo (tex coefficients or map) and one canonical D shared by
 * every view; expression, pose, lighting and displacement map per view; the per-view losses are
 * summed (hrn_method.md 6). Fused mesh: see hrn_fit_fused_shape.
 * A fit whose loss or gradient turns NaN/Inf stops with HRN_ERR_NUMERIC naming the stage, the
 * iteration and the term, and keeps the last finite parameters.
 */
#ifndef HRN_TRAIN_H
#define HRN_TRAIN_H

#include "hrn_data.h"
#include "hrn_losses.h"
#include "hrn_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- the optimization driver (train/driver.c): one step loop for hrn-fit and hrn-train ------- */

/* A job (a fit stage, a training step, a discriminator step) is a loss callback plus the
 * parameters an optimizer moves; the driver does the rest of each step the same way for all:
 *
 *     struct hrn_driver d = {.tape = &tape};
 *     HRN_TRY(hrn_driver_add(&d, "nets", &params, &(struct hrn_optim_config){.kind = HRN_OPTIM_ADAM,
 *                            .lr = 1e-4f}, 0.0, NULL));
 *     for (step...) {
 *         struct hrn_driver_result r;
 *         HRN_TRY(hrn_driver_step(&d, 1u << 0, my_loss, my_state, "step 12", 1, &r)); // r.total
 *     }
 *
 * A step: reset the tape, zero the gradients, call the loss callback, stop with HRN_ERR_NUMERIC
 * naming the first non-finite term (the parameters go back to the last values whose loss was
 * finite), backward, clip the global gradient norm, keep the values, take the optimizer step, and
 * restore the kept values when a gradient was NaN/Inf. The optimizer state (step count, so the
 * schedule's position, and the moments) is saved to and restored from a checkpoint exactly. */
enum { HRN_DRIVER_MAX_OPTS = 8, HRN_DRIVER_MAX_TERMS = 40 };

/* The loss's terms, for the log and the NaN guard (names must outlive the step). */
struct hrn_driver_terms {
    int n;
    const char *name[HRN_DRIVER_MAX_TERMS];
    double value[HRN_DRIVER_MAX_TERMS];
};
void hrn_driver_terms_add(struct hrn_driver_terms *tm, const char *name, double value);
/* Build the step's scalar loss on t (the driver reset it) and fill terms; NULL on failure (the
 * error message set). */
typedef struct hrn_tensor *(*hrn_driver_loss_fn)(void *user, struct hrn_tape *t,
                                                 struct hrn_driver_terms *terms);

struct hrn_driver_opt {
    char name[32];          /* checkpoint group optim/<name> */
    struct hrn_params *ps;  /* borrowed */
    struct hrn_optim opt;   /* its cfg, group rates and step count t */
    double clip_norm;       /* 0 = off */
    float *safe;            /* (ps->n) the values before the last step */
};
struct hrn_driver {
    struct hrn_tape *tape;  /* borrowed: reset at every step */
    struct hrn_driver_opt o[HRN_DRIVER_MAX_OPTS];
    int n_opt;
    int64_t step;           /* updates taken over all optimizers */
    /* Data parallelism (NULL: one process): the loss callback returns this process's share of
     * the global loss (its samples' sum over the global normaliser), and the driver sums the
     * total, the terms and the gradients across the processes before the NaN guard, the clip and
     * the step, so every process takes the same step. */
    const struct hrn_collective *coll;
    double t_reduce;        /* seconds spent summing gradients across processes */
};
struct hrn_driver_result {
    double total;
    struct hrn_driver_terms terms;
    double grad_norm;       /* before clipping (NaN when there was no update) */
    float lr;               /* group 0's rate at this step */
};
/* Add an optimizer over ps (allocated). HRN_ERR_INVALID for bad settings (naming it). */
enum hrn_status hrn_driver_add(struct hrn_driver *d, const char *name, struct hrn_params *ps,
                               const struct hrn_optim_config *oc, double clip_norm, int *index);
void hrn_driver_free(struct hrn_driver *d); /* NULL-safe; the stores are the caller's */
/* Forget optimizer oi's history (step count and moments), as a new stage does. */
void hrn_driver_restart(struct hrn_driver *d, int oi);
/* One step of the optimizers in the bit set opts (bit i = optimizer i) over one loss: their
 * gradients are zeroed, the global norm over all of them clipped with the first one's clip_norm,
 * each takes its step. update = 0 only evaluates the loss (and guards it). ctx names the step in
 * error messages ("fit stage coeff, iteration 3 (overall 153)", "step 120 (samples ...)"). */
enum hrn_status hrn_driver_step(struct hrn_driver *d, unsigned opts, hrn_driver_loss_fn fn,
                                void *user, const char *ctx, int update,
                                struct hrn_driver_result *r);
/* Every optimizer's step count and state (moments) as optim/<name>/{t,state} of an open file;
 * loading checks the sizes (HRN_ERR_FORMAT naming path) and leaves the kept values current. */
enum hrn_status hrn_driver_save(const struct hrn_driver *d, struct hrn_h5 *h);
/* Every optimizer's values from rank 0 (a data-parallel run's common start). */
enum hrn_status hrn_driver_broadcast(struct hrn_driver *d);
enum hrn_status hrn_driver_load(struct hrn_driver *d, struct hrn_h5 *h, const char *path);

/* --- data parallelism over MPI (train/dist.c) -------------------------------------------------
 *
 *     struct hrn_dist dist;
 *     HRN_TRY(hrn_dist_init(&dist, &argc, &argv)); // MPI only when started by mpirun
 *     cfg.dist = &dist;                            // hrn-train: each rank takes its share
 *     ...
 *     if (st != HRN_OK) hrn_dist_abort(&dist, 1);  // the other ranks wait in a collective
 *     hrn_dist_finalize(&dist);
 *
 * Built with MPI when CMake finds it (HRN_HAVE_MPI); without it every call is a one-process
 * no-op, and a process started by mpirun with several ranks gets an error that says so. */
struct hrn_dist {
    int rank, size;             /* 0, 1 for a single process */
    int mpi;                    /* MPI_Init was called */
    struct hrn_collective coll; /* the rank-ordered sums (autodiff/hrn_autodiff.h) */
    void *scratch;              /* receive buffers, kept between steps */
    size_t scratch_bytes;
    int *counts;                /* (4 size) chunk counts and offsets */
};
int hrn_dist_launched(void);        /* started by an MPI launcher (its environment variables) */
int hrn_dist_built_with_mpi(void);
enum hrn_status hrn_dist_init(struct hrn_dist *d, int *argc, char ***argv);
void hrn_dist_finalize(struct hrn_dist *d);  /* NULL-safe members; MPI_Finalize when it started */
/* The collective for tapes and drivers: NULL for a single process. */
const struct hrn_collective *hrn_dist_collective(const struct hrn_dist *d);
enum hrn_status hrn_dist_barrier(struct hrn_dist *d);
/* *all_ok = ok on every rank (a logical and), so all ranks take the same branch after a local
 * failure instead of leaving the others waiting in a collective. */
enum hrn_status hrn_dist_all_ok(struct hrn_dist *d, int ok, int *all_ok);
/* MPI_Abort of the whole job when several ranks run (a tool's last resort after an error on one
 * rank); nothing otherwise. */
void hrn_dist_abort(struct hrn_dist *d, int code);

/* --- configuration (schema "fit"; configs/fit.ini, configs/fit_multiview.ini) ---------------- */

enum hrn_fit_group {
    HRN_FIT_G_ID = 0, HRN_FIT_G_EXP, HRN_FIT_G_TEX, HRN_FIT_G_LIGHT, HRN_FIT_G_POSE,
    HRN_FIT_G_DEFORM, HRN_FIT_G_DISP, HRN_FIT_G_ALBEDO, HRN_FIT_N_GROUPS
};
_Static_assert((int)HRN_FIT_N_GROUPS <= (int)HRN_MAX_GROUPS, "fit groups exceed the optimizer's groups");

/* The stages, in order. HRN_FIT_TEX is HRN's test-time texture refinement (hrn_method.md 2.7): a
 * UV colour offset O per view on top of the lit high-level colour map C2 (fixed), fitted to the
 * photo with Adam; C2 + O becomes the mesh texture. It changes no geometry. */
enum hrn_fit_stage {
    HRN_FIT_LM = 0, HRN_FIT_COEFF, HRN_FIT_MID, HRN_FIT_HIGH, HRN_FIT_TEX, HRN_FIT_N_STAGES
};

struct hrn_fit_config {
    /* [stages]: iterations per stage (0 skips it) */
    int iters[HRN_FIT_N_STAGES];
    float mid_coeff_scale;  /* learning-rate factor of the coefficient groups in mid/high */
    float high_coeff_scale;
    int high_mid_photo;     /* the high stage also compares the mid render (HRN's multi-view) */
    float lr_tex_offset;    /* Adam rate of the texture offset (HRN: 1e-2) */
    /* [lr]: Adam base rates per group (enum hrn_fit_group) */
    float lr[HRN_FIT_N_GROUPS];
    double clip_norm;       /* global gradient-norm clip, 0 = off */
    /* [weights]: HRN's names (struct hrn_loss_weights) plus the albedo map's smoothness */
    struct hrn_loss_weights w;
    float w_albedo_smooth;
    float w_lm_stage_reg;   /* coefficient regularizer weight in the landmark stage */
    float w_tex_photo;      /* texture refinement: photometric weight (HRN: 1.92) */
    float w_tex_tv;         /* texture refinement: TV of the offset (HRN: 10) */
    float tex_fat_face;     /* texture refinement target: HRN's fat_face degree (0.03; 0 = off) */
    float w_exp_bounded;    /* prior sum |w| of bounded (blendshape) expressions, times w_reg */
    /* [maps] */
    int deform_res;         /* 64 */
    int disp_res;           /* 256 */
    int albedo_res;         /* UV albedo map of models without albedo: 64 */
    float albedo_init;      /* its initial grey */
    float forehead;         /* face region from landmarks: brow lift in eye-to-brow distances */
    int use_contour;        /* contour loss when a face mask (or landmark region) exists */
    int valid_mask;         /* HRN's valid (occlusion) mask multiplies D and the displacement */
    int photo_face_mask;    /* photometric loss on coverage x face mask (else coverage only) */
    int bounded_exp;        /* respect a model's bounded expressions (fm->exp_bounded) */
    /* [output] */
    int tex_res;            /* texture PNG size (256) */
    int fused_neutral;      /* fused mesh with zero expression instead of the mean over views */
    int log_every;          /* TSV row every n iterations (1 = all) */
    /* [checks]: when hrn_fit_check warns (enum hrn_fit_warning) */
    float small_face_px;    /* eye centres closer than this in the photo */
    float clipped_max;      /* fraction of the fitted face's crop pixels outside the photo */
    float detail_max_mm;    /* largest |displacement| */
    float exp_offset_max_mm; /* largest vertex offset of the expression */
    float coeff_max;        /* largest |Gaussian coefficient| in standard deviations */
};

extern const struct hrn_config_schema hrn_fit_schema;
/* The schema's defaults are configs/fit.ini's values (single view). This applies the changes of
 * configs/fit_multiview.ini: HRN's multi-view fitting weights (hrn_method.md 4.1, "MV fitting"). */
void hrn_fit_config_multiview(struct hrn_fit_config *cfg);

/* --- inputs --------------------------------------------------------------------------------- */

/* One view: an aligned 224x224 crop (and optionally the 512 crop), its landmarks in y-up crop
 * pixels (NaN where unknown), and an optional face mask. */
struct hrn_fit_view {
    char name[64];
    struct hrn_image img;    /* (3,224,224) in [0,1] */
    struct hrn_image img_hd; /* (3,512,512) or empty: the texture source (else img) */
    int n_lm;                /* 68 or 5 */
    float lm[68 * 2];        /* y-up, 224 units */
    float *mask;             /* (224*224) face region in [0,1], row 0 at the top, or NULL */
    int mask_from_lm;        /* the mask was derived from the landmarks */
    int has_align;
    struct hrn_align align;  /* photo -> crop (when from a photo) */
    float crop_scale;        /* crop pixels per photo pixel (F/s) */
    char src[512];           /* the photo's path */
    float eye_px;            /* photo pixels between the eye centres (0: not from a photo) */
    float photo_box[4];      /* with has_align: the crop pixels the photo covers, x0 y0 x1 y1
                              * (rows from the top; x0 <= x < x1) */
};
void hrn_fit_view_free(struct hrn_fit_view *v); /* NULL-safe */

/* Load a face model (hrn_face_model_load) and bring it into HRN's frame: recentred on the mean
 * shape's centroid and scaled to decimetres (mm_per_unit 100) so the default camera applies. */
enum hrn_status hrn_fit_load_model(const char *path, struct hrn_face_model *fm);
/* The same normalisation on a model in memory. */
enum hrn_status hrn_fit_normalize_model(struct hrn_face_model *fm);

/* A view from a photo: read the image (PNG/JPEG), the landmarks (68 or 5 points, .txt or .pts),
 * the optional mask (PNG of the image's size; > 0.5 is face), align (hrn_method.md 1.1 step 7) to
 * 224 and 512. Without a mask and with 68 landmarks the face region comes from the landmarks
 * (logged). Errors name the file. */
enum hrn_status hrn_fit_view_from_photo(const struct hrn_face_model *fm,
                                        const struct hrn_fit_config *cfg, const char *image,
                                        const char *landmarks, const char *mask,
                                        struct hrn_fit_view *v);

/* --- the fit --------------------------------------------------------------------------------- */

struct hrn_fit_term_log {
    double total;
    double value[HRN_LOSS_TERM_COUNT];
    int count[HRN_LOSS_TERM_COUNT];
    double albedo_smooth;
    double tex_tv;          /* texture refinement: TV of the offsets (NaN in other stages) */
};

/* What hrn_fit_check found (issue 16: results a user must be told about). */
enum hrn_fit_warning {
    HRN_FIT_WARN_SMALL_FACE = 1 << 0, /* eye centres closer than cfg.small_face_px photo pixels */
    HRN_FIT_WARN_CLIPPED = 1 << 1,    /* over cfg.clipped_max of the fitted face outside the photo */
    HRN_FIT_WARN_DETAIL = 1 << 2,     /* |displacement| reaches cfg.detail_max_mm */
    HRN_FIT_WARN_COEFF = 1 << 3,      /* a Gaussian coefficient beyond cfg.coeff_max sd, or a
                                       * bounded expression weight outside [0,1] */
    HRN_FIT_WARN_EXP_OFFSET = 1 << 4, /* the expression moves a vertex over cfg.exp_offset_max_mm */
};
struct hrn_fit_checks {
    unsigned warnings;       /* enum hrn_fit_warning bits */
    double eye_px;           /* smallest over views (0: no view from a photo) */
    double clipped;          /* largest fraction over views */
    double detail_mm;        /* largest |displacement| as used (0 before the high stage) */
    double exp_offset_mm;    /* largest vertex offset of any view's expression */
    double coeff_sd;         /* largest |Gaussian coefficient| */
    double exp_min, exp_max; /* range of bounded expression weights (0, 0 when none) */
};

struct hrn_fit {
    const struct hrn_face_model *fm;
    struct hrn_fit_config cfg;
    struct hrn_fit_view *views; /* borrowed */
    int n_views;
    struct hrn_camera cam;
    struct hrn_topo topo, grid;
    struct hrn_csr deform_sampler, albedo_sampler, lmk_op[2]; /* lmk_op: 68-point and 5-point */
    struct hrn_csr lmk_rows_op[2]; /* the same over lmk_verts only (landmark stage) */
    int32_t lmk_verts[68 + 10];    /* the vertices the landmark operators use */
    int n_lmk_verts;
    struct hrn_uv_map uv_hi;
    int has_uv;
    float *st;                  /* (n_uvs,2) texture coordinates */
    float *contour_lr;          /* per view (2*224): left then right */
    struct hrn_params ps;
    int p_id, p_tex, p_deform, p_albedo;
    int *p_exp, *p_light, *p_pose, *p_disp; /* per view */
    struct hrn_tape tape;
    int64_t iter;               /* iterations done over all stages */
    struct hrn_fit_term_log last; /* terms of the last iteration */
    double ms_per_iter[HRN_FIT_N_STAGES];
    int stage_done[HRN_FIT_N_STAGES];
    float *safe;                /* last finite parameter values */
    /* HRN's valid (occlusion) mask per view (hrn_method.md 2.4): the face mask sampled at each
     * texel's position on the base mesh M0, eroded 3x3 and blurred 11x11; (n_views, disp_res^2)
     * and its bilinear resize (n_views, deform_res^2). NULL until the mid stage (or a network
     * start) computes it, and when cfg.valid_mask is off. D is used as D * valid_lo[view], the
     * displacement map as disp * valid[view]. */
    float *valid, *valid_lo;
    /* The de-retouched UV albedo A' per view (n_views, 3, disp_res^2) from a checkpoint's UNet
     * (hrn_fit_start_from_nets), or NULL. When set, levels 1 and 2 shade in UV with it, as HRN's
     * C1 and C2 do. */
    float *albedo_uv;
    /* After the texture stage: C2 + O per view (n_views, 3, disp_res^2), the lit colour map HRN
     * writes as the mesh texture; NULL before. */
    float *tex_refined;
    /* Inputs a client such as hrn-train supplies instead of the parameters (NULL = use the
     * parameters): per view, a coefficient vector of the current tape (n_coeffs; e.g. a row of a
     * network's output), or plain coefficients (n_views, n_coeffs) that stay valid across steps;
     * and the deformation (3,Rd,Rd) and displacement (1,R,R) maps of the current tape (a
     * network's). The valid masks still multiply the maps. */
    struct hrn_tensor **coeffs_in, **deform_in, **disp_in; /* (n_views) each, entries may be NULL */
    const float *coeffs_fixed;
    const float *deform_fixed, *disp_fixed; /* plain (n_views,3,Rd,Rd), (n_views,1,R,R) or NULL */
    struct hrn_fit_checks check; /* hrn_fit_check's last findings */
};

/* Set up parameters (zero coefficients, pose and maps; ambient light; albedo map grey) and the
 * fixed operators. views must outlive the fit. */
enum hrn_status hrn_fit_init(struct hrn_fit *f, const struct hrn_face_model *fm,
                             const struct hrn_fit_config *cfg, struct hrn_fit_view *views,
                             int n_views);
void hrn_fit_free(struct hrn_fit *f); /* NULL-safe */

/* Run one stage / every stage with a non-zero iteration count. tsv (may be NULL) receives one row
 * per logged iteration: stage, iter, total, each term's unweighted value, ms. */
enum hrn_status hrn_fit_stage(struct hrn_fit *f, enum hrn_fit_stage s, FILE *tsv);
enum hrn_status hrn_fit_run(struct hrn_fit *f, const char *tsv_path);
const char *hrn_fit_stage_name(enum hrn_fit_stage s); /* "lm", "coeff", "mid", "high", "tex" */
/* Compute the valid masks from the current base mesh (called by the mid and high stages when
 * cfg.valid_mask is on and they are not set yet; call again to recompute). Views without a face
 * mask get all ones. */
enum hrn_status hrn_fit_valid_masks(struct hrn_fit *f);

/* --- starting from a network checkpoint (fit_nets.c) ----------------------------------------- */

/* The networks of a checkpoint (hrn_nets.h format: scripts/convert_pth.py of HRN's released
 * epoch_10.pth and de-retouching.pth): each group is optional; widths and block counts are read
 * from the stored shapes. */
struct hrn_fit_nets {
    struct hrn_net recon, mid, high, unet;
    int has_recon, has_mid, has_high, has_unet;
    double alpha, beta; /* HRN's trainable output scales of mid_net / high_net (required with them) */
    struct hrn_tape tape; /* the networks' own (made on first use) */
};
/* Load every group present of path ("net_recon", "mid_net", "high_net", "generator"); at least
 * one must be. Errors name the file and the dataset. */
enum hrn_status hrn_fit_nets_load(const char *path, struct hrn_fit_nets *nets);
void hrn_fit_nets_free(struct hrn_fit_nets *nets); /* NULL-safe */
/* HRN's feed-forward pass as the fit's starting point (hrn_method.md 1, 2; per view, after
 * hrn_fit_init): net_recon's 257 coefficients (id averaged over views, the rest per view; the
 * model must have BFM's 80/64/80 layout), the valid mask from M0, the UV texture T from the 512
 * crop through M0 and the position map P; the de-retouched albedo A' (UNet); D = mid_net(P, T) *
 * 0.1 alpha (mean over views); T' through M1 and disp = high_net(P, T', D) * 0.1 beta. Networks
 * the checkpoint lacks leave their part at its current value. Runs in inference mode. */
enum hrn_status hrn_fit_start_from_nets(struct hrn_fit *f, struct hrn_fit_nets *nets);
/* The three UV-space steps of that pass on plain arrays (R: texture size, 256 in HRN; Rd: the
 * deformation map's, 64; every resize bilinear with align_corners=False; tests/reference/
 * gen_fit_nets_torch.py is the PyTorch reference):
 *   A'   = A0 (T + 1/phi) / (T0 + 1/phi), T0 from the UNet's blend layer on 2T-1 at 2R (2.6)
 *   D    = mid_net(cat[P, 2T-1] resized to Rd) * 0.1 alpha                  -> d (3,Rd,Rd)
 *   disp = high_net(cat[P, 2T'-1, D resized to R]) * 0.1 beta               -> disp (1,R,R)
 * t, t2 (T and T'), a0, p: (3,R,R); T in [0,1]. */
enum hrn_status hrn_fit_nets_deretouch(struct hrn_fit_nets *nets, int64_t R, const float *t,
                                       const float *a0, float *ap);
enum hrn_status hrn_fit_nets_mid(struct hrn_fit_nets *nets, int64_t R, int64_t Rd, const float *p,
                                 const float *t, float *d);
enum hrn_status hrn_fit_nets_high(struct hrn_fit_nets *nets, int64_t R, int64_t Rd, const float *p,
                                  const float *t2, const float *d, float *disp);

/* The full coefficient vector of a view (hrn_face_model_layout). */
void hrn_fit_coeffs(const struct hrn_fit *f, int view, float *coeffs);
/* Canonical (un-posed) vertices (N,3) of a view at level 0 (coefficients) or 1 (+ D). */
enum hrn_status hrn_fit_shape(struct hrn_fit *f, int view, int level, float *verts);
/* Posed world vertices (N,3) of a view at level 0 or 1. */
enum hrn_status hrn_fit_posed(struct hrn_fit *f, int view, int level, float *verts);
/* The fused mesh of a multi-view fit, canonical frame: shared identity, the mean expression over
 * views (zero with cfg.fused_neutral) and the shared deformation map. (N,3). */
enum hrn_status hrn_fit_fused_shape(struct hrn_fit *f, float *verts);
/* Render a view's fitted face at a level (0..2) into img (3,224,224) over black; *cover (may be
 * NULL) receives a malloc()ed (224*224) coverage mask. */
enum hrn_status hrn_fit_render(struct hrn_fit *f, int view, int level, struct hrn_image *img,
                               float **cover);
/* Plausibility of the fit's result and inputs (fit_check.c; hrn_fit_run calls it at the end):
 * fills f->check and logs one warning per problem found, naming the figure and the bound (a
 * small face, a face partly outside the photo, detail at its bound, implausible coefficients or
 * expression offsets). Landmarks outside the photo are checked before fitting, by
 * hrn_fit_subject_run. */
enum hrn_status hrn_fit_check(struct hrn_fit *f);
/* Largest |coefficient| over the id, exp and tex blocks of every view (plausibility check). */
float hrn_fit_max_abs_coeff(const struct hrn_fit *f);
/* RMS distance in crop pixels between a view's projected model landmarks (level 1) and its
 * target landmarks, over the points the model maps and the target has. *n_used may be NULL. */
double hrn_fit_landmark_rms(struct hrn_fit *f, int view, int *n_used);

/* Write everything for a subject into dir (created): per view <name>_mid.obj/.mtl/_tex.png (the
 * posed mid mesh), <name>_high.obj (dense detail mesh with UVs), <name>_overlay.png (input |
 * the model's colour under the fitted light | the geometry, grey under a fixed light); for several views fused_mid.obj (+ texture) and fused_high.obj; and
 * fit.h5 with every coefficient and map. */
enum hrn_status hrn_fit_write_outputs(struct hrn_fit *f, const char *dir);

/* mkdir -p (HRN_ERR_IO naming the directory). */
enum hrn_status hrn_fit_mkdirs(const char *dir);

/* --- subjects and batch fitting (train/fit_batch.c) ------------------------------------------
 *
 *     struct hrn_fit_list l;
 *     HRN_TRY(hrn_fit_list_read("subjects.txt", &l));    // NAME IMAGE [lmk=F] [mask=F] [IMAGE ...]
 *     struct hrn_fit_job job = {.fm = &fm, .cfg = &cfg, .cfg_multi = &cfg_multi};
 *     int failed = 0;
 *     HRN_TRY(hrn_fit_batch_run(&job, &l, &(struct hrn_fit_batch_opts){.out = "runs", .jobs = 2,
 *                               .argv = argv}, &failed));  // runs/<NAME>/..., runs/summary.csv
 *
 * A subject list has one subject per line: its name (the output folder: letters, digits, '.',
 * '_', '-'), then its photos, each optionally followed by lmk=FILE and mask=FILE (default: the
 * landmark file next to the photo, as for --image); relative paths are relative to the list's
 * folder; '#' starts a comment line. Errors name the list, the line and what was expected. */
enum { HRN_FIT_MAX_SUBJECT_VIEWS = 64, HRN_FIT_NAME_MAX = 128, HRN_FIT_REPORT_VIEWS = 8,
       HRN_FIT_MAX_JOBS = 256 };
struct hrn_fit_subject {
    char name[HRN_FIT_NAME_MAX];
    int n_views, line;                  /* line: in the list (0 when not from a list) */
    char *image[HRN_FIT_MAX_SUBJECT_VIEWS], *lmk[HRN_FIT_MAX_SUBJECT_VIEWS],
        *mask[HRN_FIT_MAX_SUBJECT_VIEWS]; /* malloc()ed by the list; lmk, mask may be NULL */
};
struct hrn_fit_list {
    struct hrn_fit_subject *s;
    int n;
};
enum hrn_status hrn_fit_list_read(const char *path, struct hrn_fit_list *l);
void hrn_fit_list_free(struct hrn_fit_list *l); /* NULL-safe */
/* What every subject's fit shares: the model (normalised, hrn_fit_load_model), the configs for one
 * and for several photos, and optionally HRN's networks to start from. */
struct hrn_fit_job {
    const struct hrn_face_model *fm;
    const struct hrn_fit_config *cfg, *cfg_multi;
    struct hrn_fit_nets *nets;          /* NULL: start from the mean face */
    /* photos without a landmark file: the detector's weights (NULL: hrn_detect_default_weights)
     * and which face to fit (0: the largest) */
    const char *detector;
    int face;
};
struct hrn_fit_report {
    int n_views;
    /* per view (the first HRN_FIT_REPORT_VIEWS): its name, landmark RMS in the 224 crop and in
     * photo pixels, and the number of landmarks it counts */
    char name[HRN_FIT_REPORT_VIEWS][64];
    double rms_crop[HRN_FIT_REPORT_VIEWS], rms_px[HRN_FIT_REPORT_VIEWS];
    int n_points[HRN_FIT_REPORT_VIEWS];
    double worst_rms_px;
    float max_abs_coeff;
    double seconds;
};
/* The landmark file next to an image (<base>.lm68.txt, .pts, .lm5.txt: the first that exists);
 * 0 when none. */
int hrn_fit_default_lmk(const char *image, char *out, size_t cap);
/* One subject: views from its photos (landmarks from the files given, or next to the photos, or
 * else detected and written to out/<stem>.lm68.txt), the fit, every output into out
 * (hrn_fit_write_outputs, config.ini, losses.tsv). A numeric stop writes the last finite state
 * and returns HRN_ERR_NUMERIC. */
enum hrn_status hrn_fit_subject_run(const struct hrn_fit_job *job, const struct hrn_fit_subject *s,
                                    const char *out, struct hrn_fit_report *r);
struct hrn_fit_batch_opts {
    const char *out;
    int jobs;                /* worker processes (1: fit in this process) */
    char **argv;             /* this program's argv, to start the workers with */
    struct hrn_dist *dist;   /* under mpirun: the ranks share the subjects instead of workers */
};
/* Every subject of l into <out>/<name>/, each with a status.tsv written last; subjects whose
 * status is "ok" are skipped (a rerun resumes); a subject that fails is recorded and the others go
 * on; *n_failed counts the subjects not "ok" in <out>/summary.csv (subject, status, views,
 * landmark RMS, max |coeff|, seconds, error). An output error (disk full) stops the run. */
enum hrn_status hrn_fit_batch_run(const struct hrn_fit_job *job, const struct hrn_fit_list *l,
                                  const struct hrn_fit_batch_opts *o, int *n_failed);

/* --- hrn-train (train/trainer.c; schema "train", configs/train_*.ini) ------------------------- */

enum hrn_train_stage { HRN_TRAIN_RECON = 0, HRN_TRAIN_MID, HRN_TRAIN_GEOMETRY, HRN_TRAIN_DERETOUCH };

struct hrn_train_config {
    /* [run] */
    int stage;               /* enum hrn_train_stage */
    char out[512];
    int seed;
    char init[512];          /* checkpoint to start from, "" = none */
    int arena_mb;
    /* [data] */
    int data_kind;           /* 0 synthetic, 1 folder */
    char model[512];         /* synth-small | synth-bfm | a model file */
    char root[512], train_list[256], val_list[256];
    int policy;              /* enum hrn_dataset_policy */
    int synth_count, synth_val, synth_seed;
    float deform_mm, disp_mm, occluder_p, noise_max, jpeg_p;
    float yaw_deg, pitch_deg, roll_deg;
    int background, loader_threads, augment;
    /* [nets] */
    int recon_width, mid_width, high_width, n_blocks, unet_width;
    float dropout, alpha0, beta0;
    int train_recon, train_mid, train_high;
    int base;                /* 0: ground-truth coefficients, 1: a frozen net_recon */
    /* [optim] */
    struct hrn_config_optim optim;
    /* [lr] factors of optim.lr */
    float lr_recon, lr_mid, lr_high, lr_scales, lr_unet;
    /* [weights] */
    struct hrn_loss_weights w;
    float w_coeff_sup, w_prior_mid, w_prior_high;
    /* [gan] PatchGAN discriminators on the maps (geometry stages, where ground truth exists) */
    int disc_width, disc_layers;
    float lr_d, beta1_d;
    /* [batch] */
    int batch;
    /* [ckpt] */
    int ckpt_every;
    double ckpt_minutes;
    int keep_last;
    /* [log] */
    int val_every, val_samples, vis_samples;
};
extern const struct hrn_config_schema hrn_train_schema;

/* A training run (train/trainer.c):
 *
 *     struct hrn_train_config cfg;
 *     HRN_TRY(hrn_config_load(&hrn_train_schema, "configs/train_recon.ini", &cfg));
 *     struct hrn_trainer *tr = NULL;
 *     HRN_TRY(hrn_trainer_open(&tr, &cfg, 1));   // 1: resume from cfg.out's newest checkpoint
 *     HRN_TRY(hrn_trainer_run(tr, NULL, NULL));  // to optim.iterations steps
 *   fail:
 *     hrn_trainer_close(tr);
 *
 * Opening loads the face model, opens and validates the data (a folder's whole list is checked
 * before step 1), builds the stage's networks (from run.init where it has them) and writes
 * <out>/config.ini. The run writes <out>/losses.tsv (a row per step: step, epoch, lr, total, every
 * term, grad_norm; no timings, so a resumed run's file is byte-identical to an uninterrupted
 * one's), <out>/val.tsv (held-out metrics every log.val_every steps) and <out>/ckpt_<step>.h5
 * (every ckpt.every_steps or every_minutes and at the end; the last ckpt.keep_last kept). A
 * checkpoint is a network file hrn-fit --checkpoint and run.init read (groups net_recon, mid_net,
 * high_net; alpha, beta) plus the optimizer state and the run's position. */
struct hrn_trainer;
/* data.model's face model in HRN's frame: "synth-small" / "synth-bfm" (hrn_synth_face, seed 1)
 * or a file (hrn_fit_load_model). */
enum hrn_status hrn_train_load_model(const char *spec, struct hrn_face_model *fm);
enum hrn_status hrn_trainer_open(struct hrn_trainer **out, const struct hrn_train_config *cfg,
                                 int resume);
/* Called after every step (and its checkpoint, if one was due); a non-OK status stops the run. */
/* The same over MPI (train/dist.c; dist NULL or of one process: hrn_trainer_open): each of the
 * dist->size processes takes an equal share of every global batch (batch.size must divide), in
 * the global order of one process; losses, batch-norm statistics, and gradients are summed
 * across them in rank order, and each takes the same optimizer step; rank 0 alone writes the
 * logs, validates and saves checkpoints. dist must outlive the trainer. */
enum hrn_status hrn_trainer_open_dist(struct hrn_trainer **out, const struct hrn_train_config *cfg,
                                      int want_resume, struct hrn_dist *dist);
typedef enum hrn_status (*hrn_train_hook)(void *user, int64_t step);
enum hrn_status hrn_trainer_run(struct hrn_trainer *tr, hrn_train_hook hook, void *user);
int64_t hrn_trainer_step(const struct hrn_trainer *tr);
/* Seconds spent so far (this process) waiting for the loader's batches, preparing the geometry
 * stages' inputs (valid masks, P, T; base coefficients) and in the optimizer steps (forward,
 * backward, update; discriminators included): for benchmarks. */
/* Seconds spent summing gradients across processes (0 for one process). */
double hrn_trainer_reduce_seconds(const struct hrn_trainer *tr);
void hrn_trainer_timing(const struct hrn_trainer *tr, double *data_s, double *prep_s,
                        double *step_s);
/* Pictures (train/train_plot.c): the loss curves of losses.tsv (the total and the first terms)
 * and, when val_tsv is readable, the validation metrics, log scale, to a PNG. */
enum hrn_status hrn_train_plot(const char *losses_tsv, const char *val_tsv, const char *png);
/* Text in a built-in 3x5 pixel font (digits, letters, . - _ : / + ( ) % |), `scale` pixels per
 * font pixel, top-left at (x, y), clipped to the image (3 channels). */
void hrn_draw_text(struct hrn_image *im, int x, int y, int scale, const char *text,
                   const float rgb[3]);
/* hrn-train --demo (train/train_demo.c): train narrow networks on synthetic faces of `model`
 * (synth-small, synth-bfm or a file), net_recon then mid_net + high_net over it, into
 * out_dir/recon and out_dir/geometry; then print to report, over n_eval held-out faces, the
 * vertex (mm), landmark (px) and map (mm) errors and the time per image of the mean face, the
 * networks' forward pass, hrn-fit from the mean face and hrn-fit from the networks. */
enum hrn_status hrn_train_demo(const char *out_dir, const char *model, int n_eval, FILE *report);
/* The demo's comparison for any checkpoint (hrn-train --compare): n_eval held-out synthetic faces
 * of c's model and distributions (hrn-train's validation seed), the four methods. Networks the
 * checkpoint lacks leave their level at zero. */
enum hrn_status hrn_train_compare(const char *ckpt, const struct hrn_train_config *c, int n_eval,
                                  FILE *report);
void hrn_trainer_close(struct hrn_trainer *tr); /* NULL-safe */

/* --- the demo (fit_demo.c) ------------------------------------------------------------------- */

/* Ground truth of a synthetic subject. */
struct hrn_fit_truth {
    float *coeffs;   /* per view (n_views x n_coeffs) */
    float *deform;   /* (3,64,64) shared */
    float *verts;    /* (N,3) canonical shape of view 0 at level 1 */
    int n_views;
};
void hrn_fit_truth_free(struct hrn_fit_truth *t);

/* Render n_views views of a random plausible subject of fm (seeded): yaw spread over
 * [-yaw_deg, yaw_deg], a smooth ground-truth deformation map of amplitude deform_mm, lighting
 * from the upper left; landmarks from the true vertices, masks from the coverage. */
enum hrn_status hrn_fit_synth_views(const struct hrn_face_model *fm,
                                    const struct hrn_fit_config *cfg, uint64_t seed, int n_views,
                                    float yaw_deg, float deform_mm, struct hrn_fit_view *views,
                                    struct hrn_fit_truth *truth);
/* Mean vertex distance in mm between the fit's canonical level-1 shape of view 0 (or the fused
 * shape for several views) and the truth. */
double hrn_fit_vertex_error_mm(struct hrn_fit *f, const struct hrn_fit_truth *truth);

/* hrn-fit --demo: the embedded synthetic subject (a hrn_synth_face model of the given preset,
 * HRN_SYNTH_SMALL or HRN_SYNTH_BFM) in one view and in three views, fitted with cfg, everything
 * written to out_dir/single and out_dir/multi (fitted with cfg_single and cfg_multi); the errors
 * are printed to report. */
enum hrn_status hrn_fit_demo(const struct hrn_fit_config *cfg_single,
                             const struct hrn_fit_config *cfg_multi, int preset,
                             const char *out_dir, FILE *report);

#ifdef __cplusplus
}
#endif
#endif /* HRN_TRAIN_H */
