/* fuzz_eos.c: the eos/Surrey importer (model/import.c: cereal binary MorphableModel, expression
 * blendshapes .bin, ibug_to_sfm.txt mapping). The input is split at the line SEP into up to three
 * files, model | blendshapes | mapping; the ones not present are passed as NULL, as the importer
 * allows. Oracle: fuzz_check_model. */
#include "fuzz_common.h"

#include "fuzz_model.h"

#include <string.h>

static const char SEP[] = "\n#hrn-fuzz-next-file#\n";

/* The offset of the next SEP at or after `from`, or size. */
static size_t next_sep(const uint8_t *d, size_t size, size_t from) {
    size_t k = sizeof SEP - 1;
    for (size_t i = from; i + k <= size; i++)
        if (memcmp(d + i, SEP, k) == 0) return i;
    return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char *const NAMES[3] = {"model.bin", "blendshapes.bin", "ibug_to_sfm.txt"};
    const char *paths[3] = {NULL, NULL, NULL};
    size_t at = 0;
    for (int i = 0; i < 3 && at <= size; i++) {
        size_t end = i < 2 ? next_sep(data, size, at) : size;
        paths[i] = fuzz_write_file(data + at, end - at, NAMES[i]);
        if (!paths[i]) return 0;
        if (end == size) break;
        at = end + sizeof SEP - 1;
    }
    struct hrn_face_model fm = {0};
    if (fuzz_ok(hrn_face_model_import_eos(paths[0], paths[1], paths[2], &fm)))
        fuzz_check_model(&fm, "fuzz_eos");
    hrn_face_model_free(&fm);
    return 0;
}
