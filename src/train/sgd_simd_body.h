/* sgd_simd_body.h — the SGD block loop, included by sgd_simd.c once per
 * instruction set with these macros defined:
 *   VEC      vector type (float lanes, vector_size == sizeof(VEC))
 *   LANES    floats per VEC
 *   HSUM3    function (VEC a, VEC b, VEC c, float out[3]): the lane sums of a, b, c
 *   ATTR     function attributes (target, always_inline)
 *   RUN      name of the generated function
 * The update is sgd_kernel.h's; see sgd_simd.c for the layout. No include
 * guard: it is meant to be included several times. */

ATTR void RUN(const fl_sgd_job *j, const int nv, const int biased, const int squash) {
    const float inv_k = 1.0f / (float)j->k, lr = j->lr, lf = j->reg_f, lb = j->reg_b;
    const float span = j->y_hi - j->y_lo, y_lo = j->y_lo, offset = j->offset;
    const uint32_t *const us = j->u, *const is = j->i;
    const float *const rs = j->r;
    float *const P = j->P, *const Q = j->Q;
    fl_sgd_row *const urow = j->urow, *const irow = j->irow;
    const size_t stride = (size_t)j->stride, n_ratings = j->n;
    const size_t row_bytes = (size_t)j->stride * sizeof(float);
    for (size_t n = 0; n < n_ratings; n++) {
        if (n + PREFETCH_AHEAD < n_ratings) {
            uint32_t pu = us[n + PREFETCH_AHEAD], pi = is[n + PREFETCH_AHEAD];
            const char *a = (const char *)(P + pu * stride);
            const char *b = (const char *)(Q + pi * stride);
            for (size_t c = 0; c < row_bytes; c += 64) {
                __builtin_prefetch(a + c, 1);
                __builtin_prefetch(b + c, 1);
            }
            __builtin_prefetch(&urow[pu], 1);
            __builtin_prefetch(&irow[pi], 1);
        }
        const uint32_t u = us[n], i = is[n];
        VEC *restrict p = (VEC *)(P + u * stride);
        VEC *restrict q = (VEC *)(Q + i * stride);
        fl_sgd_row *ru = &urow[u], *ri = &irow[i];
        /* Step sizes come from the sums before this rating (see
         * sgd_kernel.h), so they are ready while the dot product runs. */
        float g[4] = {ru->G, ri->G, ru->Gb, ri->Gb}, e[4];
        steps4(lr, g, e);
        /* p.q, |p|^2 and |q|^2 in one pass and one combined reduction: the
         * squared gradient norms follow from them in closed form
         * (|dz q + l p|^2 = dz^2 |q|^2 + 2 dz l p.q + l^2 |p|^2), so the
         * update loop below is only the two row updates. */
        VEC acc = {0}, pp = {0}, qq = {0};
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            acc += p[v] * q[v];
            pp += p[v] * p[v];
            qq += q[v] * q[v];
        }
        float sums[3];
        HSUM3(acc, pp, qq, sums);
        float z = sums[0];
        if (biased) z += offset + ru->bias + ri->bias;
        float yhat = z, slope = 1.0f;
        if (squash) {
            float sg = 1.0f / (1.0f + expf(-z));
            yhat = y_lo + span * sg;
            slope = span * sg * (1.0f - sg);
        }
        const float dz = (yhat - rs[n]) * slope;
        const float lu = lf * ru->share, li = lf * ri->share;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            VEC pv = p[v], qv = q[v];
            p[v] = pv - e[0] * (dz * qv + lu * pv);
            q[v] = qv - e[1] * (dz * pv + li * qv);
        }
        const float cross = 2.0f * dz * sums[0];
        const float sp = dz * dz * sums[2] + lu * cross + lu * lu * sums[1];
        const float sq = dz * dz * sums[1] + li * cross + li * li * sums[2];
        ru->G += fmaxf(sp, 0.0f) * inv_k; /* >= 0 exactly; rounding may not be */
        ri->G += fmaxf(sq, 0.0f) * inv_k;
        if (biased) {
            const float gbu = dz + lb * ru->share * ru->share * ru->bias;
            const float gbi = dz + lb * ri->share * ri->share * ri->bias;
            ru->Gb += gbu * gbu;
            ri->Gb += gbi * gbi;
            ru->bias -= e[2] * gbu;
            ri->bias -= e[3] * gbi;
        }
    }
}
