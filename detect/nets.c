/* nets.c: loading the converted weights and the forward passes of face-api's tiny face
 * detector (TinyYolov2Base.runMobilenet) and 68-point landmark net (FaceFeatureExtractor +
 * FaceProcessor.runNet), on (H,W,C) activations. */
#include "detect_impl.h"

#include "hrn_h5.h"

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- weight table ------------------------------------------------------------------------------ */

enum { MAX_TENSORS = 96 };

struct wentry {
    char name[96];
    int ndim;
    int64_t shape[4];
    const float **dst;
};

struct wtable {
    struct wentry e[MAX_TENSORS];
    int n;
};

static void add(struct wtable *t, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                int64_t d3, const float **dst) {
    HRN_ASSERT(t->n < MAX_TENSORS);
    struct wentry *e = &t->e[t->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    int64_t s[4] = {d0, d1, d2, d3};
    memcpy(e->shape, s, sizeof s);
    e->dst = dst;
}

static void add_conv(struct wtable *t, const char *prefix, struct hrn_dconv *c, int k, int cin,
                     int cout) {
    char n[96];
    *c = (struct hrn_dconv){.k = k, .cin = cin, .cout = cout};
    snprintf(n, sizeof n, "%s/filters", prefix);
    add(t, n, 4, k, k, cin, cout, &c->w);
    snprintf(n, sizeof n, "%s/bias", prefix);
    add(t, n, 1, cout, 0, 0, 0, &c->b);
}

static void add_sep(struct wtable *t, const char *prefix, struct hrn_dsep *c, int cin, int cout) {
    char n[96];
    *c = (struct hrn_dsep){.cin = cin, .cout = cout};
    snprintf(n, sizeof n, "%s/depthwise_filter", prefix);
    add(t, n, 4, 3, 3, cin, 1, &c->dw);
    snprintf(n, sizeof n, "%s/pointwise_filter", prefix);
    add(t, n, 4, 1, 1, cin, cout, &c->pw);
    snprintf(n, sizeof n, "%s/bias", prefix);
    add(t, n, 1, cout, 0, 0, 0, &c->b);
}

/* Every tensor of both nets, in the order they sit in the flat buffer. */
static void build_table(struct hrn_detect *d, struct wtable *t) {
    char p[96];
    t->n = 0;
    add_conv(t, "tiny_face_detector/conv0", &d->tf_conv0, 3, 3, 16);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "tiny_face_detector/conv%d", i + 1);
        add_sep(t, p, &d->tf_sep[i], 16 << i, 32 << i);
    }
    add_conv(t, "tiny_face_detector/conv8", &d->tf_conv8, 1, 512, 25);
    add_conv(t, "face_landmark_68/dense0/conv0", &d->lm_conv0, 3, 3, 32);
    for (int b = 0; b < 4; b++)
        for (int c = b == 0 ? 1 : 0; c < 4; c++) {
            int cout = 32 << b, cin = c == 0 ? cout / 2 : cout;
            snprintf(p, sizeof p, "face_landmark_68/dense%d/conv%d", b, c);
            add_sep(t, p, &d->lm_sep[b][c], cin, cout);
        }
    add(t, "face_landmark_68/fc/weights", 2, 256, 136, 0, 0, &d->lm_fc_w);
    add(t, "face_landmark_68/fc/bias", 1, 136, 0, 0, 0, &d->lm_fc_b);
}

static int64_t numel(const struct wentry *e) {
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++) n *= e->shape[i];
    return n;
}

enum hrn_status hrn_detect_load(struct hrn_detect *d, const char *h5_path) {
    struct wtable t;
    struct hrn_h5 *f = NULL;
    char fmt[64] = "";
    memset(d, 0, sizeof *d);
    build_table(d, &t);
    enum hrn_status st = hrn_h5_open(h5_path, &f);
    if (!st) st = hrn_h5_attr_read_str(f, "/", "hrn_format", fmt, sizeof fmt);
    if (!st && strcmp(fmt, "hrn-faceapi") != 0)
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: hrn_format is '%s', expected 'hrn-faceapi' "
                                           "(write it with hrn-detect convert)", h5_path, fmt);
    for (int i = 0; i < t.n; i++) d->n_params += (size_t)numel(&t.e[i]);
    if (!st && !(d->params = malloc(d->n_params * sizeof *d->params)))
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot allocate %zu weights", h5_path, d->n_params);
    size_t off = 0;
    for (int i = 0; !st && i < t.n; i++) {
        st = hrn_h5_read_f32(f, t.e[i].name, t.e[i].ndim, t.e[i].shape, d->params + off);
        *t.e[i].dst = d->params + off;
        off += (size_t)numel(&t.e[i]);
    }
    hrn_h5_close(f);
    if (st) hrn_detect_free(d);
    return st;
}

void hrn_detect_free(struct hrn_detect *d) {
    if (!d) return;
    free(d->params);
    free(d->ws);
    free(d->io);
    memset(d, 0, sizeof *d);
}

/* --- tiny face detector ----------------------------------------------------------------------- */

/* face-api's separable conv of the detector: zero pad 1, depthwise 3x3 valid, pointwise + bias,
 * leaky. in (h,w,cin) -> out (h,w,cout); tmp holds (h,w,cin). */
static void tf_sepconv(float *out, float *tmp, const float *in, const struct hrn_dsep *c, int h,
                       int w) {
    hrn_dk_depthwise3(tmp, in, c->dw, h, w, c->cin, 1, 1, 1, h, w);
    hrn_dk_pointwise_act(out, tmp, c->pw, c->b, (int64_t)h * w, c->cin, c->cout, 1);
}

enum hrn_status hrn_tinyface_forward(struct hrn_detect *d, const float *x, int size, float *out) {
    if (size < 64 || size > 4096 || size % 32)
        return hrn_error_set(HRN_ERR_INVALID, "tiny face detector: input size %d is not a "
                                              "multiple of 32 in 64..4096", size);
    size_t plane = (size_t)size * size * 16;
    enum hrn_status st = hrn_detect_workspace(d, 3 * plane);
    if (st) return st;
    float *a = d->ws, *b = a + plane, *tmp = b + plane;
    int h = size - 2, w = size - 2; /* conv0 is 'valid' */
    hrn_dk_conv_act(a, x, &d->tf_conv0, size, size, 1, 0, 0, h, w, 1); /* a: (h,w,16) */
    for (int i = 0; i < 5; i++) {
        int oh, ow, c = d->tf_sep[i].cin;
        hrn_dk_same_pad(h, 2, 2, &oh);
        hrn_dk_same_pad(w, 2, 2, &ow);
        hrn_dk_maxpool_same(b, a, h, w, c, 2, 2); /* b: (oh,ow,c) */
        h = oh;
        w = ow;
        tf_sepconv(a, tmp, b, &d->tf_sep[i], h, w); /* a: (h,w,2c) */
    }
    hrn_dk_maxpool_same(b, a, h, w, 512, 2, 1); /* b: (h,w,512), h = size/32 */
    hrn_dk_pointwise(out, b, d->tf_conv8.w, d->tf_conv8.b, (int64_t)h * w, 512, 25);
    return HRN_OK;
}

/* --- 68-point landmark net -------------------------------------------------------------------- */

/* A separable conv 'same' with stride s, + bias (no activation). in (h,w,cin) -> out (oh,ow). */
static void lm_sepconv(float *out, float *tmp, const float *in, const struct hrn_dsep *c, int h,
                       int w, int s, int *oh, int *ow) {
    int pt = hrn_dk_same_pad(h, 3, s, oh), pl = hrn_dk_same_pad(w, 3, s, ow);
    hrn_dk_depthwise3(tmp, in, c->dw, h, w, c->cin, s, pt, pl, *oh, *ow);
    hrn_dk_pointwise(out, tmp, c->pw, c->b, (int64_t)*oh * *ow, c->cin, c->cout);
}

/* out = relu(a + (b + (c + d))) over n values (c and/or d may be NULL), TF's summation order. */
static void relu_sum(float *out, const float *a, const float *b, const float *c, const float *d,
                     int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float s = c ? (d ? c[i] + d[i] : c[i]) : 0.0f;
        s = c ? b[i] + s : b[i];
        s = a[i] + s;
        out[i] = s > 0.0f ? s : 0.0f;
    }
}

/* denseBlock4: in (h,w,·) -> out (h/2,w/2,cout). buf holds 5 planes of (h/2·w/2·cout) and the
 * depthwise temporary (h·w·cin). */
static void dense_block(struct hrn_detect *d, int b, float *out, const float *in, float *buf,
                        int h, int w, int *oh, int *ow) {
    int cout = 32 << b;
    int64_t n = (int64_t)((h + 1) / 2) * ((w + 1) / 2) * cout;
    float *o1 = buf, *o2 = o1 + n, *o3 = o2 + n, *o4 = o3 + n, *in34 = o4 + n, *tmp = in34 + n;
    if (b == 0) {
        int pt = hrn_dk_same_pad(h, 3, 2, oh), pl = hrn_dk_same_pad(w, 3, 2, ow);
        hrn_dk_conv(o1, in, &d->lm_conv0, h, w, 2, pt, pl, *oh, *ow);
    } else {
        lm_sepconv(o1, tmp, in, &d->lm_sep[b][0], h, w, 2, oh, ow);
    }
    hrn_dk_relu(o1, n);
    int hh, ww;
    lm_sepconv(o2, tmp, o1, &d->lm_sep[b][1], *oh, *ow, 1, &hh, &ww);
    relu_sum(in34, o1, o2, NULL, NULL, n);
    lm_sepconv(o3, tmp, in34, &d->lm_sep[b][2], *oh, *ow, 1, &hh, &ww);
    relu_sum(in34, o1, o2, o3, NULL, n);
    lm_sepconv(o4, tmp, in34, &d->lm_sep[b][3], *oh, *ow, 1, &hh, &ww);
    relu_sum(out, o1, o2, o3, o4, n);
}

enum hrn_status hrn_lm68_forward(struct hrn_detect *d, const float *x, float *out) {
    enum { S = HRN_LM68_INPUT };
    size_t act = (size_t)(S / 2) * (S / 2) * 32; /* the largest block output */
    enum hrn_status st = hrn_detect_workspace(d, 2 * act + 5 * act + (size_t)S * S * 32);
    if (st) return st;
    float *a = d->ws, *b = a + act, *buf = b + act;
    int h = S, w = S;
    const float *in = x;
    for (int blk = 0; blk < 4; blk++) {
        int oh, ow;
        float *dst = blk % 2 ? b : a;
        dense_block(d, blk, dst, in, buf, h, w, &oh, &ow);
        in = dst;
        h = oh;
        w = ow;
    }
    /* avgPool 7x7 stride 2 'valid' on (7,7,256): the mean of each channel (tfjs sums in double) */
    HRN_ASSERT(h == 7 && w == 7);
    float feat[256];
    for (int c = 0; c < 256; c++) {
        double s = 0;
        for (int i = 0; i < 49; i++) s += (double)in[i * 256 + c];
        feat[c] = (float)(s / 49);
    }
    memcpy(out, d->lm_fc_b, HRN_LM68_OUT * sizeof *out);
    cblas_sgemv(CblasRowMajor, CblasTrans, 256, HRN_LM68_OUT, 1.0f, d->lm_fc_w, HRN_LM68_OUT, feat,
                1, 1.0f, out, 1);
    return HRN_OK;
}
