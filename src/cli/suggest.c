/* suggest.c — the nearest name to a typo, by optimal string alignment
 * distance: Levenshtein plus the swap of two neighbouring characters, the
 * commonest slip ("--tset", "trian"). A name is offered only when the typo
 * is at most two edits from it and those edits are at most a third of what
 * was typed: "--ab" is two edits from "--lr", but that is no typo of it. */
#include "cli/suggest.h"

#include <string.h>

#define MAX_NAME 64

size_t cli_edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    if (na > MAX_NAME || nb > MAX_NAME) return (size_t)-1;
    /* Three rows of the dynamic programme: the previous two and this one. */
    size_t rows[3][MAX_NAME + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev, prev = cur, cur = t;
    }
    return prev[nb];
}

static void undash(const char **s, size_t *len) {
    while (*len && **s == '-') (*s)++, (*len)--;
}

int cli_nearest_span(const char *typed, size_t len, const char *const *names, const size_t *lens,
                     int n) {
    undash(&typed, &len);
    int best = -1;
    size_t best_d = 3; /* at most two edits */
    for (int k = 0; k < n; k++) {
        const char *s = names[k];
        size_t sl = lens[k];
        undash(&s, &sl);
        size_t d = cli_edit_distance(typed, len, s, sl);
        if (d < best_d && 3 * d <= len) best = k, best_d = d;
    }
    return best;
}

const char *cli_nearest(const char *typed, size_t len, const char *const *names) {
    const char *list[64];
    size_t lens[64];
    int n = 0;
    for (; names[n] && n < 64; n++) list[n] = names[n], lens[n] = strlen(names[n]);
    int k = cli_nearest_span(typed, len, list, lens, n);
    return k < 0 ? NULL : names[k];
}
