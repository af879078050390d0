/* fuzz_ini.c: INI configs (core/config.c through libinih) from text and from --set overrides.
 * Oracle beyond "no crash": a configuration that loads is written out and read back to the same
 * struct, since hrn-fit and hrn-train save the resolved config and re-read it on --resume. */
#define _GNU_SOURCE /* open_memstream is POSIX 2008 but glibc declares it under either macro */
#include "fuzz_common.h"

#include "hrn_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A schema with one key of every type, plus the shared [optim] section. */
struct fz_config {
    struct hrn_config_optim optim;
    int i;
    float f;
    double d;
    int b;
    int e;
    char s[32];
};

static const char *const FZ_NAMES[] = {"red", "green", "blue", NULL};
static const struct hrn_config_key FZ_KEYS[] = {
    HRN_CFG_INT(struct fz_config, i, "i", "3", -100, 1000000, "an int"),
    HRN_CFG_FLOAT(struct fz_config, f, "f", "0.5", -1e30, 1e30, "a float"),
    HRN_CFG_DOUBLE(struct fz_config, d, "d", "1e-3", 0, 1e300, "a double"),
    HRN_CFG_BOOL(struct fz_config, b, "b", "false", "a bool"),
    HRN_CFG_ENUM(struct fz_config, e, "e", "green", FZ_NAMES, "an enum"),
    HRN_CFG_STRING(struct fz_config, s, "s", "runs/x", "a string"),
};
static const struct hrn_config_section FZ_SECTIONS[] = {
    HRN_CFG_SECTION(struct fz_config, optim, "optim", HRN_CONFIG_OPTIM_KEYS,
                    HRN_CONFIG_OPTIM_N_KEYS, "optimizer"),
    {"fz", FZ_KEYS, 6, 0, "every type"},
};
static const struct hrn_config_schema FZ_SCHEMA = {"fz", FZ_SECTIONS, 2, sizeof(struct fz_config)};

/* Write cfg, load the text back, and trap when it differs: a saved config must resume as is. */
static void round_trip(const struct fz_config *cfg) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return;
    enum hrn_status st = hrn_config_write(&FZ_SCHEMA, cfg, f);
    fclose(f);
    if (st == HRN_OK) {
        struct fz_config back;
        if (hrn_config_load_string(&FZ_SCHEMA, "<written>", text, &back) != HRN_OK) {
            fprintf(stderr, "fuzz_ini: the written config does not load: %s\n%s\n",
                    hrn_error_msg(), text);
            abort();
        }
        if (memcmp(&back, cfg, sizeof back) != 0) {
            fprintf(stderr, "fuzz_ini: the written config loads other values (s '%s' -> '%s'):\n"
                    "%s\n", cfg->s, back.s, text);
            abort();
        }
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct fz_config cfg;
    if (fuzz_ok(hrn_config_load_string(&FZ_SCHEMA, "<fuzz>", text, &cfg))) round_trip(&cfg);
    /* The same bytes as one --set argument over the defaults. */
    if (hrn_config_defaults(&FZ_SCHEMA, &cfg) == HRN_OK &&
        fuzz_ok(hrn_config_set(&FZ_SCHEMA, &cfg, text)))
        round_trip(&cfg);
    struct hrn_config_optim opt;
    (void)hrn_config_load_string(&hrn_config_optim_schema, "<fuzz>", text, &opt);
    free(text);
    return 0;
}
