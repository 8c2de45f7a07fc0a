/* feature_user.c — a new user described by user side features alone, for an
 * fm model trained with them: the sum of the features' rows (mcmc.c keeps,
 * for every user feature, its average interaction with each item fitted in
 * the model's item basis, and its linear weight) plus the user-id group's
 * prior mean, which any user the model has not seen carries. The result is
 * a folded-in user: fl_predict_folded and fl_recommend_folded take it. */
#include "core/error.h"
#include "data/features.h"
#include "models/model.h"

#include <string.h>

fl_status fl_user_from_features(const fl_model *m, const char *const *features,
                                const float *values, size_t n, fl_unknown_policy pol,
                                float *factors, float *bias, size_t *n_used, fl_error *err) {
    *n_used = 0;
    if (!fl_kind_fm(m->kind) || !m->uf_P)
        return fl_fail(err, FL_ERR_USAGE,
                       "a new user from features needs an fm model saved with its user "
                       "features' rows (this is %s)",
                       fl_model_kind_name(m->kind));
    const uint32_t k = m->n_factors;
    memcpy(factors, m->uf_P, k * sizeof *factors);
    *bias = m->uf_b[0];
    for (size_t t = 0; t < n; t++) {
        char name[FL_MAX_ID_LEN + 1];
        uint32_t j;
        int known = fl_idmap_find(m->uf_names, features[t], strlen(features[t]), &j);
        if (!known) {
            fl_feature_canonical(features[t], name, sizeof name);
            known = fl_idmap_find(m->uf_names, name, strlen(name), &j);
        }
        if (!known) {
            if (pol == FL_UNKNOWN_SKIP) continue;
            return fl_fail(err, FL_ERR_UNKNOWN_ID,
                           "user feature '%s' is not in the model (it knows %u, e.g. '%s')",
                           features[t], fl_idmap_size(m->uf_names),
                           fl_idmap_size(m->uf_names) ? fl_idmap_name(m->uf_names, 0) : "none");
        }
        const float x = values ? values[t] : 1.0f;
        const float *row = m->uf_P + (size_t)(1 + j) * k;
        for (uint32_t f = 0; f < k; f++) factors[f] += x * row[f];
        *bias += x * m->uf_b[1 + j];
        (*n_used)++;
    }
    return FL_OK;
}
