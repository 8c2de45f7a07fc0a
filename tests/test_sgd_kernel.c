/* test_sgd_kernel.c — every compiled SGD kernel (generic, AVX2+FMA with and
 * without PREFETCHW, AVX-512, as far as this CPU runs them) against the
 * scalar reference fl_sgd_step, update by update, for factor counts that
 * fill, half-fill and straddle the vector width, with and without biases and
 * squashing; each kernel's grouped path (four ratings at once) against its
 * one-at-a-time path, bit for bit; and the training-loss pass's builds
 * against the prediction formula, bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/rng.h"
#include "models/mf.h"
#include "models/model.h"
#include "train/sgd_kernel.h"
#include "train/loss_simd.h"
#include "train/sgd_simd.h"
#include "cpu_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NU = 37, NI = 23, NR = 600 };

typedef struct problem {
    int k, stride;
    float *P, *Q, bu[NU], bi[NI];
    uint16_t u[NR], i[NR]; /* row numbers, as in a block */
    float r[NR];
    uint32_t nu_count[NU], ni_count[NI];
} problem;

static void make(problem *pb, int k, uint64_t seed) {
    fl_rng rng;
    fl_rng_seed(&rng, seed);
    pb->k = k;
    pb->stride = (k + 15) / 16 * 16;
    pb->P = aligned_alloc(64, sizeof(float) * NU * pb->stride);
    pb->Q = aligned_alloc(64, sizeof(float) * NI * pb->stride);
    memset(pb->P, 0, sizeof(float) * NU * pb->stride);
    memset(pb->Q, 0, sizeof(float) * NI * pb->stride);
    for (int u = 0; u < NU; u++)
        for (int f = 0; f < k; f++) pb->P[u * pb->stride + f] = (float)(0.3 * fl_rng_normal(&rng));
    for (int i = 0; i < NI; i++)
        for (int f = 0; f < k; f++) pb->Q[i * pb->stride + f] = (float)(0.3 * fl_rng_normal(&rng));
    for (int u = 0; u < NU; u++) pb->bu[u] = (float)(0.2 * fl_rng_normal(&rng)), pb->nu_count[u] = 0;
    for (int i = 0; i < NI; i++) pb->bi[i] = (float)(0.2 * fl_rng_normal(&rng)), pb->ni_count[i] = 0;
    for (int n = 0; n < NR; n++) {
        pb->u[n] = (uint16_t)fl_rng_below(&rng, NU);
        pb->i[n] = (uint16_t)fl_rng_below(&rng, NI);
        pb->r[n] = 1.0f + (float)fl_rng_below(&rng, 9) * 0.5f;
        pb->nu_count[pb->u[n]]++, pb->ni_count[pb->i[n]]++;
    }
}

static float share(uint32_t c) { return 1.0f / sqrtf(c ? (float)c : 1.0f); }

/* The reference: fl_sgd_step over the ratings in order, on a model view. */
static void reference(problem *pb, int biased, float y_lo, float y_hi, float *P, float *Q,
                      float *bu, float *bi) {
    fl_model m;
    memset(&m, 0, sizeof m);
    m.kind = biased ? FL_MODEL_BIASED : FL_MODEL_DOT;
    m.n_users = NU, m.n_items = NI, m.n_factors = (uint32_t)pb->k, m.stride = (uint32_t)pb->stride;
    m.P = P, m.Q = Q, m.bu = bu, m.bi = bi, m.offset = 3.5f;
    fl_params hp;
    fl_params_default(&hp, m.kind);
    hp.y_lo = y_lo, hp.y_hi = y_hi;
    float gu[NU], gi[NI], gbu[NU], gbi[NI], fu[NU], fi[NI], sbu[NU], sbi[NI];
    for (int u = 0; u < NU; u++) gu[u] = gbu[u] = 1.0f, fu[u] = share(pb->nu_count[u]), sbu[u] = fu[u] * fu[u];
    for (int i = 0; i < NI; i++) gi[i] = gbi[i] = 1.0f, fi[i] = share(pb->ni_count[i]), sbi[i] = fi[i] * fi[i];
    fl_reg_shares reg = {fu, fi, sbu, sbi};
    fl_sgd_rows rows = {gu, gi, gbu, gbi, &reg};
    for (int n = 0; n < NR; n++) fl_sgd_step(&m, &hp, &rows, pb->u[n], pb->i[n], pb->r[n], 0.05f);
}

static void check_close(const float *a, const float *b, size_t n, const char *what) {
    for (size_t k = 0; k < n; k++)
        if (!(fabsf(a[k] - b[k]) <= 2e-5f + 2e-4f * fabsf(b[k])))
            fail_msg("%s[%zu]: kernel %.7g, reference %.7g", what, k, (double)a[k], (double)b[k]);
}

static void compare(fl_sgd_kernel kernel, const char *name, int k, int biased, float y_lo,
                    float y_hi) {
    problem pb;
    make(&pb, k, 1234 + (uint64_t)k);
    size_t np = (size_t)NU * pb.stride, nq = (size_t)NI * pb.stride;
    float *rP = aligned_alloc(64, np * 4), *rQ = aligned_alloc(64, nq * 4);
    memcpy(rP, pb.P, np * 4), memcpy(rQ, pb.Q, nq * 4);
    float rbu[NU], rbi[NI];
    memcpy(rbu, pb.bu, sizeof rbu), memcpy(rbi, pb.bi, sizeof rbi);
    reference(&pb, biased, y_lo, y_hi, rP, rQ, rbu, rbi);

    fl_params hp;
    fl_params_default(&hp, biased ? FL_MODEL_BIASED : FL_MODEL_DOT);
    fl_sgd_row urow[NU], irow[NI];
    for (int u = 0; u < NU; u++) urow[u] = (fl_sgd_row){pb.bu[u], 1.0f, 1.0f, share(pb.nu_count[u])};
    for (int i = 0; i < NI; i++) irow[i] = (fl_sgd_row){pb.bi[i], 1.0f, 1.0f, share(pb.ni_count[i])};
    fl_sgd_job j = {.P = pb.P, .Q = pb.Q, .stride = pb.stride, .k = k, .urow = urow, .irow = irow,
                    .u = pb.u, .i = pb.i, .r = pb.r, .n = NR, .offset = 3.5f, .lr = 0.05f,
                    .reg_f = hp.reg_factors, .reg_b = hp.reg_bias, .biased = biased,
                    .y_lo = y_lo, .y_hi = y_hi};
    kernel(&j);
    char what[64];
    snprintf(what, sizeof what, "%s k=%d P", name, k);
    check_close(pb.P, rP, np, what);
    snprintf(what, sizeof what, "%s k=%d Q", name, k);
    check_close(pb.Q, rQ, nq, what);
    if (biased) {
        float bu[NU], bi[NI];
        for (int u = 0; u < NU; u++) bu[u] = urow[u].bias;
        for (int i = 0; i < NI; i++) bi[i] = irow[i].bias;
        check_close(bu, rbu, NU, "bu");
        check_close(bi, rbi, NI, "bi");
    }
    /* Padding stays zero: a row never reads garbage past its k factors. */
    for (int u = 0; u < NU; u++)
        for (int f = k; f < pb.stride; f++) assert_true(pb.P[u * pb.stride + f] == 0.0f);
    /* And the run changed something (a kernel that does nothing fails). */
    problem fresh;
    make(&fresh, k, 1234 + (uint64_t)k);
    assert_true(memcmp(fresh.P, pb.P, np * 4) != 0);

    /* Ratings go four at a time when their users and items differ, else
     * alone: both ways must give the same bits. Fed one rating per call,
     * the kernel can only take them alone; the run above grouped some. */
    int groups = 0;
    for (int n = 0; n + 4 <= NR; n++) {
        int distinct = 1;
        for (int a = n; a < n + 4; a++)
            for (int b = a + 1; b < n + 4; b++)
                if (pb.u[a] == pb.u[b] || pb.i[a] == pb.i[b]) distinct = 0;
        groups += distinct;
    }
    assert_true(groups > NR / 10);
    fl_sgd_row urow1[NU], irow1[NI];
    for (int u = 0; u < NU; u++) urow1[u] = (fl_sgd_row){fresh.bu[u], 1.0f, 1.0f, share(fresh.nu_count[u])};
    for (int i = 0; i < NI; i++) irow1[i] = (fl_sgd_row){fresh.bi[i], 1.0f, 1.0f, share(fresh.ni_count[i])};
    fl_sgd_job one = j;
    one.P = fresh.P, one.Q = fresh.Q, one.urow = urow1, one.irow = irow1, one.n = 1;
    for (int n = 0; n < NR; n++) {
        one.u = fresh.u + n, one.i = fresh.i + n, one.r = fresh.r + n;
        kernel(&one);
    }
    if (memcmp(fresh.P, pb.P, np * 4) || memcmp(fresh.Q, pb.Q, nq * 4) ||
        memcmp(urow1, urow, sizeof urow) || memcmp(irow1, irow, sizeof irow))
        fail_msg("%s k=%d: grouped and one-at-a-time updates differ", name, k);
    free(fresh.P), free(fresh.Q), free(pb.P), free(pb.Q), free(rP), free(rQ);
}

static void run_all(fl_sgd_kernel kernel, const char *name) {
    const int ks[] = {1, 5, 8, 16, 32, 50, 64, 100};
    for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
        compare(kernel, name, ks[c], 1, 0.0f, 0.0f);
        compare(kernel, name, ks[c], 0, 0.0f, 0.0f);
        compare(kernel, name, ks[c], 1, 0.0f, 5.5f);
    }
}

static void test_generic(void **state) {
    (void)state;
    run_all(fl_sgd_kernel_generic, "generic");
}

/* kernel_*: run only on a CPU that has their features (cpu_kernels.h). */
static void kernel_avx2(void **state) {
    (void)state;
    run_all(fl_sgd_kernel_avx2, "avx2");
}

/* The PREFETCHW build: right, and the same bits as the plain AVX2 one (a
 * prefetch hint must not change a result). */
static void same_bits(fl_sgd_kernel a, fl_sgd_kernel b, const char *name) {
    const int ks[] = {8, 32, 50};
    for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
        problem x, y;
        make(&x, ks[c], 99), make(&y, ks[c], 99);
        fl_sgd_row ux[NU], ix[NI], uy[NU], iy[NI];
        for (int u = 0; u < NU; u++) ux[u] = uy[u] = (fl_sgd_row){x.bu[u], 1.0f, 1.0f, share(x.nu_count[u])};
        for (int i = 0; i < NI; i++) ix[i] = iy[i] = (fl_sgd_row){x.bi[i], 1.0f, 1.0f, share(x.ni_count[i])};
        fl_sgd_job j = {.P = x.P, .Q = x.Q, .stride = x.stride, .k = ks[c], .urow = ux, .irow = ix,
                        .u = x.u, .i = x.i, .r = x.r, .n = NR, .offset = 3.5f, .lr = 0.05f,
                        .reg_f = 0.05f, .reg_b = 0.01f, .biased = 1};
        a(&j);
        j.P = y.P, j.Q = y.Q, j.urow = uy, j.irow = iy;
        b(&j);
        size_t np = (size_t)NU * x.stride, nq = (size_t)NI * x.stride;
        if (memcmp(x.P, y.P, np * 4) || memcmp(x.Q, y.Q, nq * 4) || memcmp(ux, uy, sizeof ux) ||
            memcmp(ix, iy, sizeof ix))
            fail_msg("%s k=%d: not the same bits as the plain build", name, ks[c]);
        free(x.P), free(x.Q), free(y.P), free(y.Q);
    }
}

static void kernel_avx2_prefetchw(void **state) {
    (void)state;
    run_all(fl_sgd_kernel_avx2w, "avx2w");
    same_bits(fl_sgd_kernel_avx2, fl_sgd_kernel_avx2w, "avx2w");
}

static void kernel_avx512(void **state) {
    (void)state;
    run_all(fl_sgd_kernel_avx512, "avx512");
}

/* The training-loss passes (loss_simd.c), SGD's over a block and ALS's over
 * ratings by user: each build equals the prediction path (fl_mf_dot, biases,
 * squash, clip; fl_predict_index), bit for bit, for k that fill, half-fill
 * and straddle 8 and 16 lanes. */
static void loss_passes(int avx2) {
    const int ks[] = {1, 5, 8, 15, 16, 17, 31, 32, 33, 50, 64, 100, 128};
    for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++)
        for (int squash = 0; squash < 2; squash++) {
            problem pb;
            make(&pb, ks[c], 77 + (uint64_t)c);
            fl_model m;
            memset(&m, 0, sizeof m);
            m.kind = FL_MODEL_BIASED, m.offset = 3.5f;
            m.n_factors = (uint32_t)pb.k, m.stride = (uint32_t)pb.stride;
            m.rating_lo = 1.0f, m.rating_hi = 5.0f;
            if (squash) m.params.y_lo = 0.5f, m.params.y_hi = 5.5f;
            fl_sgd_row urow[NU], irow[NI];
            for (int u = 0; u < NU; u++) urow[u] = (fl_sgd_row){pb.bu[u], 1.0f, 1.0f, 1.0f};
            for (int i = 0; i < NI; i++) irow[i] = (fl_sgd_row){pb.bi[i], 1.0f, 1.0f, 1.0f};
            fl_loss_block b = {.m = &m, .P = pb.P, .Q = pb.Q, .urow = urow, .irow = irow,
                               .u = pb.u, .i = pb.i, .r = pb.r, .n = NR};
            double want = 0.25;
            for (int n = 0; n < NR; n++) {
                float z = fl_mf_dot(pb.P + pb.u[n] * pb.stride, pb.Q + pb.i[n] * pb.stride,
                                    (uint32_t)pb.k);
                z += m.offset + pb.bu[pb.u[n]] + pb.bi[pb.i[n]];
                double e = (double)fl_model_clip(&m, fl_squash(&m.params, z)) - pb.r[n];
                want += e * e;
            }
            assert_true(want > 1.0);
            double got = avx2 ? fl_loss_block_avx2(&b, 0.25) : fl_loss_block_generic(&b, 0.25);
            if (memcmp(&got, &want, sizeof got))
                fail_msg("%s loss k=%d squash=%d: %.17g, want %.17g", avx2 ? "avx2" : "generic",
                         pb.k, squash, got, want);
            /* ALS's pass: the same ratings by user, on the model's own rows. */
            m.P = pb.P, m.Q = pb.Q, m.bu = pb.bu, m.bi = pb.bi;
            uint64_t start[NU + 1] = {0};
            uint32_t col[NR];
            float r[NR];
            for (int n = 0; n < NR; n++) start[pb.u[n] + 1]++;
            for (int u = 0; u < NU; u++) start[u + 1] += start[u];
            uint64_t fill[NU];
            memcpy(fill, start, sizeof fill);
            for (int n = 0; n < NR; n++) col[fill[pb.u[n]]] = pb.i[n], r[fill[pb.u[n]]++] = pb.r[n];
            fl_rows rows = {.n_rows = NU, .start = start, .col = col, .r = r};
            want = 0.25;
            for (uint32_t u = 3; u < NU - 2; u++)
                for (uint64_t k = start[u]; k < start[u + 1]; k++) {
                    double e = (double)fl_predict_index(&m, u, col[k]) - r[k];
                    want += e * e;
                }
            got = avx2 ? fl_loss_rows_avx2(&m, &rows, 3, NU - 2, 0.25)
                       : fl_loss_rows_generic(&m, &rows, 3, NU - 2, 0.25);
            if (memcmp(&got, &want, sizeof got))
                fail_msg("%s rows loss k=%d squash=%d: %.17g, want %.17g", avx2 ? "avx2" : "generic",
                         pb.k, squash, got, want);
            free(pb.P), free(pb.Q);
        }
}

static void test_loss_passes(void **state) {
    (void)state;
    loss_passes(0);
}

static void kernel_loss_avx2(void **state) {
    (void)state;
    loss_passes(1);
}

static void test_pick(void **state) {
    (void)state;
    const char *name = NULL;
    fl_sgd_kernel k = fl_sgd_pick(&name);
    assert_non_null(k);
    assert_non_null(name);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic),     cmocka_unit_test(kernel_avx2),
        cmocka_unit_test(kernel_avx2_prefetchw), cmocka_unit_test(kernel_avx512),
        cmocka_unit_test(test_loss_passes), cmocka_unit_test(kernel_loss_avx2),
        cmocka_unit_test(test_pick),
    };
    FL_TEST_MAIN(tests, argc, argv);
}
