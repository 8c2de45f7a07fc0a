/* json_out.h — building and printing the CLI's JSON (jansson): numbers that
 * read well (NaN becomes null, floats print as typed) and one object per line. */
#ifndef FL_CLI_JSON_OUT_H
#define FL_CLI_JSON_OUT_H

#include <jansson.h>

/* A real, or null when x is NaN or infinite (JSON has no NaN). */
json_t *cli_json_real(double x);
/* A float parameter as its shortest decimal (0.05, not 0.0500000007). */
json_t *cli_json_float(float x);
/* Prints obj as one compact line on stdout, flushes, and releases obj.
 * Returns 0, or -1 if it could not be written. */
int cli_json_print(json_t *obj);

#endif
