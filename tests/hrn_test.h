/* hrn_test.h: the test harness every tests/test_*.c uses.
 *
 *     #include "hrn_test.h"
 *
 *     static void test_arena_align(void) {
 *         CHECK(x != NULL);
 *         CHECK_NEAR(got, want, 1e-6, 1e-5);
 *         CHECK_STATUS(hrn_foo(...), HRN_ERR_IO);       // and prints hrn_error_msg()
 *     }
 *
 *     int main(void) {
 *         RUN(test_arena_align);
 *         return hrn_test_finish();   // prints "N passed, N failed[, N skipped]"; non-zero on failure
 *     }
 *
 * A case passes when none of its checks failed. A case that calls SKIP("why") before any check
 * failed counts as skipped, and the reason is printed (used when ../shared/realdata is absent).
 * SKIP returns from the calling function (which must return void), so nothing after it runs on
 * the data that is missing.
 * Real data is found through the environment variable HRN_REALDATA, else the path CMake gave.
 */
#ifndef HRN_TEST_H
#define HRN_TEST_H

#include "hrn_core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HRN_TEST_UNUSED __attribute__((unused))

static int hrn_t_passed, hrn_t_failed, hrn_t_skipped;
static int hrn_t_case_failed, hrn_t_case_skipped;
static const char *hrn_t_case;

static void hrn_t_fail(const char *file, int line, const char *fmt, ...) HRN_PRINTF(3, 4);
static void hrn_t_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "  FAIL %s:%d [%s] ", file, line, hrn_t_case ? hrn_t_case : "?");
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    hrn_t_case_failed = 1;
}

#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) hrn_t_fail(__FILE__, __LINE__, "%s", #cond);     \
    } while (0)

#define CHECK_MSG(cond, ...)                                          \
    do {                                                              \
        if (!(cond)) hrn_t_fail(__FILE__, __LINE__, __VA_ARGS__);     \
    } while (0)

/* |a-b| <= atol + rtol*max(|a|,|b|), and both finite */
#define CHECK_NEAR(a, b, atol, rtol)                                                          \
    do {                                                                                      \
        double a_ = (double)(a), b_ = (double)(b);                                            \
        double tol_ = (double)(atol) + (double)(rtol) * (fabs(a_) > fabs(b_) ? fabs(a_) : fabs(b_));             \
        if (!(isfinite(a_) && isfinite(b_) && fabs(a_ - b_) <= tol_))                         \
            hrn_t_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| %.3g > tol %.3g", #a, \
                       a_, #b, b_, fabs(a_ - b_), tol_);                                      \
    } while (0)

/* The call must return the given status; on mismatch prints the error message. */
#define CHECK_STATUS(call, want)                                                              \
    do {                                                                                      \
        enum hrn_status got_ = (call);                                                        \
        if (got_ != (want))                                                                   \
            hrn_t_fail(__FILE__, __LINE__, "%s returned %s, expected %s (message: %s)", #call, \
                       hrn_status_str(got_), hrn_status_str(want), hrn_error_msg());          \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, HRN_OK)

/* The current error message must contain `needle` (e.g. the file name or the dataset). */
#define CHECK_ERR_HAS(needle)                                                                 \
    do {                                                                                      \
        if (!strstr(hrn_error_msg(), (needle)))                                               \
            hrn_t_fail(__FILE__, __LINE__, "error message '%s' does not mention '%s'",         \
                       hrn_error_msg(), (needle));                                            \
    } while (0)

#define SKIP(...)                                                                             \
    do {                                                                                      \
        printf("  SKIP [%s] ", hrn_t_case ? hrn_t_case : "?");                                \
        printf(__VA_ARGS__);                                                                  \
        printf("\n");                                                                         \
        hrn_t_case_skipped = 1;                                                               \
        return;                                                                               \
    } while (0)

static void hrn_t_run(const char *name, void (*fn)(void)) {
    hrn_t_case = name;
    hrn_t_case_failed = 0;
    hrn_t_case_skipped = 0;
    hrn_error_clear();
    double t0 = hrn_time_now();
    fn();
    double ms = 1e3 * (hrn_time_now() - t0);
    if (hrn_t_case_failed) {
        hrn_t_failed++;
        printf("FAIL %s (%.0f ms)\n", name, ms);
    } else if (hrn_t_case_skipped) {
        hrn_t_skipped++;
        printf("skip %s\n", name);
    } else {
        hrn_t_passed++;
        printf("ok   %s (%.0f ms)\n", name, ms);
    }
    fflush(stdout);
}

#define RUN(fn) hrn_t_run(#fn, fn)

static int hrn_test_finish(void) {
    if (hrn_t_skipped)
        printf("%d passed, %d failed, %d skipped\n", hrn_t_passed, hrn_t_failed, hrn_t_skipped);
    else
        printf("%d passed, %d failed\n", hrn_t_passed, hrn_t_failed);
    fflush(stdout);
    return hrn_t_failed ? 1 : 0;
}

/* Directory of ../shared/realdata, or NULL (then SKIP with a visible message). */
HRN_TEST_UNUSED static const char *hrn_test_realdata(void) {
    const char *d = getenv("HRN_REALDATA");
#ifdef HRN_REALDATA_DIR
    if (!d || !*d) d = HRN_REALDATA_DIR;
#endif
    struct stat sb;
    if (!d || stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
    return d;
}

/* A per-test temporary directory under the build tree ("tmp_<name>"), created if needed. */
HRN_TEST_UNUSED static const char *hrn_test_tmpdir(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "tmp_%s", name);
    mkdir(buf, 0755);
    return buf;
}

/* system(cmd) as an exit code: the command's own, 128 + the signal that ended it, or -1. */
HRN_TEST_UNUSED static int hrn_test_run(const char *cmd) {
    int rc = system(cmd);
    if (rc != -1 && WIFSIGNALED(rc)) return 128 + WTERMSIG(rc);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A whole file, NUL-terminated, malloc()ed; NULL when it cannot be read. *n (may be NULL) gets
 * its length. */
HRN_TEST_UNUSED static char *hrn_test_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)len + 1)) &&
        fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    if (b) b[len] = 0;
    if (b && n) *n = (size_t)len;
    fclose(f);
    return b;
}

#endif /* HRN_TEST_H */
