/* overlay.c: a picture to check detections by eye: each face's box (green), its 68 landmarks
 * (red dots; the 5 points in blue) and its number (1 = largest) drawn on the photo. */
#include "detect_impl.h"

#include <math.h>
#include <string.h>

/* 3x5 digits, one row per 3 bits (MSB left). */
static const unsigned char DIGITS[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

static void put(struct hrn_image *im, int x, int y, const float rgb[3]) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    for (int c = 0; c < 3; c++) *hrn_image_px(im, c, y, x) = rgb[c];
}

static void fill_rect(struct hrn_image *im, int x0, int y0, int x1, int y1, const float rgb[3]) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(im, x, y, rgb);
}

/* Line and mark sizes grow with the photo so that they stay visible when it is shown smaller. */
static int thickness(const struct hrn_image *im) {
    int s = (im->w > im->h ? im->w : im->h) / 400;
    return s < 1 ? 1 : s;
}

static void draw_box(struct hrn_image *im, const struct hrn_detect_box *b, const float rgb[3]) {
    int t = thickness(im);
    int x0 = (int)lroundf(b->x0), y0 = (int)lroundf(b->y0);
    int x1 = (int)lroundf(b->x1) - 1, y1 = (int)lroundf(b->y1) - 1;
    fill_rect(im, x0, y0, x1, y0 + t - 1, rgb);
    fill_rect(im, x0, y1 - t + 1, x1, y1, rgb);
    fill_rect(im, x0, y0, x0 + t - 1, y1, rgb);
    fill_rect(im, x1 - t + 1, y0, x1, y1, rgb);
}

static void draw_number(struct hrn_image *im, int num, int x, int y, const float rgb[3]) {
    char s[16];
    int n = 0, px = 2 * thickness(im);
    do s[n++] = (char)('0' + num % 10); while ((num /= 10) > 0 && n < 15);
    for (int i = n - 1, k = 0; i >= 0; i--, k++)
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (DIGITS[s[i] - '0'][r] & (4 >> c))
                    fill_rect(im, x + (4 * k + c) * px, y + r * px, x + (4 * k + c + 1) * px - 1,
                              y + (r + 1) * px - 1, rgb);
}

static void draw_points(struct hrn_image *im, const float *xy, int n, const float rgb[3]) {
    int r = thickness(im);
    for (int i = 0; i < n; i++) {
        int x = (int)lroundf(xy[2 * i]), y = (int)lroundf(xy[2 * i + 1]);
        fill_rect(im, x - r, y - r, x + r, y + r, rgb);
    }
}

enum hrn_status hrn_detect_write_overlay(const char *path, const struct hrn_image *img,
                                         const struct hrn_face *faces, int n) {
    static const float GREEN[3] = {0.1f, 1, 0.1f}, RED[3] = {1, 0.15f, 0.1f},
                       BLUE[3] = {0.2f, 0.5f, 1}, YELLOW[3] = {1, 1, 0.2f};
    struct hrn_image im = {0};
    enum hrn_status st = hrn_image_convert(img, HRN_IMAGE_RGB, &im);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        draw_box(&im, &faces[i].box, GREEN);
        draw_points(&im, faces[i].lm68, 68, RED);
        draw_points(&im, faces[i].lm5, 5, BLUE);
        int t = thickness(&im);
        draw_number(&im, i + 1, (int)faces[i].box.x0 + 2 * t, (int)faces[i].box.y0 + 2 * t, YELLOW);
    }
    st = hrn_image_write_png(path, &im, 8);
    hrn_image_free(&im);
    return st;
}
