/* snapshot.h — what one request serves from: a loaded model, its item titles
 * and the derived lookups, reference-counted so a reload can swap in a new
 * snapshot while requests in flight finish on the old one.
 *
 * A snapshot is immutable once built (the model's threading contract), so
 * readers use it without a lock; the slot's mutex guards only the pointer
 * and the counts. */
#ifndef FL_SERVE_SNAPSHOT_H
#define FL_SERVE_SNAPSHOT_H

#include "factorlens.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct serve_snapshot {
    fl_model *model;
    fl_items *items;         /* NULL without --items */
    const char **titles;     /* [n_items] by model index, NULL entries when unknown */
    char **folded;           /* [n_items] titles in serve_fold_case's lower case, or NULL */
    uint32_t *by_count;      /* [n_items] model indices, most rated first */
    uint32_t n_items;
    char model_path[1024];
    char checksum[65];       /* the model file's SHA-256 field */
    double loaded_at;        /* unix seconds */
    double load_seconds;     /* how long loading took */
    size_t scan_index_bytes; /* the model's compact scan index in the heap (0: none) */
    int refs;                /* guarded by the slot's mutex */
} serve_snapshot;

/* Loads model_path (and items_path, may be NULL) into a new snapshot with
 * one reference. Returns FL_OK or the library's status with err filled. */
fl_status serve_snapshot_load(const char *model_path, const char *items_path,
                              serve_snapshot **out, fl_error *err);

/* Writes src lower-cased into dst (as long as src, plus the NUL), as title
 * search compares: ASCII letters and the Latin-1 letters (À..Þ -> à..þ) of
 * UTF-8 text; every other byte as it is. */
void serve_fold_case(char *dst, const char *src);

/* The slot holding the current snapshot. */
typedef struct serve_slot {
    pthread_mutex_t lock;
    serve_snapshot *current;
} serve_slot;

void serve_slot_init(serve_slot *s, serve_snapshot *first);
/* The current snapshot with one more reference: pass it to
 * serve_slot_release when the request is done. */
serve_snapshot *serve_slot_acquire(serve_slot *s);
void serve_slot_release(serve_slot *s, serve_snapshot *snap);
/* Makes next current; the old one is freed when its last reader releases it. */
void serve_slot_swap(serve_slot *s, serve_snapshot *next);
/* Drops the slot's own reference (after the server has stopped). */
void serve_slot_destroy(serve_slot *s);

#endif
