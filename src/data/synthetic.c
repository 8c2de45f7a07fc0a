/* synthetic.c — rating datasets with a known generating model, for tests and
 * benchmarks: r = mu + b_u + b_i + s * <p_u, q_i> + noise, rounded to half
 * stars and clipped. Users and items have Zipf popularity; pairs never repeat.
 *
 * Memory is the dataset itself (12 bytes per rating) plus O(users + items):
 * ratings are generated user by user, each user's items drawn without
 * replacement, so no global set of pairs is ever needed. */
#include "data/dataset.h"

#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_synth_opts_default(fl_synth_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_users = 1000;
    o->n_items = 1700;
    o->n_ratings = 100000;
    o->rank = 8;
    o->noise_std = 0.5f;
    o->zipf = 0.5; /* top user ~1.6k ratings, bottom ~50: close to ml-100k's spread */
    o->lo = 1.0f;
    o->hi = 5.0f;
    o->seed = 42;
}

/* Independent streams for the model, the counts and the draws, so changing
 * one phase does not shift the random numbers of another. */
enum { STREAM_MODEL = 1, STREAM_COUNTS = 2, STREAM_DRAWS = 3 };

static void seed_stream(fl_rng *r, uint64_t seed, uint64_t stream) {
    fl_rng_seed(r, seed ^ (stream * 0xd1b54a32d192ed03ULL));
}

/* Walker/Vose alias table: O(1) draws from a fixed discrete distribution. */
typedef struct alias_table {
    uint32_t n;
    float *prob;
    uint32_t *alias;
} alias_table;

static int alias_build(alias_table *t, const double *w, uint32_t n) {
    t->n = n;
    t->prob = malloc((size_t)n * sizeof *t->prob);
    t->alias = malloc((size_t)n * sizeof *t->alias);
    double *scaled = malloc((size_t)n * sizeof *scaled);
    uint32_t *work =
        malloc((size_t)n * sizeof *work); /* small from the front, large from the back */
    if (!t->prob || !t->alias || !scaled || !work) {
        free(scaled);
        free(work);
        return -1;
    }
    double total = 0;
    for (uint32_t k = 0; k < n; k++) total += w[k];
    size_t n_small = 0, n_large = 0;
    for (uint32_t k = 0; k < n; k++) {
        scaled[k] = w[k] * n / total;
        if (scaled[k] < 1.0)
            work[n_small++] = k;
        else
            work[n - 1 - n_large++] = k;
    }
    while (n_small && n_large) {
        uint32_t s = work[--n_small], l = work[n - n_large];
        t->prob[s] = (float)scaled[s];
        t->alias[s] = l;
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            n_large--;
            work[n_small++] = l;
        }
    }
    /* What is left has probability 1 up to rounding error. */
    while (n_large) t->prob[work[n - n_large--]] = 1.0f;
    while (n_small) t->prob[work[--n_small]] = 1.0f;
    for (uint32_t k = 0; k < n; k++)
        if (t->prob[k] >= 1.0f) t->alias[k] = k;
    free(scaled);
    free(work);
    return 0;
}

static uint32_t alias_draw(const alias_table *t, fl_rng *r) {
    uint32_t k = (uint32_t)fl_rng_below(r, t->n);
    return fl_rng_uniform(r) < t->prob[k] ? k : t->alias[k];
}

static void alias_free(alias_table *t) {
    free(t->prob);
    free(t->alias);
}

/* Moves the c entries of idx[0..n) with the smallest key to the front.
 * Quickselect with a three-way partition, so equal keys cannot stall it. */
static void select_smallest(uint32_t *idx, size_t n, size_t c, const float *key) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1 && c > lo && c < hi) {
        float a = key[idx[lo]], b = key[idx[lo + (hi - lo) / 2]], d = key[idx[hi - 1]];
        float pv = a < b ? (b < d ? b : (a < d ? d : a)) : (a < d ? a : (b < d ? d : b));
        size_t lt = lo, k = lo, gt = hi;
        while (k < gt) {
            float v = key[idx[k]];
            uint32_t t = idx[k];
            if (v < pv)
                idx[k++] = idx[lt], idx[lt++] = t;
            else if (v > pv)
                idx[k] = idx[--gt], idx[gt] = t;
            else
                k++;
        }
        if (c < lt)
            hi = lt;
        else if (c <= gt)
            return;
        else
            lo = gt;
    }
}

typedef struct synth {
    const fl_synth_opts *o;
    double *item_w;
    alias_table items;
    uint32_t *slots; /* open-addressing set of the current user's items (item+1) */
    float *keys;     /* [n_items] for dense users */
    uint32_t *order; /* [n_items] */
    float *p, *q;    /* [n_users x rank], [n_items x rank] */
    float *bu, *bi;
    fl_rng draws;
} synth;

/* Writes c distinct items for one user into out. Sparse users (c <= n/4) draw
 * from the alias table and reject repeats; when the popular items are nearly
 * exhausted (strong skew) the rest is drawn uniformly from the unused ones,
 * bounding the work at O(c). Dense users use Efraimidis-Spirakis keys
 * (Exp(1)/w) and keep the c smallest: exact sampling without replacement in
 * O(n_items), paid by at most 4 * n_ratings / n_items users. */
static void draw_items(synth *s, uint32_t c, uint32_t *out) {
    uint32_t n = s->o->n_items;
    if ((uint64_t)c * 4 > n) {
        for (uint32_t k = 0; k < n; k++) {
            s->order[k] = k;
            s->keys[k] = (float)(-log(1.0 - fl_rng_uniform(&s->draws)) / s->item_w[k]);
        }
        if (c < n) select_smallest(s->order, n, c, s->keys);
        memcpy(out, s->order, (size_t)c * sizeof *out);
        return;
    }
    uint32_t size = 16;
    while (size < 2 * c) size *= 2;
    memset(s->slots, 0, (size_t)size * sizeof *s->slots);
    uint64_t budget = 8 * (uint64_t)c + 64;
    for (uint32_t got = 0; got < c;) {
        uint32_t i = budget ? (budget--, alias_draw(&s->items, &s->draws))
                            : (uint32_t)fl_rng_below(&s->draws, n);
        uint32_t h = (i * 0x9e3779b1u) & (size - 1);
        while (s->slots[h] && s->slots[h] != i + 1) h = (h + 1) & (size - 1);
        if (s->slots[h]) continue;
        s->slots[h] = i + 1;
        out[got++] = i;
    }
}

/* Ratings per user: the expected share rounded down, then the remainder
 * drawn by popularity; no user gets more than n_items. */
static void user_counts(const fl_synth_opts *o, const double *w, const alias_table *users,
                        uint32_t *count) {
    double total = 0;
    for (uint32_t u = 0; u < o->n_users; u++) total += w[u];
    size_t assigned = 0;
    for (uint32_t u = 0; u < o->n_users; u++) {
        double e = floor((double)o->n_ratings * w[u] / total);
        count[u] = e > o->n_items ? o->n_items : (uint32_t)e;
        assigned += count[u];
    }
    fl_rng r;
    seed_stream(&r, o->seed, STREAM_COUNTS);
    int misses = 0;
    while (assigned < o->n_ratings && misses < 64) {
        uint32_t u = alias_draw(users, &r);
        if (count[u] < o->n_items)
            count[u]++, assigned++, misses = 0;
        else
            misses++;
    }
    /* Nearly every popular user is full: fill the rest in order. */
    for (uint32_t u = 0; assigned < o->n_ratings; u = (u + 1) % o->n_users)
        if (count[u] < o->n_items) count[u]++, assigned++;
}

static fl_status check_opts(const fl_synth_opts *o, fl_error *err) {
    if (o->n_users == 0 || o->n_items == 0 || o->n_ratings == 0)
        return fl_fail(err, FL_ERR_USAGE,
                       "synthetic data needs at least one user, item and rating");
    if (o->n_users >= UINT32_MAX - 1 || o->n_items >= UINT32_MAX - 1)
        return fl_fail(err, FL_ERR_USAGE, "synthetic data: too many users or items");
    if ((double)o->n_ratings > (double)o->n_users * (double)o->n_items)
        return fl_fail(err, FL_ERR_USAGE,
                       "cannot draw %zu distinct ratings from %u users x %u items", o->n_ratings,
                       o->n_users, o->n_items);
    if (o->rank < 1 || o->rank > 1024)
        return fl_fail(err, FL_ERR_USAGE, "synthetic rank must be 1..1024, got %d", o->rank);
    if (!(o->noise_std >= 0.0f && isfinite(o->noise_std)))
        return fl_fail(err, FL_ERR_USAGE, "synthetic noise_std must be finite and >= 0");
    if (!(o->zipf >= 0.0 && o->zipf <= 10.0))
        return fl_fail(err, FL_ERR_USAGE, "synthetic zipf exponent must be in [0, 10], got %g",
                       o->zipf);
    if (!(isfinite(o->lo) && isfinite(o->hi) && o->lo < o->hi))
        return fl_fail(err, FL_ERR_USAGE, "synthetic rating range needs lo < hi, got %g..%g",
                       (double)o->lo, (double)o->hi);
    return FL_OK;
}

static double *zipf_weights(uint32_t n, double s) {
    double *w = malloc((size_t)n * sizeof *w);
    if (w)
        for (uint32_t k = 0; k < n; k++) w[k] = s == 0.0 ? 1.0 : pow((double)k + 1.0, -s);
    return w;
}

/* Ids are "u<planted index>" / "i<planted index>", interned in planted order
 * for the users and items that received ratings. */
static fl_status name_ids(fl_dataset *d, const fl_synth_opts *o, const uint32_t *count) {
    char name[16];
    uint32_t idx;
    for (uint32_t u = 0; u < o->n_users; u++) {
        if (!count[u]) continue;
        int len = snprintf(name, sizeof name, "u%u", u);
        if (fl_idmap_intern(d->user_ids, name, (size_t)len, &idx)) return FL_ERR_NOMEM;
    }
    uint32_t *remap = calloc(o->n_items, sizeof *remap); /* planted item -> dense index + 1 */
    if (!remap) return FL_ERR_NOMEM;
    for (size_t k = 0; k < d->n_ratings; k++) remap[d->items[k]] = 1;
    for (uint32_t i = 0; i < o->n_items; i++) {
        if (!remap[i]) continue;
        int len = snprintf(name, sizeof name, "i%u", i);
        if (fl_idmap_intern(d->item_ids, name, (size_t)len, &idx)) {
            free(remap);
            return FL_ERR_NOMEM;
        }
        remap[i] = idx + 1;
    }
    for (size_t k = 0; k < d->n_ratings; k++) d->items[k] = remap[d->items[k]] - 1;
    free(remap);
    return FL_OK;
}

fl_status fl_synth_generate(const fl_synth_opts *o, fl_dataset **out, fl_error *err) {
    *out = NULL;
    fl_status st = check_opts(o, err);
    if (st) return st;
    const int rank = o->rank;
    const float range = o->hi - o->lo;
    /* Scale so a 1..5 range looks like MovieLens: mean 3.4, bias sd 0.3,
     * interaction sd 0.7. Factors ~ N(0, 1/sqrt(rank)) (variance) give <p,q>
     * unit variance whatever the rank. */
    const float mu = o->lo + 0.6f * range, bias_sd = 0.075f * range, dot_scale = 0.175f * range;
    const double factor_sd = pow((double)rank, -0.25);

    synth s = {.o = o};
    uint32_t *count = calloc(o->n_users, sizeof *count);
    double *user_w = zipf_weights(o->n_users, o->zipf);
    alias_table users = {0};
    s.item_w = zipf_weights(o->n_items, o->zipf);
    s.p = malloc((size_t)o->n_users * rank * sizeof *s.p);
    s.q = malloc((size_t)o->n_items * rank * sizeof *s.q);
    s.bu = malloc((size_t)o->n_users * sizeof *s.bu);
    s.bi = malloc((size_t)o->n_items * sizeof *s.bi);
    s.keys = malloc((size_t)o->n_items * sizeof *s.keys);
    s.order = malloc((size_t)o->n_items * sizeof *s.order);
    s.slots = malloc(((size_t)o->n_items + 16) * sizeof *s.slots); /* >= 2 * n_items/4, pow2 */
    fl_dataset *d = fl_dataset_new(o->n_ratings, 0);
    if (!count || !user_w || !s.item_w || !s.p || !s.q || !s.bu || !s.bi || !s.keys || !s.order ||
        !s.slots || !d || alias_build(&users, user_w, o->n_users) ||
        alias_build(&s.items, s.item_w, o->n_items)) {
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory generating %zu synthetic ratings",
                     o->n_ratings);
        goto done;
    }

    fl_rng r;
    seed_stream(&r, o->seed, STREAM_MODEL);
    for (size_t k = 0; k < (size_t)o->n_users * rank; k++)
        s.p[k] = (float)(factor_sd * fl_rng_normal(&r));
    for (size_t k = 0; k < (size_t)o->n_items * rank; k++)
        s.q[k] = (float)(factor_sd * fl_rng_normal(&r));
    for (uint32_t u = 0; u < o->n_users; u++) s.bu[u] = bias_sd * (float)fl_rng_normal(&r);
    for (uint32_t i = 0; i < o->n_items; i++) s.bi[i] = bias_sd * (float)fl_rng_normal(&r);

    user_counts(o, user_w, &users, count);
    seed_stream(&s.draws, o->seed, STREAM_DRAWS);

    /* Hot loop: one user at a time; p_u stays in cache while q rows are read
     * at random, so the cost is one cache miss per rating plus the normal. */
    size_t w = 0;
    uint32_t dense_u = 0;
    for (uint32_t u = 0; u < o->n_users; u++) {
        uint32_t c = count[u];
        if (!c) continue;
        draw_items(&s, c, d->items + w);
        const float *pu = s.p + (size_t)u * rank;
        for (uint32_t j = 0; j < c; j++) {
            uint32_t i = d->items[w + j];
            const float *qi = s.q + (size_t)i * rank;
            float dot = 0;
            for (int f = 0; f < rank; f++) dot += pu[f] * qi[f];
            float x = mu + s.bu[u] + s.bi[i] + dot_scale * dot +
                      o->noise_std * (float)fl_rng_normal(&s.draws);
            x = floorf(x * 2.0f + 0.5f) * 0.5f;
            d->ratings[w + j] = x < o->lo ? o->lo : x > o->hi ? o->hi : x;
            d->users[w + j] = dense_u;
        }
        w += c;
        dense_u++;
    }
    d->n_ratings = w;
    if (name_ids(d, o, count)) {
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory naming synthetic ids");
        goto done;
    }
    snprintf(d->source, sizeof d->source,
             "synthetic(users=%u,items=%u,ratings=%zu,rank=%d,seed=%llu)", o->n_users, o->n_items,
             o->n_ratings, rank, (unsigned long long)o->seed);
    *out = d;
    d = NULL;
done:
    fl_dataset_free(d);
    free(count);
    free(user_w);
    alias_free(&users);
    alias_free(&s.items);
    free(s.item_w);
    free(s.p);
    free(s.q);
    free(s.bu);
    free(s.bi);
    free(s.keys);
    free(s.order);
    free(s.slots);
    return st;
}
