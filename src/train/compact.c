/* compact.c — dropping ids without ratings (see compact.h). */
#include "train/compact.h"

#include "core/error.h"
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

/* remap[old] = new index for ids with ratings, UINT32_MAX otherwise. */
static fl_status remap_ids(const fl_idmap *ids, const uint32_t *idx, size_t n, fl_idmap *to,
                           uint32_t *remap, fl_error *err) {
    uint32_t size = fl_idmap_size(ids);
    for (uint32_t k = 0; k < size; k++) remap[k] = UINT32_MAX;
    /* Insertion in first-seen order keeps the compacted order deterministic. */
    for (size_t r = 0; r < n; r++) {
        uint32_t old = idx[r];
        if (remap[old] != UINT32_MAX) continue;
        const char *name = fl_idmap_name(ids, old);
        if (fl_idmap_intern(to, name, strlen(name), &remap[old]) != FL_OK)
            return fl_fail(err, FL_ERR_NOMEM, "out of memory compacting the id maps");
    }
    return FL_OK;
}

static int all_rated(const fl_idmap *ids, const uint32_t *idx, size_t n) {
    uint32_t size = fl_idmap_size(ids);
    unsigned char *seen = calloc(size ? size : 1, 1);
    if (!seen) return 0;
    uint32_t count = 0;
    for (size_t r = 0; r < n && count < size; r++)
        if (!seen[idx[r]]) seen[idx[r]] = 1, count++;
    free(seen);
    return count == size;
}

fl_status fl_compact(const fl_dataset *d, int keep_times, const fl_dataset **out,
                     fl_dataset **owned, fl_error *err) {
    keep_times = keep_times && d->times;
    *owned = NULL;
    *out = d;
    if (all_rated(d->user_ids, d->users, d->n_ratings) &&
        all_rated(d->item_ids, d->items, d->n_ratings))
        return FL_OK;
    fl_dataset *c = fl_dataset_new(d->n_ratings, keep_times);
    uint32_t *ru = malloc(((size_t)fl_idmap_size(d->user_ids) + 1) * sizeof *ru);
    uint32_t *ri = malloc(((size_t)fl_idmap_size(d->item_ids) + 1) * sizeof *ri);
    fl_status st = FL_OK;
    if (!c || !ru || !ri) st = fl_fail(err, FL_ERR_NOMEM, "out of memory compacting the training set");
    if (st == FL_OK) st = remap_ids(d->user_ids, d->users, d->n_ratings, c->user_ids, ru, err);
    if (st == FL_OK) st = remap_ids(d->item_ids, d->items, d->n_ratings, c->item_ids, ri, err);
    if (st == FL_OK) {
        for (size_t r = 0; r < d->n_ratings; r++) {
            c->users[r] = ru[d->users[r]];
            c->items[r] = ri[d->items[r]];
            c->ratings[r] = d->ratings[r];
            if (keep_times) c->times[r] = d->times[r];
        }
        c->n_ratings = d->n_ratings;
        memcpy(c->source, d->source, sizeof c->source);
        *out = *owned = c;
    } else {
        fl_dataset_free(c);
    }
    free(ru), free(ri);
    return st;
}
