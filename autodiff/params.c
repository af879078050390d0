/* params.c: the parameter store: values, gradients and optimizer state in one buffer each. */
#include "ad_impl.h"

#include <math.h>
#include <stdlib.h>

void hrn_params_init(struct hrn_params *p) { memset(p, 0, sizeof *p); }

void hrn_params_free(struct hrn_params *p) {
    if (!p) return;
    free(p->entries);
    free(p->values);
    free(p->grads);
    free(p->state);
    memset(p, 0, sizeof *p);
}

enum hrn_status hrn_params_add(struct hrn_params *p, const char *name, int ndim,
                               const int64_t *shape, int group, int *index) {
    if (p->allocated)
        return hrn_error_set(HRN_ERR_INVALID,
                             "params: cannot add '%s' after hrn_params_alloc", name ? name : "");
    if (!name || !name[0] || strlen(name) >= HRN_PARAM_NAME)
        return hrn_error_set(HRN_ERR_INVALID, "params: a name of 1 to %d characters is needed",
                             HRN_PARAM_NAME - 1);
    if (group < 0 || group >= HRN_MAX_GROUPS)
        return hrn_error_set(HRN_ERR_INVALID, "params: '%s' has group %d, expected 0 to %d", name,
                             group, HRN_MAX_GROUPS - 1);
    if (hrn_params_find(p, name) >= 0)
        return hrn_error_set(HRN_ERR_INVALID, "params: '%s' is declared twice", name);
    int64_t numel = hrn_shape_numel(ndim, shape);
    if (numel < 0)
        return hrn_error_set(HRN_ERR_INVALID,
                             "params: '%s' has a bad shape (%d dims; each dim must be >= 1)", name,
                             ndim);
    if (p->n_entries == p->cap) {
        int32_t cap = p->cap ? 2 * p->cap : 16;
        struct hrn_param_entry *e = realloc(p->entries, (size_t)cap * sizeof *e);
        if (!e) return hrn_error_set(HRN_ERR_NOMEM, "params: cannot grow the table");
        p->entries = e;
        p->cap = cap;
    }
    struct hrn_param_entry *e = &p->entries[p->n_entries];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->group = group;
    /* each parameter starts on a 64-byte boundary (16 floats) for aligned vector loads */
    e->offset = (p->n + 15) / 16 * 16;
    e->numel = (size_t)numel;
    p->n = e->offset + e->numel;
    hrn_tensor_wrap(&e->t, NULL, ndim, shape, name); /* data/grad set by alloc */
    if (index) *index = p->n_entries;
    p->n_entries++;
    return HRN_OK;
}

static float *alloc_floats(size_t n) {
    void *ptr = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    if (posix_memalign(&ptr, 64, bytes) != 0) return NULL;
    memset(ptr, 0, bytes);
    return ptr;
}

enum hrn_status hrn_params_alloc(struct hrn_params *p) {
    if (p->allocated) return hrn_error_set(HRN_ERR_INVALID, "params: already allocated");
    if (p->n_entries == 0)
        return hrn_error_set(HRN_ERR_INVALID, "params: no parameters declared before alloc");
    p->values = alloc_floats(p->n);
    p->grads = alloc_floats(p->n);
    if (!p->values || !p->grads) {
        free(p->values);
        free(p->grads);
        p->values = p->grads = NULL;
        return hrn_error_set(HRN_ERR_NOMEM, "params: cannot allocate %zu floats", p->n);
    }
    for (int32_t i = 0; i < p->n_entries; i++) {
        struct hrn_param_entry *e = &p->entries[i];
        e->t.data = p->values + e->offset;
        e->t.grad = p->grads + e->offset;
        e->t.flags = HRN_TENSOR_PARAM | HRN_TENSOR_REQUIRES_GRAD;
    }
    p->allocated = 1;
    return HRN_OK;
}

struct hrn_tensor *hrn_params_tensor(struct hrn_params *p, int i) {
    HRN_ASSERT(p->allocated);
    HRN_ASSERT(i >= 0 && i < p->n_entries);
    return &p->entries[i].t;
}

int hrn_params_find(const struct hrn_params *p, const char *name) {
    for (int32_t i = 0; i < p->n_entries; i++)
        if (strcmp(p->entries[i].name, name) == 0) return i;
    return -1;
}

void hrn_params_fill_normal(struct hrn_params *p, int i, struct hrn_rng *r, float std) {
    struct hrn_tensor *t = hrn_params_tensor(p, i);
    hrn_rng_fill_normal(r, t->data, (size_t)t->numel, 0.0f, std);
}

void hrn_params_fill_uniform(struct hrn_params *p, int i, struct hrn_rng *r, float lo, float hi) {
    struct hrn_tensor *t = hrn_params_tensor(p, i);
    hrn_rng_fill_uniform(r, t->data, (size_t)t->numel, lo, hi);
}

void hrn_params_zero_grad(struct hrn_params *p) {
    if (p->grads) memset(p->grads, 0, p->n * sizeof(float));
}

double hrn_params_grad_norm(const struct hrn_params *p) {
    double s = 0.0;
    for (size_t i = 0; i < p->n; i++) s += (double)p->grads[i] * (double)p->grads[i];
    return sqrt(s);
}

double hrn_params_clip_grad_norm(struct hrn_params *p, double max_norm) {
    double norm = hrn_params_grad_norm(p);
    double c = max_norm / (norm + 1e-6); /* as PyTorch: clip when c < 1 */
    if (c < 1.0) {
        float cf = (float)c;
        for (size_t i = 0; i < p->n; i++) p->grads[i] *= cf;
    }
    return norm;
}
