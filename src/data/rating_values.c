/* rating_values.c — which ratings lie far outside the range most of a file
 * uses. Without --scale any finite rating is accepted (some data sets centre
 * their ratings on 0), but a -3 among 1-5 stars, or a 0 standing for "not
 * rated", is far more often a mistake than a rating; the CLI says so.
 *
 * The usual range is what remains after setting aside, from each end, the
 * rarest extreme values holding together at most 1% of the ratings (at
 * least one rating, from 20 ratings on). A value set aside counts as
 * outside only when it is also far: at least half the usual range's span
 * beyond it, or on the other side of zero from all of it. So a rare 5 in a
 * file of 1-4, or the few 0.5s of half-star data, are not reported. */
#include "data/rating_values.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SLOTS (2 * FL_MAX_RATING_VALUES)

void fl_rating_values_init(fl_rating_values *t) { memset(t, 0, sizeof *t); }

static unsigned slot_of(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (unsigned)((bits * 2654435761u) >> 23) % N_SLOTS;
}

/* Counts `count` ratings r, the first of them on `line`. */
static void add_count(fl_rating_values *t, float r, uint64_t count, size_t line) {
    if (t->overflow) return;
    if (r == 0.0f) r = 0.0f; /* -0 and 0 are one value */
    for (unsigned k = slot_of(r);; k = (k + 1) % N_SLOTS) {
        fl_rating_value *s = &t->slot[k];
        if (s->first_line && s->v == r) {
            s->count += count;
            return;
        }
        if (!s->first_line) {
            if (t->n == FL_MAX_RATING_VALUES) {
                t->overflow = 1;
                return;
            }
            s->v = r, s->count = count, s->first_line = line ? line : 1;
            t->n++;
            return;
        }
    }
}

void fl_rating_values_add(fl_rating_values *t, float r, size_t line) { add_count(t, r, 1, line); }

void fl_rating_values_merge(fl_rating_values *t, const fl_rating_values *later) {
    if (later->overflow) t->overflow = 1;
    for (int k = 0; k < N_SLOTS; k++)
        if (later->slot[k].first_line)
            add_count(t, later->slot[k].v, later->slot[k].count, later->slot[k].first_line);
}

static int by_value(const void *a, const void *b) {
    float x = ((const fl_rating_value *)a)->v, y = ((const fl_rating_value *)b)->v;
    return (x > y) - (x < y);
}

void fl_rating_values_judge(const fl_rating_values *t, const char *name, fl_dataset *d) {
    d->n_outside = 0;
    d->first_outside[0] = '\0';
    d->usual_lo = d->usual_hi = 0.0f;
    if (t->overflow || t->n == 0) return;
    fl_rating_value v[FL_MAX_RATING_VALUES];
    int n = 0;
    uint64_t total = 0;
    for (int k = 0; k < N_SLOTS; k++)
        if (t->slot[k].first_line) v[n++] = t->slot[k], total += t->slot[k].count;
    qsort(v, (size_t)n, sizeof *v, by_value);
    uint64_t allowance = total / 100;
    if (allowance == 0 && total >= 20) allowance = 1;
    int lo = 0, hi = n - 1;
    for (uint64_t cut = 0; lo < hi && cut + v[lo].count <= allowance; lo++) cut += v[lo].count;
    for (uint64_t cut = 0; hi > lo && cut + v[hi].count <= allowance; hi--) cut += v[hi].count;
    float a = v[lo].v, b = v[hi].v, span = b - a;
    if (span <= 0.0f) span = fabsf(a) > 0.0f ? fabsf(a) : 1.0f;
    d->usual_lo = a, d->usual_hi = b;
    const fl_rating_value *first = NULL;
    for (int k = 0; k < n; k++) {
        float x = v[k].v;
        int far = (x < a && (a - x >= span / 2 || (x <= 0.0f && a > 0.0f))) ||
                  (x > b && (x - b >= span / 2 || (x >= 0.0f && b < 0.0f)));
        if (!far) continue;
        d->n_outside += (size_t)v[k].count;
        if (!first || v[k].first_line < first->first_line) first = &v[k];
    }
    if (first && snprintf(d->first_outside, sizeof d->first_outside, "%s:%zu: rating %g", name,
                          first->first_line, (double)first->v) >= (int)sizeof d->first_outside)
        d->first_outside[sizeof d->first_outside - 1] = '\0';
}
