/* test_core_h5.c: HDF5 helpers: round trips, shapes, attributes, atomic create/commit, error
 * messages, h5py-style strings, and the real SFM model file when present. */
#include "hrn_test.h"

#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_path[512];

/* "tmp_core_h5/<name>" under the test's working directory. */
static const char *tmp_file(const char *name) {
    hrn_test_tmpdir("core_h5");
    snprintf(g_path, sizeof g_path, "tmp_core_h5/%.400s", name);
    return g_path;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void test_roundtrip(void) {
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s", tmp_file("rt.h5"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(path);
    float w[10 * 20];
    double d[3] = {1.0 / 3.0, -2.5e300, 7.0};
    int32_t ix[2 * 3] = {0, -1, 2147483647, -2147483647 - 1, 5, 6};
    for (int i = 0; i < 200; i++) w[i] = (float)i * 0.25f - 7.0f;
    float scal = 42.5f;

    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_create(path, &f));
    if (!f) return;
    CHECK(file_exists(tmp) && !file_exists(path)); /* only the .tmp exists until commit */
    CHECK_OK(hrn_h5_write_f32(f, "params/fc.weight", 2, (int64_t[]){10, 20}, w));
    CHECK_OK(hrn_h5_write_f64(f, "/deep/er/x", 1, (int64_t[]){3}, d));
    CHECK_OK(hrn_h5_write_i32(f, "idx", 2, (int64_t[]){2, 3}, ix));
    CHECK_OK(hrn_h5_write_f32(f, "scalar", 0, NULL, &scal));
    CHECK_OK(hrn_h5_create_group(f, "optim/m"));
    CHECK_OK(hrn_h5_create_group(f, "optim/m")); /* exists: fine */
    CHECK_STATUS(hrn_h5_create_group(f, "idx"), HRN_ERR_INVALID);
    CHECK_ERR_HAS("idx");
    CHECK_STATUS(hrn_h5_write_f32(f, "params/fc.weight", 1, (int64_t[]){1}, w), HRN_ERR_INVALID);
    CHECK_ERR_HAS("exists already");
    CHECK_OK(hrn_h5_attr_write_str(f, "/", "hrn_format", "hrn-checkpoint"));
    CHECK_OK(hrn_h5_attr_write_str(f, "/", "config", "[optim]\nlr = 1e-4\nnote = \xc3\xa9t\xc3\xa9\n"));
    CHECK_OK(hrn_h5_attr_write_i64(f, "/", "step", 123456789012345LL));
    CHECK_OK(hrn_h5_attr_write_i64(f, "/", "step", 7)); /* replaces */
    CHECK_OK(hrn_h5_attr_write_f64(f, "params/fc.weight", "scale", 0.125));
    CHECK_OK(hrn_h5_attr_write_str(f, "/", "empty", ""));
    CHECK_STATUS(hrn_h5_attr_write_i64(f, "nope", "a", 1), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("nope");
    const char *names[] = {"anger", "", "surprise \xe2\x9c\x93"};
    CHECK_OK(hrn_h5_write_str_list(f, "expression/names", 3, names));
    CHECK_OK(hrn_h5_commit(f));
    f = NULL;
    CHECK(file_exists(path) && !file_exists(tmp));

    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    CHECK(strcmp(hrn_h5_path(f), path) == 0);
    float w2[200];
    memset(w2, 0, sizeof w2);
    CHECK_OK(hrn_h5_read_f32(f, "params/fc.weight", 2, (int64_t[]){10, 20}, w2));
    CHECK(memcmp(w, w2, sizeof w) == 0);
    memset(w2, 0, sizeof w2);
    CHECK_OK(hrn_h5_read_f32(f, "/params/fc.weight", 2, (int64_t[]){-1, 20}, w2)); /* wildcard */
    CHECK(memcmp(w, w2, sizeof w) == 0);
    double d2[3] = {0};
    CHECK_OK(hrn_h5_read_f64(f, "deep/er/x", 1, (int64_t[]){3}, d2));
    CHECK(memcmp(d, d2, sizeof d) == 0);
    float df[3] = {0};
    CHECK_OK(hrn_h5_read_f32(f, "deep/er/x", 1, (int64_t[]){3}, df)); /* f64 -> f32 */
    CHECK(df[0] == (float)d[0] && df[2] == 7.0f);
    int32_t ix2[6] = {0};
    CHECK_OK(hrn_h5_read_i32(f, "idx", 2, (int64_t[]){2, 3}, ix2));
    CHECK(memcmp(ix, ix2, sizeof ix) == 0);
    double ixd[6] = {0};
    CHECK_OK(hrn_h5_read_f64(f, "idx", 2, (int64_t[]){2, 3}, ixd)); /* i32 -> f64 */
    CHECK(ixd[2] == 2147483647.0 && ixd[3] == -2147483648.0);
    float s2 = 0;
    CHECK_OK(hrn_h5_read_f32(f, "scalar", 0, NULL, &s2));
    CHECK(s2 == 42.5f);

    int nd = -1;
    int64_t sh[HRN_H5_MAX_DIMS] = {0};
    CHECK_OK(hrn_h5_shape(f, "params/fc.weight", &nd, sh));
    CHECK(nd == 2 && sh[0] == 10 && sh[1] == 20);
    CHECK_OK(hrn_h5_shape(f, "scalar", &nd, sh));
    CHECK(nd == 0);
    float *wa = NULL;
    CHECK_OK(hrn_h5_read_f32_alloc(f, "params/fc.weight", &nd, sh, &wa));
    CHECK(wa && nd == 2 && sh[0] == 10 && sh[1] == 20 && memcmp(wa, w, sizeof w) == 0);
    free(wa);
    int32_t *ia = NULL;
    CHECK_OK(hrn_h5_read_i32_alloc(f, "idx", &nd, NULL, &ia));
    CHECK(ia && nd == 2 && memcmp(ia, ix, sizeof ix) == 0);
    free(ia);

    CHECK(hrn_h5_exists(f, "params"));
    CHECK(hrn_h5_exists(f, "/params/fc.weight"));
    CHECK(hrn_h5_exists(f, "optim/m"));
    CHECK(hrn_h5_exists(f, "/"));
    CHECK(!hrn_h5_exists(f, "params/fc.bias"));
    CHECK(!hrn_h5_exists(f, "no/such/deep/path"));

    char buf[256];
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "hrn_format", buf, sizeof buf));
    CHECK(strcmp(buf, "hrn-checkpoint") == 0);
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "config", buf, sizeof buf));
    CHECK(strcmp(buf, "[optim]\nlr = 1e-4\nnote = \xc3\xa9t\xc3\xa9\n") == 0);
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "empty", buf, sizeof buf));
    CHECK(buf[0] == '\0');
    CHECK_STATUS(hrn_h5_attr_read_str(f, "/", "hrn_format", buf, 5), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("hrn_format");
    int64_t step = 0;
    CHECK_OK(hrn_h5_attr_read_i64(f, "/", "step", &step));
    CHECK(step == 7);
    double sc = 0, stepd = 0;
    CHECK_OK(hrn_h5_attr_read_f64(f, "params/fc.weight", "scale", &sc));
    CHECK(sc == 0.125);
    CHECK_OK(hrn_h5_attr_read_f64(f, "/", "step", &stepd)); /* int attribute read as double */
    CHECK(stepd == 7.0);
    CHECK_STATUS(hrn_h5_attr_read_i64(f, "/", "hrn_format", &step), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("expected a number");
    CHECK_STATUS(hrn_h5_attr_read_str(f, "/", "step", buf, sizeof buf), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("expected a string");
    CHECK_STATUS(hrn_h5_attr_read_i64(f, "/", "git_rev", &step), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no attribute 'git_rev'");

    int64_t n = 0;
    char **strs = NULL;
    CHECK_OK(hrn_h5_read_str_list(f, "expression/names", &n, &strs));
    CHECK(n == 3 && strs && strcmp(strs[0], "anger") == 0 && strcmp(strs[1], "") == 0 &&
          strcmp(strs[2], "surprise \xe2\x9c\x93") == 0);
    free(strs);
    CHECK_STATUS(hrn_h5_read_str_list(f, "idx", &n, &strs), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("expected strings");
    CHECK(strs == NULL);

    /* writing to a file opened for reading is a caller error */
    CHECK_STATUS(hrn_h5_write_f32(f, "new", 1, (int64_t[]){1}, w), HRN_ERR_INVALID);
    CHECK_ERR_HAS("read-only");
    hrn_h5_close(f);
    CHECK(file_exists(path)); /* closing an opened file never removes it */
}

struct names {
    int n;
    char s[8][32];
    int group[8];
};

static int collect(const char *name, int is_group, void *user) {
    struct names *c = user;
    if (c->n < 8) {
        snprintf(c->s[c->n], sizeof c->s[0], "%s", name);
        c->group[c->n] = is_group;
    }
    c->n++;
    return 0;
}

static int stop_after_one(const char *name, int is_group, void *user) {
    (void)name;
    (void)is_group;
    (*(int *)user)++;
    return 1;
}

static void test_list(void) {
    const char *path = tmp_file("list.h5");
    struct hrn_h5 *f = NULL;
    float v = 1;
    CHECK_OK(hrn_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(hrn_h5_write_f32(f, "g/zeta", 1, (int64_t[]){1}, &v));
    CHECK_OK(hrn_h5_write_f32(f, "g/alpha", 1, (int64_t[]){1}, &v));
    CHECK_OK(hrn_h5_create_group(f, "g/mid"));
    struct names c = {0};
    CHECK_OK(hrn_h5_list(f, "g", collect, &c));
    CHECK(c.n == 3);
    CHECK(strcmp(c.s[0], "alpha") == 0 && !c.group[0]);
    CHECK(strcmp(c.s[1], "mid") == 0 && c.group[1]);
    CHECK(strcmp(c.s[2], "zeta") == 0 && !c.group[2]);
    int calls = 0;
    CHECK_OK(hrn_h5_list(f, "/g", stop_after_one, &calls));
    CHECK(calls == 1);
    c.n = 0;
    CHECK_OK(hrn_h5_list(f, "/", collect, &c));
    CHECK(c.n == 1 && strcmp(c.s[0], "g") == 0);
    CHECK_STATUS(hrn_h5_list(f, "g/alpha", collect, &c), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("expected a group");
    CHECK_STATUS(hrn_h5_list(f, "nothere", collect, &c), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("nothere");
    hrn_h5_close(f); /* uncommitted */
}

static void test_errors(void) {
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_file("err.h5"));
    struct hrn_h5 *f = NULL;
    float w[10 * 21] = {0};
    CHECK_OK(hrn_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(hrn_h5_write_f32(f, "params/w", 2, (int64_t[]){10, 21}, w));
    CHECK_OK(hrn_h5_write_str_list(f, "names", 1, (const char *[]){"x"}));
    CHECK_OK(hrn_h5_commit(f));
    f = NULL;
    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    float out[10 * 21];
    char want[600];
    CHECK_STATUS(hrn_h5_read_f32(f, "params/w", 2, (int64_t[]){10, 20}, out), HRN_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: dataset 'params/w' has shape (10,21), expected (10,20)", path);
    CHECK_MSG(strcmp(hrn_error_msg(), want) == 0, "message '%s'", hrn_error_msg());
    CHECK_STATUS(hrn_h5_read_f32(f, "params/w", 1, (int64_t[]){-1}, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("has shape (10,21), expected (*)");
    CHECK_STATUS(hrn_h5_read_f32(f, "params/b", 1, (int64_t[]){20}, out), HRN_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: no dataset 'params/b'", path);
    CHECK_MSG(strcmp(hrn_error_msg(), want) == 0, "message '%s'", hrn_error_msg());
    CHECK_STATUS(hrn_h5_read_f32(f, "nogroup/deeper/b", 1, (int64_t[]){20}, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("no dataset 'nogroup/deeper/b'");
    CHECK_STATUS(hrn_h5_read_f32(f, "params", 1, (int64_t[]){20}, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("'params' is a group, expected a dataset");
    CHECK_STATUS(hrn_h5_read_f32(f, "names", 1, (int64_t[]){1}, out), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("dataset 'names' has type string, expected numbers");
    float *p = (float *)1;
    int nd;
    CHECK_STATUS(hrn_h5_read_f32_alloc(f, "missing", &nd, NULL, &p), HRN_ERR_FORMAT);
    CHECK(p == NULL);
    CHECK_STATUS(hrn_h5_read_f32(f, "", 1, (int64_t[]){20}, out), HRN_ERR_INVALID);
    CHECK_STATUS(hrn_h5_commit(f), HRN_ERR_INVALID); /* frees f anyway */
    f = NULL;
    CHECK(file_exists(path));

    /* a missing file: HRN_ERR_IO naming it */
    const char *missing = tmp_file("does_not_exist.h5");
    CHECK_STATUS(hrn_h5_open(missing, &f), HRN_ERR_IO);
    CHECK(f == NULL);
    CHECK_ERR_HAS("does_not_exist.h5: cannot open");
    /* a file that is not HDF5 */
    const char *txt = tmp_file("not.h5");
    FILE *fp = fopen(txt, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fputs("this is not an HDF5 file\n", fp);
        fclose(fp);
    }
    CHECK_STATUS(hrn_h5_open(txt, &f), HRN_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: cannot open: not an HDF5 file", txt);
    CHECK_MSG(strcmp(hrn_error_msg(), want) == 0, "message '%s'", hrn_error_msg());
    /* a directory that does not exist: create fails with the path */
    CHECK_STATUS(hrn_h5_create("no_such_dir_xyz/a.h5", &f), HRN_ERR_IO);
    CHECK_ERR_HAS("no_such_dir_xyz/a.h5");
    CHECK(f == NULL);
}

static void test_abandon_keeps_old_file(void) {
    /* An uncommitted rewrite leaves the previous file untouched and no .tmp behind. */
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s", tmp_file("keep.h5"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct hrn_h5 *f = NULL;
    float v = 3.0f;
    CHECK_OK(hrn_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(hrn_h5_write_f32(f, "v", 1, (int64_t[]){1}, &v));
    CHECK_OK(hrn_h5_commit(f));
    CHECK_OK(hrn_h5_create(path, &f));
    if (!f) return;
    v = 4.0f;
    CHECK_OK(hrn_h5_write_f32(f, "v", 1, (int64_t[]){1}, &v));
    CHECK(file_exists(tmp));
    hrn_h5_close(f); /* e.g. a failure half way through a checkpoint */
    CHECK(!file_exists(tmp));
    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    float r = 0;
    CHECK_OK(hrn_h5_read_f32(f, "v", 1, (int64_t[]){1}, &r));
    CHECK(r == 3.0f);
    hrn_h5_close(f);
    hrn_h5_close(NULL);
}

/* --- disk full ---------------------------------------------------------------------------------
 * A child process lowers its file size limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past
 * it fails with EFBIG as it would with ENOSPC on a full disk) and writes a checkpoint-like file.
 * Whatever the limit, the outcome must be clean: either the file is complete and readable, or the
 * call failed and neither the file nor its .tmp exists, and the process exits normally (libhdf5
 * used to close the failed file again at exit: SIGSEGV). The child reports through its exit code
 * only, since its stdout may be a file under the same limit. */
enum { FULL_OK = 10, FULL_FAILED_CLEAN = 11, FULL_LEFTOVER = 12, FULL_BAD_FILE = 13 };

static int disk_full_child(const char *path, rlim_t limit) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = limit;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 2;
    static float big[1 << 17];
    for (int i = 0; i < (1 << 17); i++) big[i] = (float)i;
    struct hrn_h5 *f = NULL;
    enum hrn_status st = hrn_h5_create(path, &f);
    if (st == HRN_OK) st = hrn_h5_write_f32(f, "params/w", 2, (int64_t[]){256, 512}, big);
    if (st == HRN_OK) st = hrn_h5_attr_write_str(f, "/", "hrn_format", "test");
    if (st == HRN_OK) st = hrn_h5_write_f32(f, "params/b", 1, (int64_t[]){16}, big);
    if (st == HRN_OK) {
        st = hrn_h5_commit(f);
    } else {
        hrn_h5_close(f);
    }
    rl.rlim_cur = rl.rlim_max;  /* let the checks below read and stat freely */
    setrlimit(RLIMIT_FSIZE, &rl);
    if (st != HRN_OK) return file_exists(path) || file_exists(tmp) ? FULL_LEFTOVER : FULL_FAILED_CLEAN;
    if (file_exists(tmp)) return FULL_LEFTOVER;
    if (hrn_h5_open(path, &f) != HRN_OK) return FULL_BAD_FILE;
    float b[16];
    st = hrn_h5_read_f32(f, "params/b", 1, (int64_t[]){16}, b);
    hrn_h5_close(f);
    return st == HRN_OK && b[15] == 15.0f ? FULL_OK : FULL_BAD_FILE;
}

static void test_disk_full(void) {
    static const rlim_t limits[] = {0, 100, 800, 2048, 4096, 65536, 500000, 600000, 1 << 24};
    int n_failed = 0, n_ok = 0;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s", tmp_file("full.h5"));
        remove(path);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) exit(disk_full_child(path, limits[i])); /* exit(): atexit handlers run */
        int ws = 0;
        CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid);
        CHECK_MSG(WIFEXITED(ws), "limit %llu: child killed by signal %d", (unsigned long long)limits[i],
                  WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
        int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        CHECK_MSG(code == FULL_OK || code == FULL_FAILED_CLEAN, "limit %llu: child exit code %d",
                  (unsigned long long)limits[i], code);
        n_failed += code == FULL_FAILED_CLEAN;
        n_ok += code == FULL_OK;
    }
    /* the limits must really exercise both outcomes, or the test proves nothing */
    CHECK(n_failed >= 5 && n_ok >= 1);
}

/* --- declared sizes --------------------------------------------------------------------------
 * A few hundred bytes of HDF5 can declare a dataset of any size; readers allocate by the declared
 * shape, so hrn_h5_shape and the reads must refuse what the file cannot hold before that. */
static void test_declared_sizes(void) {
    const char *path = tmp_file("declared.h5");
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0) return;
    /* 2^30 floats declared, never written: no storage (allocation time late) */
    hsize_t big[1] = {(hsize_t)1 << 30}, huge[2] = {(hsize_t)1 << 31, 4}, small[1] = {1 << 20};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
    hid_t sp = H5Screate_simple(1, big, NULL);
    hid_t d = H5Dcreate2(fid, "unwritten", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    sp = H5Screate_simple(2, huge, NULL);
    d = H5Dcreate2(fid, "huge", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    /* 1M zeros, gzip-compressed in chunks: legitimately far smaller in the file than in memory */
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[1] = {1 << 16};
    H5Pset_chunk(dcpl, 1, chunk);
    H5Pset_deflate(dcpl, 6);
    sp = H5Screate_simple(1, small, NULL);
    float *zeros = calloc(1 << 20, sizeof(float));
    d = H5Dcreate2(fid, "zipped", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (zeros) H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    /* 1M floats stored contiguously, then the file cut short */
    sp = H5Screate_simple(1, small, NULL);
    d = H5Dcreate2(fid, "plain", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (zeros) H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(fid);
    free(zeros);

    struct hrn_h5 *f = NULL;
    int nd;
    int64_t sh[HRN_H5_MAX_DIMS];
    float *buf = NULL;
    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    CHECK_STATUS(hrn_h5_shape(f, "unwritten", &nd, sh), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("'unwritten' declares shape (1073741824)");
    CHECK_STATUS(hrn_h5_read_f32_alloc(f, "unwritten", &nd, sh, &buf), HRN_ERR_FORMAT);
    CHECK(buf == NULL);
    CHECK_STATUS(hrn_h5_read_f32_alloc(f, "huge", &nd, sh, &buf), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("values allowed");
    CHECK_OK(hrn_h5_read_f32_alloc(f, "zipped", &nd, sh, &buf));
    CHECK(buf && nd == 1 && sh[0] == 1 << 20);
    free(buf);
    buf = NULL;
    CHECK_OK(hrn_h5_shape(f, "plain", &nd, sh));
    hrn_h5_close(f);
    /* cut the file in the middle of "plain": libhdf5 itself refuses it at open (the superblock
     * records the end of file), and says so */
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK(truncate(path, sb.st_size - (1 << 21)) == 0);
    CHECK_STATUS(hrn_h5_open(path, &f), HRN_ERR_HDF5);
    CHECK_ERR_HAS("declared.h5: cannot open: truncated file");
    CHECK(f == NULL);
}

/* Fixed-length string attributes and datasets (what numpy bytes and many tools write), made here
 * with the raw HDF5 API since hrn_h5 itself writes variable-length strings. */
static void test_fixed_length_strings(void) {
    const char *path = tmp_file("fixed.h5");
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0) return;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(fid, "units", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "mm\0\0\0\0\0\0");
    H5Aclose(a);
    hid_t t2 = H5Tcopy(H5T_C_S1);
    H5Tset_size(t2, 6);
    H5Tset_strpad(t2, H5T_STR_SPACEPAD);
    a = H5Acreate2(fid, "spaced", t2, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t2, "ab    ");
    H5Aclose(a);
    hid_t t3 = H5Tcopy(H5T_C_S1);
    H5Tset_size(t3, 4);
    H5Tset_strpad(t3, H5T_STR_NULLPAD); /* exactly full: no terminator stored */
    a = H5Acreate2(fid, "full", t3, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t3, "abcd");
    H5Aclose(a);
    hsize_t dims[1] = {3};
    hid_t sp3 = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(fid, "names", t, sp3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "anger\0\0\0disgust\0happines");
    H5Dclose(d);
    H5Sclose(sp3);
    H5Sclose(sp);
    H5Tclose(t);
    H5Tclose(t2);
    H5Tclose(t3);
    H5Fclose(fid);

    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    char buf[64];
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "units", buf, sizeof buf));
    CHECK(strcmp(buf, "mm") == 0);
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "spaced", buf, sizeof buf));
    CHECK(strcmp(buf, "ab") == 0);
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "full", buf, sizeof buf));
    CHECK(strcmp(buf, "abcd") == 0);
    int64_t n = 0;
    char **s = NULL;
    CHECK_OK(hrn_h5_read_str_list(f, "names", &n, &s));
    CHECK(n == 3 && s && strcmp(s[0], "anger") == 0 && strcmp(s[1], "disgust") == 0 &&
          strcmp(s[2], "happines") == 0);
    free(s);
    hrn_h5_close(f);
}

/* The real Surrey Face Model file written by h5py (layout in realdata/README.md). */
static void test_realdata_sfm(void) {
    const char *rd = hrn_test_realdata();
    char path[1024];
    if (rd) snprintf(path, sizeof path, "%s/sfm/sfm_shape_3448.h5", rd);
    if (!rd || !file_exists(path)) {
        SKIP("realdata sfm/sfm_shape_3448.h5 not found (set HRN_REALDATA)");
        return;
    }
    struct hrn_h5 *f = NULL;
    CHECK_OK(hrn_h5_open(path, &f));
    if (!f) return;
    int nd = 0;
    int64_t sh[HRN_H5_MAX_DIMS];
    CHECK_OK(hrn_h5_shape(f, "shape/basis", &nd, sh));
    CHECK(nd == 2 && sh[0] == 10344 && sh[1] == 63);
    float *mean = NULL, *basis = NULL;
    int32_t *tri = NULL;
    CHECK_OK(hrn_h5_read_f32_alloc(f, "/shape/mean", &nd, sh, &mean));
    CHECK(nd == 1 && sh[0] == 10344);
    if (mean) {
        /* first vertex of the SFM mean (values read with h5py) */
        CHECK_NEAR(mean[0], -54.126328, 1e-5, 0);
        CHECK_NEAR(mean[1], -49.502426, 1e-5, 0);
        CHECK_NEAR(mean[2], -71.2307, 1e-4, 0);
    }
    basis = malloc(10344 * 63 * sizeof(float));
    CHECK_OK(hrn_h5_read_f32(f, "shape/basis", 2, (int64_t[]){10344, 63}, basis));
    CHECK_NEAR(basis[0], -2.0443697, 1e-6, 0);
    CHECK_NEAR(basis[1], -1.3659253, 1e-6, 0);
    CHECK_NEAR(basis[2], -3.207779, 1e-6, 0);
    CHECK_STATUS(hrn_h5_read_f32(f, "shape/basis", 2, (int64_t[]){10344, 64}, basis),
                 HRN_ERR_FORMAT);
    CHECK_ERR_HAS("sfm_shape_3448.h5: dataset 'shape/basis' has shape (10344,63), expected "
                  "(10344,64)");
    CHECK_OK(hrn_h5_read_i32_alloc(f, "triangles", &nd, sh, &tri));
    CHECK(nd == 2 && sh[0] == 6736 && sh[1] == 3);
    if (tri) {
        CHECK(tri[0] == 845 && tri[1] == 1724 && tri[2] == 346);
        int32_t lo = tri[0], hi = tri[0];
        for (int64_t i = 0; i < 6736 * 3; i++) {
            if (tri[i] < lo) lo = tri[i];
            if (tri[i] > hi) hi = tri[i];
        }
        CHECK(lo == 0 && hi == 3447);
    }
    int64_t n = 0;
    char **names = NULL;
    CHECK_OK(hrn_h5_read_str_list(f, "expression/names", &n, &names));
    CHECK(n == 6 && names && strcmp(names[0], "anger") == 0 && strcmp(names[3], "happiness") == 0 &&
          strcmp(names[5], "surprise") == 0);
    free(names);
    char units[128];
    CHECK_OK(hrn_h5_attr_read_str(f, "/", "units", units, sizeof units)); /* h5py: vlen str */
    CHECK_MSG(strstr(units, "millimetres") != NULL, "units '%s'", units);
    int64_t nv = 0;
    CHECK_OK(hrn_h5_attr_read_i64(f, "/", "num_vertices", &nv));
    CHECK(nv == 3448);
    free(mean);
    free(basis);
    free(tri);
    hrn_h5_close(f);
}

int main(void) {
    RUN(test_roundtrip);
    RUN(test_list);
    RUN(test_errors);
    RUN(test_abandon_keeps_old_file);
    RUN(test_disk_full);
    RUN(test_declared_sizes);
    RUN(test_fixed_length_strings);
    RUN(test_realdata_sfm);
    return hrn_test_finish();
}
