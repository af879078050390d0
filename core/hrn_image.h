/* hrn_image.h: float images: PNG/JPEG read and write, channel conversion, bilinear resize
 * (PyTorch-exact), affine warp and padded crop. Part of the core module; include "hrn_core.h".
 *
 * Usage:
 *
 *     struct hrn_image img = {0}, face = {0}, small = {0};
 *     enum hrn_status st;
 *     HRN_TRY(hrn_image_read("photo.jpg", HRN_IMAGE_RGB, &img));   // (3,H,W) floats in [0,1]
 *     float r = *hrn_image_px(&img, 0, 10, 20);                     // red at row 10, column 20
 *
 *     // 224x224 crop: dst pixel (x,y) samples src at A*(x,y,1), border grey
 *     double A[6] = {s, 0, tx,
 *                    0, s, ty};
 *     HRN_TRY(hrn_image_warp_affine(&img, A, 224, 224, (float[]){0.5f, 0.5f, 0.5f}, &face));
 *     HRN_TRY(hrn_image_resize(&face, 112, 112, 0, &small));      // F.interpolate, align_corners=False
 *     HRN_TRY(hrn_image_write_jpeg("face.jpg", &face, 95));        // face.jpg.tmp, then rename
 *   fail:
 *     hrn_image_free(&img);                                         // NULL-safe, idempotent
 *     hrn_image_free(&face);
 *     hrn_image_free(&small);
 *
 * Conventions
 * - Layout: data is planar CHW float32, data[(ch*h + y)*w + x], one malloc() owned by the struct.
 *   Channels are 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. Values are in [0,1]: 8-bit v -> v/255,
 *   16-bit v -> v/65535. Alpha is straight (not premultiplied), as stored in PNG.
 * - Reading keeps the file's channel count (HRN_IMAGE_ANY) or converts (hrn_image_convert).
 *   PNG palettes and tRNS become RGB(A)/gray+alpha, 1/2/4-bit gray is scaled to 8 bits. Sample
 *   values are taken as stored: no gamma, sRGB or ICC conversion, the same numbers PIL, OpenCV
 *   and torchvision give (libpng's simplified png_image API would linearise 16-bit data and
 *   premultiply its alpha, so the low-level API is used). JPEGs decode with libjpeg-turbo's
 *   defaults (islow IDCT, fancy upsampling), as PIL does. The format is found from the first
 *   bytes, not the file name.
 * - Writing clamps to [0,1] (NaN -> 0) and rounds to nearest. Files are written to
 *   "<path>.tmp" and renamed, so a failed write leaves no partial file.
 * - Pixel coordinates: pixel (row i, column j) has its CENTRE at (x=j, y=i). The image covers
 *   [-0.5, w-0.5] x [-0.5, h-0.5].
 * - Resize is F.interpolate(mode='bilinear', antialias=False) with the given align_corners, per
 *   channel: align_corners=0 maps dst x to src (x+0.5)*w_in/w_out-0.5 (clamped at 0 from
 *   below), align_corners=1 to x*(w_in-1)/(w_out-1). No antialiasing when shrinking.
 * - Affine warp: dst(x,y) = bilinear sample of src at (sx,sy) = A*(x,y,1), A a row-major 2x3
 *   matrix [a0 a1 a2; a3 a4 a5] mapping DESTINATION pixel coordinates to SOURCE pixel
 *   coordinates (pixel centres at integers). This is cv2.warpAffine(src, A, (w,h),
 *   flags=INTER_LINEAR|WARP_INVERSE_MAP, borderMode=BORDER_CONSTANT, borderValue=border) but
 *   with exact (not 1/32-pixel) weights, and F.grid_sample(align_corners=True,
 *   padding_mode='zeros') for a zero border. Neighbours outside the source take the border
 *   value and are blended like any other pixel. Use hrn_affine_invert for a forward matrix.
 * - Errors: HRN_ERR_IO (cannot open/read/write; names the file), HRN_ERR_FORMAT (not a PNG or
 *   JPEG, corrupt or truncated data; a truncated JPEG is an error, not libjpeg's grey padding),
 *   HRN_ERR_UNSUPPORTED (CMYK JPEG), HRN_ERR_INVALID (bad sizes/arguments), HRN_ERR_NOMEM.
 *   On any error the output image is left empty ({0}), so hrn_image_free is always safe.
 */
#ifndef HRN_IMAGE_H
#define HRN_IMAGE_H

#include "hrn_base.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hrn_image {
    int w, h, c;  /* width, height, channels (1..4) */
    float *data;  /* (c, h, w) planar, malloc()ed; NULL when empty */
};

/* Channel count to read or convert to; the values are channel counts. */
enum hrn_image_channels {
    HRN_IMAGE_ANY = 0, /* keep the file's channels */
    HRN_IMAGE_GRAY = 1,
    HRN_IMAGE_GRAY_ALPHA = 2,
    HRN_IMAGE_RGB = 3,
    HRN_IMAGE_RGBA = 4,
};

enum { HRN_IMAGE_MAX_SIDE = 1 << 16 }; /* larger sides are refused as corrupt/hostile */
/* The most pixels a file may declare: 2^27 (134 Mpx, 1.6 GB as float RGB), above any camera.
 * Reading also refuses, before allocating, a file too small for the pixels it declares: a PNG's
 * zlib stream expands at most 1032:1, a baseline Huffman JPEG spends at least 2 bits per 8x8
 * block (256 pixels per byte); progressive or arithmetic-coded JPEGs may reach 4096 per byte. */
enum { HRN_IMAGE_MAX_PIXELS = 1 << 27 };

/* --- memory ----------------------------------------------------------------------------------- */

/* Allocate a zero-filled (c,h,w) image. HRN_ERR_INVALID for sizes < 1, c > 4 or a side above
 * HRN_IMAGE_MAX_SIDE; HRN_ERR_NOMEM. img is overwritten (it must not own data). */
enum hrn_status hrn_image_init(struct hrn_image *img, int w, int h, int c);
/* Free the data and zero the struct. NULL-safe; safe twice. */
void hrn_image_free(struct hrn_image *img);
/* Address of sample (channel ch, row y, column x). No bounds check. */
static inline float *hrn_image_px(const struct hrn_image *img, int ch, int y, int x) {
    return img->data + ((size_t)ch * (size_t)img->h + (size_t)y) * (size_t)img->w + (size_t)x;
}

/* A new image with `c` channels (enum hrn_image_channels; ANY copies). Gray -> RGB replicates;
 * RGB -> gray is the BT.601 luma 0.299 R + 0.587 G + 0.114 B (PIL convert('L'), OpenCV
 * RGB2GRAY); removing alpha drops it (no compositing, as PIL convert('RGB')); adding alpha sets
 * it to 1. dst must not own data and must not be src. */
enum hrn_status hrn_image_convert(const struct hrn_image *src, int c, struct hrn_image *dst);

/* --- files ------------------------------------------------------------------------------------ */

/* Read a PNG (1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA, palette, interlaced) or a baseline /
 * progressive JPEG (gray or colour), found by magic bytes, then convert to `channels`
 * (HRN_IMAGE_ANY keeps the file's). out must not own data; on error it stays empty.
 * A JPEG's Exif orientation (APP1 tag 0x0112, values 2-8) is applied, so the image comes out
 * upright as viewers and PIL's ImageOps.exif_transpose show it: landmarks must be given in that
 * frame. hrn_image_read_jpeg_orientation tells which orientation a file had. */
enum hrn_status hrn_image_read(const char *path, int channels, struct hrn_image *out);
/* Width and height of a PNG or JPEG from its header alone, as hrn_image_read would return it
 * (after the Exif orientation). Errors as hrn_image_read. */
enum hrn_status hrn_image_size(const char *path, int *w, int *h);
/* The Exif orientation of a JPEG file, 1..8 (1 when it has none, or is not a JPEG). */
int hrn_image_read_jpeg_orientation(const char *path);
/* Apply Exif orientation o (1..8) to src: dst receives the upright image (w and h swap for 5-8). */
enum hrn_status hrn_image_orient(const struct hrn_image *src, int o, struct hrn_image *dst);
/* PNG with `bits` 8 or 16 per sample, colour type from img->c (gray, gray+alpha, RGB, RGBA). */
enum hrn_status hrn_image_write_png(const char *path, const struct hrn_image *img, int bits);
/* Baseline JPEG, quality 1..100 (libjpeg scale; 4:2:0 chroma for colour, as PIL's default).
 * img->c must be 1 or 3 (JPEG has no alpha: convert first). */
enum hrn_status hrn_image_write_jpeg(const char *path, const struct hrn_image *img, int quality);
/* By extension: ".png" -> 8-bit PNG, ".jpg"/".jpeg" -> JPEG quality 95 (case-insensitive);
 * HRN_ERR_INVALID otherwise. */
enum hrn_status hrn_image_write(const char *path, const struct hrn_image *img);

/* --- resampling ------------------------------------------------------------------------------- */

/* Bilinear resize of planar data: src (c,h,w) -> dst (c,oh,ow), overwriting dst, exactly
 * F.interpolate(x, size=(oh,ow), mode='bilinear', align_corners=ac) without antialias.
 * src and dst must not overlap. */
void hrn_resize_bilinear(const float *src, int c, int h, int w, float *dst, int oh, int ow,
                         int align_corners);
/* Same on images; dst receives a new (src->c, h, w) image (it must not own data). */
enum hrn_status hrn_image_resize(const struct hrn_image *src, int w, int h, int align_corners,
                                 struct hrn_image *dst);

/* Affine warp of planar data: dst (c,oh,ow) from src (c,h,w), dst(x,y) = bilinear src at
 * A*(x,y,1) (A maps destination to source pixel coordinates, see the conventions above);
 * border holds c values for samples outside src (NULL: zeros). Overwrites dst. */
void hrn_warp_affine(const float *src, int c, int h, int w, const double A[6],
                     const float *border, float *dst, int oh, int ow);
/* Same on images; dst receives a new (src->c, h, w) image. */
enum hrn_status hrn_image_warp_affine(const struct hrn_image *src, const double A[6], int w, int h,
                                      const float *border, struct hrn_image *dst);

/* The inverse of the affine map A (a 2x3 matrix read as [A; 0 0 1]). HRN_ERR_NUMERIC if A is
 * singular (|det| below 1e-12 of the product of its column norms) or not finite. inv may be A. */
enum hrn_status hrn_affine_invert(const double A[6], double inv[6]);
/* (ox,oy) = A*(x,y,1). */
void hrn_affine_apply(const double A[6], double x, double y, double *ox, double *oy);

/* Crop the w x h rectangle whose top-left pixel is (x0,y0): dst(x,y) = src(x0+x, y0+y) where
 * that is inside src, else pad[ch] (pad holds src->c values; NULL: zeros). The rectangle may
 * lie partly or wholly outside src. dst receives a new image. */
enum hrn_status hrn_image_crop(const struct hrn_image *src, int x0, int y0, int w, int h,
                               const float *pad, struct hrn_image *dst);

#ifdef __cplusplus
}
#endif
#endif /* HRN_IMAGE_H */
