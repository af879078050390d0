/* fit_batch.c: one subject's fit from photos (what hrn-fit does for --image), and hrn-fit --list:
 * many subjects, each an independent fit, spread over worker processes (--jobs N) or the ranks of
 * mpirun, resumable, with a summary CSV.
 *
 * Subjects are independent, so parallelism goes across subjects, not inside a fit (a single-view
 * photometric iteration took 9.0 ms on 2 threads and 6.9 ms on 16: threads do not scale there).
 * Worker k of N fits the subjects i with i % N == k, each into <out>/<subject>/, and writes
 * <out>/<subject>/status.tsv last (temporary file and rename), so a subject with status "ok" is
 * done and is skipped by a rerun. Workers are this program started again (fork + exec of
 * /proc/self/exe with HRN_FIT_WORKER=k/N), not forks that keep running: the parent has started
 * OpenMP's thread pool, which a forked child cannot use. The coordinator (or rank 0) then reads
 * every status and writes <out>/summary.csv.
 * A photo without a landmark file gets its 68 points from face-api's detector (detect/). */
#include "hrn_train.h"
#include "hrn_detect.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { LINE_MAX_LEN = 8192, PATH_LEN = 1200 };

#define TRY_RET(expr)                                  \
    do {                                               \
        enum hrn_status s_ = (expr);                   \
        if (s_ != HRN_OK) return s_;                   \
    } while (0)

/* --- one subject ------------------------------------------------------------------------------ */

int hrn_fit_default_lmk(const char *image, char *out, size_t cap) {
    static const char *const ext[] = {".lm68.txt", ".pts", ".lm5.txt"};
    char base[1024];
    snprintf(base, sizeof base, "%s", image);
    char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash)) *dot = 0;
    for (int i = 0; i < 3; i++) {
        struct stat sb;
        snprintf(out, cap, "%s%s", base, ext[i]);
        if (stat(out, &sb) == 0) return 1;
    }
    return 0;
}

/* Landmarks in another frame than the photo (a crop's, 1-based, another photo's) give a fit of
 * nothing; the alignment does not notice. Warn when points lie outside the photo, refuse when
 * most do or one lies farther out than the photo is large. */
static enum hrn_status check_landmarks(const char *image, const char *lmk) {
    float xy[68 * 2];
    int n = 0, w, h;
    enum hrn_status st = hrn_image_size(image, &w, &h);
    if (st == HRN_OK) st = hrn_lmk_read(lmk, 0, xy, 68, &n);
    if (st != HRN_OK) return st;
    int out = 0;
    double far = 0;
    for (int i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        double d = fmax(fmax(-0.5 - x, x - (w - 0.5)), fmax(-0.5 - y, y - (h - 0.5)));
        if (d > 0) out++;
        far = fmax(far, d);
    }
    if (!out) return HRN_OK;
    if (2 * out > n || far > (double)(w > h ? w : h))
        return hrn_error_set(HRN_ERR_INVALID, "%s: %d of %d landmarks lie outside the %dx%d photo %s, "
                             "up to %.0f px away: they belong to another image or frame (a crop? "
                             "1-based?); refusing to fit", lmk, out, n, w, h, image, far);
    hrn_log(HRN_LOG_WARN, "%s: %d of %d landmarks lie outside the %dx%d photo %s (up to %.0f px): "
            "check they belong to it", lmk, out, n, w, h, image, far);
    return HRN_OK;
}

/* <out>/<image's stem>[_k].lm68.txt: where detected landmarks are written */
static void detected_path(const char *image, const char *out, int k, char *buf, size_t cap) {
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    int n = (int)strcspn(base, ".");
    if (k > 0) snprintf(buf, cap, "%s/%.*s_%d.lm68.txt", out, n, base, k);
    else snprintf(buf, cap, "%s/%.*s.lm68.txt", out, n, base);
}

/* No landmark file: face-api's detector and 68-point net find the face (the largest, or face
 * job->face, largest first as hrn-detect numbers them); the points used are written with the
 * outputs, so the fit can be checked and repeated. */
static enum hrn_status detect_landmarks(const struct hrn_fit_job *job, const char *image,
                                        const char *lmk_out) {
    enum hrn_status st = HRN_OK;
    char wbuf[1024];
    const char *w = job->detector ? job->detector
                                  : hrn_detect_default_weights(wbuf, sizeof wbuf, HRN_DEFAULT_WEIGHTS_DIR);
    struct stat sb;
    if (stat(w, &sb) != 0)
        return hrn_error_set(HRN_ERR_IO, "%s: no landmark file given or next to it (.lm68.txt, "
                             ".pts or .lm5.txt), and no face detector to find them: %s is missing "
                             "(scripts/install-deps.sh fetches face-api's weights; docs/DETECTION.md)",
                             image, w);
    struct hrn_detect det = {0};
    struct hrn_image img = {0};
    struct hrn_face faces[32];
    int n = 0;
    struct hrn_detect_options o = hrn_detect_defaults();
    HRN_TRY(hrn_detect_load(&det, w));
    HRN_TRY(hrn_image_read(image, HRN_IMAGE_RGB, &img));
    HRN_TRY(hrn_detect_faces(&det, &img, &o, faces, 32, &n));
    if (n == 0 || job->face >= n) {
        st = hrn_error_set(HRN_ERR_INVALID, "%s: %d face%s detected%s; give its landmarks (--lmk)",
                           image, n, n == 1 ? "" : "s",
                           n ? " (--face counts from 0, largest first)" : "");
        goto fail;
    }
    const struct hrn_face *f = &faces[job->face];
    HRN_TRY(hrn_lmk_write_txt(lmk_out, f->lm68, 68));
    hrn_log(HRN_LOG_INFO, "%s: no landmark file: %d face%s detected, fitting face %d (score %.2f, "
            "box %.0f,%.0f-%.0f,%.0f); its 68 landmarks are in %s", image, n, n == 1 ? "" : "s",
            job->face, (double)f->box.score, (double)f->box.x0, (double)f->box.y0,
            (double)f->box.x1, (double)f->box.y1, lmk_out);
fail:
    hrn_image_free(&img);
    hrn_detect_free(&det);
    return st;
}

/* The views of a subject, their landmark files found next to the images when not given (else
 * detected, into out); names made unique (two photos a.jpg in different folders). */
static enum hrn_status load_views(const struct hrn_fit_job *job, const struct hrn_fit_subject *s,
                                  const struct hrn_fit_config *cfg, const char *out,
                                  struct hrn_fit_view *views) {
    char lmk[1100];
    for (int k = 0; k < s->n_views; k++) {
        const char *l = s->lmk[k];
        if (!l) {
            if (!hrn_fit_default_lmk(s->image[k], lmk, sizeof lmk)) {
                detected_path(s->image[k], out, k, lmk, sizeof lmk);
                TRY_RET(detect_landmarks(job, s->image[k], lmk));
            }
            l = lmk;
        }
        TRY_RET(check_landmarks(s->image[k], l));
        TRY_RET(hrn_fit_view_from_photo(job->fm, cfg, s->image[k], l, s->mask[k], &views[k]));
        for (int j = 0; j < k; j++)
            if (!strcmp(views[j].name, views[k].name)) {
                size_t n = strlen(views[k].name);
                char suffix[16];
                snprintf(suffix, sizeof suffix, "_%d", k % 100);
                memcpy(views[k].name + (n > 56 ? 56 : n), suffix, strlen(suffix) + 1);
                break;
            }
    }
    return HRN_OK;
}

static void report_of(struct hrn_fit *fit, const struct hrn_fit_view *views, int n,
                      struct hrn_fit_report *r) {
    r->n_views = n;
    r->worst_rms_px = 0;
    for (int k = 0; k < n; k++) {
        int used = 0;
        double rms = hrn_fit_landmark_rms(fit, k, &used);
        double px = views[k].crop_scale > 0 ? rms / (double)views[k].crop_scale : rms;
        if (k < HRN_FIT_REPORT_VIEWS) {
            r->rms_crop[k] = rms;
            r->rms_px[k] = px;
            r->n_points[k] = used;
            snprintf(r->name[k], sizeof r->name[k], "%s", views[k].name);
        }
        if (px > r->worst_rms_px) r->worst_rms_px = px;
    }
    r->max_abs_coeff = hrn_fit_max_abs_coeff(fit);
}

enum hrn_status hrn_fit_subject_run(const struct hrn_fit_job *job, const struct hrn_fit_subject *s,
                                    const char *out, struct hrn_fit_report *r) {
    enum hrn_status st = HRN_OK;
    double t0 = hrn_time_now();
    memset(r, 0, sizeof *r);
    const struct hrn_fit_config *cfg = s->n_views > 1 ? job->cfg_multi : job->cfg;
    struct hrn_fit fit = {0};
    struct hrn_fit_view *views = calloc((size_t)s->n_views, sizeof *views);
    char path[1200];
    if (!views) return hrn_error_set(HRN_ERR_NOMEM, "no memory for %d views", s->n_views);
    HRN_TRY(hrn_fit_mkdirs(out));
    HRN_TRY(load_views(job, s, cfg, out, views));
    snprintf(path, sizeof path, "%s/config.ini", out);
    HRN_TRY(hrn_config_save(&hrn_fit_schema, cfg, path));
    HRN_TRY(hrn_fit_init(&fit, job->fm, cfg, views, s->n_views));
    if (job->nets) HRN_TRY(hrn_fit_start_from_nets(&fit, job->nets));
    snprintf(path, sizeof path, "%s/losses.tsv", out);
    st = hrn_fit_run(&fit, path);
    if (st == HRN_ERR_NUMERIC) {
        /* keep what the last finite state gives, then report the stop */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hrn_error_msg());
        if (hrn_fit_write_outputs(&fit, out) == HRN_OK)
            hrn_log(HRN_LOG_WARN, "%s: wrote the last finite state", out);
        st = hrn_error_set(HRN_ERR_NUMERIC, "%s", msg);
        goto fail;
    }
    HRN_TRY(st);
    HRN_TRY(hrn_fit_write_outputs(&fit, out));
    report_of(&fit, views, s->n_views, r);
fail:
    r->seconds = hrn_time_now() - t0;
    hrn_fit_free(&fit);
    for (int k = 0; k < s->n_views; k++) hrn_fit_view_free(&views[k]);
    free(views);
    return st;
}

/* --- the subject list ------------------------------------------------------------------------- */

void hrn_fit_list_free(struct hrn_fit_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++)
        for (int k = 0; k < l->s[i].n_views; k++) {
            free(l->s[i].image[k]);
            free(l->s[i].lmk[k]);
            free(l->s[i].mask[k]);
        }
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* a subject's name becomes a folder name: letters, digits, . _ - only, not starting with '.' */
static int name_ok(const char *n) {
    if (!*n || *n == '.' || strlen(n) >= HRN_FIT_NAME_MAX) return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') return 0;
    return 1;
}

/* dir/tok, or tok itself when absolute; malloc()ed */
static char *resolve(const char *dir, const char *tok) {
    size_t n = strlen(dir) + strlen(tok) + 2;
    char *p = malloc(n);
    if (!p) return NULL;
    if (tok[0] == '/' || !dir[0]) snprintf(p, n, "%s", tok);
    else snprintf(p, n, "%s/%s", dir, tok);
    return p;
}

/* One line's tokens after the name into s: images, each optionally followed by lmk=F and mask=F. */
static enum hrn_status parse_views(const char *list, int line, const char *dir, char *save,
                                   struct hrn_fit_subject *s) {
    char *tok;
    while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
        int is_lmk = !strncmp(tok, "lmk=", 4), is_mask = !strncmp(tok, "mask=", 5);
        if (is_lmk || is_mask) {
            char **slot = s->n_views ? (is_lmk ? &s->lmk[s->n_views - 1] : &s->mask[s->n_views - 1]) : NULL;
            if (!slot || *slot)
                return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: '%s' must follow the image it belongs "
                                     "to, once", list, line, tok);
            if (!(*slot = resolve(dir, tok + (is_lmk ? 4 : 5))))
                return hrn_error_set(HRN_ERR_NOMEM, "no memory");
            continue;
        }
        if (strchr(tok, '=') && !strchr(tok, '/'))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: unknown key '%s' (expected an image, "
                                 "lmk=FILE or mask=FILE)", list, line, tok);
        if (s->n_views == HRN_FIT_MAX_SUBJECT_VIEWS)
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: more than %d images", list, line,
                                 HRN_FIT_MAX_SUBJECT_VIEWS);
        if (!(s->image[s->n_views++] = resolve(dir, tok)))
            return hrn_error_set(HRN_ERR_NOMEM, "no memory");
    }
    if (s->n_views == 0)
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: subject '%s' has no image (expected: NAME "
                             "IMAGE [lmk=FILE] [mask=FILE] [IMAGE ...])", list, line, s->name);
    return HRN_OK;
}

static enum hrn_status add_subject(struct hrn_fit_list *l, const char *list, int line,
                                   const char *dir, char *text) {
    char *save = NULL, *name = strtok_r(text, " \t\r\n", &save);
    if (!name || name[0] == '#') return HRN_OK; /* blank or comment */
    if (!name_ok(name))
        return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: subject name '%s': expected letters, digits, "
                             "'.', '_' or '-' (it names the output folder), not starting with '.'",
                             list, line, name);
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->s[i].name, name))
            return hrn_error_set(HRN_ERR_FORMAT, "%s:%d: subject '%s' again (first on line %d)",
                                 list, line, name, l->s[i].line);
    struct hrn_fit_subject *grown = realloc(l->s, (size_t)(l->n + 1) * sizeof *grown);
    if (!grown) return hrn_error_set(HRN_ERR_NOMEM, "no memory");
    l->s = grown;
    struct hrn_fit_subject *s = &l->s[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->line = line;
    return parse_views(list, line, dir, save, s);
}

enum hrn_status hrn_fit_list_read(const char *path, struct hrn_fit_list *l) {
    enum hrn_status st = HRN_OK;
    memset(l, 0, sizeof *l);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return hrn_error_set(HRN_ERR_IO, "%s: not a file (expected a subject list)", path);
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char dir[1024], *line = malloc(LINE_MAX_LEN);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else dir[0] = 0;
    int no = 0;
    while (line && fgets(line, LINE_MAX_LEN, f)) {
        no++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s:%d: line longer than %d bytes", path, no,
                               LINE_MAX_LEN - 2);
            break;
        }
        if ((st = add_subject(l, path, no, dir, line)) != HRN_OK) break;
    }
    if (!line) st = hrn_error_set(HRN_ERR_NOMEM, "no memory");
    if (st == HRN_OK && ferror(f)) st = hrn_error_set(HRN_ERR_IO, "%s: read error", path);
    if (st == HRN_OK && l->n == 0)
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no subjects (expected lines NAME IMAGE [lmk=FILE] "
                           "[mask=FILE] [IMAGE ...])", path);
    free(line);
    fclose(f);
    if (st != HRN_OK) hrn_fit_list_free(l);
    return st;
}

/* --- status files and the summary ------------------------------------------------------------ */

/* status.tsv: "ok<TAB>views<TAB>worst landmark RMS (photo px)<TAB>max |coeff|<TAB>seconds" or
 * "failed<TAB>views<TAB>nan<TAB>nan<TAB>seconds<TAB>message" */
static enum hrn_status write_status(const char *dir, enum hrn_status fit_st,
                                    const struct hrn_fit_report *r, const char *msg) {
    char path[PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/status.tsv", dir);
    TRY_RET(hrn_fit_mkdirs(dir));
    struct hrn_tmpfile tf = {0};
    TRY_RET(hrn_tmpfile_open(&tf, path));
    if (fit_st == HRN_OK)
        fprintf(tf.fp, "ok\t%d\t%.4f\t%.4f\t%.2f\n", r->n_views, r->worst_rms_px,
                (double)r->max_abs_coeff, r->seconds);
    else
        fprintf(tf.fp, "failed\t%d\tnan\tnan\t%.2f\t%s\n", r->n_views, r->seconds, msg);
    return hrn_tmpfile_close(&tf, 1);
}

/* the first line of <dir>/status.tsv into buf ("" when absent) */
static void read_status(const char *dir, char *buf, size_t cap) {
    char path[PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/status.tsv", dir);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(buf, (int)cap, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

/* <out>/<name>; HRN_ERR_INVALID when that does not fit a path buffer */
static enum hrn_status subject_dir(const char *out, const struct hrn_fit_subject *s, char *buf,
                                   size_t cap) {
    if ((size_t)snprintf(buf, cap, "%s/%s", out, s->name) >= cap)
        return hrn_error_set(HRN_ERR_INVALID, "%s/%s: output path too long", out, s->name);
    return HRN_OK;
}

/* a CSV field: quoted, inner quotes doubled (messages hold commas) */
static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static enum hrn_status write_summary(const struct hrn_fit_list *l, const char *out, int *n_failed) {
    char path[PATH_LEN + 16], dir[PATH_LEN], st[1400];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    struct hrn_tmpfile tf = {0};
    TRY_RET(hrn_tmpfile_open(&tf, path));
    fprintf(tf.fp, "subject,status,views,landmark_rms_px,max_abs_coeff,seconds,error\n");
    *n_failed = 0;
    for (int i = 0; i < l->n; i++) {
        if (subject_dir(out, &l->s[i], dir, sizeof dir) != HRN_OK) {
            hrn_tmpfile_close(&tf, 0);
            return HRN_ERR_INVALID;
        }
        read_status(dir, st, sizeof st);
        char state[16] = "", rms[32] = "", mc[32] = "", sec[32] = "";
        int views = l->s[i].n_views, msg_at = 0;
        if (sscanf(st, "%15[a-z]\t%d\t%31[^\t]\t%31[^\t]\t%31[^\t]\t%n", state, &views, rms, mc, sec,
                   &msg_at) < 5)
            snprintf(state, sizeof state, "not run");
        int ok = !strcmp(state, "ok");
        *n_failed += !ok;
        fprintf(tf.fp, "%s,%s,%d,%s,%s,%s,", l->s[i].name, state, views, ok ? rms : "",
                ok ? mc : "", sec);
        csv_field(tf.fp, !strcmp(state, "failed") && msg_at ? st + msg_at
                         : ok ? "" : "no status: the worker stopped before this subject");
        fputc('\n', tf.fp);
    }
    return hrn_tmpfile_close(&tf, 1);
}

/* --- workers ------------------------------------------------------------------------------------ */

/* Fit subjects i % n == k that have no "ok" status; failures are recorded and do not stop it. */
static enum hrn_status run_share(const struct hrn_fit_job *job, const struct hrn_fit_list *l,
                                 const char *out, int k, int n) {
    char dir[PATH_LEN], st[1400];
    for (int i = k; i < l->n; i += n) {
        const struct hrn_fit_subject *s = &l->s[i];
        TRY_RET(subject_dir(out, s, dir, sizeof dir));
        read_status(dir, st, sizeof st);
        if (!strncmp(st, "ok\t", 3)) {
            hrn_log(HRN_LOG_INFO, "%s: done before, skipped", s->name);
            continue;
        }
        struct hrn_fit_report r;
        enum hrn_status fs = hrn_fit_subject_run(job, s, dir, &r);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", fs == HRN_OK ? "" : hrn_error_msg());
        for (char *p = msg; *p; p++)
            if (*p == '\t' || *p == '\n') *p = ' ';
        if (fs == HRN_OK)
            hrn_log(HRN_LOG_INFO, "%s: ok, %d views, landmark RMS %.2f px, %.1f s", s->name,
                    r.n_views, r.worst_rms_px, r.seconds);
        else
            hrn_log(HRN_LOG_ERROR, "%s: failed: %s", s->name, msg);
        r.n_views = s->n_views;
        /* an output error (disk full) is not the subject's fault: stop everything */
        TRY_RET(write_status(dir, fs, &r, msg));
        if (fs == HRN_ERR_IO && strstr(msg, "No space left"))
            return hrn_error_set(HRN_ERR_IO, "%s: %s", s->name, msg);
    }
    return HRN_OK;
}

/* Start jobs copies of this program as workers k/jobs and wait for them all. */
static enum hrn_status spawn_workers(char **argv, int jobs, int *crashed) {
    pid_t pid[HRN_FIT_MAX_JOBS];
    *crashed = 0;
    /* the threads this process would use, shared out: N workers of T threads each on T cores
     * would make OpenMP's spinning threads fight (one fit slowed 6x here) */
    const char *env = getenv("OMP_NUM_THREADS");
    long total = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    char threads[24];
    snprintf(threads, sizeof threads, "%ld", total / jobs > 1 ? total / jobs : 1L);
    fflush(NULL);
    for (int k = 0; k < jobs; k++) {
        pid[k] = fork();
        if (pid[k] < 0) return hrn_error_set(HRN_ERR_IO, "fork: %s", strerror(errno));
        if (pid[k] == 0) {
            char w[32];
            snprintf(w, sizeof w, "%d/%d", k, jobs);
            setenv("HRN_FIT_WORKER", w, 1);
            setenv("OMP_NUM_THREADS", threads, 1);
            execv("/proc/self/exe", argv);
            _exit(127); /* exec failed: the parent reports the missing statuses */
        }
    }
    for (int k = 0; k < jobs; k++) {
        int wst = 0;
        while (waitpid(pid[k], &wst, 0) < 0 && errno == EINTR) continue;
        if (!WIFEXITED(wst) || WEXITSTATUS(wst) > 1) {
            (*crashed)++;
            hrn_log(HRN_LOG_ERROR, "worker %d/%d %s %d", k, jobs,
                    WIFSIGNALED(wst) ? "died of signal" : "exited with",
                    WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
        }
    }
    return HRN_OK;
}

/* HRN_FIT_WORKER=k/n of a spawned worker: 1 and k, n when set and valid */
static int worker_share(int *k, int *n) {
    const char *w = getenv("HRN_FIT_WORKER");
    return w && sscanf(w, "%d/%d", k, n) == 2 && *n >= 1 && *k >= 0 && *k < *n;
}

enum hrn_status hrn_fit_batch_run(const struct hrn_fit_job *job, const struct hrn_fit_list *l,
                                  const struct hrn_fit_batch_opts *o, int *n_failed) {
    int k = 0, n = 1;
    *n_failed = 0;
    if (strlen(o->out) + HRN_FIT_NAME_MAX + 32 > PATH_LEN)
        return hrn_error_set(HRN_ERR_INVALID, "%s: output folder path too long", o->out);
    TRY_RET(hrn_fit_mkdirs(o->out));
    if (worker_share(&k, &n)) return run_share(job, l, o->out, k, n); /* a spawned worker */
    if (o->dist && o->dist->size > 1) {
        /* ranks share the subjects; rank 0 writes the summary once all are done */
        enum hrn_status st = run_share(job, l, o->out, o->dist->rank, o->dist->size);
        int all_ok = 0;
        TRY_RET(hrn_dist_all_ok(o->dist, st == HRN_OK, &all_ok));
        TRY_RET(st);
        if (!all_ok) return hrn_error_set(HRN_ERR_IO, "another rank stopped on an output error");
        return o->dist->rank == 0 ? write_summary(l, o->out, n_failed) : HRN_OK;
    }
    if (o->jobs > 1) {
        int crashed = 0;
        TRY_RET(spawn_workers(o->argv, o->jobs < l->n ? o->jobs : l->n, &crashed));
    } else {
        TRY_RET(run_share(job, l, o->out, 0, 1));
    }
    return write_summary(l, o->out, n_failed);
}
