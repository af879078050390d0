/* data_impl.h: declarations shared between the files of the data module (not public API). */
#ifndef HRN_DATA_IMPL_H
#define HRN_DATA_IMPL_H

#include "hrn_data.h"

/* Check the shapes of the datasets present in a gt/<name>.h5 file without reading their data
 * (dataset validation): coeffs (n_coeffs), verts (n_verts, 3) and the fixed-shape maps; -1 accepts
 * any length. HRN_ERR_FORMAT naming the file and dataset; the errors of hrn_h5_open. */
enum hrn_status hrn__sample_gt_check(const char *path, int64_t n_coeffs, int64_t n_verts);

#endif /* HRN_DATA_IMPL_H */
