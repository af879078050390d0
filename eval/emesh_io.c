/* emesh_io.c: reading evaluation meshes through core/hrn_mesh.h, and the small numeric file
 * readers the protocols need (.npy arrays, numeric text/JSON, landmark files). Kept apart from
 * emesh.c so the kernels link without the mesh readers. */
#include "hrn_eval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status hrn_emesh_read(const char *path, struct hrn_emesh *out) {
    struct hrn_mesh m = {0};
    enum hrn_status st = hrn_mesh_read(path, &m);
    if (st == HRN_OK) st = hrn_emesh_from_mesh(out, &m);
    hrn_mesh_free(&m);
    return st;
}

