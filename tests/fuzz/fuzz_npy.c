/* fuzz_npy.c: NumPy .npy arrays (hrn-eval's landmark and FaceScape predef files, HRN's UV assets).
 * With core/npy.c present it fuzzes hrn_npy_read_mem (no file per run); before that, eval's
 * hrn_eval_npy_read through a file. Oracle: an array that reads has a shape whose product is its
 * count, and every value is loaded (ASan sees a buffer shorter than the shape). */
#include "fuzz_common.h"

#include "hrn_core.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef HRN_FUZZ_NPY_CORE
#include "hrn_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    struct hrn_npy a = {0};
    if (fuzz_ok(hrn_npy_read_mem(data, size, "fuzz.npy", &a))) {
        int64_t count = 1;
        for (int i = 0; i < a.ndim; i++) count *= a.shape[i];
        if (a.ndim < 0 || a.ndim > HRN_NPY_MAX_DIMS || count != a.count || a.count < 0 ||
            a.count > HRN_NPY_MAX_COUNT || (a.count > 0 && !a.data)) {
            fprintf(stderr, "fuzz_npy: ndim %d, count %lld\n", a.ndim, (long long)a.count);
            abort();
        }
        volatile double s = 0;
        for (int64_t i = 0; i < a.count; i++) s += a.data[i];
        (void)s;
    }
    hrn_npy_free(&a);
    return 0;
}
#else
#include "hrn_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write_file(data, size, "a.npy");
    double *v = NULL;
    int ndim = 0;
    int64_t shape[4] = {0};
    if (path && fuzz_ok(hrn_eval_npy_read(path, &v, &ndim, shape))) {
        int64_t count = 1;
        for (int i = 0; i < 4; i++) count *= shape[i]; /* unused dims are 1 */
        if (ndim < 0 || ndim > 4 || count < 0) {
            fprintf(stderr, "fuzz_npy: ndim %d, count %lld\n", ndim, (long long)count);
            abort();
        }
        volatile double s = 0;
        for (int64_t i = 0; i < count; i++) s += v[i];
        (void)s;
    }
    free(v);
    return 0;
}
#endif
