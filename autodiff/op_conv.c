/* op_conv.c: 2-d convolution and transposed convolution through oneDNN 2.6, with PyTorch's
 * semantics (cross-correlation, symmetric zero padding, floor output size, weights OIHW for conv
 * and (C_in, C_out, KH, KW) for the transposed conv).
 *
 * The tensors stay plain NCHW; the primitives are created with format_tag_any, and the wrapper
 * (dnnl_ctx.c) reorders into the blocked layouts they pick and back, per call (plain-layout gemm
 * convolutions reach about half the speed, and a plain stride-2 transposed conv falls back to a
 * reference kernel: performance.md). Weights of a frozen net parameter (inference, no gradient
 * wanted) are reordered once per weights epoch instead (hrn__dnnl_exec_frozen). Inference nodes
 * made by hrn_conv2d_fused apply an eval BatchNorm (folded to a per-channel scale and shift) and
 * a ReLU as post-ops of the convolution, saving two passes over the output.
 *
 * Backward: d x via backward-data, d w and d b via backward-weights, each ADDED into the grads
 * (the wrapper accumulates; oneDNN overwrites). Backward-data is skipped when x wants no gradient
 * (a network's first layer), which is the slowest of the three for 3-channel inputs.
 */
#include "dnnl_impl.h"

#include <math.h>

/* Inference epilogue of a fused conv (hrn_conv2d_fused): out = relu?(conv·scale + shift) per
 * output channel, the folded eval-mode BatchNorm. (OC) each, tape memory. */
struct conv_post {
    float *scale, *shift;
};

struct conv_params {
    int32_t stride[2], pad[2], dil[2], outpad[2];
    int32_t has_bias, transposed;
    int32_t frozen_w; /* the weights are a frozen net parameter: keep their reorder */
    int32_t relu;     /* fused ReLU (with post) */
    const struct conv_post *post; /* NULL: a plain conv */
};
_Static_assert(sizeof(struct conv_params) <= HRN_MAX_OP_PARAMS, "conv params too large");

/* x (N,C,H,W), w (OC,C,KH,KW) or (C,OC,KH,KW) transposed, b (OC) or NULL */
static struct hrn_tensor *conv_node(struct hrn_tape *t, struct hrn_tensor *x,
                                    struct hrn_tensor *w, struct hrn_tensor *b,
                                    const struct hrn_conv2d_params *pp, int transposed,
                                    const struct hrn_conv_fuse *fuse, int frozen_w) {
    const char *name = transposed ? "conv_transpose2d" : "conv2d";
    struct hrn_tensor *src[3] = {x, w, b};
    if (hrn__null_input(name, src, 2)) return NULL;
    struct hrn_conv2d_params q = pp ? *pp : (struct hrn_conv2d_params){0};
    /* only a store's parameter that wants no gradient is frozen: weights being trained are
     * reordered from their current values at every use, so no update can be missed */
    frozen_w = frozen_w && (w->flags & HRN_TENSOR_PARAM) && !(w->flags & HRN_TENSOR_REQUIRES_GRAD);
    struct conv_params p = {{0}, {0}, {0}, {0}, b != NULL, transposed, frozen_w, 0, NULL};
    for (int i = 0; i < 2; i++) {
        p.stride[i] = q.stride[i] ? q.stride[i] : 1;
        p.dil[i] = q.dilation[i] ? q.dilation[i] : 1;
        p.pad[i] = q.pad[i];
        p.outpad[i] = q.output_padding[i];
        if (p.stride[i] < 1 || p.dil[i] < 1 || p.pad[i] < 0 || p.outpad[i] < 0 ||
            (p.outpad[i] && !transposed) ||
            (transposed && p.outpad[i] >= p.stride[i] && p.outpad[i] >= p.dil[i])) {
            hrn_error_set(HRN_ERR_INVALID,
                          "%s: stride %d, padding %d, dilation %d, output padding %d (need stride "
                          ">= 1, dilation >= 1, padding >= 0, output padding only for the "
                          "transposed conv and smaller than stride or dilation)",
                          name, q.stride[i], q.pad[i], q.dilation[i], q.output_padding[i]);
            return NULL;
        }
    }
    if (x->ndim != 4 || w->ndim != 4)
        return hrn__shape_error(t, name, x, w, "must be 4-d: x (N,C,H,W) and weights 4-d");
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t wc = transposed ? w->shape[0] : w->shape[1];
    int64_t OC = transposed ? w->shape[1] : w->shape[0], KH = w->shape[2], KW = w->shape[3];
    if (wc != C)
        return hrn__shape_error(t, name, x, w,
                                transposed ? "disagree: weights (C_in,C_out,KH,KW) need C_in = "
                                             "the input's channels"
                                           : "disagree: weights (OC,C,KH,KW) need C = the "
                                             "input's channels");
    if (b && (b->ndim != 1 || b->shape[0] != OC))
        return hrn__shape_error(t, name, w, b, "disagree: the bias must be 1-d of OC elements");
    int64_t OH, OW;
    if (!transposed) {
        OH = (H + 2 * p.pad[0] - p.dil[0] * (KH - 1) - 1) / p.stride[0] + 1;
        OW = (W + 2 * p.pad[1] - p.dil[1] * (KW - 1) - 1) / p.stride[1] + 1;
        if (H + 2 * p.pad[0] < p.dil[0] * (KH - 1) + 1 || W + 2 * p.pad[1] < p.dil[1] * (KW - 1) + 1)
            return hrn__shape_error(t, name, x, w, "give an empty output (the padded input is "
                                                   "smaller than the dilated kernel)");
    } else {
        OH = (H - 1) * p.stride[0] - 2 * p.pad[0] + p.dil[0] * (KH - 1) + p.outpad[0] + 1;
        OW = (W - 1) * p.stride[1] - 2 * p.pad[1] + p.dil[1] * (KW - 1) + p.outpad[1] + 1;
        if (OH < 1 || OW < 1) return hrn__shape_error(t, name, x, w, "give an empty output");
        if (p.outpad[0] > p.pad[0] || p.outpad[1] > p.pad[1])
            return hrn__shape_error(t, name, x, w,
                                    "need output padding <= padding (oneDNN's right padding "
                                    "would be negative)");
    }
    if (fuse) {
        /* an inference-only node: nothing may want a gradient through it (the caller checks) */
        for (int i = 0; i < 3; i++)
            HRN_ASSERT(!src[i] || !(src[i]->flags & HRN_TENSOR_REQUIRES_GRAD));
        HRN_ASSERT(!transposed);
        struct conv_post *post = hrn__scratch(t, sizeof *post);
        if (!post) return NULL;
        post->scale = hrn__scratch(t, (size_t)OC * sizeof(float));
        post->shift = hrn__scratch(t, (size_t)OC * sizeof(float));
        if (!post->scale || !post->shift) return NULL;
        for (int64_t c = 0; c < OC; c++) { /* BatchNorm2d.eval(): (y - mean)/sqrt(var+eps)·w + b */
            float inv = 1.0f / sqrtf(fuse->var[c] + fuse->eps);
            float sc = fuse->bn_w ? fuse->bn_w[c] * inv : inv;
            post->scale[c] = sc;
            post->shift[c] = (fuse->bn_b ? fuse->bn_b[c] : 0.0f) - fuse->mean[c] * sc;
        }
        p.post = post;
        p.relu = fuse->relu != 0;
    }
    return hrn__node(t, transposed ? HRN_OP_CONV_TRANSPOSE2D : HRN_OP_CONV2D, 4,
                     (int64_t[]){N, OC, OH, OW}, src, b ? 3 : 2, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_conv2d(struct hrn_tape *t, struct hrn_tensor *x, struct hrn_tensor *w,
                              struct hrn_tensor *b, const struct hrn_conv2d_params *p) {
    return conv_node(t, x, w, b, p, 0, NULL, 0);
}

struct hrn_tensor *hrn_conv_transpose2d(struct hrn_tape *t, struct hrn_tensor *x,
                                        struct hrn_tensor *w, struct hrn_tensor *b,
                                        const struct hrn_conv2d_params *p) {
    return conv_node(t, x, w, b, p, 1, NULL, 0);
}

struct hrn_tensor *hrn_conv2d_fused(struct hrn_tape *t, struct hrn_tensor *x,
                                    struct hrn_tensor *w, struct hrn_tensor *b,
                                    const struct hrn_conv2d_params *p,
                                    const struct hrn_conv_fuse *fuse, int frozen_w) {
    return conv_node(t, x, w, b, p, 0, fuse, frozen_w);
}

struct hrn_tensor *hrn_conv_transpose2d_frozen(struct hrn_tape *t, struct hrn_tensor *x,
                                               struct hrn_tensor *w, struct hrn_tensor *b,
                                               const struct hrn_conv2d_params *p, int frozen_w) {
    return conv_node(t, x, w, b, p, 1, NULL, frozen_w);
}

/* --- primitives ------------------------------------------------------------------------------ */

struct geom {
    int64_t N, C, H, W, OC, KH, KW, OH, OW;
    dnnl_dims_t strides, dil, pl, pr;
    int has_bias, transposed;
    int post, relu; /* fused BN epilogue (and ReLU): an inference primitive */
};

static struct geom geom_of(const struct hrn_tensor *o) {
    const struct conv_params *p = HRN__PARAMS(o, const struct conv_params);
    const struct hrn_tensor *x = o->src[0], *w = o->src[1];
    struct geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], o->shape[1],
                     w->shape[2], w->shape[3], o->shape[2], o->shape[3], {0}, {0}, {0}, {0},
                     p->has_bias, p->transposed, p->post != NULL, p->relu};
    for (int i = 0; i < 2; i++) {
        int64_t in = i ? g.W : g.H, out = i ? g.OW : g.OH, k = i ? g.KW : g.KH;
        g.strides[i] = p->stride[i];
        g.dil[i] = p->dil[i] - 1; /* oneDNN's dilation is 0-based (style.md 4.2 #7) */
        g.pl[i] = p->pad[i];
        if (!p->transposed) /* what makes oneDNN's size formula give PyTorch's floor size */
            g.pr[i] = (out - 1) * p->stride[i] + (k - 1) * p->dil[i] + 1 - in - p->pad[i];
        else
            g.pr[i] = p->pad[i] - p->outpad[i];
    }
    return g;
}

static void make_key(int64_t *key, int kind, const struct geom *g) {
    memset(key, 0, HRN__DNNL_KEY * sizeof *key);
    int64_t v[] = {kind,         g->N,      g->C,      g->H,      g->W,     g->OC,
                   g->KH,        g->KW,     g->OH,     g->OW,     g->strides[0], g->strides[1],
                   g->dil[0],    g->dil[1], g->pl[0],  g->pl[1],  g->pr[0], g->pr[1],
                   g->has_bias,  g->post,   g->relu};
    _Static_assert(sizeof v / sizeof v[0] <= HRN__DNNL_KEY, "conv key too long");
    memcpy(key, v, sizeof v);
}

struct mds {
    dnnl_memory_desc_t x, w, b, y, x_any, w_any, y_any;
};

static struct mds mds_of(const struct geom *g) {
    struct mds m;
    int64_t xd[4] = {g->N, g->C, g->H, g->W}, yd[4] = {g->N, g->OC, g->OH, g->OW};
    /* oneDNN's logical weight dims are (OC, IC, KH, KW) for both; PyTorch's transposed-conv
     * weight (C_in, C_out, KH, KW) is that with the first two swapped in memory: iohw */
    int64_t wd[4] = {g->OC, g->C, g->KH, g->KW};
    m.x = hrn__dnnl_md(4, xd, dnnl_nchw);
    m.y = hrn__dnnl_md(4, yd, dnnl_nchw);
    m.w = hrn__dnnl_md(4, wd, g->transposed ? dnnl_iohw : dnnl_oihw);
    m.b = hrn__dnnl_md(1, &g->OC, dnnl_x);
    m.x_any = hrn__dnnl_md(4, xd, dnnl_format_tag_any);
    m.y_any = hrn__dnnl_md(4, yd, dnnl_format_tag_any);
    m.w_any = hrn__dnnl_md(4, wd, dnnl_format_tag_any);
    return m;
}

static enum hrn_status get_fwd(const struct geom *g, struct hrn__dnnl_prim **out) {
    enum hrn_status st = HRN_OK;
    int64_t key[HRN__DNNL_KEY];
    make_key(key, g->transposed ? HRN__DK_DECONV_FWD : HRN__DK_CONV_FWD, g);
    if ((*out = hrn__dnnl_find(key))) return HRN_OK;
    struct mds m = mds_of(g);
    const dnnl_memory_desc_t *bmd = g->has_bias ? &m.b : NULL;
    union {
        dnnl_convolution_desc_t c;
        dnnl_deconvolution_desc_t d;
    } desc;
    dnnl_post_ops_t po = NULL;
    dnnl_prop_kind_t prop = g->post ? dnnl_forward_inference : dnnl_forward_training;
    if (!g->transposed)
        HRN_DNNL(dnnl_dilated_convolution_forward_desc_init(
            &desc.c, prop, dnnl_convolution_direct, &m.x_any, &m.w_any, bmd, &m.y_any,
            g->strides, g->dil, g->pl, g->pr));
    else
        HRN_DNNL(dnnl_dilated_deconvolution_forward_desc_init(
            &desc.d, prop, dnnl_deconvolution_direct, &m.x_any, &m.w_any, bmd, &m.y_any,
            g->strides, g->dil, g->pl, g->pr));
    /* arguments: src, weights, dst, bias (if any), then the post-op operands */
    struct hrn__dnnl_argspec spec[6] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &m.x},
                                        {DNNL_ARG_WEIGHTS, HRN__DNNL_IN, &m.w},
                                        {DNNL_ARG_DST, HRN__DNNL_OUT, &m.y},
                                        {DNNL_ARG_BIAS, HRN__DNNL_IN, &m.b}};
    int n = g->has_bias ? 4 : 3;
    dnnl_memory_desc_t cmd = hrn__dnnl_md(4, (int64_t[]){1, g->OC, 1, 1}, dnnl_nchw);
    if (g->post) { /* out = relu?(conv · scale + shift), per output channel */
        HRN_DNNL(dnnl_post_ops_create(&po));
        HRN_DNNL(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &cmd));
        HRN_DNNL(dnnl_post_ops_append_binary(po, dnnl_binary_add, &cmd));
        if (g->relu) HRN_DNNL(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0));
        spec[n++] = (struct hrn__dnnl_argspec){DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                                               HRN__DNNL_IN, &cmd};
        spec[n++] = (struct hrn__dnnl_argspec){DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1,
                                               HRN__DNNL_IN, &cmd};
    }
    st = hrn__dnnl_create_po(key, &desc, NULL, po, n, spec, out);
fail:
    if (po) dnnl_post_ops_destroy(po);
    return st;
}

/* out (N,OC,OH,OW) = conv(x (N,C,H,W), w) + b */
static enum hrn_status conv_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    struct geom g = geom_of(o);
    struct hrn__dnnl_prim *p = NULL;
    enum hrn_status st = get_fwd(&g, &p);
    if (st != HRN_OK) return st;
    const struct conv_params *cp = HRN__PARAMS(o, const struct conv_params);
    void *ptr[6] = {o->src[0]->data, o->src[1]->data, o->data, NULL, NULL, NULL};
    int k = 3;
    if (g.has_bias) ptr[k++] = o->src[2]->data;
    if (cp->post) {
        ptr[k++] = cp->post->scale;
        ptr[k++] = cp->post->shift;
    }
    return hrn__dnnl_exec_frozen(p, ptr, cp->frozen_w ? 1u << 1 : 0u); /* bit 1: weights */
}

enum hrn_status hrn__conv2d_fwd(struct hrn_tape *t, struct hrn_tensor *o) { return conv_fwd(t, o); }
enum hrn_status hrn__conv_transpose2d_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return conv_fwd(t, o);
}

static enum hrn_status conv_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    enum hrn_status st = HRN_OK;
    const int frozen_w = HRN__PARAMS(o, const struct conv_params)->frozen_w;
    HRN_ASSERT(!HRN__PARAMS(o, const struct conv_params)->post); /* never wants a gradient */
    struct geom g = geom_of(o);
    struct mds m = mds_of(&g);
    struct hrn__dnnl_prim *fwd = NULL, *p = NULL;
    HRN_TRY(get_fwd(&g, &fwd));
    int64_t key[HRN__DNNL_KEY];
    if (hrn__wants_grad(o, 0)) { /* d x (N,C,H,W) += backward-data(d out, w) */
        make_key(key, g.transposed ? HRN__DK_DECONV_BWD_D : HRN__DK_CONV_BWD_D, &g);
        if (!(p = hrn__dnnl_find(key))) {
            union {
                dnnl_convolution_desc_t c;
                dnnl_deconvolution_desc_t d;
            } desc;
            if (!g.transposed)
                HRN_DNNL(dnnl_dilated_convolution_backward_data_desc_init(
                    &desc.c, dnnl_convolution_direct, &m.x_any, &m.w_any, &m.y_any, g.strides,
                    g.dil, g.pl, g.pr));
            else
                HRN_DNNL(dnnl_dilated_deconvolution_backward_data_desc_init(
                    &desc.d, dnnl_deconvolution_direct, &m.x_any, &m.w_any, &m.y_any, g.strides,
                    g.dil, g.pl, g.pr));
            struct hrn__dnnl_argspec spec[3] = {{DNNL_ARG_DIFF_DST, HRN__DNNL_IN, &m.y},
                                                {DNNL_ARG_WEIGHTS, HRN__DNNL_IN, &m.w},
                                                {DNNL_ARG_DIFF_SRC, HRN__DNNL_OUT_ADD, &m.x}};
            HRN_TRY(hrn__dnnl_create(key, &desc, fwd->pd, 3, spec, &p));
        }
        void *ptr[3] = {o->grad, o->src[1]->data, o->src[0]->grad};
        HRN_TRY(hrn__dnnl_exec_frozen(p, ptr, frozen_w ? 1u << 1 : 0u)); /* bit 1: weights */
    }
    int want_w = hrn__wants_grad(o, 1), want_b = g.has_bias && hrn__wants_grad(o, 2);
    if (want_w || want_b) { /* d w, d b += backward-weights(x, d out) */
        make_key(key, g.transposed ? HRN__DK_DECONV_BWD_W : HRN__DK_CONV_BWD_W, &g);
        if (!(p = hrn__dnnl_find(key))) {
            const dnnl_memory_desc_t *bmd = g.has_bias ? &m.b : NULL;
            union {
                dnnl_convolution_desc_t c;
                dnnl_deconvolution_desc_t d;
            } desc;
            if (!g.transposed)
                HRN_DNNL(dnnl_dilated_convolution_backward_weights_desc_init(
                    &desc.c, dnnl_convolution_direct, &m.x_any, &m.w_any, bmd, &m.y_any,
                    g.strides, g.dil, g.pl, g.pr));
            else
                HRN_DNNL(dnnl_dilated_deconvolution_backward_weights_desc_init(
                    &desc.d, dnnl_deconvolution_direct, &m.x_any, &m.w_any, bmd, &m.y_any,
                    g.strides, g.dil, g.pl, g.pr));
            struct hrn__dnnl_argspec spec[4] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &m.x},
                                                {DNNL_ARG_DIFF_DST, HRN__DNNL_IN, &m.y},
                                                {DNNL_ARG_DIFF_WEIGHTS, HRN__DNNL_OUT_ADD, &m.w},
                                                {DNNL_ARG_DIFF_BIAS, HRN__DNNL_OUT_ADD, &m.b}};
            HRN_TRY(hrn__dnnl_create(key, &desc, fwd->pd, g.has_bias ? 4 : 3, spec, &p));
        }
        void *ptr[4] = {o->src[0]->data, o->grad, want_w ? o->src[1]->grad : NULL,
                        want_b ? o->src[2]->grad : NULL};
        HRN_TRY(hrn__dnnl_exec(p, ptr));
    }
    return HRN_OK;
fail:
    return st;
}

enum hrn_status hrn__conv2d_bwd(struct hrn_tape *t, struct hrn_tensor *o) { return conv_bwd(t, o); }
enum hrn_status hrn__conv_transpose2d_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return conv_bwd(t, o);
}
