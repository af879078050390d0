/* cpu.c: make OpenBLAS use the kernels the CPU supports (see hrn_blas_cpu_setup in hrn_base.h). */
#include "hrn_base.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *hrn_blas_core(void) { return openblas_get_corename(); }

/* Cores at least as capable as what we would suggest: leave them alone. */
static int core_is_avx512(const char *c) {
    static const char *const names[] = {"SkylakeX", "Cooperlake", "SapphireRapids", "Zen4"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(c, names[i]) == 0) return 1;
    return 0;
}

static int core_is_avx2(const char *c) {
    static const char *const names[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                        "SapphireRapids", "Zen4", "Skylake"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(c, names[i]) == 0) return 1;
    return 0;
}

const char *hrn_blas_suggested_core(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    const char *cur = hrn_blas_core();
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return core_is_avx512(cur) ? NULL : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return core_is_avx2(cur) ? NULL : "Haswell";
#endif
    return NULL;
}

void hrn_blas_cpu_setup(char **argv) {
    const char *off = getenv("HRN_NO_BLAS_REEXEC");
    if ((off && *off && *off != '0') || getenv("OPENBLAS_CORETYPE")) return;
    const char *want = hrn_blas_suggested_core();
    if (!want || !argv || !argv[0]) return;
    hrn_log(HRN_LOG_DEBUG, "OpenBLAS chose the %s kernels; restarting with OPENBLAS_CORETYPE=%s",
            hrn_blas_core(), want);
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the slow kernels */
    hrn_log(HRN_LOG_WARN, "could not restart with OPENBLAS_CORETYPE=%s; BLAS runs the %s kernels"
                          " (set OPENBLAS_CORETYPE yourself)", want, hrn_blas_core());
}
