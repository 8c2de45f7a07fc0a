/* scan_index.c — building the compact scan copy of the item side, and the
 * per-user constants of its error bound (the reasoning is at
 * fl_scan_index_user). */
#include "models/scan_index.h"

#include "core/memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fl_scan_index_applies(const fl_model *m, uint32_t min_items) {
    return m->kind != FL_MODEL_NN && !fl_model_squashes(&m->params) && m->n_items >= min_items &&
           m->n_items > 0 && m->n_factors >= 1 && m->n_factors <= FL_SCAN_INDEX_MAX_FACTORS &&
           (!fl_kind_mf_biased(m->kind) || m->bi);
}

/* v rounded up to a float (never below v). */
static float float_up(double v) {
    float f = (float)v;
    if ((double)f < v) f = nextafterf(f, INFINITY);
    return f;
}

/* 1 / scale in double (0 for a zero scale, whose codes are all 0). */
static double inverse(float scale) { return scale == 0.0f ? 0.0 : 1.0 / (double)scale; }

/* The code of x at a scale of 1 / inv: the nearest integer to x / scale,
 * within [-127, 127] as |x| <= 127 * scale. In double, x * inv is off from
 * x / scale by about 2^-52 of it, far below the 0.1% the bound adds. */
static int8_t code_of(float x, double inv) {
    double c = nearbyint((double)x * inv);
    return (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
}

fl_status fl_scan_index_attach(fl_model *m, uint32_t min_items, fl_error *err) {
    (void)err;
    if (m->scan || !fl_scan_index_applies(m, min_items)) return FL_OK;
    fl_scan_index *x = calloc(1, sizeof *x);
    if (!x) return FL_OK;
    x->n_items = m->n_items;
    x->n_factors = m->n_factors;
    x->groups = (int)((m->n_factors + 3) / 4);
    x->has_bias = fl_kind_mf_biased(m->kind);
    x->block_bytes = fl_qscan_block_bytes(x->groups, x->has_bias);
    x->n_blocks = ((size_t)m->n_items + FL_QSCAN_BLOCK - 1) / FL_QSCAN_BLOCK;
    x->bytes = x->n_blocks * x->block_bytes; /* a multiple of 64 */
    /* An index that would not fit is left out, not an error: the search
     * falls back to the float scan, with the same results. */
    fl_error ignored;
    if (fl_memory_check((double)x->bytes, "the scan index", &ignored) != FL_OK ||
        !(x->blocks = aligned_alloc(64, x->bytes))) {
        free(x);
        return FL_OK;
    }
    memset(x->blocks, 0, x->bytes); /* padding codes and the last block's spare items: 0 */
    for (uint32_t i = 0; i < m->n_items; i++) {
        unsigned char *blk = x->blocks + (size_t)(i / FL_QSCAN_BLOCK) * x->block_bytes;
        const uint32_t j = i % FL_QSCAN_BLOCK;
        const float *q = m->Q + (size_t)i * m->stride;
        float mx = 0.0f;
        for (uint32_t f = 0; f < m->n_factors; f++) mx = fmaxf(mx, fabsf(q[f]));
        const float scale = float_up((double)mx / 127.0);
        const double inv = inverse(scale);
        for (uint32_t f = 0; f < m->n_factors; f++)
            blk[(f / 4) * 64 + j * 4 + f % 4] = (unsigned char)code_of(q[f], inv);
        float *scales = (float *)(void *)(blk + (size_t)x->groups * 64);
        scales[j] = scale;
        if (x->has_bias) scales[FL_QSCAN_BLOCK + j] = m->bi[i];
        x->max_abs_q = fmax(x->max_abs_q, mx);
        if (x->has_bias) x->max_abs_bias = fmax(x->max_abs_bias, fabsf(m->bi[i]));
    }
    m->scan = x;
    return FL_OK;
}

void fl_scan_index_free(fl_scan_index *x) {
    if (!x) return;
    free(x->blocks);
    free(x);
}

/* The bound. Write p for the user's row, q for an item's, s for the item's
 * scale, c_f = round(q_f / s) for its codes (|q_f - s c_f| <= s/2, and
 * max |q_f| <= 127 s), su and e_f for the user's scale and codes, p^ = su e,
 * r = p - p^, b for the item's bias and up for the user's constant part.
 * The exact score the float scan computes is
 *     z = fl(fl(p.q) + fl(up + b))
 * and the kernel computes, from the integer d = e.c,
 *     a = fl(fl(d * fl(su * s)) + fl(up + b)),   exactly p^.(s c) + up + b but for roundings.
 * In real numbers
 *     p.q - p^.(s c) = r.q + p^.(q - s c),  so  |.| <= 127 s |r|_1 + s |p^|_1 / 2.
 * Rounding (unit u = 2^-24, no fused operations): a dot product of k terms
 * in any order is within gamma_k = k u / (1 - k u) of its sum of absolute
 * terms (Higham), so
 *     |z - (p.q + up + b)| <= gamma_(k+2) (127 s |p|_1 + |up| + |b|)
 *     |a - (p^.(s c) + up + b)| <= gamma_4 (127 s |p^|_1 + |up| + |b|)
 * and with that, z <= a + M for
 *     M = s A + |b| B + K,
 *     A = 127 |r|_1 + |p^|_1 / 2 + 127 (g1 |p|_1 + g2 |p^|_1),   B = g1 + g2,
 *     K = (g1 + g2) |up| + an absolute term for underflow,
 * g1 = gamma_(k+8) and g2 = gamma_8: a few u more than the roundings above
 * need, for the roundings of M, of a + M and of the comparison, and all of
 * it times 1.001 for the roundings of the constants themselves. Underflow
 * (subnormal scales or factors) breaks the relative model: each operation
 * is then off by at most 2^-150 absolutely, and the d-fold product by at most
 * |d| 2^-150 <= 127^2 k 2^-150; K adds twice the sum of all of them.
 * Overflow is ruled out up front: every partial sum is at most
 * |p|_1 max|q| + |up| + max|b|, required below 2^100. */
int fl_scan_index_user(const fl_scan_index *x, const float *p, float user_part, int8_t *codes,
                       fl_qscan *q) {
    const uint32_t k = x->n_factors;
    if (!isfinite(user_part)) return 0;
    double mx = 0.0, p1 = 0.0;
    for (uint32_t f = 0; f < k; f++) {
        if (!isfinite(p[f])) return 0;
        p1 += fabs(p[f]);
        mx = fmax(mx, fabs(p[f]));
    }
    if (!(p1 * x->max_abs_q + fabs(user_part) + x->max_abs_bias < 0x1p100)) return 0;
    const float su = float_up(mx / 127.0);
    const double inv = inverse(su);
    memset(codes, 0, (size_t)x->groups * 4);
    double r1 = 0.0, e1 = 0.0;
    int32_t sum = 0;
    for (uint32_t f = 0; f < k; f++) {
        codes[f] = code_of(p[f], inv);
        sum += codes[f];
        /* Exact in double: p_f and su e_f are floats times small integers
         * within su/2 of each other. */
        r1 += fabs((double)p[f] - (double)su * codes[f]);
        e1 += abs(codes[f]);
    }
    const double ph1 = (double)su * e1;
    const double u = 0x1p-24, g1 = (k + 8) * u * 1.01, g2 = 8 * u * 1.01, slack = 1.001;
    const double A = (127.0 * r1 + 0.5 * ph1 + 127.0 * (g1 * p1 + g2 * ph1)) * slack;
    const double B = (g1 + g2) * slack;
    const double K = (g1 + g2) * fabs((double)user_part) * slack +
                     2.0 * (127.0 * 127.0 * k + 4.0 * k + 64.0) * 0x1p-150;
    *q = (fl_qscan){x->blocks, x->block_bytes, x->groups, x->has_bias, codes, sum,
                    su,        user_part,      float_up(A), float_up(B), float_up(K)};
    return 1;
}

size_t fl_model_scan_index_bytes(const fl_model *m) { return m->scan ? m->scan->bytes : 0; }
