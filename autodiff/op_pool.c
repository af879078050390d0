/* op_pool.c: max, average and global average pooling through oneDNN (plain NCHW), with
 * PyTorch's semantics: floor output size (ceil_mode=False), max pooling ignoring the padding,
 * average pooling counting the padding (count_include_pad=True) unless asked not to.
 *
 * Max pooling keeps oneDNN's workspace (where each maximum came from) from forward to backward in
 * out->saved (step memory); a forward that needs no gradient runs the inference primitive and
 * keeps nothing.
 */
#include "dnnl_impl.h"

struct pool_params {
    int32_t k[2], s[2], p[2];
    int32_t max, exclude_pad, has_ws;
};

static struct hrn_tensor *pool_node(struct hrn_tape *t, struct hrn_tensor *x,
                                    const struct hrn_pool2d_params *q, int max) {
    const char *name = max ? "max_pool2d" : "avg_pool2d";
    if (hrn__null_input(name, &x, 1)) return NULL;
    if (x->ndim != 4) return hrn__shape_error(t, name, x, NULL, "must be 4-d (N,C,H,W)");
    struct pool_params p = {{0}, {0}, {0}, max, q->exclude_pad, 0};
    int64_t o[2];
    for (int i = 0; i < 2; i++) {
        p.k[i] = q->kernel[i];
        p.s[i] = q->stride[i] ? q->stride[i] : q->kernel[i]; /* PyTorch: stride defaults to k */
        p.p[i] = q->pad[i];
        if (p.k[i] < 1 || p.s[i] < 1 || p.p[i] < 0 || 2 * p.p[i] > p.k[i]) {
            hrn_error_set(HRN_ERR_INVALID,
                          "%s: kernel %d, stride %d, padding %d (need kernel >= 1, stride >= 1, "
                          "0 <= padding <= kernel/2, as PyTorch)",
                          name, q->kernel[i], q->stride[i], q->pad[i]);
            return NULL;
        }
        int64_t in = x->shape[2 + i];
        if (in + 2 * p.p[i] < p.k[i])
            return hrn__shape_error(t, name, x, NULL, "is smaller than the pooling window");
        o[i] = (in + 2 * p.p[i] - p.k[i]) / p.s[i] + 1;
    }
    p.has_ws = max && (x->flags & HRN_TENSOR_REQUIRES_GRAD) &&
               !(x->flags & HRN_TENSOR_NO_GRAD_INPUT);
    return hrn__node(t, max ? HRN_OP_MAX_POOL2D : HRN_OP_AVG_POOL2D, 4,
                     (int64_t[]){x->shape[0], x->shape[1], o[0], o[1]}, &x, 1, &p, sizeof p, 1);
}

struct hrn_tensor *hrn_max_pool2d(struct hrn_tape *t, struct hrn_tensor *x,
                                  const struct hrn_pool2d_params *p) {
    return pool_node(t, x, p, 1);
}

struct hrn_tensor *hrn_avg_pool2d(struct hrn_tape *t, struct hrn_tensor *x,
                                  const struct hrn_pool2d_params *p) {
    return pool_node(t, x, p, 0);
}

struct hrn_tensor *hrn_global_avg_pool2d(struct hrn_tape *t, struct hrn_tensor *x) {
    if (hrn__null_input("global_avg_pool2d", &x, 1)) return NULL;
    if (x->ndim != 4)
        return hrn__shape_error(t, "global_avg_pool2d", x, NULL, "must be 4-d (N,C,H,W)");
    struct hrn_pool2d_params p = {{(int)x->shape[2], (int)x->shape[3]}, {1, 1}, {0, 0}, 0};
    return pool_node(t, x, &p, 0);
}

/* --- primitives ------------------------------------------------------------------------------ */

struct pgeom {
    int64_t xd[4], yd[4];
    dnnl_dims_t k, s, dil, pl, pr;
    dnnl_alg_kind_t alg;
    int training;
};

static struct pgeom pgeom_of(const struct hrn_tensor *o) {
    const struct pool_params *p = HRN__PARAMS(o, const struct pool_params);
    struct pgeom g;
    memset(&g, 0, sizeof g);
    for (int i = 0; i < 4; i++) {
        g.xd[i] = o->src[0]->shape[i];
        g.yd[i] = o->shape[i];
    }
    for (int i = 0; i < 2; i++) {
        g.k[i] = p->k[i];
        g.s[i] = p->s[i];
        g.pl[i] = p->p[i];
        g.pr[i] = (g.yd[2 + i] - 1) * p->s[i] + p->k[i] - g.xd[2 + i] - p->p[i];
    }
    g.alg = p->max ? dnnl_pooling_max
                   : (p->exclude_pad ? dnnl_pooling_avg_exclude_padding
                                     : dnnl_pooling_avg_include_padding);
    g.training = p->has_ws || !p->max;
    return g;
}

static void make_key(int64_t *key, int kind, const struct pgeom *g) {
    memset(key, 0, HRN__DNNL_KEY * sizeof *key);
    int64_t v[] = {kind,     g->xd[0], g->xd[1], g->xd[2], g->xd[3], g->yd[2], g->yd[3],
                   g->k[0],  g->k[1],  g->s[0],  g->s[1],  g->pl[0], g->pl[1], g->pr[0],
                   g->pr[1], g->alg,   g->training};
    memcpy(key, v, sizeof v);
}

static enum hrn_status get_fwd(const struct pgeom *g, struct hrn__dnnl_prim **out) {
    enum hrn_status st = HRN_OK;
    int64_t key[HRN__DNNL_KEY];
    make_key(key, HRN__DK_POOL_FWD, g);
    if ((*out = hrn__dnnl_find(key))) return HRN_OK;
    dnnl_memory_desc_t x = hrn__dnnl_md(4, g->xd, dnnl_nchw), y = hrn__dnnl_md(4, g->yd, dnnl_nchw);
    dnnl_pooling_v2_desc_t desc;
    HRN_DNNL(dnnl_pooling_v2_forward_desc_init(
        &desc, g->training ? dnnl_forward_training : dnnl_forward_inference, g->alg, &x, &y, g->s,
        g->k, g->dil, g->pl, g->pr));
    int ws = g->training && g->alg == dnnl_pooling_max;
    struct hrn__dnnl_argspec spec[3] = {{DNNL_ARG_SRC, HRN__DNNL_IN, &x},
                                        {DNNL_ARG_DST, HRN__DNNL_OUT, &y},
                                        {DNNL_ARG_WORKSPACE, HRN__DNNL_OUT, NULL}};
    return hrn__dnnl_create(key, &desc, NULL, ws ? 3 : 2, spec, out);
fail:
    return st;
}

/* out (N,C,OH,OW) = pool(x (N,C,H,W)) */
static enum hrn_status pool_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    enum hrn_status st = HRN_OK;
    struct pgeom g = pgeom_of(o);
    struct hrn__dnnl_prim *p = NULL;
    HRN_TRY(get_fwd(&g, &p));
    void *ws = NULL;
    if (p->n_args == 3) {
        ws = hrn__scratch(t, hrn__dnnl_arg_bytes(p, 2));
        if (!ws) return HRN_ERR_NOMEM;
    }
    void *ptr[3] = {o->src[0]->data, o->data, ws};
    HRN_TRY(hrn__dnnl_exec(p, ptr));
    o->saved = ws;
    return HRN_OK;
fail:
    return st;
}

static enum hrn_status pool_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    enum hrn_status st = HRN_OK;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    struct pgeom g = pgeom_of(o);
    HRN_ASSERT(g.training); /* a max pool over an input wanting grad kept its workspace */
    struct hrn__dnnl_prim *fwd = NULL, *p = NULL;
    HRN_TRY(get_fwd(&g, &fwd));
    int64_t key[HRN__DNNL_KEY];
    make_key(key, HRN__DK_POOL_BWD, &g);
    int ws = g.alg == dnnl_pooling_max;
    if (!(p = hrn__dnnl_find(key))) {
        dnnl_memory_desc_t x = hrn__dnnl_md(4, g.xd, dnnl_nchw),
                           y = hrn__dnnl_md(4, g.yd, dnnl_nchw);
        dnnl_pooling_v2_desc_t desc;
        HRN_DNNL(dnnl_pooling_v2_backward_desc_init(&desc, g.alg, &x, &y, g.s, g.k, g.dil, g.pl,
                                                    g.pr));
        struct hrn__dnnl_argspec spec[3] = {{DNNL_ARG_DIFF_DST, HRN__DNNL_IN, &y},
                                            {DNNL_ARG_DIFF_SRC, HRN__DNNL_OUT_ADD, &x},
                                            {DNNL_ARG_WORKSPACE, HRN__DNNL_IN, NULL}};
        HRN_TRY(hrn__dnnl_create(key, &desc, fwd->pd, ws ? 3 : 2, spec, &p));
    }
    void *ptr[3] = {o->grad, o->src[0]->grad, o->saved};
    HRN_TRY(hrn__dnnl_exec(p, ptr));
    return HRN_OK;
fail:
    return st;
}

enum hrn_status hrn__max_pool2d_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return pool_fwd(t, o);
}
enum hrn_status hrn__max_pool2d_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return pool_bwd(t, o);
}
enum hrn_status hrn__avg_pool2d_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return pool_fwd(t, o);
}
enum hrn_status hrn__avg_pool2d_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    return pool_bwd(t, o);
}
