/* layers.c: the inference kernels of face-api's two networks, on (H,W,C) activations with
 * TensorFlow's weight layouts. hrn's autodiff conv layer has neither groups (depthwise) nor
 * TensorFlow's asymmetric 'same' padding, and these nets never train, so they get their own
 * forward-only kernels: full and 1x1 convolutions go through sgemm (im2col by row blocks),
 * depthwise convolution and pooling are plain loops; all split over OpenMP threads (sgemm runs
 * single-threaded inside a parallel region). */
#include "detect_impl.h"

#include <cblas.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

enum { ROW_BLOCK = 4 }; /* output rows per im2col block */

int hrn_dk_same_pad(int in, int k, int s, int *out) {
    int o = (in + s - 1) / s;
    int total = (o - 1) * s + k - in;
    if (out) *out = o;
    return total > 0 ? total / 2 : 0;
}

/* im2col for output rows [y0, y1): col (rows·ow, k·k·cin), zeros outside the input. */
static void im2col_rows(float *col, const float *in, const struct hrn_dconv *c, int h, int w,
                        int s, int pt, int pl, int ow, int y0, int y1) {
    int k = c->k, cin = c->cin, kk = k * k * cin;
    for (int oy = y0; oy < y1; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float *dst = col + ((size_t)(oy - y0) * ow + ox) * kk;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * s - pt + ky;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * s - pl + kx;
                    float *d = dst + (ky * k + kx) * cin;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                        memset(d, 0, (size_t)cin * sizeof *d);
                    else
                        memcpy(d, in + ((size_t)iy * w + ix) * cin, (size_t)cin * sizeof *d);
                }
            }
        }
}

/* out rows = bias, then += col · w (HWIO flattened is (k·k·cin, cout)). */
static void gemm_bias(float *out, const float *col, const float *wt, const float *b, int m, int kk,
                      int cout) {
    for (int i = 0; i < m; i++) memcpy(out + (size_t)i * cout, b, (size_t)cout * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, cout, kk, 1.0f, col, kk, wt, cout,
                1.0f, out, cout);
}

void hrn_dk_conv(float *out, const float *in, const struct hrn_dconv *c, int h, int w, int s,
                 int pt, int pl, int oh, int ow) {
    int kk = c->k * c->k * c->cin;
    int nblocks = (oh + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel
    {
        float *col = malloc((size_t)ROW_BLOCK * ow * kk * sizeof *col);
        HRN_ASSERT(col); /* a few hundred KB; running out here means the process is done for */
#pragma omp for schedule(static)
        for (int bi = 0; bi < nblocks; bi++) {
            int y0 = bi * ROW_BLOCK, y1 = y0 + ROW_BLOCK < oh ? y0 + ROW_BLOCK : oh;
            im2col_rows(col, in, c, h, w, s, pt, pl, ow, y0, y1);
            gemm_bias(out + (size_t)y0 * ow * c->cout, col, c->w, c->b, (y1 - y0) * ow, kk,
                      c->cout);
        }
        free(col);
    }
}

/* One output row of the depthwise 3x3 conv. */
static void depthwise_row(float *o, const float *in, const float *dw, int h, int w, int c, int s,
                          int pt, int pl, int oy, int ow) {
    for (int ox = 0; ox < ow; ox++) {
        float *acc = o + (size_t)ox * c;
        memset(acc, 0, (size_t)c * sizeof *acc);
        for (int ky = 0; ky < 3; ky++) {
            int iy = oy * s - pt + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < 3; kx++) {
                int ix = ox * s - pl + kx;
                if (ix < 0 || ix >= w) continue;
                const float *x = in + ((size_t)iy * w + ix) * c, *k = dw + (ky * 3 + kx) * c;
                for (int ch = 0; ch < c; ch++) acc[ch] += x[ch] * k[ch];
            }
        }
    }
}

void hrn_dk_depthwise3(float *out, const float *in, const float *dw, int h, int w, int c, int s,
                       int pt, int pl, int oh, int ow) {
#pragma omp parallel for schedule(static)
    for (int oy = 0; oy < oh; oy++)
        depthwise_row(out + (size_t)oy * ow * c, in, dw, h, w, c, s, pt, pl, oy, ow);
}

void hrn_dk_pointwise(float *out, const float *in, const float *pw, const float *b, int64_t p,
                      int cin, int cout) {
    enum { CHUNK = 256 };
    int64_t nchunks = (p + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t ci = 0; ci < nchunks; ci++) {
        int64_t r0 = ci * CHUNK, r1 = r0 + CHUNK < p ? r0 + CHUNK : p;
        gemm_bias(out + r0 * cout, in + r0 * cin, pw, b, (int)(r1 - r0), cin, cout);
    }
}

void hrn_dk_maxpool_same(float *out, const float *in, int h, int w, int c, int k, int s) {
    int oh, ow;
    int pt = hrn_dk_same_pad(h, k, s, &oh), pl = hrn_dk_same_pad(w, k, s, &ow);
#pragma omp parallel for schedule(static)
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float *o = out + ((size_t)oy * ow + ox) * c;
            for (int ch = 0; ch < c; ch++) o[ch] = -FLT_MAX;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * s - pt + ky;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * s - pl + kx;
                    if (ix < 0 || ix >= w) continue;
                    const float *x = in + ((size_t)iy * w + ix) * c;
                    for (int ch = 0; ch < c; ch++) o[ch] = x[ch] > o[ch] ? x[ch] : o[ch];
                }
            }
        }
}

void hrn_dk_leaky(float *x, int64_t n) {
    /* face-api's formula, not max(x, 0.1x): the same to the last bit as its TensorFlow ops */
    for (int64_t i = 0; i < n; i++) {
        float m = x[i] * 0.1f, r = x[i] - m;
        x[i] = (r > 0.0f ? r : 0.0f) + m;
    }
}

void hrn_dk_relu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

enum hrn_status hrn_detect_workspace(struct hrn_detect *d, size_t n) {
    if (d->ws_floats >= n) return HRN_OK;
    free(d->ws);
    d->ws = malloc(n * sizeof *d->ws);
    d->ws_floats = d->ws ? n : 0;
    if (!d->ws) return hrn_error_set(HRN_ERR_NOMEM, "detect: cannot allocate %zu floats", n);
    return HRN_OK;
}
