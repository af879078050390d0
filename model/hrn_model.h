/* hrn_model.h: the face model (a BFM-style 3D morphable model), its HDF5 file format, a seeded
 * synthetic face-model generator, and the plain (non-differentiable) forward pieces: shape from
 * coefficients, pose, camera, vertex normals, spherical-harmonics shading and a z-buffer
 * rasterizer with nvdiffrast's pixel conventions.
 *
 * Usage:
 *
 *     struct hrn_face_model fm = {0};
 *     enum hrn_status st = hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL,
 *                                                                     .seed = 1});
 *     hrn_face_model_save(&fm, "synth.h5");          // the documented HDF5 layout below
 *
 *     float *coeffs = calloc(hrn_face_model_n_coeffs(&fm), sizeof(float));  // all zero: mean face
 *     struct hrn_camera cam = hrn_camera_default();   // focal 1015, centre 112, 224x224, d = 10
 *     struct hrn_image img = {0};
 *     hrn_render_shaded(&fm, coeffs, &cam, NULL, &img); // lit albedo over black, CHW in [0,1]
 *     hrn_image_write_png("face.png", &img, 8);
 *     hrn_image_free(&img); free(coeffs); hrn_face_model_free(&fm);
 *
 * Conventions (../shared/spec/hrn_method.md sections 1.3-1.6):
 * - Shape S = mean + id_basis*alpha + exp_basis*beta, (N,3) with xyz interleaved per vertex.
 *   Bases are row-major (3N, K): row 3v+c, column k. Units: model units; mm_per_unit says how
 *   many millimetres one unit is (BFM as Deep3D processes it: 100, i.e. decimetres).
 * - Coefficient vector (Deep3D/HRN layout with this model's sizes):
 *   id[n_id] | exp[n_exp] | tex[n_tex] | angle[3] (x,y,z radians) | gamma[27] | trans[3].
 *   For BFM (80, 64, 80) that is the familiar 257.
 * - Rotation R = Rz*Ry*Rx applied to row vectors: S' = S*R^T + t.
 * - Camera at z = camera_d looking down -z: z_c = camera_d - z; u = f*x/z_c + cx,
 *   v = f*y/z_c + cy, v up. A pixel (row, col) of the H x W image has its centre at
 *   u = col + 0.5, v = H - row - 0.5 (nvdiffrast's convention: col = u - 0.5, row = H-0.5 - v).
 * - SH lighting: 9 bands per colour with HRN's constants; gamma gets +0.8 on band 0 of each colour.
 *   Colour = shading * albedo, per vertex.
 */
#ifndef HRN_MODEL_H
#define HRN_MODEL_H

#include "hrn_core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { HRN_N_LMK68 = 68, HRN_N_SH = 9, HRN_N_GAMMA = 27 };

/* --- the face model --------------------------------------------------------------------------- */

struct hrn_basis_cache; /* model/face_basis.c */

struct hrn_face_model {
    int64_t n_verts;      /* N */
    int64_t n_tris;       /* T */
    int32_t n_id, n_exp, n_tex;
    float *mean_shape;    /* (3N) */
    float *id_basis;      /* (3N, n_id) row-major; n_id may be 0 (NULL) */
    float *exp_basis;     /* (3N, n_exp); may be NULL */
    float *mean_albedo;   /* (3N) RGB in [0,1]; NULL when the model has no albedo */
    float *tex_basis;     /* (3N, n_tex); NULL when n_tex == 0 */
    int32_t *tris;        /* (T, 3) 0-based, counter-clockwise seen from the front (+z) */
    int64_t n_uvs;
    float *uvs;           /* (n_uvs, 2) u right, v up (OBJ convention), or NULL */
    int32_t *tri_uvs;     /* (T, 3) indices into uvs; NULL when uvs are per vertex (n_uvs == N) */
    int32_t lmk68[HRN_N_LMK68]; /* vertex of iBUG point i, or -1 where the model has none */
    float *skin_mask;     /* (N) 1 on skin used by the photometric loss, or NULL */
    float mm_per_unit;    /* millimetres per model unit */
    char name[64];        /* e.g. "hrn-synthetic-small" */
    char licence[128];
    /* 1 when the expression basis holds blendshape offsets whose weights live in [0,1] (ARKit-
     * style targets: ICT, SFM's six emotions), 0 for a Gaussian (PCA-like) basis with weights
     * ~N(0,1). Read from the root attribute expression_prior ("blendshapes" / "gaussian"); a file
     * without it is taken as blendshapes when it names its expressions (/expression/names, which
     * PCA bases do not have). Generators draw expressions from this prior. */
    int32_t exp_bounded;
    /* float16 copy of the bases read by hrn_face_shape_op / hrn_face_albedo_op, made on their
     * first use (or by hrn_face_model_compact) and freed with the model; NULL until then. A cache:
     * the float32 arrays above stay the model. */
    struct hrn_basis_cache *basis_cache;
};

/* Free all arrays and zero the struct; NULL-safe. */
void hrn_face_model_free(struct hrn_face_model *fm);
/* Length of the coefficient vector: n_id + n_exp + n_tex + 3 + 27 + 3. */
int64_t hrn_face_model_n_coeffs(const struct hrn_face_model *fm);

/* Offsets of each block in the coefficient vector. */
struct hrn_coeff_layout {
    int64_t id, exp, tex, angle, gamma, trans, total;
};
struct hrn_coeff_layout hrn_face_model_layout(const struct hrn_face_model *fm);

/* HDF5 layout (the same as ../shared/realdata's SFM/ICT files, plus albedo), all float32/int32:
 *   /shape/mean (3N)  /shape/basis (3N, n_id)  /expression/basis (3N, n_exp)
 *   /albedo/mean (3N) /albedo/basis (3N, n_tex)          (optional)
 *   /triangles (T,3)  /uv (n_uvs, 2) [+ /triangle_uv (T,3) when uvs are a table]   (uv optional)
 *   /landmarks/ibug68 (68)  /masks/skin (N)                (skin optional)
 *   root attributes: hrn_format = "hrn-face-model", hrn_format_version = 1, name, licence,
 *                    mm_per_unit, uv_v_up = 1.
 * Loading checks every shape against N and T and names the file and dataset of the first
 * mismatch; indices are checked to be in range.
 * hrn_face_model_load reads any model file the tools accept, by its first bytes: HDF5 in this
 * layout or BFM 2017/2019's, a MATLAB .mat (Deep3D), or (by the .bin name) an eos model with the
 * expression_blendshapes_<N>.bin and ibug_to_sfm.txt found beside it. */
enum hrn_status hrn_face_model_save(const struct hrn_face_model *fm, const char *path);
enum hrn_status hrn_face_model_load(const char *path, struct hrn_face_model *out);

/* Importers (the model is returned with bases rescaled so coefficients are ~N(0,1)):
 * - eos/Surrey .bin (cereal MorphableModel, versions 0 and 1) with optional expression
 *   blendshapes .bin and optional iBUG mapping (eos's ibug_to_sfm.txt); either may be NULL.
 *   Millimetres; eos's downward v is turned into v up.
 * - Deep3DFaceRecon's BFM_model_front.mat (meanshape, idBase, exBase, meantex, texBase, tri,
 *   keypoints, skinmask): decimetres, albedo scaled from 0..255 to [0,1], 1-based indices made
 *   0-based.
 * - Basel Face Model 2017/2019 .h5 (shape/color/expression model mean, pcaBasis, pcaVariance;
 *   shape/representer points and cells): millimetres, no iBUG landmarks (all -1).
 * hrn_face_model_import picks by extension (.bin, .mat; .h5 is BFM 2017 when it has
 * shape/representer, else this format). Errors name the file and the field. */
enum hrn_status hrn_face_model_import_eos(const char *bin, const char *blendshapes,
                                          const char *ibug_mapping, struct hrn_face_model *out);
enum hrn_status hrn_face_model_import_bfm_mat(const char *path, struct hrn_face_model *out);
enum hrn_status hrn_face_model_import_bfm2017(const char *path, struct hrn_face_model *out);
enum hrn_status hrn_face_model_import(const char *path, struct hrn_face_model *out);

/* Bring a loaded model into HRN's frame: recentre the mean shape on its centroid (Deep3D's
 * ParametricFaceModel recenter=True) and scale shape and bases to decimetres (mm_per_unit 100),
 * the units HRN's camera (focal 1015, camera_d 10) assumes. HRN_ERR_INVALID without a mean shape,
 * HRN_ERR_FORMAT for a bad mm_per_unit. */
enum hrn_status hrn_face_model_to_hrn_frame(struct hrn_face_model *fm);

/* --- synthetic model -------------------------------------------------------------------------- */

enum hrn_synth_preset {
    HRN_SYNTH_SMALL = 0, /* 1 000-odd vertices: for tests */
    HRN_SYNTH_BFM,       /* exactly BFM-front's 35709 vertices and 70789 triangles: benchmarks */
};

struct hrn_synth_params {
    enum hrn_synth_preset preset;
    uint64_t seed;       /* the random bases depend only on it */
    int32_t n_id;        /* 0 = default 80 */
    int32_t n_exp;       /* 0 = default 64 (the first 8 are named, localized expressions) */
    int32_t n_tex;       /* 0 = default 80 */
};

/* A synthetic, face-shaped morphable model: an oval grid surface with a nose, eye sockets, brow
 * ridges, lips, cheeks and chin; per-vertex UVs; smooth random identity and albedo bases scaled
 * so coefficients are ~N(0,1); localized expression bases (jaw open, smile, brow raise, blink,
 * pucker) plus smooth random ones; 68 iBUG landmark vertices; a skin mask. Units are BFM's
 * (decimetres, mm_per_unit = 100). It is synthetic data generated by hrn, not a scan-based model.
 * The same seed gives the same model on every machine. */
enum hrn_status hrn_synth_face(struct hrn_face_model *out, const struct hrn_synth_params *p);

/* --- forward geometry (plain float, no autodiff) ---------------------------------------------- */

/* S = mean + id_basis*id + exp_basis*exp. out: (3N). coeffs: the full vector (layout above). */
void hrn_face_shape(const struct hrn_face_model *fm, const float *coeffs, float *out);
/* Albedo = mean_albedo + tex_basis*tex, clamped to [0,1]. out: (3N). Needs mean_albedo. */
void hrn_face_albedo(const struct hrn_face_model *fm, const float *coeffs, float *out);
/* R = Rz(z)*Ry(y)*Rx(x), row-major 3x3. */
void hrn_euler_to_rot(const float angle[3], float R[9]);
/* out[v] = R*in[v] + t for each of n points (3n floats); out may equal in. */
void hrn_transform_points(const float R[9], const float t[3], const float *in, float *out,
                          int64_t n);
/* HRN's vertex normals (compute_norm): normalize(sum of the unit face normals of the incident
 * triangles), face normal normalize((v1-v2)x(v2-v3)). out: (3N); a vertex with no triangle gets 0. */
void hrn_vertex_normals(const float *verts, int64_t n_verts, const int32_t *tris, int64_t n_tris,
                        float *out);
/* Colour = SH(normal, gamma + 0.8 ambient) * albedo, per vertex. gamma: (27) = 3 colours x 9. */
void hrn_sh_shade(const float *normals, const float *albedo, const float *gamma, int64_t n,
                  float *out_rgb);
/* The 9 SH basis values of a unit normal with HRN's constants. */
void hrn_sh_basis(const float n[3], float Y[HRN_N_SH]);

/* --- camera and rasterizer -------------------------------------------------------------------- */

struct hrn_camera {
    float focal;    /* 1015 */
    float cx, cy;   /* 112, 112 */
    float camera_d; /* 10 */
    float z_near, z_far; /* 5, 15: depths outside are clipped */
    int32_t width, height; /* 224 x 224 */
};
struct hrn_camera hrn_camera_default(void);

/* Project world points (3n, already posed) to camera depth and image (u, v): out_uvz (3n) holds
 * u, v (v up) and z_c. */
void hrn_project(const struct hrn_camera *cam, const float *verts, int64_t n, float *out_uvz);

/* What the rasterizer leaves per pixel (row-major H x W), like nvdiffrast's rast output:
 * the nearest triangle (-1 = background), its perspective-correct barycentrics for vertices 1
 * and 2 (b0 = 1 - b1 - b2), and the camera depth z_c. */
struct hrn_raster {
    int32_t width, height;
    int32_t *tri;   /* (H*W) */
    float *b1, *b2; /* (H*W) */
    float *depth;   /* (H*W) z_c, +inf on background */
};
void hrn_raster_free(struct hrn_raster *r);
/* Rasterize triangles of posed world vertices (3N) with the camera. No back-face culling (as
 * HRN). A pixel is covered when its centre is inside the projected triangle (edges shared by two
 * triangles belong to exactly one: top-left rule). Allocates r's buffers on first use or when the
 * size changes. Threads over rows with OpenMP. */
enum hrn_status hrn_rasterize(const struct hrn_camera *cam, const float *verts, int64_t n_verts,
                              const int32_t *tris, int64_t n_tris, struct hrn_raster *r);
/* Interpolate a per-vertex attribute (n_verts, C) at every covered pixel into out (C, H, W);
 * background pixels get `background`. */
void hrn_raster_interpolate(const struct hrn_raster *r, const int32_t *tris, const float *attr,
                            int C, float background, float *out);

/* Render the model with coefficients: pose, project, SH-shade the albedo (0.8 grey if the model
 * has none) and rasterize into img (3 x H x W). If `under` is given (3 x H x W, the same size) the
 * face is drawn over it, else over black. img is allocated (hrn_image_free). */
enum hrn_status hrn_render_shaded(const struct hrn_face_model *fm, const float *coeffs,
                                  const struct hrn_camera *cam, const struct hrn_image *under,
                                  struct hrn_image *img);

/* Posed world vertices of the model with coefficients (3N): S*R^T + t. */
void hrn_face_posed(const struct hrn_face_model *fm, const float *coeffs, float *out);

#ifdef __cplusplus
}
#endif

/* The differentiable parts, each in its own part header (this header is the one to include). */
#include "hrn_render.h"
#include "hrn_nets.h"

#endif /* HRN_MODEL_H */
