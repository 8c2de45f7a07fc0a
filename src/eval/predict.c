/* predict.c — prediction by raw ids, with the unknown-id policy. */
#include "eval/predict.h"

#include "core/error.h"
#include "models/mf.h"

#include <string.h>

float fl_predict_fallback(const fl_model *m, int64_t u, int64_t i) {
    /* No preference is known for an unseen id: the neutral score. */
    if (fl_model_kind_implicit(m->kind)) return 0.0f;
    if (!m->bu) return m->global_mean;
    if (m->mean_user) {
        /* fm, svdpp: the average user (or item) stands in for the unknown one. */
        const float *p = u >= 0 ? m->P + (size_t)u * m->stride : m->mean_user;
        const float *q = i >= 0 ? m->Q + (size_t)i * m->stride : m->mean_item;
        float z = m->offset + (u >= 0 ? m->bu[u] : m->mean_bu) + (i >= 0 ? m->bi[i] : m->mean_bi) +
                  fl_mf_dot(p, q, m->n_factors);
        return fl_model_clip(m, z);
    }
    float z = m->offset;
    if (u >= 0) z += m->bu[u];
    if (i >= 0) z += m->bi[i];
    return fl_model_clip(m, fl_squash(&m->params, z));
}

fl_status fl_predict(const fl_model *m, const char *user_id, const char *item_id,
                     fl_unknown_policy pol, float *out, fl_error *err) {
    uint32_t u, i;
    int ku = fl_idmap_find(m->user_ids, user_id, strlen(user_id), &u);
    int ki = fl_idmap_find(m->item_ids, item_id, strlen(item_id), &i);
    if (ku && ki) {
        *out = fl_predict_index(m, u, i);
        return FL_OK;
    }
    if (pol != FL_UNKNOWN_MEAN) {
        if (!ku)
            return fl_fail(err, FL_ERR_UNKNOWN_ID,
                           "user '%s' is not in the model (it had no training ratings); "
                           "--unknown=mean predicts from the biases instead",
                           user_id);
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "item '%s' is not in the model (it had no training ratings); "
                       "--unknown=mean predicts from the biases instead",
                       item_id);
    }
    *out = fl_predict_fallback(m, ku ? (int64_t)u : -1, ki ? (int64_t)i : -1);
    return FL_OK;
}
