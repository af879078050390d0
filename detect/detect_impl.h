/* detect_impl.h: the detect module's private declarations: a small JSON reader (for TF.js
 * weight manifests) and the NHWC inference kernels the two networks are built from. */
#ifndef HRN_DETECT_IMPL_H
#define HRN_DETECT_IMPL_H

#include "hrn_detect.h"

#include <stdint.h>

/* --- JSON (json.c): enough for a TF.js weights manifest ----------------------------------- */

enum hrn_json_kind { HRN_JSON_NULL, HRN_JSON_BOOL, HRN_JSON_NUM, HRN_JSON_STR, HRN_JSON_ARR,
                     HRN_JSON_OBJ };

/* One value. Arrays and objects list their children with first/next; an object's children carry
 * their key. Strings are NUL-terminated copies (escapes decoded; \u only below 0x80). */
struct hrn_json {
    enum hrn_json_kind kind;
    double num;
    char *str;  /* HRN_JSON_STR */
    char *key;  /* member of an object */
    struct hrn_json *first, *next;
    int n;      /* children */
};

/* Parse text (len bytes). The tree is malloc()ed: free with hrn_json_free. HRN_ERR_FORMAT with
 * "<what>: JSON error at byte N: ..." on bad input. */
enum hrn_status hrn_json_parse(const char *text, size_t len, const char *what,
                               struct hrn_json **out);
void hrn_json_free(struct hrn_json *v);
/* The member `key` of an object, or NULL. */
const struct hrn_json *hrn_json_get(const struct hrn_json *obj, const char *key);

/* --- kernels (layers.c): activations (H,W,C) row-major, one image --------------------------- */

/* out (oh,ow,cout) = conv(in (h,w,cin), w (k,k,cin,cout)) + b, stride s, padding pt/pl at the
 * top/left (the bottom/right padding follows from oh/ow); zeros outside the input. Direct for
 * cin <= 4 (the first layers), im2col + sgemm otherwise. */
void hrn_dk_conv(float *out, const float *in, const struct hrn_dconv *c, int h, int w, int s,
                 int pt, int pl, int oh, int ow);
/* The same, then face-api's leaky ReLU on each block of rows while it is in cache (leaky != 0). */
void hrn_dk_conv_act(float *out, const float *in, const struct hrn_dconv *c, int h, int w, int s,
                     int pt, int pl, int oh, int ow, int leaky);
/* out (oh,ow,c) = depthwise 3x3 conv of in (h,w,c) with dw (3,3,c), stride s, pads pt/pl. */
void hrn_dk_depthwise3(float *out, const float *in, const float *dw, int h, int w, int c, int s,
                       int pt, int pl, int oh, int ow);
/* out (p,cout) = in (p,cin) · pw (cin,cout) + b: a 1x1 conv as sgemm, split over threads. */
void hrn_dk_pointwise(float *out, const float *in, const float *pw, const float *b, int64_t p,
                      int cin, int cout);
/* The same, then face-api's leaky ReLU on each block of rows while it is in cache (leaky != 0). */
void hrn_dk_pointwise_act(float *out, const float *in, const float *pw, const float *b,
                          int64_t p, int cin, int cout, int leaky);
/* TF's max pool, k x k, stride s, 'same' (pads ignored), out (oh,ow,c), oh = ceil(h/s). */
void hrn_dk_maxpool_same(float *out, const float *in, int h, int w, int c, int k, int s);
/* face-api's leaky ReLU, relu(x - 0.1x) + 0.1x, in place over n values. */
void hrn_dk_leaky(float *x, int64_t n);
/* x = relu(x) in place. */
void hrn_dk_relu(float *x, int64_t n);

/* TF 'same' padding before the data along one axis: floor(total/2) of
 * total = max((out-1)·s + k - in, 0), out = ceil(in/s). */
int hrn_dk_same_pad(int in, int k, int s, int *out);

/* The input face-api's landmark and recognition nets build from a crop (cx,cy,cw,ch) of a
 * (h,w,3) 0..255 photo: centred black padding to a square, TF's legacy bilinear resize to
 * size x size, minus the mean RGB (122.782, 117.001, 104.298), /255; x is (size,size,3). */
void hrn_dk_crop_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch,
                       int size);

/* Make sure the workspace holds n floats (keeps nothing). */
enum hrn_status hrn_detect_workspace(struct hrn_detect *d, size_t n);

#endif /* HRN_DETECT_IMPL_H */
