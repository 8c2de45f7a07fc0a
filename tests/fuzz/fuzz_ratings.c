/* fuzz_ratings.c — libFuzzer target for the delimited ratings reader in all
 * its dialects. The first byte picks the read options (separator given or
 * detected, header forced or detected, skip-bad, duplicates policy, scale),
 * the rest is the file. A file starting with the gzip magic goes through a
 * scratch file and fl_dataset_read, so truncated and corrupt gzip streams
 * are fuzzed too. Any result is fine; crashes, leaks, hangs and sanitizer
 * reports are not. */
#include "factorlens.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* The whole input as a file named like a download, for the gzip path. */
static const char *as_file(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fl-fuzz-ratings-%ld.gz", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? path : NULL;
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
        const char *path = as_file(data + 1, size - 1);
        if (!path) return 0;
        st = fl_dataset_read(path, &o, &d, &err);
    } else {
        st = fl_dataset_parse("fuzz.csv", (const char *)data + 1, size - 1, &o, &d, &err);
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
