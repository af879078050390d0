/* fuzz_common.c: temp files and the input reader shared by the harnesses (fuzz_common.h). */
#include "fuzz_common.h"

#include "hrn_base.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The paths of this process's files, removed at exit so long runs leave /dev/shm clean. */
enum { MAX_FILES = 8, PATH_CAP = 256 };
static char g_paths[MAX_FILES][PATH_CAP];
static int g_n_paths;

static void remove_files(void) {
    for (int i = 0; i < g_n_paths; i++) {
        unlink(g_paths[i]);
        char tmp[PATH_CAP + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", g_paths[i]); /* what a failed writer may leave */
        unlink(tmp);
    }
}

static const char *tmp_dir(void) {
    if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

const char *fuzz_path(const char *name) {
    char want[PATH_CAP];
    snprintf(want, sizeof want, "%s/hrn-fuzz-%ld-%s", tmp_dir(), (long)getpid(), name);
    for (int i = 0; i < g_n_paths; i++)
        if (strcmp(g_paths[i], want) == 0) return g_paths[i];
    if (g_n_paths == MAX_FILES) return NULL; /* a harness bug: it names more files than it needs */
    if (g_n_paths == 0) atexit(remove_files);
    memcpy(g_paths[g_n_paths], want, sizeof want);
    return g_paths[g_n_paths++];
}

const char *fuzz_write_file(const uint8_t *data, size_t size, const char *name) {
    const char *path = fuzz_path(name);
    if (!path) return NULL;
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || put != size) return NULL;
    return path;
}

int fuzz_ok(int st) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("HRN_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "fuzz: %s%s%s\n", hrn_status_str((enum hrn_status)st),
                         st == HRN_OK ? "" : ": ", st == HRN_OK ? "" : hrn_error_msg());
    return st == HRN_OK;
}

void fuzz_quiet(void) {
    static int done;
    if (done) return;
    done = 1;
    hrn_log_set_level(HRN_LOG_NONE);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* Every file open callocs libhdf5's metadata cache (over 512 KB). Freed, it goes back to the
     * system unless libhdf5's free lists may keep it; under ASan every new one is then fresh
     * mmap'd memory, and page faults were most of a run (about 4x fewer runs per second). */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
}

uint8_t fuzz_u8(struct fuzz_in *in) { return in->at < in->n ? in->p[in->at++] : 0; }

uint32_t fuzz_u32(struct fuzz_in *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)fuzz_u8(in) << (8 * i);
    return v;
}

uint32_t fuzz_pick(struct fuzz_in *in, uint32_t n) { return fuzz_u8(in) % n; }

void fuzz_str(struct fuzz_in *in, char *buf, size_t cap) {
    size_t len = fuzz_u8(in) % cap, got;
    const uint8_t *b = fuzz_bytes(in, len, &got);
    if (got) memcpy(buf, b, got);
    buf[got] = 0;
}

const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t len, size_t *got) {
    size_t left = in->n - in->at;
    *got = len < left ? len : left;
    const uint8_t *b = in->p + in->at;
    in->at += *got;
    return b;
}
