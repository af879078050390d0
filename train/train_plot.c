/* train_plot.c: the pictures hrn-train refreshes while it trains: loss curves from a TSV (log
 * scale, decade grid lines, labelled with a built-in 3x5 pixel font so no font library is needed)
 * and grids of validation samples. */
#include "hrn_train.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- a 3x5 pixel font: rows top to bottom, '#' set ------------------------------------------- */

#define GLYPH_CHARS_STR "0123456789abcdefghijklmnopqrstuvwxyz.-_:/+()%|"
static const char *const GLYPH_CHARS = GLYPH_CHARS_STR;
static const char *const GLYPHS[] = {
    "####.##.##.####", ".#.##..#..#.###", "###..#####..###", "###..####..####", "#.##.####..#..#",
    "####..###..####", "####..####.####", "###..#..#..#..#", "####.#####.####", "####.####..####",
    ".#.#.#####.##.#", "##.#.###.#.###.", ".###..#..#...##", "##.#.##.##.###.", "####..##.#..###",
    "####..##.#..#..", ".###..#.##.#.##", "#.##.#####.##.#", "###.#..#..#.###", "..#..#..##.#.#.",
    "#.##.###.#.##.#", "#..#..#..#..###", "#.########.##.#", "##.#.##.##.##.#", ".#.#.##.##.#.#.",
    "##.#.###.#..#..", ".#.#.##.###..##", "##.#.###.#.##.#", ".###...#...###.", "###.#..#..#..#.",
    "#.##.##.##.####", "#.##.##.##.#.#.", "#.##.########.#", "#.##.#.#.#.##.#", "#.##.#.#..#..#.",
    "###..#.#.#..###", ".............#.", "......###......", "............###", "....#.....#....",
    "..#..#.#.#..#..", "....#.###.#....", ".#.#..#..#...#.", ".#...#..#..#.#.", "#.#..#.#.#..#.#",
    ".#..#..#..#..#.",
};
_Static_assert(sizeof GLYPHS / sizeof GLYPHS[0] == sizeof GLYPH_CHARS_STR - 1,
               "one glyph per character of GLYPH_CHARS");

/* Draw text at (x, y) (top-left) in colour rgb, `scale` pixels per font pixel. */
void hrn_draw_text(struct hrn_image *im, int x, int y, int scale, const char *text,
                   const float rgb[3]) {
    for (const char *p = text; *p; p++, x += 4 * scale) {
        const char *at = strchr(GLYPH_CHARS, tolower((unsigned char)*p));
        if (!at || !*p) continue;
        const char *g = GLYPHS[at - GLYPH_CHARS];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++) {
                if (g[r * 3 + c] != '#') continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int px = x + c * scale + dx, py = y + r * scale + dy;
                        if (px < 0 || py < 0 || px >= im->w || py >= im->h) continue;
                        for (int ch = 0; ch < 3; ch++)
                            im->data[((size_t)ch * im->h + py) * im->w + px] = rgb[ch];
                    }
            }
    }
}

static void put(struct hrn_image *im, int x, int y, const float rgb[3]) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    for (int c = 0; c < 3; c++) im->data[((size_t)c * im->h + y) * im->w + x] = rgb[c];
}

/* A line of width 2 (Bresenham, doubled vertically). */
static void draw_line(struct hrn_image *im, int x0, int y0, int x1, int y1, const float rgb[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        put(im, x0, y0, rgb);
        put(im, x0, y0 + 1, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

/* --- the TSV -------------------------------------------------------------------------------- */

struct tsv {
    int n_cols, n_rows;
    char names[48][32];
    double *v; /* (n_rows, n_cols) */
};

static enum hrn_status tsv_read(const char *path, struct tsv *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char line[8192];
    int cap = 0;
    enum hrn_status st = HRN_OK;
    if (!fgets(line, sizeof line, f)) goto done;
    for (char *tok = strtok(line, "\t\n"); tok && t->n_cols < 48; tok = strtok(NULL, "\t\n"))
        snprintf(t->names[t->n_cols++], sizeof t->names[0], "%s", tok);
    while (fgets(line, sizeof line, f)) {
        if (t->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            double *nv = realloc(t->v, (size_t)cap * (size_t)t->n_cols * sizeof(double));
            if (!nv) {
                st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
                goto done;
            }
            t->v = nv;
        }
        char *p = line;
        for (int c = 0; c < t->n_cols; c++) {
            char *end;
            double x = strtod(p, &end);
            t->v[(size_t)t->n_rows * (size_t)t->n_cols + (size_t)c] = end == p ? (double)NAN : x;
            p = strchr(end, '\t');
            if (!p) {
                for (int r = c + 1; r < t->n_cols; r++)
                    t->v[(size_t)t->n_rows * (size_t)t->n_cols + (size_t)r] = (double)NAN;
                break;
            }
            p++;
        }
        t->n_rows++;
    }
done:
    fclose(f);
    return st;
}

static int tsv_col(const struct tsv *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->names[c], name)) return c;
    return -1;
}

/* --- the plot ------------------------------------------------------------------------------- */

static const float COLOURS[6][3] = {{0.10f, 0.35f, 0.80f}, {0.85f, 0.30f, 0.10f},
                                    {0.15f, 0.60f, 0.20f}, {0.60f, 0.20f, 0.70f},
                                    {0.55f, 0.45f, 0.10f}, {0.10f, 0.60f, 0.65f}};

/* One panel: columns `cols` of t against its first column, log10 y. */
static void plot_panel(struct hrn_image *im, const struct tsv *t, const char *const *cols,
                       int n_cols, int x0, int y0, int w, int h, const char *title) {
    static const float BLACK[3] = {0, 0, 0}, GRID[3] = {0.85f, 0.85f, 0.85f};
    double lo = INFINITY, hi = -INFINITY, s_max = 1;
    for (int k = 0; k < n_cols; k++) {
        int c = tsv_col(t, cols[k]);
        for (int r = 0; c >= 0 && r < t->n_rows; r++) {
            double v = t->v[(size_t)r * (size_t)t->n_cols + (size_t)c];
            if (v > 0 && isfinite(v)) lo = fmin(lo, log10(v)), hi = fmax(hi, log10(v));
        }
    }
    if (t->n_rows > 0) s_max = fmax(1, t->v[(size_t)(t->n_rows - 1) * (size_t)t->n_cols]);
    hrn_draw_text(im, x0, y0 - 14, 2, title, BLACK);
    if (!(hi >= lo)) return;
    lo = floor(lo), hi = ceil(hi);
    if (hi == lo) hi = lo + 1;
    for (double d = lo; d <= hi; d++) { /* decade grid lines with labels */
        int y = y0 + h - (int)((d - lo) / (hi - lo) * h);
        for (int x = x0; x < x0 + w; x++) put(im, x, y, GRID);
        char lab[16];
        snprintf(lab, sizeof lab, "1e%d", (int)d);
        hrn_draw_text(im, x0 - 36, y - 5, 2, lab, BLACK);
    }
    for (int y = y0; y <= y0 + h; y++) put(im, x0, y, BLACK);
    for (int x = x0; x <= x0 + w; x++) put(im, x, y0 + h, BLACK);
    char lab[32];
    snprintf(lab, sizeof lab, "step %.0f", s_max);
    hrn_draw_text(im, x0 + w - 8 * (int)strlen(lab), y0 + h + 6, 2, lab, BLACK);
    for (int k = 0; k < n_cols; k++) {
        int c = tsv_col(t, cols[k]), px = -1, py = -1;
        const float *rgb = COLOURS[k % 6];
        if (c < 0) continue;
        hrn_draw_text(im, x0 + w + 10, y0 + 14 * k, 2, cols[k], rgb);
        for (int r = 0; r < t->n_rows; r++) {
            double s = t->v[(size_t)r * (size_t)t->n_cols], v = t->v[(size_t)r * (size_t)t->n_cols + (size_t)c];
            if (!(v > 0) || !isfinite(v)) continue;
            int x = x0 + (int)(s / s_max * w), y = y0 + h - (int)((log10(v) - lo) / (hi - lo) * h);
            if (px >= 0) draw_line(im, px, py, x, y, rgb);
            px = x, py = y;
        }
    }
}

enum hrn_status hrn_train_plot(const char *losses_tsv, const char *val_tsv, const char *png) {
    enum hrn_status st = HRN_OK;
    struct tsv a = {0}, b = {0};
    struct hrn_image im = {0};
    HRN_TRY(tsv_read(losses_tsv, &a));
    int have_val = val_tsv && tsv_read(val_tsv, &b) == HRN_OK && b.n_rows > 0;
    HRN_TRY(hrn_image_init(&im, 1000, have_val ? 640 : 340, 3));
    for (size_t i = 0; i < (size_t)im.w * (size_t)im.h * 3; i++) im.data[i] = 1.0f;
    /* training: the total and up to 5 terms (the columns between lr and grad_norm) */
    const char *cols[6] = {"total"};
    int n = 1;
    for (int c = 4; c < a.n_cols && n < 6; c++)
        if (strcmp(a.names[c], "grad_norm")) cols[n++] = a.names[c];
    plot_panel(&im, &a, cols, n, 60, 30, 720, 260, "training loss (unweighted terms)");
    if (have_val) {
        static const char *const vc[6] = {"loss", "lm_px", "vert_mm", "deform_mm", "disp_mm",
                                          "albedo_l1"};
        plot_panel(&im, &b, vc, 6, 60, 340, 720, 260, "validation (held out)");
    }
    st = hrn_image_write_png(png, &im, 8);
fail:
    free(a.v);
    free(b.v);
    hrn_image_free(&im);
    return st;
}
