/* data_hint.h — the sentence that says how to give factorlens MovieLens
 * files it could not fetch: --data DIR, FACTORLENS_DATA, and the cache. */
#ifndef FL_CLI_DATA_HINT_H
#define FL_CLI_DATA_HINT_H

#include <stddef.h>

/* Writes the hint for dataset name into buf. cache_dir is the cache in use
 * (NULL: the default one, as fl_fetch picks it); for_demo says whether the
 * reader is running demo (which takes --data) or download. */
void cli_data_hint(char *buf, size_t len, const char *name, const char *cache_dir, int for_demo);

#endif
