/* fuzz_crop_json.c: hrn-eval's --crop-json (HRN's trans_params per image, looked up by name in
 * eval/main_eval.c) and the numeric text/JSON reader hrn_eval_read_numbers (eval/emesh_io.c).
 * The lookup is private to hrn-eval's main file, so this file includes that file with its main()
 * renamed; CMake builds this harness only while the lookup is there (see CMakeLists.txt).
 * Input: the first line is the image name to look up, the rest the JSON text. Oracle: a lookup
 * that succeeds gives 5 finite numbers with a positive scale. */
#include "fuzz_common.h"

#define main hrn_eval_main_unused
int hrn_eval_main_unused(int argc, char **argv);
#include "../../eval/main_eval.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *text = strchr(buf, '\n');
    if (text) *text++ = 0;
    else text = buf + size;
    double tp[5];
    if (fuzz_ok(crop_lookup(text, "crop.json", buf, tp)))
        for (int i = 0; i < 5; i++)
            if (!isfinite(tp[i]) || !(tp[2] > 0)) {
                fprintf(stderr, "fuzz_crop_json: bad trans_params %d\n", i);
                abort();
            }
    free(buf);
    const char *path = fuzz_write_file(data, size, "numbers.json");
    double *vals = NULL;
    int64_t n = 0;
    if (path && fuzz_ok(hrn_eval_read_numbers(path, &vals, &n))) {
        volatile double s = 0;
        for (int64_t i = 0; i < n; i++) s += vals[i];
        (void)s;
    }
    free(vals);
    return 0;
}
