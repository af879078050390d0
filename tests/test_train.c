/* test_train.c: hrn-train with narrow networks on the small synthetic model (on-the-fly
 * synthetic data):
 * - the loss falls over a short recon run;
 * - a run killed with SIGKILL and resumed writes a losses.tsv byte-identical to an uninterrupted
 *   run's (recon; geometry with dropout and the discriminators; de-retouching);
 * - parameters that do not train stay bit-identical (geometry with mid_net frozen);
 * - a bad config (unknown key) and a bad dataset stop before step 1, naming the file and line;
 * - a loss turning NaN/Inf stops the run naming the step, term and samples (exit 1), keeping the
 *   last good checkpoint. */
#include "hrn_test.h"

#include "hrn_train.h"

static const char *EXE = "../train/hrn-train";

/* A narrow, fast recon or geometry config (as --set arguments) into cmd. */
static void base_cmd(char *cmd, size_t cap, const char *stage, const char *out, int steps) {
    snprintf(cmd, cap,
             "%s -q --config %s/configs/train_%s.ini --out %s --set data.model=synth-small "
             "--set data.synth_count=64 --set data.synth_val=4 --set data.loader_threads=1 "
             "--set nets.recon_width=4 --set nets.mid_width=4 --set nets.high_width=4 "
             "--set nets.n_blocks=1 --set nets.unet_width=4 --set batch.size=2 --set optim.iterations=%d "
             "--set optim.lr=1e-3 --set optim.schedule=constant --set ckpt.every_steps=3 "
             "--set ckpt.keep_last=3 --set log.val_every=4 --set log.val_samples=2 "
             "--set run.arena_mb=1024 --set gan.width=4",
             EXE, HRN_SOURCE_DIR, stage, out, steps);
}

/* Column `col` (0-based) of data row `row` (0-based) of a TSV. */
static double tsv_value(const char *text, int row, int col) {
    const char *p = strchr(text, '\n');
    for (int r = 0; p && r < row; r++) p = strchr(p + 1, '\n');
    if (!p) return (double)NAN;
    p++;
    for (int c = 0; c < col && p; c++) {
        p = strchr(p, '\t');
        if (p) p++;
    }
    return p ? strtod(p, NULL) : (double)NAN;
}

static int file_has(const char *path, const char *needle) {
    size_t n = 0;
    char *t = hrn_test_slurp(path, &n);
    int has = t && strstr(t, needle) != NULL;
    free(t);
    return has;
}

static int have_exe(void) {
    struct stat sb;
    return stat(EXE, &sb) == 0;
}

/* A run directory left by an earlier test run is removed first: hrn-train refuses to start a new
 * run over another's checkpoints. */
static void fresh_dir(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_train_loss_falls(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    char cmd[4096], p[1024];
    const char *dir = hrn_test_tmpdir("train_falls");
    fresh_dir(dir);
    /* four samples, so that 40 steps of batch 2 can fit them */
    char base[3600];
    base_cmd(base, sizeof base, "recon", dir, 40);
    snprintf(cmd, sizeof cmd, "%s --set data.synth_count=4 --set optim.lr=3e-3", base);
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    snprintf(p, sizeof p, "%s/losses.tsv", dir);
    size_t n = 0;
    char *t = hrn_test_slurp(p, &n);
    CHECK_MSG(t != NULL, "%s missing", p);
    if (!t) return;
    double first = 0, last = 0;
    for (int i = 0; i < 8; i++) {
        first += tsv_value(t, i, 3) / 8;
        last += tsv_value(t, 32 + i, 3) / 8;
    }
    printf("  recon: mean loss of steps 1-8 %.5g, of steps 33-40 %.5g\n", first, last);
    CHECK_MSG(isfinite(first) && isfinite(last) && last < 0.6 * first,
              "the loss did not fall: %.5g -> %.5g", first, last);
    snprintf(p, sizeof p, "%s/val.tsv", dir);
    struct stat sb;
    CHECK_MSG(stat(p, &sb) == 0, "%s missing", p);
    snprintf(p, sizeof p, "%s/ckpt_00000040.h5", dir);
    CHECK_MSG(stat(p, &sb) == 0, "%s missing", p);
    /* keep_last 3: steps 33, 36, 39 and 40 -> 36, 39, 40 remain */
    snprintf(p, sizeof p, "%s/ckpt_00000033.h5", dir);
    CHECK_MSG(stat(p, &sb) != 0, "%s should have been removed", p);
    free(t);
}

/* An uninterrupted run of `steps` and a run killed after step kill_at then resumed give the same
 * losses.tsv bytes. */
static void resume_case(const char *stage, int steps, int kill_at) {
    char cmd[4096], a[512], b[512], da[256], db[256];
    snprintf(da, sizeof da, "tmp_resume_%s_a", stage);
    snprintf(db, sizeof db, "tmp_resume_%s_b", stage);
    fresh_dir(da);
    fresh_dir(db);
    base_cmd(cmd, sizeof cmd, stage, da, steps);
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    base_cmd(cmd, sizeof cmd, stage, db, steps);
    char killed[4200];
    snprintf(killed, sizeof killed, "HRN_TRAIN_KILL_AT_STEP=%d %s", kill_at, cmd);
    int rc = hrn_test_run(killed);
    CHECK_MSG(rc == 128 + 9, "the killed run exited with %d, expected SIGKILL", rc);
    char resume[4200];
    snprintf(resume, sizeof resume, "%s --resume", cmd);
    CHECK_MSG(hrn_test_run(resume) == 0, "%s failed", resume);
    snprintf(a, sizeof a, "%s/losses.tsv", da);
    snprintf(b, sizeof b, "%s/losses.tsv", db);
    size_t na = 0, nb = 0;
    char *ta = hrn_test_slurp(a, &na), *tb = hrn_test_slurp(b, &nb);
    CHECK(ta && tb);
    if (ta && tb) {
        int rows = 0;
        for (size_t i = 0; i < na; i++) rows += ta[i] == '\n';
        CHECK_MSG(rows == steps + 1, "%s: %d lines, expected %d", a, rows, steps + 1);
        int same = na == nb && memcmp(ta, tb, na) == 0;
        CHECK_MSG(same, "%s: the resumed run's losses.tsv differs from the uninterrupted one",
                  stage);
        if (same)
            printf("  %s: killed after step %d, resumed: losses.tsv identical (%zu bytes)\n",
                   stage, kill_at, na);
    }
    free(ta);
    free(tb);
}

static void test_train_resume_recon(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    resume_case("recon", 8, 5);
}

static void test_train_resume_geometry(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    resume_case("geometry", 7, 4);
}

static void test_train_resume_deretouch(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    resume_case("deretouch", 6, 4);
}

/* geometry with mid_net frozen: its weights at the end equal those it started from */
static void test_train_frozen(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    char cmd[4096], init[1024], fin[1024];
    const char *dir = hrn_test_tmpdir("train_frozen");
    fresh_dir(dir);
    base_cmd(cmd, sizeof cmd, "geometry", dir, 3);
    CHECK_MSG(hrn_test_run(cmd) == 0, "%s failed", cmd);
    snprintf(init, sizeof init, "%s/ckpt_00000003.h5", dir);
    char cmd2[6000], dir2[600];
    snprintf(dir2, sizeof dir2, "%s_2", dir);
    fresh_dir(dir2);
    base_cmd(cmd, sizeof cmd, "geometry", dir2, 3);
    snprintf(cmd2, sizeof cmd2, "%s --set run.init=%s --set nets.train_mid=false", cmd, init);
    CHECK_MSG(hrn_test_run(cmd2) == 0, "%s failed", cmd2);
    snprintf(fin, sizeof fin, "%s/ckpt_00000003.h5", dir2);
    struct hrn_net a = {0}, b = {0}, h0 = {0}, h1 = {0};
    struct hrn_net_config mc = {.kind = HRN_NET_PIX2PIX, .in_ch = 6, .out_ch = 3, .width = 4,
                                .n_blocks = 1};
    struct hrn_net_config hc = {.kind = HRN_NET_PIX2PIX, .in_ch = 9, .out_ch = 1, .width = 4,
                                .n_blocks = 1};
    CHECK_OK(hrn_net_init(&a, &mc, 1));
    CHECK_OK(hrn_net_init(&b, &mc, 2));
    CHECK_OK(hrn_net_init(&h0, &hc, 1));
    CHECK_OK(hrn_net_init(&h1, &hc, 2));
    CHECK_OK(hrn_net_load(&a, init, "mid_net"));
    CHECK_OK(hrn_net_load(&b, fin, "mid_net"));
    CHECK_OK(hrn_net_load(&h0, init, "high_net"));
    CHECK_OK(hrn_net_load(&h1, fin, "high_net"));
    if (a.params.values && b.params.values)
        CHECK_MSG(memcmp(a.params.values, b.params.values, a.params.n * sizeof(float)) == 0,
                  "the frozen mid_net changed");
    if (h0.params.values && h1.params.values)
        CHECK_MSG(memcmp(h0.params.values, h1.params.values, h0.params.n * sizeof(float)) != 0,
                  "high_net did not train (the comparison proves nothing)");
    hrn_net_free(&a);
    hrn_net_free(&b);
    hrn_net_free(&h0);
    hrn_net_free(&h1);
    /* the checkpoint is a network file hrn-fit --checkpoint reads */
    struct hrn_fit_nets nets = {0};
    CHECK_OK(hrn_fit_nets_load(fin, &nets));
    CHECK(nets.has_mid && nets.has_high && !nets.has_recon && nets.alpha > 0 && nets.beta > 0);
    hrn_fit_nets_free(&nets);
}


static void test_train_bad_inputs(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    const char *dir = hrn_test_tmpdir("train_bad");
    char cfg[1024], cmd[4096], err[1024];
    snprintf(cfg, sizeof cfg, "%s/bad.ini", dir);
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "[hrn]\nschema = train\n[optim]\nlerning_rate = 1e-4\n");
    fclose(f);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "%s --config %s 2> %s", EXE, cfg, err);
    CHECK(hrn_test_run(cmd) == 2);
    CHECK_MSG(file_has(err, "bad.ini:4") && file_has(err, "lerning_rate"),
              "the error does not name bad.ini:4 and the key");
    /* a folder dataset whose list names a missing photo: stops before step 1 */
    char root[1024], list[1100];
    snprintf(root, sizeof root, "%s/data", dir);
    mkdir(root, 0755);
    snprintf(list, sizeof list, "%s/train.txt", root);
    f = fopen(list, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "# a comment\nimages/nobody.png\n");
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s -q --config %s/configs/train_recon.ini --out %s/run --set data.kind=folder "
             "--set data.model=synth-small --set data.root=%s --set data.train_list=train.txt "
             "--set data.val_list= --set nets.recon_width=4 2> %s",
             EXE, HRN_SOURCE_DIR, dir, root, err);
    CHECK(hrn_test_run(cmd) == 1);
    CHECK_MSG(file_has(err, "train.txt:2") && file_has(err, "nobody.png"),
              "the error does not name train.txt:2 and the photo");
    char p[1100];
    snprintf(p, sizeof p, "%s/run/losses.tsv", dir);
    struct stat sb;
    CHECK_MSG(stat(p, &sb) != 0 || sb.st_size == 0, "a step ran despite the bad dataset");
}

/* A landmark far outside the image (finite in the file, its square overflows float) makes the
 * landmark term infinite when that sample comes: the run stops there naming the step, the term
 * and the sample (exit 1); the checkpoint of the step before stays, none is written for it. */
static void test_train_nan_guard(void) {
    if (!have_exe()) SKIP("%s not built", EXE);
    char cmd[6000], base[3600], err[600], p[1100], root[600];
    const char *dir = hrn_test_tmpdir("train_nan");
    fresh_dir(dir);
    snprintf(root, sizeof root, "%s_data", dir);
    fresh_dir(root);
    struct hrn_face_model fm = {0};
    struct hrn_synth_data_config sc;
    hrn_synth_data_defaults(&sc);
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 1}));
    CHECK_OK(hrn_fit_normalize_model(&fm));
    CHECK_OK(hrn_synth_write_folder(&fm, &sc, 0, 8, 0, root, 1));
    hrn_face_model_free(&fm);
    snprintf(p, sizeof p, "%s/images/landmarks/synth_1_000005.txt", root);
    size_t len = 0;
    char *lm = hrn_test_slurp(p, &len);
    char *rest = lm ? strchr(lm, '\n') : NULL;
    CHECK_MSG(rest != NULL, "%s missing", p);
    if (!rest) {
        free(lm);
        return;
    }
    FILE *f = fopen(p, "w"); /* the first point's x far away, the other 67 as they were */
    if (f) {
        fprintf(f, "1e30 100%s", rest);
        fclose(f);
    }
    free(lm);
    base_cmd(base, sizeof base, "recon", dir, 8);
    snprintf(err, sizeof err, "%s.stderr", dir);
    snprintf(cmd, sizeof cmd,
             "%s --set data.kind=folder --set data.root=%s --set data.val_list= "
             "--set batch.size=1 --set ckpt.every_steps=1 --set log.val_every=0 2> %s",
             base, root, err);
    CHECK(hrn_test_run(cmd) == 1);
    CHECK_MSG(file_has(err, "term 'lm' is not finite") && file_has(err, "(samples synth_1_000005)"),
              "the error does not name the term and the sample");
    size_t n = 0;
    char *e = hrn_test_slurp(err, &n);
    const char *at = e ? strstr(e, "step ") : NULL;
    long step = at ? strtol(at + 5, NULL, 10) : -1;
    free(e);
    CHECK_MSG(step > 1, "no step after the first in the message");
    struct stat sb;
    snprintf(p, sizeof p, "%s/ckpt_%08ld.h5", dir, step - 1);
    CHECK_MSG(stat(p, &sb) == 0, "%s (the last good step's checkpoint) missing", p);
    snprintf(p, sizeof p, "%s/ckpt_%08ld.h5", dir, step);
    CHECK_MSG(stat(p, &sb) != 0, "%s written although step %ld failed", p, step);
    printf("  stopped at step %ld on synth_1_000005; the checkpoint of step %ld kept\n", step,
           step - 1);
}

int main(void) {
    RUN(test_train_bad_inputs);
    RUN(test_train_loss_falls);
    RUN(test_train_nan_guard);
    RUN(test_train_resume_recon);
    RUN(test_train_resume_geometry);
    RUN(test_train_resume_deretouch);
    RUN(test_train_frozen);
    return hrn_test_finish();
}
