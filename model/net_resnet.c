/* net_resnet.c: the coefficient regressor (Deep3DFaceRecon/HRN ReconNetWrapper): a torchvision
 * ResNet-50 as `backbone` (conv7x7 s2, BN, ReLU, maxpool 3 s2; Bottleneck stages [3,4,6,3] with
 * the stride on the 3x3 conv; global average pool) and seven 1x1 heads `final_layers.0-6` with
 * bias (id 80, exp 64, tex 80, angle 3, gamma 27, txy 2, tz 1), concatenated to (N,257).
 * Widths scale with cfg.width (64 in the original). */
#include "net_impl.h"

#include <stdio.h>

static const int BLOCKS[4] = {3, 4, 6, 3};
static const int HEADS[7] = {80, 64, 80, 3, 27, 2, 1};

enum hrn_status hrn__resnet_declare(struct hrn_net *net) {
    enum hrn_status st = HRN_OK;
    const int64_t w = net->cfg.width;
    char n[64], pre[40];
    HRN_TRY(hrn__net_add_conv(net, "backbone.conv1", w, net->cfg.in_ch, 7, 7, 0, 0));
    HRN_TRY(hrn__net_add_bn(net, "backbone.bn1", w));
    int64_t inplanes = w;
    for (int s = 0; s < 4; s++) {
        int64_t planes = w << s;
        for (int b = 0; b < BLOCKS[s]; b++) {
            snprintf(pre, sizeof pre, "backbone.layer%d.%d", s + 1, b);
            snprintf(n, sizeof n, "%s.conv1", pre);
            HRN_TRY(hrn__net_add_conv(net, n, planes, inplanes, 1, 1, 0, 0));
            snprintf(n, sizeof n, "%s.bn1", pre);
            HRN_TRY(hrn__net_add_bn(net, n, planes));
            snprintf(n, sizeof n, "%s.conv2", pre);
            HRN_TRY(hrn__net_add_conv(net, n, planes, planes, 3, 3, 0, 0));
            snprintf(n, sizeof n, "%s.bn2", pre);
            HRN_TRY(hrn__net_add_bn(net, n, planes));
            snprintf(n, sizeof n, "%s.conv3", pre);
            HRN_TRY(hrn__net_add_conv(net, n, planes * 4, planes, 1, 1, 0, 0));
            snprintf(n, sizeof n, "%s.bn3", pre);
            HRN_TRY(hrn__net_add_bn(net, n, planes * 4));
            if (b == 0) { /* stride 2 or a channel change: a projection shortcut */
                snprintf(n, sizeof n, "%s.downsample.0", pre);
                HRN_TRY(hrn__net_add_conv(net, n, planes * 4, inplanes, 1, 1, 0, 0));
                snprintf(n, sizeof n, "%s.downsample.1", pre);
                HRN_TRY(hrn__net_add_bn(net, n, planes * 4));
            }
            inplanes = planes * 4;
        }
    }
    for (int h = 0; h < 7; h++) {
        snprintf(n, sizeof n, "final_layers.%d", h);
        HRN_TRY(hrn__net_add_conv(net, n, HEADS[h], inplanes, 1, 1, 1, 0));
    }
fail:
    return st;
}

/* x (N,C,H,W) -> (N,4·planes,H/s,W/s) */
static struct hrn_tensor *bottleneck(struct hrn_tape *t, struct hrn_net *net, const char *pre,
                                     struct hrn_tensor *x, int stride, int project) {
    char n[64], b[64];
    snprintf(n, sizeof n, "%s.conv1", pre);
    snprintf(b, sizeof b, "%s.bn1", pre);
    struct hrn_tensor *y = hrn__net_conv_bn(t, net, n, b, x, 1, 0, 1);
    snprintf(n, sizeof n, "%s.conv2", pre);
    snprintf(b, sizeof b, "%s.bn2", pre);
    y = hrn__net_conv_bn(t, net, n, b, y, stride, 1, 1);
    snprintf(n, sizeof n, "%s.conv3", pre);
    snprintf(b, sizeof b, "%s.bn3", pre);
    y = hrn__net_conv_bn(t, net, n, b, y, 1, 0, 0);
    struct hrn_tensor *idt = x;
    if (project) {
        snprintf(n, sizeof n, "%s.downsample.0", pre);
        snprintf(b, sizeof b, "%s.downsample.1", pre);
        idt = hrn__net_conv_bn(t, net, n, b, x, stride, 0, 0);
    }
    return hrn_relu(t, hrn_add(t, y, idt));
}

/* x (N,3,H,W) -> (N,257) */
struct hrn_tensor *hrn__resnet_forward(struct hrn_tape *t, struct hrn_net *net,
                                       struct hrn_tensor *x) {
    struct hrn_tensor *y = hrn__net_conv_bn(t, net, "backbone.conv1", "backbone.bn1", x, 2, 3, 1);
    y = hrn_max_pool2d(t, y, &(struct hrn_pool2d_params){{3, 3}, {2, 2}, {1, 1}, 0});
    char pre[32];
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < BLOCKS[s]; b++) {
            snprintf(pre, sizeof pre, "backbone.layer%d.%d", s + 1, b);
            y = bottleneck(t, net, pre, y, b == 0 && s > 0 ? 2 : 1, b == 0);
        }
    y = hrn_global_avg_pool2d(t, y); /* (N,2048,1,1) */
    struct hrn_tensor *heads[7];
    for (int h = 0; h < 7; h++) {
        snprintf(pre, sizeof pre, "final_layers.%d", h);
        heads[h] = hrn__net_conv(t, net, pre, y, 1, 0);
    }
    /* concat takes at most HRN_MAX_SRC inputs: 4 + 3, then 2 */
    struct hrn_tensor *a = hrn_concat(t, heads, 4, 1), *b = hrn_concat(t, heads + 4, 3, 1);
    y = hrn_concat(t, (struct hrn_tensor *[]){a, b}, 2, 1); /* (N,257,1,1) */
    if (!y) return NULL;
    return hrn_reshape(t, y, 2, (int64_t[]){x->shape[0], HRN_RECON_N_COEFFS});
}
