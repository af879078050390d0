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

#ifdef __cplusplus
}
#endif
#endif /* HRN_DATA_H */
