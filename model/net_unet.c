/* net_unet.c: the de-retouching UNet (HRN models/unet.py, hrn_method.md 2.6): inc = double_conv
 * (conv3x3 p1 + BN + ReLU, twice), down1-4 = maxpool 2 + double_conv, up1-4 = bilinear x2
 * (align_corners=True), zero-pad to the skip's size, cat([skip, up]), double_conv; outc = conv1x1;
 * sigmoid. Keys: inc.conv.conv.{0,1,3,4}, downK.mpconv.1.conv.{0,1,3,4}, upK.conv.conv.{...},
 * outc.conv. Widths: w, 2w, 4w, 8w, 8w (w = 64 in the original). */
#include "net_impl.h"

#include <stdio.h>

static enum hrn_status add_double(struct hrn_net *net, const char *pre, int64_t in, int64_t out) {
    enum hrn_status st = HRN_OK;
    char n[64];
    snprintf(n, sizeof n, "%s.0", pre);
    HRN_TRY(hrn__net_add_conv(net, n, out, in, 3, 3, 1, 0));
    snprintf(n, sizeof n, "%s.1", pre);
    HRN_TRY(hrn__net_add_bn(net, n, out));
    snprintf(n, sizeof n, "%s.3", pre);
    HRN_TRY(hrn__net_add_conv(net, n, out, out, 3, 3, 1, 0));
    snprintf(n, sizeof n, "%s.4", pre);
    HRN_TRY(hrn__net_add_bn(net, n, out));
fail:
    return st;
}

enum hrn_status hrn__unet_declare(struct hrn_net *net) {
    enum hrn_status st = HRN_OK;
    const int64_t w = net->cfg.width;
    const int64_t down_in[4] = {w, 2 * w, 4 * w, 8 * w}, down_out[4] = {2 * w, 4 * w, 8 * w, 8 * w};
    const int64_t up_in[4] = {16 * w, 8 * w, 4 * w, 2 * w}, up_out[4] = {4 * w, 2 * w, w, w};
    char n[64];
    HRN_TRY(add_double(net, "inc.conv.conv", net->cfg.in_ch, w));
    for (int k = 0; k < 4; k++) {
        snprintf(n, sizeof n, "down%d.mpconv.1.conv", k + 1);
        HRN_TRY(add_double(net, n, down_in[k], down_out[k]));
    }
    for (int k = 0; k < 4; k++) {
        snprintf(n, sizeof n, "up%d.conv.conv", k + 1);
        HRN_TRY(add_double(net, n, up_in[k], up_out[k]));
    }
    HRN_TRY(hrn__net_add_conv(net, "outc.conv", net->cfg.out_ch, w, 1, 1, 1, 0));
fail:
    return st;
}

static struct hrn_tensor *double_conv(struct hrn_tape *t, struct hrn_net *net, const char *pre,
                                      struct hrn_tensor *x) {
    char n[64], b[64];
    snprintf(n, sizeof n, "%s.0", pre);
    snprintf(b, sizeof b, "%s.1", pre);
    struct hrn_tensor *y = hrn__net_conv_bn(t, net, n, b, x, 1, 1, 1);
    snprintf(n, sizeof n, "%s.3", pre);
    snprintf(b, sizeof b, "%s.4", pre);
    return hrn__net_conv_bn(t, net, n, b, y, 1, 1, 1);
}

/* x (N,C,h,w) up x2 and padded to skip (N,C',H,W), then cat([skip, up]) along channels */
static struct hrn_tensor *up_cat(struct hrn_tape *t, struct hrn_tensor *x,
                                 struct hrn_tensor *skip) {
    if (!x || !skip) return NULL;
    struct hrn_tensor *u = hrn_interp_bilinear(t, x, 2 * x->shape[2], 2 * x->shape[3], 1);
    if (!u) return NULL;
    int64_t dy = skip->shape[2] - u->shape[2], dx = skip->shape[3] - u->shape[3];
    if (dy < 0 || dx < 0) {
        hrn_error_set(HRN_ERR_INVALID, "unet: upsampled map larger than its skip connection");
        return NULL;
    }
    if (dy || dx)
        u = hrn_pad2d(t, u, (int)(dx / 2), (int)(dx - dx / 2), (int)(dy / 2), (int)(dy - dy / 2),
                      HRN_PAD_ZERO);
    return hrn_concat(t, (struct hrn_tensor *[]){skip, u}, 2, 1);
}

/* x (N,3,H,W) -> (N,3,H,W) in (0,1) */
struct hrn_tensor *hrn__unet_forward(struct hrn_tape *t, struct hrn_net *net,
                                     struct hrn_tensor *x) {
    char n[64];
    struct hrn_pool2d_params mp = {{2, 2}, {2, 2}, {0, 0}, 0};
    struct hrn_tensor *xs[5];
    xs[0] = double_conv(t, net, "inc.conv.conv", x);
    for (int k = 0; k < 4; k++) {
        snprintf(n, sizeof n, "down%d.mpconv.1.conv", k + 1);
        xs[k + 1] = double_conv(t, net, n, hrn_max_pool2d(t, xs[k], &mp));
    }
    struct hrn_tensor *y = xs[4];
    for (int k = 0; k < 4; k++) {
        snprintf(n, sizeof n, "up%d.conv.conv", k + 1);
        y = double_conv(t, net, n, up_cat(t, y, xs[3 - k]));
    }
    return hrn_sigmoid(t, hrn__net_conv(t, net, "outc.conv", y, 1, 0));
}
