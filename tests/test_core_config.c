/* test_core_config.c: schema-driven INI configs: defaults, every error kind with file:line,
 * --set overrides, the resolved dump re-parsing to the same values, help text, the registry. */
#include "hrn_test.h"

#include <float.h>
#include <ini.h>
#include <limits.h>

/* A test schema with every key type, the shared [optim] section embedded, and a dotted section. */
struct test_cfg {
    struct hrn_config_optim optim;
    int views;
    float scale;
    int flip;
    char out[16];
    int mode;
    double w_lmk;
};

static const char *const MODES[] = {"fast", "full", NULL};

static const struct hrn_config_key RUN_KEYS[] = {
    HRN_CFG_INT(struct test_cfg, views, "views", "1", 1, 64, "images per subject"),
    HRN_CFG_FLOAT(struct test_cfg, scale, "scale", "0.5", 0, 2, "image scale"),
    HRN_CFG_BOOL(struct test_cfg, flip, "flip", "false", "mirror augmentation"),
    HRN_CFG_STRING(struct test_cfg, out, "out", "runs/x", "output directory"),
    HRN_CFG_ENUM(struct test_cfg, mode, "mode", "full", MODES, "fitting mode"),
};
static const struct hrn_config_key LOSS_KEYS[] = {
    HRN_CFG_DOUBLE(struct test_cfg, w_lmk, "w_lmk", "1.6e-3", 0, DBL_MAX, "landmark loss weight"),
};
static const struct hrn_config_section TEST_SECTIONS[] = {
    HRN_CFG_SECTION(struct test_cfg, optim, "optim", HRN_CONFIG_OPTIM_KEYS, HRN_CONFIG_OPTIM_N_KEYS,
                    "optimizer"),
    {"run", RUN_KEYS, 5, 0, "the run"},
    {"loss.0", LOSS_KEYS, 1, 0, "a dotted section name"},
};
static const struct hrn_config_schema TEST_SCHEMA = {"test", TEST_SECTIONS, 3,
                                                     sizeof(struct test_cfg)};

static const char *write_ini(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", hrn_test_tmpdir("config"), name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_defaults(void) {
    struct test_cfg c;
    memset(&c, 0xab, sizeof c);
    const char *p = write_ini("defaults.ini", "[hrn]\nschema = test\n");
    CHECK_OK(hrn_config_load(&TEST_SCHEMA, p, &c));
    CHECK(c.optim.method == HRN_CONFIG_OPTIM_ADAM);
    CHECK(c.optim.lr == 1e-3 && c.optim.beta2 == 0.999 && c.optim.eps == 1e-8);
    CHECK(c.optim.iterations == 1000 && c.optim.schedule == HRN_CONFIG_LR_CONSTANT);
    CHECK(c.views == 1 && c.scale == 0.5f && c.flip == 0 && strcmp(c.out, "runs/x") == 0);
    CHECK(c.mode == 1 && c.w_lmk == 1.6e-3);
    struct test_cfg d;
    CHECK_OK(hrn_config_defaults(&TEST_SCHEMA, &d));
    CHECK(memcmp(&c, &d, sizeof c) == 0);
}

static void test_parse_values(void) {
    struct test_cfg c;
    const char *p = write_ini("values.ini",
                              "; comment\n# another\n[hrn]\nschema = test\n\n"
                              "[optim]\nmethod = lbfgs\nlr = 0.25   ; inline comment\n"
                              "iterations = 50\nschedule = step\n"
                              "[run]\nviews=3\nscale = 1.25\nflip = yes\nout = a/b c\nmode = fast\n"
                              "[loss.0]\nw_lmk = 2e5\n");
    CHECK_OK(hrn_config_load(&TEST_SCHEMA, p, &c));
    CHECK(c.optim.method == HRN_CONFIG_OPTIM_LBFGS && c.optim.lr == 0.25 &&
          c.optim.iterations == 50);
    CHECK(c.optim.schedule == HRN_CONFIG_LR_STEP && c.optim.beta1 == 0.9);
    CHECK(c.views == 3 && c.scale == 1.25f && c.flip == 1 && strcmp(c.out, "a/b c") == 0);
    CHECK(c.mode == 0 && c.w_lmk == 2e5);
    /* the same from a string */
    struct test_cfg d;
    CHECK_OK(
        hrn_config_load_string(&TEST_SCHEMA, "s", "[hrn]\nschema=test\n[run]\nflip = ON\n", &d));
    CHECK(d.flip == 1);
}

/* Each bad file must give HRN_ERR_CONFIG and a message containing `want`. */
static void expect_error(const char *text, const char *want) {
    struct test_cfg c;
    const char *p = write_ini("bad.ini", text);
    CHECK_STATUS(hrn_config_load(&TEST_SCHEMA, p, &c), HRN_ERR_CONFIG);
    CHECK_ERR_HAS(want);
    CHECK_ERR_HAS("bad.ini");
}

static void test_errors(void) {
    const char *H = "[hrn]\nschema = test\n";
    char t[1024];
#define BAD(body, want) (snprintf(t, sizeof t, "%s%s", H, body), expect_error(t, want))
    BAD("[optim]\nlr = 1e-3\n\n[optim]\nlerning_rate = 0.1\n",
        "bad.ini:7: unknown key 'lerning_rate' in [optim]");
    BAD("[optimizer]\nlr = 1\n", "bad.ini:3: unknown section [optimizer]");
    BAD("[optim]\nlr = abc\n", "bad.ini:4: bad value for 'lr' in [optim]: 'abc' is not a number");
    BAD("[optim]\nlr = 1e-3x\n", "'1e-3x' is not a number");
    BAD("[optim]\nlr =\n", "'' is not a number");
    BAD("[optim]\nlr = nan\n", "'nan' is not a finite number");
    BAD("[optim]\nlr = 1e999\n", "does not fit");
    BAD("[optim]\nlr = 20\n",
        "bad.ini:4: bad value for 'lr' in [optim]: 20 is out of range [0, 10]");
    BAD("[optim]\niterations = -1\n", "-1 is out of range");
    BAD("[optim]\niterations = 10.5\n", "'10.5' is not an integer");
    BAD("[optim]\niterations = 99999999999999999999\n", "out of range");
    BAD("[optim]\nmethod = adagrad\n", "bad.ini:4: bad value for 'method' in [optim]: 'adagrad' is "
                                       "not one of adam, adamw, sgd, lbfgs");
    BAD("[optim]\nmethod = Adam\n", "'Adam' is not one of");
    BAD("[optim]\nlr = 0.1\nbeta1 = 0.8\nlr = 0.2\n",
        "bad.ini:6: duplicate key 'lr' in [optim] (first set on line 4)");
    BAD("[optim]\nlr = 0.1\n[optim]\nlr = 0.2\n", "duplicate key 'lr'");
    BAD("[run]\nflip = maybe\n", "'maybe' is not a bool");
    BAD("[run]\nscale = 3\n", "out of range");
    BAD("[run]\nscale = 1e39\n", "does not fit in a float");
    BAD("[run]\nout = 0123456789abcdef\n", "longer than 15 characters");
    BAD("[optim]\nthis line has no equals sign\n", "bad.ini:4: syntax error");
    BAD("[optim\nlr = 1\n", "bad.ini:3: syntax error");
    BAD("[hrn]\nschema = test\n", "duplicate key 'schema' in [hrn]");
    BAD("[hrn]\nversion = 2\n", "unknown key 'version' in [hrn]");
#undef BAD
    expect_error("[optim]\nlr = 1\n[hrn]\nschema = test\n",
                 "bad.ini:2: the file must start with [hrn] and 'schema = test'");
    expect_error("lr = 1\n", "bad.ini:1: the file must start with [hrn]");
    expect_error("[hrn]\nschema = fit\n", "bad.ini:2: schema 'fit', but this reads schema 'test'");
    expect_error("; only a comment\n", "bad.ini: no [hrn] section with 'schema = test'");
    expect_error("", "no [hrn] section");
    /* a line longer than inih's buffer is an error, never two half-lines */
    char longline[600];
    snprintf(longline, sizeof longline, "[hrn]\nschema = test\n[run]\nout = %0300d\n", 7);
    expect_error(longline, "bad.ini:4: line longer than");
    /* missing file */
    struct test_cfg c;
    CHECK_STATUS(hrn_config_load(&TEST_SCHEMA, "no/such/dir/x.ini", &c), HRN_ERR_IO);
    CHECK_ERR_HAS("no/such/dir/x.ini: cannot open");
    CHECK_ERR_HAS("No such file or directory"); /* it said "cannot open: Success" (issue 17) */
    /* the defaults are still there after an error */
    CHECK(c.optim.lr == 1e-3);
}

static void test_inih_globals_restored(void) {
    bool stop = ini_stop_on_first_error, multi = ini_allow_multiline;
    struct test_cfg c;
    CHECK_OK(hrn_config_load_string(&TEST_SCHEMA, "s", "[hrn]\nschema = test\n", &c));
    CHECK(ini_stop_on_first_error == stop && ini_allow_multiline == multi);
    /* an indented line is a key of its own, not a continuation of the previous value */
    CHECK_OK(hrn_config_load_string(
        &TEST_SCHEMA, "s", "[hrn]\nschema = test\n[optim]\nlr = 0.5\n  beta1 = 0.5\n", &c));
    CHECK(c.optim.lr == 0.5 && c.optim.beta1 == 0.5);
}

static void test_set_overrides(void) {
    struct test_cfg c;
    CHECK_OK(hrn_config_defaults(&TEST_SCHEMA, &c));
    CHECK_OK(hrn_config_set(&TEST_SCHEMA, &c, "optim.lr=1e-4"));
    CHECK(c.optim.lr == 1e-4);
    CHECK_OK(hrn_config_set(&TEST_SCHEMA, &c, " optim.method = sgd "));
    CHECK(c.optim.method == HRN_CONFIG_OPTIM_SGD);
    CHECK_OK(hrn_config_set(&TEST_SCHEMA, &c, "loss.0.w_lmk=7"));
    CHECK(c.w_lmk == 7.0);
    CHECK_OK(hrn_config_set(&TEST_SCHEMA, &c, "run.out=a=b"));
    CHECK(strcmp(c.out, "a=b") == 0);
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optim.lr=abc"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("--set optim.lr=abc: 'abc' is not a number");
    CHECK(c.optim.lr == 1e-4);
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optim.lerning_rate=1"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("--set optim.lerning_rate=1: unknown key 'lerning_rate' in [optim]");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optimizer.lr=1"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("unknown section [optimizer]");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optim.lr"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("expected section.key=value");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "lr=1"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("expected section.key=value");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optim.iterations=1000000000"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("out of range");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "optim.schedule=linear"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("'linear' is not one of constant, step, cosine, warmup_cosine");
    CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, "hrn.schema=x"), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("cannot be overridden");
    /* strings the saved config could not carry back (fuzzing: --set fz.s=; saved "s = ;", which
     * reads back as "", so a --resume ran with another value) */
    static const char *const unsafe[] = {"run.out=;", "run.out=a ;b", "run.out=x\ty", "run.out=a\nb"};
    for (int i = 0; i < 4; i++) {
        CHECK_STATUS(hrn_config_set(&TEST_SCHEMA, &c, unsafe[i]), HRN_ERR_CONFIG);
        CHECK_ERR_HAS("cannot be stored in an INI file");
        CHECK(strcmp(c.out, "a=b") == 0);
    }
    CHECK_OK(hrn_config_set(&TEST_SCHEMA, &c, "run.out=a;b#c"));   /* these read back as they are */
    CHECK(strcmp(c.out, "a;b#c") == 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/semicolon.ini", hrn_test_tmpdir("config"));
    struct test_cfg back;
    CHECK_OK(hrn_config_save(&TEST_SCHEMA, &c, path));
    CHECK_OK(hrn_config_load(&TEST_SCHEMA, path, &back));
    CHECK(memcmp(&c, &back, sizeof c) == 0);
    snprintf(c.out, sizeof c.out, ";x"); /* set in memory: the writer refuses it too */
    CHECK_STATUS(hrn_config_save(&TEST_SCHEMA, &c, path), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("cannot be written as INI");
}

static void test_save_reparses_to_same_values(void) {
    struct test_cfg c, back;
    CHECK_OK(hrn_config_defaults(&TEST_SCHEMA, &c));
    /* values whose shortest decimal form needs all 17 (9) digits */
    c.optim.lr = 1.0 / 3.0;
    c.optim.eps = 0.1 + 0.2;
    c.optim.gamma = 0.7;
    c.scale = 1.0f / 3.0f;
    c.flip = 1;
    c.mode = 0;
    c.optim.schedule = HRN_CONFIG_LR_WARMUP_COSINE;
    snprintf(c.out, sizeof c.out, "dir/with space");
    c.w_lmk = 123456789.123456789;
    char path[1024];
    snprintf(path, sizeof path, "%s/saved.ini", hrn_test_tmpdir("config"));
    CHECK_OK(hrn_config_save(&TEST_SCHEMA, &c, path));
    memset(&back, 0, sizeof back);
    CHECK_OK(hrn_config_load(&TEST_SCHEMA, path, &back));
    CHECK(memcmp(&c, &back, sizeof c) == 0);
    /* all keys are in the dump, with their help as comments */
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char text[8192] = "";
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    CHECK(strstr(text, "[hrn]\nschema = test\n") != NULL);
    CHECK(strstr(text, "lr = 0.3333333333333333\n") != NULL);
    CHECK(strstr(text, "eps = 0.30000000000000004\n") != NULL);
    CHECK(strstr(text, "gamma = 0.7\n") != NULL); /* shortest exact form, not 0.69999999999999996 */
    CHECK(strstr(text, "scale = 0.33333334\n") != NULL);
    CHECK(strstr(text, "# landmark loss weight (double >= 0, default 1.6e-3)") != NULL);
    CHECK(strstr(text, "# update rule (enum adam|adamw|sgd|lbfgs, default adam)") != NULL);
    for (int i = 0; i < HRN_CONFIG_OPTIM_N_KEYS; i++) {
        char k[64];
        snprintf(k, sizeof k, "\n%s = ", HRN_CONFIG_OPTIM_KEYS[i].key);
        CHECK_MSG(strstr(text, k) != NULL, "key %s missing from the dump",
                  HRN_CONFIG_OPTIM_KEYS[i].key);
    }
    /* a string that INI cannot carry is refused, and no file is left behind */
    snprintf(c.out, sizeof c.out, "a ;b");
    char path2[1024];
    snprintf(path2, sizeof path2, "%s/unsaveable.ini", hrn_test_tmpdir("config"));
    CHECK_STATUS(hrn_config_save(&TEST_SCHEMA, &c, path2), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("cannot be written as INI");
    FILE *g = fopen(path2, "r");
    CHECK(g == NULL);
    if (g) fclose(g);
    snprintf(path2, sizeof path2, "%s/unsaveable.ini.tmp", hrn_test_tmpdir("config"));
    g = fopen(path2, "r");
    CHECK(g == NULL);
    if (g) fclose(g);
}

static void test_help_lists_every_key(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f) return;
    hrn_config_help(&TEST_SCHEMA, f);
    fclose(f);
    for (int i = 0; i < TEST_SCHEMA.n_sections; i++) {
        const struct hrn_config_section *sec = &TEST_SCHEMA.sections[i];
        for (int k = 0; k < sec->n_keys; k++) {
            char want[128];
            snprintf(want, sizeof want, "  %s.%s\n      %s (", sec->name, sec->keys[k].key,
                     sec->keys[k].help);
            CHECK_MSG(strstr(buf, want) != NULL, "help lacks '%s'", want);
        }
    }
    CHECK(strstr(buf, "optim.lr\n      base learning rate (double in [0, 10], default 1e-3)") !=
          NULL);
    CHECK(strstr(buf, "--set section.key=value") != NULL);
    free(buf);
}

static void test_schema_check(void) {
    CHECK_OK(hrn_config_schema_check(&TEST_SCHEMA));
    CHECK_OK(hrn_config_schema_check(&hrn_config_optim_schema));
    static const struct hrn_config_key bad_def[] = {
        HRN_CFG_INT(struct test_cfg, views, "views", "many", 1, 64, "images"),
    };
    static const struct hrn_config_section s1[] = {{"run", bad_def, 1, 0, ""}};
    struct hrn_config_schema bad = {"bad", s1, 1, sizeof(struct test_cfg)};
    struct test_cfg c;
    CHECK_STATUS(hrn_config_defaults(&bad, &c), HRN_ERR_INVALID);
    CHECK_ERR_HAS("config schema 'bad': default of [run] views: 'many' is not an integer");
    static const struct hrn_config_key dup[] = {
        HRN_CFG_INT(struct test_cfg, views, "views", "1", 1, 64, "images"),
        HRN_CFG_INT(struct test_cfg, views, "views", "1", 1, 64, "images"),
    };
    static const struct hrn_config_section s2[] = {{"run", dup, 2, 0, ""}};
    bad.sections = s2;
    CHECK_STATUS(hrn_config_schema_check(&bad), HRN_ERR_INVALID);
    CHECK_ERR_HAS("key 'views' twice");
    static const struct hrn_config_section s3[] = {{"run", RUN_KEYS, 5, 0, ""}};
    bad.sections = s3;
    bad.size = 8; /* too small for the members */
    CHECK_STATUS(hrn_config_schema_check(&bad), HRN_ERR_INVALID);
    CHECK_ERR_HAS("does not fit the struct");
}

static void test_registry(void) {
    const struct hrn_config_schema *list[] = {&hrn_config_optim_schema, &TEST_SCHEMA};
    CHECK(hrn_config_find_schema(list, 2, "test") == &TEST_SCHEMA);
    CHECK(hrn_config_find_schema(list, 2, "nope") == NULL);
    const struct hrn_config_schema *s = NULL;
    const char *p = write_ini("reg.ini", "; c\n[hrn]\nschema = test\n[run]\nviews = 2\n");
    CHECK_OK(hrn_config_schema_of(p, list, 2, &s));
    CHECK(s == &TEST_SCHEMA);
    p = write_ini("reg.ini", "[hrn]\nschema = train\n");
    CHECK_STATUS(hrn_config_schema_of(p, list, 2, &s), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("reg.ini:2: unknown schema 'train' (known: optim, test)");
    CHECK(s == NULL);
    p = write_ini("reg.ini", "[run]\nviews = 2\n");
    CHECK_STATUS(hrn_config_schema_of(p, list, 2, &s), HRN_ERR_CONFIG);
    CHECK_ERR_HAS("reg.ini:2: the file must start with [hrn]");
    CHECK_STATUS(hrn_config_schema_of("no/such.ini", list, 2, &s), HRN_ERR_IO);
}

static void test_optim_example_file(void) {
    struct hrn_config_optim o;
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/example_optim.ini", HRN_SOURCE_DIR);
    CHECK_OK(hrn_config_load(&hrn_config_optim_schema, path, &o));
    CHECK(o.method == HRN_CONFIG_OPTIM_ADAMW && o.lr == 1e-3 && o.weight_decay == 1e-4);
    CHECK(o.schedule == HRN_CONFIG_LR_WARMUP_COSINE && o.warmup == 100 && o.iterations == 2000);
    CHECK(o.clip_norm == 10.0 && o.gamma == 0.1); /* gamma left at its default */
}

int main(void) {
    RUN(test_defaults);
    RUN(test_parse_values);
    RUN(test_errors);
    RUN(test_inih_globals_restored);
    RUN(test_set_overrides);
    RUN(test_save_reparses_to_same_values);
    RUN(test_help_lists_every_key);
    RUN(test_schema_check);
    RUN(test_registry);
    RUN(test_optim_example_file);
    return hrn_test_finish();
}
