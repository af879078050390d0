/* fuzz_obj.c: Wavefront OBJ (core/mesh_obj.c). Oracle: a mesh that reads passes
 * hrn_mesh_check (every index in range), and every array it has is read whole, so ASan sees a
 * buffer shorter than its count. */
#include "fuzz_common.h"

#include "fuzz_mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write_file(data, size, "mesh.obj");
    struct hrn_mesh m = {0};
    if (path && fuzz_ok(hrn_mesh_read_obj(path, &m))) fuzz_check_mesh(&m, "fuzz_obj");
    hrn_mesh_free(&m);
    return 0;
}
