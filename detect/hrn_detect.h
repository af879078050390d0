/* hrn_detect.h: face detection and 68 iBUG landmarks in C from face-api's weights
 * (@vladmandic/face-api 1.7.15, MIT): the tiny face detector (Tiny-YOLOv2 with separable
 * convolutions) and the 68-point landmark net (face_landmark_68_model). The detect module.
 *
 * Usage (hrn-detect and tests/test_detect.c make these calls):
 *
 *     struct hrn_detect det = {0};
 *     struct hrn_image img = {0};
 *     struct hrn_face faces[16];
 *     int n = 0;
 *     enum hrn_status st;
 *     HRN_TRY(hrn_detect_load(&det, "weights/face-api-1.7.15.h5"));   // after hrn-detect convert
 *     HRN_TRY(hrn_image_read("photo.jpg", HRN_IMAGE_RGB, &img));
 *     struct hrn_detect_options o = hrn_detect_defaults();              // 608, score > 0.3
 *     HRN_TRY(hrn_detect_faces(&det, &img, &o, faces, 16, &n));        // largest face first
 *     for (int i = 0; i < n; i++)
 *         printf("face %d: score %.3f, nose tip (%.1f, %.1f)\n", i, faces[i].box.score,
 *                faces[i].lm68[2 * 30], faces[i].lm68[2 * 30 + 1]);
 *   fail:
 *     hrn_image_free(&img);
 *     hrn_detect_free(&det);                                            // NULL-safe
 *
 * What is copied from face-api exactly (so that the outputs match TensorFlow.js to 1e-4; the
 * fixtures in tests/data/faceapi/ come from tests/reference/gen_faceapi_tfjs.js):
 * - Weights: each TF.js manifest entry dequantised as tfjs does, float32(q·scale + min) with the
 *   manifest's double scale and min; layouts stay TensorFlow's (conv HWIO, depthwise (3,3,C,1),
 *   FC (in,out)) and activations are NHWC, so no reorder is needed.
 * - Detector input (NetInput.toBatchTensor(size, false)): the photo padded with black at the
 *   bottom or right to a square, resized to size x size by TF's legacy bilinear sampling
 *   (src = dst·in/out, no half-pixel offset), minus the mean RGB (117.001, 114.697, 97.404),
 *   divided by 255. Net: conv 3x3 valid 3->16, then 5x [max-pool 2/2 'same', zero pad 1,
 *   depthwise 3x3, pointwise, bias], max-pool 2/1 'same', conv 1x1 512->25; leaky ReLU 0.1
 *   after every conv but the last. 'same' pads TensorFlow's way, the odd pixel at the end.
 * - Decoding: 5 anchors per cell of the (G,G) grid, score = sigmoid(t_o) > threshold, centre =
 *   (cell + sigmoid(t_xy))/G, size = exp(t_wh)·anchor/G, corrected for the non-square photo;
 *   greedy NMS at IoU 0.4, highest score first.
 * - Landmarks: the box clipped to the photo and floored (Box.clipAtImageBorders), the crop padded
 *   with black to a square (Math.round(d/2) after, the rest before), resized to 112, minus the
 *   mean RGB (122.782, 117.001, 104.298), /255; 4 dense blocks (32, 64, 128, 256), average pool,
 *   FC 256->136; outputs un-padded as FaceLandmark68NetBase.postProcess does.
 * One deliberate difference: face-api shifts the crop's landmarks by the unclipped, unfloored
 * box corner; hrn shifts them by the corner of the crop actually used (up to 1 px apart, and
 * far apart for a box that leaves the photo). The parity test accounts for it.
 *
 * Coordinates: 0-based pixels, x right, y down, (0,0) the centre of the top-left pixel, as every
 * hrn landmark file (core/hrn_lmk.h). Boxes are in the same pixels, x1/y1 exclusive edges.
 *
 * Threads: the kernels use OpenMP (OMP_NUM_THREADS); one struct hrn_detect must not be used by
 * two threads at once (it owns the activation workspace). Weights file: hrn-detect convert
 * writes it from the npm package's model folder (docs/DETECTION.md).
 */
#ifndef HRN_DETECT_H
#define HRN_DETECT_H

#include "hrn_core.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    HRN_TINYFACE_ANCHORS = 5,
    HRN_TINYFACE_BOX = 5,     /* tx, ty, tw, th, to per anchor */
    HRN_LM68_INPUT = 112,
    HRN_LM68_OUT = 136,
};

/* --- weights ------------------------------------------------------------------------------- */

/* A conv with TensorFlow layout: w (k,k,cin,cout), b (cout). */
struct hrn_dconv {
    const float *w, *b;
    int k, cin, cout;
};
/* A separable conv: dw (3,3,cin,1), pw (1,1,cin,cout), b (cout). */
struct hrn_dsep {
    const float *dw, *pw, *b;
    int cin, cout;
};

/* All parameters of both nets in one malloc (params), with views into it. */
struct hrn_detect {
    float *params;
    size_t n_params;
    /* tiny_face_detector */
    struct hrn_dconv tf_conv0; /* 3x3 3->16 */
    struct hrn_dsep tf_sep[5]; /* 16->32 ... 256->512 */
    struct hrn_dconv tf_conv8; /* 1x1 512->25 */
    /* face_landmark_68: dense blocks 0..3, convs 0..3 (block 0's conv0 is a plain conv) */
    struct hrn_dconv lm_conv0;
    struct hrn_dsep lm_sep[4][4]; /* [block][conv], [0][0] unused */
    const float *lm_fc_w, *lm_fc_b; /* (256,136), (136) */
    /* activation workspace (grown on demand) */
    float *ws;
    size_t ws_floats;
    /* the photo as (h,w,3) 0..255 and the detector input, kept between calls (grown on demand):
     * a fresh multi-megabyte malloc per photo costs its page faults every time */
    float *io;
    size_t io_floats;
};

/* Load the HDF5 written by hrn_faceapi_convert: checks the format attribute and every tensor's
 * shape. HRN_ERR_IO / HRN_ERR_FORMAT naming the file and tensor. d must be zeroed. */
enum hrn_status hrn_detect_load(struct hrn_detect *d, const char *h5_path);
void hrn_detect_free(struct hrn_detect *d);

/* Convert face-api's TF.js model folder (tiny_face_detector_model-weights_manifest.json + .bin,
 * face_landmark_68_model-...) to hrn's HDF5: one float32 dataset per manifest entry, named
 * "<model>/<entry>" with TensorFlow's shape, and root attributes hrn_format = "hrn-faceapi",
 * hrn_format_version = 1, source. Checks that each .bin has exactly the manifest's bytes.
 * Written to "<out>.tmp" and renamed. */
enum hrn_status hrn_faceapi_convert(const char *model_dir, const char *out_h5);

/* Where the weights are looked for when none is given: $HRN_FACEAPI_H5 if set, else
 * $HRN_WEIGHTS_DIR/face-api-1.7.15.h5, else fallback_dir/face-api-1.7.15.h5 (fallback_dir may
 * be NULL: then "weights"). Writes into buf; returns buf. */
const char *hrn_detect_default_weights(char *buf, size_t cap, const char *fallback_dir);

/* --- detection ----------------------------------------------------------------------------- */

struct hrn_detect_box {
    float x0, y0, x1, y1; /* pixels */
    float score;
};

struct hrn_face {
    struct hrn_detect_box box; /* the detector's box */
    float lm68[2 * 68];        /* iBUG order, pixels */
    float lm5[2 * 5];          /* Deep3DFaceRecon's extract_5p of lm68 */
};

struct hrn_detect_options {
    int input_size;        /* multiple of 32: 416 (face-api's default) or 608 (small faces) */
    float score_threshold; /* keep boxes scoring above it */
    float iou_threshold;   /* NMS: drop boxes overlapping a better one by more (0.4) */
};

/* 608, 0.3, 0.4: the setting that found every face of the shared real photos
 * (docs/DETECTION.md); face-api's own defaults are 416 and 0.5. */
struct hrn_detect_options hrn_detect_defaults(void);

/* Detect faces and their landmarks; at most cap, largest box area first; *n gets the count
 * (0 is not an error). img is RGB (3 channels, [0,1], as hrn_image_read gives). */
enum hrn_status hrn_detect_faces(struct hrn_detect *d, const struct hrn_image *img,
                                 const struct hrn_detect_options *o, struct hrn_face *faces,
                                 int cap, int *n);

/* The stages, for tests and tools. img_hwc is (h,w,3) floats 0..255. */

/* Detector input (size,size,3) from the photo, as face-api builds it (pad, resize, normalise). */
void hrn_tinyface_input(float *x, const float *img_hwc, int w, int h, int size);
/* Raw detector output (G,G,25), G = size/32, for the input x (size,size,3). */
enum hrn_status hrn_tinyface_forward(struct hrn_detect *d, const float *x, int size,
                                     float *out);
/* Decode the raw output into boxes in pixels of a w x h photo, NMS applied, face-api's order
 * (highest score first). Returns the number written (at most cap). */
int hrn_tinyface_decode(const float *out, int size, int w, int h,
                        const struct hrn_detect_options *o, struct hrn_detect_box *boxes,
                        int cap);

/* The crop face-api takes for a box: clipped to the photo and floored. 0 if it is empty. */
int hrn_lm68_crop(const struct hrn_detect_box *box, int w, int h, int *x, int *y, int *cw,
                  int *ch);
/* Landmark net input (112,112,3) from the crop (cx,cy,cw,ch) of the photo. */
void hrn_lm68_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch);
/* Raw landmark output (136) in [0,1] of the padded 112 crop, for the input x (112,112,3). */
enum hrn_status hrn_lm68_forward(struct hrn_detect *d, const float *x, float *out);
/* The raw output to pixels: un-pad, scale to the crop (cw,ch), shift by (cx,cy). */
void hrn_lm68_postprocess(const float *out, int cx, int cy, int cw, int ch, float *lm68);
/* All of it for one box: lm68 (136) in pixels. HRN_ERR_INVALID if the box misses the photo. */
enum hrn_status hrn_lm68_on_box(struct hrn_detect *d, const float *img_hwc, int w, int h,
                                const struct hrn_detect_box *box, float *lm68);

/* The photo (3,h,w) in [0,1] as (h,w,3) floats 0..255, rounded (8-bit images give their bytes
 * back exactly). Returns a malloc()ed array or NULL (HRN_ERR_NOMEM set). */
float *hrn_detect_hwc255(const struct hrn_image *img);

/* --- skin mask (skin.c) ------------------------------------------------------------------- */

/* Probability that a colour (r, g, b in 0..255) is skin under Deep3DFaceRecon's skin-colour model
 * (util/skin_mask.py: Gaussian mixtures of skin and non-skin colours in BT.601 YCbCr, skin prior
 * 0.8). Where both mixtures underflow it is still defined (computed in the log domain). */
float hrn_skin_prob(float r, float g, float b);
/* The landmark face region in photo pixels: the jaw (points 0..16) closed over the brows (26..17)
 * raised by `forehead` times the brow-to-eye distance (hrn-fit's default 1.5), pixel centres
 * tested, mask (h,w) 1 inside, 0 outside. The same polygon as data/'s hrn_face_region_mask, in
 * the photo instead of the aligned crop. */
enum hrn_status hrn_face_hull_mask(const float *lm68, int w, int h, float forehead, float *mask);
/* Skin mask (h,w) of an RGB photo (img->c == 3, values in [0,1]): 1 where a pixel is inside the
 * landmark face region and its colour is more likely skin than not (hrn_skin_prob >= 0.5), else
 * 0. lm68: 68 points, 0-based pixels, y down. HRN_ERR_INVALID for a non-RGB image or a NaN
 * point. hrn-fit reads such a mask (as a PNG, > 0.5 is face) with --mask. */
enum hrn_status hrn_skin_mask(const struct hrn_image *img, const float *lm68, float forehead,
                              float *out);
/* A picture to check a mask by eye: the photo around the face region, kept skin tinted green,
 * dropped region pixels red, outside dimmed. */
enum hrn_status hrn_skin_write_overlay(const char *path, const struct hrn_image *img,
                                       const float *hull, const float *skin);

/* --- output -------------------------------------------------------------------------------- */

/* Draw each face's box, its 68 points and its number (1 = first) on a copy of img; write a PNG. */
enum hrn_status hrn_detect_write_overlay(const char *path, const struct hrn_image *img,
                                         const struct hrn_face *faces, int n);

/* Landmark error: mean point distance / outer inter-ocular distance (points 36 and 45 of ref). */
double hrn_lm68_nme(const float *lm68, const float *ref68);

#ifdef __cplusplus
}
#endif
#endif /* HRN_DETECT_H */
