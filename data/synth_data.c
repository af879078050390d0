/* synth_data.c: synthetic training samples with ground truth at every level (being written). */
#include "hrn_data.h"

#include <string.h>

void hrn_synth_data_defaults(struct hrn_synth_data_config *c) { memset(c, 0, sizeof *c); }

enum hrn_status hrn_synth_sample(const struct hrn_face_model *fm,
                                 const struct hrn_synth_data_config *c, int64_t index,
                                 struct hrn_sample *out) {
    (void)fm, (void)c, (void)index, (void)out;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "synthetic samples: not built yet");
}

enum hrn_status hrn_synth_render_gt(const struct hrn_face_model *fm,
                                    const struct hrn_synth_data_config *c,
                                    const struct hrn_sample_gt *gt, struct hrn_image *img,
                                    float **cover) {
    (void)fm, (void)c, (void)gt, (void)img, (void)cover;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "synthetic samples: not built yet");
}

enum hrn_status hrn_synth_write_folder(const struct hrn_face_model *fm,
                                       const struct hrn_synth_data_config *c, int64_t first,
                                       int64_t n, int64_t n_val, const char *root, int threads) {
    (void)fm, (void)c, (void)first, (void)n, (void)n_val, (void)root, (void)threads;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "synthetic samples: not built yet");
}

enum hrn_status hrn_synth_contact_sheet(const struct hrn_sample *s, int n, const char *path) {
    (void)s, (void)n, (void)path;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "synthetic samples: not built yet");
}
