/* op_geom.c: 3-vector ops along the last axis (cross, normalize) and Euler angles to rotations. */
#include "ad_impl.h"

#include <math.h>

/* --- cross ----------------------------------------------------------------------------------- */

struct hrn_tensor *hrn_cross(struct hrn_tape *t, struct hrn_tensor *a, struct hrn_tensor *b) {
    struct hrn_tensor *src[2] = {a, b};
    if (hrn__null_input("cross", src, 2)) return NULL;
    if (!hrn_tensor_same_shape(a, b) || a->shape[a->ndim - 1] != 3)
        return hrn__shape_error(t, "cross", a, b, "must be equal and end in 3");
    return hrn__node(t, HRN_OP_CROSS, a->ndim, a->shape, src, 2, NULL, 0, 1);
}

static inline void cross3(float *o, const float *a, const float *b) {
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

/* out (n,3) = a (n,3) × b (n,3) */
enum hrn_status hrn__cross_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    int64_t n = o->numel / 3;
    const float *a = o->src[0]->data, *b = o->src[1]->data;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, n, cross3(o->data + 3 * i, a + 3 * i, b + 3 * i););
    return HRN_OK;
}

/* (a×b)·g = a·(b×g) = b·(g×a): da += b × g, db += g × a */
enum hrn_status hrn__cross_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    int64_t n = o->numel / 3;
    const float *a = o->src[0]->data, *b = o->src[1]->data, *g = o->grad;
    float *ga = hrn__wants_grad(o, 0) ? o->src[0]->grad : NULL;
    float *gb = hrn__wants_grad(o, 1) ? o->src[1]->grad : NULL;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, n,
        float c[3];
        if (ga) {
            cross3(c, b + 3 * i, g + 3 * i);
            for (int k = 0; k < 3; k++) ga[3 * i + k] += c[k];
        }
        if (gb) {
            cross3(c, g + 3 * i, a + 3 * i);
            for (int k = 0; k < 3; k++) gb[3 * i + k] += c[k];
        }
    );
    return HRN_OK;
}

/* --- normalize ------------------------------------------------------------------------------- */

struct normalize_params {
    float eps;
};

struct hrn_tensor *hrn_normalize(struct hrn_tape *t, struct hrn_tensor *x, float eps) {
    if (hrn__null_input("normalize", &x, 1)) return NULL;
    struct normalize_params p = {eps > 0.0f ? eps : 1e-12f};
    return hrn__node(t, HRN_OP_NORMALIZE, x->ndim, x->shape, &x, 1, &p, sizeof p, 1);
}

static float row_norm(const float *x, int64_t D) {
    double s = 0.0;
    for (int64_t j = 0; j < D; j++) s += (double)x[j] * (double)x[j];
    return (float)sqrt(s);
}

/* out (n,D) = x / max(|x|, eps) */
enum hrn_status hrn__normalize_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    float eps = HRN__PARAMS(o, const struct normalize_params)->eps;
    int64_t D = o->shape[o->ndim - 1], n = o->numel / D;
    const float *x = o->src[0]->data;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, n,
        float nr = row_norm(x + i * D, D), d = nr > eps ? nr : eps;
        for (int64_t j = 0; j < D; j++) o->data[i * D + j] = x[i * D + j] / d;
    );
    return HRN_OK;
}

/* For |x| > eps: y = x/|x|, dx += (g - y (y·g)) / |x|. Otherwise y = x/eps, dx += g/eps. */
enum hrn_status hrn__normalize_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    float eps = HRN__PARAMS(o, const struct normalize_params)->eps;
    int64_t D = o->shape[o->ndim - 1], n = o->numel / D;
    const float *x = o->src[0]->data, *y = o->data, *g = o->grad;
    float *gx = o->src[0]->grad;
    HRN__PAR_FOR(o->numel >= HRN_PAR_MIN, i, n,
        const float *yi = y + i * D, *gi = g + i * D;
        float nr = row_norm(x + i * D, D);
        if (nr > eps) {
            float yg = 0.0f;
            for (int64_t j = 0; j < D; j++) yg += yi[j] * gi[j];
            for (int64_t j = 0; j < D; j++) gx[i * D + j] += (gi[j] - yi[j] * yg) / nr;
        } else {
            for (int64_t j = 0; j < D; j++) gx[i * D + j] += gi[j] / eps;
        }
    );
    return HRN_OK;
}

/* --- Euler angles to rotation ---------------------------------------------------------------- */

struct hrn_tensor *hrn_euler_rot(struct hrn_tape *t, struct hrn_tensor *angles) {
    if (hrn__null_input("euler_rot", &angles, 1)) return NULL;
    if (angles->ndim != 2 || angles->shape[1] != 3)
        return hrn__shape_error(t, "euler_rot", angles, NULL, "must be (B,3) angles (x,y,z)");
    return hrn__node(t, HRN_OP_EULER_ROT, 3, (int64_t[]){angles->shape[0], 3, 3}, &angles, 1,
                     NULL, 0, 1);
}

static void mat3_mul(float *o, const float *a, const float *b) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            o[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

/* The three factors of R = Rz·Ry·Rx (hrn_method.md 1.3) and, for backward, their derivatives
 * with respect to their own angle. */
static void euler_factors(const float *ang, float rx[9], float ry[9], float rz[9], float drx[9],
                          float dry[9], float drz[9]) {
    float cx = cosf(ang[0]), sx = sinf(ang[0]);
    float cy = cosf(ang[1]), sy = sinf(ang[1]);
    float cz = cosf(ang[2]), sz = sinf(ang[2]);
    const float Rx[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx};
    const float Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy};
    const float Rz[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1};
    const float dRx[9] = {0, 0, 0, 0, -sx, -cx, 0, cx, -sx};
    const float dRy[9] = {-sy, 0, cy, 0, 0, 0, -cy, 0, -sy};
    const float dRz[9] = {-sz, -cz, 0, cz, -sz, 0, 0, 0, 0};
    memcpy(rx, Rx, sizeof Rx);
    memcpy(ry, Ry, sizeof Ry);
    memcpy(rz, Rz, sizeof Rz);
    if (drx) {
        memcpy(drx, dRx, sizeof dRx);
        memcpy(dry, dRy, sizeof dRy);
        memcpy(drz, dRz, sizeof dRz);
    }
}

/* out (B,3,3) = Rz(z)·Ry(y)·Rx(x) for angles (B,3) */
enum hrn_status hrn__euler_rot_fwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    int64_t B = o->shape[0];
    const float *ang = o->src[0]->data;
    for (int64_t b = 0; b < B; b++) {
        float rx[9], ry[9], rz[9], tmp[9];
        euler_factors(ang + 3 * b, rx, ry, rz, NULL, NULL, NULL);
        mat3_mul(tmp, ry, rx);
        mat3_mul(o->data + 9 * b, rz, tmp);
    }
    return HRN_OK;
}

/* d angle_k += sum(dR ⊙ ∂R/∂angle_k), with ∂R/∂x = Rz·Ry·Rx', ∂R/∂y = Rz·Ry'·Rx,
 * ∂R/∂z = Rz'·Ry·Rx. */
enum hrn_status hrn__euler_rot_bwd(struct hrn_tape *t, struct hrn_tensor *o) {
    (void)t;
    if (!hrn__wants_grad(o, 0)) return HRN_OK;
    int64_t B = o->shape[0];
    const float *ang = o->src[0]->data;
    float *ga = o->src[0]->grad;
    for (int64_t b = 0; b < B; b++) {
        float rx[9], ry[9], rz[9], drx[9], dry[9], drz[9], tmp[9], d[3][9];
        euler_factors(ang + 3 * b, rx, ry, rz, drx, dry, drz);
        mat3_mul(tmp, ry, drx);
        mat3_mul(d[0], rz, tmp);
        mat3_mul(tmp, dry, rx);
        mat3_mul(d[1], rz, tmp);
        mat3_mul(tmp, ry, rx);
        mat3_mul(d[2], drz, tmp);
        const float *g = o->grad + 9 * b;
        for (int k = 0; k < 3; k++) {
            float s = 0.0f;
            for (int e = 0; e < 9; e++) s += g[e] * d[k][e];
            ga[3 * b + k] += s;
        }
    }
    return HRN_OK;
}
