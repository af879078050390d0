/* net_impl.h: internal helpers shared by model/net_*.c beyond those in hrn_nets.h (not public). */
#ifndef HRN_NET_IMPL_H
#define HRN_NET_IMPL_H

#include "hrn_model.h"

/* relu?(bn(conv(x))) by name: conv "<name>.weight"/".bias", BatchNorm "<bn>.*" (bn NULL: the
 * conv alone, relu ignored). In inference (net->training = 0, nothing wanting a gradient) one
 * fused oneDNN primitive with the BatchNorm folded and the conv's weights kept in oneDNN's
 * layout across forwards; otherwise the separate ops, as in training. */
struct hrn_tensor *hrn__net_conv_bn(struct hrn_tape *t, struct hrn_net *net, const char *name,
                                    const char *bn, struct hrn_tensor *x, int stride, int pad,
                                    int relu);

#endif /* HRN_NET_IMPL_H */
