/* fit_impl.h: what the train module's files share (not part of the public API). */
#ifndef HRN_FIT_IMPL_H
#define HRN_FIT_IMPL_H

#include "hrn_train.h"

/* The tensors of one view's forward pass (tape-owned; NULL where not computed). */
struct fit_fwd {
    struct hrn_tensor *c;    /* (n_coeffs) */
    struct hrn_tensor *S;    /* (N,3) canonical shape (S0, or S1 = S0 + D at level >= 1) */
    struct hrn_tensor *V;    /* (N,3) posed */
    struct hrn_tensor *uvz;  /* (N,3) projected */
    struct hrn_tensor *lm;   /* (1,n_lm,2) projected landmarks */
    struct hrn_tensor *nrm;  /* (N,3) posed normals */
    struct hrn_tensor *A;    /* (N,3) albedo (NULL when the UV albedo A' is used) */
    struct hrn_tensor *col;  /* lit colour: (N,3) per vertex, or (3,R,R) in UV (C1 with A', C2) */
    struct hrn_tensor *rast; /* (224,224,4) */
    struct hrn_tensor *img;  /* (3,224,224) */
};

/* Record view k's forward pass at a level (0 base, 1 mid, 2 high) on f->tape; render = 0 stops
 * after the landmarks; render < 0 computes only the landmarks (o->c and o->lm), from the shape at
 * the landmark vertices alone (level 0). Failures leave NULLs (the message is kept). */
void fit_forward(struct hrn_fit *f, int k, int level, int render, struct fit_fwd *o);
const char *fit_group_name(int g);
/* The expression weights are blendshape weights kept in [0,1] (the model says so and
 * cfg.bounded_exp lets it). */
static inline int fit_exp_bounded(const struct hrn_fit *f) {
    return f->fm->exp_bounded && f->cfg.bounded_exp;
}
/* The loss of one iteration of stage s over every view (the terms summed over views, weighted
 * by cfg.w); *albedo_tv gets the UV albedo map's TV (NaN when there is none). On f->tape. */
struct hrn_tensor *fit_stage_loss(struct hrn_fit *f, enum hrn_fit_stage s, struct hrn_loss_sum *ls,
                                  double *albedo_tv);
/* The deformation map of view k as used: D, times the view's valid mask when there is one
 * (3,Rd,Rd); the displacement map of view k likewise (1,R,R). On f->tape. */
struct hrn_tensor *fit_deform_map(struct hrn_fit *f, int k);
struct hrn_tensor *fit_disp_map(struct hrn_fit *f, int k);
/* The loss TSV (hrn_fit_run's file). */
void fit_tsv_header(FILE *fp);
void fit_tsv_row(FILE *fp, enum hrn_fit_stage s, int64_t iter, const struct hrn_fit_term_log *l,
                 double ms);
/* world2uv of a plain per-vertex array attr (N,3) -> out (3,R,R) (fit_maps.c). */
enum hrn_status fit_to_uv(struct hrn_fit *f, const struct hrn_uv_map *m, const float *attr,
                          float *out);
/* View k's valid mask from the current base mesh: out (R*R) smoothed, out_lo (Rd*Rd) resized;
 * all ones without a face mask (fit_maps.c). */
enum hrn_status fit_valid_mask_view(struct hrn_fit *f, int k, float *out, float *out_lo);
/* Allocate f->valid and f->valid_lo if they are not (contents undefined). */
enum hrn_status fit_valid_alloc(struct hrn_fit *f);
/* HRN's get_texture_map of view k's 512 crop (or its 224 one) through posed vertices V (N,3):
 * pos (3,R,R) receives the position map, tex (3,R,R) the texture in [0,1]. Resets f->tape. */
enum hrn_status fit_texture_of(struct hrn_fit *f, int k, const float *V, float *pos, float *tex);
/* The texture-refinement stage (fit_maps.c; hrn_fit_stage calls it). */
enum hrn_status fit_texture_stage(struct hrn_fit *f, FILE *tsv);

#endif /* HRN_FIT_IMPL_H */
