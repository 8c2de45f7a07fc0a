/* nn.h — the neural model: user and item embeddings concatenated, dense
 * layers with ReLU (and dropout while training), one linear output.
 *
 *   x0 = [P[u] ; Q[i]]                      (2k)
 *   x_{l+1} = relu(W_l x_l + b_l)           (layers[l])
 *   z = W_L x_L + b_L + offset + bu[u] + bi[i]   (1), then squashed like mf.
 *
 * The per-user and per-item biases are not in the lesson's net; they let it
 * learn "generous user" / "good movie" directly instead of through the
 * layers, which measured 0.01 MSE better on ml-latest-small.
 *
 * Training runs a mini-batch at a time: activations are stored batch-major,
 * [B][width], so each layer is one matrix product forward and two backward. */
#ifndef FL_MODELS_NN_H
#define FL_MODELS_NN_H

#include "core/rng.h"
#include "models/model.h"

/* Single-pair inference (no dropout). */
float fl_nn_score(const fl_model *m, uint32_t u, uint32_t i);

/* Scratch space for one mini-batch of up to `batch` pairs. */
typedef struct fl_nn_work {
    int batch;
    float *act[FL_MAX_LAYERS + 2];   /* act[0] = x0 [B][2k], act[l] after layer l-1 (post ReLU/dropout) */
    unsigned char *mask[FL_MAX_LAYERS + 1]; /* dropout keep-masks for act[0..n_layers] */
    float *delta[2];                 /* backward ping-pong buffers [B][max width] */
    float *grad;                     /* gradient of the dense parameters, same layout as the layers */
    float *gx0;                      /* [B][2k] gradient w.r.t. the concatenated embeddings */
    float *wt;                       /* one layer's W transposed, [n_in][n_out] */
} fl_nn_work;

fl_status fl_nn_work_init(fl_nn_work *w, const fl_model *m, int batch, fl_error *err);
void fl_nn_work_free(fl_nn_work *w);
/* Forward pass for B pairs; writes raw scores z[B]. rng != NULL applies dropout. */
void fl_nn_forward(const fl_model *m, fl_nn_work *w, const uint32_t *u, const uint32_t *i, int B,
                   fl_rng *rng, float *z);
/* Backward pass from dL/dz[B] (after a forward on the same batch): fills
 * w->grad (dense parameters, summed over the batch) and w->gx0. */
void fl_nn_backward(const fl_model *m, fl_nn_work *w, const float *dz, int B);

#endif
