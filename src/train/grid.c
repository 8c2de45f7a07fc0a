/* grid.c — renumbering rows, bucketing ratings into blocks and ordering
 * each block in tiles (counting passes, O(n)). */
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
    /* 16-bit positions within a block: no block wider than 65,536 rows. */
    uint32_t widest = n_users > n_items ? n_users : n_items;
    int need = (int)((widest + 65535u) / 65536u);
    if (nb < need) nb = need;
    return nb;
}

void fl_grid_task_preds(int nb, const int *order, int t, int *row_pred, int *col_pred) {
    const int k = t / nb, b = t % nb;
    if (k == 0) {
        *row_pred = *col_pred = -1;
        return;
    }
    const int col = (b + order[k]) % nb;
    *row_pred = (k - 1) * nb + b;
    /* the row whose block in step k - 1 has this column */
    *col_pred = (k - 1) * nb + ((col - order[k - 1]) % nb + nb) % nb;
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

/* Tells the watch that `done` ratings of pass `pass` (0-based) are done. */
static void tell(fl_grid_watch *w, int pass, size_t done, size_t n) {
    if (w && w->fn && w->fn(w->ctx, (size_t)pass * n + done, (size_t)FL_GRID_PASSES * n)) w->stop = 1;
}

/* The block of position k among n positions cut into nb ranges. */
static inline size_t block_of(uint32_t k, uint32_t n, int nb) { return (size_t)((uint64_t)k * nb / n); }

/* The 32-bit positions the grid is built with, before they are narrowed. */
typedef struct wide {
    uint32_t *u, *i;
    float *r;
} wide;

static inline void swap_rating(wide *w, size_t a, size_t b) {
    uint32_t tu = w->u[a], ti = w->i[a];
    float tr = w->r[a];
    w->u[a] = w->u[b], w->i[a] = w->i[b], w->r[a] = w->r[b];
    w->u[b] = tu, w->i[b] = ti, w->r[b] = tr;
}

/* Reorders the ratings in place so block b occupies [start[b], start[b+1]):
 * American-flag sort, each rating moved at most once to its final block,
 * O(n) time and no extra memory beyond the counts. */
static void bucket_in_place(const fl_grid *g, wide *w, size_t *fill, fl_grid_watch *watch) {
    const int nb = g->nb;
    const size_t nblocks = (size_t)nb * nb;
    memcpy(fill, g->start, nblocks * sizeof *fill);
    size_t placed = 0; /* each step below puts one rating in its block for good */
    for (size_t b = 0; b < nblocks; b++) {
        while (fill[b] < g->start[b + 1]) {
            if (++placed % (1u << 20) == 0) tell(watch, 1, placed, g->n);
            size_t k = fill[b];
            size_t c = block_of(w->u[k], g->n_users, nb) * nb + block_of(w->i[k], g->n_items, nb);
            if (c == b) {
                fill[b]++;
                continue;
            }
            swap_rating(w, k, fill[c]++);
        }
    }
}

/* Positions relative to each block's first row and column, written over
 * the 32-bit array from the front (entry k's two bytes never reach an entry
 * not yet read), then the array is shrunk to half. */
static uint16_t *narrow(uint32_t *wide_pos, const fl_grid *g, int by_row, fl_grid_watch *watch) {
    const int nb = g->nb;
    const uint32_t n_pos = by_row ? g->n_users : g->n_items;
    unsigned char *out = (unsigned char *)wide_pos;
    for (int blk = 0; blk < nb * nb; blk++) {
        tell(watch, by_row ? 3 : 4, g->start[blk], g->n);
        uint32_t first = fl_grid_first(n_pos, nb, by_row ? blk / nb : blk % nb);
        for (size_t k = g->start[blk]; k < g->start[blk + 1]; k++) {
            uint32_t v;
            memcpy(&v, out + 4 * k, 4);
            uint16_t local = (uint16_t)(v - first);
            memcpy(out + 2 * k, &local, 2);
        }
    }
    uint16_t *shrunk = realloc(wide_pos, (g->n ? g->n : 1) * sizeof(uint16_t));
    return shrunk ? shrunk : (uint16_t *)wide_pos; /* a failed shrink keeps the block */
}

/* Counts, buckets, shuffles and narrows the ratings in w (positions
 * already assigned), which the grid takes; g's sizes and at[] are set. */
static fl_status lay_out(fl_grid *g, wide *w, fl_rng *rng, fl_grid_watch *watch, fl_error *err) {
    const int nb = g->nb;
    const size_t n = g->n, nblocks = (size_t)nb * nb;
    g->start = calloc(nblocks + 1, sizeof *g->start);
    size_t *fill = malloc(nblocks * sizeof *fill);
    g->r = w->r;
    if (!g->start || !w->u || !w->i || !w->r || !fill) {
        free(fill), free(w->u), free(w->i);
        fl_grid_free(g);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the training blocks");
    }
    for (size_t k = 0; k < n; k++) {
        if (k % (1u << 20) == 0) tell(watch, 0, k, n);
        g->start[block_of(w->u[k], g->n_users, nb) * nb + block_of(w->i[k], g->n_items, nb) + 1]++;
    }
    for (size_t b = 0; b < nblocks; b++) g->start[b + 1] += g->start[b];
    int stopped = watch && watch->stop;
    if (!stopped) bucket_in_place(g, w, fill, watch);
    free(fill);
    stopped = watch && watch->stop;
    /* One shuffle per block: SGD wants random order, and streaming the
     * shuffled arrays later costs nothing extra. */
    for (size_t b = 0; b < nblocks && !stopped; b++) {
        tell(watch, 2, g->start[b], n);
        size_t s = g->start[b], len = g->start[b + 1] - s;
        for (size_t k = len; k > 1; k--) swap_rating(w, s + fl_rng_below(rng, k), s + k - 1);
    }
    if (stopped || (watch && watch->stop)) {
        free(w->u), free(w->i);
        fl_grid_free(g);
        return fl_fail(err, FL_ERR_CANCELLED, "cancelled while laying out the training blocks");
    }
    g->u = narrow(w->u, g, 1, watch);
    g->i = narrow(w->i, g, 0, watch);
    tell(watch, FL_GRID_PASSES, 0, n);
    return FL_OK;
}

static fl_status check_width(uint32_t nu, uint32_t ni, int nb, fl_error *err) {
    if ((nu + (uint32_t)nb - 1) / (uint32_t)nb > 65536u || (ni + (uint32_t)nb - 1) / (uint32_t)nb > 65536u)
        return fl_fail(err, FL_ERR_USAGE, "%d blocks per side leave blocks wider than 65,536 rows", nb);
    return FL_OK;
}

fl_status fl_grid_build(fl_dataset *d, int consume, int nb, fl_rng *rng, fl_grid_watch *watch,
                        fl_grid *g, fl_error *err) {
    memset(g, 0, sizeof *g);
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    size_t n = d->n_ratings;
    g->nb = nb;
    g->n = n;
    g->n_users = nu, g->n_items = ni;
    fl_status st = check_width(nu, ni, nb, err);
    if (st != FL_OK) return st;
    g->user_at = permutation(nu, rng);
    g->item_at = permutation(ni, rng);
    uint32_t *upos = g->user_at ? inverse(g->user_at, nu) : NULL;
    uint32_t *ipos = g->item_at ? inverse(g->item_at, ni) : NULL;
    wide w = {0};
    if (consume) {
        /* Take the dataset's arrays: the grid is then the only copy. */
        w.u = d->users, w.i = d->items, w.r = d->ratings;
        d->users = d->items = NULL, d->ratings = NULL, d->capacity = 0;
        free(d->times), d->times = NULL;
        d->n_ratings = 0;
    } else {
        w.u = malloc((n ? n : 1) * sizeof *w.u);
        w.i = malloc((n ? n : 1) * sizeof *w.i);
        w.r = malloc((n ? n : 1) * sizeof *w.r);
        if (w.u && w.i && w.r) {
            memcpy(w.u, d->users, n * sizeof *w.u);
            memcpy(w.i, d->items, n * sizeof *w.i);
            memcpy(w.r, d->ratings, n * sizeof *w.r);
        }
    }
    if (upos && ipos && w.u && w.i)
        for (size_t k = 0; k < n; k++) w.u[k] = upos[w.u[k]], w.i[k] = ipos[w.i[k]];
    free(upos), free(ipos);
    if (!g->user_at || !g->item_at) free(w.r), w.r = NULL; /* lay_out reports it */
    return lay_out(g, &w, rng, watch, err);
}

fl_status fl_grid_build_placed(uint32_t n_users, uint32_t n_items, uint32_t *u, uint32_t *i,
                               float *r, size_t n, int nb, fl_rng *rng, fl_grid *g, fl_error *err) {
    memset(g, 0, sizeof *g);
    g->nb = nb, g->n = n, g->n_users = n_users, g->n_items = n_items;
    wide w = {u, i, r};
    fl_status st = check_width(n_users, n_items, nb, err);
    g->user_at = malloc((n_users ? n_users : 1) * sizeof *g->user_at);
    g->item_at = malloc((n_items ? n_items : 1) * sizeof *g->item_at);
    if (st != FL_OK || !g->user_at || !g->item_at) {
        free(u), free(i), free(r);
        fl_grid_free(g);
        return st != FL_OK ? st : fl_fail(err, FL_ERR_NOMEM, "out of memory building the training blocks");
    }
    for (uint32_t k = 0; k < n_users; k++) g->user_at[k] = k;
    for (uint32_t k = 0; k < n_items; k++) g->item_at[k] = k;
    return lay_out(g, &w, rng, NULL, err);
}

/* Tile t of a block cut into tiles x tiles: row band t / tiles, and within
 * it the column bands in snake order (odd row bands backwards), so each tile
 * shares a band of rows or of columns with the one before it. */
static inline size_t tile_of(uint32_t u, uint32_t i, uint32_t nu, uint32_t ni, int tiles) {
    size_t a = block_of(u, nu, tiles), b = block_of(i, ni, tiles);
    if (a % 2) b = (size_t)tiles - 1 - b;
    return a * (size_t)tiles + b;
}

int fl_grid_tiles(const fl_grid *g, int stride) {
    /* The block's widest row and column ranges, as factor rows plus the
     * SGD kernel's 16-byte row records. */
    const uint64_t users = (g->n_users + (uint32_t)g->nb - 1) / (uint32_t)g->nb;
    const uint64_t items = (g->n_items + (uint32_t)g->nb - 1) / (uint32_t)g->nb;
    const uint64_t bytes = (users + items) * ((uint64_t)stride * sizeof(float) + 16);
    /* A block that fits a 512 KiB L2 gains nothing from tiles (k=16 on the
     * speed benchmark: median 0.96x on 2 threads over 10 alternating runs). */
    if (bytes <= 2u * FL_GRID_TILE_BYTES) return 1;
    uint64_t tiles = (bytes + FL_GRID_TILE_BYTES - 1) / FL_GRID_TILE_BYTES;
    if (tiles > 16) tiles = 16;
    return (int)tiles;
}

fl_status fl_grid_tile(fl_grid *g, int tiles, fl_error *err) {
    if (tiles <= 1) return FL_OK;
    const int nb = g->nb;
    size_t widest = 0;
    for (int b = 0; b < nb * nb; b++)
        if (g->start[b + 1] - g->start[b] > widest) widest = g->start[b + 1] - g->start[b];
    const size_t nt = (size_t)tiles * tiles, cap = widest ? widest : 1;
    uint16_t *u = malloc(cap * sizeof *u), *i = malloc(cap * sizeof *i);
    float *r = malloc(cap * sizeof *r);
    size_t *at = malloc((nt + 1) * sizeof *at);
    if (!u || !i || !r || !at) {
        free(u), free(i), free(r), free(at);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory ordering the training blocks");
    }
    for (int b = 0; b < nb * nb; b++) {
        const size_t lo = g->start[b], n = g->start[b + 1] - lo;
        const uint32_t nu = fl_grid_first(g->n_users, nb, b / nb + 1) - fl_grid_first(g->n_users, nb, b / nb);
        const uint32_t ni = fl_grid_first(g->n_items, nb, b % nb + 1) - fl_grid_first(g->n_items, nb, b % nb);
        if (n < 2) continue; /* (a rating in the block means nu, ni >= 1) */
        memset(at, 0, (nt + 1) * sizeof *at);
        for (size_t k = lo; k < lo + n; k++) at[tile_of(g->u[k], g->i[k], nu, ni, tiles) + 1]++;
        for (size_t t = 0; t < nt; t++) at[t + 1] += at[t];
        /* Stable: within a tile the ratings keep the block's shuffled order. */
        for (size_t k = lo; k < lo + n; k++) {
            size_t to = at[tile_of(g->u[k], g->i[k], nu, ni, tiles)]++;
            u[to] = g->u[k], i[to] = g->i[k], r[to] = g->r[k];
        }
        memcpy(g->u + lo, u, n * sizeof *u), memcpy(g->i + lo, i, n * sizeof *i), memcpy(g->r + lo, r, n * sizeof *r);
    }
    free(u), free(i), free(r), free(at);
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

/* Sorts a[0..n) ascending; tmp holds n entries. One user's list is short
 * (tens to thousands of items): insertion sort below 32, else an LSD radix
 * sort over the bytes an item number can have (`bytes`): about twice as fast
 * as qsort with a comparison callback on MovieLens-shaped lists. */
static void sort_items(uint32_t *a, size_t n, uint32_t *tmp, int bytes) {
    if (n < 32) {
        for (size_t k = 1; k < n; k++) {
            uint32_t v = a[k];
            size_t j = k;
            for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    uint32_t *from = a, *to = tmp;
    for (int b = 0; b < bytes; b++) {
        size_t count[257] = {0};
        const int shift = 8 * b;
        for (size_t k = 0; k < n; k++) count[((from[k] >> shift) & 255u) + 1]++;
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (size_t k = 0; k < n; k++) to[count[(from[k] >> shift) & 255u]++] = from[k];
        uint32_t *t = from;
        from = to, to = t;
    }
    if (from != a) memcpy(a, from, n * sizeof *a);
}

fl_status fl_grid_to_seen(fl_grid *g, const uint64_t *seen_start, uint32_t **items, fl_error *err) {
    *items = NULL;
    const size_t n = g->n;
    const int nb = g->nb;
    free(g->r), g->r = NULL; /* not needed: the lists take its room */
    uint64_t *fill = malloc(((size_t)g->n_users + 1) * sizeof *fill);
    uint32_t *item = malloc((n ? n : 1) * sizeof *item);
    size_t longest = 0;
    for (uint32_t u = 0; u < g->n_users; u++)
        if (seen_start[u + 1] - seen_start[u] > longest)
            longest = seen_start[u + 1] - seen_start[u];
    uint32_t *tmp = malloc((longest ? longest : 1) * sizeof *tmp);
    if (!fill || !item || !tmp) {
        free(fill), free(item), free(tmp);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory listing the training items");
    }
    /* Each rating's item straight to the next free place of its user's list.
     * The writes scatter, but no write waits for another (an in-place
     * permutation follows a chain of cache misses instead: it took ~14 % of
     * a 10-epoch run at 5M ratings). */
    memcpy(fill, seen_start, (size_t)g->n_users * sizeof *fill);
    for (int blk = 0; blk < nb * nb; blk++) {
        const uint32_t *user_at = g->user_at + fl_grid_first(g->n_users, nb, blk / nb);
        const uint32_t *item_at = g->item_at + fl_grid_first(g->n_items, nb, blk % nb);
        for (size_t k = g->start[blk]; k < g->start[blk + 1]; k++)
            item[fill[user_at[g->u[k]]]++] = item_at[g->i[k]];
    }
    free(fill);
    const uint32_t n_users = g->n_users, n_items = g->n_items;
    fl_grid_free(g);
    int bytes = 1; /* of an item number */
    while (bytes < 4 && (uint64_t)n_items > (uint64_t)1 << (8 * bytes)) bytes++;
    for (uint32_t u = 0; u < n_users; u++)
        sort_items(item + seen_start[u], seen_start[u + 1] - seen_start[u], tmp, bytes);
    free(tmp);
    *items = item;
    return FL_OK;
}
