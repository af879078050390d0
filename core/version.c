/* version.c: hrn's version (CMake's project(VERSION)) and the linked libraries' versions. */
#include "hrn_core.h"

#include <cblas.h>
#include <hdf5.h>
#include <jpeglib.h>
#include <png.h>

const char *hrn_version(void) { return HRN_VERSION_STRING; }

void hrn_print_versions(FILE *f, const char *tool) {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "%s (hrn) %s\n", tool ? tool : "hrn", hrn_version());
    fprintf(f, "OpenBLAS: %s (kernels: %s)\n", openblas_get_config(), openblas_get_corename());
    fprintf(f, "HDF5: %u.%u.%u\n", maj, min, rel);
    fprintf(f, "libpng: %s\n", png_get_libpng_ver(NULL));
    fprintf(f, "libjpeg: API %d\n", JPEG_LIB_VERSION);
}
