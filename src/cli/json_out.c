/* json_out.c — JSON value helpers and the one-line printer for --json output.
 * Lines are flushed at once so a consumer reading epoch lines sees them live. */
#include "cli/json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

json_t *cli_json_real(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *cli_json_float(float x) {
    if (!isfinite(x)) return json_null();
    /* %.7g round-trips any float; re-reading it gives the double a human typed. */
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return json_real(strtod(buf, NULL));
}

int cli_json_print(json_t *obj) {
    if (!obj) return -1;
    /* 15 significant digits: exact for anything decimal, without 17-digit noise. */
    int rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(obj);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) return -1;
    return 0;
}
