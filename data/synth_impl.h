/* synth_impl.h: private declarations shared by the synthetic-sample files (synth_data.c renders
 * and assembles samples, synth_maps.c draws the ground-truth maps, synth_image.c the image-space
 * nuisances: background, occluders, noise, JPEG, and the contact sheet). */
#ifndef HRN_SYNTH_IMPL_H
#define HRN_SYNTH_IMPL_H

#include "hrn_data.h"

/* return the status of expr when it fails (for functions without cleanup) */
#define SYNTH_TRY(expr)                                                                            \
    do {                                                                                           \
        enum hrn_status st_ = (expr);                                                              \
        if (st_ != HRN_OK) return st_;                                                             \
    } while (0)

/* fmaxf and fminf without the libm call (they are not inlined without -ffast-math, and the
 * generator calls them millions of times a sample): the same values as glibc's x86-64 versions,
 * signed zeros included (x > y ? x : y, so fmaxf(+0, -0) is -0; a NaN argument gives the other). */
static inline float synth_fmaxf(float x, float y) {
    return x != x ? y : y != y ? x : x > y ? x : y;
}
static inline float synth_fminf(float x, float y) {
    return x != x ? y : y != y ? x : x < y ? x : y;
}
static inline float synth_clampf(float v, float lo, float hi) {
    return synth_fminf(hi, synth_fmaxf(lo, v));
}

enum {
    SYNTH_IMG = 224, /* the crop */
    SYNTH_UV = 256,  /* displacement, albedo and shading maps */
    SYNTH_DEF = 64,  /* deformation map */
};

/* Purposes of the keyed random streams: one per thing drawn, so adding a draw to one never shifts
 * another (hrn_rng_seed_keyed(seed, index, purpose, 0)). Never renumber. */
enum synth_purpose {
    SYNTH_RNG_ID = 1,
    SYNTH_RNG_EXP,
    SYNTH_RNG_TEX,
    SYNTH_RNG_POSE,
    SYNTH_RNG_LIGHT,
    SYNTH_RNG_DEFORM,
    SYNTH_RNG_DISP,
    SYNTH_RNG_ALBEDO,
    SYNTH_RNG_DETAIL,
    SYNTH_RNG_BACKGROUND,
    SYNTH_RNG_OCCLUDER,
    SYNTH_RNG_NOISE,
    SYNTH_RNG_JPEG,
    SYNTH_RNG_INTERIOR,
};

/* The face's own frame in UV space, from its landmark vertices: a texel's uv is
 * o + a*ex + b*ey with o the eye midpoint, ex the vector between the eye centres and ey the
 * vector from the mouth centre up to o. So (a, b) is about the same on every model whatever its
 * UV layout: eyes at (+-0.5, 0), mouth at (0, -1), brows near b = 0.35. */
struct synth_frame {
    float o[2], ex[2], ey[2];
    float inv[4];    /* (a, b) = inv * (uv - o), row-major 2x2 */
    float lm[68][2]; /* (a, b) of each landmark; a canonical stand-in where the model has none */
    uint8_t has[68]; /* the model has landmark i */
};

/* Per-model state every sample needs (hrn_synth_ctx_new; hrn_synth_sample makes one per call).
 * Read-only once made: threads share it. */
struct hrn_synth_ctx {
    const struct hrn_face_model *fm;
    struct hrn_camera cam;
    struct hrn_topo topo;   /* the mesh, for normals and antialiasing */
    struct hrn_uv_map uv;   /* world2uv at 256 */
    struct hrn_csr sampler; /* the deformation map's vertex sampler at 64 (half-texel quirk) */
    struct hrn_topo grid;   /* the 256 UV grid of the detail normals */
    float *st;              /* (n_uvs, 2) texture coordinates for render_uv_texture */
    float *chart64;         /* (64*64) 1 where a 64 texel touches the UV chart */
    float *skin;            /* (256*256) UV skin region, 0/1 */
    float *ab256;           /* (2, 256, 256) face-frame coordinates of each texel */
    float *ab64;            /* (2, 64, 64) */
    struct synth_frame frame;
};

/* Fill x in place (the model must be compact already) / free what it holds. */
enum hrn_status synth_ctx_init(struct hrn_synth_ctx *x, const struct hrn_face_model *fm);
void synth_ctx_free(struct hrn_synth_ctx *x);
/* hrn_synth_sample_ctx without the checks and the error prefix. s must be zeroed; on failure it
 * holds what was made so far (the caller frees it). */
enum hrn_status synth_make_sample(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  struct hrn_sample *s);

/* --- the maps and coefficients (synth_maps.c) ---------------------------------------------- */

/* The coefficient vector of sample `index`: identity, expression, albedo from the model's prior,
 * pose, SH light and translation (see hrn_synth_data_defaults). c: (n_coeffs). */
void synth_draw_coeffs(const struct hrn_synth_ctx *x, const struct hrn_synth_data_config *c,
                       int64_t index, float *coeffs);
/* Deformation map (3,64,64), model units, canonical frame, 0 off the chart. */
void synth_draw_deform(const struct hrn_synth_ctx *x, const struct hrn_synth_data_config *c,
                       int64_t index, float *d);
/* Displacement map (1,256,256), model units, on the skin only. */
enum hrn_status synth_draw_disp(const struct hrn_synth_ctx *x,
                                const struct hrn_synth_data_config *c, int64_t index, float *disp);
/* Clean UV albedo (3,256,256) for models without an albedo basis: a skin tone with smooth
 * variation, redder lips and cheeks, darker brows. */
enum hrn_status synth_draw_albedo(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  float *albedo);
/* albedo_detail = albedo * (freckles, blemishes, moles, uneven tone) on the skin. */
enum hrn_status synth_draw_detail(const struct hrn_synth_ctx *x,
                                  const struct hrn_synth_data_config *c, int64_t index,
                                  const float *albedo, float *detail);

/* --- image space (synth_image.c) ----------------------------------------------------------- */

/* A textured random background (3,224,224). */
void synth_draw_background(uint64_t seed, int64_t index, float *bg);
/* What shows through the mesh's holes (open eyes, open mouth; models such as ICT and SFM have
 * no eyeballs or mouth cavity): eyeballs inside the eye landmarks' polygons and a dark mouth with
 * teeth inside the lips', painted into the background bg (3,224,224) behind the face. lm: the 68
 * projected landmarks, y-up crop pixels (NaN where missing). */
void synth_draw_interior(uint64_t seed, int64_t index, const float *lm, float *bg);
/* Maybe draw an occluder (hair fringe, glasses, hand) over img (3,224,224) using the y-up crop
 * landmarks lm; zeroes mask under it. Returns the kind drawn (0 none). */
int synth_draw_occluder(const struct hrn_synth_data_config *c, int64_t index, const float *lm,
                        float *img, float *mask);
/* Sensor noise and JPEG, each at random strength; then 8-bit quantisation. */
enum hrn_status synth_degrade(const struct hrn_synth_data_config *c, int64_t index,
                              struct hrn_image *img);
/* JPEG round trip in memory at quality q (libjpeg-turbo, 4:2:0 as PIL). */
enum hrn_status synth_jpeg_roundtrip(struct hrn_image *img, int quality);

#endif /* HRN_SYNTH_IMPL_H */
