/* fuzz_model_file.c — libFuzzer target for the model loader. Random bytes
 * almost never pass the SHA-256 check, which would keep the fuzzer at the
 * door, so for half the inputs the target first rewrites the checksum field
 * (if it finds one) to match the mutated bytes: then every structural check
 * behind it is exercised too. */
#include "factorlens.h"
#include "core/digest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

/* The 64 hex digits after "checksum":" in the JSON header, or NULL. */
static uint8_t *find_checksum(uint8_t *buf, size_t size) {
    static const char key[] = "\"checksum\":\"";
    size_t klen = sizeof key - 1;
    for (size_t k = 0; k + klen + 64 <= size && k < 1 << 16; k++)
        if (memcmp(buf + k, key, klen) == 0) return buf + k + klen;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;
    uint8_t *sum = (data[0] & 1) ? find_checksum(buf, n) : NULL;
    if (sum) {
        memset(sum, '0', 64);
        char hex[65];
        if (fl_sha256_hex(buf, n, hex)) memcpy(sum, hex, 64);
    }
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fl-fuzz-model-%ld", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        int ok = fwrite(buf, 1, n, f) == n;
        if (fclose(f) == 0 && ok) {
            fl_model *m = NULL;
            fl_error err;
            if (fl_model_load(path, &m, &err) == FL_OK) {
                /* A model that loads must answer every query safely. */
                fl_model_info info;
                fl_model_get_info(m, &info);
                fl_scored top[5];
                size_t got;
                if (info.n_users && info.n_items) {
                    const char *u = fl_idmap_name(fl_model_user_ids(m), 0);
                    const char *i = fl_idmap_name(fl_model_item_ids(m), 0);
                    float y;
                    fl_predict(m, u, i, FL_UNKNOWN_ERROR, &y, &err);
                    fl_recommend(m, u, 5, top, &got, &err);
                    fl_similar(m, i, 5, top, &got, &err);
                }
                fl_model_free(m);
            }
        }
    }
    free(buf);
    return 0;
}
