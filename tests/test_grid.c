/* test_grid.c — the parallel SGD scheduler: the grid holds every rating
 * exactly once, each block's rows are a contiguous range of positions, the
 * blocks of one stratum share no row and no column (so concurrent updates
 * never touch the same parameters), every block is in exactly one stratum,
 * an epoch's tasks may run in any order their predecessors allow and still
 * give each row and column range its blocks in the sequential order, grid
 * sizes suit the thread count, a block's ratings come in tiles in snake
 * order, each shuffled, the same on one thread as on a pool, and the pool
 * runs every task once. A grid laid out over positions given (fl_grid_build_placed,
 * distributed SGD's) keeps them: user_at and item_at are the identity and
 * each rating sits in the block its own positions name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "train/grid.h"
#include "core/pool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static fl_dataset *synthetic(void) {
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 300, o.n_items = 200, o.n_ratings = 20000, o.seed = 5;
    fl_dataset *d = NULL;
    fl_error err;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_OK);
    return d;
}

static void test_every_rating_once(void **state) {
    (void)state;
    fl_dataset *d = synthetic();
    fl_rng rng;
    fl_rng_seed(&rng, 1);
    fl_grid g;
    fl_error err;
    assert_int_equal(fl_grid_build(d, 0, 8, 0, NULL, &rng, NULL, &g, &err), FL_OK);
    assert_int_equal(g.n, d->n_ratings);
    assert_int_equal(g.start[0], 0);
    assert_int_equal(g.start[64], d->n_ratings);
    /* Map positions back to dataset indices and count (user, item) pairs. */
    unsigned char *seen = calloc((size_t)g.n_users * g.n_items, 1);
    for (size_t k = 0; k < d->n_ratings; k++) seen[(size_t)d->users[k] * g.n_items + d->items[k]]++;
    for (int blk = 0; blk < 64; blk++)
        for (size_t k = g.start[blk]; k < g.start[blk + 1]; k++) {
            uint32_t u = g.user_at[fl_grid_user_pos(&g, blk, k)];
            uint32_t i = g.item_at[fl_grid_item_pos(&g, blk, k)];
            assert_int_equal(seen[(size_t)u * g.n_items + i], 1);
            seen[(size_t)u * g.n_items + i] = 2;
        }
    for (size_t k = 0; k < d->n_ratings; k++)
        assert_int_equal(seen[(size_t)d->users[k] * g.n_items + d->items[k]], 2);
    free(seen);
    fl_grid_free(&g);
    fl_dataset_free(d);
}

static void test_placed_keeps_positions(void **state) {
    (void)state;
    fl_dataset *d = synthetic();
    const size_t n = d->n_ratings;
    const uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    uint32_t *u = malloc(n * sizeof *u), *i = malloc(n * sizeof *i);
    float *r = malloc(n * sizeof *r);
    memcpy(u, d->users, n * sizeof *u), memcpy(i, d->items, n * sizeof *i);
    memcpy(r, d->ratings, n * sizeof *r);
    fl_rng rng;
    fl_rng_seed(&rng, 3);
    fl_grid g;
    fl_error err;
    const int nb = 4;
    assert_int_equal(fl_grid_build_placed(nu, ni, u, i, r, n, nb, 0, NULL, &rng, &g, &err), FL_OK);
    for (uint32_t k = 0; k < nu; k++) assert_int_equal(g.user_at[k], k);
    for (uint32_t k = 0; k < ni; k++) assert_int_equal(g.item_at[k], k);
    /* Each (user, item) once, with its rating, in the block of its positions. */
    float *rating = calloc((size_t)nu * ni, sizeof *rating);
    for (size_t k = 0; k < n; k++) rating[(size_t)d->users[k] * ni + d->items[k]] = d->ratings[k];
    size_t found = 0;
    for (int blk = 0; blk < nb * nb; blk++)
        for (size_t k = g.start[blk]; k < g.start[blk + 1]; k++) {
            uint32_t x = fl_grid_user_pos(&g, blk, k), y = fl_grid_item_pos(&g, blk, k);
            assert_int_equal((uint64_t)x * nb / nu, blk / nb);
            assert_int_equal((uint64_t)y * nb / ni, blk % nb);
            assert_true(rating[(size_t)x * ni + y] == g.r[k]);
            rating[(size_t)x * ni + y] = -1.0f; /* seen: a second visit fails above */
            found++;
        }
    assert_int_equal(found, n);
    free(rating);
    fl_grid_free(&g);
    fl_dataset_free(d);
}

static void test_strata_disjoint(void **state) {
    (void)state;
    fl_dataset *d = synthetic();
    fl_rng rng;
    fl_rng_seed(&rng, 2);
    fl_grid g;
    fl_error err;
    const int nb = 8;
    assert_int_equal(fl_grid_build(d, 0, nb, 0, NULL, &rng, NULL, &g, &err), FL_OK);
    /* Row and column ranges of each block, from the positions it holds. */
    int *in_stratum = calloc((size_t)nb * nb, sizeof *in_stratum);
    for (int s = 0; s < nb; s++) {
        int *user_owner = malloc(g.n_users * sizeof *user_owner);
        int *item_owner = malloc(g.n_items * sizeof *item_owner);
        for (uint32_t k = 0; k < g.n_users; k++) user_owner[k] = -1;
        for (uint32_t k = 0; k < g.n_items; k++) item_owner[k] = -1;
        for (int b = 0; b < nb; b++) {
            int blk = fl_grid_stratum_block(&g, s, b);
            in_stratum[blk]++;
            uint32_t ulo = UINT32_MAX, uhi = 0;
            for (size_t k = g.start[blk]; k < g.start[blk + 1]; k++) {
                uint32_t u = fl_grid_user_pos(&g, blk, k), i = fl_grid_item_pos(&g, blk, k);
                assert_true(u < g.n_users && i < g.n_items);
                /* No other block of this stratum touches this row or column. */
                assert_true(user_owner[u] == -1 || user_owner[u] == blk);
                assert_true(item_owner[i] == -1 || item_owner[i] == blk);
                user_owner[u] = blk;
                item_owner[i] = blk;
                if (u < ulo) ulo = u;
                if (u > uhi) uhi = u;
            }
            /* Row block r holds the positions k with floor(k * nb / nu) == r:
             * one contiguous range. */
            int row = blk / nb;
            if (g.start[blk] < g.start[blk + 1]) {
                assert_int_equal((uint64_t)ulo * nb / g.n_users, row);
                assert_int_equal((uint64_t)uhi * nb / g.n_users, row);
            }
        }
        free(user_owner), free(item_owner);
    }
    for (int b = 0; b < nb * nb; b++) assert_int_equal(in_stratum[b], 1);
    free(in_stratum);
    fl_grid_free(&g);
    fl_dataset_free(d);
}

/* The block task t of an epoch runs (grid.h). */
static int task_block(int nb, const int *order, int t) {
    fl_grid g = {.nb = nb};
    return fl_grid_stratum_block(&g, order[t / nb], t % nb);
}

/* Runs an epoch's tasks as a scheduler with `slots` threads might: at each
 * turn a random running task ends or a random ready task starts. Checks that
 * running tasks never share a row or column range and that every row and
 * column range sees its blocks in the order of the sequential epoch (each
 * step holds one block of every row and every column, so a range's k-th
 * block must be its block of step k). */
static void run_in_some_order(int nb, const int *order, int slots, fl_rng *rng) {
    const int n = nb * nb;
    int *state = calloc((size_t)n, sizeof *state); /* 0 waiting, 1 running, 2 done */
    int *row_seen = calloc((size_t)nb, sizeof *row_seen), *col_seen = calloc((size_t)nb, sizeof *col_seen);
    int *ready = malloc((size_t)n * sizeof *ready);
    int finished = 0, running = 0;
    while (finished < n) {
        int n_ready = 0;
        for (int t = 0; t < n; t++) {
            int row, col;
            fl_grid_task_preds(nb, order, t, &row, &col);
            if (state[t] == 0 && (row < 0 || (state[row] == 2 && state[col] == 2))) ready[n_ready++] = t;
        }
        if (n_ready > 0 && running < slots && (running == 0 || fl_rng_below(rng, 2))) {
            const int t = ready[fl_rng_below(rng, (uint64_t)n_ready)], blk = task_block(nb, order, t);
            for (int x = 0; x < n; x++) {
                if (state[x] != 1) continue;
                const int other = task_block(nb, order, x);
                assert_true(other / nb != blk / nb && other % nb != blk % nb);
            }
            assert_int_equal(row_seen[blk / nb]++, t / nb);
            assert_int_equal(col_seen[blk % nb]++, t / nb);
            state[t] = 1, running++;
        } else {
            assert_true(running > 0); /* nothing ready means something is running */
            int pick = (int)fl_rng_below(rng, (uint64_t)running);
            for (int t = 0; t < n; t++)
                if (state[t] == 1 && pick-- == 0) {
                    state[t] = 2, running--, finished++;
                    break;
                }
        }
    }
    free(state), free(row_seen), free(col_seen), free(ready);
}

static void test_task_order(void **state) {
    (void)state;
    fl_rng rng;
    fl_rng_seed(&rng, 11);
    const int sizes[] = {1, 2, 3, 8, 12};
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
        const int nb = sizes[z];
        int *order = malloc((size_t)nb * sizeof *order);
        for (int k = 0; k < nb; k++) order[k] = k;
        for (int rep = 0; rep < 20; rep++) {
            for (int k = nb; k > 1; k--) {
                int j = (int)fl_rng_below(&rng, (uint64_t)k), tmp = order[k - 1];
                order[k - 1] = order[j], order[j] = tmp;
            }
            /* The predecessors are the previous step's blocks on the same row and column. */
            for (int t = nb; t < nb * nb; t++) {
                int row, col;
                fl_grid_task_preds(nb, order, t, &row, &col);
                const int blk = task_block(nb, order, t), rb = task_block(nb, order, row),
                          cb = task_block(nb, order, col);
                assert_int_equal(row / nb, t / nb - 1);
                assert_int_equal(col / nb, t / nb - 1);
                assert_int_equal(rb / nb, blk / nb);
                assert_int_equal(cb % nb, blk % nb);
            }
            run_in_some_order(nb, order, 1 + rep % 4, &rng);
        }
        free(order);
    }
}

static void test_grid_size(void **state) {
    (void)state;
    for (int t = 1; t <= 16; t++) {
        int nb = fl_grid_size(100000, 50000, 32, t);
        assert_true(nb >= 8 && nb >= t);
        assert_int_equal(nb % t == 0 || t == 3, 1); /* 3 threads: 8 or a multiple of 4 */
    }
    /* The same grid for 1, 2 and 4 threads: the model does not depend on it. */
    assert_int_equal(fl_grid_size(100000, 50000, 32, 1), fl_grid_size(100000, 50000, 32, 2));
    assert_int_equal(fl_grid_size(100000, 50000, 32, 1), fl_grid_size(100000, 50000, 32, 4));
    /* Never more blocks than ids, unless a block would be wider than the
     * 16-bit positions reach. */
    assert_int_equal(fl_grid_size(3, 1000, 16, 2), 3);
    assert_int_equal(fl_grid_size(3, 1000000, 16, 2), 16); /* ceil(1e6 / 65536) */
    for (uint32_t n = 65535; n < 3000000; n = n * 3 + 7) {
        int nb = fl_grid_size(n, 5, 16, 1);
        assert_true((n + (uint32_t)nb - 1) / (uint32_t)nb <= 65536u);
    }
}

typedef struct count_job {
    atomic_int runs[1000];
} count_job;

static void count_task(void *ctx, int task, int thread) {
    count_job *j = ctx;
    assert_true(thread >= 0 && thread < 4);
    atomic_fetch_add(&j->runs[task], 1);
}

static void test_pool_runs_each_task_once(void **state) {
    (void)state;
    fl_pool *p = fl_pool_new(4);
    assert_non_null(p);
    count_job *j = calloc(1, sizeof *j);
    for (int round = 0; round < 50; round++) {
        int n = 1 + round * 19;
        memset(j, 0, sizeof *j);
        fl_pool_run(p, n, count_task, j);
        for (int k = 0; k < n; k++) assert_int_equal(atomic_load(&j->runs[k]), 1);
        for (int k = n; k < 1000; k++) assert_int_equal(atomic_load(&j->runs[k]), 0);
    }
    free(j);
    fl_pool_free(p);
}

/* Tiling: the same ratings in every block as without tiles, the tiles in
 * snake order (each after the one it follows, sharing its row or its column
 * band), the ratings of a tile shuffled; and the same layout on one thread
 * and on a pool of three. */
static uint64_t pair_sum(const fl_grid *g, int b) {
    uint64_t sum = 0;
    for (size_t k = g->start[b]; k < g->start[b + 1]; k++)
        sum += ((uint64_t)g->u[k] * 1000003u + g->i[k]) * 2654435761u + (uint64_t)(g->r[k] * 8);
    return sum;
}

static void test_tiles(void **state) {
    (void)state;
    fl_dataset *d = synthetic();
    fl_rng r1, r2, r3;
    fl_rng_seed(&r1, 3), fl_rng_seed(&r2, 3), fl_rng_seed(&r3, 3);
    fl_grid g, t, p;
    fl_error err;
    const int nb = 4, stride = 4096; /* (75 + 50) rows x 16,400 B: 8 tiles a side */
    fl_pool *pool = fl_pool_new(3);
    assert_non_null(pool);
    assert_int_equal(fl_grid_build(d, 0, nb, 0, NULL, &r1, NULL, &g, &err), FL_OK);
    assert_int_equal(fl_grid_build(d, 0, nb, stride, NULL, &r2, NULL, &t, &err), FL_OK);
    assert_int_equal(fl_grid_build(d, 0, nb, stride, pool, &r3, NULL, &p, &err), FL_OK);
    const int tiles = fl_grid_tiles(&t, stride);
    assert_int_equal(tiles, 8);
    assert_memory_equal(t.start, p.start, (size_t)(nb * nb + 1) * sizeof *t.start);
    assert_memory_equal(t.u, p.u, t.n * sizeof *t.u);
    assert_memory_equal(t.i, p.i, t.n * sizeof *t.i);
    assert_memory_equal(t.r, p.r, t.n * sizeof *t.r);
    assert_memory_equal(t.user_at, g.user_at, g.n_users * sizeof *g.user_at);
    int unsorted = 0;
    for (int b = 0; b < nb * nb; b++) {
        const size_t lo = t.start[b], n = t.start[b + 1] - lo;
        assert_int_equal(g.start[b + 1] - g.start[b], n);
        assert_true(pair_sum(&g, b) == pair_sum(&t, b)); /* the same ratings */
        const uint32_t nu = fl_grid_first(t.n_users, nb, b / nb + 1) - fl_grid_first(t.n_users, nb, b / nb);
        const uint32_t ni = fl_grid_first(t.n_items, nb, b % nb + 1) - fl_grid_first(t.n_items, nb, b % nb);
        int last = -1;
        for (size_t k = lo; k < lo + n; k++) {
            const int a = (int)((uint64_t)t.u[k] * tiles / nu), c = (int)((uint64_t)t.i[k] * tiles / ni);
            const int seq = a * tiles + (a % 2 ? tiles - 1 - c : c);
            assert_true(seq >= last); /* tiles in snake order, never revisited */
            if (seq == last && t.u[k] < t.u[k - 1]) unsorted++;
            last = seq;
        }
    }
    assert_true(unsorted > 0); /* tiles are shuffled, not sorted */
    fl_grid_free(&p);
    fl_pool_free(pool);
    /* The rule: blocks with up to 512 KiB of rows left alone, else tiles of
     * at most FL_GRID_TILE_BYTES of rows, up to 16 a side. */
    fl_grid shape = {.nb = 8, .n_users = 33334, .n_items = 11905};
    assert_int_equal(fl_grid_tiles(&shape, 32), 4); /* (4167 + 1489) x 144 B = 814 KB */
    assert_int_equal(fl_grid_tiles(&shape, 16), 1); /* x 80 B = 452 KB */
    shape.n_users = 943, shape.n_items = 1682;
    assert_int_equal(fl_grid_tiles(&shape, 64), 1);
    shape.n_users = 10000000, shape.n_items = 10000000;
    assert_int_equal(fl_grid_tiles(&shape, 64), 16);
    fl_grid_free(&g), fl_grid_free(&t);
    fl_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rating_once),
        cmocka_unit_test(test_placed_keeps_positions),
        cmocka_unit_test(test_strata_disjoint),
        cmocka_unit_test(test_task_order),
        cmocka_unit_test(test_grid_size),
        cmocka_unit_test(test_tiles),
        cmocka_unit_test(test_pool_runs_each_task_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
