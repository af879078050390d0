/* fuzz_mesh.h: the oracle the OBJ and PLY harnesses share. */
#ifndef HRN_FUZZ_MESH_H
#define HRN_FUZZ_MESH_H

#include "hrn_core.h"

#include <stdio.h>
#include <stdlib.h>

/* Sum n floats so that every element is loaded (an ASan report if the buffer is short). */
static inline double fuzz_touch_f32(const float *p, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)p[i];
    return s;
}

static inline void fuzz_check_mesh(const struct hrn_mesh *m, const char *who) {
    if (m->n_verts < 0 || m->n_faces < 0 || m->n_uvs < 0 || m->n_normals < 0 ||
        hrn_mesh_check(m) != HRN_OK) {
        fprintf(stderr, "%s: a mesh that read does not check: %s\n", who, hrn_error_msg());
        abort();
    }
    volatile double s = fuzz_touch_f32(m->verts, 3 * m->n_verts);
    if (m->colors) s += fuzz_touch_f32(m->colors, 3 * m->n_verts);
    if (m->uvs) s += fuzz_touch_f32(m->uvs, 2 * m->n_uvs);
    if (m->normals) s += fuzz_touch_f32(m->normals, 3 * m->n_normals);
    (void)s;
}

#endif /* HRN_FUZZ_MESH_H */
