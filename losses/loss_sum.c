/* loss_sum.c: the weights of HRN's loss terms (two presets), the weighted sum of named terms and
 * its tab-separated log. */
#include "losses_impl.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

struct term_info {
    const char *name;
    size_t weight; /* offsetof the weight field in struct hrn_loss_weights */
};

#define W(field) offsetof(struct hrn_loss_weights, field)
static const struct term_info TERMS[] = {
    [HRN_LOSS_PHOTO] = {"photo", W(w_color)},
    [HRN_LOSS_PHOTO_MID] = {"photo_mid", W(w_color)},
    [HRN_LOSS_PHOTO_HIGH] = {"photo_high", W(w_color)},
    [HRN_LOSS_LM] = {"lm", W(w_lm)},
    [HRN_LOSS_REG] = {"reg", W(w_reg)},
    [HRN_LOSS_GAMMA] = {"gamma", W(w_gamma)},
    [HRN_LOSS_CONTOUR] = {"contour", W(w_contour)},
    [HRN_LOSS_SMOOTH] = {"smooth", W(w_smooth)},
    [HRN_LOSS_SMOOTH_STD] = {"smooth_std", W(w_smooth_std)},
    [HRN_LOSS_DIS_REG] = {"dis_reg", W(w_dis_reg)},
    [HRN_LOSS_DIS_SMOOTH] = {"dis_smooth", W(w_dis_smooth)},
    [HRN_LOSS_DIS_SMOOTH_STD] = {"dis_smooth_std", W(w_dis_smooth_std)},
    [HRN_LOSS_ADV_MID] = {"adv_mid", W(w_adv)},
    [HRN_LOSS_ADV_HIGH] = {"adv_high", W(w_adv)},
    [HRN_LOSS_REFLC] = {"reflc", W(w_reflc)},
    [HRN_LOSS_FEAT] = {"feat", W(w_feat)},
    [HRN_LOSS_PRIOR_DEFORM] = {"prior_deform", W(w_prior_deform)},
    [HRN_LOSS_PRIOR_DISP] = {"prior_disp", W(w_prior_disp)},
};
_Static_assert(sizeof TERMS / sizeof TERMS[0] == HRN_LOSS_TERM_COUNT,
               "TERMS out of sync with enum hrn_loss_term");

/* every weight field by its option name, for hrn_loss_weights_set */
static const struct term_info KEYS[] = {
    {"w_color", W(w_color)},           {"w_lm", W(w_lm)},
    {"w_reg", W(w_reg)},               {"w_gamma", W(w_gamma)},
    {"w_contour", W(w_contour)},       {"w_smooth", W(w_smooth)},
    {"w_smooth_std", W(w_smooth_std)}, {"w_dis_reg", W(w_dis_reg)},
    {"w_dis_smooth", W(w_dis_smooth)}, {"w_dis_smooth_std", W(w_dis_smooth_std)},
    {"w_adv", W(w_adv)},               {"w_reflc", W(w_reflc)},
    {"w_feat", W(w_feat)},             {"w_prior_deform", W(w_prior_deform)},
    {"w_prior_disp", W(w_prior_disp)}, {"w_id", W(w_id)},
    {"w_exp", W(w_exp)},               {"w_tex", W(w_tex)},
};
_Static_assert(sizeof KEYS / sizeof KEYS[0] == sizeof(struct hrn_loss_weights) / sizeof(float),
               "KEYS must list every field of struct hrn_loss_weights");
#undef W

static float *field(struct hrn_loss_weights *w, size_t off) {
    return (float *)(void *)((char *)w + off);
}

void hrn_loss_weights_default(struct hrn_loss_weights *w) {
    *w = (struct hrn_loss_weights){
        .w_color = 1.92f, .w_lm = 1.6e-3f, .w_reg = 3e-4f, .w_gamma = 10.0f, .w_contour = 20.0f,
        .w_smooth = 5e3f, .w_dis_reg = 10.0f, .w_adv = 1.0f, .w_reflc = 5.0f, .w_feat = 0.2f,
        .w_id = 1.0f, .w_exp = 0.8f, .w_tex = 1.7e-2f,
    };
}

void hrn_loss_weights_mvhrn(struct hrn_loss_weights *w) {
    hrn_loss_weights_default(w);
    w->w_lm = 1.6e-3f * 0.1f;
    w->w_smooth = 1000.0f;
    w->w_smooth_std = 10000.0f;
    w->w_dis_reg = 1.0f;
    w->w_dis_smooth = 10000.0f;
    w->w_dis_smooth_std = 10000.0f;
    w->w_adv = 0.0f;
    w->w_reflc = 0.0f;
    w->w_feat = 0.0f;
}

enum hrn_status hrn_loss_weights_set(struct hrn_loss_weights *w, const char *key, double value) {
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (key && !strcmp(key, KEYS[i].name)) {
            if (!isfinite(value))
                return hrn_error_set(HRN_ERR_CONFIG, "loss weight %s: %g is not finite", key,
                                     value);
            *field(w, KEYS[i].weight) = (float)value;
            return HRN_OK;
        }
    return hrn_error_set(HRN_ERR_CONFIG, "unknown loss weight '%s' (known: w_color, w_lm, w_reg, "
                         "w_gamma, w_contour, w_smooth, w_smooth_std, w_dis_reg, w_dis_smooth, "
                         "w_dis_smooth_std, w_adv, w_reflc, w_feat, w_prior_deform, w_prior_disp, "
                         "w_id, w_exp, w_tex)", key ? key : "(null)");
}

const char *hrn_loss_term_name(enum hrn_loss_term term) {
    return (int)term >= 0 && term < HRN_LOSS_TERM_COUNT ? TERMS[term].name : "?";
}

float hrn_loss_term_weight(const struct hrn_loss_weights *w, enum hrn_loss_term term) {
    HRN_ASSERT((int)term >= 0 && term < HRN_LOSS_TERM_COUNT);
    return *field((struct hrn_loss_weights *)(uintptr_t)w, TERMS[term].weight);
}

void hrn_loss_sum_init(struct hrn_loss_sum *s, struct hrn_tape *t,
                       const struct hrn_loss_weights *w) {
    memset(s, 0, sizeof *s);
    s->t = t;
    if (w)
        s->w = *w;
    else
        hrn_loss_weights_default(&s->w);
}

enum hrn_status hrn_loss_sum_add(struct hrn_loss_sum *s, enum hrn_loss_term term,
                                 struct hrn_tensor *x) {
    if (s->status != HRN_OK) return s->status;
    if ((int)term < 0 || term >= HRN_LOSS_TERM_COUNT)
        return s->status = hrn_error_set(HRN_ERR_INVALID, "loss sum: unknown term %d", (int)term);
    const char *name = TERMS[term].name;
    if (!x) {
        if (!hrn_error_msg()[0]) hrn_error_set(HRN_ERR_INVALID, "the loss returned NULL");
        return s->status = hrn_error_prefix(HRN_ERR_INVALID, "loss term %s", name);
    }
    if (x->numel != 1) {
        char sh[64];
        return s->status = hrn_error_set(HRN_ERR_INVALID, "loss term %s: not a scalar (got %s)",
                                         name, hrn_tensor_shape_str(x, sh, sizeof sh));
    }
    s->value[term] += (double)x->data[0];
    s->count[term]++;
    float w = hrn_loss_term_weight(&s->w, term);
    if (w == 0.0f) return HRN_OK;
    struct hrn_tensor *wx = w == 1.0f ? x : hrn_scale(s->t, x, w);
    struct hrn_tensor *tot = s->total ? hrn_add(s->t, s->total, wx) : wx;
    if (!tot) return s->status = hrn_error_prefix(HRN_ERR_INVALID, "loss term %s", name);
    s->total = tot;
    return HRN_OK;
}

struct hrn_tensor *hrn_loss_sum_total(struct hrn_loss_sum *s) {
    if (s->status != HRN_OK) return NULL; /* the message of the first failure is kept */
    if (!s->total) {
        hrn_error_set(HRN_ERR_INVALID, "loss sum: no term with a non-zero weight was added");
        return NULL;
    }
    return s->total;
}

void hrn_loss_sum_tsv_header(FILE *f) {
    fputs("iter\ttotal", f);
    for (int k = 0; k < HRN_LOSS_TERM_COUNT; k++) fprintf(f, "\t%s", TERMS[k].name);
    fputc('\n', f);
}

void hrn_loss_sum_tsv_row(const struct hrn_loss_sum *s, FILE *f, int64_t iter) {
    double total = s->total && s->status == HRN_OK ? (double)s->total->data[0] : (double)NAN;
    fprintf(f, "%lld\t%.9g", (long long)iter, total);
    for (int k = 0; k < HRN_LOSS_TERM_COUNT; k++) {
        if (s->count[k])
            fprintf(f, "\t%.9g", s->value[k]);
        else
            fputs("\tnan", f);
    }
    fputc('\n', f);
}
