/* recommend.c — top-n lists: items for a user, trained or folded in (by
 * predicted rating, rated items left out or not) and items like an item (by
 * cosine of factor vectors). All keep a size-n min-heap: a partial
 * selection, never a sort of the catalogue. The heap is keyed on the unclipped
 * score: clipping to the rating range makes every item above the top of the
 * scale equal, and the list would then follow the order items were first
 * seen instead of the model's preference. */
#include "core/error.h"
#include "core/pool.h"
#include "core/qscan.h"
#include "eval/fold_in.h"
#include "models/mf.h"
#include "models/model.h"
#include "models/scan_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Only decimal digits (and at least one)? */
static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

int fl_id_compare(const char *a, const char *b) {
    int da = all_digits(a), db = all_digits(b);
    if (da != db) return da ? -1 : 1; /* numbers first: one class each keeps the order total */
    if (da) {
        /* By value without converting (ids may exceed 64 bits): fewer
         * significant digits is smaller, then digit by digit. */
        const char *x = a, *y = b;
        while (*x == '0' && x[1]) x++;
        while (*y == '0' && y[1]) y++;
        size_t nx = strlen(x), ny = strlen(y);
        if (nx != ny) return nx < ny ? -1 : 1;
        int c = strcmp(x, y);
        if (c) return c;
    }
    return strcmp(a, b);
}

typedef struct ranking {
    fl_scored *h; /* the caller's output array, used as the heap */
    size_t cap, n;
    const fl_idmap *ids; /* for ties */
} ranking;

/* Is a below b in the final order? Lower raw score, or an exact tie and a
 * later id. */
static int worse(const ranking *r, const fl_scored *a, const fl_scored *b) {
    if (a->raw != b->raw) return a->raw < b->raw;
    return fl_id_compare(fl_idmap_name(r->ids, a->index), fl_idmap_name(r->ids, b->index)) > 0;
}

static void swap(fl_scored *a, fl_scored *b) {
    fl_scored t = *a;
    *a = *b, *b = t;
}

static void sift_down(const ranking *r, size_t n, size_t k) {
    fl_scored *h = r->h;
    for (;;) {
        size_t l = 2 * k + 1, rt = l + 1, s = k;
        if (l < n && worse(r, &h[l], &h[s])) s = l;
        if (rt < n && worse(r, &h[rt], &h[s])) s = rt;
        if (s == k) return;
        swap(&h[k], &h[s]);
        k = s;
    }
}

static void offer(ranking *r, uint32_t index, float raw, float score) {
    fl_scored c = {index, score, raw};
    fl_scored *h = r->h;
    if (r->n < r->cap) {
        size_t k = r->n++;
        h[k] = c;
        while (k > 0 && worse(r, &h[k], &h[(k - 1) / 2])) {
            swap(&h[k], &h[(k - 1) / 2]);
            k = (k - 1) / 2;
        }
    } else if (r->cap > 0 && worse(r, &h[0], &c)) {
        h[0] = c;
        sift_down(r, r->n, 0);
    }
}

/* Heap -> best first. */
static void drain(const ranking *r) {
    for (size_t end = r->n; end > 1; end--) {
        swap(&r->h[0], &r->h[end - 1]);
        sift_down(r, end - 1, 0);
    }
}

/* One top-n search: a user (a factor row p with the constant part of its
 * score, or for the nn the trained user u, p NULL), the items to leave out
 * (ascending model indices), and how to scan: the compact index (q) or every
 * item's float factors (q NULL). The catalogue is cut into n_parts ranges
 * of whole index blocks, each ranked into its own heap (parts[t]); the
 * lists are merged at the end. The order of fl_scored (raw score, then id)
 * is total, so the n best of the union are the n best of the parts' n best:
 * any number of parts gives the same list. */
typedef struct search {
    const fl_model *m;
    uint32_t u;
    const float *p;
    float user_part;
    const uint32_t *exclude;
    size_t n_exclude;
    const fl_qscan *q;
    int n_parts;
    ranking *parts;
} search;

/* What the list ranks item i by, for a user given by a factor row: the
 * expression of fl_mf_score and fl_predict_folded (the same sums in the
 * same order, so the same bits), before the clip. */
static inline float exact_raw(const fl_model *m, const float *p, float user_part, uint32_t i) {
    float z = fl_mf_dot(p, m->Q + (size_t)i * m->stride, m->n_factors);
    if (fl_kind_mf_biased(m->kind)) z += user_part + m->bi[i];
    return fl_squash(&m->params, z);
}

/* First place in the ascending list a holding a value >= x. */
static size_t lower_bound(const uint32_t *a, size_t n, uint32_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Items [lo, hi) from their float factors: each score meets the heap's
 * worst first, so once the heap is full nearly every item fails that one
 * comparison, and selecting n of N items costs about N comparisons plus
 * O(n log n) heap work for the few that enter. Q's rows are read once, in
 * order, with fl_mf_dot's vector lanes (4k bytes per item: at 1M items and
 * k = 32, 128 MB per list); nothing sorts the catalogue. */
static void rank_floats(const search *sr, ranking *r, uint32_t lo, uint32_t hi) {
    const fl_model *m = sr->m;
    size_t s = lower_bound(sr->exclude, sr->n_exclude, lo);
    for (uint32_t i = lo; i < hi; i++) {
        /* exclude is ascending, so one merge-like walk skips its items. */
        while (s < sr->n_exclude && sr->exclude[s] < i) s++;
        if (s < sr->n_exclude && sr->exclude[s] == i) continue;
        const float z = sr->p ? exact_raw(m, sr->p, sr->user_part, i) : fl_predict_unclipped(m, sr->u, i);
        if (r->n == r->cap && z < r->h[0].raw) continue;
        offer(r, i, z, fl_model_clip(m, z));
    }
}

/* Items [lo, hi) (lo a multiple of the block) through the compact index:
 * the kernel streams the int8 blocks (k + 8 bytes per item) and stops at
 * the next block holding an item whose upper bound reaches the heap's worst
 * exact score T (-inf until the heap is full); only those items are scored
 * exactly, from the float factors, and offered. An item left out has a
 * bound below T, so its exact score is below n scores already in the heap:
 * it cannot be in the list. T rises as better items enter, so after the
 * first blocks few items pass (about n ln(N/n) in all when the scores are
 * in random order). */
static void rank_compact(const search *sr, ranking *r, uint32_t lo, uint32_t hi) {
    const fl_model *m = sr->m;
    size_t s = lower_bound(sr->exclude, sr->n_exclude, lo);
    const size_t b_end = ((size_t)hi + FL_QSCAN_BLOCK - 1) / FL_QSCAN_BLOCK;
    for (size_t b = lo / FL_QSCAN_BLOCK; b < b_end; b++) {
        uint32_t mask;
        b = fl_qscan_next(sr->q, b, b_end, r->n == r->cap ? r->h[0].raw : -INFINITY, &mask);
        for (; mask; mask &= mask - 1) {
            const uint32_t i = (uint32_t)(b * FL_QSCAN_BLOCK) + (uint32_t)__builtin_ctz(mask);
            if (i >= hi) break;
            while (s < sr->n_exclude && sr->exclude[s] < i) s++;
            if (s < sr->n_exclude && sr->exclude[s] == i) continue;
            const float z = exact_raw(m, sr->p, sr->user_part, i);
            if (r->n == r->cap && z < r->h[0].raw) continue;
            offer(r, i, z, fl_model_clip(m, z));
        }
    }
}

static void search_part(void *ctx, int t, int thread) {
    (void)thread;
    const search *sr = ctx;
    const size_t n_blocks = ((size_t)sr->m->n_items + FL_QSCAN_BLOCK - 1) / FL_QSCAN_BLOCK;
    const size_t lo = n_blocks * (size_t)t / (size_t)sr->n_parts * FL_QSCAN_BLOCK;
    size_t hi = n_blocks * (size_t)(t + 1) / (size_t)sr->n_parts * FL_QSCAN_BLOCK;
    if (hi > sr->m->n_items) hi = sr->m->n_items;
    (sr->q ? rank_compact : rank_floats)(sr, &sr->parts[t], (uint32_t)lo, (uint32_t)hi);
}

/* Items per thread below which a search is not split: starting and joining
 * a thread costs tens of microseconds, about what scanning this many items
 * through the index takes. */
enum { MIN_ITEMS_PER_THREAD = 65536 };

void fl_recommend_opts_default(fl_recommend_opts *o) {
    memset(o, 0, sizeof *o);
    o->exclude_seen = 1;
    o->n_threads = 1;
}

/* The n best items for a user (p and bias, or the nn's u) into out. */
static fl_status run_search(const fl_model *m, uint32_t u, const float *p, float bias,
                            const uint32_t *exclude, size_t n_exclude, const fl_recommend_opts *o,
                            size_t n, fl_scored *out, size_t *n_out, fl_error *err) {
    *n_out = 0;
    if (n == 0) return FL_OK;
    search sr = {m, u, p, fl_kind_mf_biased(m->kind) ? m->offset + bias : 0.0f,
                 exclude, n_exclude, NULL, 1, NULL};
    /* The index pays when the list is a small share of the catalogue: its
     * candidates number about n (1 + ln(N/n)), all scored exactly. */
    int8_t codes[FL_SCAN_INDEX_MAX_FACTORS];
    fl_qscan q;
    if (m->scan && p && !o->full_scan && n <= m->n_items / 4 &&
        fl_scan_index_user(m->scan, p, sr.user_part, codes, &q))
        sr.q = &q;
    int threads = o->n_threads == 0 ? fl_cpu_count() : o->n_threads;
    const int most = (int)(m->n_items / MIN_ITEMS_PER_THREAD);
    if (threads > most) threads = most;
    if (threads < 1) threads = 1;
    sr.n_parts = threads;
    ranking whole = {out, n, 0, m->item_ids};
    if (threads == 1) {
        sr.parts = &whole;
        search_part(&sr, 0, 0);
    } else {
        ranking *parts = malloc((size_t)threads * sizeof *parts);
        fl_scored *lists = malloc((size_t)threads * n * sizeof *lists);
        if (!parts || !lists) {
            free(parts), free(lists);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory ranking items");
        }
        for (int t = 0; t < threads; t++) parts[t] = (ranking){lists + (size_t)t * n, n, 0, m->item_ids};
        sr.parts = parts;
        /* No pool (threads could not start): the parts run here, in turn,
         * with the same result. */
        fl_pool *pool = fl_pool_new(threads);
        if (pool) fl_pool_run(pool, threads, search_part, &sr);
        else
            for (int t = 0; t < threads; t++) search_part(&sr, t, 0);
        fl_pool_free(pool);
        for (int t = 0; t < threads; t++)
            for (size_t k = 0; k < parts[t].n; k++) offer(&whole, parts[t].h[k].index, parts[t].h[k].raw, parts[t].h[k].score);
        free(parts), free(lists);
    }
    drain(&whole);
    *n_out = whole.n;
    return FL_OK;
}

static fl_status check_opts(const fl_recommend_opts *o, fl_error *err) {
    if (o->n_threads < 0)
        return fl_fail(err, FL_ERR_USAGE, "n_threads must be 0 (all cores) or more, not %d",
                       o->n_threads);
    return FL_OK;
}

fl_status fl_recommend_with(const fl_model *m, const char *user_id, const fl_recommend_opts *o,
                            size_t n, fl_scored *out, size_t *n_out, fl_error *err) {
    *n_out = 0;
    fl_recommend_opts def;
    if (!o) fl_recommend_opts_default(&def), o = &def;
    fl_status st = check_opts(o, err);
    if (st != FL_OK) return st;
    uint32_t u;
    if (!fl_idmap_find(m->user_ids, user_id, strlen(user_id), &u))
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "user '%s' is not in the model (it had no training ratings)", user_id);
    const uint32_t *seen = m->seen_items + m->seen_start[u];
    size_t n_seen = o->exclude_seen ? (size_t)(m->seen_start[u + 1] - m->seen_start[u]) : 0;
    const int mf = m->kind != FL_MODEL_NN;
    return run_search(m, u, mf ? m->P + (size_t)u * m->stride : NULL,
                      mf && m->bu ? m->bu[u] : 0.0f, seen, n_seen, o, n, out, n_out, err);
}

fl_status fl_recommend(const fl_model *m, const char *user_id, size_t n, fl_scored *out,
                       size_t *n_out, fl_error *err) {
    return fl_recommend_with(m, user_id, NULL, n, out, n_out, err);
}

fl_status fl_recommend_including_seen(const fl_model *m, const char *user_id, size_t n,
                                      fl_scored *out, size_t *n_out, fl_error *err) {
    fl_recommend_opts o;
    fl_recommend_opts_default(&o);
    o.exclude_seen = 0;
    return fl_recommend_with(m, user_id, &o, n, out, n_out, err);
}

static int by_index(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

fl_status fl_recommend_folded_with(const fl_model *m, const float *factors, float bias,
                                   const char *const *rated_ids, size_t n_rated,
                                   const fl_recommend_opts *o, size_t n, fl_scored *out,
                                   size_t *n_out, fl_error *err) {
    *n_out = 0;
    fl_recommend_opts def;
    if (!o) fl_recommend_opts_default(&def), o = &def;
    fl_status st = check_opts(o, err);
    if (st != FL_OK) return st;
    if (m->kind == FL_MODEL_NN || fl_model_squashes(&m->params))
        return fl_fail(err, FL_ERR_USAGE,
                       "recommendations for a folded-in user need a dot or biased model without "
                       "a y-range, as fl_fold_in does");
    /* The rated items as sorted indices, so one merge-like walk skips them
     * as fl_recommend skips a trained user's. */
    if (!o->exclude_seen) n_rated = 0;
    uint32_t *rated = malloc((n_rated ? n_rated : 1) * sizeof *rated);
    if (!rated) return fl_fail(err, FL_ERR_NOMEM, "out of memory ranking items");
    size_t n_known = 0;
    for (size_t k = 0; k < n_rated; k++)
        n_known += (size_t)fl_idmap_find(m->item_ids, rated_ids[k], strlen(rated_ids[k]),
                                         &rated[n_known]);
    qsort(rated, n_known, sizeof *rated, by_index);
    /* The search scores as fl_folded_score does (the same sums in the same
     * order); a dot model has no bias. */
    st = run_search(m, 0, factors, fl_kind_mf_biased(m->kind) ? bias : 0.0f, rated, n_known, o, n,
                    out, n_out, err);
    free(rated);
    return st;
}

fl_status fl_recommend_folded(const fl_model *m, const float *factors, float bias,
                              const char *const *rated_ids, size_t n_rated, size_t n,
                              fl_scored *out, size_t *n_out, fl_error *err) {
    return fl_recommend_folded_with(m, factors, bias, rated_ids, n_rated, NULL, n, out, n_out, err);
}

static float norm(const float *x, uint32_t k) {
    float s = 0.0f;
    for (uint32_t f = 0; f < k; f++) s += x[f] * x[f];
    return sqrtf(s);
}

fl_status fl_similar(const fl_model *m, const char *item_id, size_t n, fl_scored *out,
                     size_t *n_out, fl_error *err) {
    *n_out = 0;
    uint32_t i;
    if (!fl_idmap_find(m->item_ids, item_id, strlen(item_id), &i))
        return fl_fail(err, FL_ERR_UNKNOWN_ID,
                       "item '%s' is not in the model (it had no training ratings)", item_id);
    const uint32_t k = m->n_factors;
    const float *q = m->Q + (size_t)i * m->stride;
    float nq = norm(q, k);
    if (nq == 0.0f)
        return fl_fail(err, FL_ERR_OTHER, "item '%s' has an all-zero factor vector", item_id);
    ranking r = {out, n, 0, m->item_ids};
    for (uint32_t j = 0; j < m->n_items; j++) {
        if (j == i) continue;
        const float *x = m->Q + (size_t)j * m->stride;
        float nx = norm(x, k);
        if (nx == 0.0f) continue;
        float dot = 0.0f;
        for (uint32_t f = 0; f < k; f++) dot += q[f] * x[f];
        float cosine = dot / (nq * nx);
        offer(&r, j, cosine, cosine);
    }
    drain(&r);
    *n_out = r.n;
    return FL_OK;
}
