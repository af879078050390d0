/* hrn_core.h: the public header of the core module. Include this one; the part headers it pulls
 * in each open with their own usage example.
 *
 *     #include "hrn_core.h"
 *
 *     int main(void) {
 *         struct hrn_arena a;
 *         if (hrn_arena_init(&a, 1u << 20) != HRN_OK) { fprintf(stderr, "%s\n", hrn_error_msg()); return 1; }
 *         struct hrn_tensor *t = hrn_tensor_new(&a, 2, (int64_t[]){68, 2}, "landmarks");
 *         hrn_log(HRN_LOG_INFO, "%lld floats", (long long)t->numel);
 *         hrn_arena_free(&a);
 *         return 0;
 *     }
 *
 * Parts:
 *   hrn_base.h    status codes, thread-local errors, asserts, logging, timer, progress
 *   hrn_mem.h     arena, tensor, random generator
 *   hrn_image.h   PNG/JPEG read, PNG write, bilinear resize, affine warp
 *   hrn_h5.h      HDF5 datasets, groups and attributes
 *   hrn_mesh.h    OBJ and PLY meshes
 *   hrn_lmk.h     landmark files (x y text, 300-W .pts)
 *   hrn_npy.h     NumPy .npy arrays
 *   hrn_config.h  INI configs with a schema table, --set overrides
 */
#ifndef HRN_CORE_H
#define HRN_CORE_H

#include "hrn_base.h"
#include "hrn_mem.h"
#include "hrn_image.h"
#include "hrn_h5.h"
#include "hrn_mesh.h"
#include "hrn_lmk.h"
#include "hrn_npy.h"
#include "hrn_config.h"

/* "0.1.0" */
const char *hrn_version(void);
/* Print hrn's version and the versions of the libraries core links (OpenBLAS with the kernels in
 * use, HDF5, libpng, libjpeg, inih) to f, one per line: what a tool's --version shows. */
void hrn_print_versions(FILE *f, const char *tool);

#endif /* HRN_CORE_H */
