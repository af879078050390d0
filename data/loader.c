/* loader.c: the prefetching training-data loader (training.md 6.3, 6.4).
 *
 * Determinism. The order of epoch e is a Fisher-Yates permutation drawn from
 * hrn_rng_seed_keyed(seed, e, "permute", 0) and sample i's augmentation from (seed, e, i,
 * "augment"), so a batch is a function of (seed, e, pos) only: the thread count, the order in
 * which workers finish and a resume cannot change a byte.
 *
 * Batches never span epochs: an epoch of n samples gives ceil(n/B) batches, the last one partial,
 * or floor(n/B) with drop_last. A position (e, pos) at the end of an epoch is written (e+1, 0).
 *
 * Threads. Batch q (counted from the loader's start) lives in slot q % depth of a ring. Workers
 * take the next sample job (q, i) in order while q < consumed + depth, make it without the lock
 * (hrn_dataset_get, hrn_augment_apply) and store it in its slot; hrn_loader_next waits for batch
 * `consumed` to be complete and hands its samples over. With threads = 0 the caller runs the jobs
 * of its batch itself through the same code. */
#include "hrn_data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Key of the epoch permutation stream: "permute" in ASCII. */
#define PERM_PURPOSE 0x7065726d757465ull

enum { MAX_THREADS = 64, MAX_PREFETCH = 64, N_PERM_CACHE = 2 };

struct slot {
    int64_t q;                    /* batch held (-1: free) */
    int64_t epoch, pos;           /* its first sample */
    int64_t next_epoch, next_pos; /* the position after it */
    int n;                        /* samples in it */
    int64_t *idx;                 /* (batch) dataset indices */
    struct hrn_sample *s;         /* (batch) */
    int done;                     /* samples finished (made or failed) */
    int err_i;                    /* first failing sample in batch order, -1 none */
    enum hrn_status err_st;
    char err_msg[768];
};

struct perm_cache {
    int64_t epoch; /* -1: empty */
    int64_t *p;    /* (n) */
    uint64_t used; /* for least-recently-used replacement */
};

struct hrn_loader {
    const struct hrn_dataset *ds;
    struct hrn_augment aug;
    struct hrn_loader_config c;
    int depth;
    struct slot *slots; /* (depth) */
    struct perm_cache perm[N_PERM_CACHE];
    uint64_t perm_clock;

    pthread_mutex_t mu;
    pthread_cond_t work, ready; /* a job may be available / a sample finished */
    pthread_t *th;
    int n_th, stop;
    int64_t consumed;             /* batches handed to the caller */
    int64_t job_q;                /* the batch of the next job ... */
    int job_i;                    /* ... and its sample */
    int64_t plan_epoch, plan_pos; /* where batch job_q starts (normalized) */
    enum hrn_status failed;       /* sticky: a batch failed */
    char failed_msg[1024];
};

/* --- positions and orders -------------------------------------------------------------------- */

/* Move (e, pos) past the end of its epoch to (e+1, 0): at n, and with drop_last wherever no whole
 * batch is left. */
static void normalize(const struct hrn_loader *l, int64_t *e, int64_t *pos) {
    int64_t n = l->ds->n;
    if (*pos >= n || (l->c.drop_last && *pos + l->c.batch > n)) {
        (*e)++;
        *pos = 0;
    }
}

static void make_perm(const struct hrn_loader *l, int64_t epoch, int64_t *p) {
    int64_t n = l->ds->n;
    for (int64_t i = 0; i < n; i++)
        p[i] = i;
    if (!l->c.shuffle) return;
    struct hrn_rng r;
    hrn_rng_seed_keyed(&r, l->c.seed, (uint64_t)epoch, PERM_PURPOSE, 0);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)hrn_rng_below(&r, (uint64_t)(i + 1));
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* Epoch's order from the cache (caller holds the lock; at most two epochs are ever in flight:
 * the one being consumed and the next). */
static const int64_t *order_of(struct hrn_loader *l, int64_t epoch) {
    struct perm_cache *victim = &l->perm[0];
    for (int k = 0; k < N_PERM_CACHE; k++) {
        if (l->perm[k].epoch == epoch) {
            l->perm[k].used = ++l->perm_clock;
            return l->perm[k].p;
        }
        if (l->perm[k].used < victim->used) victim = &l->perm[k];
    }
    make_perm(l, epoch, victim->p);
    victim->epoch = epoch;
    victim->used = ++l->perm_clock;
    return victim->p;
}

int64_t hrn_loader_order(const struct hrn_loader *l, int64_t epoch, int64_t pos) {
    if (!l || pos < 0 || pos >= l->ds->n || epoch < 0) return -1;
    struct hrn_loader *m = (struct hrn_loader *)l; /* the cache is internal state */
    pthread_mutex_lock(&m->mu);
    int64_t i = order_of(m, epoch)[pos];
    pthread_mutex_unlock(&m->mu);
    return i;
}

/* --- jobs ----------------------------------------------------------------------------------- */

/* Put batch job_q into its slot (lock held; the slot is free because job_q < consumed + depth). */
static void plan_batch(struct hrn_loader *l) {
    struct slot *sl = &l->slots[l->job_q % l->depth];
    HRN_ASSERT(sl->q < 0);
    int64_t n = l->ds->n, e = l->plan_epoch, p = l->plan_pos;
    int k = (int)(n - p < l->c.batch ? n - p : l->c.batch);
    int parts = l->c.shards > 1 ? l->c.shards : 1, mine = k / parts; /* k = batch: drop_last */
    const int64_t *ord = order_of(l, e);
    sl->q = l->job_q;
    sl->epoch = e;
    sl->pos = p;
    sl->n = mine;
    for (int i = 0; i < mine; i++)
        sl->idx[i] = ord[p + (int64_t)(parts > 1 ? l->c.shard : 0) * mine + i];
    sl->done = 0;
    sl->err_i = -1;
    sl->err_st = HRN_OK;
    sl->err_msg[0] = 0;
    l->plan_pos = p + k;
    normalize(l, &l->plan_epoch, &l->plan_pos);
    sl->next_epoch = l->plan_epoch;
    sl->next_pos = l->plan_pos;
}

/* Take the next job if one may start now (lock held): its slot and sample number. */
static struct slot *take_job(struct hrn_loader *l, int *i) {
    if (l->job_q >= l->consumed + l->depth) return NULL;
    if (l->job_i == 0) plan_batch(l);
    struct slot *sl = &l->slots[l->job_q % l->depth];
    *i = l->job_i++;
    if (l->job_i == sl->n) {
        l->job_q++;
        l->job_i = 0;
    }
    return sl;
}

static void sample_label(const struct hrn_loader *l, int64_t idx, char *buf, size_t cap) {
    if (l->ds->kind == HRN_DATASET_FOLDER) {
        snprintf(buf, cap, "%s", l->ds->paths[idx]);
    } else {
        snprintf(buf, cap, "synth_%llu_%lld", (unsigned long long)l->ds->synth.seed,
                 (long long)idx);
    }
}

/* Make sample i of slot sl without the lock, then store it (and any error) with the lock held
 * again. The slot cannot be handed out meanwhile: it is complete only after this store. */
static void run_job(struct hrn_loader *l, struct slot *sl, int i) {
    int64_t idx = sl->idx[i], epoch = sl->epoch;
    struct hrn_sample s;
    pthread_mutex_unlock(&l->mu);
    enum hrn_status st = hrn_dataset_get(l->ds, idx, &s);
    if (st == HRN_OK) st = hrn_augment_apply(&l->aug, l->c.seed, epoch, &s);
    char msg[sizeof sl->err_msg] = "";
    if (st != HRN_OK) {
        char label[512];
        sample_label(l, idx, label, sizeof label);
        snprintf(msg, sizeof msg, "loader: epoch %lld position %lld: sample %lld (%s): %s",
                 (long long)epoch, (long long)(sl->pos + i), (long long)idx, label,
                 hrn_error_msg());
        hrn_sample_free(&s);
    }
    pthread_mutex_lock(&l->mu);
    sl->s[i] = s;
    if (st != HRN_OK && (sl->err_i < 0 || i < sl->err_i)) {
        sl->err_i = i;
        sl->err_st = st;
        memcpy(sl->err_msg, msg, sizeof msg);
    }
    if (++sl->done == sl->n) pthread_cond_broadcast(&l->ready);
}

static void *worker(void *arg) {
    struct hrn_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        int i;
        struct slot *sl = take_job(l, &i);
        if (sl)
            run_job(l, sl, i);
        else
            pthread_cond_wait(&l->work, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* --- open, next, close ------------------------------------------------------------------------ */

static enum hrn_status check_config(const struct hrn_dataset *ds, const struct hrn_loader_config *c,
                                    int64_t epoch, int64_t pos) {
    if (!ds || ds->n < 1) return hrn_error_set(HRN_ERR_INVALID, "loader: empty dataset");
    if (c->batch < 1 || c->threads < 0 || c->threads > MAX_THREADS || c->prefetch < 0 ||
        c->prefetch > MAX_PREFETCH)
        return hrn_error_set(HRN_ERR_INVALID,
                             "loader: batch %d, threads %d, prefetch %d: "
                             "expected batch >= 1, threads in [0,%d], prefetch in [0,%d]",
                             c->batch, c->threads, c->prefetch, MAX_THREADS, MAX_PREFETCH);
    if (c->shards > 1 && (!c->drop_last || c->batch % c->shards || c->shard < 0 ||
                          c->shard >= c->shards))
        return hrn_error_set(HRN_ERR_INVALID,
                             "loader: shard %d of %d with batch %d: expected drop_last, a batch "
                             "that is a multiple of the shards and 0 <= shard < shards",
                             c->shard, c->shards, c->batch);
    if (c->drop_last && c->batch > ds->n)
        return hrn_error_set(HRN_ERR_INVALID,
                             "loader: batch %d is larger than the dataset (%lld "
                             "samples) and drop_last would skip every batch",
                             c->batch, (long long)ds->n);
    if (epoch < 0 || pos < 0 || pos > ds->n)
        return hrn_error_set(HRN_ERR_INVALID,
                             "loader: start position (epoch %lld, %lld) outside "
                             "[0, %lld]",
                             (long long)epoch, (long long)pos, (long long)ds->n);
    return HRN_OK;
}

static enum hrn_status alloc_state(struct hrn_loader *l) {
    int64_t n = l->ds->n;
    int B = l->c.batch;
    l->slots = calloc((size_t)l->depth, sizeof *l->slots);
    if (!l->slots) goto nomem;
    for (int k = 0; k < l->depth; k++) {
        l->slots[k].q = -1;
        l->slots[k].idx = malloc((size_t)B * sizeof(int64_t));
        l->slots[k].s = calloc((size_t)B, sizeof(struct hrn_sample));
        if (!l->slots[k].idx || !l->slots[k].s) goto nomem;
    }
    for (int k = 0; k < N_PERM_CACHE; k++) {
        l->perm[k].epoch = -1;
        l->perm[k].p = malloc((size_t)n * sizeof(int64_t));
        if (!l->perm[k].p) goto nomem;
    }
    return HRN_OK;
nomem:
    return hrn_error_set(HRN_ERR_NOMEM,
                         "loader: no memory for %d batches of %d or the order of "
                         "%lld samples",
                         l->depth, B, (long long)n);
}

enum hrn_status hrn_loader_open(struct hrn_loader **out, const struct hrn_dataset *ds,
                                const struct hrn_augment *aug, const struct hrn_loader_config *c,
                                int64_t epoch, int64_t pos) {
    enum hrn_status st;
    *out = NULL;
    if ((st = check_config(ds, c, epoch, pos)) != HRN_OK) return st;
    struct hrn_loader *l = calloc(1, sizeof *l);
    if (!l) return hrn_error_set(HRN_ERR_NOMEM, "loader: no memory");
    l->ds = ds;
    if (aug) l->aug = *aug; /* else disabled (zeroed) */
    l->c = *c;
    l->depth = c->prefetch > 0 ? c->prefetch : 2;
    l->plan_epoch = epoch;
    l->plan_pos = pos;
    normalize(l, &l->plan_epoch, &l->plan_pos);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    if ((st = alloc_state(l)) != HRN_OK) goto fail;
    if (c->threads > 0) {
        l->th = calloc((size_t)c->threads, sizeof *l->th);
        if (!l->th) {
            st = hrn_error_set(HRN_ERR_NOMEM, "loader: no memory for %d threads", c->threads);
            goto fail;
        }
        for (; l->n_th < c->threads; l->n_th++)
            if (pthread_create(&l->th[l->n_th], NULL, worker, l) != 0) {
                st = hrn_error_set(HRN_ERR_NOMEM, "loader: cannot start worker thread %d of %d",
                                   l->n_th + 1, c->threads);
                goto fail;
            }
    }
    *out = l;
    return HRN_OK;
fail:
    hrn_loader_close(l);
    return st;
}

void hrn_batch_free(struct hrn_batch *b) {
    if (!b) return;
    for (int i = 0; b->s && i < b->n; i++)
        hrn_sample_free(&b->s[i]);
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* Wait for batch `consumed` (lock held); with no workers, make it here. */
static struct slot *wait_batch(struct hrn_loader *l) {
    struct slot *sl = &l->slots[l->consumed % l->depth];
    for (;;) {
        if (sl->q == l->consumed && sl->done == sl->n) return sl;
        int i;
        struct slot *job = l->n_th == 0 ? take_job(l, &i) : NULL;
        if (job)
            run_job(l, job, i);
        else
            pthread_cond_wait(&l->ready, &l->mu);
    }
}

enum hrn_status hrn_loader_next(struct hrn_loader *l, struct hrn_batch *b) {
    hrn_batch_free(b);
    pthread_mutex_lock(&l->mu);
    if (l->failed != HRN_OK) {
        pthread_mutex_unlock(&l->mu);
        return hrn_error_set(l->failed, "%s", l->failed_msg);
    }
    struct hrn_sample *fresh = calloc((size_t)l->c.batch, sizeof *fresh);
    if (!fresh) {
        pthread_mutex_unlock(&l->mu);
        return hrn_error_set(HRN_ERR_NOMEM, "loader: no memory for a batch of %d", l->c.batch);
    }
    struct slot *sl = wait_batch(l);
    enum hrn_status st = HRN_OK;
    if (sl->err_i >= 0) {
        /* sticky: the sequence cannot go on without this batch */
        st = l->failed = sl->err_st;
        snprintf(l->failed_msg, sizeof l->failed_msg, "%s", sl->err_msg);
        for (int i = 0; i < sl->n; i++)
            hrn_sample_free(&sl->s[i]);
        free(fresh);
    } else {
        b->s = sl->s;
        b->n = sl->n;
        b->first_epoch = sl->epoch;
        b->first_pos = sl->pos;
        b->epoch = sl->next_epoch;
        b->pos = sl->next_pos;
        sl->s = fresh;
    }
    sl->q = -1;
    l->consumed++;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    if (st != HRN_OK) return hrn_error_set(st, "%s", l->failed_msg);
    return HRN_OK;
}

void hrn_loader_close(struct hrn_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    /* a worker in the middle of a sample finishes it, stores it and then sees stop */
    for (int t = 0; t < l->n_th; t++)
        pthread_join(l->th[t], NULL);
    for (int k = 0; l->slots && k < l->depth; k++) {
        for (int i = 0; l->slots[k].s && i < l->c.batch; i++)
            hrn_sample_free(&l->slots[k].s[i]);
        free(l->slots[k].s);
        free(l->slots[k].idx);
    }
    for (int k = 0; k < N_PERM_CACHE; k++)
        free(l->perm[k].p);
    free(l->slots);
    free(l->th);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
