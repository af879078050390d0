/* fit_nets.c: starting a fit from HRN's networks (hrn_method.md 1.2, 2, 3): net_recon gives the
 * coefficients, the de-retouching UNet the albedo A', mid_net the deformation map and high_net the
 * displacement map, exactly as HRN's feed-forward pass chains them. With every stage but the
 * texture refinement switched off (configs/hrn.ini), hrn-fit is HRN's single-view inference. */
#include "hrn_train.h"
#include "fit_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hrn_fit_nets_free(struct hrn_fit_nets *n) {
    if (!n) return;
    hrn_net_free(&n->recon);
    hrn_net_free(&n->mid);
    hrn_net_free(&n->high);
    hrn_net_free(&n->unet);
    hrn_tape_free(&n->tape);
    memset(n, 0, sizeof *n);
}

/* Shape of a dataset, or ndim 0 when it does not exist. */
static void shape_of(struct hrn_h5 *h, const char *name, int *ndim, int64_t shape[HRN_H5_MAX_DIMS]) {
    *ndim = 0;
    if (!hrn_h5_exists(h, name) || hrn_h5_shape(h, name, ndim, shape) != HRN_OK) *ndim = 0;
}

/* The configuration of a pix2pix generator read off its stored shapes: ngf and in_ch from the
 * first conv, the residual blocks counted, dropout from the second conv's index in a block. */
static enum hrn_status probe_pix2pix(struct hrn_h5 *h, const char *path, const char *g,
                                     struct hrn_net_config *c) {
    char n[160];
    int nd;
    int64_t sh[HRN_H5_MAX_DIMS];
    snprintf(n, sizeof n, "%s/model.1.weight", g);
    shape_of(h, n, &nd, sh);
    if (nd != 4)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: '%s' missing or not 4-d: group %s is not a "
                             "pix2pix ResnetGenerator", path, n, g);
    *c = (struct hrn_net_config){.kind = HRN_NET_PIX2PIX, .width = (int)sh[0], .in_ch = (int)sh[1]};
    int nb = 0;
    for (;; nb++) {
        snprintf(n, sizeof n, "%s/model.%d.conv_block.1.weight", g, 10 + nb);
        if (!hrn_h5_exists(h, n)) break;
    }
    snprintf(n, sizeof n, "%s/model.10.conv_block.6.weight", g);
    c->dropout = hrn_h5_exists(h, n) ? 0.5f : -1.0f;
    c->n_blocks = nb;
    snprintf(n, sizeof n, "%s/model.%d.weight", g, 10 + nb + 7);
    shape_of(h, n, &nd, sh);
    if (nb < 1 || nd != 4)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: group %s: %d residual blocks and no final conv "
                             "'%s'", path, g, nb, n);
    c->out_ch = (int)sh[0];
    return HRN_OK;
}

/* mid_net / high_net when the group exists: probed, checked against HRN's channel counts
 * (in_ch -> out_ch) and declared. */
static enum hrn_status probe_generator(struct hrn_h5 *h, const char *path, const char *g,
                                       int in_ch, int out_ch, struct hrn_net *net, int *has) {
    struct hrn_net_config c;
    if (!hrn_h5_exists(h, g)) return HRN_OK;
    enum hrn_status st = probe_pix2pix(h, path, g, &c);
    if (st != HRN_OK) return st;
    if (c.in_ch != in_ch || c.out_ch != out_ch)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s maps %d -> %d channels, HRN's maps %d -> %d",
                             path, g, c.in_ch, c.out_ch, in_ch, out_ch);
    st = hrn_net_init(net, &c, 1);
    if (st == HRN_OK) *has = 1;
    return st;
}

enum hrn_status hrn_fit_nets_load(const char *path, struct hrn_fit_nets *nets) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *h = NULL;
    int nd;
    int64_t sh[HRN_H5_MAX_DIMS];
    memset(nets, 0, sizeof *nets);
    nets->alpha = nets->beta = 0.01;
    HRN_TRY(hrn_h5_open(path, &h));
    shape_of(h, "net_recon/backbone.conv1.weight", &nd, sh);
    if (nd == 4) {
        HRN_TRY(hrn_net_init(&nets->recon, &(struct hrn_net_config){.kind = HRN_NET_RESNET50,
                                                                    .width = (int)sh[0]}, 1));
        nets->has_recon = 1;
    }
    HRN_TRY(probe_generator(h, path, "mid_net", 6, 3, &nets->mid, &nets->has_mid));
    HRN_TRY(probe_generator(h, path, "high_net", 9, 1, &nets->high, &nets->has_high));
    shape_of(h, "generator/inc.conv.conv.0.weight", &nd, sh);
    if (nd == 4) {
        HRN_TRY(hrn_net_init(&nets->unet, &(struct hrn_net_config){.kind = HRN_NET_UNET,
                                                                   .width = (int)sh[0]}, 1));
        nets->has_unet = 1;
    }
    hrn_h5_close(h);
    h = NULL;
    if (!nets->has_recon && !nets->has_mid && !nets->has_high && !nets->has_unet) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: none of the groups net_recon, mid_net, high_net, "
                           "generator (a checkpoint from scripts/convert_pth.py?)", path);
        goto fail;
    }
    if (nets->has_recon) HRN_TRY(hrn_net_load(&nets->recon, path, "net_recon"));
    if (nets->has_mid) HRN_TRY(hrn_net_load(&nets->mid, path, "mid_net"));
    if (nets->has_high) HRN_TRY(hrn_net_load(&nets->high, path, "high_net"));
    if (nets->has_unet) HRN_TRY(hrn_net_load(&nets->unet, path, "generator"));
    /* alpha and beta scale the generators' outputs: required with them (HRN's load_networks
     * requires both too) */
    if (nets->has_mid) HRN_TRY(hrn_nets_load_scalar(path, "alpha", &nets->alpha));
    if (nets->has_high) HRN_TRY(hrn_nets_load_scalar(path, "beta", &nets->beta));
    struct hrn_net *all[4] = {&nets->recon, &nets->mid, &nets->high, &nets->unet};
    for (int i = 0; i < 4; i++) {
        all[i]->training = 0;
        hrn_net_requires_grad(all[i], 0);
    }
    hrn_log(HRN_LOG_INFO, "%s: net_recon %s, mid_net %s, high_net %s, de-retouching %s; alpha %g, "
            "beta %g", path, nets->has_recon ? "yes" : "no", nets->has_mid ? "yes" : "no",
            nets->has_high ? "yes" : "no", nets->has_unet ? "yes" : "no", nets->alpha, nets->beta);
    return HRN_OK;
fail:
    hrn_h5_close(h);
    hrn_fit_nets_free(nets);
    return st;
}

/* --- the feed-forward start ------------------------------------------------------------------ */

/* Set the fit's parameters of view k from a 257-vector of net_recon (Deep3D's split_coeff); the
 * shared identity and albedo coefficients become view k's (averaged over views at the end). */
static void set_coeffs(struct hrn_fit *f, int k, const float *c) {
    struct hrn_params *ps = &f->ps;
    memcpy(hrn_params_tensor(ps, f->p_id)->data, c, 80 * sizeof(float));
    if (f->p_exp[k] >= 0) memcpy(hrn_params_tensor(ps, f->p_exp[k])->data, c + 80, 64 * sizeof(float));
    if (f->p_tex >= 0) memcpy(hrn_params_tensor(ps, f->p_tex)->data, c + 144, 80 * sizeof(float));
    float *pose = hrn_params_tensor(ps, f->p_pose[k])->data;
    memcpy(pose, c + 224, 3 * sizeof(float));
    memcpy(pose + 3, c + 254, 3 * sizeof(float));
    memcpy(hrn_params_tensor(ps, f->p_light[k])->data, c + 227, HRN_N_GAMMA * sizeof(float));
}

/* Plain values of a level's forward pass of view k: canonical S (N,3), posed V (N,3) and, when
 * alb is given, the per-vertex albedo (N,3). */
static enum hrn_status level_verts(struct hrn_fit *f, int k, int level, float *S, float *V,
                                   float *alb) {
    struct fit_fwd o;
    hrn_tape_reset(&f->tape);
    fit_forward(f, k, level, alb != NULL, &o);
    if (!o.S || !o.V || (alb && !o.A))
        return hrn_error_prefix(HRN_ERR_INVALID, "network start, view %d: ", k);
    size_t n = (size_t)(3 * f->fm->n_verts) * sizeof(float);
    memcpy(S, o.S->data, n);
    memcpy(V, o.V->data, n);
    if (alb) memcpy(alb, o.A->data, n);
    hrn_tape_reset(&f->tape);
    return HRN_OK;
}

/* HRN's get_texture_map of view k's 512 crop (or the 224 one) through posed vertices V -> tex
 * (3,R,R) in [0,1]. */
enum hrn_status fit_texture_of(struct hrn_fit *f, int k, const float *V, float *pos, float *tex) {
    int64_t R = f->uv_hi.res;
    const struct hrn_image *src = f->views[k].img_hd.data ? &f->views[k].img_hd : &f->views[k].img;
    enum hrn_status st = fit_to_uv(f, &f->uv_hi, V, pos);
    if (st != HRN_OK) return st;
    hrn_tape_reset(&f->tape);
    struct hrn_tensor *pm = hrn_tape_wrap(&f->tape, pos, 3, (int64_t[]){3, R, R}, "posmap");
    struct hrn_tensor *im =
        hrn_tape_wrap(&f->tape, src->data, 3, (int64_t[]){3, src->h, src->w}, "photo");
    struct hrn_tensor *u = hrn_uv_unwrap_op(&f->tape, &f->uv_hi, &f->cam, pm, im);
    if (!u) return hrn_error_prefix(HRN_ERR_INVALID, "texture of view %d: ", k);
    for (int64_t i = 0; i < 3 * R * R; i++) tex[i] = isfinite(u->data[i]) ? u->data[i] : 0.0f;
    hrn_tape_reset(&f->tape);
    return HRN_OK;
}

/* x (n) -> 2x-1 */
static void to_pm1(const float *x, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = 2.0f * x[i] - 1.0f;
}

/* The networks' own tape, made on first use: the UNet at 512 x 512 keeps far more activations
 * than a fit step (the arena is reserved, pages are touched only as used). */
static enum hrn_status nets_tape(struct hrn_fit_nets *n) {
    if (n->tape.arena.base) {
        hrn_tape_reset(&n->tape);
        return HRN_OK;
    }
    return hrn_tape_init(&n->tape, (size_t)3 << 30);
}

enum hrn_status hrn_fit_nets_deretouch(struct hrn_fit_nets *n, int64_t R, const float *t,
                                       const float *a0, float *ap) {
    if (!n->has_unet) return hrn_error_set(HRN_ERR_INVALID, "de-retouching: no UNet loaded");
    enum hrn_status st = nets_tape(n);
    if (st != HRN_OK) return st;
    struct hrn_tape *tp = &n->tape;
    struct hrn_tensor *tn = hrn_tape_tensor(tp, 4, (int64_t[]){1, 3, R, R}, "Tn");
    if (tn) to_pm1(t, 3 * R * R, tn->data);
    struct hrn_tensor *b = hrn_net_forward(tp, &n->unet, hrn_resize_bilinear_ad(tp, tn, 2 * R, 2 * R));
    struct hrn_tensor *y = hrn_deretouch(tp, tn, hrn_resize_bilinear_ad(tp, b, R, R),
                                         hrn_tape_wrap(tp, (float *)a0, 4, (int64_t[]){1, 3, R, R}, "A0"));
    if (!y) return hrn_error_prefix(HRN_ERR_INVALID, "de-retouching: ");
    memcpy(ap, y->data, (size_t)(3 * R * R) * sizeof(float));
    hrn_tape_reset(tp);
    return HRN_OK;
}

enum hrn_status hrn_fit_nets_mid(struct hrn_fit_nets *n, int64_t R, int64_t Rd, const float *p,
                                 const float *t, float *d) {
    if (!n->has_mid) return hrn_error_set(HRN_ERR_INVALID, "mid_net: not loaded");
    enum hrn_status st = nets_tape(n);
    if (st != HRN_OK) return st;
    struct hrn_tape *tp = &n->tape;
    struct hrn_tensor *x = hrn_tape_tensor(tp, 4, (int64_t[]){1, 6, R, R}, "mid_in");
    if (x) {
        memcpy(x->data, p, (size_t)(3 * R * R) * sizeof(float));
        to_pm1(t, 3 * R * R, x->data + 3 * R * R);
    }
    struct hrn_tensor *y = hrn_net_forward(tp, &n->mid, hrn_resize_bilinear_ad(tp, x, Rd, Rd));
    if (!y) return hrn_error_prefix(HRN_ERR_INVALID, "mid_net: ");
    HRN_ASSERT(y->numel == 3 * Rd * Rd);
    for (int64_t i = 0; i < 3 * Rd * Rd; i++) d[i] = (float)(0.1 * n->alpha) * y->data[i];
    hrn_tape_reset(tp);
    return HRN_OK;
}

enum hrn_status hrn_fit_nets_high(struct hrn_fit_nets *n, int64_t R, int64_t Rd, const float *p,
                                  const float *t2, const float *d, float *disp) {
    if (!n->has_high) return hrn_error_set(HRN_ERR_INVALID, "high_net: not loaded");
    enum hrn_status st = nets_tape(n);
    if (st != HRN_OK) return st;
    struct hrn_tape *tp = &n->tape;
    int64_t nt = R * R;
    struct hrn_tensor *x = hrn_tape_tensor(tp, 4, (int64_t[]){1, 9, R, R}, "high_in");
    if (x) {
        memcpy(x->data, p, (size_t)(3 * nt) * sizeof(float));
        to_pm1(t2, 3 * nt, x->data + 3 * nt);
        hrn_resize_bilinear(d, 3, (int)Rd, (int)Rd, x->data + 6 * nt, (int)R, (int)R, 0);
    }
    struct hrn_tensor *y = hrn_net_forward(tp, &n->high, x);
    if (!y) return hrn_error_prefix(HRN_ERR_INVALID, "high_net: ");
    HRN_ASSERT(y->numel == nt);
    for (int64_t i = 0; i < nt; i++) disp[i] = (float)(0.1 * n->beta) * y->data[i];
    hrn_tape_reset(tp);
    return HRN_OK;
}

enum hrn_status hrn_fit_start_from_nets(struct hrn_fit *f, struct hrn_fit_nets *nets) {
    enum hrn_status st = HRN_OK;
    const struct hrn_face_model *fm = f->fm;
    int64_t N = fm->n_verts, R = f->cfg.disp_res, Rd = f->cfg.deform_res, nt = R * R, nd = 3 * Rd * Rd;
    int K = f->n_views;
    float *S = NULL, *V = NULL, *alb = NULL, *pos = NULL, *P = NULL, *T = NULL, *A0 = NULL;
    float *d = NULL, *dsum = NULL, *coeffs = NULL;
    double idsum[80] = {0}, texsum[80] = {0};
    if (nets->has_recon && (fm->n_id != 80 || fm->n_exp != 64 || fm->n_tex != 80))
        return hrn_error_set(HRN_ERR_INVALID, "network start: net_recon predicts BFM's 80 identity, "
                             "64 expression and 80 albedo coefficients; face model %s has %lld, "
                             "%lld, %lld (use the Deep3D BFM: hrn-model import)", fm->name,
                             (long long)fm->n_id, (long long)fm->n_exp, (long long)fm->n_tex);
    if ((nets->has_mid || nets->has_high) && (Rd != 64 || R != 256))
        return hrn_error_set(HRN_ERR_INVALID, "network start: mid_net and high_net work on 64 and "
                             "256 maps; the config has maps.deform_res %lld, maps.disp_res %lld",
                             (long long)Rd, (long long)R);
    for (int k = 0; k < K; k++)
        if (!f->views[k].img.data)
            return hrn_error_set(HRN_ERR_INVALID, "network start: view %d has no image", k);
    size_t n3 = (size_t)(3 * N) * sizeof(float), m3 = (size_t)(3 * nt) * sizeof(float);
    S = malloc(n3);
    V = malloc(n3);
    alb = malloc(n3);
    pos = malloc(m3);
    P = malloc(m3);
    T = malloc(m3);
    A0 = malloc(m3);
    d = malloc((size_t)nd * sizeof(float));
    dsum = calloc((size_t)nd, sizeof(float));
    coeffs = malloc((size_t)(K * HRN_RECON_N_COEFFS) * sizeof(float));
    if (!S || !V || !alb || !pos || !P || !T || !A0 || !d || !dsum || !coeffs) {
        st = hrn_error_set(HRN_ERR_NOMEM, "network start: no memory");
        goto fail;
    }
    double t0 = hrn_time_now();
    /* 1. coefficients (net_recon on the 224 crop, [0,1]) */
    if (nets->has_recon)
        for (int k = 0; k < K; k++) {
            HRN_TRY(nets_tape(nets));
            struct hrn_tensor *x = hrn_tape_wrap(&nets->tape, f->views[k].img.data, 4,
                                                 (int64_t[]){1, 3, 224, 224}, "img");
            struct hrn_tensor *c = hrn_net_forward(&nets->tape, &nets->recon, x);
            if (!c) {
                st = hrn_error_prefix(HRN_ERR_INVALID, "net_recon on view %d: ", k);
                goto fail;
            }
            HRN_ASSERT(c->numel == HRN_RECON_N_COEFFS);
            memcpy(coeffs + k * HRN_RECON_N_COEFFS, c->data, HRN_RECON_N_COEFFS * sizeof(float));
        }
    if (f->cfg.valid_mask) HRN_TRY(fit_valid_alloc(f));
    if (nets->has_unet && !f->albedo_uv) {
        f->albedo_uv = malloc((size_t)K * m3);
        if (!f->albedo_uv) {
            st = hrn_error_set(HRN_ERR_NOMEM, "network start: no memory");
            goto fail;
        }
    }
    /* 2. HRN's single-view chain per view, with that view's own coefficients (hrn_method.md 1, 2;
     * forward_mvhrn then averages identity and D) */
    float *D = hrn_params_tensor(&f->ps, f->p_deform)->data;
    for (int k = 0; k < K; k++) {
        if (nets->has_recon) {
            const float *ck = coeffs + k * HRN_RECON_N_COEFFS;
            set_coeffs(f, k, ck);
            for (int i = 0; i < 80; i++) {
                idsum[i] += (double)ck[i];
                texsum[i] += (double)ck[144 + i];
            }
        }
        /* the valid mask from this view's M0 */
        if (f->valid)
            HRN_TRY(fit_valid_mask_view(f, k, f->valid + k * nt, f->valid_lo + k * Rd * Rd));
        if (!nets->has_unet && !nets->has_mid && !nets->has_high) continue;
        /* T through M0 from the 512 crop, P = world2uv of the canonical M0 */
        HRN_TRY(level_verts(f, k, 0, S, V, nets->has_unet ? alb : NULL));
        HRN_TRY(fit_texture_of(f, k, V, pos, T));
        HRN_TRY(fit_to_uv(f, &f->uv_hi, S, P));
        if (nets->has_unet) {
            HRN_TRY(fit_to_uv(f, &f->uv_hi, alb, A0));
            HRN_TRY(hrn_fit_nets_deretouch(nets, R, T, A0, f->albedo_uv + k * 3 * nt));
        }
        if (nets->has_mid) {
            /* this view's D builds its M1 (the valid mask is applied where D is used) */
            HRN_TRY(hrn_fit_nets_mid(nets, R, Rd, P, T, d));
            memcpy(D, d, (size_t)nd * sizeof(float));
        }
        if (nets->has_high) {
            /* T' through M1, then the displacement map from P, T' and the masked D */
            HRN_TRY(level_verts(f, k, 1, S, V, NULL));
            HRN_TRY(fit_texture_of(f, k, V, pos, T));
            hrn_tape_reset(&f->tape);
            struct hrn_tensor *dk = fit_deform_map(f, k);
            if (!dk) {
                st = hrn_error_prefix(HRN_ERR_INVALID, "high_net input of view %d: ", k);
                goto fail;
            }
            memcpy(d, dk->data, (size_t)nd * sizeof(float));
            hrn_tape_reset(&f->tape);
            float *disp = hrn_params_tensor(&f->ps, f->p_disp[k])->data;
            HRN_TRY(hrn_fit_nets_high(nets, R, Rd, P, T, d, disp));
            /* several views: HRN's multi-view fit starts from the masked map, which it masks
             * again when using it */
            if (K > 1 && f->valid)
                for (int64_t i = 0; i < nt; i++) disp[i] *= f->valid[k * nt + i];
        }
        if (nets->has_mid) {
            /* the shared D starts as the mean over views (of the masked maps with several
             * views, as forward_mvhrn) */
            const float *m = K > 1 && f->valid ? f->valid_lo + k * Rd * Rd : NULL;
            for (int64_t c = 0; c < 3; c++)
                for (int64_t i = 0; i < Rd * Rd; i++)
                    dsum[c * Rd * Rd + i] += (m ? m[i] : 1.0f) * D[c * Rd * Rd + i] / (float)K;
        }
    }
    if (nets->has_recon) {
        float *id = hrn_params_tensor(&f->ps, f->p_id)->data;
        for (int i = 0; i < 80; i++) id[i] = (float)(idsum[i] / K);
        if (f->p_tex >= 0) {
            float *tx = hrn_params_tensor(&f->ps, f->p_tex)->data;
            for (int i = 0; i < 80; i++) tx[i] = (float)(texsum[i] / K);
        }
    }
    if (nets->has_mid) memcpy(D, dsum, (size_t)nd * sizeof(float));
    memcpy(f->safe, f->ps.values, f->ps.n * sizeof(float));
    hrn_log(HRN_LOG_INFO, "network start: %d view(s) in %.2f s", K, hrn_time_now() - t0);
fail:
    hrn_tape_reset(&f->tape);
    free(S);
    free(V);
    free(alb);
    free(pos);
    free(P);
    free(T);
    free(A0);
    free(d);
    free(dsum);
    free(coeffs);
    return st;
}
