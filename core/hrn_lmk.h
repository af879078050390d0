/* hrn_lmk.h: 2D landmark files: the plain text format (one `x y` per line) and 300-W/iBUG `.pts`,
 * and the 5 Deep3DFaceRecon points derived from the 68 iBUG points.
 * Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     float lm68[68 * 2], lm5[5 * 2];
 *     if (hrn_lmk_read("img.lm68.txt", 68, lm68, 68, NULL) != HRN_OK)   // or "img.pts"
 *         fprintf(stderr, "%s\n", hrn_error_msg());   // "img.lm68.txt: 67 landmarks, expected 68"
 *     hrn_lmk_extract_5p(lm68, lm5);
 *     hrn_lmk_write_txt("img.lm5.txt", lm5, 5);
 *
 *     float any[512 * 2]; int n;
 *     hrn_lmk_read("points.txt", 0, any, 512, &n);      // any count up to 512
 *
 * Coordinates (shared/realdata/README.md): 0-based pixels, x right, y down, (0,0) is the centre of
 * the top-left pixel; points are stored as xy[2*i], xy[2*i+1]. Text files have no header; blank
 * lines and `#` comments (whole-line or after the numbers) are ignored. `.pts` files use Matlab's
 * 1-based convention: the reader subtracts 1 from both coordinates, the writer adds it (as eos's
 * read_pts_landmarks does). 68 points follow the iBUG/300-W order (0-16 jaw, 17-26 brows, 27-35
 * nose, 36-47 eyes, 48-67 mouth); 5 points are left eye, right eye, nose tip, left and right mouth
 * corner ("left" = smaller x). Values that are not finite are rejected. Writes go to a temporary
 * file that is renamed.
 */
#ifndef HRN_LMK_H
#define HRN_LMK_H

#include "hrn_base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { HRN_LMK_68 = 68, HRN_LMK_5 = 5 };

/* Read a text landmark file into xy[2 * cap]. expected > 0 requires exactly that many points
 * ("x.txt: 67 landmarks, expected 68"); expected == 0 accepts 1..cap. *n (may be NULL) gets the
 * count. HRN_ERR_IO (missing file), HRN_ERR_FORMAT (bad line, naming file:line; wrong count;
 * NaN/Inf), HRN_ERR_INVALID (expected > cap or cap < 1). */
enum hrn_status hrn_lmk_read_txt(const char *path, int expected, float *xy, int cap, int *n);
/* Read a 300-W/iBUG .pts file (version: 1, n_points: N, { x y ... }) and subtract 1. */
enum hrn_status hrn_lmk_read_pts(const char *path, int expected, float *xy, int cap, int *n);
/* By extension: .pts -> hrn_lmk_read_pts, .txt -> hrn_lmk_read_txt (case-insensitive);
 * HRN_ERR_UNSUPPORTED otherwise. */
enum hrn_status hrn_lmk_read(const char *path, int expected, float *xy, int cap, int *n);

/* Write n points as `x y` lines (%.9g, exact for float) / as a .pts file (adding 1). */
enum hrn_status hrn_lmk_write_txt(const char *path, const float *xy, int n);
enum hrn_status hrn_lmk_write_pts(const char *path, const float *xy, int n);

/* Deep3DFaceRecon's extract_5p on 0-based iBUG indices: lm5 = [mean(36,39), mean(42,45), 30, 48,
 * 54]. lm68 is (68, 2), lm5 is (5, 2). */
void hrn_lmk_extract_5p(const float *lm68, float *lm5);

#ifdef __cplusplus
}
#endif
#endif /* HRN_LMK_H */
