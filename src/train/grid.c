/* grid.c — renumbering rows, bucketing ratings into blocks and ordering
 * each block in tiles (counting passes, O(n)). */
#include "train/grid.h"

#include "core/error.h"
#include "core/pool.h"

#include <stdlib.h>
#include <stdatomic.h>
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

/* Tells the watch that `done` ratings of pass `pass` (0-based) are done.
 * Only the calling thread reports: a pass run on the pool reports when it
 * is done. */
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

/* Per position, its range of the nb and its tile band within that range,
 * so the passes look a rating's bucket up instead of dividing. */
typedef struct bands {
    uint16_t *block;
    uint8_t *tile;
} bands;

static fl_status bands_make(bands *b, uint32_t n, int nb, int tiles) {
    b->block = malloc((n ? n : 1) * sizeof *b->block);
    b->tile = malloc(n ? n : 1);
    if (!b->block || !b->tile) return FL_ERR_NOMEM;
    for (int r = 0; r < nb; r++) {
        const uint32_t lo = fl_grid_first(n, nb, r), hi = fl_grid_first(n, nb, r + 1);
        for (uint32_t k = lo; k < hi; k++) {
            b->block[k] = (uint16_t)r;
            b->tile[k] = (uint8_t)block_of(k - lo, hi - lo, tiles);
        }
    }
    return FL_OK;
}

static void bands_free(bands *b) { free(b->block), free(b->tile); }

/* What the passes share. */
typedef struct build {
    fl_grid *g;
    wide w;
    const uint32_t *upos, *ipos; /* dataset index -> position */
    bands ub, ib;
    int tiles;
    size_t *band_start;          /* [nb + 1]: the ratings of each row range */
    size_t *hist;                /* [BUILD_TASKS][nb]: pass 0's counts */
    uint64_t seed;               /* of the row ranges' shuffles */
    atomic_int failed;           /* a row range's scratch could not be allocated */
} build;

/* Pass 0 runs in this many fixed chunks: counts add up the same on any
 * number of threads. */
enum { BUILD_TASKS = 64 };

static inline void swap_rating(wide *w, size_t a, size_t b) {
    uint32_t tu = w->u[a], ti = w->i[a];
    float tr = w->r[a];
    w->u[a] = w->u[b], w->i[a] = w->i[b], w->r[a] = w->r[b];
    w->u[b] = tu, w->i[b] = ti, w->r[b] = tr;
}

/* Pass 0: positions instead of dataset indices, and each chunk's count of
 * ratings per row range. */
static void to_positions(void *ctx, int task, int thread) {
    (void)thread;
    build *b = ctx;
    const size_t n = b->g->n, lo = n * (size_t)task / BUILD_TASKS, hi = n * (size_t)(task + 1) / BUILD_TASKS;
    size_t *h = b->hist + (size_t)task * (size_t)b->g->nb;
    if (!b->upos) { /* positions already */
        for (size_t k = lo; k < hi; k++) h[b->ub.block[b->w.u[k]]]++;
        return;
    }
    for (size_t k = lo; k < hi; k++) {
        const uint32_t u = b->upos[b->w.u[k]];
        b->w.u[k] = u;
        b->w.i[k] = b->ipos[b->w.i[k]];
        h[b->ub.block[u]]++;
    }
}

/* Pass 1: the ratings by row range, in place (American-flag sort: each
 * rating moves at most once, straight into its range). Ordering by block
 * at once took twice as long: nb x nb write streams thrash the caches where
 * nb stay in them; pass 2 then orders each range on its own. */
static void by_row_range(build *b, fl_grid_watch *watch) {
    const int nb = b->g->nb;
    size_t *fill = b->hist; /* pass 0's counts are spent */
    memcpy(fill, b->band_start, (size_t)nb * sizeof *fill);
    wide *w = &b->w;
    size_t placed = 0;
    for (int r = 0; r < nb; r++) {
        while (fill[r] < b->band_start[r + 1]) {
            if (++placed % (1u << 20) == 0) tell(watch, 1, placed, b->g->n);
            const size_t k = fill[r];
            const int c = b->ub.block[w->u[k]];
            if (c == r) {
                fill[r]++;
                continue;
            }
            swap_rating(w, k, fill[c]++);
        }
    }
}

/* The order of tile (row band a, column band c) in a block of tiles x tiles:
 * row bands in turn, the column bands of odd ones backwards (a snake), so
 * consecutive tiles share a band of rows or of columns. */
static inline uint32_t snake(int a, int c, int tiles) {
    return (uint32_t)(a * tiles + (a % 2 ? tiles - 1 - c : c));
}

/* Pass 2, row range `band`: its ratings by block, inside a block by tile,
 * each tile shuffled (SGD wants random order). In place, with a key per
 * rating as scratch; the shuffle draws from the range's own generator, so
 * the layout does not depend on which thread orders which range. */
static void by_block_and_tile(void *ctx, int band, int thread) {
    (void)thread;
    build *b = ctx;
    fl_grid *g = b->g;
    const int nb = g->nb, tiles = b->tiles, nt = tiles * tiles;
    const size_t lo = b->band_start[band], n = b->band_start[band + 1] - lo;
    const size_t nkeys = (size_t)nb * (size_t)nt;
    uint32_t *key = malloc((n ? n : 1) * sizeof *key);
    size_t *at = calloc(nkeys + 1, sizeof *at), *fill = malloc(nkeys * sizeof *fill);
    if (!key || !at || !fill) {
        free(key), free(at), free(fill);
        b->failed = 1;
        return;
    }
    wide w = {b->w.u + lo, b->w.i + lo, b->w.r + lo};
    for (size_t k = 0; k < n; k++) {
        const uint32_t u = w.u[k], i = w.i[k];
        key[k] = (uint32_t)b->ib.block[i] * (uint32_t)nt + snake(b->ub.tile[u], b->ib.tile[i], tiles);
        at[key[k] + 1]++;
    }
    for (size_t c = 0; c < nkeys; c++) at[c + 1] += at[c];
    for (int c = 0; c < nb; c++) g->start[(size_t)band * nb + c] = lo + at[(size_t)c * nt];
    memcpy(fill, at, nkeys * sizeof *fill);
    for (size_t c = 0; c < nkeys; c++) {
        while (fill[c] < at[c + 1]) {
            const size_t k = fill[c], d = key[k];
            if (d == c) {
                fill[c]++;
                continue;
            }
            const size_t to = fill[d]++;
            swap_rating(&w, k, to);
            key[k] = key[to], key[to] = (uint32_t)d;
        }
    }
    free(fill), free(key);
    fl_rng rng;
    fl_rng_seed(&rng, b->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(band + 1)));
    for (size_t c = 0; c < nkeys; c++) {
        const size_t s = at[c], len = at[c + 1] - s;
        for (size_t k = len; k > 1; k--) swap_rating(&w, s + fl_rng_below(&rng, k), s + k - 1);
    }
    free(at);
}

/* Pass 3: positions relative to each block's first row (task 0) or column
 * (task 1), written over the 32-bit array from the front (entry k's two
 * bytes never reach an entry not yet read). */
static void narrow(void *ctx, int task, int thread) {
    (void)thread;
    build *b = ctx;
    const fl_grid *g = b->g;
    const int nb = g->nb, by_row = task == 0;
    const uint32_t n_pos = by_row ? g->n_users : g->n_items;
    unsigned char *out = (unsigned char *)(by_row ? b->w.u : b->w.i);
    for (int blk = 0; blk < nb * nb; blk++) {
        uint32_t first = fl_grid_first(n_pos, nb, by_row ? blk / nb : blk % nb);
        for (size_t k = g->start[blk]; k < g->start[blk + 1]; k++) {
            uint32_t v;
            memcpy(&v, out + 4 * k, 4);
            uint16_t local = (uint16_t)(v - first);
            memcpy(out + 2 * k, &local, 2);
        }
    }
}

static uint16_t *shrunk(uint32_t *wide_pos, size_t n) {
    uint16_t *s = realloc(wide_pos, (n ? n : 1) * sizeof(uint16_t));
    return s ? s : (uint16_t *)wide_pos; /* a failed shrink keeps the block */
}

static void run_tasks(fl_pool *pool, int n, fl_task_fn fn, void *ctx) {
    if (pool)
        fl_pool_run(pool, n, fn, ctx);
    else
        for (int t = 0; t < n; t++) fn(ctx, t, 0);
}

static fl_status check_width(uint32_t nu, uint32_t ni, int nb, fl_error *err) {
    if ((nu + (uint32_t)nb - 1) / (uint32_t)nb > 65536u || (ni + (uint32_t)nb - 1) / (uint32_t)nb > 65536u)
        return fl_fail(err, FL_ERR_USAGE, "%d blocks per side leave blocks wider than 65,536 rows", nb);
    return FL_OK;
}

/* The passes over b->w, which the grid takes (freed on failure with the
 * grid), g's sizes, user_at and item_at set; b->upos and b->ipos turn
 * dataset indices into positions (NULL: the ratings carry positions). */
static fl_status lay_out(build *b, int stride, fl_pool *pool, fl_rng *rng, fl_grid_watch *watch,
                         fl_error *err) {
    fl_grid *g = b->g;
    const int nb = g->nb;
    const size_t n = g->n, nblocks = (size_t)nb * nb;
    b->tiles = stride > 0 ? fl_grid_tiles(g, stride) : 1;
    b->seed = fl_rng_next(rng);
    g->r = b->w.r;
    g->start = calloc(nblocks + 1, sizeof *g->start);
    b->band_start = calloc((size_t)nb + 1, sizeof *b->band_start);
    b->hist = calloc((size_t)BUILD_TASKS * nb, sizeof *b->hist);
    fl_status st = bands_make(&b->ub, g->n_users, nb, b->tiles);
    if (st == FL_OK) st = bands_make(&b->ib, g->n_items, nb, b->tiles);
    if (st != FL_OK || !g->user_at || !g->item_at || !g->start || !b->band_start || !b->hist ||
        !b->w.u || !b->w.i || !b->w.r)
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory building the training blocks");
    if (st == FL_OK) {
        tell(watch, 0, 0, n);
        run_tasks(pool, BUILD_TASKS, to_positions, b);
        for (int t = 0; t < BUILD_TASKS; t++)
            for (int r = 0; r < nb; r++) b->band_start[r + 1] += b->hist[(size_t)t * nb + r];
        for (int r = 0; r < nb; r++) b->band_start[r + 1] += b->band_start[r];
        tell(watch, 1, 0, n);
    }
    if (st == FL_OK && !(watch && watch->stop)) by_row_range(b, watch);
    if (st == FL_OK && !(watch && watch->stop)) {
        tell(watch, 2, 0, n);
        run_tasks(pool, nb, by_block_and_tile, b);
        g->start[nblocks] = n;
        if (b->failed) st = fl_fail(err, FL_ERR_NOMEM, "out of memory ordering the training blocks");
    }
    if (st == FL_OK && !(watch && watch->stop)) {
        tell(watch, 3, 0, n);
        run_tasks(pool, 2, narrow, b);
    }
    bands_free(&b->ub), bands_free(&b->ib);
    free(b->band_start), free(b->hist);
    if (st == FL_OK && watch && watch->stop)
        st = fl_fail(err, FL_ERR_CANCELLED, "cancelled while laying out the training blocks");
    if (st != FL_OK) {
        free(b->w.u), free(b->w.i);
        if (!g->r) free(b->w.r);
        fl_grid_free(g); /* frees g->r */
        return st;
    }
    g->u = shrunk(b->w.u, n);
    g->i = shrunk(b->w.i, n);
    tell(watch, FL_GRID_PASSES, 0, n);
    return FL_OK;
}

fl_status fl_grid_build(fl_dataset *d, int consume, int nb, int stride, fl_pool *pool, fl_rng *rng,
                        fl_grid_watch *watch, fl_grid *g, fl_error *err) {
    memset(g, 0, sizeof *g);
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    size_t n = d->n_ratings;
    g->nb = nb, g->n = n, g->n_users = nu, g->n_items = ni;
    fl_status st = check_width(nu, ni, nb, err);
    if (st != FL_OK) return st;
    build b = {.g = g};
    g->user_at = permutation(nu, rng);
    g->item_at = permutation(ni, rng);
    uint32_t *upos = g->user_at ? inverse(g->user_at, nu) : NULL;
    uint32_t *ipos = g->item_at ? inverse(g->item_at, ni) : NULL;
    b.upos = upos, b.ipos = ipos;
    if (consume) {
        /* Take the dataset's arrays: the grid is then the only copy. */
        b.w = (wide){d->users, d->items, d->ratings};
        d->users = d->items = NULL, d->ratings = NULL, d->capacity = 0;
        free(d->times), d->times = NULL;
        d->n_ratings = 0;
    } else {
        b.w.u = malloc((n ? n : 1) * sizeof *b.w.u);
        b.w.i = malloc((n ? n : 1) * sizeof *b.w.i);
        b.w.r = malloc((n ? n : 1) * sizeof *b.w.r);
        if (b.w.u && b.w.i && b.w.r) {
            memcpy(b.w.u, d->users, n * sizeof *b.w.u);
            memcpy(b.w.i, d->items, n * sizeof *b.w.i);
            memcpy(b.w.r, d->ratings, n * sizeof *b.w.r);
        }
    }
    if (!upos || !ipos) { /* lay_out reports it */
        free(g->user_at), free(g->item_at);
        g->user_at = g->item_at = NULL;
    }
    st = lay_out(&b, stride, pool, rng, watch, err);
    free(upos), free(ipos);
    return st;
}

fl_status fl_grid_build_placed(uint32_t n_users, uint32_t n_items, uint32_t *u, uint32_t *i, float *r,
                               size_t n, int nb, int stride, fl_pool *pool, fl_rng *rng, fl_grid *g,
                               fl_error *err) {
    memset(g, 0, sizeof *g);
    g->nb = nb, g->n = n, g->n_users = n_users, g->n_items = n_items;
    fl_status st = check_width(n_users, n_items, nb, err);
    if (st != FL_OK) {
        free(u), free(i), free(r);
        return st;
    }
    g->user_at = malloc((n_users ? n_users : 1) * sizeof *g->user_at);
    g->item_at = malloc((n_items ? n_items : 1) * sizeof *g->item_at);
    for (uint32_t k = 0; g->user_at && k < n_users; k++) g->user_at[k] = k;
    for (uint32_t k = 0; g->item_at && k < n_items; k++) g->item_at[k] = k;
    build b = {.g = g, .w = {u, i, r}};
    return lay_out(&b, stride, pool, rng, NULL, err);
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

typedef struct to_seen {
    const fl_grid *g;
    const uint64_t *seen_start;
    uint32_t *item;
    int bytes;           /* of an item number */
    atomic_int failed;
} to_seen;

/* Row range `band`: the items of its users, from its blocks, each rating's
 * item straight to the next free place of its user's list (the writes
 * scatter, but no write waits for another: an in-place permutation follows
 * a chain of cache misses instead), then each list sorted. The range's
 * users are its own: ranges run in parallel without sharing a list. */
static void seen_of_range(void *ctx, int band, int thread) {
    (void)thread;
    to_seen *ts = ctx;
    const fl_grid *g = ts->g;
    const int nb = g->nb;
    const uint32_t u0 = fl_grid_first(g->n_users, nb, band), u1 = fl_grid_first(g->n_users, nb, band + 1);
    uint64_t *fill = malloc(((size_t)(u1 - u0) + 1) * sizeof *fill);
    size_t longest = 0;
    for (uint32_t u = u0; u < u1; u++)
        if (ts->seen_start[u + 1] - ts->seen_start[u] > longest) longest = ts->seen_start[u + 1] - ts->seen_start[u];
    uint32_t *tmp = malloc((longest ? longest : 1) * sizeof *tmp);
    if (!fill || !tmp) {
        free(fill), free(tmp);
        ts->failed = 1;
        return;
    }
    memcpy(fill, ts->seen_start + u0, (size_t)(u1 - u0) * sizeof *fill);
    for (int c = 0; c < nb; c++) {
        const int blk = band * nb + c;
        const uint32_t i0 = fl_grid_first(g->n_items, nb, c);
        for (size_t k = g->start[blk]; k < g->start[blk + 1]; k++) ts->item[fill[g->u[k]]++] = i0 + g->i[k];
    }
    for (uint32_t u = u0; u < u1; u++)
        sort_items(ts->item + ts->seen_start[u], ts->seen_start[u + 1] - ts->seen_start[u], tmp, ts->bytes);
    free(fill), free(tmp);
}

fl_status fl_grid_to_seen(fl_grid *g, const uint64_t *seen_start, fl_pool *pool, uint32_t **items,
                          fl_error *err) {
    *items = NULL;
    free(g->r), g->r = NULL; /* not needed: the lists take its room */
    to_seen ts = {.g = g, .seen_start = seen_start, .bytes = 1};
    ts.item = malloc((g->n ? g->n : 1) * sizeof *ts.item);
    if (!ts.item) return fl_fail(err, FL_ERR_NOMEM, "out of memory listing the training items");
    while (ts.bytes < 4 && (uint64_t)g->n_items > (uint64_t)1 << (8 * ts.bytes)) ts.bytes++;
    run_tasks(pool, g->nb, seen_of_range, &ts);
    fl_grid_free(g);
    if (ts.failed) {
        free(ts.item);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory listing the training items");
    }
    *items = ts.item;
    return FL_OK;
}
