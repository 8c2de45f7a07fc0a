/* init.c — the starting parameters (init.h). */
#include "train/init.h"

#include <math.h>

void fl_init_row(float *row, int k, float std, uint64_t base, uint64_t r) {
    fl_rng rng;
    fl_rng_seed(&rng, base ^ (0x9e3779b97f4a7c15ull * (r + 1)));
    for (int f = 0; f < k; f++) row[f] = (float)(std * fl_rng_normal(&rng));
}

typedef struct init_rows {
    fl_model *m;
    float std;
    uint64_t base;
} init_rows;

/* Rows are drawn in this many fixed ranges (any split gives the same values). */
enum { INIT_TASKS = 64 };

static void init_range(void *ctx, int task, int thread) {
    (void)thread;
    const init_rows *ir = ctx;
    fl_model *m = ir->m;
    const uint64_t rows = (uint64_t)m->n_users + m->n_items;
    for (uint64_t r = rows * (uint64_t)task / INIT_TASKS; r < rows * (uint64_t)(task + 1) / INIT_TASKS; r++) {
        float *row = r < m->n_users ? m->P + r * m->stride : m->Q + (r - m->n_users) * m->stride;
        fl_init_row(row, (int)m->n_factors, ir->std, ir->base, r);
    }
}

void fl_init_params(fl_model *m, const fl_params *p, float mean, fl_rng *rng, fl_pool *pool) {
    init_rows ir = {m, p->init_std, fl_rng_next(rng)};
    if (pool)
        fl_pool_run(pool, INIT_TASKS, init_range, &ir);
    else
        for (int t = 0; t < INIT_TASKS; t++) init_range(&ir, t, 0);
    m->offset = 0.0f;
    if (fl_kind_has_bias(m->kind)) {
        float target = mean;
        if (fl_model_squashes(p)) {
            float s = (mean - p->y_lo) / (p->y_hi - p->y_lo);
            if (s < 0.01f) s = 0.01f;
            if (s > 0.99f) s = 0.99f;
            target = logf(s / (1.0f - s));
        }
        m->offset = target;
    }
    /* Dense layers: He-uniform for ReLU layers, so activations keep their
     * scale through the stack; the output layer starts near zero. */
    for (int l = 0; l < m->n_dense; l++) {
        fl_dense *d = &m->dense[l];
        int last = l == m->n_dense - 1;
        float a = last ? 0.01f : sqrtf(6.0f / (float)d->n_in);
        for (size_t j = 0; j < (size_t)d->n_in * d->n_out; j++)
            d->w[j] = (float)((2.0 * fl_rng_uniform(rng) - 1.0) * a);
        for (int o = 0; o < d->n_out; o++) d->b[o] = 0.0f;
    }
}

uint64_t fl_init_draws(const fl_model *m) {
    uint64_t n = 1; /* the rows' base */
    for (int l = 0; l < m->n_dense; l++) n += (uint64_t)m->dense[l].n_in * m->dense[l].n_out;
    return n;
}
