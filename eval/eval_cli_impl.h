/* eval_cli_impl.h: private declarations shared by the hrn-eval executable's files (main_eval.c,
 * cli_util.c, cli_realy.c, cli_s2m.c); not part of the hrn_eval library. */
#ifndef HRN_EVAL_CLI_IMPL_H
#define HRN_EVAL_CLI_IMPL_H

#include "hrn_eval.h"

#include <stdio.h>

enum { PATH_CAP = 4096 };

/* Options common to every protocol. */
struct hrn__cli {
    const char *out;
    const char *method;
    int stop_on_error;
    int limit;
};

/* Skipped samples, for the summary. */
struct hrn__skips {
    int n;
    struct hrn_eval_sbuf json; /* array body */
};

/* Strict option values: the whole string is the number, finite, within [lo, hi]; otherwise the
 * error (naming the option and the value) goes to stderr and 0 is returned (usage error). */
int hrn__parse_int(const char *opt, const char *s, long lo, long hi, int *out);
int hrn__parse_num(const char *opt, const char *s, double lo, double hi, double *out);
/* --method is part of output file names: letters, digits, '.', '_', '-', not starting with '.'
 * (so no '/' and no "..": nothing can be written outside --out). */
int hrn__method_ok(const char *m);
int hrn__file_exists(const char *p);
int hrn__dir_exists(const char *p);
enum hrn_status hrn__mkdir_p(const char *path);
enum hrn_status hrn__write_sbuf(const char *path, struct hrn_eval_sbuf *b);
void hrn__json_str(struct hrn_eval_sbuf *b, const char *s);  /* quoted, escaped */
void hrn__json_num(struct hrn_eval_sbuf *b, double x);       /* null when not finite */
void hrn__csv_str(struct hrn_eval_sbuf *b, const char *s);   /* quoted when needed */
void hrn__skip_add(struct hrn__skips *s, const char *name, const char *reason);
/* Sorted names of the regular files in dir ending in ext. */
enum hrn_status hrn__list_dir(const char *dir, const char *ext, char ***names, int *n);
void hrn__free_names(char **v, int n);
/* Read a mesh: OBJ with hrn_emesh_read_obj (float64), anything else with hrn_emesh_read. */
enum hrn_status hrn__read_mesh(const char *path, struct hrn_emesh *m);
/* Read a mesh and check it: finite, indices in range, no degenerate faces (if asked). */
enum hrn_status hrn__read_checked(const char *path, struct hrn_emesh *m, int check_degenerate);
enum hrn_status hrn__slurp_text(const char *path, char **text);
/* A 1-D float64 .npy file, written atomically. */
enum hrn_status hrn__write_npy_f64(const char *path, const double *x, int64_t n);

int hrn__run_facescape(int argc, char **argv, struct hrn__cli *c);
int hrn__run_realy(int argc, char **argv, struct hrn__cli *c);
int hrn__run_scan2mesh(int argc, char **argv, struct hrn__cli *c, int now);

#endif /* HRN_EVAL_CLI_IMPL_H */
