/* hrn_nets.h: the HRN networks (ResNet-50 regressor, pix2pix ResnetGenerator, de-retouching UNet,
 * PatchGAN), built on the autodiff layers; part of the model module, include "hrn_model.h".
 *
 * Usage (the released HRN checkpoint after scripts/convert_pth.py; tests/test_nets.c runs the
 * same calls on narrow networks):
 *
 *     struct hrn_net recon = {0}, mid = {0};
 *     enum hrn_status st;
 *     HRN_TRY(hrn_net_init(&recon, &(struct hrn_net_config){.kind = HRN_NET_RESNET50}, 1));
 *     HRN_TRY(hrn_net_init(&mid, &(struct hrn_net_config){.kind = HRN_NET_PIX2PIX, .in_ch = 6,
 *                                                        .out_ch = 3}, 1));
 *     HRN_TRY(hrn_net_load(&recon, "hrn_v1.1.h5", "net_recon"));   // names + shapes checked
 *     HRN_TRY(hrn_net_load(&mid, "hrn_v1.1.h5", "mid_net"));
 *     struct hrn_tape tape = {0};
 *     HRN_TRY(hrn_tape_init(&tape, 512u << 20));
 *     struct hrn_tensor *img = hrn_tape_wrap(&tape, pixels, 4, (int64_t[]){1, 3, 224, 224}, "img");
 *     struct hrn_tensor *coeffs = hrn_net_forward(&tape, &recon, img);     // (1, 257)
 *     if (!coeffs) { st = HRN_ERR_INVALID; goto fail; }                    // message says why
 *   fail:
 *     hrn_tape_free(&tape); hrn_net_free(&recon); hrn_net_free(&mid);
 *
 * Parameters live in net->params (trainable; zero-grad, clipping and Adam work on it as on any
 * struct hrn_params) and BatchNorm running statistics in net->buffers; every entry is named by
 * its PyTorch state-dict key ("backbone.layer1.0.conv1.weight", "model.10.conv_block.1.bias",
 * "down1.mpconv.1.conv.1.running_var"), so checkpoints map one to one onto the released .pth
 * files. net->training selects batch statistics (and their running-average update) and dropout;
 * set it before a forward. Widths are configurable so that tests build narrow versions.
 *
 * Checkpoint file (HDF5, written to "<path>.tmp" and renamed): root attributes
 * hrn_format = "hrn-nets" and hrn_format_version = 1; one float32 dataset per state-dict key under
 * a group per network ("net_recon/backbone.conv1.weight", "mid_net/model.1.bias"), running
 * statistics included (num_batches_tracked is not stored); scalars such as alpha and beta as
 * 1-element datasets at the root. Loading checks that every parameter and buffer exists with its
 * shape and that the group holds nothing else, and names the first mismatch.
 */
#ifndef HRN_NETS_H
#define HRN_NETS_H

#include "hrn_autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hrn_net_kind {
    HRN_NET_RESNET50 = 0, /* ReconNetWrapper: ResNet-50 backbone + 7 zero-initialised 1x1 heads */
    HRN_NET_PIX2PIX,      /* ResnetGenerator: mid_net (6->3) and high_net (9->1) */
    HRN_NET_UNET,         /* de-retouching UNet (3->3), sigmoid */
    HRN_NET_PATCHGAN,     /* NLayerDiscriminator, instance norm */
    HRN_NET_KIND_COUNT
};

/* Zero fields take the originals' values. */
struct hrn_net_config {
    enum hrn_net_kind kind;
    int in_ch;    /* 3 (ResNet, UNet, PatchGAN); pix2pix must be given (6 or 9) */
    int out_ch;   /* pix2pix (3 or 1), UNet (3); ignored otherwise */
    int width;    /* ResNet base width / ngf / UNet base / ndf: 64 */
    int n_blocks; /* pix2pix residual blocks: 9 */
    int n_layers; /* PatchGAN: 3 */
    float dropout; /* pix2pix blocks: 0.5; a negative value means no dropout layer */
};

/* The regressor's 257 outputs: id 80, exp 64, tex 80, angle 3, gamma 27, txy 2, tz 1. */
enum { HRN_RECON_N_COEFFS = 257 };

struct hrn_net {
    struct hrn_net_config cfg;
    struct hrn_params params;  /* trainable parameters, state-dict names */
    struct hrn_params buffers; /* BatchNorm running_mean / running_var */
    int training;              /* batch statistics + running-average update, dropout on */
    uint64_t dropout_seed;     /* advanced by every training forward */
};

/* Declare and allocate a network's parameters and initialise them as the originals do (ResNet:
 * Kaiming normal fan_out, BN 1/0, heads zero; pix2pix and PatchGAN: N(0, 0.02), biases 0; UNet:
 * PyTorch's default uniform), with the given seed. HRN_ERR_INVALID for a bad config. */
enum hrn_status hrn_net_init(struct hrn_net *net, const struct hrn_net_config *cfg,
                             uint64_t seed);
void hrn_net_free(struct hrn_net *net); /* NULL-safe */

/* on = 0: the parameters want no gradient (inference: no backward bookkeeping such as the
 * max-pooling workspace); on = 1 restores them (the default). */
void hrn_net_requires_grad(struct hrn_net *net, int on);

/* Build the network on the tape. x: ResNet (N,3,H,W) -> (N,257); pix2pix (N,in,H,W) with H, W
 * multiples of 4 -> (N,out,H,W) in (-1,1); UNet (N,3,H,W) -> (N,3,H,W) in (0,1); PatchGAN
 * (N,in,H,W) -> (N,1,h,w) logits. NULL with a message naming the layer on error. */
struct hrn_tensor *hrn_net_forward(struct hrn_tape *t, struct hrn_net *net, struct hrn_tensor *x);

/* --- checkpoints (model/checkpoint.c) --------------------------------------------------------- */

/* Write n networks, each under its group name, and n_scalars named scalars, to path (via
 * "<path>.tmp", renamed when complete). */
enum hrn_status hrn_nets_save(const char *path, struct hrn_net *const *nets,
                              const char *const *groups, int n, const char *const *scalar_names,
                              const double *scalars, int n_scalars);
/* The same into a file the caller opened with hrn_h5_create (and commits), so a training
 * checkpoint can hold the networks beside its own state and still be read by hrn_net_load. */
struct hrn_h5;
enum hrn_status hrn_nets_write(struct hrn_h5 *f, struct hrn_net *const *nets,
                               const char *const *groups, int n, const char *const *scalar_names,
                               const double *scalars, int n_scalars);
/* Read a network's parameters and buffers from group `group` of path. Every entry must exist with
 * its shape, and the group must hold no other dataset: HRN_ERR_FORMAT naming the file, the
 * dataset and the expected shape otherwise. On error the network's values are unspecified. */
enum hrn_status hrn_net_load(struct hrn_net *net, const char *path, const char *group);
/* A 1-element dataset (alpha, beta) of a checkpoint. */
enum hrn_status hrn_nets_load_scalar(const char *path, const char *name, double *value);

/* --- internal: shared by model/net_*.c (not for callers) -------------------------------------- */

/* Declare a conv ("<name>.weight" (oc,ic,kh,kw), "<name>.bias" (oc) when bias) or transposed
 * conv (weight (ic,oc,kh,kw)) and a BatchNorm ("<name>.weight/.bias" params, "<name>.running_mean/
 * .running_var" buffers). */
enum hrn_status hrn__net_add_conv(struct hrn_net *net, const char *name, int64_t oc, int64_t ic,
                                  int64_t kh, int64_t kw, int bias, int transposed);
enum hrn_status hrn__net_add_bn(struct hrn_net *net, const char *name, int64_t c);
/* The parameter "<name><suffix>" (NULL and a message if missing: a bug in a net file). */
struct hrn_tensor *hrn__net_param(struct hrn_net *net, const char *name, const char *suffix);
/* Apply a declared conv / transposed conv / BatchNorm by name. */
struct hrn_tensor *hrn__net_conv(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                 struct hrn_tensor *x, int stride, int pad);
struct hrn_tensor *hrn__net_convt(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                  struct hrn_tensor *x, int stride, int pad, int outpad);
struct hrn_tensor *hrn__net_bn(struct hrn_tape *t, struct hrn_net *net, const char *name,
                               struct hrn_tensor *x);
enum hrn_status hrn__resnet_declare(struct hrn_net *net);
enum hrn_status hrn__pix2pix_declare(struct hrn_net *net);
enum hrn_status hrn__unet_declare(struct hrn_net *net);
enum hrn_status hrn__patchgan_declare(struct hrn_net *net);
struct hrn_tensor *hrn__resnet_forward(struct hrn_tape *t, struct hrn_net *net,
                                       struct hrn_tensor *x);
struct hrn_tensor *hrn__pix2pix_forward(struct hrn_tape *t, struct hrn_net *net,
                                        struct hrn_tensor *x);
struct hrn_tensor *hrn__unet_forward(struct hrn_tape *t, struct hrn_net *net,
                                     struct hrn_tensor *x);
struct hrn_tensor *hrn__patchgan_forward(struct hrn_tape *t, struct hrn_net *net,
                                         struct hrn_tensor *x);

#ifdef __cplusplus
}
#endif
#endif /* HRN_NETS_H */
