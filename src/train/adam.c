/* adam.c — mini-batch Adam for every model kind (the Keras/fastai lesson's
 * optimiser), with a one-cycle learning-rate schedule.
 *
 * Loss of a batch of B ratings: the per-rating objective J of mf.h averaged,
 * plus (nn) reg_f |W|^2 / n_train for the dense weights, so that a whole
 * epoch's batches add up to the objective of regularizer.h.
 * Embedding rows are updated lazily: only rows in the batch take a step, with
 * their own first/second moments — the "sparse Adam" that makes an epoch cost
 * O(ratings * k), not O(batches * all rows). Dense layers use plain Adam. */
#include "core/error.h"
#include "models/mf.h"
#include "models/nn.h"
#include "models/regularizer.h"
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BETA1 0.9f
#define BETA2 0.999f
#define EPS 1e-8f

typedef struct adam_state {
    uint32_t *order;        /* [n] rating indices, reshuffled each epoch */
    float *gP, *gQ;         /* [rows][stride] gradient accumulators (touched rows only) */
    float *mP, *vP, *mQ, *vQ;
    float *gbu, *gbi, *mbu, *vbu, *mbi, *vbi;
    uint32_t *touched_u, *touched_i; /* rows touched in this batch */
    uint32_t *batch_u, *batch_i;     /* [batch] the batch's rows */
    unsigned char *flag_u, *flag_i;
    float *md, *vd;         /* nn dense moments */
    fl_reg_shares reg;
    size_t n_dense_params;
    fl_nn_work work;
    float *z, *dz;          /* [batch] */
    long step;
    long total_steps;
} adam_state;

static void *zalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static fl_status adam_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    adam_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    size_t n = t->train->n_ratings, B = (size_t)t->p->batch_size;
    size_t pu = (size_t)m->n_users * m->stride, qi = (size_t)m->n_items * m->stride;
    s->order = zalloc(n, sizeof *s->order);
    s->gP = zalloc(pu, sizeof(float)), s->mP = zalloc(pu, sizeof(float)), s->vP = zalloc(pu, sizeof(float));
    s->gQ = zalloc(qi, sizeof(float)), s->mQ = zalloc(qi, sizeof(float)), s->vQ = zalloc(qi, sizeof(float));
    s->touched_u = zalloc(B, sizeof(uint32_t)), s->touched_i = zalloc(B, sizeof(uint32_t));
    s->batch_u = zalloc(B, sizeof(uint32_t)), s->batch_i = zalloc(B, sizeof(uint32_t));
    s->flag_u = zalloc(m->n_users, 1), s->flag_i = zalloc(m->n_items, 1);
    s->z = zalloc(B, sizeof(float)), s->dz = zalloc(B, sizeof(float));
    int ok = s->order && s->gP && s->mP && s->vP && s->gQ && s->mQ && s->vQ && s->touched_u &&
             s->touched_i && s->flag_u && s->flag_i && s->z && s->dz && s->batch_u && s->batch_i;
    if (m->bu) {
        s->gbu = zalloc(m->n_users, sizeof(float)), s->mbu = zalloc(m->n_users, sizeof(float));
        s->vbu = zalloc(m->n_users, sizeof(float)), s->gbi = zalloc(m->n_items, sizeof(float));
        s->mbi = zalloc(m->n_items, sizeof(float)), s->vbi = zalloc(m->n_items, sizeof(float));
        ok = ok && s->gbu && s->mbu && s->vbu && s->gbi && s->mbi && s->vbi;
    }
    if (m->kind == FL_MODEL_NN) {
        for (int l = 0; l < m->n_dense; l++)
            s->n_dense_params += (size_t)m->dense[l].n_in * m->dense[l].n_out + m->dense[l].n_out;
        s->md = zalloc(s->n_dense_params, sizeof(float));
        s->vd = zalloc(s->n_dense_params, sizeof(float));
        ok = ok && s->md && s->vd;
        if (ok) {
            fl_status st = fl_nn_work_init(&s->work, m, t->p->batch_size, err);
            if (st != FL_OK) return st;
        }
    }
    if (!ok) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the Adam moments");
    fl_status st = fl_reg_shares_build(m, &s->reg, err);
    if (st != FL_OK) return st;
    for (size_t k = 0; k < n; k++) s->order[k] = (uint32_t)k;
    size_t per_epoch = (n + B - 1) / B;
    s->total_steps = (long)(per_epoch * (size_t)t->p->epochs);
    return FL_OK;
}

static void adam_release(fl_trainer *t) {
    adam_state *s = t->state;
    if (!s) return;
    free(s->order), free(s->gP), free(s->mP), free(s->vP), free(s->gQ), free(s->mQ), free(s->vQ);
    free(s->batch_u), free(s->batch_i);
    free(s->touched_u), free(s->touched_i), free(s->flag_u), free(s->flag_i), free(s->z), free(s->dz);
    free(s->gbu), free(s->mbu), free(s->vbu), free(s->gbi), free(s->mbi), free(s->vbi);
    free(s->md), free(s->vd);
    fl_nn_work_free(&s->work);
    fl_reg_shares_free(&s->reg);
    free(s);
    t->state = NULL;
}

/* One-cycle: warm up over the first quarter of all steps from lr/25 to lr,
 * then anneal by a half cosine to lr/1e4 — the schedule the fastai lesson
 * trains with, which needs no per-dataset decay tuning. */
static float one_cycle(float lr, long step, long total) {
    double x = total > 1 ? (double)step / (double)(total - 1) : 1.0;
    const double warm = 0.25, lo = lr / 25.0, end = lr / 1e4;
    if (x < warm) return (float)(lo + (lr - lo) * (1.0 - cos(M_PI * x / warm)) / 2.0);
    double y = (x - warm) / (1.0 - warm);
    return (float)(end + (lr - end) * (1.0 + cos(M_PI * y)) / 2.0);
}

/* Adam step on n parameters x with gradient g and moments m, v. */
static void adam_update(float *x, const float *g, float *m, float *v, size_t n, float lr, float c1,
                        float c2) {
    for (size_t j = 0; j < n; j++) {
        m[j] = BETA1 * m[j] + (1.0f - BETA1) * g[j];
        v[j] = BETA2 * v[j] + (1.0f - BETA2) * g[j] * g[j];
        x[j] -= lr * (m[j] / c1) / (sqrtf(v[j] / c2) + EPS);
    }
}

static void batch_step(fl_trainer *t, const uint32_t *idx, int B) {
    fl_model *m = t->m;
    adam_state *s = t->state;
    const fl_params *hp = t->p;
    const fl_dataset *d = t->train;
    const int k = (int)m->n_factors;
    const float inv_b = 1.0f / (float)B, lf = hp->reg_factors, lb = hp->reg_bias;
    uint32_t *bu_idx = s->batch_u, *bi_idx = s->batch_i;
    for (int b = 0; b < B; b++) bu_idx[b] = d->users[idx[b]], bi_idx[b] = d->items[idx[b]];
    /* Forward: raw scores z. */
    if (m->kind == FL_MODEL_NN) fl_nn_forward(m, &s->work, bu_idx, bi_idx, B, &t->rng, s->z);
    else
        for (int b = 0; b < B; b++) s->z[b] = fl_mf_score(m, bu_idx[b], bi_idx[b]);
    for (int b = 0; b < B; b++) {
        float yhat = fl_squash(hp, s->z[b]);
        s->dz[b] = 2.0f * (yhat - d->ratings[idx[b]]) * fl_squash_slope(hp, s->z[b]) * inv_b;
    }
    int nu = 0, ni = 0;
    if (m->kind == FL_MODEL_NN) fl_nn_backward(m, &s->work, s->dz, B);
    /* Embedding gradients, accumulated per touched row. */
    for (int b = 0; b < B; b++) {
        uint32_t u = bu_idx[b], i = bi_idx[b];
        float *gp = s->gP + (size_t)u * m->stride, *gq = s->gQ + (size_t)i * m->stride;
        const float *p = m->P + (size_t)u * m->stride, *q = m->Q + (size_t)i * m->stride;
        const float lu = 2.0f * lf * inv_b * s->reg.fu[u], li = 2.0f * lf * inv_b * s->reg.fi[i];
        if (!s->flag_u[u]) s->flag_u[u] = 1, s->touched_u[nu++] = u;
        if (!s->flag_i[i]) s->flag_i[i] = 1, s->touched_i[ni++] = i;
        if (m->kind == FL_MODEL_NN) {
            const float *gx = s->work.gx0 + (size_t)b * 2 * k;
            for (int f = 0; f < k; f++) {
                gp[f] += gx[f] + lu * p[f];
                gq[f] += gx[k + f] + li * q[f];
            }
            if (m->bu) {
                s->gbu[u] += s->dz[b] + 2.0f * lb * inv_b * s->reg.bu[u] * m->bu[u];
                s->gbi[i] += s->dz[b] + 2.0f * lb * inv_b * s->reg.bi[i] * m->bi[i];
            }
        } else {
            float dz = s->dz[b];
            for (int f = 0; f < k; f++) {
                gp[f] += dz * q[f] + lu * p[f];
                gq[f] += dz * p[f] + li * q[f];
            }
            if (m->bu) {
                s->gbu[u] += dz + 2.0f * lb * inv_b * s->reg.bu[u] * m->bu[u];
                s->gbi[i] += dz + 2.0f * lb * inv_b * s->reg.bi[i] * m->bi[i];
            }
        }
    }
    s->step++;
    float lr = one_cycle(hp->lr, s->step - 1, s->total_steps);
    t->lr = lr;
    float c1 = 1.0f - powf(BETA1, (float)s->step), c2 = 1.0f - powf(BETA2, (float)s->step);
    for (int a = 0; a < nu; a++) {
        size_t o = (size_t)s->touched_u[a] * m->stride;
        adam_update(m->P + o, s->gP + o, s->mP + o, s->vP + o, (size_t)k, lr, c1, c2);
        memset(s->gP + o, 0, (size_t)k * sizeof(float));
        if (m->bu) {
            uint32_t u = s->touched_u[a];
            adam_update(&m->bu[u], &s->gbu[u], &s->mbu[u], &s->vbu[u], 1, lr, c1, c2);
            s->gbu[u] = 0.0f;
        }
        s->flag_u[s->touched_u[a]] = 0;
    }
    for (int a = 0; a < ni; a++) {
        size_t o = (size_t)s->touched_i[a] * m->stride;
        adam_update(m->Q + o, s->gQ + o, s->mQ + o, s->vQ + o, (size_t)k, lr, c1, c2);
        memset(s->gQ + o, 0, (size_t)k * sizeof(float));
        if (m->bi) {
            uint32_t i = s->touched_i[a];
            adam_update(&m->bi[i], &s->gbi[i], &s->mbi[i], &s->vbi[i], 1, lr, c1, c2);
            s->gbi[i] = 0.0f;
        }
        s->flag_i[s->touched_i[a]] = 0;
    }
    if (m->kind == FL_MODEL_NN) {
        /* Dense parameters are contiguous in the block after the embeddings. */
        float *w = m->dense[0].w, *g = s->work.grad;
        float decay = 2.0f * lf / (float)(m->n_train ? m->n_train : 1);
        for (int l = 0; l < m->n_dense; l++) {
            size_t nw = (size_t)m->dense[l].n_in * m->dense[l].n_out;
            size_t off = (size_t)(m->dense[l].w - w);
            for (size_t j = 0; j < nw; j++) g[off + j] += decay * m->dense[l].w[j];
        }
        adam_update(w, g, s->md, s->vd, s->n_dense_params, lr, c1, c2);
    }
}

static fl_status adam_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    adam_state *s = t->state;
    size_t n = t->train->n_ratings, B = (size_t)t->p->batch_size;
    fl_rng_shuffle_u32(&t->rng, s->order, n);
    size_t every = n / 200 + 1, next = every;
    for (size_t at = 0; at < n && !t->cancelled; at += B) {
        int nb = (int)(n - at < B ? n - at : B);
        batch_step(t, s->order + at, nb);
        if (at + (size_t)nb >= next) {
            fl_trainer_progress(t, at + (size_t)nb, n);
            next += every;
        }
    }
    return FL_OK;
}

/* No train_mse: train.c scores the training set itself. */
const fl_solver_ops fl_adam_ops = {adam_init, adam_epoch, adam_release, NULL};
