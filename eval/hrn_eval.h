/* hrn_eval.h: the evaluation module: exact geometry kernels (closest point on a triangle mesh,
 * nearest vertex, ray-mesh intersection with all hits, a depth z-buffer, REALY/MATLAB similarity
 * fits, a sparse SPD non-rigid ICP) and the FaceScape, REALY, multi-view and NoW protocols as
 * specified step by step in spec/eval_protocols.md (section letters A-D are cited below).
 *
 * Usage (closest points, then one REALY subject; see main_eval.c for the file layouts):
 *
 *     #include "hrn_eval.h"
 *
 *     struct hrn_emesh pred = {0};
 *     if (hrn_emesh_read("pred.obj", &pred) != HRN_OK) { fprintf(stderr, "%s\n", hrn_error_msg()); ... }
 *     struct hrn_bvh bvh = {0};
 *     if (hrn_bvh_build(&bvh, pred.v, pred.nv, pred.f, pred.nf) != HRN_OK) { ... }
 *     double p[3] = {0, 0, 50}, q[3];
 *     int64_t tri;
 *     double d2 = hrn_bvh_closest(&bvh, p, q, &tri);      // squared distance to the surface
 *     hrn_bvh_free(&bvh);
 *
 *     struct hrn_emesh tmpl = {0};                        // REALY data/Deep3D.obj
 *     hrn_emesh_read("Deep3D.obj", &tmpl);
 *     struct hrn_realy_kpdef kd = {.faces = tmpl.f, .nf = tmpl.nf};
 *     hrn_realy_kpdef_read("Deep3D.txt", &kd);             // 85 (tri, b1, b2)
 *     struct hrn_realy_gt gt = {.metrical_scale = 1.0};    // kp + 4 scan regions, filled by caller
 *     struct hrn_realy_result r;
 *     if (hrn_realy_eval(&pred, &gt, &kd, &r) == HRN_OK)
 *         printf("nose %.3f mm\n", r.err_mm[HRN_REALY_NOSE]);
 *     hrn_emesh_free(&tmpl);
 *     hrn_emesh_free(&pred);
 *
 * Conventions: meshes here are double precision (struct hrn_emesh), vertices (nv,3) row-major,
 * triangles (nf,3) 0-based int32. A similarity (s, R, t) maps a point as v' = s*R*v + t with R
 * acting on column vectors (R row-major). Every function that can fail on input returns an
 * enum hrn_status with a message (hrn_error_msg()); bugs are HRN_ASSERTs. Kernels that loop over
 * many queries use OpenMP.
 */
#ifndef HRN_EVAL_H
#define HRN_EVAL_H

#include "hrn_core.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- double-precision triangle meshes ------------------------------------------------------- */

struct hrn_emesh {
    int64_t nv, nf;
    double *v;  /* (nv,3) */
    int32_t *f; /* (nf,3) */
};

/* Allocate (v and f uninitialised); frees nothing on failure. */
enum hrn_status hrn_emesh_alloc(struct hrn_emesh *m, int64_t nv, int64_t nf);
void hrn_emesh_free(struct hrn_emesh *m); /* NULL-safe, zeroes the struct */
enum hrn_status hrn_emesh_copy(struct hrn_emesh *dst, const struct hrn_emesh *src);
/* From a core mesh (float vertices widened to double). */
enum hrn_status hrn_emesh_from_mesh(struct hrn_emesh *out, const struct hrn_mesh *m);
/* Read an OBJ as the official tools do: coordinates parsed as float64 (strtod), 'v' and 'f'
 * lines only (f: 'a', 'a/b', 'a//c', 'a/b/c', negative = relative), quads split as trimesh does,
 * (0,1,2) and (2,3,0). Errors name the file and line. Indices are not range-checked here
 * (hrn_emesh_validate does). */
enum hrn_status hrn_emesh_read_obj(const char *path, struct hrn_emesh *out);
/* Read an OBJ/PLY through core/hrn_mesh.h (float32 coordinates). */
enum hrn_status hrn_emesh_read(const char *path, struct hrn_emesh *out);
/* Validate: indices in range, finite vertices, and no degenerate triangle (zero area, repeated
 * index) when check_degenerate != 0. `what` names the mesh in the message. */
enum hrn_status hrn_emesh_validate(const struct hrn_emesh *m, const char *what,
                                   int check_degenerate);
/* Unit face normals (nf,3) of the triangle (b-a)x(c-a); zero for degenerate faces. */
void hrn_emesh_face_normals(const struct hrn_emesh *m, double *normals);
/* trimesh.Trimesh(process=True) as in trimesh 3.12.7 (B.4): merge vertices equal after rounding
 * to 8 decimals (first occurrence kept, order preserved), drop unreferenced vertices. */
enum hrn_status hrn_emesh_trimesh_process(const struct hrn_emesh *in, struct hrn_emesh *out);

/* Synthetic shapes for tests and benchmarks. A grid of nx*ny vertices over [x0,x1]x[y0,y1] at
 * z = 0 with triangles wound counter-clockwise seen from +z. */
enum hrn_status hrn_emesh_grid(struct hrn_emesh *m, int nx, int ny, double x0, double x1,
                               double y0, double y1);
/* A UV sphere of radius r about the origin: nlat >= 2 rings, nlon >= 3 segments, outward winding. */
enum hrn_status hrn_emesh_uv_sphere(struct hrn_emesh *m, double r, int nlat, int nlon);

/* --- bounding-volume hierarchy over triangles --------------------------------------------------- */

struct hrn_bvh_node {
    double lo[3], hi[3];
    int32_t left;  /* child index, or -1 for a leaf */
    int32_t right;
    int32_t first; /* leaf: first entry in tri[] */
    int32_t count; /* leaf: number of triangles */
};

/* The BVH keeps pointers to v and f: they must outlive it. After moving vertices (same topology)
 * call hrn_bvh_refit. */
struct hrn_bvh {
    const double *v;
    const int32_t *f;
    int64_t nf;
    int32_t n_nodes;
    struct hrn_bvh_node *nodes; /* nodes[0] is the root */
    int32_t *tri;               /* (nf) triangle order of the leaves */
};

enum hrn_status hrn_bvh_build(struct hrn_bvh *b, const double *v, int64_t nv, const int32_t *f,
                              int64_t nf);
void hrn_bvh_refit(struct hrn_bvh *b, const double *v);
void hrn_bvh_free(struct hrn_bvh *b);
/* Exact closest point on the triangle surface (Ericson's region test). Writes q (may be NULL) and
 * the triangle (may be NULL); returns the squared distance. */
double hrn_bvh_closest(const struct hrn_bvh *b, const double p[3], double q[3], int64_t *tri);
/* For n points p (n,3): q (n,3), dist (n) Euclidean (not squared), tri (n); any may be NULL. */
void hrn_bvh_closest_many(const struct hrn_bvh *b, const double *p, int64_t n, double *q,
                          double *dist, int64_t *tri);
/* The closest point as trimesh 3.12.7's nearest.on_surface returns it (REALY's official mode):
 * among the faces whose box meets the cube of half-size (nearest-vertex distance + 1e-8) about p,
 * the two nearest; when their squared distances differ by less than 1e-8 (both above 1e-8) the
 * one whose face normal points more towards p wins, though its point may be farther. */
double hrn_bvh_closest_trimesh(const struct hrn_bvh *b, const double p[3], double q[3],
                               int64_t *tri);
void hrn_bvh_closest_many_trimesh(const struct hrn_bvh *b, const double *p, int64_t n, double *q,
                                  double *dist, int64_t *tri);
/* Brute force over all triangles (for tests and benchmarks). */
double hrn_closest_brute(const double *v, const int32_t *f, int64_t nf, const double p[3],
                         double q[3], int64_t *tri);
/* Closest point on one triangle (a,b,c) to p; returns squared distance. */
double hrn_closest_on_triangle(const double p[3], const double a[3], const double b[3],
                               const double c[3], double q[3]);

struct hrn_ray_hit {
    double t;    /* origin + t*dir, t > 0 */
    int64_t tri;
};
/* All hits of the ray o + t*d (t > 0) with barycentrics >= -1e-12 (trimesh's tolerance, A.10),
 * sorted by increasing t. Writes up to cap hits; returns the total number of hits. */
int hrn_bvh_ray_hits(const struct hrn_bvh *b, const double o[3], const double d[3],
                     struct hrn_ray_hit *hits, int cap);

/* --- k-d tree over points (exact 1-NN) ------------------------------------------------------- */

struct hrn_kdtree {
    const double *p; /* (n,3), kept by pointer */
    int64_t n;
    int32_t *idx;  /* (n) permutation; the tree is implicit (median splits over idx ranges) */
    uint8_t *axis; /* (n) split axis of the node whose median is idx[k] */
};

enum hrn_status hrn_kdtree_build(struct hrn_kdtree *t, const double *p, int64_t n);
void hrn_kdtree_free(struct hrn_kdtree *t);
/* Index of the nearest point (smallest index among exact ties); *d2 = squared distance. */
int64_t hrn_kdtree_nearest(const struct hrn_kdtree *t, const double q[3], double *d2);

/* --- alignment ----------------------------------------------------------------------------- */

/* REALY fit_icp_RT (B.2): maps P (n,3) onto Q (n,3). R = U*Vh of svd(Qc^T Pc) without the
 * det(R) = -1 correction; scale = sum|Qc| / sum|R Pc| (element-wise L1) when with_scale, else 1. */
enum hrn_status hrn_fit_realy(const double *P, const double *Q, int64_t n, int with_scale,
                              double *s, double R[9], double t[3]);
/* The MATLAB procrustes port used by FG 2018 and NoW (C.1, D.3): X = target (gt) (n,3),
 * Y = source (pred) (n,3). scaling and reflection='best' (a reflection is allowed). Returns the
 * similarity pred -> gt as (s, R, t) with R = T^T, s = b, t = c. *dissimilarity may be NULL. */
enum hrn_status hrn_procrustes_matlab(const double *X, const double *Y, int64_t n, int scaling,
                                      double *s, double R[9], double t[3], double *dissimilarity);
/* Least-squares similarity (Umeyama 1991) mapping P onto Q with a proper rotation (det +1);
 * scale 1 unless with_scale. Used by the scan-to-mesh refinement (not by any official fit). */
enum hrn_status hrn_eval_umeyama(const double *P, const double *Q, int64_t n, int with_scale,
                            double *s, double R[9], double t[3]);
/* v (n,3) <- s*R*v + t in place. */
void hrn_eval_transform(double *v, int64_t n, double s, const double R[9], const double t[3]);
/* Rodrigues vector (3) -> rotation matrix. */
void hrn_eval_rodrigues(const double r[3], double R[9]);

/* --- statistics --------------------------------------------------------------------------------- */

/* np.median: the mean of the two middle values for even n; NaN for n = 0. Ignores nothing. */
double hrn_eval_median(const double *x, int64_t n);
double hrn_eval_mean(const double *x, int64_t n);
/* Standard deviation with ddof (0 = np.std, 1 = sample). NaN when n <= ddof. */
double hrn_eval_std(const double *x, int64_t n, int ddof);
/* Mean of the non-NaN values (np.nanmean); NaN when all are NaN. *n_valid may be NULL. */
double hrn_eval_nanmean(const double *x, int64_t n, int64_t *n_valid);

/* --- depth z-buffer (A.4) ----------------------------------------------------------------------- */

enum hrn_camera_kind {
    HRN_CAMERA_ORTHO,   /* pyrender OrthographicCamera at the origin looking down -z */
    HRN_CAMERA_PINHOLE, /* OpenCV pinhole (x right, y down, z forward) */
};

struct hrn_zbuf_camera {
    enum hrn_camera_kind kind;
    int width, height;
    double xmag, ymag;         /* ortho: half extents of the view in world units */
    double fx, fy, cx, cy;     /* pinhole intrinsics in pixels */
    double znear, zfar;
    int gl_depth;              /* emulate pyrender's OpenGL depth: float32 vertices, window depth
                                * rounded to the 24-bit buffer (GL_LESS on stored values), float32
                                * readback and linearisation (and, for ortho, FaceScape's float32
                                * undoing of it); 0 = exact double-precision depth */
    int cull_back;             /* drop back faces (pyrender's default single-sided material) */
};

/* Render depth (height,width) of the nearest surface at pixel centres; 0 = background.
 * ortho: pixel (r,c) samples X = ((c+0.5)/(W/2) - 1)*xmag, Y = (1 - (r+0.5)/(H/2))*ymag, depth -z.
 * pinhole: u = fx X/Z + cx = c + 0.5, v = fy Y/Z + cy = r + 0.5, depth = Z (perspective-correct).
 * Pixels whose depth falls outside [znear, zfar] are dropped; pinhole triangles with a vertex at
 * Z <= 0 are skipped (no clipping). gl_depth: see the field. */
enum hrn_status hrn_zbuffer_render(const struct hrn_zbuf_camera *cam, const double *v, int64_t nv,
                                   const int32_t *f, int64_t nf, double *depth);

/* --- non-rigid ICP (REALY NICP, B.4 step 3) through CHOLMOD ----------------------------------- */

struct hrn_nicp_opts {
    int n_kp;              /* 0 = the cheek schedule (no keypoints) */
    const int64_t *kp_idx; /* (n_kp) scan vertex index per keypoint (kidx) */
    const double *kp_pos;  /* (n_kp,3) target positions (predicted keypoints) */
    double gamma;          /* 1 */
};

/* Deform the scan (g, a processed mesh) towards the fixed cloud c0 (n_c0,3); writes the deformed
 * vertices (g->nv,3) to out. *n_solves (may be NULL) counts the sparse solves. */
enum hrn_status hrn_nicp(const struct hrn_emesh *g, const double *c0, int64_t n_c0,
                         const struct hrn_nicp_opts *o, double *out, int *n_solves);

/* --- FaceScape single-view benchmark (A) ------------------------------------------------------ */

enum { HRN_FS_REND = 256, HRN_FS_CYL = 256 };
#define HRN_FS_STD_PUPIL 62.85

/* A.2 align_deep3df: HRN/Deep3D camera-space mesh (z = 10 - z_cam) + trans_params
 * [w0, h0, s, t0, t1] -> normalised orthographic coordinates, then the wild branch
 * (focal <= 0: v.z -= mean(v.z) + 2) or the lab branch (focal = K[0,0] > 0). In place. */
void hrn_fs_align_deep3df(struct hrn_emesh *m, const double trans[5], double focal);
/* The same final branches for a mesh already in normalised orthographic coordinates. */
void hrn_fs_ortho_branch(struct hrn_emesh *m, double focal);

struct hrn_fs_item {
    int lab;               /* 0 = in-the-wild, 1 = in-the-lab */
    double ps;             /* wild: pupil scale (mm per normalised unit) */
    double head_center[3]; /* wild: wild_head_centers[idx]; lab: lab_head_centers[focal] */
    double R[9];           /* wild_rotations[idx] or lab_rotations[view] (row-major) */
    double K[9];           /* lab: intrinsics */
    double Rt[12];         /* lab: extrinsics (3x4 row-major) */
    int exact;             /* 0 (official, the default): the official code's arithmetic: pyrender's
                            * depth buffer (hrn_zbuf_camera.gl_depth), the float32 depth maps
                            * scaled and averaged in float32 as numpy does (wild: depth *=
                            * float32(128/ps); lab: mean_z = float32 pairwise mean). 1: exact
                            * geometry: double-precision depth, double mean. Both take delta_z
                            * as the median (the L1 minimiser; SLSQP lands within ~1e-6 of it) */
    int cull_back;         /* 1 = drop back faces, as the official renderer does; set it: a
                            * zero-initialised item does not cull. Why 1: FaceScape's renderer.py
                            * builds pyrender.Mesh.from_trimesh(mesh) with no material, i.e.
                            * pyrender's default single-sided material (doubleSided = False), and
                            * renders without RenderFlags.SKIP_CULL_FACES; pyrender then enables
                            * GL_CULL_FACE with glCullFace(GL_BACK) (also in its depth-only pass).
                            * The A.4 statement that our pixel-centre rasteriser reproduces
                            * pyrender's masks exactly was verified with this setting. hrn-eval
                            * facescape --no-cull turns it off. */
};

struct hrn_fs_result {
    double cd, mne, cr;    /* chamfer (mm), mean normal error (rad), completeness (fraction) */
    double delta_z;        /* optimize_Z result: px (wild) or mm (lab) */
    int64_t n_mask;        /* depth pixels in the common mask */
    int64_t n_gt_cyl, n_common_cyl;
};

/* Evaluate one item. gt and pred are modified (scale normalisation and depth alignment applied).
 * pred must already be through the loader (hrn_fs_align_deep3df or hrn_fs_ortho_branch). */
enum hrn_status hrn_fs_eval(struct hrn_emesh *gt, struct hrn_emesh *pred,
                            const struct hrn_fs_item *it, struct hrn_fs_result *r);

/* The separate pieces, exposed for tests. dpmap and nmap: (256,256) and (256,256,3). */
enum hrn_status hrn_fs_map_cyl(const struct hrn_emesh *m, const double R[9], const double hc[3],
                               double ps, double *dpmap, double *nmap);
/* cylinder2mesh (A.7) of c (256,256) into out (vertices in the canonical frame). */
enum hrn_status hrn_fs_cylinder2mesh(const double *c, struct hrn_emesh *out);
/* compute_chamfer: pooled mean of both directions' vertex-to-surface distances. */
enum hrn_status hrn_fs_chamfer(const struct hrn_emesh *a, const struct hrn_emesh *b, double *cd);
double hrn_fs_mne(const double *nmap_a, const double *nmap_b);

/* --- REALY (B) -------------------------------------------------------------------------------- */

enum hrn_realy_region { HRN_REALY_NOSE, HRN_REALY_MOUTH, HRN_REALY_FOREHEAD, HRN_REALY_CHEEK,
                        HRN_REALY_N_REGIONS };
enum { HRN_REALY_N_KP = 85 };

/* Barycentric keypoint definition data/<T>.txt: 85 (tri, b1, b2) over the template faces. */
struct hrn_realy_kpdef {
    int64_t tri[HRN_REALY_N_KP];
    double b1[HRN_REALY_N_KP], b2[HRN_REALY_N_KP];
    const int32_t *faces; /* template faces (nf,3), not owned */
    int64_t nf;
};

/* Parse the JSON keypoint file. faces/nf must be set by the caller (template triangles). */
enum hrn_status hrn_realy_kpdef_read(const char *path, struct hrn_realy_kpdef *kd);
/* Keypoints (85,3) from vertices v with the template faces. */
void hrn_realy_keypoints(const struct hrn_realy_kpdef *kd, const double *v, double *kp);

struct hrn_realy_gt {
    double kp[HRN_REALY_N_KP * 3];                 /* REALY_HIFI3D_keypoints/<id>.obj */
    struct hrn_emesh region[HRN_REALY_N_REGIONS];  /* REALY_scan_region/<id>/<region>.obj */
    double metrical_scale;                         /* metrical_scale.txt line id-1 */
    int exact; /* 0 (official, the default): gICP multiplies the vertices by its scale in float32
                * as numpy 1.x does (gICP.py), closest points on the prediction are trimesh
                * 3.12.7's (its near-tie rule by face normal, hrn_bvh_closest_trimesh); the caller
                * also rounds the OBJ vertices to float32 as io_obj.read does. 1: double precision
                * and exact closest points (rICP's float32 steps are kept: they are part of the
                * protocol's iteration, B.3) */
};

struct hrn_realy_result {
    double nmse[HRN_REALY_N_REGIONS];   /* REALY units */
    double err_mm[HRN_REALY_N_REGIONS]; /* nmse * metrical_scale */
    int ricp_fits[HRN_REALY_N_REGIONS]; /* fits done by rICP (<= 101) */
    int nicp_solves[HRN_REALY_N_REGIONS];
};

/* Whole per-subject pipeline B.2-B.4. pred: the prediction with the template's topology. */
enum hrn_status hrn_realy_eval(const struct hrn_emesh *pred, const struct hrn_realy_gt *gt,
                               const struct hrn_realy_kpdef *kd, struct hrn_realy_result *r);
/* What the official main.py writes per subject under <save>/region_align_save/<name>/ (B.5):
 * at_global.obj (gICP vertices), at_<region>.obj (rICP vertices; both with the masked prediction
 * faces), deform_<region>.obj (the NICP-deformed processed scan region) and error_<region>.obj (the
 * processed scan region coloured by its per-vertex error). */
struct hrn_realy_meshes {
    int64_t nv;                                /* prediction vertices */
    double *gicp_v;                            /* (nv,3) */
    double *ricp_v[HRN_REALY_N_REGIONS];       /* (nv,3) per region */
    int32_t *faces;                            /* (nf,3) prediction faces kept by the mask */
    int64_t nf;
    struct hrn_emesh scan[HRN_REALY_N_REGIONS]; /* G: the processed scan region (B.4) */
    double *deformed[HRN_REALY_N_REGIONS];     /* (scan[k].nv,3) NICP result */
    double *err[HRN_REALY_N_REGIONS];          /* (scan[k].nv) |C1_i - G_i|, REALY units */
};
void hrn_realy_meshes_free(struct hrn_realy_meshes *m); /* NULL-safe */
/* hrn_realy_eval with REALY's --template_mask: vertex_mask (pred->nv) 0/1 or NULL; a face is kept
 * when its three vertices are 1, and only B.4's mesh Pd uses the kept faces (rICP uses all, B.3).
 * out (may be NULL) receives the meshes above; free with hrn_realy_meshes_free. */
enum hrn_status hrn_realy_eval_ex(const struct hrn_emesh *pred, const struct hrn_realy_gt *gt,
                                  const struct hrn_realy_kpdef *kd, const uint8_t *vertex_mask,
                                  struct hrn_realy_result *r, struct hrn_realy_meshes *out);
/* Write the meshes as main.py names them into dir (created): at_global.obj, at_<region>.obj
 * (io_obj.write: "v %f %f %f", 1-based "f"), deform_<region>.obj and error_<region>.obj (trimesh
 * export: 8 decimals; error_ adds per-vertex colours r g b in [0,1]: e = min(err/0.5, 1) in REALY
 * units, colour = jet(int(255 e)/255), a piecewise-linear jet that approximates OpenCV's 8-bit
 * COLORMAP_JET table), and error_<region>.txt (ours: the per-vertex error in mm, err *
 * metrical_scale, "%.9g" per line). Each file is written atomically. */
enum hrn_status hrn_realy_write_meshes(const char *dir, const struct hrn_realy_meshes *m,
                                       double metrical_scale);
/* Pieces: gICP (B.2) in place; rICP of one region (B.3) in place; returns fits in *n_fits.
 * exact = 0 takes the closest points as trimesh does (hrn_bvh_closest_trimesh), 1 the exact ones. */
enum hrn_status hrn_realy_gicp(struct hrn_emesh *pred, const struct hrn_realy_kpdef *kd,
                               const double *gt_kp, int exact);
enum hrn_status hrn_realy_ricp(double *v, int64_t nv, const int32_t *f, int64_t nf,
                               const struct hrn_emesh *scan, const double *kp_p, const double *kp_g,
                               int n_kp, int cheek, int exact, int *n_fits);
/* Region keypoint index sets (B.1); returns the count. `which`: 0 seven, 1 forehead, 2 mouth,
 * 3 nose, 4 nose_part, 5 cheek. */
int hrn_realy_kpset(int which, const int **idx);
/* Python's str(float) truncated to 9 characters (B.5); buf >= 32 bytes. */
char *hrn_py_float_str9(double x, char *buf);
/* Python repr(float) (shortest round-trip). */
char *hrn_py_float_repr(double x, char *buf, size_t cap);

/* --- multi-view (C) and NoW (D) --------------------------------------------------------------- */

enum hrn_scan_refine {
    HRN_REFINE_NONE,
    HRN_REFINE_RIGID,      /* rotation + translation */
    HRN_REFINE_SIMILARITY, /* + isotropic scale (NoW) */
};

struct hrn_s2m_opts {
    double crop_factor;       /* 1.2 (FG 2018), 1.4 (NoW); <= 0: no landmark crop */
    double crop_radius_mm;    /* > 0: fixed radius around the nose tip (MICC-style), else unused */
    int nose_tip_index;       /* vertex index of the nose tip in the GT scan for the fixed radius */
    enum hrn_scan_refine refine;
    int max_iter;             /* refinement objective evaluations (<= 0: 100) */
    double tol;               /* refinement: stop when a step lowers F by < tol*F (<= 0: 1e-10) */
    double metrical_scale;    /* > 0: NoW's metrical variant: the Procrustes scale is replaced by
                               * this unit factor (mm 1, cm 10, m 1000; the translation stays the
                               * Procrustes one, as upstream) and the refinement optimises R and t
                               * only (even with HRN_REFINE_SIMILARITY) */
};

/* What the refinement did: objective F = sum of squared scan-to-surface distances before (f0)
 * and after (f), accepted steps (iters) and objective evaluations (evals, <= max_iter). */
struct hrn_s2m_refine_info {
    int iters, evals;
    double f0, f;
};

struct hrn_s2m_result {
    int64_t n;               /* kept scan vertices */
    double *dist;            /* (n) distances, malloc'd; free() */
    double s, R[9], t[3];    /* the final similarity applied to the prediction */
    double median, mean, std; /* of this item (std ddof = 0) */
    struct hrn_s2m_refine_info refine; /* zero without refinement */
};

/* Crop the GT scan around its 7 landmarks (C.1 / D.2: keeps vertices within the radius and the
 * faces whose vertices all survive), align pred by the 7-landmark Procrustes (pred -> gt), refine,
 * and measure the distance of every kept scan vertex to the aligned predicted surface.
 * gt_lmk7 and pred_lmk7: (7,3) in the FG 2018 order. pred is modified (aligned). */
enum hrn_status hrn_s2m_eval(const struct hrn_emesh *gt, const double *gt_lmk7,
                             struct hrn_emesh *pred, const double *pred_lmk7,
                             const struct hrn_s2m_opts *o, struct hrn_s2m_result *r);
void hrn_s2m_result_free(struct hrn_s2m_result *r);
/* The crop alone: keep[nv] = 1 for kept vertices; returns the radius and the centre. */
void hrn_s2m_crop(const struct hrn_emesh *gt, const double *lmk7, double factor, uint8_t *keep,
                  double *radius, double centre[3]);
/* NoW's rigid_scan_2_mesh_alignment (D.4): minimise F = sum_i dist(S_i, surface of pred)^2 over a
 * similarity (with_scale) or a rigid motion of pred, by Levenberg-Marquardt on the point-to-surface
 * residuals (closest points re-found at every evaluation; see proto_scan2mesh.c). pred's vertices
 * are moved in place; (s, R, t) is the motion applied (v' = s R v + t). Stops when F = 0, when an
 * accepted step lowers F by less than tol*F (tol <= 0: 1e-10), when the step moves the scan extent
 * by less than 1e-12 of it, when the damping exceeds 1e12 (no descent left), or after max_iter
 * (<= 0: 100) evaluations of F. info may be NULL. */
enum hrn_status hrn_s2m_refine(const double *S, int64_t n, struct hrn_emesh *pred, int with_scale,
                               int max_iter, double tol, double *s, double R[9], double t[3],
                               struct hrn_s2m_refine_info *info);
/* now_evaluation clean_degenerated_faces (D.1, --clean-mesh): drop the faces whose cross product
 * of the two unit edges (a zero-length edge is divided by 1) has norm exactly 0, in place (vertices
 * untouched). Returns the number of faces dropped. */
int64_t hrn_emesh_drop_zero_cross_faces(struct hrn_emesh *m);

/* NoW's own layout (D; now_evaluation compute_error.py). The image list (imagepathsvalidation.txt,
 * imagepathstest.txt) has lines <subject>/<challenge>/<image>, e.g.
 * FaMoS_180424_03335_TA/multiview_neutral/IMG_0101.jpg (leading folders are ignored: upstream takes
 * the last three '/' fields). The image stem is the file name without its last 4 characters. */
enum { HRN_NOW_N_CHALLENGES = 4 };
/* 0 multiview_neutral, 1 multiview_expressions, 2 multiview_occlusions, 3 selfie; else "unknown" */
const char *hrn_now_challenge_name(int k);
int hrn_now_challenge_index(const char *name); /* -1 when not one of the four */

struct hrn_now_item {
    char line[1024];      /* the list line, trimmed */
    char subject[256], challenge[128], image[256], stem[256];
    int challenge_idx;    /* hrn_now_challenge_index(challenge) */
    int64_t line_no;      /* 1-based */
};
/* Read the list (blank lines skipped); *items malloc'd. A line without two '/' is HRN_ERR_FORMAT
 * naming the file and line. */
enum hrn_status hrn_now_read_list(const char *path, struct hrn_now_item **items, int64_t *n);

/* Folders (upstream defaults: <dataset>/scans and <dataset>/scans_lmks_onlypp). */
struct hrn_now_layout {
    const char *pred_dir;  /* <pred>/<subject>/<challenge>/<stem>.{obj,ply} and .{npy,txt} */
    const char *scans_dir; /* <scans>/<subject>/<any>.obj: the GT scan in mm */
    const char *lmks_dir;  /* <lmks>/<subject>/<any>.pp: its 7 landmarks */
};
struct hrn_now_paths {
    char gt_scan[4096], gt_lmk[4096], pred_mesh[4096], pred_lmk[4096];
};
/* Resolve one item's files as upstream: the GT is the first *.obj / *.pp of the subject's folder
 * (upstream: glob()[0], in listing order; here the smallest name, with a warning when several);
 * the prediction .obj before .ply, the landmarks .npy before .txt. A missing file is HRN_ERR_IO
 * naming the paths tried (upstream counts these as missing and goes on). */
enum hrn_status hrn_now_resolve(const struct hrn_now_layout *L, const struct hrn_now_item *it,
                                struct hrn_now_paths *p);

/* --- small file readers -------------------------------------------------------------------- */

/* NumPy .npy (float32/float64, little-endian, C order): data malloc'd as double; shape up to 4. */
enum hrn_status hrn_eval_npy_read(const char *path, double **data, int *ndim, int64_t shape[4]);
/* Every number of a text file in order (JSON arrays, whitespace lists); a number glued to a word
 * ("v2", "x1") does not count. For numeric files; *vals is malloc'd. */
enum hrn_status hrn_eval_read_numbers(const char *path, double **vals, int64_t *n);
/* 7 landmarks (FG 2018 order) from .npy ((7,3) or (1,7,3)), .pp (the first 7 <point x y z>),
 * or text (.txt/.lnd: lines of 3 numbers, or 4 with a leading index). Non-finite values and a count
 * other than 7 are HRN_ERR_FORMAT naming the file. */
enum hrn_status hrn_eval_lmk7_read(const char *path, double lmk[21]);

/* --- reports ---------------------------------------------------------------------------------- */

/* Write text to path atomically (temporary file + rename). */
enum hrn_status hrn_eval_write_atomic(const char *path, const char *text, size_t len);

/* A growable string for reports. */
struct hrn_eval_sbuf {
    char *s;
    size_t len, cap;
    int oom;
};
void hrn_eval_sbuf_printf(struct hrn_eval_sbuf *b, const char *fmt, ...) HRN_PRINTF(2, 3);
void hrn_eval_sbuf_free(struct hrn_eval_sbuf *b);

#ifdef __cplusplus
}
#endif
#endif /* HRN_EVAL_H */
