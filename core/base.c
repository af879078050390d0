/* base.c: status strings, thread-local error messages, abort, logging, timer, progress. */
#include "hrn_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- status ----------------------------------------------------------------------------------- */

static const char *const STATUS_NAMES[] = {
    [HRN_OK] = "HRN_OK",
    [HRN_ERR_INVALID] = "HRN_ERR_INVALID",
    [HRN_ERR_IO] = "HRN_ERR_IO",
    [HRN_ERR_FORMAT] = "HRN_ERR_FORMAT",
    [HRN_ERR_NOMEM] = "HRN_ERR_NOMEM",
    [HRN_ERR_CONFIG] = "HRN_ERR_CONFIG",
    [HRN_ERR_DNNL] = "HRN_ERR_DNNL",
    [HRN_ERR_HDF5] = "HRN_ERR_HDF5",
    [HRN_ERR_LAPACK] = "HRN_ERR_LAPACK",
    [HRN_ERR_NUMERIC] = "HRN_ERR_NUMERIC",
    [HRN_ERR_UNSUPPORTED] = "HRN_ERR_UNSUPPORTED",
};
_Static_assert(sizeof STATUS_NAMES / sizeof STATUS_NAMES[0] == HRN_STATUS_COUNT,
               "STATUS_NAMES out of sync with enum hrn_status");

const char *hrn_status_str(enum hrn_status st) {
    if ((unsigned)st >= HRN_STATUS_COUNT) return "HRN_ERR_UNKNOWN";
    return STATUS_NAMES[st];
}

enum { ERR_CAP = 1024 };
static _Thread_local char g_err[ERR_CAP];

/* Store a message of n bytes. One that does not fit loses its middle, not its end: the end is the
 * reason ("...: cannot open: No such file or directory") and the start says what failed, while
 * the middle is usually the long path. */
static void store_msg(const char *m, size_t n) {
    size_t cap = sizeof g_err - 1;
    if (n <= cap) {
        memcpy(g_err, m, n);
        g_err[n] = '\0';
        return;
    }
    size_t head = (cap - 3) / 3, tail = cap - 3 - head;
    memcpy(g_err, m, head);
    memcpy(g_err + head, "...", 3);
    memcpy(g_err + head + 3, m + n - tail, tail);
    g_err[cap] = '\0';
}

/* vsnprintf into a buffer large enough (malloc'd when the stack one is not), add ": <append>"
 * when append is a non-empty string (hrn_error_prefix's old message), then store_msg. */
static void set_vmsg(const char *append, const char *fmt, va_list ap) {
    char local[4096], *big = NULL, *m = local;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(local, sizeof local, fmt, ap);
    if (n < 0) n = 0;
    size_t extra = append && append[0] ? 2 + strlen(append) : 0;
    if ((size_t)n + extra >= sizeof local && (big = malloc((size_t)n + extra + 1)) != NULL) {
        vsnprintf(big, (size_t)n + 1, fmt, aq);
        m = big;
    }
    va_end(aq);
    size_t len = strnlen(m, m == big ? (size_t)n : sizeof local - 1);
    if (extra) { /* "<prefix>: <old message>" */
        size_t room = (m == big ? (size_t)n + extra + 1 : sizeof local) - 1 - len;
        size_t k = extra < room ? extra : room;
        memcpy(m + len, ": ", k < 2 ? k : 2);
        if (k > 2) memcpy(m + len + 2, append, k - 2);
        len += k;
    }
    store_msg(m, len);
    free(big);
}

enum hrn_status hrn_error_set(enum hrn_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_vmsg(NULL, fmt, ap);
    va_end(ap);
    return st;
}

enum hrn_status hrn_error_prefix(enum hrn_status st, const char *fmt, ...) {
    char old[ERR_CAP];
    memcpy(old, g_err, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    set_vmsg(old, fmt, ap);
    va_end(ap);
    return st;
}

const char *hrn_error_msg(void) { return g_err; }
void hrn_error_clear(void) { g_err[0] = '\0'; }

int hrn_exit_code(enum hrn_status st) { return st == HRN_OK ? 0 : 1; }

void hrn_abort(const char *file, int line, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

/* --- logging ---------------------------------------------------------------------------------- */

static int g_log_level = -1; /* -1: not yet read from the environment */
static hrn_log_callback g_log_cb;
static void *g_log_user;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error", "none"};

enum hrn_status hrn_log_level_parse(const char *s, enum hrn_log_level *out) {
    for (int i = 0; i <= HRN_LOG_NONE; i++) {
        if (s && strcmp(s, LEVEL_NAMES[i]) == 0) {
            *out = (enum hrn_log_level)i;
            return HRN_OK;
        }
    }
    return hrn_error_set(HRN_ERR_INVALID, "log level '%s': expected debug, info, warn, error or none",
                         s ? s : "(null)");
}

enum hrn_log_level hrn_log_get_level(void) {
    if (g_log_level < 0) {
        enum hrn_log_level lv = HRN_LOG_INFO;
        const char *env = getenv("HRN_LOG_LEVEL");
        if (env && *env && hrn_log_level_parse(env, &lv) != HRN_OK) {
            fprintf(stderr, "hrn: warn: HRN_LOG_LEVEL='%s' is not one of debug|info|warn|error|none;"
                            " using info\n", env);
            lv = HRN_LOG_INFO;
        }
        g_log_level = (int)lv;
    }
    return (enum hrn_log_level)g_log_level;
}

void hrn_log_set_level(enum hrn_log_level level) { g_log_level = (int)level; }

void hrn_log_set_callback(hrn_log_callback cb, void *user) {
    g_log_cb = cb;
    g_log_user = user;
}

void hrn_log(enum hrn_log_level level, const char *fmt, ...) {
    if (level >= HRN_LOG_NONE || (int)level < (int)hrn_log_get_level()) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_log_cb) {
        g_log_cb(level, msg, g_log_user);
        return;
    }
    fprintf(stderr, "hrn: %s: %s\n", LEVEL_NAMES[level], msg);
}

/* --- timer ------------------------------------------------------------------------------------ */

double hrn_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --- progress --------------------------------------------------------------------------------- */

void hrn_progress_begin(struct hrn_progress *p, const char *label, int64_t total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total > 0 ? total : 0;
    p->t_start = hrn_time_now();
    p->t_last_print = p->t_start;
    p->interval_s = 5.0;
    p->is_tty = isatty(STDERR_FILENO);
}

static void fmt_hms(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 359999) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

void hrn_progress_format(const struct hrn_progress *p, double now, const char *extra, char *buf,
                         size_t cap) {
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    char eta[32], elapsed[32];
    fmt_hms(elapsed, sizeof elapsed, el);
    if (rate > 0 && p->total > 0)
        fmt_hms(eta, sizeof eta, (double)(p->total - p->done) / rate);
    else
        snprintf(eta, sizeof eta, "--:--");
    char bar[24] = "";
    if (p->is_tty && p->total > 0) {
        int w = 20, fill = (int)((double)w * (double)p->done / (double)p->total);
        if (fill > w) fill = w;
        bar[0] = '[';
        for (int i = 0; i < w; i++) bar[1 + i] = i < fill ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = '\0';
    }
    const char *unit = rate >= 1.0 || rate == 0.0 ? "it/s" : "s/it";
    double shown = rate >= 1.0 || rate == 0.0 ? rate : 1.0 / rate;
    if (p->total > 0)
        snprintf(buf, cap, "%s %s%s%lld/%lld %.1f%% %.2f %s elapsed %s ETA %s%s%s", p->label, bar,
                 bar[0] ? " " : "", (long long)p->done, (long long)p->total,
                 100.0 * (double)p->done / (double)p->total, shown, unit, elapsed, eta,
                 extra && *extra ? " " : "", extra ? extra : "");
    else
        snprintf(buf, cap, "%s %lld %.2f %s elapsed %s%s%s", p->label, (long long)p->done, shown,
                 unit, elapsed, extra && *extra ? " " : "", extra ? extra : "");
}

static void progress_print(struct hrn_progress *p, double now, const char *extra, int final) {
    if (hrn_log_get_level() >= HRN_LOG_ERROR) return; /* -q: errors only */
    char line[512];
    hrn_progress_format(p, now, extra, line, sizeof line);
    if (p->is_tty) {
        fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
        p->printed_live = !final;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    p->t_last_print = now;
}

void hrn_progress_update(struct hrn_progress *p, int64_t done, const char *extra_fmt, ...) {
    p->done = done;
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        vsnprintf(p->extra, sizeof p->extra, extra_fmt, ap);
        va_end(ap);
    }
    double now = hrn_time_now();
    double every = p->is_tty ? 0.1 : p->interval_s;
    if (now - p->t_last_print < every) return;
    /* The last step is printed by hrn_progress_end. */
    if (p->total > 0 && done >= p->total && !p->is_tty) return;
    progress_print(p, now, p->extra, 0);
}

void hrn_progress_end(struct hrn_progress *p) {
    progress_print(p, hrn_time_now(), p->extra, 1);
}
