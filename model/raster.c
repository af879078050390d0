/* raster.c: perspective camera, a z-buffer triangle rasterizer with perspective-correct
 * barycentrics and nvdiffrast's pixel convention, attribute interpolation, and a shaded render.
 *
 * Pixel space: a pixel (row, col) has its centre at (x, y) = (col, row) in "pixel index"
 * coordinates, with px = u - 0.5 and py = H - 0.5 - v for image coordinates (u, v), v up
 * (hrn_method.md 1.4). A pixel is covered when its centre is inside the projected triangle.
 */
#include "hrn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hrn_camera hrn_camera_default(void) {
    return (struct hrn_camera){.focal = 1015.0f, .cx = 112.0f, .cy = 112.0f, .camera_d = 10.0f,
                               .z_near = 5.0f, .z_far = 15.0f, .width = 224, .height = 224};
}

void hrn_project(const struct hrn_camera *cam, const float *verts, int64_t n, float *out_uvz) {
    for (int64_t i = 0; i < n; i++) {
        float x = verts[3 * i], y = verts[3 * i + 1], zc = cam->camera_d - verts[3 * i + 2];
        out_uvz[3 * i] = cam->focal * x / zc + cam->cx;
        out_uvz[3 * i + 1] = cam->focal * y / zc + cam->cy;
        out_uvz[3 * i + 2] = zc;
    }
}

void hrn_raster_free(struct hrn_raster *r) {
    if (!r) return;
    free(r->tri);
    free(r->b1);
    free(r->b2);
    free(r->depth);
    memset(r, 0, sizeof *r);
}

/* Edge function of the directed edge (a -> b) at p, computed from the endpoints in a canonical
 * order (by vertex index) so that the two triangles sharing an edge get exactly opposite values,
 * and a pixel centre on the edge is decided the same way from both sides. */
static double edge_fn(const double *pa, const double *pb, int32_t ia, int32_t ib, double x,
                      double y) {
    int flip = ia > ib;
    const double *a = flip ? pb : pa, *b = flip ? pa : pb;
    double e = (x - a[0]) * (b[1] - a[1]) - (y - a[1]) * (b[0] - a[0]);
    return flip ? -e : e;
}

/* A pixel centre exactly on an edge belongs to the triangle for which the edge direction has
 * dy > 0, or dy == 0 and dx < 0; the neighbour sees the reversed edge and excludes it. */
static int edge_owns(const double *a, const double *b) {
    double dx = b[0] - a[0], dy = b[1] - a[1];
    return dy > 0 || (dy == 0 && dx < 0);
}

enum hrn_status hrn_rasterize(const struct hrn_camera *cam, const float *verts, int64_t n_verts,
                              const int32_t *tris, int64_t n_tris, struct hrn_raster *r) {
    int W = cam->width, H = cam->height;
    if (W <= 0 || H <= 0 || cam->focal <= 0)
        return hrn_error_set(HRN_ERR_INVALID, "rasterize: bad camera (%dx%d, focal %g)", W, H,
                             (double)cam->focal);
    size_t npix = (size_t)W * (size_t)H;
    if (!r->tri || r->width != W || r->height != H) {
        hrn_raster_free(r);
        r->tri = malloc(npix * sizeof *r->tri);
        r->b1 = malloc(npix * sizeof *r->b1);
        r->b2 = malloc(npix * sizeof *r->b2);
        r->depth = malloc(npix * sizeof *r->depth);
        if (!r->tri || !r->b1 || !r->b2 || !r->depth) {
            hrn_raster_free(r);
            return hrn_error_set(HRN_ERR_NOMEM, "rasterize: no memory for %dx%d buffers", W, H);
        }
        r->width = W;
        r->height = H;
    }
    for (size_t i = 0; i < npix; i++) {
        r->tri[i] = -1;
        r->b1[i] = r->b2[i] = 0;
        r->depth[i] = INFINITY;
    }
    /* Screen positions in double: (px, py, z_c) per vertex. */
    double *scr = malloc((size_t)n_verts * 3 * sizeof *scr);
    if (!scr) return hrn_error_set(HRN_ERR_NOMEM, "rasterize: no memory for %lld vertices",
                                   (long long)n_verts);
    for (int64_t i = 0; i < n_verts; i++) {
        double zc = (double)cam->camera_d - (double)verts[3 * i + 2];
        double u = (double)cam->focal * (double)verts[3 * i] / zc + (double)cam->cx;
        double v = (double)cam->focal * (double)verts[3 * i + 1] / zc + (double)cam->cy;
        scr[3 * i] = u - 0.5;
        scr[3 * i + 1] = (double)H - 0.5 - v;
        scr[3 * i + 2] = zc;
    }
    /* Bands of rows per thread: each band walks all triangles, clipped to its rows, so no two
     * threads write the same pixel and the result does not depend on the thread count. */
    int n_bands = H < 32 ? 1 : 32;
#pragma omp parallel for schedule(dynamic, 1)
    for (int band = 0; band < n_bands; band++) {
        int r0 = (int)((int64_t)H * band / n_bands), r1 = (int)((int64_t)H * (band + 1) / n_bands);
        for (int64_t f = 0; f < n_tris; f++) {
            int32_t id[3] = {tris[3 * f], tris[3 * f + 1], tris[3 * f + 2]};
            const double *p[3] = {scr + 3 * id[0], scr + 3 * id[1], scr + 3 * id[2]};
            int clipped = 0;
            for (int k = 0; k < 3; k++)
                clipped |= !(p[k][2] >= (double)cam->z_near && p[k][2] <= (double)cam->z_far);
            if (clipped) continue; /* a face lies well inside the depth range */
            double area = edge_fn(p[0], p[1], id[0], id[1], p[2][0], p[2][1]);
            if (area == 0) continue;
            int order[3] = {0, 1, 2};
            if (area < 0) { /* no culling: orient every triangle the same way */
                order[1] = 2;
                order[2] = 1;
                area = -area;
            }
            const double *q[3] = {p[order[0]], p[order[1]], p[order[2]]};
            int32_t qi[3] = {id[order[0]], id[order[1]], id[order[2]]};
            double xmin = fmin(q[0][0], fmin(q[1][0], q[2][0]));
            double xmax = fmax(q[0][0], fmax(q[1][0], q[2][0]));
            double ymin = fmin(q[0][1], fmin(q[1][1], q[2][1]));
            double ymax = fmax(q[0][1], fmax(q[1][1], q[2][1]));
            int c0 = (int)ceil(xmin), c1 = (int)floor(xmax);
            int rr0 = (int)ceil(ymin), rr1 = (int)floor(ymax);
            if (c0 < 0) c0 = 0;
            if (c1 > W - 1) c1 = W - 1;
            if (rr0 < r0) rr0 = r0;
            if (rr1 > r1 - 1) rr1 = r1 - 1;
            if (c0 > c1 || rr0 > rr1) continue;
            int own[3] = {edge_owns(q[1], q[2]), edge_owns(q[2], q[0]), edge_owns(q[0], q[1])};
            for (int y = rr0; y <= rr1; y++)
                for (int x = c0; x <= c1; x++) {
                    /* l_k is the edge function of the edge opposite vertex k */
                    double l0 = edge_fn(q[1], q[2], qi[1], qi[2], x, y);
                    double l1 = edge_fn(q[2], q[0], qi[2], qi[0], x, y);
                    double l2 = edge_fn(q[0], q[1], qi[0], qi[1], x, y);
                    if (l0 < 0 || l1 < 0 || l2 < 0) continue;
                    if ((l0 == 0 && !own[0]) || (l1 == 0 && !own[1]) || (l2 == 0 && !own[2]))
                        continue;
                    /* perspective-correct: weights proportional to l_k / z_k */
                    double w0 = l0 / q[0][2], w1 = l1 / q[1][2], w2 = l2 / q[2][2];
                    double ws = w0 + w1 + w2;
                    double z = area / ws; /* = 1 / sum(lambda_k / z_k) */
                    size_t pix = (size_t)y * (size_t)W + (size_t)x;
                    if (!(z < (double)r->depth[pix])) continue;
                    double b[3];
                    b[order[0]] = w0 / ws;
                    b[order[1]] = w1 / ws;
                    b[order[2]] = w2 / ws;
                    r->depth[pix] = (float)z;
                    r->tri[pix] = (int32_t)f;
                    r->b1[pix] = (float)b[1];
                    r->b2[pix] = (float)b[2];
                }
        }
    }
    free(scr);
    return HRN_OK;
}

void hrn_raster_interpolate(const struct hrn_raster *r, const int32_t *tris, const float *attr,
                            int C, float background, float *out) {
    size_t npix = (size_t)r->width * (size_t)r->height;
    for (size_t pix = 0; pix < npix; pix++) {
        int32_t f = r->tri[pix];
        for (int c = 0; c < C; c++) {
            float val = background;
            if (f >= 0) {
                float b1 = r->b1[pix], b2 = r->b2[pix], b0 = 1.0f - b1 - b2;
                val = b0 * attr[(int64_t)tris[3 * f] * C + c] +
                      b1 * attr[(int64_t)tris[3 * f + 1] * C + c] +
                      b2 * attr[(int64_t)tris[3 * f + 2] * C + c];
            }
            out[(size_t)c * npix + pix] = val;
        }
    }
}

enum hrn_status hrn_render_shaded(const struct hrn_face_model *fm, const float *coeffs,
                                  const struct hrn_camera *cam, const struct hrn_image *under,
                                  struct hrn_image *img) {
    enum hrn_status st = HRN_OK;
    int64_t N = fm->n_verts;
    size_t npix = (size_t)cam->width * (size_t)cam->height;
    struct hrn_raster r = {0};
    float *verts = malloc((size_t)(3 * N) * sizeof(float));
    float *normals = malloc((size_t)(3 * N) * sizeof(float));
    float *albedo = malloc((size_t)(3 * N) * sizeof(float));
    float *color = malloc((size_t)(3 * N) * sizeof(float));
    float *pix = malloc(3 * npix * sizeof(float));
    memset(img, 0, sizeof *img);
    if (!verts || !normals || !albedo || !color || !pix) {
        st = hrn_error_set(HRN_ERR_NOMEM, "render: out of memory");
        goto fail;
    }
    if (under && (under->w != cam->width || under->h != cam->height || under->c != 3)) {
        st = hrn_error_set(HRN_ERR_INVALID, "render: background is %dx%dx%d, expected 3x%dx%d",
                           under->c, under->h, under->w, cam->height, cam->width);
        goto fail;
    }
    struct hrn_coeff_layout l = hrn_face_model_layout(fm);
    hrn_face_posed(fm, coeffs, verts);
    hrn_vertex_normals(verts, N, fm->tris, fm->n_tris, normals);
    if (fm->mean_albedo)
        hrn_face_albedo(fm, coeffs, albedo);
    else
        for (int64_t i = 0; i < 3 * N; i++) albedo[i] = 0.8f;
    hrn_sh_shade(normals, albedo, coeffs + l.gamma, N, color);
    HRN_TRY(hrn_rasterize(cam, verts, N, fm->tris, fm->n_tris, &r));
    hrn_raster_interpolate(&r, fm->tris, color, 3, 0.0f, pix);
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < npix; i++) {
            float v = pix[c * npix + i];
            if (r.tri[i] < 0) v = under ? under->data[c * npix + i] : 0.0f;
            pix[c * npix + i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    img->w = cam->width;
    img->h = cam->height;
    img->c = 3;
    img->data = pix;
    pix = NULL;
fail:
    hrn_raster_free(&r);
    free(verts);
    free(normals);
    free(albedo);
    free(color);
    free(pix);
    return st;
}
