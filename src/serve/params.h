/* params.h — validating what a client sends: query parameters (allowed
 * names, ids, counts, flags) and the fold-in body. Each check returns 1 when
 * the value is good, or 0 with a 400 reply saying which parameter is wrong
 * and what was expected. Nothing here trusts a length or a byte it has not
 * checked; these functions are what tests/fuzz/fuzz_serve.c exercises. */
#ifndef FL_SERVE_PARAMS_H
#define FL_SERVE_PARAMS_H

#include "serve/request.h"

#include <stdint.h>

#define SERVE_MAX_N 1000          /* most items one list may ask for */
#define SERVE_MAX_QUERY 200       /* longest title search, in bytes */
#define SERVE_MAX_FOLDIN 10000    /* most ratings one fold-in may carry */

/* Every parameter's name is one of allowed (NULL-terminated) and appears
 * once; no more than SERVE_MAX_ARGS were sent. */
int serve_check_args(const serve_request *r, const char *const *allowed, serve_reply *out);
/* The parameter named key, or NULL. */
const serve_arg *serve_find_arg(const serve_request *r, const char *key);
/* A raw id: 1..FL_MAX_ID_LEN bytes of UTF-8 with no control characters. */
int serve_valid_id(const char *s, size_t len);
/* Required id parameter. */
int serve_arg_id(const serve_request *r, const char *key, const char **id, serve_reply *out);
/* Optional decimal integer in [lo, hi], dflt when absent. */
int serve_arg_long(const serve_request *r, const char *key, long dflt, long lo, long hi,
                   long *value, serve_reply *out);
/* Optional 0 or 1 (also false/true), dflt when absent. */
int serve_arg_flag(const serve_request *r, const char *key, int dflt, int *value,
                   serve_reply *out);
/* Optional free text of at most max_len bytes of UTF-8 ("" when absent). */
int serve_arg_text(const serve_request *r, const char *key, size_t max_len, const char **text,
                   serve_reply *out);

/* The body of POST /v1/foldin:
 *   {"ratings": [{"item": "50", "rating": 5}, ...], "n": 10}
 * ratings: 0..SERVE_MAX_FOLDIN entries, each exactly an id string and a
 * finite number in [lo, hi] (the model's rating range), no item twice;
 * n: optional, 1..SERVE_MAX_N, default 10. No other keys. */
typedef struct serve_foldin {
    size_t n_ratings;
    const char **items;   /* point into root */
    float *ratings;
    long n;
    json_t *root;
} serve_foldin;

int serve_parse_foldin(const char *body, size_t len, float lo, float hi, serve_foldin *f,
                       serve_reply *out);
void serve_foldin_free(serve_foldin *f);

#endif
