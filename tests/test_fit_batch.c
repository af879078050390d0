/* test_fit_batch.c: hrn-fit --list over synthetic subjects on the small model (photos with known
 * landmarks written by the test), one of them broken:
 * - 2 worker processes fit the good subjects (one of them with two photos), the broken one is
 *   reported in summary.csv with the file and the reason, the others still finish, exit 1;
 * - a rerun skips the finished subjects (their fit.h5 is not rewritten) and, once the broken
 *   photo is fixed, fits only that one and exits 0;
 * - a bad list is refused with its line; under mpirun (when built with MPI) two ranks share the
 *   subjects and rank 0 writes the same summary. */
#include "hrn_test.h"

#include "hrn_train.h"

#include <sys/wait.h>

static const char *EXE = "../train/hrn-fit";
static const char *DIR = "tmp_fit_batch";
static struct hrn_face_model g_fm;

static int run_cmd(const char *cmd) {
    int rc = system(cmd);
    if (WIFSIGNALED(rc)) return 128 + WTERMSIG(rc);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    if (b) b[len] = 0;
    fclose(f);
    return b;
}

/* photos/<stem>.png and its 68 landmarks (y down) as <stem>.lm68.txt, from a synthetic view */
static void write_photo(const struct hrn_fit_view *v, const char *stem) {
    char p[600];
    snprintf(p, sizeof p, "%s/photos/%s.png", DIR, stem);
    CHECK_OK(hrn_image_write_png(p, &v->img, 8));
    float lm[68 * 2];
    for (int i = 0; i < 68; i++) {
        lm[2 * i] = v->lm[2 * i];
        lm[2 * i + 1] = 223.0f - v->lm[2 * i + 1];
    }
    snprintf(p, sizeof p, "%s/photos/%s.lm68.txt", DIR, stem);
    CHECK_OK(hrn_lmk_write_txt(p, lm, 68));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* three good subjects (seeds 1-3; "carol" has two photos) and "dave", whose photo is not a PNG */
static void make_subjects(void) {
    char p[600];
    snprintf(p, sizeof p, "rm -rf %s && mkdir -p %s/photos", DIR, DIR);
    CHECK(run_cmd(p) == 0);
    struct hrn_fit_config cfg;
    CHECK_OK(hrn_config_defaults(&hrn_fit_schema, &cfg));
    static const char *const stems[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        int nv = i == 2 ? 2 : 1;
        struct hrn_fit_view v[2];
        struct hrn_fit_truth truth;
        CHECK_OK(hrn_fit_synth_views(&g_fm, &cfg, 11 + i, nv, 0.0f, 3.0f, v, &truth));
        for (int k = 0; k < nv; k++) {
            char stem[32];
            snprintf(stem, sizeof stem, "%s%d", stems[i], k);
            write_photo(&v[k], stem);
            hrn_fit_view_free(&v[k]);
        }
        hrn_fit_truth_free(&truth);
    }
    snprintf(p, sizeof p, "%s/photos/dave0.png", DIR);
    write_file(p, "\x89PNG, but not really");
    snprintf(p, sizeof p, "%s/photos/bob0.lm68.txt", DIR);
    char q[1400];
    snprintf(q, sizeof q, "cp %s %s/photos/bob0_moved.txt", p, DIR);
    CHECK(run_cmd(q) == 0);
    snprintf(q, sizeof q, "cp %s/photos/alice0.lm68.txt %s/photos/dave0.lm68.txt", DIR, DIR);
    CHECK(run_cmd(q) == 0);
    snprintf(p, sizeof p, "%s/subjects.txt", DIR);
    write_file(p, "# name  photos (relative to this list)\n"
                  "alice   photos/alice0.png\n"
                  "\n"
                  "bob     photos/bob0.png lmk=photos/bob0_moved.txt\n"
                  "carol   photos/carol0.png photos/carol1.png\n"
                  "dave    photos/dave0.png\n");
    snprintf(p, sizeof p, "%s/model.h5", DIR);
    CHECK_OK(hrn_face_model_save(&g_fm, p));
}

static void command(char *cmd, size_t cap, const char *launch, const char *out, const char *list) {
    snprintf(cmd, cap,
             "%s %s -q --model %s/model.h5 --list %s/%s --jobs 2 --out %s/%s --set stages.lm=60 "
             "--set stages.coeff=40 --set stages.mid=5 --set stages.high=2 --set stages.tex=2 "
             "--set maps.disp_res=64 > %s/%s.stdout 2> %s/%s.stderr",
             launch, EXE, DIR, DIR, list, DIR, out, DIR, out, DIR, out);
}

/* summary.csv's status of a subject ("" when absent), and its landmark RMS */
static void summary_of(const char *csv, const char *name, char *status, double *rms) {
    status[0] = 0;
    *rms = NAN;
    char key[64];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = csv ? strstr(csv, key) : NULL;
    if (p) sscanf(p + strlen(key), "%15[^,],%*d,%lf", status, rms);
}

static long mtime_of(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_mtim.tv_sec * 1000000000L + sb.st_mtim.tv_nsec : -1;
}

static void check_summary(const char *out, int want_dave_ok) {
    char p[600], st[16];
    double rms;
    snprintf(p, sizeof p, "%s/%s/summary.csv", DIR, out);
    char *csv = slurp(p);
    CHECK_MSG(csv && !strncmp(csv, "subject,status,views,landmark_rms_px", 36), "%s", p);
    static const char *const good[3] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        summary_of(csv, good[i], st, &rms);
        CHECK_MSG(!strcmp(st, "ok") && rms < 5.0, "%s: status '%s', landmark RMS %g px", good[i],
                  st, rms);
        snprintf(p, sizeof p, "%s/%s/%s/fit.h5", DIR, out, good[i]);
        CHECK_MSG(mtime_of(p) > 0, "%s missing", p);
    }
    summary_of(csv, "dave", st, &rms);
    if (want_dave_ok) {
        CHECK_MSG(!strcmp(st, "ok"), "dave: %s", st);
    } else {
        CHECK_MSG(!strcmp(st, "failed"), "dave: '%s'", st);
        CHECK_MSG(csv && strstr(csv, "dave0.png"), "dave's error does not name the photo:\n%s",
                  csv ? csv : "");
    }
    free(csv);
}

static void test_batch_one_broken(void) {
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    make_subjects();
    char cmd[4096], p[600];
    command(cmd, sizeof cmd, "", "out", "subjects.txt");
    CHECK_MSG(run_cmd(cmd) == 1, "%s: want exit 1 (one subject failed)", cmd);
    check_summary("out", 0);
    snprintf(p, sizeof p, "%s/out/carol/carol1_mid.obj", DIR);
    CHECK_MSG(stat(p, &sb) == 0, "%s: the two-photo subject lacks its second view", p);
    /* a rerun skips what is done */
    snprintf(p, sizeof p, "%s/out/alice/fit.h5", DIR);
    long before = mtime_of(p);
    CHECK_MSG(run_cmd(cmd) == 1, "rerun: want exit 1 (dave still broken)");
    CHECK_MSG(mtime_of(p) == before, "alice was fitted again on the rerun");
    /* the broken photo fixed: only dave is fitted, and all is well */
    snprintf(cmd, sizeof cmd, "cp %s/photos/alice0.png %s/photos/dave0.png", DIR, DIR);
    CHECK(run_cmd(cmd) == 0);
    command(cmd, sizeof cmd, "", "out", "subjects.txt");
    CHECK_MSG(run_cmd(cmd) == 0, "%s: want exit 0 once dave is fixed", cmd);
    CHECK_MSG(mtime_of(p) == before, "alice was fitted again");
    check_summary("out", 1);
}

static void test_batch_bad_list(void) {
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    char p[600], cmd[4096];
    snprintf(p, sizeof p, "%s/bad.txt", DIR);
    write_file(p, "alice photos/alice0.png\nbob photos/bob0.png colour=red\n");
    command(cmd, sizeof cmd, "", "bad", "bad.txt");
    CHECK(run_cmd(cmd) == 1);
    snprintf(p, sizeof p, "%s/bad.stderr", DIR);
    char *err = slurp(p);
    CHECK_MSG(err && strstr(err, "bad.txt:2") && strstr(err, "colour=red"), "message: %s",
              err ? err : "(none)");
    free(err);
    snprintf(p, sizeof p, "%s/dup.txt", DIR);
    write_file(p, "alice photos/alice0.png\nalice photos/bob0.png\n");
    command(cmd, sizeof cmd, "", "dup", "dup.txt");
    CHECK(run_cmd(cmd) == 1);
    snprintf(p, sizeof p, "%s/dup.stderr", DIR);
    err = slurp(p);
    CHECK_MSG(err && strstr(err, "dup.txt:2") && strstr(err, "again"), "message: %s", err ? err : "");
    free(err);
    snprintf(cmd, sizeof cmd, "%s -q --model %s/model.h5 --list %s --out %s/x 2> /dev/null", EXE,
             DIR, DIR, DIR);
    CHECK_MSG(run_cmd(cmd) == 1, "a folder as --list was accepted");
}

static void test_batch_mpi(void) {
#ifdef HRN_MPIEXEC
    struct stat sb;
    if (stat(EXE, &sb) != 0) SKIP("%s not built", EXE);
    char launch[600], cmd[4096];
    snprintf(launch, sizeof launch,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 %s -np 2 --oversubscribe "
             "-x OMP_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0", HRN_MPIEXEC);
    command(cmd, sizeof cmd, launch, "out_mpi", "subjects.txt");
    CHECK_MSG(run_cmd(cmd) == 0, "%s failed", cmd);
    check_summary("out_mpi", 1);
    /* one thread per process both ways: the same fits, so the same figures */
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/out/summary.csv", DIR);
    snprintf(q, sizeof q, "%s/out_mpi/summary.csv", DIR);
    char *a = slurp(p), *b = slurp(q), sa[16], sb2[16];
    static const char *const names[4] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) {
        double ra, rb;
        summary_of(a, names[i], sa, &ra);
        summary_of(b, names[i], sb2, &rb);
        CHECK_MSG(ra == rb, "%s: landmark RMS %g with --jobs, %g under mpirun", names[i], ra, rb);
    }
    free(a);
    free(b);
#else
    SKIP("hrn was built without MPI");
#endif
}

int main(void) {
    CHECK_OK(hrn_synth_face(&g_fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_fit_normalize_model(&g_fm));
    RUN(test_batch_one_broken);
    RUN(test_batch_bad_list);
    RUN(test_batch_mpi);
    hrn_face_model_free(&g_fm);
    hrn_layers_release();
    return hrn_test_finish();
}
