/* json.c: a small recursive-descent JSON reader, enough for TF.js weight manifests (no JSON
 * library is among hrn's Debian dependencies, and a manifest is a few kilobytes). */
#include "detect_impl.h"

#include <stdlib.h>
#include <string.h>

enum { JSON_MAX_DEPTH = 64 };

struct json_in {
    const char *s;
    size_t len, pos;
    const char *what;
};

static enum hrn_status json_err(struct json_in *in, const char *msg) {
    return hrn_error_set(HRN_ERR_FORMAT, "%s: JSON error at byte %zu: %s", in->what, in->pos, msg);
}

static void skip_ws(struct json_in *in) {
    while (in->pos < in->len && strchr(" \t\r\n", in->s[in->pos]) && in->s[in->pos]) in->pos++;
}

static int peek(struct json_in *in) {
    skip_ws(in);
    return in->pos < in->len ? (unsigned char)in->s[in->pos] : -1;
}

static enum hrn_status parse_value(struct json_in *in, int depth, struct hrn_json **out);

/* A string at in->pos (the opening quote): a malloc()ed, decoded copy. */
static enum hrn_status parse_string(struct json_in *in, char **out) {
    in->pos++;
    size_t start = in->pos;
    while (in->pos < in->len && in->s[in->pos] != '"') in->pos += in->s[in->pos] == '\\' ? 2 : 1;
    if (in->pos >= in->len) return json_err(in, "unterminated string");
    char *r = malloc(in->pos - start + 1);
    if (!r) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", in->what);
    size_t n = 0;
    for (size_t i = start; i < in->pos; i++) {
        char c = in->s[i];
        if (c == '\\') {
            c = in->s[++i];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *p = strchr(from, c);
            if (c == 'u' && i + 4 < in->pos) {
                c = (char)strtol((char[5]){in->s[i + 1], in->s[i + 2], in->s[i + 3], in->s[i + 4], 0},
                                 NULL, 16);
                i += 4;
            } else if (p && c) {
                c = to[p - from];
            } else {
                free(r);
                return json_err(in, "bad escape in string");
            }
        }
        r[n++] = c;
    }
    r[n] = 0;
    in->pos++;
    *out = r;
    return HRN_OK;
}

static enum hrn_status parse_number(struct json_in *in, struct hrn_json *v) {
    char buf[64];
    size_t n = 0;
    while (in->pos < in->len && n < sizeof buf - 1 && strchr("+-0123456789.eE", in->s[in->pos]) &&
           in->s[in->pos])
        buf[n++] = in->s[in->pos++];
    buf[n] = 0;
    char *end;
    v->num = strtod(buf, &end);
    if (n == 0 || *end) return json_err(in, "bad number");
    v->kind = HRN_JSON_NUM;
    return HRN_OK;
}

static enum hrn_status parse_word(struct json_in *in, struct hrn_json *v) {
    static const char *words[] = {"null", "true", "false"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if (in->len - in->pos >= l && !memcmp(in->s + in->pos, words[i], l)) {
            in->pos += l;
            v->kind = i == 0 ? HRN_JSON_NULL : HRN_JSON_BOOL;
            v->num = i == 1;
            return HRN_OK;
        }
    }
    return json_err(in, "unexpected character");
}

/* The members of an array or object, after its opening bracket. */
static enum hrn_status parse_children(struct json_in *in, int depth, struct hrn_json *v) {
    int is_obj = v->kind == HRN_JSON_OBJ;
    char close = is_obj ? '}' : ']';
    struct hrn_json **tail = &v->first;
    if (peek(in) == close) {
        in->pos++;
        return HRN_OK;
    }
    for (;;) {
        char *key = NULL;
        if (is_obj) {
            if (peek(in) != '"') return json_err(in, "expected a key");
            enum hrn_status st = parse_string(in, &key);
            if (st) return st;
            if (peek(in) != ':') {
                free(key);
                return json_err(in, "expected ':'");
            }
            in->pos++;
        }
        struct hrn_json *c = NULL;
        enum hrn_status st = parse_value(in, depth + 1, &c);
        if (c) { /* linked even when it failed, so that hrn_json_free finds it */
            c->key = key;
            key = NULL;
            *tail = c;
            tail = &c->next;
            v->n++;
        }
        free(key);
        if (st) return st;
        int ch = peek(in);
        in->pos++;
        if (ch == close) return HRN_OK;
        if (ch != ',') return json_err(in, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static enum hrn_status parse_value(struct json_in *in, int depth, struct hrn_json **out) {
    if (depth > JSON_MAX_DEPTH) return json_err(in, "nested too deeply");
    struct hrn_json *v = calloc(1, sizeof *v);
    if (!v) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", in->what);
    *out = v;
    int c = peek(in);
    if (c == '"') {
        v->kind = HRN_JSON_STR;
        return parse_string(in, &v->str);
    }
    if (c == '{' || c == '[') {
        v->kind = c == '{' ? HRN_JSON_OBJ : HRN_JSON_ARR;
        in->pos++;
        return parse_children(in, depth, v);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(in, v);
    if (c < 0) return json_err(in, "unexpected end");
    return parse_word(in, v);
}

enum hrn_status hrn_json_parse(const char *text, size_t len, const char *what,
                               struct hrn_json **out) {
    struct json_in in = {text, len, 0, what};
    *out = NULL;
    enum hrn_status st = parse_value(&in, 0, out);
    if (st == HRN_OK && peek(&in) >= 0) st = json_err(&in, "trailing characters");
    if (st != HRN_OK) {
        hrn_json_free(*out);
        *out = NULL;
    }
    return st;
}

void hrn_json_free(struct hrn_json *v) {
    while (v) {
        struct hrn_json *next = v->next;
        hrn_json_free(v->first);
        free(v->str);
        free(v->key);
        free(v);
        v = next;
    }
}

const struct hrn_json *hrn_json_get(const struct hrn_json *obj, const char *key) {
    if (!obj || obj->kind != HRN_JSON_OBJ) return NULL;
    for (const struct hrn_json *c = obj->first; c; c = c->next)
        if (c->key && !strcmp(c->key, key)) return c;
    return NULL;
}
