/* hrn_base.h: status codes, thread-local error messages, always-on asserts, logging,
 * progress reporting and a monotonic timer. Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     enum hrn_status load_thing(const char *path, struct thing *out) {
 *         FILE *f = fopen(path, "rb");
 *         if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
 *         ...
 *     }
 *
 *     enum hrn_status st = load_thing("a.bin", &t);
 *     if (st != HRN_OK) fprintf(stderr, "error: %s\n", hrn_error_msg());
 *
 *     HRN_ASSERT(n > 0);                          // a bug if false: prints file:line, aborts
 *     hrn_log(HRN_LOG_INFO, "fitting %d views", n);
 *
 *     struct hrn_progress p;
 *     hrn_progress_begin(&p, "fit", 500);
 *     for (int i = 0; i < 500; i++) { ...; hrn_progress_update(&p, i + 1, "loss %.4f", loss); }
 *     hrn_progress_end(&p);
 *
 * Two tiers of failure (style.md 5.7):
 * - Bugs (violated invariants) use HRN_ASSERT / HRN_ABORT. They are always on, also under NDEBUG.
 * - Expected failures (I/O, bad files, bad config, out of memory, library errors) return an
 *   enum hrn_status; the message is kept per thread and read with hrn_error_msg().
 * The library never calls exit(); only main() maps a status to an exit code (hrn_exit_code()).
 */
#ifndef HRN_BASE_H
#define HRN_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HRN_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define HRN_NORETURN __attribute__((noreturn))
#else
#define HRN_PRINTF(fmt_idx, arg_idx)
#define HRN_NORETURN
#endif

/* --- status codes ---------------------------------------------------------------------------- */

enum hrn_status {
    HRN_OK = 0,
    HRN_ERR_INVALID,  /* a bad argument or shape given by the caller */
    HRN_ERR_IO,       /* a file cannot be opened, read or written */
    HRN_ERR_FORMAT,   /* a file's content is malformed or of the wrong kind */
    HRN_ERR_NOMEM,    /* an allocation or an arena ran out */
    HRN_ERR_CONFIG,   /* a config file or override is wrong */
    HRN_ERR_DNNL,     /* oneDNN returned an error */
    HRN_ERR_HDF5,     /* HDF5 returned an error */
    HRN_ERR_LAPACK,   /* LAPACKE reported a singular matrix or no convergence */
    HRN_ERR_NUMERIC,  /* NaN/Inf or a numerical breakdown */
    HRN_ERR_UNSUPPORTED, /* a valid input this build cannot handle */
    HRN_STATUS_COUNT
};

/* The name of a status, e.g. "HRN_ERR_IO". */
const char *hrn_status_str(enum hrn_status st);

/* Record a formatted message for the calling thread and return st (so one can
 * `return hrn_error_set(HRN_ERR_IO, "...")`). The message is truncated to 1023 bytes. */
enum hrn_status hrn_error_set(enum hrn_status st, const char *fmt, ...) HRN_PRINTF(2, 3);

/* Prefix context onto the current message ("loading ckpt x.h5: <old message>"); returns st. */
enum hrn_status hrn_error_prefix(enum hrn_status st, const char *fmt, ...) HRN_PRINTF(2, 3);

/* The calling thread's last message ("" when none). Valid until the next hrn_error_* call. */
const char *hrn_error_msg(void);
void hrn_error_clear(void);

/* Exit code for a main(): 0 for HRN_OK, 1 for any failure. A main() returns 2 itself for a bad
 * command line (usage errors), which only it can tell apart. */
int hrn_exit_code(enum hrn_status st);

/* Propagate an error: `HRN_TRY(st = f());` jumps to the label `fail` on failure. */
#define HRN_TRY(expr)                      \
    do {                                   \
        if ((st = (expr)) != HRN_OK) goto fail; \
    } while (0)

/* --- always-on assertions for bugs ------------------------------------------------------------ */

HRN_NORETURN void hrn_abort(const char *file, int line, const char *fmt, ...) HRN_PRINTF(3, 4);

#define HRN_ABORT(...) hrn_abort(__FILE__, __LINE__, __VA_ARGS__)
#define HRN_ASSERT(cond)                                          \
    do {                                                          \
        if (!(cond)) hrn_abort(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

/* --- logging ---------------------------------------------------------------------------------- */

enum hrn_log_level { HRN_LOG_DEBUG = 0, HRN_LOG_INFO, HRN_LOG_WARN, HRN_LOG_ERROR, HRN_LOG_NONE };

typedef void (*hrn_log_callback)(enum hrn_log_level level, const char *msg, void *user);

/* Messages below the level are dropped. The initial level is INFO, or the value of the
 * environment variable HRN_LOG_LEVEL (debug|info|warn|error|none) read on first use. */
void hrn_log_set_level(enum hrn_log_level level);
enum hrn_log_level hrn_log_get_level(void);
/* Parse "debug", "info", "warn", "error", "none"; HRN_ERR_INVALID otherwise. */
enum hrn_status hrn_log_level_parse(const char *s, enum hrn_log_level *out);
/* Route messages to cb (NULL restores the default: "hrn: level: msg" lines on stderr). */
void hrn_log_set_callback(hrn_log_callback cb, void *user);
void hrn_log(enum hrn_log_level level, const char *fmt, ...) HRN_PRINTF(2, 3);

/* --- monotonic time --------------------------------------------------------------------------- */

/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double hrn_time_now(void);

/* --- files written whole or not at all --------------------------------------------------------- */

/* Write to "<path>.tmp" and rename it over path only when every write succeeded, so a failed or
 * interrupted write never leaves a half-written file:
 *
 *     struct hrn_tmpfile tf;
 *     if ((st = hrn_tmpfile_open(&tf, path)) != HRN_OK) return st;
 *     fprintf(tf.fp, ...);
 *     return hrn_tmpfile_close(&tf, 1);     // 0 after an error: removes the temporary
 */
struct hrn_tmpfile {
    FILE *fp;   /* write here */
    char *path; /* malloc()ed copies */
    char *tmp;
};
/* Create "<path>.tmp" for binary writing. HRN_ERR_IO (naming the file) or HRN_ERR_NOMEM. */
enum hrn_status hrn_tmpfile_open(struct hrn_tmpfile *tf, const char *path);
/* commit != 0: close, check every write, rename over path (HRN_ERR_IO naming the file when any
 * of that fails, and the temporary is removed). commit == 0: close and remove. Frees tf's
 * strings; safe on a zeroed or already closed struct (returns HRN_OK). */
enum hrn_status hrn_tmpfile_close(struct hrn_tmpfile *tf, int commit);

/* --- CPU setup for BLAS ---------------------------------------------------------------------- */

/* Call first in main(). Debian's OpenBLAS 0.3.21 picks its kernels from the CPU model when it is
 * loaded and falls back to generic SSE3 ("Prescott", about 6x slower sgemm) on CPUs it does not
 * recognise, such as many virtual machines' "Intel Xeon Processor". When OpenBLAS chose a core
 * weaker than what cpuid reports (AVX-512 -> SkylakeX, AVX2+FMA -> Haswell) and the user did not
 * set OPENBLAS_CORETYPE, this sets it and re-executes the program once (the choice is only read
 * at load time). Set HRN_NO_BLAS_REEXEC=1 to disable. Returns only when no re-exec happened. */
void hrn_blas_cpu_setup(char **argv);
/* The OpenBLAS core in use ("SkylakeX") and the one cpuid suggests (NULL when none is better). */
const char *hrn_blas_core(void);
const char *hrn_blas_suggested_core(void);

/* --- progress --------------------------------------------------------------------------------- */

/* Progress over `total` steps. On a terminal (stderr is a tty) it redraws one line with a bar,
 * rate and ETA at most 10 times a second; otherwise it prints a plain line at most every
 * `interval_s` seconds (default 5) and at the end, so logs and CI stay readable.
 * Output goes through stderr at log levels up to WARN (-q, level ERROR or NONE, silences it). */
struct hrn_progress {
    char label[32];
    int64_t total;
    int64_t done;
    double t_start;
    double t_last_print;
    double interval_s;
    int is_tty;
    int printed_live; /* a live line is on screen and needs a newline before other output */
    char extra[160];  /* the last suffix given to hrn_progress_update, repeated by _end */
};

void hrn_progress_begin(struct hrn_progress *p, const char *label, int64_t total);
/* done = steps finished so far; extra = optional printf-style suffix ("loss 0.0421"), or NULL. */
void hrn_progress_update(struct hrn_progress *p, int64_t done, const char *extra_fmt, ...)
    HRN_PRINTF(3, 4);
void hrn_progress_end(struct hrn_progress *p);
/* Format the progress line into buf (what is printed, without '\r' or '\n'); used by tests. */
void hrn_progress_format(const struct hrn_progress *p, double now, const char *extra, char *buf,
                         size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* HRN_BASE_H */
