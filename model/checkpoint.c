/* checkpoint.c: network checkpoints in HDF5, one dataset per PyTorch state-dict key under a group
 * per network (hrn_nets.h documents the layout). Written to "<path>.tmp" and renamed; loading
 * checks the format attribute, every name and shape, and that nothing unknown is in the group. */
#include "hrn_model.h"

#include <stdio.h>
#include <string.h>

static const char *FORMAT = "hrn-nets";
enum { FORMAT_VERSION = 1 };

static enum hrn_status write_store(struct hrn_h5 *f, const char *group,
                                   const struct hrn_params *ps) {
    enum hrn_status st = HRN_OK;
    char path[256];
    for (int i = 0; i < ps->n_entries; i++) {
        const struct hrn_param_entry *e = &ps->entries[i];
        snprintf(path, sizeof path, "%s/%s", group, e->name);
        HRN_TRY(hrn_h5_write_f32(f, path, e->t.ndim, e->t.shape, e->t.data));
    }
fail:
    return st;
}

enum hrn_status hrn_nets_write(struct hrn_h5 *f, struct hrn_net *const *nets,
                               const char *const *groups, int n, const char *const *scalar_names,
                               const double *scalars, int n_scalars) {
    enum hrn_status st = HRN_OK;
    HRN_TRY(hrn_h5_attr_write_str(f, "/", "hrn_format", FORMAT));
    HRN_TRY(hrn_h5_attr_write_i64(f, "/", "hrn_format_version", FORMAT_VERSION));
    for (int k = 0; k < n; k++) {
        HRN_TRY(write_store(f, groups[k], &nets[k]->params));
        HRN_TRY(write_store(f, groups[k], &nets[k]->buffers));
    }
    for (int k = 0; k < n_scalars; k++) {
        float v = (float)scalars[k];
        HRN_TRY(hrn_h5_write_f32(f, scalar_names[k], 1, (int64_t[]){1}, &v));
    }
fail:
    return st;
}

enum hrn_status hrn_nets_save(const char *path, struct hrn_net *const *nets,
                              const char *const *groups, int n, const char *const *scalar_names,
                              const double *scalars, int n_scalars) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    HRN_TRY(hrn_h5_create(path, &f));
    HRN_TRY(hrn_nets_write(f, nets, groups, n, scalar_names, scalars, n_scalars));
    st = hrn_h5_commit(f);
    f = NULL;
    if (st != HRN_OK) goto fail;
    return HRN_OK;
fail:
    hrn_h5_close(f); /* removes the temporary */
    return hrn_error_prefix(st, "saving networks");
}

static enum hrn_status check_format(struct hrn_h5 *f, const char *path) {
    char fmt[64];
    int64_t ver = 0;
    if (hrn_h5_attr_read_str(f, "/", "hrn_format", fmt, sizeof fmt) != HRN_OK ||
        strcmp(fmt, FORMAT) != 0)
        return hrn_error_set(HRN_ERR_FORMAT,
                             "%s: not an hrn network checkpoint (root attribute hrn_format is "
                             "not \"%s\") ---> HINT: convert PyTorch .pth files with "
                             "scripts/convert_pth.py",
                             path, FORMAT);
    if (hrn_h5_attr_read_i64(f, "/", "hrn_format_version", &ver) != HRN_OK ||
        ver != FORMAT_VERSION)
        return hrn_error_set(HRN_ERR_FORMAT,
                             "%s: checkpoint format version %lld, this build reads %d ---> HINT: "
                             "re-export it with scripts/convert_pth.py",
                             path, (long long)ver, FORMAT_VERSION);
    return HRN_OK;
}

static enum hrn_status read_store(struct hrn_h5 *f, const char *path, const char *group,
                                  struct hrn_params *ps) {
    enum hrn_status st = HRN_OK;
    char name[256];
    for (int i = 0; i < ps->n_entries; i++) {
        struct hrn_param_entry *e = &ps->entries[i];
        snprintf(name, sizeof name, "%s/%s", group, e->name);
        if (!hrn_h5_exists(f, name))
            return hrn_error_set(HRN_ERR_FORMAT,
                                 "%s: no dataset '%s' (a checkpoint of another network or "
                                 "width, or a partial state dict?)",
                                 path, name);
        HRN_TRY(hrn_h5_read_f32(f, name, e->t.ndim, e->t.shape, e->t.data));
    }
fail:
    return st;
}

struct unknown_ctx {
    const struct hrn_net *net;
    char first[128];
    int n;
};

static int find_unknown(const char *name, int is_group, void *user) {
    struct unknown_ctx *c = user;
    if (!is_group && (hrn_params_find(&c->net->params, name) >= 0 ||
                      (c->net->buffers.n_entries && hrn_params_find(&c->net->buffers, name) >= 0)))
        return 0;
    if (c->n++ == 0) snprintf(c->first, sizeof c->first, "%s", name);
    return 0;
}

enum hrn_status hrn_net_load(struct hrn_net *net, const char *path, const char *group) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    hrn_dnnl_weights_changed(); /* new values (also on failure: partly read) */
    HRN_TRY(hrn_h5_open(path, &f));
    HRN_TRY(check_format(f, path));
    if (!hrn_h5_exists(f, group)) {
        st = hrn_error_set(HRN_ERR_FORMAT, "%s: no group '%s'", path, group);
        goto fail;
    }
    HRN_TRY(read_store(f, path, group, &net->params));
    if (net->buffers.n_entries) HRN_TRY(read_store(f, path, group, &net->buffers));
    struct unknown_ctx uc = {net, "", 0};
    HRN_TRY(hrn_h5_list(f, group, find_unknown, &uc));
    if (uc.n) {
        st = hrn_error_set(HRN_ERR_FORMAT,
                           "%s: group '%s' holds %d dataset(s) this network does not have, first "
                           "'%s' (another architecture or width?)",
                           path, group, uc.n, uc.first);
        goto fail;
    }
    hrn_h5_close(f);
    return HRN_OK;
fail:
    hrn_h5_close(f);
    return st;
}

enum hrn_status hrn_nets_load_scalar(const char *path, const char *name, double *value) {
    enum hrn_status st = HRN_OK;
    struct hrn_h5 *f = NULL;
    float v = 0;
    HRN_TRY(hrn_h5_open(path, &f));
    HRN_TRY(check_format(f, path));
    HRN_TRY(hrn_h5_read_f32(f, name, 1, (int64_t[]){1}, &v));
    *value = (double)v;
fail:
    hrn_h5_close(f);
    return st;
}
