/* grid.c — bucketing ratings into blocks (two counting passes, O(n)). */
#include "train/grid.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

int fl_grid_size(uint32_t n_users, uint32_t n_items, int stride, int n_threads) {
    /* A block's user and item rows should stay within ~1 MiB so a pass over
     * it runs from L2; 8 blocks minimum makes the model independent of the
     * thread count up to 4 threads. */
    double bytes = ((double)n_users + n_items) * stride * sizeof(float);
    int nb = (int)(bytes / (1 << 20)) + 1;
    if (nb < 8) nb = 8;
    if (nb < 2 * n_threads) nb = 2 * n_threads;
    uint32_t lim = n_users < n_items ? n_users : n_items;
    if (lim < 1) lim = 1;
    if ((uint32_t)nb > lim) nb = (int)lim;
    if (nb > 1024) nb = 1024;
    return nb;
}

static uint32_t *block_of(uint32_t n, int nb, fl_rng *rng) {
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return NULL;
    for (uint32_t k = 0; k < n; k++) perm[k] = k;
    fl_rng_shuffle_u32(rng, perm, n);
    /* perm[k] = id placed at position k; its block is k * nb / n */
    uint32_t *blk = malloc((n ? n : 1) * sizeof *blk);
    if (blk)
        for (uint32_t k = 0; k < n; k++) blk[perm[k]] = (uint32_t)((uint64_t)k * nb / n);
    free(perm);
    return blk;
}

fl_status fl_grid_build(const fl_dataset *d, int nb, fl_rng *rng, fl_grid *g, fl_error *err) {
    memset(g, 0, sizeof *g);
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    size_t n = d->n_ratings;
    g->nb = nb;
    g->n = n;
    size_t nblocks = (size_t)nb * nb;
    uint32_t *ub = block_of(nu, nb, rng), *ib = block_of(ni, nb, rng);
    g->start = calloc(nblocks + 1, sizeof *g->start);
    g->u = malloc((n ? n : 1) * sizeof *g->u);
    g->i = malloc((n ? n : 1) * sizeof *g->i);
    g->r = malloc((n ? n : 1) * sizeof *g->r);
    size_t *fill = malloc(nblocks * sizeof *fill);
    if (!ub || !ib || !g->start || !g->u || !g->i || !g->r || !fill) {
        free(ub), free(ib), free(fill);
        fl_grid_free(g);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the training blocks");
    }
    for (size_t k = 0; k < n; k++) g->start[ub[d->users[k]] * nb + ib[d->items[k]] + 1]++;
    for (size_t b = 0; b < nblocks; b++) g->start[b + 1] += g->start[b];
    memcpy(fill, g->start, nblocks * sizeof *fill);
    for (size_t k = 0; k < n; k++) {
        size_t at = fill[ub[d->users[k]] * nb + ib[d->items[k]]]++;
        g->u[at] = d->users[k];
        g->i[at] = d->items[k];
        g->r[at] = d->ratings[k];
    }
    free(ub), free(ib), free(fill);
    /* One shuffle per block: SGD wants random order, and streaming the
     * shuffled arrays later costs nothing extra. */
    for (size_t b = 0; b < nblocks; b++) {
        size_t s = g->start[b], len = g->start[b + 1] - s;
        for (size_t k = len; k > 1; k--) {
            size_t j = s + fl_rng_below(rng, k), a = s + k - 1;
            uint32_t tu = g->u[a], ti = g->i[a];
            float tr = g->r[a];
            g->u[a] = g->u[j], g->i[a] = g->i[j], g->r[a] = g->r[j];
            g->u[j] = tu, g->i[j] = ti, g->r[j] = tr;
        }
    }
    return FL_OK;
}

void fl_grid_free(fl_grid *g) {
    free(g->start);
    free(g->u);
    free(g->i);
    free(g->r);
    memset(g, 0, sizeof *g);
}
