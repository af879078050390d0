/* sample.c: training samples and their ground truth (being written). */
#include "hrn_data.h"

#include <stdlib.h>
#include <string.h>

static void gt_free(struct hrn_sample_gt *g) {
    free(g->coeffs); free(g->verts); free(g->deform); free(g->disp);
    free(g->albedo); free(g->albedo_detail); free(g->skin);
    memset(g, 0, sizeof *g);
}

void hrn_sample_free(struct hrn_sample *s) {
    if (!s) return;
    hrn_image_free(&s->img);
    free(s->mask);
    gt_free(&s->gt);
    memset(s, 0, sizeof *s);
}

enum hrn_status hrn_sample_copy(struct hrn_sample *dst, const struct hrn_sample *src) {
    (void)dst, (void)src;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "sample copy: not built yet");
}

enum hrn_status hrn_sample_gt_save(const char *path, const struct hrn_sample_gt *gt) {
    (void)path, (void)gt;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "ground truth: not built yet");
}

enum hrn_status hrn_sample_gt_load(const char *path, struct hrn_sample_gt *gt) {
    (void)path, (void)gt;
    return hrn_error_set(HRN_ERR_UNSUPPORTED, "ground truth: not built yet");
}
