/* test_core_image.c: PNG/JPEG read and write (round trips, every PNG colour type, truncated and
 * bad files), channel conversion, crop, and resize / affine warp against PyTorch references in
 * tests/data/image_ops.h5 (made by tests/reference/gen_image_ops.py). Real images when present. */
#include "hrn_test.h"

#include <png.h>
/* jpeglib.h needs size_t and FILE declared first */
#include <jpeglib.h>

static char g_path[512];

/* "tmp_core_image/<name>" under the test's working directory. */
static const char *tmp_file(const char *name) {
    hrn_test_tmpdir("core_image");
    snprintf(g_path, sizeof g_path, "tmp_core_image/%.400s", name);
    return g_path;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Copy the first `keep` bytes of src to dst (a truncated file). */
static int truncate_copy(const char *src, const char *dst, long keep) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int ok = in && out;
    for (long i = 0; ok && i < keep; i++) {
        int ch = fgetc(in);
        if (ch == EOF) break;
        fputc(ch, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
    return ok;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* max |a - b| over n floats */
static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

/* --- memory and conversion -------------------------------------------------------------------- */

static void test_init_convert(void) {
    struct hrn_image img = {0}, out = {0};
    CHECK_STATUS(hrn_image_init(&img, 0, 5, 3), HRN_ERR_INVALID);
    CHECK(img.data == NULL);
    CHECK_STATUS(hrn_image_init(&img, 5, 5, 5), HRN_ERR_INVALID);
    CHECK_OK(hrn_image_init(&img, 2, 1, 3));
    if (!img.data) return;
    CHECK(img.w == 2 && img.h == 1 && img.c == 3 && img.data[5] == 0.0f);
    /* pixel 0 = (1, 0.5, 0), pixel 1 = (0.2, 0.4, 0.6) */
    float rgb[6] = {1.0f, 0.2f, 0.5f, 0.4f, 0.0f, 0.6f};
    memcpy(img.data, rgb, sizeof rgb);
    CHECK(*hrn_image_px(&img, 1, 0, 1) == 0.4f);
    CHECK_OK(hrn_image_convert(&img, HRN_IMAGE_GRAY, &out));
    CHECK(out.c == 1);
    CHECK_NEAR(out.data[0], 0.299 + 0.587 * 0.5, 1e-6, 0);
    CHECK_NEAR(out.data[1], 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6, 1e-6, 0);
    struct hrn_image back = {0};
    CHECK_OK(hrn_image_convert(&out, HRN_IMAGE_RGBA, &back));
    CHECK(back.c == 4 && back.data[0] == out.data[0] && back.data[2] == out.data[0] &&
          back.data[4] == out.data[0] && back.data[6] == 1.0f && back.data[7] == 1.0f);
    hrn_image_free(&out);
    CHECK_OK(hrn_image_convert(&back, HRN_IMAGE_GRAY_ALPHA, &out));
    CHECK(out.c == 2 && out.data[2] == 1.0f);
    hrn_image_free(&out);
    back.data[6] = 0.25f;
    CHECK_OK(hrn_image_convert(&back, HRN_IMAGE_RGB, &out)); /* alpha dropped, not composited */
    CHECK(out.c == 3 && out.data[0] == back.data[0]);
    hrn_image_free(&out);
    CHECK_OK(hrn_image_convert(&img, HRN_IMAGE_ANY, &out));
    CHECK(out.c == 3 && memcmp(out.data, img.data, sizeof rgb) == 0);
    hrn_image_free(&out);
    CHECK_STATUS(hrn_image_convert(&img, 7, &out), HRN_ERR_INVALID);
    CHECK(out.data == NULL);
    hrn_image_free(&back);
    hrn_image_free(&img);
    hrn_image_free(&img); /* twice is fine */
    hrn_image_free(NULL);
}

/* --- PNG -------------------------------------------------------------------------------------- */

/* An image with w*h*c integer levels k in [0,maxv] (pseudo-random, plus both extremes). */
static void fill_levels(struct hrn_image *img, unsigned maxv, unsigned seed) {
    struct hrn_rng r;
    hrn_rng_seed(&r, seed);
    size_t n = (size_t)img->w * img->h * img->c;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)hrn_rng_below(&r, (uint64_t)maxv + 1);
        if (i == 0) k = 0;
        if (i == 1) k = maxv;
        img->data[i] = (float)k / (float)maxv;
    }
}

static void test_png_roundtrip_exact(void) {
    for (int bits = 8; bits <= 16; bits += 8) {
        unsigned maxv = bits == 8 ? 255u : 65535u;
        for (int c = 1; c <= 4; c++) {
            struct hrn_image img = {0}, back = {0};
            CHECK_OK(hrn_image_init(&img, 13, 7, c));
            if (!img.data) return;
            fill_levels(&img, maxv, (unsigned)(bits * 10 + c));
            char name[64];
            snprintf(name, sizeof name, "rt_%dbit_%dc.png", bits, c);
            const char *path = tmp_file(name);
            CHECK_OK(hrn_image_write_png(path, &img, bits));
            char tmp[600];
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            CHECK(!file_exists(tmp));
            CHECK_OK(hrn_image_read(path, HRN_IMAGE_ANY, &back));
            CHECK_MSG(back.w == 13 && back.h == 7 && back.c == c, "%d-bit %dc: read %dx%dx%d", bits,
                      c, back.w, back.h, back.c);
            if (back.data && back.c == c) {
                size_t n = (size_t)13 * 7 * c, bad = 0;
                for (size_t i = 0; i < n; i++) {
                    long k0 = lrintf(img.data[i] * (float)maxv), k1 = lrintf(back.data[i] * (float)maxv);
                    if (k0 != k1 || fabsf(back.data[i] - img.data[i]) > 1e-7f) bad++;
                }
                CHECK_MSG(bad == 0, "%d-bit %d channels: %zu of %zu samples changed", bits, c, bad, n);
            }
            hrn_image_free(&back);
            hrn_image_free(&img);
        }
    }
}

static void test_png_rounding_and_clamping(void) {
    struct hrn_image img = {0}, back = {0};
    CHECK_OK(hrn_image_init(&img, 5, 1, 1));
    if (!img.data) return;
    float v[5] = {-0.5f, 1.5f, NAN, 0.3f, 0.5f / 255.0f + 1e-4f};
    memcpy(img.data, v, sizeof v);
    const char *path = tmp_file("clamp.png");
    CHECK_OK(hrn_image_write_png(path, &img, 8));
    CHECK_OK(hrn_image_read(path, HRN_IMAGE_ANY, &back));
    if (back.data) {
        CHECK(back.data[0] == 0.0f);
        CHECK(back.data[1] == 1.0f);
        CHECK(back.data[2] == 0.0f);
        CHECK_NEAR(back.data[3], 77.0 / 255.0, 1e-7, 0); /* 0.3*255 = 76.5 rounds to 77 */
        CHECK_NEAR(back.data[4], 1.0 / 255.0, 1e-7, 0);
    }
    hrn_image_free(&back);
    hrn_image_free(&img);
}

/* Write a PNG with libpng directly: palette, low bit depths, tRNS, interlacing, which
 * hrn_image_write_png never produces. rows are packed as PNG stores them. */
static void write_raw_png(const char *path, int w, int h, int depth, int color_type, int interlace,
                          png_bytep *rows, const png_color *pal, int npal, const png_byte *trns,
                          int ntrns, const png_color_16 *trans_color) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns || trans_color) png_set_tRNS(png, info, trns, ntrns, trans_color);
    png_write_info(png, info);
    png_set_interlace_handling(png);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void test_png_color_types(void) {
    struct hrn_image im = {0};
    /* 4-bit palette with tRNS -> RGBA */
    {
        png_color pal[3] = {{255, 0, 0}, {0, 128, 0}, {10, 20, 30}};
        png_byte trns[2] = {0, 200}; /* entry 2 has no alpha entry: opaque */
        png_byte r0[2] = {0x01, 0x20}, r1[2] = {0x21, 0x00}; /* 3 px per row: (0,1,2), (2,1,0) */
        png_bytep rows[2] = {r0, r1};
        const char *p = tmp_file("pal4.png");
        write_raw_png(p, 3, 2, 4, PNG_COLOR_TYPE_PALETTE, 0, rows, pal, 3, trns, 2, NULL);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_ANY, &im));
        CHECK(im.w == 3 && im.h == 2 && im.c == 4);
        if (im.data && im.c == 4) {
            CHECK(*hrn_image_px(&im, 0, 0, 0) == 1.0f && *hrn_image_px(&im, 3, 0, 0) == 0.0f);
            CHECK_NEAR(*hrn_image_px(&im, 1, 0, 1), 128.0 / 255, 1e-7, 0);
            CHECK_NEAR(*hrn_image_px(&im, 3, 0, 1), 200.0 / 255, 1e-7, 0);
            CHECK_NEAR(*hrn_image_px(&im, 2, 0, 2), 30.0 / 255, 1e-7, 0);
            CHECK(*hrn_image_px(&im, 3, 0, 2) == 1.0f);
            CHECK_NEAR(*hrn_image_px(&im, 0, 1, 0), 10.0 / 255, 1e-7, 0);
        }
        hrn_image_free(&im);
        /* the same palette without tRNS -> RGB, and forced to gray */
        write_raw_png(p, 3, 2, 4, PNG_COLOR_TYPE_PALETTE, 0, rows, pal, 3, NULL, 0, NULL);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_ANY, &im));
        CHECK(im.c == 3);
        hrn_image_free(&im);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_GRAY, &im));
        CHECK(im.c == 1);
        if (im.data) CHECK_NEAR(im.data[0], 0.299, 1e-6, 0);
        hrn_image_free(&im);
    }
    /* 1-bit gray, interlaced: 0 -> 0, 1 -> 1 */
    {
        png_byte r[3][1] = {{0xA0}, {0x40}, {0xE0}}; /* 3x3: 101 / 010 / 111 */
        png_bytep rows[3] = {r[0], r[1], r[2]};
        const char *p = tmp_file("gray1.png");
        write_raw_png(p, 3, 3, 1, PNG_COLOR_TYPE_GRAY, 1, rows, NULL, 0, NULL, 0, NULL);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_ANY, &im));
        CHECK(im.w == 3 && im.h == 3 && im.c == 1);
        const float want[9] = {1, 0, 1, 0, 1, 0, 1, 1, 1};
        if (im.data && im.c == 1) CHECK(memcmp(im.data, want, sizeof want) == 0);
        hrn_image_free(&im);
    }
    /* 16-bit gray with a tRNS colour -> gray+alpha; big-endian samples */
    {
        png_byte r0[4] = {0x12, 0x34, 0xFF, 0xFF};
        png_bytep rows[1] = {r0};
        png_color_16 tc = {0, 0, 0, 0, 0xFFFF};
        const char *p = tmp_file("gray16trns.png");
        write_raw_png(p, 2, 1, 16, PNG_COLOR_TYPE_GRAY, 0, rows, NULL, 0, NULL, 0, &tc);
        CHECK_OK(hrn_image_read(p, HRN_IMAGE_ANY, &im));
        CHECK(im.w == 2 && im.h == 1 && im.c == 2);
        if (im.data && im.c == 2) {
            CHECK_NEAR(im.data[0], 0x1234 / 65535.0, 1e-7, 0);
            CHECK(im.data[1] == 1.0f && im.data[2] == 1.0f && im.data[3] == 0.0f);
        }
        hrn_image_free(&im);
    }
}

/* --- JPEG ------------------------------------------------------------------------------------- */

/* A smooth colour image (what JPEG is made for): gradients and a soft blob. */
static void fill_smooth(struct hrn_image *img) {
    for (int ch = 0; ch < img->c; ch++)
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++) {
                double u = (double)x / img->w, v = (double)y / img->h;
                double blob = exp(-((u - 0.5) * (u - 0.5) + (v - 0.4) * (v - 0.4)) * 8.0);
                double val = 0.15 + 0.5 * (ch == 0 ? u : ch == 1 ? v : 1 - u) * 0.8 + 0.3 * blob;
                *hrn_image_px(img, ch, y, x) = (float)val;
            }
}

static void test_jpeg_roundtrip(void) {
    for (int c = 1; c <= 3; c += 2) {
        struct hrn_image img = {0}, back = {0};
        CHECK_OK(hrn_image_init(&img, 64, 48, c));
        if (!img.data) return;
        fill_smooth(&img);
        char name[64];
        snprintf(name, sizeof name, "rt_%dc.jpg", c);
        char path[512];
        snprintf(path, sizeof path, "%s", tmp_file(name));
        CHECK_OK(hrn_image_write_jpeg(path, &img, 95));
        CHECK_OK(hrn_image_read(path, HRN_IMAGE_ANY, &back));
        CHECK(back.w == 64 && back.h == 48 && back.c == c);
        if (back.data && back.c == c) {
            size_t n = (size_t)64 * 48 * c;
            double mean = 0, mx = max_abs_diff(img.data, back.data, n);
            for (size_t i = 0; i < n; i++) mean += fabs((double)img.data[i] - (double)back.data[i]);
            mean /= (double)n;
            /* quality 95 on a smooth image: about one 8-bit level on average */
            CHECK_MSG(mean < 2.0 / 255 && mx < 12.0 / 255, "c=%d mean |err| %.4f max %.4f", c,
                      mean, mx);
        }
        hrn_image_free(&back);
        /* the quality parameter is used: a low quality gives a smaller file */
        char low[512];
        snprintf(low, sizeof low, "%s", tmp_file("low_q.jpg"));
        CHECK_OK(hrn_image_write_jpeg(low, &img, 20));
        CHECK_MSG(file_size(low) > 0 && file_size(low) < file_size(path), "q20 %ld bytes, q95 %ld",
                  file_size(low), file_size(path));
        /* RGB read of a gray JPEG replicates */
        if (c == 1) {
            CHECK_OK(hrn_image_read(path, HRN_IMAGE_RGB, &back));
            CHECK(back.c == 3 && back.data && back.data[0] == back.data[64 * 48]);
            hrn_image_free(&back);
        }
        hrn_image_free(&img);
    }
}

static void test_write_errors_and_dispatch(void) {
    struct hrn_image img = {0}, back = {0};
    CHECK_OK(hrn_image_init(&img, 4, 4, 4));
    if (!img.data) return;
    fill_levels(&img, 255, 3);
    CHECK_STATUS(hrn_image_write_jpeg(tmp_file("rgba.jpg"), &img, 90), HRN_ERR_INVALID);
    CHECK_ERR_HAS("rgba.jpg");
    CHECK(!file_exists(tmp_file("rgba.jpg")) && !file_exists(tmp_file("rgba.jpg.tmp")));
    CHECK_STATUS(hrn_image_write_png(tmp_file("x.png"), &img, 12), HRN_ERR_INVALID);
    /* a directory that does not exist: HRN_ERR_IO naming the file */
    CHECK_STATUS(hrn_image_write_png("no_such_dir_q/a.png", &img, 8), HRN_ERR_IO);
    CHECK_ERR_HAS("no_such_dir_q/a.png");
    struct hrn_image empty = {0};
    CHECK_STATUS(hrn_image_write_png(tmp_file("e.png"), &empty, 8), HRN_ERR_INVALID);
    /* by extension */
    CHECK_OK(hrn_image_write(tmp_file("ext.PNG"), &img));
    CHECK_OK(hrn_image_read(tmp_file("ext.PNG"), HRN_IMAGE_ANY, &back));
    CHECK(back.c == 4);
    hrn_image_free(&back);
    struct hrn_image rgb = {0};
    CHECK_OK(hrn_image_convert(&img, HRN_IMAGE_RGB, &rgb));
    CHECK_STATUS(hrn_image_write_jpeg(tmp_file("q.jpg"), &rgb, 0), HRN_ERR_INVALID);
    CHECK_OK(hrn_image_write(tmp_file("ext.jpeg"), &rgb));
    CHECK_OK(hrn_image_read(tmp_file("ext.jpeg"), HRN_IMAGE_ANY, &back)); /* sniffed, not named */
    CHECK(back.c == 3 && back.w == 4);
    hrn_image_free(&back);
    CHECK_STATUS(hrn_image_write(tmp_file("x.bmp"), &rgb), HRN_ERR_INVALID);
    CHECK_ERR_HAS("x.bmp");
    /* a PNG named .jpg is still read as PNG */
    CHECK_OK(hrn_image_write_png(tmp_file("png_named.jpg"), &rgb, 8));
    CHECK_OK(hrn_image_read(tmp_file("png_named.jpg"), HRN_IMAGE_ANY, &back));
    CHECK(back.c == 3);
    hrn_image_free(&back);
    hrn_image_free(&rgb);
    hrn_image_free(&img);
}

static void test_bad_files(void) {
    struct hrn_image im = {0};
    /* missing */
    CHECK_STATUS(hrn_image_read(tmp_file("missing.png"), HRN_IMAGE_ANY, &im), HRN_ERR_IO);
    CHECK_ERR_HAS("missing.png: cannot open");
    CHECK(im.data == NULL);
    /* not an image, and empty */
    write_text(tmp_file("notes.png"), "hello, I am text\n");
    CHECK_STATUS(hrn_image_read(tmp_file("notes.png"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("notes.png: not a PNG or JPEG");
    write_text(tmp_file("empty.jpg"), "");
    CHECK_STATUS(hrn_image_read(tmp_file("empty.jpg"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("empty.jpg");
    CHECK(im.data == NULL);
    /* a bad channel request */
    CHECK_STATUS(hrn_image_read(tmp_file("notes.png"), 9, &im), HRN_ERR_INVALID);

    /* truncated PNG and JPEG at several cut points */
    struct hrn_image img = {0};
    CHECK_OK(hrn_image_init(&img, 96, 64, 3));
    if (!img.data) return;
    fill_smooth(&img);
    char full[512], cut[512];
    snprintf(full, sizeof full, "%s", tmp_file("full.png"));
    CHECK_OK(hrn_image_write_png(full, &img, 16));
    snprintf(cut, sizeof cut, "%s", tmp_file("cut.png"));
    const double fracs[4] = {0.5, 0.1, 0.9, -12};
    for (int i = 0; i < 4; i++) {
        long keep = fracs[i] > 0 ? (long)((double)file_size(full) * fracs[i]) : file_size(full) - 12;
        CHECK(truncate_copy(full, cut, keep));
        CHECK_STATUS(hrn_image_read(cut, HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
        CHECK_ERR_HAS("cut.png: corrupt or truncated PNG");
        CHECK(im.data == NULL);
        hrn_image_free(&im); /* only does something when the check above failed */
    }
    snprintf(full, sizeof full, "%s", tmp_file("full.jpg"));
    CHECK_OK(hrn_image_write_jpeg(full, &img, 90));
    snprintf(cut, sizeof cut, "%s", tmp_file("cut.jpg"));
    for (int i = 0; i < 4; i++) {
        /* -12 here: only the last bytes and the EOI marker are missing */
        long keep = fracs[i] > 0 ? (long)((double)file_size(full) * fracs[i]) : file_size(full) - 12;
        CHECK(truncate_copy(full, cut, keep));
        CHECK_STATUS(hrn_image_read(cut, HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
        CHECK_ERR_HAS("cut.jpg: corrupt or truncated JPEG");
        CHECK(im.data == NULL);
        hrn_image_free(&im);
    }
    /* only the JPEG header survives */
    CHECK(truncate_copy(full, cut, 40));
    CHECK_STATUS(hrn_image_read(cut, HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("cut.jpg");
    hrn_image_free(&img);
}

/* --- declared sizes ------------------------------------------------------------------------- */

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A PNG of w x h 8-bit RGB whose only IDAT is a 32 KB stored (uncompressed) zlib block of zeros:
 * far too little for the pixels, as in a decompression bomb's opening. */
static void write_png_declaring(const char *path, uint32_t w, uint32_t h) {
    static uint8_t buf[40000];
    size_t n = 0;
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    uint8_t ihdr[17] = {'I', 'H', 'D', 'R'};
    put32(ihdr + 4, w);
    put32(ihdr + 8, h);
    ihdr[12] = 8, ihdr[13] = 2, ihdr[14] = 0, ihdr[15] = 0, ihdr[16] = 0;
    put32(buf + n, 13);
    memcpy(buf + n + 4, ihdr, 17);
    put32(buf + n + 21, crc32_png(ihdr, 17));
    n += 25;
    size_t zlen = 2 + 5 + 32768;
    put32(buf + n, (uint32_t)zlen);
    uint8_t *idat = buf + n + 4;
    memcpy(idat, "IDAT", 4);
    uint8_t *z = idat + 4;
    z[0] = 0x78, z[1] = 0x01;                               /* zlib header */
    z[2] = 0x00, z[3] = 0x00, z[4] = 0x80, z[5] = 0xff, z[6] = 0x7f; /* stored block of 32768, not final */
    memset(z + 7, 0, 32768);
    put32(idat + 4 + zlen, crc32_png(idat, 4 + zlen));
    n += 4 + 4 + zlen + 4;
    uint8_t iend[4] = {'I', 'E', 'N', 'D'};
    put32(buf + n, 0);
    memcpy(buf + n + 4, iend, 4);
    put32(buf + n + 8, crc32_png(iend, 4));
    n += 12;
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
    }
}

/* A small real JPEG with the size in its SOF0 header replaced. */
static void write_jpeg_declaring(const char *path, unsigned w, unsigned h) {
    struct hrn_image img = {0};
    CHECK_OK(hrn_image_init(&img, 64, 48, 3));
    if (!img.data) return;
    fill_smooth(&img);
    CHECK_OK(hrn_image_write_jpeg(path, &img, 90));
    hrn_image_free(&img);
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    static uint8_t b[1 << 16];
    size_t n = fread(b, 1, sizeof b, f);
    for (size_t i = 2; i + 9 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) { /* SOF0: length, precision, height, width */
            b[i + 5] = (uint8_t)(h >> 8), b[i + 6] = (uint8_t)h;
            b[i + 7] = (uint8_t)(w >> 8), b[i + 8] = (uint8_t)w;
            break;
        }
    fseek(f, 0, SEEK_SET);
    fwrite(b, 1, n, f);
    fclose(f);
}

/* issue 17: a 389 KB PNG declaring 20000x20000 took 85 s and 6.3 GB. Now the declared size is
 * checked against HRN_IMAGE_MAX_PIXELS and against what the file's bytes can expand to, before
 * anything is allocated or decoded. */
static void test_declared_sizes(void) {
    struct hrn_image im = {0};
    double t0 = hrn_time_now();
    write_png_declaring(tmp_file("bomb.png"), 20000, 20000);
    int sw = 0, sh = 0;
    CHECK_OK(hrn_image_size(tmp_file("bomb.png"), &sw, &sh)); /* the header alone is fine */
    CHECK(sw == 20000 && sh == 20000);
    CHECK_STATUS(hrn_image_read(tmp_file("bomb.png"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bomb.png: PNG declares 20000x20000 pixels, more than");
    write_png_declaring(tmp_file("bomb2.png"), 8000, 8000); /* under the pixel limit */
    CHECK_STATUS(hrn_image_read(tmp_file("bomb2.png"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("cannot hold");
    CHECK(im.data == NULL);
    /* the same file declaring a size its 32 KB of zeros can hold is read, and is short */
    write_png_declaring(tmp_file("small.png"), 100, 100);
    CHECK_STATUS(hrn_image_read(tmp_file("small.png"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("corrupt or truncated PNG");
    write_jpeg_declaring(tmp_file("big.jpg"), 60000, 60000);
    CHECK_STATUS(hrn_image_read(tmp_file("big.jpg"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("big.jpg: JPEG declares 60000x60000 pixels, more than");
    write_jpeg_declaring(tmp_file("big2.jpg"), 10000, 10000);
    CHECK_STATUS(hrn_image_read(tmp_file("big2.jpg"), HRN_IMAGE_ANY, &im), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("cannot hold");
    CHECK(im.data == NULL);
    double dt = hrn_time_now() - t0;
    CHECK_MSG(dt < 2.0, "refusing the declared sizes took %.2f s", dt);
}

/* --- Exif orientation ------------------------------------------------------------------------ */

/* A 64x32 JPEG of four flat 32x16 quadrants (red, green / blue, white: block-aligned, so the
 * colours survive compression) with an APP1 Exif segment holding orientation o (0: none), in
 * big-endian (MM) or little-endian (II) TIFF order. */
static void write_oriented_jpeg(const char *path, int o, int big_endian) {
    uint8_t px[32 * 64 * 3];
    static const uint8_t col[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 64; x++) memcpy(px + 3 * (y * 64 + x), col[(y >= 16) * 2 + (x >= 32)], 3);
    uint8_t exif[6 + 8 + 2 + 12 + 4] = {'E', 'x', 'i', 'f', 0, 0};
    uint8_t *t = exif + 6;
    int be = big_endian;
    t[0] = t[1] = be ? 'M' : 'I';
    uint8_t v42[2] = {be ? 0 : 42, be ? 42 : 0}, off[4] = {be ? 0 : 8, 0, 0, be ? 8 : 0};
    memcpy(t + 2, v42, 2);
    memcpy(t + 4, off, 4);
    uint8_t one[2] = {be ? 0 : 1, be ? 1 : 0};
    memcpy(t + 8, one, 2); /* one entry */
    uint8_t *e = t + 10;
    uint8_t tag[2] = {be ? 0x01 : 0x12, be ? 0x12 : 0x01}, type[2] = {be ? 0 : 3, be ? 3 : 0};
    uint8_t cnt[4] = {be ? 0 : 1, 0, 0, be ? 1 : 0}, val[4] = {be ? 0 : (uint8_t)o, be ? (uint8_t)o : 0, 0, 0};
    memcpy(e, tag, 2);
    memcpy(e + 2, type, 2);
    memcpy(e + 4, cnt, 4);
    memcpy(e + 8, val, 4);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = 64;
    ci.image_height = 32;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    if (o) jpeg_write_marker(&ci, JPEG_APP0 + 1, exif, sizeof exif);
    while (ci.next_scanline < 32) {
        JSAMPROW row = px + 3 * 64 * ci.next_scanline;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void test_exif_orientation(void) {
    enum { R, G, B, W };
    static const float rgb[4][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}};
    /* the colours at the top-left, top-right, bottom-left, bottom-right corners once upright */
    static const int corners[9][4] = {{R, G, B, W}, {R, G, B, W}, {G, R, W, B}, {W, B, G, R},
                                      {B, W, R, G}, {R, B, G, W}, {B, R, W, G}, {W, G, B, R},
                                      {G, W, R, B}};
    for (int o = 0; o <= 8; o++) {
        char name[32];
        snprintf(name, sizeof name, "exif%d.jpg", o);
        write_oriented_jpeg(tmp_file(name), o, o % 2);
        CHECK_MSG(hrn_image_read_jpeg_orientation(tmp_file(name)) == (o ? o : 1), "orientation %d", o);
        int sw = 0, sh = 0;
        CHECK_OK(hrn_image_size(tmp_file(name), &sw, &sh));
        CHECK_MSG(sw == (o >= 5 ? 32 : 64) && sh == (o >= 5 ? 64 : 32), "size %dx%d, orientation %d", sw, sh, o);
        struct hrn_image im = {0};
        CHECK_OK(hrn_image_read(tmp_file(name), HRN_IMAGE_RGB, &im));
        if (!im.data) continue;
        int W_ = o >= 5 ? 32 : 64, H_ = o >= 5 ? 64 : 32;
        CHECK_MSG(im.w == W_ && im.h == H_, "orientation %d: %dx%d", o, im.w, im.h);
        if (im.w != W_ || im.h != H_) {
            hrn_image_free(&im);
            continue;
        }
        const int xs[4] = {3, W_ - 4, 3, W_ - 4}, ys[4] = {3, 3, H_ - 4, H_ - 4};
        for (int k = 0; k < 4; k++)
            for (int c = 0; c < 3; c++) {
                float got = *hrn_image_px(&im, c, ys[k], xs[k]);
                CHECK_MSG(fabsf(got - rgb[corners[o][k]][c]) < 0.1f,
                          "orientation %d corner %d channel %d: %.3f", o, k, c, (double)got);
            }
        hrn_image_free(&im);
    }
    /* malformed Exif (offsets past the segment, a wrong type) are ignored, not trusted */
    static const uint8_t bad[][14] = {{'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0xff, 0xff, 0, 0},
                                      {'E', 'x', 'i', 'f', 0, 0, 'X', 'X', 42, 0, 8, 0, 0, 0},
                                      {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8}};
    static uint8_t px[8 * 8 * 3];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(tmp_file("exif_bad.jpg"), "wb");
        if (!f) break;
        struct jpeg_compress_struct ci;
        struct jpeg_error_mgr err;
        ci.err = jpeg_std_error(&err);
        jpeg_create_compress(&ci);
        jpeg_stdio_dest(&ci, f);
        ci.image_width = 8, ci.image_height = 8, ci.input_components = 3, ci.in_color_space = JCS_RGB;
        jpeg_set_defaults(&ci);
        jpeg_start_compress(&ci, TRUE);
        jpeg_write_marker(&ci, JPEG_APP0 + 1, bad[i], 14);
        while (ci.next_scanline < 8) {
            JSAMPROW row = px + 3 * 8 * ci.next_scanline;
            jpeg_write_scanlines(&ci, &row, 1);
        }
        jpeg_finish_compress(&ci);
        jpeg_destroy_compress(&ci);
        fclose(f);
        CHECK(hrn_image_read_jpeg_orientation(tmp_file("exif_bad.jpg")) == 1);
        struct hrn_image im = {0};
        CHECK_OK(hrn_image_read(tmp_file("exif_bad.jpg"), HRN_IMAGE_ANY, &im));
        CHECK(im.w == 8 && im.h == 8);
        hrn_image_free(&im);
    }
}

/* --- crop ------------------------------------------------------------------------------------- */

static void test_crop(void) {
    struct hrn_image img = {0}, out = {0};
    CHECK_OK(hrn_image_init(&img, 5, 4, 2));
    if (!img.data) return;
    for (int i = 0; i < 5 * 4 * 2; i++) img.data[i] = (float)i;
    const float pad[2] = {-1.0f, -2.0f};
    /* inside */
    CHECK_OK(hrn_image_crop(&img, 1, 2, 3, 2, pad, &out));
    CHECK(out.w == 3 && out.h == 2 && out.c == 2);
    if (out.data) {
        CHECK(*hrn_image_px(&out, 0, 0, 0) == *hrn_image_px(&img, 0, 2, 1));
        CHECK(*hrn_image_px(&out, 1, 1, 2) == *hrn_image_px(&img, 1, 3, 3));
    }
    hrn_image_free(&out);
    /* hanging over the top-left and bottom-right corners */
    CHECK_OK(hrn_image_crop(&img, -2, -1, 9, 7, pad, &out));
    int bad = 0;
    for (int ch = 0; ch < 2 && out.data; ch++)
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 9; x++) {
                int sx = x - 2, sy = y - 1;
                float want = sx >= 0 && sx < 5 && sy >= 0 && sy < 4 ? *hrn_image_px(&img, ch, sy, sx)
                                                                    : pad[ch];
                bad += *hrn_image_px(&out, ch, y, x) != want;
            }
    CHECK(out.data && bad == 0);
    hrn_image_free(&out);
    /* wholly outside, and a NULL pad */
    CHECK_OK(hrn_image_crop(&img, 100, -50, 3, 3, NULL, &out));
    bad = 0;
    for (int i = 0; out.data && i < 3 * 3 * 2; i++) bad += out.data[i] != 0.0f;
    CHECK(out.data && bad == 0);
    hrn_image_free(&out);
    CHECK_OK(hrn_image_crop(&img, -2147483647, 2147483000, 2, 2, pad, &out)); /* no overflow */
    CHECK(out.data && out.data[0] == -1.0f && out.data[7] == -2.0f);
    hrn_image_free(&out);
    CHECK_STATUS(hrn_image_crop(&img, 0, 0, 0, 3, pad, &out), HRN_ERR_INVALID);
    hrn_image_free(&img);
}

/* --- resize and warp against PyTorch ---------------------------------------------------------- */

struct case_list {
    int n;
    char names[16][64];
};

static int collect_case(const char *name, int is_group, void *user) {
    (void)is_group;
    struct case_list *c = user;
    if (c->n < 16) snprintf(c->names[c->n++], sizeof c->names[0], "%s", name);
    return 0;
}

static enum hrn_status open_fixture(struct hrn_h5 **f, struct hrn_image *in) {
    enum hrn_status st = hrn_h5_open(HRN_TEST_DATA_DIR "/image_ops.h5", f);
    if (st != HRN_OK) return st;
    HRN_TRY(hrn_image_init(in, 9, 7, 3));
    HRN_TRY(hrn_h5_read_f32(*f, "input", 3, (int64_t[]){3, 7, 9}, in->data));
fail:
    return st;
}

static void test_resize_matches_pytorch(void) {
    struct hrn_h5 *f = NULL;
    struct hrn_image in = {0};
    CHECK_OK(open_fixture(&f, &in));
    struct case_list cases = {0};
    if (f) CHECK_OK(hrn_h5_list(f, "resize", collect_case, &cases));
    CHECK(cases.n == 6);
    for (int i = 0; f && in.data && i < cases.n; i++) {
        char name[96];
        snprintf(name, sizeof name, "resize/%s", cases.names[i]);
        float *want = NULL;
        int nd = 0;
        int64_t sh[HRN_H5_MAX_DIMS];
        int64_t ac = -1;
        CHECK_OK(hrn_h5_read_f32_alloc(f, name, &nd, sh, &want));
        CHECK_OK(hrn_h5_attr_read_i64(f, name, "align_corners", &ac));
        if (!want || nd != 3 || sh[0] != 3) {
            CHECK_MSG(0, "%s: bad fixture", name);
            free(want);
            continue;
        }
        struct hrn_image out = {0};
        CHECK_OK(hrn_image_resize(&in, (int)sh[2], (int)sh[1], (int)ac, &out));
        if (out.data) {
            double md = max_abs_diff(out.data, want, (size_t)(3 * sh[1] * sh[2]));
            printf("  %-18s (%lld,%lld) align_corners=%lld maxdiff %.2e\n", name,
                   (long long)sh[1], (long long)sh[2], (long long)ac, md);
            CHECK_MSG(md <= 1e-5, "%s: max |diff| %.3g", name, md);
        }
        hrn_image_free(&out);
        free(want);
    }
    /* the same size is the identity for both conventions */
    for (int ac = 0; ac <= 1 && in.data; ac++) {
        struct hrn_image out = {0};
        CHECK_OK(hrn_image_resize(&in, 9, 7, ac, &out));
        CHECK(out.data && max_abs_diff(out.data, in.data, 3 * 7 * 9) == 0.0);
        hrn_image_free(&out);
    }
    hrn_image_free(&in);
    hrn_h5_close(f);
}

static void test_warp_matches_pytorch(void) {
    struct hrn_h5 *f = NULL;
    struct hrn_image in = {0};
    CHECK_OK(open_fixture(&f, &in));
    struct case_list cases = {0};
    if (f) CHECK_OK(hrn_h5_list(f, "warp", collect_case, &cases));
    CHECK(cases.n == 3);
    for (int i = 0; f && in.data && i < cases.n; i++) {
        char name[160];
        double A[6];
        float border[3];
        float *want = NULL;
        int nd = 0;
        int64_t sh[HRN_H5_MAX_DIMS];
        snprintf(name, sizeof name, "warp/%s/A", cases.names[i]);
        CHECK_OK(hrn_h5_read_f64(f, name, 2, (int64_t[]){2, 3}, A));
        snprintf(name, sizeof name, "warp/%s/border", cases.names[i]);
        CHECK_OK(hrn_h5_read_f32(f, name, 1, (int64_t[]){3}, border));
        snprintf(name, sizeof name, "warp/%s/out", cases.names[i]);
        CHECK_OK(hrn_h5_read_f32_alloc(f, name, &nd, sh, &want));
        if (!want || nd != 3) {
            free(want);
            continue;
        }
        struct hrn_image out = {0};
        CHECK_OK(hrn_image_warp_affine(&in, A, (int)sh[2], (int)sh[1], border, &out));
        if (out.data) {
            size_t n = (size_t)(3 * sh[1] * sh[2]);
            double md = max_abs_diff(out.data, want, n);
            int n_border = 0;
            for (size_t k = 0; k < n; k++) n_border += want[k] == border[k / (size_t)(sh[1] * sh[2])];
            printf("  %-24s (%lld,%lld) maxdiff %.2e (%d samples exactly border)\n", name,
                   (long long)sh[1], (long long)sh[2], md, n_border);
            CHECK_MSG(md <= 1e-5, "%s: max |diff| %.3g", name, md);
        }
        hrn_image_free(&out);
        free(want);
    }
    hrn_image_free(&in);
    hrn_h5_close(f);
}

static void test_affine_helpers_and_warp_identities(void) {
    double A[6] = {0.8, -0.3, 4.0, 0.25, 1.1, -2.0}, inv[6], back[6];
    CHECK_OK(hrn_affine_invert(A, inv));
    CHECK_OK(hrn_affine_invert(inv, back));
    for (int i = 0; i < 6; i++) CHECK_NEAR(back[i], A[i], 1e-12, 1e-12);
    double x, y, u, v;
    hrn_affine_apply(A, 3.5, -7.0, &x, &y);
    hrn_affine_apply(inv, x, y, &u, &v);
    CHECK_NEAR(u, 3.5, 1e-12, 0);
    CHECK_NEAR(v, -7.0, 1e-12, 0);
    double copy[6];
    memcpy(copy, A, sizeof A);
    CHECK_OK(hrn_affine_invert(copy, copy)); /* in place */
    for (int i = 0; i < 6; i++) CHECK(copy[i] == inv[i]);
    const double sing[6] = {1, 2, 0, 2, 4, 5};
    CHECK_STATUS(hrn_affine_invert(sing, inv), HRN_ERR_NUMERIC);
    CHECK_ERR_HAS("singular");
    const double tiny[6] = {1e-9, 0, 0, 0, 1e-9, 0}; /* a uniform scale is not singular */
    CHECK_OK(hrn_affine_invert(tiny, inv));
    CHECK_NEAR(inv[0], 1e9, 0, 1e-12);
    const double nan6[6] = {NAN, 0, 0, 0, 1, 0};
    CHECK_STATUS(hrn_affine_invert(nan6, inv), HRN_ERR_NUMERIC);

    struct hrn_image img = {0}, w = {0}, c = {0};
    CHECK_OK(hrn_image_init(&img, 11, 6, 3));
    if (!img.data) return;
    fill_levels(&img, 255, 9);
    /* identity */
    const double id[6] = {1, 0, 0, 0, 1, 0};
    CHECK_OK(hrn_image_warp_affine(&img, id, 11, 6, NULL, &w));
    CHECK(w.data && max_abs_diff(w.data, img.data, 11 * 6 * 3) == 0.0);
    hrn_image_free(&w);
    /* an integer translation is a padded crop */
    const float pad[3] = {0.1f, 0.7f, 0.3f};
    const double tr[6] = {1, 0, -3, 0, 1, 2};
    CHECK_OK(hrn_image_warp_affine(&img, tr, 8, 9, pad, &w));
    CHECK_OK(hrn_image_crop(&img, -3, 2, 8, 9, pad, &c));
    CHECK(w.data && c.data && max_abs_diff(w.data, c.data, 8 * 9 * 3) == 0.0);
    hrn_image_free(&w);
    hrn_image_free(&c);
    /* NaN and huge coordinates give the border, never a crash */
    const double far[6] = {1e300, 0, 0, 0, 1, NAN};
    CHECK_OK(hrn_image_warp_affine(&img, far, 3, 2, pad, &w));
    CHECK(w.data && w.data[0] == pad[0] && w.data[17] == pad[2]);
    hrn_image_free(&w);
    hrn_image_free(&img);
}

/* --- real images ------------------------------------------------------------------------------ */

/* Values in [0,1] with a plausible spread (not all black/white or constant). */
static void check_sane(const struct hrn_image *im, const char *what) {
    size_t n = (size_t)im->w * im->h * im->c;
    double sum = 0, sq = 0;
    float lo = 1, hi = 0;
    for (size_t i = 0; i < n; i++) {
        float v = im->data[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += (double)v;
        sq += (double)v * (double)v;
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    CHECK_MSG(lo >= 0.0f && hi <= 1.0f && mean > 0.05 && mean < 0.95 && sd > 0.05,
              "%s: min %.3f max %.3f mean %.3f std %.3f", what, (double)lo, (double)hi, mean, sd);
}

static void test_realdata_images(void) {
    const char *rd = hrn_test_realdata();
    if (!rd) {
        SKIP("realdata not found (set HRN_REALDATA)");
        return;
    }
    struct {
        const char *rel;
        int w, h;
    } files[] = {
        {"eos_example/image_0010.png", 1280, 1024},
        {"dlib_faces/2007_007763.jpg", 500, 375},
        {"dlib_faces/2008_001009.jpg", 360, 480},
        {"dlib_faces/2008_001322.jpg", 500, 375},
        {"dlib_faces/2008_002506.jpg", 500, 375},
        {"deep3d_examples/000002.jpg", 423, 594},
        {"deep3d_examples/000006.jpg", 410, 594},
        {"deep3d_examples/000007.jpg", 334, 500},
        {"deep3d_examples/000031.jpg", 476, 500},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", rd, files[i].rel);
        if (!file_exists(path)) continue;
        found++;
        struct hrn_image im = {0}, gray = {0};
        CHECK_OK(hrn_image_read(path, HRN_IMAGE_ANY, &im));
        CHECK_MSG(im.w == files[i].w && im.h == files[i].h && im.c == 3, "%s: %dx%dx%d",
                  files[i].rel, im.w, im.h, im.c);
        if (im.data) check_sane(&im, files[i].rel);
        CHECK_OK(hrn_image_read(path, HRN_IMAGE_GRAY, &gray));
        CHECK(gray.c == 1 && gray.w == im.w);
        if (gray.data && im.data) {
            size_t k = (size_t)(im.h / 2) * im.w + (size_t)(im.w / 3);
            size_t np = (size_t)im.w * im.h;
            CHECK_NEAR(gray.data[k],
                       0.299 * (double)im.data[k] + 0.587 * (double)im.data[np + k] +
                           0.114 * (double)im.data[2 * np + k],
                       1e-6, 0);
        }
        hrn_image_free(&gray);
        hrn_image_free(&im);
    }
    if (!found) SKIP("no realdata images found under %s", rd);
}

int main(void) {
    RUN(test_init_convert);
    RUN(test_png_roundtrip_exact);
    RUN(test_png_rounding_and_clamping);
    RUN(test_png_color_types);
    RUN(test_jpeg_roundtrip);
    RUN(test_write_errors_and_dispatch);
    RUN(test_bad_files);
    RUN(test_declared_sizes);
    RUN(test_exif_orientation);
    RUN(test_crop);
    RUN(test_resize_matches_pytorch);
    RUN(test_warp_matches_pytorch);
    RUN(test_affine_helpers_and_warp_identities);
    RUN(test_realdata_images);
    return hrn_test_finish();
}
