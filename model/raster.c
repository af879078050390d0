/* raster.c: perspective camera, a z-buffer triangle rasterizer with perspective-correct
 * barycentrics and nvdiffrast's pixel convention, attribute interpolation, and a shaded render.
 *
 * Pixel space: a pixel (row, col) has its centre at (x, y) = (col, row) in "pixel index"
 * coordinates, with px = u - 0.5 and py = H - 0.5 - v for image coordinates (u, v), v up
 * (hrn_method.md 1.4). A pixel is covered when its centre is inside the projected triangle.
 */
#include "hrn_model.h"

#include <math.h>
#include <omp.h>
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
static inline double edge_fn(const double *pa, const double *pb, int32_t ia, int32_t ib,
                             double x, double y) {
    /* without branches: the index order is as good as random, and a mispredicted branch here
     * cost more than the arithmetic (written with selects through small arrays) */
    static const double SIGN[2] = {1.0, -1.0};
    int flip = ia > ib;
    const double *ends[2] = {pa, pb};
    const double *a = ends[flip], *b = ends[!flip];
    double e = (x - a[0]) * (b[1] - a[1]) - (y - a[1]) * (b[0] - a[0]);
    return e * SIGN[flip]; /* -e exactly */
}

/* A pixel centre exactly on an edge belongs to the triangle for which the edge direction has
 * dy > 0, or dy == 0 and dx < 0; the neighbour sees the reversed edge and excludes it. */
static int edge_owns(const double *a, const double *b) {
    double dx = b[0] - a[0], dy = b[1] - a[1];
    return dy > 0 || (dy == 0 && dx < 0);
}

/* min/max/floor/ceil without libm calls: the build targets baseline x86-64 (SSE2), where GCC
 * calls fmin/fmax/floor/ceil in libm; these run once or more per triangle (70789 at BFM size). */
static inline double dmin(double a, double b) { return a < b ? a : b; }
static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline int ifloor(double x) { /* x clamped to +-1e9 first */
    x = x < -1e9 ? -1e9 : x > 1e9 ? 1e9 : x;
    int i = (int)x;
    return i > x ? i - 1 : i;
}
static inline int iceil(double x) {
    x = x < -1e9 ? -1e9 : x > 1e9 ? 1e9 : x;
    int i = (int)x;
    return i < x ? i + 1 : i;
}

static enum hrn_status raster_core(int W, int H, float z_near, float z_far, const double *scr,
                                   const int32_t *tris, int64_t n_tris, int32_t *tri_out,
                                   float *b1_out, float *b2_out, float *depth_out);

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
    /* Screen positions in double straight from the world vertices: (px, py, z_c). */
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
    enum hrn_status st = raster_core(W, H, cam->z_near, cam->z_far, scr, tris, n_tris, r->tri,
                                     r->b1, r->b2, r->depth);
    free(scr);
    return st;
}

/* Triangle f over the rows [r0, r1) of its band: z-test and write the pixels whose centres it
 * covers. */
static inline void raster_tri(int64_t f, int r0, int r1, int W, const double *scr,
                              const int32_t *tris, int32_t *tri_out, float *b1_out, float *b2_out,
                              float *depth_out) {
    int32_t id[3] = {tris[3 * f], tris[3 * f + 1], tris[3 * f + 2]};
    const double *p[3] = {scr + 3 * id[0], scr + 3 * id[1], scr + 3 * id[2]};
    double area = edge_fn(p[0], p[1], id[0], id[1], p[2][0], p[2][1]);
    if (area == 0) return;
    int order[3] = {0, 1, 2};
    if (area < 0) { /* no culling: orient every triangle the same way */
        order[1] = 2;
        order[2] = 1;
        area = -area;
    }
    const double *q[3] = {p[order[0]], p[order[1]], p[order[2]]};
    int32_t qi[3] = {id[order[0]], id[order[1]], id[order[2]]};
    double xmin = dmin(q[0][0], dmin(q[1][0], q[2][0]));
    double xmax = dmax(q[0][0], dmax(q[1][0], q[2][0]));
    double ymin = dmin(q[0][1], dmin(q[1][1], q[2][1]));
    double ymax = dmax(q[0][1], dmax(q[1][1], q[2][1]));
    int c0 = iceil(xmin), c1 = ifloor(xmax), rr0 = iceil(ymin), rr1 = ifloor(ymax);
    c0 = c0 < 0 ? 0 : c0;
    c1 = c1 > W - 1 ? W - 1 : c1;
    rr0 = rr0 < r0 ? r0 : rr0;
    rr1 = rr1 > r1 - 1 ? r1 - 1 : rr1;
    if (c0 > c1 || rr0 > rr1) return;
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
            if (!(z < (double)depth_out[pix])) continue;
            double b[3];
            b[order[0]] = w0 / ws;
            b[order[1]] = w1 / ws;
            b[order[2]] = w2 / ws;
            depth_out[pix] = (float)z;
            tri_out[pix] = (int32_t)f;
            b1_out[pix] = (float)b[1];
            b2_out[pix] = (float)b[2];
        }
}

enum { BAND_ROWS = 8 };

/* The rasterizer proper on screen positions scr (3 per vertex, double): px = u - 0.5,
 * py = H - 0.5 - v, z_c. */
static enum hrn_status raster_core(int W, int H, float z_near, float z_far, const double *scr,
                                   const int32_t *tris, int64_t n_tris, int32_t *tri_out,
                                   float *b1_out, float *b2_out, float *depth_out) {
    size_t npix = (size_t)W * (size_t)H;
    for (size_t i = 0; i < npix; i++) {
        tri_out[i] = -1;
        b1_out[i] = b2_out[i] = 0;
        depth_out[i] = INFINITY;
    }
    int n_bands = (H + BAND_ROWS - 1) / BAND_ROWS;
    /* Binning in one parallel pass without a serial step: thread i takes the i-th contiguous
     * range of triangles, finds each one's band range, counts per band, and fills its own
     * per-band lists. Band b's triangles are then thread 0's list b, thread 1's list b, ...:
     * triangle order, as the z-buffer's ties need. */
    int max_t = n_tris > 8192 ? omp_get_max_threads() : 1, n_parts = 1, fail = 0;
    int64_t *part_ptr = calloc((size_t)max_t * ((size_t)n_bands + 1), sizeof *part_ptr);
    int32_t **part_tri = calloc((size_t)max_t, sizeof *part_tri);
    if (!part_ptr || !part_tri) {
        free(part_ptr);
        free(part_tri);
        return hrn_error_set(HRN_ERR_NOMEM, "rasterize: no memory for the triangle bins");
    }
#pragma omp parallel num_threads(max_t) if (max_t > 1)
    {
        int id = omp_get_thread_num(), nth = omp_get_num_threads();
        if (id == 0) n_parts = nth;
        int64_t f0 = n_tris * id / nth, f1 = n_tris * (id + 1) / nth;
        int64_t *ptr = part_ptr + (size_t)id * ((size_t)n_bands + 1);
        int32_t *lohi = malloc((size_t)(f1 - f0 > 0 ? 2 * (f1 - f0) : 1) * sizeof *lohi);
        int32_t *list = NULL;
        int64_t *fill = malloc((size_t)n_bands * sizeof *fill);
        if (!lohi || !fill) {
#pragma omp atomic write
            fail = 1;
        } else {
            for (int64_t f = f0; f < f1; f++) {
                const double *p[3] = {scr + 3 * tris[3 * f], scr + 3 * tris[3 * f + 1],
                                      scr + 3 * tris[3 * f + 2]};
                int32_t lo = 1, hi = 0; /* empty */
                int clipped = 0;
                for (int k = 0; k < 3; k++)
                    clipped |= !(p[k][2] >= (double)z_near && p[k][2] <= (double)z_far);
                double ymin = dmin(p[0][1], dmin(p[1][1], p[2][1]));
                double ymax = dmax(p[0][1], dmax(p[1][1], p[2][1]));
                double xmin = dmin(p[0][0], dmin(p[1][0], p[2][0]));
                double xmax = dmax(p[0][0], dmax(p[1][0], p[2][0]));
                if (!clipped && ymax >= 0 && ymin <= H - 1 && xmax >= 0 && xmin <= W - 1) {
                    /* only triangles whose box holds a pixel centre are binned: most BFM
                     * triangles at 224x224 are smaller than a pixel and many hold none */
                    int r0 = iceil(ymin), r1 = ifloor(ymax), c0 = iceil(xmin), c1 = ifloor(xmax);
                    r0 = r0 < 0 ? 0 : r0;
                    r1 = r1 > H - 1 ? H - 1 : r1;
                    if (r0 <= r1 && c0 <= c1) {
                        lo = r0 / BAND_ROWS;
                        hi = r1 / BAND_ROWS;
                    }
                }
                lohi[2 * (f - f0)] = lo;
                lohi[2 * (f - f0) + 1] = hi;
                for (int32_t bb = lo; bb <= hi; bb++) ptr[bb + 1]++;
            }
            for (int bb = 0; bb < n_bands; bb++) ptr[bb + 1] += ptr[bb];
            list = malloc((size_t)(ptr[n_bands] > 0 ? ptr[n_bands] : 1) * sizeof *list);
            if (!list) {
#pragma omp atomic write
                fail = 1;
            } else {
                memcpy(fill, ptr, (size_t)n_bands * sizeof *fill);
                for (int64_t f = f0; f < f1; f++)
                    for (int32_t bb = lohi[2 * (f - f0)]; bb <= lohi[2 * (f - f0) + 1]; bb++)
                        list[fill[bb]++] = (int32_t)f;
            }
        }
        part_tri[id] = list;
        free(lohi);
        free(fill);
    }
    if (fail) {
        for (int i = 0; i < max_t; i++) free(part_tri[i]);
        free(part_ptr);
        free(part_tri);
        return hrn_error_set(HRN_ERR_NOMEM, "rasterize: no memory for the triangle bins");
    }
    /* Bands of rows in parallel: no two threads write the same pixel and the result does not
     * depend on the thread count. */
#pragma omp parallel for schedule(dynamic, 1) if (n_tris > 256 && n_bands > 2)
    for (int band = 0; band < n_bands; band++) {
        int r0 = band * BAND_ROWS, r1 = r0 + BAND_ROWS < H ? r0 + BAND_ROWS : H;
        for (int part = 0; part < n_parts; part++) {
            const int64_t *ptr = part_ptr + (size_t)part * ((size_t)n_bands + 1);
            for (int64_t j = ptr[band]; j < ptr[band + 1]; j++)
                raster_tri(part_tri[part][j], r0, r1, W, scr, tris, tri_out, b1_out, b2_out,
                           depth_out);
        }
    }
    for (int i = 0; i < max_t; i++) free(part_tri[i]);
    free(part_ptr);
    free(part_tri);
    return HRN_OK;
}

enum hrn_status hrn_rasterize_uvz(int W, int H, float z_near, float z_far, const float *uvz,
                                  int64_t n_verts, const int32_t *tris, int64_t n_tris,
                                  int32_t *tri_out, float *b1_out, float *b2_out,
                                  float *depth_out) {
    if (W <= 0 || H <= 0)
        return hrn_error_set(HRN_ERR_INVALID, "rasterize: bad image size %dx%d", W, H);
    double *scr = malloc((size_t)(n_verts > 0 ? n_verts : 1) * 3 * sizeof *scr);
    if (!scr) return hrn_error_set(HRN_ERR_NOMEM, "rasterize: no memory for %lld vertices",
                                   (long long)n_verts);
    /* one thread: ~0.1 ms at BFM size, about what waking a second (passive) thread costs */
    for (int64_t i = 0; i < n_verts; i++) {
        scr[3 * i] = (double)uvz[3 * i] - 0.5;
        scr[3 * i + 1] = (double)H - 0.5 - (double)uvz[3 * i + 1];
        scr[3 * i + 2] = (double)uvz[3 * i + 2];
    }
    enum hrn_status st = raster_core(W, H, z_near, z_far, scr, tris, n_tris, tri_out, b1_out,
                                     b2_out, depth_out);
    free(scr);
    return st;
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
