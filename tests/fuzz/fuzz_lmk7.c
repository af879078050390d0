/* fuzz_lmk7.c: hrn-eval's 7-landmark files: MeshLab .pp (XML <point x y z>), .lnd and .txt
 * (3 numbers a line, or 4 with a leading index), and .npy (eval/emesh_io.c). The first input byte
 * picks the extension, which is how the reader chooses the format. Oracle: 21 finite values. */
#include "fuzz_common.h"

#include "hrn_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *const NAMES[] = {"lmk.pp", "lmk.lnd", "lmk.txt", "lmk.npy"};
    if (size < 1) return 0;
    const char *path = fuzz_write_file(data + 1, size - 1, NAMES[data[0] % 4]);
    double lmk[21];
    if (path && fuzz_ok(hrn_eval_lmk7_read(path, lmk)))
        for (int i = 0; i < 21; i++)
            if (!isfinite(lmk[i])) {
                fprintf(stderr, "fuzz_lmk7: value %d is not finite\n", i);
                abort();
            }
    return 0;
}
