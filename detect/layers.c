/* layers.c: the inference kernels of face-api's two networks, on (H,W,C) activations with
 * TensorFlow's weight layouts. hrn's autodiff conv layer has neither groups (depthwise) nor
 * TensorFlow's asymmetric 'same' padding, and these nets never train, so they get their own
 * forward-only kernels: full and 1x1 convolutions go through sgemm (im2col by row blocks), a
 * first layer with 3 input channels directly (im2col would copy 3 floats at a time), depthwise
 * convolution and pooling are plain loops; all split over OpenMP threads (sgemm runs
 * single-threaded inside a parallel region). The loops are compiled twice, for AVX2 and for
 * baseline x86-64, and the loader picks one for the CPU it runs on (HRN_DK_CLONES): the binary
 * stays portable and the vector loops get twice the width where the CPU has it. */
#include "detect_impl.h"

#include <cblas.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

enum { ROW_BLOCK = 4 }; /* output rows per im2col block */
enum { DIRECT_MAX_CIN = 4, DIRECT_MAX_COUT = 64 };

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HRN_DK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HRN_DK_CLONES
#endif

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

/* Eight floats as one value (GCC's vector extension): AVX registers in the AVX2 clone, pairs of
 * SSE registers in the baseline one. The compiler's own vectoriser kept the few-input-channel
 * conv's accumulators scalar. */
typedef float hrn_v8f __attribute__((vector_size(32)));

/* Unaligned load of 8 floats (a macro: a function returning an AVX value would warn about the
 * ABI in the baseline clone). */
#define HRN_V8_LOAD(v, p) memcpy(&(v), (p), sizeof(hrn_v8f))

/* One output pixel of a conv with few input channels: acc (nv·8 output channels) = the sum over
 * the window's taps in (ky, kx, ci) order. nv is a constant where it is inlined. */
static inline void conv_direct_px(hrn_v8f *acc, const float *in, const float *wt, int k, int cin,
                                  const int nv, int h, int w, int iy0, int ix0) {
    for (int j = 0; j < nv; j++) acc[j] = (hrn_v8f){0};
    for (int ky = 0; ky < k; ky++) {
        int iy = iy0 + ky;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < k; kx++) {
            int ix = ix0 + kx;
            if (ix < 0 || ix >= w) continue;
            const float *x = in + ((size_t)iy * w + ix) * cin;
            const float *wk = wt + (size_t)(ky * k + kx) * cin * nv * 8;
            for (int ci = 0; ci < cin; ci++)
                for (int j = 0; j < nv; j++) {
                    hrn_v8f wv;
                    HRN_V8_LOAD(wv, wk + (ci * nv + j) * 8);
                    acc[j] += x[ci] * wv;
                }
        }
    }
}

/* Four neighbouring output pixels (x stride s) whose windows lie inside the row range [0, w):
 * the same sums as conv_direct_px, but four independent accumulator chains share each weight
 * load (one chain waits on the adder's latency). acc is (4, nv) vectors. */
static inline void conv_direct_px4(hrn_v8f *acc, const float *in, const float *wt, int k,
                                   int cin, const int nv, int h, int w, int s, int iy0, int ix0) {
    for (int j = 0; j < 4 * nv; j++) acc[j] = (hrn_v8f){0};
    for (int ky = 0; ky < k; ky++) {
        int iy = iy0 + ky;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < k; kx++) {
            const float *x = in + ((size_t)iy * w + ix0 + kx) * cin;
            const float *wk = wt + (size_t)(ky * k + kx) * cin * nv * 8;
            for (int ci = 0; ci < cin; ci++)
                for (int j = 0; j < nv; j++) {
                    hrn_v8f wv;
                    HRN_V8_LOAD(wv, wk + (ci * nv + j) * 8);
                    for (int p = 0; p < 4; p++) acc[p * nv + j] += x[p * s * cin + ci] * wv;
                }
        }
    }
}

/* One output row of a conv with few input channels; the bias after the sum, as TensorFlow's
 * conv2d + add. cout is 16 or 32 (the nets' two first layers) or another multiple of 8. */
HRN_DK_CLONES
static void conv_direct_row(float *o, const float *in, const struct hrn_dconv *c, int h, int w,
                            int s, int pt, int pl, int oy, int ow) {
    int nv = c->cout / 8;
    hrn_v8f acc[DIRECT_MAX_COUT / 8];
    hrn_v8f acc4[4 * DIRECT_MAX_COUT / 8];
    int iy0 = oy * s - pt;
    for (int ox = 0; ox < ow;) {
        int ix0 = ox * s - pl;
        if (ox + 4 <= ow && ix0 >= 0 && ix0 + 3 * s + c->k <= w) {
            if (nv == 2)
                conv_direct_px4(acc4, in, c->w, c->k, c->cin, 2, h, w, s, iy0, ix0);
            else
                conv_direct_px4(acc4, in, c->w, c->k, c->cin, nv, h, w, s, iy0, ix0);
            for (int p = 0; p < 4; p++)
                for (int j = 0; j < nv; j++) {
                    hrn_v8f r;
                    HRN_V8_LOAD(r, c->b + 8 * j);
                    r = acc4[p * nv + j] + r;
                    memcpy(o + (size_t)(ox + p) * c->cout + 8 * j, &r, sizeof r);
                }
            ox += 4;
            continue;
        }
        if (nv == 2)
            conv_direct_px(acc, in, c->w, c->k, c->cin, 2, h, w, iy0, ix0);
        else if (nv == 4)
            conv_direct_px(acc, in, c->w, c->k, c->cin, 4, h, w, iy0, ix0);
        else
            conv_direct_px(acc, in, c->w, c->k, c->cin, nv, h, w, iy0, ix0);
        for (int j = 0; j < nv; j++) {
            hrn_v8f r;
            HRN_V8_LOAD(r, c->b + 8 * j);
            r = acc[j] + r;
            memcpy(o + (size_t)ox * c->cout + 8 * j, &r, sizeof r);
        }
        ox++;
    }
}

void hrn_dk_conv(float *out, const float *in, const struct hrn_dconv *c, int h, int w, int s,
                 int pt, int pl, int oh, int ow) {
    hrn_dk_conv_act(out, in, c, h, w, s, pt, pl, oh, ow, 0);
}

void hrn_dk_conv_act(float *out, const float *in, const struct hrn_dconv *c, int h, int w, int s,
                     int pt, int pl, int oh, int ow, int leaky) {
    if (c->cin <= DIRECT_MAX_CIN && c->cout <= DIRECT_MAX_COUT && c->cout % 8 == 0) {
#pragma omp parallel for schedule(static)
        for (int oy = 0; oy < oh; oy++) {
            float *o = out + (size_t)oy * ow * c->cout;
            conv_direct_row(o, in, c, h, w, s, pt, pl, oy, ow);
            if (leaky) hrn_dk_leaky(o, (int64_t)ow * c->cout); /* the row is still in cache */
        }
        return;
    }
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
            if (leaky)
                hrn_dk_leaky(out + (size_t)y0 * ow * c->cout, (int64_t)(y1 - y0) * ow * c->cout);
        }
        free(col);
    }
}

/* One output pixel whose 3x3 window lies inside the input: the nine taps summed in registers, in
 * the order of the general case (rows, then columns, from zero), so the result is the same. */
static inline void depthwise_inner(float *restrict acc, const float *restrict x,
                                   const float *restrict dw, int w, int c) {
    size_t r = (size_t)w * c;
    for (int ch = 0; ch < c; ch++) {
        float a = 0.0f;
        a += x[ch] * dw[ch];
        a += x[c + ch] * dw[c + ch];
        a += x[2 * c + ch] * dw[2 * c + ch];
        a += x[r + ch] * dw[3 * c + ch];
        a += x[r + c + ch] * dw[4 * c + ch];
        a += x[r + 2 * c + ch] * dw[5 * c + ch];
        a += x[2 * r + ch] * dw[6 * c + ch];
        a += x[2 * r + c + ch] * dw[7 * c + ch];
        a += x[2 * r + 2 * c + ch] * dw[8 * c + ch];
        acc[ch] = a;
    }
}

/* One output row of the depthwise 3x3 conv. */
HRN_DK_CLONES
static void depthwise_row(float *o, const float *in, const float *dw, int h, int w, int c, int s,
                          int pt, int pl, int oy, int ow) {
    int iy0 = oy * s - pt;
    for (int ox = 0; ox < ow; ox++) {
        int ix0 = ox * s - pl;
        if (iy0 >= 0 && iy0 + 2 < h && ix0 >= 0 && ix0 + 2 < w) {
            depthwise_inner(o + (size_t)ox * c, in + ((size_t)iy0 * w + ix0) * c, dw, w, c);
            continue;
        }
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
    hrn_dk_pointwise_act(out, in, pw, b, p, cin, cout, 0);
}

void hrn_dk_pointwise_act(float *out, const float *in, const float *pw, const float *b,
                          int64_t p, int cin, int cout, int leaky) {
    enum { CHUNK = 256 };
    int64_t nchunks = (p + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t ci = 0; ci < nchunks; ci++) {
        int64_t r0 = ci * CHUNK, r1 = r0 + CHUNK < p ? r0 + CHUNK : p;
        gemm_bias(out + r0 * cout, in + r0 * cin, pw, b, (int)(r1 - r0), cin, cout);
        /* while the chunk is still in cache */
        if (leaky) hrn_dk_leaky(out + r0 * cout, (r1 - r0) * cout);
    }
}

/* A 2x2 window inside the input: the four taps in the general loop's order, restrict so that the
 * channel loop vectorises. */
static inline void maxpool2_px(float *restrict o, const float *restrict x, size_t row, int c) {
    for (int ch = 0; ch < c; ch++) {
        float m = -FLT_MAX;
        m = x[ch] > m ? x[ch] : m;
        m = x[c + ch] > m ? x[c + ch] : m;
        m = x[row + ch] > m ? x[row + ch] : m;
        m = x[row + c + ch] > m ? x[row + c + ch] : m;
        o[ch] = m;
    }
}

/* One output row of the pool. */
HRN_DK_CLONES
static void maxpool_row(float *out, const float *in, int h, int w, int c, int k, int s, int pt,
                        int pl, int oy, int ow) {
    for (int ox = 0; ox < ow; ox++) {
        float *o = out + (size_t)ox * c;
        int iy0 = oy * s - pt, ix0 = ox * s - pl;
        if (k == 2 && iy0 >= 0 && iy0 + 1 < h && ix0 >= 0 && ix0 + 1 < w) {
            maxpool2_px(o, in + ((size_t)iy0 * w + ix0) * c, (size_t)w * c, c);
            continue;
        }
        for (int ch = 0; ch < c; ch++) o[ch] = -FLT_MAX;
        for (int ky = 0; ky < k; ky++) {
            int iy = iy0 + ky;
            if (iy < 0 || iy >= h) continue;
            for (int kx = 0; kx < k; kx++) {
                int ix = ix0 + kx;
                if (ix < 0 || ix >= w) continue;
                const float *x = in + ((size_t)iy * w + ix) * c;
                for (int ch = 0; ch < c; ch++) o[ch] = x[ch] > o[ch] ? x[ch] : o[ch];
            }
        }
    }
}

void hrn_dk_maxpool_same(float *out, const float *in, int h, int w, int c, int k, int s) {
    int oh, ow;
    int pt = hrn_dk_same_pad(h, k, s, &oh), pl = hrn_dk_same_pad(w, k, s, &ow);
#pragma omp parallel for schedule(static)
    for (int oy = 0; oy < oh; oy++)
        maxpool_row(out + (size_t)oy * ow * c, in, h, w, c, k, s, pt, pl, oy, ow);
}

HRN_DK_CLONES
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
