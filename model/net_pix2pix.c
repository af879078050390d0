/* net_pix2pix.c: pix2pix's ResnetGenerator as HRN configures it (hrn_method.md section 3):
 * reflection pad 3, conv7x7, two stride-2 convs, n_blocks residual blocks (reflection pad, conv3x3,
 * instance norm, ReLU, dropout, reflection pad, conv3x3, instance norm; out = x + block(x)), two
 * stride-2 transposed convs (output padding 1), reflection pad 3, conv7x7, tanh. Instance norm has
 * no affine parameters, so every conv has a bias. State-dict indices follow nn.Sequential:
 * model.1, model.4, model.7, model.10..(10+n_blocks-1).conv_block.{1,6} (5 without dropout),
 * then the transposed convs and the last conv. */
#include "hrn_model.h"

#include <stdio.h>

/* indices of the Sequential after the blocks */
static int idx_after(const struct hrn_net *net, int k) { return 10 + net->cfg.n_blocks + k; }
static int conv2_idx(const struct hrn_net *net) { return net->cfg.dropout > 0 ? 6 : 5; }

enum hrn_status hrn__pix2pix_declare(struct hrn_net *net) {
    enum hrn_status st = HRN_OK;
    const int64_t g = net->cfg.width;
    char n[64];
    HRN_TRY(hrn__net_add_conv(net, "model.1", g, net->cfg.in_ch, 7, 7, 1, 0));
    HRN_TRY(hrn__net_add_conv(net, "model.4", 2 * g, g, 3, 3, 1, 0));
    HRN_TRY(hrn__net_add_conv(net, "model.7", 4 * g, 2 * g, 3, 3, 1, 0));
    for (int b = 0; b < net->cfg.n_blocks; b++) {
        snprintf(n, sizeof n, "model.%d.conv_block.1", 10 + b);
        HRN_TRY(hrn__net_add_conv(net, n, 4 * g, 4 * g, 3, 3, 1, 0));
        snprintf(n, sizeof n, "model.%d.conv_block.%d", 10 + b, conv2_idx(net));
        HRN_TRY(hrn__net_add_conv(net, n, 4 * g, 4 * g, 3, 3, 1, 0));
    }
    snprintf(n, sizeof n, "model.%d", idx_after(net, 0));
    HRN_TRY(hrn__net_add_conv(net, n, 2 * g, 4 * g, 3, 3, 1, 1));
    snprintf(n, sizeof n, "model.%d", idx_after(net, 3));
    HRN_TRY(hrn__net_add_conv(net, n, g, 2 * g, 3, 3, 1, 1));
    snprintf(n, sizeof n, "model.%d", idx_after(net, 7));
    HRN_TRY(hrn__net_add_conv(net, n, net->cfg.out_ch, g, 7, 7, 1, 0));
fail:
    return st;
}

static struct hrn_tensor *in_relu(struct hrn_tape *t, struct hrn_tensor *x) {
    return hrn_relu(t, hrn_instance_norm(t, x, NULL, NULL, 1e-5f));
}

/* x (N,in,H,W), H and W multiples of 4 -> (N,out,H,W) */
struct hrn_tensor *hrn__pix2pix_forward(struct hrn_tape *t, struct hrn_net *net,
                                        struct hrn_tensor *x) {
    if (x->shape[2] % 4 || x->shape[3] % 4) {
        hrn_error_set(HRN_ERR_INVALID, "pix2pix: input %lldx%lld must be a multiple of 4",
                      (long long)x->shape[2], (long long)x->shape[3]);
        return NULL;
    }
    char n[64];
    struct hrn_tensor *y = hrn_pad2d(t, x, 3, 3, 3, 3, HRN_PAD_REFLECT);
    y = in_relu(t, hrn__net_conv(t, net, "model.1", y, 1, 0));
    y = in_relu(t, hrn__net_conv(t, net, "model.4", y, 2, 1));
    y = in_relu(t, hrn__net_conv(t, net, "model.7", y, 2, 1));
    for (int b = 0; b < net->cfg.n_blocks; b++) {
        struct hrn_tensor *h = hrn_pad2d(t, y, 1, 1, 1, 1, HRN_PAD_REFLECT);
        snprintf(n, sizeof n, "model.%d.conv_block.1", 10 + b);
        h = in_relu(t, hrn__net_conv(t, net, n, h, 1, 0));
        if (net->cfg.dropout > 0)
            h = hrn_dropout(t, h, net->cfg.dropout, net->dropout_seed * 131 + (uint64_t)b,
                            net->training);
        h = hrn_pad2d(t, h, 1, 1, 1, 1, HRN_PAD_REFLECT);
        snprintf(n, sizeof n, "model.%d.conv_block.%d", 10 + b, conv2_idx(net));
        h = hrn_instance_norm(t, hrn__net_conv(t, net, n, h, 1, 0), NULL, NULL, 1e-5f);
        y = hrn_add(t, y, h);
    }
    if (net->training) net->dropout_seed++;
    snprintf(n, sizeof n, "model.%d", idx_after(net, 0));
    y = in_relu(t, hrn__net_convt(t, net, n, y, 2, 1, 1));
    snprintf(n, sizeof n, "model.%d", idx_after(net, 3));
    y = in_relu(t, hrn__net_convt(t, net, n, y, 2, 1, 1));
    y = hrn_pad2d(t, y, 3, 3, 3, 3, HRN_PAD_REFLECT);
    snprintf(n, sizeof n, "model.%d", idx_after(net, 7));
    return hrn_tanh(t, hrn__net_conv(t, net, n, y, 1, 0));
}
