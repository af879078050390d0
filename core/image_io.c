/* image_io.c: image memory, channel conversion, PNG (libpng) and JPEG (libjpeg-turbo) files.
 *
 * Both libraries report fatal errors through a callback that must not return; ours longjmp()s
 * back. The setjmp() sits in a small function whose state lives in a struct owned by its caller,
 * so no local of the function that called setjmp() changes between setjmp and longjmp (C11
 * 7.13.2.1: such locals would be indeterminate). */
#include "hrn_image.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <png.h>
/* jpeglib.h needs size_t and FILE declared first */
#include <jpeglib.h>
#include <jerror.h>

/* --- memory and conversion -------------------------------------------------------------------- */

enum hrn_status hrn_image_init(struct hrn_image *img, int w, int h, int c) {
    HRN_ASSERT(img != NULL);
    memset(img, 0, sizeof *img);
    if (w < 1 || h < 1 || c < 1 || c > 4 || w > HRN_IMAGE_MAX_SIDE || h > HRN_IMAGE_MAX_SIDE)
        return hrn_error_set(HRN_ERR_INVALID, "image size %dx%d with %d channels: expected sides "
                             "1..%d and 1 to 4 channels", w, h, c, HRN_IMAGE_MAX_SIDE);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    float *d = calloc(n, sizeof *d);
    if (!d)
        return hrn_error_set(HRN_ERR_NOMEM, "image %dx%dx%d: cannot allocate %zu bytes", w, h, c,
                             n * sizeof *d);
    img->w = w;
    img->h = h;
    img->c = c;
    img->data = d;
    return HRN_OK;
}

void hrn_image_free(struct hrn_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

static float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

enum hrn_status hrn_image_convert(const struct hrn_image *src, int c, struct hrn_image *dst) {
    HRN_ASSERT(src && dst && src != dst && src->data);
    if (c == HRN_IMAGE_ANY) c = src->c;
    if (c < 1 || c > 4) {
        memset(dst, 0, sizeof *dst);
        return hrn_error_set(HRN_ERR_INVALID, "image convert: %d channels, expected 1 to 4", c);
    }
    enum hrn_status st = hrn_image_init(dst, src->w, src->h, c);
    if (st != HRN_OK) return st;
    size_t np = (size_t)src->w * (size_t)src->h;
    const float *s = src->data;
    float *d = dst->data;
    int sc = src->c;
    int s_alpha = sc == 2 || sc == 4, d_alpha = c == 2 || c == 4;
    int s_color = sc >= 3, d_color = c >= 3;
    /* colour planes */
    if (d_color && s_color) {
        memcpy(d, s, 3 * np * sizeof *d);
    } else if (d_color) {
        for (int k = 0; k < 3; k++) memcpy(d + k * np, s, np * sizeof *d);
    } else if (s_color) {
        for (size_t i = 0; i < np; i++) d[i] = luma(s[i], s[np + i], s[2 * np + i]);
    } else {
        memcpy(d, s, np * sizeof *d);
    }
    /* alpha plane */
    if (d_alpha) {
        float *da = d + (size_t)(c - 1) * np;
        if (s_alpha)
            memcpy(da, s + (size_t)(sc - 1) * np, np * sizeof *d);
        else
            for (size_t i = 0; i < np; i++) da[i] = 1.0f;
    }
    return HRN_OK;
}

/* Apply a channel request to a freshly read image (in place: swaps in the converted one). */
static enum hrn_status apply_channels(struct hrn_image *img, int channels) {
    if (channels == HRN_IMAGE_ANY || channels == img->c) return HRN_OK;
    struct hrn_image conv;
    enum hrn_status st = hrn_image_convert(img, channels, &conv);
    hrn_image_free(img);
    if (st == HRN_OK) *img = conv;
    return st;
}

/* --- float <-> integer samples ---------------------------------------------------------------- */

static unsigned quantize(float v, unsigned maxv) {
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return maxv;
    return (unsigned)(v * (float)maxv + 0.5f);
}

/* --- PNG -------------------------------------------------------------------------------------- */

struct png_io {
    const char *path;
    FILE *fp;
    png_structp png;
    png_infop info;
    uint8_t *pixels;      /* interleaved rows as libpng hands them over */
    png_bytep *rows;
    struct hrn_image img; /* result under construction */
    enum hrn_status st;   /* set before a longjmp that is not a libpng error */
    char msg[200];        /* libpng's error text */
    uint64_t fsize;       /* bytes in the file, to bound what it can decompress to */
};

/* HRN_ERR_FORMAT unless a w x h image is under HRN_IMAGE_MAX_PIXELS and needs at most `per_byte`
 * output units per byte of the file (pixels for JPEG, raw bytes for PNG: `units`). */
static enum hrn_status check_declared(const char *path, const char *kind, uint64_t w, uint64_t h,
                                      uint64_t units, uint64_t per_byte, uint64_t fsize) {
    if (w * h > (uint64_t)HRN_IMAGE_MAX_PIXELS)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s declares %llux%llu pixels, more than the %d "
                             "allowed", path, kind, (unsigned long long)w, (unsigned long long)h,
                             HRN_IMAGE_MAX_PIXELS);
    if (units > per_byte * fsize)
        return hrn_error_set(HRN_ERR_FORMAT, "%s: %s declares %llux%llu pixels, which its %llu bytes "
                             "cannot hold (corrupt or hostile file)", path, kind,
                             (unsigned long long)w, (unsigned long long)h, (unsigned long long)fsize);
    return HRN_OK;
}

static void png_err_fn(png_structp png, png_const_charp msg) {
    struct png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg) {
    (void)png;
    hrn_log(HRN_LOG_DEBUG, "libpng: %s", msg);
}

/* Decode into io->img; returns 0 on success, -1 after a libpng error or allocation failure. */
static int png_read_body(struct png_io *io) {
    if (setjmp(png_jmpbuf(io->png))) return -1;
    png_init_io(io->png, io->fp);
    png_set_user_limits(io->png, HRN_IMAGE_MAX_SIDE, HRN_IMAGE_MAX_SIDE);
    png_read_info(io->png, io->info);
    /* the raw rows (one filter byte each) are what the zlib stream expands to, at most 1032:1 */
    png_uint_32 w0 = png_get_image_width(io->png, io->info), h0 = png_get_image_height(io->png, io->info);
    uint64_t raw = (uint64_t)h0 * ((uint64_t)png_get_rowbytes(io->png, io->info) + 1);
    if ((io->st = check_declared(io->path, "PNG", w0, h0, raw, 1032, io->fsize)) != HRN_OK) return -1;
    /* palette -> RGB, 1/2/4-bit gray -> 8-bit, tRNS -> alpha; nothing else (no gamma) */
    png_set_expand(io->png);
    png_set_interlace_handling(io->png);
    png_read_update_info(io->png, io->info);
    png_uint_32 w = png_get_image_width(io->png, io->info);
    png_uint_32 h = png_get_image_height(io->png, io->info);
    int bits = png_get_bit_depth(io->png, io->info);
    int c = png_get_channels(io->png, io->info);
    size_t rowbytes = png_get_rowbytes(io->png, io->info);
    if ((bits != 8 && bits != 16) || c < 1 || c > 4 || rowbytes != (size_t)w * (size_t)c * (size_t)(bits / 8))
        png_error(io->png, "unexpected layout after expansion");
    enum hrn_status st = hrn_image_init(&io->img, (int)w, (int)h, c);
    if (st != HRN_OK) {
        io->st = hrn_error_prefix(st, "%s", io->path);
        return -1;
    }
    io->pixels = malloc(rowbytes * h);
    io->rows = malloc(h * sizeof *io->rows);
    if (!io->pixels || !io->rows) {
        io->st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot allocate %zu bytes for the pixels",
                               io->path, rowbytes * h);
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) io->rows[y] = io->pixels + (size_t)y * rowbytes;
    png_read_image(io->png, io->rows);
    png_read_end(io->png, NULL); /* reaches IEND, so a file cut after the pixels is caught too */
    size_t np = (size_t)w * h;
    float *d = io->img.data;
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *r = io->rows[y];
        for (png_uint_32 x = 0; x < w; x++) {
            size_t o = (size_t)y * w + x;
            for (int k = 0; k < c; k++) {
                float v;
                if (bits == 8) {
                    v = (float)r[(size_t)x * c + k] * (1.0f / 255.0f);
                } else {
                    const uint8_t *p = r + ((size_t)x * c + k) * 2; /* big-endian */
                    v = (float)((p[0] << 8) | p[1]) * (1.0f / 65535.0f);
                }
                d[(size_t)k * np + o] = v;
            }
        }
    }
    return 0;
}

static enum hrn_status read_png(const char *path, FILE *fp, uint64_t fsize, struct hrn_image *out) {
    struct png_io io;
    memset(&io, 0, sizeof io);
    io.path = path;
    io.fp = fp;
    io.fsize = fsize;
    io.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_err_fn, png_warn_fn);
    if (io.png) io.info = png_create_info_struct(io.png);
    if (!io.png || !io.info) {
        png_destroy_read_struct(io.png ? &io.png : NULL, NULL, NULL);
        return hrn_error_set(HRN_ERR_NOMEM, "%s: cannot set up libpng", path);
    }
    enum hrn_status st = HRN_OK;
    if (png_read_body(&io) != 0) {
        if (io.st != HRN_OK)
            st = io.st; /* the message is set already */
        else
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", path, io.msg);
        hrn_image_free(&io.img);
    }
    png_destroy_read_struct(&io.png, &io.info, NULL);
    free(io.rows);
    free(io.pixels);
    *out = io.img;
    return st;
}

/* Encode img into io->fp; 0 on success, -1 after a libpng error or allocation failure. */
static int png_write_body(struct png_io *io, const struct hrn_image *img, int bits) {
    if (setjmp(png_jmpbuf(io->png))) return -1;
    static const int COLOR_TYPE[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(io->png, io->fp);
    png_set_IHDR(io->png, io->info, (png_uint_32)img->w, (png_uint_32)img->h, bits,
                 COLOR_TYPE[img->c], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(io->png, io->info);
    int c = img->c, bpp = bits / 8;
    size_t np = (size_t)img->w * (size_t)img->h;
    io->pixels = malloc((size_t)img->w * (size_t)c * (size_t)bpp);
    if (!io->pixels) {
        io->st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", io->path);
        return -1;
    }
    unsigned maxv = bits == 8 ? 255u : 65535u;
    for (int y = 0; y < img->h; y++) {
        uint8_t *r = io->pixels;
        for (int x = 0; x < img->w; x++) {
            for (int k = 0; k < c; k++) {
                unsigned v = quantize(img->data[(size_t)k * np + (size_t)y * img->w + x], maxv);
                if (bits == 8) {
                    *r++ = (uint8_t)v;
                } else {
                    *r++ = (uint8_t)(v >> 8);
                    *r++ = (uint8_t)(v & 0xff);
                }
            }
        }
        png_write_row(io->png, io->pixels);
    }
    png_write_end(io->png, NULL);
    return 0;
}

static enum hrn_status check_writable_image(const char *path, const struct hrn_image *img) {
    HRN_ASSERT(path && img);
    if (!img->data || img->w < 1 || img->h < 1 || img->c < 1 || img->c > 4)
        return hrn_error_set(HRN_ERR_INVALID, "%s: cannot write an empty image (%dx%d, %d channels)",
                             path, img->w, img->h, img->c);
    return HRN_OK;
}

enum hrn_status hrn_image_write_png(const char *path, const struct hrn_image *img, int bits) {
    enum hrn_status st = check_writable_image(path, img);
    if (st != HRN_OK) return st;
    if (bits != 8 && bits != 16)
        return hrn_error_set(HRN_ERR_INVALID, "%s: PNG with %d bits per sample, expected 8 or 16",
                             path, bits);
    struct png_io io;
    memset(&io, 0, sizeof io);
    io.path = path;
    struct hrn_tmpfile af;
    if ((st = hrn_tmpfile_open(&af, path)) != HRN_OK) return st;
    io.fp = af.fp;
    io.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, png_err_fn, png_warn_fn);
    if (io.png) io.info = png_create_info_struct(io.png);
    int ok = 0;
    if (!io.png || !io.info) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: cannot set up libpng", path);
    } else if (png_write_body(&io, img, bits) != 0) {
        st = io.st != HRN_OK ? io.st
                             : hrn_error_set(HRN_ERR_IO, "%s: cannot write PNG: %s", path, io.msg);
    } else {
        ok = 1;
    }
    png_destroy_write_struct(io.png ? &io.png : NULL, io.info ? &io.info : NULL);
    free(io.pixels);
    enum hrn_status st2 = hrn_tmpfile_close(&af, ok);
    return st != HRN_OK ? st : st2;
}

/* --- JPEG ------------------------------------------------------------------------------------- */

struct jpeg_err {
    struct jpeg_error_mgr mgr; /* first, so the libjpeg pointer converts back */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_error_exit_fn(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* libjpeg reports a truncated file only as a warning and pads the rest with grey; treat the
 * "premature end" warnings as errors and pass the other (benign) ones to the debug log. */
static void jpeg_emit_message_fn(j_common_ptr cinfo, int level) {
    if (level >= 0) return; /* trace messages */
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) jpeg_error_exit_fn(cinfo);
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    cinfo->err->num_warnings++;
    hrn_log(HRN_LOG_DEBUG, "libjpeg: %s", buf);
}

struct jpeg_rd {
    const char *path;
    FILE *fp;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err err;
    int created;
    uint8_t *row;
    struct hrn_image img;
    enum hrn_status st; /* set before a longjmp that is not a libjpeg error */
    uint64_t fsize;
    int header_only;    /* stop after the header (hrn_image_read_jpeg_orientation) */
    int orientation;    /* Exif orientation, 1..8 */
};

/* --- Exif orientation --------------------------------------------------------------------------
 * ref: Exif 2.32 (CIPA DC-008) 4.5.4 and TIFF 6.0 section 2. The APP1 payload is "Exif\0\0" and a
 * TIFF header: byte order "II" or "MM", 42, the offset of IFD0; IFD0 is a count and 12-byte
 * entries (tag, type, count, value). Orientation is tag 0x0112, type SHORT, value 1..8. Every
 * offset comes from the file, so each is checked against the payload's length. */

static unsigned get16(const uint8_t *p, int be) { return be ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0]; }

static uint32_t get32(const uint8_t *p, int be) {
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int exif_orientation(const uint8_t *p, size_t len) {
    if (len < 14 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = p + 6;
    size_t n = len - 6;
    int be;
    if (t[0] == 'I' && t[1] == 'I') be = 0;
    else if (t[0] == 'M' && t[1] == 'M') be = 1;
    else return 1;
    if (get16(t + 2, be) != 42) return 1;
    uint32_t ifd = get32(t + 4, be);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = get16(t + ifd, be);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > n) return 1;
        if (get16(t + e, be) != 0x0112) continue;
        unsigned v = get16(t + e + 8, be);
        return get16(t + e + 2, be) == 3 && get32(t + e + 4, be) >= 1 && v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

enum hrn_status hrn_image_orient(const struct hrn_image *src, int o, struct hrn_image *dst) {
    HRN_ASSERT(src && dst && src->data && o >= 1 && o <= 8);
    int w = src->w, h = src->h, swap = o >= 5;
    enum hrn_status st = hrn_image_init(dst, swap ? h : w, swap ? w : h, src->c);
    if (st != HRN_OK) return st;
    int W = dst->w, H = dst->h;
    for (int ch = 0; ch < src->c; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sx, sy; /* the source pixel shown at (x, y) once upright */
                switch (o) {
                case 2: sx = w - 1 - x, sy = y; break;
                case 3: sx = w - 1 - x, sy = h - 1 - y; break;
                case 4: sx = x, sy = h - 1 - y; break;
                case 5: sx = y, sy = x; break;                 /* transpose */
                case 6: sx = y, sy = h - 1 - x; break;         /* rotate 90 clockwise */
                case 7: sx = w - 1 - y, sy = h - 1 - x; break; /* transverse */
                case 8: sx = w - 1 - y, sy = x; break;         /* rotate 90 counter-clockwise */
                default: sx = x, sy = y; break;
                }
                *hrn_image_px(dst, ch, y, x) = *hrn_image_px(src, ch, sy, sx);
            }
    return HRN_OK;
}

static int jpeg_read_body(struct jpeg_rd *r) {
    if (setjmp(r->err.jb)) return -1;
    jpeg_create_decompress(&r->cinfo);
    r->created = 1;
    jpeg_stdio_src(&r->cinfo, r->fp);
    jpeg_save_markers(&r->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&r->cinfo, TRUE);
    r->orientation = 1;
    for (jpeg_saved_marker_ptr m = r->cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
            r->orientation = exif_orientation(m->data, m->data_length);
            break;
        }
    if (r->header_only) return 0;
    /* Huffman: >= 2 bits per 8x8 block (a 1-bit DC code and a 1-bit end of block) */
    uint64_t per_byte = r->cinfo.progressive_mode || r->cinfo.arith_code ? 4096 : 256;
    uint64_t iw = r->cinfo.image_width, ih = r->cinfo.image_height;
    if ((r->st = check_declared(r->path, "JPEG", iw, ih, iw * ih, per_byte, r->fsize)) != HRN_OK)
        return -1;
    if (r->cinfo.jpeg_color_space == JCS_CMYK || r->cinfo.jpeg_color_space == JCS_YCCK) {
        r->st = hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: CMYK JPEG is not supported", r->path);
        return -1;
    }
    r->cinfo.out_color_space = r->cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&r->cinfo);
    int w = (int)r->cinfo.output_width, h = (int)r->cinfo.output_height;
    int c = r->cinfo.output_components;
    enum hrn_status st = hrn_image_init(&r->img, w, h, c);
    if (st != HRN_OK) {
        r->st = hrn_error_prefix(st, "%s", r->path);
        return -1;
    }
    r->row = malloc((size_t)w * (size_t)c);
    if (!r->row) {
        r->st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", r->path);
        return -1;
    }
    size_t np = (size_t)w * (size_t)h;
    while (r->cinfo.output_scanline < r->cinfo.output_height) {
        size_t y = r->cinfo.output_scanline;
        JSAMPROW rows[1] = {r->row};
        jpeg_read_scanlines(&r->cinfo, rows, 1);
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                r->img.data[(size_t)k * np + y * (size_t)w + (size_t)x] =
                    (float)r->row[(size_t)x * c + k] * (1.0f / 255.0f);
    }
    jpeg_finish_decompress(&r->cinfo);
    return 0;
}

static enum hrn_status read_jpeg(const char *path, FILE *fp, uint64_t fsize, int *orientation,
                                 struct hrn_image *out) {
    /* the struct is large (libjpeg state); heap-allocate it */
    struct jpeg_rd *r = calloc(1, sizeof *r);
    if (!r) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    r->path = path;
    r->fp = fp;
    r->fsize = fsize;
    r->cinfo.err = jpeg_std_error(&r->err.mgr);
    r->err.mgr.error_exit = jpeg_error_exit_fn;
    r->err.mgr.emit_message = jpeg_emit_message_fn;
    enum hrn_status st = HRN_OK;
    if (jpeg_read_body(r) != 0) {
        st = r->st != HRN_OK
                 ? r->st
                 : hrn_error_set(HRN_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", path,
                                 r->err.msg);
        hrn_image_free(&r->img);
    }
    if (r->created) jpeg_destroy_decompress(&r->cinfo);
    free(r->row);
    *orientation = st == HRN_OK ? r->orientation : 1;
    *out = r->img;
    free(r);
    if (st == HRN_OK && *orientation != 1) {
        struct hrn_image up;
        st = hrn_image_orient(out, *orientation, &up);
        hrn_image_free(out);
        if (st != HRN_OK) return hrn_error_prefix(st, "%s: Exif orientation %d", path, *orientation);
        *out = up;
    }
    return st;
}

struct jpeg_wr {
    FILE *fp;
    struct jpeg_compress_struct cinfo;
    struct jpeg_err err;
    int created;
    uint8_t *row;
};

static int jpeg_write_body(struct jpeg_wr *wr, const struct hrn_image *img, int quality) {
    if (setjmp(wr->err.jb)) return -1;
    jpeg_create_compress(&wr->cinfo);
    wr->created = 1;
    jpeg_stdio_dest(&wr->cinfo, wr->fp);
    wr->cinfo.image_width = (JDIMENSION)img->w;
    wr->cinfo.image_height = (JDIMENSION)img->h;
    wr->cinfo.input_components = img->c;
    wr->cinfo.in_color_space = img->c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&wr->cinfo);
    jpeg_set_quality(&wr->cinfo, quality, TRUE);
    jpeg_start_compress(&wr->cinfo, TRUE);
    int c = img->c;
    size_t np = (size_t)img->w * (size_t)img->h;
    while (wr->cinfo.next_scanline < wr->cinfo.image_height) {
        size_t y = wr->cinfo.next_scanline;
        for (int x = 0; x < img->w; x++)
            for (int k = 0; k < c; k++)
                wr->row[(size_t)x * c + k] =
                    (uint8_t)quantize(img->data[(size_t)k * np + y * (size_t)img->w + x], 255u);
        JSAMPROW rows[1] = {wr->row};
        jpeg_write_scanlines(&wr->cinfo, rows, 1);
    }
    jpeg_finish_compress(&wr->cinfo);
    return 0;
}

enum hrn_status hrn_image_write_jpeg(const char *path, const struct hrn_image *img, int quality) {
    enum hrn_status st = check_writable_image(path, img);
    if (st != HRN_OK) return st;
    if (img->c != 1 && img->c != 3)
        return hrn_error_set(HRN_ERR_INVALID, "%s: JPEG needs 1 or 3 channels, the image has %d "
                             "(JPEG has no alpha: hrn_image_convert first)", path, img->c);
    if (quality < 1 || quality > 100)
        return hrn_error_set(HRN_ERR_INVALID, "%s: JPEG quality %d, expected 1 to 100", path,
                             quality);
    struct jpeg_wr *wr = calloc(1, sizeof *wr);
    if (!wr) return hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
    wr->row = malloc((size_t)img->w * (size_t)img->c);
    struct hrn_tmpfile af = {0};
    int ok = 0;
    if (!wr->row) {
        st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((st = hrn_tmpfile_open(&af, path)) != HRN_OK) goto fail;
    wr->fp = af.fp;
    wr->cinfo.err = jpeg_std_error(&wr->err.mgr);
    wr->err.mgr.error_exit = jpeg_error_exit_fn;
    if (jpeg_write_body(wr, img, quality) != 0) {
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot write JPEG: %s", path, wr->err.msg);
        goto fail;
    }
    ok = 1;
fail:
    if (wr->created) jpeg_destroy_compress(&wr->cinfo);
    {
        enum hrn_status st2 = hrn_tmpfile_close(&af, ok);
        if (st == HRN_OK) st = st2;
    }
    free(wr->row);
    free(wr);
    return st;
}

/* --- dispatch --------------------------------------------------------------------------------- */

/* Open path and tell PNG (1) from JPEG (2) by the first bytes; 0 and a message otherwise. */
static enum hrn_status open_image(const char *path, FILE **fp, int *kind, uint64_t *fsize) {
    *kind = 0;
    *fp = fopen(path, "rb");
    if (!*fp) return hrn_error_set(HRN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    uint8_t magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, *fp);
    enum hrn_status st = HRN_OK;
    if (ferror(*fp) || fstat(fileno(*fp), &sb) != 0) {
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    } else if (fseek(*fp, 0, SEEK_SET) != 0) {
        st = hrn_error_set(HRN_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    } else if (got == 8 && png_sig_cmp(magic, 0, 8) == 0) {
        *kind = 1;
    } else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
        *kind = 2;
    } else {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: not a PNG or JPEG file (%s)", path,
                           got == 0 ? "empty" : "unknown first bytes");
    }
    *fsize = st == HRN_OK ? (uint64_t)sb.st_size : 0;
    if (st != HRN_OK) {
        fclose(*fp);
        *fp = NULL;
    }
    return st;
}

/* Size and Exif orientation from the headers only: PNG's IHDR is the first chunk (bytes 16-23),
 * a JPEG's are read by libjpeg up to its first scan. */
static enum hrn_status read_header(const char *path, int *w, int *h, int *orientation) {
    FILE *fp;
    int kind;
    uint64_t fsize;
    enum hrn_status st = open_image(path, &fp, &kind, &fsize);
    if (st != HRN_OK) return st;
    *orientation = 1;
    if (kind == 1) {
        uint8_t b[24];
        if (fread(b, 1, sizeof b, fp) != sizeof b || memcmp(b + 12, "IHDR", 4) != 0) {
            st = hrn_error_set(HRN_ERR_FORMAT, "%s: corrupt or truncated PNG: no IHDR chunk", path);
        } else {
            uint32_t pw = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
            uint32_t ph = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
            if (pw < 1 || ph < 1 || pw > HRN_IMAGE_MAX_SIDE || ph > HRN_IMAGE_MAX_SIDE)
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: PNG declares %ux%u pixels", path, pw, ph);
            *w = (int)pw;
            *h = (int)ph;
        }
    } else {
        struct jpeg_rd *r = calloc(1, sizeof *r);
        if (!r) {
            st = hrn_error_set(HRN_ERR_NOMEM, "%s: out of memory", path);
        } else {
            r->path = path;
            r->fp = fp;
            r->fsize = fsize;
            r->header_only = 1;
            r->cinfo.err = jpeg_std_error(&r->err.mgr);
            r->err.mgr.error_exit = jpeg_error_exit_fn;
            r->err.mgr.emit_message = jpeg_emit_message_fn;
            if (jpeg_read_body(r) != 0)
                st = hrn_error_set(HRN_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", path, r->err.msg);
            *w = (int)r->cinfo.image_width;
            *h = (int)r->cinfo.image_height;
            *orientation = r->orientation;
            if (r->created) jpeg_destroy_decompress(&r->cinfo);
            free(r);
        }
    }
    fclose(fp);
    return st;
}

int hrn_image_read_jpeg_orientation(const char *path) {
    int w, h, o = 1;
    if (read_header(path, &w, &h, &o) != HRN_OK) {
        hrn_error_clear();
        return 1;
    }
    return o;
}

enum hrn_status hrn_image_size(const char *path, int *w, int *h) {
    int o = 1;
    enum hrn_status st = read_header(path, w, h, &o);
    if (st == HRN_OK && o >= 5) { /* upright, as hrn_image_read returns it */
        int t = *w;
        *w = *h;
        *h = t;
    }
    return st;
}

enum hrn_status hrn_image_read(const char *path, int channels, struct hrn_image *out) {
    HRN_ASSERT(path && out);
    memset(out, 0, sizeof *out);
    if (channels < HRN_IMAGE_ANY || channels > HRN_IMAGE_RGBA)
        return hrn_error_set(HRN_ERR_INVALID, "%s: %d channels requested, expected 0 to 4", path,
                             channels);
    FILE *fp;
    int kind, orientation;
    uint64_t fsize;
    enum hrn_status st = open_image(path, &fp, &kind, &fsize);
    if (st != HRN_OK) return st;
    st = kind == 1 ? read_png(path, fp, fsize, out) : read_jpeg(path, fp, fsize, &orientation, out);
    fclose(fp);
    if (st == HRN_OK && (st = apply_channels(out, channels)) != HRN_OK)
        hrn_error_prefix(st, "%s", path);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

enum hrn_status hrn_image_write(const char *path, const struct hrn_image *img) {
    HRN_ASSERT(path && img);
    if (ends_with(path, ".png")) return hrn_image_write_png(path, img, 8);
    if (ends_with(path, ".jpg") || ends_with(path, ".jpeg")) return hrn_image_write_jpeg(path, img, 95);
    return hrn_error_set(HRN_ERR_INVALID, "%s: unknown image extension, expected .png, .jpg or .jpeg",
                         path);
}
