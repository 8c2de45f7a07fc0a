/* dataset.c — the ratings container: allocation, growth, simple statistics. */
#include "data/dataset.h"

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

void fl_dataset_shrink(fl_dataset_builder *b) {
    size_t n = b->d->n_ratings ? b->d->n_ratings : 1;
    if (n >= b->cap) return;
    /* Even a partly failed shrink leaves every array holding >= n entries. */
    (void)resize(b->d, n);
    b->cap = n;
}

float fl_dataset_mean(const fl_dataset *d) {
    double s = 0;
    for (size_t k = 0; k < d->n_ratings; k++) s += d->ratings[k];
    return d->n_ratings ? (float)(s / (double)d->n_ratings) : 0.0f;
}
