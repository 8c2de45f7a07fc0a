/* loss_simd.c — the training-loss passes' squared errors (loss_simd.h).
 *
 * ISO C: no multiply-add contraction here, as in fl_mf_dot, and the AVX2
 * build has no FMA target either, so both builds round every product and
 * every sum exactly as fl_predict_index does. On 5M ratings this pass took
 * half the SGD pass's time with the baseline 4-float dot product. */
#include "train/loss_simd.h"

#include "models/mf.h"
#include "train/trainer.h"

#include <string.h>

/* One block, with DOT(p, q, k) for the dot product, its squared errors added
 * to se one by one (so blocks in a row sum as one pass would). */
#define LOSS_BLOCK(ATTR, NAME, DOT)                                                                \
    ATTR double NAME(const fl_loss_block *b, double se) {                                          \
        const fl_model *m = b->m;                                                                  \
        const size_t stride = m->stride, row_bytes = m->n_factors * sizeof(float);                 \
        const int biased = m->kind == FL_MODEL_BIASED;                                             \
        for (size_t k = 0; k < b->n; k++) {                                                        \
            if (k + FL_LOSS_AHEAD < b->n) {                                                        \
                const char *pa = (const char *)(b->P + (size_t)b->u[k + FL_LOSS_AHEAD] * stride);  \
                const char *qa = (const char *)(b->Q + (size_t)b->i[k + FL_LOSS_AHEAD] * stride);  \
                for (size_t c = 0; c < row_bytes; c += 64)                                         \
                    __builtin_prefetch(pa + c), __builtin_prefetch(qa + c);                        \
                __builtin_prefetch(b->urow + b->u[k + FL_LOSS_AHEAD]);                             \
                __builtin_prefetch(b->irow + b->i[k + FL_LOSS_AHEAD]);                             \
            }                                                                                      \
            const uint16_t u = b->u[k], i = b->i[k];                                               \
            float z = DOT(b->P + (size_t)u * stride, b->Q + (size_t)i * stride, m->n_factors);     \
            if (biased) z += m->offset + b->urow[u].bias + b->irow[i].bias;                        \
            double e = (double)fl_model_clip(m, fl_squash(&m->params, z)) - b->r[k];               \
            se += e * e;                                                                           \
        }                                                                                          \
        return se;                                                                                 \
    }

/* Users [lo, hi) of rows, the same way: a user's row is read once for all
 * the user's ratings, the items' rows are fetched ahead. */
#define LOSS_ROWS(ATTR, NAME, DOT)                                                                 \
    ATTR double NAME(const fl_model *m, const fl_rows *rows, uint32_t lo, uint32_t hi,             \
                     double se) {                                                                  \
        const int biased = m->kind == FL_MODEL_BIASED;                                             \
        for (uint32_t u = lo; u < hi; u++) {                                                       \
            const float *p = m->P + (size_t)u * m->stride;                                         \
            const uint64_t end = rows->start[u + 1];                                               \
            for (uint64_t k = rows->start[u]; k < end; k++) {                                      \
                if (k + FL_LOSS_AHEAD < end)                                                       \
                    fl_model_prefetch(m, u, rows->col[k + FL_LOSS_AHEAD]);                         \
                const uint32_t i = rows->col[k];                                                   \
                float z = DOT(p, m->Q + (size_t)i * m->stride, m->n_factors);                      \
                if (biased) z += m->offset + m->bu[u] + m->bi[i];                                  \
                double e =                                                                         \
                    (double)fl_model_clip(m, fl_squash(&m->params, z)) - fl_rows_rating(rows, k);  \
                se += e * e;                                                                       \
            }                                                                                      \
        }                                                                                          \
        return se;                                                                                 \
    }

LOSS_BLOCK(, fl_loss_block_generic, fl_mf_dot)
LOSS_ROWS(, fl_loss_rows_generic, fl_mf_dot)

#if defined(__x86_64__)
/* fl_mf_dot with its four 4-lane accumulators as two 8-lane ones: a0|b0
 * takes factors f..f+7 of every 16, a1|b1 factors f+8..f+15, so each lane
 * adds the same products in the same order; then lo + hi lane by lane and
 * the same final pairs. */
__attribute__((target("avx2"))) static inline float dot_avx2(const float *p, const float *q,
                                                             uint32_t k) {
    typedef float v8 __attribute__((vector_size(32)));
    v8 ab0 = {0}, ab1 = {0}, x, y;
    uint32_t f = 0;
    for (; f + 16 <= k; f += 16) {
        memcpy(&x, p + f, sizeof x), memcpy(&y, q + f, sizeof y), ab0 += x * y;
        memcpy(&x, p + f + 8, sizeof x), memcpy(&y, q + f + 8, sizeof y), ab1 += x * y;
    }
    if (f + 8 <= k) {
        memcpy(&x, p + f, sizeof x), memcpy(&y, q + f, sizeof y), ab0 += x * y;
        f += 8;
    }
    const v8 lohi = ab0 + ab1; /* [a0 + a1 | b0 + b1] = [lo | hi] */
    const fl_v4f s = __builtin_shufflevector(lohi, lohi, 0, 1, 2, 3) +
                     __builtin_shufflevector(lohi, lohi, 4, 5, 6, 7);
    float z = (s[0] + s[1]) + (s[2] + s[3]);
    for (; f < k; f++) z += p[f] * q[f];
    return z;
}

LOSS_BLOCK(__attribute__((target("avx2"))), fl_loss_block_avx2, dot_avx2)
LOSS_ROWS(__attribute__((target("avx2"))), fl_loss_rows_avx2, dot_avx2)
#endif

fl_loss_kernels fl_loss_pick(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        return (fl_loss_kernels){fl_loss_block_avx2, fl_loss_rows_avx2};
#endif
    return (fl_loss_kernels){fl_loss_block_generic, fl_loss_rows_generic};
}
