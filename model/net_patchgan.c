/* net_patchgan.c: pix2pix's NLayerDiscriminator ("basic" PatchGAN) with instance norm (HRN's
 * Pix2PixOptions norm='instance', so every conv has a bias): conv4x4 s2 (ndf) + LeakyReLU 0.2;
 * n_layers-1 times conv4x4 s2 + IN + LReLU with channels ndf·min(2^n, 8); conv4x4 s1 + IN + LReLU;
 * conv4x4 s1 -> 1 channel of logits. Keys model.0, model.2, model.5, ... (3 per block). */
#include "hrn_model.h"

#include <stdio.h>

static int64_t mult(int n) { return n >= 3 ? 8 : (int64_t)1 << n; }

enum hrn_status hrn__patchgan_declare(struct hrn_net *net) {
    enum hrn_status st = HRN_OK;
    const int64_t f = net->cfg.width;
    const int L = net->cfg.n_layers;
    char n[32];
    HRN_TRY(hrn__net_add_conv(net, "model.0", f, net->cfg.in_ch, 4, 4, 1, 0));
    for (int k = 1; k <= L; k++) {
        snprintf(n, sizeof n, "model.%d", 3 * k - 1);
        HRN_TRY(hrn__net_add_conv(net, n, f * mult(k), f * mult(k - 1), 4, 4, 1, 0));
    }
    snprintf(n, sizeof n, "model.%d", 3 * L + 2);
    HRN_TRY(hrn__net_add_conv(net, n, 1, f * mult(L), 4, 4, 1, 0));
fail:
    return st;
}

/* x (N,in,H,W) -> (N,1,h,w) */
struct hrn_tensor *hrn__patchgan_forward(struct hrn_tape *t, struct hrn_net *net,
                                         struct hrn_tensor *x) {
    const int L = net->cfg.n_layers;
    char n[32];
    struct hrn_tensor *y = hrn_leaky_relu(t, hrn__net_conv(t, net, "model.0", x, 2, 1), 0.2f);
    for (int k = 1; k <= L; k++) {
        snprintf(n, sizeof n, "model.%d", 3 * k - 1);
        y = hrn__net_conv(t, net, n, y, k < L ? 2 : 1, 1);
        y = hrn_leaky_relu(t, hrn_instance_norm(t, y, NULL, NULL, 1e-5f), 0.2f);
    }
    snprintf(n, sizeof n, "model.%d", 3 * L + 2);
    return hrn__net_conv(t, net, n, y, 1, 1);
}
