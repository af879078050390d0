/* fuzz_lmk.c: 2D landmark files, plain text (x y per line) and 300-W .pts (core/lmk.c). Oracle:
 * a file that reads gives 1..cap points (exactly `expected` when asked), all finite. */
#include "fuzz_common.h"

#include "hrn_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { CAP = 512 };

static void check(enum hrn_status st, const float *xy, int n, int expected) {
    if (!fuzz_ok(st)) return;
    if (n < 1 || n > CAP || (expected && n != expected)) {
        fprintf(stderr, "fuzz_lmk: %d points read (expected %d, cap %d)\n", n, expected, CAP);
        abort();
    }
    for (int i = 0; i < 2 * n; i++)
        if (!isfinite(xy[i])) {
            fprintf(stderr, "fuzz_lmk: point %d is not finite\n", i / 2);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static float xy[2 * CAP];
    int n = 0;
    const char *txt = fuzz_write_file(data, size, "lmk.txt");
    if (txt) {
        check(hrn_lmk_read_txt(txt, 0, xy, CAP, &n), xy, n, 0);
        check(hrn_lmk_read(txt, HRN_LMK_68, xy, CAP, &n), xy, n, HRN_LMK_68);
    }
    const char *pts = fuzz_write_file(data, size, "lmk.pts");
    if (pts) {
        check(hrn_lmk_read_pts(pts, 0, xy, CAP, &n), xy, n, 0);
        check(hrn_lmk_read(pts, HRN_LMK_5, xy, CAP, &n), xy, n, HRN_LMK_5);
    }
    return 0;
}
