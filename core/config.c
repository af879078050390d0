/* config.c: schema-driven INI configs on top of libinih (Debian 55: the handler gets no line
 * number, options are runtime globals). We feed inih through our own line reader, so we know the
 * line of every key (for messages and duplicate keys) and can reject over-long lines, which inih
 * would otherwise split silently into two lines. */
#include "hrn_config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MSG_CAP = 512 };

/* --- values ----------------------------------------------------------------------------------- */

static void *member(const struct hrn_config_section *sec, const struct hrn_config_key *k,
                    void *cfg) {
    return (char *)cfg + sec->offset + k->offset;
}

static const void *cmember(const struct hrn_config_section *sec, const struct hrn_config_key *k,
                           const void *cfg) {
    return (const char *)cfg + sec->offset + k->offset;
}

static const char *type_name(enum hrn_config_type t) {
    switch (t) {
    case HRN_CONFIG_INT:
        return "int";
    case HRN_CONFIG_FLOAT:
        return "float";
    case HRN_CONFIG_DOUBLE:
        return "double";
    case HRN_CONFIG_BOOL:
        return "bool";
    case HRN_CONFIG_STRING:
        return "string";
    case HRN_CONFIG_ENUM:
        return "enum";
    }
    return "?";
}

static int has_range(const struct hrn_config_key *k) {
    return k->min > -DBL_MAX || k->max < DBL_MAX;
}

/* Parse text for key k into dst. On failure writes the reason into why and returns 0. */
/* Why a string value would not read back from an INI file as written, or NULL. inih trims the
 * ends, takes a ';' at the start of a value or after a space as a comment, and reads lines of at
 * most 200 bytes ("key = value"). */
static const char *ini_unsafe(const char *v) {
    size_t n = strlen(v);
    if (n > 150) return "over 150 characters";
    if (n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])))
        return "spaces at the ends";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f) return "a control character or newline";
        if (ch == ';' && (i == 0 || isspace((unsigned char)v[i - 1])))
            return "a ';' that would read back as a comment";
    }
    return NULL;
}

static int parse_value(const struct hrn_config_key *k, const char *text, void *dst, char *why,
                       size_t cap) {
    char *end;
    switch (k->type) {
    case HRN_CONFIG_INT: {
        errno = 0;
        long v = strtol(text, &end, 10);
        if (end == text || *end) {
            snprintf(why, cap, "'%s' is not an integer", text);
            return 0;
        }
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX || (double)v < k->min ||
            (double)v > k->max) {
            snprintf(why, cap, "%s is out of range [%.10g, %.10g]", text, k->min, k->max);
            return 0;
        }
        *(int *)dst = (int)v;
        return 1;
    }
    case HRN_CONFIG_FLOAT:
    case HRN_CONFIG_DOUBLE: {
        errno = 0;
        double v = strtod(text, &end);
        if (end == text || *end) {
            snprintf(why, cap, "'%s' is not a number", text);
            return 0;
        }
        if (errno == ERANGE ||
            (isfinite(v) && k->type == HRN_CONFIG_FLOAT && fabs(v) > (double)FLT_MAX)) {
            snprintf(why, cap, "'%s' does not fit in a %s", text, type_name(k->type));
            return 0;
        }
        if (!isfinite(v)) {
            snprintf(why, cap, "'%s' is not a finite number", text);
            return 0;
        }
        if (k->type == HRN_CONFIG_FLOAT) v = (double)(float)v;
        if (v < k->min || v > k->max) {
            snprintf(why, cap, "%s is out of range [%.10g, %.10g]", text, k->min, k->max);
            return 0;
        }
        if (k->type == HRN_CONFIG_FLOAT)
            *(float *)dst = (float)v;
        else
            *(double *)dst = v;
        return 1;
    }
    case HRN_CONFIG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                    "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(text, yes[i]) == 0) {
                *(int *)dst = 1;
                return 1;
            }
            if (strcasecmp(text, no[i]) == 0) {
                *(int *)dst = 0;
                return 1;
            }
        }
        snprintf(why, cap, "'%s' is not a bool (true/false, yes/no, on/off, 1/0)", text);
        return 0;
    }
    case HRN_CONFIG_STRING: {
        size_t n = strlen(text);
        /* the resolved config is saved as INI and read back on --resume: a value INI cannot
         * carry is refused here rather than lost there */
        const char *bad = ini_unsafe(text);
        if (bad) {
            snprintf(why, cap, "'%.40s%s' cannot be stored in an INI file (%s)", text,
                     n > 40 ? "..." : "", bad);
            return 0;
        }
        if (n + 1 > k->size) {
            snprintf(why, cap, "'%.40s%s' is longer than %zu characters", text, n > 40 ? "..." : "",
                     k->size - 1);
            return 0;
        }
        memcpy(dst, text, n + 1);
        return 1;
    }
    case HRN_CONFIG_ENUM: {
        for (int i = 0; k->names && k->names[i]; i++) {
            if (strcmp(text, k->names[i]) == 0) {
                *(int *)dst = i;
                return 1;
            }
        }
        size_t w = (size_t)snprintf(why, cap, "'%s' is not one of ", text);
        for (int i = 0; k->names && k->names[i] && w < cap; i++)
            w += (size_t)snprintf(why + w, cap - w, "%s%s", i ? ", " : "", k->names[i]);
        return 0;
    }
    }
    snprintf(why, cap, "bad key type %d", (int)k->type);
    return 0;
}

/* The shortest text that parses back to exactly the same value. */
static void format_value(const struct hrn_config_key *k, const void *src, char *buf, size_t cap) {
    switch (k->type) {
    case HRN_CONFIG_INT:
        snprintf(buf, cap, "%d", *(const int *)src);
        return;
    case HRN_CONFIG_BOOL:
        snprintf(buf, cap, "%s", *(const int *)src ? "true" : "false");
        return;
    case HRN_CONFIG_FLOAT: {
        float v = *(const float *)src;
        for (int p = 6; p <= 9; p++) {
            snprintf(buf, cap, "%.*g", p, (double)v);
            if (strtof(buf, NULL) == v) return;
        }
        return;
    }
    case HRN_CONFIG_DOUBLE: {
        double v = *(const double *)src;
        for (int p = 15; p <= 17; p++) {
            snprintf(buf, cap, "%.*g", p, v);
            if (strtod(buf, NULL) == v) return;
        }
        return;
    }
    case HRN_CONFIG_STRING:
        snprintf(buf, cap, "%s", (const char *)src);
        return;
    case HRN_CONFIG_ENUM: {
        int v = *(const int *)src, n = 0;
        while (k->names && k->names[n])
            n++;
        snprintf(buf, cap, "%s", v >= 0 && v < n ? k->names[v] : "?");
        return;
    }
    }
    buf[0] = '\0';
}

/* --- schema ----------------------------------------------------------------------------------- */

static int total_keys(const struct hrn_config_schema *s) {
    int n = 0;
    for (int i = 0; i < s->n_sections; i++)
        n += s->sections[i].n_keys;
    return n;
}

enum hrn_status hrn_config_schema_check(const struct hrn_config_schema *s) {
    if (!s || !s->name || !*s->name || s->n_sections < 0 || (s->n_sections > 0 && !s->sections))
        return hrn_error_set(HRN_ERR_INVALID, "config schema: missing name or sections");
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        if (!sec->name || !*sec->name || strcmp(sec->name, "hrn") == 0 || sec->n_keys < 0 ||
            (sec->n_keys > 0 && !sec->keys))
            return hrn_error_set(HRN_ERR_INVALID, "config schema '%s': bad section %d ('%s')",
                                 s->name, i, sec->name ? sec->name : "(null)");
        for (int j = 0; j < i; j++)
            if (strcmp(s->sections[j].name, sec->name) == 0)
                return hrn_error_set(HRN_ERR_INVALID, "config schema '%s': section [%s] twice",
                                     s->name, sec->name);
        for (int k = 0; k < sec->n_keys; k++) {
            const struct hrn_config_key *key = &sec->keys[k];
            const char *kn = key->key ? key->key : "(null)";
            if (!key->key || !*key->key || strchr(key->key, '.') || !key->def || !key->help)
                return hrn_error_set(HRN_ERR_INVALID,
                                     "config schema '%s': [%s] key '%s' needs a "
                                     "name without '.', a default and a help text",
                                     s->name, sec->name, kn);
            for (int j = 0; j < k; j++)
                if (strcmp(sec->keys[j].key, key->key) == 0)
                    return hrn_error_set(HRN_ERR_INVALID, "config schema '%s': [%s] key '%s' twice",
                                         s->name, sec->name, kn);
            size_t want = key->type == HRN_CONFIG_FLOAT    ? sizeof(float)
                          : key->type == HRN_CONFIG_DOUBLE ? sizeof(double)
                          : key->type == HRN_CONFIG_STRING ? key->size
                                                           : sizeof(int);
            if (key->size != want || key->size == 0 ||
                sec->offset + key->offset + key->size > s->size)
                return hrn_error_set(HRN_ERR_INVALID,
                                     "config schema '%s': [%s] %s: member size or "
                                     "offset does not fit the struct",
                                     s->name, sec->name, kn);
            if (key->type == HRN_CONFIG_ENUM && (!key->names || !key->names[0]))
                return hrn_error_set(HRN_ERR_INVALID,
                                     "config schema '%s': [%s] %s: enum without "
                                     "names",
                                     s->name, sec->name, kn);
            if (!(key->min <= key->max))
                return hrn_error_set(HRN_ERR_INVALID, "config schema '%s': [%s] %s: min > max",
                                     s->name, sec->name, kn);
            _Alignas(16) char tmp[512];
            char *dst = key->size <= sizeof tmp ? tmp : malloc(key->size);
            if (!dst) return hrn_error_set(HRN_ERR_NOMEM, "config schema: out of memory");
            char why[MSG_CAP];
            int ok = parse_value(key, key->def, dst, why, sizeof why);
            if (dst != tmp) free(dst);
            if (!ok)
                return hrn_error_set(HRN_ERR_INVALID, "config schema '%s': default of [%s] %s: %s",
                                     s->name, sec->name, kn, why);
        }
    }
    return HRN_OK;
}

enum hrn_status hrn_config_defaults(const struct hrn_config_schema *s, void *cfg) {
    enum hrn_status st = hrn_config_schema_check(s);
    if (st != HRN_OK) return st;
    memset(cfg, 0, s->size);
    char why[MSG_CAP];
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        for (int k = 0; k < sec->n_keys; k++)
            HRN_ASSERT(parse_value(&sec->keys[k], sec->keys[k].def, member(sec, &sec->keys[k], cfg),
                                   why, sizeof why)); /* checked above */
    }
    return HRN_OK;
}

static int find_key(const struct hrn_config_schema *s, const char *section, const char *key,
                    const struct hrn_config_section **sec_out, int *flat_index) {
    int flat = 0;
    *sec_out = NULL;
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        if (strcmp(sec->name, section) == 0) {
            *sec_out = sec;
            for (int k = 0; k < sec->n_keys; k++)
                if (strcmp(sec->keys[k].key, key) == 0) {
                    *flat_index = flat + k;
                    return k;
                }
            return -1;
        }
        flat += sec->n_keys;
    }
    return -1;
}

/* --- parsing ---------------------------------------------------------------------------------- */

struct parse_ctx {
    const struct hrn_config_schema *s; /* NULL when only peeking at [hrn] schema */
    void *cfg;
    const char *name;
    FILE *f;           /* source: a file ... */
    const char *text;  /* ... or the rest of a string */
    long line;         /* lines handed to inih so far = the line inih is working on */
    long section_line; /* the line of the last [section] header */
    int n_pairs;
    int seen_schema;
    long *key_line; /* per flat key: the line it was set on, 0 = not yet */
    int failed;     /* an error message has been set */
    int peek_done;
    char schema_name[64];
};

static char *ctx_reader(char *str, int num, void *stream) {
    struct parse_ctx *c = stream;
    if (c->failed || c->peek_done || num < 2) return NULL;
    size_t n = 0;
    int more = 0; /* the line did not fit */
    if (c->f) {
        if (!fgets(str, num, c->f)) return NULL;
        n = strlen(str);
        if (n == (size_t)num - 1 && str[n - 1] != '\n') {
            int ch = fgetc(c->f);
            if (ch != EOF && ch != '\n') more = 1;
        }
    } else {
        if (!c->text || !*c->text) return NULL;
        const char *nl = strchr(c->text, '\n');
        size_t len = nl ? (size_t)(nl - c->text) + 1 : strlen(c->text);
        if (len > (size_t)num - 1) {
            more = !(len == (size_t)num && nl); /* exactly full plus the newline is fine */
            len = (size_t)num - 1;
        }
        memcpy(str, c->text, len);
        str[len] = '\0';
        c->text += nl && !more ? (size_t)(nl - c->text) + 1 : len;
    }
    c->line++;
    const char *q = str;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q == '[') c->section_line = c->line;
    if (more) {
        hrn_error_set(HRN_ERR_CONFIG, "%s:%ld: line longer than %d characters", c->name, c->line,
                      num - 3);
        c->failed = 1;
        return NULL;
    }
    return str;
}

static int fail_at(struct parse_ctx *c, const char *fmt, ...) HRN_PRINTF(2, 3);
static int fail_at(struct parse_ctx *c, const char *fmt, ...) {
    char msg[MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hrn_error_set(HRN_ERR_CONFIG, "%s:%ld: %s", c->name, c->line, msg);
    c->failed = 1;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    struct parse_ctx *c = user;
    int first = c->n_pairs++ == 0;
    if (strcmp(section, "hrn") == 0) {
        if (strcmp(name, "schema") != 0) return fail_at(c, "unknown key '%s' in [hrn]", name);
        if (c->seen_schema) return fail_at(c, "duplicate key 'schema' in [hrn]");
        c->seen_schema = 1;
        snprintf(c->schema_name, sizeof c->schema_name, "%s", value);
        if (!c->s) {
            c->peek_done = 1;
            return 0;
        }
        if (strcmp(value, c->s->name) != 0)
            return fail_at(c, "schema '%s', but this reads schema '%s'", value, c->s->name);
        return 1;
    }
    if (first || !c->seen_schema)
        return fail_at(c, "the file must start with [hrn] and 'schema = %s'",
                       c->s ? c->s->name : "<name>");
    if (!c->s) return fail_at(c, "no [hrn] schema before other keys");
    if (!*section) return fail_at(c, "key '%s' outside any section", name);
    const struct hrn_config_section *sec;
    int flat = -1;
    int k = find_key(c->s, section, name, &sec, &flat);
    if (!sec) {
        c->line = c->section_line; /* name the header, not the first key under it */
        return fail_at(c, "unknown section [%s]", section);
    }
    if (k < 0) return fail_at(c, "unknown key '%s' in [%s]", name, section);
    if (c->key_line[flat])
        return fail_at(c, "duplicate key '%s' in [%s] (first set on line %ld)", name, section,
                       c->key_line[flat]);
    c->key_line[flat] = c->line;
    char why[MSG_CAP];
    if (!parse_value(&sec->keys[k], value, member(sec, &sec->keys[k], c->cfg), why, sizeof why))
        return fail_at(c, "bad value for '%s' in [%s]: %s", name, section, why);
    return 1;
}

/* Run inih over the context's source with our options; restores inih's globals after. */
static enum hrn_status run_parse(struct parse_ctx *c) {
    bool o_stop = ini_stop_on_first_error, o_multi = ini_allow_multiline,
         o_novalue = ini_allow_no_value;
    ini_stop_on_first_error = 1;
    ini_allow_multiline = 0; /* an indented line is its own line, never a continuation */
    ini_allow_no_value = 0;
    int r = ini_parse_stream(ctx_reader, c, handler, c);
    ini_stop_on_first_error = o_stop;
    ini_allow_multiline = o_multi;
    ini_allow_no_value = o_novalue;
    if (c->peek_done) return HRN_OK;
    if (c->failed) return HRN_ERR_CONFIG;
    if (r == -2) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory parsing", c->name);
    if (r != 0)
        return hrn_error_set(HRN_ERR_CONFIG,
                             "%s:%d: syntax error: expected '[section]', "
                             "'key = value' or a comment",
                             c->name, r);
    if (c->f && ferror(c->f)) return hrn_error_set(HRN_ERR_IO, "%s: read error", c->name);
    if (!c->seen_schema)
        return hrn_error_set(HRN_ERR_CONFIG, "%s: no [hrn] section with 'schema = %s'", c->name,
                             c->s ? c->s->name : "<name>");
    return HRN_OK;
}

static enum hrn_status load(const struct hrn_config_schema *s, struct parse_ctx *c, void *cfg) {
    enum hrn_status st = hrn_config_defaults(s, cfg);
    if (st != HRN_OK) return st;
    c->s = s;
    c->cfg = cfg;
    c->key_line = calloc((size_t)total_keys(s) + 1, sizeof(long));
    if (!c->key_line) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", c->name);
    st = run_parse(c);
    free(c->key_line);
    return st;
}

enum hrn_status hrn_config_load(const struct hrn_config_schema *s, const char *path, void *cfg) {
    struct parse_ctx c = {.name = path};
    c.f = fopen(path, "r");
    if (!c.f) {
        int err = errno; /* hrn_config_defaults may change errno ("cannot open: Success") */
        hrn_config_defaults(s, cfg);
        return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(err));
    }
    enum hrn_status st = load(s, &c, cfg);
    fclose(c.f);
    return st;
}

enum hrn_status hrn_config_load_string(const struct hrn_config_schema *s, const char *name,
                                       const char *text, void *cfg) {
    struct parse_ctx c = {.name = name ? name : "<string>", .text = text ? text : ""};
    return load(s, &c, cfg);
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

enum hrn_status hrn_config_set(const struct hrn_config_schema *s, void *cfg,
                               const char *assignment) {
    enum hrn_status st = hrn_config_schema_check(s);
    if (st != HRN_OK) return st;
    char buf[1024];
    if (!assignment || strlen(assignment) >= sizeof buf)
        return hrn_error_set(HRN_ERR_CONFIG, "--set: missing or too long an assignment");
    memcpy(buf, assignment, strlen(assignment) + 1);
    char *eq = strchr(buf, '=');
    if (!eq)
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: expected section.key=value", assignment);
    *eq = '\0';
    char *lhs = buf, *value = eq + 1;
    trim(lhs);
    trim(value);
    char *dot = strrchr(lhs, '.'); /* sections may contain dots ([layer.0]); keys do not */
    if (!dot || dot == lhs || !dot[1])
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: expected section.key=value", assignment);
    *dot = '\0';
    const char *section = lhs, *key = dot + 1;
    if (strcmp(section, "hrn") == 0)
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: [hrn] cannot be overridden", assignment);
    const struct hrn_config_section *sec;
    int flat;
    int k = find_key(s, section, key, &sec, &flat);
    if (!sec)
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: unknown section [%s]", assignment, section);
    if (k < 0)
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: unknown key '%s' in [%s]", assignment, key,
                             section);
    char why[MSG_CAP];
    if (!parse_value(&sec->keys[k], value, member(sec, &sec->keys[k], cfg), why, sizeof why))
        return hrn_error_set(HRN_ERR_CONFIG, "--set %s: %s", assignment, why);
    return HRN_OK;
}

/* --- writing ---------------------------------------------------------------------------------- */

/* "# " comment lines of at most ~96 columns (inih reads lines of up to 200). */
static void write_comment(FILE *f, const char *text) {
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        if (n > 94) {
            n = 94;
            while (n > 40 && p[n] != ' ')
                n--;
            if (p[n] != ' ') n = 94;
        }
        fprintf(f, "# %.*s\n", (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

static void describe(const struct hrn_config_key *k, char *buf, size_t cap) {
    size_t w = (size_t)snprintf(buf, cap, "%s", type_name(k->type));
    if (k->type == HRN_CONFIG_ENUM) {
        for (int i = 0; k->names[i] && w < cap; i++)
            w += (size_t)snprintf(buf + w, cap - w, "%s%s", i ? "|" : " ", k->names[i]);
    } else if (k->type != HRN_CONFIG_BOOL && k->type != HRN_CONFIG_STRING && has_range(k) &&
               w < cap) {
        if (k->min > -DBL_MAX && k->max < DBL_MAX)
            w += (size_t)snprintf(buf + w, cap - w, " in [%.10g, %.10g]", k->min, k->max);
        else if (k->min > -DBL_MAX)
            w += (size_t)snprintf(buf + w, cap - w, " >= %.10g", k->min);
        else
            w += (size_t)snprintf(buf + w, cap - w, " <= %.10g", k->max);
    } else if (k->type == HRN_CONFIG_STRING && w < cap) {
        w += (size_t)snprintf(buf + w, cap - w, " of at most %zu characters", k->size - 1);
    }
    if (w < cap) snprintf(buf + w, cap - w, ", default %s", *k->def ? k->def : "\"\"");
}

enum hrn_status hrn_config_write(const struct hrn_config_schema *s, const void *cfg, FILE *f) {
    enum hrn_status st = hrn_config_schema_check(s);
    if (st != HRN_OK) return st;
    /* check every string first, so nothing unreadable is written */
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        for (int k = 0; k < sec->n_keys; k++) {
            const struct hrn_config_key *key = &sec->keys[k];
            if (key->type != HRN_CONFIG_STRING) continue;
            const char *v = cmember(sec, key, cfg), *bad = ini_unsafe(v);
            if (bad)
                return hrn_error_set(HRN_ERR_CONFIG, "config: [%s] %s = '%s' cannot be written as "
                                     "INI (%s)", sec->name, key->key, v, bad);
        }
    }
    fprintf(f, "# resolved configuration (schema '%s')\n[hrn]\nschema = %s\n", s->name, s->name);
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        fprintf(f, "\n");
        if (sec->help && *sec->help) write_comment(f, sec->help);
        fprintf(f, "[%s]\n", sec->name);
        for (int k = 0; k < sec->n_keys; k++) {
            const struct hrn_config_key *key = &sec->keys[k];
            char desc[MSG_CAP], val[256], line[2 * MSG_CAP];
            describe(key, desc, sizeof desc);
            snprintf(line, sizeof line, "%s (%s)", key->help, desc);
            write_comment(f, line);
            format_value(key, cmember(sec, key, cfg), val, sizeof val);
            fprintf(f, "%s = %s\n", key->key, val);
        }
    }
    return ferror(f) ? hrn_error_set(HRN_ERR_IO, "config: write failed") : HRN_OK;
}

enum hrn_status hrn_config_save(const struct hrn_config_schema *s, const void *cfg,
                                const char *path) {
    struct hrn_tmpfile tf;
    enum hrn_status st = hrn_tmpfile_open(&tf, path);
    if (st != HRN_OK) return st;
    st = hrn_config_write(s, cfg, tf.fp);
    if (st != HRN_OK) {
        hrn_tmpfile_close(&tf, 0);
        return hrn_error_prefix(st, "%s", path);
    }
    return hrn_tmpfile_close(&tf, 1);
}

void hrn_config_help(const struct hrn_config_schema *s, FILE *f) {
    fprintf(f,
            "Configuration keys (schema '%s'; files start with [hrn] schema = %s;\n"
            "override any key with --set section.key=value):\n",
            s->name, s->name);
    for (int i = 0; i < s->n_sections; i++) {
        const struct hrn_config_section *sec = &s->sections[i];
        fprintf(f, "\n[%s]%s%s\n", sec->name, sec->help && *sec->help ? "  " : "",
                sec->help ? sec->help : "");
        for (int k = 0; k < sec->n_keys; k++) {
            char desc[MSG_CAP];
            describe(&sec->keys[k], desc, sizeof desc);
            fprintf(f, "  %s.%s\n      %s (%s)\n", sec->name, sec->keys[k].key, sec->keys[k].help,
                    desc);
        }
    }
}

/* --- registry --------------------------------------------------------------------------------- */

const struct hrn_config_schema *hrn_config_find_schema(const struct hrn_config_schema *const *list,
                                                       int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (list[i] && strcmp(list[i]->name, name) == 0) return list[i];
    return NULL;
}

enum hrn_status hrn_config_schema_of(const char *path, const struct hrn_config_schema *const *list,
                                     int n, const struct hrn_config_schema **out) {
    *out = NULL;
    struct parse_ctx c = {.name = path};
    c.f = fopen(path, "r");
    if (!c.f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum hrn_status st = run_parse(&c);
    fclose(c.f);
    if (st != HRN_OK) return st;
    if (!c.peek_done)
        return hrn_error_set(HRN_ERR_CONFIG, "%s: no [hrn] section with 'schema = <name>'", path);
    *out = hrn_config_find_schema(list, n, c.schema_name);
    if (*out) return HRN_OK;
    char known[MSG_CAP] = "";
    size_t w = 0;
    for (int i = 0; i < n && w < sizeof known; i++)
        w += (size_t)snprintf(known + w, sizeof known - w, "%s%s", i ? ", " : "", list[i]->name);
    return hrn_error_set(HRN_ERR_CONFIG, "%s:%ld: unknown schema '%s' (known: %s)", path, c.line,
                         c.schema_name, n ? known : "none");
}

/* --- the shared [optim] section --------------------------------------------------------------- */

static const char *const OPTIM_METHODS[] = {"adam", "adamw", "sgd", "lbfgs", NULL};
static const char *const LR_SCHEDULES[] = {"constant", "step", "cosine", "warmup_cosine", NULL};
_Static_assert(HRN_CONFIG_OPTIM_LBFGS == 3 && HRN_CONFIG_LR_WARMUP_COSINE == 3,
               "OPTIM_METHODS / LR_SCHEDULES out of sync with their enums");

#define T struct hrn_config_optim
const struct hrn_config_key HRN_CONFIG_OPTIM_KEYS[HRN_CONFIG_OPTIM_N_KEYS] = {
    HRN_CFG_ENUM(T, method, "method", "adam", OPTIM_METHODS, "update rule"),
    HRN_CFG_DOUBLE(T, lr, "lr", "1e-3", 0, 10, "base learning rate"),
    HRN_CFG_DOUBLE(T, beta1, "beta1", "0.9", 0, 1, "Adam/AdamW first-moment decay"),
    HRN_CFG_DOUBLE(T, beta2, "beta2", "0.999", 0, 1, "Adam/AdamW second-moment decay"),
    HRN_CFG_DOUBLE(T, eps, "eps", "1e-8", 0, 1, "Adam/AdamW denominator epsilon"),
    HRN_CFG_DOUBLE(T, weight_decay, "weight_decay", "0", 0, 10,
                   "decoupled weight decay (adamw) or L2 penalty (sgd, adam)"),
    HRN_CFG_DOUBLE(T, momentum, "momentum", "0.9", 0, 1, "SGD momentum"),
    HRN_CFG_INT(T, iterations, "iterations", "1000", 0, 100000000, "optimizer steps"),
    HRN_CFG_ENUM(T, schedule, "schedule", "constant", LR_SCHEDULES, "learning-rate schedule"),
    HRN_CFG_INT(T, warmup, "warmup", "0", 0, 100000000,
                "steps of linear warm-up from 0 to lr (warmup_cosine)"),
    HRN_CFG_INT(T, step_size, "step_size", "1000", 1, 100000000,
                "step schedule: multiply lr by gamma every step_size steps"),
    HRN_CFG_DOUBLE(T, gamma, "gamma", "0.1", 0, 10, "step schedule: decay factor"),
    HRN_CFG_DOUBLE(T, clip_norm, "clip_norm", "0", 0, 1e9,
                   "clip the global gradient norm to this value; 0 = no clipping"),
};

static const struct hrn_config_section OPTIM_SECTIONS[] = {
    {"optim", HRN_CONFIG_OPTIM_KEYS, HRN_CONFIG_OPTIM_N_KEYS, 0,
     "optimizer and learning-rate schedule"},
};
#undef T

const struct hrn_config_schema hrn_config_optim_schema = {"optim", OPTIM_SECTIONS, 1,
                                                          sizeof(struct hrn_config_optim)};
