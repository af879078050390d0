/* proto_facescape.c: the FaceScape single-view benchmark (spec A; zhuhao-nju/facescape
 * benchmark/code evaluator.py, mesh_util.py, pred_loader.py).
 *
 * Per item: scale normalisation (A.3), depth alignment by the median depth difference of the
 * rendered depth maps (A.4; the official SLSQP L1 fit equals the median), cylindrical unwrapping by
 * ray casting with "farthest hit wins" (A.5), completeness (A.6), the pooled chamfer distance of the
 * cylinder meshes (A.7) and the mean normal error with the normal-map colour encoding (A.8). */
#include "hrn_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* np.mean of one column of an (n,3) array (pairwise summation like numpy for n > 8). */
static double col_psum(const double *v, int64_t n, int col) {
    if (n <= 8) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += v[3 * i + col];
        return s;
    }
    int64_t h = n / 2;
    return col_psum(v, h, col) + col_psum(v + 3 * h, n - h, col);
}

static double col_mean(const struct hrn_emesh *m, int col) {
    return col_psum(m->v, m->nv, col) / (double)m->nv;
}

/* --- A.2 loaders -------------------------------------------------------------------------------- */

void hrn_fs_ortho_branch(struct hrn_emesh *m, double focal) {
    if (!(focal > 0)) { /* wild: render_bias = 2 */
        double mz = col_mean(m, 2);
        for (int64_t i = 0; i < m->nv; i++) m->v[3 * i + 2] -= mz + 2;
        return;
    }
    for (int64_t i = 0; i < m->nv; i++) { /* to the OpenCV camera: diag(1,-1,-1) */
        m->v[3 * i + 1] = -m->v[3 * i + 1];
        m->v[3 * i + 2] = -m->v[3 * i + 2];
    }
    double mz = col_mean(m, 2);
    double ymin = INFINITY, ymax = -INFINITY;
    for (int64_t i = 0; i < m->nv; i++) {
        m->v[3 * i + 2] -= mz;
        m->v[3 * i + 2] += focal / 128;
    }
    for (int64_t i = 0; i < m->nv; i++) {
        ymin = fmin(ymin, m->v[3 * i + 1]);
        ymax = fmax(ymax, m->v[3 * i + 1]);
    }
    /* normalises the height (y extent) to 3 pupil units; the upstream comment says width */
    double sc = (ymax - ymin) / 3;
    for (int64_t i = 0; i < 3 * m->nv; i++) m->v[i] /= sc;
}

void hrn_fs_align_deep3df(struct hrn_emesh *m, const double trans[5], double focal) {
    double w0 = trans[0], h0 = trans[1], s = trans[2], t0 = trans[3], t1 = trans[4];
    /* int32() truncates toward zero; w/2 is a float division */
    int32_t w = (int32_t)(w0 * s), h = (int32_t)(h0 * s);
    int32_t left = (int32_t)(w / 2.0 - 112 + (t0 - w0 / 2) * s);
    int32_t up = (int32_t)(h / 2.0 - 112 + (h0 / 2 - t1) * s);
    double mz = col_mean(m, 2); /* mean of the ORIGINAL z */
    double k = (1015.0 / 112.0) / fabs(mz - 10);
    double r224 = nearbyint(224 / s); /* Python round(): half to even */
    for (int64_t i = 0; i < m->nv; i++) {
        double *p = m->v + 3 * i;
        for (int j = 0; j < 3; j++) p[j] *= k;
        p[0] += 1;
        p[1] += 1;
        for (int j = 0; j < 3; j++) p[j] *= 112;
        p[0] += left;
        p[1] -= up;
        for (int j = 0; j < 3; j++) p[j] /= s;
        p[1] = 256 - 1 - (r224 - 1 - p[1]);
        for (int j = 0; j < 3; j++) p[j] /= 128;
        p[0] -= 1;
        p[1] -= 1;
    }
    hrn_fs_ortho_branch(m, focal);
}

/* Column angle (2j)*pi/255 and row height np.linspace(150, -150, 256)[i], in numpy's operation
 * order so the rays match bit for bit. */
static double cyl_angle(int j) { return (double)(2 * j) * PI / 255.0; }
static double cyl_y(int i) { return i == 255 ? -150.0 : (double)i * (-300.0 / 255.0) + 150.0; }

/* --- A.5 cylindrical maps ------------------------------------------------------------------------- */

enum hrn_status hrn_fs_map_cyl(const struct hrn_emesh *m, const double R[9], const double hc[3],
                               double ps, double *dpmap, double *nmap) {
    enum hrn_status st = HRN_OK;
    struct hrn_emesh c = {0};
    struct hrn_bvh b = {0};
    double *fn = NULL;
    HRN_TRY(hrn_emesh_copy(&c, m));
    /* canonical head frame: v' = R^T (v - hc*ps) */
    for (int64_t i = 0; i < c.nv; i++) {
        double d[3], *p = c.v + 3 * i;
        for (int j = 0; j < 3; j++) d[j] = m->v[3 * i + j] - hc[j] * ps;
        for (int j = 0; j < 3; j++) p[j] = R[j] * d[0] + R[3 + j] * d[1] + R[6 + j] * d[2];
    }
    fn = malloc((size_t)c.nf * 3 * sizeof(double));
    if (!fn) {
        st = hrn_error_set(HRN_ERR_NOMEM, "map_cyl: out of memory");
        goto fail;
    }
    hrn_emesh_face_normals(&c, fn);
    HRN_TRY(hrn_bvh_build(&b, c.v, c.nv, c.f, c.nf));
    const int N = HRN_FS_CYL;
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < N; i++) {
        struct hrn_ray_hit hits[64];
        for (int j = 0; j < N; j++) {
            double a = cyl_angle(j); /* /255: columns 0 and 255 coincide */
            double o[3] = {0, cyl_y(i), 0}, d[3] = {-sin(a), 0, -cos(a)};
            int64_t k = (int64_t)i * N + j;
            int nh = hrn_bvh_ray_hits(&b, o, d, hits, 64);
            dpmap[k] = 0;
            for (int q = 0; q < 3; q++) nmap[3 * k + q] = 0;
            if (nh == 0) continue;
            /* pyembree returns hits near to far and later ones overwrite: the farthest wins */
            struct hrn_ray_hit far = hits[(nh < 64 ? nh : 64) - 1];
            if (nh > 64) { /* more hits than the buffer: get them all to find the farthest */
                struct hrn_ray_hit *all = malloc((size_t)nh * sizeof *all);
                HRN_ASSERT(all != NULL);
                int n2 = hrn_bvh_ray_hits(&b, o, d, all, nh);
                far = all[n2 - 1];
                free(all);
            }
            const struct hrn_ray_hit *h = &far;
            double x = o[0] + h->t * d[0], z = o[2] + h->t * d[2];
            dpmap[k] = sqrt(x * x + z * z);
            for (int q = 0; q < 3; q++) nmap[3 * k + q] = fn[3 * h->tri + q];
        }
    }
fail:
    hrn_bvh_free(&b);
    free(fn);
    hrn_emesh_free(&c);
    return st;
}

/* --- A.7 cylinder2mesh and chamfer ---------------------------------------------------------------- */

enum hrn_status hrn_fs_cylinder2mesh(const double *c, struct hrn_emesh *out) {
    enum hrn_status st = HRN_OK;
    const int N = HRN_FS_CYL;
    const int64_t NN = (int64_t)N * N;
    int32_t *faces = malloc((size_t)NN * 6 * sizeof(int32_t));
    int64_t *newid = malloc((size_t)NN * sizeof(int64_t));
    memset(out, 0, sizeof *out);
    if (!faces || !newid) {
        st = hrn_error_set(HRN_ERR_NOMEM, "cylinder2mesh: out of memory");
        goto fail;
    }
    int64_t nf = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double v = c[i * N + j];
            if (v == 0) continue;
            /* np.roll neighbours: cyclic in both directions */
            double a = c[((i + 1) % N) * N + j], b = c[i * N + (j + 1) % N],
                   d = c[((i + 1) % N) * N + (j + 1) % N];
            double mx = fmax(fabs(v - a), fmax(fabs(v - b), fabs(v - d)));
            if (!(mx < 15)) continue;
            int64_t p = (int64_t)i * N + j;
            if (p + 257 >= NN) {
                st = hrn_error_set(HRN_ERR_UNSUPPORTED,
                                   "cylinder2mesh: row %d is covered; the official code indexes "
                                   "past the map there and fails", i);
                goto fail;
            }
            int32_t t[6] = {(int32_t)p, (int32_t)(p + 1), (int32_t)(p + 256),
                            (int32_t)(p + 257), (int32_t)(p + 256), (int32_t)(p + 1)};
            memcpy(faces + 3 * nf, t, sizeof t);
            nf += 2;
        }
    /* remove unreferenced vertices (order kept) */
    for (int64_t k = 0; k < NN; k++) newid[k] = -1;
    for (int64_t k = 0; k < 3 * nf; k++) newid[faces[k]] = 0;
    int64_t nv = 0;
    for (int64_t k = 0; k < NN; k++)
        if (newid[k] == 0) newid[k] = nv++;
    HRN_TRY(hrn_emesh_alloc(out, nv, nf));
    for (int64_t k = 0; k < NN; k++) {
        if (newid[k] < 0) continue;
        int i = (int)(k / N), j = (int)(k % N);
        double phi = cyl_angle(j), r = c[k];
        double *p = out->v + 3 * newid[k];
        p[0] = r * -sin(phi);
        p[1] = cyl_y(i);
        p[2] = r * -cos(phi);
    }
    for (int64_t k = 0; k < 3 * nf; k++) out->f[k] = (int32_t)newid[faces[k]];
fail:
    free(faces);
    free(newid);
    return st;
}

enum hrn_status hrn_fs_chamfer(const struct hrn_emesh *a, const struct hrn_emesh *b, double *cd) {
    enum hrn_status st = HRN_OK;
    struct hrn_bvh ba = {0}, bb = {0};
    double *e = NULL;
    *cd = (double)NAN;
    if (a->nv == 0 || b->nv == 0 || a->nf == 0 || b->nf == 0) return HRN_OK; /* nothing in common */
    e = malloc((size_t)(a->nv + b->nv) * sizeof(double));
    if (!e) return hrn_error_set(HRN_ERR_NOMEM, "chamfer: out of memory");
    HRN_TRY(hrn_bvh_build(&bb, b->v, b->nv, b->f, b->nf));
    HRN_TRY(hrn_bvh_build(&ba, a->v, a->nv, a->f, a->nf));
    hrn_bvh_closest_many(&bb, a->v, a->nv, NULL, e, NULL);
    hrn_bvh_closest_many(&ba, b->v, b->nv, NULL, e + a->nv, NULL);
    /* pooled mean over the vertices of both meshes (not the mean of the two means) */
    *cd = hrn_eval_nanmean(e, a->nv + b->nv, NULL);
fail:
    hrn_bvh_free(&ba);
    hrn_bvh_free(&bb);
    free(e);
    return st;
}

/* --- A.8 MNE ---------------------------------------------------------------------------------------- */

double hrn_fs_mne(const double *na, const double *nb) {
    const int64_t NN = (int64_t)HRN_FS_CYL * HRN_FS_CYL;
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t k = 0; k < NN; k++) {
        const double *a = na + 3 * k, *b = nb + 3 * k;
        int ha = a[0] != 0 || a[1] != 0 || a[2] != 0, hb = b[0] != 0 || b[1] != 0 || b[2] != 0;
        if (!ha || !hb) continue;
        /* the colour encoding n -> (n + 1)/|n + 1|, in numpy's operation order */
        double x[3], y[3];
        for (int j = 0; j < 3; j++) {
            x[j] = a[j] + 1;
            y[j] = b[j] + 1;
        }
        double lx = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
        double ly = sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]);
        for (int j = 0; j < 3; j++) {
            x[j] /= lx;
            y[j] /= ly;
        }
        double dot = x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
        sum += acos(dot); /* NaN for dot > 1 after rounding: the whole item becomes NaN */
        cnt++;
    }
    return cnt ? sum / (double)cnt : (double)NAN;
}

/* --- the item --------------------------------------------------------------------------------------- */

/* numpy's pairwise summation (pairwise_sum in loops_utils.h) of float32 values in float32:
 * blocks of up to 128 summed with 8 accumulators, larger runs split in halves rounded to 8. */
static float psum_f32(const double *x, int64_t n) {
    if (n < 8) {
        float s = 0;
        for (int64_t i = 0; i < n; i++) s += (float)x[i];
        return s;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; j++) r[j] = (float)x[j];
        int64_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++) r[j] += (float)x[i + j];
        float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) s += (float)x[i];
        return s;
    }
    int64_t h = n / 2;
    h -= h % 8;
    return psum_f32(x, h) + psum_f32(x + h, n - h);
}

/* np.mean of a float32 array: the float32 sum divided by the count in float32. */
static double mean_f32(const double *x, int64_t n) {
    return (double)(psum_f32(x, n) / (float)n);
}

static void scale_mesh(struct hrn_emesh *m, double s) {
    for (int64_t i = 0; i < 3 * m->nv; i++) m->v[i] *= s;
}

enum hrn_status hrn_fs_eval(struct hrn_emesh *gt, struct hrn_emesh *pred,
                            const struct hrn_fs_item *it, struct hrn_fs_result *r) {
    enum hrn_status st = HRN_OK;
    const int64_t NN = (int64_t)HRN_FS_REND * HRN_FS_REND;
    double *dg = malloc((size_t)NN * sizeof(double)), *dp = malloc((size_t)NN * sizeof(double));
    double *diff = malloc((size_t)NN * sizeof(double));
    double *cg = malloc((size_t)NN * sizeof(double)), *cp = malloc((size_t)NN * sizeof(double));
    double *ng = malloc((size_t)NN * 3 * sizeof(double)), *np_ = malloc((size_t)NN * 3 * sizeof(double));
    struct hrn_emesh mg = {0}, mp = {0};
    memset(r, 0, sizeof *r);
    r->cd = r->mne = r->cr = r->delta_z = (double)NAN;
    if (!dg || !dp || !diff || !cg || !cp || !ng || !np_) {
        st = hrn_error_set(HRN_ERR_NOMEM, "facescape: out of memory");
        goto fail;
    }
    struct hrn_zbuf_camera cam = {.width = HRN_FS_REND, .height = HRN_FS_REND,
                                  .cull_back = it->cull_back};
    double ps;
    if (!it->lab) {
        /* A.3 wild: both meshes into mm by the pupil scale */
        ps = it->ps;
        scale_mesh(gt, ps);
        scale_mesh(pred, ps);
        cam.kind = HRN_CAMERA_ORTHO;
        cam.xmag = cam.ymag = ps;
        cam.znear = 0.05;
        cam.zfar = 10000;
    } else {
        /* A.3 lab: GT in pupil units to mm, then into the OpenCV camera frame */
        ps = 1;
        scale_mesh(gt, HRN_FS_STD_PUPIL);
        for (int64_t i = 0; i < gt->nv; i++) {
            double *p = gt->v + 3 * i, x = p[0], y = p[1], z = p[2];
            for (int j = 0; j < 3; j++)
                p[j] = it->Rt[4 * j] * x + it->Rt[4 * j + 1] * y + it->Rt[4 * j + 2] * z +
                       it->Rt[4 * j + 3] * HRN_FS_STD_PUPIL;
        }
        scale_mesh(pred, HRN_FS_STD_PUPIL);
        cam.kind = HRN_CAMERA_PINHOLE;
        cam.fx = it->K[0];
        cam.fy = it->K[4];
        cam.cx = it->K[2];
        cam.cy = it->K[5];
        cam.znear = 0.1;
        cam.zfar = 100000;
    }
    cam.gl_depth = !it->exact;
    /* A.4 optimize_Z */
    HRN_TRY(hrn_zbuffer_render(&cam, gt->v, gt->nv, gt->f, gt->nf, dg));
    HRN_TRY(hrn_zbuffer_render(&cam, pred->v, pred->nv, pred->f, pred->nf, dp));
    int64_t n = 0;
    for (int64_t k = 0; k < NN; k++) {
        if (dg[k] == 0 || dp[k] == 0) continue;
        double a = dg[k], b = dp[k];
        if (!it->lab && it->exact) { /* pixel units */
            a *= 128 / ps;
            b *= 128 / ps;
        } else if (!it->lab) { /* numpy: float32 map *= float64 scalar stays float32 */
            float s = (float)(128 / ps);
            a = (double)((float)a * s);
            b = (double)((float)b * s);
        }
        diff[n] = a - b;
        cg[n++] = dg[k]; /* the GT depths under the mask, in row-major order */
    }
    r->n_mask = n;
    if (n == 0) {
        st = hrn_error_set(HRN_ERR_NUMERIC,
                           "facescape: the rendered GT and prediction do not overlap (empty depth "
                           "mask); check the prediction's placement and face winding");
        goto fail;
    }
    double dz = hrn_eval_median(diff, n);
    r->delta_z = dz;
    if (!it->lab) {
        for (int64_t i = 0; i < pred->nv; i++) pred->v[3 * i + 2] -= dz / 128 * ps;
    } else {
        /* np.mean(depth_gt[mask]) of the float32 map is a float32 pairwise sum over float32 */
        double mean_z = it->exact ? hrn_eval_mean(cg, n) : mean_f32(cg, n);
        scale_mesh(pred, mean_z / (mean_z - dz)); /* a scale about the camera centre */
    }
    /* A.5-A.8 */
    HRN_TRY(hrn_fs_map_cyl(gt, it->R, it->head_center, ps, dg, ng));
    HRN_TRY(hrn_fs_map_cyl(pred, it->R, it->head_center, ps, dp, np_));
    int64_t n_gt = 0, n_common = 0;
    for (int64_t k = 0; k < NN; k++) {
        int m = dg[k] != 0 && dp[k] != 0;
        n_gt += dg[k] != 0;
        n_common += m;
        cg[k] = m ? dg[k] : 0;
        cp[k] = m ? dp[k] : 0;
    }
    r->n_gt_cyl = n_gt;
    r->n_common_cyl = n_common;
    r->cr = n_gt ? (double)n_common / (double)n_gt : (double)NAN;
    HRN_TRY(hrn_fs_cylinder2mesh(cg, &mg));
    HRN_TRY(hrn_fs_cylinder2mesh(cp, &mp));
    HRN_TRY(hrn_fs_chamfer(&mg, &mp, &r->cd));
    r->mne = hrn_fs_mne(ng, np_);
fail:
    free(dg);
    free(dp);
    free(diff);
    free(cg);
    free(cp);
    free(ng);
    free(np_);
    hrn_emesh_free(&mg);
    hrn_emesh_free(&mp);
    return st;
}
