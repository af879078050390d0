/* fit_setup.c: the inputs of a fit: the face model in HRN's frame and views made from photos
 * (landmarks, optional masks, HRN's 5-point alignment to 224 and 512; hrn_method.md 1.1 step 7). */
#include "hrn_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void hrn_fit_view_free(struct hrn_fit_view *v) {
    if (!v) return;
    hrn_image_free(&v->img);
    hrn_image_free(&v->img_hd);
    free(v->mask);
    memset(v, 0, sizeof *v);
}

/* moved to the model module (hrn_face_model_to_hrn_frame) so data/ can use it without train/ */
enum hrn_status hrn_fit_normalize_model(struct hrn_face_model *fm) {
    return hrn_face_model_to_hrn_frame(fm);
}

enum hrn_status hrn_fit_load_model(const char *path, struct hrn_face_model *fm) {
    enum hrn_status st = hrn_face_model_load(path, fm);
    if (st != HRN_OK) return st;
    if (fm->n_id < 1 || !fm->id_basis) {
        hrn_face_model_free(fm);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: no identity basis (/shape/basis), which fitting "
                             "needs", path);
    }
    if (!fm->uvs) {
        hrn_face_model_free(fm);
        return hrn_error_set(HRN_ERR_FORMAT, "%s: no texture coordinates (/uv), which the UV maps "
                             "(deformation, displacement, texture) need", path);
    }
    st = hrn_fit_normalize_model(fm);
    if (st != HRN_OK) {
        hrn_face_model_free(fm);
        return hrn_error_prefix(st, "%s: ", path);
    }
    return HRN_OK;
}

/* Photo pixels between the eye centres (mean of the eye corners 36, 39 and 42, 45; or the 5-point
 * file's first two points), for the small-face warning. */
static float eye_distance(const float *lm, int n) {
    float l[2], r[2];
    for (int c = 0; c < 2; c++) {
        l[c] = n == 5 ? lm[c] : 0.5f * (lm[2 * 36 + c] + lm[2 * 39 + c]);
        r[c] = n == 5 ? lm[2 + c] : 0.5f * (lm[2 * 42 + c] + lm[2 * 45 + c]);
    }
    return hypotf(r[0] - l[0], r[1] - l[1]);
}

/* The crop pixels (224, rows from the top) that hrn_align_crop fills from the photo rather than
 * padding: the same resize and window arithmetic as there. */
static void photo_box(const struct hrn_align *a, float box[4]) {
    double s = 102.0 / (double)a->s, w0 = (double)a->w0, h0 = (double)a->h0;
    int w = (int)(w0 * s), h = (int)(h0 * s);
    int left = (int)(w / 2.0 - 112.0 + ((double)a->t0 - w0 / 2) * s);
    int up = (int)(h / 2.0 - 112.0 + (h0 / 2 - (double)a->t1) * s);
    box[0] = (float)-left;
    box[1] = (float)-up;
    box[2] = (float)(w - left);
    box[3] = (float)(h - up);
}

/* The mask: same size as the photo, > 0.5 is face; cropped with the photo's alignment. */
static enum hrn_status load_mask(const char *path, const struct hrn_image *photo,
                                 const struct hrn_align *a, float *out224) {
    enum hrn_status st = HRN_OK;
    struct hrn_image m = {0}, crop = {0};
    HRN_TRY(hrn_image_read(path, HRN_IMAGE_GRAY, &m));
    if (m.w != photo->w || m.h != photo->h) {
        st = hrn_error_set(HRN_ERR_INVALID, "%s: mask is %dx%d, its image is %dx%d", path, m.w,
                           m.h, photo->w, photo->h);
        goto fail;
    }
    HRN_TRY(hrn_align_crop(&m, a, 224, 102.0, &crop, NULL, 0, NULL));
    for (int i = 0; i < 224 * 224; i++) out224[i] = crop.data[i] > 0.5f ? 1.0f : 0.0f;
fail:
    hrn_image_free(&m);
    hrn_image_free(&crop);
    return st;
}

enum hrn_status hrn_fit_view_from_photo(const struct hrn_face_model *fm,
                                        const struct hrn_fit_config *cfg, const char *image,
                                        const char *landmarks, const char *mask,
                                        struct hrn_fit_view *v) {
    enum hrn_status st = HRN_OK;
    struct hrn_image photo = {0};
    float lm[68 * 2], model5[15];
    int n = 0;
    memset(v, 0, sizeof *v);
    snprintf(v->src, sizeof v->src, "%s", image);
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    snprintf(v->name, sizeof v->name, "%s", base);
    char *dot = strrchr(v->name, '.');
    if (dot && dot != v->name) *dot = 0;

    HRN_TRY(hrn_image_read(image, HRN_IMAGE_RGB, &photo));
    st = hrn_lmk_read(landmarks, 0, lm, 68, &n);
    if (st != HRN_OK) goto fail;
    if (n != 68 && n != 5) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: %d landmarks, expected 68 or 5", landmarks, n);
        goto fail;
    }
    st = hrn_model_lm5(fm, model5);
    if (st != HRN_OK) {
        st = hrn_error_prefix(st, "face model %s: ", fm->name);
        goto fail;
    }
    HRN_TRY(hrn_align_fit(lm, n, photo.w, photo.h, model5, &v->align));
    v->has_align = 1;
    v->crop_scale = (float)(102.0 / (double)v->align.s);
    v->n_lm = n;
    v->eye_px = eye_distance(lm, n);
    photo_box(&v->align, v->photo_box);
    HRN_TRY(hrn_align_crop(&photo, &v->align, 224, 102.0, &v->img, lm, n, v->lm));
    HRN_TRY(hrn_align_crop(&photo, &v->align, 512, 102.0 * 512 / 224, &v->img_hd, NULL, 0, NULL));
    if (mask) {
        v->mask = malloc(224 * 224 * sizeof(float));
        if (!v->mask) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for the mask", mask);
            goto fail;
        }
        HRN_TRY(load_mask(mask, &photo, &v->align, v->mask));
    } else if (n == 68) {
        v->mask = malloc(224 * 224 * sizeof(float));
        if (!v->mask) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: no memory for the mask", image);
            goto fail;
        }
        HRN_TRY(hrn_face_region_mask(v->lm, 224, cfg->forehead, v->mask));
        v->mask_from_lm = 1;
        hrn_log(HRN_LOG_INFO, "%s: no face mask given: using the face region of the 68 landmarks "
                "(jaw closed over the brows raised %.2g eye-brow distances)", image,
                (double)cfg->forehead);
    } else {
        hrn_log(HRN_LOG_WARN, "%s: no face mask and only 5 landmarks: the photometric loss uses "
                "the rendered face region only, no contour loss", image);
    }
    hrn_image_free(&photo);
    return HRN_OK;
fail:
    hrn_image_free(&photo);
    hrn_fit_view_free(v);
    return st;
}
