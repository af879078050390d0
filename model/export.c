/* export.c: the outputs of a reconstruction: the dense detail mesh (HRN's get_dense_mesh +
 * crop_mesh), the textured OBJ (+ .mtl + texture PNG) and the shaded-geometry overlay PNG. */
#include "hrn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum hrn_status hrn_dense_mesh(const float *pd, int res, const struct hrn_topo *grid,
                               struct hrn_mesh *out) {
    enum hrn_status st = HRN_OK;
    int64_t n = (int64_t)res * res, T = grid->n_tris;
    memset(out, 0, sizeof *out);
    if (grid->n_verts != n)
        return hrn_error_set(HRN_ERR_INVALID, "dense mesh: grid of %lld vertices for a %dx%d map",
                             (long long)grid->n_verts, res, res);
    int32_t *remap = malloc((size_t)n * sizeof *remap);
    if (!remap) return hrn_error_set(HRN_ERR_NOMEM, "dense mesh: no memory");
    int64_t nv = 0, nf = 0;
    for (int64_t i = 0; i < n; i++) {
        int zero = pd[i] == 0 && pd[n + i] == 0 && pd[2 * n + i] == 0;
        remap[i] = zero ? -1 : (int32_t)nv++;
    }
    /* crop_mesh's quirk: faces -= 1 on 0-based faces shifts every triangle one texel left */
    for (int64_t f = 0; f < T; f++) {
        int ok = 1;
        for (int k = 0; k < 3; k++) ok &= remap[grid->tris[3 * f + k] - 1] >= 0;
        nf += ok;
    }
    HRN_TRY(hrn_mesh_alloc(out, nv, nf, 0, 0, 0));
    for (int64_t i = 0; i < n; i++)
        if (remap[i] >= 0)
            for (int c = 0; c < 3; c++) out->verts[3 * remap[i] + c] = pd[c * n + i];
    for (int64_t f = 0, j = 0; f < T; f++) {
        int32_t a = remap[grid->tris[3 * f] - 1], b = remap[grid->tris[3 * f + 1] - 1],
                c = remap[grid->tris[3 * f + 2] - 1];
        if (a < 0 || b < 0 || c < 0) continue;
        out->faces[3 * j] = a;
        out->faces[3 * j + 1] = b;
        out->faces[3 * j + 2] = c;
        j++;
    }
fail:
    free(remap);
    return st;
}

/* "dir/x.obj" -> base "dir/x" (without the extension) */
static void strip_ext(const char *path, char *base, size_t cap) {
    snprintf(base, cap, "%s", path);
    char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    if (dot && (!slash || dot > slash)) *dot = '\0';
}

enum hrn_status hrn_export_textured_obj(const char *path, const struct hrn_face_model *fm,
                                        const float *verts, const float *tex, int tex_res) {
    enum hrn_status st = HRN_OK;
    struct hrn_mesh m = {0};
    struct hrn_image img = {0};
    char base[1024], png[1100];
    strip_ext(path, base, sizeof base);
    snprintf(png, sizeof png, "%s_tex.png", base);
    const char *png_name = strrchr(png, '/') ? strrchr(png, '/') + 1 : png;
    if (!fm->uvs) {
        return hrn_error_set(HRN_ERR_INVALID, "export %s: face model %s has no uvs", path,
                             fm->name);
    }
    int64_t N = fm->n_verts;
    HRN_TRY(hrn_mesh_alloc(&m, N, fm->n_tris, 0, fm->n_uvs, N));
    memcpy(m.verts, verts, (size_t)(3 * N) * sizeof(float));
    memcpy(m.uvs, fm->uvs, (size_t)(2 * fm->n_uvs) * sizeof(float));
    memcpy(m.faces, fm->tris, (size_t)(3 * fm->n_tris) * sizeof(int32_t));
    if (fm->tri_uvs) {
        m.face_uvs = malloc((size_t)(3 * fm->n_tris) * sizeof(int32_t));
        if (!m.face_uvs) {
            st = hrn_error_set(HRN_ERR_NOMEM, "export %s: no memory", path);
            goto fail;
        }
        memcpy(m.face_uvs, fm->tri_uvs, (size_t)(3 * fm->n_tris) * sizeof(int32_t));
    }
    /* area-weighted vertex normals (HRN's estimate_normals) */
    memset(m.normals, 0, (size_t)(3 * N) * sizeof(float));
    for (int64_t f = 0; f < fm->n_tris; f++) {
        const int32_t *tr = fm->tris + 3 * f;
        const float *a = verts + 3 * tr[0], *b = verts + 3 * tr[1], *c = verts + 3 * tr[2];
        float e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
        float e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        float n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                      e1[0] * e2[1] - e1[1] * e2[0]};
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) m.normals[3 * tr[k] + j] += n[j];
    }
    for (int64_t v = 0; v < N; v++) {
        float *n = m.normals + 3 * v;
        float l = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        if (l > 0)
            for (int j = 0; j < 3; j++) n[j] /= l;
    }
    HRN_TRY(hrn_image_init(&img, tex_res, tex_res, 3));
    for (int64_t i = 0; i < 3 * (int64_t)tex_res * tex_res; i++)
        img.data[i] = tex[i] < 0 ? 0 : tex[i] > 1 ? 1 : tex[i];
    HRN_TRY(hrn_image_write_png(png, &img, 8));
    struct hrn_obj_material mtl = {.name = "face", .texture = png_name};
    HRN_TRY(hrn_mesh_write_obj(path, &m, &mtl));
fail:
    hrn_mesh_free(&m);
    hrn_image_free(&img);
    return st;
}

enum hrn_status hrn_render_geometry(const struct hrn_face_model *fm, const struct hrn_camera *cam,
                                    const float *verts, const float *gamma,
                                    const struct hrn_image *under, struct hrn_image *img) {
    enum hrn_status st = HRN_OK;
    int64_t N = fm->n_verts;
    size_t npix = (size_t)cam->width * (size_t)cam->height;
    struct hrn_raster r = {0};
    float *nrm = malloc((size_t)(3 * N) * sizeof(float));
    float *alb = malloc((size_t)(3 * N) * sizeof(float));
    float *col = malloc((size_t)(3 * N) * sizeof(float));
    float g0[HRN_N_GAMMA] = {0};
    memset(img, 0, sizeof *img);
    if (!nrm || !alb || !col) {
        st = hrn_error_set(HRN_ERR_NOMEM, "geometry render: no memory");
        goto fail;
    }
    if (under && (under->c != 3 || under->w != cam->width || under->h != cam->height)) {
        st = hrn_error_set(HRN_ERR_INVALID, "geometry render: image is %dx%dx%d, expected 3x%dx%d",
                           under->c, under->h, under->w, cam->height, cam->width);
        goto fail;
    }
    hrn_vertex_normals(verts, N, fm->tris, fm->n_tris, nrm);
    for (int64_t i = 0; i < 3 * N; i++) alb[i] = 0.8f;
    hrn_sh_shade(nrm, alb, gamma ? gamma : g0, N, col);
    HRN_TRY(hrn_rasterize(cam, verts, N, fm->tris, fm->n_tris, &r));
    HRN_TRY(hrn_image_init(img, cam->width, cam->height, 3));
    hrn_raster_interpolate(&r, fm->tris, col, 3, 0.0f, img->data);
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < npix; i++) {
            float v = img->data[c * npix + i];
            if (r.tri[i] < 0) v = under ? under->data[c * npix + i] : 0.0f;
            img->data[c * npix + i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
fail:
    if (st != HRN_OK) hrn_image_free(img);
    hrn_raster_free(&r);
    free(nrm);
    free(alb);
    free(col);
    return st;
}

enum hrn_status hrn_export_overlay_png(const char *path, const struct hrn_face_model *fm,
                                       const struct hrn_camera *cam, const float *verts,
                                       const float *gamma, const struct hrn_image *under) {
    struct hrn_image img = {0};
    enum hrn_status st = hrn_render_geometry(fm, cam, verts, gamma, under, &img);
    if (st == HRN_OK) st = hrn_image_write_png(path, &img, 8);
    hrn_image_free(&img);
    return st == HRN_OK ? st : hrn_error_prefix(st, "overlay %s: ", path);
}
