/* suggest.h — "did you mean …?": the known name nearest to a typo. */
#ifndef FL_CLI_SUGGEST_H
#define FL_CLI_SUGGEST_H

#include <stddef.h>

/* Edits (insert, delete, substitute, swap two neighbours) from a to b. */
size_t cli_edit_distance(const char *a, size_t na, const char *b, size_t nb);
/* The name nearest to typed[0..len) among the NULL-terminated names, or NULL
 * when none is close enough to be a likely typo. Leading dashes are ignored
 * on both sides ("-top" is near "--top"). */
const char *cli_nearest(const char *typed, size_t len, const char *const *names);
/* Same over names[0..n) given as pointer and length (e.g. "-n|--top" cut at
 * its bars); returns the index, or -1. */
int cli_nearest_span(const char *typed, size_t len, const char *const *names, const size_t *lens,
                     int n);

#endif
