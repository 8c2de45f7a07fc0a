/* nn.c — forward and backward passes of the neural model (see nn.h).
 *
 * Activations are batch-major [B][width] so every layer is one matrix
 * product (core/linalg.h); the hidden layers are small (tens to hundreds
 * wide), so the batch dimension is what gives the product enough work. Dropout is "inverted": kept units are scaled
 * by 1/(1-p) at training time so inference needs no rescaling. */
#include "models/nn.h"

#include "core/error.h"
#include "core/linalg.h"

#include <stdlib.h>
#include <string.h>

static int max_width(const fl_model *m) {
    int w = 2 * (int)m->n_factors;
    for (int l = 0; l < m->n_dense; l++)
        if (m->dense[l].n_out > w) w = m->dense[l].n_out;
    return w;
}

float fl_nn_score(const fl_model *m, uint32_t u, uint32_t i) {
    /* Plain loops: one pair is too small for a batched product to pay off. */
    float buf[2][4096 * 2];
    const int k = (int)m->n_factors;
    float *x = buf[0], *y = buf[1];
    memcpy(x, m->P + (size_t)u * m->stride, (size_t)k * sizeof *x);
    memcpy(x + k, m->Q + (size_t)i * m->stride, (size_t)k * sizeof *x);
    for (int l = 0; l < m->n_dense; l++) {
        const fl_dense *d = &m->dense[l];
        int last = l == m->n_dense - 1;
        for (int o = 0; o < d->n_out; o++) {
            const float *w = d->w + (size_t)o * d->n_in;
            float s = d->b[o] + fl_dot(w, x, d->n_in);
            y[o] = (!last && s < 0.0f) ? 0.0f : s;
        }
        float *t = x;
        x = y, y = t;
    }
    return x[0] + m->offset + m->bu[u] + m->bi[i];
}

fl_status fl_nn_work_init(fl_nn_work *w, const fl_model *m, int batch, fl_error *err) {
    memset(w, 0, sizeof *w);
    w->batch = batch;
    size_t B = (size_t)batch;
    int ok = 1;
    w->act[0] = malloc(B * 2 * m->n_factors * sizeof(float));
    ok &= w->act[0] != NULL;
    for (int l = 0; l < m->n_dense; l++) {
        w->act[l + 1] = malloc(B * (size_t)m->dense[l].n_out * sizeof(float));
        ok &= w->act[l + 1] != NULL;
    }
    for (int l = 0; l < m->n_dense; l++) {
        w->mask[l] = malloc(B * (size_t)m->dense[l].n_in);
        ok &= w->mask[l] != NULL;
    }
    size_t mw = (size_t)max_width(m);
    w->delta[0] = malloc(B * mw * sizeof(float));
    w->delta[1] = malloc(B * mw * sizeof(float));
    size_t ng = 0;
    for (int l = 0; l < m->n_dense; l++)
        ng += (size_t)m->dense[l].n_in * m->dense[l].n_out + m->dense[l].n_out;
    w->grad = malloc((ng ? ng : 1) * sizeof(float));
    w->gx0 = malloc(B * 2 * m->n_factors * sizeof(float));
    size_t nt = 1;
    for (int l = 0; l < m->n_dense; l++)
        if ((size_t)m->dense[l].n_in * m->dense[l].n_out > nt) nt = (size_t)m->dense[l].n_in * m->dense[l].n_out;
    w->wt = malloc(nt * sizeof(float));
    ok &= w->delta[0] && w->delta[1] && w->grad && w->gx0 && w->wt;
    if (!ok) {
        fl_nn_work_free(w);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the network's batch buffers");
    }
    return FL_OK;
}

void fl_nn_work_free(fl_nn_work *w) {
    for (int l = 0; l < FL_MAX_LAYERS + 2; l++) free(w->act[l]);
    for (int l = 0; l < FL_MAX_LAYERS + 1; l++) free(w->mask[l]);
    free(w->delta[0]), free(w->delta[1]), free(w->grad), free(w->gx0), free(w->wt);
    memset(w, 0, sizeof *w);
}

/* Zeroes units of x [n] with probability p and scales the rest by 1/(1-p),
 * remembering which were kept for the backward pass. */
static void dropout(float *x, unsigned char *mask, size_t n, float p, fl_rng *rng) {
    if (!rng || p <= 0.0f) {
        memset(mask, 1, n);
        return;
    }
    float scale = 1.0f / (1.0f - p);
    for (size_t j = 0; j < n; j++) {
        mask[j] = fl_rng_uniform(rng) >= p;
        x[j] = mask[j] ? x[j] * scale : 0.0f;
    }
}

void fl_nn_forward(const fl_model *m, fl_nn_work *w, const uint32_t *u, const uint32_t *i, int B,
                   fl_rng *rng, float *z) {
    const int k = (int)m->n_factors;
    float *x0 = w->act[0];
    for (int b = 0; b < B; b++) {
        memcpy(x0 + (size_t)b * 2 * k, m->P + (size_t)u[b] * m->stride, (size_t)k * sizeof(float));
        memcpy(x0 + (size_t)b * 2 * k + k, m->Q + (size_t)i[b] * m->stride, (size_t)k * sizeof(float));
    }
    for (int l = 0; l < m->n_dense; l++) {
        const fl_dense *d = &m->dense[l];
        float *in = w->act[l], *out = w->act[l + 1];
        dropout(in, w->mask[l], (size_t)B * d->n_in, m->params.dropout[l], rng);
        /* out[B][n_out] = in[B][n_in] * W^T, with W^T laid out once per
         * batch so the product runs along contiguous rows. */
        for (int o = 0; o < d->n_out; o++)
            for (int j = 0; j < d->n_in; j++) w->wt[(size_t)j * d->n_out + o] = d->w[(size_t)o * d->n_in + j];
        fl_matmul(B, d->n_out, d->n_in, in, (size_t)d->n_in, 1, w->wt, (size_t)d->n_out, out,
                  (size_t)d->n_out);
        int last = l == m->n_dense - 1;
        for (int b = 0; b < B; b++) {
            float *row = out + (size_t)b * d->n_out;
            for (int o = 0; o < d->n_out; o++) {
                float s = row[o] + d->b[o];
                row[o] = (!last && s < 0.0f) ? 0.0f : s;
            }
        }
    }
    const float *y = w->act[m->n_dense];
    for (int b = 0; b < B; b++) z[b] = y[b] + m->offset + m->bu[u[b]] + m->bi[i[b]];
}

void fl_nn_backward(const fl_model *m, fl_nn_work *w, const float *dz, int B) {
    /* Gradient slots follow the layers' order in the parameter block. */
    float *gw[FL_MAX_LAYERS + 1], *gb[FL_MAX_LAYERS + 1];
    float *g = w->grad;
    for (int l = 0; l < m->n_dense; l++) {
        gw[l] = g, g += (size_t)m->dense[l].n_in * m->dense[l].n_out;
        gb[l] = g, g += m->dense[l].n_out;
    }
    float *delta = w->delta[0], *prev = w->delta[1];
    memcpy(delta, dz, (size_t)B * sizeof *delta);
    for (int l = m->n_dense - 1; l >= 0; l--) {
        const fl_dense *d = &m->dense[l];
        const float *in = w->act[l];
        /* gW[n_out][n_in] = delta^T [n_out][B] * in [B][n_in] */
        fl_matmul(d->n_out, d->n_in, B, delta, 1, (size_t)d->n_out, in, (size_t)d->n_in, gw[l],
                  (size_t)d->n_in);
        for (int o = 0; o < d->n_out; o++) gb[l][o] = 0.0f;
        for (int b = 0; b < B; b++)
            for (int o = 0; o < d->n_out; o++) gb[l][o] += delta[(size_t)b * d->n_out + o];
        float *dst = l == 0 ? w->gx0 : prev;
        /* dIn[B][n_in] = delta[B][n_out] * W[n_out][n_in] */
        fl_matmul(B, d->n_in, d->n_out, delta, (size_t)d->n_out, 1, d->w, (size_t)d->n_in, dst,
                  (size_t)d->n_in);
        /* Through the dropout on this layer's input, and (for hidden inputs)
         * the ReLU that produced it: in > 0 exactly where the unit was active
         * and kept. */
        float scale = 1.0f / (1.0f - m->params.dropout[l]);
        size_t n = (size_t)B * d->n_in;
        const unsigned char *mask = w->mask[l];
        if (l > 0) {
            for (size_t j = 0; j < n; j++) dst[j] = in[j] > 0.0f ? dst[j] * scale : 0.0f;
        } else if (m->params.dropout[0] > 0.0f) {
            for (size_t j = 0; j < n; j++) dst[j] = mask[j] ? dst[j] * scale : 0.0f;
        }
        float *t = delta;
        delta = prev, prev = t;
    }
}
