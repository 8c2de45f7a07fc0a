/* grid.c — renumbering rows and bucketing ratings into blocks (two
 * counting passes, O(n)). */
#include "train/grid.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

int fl_grid_size(uint32_t n_users, uint32_t n_items, int stride, int n_threads) {
    double bytes = ((double)n_users + n_items) * stride * sizeof(float);
    int nb = (int)(bytes / (1 << 20)) + 1;
    if (nb < 8) nb = 8;
    if (n_threads > 4) nb = (nb + n_threads - 1) / n_threads * n_threads;
    else if (nb > 8) nb = (nb + 3) / 4 * 4; /* a multiple of 1, 2 and 4 threads alike */
    uint32_t lim = n_users < n_items ? n_users : n_items;
    if (lim < 1) lim = 1;
    if ((uint32_t)nb > lim) nb = (int)lim;
    if (nb > 1024) nb = 1024;
    return nb;
}

/* A random permutation: at[pos] = original index. */
static uint32_t *permutation(uint32_t n, fl_rng *rng) {
    uint32_t *at = malloc((n ? n : 1) * sizeof *at);
    if (!at) return NULL;
    for (uint32_t k = 0; k < n; k++) at[k] = k;
    fl_rng_shuffle_u32(rng, at, n);
    return at;
}

/* pos[original] = position, the inverse of at. */
static uint32_t *inverse(const uint32_t *at, uint32_t n) {
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (pos)
        for (uint32_t k = 0; k < n; k++) pos[at[k]] = k;
    return pos;
}

/* The block of position k among n positions cut into nb ranges. */
static inline size_t block_of(uint32_t k, uint32_t n, int nb) { return (size_t)((uint64_t)k * nb / n); }

/* Reorders the ratings in place so block b occupies [start[b], start[b+1]):
 * American-flag sort, each rating moved at most once to its final block,
 * O(n) time and no extra memory beyond the counts. */
static void bucket_in_place(fl_grid *g, size_t *fill) {
    const int nb = g->nb;
    const size_t nblocks = (size_t)nb * nb;
    memcpy(fill, g->start, nblocks * sizeof *fill);
    for (size_t b = 0; b < nblocks; b++) {
        while (fill[b] < g->start[b + 1]) {
            size_t k = fill[b];
            size_t c = block_of(g->u[k], g->n_users, nb) * nb + block_of(g->i[k], g->n_items, nb);
            if (c == b) {
                fill[b]++;
                continue;
            }
            size_t to = fill[c]++;
            uint32_t tu = g->u[k], ti = g->i[k];
            float tr = g->r[k];
            g->u[k] = g->u[to], g->i[k] = g->i[to], g->r[k] = g->r[to];
            g->u[to] = tu, g->i[to] = ti, g->r[to] = tr;
        }
    }
}

fl_status fl_grid_build(fl_dataset *d, int consume, int nb, fl_rng *rng, fl_grid *g,
                        fl_error *err) {
    memset(g, 0, sizeof *g);
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    size_t n = d->n_ratings;
    g->nb = nb;
    g->n = n;
    size_t nblocks = (size_t)nb * nb;
    g->n_users = nu, g->n_items = ni;
    g->user_at = permutation(nu, rng);
    g->item_at = permutation(ni, rng);
    uint32_t *upos = g->user_at ? inverse(g->user_at, nu) : NULL;
    uint32_t *ipos = g->item_at ? inverse(g->item_at, ni) : NULL;
    g->start = calloc(nblocks + 1, sizeof *g->start);
    size_t *fill = malloc(nblocks * sizeof *fill);
    if (consume) {
        /* Take the dataset's arrays: the grid is then the only copy. */
        g->u = d->users, g->i = d->items, g->r = d->ratings;
        d->users = d->items = NULL, d->ratings = NULL;
        free(d->times), d->times = NULL;
        d->n_ratings = 0;
    } else {
        g->u = malloc((n ? n : 1) * sizeof *g->u);
        g->i = malloc((n ? n : 1) * sizeof *g->i);
        g->r = malloc((n ? n : 1) * sizeof *g->r);
        if (g->u && g->i && g->r) {
            memcpy(g->u, d->users, n * sizeof *g->u);
            memcpy(g->i, d->items, n * sizeof *g->i);
            memcpy(g->r, d->ratings, n * sizeof *g->r);
        }
    }
    if (!upos || !ipos || !g->start || !g->u || !g->i || !g->r || !fill) {
        free(upos), free(ipos), free(fill);
        fl_grid_free(g);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the training blocks");
    }
    for (size_t k = 0; k < n; k++) {
        g->u[k] = upos[g->u[k]];
        g->i[k] = ipos[g->i[k]];
        g->start[block_of(g->u[k], nu, nb) * nb + block_of(g->i[k], ni, nb) + 1]++;
    }
    for (size_t b = 0; b < nblocks; b++) g->start[b + 1] += g->start[b];
    bucket_in_place(g, fill);
    free(upos), free(ipos), free(fill);
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
    free(g->user_at);
    free(g->item_at);
    memset(g, 0, sizeof *g);
}

static int by_index(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

fl_status fl_grid_to_seen(fl_grid *g, const uint64_t *seen_start, uint32_t **items, fl_error *err) {
    *items = NULL;
    size_t n = g->n;
    uint64_t *fill = malloc(((size_t)g->n_users + 1) * sizeof *fill);
    if (!fill) return fl_fail(err, FL_ERR_NOMEM, "out of memory listing the training items");
    for (size_t k = 0; k < n; k++) g->u[k] = g->user_at[g->u[k]], g->i[k] = g->item_at[g->i[k]];
    /* American-flag sort by user, as in bucket_in_place. */
    memcpy(fill, seen_start, ((size_t)g->n_users + 1) * sizeof *fill);
    for (uint32_t b = 0; b < g->n_users; b++) {
        while (fill[b] < seen_start[b + 1]) {
            size_t k = fill[b];
            uint32_t c = g->u[k];
            if (c == b) {
                fill[b]++;
                continue;
            }
            size_t to = fill[c]++;
            uint32_t tu = g->u[k], ti = g->i[k];
            g->u[k] = g->u[to], g->i[k] = g->i[to];
            g->u[to] = tu, g->i[to] = ti;
        }
    }
    free(fill);
    for (uint32_t u = 0; u < g->n_users; u++)
        qsort(g->i + seen_start[u], seen_start[u + 1] - seen_start[u], sizeof *g->i, by_index);
    *items = g->i;
    g->i = NULL;
    fl_grid_free(g);
    return FL_OK;
}
