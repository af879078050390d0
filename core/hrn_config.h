/* hrn_config.h: INI config files read through a schema table (style.md 5.8), with --set overrides,
 * range checks, help text and a dump of the resolved configuration.
 * Part of the core module; include "hrn_core.h".
 *
 * Usage (a tool defines its struct and its tables once):
 *
 *     struct fit_config {
 *         struct hrn_config_optim optim;   // the shared [optim] section
 *         int views;
 *         char out[256];
 *     };
 *     static const struct hrn_config_key FIT_KEYS[] = {
 *         HRN_CFG_INT(struct fit_config, views, "views", "1", 1, 64, "images per subject"),
 *         HRN_CFG_STRING(struct fit_config, out, "out", "runs/fit", "output directory"),
 *     };
 *     static const struct hrn_config_section FIT_SECTIONS[] = {
 *         HRN_CFG_SECTION(struct fit_config, optim, "optim", HRN_CONFIG_OPTIM_KEYS,
 *                         HRN_CONFIG_OPTIM_N_KEYS, "optimizer"),
 *         {"fit", FIT_KEYS, 2, 0, "per-subject fitting"},   // offset 0: keys address the whole struct
 *     };
 *     static const struct hrn_config_schema FIT_SCHEMA = {"fit", FIT_SECTIONS, 2,
 *                                                         sizeof(struct fit_config)};
 *
 *     struct fit_config cfg;
 *     enum hrn_status st = hrn_config_load(&FIT_SCHEMA, "configs/fit.ini", &cfg); // defaults first
 *     for (each --set argument a) if (st == HRN_OK) st = hrn_config_set(&FIT_SCHEMA, &cfg, a);
 *     if (st != HRN_OK) { fprintf(stderr, "error: %s\n", hrn_error_msg()); return 2; }
 *     hrn_config_write(&FIT_SCHEMA, &cfg, stdout);              // the resolved configuration
 *     hrn_config_save(&FIT_SCHEMA, &cfg, "runs/x/config.ini");  // re-parses to the same values
 *
 * The file (libinih syntax; `;` or `#` start a comment line, ` ;` an inline comment):
 *
 *     [hrn]
 *     schema = fit          ; required, the first section: which schema the file is for
 *     [optim]
 *     method = adam
 *     lr = 1e-3
 *
 * Strict: an unknown section or key, a malformed number (strtod/strtol, whole string, errno), a
 * value out of [min, max], an enum name not in the list, a duplicate key and a missing or wrong
 * [hrn] schema are HRN_ERR_CONFIG errors naming the place: "configs/fit.ini:17: unknown key
 * 'lerning_rate' in [optim]" or "--set optim.lr=abc: 'abc' is not a number". Keys that are not in
 * the file keep their defaults. Lines are limited to 200 characters (libinih's buffer).
 */
#ifndef HRN_CONFIG_H
#define HRN_CONFIG_H

#include "hrn_base.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hrn_config_type {
    HRN_CONFIG_INT,    /* int */
    HRN_CONFIG_FLOAT,  /* float */
    HRN_CONFIG_DOUBLE, /* double */
    HRN_CONFIG_BOOL,   /* int, 0 or 1; written true/false, read true/false/yes/no/on/off/1/0 */
    HRN_CONFIG_STRING, /* char[size], NUL-terminated; longer values are an error */
    HRN_CONFIG_ENUM,   /* int, the index of the name in `names` */
};

/* One key of a section. Use the HRN_CFG_* macros: they fill offset and size from the member and
 * refuse (at compile time) a member of the wrong C type. */
struct hrn_config_key {
    const char *key;
    enum hrn_config_type type;
    size_t offset;             /* of the member within the section's struct */
    size_t size;               /* of the member (the capacity for strings) */
    const char *def;           /* default, as it would be written in the file */
    double min, max;           /* inclusive range for INT/FLOAT/DOUBLE */
    const char *const *names;  /* ENUM: the allowed names, NULL-terminated, index = value */
    const char *help;
};

/* A section: its keys address a struct that sits at `offset` within the whole config struct (so a
 * section struct such as struct hrn_config_optim can be embedded by many tools). */
struct hrn_config_section {
    const char *name;
    const struct hrn_config_key *keys;
    int n_keys;
    size_t offset;
    const char *help;
};

struct hrn_config_schema {
    const char *name; /* the value of `schema` in [hrn] */
    const struct hrn_config_section *sections;
    int n_sections;
    size_t size;      /* sizeof the whole config struct */
};

#define HRN_CFG__SIZE(T, m, ctype) _Generic(((T *)0)->m, ctype: sizeof(((T *)0)->m))
#define HRN_CFG_INT(T, m, key, def, lo, hi, help) \
    {key, HRN_CONFIG_INT, offsetof(T, m), HRN_CFG__SIZE(T, m, int), def, lo, hi, NULL, help}
#define HRN_CFG_FLOAT(T, m, key, def, lo, hi, help) \
    {key, HRN_CONFIG_FLOAT, offsetof(T, m), HRN_CFG__SIZE(T, m, float), def, lo, hi, NULL, help}
#define HRN_CFG_DOUBLE(T, m, key, def, lo, hi, help) \
    {key, HRN_CONFIG_DOUBLE, offsetof(T, m), HRN_CFG__SIZE(T, m, double), def, lo, hi, NULL, help}
#define HRN_CFG_BOOL(T, m, key, def, help) \
    {key, HRN_CONFIG_BOOL, offsetof(T, m), HRN_CFG__SIZE(T, m, int), def, 0, 1, NULL, help}
#define HRN_CFG_STRING(T, m, key, def, help) \
    {key, HRN_CONFIG_STRING, offsetof(T, m), HRN_CFG__SIZE(T, m, char *), def, 0, 0, NULL, help}
#define HRN_CFG_ENUM(T, m, key, def, names, help) \
    {key, HRN_CONFIG_ENUM, offsetof(T, m), HRN_CFG__SIZE(T, m, int), def, 0, 0, names, help}
#define HRN_CFG_SECTION(T, m, name, keys, n_keys, help) {name, keys, n_keys, offsetof(T, m), help}

/* Check the tables themselves (every default parses and is in range, no duplicate names, member
 * sizes). HRN_ERR_INVALID naming the schema and key. The other functions call it. */
enum hrn_status hrn_config_schema_check(const struct hrn_config_schema *s);

/* Zero cfg (s->size bytes) and apply every default. */
enum hrn_status hrn_config_defaults(const struct hrn_config_schema *s, void *cfg);

/* Defaults, then the file. On failure cfg holds defaults plus what was read before the error. */
enum hrn_status hrn_config_load(const struct hrn_config_schema *s, const char *path, void *cfg);
/* The same from text; `name` stands for the file in messages ("<string>:3: ..."). */
enum hrn_status hrn_config_load_string(const struct hrn_config_schema *s, const char *name,
                                       const char *text, void *cfg);

/* Apply one "section.key=value" override (what --set receives) through the same table. */
enum hrn_status hrn_config_set(const struct hrn_config_schema *s, void *cfg, const char *assignment);

/* The resolved configuration as INI text: [hrn] schema, then every key of every section, each
 * preceded by its help, type, range and default as comments. Numbers are written exactly (%.9g
 * float, %.17g double). HRN_ERR_CONFIG when a string value cannot be written as INI (leading or
 * trailing spaces, " ;", a newline, or over 150 characters). */
enum hrn_status hrn_config_write(const struct hrn_config_schema *s, const void *cfg, FILE *f);
/* hrn_config_write to "<path>.tmp", then rename. */
enum hrn_status hrn_config_save(const struct hrn_config_schema *s, const void *cfg,
                                const char *path);
/* What --help-config prints: every key with type, default, range or names, and help. */
void hrn_config_help(const struct hrn_config_schema *s, FILE *f);

/* --- a registry of schemas, for files that say which schema they use -------------------------- */

/* The schema whose name matches, or NULL. */
const struct hrn_config_schema *hrn_config_find_schema(const struct hrn_config_schema *const *list,
                                                       int n, const char *name);
/* Read the `schema` key of the file's [hrn] section and return the matching entry of list.
 * HRN_ERR_CONFIG when the file lacks it or names a schema not in list (the message lists them);
 * HRN_ERR_IO when the file cannot be opened. */
enum hrn_status hrn_config_schema_of(const char *path, const struct hrn_config_schema *const *list,
                                     int n, const struct hrn_config_schema **out);

/* --- the shared optimizer section [optim] ----------------------------------------------------- */

/* The file-side view of an optimizer; a tool maps it onto the autodiff module's
 * struct hrn_optim_config (and L-BFGS settings) when it builds the optimizer. */
enum hrn_config_optim_method {
    HRN_CONFIG_OPTIM_ADAM, HRN_CONFIG_OPTIM_ADAMW, HRN_CONFIG_OPTIM_SGD, HRN_CONFIG_OPTIM_LBFGS
};
enum hrn_config_lr_schedule {
    HRN_CONFIG_LR_CONSTANT, HRN_CONFIG_LR_STEP, HRN_CONFIG_LR_COSINE, HRN_CONFIG_LR_WARMUP_COSINE
};

struct hrn_config_optim {
    int method;          /* enum hrn_config_optim_method: adam | adamw | sgd | lbfgs */
    double lr;           /* base learning rate */
    double beta1, beta2; /* Adam moments' decay */
    double eps;          /* Adam denominator */
    double weight_decay; /* AdamW decoupled decay / SGD L2 */
    double momentum;     /* SGD */
    int iterations;
    int schedule;        /* enum hrn_config_lr_schedule: constant | step | cosine | warmup_cosine */
    int warmup;          /* iterations of linear warm-up (warmup_cosine) */
    int step_size;       /* step: multiply lr by gamma every step_size iterations */
    double gamma;
    double clip_norm;    /* clip the global gradient norm to this; 0 = off */
};

enum { HRN_CONFIG_OPTIM_N_KEYS = 13 };
/* The [optim] keys (offsets within struct hrn_config_optim), for tools to embed. */
extern const struct hrn_config_key HRN_CONFIG_OPTIM_KEYS[HRN_CONFIG_OPTIM_N_KEYS];
/* A schema "optim" whose struct is a bare struct hrn_config_optim (configs/example_optim.ini). */
extern const struct hrn_config_schema hrn_config_optim_schema;

#ifdef __cplusplus
}
#endif
#endif /* HRN_CONFIG_H */
