/* net_common.c: what the four networks share: the parameter store named by PyTorch state-dict
 * keys, init, conv / BN helpers, and the dispatch by kind. */
#include "net_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static enum hrn_status add(struct hrn_params *ps, const char *name, const char *suffix, int ndim,
                           const int64_t *shape) {
    char full[HRN_PARAM_NAME];
    int n = snprintf(full, sizeof full, "%s%s", name, suffix);
    if (n < 0 || n >= (int)sizeof full)
        return hrn_error_set(HRN_ERR_INVALID, "net: parameter name '%s%s' is too long", name,
                             suffix);
    return hrn_params_add(ps, full, ndim, shape, 0, NULL);
}

enum hrn_status hrn__net_add_conv(struct hrn_net *net, const char *name, int64_t oc, int64_t ic,
                                  int64_t kh, int64_t kw, int bias, int transposed) {
    enum hrn_status st;
    int64_t shape[4] = {transposed ? ic : oc, transposed ? oc : ic, kh, kw};
    if ((st = add(&net->params, name, ".weight", 4, shape)) != HRN_OK) return st;
    if (bias) return add(&net->params, name, ".bias", 1, &oc);
    return HRN_OK;
}

enum hrn_status hrn__net_add_bn(struct hrn_net *net, const char *name, int64_t c) {
    enum hrn_status st;
    if ((st = add(&net->params, name, ".weight", 1, &c)) != HRN_OK) return st;
    if ((st = add(&net->params, name, ".bias", 1, &c)) != HRN_OK) return st;
    if ((st = add(&net->buffers, name, ".running_mean", 1, &c)) != HRN_OK) return st;
    return add(&net->buffers, name, ".running_var", 1, &c);
}

static struct hrn_tensor *lookup(struct hrn_params *ps, const char *name, const char *suffix) {
    char full[HRN_PARAM_NAME];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    int i = hrn_params_find(ps, full);
    if (i < 0) {
        hrn_error_set(HRN_ERR_INVALID, "net: no parameter '%s'", full);
        return NULL;
    }
    return hrn_params_tensor(ps, i);
}

struct hrn_tensor *hrn__net_param(struct hrn_net *net, const char *name, const char *suffix) {
    return lookup(&net->params, name, suffix);
}

/* Inference (eval mode, parameters wanting no gradient): the conv weights are frozen for the
 * current weights epoch, so oneDNN's reorder of them is kept across forwards
 * (hrn__dnnl_exec_frozen; every writer of net parameters in the library ends the epoch). */
static int frozen(const struct hrn_net *net, const struct hrn_tensor *w) {
    return !net->training && !(w->flags & HRN_TENSOR_REQUIRES_GRAD);
}

struct hrn_tensor *hrn__net_conv(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                 struct hrn_tensor *x, int stride, int pad) {
    return hrn__net_conv_bn(t, net, name, NULL, x, stride, pad, 0);
}

struct hrn_tensor *hrn__net_conv_bn(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                    const char *bn, struct hrn_tensor *x, int stride, int pad,
                                    int relu) {
    if (!x) return NULL; /* an earlier layer failed; its message names it */
    struct hrn_tensor *w = lookup(&net->params, name, ".weight");
    if (!w) return NULL;
    char full[HRN_PARAM_NAME];
    snprintf(full, sizeof full, "%s.bias", name);
    int ib = hrn_params_find(&net->params, full);
    struct hrn_tensor *b = ib >= 0 ? hrn_params_tensor(&net->params, ib) : NULL;
    struct hrn_conv2d_params p = {.stride = {stride, stride}, .pad = {pad, pad}};
    const int fz = frozen(net, w);
    struct hrn_tensor *bw = NULL, *bb = NULL, *rm = NULL, *rv = NULL;
    if (bn) {
        bw = lookup(&net->params, bn, ".weight");
        bb = lookup(&net->params, bn, ".bias");
        rm = lookup(&net->buffers, bn, ".running_mean");
        rv = lookup(&net->buffers, bn, ".running_var");
        if (!bw || !bb || !rm || !rv) return NULL;
    }
    /* conv + eval BatchNorm (+ ReLU) as one primitive when nothing wants a gradient through it */
    const uint32_t RG = HRN_TENSOR_REQUIRES_GRAD;
    if (bn && fz && !(x->flags & RG) && !(bw->flags & RG) && !(bb->flags & RG) &&
        !(b && (b->flags & RG))) {
        struct hrn_conv_fuse f = {bw->data, bb->data, rm->data, rv->data, 1e-5f, relu};
        struct hrn_tensor *y = hrn_conv2d_fused(t, x, w, b, &p, &f, 1);
        if (!y) hrn_error_prefix(HRN_ERR_INVALID, "%s", name);
        return y;
    }
    struct hrn_tensor *y = hrn_conv2d_fused(t, x, w, b, &p, NULL, fz);
    if (!y) {
        hrn_error_prefix(HRN_ERR_INVALID, "%s", name);
        return NULL;
    }
    if (!bn) return y;
    y = hrn__net_bn(t, net, bn, y);
    return relu ? hrn_relu(t, y) : y;
}

struct hrn_tensor *hrn__net_convt(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                  struct hrn_tensor *x, int stride, int pad, int outpad) {
    if (!x) return NULL;
    struct hrn_tensor *w = lookup(&net->params, name, ".weight");
    struct hrn_tensor *b = lookup(&net->params, name, ".bias");
    if (!w || !b) return NULL;
    struct hrn_conv2d_params p = {.stride = {stride, stride}, .pad = {pad, pad},
                                  .output_padding = {outpad, outpad}};
    struct hrn_tensor *y = hrn_conv_transpose2d_frozen(t, x, w, b, &p, frozen(net, w));
    if (!y) hrn_error_prefix(HRN_ERR_INVALID, "%s", name);
    return y;
}

struct hrn_tensor *hrn__net_bn(struct hrn_tape *t, struct hrn_net *net, const char *name,
                               struct hrn_tensor *x) {
    if (!x) return NULL;
    struct hrn_tensor *w = lookup(&net->params, name, ".weight");
    struct hrn_tensor *b = lookup(&net->params, name, ".bias");
    struct hrn_tensor *rm = lookup(&net->buffers, name, ".running_mean");
    struct hrn_tensor *rv = lookup(&net->buffers, name, ".running_var");
    if (!w || !b || !rm || !rv) return NULL;
    struct hrn_batch_norm_params p = {rm->data, rv->data, 0.1f, 1e-5f, net->training};
    struct hrn_tensor *y = hrn_batch_norm(t, x, w, b, &p);
    if (!y) hrn_error_prefix(HRN_ERR_INVALID, "%s", name);
    return y;
}

/* --- init ------------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static void init_values(struct hrn_net *net, uint64_t seed) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    for (int i = 0; i < net->params.n_entries; i++) {
        struct hrn_tensor *p = hrn_params_tensor(&net->params, i);
        const char *nm = net->params.entries[i].name;
        if (p->ndim == 4) {
            int64_t fan_in = p->shape[1] * p->shape[2] * p->shape[3];
            switch (net->cfg.kind) {
            case HRN_NET_RESNET50: /* kaiming_normal_(fan_out, relu); heads zero */
                if (!strncmp(nm, "final_layers.", 13)) memset(p->data, 0, (size_t)p->numel * 4);
                else hrn_params_fill_normal(&net->params, i, &r,
                                            (float)sqrt(2.0 / (double)(p->shape[0] * p->shape[2] *
                                                                       p->shape[3])));
                break;
            case HRN_NET_UNET: { /* nn.Conv2d default: U(±1/sqrt(fan_in)) (kaiming_uniform a=√5) */
                float bound = (float)(1.0 / sqrt((double)fan_in));
                hrn_params_fill_uniform(&net->params, i, &r, -bound, bound);
                break;
            }
            default: hrn_params_fill_normal(&net->params, i, &r, 0.02f); /* pix2pix init */
            }
        } else if (ends_with(nm, ".bias")) {
            int is_conv = i > 0 && net->params.entries[i - 1].t.ndim == 4;
            if (net->cfg.kind == HRN_NET_UNET && is_conv) { /* U(±1/sqrt(fan_in)) */
                const struct hrn_tensor *w = hrn_params_tensor(&net->params, i - 1);
                float bound = (float)(1.0 / sqrt((double)(w->shape[1] * w->shape[2] * w->shape[3])));
                hrn_params_fill_uniform(&net->params, i, &r, -bound, bound);
            } else {
                memset(p->data, 0, (size_t)p->numel * 4);
            }
        } else { /* BN weight */
            for (int64_t k = 0; k < p->numel; k++) p->data[k] = 1.0f;
        }
    }
    for (int i = 0; i < net->buffers.n_entries; i++) {
        struct hrn_tensor *b = hrn_params_tensor(&net->buffers, i);
        float v = ends_with(net->buffers.entries[i].name, "running_var") ? 1.0f : 0.0f;
        for (int64_t k = 0; k < b->numel; k++) b->data[k] = v;
    }
}

enum hrn_status hrn_net_init(struct hrn_net *net, const struct hrn_net_config *cfg,
                             uint64_t seed) {
    enum hrn_status st = HRN_OK;
    hrn_dnnl_weights_changed(); /* new values, possibly at a freed network's addresses */
    memset(net, 0, sizeof *net);
    hrn_params_init(&net->params);
    hrn_params_init(&net->buffers);
    struct hrn_net_config c = *cfg;
    if (c.width == 0) c.width = 64;
    if (c.in_ch == 0 && c.kind != HRN_NET_PIX2PIX) c.in_ch = 3;
    if (c.out_ch == 0 && c.kind == HRN_NET_UNET) c.out_ch = 3;
    if (c.n_blocks == 0) c.n_blocks = 9;
    if (c.n_layers == 0) c.n_layers = 3;
    if (c.dropout == 0.0f) c.dropout = 0.5f;
    if ((int)c.kind < 0 || c.kind >= HRN_NET_KIND_COUNT || c.width < 1 || c.in_ch < 1 ||
        (c.kind == HRN_NET_PIX2PIX && c.out_ch < 1) || c.n_blocks < 1 || c.n_layers < 1 ||
        c.dropout >= 1.0f)
        return hrn_error_set(HRN_ERR_INVALID,
                             "net: bad config (kind %d, in %d, out %d, width %d, blocks %d, "
                             "layers %d, dropout %g)",
                             (int)c.kind, c.in_ch, c.out_ch, c.width, c.n_blocks, c.n_layers,
                             (double)c.dropout);
    net->cfg = c;
    switch (c.kind) {
    case HRN_NET_RESNET50: HRN_TRY(hrn__resnet_declare(net)); break;
    case HRN_NET_PIX2PIX: HRN_TRY(hrn__pix2pix_declare(net)); break;
    case HRN_NET_UNET: HRN_TRY(hrn__unet_declare(net)); break;
    default: HRN_TRY(hrn__patchgan_declare(net)); break;
    }
    HRN_TRY(hrn_params_alloc(&net->params));
    if (net->buffers.n_entries) HRN_TRY(hrn_params_alloc(&net->buffers));
    init_values(net, seed);
    net->dropout_seed = seed;
    return HRN_OK;
fail:
    hrn_net_free(net);
    return hrn_error_prefix(st, "net init");
}

void hrn_net_free(struct hrn_net *net) {
    if (!net) return;
    hrn_dnnl_weights_changed(); /* the buffers may be reused by another network */
    hrn_params_free(&net->params);
    hrn_params_free(&net->buffers);
    memset(net, 0, sizeof *net);
}

void hrn_net_requires_grad(struct hrn_net *net, int on) {
    /* switching modes is also the documented way to say "I wrote parameter values by hand" */
    hrn_dnnl_weights_changed();
    for (int i = 0; i < net->params.n_entries; i++) {
        struct hrn_tensor *p = &net->params.entries[i].t;
        if (on) p->flags |= HRN_TENSOR_REQUIRES_GRAD;
        else p->flags &= ~(uint32_t)HRN_TENSOR_REQUIRES_GRAD;
    }
}

struct hrn_tensor *hrn_net_forward(struct hrn_tape *t, struct hrn_net *net,
                                   struct hrn_tensor *x) {
    if (!x) {
        if (!hrn_error_msg()[0]) hrn_error_set(HRN_ERR_INVALID, "net forward: input is NULL");
        return NULL;
    }
    if (x->ndim != 4 || x->shape[1] != net->cfg.in_ch) {
        char s[64];
        hrn_error_set(HRN_ERR_INVALID, "net forward: input %s, expected (N,%d,H,W)",
                      hrn_tensor_shape_str(x, s, sizeof s), net->cfg.in_ch);
        return NULL;
    }
    switch (net->cfg.kind) {
    case HRN_NET_RESNET50: return hrn__resnet_forward(t, net, x);
    case HRN_NET_PIX2PIX: return hrn__pix2pix_forward(t, net, x);
    case HRN_NET_UNET: return hrn__unet_forward(t, net, x);
    default: return hrn__patchgan_forward(t, net, x);
    }
}
