/* loss_identity.c: the identity (perceptual) loss of Deep3D, hrn's w_feat term: one minus the
 * cosine similarity of two face descriptors, averaged over the batch. Deep3D takes the
 * descriptors from ArcFace; hrn takes them from face-api's face_recognition_model
 * (detect/hrn_facerec.h: hrn_facerec_image), which is what a CPU-only, MIT-licensed build has. */
#include "hrn_losses.h"

struct hrn_tensor *hrn_loss_identity(struct hrn_tape *t, struct hrn_tensor *a,
                                     struct hrn_tensor *b) {
    if (!a || !b) return NULL;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[0] != b->shape[0] ||
        a->shape[1] != b->shape[1]) {
        hrn_error_set(HRN_ERR_INVALID, "identity loss: descriptors (%lld,%lld) and (%lld,%lld), "
                      "expected two (B,D)", (long long)a->shape[0], (long long)a->shape[1],
                      (long long)b->shape[0], (long long)b->shape[1]);
        return NULL;
    }
    /* F.normalize's eps keeps a zero descriptor finite (its gradient is then 0) */
    struct hrn_tensor *na = hrn_normalize(t, a, 1e-12f), *nb = hrn_normalize(t, b, 1e-12f);
    struct hrn_tensor *cos = hrn_sum_axis(t, hrn_mul(t, na, nb), -1); /* (B) */
    return hrn_mean_all(t, hrn_add_scalar(t, hrn_neg(t, cos), 1.0f)); /* (1) */
}
