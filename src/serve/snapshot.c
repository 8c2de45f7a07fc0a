/* snapshot.c — loading a model and its titles into a snapshot, and the slot
 * that hands snapshots to requests and swaps them on reload. */
#include "serve/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(int clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void snapshot_free(serve_snapshot *s) {
    if (!s) return;
    if (s->folded)
        for (uint32_t i = 0; i < s->n_items; i++) free(s->folded[i]);
    free(s->folded);
    free((void *)s->titles);
    free(s->by_count);
    fl_items_free(s->items);
    fl_model_free(s->model);
    free(s);
}

void serve_fold_case(char *dst, const char *src) {
    for (; *src; src++, dst++) {
        unsigned char c = (unsigned char)*src;
        *dst = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        /* U+00C0..U+00DE (but U+00D7, the multiplication sign) are C3 80..9E;
         * their lower cases are C3 A0..BE. Other bytes of multi-byte
         * characters are copied as they are. */
        if (c == 0xC3 && src[1]) {
            unsigned char d = (unsigned char)*++src;
            *++dst = (char)(d >= 0x80 && d <= 0x9E && d != 0x97 ? d + 0x20 : d);
        }
    }
    *dst = '\0';
}

static char *fold_case(const char *t) {
    char *f = malloc(strlen(t) + 1);
    if (f) serve_fold_case(f, t);
    return f;
}

typedef struct counted {
    uint32_t count, index;
} counted;

/* Most rated first, then by index so the order is the same on every load. */
static int by_count_desc(const void *a, const void *b) {
    const counted *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Model indices ordered by training rating count: the answer to a search
 * with no query (the catalogue's best known items), and the order search
 * results are listed in. */
static int order_by_count(serve_snapshot *s) {
    counted *c = malloc((s->n_items ? s->n_items : 1) * sizeof *c);
    if (!c) return 0;
    for (uint32_t i = 0; i < s->n_items; i++) c[i] = (counted){fl_model_item_count(s->model, i), i};
    qsort(c, s->n_items, sizeof *c, by_count_desc);
    for (uint32_t i = 0; i < s->n_items; i++) s->by_count[i] = c[i].index;
    free(c);
    return 1;
}

fl_status serve_snapshot_load(const char *model_path, const char *items_path,
                              serve_snapshot **out, fl_error *err) {
    *out = NULL;
    double t0 = now_seconds(CLOCK_MONOTONIC);
    serve_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        err->code = FL_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory loading '%s'", model_path);
        return FL_ERR_NOMEM;
    }
    fl_status st = fl_model_load(model_path, &s->model, err);
    if (st == FL_OK && items_path) st = fl_items_read(items_path, &s->items, err);
    if (st != FL_OK) {
        snapshot_free(s);
        return st;
    }
    const fl_idmap *ids = fl_model_item_ids(s->model);
    s->n_items = fl_idmap_size(ids);
    size_t n = s->n_items ? s->n_items : 1;
    s->by_count = malloc(n * sizeof *s->by_count);
    s->titles = calloc(n, sizeof *s->titles);
    s->folded = calloc(n, sizeof *s->folded);
    int ok = s->by_count && s->titles && s->folded;
    for (uint32_t i = 0; ok && i < s->n_items; i++) {
        if (s->items) s->titles[i] = fl_items_title(s->items, fl_idmap_name(ids, i));
        if (s->titles[i] && !(s->folded[i] = fold_case(s->titles[i]))) ok = 0;
    }
    if (!ok || !order_by_count(s)) {
        snapshot_free(s);
        err->code = FL_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory indexing the titles of '%s'", model_path);
        return FL_ERR_NOMEM;
    }
    snprintf(s->model_path, sizeof s->model_path, "%s", model_path);
    snprintf(s->checksum, sizeof s->checksum, "%s", fl_model_checksum(s->model));
    s->scan_index_bytes = fl_model_scan_index_bytes(s->model);
    s->loaded_at = now_seconds(CLOCK_REALTIME);
    s->load_seconds = now_seconds(CLOCK_MONOTONIC) - t0;
    s->refs = 1;
    *out = s;
    return FL_OK;
}

void serve_slot_init(serve_slot *s, serve_snapshot *first) {
    pthread_mutex_init(&s->lock, NULL);
    s->current = first;
}

serve_snapshot *serve_slot_acquire(serve_slot *s) {
    pthread_mutex_lock(&s->lock);
    serve_snapshot *snap = s->current;
    snap->refs++;
    pthread_mutex_unlock(&s->lock);
    return snap;
}

void serve_slot_release(serve_slot *s, serve_snapshot *snap) {
    pthread_mutex_lock(&s->lock);
    int last = --snap->refs == 0;
    pthread_mutex_unlock(&s->lock);
    /* Freed outside the lock: unmapping a large model must not stall
     * requests acquiring the new one. */
    if (last) snapshot_free(snap);
}

void serve_slot_swap(serve_slot *s, serve_snapshot *next) {
    pthread_mutex_lock(&s->lock);
    serve_snapshot *old = s->current;
    s->current = next;
    pthread_mutex_unlock(&s->lock);
    serve_slot_release(s, old); /* the slot's own reference to the old one */
}

void serve_slot_destroy(serve_slot *s) {
    serve_slot_release(s, s->current);
    s->current = NULL;
    pthread_mutex_destroy(&s->lock);
}
