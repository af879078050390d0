/* fuzz_common.h: what the libFuzzer harnesses in tests/fuzz share.
 *
 * Most of hrn's readers take a path, so a harness writes the input to a per-process file in
 * /dev/shm (tmpfs: no disk traffic) and calls the reader on it:
 *
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
 *         const char *path = fuzz_write_file(data, size, "x.obj");
 *         struct hrn_mesh m = {0};
 *         if (path && hrn_mesh_read_obj(path, &m) == HRN_OK) fuzz_check_mesh(&m);
 *         hrn_mesh_free(&m);
 *         return 0;
 *     }
 *
 * The structured harnesses (HDF5 face model, checkpoint, .mat) decode the input with struct
 * fuzz_in into a file the third-party library writes itself: libhdf5 and libmatio are trusted
 * parsers here (the README says model files are trusted input), and what we fuzz is our code's
 * handling of any well-formed file, not theirs of bytes.
 */
#ifndef HRN_FUZZ_COMMON_H
#define HRN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The network fuzz_checkpoint loads into (a struct hrn_net_config initialiser), the narrowest
 * mid_net: 14 datasets. (The UNet would add BatchNorm buffers, through the same read_store, but
 * with 110 datasets a run took 8 times longer.) gen_corpus builds the same one. */
#define FUZZ_CHECKPOINT_NET \
    {.kind = HRN_NET_PIX2PIX, .in_ch = 6, .out_ch = 3, .width = 1, .n_blocks = 1, .dropout = -1}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Write data to "<dir>/hrn-fuzz-<pid>-<name>" and return that path (static storage, one buffer
 * per call site is not needed: the name makes it unique), or NULL when the write fails. <dir> is
 * /dev/shm when it exists, else $TMPDIR or /tmp. The files are removed at exit. */
const char *fuzz_write_file(const uint8_t *data, size_t size, const char *name);
/* The path fuzz_write_file would use for name, without writing (for files a library creates). */
const char *fuzz_path(const char *name);

/* st == HRN_OK. With HRN_FUZZ_VERBOSE set in the environment it also prints the status and
 * message of every read, to see why a seed or a crash input is refused
 * (HRN_FUZZ_VERBOSE=1 build-fuzz/tests/fuzz/fuzz_obj tests/fuzz/corpus/obj/ -runs=0). */
int fuzz_ok(int st);

/* Silence hrn's log and libhdf5's error stack once; every harness calls it first. */
void fuzz_quiet(void);

/* A reader over the fuzz input for the structured harnesses. Reading past the end gives zeros, so
 * every input decodes to something (libFuzzer's mutations then steer the values). */
struct fuzz_in {
    const uint8_t *p;
    size_t n, at;
};
uint8_t fuzz_u8(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
/* An index below n (n > 0). */
uint32_t fuzz_pick(struct fuzz_in *in, uint32_t n);
/* A length-prefixed string of at most cap-1 bytes, NUL-terminated into buf. */
void fuzz_str(struct fuzz_in *in, char *buf, size_t cap);
/* The next len bytes (fewer at the end: *got says how many); the pointer is into the input. */
const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t len, size_t *got);

#endif /* HRN_FUZZ_COMMON_H */
