/* facerec.c: face-api's face_recognition_model (128-D descriptor) on hrn's autodiff ops; the
 * architecture is described in hrn_facerec.h. */
#include "detect_impl.h"
#include "hrn_facerec.h"

#include "hrn_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The residual blocks in order: name, input and output channels, down-sampling. */
static const struct {
    const char *name;
    int cin, cout, down;
} BLOCKS[14] = {
    {"conv32_1", 32, 32, 0},     {"conv32_2", 32, 32, 0},      {"conv32_3", 32, 32, 0},
    {"conv64_down", 32, 64, 1},  {"conv64_1", 64, 64, 0},      {"conv64_2", 64, 64, 0},
    {"conv64_3", 64, 64, 0},     {"conv128_down", 64, 128, 1}, {"conv128_1", 128, 128, 0},
    {"conv128_2", 128, 128, 0},  {"conv256_down", 128, 256, 1}, {"conv256_1", 256, 256, 0},
    {"conv256_2", 256, 256, 0},  {"conv256_down_out", 256, 256, 1}};

static void conv_shape(struct hrn_frconv *c, int k, int cin, int cout) {
    *c = (struct hrn_frconv){.k = k, .cin = cin, .cout = cout};
}

static size_t conv_floats(const struct hrn_frconv *c) {
    return (size_t)c->k * c->k * c->cin * c->cout + (size_t)c->cout;
}

/* Read one conv + scale layer under `prefix` (TF layout (k,k,cin,cout)) into c's views, as
 * (cout,cin,k,k) with the scale folded in. tmp holds k·k·cin·cout floats. */
static enum hrn_status read_conv(struct hrn_h5 *f, const char *prefix, struct hrn_frconv *c,
                                 float *tmp) {
    char n[160];
    int k = c->k, ci = c->cin, co = c->cout;
    float s[256], t[256];
    enum hrn_status st;
    snprintf(n, sizeof n, "face_recognition/%s/conv/filters", prefix);
    HRN_TRY(hrn_h5_read_f32(f, n, 4, (int64_t[]){k, k, ci, co}, tmp));
    snprintf(n, sizeof n, "face_recognition/%s/conv/bias", prefix);
    HRN_TRY(hrn_h5_read_f32(f, n, 1, (int64_t[]){co}, c->b));
    snprintf(n, sizeof n, "face_recognition/%s/scale/weights", prefix);
    HRN_TRY(hrn_h5_read_f32(f, n, 1, (int64_t[]){co}, s));
    snprintf(n, sizeof n, "face_recognition/%s/scale/biases", prefix);
    HRN_TRY(hrn_h5_read_f32(f, n, 1, (int64_t[]){co}, t));
    /* (conv + b)·s + t = conv with w·s, + (b·s + t) */
    for (int o = 0; o < co; o++) {
        for (int i = 0; i < ci; i++)
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++)
                    c->w[(((size_t)o * ci + i) * k + y) * k + x] =
                        tmp[(((size_t)y * k + x) * ci + i) * co + o] * s[o];
        c->b[o] = c->b[o] * s[o] + t[o];
    }
    return HRN_OK;
fail:
    return st;
}

enum hrn_status hrn_facerec_load(struct hrn_facerec *fr, const char *h5_path) {
    struct hrn_h5 *f = NULL;
    float *tmp = NULL;
    enum hrn_status st;
    memset(fr, 0, sizeof *fr);
    conv_shape(&fr->conv[0], 7, 3, 32);
    for (int b = 0; b < 14; b++) {
        conv_shape(&fr->conv[1 + 2 * b], 3, BLOCKS[b].cin, BLOCKS[b].cout);
        conv_shape(&fr->conv[2 + 2 * b], 3, BLOCKS[b].cout, BLOCKS[b].cout);
    }
    for (int i = 0; i < HRN_FACEREC_CONVS; i++) fr->n_params += conv_floats(&fr->conv[i]);
    fr->n_params += 256 * HRN_FACEREC_DIM;
    fr->params = malloc(fr->n_params * sizeof *fr->params);
    tmp = malloc((size_t)3 * 3 * 256 * 256 * sizeof *tmp); /* the largest conv */
    if (!fr->params || !tmp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot allocate the face descriptor's weights",
                           h5_path);
        goto fail;
    }
    float *p = fr->params;
    for (int i = 0; i < HRN_FACEREC_CONVS; i++) {
        struct hrn_frconv *c = &fr->conv[i];
        c->w = p;
        c->b = p + (size_t)c->k * c->k * c->cin * c->cout;
        p += conv_floats(c);
    }
    fr->fc = p;
    HRN_TRY(hrn_h5_open(h5_path, &f));
    HRN_TRY(read_conv(f, "conv32_down", &fr->conv[0], tmp));
    for (int b = 0; b < 14; b++) {
        char n[96];
        snprintf(n, sizeof n, "%s/conv1", BLOCKS[b].name);
        HRN_TRY(read_conv(f, n, &fr->conv[1 + 2 * b], tmp));
        snprintf(n, sizeof n, "%s/conv2", BLOCKS[b].name);
        HRN_TRY(read_conv(f, n, &fr->conv[2 + 2 * b], tmp));
    }
    HRN_TRY(hrn_h5_read_f32(f, "face_recognition/fc", 2, (int64_t[]){256, HRN_FACEREC_DIM},
                            fr->fc));
    hrn_h5_close(f);
    free(tmp);
    return HRN_OK;
fail:
    if (st == HRN_ERR_FORMAT || st == HRN_ERR_IO)
        st = hrn_error_prefix(st, "%s: face_recognition_model (convert the npm package's model "
                                  "folder with hrn-detect convert; docs/DETECTION.md)", h5_path);
    hrn_h5_close(f);
    free(tmp);
    hrn_facerec_free(fr);
    return st;
}

void hrn_facerec_free(struct hrn_facerec *fr) {
    if (!fr) return;
    free(fr->params);
    memset(fr, 0, sizeof *fr);
}

/* conv (+ folded scale) with stride s and symmetric padding pad, then ReLU when relu. */
static struct hrn_tensor *conv_layer(struct hrn_tape *t, struct hrn_tensor *x,
                                     const struct hrn_frconv *c, int s, int pad, int relu) {
    struct hrn_tensor *w = hrn_tape_wrap(t, c->w, 4, (int64_t[]){c->cout, c->cin, c->k, c->k},
                                         "facerec.w");
    struct hrn_tensor *b = hrn_tape_wrap(t, c->b, 1, (int64_t[]){c->cout}, "facerec.b");
    struct hrn_conv2d_params p = {.stride = {s, s}, .pad = {pad, pad}};
    struct hrn_tensor *y = hrn_conv2d(t, x, w, b, &p);
    return relu ? hrn_relu(t, y) : y;
}

/* relu(conv2(relu(conv1(x))) + x), 3x3 'same' convs. */
static struct hrn_tensor *residual(struct hrn_tape *t, struct hrn_tensor *x,
                                   const struct hrn_frconv *c) {
    struct hrn_tensor *y = conv_layer(t, x, &c[0], 1, 1, 1);
    y = conv_layer(t, y, &c[1], 1, 1, 0);
    return hrn_relu(t, hrn_add(t, y, x));
}

/* relu(avgpool2(x) zero-padded to cout channels + conv2(relu(conv1/2 valid(x))) zero-padded at the
 * bottom/right to the pool's size). x (N,C,H,W). */
static struct hrn_tensor *residual_down(struct hrn_tape *t, struct hrn_tensor *x,
                                        const struct hrn_frconv *c) {
    struct hrn_tensor *y = conv_layer(t, x, &c[0], 2, 0, 1);
    y = conv_layer(t, y, &c[1], 1, 1, 0);
    struct hrn_pool2d_params pp = {.kernel = {2, 2}, .stride = {2, 2}};
    struct hrn_tensor *pool = hrn_avg_pool2d(t, x, &pp);
    if (!y || !pool) return NULL;
    if (pool->shape[1] != y->shape[1]) {
        int64_t zs[4] = {pool->shape[0], y->shape[1] - pool->shape[1], pool->shape[2],
                         pool->shape[3]};
        struct hrn_tensor *parts[2] = {pool, hrn_tape_tensor(t, 4, zs, "facerec.zeros")};
        pool = hrn_concat(t, parts, 2, 1);
        if (!pool) return NULL;
    }
    int dh = (int)(pool->shape[2] - y->shape[2]), dw = (int)(pool->shape[3] - y->shape[3]);
    if (dh || dw) y = hrn_pad2d(t, y, 0, dw, 0, dh, HRN_PAD_ZERO);
    return hrn_relu(t, hrn_add(t, pool, y));
}

struct hrn_tensor *hrn_facerec_forward(const struct hrn_facerec *fr, struct hrn_tape *t,
                                       struct hrn_tensor *x) {
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[1] != 3 || x->shape[2] != HRN_FACEREC_INPUT ||
        x->shape[3] != HRN_FACEREC_INPUT) {
        hrn_error_set(HRN_ERR_INVALID, "face descriptor: input (%lld,%lld,%lld,%lld), expected "
                      "(N,3,150,150)", (long long)x->shape[0], (long long)x->shape[1],
                      (long long)x->shape[2], (long long)x->shape[3]);
        return NULL;
    }
    struct hrn_tensor *y = conv_layer(t, x, &fr->conv[0], 2, 0, 1); /* (N,32,72,72) */
    struct hrn_pool2d_params mp = {.kernel = {3, 3}, .stride = {2, 2}};
    y = hrn_max_pool2d(t, y, &mp); /* (N,32,35,35) */
    for (int b = 0; b < 14; b++)
        y = BLOCKS[b].down ? residual_down(t, y, &fr->conv[1 + 2 * b])
                           : residual(t, y, &fr->conv[1 + 2 * b]); /* ... (N,256,2,2) */
    y = hrn_global_avg_pool2d(t, y);                               /* (N,256,1,1) */
    if (!y) return NULL;
    y = hrn_reshape(t, y, 2, (int64_t[]){x->shape[0], 256});
    struct hrn_tensor *fc = hrn_tape_wrap(t, fr->fc, 2, (int64_t[]){256, HRN_FACEREC_DIM},
                                          "facerec.fc");
    return hrn_matmul(t, y, fc, 0); /* (N,128) */
}

void hrn_facerec_input(float *x, const float *img_hwc, int w, int cx, int cy, int cw, int ch) {
    enum { S = HRN_FACEREC_INPUT };
    float *hwc = malloc((size_t)S * S * 3 * sizeof *hwc);
    HRN_ASSERT(hwc); /* 270 KB */
    hrn_dk_crop_input(hwc, img_hwc, w, cx, cy, cw, ch, S);
    for (int i = 0; i < S * S; i++)
        for (int c = 0; c < 3; c++) x[(size_t)c * S * S + i] = hwc[3 * i + c];
    free(hwc);
}

struct hrn_tensor *hrn_facerec_normalize(struct hrn_tape *t, struct hrn_tensor *rgb01) {
    static const float MEAN[3] = {122.782f, 117.001f, 104.298f};
    if (!rgb01) return NULL;
    if (rgb01->ndim != 4 || rgb01->shape[1] != 3) {
        hrn_error_set(HRN_ERR_INVALID, "face descriptor: normalise expects (N,3,H,W)");
        return NULL;
    }
    int64_t hw = rgb01->shape[2] * rgb01->shape[3];
    struct hrn_tensor *m = hrn_tape_tensor(t, 3, (int64_t[]){3, rgb01->shape[2], rgb01->shape[3]},
                                           "facerec.mean");
    if (!m) return NULL;
    for (int c = 0; c < 3; c++)
        for (int64_t i = 0; i < hw; i++) m->data[c * hw + i] = MEAN[c] / 255.0f;
    return hrn_sub(t, rgb01, m);
}

struct hrn_tensor *hrn_facerec_image(const struct hrn_facerec *fr, struct hrn_tape *t,
                                     struct hrn_tensor *img) {
    if (!img) return NULL;
    if (img->ndim != 4 || img->shape[1] != 3) {
        hrn_error_set(HRN_ERR_INVALID, "face descriptor: image must be (B,3,H,W)");
        return NULL;
    }
    struct hrn_tensor *x = img;
    if (img->shape[2] != HRN_FACEREC_INPUT || img->shape[3] != HRN_FACEREC_INPUT)
        x = hrn_interp_bilinear(t, img, HRN_FACEREC_INPUT, HRN_FACEREC_INPUT, 0);
    return hrn_facerec_forward(fr, t, hrn_facerec_normalize(t, x));
}
