/* part_data.c — reading and distributing the ratings (see part_data.h). */
#include "dist/part_data.h"

#include "core/error.h"
#include "data/ratings_part.h"
#include "dist/shard_dir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A rating in flight between processes: global indices (UINT32_MAX: an id
 * the training ratings do not have) and the value. */
typedef struct trip {
    uint32_t u, i;
    float r;
} trip;

static fl_status nomem(fl_error *err, const char *what) {
    return fl_fail(err, FL_ERR_NOMEM, "out of memory %s", what);
}

/* The union of every process's ids in rank order, and this process's
 * local -> global translation. */
static fl_status global_ids(fl_coll *d, const fl_idmap *local, fl_idmap **global,
                            uint32_t **to_global, fl_error *err) {
    const uint32_t n = fl_idmap_size(local);
    size_t bytes = 0;
    for (uint32_t k = 0; k < n; k++) bytes += strlen(fl_idmap_name(local, k)) + 1;
    char *mine = malloc(bytes ? bytes : 1);
    size_t *counts = malloc((size_t)d->size * sizeof *counts);
    *to_global = malloc((n ? n : 1) * sizeof **to_global);
    *global = fl_idmap_new();
    char *all = NULL;
    fl_status st = FL_OK;
    if (!mine || !counts || !*to_global || !*global) st = nomem(err, "sharing the ids");
    for (size_t k = 0, at = 0; st == FL_OK && k < n; k++) {
        const char *s = fl_idmap_name(local, (uint32_t)k);
        size_t len = strlen(s) + 1;
        memcpy(mine + at, s, len);
        at += len;
    }
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_sizes(d, bytes, counts, err);
    size_t total = 0;
    for (int r = 0; st == FL_OK && r < d->size; r++) total += counts[r];
    if (st == FL_OK && !(all = malloc(total ? total : 1))) st = nomem(err, "sharing the ids");
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_allgatherv(d, mine, bytes, all, counts, err);
    size_t at = 0;
    for (int r = 0; st == FL_OK && r < d->size; r++) {
        uint32_t k = 0;
        for (size_t end = at + counts[r]; st == FL_OK && at < end;) {
            size_t len = strlen(all + at);
            uint32_t g;
            if (fl_idmap_intern(*global, all + at, len, &g) != FL_OK)
                st = nomem(err, "building the id maps");
            else if (r == d->rank)
                (*to_global)[k++] = g;
            at += len + 1;
        }
    }
    free(mine), free(counts), free(all);
    return st;
}

/* SplitMix64's finaliser: a rating's hash for the fingerprint. */
static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t trip_hash(uint32_t u, uint32_t i, float r) {
    uint32_t bits;
    memcpy(&bits, &r, sizeof bits);
    return mix64(((uint64_t)u << 32 | i) ^ mix64(bits));
}

/* Sends each of t[0..n) to dest[k]; *out gets what this process receives. */
static fl_status shuffle(fl_coll *d, const trip *t, size_t n, const int *dest, trip **out,
                         size_t *n_out, fl_error *err) {
    const int size = d->size;
    size_t *sc = calloc((size_t)size, sizeof *sc), *rc = calloc((size_t)size, sizeof *rc);
    size_t *at = calloc((size_t)size + 1, sizeof *at);
    trip *send = malloc((n ? n : 1) * sizeof *send);
    *out = NULL;
    fl_status st = FL_OK;
    if (!sc || !rc || !at || !send) st = nomem(err, "sending the ratings to their owners");
    if (st == FL_OK) {
        for (size_t k = 0; k < n; k++) at[dest[k] + 1]++;
        for (int r = 0; r < size; r++) sc[r] = at[r + 1] * sizeof(trip), at[r + 1] += at[r];
        for (size_t k = 0; k < n; k++) send[at[dest[k]]++] = t[k];
    }
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_counts(d, sc, rc, err);
    size_t total = 0;
    for (int r = 0; st == FL_OK && r < size; r++) total += rc[r];
    if (st == FL_OK && !(*out = malloc(total ? total : 1))) st = nomem(err, "receiving ratings");
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_alltoallv(d, send, sc, *out, rc, err);
    *n_out = total / sizeof(trip);
    free(sc), free(rc), free(at), free(send);
    if (st != FL_OK) free(*out), *out = NULL;
    return st;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct values of v[0..n) (v is reordered); the count. */
static uint32_t sort_unique(uint32_t *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_u32);
    size_t w = 0;
    for (size_t k = 0; k < n; k++)
        if (w == 0 || v[w - 1] != v[k]) v[w++] = v[k];
    return (uint32_t)w;
}

static uint32_t index_in(const uint32_t *sorted, uint32_t n, uint32_t x) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Rows keyed by one side (u when by_user, else i), offset by lo, with
 * columns into *need: the other side's distinct indices, with extra[] (test
 * users) added. */
static fl_status rows_from(const trip *t, size_t n, int by_user, uint32_t lo, uint32_t n_rows,
                           const uint32_t *extra, size_t n_extra, fl_rows *rows, uint32_t **need,
                           uint32_t *n_need, fl_error *err) {
    memset(rows, 0, sizeof *rows);
    uint32_t *others = malloc((n + n_extra + 1) * sizeof *others);
    fl_dataset tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.users = malloc((n ? n : 1) * sizeof *tmp.users);
    tmp.items = malloc((n ? n : 1) * sizeof *tmp.items);
    tmp.ratings = malloc((n ? n : 1) * sizeof *tmp.ratings);
    if (!others || !tmp.users || !tmp.items || !tmp.ratings) {
        free(others), free(tmp.users), free(tmp.items), free(tmp.ratings);
        return nomem(err, "indexing the ratings");
    }
    for (size_t k = 0; k < n; k++) others[k] = by_user ? t[k].i : t[k].u;
    if (n_extra) memcpy(others + n, extra, n_extra * sizeof *extra);
    *n_need = sort_unique(others, n + n_extra);
    *need = others;
    for (size_t k = 0; k < n; k++) {
        tmp.users[k] = (by_user ? t[k].u : t[k].i) - lo;
        tmp.items[k] = index_in(others, *n_need, by_user ? t[k].i : t[k].u);
        tmp.ratings[k] = t[k].r;
    }
    tmp.n_ratings = tmp.capacity = n;
    fl_rows other_side;
    fl_status st = fl_rows_build(&tmp, 1, n_rows, *n_need, rows, &other_side, err);
    fl_rows_free(&other_side);
    free(tmp.users), free(tmp.items), free(tmp.ratings);
    return st;
}

/* cut[0..size]: blocks of [0, n) in order, block r ending where the
 * running count of ratings first reaches r/size of total. */
static void cut_by_counts(const uint64_t *count, uint32_t n, uint64_t total, int size,
                          uint32_t *cut) {
    uint64_t run = 0;
    uint32_t x = 0;
    cut[0] = 0;
    for (int r = 1; r < size; r++) {
        const uint64_t target = total * (uint64_t)r / (uint64_t)size;
        while (x < n && run < target) run += count[x++];
        cut[r] = x;
    }
    cut[size] = n;
}

/* Every process's ratings counted per global user and item, summed over
 * processes (an all-gather of 8 bytes per id and process: fine at millions
 * of ids; a reduce-scatter is the form for hundreds of millions), then cut
 * into blocks of about equal ratings. The same cuts on every process. */
static fl_status balanced_cuts(fl_coll *d, const uint32_t *tu, const uint32_t *ti,
                               const fl_dataset *dl, fl_part *p, fl_error *err) {
    const uint32_t nu = p->n_users, ni = p->n_items;
    uint64_t *count = calloc((size_t)nu + ni + 1, sizeof *count);
    p->user_cut = malloc(((size_t)d->size + 1) * sizeof *p->user_cut);
    p->item_cut = malloc(((size_t)d->size + 1) * sizeof *p->item_cut);
    fl_status st = FL_OK;
    if (!count || !p->user_cut || !p->item_cut) st = nomem(err, "balancing the blocks");
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) {
        for (size_t k = 0; k < dl->n_ratings; k++)
            count[tu[dl->users[k]]]++, count[nu + ti[dl->items[k]]]++;
        if (nu + (uint64_t)ni > (uint64_t)INT32_MAX)
            st = fl_fail(err, FL_ERR_NOMEM, "too many ids to balance the blocks in one sum");
        else
            st = fl_coll_sum_u64(d, count, (int)(nu + ni), err);
    }
    if (st == FL_OK) {
        uint64_t total = 0;
        for (uint32_t x = 0; x < nu; x++) total += count[x];
        cut_by_counts(count, nu, total, d->size, p->user_cut);
        cut_by_counts(count + nu, ni, total, d->size, p->item_cut);
    }
    free(count);
    return st;
}

/* A pair rated twice in different parts: each part was checked alone. */
static fl_status check_duplicates(const fl_part *p, const char *source, fl_error *err) {
    for (uint32_t x = 0; x < p->by_user.n_rows; x++)
        for (uint64_t k = p->by_user.start[x] + 1; k < p->by_user.start[x + 1]; k++)
            if (p->by_user.col[k] == p->by_user.col[k - 1])
                return fl_fail(err, FL_ERR_DATA,
                               "%s: user '%s' rated item '%s' more than once (in different "
                               "parts of the file, which are read apart: remove the "
                               "duplicate, or merge them with --duplicates last|mean in a "
                               "single-process run)",
                               source, fl_idmap_name(p->user_ids, p->u_lo + x),
                               fl_idmap_name(p->item_ids, p->need_items[p->by_user.col[k]]));
    return FL_OK;
}

/* The test part: its ids as global indices, and where each rating is scored. */
static fl_status route_test(fl_coll *d, fl_part *p, const fl_dataset *dt, fl_error *err) {
    const size_t n = dt ? dt->n_ratings : 0;
    trip *t = malloc((n ? n : 1) * sizeof *t);
    int *dest = malloc((n ? n : 1) * sizeof *dest);
    uint32_t *gu = malloc(((dt ? fl_idmap_size(dt->user_ids) : 0) + 1) * sizeof *gu);
    uint32_t *gi = malloc(((dt ? fl_idmap_size(dt->item_ids) : 0) + 1) * sizeof *gi);
    fl_status st = FL_OK;
    if (!t || !dest || !gu || !gi) st = nomem(err, "reading the test ratings");
    uint64_t fp[2] = {n, 0};
    size_t none = 0;
    for (uint32_t k = 0; st == FL_OK && dt && k < fl_idmap_size(dt->user_ids); k++) {
        const char *s = fl_idmap_name(dt->user_ids, k);
        if (!fl_idmap_find(p->user_ids, s, strlen(s), &gu[k])) gu[k] = UINT32_MAX;
    }
    for (uint32_t k = 0; st == FL_OK && dt && k < fl_idmap_size(dt->item_ids); k++) {
        const char *s = fl_idmap_name(dt->item_ids, k);
        if (!fl_idmap_find(p->item_ids, s, strlen(s), &gi[k])) gi[k] = UINT32_MAX;
    }
    size_t m = 0;
    for (size_t k = 0; st == FL_OK && k < n; k++) {
        trip x = {gu[dt->users[k]], gi[dt->items[k]], dt->ratings[k]};
        fp[1] += trip_hash(x.u, x.i, x.r);
        if (x.i != UINT32_MAX)
            dest[m] = fl_part_owner(p->item_cut, d->size, x.i), t[m++] = x;
        else if (x.u != UINT32_MAX)
            dest[m] = fl_part_owner(p->user_cut, d->size, x.u), t[m++] = x;
        else
            t[n - 1 - none++] = x; /* scored here, from the end of t */
    }
    p->n_test_none = none;
    if (st == FL_OK && !(p->test_none_r = malloc((none ? none : 1) * sizeof(float))))
        st = nomem(err, "reading the test ratings");
    for (size_t k = 0; st == FL_OK && k < none; k++) p->test_none_r[k] = t[n - 1 - k].r;
    st = fl_coll_agree(d, st, err);
    trip *got = NULL;
    size_t n_got = 0;
    if (st == FL_OK) st = shuffle(d, t, m, dest, &got, &n_got, err);
    free(t), free(dest), free(gu), free(gi);
    if (st == FL_OK) st = fl_coll_sum_u64(d, fp, 2, err);
    if (st != FL_OK) return st;
    p->n_test = fp[0];
    p->fingerprint[2] = fp[0], p->fingerprint[3] = fp[1];
    size_t ni = 0, nu = 0;
    for (size_t k = 0; k < n_got; k++) {
        if (got[k].i != UINT32_MAX)
            ni++;
        else
            nu++;
    }
    p->test_item = malloc((ni ? ni : 1) * sizeof *p->test_item);
    p->test_item_user = malloc((ni ? ni : 1) * sizeof *p->test_item_user);
    p->test_item_r = malloc((ni ? ni : 1) * sizeof *p->test_item_r);
    p->test_user = malloc((nu ? nu : 1) * sizeof *p->test_user);
    p->test_user_r = malloc((nu ? nu : 1) * sizeof *p->test_user_r);
    if (!p->test_item || !p->test_item_user || !p->test_item_r || !p->test_user || !p->test_user_r)
        st = nomem(err, "routing the test ratings");
    for (size_t k = 0; st == FL_OK && k < n_got; k++) {
        if (got[k].i != UINT32_MAX) {
            p->test_item[p->n_test_item] = got[k].i; /* global for now: see fl_part_load */
            p->test_item_user[p->n_test_item] = got[k].u;
            p->test_item_r[p->n_test_item++] = got[k].r;
        } else {
            p->test_user[p->n_test_user] = got[k].u - p->u_lo;
            p->test_user_r[p->n_test_user++] = got[k].r;
        }
    }
    free(got);
    return fl_coll_agree(d, st, err);
}

/* This process's part: its byte range of a file, or its files of a shard directory. */
static fl_status read_mine(const char *path, const fl_read_opts *o, int rank, int size,
                           fl_dataset **out, fl_error *err) {
    if (fl_shard_is_dir(path)) return fl_shard_read_mine(path, o, rank, size, out, err);
    return fl_dataset_read_part(path, o, rank, size, out, err);
}

fl_status fl_part_load(fl_coll *d, const char *ratings, const char *test, const fl_read_opts *o,
                       fl_part *p, fl_error *err) {
    memset(p, 0, sizeof *p);
    fl_read_opts def;
    if (!o) fl_read_opts_default(&def), o = &def;
    if (d->size > 1 && (o->duplicates == FL_DUP_LAST || o->duplicates == FL_DUP_MEAN))
        return fl_fail(err, FL_ERR_USAGE,
                       "--duplicates last|mean needs the whole file in one process: the parts "
                       "of a distributed run are read apart (merge duplicates first, or keep "
                       "them all with --duplicates keep)");
    fl_dataset *dl = NULL, *dt = NULL;
    fl_status st = read_mine(ratings, o, d->rank, d->size, &dl, err);
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK && test) st = read_mine(test, o, d->rank, d->size, &dt, err);
    st = fl_coll_agree(d, st, err);
    if (st != FL_OK) {
        fl_dataset_free(dl), fl_dataset_free(dt);
        return st;
    }
    snprintf(p->source, sizeof p->source, "%s", dl->source);
    uint32_t *tu = NULL, *ti = NULL;
    st = global_ids(d, dl->user_ids, &p->user_ids, &tu, err);
    if (st == FL_OK) st = global_ids(d, dl->item_ids, &p->item_ids, &ti, err);
    trip *t = NULL, *by_u = NULL, *by_i = NULL;
    int *dest = NULL;
    size_t n = dl->n_ratings, n_u = 0, n_i = 0;
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) {
        p->n_users = fl_idmap_size(p->user_ids), p->n_items = fl_idmap_size(p->item_ids);
        st = balanced_cuts(d, tu, ti, dl, p, err);
    }
    if (st == FL_OK) {
        p->u_lo = p->user_cut[d->rank], p->u_hi = p->user_cut[d->rank + 1];
        p->i_lo = p->item_cut[d->rank], p->i_hi = p->item_cut[d->rank + 1];
        t = malloc((n ? n : 1) * sizeof *t);
        dest = malloc((n ? n : 1) * sizeof *dest);
        if (!t || !dest) st = nomem(err, "sending the ratings to their owners");
    }
    st = fl_coll_agree(d, st, err);
    double lo = INFINITY, hi = -INFINITY, sums[1] = {0.0};
    uint64_t fp[2] = {n, 0};
    if (st == FL_OK) {
        for (size_t k = 0; k < n; k++) {
            t[k] = (trip){tu[dl->users[k]], ti[dl->items[k]], dl->ratings[k]};
            sums[0] += t[k].r;
            if (t[k].r < lo) lo = t[k].r;
            if (t[k].r > hi) hi = t[k].r;
            fp[1] += trip_hash(t[k].u, t[k].i, t[k].r);
        }
        st = fl_coll_sum(d, sums, 1, err);
    }
    if (st == FL_OK) st = fl_coll_minmax(d, &lo, &hi, err);
    if (st == FL_OK) st = fl_coll_sum_u64(d, fp, 2, err);
    if (st == FL_OK) {
        p->n_ratings = fp[0];
        p->fingerprint[0] = fp[0], p->fingerprint[1] = fp[1];
        p->rating_sum = sums[0];
        p->rating_lo = (float)lo, p->rating_hi = (float)hi;
        if (p->n_ratings == 0) st = fl_fail(err, FL_ERR_DATA, "%s: no ratings to train on", p->source);
    }
    if (st == FL_OK) {
        for (size_t k = 0; k < n; k++) dest[k] = fl_part_owner(p->user_cut, d->size, t[k].u);
        st = shuffle(d, t, n, dest, &by_u, &n_u, err);
    }
    if (st == FL_OK) {
        for (size_t k = 0; k < n; k++) dest[k] = fl_part_owner(p->item_cut, d->size, t[k].i);
        st = shuffle(d, t, n, dest, &by_i, &n_i, err);
    }
    free(t), free(dest), free(tu), free(ti);
    fl_dataset_free(dl);
    if (st == FL_OK) st = route_test(d, p, dt, err);
    fl_dataset_free(dt);
    if (st == FL_OK)
        st = rows_from(by_u, n_u, 1, p->u_lo, p->u_hi - p->u_lo, NULL, 0, &p->by_user,
                       &p->need_items, &p->n_need_items, err);
    free(by_u);
    if (st == FL_OK) {
        /* The known users of the test ratings of this process's items are
         * needed beside the training ratings' users. */
        size_t m = 0;
        for (size_t k = 0; k < p->n_test_item; k++)
            if (p->test_item_user[k] != UINT32_MAX) m++;
        uint32_t *extra = malloc((m ? m : 1) * sizeof *extra);
        if (!extra) st = nomem(err, "routing the test ratings");
        m = 0;
        for (size_t k = 0; st == FL_OK && k < p->n_test_item; k++)
            if (p->test_item_user[k] != UINT32_MAX) extra[m++] = p->test_item_user[k];
        if (st == FL_OK)
            st = rows_from(by_i, n_i, 0, p->i_lo, p->i_hi - p->i_lo, extra, m, &p->by_item,
                           &p->need_users, &p->n_need_users, err);
        free(extra);
    }
    free(by_i);
    if (st == FL_OK) {
        for (size_t k = 0; k < p->n_test_item; k++) {
            p->test_item[k] -= p->i_lo;
            if (p->test_item_user[k] != UINT32_MAX)
                p->test_item_user[k] = index_in(p->need_users, p->n_need_users, p->test_item_user[k]);
        }
        uint32_t own = p->i_hi - p->i_lo;
        p->item_sum = calloc(own ? own : 1, sizeof *p->item_sum);
        if (!p->item_sum) st = nomem(err, "summing the items' ratings");
        for (uint32_t x = 0; st == FL_OK && x < own; x++)
            for (uint64_t k = p->by_item.start[x]; k < p->by_item.start[x + 1]; k++)
                p->item_sum[x] += fl_rows_rating(&p->by_item, k);
    }
    if (st == FL_OK && d->size > 1 && o->duplicates == FL_DUP_ERROR)
        st = check_duplicates(p, p->source, err);
    st = fl_coll_agree(d, st, err);
    if (st != FL_OK) fl_part_free(p);
    return st;
}

void fl_part_free(fl_part *p) {
    fl_idmap_free(p->user_ids), fl_idmap_free(p->item_ids);
    fl_rows_free(&p->by_user), fl_rows_free(&p->by_item);
    free(p->need_items), free(p->need_users), free(p->item_sum);
    free(p->user_cut), free(p->item_cut);
    free(p->test_item), free(p->test_item_user), free(p->test_user);
    free(p->test_item_r), free(p->test_user_r), free(p->test_none_r);
    memset(p, 0, sizeof *p);
}
