/* dataset.c — the ratings container: allocation, growth, simple statistics. */
#include "data/dataset.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

fl_dataset *fl_dataset_new(size_t capacity, int with_times) {
    fl_dataset *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    if (capacity == 0) capacity = 1;
    d->users = malloc(capacity * sizeof *d->users);
    d->items = malloc(capacity * sizeof *d->items);
    d->ratings = malloc(capacity * sizeof *d->ratings);
    d->times = with_times ? malloc(capacity * sizeof *d->times) : NULL;
    d->capacity = capacity;
    d->user_ids = fl_idmap_new();
    d->item_ids = fl_idmap_new();
    if (!d->users || !d->items || !d->ratings || (with_times && !d->times) || !d->user_ids ||
        !d->item_ids) {
        fl_dataset_free(d);
        return NULL;
    }
    return d;
}

void fl_dataset_free(fl_dataset *d) {
    if (!d) return;
    free(d->users);
    free(d->items);
    free(d->ratings);
    free(d->times);
    fl_idmap_free(d->user_ids);
    fl_idmap_free(d->item_ids);
    free(d);
}

/* Each array is regrown on its own: a failure leaves every array at least
 * as large as before, so the builder's old capacity stays valid. */
#define REGROW(ptr, cap)                                                                           \
    do {                                                                                           \
        void *q_ = realloc((ptr), (cap) * sizeof *(ptr));                                          \
        if (!q_) return -1;                                                                        \
        (ptr) = q_;                                                                                \
    } while (0)

static int resize(fl_dataset *d, size_t cap) {
    REGROW(d->users, cap);
    REGROW(d->items, cap);
    REGROW(d->ratings, cap);
    if (d->times) REGROW(d->times, cap);
    d->capacity = cap;
    return 0;
}

fl_status fl_dataset_push(fl_dataset_builder *b, uint32_t u, uint32_t i, float r, uint32_t t) {
    fl_dataset *d = b->d;
    if (d->n_ratings == b->cap) {
        size_t cap = b->cap < 1024 ? 1024 : b->cap + b->cap / 2;
        if (cap > SIZE_MAX / sizeof *d->users) return FL_ERR_NOMEM;
        if (resize(d, cap)) return FL_ERR_NOMEM;
        b->cap = cap;
    }
    size_t k = d->n_ratings++;
    d->users[k] = u;
    d->items[k] = i;
    d->ratings[k] = r;
    if (d->times) d->times[k] = t;
    return FL_OK;
}

void fl_dataset_reserve(fl_dataset_builder *b, size_t cap) {
    if (cap <= b->cap || cap > SIZE_MAX / sizeof *b->d->users) return;
    if (resize(b->d, cap) == 0) b->cap = cap;
}

void fl_dataset_shrink(fl_dataset_builder *b) {
    size_t n = b->d->n_ratings ? b->d->n_ratings : 1;
    if (n >= b->cap) return;
    /* Even a partly failed shrink leaves every array holding >= n entries. */
    (void)resize(b->d, n);
    b->cap = b->d->capacity = n;
}

float fl_dataset_mean(const fl_dataset *d) {
    double s = 0;
    for (size_t k = 0; k < d->n_ratings; k++) s += d->ratings[k];
    return d->n_ratings ? (float)(s / (double)d->n_ratings) : 0.0f;
}

fl_status fl_dataset_add(fl_dataset *d, const char *user_id, const char *item_id, float rating,
                         uint32_t time, fl_error *err) {
    size_t lu = strlen(user_id), li = strlen(item_id);
    /* Checked before either id is interned: a half-added rating would leave
     * an id with no ratings, which training would give an untrained row. */
    if (lu == 0 || li == 0) return fl_fail(err, FL_ERR_USAGE, "a rating needs a user id and an item id");
    if (lu > FL_MAX_ID_LEN || li > FL_MAX_ID_LEN)
        return fl_fail(err, FL_ERR_USAGE, "an id is longer than %d bytes", FL_MAX_ID_LEN);
    if (!isfinite(rating)) return fl_fail(err, FL_ERR_DATA, "rating of user '%s' for item '%s' is not finite", user_id, item_id);
    uint32_t u, i;
    fl_dataset_builder b = {d, d->capacity};
    if (fl_idmap_intern(d->user_ids, user_id, lu, &u) || fl_idmap_intern(d->item_ids, item_id, li, &i) ||
        fl_dataset_push(&b, u, i, rating, time))
        return fl_fail(err, FL_ERR_NOMEM, "out of memory adding a rating");
    return FL_OK;
}
