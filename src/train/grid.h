/* grid.h — the rating matrix cut into nb x nb blocks for parallel SGD.
 *
 * Users and items are renumbered by random permutations (so popular ids
 * spread evenly) and cut into nb contiguous ranges of the new numbers: row
 * block b holds the users at positions k with floor(k * nb / nu) == b. Ratings are stored
 * block by block as three parallel arrays, shuffled inside each block once
 * (and, for blocks too big for a core's L2, ordered in tiles: fl_grid_tile):
 * the rating, and its user's and item's position *within the block's row and
 * column range* as 16-bit numbers (8 bytes a rating instead of 12; blocks
 * are never more than 65,536 rows wide). Blocks (r, c) and (r', c') with r != r' and c != c' touch
 * disjoint parameters, so threads can update them at the same time without
 * locks; and because a block's rows are contiguous, two threads never write
 * to the same cache line either. */
#ifndef FL_TRAIN_GRID_H
#define FL_TRAIN_GRID_H

#include "core/pool.h"
#include "core/rng.h"
#include "factorlens.h"

typedef struct fl_grid {
    int nb;                  /* blocks per side */
    size_t n;                /* ratings */
    size_t *start;           /* [nb*nb + 1]: block b = row*nb + col holds [start[b], start[b+1]) */
    uint16_t *u, *i;         /* [n] user / item positions within the block's ranges */
    float *r;                /* [n] */
    uint32_t n_users, n_items;
    /* position -> the dataset's index, as the build drew it; the trainer
     * renumbers the model to positions and frees these (train.c) */
    uint32_t *user_at, *item_at;
} fl_grid;

/* The first of n positions cut into nb ranges that falls in range b: range b
 * holds the positions k with floor(k * nb / n) == b. */
static inline uint32_t fl_grid_first(uint32_t n, int nb, int b) {
    return (uint32_t)(((uint64_t)b * n + (uint64_t)nb - 1) / (uint64_t)nb);
}
/* The user and item positions of rating k, which is in block blk (a division
 * per call: loops over a block take fl_grid_first once instead). */
static inline uint32_t fl_grid_user_pos(const fl_grid *g, int blk, size_t k) {
    return fl_grid_first(g->n_users, g->nb, blk / g->nb) + g->u[k];
}
static inline uint32_t fl_grid_item_pos(const fl_grid *g, int blk, size_t k) {
    return fl_grid_first(g->n_items, g->nb, blk % g->nb) + g->i[k];
}

/* Progress of a build, which makes FL_GRID_PASSES passes over the ratings:
 * fn hears, now and then (from the calling thread), how many of the
 * FL_GRID_PASSES x n ratings to pass over are done. When it returns nonzero
 * the build stops after the pass and fails with FL_ERR_CANCELLED. */
#define FL_GRID_PASSES 4
typedef struct fl_grid_watch {
    int (*fn)(void *ctx, size_t done, size_t total);
    void *ctx;
    int stop; /* set by the build when fn asked to stop */
} fl_grid_watch;

/* Lays d's ratings out in nb x nb blocks. With consume, the grid takes d's
 * rating arrays (d is left with none) instead of copying them: one copy of
 * the ratings in memory instead of two. The layout is the same either way,
 * and on any pool (NULL: the calling thread alone): rng alone decides it.
 *
 * Inside a block the ratings come in tiles x tiles tiles (the block's row
 * and column ranges each cut into `tiles` bands; fl_grid_tiles(g, stride)
 * of them, 1 when stride is 0), the tiles in snake order, so consecutive
 * tiles share a band of rows or of columns, and each tile shuffled. A block
 * whose rows do not fit a core's L2 fetches them from L3 over and over; a
 * tile's rows fit, and the snake keeps a row band in L2 across its tiles,
 * so a user row is fetched about once per block and an item row about once
 * per row band. The blocks themselves stay large: cutting the grid finer to
 * the same size paid less (each row is then fetched once per smaller block,
 * with fewer updates to share it). watch may be NULL. */
fl_status fl_grid_build(fl_dataset *d, int consume, int nb, int stride, fl_pool *pool,
                        fl_rng *rng, fl_grid_watch *watch, fl_grid *g, fl_error *err);
/* The same layout over ratings whose positions are already chosen (no
 * renumbering: user_at and item_at are the identity): u[k] < n_users,
 * i[k] < n_items. The grid takes u, i and r (malloc'd; freed on failure).
 * Distributed SGD (src/dist/dist_sgd.c) lays out each process's block this
 * way, so every block of a process shares its user rows in one order. */
fl_status fl_grid_build_placed(uint32_t n_users, uint32_t n_items, uint32_t *u, uint32_t *i, float *r,
                               size_t n, int nb, int stride, fl_pool *pool, fl_rng *rng, fl_grid *g,
                               fl_error *err);
/* Tiles per side for a stride: 1 for blocks with at most twice
 * FL_GRID_TILE_BYTES of rows, else tiles of at most FL_GRID_TILE_BYTES, at
 * most 16 a side. Deterministic, and independent of the thread count. */
#define FL_GRID_TILE_BYTES (256u << 10)
int fl_grid_tiles(const fl_grid *g, int stride);
void fl_grid_free(fl_grid *g);
/* Turns the grid into the per-user lists of training items (positions,
 * which are the model's indices once it is renumbered to the grid's order;
 * ascending within each user, in the CSR layout of seen_start) and
 * gives them to *items; the grid is freed. The lists take the room of the
 * ratings' values, which are freed first, so this never needs more memory
 * than the grid held. Row ranges run on the pool (NULL: this thread). */
fl_status fl_grid_to_seen(fl_grid *g, const uint64_t *seen_start, fl_pool *pool, uint32_t **items,
                          fl_error *err);

/* Stratum s (0 <= s < nb) is the set of blocks (b, (b + s) mod nb): nb blocks
 * that share no row and no column range. Every block is in exactly one. */
static inline int fl_grid_stratum_block(const fl_grid *g, int s, int b) {
    return b * g->nb + (b + s) % g->nb;
}

/* An epoch runs the strata in the order order[0..nb-1]; task t = k * nb + b
 * is block fl_grid_stratum_block(g, order[k], b). Running the tasks in that
 * order gives the model; so does running any task as soon as the two tasks
 * before it on its block row and on its block column are done, since each
 * row and column range then sees its blocks in the same order (and blocks
 * running at once share neither). Those two, both in step k - 1, go to
 * *row_pred and *col_pred; a task of the first step has none (-1). */
void fl_grid_task_preds(int nb, const int *order, int t, int *row_pred, int *col_pred);

/* Blocks per side for this problem: enough that each block's rows fit in a
 * core's cache and no block is wider than 65,536 rows, at least 8 (so up to 4
 * threads share one grid, and the thread count does not change the model), a
 * multiple of the thread count (so every thread gets the same number of
 * blocks per stratum), no more than the ids allow unless width demands it. */
int fl_grid_size(uint32_t n_users, uint32_t n_items, int stride, int n_threads);

#endif
