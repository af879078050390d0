/* mesh_ply.c: PLY read (ASCII, binary little- and big-endian) and write (ASCII, binary LE).
 * ref: Greg Turk, "The PLY Polygon File Format" (1994); MeshLab's per-face `texcoord` list.
 *
 * The whole file is read into memory and every read is bounds-checked against its end; before
 * an element is read, its claimed record count times the smallest possible record size is
 * checked against the bytes left, so a corrupt count can neither crash nor allocate gigabytes. */
#include "mesh_impl.h"

#include "hrn_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum ply_type {
    PT_NONE = 0,
    PT_I8,
    PT_U8,
    PT_I16,
    PT_U16,
    PT_I32,
    PT_U32,
    PT_F32,
    PT_F64,
    PT_COUNT
};

static const struct {
    const char *name, *alias;
    int size;
    int is_int;
    double lo, hi; /* range of the integer types; colour scale is hi */
} TYPES[] = {
    [PT_NONE] = {"", "", 0, 0, 0, 0},
    [PT_I8] = {"char", "int8", 1, 1, -128.0, 127.0},
    [PT_U8] = {"uchar", "uint8", 1, 1, 0.0, 255.0},
    [PT_I16] = {"short", "int16", 2, 1, -32768.0, 32767.0},
    [PT_U16] = {"ushort", "uint16", 2, 1, 0.0, 65535.0},
    [PT_I32] = {"int", "int32", 4, 1, -2147483648.0, 2147483647.0},
    [PT_U32] = {"uint", "uint32", 4, 1, 0.0, 4294967295.0},
    [PT_F32] = {"float", "float32", 4, 0, 0, 0},
    [PT_F64] = {"double", "float64", 8, 0, 0, 0},
};
_Static_assert(sizeof TYPES / sizeof TYPES[0] == PT_COUNT, "TYPES out of sync with enum ply_type");

enum { FMT_ASCII = 0, FMT_LE, FMT_BE };
enum { MAX_ELEMS = 32, MAX_PROPS = 64, NAME_CAP = 64, MAX_CORNERS = 4096 };

/* what a property means to us */
enum role {
    R_SKIP = 0,
    R_X,
    R_Y,
    R_Z,
    R_NX,
    R_NY,
    R_NZ,
    R_RED,
    R_GREEN,
    R_BLUE,
    R_U,
    R_V,
    R_INDICES,
    R_TEXCOORD
};

struct ply_prop {
    char name[NAME_CAP];
    int type;       /* item type for lists */
    int count_type; /* PT_NONE for scalars */
    int role;
};

struct ply_elem {
    char name[NAME_CAP];
    int64_t count;
    int n_props;
    struct ply_prop props[MAX_PROPS];
};

struct ply_reader {
    const char *path;
    const uint8_t *p, *end;
    int format;
    long line;        /* ASCII: the current line */
    long tok_line;    /* ASCII: the line of the last value read */
    const char *elem; /* for messages */
    int64_t rec;      /* record within elem */
};

static int type_by_name(const char *s) {
    for (int t = 1; t < PT_COUNT; t++)
        if (strcmp(s, TYPES[t].name) == 0 || strcmp(s, TYPES[t].alias) == 0) return t;
    return PT_NONE;
}

static enum hrn_status truncated(const struct ply_reader *r) {
    if (r->format == FMT_ASCII)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: file ends inside element '%s' record %lld",
                             r->path, r->line, r->elem, (long long)r->rec);
    return hrn_error_set(HRN_ERR_FORMAT, "%s: truncated: file ends inside element '%s' record %lld",
                         r->path, r->elem, (long long)r->rec);
}

/* One value of the given type as a double. ASCII integers must be whole and in range. */
static enum hrn_status read_value(struct ply_reader *r, int type, double *out) {
    if (r->format == FMT_ASCII) {
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) {
            if (*r->p == '\n') r->line++;
            r->p++;
        }
        if (r->p == r->end) return truncated(r);
        r->tok_line = r->line;
        char buf[64];
        size_t n = 0;
        while (r->p < r->end &&
               !(*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) {
            if (n + 1 < sizeof buf) buf[n] = (char)*r->p;
            n++;
            r->p++;
        }
        if (n + 1 > sizeof buf)
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: value too long in element '%s'", r->path,
                                 r->line, r->elem);
        buf[n] = '\0';
        char *e;
        errno = 0;
        double v = strtod(buf, &e);
        if (e == buf || *e != '\0' || (errno == ERANGE && fabs(v) == HUGE_VAL))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed number '%s' in element '%s'",
                                 r->path, r->line, buf, r->elem);
        if (TYPES[type].is_int && !(v == floor(v) && v >= TYPES[type].lo && v <= TYPES[type].hi))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: '%s' is not a %s in element '%s'",
                                 r->path, r->line, buf, TYPES[type].name, r->elem);
        *out = v;
        return HRN_OK;
    }
    int size = TYPES[type].size;
    if (r->end - r->p < size) return truncated(r);
    uint8_t b[8];
    for (int i = 0; i < size; i++)
        b[i] = r->p[r->format == FMT_BE ? size - 1 - i : i];
    r->p += size;
    /* b is now little-endian; assemble portably */
    uint64_t u = 0;
    for (int i = size - 1; i >= 0; i--)
        u = (u << 8) | b[i];
    switch (type) {
    case PT_I8:
        *out = (double)(int8_t)(uint8_t)u;
        break;
    case PT_U8:
        *out = (double)(uint8_t)u;
        break;
    case PT_I16:
        *out = (double)(int16_t)(uint16_t)u;
        break;
    case PT_U16:
        *out = (double)(uint16_t)u;
        break;
    case PT_I32:
        *out = (double)(int32_t)(uint32_t)u;
        break;
    case PT_U32:
        *out = (double)(uint32_t)u;
        break;
    case PT_F32: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        *out = (double)f;
        break;
    }
    default: {
        double d;
        memcpy(&d, &u, 8);
        *out = d;
        break;
    }
    }
    return HRN_OK;
}

/* A value that is kept must be finite (skipped properties may hold anything). */
static enum hrn_status read_finite(struct ply_reader *r, int type, double *out) {
    enum hrn_status st = read_value(r, type, out);
    if (st == HRN_OK && !isfinite(*out)) {
        if (r->format == FMT_ASCII)
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: value is not finite in element '%s'",
                                 r->path, r->tok_line, r->elem);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: element '%s' record %lld: value is not finite",
                             r->path, r->elem, (long long)r->rec);
    }
    return st;
}

/* --- header ----------------------------------------------------------------------------------- */

struct ply_header {
    int format;
    int n_elems;
    struct ply_elem elems[MAX_ELEMS];
    size_t data_off;
    long lines; /* header lines, so ASCII body lines are numbered as in the file */
};

static int assign_role(const char *elem, const struct ply_prop *p) {
    static const struct {
        const char *name;
        int role;
    } VERT[] = {
        {"x", R_X},
        {"y", R_Y},
        {"z", R_Z},
        {"nx", R_NX},
        {"ny", R_NY},
        {"nz", R_NZ},
        {"red", R_RED},
        {"green", R_GREEN},
        {"blue", R_BLUE},
        {"diffuse_red", R_RED},
        {"diffuse_green", R_GREEN},
        {"diffuse_blue", R_BLUE},
        {"s", R_U},
        {"t", R_V},
        {"u", R_U},
        {"v", R_V},
        {"texture_u", R_U},
        {"texture_v", R_V},
        {"texture_s", R_U},
        {"texture_t", R_V},
    };
    if (strcmp(elem, "vertex") == 0 && p->count_type == PT_NONE) {
        for (size_t i = 0; i < sizeof VERT / sizeof VERT[0]; i++)
            if (strcmp(p->name, VERT[i].name) == 0) return VERT[i].role;
    }
    if (strcmp(elem, "face") == 0 && p->count_type != PT_NONE) {
        if (strcmp(p->name, "vertex_indices") == 0 || strcmp(p->name, "vertex_index") == 0)
            return R_INDICES;
        if (strcmp(p->name, "texcoord") == 0) return R_TEXCOORD;
    }
    return R_SKIP;
}

static enum hrn_status parse_header(const char *path, const uint8_t *buf, size_t size,
                                    struct ply_header *h) {
    memset(h, 0, sizeof *h);
    h->format = -1;
    size_t pos = 0;
    long line = 0;
    for (;;) {
        if (pos >= size)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: no 'end_header' line (not a PLY file?)",
                                 path);
        const uint8_t *nl = memchr(buf + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (buf + pos)) : size - pos;
        line++;
        size_t next = nl ? (size_t)(nl - buf) + 1 : size;
        char s[512];
        if (len >= sizeof s)
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: header line too long", path, line);
        memcpy(s, buf + pos, len);
        s[len] = '\0';
        if (len && s[len - 1] == '\r') s[--len] = '\0';
        pos = next;
        char *tok[8];
        int nt = 0;
        for (char *q = strtok(s, " \t"); q && nt < 8; q = strtok(NULL, " \t"))
            tok[nt++] = q;
        if (line == 1) {
            if (nt != 1 || strcmp(tok[0], "ply") != 0)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:1: expected 'ply' (not a PLY file)", path);
            continue;
        }
        if (nt == 0 || strcmp(tok[0], "comment") == 0 || strcmp(tok[0], "obj_info") == 0) continue;
        if (strcmp(tok[0], "end_header") == 0) break;
        if (strcmp(tok[0], "format") == 0) {
            if (nt != 3)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed 'format' line", path, line);
            if (strcmp(tok[1], "ascii") == 0)
                h->format = FMT_ASCII;
            else if (strcmp(tok[1], "binary_little_endian") == 0)
                h->format = FMT_LE;
            else if (strcmp(tok[1], "binary_big_endian") == 0)
                h->format = FMT_BE;
            else
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: unknown format '%s'", path, line,
                                     tok[1]);
        } else if (strcmp(tok[0], "element") == 0) {
            if (nt != 3)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed 'element' line", path,
                                     line);
            if (h->n_elems == MAX_ELEMS)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: more than %d elements", path, line,
                                     MAX_ELEMS);
            struct ply_elem *e = &h->elems[h->n_elems++];
            snprintf(e->name, sizeof e->name, "%s", tok[1]);
            char *end;
            errno = 0;
            long long c = strtoll(tok[2], &end, 10);
            if (end == tok[2] || *end || errno == ERANGE || c < 0)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: bad count '%s' for element '%s'",
                                     path, line, tok[2], tok[1]);
            e->count = c;
        } else if (strcmp(tok[0], "property") == 0) {
            if (h->n_elems == 0)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: property before any element", path,
                                     line);
            struct ply_elem *e = &h->elems[h->n_elems - 1];
            if (e->n_props == MAX_PROPS)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: more than %d properties", path, line,
                                     MAX_PROPS);
            struct ply_prop *p = &e->props[e->n_props];
            memset(p, 0, sizeof *p);
            const char *tname;
            if (nt == 5 && strcmp(tok[1], "list") == 0) {
                p->count_type = type_by_name(tok[2]);
                p->type = type_by_name(tok[3]);
                snprintf(p->name, sizeof p->name, "%s", tok[4]);
                tname = p->count_type == PT_NONE ? tok[2] : tok[3];
                if (p->count_type != PT_NONE && !TYPES[p->count_type].is_int)
                    return hrn_error_set(HRN_ERR_FORMAT,
                                         "%s:%ld: list count type '%s' is not an "
                                         "integer type",
                                         path, line, tok[2]);
            } else if (nt == 3) {
                p->type = type_by_name(tok[1]);
                snprintf(p->name, sizeof p->name, "%s", tok[2]);
                tname = tok[1];
            } else {
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: malformed 'property' line", path,
                                     line);
            }
            if (p->type == PT_NONE || (nt == 5 && p->count_type == PT_NONE))
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: unknown type '%s'", path, line,
                                     tname);
            p->role = assign_role(e->name, p);
            if (p->role == R_INDICES && !TYPES[p->type].is_int)
                return hrn_error_set(HRN_ERR_FORMAT,
                                     "%s:%ld: face indices of type '%s', expected "
                                     "an integer type",
                                     path, line, TYPES[p->type].name);
            e->n_props++;
        } else {
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%ld: unknown header line '%s'", path, line,
                                 tok[0]);
        }
    }
    if (h->format < 0) return hrn_error_set(HRN_ERR_FORMAT, "%s: no 'format' line", path);
    h->data_off = pos;
    h->lines = line;
    return HRN_OK;
}

/* The fewest bytes one record can take, for the count-versus-file-size check. */
static int64_t min_record_bytes(const struct ply_elem *e, int format) {
    int64_t n = 0;
    for (int i = 0; i < e->n_props; i++) {
        const struct ply_prop *p = &e->props[i];
        int cnt = p->count_type != PT_NONE;
        int min_items = p->role == R_INDICES ? 3 : 0;
        if (format == FMT_ASCII)
            n += 2 * (1 + (cnt ? min_items : 0)); /* a digit and a separator per value */
        else
            n += cnt ? TYPES[p->count_type].size + min_items * TYPES[p->type].size
                     : TYPES[p->type].size;
    }
    return n;
}

/* --- reading ---------------------------------------------------------------------------------- */

static enum hrn_status read_list_count(struct ply_reader *r, const struct ply_prop *p, int64_t *n) {
    double c;
    enum hrn_status st = read_value(r, p->count_type, &c);
    if (st != HRN_OK) return st;
    if (c < 0)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: element '%s' record %lld: negative list length",
                             r->path, r->elem, (long long)r->rec);
    *n = (int64_t)c;
    /* the items must fit in what is left */
    int64_t item = r->format == FMT_ASCII ? 2 : TYPES[p->type].size;
    int64_t left = (int64_t)(r->end - r->p) + (r->format == FMT_ASCII ? 1 : 0);
    if (*n > 0 && left / item < *n) return truncated(r);
    return HRN_OK;
}

static enum hrn_status skip_prop(struct ply_reader *r, const struct ply_prop *p) {
    enum hrn_status st;
    double v;
    if (p->count_type == PT_NONE) return read_value(r, p->type, &v);
    int64_t n;
    if ((st = read_list_count(r, p, &n)) != HRN_OK) return st;
    if (r->format != FMT_ASCII) {
        r->p += n * TYPES[p->type].size; /* read_list_count checked that it fits */
        return HRN_OK;
    }
    for (int64_t i = 0; i < n; i++)
        if ((st = read_value(r, p->type, &v)) != HRN_OK) return st;
    return HRN_OK;
}

struct face_out {
    struct hrn__ivec f, where; /* triangles, and the line (ASCII) or record (binary) of each */
    struct hrn__fvec tc;       /* per-corner texcoords from a `texcoord` list */
    struct hrn__ivec ftc;
    int64_t with_tc;
    int32_t *corners; /* scratch, MAX_CORNERS */
    float *corner_tc; /* scratch, 2 * MAX_CORNERS */
};

static enum hrn_status read_faces(struct ply_reader *r, const struct ply_elem *e,
                                  struct face_out *fo) {
    enum hrn_status st = HRN_OK;
    HRN_TRY(hrn__ivec_reserve(&fo->f, 3 * e->count));
    for (r->rec = 0; r->rec < e->count; r->rec++) {
        int64_t k = -1, ktc = -1;
        long line = r->line;
        for (int i = 0; i < e->n_props; i++) {
            const struct ply_prop *p = &e->props[i];
            if (p->role != R_INDICES && p->role != R_TEXCOORD) {
                HRN_TRY(skip_prop(r, p));
                if (i == 0) line = r->tok_line;
                continue;
            }
            int64_t n;
            HRN_TRY(read_list_count(r, p, &n));
            if (i == 0) line = r->tok_line;
            if (p->role == R_INDICES) {
                if (n < 3 || n > MAX_CORNERS) {
                    return hrn_error_set(HRN_ERR_FORMAT,
                                         "%s: face %lld has %lld vertices, "
                                         "expected 3 to %d",
                                         r->path, (long long)r->rec, (long long)n, MAX_CORNERS);
                }
                k = n;
                for (int64_t j = 0; j < n; j++) {
                    double v;
                    HRN_TRY(read_value(r, p->type, &v));
                    if (v < 0 || v > INT32_MAX)
                        return hrn_error_set(HRN_ERR_FORMAT,
                                             "%s: face %lld: vertex index %.0f "
                                             "out of range",
                                             r->path, (long long)r->rec, v);
                    fo->corners[j] = (int32_t)v;
                }
            } else {
                if (n > 2 * MAX_CORNERS)
                    return hrn_error_set(HRN_ERR_FORMAT, "%s: face %lld: texcoord list of %lld",
                                         r->path, (long long)r->rec, (long long)n);
                ktc = n;
                for (int64_t j = 0; j < n; j++) {
                    double v;
                    HRN_TRY(read_finite(r, p->type, &v));
                    fo->corner_tc[j] = (float)v;
                }
            }
        }
        if (k < 0)
            return hrn_error_set(HRN_ERR_FORMAT, "%s: element 'face' has no vertex_indices list",
                                 r->path);
        if (ktc > 0 && ktc != 2 * k)
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s: face %lld: texcoord list of %lld values for "
                                 "%lld vertices",
                                 r->path, (long long)r->rec, (long long)ktc, (long long)k);
        int32_t where =
            (int32_t)(r->format == FMT_ASCII ? line
                                             : (long)(r->rec < INT32_MAX ? r->rec : INT32_MAX));
        int64_t tc0 = fo->tc.n / 2;
        if (ktc > 0) {
            if (tc0 + k > INT32_MAX)
                return hrn_error_set(HRN_ERR_FORMAT, "%s: too many texcoords", r->path);
            HRN_TRY(hrn__fvec_push(&fo->tc, fo->corner_tc, (int)(2 * k)));
            fo->with_tc += k - 2;
        }
        for (int64_t j = 1; j + 1 < k; j++) {
            int32_t t[3] = {fo->corners[0], fo->corners[j], fo->corners[j + 1]};
            HRN_TRY(hrn__ivec_push(&fo->f, t, 3));
            HRN_TRY(hrn__ivec_push(&fo->where, &where, 1));
            int32_t tt[3] = {-1, -1, -1};
            if (ktc > 0) {
                tt[0] = (int32_t)tc0;
                tt[1] = (int32_t)(tc0 + j);
                tt[2] = (int32_t)(tc0 + j + 1);
            }
            HRN_TRY(hrn__ivec_push(&fo->ftc, tt, 3));
        }
    }
fail:
    return st;
}

static enum hrn_status read_vertices(struct ply_reader *r, const struct ply_elem *e,
                                     struct hrn_mesh *m) {
    enum hrn_status st = HRN_OK;
    int have[R_TEXCOORD + 1] = {0};
    for (int i = 0; i < e->n_props; i++)
        have[e->props[i].role] = 1;
    if (!have[R_X] || !have[R_Y] || !have[R_Z])
        return hrn_error_set(HRN_ERR_FORMAT, "%s: element 'vertex' lacks x, y or z", r->path);
    if (e->count > INT32_MAX)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %lld vertices, at most %d supported", r->path,
                             (long long)e->count, INT32_MAX);
    int normals = have[R_NX] && have[R_NY] && have[R_NZ];
    int colors = have[R_RED] && have[R_GREEN] && have[R_BLUE];
    int uvs = have[R_U] && have[R_V];
    HRN_TRY(hrn_mesh_alloc(m, e->count, 0, colors, uvs ? e->count : 0, normals ? e->count : 0));
    for (r->rec = 0; r->rec < e->count; r->rec++) {
        int64_t v = r->rec;
        for (int i = 0; i < e->n_props; i++) {
            const struct ply_prop *p = &e->props[i];
            if (p->role == R_SKIP) {
                HRN_TRY(skip_prop(r, p));
                continue;
            }
            double x;
            HRN_TRY(read_finite(r, p->type, &x));
            /* integer colours are scaled by their type's maximum (255 for uchar) */
            double cs = TYPES[p->type].is_int ? TYPES[p->type].hi : 1.0;
            switch (p->role) {
            case R_X:
                m->verts[3 * v] = (float)x;
                break;
            case R_Y:
                m->verts[3 * v + 1] = (float)x;
                break;
            case R_Z:
                m->verts[3 * v + 2] = (float)x;
                break;
            case R_NX:
                if (normals) m->normals[3 * v] = (float)x;
                break;
            case R_NY:
                if (normals) m->normals[3 * v + 1] = (float)x;
                break;
            case R_NZ:
                if (normals) m->normals[3 * v + 2] = (float)x;
                break;
            case R_RED:
                if (colors) m->colors[3 * v] = (float)(x / cs);
                break;
            case R_GREEN:
                if (colors) m->colors[3 * v + 1] = (float)(x / cs);
                break;
            case R_BLUE:
                if (colors) m->colors[3 * v + 2] = (float)(x / cs);
                break;
            case R_U:
                if (uvs) m->uvs[2 * v] = (float)x;
                break;
            case R_V:
                if (uvs) m->uvs[2 * v + 1] = (float)x;
                break;
            default:
                break;
            }
        }
    }
fail:
    return st;
}

static enum hrn_status read_file(const char *path, uint8_t **buf, size_t *size) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum hrn_status st = HRN_OK;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot determine the size: %s", path, strerror(errno));
        goto done;
    }
    *buf = malloc((size_t)n + 1);
    if (!*buf) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, n);
        goto done;
    }
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
        free(*buf);
        *buf = NULL;
        goto done;
    }
    (*buf)[n] = '\0';
    *size = (size_t)n;
done:
    fclose(f);
    return st;
}

enum hrn_status hrn_mesh_read_ply(const char *path, struct hrn_mesh *out) {
    enum hrn_status st = HRN_OK;
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t size = 0;
    struct ply_header *h = NULL;
    struct face_out fo = {0};
    int seen_vertex = 0, seen_face = 0;
    HRN_TRY(read_file(path, &buf, &size));
    h = malloc(sizeof *h);
    fo.corners = malloc(MAX_CORNERS * sizeof(int32_t));
    fo.corner_tc = malloc(2 * MAX_CORNERS * sizeof(float));
    if (!h || !fo.corners || !fo.corner_tc) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    HRN_TRY(parse_header(path, buf, size, h));
    struct ply_reader r = {.path = path,
                           .p = buf + h->data_off,
                           .end = buf + size,
                           .format = h->format,
                           .line = h->lines + 1};
    for (int i = 0; i < h->n_elems; i++) {
        const struct ply_elem *e = &h->elems[i];
        r.elem = e->name;
        r.rec = 0;
        int64_t minrec = min_record_bytes(e, h->format);
        int64_t left = (int64_t)(r.end - r.p) + (h->format == FMT_ASCII ? 1 : 0);
        if (minrec > 0 && e->count > left / minrec) {
            st = hrn_error_set(HRN_ERR_FORMAT,
                               "%s: truncated or corrupt: element '%s' claims %lld "
                               "records of at least %lld bytes, but %lld bytes follow",
                               path, e->name, (long long)e->count, (long long)minrec,
                               (long long)(r.end - r.p));
            goto fail;
        }
        if (strcmp(e->name, "vertex") == 0) {
            if (seen_vertex++) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: two 'vertex' elements", path);
                goto fail;
            }
            HRN_TRY(read_vertices(&r, e, out));
        } else if (strcmp(e->name, "face") == 0) {
            if (seen_face++) {
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: two 'face' elements", path);
                goto fail;
            }
            HRN_TRY(read_faces(&r, e, &fo));
        } else {
            for (r.rec = 0; r.rec < e->count; r.rec++)
                for (int k = 0; k < e->n_props; k++)
                    HRN_TRY(skip_prop(&r, &e->props[k]));
        }
    }
    if (!seen_vertex) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no 'vertex' element", path);
        goto fail;
    }
    for (int64_t i = 0; i < fo.f.n; i++) {
        if (fo.f.p[i] >= out->n_verts) {
            if (h->format == FMT_ASCII)
                st = hrn_error_set(HRN_ERR_FORMAT,
                                   "%s:%d: vertex index %d out of range (%lld "
                                   "vertices)",
                                   path, (int)fo.where.p[i / 3], (int)fo.f.p[i],
                                   (long long)out->n_verts);
            else
                st = hrn_error_set(HRN_ERR_FORMAT,
                                   "%s: face %d: vertex index %d out of range "
                                   "(%lld vertices)",
                                   path, (int)fo.where.p[i / 3], (int)fo.f.p[i],
                                   (long long)out->n_verts);
            goto fail;
        }
    }
    out->n_faces = fo.f.n / 3;
    out->faces = fo.f.p;
    fo.f.p = NULL;
    if (fo.with_tc > 0) {
        if (fo.with_tc != out->n_faces) {
            hrn_log(HRN_LOG_WARN, "%s: %lld of %lld triangles have texcoords; ignoring them", path,
                    (long long)fo.with_tc, (long long)out->n_faces);
        } else if (out->uvs) {
            hrn_log(HRN_LOG_WARN,
                    "%s: both per-vertex and per-face texture coordinates; keeping "
                    "the per-vertex ones",
                    path);
        } else {
            out->n_uvs = fo.tc.n / 2;
            out->uvs = fo.tc.p;
            fo.tc.p = NULL;
            out->face_uvs = fo.ftc.p;
            fo.ftc.p = NULL;
        }
    }
fail:
    free(buf);
    free(h);
    free(fo.f.p);
    free(fo.where.p);
    free(fo.tc.p);
    free(fo.ftc.p);
    free(fo.corners);
    free(fo.corner_tc);
    if (st != HRN_OK) hrn_mesh_free(out);
    return st;
}

/* --- writing ---------------------------------------------------------------------------------- */

static void put_le(FILE *f, const void *x, int size) {
    uint8_t b[8];
    memcpy(b, x, (size_t)size);
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 0) /* big-endian host */
        for (int i = 0; i < size / 2; i++) {
            uint8_t t = b[i];
            b[i] = b[size - 1 - i];
            b[size - 1 - i] = t;
        }
    fwrite(b, 1, (size_t)size, f);
}

static uint8_t to_u8(float c) {
    double v = (double)c * 255.0 + 0.5;
    return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
}

/* 1 when the attribute is per vertex: no per-face index, or one equal to the vertex indices. */
static int per_vertex(const struct hrn_mesh *m, int64_t n_attr, const int32_t *per_face) {
    if (n_attr == 0 || n_attr != m->n_verts) return 0;
    return !per_face || memcmp(per_face, m->faces, (size_t)(3 * m->n_faces) * sizeof(int32_t)) == 0;
}

enum hrn_status hrn_mesh_write_ply(const char *path, const struct hrn_mesh *m, int binary) {
    enum hrn_status st = hrn_mesh_check(m);
    if (st != HRN_OK) return st;
    int wn = per_vertex(m, m->n_normals, m->face_normals);
    int wuv = per_vertex(m, m->n_uvs, m->face_uvs);
    int wtc = !wuv && m->face_uvs; /* MeshLab's per-face texcoord list */
    if (m->n_normals > 0 && !wn)
        hrn_log(HRN_LOG_DEBUG, "%s: normals are not per vertex; PLY gets none", path);
    struct hrn_tmpfile tf;
    if ((st = hrn_tmpfile_open(&tf, path)) != HRN_OK) return st;
    FILE *f = tf.fp;
    fprintf(f, "ply\nformat %s 1.0\ncomment written by hrn %s\n",
            binary ? "binary_little_endian" : "ascii", hrn_version());
    fprintf(f, "element vertex %lld\nproperty float x\nproperty float y\nproperty float z\n",
            (long long)m->n_verts);
    if (wn) fprintf(f, "property float nx\nproperty float ny\nproperty float nz\n");
    if (m->colors) fprintf(f, "property uchar red\nproperty uchar green\nproperty uchar blue\n");
    if (wuv) fprintf(f, "property float s\nproperty float t\n");
    fprintf(f, "element face %lld\nproperty list uchar int vertex_indices\n",
            (long long)m->n_faces);
    if (wtc) fprintf(f, "property list uchar float texcoord\n");
    fprintf(f, "end_header\n");
    for (int64_t i = 0; i < m->n_verts; i++) {
        float vf[8];
        int nf = 0;
        for (int k = 0; k < 3; k++)
            vf[nf++] = m->verts[3 * i + k];
        if (wn)
            for (int k = 0; k < 3; k++)
                vf[nf++] = m->normals[3 * i + k];
        uint8_t c[3] = {0, 0, 0};
        if (m->colors)
            for (int k = 0; k < 3; k++)
                c[k] = to_u8(m->colors[3 * i + k]);
        float uv[2] = {0, 0};
        if (wuv) {
            uv[0] = m->uvs[2 * i];
            uv[1] = m->uvs[2 * i + 1];
        }
        if (binary) {
            for (int k = 0; k < nf; k++)
                put_le(f, &vf[k], 4);
            if (m->colors) fwrite(c, 1, 3, f);
            if (wuv) {
                put_le(f, &uv[0], 4);
                put_le(f, &uv[1], 4);
            }
        } else {
            for (int k = 0; k < nf; k++)
                fprintf(f, "%s%.9g", k ? " " : "", (double)vf[k]);
            if (m->colors) fprintf(f, " %d %d %d", c[0], c[1], c[2]);
            if (wuv) fprintf(f, " %.9g %.9g", (double)uv[0], (double)uv[1]);
            fputc('\n', f);
        }
    }
    for (int64_t i = 0; i < m->n_faces; i++) {
        const int32_t *t = m->faces + 3 * i;
        if (binary) {
            fputc(3, f);
            for (int k = 0; k < 3; k++)
                put_le(f, &t[k], 4);
            if (wtc) {
                fputc(6, f);
                for (int k = 0; k < 3; k++) {
                    const float *uv = m->uvs + 2 * m->face_uvs[3 * i + k];
                    put_le(f, &uv[0], 4);
                    put_le(f, &uv[1], 4);
                }
            }
        } else {
            fprintf(f, "3 %d %d %d", t[0], t[1], t[2]);
            if (wtc) {
                fprintf(f, " 6");
                for (int k = 0; k < 3; k++) {
                    const float *uv = m->uvs + 2 * m->face_uvs[3 * i + k];
                    fprintf(f, " %.9g %.9g", (double)uv[0], (double)uv[1]);
                }
            }
            fputc('\n', f);
        }
    }
    return hrn_tmpfile_close(&tf, 1);
}
