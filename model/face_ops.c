/* face_ops.c: differentiable face ops as autodiff custom ops: rigid pose, the perspective camera,
 * vertex normals over a fixed topology and SH lighting (hrn_method.md 1.3-1.6; shape and albedo
 * from coefficients are in face_basis.c). Written as fused kernels with hand-derived backwards
 * because they run over 35709 vertices / 70789 triangles in every fitting step. */
#include "hrn_model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Loops shorter than PAR_MIN stay on one thread. Waking the second thread of an OpenMP team
 * costs 60-80 us on this project's VM under OMP_WAIT_POLICY=passive (the setting for shared
 * machines), so a loop is only worth splitting when one thread takes well over 0.1 ms: the light
 * per-point loops (rigid pose: ~0.1 ms for 35709 points) use PAR_MIN_LIGHT. */
enum { PAR_MIN = 4096, PAR_MIN_LIGHT = 1 << 17 };

/* --- topology ----------------------------------------------------------------------------------- */

void hrn_topo_free(struct hrn_topo *tp) {
    if (!tp) return;
    free(tp->tris);
    free(tp->vf_ptr);
    free(tp->vf_face);
    free(tp->vf_corner);
    memset(tp, 0, sizeof *tp);
}

enum hrn_status hrn_topo_init(struct hrn_topo *tp, const int32_t *tris, int64_t n_tris,
                              int64_t n_verts) {
    memset(tp, 0, sizeof *tp);
    if (n_tris < 1 || n_verts < 3)
        return hrn_error_set(HRN_ERR_INVALID, "topology: %lld triangles over %lld vertices",
                             (long long)n_tris, (long long)n_verts);
    for (int64_t i = 0; i < 3 * n_tris; i++)
        if (tris[i] < 0 || tris[i] >= n_verts)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "topology: triangle %lld has vertex %d, expected 0..%lld",
                                 (long long)(i / 3), tris[i], (long long)n_verts - 1);
    tp->n_verts = n_verts;
    tp->n_tris = n_tris;
    tp->tris = malloc((size_t)(3 * n_tris) * sizeof *tp->tris);
    tp->vf_ptr = calloc((size_t)n_verts + 1, sizeof *tp->vf_ptr);
    tp->vf_face = malloc((size_t)(3 * n_tris) * sizeof *tp->vf_face);
    tp->vf_corner = malloc((size_t)(3 * n_tris) * sizeof *tp->vf_corner);
    if (!tp->tris || !tp->vf_ptr || !tp->vf_face || !tp->vf_corner) {
        hrn_topo_free(tp);
        return hrn_error_set(HRN_ERR_NOMEM, "topology: no memory for %lld triangles",
                             (long long)n_tris);
    }
    memcpy(tp->tris, tris, (size_t)(3 * n_tris) * sizeof *tris);
    for (int64_t i = 0; i < 3 * n_tris; i++) tp->vf_ptr[tris[i] + 1]++;
    for (int64_t v = 0; v < n_verts; v++) tp->vf_ptr[v + 1] += tp->vf_ptr[v];
    int64_t *fill = malloc((size_t)n_verts * sizeof *fill);
    if (!fill) {
        hrn_topo_free(tp);
        return hrn_error_set(HRN_ERR_NOMEM, "topology: no memory");
    }
    memcpy(fill, tp->vf_ptr, (size_t)n_verts * sizeof *fill);
    for (int64_t f = 0; f < n_tris; f++) /* in triangle order: sums are deterministic */
        for (int k = 0; k < 3; k++) {
            int64_t s = fill[tris[3 * f + k]]++;
            tp->vf_face[s] = (int32_t)f;
            tp->vf_corner[s] = (int8_t)k;
        }
    free(fill);
    return HRN_OK;
}

/* --- shared helpers --------------------------------------------------------------------------- */

static int is_n3(const struct hrn_tensor *x) { return x->ndim == 2 && x->shape[1] == 3; }

/* fmaxf's result (the other operand when one is NaN) without its libm call, which baseline
 * x86-64 code makes for every fmaxf: once per triangle and vertex in the normals. */
static inline float max_f(float a, float b) { return a > b || b != b ? a : b; }

static struct hrn_tensor *bad_shape(const char *op, const struct hrn_tensor *x, const char *want) {
    char buf[64];
    hrn_error_set(HRN_ERR_INVALID, "%s: input %s has shape %s, expected %s", op,
                  x->name[0] ? x->name : "?", hrn_tensor_shape_str(x, buf, sizeof buf), want);
    return NULL;
}

/* --- rigid pose ------------------------------------------------------------------------------- */

struct rigid_ctx {
    int64_t aoff, toff;
    double R[9], dR[3][9]; /* R and dR/d(angle x, y, z) */
};

static void mat3_mul(const double *a, const double *b, double *o) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            o[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

static void rigid_setup(struct rigid_ctx *c, const float *ang) {
    double cx = cos((double)ang[0]), sx = sin((double)ang[0]);
    double cy = cos((double)ang[1]), sy = sin((double)ang[1]);
    double cz = cos((double)ang[2]), sz = sin((double)ang[2]);
    double Rx[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx}, dRx[9] = {0, 0, 0, 0, -sx, -cx, 0, cx, -sx};
    double Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy}, dRy[9] = {-sy, 0, cy, 0, 0, 0, -cy, 0, -sy};
    double Rz[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1}, dRz[9] = {-sz, -cz, 0, cz, -sz, 0, 0, 0, 0};
    double tmp[9];
    mat3_mul(Ry, Rx, tmp);
    mat3_mul(Rz, tmp, c->R);
    mat3_mul(Ry, dRx, tmp);
    mat3_mul(Rz, tmp, c->dR[0]);
    mat3_mul(dRy, Rx, tmp);
    mat3_mul(Rz, tmp, c->dR[1]);
    mat3_mul(Ry, Rx, tmp);
    mat3_mul(dRz, tmp, c->dR[2]);
}

static enum hrn_status rigid_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    struct rigid_ctx *c = hrn_custom_ctx(out);
    const float *v = out->src[0]->data, *p = out->src[1]->data;
    rigid_setup(c, p + c->aoff);
    float R[9], tr[3] = {p[c->toff], p[c->toff + 1], p[c->toff + 2]};
    for (int i = 0; i < 9; i++) R[i] = (float)c->R[i];
    int64_t n = out->shape[0];
    float *o = out->data;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_LIGHT)
    for (int64_t i = 0; i < n; i++) {
        float x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
        for (int r = 0; r < 3; r++)
            o[3 * i + r] = R[3 * r] * x + R[3 * r + 1] * y + R[3 * r + 2] * z + tr[r];
    }
    return HRN_OK;
}

enum { RIGID_BLK = 256 }; /* points per block: float sums over a block, then double */

static enum hrn_status rigid_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct rigid_ctx *c = hrn_custom_ctx(out);
    const float *v = out->src[0]->data, *g = out->grad;
    int64_t n = out->shape[0], nblk = (n + RIGID_BLK - 1) / RIGID_BLK;
    int wv = hrn_src_wants_grad(out, 0), wp = hrn_src_wants_grad(out, 1);
    float R[9], *gv = wv ? out->src[0]->grad : NULL;
    for (int i = 0; i < 9; i++) R[i] = (float)c->R[i];
    /* M = sum_i dout_i v_i^T (3x3) and dt = sum_i dout_i, per thread in order of the blocks */
    int nt = n > PAR_MIN_LIGHT ? omp_get_max_threads() : 1;
    double *part = hrn_tape_alloc(t, (size_t)nt * 12 * sizeof(double));
    if (!part) return HRN_ERR_NOMEM;
    memset(part, 0, (size_t)nt * 12 * sizeof(double));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        double *acc = part + 12 * omp_get_thread_num();
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t i0 = blk * RIGID_BLK, i1 = i0 + RIGID_BLK < n ? i0 + RIGID_BLK : n;
            if (gv) /* dv = dout * R */
                for (int64_t i = i0; i < i1; i++)
                    for (int k = 0; k < 3; k++)
                        gv[3 * i + k] +=
                            g[3 * i] * R[k] + g[3 * i + 1] * R[3 + k] + g[3 * i + 2] * R[6 + k];
            if (!wp) continue;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0, m4 = 0, m5 = 0, m6 = 0, m7 = 0, m8 = 0, t0 = 0,
                  t1 = 0, t2 = 0;
#pragma omp simd reduction(+ : m0, m1, m2, m3, m4, m5, m6, m7, m8, t0, t1, t2)
            for (int64_t i = i0; i < i1; i++) {
                float gx = g[3 * i], gy = g[3 * i + 1], gz = g[3 * i + 2];
                float x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
                m0 += gx * x; m1 += gx * y; m2 += gx * z;
                m3 += gy * x; m4 += gy * y; m5 += gy * z;
                m6 += gz * x; m7 += gz * y; m8 += gz * z;
                t0 += gx; t1 += gy; t2 += gz;
            }
            float mb[12] = {m0, m1, m2, m3, m4, m5, m6, m7, m8, t0, t1, t2};
            for (int k = 0; k < 12; k++) acc[k] += (double)mb[k];
        }
    }
    if (wp) {
        double M[12] = {0};
        for (int i = 0; i < nt; i++)
            for (int k = 0; k < 12; k++) M[k] += part[12 * i + k];
        float *gp = out->src[1]->grad;
        for (int a = 0; a < 3; a++) {
            double s = 0;
            for (int i = 0; i < 9; i++) s += c->dR[a][i] * M[i];
            gp[c->aoff + a] += (float)s;
            gp[c->toff + a] += (float)M[9 + a];
        }
    }
    return HRN_OK;
}

static const struct hrn_custom_op RIGID_OP = {"rigid", rigid_fwd, rigid_bwd, 0};

struct hrn_tensor *hrn_rigid_op(struct hrn_tape *t, struct hrn_tensor *v, struct hrn_tensor *p,
                                int64_t angle_off, int64_t trans_off) {
    struct hrn_tensor *src[2] = {v, p};
    if (!v || !p) return hrn_custom(t, &RIGID_OP, NULL, src, 2, 1, (int64_t[]){1});
    if (!is_n3(v)) return bad_shape("rigid", v, "(N,3)");
    if (p->ndim != 1 || angle_off < 0 || trans_off < 0 || angle_off + 3 > p->shape[0] ||
        trans_off + 3 > p->shape[0])
        return bad_shape("rigid", p, "a vector holding the angles and translation");
    struct rigid_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    c->aoff = angle_off;
    c->toff = trans_off;
    return hrn_custom(t, &RIGID_OP, c, src, 2, 2, v->shape);
}

/* --- camera ----------------------------------------------------------------------------------- */

static enum hrn_status project_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct hrn_camera *cam = hrn_custom_ctx(out);
    const float *v = out->src[0]->data;
    float *o = out->data;
    int64_t n = out->shape[0];
    for (int64_t i = 0; i < n; i++) {
        float zc = cam->camera_d - v[3 * i + 2];
        o[3 * i] = cam->focal * v[3 * i] / zc + cam->cx;
        o[3 * i + 1] = cam->focal * v[3 * i + 1] / zc + cam->cy;
        o[3 * i + 2] = zc;
    }
    return HRN_OK;
}

static enum hrn_status project_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct hrn_camera *cam = hrn_custom_ctx(out);
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const float *v = out->src[0]->data, *g = out->grad;
    float *gv = out->src[0]->grad;
    int64_t n = out->shape[0];
    for (int64_t i = 0; i < n; i++) {
        float zc = cam->camera_d - v[3 * i + 2], iz = 1.0f / zc;
        float gu = g[3 * i], gvv = g[3 * i + 1];
        gv[3 * i] += gu * cam->focal * iz;
        gv[3 * i + 1] += gvv * cam->focal * iz;
        /* du/dz = f x / zc^2 (dz_c/dz = -1), dz_c/dz = -1 */
        gv[3 * i + 2] += (gu * v[3 * i] + gvv * v[3 * i + 1]) * cam->focal * iz * iz -
                         g[3 * i + 2];
    }
    return HRN_OK;
}

static const struct hrn_custom_op PROJECT_OP = {"project", project_fwd, project_bwd, 0};

struct hrn_tensor *hrn_project_op(struct hrn_tape *t, const struct hrn_camera *cam,
                                  struct hrn_tensor *v) {
    if (!v) return hrn_custom(t, &PROJECT_OP, NULL, &v, 1, 1, (int64_t[]){1});
    if (!is_n3(v)) return bad_shape("project", v, "(N,3)");
    struct hrn_camera *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    *c = *cam;
    return hrn_custom(t, &PROJECT_OP, c, &v, 1, 2, v->shape);
}

/* --- vertex normals ----------------------------------------------------------------------------- */

struct normals_ctx {
    const struct hrn_topo *tp;
    int mode;
    int64_t sv, sc;    /* element (v, c) at v*sv + c*sc */
    float *fn;         /* (T,3) face normal as summed (unit or area-weighted) */
    float *flen;       /* (T) |cross| */
    float *vs;         /* (N,3) the vertex sums before normalisation */
};

static enum hrn_status normals_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    struct normals_ctx *c = hrn_custom_ctx(out);
    const struct hrn_topo *tp = c->tp;
    int64_t T = tp->n_tris, N = tp->n_verts, sv = c->sv, sc = c->sc;
    c->fn = hrn_tape_alloc(t, (size_t)(3 * T) * sizeof(float));
    c->flen = hrn_tape_alloc(t, (size_t)T * sizeof(float));
    c->vs = hrn_tape_alloc(t, (size_t)(3 * N) * sizeof(float));
    if (!c->fn || !c->flen || !c->vs) return HRN_ERR_NOMEM;
    const float *x = out->src[0]->data;
    int unit = (c->mode & 1) == HRN_NORMALS_HRN;
    float *fn = c->fn, *flen = c->flen, *vs = c->vs, *o = out->data;
    const int32_t *tris = tp->tris;
#pragma omp parallel for schedule(static) if (T > PAR_MIN)
    for (int64_t f = 0; f < T; f++) {
        int64_t a = tris[3 * f], b = tris[3 * f + 1], d = tris[3 * f + 2];
        float e1[3], e2[3];
        for (int k = 0; k < 3; k++) {
            e1[k] = x[b * sv + k * sc] - x[a * sv + k * sc];
            e2[k] = x[d * sv + k * sc] - x[a * sv + k * sc];
        }
        float n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                      e1[0] * e2[1] - e1[1] * e2[0]};
        float len = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        flen[f] = len;
        /* F.normalize: n / max(|n|, 1e-12) */
        float s = unit ? 1.0f / max_f(len, 1e-12f) : 1.0f;
        for (int k = 0; k < 3; k++) fn[3 * f + k] = n[k] * s;
    }
    float eps = unit ? 1e-12f : 1e-6f;
    float flip = (c->mode & HRN_NORMALS_FLIP_XY) ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if (N > PAR_MIN)
    for (int64_t v = 0; v < N; v++) {
        float s[3] = {0, 0, 0};
        for (int64_t j = tp->vf_ptr[v]; j < tp->vf_ptr[v + 1]; j++) {
            const float *n = fn + 3 * tp->vf_face[j];
            s[0] += n[0];
            s[1] += n[1];
            s[2] += n[2];
        }
        float len = sqrtf(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
        float inv = 1.0f / max_f(len, eps);
        for (int k = 0; k < 3; k++) vs[3 * v + k] = s[k];
        o[v * sv] = flip * s[0] * inv;
        o[v * sv + sc] = flip * s[1] * inv;
        o[v * sv + 2 * sc] = s[2] * inv;
    }
    return HRN_OK;
}

static enum hrn_status normals_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct normals_ctx *c = hrn_custom_ctx(out);
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct hrn_topo *tp = c->tp;
    int64_t T = tp->n_tris, N = tp->n_verts, sv = c->sv, sc = c->sc;
    int unit = (c->mode & 1) == HRN_NORMALS_HRN;
    float eps = unit ? 1e-12f : 1e-6f;
    float flip = (c->mode & HRN_NORMALS_FLIP_XY) ? -1.0f : 1.0f;
    float *gs = hrn_tape_alloc(t, (size_t)(3 * N) * sizeof(float));  /* d/d(vertex sum) */
    float *ge = hrn_tape_alloc(t, (size_t)(6 * T) * sizeof(float));  /* d/d e1, d/d e2 per face */
    if (!gs || !ge) return HRN_ERR_NOMEM;
    const float *g = out->grad, *x = out->src[0]->data, *vs = c->vs, *fn = c->fn;
    float *gx = out->src[0]->grad;
    const int32_t *tris = tp->tris;
#pragma omp parallel for schedule(static) if (N > PAR_MIN)
    for (int64_t v = 0; v < N; v++) {
        const float *s = vs + 3 * v;
        float gn[3] = {flip * g[v * sv], flip * g[v * sv + sc], g[v * sv + 2 * sc]};
        float len = sqrtf(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
        if (len > eps) { /* d(s/|s|) = (g - n (n.g)) / |s| */
            float n[3] = {s[0] / len, s[1] / len, s[2] / len};
            float d = n[0] * gn[0] + n[1] * gn[1] + n[2] * gn[2];
            for (int k = 0; k < 3; k++) gs[3 * v + k] = (gn[k] - n[k] * d) / len;
        } else {
            for (int k = 0; k < 3; k++) gs[3 * v + k] = gn[k] / eps;
        }
    }
#pragma omp parallel for schedule(static) if (T > PAR_MIN)
    for (int64_t f = 0; f < T; f++) {
        int64_t a = tris[3 * f], b = tris[3 * f + 1], d = tris[3 * f + 2];
        float gu[3];
        for (int k = 0; k < 3; k++) gu[k] = gs[3 * a + k] + gs[3 * b + k] + gs[3 * d + k];
        float gc[3] = {gu[0], gu[1], gu[2]};
        if (unit) {
            float len = c->flen[f];
            if (len > 1e-12f) {
                const float *u = fn + 3 * f;
                float dd = u[0] * gu[0] + u[1] * gu[1] + u[2] * gu[2];
                for (int k = 0; k < 3; k++) gc[k] = (gu[k] - u[k] * dd) / len;
            } else {
                for (int k = 0; k < 3; k++) gc[k] = gu[k] / 1e-12f;
            }
        }
        float e1[3], e2[3];
        for (int k = 0; k < 3; k++) {
            e1[k] = x[b * sv + k * sc] - x[a * sv + k * sc];
            e2[k] = x[d * sv + k * sc] - x[a * sv + k * sc];
        }
        /* n = e1 x e2: g_e1 = e2 x g, g_e2 = g x e1 */
        float *o = ge + 6 * f;
        o[0] = e2[1] * gc[2] - e2[2] * gc[1];
        o[1] = e2[2] * gc[0] - e2[0] * gc[2];
        o[2] = e2[0] * gc[1] - e2[1] * gc[0];
        o[3] = gc[1] * e1[2] - gc[2] * e1[1];
        o[4] = gc[2] * e1[0] - gc[0] * e1[2];
        o[5] = gc[0] * e1[1] - gc[1] * e1[0];
    }
#pragma omp parallel for schedule(static) if (N > PAR_MIN)
    for (int64_t v = 0; v < N; v++) {
        float s[3] = {0, 0, 0};
        for (int64_t j = tp->vf_ptr[v]; j < tp->vf_ptr[v + 1]; j++) {
            const float *o = ge + 6 * tp->vf_face[j];
            switch (tp->vf_corner[j]) {
            case 0:
                for (int k = 0; k < 3; k++) s[k] -= o[k] + o[3 + k];
                break;
            case 1:
                for (int k = 0; k < 3; k++) s[k] += o[k];
                break;
            default:
                for (int k = 0; k < 3; k++) s[k] += o[3 + k];
                break;
            }
        }
        for (int k = 0; k < 3; k++) gx[v * sv + k * sc] += s[k];
    }
    return HRN_OK;
}

static const struct hrn_custom_op NORMALS_OP = {"vertex_normals", normals_fwd, normals_bwd, 0};

struct hrn_tensor *hrn_normals_op(struct hrn_tape *t, const struct hrn_topo *tp,
                                  struct hrn_tensor *v, int mode) {
    if (!v) return hrn_custom(t, &NORMALS_OP, NULL, &v, 1, 1, (int64_t[]){1});
    struct normals_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->tp = tp;
    c->mode = mode;
    if (is_n3(v) && v->shape[0] == tp->n_verts) {
        c->sv = 3;
        c->sc = 1;
    } else if (v->ndim == 3 && v->shape[0] == 3 && v->shape[1] * v->shape[2] == tp->n_verts) {
        c->sv = 1;
        c->sc = tp->n_verts;
    } else {
        return bad_shape("vertex_normals", v, "(N,3) or (3,H,W) with N = H*W the topology's size");
    }
    return hrn_custom(t, &NORMALS_OP, c, &v, 1, v->ndim, v->shape);
}

/* --- SH lighting ----------------------------------------------------------------------------- */

/* HRN's constants (hrn_method.md 1.6), as in hrn_sh_basis */
#define SH_A0C0 0.88622692545275801
#define SH_A1C1 1.7724538509055160
#define SH_A2C2 2.4270324220536684

struct sh_ctx {
    int64_t goff, n, s; /* n elements, stride s between channels (1 for (3,HW): s = n) */
    int64_t sv;         /* element stride (3 interleaved, 1 planar) */
};

/* The SH kernels run over blocks of SHB elements gathered into structure-of-arrays temporaries:
 * the per-element arithmetic then vectorises across elements whatever the layout (interleaved
 * (N,3) or planar (3,H,W)), and the 27 gamma-gradient sums are float sums over a block added
 * into double. */
enum { SHB = 64 };

/* v[ch][r] = p[(i0 + r) sv + ch s] for r < m, 0 beyond */
static inline void sh_gather(const float *p, int64_t i0, int64_t m, int64_t sv, int64_t s,
                             float v[3][SHB]) {
    for (int ch = 0; ch < 3; ch++)
        for (int64_t r = 0; r < SHB; r++) v[ch][r] = r < m ? p[(i0 + r) * sv + ch * s] : 0.0f;
}

/* Y (9,SHB) of the normals n (3,SHB): sh_basis per element */
static inline void sh_basis_block(float n[3][SHB], float Y[9][SHB]) {
    const float c0 = (float)SH_A0C0, c1 = (float)SH_A1C1, c2 = (float)SH_A2C2;
    const float c6 = (float)(0.5 * SH_A2C2 / 1.7320508075688772);
#pragma omp simd
    for (int64_t r = 0; r < SHB; r++) {
        float x = n[0][r], y = n[1][r], z = n[2][r];
        Y[0][r] = c0;
        Y[1][r] = -c1 * y;
        Y[2][r] = c1 * z;
        Y[3][r] = -c1 * x;
        Y[4][r] = c2 * x * y;
        Y[5][r] = -c2 * y * z;
        Y[6][r] = c6 * (3 * z * z - 1);
        Y[7][r] = -c2 * x * z;
        Y[8][r] = 0.5f * c2 * (x * x - y * y);
    }
}

static enum hrn_status sh_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct sh_ctx *c = hrn_custom_ctx(out);
    const float *nr = out->src[0]->data, *al = out->src[1]->data, *gp = out->src[2]->data + c->goff;
    float g[27];
    for (int i = 0; i < 27; i++) g[i] = gp[i] + (i % 9 == 0 ? 0.8f : 0.0f);
    int64_t n = c->n, sv = c->sv, s = c->s, nblk = (n + SHB - 1) / SHB;
    float *o = out->data;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t i0 = blk * SHB, m = n - i0 < SHB ? n - i0 : SHB;
        float N3[3][SHB], A[3][SHB], Y[9][SHB], O[3][SHB];
        sh_gather(nr, i0, m, sv, s, N3);
        sh_gather(al, i0, m, sv, s, A);
        sh_basis_block(N3, Y);
        for (int ch = 0; ch < 3; ch++) {
            const float *gg = g + 9 * ch;
#pragma omp simd
            for (int64_t r = 0; r < SHB; r++) {
                float acc = 0;
                for (int k = 0; k < 9; k++) acc += Y[k][r] * gg[k];
                O[ch][r] = acc * A[ch][r];
            }
        }
        for (int64_t r = 0; r < m; r++)
            for (int ch = 0; ch < 3; ch++) o[(i0 + r) * sv + ch * s] = O[ch][r];
    }
    return HRN_OK;
}

static enum hrn_status sh_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct sh_ctx *c = hrn_custom_ctx(out);
    const float *nr = out->src[0]->data, *al = out->src[1]->data, *gp = out->src[2]->data + c->goff;
    const float *go = out->grad;
    float g[27];
    for (int i = 0; i < 27; i++) g[i] = gp[i] + (i % 9 == 0 ? 0.8f : 0.0f);
    int wn = hrn_src_wants_grad(out, 0), wa = hrn_src_wants_grad(out, 1),
        wg = hrn_src_wants_grad(out, 2);
    float *gn = wn ? out->src[0]->grad : NULL, *ga = wa ? out->src[1]->grad : NULL;
    int64_t n = c->n, sv = c->sv, s = c->s, nblk = (n + SHB - 1) / SHB;
    const float c1 = (float)SH_A1C1, c2 = (float)SH_A2C2;
    const float c6 = (float)(0.5 * SH_A2C2 / 1.7320508075688772);
    int nt = n > PAR_MIN ? omp_get_max_threads() : 1;
    double *part = hrn_tape_alloc(t, (size_t)nt * 27 * sizeof(double));
    if (!part) return HRN_ERR_NOMEM;
    memset(part, 0, (size_t)nt * 27 * sizeof(double));
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        double *loc = part + 27 * omp_get_thread_num();
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t i0 = blk * SHB, m = n - i0 < SHB ? n - i0 : SHB;
            float N3[3][SHB], A[3][SHB], GO[3][SHB], Y[9][SHB], W[3][SHB], R[3][SHB];
            sh_gather(nr, i0, m, sv, s, N3);
            sh_gather(al, i0, m, sv, s, A);
            sh_gather(go, i0, m, sv, s, GO);
            sh_basis_block(N3, Y);
            for (int ch = 0; ch < 3; ch++)
#pragma omp simd
                for (int64_t r = 0; r < SHB; r++) W[ch][r] = GO[ch][r] * A[ch][r]; /* d/d shading */
            if (wg)
                for (int ch = 0; ch < 3; ch++)
                    for (int k = 0; k < 9; k++) {
                        float acc = 0;
#pragma omp simd reduction(+ : acc)
                        for (int64_t r = 0; r < SHB; r++) acc += W[ch][r] * Y[k][r];
                        loc[9 * ch + k] += (double)acc;
                    }
            if (ga) {
                for (int ch = 0; ch < 3; ch++) {
                    const float *gg = g + 9 * ch;
#pragma omp simd
                    for (int64_t r = 0; r < SHB; r++) {
                        float acc = 0;
                        for (int k = 0; k < 9; k++) acc += Y[k][r] * gg[k];
                        R[ch][r] = GO[ch][r] * acc;
                    }
                }
                for (int64_t r = 0; r < m; r++)
                    for (int ch = 0; ch < 3; ch++) ga[(i0 + r) * sv + ch * s] += R[ch][r];
            }
            if (gn) {
#pragma omp simd
                for (int64_t r = 0; r < SHB; r++) {
                    float x = N3[0][r], y = N3[1][r], z = N3[2][r];
                    float dx = 0, dy = 0, dz = 0;
                    for (int ch = 0; ch < 3; ch++) {
                        const float *gg = g + 9 * ch;
                        float w = W[ch][r];
                        /* dY/dx, dY/dy, dY/dz of bands 1..8 */
                        dx += w * (-c1 * gg[3] + c2 * y * gg[4] - c2 * z * gg[7] + c2 * x * gg[8]);
                        dy += w * (-c1 * gg[1] + c2 * x * gg[4] - c2 * z * gg[5] - c2 * y * gg[8]);
                        dz += w * (c1 * gg[2] - c2 * y * gg[5] + 6 * c6 * z * gg[6] - c2 * x * gg[7]);
                    }
                    R[0][r] = dx;
                    R[1][r] = dy;
                    R[2][r] = dz;
                }
                for (int64_t r = 0; r < m; r++)
                    for (int ch = 0; ch < 3; ch++) gn[(i0 + r) * sv + ch * s] += R[ch][r];
            }
        }
    }
    if (wg)
        for (int k = 0; k < 27; k++) {
            double acc = 0;
            for (int i = 0; i < nt; i++) acc += part[27 * i + k];
            out->src[2]->grad[c->goff + k] += (float)acc;
        }
    return HRN_OK;
}

static const struct hrn_custom_op SH_OP = {"sh_light", sh_fwd, sh_bwd, 0};

struct hrn_tensor *hrn_sh_op(struct hrn_tape *t, struct hrn_tensor *normals,
                             struct hrn_tensor *albedo, struct hrn_tensor *p, int64_t gamma_off) {
    struct hrn_tensor *src[3] = {normals, albedo, p};
    if (!normals || !albedo || !p) return hrn_custom(t, &SH_OP, NULL, src, 3, 1, (int64_t[]){1});
    if (!hrn_tensor_same_shape(normals, albedo))
        return bad_shape("sh_light", albedo, "the normals' shape");
    if (p->ndim != 1 || gamma_off < 0 || gamma_off + 27 > p->shape[0])
        return bad_shape("sh_light", p, "a vector holding 27 gamma values");
    struct sh_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    c->goff = gamma_off;
    if (is_n3(normals)) {
        c->n = normals->shape[0];
        c->sv = 3;
        c->s = 1;
    } else if (normals->ndim == 3 && normals->shape[0] == 3) {
        c->n = normals->shape[1] * normals->shape[2];
        c->sv = 1;
        c->s = c->n;
    } else {
        return bad_shape("sh_light", normals, "(N,3) or (3,H,W)");
    }
    return hrn_custom(t, &SH_OP, c, src, 3, normals->ndim, normals->shape);
}
