/* fuzz_ratings.c — libFuzzer target for the delimited ratings reader in all
 * its dialects. The first byte picks the read options (separator given or
 * detected, header forced or detected, skip-bad, duplicates policy, scale),
 * the rest is the file. A file starting with the gzip magic goes through a
 * scratch file and fl_dataset_read, so truncated and corrupt gzip streams
 * are fuzzed too. Any result is fine; crashes, leaks, hangs and sanitizer
 * reports are not. Any other file is also written out and read by
 * fl_dataset_read on 1 to 3 threads (the ranged reader and its fast path),
 * which must give what fl_dataset_parse (the general path) gives: the same
 * status and message, or the same dataset. */
#include "factorlens.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The input as a scratch file; gz: named like a download, for the gzip path. */
static const char *as_file(const uint8_t *data, size_t size, int gz) {
    static char paths[2][64];
    char *path = paths[gz];
    if (!path[0])
        snprintf(path, sizeof paths[0], "/tmp/fl-fuzz-ratings-%ld.%s", (long)getpid(),
                 gz ? "gz" : "csv");
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? path : NULL;
}

static void same_ids(const fl_idmap *a, const fl_idmap *b) {
    if (fl_idmap_size(a) != fl_idmap_size(b)) __builtin_trap();
    for (uint32_t k = 0; k < fl_idmap_size(a); k++)
        if (strcmp(fl_idmap_name(a, k), fl_idmap_name(b, k))) __builtin_trap();
}

/* The file at path read on `threads` threads gives what parsing it gave. */
static void same_as_read(const char *path, const fl_read_opts *base, int threads, fl_status st,
                         const fl_dataset *d, const fl_error *err) {
    fl_read_opts o = *base;
    o.n_threads = threads;
    fl_dataset *e = NULL;
    fl_error err2;
    fl_status st2 = fl_dataset_read(path, &o, &e, &err2);
    if (st2 != st) __builtin_trap();
    if (st != FL_OK) {
        if (strcmp(err->msg, err2.msg)) __builtin_trap();
        return;
    }
    size_t n = d->n_ratings;
    if (e->n_ratings != n || memcmp(d->users, e->users, n * sizeof *d->users) ||
        memcmp(d->items, e->items, n * sizeof *d->items) ||
        memcmp(d->ratings, e->ratings, n * sizeof *d->ratings) || !d->times != !e->times ||
        (d->times && memcmp(d->times, e->times, n * sizeof *d->times)) ||
        d->n_skipped != e->n_skipped || strcmp(d->first_skipped, e->first_skipped) ||
        d->n_outside != e->n_outside || strcmp(d->first_outside, e->first_outside) ||
        strcmp(d->sep, e->sep))
        __builtin_trap();
    same_ids(d->user_ids, e->user_ids);
    same_ids(d->item_ids, e->item_ids);
    fl_dataset_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    fl_read_opts o;
    fl_read_opts_default(&o);
    static const char *const seps[] = {NULL, "\t", ",", "::", ";", "|", " ", NULL};
    o.sep = seps[mode & 7];
    o.header = (int)((mode >> 3) % 3) - 1;
    o.skip_bad = (mode >> 5) & 1;
    o.duplicates = (fl_dup_policy)((mode >> 6) & 3);
    if (mode & 0x10) o.scale_lo = 0.5f, o.scale_hi = 5.0f;
    if ((mode & 0x3) == 3) o.columns = "item,user,rating,timestamp";
    o.keep_times = mode & 1;
    fl_dataset *d = NULL;
    fl_error err;
    fl_status st;
    if (size >= 3 && data[1] == 0x1f && data[2] == 0x8b) {
        const char *path = as_file(data + 1, size - 1, 1);
        if (!path) return 0;
        st = fl_dataset_read(path, &o, &d, &err);
    } else {
        const char *path = as_file(data + 1, size - 1, 0);
        if (!path) return 0;
        st = fl_dataset_parse(path, (const char *)data + 1, size - 1, &o, &d, &err);
        same_as_read(path, &o, (int)(size % 3) + 1, st, d, &err);
    }
    if (st == FL_OK) {
        /* Touch what a caller would: every index must be inside its map. */
        uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
        for (size_t k = 0; k < d->n_ratings; k++)
            if (d->users[k] >= nu || d->items[k] >= ni) __builtin_trap();
        fl_dataset_free(d);
    }
    return 0;
}
