/* uv_ops.c: the UV operators of HRN's hierarchical geometry (hrn_method.md 1.5, 2.2-2.5):
 * world2uv and the deformation-map sampler as fixed sparse matrices (built once per model and
 * resolution; world2uv applied by its own op, the sampler with hrn_spmm), the texture unwrapping get_texture_map as a custom op, and
 * the UV grid mesh with the detail normals of displacement2normal composed from autodiff ops. */
#include "hrn_model.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static struct hrn_tensor *bad_shape(const char *op, const struct hrn_tensor *x, const char *want) {
    char buf[64];
    hrn_error_set(HRN_ERR_INVALID, "%s: input %s has shape %s, expected %s", op,
                  x->name[0] ? x->name : "?", hrn_tensor_shape_str(x, buf, sizeof buf), want);
    return NULL;
}

/* uv of corner k of triangle f (through the UV table when the model has one) */
static const float *corner_uv(const struct hrn_face_model *fm, int64_t f, int k) {
    int32_t i = fm->tri_uvs ? fm->tri_uvs[3 * f + k] : fm->tris[3 * f + k];
    return fm->uvs + 2 * i;
}

/* --- world2uv --------------------------------------------------------------------------------- */

void hrn_uv_map_free(struct hrn_uv_map *m) {
    if (!m) return;
    hrn_csr_free(&m->op);
    free(m->texel_tri);
    free(m->texel_bary);
    free(m->mask);
    memset(m, 0, sizeof *m);
}

enum hrn_status hrn_uv_map_init(struct hrn_uv_map *m, const struct hrn_face_model *fm, int res) {
    enum hrn_status st = HRN_OK;
    memset(m, 0, sizeof *m);
    int64_t *rowptr = NULL;
    int32_t *col = NULL;
    float *val = NULL;
    if (!fm->uvs || res < 2 || res > 8192)
        return hrn_error_set(HRN_ERR_INVALID, "uv map: model %s %s (resolution %d)", fm->name,
                             fm->uvs ? "has uvs" : "has no uvs", res);
    int64_t R = res, nt = R * R;
    m->res = res;
    m->n_verts = fm->n_verts;
    m->texel_tri = malloc((size_t)nt * sizeof *m->texel_tri);
    m->texel_bary = calloc((size_t)nt * 3, sizeof *m->texel_bary);
    m->mask = calloc((size_t)nt, sizeof *m->mask);
    rowptr = malloc((size_t)(nt + 1) * sizeof *rowptr);
    if (!m->texel_tri || !m->texel_bary || !m->mask || !rowptr) goto nomem;
    for (int64_t i = 0; i < nt; i++) m->texel_tri[i] = -1;
    /* Texel (i, j) samples (u, v) = ((j+0.5)/R, 1-(i+0.5)/R): in texel coordinates a uv point is
     * at x = u*R - 0.5, y = (1-v)*R - 0.5. The first triangle containing a centre keeps it. */
    for (int64_t f = 0; f < fm->n_tris; f++) {
        double p[3][2];
        for (int k = 0; k < 3; k++) {
            const float *uv = corner_uv(fm, f, k);
            p[k][0] = (double)uv[0] * (double)R - 0.5;
            p[k][1] = (1.0 - (double)uv[1]) * (double)R - 0.5;
        }
        double e1x = p[1][0] - p[0][0], e1y = p[1][1] - p[0][1];
        double e2x = p[2][0] - p[0][0], e2y = p[2][1] - p[0][1];
        double D = e1x * e2y - e1y * e2x;
        if (D == 0) continue;
        int x0 = (int)fmax(ceil(fmin(p[0][0], fmin(p[1][0], p[2][0]))), 0);
        int x1 = (int)fmin(floor(fmax(p[0][0], fmax(p[1][0], p[2][0]))), (double)R - 1);
        int y0 = (int)fmax(ceil(fmin(p[0][1], fmin(p[1][1], p[2][1]))), 0);
        int y1 = (int)fmin(floor(fmax(p[0][1], fmax(p[1][1], p[2][1]))), (double)R - 1);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                int64_t tx = (int64_t)y * R + x;
                if (m->texel_tri[tx] >= 0) continue;
                double rx = x - p[0][0], ry = y - p[0][1];
                double l1 = (rx * e2y - ry * e2x) / D, l2 = (e1x * ry - e1y * rx) / D;
                double l0 = 1 - l1 - l2;
                if (l0 < 0 || l1 < 0 || l2 < 0) continue;
                m->texel_tri[tx] = (int32_t)f;
                m->texel_bary[3 * tx] = (float)l0;
                m->texel_bary[3 * tx + 1] = (float)l1;
                m->texel_bary[3 * tx + 2] = (float)l2;
                m->mask[tx] = 1;
            }
    }
    int64_t nnz = 0;
    for (int64_t i = 0; i < nt; i++) nnz += m->texel_tri[i] >= 0 ? 3 : 0;
    col = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *col);
    val = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *val);
    if (!col || !val) goto nomem;
    rowptr[0] = 0;
    for (int64_t i = 0, k = 0; i < nt; i++) {
        int32_t f = m->texel_tri[i];
        if (f >= 0)
            for (int c = 0; c < 3; c++, k++) {
                col[k] = fm->tris[3 * f + c];
                val[k] = m->texel_bary[3 * i + c];
            }
        rowptr[i + 1] = k;
    }
    HRN_TRY(hrn_csr_init(&m->op, nt, fm->n_verts, rowptr, col, val));
    free(rowptr);
    free(col);
    free(val);
    return HRN_OK;
nomem:
    st = hrn_error_set(HRN_ERR_NOMEM, "uv map: no memory for %dx%d texels", res, res);
fail:
    free(rowptr);
    free(col);
    free(val);
    hrn_uv_map_free(m);
    return st;
}

/* world2uv as one op (it was spmm -> transpose -> reshape: two extra passes and gradient buffers
 * over (C,R,R) per call, three calls per view in a high-level fitting step). Forward: texel p of
 * channel c = sum over row p of the sampler of val * attr[col, c], in the row's order (as spmm).
 * Backward: a gather over the transpose, vertex by vertex (deterministic, no scatter). */
enum { W2UV_PAR = 1 << 16 }; /* nonzeros x channels from which OpenMP is used */

static enum hrn_status w2uv_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct hrn_csr *a = hrn_custom_ctx(out);
    const float *x = out->src[0]->data;
    int64_t C = out->shape[0], P = a->rows;
    float *o = out->data;
#pragma omp parallel for schedule(static) if (a->nnz * C >= W2UV_PAR)
    for (int64_t p = 0; p < P; p++) {
        float acc[4] = {0, 0, 0, 0};
        if (C <= 4) {
            for (int64_t k = a->rowptr[p]; k < a->rowptr[p + 1]; k++) {
                const float v = a->val[k], *xr = x + (int64_t)a->col[k] * C;
                for (int64_t c = 0; c < C; c++) acc[c] += v * xr[c];
            }
            for (int64_t c = 0; c < C; c++) o[c * P + p] = acc[c];
        } else {
            for (int64_t c = 0; c < C; c++) {
                float s = 0;
                for (int64_t k = a->rowptr[p]; k < a->rowptr[p + 1]; k++)
                    s += a->val[k] * x[(int64_t)a->col[k] * C + c];
                o[c * P + p] = s;
            }
        }
    }
    return HRN_OK;
}

static enum hrn_status w2uv_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    if (!hrn_src_wants_grad(out, 0)) return HRN_OK;
    const struct hrn_csr *a = hrn_custom_ctx(out);
    const float *g = out->grad;
    float *gx = out->src[0]->grad;
    int64_t C = out->shape[0], P = a->rows, N = a->cols;
#pragma omp parallel for schedule(static) if (a->nnz * C >= W2UV_PAR)
    for (int64_t v = 0; v < N; v++)
        for (int64_t c = 0; c < C; c++) {
            float s = gx[v * C + c];
            for (int64_t k = a->t_rowptr[v]; k < a->t_rowptr[v + 1]; k++)
                s += a->t_val[k] * g[c * P + a->t_col[k]];
            gx[v * C + c] = s;
        }
    return HRN_OK;
}

static const struct hrn_custom_op W2UV_OP = {"world2uv", w2uv_fwd, w2uv_bwd, 0};

struct hrn_tensor *hrn_world2uv(struct hrn_tape *t, const struct hrn_uv_map *m,
                                struct hrn_tensor *attr) {
    if (!attr) return hrn_custom(t, &W2UV_OP, NULL, &attr, 1, 1, (int64_t[]){1});
    if (attr->ndim != 2 || attr->shape[0] != m->n_verts)
        return bad_shape("world2uv", attr, "(N,C) per-vertex values of the map's model");
    return hrn_custom(t, &W2UV_OP, (void *)&m->op, &attr, 1, 3,
                      (int64_t[]){attr->shape[1], m->res, m->res}); /* (C, R, R) */
}

/* --- deformation map -> vertices (add_nonlinear_offset) ------------------------------------- */

enum hrn_status hrn_uv_sampler_init(struct hrn_csr *a, const struct hrn_face_model *fm, int res) {
    memset(a, 0, sizeof *a);
    if (!fm->uvs || res < 2)
        return hrn_error_set(HRN_ERR_INVALID, "uv sampler: model %s %s (resolution %d)", fm->name,
                             fm->uvs ? "has uvs" : "has no uvs", res);
    int64_t N = fm->n_verts;
    float *vuv = malloc((size_t)(2 * N) * sizeof *vuv);
    int32_t *row = malloc((size_t)(4 * N) * sizeof *row), *col = malloc((size_t)(4 * N) * sizeof *col);
    float *val = malloc((size_t)(4 * N) * sizeof *val);
    enum hrn_status st = HRN_OK;
    if (!vuv || !row || !col || !val) {
        st = hrn_error_set(HRN_ERR_NOMEM, "uv sampler: no memory for %lld vertices", (long long)N);
        goto done;
    }
    if (fm->tri_uvs) { /* a UV table: each vertex takes the uv of its first corner */
        for (int64_t i = 0; i < 2 * N; i++) vuv[i] = 0;
        char *seen = calloc((size_t)N, 1);
        if (!seen) {
            st = hrn_error_set(HRN_ERR_NOMEM, "uv sampler: no memory");
            goto done;
        }
        for (int64_t i = 0; i < 3 * fm->n_tris; i++) {
            int32_t v = fm->tris[i];
            if (seen[v]) continue;
            seen[v] = 1;
            vuv[2 * v] = fm->uvs[2 * fm->tri_uvs[i]];
            vuv[2 * v + 1] = fm->uvs[2 * fm->tri_uvs[i] + 1];
        }
        free(seen);
    } else {
        memcpy(vuv, fm->uvs, (size_t)(2 * N) * sizeof *vuv);
    }
    int64_t h = res, w = res;
    for (int64_t v = 0; v < N; v++) {
        /* hrn_method.md 2.2: texel centres at integer u*w and at the upper edge in v */
        double U = (double)vuv[2 * v] * (double)w, Vv = (double)vuv[2 * v + 1] * (double)h;
        double iu = floor(U), iv = floor(Vv), fu = U - iu, fv = Vv - iv;
#define CL(x) ((int64_t)((x) < 0 ? 0 : (x) > h - 1 ? h - 1 : (x)))
        int64_t rt_ = CL(h - 1 - (int64_t)iv), rb_ = CL(h - (int64_t)iv);
        int64_t cl_ = CL((int64_t)iu), cr_ = CL((int64_t)iu + 1);
#undef CL
        int64_t cols[4] = {rt_ * w + cl_, rb_ * w + cl_, rt_ * w + cr_, rb_ * w + cr_};
        double wts[4] = {(1 - fu) * fv, (1 - fu) * (1 - fv), fu * fv, fu * (1 - fv)};
        for (int k = 0; k < 4; k++) {
            row[4 * v + k] = (int32_t)v;
            col[4 * v + k] = (int32_t)cols[k];
            val[4 * v + k] = (float)wts[k];
        }
    }
    st = hrn_csr_from_coo(a, N, h * w, 4 * N, row, col, val);
done:
    free(vuv);
    free(row);
    free(col);
    free(val);
    return st;
}

struct hrn_tensor *hrn_uv_to_vertex(struct hrn_tape *t, const struct hrn_csr *a,
                                    struct hrn_tensor *map) {
    if (map && (map->ndim != 3 || map->shape[1] * map->shape[2] != a->cols))
        return bad_shape("uv_to_vertex", map, "(C,R,R) at the sampler's resolution");
    int64_t C = map ? map->shape[0] : 1;
    struct hrn_tensor *x = hrn_reshape(t, map, 3, (int64_t[]){C, a->cols, 1});
    x = hrn_spmm(t, a, x);                                   /* (C, N, 1) */
    x = hrn_reshape(t, x, 2, (int64_t[]){C, a->rows});
    return hrn_transpose(t, x, 0, 1);                        /* (N, C) */
}

/* --- get_texture_map -------------------------------------------------------------------------- */

struct unwrap_ctx {
    const struct hrn_uv_map *m;
    struct hrn_camera cam;
};

struct unwrap_px {
    int64_t iy0, iy1, ix0, ix1; /* clamped rows/cols */
    float fx, fy;
    float dx_dX, dx_dZ, dy_dY, dy_dZ; /* d x_img / d world, d y_img / d world (0 outside) */
};

static struct unwrap_px unwrap_setup(const struct unwrap_ctx *c, const float *pm, int64_t tn,
                                     int64_t tx, int64_t H, int64_t W) {
    struct unwrap_px q = {0};
    double x = 0, y = 0; /* image coordinates before the vertical flip */
    const struct hrn_camera *cam = &c->cam;
    double sx = (double)W / (double)cam->width, sy = (double)H / (double)cam->height;
    if (c->m->mask[tx] > 0) {
        double X = pm[tx], Y = pm[tn + tx], zc = (double)cam->camera_d - (double)pm[2 * tn + tx];
        x = ((double)cam->focal * X / zc + (double)cam->cx) * sx;
        y = ((double)cam->focal * Y / zc + (double)cam->cy) * sy;
        if (isfinite(x) && isfinite(y)) {
            q.dx_dX = (float)((double)cam->focal / zc * sx);
            q.dx_dZ = (float)((double)cam->focal * X / (zc * zc) * sx);
            q.dy_dY = (float)(-(double)cam->focal / zc * sy); /* y_img = H-1-y */
            q.dy_dZ = (float)(-(double)cam->focal * Y / (zc * zc) * sy);
        }
    }
    /* HRN: NaN -> 0 (outside the chart the position is 0 in camera space) */
    if (!isfinite(x)) x = 0;
    if (!isfinite(y)) y = 0;
    double yi = (double)H - 1 - y;
    double fx0 = floor(x), fy0 = floor(yi);
    q.fx = (float)(x - fx0);
    q.fy = (float)(yi - fy0);
#define CLH(v) ((v) < 0 ? 0 : (v) > H - 1 ? H - 1 : (v))
#define CLW(v) ((v) < 0 ? 0 : (v) > W - 1 ? W - 1 : (v))
    double ix = fmax(fmin(fx0, 1e9), -1e9), iy = fmax(fmin(fy0, 1e9), -1e9);
    q.ix0 = CLW((int64_t)ix);
    q.ix1 = CLW((int64_t)ix + 1);
    q.iy0 = CLH((int64_t)iy);
    q.iy1 = CLH((int64_t)iy + 1);
#undef CLH
#undef CLW
    return q;
}

static enum hrn_status unwrap_fwd(struct hrn_tape *t, struct hrn_tensor *out) {
    (void)t;
    const struct unwrap_ctx *c = hrn_custom_ctx(out);
    const struct hrn_tensor *img = out->src[1];
    const float *pm = out->src[0]->data, *I = img->data;
    int64_t C = img->shape[0], H = img->shape[1], W = img->shape[2], np = H * W;
    int64_t tn = (int64_t)c->m->res * c->m->res;
    float *o = out->data;
#pragma omp parallel for schedule(static) if (tn > 16384)
    for (int64_t tx = 0; tx < tn; tx++) {
        struct unwrap_px q = unwrap_setup(c, pm, tn, tx, H, W);
        for (int64_t ch = 0; ch < C; ch++) {
            const float *P = I + ch * np;
            /* HRN's swapped vertical weights (hrn_method.md 2.5) */
            o[ch * tn + tx] = P[q.iy0 * W + q.ix0] * (1 - q.fx) * q.fy +
                              P[q.iy1 * W + q.ix0] * (1 - q.fx) * (1 - q.fy) +
                              P[q.iy0 * W + q.ix1] * q.fx * q.fy +
                              P[q.iy1 * W + q.ix1] * q.fx * (1 - q.fy);
        }
    }
    return HRN_OK;
}

static enum hrn_status unwrap_bwd(struct hrn_tape *t, struct hrn_tensor *out) {
    const struct unwrap_ctx *c = hrn_custom_ctx(out);
    struct hrn_tensor *img = out->src[1], *pmt = out->src[0];
    const float *pm = pmt->data, *I = img->data, *g = out->grad;
    int64_t C = img->shape[0], H = img->shape[1], W = img->shape[2], np = H * W;
    int64_t tn = (int64_t)c->m->res * c->m->res;
    int wp = hrn_src_wants_grad(out, 0), wi = hrn_src_wants_grad(out, 1);
    int nt = tn > 16384 ? omp_get_max_threads() : 1;
    float *bufs = NULL;
    if (wi) {
        bufs = hrn_tape_alloc(t, (size_t)nt * (size_t)(C * np) * sizeof(float));
        if (!bufs) return HRN_ERR_NOMEM;
        memset(bufs, 0, (size_t)nt * (size_t)(C * np) * sizeof(float));
    }
    float *gp = wp ? pmt->grad : NULL;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *acc = bufs ? bufs + (int64_t)omp_get_thread_num() * C * np : NULL;
#pragma omp for schedule(static)
        for (int64_t tx = 0; tx < tn; tx++) {
            struct unwrap_px q = unwrap_setup(c, pm, tn, tx, H, W);
            float gfx = 0, gfy = 0;
            for (int64_t ch = 0; ch < C; ch++) {
                float gc = g[ch * tn + tx];
                const float *P = I + ch * np;
                float A = P[q.iy0 * W + q.ix0], B = P[q.iy1 * W + q.ix0];
                float Cc = P[q.iy0 * W + q.ix1], D = P[q.iy1 * W + q.ix1];
                if (acc) {
                    float *G = acc + ch * np;
                    G[q.iy0 * W + q.ix0] += gc * (1 - q.fx) * q.fy;
                    G[q.iy1 * W + q.ix0] += gc * (1 - q.fx) * (1 - q.fy);
                    G[q.iy0 * W + q.ix1] += gc * q.fx * q.fy;
                    G[q.iy1 * W + q.ix1] += gc * q.fx * (1 - q.fy);
                }
                gfx += gc * (-A * q.fy - B * (1 - q.fy) + Cc * q.fy + D * (1 - q.fy));
                gfy += gc * (A * (1 - q.fx) - B * (1 - q.fx) + Cc * q.fx - D * q.fx);
            }
            if (gp) {
                gp[tx] += gfx * q.dx_dX;
                gp[tn + tx] += gfy * q.dy_dY;
                gp[2 * tn + tx] += gfx * q.dx_dZ + gfy * q.dy_dZ;
            }
        }
    }
    if (bufs) {
        int64_t n = C * np;
#pragma omp parallel for schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            float s = 0;
            for (int k = 0; k < nt; k++) s += bufs[(int64_t)k * n + i];
            img->grad[i] += s;
        }
    }
    return HRN_OK;
}

static const struct hrn_custom_op UNWRAP_OP = {"uv_unwrap", unwrap_fwd, unwrap_bwd, 0};

struct hrn_tensor *hrn_uv_unwrap_op(struct hrn_tape *t, const struct hrn_uv_map *m,
                                    const struct hrn_camera *cam, struct hrn_tensor *posmap,
                                    struct hrn_tensor *img) {
    struct hrn_tensor *src[2] = {posmap, img};
    if (!posmap || !img) return hrn_custom(t, &UNWRAP_OP, NULL, src, 2, 1, (int64_t[]){1});
    if (posmap->ndim != 3 || posmap->shape[0] != 3 || posmap->shape[1] != m->res ||
        posmap->shape[2] != m->res)
        return bad_shape("uv_unwrap", posmap, "(3,R,R) at the uv map's resolution");
    if (img->ndim != 3) return bad_shape("uv_unwrap", img, "(C,H,W)");
    struct unwrap_ctx *c = hrn_tape_alloc(t, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    c->cam = *cam;
    return hrn_custom(t, &UNWRAP_OP, c, src, 2, 3, (int64_t[]){img->shape[0], m->res, m->res});
}

/* --- grid mesh and detail normals ----------------------------------------------------------- */

enum hrn_status hrn_uv_grid_init(struct hrn_topo *g, int res) {
    memset(g, 0, sizeof *g);
    int mx = 2, my = 5;
    if (res < 2 * my + 3)
        return hrn_error_set(HRN_ERR_INVALID, "uv grid: resolution %d is below %d", res,
                             2 * my + 3);
    int64_t nx = res - 1 - 2 * mx, ny = res - 1 - 2 * my, T = 2 * nx * ny;
    int32_t *tris = malloc((size_t)(3 * T) * sizeof *tris);
    if (!tris) return hrn_error_set(HRN_ERR_NOMEM, "uv grid: no memory");
    int64_t k = 0;
    for (int x = mx; x < res - 1 - mx; x++)
        for (int y = my; y < res - 1 - my; y++) {
            int32_t i = y * res + x;
            /* [i, i+1, i+res] and [i+1, i+res+1, i+res], then columns [0,2,1] */
            tris[k++] = i;
            tris[k++] = i + res;
            tris[k++] = i + 1;
            tris[k++] = i + 1;
            tris[k++] = i + res;
            tris[k++] = i + res + 1;
        }
    enum hrn_status st = hrn_topo_init(g, tris, T, (int64_t)res * res);
    free(tris);
    return st;
}

struct hrn_tensor *hrn_detail_normals(struct hrn_tape *t, const struct hrn_topo *grid,
                                      struct hrn_tensor *pv, struct hrn_tensor *nc,
                                      struct hrn_tensor *disp) {
    if (pv && nc && disp &&
        (!hrn_tensor_same_shape(pv, nc) || disp->ndim != 3 || disp->shape[0] != 1 ||
         disp->shape[1] != pv->shape[1] || disp->shape[2] != pv->shape[2]))
        return bad_shape("detail_normals", disp, "(1,R,R) with Pv and Nc (3,R,R)");
    int mode = HRN_NORMALS_AREA | HRN_NORMALS_FLIP_XY;
    struct hrn_tensor *ng0 = hrn_normals_op(t, grid, pv, mode);
    struct hrn_tensor *pd = hrn_add(t, pv, hrn_mul(t, disp, nc));
    struct hrn_tensor *ng1 = hrn_normals_op(t, grid, pd, mode);
    return hrn_add(t, ng1, hrn_sub(t, nc, ng0));
}
