/* fuzz_ratings.c — libFuzzer target for the delimited ratings reader in all
 * its dialects. The first byte picks the read options (separator given or
 * detected, header forced or detected, skip-bad, duplicates policy, scale),
 * the rest is the file. Any result is fine; crashes, leaks, hangs and
 * sanitizer reports are not. */
#include "factorlens.h"

#include <stddef.h>
#include <stdint.h>

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
    if (fl_dataset_parse("fuzz.csv", (const char *)data + 1, size - 1, &o, &d, &err) == FL_OK) {
        /* Touch what a caller would: every index must be inside its map. */
        uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
        for (size_t k = 0; k < d->n_ratings; k++)
            if (d->users[k] >= nu || d->items[k] >= ni) __builtin_trap();
        fl_dataset_free(d);
    }
    return 0;
}
