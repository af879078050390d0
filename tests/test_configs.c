/* test_configs.c: every .ini file in configs/ parses with the schema its [hrn] section names, and
 * its resolved dump parses back to the same values. Fails when configs/ holds no .ini at all, so a
 * broken glob or a moved folder cannot pass silently. */
#include "hrn_test.h"

#include "hrn_train.h"

#include <dirent.h>

/* Every schema a config file may name. Tools add theirs here as they land. */
static const struct hrn_config_schema *const SCHEMAS[] = {
    &hrn_config_optim_schema,
    &hrn_fit_schema,
    &hrn_train_schema,
};
enum { N_SCHEMAS = (int)(sizeof SCHEMAS / sizeof SCHEMAS[0]) };

static int n_files;

static void check_one(const char *path) {
    const struct hrn_config_schema *s = NULL;
    enum hrn_status st = hrn_config_schema_of(path, SCHEMAS, N_SCHEMAS, &s);
    CHECK_MSG(st == HRN_OK, "%s: %s", path, hrn_error_msg());
    if (st != HRN_OK) return;
    void *cfg = calloc(1, s->size), *back = calloc(1, s->size);
    CHECK(cfg && back);
    if (cfg && back) {
        st = hrn_config_load(s, path, cfg);
        CHECK_MSG(st == HRN_OK, "%s: %s", path, hrn_error_msg());
        /* the resolved dump reads back to the very same bytes */
        char dump[1024];
        snprintf(dump, sizeof dump, "%s/resolved_%d.ini", hrn_test_tmpdir("configs"), n_files);
        CHECK_OK(hrn_config_save(s, cfg, dump));
        CHECK_OK(hrn_config_load(s, dump, back));
        int same = memcmp(cfg, back, s->size) == 0;
        CHECK_MSG(same, "%s: resolved dump reads back differently", path);
        if (st == HRN_OK && same) printf("  %s: schema '%s' ok\n", path, s->name);
    }
    free(cfg);
    free(back);
}

static void test_every_config_parses(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/configs", HRN_SOURCE_DIR);
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".ini") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_one(path);
        n_files++;
    }
    closedir(d);
    CHECK_MSG(n_files > 0, "no configs/*.ini found in %s", dir);
}

static void test_registered_schemas_are_valid(void) {
    for (int i = 0; i < N_SCHEMAS; i++) {
        CHECK_OK(hrn_config_schema_check(SCHEMAS[i]));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(SCHEMAS[i]->name, SCHEMAS[j]->name) != 0);
    }
}

int main(void) {
    RUN(test_registered_schemas_are_valid);
    RUN(test_every_config_parses);
    return hrn_test_finish();
}
