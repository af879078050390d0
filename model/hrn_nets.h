/* hrn_nets.h: the HRN networks (ResNet-50 regressor, pix2pix ResnetGenerator, de-retouching UNet,
 * PatchGAN), built on the autodiff layers; part of the model module, include "hrn_model.h". */
#ifndef HRN_NETS_H
#define HRN_NETS_H
#endif
