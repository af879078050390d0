/* gen_corpus.c: writes the seed corpora of tests/fuzz/corpus/<parser>/ (committed; rerun with
 * `gen_corpus tests/fuzz/corpus` after a reader learns something new). Text seeds are written
 * literally, binary ones with hrn's own writers (so they are valid by construction), and the
 * seeds of the structured harnesses as the bytes their decoders (fuzz_h5gen.c, fuzz_mat.c) turn
 * into a complete, valid file. */
#include "fuzz_common.h"
#include "hrn_core.h"
#include "hrn_nets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *g_root;
static int g_failed;

static char *path_of(const char *dir, const char *name) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_root, dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", g_root, dir, name);
    return p;
}

static void put(const char *dir, const char *name, const void *data, size_t n) {
    FILE *f = fopen(path_of(dir, name), "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s/%s: %s\n", dir, name, strerror(errno));
        g_failed = 1;
    }
}

static void put_text(const char *dir, const char *name, const char *text) {
    put(dir, name, text, strlen(text));
}

/* A growing byte buffer for the binary and structured seeds. */
struct buf {
    unsigned char d[8192];
    size_t n;
};
static void b_u8(struct buf *b, unsigned v) {
    if (b->n < sizeof b->d) b->d[b->n++] = (unsigned char)v;
}
static void b_raw(struct buf *b, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) b_u8(b, ((const unsigned char *)p)[i]);
}
static void b_u32(struct buf *b, uint32_t v) { b_raw(b, &v, 4); }

/* Write through one of hrn's writers to a scratch file, then store its bytes with a prefix. */
static void put_file(const char *dir, const char *name, const char *scratch, const void *prefix,
                     size_t np) {
    FILE *f = fopen(scratch, "rb");
    static struct buf b;
    b.n = 0;
    b_raw(&b, prefix, np);
    if (f) {
        b.n += fread(b.d + b.n, 1, sizeof b.d - b.n, f);
        fclose(f);
    } else {
        g_failed = 1;
    }
    remove(scratch);
    put(dir, name, b.d, b.n);
}

/* --- text seeds ------------------------------------------------------------------------------ */

static void seeds_ini(void) {
    put_text("ini", "fz.ini",
             "[hrn]\nschema = fz\n[fz]\ni = 7\nf = 2.5e3\nd = 1e-9\nb = yes\ne = blue\n"
             "s = runs/a b   ; a comment\n[optim]\nmethod = sgd\nlr = 0.5\nschedule = step\n");
    put_text("ini", "optim.ini",
             "[hrn]\nschema = optim\n[optim]\nmethod = adamw\nlr = 1e-3\nbeta1 = 0.9\n"
             "iterations = 2000\nschedule = warmup_cosine\nwarmup = 100\nclip_norm = 10\n");
    put_text("ini", "set.txt", "fz.e=red");
    put_text("ini", "set_optim.txt", "optim.lr=1e-4");
}

static void seeds_lmk(void) {
    char txt[4096] = "", pts[4096] = "version: 1\nn_points: 68\n{\n";
    for (int i = 0; i < 68; i++) {
        char line[64];
        snprintf(line, sizeof line, "%d.5 %d.25\n", 40 + 2 * i, 60 + (i * 7) % 50);
        strcat(txt, line);
        strcat(pts, line);
    }
    strcat(pts, "}\n");
    put_text("lmk", "lm68.txt", txt);
    put_text("lmk", "lm68.pts", pts);
    put_text("lmk", "lm5.txt", "# five\n10 20\n30 20  # right eye\n20 30\n12 40\n28 40\n");
}

static void seeds_obj(void) {
    put_text("obj", "tri.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n");
    put_text("obj", "full.obj",
             "mtllib a.mtl\no x\nv 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nv 1 1 0 1 1 1\n"
             "vt 0 0\nvt 1 0\nvt 0 1\nvt 1 1\nvn 0 0 1\nusemtl m\ns 1\n"
             "f 1/1/1 2/2/1 3/3/1\nf -1/-1/-1 -3/-3/-1 -2/-2/-1\n");
    put_text("obj", "quad.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0 1.0\nf 1//1 2//1 3//1 4//1\n"
                                "vn 0 0 1\nl 1 2\np 3\ng grp\n");
    put_text("obj", "vt.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0.5 0.5\nf 1/1 2/1 3/1\n");
}

static void seeds_ply(void) {
    put_text("ply", "ascii.ply",
             "ply\nformat ascii 1.0\ncomment hrn\nelement vertex 3\nproperty float x\n"
             "property float y\nproperty float z\nproperty uchar red\nproperty uchar green\n"
             "property uchar blue\nproperty float s\nproperty float t\nelement face 1\n"
             "property list uchar int vertex_indices\nend_header\n0 0 0 255 0 0 0 0\n"
             "1 0 0 0 255 0 1 0\n0 1 0 0 0 255 0 1\n3 0 1 2\n");
    put_text("ply", "normals.ply",
             "ply\nformat ascii 1.0\nelement vertex 4\nproperty double x\nproperty double y\n"
             "property double z\nproperty float nx\nproperty float ny\nproperty float nz\n"
             "element face 1\nproperty list uchar uint vertex_index\n"
             "property list uchar float texcoord\nelement edge 0\nproperty int vertex1\n"
             "end_header\n0 0 0 0 0 1\n1 0 0 0 0 1\n1 1 0 0 0 1\n0 1 0 0 0 1\n"
             "4 0 1 2 3 8 0 0 1 0 1 1 0 1\n");
    /* binary little- and big-endian through the writer and by hand */
    struct hrn_mesh m = {0};
    if (hrn_mesh_alloc(&m, 4, 2, 1, 4, 4) != HRN_OK) {
        g_failed = 1;
        return;
    }
    const int32_t f[6] = {0, 1, 2, 0, 2, 3};
    for (int i = 0; i < 12; i++) m.verts[i] = (float)(i % 3 == 2 ? 0 : (i * 5) % 2);
    for (int i = 0; i < 12; i++) m.colors[i] = 0.5f, m.normals[i] = i % 3 == 2 ? 1.0f : 0.0f;
    for (int i = 0; i < 8; i++) m.uvs[i] = (float)(i % 2);
    memcpy(m.faces, f, sizeof f);
    if (hrn_mesh_write_ply("/tmp/hrn-gen-corpus.ply", &m, 1) != HRN_OK) g_failed = 1;
    put_file("ply", "binary_le.ply", "/tmp/hrn-gen-corpus.ply", "", 0);
    hrn_mesh_free(&m);
    static const char hdr[] = "ply\nformat binary_big_endian 1.0\nelement vertex 3\n"
                              "property float x\nproperty float y\nproperty float z\n"
                              "element face 1\nproperty list uchar int vertex_indices\n"
                              "end_header\n";
    struct buf b = {0};
    b_raw(&b, hdr, sizeof hdr - 1);
    static const unsigned char be[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3f, 0x80, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3f, 0x80, 0, 0,
                                       0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2};
    b_raw(&b, be, sizeof be);
    put("ply", "binary_be.ply", b.d, b.n);
}

static void seeds_text_eval(void) {
    /* the first byte picks the extension: 0 .pp, 1 .lnd, 2 .txt, 3 .npy */
    static const char pp[] = "\x00<PickedPoints>\n <point x=\"1\" y=\"2\" z=\"3\"/>\n"
                             " <point x=\"4\" y=\"5\" z=\"6\"/>\n <point x=\"7\" y=\"8\" z=\"9\"/>\n"
                             " <point x=\"1e1\" y=\"-2\" z=\"3.5\"/>\n <point x=\"0\" y=\"0\" z=\"0\"/>\n"
                             " <point x=\"1\" y=\"1\" z=\"1\"/>\n <point x=\"2\" y=\"2\" z=\"2\"/>\n"
                             "</PickedPoints>\n";
    put("lmk7", "a.pp", pp, sizeof pp - 1);
    static const char lnd[] = "\x01" "1 0.5 1.5 2.5\n2 1 2 3\n3 4 5 6\n4 7 8 9\n5 1 1 1\n6 2 2 2\n7 3 3 3\n";
    put("lmk7", "a.lnd", lnd, sizeof lnd - 1);
    static const char txt[] = "\x02" "0.5 1.5 2.5\n1 2 3\n4 5 6\n7 8 9\n1 1 1\n2 2 2\n3 3 3\n";
    put("lmk7", "a.txt", txt, sizeof txt - 1);
    put_text("crop_json", "crop.json",
             "img_001\n{\"img_000\": [512, 512, 0.9, 100.5, 120],\n"
             " \"img_001\": [1024.0, 768.0, 1.25e0, -3, 4.5]}");
    put_text("crop_json", "numbers.json", "x\n[[1, 2.5, -3e-2], [4, 5, 6]]\n");
}

/* --- binary seeds ---------------------------------------------------------------------------- */

/* A .npy v1.0 file: magic, version, header padded to 64 bytes, then the data. */
static void npy_seed(struct buf *b, const char *descr, const char *shape, const void *data,
                     size_t n) {
    char h[128];
    int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       descr, shape);
    int total = ((10 + len + 1 + 63) / 64) * 64;
    b_raw(b, "\x93NUMPY\x01\x00", 8);
    b_u8(b, (unsigned)(total - 10) & 255);
    b_u8(b, (unsigned)(total - 10) >> 8);
    b_raw(b, h, (size_t)len);
    for (int i = 10 + len; i < total - 1; i++) b_u8(b, ' ');
    b_u8(b, '\n');
    b_raw(b, data, n);
}

static void seeds_npy(void) {
    float f[21];
    double d[21];
    for (int i = 0; i < 21; i++) f[i] = (float)i * 0.5f, d[i] = i * 0.25;
    struct buf b = {0};
    npy_seed(&b, "<f4", "(7, 3)", f, sizeof f);
    put("npy", "f4_7x3.npy", b.d, b.n);
    b.n = 0;
    npy_seed(&b, "<f8", "(1, 7, 3)", d, sizeof d);
    put("npy", "f8_1x7x3.npy", b.d, b.n);
    b.n = 0;
    int32_t i4[6] = {1, -2, 3, -4, 5, -6};
    npy_seed(&b, "<i4", "(6,)", i4, sizeof i4);
    put("npy", "i4_6.npy", b.d, b.n);
    b.n = 0;
    npy_seed(&b, ">f8", "()", d + 3, 8);
    put("npy", "f8_scalar_be.npy", b.d, b.n);
    b.n = 0; /* the eval reader's .npy path of the 7-landmark harness */
    b_u8(&b, 3);
    npy_seed(&b, "<f4", "(7, 3)", f, sizeof f);
    put("lmk7", "a.npy", b.d, b.n);
}

static void seeds_image(void) {
    struct hrn_image im = {0};
    if (hrn_image_init(&im, 5, 4, 3) != HRN_OK) {
        g_failed = 1;
        return;
    }
    for (int i = 0; i < 5 * 4 * 3; i++) im.data[i] = (float)(i % 7) / 6.0f;
    const char *s = "/tmp/hrn-gen-corpus.png";
    if (hrn_image_write_png(s, &im, 8) != HRN_OK) g_failed = 1;
    put_file("image", "rgb8.png", s, "\x03", 1);
    if (hrn_image_write_png(s, &im, 16) != HRN_OK) g_failed = 1;
    put_file("image", "rgb16_as_gray.png", s, "\x01", 1);
    const char *j = "/tmp/hrn-gen-corpus.jpg";
    if (hrn_image_write_jpeg(j, &im, 90) != HRN_OK) g_failed = 1;
    put_file("image", "rgb.jpg", j, "\x00", 1);
    struct hrn_image g = {0}, a = {0};
    if (hrn_image_convert(&im, HRN_IMAGE_GRAY, &g) != HRN_OK ||
        hrn_image_convert(&im, HRN_IMAGE_RGBA, &a) != HRN_OK) {
        g_failed = 1;
    } else {
        if (hrn_image_write_jpeg(j, &g, 50) != HRN_OK) g_failed = 1;
        put_file("image", "gray.jpg", j, "\x03", 1);
        if (hrn_image_write_png(s, &a, 8) != HRN_OK) g_failed = 1;
        put_file("image", "rgba.png", s, "\x02", 1);
        if (hrn_image_write_png(s, &g, 8) != HRN_OK) g_failed = 1;
        put_file("image", "gray.png", s, "\x04", 1);
    }
    hrn_image_free(&g);
    hrn_image_free(&a);
    hrn_image_free(&im);
}

/* An eos matrix: int32 rows, int32 cols, column-major float32 values (i * step). */
static void eos_matrix(struct buf *b, int32_t r, int32_t c, float step) {
    b_raw(b, &r, 4);
    b_raw(b, &c, 4);
    for (int32_t i = 0; i < r * c; i++) {
        float v = (float)i * step;
        b_raw(b, &v, 4);
    }
}

static void eos_pca(struct buf *b, int n3, int k, const int32_t *tris, uint64_t nt) {
    eos_matrix(b, n3, 1, 0.1f);
    eos_matrix(b, n3, k, 0.01f);
    eos_matrix(b, k, 1, 1.0f);
    b_raw(b, &nt, 8);
    b_raw(b, tris, nt * 12);
}

static void seeds_eos(void) {
    static const char SEP[] = "\n#hrn-fuzz-next-file#\n";
    const int32_t tris[6] = {0, 1, 2, 1, 3, 2};
    struct buf b = {0};
    uint32_t version = 1;
    b_raw(&b, &version, 4);
    eos_pca(&b, 12, 2, tris, 2);
    eos_pca(&b, 12, 1, tris, 2);
    uint64_t nuv = 4;
    b_raw(&b, &nuv, 8);
    for (int i = 0; i < 8; i++) {
        double uv = i * 0.125;
        b_raw(&b, &uv, 8);
    }
    put("eos", "model_v1.bin", b.d, b.n);
    b_raw(&b, SEP, sizeof SEP - 1); /* + blendshapes: count, then name and matrix each */
    uint64_t n_bs = 2, len = 5;
    b_raw(&b, &n_bs, 8);
    for (int i = 0; i < 2; i++) {
        b_raw(&b, &len, 8);
        b_raw(&b, i ? "smile" : "angry", 5);
        eos_matrix(&b, 12, 1, 0.5f);
    }
    put("eos", "model_blendshapes.bin", b.d, b.n);
    b_raw(&b, SEP, sizeof SEP - 1);
    static const char map[] = "[landmark_mappings] # comment\n1 = 0\n31 = 3\n68 = 2\n";
    b_raw(&b, map, sizeof map - 1);
    put("eos", "model_blendshapes_map.bin", b.d, b.n);
    b.n = 0;
    version = 0;
    b_raw(&b, &version, 4);
    eos_pca(&b, 9, 1, tris, 1);
    eos_pca(&b, 0, 0, tris, 0);
    put("eos", "model_v0_no_colour.bin", b.d, b.n);
}

/* --- structured seeds: the bytes fuzz_h5gen.c and fuzz_mat.c decode into a valid file -------- */

/* A name from the spec's list: a byte below 224, then the index. */
static void h5_name(struct buf *b, uint32_t index) {
    b_u8(b, 0);
    b_u32(b, index);
}

/* A scalar root attribute: a string from the spec's values, or an int64. */
static void h5_attr_str(struct buf *b, uint32_t name, uint32_t value) {
    h5_name(b, name);
    b_u8(b, 6); /* variable-length string */
    b_u8(b, 0); /* (array length, unused for a scalar) */
    b_u8(b, 1); /* scalar */
    h5_name(b, value);
}
static void h5_attr_i64(struct buf *b, uint32_t name, int64_t v) {
    h5_name(b, name);
    b_u8(b, 3); /* int64 */
    b_u8(b, 0);
    b_u8(b, 1);
    b_u8(b, 8);
    b_raw(b, &v, 8);
}
/* A dataset with its nominal shape, type t (0 float, 2 int), values cycling through `fill`. */
static void h5_dataset(struct buf *b, uint32_t name, unsigned t, const void *fill, size_t n) {
    h5_name(b, name);
    b_u8(b, 1);    /* not a group */
    b_u8(b, 0x80); /* nominal shape */
    b_u8(b, t);
    b_u8(b, (unsigned)n);
    b_raw(b, fill, n);
}

static void seeds_face_model(void) {
    static const float shape[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0.5f};
    static const int32_t tris[6] = {0, 1, 2, 1, 3, 2};
    static const float half = 0.5f, one = 1.0f, uv[2] = {0.25f, 0.75f};
    struct buf b = {0};
    b_raw(&b, "\x01\x02\x02\x01\x01", 5); /* N 4, T 2, widths 2 1 1 */
    b_u8(&b, 2);                          /* root attributes */
    b_u8(&b, 9);                          /* datasets */
    h5_attr_str(&b, 0, 0);                /* hrn_format = "hrn-face-model" */
    h5_attr_i64(&b, 1, 1);                /* hrn_format_version = 1 */
    h5_dataset(&b, 0, 0, shape, sizeof shape);
    h5_dataset(&b, 1, 0, &half, 4);
    h5_dataset(&b, 2, 0, &half, 4);
    h5_dataset(&b, 4, 0, &half, 4);
    h5_dataset(&b, 5, 0, &half, 4);
    h5_dataset(&b, 6, 2, tris, sizeof tris);
    h5_dataset(&b, 7, 0, uv, sizeof uv);
    h5_dataset(&b, 9, 2, "\0\0\0\0", 4);
    h5_dataset(&b, 10, 0, &one, 4);
    put("face_model", "hrn.seed", b.d, b.n);
    b.n = 0; /* Basel Face Model 2017 */
    b_raw(&b, "\x01\x02\x02\x01\x01", 5);
    b_u8(&b, 0);
    b_u8(&b, 11);
    h5_dataset(&b, 11, 0, shape, sizeof shape);
    h5_dataset(&b, 12, 2, tris, sizeof tris);
    for (uint32_t part = 0; part < 3; part++) {
        h5_dataset(&b, 13 + 3 * part, 0, shape, sizeof shape);
        h5_dataset(&b, 14 + 3 * part, 0, &half, 4);
        h5_dataset(&b, 15 + 3 * part, 0, &one, 4);
    }
    put("face_model", "bfm2017.seed", b.d, b.n);
}

/* Every dataset of the network fuzz_checkpoint loads (it builds the same names from the same
 * network: parameters, then buffers, then the scalar "alpha"). */
static void seeds_checkpoint(int n_names) {
    static const float small = 0.01f;
    struct buf b = {0};
    b_u8(&b, 2);
    b_u8(&b, (unsigned)n_names); /* max_objects is n_names + 4 */
    h5_attr_str(&b, 0, 0);       /* hrn_format = "hrn-nets" */
    h5_attr_i64(&b, 1, 1);
    for (int i = 0; i < n_names; i++) h5_dataset(&b, (uint32_t)i, 0, &small, 4);
    put("checkpoint", "mid_net.seed", b.d, b.n);
}

/* A variable of fuzz_mat's list with its nominal shape and class c, values cycling `fill`. */
static void mat_var(struct buf *b, unsigned name, unsigned cls, const void *fill, size_t n) {
    b_u8(b, name);
    b_u8(b, 0x80);
    b_u8(b, cls);
    b_u8(b, 1); /* real */
    b_u8(b, (unsigned)n);
    b_raw(b, fill, n);
}

static void seeds_mat(void) {
    static const double shape[4] = {0.1, 0.2, 0.3, 0.4}, tex = 128, one = 1;
    static const int32_t tri[3] = {1, 2, 3}, kp = 2;
    static const char *const NAMES[3] = {"bfm_v5.seed", "bfm_v5_zlib.seed", "bfm_v73.seed"};
    static const unsigned FMT[3] = {0, 1, 3};
    for (int f = 0; f < 3; f++) {
        struct buf b = {0};
        b_raw(&b, "\x01\x02\x02\x01\x01", 5); /* N 4, T 2, widths 2 1 1 */
        b_u8(&b, FMT[f]);
        b_u8(&b, 8);
        mat_var(&b, 0, 0, shape, sizeof shape); /* meanshape (1, 3N) double */
        mat_var(&b, 1, 1, "\0\0\0\0", 4);       /* idBase single */
        mat_var(&b, 2, 1, "\0\0\0\0", 4);       /* exBase */
        mat_var(&b, 3, 0, &tex, 8);             /* meantex */
        mat_var(&b, 4, 0, &one, 8);             /* texBase */
        mat_var(&b, 5, 2, tri, sizeof tri);     /* tri, 1-based int32 */
        mat_var(&b, 6, 2, &kp, 4);              /* keypoints */
        mat_var(&b, 7, 0, &one, 8);             /* skinmask */
        put("mat", NAMES[f], b.d, b.n);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUT_DIR\n");
        return 2;
    }
    g_root = argv[1];
    mkdir(g_root, 0755);
    seeds_ini();
    seeds_lmk();
    seeds_obj();
    seeds_ply();
    seeds_text_eval();
    seeds_npy();
    seeds_image();
    seeds_eos();
    seeds_face_model();
    struct hrn_net net = {0};
    struct hrn_net_config cfg = FUZZ_CHECKPOINT_NET;
    if (hrn_net_init(&net, &cfg, 1) != HRN_OK) {
        fprintf(stderr, "gen_corpus: %s\n", hrn_error_msg());
        return 1;
    }
    seeds_checkpoint(net.params.n_entries + net.buffers.n_entries + 1);
    hrn_net_free(&net);
    seeds_mat();
    return g_failed;
}
