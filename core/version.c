/* version.c: the library version string, from CMake's project(VERSION). */
#include "hrn_core.h"

const char *hrn_version(void) { return HRN_VERSION_STRING; }
