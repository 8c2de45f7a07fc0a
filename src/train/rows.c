/* rows.c — the training ratings by user and by item (see rows.h). */
#include "core/error.h"
#include "train/rows.h"

#include <stdlib.h>
#include <string.h>

static uint64_t *row_starts(const uint32_t *key, size_t n, uint32_t n_rows) {
    uint64_t *s = calloc((size_t)n_rows + 1, sizeof *s);
    if (!s) return NULL;
    for (size_t k = 0; k < n; k++) s[key[k] + 1]++;
    for (uint32_t x = 0; x < n_rows; x++) s[x + 1] += s[x];
    return s;
}

/* Where x's bit pattern is, or would go, in the sorted bits[0..n). Bit
 * patterns, not values: -0 and 0 stay apart, so coding loses nothing. */
static int find(const uint32_t *bits, int n, float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (bits[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The distinct values of r[0..n) into bits[] (sorted) and *n_values, or 0
 * when there are more than 256. */
static int value_table(const float *r, size_t n, uint32_t bits[256], int *n_values) {
    int nv = 0;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && memcmp(r + k, r + k - 1, sizeof *r) == 0) continue;
        int at = find(bits, nv, r[k]);
        uint32_t b;
        memcpy(&b, r + k, sizeof b);
        if (at < nv && bits[at] == b) continue;
        if (nv == 256) return 0;
        memmove(bits + at + 1, bits + at, (size_t)(nv - at) * sizeof *bits);
        bits[at] = b, nv++;
    }
    *n_values = nv;
    return 1;
}

/* (key, col, rating) sorted by key in place, given the keys' row starts:
 * every swap puts one rating into its row for good (an American flag sort),
 * so no second copy of the ratings is ever made. fill: n_rows scratch. */
static void bucket_in_place(uint32_t *key, uint32_t *col, uint8_t *code, float *r,
                            const uint64_t *start, uint32_t n_rows, uint64_t *fill) {
    memcpy(fill, start, (size_t)n_rows * sizeof *fill);
    for (uint32_t x = 0; x < n_rows; x++) {
        while (fill[x] < start[x + 1]) {
            const uint64_t k = fill[x];
            const uint32_t y = key[k];
            if (y == x) {
                fill[x]++;
                continue;
            }
            const uint64_t to = fill[y]++;
            key[k] = key[to], key[to] = y;
            uint32_t c = col[k];
            col[k] = col[to], col[to] = c;
            if (code) {
                uint8_t v = code[k];
                code[k] = code[to], code[to] = v;
            } else {
                float v = r[k];
                r[k] = r[to], r[to] = v;
            }
        }
    }
}

/* out = a with rows and columns exchanged (out->start given). A stable
 * scatter: a's rows are walked in order, so out's columns come out
 * ascending. fill: out->n_rows scratch. */
static void transpose(const fl_rows *a, fl_rows *out, uint64_t *fill) {
    memcpy(fill, out->start, (size_t)out->n_rows * sizeof *fill);
    for (uint32_t x = 0; x < a->n_rows; x++)
        for (uint64_t k = a->start[x]; k < a->start[x + 1]; k++) {
            const uint64_t to = fill[a->col[k]]++;
            out->col[to] = x;
            if (a->code)
                out->code[to] = a->code[k];
            else
                out->r[to] = a->r[k];
        }
}

fl_status fl_rows_build(fl_dataset *d, int consume, uint32_t n_users, uint32_t n_items,
                        fl_rows *by_user, fl_rows *by_item, fl_error *err) {
    memset(by_user, 0, sizeof *by_user);
    memset(by_item, 0, sizeof *by_item);
    const size_t n = d->n_ratings, cap = n ? n : 1;
    uint32_t bits[256];
    int n_values = 0;
    const int coded = value_table(d->ratings, n, bits, &n_values);
    uint8_t *code = coded ? malloc(cap) : NULL;
    if (code)
        for (size_t k = 0; k < n; k++) code[k] = (uint8_t)find(bits, n_values, d->ratings[k]);
    uint32_t *users, *items;
    float *r = NULL;
    if (consume) {
        users = d->users, items = d->items;
        if (coded)
            free(d->ratings);
        else
            r = d->ratings;
        free(d->times);
        d->users = d->items = NULL, d->ratings = NULL, d->times = NULL, d->capacity = 0;
        d->n_ratings = 0;
    } else {
        users = malloc(cap * sizeof *users), items = malloc(cap * sizeof *items);
        if (!coded) r = malloc(cap * sizeof *r);
        if (users) memcpy(users, d->users, n * sizeof *users);
        if (items) memcpy(items, d->items, n * sizeof *items);
        if (r) memcpy(r, d->ratings, n * sizeof *r);
    }
    memcpy(by_user->value, bits, (size_t)n_values * sizeof *bits); /* the floats, bit for bit */
    memcpy(by_item->value, by_user->value, sizeof by_item->value);
    by_user->n_rows = n_users, by_item->n_rows = n_items;
    by_user->col = items, by_user->code = code, by_user->r = r; /* sorted by user below, in place */
    by_user->start = users ? row_starts(users, n, n_users) : NULL;
    by_item->start = items ? row_starts(items, n, n_items) : NULL;
    uint64_t *fill = malloc(((size_t)(n_users > n_items ? n_users : n_items) + 1) * sizeof *fill);
    if (!users || !items || !(coded ? (void *)code : (void *)r) || !by_user->start ||
        !by_item->start || !fill) {
        free(users), free(fill);
        fl_rows_free(by_user), fl_rows_free(by_item);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory indexing the ratings by user");
    }
    bucket_in_place(users, items, code, r, by_user->start, n_users, fill);
    free(users);
    by_item->col = malloc(cap * sizeof *by_item->col);
    if (coded)
        by_item->code = malloc(cap);
    else
        by_item->r = malloc(cap * sizeof *by_item->r);
    if (!by_item->col || !(coded ? (void *)by_item->code : (void *)by_item->r)) {
        free(fill);
        fl_rows_free(by_user), fl_rows_free(by_item);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory indexing the ratings by item");
    }
    transpose(by_user, by_item, fill); /* users ascending within each item */
    transpose(by_item, by_user, fill); /* then items ascending within each user */
    free(fill);
    return FL_OK;
}

void fl_rows_free(fl_rows *rows) {
    free(rows->start), free(rows->col), free(rows->code), free(rows->r);
    rows->start = NULL, rows->col = NULL, rows->code = NULL, rows->r = NULL;
    rows->n_rows = 0;
}
