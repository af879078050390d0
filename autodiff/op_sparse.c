/* op_sparse.c: fixed CSR matrices and their product with dense tensors (UV resampling). */
#include "ad_impl.h"

#include <stdlib.h>

void hrn_csr_free(struct hrn_csr *a) {
    if (!a) return;
    free(a->rowptr);
    free(a->col);
    free(a->val);
    free(a->t_rowptr);
    free(a->t_col);
    free(a->t_val);
    memset(a, 0, sizeof *a);
}

/* Build the transpose by counting columns: entries of a row of Aᵀ come in increasing row order
 * of A, so the transposed product sums in a fixed order. */
static enum hrn_status build_transpose(struct hrn_csr *a) {
    a->t_rowptr = calloc((size_t)a->cols + 1, sizeof *a->t_rowptr);
    a->t_col = malloc((size_t)(a->nnz ? a->nnz : 1) * sizeof *a->t_col);
    a->t_val = malloc((size_t)(a->nnz ? a->nnz : 1) * sizeof *a->t_val);
    int64_t *fill = calloc((size_t)a->cols + 1, sizeof *fill);
    if (!a->t_rowptr || !a->t_col || !a->t_val || !fill) {
        free(fill);
        return hrn_error_set(HRN_ERR_NOMEM, "csr: cannot allocate the transpose (%lld nnz)",
                             (long long)a->nnz);
    }
    for (int64_t k = 0; k < a->nnz; k++) a->t_rowptr[a->col[k] + 1]++;
    for (int64_t c = 0; c < a->cols; c++) a->t_rowptr[c + 1] += a->t_rowptr[c];
    for (int64_t r = 0; r < a->rows; r++)
        for (int64_t k = a->rowptr[r]; k < a->rowptr[r + 1]; k++) {
            int32_t c = a->col[k];
            int64_t dst = a->t_rowptr[c] + fill[c]++;
            a->t_col[dst] = (int32_t)r;
            a->t_val[dst] = a->val[k];
        }
    free(fill);
    return HRN_OK;
}

enum hrn_status hrn_csr_init(struct hrn_csr *a, int64_t rows, int64_t cols, const int64_t *rowptr,
                             const int32_t *col, const float *val) {
    memset(a, 0, sizeof *a);
    if (rows < 1 || cols < 1 || rows > INT32_MAX || cols > INT32_MAX)
        return hrn_error_set(HRN_ERR_INVALID, "csr: bad size %lld x %lld", (long long)rows,
                             (long long)cols);
    if (rowptr[0] != 0)
        return hrn_error_set(HRN_ERR_INVALID, "csr: rowptr[0] is %lld, expected 0",
                             (long long)rowptr[0]);
    for (int64_t r = 0; r < rows; r++)
        if (rowptr[r + 1] < rowptr[r])
            return hrn_error_set(HRN_ERR_INVALID, "csr: rowptr decreases at row %lld",
                                 (long long)r);
    int64_t nnz = rowptr[rows];
    for (int64_t k = 0; k < nnz; k++)
        if (col[k] < 0 || col[k] >= cols)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "csr: entry %lld has column %d, outside [0, %lld)",
                                 (long long)k, (int)col[k], (long long)cols);
    a->rows = rows;
    a->cols = cols;
    a->nnz = nnz;
    a->rowptr = malloc((size_t)(rows + 1) * sizeof *a->rowptr);
    a->col = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->col);
    a->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->val);
    if (!a->rowptr || !a->col || !a->val) {
        hrn_csr_free(a);
        return hrn_error_set(HRN_ERR_NOMEM, "csr: cannot allocate %lld nnz", (long long)nnz);
    }
    memcpy(a->rowptr, rowptr, (size_t)(rows + 1) * sizeof *a->rowptr);
    memcpy(a->col, col, (size_t)nnz * sizeof *a->col);
    memcpy(a->val, val, (size_t)nnz * sizeof *a->val);
    enum hrn_status st = build_transpose(a);
    if (st != HRN_OK) hrn_csr_free(a);
    return st;
}

enum hrn_status hrn_csr_from_coo(struct hrn_csr *a, int64_t rows, int64_t cols, int64_t nnz,
                                 const int32_t *row, const int32_t *col, const float *val) {
    enum hrn_status st = HRN_OK;
    memset(a, 0, sizeof *a);
    int64_t *rowptr = NULL, *fill = NULL;
    int32_t *c2 = NULL;
    float *v2 = NULL;
    if (rows < 1 || cols < 1 || nnz < 0)
        return hrn_error_set(HRN_ERR_INVALID, "csr: bad size %lld x %lld with %lld entries",
                             (long long)rows, (long long)cols, (long long)nnz);
    for (int64_t k = 0; k < nnz; k++)
        if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
            return hrn_error_set(HRN_ERR_INVALID,
                                 "csr: entry %lld at (%d,%d) is outside %lld x %lld", (long long)k,
                                 (int)row[k], (int)col[k], (long long)rows, (long long)cols);
    rowptr = calloc((size_t)rows + 1, sizeof *rowptr);
    fill = calloc((size_t)rows + 1, sizeof *fill);
    c2 = malloc((size_t)(nnz ? nnz : 1) * sizeof *c2);
    v2 = malloc((size_t)(nnz ? nnz : 1) * sizeof *v2);
    if (!rowptr || !fill || !c2 || !v2) {
        st = hrn_error_set(HRN_ERR_NOMEM, "csr: cannot allocate %lld entries", (long long)nnz);
        goto fail;
    }
    for (int64_t k = 0; k < nnz; k++) rowptr[row[k] + 1]++;
    for (int64_t r = 0; r < rows; r++) rowptr[r + 1] += rowptr[r];
    for (int64_t k = 0; k < nnz; k++) {
        int64_t dst = rowptr[row[k]] + fill[row[k]]++;
        c2[dst] = col[k];
        v2[dst] = val[k];
    }
    /* sort each row by column (insertion sort: rows are short) and merge duplicates */
    int64_t w = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t lo = rowptr[r], hi = rowptr[r + 1];
        for (int64_t i = lo + 1; i < hi; i++) {
            int32_t c = c2[i];
            float v = v2[i];
            int64_t j = i - 1;
            while (j >= lo && c2[j] > c) {
                c2[j + 1] = c2[j];
                v2[j + 1] = v2[j];
                j--;
            }
            c2[j + 1] = c;
            v2[j + 1] = v;
        }
        rowptr[r] = w;
        for (int64_t i = lo; i < hi; i++) {
            if (w > rowptr[r] && c2[w - 1] == c2[i]) {
                v2[w - 1] += v2[i];
            } else {
                c2[w] = c2[i];
                v2[w] = v2[i];
                w++;
            }
        }
    }
    rowptr[rows] = w;
    st = hrn_csr_init(a, rows, cols, rowptr, c2, v2);
fail:
    free(rowptr);
    free(fill);
    free(c2);
    free(v2);
    return st;
}

struct spmm_params {
    const struct hrn_csr *a;
    int64_t batch, K;
};

struct hrn_tensor *hrn_spmm(struct hrn_tape *t, const struct hrn_csr *a, struct hrn_tensor *x) {
    if (hrn__null_input("spmm", &x, 1)) return NULL;
    if (!a || !a->rowptr) {
        hrn_error_set(HRN_ERR_INVALID, "spmm: the sparse matrix is NULL or not initialised");
        return NULL;
    }
    if ((x->ndim != 2 && x->ndim != 3) || x->shape[x->ndim - 2] != a->cols) {
        char s[64], why[128];
        snprintf(why, sizeof why, "must be (%lld,K) or (B,%lld,K) to multiply the %lld x %lld "
                 "sparse matrix", (long long)a->cols, (long long)a->cols, (long long)a->rows,
                 (long long)a->cols);
        hrn_error_set(HRN_ERR_INVALID, "spmm: dense operand of shape %s %s",
                      hrn_tensor_shape_str(x, s, sizeof s), why);
        return NULL;
    }
    int b3 = x->ndim == 3;
    struct spmm_params p = {a, b3 ? x->shape[0] : 1, x->shape[x->ndim - 1]};
    int64_t shape[3] = {p.batch, a->rows, p.K};
    return hrn__node(t, HRN_OP_SPMM, x->ndim, b3 ? shape : shape + 1, &x, 1, &p, sizeof p, 1);
}

/* y (B, R, K) = A (R, C) · x (B, C, K); parallel over (batch, row), each row written once.
 * With accumulate, y += instead. */
static void csr_mm(float *y, const int64_t *rowptr, const int32_t *col, const float *val,
                   const float *x, int64_t B, int64_t R, int64_t C, int64_t K, int accumulate) {
    /* the work is the nonzeros (and a little per row): the transposed landmark picker of a fit
     * has 35709 rows but 68 nonzeros, which one thread does in a few microseconds */
    int64_t work = B * (rowptr[R] * K + R / 8);
    if (K == 1) { /* a row is one running sum: no memset call per row (1 ms at 107127 rows) */
        HRN__PAR_FOR(work >= HRN_PAR_MIN / 4, br, B * R,
            int64_t b = B == 1 ? 0 : br / R, r = B == 1 ? br : br % R;
            const float *xb = x + b * C;
            float s = accumulate ? y[br] : 0.0f;
            for (int64_t k = rowptr[r]; k < rowptr[r + 1]; k++) s += val[k] * xb[col[k]];
            y[br] = s;
        );
        return;
    }
    HRN__PAR_FOR(work >= HRN_PAR_MIN / 4, br, B * R,
        int64_t b = B == 1 ? 0 : br / R, r = B == 1 ? br : br % R;
        float *yr = y + br * K;
        if (!accumulate) memset(yr, 0, (size_t)K * sizeof(float));
        const float *xb = x + b * C * K;
        for (int64_t k = rowptr[r]; k < rowptr[r + 1]; k++) {
            const float v = val[k], *xr = xb + (int64_t)col[k] * K;
            for (int64_t j = 0; j < K; j++) yr[j] += v * xr[j];
        }
    );
}

enum hrn_status hrn__spmm_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    const struct spmm_params *p = HRN__PARAMS(o, const struct spmm_params);
    const struct hrn_csr *a = p->a;
    csr_mm(o->data, a->rowptr, a->col, a->val, o->src[0]->data, p->batch, a->rows, a->cols, p->K,
           0);
    return HRN_OK;
}

/* dx (B, C, K) += Aᵀ (C, R) · dout (B, R, K) */
enum hrn_status hrn__spmm_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    const struct spmm_params *p = HRN__PARAMS(o, const struct spmm_params);
    const struct hrn_csr *a = p->a;
    csr_mm(o->src[0]->grad, a->t_rowptr, a->t_col, a->t_val, o->grad, p->batch, a->cols, a->rows,
           p->K, 1);
    return HRN_OK;
}
