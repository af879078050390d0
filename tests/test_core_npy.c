/* test_core_npy.c: the .npy reader (core/npy.c): every dtype and version it accepts, and the
 * hostile headers it must refuse before allocating (the heap overflow of issue 17: a shape whose
 * product overflows int64 and then a copy past a tiny buffer). */
#include "hrn_test.h"

#include <stdint.h>

/* A .npy image in buf: version major, header text (padded to 16 as numpy does), then data. */
static size_t make_npy(unsigned char *buf, int major, const char *hdr, const void *data, size_t nd) {
    size_t pre = major == 1 ? 10 : 12, hl = strlen(hdr) + 1;
    size_t pad = (16 - (pre + hl) % 16) % 16;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    size_t total_hl = hl + pad;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(total_hl >> (8 * i));
    memcpy(buf + pre, hdr, strlen(hdr));
    memset(buf + pre + strlen(hdr), ' ', pad);
    buf[pre + total_hl - 1] = '\n';
    if (nd) memcpy(buf + pre + total_hl, data, nd);
    return pre + total_hl + nd;
}

static void test_npy_float64_2d(void) {
    unsigned char buf[256];
    double v[6] = {1, -2, 3.5, 4, 5, 1e300};
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v);
    struct hrn_npy a;
    CHECK_OK(hrn_npy_read_mem(buf, n, "a.npy", &a));
    CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6);
    CHECK(strcmp(a.dtype, "f8") == 0);
    for (int i = 0; i < 6; i++) CHECK(a.data && a.data[i] == v[i]);
    hrn_npy_free(&a);
    CHECK(a.data == NULL);
}

static void test_npy_dtypes(void) {
    unsigned char buf[256];
    struct hrn_npy a;
    float f[2] = {0.25f, -7.5f};
    size_t n = make_npy(buf, 2, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}", f, sizeof f);
    CHECK_OK(hrn_npy_read_mem(buf, n, "f4.npy", &a));
    CHECK(a.ndim == 1 && a.count == 2 && a.data[0] == 0.25 && a.data[1] == -7.5);
    hrn_npy_free(&a);
    int32_t i4[3] = {-1, 2147483647, -2147483647 - 1};
    n = make_npy(buf, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", i4, sizeof i4);
    CHECK_OK(hrn_npy_read_mem(buf, n, "i4.npy", &a));
    CHECK(a.count == 3 && a.data[0] == -1 && a.data[1] == 2147483647.0 && a.data[2] == -2147483648.0);
    hrn_npy_free(&a);
    int64_t i8[2] = {-5, (int64_t)1 << 40};
    n = make_npy(buf, 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", i8, sizeof i8);
    CHECK_OK(hrn_npy_read_mem(buf, n, "i8.npy", &a));
    CHECK(a.ndim == 2 && a.data[0] == -5 && a.data[1] == 1099511627776.0);
    hrn_npy_free(&a);
    unsigned char u1[3] = {0, 200, 255};
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", u1, sizeof u1);
    CHECK_OK(hrn_npy_read_mem(buf, n, "u1.npy", &a));
    CHECK(a.data[1] == 200 && a.data[2] == 255 && strcmp(a.dtype, "u1") == 0);
    hrn_npy_free(&a);
    /* big-endian int16 -2 and 258 */
    unsigned char be[4] = {0xff, 0xfe, 0x01, 0x02};
    n = make_npy(buf, 1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", be, sizeof be);
    CHECK_OK(hrn_npy_read_mem(buf, n, "be.npy", &a));
    CHECK(a.data[0] == -2 && a.data[1] == 258);
    hrn_npy_free(&a);
    /* a scalar, and an empty array (python 2's 'L' suffix too) */
    double s = 42;
    n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &s, sizeof s);
    CHECK_OK(hrn_npy_read_mem(buf, n, "s.npy", &a));
    CHECK(a.ndim == 0 && a.count == 1 && a.data[0] == 42);
    hrn_npy_free(&a);
    n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0L, 3L), }", NULL, 0);
    CHECK_OK(hrn_npy_read_mem(buf, n, "e.npy", &a));
    CHECK(a.ndim == 2 && a.count == 0 && a.shape[1] == 3);
    hrn_npy_free(&a);
}

/* Each header must be refused with HRN_ERR_FORMAT and a message containing the needle. */
static void refuse(const char *hdr, size_t data_bytes, const char *needle) {
    static unsigned char buf[4096], zeros[1024];
    struct hrn_npy a;
    size_t n = make_npy(buf, 1, hdr, zeros, data_bytes);
    CHECK_STATUS(hrn_npy_read_mem(buf, n, "bad.npy", &a), HRN_ERR_FORMAT);
    CHECK(a.data == NULL && a.count == 0);
    CHECK_ERR_HAS("bad.npy");
    CHECK_ERR_HAS(needle);
}

static void test_npy_hostile_shapes(void) {
    /* 2^61 doubles: before the fix, count*8 wrapped to 0 and the copy ran past the buffer */
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 16, "limit");
    /* a product that overflows int64 from dims each under the limit */
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (268435456, 268435456, 256), }", 16, "allowed");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 8192), }", 16, "allowed");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (-3, 2), }", 48, "negative");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -1), }", 48, "negative");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 8, "dimensions");
    /* data shorter and longer than the shape */
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", 24, "truncated");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", 40, "trailing");
    refuse("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }", 64, "truncated");
}

static void test_npy_strict_header(void) {
    refuse("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, "Fortran");
    refuse("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, "not supported");
    refuse("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4, "not supported");
    refuse("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 16, "structured");
    refuse("{'descr': '<f8', 'shape': (2,), }", 16, "fortran_order");
    refuse("{'descr': '<f8', 'fortran_order': False, }", 16, "shape");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", 16, "unknown key");
    refuse("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 16, "repeats");
    refuse("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,), }", 16, "True or False");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2), }", 16, "','");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2,) junk", 16, "expected");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} junk", 16, "only spaces");
    refuse("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", 16, "a dimension");
    refuse("{'descr': '<f8, 'fortran_order': False, 'shape': (2,), }", 16, "dtype '<f8, '");
    /* magic, version, header length */
    struct hrn_npy a;
    CHECK_STATUS(hrn_npy_read_mem("\x93NUMPX\x01\x00\x10\x00", 10, "m.npy", &a), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("bad magic");
    CHECK_STATUS(hrn_npy_read_mem("\x93NUMPY\x04\x00\x10\x00", 10, "v.npy", &a), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("version 4.0");
    CHECK_STATUS(hrn_npy_read_mem("\x93NUMPY\x01\x00\xff\x00{", 11, "h.npy", &a), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("truncated .npy header");
    CHECK_STATUS(hrn_npy_read_mem("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12, "big.npy", &a), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("allowed");
    CHECK_STATUS(hrn_npy_read_mem("\x93NUMPY\x02\x00", 8, "short.npy", &a), HRN_ERR_FORMAT);
}

/* The file reader: same checks, plus sizes from the file system; the eval wrapper keeps working. */
static void test_npy_files(void) {
    const char *dir = hrn_test_tmpdir("core_npy");
    char path[600];
    unsigned char buf[512];
    double v[4] = {1, 2, 3, 4};
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }", v, sizeof v);
    snprintf(path, sizeof path, "%s/ok.npy", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
    struct hrn_npy a;
    CHECK_OK(hrn_npy_read(path, &a));
    CHECK(a.ndim == 3 && a.count == 4 && a.data[3] == 4);
    hrn_npy_free(&a);
    /* truncated on disk: the shape is checked against the file size before allocating */
    snprintf(path, sizeof path, "%s/trunc.npy", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n - 9, f) == n - 9);
    if (f) fclose(f);
    CHECK_STATUS(hrn_npy_read(path, &a), HRN_ERR_FORMAT);
    CHECK_ERR_HAS("trunc.npy");
    CHECK_ERR_HAS("truncated file");
    /* 2^61 values from a 128-byte file */
    n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", v, 16);
    snprintf(path, sizeof path, "%s/huge.npy", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
    CHECK_STATUS(hrn_npy_read(path, &a), HRN_ERR_FORMAT);
    snprintf(path, sizeof path, "%s/missing.npy", dir);
    CHECK_STATUS(hrn_npy_read(path, &a), HRN_ERR_IO);
    CHECK_ERR_HAS("No such file");
    CHECK_STATUS(hrn_npy_read(dir, &a), HRN_ERR_IO);
    CHECK_ERR_HAS("not a regular file");
}

int main(void) {
    RUN(test_npy_float64_2d);
    RUN(test_npy_dtypes);
    RUN(test_npy_hostile_shapes);
    RUN(test_npy_strict_header);
    RUN(test_npy_files);
    return hrn_test_finish();
}
