/* sgd_simd_body.h — the SGD block loop, included by sgd_simd.c once per
 * instruction set with VEC, PART, FOLD3, FINISH4, optionally REDUCE12 (see
 * there), ATTR (function attributes: target, always_inline) and the names
 * GROUP and RUN of the generated functions defined. The update is
 * sgd_kernel.h's. No include guard: it is meant to be included several
 * times. */

/* m ratings (1, or 4 with four different users and four different items):
 * the per-rating scalars run four to a vector, one lane per rating, with the
 * row records transposed into it. Four such ratings touch disjoint memory,
 * so doing them together is exactly doing them in turn, and it is where one
 * rating at a time spent most of its instructions. A lone rating runs the
 * same code with its record in every lane, so both paths give the same
 * bits. Step sizes come from the sums before the rating (see
 * sgd_kernel.h), so they are ready while the dot products run. */
ATTR void GROUP(const fl_sgd_job *j, const int nv, const int biased, const int squash, const int m,
                size_t n, const float inv_k) {
    const float lr = j->lr, lf = j->reg_f, lb = j->reg_b;
    const size_t stride = (size_t)nv * (sizeof(VEC) / sizeof(float)); /* == j->stride */
    VEC *restrict p[4], *restrict q[4];
    fl_sgd_row *ru[4], *ri[4];
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        const size_t at = n + (l < m ? l : 0);
        const uint32_t u = j->u[at], i = j->i[at];
        p[l] = (VEC *)(j->P + u * stride);
        q[l] = (VEC *)(j->Q + i * stride);
        ru[l] = &j->urow[u], ri[l] = &j->irow[i];
    }
    v4 ub, uG, uGb, us, ib, iG, iGb, is;
    rows4_load(ru, &ub, &uG, &uGb, &us);
    rows4_load(ri, &ib, &iG, &iGb, &is);
    const v4 eu = lr / sqrt4(uG), ei = lr / sqrt4(iG);
    /* p.q, |p|^2 and |q|^2 in one pass and one combined reduction: the
     * squared gradient norms follow from them in closed form
     * (|dz q + l p|^2 = dz^2 |q|^2 + 2 dz l p.q + l^2 |p|^2), so the
     * update loop below is only the two row updates. */
    VEC sums[4][3];
#pragma GCC unroll 4
    for (int l = 0; l < m; l++) {
        VEC acc = {0}, pp = {0}, qq = {0};
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            acc += p[l][v] * q[l][v];
            pp += p[l][v] * p[l][v];
            qq += q[l][v] * q[l][v];
        }
        sums[l][0] = acc, sums[l][1] = pp, sums[l][2] = qq;
    }
    v4 s[3];
    if (m == 4) {
#ifdef REDUCE12
        REDUCE12(sums, s);
#else
        FINISH4(FOLD3(sums[0][0], sums[0][1], sums[0][2]), FOLD3(sums[1][0], sums[1][1], sums[1][2]),
                FOLD3(sums[2][0], sums[2][1], sums[2][2]), FOLD3(sums[3][0], sums[3][1], sums[3][2]), s);
#endif
    } else {
        PART part = FOLD3(sums[0][0], sums[0][1], sums[0][2]);
        FINISH4(part, part, part, part, s);
    }
    v4 z = s[0];
    if (biased) z += j->offset + ub + ib;
    v4 yhat = z, slope = {1.0f, 1.0f, 1.0f, 1.0f};
    if (squash) {
        const float span = j->y_hi - j->y_lo;
        for (int l = 0; l < 4; l++) {
            float sg = 1.0f / (1.0f + expf(-z[l]));
            yhat[l] = j->y_lo + span * sg;
            slope[l] = span * sg * (1.0f - sg);
        }
    }
    v4 r;
    if (m == 4) memcpy(&r, j->r + n, sizeof r);
    else r = (v4){j->r[n], j->r[n], j->r[n], j->r[n]};
    const v4 dz = (yhat - r) * slope;
    const v4 lu = lf * us, li = lf * is;
    /* The row updates of sgd_kernel.h, p - eu (dz q + lu p), regrouped as
     * (1 - eu lu) p - (eu dz) q: two vector operations per row vector
     * instead of three (on the kernel alone, bench/kernel_ab.sh: median
     * 1.04x at k = 32, 1.10x at k = 128; the rounding differs, ml-100k's
     * five test RMSEs move by ~1e-9). The four
     * coefficients go through memory on purpose: a broadcast from memory is
     * a load, while one from a register lane takes the shuffle port the sums
     * and the record transposes already keep busy. */
    v4 coef[4] = {1.0f - eu * lu, eu * dz, 1.0f - ei * li, ei * dz};
    __asm__("" : "+m"(coef)); /* keeps the compiler from turning them back into lane shuffles */
    const float *cf = (const float *)coef;
#pragma GCC unroll 4
    for (int l = 0; l < m; l++) {
        const float au = cf[l], bu = cf[4 + l], ai = cf[8 + l], bi = cf[12 + l];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            VEC pv = p[l][v], qv = q[l][v];
            p[l][v] = au * pv - bu * qv;
            q[l][v] = ai * qv - bi * pv;
        }
    }
    const v4 cross = 2.0f * dz * s[0];
    const v4 sp = dz * dz * s[2] + lu * cross + lu * lu * s[1];
    const v4 sq = dz * dz * s[1] + li * cross + li * li * s[2];
    uG += positive4(sp) * inv_k; /* >= 0 exactly; rounding may not be */
    iG += positive4(sq) * inv_k;
    if (biased) {
        const v4 ebu = lr / sqrt4(uGb), ebi = lr / sqrt4(iGb);
        const v4 gbu = dz + lb * us * us * ub;
        const v4 gbi = dz + lb * is * is * ib;
        uGb += gbu * gbu;
        iGb += gbi * gbi;
        ub -= ebu * gbu;
        ib -= ebi * gbi;
    }
    rows4_store(ru, ub, uG, uGb, us);
    rows4_store(ri, ib, iG, iGb, is);
}

ATTR void RUN(const fl_sgd_job *job, const int nv, const int biased, const int squash) {
    /* A private copy: the row stores below cannot alias it, so its fields
     * stay in registers instead of being reloaded after every update. */
    const fl_sgd_job copy = *job, *const j = &copy;
    const float inv_k = 1.0f / (float)j->k;
    const uint16_t *const us = j->u, *const is = j->i;
    const size_t stride = (size_t)nv * (sizeof(VEC) / sizeof(float)), n_ratings = j->n;
    const size_t row_bytes = (size_t)nv * sizeof(VEC);
    size_t pf = 0;
    for (size_t n = 0; n < n_ratings;) {
        /* Rows are random within a block: fetch them a few ratings ahead
         * (for writing, where ATTR has prfchw: see sgd_simd.c). */
        const size_t until = n + PREFETCH_AHEAD + 4 < n_ratings ? n + PREFETCH_AHEAD + 4 : n_ratings;
        for (; pf < until; pf++) {
            const char *a = (const char *)(j->P + us[pf] * stride);
            const char *b = (const char *)(j->Q + is[pf] * stride);
            for (size_t c = 0; c < row_bytes; c += 64) {
                __builtin_prefetch(a + c, 1);
                __builtin_prefetch(b + c, 1);
            }
            __builtin_prefetch(&j->urow[us[pf]], 1);
            __builtin_prefetch(&j->irow[is[pf]], 1);
        }
        if (n + 4 <= n_ratings && distinct4(us + n, is + n)) {
            GROUP(j, nv, biased, squash, 4, n, inv_k);
            n += 4;
        } else {
            GROUP(j, nv, biased, squash, 1, n, inv_k);
            n += 1;
        }
    }
}
