/* hrn_facerec.h: face-api's 128-D face descriptor (face_recognition_model, a ResNet-34-like net
 * after dlib's, @vladmandic/face-api 1.7.15, MIT) on hrn's autodiff ops, so that it is
 * differentiable with respect to its input (its weights are frozen). losses/loss_identity.c
 * builds the identity loss on it.
 *
 *     struct hrn_facerec fr = {0};
 *     HRN_TRY(hrn_facerec_load(&fr, "weights/face-api-1.7.15.h5"));
 *     float x[3 * 150 * 150];                        // (3,150,150), face-api's normalisation
 *     hrn_facerec_input(x, hwc, w, cx, cy, cw, ch);  // a crop of a (h,w,3) 0..255 photo
 *     struct hrn_tensor *in = hrn_tape_wrap(&tape, x, 4, (int64_t[]){1, 3, 150, 150}, "face");
 *     struct hrn_tensor *d = hrn_facerec_forward(&fr, &tape, in);   // (1,128)
 *   fail:
 *     hrn_facerec_free(&fr);
 *
 * The net (FaceRecognitionNet.forwardInput): input (N,3,150,150) = (RGB 0..255 - mean
 * (122.782, 117.001, 104.298)) / 255; conv 7x7/2 valid 3->32, max pool 3/2 valid; residual blocks
 * 32 x3, a down block to 64, 64 x3, down to 128, 128 x2, down to 256, 256 x2, a last down block
 * 256 -> 256; the spatial mean; FC 256->128. Each conv is conv + bias, a per-channel scale layer
 * (x·s + t) and ReLU except the second conv of a block. A down block: conv 3x3/2 valid, conv 3x3
 * same; the shortcut is a 2x2/2 average pool, zero-padded in channels when they double, and the
 * conv branch gets a zero row and column at the bottom/right when the pool's map is larger
 * (8 -> 3 vs 4, 4 -> 1 vs 2). The scale layer is folded into the conv at load (w·s, b·s + t):
 * the same function; float rounding differs from TF's by ~1e-7 relative. Activations NCHW. */
#ifndef HRN_FACEREC_H
#define HRN_FACEREC_H

#include "hrn_autodiff.h"
#include "hrn_core.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    HRN_FACEREC_INPUT = 150,
    HRN_FACEREC_DIM = 128,
    HRN_FACEREC_CONVS = 29, /* conv32_down, then two per residual block (14 blocks) */
};

/* One conv with the scale layer folded in: w (cout,cin,k,k) (hrn_conv2d's layout), b (cout). */
struct hrn_frconv {
    float *w, *b;
    int k, cin, cout;
};

/* All weights in one malloc (params) with views into it. */
struct hrn_facerec {
    float *params;
    size_t n_params;
    struct hrn_frconv conv[HRN_FACEREC_CONVS];
    float *fc; /* (256,128) */
};

/* Read face_recognition_model/... from the HDF5 of hrn-detect convert, check every shape, fold
 * the scale layers. HRN_ERR_FORMAT naming the tensor when the file was converted without the
 * model (convert again). fr must be zeroed. */
enum hrn_status hrn_facerec_load(struct hrn_facerec *fr, const char *h5_path);
void hrn_facerec_free(struct hrn_facerec *fr); /* NULL-safe */

/* x (N,3,150,150) normalised as above -> descriptors (N,128); NULL + message on a bad shape.
 * Differentiable in x through the tape. */
struct hrn_tensor *hrn_facerec_forward(const struct hrn_facerec *fr, struct hrn_tape *t,
                                       struct hrn_tensor *x);

/* face-api's input for a crop (cx,cy,cw,ch) of a (h,w,3) 0..255 photo (row stride w): centred
 * black padding to a square, TF's legacy bilinear resize to 150, normalised; x is (3,150,150)
 * planar (what hrn_facerec_forward takes). */
void hrn_facerec_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch);

/* Normalise RGB in [0,1] (planar (N,3,H,W), as the renderer and hrn_image give) the way face-api
 * does for 0..255 input, on the tape: (255·x - mean)/255 = x - mean/255. Differentiable. */
struct hrn_tensor *hrn_facerec_normalize(struct hrn_tape *t, struct hrn_tensor *rgb01);

/* Descriptors (B,128) of face crops img (B,3,H,W), RGB in [0,1] (a rendered face, the aligned
 * photo crop): bilinearly resized to 150 (hrn_interp_bilinear, align_corners false), normalised,
 * hrn_facerec_forward. Differentiable in img; what hrn_loss_identity compares. */
struct hrn_tensor *hrn_facerec_image(const struct hrn_facerec *fr, struct hrn_tape *t,
                                     struct hrn_tensor *img);

#ifdef __cplusplus
}
#endif
#endif /* HRN_FACEREC_H */
