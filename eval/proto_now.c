/* proto_now.c: the NoW benchmark's own layout (spec D; now_evaluation compute_error.py
 * metric_computation): the image list, the GT scan / landmark folders, the prediction folder, and
 * the challenge names. The geometry is hrn_s2m_eval (proto_scan2mesh.c). */
#include "hrn_eval.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *CHALLENGE[HRN_NOW_N_CHALLENGES] = {
    "multiview_neutral", "multiview_expressions", "multiview_occlusions", "selfie"};

const char *hrn_now_challenge_name(int k) {
    return k >= 0 && k < HRN_NOW_N_CHALLENGES ? CHALLENGE[k] : "unknown";
}

int hrn_now_challenge_index(const char *name) {
    for (int k = 0; k < HRN_NOW_N_CHALLENGES; k++)
        if (!strcmp(name, CHALLENGE[k])) return k;
    return -1;
}

/* Copy [a, b) into dst (cap bytes); 0 when it does not fit. */
static int copy_span(char *dst, size_t cap, const char *a, const char *b) {
    size_t n = (size_t)(b - a);
    if (n + 1 > cap) return 0;
    memcpy(dst, a, n);
    dst[n] = '\0';
    return 1;
}

enum hrn_status hrn_now_read_list(const char *path, struct hrn_now_item **items, int64_t *n) {
    *items = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open the NoW image list: %s", path,
                                 strerror(errno));
    enum hrn_status st = HRN_OK;
    struct hrn_now_item *v = NULL;
    int64_t cap = 0, k = 0, line_no = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t l = strlen(line);
        if (l == sizeof line - 1 && line[l - 1] != '\n') {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s line %lld: longer than %zu characters", path,
                               (long long)line_no, sizeof line - 2);
            goto fail;
        }
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ' ||
                         line[l - 1] == '\t'))
            line[--l] = '\0';
        const char *s = line + strspn(line, " \t");
        if (!*s) continue; /* blank lines (upstream would fail on them) */
        /* upstream: subject = split('/')[-3], challenge = [-2], filename = [-1] */
        const char *p3 = strrchr(s, '/');
        const char *p2 = NULL, *p1 = NULL;
        if (p3) for (const char *q = p3 - 1; q >= s; q--) if (*q == '/') { p2 = q; break; }
        if (p2) {
            for (const char *q = p2 - 1; q >= s; q--) if (*q == '/') { p1 = q; break; }
        }
        if (!p3 || !p2) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s line %lld: '%s': expected "
                               "<subject>/<challenge>/<image> (e.g. FaMoS_180424_03335_TA/"
                               "multiview_neutral/IMG_0101.jpg)", path, (long long)line_no, s);
            goto fail;
        }
        if (k == cap) {
            cap = cap ? 2 * cap : 256;
            struct hrn_now_item *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            v = nv;
        }
        struct hrn_now_item *it = &v[k];
        memset(it, 0, sizeof *it);
        const char *subj0 = p1 ? p1 + 1 : s;
        size_t fl = strlen(p3 + 1);
        int ok = copy_span(it->line, sizeof it->line, s, s + strlen(s)) &&
                 copy_span(it->subject, sizeof it->subject, subj0, p2) &&
                 copy_span(it->challenge, sizeof it->challenge, p2 + 1, p3) &&
                 copy_span(it->image, sizeof it->image, p3 + 1, p3 + 1 + fl);
        if (!ok || fl <= 4 || !*it->subject || !*it->challenge) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s line %lld: '%s': empty or too long subject, "
                               "challenge or image name (the image needs a 3-letter extension)",
                               path, (long long)line_no, s);
            goto fail;
        }
        /* upstream: filename[:-4], i.e. the extension of IMG_0101.jpg dropped by length */
        copy_span(it->stem, sizeof it->stem, p3 + 1, p3 + 1 + fl - 4);
        it->challenge_idx = hrn_now_challenge_index(it->challenge);
        it->line_no = line_no;
        k++;
    }
    if (ferror(f)) st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
fail:
    fclose(f);
    if (st != HRN_OK) {
        free(v);
        return st;
    }
    *items = v;
    *n = k;
    return HRN_OK;
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The smallest name (strcmp) of the regular files in dir ending in ext; *count = how many. */
static enum hrn_status first_with_ext(const char *dir, const char *ext, char *out, size_t cap,
                                      int *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return hrn_error_set(HRN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char best[1024] = "";
    struct dirent *e;
    size_t el = strlen(ext);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= el || strcmp(e->d_name + l - el, ext) != 0 || l >= sizeof best) continue;
        char full[4096];
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full) continue;
        if (!is_file(full)) continue;
        if (!*count || strcmp(e->d_name, best) < 0) snprintf(best, sizeof best, "%s", e->d_name);
        (*count)++;
    }
    closedir(d);
    if (!*count) return hrn_error_set(HRN_ERR_IO, "%s: no *%s file", dir, ext);
    if (snprintf(out, cap, "%s/%s", dir, best) >= (int)cap)
        return hrn_error_set(HRN_ERR_INVALID, "%s/%s: path too long", dir, best);
    return HRN_OK;
}

enum hrn_status hrn_now_resolve(const struct hrn_now_layout *L, const struct hrn_now_item *it,
                                struct hrn_now_paths *p) {
    memset(p, 0, sizeof *p);
    char dir[4096];
    int cnt;
    /* GT: upstream takes glob(<folder>/<subject>/ *.obj)[0] (listing order); we take the first
     * name in sorted order, and say so when there is more than one */
    snprintf(dir, sizeof dir, "%s/%s", L->scans_dir, it->subject);
    enum hrn_status st = first_with_ext(dir, ".obj", p->gt_scan, sizeof p->gt_scan, &cnt);
    if (st != HRN_OK) return st;
    if (cnt > 1) hrn_log(HRN_LOG_WARN, "%s: %d *.obj files, using %s", dir, cnt, p->gt_scan);
    snprintf(dir, sizeof dir, "%s/%s", L->lmks_dir, it->subject);
    st = first_with_ext(dir, ".pp", p->gt_lmk, sizeof p->gt_lmk, &cnt);
    if (st != HRN_OK) return st;
    if (cnt > 1) hrn_log(HRN_LOG_WARN, "%s: %d *.pp files, using %s", dir, cnt, p->gt_lmk);
    /* prediction: <pred>/<subject>/<challenge>/<stem>.obj, else .ply; landmarks .npy, else .txt */
    char base[4000];
    if (snprintf(base, sizeof base, "%s/%s/%s/%s", L->pred_dir, it->subject, it->challenge,
                 it->stem) >= (int)sizeof base)
        return hrn_error_set(HRN_ERR_INVALID, "%s: prediction path too long", it->line);
    snprintf(p->pred_mesh, sizeof p->pred_mesh, "%s.obj", base);
    if (!is_file(p->pred_mesh)) {
        snprintf(p->pred_mesh, sizeof p->pred_mesh, "%s.ply", base);
        if (!is_file(p->pred_mesh))
            return hrn_error_set(HRN_ERR_IO, "predicted mesh not found: %s.obj or %s.ply", base,
                                 base);
    }
    snprintf(p->pred_lmk, sizeof p->pred_lmk, "%s.npy", base);
    if (!is_file(p->pred_lmk)) {
        snprintf(p->pred_lmk, sizeof p->pred_lmk, "%s.txt", base);
        if (!is_file(p->pred_lmk))
            return hrn_error_set(HRN_ERR_IO, "predicted landmarks not found: %s.npy or %s.txt",
                                 base, base);
    }
    return HRN_OK;
}
