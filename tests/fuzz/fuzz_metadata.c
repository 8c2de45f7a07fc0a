/* fuzz_metadata.c — libFuzzer target for the metadata readers: u.item
 * (Latin-1, pipes), movies.csv (quoted CSV) and u.user. They read paths, so
 * each input is written to one scratch file first. */
#include "factorlens.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static int write_input(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fl-fuzz-meta-%ld", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || !write_input(data + 1, size - 1)) return 0;
    fl_error err;
    if (data[0] & 1) {
        fl_users *us = NULL;
        if (fl_users_read(path, &us, &err) == FL_OK) fl_users_free(us);
    } else {
        fl_items *it = NULL;
        if (fl_items_read(path, &it, &err) == FL_OK) {
            for (uint32_t k = 0; k < it->n; k++)
                if (!it->titles[k] || strlen(it->titles[k]) > size * 2 + 8) __builtin_trap();
            fl_items_free(it);
        }
    }
    return 0;
}
