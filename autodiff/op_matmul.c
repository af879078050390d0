/* op_matmul.c: matmul and batched matmul with transposes, through OpenBLAS sgemm.
 *
 * C = A'·B' with A' = op(A), B' = op(B). Then dA' = dC·B'ᵀ and dB' = A'ᵀ·dC, so
 *   dA (M,K)  += dC·B'ᵀ              dA (K,M) (TRANS_A) += B'·dCᵀ
 *   dB (K,N)  += A'ᵀ·dC              dB (N,K) (TRANS_B) += dCᵀ·A'
 * each one sgemm with beta = 1, which accumulates as the tape requires.
 */
#include "ad_impl.h"

#include <cblas.h>

struct mm_params {
    int64_t batch, M, K, N;
    int32_t flags;
    int32_t b_shared; /* bmm with a 2-d b used by every batch */
};

/* c (M,N) = op(a)·op(b) (+ c if beta = 1); a (M,K) or (K,M), b (K,N) or (N,K) */
static void sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *a,
                  const float *b, float beta, float *c) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, 1.0f, a, ta ? (blasint)M : (blasint)K, b,
                tb ? (blasint)K : (blasint)N, beta, c, (blasint)N);
}

/* da (M,K) or (K,M), db (K,N) or (N,K) += grads from dc (M,N); either may be NULL */
static void matmul_backward(float *da, float *db, const float *dc, const float *a, const float *b,
                            int64_t M, int64_t K, int64_t N, int ta, int tb) {
    if (da) {
        if (!ta) /* (M,K) += dC (M,N) · B' ᵀ;  B'ᵀ = tb ? B : Bᵀ */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasNoTrans : CblasTrans, (blasint)M,
                        (blasint)K, (blasint)N, 1.0f, dc, (blasint)N, b,
                        tb ? (blasint)K : (blasint)N, 1.0f, da, (blasint)K);
        else /* (K,M) += B' (K,N) · dCᵀ */
            cblas_sgemm(CblasRowMajor, tb ? CblasTrans : CblasNoTrans, CblasTrans, (blasint)K,
                        (blasint)M, (blasint)N, 1.0f, b, tb ? (blasint)K : (blasint)N, dc,
                        (blasint)N, 1.0f, da, (blasint)M);
    }
    if (db) {
        if (!tb) /* (K,N) += A'ᵀ (K,M) · dC;  A'ᵀ = ta ? A : Aᵀ */
            cblas_sgemm(CblasRowMajor, ta ? CblasNoTrans : CblasTrans, CblasNoTrans, (blasint)K,
                        (blasint)N, (blasint)M, 1.0f, a, ta ? (blasint)M : (blasint)K, dc,
                        (blasint)N, 1.0f, db, (blasint)N);
        else /* (N,K) += dCᵀ (N,M) · A' (M,K) */
            cblas_sgemm(CblasRowMajor, CblasTrans, ta ? CblasTrans : CblasNoTrans, (blasint)N,
                        (blasint)K, (blasint)M, 1.0f, dc, (blasint)N, a,
                        ta ? (blasint)M : (blasint)K, 1.0f, db, (blasint)K);
    }
}

static int check_blas_size(const char *op, int64_t v) {
    if (v > INT32_MAX) {
        hrn_error_set(HRN_ERR_UNSUPPORTED, "%s: dimension %lld exceeds the BLAS int range", op,
                      (long long)v);
        return 0;
    }
    return 1;
}

struct hrn_tensor *hrn_matmul(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                              int flags) {
    struct hrn_tensor *src[2] = {a, b};
    if (hrn__null_input("matmul", src, 2)) return NULL;
    if (a->ndim != 2 || b->ndim != 2)
        return hrn__shape_error(t, "matmul", a, b, "must both be 2-d (use hrn_bmm for batches)");
    int ta = !!(flags & HRN_MATMUL_TRANS_A), tb = !!(flags & HRN_MATMUL_TRANS_B);
    int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
    int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
    if (K != Kb) {
        char why[96];
        snprintf(why, sizeof why, "have inner dimensions %lld and %lld%s%s", (long long)K,
                 (long long)Kb, ta ? " (a transposed)" : "", tb ? " (b transposed)" : "");
        return hrn__shape_error(t, "matmul", a, b, why);
    }
    if (!check_blas_size("matmul", M) || !check_blas_size("matmul", N) ||
        !check_blas_size("matmul", K))
        return NULL;
    struct mm_params p = {1, M, K, N, flags, 0};
    return hrn__node(t, HRN_OP_MATMUL, 2, (int64_t[]){M, N}, src, 2, &p, sizeof p, 1);
}

/* out (M,N) = op(a)·op(b) */
enum hrn_status hrn__matmul_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct mm_params *p = HRN__PARAMS(o, const struct mm_params);
    sgemm(p->flags & HRN_MATMUL_TRANS_A, p->flags & HRN_MATMUL_TRANS_B, p->M, p->N, p->K,
          o->src[0]->data, o->src[1]->data, 0.0f, o->data);
    return HRN_OK;
}

enum hrn_status hrn__matmul_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct mm_params *p = HRN__PARAMS(o, const struct mm_params);
    matmul_backward(hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL,
                    hrn__wants_grad(o, 1) ? o->src[1]->grad : NULL, o->grad, o->src[0]->data,
                    o->src[1]->data, p->M, p->K, p->N, p->flags & HRN_MATMUL_TRANS_A,
                    p->flags & HRN_MATMUL_TRANS_B);
    return HRN_OK;
}

struct hrn_tensor *hrn_bmm(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b,
                           int flags) {
    struct hrn_tensor *src[2] = {a, b};
    if (hrn__null_input("bmm", src, 2)) return NULL;
    if (a->ndim != 3 || (b->ndim != 3 && b->ndim != 2))
        return hrn__shape_error(t, "bmm", a, b, "must be 3-d and 3-d (or 2-d shared) tensors");
    int shared = b->ndim == 2;
    if (!shared && a->shape[0] != b->shape[0])
        return hrn__shape_error(t, "bmm", a, b, "have different batch sizes");
    int ta = !!(flags & HRN_MATMUL_TRANS_A), tb = !!(flags & HRN_MATMUL_TRANS_B);
    const int64_t *bs = b->shape + (shared ? 0 : 1);
    int64_t B = a->shape[0];
    int64_t M = ta ? a->shape[2] : a->shape[1], K = ta ? a->shape[1] : a->shape[2];
    int64_t Kb = tb ? bs[1] : bs[0], N = tb ? bs[0] : bs[1];
    if (K != Kb) {
        char why[96];
        snprintf(why, sizeof why, "have inner dimensions %lld and %lld%s%s", (long long)K,
                 (long long)Kb, ta ? " (a transposed)" : "", tb ? " (b transposed)" : "");
        return hrn__shape_error(t, "bmm", a, b, why);
    }
    if (!check_blas_size("bmm", B * M) || !check_blas_size("bmm", N) ||
        !check_blas_size("bmm", K))
        return NULL;
    struct mm_params p = {B, M, K, N, flags, shared};
    return hrn__node(t, HRN_OP_BMM, 3, (int64_t[]){B, M, N}, src, 2, &p, sizeof p, 1);
}

/* out (B,M,N) = op(a[b])·op(b[b] or b) */
enum hrn_status hrn__bmm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct mm_params *p = HRN__PARAMS(o, const struct mm_params);
    int ta = p->flags & HRN_MATMUL_TRANS_A, tb = p->flags & HRN_MATMUL_TRANS_B;
    const float *a = o->src[0]->data, *b = o->src[1]->data;
    if (p->b_shared && !ta) { /* one tall sgemm: (B·M, K)·op(b) */
        sgemm(0, tb, p->batch * p->M, p->N, p->K, a, b, 0.0f, o->data);
        return HRN_OK;
    }
    for (int64_t i = 0; i < p->batch; i++)
        sgemm(ta, tb, p->M, p->N, p->K, a + i * p->M * p->K,
              b + (p->b_shared ? 0 : i * p->K * p->N), 0.0f, o->data + i * p->M * p->N);
    return HRN_OK;
}

enum hrn_status hrn__bmm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct mm_params *p = HRN__PARAMS(o, const struct mm_params);
    int ta = p->flags & HRN_MATMUL_TRANS_A, tb = p->flags & HRN_MATMUL_TRANS_B;
    const float *a = o->src[0]->data, *b = o->src[1]->data;
    float *da = hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL;
    float *db = hrn__wants_grad(o, 1) ? o->src[1]->grad : NULL;
    if (p->b_shared && !ta) {
        matmul_backward(da, db, o->grad, a, b, p->batch * p->M, p->K, p->N, 0, tb);
        return HRN_OK;
    }
    /* batches in order: a shared db accumulates in a fixed order (deterministic) */
    for (int64_t i = 0; i < p->batch; i++) {
        int64_t bo = p->b_shared ? 0 : i * p->K * p->N;
        matmul_backward(da ? da + i * p->M * p->K : NULL, db ? db + bo : NULL,
                        o->grad + i * p->M * p->N, a + i * p->M * p->K, b + bo, p->M, p->K, p->N,
                        ta, tb);
    }
    return HRN_OK;
}
