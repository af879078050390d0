/* fuzz_image.c: PNG and JPEG through hrn_image_read (core/image_io.c: libpng's and libjpeg's
 * decoders behind hrn's size checks and conversion to planar float). The first input byte picks
 * the channel count asked for (any, gray, gray+alpha, RGB, RGBA), so the conversions run too.
 * Oracle: an image that reads has sides in 1..HRN_IMAGE_MAX_SIDE, the channels asked for, and
 * every sample in [0, 1]. */
#include "fuzz_common.h"

#include "hrn_core.h"

#include <stdio.h>
#include <stdlib.h>

static void check(const struct hrn_image *im, int want) {
    int ok = im->w >= 1 && im->h >= 1 && im->w <= HRN_IMAGE_MAX_SIDE &&
             im->h <= HRN_IMAGE_MAX_SIDE && im->c >= 1 && im->c <= 4 && (!want || im->c == want);
    size_t n = ok ? (size_t)im->w * (size_t)im->h * (size_t)im->c : 0;
    for (size_t i = 0; ok && i < n; i++) ok = im->data[i] >= 0.0f && im->data[i] <= 1.0f;
    if (!ok) {
        fprintf(stderr, "fuzz_image: bad image %dx%dx%d (asked for %d channels)\n", im->w, im->h,
                im->c, want);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < 1) return 0;
    int want = data[0] % 5;
    const char *path = fuzz_write_file(data + 1, size - 1, "image");
    struct hrn_image im = {0};
    if (path && fuzz_ok(hrn_image_read(path, want, &im))) check(&im, want);
    hrn_image_free(&im);
    return 0;
}
