/* data_hint.c — what to do when MovieLens files cannot be downloaded. A new
 * user offline needs to learn the two ways to point at files they have and
 * where a download, once made, is kept; the cache folder is resolved the way
 * fl_fetch documents it, so the sentence names the real path. */
#include "cli/data_hint.h"

#include <stdio.h>
#include <stdlib.h>

static void default_cache(char *buf, size_t len) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, len, "%s/factorlens", xdg);
    else if (home && home[0])
        snprintf(buf, len, "%s/.cache/factorlens", home);
    else
        snprintf(buf, len, "~/.cache/factorlens");
}

void cli_data_hint(char *buf, size_t len, const char *name, const char *cache_dir, int for_demo) {
    char cache[1024];
    if (cache_dir && cache_dir[0])
        snprintf(cache, sizeof cache, "%s", cache_dir);
    else
        default_cache(cache, sizeof cache);
    if (for_demo)
        snprintf(buf, len,
                 "To use MovieLens files you have, pass --data DIR or set FACTORLENS_DATA=DIR, "
                 "DIR being the folder holding %s/; once online, factorlens download %s keeps "
                 "a copy in %s/%s that works offline from then on",
                 name, name, cache, name);
    else
        snprintf(buf, len,
                 "To use MovieLens files you have, set FACTORLENS_DATA=DIR, DIR being the folder "
                 "holding %s/ (factorlens demo also takes --data DIR); once a download "
                 "succeeds, its copy in %s/%s works offline from then on",
                 name, cache, name);
}
