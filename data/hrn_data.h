/* hrn_data.h: getting photos into the form HRN's networks and losses expect: the 5-point
 * least-squares alignment (Deep3DFaceRecon's `align_img`, which HRN uses unchanged) that crops a
 * 224x224 network input and a 512x512 texture image, and a face region from 68 landmarks for
 * images that come without a segmentation mask.
 *
 * Usage:
 *
 *     struct hrn_image photo = {0}, crop224 = {0}, crop512 = {0};
 *     float lm68[68 * 2], lm_crop[68 * 2], model_lm5[5 * 3];
 *     HRN_TRY(hrn_image_read("face.jpg", HRN_IMAGE_RGB, &photo));
 *     HRN_TRY(hrn_lmk_read("face.lm68.txt", 68, lm68, 68, NULL));   // 0-based, y down
 *     HRN_TRY(hrn_model_lm5(&face_model, model_lm5));                 // the model's 3D 5 points
 *     struct hrn_align a;
 *     HRN_TRY(hrn_align_fit(lm68, 68, photo.w, photo.h, model_lm5, &a));
 *     HRN_TRY(hrn_align_crop(&photo, &a, 224, 102.0, &crop224, lm68, 68, lm_crop)); // lm y up
 *     HRN_TRY(hrn_align_crop(&photo, &a, 512, 102.0 * 512 / 224, &crop512, NULL, 0, NULL));
 *
 * Conventions (hrn_method.md 1.1 step 7):
 * - Input landmarks are 0-based pixel centres with y down (the landmark file convention); the
 *   fit flips them to y up (y' = H-1-y) as Deep3D does.
 * - POS: the 5 image points (eye centres mean(36,39) and mean(42,45), nose tip 30, mouth corners
 *   48 and 54) are fitted to the 5 3D points by least squares with a scaled orthographic camera,
 *   rows [X Y Z 1 0 0 0 0] and [0 0 0 0 X Y Z 1]; s = (|k0..2| + |k4..6|)/2, t = (k3, k7).
 * - The crop at size T with rescale factor F (102 for 224, 102*512/224 for 512): the whole image
 *   is resized to (int(w0*F/s), int(h0*F/s)) with PIL's bicubic filter (bit-exact with
 *   PIL 9 for 8-bit images), then the T x T box at left = int(w/2 - T/2 + (t0 - w0/2)*F/s),
 *   up = int(h/2 - T/2 + (h0/2 - t1)*F/s) is cut, padded with black where it leaves the image.
 *   Only the box is computed. Landmarks map to ((x - t0 + w0/2)*S - (w/2 - T/2),
 *   (y - t1 + h0/2)*S - (h/2 - T/2)) with y up and S = F/s: y-up pixel units of the crop.
 * - struct hrn_align holds the POS fit; Deep3D's trans_params, which HRN's FaceScape loader needs
 *   to put results back into the photo, are [w0, h0, F/s, t0, t1] with F the crop's rescale.
 * - F is in pixels per model unit: 102 for BFM's decimetres. For a model in other units use
 *   102 * mm_per_unit / 100 so the face fills the crop as a BFM face does.
 */
#ifndef HRN_DATA_H
#define HRN_DATA_H

#include "hrn_model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hrn_align {
    float w0, h0; /* photo size */
    float s;      /* POS scale: image pixels per model unit */
    float t0, t1; /* POS translation: where the model origin lands (x, y up) */
};

/* The 5 alignment points (Deep3D order: left eye, right eye, nose tip, left and right mouth
 * corner) from a model's 68 landmark vertices on its mean shape; (5, 3). HRN_ERR_INVALID when
 * the model lacks one of the 68 points used (36, 39, 42, 45, 30, 48, 54). */
enum hrn_status hrn_model_lm5(const struct hrn_face_model *fm, float lm5_3d[15]);

/* Scaled-orthographic least-squares fit of n 2D points (xy, n x 2) to n 3D points (n x 3):
 * s and t as in POS. HRN_ERR_NUMERIC for a degenerate configuration. */
enum hrn_status hrn_align_pos(const float *xy, const float *xyz, int n, float *s, float t[2]);

/* Fit the alignment from 68 (0-based iBUG order) or 5 (Deep3D order) y-down landmarks of a photo
 * of size w0 x h0 to the model's 5 points. */
enum hrn_status hrn_align_fit(const float *lm, int n_lm, int w0, int h0, const float lm5_3d[15],
                              struct hrn_align *out);

/* Cut the aligned T x T crop (see above) from img (any channel count) into out (allocated; free
 * with hrn_image_free). When lm_in is given, its n_lm y-down photo landmarks are mapped to y-up
 * crop coordinates in lm_out. */
enum hrn_status hrn_align_crop(const struct hrn_image *img, const struct hrn_align *a, int T,
                               double rescale, struct hrn_image *out, const float *lm_in, int n_lm,
                               float *lm_out);

/* PIL's Image.resize(..., BICUBIC) of img to (w, h), but only the window of the result with top-
 * left (x0, y0) and size (ww, wh), which may extend beyond it (those pixels are `pad`). When the
 * image is 8-bit (every value k/255) this reproduces PIL's fixed-point result exactly; otherwise
 * it uses the same filter in floating point, clipping to [0,1] after each pass as PIL does.
 * out is allocated (ww x wh, img->c channels). */
enum hrn_status hrn_resize_pil_bicubic(const struct hrn_image *img, int w, int h, int x0, int y0,
                                       int ww, int wh, float pad, struct hrn_image *out);

/* HRN's fat_face (data/fat_face.c): warp img (C,S,S) so that the face grows outward along its
 * jaw contour by up to about degree x the face size (HRN: 0.03 for the texture-refinement
 * target), the inner features staying put. lm68: 68 iBUG landmarks, 0-based pixels, y down. out
 * receives a new image. HRN_ERR_INVALID for a non-square image, degree < 0 or a NaN landmark. */
enum hrn_status hrn_fat_face(const struct hrn_image *img, const float *lm68, float degree,
                             struct hrn_image *out);

/* A face region for images without a segmentation mask: the polygon of the jaw (0..16) closed
 * over the brows (26..17) raised by `forehead` times the eye-to-brow distance, filled into a
 * size x size mask (1 inside, 0 outside; pixel centres tested). lm: 68 points in y-up crop
 * coordinates (what hrn_align_crop returns). */
enum hrn_status hrn_face_region_mask(const float *lm68_yup, int size, float forehead, float *mask);

/* === training data (data/sample.c, data/synth_data.c, data/dataset.c, data/augment.c,
 *     data/loader.c) ===========================================================================
 *
 * Usage (what hrn-train does; ../shared/spec/training.md 5, 6.3):
 *
 *     struct hrn_synth_data_config sc;
 *     hrn_synth_data_defaults(&sc);                     // seed 1, 1000 samples, every level
 *     struct hrn_dataset ds = {0};
 *     HRN_TRY(hrn_dataset_open_synth(&ds, &fm, &sc));    // on the fly: nothing on disk
 *     // or: hrn_dataset_open_folder(&ds, &fm, "data/faces", "data/faces/datalist/train.txt",
 *     //                              HRN_DATASET_STRICT, stderr);
 *     struct hrn_augment aug;
 *     hrn_augment_defaults(&aug);                        // Deep3D's shift/scale/rot/flip
 *     struct hrn_loader *ld = NULL;
 *     HRN_TRY(hrn_loader_open(&ld, &ds, &aug, &(struct hrn_loader_config){
 *             .seed = 7, .batch = 8, .shuffle = 1, .threads = 2}, 0, 0));
 *     struct hrn_batch b = {0};
 *     for (int step = 0; step < 100; step++) {
 *         HRN_TRY(hrn_loader_next(ld, &b));              // b.n samples, b.epoch, b.pos after it
 *         ... b.s[i].img, b.s[i].lm, b.s[i].mask, b.s[i].gt ...
 *     }
 *   fail:
 *     hrn_batch_free(&b); hrn_loader_close(ld); hrn_dataset_free(&ds);
 *
 * Every sample is a pure function of (dataset, index) and its augmentation of (loader seed, epoch,
 * index): the bytes do not depend on the number of threads, on the order in which samples are
 * made, or on whether a run was resumed.
 *
 * Frames. A sample is what net_recon sees: the aligned 224x224 crop of hrn_method.md 1.1 step 7,
 * landmarks in y-up crop pixels (Deep3D's convention inside the networks and losses), masks with
 * row 0 at the top. A real photo is aligned from its landmarks when it is loaded; a synthetic
 * sample is rendered directly in this frame with HRN's camera (hrn_camera_default), its variation
 * in position and size standing in for the alignment's jitter, so its ground-truth pose and
 * translation are exact for the crop.
 */

/* Ground truth of a sample; every array NULL when unknown (real photos have none). Units: the
 * face model's (hrn_fit_normalize_model's decimetres for hrn-train). */
struct hrn_sample_gt {
    float *coeffs;        /* (n_coeffs) id | exp | tex | angle | gamma | trans (model layout) */
    int64_t n_coeffs;
    float *verts;         /* (N,3) canonical (un-posed) level-1 vertices: S0 + D at the vertices */
    int64_t n_verts;
    float *deform;        /* (3,64,64) deformation map D, canonical frame (hrn_method.md 2.2) */
    float *disp;          /* (1,256,256) displacement map (2.3) */
    float *albedo;        /* (3,256,256) clean UV albedo A (the de-retouching target) */
    float *albedo_detail; /* (3,256,256) albedo with freckles/blemishes/uneven tone: what the
                           * image shows (A + detail) */
    float *skin;          /* (256*256) UV skin region (0/1) where the detail maps apply */
};

struct hrn_sample {
    int64_t index;        /* in its dataset */
    char name[64];        /* file stem, or "synth_<seed>_<index>" */
    struct hrn_image img; /* (3,224,224) RGB in [0,1] */
    float lm[68 * 2];     /* 68 iBUG points, y-up crop pixels; NaN where unknown */
    float *mask;          /* (224*224) face region (1 face, 0 not; occluders 0), row 0 at the top;
                           * NULL when the dataset has none */
    struct hrn_sample_gt gt;
    /* augmentation applied (hrn_augment_apply): the 2x3 matrix taking original crop pixels (x, y
     * down) to augmented ones, and whether the sample was mirrored */
    float aug_affine[6];
    int aug_flip;
};
void hrn_sample_free(struct hrn_sample *s); /* NULL-safe; frees every array and zeroes s */
/* Deep copy (HRN_ERR_NOMEM). */
enum hrn_status hrn_sample_copy(struct hrn_sample *dst, const struct hrn_sample *src);

/* --- synthetic samples (data/synth_data.c) ------------------------------------------------------- */

/* Distributions of the generator (defaults: hrn_synth_data_defaults); docs/TRAINING_DATA.md says
 * what each draws and why. */
struct hrn_synth_data_config {
    uint64_t seed;             /* the dataset: sample i is a pure function of (model, seed, i) */
    int64_t count;             /* samples in the dataset (indices past it are refused; 0: any) */
    float id_std, tex_std;     /* Gaussian coefficient scales (1 = the model's prior; 0.7) */
    float exp_std;             /* Gaussian expression scale (0.5); a blendshape basis
                                * (fm->exp_bounded: ICT, SFM) draws a few weights in [0, 1] */
    float yaw_deg, pitch_deg, roll_deg; /* uniform ranges +-: 60, 30, 20 */
    float trans_px, dist_frac; /* position jitter (crop pixels) and distance jitter (fraction) */
    float deform_mm;           /* typical peak of the deformation map (a few mm) */
    float disp_mm;             /* typical peak of the displacement map (sub-mm to 1 mm) */
    float detail_strength;     /* albedo detail (freckles, blemishes, uneven tone) amplitude */
    float occluder_p;          /* probability of an occluder (hair fringe, glasses, hand) */
    float noise_max;           /* sensor noise std up to this (uniform) */
    float jpeg_p;              /* probability of JPEG compression (quality 40..95) */
    int background;            /* 1: textured random background; 0: black (HRN's renders) */
    int levels;                /* 0: coefficients only; 1: + deformation; 2: + displacement */
};
void hrn_synth_data_defaults(struct hrn_synth_data_config *c);

/* Make sample `index` of the synthetic dataset (thread-safe: any number of threads may call it
 * at once on the same model; call hrn_face_model_compact(fm) first). The model must have UVs and
 * the eye and mouth landmarks and be in HRN's frame (hrn_face_model_to_hrn_frame). The image is
 * rendered with HRN's forward pass at the level asked for (M1 geometry, detail-normal shading of
 * the displacement, the detail albedo in UV), then the background, occluders, noise and
 * compression are applied; it is clipped to [0,1] and stored at 8 bits (the values
 * hrn_image_read gives for its PNG). lm are the projected landmark vertices of M1 (jaw points as
 * HRN's landmarks are, on the silhouette side: the projected vertex; NaN where the model has
 * none), mask the rendered face region minus occluders. gt.deform is NULL at levels 0, gt.disp
 * below level 2. Each call builds the model's context (its UV tables, ~14 ms at BFM size): to
 * make many samples, make the context once (hrn_synth_ctx_new, hrn_synth_sample_ctx). */
enum hrn_status hrn_synth_sample(const struct hrn_face_model *fm,
                                 const struct hrn_synth_data_config *c, int64_t index,
                                 struct hrn_sample *out);

/* What every sample of one model needs, made once: world2uv tables at 256, the deformation
 * sampler, the mesh topology, the face frame in UV and the maps drawn from it. Opaque.
 *
 *     struct hrn_synth_ctx *x = NULL;
 *     HRN_TRY(hrn_synth_ctx_new(&x, &fm));              // borrows fm: free x before fm
 *     HRN_TRY(hrn_synth_sample_ctx(x, &sc, i, &sample)); // any thread, any number at once
 *     hrn_synth_ctx_free(x);
 *
 * Thread-safe: the context is read-only once made (no cache is filled later), so any number of
 * threads may call hrn_synth_sample_ctx and hrn_synth_render_gt_ctx on one context at once. New
 * calls hrn_face_model_compact(fm) itself; the model must not change while the context lives.
 * The samples are byte for byte those of hrn_synth_sample. */
struct hrn_synth_ctx;
/* HRN_ERR_INVALID for a model without UVs, mean shape or the eye and mouth landmarks. */
enum hrn_status hrn_synth_ctx_new(struct hrn_synth_ctx **out, const struct hrn_face_model *fm);
void hrn_synth_ctx_free(struct hrn_synth_ctx *x); /* NULL-safe */
const struct hrn_face_model *hrn_synth_ctx_model(const struct hrn_synth_ctx *x); /* borrowed */
/* hrn_synth_sample on the context's model. */
enum hrn_status hrn_synth_sample_ctx(const struct hrn_synth_ctx *x,
                                     const struct hrn_synth_data_config *c, int64_t index,
                                     struct hrn_sample *out);
/* Render a sample's ground truth again (same model and config; no background, occluders, noise
 * or compression) into img (3,224,224), allocated, clipped to [0,1] but not quantised; *cover
 * (may be NULL) gets the coverage (224*224, malloc()ed). gt.verts is used when present, else
 * coeffs plus gt.deform. It equals the sample's face pixels within half an 8-bit level where no
 * occluder is (test_data_synth checks it). */
enum hrn_status hrn_synth_render_gt(const struct hrn_face_model *fm,
                                    const struct hrn_synth_data_config *c,
                                    const struct hrn_sample_gt *gt, struct hrn_image *img,
                                    float **cover);
/* hrn_synth_render_gt on the context's model (same bytes; thread-safe as above). */
enum hrn_status hrn_synth_render_gt_ctx(const struct hrn_synth_ctx *x,
                                        const struct hrn_synth_data_config *c,
                                        const struct hrn_sample_gt *gt, struct hrn_image *img,
                                        float **cover);

/* Write samples [first, first+n) to a dataset folder (the layout of hrn_dataset_open_folder, with
 * `aligned = true` in its dataset.ini since the images are crops already, and the ground truth in
 * gt/<name>.h5 plus gt/<name>.obj, the canonical mesh, for hrn-eval), and the list files
 * datalist/train.txt and datalist/val.txt (the last n_val samples). Files are written atomically.
 * `threads` workers (0 = 1) share one model context; the files do not depend on their number.
 * Calls hrn_face_model_compact(fm) itself. */
enum hrn_status hrn_synth_write_folder(const struct hrn_face_model *fm,
                                       const struct hrn_synth_data_config *c, int64_t first,
                                       int64_t n, int64_t n_val, const char *root, int threads);
/* A contact sheet: n samples (image with landmarks | mask | deformation map | displacement map |
 * clean albedo | albedo detail), one row each, to a PNG. */
enum hrn_status hrn_synth_contact_sheet(const struct hrn_sample *s, int n, const char *path);

/* Ground truth HDF5 (gt/<name>.h5): datasets coeffs, verts, deform, disp, albedo, albedo_detail,
 * skin, each optional, with their shapes above. Errors name the file and dataset. */
enum hrn_status hrn_sample_gt_save(const char *path, const struct hrn_sample_gt *gt);
enum hrn_status hrn_sample_gt_load(const char *path, struct hrn_sample_gt *gt);

/* --- datasets (data/dataset.c) ------------------------------------------------------------------- */

enum hrn_dataset_kind { HRN_DATASET_SYNTH = 0, HRN_DATASET_FOLDER };
enum hrn_dataset_policy {
    HRN_DATASET_STRICT = 0, /* any bad entry: HRN_ERR_INVALID after reporting all of them */
    HRN_DATASET_SKIP_BAD,   /* report and count the bad entries, continue without them */
};

/* A folder in Deep3DFaceRecon's layout (training.md 1.1):
 *   <root>/<...>/<stem>.{jpg,png}      the photo
 *   <dir>/landmarks/<stem>.txt         68 points, x y per line, Deep3D's y-up (y' = H-1-y)
 *   <dir>/detections/<stem>.txt        5 points, y down (used when landmarks/ lacks the stem:
 *                                      the photo is aligned from them, sample.lm stays NaN)
 *   <dir>/mask/<stem>.png              face/skin mask of the photo's size (optional: without
 *                                      it the face region comes from the 68 landmarks, as in
 *                                      hrn-fit; with 5 points only, sample.mask is NULL).
 *                                      mask/<stem>.<photo's extension> is accepted too.
 *   <dir>/gt/<stem>.h5                 optional ground truth (hrn_sample_gt_save); coeffs and
 *                                      verts must have the face model's sizes
 * where <dir> is the photo's directory. A list file names one photo per line (relative to root
 * or absolute; '#' comments and blank lines skipped); a line that names a mask path
 * (".../mask/<stem>.png", as Deep3D's datalist/<split>/masks.txt) is mapped to its photo as Deep3D's
 * loader does (<dir>/<stem> with the mask's extension, else .jpg, .png, .jpeg). Photos are
 * aligned (hrn_align_fit, hrn_align_crop at 224 with F = 102 * mm_per_unit / 100) on load and the
 * mask cropped the same way and binarised at 0.5, as hrn-fit does, unless the root's dataset.ini
 * says `aligned = true` (any section; only that key is read): then images must be 224x224,
 * landmarks are y-up crop coordinates taken as they are, and the face model may be NULL. */
struct hrn_dataset {
    enum hrn_dataset_kind kind;
    const struct hrn_face_model *fm; /* borrowed */
    struct hrn_synth_data_config synth;
    struct hrn_synth_ctx *synth_ctx; /* owned (synthetic datasets): the model's sample context */
    char root[512];
    char **paths;       /* (n) photo paths of the good entries */
    uint8_t *files;     /* (n) which optional files each entry has (HRN_DATASET_HAS_*) */
    int64_t n;
    int aligned;
    int64_t n_bad;      /* entries reported and left out */
    float lm5_3d[15];   /* the model's alignment points */
};
enum {
    HRN_DATASET_HAS_LM68 = 1, /* landmarks/<stem>.txt */
    HRN_DATASET_HAS_DET5 = 2, /* detections/<stem>.txt (used without landmarks/) */
    HRN_DATASET_HAS_MASK = 4, /* mask/<stem>.png */
    HRN_DATASET_HAS_GT = 8,   /* gt/<stem>.h5 */
};
/* Synthetic dataset of c->count samples, made on the fly by hrn_dataset_get from one model
 * context made here (hrn_synth_ctx_new; loader threads share it). fm must outlive ds. */
enum hrn_status hrn_dataset_open_synth(struct hrn_dataset *ds, const struct hrn_face_model *fm,
                                       const struct hrn_synth_data_config *c);
/* Read and validate the whole list before anything trains: every line's photo (PNG/JPEG header:
 * readable, its size; 224x224 when aligned), landmarks (present, count, finite, and for photos an
 * alignment that can be fitted), mask (size) and ground truth (shapes, without reading the data)
 * is checked; each bad entry is reported to `report` (may be NULL) as "list:line: file: what is
 * wrong" (its first problem) and counted. STRICT fails with the count and the first problem in
 * the message, leaving ds empty; SKIP_BAD keeps the good entries (HRN_ERR_INVALID when none is
 * left). Pixel data is decoded only by hrn_dataset_get: a file whose header is fine but whose
 * data is corrupt fails the loader later, with its name. */
enum hrn_status hrn_dataset_open_folder(struct hrn_dataset *ds, const struct hrn_face_model *fm,
                                        const char *root, const char *list,
                                        enum hrn_dataset_policy policy, FILE *report);
void hrn_dataset_free(struct hrn_dataset *ds); /* NULL-safe */
/* Sample i (0 <= i < ds->n), not augmented. Thread-safe. */
enum hrn_status hrn_dataset_get(const struct hrn_dataset *ds, int64_t i, struct hrn_sample *out);

/* --- augmentation (data/augment.c) --------------------------------------------------------------- */

/* Deep3D's shift_scale_rot_flip (data/base_dataset.py get_affine_mat): an integer shift uniform in
 * [-shift_px, shift_px] (Deep3D's randint of int(shift_pixs)), scale 1 + uniform +-scale_delta,
 * rotation uniform +-rot_deg, a mirror with probability flip_p, composed as Deep3D does (centre .
 * scale . rotation . shift . flip . centre^-1) about the centre Deep3D's image transform uses,
 * pixel-centre coordinate w/2 - 0.5 (so a mirror is exactly a column reversal). Deep3D maps its
 * landmarks with the same matrix read in pixel-centre coordinates, which puts them half a pixel
 * (a pixel after a flip) off its own image; here image, mask and landmarks agree. */
struct hrn_augment {
    int enabled;
    float shift_px;    /* 10 */
    float scale_delta; /* 0.1 */
    float rot_deg;     /* 10 */
    float flip_p;      /* 0.5 */
};
void hrn_augment_defaults(struct hrn_augment *a);
/* Apply in place to a sample as hrn_dataset_get made it, with every random choice from
 * hrn_rng_seed_keyed(seed, epoch, s->index, purpose "augment"): the image (bilinear, black
 * outside) and mask (bilinear, 0 outside) warped, the
 * landmarks mapped (and on a flip permuted with the 68-point left/right mirror table, so point k
 * is again iBUG point k), the UV ground-truth maps mirrored on a flip (u -> 1-u; the deformation
 * map's x component negated). A 2-D similarity of a perspective image has no exact 3-D pose, so
 * an augmented sample's gt.coeffs and gt.verts are dropped (freed, NULL) unless the transform is
 * the identity; the maps stay. Records aug_affine and aug_flip. */
enum hrn_status hrn_augment_apply(const struct hrn_augment *a, uint64_t seed, int64_t epoch,
                                  struct hrn_sample *s);
/* The iBUG 68-point mirror permutation: point k of a mirrored face is point perm[k] of the
 * original. */
extern const int hrn_lm68_flip_perm[68];

/* --- raw photos into a training folder (data/prep.c, hrn-data prep) ---------------------------- */

/* Every .jpg/.jpeg/.png of the folder photos (sorted by name) into out in the layout above: the
 * photo copied to out/images/, its face's 68 landmarks from face-api's detector (weights: the
 * HDF5 of hrn-detect convert; the largest face) in images/landmarks/<stem>.txt (y up), its 5
 * points in images/detections/<stem>.txt, a skin mask in images/mask/<stem>.png, and
 * datalist/train.txt and val.txt (the last n_val kept photos). Photos without a face are left out
 * and listed in out/prep_report.tsv with every photo's outcome; *n_kept of *n_total were kept.
 * HRN_ERR_INVALID when no photo had a face. */
enum hrn_status hrn_prep_folder(const char *photos, const char *out, const char *weights,
                                int n_val, int *n_kept, int *n_total);

/* --- the prefetching loader (data/loader.c) ------------------------------------------------------ */

struct hrn_loader_config {
    uint64_t seed;  /* epoch permutations and augmentation */
    int batch;      /* samples per hrn_loader_next */
    int shuffle;    /* permutation of epoch e = f(seed, e); else dataset order */
    int drop_last;  /* 1: an epoch's last partial batch is skipped (Deep3D's drop_last) */
    int threads;    /* worker threads making samples ahead (0 = make them in the caller); 0..64 */
    int prefetch;   /* batches made ahead (0 = 2); up to 64 */
    /* Data parallelism: with shards > 1 a batch holds this shard's equal part of each global
     * batch of `batch` samples (positions shard*b .. shard*b+b-1, b = batch/shards, of it), so
     * the shards together see one loader's batches; positions stay global. Needs drop_last and
     * batch a multiple of shards. 0 or 1: the whole batch. */
    int shard, shards;
};
/* Batches never span epochs: an epoch of n samples gives ceil(n/batch) batches, the last one
 * partial, or floor(n/batch) with drop_last. A position at the end of an epoch is reported as
 * (epoch+1, 0). The permutation of epoch e is a Fisher-Yates shuffle drawn from
 * hrn_rng_seed_keyed(seed, e, "permute", 0): a function of (seed, e) only. */
struct hrn_batch {
    struct hrn_sample *s; /* (n) */
    int n;
    int64_t epoch, pos;   /* the loader's position AFTER this batch (what a checkpoint saves) */
    int64_t first_epoch, first_pos; /* where this batch started */
};
void hrn_batch_free(struct hrn_batch *b); /* NULL-safe */

struct hrn_loader;
/* Start at (epoch, pos): pos is the index into epoch's order of the next sample (a checkpoint's
 * saved position resumes exactly). The dataset must outlive the loader. */
enum hrn_status hrn_loader_open(struct hrn_loader **out, const struct hrn_dataset *ds,
                                const struct hrn_augment *aug, const struct hrn_loader_config *c,
                                int64_t epoch, int64_t pos);
/* The next batch, in the same order and with the same bytes whatever the thread count. Frees
 * what b held before (b must be zeroed or a batch of a loader). A failing sample (hrn_dataset_get
 * or hrn_augment_apply) fails the call with its epoch, position, index and file in the message;
 * the loader then stays failed (every later call returns the same error) since the sequence
 * cannot go on without that batch. */
enum hrn_status hrn_loader_next(struct hrn_loader *l, struct hrn_batch *b);
void hrn_loader_close(struct hrn_loader *l); /* NULL-safe; joins the workers */
/* Sample index at position pos of epoch's order (-1 outside 0 <= pos < n, epoch >= 0).
 * Thread-safe with respect to the loader's workers; not with hrn_loader_close. */
int64_t hrn_loader_order(const struct hrn_loader *l, int64_t epoch, int64_t pos);

#ifdef __cplusplus
}
#endif
#endif /* HRN_DATA_H */
