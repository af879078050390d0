/* test_dist.c: the ops that see the whole batch, split across processes, compute what one process
 * computes on the whole batch. Two threads stand in for two MPI ranks (a collective over a
 * pthread barrier, adding in rank order like train/dist.c), so this runs without MPI:
 * - synchronised batch norm: outputs, input gradients, the summed weight and bias gradients and
 *   the running statistics of two half batches equal one process's on the whole batch, and both
 *   outputs equal a double-precision reference;
 * - dropout draws the same mask for a row whichever process holds it;
 * - the loader's shards together hold exactly one loader's batches.
 * The MPI path itself (hrn-train under mpirun) is tests/test_train_mpi.c. */
#include "hrn_autodiff.h"
#include "hrn_data.h"
#include "hrn_model.h"
#include "hrn_test.h"

#include <pthread.h>

enum { NT = 2 };

struct thread_coll {
    pthread_barrier_t bar;
    double *f64[NT];
    float *f32[NT];
};

static enum hrn_status tc_sum_f64(const struct hrn_collective *c, double *buf, int64_t n) {
    struct thread_coll *tc = c->ctx;
    double *tmp = malloc((size_t)n * sizeof(double) + 1);
    tc->f64[c->rank] = buf;
    pthread_barrier_wait(&tc->bar);
    for (int64_t i = 0; i < n; i++) {
        double s = tc->f64[0][i];
        for (int r = 1; r < NT; r++) s += tc->f64[r][i];
        tmp[i] = s;
    }
    pthread_barrier_wait(&tc->bar); /* everyone has read every buffer */
    memcpy(buf, tmp, (size_t)n * sizeof(double));
    free(tmp);
    return HRN_OK;
}

static enum hrn_status tc_sum_f32(const struct hrn_collective *c, float *buf, int64_t n) {
    struct thread_coll *tc = c->ctx;
    float *tmp = malloc((size_t)n * sizeof(float) + 1);
    tc->f32[c->rank] = buf;
    pthread_barrier_wait(&tc->bar);
    for (int64_t i = 0; i < n; i++) {
        float s = tc->f32[0][i];
        for (int r = 1; r < NT; r++) s += tc->f32[r][i];
        tmp[i] = s;
    }
    pthread_barrier_wait(&tc->bar);
    memcpy(buf, tmp, (size_t)n * sizeof(float));
    free(tmp);
    return HRN_OK;
}

static enum hrn_status tc_bcast(const struct hrn_collective *c, float *buf, int64_t n) {
    struct thread_coll *tc = c->ctx;
    tc->f32[c->rank] = buf;
    pthread_barrier_wait(&tc->bar);
    if (c->rank != 0) memcpy(buf, tc->f32[0], (size_t)n * sizeof(float));
    pthread_barrier_wait(&tc->bar);
    return HRN_OK;
}

/* --- batch norm ------------------------------------------------------------------------------- */

enum { B = 4, C = 3, H = 64, W = 64 };
static const int64_t SHAPE[4] = {B, C, H, W};

struct bn_job {
    /* in */
    const float *x, *r, *w, *b; /* x, r (rows of this job), w, b (C) */
    int rows;
    const struct hrn_collective *coll;
    /* out */
    float y[B * C * H * W], dx[B * C * H * W], dw[C], db[C], rm[C], rv[C];
    enum hrn_status st;
};

/* sum(r * bn(x)) forward and backward on rows of x, with the job's collective */
static void *bn_run(void *arg) {
    struct bn_job *j = arg;
    struct hrn_tape t;
    j->st = hrn_tape_init(&t, 32u << 20);
    if (j->st != HRN_OK) return NULL;
    t.coll = j->coll;
    int64_t sh[4] = {j->rows, C, H, W}, n = j->rows * C * H * W;
    struct hrn_tensor *x = hrn_tape_wrap(&t, (float *)j->x, 4, sh, "x");
    struct hrn_tensor *r = hrn_tape_wrap(&t, (float *)j->r, 4, sh, "r");
    struct hrn_tensor *w = hrn_tape_wrap(&t, (float *)j->w, 1, (int64_t[]){C}, "w");
    struct hrn_tensor *b = hrn_tape_wrap(&t, (float *)j->b, 1, (int64_t[]){C}, "b");
    hrn_tape_requires_grad(&t, x);
    hrn_tape_requires_grad(&t, w);
    hrn_tape_requires_grad(&t, b);
    for (int c = 0; c < C; c++) j->rm[c] = 0.1f * (float)c, j->rv[c] = 1.0f + 0.2f * (float)c;
    struct hrn_batch_norm_params p = {.running_mean = j->rm, .running_var = j->rv,
                                      .momentum = 0.1f, .eps = 1e-5f, .training = 1};
    struct hrn_tensor *y = hrn_batch_norm(&t, x, w, b, &p);
    struct hrn_tensor *loss = hrn_sum_all(&t, hrn_mul(&t, y, r));
    if (!loss) {
        j->st = HRN_ERR_INVALID;
        goto done;
    }
    j->st = hrn_tape_backward(&t, loss);
    if (j->st != HRN_OK) goto done;
    memcpy(j->y, y->data, (size_t)n * sizeof(float));
    memcpy(j->dx, x->grad, (size_t)n * sizeof(float));
    memcpy(j->dw, w->grad, sizeof j->dw);
    memcpy(j->db, b->grad, sizeof j->db);
done:
    hrn_tape_free(&t);
    return NULL;
}

static void fill(float *v, int64_t n, uint64_t seed, float scale, float offset) {
    struct hrn_rng g;
    hrn_rng_seed(&g, seed);
    for (int64_t i = 0; i < n; i++) v[i] = offset + scale * (2.0f * hrn_rng_uniformf(&g) - 1.0f);
}

/* y = (x - mean_c)/sqrt(var_c + 1e-5)·w_c + b_c over the whole batch, in double */
static void bn_reference(const float *x, const float *w, const float *b, double *y) {
    const int64_t HW = H * W;
    for (int c = 0; c < C; c++) {
        double s1 = 0, s2 = 0, n = (double)(B * HW);
        for (int bb = 0; bb < B; bb++)
            for (int64_t i = 0; i < HW; i++) s1 += (double)x[(bb * C + c) * HW + i];
        double mean = s1 / n;
        for (int bb = 0; bb < B; bb++)
            for (int64_t i = 0; i < HW; i++) {
                double d = (double)x[(bb * C + c) * HW + i] - mean;
                s2 += d * d;
            }
        double rstd = 1.0 / sqrt(s2 / n + 1e-5);
        for (int bb = 0; bb < B; bb++)
            for (int64_t i = 0; i < HW; i++) {
                int64_t k = (bb * C + c) * HW + i;
                y[k] = ((double)x[k] - mean) * rstd * (double)w[c] + (double)b[c];
            }
    }
}

static void test_sync_batch_norm(void) {
    static float x[B * C * H * W], r[B * C * H * W];
    float w[C], b[C];
    fill(x, B * C * H * W, 1, 2.0f, 0.5f);
    fill(r, B * C * H * W, 2, 1.0f, 0.0f);
    fill(w, C, 3, 0.5f, 1.0f);
    fill(b, C, 4, 0.5f, 0.0f);
    const int64_t per = C * H * W;
    (void)SHAPE;
    static struct bn_job whole, part[NT];
    whole = (struct bn_job){.x = x, .r = r, .w = w, .b = b, .rows = B};
    bn_run(&whole);
    CHECK_OK(whole.st);

    struct thread_coll tc;
    pthread_barrier_init(&tc.bar, NULL, NT);
    struct hrn_collective coll[NT];
    pthread_t th[NT];
    for (int k = 0; k < NT; k++) {
        coll[k] = (struct hrn_collective){.rank = k, .size = NT, .row0 = k * (B / NT),
                                          .sum_f64 = tc_sum_f64, .sum_f32 = tc_sum_f32,
                                          .bcast_f32 = tc_bcast, .ctx = &tc};
        part[k] = (struct bn_job){.x = x + k * (B / NT) * per, .r = r + k * (B / NT) * per,
                                  .w = w, .b = b, .rows = B / NT, .coll = &coll[k]};
        pthread_create(&th[k], NULL, bn_run, &part[k]);
    }
    for (int k = 0; k < NT; k++) pthread_join(th[k], NULL);
    pthread_barrier_destroy(&tc.bar);
    double ey = 0, edx = 0, edw = 0, erm = 0, sdx = 0;
    for (int k = 0; k < NT; k++) {
        CHECK_OK(part[k].st);
        for (int64_t i = 0; i < (B / NT) * per; i++) {
            ey = fmax(ey, fabs(part[k].y[i] - whole.y[k * (B / NT) * per + i]));
            edx = fmax(edx, fabs(part[k].dx[i] - whole.dx[k * (B / NT) * per + i]));
            sdx = fmax(sdx, fabs(whole.dx[k * (B / NT) * per + i]));
        }
    }
    for (int c = 0; c < C; c++) {
        edw = fmax(edw, fabs((double)(part[0].dw[c] + part[1].dw[c] - whole.dw[c])) / (1 + fabs((double)whole.dw[c])));
        edw = fmax(edw, fabs((double)(part[0].db[c] + part[1].db[c] - whole.db[c])) / (1 + fabs((double)whole.db[c])));
        for (int k = 0; k < NT; k++) {
            erm = fmax(erm, fabs(part[k].rm[c] - whole.rm[c]));
            erm = fmax(erm, fabs((double)(part[k].rv[c] - whole.rv[c])) / (double)whole.rv[c]);
        }
    }
    /* both against the normalisation computed in double */
    static double ref[B * C * H * W];
    bn_reference(x, w, b, ref);
    double rw = 0, rp = 0;
    for (int64_t i = 0; i < B * per; i++) {
        rw = fmax(rw, fabs(ref[i] - (double)whole.y[i]));
        rp = fmax(rp, fabs(ref[i] - (double)part[i / ((B / NT) * per)].y[i % ((B / NT) * per)]));
    }
    printf("  batch norm vs a double reference: one process %.2g, two %.2g\n", rw, rp);
    CHECK_MSG(rw < 1e-6 && rp < 1e-6, "off the double reference by %g, %g", rw, rp);
    printf("  sync BN vs one process: |dy| %.2g, |dx| %.2g (of %.2g), dw/db %.2g, running %.2g\n",
           ey, edx, sdx, edw, erm);
    CHECK_MSG(ey < 2e-6, "outputs differ by %g", ey);
    CHECK_MSG(edx < 2e-6 * (1 + sdx), "input gradients differ by %g", edx);
    CHECK_MSG(edw < 2e-6, "weight/bias gradients differ by %g", edw);
    CHECK_MSG(erm < 2e-6, "running statistics differ by %g", erm);
    /* not a vacuous match: the two halves' own statistics differ from the whole batch's */
    struct bn_job alone = {.x = x, .r = r, .w = w, .b = b, .rows = B / NT};
    bn_run(&alone);
    double d = 0;
    for (int64_t i = 0; i < (B / NT) * per; i++) d = fmax(d, fabs(alone.y[i] - whole.y[i]));
    CHECK_MSG(d > 1e-3, "a half batch alone normalises like the whole one (%g): weak test", d);
}

/* --- dropout ---------------------------------------------------------------------------------- */

static void test_dropout_rows(void) {
    enum { R = 6, N = 40 };
    float x[R * N];
    fill(x, R * N, 5, 1.0f, 2.0f);
    struct hrn_tape t;
    CHECK_OK(hrn_tape_init(&t, 1u << 20));
    struct hrn_tensor *whole =
        hrn_dropout(&t, hrn_tape_wrap(&t, x, 2, (int64_t[]){R, N}, "x"), 0.5f, 77, 1);
    CHECK(whole != NULL);
    /* rows 2..5 on a process whose first row is global row 2 */
    struct hrn_collective c = {.rank = 1, .size = 2, .row0 = 2};
    struct hrn_tape t2;
    CHECK_OK(hrn_tape_init(&t2, 1u << 20));
    t2.coll = &c;
    struct hrn_tensor *tail =
        hrn_dropout(&t2, hrn_tape_wrap(&t2, x + 2 * N, 2, (int64_t[]){R - 2, N}, "x"), 0.5f, 77, 1);
    CHECK(tail != NULL);
    int same = 1, zeros = 0;
    for (int i = 0; whole && tail && i < (R - 2) * N; i++) {
        same &= tail->data[i] == whole->data[2 * N + i];
        zeros += tail->data[i] == 0.0f;
    }
    CHECK_MSG(same, "row-keyed masks differ between the whole batch and a shard");
    CHECK_MSG(zeros > 40 && zeros < 120, "%d of %d dropped at p = 0.5", zeros, (R - 2) * N);
    hrn_tape_free(&t);
    hrn_tape_free(&t2);
}

/* --- loader shards ---------------------------------------------------------------------------- */

static void test_loader_shards(void) {
    struct hrn_face_model fm = {0};
    CHECK_OK(hrn_synth_face(&fm, &(struct hrn_synth_params){.preset = HRN_SYNTH_SMALL, .seed = 3}));
    struct hrn_synth_data_config sc;
    hrn_synth_data_defaults(&sc);
    sc.seed = 9;
    sc.count = 10;
    struct hrn_dataset ds;
    CHECK_OK(hrn_dataset_open_synth(&ds, &fm, &sc));
    struct hrn_augment aug;
    hrn_augment_defaults(&aug);
    aug.enabled = 0;
    struct hrn_loader *one = NULL, *sh[2] = {NULL, NULL};
    struct hrn_loader_config lc = {.seed = 4, .batch = 4, .shuffle = 1, .drop_last = 1};
    CHECK_OK(hrn_loader_open(&one, &ds, &aug, &lc, 0, 0));
    for (int k = 0; k < 2; k++) {
        struct hrn_loader_config c = lc;
        c.shard = k;
        c.shards = 2;
        CHECK_OK(hrn_loader_open(&sh[k], &ds, &aug, &c, 0, 0));
    }
    struct hrn_batch b1 = {0}, b2[2] = {{0}, {0}};
    for (int step = 0; step < 5 && one && sh[0] && sh[1]; step++) { /* crosses an epoch */
        CHECK_OK(hrn_loader_next(one, &b1));
        for (int k = 0; k < 2; k++) CHECK_OK(hrn_loader_next(sh[k], &b2[k]));
        CHECK(b1.n == 4 && b2[0].n == 2 && b2[1].n == 2);
        CHECK(b2[0].epoch == b1.epoch && b2[1].pos == b1.pos);
        for (int i = 0; i < 4 && b1.n == 4 && b2[i / 2].n == 2; i++)
            CHECK_MSG(!strcmp(b1.s[i].name, b2[i / 2].s[i % 2].name), "step %d sample %d: %s vs %s",
                      step, i, b1.s[i].name, b2[i / 2].s[i % 2].name);
    }
    struct hrn_loader_config bad = lc;
    bad.shards = 3;
    struct hrn_loader *l = NULL;
    CHECK_STATUS(hrn_loader_open(&l, &ds, &aug, &bad, 0, 0), HRN_ERR_INVALID);
    hrn_batch_free(&b1);
    hrn_batch_free(&b2[0]);
    hrn_batch_free(&b2[1]);
    hrn_loader_close(one);
    hrn_loader_close(sh[0]);
    hrn_loader_close(sh[1]);
    hrn_dataset_free(&ds);
    hrn_face_model_free(&fm);
}

int main(void) {
    RUN(test_sync_batch_norm);
    RUN(test_dropout_rows);
    RUN(test_loader_shards);
    hrn_layers_release();
    return hrn_test_finish();
}
