/* fit_output.c: what hrn-fit writes per subject (hrn_method.md 8, plus what users of the official
 * code ask for): the posed mid mesh with UVs and texture, the dense detail mesh with UVs, an
 * overlay PNG per view, one HDF5 with every coefficient and map, and for several views the fused
 * mesh. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum hrn_status hrn_fit_mkdirs(const char *dir) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return hrn_error_set(HRN_ERR_INVALID, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return hrn_error_set(HRN_ERR_IO, "%s: cannot create directory: %s", buf,
                                     strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return HRN_OK;
}

/* The photo of view k unwrapped into UV through posed vertices V (hrn_uv_unwrap_op), and how
 * squarely the view sees each texel (the z of the posed normal, camera looking down -z). */
static enum hrn_status unwrap_view(struct hrn_fit *f, int k, const struct hrn_uv_map *m,
                                   const float *V, float *tex, float *weight) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts, R = m->res, nt = R * R;
    const struct hrn_image *src = f->views[k].img_hd.data ? &f->views[k].img_hd : &f->views[k].img;
    float *pos = malloc((size_t)(3 * nt) * sizeof(float)), *nrm = malloc((size_t)(3 * N) * sizeof(float));
    float *nuv = malloc((size_t)(3 * nt) * sizeof(float));
    if (!pos || !nrm || !nuv) {
        st = hrn_error_set(HRN_ERR_NOMEM, "texture: no memory");
        goto fail;
    }
    HRN_TRY(fit_to_uv(f, m, V, pos));
    hrn_vertex_normals(V, N, fm->tris, fm->n_tris, nrm);
    HRN_TRY(fit_to_uv(f, m, nrm, nuv));
    hrn_tape_reset(&f->tape);
    struct hrn_tensor *pm = hrn_tape_wrap(&f->tape, pos, 3, (int64_t[]){3, R, R}, "posmap");
    struct hrn_tensor *im =
        hrn_tape_wrap(&f->tape, src->data, 3, (int64_t[]){3, src->h, src->w}, "photo");
    struct hrn_tensor *u = hrn_uv_unwrap_op(&f->tape, m, &f->cam, pm, im);
    if (!u) {
        st = hrn_error_prefix(HRN_ERR_INVALID, "texture of view %d: ", k);
        goto fail;
    }
    memcpy(tex, u->data, (size_t)(3 * nt) * sizeof(float));
    for (int64_t i = 0; i < nt; i++) weight[i] = m->mask[i] > 0 ? fmaxf(0.0f, nuv[2 * nt + i]) : 0.0f;
fail:
    free(pos);
    free(nrm);
    free(nuv);
    return st;
}

/* Blend the views' textures by weight^2; texels no view sees get the mean colour of the seen
 * ones (so the PNG has no garbage outside the face). */
static void blend_textures(int n_views, int64_t nt, const float *tex, const float *w, float *out) {
    double mean[3] = {0, 0, 0}, wsum = 0;
    for (int64_t i = 0; i < nt; i++) {
        double s = 0, c[3] = {0, 0, 0};
        for (int k = 0; k < n_views; k++) {
            double wk = (double)w[k * nt + i] * (double)w[k * nt + i];
            s += wk;
            for (int j = 0; j < 3; j++) c[j] += wk * (double)tex[(k * 3 + j) * nt + i];
        }
        for (int j = 0; j < 3; j++) out[j * nt + i] = s > 1e-6 ? (float)(c[j] / s) : NAN;
        if (s > 1e-6) {
            for (int j = 0; j < 3; j++) mean[j] += c[j];
            wsum += s;
        }
    }
    for (int64_t i = 0; i < nt; i++)
        for (int j = 0; j < 3; j++)
            if (isnan(out[j * nt + i])) out[j * nt + i] = wsum > 0 ? (float)(mean[j] / wsum) : 0.5f;
}

/* The dense detail mesh Pd = Pv + disp * Nc (hrn_dense_mesh) with per-vertex UVs at the texel
 * centres and a material using the given texture. */
static enum hrn_status write_dense(struct hrn_fit *f, const char *path, const float *V,
                                   const float *disp, const char *texture) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    const struct hrn_uv_map *m = &f->uv_hi;
    int64_t N = fm->n_verts, R = m->res, nt = R * R;
    struct hrn_mesh d = {0}, out = {0};
    float *pv = malloc((size_t)(3 * nt) * sizeof(float)), *nc = malloc((size_t)(3 * nt) * sizeof(float));
    float *nrm = malloc((size_t)(3 * N) * sizeof(float));
    if (!pv || !nc || !nrm) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
        goto fail;
    }
    hrn_vertex_normals(V, N, fm->tris, fm->n_tris, nrm);
    HRN_TRY(fit_to_uv(f, m, V, pv));
    HRN_TRY(fit_to_uv(f, m, nrm, nc));
    for (int64_t i = 0; i < nt; i++)
        for (int c = 0; c < 3; c++) pv[c * nt + i] += disp[i] * nc[c * nt + i];
    HRN_TRY(hrn_dense_mesh(pv, (int)R, &f->grid, &d));
    HRN_TRY(hrn_mesh_alloc(&out, d.n_verts, d.n_faces, 0, d.n_verts, 0));
    /* an empty dense mesh (every texel zero) has NULL arrays: memcpy must not see them */
    if (d.n_verts) memcpy(out.verts, d.verts, (size_t)(3 * d.n_verts) * sizeof(float));
    if (d.n_faces) memcpy(out.faces, d.faces, (size_t)(3 * d.n_faces) * sizeof(int32_t));
    /* the same texel order and zero test as hrn_dense_mesh: texel (i,j) -> its UV centre */
    int64_t v = 0;
    for (int64_t i = 0; i < nt; i++) {
        if (pv[i] == 0 && pv[nt + i] == 0 && pv[2 * nt + i] == 0) continue;
        HRN_ASSERT(v < out.n_verts);
        out.uvs[2 * v] = ((float)(i % R) + 0.5f) / (float)R;
        out.uvs[2 * v + 1] = 1.0f - ((float)(i / R) + 0.5f) / (float)R;
        v++;
    }
    HRN_ASSERT(v == out.n_verts);
    struct hrn_obj_material mtl = {.name = "face", .texture = texture};
    HRN_TRY(hrn_mesh_write_obj(path, &out, texture ? &mtl : NULL));
fail:
    hrn_mesh_free(&d);
    hrn_mesh_free(&out);
    free(pv);
    free(nc);
    free(nrm);
    return st;
}

/* --- the overlay ------------------------------------------------------------------------------
 * Panel 2 shows the model's own colour (the albedo basis, or the fitted UV albedo map sampled at
 * the vertices; never the photo-refined texture or a de-retouched albedo, which copy the photo
 * and so hide a wrong shape) under the fitted light. Panel 3 shows the geometry alone: a fixed
 * grey under a fixed light. The fitted light cannot be used there: fitted against an unknown
 * albedo it is often twice too bright for a grey surface and whitened the whole face. */

enum { OV = 224 };
/* A key light from the viewer's upper left plus ambient, on a mid-grey: a frontal face comes out
 * at about 0.6, the brightest spot at 0.65, so creases and bumps stay visible. */
#define OV_GREY 0.65f
#define OV_AMBIENT 0.3f
#define OV_KEY 0.7f
static const float OV_LIGHT[3] = {-0.5f, 0.6f, 1.0f}; /* towards the light, camera frame */

/* Per-vertex albedo of view k as the model gives it, clamped to [0,1]; alb (N,3). */
static enum hrn_status model_albedo(struct hrn_fit *f, int k, float *alb) {
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts;
    if (fm->mean_albedo) {
        float *c = malloc((size_t)hrn_face_model_n_coeffs(fm) * sizeof(float));
        if (!c) return hrn_error_set(HRN_ERR_NOMEM, "overlay: no memory");
        hrn_fit_coeffs(f, k, c);
        hrn_face_albedo(fm, c, alb);
        free(c);
        return HRN_OK;
    }
    hrn_tape_reset(&f->tape);
    struct hrn_tensor *a = hrn_uv_to_vertex(&f->tape, &f->albedo_sampler,
                                            hrn_params_tensor(&f->ps, f->p_albedo));
    if (!a) return hrn_error_prefix(HRN_ERR_INVALID, "overlay albedo of view %d: ", k);
    for (int64_t i = 0; i < 3 * N; i++) alb[i] = fminf(1.0f, fmaxf(0.0f, a->data[i]));
    hrn_tape_reset(&f->tape);
    return HRN_OK;
}

/* Lambert shading of posed vertices V with normals nrm under the fixed overlay light. A normal
 * facing away from the camera is turned round: imported models differ in triangle winding, and
 * only surfaces facing the camera are seen. col (N,3). */
static void key_light_shade(const struct hrn_camera *cam, const float *V, const float *nrm,
                            int64_t N, float *col) {
    float l[3], ln = sqrtf(OV_LIGHT[0] * OV_LIGHT[0] + OV_LIGHT[1] * OV_LIGHT[1] +
                           OV_LIGHT[2] * OV_LIGHT[2]);
    for (int j = 0; j < 3; j++) l[j] = OV_LIGHT[j] / ln;
    for (int64_t i = 0; i < N; i++) {
        const float *n = nrm + 3 * i, *p = V + 3 * i;
        float view = -n[0] * p[0] - n[1] * p[1] + n[2] * (cam->camera_d - p[2]);
        float sgn = view < 0 ? -1.0f : 1.0f;
        float d = sgn * (n[0] * l[0] + n[1] * l[1] + n[2] * l[2]);
        float v = OV_GREY * (OV_AMBIENT + OV_KEY * fmaxf(0.0f, d));
        for (int j = 0; j < 3; j++) col[3 * i + j] = v;
    }
}

/* Per-vertex colours col (N,3) of the posed mesh V rasterized over `under`, into out (3,224,224)
 * clamped to [0,1]. */
static enum hrn_status paint_mesh(struct hrn_fit *f, const float *V, const float *col,
                                  const struct hrn_image *under, float *out) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t np = OV * OV;
    struct hrn_raster r = {0};
    HRN_TRY(hrn_rasterize(&f->cam, V, fm->n_verts, fm->tris, fm->n_tris, &r));
    hrn_raster_interpolate(&r, fm->tris, col, 3, 0.0f, out);
    for (int c = 0; c < 3; c++)
        for (int64_t p = 0; p < np; p++)
            out[c * np + p] = r.tri[p] < 0 ? under->data[c * np + p]
                                           : fminf(1.0f, fmaxf(0.0f, out[c * np + p]));
fail:
    hrn_raster_free(&r);
    return st;
}

/* input | the model's colour under the fitted light | the shaded geometry, 672 x 224, all on
 * the posed mid mesh V (N,3) as written */
static enum hrn_status write_overlay(struct hrn_fit *f, int k, const char *path, const float *V) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    const struct hrn_fit_view *v = &f->views[k];
    int64_t N = fm->n_verts, np = OV * OV;
    struct hrn_image strip = {0};
    float *nrm = malloc((size_t)(3 * N) * sizeof(float)), *alb = malloc((size_t)(3 * N) * sizeof(float));
    float *col = malloc((size_t)(3 * N) * sizeof(float)), *pan = malloc((size_t)(6 * np) * sizeof(float));
    if (!nrm || !alb || !col || !pan) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
        goto fail;
    }
    hrn_vertex_normals(V, N, fm->tris, fm->n_tris, nrm);
    HRN_TRY(model_albedo(f, k, alb));
    hrn_sh_shade(nrm, alb, hrn_params_tensor(&f->ps, f->p_light[k])->data, N, col);
    HRN_TRY(paint_mesh(f, V, col, &v->img, pan));
    key_light_shade(&f->cam, V, nrm, N, col);
    HRN_TRY(paint_mesh(f, V, col, &v->img, pan + 3 * np));
    HRN_TRY(hrn_image_init(&strip, 3 * OV, OV, 3));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < OV; y++)
            for (int x = 0; x < OV; x++) {
                int p = y * OV + x;
                *hrn_image_px(&strip, c, y, x) = *hrn_image_px(&v->img, c, y, x);
                *hrn_image_px(&strip, c, y, OV + x) = pan[c * np + p];
                *hrn_image_px(&strip, c, y, 2 * OV + x) = pan[3 * np + c * np + p];
            }
    HRN_TRY(hrn_image_write_png(path, &strip, 8));
fail:
    hrn_image_free(&strip);
    free(nrm);
    free(alb);
    free(col);
    free(pan);
    return st;
}

/* The displacement map of view k as the geometry uses it (times the valid mask). */
static enum hrn_status disp_used(struct hrn_fit *f, int k, float *out) {
    hrn_tape_reset(&f->tape);
    struct hrn_tensor *d = fit_disp_map(f, k);
    if (!d) return hrn_error_prefix(HRN_ERR_INVALID, "displacement of view %d: ", k);
    memcpy(out, d->data, (size_t)d->numel * sizeof(float));
    hrn_tape_reset(&f->tape);
    return HRN_OK;
}

/* <name>_lmk7.txt: the 7 points hrn-eval's multiview/NoW protocols align with (iBUG 36, 39, 42,
 * 45, 33, 48, 54: eye corners, nose bottom, mouth corners, the FG 2018 order), taken from the
 * mesh V as written, so the mesh and its landmarks stay in one frame. Models without all seven
 * landmark vertices get no file. Written to a temp file, then renamed. */
static enum hrn_status write_lmk7(const struct hrn_face_model *fm, const char *path, const float *V) {
    static const int idx[7] = {36, 39, 42, 45, 33, 48, 54};
    for (int i = 0; i < 7; i++)
        if (fm->lmk68[idx[i]] < 0) return HRN_OK;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp) return hrn_error_set(HRN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    for (int i = 0; i < 7; i++) {
        const float *x = V + 3 * (int64_t)fm->lmk68[idx[i]];
        fprintf(fp, "%.9g %.9g %.9g\n", (double)x[0], (double)x[1], (double)x[2]);
    }
    int bad = ferror(fp);
    if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return hrn_error_set(HRN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return HRN_OK;
}

static enum hrn_status write_h5(struct hrn_fit *f, const char *path, const float *fused) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    struct hrn_h5 *h = NULL;
    int64_t N = fm->n_verts, nc = hrn_face_model_n_coeffs(fm);
    float *c = malloc((size_t)nc * sizeof(float)), *V = malloc((size_t)(3 * N) * sizeof(float));
    if (!c || !V) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory", path);
        goto fail;
    }
    HRN_TRY(hrn_h5_create(path, &h));
    HRN_TRY(hrn_h5_attr_write_str(h, "/", "hrn_format", "hrn-fit"));
    HRN_TRY(hrn_h5_attr_write_str(h, "/", "model", fm->name));
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "n_views", f->n_views));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "mm_per_unit", (double)fm->mm_per_unit));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "final_loss", f->last.total));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "max_abs_coeff", (double)hrn_fit_max_abs_coeff(f)));
    /* hrn_fit_check's figures, so a batch's results can be screened without the log */
    HRN_TRY(hrn_h5_attr_write_i64(h, "/", "warnings", (int64_t)f->check.warnings));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "check_eye_px", f->check.eye_px));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "check_clipped", f->check.clipped));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "check_detail_mm", f->check.detail_mm));
    HRN_TRY(hrn_h5_attr_write_f64(h, "/", "check_exp_offset_mm", f->check.exp_offset_mm));
    HRN_TRY(hrn_h5_attr_write_str(h, "/", "coeff_layout",
                                  "id | exp | tex | angle(3, rad) | gamma(27) | trans(3)"));
    for (int s = 0; s < HRN_FIT_N_STAGES; s++) {
        char key[48];
        snprintf(key, sizeof key, "iters_%s", hrn_fit_stage_name(s));
        HRN_TRY(hrn_h5_attr_write_i64(h, "/", key, f->stage_done[s] ? f->cfg.iters[s] : 0));
    }
    /* every parameter under its own name (id, tex, albedo_map, deform, view<k>/...) */
    for (int i = 0; i < f->ps.n_entries; i++) {
        struct hrn_tensor *x = hrn_params_tensor(&f->ps, i);
        HRN_TRY(hrn_h5_write_f32(h, f->ps.entries[i].name, x->ndim, x->shape, x->data));
    }
    for (int k = 0; k < f->n_views; k++) {
        char name[96];
        const struct hrn_fit_view *v = &f->views[k];
        hrn_fit_coeffs(f, k, c);
        snprintf(name, sizeof name, "view%d/coeffs", k);
        HRN_TRY(hrn_h5_write_f32(h, name, 1, (int64_t[]){nc}, c));
        HRN_TRY(hrn_fit_posed(f, k, 1, V));
        snprintf(name, sizeof name, "view%d/verts_mid", k);
        HRN_TRY(hrn_h5_write_f32(h, name, 2, (int64_t[]){N, 3}, V));
        if (v->n_lm) {
            snprintf(name, sizeof name, "view%d/landmarks", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 2, (int64_t[]){v->n_lm, 2}, v->lm));
        }
        if (v->has_align) {
            float tp[5] = {v->align.w0, v->align.h0, v->crop_scale, v->align.t0, v->align.t1};
            snprintf(name, sizeof name, "view%d/trans_params", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 1, (int64_t[]){5}, tp));
        }
        int64_t R = f->cfg.disp_res, Rd = f->cfg.deform_res;
        if (f->valid) {
            snprintf(name, sizeof name, "view%d/valid_mask", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 3, (int64_t[]){1, R, R}, f->valid + k * R * R));
            snprintf(name, sizeof name, "view%d/valid_mask_lo", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 3, (int64_t[]){1, Rd, Rd}, f->valid_lo + k * Rd * Rd));
        }
        if (f->albedo_uv) {
            snprintf(name, sizeof name, "view%d/albedo_deretouched", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 3, (int64_t[]){3, R, R}, f->albedo_uv + 3 * k * R * R));
        }
        if (f->tex_refined) {
            snprintf(name, sizeof name, "view%d/texture", k);
            HRN_TRY(hrn_h5_write_f32(h, name, 3, (int64_t[]){3, R, R}, f->tex_refined + 3 * k * R * R));
        }
        snprintf(name, sizeof name, "view%d", k);
        HRN_TRY(hrn_h5_attr_write_str(h, name, "name", v->name));
        if (v->src[0]) HRN_TRY(hrn_h5_attr_write_str(h, name, "image", v->src));
    }
    if (fused) HRN_TRY(hrn_h5_write_f32(h, "fused/verts_mid", 2, (int64_t[]){N, 3}, fused));
    st = hrn_h5_commit(h);
    h = NULL;
fail:
    hrn_h5_close(h);
    free(c);
    free(V);
    return st;
}

/* --- finiteness ---------------------------------------------------------------------------------
 * A NaN can reach the results without passing through an optimizer step (a checkpoint's networks
 * give NaN coefficients, and HRN's inference config runs no stage that would stop on it), so every
 * result is checked before anything is written: a NaN mesh or fit.h5 must not look like a fit. */

/* HRN_ERR_NUMERIC naming what is not finite, how much of it, and where it came from. */
static enum hrn_status finite_or_fail(const float *x, int64_t n, const char *what, int view) {
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (first < 0) first = i;
            bad++;
        }
    if (!bad) return HRN_OK;
    char where[32] = "";
    if (view >= 0) snprintf(where, sizeof where, " of view %d", view);
    return hrn_error_set(HRN_ERR_NUMERIC, "the fit's result is not finite: %s%s has %lld NaN/Inf "
                         "values of %lld (the first at %lld); nothing was written (a checkpoint "
                         "whose networks give NaN, or a diverged fit: check the inputs)",
                         what, where, (long long)bad, (long long)n, (long long)first);
}

static enum hrn_status check_results(struct hrn_fit *f) {
    enum hrn_status st = HRN_OK;
    int64_t N = f->fm->n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res, K = f->n_views;
    float *V = malloc((size_t)(3 * N) * sizeof(float)), *disp = malloc((size_t)(R * R) * sizeof(float));
    if (!V || !disp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "checking the fit's results: no memory");
        goto fail;
    }
    for (int i = 0; i < f->ps.n_entries; i++) {
        const struct hrn_tensor *x = hrn_params_tensor(&f->ps, i);
        char what[96];
        snprintf(what, sizeof what, "parameter '%s'", f->ps.entries[i].name);
        HRN_TRY(finite_or_fail(x->data, x->numel, what, -1));
    }
    if (f->valid) HRN_TRY(finite_or_fail(f->valid, K * R * R, "the valid mask", -1));
    if (f->valid_lo) HRN_TRY(finite_or_fail(f->valid_lo, K * Rd * Rd, "the valid mask", -1));
    if (f->albedo_uv) HRN_TRY(finite_or_fail(f->albedo_uv, K * 3 * R * R, "the de-retouched albedo", -1));
    if (f->tex_refined) HRN_TRY(finite_or_fail(f->tex_refined, K * 3 * R * R, "the refined texture", -1));
    for (int k = 0; k < K; k++) {
        HRN_TRY(hrn_fit_posed(f, k, 1, V));
        HRN_TRY(finite_or_fail(V, 3 * N, "the posed mesh", k));
        HRN_TRY(disp_used(f, k, disp));
        HRN_TRY(finite_or_fail(disp, R * R, "the displacement map", k));
    }
    if (K > 1) {
        HRN_TRY(hrn_fit_fused_shape(f, V));
        HRN_TRY(finite_or_fail(V, 3 * N, "the fused mesh", -1));
    }
fail:
    free(V);
    free(disp);
    return st;
}

enum hrn_status hrn_fit_write_outputs(struct hrn_fit *f, const char *dir) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts, R = f->cfg.disp_res, nt = R * R;
    int K = f->n_views;
    char path[1200], tex_name[600];
    float *V = malloc((size_t)(3 * N) * sizeof(float)), *fused = NULL, *dmean = NULL;
    float *tex = malloc((size_t)(3 * nt * K) * sizeof(float)), *w = malloc((size_t)(nt * K) * sizeof(float));
    float *one = malloc((size_t)(3 * nt) * sizeof(float));
    float *disp = malloc((size_t)(nt * K) * sizeof(float));
    if (!V || !tex || !w || !one || !disp) {
        st = hrn_error_set(HRN_ERR_NOMEM, "writing %s: no memory", dir);
        goto fail;
    }
    HRN_TRY(check_results(f));
    HRN_TRY(hrn_fit_mkdirs(dir));
    for (int k = 0; k < K; k++) {
        const char *name = f->views[k].name;
        HRN_TRY(hrn_fit_posed(f, k, 1, V));
        HRN_TRY(unwrap_view(f, k, &f->uv_hi, V, tex + 3 * nt * k, w + nt * k));
        if (f->tex_refined) {
            /* HRN's texture: the refined lit colour map C2 + O. It is defined on the whole chart
             * (texels the view does not see keep the shaded albedo), so a view's own texture
             * uses all of it and the fused blend keeps a small weight on unseen texels */
            memcpy(tex + 3 * nt * k, f->tex_refined + 3 * nt * k, (size_t)(3 * nt) * sizeof(float));
            for (int64_t i = 0; i < nt; i++) {
                float *wi = &w[nt * k + i];
                *wi = f->uv_hi.mask[i] > 0 ? sqrtf(*wi * *wi + 1e-4f) : 0.0f;
            }
        }
        blend_textures(1, nt, tex + 3 * nt * k, w + nt * k, one);
        snprintf(path, sizeof path, "%s/%s_mid.obj", dir, name);
        HRN_TRY(hrn_export_textured_obj(path, fm, V, one, (int)R));
        snprintf(path, sizeof path, "%s/%s_lmk7.txt", dir, name);
        HRN_TRY(write_lmk7(fm, path, V));
        snprintf(tex_name, sizeof tex_name, "%s_mid_tex.png", name);
        snprintf(path, sizeof path, "%s/%s_high.obj", dir, name);
        HRN_TRY(disp_used(f, k, disp + nt * k));
        HRN_TRY(write_dense(f, path, V, disp + nt * k, tex_name));
        snprintf(path, sizeof path, "%s/%s_overlay.png", dir, name);
        HRN_TRY(write_overlay(f, k, path, V));
    }
    if (K > 1) {
        /* the fused mesh: canonical frame, shared identity and D, mean (or zero) expression, the
         * displacement averaged over views weighted by how squarely each view saw the texel */
        fused = malloc((size_t)(3 * N) * sizeof(float));
        dmean = calloc((size_t)nt, sizeof(float));
        if (!fused || !dmean) {
            st = hrn_error_set(HRN_ERR_NOMEM, "writing %s: no memory", dir);
            goto fail;
        }
        HRN_TRY(hrn_fit_fused_shape(f, fused));
        for (int64_t i = 0; i < nt; i++) {
            double s = 0, d = 0;
            for (int k = 0; k < K; k++) {
                double wk = (double)w[k * nt + i] * (double)w[k * nt + i];
                s += wk;
                d += wk * (double)disp[nt * k + i];
            }
            dmean[i] = s > 1e-6 ? (float)(d / s) : 0.0f;
        }
        blend_textures(K, nt, tex, w, one);
        snprintf(path, sizeof path, "%s/fused_mid.obj", dir);
        HRN_TRY(hrn_export_textured_obj(path, fm, fused, one, (int)R));
        snprintf(path, sizeof path, "%s/fused_lmk7.txt", dir);
        HRN_TRY(write_lmk7(fm, path, fused));
        snprintf(path, sizeof path, "%s/fused_high.obj", dir);
        HRN_TRY(write_dense(f, path, fused, dmean, "fused_mid_tex.png"));
    }
    snprintf(path, sizeof path, "%s/fit.h5", dir);
    HRN_TRY(write_h5(f, path, fused));
fail:
    free(V);
    free(fused);
    free(dmean);
    free(tex);
    free(w);
    free(one);
    free(disp);
    return st;
}
