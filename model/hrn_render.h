/* hrn_render.h: differentiable face rendering and the UV operators (world2uv, deformation-map
 * sampling, texture unwrapping, detail normals); part of the model module, include "hrn_model.h".
 *
 * Usage (the base level: coefficients -> lit, rasterized image -> photometric loss):
 *
 *     struct hrn_topo topo = {0};
 *     HRN_TRY(hrn_topo_init(&topo, fm.tris, fm.n_tris, fm.n_verts));     // once per model
 *     struct hrn_coeff_layout l = hrn_face_model_layout(&fm);
 *     struct hrn_tensor *c = ...;                                       // (n_coeffs) leaf
 *     struct hrn_tensor *S = hrn_face_shape_op(t, &fm, c);              // (N,3) unposed
 *     struct hrn_tensor *V = hrn_rigid_op(t, S, c, l.angle, l.trans);   // (N,3) S*R^T + t
 *     struct hrn_tensor *nrm = hrn_normals_op(t, &topo, V, HRN_NORMALS_HRN);
 *     struct hrn_tensor *A = hrn_face_albedo_op(t, &fm, c);             // (N,3)
 *     struct hrn_tensor *col = hrn_sh_op(t, nrm, A, c, l.gamma);        // (N,3) lit colour
 *     struct hrn_tensor *uvz = hrn_project_op(t, &cam, V);              // (N,3) u, v (up), z_c
 *     struct hrn_tensor *rast = hrn_rasterize_op(t, &cam, uvz, fm.tris, fm.n_tris); // (H,W,4)
 *     struct hrn_tensor *img = hrn_interpolate_op(t, col, rast, fm.tris);          // (3,H,W)
 *     ... loss = photometric(img, target) ... hrn_tape_backward(t, loss);
 *
 * Conventions (../shared/spec/hrn_method.md 1.3-2.5):
 * - Images and UV maps are channel-first (C,H,W), row 0 at the top. Per-vertex arrays are (N,C).
 * - The rasterizer output (H,W,4) holds per pixel b1, b2 (perspective-correct barycentrics of the
 *   triangle's vertices 1 and 2; b0 = 1-b1-b2), z_c and the triangle id + 1 (0 = background), as
 *   nvdiffrast's rast tensor. Background pixels are all 0. Its gradient (b1, b2 and z_c w.r.t. the
 *   projected vertices, pixel centres fixed) is what makes interpolate differentiable in the
 *   vertex positions: coverage itself has no gradient (nvdiffrast semantics) unless the optional
 *   hrn_antialias_op is used.
 * - Texture coordinates for hrn_texture_op are nvdiffrast's: (s, t) with s across the width and t
 *   DOWN the rows, texel centres at (i+0.5)/N, wrap boundary. HRN interpolates (u, 1-v) of the
 *   model's v-up uvs (hrn_uv_tex_coords).
 * - UV texel (row i, col j) of a world2uv map samples (u, v) = ((j+0.5)/R, 1-(i+0.5)/R) with
 *   affine barycentrics; texels outside the chart are 0.
 * Ops return NULL with a message on bad shapes (checked once at the end of a chain, as autodiff).
 */
#ifndef HRN_RENDER_H
#define HRN_RENDER_H

#include "hrn_autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hrn_face_model;
struct hrn_camera;

/* --- mesh topology (built once per model or UV grid) ----------------------------------------- */

/* Triangles plus the incidence vertex -> (triangle, corner), so per-vertex sums are gathers
 * (parallel, deterministic, no atomics). */
struct hrn_topo {
    int64_t n_verts, n_tris;
    int32_t *tris;     /* (T,3) own copy */
    int64_t *vf_ptr;   /* (N+1) */
    int32_t *vf_face;  /* (3T) incident triangles of vertex v: vf_face[vf_ptr[v]..vf_ptr[v+1]) */
    int8_t *vf_corner; /* (3T) which corner (0,1,2) of that triangle v is */
};
/* HRN_ERR_INVALID on an index out of range, HRN_ERR_NOMEM. */
enum hrn_status hrn_topo_init(struct hrn_topo *tp, const int32_t *tris, int64_t n_tris,
                              int64_t n_verts);
void hrn_topo_free(struct hrn_topo *tp); /* NULL-safe */

/* --- differentiable face ops (model/face_ops.c) ----------------------------------------------- */

/* S = mean + id_basis*id + exp_basis*exp from the coefficient vector c (n_coeffs) -> (N,3).
 * Gradients go to the id and exp blocks of c. fm must outlive the tape step.
 * Both basis ops read a float16 copy of the bases (model/face_basis.c; per-column power-of-two
 * scales, so each basis entry keeps 11 significant bits) when the CPU converts float16 in
 * hardware: half the memory traffic of these memory-bound products. The op is then exactly the
 * linear map of the rounded basis, forward and backward alike; on the BFM-size synthetic model
 * the shape differs from the float32 one by at most 0.016 mm and the albedo by 2.6e-4 at
 * coefficients ~N(0, 0.7^2) (bench_render prints both).
 * hrn_basis_store_set(HRN_BASIS_F32) selects the model's float32 arrays instead. */
struct hrn_tensor *hrn_face_shape_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                     struct hrn_tensor *c);
/* Albedo = mean_albedo + tex_basis*tex -> (N,3), NOT clamped (as HRN/Deep3D; the plain
 * hrn_face_albedo clamps for display). A model without albedo gives a constant 0.8 grey. */
struct hrn_tensor *hrn_face_albedo_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                      struct hrn_tensor *c);
/* The shape at n chosen vertices only: (n,3) rows verts[i] of hrn_face_shape_op's output (from
 * the same bases, float16 or float32), without the pass over all 3N basis rows; for steps that
 * need a few vertices, such as a landmark-only fit. verts must stay valid until the tape is
 * reset. HRN_ERR_INVALID (NULL) on a vertex out of range. */
struct hrn_tensor *hrn_face_shape_rows_op(struct hrn_tape *t, const struct hrn_face_model *fm,
                                          struct hrn_tensor *c, const int32_t *verts, int64_t n);
/* Which storage the basis ops read (process-wide; set it before ops run, not while other threads
 * run them). AUTO: float16 with AVX-512 kernels, else AVX2+F16C kernels, else float32; under AUTO
 * the environment variable HRN_BASIS=f32 (or f16, f16-avx2) chooses, for A/B runs of the tools. */
enum hrn_basis_store {
    HRN_BASIS_AUTO = 0,
    HRN_BASIS_F32,      /* the model's float32 arrays (OpenBLAS sgemv forward) */
    HRN_BASIS_F16,      /* the float16 copy with the best kernels the CPU has */
    HRN_BASIS_F16_AVX2, /* the float16 copy with the AVX2+F16C kernels (to test that path) */
};
/* HRN_ERR_UNSUPPORTED when float16 is asked for and the CPU lacks AVX2, FMA or F16C. */
enum hrn_status hrn_basis_store_set(enum hrn_basis_store s);
/* What the ops use now: HRN_BASIS_F32, HRN_BASIS_F16 (AVX-512) or HRN_BASIS_F16_AVX2. */
enum hrn_basis_store hrn_basis_store_active(void);
/* Make the float16 copy now instead of on the ops' first use (~40 ms at BFM size). The copy
 * is remade when the bases' pointers, sizes or 64 sampled entries change (an in-place rescale
 * such as hrn_fit_normalize_model's); after other in-place edits of the float32 bases call
 * hrn_face_model_drop_compact. A basis with a NaN or Inf keeps float32. HRN_ERR_NOMEM. */
enum hrn_status hrn_face_model_compact(const struct hrn_face_model *fm);
void hrn_face_model_drop_compact(struct hrn_face_model *fm); /* NULL-safe */
/* Bytes held by the float16 copy (0 when none). */
size_t hrn_face_model_compact_bytes(const struct hrn_face_model *fm);
/* Rigid transform out = v*R^T + tr of points v (N,3), with the Euler angles (x,y,z) at
 * p[angle_off..+3) and the translation at p[trans_off..+3) of a 1-d tensor p (usually the
 * coefficient vector). R = Rz*Ry*Rx (hrn_method.md 1.3). Gradients to v, angles and translation. */
struct hrn_tensor *hrn_rigid_op(struct hrn_tape *t, struct hrn_tensor *v, struct hrn_tensor *p,
                                int64_t angle_off, int64_t trans_off);
/* Perspective camera: posed world points (N,3) -> (N,3) = (u, v, z_c), z_c = camera_d - z,
 * u = f*x/z_c + cx, v = f*y/z_c + cy (v up). */
struct hrn_tensor *hrn_project_op(struct hrn_tape *t, const struct hrn_camera *cam,
                                  struct hrn_tensor *v);

enum hrn_normals_mode {
    /* HRN compute_norm: normalize(sum of UNIT face normals), face normal (v1-v0)x(v2-v0) */
    HRN_NORMALS_HRN = 0,
    /* DECA vertex_normals: normalize(sum of area-weighted face normals), eps 1e-6 */
    HRN_NORMALS_AREA = 1,
    /* flag: negate x and y of the result (HRN's grid normals in displacement2normal) */
    HRN_NORMALS_FLIP_XY = 2,
};
/* Vertex normals of points over a fixed topology. v is (N,3) (interleaved) or (3,H,W) planar
 * with H*W = N (UV position maps); the output has v's layout. A vertex in no triangle gets 0. */
struct hrn_tensor *hrn_normals_op(struct hrn_tape *t, const struct hrn_topo *tp,
                                  struct hrn_tensor *v, int mode);
/* Spherical-harmonics lighting (hrn_method.md 1.6): colour_c = albedo_c * sum_k Y_k(n) *
 * (gamma[c*9+k] + 0.8*[k==0]), with gamma = p[gamma_off..+27) of a 1-d tensor p. normals and
 * albedo are both (N,3) or both (3,H,W); normals are used as given (not renormalised). */
struct hrn_tensor *hrn_sh_op(struct hrn_tape *t, struct hrn_tensor *normals,
                             struct hrn_tensor *albedo, struct hrn_tensor *p, int64_t gamma_off);

/* --- rasterizer ops (model/render_raster.c) -------------------------------------------------- */

/* Rasterize triangles of projected vertices uvz (N,3) (from hrn_project_op) into a
 * cam->height x cam->width image -> (H,W,4) (see the conventions above). No culling, z-buffer,
 * depth clip [z_near, z_far], nvdiffrast pixel centres. tris (T,3) must outlive the tape step. */
struct hrn_tensor *hrn_rasterize_op(struct hrn_tape *t, const struct hrn_camera *cam,
                                    struct hrn_tensor *uvz, const int32_t *tris, int64_t n_tris);
/* Interpolate attributes attr (M,C) at every covered pixel -> (C,H,W), 0 on background.
 * attr_tris (T,3) indexes attr per triangle corner: the geometry triangles for per-vertex
 * attributes, or a UV table's triangle_uv. Gradients to attr and, through rast, to the vertices. */
struct hrn_tensor *hrn_interpolate_op(struct hrn_tape *t, struct hrn_tensor *attr,
                                      struct hrn_tensor *rast, const int32_t *attr_tris);
/* Bilinear texture lookup: tex (C,Ht,Wt), st (2,H,W) in nvdiffrast coordinates (above) -> (C,H,W),
 * 0 where rast says background (HRN's multiplication by the coverage mask). Gradients to tex and
 * st; rast is not differentiated here. */
struct hrn_tensor *hrn_texture_op(struct hrn_tape *t, struct hrn_tensor *tex,
                                  struct hrn_tensor *st, struct hrn_tensor *rast);
/* Coverage mask (1,H,W): 1 on covered pixels (no gradient). */
struct hrn_tensor *hrn_coverage_mask(struct hrn_tape *t, struct hrn_tensor *rast);
/* Silhouette antialiasing (beyond HRN, after nvdiffrast's antialias): for every pair of
 * horizontally or vertically adjacent pixels covered by different triangles (or one by none),
 * the front triangle's edge that the segment between the two centres crosses is found; when it is
 * a silhouette edge (no neighbour across it, or a neighbour facing the other way on screen), and
 * it runs more across the pair than along it (steeper than 45 degrees for a horizontal pair), the
 * pixel on the far side of the crossing point alpha in (0,1) from the front pixel's centre is
 * blended towards the other: the back pixel by alpha-0.5 when alpha > 0.5, else the front pixel
 * by 0.5-alpha (exact box-filter coverage for an axis-aligned edge). The blend is differentiable
 * in alpha, i.e. in the edge's projected vertices: the outline can pull the geometry.
 * img (C,H,W), rast (H,W,4), uvz (N,3) -> (C,H,W); tp: the topology rasterized (T, N as uvz). */
struct hrn_tensor *hrn_antialias_op(struct hrn_tape *t, struct hrn_tensor *img,
                                    struct hrn_tensor *rast, struct hrn_tensor *uvz,
                                    const struct hrn_topo *tp);

/* Per-uv (s,t) = (u, 1-v) of the model's uvs for hrn_texture_op: (n_uvs, 2) malloc()ed, or NULL
 * (HRN_ERR_NOMEM / HRN_ERR_INVALID when the model has no uvs). */
float *hrn_uv_tex_coords(const struct hrn_face_model *fm);
/* HRN's render_uv_texture: rasterize, interpolate (u, 1-v) (st: (n_uvs,2) from
 * hrn_uv_tex_coords, using fm->tri_uvs when the model has a UV table), bilinear texture lookup,
 * background 0 -> (C,H,W). *rast_out (may be NULL) receives the rasterizer output. */
struct hrn_tensor *hrn_render_uv_texture(struct hrn_tape *t, const struct hrn_face_model *fm,
                                         const struct hrn_camera *cam, struct hrn_tensor *uvz,
                                         const float *st, struct hrn_tensor *tex,
                                         struct hrn_tensor **rast_out);

/* Plain rasterizer core on projected vertices (used by hrn_rasterize and the op): uvz (3N)
 * floats (u, v up, z_c). Writes tri (-1 background), b1, b2, depth (+inf background), H*W each.
 * Triangles are binned into row bands processed in parallel (OpenMP); deterministic. */
enum hrn_status hrn_rasterize_uvz(int width, int height, float z_near, float z_far,
                                  const float *uvz, int64_t n_verts, const int32_t *tris,
                                  int64_t n_tris, int32_t *tri, float *b1, float *b2,
                                  float *depth);

/* --- UV operators (model/uv_ops.c) ------------------------------------------------------------ */

/* world2uv at one resolution: texel -> (triangle, affine barycentrics) of the UV chart, as a
 * fixed sparse matrix texels x vertices. Built once per model and resolution. Models with a UV
 * table (tri_uvs) are rasterized in UV space through it, weights going to the geometry vertices. */
struct hrn_uv_map {
    int32_t res;
    int64_t n_verts;
    struct hrn_csr op;   /* (res*res, N) */
    int32_t *texel_tri;  /* (res*res) geometry triangle, or -1 outside the chart */
    float *texel_bary;   /* (res*res, 3) */
    float *mask;         /* (res*res) 1 inside the chart, 0 outside */
};
/* HRN_ERR_INVALID when the model has no uvs or res < 2. */
enum hrn_status hrn_uv_map_init(struct hrn_uv_map *m, const struct hrn_face_model *fm, int res);
void hrn_uv_map_free(struct hrn_uv_map *m); /* NULL-safe */
/* world2uv of a per-vertex attribute (N,C) -> (C,res,res). */
struct hrn_tensor *hrn_world2uv(struct hrn_tape *t, const struct hrn_uv_map *m,
                                struct hrn_tensor *attr);

/* HRN's add_nonlinear_offset sampling of a (C,res,res) map at each vertex's uv, half-texel quirk
 * included (hrn_method.md 2.2), as a fixed (N, res*res) matrix. Models with a UV table use, per
 * vertex, the uv of its first triangle corner. */
enum hrn_status hrn_uv_sampler_init(struct hrn_csr *a, const struct hrn_face_model *fm, int res);
/* map (C,res,res) -> (N,C). */
struct hrn_tensor *hrn_uv_to_vertex(struct hrn_tape *t, const struct hrn_csr *a,
                                    struct hrn_tensor *map);

/* HRN's get_texture_map (hrn_method.md 2.5): each texel's posed world position (posmap
 * (3,res,res), world2uv of posed vertices) is projected with cam (z_c = camera_d - z), scaled from
 * cam->width x cam->height to the image's size, flipped (y_img = H-1-y) and sampled with HRN's
 * swapped vertical weights. Texels outside m's chart get the bottom-left pixel (HRN's NaN -> 0).
 * img (C,H,W) -> (C,res,res). Gradients to img and posmap. */
struct hrn_tensor *hrn_uv_unwrap_op(struct hrn_tape *t, const struct hrn_uv_map *m,
                                    const struct hrn_camera *cam, struct hrn_tensor *posmap,
                                    struct hrn_tensor *img);

/* DECA's generate_triangles(res, res, margin_x=2, margin_y=5) with the [0,2,1] reorder: the grid
 * mesh over the texels (vertex y*res+x), outer loop over x. */
enum hrn_status hrn_uv_grid_init(struct hrn_topo *g, int res);
/* HRN's displacement2normal: Pv, Nc (3,R,R), disp (1,R,R) ->
 * Nd = Ng(Pv + disp*Nc) + Nc - Ng(Pv), Ng = area-weighted grid normals with x,y negated. */
struct hrn_tensor *hrn_detail_normals(struct hrn_tape *t, const struct hrn_topo *grid,
                                      struct hrn_tensor *pv, struct hrn_tensor *nc,
                                      struct hrn_tensor *disp);

/* --- outputs (model/export.c) ----------------------------------------------------------------- */

/* The dense detail mesh (get_dense_mesh + crop_mesh): vertices = the texels of pd (3,R,R), faces =
 * the grid faces shifted by -1 (crop_mesh's quirk), vertices exactly 0 and their faces removed. */
enum hrn_status hrn_dense_mesh(const float *pd, int res, const struct hrn_topo *grid,
                               struct hrn_mesh *out);
/* OBJ with per-vertex uvs and normals (area-weighted), .mtl and texture PNG (tex (3,R,R) in
 * [0,1], clamped) beside it: <path> = x.obj writes x.obj, x.mtl, x_tex.png. verts (N,3). */
enum hrn_status hrn_export_textured_obj(const char *path, const struct hrn_face_model *fm,
                                        const float *verts, const float *tex, int tex_res);
/* The same shaded geometry into img (3,H,W) (allocated; free with hrn_image_free). */
enum hrn_status hrn_render_geometry(const struct hrn_face_model *fm, const struct hrn_camera *cam,
                                    const float *verts, const float *gamma,
                                    const struct hrn_image *under, struct hrn_image *img);
/* Shaded geometry over the input image: grey (albedo 0.8) SH-lit render of verts (posed world,
 * (N,3)) with gamma (27, may be NULL = ambient only) drawn over `under` (3,H,W) -> PNG. */
enum hrn_status hrn_export_overlay_png(const char *path, const struct hrn_face_model *fm,
                                       const struct hrn_camera *cam, const float *verts,
                                       const float *gamma, const struct hrn_image *under);

#ifdef __cplusplus
}
#endif
#endif /* HRN_RENDER_H */
