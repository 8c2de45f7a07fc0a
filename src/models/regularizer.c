/* regularizer.c — penalty weights and value (see regularizer.h). */
#include "models/regularizer.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>

uint32_t fl_model_user_count(const fl_model *m, uint32_t u) {
    return (uint32_t)(m->seen_start[u + 1] - m->seen_start[u]);
}

static void fill(float *f, float *b, uint32_t count) {
    double c = count ? (double)count : 1.0;
    *f = (float)(1.0 / sqrt(c));
    *b = (float)(1.0 / c);
}

fl_status fl_reg_shares_build(const fl_model *m, fl_reg_shares *s, fl_error *err) {
    size_t nu = m->n_users ? m->n_users : 1, ni = m->n_items ? m->n_items : 1;
    s->fu = malloc(nu * sizeof *s->fu);
    s->bu = malloc(nu * sizeof *s->bu);
    s->fi = malloc(ni * sizeof *s->fi);
    s->bi = malloc(ni * sizeof *s->bi);
    if (!s->fu || !s->bu || !s->fi || !s->bi) {
        fl_reg_shares_free(s);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the regularisation weights");
    }
    for (uint32_t u = 0; u < m->n_users; u++) fill(&s->fu[u], &s->bu[u], fl_model_user_count(m, u));
    for (uint32_t i = 0; i < m->n_items; i++) fill(&s->fi[i], &s->bi[i], m->item_count[i]);
    return FL_OK;
}

void fl_reg_shares_free(fl_reg_shares *s) {
    free(s->fu), free(s->fi), free(s->bu), free(s->bi);
    s->fu = s->fi = s->bu = s->bi = NULL;
}

static double sq_norm(const float *x, uint32_t k) {
    double s = 0.0;
    for (uint32_t f = 0; f < k; f++) s += (double)x[f] * x[f];
    return s;
}

double fl_reg_penalty(const fl_model *m) {
    const fl_params *p = &m->params;
    double factors = 0.0, biases = 0.0, dense = 0.0;
    /* ials and bpr penalise every row alike (no count weighting). */
    const int plain = fl_model_kind_implicit(m->kind);
    for (uint32_t u = 0; u < m->n_users; u++) {
        factors += (plain ? 1.0 : sqrt((double)fl_model_user_count(m, u))) * sq_norm(m->P + (size_t)u * m->stride, m->n_factors);
        if (m->bu) biases += (double)m->bu[u] * m->bu[u];
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        factors += (plain ? 1.0 : sqrt((double)m->item_count[i])) * sq_norm(m->Q + (size_t)i * m->stride, m->n_factors);
        if (m->bi) biases += (double)m->bi[i] * m->bi[i];
    }
    for (int l = 0; l < m->n_dense; l++)
        dense += sq_norm(m->dense[l].w, (uint32_t)(m->dense[l].n_in * m->dense[l].n_out));
    double total = p->reg_factors * (factors + dense) + p->reg_bias * biases;
    return m->n_train ? total / (double)m->n_train : 0.0;
}
