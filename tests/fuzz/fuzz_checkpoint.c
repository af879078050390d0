/* fuzz_checkpoint.c: network checkpoints through hrn_net_load and hrn_nets_load_scalar
 * (model/checkpoint.c), into a narrow mid_net (FUZZ_CHECKPOINT_NET).
 * The file is built by fuzz_h5gen from the input (libhdf5 is trusted, see fuzz_common.h), with
 * the network's own dataset names and shapes as the nominal ones. Oracle: no crash or leak; the
 * values themselves may be anything (NaN is for the caller to refuse). */
#include "fuzz_common.h"

#include "fuzz_h5gen.h"
#include "hrn_nets.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const ATTRS[] = {"hrn_format", "hrn_format_version"};
static const char *const STRS[] = {"hrn-nets", "net", "alpha"};

static struct hrn_net g_net;
static struct fuzz_h5_spec g_spec;
static char g_names[FUZZ_H5_MAX_NAMES][160];
static const char *g_name_ptrs[FUZZ_H5_MAX_NAMES];

static void add_entries(const struct hrn_params *ps) {
    for (int i = 0; i < ps->n_entries && g_spec.n_names < FUZZ_H5_MAX_NAMES; i++) {
        int k = g_spec.n_names++;
        const struct hrn_param_entry *e = &ps->entries[i];
        snprintf(g_names[k], sizeof g_names[k], "net/%s", e->name);
        g_name_ptrs[k] = g_names[k];
        g_spec.nominal_ndim[k] = e->t.ndim <= 4 ? e->t.ndim : 0;
        for (int d = 0; d < e->t.ndim && d < 4; d++) g_spec.nominal[k][d] = e->t.shape[d];
        for (int d = 0; d < e->t.ndim && g_spec.n_sizes < FUZZ_H5_MAX_SIZES; d++)
            g_spec.sizes[g_spec.n_sizes++] = e->t.shape[d];
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_quiet();
    struct hrn_net_config cfg = FUZZ_CHECKPOINT_NET;
    if (hrn_net_init(&g_net, &cfg, 1) != HRN_OK) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", hrn_error_msg());
        abort();
    }
    add_entries(&g_net.params);
    add_entries(&g_net.buffers);
    g_name_ptrs[g_spec.n_names] = "alpha";
    g_spec.nominal_ndim[g_spec.n_names] = 1;
    g_spec.nominal[g_spec.n_names++][0] = 1;
    g_spec.names = g_name_ptrs;
    g_spec.attrs = ATTRS;
    g_spec.n_attrs = 2;
    g_spec.strs = STRS;
    g_spec.n_strs = 3;
    g_spec.max_objects = g_spec.n_names + 4;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_in in = {data, size, 0};
    const char *path = fuzz_path("ckpt.h5");
    if (!path || fuzz_h5_build(&in, &g_spec, path) != 0) return 0;
    if (fuzz_ok(hrn_net_load(&g_net, path, "net"))) {
        volatile double sum = 0; /* every value read, so ASan sees a short buffer */
        for (size_t i = 0; i < g_net.params.n; i++) sum += (double)g_net.params.values[i];
        for (size_t i = 0; i < g_net.buffers.n; i++) sum += (double)g_net.buffers.values[i];
        (void)sum;
    }
    double alpha;
    (void)fuzz_ok(hrn_nets_load_scalar(path, "alpha", &alpha));
    return 0;
}
