/* dnnl_ctx.c: the process-wide oneDNN engine and stream, the primitive cache, and execution with
 * reorders and a scratchpad from our own buffer (dnnl_impl.h). */
#include "dnnl_impl.h"

#include <stdlib.h>

static struct {
    int on; /* -1 not read yet */
    double sec[HRN__PROF_N];
    int64_t calls[HRN__PROF_N];
} g_prof = {-1, {0}, {0}};

int hrn__prof_on(void) {
    if (g_prof.on < 0) {
        const char *e = getenv("HRN_PROFILE_LAYERS");
        g_prof.on = e && *e && *e != '0';
    }
    return g_prof.on;
}

void hrn__prof_add(int cat, double t0) {
    HRN_ASSERT(cat > 0 && cat < HRN__PROF_N);
    g_prof.sec[cat] += hrn_time_now() - t0;
    g_prof.calls[cat]++;
}

static void prof_print(void) {
    static const char *const names[HRN__PROF_N] = {
        [HRN__DK_CONV_FWD] = "conv fwd",         [HRN__DK_CONV_BWD_D] = "conv bwd-data",
        [HRN__DK_CONV_BWD_W] = "conv bwd-weights", [HRN__DK_DECONV_FWD] = "deconv fwd",
        [HRN__DK_DECONV_BWD_D] = "deconv bwd-data", [HRN__DK_DECONV_BWD_W] = "deconv bwd-weights",
        [HRN__DK_BN_FWD] = "batch norm fwd", [HRN__DK_BN_BWD] = "batch norm bwd",
        [HRN__DK_POOL_FWD] = "pool fwd",         [HRN__DK_POOL_BWD] = "pool bwd",
        [HRN__PROF_CREATE] = "primitive creation", [HRN__PROF_REORDER_W] = "reorder weights in",
        [HRN__PROF_REORDER_IN] = "reorder other inputs in",
        [HRN__PROF_REORDER_OUT] = "reorder outputs out", [HRN__PROF_ADD_OUT] = "add grads (plain)",
        [HRN__PROF_PAD] = "pad2d fwd+bwd",       [HRN__PROF_RESIZE] = "resize fwd+bwd",
        [HRN__PROF_INORM] = "instance norm fwd+bwd (C)"};
    double total = 0;
    for (int i = 1; i < HRN__PROF_N; i++) total += g_prof.sec[i];
    fprintf(stderr, "hrn layer profile (HRN_PROFILE_LAYERS): wall time per category\n");
    fprintf(stderr, "  %-28s %10s %9s %7s\n", "category", "ms", "calls", "share");
    for (int i = 1; i < HRN__PROF_N; i++)
        if (g_prof.calls[i])
            fprintf(stderr, "  %-28s %10.2f %9lld %6.1f%%\n", names[i], 1e3 * g_prof.sec[i],
                    (long long)g_prof.calls[i], 100 * g_prof.sec[i] / (total > 0 ? total : 1));
    fprintf(stderr, "  %-28s %10.2f\n", "total timed", 1e3 * total);
    memset(g_prof.sec, 0, sizeof g_prof.sec);
    memset(g_prof.calls, 0, sizeof g_prof.calls);
}

static struct {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    struct hrn__dnnl_prim **prims; /* (n) cached primitives, malloc()ed */
    int n, cap;
    unsigned char *tmp; /* scratchpads and reorder temporaries; 64-byte aligned, grows */
    size_t tmp_cap;
    struct frozen *frozen; /* (n_frozen) reordered weights, malloc()ed */
    int n_frozen, cap_frozen;
    uint64_t epoch; /* weights epoch: bumped by hrn_dnnl_weights_changed */
} g;

/* A parameter's weights in a primitive's layout, valid while epoch == g.epoch. */
struct frozen {
    const void *user; /* the parameter's plain buffer */
    dnnl_memory_desc_t want;
    uint64_t epoch;
    void *buf; /* 64-byte aligned, bytes of want */
};

void hrn_dnnl_weights_changed(void) { g.epoch++; }

int hrn_dnnl_frozen_count(void) {
    int n = 0;
    for (int i = 0; i < g.n_frozen; i++) n += g.frozen[i].epoch == g.epoch;
    return n;
}

static enum hrn_status ensure_engine(void) {
    enum hrn_status st = HRN_OK;
    if (g.eng) return HRN_OK;
    HRN_DNNL(dnnl_engine_create(&g.eng, dnnl_cpu, 0));
    HRN_DNNL(dnnl_stream_create(&g.strm, g.eng, dnnl_stream_default_flags));
    return HRN_OK;
fail:
    if (g.eng) dnnl_engine_destroy(g.eng);
    g.eng = NULL;
    return st;
}

dnnl_engine_t hrn__dnnl_engine(void) { return ensure_engine() == HRN_OK ? g.eng : NULL; }

dnnl_memory_desc_t hrn__dnnl_md(int ndims, const int64_t *dims, dnnl_format_tag_t tag) {
    dnnl_memory_desc_t md;
    dnnl_dims_t d;
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&md, ndims, d, dnnl_f32, tag);
    HRN_ASSERT(s == dnnl_success); /* our dims and tags are validated before */
    return md;
}

struct hrn__dnnl_prim *hrn__dnnl_find(const int64_t key[HRN__DNNL_KEY]) {
    for (int i = g.n - 1; i >= 0; i--)
        if (memcmp(g.prims[i]->key, key, sizeof g.prims[i]->key) == 0) return g.prims[i];
    return NULL;
}

static void prim_free(struct hrn__dnnl_prim *p) {
    if (!p) return;
    for (int i = 0; i < p->n_args; i++) {
        if (p->a[i].r) dnnl_primitive_destroy(p->a[i].r);
        if (p->a[i].m_user) dnnl_memory_destroy(p->a[i].m_user);
        if (p->a[i].m_want) dnnl_memory_destroy(p->a[i].m_want);
    }
    if (p->m_scratch) dnnl_memory_destroy(p->m_scratch);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
    free(p);
}

void hrn__dnnl_release(void) {
    if (hrn__prof_on()) prof_print();
    for (int i = 0; i < g.n_frozen; i++) free(g.frozen[i].buf);
    free(g.frozen);
    uint64_t epoch = g.epoch + 1; /* a later cache never trusts what was before */    for (int i = 0; i < g.n; i++) prim_free(g.prims[i]);
    free(g.prims);
    free(g.tmp);
    if (g.strm) dnnl_stream_destroy(g.strm);
    if (g.eng) dnnl_engine_destroy(g.eng);
    memset(&g, 0, sizeof g);
    g.epoch = epoch;
}

static size_t round64(size_t b) { return (b + 63) / 64 * 64; }

/* A reorder from -> to; with add, the result is added to what `to` holds (sum post-op). */
static enum hrn_status make_reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                    int add, dnnl_primitive_t *r) {
    enum hrn_status st = HRN_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    HRN_DNNL(dnnl_primitive_attr_create(&attr));
    if (add) {
        HRN_DNNL(dnnl_post_ops_create(&po));
        HRN_DNNL(dnnl_post_ops_append_sum(po, 1.0f));
        HRN_DNNL(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    HRN_DNNL(dnnl_reorder_primitive_desc_create(&rpd, from, g.eng, to, g.eng, attr));
    HRN_DNNL(dnnl_primitive_create(r, rpd));
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

enum hrn_status hrn__dnnl_create(const int64_t key[HRN__DNNL_KEY], const void *op_desc,
                                 const_dnnl_primitive_desc_t hint, int n_args,
                                 const struct hrn__dnnl_argspec *spec,
                                 struct hrn__dnnl_prim **out) {
    return hrn__dnnl_create_po(key, op_desc, hint, NULL, n_args, spec, out);
}

enum hrn_status hrn__dnnl_create_po(const int64_t key[HRN__DNNL_KEY], const void *op_desc,
                                    const_dnnl_primitive_desc_t hint, const_dnnl_post_ops_t po,
                                    int n_args, const struct hrn__dnnl_argspec *spec,
                                    struct hrn__dnnl_prim **out) {
    enum hrn_status st = HRN_OK;
    dnnl_primitive_attr_t attr = NULL;
    struct hrn__dnnl_prim *p = NULL;
    HRN_ASSERT(n_args >= 1 && n_args <= HRN__DNNL_MAX_ARGS);
    const double t0 = hrn__prof_on() ? hrn_time_now() : 0;
    HRN_TRY(ensure_engine());
    p = calloc(1, sizeof *p);
    if (!p) return hrn_error_set(HRN_ERR_NOMEM, "oneDNN: cannot allocate a cache entry");
    memcpy(p->key, key, sizeof p->key);
    HRN_DNNL(dnnl_primitive_attr_create(&attr));
    HRN_DNNL(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    if (po) HRN_DNNL(dnnl_primitive_attr_set_post_ops(attr, po));
    HRN_DNNL(dnnl_primitive_desc_create(&p->pd, op_desc, attr, g.eng, hint));
    HRN_DNNL(dnnl_primitive_create(&p->prim, p->pd));
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success)
        p->impl = impl;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (p->scratch_bytes) HRN_DNNL(dnnl_memory_create(&p->m_scratch, sp, g.eng, DNNL_MEMORY_NONE));
    size_t off = round64(p->scratch_bytes);
    p->n_args = n_args;
    for (int i = 0; i < n_args; i++) {
        struct hrn__dnnl_arg *a = &p->a[i];
        a->id = spec[i].id;
        a->dir = spec[i].dir;
        const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md,
                                                                  a->id);
        if (!w || w->ndims == 0) {
            st = hrn_error_set(HRN_ERR_DNNL, "oneDNN: primitive %s has no argument %d",
                               p->impl ? p->impl : "?", a->id);
            goto fail;
        }
        a->want = *w;
        a->user = spec[i].user ? *spec[i].user : *w;
        a->bytes = dnnl_memory_desc_get_size(&a->want);
        a->reorder = !dnnl_memory_desc_equal(&a->user, &a->want);
        /* a temporary when the layouts differ, and always for added outputs (oneDNN overwrites) */
        a->tmp = a->reorder || a->dir == HRN__DNNL_OUT_ADD;
        if (a->tmp) {
            a->off = off;
            off += round64(a->bytes);
        }
        HRN_DNNL(dnnl_memory_create(&a->m_want, &a->want, g.eng, DNNL_MEMORY_NONE));
        if (a->reorder) {
            HRN_DNNL(dnnl_memory_create(&a->m_user, &a->user, g.eng, DNNL_MEMORY_NONE));
            if (a->dir == HRN__DNNL_IN) HRN_TRY(make_reorder(&a->user, &a->want, 0, &a->r));
            else HRN_TRY(make_reorder(&a->want, &a->user, a->dir == HRN__DNNL_OUT_ADD, &a->r));
        }
    }
    p->tmp_bytes = off;
    if (g.n == g.cap) {
        int cap = g.cap ? 2 * g.cap : 64;
        struct hrn__dnnl_prim **np = realloc(g.prims, (size_t)cap * sizeof *np);
        if (!np) {
            st = hrn_error_set(HRN_ERR_NOMEM, "oneDNN: cannot grow the primitive cache");
            goto fail;
        }
        g.prims = np;
        g.cap = cap;
    }
    g.prims[g.n++] = p;
    dnnl_primitive_attr_destroy(attr);
    *out = p;
    if (t0 > 0) hrn__prof_add(HRN__PROF_CREATE, t0);
    return HRN_OK;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    prim_free(p);
    return st;
}

size_t hrn__dnnl_arg_bytes(const struct hrn__dnnl_prim *p, int i) {
    HRN_ASSERT(i >= 0 && i < p->n_args);
    return p->a[i].bytes;
}

static enum hrn_status run(dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args) {
    enum hrn_status st = HRN_OK;
    HRN_DNNL(dnnl_primitive_execute(prim, g.strm, n, args));
    return HRN_OK;
fail:
    return st;
}

static enum hrn_status reorder(struct hrn__dnnl_arg *a, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return run(a->r, 2, args);
}

/* The kept reorder of a frozen argument (made now if the epoch moved on), or NULL + message. */
static void *frozen_get(struct hrn__dnnl_arg *a, void *user, enum hrn_status *st) {
    struct frozen *f = NULL;
    for (int i = 0; i < g.n_frozen; i++)
        if (g.frozen[i].user == user && dnnl_memory_desc_equal(&g.frozen[i].want, &a->want)) {
            f = &g.frozen[i];
            break;
        }
    if (f && f->epoch == g.epoch) return f->buf;
    if (!f) {
        if (g.n_frozen == g.cap_frozen) {
            int cap = g.cap_frozen ? 2 * g.cap_frozen : 64;
            struct frozen *nf = realloc(g.frozen, (size_t)cap * sizeof *nf);
            if (!nf) goto nomem;
            g.frozen = nf;
            g.cap_frozen = cap;
        }
        void *m = NULL;
        if (posix_memalign(&m, 64, round64(a->bytes)) != 0) goto nomem;
        f = &g.frozen[g.n_frozen++];
        *f = (struct frozen){user, a->want, 0, m};
    }
    dnnl_status_t d = dnnl_memory_set_data_handle(a->m_user, user);
    if (d == dnnl_success) d = dnnl_memory_set_data_handle(a->m_want, f->buf);
    if (d != dnnl_success) {
        *st = hrn_error_set(HRN_ERR_DNNL, "oneDNN: set_data_handle -> %s", dnnl_status2str(d));
        return NULL;
    }
    if ((*st = reorder(a, a->m_user, a->m_want)) != HRN_OK) return NULL;
    f->epoch = g.epoch;
    return f->buf;
nomem:
    *st = hrn_error_set(HRN_ERR_NOMEM, "oneDNN: cannot keep %zu bytes of reordered weights",
                        a->bytes);
    return NULL;
}

enum hrn_status hrn__dnnl_exec(struct hrn__dnnl_prim *p, void *const *ptr) {
    return hrn__dnnl_exec_frozen(p, ptr, 0);
}

enum hrn_status hrn__dnnl_exec_frozen(struct hrn__dnnl_prim *p, void *const *ptr,
                                      unsigned frozen) {
    enum hrn_status st = HRN_OK;
    const int prof = hrn__prof_on();
    double t0 = 0;
    if (p->tmp_bytes > g.tmp_cap) {
        free(g.tmp);
        g.tmp = NULL;
        size_t cap = round64(p->tmp_bytes + p->tmp_bytes / 4);
        void *m = NULL;
        if (posix_memalign(&m, 64, cap) != 0) {
            g.tmp_cap = 0;
            return hrn_error_set(HRN_ERR_NOMEM, "oneDNN: cannot allocate %zu bytes of workspace",
                                 cap);
        }
        g.tmp = m;
        g.tmp_cap = cap;
    }
    dnnl_exec_arg_t args[HRN__DNNL_MAX_ARGS + 1];
    int n = 0;
    for (int i = 0; i < p->n_args; i++) {
        struct hrn__dnnl_arg *a = &p->a[i];
        if (a->dir == HRN__DNNL_IN && a->reorder && (frozen >> i & 1u)) {
            if (prof) t0 = hrn_time_now();
            void *buf = frozen_get(a, ptr[i], &st);
            if (!buf) goto fail;
            if (prof) hrn__prof_add(HRN__PROF_REORDER_W, t0);
            HRN_DNNL(dnnl_memory_set_data_handle(a->m_want, buf));
            args[n++] = (dnnl_exec_arg_t){a->id, a->m_want};
            continue;
        }
        void *want_ptr = a->tmp ? (void *)(g.tmp + a->off) : ptr[i];
        HRN_ASSERT(want_ptr || a->dir != HRN__DNNL_IN);
        HRN_DNNL(dnnl_memory_set_data_handle(a->m_want, want_ptr));
        if (a->dir == HRN__DNNL_IN && a->reorder) {
            if (prof) t0 = hrn_time_now();
            HRN_DNNL(dnnl_memory_set_data_handle(a->m_user, ptr[i]));
            HRN_TRY(reorder(a, a->m_user, a->m_want));
            if (prof)
                hrn__prof_add(a->id == DNNL_ARG_WEIGHTS ? HRN__PROF_REORDER_W : HRN__PROF_REORDER_IN,
                              t0);
        }
        args[n++] = (dnnl_exec_arg_t){a->id, a->m_want};
    }
    if (p->m_scratch) {
        HRN_DNNL(dnnl_memory_set_data_handle(p->m_scratch, g.tmp));
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->m_scratch};
    }
    if (prof) t0 = hrn_time_now();
    HRN_TRY(run(p->prim, n, args));
    if (prof) hrn__prof_add((int)p->key[0], t0);
    for (int i = 0; i < p->n_args; i++) {
        struct hrn__dnnl_arg *a = &p->a[i];
        if (a->dir == HRN__DNNL_IN || !ptr[i]) continue;
        if (prof) t0 = hrn_time_now();
        if (a->reorder) { /* OUT: plain reorder; OUT_ADD: reorder with a sum post-op */
            HRN_DNNL(dnnl_memory_set_data_handle(a->m_user, ptr[i]));
            HRN_TRY(reorder(a, a->m_want, a->m_user));
            if (prof) hrn__prof_add(HRN__PROF_REORDER_OUT, t0);
        } else if (a->dir == HRN__DNNL_OUT_ADD) {
            float *dst = ptr[i];
            const float *src = (const float *)(const void *)(g.tmp + a->off);
            int64_t nf = (int64_t)(a->bytes / sizeof(float));
            HRN__PAR_FOR(nf >= HRN_PAR_MIN, k, nf, dst[k] += src[k];);
            if (prof) hrn__prof_add(HRN__PROF_ADD_OUT, t0);
        }
    }
    HRN_DNNL(dnnl_stream_wait(g.strm));
    return HRN_OK;
fail:
    return st;
}

void hrn_layers_release(void) { hrn__dnnl_release(); }
