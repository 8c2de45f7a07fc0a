/* test_scan_index.c — the compact scan index (models/scan_index.c,
 * core/qscan.c) gives exactly the float scan's lists: the same items in the
 * same order with the same scores, bit for bit, on random and adversarial
 * models (ties, all-equal items, tiny, subnormal and huge factors, n beyond
 * the catalogue, rated items left out or not, folded-in users, one and two
 * threads, a model saved and loaded); and the kernel's three versions mark
 * the same items. Kernel tests per CPU feature: tests/cpu_kernels.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/qscan.h"
#include "cpu_kernels.h"
#include "factorlens.h"
#include "models/model.h"
#include "models/scan_index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static float unif(void) { return (float)rnd() / 2147483648.0f - 1.0f; } /* [-1, 1) */
static float gauss(void) {
    float s = 0;
    for (int k = 0; k < 12; k++) s += (unif() + 1.0f) / 2.0f;
    return s - 6.0f;
}

/* A model of n_users x n_items with random seen lists, zero parameters,
 * and item ids that mix numbers (some with leading zeros) and names, so
 * ties go through every branch of fl_id_compare. */
static fl_model *make_model(fl_model_kind kind, uint32_t n_users, uint32_t n_items, int k) {
    fl_dataset *d = fl_dataset_new(n_items + 8 * (size_t)n_users, 0);
    fl_error err = {0};
    char uid[32], iid[32];
    for (uint32_t i = 0; i < n_items; i++) {
        if (i % 7 == 3) snprintf(iid, sizeof iid, "x%u", n_items - i);
        else if (i % 11 == 5) snprintf(iid, sizeof iid, "0%u", i / 2);
        else snprintf(iid, sizeof iid, "%u", i);
        snprintf(uid, sizeof uid, "u%u", i % n_users);
        assert_int_equal(fl_dataset_add(d, uid, iid, 3.0f, 0, &err), FL_OK);
    }
    for (uint32_t u = 0; u < n_users; u++)
        for (int r = 0; r < 8; r++) {
            snprintf(uid, sizeof uid, "u%u", u);
            uint32_t i = rnd() % n_items;
            const char *name = fl_idmap_name(d->item_ids, i);
            assert_int_equal(fl_dataset_add(d, uid, name, 4.0f, 0, &err), FL_OK);
        }
    fl_params p;
    fl_params_init(&p, kind, FL_SOLVER_DEFAULT);
    p.n_factors = k;
    fl_model *m = NULL;
    assert_int_equal(fl_model_alloc(&p, d->user_ids, d->item_ids, &m, &err), FL_OK);
    assert_int_equal(fl_model_set_seen(m, d, &err), FL_OK);
    m->rating_lo = 1.0f, m->rating_hi = 5.0f;
    fl_dataset_free(d);
    return m;
}

static void fill(fl_model *m, float fscale, float bscale) {
    for (uint32_t u = 0; u < m->n_users; u++) {
        for (uint32_t f = 0; f < m->n_factors; f++) m->P[(size_t)u * m->stride + f] = fscale * gauss();
        if (m->bu) m->bu[u] = bscale * gauss();
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        for (uint32_t f = 0; f < m->n_factors; f++) m->Q[(size_t)i * m->stride + f] = fscale * gauss();
        if (m->bi) m->bi[i] = bscale * gauss();
    }
    m->offset = 3.5f;
}

static void with_index(fl_model *m) {
    fl_error err = {0};
    fl_scan_index_free(m->scan);
    m->scan = NULL;
    assert_int_equal(fl_scan_index_attach(m, 1, &err), FL_OK);
    assert_non_null(m->scan);
}

static void same_list(const fl_scored *a, size_t na, const fl_scored *b, size_t nb, const char *what) {
    if (na != nb) fail_msg("%s: %zu items against %zu", what, na, nb);
    for (size_t k = 0; k < na; k++)
        if (a[k].index != b[k].index || memcmp(&a[k].raw, &b[k].raw, sizeof(float)) ||
            memcmp(&a[k].score, &b[k].score, sizeof(float)))
            fail_msg("%s: place %zu: item %u raw %.9g against item %u raw %.9g", what, k,
                     a[k].index, (double)a[k].raw, b[k].index, (double)b[k].raw);
}

/* Every user's list (up to max_users) for each n, rated items left out and
 * not, threads 1 and 2, against the float scan. */
static void check_users(const fl_model *m, uint32_t max_users, const size_t *ns, int n_ns) {
    fl_recommend_opts full, fast;
    fl_recommend_opts_default(&full);
    full.full_scan = 1;
    fl_recommend_opts_default(&fast);
    fl_error err = {0};
    size_t cap = m->n_items + 10;
    fl_scored *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    for (uint32_t u = 0; u < m->n_users && u < max_users; u++) {
        const char *user = fl_idmap_name(m->user_ids, u);
        for (int x = 0; x < n_ns; x++)
            for (int ex = 0; ex <= 1; ex++)
                for (int th = 1; th <= 2; th++) {
                    size_t na = 0, nb = 0;
                    full.exclude_seen = fast.exclude_seen = ex;
                    fast.n_threads = th;
                    assert_int_equal(fl_recommend_with(m, user, &full, ns[x], a, &na, &err), FL_OK);
                    assert_int_equal(fl_recommend_with(m, user, &fast, ns[x], b, &nb, &err), FL_OK);
                    char what[96];
                    snprintf(what, sizeof what, "user %u n %zu exclude %d threads %d", u, ns[x], ex, th);
                    same_list(a, na, b, nb, what);
                }
    }
    free(a), free(b);
}

static const size_t NS[] = {1, 10, 100, 1000, 100000};

static void test_random_biased(void **state) {
    (void)state;
    rng_state = 1;
    fl_model *m = make_model(FL_MODEL_BIASED, 30, 5000, 32);
    fill(m, 0.3f, 0.5f);
    with_index(m);
    assert_true(fl_model_scan_index_bytes(m) >= 5000u * 40u);
    check_users(m, 30, NS, 5);
    fl_model_free(m);
}

static void test_random_dot_odd_k(void **state) {
    (void)state;
    rng_state = 2;
    for (int k = 1; k <= 9; k += 4) {
        fl_model *m = make_model(FL_MODEL_DOT, 10, 3001, k);
        fill(m, 1.0f, 0.0f);
        with_index(m);
        check_users(m, 10, NS, 5);
        fl_model_free(m);
    }
}

static void test_implicit(void **state) {
    (void)state;
    rng_state = 3;
    fl_model *m = make_model(FL_MODEL_IALS, 10, 2000, 16);
    fill(m, 0.2f, 0.0f);
    with_index(m);
    check_users(m, 10, NS, 4);
    fl_model_free(m);
}

/* Ties everywhere: every item the same (every score equal: the list is the
 * ids' order), and items in a few classes of equal rows. */
static void test_ties(void **state) {
    (void)state;
    rng_state = 4;
    fl_model *m = make_model(FL_MODEL_BIASED, 8, 2000, 8);
    fill(m, 0.5f, 0.5f);
    for (uint32_t i = 0; i < m->n_items; i++) {
        memcpy(m->Q + (size_t)i * m->stride, m->Q, m->n_factors * sizeof(float));
        m->bi[i] = m->bi[0];
    }
    with_index(m);
    check_users(m, 8, NS, 4);
    for (uint32_t i = 0; i < m->n_items; i++) {
        uint32_t c = i % 5;
        memcpy(m->Q + (size_t)i * m->stride, m->Q + (size_t)c * m->stride, m->n_factors * sizeof(float));
        m->bi[i] = m->bi[c];
    }
    with_index(m);
    check_users(m, 8, NS, 4);
    /* Items whose scores differ in the last bits only. */
    for (uint32_t i = 0; i < m->n_items; i++) m->bi[i] = nextafterf(m->bi[0], (float)(i % 3));
    with_index(m);
    check_users(m, 8, NS, 4);
    fl_model_free(m);
}

/* Scores the quantisation cannot tell apart: every item's bias set so that
 * the user's exact scores all lie within 1e-4 of each other, where the
 * int8 approximation is off by about 1e-2. A bound any tighter than the
 * true error would lose items here. */
static void test_near_ties(void **state) {
    (void)state;
    rng_state = 9;
    fl_model *m = make_model(FL_MODEL_BIASED, 3, 4000, 32);
    fill(m, 0.5f, 0.0f);
    for (uint32_t u = 0; u < m->n_users; u++) {
        const float *p = m->P + (size_t)u * m->stride;
        for (uint32_t i = 0; i < m->n_items; i++) {
            double dot = 0;
            for (uint32_t f = 0; f < m->n_factors; f++) dot += (double)p[f] * m->Q[(size_t)i * m->stride + f];
            m->bi[i] = (float)(1.0 - dot - m->offset - m->bu[u]) + 1e-4f * unif();
        }
        with_index(m);
        const size_t ns[] = {1, 10, 50, 500};
        check_users(m, 3, ns, 4);
    }
    fl_model_free(m);
}

/* The bound's worst case: every code of the user and of the items off by
 * almost half a step (126.49 where the scale's step is 1), all in the same
 * direction, so the int8 product falls short of the exact one by nearly the
 * whole bound; items' scales vary, and their biases make the exact scores
 * tie within 1e-5. Halving the bound fails here. */
static void test_worst_case(void **state) {
    (void)state;
    rng_state = 10;
    fl_model *m = make_model(FL_MODEL_BIASED, 2, 3000, 32);
    fill(m, 0.0f, 0.0f);
    for (uint32_t u = 0; u < m->n_users; u++) {
        float *p = m->P + (size_t)u * m->stride;
        for (uint32_t f = 0; f < m->n_factors; f++) p[f] = (f == 0 ? 127.0f : (f % 3 ? 126.49f : -126.49f)) * 1e-3f;
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        const float sc = 1e-3f * (0.5f + (unif() + 1.0f));
        float *q = m->Q + (size_t)i * m->stride;
        for (uint32_t f = 0; f < m->n_factors; f++) q[f] = (f == 0 ? 127.0f : (f % 3 ? 126.49f : -126.49f)) * sc;
        double dot = 0;
        for (uint32_t f = 0; f < m->n_factors; f++) dot += (double)m->P[f] * q[f];
        m->bi[i] = (float)(1.0 - dot) + 1e-5f * unif();
    }
    with_index(m);
    const size_t ns[] = {1, 10, 100};
    check_users(m, 1, ns, 3);
    fl_model_free(m);
}

/* Factors of every magnitude: tiny, subnormal, zero rows, huge (a user
 * whose scores could overflow falls back to the float scan), and catalogues
 * where a few items' scales dwarf the rest. */
static void test_magnitudes(void **state) {
    (void)state;
    rng_state = 5;
    const float scales[] = {1e-30f, 1e-41f, 0.0f, 1e25f, 1e-3f};
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        fl_model *m = make_model(FL_MODEL_BIASED, 6, 1500, 12);
        fill(m, scales[s], scales[s] < 1e-20f ? 0.0f : scales[s]);
        for (uint32_t i = 0; i < m->n_items; i += 97)
            for (uint32_t f = 0; f < m->n_factors; f++) m->Q[(size_t)i * m->stride + f] *= 1e6f;
        for (uint32_t i = 5; i < m->n_items; i += 89)
            memset(m->Q + (size_t)i * m->stride, 0, m->n_factors * sizeof(float));
        memset(m->P, 0, m->n_factors * sizeof(float)); /* user 0: all zero */
        with_index(m);
        check_users(m, 6, NS, 4);
        fl_model_free(m);
    }
}

/* Folded-in users (random rows, not a trained user's) through
 * fl_recommend_folded, with rated items left out and not. */
static void test_folded(void **state) {
    (void)state;
    rng_state = 6;
    fl_model *m = make_model(FL_MODEL_BIASED, 4, 4000, 20);
    fill(m, 0.4f, 0.3f);
    with_index(m);
    fl_recommend_opts full, fast;
    fl_recommend_opts_default(&full);
    fl_recommend_opts_default(&fast);
    full.full_scan = 1;
    fl_error err = {0};
    fl_scored a[200], b[200];
    const char *rated[] = {"7", "x3", "no-such-item", "100"};
    for (int t = 0; t < 20; t++) {
        float x[20];
        for (int f = 0; f < 20; f++) x[f] = (t % 4 == 0 ? 1e-3f : 0.5f) * gauss();
        const float bias = 0.3f * gauss();
        for (int ex = 0; ex <= 1; ex++) {
            size_t na, nb;
            full.exclude_seen = fast.exclude_seen = ex;
            assert_int_equal(fl_recommend_folded_with(m, x, bias, rated, 4, &full, 200, a, &na, &err), FL_OK);
            assert_int_equal(fl_recommend_folded_with(m, x, bias, rated, 4, &fast, 200, b, &nb, &err), FL_OK);
            same_list(a, na, b, nb, "folded");
            if (ex) {
                assert_int_equal(fl_recommend_folded(m, x, bias, rated, 4, 200, b, &nb, &err), FL_OK);
                same_list(a, na, b, nb, "fl_recommend_folded");
            }
        }
    }
    fl_model_free(m);
}

/* A catalogue large enough to be split between two threads, and a model
 * saved and loaded: fl_model_load builds the index itself. */
static void test_threads_and_load(void **state) {
    (void)state;
    rng_state = 7;
    fl_model *m = make_model(FL_MODEL_BIASED, 4, 140000, 8);
    fill(m, 0.5f, 0.2f);
    assert_int_equal(fl_model_scan_index_bytes(m), 0); /* trained in process: none */
    char path[] = "/tmp/fl-scan-index-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, path, &err), FL_OK);
    fl_model *l = NULL;
    assert_int_equal(fl_model_load(path, &l, &err), FL_OK);
    unlink(path);
    assert_true(fl_model_scan_index_bytes(l) > 0);
    const size_t ns[] = {1, 10, 1000};
    check_users(l, 4, ns, 3);
    fl_recommend_opts o;
    fl_recommend_opts_default(&o);
    o.n_threads = -1;
    fl_scored out[4];
    size_t got;
    assert_int_equal(fl_recommend_with(l, "u0", &o, 4, out, &got, &err), FL_ERR_USAGE);
    fl_model_free(l);
    fl_model_free(m);
}

/* Random blocks and users through one kernel version against the
 * baseline, at thresholds from below every bound to above them all. */
static void kernel_against_base(size_t (*next)(const fl_qscan *, size_t, size_t, float, uint32_t *)) {
    rng_state = 8;
    static const int group_counts[] = {1, 2, 3, 7, 8, 15, 16, 63, 64};
    for (size_t gi = 0; gi < sizeof group_counts / sizeof group_counts[0]; gi++) {
        const int groups = group_counts[gi];
        for (int has_bias = 0; has_bias <= 1; has_bias++) {
            const size_t bb = fl_qscan_block_bytes(groups, has_bias), nb = 40;
            unsigned char *blocks = aligned_alloc(64, bb * nb);
            for (size_t b = 0; b < nb; b++) {
                unsigned char *blk = blocks + b * bb;
                for (int c = 0; c < groups * 64; c++) blk[c] = (unsigned char)(int8_t)((int)(rnd() % 255) - 127);
                float *s = (float *)(void *)(blk + groups * 64);
                for (int j = 0; j < 16 * (has_bias ? 2 : 1); j++) s[j] = j < 16 ? fabsf(unif()) * 0.01f : unif();
            }
            int8_t user[256];
            int32_t sum = 0;
            for (int f = 0; f < groups * 4; f++) sum += user[f] = (int8_t)((int)(rnd() % 255) - 127);
            fl_qscan q = {blocks, bb, groups, has_bias, user, sum, 0.003f, 0.25f, 1e-3f, 1e-6f, 1e-30f};
            for (float T = -40.0f; T <= 40.0f; T += 0.25f)
                for (size_t b0 = 0; b0 < nb;) {
                    uint32_t m1, m2;
                    size_t x = fl_qscan_next_base(&q, b0, nb, T, &m1), y = next(&q, b0, nb, T, &m2);
                    if (x != y || m1 != m2)
                        fail_msg("groups %d bias %d T %g: block %zu mask %x against %zu %x", groups,
                                 has_bias, (double)T, x, m1, y, m2);
                    b0 = x + 1;
                }
            free(blocks);
        }
    }
}

static void kernel_avx2(void **state) {
    (void)state;
    kernel_against_base(fl_qscan_next_avx2);
}

static void kernel_avx512vnni(void **state) {
    (void)state;
    kernel_against_base(fl_qscan_next_avx512vnni);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_biased),    cmocka_unit_test(test_random_dot_odd_k),
        cmocka_unit_test(test_implicit),         cmocka_unit_test(test_ties),
        cmocka_unit_test(test_magnitudes),       cmocka_unit_test(test_near_ties), cmocka_unit_test(test_worst_case),       cmocka_unit_test(test_folded),
        cmocka_unit_test(test_threads_and_load), cmocka_unit_test(kernel_avx2),
        cmocka_unit_test(kernel_avx512vnni),
    };
    FL_TEST_MAIN(tests, argc, argv);
}
